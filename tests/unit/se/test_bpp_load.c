/*
 * test_bpp_load.c — tapshare-se's LoadBoundProfilePackage as a standard LPA
 * drives it (SGP.22 §2.5.5): each command of the bound package its own STORE
 * DATA series, 90 00 without data for every intermediate command, the signed
 * ProfileInstallationResult at the end or at the first error. The test plays
 * the SM-DP+ and crafts packages with lib/bsp.h's low-level calls, so that it
 * can also build the wrong ones: a bad MAC on an 88, a counter not advanced,
 * a missing BF24, reordered 86s, an ICCID that is not the profile's, a second
 * BF23 in the middle of a load.
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

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../md_fixture.h"
#include "../sim_fixture.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/bsp.h"
#include "lib/der.h"
#include "lib/es10.h"
#include "lib/es10dl.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

#include "../../asn1/dump.h"

#define TEST_EID "89049032123451234512345678901235"
#define SERVER_ADDRESS "127.0.0.1:8443"
#define HOST_ID "tapshare-node"

static char dir[64];
static char pki_dir[128];
static EVP_PKEY *node_key, *auth_key;
static uint8_t *node_cert_der, *auth_der;
static size_t node_cert_der_len, auth_der_len;
static int state_counter;

static int
group_setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/ts-bppload-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
	const char *eids[] = { TEST_EID };
	if (pki_testpki_generate(pki_dir, "89049032", eids, 1) != 0)
		return -1;
	char p[256];
	X509 *x = NULL;
	snprintf(p, sizeof(p), "%s/dpauth.key", pki_dir);
	if (pki_key_load(p, &auth_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dpauth.crt", pki_dir);
	if (pki_cert_load(p, &x) != 0 || pki_cert_to_der(x, &auth_der, &auth_der_len) != 0)
		return -1;
	X509_free(x);
	x = NULL;
	snprintf(p, sizeof(p), "%s/dppb.key", pki_dir);
	if (pki_key_load(p, &node_key) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dppb.crt", pki_dir);
	if (pki_cert_load(p, &x) != 0 || pki_cert_to_der(x, &node_cert_der, &node_cert_der_len) != 0)
		return -1;
	X509_free(x);
	return 0;
}

static int
group_teardown(void **st)
{
	(void)st;
	EVP_PKEY_free(node_key);
	EVP_PKEY_free(auth_key);
	free(auth_der);
	free(node_cert_der);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static se_driver *
open_card(void)
{
	char state[256], spec[300];
	snprintf(state, sizeof(state), "%s/se-%d.state", dir, state_counter++);
	assert_int_equal(se_card_init_state(state, pki_dir, TEST_EID), 0);
	snprintf(spec, sizeof(spec), "inproc:%s", state);
	se_driver *d = NULL;
	assert_int_equal(se_driver_open(spec, &d), 0);
	return d;
}

/* ---- the SM-DP+ side up to PrepareDownload ---- */

typedef struct sess {
	uint8_t tid[RSP_TID_LEN];
	uint8_t otpk[PKI_PUBKEY_LEN];
	EVP_PKEY *euicc_pub;
} sess;

