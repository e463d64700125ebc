/*
 * json.c — strict JSON helpers over jansson (see json.h).
 */
#include "lib/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"
#include "lib/util.h"

static void
set_err(char *errbuf, size_t errcap, const char *msg, int line, int col)
{
	if (errbuf == NULL || errcap == 0)
		return;
	if (line > 0) {
		if (ts_snprintf(errbuf, errcap, "line %d column %d: %s", line, col, msg) == 0)
			return;
	}
	/* Truncation is fine for a diagnostic. */
	(void)ts_snprintf(errbuf, errcap, "%s", msg);
}

int
ts_json_parse(const char *buf, size_t len, json_t **out, char *errbuf, size_t errcap)
{
	json_error_t jerr;
	json_t *v;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if ((buf == NULL && len != 0) || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if (len > TS_JSON_MAX) {
		set_err(errbuf, errcap, "document too large", 0, 0);
		return TS_ELIMIT;
	}
	v = json_loadb(buf == NULL ? "" : buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		set_err(errbuf, errcap, jerr.text, jerr.line, jerr.column);
		return TS_EPARSE;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		set_err(errbuf, errcap, "not a JSON object", 0, 0);
		return TS_EPARSE;
	}
	*out = v;
	return 0;
}

const char *
ts_json_str(const json_t *obj, const char *key)
{
	if (obj == NULL || key == NULL || !json_is_object(obj))
		return NULL;
	/* json_object_get takes a non-const object but does not modify it. */
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int
ts_json_b64(const json_t *obj, const char *key, uint8_t **out, size_t *outlen)
{
	if (obj == NULL || key == NULL || out == NULL || outlen == NULL || !json_is_object(obj))
		return TS_EINVAL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return TS_ENOTFOUND;
	if (!json_is_string(v))
		return TS_EPARSE;
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return TS_EPARSE; /* embedded NUL */
	int rc = ts_b64_decode(s, out, outlen);
	return rc == TS_ENOMEM ? rc : (rc != 0 ? TS_EPARSE : 0);
}

int
ts_json_set_b64(json_t *obj, const char *key, const uint8_t *buf, size_t len)
{
	char *s = NULL;
	if (obj == NULL || key == NULL || !json_is_object(obj) || (buf == NULL && len != 0))
		return TS_EINVAL;
	int rc = ts_b64_encode(buf == NULL ? (const uint8_t *)"" : buf, len, &s);
	if (rc != 0)
		return rc;
	/* base64 is ASCII: no UTF-8 scan of a package-sized string */
	json_t *v = json_stringn_nocheck(s, 4 * ((len + 2) / 3));
	free(s);
	if (v == NULL)
		return TS_ENOMEM;
	/* json_object_set_new steals v, also on failure. */
	return json_object_set_new(obj, key, v) == 0 ? 0 : TS_ENOMEM;
}

/*
 * ts_json_dump writes the text json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)
 * writes, byte for byte, without jansson's dumper: that one decodes every
 * character of every string as UTF-8 and calls its output callback per run,
 * and the node's documents are mostly long base64 strings (a bound profile
 * package, signatures, certificates: ~8 kB dumped per flow, issue 9). Here
 * a string is copied in runs of bytes that need no escape. Whatever this
 * writer does not reproduce exactly — a real (jansson's %.17g and ".0"
 * rules), a byte above 0x7f (jansson checks the UTF-8), a document nested
 * deeper than JB_MAX_DEPTH (jansson's loop check) — makes it give the whole
 * document to json_dumps instead.
 */
#define JB_MAX_DEPTH 32

/* bench/preload/count.c (LD_PRELOADed by bench/run.sh) defines this to count
 * the documents this writer makes, as it counts jansson's json_dumps: the
 * floor prices each dump the node makes (issue 9). Weak: NULL in a node
 * without the probe. */
extern void ts_bench_json_dump(size_t len) __attribute__((weak));

struct jbuf {
	char *p;
	size_t len, cap;
};

/* 0 or -1 (out of memory) */
static int
jb_put(struct jbuf *b, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		while (n > cap - b->len) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* 0, -1 out of memory, 1 not reproduced here (json_dumps does it) */
static int
jb_string(struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (jb_put(b, "\"", 1) != 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			continue;
		if (c >= 0x80)
			return 1;
		if (jb_put(b, s + run, i - run) != 0)
			return -1;
		run = i + 1;
		char e[6] = { '\\', 0 };
		size_t el = 2;
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default: /* another control character: backslash, u, 00XX in upper-case hex */
			e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
			el = 6;
		}
		if (jb_put(b, e, el) != 0)
			return -1;
	}
	if (jb_put(b, s + run, n - run) != 0 || jb_put(b, "\"", 1) != 0)
		return -1;
	return 0;
}

static int
jb_integer(struct jbuf *b, json_int_t v)
{
	char d[24];
	size_t i = sizeof(d);
	/* in unsigned arithmetic: -INT64_MIN does not fit */
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		d[--i] = '-';
	return jb_put(b, d + i, sizeof(d) - i);
}

static int
jb_value(struct jbuf *b, const json_t *v, int depth)
{
	int rc;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (depth >= JB_MAX_DEPTH)
			return 1;
		if (jb_put(b, "{", 1) != 0)
			return -1;
		/* jansson keeps insertion order and iterates in it (no
		 * JSON_SORT_KEYS here) */
		void *it = json_object_iter((json_t *)v);
		for (int first = 1; it != NULL; it = json_object_iter_next((json_t *)v, it), first = 0) {
			if (!first && jb_put(b, ",", 1) != 0)
				return -1;
			if ((rc = jb_string(b, json_object_iter_key(it), json_object_iter_key_len(it))) != 0)
				return rc;
			if (jb_put(b, ":", 1) != 0)
				return -1;
			if ((rc = jb_value(b, json_object_iter_value(it), depth + 1)) != 0)
				return rc;
		}
		return jb_put(b, "}", 1);
	}
	case JSON_ARRAY: {
		if (depth >= JB_MAX_DEPTH)
			return 1;
		if (jb_put(b, "[", 1) != 0)
			return -1;
		size_t n = json_array_size(v);
		for (size_t i = 0; i < n; i++) {
			if (i > 0 && jb_put(b, ",", 1) != 0)
				return -1;
			if ((rc = jb_value(b, json_array_get(v, i), depth + 1)) != 0)
				return rc;
		}
		return jb_put(b, "]", 1);
	}
	case JSON_STRING:
		return jb_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return jb_integer(b, json_integer_value(v));
	case JSON_TRUE:
		return jb_put(b, "true", 4);
	case JSON_FALSE:
		return jb_put(b, "false", 5);
	case JSON_NULL:
		return jb_put(b, "null", 4);
	default: /* JSON_REAL */
		return 1;
	}
}

char *
ts_json_dump(const json_t *v)
{
	if (v == NULL)
		return NULL;
	struct jbuf b = { NULL, 0, 0 };
	int rc = jb_value(&b, v, 0);
	if (rc == 0 && jb_put(&b, "", 1) == 0) {
		if (ts_bench_json_dump != NULL)
			ts_bench_json_dump(b.len - 1);
		return b.p;
	}
	free(b.p);
	return rc > 0 ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}
