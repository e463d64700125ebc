/*
 * api_es9.c — the companion's side of the node (docs/protocol.md §3): the push
 * channel and the ES9+-shaped download (SGP.22 SM-DP+ role):
 *
 *   initiateAuthentication  -> serverSigned1 signed by the node's signing key (CI-issued)
 *   authenticateClient      <- SE's signed euiccSigned1 + eUICC and EUM certificates:
 *                              chain to the CI root, EID in the eUICC certificate equal to
 *                              the share's EID and permitted by the EUM, fresh challenge
 *   getBoundProfilePackage  <- SE's one-time key, signed; -> package bound to it (bsp.h)
 *   handleNotification      <- SE-signed install / delete notifications (S15 / S17)
 *   cancelSession
 *
 * The companion needs no credential of its own: its secure element proves the
 * EID. Session keys exist only inside bsp_package_build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bsp.h"
#include "lib/eid.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/notification.h"

#define ES9_HOST_ID "tapshare-node"

static void
es9_ok(struct evhttp_request *req, json_t *body)
{
	if (body == NULL)
		body = json_object();
	json_object_set_new(body, "header",
	    json_pack("{s:{s:s}}", "functionExecutionStatus", "status", "Executed-Success"));
	ts_httpd_reply_json(req, 200, body);
}

static void
es9_fail(struct evhttp_request *req, const char *subject, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
es9_fail(struct evhttp_request *req, const char *subject, const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("ES9+ refused: %s", msg);
	ts_httpd_reply_json(req, 200, json_pack("{s:{s:{s:s,s:{s:s,s:s,s:s}}}}", "header",
	    "functionExecutionStatus", "status", "Failed", "statusCodeData", "subjectCode", subject,
	    "reasonCode", reason, "message", msg));
}

static void
h_companion_events(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char eid_s[64];
	eid_t eid;
	if (ts_httpd_query(req, "eid", eid_s, sizeof(eid_s)) != 0 || eid_parse(eid_s, &eid) != 0) {
		ts_httpd_reply_error(req, 400, "bad_eid", "give a valid EID: /v1/companion/events?eid=<32 digits>");
		return;
	}
	log_info("companion %s connected to its push channel", eid.digits);
	push_subscribe_companion(n, req, eid.digits);
}

static int
tx_lookup(node *n, struct evhttp_request *req, json_t *body, int stage, store_tx *tx)
{
	const char *tid = ts_json_str(body, "transactionId");
	if (tid == NULL || strlen(tid) != 2 * RSP_TID_LEN || n->st->ops->tx_get(n->st, tid, tx) != 0) {
		es9_fail(req, "8.10.1", "3.9", "unknown transactionId");
		return TS_ENOTFOUND;
	}
	if (tx->stage != stage) {
		es9_fail(req, "8.10.1", "3.9", "transaction %s is not at this step", tid);
		return TS_ESTATE;
	}
	return 0;
}

static void
h_initiate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *chal = NULL, *s1 = NULL;
	size_t chal_len = 0, s1_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *mid = ts_json_str(body, "matchingId");
	if (ts_json_b64(body, "euiccChallenge", &chal, &chal_len) != 0 || chal_len != RSP_CHALLENGE_LEN ||
	    mid == NULL) {
		es9_fail(req, "8.1", "2.1", "initiateAuthentication needs euiccChallenge (16 bytes) and matchingId");
		goto done;
	}
	store_share sh;
	if (n->st->ops->share_by_matching(n->st, mid, &sh) != 0) {
		es9_fail(req, "8.2.6", "3.8", "unknown matchingId");
		goto done;
	}
	if (strcmp(sh.state, "authorised") != 0 && strcmp(sh.state, "delivered") != 0) {
		es9_fail(req, "8.2.6", "3.8", "share %s is %s: nothing to download", sh.id, sh.state);
		goto done;
	}
	store_tx tx;
	memset(&tx, 0, sizeof(tx));
	rsp_server_signed1 ss;
	memset(&ss, 0, sizeof(ss));
	uint8_t sig[PKI_SIG_LEN];
	if (ts_random(ss.transaction_id, RSP_TID_LEN) != 0 || ts_random(ss.server_challenge, RSP_CHALLENGE_LEN) != 0)
		goto fail;
	memcpy(ss.euicc_challenge, chal, RSP_CHALLENGE_LEN);
	snprintf(ss.server_address, sizeof(ss.server_address), "%s", n->address);
	if (rsp_server_signed1_encode(&ss, &s1, &s1_len) != 0 || pki_sign(n->sign_key, s1, s1_len, sig) != 0)
		goto fail;
	ts_hex_encode(ss.transaction_id, RSP_TID_LEN, tx.id, sizeof(tx.id));
	snprintf(tx.share_id, sizeof(tx.share_id), "%s", sh.id);
	snprintf(tx.eid, sizeof(tx.eid), "%s", sh.eid);
	memcpy(tx.euicc_challenge, chal, 16);
	memcpy(tx.server_challenge, ss.server_challenge, 16);
	tx.stage = 1;
	tx.created_at = ts_now();
	if (n->st->ops->tx_put(n->st, &tx) != 0)
		goto fail;
	json_t *r = json_pack("{s:s}", "transactionId", tx.id);
	ts_json_set_b64(r, "serverSigned1", s1, s1_len);
	ts_json_set_b64(r, "serverSignature1", sig, sizeof(sig));
	ts_json_set_b64(r, "serverCertificate", n->sign_cert_der, n->sign_cert_der_len);
	log_info("S14 share %s: download session %s opened by companion %s", sh.id, tx.id, sh.eid);
	es9_ok(req, r);
	goto done;
fail:
	es9_fail(req, "8.1", "5.1", "internal error while opening the session");
done:
	free(chal);
	free(s1);
	json_decref(body);
}

/* Verifies the SE's identity: chain CI -> EUM -> eUICC, the EUM's permitted
 * prefixes, and the EID in the eUICC certificate. Returns the eUICC key. */
