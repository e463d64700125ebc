/*
 * Unit tests for node/smds (ES11): a standard LPA's eUICC authenticates to
 * the node's SM-DS and gets its event entries. Real test PKI, real software
 * SE (inproc) answering AuthenticateServer, real DPauth key; each refusal
 * shown.
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
#include "lib/es10dl.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/smds.h"
#include "se/card.h"

#include "../dl_fixture.h"

#define EID1 DL_EID1
#define EID2 DL_EID2
#define ADDR "127.0.0.1:8443" /* bare, as api_es11.c gives it (SGP.22 serverAddress) */

static X509 *ci_b; /* another PKI's CI */

static int
setup(void **state)
{
	(void)state;
	char p[200], pkib[128];
	if (dl_fixture_setup("/tmp/ts-smds-XXXXXX", ADDR) != 0)
		return -1;
	snprintf(pkib, sizeof(pkib), "%s/pki-b", dir);
	const char *eids[] = { EID1 };
	if (pki_testpki_generate(pkib, DL_EIN, eids, 1) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/ci.crt", pkib);
	return pki_cert_load(p, &ci_b) != 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(ci_b);
	return dl_fixture_teardown();
}

/* One ES11 round as a standard LPA drives it: initiateAuthentication, the
 * eUICC's AuthenticateServer (no matchingId), authenticateClient. */
static int
discover(se_driver *se, char eid[33], char ids[4][STORE_ID_MAX], size_t *n, download_why *why)
{
	uint8_t chal[16], *s1 = NULL, sig1[64], *bf38 = NULL;
	size_t s1_len = 0, bf38_len = 0;
	char tid[33];
	assert_int_equal(se_get_challenge(se, chal), 0);
	int rc = smds_initiate(&d, st, "127.0.0.1", "127.0.0.1:8443", chal, tid, &s1, &s1_len, sig1, why);
	if (rc != 0)
		return rc;
	assert_int_equal(se_authenticate_server(se, s1, s1_len, sig1, auth_der, auth_der_len, NULL, &bf38,
	    &bf38_len), 0);
	rc = smds_authenticate(&d, st, tid, bf38, bf38_len, eid, ids, 4, n, why);
	/* the session is used up: a second attempt with the same answer fails */
	char e2[33], ids2[4][STORE_ID_MAX];
	size_t n2;
	download_why w2;
	assert_int_equal(smds_authenticate(&d, st, tid, bf38, bf38_len, e2, ids2, 4, &n2, &w2), TS_ESTATE);
	free(s1);
	free(bf38);
	return rc;
}

/* The same discovery on the ES9+ path (lpac, deployed SM-DSs): a session
 * ES9+ initiateAuthentication opened without a matchingId, an eUICC-signed
 * ctxParams1 without one either. */
static void
test_discovery_on_the_es9_path(void **state)
{
	(void)state;
	uint8_t chal[16], *s1 = NULL, sig1[64], *bf38 = NULL;
	size_t s1_len = 0, bf38_len = 0, n = 9;
	char tid[33], eid[33], ids[4][STORE_ID_MAX];
	download_why why;
	assert_int_equal(st->ops->smds_event_put(st, "share-1", EID1, "MID-1", 1), 0);
	assert_int_equal(se_get_challenge(se1, chal), 0);
	d.peer = "127.0.0.1";
	assert_int_equal(download_initiate(&d, st, NULL, d.address, NULL, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_true(download_tx_unbound(st, tid));
	assert_int_equal(se_authenticate_server(se1, s1, s1_len, sig1, auth_der, auth_der_len, NULL, &bf38,
	    &bf38_len), 0);
	assert_true(smds_discovery_request(bf38, bf38_len));
	/* not for ES11's own sessions, nor the other way round */
	assert_int_equal(smds_authenticate(&d, st, tid, bf38, bf38_len, eid, ids, 4, &n, &why), TS_ENOTFOUND);
	assert_int_equal(smds_authenticate_es9(&d, st, tid, bf38, bf38_len, eid, ids, 4, &n, &why), 0);
	assert_string_equal(eid, EID1);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "MID-1");
	/* the session is used up */
	assert_false(download_tx_unbound(st, tid));
	assert_int_equal(smds_authenticate_es9(&d, st, tid, bf38, bf38_len, eid, ids, 4, &n, &why), TS_ESTATE);
	free(s1);
	free(bf38);
	/* an answer naming a matchingId is a download, not a discovery */
	assert_int_equal(se_get_challenge(se1, chal), 0);
	assert_int_equal(download_initiate(&d, st, NULL, d.address, NULL, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_int_equal(se_authenticate_server(se1, s1, s1_len, sig1, auth_der, auth_der_len, "MID-1", &bf38,
	    &bf38_len), 0);
	assert_false(smds_discovery_request(bf38, bf38_len));
	free(s1);
	free(bf38);
	d.peer = NULL;
}

static void
test_events_of_the_authenticated_euicc(void **state)
{
	(void)state;
	char eid[33], ids[4][STORE_ID_MAX];
	size_t n = 9;
	download_why why;
	assert_int_equal(discover(se1, eid, ids, &n, &why), 0);
	assert_string_equal(eid, EID1);
	assert_int_equal(n, 0);
	assert_int_equal(st->ops->smds_event_put(st, "share-1", EID1, "MID-1", 1), 0);
	assert_int_equal(st->ops->smds_event_put(st, "share-2", EID2, "MID-2", 2), 0);
	assert_int_equal(discover(se1, eid, ids, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "MID-1");
	/* the other eUICC sees its own only */
	assert_int_equal(discover(se2, eid, ids, &n, &why), 0);
	assert_string_equal(eid, EID2);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "MID-2");
	/* after the share ends: nothing */
	assert_int_equal(st->ops->smds_event_del(st, "share-1"), 0);
	assert_int_equal(discover(se1, eid, ids, &n, &why), 0);
	assert_int_equal(n, 0);
}

/* What a discovery test starts from: EID1's event for share-1 (MID-1), and
 * the answer's places (n preset to 9: an answer must set it). */
struct disc {
	char eid[33], ids[4][STORE_ID_MAX], tid[33];
	size_t n;
	download_why why;
};

static void
disc_begin(struct disc *t)
{
	memset(t, 0, sizeof(*t));
	t->n = 9;
	assert_int_equal(st->ops->smds_event_put(st, "share-1", EID1, "MID-1", 1), 0);
}

/* A store that gives no answer (store.c's fault hook: the named reads time
 * out) is no verdict -- never "no events", never "not a discovery session":
 * Busy. */
static void
test_busy_store(void **state)
{
	(void)state;
	struct disc t;
	disc_begin(&t);
	const struct store_ops *real = st->ops;
	assert_int_equal(store_fault_busy(st, "smds_events"), 0);
	int rc = discover(se1, t.eid, t.ids, &t.n, &t.why);
	st->ops = real;
	assert_int_equal(rc, TS_ETIMEOUT);
	assert_int_equal(t.why.status, ES9_BUSY);
	assert_int_equal(t.n, 0);
	/* the ES9+ path asks whether a session is an unbound (discovery) one */
	uint8_t chal[16], *s1 = NULL, sig1[64];
	size_t s1_len = 0;
	assert_int_equal(se_get_challenge(se1, chal), 0);
	d.peer = "127.0.0.1";
	assert_int_equal(download_initiate(&d, st, NULL, d.address, NULL, chal, t.tid, &s1, &s1_len, sig1, &t.why), 0);
	d.peer = NULL;
	free(s1);
	assert_int_equal(download_tx_unbound(st, t.tid), 1);
	assert_int_equal(store_fault_busy(st, "tx_get"), 0);
	rc = download_tx_unbound(st, t.tid);
	st->ops = real;
	assert_true(rc < 0);
	assert_int_equal(download_tx_unbound(st, "00112233445566778899aabbccddeeff"), 0);
}

static void
test_refusals(void **state)
{
	(void)state;
	struct disc t;
	disc_begin(&t);
	/* an eUICC whose chain does not reach the node's CI (the node trusts
	 * another PKI's CI) */
	d.ci = ci_b;
	int rc = discover(se1, t.eid, t.ids, &t.n, &t.why);
	d.ci = ci;
	assert_int_equal(rc, TS_EVERIFY);
	/* SGP.22 §5.8.2: the chain's root is not the CI in use: CI Public Key - Unknown */
	assert_string_equal(t.why.subject, "8.11.1");
	assert_string_equal(t.why.reason, "3.9");
	assert_non_null(strstr(t.why.msg, "not issued by the CI"));
	assert_int_equal(t.n, 0);
	/* another SM-DS address */
	uint8_t chal[16] = { 1 }, *s1 = NULL, sig1[64], *bf38 = NULL;
	size_t s1_len = 0, bf38_len = 0;
	assert_int_equal(smds_initiate(&d, st, "p", "other.example:443", chal, t.tid, &s1, &s1_len, sig1, &t.why),
	    TS_EINVAL);
	assert_string_equal(t.why.subject, "8.9.1"); /* SGP.22 §5.8.1: SM-DS Address - Refused */
	/* unknown transaction */
	assert_int_equal(smds_authenticate(&d, st, "00112233445566778899aabbccddeeff", (const uint8_t *)"x", 1, t.eid,
	    t.ids, 4, &t.n, &t.why), TS_ENOTFOUND);
	/* the eUICC signed another session's challenge: two sessions, answers swapped */
	uint8_t c1[16], c2[16], *sa = NULL, *sb = NULL, ga[64], gb[64];
	size_t la = 0, lb = 0;
	char ta[33], tb[33];
	assert_int_equal(se_get_challenge(se1, c1), 0);
	assert_int_equal(smds_initiate(&d, st, "p", NULL, c1, ta, &sa, &la, ga, &t.why), 0);
	assert_int_equal(se_authenticate_server(se1, sa, la, ga, auth_der, auth_der_len, NULL, &bf38, &bf38_len), 0);
	assert_int_equal(se_get_challenge(se1, c2), 0);
	assert_int_equal(smds_initiate(&d, st, "p", NULL, c2, tb, &sb, &lb, gb, &t.why), 0);
	assert_int_equal(smds_authenticate(&d, st, tb, bf38, bf38_len, t.eid, t.ids, 4, &t.n, &t.why), TS_EVERIFY);
	assert_non_null(strstr(t.why.msg, "does not match this session"));
	assert_int_equal(t.n, 0);
	free(bf38);
	/* a tampered euiccSignature1, in a fresh session */
	bf38 = NULL;
	free(sb);
	sb = NULL;
	assert_int_equal(se_get_challenge(se1, c2), 0);
	assert_int_equal(smds_initiate(&d, st, "p", NULL, c2, tb, &sb, &lb, gb, &t.why), 0);
	assert_int_equal(se_authenticate_server(se1, sb, lb, gb, auth_der, auth_der_len, NULL, &bf38, &bf38_len), 0);
	es10_auth_server_resp a;
	assert_int_equal(es10_auth_server_resp_decode(bf38, bf38_len, &a, NULL), 0);
	uint8_t *sigp = NULL;
	for (size_t i = 0; sigp == NULL && i + 64 <= bf38_len; i++)
		if (memcmp(bf38 + i, a.euicc_signature1, 64) == 0)
			sigp = bf38 + i;
	assert_non_null(sigp);
	sigp[10] ^= 1;
	assert_int_equal(smds_authenticate(&d, st, tb, bf38, bf38_len, t.eid, t.ids, 4, &t.n, &t.why), TS_EVERIFY);
	assert_non_null(strstr(t.why.msg, "euiccSignature1"));
	free(bf38);
	free(sa);
	free(sb);
	free(s1);
	/* the bare address */
	char b[64];
	assert_int_equal(smds_bare_address("https://node.example:8443/", b, sizeof(b)), 0);
	assert_string_equal(b, "node.example:8443");
	assert_int_equal(smds_bare_address("node.example", b, sizeof(b)), 0);
	assert_string_equal(b, "node.example");
	assert_int_equal(smds_bare_address("https:///", b, sizeof(b)), TS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_of_the_authenticated_euicc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_on_the_es9_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
