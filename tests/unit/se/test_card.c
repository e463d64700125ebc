/*
 * test_card.c — the software secure element (se/) driven through the device
 * side (device/se_driver inproc and vpcd, device/se_client), with the test
 * playing the node: it builds and signs serverSigned1 / smdpSigned2 with the
 * test PKI's DPauth/DPpb keys, verifies the SE's answers exactly as the node
 * would (chain to ci.crt, EID in the eUICC certificate, signatures) and binds
 * packages to the SE's one-time key with bsp_package_build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

#define TEST_EID "89049032123451234512345678901235"
#define SERVER_ADDRESS "127.0.0.1:8443"

static char dir[64];
static char pki_dir[128];
/* node_*: the test PKI's DPpb; auth_*: its DPauth (SGP.22: two certificates) */
static EVP_PKEY *node_key, *auth_key;
static X509 *node_cert, *ci_cert;
static uint8_t *node_cert_der, *auth_der;
static size_t node_cert_der_len, auth_der_len;
static int state_counter;

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int
group_setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/ts-se-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
	const char *eids[] = { TEST_EID };
	if (pki_testpki_generate(pki_dir, "89049032", eids, 1) != 0)
		return -1;
	char p[256];
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
	snprintf(p, sizeof(p), "%s/ci.crt", pki_dir);
	if (pki_cert_load(p, &ci_cert) != 0)
		return -1;
	if (pki_cert_to_der(node_cert, &node_cert_der, &node_cert_der_len) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **st)
{
	(void)st;
	EVP_PKEY_free(node_key);
	EVP_PKEY_free(auth_key);
	free(auth_der);
	X509_free(node_cert);
	X509_free(ci_cert);
	free(node_cert_der);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh state file per test: path written to out. */
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

/* ---- the node's side of a download ---- */

typedef struct dl {
	uint8_t tid[RSP_TID_LEN];
	EVP_PKEY *euicc_pub; /* from the eUICC certificate the SE presented */
	uint8_t otpk[PKI_PUBKEY_LEN];
} dl;

static void
dl_clear(dl *x)
{
	EVP_PKEY_free(x->euicc_pub);
	x->euicc_pub = NULL;
}

/* Challenge + AuthenticateServer + PrepareDownload, verifying every answer
 * like the node does. */
static void
dl_authenticate(se_driver *d, dl *x)
{
	uint8_t ch[16];
	assert_int_equal(se_get_challenge(d, ch), 0);

	es10_server_signed1 s1;
	memset(&s1, 0, sizeof(s1));
	s1.tid_len = RSP_TID_LEN;
	assert_int_equal(ts_random(s1.tid, sizeof(s1.tid)), 0);
	memcpy(s1.euicc_challenge, ch, 16);
	snprintf(s1.server_address, sizeof(s1.server_address), "%s", SERVER_ADDRESS);
	assert_int_equal(ts_random(s1.server_challenge, 16), 0);
	memcpy(x->tid, s1.tid, RSP_TID_LEN);
	uint8_t *s1der = NULL, sig1[PKI_SIG_LEN];
	size_t s1len = 0;
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig1), 0);

	uint8_t *resp = NULL;
	size_t rlen = 0;
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig1, auth_der,
	    auth_der_len, "match-1", &resp, &rlen), 0);
	free(s1der);

	/* Verify as the node: chain CI -> EUM -> eUICC, EID, euiccSignature1. */
	es10_auth_server_resp r;
	assert_int_equal(es10_auth_server_resp_decode(resp, rlen, &r, NULL), 0);
	assert_int_equal(r.error, 0);
	X509 *euicc = NULL, *eum = NULL;
	assert_int_equal(pki_cert_from_der(r.euicc_cert.p, r.euicc_cert.len, &euicc), 0);
	assert_int_equal(pki_cert_from_der(r.eum_cert.p, r.eum_cert.len, &eum), 0);
	STACK_OF(X509) *inter = sk_X509_new_null();
	assert_non_null(inter);
	assert_true(sk_X509_push(inter, eum) > 0);
	assert_int_equal(pki_verify_chain(ci_cert, inter, euicc, NULL, 0), 0);
	eid_t ceid;
	assert_int_equal(pki_cert_eid(euicc, &ceid), 0);
	assert_string_equal(ceid.digits, TEST_EID);
	char prefixes[128];
	assert_int_equal(pki_cert_ein_prefixes(eum, prefixes, sizeof(prefixes)), 0);
	assert_int_equal(pki_ein_allowed(prefixes, &ceid), 1);
	x->euicc_pub = X509_get_pubkey(euicc);
	assert_non_null(x->euicc_pub);
	assert_int_equal(pki_verify(x->euicc_pub, r.euicc_signed1.p, r.euicc_signed1.len,
	    r.euicc_signature1), 0);
	es10_euicc_signed1 e1;
	assert_int_equal(es10_euicc_signed1_decode(r.euicc_signed1.p, r.euicc_signed1.len, &e1), 0);
	assert_memory_equal(e1.tid, x->tid, RSP_TID_LEN);
	assert_memory_equal(e1.server_challenge, s1.server_challenge, 16);
	assert_string_equal(e1.server_address, SERVER_ADDRESS);
	assert_string_equal(e1.ctx.matching_id, "match-1");
	uint8_t esig1[PKI_SIG_LEN];
	memcpy(esig1, r.euicc_signature1, PKI_SIG_LEN);
	sk_X509_free(inter);
	X509_free(euicc);
	X509_free(eum);
	free(resp);

	/* smdpSigned2, signed over smdpSigned2 || euiccSignature1. */
	es10_smdp_signed2 s2 = { .cc_required = 0 };
	s2.tid_len = RSP_TID_LEN;
	memcpy(s2.tid, x->tid, RSP_TID_LEN);
	uint8_t *s2der = NULL, sig2[PKI_SIG_LEN];
	size_t s2len = 0;
	assert_int_equal(es10_smdp_signed2_encode(&s2, &s2der, &s2len), 0);
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	assert_int_equal(es10_sig_input(s2der, s2len, esig1, &tbs, &tbs_len), 0);
	assert_int_equal(pki_sign(node_key, tbs, tbs_len, sig2), 0);
	free(tbs);
	assert_int_equal(se_prepare_download(d, s2der, s2len, sig2, node_cert_der,
	    node_cert_der_len, &resp, &rlen), 0);
	free(s2der);

	es10_prepare_download_resp pr;
	assert_int_equal(es10_prepare_download_resp_decode(resp, rlen, &pr, NULL), 0);
	assert_int_equal(pr.error, 0);
	assert_int_equal(es10_sig_input(pr.euicc_signed2.p, pr.euicc_signed2.len, sig2, &tbs, &tbs_len), 0);
	assert_int_equal(pki_verify(x->euicc_pub, tbs, tbs_len, pr.euicc_signature2), 0);
	free(tbs);
	es10_euicc_signed2 e2;
	assert_int_equal(es10_euicc_signed2_decode(pr.euicc_signed2.p, pr.euicc_signed2.len, &e2), 0);
	assert_memory_equal(e2.tid, x->tid, RSP_TID_LEN);
	memcpy(x->otpk, e2.euicc_otpk, PKI_PUBKEY_LEN);
	free(resp);
}

