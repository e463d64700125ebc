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
test_certificate(void **state)
{
	(void)state;
	push_cmd c;
	char err[128] = "";
	/* MAMCAQE= is 30 03 02 01 01: one DER SEQUENCE. */
	assert_int_equal(push_parse("certificate",
	    "{\"share_id\":\"s9\",\"app_id\":\"bankid-alice\",\"certificate\":\"MAMCAQE=\"}", &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.kind, PUSH_CERTIFICATE);
	assert_string_equal(c.share_id, "s9");
	assert_string_equal(c.app_id, "bankid-alice");
	static const unsigned char want[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	assert_int_equal(c.cert_len, sizeof(want));
	assert_memory_equal(c.cert, want, sizeof(want));

	assert_int_equal(push_parse("certificate", "{\"share_id\":\"s9\",\"app_id\":\"b\"}", &c, err,
	    sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "field certificate is missing or not a string");
	assert_int_equal(c.kind, 0);
	assert_int_equal(c.cert_len, 0);
	assert_int_equal(push_parse("certificate", "{\"share_id\":\"s9\",\"certificate\":\"MAMCAQE=\"}",
	    &c, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "field app_id is missing or not a string");
	/* Not base64; base64 of something that is not a SEQUENCE (04 01 00). */
	assert_int_equal(push_parse("certificate",
	    "{\"share_id\":\"s\",\"app_id\":\"b\",\"certificate\":\"MA*C\"}", &c, err, sizeof(err)),
	    TS_EPROTO);
	assert_string_equal(err, "field certificate is not base64 of a DER certificate");
	assert_int_equal(push_parse("certificate",
	    "{\"share_id\":\"s\",\"app_id\":\"b\",\"certificate\":\"BAEA\"}", &c, err, sizeof(err)),
	    TS_EPROTO);
	assert_string_equal(err, "field certificate is not base64 of a DER certificate");
	assert_int_equal(push_parse("certificate",
	    "{\"share_id\":\"s\",\"app_id\":\"b\",\"certificate\":7}", &c, err, sizeof(err)),
	    TS_EPROTO);

	/* Size limit: PUSH_CERT_MAX bytes pass, one more does not. */
	static char doc[2 * PUSH_CERT_MAX];
	static char b64[PUSH_CERT_MAX / 3 * 4 + 16];
	size_t n = (PUSH_CERT_MAX + 2) / 3 * 4; /* 4096 bytes -> 5464 characters */
	memset(b64, 'A', n);
	b64[0] = 'M'; /* first byte 0x30 */
	b64[n - 2] = '=';
	b64[n - 1] = '=';
	b64[n] = '\0';
	assert_true((size_t)snprintf(doc, sizeof(doc),
	    "{\"share_id\":\"s\",\"app_id\":\"b\",\"certificate\":\"%s\"}", b64) < sizeof(doc));
	assert_int_equal(push_parse("certificate", doc, &c, err, sizeof(err)), 0);
	assert_int_equal(c.cert_len, PUSH_CERT_MAX);
	assert_int_equal(c.cert[0], 0x30);
	memset(b64, 'A', n + 4);
	b64[0] = 'M';
	b64[n + 4] = '\0'; /* one more group: 4101 bytes */
	assert_true((size_t)snprintf(doc, sizeof(doc),
	    "{\"share_id\":\"s\",\"app_id\":\"b\",\"certificate\":\"%s\"}", b64) < sizeof(doc));
	assert_int_equal(push_parse("certificate", doc, &c, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "field certificate exceeds 4096 bytes");
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
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
