/*
 * config.c — INI configuration (inih), read once into memory.
 *
 * The file is read whole (bounded by CONFIG_MAX_FILE) and handed to
 * ini_parse_string. inih silently splits lines longer than its fixed line
 * buffer, so over-long lines are refused here first. Duplicate keys within a
 * section (including inih's indented continuation lines) are an error:
 * a value set twice is more likely a mistake than an intent. Section and key
 * names are compared case-sensitively.
 */
#include "lib/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "lib/ts_err.h"
#include "lib/util.h"

#define CONFIG_MAX_FILE (256u * 1024u)
#define CONFIG_MAX_ENTRIES 1024
/* inih's default INI_MAX_LINE is 200 including "\r\n\0". */
#define CONFIG_MAX_LINE 197

struct config_entry {
	char *section, *key, *value;
	int line; /* 1-based line of the key in the file, 0 unknown */
};

struct ts_config {
	char *path; /* as given to ts_config_load, for messages */
	struct config_entry *e;
	size_t n, cap;
	int err; /* TS_E* from the handler (memory, limits, duplicates) */
};

static const struct config_entry *
config_find(const ts_config *c, const char *section, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0)
			return &c->e[i];
	return NULL;
}

/* inih handler: nonzero to continue, zero marks the line as an error. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	ts_config *c = user;
	if (section == NULL || name == NULL || value == NULL)
		return 0;
	if (config_find(c, section, name) != NULL) {
		c->err = TS_ECONFIG;
		return 0;
	}
	if (c->n == c->cap) {
		if (c->cap >= CONFIG_MAX_ENTRIES) {
			c->err = TS_ELIMIT;
			return 0;
		}
		size_t ncap = c->cap == 0 ? 16 : c->cap * 2;
		struct config_entry *ne = realloc(c->e, ncap * sizeof(*ne));
		if (ne == NULL) {
			c->err = TS_ENOMEM;
			return 0;
		}
		c->e = ne;
		c->cap = ncap;
	}
	struct config_entry *e = &c->e[c->n];
	e->line = 0;
	e->section = strdup(section);
	e->key = strdup(name);
	e->value = strdup(value);
	if (e->section == NULL || e->key == NULL || e->value == NULL) {
		free(e->section);
		free(e->key);
		free(e->value);
		c->err = TS_ENOMEM;
		return 0;
	}
	c->n++;
	return 1;
}

/* Line number (1-based) of the first line longer than CONFIG_MAX_LINE, or 0. */
static int
long_line(const char *s, size_t len)
{
	size_t start = 0;
	int line = 1;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '\n') {
			size_t l = i - start;
			if (l > 0 && s[i - 1] == '\r')
				l--;
			if (l > CONFIG_MAX_LINE)
				return line;
			start = i + 1;
			line++;
		}
	}
	return 0;
}

static void
config_errmsg(char *errbuf, size_t errcap, const char *path, int line, const char *what)
{
	if (errbuf == NULL || errcap == 0)
		return;
	if (line > 0)
		(void)ts_snprintf(errbuf, errcap, "%s:%d: %s", path, line, what);
	else
		(void)ts_snprintf(errbuf, errcap, "%s: %s", path, what);
}

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Gives every entry the line it came from. inih does not pass line numbers
 * to the handler (INI_HANDLER_LINENO is a build option of the library), so
 * the text is scanned again with inih's own rules: blanks stripped, ';' and
 * '#' start comment lines, "[name]" starts a section, otherwise the name is
 * what precedes the first '=' or ':'. Key lines come in the order the
 * handler saw them; continuation lines never reach here (they are
 * duplicates, refused at load). */
