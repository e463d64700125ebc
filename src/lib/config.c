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

#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "lib/ts_err.h"
#include "lib/util.h"

#define CONFIG_MAX_FILE (256u * 1024u)
#define CONFIG_MAX_ENTRIES 1024
/* inih's default INI_MAX_LINE is 200 including "\r\n\0". */
#define CONFIG_MAX_LINE 197

struct config_entry {
	char *section, *key, *value;
};

struct ts_config {
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

int
ts_config_load(const char *path, ts_config **out, char *errbuf, size_t errcap)
{
	uint8_t *data = NULL;
	size_t len = 0;
	ts_config *c = NULL;
	int rc, line;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	rc = ts_read_file(path, CONFIG_MAX_FILE, &data, &len);
	if (rc != 0) {
		config_errmsg(errbuf, errcap, path, 0, ts_strerror(rc));
		goto fail;
	}
	if (memchr(data, '\0', len) != NULL) {
		rc = TS_ECONFIG;
		config_errmsg(errbuf, errcap, path, 0, "NUL byte in file");
		goto fail;
	}
	if ((line = long_line((const char *)data, len)) != 0) {
		rc = TS_ECONFIG;
		config_errmsg(errbuf, errcap, path, line, "line too long");
		goto fail;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	line = ini_parse_string((const char *)data, config_handler, c);
	if (line != 0) {
		if (c->err == TS_ENOMEM || line < 0) {
			rc = TS_ENOMEM;
			goto fail;
		}
		rc = TS_ECONFIG;
		config_errmsg(errbuf, errcap, path, line,
		    c->err == TS_ECONFIG ? "duplicate key" :
		    c->err == TS_ELIMIT ? "too many keys" : "syntax error");
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
