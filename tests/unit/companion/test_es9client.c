/*
 * test_es9client.c — the companion's ES9+ request builders and response
 * parsers (src/companion/es9client.h): exact request JSON, status checks,
 * rejection of missing / malformed fields, the LPA's serverSigned1 checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../md_fixture.h"
#include "companion/es9client.h"
#include "lib/json.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"

static json_t *
parse(const char *s)
{
	json_t *j = NULL;
	assert_int_equal(ts_json_parse(s, strlen(s), &j, NULL, 0), 0);
	return j;
}

/* Sorted compact dump, so tests compare exact bytes. */
static void
assert_json(const json_t *j, const char *want)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static char *
b64(const uint8_t *buf, size_t len)
{
	char *s = NULL;
	assert_int_equal(ts_b64_encode(buf, len, &s), 0);
	return s;
}

static const uint8_t CHAL[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
#define CHAL_B64 "AAECAwQFBgcICQoLDA0ODw=="
#define TID_HEX "00112233445566778899aabbccddeeff"
static const uint8_t TID[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
	0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

/* ---- es9_check_status ---------------------------------------------------- */

static void
test_status_success(void **state)
{
	(void)state;
	char err[256] = "x";
	json_t *j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
	    "\"transactionId\":\"00\"}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), 0);
	/* Success claimed with an error status is not success. */
	assert_int_equal(es9_check_status(500, j, 0, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "HTTP 500 with status Executed-Success");
	json_decref(j);
}

static void
test_status_failed_with_code_data(void **state)
{
	(void)state;
	char err[256];
	json_t *j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
	    "\"statusCodeData\":{\"subjectCode\":\"8.2.6\",\"reasonCode\":\"3.8\","
	    "\"message\":\"matchingId refused\"}}}}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EDENIED);
	assert_string_equal(err, "Failed: subjectCode 8.2.6 reasonCode 3.8: matchingId refused");
	/* Also when the node uses an HTTP error status with the same body. */
	assert_int_equal(es9_check_status(403, j, 0, err, sizeof(err)), TS_EDENIED);
	json_decref(j);

	j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\"}}}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EDENIED);
	assert_string_equal(err, "Failed (no statusCodeData)");
	json_decref(j);

	/* Control characters from the peer do not reach our logs. */
	j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
	    "\"statusCodeData\":{\"subjectCode\":\"8.1\",\"reasonCode\":\"1.2\","
	    "\"message\":\"bad\\nline\"}}}}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EDENIED);
	assert_string_equal(err, "Failed: subjectCode 8.1 reasonCode 1.2: bad?line");
	json_decref(j);
}

static void
test_status_node_error_body(void **state)
{
	(void)state;
	char err[256];
	json_t *j = parse("{\"error\":{\"code\":\"unknown_transaction\",\"message\":\"no such session\"}}");
	assert_int_equal(es9_check_status(404, j, 0, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "HTTP 404 unknown_transaction: no such session");
	/* Even with allow_empty an explicit error is an error. */
	assert_int_equal(es9_check_status(404, j, 1, err, sizeof(err)), TS_EPROTO);
	json_decref(j);
}

static void
test_status_malformed(void **state)
{
	(void)state;
	char err[256];
	json_t *j = parse("{\"transactionId\":\"00\"}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "HTTP 200: response lacks header.functionExecutionStatus.status");
	json_decref(j);

	j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Maybe\"}}}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "unknown functionExecutionStatus.status \"Maybe\"");
	json_decref(j);

	j = parse("{\"header\":{\"functionExecutionStatus\":\"Executed-Success\"}}");
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EPROTO);
	json_decref(j);
}

static void
test_status_empty_body(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(es9_check_status(204, NULL, 1, err, sizeof(err)), 0);
	assert_int_equal(es9_check_status(204, NULL, 0, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "HTTP 204 with an empty body (a JSON response was expected)");
	assert_int_equal(es9_check_status(500, NULL, 1, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "HTTP 500 with an empty body");
	/* handleNotification answered with 200 {} is accepted too. */
	json_t *j = parse("{}");
	assert_int_equal(es9_check_status(200, j, 1, err, sizeof(err)), 0);
	assert_int_equal(es9_check_status(200, j, 0, err, sizeof(err)), TS_EPROTO);
	json_decref(j);
}

/* ---- initiateAuthentication ---------------------------------------------- */

static void
test_initiate_auth_request(void **state)
{
	(void)state;
	json_t *j = NULL;
	static const uint8_t info1[] = { 0xBF, 0x20, 0x00 }; /* EUICCInfo1 as the SE gave it (passed on as is) */
	assert_int_equal(es9_initiate_auth_request(CHAL, info1, sizeof(info1), "127.0.0.1:8443", "MID-1", &j), 0);
	assert_json(j, "{\"euiccChallenge\":\"" CHAL_B64 "\",\"euiccInfo1\":\"vyAA\",\"matchingId\":\"MID-1\","
	    "\"smdpAddress\":\"127.0.0.1:8443\"}");
	json_decref(j);
	/* a standard LPA: no matchingId member (it goes in ctxParams1) */
	assert_int_equal(es9_initiate_auth_request(CHAL, info1, sizeof(info1), "127.0.0.1:8443", NULL, &j), 0);
	assert_json(j, "{\"euiccChallenge\":\"" CHAL_B64 "\",\"euiccInfo1\":\"vyAA\",\"smdpAddress\":\"127.0.0.1:8443\"}");
	json_decref(j);

	j = (json_t *)1;
	assert_int_equal(es9_initiate_auth_request(CHAL, info1, sizeof(info1), "127.0.0.1:8443", "", &j), TS_EINVAL);
	assert_null(j);
	assert_int_equal(es9_initiate_auth_request(CHAL, info1, sizeof(info1), NULL, "m", &j), TS_EINVAL);
	assert_int_equal(es9_initiate_auth_request(CHAL, NULL, 0, "127.0.0.1:8443", "m", &j), TS_EINVAL);
	char longaddr[RSP_STR_MAX + 2];
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	assert_int_equal(es9_initiate_auth_request(CHAL, info1, sizeof(info1), longaddr, "m", &j), TS_EINVAL);
}

static json_t *
auth1_response(const char *tid, const uint8_t *s1, size_t s1len, size_t siglen,
    const char *omit)
{
	/* serverSignature1 as ES9+ carries it: the 5F37 data object (siglen
	 * bytes of r||s, 0x00 0x01 ...). */
	uint8_t sig[3 + 80], cert[5] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	sig[0] = 0x5F;
	sig[1] = 0x37;
	sig[2] = (uint8_t)siglen;
	for (size_t i = 0; i < 80; i++)
		sig[3 + i] = (uint8_t)i;
	siglen += 3;
	json_t *j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}}");
	if (omit == NULL || strcmp(omit, "transactionId") != 0)
		json_object_set_new(j, "transactionId", json_string(tid));
	if (omit == NULL || strcmp(omit, "serverSigned1") != 0)
		assert_int_equal(ts_json_set_b64(j, "serverSigned1", s1, s1len), 0);
	if (omit == NULL || strcmp(omit, "serverSignature1") != 0)
		assert_int_equal(ts_json_set_b64(j, "serverSignature1", sig, siglen), 0);
	if (omit == NULL || strcmp(omit, "serverCertificate") != 0)
		assert_int_equal(ts_json_set_b64(j, "serverCertificate", cert, sizeof(cert)), 0);
	return j;
}

static void
encode_s1(const uint8_t tid[16], const uint8_t chal[16], const char *addr, uint8_t **out,
    size_t *len)
{
	es10_server_signed1 s;
	memset(&s, 0, sizeof(s));
	memcpy(s.tid, tid, 16);
	s.tid_len = 16;
	memcpy(s.euicc_challenge, chal, 16);
	snprintf(s.server_address, sizeof(s.server_address), "%s", addr);
	memset(s.server_challenge, 0x5a, 16);
	assert_int_equal(es10_server_signed1_encode(&s, out, len), 0);
}

static void
test_initiate_auth_parse_ok(void **state)
{
	(void)state;
	uint8_t *s1 = NULL;
	size_t s1len = 0;
	char err[256] = "";
	encode_s1(TID, CHAL, "127.0.0.1:8443", &s1, &s1len);
	json_t *j = auth1_response(TID_HEX, s1, s1len, 64, NULL);
	es9_auth1 a;
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), 0);
	assert_string_equal(a.transaction_id, TID_HEX);
	assert_int_equal(a.server_signed1_len, s1len);
	assert_memory_equal(a.server_signed1, s1, s1len);
	assert_int_equal(a.server_signature1[0], 0);
	assert_int_equal(a.server_signature1[63], 63);
	assert_int_equal(a.server_cert_len, 5);
	assert_int_equal(a.server_cert[0], 0x30);

	/* The LPA's own checks on serverSigned1. */
	assert_int_equal(es9_check_server_signed1(&a, CHAL, "127.0.0.1:8443", err, sizeof(err)), 0);
	uint8_t other[16];
	memcpy(other, CHAL, 16);
	other[15] ^= 1;
	assert_int_equal(es9_check_server_signed1(&a, other, "127.0.0.1:8443", err, sizeof(err)),
	    TS_EVERIFY);
	assert_string_equal(err, "serverSigned1 does not echo our euiccChallenge");
	assert_int_equal(es9_check_server_signed1(&a, CHAL, "evil:8443", err, sizeof(err)),
	    TS_EVERIFY);
	assert_string_equal(err,
	    "serverSigned1 names server address \"127.0.0.1:8443\", expected \"evil:8443\"");
	es9_auth1_clear(&a);
	assert_null(a.server_signed1);
	json_decref(j);

	/* The signed transactionId must be the one the JSON names. */
	j = auth1_response("ffeeddccbbaa99887766554433221100", s1, s1len, 64, NULL);
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), 0);
	assert_int_equal(es9_check_server_signed1(&a, CHAL, "127.0.0.1:8443", err, sizeof(err)),
	    TS_EVERIFY);
	es9_auth1_clear(&a);
	json_decref(j);

	/* serverSigned1 that is not the structure at all. */
	static const uint8_t junk[] = { 0x04, 0x02, 0xde, 0xad };
	j = auth1_response(TID_HEX, junk, sizeof(junk), 64, NULL);
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), 0);
	assert_int_equal(es9_check_server_signed1(&a, CHAL, "127.0.0.1:8443", err, sizeof(err)),
	    TS_EPARSE);
	es9_auth1_clear(&a);
	json_decref(j);
	free(s1);
}

