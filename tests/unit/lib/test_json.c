/* Unit tests for lib/json: strict parsing and base64 members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/json.h"
#include "lib/ts_err.h"

static int
parse(const char *s, json_t **out)
{
	char err[160];
	return ts_json_parse(s, strlen(s), out, err, sizeof(err));
}

static void
test_parse_ok(void **state)
{
	(void)state;
	json_t *o = NULL;
	assert_int_equal(parse("{\"a\":\"x\",\"n\":3,\"o\":{\"a\":1}}", &o), 0);
	assert_non_null(o);
	assert_string_equal(ts_json_str(o, "a"), "x");
	assert_null(ts_json_str(o, "n")); /* not a string */
	assert_null(ts_json_str(o, "missing"));
	assert_null(ts_json_str(NULL, "a"));
	json_decref(o);
}

static void
test_parse_rejects(void **state)
{
	(void)state;
	json_t *o = (json_t *)0x1;
	char err[160] = "";
	/* Duplicate keys. */
	assert_int_equal(ts_json_parse("{\"a\":1,\"a\":2}", 13, &o, err, sizeof(err)), TS_EPARSE);
	assert_null(o);
	assert_true(strlen(err) > 0);
	/* Not an object. */
	assert_int_equal(parse("[1,2]", &o), TS_EPARSE);
	assert_int_equal(parse("\"s\"", &o), TS_EPARSE);
	assert_int_equal(parse("3", &o), TS_EPARSE);
	/* Syntax errors, trailing garbage, empty. */
	assert_int_equal(parse("{\"a\":}", &o), TS_EPARSE);
	assert_int_equal(parse("{} {}", &o), TS_EPARSE);
	assert_int_equal(parse("", &o), TS_EPARSE);
	/* Length is honoured: the NUL-free prefix "{}" parses, extra bytes are
	 * outside len. */
	assert_int_equal(ts_json_parse("{}xyz", 2, &o, NULL, 0), 0);
	json_decref(o);
	/* Size limit. */
	size_t big = TS_JSON_MAX + 1;
	char *b = malloc(big + 1);
	assert_non_null(b);
	memset(b, ' ', big);
	b[0] = '{';
	b[big - 1] = '}';
	b[big] = '\0';
	assert_int_equal(ts_json_parse(b, big, &o, err, sizeof(err)), TS_ELIMIT);
	/* Exactly at the limit is fine. */
	b[big - 2] = '}';
	b[big - 1] = ' ';
	assert_int_equal(ts_json_parse(b, big - 1, &o, NULL, 0), 0);
	json_decref(o);
	free(b);
}

