/*
 * api_primary.c — the primary device's API (docs/protocol.md §2): enrollment,
 * session tokens, the app list (S2), shares (S4 -> S11/S12 -> S5), the share
 * list, cancel (S7/S8 -> S16) and the event stream (S5/S6).
 *
 * Devices are identified by the SHA-256 of the public key in their verified
 * client certificate (issued by the node CA at enrollment), never by a CN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/eid.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/ossl.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/enroll.h"
#include "node/node.h"

#define IDEM_KEY_MAX 128

void
api_reply_busy(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
	ts_httpd_reply_error(req, 503, "store_busy", "the database is busy; retry in a moment");
}

/* Authenticates the device by its client certificate. Replies on failure. */
static int
auth_device(node *n, struct evhttp_request *req, char device_id[65], int64_t *user_id)
{
	if (ts_httpd_peer_id(req, device_id) != 0) {
		ts_httpd_reply_error(req, 401, "client_certificate_required",
		    "this request needs the device's client certificate (enroll first)");
		return TS_EAUTH;
	}
	int rc = n->st->ops->device_user(n->st, device_id, user_id);
	if (rc == TS_EDENIED) {
		ts_httpd_reply_error(req, 403, "device_revoked", "device %.16s… was revoked", device_id);
		return TS_EAUTH;
	}
	if (rc == TS_ENOTFOUND) {
		ts_httpd_reply_error(req, 403, "unknown_device", "device %.16s… is not enrolled", device_id);
		return TS_EAUTH;
	}
	if (rc != 0) {
		/* the store could not answer (busy, timed out): not a verdict on
		 * the device, so not a 403 the client would take as final */
		api_reply_busy(req);
		return rc;
	}
	return 0;
}

/* Device + user authorisation (Bearer token bound to this device). */
static int
auth_user(node *n, struct evhttp_request *req, char device_id[65], int64_t *user_id)
{
	int rc = auth_device(n, req, device_id, user_id);
	if (rc != 0)
		return rc;
	const char *h = ts_httpd_header(req, "Authorization");
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0) {
		ts_httpd_reply_error(req, 401, "authorization_required",
		    "this request needs the user's authorisation: POST /v1/session with the passphrase first");
		return TS_EAUTH;
	}
	char th[65];
	secret_hash(h + 7, th);
	int64_t tok_user;
	rc = n->st->ops->token_check(n->st, th, device_id, ts_now(), &tok_user);
	if (rc != 0 && rc != TS_EAUTH) { /* TS_EAUTH: no such live token */
		api_reply_busy(req); /* not "unknown or expired": the client keeps its token */
		return rc;
	}
	if (rc != 0 || tok_user != *user_id) {
		ts_httpd_reply_error(req, 401, "bad_token", "the session token is unknown or expired");
		return TS_EAUTH;
	}
	return 0;
}

static void
request_hash(struct evhttp_request *req, const char *path, const char *body, char out[65])
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	unsigned int dl = 0;
	const char *m = evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST " : "GET ";
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, ts_ossl_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, m, strlen(m)) != 1 || EVP_DigestUpdate(c, path, strlen(path)) != 1 ||
	    EVP_DigestUpdate(c, "\n", 1) != 1 || EVP_DigestUpdate(c, body, strlen(body)) != 1 ||
	    EVP_DigestFinal_ex(c, d, &dl) != 1)
		memset(d, 0, sizeof(d));
	EVP_MD_CTX_free(c);
	ts_hex_encode(d, sizeof(d), out, 65);
}

/* Reads the Idempotency-Key header and hashes the request into idem (the
 * service looks the record up inside its transaction). 0, or < 0 after
 * replying with an error. */
static int
idempotency(struct evhttp_request *req, const char *device_id, const char *path, json_t *body,
    char key[IDEM_KEY_MAX + 1], char hash[65], int status, share_idem *idem)
{
	const char *k = ts_httpd_header(req, "Idempotency-Key");
	if (k == NULL || k[0] == '\0' || strlen(k) > IDEM_KEY_MAX) {
		ts_httpd_reply_error(req, 400, "idempotency_key_required",
		    "send a unique Idempotency-Key header (1..%d characters) with this request", IDEM_KEY_MAX);
		return -1;
	}
	snprintf(key, IDEM_KEY_MAX + 1, "%s", k);
	char *txt = ts_json_dump_sorted(body);
	request_hash(req, path, txt ? txt : "", hash);
	free(txt);
	memset(idem, 0, sizeof(*idem));
	idem->device_id = device_id;
	idem->key = key;
	idem->req_hash = hash;
	idem->status = status;
	return 0;
}

