/*
 * test_es10_se.c — tapshare-se's ISD-R as an SGP.22 eUICC, driven with raw
 * APDUs on logical channels the way a standard LPA drives one: MANAGE
 * CHANNEL, SELECT of the ISD-R, STORE DATA with CLA 8x / Cx, GET RESPONSE.
 * The test plays the SM-DP+ for the download (as test_card.c does), checks
 * each function's answer — exact bytes where the answer is fixed, decoded
 * fields otherwise — and each refusal's exact SGP.22 result code; verifies
 * the notification signatures with OpenSSL over exactly the bytes SGP.22
 * names; checks ICCIDs (Luhn, nibble swap) by hand; and drives the
 * credential applet. Every structure the SE emits is handed to the asn1c
 * check (tests/asn1/dump.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../md_fixture.h"
#include "lib/bsp.h"
#include "lib/credapplet.h"
#include "lib/der.h"
#include "lib/eid.h"
#include "lib/es10.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

#include "../../asn1/dump.h"
#include "../hex_fixture.h"
#include "../sim_fixture.h"

#define TEST_EID "89049032123451234512345678901235"
#define SERVER_ADDRESS "node.test:8443"

static char dir[64];
static char pki_dir[128];
/* node_*: the test PKI's DPpb; auth_*: its DPauth (SGP.22: two certificates) */
static EVP_PKEY *node_key, *auth_key, *ci_key, *euicc_pub;
static X509 *node_cert, *ci_cert;
static uint8_t *node_cert_der, *auth_der;
static size_t node_cert_der_len, auth_der_len;
static int state_counter;

static int
group_setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/ts-es10se-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
	const char *eids[] = { TEST_EID };
	if (pki_testpki_generate(pki_dir, "89049032", eids, 1) != 0)
		return -1;
	char p[256];
	X509 *euicc = NULL;
	snprintf(p, sizeof(p), "%s/dppb.key", pki_dir);
	if (pki_key_load(p, &node_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dppb.crt", pki_dir);
	if (pki_cert_load(p, &node_cert) != 0 || pki_cert_to_der(node_cert, &node_cert_der, &node_cert_der_len) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dpauth.key", pki_dir);
	if (pki_key_load(p, &auth_key) != 0)
		return -1;
	X509 *ac = NULL;
	snprintf(p, sizeof(p), "%s/dpauth.crt", pki_dir);
	if (pki_cert_load(p, &ac) != 0 || pki_cert_to_der(ac, &auth_der, &auth_der_len) != 0)
		return -1;
	X509_free(ac);
	snprintf(p, sizeof(p), "%s/ci.key", pki_dir);
	if (pki_key_load(p, &ci_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/ci.crt", pki_dir);
	if (pki_cert_load(p, &ci_cert) != 0)
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
	EVP_PKEY_free(ci_key);
	EVP_PKEY_free(euicc_pub);
	X509_free(node_cert);
	X509_free(ci_cert);
	free(node_cert_der);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static se_card *
new_card(char *state, size_t cap)
{
	snprintf(state, cap, "%s/se-%d.state", dir, state_counter++);
	assert_int_equal(se_card_init_state(state, pki_dir, TEST_EID), 0);
	se_card *c = NULL;
	assert_int_equal(se_card_open(state, &c), 0);
	return c;
}

/* ---- hex ---- */

static void
expect_hex(const uint8_t *got, size_t n, const char *want_hex)
{
	vec w = hx(want_hex);
	if (n != w.n || memcmp(got, w.b, n) != 0) {
		fprintf(stderr, "got  ");
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%02X", got[i]);
		fprintf(stderr, "\nwant %s\n", want_hex);
	}
	assert_int_equal(n, w.n);
	assert_memory_equal(got, w.b, n);
}

/* ---- APDU plumbing, as an LPA does it ---- */

static uint8_t rbuf[SE_APDU_MAX];

static uint16_t
xmit(se_card *c, const uint8_t *a, size_t n, size_t *rlen)
{
	assert_int_equal(se_card_apdu(c, a, n, rbuf, sizeof(rbuf), rlen), 0);
	assert_true(*rlen >= 2);
	*rlen -= 2;
	return (uint16_t)(rbuf[*rlen] << 8 | rbuf[*rlen + 1]);
}

/* CLA for a channel (ISO/IEC 7816-4 §5.4.1); prop: the GlobalPlatform class. */
static uint8_t
cla_of(int ch, int prop)
{
	if (ch < 4)
		return (uint8_t)((prop ? 0x80 : 0x00) | ch);
	return (uint8_t)((prop ? 0xC0 : 0x40) | (ch - 4));
}

static int
open_channel(se_card *c)
{
	static const uint8_t mc[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
	size_t n;
	assert_int_equal(xmit(c, mc, sizeof(mc), &n), 0x9000);
	assert_int_equal(n, 1);
	return rbuf[0];
}

static void
select_isdr(se_card *c, int ch)
{
	uint8_t a[5 + 16] = { cla_of(ch, 0), 0xA4, 0x04, 0x0C, 0x10 };
	memcpy(a + 5, SE_ISDR_AID, 16);
	size_t n;
	assert_int_equal(xmit(c, a, sizeof(a), &n), 0x9000);
}

/* One ES10 command: STORE DATA blocks of up to 255 bytes, then GET RESPONSE
 * while 61xx. Returns the final SW; *resp (caller frees) the whole answer. */
static uint16_t
es10(se_card *c, int ch, const uint8_t *cmd, size_t len, uint8_t **resp, size_t *rlen)
{
	uint8_t a[5 + 255 + 1];
	size_t off = 0, n;
	unsigned block = 0;
	uint16_t sw = 0;
	*resp = NULL;
	*rlen = 0;
	while (off < len) {
		size_t k = len - off > 255 ? 255 : len - off;
		int last = off + k == len;
		a[0] = cla_of(ch, 1);
		a[1] = 0xE2;
		a[2] = last ? 0x91 : 0x11;
		a[3] = (uint8_t)block++;
		a[4] = (uint8_t)k;
		memcpy(a + 5, cmd + off, k);
		sw = xmit(c, a, 5 + k, &n); /* no Le: the answer comes as 61xx */
		off += k;
		if (!last)
			assert_int_equal(sw, 0x9000);
	}
	while ((sw & 0xFF00) == 0x6100) {
		uint8_t gr[5] = { cla_of(ch, 0), 0xC0, 0x00, 0x00, (uint8_t)(sw & 0xFF) };
		sw = xmit(c, gr, 5, &n);
		uint8_t *nb = realloc(*resp, *rlen + n + 1);
		assert_non_null(nb);
		*resp = nb;
		memcpy(*resp + *rlen, rbuf, n);
		*rlen += n;
	}
	return sw;
}

/* es10 of a hex request that must succeed; the answer is dumped as type. */
static uint8_t *
call_hex(se_card *c, int ch, const char *req_hex, const char *type, size_t *rlen)
{
	vec r = hx(req_hex);
	uint8_t *resp = NULL;
	assert_int_equal(es10(c, ch, r.b, r.n, &resp, rlen), 0x9000);
	asn1_dump(type, resp, *rlen);
	return resp;
}

static void
call_expect(se_card *c, int ch, const char *req_hex, const char *type, const char *want_hex)
{
	size_t n;
	uint8_t *resp = call_hex(c, ch, req_hex, type, &n);
	expect_hex(resp, n, want_hex);
	free(resp);
}

static uint16_t
call_sw(se_card *c, int ch, const char *req_hex)
{
	vec r = hx(req_hex);
	uint8_t *resp = NULL;
	size_t n;
	uint16_t sw = es10(c, ch, r.b, r.n, &resp, &n);
	free(resp);
	return sw;
}

/* ---- the SM-DP+ side of a download, on channel ch ---- */

static void
put_cert(der_writer *w, const uint8_t *der, size_t len)
{
	der_put_raw(w, der, len);
}

static int ossl_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t sig[64]);

/* The SE's dl_prepare results, for the tests of the download functions. */
static uint8_t last_es1[1024], last_es2[256];
static size_t last_es1_len, last_es2_len;

/* Challenge, AuthenticateServer, PrepareDownload; *otpk and tid out.
 * DPauth: the test PKI's (auth_key / auth_der); dp_*: the DPpb certificate
 * to present (DER) and its key. The requests are
 * put together here TLV by TLV (SGP.22 §5.7.13 / §5.7.5), not with the
 * codec; the signatures of the answers are checked with OpenSSL alone over
 * the bytes SGP.22 names. */
static void
dl_prepare(se_card *c, int ch, const uint8_t *dp_der, size_t dp_len, EVP_PKEY *dp_key,
    uint8_t tid[RSP_TID_LEN], uint8_t otpk[PKI_PUBKEY_LEN])
{
	uint8_t *resp = NULL, *s1der = NULL, *cmd = NULL;
	size_t rlen = 0, s1len = 0, clen = 0;
	der_tlv t, ch_tlv, x;
	der_iter it, in;
	vec req = hx("BF2E 00");
	assert_int_equal(es10(c, ch, req.b, req.n, &resp, &rlen), 0x9000);
	asn1_dump("GetEuiccChallengeResponse", resp, rlen);
	assert_int_equal(der_read_one(resp, rlen, &t), 0);
	assert_int_equal(der_find(t.val, t.len, 0x80, &ch_tlv), 0);
	assert_int_equal(ch_tlv.len, 16);
	uint8_t echal[16], schal[16];
	memcpy(echal, ch_tlv.val, 16);
	free(resp);
	assert_int_equal(ts_random(tid, RSP_TID_LEN), 0);
	assert_int_equal(ts_random(schal, 16), 0);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0x30);                            /* serverSigned1 */
	der_put(&w, 0x80, tid, RSP_TID_LEN);            /* transactionId */
	der_put(&w, 0x81, echal, 16);                   /* euiccChallenge */
	der_put_str(&w, 0x83, SERVER_ADDRESS);          /* serverAddress */
	der_put(&w, 0x84, schal, 16);                   /* serverChallenge */
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, &s1der, &s1len), 0);
	der_writer_clear(&w);
	uint8_t sig1[PKI_SIG_LEN];
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig1), 0);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ci_cert);
	assert_non_null(ski);
	der_writer_init(&w);
	der_begin(&w, 0xBF38);                          /* AuthenticateServerRequest */
	der_put_raw(&w, s1der, s1len);
	der_put(&w, 0x5F37, sig1, sizeof(sig1));        /* serverSignature1 */
	der_put(&w, 0x04, ski->data, (size_t)ski->length); /* euiccCiPKIdToBeUsed */
	put_cert(&w, auth_der, auth_der_len);           /* serverCertificate */
	der_begin(&w, 0xA0);                            /* ctxParams1 */
	der_put_str(&w, 0x80, "match-1");               /* matchingId */
	der_begin(&w, 0xA1);                            /* deviceInfo */
	der_put(&w, 0x80, (const uint8_t *)"\x35\x29\x06\x11", 4); /* tac */
	der_begin(&w, 0xA1);                            /* deviceCapabilities */
	der_put(&w, 0x85, (const uint8_t *)"\x0F\x00\x00", 3);     /* eutran 15 */
	der_end(&w);
	der_end(&w);
	der_end(&w);
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, &cmd, &clen), 0);
	der_writer_clear(&w);
	asn1_dump("AuthenticateServerRequest", cmd, clen);
	assert_int_equal(es10(c, ch, cmd, clen, &resp, &rlen), 0x9000);
	free(cmd);
	asn1_dump("AuthenticateServerResponse", resp, rlen);
	/* BF38 { A0 { 30 euiccSigned1, 5F37 sig, 30 euicc cert, 30 eum cert } } */
	assert_int_equal(der_read_one(resp, rlen, &t), 0);
	assert_int_equal(t.tag, 0xBF38);
	der_iter_init(&it, t.val, t.len);
	assert_int_equal(der_iter_expect(&it, 0xA0, &x), 0);
	der_iter_init(&in, x.val, x.len);
	der_tlv es1, esig;
	assert_int_equal(der_iter_expect(&in, 0x30, &es1), 0);
	assert_int_equal(der_iter_expect(&in, 0x5F37, &esig), 0);
	assert_int_equal(esig.len, 64);
	/* euiccSignature1 covers the whole euiccSigned1 TLV. */
	assert_true(ossl_verify(euicc_pub, es1.val - es1.hdr_len, es1.hdr_len + es1.len, esig.val));
	asn1_dump("EuiccSigned1", es1.val - es1.hdr_len, es1.hdr_len + es1.len);
	memcpy(last_es1, es1.val - es1.hdr_len, es1.hdr_len + es1.len);
	last_es1_len = es1.hdr_len + es1.len;
	/* euiccSigned1 { 80 tid, 83 address, 84 serverChallenge, BF22, A0 ctx as sent } */
	der_iter_init(&in, es1.val, es1.len);
	assert_int_equal(der_iter_expect(&in, 0x80, &x), 0);
	assert_memory_equal(x.val, tid, RSP_TID_LEN);
	assert_int_equal(der_iter_expect(&in, 0x83, &x), 0);
	assert_int_equal(der_iter_expect(&in, 0x84, &x), 0);
	assert_memory_equal(x.val, schal, 16);
	assert_int_equal(der_iter_expect(&in, 0xBF22, &x), 0);
	assert_int_equal(der_iter_expect(&in, 0xA0, &x), 0);
	assert_int_equal(der_iter_end(&in), 0);
	uint8_t esig1[PKI_SIG_LEN];
	memcpy(esig1, esig.val, PKI_SIG_LEN);
	free(resp);
	free(s1der);

	uint8_t *s2der = NULL, sig2[PKI_SIG_LEN];
	size_t s2len = 0;
	der_writer_init(&w);
	der_begin(&w, 0x30);                            /* smdpSigned2 */
	der_put(&w, 0x80, tid, RSP_TID_LEN);            /* transactionId */
	der_put(&w, 0x01, (const uint8_t *)"\x00", 1); /* ccRequiredFlag FALSE */
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, &s2der, &s2len), 0);
	der_writer_clear(&w);
	/* smdpSignature2 over smdpSigned2 || 5F37 40 euiccSignature1 */
	uint8_t *tbs = malloc(s2len + 3 + PKI_SIG_LEN);
	assert_non_null(tbs);
	memcpy(tbs, s2der, s2len);
	memcpy(tbs + s2len, "\x5F\x37\x40", 3);
	memcpy(tbs + s2len + 3, esig1, PKI_SIG_LEN);
	assert_int_equal(pki_sign(dp_key, tbs, s2len + 3 + PKI_SIG_LEN, sig2), 0);
	free(tbs);
	der_writer_init(&w);
	der_begin(&w, 0xBF21);                          /* PrepareDownloadRequest */
	der_put_raw(&w, s2der, s2len);
	der_put(&w, 0x5F37, sig2, sizeof(sig2));        /* smdpSignature2 */
	put_cert(&w, dp_der, dp_len);                   /* smdpCertificate */
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, &cmd, &clen), 0);
	der_writer_clear(&w);
	free(s2der);
	asn1_dump("PrepareDownloadRequest", cmd, clen);
	assert_int_equal(es10(c, ch, cmd, clen, &resp, &rlen), 0x9000);
	free(cmd);
	asn1_dump("PrepareDownloadResponse", resp, rlen);
	/* BF21 { A0 { 30 euiccSigned2 { 80 tid, 5F49 otpk }, 5F37 sig } } */
	assert_int_equal(der_read_one(resp, rlen, &t), 0);
	der_iter_init(&it, t.val, t.len);
	assert_int_equal(der_iter_expect(&it, 0xA0, &x), 0);
	der_iter_init(&in, x.val, x.len);
	der_tlv es2, esig2;
	assert_int_equal(der_iter_expect(&in, 0x30, &es2), 0);
	assert_int_equal(der_iter_expect(&in, 0x5F37, &esig2), 0);
	size_t e2l = es2.hdr_len + es2.len;
	tbs = malloc(e2l + 3 + PKI_SIG_LEN);
	assert_non_null(tbs);
	memcpy(tbs, es2.val - es2.hdr_len, e2l);
	memcpy(tbs + e2l, "\x5F\x37\x40", 3);
	memcpy(tbs + e2l + 3, sig2, PKI_SIG_LEN);
	/* euiccSignature2 over euiccSigned2 || 5F37 40 smdpSignature2 */
	assert_true(ossl_verify(euicc_pub, tbs, e2l + 3 + PKI_SIG_LEN, esig2.val));
	assert_false(ossl_verify(euicc_pub, tbs, e2l, esig2.val));
	free(tbs);
	asn1_dump("EUICCSigned2", es2.val - es2.hdr_len, e2l);
	memcpy(last_es2, es2.val - es2.hdr_len, e2l);
	last_es2_len = e2l;
	der_iter_init(&in, es2.val, es2.len);
	assert_int_equal(der_iter_expect(&in, 0x80, &x), 0);
	assert_memory_equal(x.val, tid, RSP_TID_LEN);
	assert_int_equal(der_iter_expect(&in, 0x5F49, &x), 0);
	assert_int_equal(x.len, PKI_PUBKEY_LEN);
	memcpy(otpk, x.val, PKI_PUBKEY_LEN);
	assert_int_equal(der_iter_end(&in), 0);
	free(resp);
}

