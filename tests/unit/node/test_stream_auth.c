/*
 * Unit tests for node/stream_auth: the companion's event stream is opened
 * only for a token the claimed EID's secure element earned. Real test PKI,
 * real software SE (inproc), real node signing key; each refusal shown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/pki.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/stream_auth.h"
#include "se/card.h"

#include "../dl_fixture.h"

#define EID1 DL_EID1
#define EID2 DL_EID2
#define ADDR "https://127.0.0.1:8443"

static int
setup(void **state)
{
	(void)state;
	return dl_fixture_setup("/tmp/ts-sauth-XXXXXX", ADDR);
}

static int
teardown(void **state)
{
	(void)state;
	return dl_fixture_teardown();
}

/* One round: the node opens a session for claimed_eid, the SE signs it with
 * matching_id; returns stream_auth_complete's result (token on success). */
static int
round_trip(se_driver *se, const char *claimed_eid, const char *matching_id, char tid[33], char token[65],
    download_why *why)
{
	uint8_t chal[16], *s1 = NULL, sig1[64], *bf38 = NULL;
	size_t s1_len = 0, bf38_len = 0;
	assert_int_equal(se_get_challenge(se, chal), 0);
	int rc = stream_auth_initiate(&d, st, "127.0.0.1", claimed_eid, chal, tid, &s1, &s1_len, sig1, why);
	if (rc != 0)
		return rc;
	assert_int_equal(se_authenticate_server(se, s1, s1_len, sig1, auth_der, auth_der_len, matching_id, &bf38,
	    &bf38_len), 0);
	rc = stream_auth_complete(&d, st, tid, bf38, bf38_len, token, why);
	free(s1);
	free(bf38);
	return rc;
}

static void
test_token_for_the_se_that_proved_it(void **state)
{
	(void)state;
	char tid[33], token[65];
	download_why why;
	assert_int_equal(round_trip(se1, EID1, STREAM_AUTH_MATCHING_ID, tid, token, &why), 0);
	assert_int_equal(strlen(token), 64);
	assert_int_equal(stream_auth_check(st, EID1, token), 0);
	/* bound to its EID */
	assert_int_equal(stream_auth_check(st, EID2, token), TS_EAUTH);
	/* a session is used once */
	uint8_t junk[4] = { 0 };
	assert_int_equal(stream_auth_complete(&d, st, tid, junk, sizeof(junk), token, &why), TS_ESTATE);
	assert_int_equal(stream_auth_check(st, EID1, "00"), TS_EAUTH);
	assert_int_equal(stream_auth_check(st, EID1, NULL), TS_EAUTH);
}

/* Whoever claims an EID without its SE gets nothing: another genuine SE
 * (EID2) answering a session opened for EID1 is refused. */
static void
test_other_se_refused(void **state)
{
	(void)state;
	char tid[33], token[65] = "";
	download_why why;
	assert_int_equal(round_trip(se2, EID1, STREAM_AUTH_MATCHING_ID, tid, token, &why), TS_EVERIFY);
	assert_non_null(strstr(why.msg, EID2));
	assert_string_equal(token, "");
}

/* A signature made for something else (a download's matchingId) is not a
 * stream proof. */
static void
test_other_matching_id_refused(void **state)
{
	(void)state;
	char tid[33], token[65] = "";
	download_why why;
	assert_int_equal(round_trip(se1, EID1, "MATCHING-OF-A-SHARE", tid, token, &why), TS_EVERIFY);
	assert_non_null(strstr(why.msg, "does not match this session"));
}

/* The answer must be signed by the eUICC key: a flipped signature byte. */
static void
test_bad_signature_refused(void **state)
{
	(void)state;
	uint8_t chal[16], *s1 = NULL, sig1[64], *bf38 = NULL;
	size_t s1_len = 0, bf38_len = 0;
	char tid[33], token[65];
	download_why why;
	assert_int_equal(se_get_challenge(se1, chal), 0);
	assert_int_equal(stream_auth_initiate(&d, st, "127.0.0.1", EID1, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_int_equal(se_authenticate_server(se1, s1, s1_len, sig1, auth_der, auth_der_len, STREAM_AUTH_MATCHING_ID,
	    &bf38, &bf38_len), 0);
	es10_auth_server_resp a;
	assert_int_equal(es10_auth_server_resp_decode(bf38, bf38_len, &a, NULL), 0);
	/* find euiccSignature1 in the response and flip a bit of it */
	uint8_t *hit = NULL;
	for (size_t i = 0; i + 64 <= bf38_len; i++)
		if (memcmp(bf38 + i, a.euicc_signature1, 64) == 0)
			hit = bf38 + i;
	assert_non_null(hit);
	hit[10] ^= 1;
	assert_int_equal(stream_auth_complete(&d, st, tid, bf38, bf38_len, token, &why), TS_EVERIFY);
	assert_non_null(strstr(why.msg, "euiccSignature1"));
	free(s1);
	free(bf38);
}

static void
test_claimed_eid_checked(void **state)
{
	(void)state;
	uint8_t chal[16] = { 0 }, *s1 = NULL, sig1[64];
	size_t s1_len = 0;
	char tid[33];
	download_why why;
	assert_int_equal(stream_auth_initiate(&d, st, "p", "89049032123451234512345678901234", chal, tid, &s1, &s1_len,
	    sig1, &why), TS_EINVAL);
	assert_int_equal(stream_auth_initiate(&d, st, "p", "89001012012341234012345678901224", chal, tid, &s1, &s1_len,
	    sig1, &why), TS_EDENIED);
	assert_int_equal(stream_auth_initiate(&d, st, "p", NULL, chal, tid, &s1, &s1_len, sig1, &why), TS_EINVAL);
	assert_null(s1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_for_the_se_that_proved_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_se_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_matching_id_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_signature_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claimed_eid_checked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