static void
prepare(se_driver *d, sess *x)
{
	uint8_t ch[16];
	memset(x, 0, sizeof(*x));
	assert_int_equal(se_get_challenge(d, ch), 0);
	es10_server_signed1 s1;
	memset(&s1, 0, sizeof(s1));
	s1.tid_len = RSP_TID_LEN;
	assert_int_equal(ts_random(s1.tid, RSP_TID_LEN), 0);
	memcpy(s1.euicc_challenge, ch, 16);
	snprintf(s1.server_address, sizeof(s1.server_address), "%s", SERVER_ADDRESS);
	assert_int_equal(ts_random(s1.server_challenge, 16), 0);
	memcpy(x->tid, s1.tid, RSP_TID_LEN);
	uint8_t *s1der = NULL, sig1[PKI_SIG_LEN], *resp = NULL, *tbs = NULL, *s2der = NULL;
	size_t s1len = 0, rlen = 0, tbs_len = 0, s2len = 0;
	assert_int_equal(es10_server_signed1_encode(&s1, &s1der, &s1len), 0);
	assert_int_equal(pki_sign(auth_key, s1der, s1len, sig1), 0);
	assert_int_equal(se_authenticate_server(d, s1der, s1len, sig1, auth_der, auth_der_len, "match-1",
	    &resp, &rlen), 0);
	free(s1der);
	es10_auth_server_resp r;
	assert_int_equal(es10_auth_server_resp_decode(resp, rlen, &r, NULL), 0);
	X509 *euicc = NULL;
	assert_int_equal(pki_cert_from_der(r.euicc_cert.p, r.euicc_cert.len, &euicc), 0);
	x->euicc_pub = X509_get_pubkey(euicc);
	X509_free(euicc);
	uint8_t esig1[PKI_SIG_LEN], sig2[PKI_SIG_LEN];
	memcpy(esig1, r.euicc_signature1, PKI_SIG_LEN);
	free(resp);
	es10_smdp_signed2 s2 = { .cc_required = 0 };
	s2.tid_len = RSP_TID_LEN;
	memcpy(s2.tid, x->tid, RSP_TID_LEN);
	assert_int_equal(es10_smdp_signed2_encode(&s2, &s2der, &s2len), 0);
	assert_int_equal(es10_sig_input(s2der, s2len, esig1, &tbs, &tbs_len), 0);
	assert_int_equal(pki_sign(node_key, tbs, tbs_len, sig2), 0);
	free(tbs);
	assert_int_equal(se_prepare_download(d, s2der, s2len, sig2, node_cert_der, node_cert_der_len,
	    &resp, &rlen), 0);
	free(s2der);
	es10_prepare_download_resp pr;
	es10_euicc_signed2 e2;
	assert_int_equal(es10_prepare_download_resp_decode(resp, rlen, &pr, NULL), 0);
	assert_int_equal(es10_euicc_signed2_decode(pr.euicc_signed2.p, pr.euicc_signed2.len, &e2), 0);
	memcpy(x->otpk, e2.euicc_otpk, PKI_PUBKEY_LEN);
	free(resp);
}

/* ---- crafting packages ---- */

enum {
	F_BAD_MAC_88 = 1,   /* one bit of the 88's MAC flipped */
	F_NO_CTR_88 = 2,    /* the SM-DP+ did not advance the counter for the 88 */
	F_NO_BF24 = 4,      /* no firstSequenceOf87 */
	F_SWAP_86 = 8,      /* the first two 86s swapped */
	F_ICCID_OTHER = 16, /* BF25's ICCID is not the profile header's */
	F_RSK = 32,         /* with ReplaceSessionKeys (A2) */
	F_SIM = 64,         /* a SIM: a real profile package */
	F_TEST_CLASS = 128, /* profileClass test */
	F_EXPIRED = 256,    /* tapshare's notAfter in the past */
};

/* The n-th child TLV of the package's top level, and of that child. */
static der_tlv
child(const uint8_t *pkg, size_t len, uint32_t tag, size_t n)
{
	der_tlv top, t, c;
	der_iter it;
	assert_int_equal(der_read_one(pkg, len, &top), 0);
	assert_int_equal(der_find(top.val, top.len, tag, &t), 0);
	der_iter_init(&it, t.val, t.len);
	for (size_t i = 0; i <= n; i++)
		assert_int_equal(der_iter_next(&it, &c), 1);
	return c;
}

