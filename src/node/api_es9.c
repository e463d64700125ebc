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
 * HTTP glue only: the JSON is decoded here and the business of each function
 * is in download.c (download.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "lib/eid.h"
#include "lib/es10dl.h"
#include "lib/json.h"
#include "lib/pki.h"
#include "lib/log.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/api_rsp.h"
#include "node/download.h"
#include "node/node.h"
#include "node/peerlim.h"
#include "node/smds.h"
#include "node/stream_auth.h"

/* SGP.22 §6.2: every ES9+ / ES11 answer names the protocol version it speaks. */
static void
rsp_admin_protocol(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Admin-Protocol", "gsma/rsp/v2.2.0");
}

void
rsp_reply_ok(struct evhttp_request *req, json_t *body)
{
	rsp_admin_protocol(req);
	if (body == NULL)
		body = json_object();
	json_object_set_new(body, "header",
	    json_pack("{s:{s:s}}", "functionExecutionStatus", "status", "Executed-Success"));
	ts_httpd_reply_json(req, 200, body);
}

void
rsp_reply_ok_b64(struct evhttp_request *req, const char *tid, const rsp_b64 *m, size_t n)
{
	ts_jw w;
	char *txt = NULL;
	size_t need = 256;
	for (size_t i = 0; i < n; i++)
		need += 4 * ((m[i].len + 2) / 3) + strlen(m[i].key) + 6;
	ts_jw_init(&w);
	ts_jw_reserve(&w, need); /* one allocation for a package-sized answer */
	ts_jw_open(&w, NULL);
	ts_jw_str(&w, "transactionId", tid);
	for (size_t i = 0; i < n; i++)
		ts_jw_b64(&w, m[i].key, m[i].buf, m[i].len);
	/* rsp_reply_ok sets the header last */
	ts_jw_open(&w, "header");
	ts_jw_open(&w, "functionExecutionStatus");
	ts_jw_str(&w, "status", "Executed-Success");
	ts_jw_close(&w);
	ts_jw_close(&w);
	ts_jw_close(&w);
	int rc = ts_jw_finish(&w, &txt);
	if (rc != TS_JW_UNSURE) {
		rsp_admin_protocol(req);
		/* ts_httpd_reply_json's answer when the dump fails */
		ts_httpd_reply_json_text(req, rc == 0 ? 200 : 500, txt);
		free(txt);
		return;
	}
	/* a transactionId the writer does not reproduce (it came from the
	 * request): jansson's tree, as this answer was made before */
	json_t *r = json_pack("{s:s}", "transactionId", tid);
	for (size_t i = 0; i < n; i++)
		ts_json_set_b64(r, m[i].key, m[i].buf, m[i].len);
	rsp_reply_ok(req, r);
}

void
rsp_reply_fail(struct evhttp_request *req, es9_status s, const char *subject_id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const es9_code *c = es9_status_code(s);
	log_warn("refused (%s %s, %s): %s", c->subject, c->reason, c->what, msg);
	json_t *scd = json_pack("{s:s,s:s,s:s}", "subjectCode", c->subject, "reasonCode", c->reason, "message", msg);
	if (subject_id != NULL && subject_id[0] != '\0')
		json_object_set_new(scd, "subjectIdentifier", json_string(subject_id));
	rsp_admin_protocol(req);
	if (s == ES9_BUSY) /* 1.2 / 4.4 Busy: when to try again, as HTTP says it */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
	ts_httpd_reply_json(req, 200, json_pack("{s:{s:{s:s,s:o}}}", "header", "functionExecutionStatus", "status",
	    "Failed", "statusCodeData", scd));
}

void
rsp_reply_refusal(struct evhttp_request *req, const download_why *why)
{
	rsp_reply_fail(req, why->status, why->subject_id, "%s", why->msg);
}

void
rsp_reply_204(struct evhttp_request *req)
{
	rsp_admin_protocol(req);
	ts_httpd_reply_json(req, 204, NULL);
}

es9_status
rsp_b64_arg(const json_t *body, const char *name, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (json_object_get(body, name) == NULL)
		return ES9_MISSING;
	return ts_json_b64(body, name, out, len) == 0 ? 0 : ES9_INVALID;
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
	/* The stream carries share ids and matchingIds: only the holder of a
	 * token the EID's secure element earned (stream_auth.h) may read it. */
	const char *h = ts_httpd_header(req, "Authorization");
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0) {
		ts_httpd_reply_error(req, 401, "stream_token_required",
		    "the event stream needs a token: prove the secure element with POST /v1/companion/stream/initiate "
		    "and /v1/companion/stream/authenticate");
		return;
	}
	int rc = stream_auth_check(n->st, eid.digits, h + 7);
	if (rc == TS_EAUTH) {
		ts_httpd_reply_error(req, 401, "bad_stream_token", "the stream token is unknown, expired or not this EID's");
		return;
	}
	if (rc != 0) {
		api_reply_busy(req);
		return;
	}
	char peer[64] = "?";
	(void)ts_httpd_peer_addr(req, peer, sizeof(peer));
	log_info("companion %s connected to its push channel", eid.digits);
	push_subscribe_companion(n, req, eid.digits, peer);
}

