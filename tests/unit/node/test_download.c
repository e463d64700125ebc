/*
 * Unit tests for the node's ES9+ download service (src/node/download.c) and
 * the checks that need certificates (offers): every refusal the node makes
 * against a secure element, each shown with a request that differs from an
 * accepted one in exactly the one thing its check looks at, so removing the
 * check makes the test fail.
 *
 * The secure element here is written by the test from the SGP.22 layouts
 * (BF38 AuthenticateServerResponse, BF21 PrepareDownloadResponse, signed
 * notifications) so that it can also be a rogue one: an eUICC of a foreign
 * CI, one whose EID lies outside its EUM's range, another EID's key. The
 * keys come from two throw-away test PKIs generated in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/der.h"
#include "lib/eid.h"
#include "lib/es10.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/download.h"
#include "node/enroll.h"
#include "node/node.h"
#include "node/share.h"
#include "node/store.h"
#include "se/card.h"

#include "../sim_fixture.h"

/* The SIM a share delivers: the provider's ICCID and "sim-<ICCID>". */
#define SIM_ICCID "8944012345678901238"
#define SIM_APP "sim-" SIM_ICCID

#define EID "89049032123451234512345678901235"
#define EID2 "89049032123451234512345678901332"
#define EID_OUT "89001012012341234012345678901224" /* outside the EUM's prefix 89049032 */
#define ADDRESS "https://127.0.0.1:1"

static char top[64], pki_a[96], pki_b[96];

typedef struct fake_se {
	EVP_PKEY *key;
	uint8_t *cert, *eum;
	size_t cert_len, eum_len;
} fake_se;

/* the node's trust and keys (PKI A) */
static X509 *ci, *node_ca;
static EVP_PKEY *auth_key, *pb_key, *node_ca_key;
static uint8_t *auth_cert, *pb_cert; /* DPauth, DPpb (DER) */
static uint8_t dp_oid[64]; /* the SM-DP+ OID (DPauth's registeredID), content octets */
static size_t dp_oid_len;
static size_t auth_cert_len, pb_cert_len;
/* secure elements: genuine ones of PKI A, and PKI B's (foreign CI) */
static fake_se se_a, se_a2, se_out, se_foreign;

/* per test */
static char dir[96];
static store *st;
static share_svc svc;
static download_svc dsvc;
static int64_t alice, bob;

static uint8_t *
read_der(const char *path, size_t *len)
{
	X509 *c = NULL;
	uint8_t *der = NULL;
	assert_int_equal(pki_cert_load(path, &c), 0);
	assert_int_equal(pki_cert_to_der(c, &der, len), 0);
	X509_free(c);
	return der;
}

static void
load_se(fake_se *se, const char *pki, const char *eid)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/euicc-%s.key", pki, eid);
	assert_int_equal(pki_key_load(p, &se->key), 0);
	snprintf(p, sizeof(p), "%s/euicc-%s.crt", pki, eid);
	se->cert = read_der(p, &se->cert_len);
	snprintf(p, sizeof(p), "%s/eum.crt", pki);
	se->eum = read_der(p, &se->eum_len);
}

static void
free_se(fake_se *se)
{
	EVP_PKEY_free(se->key);
	free(se->cert);
	free(se->eum);
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/ts-dl-XXXXXX");
	if (mkdtemp(top) == NULL)
		return -1;
	snprintf(pki_a, sizeof(pki_a), "%s/pki-a", top);
	snprintf(pki_b, sizeof(pki_b), "%s/pki-b", top);
	const char *const eids_a[] = { EID, EID2, EID_OUT };
	const char *const eids_b[] = { EID };
	if (pki_testpki_generate(pki_a, "89049032", eids_a, 3) != 0 ||
	    pki_testpki_generate(pki_b, "89049032", eids_b, 1) != 0)
		return -1;
	char p[160];
	snprintf(p, sizeof(p), "%s/ci.crt", pki_a);
	assert_int_equal(pki_cert_load(p, &ci), 0);
	snprintf(p, sizeof(p), "%s/node-ca.crt", pki_a);
	assert_int_equal(pki_cert_load(p, &node_ca), 0);
	snprintf(p, sizeof(p), "%s/node-ca.key", pki_a);
	assert_int_equal(pki_key_load(p, &node_ca_key), 0);
	snprintf(p, sizeof(p), "%s/dpauth.key", pki_a);
	assert_int_equal(pki_key_load(p, &auth_key), 0);
	snprintf(p, sizeof(p), "%s/dpauth.crt", pki_a);
	auth_cert = read_der(p, &auth_cert_len);
	{
		/* the registeredID of DPauth's subjectAltName, read with OpenSSL */
		X509 *x = NULL;
		assert_int_equal(pki_cert_from_der(auth_cert, auth_cert_len, &x), 0);
		GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			if (g->type == GEN_RID && OBJ_length(g->d.registeredID) <= sizeof(dp_oid)) {
				dp_oid_len = OBJ_length(g->d.registeredID);
				memcpy(dp_oid, OBJ_get0_data(g->d.registeredID), dp_oid_len);
			}
		}
		GENERAL_NAMES_free(gens);
		X509_free(x);
		assert_true(dp_oid_len > 0);
	}
	snprintf(p, sizeof(p), "%s/dppb.key", pki_a);
	assert_int_equal(pki_key_load(p, &pb_key), 0);
	snprintf(p, sizeof(p), "%s/dppb.crt", pki_a);
	pb_cert = read_der(p, &pb_cert_len);
	load_se(&se_a, pki_a, EID);
	load_se(&se_a2, pki_a, EID2);
	load_se(&se_out, pki_a, EID_OUT);
	load_se(&se_foreign, pki_b, EID);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_free(ci);
	X509_free(node_ca);
	EVP_PKEY_free(node_ca_key);
	EVP_PKEY_free(auth_key);
	EVP_PKEY_free(pb_key);
	free(auth_cert);
	free(pb_cert);
	free_se(&se_a);
	free_se(&se_a2);
	free_se(&se_out);
	free_se(&se_foreign);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	return system(cmd) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/t-XXXXXX", top);
	if (mkdtemp(dir) == NULL)
		return -1;
	char db[128];
	snprintf(db, sizeof(db), "%s/node.db", dir);
	if (store_open(db, &st) != 0)
		return -1;
	memset(&svc, 0, sizeof(svc));
	svc.address = ADDRESS;
	/* The node trusts a second EUM for 89001012 (not in this PKI): S11
	 * accepts EID_OUT, so only the download's own EUM check can stop it. */
	svc.ein_prefixes = "89049032,89001012";
	svc.device_ca = node_ca;
	memset(&dsvc, 0, sizeof(dsvc));
	dsvc.share = &svc;
	dsvc.address = ADDRESS;
	dsvc.dpauth_key = auth_key;
	dsvc.dpauth_cert_der = auth_cert;
	dsvc.dpauth_cert_der_len = auth_cert_len;
	dsvc.dppb_key = pb_key;
	dsvc.dppb_cert_der = pb_cert;
	dsvc.dppb_cert_der_len = pb_cert_len;
	dsvc.ci = ci;
	store_provider p = { .name = "op", .url = "https://127.0.0.1:1", .ca_file = "/dev/null" };
	store_app a = { .app_id = "sim-a", .name = "A", .kind = "sim", .provider = "op", .shareable = 1 };
	store_app b = { .app_id = "sim-b", .name = "B", .kind = "sim", .provider = "op", .shareable = 1 };
	if (st->ops->user_add(st, "alice", "h", &alice) != 0 || st->ops->user_add(st, "bob", "h", &bob) != 0 ||
	    st->ops->provider_put(st, &p) != 0)
		return -1;
	a.user_id = alice;
	b.user_id = bob;
	if (st->ops->app_put(st, &a) != 0 || st->ops->app_put(st, &b) != 0 ||
	    st->ops->device_add(st, "dev-a", alice, "phone a") != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(st);
	st = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* An authorised share of sim-a for eid; its matching id in mid; cc_hash: the
 * SHA-256 (hex) of a confirmation code the share asks for, or NULL. */
static void
authorised_share_cc(const char *eid, char id[STORE_ID_MAX], char mid[STORE_ID_MAX], const char *cc_hash)
{
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = eid, .app_id = "sim-a", .cc_hash = cc_hash };
	store_share sh;
	share_why why;
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &why), 0);
	/* The provider's SIM credential (sp/credential.h): its ICCID, also the
	 * associated app id's tail, and its profile package. */
	static char cred[2048];
	uint8_t iccid[UPP_ICCID_LEN], *pkg = NULL;
	size_t pkg_len = 0;
	char *b64 = NULL;
	rsp_metadata unused;
	assert_int_equal(upp_iccid_encode(SIM_ICCID, iccid), 0);
	sim_fixture(iccid, &unused, &pkg, &pkg_len);
	assert_int_equal(ts_b64_encode(pkg, pkg_len, &b64), 0);
	snprintf(cred, sizeof(cred), "{\"iccid\":\"%s\",\"ki\":\"465b5ce8b199b49faa5f0a2ee238a6bc\","
	    "\"profile_package\":\"%s\"}", SIM_ICCID, b64);
	free(b64);
	free(pkg);
	share_grant g = { .assoc_app_id = SIM_APP, .assoc_name = "A watch", .assoc_kind = "sim",
		.credential_json = cred };
	assert_int_equal(share_authorise(&svc, st, sh.id, &g), 0);
	assert_int_equal(st->ops->share_get(st, sh.id, &sh), 0);
	snprintf(id, STORE_ID_MAX, "%s", sh.id);
	snprintf(mid, STORE_ID_MAX, "%s", sh.matching_id);
}