static void
craft(const sess *x, const char *app_id, unsigned f, uint8_t **pkg, size_t *len)
{
	eid_t eid;
	rsp_metadata m;
	bsp_server s;
	bsp_keys ppk;
	der_writer w;
	uint8_t *md = NULL, *bf24 = NULL, *bf26 = NULL, *payload = NULL;
	size_t mdl = 0, bf24l = 0, bf26l = 0, pl = 0;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", app_id);
	snprintf(m.name, sizeof(m.name), "Name of %s", app_id);
	snprintf(m.provider, sizeof(m.provider), "acme-mobile");
	snprintf(m.notif_address, sizeof(m.notif_address), "%s", SERVER_ADDRESS);
	if (f & (F_SIM | F_ICCID_OTHER | F_NO_CTR_88)) {
		/* 8944012345678901238, and for the mismatch 8944012345678901246 */
		static const uint8_t a[] = { 0x98, 0x44, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x32, 0xF8 };
		static const uint8_t b[] = { 0x98, 0x44, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x42, 0xF6 };
		snprintf(m.kind, sizeof(m.kind), "sim");
		sim_fixture(a, &m, &payload, &pl);
		if (f & F_ICCID_OTHER)
			memcpy(m.iccid, b, sizeof(b));
	} else {
		/* a bare credential of three segments (1007 + 1007 + 986) */
		snprintf(m.kind, sizeof(m.kind), "service");
		pl = 3000;
		payload = malloc(pl);
		assert_non_null(payload);
		for (size_t i = 0; i < pl; i++)
			payload[i] = (uint8_t)('a' + i % 26);
		assert_int_equal(md_fixture_iccid(&m, TEST_EID), 0);
	}
	if (f & F_TEST_CLASS)
		m.profile_class = RSP_PCLASS_TEST;
	if (f & F_EXPIRED)
		m.not_after = 1000000000;
	assert_int_equal(rsp_metadata_encode(&m, &md, &mdl), 0);
	asn1_dump("StoreMetadataRequest", md, mdl);
	static const uint8_t oid[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37 }; /* 1.3.6.1.4.1.311: any */
	assert_int_equal(bsp_configure_isdp_encode(oid, sizeof(oid), &bf24, &bf24l), 0);
	asn1_dump("ConfigureISDPRequest", bf24, bf24l);
	assert_int_equal(bsp_server_start(&s, x->otpk, PKI_PUBKEY_LEN, &eid, x->tid, RSP_TID_LEN,
	    (const uint8_t *)HOST_ID, strlen(HOST_ID), node_key), 0);
	asn1_dump("InitialiseSecureChannelRequest", s.bf23, s.bf23_len);
	der_writer_init(&w);
	der_begin(&w, 0xBF36);
	der_put_raw(&w, s.bf23, s.bf23_len);
	if (!(f & F_NO_BF24))
		assert_int_equal(bsp_put_sequence(&w, &s.k, 0xA0, 0x87, bf24, bf24l), 0);
	assert_int_equal(bsp_put_sequence(&w, &s.k, 0xA1, 0x88, md, mdl), 0);
	if (f & F_NO_CTR_88)
		s.k.counter--; /* the defect of tapshare's old SM-DP+ */
	bsp_keys *k = &s.k;
	if (f & F_RSK) {
		assert_int_equal(ts_random(ppk.mcv, 16), 0);
		assert_int_equal(ts_random(ppk.s_enc, 16), 0);
		assert_int_equal(ts_random(ppk.s_mac, 16), 0);
		ppk.counter = 1;
		assert_int_equal(bsp_rsk_encode(&ppk, &bf26, &bf26l), 0);
		asn1_dump("ReplaceSessionKeysRequest", bf26, bf26l);
		assert_int_equal(bsp_put_sequence(&w, &s.k, 0xA2, 0x87, bf26, bf26l), 0);
		k = &ppk;
	}
	assert_int_equal(bsp_put_sequence(&w, k, 0xA3, 0x86, payload, pl), 0);
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, pkg, len), 0);
	der_writer_clear(&w);
	if (f & F_BAD_MAC_88) {
		der_tlv t = child(*pkg, *len, 0xA1, 0);
		(*pkg)[t.val - *pkg + t.len - 1] ^= 0x01;
	}
	if (f & F_SWAP_86) {
		der_tlv t0 = child(*pkg, *len, 0xA3, 0), t1 = child(*pkg, *len, 0xA3, 1);
		assert_int_equal(t0.len, t1.len);
		uint8_t tmp[1020];
		size_t n = t0.hdr_len + t0.len;
		uint8_t *p0 = *pkg + (t0.val - t0.hdr_len - *pkg), *p1 = *pkg + (t1.val - t1.hdr_len - *pkg);
		memcpy(tmp, p0, n);
		memcpy(p0, p1, n);
		memcpy(p1, tmp, n);
	}
	if (!(f & (F_BAD_MAC_88 | F_NO_BF24 | F_SWAP_86)))
		asn1_dump("BoundProfilePackage", *pkg, *len);
	bsp_server_clear(&s);
	bsp_keys_clear(&ppk);
	free(md);
	free(bf24);
	free(bf26);
	free(payload);
}