/* The whole download of app_id (kind) on channel ch with the test PKI's
 * signing key; returns the ProfileInstallationResult (caller frees). */
static uint8_t *
download_with(se_card *c, int ch, const uint8_t *dp_der, size_t dp_len, EVP_PKEY *dp_key,
    const char *app_id, const char *kind, int64_t not_after, size_t *pir_len, uint8_t tid[RSP_TID_LEN])
{
	uint8_t otpk[PKI_PUBKEY_LEN];
	dl_prepare(c, ch, dp_der, dp_len, dp_key, tid, otpk);
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", app_id);
	snprintf(m.name, sizeof(m.name), "Name of %s", app_id);
	snprintf(m.kind, sizeof(m.kind), "%s", kind);
	snprintf(m.provider, sizeof(m.provider), "acme-mobile");
	m.not_after = not_after;
	uint8_t *md = NULL, *pkg = NULL, *resp = NULL;
	size_t mdlen = 0, pkglen = 0, rlen = 0;
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	static const uint8_t credential[] = "credential";
	const uint8_t *payload = credential;
	size_t payload_len = sizeof(credential) - 1;
	uint8_t *sim = NULL;
	if (strcmp(kind, "sim") == 0) {
		/* A SIM's profile is a profile package with the metadata's ICCID
		 * (here the one tapshare-se would derive, as before). */
		char d[ES10_ICCID_DIGITS_MAX + 1];
		uint8_t iccid[ES10_ICCID_LEN];
		assert_int_equal(es10_iccid_for_app(&eid, app_id, d), 0);
		assert_int_equal(es10_iccid_from_digits(d, iccid), 0);
		sim_fixture(iccid, &m, &sim, &payload_len);
		payload = sim;
	}
	assert_int_equal(md_fixture_iccid(&m, TEST_EID), 0);
	assert_int_equal(rsp_metadata_encode(&m, &md, &mdlen), 0);
	static const uint8_t host[] = "tapshare-node";
	assert_int_equal(bsp_package_build(otpk, PKI_PUBKEY_LEN, &eid, tid, RSP_TID_LEN, host,
	    sizeof(host) - 1, dp_key, md, mdlen, payload, payload_len, &pkg, &pkglen), 0);
	free(md);
	free(sim);
	assert_int_equal(es10(c, ch, pkg, pkglen, &resp, &rlen), 0x9000);
	free(pkg);
	asn1_dump("ProfileInstallationResult", resp, rlen);
	asn1_dump("PendingNotification", resp, rlen);
	*pir_len = rlen;
	return resp;
}

static uint8_t *
download(se_card *c, int ch, const char *app_id, const char *kind, size_t *pir_len, uint8_t tid[RSP_TID_LEN])
{
	return download_with(c, ch, node_cert_der, node_cert_der_len, node_key, app_id, kind, 0, pir_len, tid);
}

/* ---- independent checks ---- */

