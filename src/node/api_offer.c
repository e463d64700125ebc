/*
 * api_offer.c — companion-initiated sharing (patent claims 20 and 33): the
 * primary hands the companion a signed share offer over the short-range link;
 * the companion sends its EID and the offer here. The node checks the offer's
 * certificate (issued by the node CA to an enrolled device), its signature,
 * expiry and one-time nonce, that the primary's user owns the app, and the
 * EID; then the share runs the same path as one the primary sent (S11 -> S17),
 * and the primary gets the confirmations on its event stream.
 *
 * The companion has no credential of its own: its secure element proves the
 * EID during the download (authenticateClient), before anything is delivered,
 * so a companion that names someone else's EID gets nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define OFFER_MAX_TTL_S 3600

static void
h_offer(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *ob = NULL;
	size_t ob_len = 0;
	X509 *cert = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *eid_s = ts_json_str(body, "eid");
	rsp_offer o;
	int rc;
	if (eid_s == NULL || ts_json_b64(body, "offer", &ob, &ob_len) != 0) {
		ts_httpd_reply_error(req, 400, "bad_request", "send \"eid\" and \"offer\" (base64)");
		goto done;
	}
	if ((rc = rsp_offer_decode(ob, ob_len, &o)) != 0) {
		if (rc == TS_EVERIFY)
			ts_httpd_reply_error(req, 403, "offer_signature", "the offer's signature does not verify");
		else
			ts_httpd_reply_error(req, 400, "bad_offer", "the offer is malformed (%s)", ts_strerror(rc));
		goto done;
	}
	char key_id[65], err[256] = "";
	if (pki_cert_from_der(o.cert, o.cert_len, &cert) != 0 ||
	    pki_verify_chain(n->ca, NULL, cert, err, sizeof(err)) != 0) {
		ts_httpd_reply_error(req, 403, "offer_untrusted",
		    "the offer was not signed by a device this node enrolled (%s)", err);
		goto done;
	}
	if (pki_cert_pubkey_id(cert, key_id) != 0 || strcmp(key_id, o.device_id) != 0) {
		ts_httpd_reply_error(req, 403, "offer_signature", "the offer's device id does not match its key");
		goto done;
	}
	int64_t user_id;
	if (n->st->ops->device_user(n->st, o.device_id, &user_id) != 0) {
		ts_httpd_reply_error(req, 403, "unknown_device", "the offering device is not enrolled");
		goto done;
	}
	int64_t now = ts_now();
	if (o.expires_at <= now) {
		ts_httpd_reply_error(req, 400, "offer_expired", "the offer expired %lld s ago",
		    (long long)(now - o.expires_at));
		goto done;
	}
	if (o.expires_at > now + OFFER_MAX_TTL_S) {
		ts_httpd_reply_error(req, 400, "bad_offer", "offers may live at most %d s", OFFER_MAX_TTL_S);
		goto done;
	}
	log_info("S11 companion-initiated share request (claims 20/33): EID %.40s redeems an offer for %s "
		 "from device %.16s…", eid_s, o.app_id, o.device_id);
	eid_t eid;
	if (api_check_eid(n, req, eid_s, &eid) != 0)
		goto done;
	store_app app;
	if (api_check_app(n, req, o.app_id, user_id, &app) != 0)
		goto done;
	store_share sh;
	memset(&sh, 0, sizeof(sh));
	char nonce_hex[2 * RSP_OFFER_NONCE_LEN + 1];
	ts_hex_encode(o.nonce, RSP_OFFER_NONCE_LEN, nonce_hex, sizeof(nonce_hex));
	if (ts_random_id(sh.id) != 0) {
		ts_httpd_reply_error(req, 500, "random_failed", "no randomness");
		goto done;
	}
	sh.user_id = user_id;
	snprintf(sh.device_id, sizeof(sh.device_id), "%s", o.device_id);
	snprintf(sh.eid, sizeof(sh.eid), "%s", eid.digits);
	snprintf(sh.app_id, sizeof(sh.app_id), "%s", app.app_id);
	snprintf(sh.provider, sizeof(sh.provider), "%s", app.provider);
	if ((rc = share_create(n, n->st, &sh)) != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "cannot record the share");
		goto done;
	}
	rc = n->st->ops->offer_nonce_use(n->st, nonce_hex, sh.id, o.expires_at);
	if (rc == 0)
		rc = n->st->ops->commit(n->st);
	if (rc != 0) {
		n->st->ops->rollback(n->st);
		if (rc == TS_EEXIST)
			ts_httpd_reply_error(req, 409, "offer_replayed", "this offer was already used");
		else
			ts_httpd_reply_error(req, 500, "store_error", "cannot record the share");
		goto done;
	}
	log_info("S12 first confirmation for share %s (offer %.8s…): EID %s received and correct", sh.id,
	    nonce_hex, sh.eid);
	outbox_kick(n);
	push_kick(n);
	json_t *resp = store_share_json(&sh);
	json_object_set_new(resp, "confirmation", json_string("EID received and correct"));
	ts_httpd_reply_json(req, 201, resp);
done:
	X509_free(cert);
	free(ob);
	json_decref(body);
}

void
api_offer_routes(node *n)
{
	ts_httpd_route(n->httpd, "POST", "/v1/companion/offers", h_offer, n);
}