void
node_download_svc(node *n, download_svc *d)
{
	memset(d, 0, sizeof(*d));
	d->share = &n->svc;
	/* serverAddress is the bare address (SGP.22: an FQDN, no scheme). */
	if (download_bare_address(n->address, d->address_buf, sizeof(d->address_buf)) != 0)
		snprintf(d->address_buf, sizeof(d->address_buf), "%s", n->address);
	d->address = d->address_buf;
	d->dpauth_key = n->dpauth_key;
	d->dpauth_cert_der = n->dpauth_cert_der;
	d->dpauth_cert_der_len = n->dpauth_cert_der_len;
	d->dppb_key = n->dppb_key;
	d->dppb_cert_der = n->dppb_cert_der;
	d->dppb_cert_der_len = n->dppb_cert_der_len;
	d->ci = n->ci;
}

/* initiateAuthentication's answer (SGP.22 §6.5.2.6): transactionId,
 * serverSigned1, serverSignature1 (5F37 data object), euiccCiPKIdToBeUsed
 * (the DER SubjectKeyIdentifier of the CI that issued our certificate: 04 L
 * keyid), serverCertificate. */
void
rsp_reply_auth1(struct evhttp_request *req, node *n, const char *tid, const uint8_t *s1, size_t s1_len,
    const uint8_t sig[64])
{
	uint8_t sdo[3 + 64];
	es10_sig_do(sig, sdo);
	rsp_b64 m[4] = { { "serverSigned1", s1, s1_len }, { "serverSignature1", sdo, sizeof(sdo) } };
	size_t nm = 2;
	/* the certificate parsed at start (admin.c), not again per session */
	X509 *x = n->dpauth_cert;
	uint8_t pk[2 + 128];
	if (x != NULL) {
		const ASN1_OCTET_STRING *k = X509_get0_authority_key_id(x);
		if (k != NULL && k->length > 0 && k->length < 128) {
			pk[0] = 0x04;
			pk[1] = (uint8_t)k->length;
			memcpy(pk + 2, k->data, (size_t)k->length);
			m[nm++] = (rsp_b64){ "euiccCiPKIdToBeUsed", pk, 2 + (size_t)k->length };
		}
	}
	m[nm++] = (rsp_b64){ "serverCertificate", n->dpauth_cert_der, n->dpauth_cert_der_len };
	rsp_reply_ok_b64(req, tid, m, nm);
}