static void
dl_package(const dl *x, const char *app_id, int64_t not_after, size_t plen,
    uint8_t **pkg, size_t *pkglen)
{
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", app_id);
	snprintf(m.name, sizeof(m.name), "Name of %s", app_id);
	snprintf(m.kind, sizeof(m.kind), "service"); /* any payload: a SIM needs a package */
	snprintf(m.provider, sizeof(m.provider), "acme-mobile");
	m.not_after = not_after;
	uint8_t *md = NULL;
	size_t mdlen = 0;
	assert_int_equal(md_fixture_iccid(&m, TEST_EID), 0);
	assert_int_equal(rsp_metadata_encode(&m, &md, &mdlen), 0);
	uint8_t *payload = malloc(plen + 1);
	assert_non_null(payload);
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	static const uint8_t host[] = "tapshare-node";
	assert_int_equal(bsp_package_build(x->otpk, PKI_PUBKEY_LEN, &eid, x->tid, RSP_TID_LEN,
	    host, sizeof(host) - 1, node_key, md, mdlen, payload, plen, pkg, pkglen), 0);
	free(md);
	free(payload);
}

/* The whole download; returns the install notification (caller frees). */
static void
download(se_driver *d, const char *app_id, int64_t not_after, size_t plen,
    uint8_t **notif, size_t *nlen)
{
	dl x = { 0 };
	dl_authenticate(d, &x);
	uint8_t *pkg = NULL;
	size_t pkglen = 0;
	dl_package(&x, app_id, not_after, plen, &pkg, &pkglen);
	assert_int_equal(se_load_package(d, pkg, pkglen, notif, nlen), 0);
	free(pkg);

	/* SGP.22 ProfileInstallationResult: successResult for this session and
	 * the ICCID tapshare gives the app, signed by the eUICC over BF27. */
	es10_pending n;
	assert_int_equal(es10_pending_decode(*notif, *nlen, &n), 0);
	assert_int_equal(n.kind, ES10_PENDING_INSTALL);
	assert_int_equal(es10_pending_verify(&n, x.euicc_pub), 0);
	assert_int_equal(n.meta.event, ES10_EVENT_INSTALL);
	assert_int_equal(n.pir.success, 1);
	assert_int_equal(n.pir.tid_len, RSP_TID_LEN);
	assert_memory_equal(n.pir.tid, x.tid, RSP_TID_LEN);
	assert_true(n.meta.has_iccid);
	eid_t eid;
	char want[ES10_ICCID_DIGITS_MAX + 1], got[ES10_ICCID_DIGITS_MAX + 1];
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	assert_int_equal(es10_iccid_for_app(&eid, app_id, want), 0);
	assert_int_equal(es10_iccid_to_digits(n.meta.iccid, got), 0);
	assert_string_equal(got, want);
	dl_clear(&x);
}

static uint64_t
notif_seq(const uint8_t *n, size_t len)
{
	es10_pending dec;
	assert_int_equal(es10_pending_decode(n, len, &dec), 0);
	return dec.meta.seq;
}

static void
free_notifs(uint8_t **n, size_t *l, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		free(n[i]);
	free(n);
	free(l);
}

/* ---- tests ---- */