/* HTTP status of each refusal code the services give. */
static const struct {
	const char *code;
	int status;
} refusal_status[] = {
	{ "eid_format", 400 }, { "eid_check_digits", 400 }, { "unknown_manufacturer", 400 },
	{ "bad_operation", 400 }, { "bad_duration", 400 }, { "bad_offer", 400 }, { "offer_expired", 400 },
	{ "unknown_app", 404 }, { "unknown_share", 404 },
	{ "app_not_owned", 403 }, { "not_shareable", 403 }, { "offer_untrusted", 403 },
	{ "offer_signature", 403 }, { "unknown_device", 403 }, { "offer_unbound", 400 }, { "offer_other_eid", 403 },
	{ "companion_not_yours", 403 },
	{ "app_moved", 409 }, { "not_cancellable", 409 }, { "move_incomplete", 409 },
	{ "idempotency_conflict", 409 }, { "offer_replayed", 409 },
	{ "bad_enrollment_code", 403 }, { "device_exists", 409 },
	{ "store_busy", 503 },
};

int
api_status(const share_why *why, int rc)
{
	if (rc == TS_ETIMEOUT)
		return 503;
	for (size_t i = 0; i < TS_ARRAY_LEN(refusal_status); i++)
		if (strcmp(why->code, refusal_status[i].code) == 0)
			return refusal_status[i].status;
	return 500;
}

void
api_reply_refusal(struct evhttp_request *req, const share_why *why, int rc)
{
	int status = api_status(why, rc);
	if (status == 503) {
		api_reply_busy(req);
		return;
	}
	ts_httpd_reply_error(req, status, why->code[0] ? why->code : "store_error", "%s",
	    why->msg[0] ? why->msg : ts_strerror(rc));
}

/* Answers a successful (or replayed) service call from idem. */
static void
reply_idem(struct evhttp_request *req, share_idem *idem)
{
	/* the recorded text as it was stored (idem_record dumped it) */
	ts_httpd_reply_json_text(req, idem->status, idem->response);
	free(idem->response);
	idem->response = NULL;
}

static void
h_enroll(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *code = ts_json_str(body, "code"), *csr = ts_json_str(body, "csr");
	const char *name = ts_json_str(body, "name");
	X509_REQ *xr = NULL;
	char *pem = NULL, *capem = NULL;
	if (code == NULL || csr == NULL) {
		ts_httpd_reply_error(req, 400, "bad_request", "enroll needs \"code\" and \"csr\"");
		goto done;
	}
	if (name == NULL || name[0] == '\0' || strlen(name) > 64)
		name = "primary device";
	if (pki_csr_from_pem(csr, strlen(csr), &xr) != 0) {
		ts_httpd_reply_error(req, 400, "bad_csr", "the CSR is not a valid self-signed P-256 request");
		goto done;
	}
	int64_t user_id;
	char device_id[65];
	share_why why = { "", "" };
	store *st = n->st;
	int rc = enroll_device(st, n->ca, n->ca_pkey, code, xr, name, device_id, &pem, &user_id, &why);
	if (rc != 0) {
		api_reply_refusal(req, &why, rc);
		goto done;
	}
	if (pki_cert_to_pem(n->ca, &capem) != 0) {
		ts_httpd_reply_error(req, 500, "issue_failed", "could not encode the node CA certificate");
		goto done;
	}
	char uname[STORE_STR_MAX] = "";
	st->ops->user_get(st, user_id, uname, sizeof(uname), NULL, 0);
	log_info("enrolled device %.16s… (%s) for user %s", device_id, name, uname);
	ts_httpd_reply_json(req, 201, json_pack("{s:s,s:s,s:s,s:s}", "device_id", device_id, "certificate", pem,
	    "ca", capem, "user", uname));
done:
	X509_REQ_free(xr);
	free(pem);
	free(capem);
	json_decref(body);
}

static void
h_session(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65];
	int64_t user_id;
	if (auth_device(n, req, device_id, &user_id) != 0)
		return;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *pass = ts_json_str(body, "passphrase");
	if (pass == NULL)
		ts_httpd_reply_error(req, 400, "bad_request", "session needs \"passphrase\"");
	else
		auth_login(n, req, device_id, user_id, pass); /* replies later, from the loop */
	json_decref(body);
}

static void
h_apps(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65];
	int64_t user_id;
	if (auth_device(n, req, device_id, &user_id) != 0)
		return;
	json_t *apps = NULL;
	if (n->st->ops->apps_json(n->st, user_id, &apps) != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "cannot list apps");
		return;
	}
	ts_httpd_reply_json(req, 200, json_pack("{s:o}", "apps", apps));
}

