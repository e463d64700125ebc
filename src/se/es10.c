/*
 * es10.c — the ES10-shaped functions of the software secure element. Each one
 * receives a complete command TLV (assembled from STORE DATA blocks by
 * card.c) and builds a response TLV. Byte layouts: lib/rsp.h (signed
 * structures, AuthenticateServer, PrepareDownload), lib/bsp.h (bound
 * package) and se/card.h (result codes).
 *
 *   BF3E GetEuiccData       { 5C tagList }            -> BF3E { 5A EID(16) }
 *   BF2E GetEuiccChallenge  {}                        -> BF2E { 80 challenge(16) }
 *   BF38 AuthenticateServer (rsp.h)                   -> BF38 { A0 {...} } | BF38 { 02 code }
 *   BF21 PrepareDownload    (rsp.h)                   -> BF21 { A0 {...} } | BF21 { 02 code }
 *   BF36 bound package      (bsp.h)                   -> BF2F install notification
 *                                                        | BF37 { 80 tid | 02 code }
 *   BF2D ProfileInfoList    {}                        -> BF2D { A0 { E3 {80 91 95 83 9F70 82 [84]} ... } }
 *   BF31 / BF32 Enable / Disable { 80 appId }         -> BF31 / BF32 { 80 result }
 *   BF50 StoreCertificate   { 80 appId, 30 cert }     -> BF50 { 80 result [BF2F notification] }
 *   BF33 Delete             { 80 appId }              -> BF33 { 80 result [BF2F notification] }
 *   BF2B RetrieveNotificationsList { [A0 { 80 seq }] } -> BF2B { A0 { BF2F ... } }
 *   BF30 NotificationSent   { 80 seq }                -> BF30 { 80 result }
 *
 * A refused bound package is answered with a BF37-shaped error response
 * (SGP.22 ProfileInstallationResult carries the same information) rather than
 * a status word, so the reader learns why; the status word stays 9000. A
 * command that is not even well-formed gets SW 6A80.
 *
 * Session rules: the challenge is consumed by the next AuthenticateServer
 * whatever its outcome; a failed PrepareDownload or package drops the
 * session; the one-time key exists only between PrepareDownload and the
 * package (or a reset) and is freed (OpenSSL clears EC private keys) at once.
 *
 * Bank-ID apps (metadata kind "bankid"): LoadBoundProfilePackage generates a
 * P-256 key pair for the app, keeps it in the state and puts the public point
 * in the install notification (tag 85); the app is installed DISABLED. Enable
 * is refused (wrong state) until StoreCertificate has stored a certificate
 * whose public key is exactly that key; StoreCertificate then enables the app
 * and returns an enable notification (event 1), pending like the others. A
 * certificate is stored once: a second StoreCertificate is "wrong state"
 * (the ProfileInfoList flag 84 tells the caller it is already certified).
 * No command returns the private key. ProfileInfoList carries 84 (1 byte,
 * 01 certified / 00 not yet) for apps that have such a key.
 *
 * Delete removes an application whether enabled or not (revocation must not
 * depend on the companion disabling first). If SE_MAX_PENDING notifications
 * are unacknowledged, the oldest is dropped to make room (logged).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "lib/der.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card_int.h"

#define SW_WRONG_DATA 0x6A80
#define SW_NO_MEMORY 0x6A84

#define TAG_GET_EUICC_DATA 0xBF3E
#define TAG_GET_CHALLENGE 0xBF2E
#define TAG_AUTH_SERVER 0xBF38
#define TAG_PREPARE_DOWNLOAD 0xBF21
#define TAG_BPP 0xBF36
#define TAG_INSTALL_RESULT 0xBF37
#define TAG_PROFILE_LIST 0xBF2D
#define TAG_ENABLE 0xBF31
#define TAG_DISABLE 0xBF32
#define TAG_DELETE 0xBF33
#define TAG_RETRIEVE_NOTIF 0xBF2B
#define TAG_NOTIF_SENT 0xBF30
#define TAG_NOTIFICATION 0xBF2F
#define TAG_STORE_CERT 0xBF50 /* private use: bank-ID certificate */

static void
session_drop(se_card *c)
{
	EVP_PKEY_free(c->server_pub);
	EVP_PKEY_free(c->smdp_pub);
	EVP_PKEY_free(c->otsk); /* EC private scalars are cleared on free */
	c->server_pub = c->smdp_pub = c->otsk = NULL;
	OPENSSL_cleanse(c->tid, sizeof(c->tid));
	OPENSSL_cleanse(c->euicc_sig1, sizeof(c->euicc_sig1));
	c->sess = SE_SESS_NONE;
}