static void
test_get_eid(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	eid_t e;
	assert_int_equal(se_get_eid(d, &e), 0);
	assert_string_equal(e.digits, TEST_EID);
	size_t n = 99;
	se_app apps[4];
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 0);
	se_driver_free(d);
	/* init refuses to overwrite. */
	assert_int_equal(se_card_init_state(state, pki_dir, TEST_EID), TS_EEXIST);
	/* The state file holds a private key: 0600. */
	struct stat sb;
	assert_int_equal(stat(state, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void
test_init_wrong_eid(void **st)
{
	(void)st;
	char state[256];
	snprintf(state, sizeof(state), "%s/bad.state", dir);
	/* Valid EID, but the PKI has no eUICC certificate for it. */
	assert_int_not_equal(se_card_init_state(state, pki_dir,
	    "89001012012341234012345678901224"), 0);
	assert_int_equal(se_card_init_state(state, pki_dir, "1234"), TS_EEIDFMT);
	assert_int_equal(access(state, F_OK), -1);
}

static void
test_full_download(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *notif = NULL;
	size_t nlen = 0;
	/* 3000 bytes: several encrypted segments, a package of many STORE DATA blocks. */
	download(d, "sim-assoc-1", 0, 3000, &notif, &nlen);

	se_app apps[4];
	size_t n = 0;
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(apps[0].app_id, "sim-assoc-1");
	assert_string_equal(apps[0].name, "Name of sim-assoc-1");
	assert_string_equal(apps[0].kind, "service");
	assert_string_equal(apps[0].provider, "acme-mobile");
	assert_int_equal(apps[0].enabled, 1);
	assert_int_equal(apps[0].not_after, 0);

	/* The install notification is pending until NotificationSent. */
	uint8_t **ns = NULL;
	size_t *ls = NULL, cnt = 0;
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(ls[0], nlen);
	assert_memory_equal(ns[0], notif, nlen);
	free_notifs(ns, ls, cnt);
	uint64_t seq = notif_seq(notif, nlen);
	assert_int_equal(seq, 1);
	assert_int_equal(se_notification_sent(d, seq), 0);
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &cnt), 0);
	assert_int_equal(cnt, 0);
	free_notifs(ns, ls, cnt);
	assert_int_equal(se_notification_sent(d, seq), TS_ENOTFOUND);
	free(notif);

	/* The same app id again is refused and changes nothing. */
	dl x = { 0 };
	dl_authenticate(d, &x);
	uint8_t *pkg = NULL;
	size_t pkglen = 0;
	dl_package(&x, "sim-assoc-1", 0, 10, &pkg, &pkglen);
	assert_int_equal(se_load_package(d, pkg, pkglen, &notif, &nlen), TS_EEXIST);
	free(pkg);
	dl_clear(&x);
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 1);

	/* The refusal is a pending errorResult (2); a second app gets 3. */
	download(d, "bank-id-7", 0, 0, &notif, &nlen);
	assert_int_equal(notif_seq(notif, nlen), 3);
	free(notif);
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 2);
	/* Too small a caller array is reported, not overflowed. */
	assert_int_equal(se_list_apps(d, apps, 1, &n), TS_ELIMIT);

	/* 70 kB: more than 256 STORE DATA blocks, so P2 wraps modulo 256. */
	download(d, "big-credential", 0, 70000, &notif, &nlen);
	free(notif);
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(apps[2].app_id, "big-credential");
	se_driver_free(d);
}

static void
test_enable_disable_delete(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *notif = NULL;
	size_t nlen = 0;
	download(d, "svc-1", 0, 64, &notif, &nlen);
	free(notif);

	assert_int_equal(se_enable(d, "svc-1"), TS_ESTATE); /* already enabled */
	assert_int_equal(se_disable(d, "svc-1"), 0);
	assert_int_equal(se_disable(d, "svc-1"), TS_ESTATE);
	se_app apps[2];
	size_t n = 0;
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(apps[0].enabled, 0);
	assert_int_equal(se_enable(d, "svc-1"), 0);
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(apps[0].enabled, 1);
	assert_int_equal(se_enable(d, "nope"), TS_ENOTFOUND);
	assert_int_equal(se_disable(d, "nope"), TS_ENOTFOUND);

	/* Delete (disabling first: SGP.22 deletes only a disabled profile): an
	 * OtherSignedNotification, signed over its BF2F, pending. */
	assert_int_equal(se_delete(d, "svc-1", &notif, &nlen), 0);
	X509 *cert = NULL;
	char p[256];
	snprintf(p, sizeof(p), "%s/euicc-%s.crt", pki_dir, TEST_EID);
	assert_int_equal(pki_cert_load(p, &cert), 0);
	EVP_PKEY *pub = X509_get_pubkey(cert);
	es10_pending dn;
	assert_int_equal(es10_pending_decode(notif, nlen, &dn), 0);
	assert_int_equal(dn.kind, ES10_PENDING_OTHER);
	assert_int_equal(es10_pending_verify(&dn, pub), 0);
	assert_int_equal(dn.meta.event, ES10_EVENT_DELETE);
	/* install 1, disable 2, enable 3, disable 4 (by se_delete), delete 5 */
	assert_int_equal(dn.meta.seq, 5);
	/* A flipped byte of the signed BF2F breaks the signature. */
	size_t at = (size_t)(dn.tbs - notif) + dn.tbs_len - 1;
	notif[at] ^= 1;
	assert_int_equal(es10_pending_decode(notif, nlen, &dn), 0);
	assert_int_equal(es10_pending_verify(&dn, pub), TS_EVERIFY);
	notif[at] ^= 1;
	EVP_PKEY_free(pub);
	X509_free(cert);

	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(se_delete(d, "svc-1", &notif, &nlen), TS_ENOTFOUND);
	uint8_t **ns = NULL;
	size_t *ls = NULL, cnt = 0;
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &cnt), 0);
	assert_int_equal(cnt, 5);
	assert_int_equal(notif_seq(ns[0], ls[0]), 1);
	assert_int_equal(ls[4], nlen);
	assert_memory_equal(ns[4], notif, nlen);
	free_notifs(ns, ls, cnt);
	free(notif);
	se_driver_free(d);
}

static void
test_expiry(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);

	/* Already expired: refused, nothing installed. */
	dl x = { 0 };
	dl_authenticate(d, &x);
	uint8_t *pkg = NULL, *notif = NULL;
	size_t pkglen = 0, nlen = 0;
	dl_package(&x, "old", ts_now() - 10, 10, &pkg, &pkglen);
	/* errorResult incorrectInputValues (SGP.22 has no "expired") */
	assert_int_equal(se_load_package(d, pkg, pkglen, &notif, &nlen), TS_EPROTO);
	free(pkg);
	dl_clear(&x);
	se_app apps[2];
	size_t n = 9;
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(n, 0);

	/* Valid for two more seconds: installs, then enable past not_after fails. */
	int64_t na = ts_now() + 2;
	download(d, "short", na, 10, &notif, &nlen);
	free(notif);
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(apps[0].not_after, na);
	assert_int_equal(se_disable(d, "short"), 0);
	for (int i = 0; i < 50 && ts_now() < na; i++)
		sleep_ms(100);
	assert_true(ts_now() >= na);
	assert_int_equal(se_enable(d, "short"), TS_EDENIED); /* disallowedByPolicy */
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(apps[0].enabled, 0);
	se_driver_free(d);
}

