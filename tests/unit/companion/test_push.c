/*
 * test_push.c — parsing of the node's push commands (src/companion/push.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "companion/push.h"
#include "lib/ts_err.h"

static void
test_download(void **state)
{
	(void)state;
	push_cmd c;
	char err[128] = "";
	assert_int_equal(push_parse("download",
	    "{\"share_id\":\"3f2a\",\"matching_id\":\"MID-9\",\"smdp_address\":\"127.0.0.1:8443\","
	    "\"extra\":1}", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, PUSH_DOWNLOAD);
	assert_string_equal(c.share_id, "3f2a");
	assert_string_equal(c.matching_id, "MID-9");
	assert_string_equal(c.smdp_address, "127.0.0.1:8443");
	assert_string_equal(c.app_id, "");
}

static void
test_delete(void **state)
{
	(void)state;
	push_cmd c;
	char err[128] = "";
	assert_int_equal(push_parse("delete", "{\"share_id\":\"s1\",\"app_id\":\"sim-watch-1\"}", &c,
	    err, sizeof(err)), 0);
	assert_int_equal(c.kind, PUSH_DELETE);
	assert_string_equal(c.share_id, "s1");
	assert_string_equal(c.app_id, "sim-watch-1");
	/* A delete does not need download fields, but needs app_id. */
	assert_int_equal(push_parse("delete", "{\"share_id\":\"s1\"}", &c, err, sizeof(err)),
	    TS_EPROTO);
	assert_string_equal(err, "field app_id is missing or not a string");
	assert_int_equal(c.kind, 0);
}

static void
test_rejects(void **state)
{
	(void)state;
	push_cmd c;
	char err[128] = "";
	assert_int_equal(push_parse("reboot", "{}", &c, err, sizeof(err)), TS_EUNSUPP);
	assert_string_equal(err, "unknown event \"reboot\"");
	assert_int_equal(push_parse("download", "not json", &c, err, sizeof(err)), TS_EPARSE);
	assert_int_equal(push_parse("download", "[1]", &c, err, sizeof(err)), TS_EPARSE);
	assert_int_equal(push_parse("download",
	    "{\"share_id\":\"a\",\"share_id\":\"b\",\"matching_id\":\"m\",\"smdp_address\":\"x\"}",
	    &c, err, sizeof(err)), TS_EPARSE); /* duplicate keys */
	assert_int_equal(push_parse("download", "{\"share_id\":\"a\",\"smdp_address\":\"x\"}", &c,
	    err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "field matching_id is missing or not a string");
	assert_int_equal(push_parse("download",
	    "{\"share_id\":\"a\",\"matching_id\":7,\"smdp_address\":\"x\"}", &c, err, sizeof(err)),
	    TS_EPROTO);
	assert_int_equal(push_parse("download",
	    "{\"share_id\":\"\",\"matching_id\":\"m\",\"smdp_address\":\"x\"}", &c, err, sizeof(err)),
	    TS_EPROTO);
	assert_string_equal(err, "field share_id must be 1..128 bytes");
	assert_int_equal(push_parse("download",
	    "{\"share_id\":\"a b\",\"matching_id\":\"m\",\"smdp_address\":\"x\"}", &c, err,
	    sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "field share_id holds a non-printable or space character");
	assert_int_equal(push_parse("delete", "{\"share_id\":\"a\",\"app_id\":\"x\\u0001\"}", &c,
	    err, sizeof(err)), TS_EPROTO);

	char big[400];
	memset(big, 'a', 129);
	big[129] = '\0';
	char doc[600];
	snprintf(doc, sizeof(doc), "{\"share_id\":\"%s\",\"app_id\":\"x\"}", big);
	assert_int_equal(push_parse("delete", doc, &c, err, sizeof(err)), TS_EPROTO);
	big[128] = '\0'; /* exactly 128 is fine */
	snprintf(doc, sizeof(doc), "{\"share_id\":\"%s\",\"app_id\":\"x\"}", big);
	assert_int_equal(push_parse("delete", doc, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.share_id), 128);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_download),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