void
se_es10_reset(se_card *c)
{
	session_drop(c);
	OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
	c->have_challenge = 0;
}

/* ---- small encoders ---- */

static int
finish(der_writer *w, uint8_t **out, size_t *len)
{
	int rc = der_writer_finish(w, out, len);
	der_writer_clear(w);
	return rc;
}

/* tag { inner_tag code } */
static int
encode_code(uint32_t tag, uint32_t inner_tag, uint64_t code, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, tag);
	der_put_uint(&w, inner_tag, code);
	der_end(&w);
	return finish(&w, out, len);
}

/* String of a primitive TLV: 1..cap-1 bytes, no NUL. */
static int
tlv_str(const der_tlv *t, char *dst, size_t cap)
{
	if (der_tag_constructed(t->tag) || t->len == 0 || t->len >= cap ||
	    memchr(t->val, 0, t->len) != NULL)
		return TS_EPARSE;
	memcpy(dst, t->val, t->len);
	dst[t->len] = '\0';
	return 0;
}

/* { 80 appId } */
static int
parse_app_id(const der_tlv *cmd, char app_id[RSP_STR_MAX + 1])
{
	der_tlv t;
	if (der_find(cmd->val, cmd->len, 0x80, &t) != 0)
		return TS_EPARSE;
	return tlv_str(&t, app_id, RSP_STR_MAX + 1);
}

static se_app_rec *
app_find(se_card *c, const char *app_id, size_t *idx)
{
	for (size_t i = 0; i < c->n_apps; i++) {
		if (strcmp(c->apps[i].app_id, app_id) == 0) {
			if (idx != NULL)
				*idx = i;
			return &c->apps[i];
		}
	}
	return NULL;
}

static int
expired(int64_t not_after)
{
	return not_after != 0 && ts_now() >= not_after;
}

/* ---- notifications ---- */

/* Signs a notification with the next sequence number (not yet committed).
 * app_key: the 65-byte public point of a bank-ID app's key, or NULL. */
static int
notif_make(se_card *c, int event, const char *app_id, const uint8_t *tid,
    const uint8_t *app_key, uint8_t **out, size_t *len, uint64_t *seq)
{
	rsp_notification n;
	memset(&n, 0, sizeof(n));
	n.seq = c->notif_seq + 1;
	n.event = event;
	if (ts_snprintf(n.app_id, sizeof(n.app_id), "%s", app_id) != 0)
		return TS_ELIMIT;
	n.eid = c->eid;
	if (tid != NULL) {
		n.has_tid = 1;
		memcpy(n.transaction_id, tid, RSP_TID_LEN);
	}
	n.result = 0;
	if (app_key != NULL) {
		n.has_app_key = 1;
		memcpy(n.app_key, app_key, PKI_PUBKEY_LEN);
	}
	*seq = n.seq;
	return rsp_notification_sign(&n, c->euicc_key, out, len);
}

/* Appends (copying der); drops the oldest when full. *dropped receives the
 * dropped entry (owned by the caller, der NULL if none) for rollback. */
static int
pending_push(se_card *c, uint64_t seq, const uint8_t *der, size_t len, se_pending *dropped)
{
	memset(dropped, 0, sizeof(*dropped));
	uint8_t *copy = malloc(len);
	if (copy == NULL)
		return TS_ENOMEM;
	memcpy(copy, der, len);
	if (c->n_pending == SE_MAX_PENDING) {
		*dropped = c->pending[0];
		memmove(&c->pending[0], &c->pending[1], (SE_MAX_PENDING - 1) * sizeof(se_pending));
		c->n_pending--;
		log_warn("notification list full: dropped unacknowledged notification %llu",
		    (unsigned long long)dropped->seq);
	}
	c->pending[c->n_pending].seq = seq;
	c->pending[c->n_pending].der = copy;
	c->pending[c->n_pending].len = len;
	c->n_pending++;
	c->notif_seq = seq;
	return 0;
}

static void
pending_pop(se_card *c, se_pending *dropped)
{
	c->n_pending--;
	free(c->pending[c->n_pending].der);
	c->pending[c->n_pending].der = NULL;
	c->notif_seq--;
	if (dropped->der != NULL) {
		memmove(&c->pending[1], &c->pending[0], c->n_pending * sizeof(se_pending));
		c->pending[0] = *dropped;
		c->n_pending++;
		dropped->der = NULL;
	}
}