/* ECDSA P-256 / SHA-256 over msg with r||s sig, by OpenSSL alone. */
static int
ossl_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t sig[64])
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	unsigned char *d = NULL;
	int dl = i2d_ECDSA_SIG(es, &d);
	assert_true(dl > 0);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
	int ok = EVP_DigestVerify(ctx, d, (size_t)dl, msg, len);
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(d);
	ECDSA_SIG_free(es);
	return ok == 1;
}

/* Reads a BER header at p (our own walk, not lib/der): returns the header
 * length, *tag and *len. */
static size_t
hdr(const uint8_t *p, uint32_t *tag, size_t *len)
{
	size_t i = 0;
	*tag = p[i++];
	if ((*tag & 0x1F) == 0x1F) {
		do
			*tag = *tag << 8 | p[i];
		while (p[i++] & 0x80);
	}
	if (p[i] < 0x80) {
		*len = p[i++];
	} else {
		size_t k = p[i++] & 0x7F;
		*len = 0;
		while (k-- > 0)
			*len = *len << 8 | p[i++];
	}
	return i;
}

/* ICCID digits from the 5A value: low nibble first, F padding. */
static void
iccid_digits(const uint8_t *b, char out[21])
{
	size_t n = 0;
	for (int i = 0; i < 10; i++) {
		out[n++] = (char)('0' + (b[i] & 0x0F));
		if ((b[i] >> 4) != 0xF)
			out[n++] = (char)('0' + (b[i] >> 4));
	}
	out[n] = '\0';
}

static int
luhn_ok(const char *d)
{
	size_t n = strlen(d);
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(d[n - 1 - i] - '0');
		if (i % 2 == 1)
			v = v * 2 > 9 ? v * 2 - 9 : v * 2;
		sum += v;
	}
	return sum % 10 == 0;
}

/* The first profile of a ProfileInfoList answer. */
static void
first_profile(se_card *c, int ch, es10_profile_info *p)
{
	size_t n;
	uint8_t *r = call_hex(c, ch, "BF2D 00", "ProfileInfoListResponse", &n);
	es10_profile_list l;
	assert_int_equal(es10_profile_list_decode(r, n, &l), 0);
	assert_true(l.n >= 1);
	*p = l.items[0];
	es10_profile_list_clear(&l);
	free(r);
}

static void
hex_of(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02X", b[i]); /* out holds 2 * n + 1 bytes (callers) */
	out[2 * n] = '\0';
}

/* ---- tests ---- */