static void
test_b64(void **state)
{
	(void)state;
	json_t *o = json_object();
	static const uint8_t data[] = { 0x00, 0xFF, 0x10, 0x20 };
	assert_int_equal(ts_json_set_b64(o, "k", data, sizeof(data)), 0);
	assert_string_equal(ts_json_str(o, "k"), "AP8QIA==");
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(ts_json_b64(o, "k", &out, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(out, data, sizeof(data));
	free(out);
	assert_int_equal(ts_json_b64(o, "nope", &out, &len), TS_ENOTFOUND);
	json_object_set_new(o, "bad", json_string("AP8QIA="));
	assert_int_equal(ts_json_b64(o, "bad", &out, &len), TS_EPARSE);
	json_object_set_new(o, "num", json_integer(5));
	assert_int_equal(ts_json_b64(o, "num", &out, &len), TS_EPARSE);
	/* Empty input encodes to "". */
	assert_int_equal(ts_json_set_b64(o, "e", NULL, 0), 0);
	assert_string_equal(ts_json_str(o, "e"), "");
	assert_int_equal(ts_json_b64(o, "e", &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	json_decref(o);
}

static void
test_dump(void **state)
{
	(void)state;
	json_t *o = NULL;
	assert_int_equal(parse("{ \"b\" : [1, 2],\n \"a\" : \"x\" }", &o), 0);
	char *s = ts_json_dump(o);
	assert_non_null(s);
	assert_string_equal(s, "{\"b\":[1,2],\"a\":\"x\"}");
	free(s);
	json_decref(o);
	json_t *n = json_integer(42);
	s = ts_json_dump(n);
	assert_string_equal(s, "42");
	free(s);
	json_decref(n);
	assert_null(ts_json_dump(NULL));
}

/* ts_json_dump writes its own text (json.c): it must be json_dumps'
 * (JSON_COMPACT | JSON_ENCODE_ANY) byte for byte, for every kind of value,
 * every character that needs an escape, key order, integer limits, and the
 * values it hands to json_dumps (reals, non-ASCII, deep nesting). */
static void
same_as_jansson(json_t *v)
{
	char *mine = ts_json_dump(v);
	char *ref = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (ref == NULL)
		assert_null(mine);
	else {
		assert_non_null(mine);
		assert_string_equal(mine, ref);
	}
	free(mine);
	free(ref);
	json_decref(v);
}

static void
test_dump_as_jansson(void **state)
{
	(void)state;
	char all[128];
	for (int i = 1; i < 128; i++)
		all[i - 1] = (char)i; /* every ASCII byte but NUL */
	all[127] = '\0';
	same_as_jansson(json_string(all));
	same_as_jansson(json_stringn("a\0b", 3)); /* an embedded NUL: \u0000 */
	same_as_jansson(json_string("\"\\/\b\f\n\r\t\x01\x1f\x7f"));
	same_as_jansson(json_string(""));
	same_as_jansson(json_integer(0));
	same_as_jansson(json_integer(-1));
	same_as_jansson(json_integer(INT64_MAX));
	same_as_jansson(json_integer(INT64_MIN));
	same_as_jansson(json_true());
	same_as_jansson(json_false());
	same_as_jansson(json_null());
	same_as_jansson(json_object());
	same_as_jansson(json_array());
	same_as_jansson(json_real(0.1));                 /* handed to json_dumps */
	same_as_jansson(json_string("caf\xc3\xa9 \xe2\x80\x99")); /* UTF-8: handed over */
	json_t *bad = json_stringn_nocheck("\xff\xfe", 2);   /* not UTF-8: both NULL */
	same_as_jansson(bad);
	/* insertion order (not sorted), keys that need escapes, nesting */
	json_t *o = json_pack("{s:s, s:i, s:[i,s,{}], s:{s:b, s:n}, s:I}", "zeta", "z\"q", "alpha", 7, "mid", 1,
	    "x\ty", "a\nb", "k\"\\", 1, "e", "big", (json_int_t)-9007199254740993LL);
	assert_non_null(o);
	same_as_jansson(o);
	/* nested deeper than the writer goes: json_dumps writes it */
	json_t *deep = json_array();
	for (int i = 0; i < 40; i++) {
		json_t *up = json_array();
		json_array_append_new(up, deep);
		deep = up;
	}
	same_as_jansson(deep);
	/* a cycle: json_dumps refuses it (NULL); this writer must not recurse
	 * for ever */
	json_t *a = json_array(), *b = json_array();
	json_array_append(a, b);
	json_array_append(b, a);
	char *cyc = ts_json_dump(a);
	assert_null(cyc);
	json_array_clear(b);
	json_decref(b);
	json_decref(a);
	/* a package-sized base64 string among others */
	char *b64 = malloc(20001);
	assert_non_null(b64);
	for (int i = 0; i < 20000; i++)
		b64[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7) % 64];
	b64[20000] = '\0';
	same_as_jansson(json_pack("{s:{s:s,s:s},s:s}", "header", "functionExecutionStatus", "status", "Executed-Success",
	    "x", "y", "boundProfilePackage", b64));
	free(b64);
}

/* lib/json.c's fast reader reports each document it read through this
 * hook (bench/preload/count.c defines it in the node): here it counts, so
 * the tests see which reader took a document. */
static int fast_reads;
void ts_bench_json_parse(size_t len);
void
ts_bench_json_parse(size_t len)
{
	(void)len;
	fast_reads++;
}

/* ts_json_parse (the fast reader, else jansson) against jansson alone:
 * the same verdict and the same value; fast = whether the fast reader is
 * expected to take it. */
static void
parse_as_jansson(const char *doc, size_t len, int fast)
{
	json_t *mine = NULL;
	int before = fast_reads;
	int rc = ts_json_parse(doc, len, &mine, NULL, 0);
	json_t *ref = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
	if (ref != NULL && !json_is_object(ref)) {
		json_decref(ref);
		ref = NULL;
	}
	if (ref == NULL)
		assert_int_not_equal(rc, 0);
	else {
		assert_int_equal(rc, 0);
		assert_true(json_equal(mine, ref));
	}
	assert_int_equal(fast_reads - before, fast);
	json_decref(mine);
	json_decref(ref);
}
#define PARSE(doc, fast) parse_as_jansson(doc, sizeof(doc) - 1, fast)

static void
test_parse_as_jansson(void **state)
{
	(void)state;
	/* taken by the fast reader */
	PARSE("{}", 1);
	PARSE(" \t\r\n{ \"a\" : \"b\" , \"n\":-0,\"m\":123456789012345678,\"z\":0 } \n", 1);
	PARSE("{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\n\":1}", 1);
	PARSE("{\"x\":[1,[],{},[true,false,null],\"s\"],\"y\":{\"z\":{\"w\":[-1]}}}", 1);
	PARSE("{\"del\":\"\x7f\",\"\":\"\"}", 1);
	/* handed to jansson: accepted there */
	PARSE("{\"u\":\"\\u00e9\\ud83d\\ude00\"}", 0);
	PARSE("{\"r\":1.5,\"e\":1e3}", 0);
	PARSE("{\"utf8\":\"caf\xc3\xa9\"}", 0);
	PARSE("{\"big\":1234567890123456789}", 0);
	PARSE("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0);
	/* handed to jansson: refused there */
	PARSE("{\"a\":1,\"a\":2}", 0);      /* duplicate */
	PARSE("{\"a\":01}", 0);               /* leading zero */
	PARSE("{\"a\":-}", 0);
	PARSE("{\"a\":1,}", 0);               /* trailing comma */
	PARSE("{\"a\":[1,]}", 0);
	PARSE("{\"a\" 1}", 0);
	PARSE("{\"a\":tru}", 0);
	PARSE("{\"a\":truex}", 0);
	PARSE("{\"a\":\"x\ty\"}", 0);           /* a raw control character */
	PARSE("{\"a\":\"\\x\"}", 0);           /* an unknown escape */
	PARSE("{\"a\":\"\\u0000\"}", 0);       /* NUL */
	PARSE("{\"a\":\"\xff\"}", 0);           /* not UTF-8 */
	PARSE("{\"a\":\"\xffn\"}", 0);
	PARSE("{\"a\":\"unterminated}", 0);
	PARSE("{\"a\":1} x", 0);              /* trailing garbage */
	PARSE("{\"a\":1}{}", 0);
	PARSE("[1]", 0);                        /* not an object */
	PARSE("\"s\"", 0);
	PARSE("", 0);
	PARSE("{\"a\":1", 0);
	PARSE("{\"a\":\"b\"\0}", 0);            /* a NUL byte */
	/* an ES9+ request's shape, a long base64 string: the fast reader */
	size_t n = 30000;
	char *doc = malloc(n + 64);
	assert_non_null(doc);
	int o = snprintf(doc, 64, "{\"transactionId\":\"00FF\",\"authenticateServerResponse\":\"");
	for (size_t i = 0; i < n; i++)
		doc[o + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
	memcpy(doc + o + n, "\"}", 3);
	parse_as_jansson(doc, strlen(doc), 1);
	free(doc);
}


/* ---- ts_jw, ts_json_strings_text, ts_json_dump_sorted, ts_json_loads ----
 * jansson is the oracle: the same values built as a jansson tree and given
 * to json_dumps must give the same bytes. */

/* xorshift: the property loops are the same on every run */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A random NUL-terminated string of up to max bytes from 1..hi. */
static void
rnd_string(char *out, size_t max, unsigned hi)
{
	size_t n = (size_t)(rnd() % (max + 1));
	for (size_t i = 0; i < n; i++) {
		/* control characters, quotes and backslashes often */
		unsigned r = (unsigned)(rnd() % 4);
		if (r == 0)
			out[i] = (char)(1 + rnd() % 0x1f);
		else if (r == 1)
			out[i] = "\"\\/"[rnd() % 3];
		else
			out[i] = (char)(1 + rnd() % hi);
	}
	out[n] = '\0';
}

/* json_dumps' text, NULL for no value (v borrowed) */
static char *
jansson_text(const json_t *v, size_t flags)
{
	return v != NULL ? json_dumps(v, flags) : NULL;
}

static void
assert_same_text(char *mine, char *ref)
{
	if (ref == NULL)
		assert_null(mine);
	else {
		assert_non_null(mine);
		assert_string_equal(mine, ref);
	}
	free(mine);
	free(ref);
}

static void
test_jw_as_jansson(void **state)
{
	(void)state;
	char all[128];
	for (int i = 1; i < 128; i++)
		all[i - 1] = (char)i; /* every ASCII byte but NUL, each control character among them */
	all[127] = '\0';
	ts_jw w;
	char *mine = NULL;
	ts_jw_init(&w);
	ts_jw_open(&w, NULL);
	ts_jw_str(&w, "all", all);
	ts_jw_str(&w, "", "");
	ts_jw_str(&w, "k\"\\\n\x01", "\"\\/\b\f\n\r\t\x01\x1f\x7f");
	ts_jw_strn(&w, "nul", "a\0b", 3);
	ts_jw_int(&w, "zero", 0);
	ts_jw_int(&w, "neg", -1);
	ts_jw_int(&w, "max", INT64_MAX);
	ts_jw_int(&w, "min", INT64_MIN);
	ts_jw_bool(&w, "t", 1);
	ts_jw_bool(&w, "f", 0);
	ts_jw_open(&w, "empty");
	ts_jw_close(&w);
	ts_jw_open(&w, "o");
	ts_jw_str(&w, "a", "b");
	ts_jw_open(&w, "p");
	ts_jw_int(&w, "q", 3);
	ts_jw_close(&w);
	ts_jw_str(&w, "after", "nested");
	ts_jw_close(&w);
	ts_jw_raw(&w, "raw", "[1,{\"x\":null}]");
	ts_jw_str(&w, "last", "z");
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &mine), 0);
	json_t *o = json_object();
	json_object_set_new(o, "all", json_string(all));
	json_object_set_new(o, "", json_string(""));
	json_object_set_new(o, "k\"\\\n\x01", json_string("\"\\/\b\f\n\r\t\x01\x1f\x7f"));
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_set_new(o, "zero", json_integer(0));
	json_object_set_new(o, "neg", json_integer(-1));
	json_object_set_new(o, "max", json_integer(INT64_MAX));
	json_object_set_new(o, "min", json_integer(INT64_MIN));
	json_object_set_new(o, "t", json_true());
	json_object_set_new(o, "f", json_false());
	json_object_set_new(o, "empty", json_object());
	json_object_set_new(o, "o", json_pack("{s:s,s:{s:i},s:s}", "a", "b", "p", "q", 3, "after", "nested"));
	json_object_set_new(o, "raw", json_pack("[i,{s:n}]", 1, "x"));
	json_object_set_new(o, "last", json_string("z"));
	assert_same_text(mine, jansson_text(o, JSON_COMPACT));
	json_decref(o);
	/* the smallest document */
	ts_jw_open(&w, NULL);
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &mine), 0);
	assert_string_equal(mine, "{}");
	free(mine);
}

/* Random members (ASCII strings with many escapes, random integers and
 * nesting) written both ways. */
static void
test_jw_random(void **state)
{
	(void)state;
	char k[40], v[200];
	for (int round = 0; round < 2000; round++) {
		ts_jw w;
		json_t *stack[TS_JW_MAX_DEPTH];
		int d = 0;
		ts_jw_init(&w);
		ts_jw_open(&w, NULL);
		stack[0] = json_object();
		int n = (int)(rnd() % 20);
		for (int i = 0; i < n; i++) {
			/* distinct keys: a prefix keeps them apart (jansson would
			 * replace a repeated one, the writer does not look) */
			rnd_string(k + 4, sizeof(k) - 5, 0x7f);
			k[0] = (char)('A' + i % 26), k[1] = (char)('a' + i / 26), k[2] = (char)('0' + d), k[3] = '_';
			switch (rnd() % 6) {
			case 0:
			case 1:
				rnd_string(v, sizeof(v) - 1, 0x7f);
				ts_jw_str(&w, k, v);
				json_object_set_new(stack[d], k, json_string(v));
				break;
			case 2: {
				int64_t x = (int64_t)rnd() >> (rnd() % 64);
				ts_jw_int(&w, k, x);
				json_object_set_new(stack[d], k, json_integer(x));
				break;
			}
			case 3:
			{
				int b = (int)(rnd() % 2);
				ts_jw_bool(&w, k, b);
				json_object_set_new(stack[d], k, json_boolean(b));
			}
				break;
			case 4:
				if (d + 1 < TS_JW_MAX_DEPTH) {
					ts_jw_open(&w, k);
					json_t *c = json_object();
					json_object_set_new(stack[d], k, c);
					stack[++d] = c;
				}
				break;
			default:
				if (d > 0) {
					ts_jw_close(&w);
					d--;
				}
			}
		}
		for (; d > 0; d--)
			ts_jw_close(&w);
		ts_jw_close(&w);
		char *mine = NULL;
		assert_int_equal(ts_jw_finish(&w, &mine), 0);
		assert_same_text(mine, jansson_text(stack[0], JSON_COMPACT));
		json_decref(stack[0]);
	}
}

static void
test_jw_errors(void **state)
{
	(void)state;
	ts_jw w;
	char *out = (char *)0x1;
	/* a byte above 0x7f: the caller asks jansson; sticky */
	ts_jw_init(&w);
	ts_jw_open(&w, NULL);
	ts_jw_str(&w, "a", "caf\xc3\xa9");
	ts_jw_str(&w, "b", "x");
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_JW_UNSURE);
	assert_null(out);
	ts_jw_open(&w, NULL);
	ts_jw_str(&w, "k\x80", "x"); /* in a key too */
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_JW_UNSURE);
	/* a NULL string: json_pack refuses it, jansson gives the answer */
	ts_jw_open(&w, NULL);
	ts_jw_str(&w, "a", NULL);
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_JW_UNSURE);
	ts_jw_open(&w, NULL);
	ts_jw_raw(&w, "a", NULL);
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_JW_UNSURE);
	/* unbalanced, a member outside any object, a second document, no document */
	ts_jw_open(&w, NULL);
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	ts_jw_str(&w, "a", "b");
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	ts_jw_open(&w, NULL);
	ts_jw_close(&w);
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	ts_jw_open(&w, NULL);
	ts_jw_close(&w);
	ts_jw_open(&w, NULL);
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	ts_jw_open(&w, "named");
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	ts_jw_open(&w, NULL);
	ts_jw_open(&w, NULL); /* a nested object needs a name */
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	assert_null(out);
	/* nesting: TS_JW_MAX_DEPTH objects, not one more */
	ts_jw_open(&w, NULL);
	for (int i = 1; i < TS_JW_MAX_DEPTH; i++)
		ts_jw_open(&w, "d");
	for (int i = 0; i < TS_JW_MAX_DEPTH; i++)
		ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), 0);
	free(out);
	ts_jw_open(&w, NULL);
	for (int i = 0; i < TS_JW_MAX_DEPTH; i++)
		ts_jw_open(&w, "d");
	for (int i = 0; i <= TS_JW_MAX_DEPTH; i++)
		ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_ELIMIT);
	assert_null(out);
}