static void
authorised_share(const char *eid, char id[STORE_ID_MAX], char mid[STORE_ID_MAX])
{
	authorised_share_cc(eid, id, mid, NULL);
}

static enum share_state
state_of(const char *id)
{
	store_share sh;
	assert_int_equal(st->ops->share_get(st, id, &sh), 0);
	return sh.state;
}

typedef struct session {
	char tid[2 * RSP_TID_LEN + 1];
	es10_server_signed1 ss1;
} session;

/* The session whose package get_package delivered last (install results
 * name it). */
static char cur_tid[2 * RSP_TID_LEN + 1];

static int
initiate(const char *mid, session *s, download_why *why)
{
	uint8_t chal[RSP_CHALLENGE_LEN], *s1 = NULL, sig[64];
	size_t s1_len = 0;
	assert_int_equal(ts_random(chal, sizeof(chal)), 0);
	int rc = download_initiate(&dsvc, st, mid, ADDRESS, NULL, chal, s->tid, &s1, &s1_len, sig, why);
	if (rc == 0) {
		/* what the SE checks: the node's signature over serverSigned1 */
		EVP_PKEY *pub = NULL;
		X509 *c = NULL;
		assert_int_equal(pki_cert_from_der(auth_cert, auth_cert_len, &c), 0);
		pub = X509_get_pubkey(c);
		assert_int_equal(pki_verify(pub, s1, s1_len, sig), 0);
		EVP_PKEY_free(pub);
		X509_free(c);
		assert_int_equal(es10_server_signed1_decode(s1, s1_len, &s->ss1), 0);
		assert_memory_equal(s->ss1.euicc_challenge, chal, sizeof(chal));
	}
	free(s1);
	return rc;
}

/* euiccSigned1 answering session s for matching id mid. */
/* A minimal EUICCInfo2 (SGP.22 §5.7.8), written out by hand. */
static const uint8_t info2[] = {
	0xBF, 0x22, 0x22,                   /* EUICCInfo2, 34 bytes */
	0x81, 0x03, 0x02, 0x03, 0x01,       /* profileVersion */
	0x82, 0x03, 0x02, 0x02, 0x02,       /* svn */
	0x83, 0x03, 0x00, 0x01, 0x00,       /* euiccFirmwareVer */
	0x84, 0x00,                         /* extCardResource */
	0x85, 0x01, 0x00,                   /* uiccCapability */
	0x88, 0x01, 0x00,                   /* rspCapability */
	0xA9, 0x00, 0xAA, 0x00,             /* CI key id lists (empty) */
	0x04, 0x03, 0x00, 0x00, 0x00,       /* ppVersion */
	0x0C, 0x00,                         /* sasAcreditationNumber */
};

static void
good_es1(const session *s, const char *mid, es10_euicc_signed1 *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->tid, s->ss1.tid, s->ss1.tid_len);
	e->tid_len = s->ss1.tid_len;
	snprintf(e->server_address, sizeof(e->server_address), "%s", s->ss1.server_address);
	memcpy(e->server_challenge, s->ss1.server_challenge, RSP_CHALLENGE_LEN);
	e->euicc_info2.p = info2;
	e->euicc_info2.len = sizeof(info2);
	if (mid != NULL) {
		e->ctx.has_matching_id = 1;
		snprintf(e->ctx.matching_id, sizeof(e->ctx.matching_id), "%s", mid);
	}
}

/* BF38 { A0 { euiccSigned1, 5F37 signature, eUICC cert, EUM cert } }, signed
 * by signer (flip: one bit of the signature inverted). */
static void
bf38(const es10_euicc_signed1 *e, EVP_PKEY *signer, const fake_se *certs, int flip, uint8_t **out, size_t *len)
{
	uint8_t *es1 = NULL, sig[64];
	size_t es1_len = 0;
	assert_int_equal(es10_euicc_signed1_encode(e, &es1, &es1_len), 0);
	assert_int_equal(pki_sign(signer, es1, es1_len, sig), 0);
	if (flip)
		sig[63] ^= 0x01;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0xBF38);
	der_begin(&w, 0xA0);
	der_put_raw(&w, es1, es1_len);
	der_put(&w, 0x5F37, sig, sizeof(sig));
	der_put_raw(&w, certs->cert, certs->cert_len);
	der_put_raw(&w, certs->eum, certs->eum_len);
	der_end(&w);
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, out, len), 0);
	free(es1);
}

static int
authenticate(const session *s, const uint8_t *resp, size_t len, download_why *why)
{
	uint8_t *md = NULL, *s2 = NULL, sig2[64];
	size_t md_len = 0, s2_len = 0;
	int rc = download_authenticate(&dsvc, st, s->tid, resp, len, &md, &md_len, &s2, &s2_len, sig2, why);
	free(md);
	free(s2);
	return rc;
}

/* Authenticates session s as se (genuine answer). */
static int
authenticate_as(const session *s, const char *mid, const fake_se *se, download_why *why)
{
	es10_euicc_signed1 e;
	good_es1(s, mid, &e);
	uint8_t *resp = NULL;
	size_t len = 0;
	bf38(&e, se->key, se, 0, &resp, &len);
	int rc = authenticate(s, resp, len, why);
	free(resp);
	return rc;
}

static int
tx_stage(const session *s)
{
	store_tx tx;
	assert_int_equal(st->ops->tx_get(st, s->tid, &tx), 0);
	return tx.stage;
}

/* BF21 for session s, signed by se over euiccSigned2 || smdpSignature2
 * (signer: another key, or NULL for se's own). */
static const uint8_t *package_tid; /* euiccSigned2's transactionId if set (else the session's) */
static const uint8_t *package_hash_cc; /* euiccSigned2's hashCc if set */

static int
get_package_signed(const session *s, const fake_se *se, EVP_PKEY *signer, download_why *why)
{
	memcpy(cur_tid, s->tid, sizeof(cur_tid));
	store_tx tx;
	assert_int_equal(st->ops->tx_get(st, s->tid, &tx), 0);
	es10_euicc_signed2 e2;
	memset(&e2, 0, sizeof(e2));
	memcpy(e2.tid, package_tid ? package_tid : s->ss1.tid, RSP_TID_LEN);
	e2.tid_len = RSP_TID_LEN;
	EVP_PKEY *otk = NULL;
	assert_int_equal(pki_keygen(&otk), 0);
	assert_int_equal(pki_pubkey_to_point(otk, e2.euicc_otpk), 0);
	EVP_PKEY_free(otk);
	if (package_hash_cc != NULL) {
		e2.has_hash_cc = 1;
		memcpy(e2.hash_cc, package_hash_cc, 32);
	}
	uint8_t *es2 = NULL, buf[1024], sig[64];
	size_t es2_len = 0;
	assert_int_equal(es10_euicc_signed2_encode(&e2, &es2, &es2_len), 0);
	/* euiccSignature2 over euiccSigned2 || 5F37 40 smdpSignature2 */
	memcpy(buf, es2, es2_len);
	memcpy(buf + es2_len, "\x5F\x37\x40", 3);
	memcpy(buf + es2_len + 3, tx.smdp_sig2, 64);
	assert_int_equal(pki_sign(signer ? signer : se->key, buf, es2_len + 3 + 64, sig), 0);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0xBF21);
	der_begin(&w, 0xA0);
	der_put_raw(&w, es2, es2_len);
	der_put(&w, 0x5F37, sig, sizeof(sig));
	der_end(&w);
	der_end(&w);
	uint8_t *pdr = NULL, *bpp = NULL;
	size_t pdr_len = 0, bpp_len = 0;
	assert_int_equal(der_writer_finish(&w, &pdr, &pdr_len), 0);
	int rc = download_package(&dsvc, st, s->tid, pdr, pdr_len, &bpp, &bpp_len, why);
	if (rc == 0)
		assert_true(bpp_len > 100);
	free(bpp);
	free(pdr);
	free(es2);
	return rc;
}

static int
get_package(const session *s, const fake_se *se, download_why *why)
{
	return get_package_signed(s, se, NULL, why);
}

/* The eUICC's CancelSessionResponse for session s, written out from SGP.22
 * §5.7.14: BF41 { A0 { 30 { 80 transactionId, 81 smdpOid, 82 reason },
 * 5F37 signature over that 30 TLV } }, signed by signer; tid / oid override
 * the session's / the SM-DP+'s when not NULL; flip inverts a signature bit. */
static int
cancel_with(const session *s, EVP_PKEY *signer, const uint8_t *tid, const uint8_t *oid, size_t oid_len, int reason,
    int flip, download_why *why)
{
	der_writer w;
	uint8_t *signed_ = NULL, *csr = NULL, sig[64];
	size_t signed_len = 0, csr_len = 0;
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, tid ? tid : s->ss1.tid, RSP_TID_LEN);
	der_put(&w, 0x81, oid ? oid : dp_oid, oid ? oid_len : dp_oid_len);
	uint8_t r = (uint8_t)reason;
	der_put(&w, 0x82, &r, 1);
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, &signed_, &signed_len), 0);
	assert_int_equal(pki_sign(signer, signed_, signed_len, sig), 0);
	if (flip)
		sig[0] ^= 0x80;
	der_writer_init(&w);
	der_begin(&w, 0xBF41);
	der_begin(&w, 0xA0);
	der_put_raw(&w, signed_, signed_len);
	der_put(&w, 0x5F37, sig, sizeof(sig));
	der_end(&w);
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, &csr, &csr_len), 0);
	int rc = download_cancel(&dsvc, st, s->tid, csr, csr_len, why);
	free(csr);
	free(signed_);
	return rc;
}