static void
h_share_create(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65];
	int64_t user_id;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	char key[IDEM_KEY_MAX + 1], hash[65];
	share_idem idem;
	if (idempotency(req, device_id, "/v1/shares", body, key, hash, 201, &idem) != 0)
		goto done;
	share_req r = { .user_id = user_id, .device_id = device_id, .eid = ts_json_str(body, "eid"),
		.app_id = ts_json_str(body, "app_id"), .operation = ts_json_str(body, "operation"),
		.cc_hash = ts_json_str(body, "confirmation_code_hash") };
	json_t *dur = json_object_get(body, "duration_s");
	if (r.eid == NULL || r.app_id == NULL) {
		ts_httpd_reply_error(req, 400, "bad_request", "share needs \"eid\" and \"app_id\"");
		goto done;
	}
	if (dur != NULL && !json_is_integer(dur)) {
		ts_httpd_reply_error(req, 400, "bad_duration", "duration_s must be a number of seconds");
		goto done;
	}
	r.duration_s = dur ? (int64_t)json_integer_value(dur) : 0;
	store_share sh;
	share_why why = { "", "" };
	int rc = share_request(&n->svc, n->st, &r, &idem, &sh, &why);
	if (rc != 0)
		api_reply_refusal(req, &why, rc);
	else
		reply_idem(req, &idem);
done:
	json_decref(body);
}

static void
h_shares_list(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65];
	int64_t user_id;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	json_t *arr = NULL;
	if (n->st->ops->shares_json(n->st, user_id, &arr) != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "cannot list shares");
		return;
	}
	ts_httpd_reply_json(req, 200, json_pack("{s:o}", "shares", arr));
}

/* /v1/shares/{id} and /v1/shares/{id}/cancel */
static int
share_path(struct evhttp_request *req, char id[STORE_ID_MAX], int *cancel)
{
	char path[256];
	if (ts_httpd_path(req, path, sizeof(path)) != 0)
		return TS_EINVAL;
	const char *p = path + strlen("/v1/shares/");
	const char *slash = strchr(p, '/');
	size_t len = slash ? (size_t)(slash - p) : strlen(p);
	if (len == 0 || len >= STORE_ID_MAX)
		return TS_EINVAL;
	memcpy(id, p, len);
	id[len] = '\0';
	*cancel = slash != NULL && strcmp(slash, "/cancel") == 0;
	if (slash != NULL && !*cancel)
		return TS_EINVAL;
	return 0;
}

static void
h_share_get(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65], id[STORE_ID_MAX];
	int64_t user_id;
	int cancel;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	store_share sh;
	int rc = share_path(req, id, &cancel) != 0 || cancel ? TS_ENOTFOUND : share_get_owned(n->st, user_id, id, &sh);
	if (rc == TS_ENOTFOUND) {
		ts_httpd_reply_error(req, 404, "unknown_share", "no such share");
		return;
	}
	if (rc != 0) {
		api_reply_busy(req);
		return;
	}
	ts_httpd_reply_json(req, 200, store_share_json(&sh));
}

static void
h_share_cancel(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65], id[STORE_ID_MAX];
	int64_t user_id;
	int cancel;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	if (share_path(req, id, &cancel) != 0 || !cancel) {
		ts_httpd_reply_error(req, 404, "unknown_share", "no such share");
		goto done;
	}
	char key[IDEM_KEY_MAX + 1], hash[65], path[128];
	share_idem idem;
	snprintf(path, sizeof(path), "/v1/shares/%s/cancel", id);
	if (idempotency(req, device_id, path, body, key, hash, 202, &idem) != 0)
		goto done;
	store_share sh;
	share_why why = { "", "" };
	int rc = share_cancel(&n->svc, n->st, user_id, id, &idem, &sh, &why);
	if (rc != 0)
		api_reply_refusal(req, &why, rc);
	else
		reply_idem(req, &idem);
done:
	json_decref(body);
}

/*
 * POST /v1/apps/{app_id}/release {"share_id"} — the last step of a move
 * (issue 3): share_release() releases the original once the share of this app
 * reached `installed`. The primary then deletes the original from its own SE.
 */
static void
h_app_release(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65], path[256], app_id[STORE_STR_MAX];
	int64_t user_id;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *share_id = ts_json_str(body, "share_id");
	const char *p = NULL, *slash = NULL;
	if (ts_httpd_path(req, path, sizeof(path)) == 0) {
		p = path + strlen("/v1/apps/");
		slash = strchr(p, '/');
	}
	if (p == NULL || slash == NULL || strcmp(slash, "/release") != 0 || slash == p ||
	    (size_t)(slash - p) >= sizeof(app_id) || share_id == NULL) {
		ts_httpd_reply_error(req, 400, "bad_request", "POST /v1/apps/{app_id}/release with {\"share_id\"}");
		goto done;
	}
	memcpy(app_id, p, (size_t)(slash - p));
	app_id[slash - p] = '\0';
	char key[IDEM_KEY_MAX + 1], hash[65];
	share_idem idem;
	if (idempotency(req, device_id, path, body, key, hash, 200, &idem) != 0)
		goto done;
	share_why why = { "", "" };
	int rc = share_release(&n->svc, n->st, user_id, app_id, share_id, &idem, &why);
	if (rc != 0)
		api_reply_refusal(req, &why, rc);
	else
		reply_idem(req, &idem);
