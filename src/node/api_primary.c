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
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define IDEM_KEY_MAX 128

/* Authenticates the device by its client certificate. Replies on failure. */
static int
auth_device(node *n, struct evhttp_request *req, char device_id[65], int64_t *user_id)
{
	if (ts_httpd_peer_id(req, device_id) != 0) {
		ts_httpd_reply_error(req, 401, "client_certificate_required",
		    "this request needs the device's client certificate (enroll first)");
		return TS_EAUTH;
	}
	if (n->st->ops->device_user(n->st, device_id, user_id) != 0) {
		ts_httpd_reply_error(req, 403, "unknown_device", "device %.16s… is not enrolled", device_id);
		return TS_EAUTH;
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
	if (n->st->ops->token_check(n->st, th, device_id, ts_now(), &tok_user) != 0 || tok_user != *user_id) {
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
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, m, strlen(m)) != 1 || EVP_DigestUpdate(c, path, strlen(path)) != 1 ||
	    EVP_DigestUpdate(c, "\n", 1) != 1 || EVP_DigestUpdate(c, body, strlen(body)) != 1 ||
	    EVP_DigestFinal_ex(c, d, &dl) != 1)
		memset(d, 0, sizeof(d));
	EVP_MD_CTX_free(c);
	ts_hex_encode(d, sizeof(d), out, 65);
}

/* Returns 1 if the request was answered from the idempotency record, 0 to
 * go on (key and hash filled in), < 0 after replying with an error. */
static int
idempotency(node *n, struct evhttp_request *req, const char *device_id, const char *path, json_t *body,
    char key[IDEM_KEY_MAX + 1], char hash[65])
{
	const char *k = ts_httpd_header(req, "Idempotency-Key");
	if (k == NULL || k[0] == '\0' || strlen(k) > IDEM_KEY_MAX) {
		ts_httpd_reply_error(req, 400, "idempotency_key_required",
		    "send a unique Idempotency-Key header (1..%d characters) with this request", IDEM_KEY_MAX);
		return -1;
	}
	snprintf(key, IDEM_KEY_MAX + 1, "%s", k);
	char *txt = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	request_hash(req, path, txt ? txt : "", hash);
	free(txt);
	char stored_hash[65];
	int status;
	char *resp = NULL;
	int rc = n->st->ops->idem_get(n->st, device_id, key, stored_hash, sizeof(stored_hash), &status, &resp);
	if (rc == TS_ENOTFOUND)
		return 0;
	if (rc != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "cannot read the idempotency record");
		return -1;
	}
	if (strcmp(stored_hash, hash) != 0) {
		free(resp);
		ts_httpd_reply_error(req, 409, "idempotency_conflict",
		    "this Idempotency-Key was already used for a different request");
		return -1;
	}
	json_t *j = json_loads(resp, 0, NULL);
	free(resp);
	log_info("replayed request (Idempotency-Key %s) answered from the record; nothing changed", key);
	ts_httpd_reply_json(req, status, j);
	return 1;
}

int
api_check_eid(node *n, struct evhttp_request *req, const char *eid_s, eid_t *eid)
{
	int rc = eid_parse(eid_s, eid);
	if (rc == TS_EEIDFMT) {
		ts_httpd_reply_error(req, 400, "eid_format", "EID \"%.40s\" is not 32 decimal digits", eid_s);
		return rc;
	}
	if (rc != 0) {
		char cd[3] = "??", first30[31];
		snprintf(first30, sizeof(first30), "%.30s", eid_s);
		eid_check_digits(first30, cd);
		ts_httpd_reply_error(req, 400, "eid_check_digits",
		    "EID %s fails the ISO 7064 MOD 97-10 check: the last two digits should be %s",
		    eid_s, cd);
		return rc;
	}
	if (!pki_ein_allowed(n->ein_prefixes, eid)) {
		ts_httpd_reply_error(req, 400, "unknown_manufacturer",
		    "EID %s has no known manufacturer: no trusted EUM permits its prefix (trusted: %s)",
		    eid->digits, n->ein_prefixes);
		return TS_EDENIED;
	}
	return 0;
}