static int
cancel(const session *s, int reason, download_why *why)
{
	return cancel_with(s, se_a.key, NULL, NULL, 0, reason, 0, why);
}

/* A standard SGP.22 notification about app on eid, signed by signer: for
 * RSP_EVENT_INSTALL the ProfileInstallationResult (BF37) of session cur_tid
 * (result 0 successResult, else errorResult with that errorReason), for
 * the others an OtherSignedNotification carrying the certificates of the
 * fake SE whose key signer is. The ICCID is the one tapshare gives app. */
static int notify_as(int event, int result, const char *eid, const char *app, EVP_PKEY *signer,
    const fake_se *certs, const char *tid, download_why *why);

static int
notify(int event, int result, const char *eid, const char *app, EVP_PKEY *signer, download_why *why)
{
	const fake_se *se = signer == se_a.key ? &se_a : signer == se_a2.key ? &se_a2
	    : signer == se_out.key ? &se_out : &se_foreign;
	return notify_as(event, result, eid, app, signer, se, cur_tid, why);
}

/* notify with the certificates of certs (OtherSignedNotification) and the
 * session tid (install result) chosen by the caller. */
static int
notify_as(int event, int result, const char *eid, const char *app, EVP_PKEY *signer,
    const fake_se *certs, const char *tid, download_why *why)
{
	eid_t e;
	char digits[ES10_ICCID_DIGITS_MAX + 1];
	es10_notif_metadata m;
	memset(&m, 0, sizeof(m));
	m.seq = 1;
	m.event = 1u << event;
	snprintf(m.address, sizeof(m.address), "%s", "127.0.0.1:1");
	m.has_iccid = 1;
	assert_int_equal(eid_parse(eid, &e), 0);
	assert_int_equal(es10_iccid_for_app(&e, app, digits), 0);
	assert_int_equal(es10_iccid_from_digits(digits, m.iccid), 0);
	uint8_t *nb = NULL;
	size_t nb_len = 0;
	if (event == RSP_EVENT_INSTALL) {
		es10_pir p;
		memset(&p, 0, sizeof(p));
		assert_int_equal(ts_hex_decode(tid, p.tid, sizeof(p.tid), &p.tid_len), 0);
		p.meta = m;
		p.has_smdp_oid = 1;
		static const uint8_t oid[] = { 0x2B, 0x06, 0x01, 0x04, 0x01 };
		memcpy(p.smdp_oid, oid, sizeof(oid));
		p.smdp_oid_len = sizeof(oid);
		p.success = result == 0;
		static const uint8_t aid[] = { 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF,
			0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x00 };
		memcpy(p.aid, aid, sizeof(aid));
		p.aid_len = sizeof(aid);
		p.bpp_command_id = ES10_BPP_LOAD_PROFILE_ELEMENTS;
		p.error_reason = result;
		assert_int_equal(es10_pir_sign(&p, signer, &nb, &nb_len), 0);
	} else {
		assert_int_equal(es10_other_notif_sign(&m, signer, certs->cert, certs->cert_len,
		    certs->eum, certs->eum_len, &nb, &nb_len), 0);
	}
	int rc = download_notification(&dsvc, st, nb, nb_len, NULL, why);
	free(nb);
	return rc;
}

static size_t
count_cmds(const char *eid, const char *share, const char *type)
{
	store_cmd c[32];
	size_t n = 0, k = 0;
	assert_int_equal(st->ops->cmds_pending(st, eid, 0, c, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].type, type) == 0 && strcmp(c[i].share_id, share) == 0)
			k++;
	return k;
}

static size_t
count_outbox(const char *share, const char *kind)
{
	store_outbox ob[32];
	size_t n = 0, k = 0;
	assert_int_equal(st->ops->outbox_claim(st, ts_now() + 100000, 1, ob, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(ob[i].kind, kind) == 0 && strcmp(ob[i].share_id, share) == 0)
			k++;
	assert_int_equal(st->ops->outbox_reset_leases(st), 0);
	return k;
}

/* The codes SGP.22 gives the refusal (written here from the specification's
 * tables, §5.6.1-§5.6.5 — never read from the node's own table). */
static void
assert_spec_code(const download_why *why, const char *subject, const char *reason)
{
	assert_string_equal(why->subject, subject);
	assert_string_equal(why->reason, reason);
}

/* ---- the accepted path ---------------------------------------------------- */

static void
test_download_accepted(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_string_equal(s.ss1.server_address, ADDRESS);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(tx_stage(&s), 2);
	/* PrepareDownloadResponse signed by another SE's key: no package */
	assert_int_not_equal(get_package_signed(&s, &se_a, se_a2.key, &why), 0);
	assert_non_null(strstr(why.msg, "euiccSignature2 does not verify"));
	assert_spec_code(&why, "8.1", "6.1");
	assert_int_equal(tx_stage(&s), 2);
	/* euiccSigned2 for another session, properly signed */
	session other;
	assert_int_equal(initiate(mid, &other, &why), 0);
	package_tid = other.ss1.tid;
	int prc = get_package(&s, &se_a, &why);
	package_tid = NULL;
	assert_int_not_equal(prc, 0);
	assert_non_null(strstr(why.msg, "euiccSigned2 is for another session"));
	assert_spec_code(&why, "8.10.1", "3.9");
	assert_int_equal(tx_stage(&s), 2);
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(tx_stage(&s), 3);
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_INSTALLED);
	assert_int_equal(count_cmds(EID, id, CMD_DOWNLOAD), 0);
}

/* SGP.22 initiateAuthentication carries no matchingId: the session is bound
 * to the share the eUICC's signed ctxParams1 names. */
static void
test_download_matching_id_in_ctx_params(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	dsvc.peer = "192.0.2.7";
	assert_int_equal(initiate(NULL, &s, &why), 0);
	store_tx tx;
	assert_int_equal(st->ops->tx_get(st, s.tid, &tx), 0);
	assert_string_equal(tx.share_id, DOWNLOAD_UNBOUND_PREFIX "192.0.2.7");
	/* no matchingId, an unknown one: refused, nothing recorded */
	assert_int_not_equal(authenticate_as(&s, NULL, &se_a, &why), 0);
	assert_non_null(strstr(why.msg, "matchingId in ctxParams1 is missing or unknown"));
	assert_string_equal(why.subject, "8.2.6");
	assert_int_not_equal(authenticate_as(&s, "no-such-matching-id", &se_a, &why), 0);
	assert_int_equal(tx_stage(&s), 1);
	/* the share's matchingId, but an SE of another EID: refused */
	assert_int_not_equal(authenticate_as(&s, mid, &se_a2, &why), 0);
	assert_non_null(strstr(why.msg, "the share is for"));
	assert_int_equal(tx_stage(&s), 1);
	/* the right SE */
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(tx_stage(&s), 2);
	assert_int_equal(st->ops->tx_get(st, s.tid, &tx), 0);
	assert_string_equal(tx.share_id, id);
	assert_string_equal(tx.eid, EID);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	dsvc.peer = NULL;
}

/* ---- authenticateClient refusals ----------------------------------------- */

/* Each refusal leaves the session where it was and nothing delivered. */
static void
assert_refused(const session *s, const char *id, int rc, const download_why *why, const char *words)
{
	assert_int_not_equal(rc, 0);
	if (strstr(why->msg, words) == NULL)
		print_message("refused with \"%s\", expected \"%s\"\n", why->msg, words);
	assert_non_null(strstr(why->msg, words));
	assert_int_equal(tx_stage(s), 1);
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
	uint8_t pub[65];
	assert_int_equal(st->ops->companion_pub(st, EID, pub), TS_ENOTFOUND);
}

static void
test_foreign_chain(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	/* same EID, same prefix, valid signature: only the CI differs */
	int rc = authenticate_as(&s, mid, &se_foreign, &why);
	assert_refused(&s, id, rc, &why, "not issued by the CI");
	assert_spec_code(&why, "8.11.1", "3.9"); /* CI Public Key - Unknown */
}

/* cert (DER) with its validity moved into the past (notBefore two days ago,
 * notAfter one day ago) and re-signed by the key in pki/<signer>.key: a
 * genuine certificate in every other respect. */
static uint8_t *
expired_copy(const uint8_t *der, size_t len, const char *signer, size_t *out_len)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	char p[160];
	snprintf(p, sizeof(p), "%s/%s.key", pki_a, signer);
	assert_int_equal(pki_key_load(p, &k), 0);
	assert_int_equal(pki_cert_from_der(der, len, &x), 0);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), -2, 0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), -1, 0, NULL));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	uint8_t *out = NULL;
	assert_int_equal(pki_cert_to_der(x, &out, out_len), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

/* SGP.22 names an expired certificate apart from a bad one: 8.1.3 / 6.3 for
 * the eUICC's, 8.1.2 / 6.3 for the EUM's (the node has seen both genuine
 * ones before, so its certificate cache must not let them through). */
static void
test_expired_certificates(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	session s;
	download_why why;
	fake_se x = se_a;
	/* warm the cache with a genuine chain of the same EUM (another EID:
	 * assert_refused checks that EID got no companion key) */
	authorised_share(EID2, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a2, &why), 0);

	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	x.cert = expired_copy(se_a.cert, se_a.cert_len, "eum", &x.cert_len);
	int rc = authenticate_as(&s, mid, &x, &why);
	assert_refused(&s, id, rc, &why, "eUICC certificate has expired");
	assert_spec_code(&why, "8.1.3", "6.3"); /* eUICC Certificate - Expired */
	free(x.cert);

	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	x.cert = se_a.cert;
	x.cert_len = se_a.cert_len;
	x.eum = expired_copy(se_a.eum, se_a.eum_len, "ci", &x.eum_len);
	rc = authenticate_as(&s, mid, &x, &why);
	assert_refused(&s, id, rc, &why, "EUM certificate has expired");
	assert_spec_code(&why, "8.1.2", "6.3"); /* EUM Certificate - Expired */
	free(x.eum);
}