static void
assign_lines(ts_config *c, const char *s, size_t len)
{
	size_t idx = 0, i = 0;
	int line = 0;
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && idx < c->n) {
		size_t end = i;
		while (end < len && s[end] != '\n')
			end++;
		line++;
		size_t a = i, b = end;
		while (a < b && is_blank(s[a]))
			a++;
		while (b > a && is_blank(s[b - 1]))
			b--;
		i = end + 1;
		if (a == b || s[a] == ';' || s[a] == '#' || s[a] == '[')
			continue;
		size_t k = a;
		while (k < b && s[k] != '=' && s[k] != ':')
			k++;
		if (k == b)
			continue; /* inih: "name only" lines are errors, refused at load */
		size_t ke = k;
		while (ke > a && is_blank(s[ke - 1]))
			ke--;
		struct config_entry *e = &c->e[idx];
		if (strlen(e->key) == ke - a && memcmp(e->key, s + a, ke - a) == 0) {
			e->line = line;
			idx++;
		}
	}
}

int
ts_config_parse(const char *text, size_t len, const char *name, ts_config **out, char *errbuf,
    size_t errcap)
{
	ts_config *c = NULL;
	char *data = NULL;
	int rc, line;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (text == NULL || name == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if (len > CONFIG_MAX_FILE) {
		config_errmsg(errbuf, errcap, name, 0, "file too large");
		return TS_ELIMIT;
	}
	if (memchr(text, '\0', len) != NULL) {
		config_errmsg(errbuf, errcap, name, 0, "NUL byte in file");
		return TS_ECONFIG;
	}
	if ((line = long_line(text, len)) != 0) {
		config_errmsg(errbuf, errcap, name, line, "line too long");
		return TS_ECONFIG;
	}
	/* inih wants a NUL-terminated string. */
	if ((data = malloc(len + 1)) == NULL)
		return TS_ENOMEM;
	memcpy(data, text, len);
	data[len] = '\0';
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	line = ini_parse_string(data, config_handler, c);
	if (line != 0) {
		if (c->err == TS_ENOMEM || line < 0) {
			rc = TS_ENOMEM;
			goto fail;
		}
		rc = TS_ECONFIG;
		config_errmsg(errbuf, errcap, name, line,
		    c->err == TS_ECONFIG ? "duplicate key" :
		    c->err == TS_ELIMIT ? "too many keys" : "syntax error");
		goto fail;
	}
	assign_lines(c, data, len);
	if ((c->path = strdup(name)) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	free(data);
	*out = c;
	return 0;
fail:
	free(data);
	ts_config_free(c);
	return rc;
}

int
ts_config_load(const char *path, ts_config **out, char *errbuf, size_t errcap)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	int rc = ts_read_file(path, CONFIG_MAX_FILE, &data, &len);
	if (rc != 0) {
		config_errmsg(errbuf, errcap, path, 0, ts_strerror(rc));
		return rc;
	}
	rc = ts_config_parse((const char *)data, len, path, out, errbuf, errcap);
	free(data);
	return rc;
}

void
ts_config_free(ts_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].section);
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	free(c->path);
	free(c);
}

const char *
ts_config_get(const ts_config *c, const char *section, const char *key, const char *def)
{
	if (c == NULL || section == NULL || key == NULL)
		return def;
	const struct config_entry *e = config_find(c, section, key);
	return e != NULL ? e->value : def;
}

int
ts_config_get_int(const ts_config *c, const char *section, const char *key,
    long long def, long long min, long long max, long long *out)
{
	if (out == NULL)
		return TS_EINVAL;
	const char *v = ts_config_get(c, section, key, NULL);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	long long x;
	if (ts_parse_ll(v, min, max, &x) != 0)
		return TS_ECONFIG;
	*out = x;
	return 0;
}

const char *
ts_config_path(const ts_config *c)
{
	return c != NULL && c->path != NULL ? c->path : "(config)";
}

int
ts_config_line(const ts_config *c, const char *section, const char *key)
{
	if (c == NULL || section == NULL || key == NULL)
		return 0;
	const struct config_entry *e = config_find(c, section, key);
	return e != NULL ? e->line : 0;
}