int
api_check_app(node *n, struct evhttp_request *req, const char *app_id, int64_t user_id, store_app *app)
{
	if (n->st->ops->app_get(n->st, app_id, app) != 0) {
		ts_httpd_reply_error(req, 404, "unknown_app", "no security application \"%.64s\"", app_id);
		return TS_ENOTFOUND;
	}
	if (app->user_id != user_id) {
		ts_httpd_reply_error(req, 403, "app_not_owned",
		    "application \"%s\" does not belong to this device's user", app_id);
		return TS_EAUTH;
	}
	if (!app->shareable) {
		ts_httpd_reply_error(req, 403, "not_shareable", "application \"%s\" may not be shared", app_id);
		return TS_EDENIED;
	}
	if (app->released_share[0] != '\0') {
		ts_httpd_reply_error(req, 409, "app_moved", "application \"%s\" was moved away (share %s)", app_id,
		    app->released_share);
		return TS_ESTATE;
	}
	return 0;
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
	X509 *cert = NULL;
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
	char ch[65];
	secret_hash(code, ch);
	int64_t user_id;
	store *st = n->st;
	if (st->ops->begin(st) != 0) {
		ts_httpd_reply_error(req, 500, "store_error", "database busy");
		goto done;
	}
	int rc = st->ops->enroll_code_use(st, ch, ts_now(), &user_id);
	if (rc != 0) {
		st->ops->rollback(st);
		ts_httpd_reply_error(req, 403, "bad_enrollment_code", "the enrollment code is %s",
		    rc == TS_ESTATE ? "already used" : rc == TS_EEXPIRED ? "expired" : "unknown");
		goto done;
	}
	pki_issue_opts o = { .profile = PKI_PROFILE_TLS_CLIENT, .cn = name, .org = "tapshare device", .days = 825 };
	char device_id[65];
	if (pki_issue_csr(n->ca, n->ca_pkey, xr, &o, &cert) != 0 || pki_cert_pubkey_id(cert, device_id) != 0 ||
	    pki_cert_to_pem(cert, &pem) != 0 || pki_cert_to_pem(n->ca, &capem) != 0) {
		st->ops->rollback(st);
		ts_httpd_reply_error(req, 500, "issue_failed", "could not issue the device certificate");
		goto done;
	}
	if ((rc = st->ops->device_add(st, device_id, user_id, name)) != 0 || (rc = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		ts_httpd_reply_error(req, rc == TS_EEXIST ? 409 : 500, "device_exists",
		    "a device with this key is already enrolled");
		goto done;
	}
	char uname[STORE_STR_MAX] = "";
	st->ops->user_get(st, user_id, uname, sizeof(uname), NULL, 0);
	log_info("enrolled device %.16s… (%s) for user %s", device_id, name, uname);
	ts_httpd_reply_json(req, 201, json_pack("{s:s,s:s,s:s,s:s}", "device_id", device_id, "certificate", pem,
	    "ca", capem, "user", uname));
done:
	X509_REQ_free(xr);
	X509_free(cert);
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
	if (idempotency(n, req, device_id, "/v1/shares", body, key, hash) != 0)
		goto done;
	const char *eid_s = ts_json_str(body, "eid"), *app_id = ts_json_str(body, "app_id");
	json_t *dur = json_object_get(body, "duration_s");
	if (eid_s == NULL || app_id == NULL) {
		ts_httpd_reply_error(req, 400, "bad_request", "share needs \"eid\" and \"app_id\"");
		goto done;
	}
	log_info("S11 share request from device %.16s…: EID %.40s, app %.64s", device_id, eid_s, app_id);
	eid_t eid;
	int rc;
	if (api_check_eid(n, req, eid_s, &eid) != 0)
		goto done;
	store_app app;
	if (api_check_app(n, req, app_id, user_id, &app) != 0)
		goto done;
	const char *op = ts_json_str(body, "operation");
	if (op == NULL)
		op = "share";
	if (strcmp(op, "share") != 0 && strcmp(op, "move") != 0) {
		ts_httpd_reply_error(req, 400, "bad_operation", "operation must be \"share\" or \"move\"");
		goto done;
	}
	json_int_t d = 0;
	if (dur != NULL) {
		if (!json_is_integer(dur) || json_integer_value(dur) < 0 ||
		    json_integer_value(dur) > NODE_MAX_DURATION_S) {
			ts_httpd_reply_error(req, 400, "bad_duration", "duration_s must be 0..%lld seconds",
			    (long long)NODE_MAX_DURATION_S);
			goto done;
		}
		d = json_integer_value(dur);
	}
	store_share sh;
	memset(&sh, 0, sizeof(sh));
	if (ts_random_id(sh.id) != 0) {
		ts_httpd_reply_error(req, 500, "random_failed", "no randomness");
		goto done;
	}
	sh.user_id = user_id;
	snprintf(sh.device_id, sizeof(sh.device_id), "%s", device_id);
	snprintf(sh.eid, sizeof(sh.eid), "%s", eid.digits);
	snprintf(sh.app_id, sizeof(sh.app_id), "%s", app.app_id);
	snprintf(sh.provider, sizeof(sh.provider), "%s", app.provider);
	sh.duration_s = d;
	snprintf(sh.operation, sizeof(sh.operation), "%s", op);
	sh.created_at = sh.updated_at = ts_now();
	snprintf(sh.state, sizeof(sh.state), "eid_confirmed");
	json_t *resp = store_share_json(&sh);
	json_object_set_new(resp, "confirmation", json_string("EID received and correct"));
	char *resptxt = json_dumps(resp, JSON_COMPACT);
	if (resptxt == NULL || (rc = share_create(n, n->st, &sh)) != 0) {
		free(resptxt);
		json_decref(resp);
		ts_httpd_reply_error(req, 500, "store_error", "cannot record the share");
		goto done;
	}
	if ((rc = n->st->ops->idem_put(n->st, device_id, key, hash, 201, resptxt)) != 0 ||
	    (rc = n->st->ops->commit(n->st)) != 0) {
		n->st->ops->rollback(n->st);
		free(resptxt);
		json_decref(resp);
		ts_httpd_reply_error(req, 500, "store_error", "cannot record the share");
		goto done;
	}
	free(resptxt);
	log_info("S12 first confirmation for share %s: EID %s received and correct", sh.id, sh.eid);
	node_crash_point(n, "S12");
	outbox_kick(n);
	push_kick(n);
	ts_httpd_reply_json(req, 201, resp);
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
	if (share_path(req, id, &cancel) != 0 || cancel || n->st->ops->share_get(n->st, id, &sh) != 0 ||
	    sh.user_id != user_id) {
		ts_httpd_reply_error(req, 404, "unknown_share", "no such share");
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
	store_share sh;
	if (share_path(req, id, &cancel) != 0 || !cancel || n->st->ops->share_get(n->st, id, &sh) != 0 ||
	    sh.user_id != user_id) {
		ts_httpd_reply_error(req, 404, "unknown_share", "no such share");
		goto done;
	}
	char key[IDEM_KEY_MAX + 1], hash[65], path[128];
	snprintf(path, sizeof(path), "/v1/shares/%s/cancel", id);
	if (idempotency(n, req, device_id, path, body, key, hash) != 0)
		goto done;
	log_info("S16 cancel requested for share %s by device %.16s…", id, device_id);
	int rc = share_cancel(n, n->st, id, &sh);
	if (rc == TS_ESTATE) {
		ts_httpd_reply_error(req, 409, "not_cancellable", "share %s is %s and cannot be cancelled", id,
		    sh.state);
		goto done;
	}
	json_t *resp = store_share_json(&sh);
	char *txt = json_dumps(resp, JSON_COMPACT);
	if (rc != 0 || txt == NULL || (rc = n->st->ops->idem_put(n->st, device_id, key, hash, 202, txt)) != 0 ||
	    (rc = n->st->ops->commit(n->st)) != 0) {
		if (rc != 0)
			n->st->ops->rollback(n->st);
		free(txt);
		json_decref(resp);
		ts_httpd_reply_error(req, 500, "store_error", "cannot record the cancellation");
		goto done;
	}
	free(txt);
	log_info("S16 share %s: grant revoked, provider to be told, state %s", id, sh.state);
	outbox_kick(n);
	push_kick(n);
	ts_httpd_reply_json(req, 202, resp);
done:
	json_decref(body);
}

/*
 * POST /v1/apps/{app_id}/release {"share_id"} — the last step of a move
 * (issue 3): only after the share of this app reached `installed` (second
 * confirmation), the original is released: the node records it and tells the
 * provider (cancelOrder for the original, through the outbox), in one
 * transaction. The primary then deletes the original from its own SE.
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
	if (idempotency(n, req, device_id, path, body, key, hash) != 0)
		goto done;
	store_app app;
	store_share sh;
	if (n->st->ops->app_get(n->st, app_id, &app) != 0 || app.user_id != user_id) {
		ts_httpd_reply_error(req, 404, "unknown_app", "no application \"%s\" held by this user", app_id);
		goto done;
	}
	if (n->st->ops->share_get(n->st, share_id, &sh) != 0 || sh.user_id != user_id ||
	    strcmp(sh.app_id, app_id) != 0) {
		ts_httpd_reply_error(req, 404, "unknown_share", "no share %s of \"%s\"", share_id, app_id);
		goto done;
	}
	if (strcmp(sh.state, "installed") != 0) {
		ts_httpd_reply_error(req, 409, "move_incomplete",
		    "share %s is %s: the original is released only after the companion installed its copy",
		    share_id, sh.state);
		goto done;
	}
	int rc = n->st->ops->begin(n->st);
	if (rc == 0)
		rc = n->st->ops->app_release(n->st, app_id, share_id);
	if (rc == TS_ESTATE) {
		n->st->ops->rollback(n->st);
		ts_httpd_reply_error(req, 409, "app_moved", "application \"%s\" was already released", app_id);
		goto done;
	}
	if (rc == 0)
		rc = n->st->ops->outbox_add(n->st, "release_original", share_id, NULL);
	json_t *resp = json_pack("{s:s,s:s,s:s,s:s}", "app_id", app_id, "state", "moved", "share_id", share_id,
	    "associated_app_id", sh.assoc_app_id);
	char *txt = json_dumps(resp, JSON_COMPACT);
	if (rc == 0)
		rc = txt ? n->st->ops->idem_put(n->st, device_id, key, hash, 200, txt) : TS_ENOMEM;
	if (rc == 0)
		rc = n->st->ops->commit(n->st);
	free(txt);
	if (rc != 0) {
		n->st->ops->rollback(n->st);
		json_decref(resp);
		ts_httpd_reply_error(req, 500, "store_error", "cannot record the release");
		goto done;
	}
	log_info("S16 move: original %s released after share %s installed %s; provider to be told", app_id,
	    share_id, sh.assoc_app_id);
	outbox_kick(n);
	ts_httpd_reply_json(req, 200, resp);
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
	long long after = 0;
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
		if (n->st->ops->share_get(n->st, share, &sh) != 0 || sh.user_id != user_id) {
			ts_httpd_reply_error(req, 404, "unknown_share", "no such share");
			return;
		}
	}
	push_subscribe_primary(n, req, user_id, has_share ? share : NULL, (int64_t)after);
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
}