static int
verify_euicc(node *n, const rsp_auth_server_resp *a, const char *want_eid, EVP_PKEY **pub, char *why, size_t cap)
{
	X509 *eum = NULL, *euicc = NULL;
	STACK_OF(X509) *chain = NULL;
	int rc = TS_EVERIFY;
	char err[256] = "";
	eid_t eid;
	char prefixes[512];
	if (pki_cert_from_der(a->eum_cert, a->eum_cert_len, &eum) != 0 ||
	    pki_cert_from_der(a->euicc_cert, a->euicc_cert_len, &euicc) != 0) {
		snprintf(why, cap, "malformed eUICC or EUM certificate");
		goto done;
	}
	chain = sk_X509_new_null();
	if (chain == NULL || !sk_X509_push(chain, eum)) {
		snprintf(why, cap, "out of memory");
		goto done;
	}
	if (pki_verify_chain(n->ci, chain, euicc, err, sizeof(err)) != 0) {
		snprintf(why, cap, "eUICC certificate does not chain to the trusted CI: %s", err);
		goto done;
	}
	if (pki_cert_eid(euicc, &eid) != 0) {
		snprintf(why, cap, "eUICC certificate carries no valid EID");
		goto done;
	}
	if (pki_cert_ein_prefixes(eum, prefixes, sizeof(prefixes)) != 0 || !pki_ein_allowed(prefixes, &eid)) {
		snprintf(why, cap, "EID %s is outside the EUM's permitted prefixes", eid.digits);
		goto done;
	}
	if (strcmp(eid.digits, want_eid) != 0) {
		snprintf(why, cap, "secure element is EID %s, the share is for %s", eid.digits, want_eid);
		goto done;
	}
	*pub = X509_get_pubkey(euicc);
	rc = *pub ? 0 : TS_ECRYPTO;
done:
	sk_X509_free(chain); /* eum freed below */
	X509_free(eum);
	X509_free(euicc);
	return rc;
}

