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

#include <openssl/x509v3.h>

#include "lib/json.h"
#include "lib/pki.h"
#include "lib/log.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/peerlim.h"
#include "node/smds.h"

static void
es11_ok(struct evhttp_request *req, json_t *body)
{
	/* SGP.22 §6.2: every answer names the protocol version (as ES9+) */
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Admin-Protocol", "gsma/rsp/v2.2.0");
	json_object_set_new(body, "header",
	    json_pack("{s:{s:s}}", "functionExecutionStatus", "status", "Executed-Success"));
	ts_httpd_reply_json(req, 200, body);
}

static void
es11_fail(struct evhttp_request *req, const char *subject, const char *reason, const char *msg)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Admin-Protocol", "gsma/rsp/v2.2.0");
	ts_httpd_reply_json(req, 200, json_pack("{s:{s:{s:s,s:{s:s,s:s,s:s}}}}", "header",
	    "functionExecutionStatus", "status", "Failed", "statusCodeData", "subjectCode", subject,
	    "reasonCode", reason, "message", msg));
}

static void
h_initiate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *chal = NULL, *s1 = NULL, sig[64];
	size_t chal_len = 0, s1_len = 0;
	char tid[33], peer[64] = "?";
	download_svc d;
	download_why why;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	node_download_svc(n, &d);
	(void)ts_httpd_peer_addr(req, peer, sizeof(peer));
	if (peerlim_hit(n->es9_peers, peer, ts_now()) != 0) {
		es11_fail(req, "8.1", "6.4", "too many sessions from this address; try again in a minute");
	} else if (ts_json_b64(body, "euiccChallenge", &chal, &chal_len) != 0 || chal_len != RSP_CHALLENGE_LEN) {
		es11_fail(req, "8.1", "2.1", "initiateAuthentication needs euiccChallenge (16 bytes)");
	} else if (smds_initiate(&d, n->st, peer, ts_json_str(body, "smdsAddress"), chal, tid, &s1, &s1_len, sig,
		       &why) != 0) {
		es11_fail(req, why.subject, why.reason, why.msg);
	} else {
		json_t *r = json_pack("{s:s}", "transactionId", tid);
		uint8_t sdo[3 + 64];
		es10_sig_do(sig, sdo); /* serverSignature1 as the 5F37 data object */
		ts_json_set_b64(r, "serverSigned1", s1, s1_len);
		ts_json_set_b64(r, "serverSignature1", sdo, sizeof(sdo));
		/* euiccCiPKIdToBeUsed: the CI that issued our certificate (04 L keyid) */
		X509 *x = NULL;
		if (pki_cert_from_der(n->dpauth_cert_der, n->dpauth_cert_der_len, &x) == 0) {
			const ASN1_OCTET_STRING *k = X509_get0_authority_key_id(x);
			if (k != NULL && k->length > 0 && k->length < 128) {
				uint8_t pk[2 + 128];
				pk[0] = 0x04;
				pk[1] = (uint8_t)k->length;
				memcpy(pk + 2, k->data, (size_t)k->length);
				ts_json_set_b64(r, "euiccCiPKIdToBeUsed", pk, 2 + (size_t)k->length);
			}
			X509_free(x);
		}
		ts_json_set_b64(r, "serverCertificate", n->dpauth_cert_der, n->dpauth_cert_der_len);
		es11_ok(req, r);
	}
	free(chal);
	free(s1);
	json_decref(body);
}

static void
h_authenticate(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	uint8_t *asr = NULL;
	size_t asr_len = 0, ne = 0;
	char eid[33], addr[ES10_ADDR_MAX + 1];
	char(*ids)[STORE_ID_MAX] = NULL;
	download_svc d;
	download_why why;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	node_download_svc(n, &d);
	if ((ids = calloc(SMDS_EVENTS_MAX, sizeof(*ids))) == NULL) {
		es11_fail(req, "8.1", "5.1", "out of memory");
	} else if (ts_json_b64(body, "authenticateServerResponse", &asr, &asr_len) != 0) {
		es11_fail(req, "8.1", "2.1", "authenticateServerResponse is missing or malformed");
	} else if (smds_authenticate(&d, n->st, ts_json_str(body, "transactionId"), asr, asr_len, eid, ids,
		       SMDS_EVENTS_MAX, &ne, &why) != 0) {
		es11_fail(req, why.subject, why.reason, why.msg);
	} else if (smds_bare_address(n->address, addr, sizeof(addr)) != 0) {
		es11_fail(req, "8.1", "5.1", "the node's address is unusable");
	} else {
		json_t *entries = json_array();
		for (size_t i = 0; i < ne; i++)
			json_array_append_new(entries,
			    json_pack("{s:s,s:s}", "eventId", ids[i], "rspServerAddress", addr));
		es11_ok(req, json_pack("{s:o}", "eventEntries", entries));
	}
	free(ids);
	free(asr);
	json_decref(body);
}

void
api_es11_routes(node *n)
{
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es11/initiateAuthentication", h_initiate, n);
	ts_httpd_route(n->httpd, "POST", "/gsma/rsp2/es11/authenticateClient", h_authenticate, n);
}
