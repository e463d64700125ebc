/*
 * json.c — strict JSON helpers over jansson (see json.h).
 */
#include "lib/json.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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

/*
 * The fast reader: ts_json_parse's first try. jansson's lexer reads a
 * document a character at a time through a stream with a UTF-8 check and a
 * string buffer append per character, and then copies each string again to
 * undo its escapes: ~100 instructions per byte, and the node's ES9+
 * requests are mostly long base64 strings (authenticateClient's signed
 * response and certificates, the notifications: ~7 kB parsed per flow,
 * issue 9). This reader takes a run of plain bytes of a string at a time.
 *
 * It only has to be right on what it accepts: it accepts a subset of what
 * json_loadb(JSON_REJECT_DUPLICATES) accepts, with the same values, and
 * says "not mine" for everything else — then jansson reads the whole
 * document and its verdict (and error message) is the answer. Accepted:
 * one object; nested objects and arrays up to JR_MAX_DEPTH; strings of
 * bytes 0x20..0x7f with the two-character escapes (\" \\ \/ \b \f \n \r
 * \t); integers of at most 18 digits (no fraction, no exponent, no leading
 * zero); true, false, null; JSON white space. Not: \u escapes, bytes above
 * 0x7f (jansson checks the UTF-8), reals, a duplicate key, anything
 * malformed. fuzz/fuzz_json checks the two readers agree.
 */
#define JR_MAX_DEPTH 32
#define JR_MAX_DIGITS 18

/* The length of the prefix of s[0..n) that a JSON string holds as it is
 * (the writer copies it, the reader takes it): bytes 0x20..0x7f but '"'
 * and '\\'. Eight bytes at a time (the node's strings are mostly long
 * base64 runs): a word is taken whole when no byte is >= 0x80 (the high
 * bits), < 0x20, '"' or '\\' (the classic "has a byte less than / equal
 * to" tests, which never miss one; a false alarm only sends the word to
 * the byte loop). */
static size_t
plain_run(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		uint64_t x, q, e;
		memcpy(&x, s + i, 8);
		q = x ^ (ones * '"');
		e = x ^ (ones * '\\');
		if ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((e - ones) & ~e)) & high)
			break;
	}
	while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

struct jreader {
	const unsigned char *p, *end;
};

static void
jr_ws(struct jreader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* A string at r->p (its opening quote). *s / *n: the text, in *tmp (caller
 * frees) when it had escapes, else in the document. 0 or -1 (not mine). */
static int
jr_string(struct jreader *r, const char **s, size_t *n, char **tmp)
{
	const unsigned char *p = r->p + 1, *start = p;
	size_t esc = 0;
	*tmp = NULL;
	for (;;) {
		p += plain_run(p, (size_t)(r->end - p));
		if (p >= r->end || *p >= 0x80 || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		/* a backslash */
		if (p + 1 >= r->end || strchr("\"\\/bfnrt", p[1]) == NULL || p[1] == '\0')
			return -1;
		esc++;
		p += 2;
	}
	size_t raw = (size_t)(p - start);
	r->p = p + 1;
	if (esc == 0) {
		*s = (const char *)start;
		*n = raw;
		return 0;
	}
	char *d = malloc(raw - esc + 1);
	if (d == NULL)
		return -1;
	size_t o = 0;
	for (const unsigned char *q = start; q < p; q++) {
		if (*q != '\\') {
			d[o++] = (char)*q;
			continue;
		}
		switch (*++q) {
		case 'b': d[o++] = '\b'; break;
		case 'f': d[o++] = '\f'; break;
		case 'n': d[o++] = '\n'; break;
		case 'r': d[o++] = '\r'; break;
		case 't': d[o++] = '\t'; break;
		default: d[o++] = (char)*q; /* " \ / */
		}
	}
	d[o] = '\0';
	*s = d;
	*n = o;
	*tmp = d;
	return 0;
}

static json_t *jr_value(struct jreader *r, int depth);

static json_t *
jr_object(struct jreader *r, int depth)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	r->p++; /* { */
	jr_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	for (;;) {
		const char *k;
		size_t kl;
		char *tmp;
		if (r->p >= r->end || *r->p != '"' || jr_string(r, &k, &kl, &tmp) != 0)
			goto fail;
		jr_ws(r);
		json_t *v = NULL;
		if (r->p < r->end && *r->p == ':') {
			r->p++;
			jr_ws(r);
			v = jr_value(r, depth + 1);
		}
		/* a duplicate: jansson refuses it, with its message */
		int bad = v == NULL || json_object_getn(o, k, kl) != NULL;
		if (bad)
			json_decref(v);
		else
			bad = json_object_setn_new_nocheck(o, k, kl, v) != 0; /* takes v, also on failure */
		free(tmp);
		if (bad)
			goto fail;
		jr_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			jr_ws(r);
			continue;
		}
		if (r->p < r->end && *r->p == '}') {
			r->p++;
			return o;
		}
		goto fail;
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *
jr_array(struct jreader *r, int depth)
{
	json_t *a = json_array();
	if (a == NULL)
		return NULL;
	r->p++; /* [ */
	jr_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	for (;;) {
		json_t *v = jr_value(r, depth + 1);
		if (v == NULL || json_array_append_new(a, v) != 0)
			goto fail;
		jr_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			jr_ws(r);
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return a;
		}
		goto fail;
	}
fail:
	json_decref(a);
	return NULL;
}

static json_t *
jr_literal(struct jreader *r, const char *word, json_t *v)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return NULL;
	r->p += n;
	return v;
}