static void
test_initiate_auth_parse_rejects(void **state)
{
	(void)state;
	static const uint8_t s1[] = { 0x30, 0x00 };
	char err[256];
	es9_auth1 a;
	static const struct {
		const char *omit;
		const char *msg;
	} cases[] = {
		{ "transactionId", "response field transactionId is missing" },
		{ "serverSigned1", "response field serverSigned1 is missing" },
		{ "serverSignature1", "response field serverSignature1 is missing" },
		{ "serverCertificate", "response field serverCertificate is missing" },
	};
	for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
		json_t *j = auth1_response(TID_HEX, s1, sizeof(s1), 64, cases[i].omit);
		err[0] = '\0';
		assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), TS_EPROTO);
		assert_string_equal(err, cases[i].msg);
		/* Nothing left allocated after a failure. */
		assert_null(a.server_signed1);
		assert_null(a.server_cert);
		json_decref(j);
	}

	json_t *j = auth1_response(TID_HEX, s1, sizeof(s1), 63, NULL);
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err,
	    "response field serverSignature1 is not a 5F37 signature data object (64 bytes r||s)");
	json_decref(j);

	static const char *bad_tids[] = { "abc", "zz112233445566778899aabbccddeeff", "" };
	for (size_t i = 0; i < TS_ARRAY_LEN(bad_tids); i++) {
		j = auth1_response(bad_tids[i], s1, sizeof(s1), 64, NULL);
		assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), TS_EPROTO);
		assert_string_equal(err, "response field transactionId is not 2..64 hex digits");
		json_decref(j);
	}

	j = auth1_response(TID_HEX, s1, sizeof(s1), 64, NULL);
	json_object_set_new(j, "serverCertificate", json_string("not*base64"));
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "response field serverCertificate is not valid base64");
	assert_null(a.server_signed1);
	json_object_set_new(j, "serverCertificate", json_integer(5));
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), TS_EPROTO);
	json_object_set_new(j, "serverCertificate", json_string(""));
	assert_int_equal(es9_initiate_auth_parse(j, &a, err, sizeof(err)), TS_EPROTO);
	json_decref(j);
}