static void
test_channels(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	size_t n;

	/* The LPA opens a channel; the card assigns 1. */
	int ch = open_channel(c);
	assert_int_equal(ch, 1);
	/* Channel 7 opened by number (P2), then addressed with CLA 0x43 / 0xC3. */
	static const uint8_t mc7[] = { 0x00, 0x70, 0x00, 0x07 };
	assert_int_equal(xmit(c, mc7, sizeof(mc7), &n), 0x9000);
	assert_int_equal(n, 0);
	assert_int_equal(xmit(c, mc7, sizeof(mc7), &n), 0x6A86); /* already open */
	select_isdr(c, 7);
	call_expect(c, 7, "BF3E 03 5C 01 5A", "GetEuiccDataResponse",
	    "BF3E 12 5A 10 89049032123451234512345678901235");
	/* The ISD-R is not selected on channel 1 yet. */
	assert_int_equal(call_sw(c, 1, "BF3E 03 5C 01 5A"), 0x6985);
	select_isdr(c, 1);

	/* A pending answer belongs to its channel: a command on channel 7
	 * leaves channel 1's 61xx in place. */
	static const uint8_t gd1[] = { 0x81, 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A };
	assert_int_equal(xmit(c, gd1, sizeof(gd1), &n), 0x6115);
	assert_int_equal(call_sw(c, 7, "BF3E 03 5C 01 5A"), 0x9000);
	static const uint8_t gr7[] = { 0x43, 0xC0, 0x00, 0x00, 0x15 };
	assert_int_equal(xmit(c, gr7, sizeof(gr7), &n), 0x6985); /* nothing pending on 7 */
	static const uint8_t gr1[] = { 0x01, 0xC0, 0x00, 0x00, 0x15 };
	assert_int_equal(xmit(c, gr1, sizeof(gr1), &n), 0x9000);
	assert_int_equal(n, 0x15);
	/* A STORE DATA chain is per channel too. */
	static const uint8_t b0[] = { 0x81, 0xE2, 0x11, 0x00, 0x03, 0xBF, 0x3E, 0x03 };
	static const uint8_t b1[] = { 0x81, 0xE2, 0x91, 0x01, 0x03, 0x5C, 0x01, 0x5A };
	assert_int_equal(xmit(c, b0, sizeof(b0), &n), 0x9000);
	assert_int_equal(call_sw(c, 7, "BF20 00"), 0x9000);
	assert_int_equal(xmit(c, b1, sizeof(b1), &n), 0x6115);

	/* Up to channel 19; the 20th is refused. */
	for (int k = 2; k < 20; k++) {
		if (k == 7)
			continue;
		assert_int_equal(open_channel(c), k);
	}
	static const uint8_t mc[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
	assert_int_equal(xmit(c, mc, sizeof(mc), &n), 0x6881);
	select_isdr(c, 19); /* CLA 0x4F */
	assert_int_equal(call_sw(c, 19, "BF3E 03 5C 01 5A"), 0x9000);
	/* Close 19 from channel 0, then it is gone. */
	static const uint8_t close19[] = { 0x00, 0x70, 0x80, 0x13 };
	assert_int_equal(xmit(c, close19, sizeof(close19), &n), 0x9000);
	assert_int_equal(call_sw(c, 19, "BF3E 03 5C 01 5A"), 0x6881);
	/* Close a channel from itself (P2 00). */
	static const uint8_t close_self[] = { 0x43, 0x70, 0x80, 0x00 };
	assert_int_equal(xmit(c, close_self, sizeof(close_self), &n), 0x9000);
	assert_int_equal(call_sw(c, 7, "BF3E 03 5C 01 5A"), 0x6881);
	/* The basic channel cannot be closed; a CLA with b6 set is no class. */
	static const uint8_t close0[] = { 0x00, 0x70, 0x80, 0x00 };
	assert_int_equal(xmit(c, close0, sizeof(close0), &n), 0x6A86);
	static const uint8_t badcla[] = { 0x20, 0xA4, 0x04, 0x0C, 0x01, 0x00 };
	assert_int_equal(xmit(c, badcla, sizeof(badcla), &n), 0x6E00);
	/* As LPAs in the field do: GET RESPONSE in the class of the STORE DATA
	 * (81 C0), and TERMINAL CAPABILITY first (ETSI TS 102 221). */
	select_isdr(c, 1);
	static const uint8_t gd[] = { 0x81, 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A };
	assert_int_equal(xmit(c, gd, sizeof(gd), &n), 0x6115);
	static const uint8_t gr81[] = { 0x81, 0xC0, 0x00, 0x00, 0x15 };
	assert_int_equal(xmit(c, gr81, sizeof(gr81), &n), 0x9000);
	expect_hex(rbuf, n, "BF3E 12 5A 10 89049032123451234512345678901235");
	static const uint8_t tc[] = { 0x80, 0xAA, 0x00, 0x00, 0x0A, 0xA9, 0x08, 0x81, 0x00, 0x82, 0x01, 0x01,
		0x83, 0x01, 0x07 };
	assert_int_equal(xmit(c, tc, sizeof(tc), &n), 0x9000);
	static const uint8_t tc_bad[] = { 0x80, 0xAA, 0x00, 0x00, 0x03, 0xA8, 0x01, 0x00 };
	assert_int_equal(xmit(c, tc_bad, sizeof(tc_bad), &n), 0x6A80);
	/* The ISD-R on the basic channel works too. */
	select_isdr(c, 0);
	assert_int_equal(call_sw(c, 0, "BF3E 03 5C 01 5A"), 0x9000);
	/* Reset closes every logical channel. */
	se_card_reset(c);
	assert_int_equal(call_sw(c, 1, "BF3E 03 5C 01 5A"), 0x6881);
	se_card_free(c);
}

static void
test_euicc_info(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ci_cert);
	assert_non_null(ski);
	assert_int_equal(ski->length, 20);
	char skih[41], want[512];
	hex_of(ski->data, 20, skih);

	/* EUICCInfo1: svn 2.2.2 and the CI's key id in both lists. */
	snprintf(want, sizeof(want), "BF20 35 82 03 020202 A9 16 04 14 %s AA 16 04 14 %s", skih, skih);
	call_expect(c, ch, "BF20 00", "EUICCInfo1", want);

	/* EUICCInfo2, field by field (SGP.22 §5.7.8; what es10.c states). */
	snprintf(want, sizeof(want),
	    "BF22 66"
	    " 81 03 020301"                    /* profileVersion 2.3.1 */
	    " 82 03 020202"                    /* svn 2.2.2 */
	    " 83 03 000100"                    /* euiccFirmwareVer 0.1.0 */
	    " 84 0F 81 01 00 82 04 %08X 83 04 00040000" /* extCardResource: 0 apps, free NVM, RAM */
	    " 85 01 00"                        /* uiccCapability: none */
	    " 87 03 020300"                    /* globalplatformVersion 2.3.0 */
	    " 88 02 07 80"                     /* rspCapability: additionalProfile */
	    " A9 16 04 14 %s AA 16 04 14 %s"   /* CI key ids */
	    " 8B 01 00"                        /* euiccCategory other */
	    " 04 03 000000"                    /* ppVersion */
	    " 0C 00",                          /* sasAcreditationNumber "" */
	    (unsigned)((uint64_t)SE_MAX_APPS * BSP_MAX_PACKAGE), skih, skih);
	call_expect(c, ch, "BF22 00", "EUICCInfo2", want);

	/* Addresses: root SM-DS, no default; set, read back, remove. */
	call_expect(c, ch, "BF3C 00", "EuiccConfiguredAddressesResponse",
	    "BF3C 11 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D"); /* "lpa.ds.gsma.com" */
	call_expect(c, ch, "BF3F 0B 80 09 64 70 2E 65 78 61 6D 70 6C", "SetDefaultDpAddressResponse",
	    "BF3F 03 80 01 00"); /* "dp.exampl" -> ok */
	call_expect(c, ch, "BF3C 00", "EuiccConfiguredAddressesResponse",
	    "BF3C 1C 80 09 64 70 2E 65 78 61 6D 70 6C 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
	/* ...and it survives a restart. */
	se_card_free(c);
	assert_int_equal(se_card_open(state, &c), 0);
	ch = open_channel(c);
	select_isdr(c, ch);
	call_expect(c, ch, "BF3C 00", "EuiccConfiguredAddressesResponse",
	    "BF3C 1C 80 09 64 70 2E 65 78 61 6D 70 6C 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
	call_expect(c, ch, "BF3F 02 80 00", "SetDefaultDpAddressResponse", "BF3F 03 80 01 00");
	call_expect(c, ch, "BF3C 00", "EuiccConfiguredAddressesResponse",
	    "BF3C 11 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
	/* GetRAT: an empty table. */
	call_expect(c, ch, "BF43 00", "GetRatResponse", "BF43 02 A0 00");
	/* Malformed requests: 6A80. */
	assert_int_equal(call_sw(c, ch, "BF22 03 80 01 00"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF3E 00"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF3F 00"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF43 01 00"), 0x6A80);
	se_card_free(c);
}

static void
test_profiles_and_install(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	call_expect(c, ch, "BF2D 00", "ProfileInfoListResponse", "BF2D 02 A0 00");
	uint8_t tid[RSP_TID_LEN];
	size_t pl;
	uint8_t *pir = download(c, ch, "sim-1", "sim", &pl, tid);

	/* ProfileInstallationResult: BF37 { BF27 {...}, 5F37 sig } — the
	 * signature over exactly the BF27 TLV, checked by OpenSSL. */
	uint32_t tag;
	size_t len, h = hdr(pir, &tag, &len);
	assert_int_equal(tag, 0xBF37);
	assert_int_equal(h + len, pl);
	size_t dlen, dh = hdr(pir + h, &tag, &dlen);
	assert_int_equal(tag, 0xBF27);
	const uint8_t *data = pir + h;
	size_t data_len = dh + dlen;
	const uint8_t *sigobj = data + data_len;
	assert_memory_equal(sigobj, "\x5F\x37\x40", 3);
	assert_int_equal(h + data_len + 3 + 64, pl);
	assert_true(ossl_verify(euicc_pub, data, data_len, sigobj + 3));
	assert_false(ossl_verify(euicc_pub, data, data_len - 1, sigobj + 3));
	/* Its content: transactionId, metadata { seq 1, install, address, iccid }. */
	es10_pending pn;
	assert_int_equal(es10_pending_decode(pir, pl, &pn), 0);
	assert_int_equal(pn.kind, ES10_PENDING_INSTALL);
	assert_memory_equal(pn.pir.tid, tid, RSP_TID_LEN);
	assert_int_equal(pn.meta.seq, 1);
	assert_int_equal(pn.meta.event, ES10_EVENT_INSTALL);
	assert_string_equal(pn.meta.address, SERVER_ADDRESS);
	assert_true(pn.pir.success);
	/* No registeredID in the test PKI's certificate: the fallback OID. */
	assert_int_equal(pn.pir.smdp_oid[0], 0x69); /* 2.25.* */

	/* The profile: ICCID 89999..., Luhn-valid, nibble-swapped; AID. */
	es10_profile_info p;
	first_profile(c, ch, &p);
	char d[21];
	iccid_digits(p.iccid, d);
	assert_int_equal(strlen(d), 20);
	assert_memory_equal(d, "89999", 5);
	assert_true(luhn_ok(d));
	assert_memory_equal(pn.meta.iccid, p.iccid, 10);
	char want_iccid[21];
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	assert_int_equal(es10_iccid_for_app(&eid, "sim-1", want_iccid), 0);
	assert_string_equal(d, want_iccid);
	assert_int_equal(p.aid_len, 16);
	assert_memory_equal(p.aid, "\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x10\x00", 16);
	assert_memory_equal(pn.pir.aid, p.aid, 16);
	assert_int_equal(p.state, ES10_STATE_ENABLED);
	assert_int_equal(p.profile_class, ES10_CLASS_OPERATIONAL);
	assert_true(p.present & ES10_PI_CLASS);
	assert_string_equal(p.spn, "acme-mobile");
	assert_string_equal(p.name, "Name of sim-1");
	assert_false(p.present & ES10_PI_NICKNAME);
	assert_int_equal(p.n_notif_cfg, 1);
	assert_string_equal(p.notif_cfg[0].address, SERVER_ADDRESS);

	/* The whole entry, byte for byte. */
	char ih[21], want[1024];
	hex_of(p.iccid, 10, ih);
	snprintf(want, sizeof(want),
	    "BF2D 5D A0 5B E3 59"
	    " 5A 0A %s"                                   /* iccid */
	    " 4F 10 A0000005591010FFFFFFFF8900001000"     /* isdpAid */
	    " 9F70 01 01"                                 /* enabled */
	    " 91 0B 61 63 6D 65 2D 6D 6F 62 69 6C 65"     /* "acme-mobile" */
	    " 92 0D 4E 61 6D 65 20 6F 66 20 73 69 6D 2D 31" /* "Name of sim-1" */
	    " 95 01 02"                                   /* operational */
	    " B6 16 30 14 80 02 04 F0"                    /* all four events */
	    "  81 0E 6E 6F 64 65 2E 74 65 73 74 3A 38 34 34 33", /* "node.test:8443" */
	    ih);
	call_expect(c, ch, "BF2D 00", "ProfileInfoListResponse", want);

	/* Tag list: only ICCID and state. */
	snprintf(want, sizeof(want), "BF2D 14 A0 12 E3 10 5A 0A %s 9F70 01 01", ih);
	call_expect(c, ch, "BF2D 05 5C 03 5A 9F 70", "ProfileInfoListResponse", want);
	/* Search by ICCID, by AID, by class; a miss is an empty list. */
	char req[256];
	snprintf(req, sizeof(req), "BF2D 13 A0 0C 5A 0A %s 5C 03 5A 9F 70", ih);
	call_expect(c, ch, req, "ProfileInfoListResponse", want);
	call_expect(c, ch, "BF2D 19 A0 12 4F 10 A0000005591010FFFFFFFF8900001000 5C 03 5A 9F 70",
	    "ProfileInfoListResponse", want);
	call_expect(c, ch, "BF2D 19 A0 12 4F 10 A0000005591010FFFFFFFF8900001100 5C 03 5A 9F 70",
	    "ProfileInfoListResponse", "BF2D 02 A0 00");
	call_expect(c, ch, "BF2D 0A A0 03 95 01 02 5C 03 5A 9F 70", "ProfileInfoListResponse", want);
	call_expect(c, ch, "BF2D 0A A0 03 95 01 00 5C 03 5A 9F 70", "ProfileInfoListResponse",
	    "BF2D 02 A0 00");
	/* A malformed search: 6A80. */
	assert_int_equal(call_sw(c, ch, "BF2D 04 A0 02 5A 00"), 0x6A80);

	/* Nickname: set, shown, cleared; unknown ICCID: iccidNotFound. */
	snprintf(req, sizeof(req), "BF29 12 5A 0A %s 90 04 77 6F 72 6B", ih);
	call_expect(c, ch, req, "SetNicknameResponse", "BF29 03 80 01 00");
	first_profile(c, ch, &p);
	assert_string_equal(p.nickname, "work");
	call_expect(c, ch, "BF29 12 5A 0A 98 44 05 10 20 91 38 40 28 F6 90 04 77 6F 72 6B", "SetNicknameResponse",
	    "BF29 03 80 01 01");
	snprintf(req, sizeof(req), "BF29 0E 5A 0A %s 90 00", ih);
	call_expect(c, ch, req, "SetNicknameResponse", "BF29 03 80 01 00");
	first_profile(c, ch, &p);
	assert_false(p.present & ES10_PI_NICKNAME);

	/* The install notification is pending, the same bytes. */
	size_t n;
	uint8_t *r = call_hex(c, ch, "BF2B 00", "RetrieveNotificationsListResponse", &n);
	assert_true(n > pl);
	assert_memory_equal(r + n - pl, pir, pl);
	free(r);
	free(pir);
	se_card_free(c);
}

/* Decodes the notificationList and returns entry i (borrowing r). */
static es10_pending
pending_at(const uint8_t *r, size_t n, size_t i, size_t *count)
{
	es10_pending_list l;
	assert_int_equal(es10_pending_list_decode(r, n, &l), 0);
	assert_true(i < l.n);
	es10_pending p = l.items[i];
	*count = l.n;
	es10_pending_list_clear(&l);
	return p;
}

static void
test_notifications(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t tid[RSP_TID_LEN];
	size_t pl;
	free(download(c, ch, "sim-1", "sim", &pl, tid));
	es10_profile_info p;
	first_profile(c, ch, &p);
	char ih[21], req[256];
	hex_of(p.iccid, 10, ih);

	/* disable, enable, disable, delete: four OtherSignedNotifications. */
	snprintf(req, sizeof(req), "BF32 11 A0 0C 5A 0A %s 81 01 FF", ih);
	call_expect(c, ch, req, "DisableProfileResponse", "BF32 03 80 01 00");
	call_expect(c, ch, "BF31 17 A0 12 4F 10 A0000005591010FFFFFFFF8900001000 81 01 00",
	    "EnableProfileResponse", "BF31 03 80 01 00");
	call_expect(c, ch, "BF32 17 A0 12 4F 10 A0000005591010FFFFFFFF8900001000 81 01 00",
	    "DisableProfileResponse", "BF32 03 80 01 00");
	snprintf(req, sizeof(req), "BF33 0C 5A 0A %s", ih);
	call_expect(c, ch, req, "DeleteProfileResponse", "BF33 03 80 01 00");

	size_t n, count;
	uint8_t *r = call_hex(c, ch, "BF2B 00", "RetrieveNotificationsListResponse", &n);
	static const uint32_t ev[] = { ES10_EVENT_INSTALL, ES10_EVENT_DISABLE, ES10_EVENT_ENABLE,
		ES10_EVENT_DISABLE, ES10_EVENT_DELETE };
	for (size_t i = 0; i < 5; i++) {
		es10_pending e = pending_at(r, n, i, &count);
		assert_int_equal(count, 5);
		asn1_dump("PendingNotification", e.der, e.der_len);
		assert_int_equal(e.meta.seq, i + 1); /* SGP.22 sequence numbers: 1, 2, ... */
		assert_int_equal(e.meta.event, ev[i]);
		assert_string_equal(e.meta.address, SERVER_ADDRESS);
		assert_true(e.meta.has_iccid);
		assert_memory_equal(e.meta.iccid, p.iccid, 10);
		if (i == 0) {
			assert_int_equal(e.kind, ES10_PENDING_INSTALL);
			continue;
		}
		assert_int_equal(e.kind, ES10_PENDING_OTHER);
		asn1_dump("OtherSignedNotification", e.der, e.der_len);
		/* 30 { BF2F..., 5F37 40 sig, euiccCertificate, eumCertificate }: the
		 * signature over exactly the BF2F TLV (tag and length included). */
		uint32_t tag;
		size_t len, h = hdr(e.der, &tag, &len);
		assert_int_equal(tag, 0x30);
		size_t mlen, mh = hdr(e.der + h, &tag, &mlen);
		assert_int_equal(tag, 0xBF2F);
		const uint8_t *tbs = e.der + h;
		size_t tbs_len = mh + mlen;
		const uint8_t *so = tbs + tbs_len;
		assert_memory_equal(so, "\x5F\x37\x40", 3);
		assert_true(ossl_verify(euicc_pub, tbs, tbs_len, so + 3));
		/* Not over the value alone, nor over the whole notification. */
		assert_false(ossl_verify(euicc_pub, tbs + mh, mlen, so + 3));
		assert_false(ossl_verify(euicc_pub, e.der, e.der_len, so + 3));
		/* The certificates are the eUICC's and the EUM's. */
		X509 *ec = NULL;
		assert_int_equal(pki_cert_from_der(e.euicc_cert, e.euicc_cert_len, &ec), 0);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(ec), euicc_pub), 1);
		X509_free(ec);
		X509 *um = NULL;
		assert_int_equal(pki_cert_from_der(e.eum_cert, e.eum_cert_len, &um), 0);
		X509_free(um);
	}
	/* Search by sequence number and by event. */
	es10_pending e3 = pending_at(r, n, 2, &count);
	size_t n3;
	uint8_t *r3 = call_hex(c, ch, "BF2B 05 A0 03 80 01 03", "RetrieveNotificationsListResponse", &n3);
	uint32_t t3;
	size_t l3, h1 = hdr(r3, &t3, &l3);
	assert_int_equal(t3, 0xBF2B);
	size_t h2 = hdr(r3 + h1, &t3, &l3);
	assert_int_equal(t3, 0xA0);
	assert_int_equal(l3, e3.der_len); /* exactly one: seqNumber 3 */
	assert_int_equal(n3, h1 + h2 + e3.der_len);
	assert_memory_equal(r3 + h1 + h2, e3.der, e3.der_len);
	free(r3);
	r3 = call_hex(c, ch, "BF2B 06 A0 04 81 02 04 10", "RetrieveNotificationsListResponse", &n3);
	es10_pending ed = pending_at(r3, n3, 0, &count);
	assert_int_equal(count, 1);
	assert_int_equal(ed.meta.event, ES10_EVENT_DELETE);
	free(r3);
	call_expect(c, ch, "BF2B 05 A0 03 80 01 09", "RetrieveNotificationsListResponse",
	    "BF2B 03 81 01 01"); /* noResultAvailable */
	free(r);

	/* ListNotification: the metadata, filtered by event. */
	r = call_hex(c, ch, "BF28 00", "ListNotificationResponse", &n);
	es10_notif_list nl;
	assert_int_equal(es10_notif_list_decode(r, n, &nl), 0);
	assert_int_equal(nl.n, 5);
	assert_int_equal(nl.items[4].seq, 5);
	es10_notif_list_clear(&nl);
	free(r);
	r = call_hex(c, ch, "BF28 04 81 02 05 20", "ListNotificationResponse", &n); /* disable */
	assert_int_equal(es10_notif_list_decode(r, n, &nl), 0);
	assert_int_equal(nl.n, 2);
	assert_int_equal(nl.items[0].seq, 2);
	assert_int_equal(nl.items[1].seq, 4);
	es10_notif_list_clear(&nl);
	free(r);

	/* NotificationSent removes one; again: nothingToDelete. */
	call_expect(c, ch, "BF30 03 80 01 02", "NotificationSentResponse", "BF30 03 80 01 00");
	call_expect(c, ch, "BF30 03 80 01 02", "NotificationSentResponse", "BF30 03 80 01 01");
	r = call_hex(c, ch, "BF28 00", "ListNotificationResponse", &n);
	assert_int_equal(es10_notif_list_decode(r, n, &nl), 0);
	assert_int_equal(nl.n, 4);
	es10_notif_list_clear(&nl);
	free(r);
	/* The list and the counter survive a restart; numbers are not reused. */
	se_card_free(c);
	assert_int_equal(se_card_open(state, &c), 0);
	ch = open_channel(c);
	select_isdr(c, ch);
	free(download(c, ch, "sim-2", "sim", &pl, tid));
	r = call_hex(c, ch, "BF28 00", "ListNotificationResponse", &n);
	assert_int_equal(es10_notif_list_decode(r, n, &nl), 0);
	assert_int_equal(nl.n, 5);
	assert_int_equal(nl.items[4].seq, 6);
	es10_notif_list_clear(&nl);
	free(r);
	assert_int_equal(call_sw(c, ch, "BF30 00"), 0x6A80);
	se_card_free(c);
}

static void
test_refusals(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t tid[RSP_TID_LEN];
	size_t pl;
	free(download(c, ch, "sim-1", "sim", &pl, tid));
	es10_profile_info p;
	first_profile(c, ch, &p);
	char ih[21], req[256];
	hex_of(p.iccid, 10, ih);
	const char *unknown = "BF31 11 A0 0C 5A 0A 98 44 05 10 20 91 38 40 28 F6 81 01 FF";

	/* iccidOrAidNotFound (1). */
	call_expect(c, ch, unknown, "EnableProfileResponse", "BF31 03 80 01 01");
	call_expect(c, ch, "BF32 17 A0 12 4F 10 A0000005591010FFFFFFFF8900001F00 81 01 00",
	    "DisableProfileResponse", "BF32 03 80 01 01");
	call_expect(c, ch, "BF33 12 4F 10 A0000005591010FFFFFFFF8900001F00", "DeleteProfileResponse",
	    "BF33 03 80 01 01");
	/* profileNotInDisabledState (2): enable of the enabled, delete of the enabled. */
	snprintf(req, sizeof(req), "BF31 11 A0 0C 5A 0A %s 81 01 FF", ih);
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 02");
	snprintf(req, sizeof(req), "BF33 0C 5A 0A %s", ih);
	call_expect(c, ch, req, "DeleteProfileResponse", "BF33 03 80 01 02");
	/* profileNotInEnabledState (2): disable of the disabled. */
	snprintf(req, sizeof(req), "BF32 11 A0 0C 5A 0A %s 81 01 FF", ih);
	call_expect(c, ch, req, "DisableProfileResponse", "BF32 03 80 01 00");
	call_expect(c, ch, req, "DisableProfileResponse", "BF32 03 80 01 02");

	/* catBusy (5): a download between PrepareDownload and its package. */
	uint8_t otpk[PKI_PUBKEY_LEN], tid2[RSP_TID_LEN];
	dl_prepare(c, ch, node_cert_der, node_cert_der_len, node_key, tid2, otpk);
	snprintf(req, sizeof(req), "BF31 11 A0 0C 5A 0A %s 81 01 FF", ih);
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 05");
	call_expect(c, ch, "BF34 04 82 02 07 80", "EuiccMemoryResetResponse", "BF34 03 80 01 05");
	se_card_reset(c); /* drops the session */
	ch = open_channel(c);
	select_isdr(c, ch);
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 00");

	/* disallowedByPolicy (3): past not_after; a bank-ID app not certified. */
	free(download_with(c, ch, node_cert_der, node_cert_der_len, node_key, "sim-old", "sim",
	    ts_now() + 2, &pl, tid));
	es10_profile_list l;
	size_t n;
	uint8_t *r = call_hex(c, ch, "BF2D 00", "ProfileInfoListResponse", &n);
	assert_int_equal(es10_profile_list_decode(r, n, &l), 0);
	assert_int_equal(l.n, 2);
	char ih2[21];
	hex_of(l.items[1].iccid, 10, ih2);
	es10_profile_list_clear(&l);
	free(r);
	snprintf(req, sizeof(req), "BF32 11 A0 0C 5A 0A %s 81 01 FF", ih2);
	call_expect(c, ch, req, "DisableProfileResponse", "BF32 03 80 01 00");
	sleep(3);
	snprintf(req, sizeof(req), "BF31 11 A0 0C 5A 0A %s 81 01 FF", ih2);
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 03");
	free(download(c, ch, "bank-1", "bankid", &pl, tid));
	r = call_hex(c, ch, "BF2D 00", "ProfileInfoListResponse", &n);
	assert_int_equal(es10_profile_list_decode(r, n, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.items[2].state, ES10_STATE_DISABLED); /* waits for its certificate */
	hex_of(l.items[2].iccid, 10, ih2);
	es10_profile_list_clear(&l);
	free(r);
	snprintf(req, sizeof(req), "BF31 11 A0 0C 5A 0A %s 81 01 FF", ih2);
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 03");

	/* eUICCMemoryReset with nothing to do: nothingToDelete (1). */
	call_expect(c, ch, "BF34 04 82 02 05 20", "EuiccMemoryResetResponse", "BF34 03 80 01 01");

	/* Not well-formed: 6A80, and nothing changes. */
	assert_int_equal(call_sw(c, ch, "BF31 00"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF31 0E A0 0C 5A 0A 98 44 05 10 20 91 38 40 28 F6"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF33 00"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF34 00"), 0x6A80);
	assert_int_equal(call_sw(c, ch, "BF29 06 90 04 77 6F 72 6B"), 0x6A80);
	/* The private forms tapshare's companion once used are not SGP.22: refused
	 * on a logical channel and on the basic channel alike. */
	select_isdr(c, 0);
	for (int k = 0; k < 2; k++) {
		int on = k == 0 ? ch : 0;
		assert_int_equal(call_sw(c, on, "BF31 07 80 05 73 69 6D 2D 31"), 0x6A80);
		assert_int_equal(call_sw(c, on, "BF32 07 80 05 73 69 6D 2D 31"), 0x6A80);
		assert_int_equal(call_sw(c, on, "BF33 07 80 05 73 69 6D 2D 31"), 0x6A80);
		assert_int_equal(call_sw(c, on, "BF50 0A 80 01 78 30 05 02 01 01 05 00"), 0x6A80);
		assert_int_equal(call_sw(c, on, "BF30 03 80 01 C8"), 0x6A80); /* 200 as unsigned: negative */
	}
	/* On the basic channel the list and the notifications are SGP.22's too. */
	size_t nb;
	uint8_t *rb = call_hex(c, 0, "BF2D 00", "ProfileInfoListResponse", &nb);
	assert_int_equal(es10_profile_list_decode(rb, nb, &l), 0);
	assert_int_equal(l.n, 3);
	es10_profile_list_clear(&l);
	free(rb);
	rb = call_hex(c, 0, "BF2B 00", "RetrieveNotificationsListResponse", &nb);
	es10_pending_list pel;
	assert_int_equal(es10_pending_list_decode(rb, nb, &pel), 0);
	assert_true(pel.n >= 3);
	es10_pending_list_clear(&pel);
	free(rb);
	/* A package without a session: conditions not satisfied. */
	assert_int_equal(call_sw(c, ch, "BF36 05 BF23 02 82 00"), 0x6985);
	se_card_free(c);
}

/* A refused package on a logical channel: a ProfileInstallationResult with
 * errorResult, pending like an install. */
static void
test_refused_package(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t otpk[PKI_PUBKEY_LEN], tid[RSP_TID_LEN];
	dl_prepare(c, ch, node_cert_der, node_cert_der_len, node_key, tid, otpk);
	/* A package bound to another key: its MAC / signature does not hold. */
	EVP_PKEY *other = NULL;
	uint8_t pt[PKI_PUBKEY_LEN];
	assert_int_equal(pki_keygen(&other), 0);
	assert_int_equal(pki_pubkey_to_point(other, pt), 0);
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "x");
	snprintf(m.kind, sizeof(m.kind), "sim");
	uint8_t *md = NULL, *pkg = NULL, *resp = NULL;
	size_t mdlen = 0, pkglen = 0, rlen = 0;
	assert_int_equal(md_fixture_iccid(&m, TEST_EID), 0);
	assert_int_equal(rsp_metadata_encode(&m, &md, &mdlen), 0);
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	static const uint8_t host[] = "h";
	assert_int_equal(bsp_package_build(pt, PKI_PUBKEY_LEN, &eid, tid, RSP_TID_LEN, host, 1, node_key, md,
	    mdlen, (const uint8_t *)"p", 1, &pkg, &pkglen), 0);
	assert_int_equal(es10(c, ch, pkg, pkglen, &resp, &rlen), 0x9000);
	asn1_dump("ProfileInstallationResult", resp, rlen);
	es10_pending pn;
	assert_int_equal(es10_pending_decode(resp, rlen, &pn), 0);
	assert_false(pn.pir.success);
	/* smdpSign covers the eUICC's otPK: another key is an invalid signature */
	assert_int_equal(pn.pir.bpp_command_id, ES10_BPP_INITIALISE_SECURE_CHANNEL);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_INVALID_SIGNATURE);
	assert_false(pn.meta.has_iccid);
	assert_int_equal(es10_pending_verify(&pn, euicc_pub), 0);
	assert_true(ossl_verify(euicc_pub, pn.tbs, pn.tbs_len, pn.sig));
	size_t n, cnt;
	uint8_t *r = call_hex(c, ch, "BF2B 00", "RetrieveNotificationsListResponse", &n);
	es10_pending e = pending_at(r, n, 0, &cnt);
	assert_int_equal(cnt, 1);
	assert_int_equal(e.der_len, rlen);
	free(r);
	EVP_PKEY_free(other);
	free(md);
	free(pkg);
	free(resp);
	se_card_free(c);
}

static int
has_bytes(const uint8_t *h, size_t hn, const uint8_t *x, size_t xn)
{
	for (size_t i = 0; i + xn <= hn; i++)
		if (memcmp(h + i, x, xn) == 0)
			return 1;
	return 0;
}

/* A download with the given metadata ICCID (NULL: none) and profile bytes;
 * returns the decoded ProfileInstallationResult (a fresh session on ch). */
static es10_pending
download_profile(se_card *c, int ch, const char *app_id, const char *kind, const uint8_t *md_iccid,
    const uint8_t *profile, size_t profile_len)
{
	uint8_t otpk[PKI_PUBKEY_LEN], tid[RSP_TID_LEN];
	dl_prepare(c, ch, node_cert_der, node_cert_der_len, node_key, tid, otpk);
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", app_id);
	snprintf(m.kind, sizeof(m.kind), "%s", kind);
	snprintf(m.provider, sizeof(m.provider), "acme-mobile");
	if (md_iccid != NULL) {
		m.has_iccid = 1;
		memcpy(m.iccid, md_iccid, ES10_ICCID_LEN);
	}
	uint8_t *md = NULL, *pkg = NULL, *resp = NULL;
	size_t mdlen = 0, pkglen = 0, rlen = 0;
	assert_int_equal(md_fixture_iccid(&m, TEST_EID), 0);
	assert_int_equal(rsp_metadata_encode(&m, &md, &mdlen), 0);
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	static const uint8_t host[] = "tapshare-node";
	assert_int_equal(bsp_package_build(otpk, PKI_PUBKEY_LEN, &eid, tid, RSP_TID_LEN, host,
	    sizeof(host) - 1, node_key, md, mdlen, profile, profile_len, &pkg, &pkglen), 0);
	assert_int_equal(es10(c, ch, pkg, pkglen, &resp, &rlen), 0x9000);
	asn1_dump("ProfileInstallationResult", resp, rlen);
	es10_pending pn;
	assert_int_equal(es10_pending_decode(resp, rlen, &pn), 0);
	assert_int_equal(es10_pending_verify(&pn, euicc_pub), 0);
	free(md);
	free(pkg);
	free(resp);
	return pn;
}

/* A SIM's profile is a TCA profile package (se/profile.c): installed under
 * the metadata's ICCID when its ProfileHeader carries the same one; refused
 * with installFailedDueToDataMismatch when not, with
 * installFailedDueToPEProcessingError when it is no package. */
static void
test_profile_package(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t a[ES10_ICCID_LEN], b[ES10_ICCID_LEN], *pkg = NULL;
	size_t pkg_len = 0;
	/* 8944012345678901238 and 8944012345678901246: Luhn-valid, not derived */
	vec va = hx("98 44 10 32 54 76 98 10 32 F8"), vb = hx("98 44 10 32 54 76 98 10 42 F6");
	memcpy(a, va.b, sizeof(a));
	memcpy(b, vb.b, sizeof(b));
	rsp_metadata unused;
	sim_fixture(a, &unused, &pkg, &pkg_len);

	/* ICCID mismatch: refused at loadProfileElements, nothing installed */
	es10_pending pn = download_profile(c, ch, "sim-b", "sim", b, pkg, pkg_len);
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.bpp_command_id, ES10_BPP_LOAD_PROFILE_ELEMENTS);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_DATA_MISMATCH);
	/* no metadata ICCID: the derived one cannot be the package's either */
	pn = download_profile(c, ch, "sim-b", "sim", NULL, pkg, pkg_len);
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_DATA_MISMATCH);
	/* not a profile package */
	pn = download_profile(c, ch, "sim-b", "sim", b, (const uint8_t *)"{\"ki\":\"00\"}", 11);
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.bpp_command_id, ES10_BPP_LOAD_PROFILE_ELEMENTS);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_PE_PROCESSING);
	/* a package with a trailing byte */
	uint8_t *longer = malloc(pkg_len + 1);
	assert_non_null(longer);
	memcpy(longer, pkg, pkg_len);
	longer[pkg_len] = 0;
	pn = download_profile(c, ch, "sim-b", "sim", a, longer, pkg_len + 1);
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_PE_PROCESSING);
	free(longer);
	size_t n;
	uint8_t *r = call_hex(c, ch, "BF2D 00", "ProfileInfoListResponse", &n);
	assert_false(has_bytes(r, n, a, sizeof(a)));
	free(r);

	/* matching ICCIDs: installed, under the metadata's ICCID */
	pn = download_profile(c, ch, "sim-a", "sim", a, pkg, pkg_len);
	assert_true(pn.pir.success);
	assert_true(pn.meta.has_iccid);
	assert_memory_equal(pn.meta.iccid, a, sizeof(a));
	r = call_hex(c, ch, "BF2D 00", "ProfileInfoListResponse", &n);
	assert_true(has_bytes(r, n, a, sizeof(a)));
	free(r);
	/* the same ICCID again, for another app */
	pn = download_profile(c, ch, "sim-c", "sim", a, pkg, pkg_len);
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_ICCID_ALREADY_EXISTS);
	/* other kinds: a bare credential is kept as it is */
	pn = download_profile(c, ch, "svc-1", "service", b, (const uint8_t *)"{}", 2);
	assert_true(pn.pir.success);
	assert_memory_equal(pn.meta.iccid, b, sizeof(b));
	/* ... a credential-only package is checked like a SIM's */
	uint8_t d[ES10_ICCID_LEN], *cp = NULL;
	size_t cp_len = 0;
	vec vd = hx("98 44 10 32 54 76 98 10 52 F3"); /* 8944012345678901253 */
	memcpy(d, vd.b, sizeof(d));
	upp_sim cs;
	memset(&cs, 0, sizeof(cs));
	memcpy(cs.iccid, d, sizeof(d));
	cs.app_content = (const uint8_t *)"{\"token\":\"t\"}";
	cs.app_content_len = 13;
	memcpy(cs.iccid, a, sizeof(a));
	assert_int_equal(upp_encode(&cs, &cp, &cp_len), 0);
	pn = download_profile(c, ch, "svc-2", "service", d, cp, cp_len); /* package: a; metadata: d */
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_DATA_MISMATCH);
	free(cp);
	memcpy(cs.iccid, d, sizeof(d));
	assert_int_equal(upp_encode(&cs, &cp, &cp_len), 0);
	pn = download_profile(c, ch, "svc-2", "service", d, pkg, pkg_len); /* a SIM package */
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_PE_PROCESSING);
	pn = download_profile(c, ch, "sim-d", "sim", d, cp, cp_len); /* a SIM without USIM */
	assert_false(pn.pir.success);
	assert_int_equal(pn.pir.error_reason, ES10_ERR_PE_PROCESSING);
	pn = download_profile(c, ch, "svc-2", "service", d, cp, cp_len);
	assert_true(pn.pir.success);
	assert_memory_equal(pn.meta.iccid, d, sizeof(d));
	free(cp);
	free(pkg);
	se_card_free(c);
}