/* ---- sending it, as an LPA ---- */

/* One command as its own STORE DATA series (blocks of 255, P2 counting),
 * GET RESPONSE while 61xx. Returns the final SW; *resp the data (or NULL). */
static uint16_t
send_cmd(se_driver *d, int ch, const uint8_t *cmd, size_t len, uint8_t **resp, size_t *rlen)
{
	uint8_t a[5 + 255], r[300];
	size_t off = 0, n = 0;
	unsigned block = 0;
	uint16_t sw = 0;
	*resp = NULL;
	*rlen = 0;
	while (off < len) {
		size_t k = len - off > 255 ? 255 : len - off;
		int last = off + k == len;
		a[0] = (uint8_t)(0x80 | ch);
		a[1] = 0xE2;
		a[2] = last ? 0x91 : 0x11;
		a[3] = (uint8_t)block++;
		a[4] = (uint8_t)k;
		memcpy(a + 5, cmd + off, k);
		assert_int_equal(se_driver_transmit(d, a, 5 + k, r, sizeof(r), &n), 0);
		assert_true(n >= 2);
		sw = (uint16_t)(r[n - 2] << 8 | r[n - 1]);
		off += k;
		if (!last)
			assert_int_equal(sw, 0x9000);
	}
	while ((sw & 0xFF00) == 0x6100) {
		uint8_t gr[5] = { (uint8_t)ch, 0xC0, 0x00, 0x00, (uint8_t)(sw & 0xFF) };
		assert_int_equal(se_driver_transmit(d, gr, 5, r, sizeof(r), &n), 0);
		assert_true(n >= 2);
		sw = (uint16_t)(r[n - 2] << 8 | r[n - 1]);
		uint8_t *nb = realloc(*resp, *rlen + n);
		assert_non_null(nb);
		*resp = nb;
		memcpy(*resp + *rlen, r, n - 2);
		*rlen += n - 2;
	}
	return sw;
}

typedef struct slice {
	size_t off, len;
} slice;

/* The commands: SGP.22's split (bsp_split), or lpac's (A0 and A2 whole). */
static size_t
commands(const uint8_t *pkg, size_t len, int lpac, slice *out, size_t max)
{
	bsp_cmd *c = NULL;
	size_t n = 0, k = 0;
	assert_int_equal(bsp_split(pkg, len, &c, &n), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t t = pkg[c[i].off];
		if (lpac && k > 0 && t == 0x87) {
			/* an 87 after the first: lpac sends it with A0 / A2 */
			out[k - 1].len = c[i].off + c[i].len - out[k - 1].off;
			continue;
		}
		assert_true(k < max);
		out[k].off = c[i].off;
		out[k].len = c[i].len;
		k++;
	}
	free(c);
	return k;
}

