/*
 * api_es11.c — HTTP glue of the node's SM-DS (SGP.22 ES11, JSON over HTTPS;
 * business in smds.c, see smds.h):
 *
 *   POST /gsma/rsp2/es11/initiateAuthentication {euiccChallenge, euiccInfo1, smdsAddress}
 *   POST /gsma/rsp2/es11/authenticateClient     {transactionId, authenticateServerResponse}
 *        -> {header, eventEntries: [{eventId, rspServerAddress}]}
 *
 * Every answer carries header.functionExecutionStatus (Executed-Success, or
 * Failed with statusCodeData subjectCode / reasonCode / message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/pki.h"
#include "lib/log.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/api_rsp.h"
#include "node/node.h"
#include "node/peerlim.h"
#include "node/smds.h"

/* ES11 initiateAuthentication {euiccChallenge, euiccInfo1, smdsAddress}:
 * euiccInfo1 is checked as ES9+ does (download_check_info1) when given. */
static void
h_initiate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *chal = NULL, *s1 = NULL, *info1 = NULL, sig[64];
	size_t chal_len = 0, s1_len = 0, info1_len = 0;
	char tid[33], peer[64] = "?";
	download_svc d;
	download_why why;
	es9_status st;
	es10_euicc_info1 i1;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	node_download_svc(n, &d);
	(void)ts_httpd_peer_addr(req, peer, sizeof(peer));
	if (peerlim_hit(n->es9_peers, peer, ts_now()) != 0) {
		rsp_reply_fail(req, ES9_BUSY, NULL, "too many sessions from this address; try again in a minute");
	} else if ((st = rsp_b64_arg(body, "euiccChallenge", &chal, &chal_len)) != 0 ||
	    chal_len != RSP_CHALLENGE_LEN) {
		rsp_reply_fail(req, st ? st : ES9_INVALID, "euiccChallenge",
		    "initiateAuthentication needs euiccChallenge (16 bytes)");
	} else if (json_object_get(body, "euiccInfo1") != NULL &&
	    ((st = rsp_b64_arg(body, "euiccInfo1", &info1, &info1_len)) != 0 ||
		es10_euicc_info1_decode(info1, info1_len, &i1) != 0)) {
		rsp_reply_fail(req, st ? st : ES9_INVALID, "euiccInfo1", "euiccInfo1 is not an EUICCInfo1 (BF20)");
	} else if (info1 != NULL && download_check_info1(&d, &i1, 1, &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else if (smds_initiate(&d, n->st, peer, ts_json_str(body, "smdsAddress"), chal, tid, &s1, &s1_len, sig,
		       &why) != 0) {
		rsp_reply_refusal(req, &why);
	} else {
		rsp_reply_auth1(req, n, tid, s1, s1_len, sig);
	}
	free(chal);
	free(info1);
	free(s1);
	json_decref(body);
}

static void
h_authenticate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *asr = NULL;
	size_t asr_len = 0;
	download_svc d;
	es9_status st;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	node_download_svc(n, &d);
	if ((st = rsp_b64_arg(body, "authenticateServerResponse", &asr, &asr_len)) != 0)
		rsp_reply_fail(req, st, "authenticateServerResponse", "authenticateServerResponse is missing or malformed");
	else
		rsp_events(n, &d, ts_json_str(body, "transactionId"), asr, asr_len, 0, req);
	free(asr);
	json_decref(body);
}

void
api_es11_routes(node *n)
{
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es11/initiateAuthentication", h_initiate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es11/authenticateClient", h_authenticate, n);
}
