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
 *
 * HTTP glue only: the checks are share_offer_redeem's (share.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

static void
h_offer(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *ob = NULL;
	size_t ob_len = 0;
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
	store_share sh;
	share_why why = { "", "" };
	if ((rc = share_offer_redeem(&n->svc, n->st, eid_s, &o, &sh, &why)) != 0) {
		api_reply_refusal(req, &why, rc);
		goto done;
	}
	json_t *resp = store_share_json(&sh);
	json_object_set_new(resp, "confirmation", json_string("EID received and correct"));
	ts_httpd_reply_json(req, 201, resp);
done:
	free(ob);
	json_decref(body);
}

void
api_offer_routes(node *n)
{
	ts_httpd_route(n->httpd, "POST", "/v1/companion/offers", h_offer, n);
}