/* Sends the commands from first on; each but the answering one must give
 * 90 00 with no data. Returns the index that answered (the PIR in *pir). */
static size_t
load(se_driver *d, const uint8_t *pkg, const slice *s, size_t n, size_t first, uint8_t **pir, size_t *pirl)
{
	int ch = se_driver_app_channel(d, SE_APP_ISDR);
	assert_true(ch >= 0);
	for (size_t i = first; i < n; i++) {
		uint16_t sw = send_cmd(d, ch, pkg + s[i].off, s[i].len, pir, pirl);
		assert_int_equal(sw, 0x9000);
		if (*pirl > 0)
			return i;
	}
	fail_msg("no ProfileInstallationResult after %zu commands", n);
	return n;
}

static es10_pending
pir_of(const sess *x, const uint8_t *pir, size_t len)
{
	es10_pending p;
	asn1_dump("ProfileInstallationResult", pir, len);
	assert_int_equal(es10_pending_decode(pir, len, &p), 0);
	assert_int_equal(p.kind, ES10_PENDING_INSTALL);
	assert_int_equal(es10_pending_verify(&p, x->euicc_pub), 0);
	assert_int_equal(p.pir.tid_len, RSP_TID_LEN);
	assert_memory_equal(p.pir.tid, x->tid, RSP_TID_LEN);
	return p;
}

/* ---- tests ---- */

static void
install_ok(unsigned f, int lpac, const char *app_id)
{
	se_driver *d = open_card();
	sess x;
	prepare(d, &x);
	uint8_t *pkg = NULL, *pir = NULL;
	size_t len = 0, pirl = 0;
	craft(&x, app_id, f, &pkg, &len);
	slice s[64];
	size_t n = commands(pkg, len, lpac, s, 64);
	/* BF36+BF23, A0+87, A1, 88, [A2+87], A3, 86 x3 (or 1 for a SIM) */
	assert_int_equal(n, (f & F_SIM ? 6u : 8u) + (f & F_RSK ? 1u : 0u));
	assert_int_equal(pkg[s[0].off + 5], 0xBF); /* BF 36 82 LL LL | BF 23 */
	assert_int_equal(pkg[s[2].off], 0xA1);     /* A1 tag and length alone */
	assert_true(s[2].len <= 4);
	size_t at = load(d, pkg, s, n, 0, &pir, &pirl);
	assert_int_equal(at, n - 1); /* nothing but 90 00 before the last 86 */
	es10_pending p = pir_of(&x, pir, pirl);
	assert_true(p.pir.success);
	se_app a;
	assert_int_equal(se_find_app(d, app_id, &a), 0);
	free(pir);
	free(pkg);
	EVP_PKEY_free(x.euicc_pub);
	se_driver_free(d);
}

static void
test_load_by_command(void **st)
{
	(void)st;
	install_ok(0, 0, "svc-spec-split");
	install_ok(0, 1, "svc-lpac-split");
	install_ok(F_SIM, 0, "sim-1");
}

static void
test_load_replace_session_keys(void **st)
{
	(void)st;
	install_ok(F_RSK, 0, "svc-ppk");
	install_ok(F_RSK | F_SIM, 1, "sim-ppk");
}

/* The whole package in one STORE DATA chain (tapshare's companions before
 * the split) still installs. */
static void
test_load_whole(void **st)
{
	(void)st;
	se_driver *d = open_card();
	sess x;
	prepare(d, &x);
	uint8_t *pkg = NULL, *pir = NULL;
	size_t len = 0, pirl = 0;
	craft(&x, "svc-whole", 0, &pkg, &len);
	slice s = { 0, len };
	assert_int_equal(load(d, pkg, &s, 1, 0, &pir, &pirl), 0);
	assert_true(pir_of(&x, pir, pirl).pir.success);
	free(pir);
	free(pkg);
	EVP_PKEY_free(x.euicc_pub);
	se_driver_free(d);
}