/* Long plain runs with one byte that matters at every offset (the writer
 * takes plain runs eight bytes at a time): the escapes and their
 * neighbours (0x1f/0x20, '!' '"' '#', '[' '\\' ']', 0x7f), and bytes above
 * 0x7f (handed to jansson), by ts_json_dump and by ts_jw against
 * json_dumps. */
static void
test_string_runs(void **state)
{
	(void)state;
	static const unsigned char odd[] = { 0x01, 0x08, 0x0a, 0x1f, 0x20, '!', '"', '#', '[', '\\', ']', 0x7f, 0x80,
		0xc3, 0xff };
	char s[48];
	for (size_t len = 1; len <= sizeof(s); len++)
		for (size_t at = 0; at < len; at++)
			for (size_t k = 0; k < sizeof(odd); k++) {
				memset(s, 'A' + (int)(len % 26), len);
				s[at] = (char)odd[k];
				if (k % 3 == 0 && at + 9 < len)
					s[at + 9] = '"'; /* a second one in the next word */
				same_as_jansson(json_stringn_nocheck(s, len));
				ts_jw w;
				char *mine = NULL;
				ts_jw_init(&w);
				ts_jw_open(&w, NULL);
				ts_jw_strn(&w, "k", s, len);
				ts_jw_close(&w);
				int rc = ts_jw_finish(&w, &mine);
				json_t *o = json_object();
				json_object_set_new(o, "k", json_stringn_nocheck(s, len));
				char *ref = json_dumps(o, JSON_COMPACT);
				json_decref(o);
				if (odd[k] >= 0x80) {
					assert_int_equal(rc, TS_JW_UNSURE);
					free(ref);
				} else {
					assert_int_equal(rc, 0);
					assert_same_text(mine, ref);
				}
			}
}

