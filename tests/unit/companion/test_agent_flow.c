/*
 * test_agent_flow.c — the whole companion agent (agent_run) against a fake
 * node on 127.0.0.1 and the real software SE (inproc), with a fresh test PKI:
 *
 *   S1   the sim link serves our EID;
 *   S14  download A: the ES9+ exchange with real signatures and a real bound
 *        package; the first install notification is refused with HTTP 500,
 *        so the agent must re-send it from the SE's pending list (S15);
 *   S17  delete A on a pushed `delete`; download B: the node first refuses
 *        authenticateClient ("Failed"), so the agent must cancelSession and
 *        retry when the node re-sends the command; B has not_after in 3 s
 *        and is deleted by the agent's expiry check;
 *   stop: a stop request while the stream is idle ends agent_run within ~1 s.
 *
 * The fake node speaks only what docs/protocol.md §3 says; it is deliberately
 * small (one event-loop thread, pending commands re-sent on every connect).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "../md_fixture.h"
#include "companion/agent.h"
#include "device/link.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/bsp.h"
#include "lib/eid.h"
#include "lib/es10.h"
#include "lib/httpd.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

#include "../sim_fixture.h"

#define EID "89049032123451234512345678901235"
#define MAX_NOTIFS 16

struct pending_cmd {
	int id;
	char event[16];
	char data[512];
	int active;
};

struct fake_node {
	struct event_base *base;
	ts_httpd *httpd;
	char addr[64]; /* "127.0.0.1:PORT" = smdpAddress */
	char link_spec[300];
	EVP_PKEY *sign_key; /* DPpb */
	uint8_t *sign_cert; size_t sign_cert_len;
	EVP_PKEY *auth_key; /* DPauth */
	uint8_t *auth_cert; size_t auth_cert_len;
	EVP_PKEY *euicc_pub;
	volatile sig_atomic_t *stop;

	struct pending_cmd cmds[8];
	int next_id;
	int link_checked; /* 1 ok, -1 bad */
	int streams;
	int bad_header;   /* an ES9+ call without X-Admin-Protocol */
	int failed_once;  /* the first install notification was refused */
	int refused_auth; /* the first authenticateClient for B was refused */
	int cancels;      /* cancelSession calls naming the current session */
	int stream_auths; /* event stream tokens the SE earned (stream/authenticate) */
	int unauthorised_streams; /* GET /v1/companion/events without the token */
	char stream_token[65];
	uint8_t stream_tid[RSP_TID_LEN];
	char cancel_reason[64];

	/* current session */
	uint8_t tid[RSP_TID_LEN];
	uint8_t euicc_sig1[PKI_SIG_LEN];
	char matching_id[64];

	struct fnotif {
		uint32_t event;   /* ES10_EVENT_* */
		char app_id[64];  /* the app whose tapshare ICCID the notification names */
		uint64_t seq;
		int success;      /* install: successResult */
		int has_key;      /* install: tapshareAppKey came with it */
	} notifs[MAX_NOTIFS];
	int n_notifs;
	int verify_failures;
	int64_t stop_at_ms;
	struct event *stop_ev;
	struct evhttp_request *stream; /* the open push stream, as on the real node */
};

static struct fake_node N;

static void
push_cmd_add(const char *event, const char *data)
{
	for (size_t i = 0; i < TS_ARRAY_LEN(N.cmds); i++) {
		if (!N.cmds[i].active) {
			N.cmds[i].active = 1;
			N.cmds[i].id = ++N.next_id;
			snprintf(N.cmds[i].event, sizeof(N.cmds[i].event), "%s", event);
			snprintf(N.cmds[i].data, sizeof(N.cmds[i].data), "%s", data);
			/* Live push to an open stream, like the real node. */
			if (N.stream != NULL) {
				struct evbuffer *b = evbuffer_new();
				evbuffer_add_printf(b, "id: %d\nevent: %s\ndata: %s\n\n", N.cmds[i].id,
				    N.cmds[i].event, N.cmds[i].data);
				evhttp_send_reply_chunk(N.stream, b);
				evbuffer_free(b);
			}
			return;
		}
	}
	fail_msg("fake node: command table full");
}