static void
refused(unsigned f, int want_cmd, int want_reason, size_t want_at)
{
	se_driver *d = open_card();
	sess x;
	prepare(d, &x);
	uint8_t *pkg = NULL, *pir = NULL;
	size_t len = 0, pirl = 0, at;
	craft(&x, "app-bad", f, &pkg, &len);
	slice s[64];
	size_t n = commands(pkg, len, 0, s, 64);
	at = load(d, pkg, s, n, 0, &pir, &pirl);
	if (at != want_at)
		fail_msg("PIR after command %zu, want %zu", at, want_at);
	es10_pending p = pir_of(&x, pir, pirl);
	assert_false(p.pir.success);
	if (p.pir.bpp_command_id != want_cmd || p.pir.error_reason != want_reason)
		fail_msg("bppCommandId %d errorReason %d, want %d %d", p.pir.bpp_command_id,
		    p.pir.error_reason, want_cmd, want_reason);
	free(pir);
	/* The load is over: its next command is no ES10 command (6A80). */
	if (at + 1 < n) {
		int ch = se_driver_app_channel(d, SE_APP_ISDR);
		assert_int_equal(send_cmd(d, ch, pkg + s[at + 1].off, s[at + 1].len, &pir, &pirl), 0x6A80);
		free(pir);
	}
	se_app a;
	assert_int_not_equal(se_find_app(d, "app-bad", &a), 0);
	free(pkg);
	EVP_PKEY_free(x.euicc_pub);
	se_driver_free(d);
}

static void
test_load_refusals(void **st)
{
	(void)st;
	/* commands: 0 BF36+BF23, 1 A0+87, 2 A1, 3 88, 4 A3, 5.. 86 */
	refused(F_BAD_MAC_88, ES10_BPP_STORE_METADATA, ES10_ERR_SCP03T_SECURITY, 3);
	/* the counter of the MAC-only 88 not advanced: the 86's first block
	 * decrypts wrong, the profile package does not decode */
	refused(F_NO_CTR_88, ES10_BPP_LOAD_PROFILE_ELEMENTS, ES10_ERR_PE_PROCESSING, 5);
	/* A1 where A0 (ConfigureISDP) must be: refused at its header */
	refused(F_NO_BF24, ES10_BPP_CONFIGURE_ISDP, ES10_ERR_SCP03T_STRUCTURE, 1);
	/* 86 #2 before #1: the MAC chain breaks at the first one sent */
	refused(F_SWAP_86, ES10_BPP_LOAD_PROFILE_ELEMENTS, ES10_ERR_SCP03T_SECURITY, 5);
	refused(F_ICCID_OTHER, ES10_BPP_LOAD_PROFILE_ELEMENTS, ES10_ERR_DATA_MISMATCH, 5);
	/* BF25 checked when it arrives, before any profile element */
	refused(F_TEST_CLASS, ES10_BPP_STORE_METADATA, ES10_ERR_UNSUPPORTED_PROFILE_CLASS, 3);
	refused(F_EXPIRED, ES10_BPP_STORE_METADATA, ES10_ERR_INCORRECT_INPUT_VALUES, 3);
}

/* The same ICCID twice: the second refused at its BF25. */
static void
test_load_iccid_exists(void **st)
{
	(void)st;
	se_driver *d = open_card();
	for (int round = 0; round < 2; round++) {
		sess x;
		prepare(d, &x);
		uint8_t *pkg = NULL, *pir = NULL;
		size_t len = 0, pirl = 0;
		craft(&x, round == 0 ? "sim-a" : "sim-b", F_SIM, &pkg, &len);
		slice s[64];
		size_t n = commands(pkg, len, 0, s, 64);
		size_t at = load(d, pkg, s, n, 0, &pir, &pirl);
		es10_pending p = pir_of(&x, pir, pirl);
		if (round == 0) {
			assert_true(p.pir.success);
		} else {
			assert_int_equal(at, 3);
			assert_false(p.pir.success);
			assert_int_equal(p.pir.bpp_command_id, ES10_BPP_STORE_METADATA);
			assert_int_equal(p.pir.error_reason, ES10_ERR_ICCID_ALREADY_EXISTS);
		}
		free(pir);
		free(pkg);
		EVP_PKEY_free(x.euicc_pub);
	}
	se_driver_free(d);
}