/* The fast reader takes plain runs eight bytes at a time too: one byte
 * that matters at every offset of a long string, read by ts_json_parse and
 * by jansson (same verdict, same value; the fast reader takes exactly the
 * documents whose odd byte is plain or a two-character escape). */
static void
test_parse_runs(void **state)
{
	(void)state;
	static const char *const odd[] = { "\x01", "\x1f", " ", "!", "#", "[", "]", "\x7f", "\\n", "\\\"",
		"\\\\", "\\u0041", "\"", "\\", "\x80", "\xc3\xa9", "\t" };
	static const int fast[] = { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0 };
	char doc[128];
	for (size_t len = 1; len <= 40; len++)
		for (size_t at = 0; at <= len; at++)
			for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
				char run[48];
				memset(run, 'B', len);
				run[len] = '\0';
				int n = snprintf(doc, sizeof(doc), "{\"k\":\"%.*s%s%s\",\"z\":1}", (int)at, run, odd[k],
				    run + at);
				assert_true(n > 0 && (size_t)n < sizeof(doc));
				parse_as_jansson(doc, (size_t)n, fast[k]);
			}
}

/* ts_jw_b64 against ts_json_set_b64 on a jansson object dumped by json_dumps:
 * every length mod 3, empty, package-sized, between other members */