void
ts_redact_url(const char *in, char *out, size_t cap)
{
	if (out == NULL || cap == 0)
		return;
	out[0] = '\0';
	if (in == NULL)
		return;
	/* scheme://user:PASSWORD@host/... -> scheme://user:***@host/... */
	const char *sep = strstr(in, "://");
	if (sep != NULL) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i; /* the last '@' ends the userinfo */
		const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL) {
			(void)ts_snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - in), in, at);
			goto query;
		}
	}
	(void)ts_snprintf(out, cap, "%s", in);
query:;
	/* libpq keyword form and URI parameters: password=SECRET -> password=*** */
	char *p = out;
	while ((p = strstr(p, "password=")) != NULL) {
		if (p != out && p[-1] != ' ' && p[-1] != '?' && p[-1] != '&') {
			p += 9;
			continue;
		}
		char *v = p + 9, *e = v;
		while (*e != '\0' && *e != ' ' && *e != '&')
			e++;
		if (e - v >= 3) {
			memcpy(v, "***", 3);
			memmove(v + 3, e, strlen(e) + 1);
		} else {
			/* Too short to hold "***" in place: cut the value. */
			memmove(v, e, strlen(e) + 1);
		}
		p = v;
	}
}

/* "app.*" matches "app.x"; otherwise exact. */
static int
name_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern);
	if (pl > 0 && pattern[pl - 1] == '*')
		return strncmp(pattern, name, pl - 1) == 0 && name[pl - 1] != '\0';
	return strcmp(pattern, name) == 0;
}

/* "eids.#" matches "eids.N" with N a decimal 1..idx_max without leading zero. */
static int
key_match(const ts_config_key *k, const char *key)
{
	size_t pl = strlen(k->key);
	if (pl >= 1 && k->key[pl - 1] == '#') {
		if (strncmp(k->key, key, pl - 1) != 0)
			return 0;
		const char *d = key + pl - 1;
		long long v;
		return d[0] != '0' && ts_parse_ll(d, 1, k->idx_max > 0 ? k->idx_max : 99, &v) == 0;
	}
	return name_match(k->key, key);
}

static int
check_hostport(const char *v)
{
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v)
		return 0;
	size_t hl = (size_t)(colon - v);
	if (v[0] == '[' && (hl < 3 || v[hl - 1] != ']'))
		return 0;
	if (hl > 255)
		return 0;
	for (const char *q = v; q < colon; q++)
		if (*q == ' ' || *q == '\t')
			return 0;
	long long p;
	return ts_parse_ll(colon + 1, 0, 65535, &p) == 0;
}

static int
check_choice(const char *choices, const char *v)
{
	size_t vl = strlen(v);
	const char *s = choices;
	while (*s != '\0') {
		size_t l = strcspn(s, "|");
		if (l == vl && strncmp(s, v, l) == 0)
			return 1;
		s += l;
		if (*s == '|')
			s++;
	}
	return 0;
}

struct check_ctx {
	const ts_config *c;
	ts_config_report_fn report;
	void *arg;
	size_t problems;
};