static void
push_cmd_settle(const char *event, const char *needle)
{
	for (size_t i = 0; i < TS_ARRAY_LEN(N.cmds); i++)
		if (N.cmds[i].active && strcmp(N.cmds[i].event, event) == 0 &&
		    strstr(N.cmds[i].data, needle) != NULL)
			N.cmds[i].active = 0;
}

/* libevent detaches (but does not free) a request whose chunked reply was
 * still open when the peer went away; ending it then frees it. At server
 * shutdown the request is still attached and evhttp frees it itself. */
static void
on_stream_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct evhttp_request *req = arg;
	if (N.stream == req)
		N.stream = NULL;
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_send_reply_end(req);
}

static void
on_events(struct evhttp_request *req, void *arg)
{
	(void)arg;
	char eid[40];
	if (ts_httpd_query(req, "eid", eid, sizeof(eid)) != 0 || strcmp(eid, EID) != 0) {
		ts_httpd_reply_error(req, 400, "bad_eid", "eid");
		return;
	}
	/* The stream needs the token the SE earned (docs/protocol.md §3). */
	const char *authz = ts_httpd_header(req, "Authorization");
	if (N.stream_token[0] == '\0' || authz == NULL || strncmp(authz, "Bearer ", 7) != 0 ||
	    strcmp(authz + 7, N.stream_token) != 0) {
		N.unauthorised_streams++;
		ts_httpd_reply_error(req, 401, "bad_stream_token", "stream token");
		return;
	}
	if (N.link_checked == 0) {
		/* S1: what a primary device would read over the link. */
		ndef_identity id;
		int rc = link_read_identity(N.link_spec, 2000, &id);
		N.link_checked = (rc == 0 && strcmp(id.eid.digits, EID) == 0 &&
		    strcmp(id.name, "Test Watch") == 0 && strcmp(id.model, "W-1") == 0) ? 1 : -1;
	}
	N.streams++;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/event-stream");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_stream_close, req);
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, ": keepalive\n\n");
	for (size_t i = 0; i < TS_ARRAY_LEN(N.cmds); i++)
		if (N.cmds[i].active)
			evbuffer_add_printf(b, "id: %d\nevent: %s\ndata: %s\n\n", N.cmds[i].id,
			    N.cmds[i].event, N.cmds[i].data);
	evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
	N.stream = req;
	/* The stream stays open; the agent closes it (libevent frees the request). */
}

static json_t *
success(void)
{
	return json_pack("{s:{s:{s:s}}}", "header", "functionExecutionStatus", "status",
	    "Executed-Success");
}

static void
es9_initiate(struct evhttp_request *req, json_t *body)
{
	uint8_t *chal = NULL;
	size_t clen = 0;
	const char *addr = ts_json_str(body, "smdpAddress");
	const char *mid = ts_json_str(body, "matchingId");
	if (ts_json_b64(body, "euiccChallenge", &chal, &clen) != 0 || clen != 16 || addr == NULL ||
	    mid == NULL || strcmp(addr, N.addr) != 0) {
		free(chal);
		ts_httpd_reply_error(req, 400, "bad_request", "initiateAuthentication");
		return;
	}
	snprintf(N.matching_id, sizeof(N.matching_id), "%s", mid);
	es10_server_signed1 s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(ts_random(N.tid, sizeof(N.tid)), 0);
	memcpy(s.tid, N.tid, 16);
	s.tid_len = 16;
	memcpy(s.euicc_challenge, chal, 16);
	snprintf(s.server_address, sizeof(s.server_address), "%s", addr);
	assert_int_equal(ts_random(s.server_challenge, 16), 0);
	free(chal);
	uint8_t *s1 = NULL, sig[PKI_SIG_LEN];
	size_t s1len = 0;
	assert_int_equal(es10_server_signed1_encode(&s, &s1, &s1len), 0);
	assert_int_equal(pki_sign(N.auth_key, s1, s1len, sig), 0);
	char tidhex[33];
	ts_hex_encode(N.tid, 16, tidhex, sizeof(tidhex));
	json_t *r = success();
	json_object_set_new(r, "transactionId", json_string(tidhex));
	ts_json_set_b64(r, "serverSigned1", s1, s1len);
	uint8_t sdo[3 + PKI_SIG_LEN];
	es10_sig_do(sig, sdo);
	ts_json_set_b64(r, "serverSignature1", sdo, sizeof(sdo));
	ts_json_set_b64(r, "serverCertificate", N.auth_cert, N.auth_cert_len);
	free(s1);
	ts_httpd_reply_json(req, 200, r);
}