/* ---- authenticateClient --------------------------------------------------- */

static void
test_authenticate_client_request(void **state)
{
	(void)state;
	static const uint8_t bf38[] = { 0xbf, 0x38, 0x03, 0x02, 0x01, 0x07 };
	json_t *j = NULL;
	assert_int_equal(es9_authenticate_client_request(TID_HEX, bf38, sizeof(bf38), &j), 0);
	char *want = b64(bf38, sizeof(bf38));
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"authenticateServerResponse\":\"%s\",\"transactionId\":\""
	    TID_HEX "\"}", want);
	assert_json(j, buf);
	assert_string_equal(want, "vzgDAgEH");
	free(want);
	json_decref(j);
	assert_int_equal(es9_authenticate_client_request("", bf38, sizeof(bf38), &j), TS_EINVAL);
	assert_int_equal(es9_authenticate_client_request(TID_HEX, bf38, 0, &j), TS_EINVAL);
}

static json_t *
auth2_response(int with_meta, const char *omit)
{
	uint8_t sig[3 + 64], s2[4] = { 0x30, 0x02, 0x80, 0x00 }, cert[2] = { 0x30, 0x00 };
	memset(sig, 0x11, sizeof(sig));
	sig[0] = 0x5F; /* the 5F37 data object */
	sig[1] = 0x37;
	sig[2] = 64;
	json_t *j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}}");
	if (with_meta) {
		rsp_metadata m;
		memset(&m, 0, sizeof(m));
		snprintf(m.app_id, sizeof(m.app_id), "%s", "sim-watch-1");
		snprintf(m.name, sizeof(m.name), "%s", "Watch line");
		snprintf(m.kind, sizeof(m.kind), "%s", "sim");
		snprintf(m.provider, sizeof(m.provider), "%s", "acme");
		m.not_after = 1900000000;
		uint8_t *mb = NULL;
		size_t ml = 0;
		assert_int_equal(md_fixture_iccid(&m, "89049032123451234512345678901235"), 0);
		assert_int_equal(rsp_metadata_encode(&m, &mb, &ml), 0);
		assert_int_equal(ts_json_set_b64(j, "profileMetadata", mb, ml), 0);
		free(mb);
	}
	if (omit == NULL || strcmp(omit, "smdpSigned2") != 0)
		assert_int_equal(ts_json_set_b64(j, "smdpSigned2", s2, sizeof(s2)), 0);
	if (omit == NULL || strcmp(omit, "smdpSignature2") != 0)
		assert_int_equal(ts_json_set_b64(j, "smdpSignature2", sig, sizeof(sig)), 0);
	if (omit == NULL || strcmp(omit, "smdpCertificate") != 0)
		assert_int_equal(ts_json_set_b64(j, "smdpCertificate", cert, sizeof(cert)), 0);
	return j;
}

