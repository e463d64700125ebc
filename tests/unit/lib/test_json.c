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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