static json_t *
jr_value(struct jreader *r, int depth)
{
	if (r->p >= r->end || depth > JR_MAX_DEPTH)
		return NULL;
	switch (*r->p) {
	case '{': return jr_object(r, depth);
	case '[': return jr_array(r, depth);
	case '"': {
		const char *s;
		size_t n;
		char *tmp;
		if (jr_string(r, &s, &n, &tmp) != 0)
			return NULL;
		json_t *v = json_stringn_nocheck(s, n); /* ASCII: valid UTF-8 */
		free(tmp);
		return v;
	}
	case 't': return jr_literal(r, "true", json_true());
	case 'f': return jr_literal(r, "false", json_false());
	case 'n': return jr_literal(r, "null", json_null());
	default: break;
	}
	int neg = *r->p == '-';
	const unsigned char *d = r->p + neg, *q = d;
	while (q < r->end && *q >= '0' && *q <= '9')
		q++;
	size_t nd = (size_t)(q - d);
	if (nd == 0 || nd > JR_MAX_DIGITS || (d[0] == '0' && nd > 1) ||
	    (q < r->end && (*q == '.' || *q == 'e' || *q == 'E')))
		return NULL;
	json_int_t v = 0;
	for (const unsigned char *c = d; c < q; c++)
		v = v * 10 + (*c - '0');
	r->p = q;
	return json_integer(neg ? -v : v);
}

/* The document read by the fast reader, or NULL: not one it reads (see
 * above), or out of memory; jansson then reads it. */
static json_t *
jr_document(const char *buf, size_t len)
{
	struct jreader r = { (const unsigned char *)buf, (const unsigned char *)buf + len };
	jr_ws(&r);
	if (r.p >= r.end || *r.p != '{')
		return NULL;
	json_t *v = jr_object(&r, 1);
	if (v == NULL)
		return NULL;
	jr_ws(&r);
	if (r.p != r.end) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* bench/preload/count.c counts the documents the fast reader reads through
 * this weak hook, as it counts jansson's json_loadb (see ts_bench_json_dump
 * below). */