/* ---- functions ---- */

static int
get_euicc_data(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	der_tlv list;
	int want = 1;
	int rc = der_find(cmd->val, cmd->len, 0x5C, &list);
	if (rc == 0)
		want = memchr(list.val, 0x5A, list.len) != NULL;
	else if (rc != TS_ENOTFOUND)
		return rc;
	uint8_t eb[EID_BYTES];
	eid_to_bytes(&c->eid, eb);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_GET_EUICC_DATA);
	if (want)
		der_put(&w, 0x5A, eb, sizeof(eb));
	der_end(&w);
	return finish(&w, out, len);
}

static int
get_challenge(se_card *c, uint8_t **out, size_t *len)
{
	/* A new challenge starts a new authentication: drop any session. */
	se_es10_reset(c);
	int rc = ts_random(c->challenge, sizeof(c->challenge));
	if (rc != 0)
		return rc;
	c->have_challenge = 1;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_GET_CHALLENGE);
	der_put(&w, 0x80, c->challenge, sizeof(c->challenge));
	der_end(&w);
	return finish(&w, out, len);
}

/* Parses a DER certificate and verifies it chains to the SE's CI. On success
 * *pub holds its public key (caller frees). */
static int
server_cert_check(se_card *c, const der_tlv *cert_tlv, EVP_PKEY **pub)
{
	X509 *cert = NULL;
	int rc = pki_cert_from_der(cert_tlv->val - cert_tlv->hdr_len,
	    cert_tlv->hdr_len + cert_tlv->len, &cert);
	if (rc != 0)
		return TS_EVERIFY;
	char why[160];
	rc = pki_verify_chain(c->ci_cert, NULL, cert, why, sizeof(why));
	if (rc != 0) {
		log_warn("server certificate refused: %s", why);
		X509_free(cert);
		return TS_EVERIFY;
	}
	*pub = X509_get_pubkey(cert);
	X509_free(cert);
	return *pub == NULL ? TS_ECRYPTO : 0;
}

#define TLV_FULL(t) ((t).val - (t).hdr_len)
#define TLV_SIZE(t) ((t).hdr_len + (t).len)

static int
authenticate_server(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	der_iter it;
	der_tlv s1, sig, cert, ctx, t;
	rsp_server_signed1 ss1;
	rsp_euicc_signed1 es1;
	EVP_PKEY *pub = NULL;
	uint8_t *es1_der = NULL;
	size_t es1_len = 0;
	uint8_t esig[PKI_SIG_LEN];
	int code = 0, rc;

	memset(&es1, 0, sizeof(es1));
	/* Structure first: a malformed request is a 6A80, not a result code. */
	der_iter_init(&it, cmd->val, cmd->len);
	if ((rc = der_iter_expect(&it, 0x30, &s1)) != 0 || (rc = der_iter_expect(&it, 0x5F37, &sig)) != 0 ||
	    (rc = der_iter_expect(&it, 0x30, &cert)) != 0)
		return rc;
	if (sig.len != PKI_SIG_LEN)
		return TS_EPARSE;
	rc = der_iter_next(&it, &ctx);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (ctx.tag != 0xA0)
			return TS_EPARSE;
		rc = der_find(ctx.val, ctx.len, 0x80, &t);
		if (rc == 0 && t.len > 0 && (rc = tlv_str(&t, es1.matching_id, sizeof(es1.matching_id))) != 0)
			return rc;
		if (rc != 0 && rc != TS_ENOTFOUND)
			return rc;
		if ((rc = der_iter_next(&it, &t)) != 0)
			return rc < 0 ? rc : TS_EPARSE;
	}

	/* The challenge is single-use whatever happens next. */
	int had_challenge = c->have_challenge;
	uint8_t challenge[RSP_CHALLENGE_LEN];
	memcpy(challenge, c->challenge, sizeof(challenge));
	se_es10_reset(c);
	if (!had_challenge) {
		code = SE_AUTH_NO_SESSION;
		goto refuse;
	}
	if (server_cert_check(c, &cert, &pub) != 0) {
		code = SE_AUTH_INVALID_CERT;
		goto refuse;
	}
	if (pki_verify(pub, TLV_FULL(s1), TLV_SIZE(s1), sig.val) != 0) {
		code = SE_AUTH_INVALID_SIG;
		goto refuse;
	}
	if (rsp_server_signed1_decode(TLV_FULL(s1), TLV_SIZE(s1), &ss1) != 0) {
		code = SE_RES_UNDEFINED;
		goto refuse;
	}
	if (CRYPTO_memcmp(ss1.euicc_challenge, challenge, sizeof(challenge)) != 0) {
		code = SE_AUTH_CHALLENGE_MISMATCH;
		goto refuse;
	}

	memcpy(es1.transaction_id, ss1.transaction_id, RSP_TID_LEN);
	memcpy(es1.server_address, ss1.server_address, sizeof(es1.server_address));
	memcpy(es1.server_challenge, ss1.server_challenge, RSP_CHALLENGE_LEN);
	if ((rc = rsp_euicc_signed1_encode(&es1, &es1_der, &es1_len)) != 0 ||
	    (rc = pki_sign(c->euicc_key, es1_der, es1_len, esig)) != 0)
		goto fail;

	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_AUTH_SERVER);
	der_begin(&w, 0xA0);
	der_put_raw(&w, es1_der, es1_len);
	der_put(&w, 0x5F37, esig, sizeof(esig));
	der_put_raw(&w, c->euicc_cert_der, c->euicc_cert_der_len);
	der_put_raw(&w, c->eum_cert_der, c->eum_cert_der_len);
	der_end(&w);
	der_end(&w);
	if ((rc = finish(&w, out, len)) != 0)
		goto fail;

	memcpy(c->tid, ss1.transaction_id, RSP_TID_LEN);
	memcpy(c->euicc_sig1, esig, sizeof(esig));
	c->server_pub = pub;
	pub = NULL;
	c->sess = SE_SESS_AUTHENTICATED;
	rc = 0;
	goto fail;