static void
test_tampered_package(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	dl x = { 0 };
	dl_authenticate(d, &x);
	uint8_t *pkg = NULL, *notif = NULL;
	size_t pkglen = 0, nlen = 0;
	dl_package(&x, "tamper", 0, 2000, &pkg, &pkglen);
	pkg[pkglen - 20] ^= 0x01; /* inside the last encrypted segment */
	assert_int_equal(se_load_package(d, pkg, pkglen, &notif, &nlen), TS_EVERIFY);
	/* The one-time key is gone: the intact package is refused too. */
	pkg[pkglen - 20] ^= 0x01;
	assert_int_equal(se_load_package(d, pkg, pkglen, &notif, &nlen), TS_ESTATE);
	free(pkg);
	dl_clear(&x);

	se_app apps[2];
	size_t n = 9;
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(n, 0);
	uint8_t **ns = NULL;
	size_t *ls = NULL, cnt = 9;
	/* The SM-DP+ is told: one errorResult (scp03tSecurityError) pending;
	 * the second load had no session, so nothing to tell. */
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &cnt), 0);
	assert_int_equal(cnt, 1);
	es10_pending er;
	assert_int_equal(es10_pending_decode(ns[0], ls[0], &er), 0);
	assert_int_equal(er.kind, ES10_PENDING_INSTALL);
	assert_int_equal(er.pir.success, 0);
	assert_int_equal(er.pir.error_reason, ES10_ERR_SCP03T_SECURITY);
	free_notifs(ns, ls, cnt);

	/* A package bound to another session's key is refused. */
	dl a = { 0 }, b = { 0 };
	dl_authenticate(d, &a);
	dl_package(&a, "first", 0, 10, &pkg, &pkglen);
	dl_authenticate(d, &b); /* new session: a's one-time key is gone */
	assert_int_equal(se_load_package(d, pkg, pkglen, &notif, &nlen), TS_EVERIFY);
	free(pkg);
	dl_clear(&a);
	dl_clear(&b);
	se_driver_free(d);
}