/* POST /v1/companion/stream/initiate {eid, euiccChallenge} */
static void
on_stream_initiate(struct evhttp_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	uint8_t *chal = NULL;
	size_t clen = 0;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *eid = ts_json_str(body, "eid");
	if (eid == NULL || strcmp(eid, EID) != 0 || ts_json_b64(body, "euiccChallenge", &chal, &clen) != 0 ||
	    clen != 16) {
		free(chal);
		json_decref(body);
		ts_httpd_reply_error(req, 400, "bad_request", "stream/initiate");
		return;
	}
	es10_server_signed1 s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(ts_random(N.stream_tid, sizeof(N.stream_tid)), 0);
	memcpy(s.tid, N.stream_tid, 16);
	s.tid_len = 16;
	memcpy(s.euicc_challenge, chal, 16);
	snprintf(s.server_address, sizeof(s.server_address), "%s", N.addr);
	assert_int_equal(ts_random(s.server_challenge, 16), 0);
	free(chal);
	json_decref(body);
	uint8_t *s1 = NULL, sig[PKI_SIG_LEN];
	size_t s1len = 0;
	assert_int_equal(es10_server_signed1_encode(&s, &s1, &s1len), 0);
	assert_int_equal(pki_sign(N.auth_key, s1, s1len, sig), 0);
	char tidhex[33];
	ts_hex_encode(N.stream_tid, 16, tidhex, sizeof(tidhex));
	json_t *r = success();
	json_object_set_new(r, "transactionId", json_string(tidhex));
	ts_json_set_b64(r, "serverSigned1", s1, s1len);
	uint8_t sdo[3 + PKI_SIG_LEN];
	es10_sig_do(sig, sdo);
	ts_json_set_b64(r, "serverSignature1", sdo, sizeof(sdo));
	ts_json_set_b64(r, "serverCertificate", N.auth_cert, N.auth_cert_len);
	free(s1);
	ts_httpd_reply_json(req, 200, r);
}

/* POST /v1/companion/stream/authenticate: the SE signed euiccSigned1 for
 * this session with the stream's matchingId. */
static void
on_stream_authenticate(struct evhttp_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	uint8_t *bf38 = NULL;
	size_t len = 0;
	es10_auth_server_resp a;
	es10_euicc_signed1 es1;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	int ok = ts_json_b64(body, "authenticateServerResponse", &bf38, &len) == 0 &&
	    es10_auth_server_resp_decode(bf38, len, &a, NULL) == 0 && a.error == 0 &&
	    pki_verify(N.euicc_pub, a.euicc_signed1.p, a.euicc_signed1.len, a.euicc_signature1) == 0 &&
	    es10_euicc_signed1_decode(a.euicc_signed1.p, a.euicc_signed1.len, &es1) == 0 &&
	    memcmp(es1.tid, N.stream_tid, 16) == 0 &&
	    strcmp(es1.ctx.matching_id, "tapshare-event-stream") == 0;
	free(bf38);
	json_decref(body);
	if (!ok) {
		N.verify_failures++;
		ts_httpd_reply_error(req, 400, "bad_request", "stream/authenticate");
		return;
	}
	uint8_t raw[32];
	assert_int_equal(ts_random(raw, sizeof(raw)), 0);
	ts_hex_encode(raw, sizeof(raw), N.stream_token, sizeof(N.stream_token));
	N.stream_auths++;
	json_t *r = success();
	json_object_set_new(r, "streamToken", json_string(N.stream_token));
	json_object_set_new(r, "expiresIn", json_integer(900));
	ts_httpd_reply_json(req, 200, r);
}