refuse:
	log_info("AuthenticateServer refused (code %d)", code);
	rc = encode_code(TAG_AUTH_SERVER, 0x02, (uint64_t)code, out, len);
fail:
	OPENSSL_cleanse(challenge, sizeof(challenge));
	EVP_PKEY_free(pub);
	free(es1_der);
	return rc;
}

static int
prepare_download(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	der_iter it;
	der_tlv s2, sig, cert, t;
	rsp_smdp_signed2 ss2;
	rsp_euicc_signed2 es2;
	EVP_PKEY *pub = NULL, *otsk = NULL;
	uint8_t *tbs = NULL, *es2_der = NULL;
	size_t tbs_len = 0, es2_len = 0;
	uint8_t esig[PKI_SIG_LEN];
	int code = 0, rc;

	der_iter_init(&it, cmd->val, cmd->len);
	if ((rc = der_iter_expect(&it, 0x30, &s2)) != 0 || (rc = der_iter_expect(&it, 0x5F37, &sig)) != 0 ||
	    (rc = der_iter_expect(&it, 0x30, &cert)) != 0)
		return rc;
	if (sig.len != PKI_SIG_LEN)
		return TS_EPARSE;
	if ((rc = der_iter_next(&it, &t)) != 0)
		return rc < 0 ? rc : TS_EPARSE;

	if (c->sess != SE_SESS_AUTHENTICATED) {
		code = SE_AUTH_NO_SESSION;
		goto refuse;
	}
	if (server_cert_check(c, &cert, &pub) != 0) {
		code = SE_AUTH_INVALID_CERT;
		goto refuse;
	}
	/* smdpSignature2 covers smdpSigned2 || euiccSignature1 (64 raw bytes). */
	tbs_len = TLV_SIZE(s2) + PKI_SIG_LEN;
	if ((tbs = malloc(tbs_len)) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	memcpy(tbs, TLV_FULL(s2), TLV_SIZE(s2));
	memcpy(tbs + TLV_SIZE(s2), c->euicc_sig1, PKI_SIG_LEN);
	if (pki_verify(pub, tbs, tbs_len, sig.val) != 0) {
		code = SE_AUTH_INVALID_SIG;
		goto refuse;
	}
	if (rsp_smdp_signed2_decode(TLV_FULL(s2), TLV_SIZE(s2), &ss2) != 0) {
		code = SE_RES_UNDEFINED;
		goto refuse;
	}
	if (CRYPTO_memcmp(ss2.transaction_id, c->tid, RSP_TID_LEN) != 0) {
		code = SE_AUTH_INVALID_TID;
		goto refuse;
	}
	if (ss2.cc_required) { /* confirmation codes are not supported */
		code = SE_RES_UNDEFINED;
		goto refuse;
	}

	memset(&es2, 0, sizeof(es2));
	memcpy(es2.transaction_id, c->tid, RSP_TID_LEN);
	if ((rc = pki_keygen(&otsk)) != 0 || (rc = pki_pubkey_to_point(otsk, es2.euicc_otpk)) != 0 ||
	    (rc = rsp_euicc_signed2_encode(&es2, &es2_der, &es2_len)) != 0)
		goto fail;
	/* euiccSignature2 covers euiccSigned2 || smdpSignature2 (64 raw bytes). */
	free(tbs);
	tbs_len = es2_len + PKI_SIG_LEN;
	if ((tbs = malloc(tbs_len)) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	memcpy(tbs, es2_der, es2_len);
	memcpy(tbs + es2_len, sig.val, PKI_SIG_LEN);
	if ((rc = pki_sign(c->euicc_key, tbs, tbs_len, esig)) != 0)
		goto fail;

	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_PREPARE_DOWNLOAD);
	der_begin(&w, 0xA0);
	der_put_raw(&w, es2_der, es2_len);
	der_put(&w, 0x5F37, esig, sizeof(esig));
	der_end(&w);
	der_end(&w);
	if ((rc = finish(&w, out, len)) != 0)
		goto fail;
	c->smdp_pub = pub;
	c->otsk = otsk;
	pub = otsk = NULL;
	c->sess = SE_SESS_PREPARED;
	rc = 0;
	goto fail;
refuse:
	log_info("PrepareDownload refused (code %d)", code);
	session_drop(c);
	rc = encode_code(TAG_PREPARE_DOWNLOAD, 0x02, (uint64_t)code, out, len);
fail:
	if (rc != 0 && code == 0)
		session_drop(c);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(otsk);
	free(tbs);
	free(es2_der);
	return rc;
}

static int
load_error(const uint8_t *tid, int code, uint8_t **out, size_t *len)
{
	log_info("bound package refused (code %d)", code);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_INSTALL_RESULT);
	if (tid != NULL)
		der_put(&w, 0x80, tid, RSP_TID_LEN);
	der_put_uint(&w, 0x02, (uint64_t)code);
	der_end(&w);
	return finish(&w, out, len);
}