static void
test_auth_refusals(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t ch[16], *resp = NULL;
	size_t rlen = 0;

	es10_server_signed1 s1;
	memset(&s1, 0, sizeof(s1));
	s1.tid_len = RSP_TID_LEN;
	snprintf(s1.server_address, sizeof(s1.server_address), "x");
	uint8_t *s1der = NULL, sig[PKI_SIG_LEN];
	size_t s1len = 0;

	/* No challenge issued: no session context. */
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig), 0);
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
	    auth_der_len, NULL, &resp, &rlen), TS_ESTATE);

	/* Wrong challenge. */
	assert_int_equal(se_get_challenge(d, ch), 0);
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
	    auth_der_len, NULL, &resp, &rlen), TS_EVERIFY);
	free(s1der);

	/* Right challenge, bad signature. */
	assert_int_equal(se_get_challenge(d, ch), 0);
	memcpy(s1.euicc_challenge, ch, 16);
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig), 0);
	sig[5] ^= 0x40;
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
	    auth_der_len, NULL, &resp, &rlen), TS_EVERIFY);
	/* The challenge was consumed by the failed attempt. */
	sig[5] ^= 0x40;
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
	    auth_der_len, NULL, &resp, &rlen), TS_ESTATE);

	/* A certificate that does not chain to the CI (self-signed, same key). */
	X509 *self = NULL;
	pki_issue_opts o = { .profile = PKI_PROFILE_ROOT_CA, .cn = "rogue", .days = 1 };
	assert_int_equal(pki_issue(NULL, node_key, node_key, &o, &self), 0);
	uint8_t *selfder = NULL;
	size_t selflen = 0;
	assert_int_equal(pki_cert_to_der(self, &selfder, &selflen), 0);
	X509_free(self);
	assert_int_equal(se_get_challenge(d, ch), 0);
	free(s1der);
	memcpy(s1.euicc_challenge, ch, 16);
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(node_key, s1der, s1len, sig), 0);
	/* (it has no authorityKeyIdentifier: name our CI explicitly) */
	const ASN1_OCTET_STRING *ci_ski = X509_get0_subject_key_id(ci_cert);
	assert_non_null(ci_ski);
	se_auth_server_args sa = { .server_signed1 = s1der, .server_signed1_len = s1len, .sig1 = sig,
		.ci_pkid = ci_ski->data, .ci_pkid_len = (size_t)ci_ski->length, .server_cert = selfder,
		.server_cert_len = selflen };
	assert_int_equal(se_authenticate_server_ex(d, &sa, &resp, &rlen), TS_EVERIFY);
	free(selfder);
	free(s1der);

	/* PrepareDownload without AuthenticateServer. */
	es10_smdp_signed2 s2 = { .cc_required = 0 };
	s2.tid_len = RSP_TID_LEN;
	uint8_t *s2der = NULL;
	size_t s2len = 0;
	assert_int_equal(es10_smdp_signed2_encode(&s2, &s2der, &s2len), 0);
	assert_int_equal(se_prepare_download(d, s2der, s2len, sig, node_cert_der,
	    node_cert_der_len, &resp, &rlen), TS_ESTATE);
	free(s2der);

	/* PrepareDownload with a signature not over euiccSignature1. */
	dl x = { 0 };
	uint8_t ch2[16];
	assert_int_equal(se_get_challenge(d, ch2), 0);
	memset(&s1, 0, sizeof(s1));
	s1.tid_len = RSP_TID_LEN;
	memcpy(s1.euicc_challenge, ch2, 16);
	snprintf(s1.server_address, sizeof(s1.server_address), "x");
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig), 0);
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
	    auth_der_len, NULL, &resp, &rlen), 0);
	free(resp);
	free(s1der);
	assert_int_equal(es10_smdp_signed2_encode(&s2, &s2der, &s2len), 0);
	assert_int_equal(pki_sign(node_key, s2der, s2len, sig), 0); /* smdpSigned2 alone */
	assert_int_equal(se_prepare_download(d, s2der, s2len, sig, node_cert_der,
	    node_cert_der_len, &resp, &rlen), TS_EVERIFY);
	free(s2der);

	/* smdpSigned2 || euiccSignature1 without its 5F37 40 tag and length
	 * (the pre-SGP.22 input) is refused too; so is another transactionId
	 * and ccRequiredFlag without hashCc. */
	for (int k = 0; k < 3; k++) {
		assert_int_equal(se_get_challenge(d, ch2), 0);
		memcpy(s1.euicc_challenge, ch2, 16);
		assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
		assert_int_equal(pki_sign(auth_key, s1der, s1len, sig), 0);
		assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
		    auth_der_len, NULL, &resp, &rlen), 0);
		free(s1der);
		es10_auth_server_resp ar;
		assert_int_equal(es10_auth_server_resp_decode(resp, rlen, &ar, NULL), 0);
		uint8_t esig1[PKI_SIG_LEN];
		memcpy(esig1, ar.euicc_signature1, PKI_SIG_LEN);
		free(resp);
		es10_smdp_signed2 t2 = s2;
		if (k == 1)
			t2.tid[0] ^= 1;
		if (k == 2)
			t2.cc_required = 1;
		assert_int_equal(es10_smdp_signed2_encode(&t2, &s2der, &s2len), 0);
		uint8_t *tbs = NULL;
		size_t tbs_len = 0;
		if (k == 0) {
			tbs = malloc(s2len + PKI_SIG_LEN);
			assert_non_null(tbs);
			memcpy(tbs, s2der, s2len);
			memcpy(tbs + s2len, esig1, PKI_SIG_LEN);
			tbs_len = s2len + PKI_SIG_LEN;
		} else {
			assert_int_equal(es10_sig_input(s2der, s2len, esig1, &tbs, &tbs_len), 0);
		}
		assert_int_equal(pki_sign(node_key, tbs, tbs_len, sig), 0);
		free(tbs);
		assert_int_equal(se_prepare_download(d, s2der, s2len, sig, node_cert_der,
		    node_cert_der_len, &resp, &rlen), k == 2 ? TS_EPROTO : TS_EVERIFY);
		free(s2der);
	}

	/* euiccCiPKIdToBeUsed that is not the eUICC's CI: ciPKUnknown. */
	assert_int_equal(se_get_challenge(d, ch2), 0);
	memcpy(s1.euicc_challenge, ch2, 16);
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig), 0);
	static const uint8_t other_pkid[20] = { 0x01, 0x02, 0x03 };
	se_auth_server_args aa = { .server_signed1 = s1der, .server_signed1_len = s1len, .sig1 = sig,
		.ci_pkid = other_pkid, .ci_pkid_len = sizeof(other_pkid), .server_cert = auth_der,
		.server_cert_len = auth_der_len };
	assert_int_equal(se_authenticate_server_ex(d, &aa, &resp, &rlen), TS_EVERIFY);
	free(s1der);

	/* SGP.22 roles: the DPpb certificate (CI-issued, right key, valid
	 * signature) is no DPauth for AuthenticateServer ... */
	assert_int_equal(se_get_challenge(d, ch2), 0);
	memcpy(s1.euicc_challenge, ch2, 16);
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(node_key, s1der, s1len, sig), 0);
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, node_cert_der,
	    node_cert_der_len, NULL, &resp, &rlen), TS_EVERIFY);
	free(s1der);
	/* ... and the DPauth certificate is no DPpb for PrepareDownload, even
	 * with smdpSigned2 || euiccSignature1 correctly signed by its key. */
	{
		assert_int_equal(se_get_challenge(d, ch2), 0);
		memcpy(s1.euicc_challenge, ch2, 16);
		assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
		assert_int_equal(pki_sign(auth_key, s1der, s1len, sig), 0);
		assert_int_equal(se_authenticate_server(d, s1der, s1len, sig, auth_der,
		    auth_der_len, NULL, &resp, &rlen), 0);
		free(s1der);
		es10_auth_server_resp ar;
		assert_int_equal(es10_auth_server_resp_decode(resp, rlen, &ar, NULL), 0);
		uint8_t esig1[PKI_SIG_LEN];
		memcpy(esig1, ar.euicc_signature1, PKI_SIG_LEN);
		free(resp);
		assert_int_equal(es10_smdp_signed2_encode(&s2, &s2der, &s2len), 0);
		uint8_t *tbs = NULL;
		size_t tbs_len = 0;
		assert_int_equal(es10_sig_input(s2der, s2len, esig1, &tbs, &tbs_len), 0);
		assert_int_equal(pki_sign(auth_key, tbs, tbs_len, sig), 0);
		free(tbs);
		assert_int_equal(se_prepare_download(d, s2der, s2len, sig, auth_der,
		    auth_der_len, &resp, &rlen), TS_EVERIFY);
		free(s2der);
	}
	dl_clear(&x);
	se_driver_free(d);
}