static void
test_authenticate_client_parse(void **state)
{
	(void)state;
	char err[256];
	es9_auth2 a;

	json_t *j = auth2_response(1, NULL);
	assert_int_equal(es9_authenticate_client_parse(j, &a, err, sizeof(err)), 0);
	assert_int_equal(a.has_metadata, 1);
	assert_string_equal(a.metadata.app_id, "sim-watch-1");
	assert_string_equal(a.metadata.kind, "sim");
	assert_int_equal(a.metadata.not_after, 1900000000);
	assert_int_equal(a.smdp_signed2_len, 4);
	assert_int_equal(a.smdp_signed2[0], 0x30);
	assert_int_equal(a.smdp_signature2[63], 0x11);
	assert_int_equal(a.smdp_cert_len, 2);
	es9_auth2_clear(&a);
	json_decref(j);

	/* profileMetadata is optional ... */
	j = auth2_response(0, NULL);
	assert_int_equal(es9_authenticate_client_parse(j, &a, err, sizeof(err)), 0);
	assert_int_equal(a.has_metadata, 0);
	es9_auth2_clear(&a);
	/* ... but must decode when present. */
	static const uint8_t notmeta[] = { 0x04, 0x01, 0x00 };
	assert_int_equal(ts_json_set_b64(j, "profileMetadata", notmeta, sizeof(notmeta)), 0);
	assert_int_equal(es9_authenticate_client_parse(j, &a, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "response field profileMetadata does not decode");
	json_decref(j);

	static const char *req[] = { "smdpSigned2", "smdpSignature2", "smdpCertificate" };
	for (size_t i = 0; i < TS_ARRAY_LEN(req); i++) {
		j = auth2_response(1, req[i]);
		assert_int_equal(es9_authenticate_client_parse(j, &a, err, sizeof(err)), TS_EPROTO);
		char want[128];
		snprintf(want, sizeof(want), "response field %s is missing", req[i]);
		assert_string_equal(err, want);
		assert_null(a.smdp_signed2);
		assert_int_equal(a.has_metadata, 0);
		json_decref(j);
	}
}

/* ---- getBoundProfilePackage, handleNotification, cancelSession ------------ */

static void
test_get_bpp(void **state)
{
	(void)state;
	static const uint8_t bf21[] = { 0xbf, 0x21, 0x00 };
	json_t *j = NULL;
	assert_int_equal(es9_get_bpp_request(TID_HEX, bf21, sizeof(bf21), &j), 0);
	assert_json(j, "{\"prepareDownloadResponse\":\"vyEA\",\"transactionId\":\"" TID_HEX "\"}");
	json_decref(j);

	char err[256];
	uint8_t *bpp = NULL;
	size_t len = 0;
	j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
	    "\"boundProfilePackage\":\"vzYA\"}");
	assert_int_equal(es9_get_bpp_parse(j, &bpp, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 3);
	assert_int_equal(bpp[0], 0xbf);
	assert_int_equal(bpp[1], 0x36);
	free(bpp);
	json_decref(j);

	j = parse("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}}");
	assert_int_equal(es9_get_bpp_parse(j, &bpp, &len, err, sizeof(err)), TS_EPROTO);
	assert_string_equal(err, "response field boundProfilePackage is missing");
	assert_null(bpp);
	json_decref(j);
}

static void
test_notification_and_cancel(void **state)
{
	(void)state;
	static const uint8_t notif[] = { 0xbf, 0x2f, 0x00 };
	json_t *j = NULL;
	assert_int_equal(es9_handle_notification_request(notif, sizeof(notif), &j), 0);
	assert_json(j, "{\"pendingNotification\":\"vy8A\"}");
	json_decref(j);
	assert_int_equal(es9_handle_notification_request(notif, 0, &j), TS_EINVAL);
	assert_null(j);

	/* the eUICC's CancelSessionResponse goes as is (here its error form) */
	static const uint8_t csr[] = { 0xBF, 0x41, 0x03, 0x81, 0x01, 0x05 };
	assert_int_equal(es9_cancel_session_request(TID_HEX, csr, sizeof(csr), &j), 0);
	assert_json(j, "{\"cancelSessionResponse\":\"v0EDgQEF\",\"transactionId\":\"" TID_HEX "\"}");
	json_decref(j);
	assert_int_equal(es9_cancel_session_request(NULL, csr, sizeof(csr), &j), TS_EINVAL);
	assert_int_equal(es9_cancel_session_request(TID_HEX, csr, 0, &j), TS_EINVAL);
}

static void
test_url(void **state)
{
	(void)state;
	char url[128];
	assert_int_equal(es9_url("https://127.0.0.1:8443", "initiateAuthentication", url,
	    sizeof(url)), 0);
	assert_string_equal(url, "https://127.0.0.1:8443/gsma/rsp2/es9plus/initiateAuthentication");
	assert_int_equal(es9_url("https://h:1//", "cancelSession", url, sizeof(url)), 0);
	assert_string_equal(url, "https://h:1/gsma/rsp2/es9plus/cancelSession");
	assert_int_equal(es9_url("https://h:1", "cancelSession", url, 20), TS_ELIMIT);
	assert_int_equal(es9_url("", "cancelSession", url, sizeof(url)), TS_EINVAL);
}

/* The base URL an LPA dials for the smdpAddress it was given (§5.6.1):
 * https:// added to a bare address, an https URL kept, nothing else. */
static void
test_server_base(void **state)
{
	(void)state;
	char b[64];
	assert_int_equal(es9_server_base("smdp.example.org", b, sizeof(b)), 0);
	assert_string_equal(b, "https://smdp.example.org");
	assert_int_equal(es9_server_base("127.0.0.1:37375", b, sizeof(b)), 0);
	assert_string_equal(b, "https://127.0.0.1:37375");
	assert_int_equal(es9_server_base("https://127.0.0.1:37375", b, sizeof(b)), 0);
	assert_string_equal(b, "https://127.0.0.1:37375");
	assert_int_equal(es9_server_base("HTTPS://Node.example.org/", b, sizeof(b)), 0);
	assert_string_equal(b, "HTTPS://Node.example.org/");
	assert_int_equal(es9_server_base("http://127.0.0.1:1", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("file:///etc/passwd", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("https://", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("evil@127.0.0.1", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("h.example.org/x?y", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("h.example.org#f", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("h example.org", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("h.example.org\n", b, sizeof(b)), TS_EINVAL);
	assert_int_equal(es9_server_base("a-rather-long-host-name.example.org:8443", b, 20), TS_ELIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_success),
		cmocka_unit_test(test_status_failed_with_code_data),
		cmocka_unit_test(test_status_node_error_body),
		cmocka_unit_test(test_status_malformed),
		cmocka_unit_test(test_status_empty_body),
		cmocka_unit_test(test_initiate_auth_request),
		cmocka_unit_test(test_initiate_auth_parse_ok),
		cmocka_unit_test(test_initiate_auth_parse_rejects),
		cmocka_unit_test(test_authenticate_client_request),
		cmocka_unit_test(test_authenticate_client_parse),
		cmocka_unit_test(test_get_bpp),
		cmocka_unit_test(test_notification_and_cancel),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_server_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
