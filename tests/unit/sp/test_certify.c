/*
 * test_certify.c — tapshare-sp certifyKey: the bank-ID CA made by init, the
 * account linking bankid credentials to the primary's app, certificates
 * (chain, key, subject, validity), refusals, idempotency, and the schema 1
 * -> 2 migration of sp.db.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "lib/eid.h"
#include "lib/json.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "sp/credential.h"
#include "sp/policy.h"
#include "sp/sp.h"
#include "sp/sp_ca.h"
#include "sp/sp_conf.h"
#include "sp/sp_store.h"

#define EID_OK "89049032123451234512345678901235"
#define EID_OTHER "89049032123451234512345678901332"

static char tmpdir[64];
static char spdir[128];
static sp_conf conf;
static sp_ca *ca;
static X509 *ca_root;
static sp_policy *policy;

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ts_spc_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	char pki[128];
	snprintf(pki, sizeof(pki), "%s/pki", tmpdir);
	const char *eids[] = { EID_OK };
	if (pki_testpki_generate(pki, "89049032", eids, 1) != 0)
		return -1;
	snprintf(spdir, sizeof(spdir), "%s/bank", tmpdir);
	char err[256] = "";
	if (sp_conf_init(spdir, pki, "127.0.0.1:0", err, sizeof(err)) != 0 ||
	    sp_conf_load(spdir, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	if (sp_ca_open(conf.ca_cert, conf.ca_key, conf.ca_name, 0, &ca) != 0 ||
	    pki_cert_load(conf.ca_cert, &ca_root) != 0)
		return -1;
	write_text(conf.policy,
	    "[default]\ndecision = approve\nmax_duration_s = 0\nkind = sim\n"
	    "[app.bank1]\nkind = bankid\n"
	    "[app.bank2]\nkind = bankid\nmax_duration_s = 600\n"
	    "[app.sim1]\nkind = sim\n");
	if (sp_policy_load(conf.policy, &policy, err, sizeof(err)) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sp_policy_free(policy);
	X509_free(ca_root);
	sp_ca_free(ca);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static sp_store *
open_store(const char *name)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	sp_store *s = NULL;
	assert_int_equal(sp_store_open(path, &s), 0);
	return s;
}

static const char *
exec_status(const json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(resp, "header"),
	    "functionExecutionStatus"), "status"));
}

static const char *
reason_code(const json_t *resp)
{
	const json_t *d = json_object_get(json_object_get(json_object_get(resp, "header"),
	    "functionExecutionStatus"), "statusCodeData");
	assert_string_equal(ts_json_str(d, "subjectCode"), "8.1");
	return ts_json_str(d, "reasonCode");
}

static const char *
status_message(const json_t *resp)
{
	return ts_json_str(json_object_get(json_object_get(json_object_get(resp, "header"),
	    "functionExecutionStatus"), "statusCodeData"), "message");
}

/* confirmOrder through the pure handler; returns the response. */
static json_t *
confirm(sp_store *s, const char *fci, const char *app, int64_t now)
{
	json_t *req = json_pack("{s:{s:s,s:s},s:s,s:s,s:s,s:s}", "header",
	    "functionRequesterIdentifier", "tapshare-node", "functionCallIdentifier", fci, "eid",
	    EID_OK, "appId", app, "userId", "alice", "shareId", "share-1");
	int status = 0;
	json_t *resp = NULL;
	assert_int_equal(sp_confirm_order(policy, s, req, "node", now, &status, &resp), 0);
	assert_int_equal(status, 200);
	assert_string_equal(exec_status(resp), "Executed-Success");
	json_decref(req);
	return resp;
}

static const char *
account_of(const json_t *confirm_resp)
{
	return ts_json_str(json_object_get(confirm_resp, "credential"), "account");
}

static char *
point_b64(EVP_PKEY *key)
{
	uint8_t pt[PKI_PUBKEY_LEN];
	assert_int_equal(pki_pubkey_to_point(key, pt), 0);
	char *b64 = NULL;
	assert_int_equal(ts_b64_encode(pt, sizeof(pt), &b64), 0);
	return b64;
}