/* The smdpOid of the PIR is the DPpb certificate's registeredID. */
static void
test_smdp_oid(void **st)
{
	(void)st;
	EVP_PKEY *k = NULL;
	X509 *dp = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_SIGNING, .cn = "DPpb", .san = "RID:2.999.1",
		.role = PKI_ROLE_DP_PB, .days = 1 };
	assert_int_equal(pki_issue(ci_cert, ci_key, k, &o, &dp), 0);
	uint8_t *der = NULL;
	size_t dlen = 0;
	assert_int_equal(pki_cert_to_der(dp, &der, &dlen), 0);
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t tid[RSP_TID_LEN];
	size_t pl;
	uint8_t *pir = download_with(c, ch, der, dlen, k, "sim-9", "sim", 0, &pl, tid);
	es10_pending pn;
	assert_int_equal(es10_pending_decode(pir, pl, &pn), 0);
	assert_int_equal(pn.pir.smdp_oid_len, 3);
	assert_memory_equal(pn.pir.smdp_oid, "\x88\x37\x01", 3); /* 2.999 = 80 + 999 -> 88 37; 1 -> 01 */
	free(pir);
	free(der);
	X509_free(dp);
	EVP_PKEY_free(k);
	se_card_free(c);
}

/* CancelSession (SGP.22 §5.7.14): only the open session's transactionId; the
 * answer signed over exactly euiccCancelSessionSigned (checked with OpenSSL),
 * naming the SM-DP+ OID of the session's DPauth certificate; the session ends. */