static int
metadata_for(const char *mid, uint8_t **out, size_t *len, uint8_t **sim, size_t *sim_len)
{
	rsp_metadata m;
	memset(&m, 0, sizeof(m));
	if (sim != NULL && strcmp(mid, "MID-B") != 0) {
		/* The SIM's profile package, with the ICCID tapshare-se derives
		 * for the app (which the notifications are mapped back by). */
		eid_t eid;
		char d[ES10_ICCID_DIGITS_MAX + 1];
		uint8_t iccid[ES10_ICCID_LEN];
		assert_int_equal(eid_parse(EID, &eid), 0);
		assert_int_equal(es10_iccid_for_app(&eid, "sim-watch-a", d), 0);
		assert_int_equal(es10_iccid_from_digits(d, iccid), 0);
		sim_fixture(iccid, &m, sim, sim_len);
	}
	int is_b = strcmp(mid, "MID-B") == 0;
	snprintf(m.app_id, sizeof(m.app_id), "%s", is_b ? "bank-id-b" : "sim-watch-a");
	snprintf(m.name, sizeof(m.name), "%s", is_b ? "Bank ID" : "Watch line");
	snprintf(m.kind, sizeof(m.kind), "%s", is_b ? "bankid" : "sim");
	snprintf(m.provider, sizeof(m.provider), "%s", "acme");
	m.not_after = is_b ? ts_now() + 3 : 0;
	assert_int_equal(md_fixture_iccid(&m, EID), 0);
	return rsp_metadata_encode(&m, out, len);
}

static void
es9_authenticate_client(struct evhttp_request *req, json_t *body)
{
	uint8_t *bf38 = NULL;
	size_t len = 0;
	es10_auth_server_resp a;
	if (ts_json_b64(body, "authenticateServerResponse", &bf38, &len) != 0 ||
	    es10_auth_server_resp_decode(bf38, len, &a, NULL) != 0 || a.error != 0) {
		free(bf38);
		ts_httpd_reply_error(req, 400, "bad_request", "authenticateClient");
		return;
	}
	/* The SE's signature over euiccSigned1 must verify with the eUICC key. */
	if (pki_verify(N.euicc_pub, a.euicc_signed1.p, a.euicc_signed1.len, a.euicc_signature1) != 0)
		N.verify_failures++;
	memcpy(N.euicc_sig1, a.euicc_signature1, PKI_SIG_LEN);
	free(bf38);
	if (strcmp(N.matching_id, "MID-B") == 0 && !N.refused_auth) {
		/* An ES9+ refusal: the agent must cancel the session and retry later. */
		N.refused_auth = 1;
		ts_httpd_reply_json(req, 200, json_pack("{s:{s:{s:s, s:{s:s, s:s, s:s}}}}",
		    "header", "functionExecutionStatus", "status", "Failed", "statusCodeData",
		    "subjectCode", "8.1", "reasonCode", "3.8", "message", "test refusal"));
		return;
	}

	es10_smdp_signed2 s2 = { .cc_required = 0 };
	memcpy(s2.tid, N.tid, 16);
	s2.tid_len = 16;
	uint8_t *s2der = NULL, *md = NULL, sig[PKI_SIG_LEN];
	size_t s2len = 0, mdlen = 0;
	assert_int_equal(es10_smdp_signed2_encode(&s2, &s2der, &s2len), 0);
	/* smdpSignature2 over smdpSigned2 || 5F37 40 euiccSignature1 */
	uint8_t *tbs = malloc(s2len + 3 + PKI_SIG_LEN);
	assert_non_null(tbs);
	memcpy(tbs, s2der, s2len);
	memcpy(tbs + s2len, "\x5F\x37\x40", 3);
	memcpy(tbs + s2len + 3, N.euicc_sig1, PKI_SIG_LEN);
	assert_int_equal(pki_sign(N.sign_key, tbs, s2len + 3 + PKI_SIG_LEN, sig), 0);
	free(tbs);
	assert_int_equal(metadata_for(N.matching_id, &md, &mdlen, NULL, NULL), 0);
	json_t *r = success();
	ts_json_set_b64(r, "profileMetadata", md, mdlen);
	ts_json_set_b64(r, "smdpSigned2", s2der, s2len);
	uint8_t sdo[3 + PKI_SIG_LEN];
	es10_sig_do(sig, sdo);
	ts_json_set_b64(r, "smdpSignature2", sdo, sizeof(sdo));
	ts_json_set_b64(r, "smdpCertificate", N.sign_cert, N.sign_cert_len);
	free(s2der);
	free(md);
	ts_httpd_reply_json(req, 200, r);
}