static void
test_jw_b64(void **state)
{
	(void)state;
	size_t lens[] = { 0, 1, 2, 3, 4, 5, 64, 65, 66, 67, 1000, 40001 };
	uint8_t *buf = malloc(40001);
	assert_non_null(buf);
	for (size_t i = 0; i < 40001; i++)
		buf[i] = (uint8_t)rnd();
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ts_jw w;
		char *mine = NULL;
		ts_jw_init(&w);
		ts_jw_open(&w, NULL);
		ts_jw_str(&w, "transactionId", "00FF");
		ts_jw_b64(&w, "b", buf, lens[i]);
		ts_jw_b64(&w, "e", NULL, 0);
		ts_jw_b64(&w, "c", buf + 1, lens[i] / 2);
		ts_jw_close(&w);
		assert_int_equal(ts_jw_finish(&w, &mine), 0);
		json_t *o = json_pack("{s:s}", "transactionId", "00FF");
		assert_int_equal(ts_json_set_b64(o, "b", buf, lens[i]), 0);
		assert_int_equal(ts_json_set_b64(o, "e", NULL, 0), 0);
		assert_int_equal(ts_json_set_b64(o, "c", buf + 1, lens[i] / 2), 0);
		assert_same_text(mine, jansson_text(o, JSON_COMPACT));
		json_decref(o);
	}
	ts_jw w;
	char *out = NULL;
	ts_jw_init(&w);
	ts_jw_open(&w, NULL);
	ts_jw_b64(&w, "x", NULL, 3); /* no buffer but a length */
	ts_jw_close(&w);
	assert_int_equal(ts_jw_finish(&w, &out), TS_EINVAL);
	free(buf);
}