/* POST /v1/companion/stream/initiate {eid, euiccChallenge} (stream_auth.h) */
static void
h_stream_initiate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *chal = NULL, *s1 = NULL;
	size_t chal_len = 0, s1_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	download_svc d;
	download_why why;
	char tid[2 * RSP_TID_LEN + 1], peer[PEERLIM_KEY_MAX] = "?";
	uint8_t sig[64];
	es9_status st;
	node_download_svc(n, &d);
	(void)ts_httpd_peer_addr(req, peer, sizeof(peer));
	if (peerlim_hit(n->es9_peers, peer, ts_now()) != 0) {
		rsp_reply_fail(req, ES9_BUSY, NULL, "too many sessions from this address; try again in a minute");
	} else if ((st = rsp_b64_arg(body, "euiccChallenge", &chal, &chal_len)) != 0 ||
	    chal_len != RSP_CHALLENGE_LEN) {
		rsp_reply_fail(req, st ? st : ES9_INVALID, "euiccChallenge", "stream/initiate needs eid and euiccChallenge (16 bytes)");
	} else if (stream_auth_initiate(&d, n->st, peer, ts_json_str(body, "eid"), chal, tid, &s1, &s1_len, sig,
		       &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else {
		rsp_reply_auth1(req, n, tid, s1, s1_len, sig);
	}
	free(chal);
	free(s1);
	json_decref(body);
}

/* POST /v1/companion/stream/authenticate {transactionId, authenticateServerResponse} */
static void
h_stream_authenticate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *asr = NULL;
	size_t asr_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	download_svc d;
	download_why why;
	char token[65];
	es9_status st;
	node_download_svc(n, &d);
	if ((st = rsp_b64_arg(body, "authenticateServerResponse", &asr, &asr_len)) != 0) {
		rsp_reply_fail(req, st, "authenticateServerResponse", "authenticateServerResponse is missing or malformed");
	} else if (stream_auth_complete(&d, n->st, ts_json_str(body, "transactionId"), asr, asr_len, token, &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else {
		rsp_reply_ok(req, json_pack("{s:s,s:i}", "streamToken", token, "expiresIn", STREAM_TOKEN_TTL_S));
		OPENSSL_cleanse(token, sizeof(token));
	}
	free(asr);
	json_decref(body);
}

/* transactionId, a mandatory string member: 0 or the status to answer. */
static es9_status
tid_arg(const json_t *body, const char **tid)
{
	*tid = ts_json_str(body, "transactionId");
	if (*tid != NULL)
		return 0;
	return json_object_get(body, "transactionId") == NULL ? ES9_MISSING : ES9_INVALID;
}

/* ES9+ initiateAuthentication {euiccChallenge, euiccInfo1, smdpAddress}
 * (SGP.22 §5.6.1). tapshare's companion may add matchingId (download.h). */
static void
h_initiate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *chal = NULL, *s1 = NULL, *info1 = NULL;
	size_t chal_len = 0, s1_len = 0, info1_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *mid = ts_json_str(body, "matchingId");
	const char *addr = ts_json_str(body, "smdpAddress");
	download_svc d;
	download_why why;
	char tid[2 * RSP_TID_LEN + 1], peer[PEERLIM_KEY_MAX] = "?";
	uint8_t sig[64];
	es9_status st;
	es10_euicc_info1 i1;
	node_download_svc(n, &d);
	(void)ts_httpd_peer_addr(req, peer, sizeof(peer));
	d.peer = peer;
	if (peerlim_hit(n->es9_peers, peer, ts_now()) != 0) {
		log_warn("ES9+ initiateAuthentication from %s refused: more than %d a minute", peer, NODE_ES9_PEER_MAX);
		rsp_reply_fail(req, ES9_BUSY, NULL, "too many download sessions from this address; try again in a minute");
	} else if ((st = rsp_b64_arg(body, "euiccChallenge", &chal, &chal_len)) != 0 ||
	    chal_len != RSP_CHALLENGE_LEN) {
		rsp_reply_fail(req, st ? st : ES9_INVALID, "euiccChallenge",
		    "initiateAuthentication needs euiccChallenge (16 bytes)");
	} else if ((st = rsp_b64_arg(body, "euiccInfo1", &info1, &info1_len)) != 0 ||
	    es10_euicc_info1_decode(info1, info1_len, &i1) != 0) {
		rsp_reply_fail(req, st ? st : ES9_INVALID, "euiccInfo1",
		    "initiateAuthentication needs euiccInfo1 (the eUICC's EUICCInfo1, BF20)");
	} else if (addr == NULL) {
		rsp_reply_fail(req, json_object_get(body, "smdpAddress") ? ES9_INVALID : ES9_MISSING, "smdpAddress",
		    "initiateAuthentication needs smdpAddress");
	} else if (download_initiate(&d, n->st, mid, addr, &i1, chal, tid, &s1, &s1_len, sig, &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else {
		rsp_reply_auth1(req, n, tid, s1, s1_len, sig);
	}
	free(chal);
	free(info1);
	free(s1);
	json_decref(body);
}

void
rsp_events(node *n, const download_svc *d, const char *tid, const uint8_t *asr, size_t asr_len, int es9_path,
    struct evhttp_request *req)
{
	char eid[33], addr[ES10_ADDR_MAX + 1];
	char(*ids)[STORE_ID_MAX] = calloc(SMDS_EVENTS_MAX, sizeof(*ids));
	size_t ne = 0;
	download_why why;
	if (ids == NULL) {
		rsp_reply_fail(req, ES9_EXEC_ERROR, NULL, "out of memory");
	} else if ((es9_path ? smds_authenticate_es9 : smds_authenticate)(d, n->st, tid, asr, asr_len, eid, ids,
		       SMDS_EVENTS_MAX, &ne, &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else if (smds_bare_address(n->address, addr, sizeof(addr)) != 0) {
		rsp_reply_fail(req, ES9_EXEC_ERROR, NULL, "the node's address is unusable");
	} else {
		json_t *entries = json_array();
		for (size_t i = 0; i < ne; i++)
			json_array_append_new(entries, json_pack("{s:s,s:s}", "eventId", ids[i], "rspServerAddress", addr));
		json_t *r = json_pack("{s:o}", "eventEntries", entries);
		if (es9_path)
			json_object_set_new(r, "transactionId", json_string(tid));
		rsp_reply_ok(req, r);
	}
	free(ids);
}

static void
h_authenticate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *asr = NULL, *s2 = NULL, *md = NULL;
	size_t asr_len = 0, s2_len = 0, md_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	download_svc d;
	download_why why;
	uint8_t sig2[64];
	es9_status st;
	const char *tid;
	int unbound = 0;
	node_download_svc(n, &d);
	if ((st = tid_arg(body, &tid)) != 0) {
		rsp_reply_fail(req, st, "transactionId", "transactionId is missing or not a string");
	} else if ((st = rsp_b64_arg(body, "authenticateServerResponse", &asr, &asr_len)) != 0) {
		rsp_reply_fail(req, st, "authenticateServerResponse", "authenticateServerResponse is missing or malformed");
	} else if (smds_discovery_request(asr, asr_len) && (unbound = download_tx_unbound(n->st, tid)) != 0) {
		if (unbound < 0) /* busy: whether it is a discovery session is unknown */
			rsp_reply_fail(req, ES9_BUSY, NULL, "the database is busy; retry");
		else
			rsp_events(n, &d, tid, asr, asr_len, 1, req);
	} else if (download_authenticate(&d, n->st, tid, asr, asr_len, &md, &md_len, &s2, &s2_len, sig2, &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else {
		uint8_t sdo[3 + 64];
		es10_sig_do(sig2, sdo);
		const rsp_b64 m[] = { { "profileMetadata", md, md_len }, { "smdpSigned2", s2, s2_len },
			{ "smdpSignature2", sdo, sizeof(sdo) }, { "smdpCertificate", n->dppb_cert_der, n->dppb_cert_der_len } };
		rsp_reply_ok_b64(req, tid, m, TS_ARRAY_LEN(m));
	}
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
	uint8_t *pdr = NULL, *bpp = NULL;
	size_t pdr_len = 0, bpp_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	download_svc d;
	download_why why;
	es9_status st;
	const char *tid;
	node_download_svc(n, &d);
	if ((st = tid_arg(body, &tid)) != 0) {
		rsp_reply_fail(req, st, "transactionId", "transactionId is missing or not a string");
	} else if ((st = rsp_b64_arg(body, "prepareDownloadResponse", &pdr, &pdr_len)) != 0) {
		rsp_reply_fail(req, st, "prepareDownloadResponse", "prepareDownloadResponse is missing or malformed");
	} else if (download_package(&d, n->st, tid, pdr, pdr_len, &bpp, &bpp_len, &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else {
		const rsp_b64 m[] = { { "boundProfilePackage", bpp, bpp_len } };
		rsp_reply_ok_b64(req, tid, m, TS_ARRAY_LEN(m));
	}
	if (bpp != NULL) {
		OPENSSL_cleanse(bpp, bpp_len);
		free(bpp);
	}
	free(pdr);
	json_decref(body);
}

/* handleNotification: an SGP.22 PendingNotification (download_notification),
 * and for a bank-ID install result the public key the SE generated for the
 * app, which the companion read from its credential applet
 * ("tapshareAppKey", base64 of the 65-byte point; docs/protocol.md).
 * SGP.22 §5.6.4 / §6.3: a notification is answered HTTP 204 — also one the
 * node cannot verify or place, which it discards (logged). Only an execution
 * error (the store) is a Failed status, so that the LPA keeps the
 * notification and sends it again. */
static void
h_notification(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *nb = NULL, *key = NULL;
	size_t nb_len = 0, key_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	download_svc d;
	download_why why;
	node_download_svc(n, &d);
	if (rsp_b64_arg(body, "pendingNotification", &nb, &nb_len) != 0)
		log_warn("ES9+ handleNotification without a base64 pendingNotification: discarded");
	else if (json_object_get(body, "tapshareAppKey") != NULL &&
	    (ts_json_b64(body, "tapshareAppKey", &key, &key_len) != 0 || key_len != PKI_PUBKEY_LEN))
		log_warn("ES9+ handleNotification: tapshareAppKey is not a 65-byte public key: discarded");
	else if (download_notification(&d, n->st, nb, nb_len, key, &why) != 0 &&
	    (why.status == ES9_EXEC_ERROR || why.status == ES9_BUSY)) { /* not settled: the LPA sends it again */
		rsp_reply_refusal(req, &why);
		goto done;
	}
	rsp_reply_204(req);
done:
	free(key);
	free(nb);
	json_decref(body);
}

/* ES9+ cancelSession {transactionId, cancelSessionResponse} (SGP.22 §5.6.5):
 * the eUICC's signed CancelSessionResponse (BF41), download_cancel. */
static void
h_cancel_session(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *csr = NULL;
	size_t csr_len = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	download_svc d;
	download_why why;
	es9_status st;
	const char *tid;
	node_download_svc(n, &d);
	if ((st = tid_arg(body, &tid)) != 0)
		rsp_reply_fail(req, st, "transactionId", "transactionId is missing or not a string");
	else if ((st = rsp_b64_arg(body, "cancelSessionResponse", &csr, &csr_len)) != 0)
		rsp_reply_fail(req, st, "cancelSessionResponse", "cancelSessionResponse is missing or malformed");
	else if (download_cancel(&d, n->st, tid, csr, csr_len, &why) != 0)
		rsp_reply_refusal(req, &why);
	else
		rsp_reply_ok(req, NULL);
	free(csr);
	json_decref(body);
}

void
api_es9_routes(node *n)
{
	ts_httpd_route(n->httpd, "GET", "/v1/companion/events", h_companion_events, n);
	ts_httpd_route(n->httpd, "POST", "/v1/companion/stream/initiate", h_stream_initiate, n);
	ts_httpd_route(n->httpd, "POST", "/v1/companion/stream/authenticate", h_stream_authenticate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/initiateAuthentication", h_initiate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/authenticateClient", h_authenticate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/getBoundProfilePackage", h_get_bpp, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/handleNotification", h_notification, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es9plus/cancelSession", h_cancel_session, n);
}