static void
h_authenticate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *asr = NULL, *s2 = NULL, *md = NULL;
	size_t asr_len = 0, s2_len = 0, md_len = 0;
	EVP_PKEY *pub = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	store_tx tx;
	if (tx_lookup(n, req, body, 1, &tx) != 0)
		goto done;
	rsp_auth_server_resp a;
	if (ts_json_b64(body, "authenticateServerResponse", &asr, &asr_len) != 0 ||
	    rsp_auth_server_resp_decode(asr, asr_len, &a) != 0) {
		es9_fail(req, "8.1", "2.1", "authenticateServerResponse is missing or malformed");
		goto done;
	}
	if (a.error != 0) {
		es9_fail(req, "8.1", "3.8", "the secure element refused the server (error %d)", a.error);
		goto done;
	}
	char why[300];
	if (verify_euicc(n, &a, tx.eid, &pub, why, sizeof(why)) != 0) {
		es9_fail(req, "8.1.3", "6.1", "%s", why);
		goto done;
	}
	if (pki_verify(pub, a.euicc_signed1, a.euicc_signed1_len, a.euicc_signature1) != 0) {
		es9_fail(req, "8.1", "6.1", "euiccSignature1 does not verify");
		goto done;
	}
	rsp_euicc_signed1 es1;
	store_share sh;
	if (rsp_euicc_signed1_decode(a.euicc_signed1, a.euicc_signed1_len, &es1) != 0 ||
	    n->st->ops->share_get(n->st, tx.share_id, &sh) != 0) {
		es9_fail(req, "8.1", "2.1", "euiccSigned1 is malformed");
		goto done;
	}
	char tid_hex[33];
	ts_hex_encode(es1.transaction_id, RSP_TID_LEN, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0 || ts_ct_equal(es1.server_challenge, tx.server_challenge, 16) != 0 ||
	    strcmp(es1.matching_id, sh.matching_id) != 0 || strcmp(es1.server_address, n->address) != 0) {
		es9_fail(req, "8.1", "6.1", "euiccSigned1 does not match this session (replay?)");
		goto done;
	}
	memcpy(tx.euicc_sig1, a.euicc_signature1, 64);
	if (pki_pubkey_to_point(pub, tx.euicc_pub) != 0)
		goto fail;
	rsp_smdp_signed2 ss2 = { .cc_required = 0 };
	memcpy(ss2.transaction_id, es1.transaction_id, RSP_TID_LEN);
	uint8_t buf[2048], sig2[64];
	if (rsp_smdp_signed2_encode(&ss2, &s2, &s2_len) != 0 || s2_len + 64 > sizeof(buf))
		goto fail;
	memcpy(buf, s2, s2_len);
	memcpy(buf + s2_len, tx.euicc_sig1, 64);
	if (pki_sign(n->sign_key, buf, s2_len + 64, sig2) != 0)
		goto fail;
	memcpy(tx.smdp_sig2, sig2, 64);
	tx.stage = 2;
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", sh.assoc_app_id);
	snprintf(m.name, sizeof(m.name), "%s", sh.assoc_name);
	snprintf(m.kind, sizeof(m.kind), "%s", sh.assoc_kind);
	snprintf(m.provider, sizeof(m.provider), "%s", sh.provider);
	m.not_after = sh.not_after;
	if (rsp_metadata_encode(&m, &md, &md_len) != 0 || n->st->ops->tx_put(n->st, &tx) != 0 ||
	    n->st->ops->companion_put(n->st, tx.eid, tx.euicc_pub) != 0)
		goto fail;
	json_t *r = json_pack("{s:s}", "transactionId", tx.id);
	ts_json_set_b64(r, "profileMetadata", md, md_len);
	ts_json_set_b64(r, "smdpSigned2", s2, s2_len);
	ts_json_set_b64(r, "smdpSignature2", sig2, 64);
	ts_json_set_b64(r, "smdpCertificate", n->sign_cert_der, n->sign_cert_der_len);
	log_info("S14 share %s: companion authenticated by its secure element (EID %s, chain to CI verified)",
	    sh.id, tx.eid);
	es9_ok(req, r);
	goto done;
fail:
	es9_fail(req, "8.1", "5.1", "internal error while authenticating the client");