static void
test_persistence(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *notif = NULL;
	size_t nlen = 0;
	download(d, "keep-me", 0, 100, &notif, &nlen);
	assert_int_equal(se_disable(d, "keep-me"), 0);
	se_driver_free(d);

	d = open_inproc(state);
	se_app apps[2];
	size_t n = 0;
	assert_int_equal(se_list_apps(d, apps, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(apps[0].app_id, "keep-me");
	assert_int_equal(apps[0].enabled, 0);
	uint8_t **ns = NULL;
	size_t *ls = NULL, cnt = 0;
	/* install (1) and disable (2) pending across the restart */
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(ls[0], nlen);
	assert_memory_equal(ns[0], notif, nlen);
	free_notifs(ns, ls, cnt);
	assert_int_equal(se_notification_sent(d, 1), 0);
	assert_int_equal(se_notification_sent(d, 2), 0);
	se_driver_free(d);

	/* The credential payload is persisted byte for byte. */
	json_error_t jerr;
	json_t *root = json_load_file(state, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(root);
	json_t *app0 = json_array_get(json_object_get(root, "apps"), 0);
	const char *b64 = json_string_value(json_object_get(app0, "payload"));
	assert_non_null(b64);
	uint8_t *pl = NULL;
	size_t pll = 0;
	assert_int_equal(ts_b64_decode(b64, &pl, &pll), 0);
	assert_int_equal(pll, 100);
	for (size_t i = 0; i < pll; i++)
		assert_int_equal(pl[i], (uint8_t)(i * 7 + 3));
	free(pl);
	assert_int_equal(json_array_size(json_object_get(root, "pending")), 0);
	json_decref(root);

	/* The sequence counter survives too. */
	d = open_inproc(state);
	free(notif);
	assert_int_equal(se_delete(d, "keep-me", &notif, &nlen), 0);
	assert_int_equal(notif_seq(notif, nlen), 3);
	free(notif);
	se_driver_free(d);
}

/* ---- raw APDU level ---- */

static size_t
apdu(se_card *c, const uint8_t *cmd, size_t len, uint8_t *r)
{
	size_t rlen = 0;
	assert_int_equal(se_card_apdu(c, cmd, len, r, 300, &rlen), 0);
	assert_true(rlen >= 2);
	return rlen;
}

#define SW(r, n) ((unsigned)((r)[(n) - 2] << 8 | (r)[(n) - 1]))

static void
test_apdu_transport(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_card *c = NULL;
	assert_int_equal(se_card_open(state, &c), 0);
	uint8_t r[300];
	size_t n;

	uint8_t atr[40];
	static const uint8_t want_atr[] = { 0x3B, 0x80, 0x80, 0x01, 0x01 };
	assert_int_equal(se_card_atr(c, atr, sizeof(atr)), sizeof(want_atr));
	assert_memory_equal(atr, want_atr, sizeof(want_atr));
	size_t rl = 0;
	assert_int_equal(se_card_apdu(c, (const uint8_t *)"\x00\xA4\x04\x00", 4, r, 1, &rl),
	    TS_EINVAL);

	static const uint8_t getdata[] = { 0x80, 0xE2, 0x91, 0x00, 0x06,
		0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A };
	/* STORE DATA before SELECT: conditions not satisfied. */
	n = apdu(c, getdata, sizeof(getdata), r);
	assert_int_equal(n, 2);
	assert_int_equal(SW(r, n), 0x6985);

	/* SELECT of another AID: not found. */
	static const uint8_t sel_other[] = { 0x00, 0xA4, 0x04, 0x0C, 0x03, 0xA0, 0x00, 0x01 };
	n = apdu(c, sel_other, sizeof(sel_other), r);
	assert_int_equal(SW(r, n), 0x6A82);

	/* SELECT ISD-R with FCI, no Le: 61 14 then GET RESPONSE. */
	uint8_t sel[5 + 16] = { 0x00, 0xA4, 0x04, 0x00, 0x10 };
	memcpy(sel + 5, SE_ISDR_AID, 16);
	n = apdu(c, sel, sizeof(sel), r);
	assert_int_equal(n, 2);
	assert_int_equal(SW(r, n), 0x6114);
	static const uint8_t gr[] = { 0x00, 0xC0, 0x00, 0x00, 0x14 };
	n = apdu(c, gr, sizeof(gr), r);
	assert_int_equal(n, 0x14 + 2);
	assert_int_equal(SW(r, n), 0x9000);
	assert_int_equal(r[0], 0x6F);
	assert_int_equal(r[2], 0x84);
	assert_memory_equal(r + 4, SE_ISDR_AID, 16);
	/* Nothing left: GET RESPONSE is refused. */
	n = apdu(c, gr, sizeof(gr), r);
	assert_int_equal(SW(r, n), 0x6985);

	/* GetEuiccData, no Le: 61 15, then fetch it in two pieces. */
	n = apdu(c, getdata, sizeof(getdata), r);
	assert_int_equal(n, 2);
	assert_int_equal(SW(r, n), 0x6115);
	static const uint8_t gr5[] = { 0x00, 0xC0, 0x00, 0x00, 0x05 };
	n = apdu(c, gr5, sizeof(gr5), r);
	assert_int_equal(n, 7);
	assert_int_equal(SW(r, n), 0x6110);
	static const uint8_t head[] = { 0xBF, 0x3E, 0x12, 0x5A, 0x10 };
	assert_memory_equal(r, head, 5);
	static const uint8_t gr0[] = { 0x00, 0xC0, 0x00, 0x00, 0x00 };
	n = apdu(c, gr0, sizeof(gr0), r);
	assert_int_equal(n, 18);
	assert_int_equal(SW(r, n), 0x9000);
	static const uint8_t eid_bytes[] = { 0x89, 0x04, 0x90, 0x32, 0x12, 0x34, 0x51, 0x23,
		0x45, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x35 };
	assert_memory_equal(r, eid_bytes, 16);

	/* Extended-length STORE DATA with Le 0000: the whole answer at once. */
	static const uint8_t ext[] = { 0x80, 0xE2, 0x91, 0x00, 0x00, 0x00, 0x06,
		0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A, 0x00, 0x00 };
	n = apdu(c, ext, sizeof(ext), r);
	assert_int_equal(n, 23);
	assert_int_equal(SW(r, n), 0x9000);
	assert_memory_equal(r, head, 5);
	assert_memory_equal(r + 5, eid_bytes, 16);

	/* Chained: two blocks, P2 0 then 1. */
	static const uint8_t b0[] = { 0x80, 0xE2, 0x11, 0x00, 0x03, 0xBF, 0x3E, 0x03 };
	static const uint8_t b1[] = { 0x80, 0xE2, 0x91, 0x01, 0x03, 0x5C, 0x01, 0x5A, 0x00 };
	n = apdu(c, b0, sizeof(b0), r);
	assert_int_equal(SW(r, n), 0x9000);
	n = apdu(c, b1, sizeof(b1), r);
	assert_int_equal(n, 23);
	assert_int_equal(SW(r, n), 0x9000);
	/* Wrong block number aborts the chain. */
	static const uint8_t b2[] = { 0x80, 0xE2, 0x91, 0x02, 0x03, 0x5C, 0x01, 0x5A, 0x00 };
	n = apdu(c, b0, sizeof(b0), r);
	assert_int_equal(SW(r, n), 0x9000);
	n = apdu(c, b2, sizeof(b2), r);
	assert_int_equal(SW(r, n), 0x6A86);
	n = apdu(c, b1, sizeof(b1), r); /* no chain open: P2 1 is wrong too */
	assert_int_equal(SW(r, n), 0x6A86);

	/* Unknown ES10 tag and malformed TLV: wrong data. */
	static const uint8_t unk[] = { 0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x7F, 0x00 };
	n = apdu(c, unk, sizeof(unk), r);
	assert_int_equal(SW(r, n), 0x6A80);
	static const uint8_t bad[] = { 0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x05 };
	n = apdu(c, bad, sizeof(bad), r);
	assert_int_equal(SW(r, n), 0x6A80);
	/* Enable without an app id: wrong data. */
	static const uint8_t en[] = { 0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x31, 0x00 };
	n = apdu(c, en, sizeof(en), r);
	assert_int_equal(SW(r, n), 0x6A80);
	/* The old private form (80 appId) is no SGP.22 request: wrong data. */
	static const uint8_t en_priv[] = { 0x80, 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x31, 0x03,
		0x80, 0x01, 'x', 0x00 };
	n = apdu(c, en_priv, sizeof(en_priv), r);
	assert_int_equal(SW(r, n), 0x6A80);
	/* Enable of an unknown ICCID: iccidOrAidNotFound (1) in the response. */
	static const uint8_t en2[] = { 0x80, 0xE2, 0x91, 0x00, 0x14,
		0xBF, 0x31, 0x11,                              /* EnableProfileRequest */
		0xA0, 0x0C, 0x5A, 0x0A, 0x98, 0x44, 0x05, 0x10, /* profileIdentifier: iccid */
		0x20, 0x91, 0x38, 0x40, 0x28, 0xF6,
		0x81, 0x01, 0xFF,                              /* refreshFlag TRUE */
		0x00 };
	n = apdu(c, en2, sizeof(en2), r);
	static const uint8_t en2_resp[] = { 0xBF, 0x31, 0x03, 0x80, 0x01, 0x01, 0x90, 0x00 };
	assert_int_equal(n, sizeof(en2_resp));
	assert_memory_equal(r, en2_resp, sizeof(en2_resp));

	/* Unsupported INS / CLA, wrong lengths. */
	static const uint8_t ins[] = { 0x80, 0xCA, 0x00, 0x00, 0x00 };
	n = apdu(c, ins, sizeof(ins), r);
	assert_int_equal(SW(r, n), 0x6D00);
	static const uint8_t cla[] = { 0xFF, 0xA4, 0x04, 0x00 };
	n = apdu(c, cla, sizeof(cla), r);
	assert_int_equal(SW(r, n), 0x6E00);
	static const uint8_t sel_prop[] = { 0x80, 0xA4, 0x04, 0x00, 0x01, 0x00 };
	n = apdu(c, sel_prop, sizeof(sel_prop), r);
	assert_int_equal(SW(r, n), 0x6E00);
	static const uint8_t sd_inter[] = { 0x00, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x2D, 0x00 };
	n = apdu(c, sd_inter, sizeof(sd_inter), r);
	assert_int_equal(SW(r, n), 0x6E00);
	static const uint8_t shortc[] = { 0x80, 0xE2 };
	n = apdu(c, shortc, sizeof(shortc), r);
	assert_int_equal(SW(r, n), 0x6700);
	static const uint8_t lcbad[] = { 0x80, 0xE2, 0x91, 0x00, 0x05, 0xBF, 0x2D };
	n = apdu(c, lcbad, sizeof(lcbad), r);
	assert_int_equal(SW(r, n), 0x6700);

	/* Logical channel 1: opened, ISD-R not yet selected there. */
	static const uint8_t mc_open[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
	n = apdu(c, mc_open, sizeof(mc_open), r);
	assert_int_equal(n, 3);
	assert_int_equal(r[0], 0x01);
	assert_int_equal(SW(r, n), 0x9000);
	uint8_t getdata1[sizeof(getdata)];
	memcpy(getdata1, getdata, sizeof(getdata));
	getdata1[0] = 0x81;
	n = apdu(c, getdata1, sizeof(getdata1), r);
	assert_int_equal(SW(r, n), 0x6985);
	uint8_t sel1[sizeof(sel)];
	memcpy(sel1, sel, sizeof(sel));
	sel1[0] = 0x01;
	sel1[3] = 0x0C;
	n = apdu(c, sel1, sizeof(sel1), r);
	assert_int_equal(n, 2);
	assert_int_equal(SW(r, n), 0x9000);
	n = apdu(c, getdata1, sizeof(getdata1), r);
	assert_int_equal(SW(r, n), 0x6115);
	static const uint8_t mc_close[] = { 0x00, 0x70, 0x80, 0x01 };
	n = apdu(c, mc_close, sizeof(mc_close), r);
	assert_int_equal(SW(r, n), 0x9000);
	n = apdu(c, getdata1, sizeof(getdata1), r);
	assert_int_equal(SW(r, n), 0x6881);
	/* Channel 5 (further inter-industry class) is not open. */
	static const uint8_t ch5[] = { 0x41, 0xA4, 0x04, 0x0C, 0x01, 0x00 };
	n = apdu(c, ch5, sizeof(ch5), r);
	assert_int_equal(SW(r, n), 0x6881);

	/* Reset drops the selection. */
	se_card_reset(c);
	n = apdu(c, getdata, sizeof(getdata), r);
	assert_int_equal(SW(r, n), 0x6985);
	se_card_free(c);
	se_card_free(NULL);
}

/* ---- vpcd: tapshare-se serve as a child process ---- */

static int
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
stop_child(pid_t pid, int *status)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	fail_msg("tapshare-se did not stop on SIGTERM");
}

static void
test_vpcd_serve(void **st)
{
	(void)st;
	char state[256];
	new_state(state, sizeof(state));
	se_driver *d = open_inproc(state);
	uint8_t *notif = NULL;
	size_t nlen = 0;
	download(d, "over-vpcd", 0, 20, &notif, &nlen);
	free(notif);
	se_driver_free(d);

	assert_int_equal(access("./tapshare-se", X_OK), 0);
	int port = free_port(), port2 = free_port();
	char listen1[32], listen2[32];
	snprintf(listen1, sizeof(listen1), "127.0.0.1:%d", port);
	snprintf(listen2, sizeof(listen2), "127.0.0.1:%d", port2);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("./tapshare-se", "tapshare-se", "serve", "--state", state, "--listen",
		    listen1, "--listen", listen2, (char *)NULL);
		_exit(127);
	}
	char spec[64];
	snprintf(spec, sizeof(spec), "vpcd:%s", listen1);
	d = NULL;
	for (int i = 0; i < 100 && se_driver_open(spec, &d) != 0; i++)
		sleep_ms(50);
	if (d == NULL) {
		int status;
		stop_child(pid, &status);
		fail_msg("cannot connect to tapshare-se serve on %s", listen1);
	}
	assert_string_equal(se_driver_name(d), "vpcd");
	eid_t e;
	assert_int_equal(se_get_eid(d, &e), 0);
	assert_string_equal(e.digits, TEST_EID);
	se_app apps[4];
	size_t n = 0;
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(apps[0].app_id, "over-vpcd");
	assert_int_equal(apps[0].enabled, 1);
	/* A state change through the wire. */
	assert_int_equal(se_disable(d, "over-vpcd"), 0);
	/* Reset (control 02) drops the selection; the client re-selects. */
	assert_int_equal(se_driver_reset(d), 0);
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(apps[0].enabled, 0);

	/* The second slot answers too (the first keeps its connection). */
	se_driver *d2 = NULL;
	snprintf(spec, sizeof(spec), "vpcd:%s", listen2);
	assert_int_equal(se_driver_open(spec, &d2), 0);
	assert_int_equal(se_get_eid(d2, &e), 0);
	assert_string_equal(e.digits, TEST_EID);
	se_driver_free(d2);

	/* Raw frames: ATR request, and a bad APDU answered 6700. */
	se_driver_free(d);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int connected = -1;
	for (int i = 0; i < 100 && connected != 0; i++) {
		connected = connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (connected != 0)
			sleep_ms(50);
	}
	assert_int_equal(connected, 0);
	static const uint8_t frames[] = { 0x00, 0x01, 0x01, 0x00, 0x01, 0x04 };
	assert_int_equal(write(fd, frames, sizeof(frames)), (ssize_t)sizeof(frames));
	uint8_t in[16];
	size_t got = 0;
	while (got < 7) {
		ssize_t r = read(fd, in + got, sizeof(in) - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	static const uint8_t want_atr[] = { 0x00, 0x05, 0x3B, 0x80, 0x80, 0x01, 0x01 };
	assert_memory_equal(in, want_atr, 7);
	static const uint8_t badapdu[] = { 0x00, 0x02, 0x80, 0xE2 };
	assert_int_equal(write(fd, badapdu, sizeof(badapdu)), (ssize_t)sizeof(badapdu));
	got = 0;
	while (got < 4) {
		ssize_t r = read(fd, in + got, sizeof(in) - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	static const uint8_t want_sw[] = { 0x00, 0x02, 0x67, 0x00 };
	assert_memory_equal(in, want_sw, 4);
	close(fd);

	int status = 0;
	stop_child(pid, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* The change made over vpcd is in the state file. */
	d = open_inproc(state);
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(apps[0].enabled, 0);
	se_driver_free(d);
}

static void
test_driver_specs(void **st)
{
	(void)st;
	se_driver *d = NULL;
	assert_int_equal(se_driver_open("bogus:x", &d), TS_EINVAL);
	assert_int_equal(se_driver_open("inproc:", &d), TS_EINVAL);
	/* No PC/SC service at a private socket path: a clear I/O error. */
	setenv("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm", 1);
	assert_int_equal(se_driver_open("pcsc:Some Reader", &d), TS_EIO);
	unsetenv("PCSCLITE_CSOCK_NAME");
	assert_int_equal(se_driver_open("vpcd:127.0.0.1", &d), TS_EINVAL);
	assert_int_equal(se_driver_open("vpcd:127.0.0.1:99999", &d), TS_EINVAL);
	assert_int_equal(se_driver_open("inproc:/nonexistent/se.state", &d), TS_ENOTFOUND);
	assert_null(d);
	se_driver_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_eid),
		cmocka_unit_test(test_init_wrong_eid),
		cmocka_unit_test(test_full_download),
		cmocka_unit_test(test_enable_disable_delete),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_tampered_package),
		cmocka_unit_test(test_auth_refusals),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_apdu_transport),
		cmocka_unit_test(test_driver_specs),
		cmocka_unit_test(test_vpcd_serve),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