static int
load_package(se_card *c, const uint8_t *pkg, size_t pkg_len, uint8_t **out, size_t *len)
{
	uint8_t tid[RSP_TID_LEN];
	uint8_t *md = NULL, *pl = NULL, *notif = NULL;
	size_t mdl = 0, pll = 0, nlen = 0;
	EVP_PKEY *app_key = NULL;
	uint8_t point[PKI_PUBKEY_LEN];
	rsp_metadata m;
	se_pending dropped;
	uint64_t seq;
	int code = 0, rc;

	memset(&dropped, 0, sizeof(dropped));
	if (c->sess != SE_SESS_PREPARED)
		return load_error(NULL, SE_LOAD_INVALID_TID, out, len);
	memcpy(tid, c->tid, sizeof(tid));
	rc = bsp_package_open(c->otsk, &c->eid, c->smdp_pub, c->tid, RSP_TID_LEN, pkg, pkg_len,
	    &md, &mdl, &pl, &pll);
	/* One package per one-time key, whatever the outcome. */
	session_drop(c);
	if (rc != 0) {
		code = rc == TS_EVERIFY ? SE_LOAD_SECURITY
		     : (rc == TS_EPARSE || rc == TS_ETRAILING || rc == TS_EUNSUPP) ? SE_LOAD_STRUCTURE
		     : SE_RES_UNDEFINED;
		goto refuse;
	}
	if (rsp_metadata_decode(md, mdl, &m) != 0 || m.app_id[0] == '\0' || m.not_after < 0) {
		code = SE_LOAD_INCORRECT_INPUT;
		goto refuse;
	}
	if (expired(m.not_after)) {
		code = SE_RES_EXPIRED;
		goto refuse;
	}
	if (app_find(c, m.app_id, NULL) != NULL) {
		code = SE_LOAD_EXISTS;
		goto refuse;
	}
	if (c->n_apps == SE_MAX_APPS) {
		code = SE_LOAD_NO_ROOM;
		goto refuse;
	}
	/* Bank-ID: the app's own key pair is born here and never leaves. */
	if (strcmp(m.kind, "bankid") == 0 &&
	    ((rc = pki_keygen(&app_key)) != 0 || (rc = pki_pubkey_to_point(app_key, point)) != 0))
		goto fail;
	if ((rc = notif_make(c, RSP_EVENT_INSTALL, m.app_id, tid, app_key != NULL ? point : NULL,
	    &notif, &nlen, &seq)) != 0)
		goto fail;

	se_app_rec *a = &c->apps[c->n_apps];
	memset(a, 0, sizeof(*a));
	memcpy(a->app_id, m.app_id, sizeof(a->app_id));
	memcpy(a->name, m.name, sizeof(a->name));
	memcpy(a->kind, m.kind, sizeof(a->kind));
	memcpy(a->provider, m.provider, sizeof(a->provider));
	a->enabled = app_key == NULL; /* a bank-ID app waits for its certificate */
	a->not_after = m.not_after;
	a->payload = pl;
	a->payload_len = pll;
	a->app_key = app_key;
	pl = NULL;
	app_key = NULL;
	c->n_apps++;
	if ((rc = pending_push(c, seq, notif, nlen, &dropped)) != 0) {
		c->n_apps--;
		se_app_rec_clear(&c->apps[c->n_apps]);
		goto fail;
	}
	if ((rc = se_state_save(c)) != 0) {
		log_error("cannot persist installed app: %s", ts_strerror(rc));
		pending_pop(c, &dropped);
		c->n_apps--;
		se_app_rec_clear(&c->apps[c->n_apps]);
		code = SE_RES_UNDEFINED;
		goto refuse;
	}
	log_info("installed %s (%s) from %s%s", m.app_id, m.kind, m.provider,
	    c->apps[c->n_apps - 1].app_key != NULL ? ", disabled until its key is certified" : "");
	*out = notif;
	*len = nlen;
	notif = NULL;
	rc = 0;
	goto fail;
refuse:
	rc = load_error(tid, code, out, len);
fail:
	OPENSSL_cleanse(tid, sizeof(tid));
	EVP_PKEY_free(app_key);
	free(dropped.der);
	free(notif);
	free(md);
	if (pl != NULL) {
		OPENSSL_cleanse(pl, pll);
		free(pl);
	}
	return rc;
}