static void
test_load_second_bf23(void **st)
{
	(void)st;
	/* Sent as command 3 (where the 88 belongs): refused there, at
	 * StoreMetadata, as a structure error. */
	se_driver *d = open_card();
	sess x;
	prepare(d, &x);
	uint8_t *pkg = NULL, *pir = NULL;
	size_t len = 0, pirl = 0;
	craft(&x, "app-twice", 0, &pkg, &len);
	slice s[64];
	size_t n = commands(pkg, len, 0, s, 64);
	assert_true(n > 4);
	int ch = se_driver_app_channel(d, SE_APP_ISDR);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(send_cmd(d, ch, pkg + s[i].off, s[i].len, &pir, &pirl), 0x9000);
		assert_int_equal(pirl, 0);
	}
	assert_int_equal(send_cmd(d, ch, pkg + s[0].off, s[0].len, &pir, &pirl), 0x9000);
	es10_pending p = pir_of(&x, pir, pirl);
	assert_false(p.pir.success);
	assert_int_equal(p.pir.bpp_command_id, ES10_BPP_STORE_METADATA);
	assert_int_equal(p.pir.error_reason, ES10_ERR_SCP03T_STRUCTURE);
	free(pir);
	free(pkg);
	EVP_PKEY_free(x.euicc_pub);
	se_driver_free(d);
}

/* Another ES10 command in the middle of a load: answered, and the load
 * ends with installFailedDueToInterruption, kept pending. */
static void
test_load_interrupted(void **st)
{
	(void)st;
	se_driver *d = open_card();
	sess x;
	prepare(d, &x);
	uint8_t *pkg = NULL, *pir = NULL;
	size_t len = 0, pirl = 0;
	craft(&x, "app-int", 0, &pkg, &len);
	slice s[64];
	size_t n = commands(pkg, len, 0, s, 64);
	int ch = se_driver_app_channel(d, SE_APP_ISDR);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(send_cmd(d, ch, pkg + s[i].off, s[i].len, &pir, &pirl), 0x9000);
	uint8_t chal[16];
	assert_int_equal(se_get_challenge(d, chal), 0);
	assert_int_equal(send_cmd(d, ch, pkg + s[4].off, s[4].len, &pir, &pirl), 0x6A80);
	free(pir);
	uint8_t **nv = NULL;
	size_t *nl = NULL, nn = 0;
	assert_int_equal(se_pending_notifications(d, &nv, &nl, &nn), 0);
	assert_int_equal(nn, 1);
	es10_pending p = pir_of(&x, nv[0], nl[0]);
	assert_false(p.pir.success);
	assert_int_equal(p.pir.error_reason, ES10_ERR_INTERRUPTION);
	/* interrupted after the 88: at the next command, A3 */
	assert_int_equal(p.pir.bpp_command_id, ES10_BPP_LOAD_PROFILE_ELEMENTS);
	for (size_t i = 0; i < nn; i++)
		free(nv[i]);
	free(nv);
	free(nl);
	(void)n;
	free(pkg);
	EVP_PKEY_free(x.euicc_pub);
	se_driver_free(d);
}

int
main(void)
{
	asn1_dump_init("se_bpp_load");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_by_command),
		cmocka_unit_test(test_load_replace_session_keys),
		cmocka_unit_test(test_load_whole),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_load_second_bf23),
		cmocka_unit_test(test_load_interrupted),
		cmocka_unit_test(test_load_iccid_exists),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