done:
	json_decref(body);
}

static void
h_events(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65];
	int64_t user_id;
	if (auth_device(n, req, device_id, &user_id) != 0)
		return;
	char share[STORE_ID_MAX], after_s[32];
	int has_share = ts_httpd_query(req, "share", share, sizeof(share)) == 0;
	long long after = -1; /* neither Last-Event-ID nor ?after: from now */
	const char *lei = ts_httpd_header(req, "Last-Event-ID");
	if (lei != NULL && ts_parse_ll(lei, 0, INT64_MAX, &after) != 0) {
		ts_httpd_reply_error(req, 400, "bad_last_event_id", "Last-Event-ID must be a number");
		return;
	}
	if (lei == NULL && ts_httpd_query(req, "after", after_s, sizeof(after_s)) == 0 &&
	    ts_parse_ll(after_s, 0, INT64_MAX, &after) != 0) {
		ts_httpd_reply_error(req, 400, "bad_after", "after must be a number");
		return;
	}
	if (has_share) {
		store_share sh;
		int rc = share_get_owned(n->st, user_id, share, &sh);
		if (rc == TS_ENOTFOUND) {
			ts_httpd_reply_error(req, 404, "unknown_share", "no such share");
			return;
		}
		if (rc != 0) {
			api_reply_busy(req);
			return;
		}
	}
	push_subscribe_primary(n, req, user_id, device_id, has_share ? share : NULL, (int64_t)after);
}

/* GET /v1/devices — the user's devices (a stolen phone is found here). */
static void
h_devices(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65];
	int64_t user_id;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	json_t *arr = NULL;
	if (n->st->ops->devices_json(n->st, user_id, &arr) != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "cannot list devices");
		return;
	}
	ts_httpd_reply_json(req, 200, json_pack("{s:o,s:s}", "devices", arr, "this_device", device_id));
}

/* POST /v1/devices/{device_id|self}/revoke — any of the user's devices,
 * this one included; refused at once everywhere, open streams end. */
static void
h_device_revoke(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char device_id[65], path[256], target[65];
	int64_t user_id;
	if (auth_user(n, req, device_id, &user_id) != 0)
		return;
	const char *p = NULL, *slash = NULL;
	if (ts_httpd_path(req, path, sizeof(path)) == 0) {
		p = path + strlen("/v1/devices/");
		slash = strchr(p, '/');
	}
	if (p == NULL || slash == NULL || strcmp(slash, "/revoke") != 0 || slash == p ||
	    (size_t)(slash - p) >= sizeof(target)) {
		ts_httpd_reply_error(req, 400, "bad_request", "POST /v1/devices/{device_id|self}/revoke");
		return;
	}
	memcpy(target, p, (size_t)(slash - p));
	target[slash - p] = '\0';
	if (strcmp(target, "self") == 0)
		snprintf(target, sizeof(target), "%s", device_id);
	int rc = auth_revoke_device(n->st, user_id, target, NULL);
	if (rc == TS_ENOTFOUND) {
		ts_httpd_reply_error(req, 404, "unknown_device", "no device %.16s… of this user", target);
		return;
	}
	if (rc == TS_ESTATE) {
		ts_httpd_reply_error(req, 409, "device_revoked", "device %.16s… is already revoked", target);
		return;
	}
	if (rc != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "cannot record the revocation");
		return;
	}
	push_device_revoked(n);
	ts_httpd_reply_json(req, 200, json_pack("{s:s,s:s}", "device_id", target, "state", "revoked"));
}

void
api_primary_routes(node *n)
{
	ts_httpd_route(n->httpd, "POST", "/v1/enroll", h_enroll, n);
	ts_httpd_route(n->httpd, "POST", "/v1/session", h_session, n);
	ts_httpd_route(n->httpd, "GET", "/v1/apps", h_apps, n);
	ts_httpd_route(n->httpd, "POST", "/v1/apps/*", h_app_release, n);
	ts_httpd_route(n->httpd, "POST", "/v1/shares", h_share_create, n);
	ts_httpd_route(n->httpd, "GET", "/v1/shares", h_shares_list, n);
	ts_httpd_route(n->httpd, "GET", "/v1/shares/*", h_share_get, n);
	ts_httpd_route(n->httpd, "POST", "/v1/shares/*", h_share_cancel, n);
	ts_httpd_route(n->httpd, "GET", "/v1/events", h_events, n);
	ts_httpd_route(n->httpd, "GET", "/v1/devices", h_devices, n);
	ts_httpd_route(n->httpd, "POST", "/v1/devices/*", h_device_revoke, n);
}