static void
test_eid_outside_eum_range(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID_OUT, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	/* chains to the CI, certificate EID = share EID, valid signature; but
	 * its EUM may only issue EIDs starting 89049032 */
	int rc = authenticate_as(&s, mid, &se_out, &why);
	assert_int_not_equal(rc, 0);
	/* refused by the chain check (pki_verify_chain applies the SGP.22 rule) */
	assert_non_null(strstr(why.msg, "outside the issuer's nameConstraints"));
	assert_int_equal(tx_stage(&s), 1);
	assert_spec_code(&why, "8.1.3", "6.1"); /* eUICC Certificate - Verification failed */
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
}

static void
test_certificate_eid_is_not_the_share_eid(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	/* a genuine SE, but not the one the primary shared to */
	int rc = authenticate_as(&s, mid, &se_a2, &why);
	assert_refused(&s, id, rc, &why, "the share is for");
	assert_spec_code(&why, "8.1.1", "3.8"); /* EID - Refused */
}

static void
test_bad_euicc_signature1(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	es10_euicc_signed1 e;
	good_es1(&s, mid, &e);
	uint8_t *resp = NULL;
	size_t len = 0;
	bf38(&e, se_a.key, &se_a, 1, &resp, &len);
	int rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "euiccSignature1 does not verify");
	assert_spec_code(&why, "8.1", "6.1");
	/* signed by another genuine SE's key under this SE's certificate */
	bf38(&e, se_a2.key, &se_a, 0, &resp, &len);
	rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "euiccSignature1 does not verify");
}

static void
test_wrong_server_challenge(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	es10_euicc_signed1 e;
	good_es1(&s, mid, &e);
	e.server_challenge[0] ^= 0x80;
	uint8_t *resp = NULL;
	size_t len = 0;
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	int rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "this session's serverChallenge");
	assert_spec_code(&why, "8.1", "6.1");
}

static void
test_other_session_fields(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	es10_euicc_signed1 e;
	uint8_t *resp = NULL;
	size_t len = 0;
	/* matchingId of another share */
	good_es1(&s, mid, &e);
	e.ctx.matching_id[0] = e.ctx.matching_id[0] == 'a' ? 'b' : 'a';
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	int rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "matchingId in ctxParams1");
	assert_string_equal(why.subject, "8.2.6");
	assert_string_equal(why.reason, "3.8");
	/* no matchingId in ctxParams1 at all */
	good_es1(&s, NULL, &e);
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "matchingId in ctxParams1");
	/* the transactionId of another session (with this session's challenge) */
	session other;
	assert_int_equal(initiate(mid, &other, &why), 0);
	good_es1(&s, mid, &e);
	memcpy(e.tid, other.ss1.tid, RSP_TID_LEN);
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "is for another session");
	assert_spec_code(&why, "8.10.1", "3.9"); /* TransactionId - Unknown */
	/* another server's address */
	good_es1(&s, mid, &e);
	snprintf(e.server_address, sizeof(e.server_address), "https://evil.example");
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	rc = authenticate(&s, resp, len, &why);
	free(resp);
	assert_refused(&s, id, rc, &why, "another serverAddress");
	assert_spec_code(&why, "8.1", "6.1"); /* eUICC - Verification failed */
}

static void
test_replayed_authentication(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s1, s2;
	download_why why;
	assert_int_equal(initiate(mid, &s1, &why), 0);
	es10_euicc_signed1 e;
	good_es1(&s1, mid, &e);
	uint8_t *resp = NULL;
	size_t len = 0;
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	/* a recorded answer of session 1 replayed into session 2 */
	assert_int_equal(initiate(mid, &s2, &why), 0);
	int rc = authenticate(&s2, resp, len, &why);
	assert_refused(&s2, id, rc, &why, "is for another session");
	assert_spec_code(&why, "8.10.1", "3.9");
	/* and into session 1 again once it was used */
	assert_int_equal(authenticate(&s1, resp, len, &why), 0);
	rc = authenticate(&s1, resp, len, &why);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(why.msg, "not at this step"));
	free(resp);
}

/* ---- sessions for shares that are no longer downloadable ------------------ */

static void
test_session_for_revoked_or_denied_share(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	download_why why;
	session s, late;
	store_share sh;
	share_why swhy;
	authorised_share(EID, id, mid);
	/* a session opened before the cancel gets nothing after it */
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_not_equal(initiate(mid, &late, &why), 0);
	assert_non_null(strstr(why.msg, "nothing to download"));
	assert_spec_code(&why, "8.2.6", "3.8"); /* Matching ID - Refused */
	assert_int_not_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_non_null(strstr(why.msg, "nothing to download"));
	assert_spec_code(&why, "8.2.6", "3.8");

	/* cancelled between authenticateClient and getBoundProfilePackage */
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_non_null(strstr(why.msg, "no longer downloadable"));
	assert_spec_code(&why, "8.10.1", "3.9"); /* the session ended with the share */
	assert_int_equal(tx_stage(&s), 2);
	assert_int_equal(state_of(id), SHARE_REVOKED);

	/* a denied share has no session at all, even with its matching id known */
	authorised_share(EID, id, mid);
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	assert_int_equal(share_request(&svc, st, &r, NULL, &sh, &swhy), 0);
	assert_int_equal(share_deny(&svc, st, sh.id, "no"), 0);
	assert_int_not_equal(initiate("", &late, &why), 0);
	/* and a share that was authorised then failed is refused by state */
	assert_int_equal(share_fail(&svc, st, id, "broken", 0), 0);
	assert_int_not_equal(initiate(mid, &late, &why), 0);
	assert_non_null(strstr(why.msg, "nothing to download"));
}

/* An expired share's order: SGP.22 §5.6.1 / §5.6.3 "The Download order has
 * expired", subject 8.8.5 Download order, reason 4.10 Time to Live Expired
 * (the SGP.02 reason code; so read by an Android LPA's retry table, an
 * embedded eSIM stack's error enum and a Go LPA's SM-DP+ table; lpac's
 * es9p_errors.c lists "4.1", the trailing zero lost). */
static void
test_expired_order(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	session s, late;
	download_why why;
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(share_expire(&svc, st, id), 0);
	assert_int_equal(state_of(id), SHARE_EXPIRED);
	assert_int_not_equal(initiate(mid, &late, &why), 0);
	assert_spec_code(&why, "8.8.5", "4.10");
	/* the session opened before the expiry gets no further either */
	assert_int_not_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_spec_code(&why, "8.8.5", "4.10");
}

/* ---- notifications --------------------------------------------------------- */

static void
test_forged_notification(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	/* an install notification for EID signed by another SE's key */
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, SIM_APP, se_a2.key, &why), TS_EVERIFY);
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	/* a notification from an EID that never authenticated */
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID2, SIM_APP, se_a2.key, &why), TS_EVERIFY);
	/* the genuine one */
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_INSTALLED);
	/* a forged delete does not revoke it */
	store_share sh;
	share_why swhy;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, SIM_APP, se_a2.key, &why), TS_EVERIFY);
	assert_int_equal(state_of(id), SHARE_CANCEL_PENDING);
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
}

/* The standard notifications' own checks (node/notification.c), each with a
 * notification that differs from an accepted one in the one thing checked. */