static void problem(struct check_ctx *x, int line, const char *section, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
problem(struct check_ctx *x, int line, const char *section, const char *key, const char *fmt, ...)
{
	char what[512], msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	char loc[600];
	if (line > 0)
		(void)ts_snprintf(loc, sizeof(loc), "%s:%d", ts_config_path(x->c), line);
	else
		(void)ts_snprintf(loc, sizeof(loc), "%s", ts_config_path(x->c));
	if (key != NULL)
		(void)ts_snprintf(msg, sizeof(msg), "%s: [%s] %s: %s", loc, section, key, what);
	else
		(void)ts_snprintf(msg, sizeof(msg), "%s: [%s]: %s", loc, section, what);
	x->problems++;
	if (x->report != NULL)
		x->report(x->arg, msg);
}

static void
check_value(struct check_ctx *x, const ts_config_key *k, const struct config_entry *e,
    const char *base_dir)
{
	const char *v = e->value;
	char shown[300];
	if (k->secret)
		ts_redact_url(v, shown, sizeof(shown));
	else
		(void)ts_snprintf(shown, sizeof(shown), "%s", v);
	switch (k->type) {
	case TS_CFG_INT: {
		long long n;
		if (ts_parse_ll(v, k->min, k->max, &n) != 0)
			problem(x, e->line, e->section, e->key, "'%s' is not an integer in %lld..%lld", shown,
			    k->min, k->max);
		break;
	}
	case TS_CFG_ENUM:
		if (!check_choice(k->choices, v)) {
			char list[256];
			size_t o = 0;
			for (const char *q = k->choices; *q && o + 3 < sizeof(list); q++) {
				if (*q == '|') {
					list[o++] = ',';
					list[o++] = ' ';
				} else
					list[o++] = *q;
			}
			list[o] = '\0';
			problem(x, e->line, e->section, e->key, "'%s' is not one of %s", shown, list);
		}
		break;
	case TS_CFG_HOSTPORT:
		if (!check_hostport(v))
			problem(x, e->line, e->section, e->key, "'%s' is not HOST:PORT (port 0..65535)", shown);
		break;
	case TS_CFG_FILE: {
		if (v[0] == '\0') {
			if (k->required)
				problem(x, e->line, e->section, e->key, "empty: a file name is required");
			break;
		}
		char full[4096];
		if (v[0] != '/' && base_dir != NULL)
			(void)ts_snprintf(full, sizeof(full), "%s/%s", base_dir, v);
		else
			(void)ts_snprintf(full, sizeof(full), "%s", v);
		if (access(full, R_OK) != 0)
			problem(x, e->line, e->section, e->key, "%s: %s", full,
			    errno == ENOENT ? "no such file" : strerror(errno));
		break;
	}
	case TS_CFG_DBURL:
		if (strncmp(v, "sqlite:", 7) != 0 && strncmp(v, "postgresql://", 13) != 0 &&
		    strncmp(v, "postgres://", 11) != 0)
			problem(x, e->line, e->section, e->key,
			    "'%s' is not sqlite:PATH or postgresql://USER@HOST/DB", shown);
		break;
	case TS_CFG_URL:
		if (v[0] != '\0' && strncmp(v, "https://", 8) != 0)
			problem(x, e->line, e->section, e->key, "'%s' is not an https:// URL", shown);
		break;
	default:
		break;
	}
}

size_t
ts_config_check(const ts_config *c, const ts_config_key *schema, size_t nschema,
    const char *base_dir, ts_config_report_fn report, void *arg)
{
	struct check_ctx x = { .c = c, .report = report, .arg = arg, .problems = 0 };
	if (c == NULL || schema == NULL)
		return 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct config_entry *e = &c->e[i];
		int section_known = 0;
		const ts_config_key *k = NULL;
		for (size_t j = 0; j < nschema && k == NULL; j++) {
			if (!name_match(schema[j].section, e->section))
				continue;
			section_known = 1;
			if (key_match(&schema[j], e->key))
				k = &schema[j];
		}
		if (k != NULL) {
			check_value(&x, k, e, base_dir);
			continue;
		}
		if (section_known) {
			problem(&x, e->line, e->section, e->key, "unknown key");
			continue;
		}
		/* One message per unknown section, at its first key. */
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->e[j].section, e->section) == 0)
				first = 0;
		if (first)
			problem(&x, e->line, e->section, NULL, "unknown section");
	}
	/* Required keys that are absent. */
	for (size_t j = 0; j < nschema; j++) {
		const ts_config_key *k = &schema[j];
		if (!k->required || strchr(k->section, '*') != NULL || strchr(k->key, '#') != NULL)
			continue;
		if (config_find(c, k->section, k->key) == NULL)
			problem(&x, 0, k->section, k->key, "missing (required)");
	}
	return x.problems;
}

/* Report callback that keeps the first message (ts_config_first_problem). */
void
ts_config_first_problem(void *arg, const char *msg)
{
	struct ts_config_errbuf *b = arg;
	if (b->buf != NULL && b->cap > 0 && b->buf[0] == '\0')
		(void)ts_snprintf(b->buf, b->cap, "%s", msg);
}