/* ts_json_strings_text against json_pack("{s:s,...}") dumped */
static void
strings_as_jansson(const char *const (*kv)[2], size_t n)
{
	json_t *o = NULL;
	switch (n) {
	case 1: o = json_pack("{s:s}", kv[0][0], kv[0][1]); break;
	case 2: o = json_pack("{s:s,s:s}", kv[0][0], kv[0][1], kv[1][0], kv[1][1]); break;
	case 3: o = json_pack("{s:s,s:s,s:s}", kv[0][0], kv[0][1], kv[1][0], kv[1][1], kv[2][0], kv[2][1]); break;
	default: fail();
	}
	assert_same_text(ts_json_strings_text(kv, n), jansson_text(o, JSON_COMPACT));
	json_decref(o);
}

static void
test_strings_text(void **state)
{
	(void)state;
	const char *const plain[][2] = { { "share_id", "00ab" }, { "matching_id", "" }, { "smdp_address", "x\"\\\n" } };
	strings_as_jansson(plain, 3);
	const char *const utf8[][2] = { { "a", "caf\xc3\xa9" }, { "b", "\xe2\x80\x99" } }; /* jansson writes it */
	strings_as_jansson(utf8, 2);
	const char *const bad[][2] = { { "a", "ok" }, { "b", "\xff" } }; /* json_pack refuses: NULL */
	strings_as_jansson(bad, 2);
	assert_null(ts_json_strings_text(bad, 2));
	const char *const null[][2] = { { "a", NULL } };
	assert_null(ts_json_strings_text(null, 1));
	/* a repeated key: jansson keeps the first place and the last value */
	const char *const rep[][2] = { { "a", "1" }, { "b", "2" }, { "a", "3" } };
	strings_as_jansson(rep, 3);
	char *t = ts_json_strings_text(rep, 3);
	assert_string_equal(t, "{\"a\":\"3\",\"b\":\"2\"}");
	free(t);
	char k1[40], v1[120], k2[40], v2[120];
	for (int i = 0; i < 2000; i++) {
		rnd_string(k1, sizeof(k1) - 1, i % 2 ? 0xff : 0x7f);
		rnd_string(k2, sizeof(k2) - 1, 0x7f);
		rnd_string(v1, sizeof(v1) - 1, i % 4 == 1 ? 0xff : 0x7f);
		rnd_string(v2, sizeof(v2) - 1, 0x7f);
		const char *const kv[][2] = { { k1, v1 }, { k2, v2 } };
		strings_as_jansson(kv, 2);
	}
}