static void
test_standard_notification_checks(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	/* install result of this session, eUICC-signed, naming another app's ICCID */
	assert_int_not_equal(notify(RSP_EVENT_INSTALL, 0, EID, "sim-other", se_a.key, &why), 0);
	assert_non_null(strstr(why.msg, "names ICCID"));
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	/* ... of a session the node never opened */
	assert_int_not_equal(notify_as(RSP_EVENT_INSTALL, 0, EID, SIM_APP, se_a.key, &se_a,
	    "00112233445566778899aabbccddeeff", &why), 0);
	assert_non_null(strstr(why.msg, "unknown transactionId"));
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_INSTALLED);

	store_share sh;
	share_why swhy;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(state_of(id), SHARE_CANCEL_PENDING);
	/* delete signed by the key of the certificate it carries, but that
	 * certificate is of a foreign CI */
	assert_int_not_equal(notify(RSP_EVENT_DELETE, 0, EID, SIM_APP, se_foreign.key, &why), 0);
	assert_non_null(strstr(why.msg, "does not chain"));
	/* an eUICC of our CI whose EID its EUM does not permit */
	assert_int_not_equal(notify(RSP_EVENT_DELETE, 0, EID_OUT, SIM_APP, se_out.key, &why), 0);
	assert_non_null(strstr(why.msg, "outside the issuer's nameConstraints"));
	/* the right certificate, another eUICC's signature */
	assert_int_not_equal(notify_as(RSP_EVENT_DELETE, 0, EID, SIM_APP, se_a2.key, &se_a,
	    cur_tid, &why), 0);
	assert_non_null(strstr(why.msg, "does not verify"));
	/* a genuine eUICC of our CI that never authenticated here */
	assert_int_not_equal(notify(RSP_EVENT_DELETE, 0, EID2, SIM_APP, se_a2.key, &why), 0);
	assert_non_null(strstr(why.msg, "not the eUICC key this node authenticated"));
	assert_int_equal(state_of(id), SHARE_CANCEL_PENDING);
	/* genuine, but about an app no pending delete is for: acknowledged, no change */
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, "sim-other", se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_CANCEL_PENDING);
	/* a disable settles nothing */
	assert_int_equal(notify(RSP_EVENT_DISABLE, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_CANCEL_PENDING);
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	/* An LPA deleting an installed profile on its own (no pending command):
	 * the delete notification still finds the share, which is revoked. */
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	store_share sh2;
	assert_int_equal(st->ops->share_get(st, id, &sh2), 0);
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, sh2.assoc_app_id, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_INSTALLED);
	assert_int_equal(count_cmds(EID, id, CMD_DELETE), 0);
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, sh2.assoc_app_id, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	/* The same, when the share is not the EID's newest: a share asked for
	 * since (not yet authorised: no app) is newer; the delete still finds
	 * the installed one among the EID's shares. */
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(st->ops->share_get(st, id, &sh2), 0);
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, sh2.assoc_app_id, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_INSTALLED);
	share_req newer = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a" };
	store_share shn;
	share_why swhy2;
	assert_int_equal(share_request(&svc, st, &newer, NULL, &shn, &swhy2), 0);
	store_share_app newest;
	size_t nn = 0;
	assert_int_equal(st->ops->shares_of_eid(st, EID, &newest, 1, &nn), 0);
	assert_int_equal(nn, 1);
	assert_string_equal(newest.id, shn.id);
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, sh2.assoc_app_id, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	/* not a PendingNotification at all */
	static const uint8_t junk[] = { 0xBF, 0x2F, 0x03, 0x80, 0x01, 0x01 };
	assert_int_equal(download_notification(&dsvc, st, junk, sizeof(junk), NULL, &why), TS_EVERIFY);
	assert_string_equal(why.reason, "2.1");
}

/* F3: the SE refuses the package (card full): the share fails with the
 * reason, the primary hears share.failed, the provider is told. */