extern void ts_bench_json_parse(size_t len) __attribute__((weak));

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
	if (buf != NULL && (v = jr_document(buf, len)) != NULL) {
		if (ts_bench_json_parse != NULL)
			ts_bench_json_parse(len);
		*out = v;
		return 0;
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

/* 0 or -1 (out of memory) */
static int
jb_put(struct ts_jbuf *b, const char *s, size_t n)
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
	if (s != NULL) /* NULL: room reserved, the caller fills it */
		memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* Room for n more bytes: 0 or -1 (out of memory). */
static int
jb_reserve(struct ts_jbuf *b, size_t n)
{
	if (n <= b->cap - b->len)
		return 0;
	if (jb_put(b, NULL, n) != 0)
		return -1;
	b->len -= n;
	return 0;
}

/* 0, -1 out of memory, 1 not reproduced here (json_dumps does it) */
static int
jb_string(struct ts_jbuf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	/* invariant: room for what is left of s as it is, and the closing quote */
	if (n > SIZE_MAX - 2 || jb_reserve(b, n + 2) != 0)
		return -1;
	b->p[b->len++] = '"';
	size_t i = 0;
	for (;;) {
		size_t run = plain_run(s + i, n - i);
		memcpy(b->p + b->len, s + i, run);
		b->len += run;
		i += run;
		if (i == n)
			break;
		unsigned char c = s[i++];
		if (c >= 0x80)
			return 1;
		/* up to 6 bytes for this one, of which 1 was reserved */
		if (jb_reserve(b, (n - i) + 6 + 1) != 0)
			return -1;
		char *e = b->p + b->len;
		e[0] = '\\';
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
			b->len += 4;
		}
		b->len += 2;
	}
	b->p[b->len++] = '"';
	return 0;
}

static int
jb_integer(struct ts_jbuf *b, json_int_t v)
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

struct jkey {
	const char *k;
	size_t n;
	const json_t *v;
};

/* jansson's JSON_SORT_KEYS order: bytes compared as unsigned (memcmp), a
 * key that is a prefix of another first */
static int
jkey_cmp(const void *a, const void *b)
{
	const struct jkey *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->n < y->n ? x->n : y->n);
	return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

static int jb_value(struct ts_jbuf *b, const json_t *v, int depth, int sorted);

static int
jb_member(struct ts_jbuf *b, int first, const char *k, size_t kn, const json_t *v, int depth, int sorted)
{
	int rc;
	if (!first && jb_put(b, ",", 1) != 0)
		return -1;
	if ((rc = jb_string(b, k, kn)) != 0)
		return rc;
	if (jb_put(b, ":", 1) != 0)
		return -1;
	return jb_value(b, v, depth + 1, sorted);
}

static int
jb_object(struct ts_jbuf *b, const json_t *v, int depth, int sorted)
{
	int rc = 0;
	if (jb_put(b, "{", 1) != 0)
		return -1;
	if (!sorted) {
		/* jansson keeps insertion order and iterates in it */
		void *it = json_object_iter((json_t *)v);
		for (int first = 1; it != NULL; it = json_object_iter_next((json_t *)v, it), first = 0)
			if ((rc = jb_member(b, first, json_object_iter_key(it), json_object_iter_key_len(it),
			    json_object_iter_value(it), depth, sorted)) != 0)
				return rc;
		return jb_put(b, "}", 1);
	}
	size_t n = json_object_size(v), i = 0;
	if (n > SIZE_MAX / sizeof(struct jkey))
		return -1;
	struct jkey *keys = malloc((n ? n : 1) * sizeof(*keys));
	if (keys == NULL)
		return -1;
	for (void *it = json_object_iter((json_t *)v); it != NULL && i < n;
	    it = json_object_iter_next((json_t *)v, it), i++) {
		keys[i].k = json_object_iter_key(it);
		keys[i].n = json_object_iter_key_len(it);
		keys[i].v = json_object_iter_value(it);
	}
	qsort(keys, i, sizeof(*keys), jkey_cmp);
	for (size_t j = 0; j < i && rc == 0; j++)
		rc = jb_member(b, j == 0, keys[j].k, keys[j].n, keys[j].v, depth, sorted);
	free(keys);
	return rc != 0 ? rc : jb_put(b, "}", 1);
}