static void
es9_get_bpp(struct evhttp_request *req, json_t *body)
{
	uint8_t *bf21 = NULL, *md = NULL, *pkg = NULL;
	size_t len = 0, mdlen = 0, pkglen = 0;
	es10_prepare_download_resp p;
	es10_euicc_signed2 e2;
	if (ts_json_b64(body, "prepareDownloadResponse", &bf21, &len) != 0 ||
	    es10_prepare_download_resp_decode(bf21, len, &p, NULL) != 0 || p.error != 0 ||
	    es10_euicc_signed2_decode(p.euicc_signed2.p, p.euicc_signed2.len, &e2) != 0) {
		free(bf21);
		ts_httpd_reply_error(req, 400, "bad_request", "getBoundProfilePackage");
		return;
	}
	free(bf21);
	eid_t eid;
	assert_int_equal(eid_parse(EID, &eid), 0);
	static const uint8_t account[] = "{\"account\":\"4711\"}";
	uint8_t *sim = NULL;
	size_t sim_len = 0;
	assert_int_equal(metadata_for(N.matching_id, &md, &mdlen, &sim, &sim_len), 0);
	assert_int_equal(bsp_package_build(e2.euicc_otpk, sizeof(e2.euicc_otpk), &eid, N.tid, 16,
	    (const uint8_t *)"tapshare-test", 13, N.sign_key, md, mdlen, sim != NULL ? sim : account,
	    sim != NULL ? sim_len : sizeof(account) - 1, &pkg, &pkglen), 0);
	free(sim);
	/* The package fetch settles the download command (docs/protocol.md §3). */
	push_cmd_settle("download", N.matching_id);
	json_t *r = success();
	ts_json_set_b64(r, "boundProfilePackage", pkg, pkglen);
	free(pkg);
	free(md);
	ts_httpd_reply_json(req, 200, r);
}

static void
stop_agent(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	N.stop_at_ms = ts_mono_ms();
	*N.stop = 1;
}

/* The app of the test whose tapshare ICCID (es10_iccid_for_app) iccid is. */
static const char *
app_of_iccid(const uint8_t iccid[ES10_ICCID_LEN])
{
	static const char *const apps[] = { "sim-watch-a", "bank-id-b" };
	eid_t eid;
	char want[ES10_ICCID_DIGITS_MAX + 1], got[ES10_ICCID_DIGITS_MAX + 1];
	if (eid_parse(EID, &eid) != 0 || es10_iccid_to_digits(iccid, got) != 0)
		return "?";
	for (size_t i = 0; i < TS_ARRAY_LEN(apps); i++)
		if (es10_iccid_for_app(&eid, apps[i], want) == 0 && strcmp(want, got) == 0)
			return apps[i];
	return "?";
}

/* handleNotification as an SM-DP+ takes it: an SGP.22 PendingNotification
 * whose eUICC signature verifies with the key of the eUICC certificate the
 * SE presented at authenticateClient (and, for OtherSignedNotification, the
 * certificate it carries has that key). */