static void
test_cancel_session(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t *resp = NULL;
	size_t rlen = 0;
	/* no session: cancelSessionResponseError invalidTransactionId(5) */
	vec q0 = hx("BF41 15 80 10 0102030405060708090A0B0C0D0E0F10 81 01 00");
	assert_int_equal(es10(c, ch, q0.b, q0.n, &resp, &rlen), 0x9000);
	vec e5 = hx("BF41 03 81 01 05");
	assert_int_equal(rlen, e5.n);
	assert_memory_equal(resp, e5.b, e5.n);
	asn1_dump("CancelSessionResponse", resp, rlen);
	free(resp);

	uint8_t tid[RSP_TID_LEN], otpk[PKI_PUBKEY_LEN];
	dl_prepare(c, ch, node_cert_der, node_cert_der_len, node_key, tid, otpk);
	/* another transactionId */
	uint8_t q[32] = { 0xBF, 0x41, 0x15, 0x80, 0x10 };
	memcpy(q + 5, tid, RSP_TID_LEN);
	q[5] ^= 0x01;
	memcpy(q + 21, "\x81\x01\x05", 3);
	assert_int_equal(es10(c, ch, q, 24, &resp, &rlen), 0x9000);
	assert_int_equal(rlen, e5.n);
	assert_memory_equal(resp, e5.b, e5.n);
	free(resp);
	/* the session's: loadBppExecutionError */
	q[5] ^= 0x01;
	asn1_dump("CancelSessionRequest", q, 24);
	assert_int_equal(es10(c, ch, q, 24, &resp, &rlen), 0x9000);
	asn1_dump("CancelSessionResponse", resp, rlen);
	der_tlv t, ok, css, sig, x;
	der_iter it, in;
	assert_int_equal(der_read_one(resp, rlen, &t), 0);
	assert_int_equal(t.tag, 0xBF41);
	der_iter_init(&it, t.val, t.len);
	assert_int_equal(der_iter_expect(&it, 0xA0, &ok), 0);
	assert_int_equal(der_iter_end(&it), 0);
	der_iter_init(&in, ok.val, ok.len);
	assert_int_equal(der_iter_expect(&in, 0x30, &css), 0);
	assert_int_equal(der_iter_expect(&in, 0x5F37, &sig), 0);
	assert_int_equal(der_iter_end(&in), 0);
	assert_int_equal(sig.len, 64);
	assert_true(ossl_verify(euicc_pub, css.val - css.hdr_len, css.hdr_len + css.len, sig.val));
	asn1_dump("EuiccCancelSessionSigned", css.val - css.hdr_len, css.hdr_len + css.len);
	der_iter_init(&in, css.val, css.len);
	assert_int_equal(der_iter_expect(&in, 0x80, &x), 0);
	assert_int_equal(x.len, RSP_TID_LEN);
	assert_memory_equal(x.val, tid, RSP_TID_LEN);
	assert_int_equal(der_iter_expect(&in, 0x81, &x), 0);
	/* the registeredID of the DPauth certificate's subjectAltName (OpenSSL) */
	X509 *ac = NULL;
	assert_int_equal(pki_cert_from_der(auth_der, auth_der_len, &ac), 0);
	GENERAL_NAMES *gens = X509_get_ext_d2i(ac, NID_subject_alt_name, NULL, NULL);
	int found = 0;
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_RID && OBJ_length(g->d.registeredID) == x.len &&
		    memcmp(OBJ_get0_data(g->d.registeredID), x.val, x.len) == 0)
			found = 1;
	}
	GENERAL_NAMES_free(gens);
	X509_free(ac);
	assert_true(found);
	assert_int_equal(der_iter_expect(&in, 0x82, &x), 0);
	assert_int_equal(x.len, 1);
	assert_int_equal(x.val[0], 5);
	assert_int_equal(der_iter_end(&in), 0);
	free(resp);
	/* the session is over: a second cancel finds none */
	assert_int_equal(es10(c, ch, q, 24, &resp, &rlen), 0x9000);
	assert_int_equal(rlen, e5.n);
	assert_memory_equal(resp, e5.b, e5.n);
	free(resp);
	/* a malformed request is a status word, not a result */
	vec bad = hx("BF41 03 80 01 01");
	assert_int_not_equal(es10(c, ch, bad.b, bad.n, &resp, &rlen), 0x9000);
	free(resp);
	se_card_free(c);
}