static void
test_package_refused_by_se(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	/* a transport failure is not a refusal: the share stays deliverable */
	assert_int_equal(cancel(&s, ES10_CANCEL_TIMEOUT, &why), 0);
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	assert_int_equal(count_cmds(EID, id, CMD_DOWNLOAD), 1);
	session s2;
	assert_int_equal(initiate(mid, &s2, &why), 0);
	assert_int_equal(authenticate_as(&s2, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s2, &se_a, &why), 0);
	assert_int_equal(cancel(&s2, ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR, &why), 0);
	store_share sh;
	assert_int_equal(st->ops->share_get(st, id, &sh), 0);
	assert_int_equal(sh.state, SHARE_FAILED);
	assert_non_null(strstr(sh.reason, "loadBppExecutionError"));
	store_event ev[32];
	size_t n = 0, failed = 0;
	assert_int_equal(st->ops->events_after(st, alice, id, 0, ev, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		failed += strcmp(ev[i].type, "share.failed") == 0 && strstr(ev[i].data, "loadBppExecutionError");
	assert_int_equal(failed, 1);
	assert_int_equal(count_cmds(EID, id, CMD_DOWNLOAD), 0);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
	/* a repeated cancelSession changes nothing */
	assert_int_equal(cancel(&s2, ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR, &why), TS_ENOTFOUND);
	/* a failed install notification (SE signed) ends a share the same way */
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(notify(RSP_EVENT_INSTALL, 8, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_FAILED);
}

/* F1: a cancel of a delivered share whose package never reached the SE ends
 * at once (revoked, provider told); the delete stays pushed for the case the
 * package does arrive, and an install after the cancel pushes it again. */
static void
test_cancel_of_delivered_share(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	store_share sh;
	share_why swhy;
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(sh.state, SHARE_REVOKED);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
	assert_int_equal(count_cmds(EID, id, CMD_DELETE), 1);
	store_cmd c[8];
	size_t n = 0;
	assert_int_equal(st->ops->cmds_pending(st, EID, 0, c, 8, &n), 0);
	int64_t first = c[n - 1].id;
	/* the package did arrive after all: the delete goes out again */
	assert_int_equal(notify(RSP_EVENT_INSTALL, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_equal(st->ops->cmds_pending(st, EID, first, c, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].type, CMD_DELETE);
	assert_int_equal(notify(RSP_EVENT_DELETE, 0, EID, SIM_APP, se_a.key, &why), 0);
	assert_int_equal(count_cmds(EID, id, CMD_DELETE), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);

	/* cancel of an installed share waits for the SE; if the SE reports the
	 * package never installed (cancelSession after the package) it completes */
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(cancel(&s, ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_equal(count_cmds(EID, id, CMD_DELETE), 0);
}

/* ---- the status codes of SGP.22 §5.6.1 / §5.6.3 / §5.6.5 ------------------ */

/* initiateAuthentication: smdpAddress (8.8.1 / 3.8), the eUICC's CI lists
 * (8.8.4 / 3.7 verification, 8.8.2 / 3.1 signing), its SGP.22 version
 * (8.8.3 / 3.1). */
static void
test_initiate_codes(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	uint8_t chal[16], *s1 = NULL, sig1[64];
	size_t s1_len = 0;
	char tid[33];
	download_why why;
	assert_int_equal(ts_random(chal, sizeof(chal)), 0);
	/* EUICCInfo1 naming the CI's subjectKeyIdentifier in both lists */
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ci);
	assert_non_null(ski);
	es10_euicc_info1 good;
	memset(&good, 0, sizeof(good));
	good.svn[0] = 2;
	good.svn[1] = 2;
	good.svn[2] = 2;
	good.ci_verify.n = 1;
	memcpy(good.ci_verify.id[0], ski->data, (size_t)ski->length);
	good.ci_verify.len[0] = (size_t)ski->length;
	good.ci_sign = good.ci_verify;
	assert_int_equal(download_initiate(&dsvc, st, NULL, "127.0.0.1:1", &good, chal, tid, &s1, &s1_len, sig1, &why), 0);
	free(s1);
	s1 = NULL;
	/* the address compares case-insensitively, with or without a scheme */
	assert_int_equal(download_initiate(&dsvc, st, NULL, "HTTPS://127.0.0.1:1/", &good, chal, tid, &s1, &s1_len, sig1,
	    &why), 0);
	free(s1);
	s1 = NULL;
	assert_int_not_equal(download_initiate(&dsvc, st, NULL, "smdp.example:1", &good, chal, tid, &s1, &s1_len, sig1,
	    &why), 0);
	assert_spec_code(&why, "8.8.1", "3.8"); /* SM-DP+ Address - Refused */
	assert_null(s1);
	es10_euicc_info1 bad = good;
	bad.ci_verify.id[0][0] ^= 0x01;
	assert_int_not_equal(download_initiate(&dsvc, st, NULL, ADDRESS, &bad, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_spec_code(&why, "8.8.4", "3.7"); /* no CERT.DPauth under a CI the eUICC verifies with */
	assert_non_null(strstr(why.msg, "ForVerification"));
	bad = good;
	bad.ci_sign.n = 0;
	assert_int_not_equal(download_initiate(&dsvc, st, NULL, ADDRESS, &bad, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_spec_code(&why, "8.8.2", "3.1"); /* none of the proposed PKIds supported */
	assert_non_null(strstr(why.msg, "ForSigning"));
	/* a second CI beside ours is fine: the node picks its own */
	bad = good;
	bad.ci_verify.n = 2;
	memcpy(bad.ci_verify.id[1], bad.ci_verify.id[0], bad.ci_verify.len[0]);
	bad.ci_verify.len[1] = bad.ci_verify.len[0];
	bad.ci_verify.id[0][0] ^= 0x01;
	assert_int_equal(download_initiate(&dsvc, st, NULL, ADDRESS, &bad, chal, tid, &s1, &s1_len, sig1, &why), 0);
	free(s1);
	s1 = NULL;
	bad = good;
	bad.svn[0] = 1;
	assert_int_not_equal(download_initiate(&dsvc, st, NULL, ADDRESS, &bad, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_spec_code(&why, "8.8.3", "3.1"); /* Specification Version Number - Unsupported */
	/* the same checks for ES11 give the SM-DS's codes (§5.8.1) */
	bad = good;
	bad.ci_verify.id[0][0] ^= 0x01;
	assert_int_not_equal(download_check_info1(&dsvc, &bad, 1, &why), 0);
	assert_spec_code(&why, "8.9.4", "3.7");
	bad = good;
	bad.ci_sign.n = 0;
	assert_int_not_equal(download_check_info1(&dsvc, &bad, 1, &why), 0);
	assert_spec_code(&why, "8.9.2", "3.1");
	bad = good;
	bad.svn[0] = 1;
	assert_int_not_equal(download_check_info1(&dsvc, &bad, 1, &why), 0);
	assert_spec_code(&why, "8.9.3", "3.1");
	assert_int_equal(download_check_info1(&dsvc, &good, 1, &why), 0);
	/* an unknown matching ID named at once (tapshare's companion) */
	assert_int_not_equal(download_initiate(&dsvc, st, "no-such-id", ADDRESS, &good, chal, tid, &s1, &s1_len, sig1,
	    &why), 0);
	assert_spec_code(&why, "8.2.6", "3.8");
}

/* authenticateClient: which certificate of the eUICC's chain failed. */
static void
test_chain_codes(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	/* the EUM certificate's signature broken (last byte: inside the
	 * signature value), the eUICC certificate genuine */
	fake_se bad = se_a;
	uint8_t eum[4096], cert[4096];
	assert_true(se_a.eum_len <= sizeof(eum) && se_a.cert_len <= sizeof(cert));
	memcpy(eum, se_a.eum, se_a.eum_len);
	eum[se_a.eum_len - 1] ^= 0x01;
	bad.eum = eum;
	int rc = authenticate_as(&s, mid, &bad, &why);
	assert_refused(&s, id, rc, &why, "EUM certificate refused");
	assert_spec_code(&why, "8.1.2", "6.1"); /* EUM Certificate - Verification failed */
	/* the eUICC certificate's signature broken, the EUM genuine */
	bad = se_a;
	memcpy(cert, se_a.cert, se_a.cert_len);
	cert[se_a.cert_len - 1] ^= 0x01;
	bad.cert = cert;
	rc = authenticate_as(&s, mid, &bad, &why);
	assert_refused(&s, id, rc, &why, "eUICC certificate does not chain");
	assert_spec_code(&why, "8.1.3", "6.1"); /* eUICC Certificate - Verification failed */
	/* a SEQUENCE that is no certificate */
	static uint8_t notcert[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	bad = se_a;
	bad.eum = notcert;
	bad.eum_len = sizeof(notcert);
	rc = authenticate_as(&s, mid, &bad, &why);
	assert_refused(&s, id, rc, &why, "malformed EUM certificate");
	assert_spec_code(&why, "8.1.2", "6.1");
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
}

/* cancelSession (§5.6.5): the eUICC's signed BF41 ends the session. */
static void
test_cancel_session_codes(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	/* before authenticateClient no eUICC key belongs to the session */
	assert_int_not_equal(cancel(&s, ES10_CANCEL_END_USER_REJECTION, &why), 0);
	assert_spec_code(&why, "8.1", "6.1");
	assert_int_equal(tx_stage(&s), 1);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	/* a broken signature, another eUICC's key */
	assert_int_not_equal(cancel_with(&s, se_a.key, NULL, NULL, 0, 0, 1, &why), 0);
	assert_spec_code(&why, "8.1", "6.1"); /* eUICC - Verification failed */
	assert_int_not_equal(cancel_with(&s, se_a2.key, NULL, NULL, 0, 0, 0, &why), 0);
	assert_spec_code(&why, "8.1", "6.1");
	/* another SM-DP+'s OID */
	uint8_t oid[64];
	memcpy(oid, dp_oid, dp_oid_len);
	oid[dp_oid_len - 1] ^= 0x01;
	assert_int_not_equal(cancel_with(&s, se_a.key, NULL, oid, dp_oid_len, 0, 0, &why), 0);
	assert_spec_code(&why, "8.8", "3.10"); /* SM-DP+ - Invalid association */
	/* signed for another session */
	uint8_t other[RSP_TID_LEN];
	memcpy(other, s.ss1.tid, RSP_TID_LEN);
	other[0] ^= 0x01;
	assert_int_not_equal(cancel_with(&s, se_a.key, other, NULL, 0, 0, 0, &why), 0);
	assert_spec_code(&why, "8.10.1", "3.9"); /* TransactionId - Unknown */
	/* not a CancelSessionResponse; the eUICC's error answer */
	static const uint8_t junk[] = { 0xBF, 0x2F, 0x03, 0x80, 0x01, 0x01 };
	assert_int_not_equal(download_cancel(&dsvc, st, s.tid, junk, sizeof(junk), &why), 0);
	assert_spec_code(&why, "1.6", "2.1"); /* Function - Invalid */
	static const uint8_t err[] = { 0xBF, 0x41, 0x03, 0x81, 0x01, 0x05 }; /* invalidTransactionId */
	assert_int_not_equal(download_cancel(&dsvc, st, s.tid, err, sizeof(err), &why), 0);
	assert_spec_code(&why, "8.1", "3.8");
	/* an unknown session */
	session none = s;
	memset(none.tid, 'A', 32);
	assert_int_not_equal(cancel(&none, 0, &why), 0);
	assert_spec_code(&why, "8.10.1", "3.9");
	assert_int_equal(tx_stage(&s), 2);
	/* the genuine one, postponed: the session ends, the share stays downloadable */
	assert_int_equal(cancel(&s, ES10_CANCEL_POSTPONED, &why), 0);
	assert_int_equal(tx_stage(&s), 9);
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_spec_code(&why, "8.10.1", "3.9");
	assert_int_not_equal(cancel(&s, ES10_CANCEL_POSTPONED, &why), 0);
	assert_spec_code(&why, "8.10.1", "3.9");
	/* timeout and undefinedReason keep it too; endUserRejection (like
	 * pprNotAllowed, metadataMismatch) ends the share: tapshare's policy by
	 * reason (docs/protocol.md; §5.6.5's steps do not depend on it) */
	static const int kept[] = { ES10_CANCEL_TIMEOUT, ES10_CANCEL_UNDEFINED_REASON };
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		assert_int_equal(initiate(mid, &s, &why), 0);
		assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
		assert_int_equal(cancel(&s, kept[i], &why), 0);
		assert_int_equal(state_of(id), SHARE_AUTHORISED);
	}
	assert_int_equal(initiate(mid, &s, &why), 0);
	assert_int_equal(authenticate_as(&s, mid, &se_a, &why), 0);
	assert_int_equal(cancel(&s, ES10_CANCEL_END_USER_REJECTION, &why), 0);
	assert_int_equal(tx_stage(&s), 9);
	assert_int_equal(state_of(id), SHARE_FAILED);
}

/* SHA-256(SHA-256(code) || transactionId), computed here with OpenSSL alone
 * (SGP.22 §3.1.2 Confirmation Code). */
static void
spec_hash_cc(const char *code, const uint8_t tid[RSP_TID_LEN], uint8_t out[32])
{
	uint8_t h1[32], buf[32 + RSP_TID_LEN];
	assert_non_null(SHA256((const unsigned char *)code, strlen(code), h1));
	memcpy(buf, h1, 32);
	memcpy(buf + 32, tid, RSP_TID_LEN);
	assert_non_null(SHA256(buf, sizeof(buf), out));
}

/* The smdpSigned2 authenticateClient answers s with (caller frees). */
static uint8_t *
authenticate_s2(const session *s, const char *mid, size_t *s2_len, download_why *why)
{
	es10_euicc_signed1 e;
	good_es1(s, mid, &e);
	uint8_t *resp = NULL, *md = NULL, *s2 = NULL, sig2[64];
	size_t len = 0, md_len = 0;
	bf38(&e, se_a.key, &se_a, 0, &resp, &len);
	assert_int_equal(download_authenticate(&dsvc, st, s->tid, resp, len, &md, &md_len, &s2, s2_len, sig2, why), 0);
	free(resp);
	free(md);
	return s2;
}

/* A share with a confirmation code: ccRequiredFlag TRUE, hashCc checked,
 * a bounded number of wrong codes, then the share ends. */
static void
test_confirmation_code(void **state)
{
	(void)state;
	char id[STORE_ID_MAX], mid[STORE_ID_MAX], hex[65];
	uint8_t h[32], hcc[32];
	assert_non_null(SHA256((const unsigned char *)"31415926", 8, h));
	ts_hex_encode(h, 32, hex, sizeof(hex));
	authorised_share_cc(EID, id, mid, hex);
	session s;
	download_why why;
	assert_int_equal(initiate(mid, &s, &why), 0);
	size_t s2_len = 0;
	uint8_t *s2 = authenticate_s2(&s, mid, &s2_len, &why);
	/* smdpSigned2 = 30 L { 80 10 tid, 01 01 FF }: ccRequiredFlag TRUE */
	assert_int_equal(s2_len, 2 + 18 + 3);
	assert_memory_equal(s2 + 2 + 18, "\x01\x01\xFF", 3);
	free(s2);
	/* no hashCc */
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_spec_code(&why, "8.2.7", "2.2"); /* Confirmation Code - Mandatory element missing */
	/* a wrong code, twice */
	spec_hash_cc("27182818", s.ss1.tid, hcc);
	package_hash_cc = hcc;
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_spec_code(&why, "8.2.7", "3.8"); /* Confirmation Code - Refused */
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_spec_code(&why, "8.2.7", "3.8");
	assert_int_equal(state_of(id), SHARE_AUTHORISED);
	/* the right code, but for another transactionId */
	uint8_t other[RSP_TID_LEN];
	memcpy(other, s.ss1.tid, RSP_TID_LEN);
	other[0] ^= 0x01;
	spec_hash_cc("31415926", other, hcc);
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_spec_code(&why, "8.2.7", "6.4"); /* the third wrong one: Maximum number of retries exceeded */
	assert_int_equal(state_of(id), SHARE_FAILED);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
	spec_hash_cc("31415926", s.ss1.tid, hcc);
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);

	/* another share: the right code is accepted after a wrong one */
	authorised_share_cc(EID, id, mid, hex);
	assert_int_equal(initiate(mid, &s, &why), 0);
	s2 = authenticate_s2(&s, mid, &s2_len, &why);
	free(s2);
	spec_hash_cc("31415927", s.ss1.tid, hcc);
	assert_int_not_equal(get_package(&s, &se_a, &why), 0);
	assert_spec_code(&why, "8.2.7", "3.8");
	spec_hash_cc("31415926", s.ss1.tid, hcc);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	assert_int_equal(state_of(id), SHARE_DELIVERED);
	package_hash_cc = NULL;

	/* a share without one: ccRequiredFlag FALSE, no hashCc needed */
	authorised_share(EID, id, mid);
	assert_int_equal(initiate(mid, &s, &why), 0);
	s2 = authenticate_s2(&s, mid, &s2_len, &why);
	assert_memory_equal(s2 + s2_len - 3, "\x01\x01\x00", 3);
	free(s2);
	assert_int_equal(get_package(&s, &se_a, &why), 0);
	/* the hash the primary sends must be one */
	share_req r = { .user_id = alice, .device_id = "dev-a", .eid = EID, .app_id = "sim-a", .cc_hash = "31415926" };
	store_share sh;
	share_why swhy;
	assert_int_not_equal(share_request(&svc, st, &r, NULL, &sh, &swhy), 0);
	assert_string_equal(swhy.code, "bad_confirmation_code_hash");
}

/* ---- with the real secure element --------------------------------------- */

static se_driver *
open_se(const char *state)
{
	char spec[200];
	snprintf(spec, sizeof(spec), "inproc:%s", state);
	se_driver *d = NULL;
	assert_int_equal(se_driver_open(spec, &d), 0);
	return d;
}

static size_t
se_count(const char *state, const char *app)
{
	se_driver *d = open_se(state);
	se_app apps[8];
	size_t n = 0, k = 0;
	assert_int_equal(se_list_apps(d, apps, 8, &n), 0);
	for (size_t i = 0; i < n; i++)
		k += strcmp(apps[i].app_id, app) == 0;
	se_driver_free(d);
	return k;
}

/* The whole download against tapshare-se's card (ES10 in process): the node's
 * answers are what a real SE accepts, installs and deletes; a delete is on
 * disk at once (a second handle on the state file sees it gone). */
static void
test_real_se(void **state)
{
	(void)state;
	char se_state[160];
	snprintf(se_state, sizeof(se_state), "%s/se.state", dir);
	assert_int_equal(se_card_init_state(se_state, pki_a, EID), 0);
	se_driver *d = open_se(se_state);
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	authorised_share(EID, id, mid);
	uint8_t chal[16], *s1 = NULL, sig1[64], *bf38r = NULL, *md = NULL, *s2 = NULL, sig2[64], *bf21r = NULL;
	uint8_t *bpp = NULL, *notif = NULL;
	size_t s1_len = 0, bf38_len = 0, md_len = 0, s2_len = 0, bf21_len = 0, bpp_len = 0, nlen = 0;
	char tid[33];
	download_why why;
	es10_euicc_info1 i1;
	assert_int_equal(se_get_euicc_info1(d, &i1), 0);
	assert_int_equal(se_get_challenge(d, chal), 0);
	assert_int_equal(download_initiate(&dsvc, st, mid, ADDRESS, &i1, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_int_equal(se_authenticate_server(d, s1, s1_len, sig1, auth_cert, auth_cert_len, mid, &bf38r, &bf38_len), 0);
	assert_int_equal(download_authenticate(&dsvc, st, tid, bf38r, bf38_len, &md, &md_len, &s2, &s2_len, sig2, &why), 0);
	assert_int_equal(se_prepare_download(d, s2, s2_len, sig2, pb_cert, pb_cert_len, &bf21r, &bf21_len), 0);
	assert_int_equal(download_package(&dsvc, st, tid, bf21r, bf21_len, &bpp, &bpp_len, &why), 0);
	assert_int_equal(se_load_package(d, bpp, bpp_len, &notif, &nlen), 0);
	assert_int_equal(download_notification(&dsvc, st, notif, nlen, NULL, &why), 0);
	assert_int_equal(state_of(id), SHARE_INSTALLED);
	assert_int_equal(se_count(se_state, SIM_APP), 1);
	free(notif);
	notif = NULL;
	store_share sh;
	share_why swhy;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(se_delete(d, SIM_APP, &notif, &nlen), 0);
	assert_int_equal(se_count(se_state, SIM_APP), 0); /* on disk before anything else */
	assert_int_equal(download_notification(&dsvc, st, notif, nlen, NULL, &why), 0);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	se_driver_free(d);
	free(s1);
	free(bf38r);
	free(md);
	free(s2);
	free(bf21r);
	free(bpp);
	free(notif);
}

/* ---- offers (claims 20/33) --------------------------------------------------- */

/* A device certificate from the node CA for a new key; its id in device_id. */
static void
device(EVP_PKEY **key, uint8_t **der, size_t *len, char device_id[65], X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *c = NULL;
	assert_int_equal(pki_keygen(key), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_TLS_CLIENT, .cn = "phone", .org = "tapshare device", .days = 1 };
	assert_int_equal(pki_issue(issuer, issuer_key, *key, &o, &c), 0);
	assert_int_equal(pki_cert_pubkey_id(c, device_id), 0);
	assert_int_equal(pki_cert_to_der(c, der, len), 0);
	X509_free(c);
}

/* The EID the offer is bound to (the one the primary read; issue 8). */
static const char *offer_eid = EID;

static int
redeem(const char *app, EVP_PKEY *key, const uint8_t *cert, size_t cert_len, const char *device_id,
    int64_t expires_at, uint8_t nonce0, share_why *why, store_share *sh)
{
	rsp_offer o;
	memset(&o, 0, sizeof(o));
	snprintf(o.eid, sizeof(o.eid), "%s", offer_eid);
	snprintf(o.app_id, sizeof(o.app_id), "%s", app);
	snprintf(o.device_id, sizeof(o.device_id), "%s", device_id);
	o.expires_at = expires_at;
	o.nonce[0] = nonce0;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(rsp_offer_sign(&o, key, cert, cert_len, &buf, &len), 0);
	rsp_offer d;
	assert_int_equal(rsp_offer_decode(buf, len, &d), 0);
	int rc = share_offer_redeem(&svc, st, EID, &d, sh, why);
	free(buf);
	return rc;
}

static void
test_offers(void **state)
{
	(void)state;
	EVP_PKEY *ka = NULL, *kb = NULL, *kx = NULL, *rogue_ca_key = NULL;
	uint8_t *ca = NULL, *cb = NULL, *cx = NULL;
	size_t la = 0, lb = 0, lx = 0;
	char ida[65], idb[65], idx[65];
	device(&ka, &ca, &la, ida, node_ca, node_ca_key);
	device(&kb, &cb, &lb, idb, node_ca, node_ca_key);
	/* a "device" certified by a CA the node does not run */
	X509 *rogue_ca = NULL;
	assert_int_equal(pki_keygen(&rogue_ca_key), 0);
	pki_issue_opts ro = { .profile = PKI_PROFILE_ROOT_CA, .cn = "rogue", .days = 1 };
	assert_int_equal(pki_issue(NULL, rogue_ca_key, rogue_ca_key, &ro, &rogue_ca), 0);
	device(&kx, &cx, &lx, idx, rogue_ca, rogue_ca_key);
	assert_int_equal(st->ops->device_add(st, ida, alice, "alice's phone"), 0);
	assert_int_equal(st->ops->device_add(st, idb, bob, "bob's phone"), 0);
	assert_int_equal(st->ops->device_add(st, idx, alice, "rogue"), 0);
	int64_t exp = ts_now() + 600;
	share_why why;
	store_share sh;

	/* another user's device offers alice's app */
	assert_int_equal(redeem("sim-a", kb, cb, lb, idb, exp, 1, &why, &sh), TS_EAUTH);
	assert_string_equal(why.code, "app_not_owned");
	/* a certificate the node CA did not issue */
	assert_int_equal(redeem("sim-a", kx, cx, lx, idx, exp, 2, &why, &sh), TS_EVERIFY);
	assert_string_equal(why.code, "offer_untrusted");
	/* the device id is not the certificate's key */
	assert_int_equal(redeem("sim-a", ka, ca, la, idb, exp, 3, &why, &sh), TS_EVERIFY);
	assert_string_equal(why.code, "offer_signature");
	/* expired, or living too long */
	assert_int_equal(redeem("sim-a", ka, ca, la, ida, ts_now() - 1, 4, &why, &sh), TS_EEXPIRED);
	assert_string_equal(why.code, "offer_expired");
	assert_int_equal(redeem("sim-a", ka, ca, la, ida, ts_now() + SHARE_OFFER_MAX_TTL_S + 60, 5, &why, &sh),
	    TS_EINVAL);
	/* an offer bound to no EID, or to another EID than the one redeeming it */
	offer_eid = "";
	assert_int_equal(redeem("sim-a", ka, ca, la, ida, exp, 7, &why, &sh), TS_EINVAL);
	assert_string_equal(why.code, "offer_unbound");
	offer_eid = "89049032123451234512345678901332";
	assert_int_equal(redeem("sim-a", ka, ca, la, ida, exp, 8, &why, &sh), TS_EDENIED);
	assert_string_equal(why.code, "offer_other_eid");
	offer_eid = EID;
	/* the accepted one, then its replay */
	assert_int_equal(redeem("sim-a", ka, ca, la, ida, exp, 6, &why, &sh), 0);
	assert_int_equal(sh.state, SHARE_EID_CONFIRMED);
	assert_int_equal(sh.user_id, alice);
	assert_int_equal(redeem("sim-a", ka, ca, la, ida, exp, 6, &why, &sh), TS_EEXIST);
	assert_string_equal(why.code, "offer_replayed");
	json_t *all = NULL;
	assert_int_equal(st->ops->shares_json(st, -1, &all), 0);
	assert_int_equal(json_array_size(all), 1);
	json_decref(all);
	/* a revoked device's offer */
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	EVP_PKEY_free(kx);
	EVP_PKEY_free(rogue_ca_key);
	X509_free(rogue_ca);
	free(ca);
	free(cb);
	free(cx);
}

/* F3 with the real card: a full SE refuses the package; its signed error
 * result fails the share with the SE's reason (share.failed to the primary,
 * cancelOrder to the provider), and a share cancelled while its package was on
 * the way completes the same way. */
static void
download_into(se_driver *d, const char *mid, uint8_t **pir, size_t *pir_len)
{
	uint8_t chal[16], *s1 = NULL, sig1[64], *bf38r = NULL, *md = NULL, *s2 = NULL, sig2[64], *bf21r = NULL;
	uint8_t *bpp = NULL, *notif = NULL;
	size_t s1_len = 0, bf38_len = 0, md_len = 0, s2_len = 0, bf21_len = 0, bpp_len = 0, nlen = 0;
	char tid[33];
	download_why why;
	es10_euicc_info1 i1;
	assert_int_equal(se_get_euicc_info1(d, &i1), 0);
	assert_int_equal(se_get_challenge(d, chal), 0);
	assert_int_equal(download_initiate(&dsvc, st, mid, ADDRESS, &i1, chal, tid, &s1, &s1_len, sig1, &why), 0);
	assert_int_equal(se_authenticate_server(d, s1, s1_len, sig1, auth_cert, auth_cert_len, mid, &bf38r, &bf38_len), 0);
	assert_int_equal(download_authenticate(&dsvc, st, tid, bf38r, bf38_len, &md, &md_len, &s2, &s2_len, sig2, &why), 0);
	assert_int_equal(se_prepare_download(d, s2, s2_len, sig2, pb_cert, pb_cert_len, &bf21r, &bf21_len), 0);
	assert_int_equal(download_package(&dsvc, st, tid, bf21r, bf21_len, &bpp, &bpp_len, &why), 0);
	assert_int_equal(se_load_package(d, bpp, bpp_len, &notif, &nlen), TS_ELIMIT); /* no room */
	assert_null(notif);
	/* the SE keeps its signed error result pending, as every notification */
	uint8_t **ns = NULL;
	size_t *ls = NULL, n = 0;
	assert_int_equal(se_pending_notifications(d, &ns, &ls, &n), 0);
	assert_true(n >= 1);
	*pir = ns[n - 1];
	*pir_len = ls[n - 1];
	for (size_t i = 0; i + 1 < n; i++)
		free(ns[i]);
	free(ns);
	free(ls);
	free(s1);
	free(bf38r);
	free(md);
	free(s2);
	free(bf21r);
	free(bpp);
}

static void
test_real_se_card_full(void **state)
{
	(void)state;
	char se_state[160];
	snprintf(se_state, sizeof(se_state), "%s/se.state", dir);
	assert_int_equal(se_card_init_state(se_state, pki_a, EID), 0);
	for (int i = 0; i < SE_MAX_APPS; i++) {
		char app[32];
		snprintf(app, sizeof(app), "filler-%d", i);
		assert_int_equal(se_card_preinstall(se_state, app, "service", "op", NULL), 0);
	}
	se_driver *d = open_se(se_state);
	char id[STORE_ID_MAX], mid[STORE_ID_MAX];
	uint8_t *pir = NULL;
	size_t pir_len = 0;
	download_why why;
	authorised_share(EID, id, mid);
	download_into(d, mid, &pir, &pir_len);
	assert_int_equal(download_notification(&dsvc, st, pir, pir_len, NULL, &why), 0);
	free(pir);
	store_share sh;
	assert_int_equal(st->ops->share_get(st, id, &sh), 0);
	assert_int_equal(sh.state, SHARE_FAILED);
	/* the SE's reason, by its SGP.22 name */
	assert_non_null(strstr(sh.reason, "installFailedDueToInsufficientMemoryForProfile"));
	store_event ev[32];
	size_t n = 0, failed = 0;
	assert_int_equal(st->ops->events_after(st, alice, id, 0, ev, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		failed += strcmp(ev[i].type, "share.failed") == 0;
	assert_int_equal(failed, 1);
	assert_int_equal(count_outbox(id, OUTBOX_CANCEL_ORDER), 1);
	assert_int_equal(count_cmds(EID, id, CMD_DOWNLOAD), 0);
	share_why swhy;
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), TS_ESTATE);

	/* cancelled while the package was on its way: the error result completes it */
	authorised_share(EID, id, mid);
	uint8_t *pir2 = NULL;
	size_t pir2_len = 0;
	/* the cancel lands between getBoundProfilePackage and the SE's answer */
	download_into(d, mid, &pir2, &pir2_len);
	assert_int_equal(share_cancel(&svc, st, alice, id, NULL, &sh, &swhy), 0);
	assert_int_equal(sh.state, SHARE_REVOKED);
	assert_int_equal(count_cmds(EID, id, CMD_DELETE), 1);
	assert_int_equal(download_notification(&dsvc, st, pir2, pir2_len, NULL, &why), 0);
	free(pir2);
	assert_int_equal(state_of(id), SHARE_REVOKED);
	assert_int_equal(count_cmds(EID, id, CMD_DELETE), 0);
	se_driver_free(d);
}

/* ---- enrollment ---------------------------------------------------------- */

static void
test_enroll(void **state)
{
	(void)state;
	char h[65];
	secret_hash("code-1", h);
	assert_int_equal(st->ops->enroll_code_add(st, h, alice, ts_now() + 600), 0);
	secret_hash("code-2", h);
	assert_int_equal(st->ops->enroll_code_add(st, h, alice, ts_now() + 600), 0);
	secret_hash("code-old", h);
	assert_int_equal(st->ops->enroll_code_add(st, h, alice, ts_now() - 1), 0);
	EVP_PKEY *k = NULL;
	X509_REQ *csr = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	assert_int_equal(pki_csr_new(k, "phone", &csr), 0);
	char id[65], id2[65];
	char *pem = NULL;
	int64_t uid = 0;
	share_why why;
	assert_int_equal(enroll_device(st, node_ca, node_ca_key, "nope", csr, "phone", id, &pem, &uid, &why),
	    TS_ENOTFOUND);
	assert_string_equal(why.code, "bad_enrollment_code");
	assert_null(pem);
	assert_int_equal(enroll_device(st, node_ca, node_ca_key, "code-old", csr, "phone", id, &pem, &uid, &why),
	    TS_EEXPIRED);
	assert_string_equal(why.code, "bad_enrollment_code");
	assert_int_equal(enroll_device(st, node_ca, node_ca_key, "code-1", csr, "phone", id, &pem, &uid, &why), 0);
	assert_int_equal(uid, alice);
	/* the certificate is the node CA's, for this key, and names the device */
	X509 *c = NULL;
	assert_int_equal(pki_cert_from_pem(pem, strlen(pem), &c), 0);
	char err[128];
	assert_int_equal(pki_verify_chain(node_ca, NULL, c, err, sizeof(err)), 0);
	assert_int_equal(pki_cert_pubkey_id(c, id2), 0);
	assert_string_equal(id, id2);
	X509_free(c);
	free(pem);
	pem = NULL;
	int64_t owner = 0;
	assert_int_equal(st->ops->device_user(st, id, &owner), 0);
	assert_int_equal(owner, alice);
	/* a used code, and the same key twice */
	assert_int_equal(enroll_device(st, node_ca, node_ca_key, "code-1", csr, "phone", id, &pem, &uid, &why),
	    TS_ESTATE);
	assert_string_equal(why.code, "bad_enrollment_code");
	assert_int_equal(enroll_device(st, node_ca, node_ca_key, "code-2", csr, "phone", id, &pem, &uid, &why),
	    TS_EEXIST);
	assert_string_equal(why.code, "device_exists");
	assert_null(pem);
	/* the refused attempt did not use code-2 */
	EVP_PKEY *k2 = NULL;
	X509_REQ *csr2 = NULL;
	assert_int_equal(pki_keygen(&k2), 0);
	assert_int_equal(pki_csr_new(k2, "tablet", &csr2), 0);
	assert_int_equal(enroll_device(st, node_ca, node_ca_key, "code-2", csr2, "tablet", id2, &pem, &uid, &why), 0);
	free(pem);
	X509_REQ_free(csr);
	X509_REQ_free(csr2);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

int
main(void)
{
	ts_log_init("test_download", TS_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_download_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_download_matching_id_in_ctx_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_certificates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eid_outside_eum_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_eid_is_not_the_share_eid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_euicc_signature1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_server_challenge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_session_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_authentication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_for_revoked_or_denied_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_notification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standard_notification_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_package_refused_by_se, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initiate_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_session_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confirmation_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_of_delivered_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_se, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_se_card_full, setup, teardown),
	};
	return cmocka_run_group_tests_name("download", tests, group_setup, group_teardown);
}