static void
es9_notification(struct evhttp_request *req, json_t *body)
{
	uint8_t *n = NULL;
	size_t len = 0;
	es10_pending p;
	int ok = ts_json_b64(body, "pendingNotification", &n, &len) == 0 &&
	    es10_pending_decode(n, len, &p) == 0 && p.meta.has_iccid &&
	    pki_verify(N.euicc_pub, p.tbs, p.tbs_len, p.sig) == 0;
	if (ok && p.kind == ES10_PENDING_OTHER) {
		X509 *c = NULL;
		EVP_PKEY *k = NULL;
		ok = pki_cert_from_der(p.euicc_cert, p.euicc_cert_len, &c) == 0 &&
		    (k = X509_get_pubkey(c)) != NULL && EVP_PKEY_eq(k, N.euicc_pub) == 1;
		EVP_PKEY_free(k);
		X509_free(c);
	}
	struct fnotif nt;
	memset(&nt, 0, sizeof(nt));
	if (ok) {
		nt.event = p.meta.event;
		nt.seq = p.meta.seq;
		nt.success = p.kind == ES10_PENDING_INSTALL ? p.pir.success : 1;
		nt.has_key = json_object_get(body, "tapshareAppKey") != NULL;
		snprintf(nt.app_id, sizeof(nt.app_id), "%s", app_of_iccid(p.meta.iccid));
	}
	free(n);
	if (!ok) {
		N.verify_failures++;
		ts_httpd_reply_error(req, 400, "bad_notification", "handleNotification");
		return;
	}
	if (nt.event == ES10_EVENT_INSTALL && strcmp(nt.app_id, "sim-watch-a") == 0 &&
	    !N.failed_once) {
		N.failed_once = 1;
		ts_httpd_reply_error(req, 500, "internal", "try again later");
		return;
	}
	if (N.n_notifs < MAX_NOTIFS)
		N.notifs[N.n_notifs++] = nt;
	if (nt.event == ES10_EVENT_INSTALL && strcmp(nt.app_id, "sim-watch-a") == 0) {
		/* S16/S17: the primary cancels A; and a second share B arrives. */
		char d[256];
		snprintf(d, sizeof(d), "{\"share_id\":\"share-a\",\"app_id\":\"sim-watch-a\"}");
		push_cmd_add("delete", d);
		snprintf(d, sizeof(d), "{\"share_id\":\"share-b\",\"matching_id\":\"MID-B\","
		    "\"smdp_address\":\"%s\"}", N.addr);
		push_cmd_add("download", d);
	}
	if (nt.event == ES10_EVENT_DELETE)
		push_cmd_settle("delete", nt.app_id);
	if (nt.event == ES10_EVENT_DELETE && strcmp(nt.app_id, "bank-id-b") == 0) {
		struct timeval tv = { 1, 200000 };
		N.stop_ev = evtimer_new(N.base, stop_agent, NULL);
		evtimer_add(N.stop_ev, &tv);
	}
	ts_httpd_reply_json(req, 204, NULL);
}

static void
es9_cancel(struct evhttp_request *req, json_t *body)
{
	char tidhex[33];
	ts_hex_encode(N.tid, 16, tidhex, sizeof(tidhex));
	const char *t = ts_json_str(body, "transactionId");
	const char *r = ts_json_str(body, "reason");
	if (t != NULL && strcmp(t, tidhex) == 0 && r != NULL) {
		N.cancels++;
		snprintf(N.cancel_reason, sizeof(N.cancel_reason), "%s", r);
	}
	ts_httpd_reply_json(req, 204, NULL);
}

static void
on_es9(struct evhttp_request *req, void *arg)
{
	(void)arg;
	char path[128];
	json_t *body = NULL;
	const char *ap = ts_httpd_header(req, "X-Admin-Protocol");
	if (ap == NULL || strcmp(ap, "gsma/rsp/v2.5.0") != 0)
		N.bad_header++;
	if (ts_httpd_path(req, path, sizeof(path)) != 0 || ts_httpd_read_json(req, &body) < 0)
		return;
	const char *fn = path + strlen("/gsma/rsp2/es9plus/");
	if (strcmp(fn, "initiateAuthentication") == 0)
		es9_initiate(req, body);
	else if (strcmp(fn, "authenticateClient") == 0)
		es9_authenticate_client(req, body);
	else if (strcmp(fn, "getBoundProfilePackage") == 0)
		es9_get_bpp(req, body);
	else if (strcmp(fn, "handleNotification") == 0)
		es9_notification(req, body);
	else if (strcmp(fn, "cancelSession") == 0)
		es9_cancel(req, body);
	else
		ts_httpd_reply_error(req, 404, "unknown_function", "%s", fn);
	json_decref(body);
}