static int
profile_list(se_card *c, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_PROFILE_LIST);
	der_begin(&w, 0xA0);
	for (size_t i = 0; i < c->n_apps; i++) {
		const se_app_rec *a = &c->apps[i];
		uint8_t state = a->enabled ? 1 : 0;
		der_begin(&w, 0xE3);
		der_put_str(&w, 0x80, a->app_id);
		der_put_str(&w, 0x91, a->name);
		der_put_str(&w, 0x95, a->kind);
		der_put_str(&w, 0x83, a->provider);
		der_put(&w, 0x9F70, &state, 1);
		der_put_uint(&w, 0x82, (uint64_t)a->not_after);
		if (a->app_key != NULL) {
			uint8_t certified = a->cert_der != NULL ? 1 : 0;
			der_put(&w, 0x84, &certified, 1);
		}
		der_end(&w);
	}
	der_end(&w);
	der_end(&w);
	return finish(&w, out, len);
}

static int
enable_disable(se_card *c, const der_tlv *cmd, int enable, uint8_t **out, size_t *len)
{
	char app_id[RSP_STR_MAX + 1];
	int rc = parse_app_id(cmd, app_id);
	if (rc != 0)
		return rc;
	int result = SE_RES_OK;
	se_app_rec *a = app_find(c, app_id, NULL);
	if (a == NULL)
		result = SE_RES_NOT_FOUND;
	else if (a->enabled == enable)
		result = SE_RES_WRONG_STATE;
	else if (enable && expired(a->not_after))
		result = SE_RES_EXPIRED;
	else if (enable && a->app_key != NULL && a->cert_der == NULL)
		result = SE_RES_WRONG_STATE; /* bank-ID: only StoreCertificate enables it */
	if (result == SE_RES_OK) {
		a->enabled = enable;
		if ((rc = se_state_save(c)) != 0) {
			log_error("cannot persist app state: %s", ts_strerror(rc));
			a->enabled = !enable;
			result = SE_RES_UNDEFINED;
		} else {
			log_info("%s %s", enable ? "enabled" : "disabled", app_id);
		}
	}
	return encode_code((uint32_t)cmd->tag, 0x80, (uint64_t)result, out, len);
}