static json_t *
certify_req(const char *fci, const char *eid, const char *assoc, const char *pk)
{
	json_t *r = json_pack("{s:{s:s,s:s},s:s,s:s,s:s}", "header",
	    "functionRequesterIdentifier", "tapshare-node", "functionCallIdentifier", fci, "eid",
	    eid, "shareId", "share-1", "associatedAppId", assoc);
	if (pk != NULL)
		json_object_set_new(r, "publicKey", json_string(pk));
	return r;
}

/* certifyKey; takes req. */
static json_t *
certify(sp_store *s, json_t *req, int64_t now, int want_status)
{
	int status = 0;
	json_t *resp = NULL;
	assert_int_equal(sp_certify_key(s, ca, req, "node", now, &status, &resp), 0);
	assert_int_equal(status, want_status);
	assert_non_null(resp);
	json_decref(req);
	return resp;
}

static X509 *
cert_of(const json_t *resp)
{
	uint8_t *der = NULL;
	size_t len = 0;
	assert_int_equal(ts_json_b64(resp, "certificate", &der, &len), 0);
	X509 *c = NULL;
	assert_int_equal(pki_cert_from_der(der, len, &c), 0);
	free(der);
	return c;
}

static void
assert_subject(X509 *c, int nid, const char *want)
{
	char buf[128];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), nid, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf, want);
}

static int64_t
not_after_of(X509 *c)
{
	struct tm tm;
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm), 1);
	return (int64_t)timegm(&tm);
}

/* ---- init, CA ---- */