static int
jb_value(struct ts_jbuf *b, const json_t *v, int depth, int sorted)
{
	int rc;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth >= JB_MAX_DEPTH)
			return 1;
		return jb_object(b, v, depth, sorted);
	case JSON_ARRAY: {
		if (depth >= JB_MAX_DEPTH)
			return 1;
		if (jb_put(b, "[", 1) != 0)
			return -1;
		size_t n = json_array_size(v);
		for (size_t i = 0; i < n; i++) {
			if (i > 0 && jb_put(b, ",", 1) != 0)
				return -1;
			if ((rc = jb_value(b, json_array_get(v, i), depth + 1, sorted)) != 0)
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

static char *
dump(const json_t *v, int sorted)
{
	if (v == NULL)
		return NULL;
	struct ts_jbuf b = { NULL, 0, 0 };
	int rc = jb_value(&b, v, 0, sorted);
	if (rc == 0 && jb_put(&b, "", 1) == 0) {
		if (ts_bench_json_dump != NULL)
			ts_bench_json_dump(b.len - 1);
		return b.p;
	}
	free(b.p);
	return rc > 0 ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | (sorted ? JSON_SORT_KEYS : 0)) : NULL;
}

char *
ts_json_dump(const json_t *v)
{
	return dump(v, 0);
}

char *
ts_json_dump_sorted(const json_t *v)
{
	return dump(v, 1);
}

json_t *
ts_json_loads(const char *s)
{
	if (s == NULL)
		return NULL;
	json_t *v = jr_document(s, strlen(s));
	if (v != NULL) {
		if (ts_bench_json_parse != NULL)
			ts_bench_json_parse(strlen(s));
		return v;
	}
	return json_loads(s, 0, NULL);
}

/* ---- ts_jw ---------------------------------------------------------------- */

void
ts_jw_init(ts_jw *w)
{
	memset(w, 0, sizeof(*w));
}


static void
jw_fail(ts_jw *w, int rc)
{
	if (w->status == 0)
		w->status = rc;
}

void
ts_jw_reserve(ts_jw *w, size_t n)
{
	if (w->status == 0 && jb_reserve(&w->b, n) != 0)
		jw_fail(w, TS_ENOMEM);
}

static void
jw_put(ts_jw *w, const char *s, size_t n)
{
	if (w->status == 0 && jb_put(&w->b, s, n) != 0)
		jw_fail(w, TS_ENOMEM);
}

static void
jw_string(ts_jw *w, const char *s, size_t n)
{
	if (w->status != 0)
		return;
	if (s == NULL) {
		jw_fail(w, TS_JW_UNSURE);
		return;
	}
	int rc = jb_string(&w->b, s, n);
	if (rc != 0)
		jw_fail(w, rc > 0 ? TS_JW_UNSURE : TS_ENOMEM);
}

/* The separator and "key": of a new member of the object open now. */
static void
jw_key(ts_jw *w, const char *key)
{
	if (w->status != 0)
		return;
	if (w->depth == 0 || key == NULL) {
		jw_fail(w, TS_EINVAL);
		return;
	}
	uint32_t bit = (uint32_t)1 << (w->depth - 1);
	if (w->more & bit)
		jw_put(w, ",", 1);
	w->more |= bit;
	jw_string(w, key, strlen(key));
	jw_put(w, ":", 1);
}

void
ts_jw_open(ts_jw *w, const char *key)
{
	if (w->status != 0)
		return;
	if (key == NULL ? w->depth != 0 || w->b.len != 0 : w->depth == 0) {
		jw_fail(w, TS_EINVAL);
		return;
	}
	if (w->depth >= TS_JW_MAX_DEPTH) {
		jw_fail(w, TS_ELIMIT);
		return;
	}
	if (key != NULL)
		jw_key(w, key);
	jw_put(w, "{", 1);
	w->more &= ~((uint32_t)1 << w->depth);
	w->depth++;
}

void
ts_jw_close(ts_jw *w)
{
	if (w->status != 0)
		return;
	if (w->depth == 0) {
		jw_fail(w, TS_EINVAL);
		return;
	}
	w->depth--;
	jw_put(w, "}", 1);
}

void
ts_jw_strn(ts_jw *w, const char *key, const char *s, size_t n)
{
	jw_key(w, key);
	jw_string(w, s, n);
}

void
ts_jw_str(ts_jw *w, const char *key, const char *s)
{
	ts_jw_strn(w, key, s, s != NULL ? strlen(s) : 0);
}

void
ts_jw_int(ts_jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	if (w->status == 0 && jb_integer(&w->b, (json_int_t)v) != 0)
		jw_fail(w, TS_ENOMEM);
}

void
ts_jw_bool(ts_jw *w, const char *key, int v)
{
	jw_key(w, key);
	if (v)
		jw_put(w, "true", 4);
	else
		jw_put(w, "false", 5);
}

void
ts_jw_b64(ts_jw *w, const char *key, const uint8_t *buf, size_t len)
{
	jw_key(w, key);
	if (w->status != 0)
		return;
	if ((buf == NULL && len != 0) || len > (size_t)INT_MAX / 2) {
		jw_fail(w, TS_EINVAL);
		return;
	}
	/* encoded in place: a bound package is tens of kB */
	size_t n = 4 * ((len + 2) / 3);
	jw_put(w, "\"", 1);
	if (w->status == 0 && jb_reserve(&w->b, n + 1) != 0) /* EVP_EncodeBlock writes a NUL */
		jw_fail(w, TS_ENOMEM);
	if (w->status != 0)
		return;
	EVP_EncodeBlock((unsigned char *)w->b.p + w->b.len, buf != NULL ? buf : (const uint8_t *)"", (int)len);
	w->b.len += n;
	jw_put(w, "\"", 1);
}

void
ts_jw_raw(ts_jw *w, const char *key, const char *json)
{
	if (json == NULL) {
		jw_fail(w, TS_JW_UNSURE);
		return;
	}
	jw_key(w, key);
	jw_put(w, json, strlen(json));
}

int
ts_jw_finish(ts_jw *w, char **out)
{
	*out = NULL;
	if (w->status == 0 && (w->depth != 0 || w->b.len == 0))
		jw_fail(w, TS_EINVAL);
	jw_put(w, "", 1);
	int rc = w->status;
	if (rc == 0) {
		if (ts_bench_json_dump != NULL)
			ts_bench_json_dump(w->b.len - 1);
		*out = w->b.p;
	} else {
		free(w->b.p);
	}
	ts_jw_init(w);
	return rc;
}

char *
ts_json_strings_text(const char *const (*kv)[2], size_t n)
{
	ts_jw w;
	char *txt = NULL;
	int repeated = 0;
	for (size_t i = 0; i < n && !repeated; i++)
		for (size_t j = 0; j < i && !repeated; j++)
			repeated = kv[i][0] != NULL && kv[j][0] != NULL && strcmp(kv[i][0], kv[j][0]) == 0;
	if (!repeated) {
		ts_jw_init(&w);
		ts_jw_open(&w, NULL);
		for (size_t i = 0; i < n; i++)
			ts_jw_str(&w, kv[i][0], kv[i][1]);
		ts_jw_close(&w);
		if (ts_jw_finish(&w, &txt) != TS_JW_UNSURE)
			return txt;
	}
	/* jansson's answer: json_pack's "s" is json_string's check, and a
	 * repeated key replaces the earlier value in place */
	json_t *o = json_object();
	for (size_t i = 0; o != NULL && i < n; i++) {
		json_t *v = kv[i][1] != NULL && kv[i][0] != NULL ? json_string(kv[i][1]) : NULL;
		/* json_object_set_new takes v, also on failure */
		if (v == NULL || json_object_set_new(o, kv[i][0], v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	txt = ts_json_dump(o);
	json_decref(o);
	return txt;
}