/* A random tree: objects whose keys share prefixes (the sort's "shorter
 * first" rule), arrays, strings, integers. */
static json_t *
rnd_tree(int depth)
{
	char s[24];
	unsigned r = (unsigned)(rnd() % (depth > 3 ? 3 : 6));
	if (r == 0) {
		rnd_string(s, sizeof(s) - 1, 0x7f);
		return json_string(s);
	}
	if (r == 1)
		return json_integer((json_int_t)(rnd() >> 20) - (json_int_t)(1ll << 43));
	if (r == 2)
		return rnd() % 2 ? json_true() : json_null();
	if (r == 3) {
		json_t *a = json_array();
		for (int i = (int)(rnd() % 4); i > 0; i--)
			json_array_append_new(a, rnd_tree(depth + 1));
		return a;
	}
	json_t *o = json_object();
	for (int i = (int)(rnd() % 8); i > 0; i--) {
		size_t n = (size_t)(rnd() % 4);
		for (size_t j = 0; j < n; j++)
			s[j] = "ab\x01~"[rnd() % 4];
		s[n] = '\0';
		json_object_set_new(o, s, rnd_tree(depth + 1));
	}
	if (rnd() % 3 == 0)
		json_object_setn_new(o, "a\0b", 3, json_integer(1)); /* a key with a NUL: memcmp order */
	return o;
}