static int
delete_app(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	char app_id[RSP_STR_MAX + 1];
	uint8_t *notif = NULL;
	size_t nlen = 0, idx = 0;
	se_pending dropped;
	uint64_t seq;
	int rc = parse_app_id(cmd, app_id);
	if (rc != 0)
		return rc;
	memset(&dropped, 0, sizeof(dropped));
	if (app_find(c, app_id, &idx) == NULL)
		return encode_code(TAG_DELETE, 0x80, SE_RES_NOT_FOUND, out, len);
	if ((rc = notif_make(c, RSP_EVENT_DELETE, app_id, NULL, NULL, &notif, &nlen, &seq)) != 0)
		return rc;
	se_app_rec removed = c->apps[idx];
	memmove(&c->apps[idx], &c->apps[idx + 1], (c->n_apps - idx - 1) * sizeof(se_app_rec));
	c->n_apps--;
	if ((rc = pending_push(c, seq, notif, nlen, &dropped)) == 0 &&
	    (rc = se_state_save(c)) != 0)
		pending_pop(c, &dropped);
	if (rc != 0) {
		log_error("cannot persist deletion: %s", ts_strerror(rc));
		memmove(&c->apps[idx + 1], &c->apps[idx], (c->n_apps - idx) * sizeof(se_app_rec));
		c->apps[idx] = removed;
		c->n_apps++;
		free(notif);
		return encode_code(TAG_DELETE, 0x80, SE_RES_UNDEFINED, out, len);
	}
	se_app_rec_clear(&removed);
	free(dropped.der);
	log_info("deleted %s", app_id);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_DELETE);
	der_put_uint(&w, 0x80, SE_RES_OK);
	der_put_raw(&w, notif, nlen);
	der_end(&w);
	free(notif);
	return finish(&w, out, len);
}

/* { 80 appId, 30 certificate }: the provider's certificate for a bank-ID
 * app's key. Stored only if its public key is the app's; enables the app. */