done:
	EVP_PKEY_free(pub);
	free(asr);
	free(s2);
	free(md);
	json_decref(body);
}

static void
h_get_bpp(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *pdr = NULL, *md = NULL, *bpp = NULL;
	size_t pdr_len = 0, md_len = 0, bpp_len = 0;
	char *cred = NULL;
	EVP_PKEY *pub = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	store_tx tx;
	if (tx_lookup(n, req, body, 2, &tx) != 0)
		goto done;
	rsp_prepare_download_resp p;
	if (ts_json_b64(body, "prepareDownloadResponse", &pdr, &pdr_len) != 0 ||
	    rsp_prepare_download_resp_decode(pdr, pdr_len, &p) != 0) {
		es9_fail(req, "8.1", "2.1", "prepareDownloadResponse is missing or malformed");
		goto done;
	}
	if (p.error != 0) {
		es9_fail(req, "8.1", "3.8", "the secure element refused to prepare the download (error %d)", p.error);
		goto done;
	}
	uint8_t buf[2048];
	if (p.euicc_signed2_len + 64 > sizeof(buf) || pki_pubkey_from_point(tx.euicc_pub, 65, &pub) != 0)
		goto fail;
	memcpy(buf, p.euicc_signed2, p.euicc_signed2_len);
	memcpy(buf + p.euicc_signed2_len, tx.smdp_sig2, 64);
	if (pki_verify(pub, buf, p.euicc_signed2_len + 64, p.euicc_signature2) != 0) {
		es9_fail(req, "8.1", "6.1", "euiccSignature2 does not verify");
		goto done;
	}
	rsp_euicc_signed2 es2;
	char tid_hex[33];
	if (rsp_euicc_signed2_decode(p.euicc_signed2, p.euicc_signed2_len, &es2) != 0) {
		es9_fail(req, "8.1", "2.1", "euiccSigned2 is malformed");
		goto done;
	}
	ts_hex_encode(es2.transaction_id, RSP_TID_LEN, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0) {
		es9_fail(req, "8.1", "6.1", "euiccSigned2 is for another session");
		goto done;
	}
	store_share sh;
	if (n->st->ops->share_get(n->st, tx.share_id, &sh) != 0 ||
	    (strcmp(sh.state, "authorised") != 0 && strcmp(sh.state, "delivered") != 0)) {
		es9_fail(req, "8.2", "3.8", "share %s is no longer downloadable (%s)", tx.share_id, sh.state);
		goto done;
	}
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	snprintf(m.app_id, sizeof(m.app_id), "%s", sh.assoc_app_id);
	snprintf(m.name, sizeof(m.name), "%s", sh.assoc_name);
	snprintf(m.kind, sizeof(m.kind), "%s", sh.assoc_kind);
	snprintf(m.provider, sizeof(m.provider), "%s", sh.provider);
	m.not_after = sh.not_after;
	eid_t eid;
	if (eid_parse(tx.eid, &eid) != 0 || share_credential(n->st, sh.id, &cred) != 0 ||
	    rsp_metadata_encode(&m, &md, &md_len) != 0)
		goto fail;
	if (bsp_package_build(es2.euicc_otpk, sizeof(es2.euicc_otpk), &eid, es2.transaction_id, RSP_TID_LEN,
		(const uint8_t *)ES9_HOST_ID, strlen(ES9_HOST_ID), n->sign_key, md, md_len,
		(const uint8_t *)cred, strlen(cred), &bpp, &bpp_len) != 0)
		goto fail;
	tx.stage = 3;
	if (n->st->ops->tx_put(n->st, &tx) != 0 || share_delivered(n, n->st, sh.id) != 0)
		goto fail;
	json_t *r = json_pack("{s:s}", "transactionId", tx.id);
	ts_json_set_b64(r, "boundProfilePackage", bpp, bpp_len);
	es9_ok(req, r);
	goto done;
fail:
	es9_fail(req, "8.1", "5.1", "internal error while binding the package");
done:
	EVP_PKEY_free(pub);
	if (cred) {
		OPENSSL_cleanse(cred, strlen(cred));
		free(cred);
	}
	free(pdr);
	free(md);
	free(bpp);
	json_decref(body);
}