static void
test_memory_reset(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t tid[RSP_TID_LEN];
	size_t pl, n;
	free(download(c, ch, "sim-1", "sim", &pl, tid));
	free(download(c, ch, "sim-2", "sim", &pl, tid));
	call_expect(c, ch, "BF3F 04 80 02 61 62", "SetDefaultDpAddressResponse", "BF3F 03 80 01 00");
	/* deleteOperationalProfiles + resetDefaultSmdpAddress. */
	call_expect(c, ch, "BF34 04 82 02 05 A0", "EuiccMemoryResetResponse", "BF34 03 80 01 00");
	call_expect(c, ch, "BF2D 00", "ProfileInfoListResponse", "BF2D 02 A0 00");
	call_expect(c, ch, "BF3C 00", "EuiccConfiguredAddressesResponse",
	    "BF3C 11 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
	/* Two installs, then the two deletes. */
	uint8_t *r = call_hex(c, ch, "BF28 04 81 02 04 10", "ListNotificationResponse", &n);
	es10_notif_list nl;
	assert_int_equal(es10_notif_list_decode(r, n, &nl), 0);
	assert_int_equal(nl.n, 2);
	assert_int_equal(nl.items[0].seq, 3);
	es10_notif_list_clear(&nl);
	free(r);
	/* Again: nothing to delete. */
	call_expect(c, ch, "BF34 04 82 02 05 A0", "EuiccMemoryResetResponse", "BF34 03 80 01 01");
	se_card_free(c);
}

/* ---- credential applet ---- */

static void
select_cred(se_card *c, int ch)
{
	uint8_t a[5 + CRED_AID_LEN] = { cla_of(ch, 0), 0xA4, 0x04, 0x00, CRED_AID_LEN };
	memcpy(a + 5, CRED_AID, CRED_AID_LEN);
	size_t n;
	assert_int_equal(xmit(c, a, sizeof(a), &n), 0x610E);
	uint8_t gr[5] = { cla_of(ch, 0), 0xC0, 0x00, 0x00, 0x0E };
	assert_int_equal(xmit(c, gr, sizeof(gr), &n), 0x9000);
	expect_hex(rbuf, n, "6F 0C 84 0A F0 74 61 70 73 68 61 72 65 01");
}

/* A credential applet command with data; returns SW, *out the answer. */
static uint16_t
cred(se_card *c, int ch, uint8_t ins, const uint8_t *data, size_t len, uint8_t **out, size_t *olen)
{
	uint8_t a[7 + 1024];
	size_t n;
	assert_true(len <= 1024);
	a[0] = cla_of(ch, 1);
	a[1] = ins;
	a[2] = a[3] = 0;
	size_t alen = 4;
	if (len > 255) { /* extended Lc */
		a[4] = 0;
		a[5] = (uint8_t)(len >> 8);
		a[6] = (uint8_t)len;
		memcpy(a + 7, data, len);
		alen = 7 + len;
	} else if (len > 0) {
		a[4] = (uint8_t)len;
		memcpy(a + 5, data, len);
		alen = 5 + len;
	}
	uint16_t sw = xmit(c, a, alen, &n);
	*out = NULL;
	*olen = 0;
	while ((sw & 0xFF00) == 0x6100) {
		uint8_t gr[5] = { cla_of(ch, 0), 0xC0, 0x00, 0x00, (uint8_t)(sw & 0xFF) };
		sw = xmit(c, gr, 5, &n);
		uint8_t *nb = realloc(*out, *olen + n + 1);
		assert_non_null(nb);
		*out = nb;
		memcpy(*out + *olen, rbuf, n);
		*olen += n;
	}
	return sw;
}

static void
test_credential_applet(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	int ch = open_channel(c);
	select_isdr(c, ch);
	uint8_t tid[RSP_TID_LEN];
	size_t pl;
	free(download(c, ch, "sim-1", "sim", &pl, tid));
	free(download(c, ch, "bank-1", "bankid", &pl, tid));
	int cc = open_channel(c);
	select_cred(c, cc);

	/* LIST: both entries, tapshare metadata by ICCID. */
	uint8_t *out = NULL;
	size_t olen = 0;
	assert_int_equal(cred(c, cc, CRED_INS_LIST, NULL, 0, &out, &olen), 0x9000);
	cred_entry *e = NULL;
	size_t ne = 0;
	assert_int_equal(cred_list_decode(out, olen, &e, &ne), 0);
	assert_int_equal(ne, 2);
	assert_string_equal(e[0].app_id, "sim-1");
	assert_string_equal(e[1].app_id, "bank-1");
	assert_string_equal(e[1].kind, "bankid");
	assert_string_equal(e[1].provider, "acme-mobile");
	assert_int_equal(e[1].key_state, CRED_KEY_PENDING); /* generated at install */
	assert_int_equal(e[0].key_state, CRED_KEY_NONE);
	uint8_t bank_iccid[10], sim_iccid[10];
	memcpy(bank_iccid, e[1].iccid, 10);
	memcpy(sim_iccid, e[0].iccid, 10);
	free(e);
	free(out);
	/* The ISD-R on the other channel is unaffected; the applet knows no ES10. */
	assert_int_equal(call_sw(c, ch, "BF3E 03 5C 01 5A"), 0x9000);
	static const uint8_t sd[] = { 0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x2D, 0x00 };
	uint8_t sdc[sizeof(sd)];
	memcpy(sdc, sd, sizeof(sd));
	sdc[0] = cla_of(cc, 1);
	size_t n;
	assert_int_equal(xmit(c, sdc, sizeof(sdc), &n), 0x6D00);

	/* GET one entry; unknown ICCID 6A88. */
	uint8_t q[12] = { 0x5A, 0x0A };
	memcpy(q + 2, bank_iccid, 10);
	assert_int_equal(cred(c, cc, CRED_INS_GET, q, sizeof(q), &out, &olen), 0x9000);
	cred_entry one;
	assert_int_equal(cred_entry_decode(out, olen, &one), 0);
	assert_string_equal(one.app_id, "bank-1");
	free(out);
	uint8_t qx[12] = { 0x5A, 0x0A, 0x98, 0x44, 0x05, 0x10, 0x20, 0x91, 0x38, 0x40, 0x28, 0xF6 };
	assert_int_equal(cred(c, cc, CRED_INS_GET, qx, sizeof(qx), &out, &olen), 0x6A88);
	free(out);

	/* GENERATE KEY: the app's public key, the same twice; not for a SIM. */
	assert_int_equal(cred(c, cc, CRED_INS_GENERATE_KEY, q, sizeof(q), &out, &olen), 0x9000);
	uint8_t ic[10], point[65];
	assert_int_equal(cred_key_decode(out, olen, ic, point), 0);
	assert_memory_equal(ic, bank_iccid, 10);
	free(out);
	assert_int_equal(cred(c, cc, CRED_INS_GENERATE_KEY, q, sizeof(q), &out, &olen), 0x9000);
	uint8_t point2[65];
	assert_int_equal(cred_key_decode(out, olen, ic, point2), 0);
	assert_memory_equal(point, point2, 65);
	free(out);
	uint8_t qs[12] = { 0x5A, 0x0A };
	memcpy(qs + 2, sim_iccid, 10);
	assert_int_equal(cred(c, cc, CRED_INS_GENERATE_KEY, qs, sizeof(qs), &out, &olen), 0x6985);
	free(out);
	assert_int_equal(cred(c, cc, CRED_INS_READ_CERT, q, sizeof(q), &out, &olen), 0x6A88);
	free(out);

	/* STORE CERTIFICATE: one for another key is refused (6A80); one for
	 * the app's key is stored, then read back; a second is 6985. */
	EVP_PKEY *appkey = NULL, *otherkey = NULL;
	assert_int_equal(pki_pubkey_from_point(point, 65, &appkey), 0);
	assert_int_equal(pki_keygen(&otherkey), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_SIGNING, .cn = "bank-1 key", .days = 1 };
	X509 *good = NULL, *bad = NULL;
	assert_int_equal(pki_issue(ci_cert, ci_key, appkey, &o, &good), 0);
	assert_int_equal(pki_issue(ci_cert, ci_key, otherkey, &o, &bad), 0);
	uint8_t *gder = NULL, *bder = NULL, *data = NULL;
	size_t glen = 0, blen = 0, dlen = 0;
	assert_int_equal(pki_cert_to_der(good, &gder, &glen), 0);
	assert_int_equal(pki_cert_to_der(bad, &bder, &blen), 0);
	assert_int_equal(cred_store_cert_encode(bank_iccid, bder, blen, &data, &dlen), 0);
	assert_int_equal(cred(c, cc, CRED_INS_STORE_CERT, data, dlen, &out, &olen), 0x6A80);
	free(data);
	free(out);
	/* Still not enable-able. */
	char ih[21], req[256];
	hex_of(bank_iccid, 10, ih);
	snprintf(req, sizeof(req), "BF31 11 A0 0C 5A 0A %s 81 01 FF", ih);
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 03");
	assert_int_equal(cred_store_cert_encode(bank_iccid, gder, glen, &data, &dlen), 0);
	assert_int_equal(cred(c, cc, CRED_INS_STORE_CERT, data, dlen, &out, &olen), 0x9000);
	assert_int_equal(olen, 0);
	free(out);
	assert_int_equal(cred(c, cc, CRED_INS_STORE_CERT, data, dlen, &out, &olen), 0x6985);
	free(out);
	free(data);
	assert_int_equal(cred(c, cc, CRED_INS_READ_CERT, q, sizeof(q), &out, &olen), 0x9000);
	assert_int_equal(olen, glen);
	assert_memory_equal(out, gder, glen);
	free(out);
	assert_int_equal(cred(c, cc, CRED_INS_GENERATE_KEY, q, sizeof(q), &out, &olen), 0x6985);
	free(out);
	/* Now the ISD-R enables it, with the standard enable notification. */
	call_expect(c, ch, req, "EnableProfileResponse", "BF31 03 80 01 00");
	/* Bad P1/P2, CLA, INS. */
	uint8_t bp[5] = { cla_of(cc, 1), CRED_INS_LIST, 0x01, 0x00, 0x00 };
	assert_int_equal(xmit(c, bp, sizeof(bp), &n), 0x6A86);
	uint8_t bc[4] = { cla_of(cc, 0), CRED_INS_LIST, 0x00, 0x00 };
	assert_int_equal(xmit(c, bc, sizeof(bc), &n), 0x6E00);
	uint8_t bi[4] = { cla_of(cc, 1), 0x42, 0x00, 0x00 };
	assert_int_equal(xmit(c, bi, sizeof(bi), &n), 0x6D00);
	/* The certificate persists. */
	se_card_free(c);
	assert_int_equal(se_card_open(state, &c), 0);
	cc = open_channel(c);
	select_cred(c, cc);
	assert_int_equal(cred(c, cc, CRED_INS_GET, q, sizeof(q), &out, &olen), 0x9000);
	assert_int_equal(cred_entry_decode(out, olen, &one), 0);
	assert_int_equal(one.key_state, CRED_KEY_CERTIFIED);
	free(out);
	free(gder);
	free(bder);
	X509_free(good);
	X509_free(bad);
	EVP_PKEY_free(appkey);
	EVP_PKEY_free(otherkey);
	se_card_free(c);
}

/* A state file of the old layout (no ICCID / AID / root SM-DS, private
 * notifications) loads; the identity is given and kept. */
static void
test_old_state(void **st)
{
	(void)st;
	char state[256];
	se_card *c = new_card(state, sizeof(state));
	se_card_free(c);
	assert_int_equal(se_card_preinstall(state, "pre-1", "service", "prov", "Pre"), 0);
	/* Strip the new members as an old tapshare-se would have written it. */
	char cmd[1400];
	snprintf(cmd, sizeof(cmd),
	    "jq 'del(.root_ds) | .apps |= map(del(.iccid, .isdp_aid, .nickname, .notification_address))' "
	    "'%s' > '%s.old' && mv '%s.old' '%s'", state, state, state, state);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(se_card_open(state, &c), 0);
	int ch = open_channel(c);
	select_isdr(c, ch);
	es10_profile_info p;
	first_profile(c, ch, &p);
	char d[21], want[21];
	iccid_digits(p.iccid, d);
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	assert_int_equal(es10_iccid_for_app(&eid, "pre-1", want), 0);
	assert_string_equal(d, want);
	assert_memory_equal(p.aid, "\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x10\x00", 16);
	call_expect(c, ch, "BF3C 00", "EuiccConfiguredAddressesResponse",
	    "BF3C 11 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
	se_card_free(c);
}

int
main(void)
{
	asn1_dump_init("se_es10");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_euicc_info),
		cmocka_unit_test(test_profiles_and_install),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refused_package),
		cmocka_unit_test(test_profile_package),
		cmocka_unit_test(test_smdp_oid),
		cmocka_unit_test(test_cancel_session),
		cmocka_unit_test(test_memory_reset),
		cmocka_unit_test(test_credential_applet),
		cmocka_unit_test(test_old_state),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