static int
store_certificate(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	char app_id[RSP_STR_MAX + 1];
	der_iter it;
	der_tlv id, cert_tlv;
	X509 *cert = NULL;
	uint8_t *der = NULL, *notif = NULL;
	size_t nlen = 0;
	se_pending dropped;
	uint64_t seq;
	int result = SE_RES_OK, rc;

	memset(&dropped, 0, sizeof(dropped));
	der_iter_init(&it, cmd->val, cmd->len);
	if ((rc = der_iter_expect(&it, 0x80, &id)) != 0 ||
	    (rc = der_iter_expect(&it, 0x30, &cert_tlv)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	if ((rc = tlv_str(&id, app_id, sizeof(app_id))) != 0)
		return rc;
	se_app_rec *a = app_find(c, app_id, NULL);
	if (a == NULL) {
		result = SE_RES_NOT_FOUND;
		goto answer;
	}
	if (a->app_key == NULL || a->cert_der != NULL) {
		result = SE_RES_WRONG_STATE; /* not a bank-ID app, or already certified */
		goto answer;
	}
	if (expired(a->not_after)) {
		result = SE_RES_EXPIRED;
		goto answer;
	}
	if (pki_cert_from_der(TLV_FULL(cert_tlv), TLV_SIZE(cert_tlv), &cert) != 0 ||
	    EVP_PKEY_eq(X509_get0_pubkey(cert), a->app_key) != 1) {
		log_warn("StoreCertificate for %s refused: not a certificate for the app's key", app_id);
		result = SE_CERT_INVALID;
		goto answer;
	}
	if ((der = malloc(TLV_SIZE(cert_tlv))) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	memcpy(der, TLV_FULL(cert_tlv), TLV_SIZE(cert_tlv));
	if ((rc = notif_make(c, RSP_EVENT_ENABLE, app_id, NULL, NULL, &notif, &nlen, &seq)) != 0)
		goto fail;
	int was_enabled = a->enabled;
	a->cert_der = der;
	a->cert_der_len = TLV_SIZE(cert_tlv);
	a->enabled = 1;
	if ((rc = pending_push(c, seq, notif, nlen, &dropped)) == 0 &&
	    (rc = se_state_save(c)) != 0)
		pending_pop(c, &dropped);
	if (rc != 0) {
		log_error("cannot persist the certificate of %s: %s", app_id, ts_strerror(rc));
		a->cert_der = NULL;
		a->cert_der_len = 0;
		a->enabled = was_enabled;
		result = SE_RES_UNDEFINED;
		goto answer;
	}
	der = NULL;
	log_info("stored the provider certificate of %s; enabled", app_id);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_STORE_CERT);
	der_put_uint(&w, 0x80, SE_RES_OK);
	der_put_raw(&w, notif, nlen);
	der_end(&w);
	rc = finish(&w, out, len);
	goto fail;
answer:
	rc = encode_code(TAG_STORE_CERT, 0x80, (uint64_t)result, out, len);
fail:
	X509_free(cert);
	free(der);
	free(notif);
	free(dropped.der);
	return rc;
}

static int
retrieve_notifications(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	der_tlv crit, t;
	int filter = 0;
	uint64_t want = 0;
	int rc = der_find(cmd->val, cmd->len, 0xA0, &crit);
	if (rc == 0) {
		if ((rc = der_find(crit.val, crit.len, 0x80, &t)) != 0 ||
		    (rc = der_get_uint(&t, &want)) != 0)
			return TS_EPARSE;
		filter = 1;
	} else if (rc != TS_ENOTFOUND) {
		return rc;
	}
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_RETRIEVE_NOTIF);
	der_begin(&w, 0xA0);
	for (size_t i = 0; i < c->n_pending; i++) {
		if (!filter || c->pending[i].seq == want)
			der_put_raw(&w, c->pending[i].der, c->pending[i].len);
	}
	der_end(&w);
	der_end(&w);
	return finish(&w, out, len);
}

static int
notification_sent(se_card *c, const der_tlv *cmd, uint8_t **out, size_t *len)
{
	der_tlv t;
	uint64_t seq;
	if (der_find(cmd->val, cmd->len, 0x80, &t) != 0 || der_get_uint(&t, &seq) != 0)
		return TS_EPARSE;
	size_t i;
	for (i = 0; i < c->n_pending; i++) {
		if (c->pending[i].seq == seq)
			break;
	}
	if (i == c->n_pending)
		return encode_code(TAG_NOTIF_SENT, 0x80, SE_RES_NOT_FOUND, out, len);
	se_pending p = c->pending[i];
	memmove(&c->pending[i], &c->pending[i + 1], (c->n_pending - i - 1) * sizeof(se_pending));
	c->n_pending--;
	int rc = se_state_save(c);
	if (rc != 0) {
		log_error("cannot persist notification removal: %s", ts_strerror(rc));
		memmove(&c->pending[i + 1], &c->pending[i], (c->n_pending - i) * sizeof(se_pending));
		c->pending[i] = p;
		c->n_pending++;
		return encode_code(TAG_NOTIF_SENT, 0x80, SE_RES_UNDEFINED, out, len);
	}
	free(p.der);
	return encode_code(TAG_NOTIF_SENT, 0x80, SE_RES_OK, out, len);
}

int
se_es10_dispatch(se_card *c, const uint8_t *cmd, size_t len,
    uint8_t **resp, size_t *rlen, uint16_t *sw)
{
	der_tlv t;
	*sw = SW_WRONG_DATA;
	int rc = der_read_one(cmd, len, &t);
	if (rc != 0)
		return rc;
	if (!der_tag_constructed(t.tag))
		return TS_EPARSE;
	switch (t.tag) {
	case TAG_GET_EUICC_DATA: rc = get_euicc_data(c, &t, resp, rlen); break;
	case TAG_GET_CHALLENGE: rc = get_challenge(c, resp, rlen); break;
	case TAG_AUTH_SERVER: rc = authenticate_server(c, &t, resp, rlen); break;
	case TAG_PREPARE_DOWNLOAD: rc = prepare_download(c, &t, resp, rlen); break;
	case TAG_BPP: rc = load_package(c, cmd, len, resp, rlen); break;
	case TAG_PROFILE_LIST: rc = profile_list(c, resp, rlen); break;
	case TAG_ENABLE: rc = enable_disable(c, &t, 1, resp, rlen); break;
	case TAG_DISABLE: rc = enable_disable(c, &t, 0, resp, rlen); break;
	case TAG_DELETE: rc = delete_app(c, &t, resp, rlen); break;
	case TAG_RETRIEVE_NOTIF: rc = retrieve_notifications(c, &t, resp, rlen); break;
	case TAG_NOTIF_SENT: rc = notification_sent(c, &t, resp, rlen); break;
	case TAG_STORE_CERT: rc = store_certificate(c, &t, resp, rlen); break;
	default: rc = TS_EPARSE; break;
	}
	if (rc == TS_ENOMEM)
		*sw = SW_NO_MEMORY;
	return rc;
}