/* handleNotification: a standard SGP.22 PendingNotification (BF37 install
 * result, OtherSignedNotification), checked by notification_check, drives
 * S15 (install) and S17 (delete) and completes a bank-ID credential (enable).
 * A bank-ID install result may come with "tapshareAppKey", the public key the
 * SE generated for the app (read from its credential applet by the
 * companion): taken only with a verified successful install result of the
 * share's own session (docs/protocol.md). */
static void
h_notification(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *nb = NULL, *key = NULL;
	size_t nb_len = 0, key_len = 0;
	EVP_PKEY *kp = NULL;
	node_notification nt;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	if (ts_json_b64(body, "pendingNotification", &nb, &nb_len) != 0) {
		es9_fail(req, "8.1", "2.1", "pendingNotification is missing or malformed");
		goto done;
	}
	if (notification_check(n->st, n->ci, nb, nb_len, &nt) != 0) {
		es9_fail(req, nt.subject, nt.reason, "%s", nt.msg);
		goto done;
	}
	if (json_object_get(body, "tapshareAppKey") != NULL &&
	    (ts_json_b64(body, "tapshareAppKey", &key, &key_len) != 0 ||
	    pki_pubkey_from_point(key, key_len, &kp) != 0)) {
		es9_fail(req, "8.1", "2.1", "tapshareAppKey is not a P-256 public key");
		goto done;
	}
	if (!nt.has_share) {
		/* Not ours (or long gone): acknowledge so the SE stops resending it. */
		log_warn("notification %llu (event %u) for ICCID %s on %s: no share to settle; acknowledged",
		    (unsigned long long)nt.seq, (unsigned)nt.event, nt.iccid[0] ? nt.iccid : "-", nt.eid);
		ts_httpd_reply_json(req, 204, NULL);
		goto done;
	}
	int rc = 0;
	if (nt.event == ES10_EVENT_INSTALL && nt.success) {
		char hex[2 * PKI_PUBKEY_LEN + 1];
		if (kp != NULL)
			ts_hex_encode(key, PKI_PUBKEY_LEN, hex, sizeof(hex));
		rc = share_installed(n, n->st, nt.share_id, kp != NULL ? hex : NULL);
	} else if (nt.event == ES10_EVENT_INSTALL) {
		char why[160];
		snprintf(why, sizeof(why), "the companion's secure element refused the package "
		    "(bppCommandId %d, errorReason %d)", nt.bpp_command_id, nt.error_reason);
		rc = share_failed(n, n->st, nt.share_id, why);
	} else if (nt.event == ES10_EVENT_DELETE) {
		rc = share_deleted(n, n->st, nt.share_id);
	} else if (nt.event == ES10_EVENT_ENABLE) {
		rc = share_certified(n, n->st, nt.share_id);
	}
	if (rc != 0 && rc != TS_ESTATE) {
		es9_fail(req, "8.1", "5.1", "cannot record the notification");
		goto done;
	}
	ts_httpd_reply_json(req, 204, NULL);
done:
	EVP_PKEY_free(kp);
	free(key);
	free(nb);
	json_decref(body);
}

static void
h_cancel_session(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *tid = ts_json_str(body, "transactionId");
	store_tx tx;
	if (tid != NULL && n->st->ops->tx_get(n->st, tid, &tx) == 0) {
		tx.stage = 9;
		n->st->ops->tx_put(n->st, &tx);
		log_warn("companion %s cancelled download session %s: %s", tx.eid, tid,
		    ts_json_str(body, "reason") ? ts_json_str(body, "reason") : "no reason given");
	}
	ts_httpd_reply_json(req, 204, NULL);
	json_decref(body);
}

void
api_es9_routes(node *n)
{
	ts_httpd_route(n->httpd, "GET", "/v1/companion/events", h_companion_events, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/initiateAuthentication", h_initiate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/authenticateClient", h_authenticate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/getBoundProfilePackage", h_get_bpp, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/handleNotification", h_notification, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/cancelSession", h_cancel_session, n);
}