static void *
node_thread(void *arg)
{
	(void)arg;
	event_base_dispatch(N.base);
	return NULL;
}

static void
test_full_flow(void **state)
{
	(void)state;
	char dir[] = "/tmp/ts-companion-XXXXXX";
	char pki[128], sestate[160], sespec[200], path[200], ca[160], url[96];
	static volatile sig_atomic_t stop;

	ts_log_init("test_agent_flow", TS_LOG_INFO);
	assert_non_null(mkdtemp(dir));
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	static const char *const eids[] = { EID };
	assert_int_equal(pki_testpki_generate(pki, "89049032", eids, 1), 0);
	snprintf(sestate, sizeof(sestate), "%s/se.state", dir);
	assert_int_equal(se_card_init_state(sestate, pki, EID), 0);
	snprintf(sespec, sizeof(sespec), "inproc:%s", sestate);
	snprintf(ca, sizeof(ca), "%s/node-ca.crt", pki);

	memset(&N, 0, sizeof(N));
	N.stop = &stop;
	snprintf(N.link_spec, sizeof(N.link_spec), "sim:%s/link.sock", dir);
	snprintf(path, sizeof(path), "%s/dppb.key", pki);
	assert_int_equal(pki_key_load(path, &N.sign_key), 0);
	X509 *cert = NULL;
	snprintf(path, sizeof(path), "%s/dppb.crt", pki);
	assert_int_equal(pki_cert_load(path, &cert), 0);
	assert_int_equal(pki_cert_to_der(cert, &N.sign_cert, &N.sign_cert_len), 0);
	X509_free(cert);
	snprintf(path, sizeof(path), "%s/dpauth.key", pki);
	assert_int_equal(pki_key_load(path, &N.auth_key), 0);
	snprintf(path, sizeof(path), "%s/dpauth.crt", pki);
	assert_int_equal(pki_cert_load(path, &cert), 0);
	assert_int_equal(pki_cert_to_der(cert, &N.auth_cert, &N.auth_cert_len), 0);
	X509_free(cert);
	snprintf(path, sizeof(path), "%s/euicc-%s.crt", pki, EID);
	assert_int_equal(pki_cert_load(path, &cert), 0);
	N.euicc_pub = X509_get_pubkey(cert);
	X509_free(cert);
	assert_non_null(N.euicc_pub);

	assert_int_equal(evthread_use_pthreads(), 0);
	N.base = event_base_new();
	assert_non_null(N.base);
	char tlscrt[160], tlskey[160];
	snprintf(tlscrt, sizeof(tlscrt), "%s/node-tls.crt", pki);
	snprintf(tlskey, sizeof(tlskey), "%s/node-tls.key", pki);
	ts_httpd_opts ho = { .addr = "127.0.0.1", .port = 0, .cert_file = tlscrt,
		.key_file = tlskey };
	assert_int_equal(ts_httpd_new(N.base, &ho, &N.httpd), 0);
	assert_int_equal(ts_httpd_route(N.httpd, "GET", "/v1/companion/events", on_events, NULL), 0);
	assert_int_equal(ts_httpd_route(N.httpd, "POST", "/gsma/rsp2/es9plus/*", on_es9, NULL), 0);
	assert_int_equal(ts_httpd_route(N.httpd, "POST", "/v1/companion/stream/initiate", on_stream_initiate, NULL), 0);
	assert_int_equal(ts_httpd_route(N.httpd, "POST", "/v1/companion/stream/authenticate", on_stream_authenticate,
	    NULL), 0);
	snprintf(N.addr, sizeof(N.addr), "127.0.0.1:%u", (unsigned)ts_httpd_port(N.httpd));
	snprintf(url, sizeof(url), "https://%s", N.addr);
	char d[256];
	snprintf(d, sizeof(d), "{\"share_id\":\"share-a\",\"matching_id\":\"MID-A\","
	    "\"smdp_address\":\"%s\"}", N.addr);
	push_cmd_add("download", d);
	/* An event the agent does not know must be skipped, not break the stream. */
	push_cmd_add("firmware", "{\"x\":1}");

	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, node_thread, NULL), 0);

	agent_opts o = { .node_url = url, .ca_file = ca, .se_spec = sespec,
		.link_spec = N.link_spec, .name = "Test Watch", .model = "W-1" };
	char why[256] = "";
	int64_t t0 = ts_mono_ms();
	int rc = agent_run(&o, &stop, why, sizeof(why));
	int64_t t_end = ts_mono_ms();

	/* The base was made thread-aware (evthread_use_pthreads), so this wakes
	 * the node's loop from here. */
	struct timeval grace = { 0, 300000 }; /* let it see the agent's last close */
	event_base_loopexit(N.base, &grace);
	pthread_join(th, NULL);

	assert_int_equal(rc, 0);
	assert_int_equal(N.link_checked, 1);
	/* the SE earned the stream token once; it served every reconnect */
	assert_int_equal(N.stream_auths, 1);
	assert_int_equal(N.unauthorised_streams, 0);
	assert_int_equal(N.bad_header, 0);
	assert_int_equal(N.verify_failures, 0);
	assert_int_equal(N.failed_once, 1);
	assert_int_equal(N.refused_auth, 1);
	assert_int_equal(N.cancels, 1);
	assert_string_equal(N.cancel_reason, "undefinedReason");
	/* install A (re-sent after the 500), disable + delete A (SGP.22 deletes
	 * only a disabled profile), install B (a bank-ID app: installed
	 * disabled, its key sent along), delete B (expiry), in sequence order. */
	static const struct { uint32_t ev; const char *app; } want[] = {
		{ ES10_EVENT_INSTALL, "sim-watch-a" }, { ES10_EVENT_DISABLE, "sim-watch-a" },
		{ ES10_EVENT_DELETE, "sim-watch-a" }, { ES10_EVENT_INSTALL, "bank-id-b" },
		{ ES10_EVENT_DELETE, "bank-id-b" },
	};
	assert_int_equal(N.n_notifs, TS_ARRAY_LEN(want));
	for (size_t i = 0; i < TS_ARRAY_LEN(want); i++) {
		assert_int_equal(N.notifs[i].event, want[i].ev);
		assert_string_equal(N.notifs[i].app_id, want[i].app);
		assert_int_equal(N.notifs[i].success, 1);
		if (i > 0)
			assert_true(N.notifs[i].seq > N.notifs[i - 1].seq);
		assert_int_equal(N.notifs[i].has_key, i == 3);
	}
	/* The stop request was honoured within about a second. */
	assert_true(N.stop_at_ms > 0);
	assert_true(t_end - N.stop_at_ms < 1800);
	assert_true(t_end - t0 < 60000);

	/* The SE is empty and holds no undelivered notification. */
	se_driver *se = NULL;
	assert_int_equal(se_driver_open(sespec, &se), 0);
	se_app apps[4];
	size_t n = 99;
	assert_int_equal(se_list_apps(se, apps, 4, &n), 0);
	assert_int_equal(n, 0);
	uint8_t **notifs = NULL;
	size_t *lens = NULL;
	assert_int_equal(se_pending_notifications(se, &notifs, &lens, &n), 0);
	assert_int_equal(n, 0);
	free(notifs);
	free(lens);
	se_driver_free(se);

	if (N.stop_ev != NULL)
		event_free(N.stop_ev);
	ts_httpd_free(N.httpd);
	event_base_free(N.base);
	EVP_PKEY_free(N.sign_key);
	EVP_PKEY_free(N.auth_key);
	free(N.auth_cert);
	EVP_PKEY_free(N.euicc_pub);
	free(N.sign_cert);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_flow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