static void
test_init_ca(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(stat(conf.ca_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(conf.ca_cert, &st), 0);
	assert_string_equal(conf.ca_name, "bank bank-ID CA");
	assert_subject(ca_root, NID_commonName, "bank bank-ID CA");
	assert_int_equal(X509_check_ca(ca_root), 1);
	char err[128];
	assert_int_equal(pki_verify_chain(ca_root, NULL, ca_root, err, sizeof(err)), 0);

	char cn[SP_CA_CN_MAX];
	assert_int_equal(sp_ca_name("/nonexistent/dir/acme-bank//", cn, sizeof(cn)), 0);
	assert_string_equal(cn, "acme-bank bank-ID CA");
	char longdir[200];
	memset(longdir, 'x', 150);
	memcpy(longdir, "/nonexistent/", 13);
	longdir[150] = '\0';
	assert_int_equal(sp_ca_name(longdir, cn, sizeof(cn)), 0);
	assert_int_equal(strlen(cn), SP_CA_CN_MAX - 1);
	assert_non_null(strstr(cn, " bank-ID CA"));

	/* Lazy creation, and refusals of half or mismatched CAs. */
	char crt[160], key[160], crt2[160], key2[160];
	snprintf(crt, sizeof(crt), "%s/lazy-ca.crt", tmpdir);
	snprintf(key, sizeof(key), "%s/lazy-ca.key", tmpdir);
	sp_ca *c = NULL;
	assert_int_equal(sp_ca_open(crt, key, "lazy bank-ID CA", 0, &c), TS_ENOTFOUND);
	assert_null(c);
	assert_int_equal(sp_ca_open(crt, key, "lazy bank-ID CA", 1, &c), 0);
	assert_non_null(c);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	sp_ca_free(c);
	c = NULL;
	assert_int_equal(sp_ca_open(crt, key, NULL, 0, &c), 0); /* loads the same */
	sp_ca_free(c);
	c = NULL;
	assert_int_equal(sp_ca_open(crt, conf.ca_key, NULL, 0, &c), TS_ECONFIG); /* mismatch */
	assert_null(c);
	snprintf(crt2, sizeof(crt2), "%s/half-ca.crt", tmpdir);
	snprintf(key2, sizeof(key2), "%s/half-ca.key", tmpdir);
	write_text(crt2, "x");
	assert_int_equal(sp_ca_open(crt2, key2, "half", 1, &c), TS_ECONFIG);
	assert_int_equal(access(key2, F_OK), -1); /* nothing overwritten or made */
	sp_ca_free(NULL);
}

/* ---- accounts ---- */

static void
test_account_linked(void **state)
{
	(void)state;
	sp_store *s = open_store("accounts.db");
	int64_t now = ts_now();
	json_t *a = confirm(s, "c-1", "bank1", now);
	json_t *b = confirm(s, "c-2", "bank1", now);
	json_t *c = confirm(s, "c-3", "bank2", now);
	json_t *d = confirm(s, "c-4", "sim1", now);
	const char *acc = account_of(a);
	assert_non_null(acc);
	assert_int_equal(strlen(acc), SP_ACCOUNT_DIGITS);
	assert_string_equal(account_of(b), acc); /* same primary app, same account */
	assert_string_not_equal(ts_json_str(a, "associatedAppId"),
	    ts_json_str(b, "associatedAppId"));
	assert_string_not_equal(account_of(c), acc); /* another app, another account */
	assert_null(account_of(d));

	char got[SP_ACCOUNT_MAX];
	assert_int_equal(sp_store_account_get(s, "bank1", got), 0);
	assert_string_equal(got, acc);
	assert_int_equal(sp_store_account_get(s, "sim1", got), TS_ENOTFOUND);
	assert_int_equal(sp_store_account_add(s, "bank9", NULL, acc, now), TS_EEXIST);

	sp_minted m;
	assert_int_equal(sp_store_get_minted(s, ts_json_str(a, "associatedAppId"), &m), 0);
	assert_string_equal(m.kind, "bankid");
	assert_string_equal(m.app_id, "bank1");
	assert_string_equal(m.eid, EID_OK);
	assert_string_equal(m.user_id, "alice");
	assert_string_equal(m.account, acc);
	assert_int_equal(m.not_after, 0);
	assert_int_equal(sp_store_get_minted(s, "bankid-none", &m), TS_ENOTFOUND);

	json_t *list = NULL;
	assert_int_equal(sp_store_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 4);
	assert_string_equal(ts_json_str(json_array_get(list, 0), "account"), acc);
	assert_true(json_is_null(json_object_get(json_array_get(list, 3), "account")));
	json_decref(list);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	sp_store_close(s);
}

/* ---- certifyKey ---- */

static void
test_certify_and_idempotent(void **state)
{
	(void)state;
	sp_store *s = open_store("certify.db");
	int64_t now = ts_now();
	json_t *c1 = confirm(s, "c-1", "bank1", now);
	const char *assoc = ts_json_str(c1, "associatedAppId");
	const char *acc = account_of(c1);

	EVP_PKEY *k1 = NULL, *k2 = NULL;
	assert_int_equal(pki_keygen(&k1), 0);
	assert_int_equal(pki_keygen(&k2), 0);
	char *pk1 = point_b64(k1), *pk2 = point_b64(k2);

	json_t *r1 = certify(s, certify_req("k-1", EID_OK, assoc, pk1), now, 200);
	assert_string_equal(exec_status(r1), "Executed-Success");
	X509 *leaf = cert_of(r1);
	char err[256] = "";
	assert_int_equal(pki_verify_chain(ca_root, NULL, leaf, err, sizeof(err)), 0);
	/* Its key is the request's. */
	uint8_t want[PKI_PUBKEY_LEN], got[PKI_PUBKEY_LEN];
	assert_int_equal(pki_pubkey_to_point(k1, want), 0);
	assert_int_equal(pki_pubkey_to_point(X509_get0_pubkey(leaf), got), 0);
	assert_memory_equal(got, want, PKI_PUBKEY_LEN);
	assert_subject(leaf, NID_commonName, acc);
	assert_subject(leaf, NID_serialNumber, assoc);
	assert_subject(leaf, NID_organizationName, "tapshare bank-ID");
	assert_int_equal(X509_check_ca(leaf), 0);
	assert_true(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN);
	/* Unlimited grant: 825 days. */
	int64_t na = not_after_of(leaf);
	assert_true(na >= now + 825LL * 86400 - 5 && na <= now + 825LL * 86400 + 120);
	/* Not signed by another CA (the node CA of the same PKI). */
	char nca[160];
	snprintf(nca, sizeof(nca), "%s/pki/node-ca.crt", tmpdir);
	X509 *node_ca = NULL;
	assert_int_equal(pki_cert_load(nca, &node_ca), 0);
	assert_int_equal(pki_verify_chain(node_ca, NULL, leaf, NULL, 0), TS_EVERIFY);
	X509_free(node_ca);

	/* Same call id: the recorded answer byte for byte, whatever the body. */
	json_t *r2 = certify(s, certify_req("k-1", EID_OK, assoc, pk2), now, 200);
	char *a = ts_json_dump(r1), *b = ts_json_dump(r2);
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* New call, same app and key: the same certificate. */
	json_t *r3 = certify(s, certify_req("k-2", EID_OK, assoc, pk1), now + 5, 200);
	assert_string_equal(exec_status(r3), "Executed-Success");
	assert_string_equal(ts_json_str(r3, "certificate"), ts_json_str(r1, "certificate"));

	/* Another key for the same app: refused; the first stays. */
	json_t *r4 = certify(s, certify_req("k-3", EID_OK, assoc, pk2), now, 200);
	assert_string_equal(exec_status(r4), "Failed");
	assert_string_equal(reason_code(r4), "3.3");
	assert_null(json_object_get(r4, "certificate"));
	json_t *r5 = certify(s, certify_req("k-4", EID_OK, assoc, pk1), now, 200);
	assert_string_equal(ts_json_str(r5, "certificate"), ts_json_str(r1, "certificate"));

	/* Another bankid credential of the same primary app: the same account,
	 * its own certificate; the second key is fine there. */
	json_t *c2 = confirm(s, "c-2", "bank1", now);
	json_t *r6 = certify(s, certify_req("k-5", EID_OK, ts_json_str(c2, "associatedAppId"),
	    pk2), now, 200);
	X509 *leaf2 = cert_of(r6);
	assert_subject(leaf2, NID_commonName, acc);
	assert_subject(leaf2, NID_serialNumber, ts_json_str(c2, "associatedAppId"));
	assert_int_equal(pki_verify_chain(ca_root, NULL, leaf2, NULL, 0), 0);

	/* A grant with a notAfter: the certificate ends exactly then. */
	json_t *c3 = confirm(s, "c-3", "bank2", now);
	int64_t grant = json_integer_value(json_object_get(c3, "notAfter"));
	assert_int_equal(grant, now + 600);
	json_t *r7 = certify(s, certify_req("k-6", EID_OK, ts_json_str(c3, "associatedAppId"),
	    pk1), now, 200);
	X509 *leaf3 = cert_of(r7);
	assert_int_equal(not_after_of(leaf3), grant);
	assert_int_equal(pki_verify_chain(ca_root, NULL, leaf3, err, sizeof(err)), 0);

	/* The record: functions and decisions as decided; replays add nothing. */
	json_t *list = NULL;
	assert_int_equal(sp_store_list(s, &list), 0);
	static const struct {
		const char *fci, *function, *decision;
	} rows[] = {
		{ "c-1", "confirmOrder", "approved" },
		{ "k-1", "certifyKey", "certified" },
		{ "k-2", "certifyKey", "certified" },
		{ "k-3", "certifyKey", "denied" },
		{ "k-4", "certifyKey", "certified" },
		{ "c-2", "confirmOrder", "approved" },
		{ "k-5", "certifyKey", "certified" },
		{ "c-3", "confirmOrder", "approved" },
		{ "k-6", "certifyKey", "certified" },
	};
	assert_int_equal(json_array_size(list), TS_ARRAY_LEN(rows));
	for (size_t i = 0; i < TS_ARRAY_LEN(rows); i++) {
		json_t *row = json_array_get(list, i);
		assert_string_equal(ts_json_str(row, "functionCallIdentifier"), rows[i].fci);
		assert_string_equal(ts_json_str(row, "function"), rows[i].function);
		assert_string_equal(ts_json_str(row, "decision"), rows[i].decision);
		assert_null(json_object_get(row, "response"));
	}
	json_t *k1row = json_array_get(list, 1);
	assert_string_equal(ts_json_str(k1row, "associatedAppId"), assoc);
	assert_string_equal(ts_json_str(k1row, "account"), acc);
	assert_string_equal(ts_json_str(k1row, "app_id"), "bank1");
	assert_string_equal(ts_json_str(k1row, "kind"), "bankid");
	assert_string_equal(ts_json_str(k1row, "eid"), EID_OK);
	assert_string_equal(ts_json_str(k1row, "peer_id"), "node");
	assert_non_null(strstr(ts_json_str(json_array_get(list, 3), "reason"), "another key"));
	json_decref(list);

	X509_free(leaf);
	X509_free(leaf2);
	X509_free(leaf3);
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	json_decref(r4);
	json_decref(r5);
	json_decref(r6);
	json_decref(r7);
	json_decref(c1);
	json_decref(c2);
	json_decref(c3);
	free(pk1);
	free(pk2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	sp_store_close(s);
}

static void
expect_refusal(sp_store *s, json_t *req, int64_t now, const char *code, const char *text)
{
	json_t *r = certify(s, req, now, 200);
	assert_string_equal(exec_status(r), "Failed");
	assert_string_equal(reason_code(r), code);
	assert_non_null(strstr(status_message(r), text));
	assert_null(json_object_get(r, "certificate"));
	json_decref(r);
}

static void
test_certify_refusals(void **state)
{
	(void)state;
	sp_store *s = open_store("refuse.db");
	int64_t now = ts_now();
	EVP_PKEY *k = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	char *pk = point_b64(k);
	json_t *cb = confirm(s, "c-1", "bank1", now);
	json_t *cs = confirm(s, "c-2", "sim1", now);
	json_t *cc = confirm(s, "c-3", "bank1", now);
	json_t *ce = confirm(s, "c-4", "bank2", now - 1000); /* grant ended at now - 400 */
	const char *assoc = ts_json_str(cb, "associatedAppId");

	expect_refusal(s, certify_req("r-1", EID_OK, "bankid-00000000", pk), now, "3.9",
	    "not minted");
	expect_refusal(s, certify_req("r-2", EID_OK, ts_json_str(cs, "associatedAppId"), pk), now,
	    "3.8", "sim credential");
	expect_refusal(s, certify_req("r-3", EID_OK, assoc, "not base64!"), now, "2.1",
	    "publicKey");
	uint8_t bad[PKI_PUBKEY_LEN] = { 0x04 }; /* (0,0) is not on the curve */
	char *bad64 = NULL;
	assert_int_equal(ts_b64_encode(bad, sizeof(bad), &bad64), 0);
	expect_refusal(s, certify_req("r-4", EID_OK, assoc, bad64), now, "2.1", "publicKey");
	free(bad64);
	uint8_t pt[PKI_PUBKEY_LEN];
	assert_int_equal(pki_pubkey_to_point(k, pt), 0);
	pt[0] = 0x02; /* compressed form, 33 bytes: not what is asked for */
	assert_int_equal(ts_b64_encode(pt, 33, &bad64), 0);
	expect_refusal(s, certify_req("r-5", EID_OK, assoc, bad64), now, "2.1", "publicKey");
	free(bad64);
	expect_refusal(s, certify_req("r-6", EID_OTHER, assoc, pk), now, "3.10", "companion");
	expect_refusal(s, certify_req("r-7", "89049032123451234512345678901234", assoc, pk), now,
	    "2.1", "EID");

	/* Cancelled (cancelOrder seen). */
	const char *cancelled = ts_json_str(cc, "associatedAppId");
	json_t *creq = json_pack("{s:{s:s},s:s,s:s}", "header", "functionCallIdentifier", "x-1",
	    "eid", EID_OK, "associatedAppId", cancelled);
	int status = 0;
	json_t *cresp = NULL;
	assert_int_equal(sp_cancel_order(s, creq, "node", now, &status, &cresp), 0);
	json_decref(creq);
	json_decref(cresp);
	expect_refusal(s, certify_req("r-8", EID_OK, cancelled, pk), now, "3.7", "cancelled");
	/* Grant expired. */
	expect_refusal(s, certify_req("r-9", EID_OK, ts_json_str(ce, "associatedAppId"), pk), now,
	    "6.3", "expired");

	/* Malformed: HTTP 400, not recorded. */
	json_t *r = certify(s, certify_req("m-1", EID_OK, assoc, NULL), now, 400);
	assert_string_equal(exec_status(r), "Failed");
	json_decref(r);
	json_t *q = certify_req("m-2", EID_OK, assoc, NULL);
	json_object_set_new(q, "publicKey", json_integer(4));
	json_decref(certify(s, q, now, 400));
	q = certify_req("m-3", EID_OK, assoc, pk);
	json_object_del(q, "associatedAppId");
	json_decref(certify(s, q, now, 400));
	q = certify_req("m-4", EID_OK, assoc, pk);
	json_object_del(q, "eid");
	json_decref(certify(s, q, now, 400));
	q = certify_req("m-5", EID_OK, assoc, pk);
	json_object_del(q, "header");
	json_decref(certify(s, q, now, 400));
	/* A confirmOrder's call id reused for certifyKey: conflict. */
	r = certify(s, certify_req("c-1", EID_OK, assoc, pk), now, 409);
	assert_string_equal(exec_status(r), "Failed");
	json_decref(r);

	/* After all that, the right key for the right app is still certified. */
	r = certify(s, certify_req("ok-1", EID_OK, assoc, pk), now, 200);
	assert_string_equal(exec_status(r), "Executed-Success");
	json_decref(r);

	json_t *list = NULL;
	assert_int_equal(sp_store_list(s, &list), 0);
	/* 4 confirms, 9 refusals, 1 cancel, 1 certified. */
	assert_int_equal(json_array_size(list), 15);
	size_t i, denied = 0;
	json_t *row;
	json_array_foreach(list, i, row) {
		if (strcmp(ts_json_str(row, "function"), "certifyKey") == 0 &&
		    strcmp(ts_json_str(row, "decision"), "denied") == 0) {
			denied++;
			assert_non_null(ts_json_str(row, "reason"));
		}
	}
	assert_int_equal(denied, 9);
	json_decref(list);

	sp_store_close(s);
	json_decref(cb);
	json_decref(cs);
	json_decref(cc);
	json_decref(ce);
	free(pk);
	EVP_PKEY_free(k);
}

/* A schema 1 database (before certifyKey) is migrated on open. */
static void
test_migrate_v1(void **state)
{
	(void)state;
	char path[160];
	snprintf(path, sizeof(path), "%s/v1.db", tmpdir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	    "CREATE TABLE decisions (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,"
	    " function TEXT NOT NULL, functionCallIdentifier TEXT NOT NULL UNIQUE,"
	    " requester TEXT, peer_id TEXT, eid TEXT, app_id TEXT, share_id TEXT, user_id TEXT,"
	    " decision TEXT NOT NULL, kind TEXT, associated_app_id TEXT,"
	    " not_after INTEGER NOT NULL DEFAULT 0, reason TEXT, http_status INTEGER NOT NULL,"
	    " response TEXT NOT NULL);"
	    "INSERT INTO decisions (created_at, function, functionCallIdentifier, eid, app_id,"
	    " decision, kind, associated_app_id, http_status, response) VALUES (1,"
	    " 'confirmOrder', 'old-1', '" EID_OK "', 'bank1', 'approved', 'bankid',"
	    " 'bankid-old', 200, '{}');"
	    "PRAGMA user_version=1;",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	sp_store *s = NULL;
	assert_int_equal(sp_store_open(path, &s), 0);
	json_t *list = NULL;
	assert_int_equal(sp_store_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_true(json_is_null(json_object_get(json_array_get(list, 0), "account")));
	json_decref(list);
	/* A bankid credential minted before accounts existed cannot be certified. */
	EVP_PKEY *k = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	char *pk = point_b64(k);
	expect_refusal(s, certify_req("k-1", EID_OK, "bankid-old", pk), ts_now(), "3.8",
	    "no bank account");
	free(pk);
	EVP_PKEY_free(k);
	sp_store_close(s);
	/* Reopening a schema 2 database changes nothing. */
	assert_int_equal(sp_store_open(path, &s), 0);
	assert_int_equal(sp_store_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	sp_store_close(s);

	/* A newer schema than this program knows is refused. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	assert_int_equal(sp_store_open(path, &s), TS_EDB);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_ca),
		cmocka_unit_test(test_account_linked),
		cmocka_unit_test(test_certify_and_idempotent),
		cmocka_unit_test(test_certify_refusals),
		cmocka_unit_test(test_migrate_v1),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
