/*
 * test_bankid.c — bank-ID apps in the software secure element (se/es10.c,
 * se/state.c) through device/se_client: the SE generates the app's key pair
 * at install and announces only its public point (tag 85 of the install
 * notification); the app stays disabled until StoreCertificate (BF50) brings
 * a certificate for exactly that key; the key and the certificate persist;
 * the private key never appears in an answer. The test plays the node (as in
 * test_card.c) and the bank (any CA of the test PKI signs the certificate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../md_fixture.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/bsp.h"
#include "lib/der.h"
#include "lib/eid.h"
#include "lib/es10.h"
#include "lib/pki.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

#include "../sim_fixture.h"

#define TEST_EID "89049032123451234512345678901235"
#define SERVER_ADDRESS "127.0.0.1:8443"

static char dir[64];
static char pki_dir[128];
/* node_*: the test PKI's DPpb; auth_*: its DPauth (SGP.22: two certificates) */
static EVP_PKEY *node_key, *auth_key, *bank_key, *euicc_pub;
static X509 *node_cert, *bank_cert;
static uint8_t *node_cert_der, *auth_der;
static size_t auth_der_len;
static size_t node_cert_der_len;
static int state_counter;

static int
group_setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/ts-bankid-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
	const char *eids[] = { TEST_EID };
	if (pki_testpki_generate(pki_dir, "89049032", eids, 1) != 0)
		return -1;
	char p[256];
	X509 *euicc = NULL;
	snprintf(p, sizeof(p), "%s/dpauth.key", pki_dir);
	if (pki_key_load(p, &auth_key) != 0)
		return -1;
	X509 *ac = NULL;
	snprintf(p, sizeof(p), "%s/dpauth.crt", pki_dir);
	if (pki_cert_load(p, &ac) != 0 || pki_cert_to_der(ac, &auth_der, &auth_der_len) != 0)
		return -1;
	X509_free(ac);
	snprintf(p, sizeof(p), "%s/dppb.key", pki_dir);
	if (pki_key_load(p, &node_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dppb.crt", pki_dir);
	if (pki_cert_load(p, &node_cert) != 0)
		return -1;
	if (pki_cert_to_der(node_cert, &node_cert_der, &node_cert_der_len) != 0)
		return -1;
	/* The "bank" CA: the node CA of the test PKI will do. */
	snprintf(p, sizeof(p), "%s/node-ca.key", pki_dir);
	if (pki_key_load(p, &bank_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/node-ca.crt", pki_dir);
	if (pki_cert_load(p, &bank_cert) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/euicc-%s.crt", pki_dir, TEST_EID);
	if (pki_cert_load(p, &euicc) != 0)
		return -1;
	euicc_pub = X509_get_pubkey(euicc);
	X509_free(euicc);
	return euicc_pub == NULL ? -1 : 0;
}

static int
group_teardown(void **st)
{
	(void)st;
	EVP_PKEY_free(node_key);
	EVP_PKEY_free(auth_key);
	free(auth_der);
	EVP_PKEY_free(bank_key);
	EVP_PKEY_free(euicc_pub);
	X509_free(node_cert);
	X509_free(bank_cert);
	free(node_cert_der);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
new_state(char *out, size_t cap)
{
	snprintf(out, cap, "%s/se-%d.state", dir, state_counter++);
	assert_int_equal(se_card_init_state(out, pki_dir, TEST_EID), 0);
}

static se_driver *
open_inproc(const char *state)
{
	char spec[512];
	assert_true(ts_snprintf(spec, sizeof(spec), "inproc:%s", state) == 0);
	se_driver *d = NULL;
	assert_int_equal(se_driver_open(spec, &d), 0);
	return d;
}

/* ---- the node's side of a download (answers are checked in test_card.c) ---- */

/* Challenge, AuthenticateServer, PrepareDownload, bound package of the given
 * kind, LoadBoundProfilePackage. Returns the install notification, verified
 * with the eUICC certificate. */
/* What an install gives the LPA: the ProfileInstallationResult, and for a
 * bank-ID app the public key the SE generated (credential applet). */
typedef struct install {
	int has_app_key;
	uint8_t app_key[PKI_PUBKEY_LEN];
} install;

static void
download(se_driver *d, const char *app_id, const char *kind, uint8_t **notif, size_t *nlen,
    install *n)
{
	uint8_t ch[16], tid[RSP_TID_LEN];
	assert_int_equal(se_get_challenge(d, ch), 0);
	es10_server_signed1 s1;
	memset(&s1, 0, sizeof(s1));
	s1.tid_len = RSP_TID_LEN;
	assert_int_equal(ts_random(s1.tid, sizeof(s1.tid)), 0);
	memcpy(tid, s1.tid, RSP_TID_LEN);
	memcpy(s1.euicc_challenge, ch, 16);
	snprintf(s1.server_address, sizeof(s1.server_address), "%s", SERVER_ADDRESS);
	assert_int_equal(ts_random(s1.server_challenge, 16), 0);
	uint8_t *der = NULL, sig[PKI_SIG_LEN];
	size_t dlen = 0;
	assert_int_equal(es10_server_signed1_encode(&s1, &der, &dlen), 0);
	assert_int_equal(pki_sign(auth_key, der, dlen, sig), 0);
	uint8_t *resp = NULL;
	size_t rlen = 0;
	assert_int_equal(se_authenticate_server(d, der, dlen, sig, auth_der, auth_der_len,
	    "match-b", &resp, &rlen), 0);
	free(der);
	es10_auth_server_resp r;
	assert_int_equal(es10_auth_server_resp_decode(resp, rlen, &r, NULL), 0);
	assert_int_equal(r.error, 0);
	uint8_t esig1[PKI_SIG_LEN];
	memcpy(esig1, r.euicc_signature1, PKI_SIG_LEN);
	free(resp);

	es10_smdp_signed2 s2 = { .cc_required = 0 };
	s2.tid_len = RSP_TID_LEN;
	memcpy(s2.tid, tid, RSP_TID_LEN);
	assert_int_equal(es10_smdp_signed2_encode(&s2, &der, &dlen), 0);
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	assert_int_equal(es10_sig_input(der, dlen, esig1, &tbs, &tbs_len), 0);
	assert_int_equal(pki_sign(node_key, tbs, tbs_len, sig), 0);
	free(tbs);
	assert_int_equal(se_prepare_download(d, der, dlen, sig, node_cert_der, node_cert_der_len,
	    &resp, &rlen), 0);
	free(der);
	es10_prepare_download_resp pr;
	assert_int_equal(es10_prepare_download_resp_decode(resp, rlen, &pr, NULL), 0);
	assert_int_equal(pr.error, 0);
	es10_euicc_signed2 e2;
	assert_int_equal(es10_euicc_signed2_decode(pr.euicc_signed2.p, pr.euicc_signed2.len, &e2), 0);
	free(resp);

	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", app_id);
	snprintf(m.name, sizeof(m.name), "Name of %s", app_id);
	snprintf(m.kind, sizeof(m.kind), "%s", kind);
	snprintf(m.provider, sizeof(m.provider), "bank");
	uint8_t *md = NULL, *pkg = NULL;
	size_t mdlen = 0, pkglen = 0;
	static const uint8_t account[] = "account=4711";
	static const uint8_t host[] = "tapshare-node";
	const uint8_t *payload = account;
	size_t payload_len = sizeof(account) - 1;
	uint8_t *sim = NULL;
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	if (strcmp(kind, "sim") == 0) {
		char dg[ES10_ICCID_DIGITS_MAX + 1];
		uint8_t iccid[ES10_ICCID_LEN];
		assert_int_equal(es10_iccid_for_app(&eid, app_id, dg), 0);
		assert_int_equal(es10_iccid_from_digits(dg, iccid), 0);
		sim_fixture(iccid, &m, &sim, &payload_len);
		payload = sim;
	}
	assert_int_equal(md_fixture_iccid(&m, TEST_EID), 0);
	assert_int_equal(rsp_metadata_encode(&m, &md, &mdlen), 0);
	assert_int_equal(bsp_package_build(e2.euicc_otpk, PKI_PUBKEY_LEN, &eid, tid, RSP_TID_LEN,
	    host, sizeof(host) - 1, node_key, md, mdlen, payload, payload_len, &pkg,
	    &pkglen), 0);
	free(md);
	free(sim);
	assert_int_equal(se_load_package(d, pkg, pkglen, notif, nlen), 0);
	free(pkg);
	es10_pending p;
	assert_int_equal(es10_pending_decode(*notif, *nlen, &p), 0);
	assert_int_equal(p.kind, ES10_PENDING_INSTALL);
	assert_int_equal(es10_pending_verify(&p, euicc_pub), 0);
	assert_int_equal(p.pir.success, 1);
	se_app a;
	assert_int_equal(se_find_app(d, app_id, &a), 0);
	assert_memory_equal(p.meta.iccid, a.id.iccid, ES10_ICCID_LEN);
	memset(n, 0, sizeof(*n));
	int rc = se_cred_generate_key(d, a.id.iccid, n->app_key);
	if (strcmp(kind, "bankid") == 0)
		assert_int_equal(rc, 0);
	else
		assert_int_equal(rc, TS_ESTATE); /* not a bank-ID app: no key */
	n->has_app_key = rc == 0;
}

/* A certificate for pub issued by the "bank"; DER, caller frees. */
static void
issue_cert(EVP_PKEY *pub, uint8_t **der, size_t *len)
{
	pki_issue_opts o = { .profile = PKI_PROFILE_SIGNING, .cn = "bank-ID of alice", .days = 30 };
	X509 *c = NULL;
	assert_int_equal(pki_issue(bank_cert, bank_key, pub, &o, &c), 0);
	assert_int_equal(pki_cert_to_der(c, der, len), 0);
	X509_free(c);
}

static void
issue_cert_for_point(const uint8_t point[PKI_PUBKEY_LEN], uint8_t **der, size_t *len)
{
	EVP_PKEY *pub = NULL;
	assert_int_equal(pki_pubkey_from_point(point, PKI_PUBKEY_LEN, &pub), 0);
	issue_cert(pub, der, len);
	EVP_PKEY_free(pub);
}

static const se_app *
find_app(const se_app *apps, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(apps[i].app_id, id) == 0)
			return &apps[i];
	return NULL;
}

static size_t
pending_count(se_driver *d)
{
	uint8_t **ns = NULL;
	size_t *ls = NULL, cnt = 0;
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &cnt), 0);
	for (size_t i = 0; i < cnt; i++)
		free(ns[i]);
	free(ns);
	free(ls);
	return cnt;
}

/* 1 if needle (nlen bytes) occurs in hay. */
static int
contains(const uint8_t *hay, size_t hlen, const uint8_t *needle, size_t nlen)
{
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return 1;
	return 0;
}

/* The app's private key as kept in the state file (the test reads the file
 * the way an attacker with the disk would; the card never hands it out). */
static EVP_PKEY *
state_app_key(const char *state, const char *app_id, char **cert_b64)
{
	json_error_t jerr;
	json_t *root = json_load_file(state, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(root);
	json_t *apps = json_object_get(root, "apps");
	EVP_PKEY *k = NULL;
	for (size_t i = 0; i < json_array_size(apps); i++) {
		json_t *a = json_array_get(apps, i);
		if (strcmp(json_string_value(json_object_get(a, "app_id")), app_id) != 0)
			continue;
		const char *pem = json_string_value(json_object_get(a, "app_key"));
		assert_non_null(pem);
		BIO *b = BIO_new_mem_buf(pem, -1);
		assert_non_null(b);
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
		if (cert_b64 != NULL) {
			const char *c = json_string_value(json_object_get(a, "app_cert"));
			*cert_b64 = c != NULL ? strdup(c) : NULL;
		}
	}
	json_decref(root);
	assert_non_null(k);
	return k;
}

/* ---- tests ---- */

static void
test_install_disabled_with_key(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *notif = NULL;
	size_t nlen = 0;
	install n;
	download(d, "bankid-alice", "bankid", &notif, &nlen, &n);
	/* The credential applet gives a valid P-256 point. */
	assert_int_equal(n.has_app_key, 1);
	assert_int_equal(n.app_key[0], 0x04);
	EVP_PKEY *pub = NULL;
	assert_int_equal(pki_pubkey_from_point(n.app_key, PKI_PUBKEY_LEN, &pub), 0);
	/* ... and it is the public half of the key the SE keeps. */
	EVP_PKEY *kept = state_app_key(state, "bankid-alice", NULL);
	assert_int_equal(EVP_PKEY_eq(pub, kept), 1);
	EVP_PKEY_free(kept);
	EVP_PKEY_free(pub);
	free(notif);

	/* A SIM package: no key, enabled at once. */
	download(d, "sim-alice", "sim", &notif, &nlen, &n);
	assert_int_equal(n.has_app_key, 0);
	free(notif);

	se_app apps[4];
	size_t cnt = 0;
	assert_int_equal(se_list_apps(d, apps, 4, &cnt), 0);
	assert_int_equal(cnt, 2);
	const se_app *b = find_app(apps, cnt, "bankid-alice");
	const se_app *s = find_app(apps, cnt, "sim-alice");
	assert_non_null(b);
	assert_non_null(s);
	assert_string_equal(b->kind, "bankid");
	assert_int_equal(b->enabled, 0);
	assert_int_equal(b->certified, 0);
	assert_int_equal(s->enabled, 1);
	assert_int_equal(s->certified, -1);

	/* Not usable before the bank certified its key (disallowedByPolicy). */
	assert_int_equal(se_enable(d, "bankid-alice"), TS_EDENIED);
	assert_int_equal(se_list_apps(d, apps, 4, &cnt), 0);
	assert_int_equal(find_app(apps, cnt, "bankid-alice")->enabled, 0);
	/* Two apps, two keys: each install makes a fresh key pair. */
	download(d, "bankid-2", "bankid", &notif, &nlen, &n);
	EVP_PKEY *k1 = state_app_key(state, "bankid-alice", NULL);
	uint8_t p1[PKI_PUBKEY_LEN];
	assert_int_equal(pki_pubkey_to_point(k1, p1), 0);
	assert_memory_not_equal(p1, n.app_key, PKI_PUBKEY_LEN);
	EVP_PKEY_free(k1);
	free(notif);
	se_driver_free(d);
}

static void
test_store_certificate(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *notif = NULL, *cert = NULL;
	size_t nlen = 0, clen = 0;
	install n;
	download(d, "bankid-alice", "bankid", &notif, &nlen, &n);
	free(notif);
	notif = NULL;
	uint8_t point[PKI_PUBKEY_LEN];
	memcpy(point, n.app_key, sizeof(point));
	download(d, "sim-alice", "sim", &notif, &nlen, &n);
	free(notif);
	notif = NULL;
	assert_int_equal(pending_count(d), 2);

	/* A certificate for some other key: refused, nothing changes. */
	EVP_PKEY *other = NULL;
	assert_int_equal(pki_keygen(&other), 0);
	issue_cert(other, &cert, &clen);
	EVP_PKEY_free(other);
	assert_int_equal(se_store_certificate(d, "bankid-alice", cert, clen, &notif, &nlen),
	    TS_EVERIFY);
	assert_null(notif);
	free(cert);
	/* A SEQUENCE that is no certificate: refused the same way. */
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	assert_int_equal(se_store_certificate(d, "bankid-alice", junk, sizeof(junk), &notif, &nlen),
	    TS_EVERIFY);
	/* Not a certificate TLV at all: refused before it reaches the card. */
	assert_int_equal(se_store_certificate(d, "bankid-alice", junk, 3, &notif, &nlen), TS_EINVAL);

	issue_cert_for_point(point, &cert, &clen);
	/* Unknown app, and an app without an SE-generated key. */
	assert_int_equal(se_store_certificate(d, "nope", cert, clen, &notif, &nlen), TS_ENOTFOUND);
	assert_int_equal(se_store_certificate(d, "sim-alice", cert, clen, &notif, &nlen), TS_ESTATE);
	se_app apps[4];
	size_t cnt = 0;
	assert_int_equal(se_list_apps(d, apps, 4, &cnt), 0);
	assert_int_equal(find_app(apps, cnt, "bankid-alice")->enabled, 0);
	assert_int_equal(find_app(apps, cnt, "bankid-alice")->certified, 0);
	assert_int_equal(pending_count(d), 2);

	/* The bank's certificate for the SE's key: stored, app enabled, and a
	 * signed enable notification, pending until NotificationSent. */
	assert_int_equal(se_store_certificate(d, "bankid-alice", cert, clen, &notif, &nlen), 0);
	es10_pending en;
	assert_int_equal(es10_pending_decode(notif, nlen, &en), 0);
	assert_int_equal(en.kind, ES10_PENDING_OTHER);
	assert_int_equal(es10_pending_verify(&en, euicc_pub), 0);
	assert_int_equal(en.meta.event, ES10_EVENT_ENABLE);
	assert_int_equal(en.meta.seq, 3);
	size_t at = (size_t)(en.tbs - notif) + en.tbs_len - 1;
	notif[at] ^= 1;
	assert_int_equal(es10_pending_decode(notif, nlen, &en), 0);
	assert_int_equal(es10_pending_verify(&en, euicc_pub), TS_EVERIFY);
	notif[at] ^= 1;
	uint8_t **ns = NULL;
	size_t *ls = NULL, pc = 0;
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &pc), 0);
	assert_int_equal(pc, 3);
	assert_int_equal(ls[2], nlen);
	assert_memory_equal(ns[2], notif, nlen);
	for (size_t i = 0; i < pc; i++)
		free(ns[i]);
	free(ns);
	free(ls);
	assert_int_equal(se_notification_sent(d, 3), 0);
	assert_int_equal(pending_count(d), 2);
	free(notif);
	notif = NULL;

	assert_int_equal(se_list_apps(d, apps, 4, &cnt), 0);
	assert_int_equal(find_app(apps, cnt, "bankid-alice")->enabled, 1);
	assert_int_equal(find_app(apps, cnt, "bankid-alice")->certified, 1);
	/* Stored once: a repeat is "wrong state"; the list says it is done. */
	assert_int_equal(se_store_certificate(d, "bankid-alice", cert, clen, &notif, &nlen), TS_ESTATE);
	assert_null(notif);
	/* Once certified, disable / enable work as for any app. */
	assert_int_equal(se_disable(d, "bankid-alice"), 0);
	assert_int_equal(se_enable(d, "bankid-alice"), 0);
	free(cert);
	se_driver_free(d);
}

static void
test_persists_and_private_key_stays(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *inst = NULL, *en = NULL, *cert = NULL;
	size_t ilen = 0, elen = 0, clen = 0;
	install n;
	download(d, "bankid-alice", "bankid", &inst, &ilen, &n);
	EVP_PKEY *before = state_app_key(state, "bankid-alice", NULL);
	/* Close and reopen before the certificate: the key survives. */
	se_driver_free(d);
	d = open_inproc(state);
	EVP_PKEY *after = state_app_key(state, "bankid-alice", NULL);
	assert_int_equal(EVP_PKEY_eq(before, after), 1);
	EVP_PKEY_free(after);
	issue_cert_for_point(n.app_key, &cert, &clen);
	assert_int_equal(se_store_certificate(d, "bankid-alice", cert, clen, &en, &elen), 0);
	se_driver_free(d);

	/* Reopened: still enabled and certified, same key, same certificate. */
	d = open_inproc(state);
	se_app apps[2];
	size_t cnt = 0;
	assert_int_equal(se_list_apps(d, apps, 2, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(apps[0].enabled, 1);
	assert_int_equal(apps[0].certified, 1);
	char *cert_b64 = NULL;
	after = state_app_key(state, "bankid-alice", &cert_b64);
	assert_int_equal(EVP_PKEY_eq(before, after), 1);
	EVP_PKEY_free(after);
	assert_non_null(cert_b64);
	uint8_t *stored = NULL;
	size_t slen = 0;
	assert_int_equal(ts_b64_decode(cert_b64, &stored, &slen), 0);
	assert_int_equal(slen, clen);
	assert_memory_equal(stored, cert, clen);
	free(stored);
	free(cert_b64);
	assert_int_equal(se_store_certificate(d, "bankid-alice", cert, clen, &en, &elen), TS_ESTATE);

	/* The private scalar is in no answer: the install and enable
	 * notifications, ProfileInfoList, RetrieveNotificationsList. */
	BIGNUM *priv = NULL;
	assert_int_equal(EVP_PKEY_get_bn_param(before, OSSL_PKEY_PARAM_PRIV_KEY, &priv), 1);
	uint8_t scalar[32];
	assert_int_equal(BN_bn2binpad(priv, scalar, sizeof(scalar)), 32);
	BN_clear_free(priv);
	/* Any 8 consecutive bytes of it would already be a leak. */
	assert_int_equal(contains(inst, ilen, scalar, 8), 0);
	assert_int_equal(contains(en, elen, scalar, 8), 0);
	static const uint8_t list_cmd[] = { 0xBF, 0x2D, 0x00 };
	static const uint8_t notif_cmd[] = { 0xBF, 0x2B, 0x00 };
	uint8_t *resp = NULL;
	size_t rlen = 0;
	assert_int_equal(se_store_data(d, list_cmd, sizeof(list_cmd), &resp, &rlen), 0);
	for (size_t off = 0; off + 8 <= sizeof(scalar); off++)
		assert_int_equal(contains(resp, rlen, scalar + off, 8), 0);
	free(resp);
	assert_int_equal(se_store_data(d, notif_cmd, sizeof(notif_cmd), &resp, &rlen), 0);
	for (size_t off = 0; off + 8 <= sizeof(scalar); off++)
		assert_int_equal(contains(resp, rlen, scalar + off, 8), 0);
	free(resp);
	OPENSSL_cleanse(scalar, sizeof(scalar));
	EVP_PKEY_free(before);
	free(inst);
	free(en);
	free(cert);
	se_driver_free(d);
}

static void
test_malformed_store_certificate(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *resp = NULL;
	size_t rlen = 0;
	/* BF50 { 80 "x" } without a certificate, and with something after it. */
	static const uint8_t no_cert[] = { 0xBF, 0x50, 0x03, 0x80, 0x01, 'x' };
	assert_int_equal(se_store_data(d, no_cert, sizeof(no_cert), &resp, &rlen), TS_EPROTO);
	static const uint8_t trailing[] = { 0xBF, 0x50, 0x0A, 0x80, 0x01, 'x', 0x30, 0x00,
		0x04, 0x01, 0x00, 0x05, 0x00 };
	static const uint8_t extra[] = { 0xBF, 0x50, 0x07, 0x80, 0x01, 'x', 0x30, 0x00, 0x05, 0x00 };
	assert_int_equal(se_store_data(d, trailing, sizeof(trailing), &resp, &rlen), TS_EPROTO);
	assert_int_equal(se_store_data(d, extra, sizeof(extra), &resp, &rlen), TS_EPROTO);
	/* BF50 is gone from the ISD-R (the credential applet stores
	 * certificates): even a well-formed one is not an ES10 function. */
	static const uint8_t unknown[] = { 0xBF, 0x50, 0x05, 0x80, 0x01, 'x', 0x30, 0x00 };
	assert_int_equal(se_store_data(d, unknown, sizeof(unknown), &resp, &rlen), TS_EPROTO);
	se_driver_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install_disabled_with_key),
		cmocka_unit_test(test_store_certificate),
		cmocka_unit_test(test_persists_and_private_key_stays),
		cmocka_unit_test(test_malformed_store_certificate),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