static void
test_dump_sorted(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:s,s:i,s:{s:i,s:i},s:s,s:[{s:i,s:i}]}", "zeta", "z", "ab", 1, "a", "y", 2, "x", 1,
	    "", "empty", "arr", "q", 1, "p", 2);
	char *t = ts_json_dump_sorted(o);
	assert_string_equal(t, "{\"\":\"empty\",\"a\":{\"x\":1,\"y\":2},\"ab\":1,\"arr\":[{\"p\":2,\"q\":1}],\"zeta\":\"z\"}");
	free(t);
	assert_same_text(ts_json_dump_sorted(o), jansson_text(o, JSON_COMPACT | JSON_SORT_KEYS));
	assert_null(ts_json_dump_sorted(NULL));
	json_t *u = json_pack("{s:s,s:s}", "b\xc3\xa9", "x", "b", "caf\xc3\xa9"); /* handed to jansson */
	assert_non_null(u);
	assert_same_text(ts_json_dump_sorted(u), jansson_text(u, JSON_COMPACT | JSON_SORT_KEYS));
	json_decref(u);
	json_decref(o);
	for (int i = 0; i < 2000; i++) {
		json_t *v = json_object();
		json_object_set_new(v, "t", rnd_tree(0));
		json_object_set_new(v, "~", rnd_tree(0));
		assert_same_text(ts_json_dump_sorted(v), jansson_text(v, JSON_COMPACT | JSON_SORT_KEYS));
		json_decref(v);
	}
}

/* ts_json_loads against json_loads(s, 0, NULL): the same value or the
 * same refusal; fast: whether the fast reader takes it */
static void
loads_as_jansson(const char *doc, int fast)
{
	int before = fast_reads;
	json_t *mine = ts_json_loads(doc);
	json_t *ref = json_loads(doc, 0, NULL);
	if (ref == NULL)
		assert_null(mine);
	else
		assert_true(json_equal(mine, ref));
	assert_int_equal(fast_reads - before, fast);
	json_decref(mine);
	json_decref(ref);
}

static void
test_loads(void **state)
{
	(void)state;
	loads_as_jansson("{\"profile_package\":\"QUJD\",\"iccid\":\"8944\"}", 1);
	loads_as_jansson(" {\"a\":{\"b\":[1,\"\\n\"]}} ", 1);
	loads_as_jansson("{\"a\":1,\"a\":2}", 0);  /* duplicate: jansson's last one wins */
	json_t *d = ts_json_loads("{\"a\":1,\"a\":2}");
	assert_int_equal(json_integer_value(json_object_get(d, "a")), 2);
	json_decref(d);
	loads_as_jansson("[1,2]", 0);             /* an array: jansson takes it */
	loads_as_jansson("{\"a\":\"caf\xc3\xa9\"}", 0);
	loads_as_jansson("{\"a\":1.5}", 0);
	loads_as_jansson("{\"a\":1", 0);
	loads_as_jansson("", 0);
	loads_as_jansson("\"s\"", 0);
	assert_null(ts_json_loads(NULL));
	for (int i = 0; i < 2000; i++) {
		json_t *v = rnd_tree(0);
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_non_null(t);
		int before = fast_reads;
		json_t *mine = ts_json_loads(t);
		json_t *ref = json_loads(t, 0, NULL);
		if (ref == NULL)
			assert_null(mine);
		else
			assert_true(json_equal(mine, ref));
		/* the fast reader takes every object without \u escapes (NULs and
		 * control characters other than \b \f \n \r \t) */
		if (json_is_object(v) && strstr(t, "\\u") == NULL)
			assert_int_equal(fast_reads - before, 1);
		json_decref(mine);
		json_decref(ref);
		json_decref(v);
		free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_dump_as_jansson),
		cmocka_unit_test(test_parse_as_jansson),
		cmocka_unit_test(test_jw_as_jansson),
		cmocka_unit_test(test_jw_random),
		cmocka_unit_test(test_jw_errors),
		cmocka_unit_test(test_jw_b64),
		cmocka_unit_test(test_string_runs),
		cmocka_unit_test(test_parse_runs),
		cmocka_unit_test(test_strings_text),
		cmocka_unit_test(test_dump_sorted),
		cmocka_unit_test(test_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
