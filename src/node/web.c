/*
 * web.c — the account owner's web page (issue 10 item 4), served by the node
 * on its public HTTPS listener under /owner/ (docs/protocol.md §8).
 *
 * The listener asks for a client certificate but does not require one (the
 * node's listener always did: enrollment comes before a certificate), so a
 * browser without a device certificate reaches the page and signs in with the
 * account name and passphrase; a browser that presents an enrolled device
 * certificate signs in the same way and its session is bound to that device
 * (refused once it is revoked, and usable only with that certificate).
 *
 *   GET  /owner/                       page (index.html, app.css, app.js: embedded, web_assets.c)
 *   GET  /owner/api/session            {"signed_in","user","csrf"}; sets the pre-session cookie
 *   POST /owner/api/login              {"user","passphrase"} -> session cookie (CSRF: pre-session)
 *   POST /owner/api/logout             drops the session
 *   GET  /owner/api/state              devices, shares with their history, last event id
 *   GET  /owner/api/events?after=N     the user's event stream (push.c, as /v1/events)
 *   POST /owner/api/shares/{id}/cancel share_cancel (S16), the API's rules
 *   POST /owner/api/devices/{id}/revoke auth_revoke_device, the API's rules
 *
 * Sessions: 32 random bytes in the cookie __Host-tapshare_session (HttpOnly;
 * Secure; SameSite=Strict; Path=/), stored only as their SHA-256 in the
 * store's token table with an expiry ([node] web_session_s), bound to "web"
 * or "web:<device id>" so that an API Bearer token is never a web session and
 * the other way round. The passphrase check is auth.c's (throttle per device,
 * or per peer address without a certificate, and per account; scrypt off the
 * loop).
 *
 * CSRF: every POST carries X-CSRF-Token = HMAC-SHA256(node key, label ||
 * cookie value) — a synchronizer token derived from the session (or, for the
 * login, from the HttpOnly pre-session cookie), handed out by GET
 * /owner/api/session, which another origin cannot read. A missing or wrong
 * token is 403 before anything else is looked at; so is Sec-Fetch-Site:
 * cross-site.
 *
 * Every answer carries a Content-Security-Policy without inline script or
 * style, X-Content-Type-Options, Referrer-Policy and frame-ancestors 'none'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/cookie.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/ossl.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/web.h"

#define WEB_COOKIE "__Host-tapshare_session"
#define WEB_PRE_COOKIE "__Host-tapshare_pre"
#define WEB_TOKEN_HEX 64
#define WEB_EVENTS_MAX 5000
#define WEB_EVENTS_BATCH 64

static const char web_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

static void
sec_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", web_csp);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

static void
reply_json(struct evhttp_request *req, int status, json_t *body)
{
	sec_headers(req);
	ts_httpd_reply_json(req, status, body);
}

static void
reply_error(struct evhttp_request *req, int status, const char *code, const char *msg)
{
	sec_headers(req);
	ts_httpd_reply_error(req, status, code, "%s", msg);
}

/* The store could not answer (busy, timed out): no verdict on the browser,
 * its certificate or its session, so 503 and retry, never a refusal. */
static void
reply_busy(struct evhttp_request *req)
{
	sec_headers(req);
	api_reply_busy(req);
}

/* CSRF token for a cookie value: HMAC-SHA256(node key, label || value). */
static void
csrf_of(const node *n, const char *label, const char *value, char out[65])
{
	uint8_t mac[32];
	unsigned int ml = 0;
	char msg[160];
	snprintf(msg, sizeof(msg), "tapshare owner page csrf v1\n%s\n%s", label, value);
	if (HMAC(ts_ossl_sha256(), n->secret_key, sizeof(n->secret_key), (const unsigned char *)msg, strlen(msg), mac,
		&ml) == NULL || ml != sizeof(mac))
		memset(mac, 0, sizeof(mac)); /* never matches a 64-digit header by chance: see csrf_ok */
	ts_hex_encode(mac, sizeof(mac), out, 65);
	OPENSSL_cleanse(mac, sizeof(mac));
}

static int
csrf_ok(const node *n, struct evhttp_request *req, const char *label, const char *value)
{
	const char *site = ts_httpd_header(req, "Sec-Fetch-Site");
	if (site != NULL && strcmp(site, "cross-site") == 0)
		return 0;
	const char *got = ts_httpd_header(req, "X-CSRF-Token");
	if (got == NULL || strlen(got) != 64 || value == NULL)
		return 0;
	char want[65];
	csrf_of(n, label, value, want);
	return CRYPTO_memcmp(want, got, 64) == 0;
}

/* "web" or "web:<device id>" for the device certificate the browser shows.
 * 0; TS_EDENIED with a certificate of a revoked or unknown device; another
 * error when the store could not tell (busy). *dev_user is the certificate's
 * user (-1 without one). */
static int
binding_of(node *n, struct evhttp_request *req, char out[80], char device_id[65], int64_t *dev_user)
{
	*dev_user = -1;
	device_id[0] = '\0';
	if (ts_httpd_peer_id(req, device_id) != 0) {
		device_id[0] = '\0';
		snprintf(out, 80, "web");
		return 0;
	}
	int rc = n->st->ops->device_user(n->st, device_id, dev_user);
	if (rc == TS_ENOTFOUND || rc == TS_EDENIED)
		return TS_EDENIED;
	if (rc != 0)
		return rc;
	snprintf(out, 80, "web:%s", device_id);
	return 0;
}

typedef struct web_sess {
	int64_t user_id;
	char token[WEB_TOKEN_HEX + 1];
	char binding[80];
	char device_id[65];
} web_sess;

/* The signed-in user of the request; replies 401/403 and returns != 0 when
 * there is none. */
static int
session_of(node *n, struct evhttp_request *req, web_sess *s)
{
	memset(s, 0, sizeof(*s));
	if (ts_cookie_hex64(ts_httpd_header(req, "Cookie"), WEB_COOKIE, s->token) != 0) {
		reply_error(req, 401, "signed_out", "sign in first");
		return TS_EAUTH;
	}
	int64_t dev_user;
	int rc = binding_of(n, req, s->binding, s->device_id, &dev_user);
	if (rc == TS_EDENIED) {
		reply_error(req, 403, "device_revoked", "this browser's device certificate is revoked or unknown");
		return TS_EAUTH;
	}
	if (rc != 0) {
		reply_busy(req);
		return rc;
	}
	char th[65];
	secret_hash(s->token, th);
	rc = n->st->ops->token_check(n->st, th, s->binding, ts_now(), &s->user_id);
	if (rc != 0 && rc != TS_EAUTH) { /* TS_EAUTH: no such live token */
		reply_busy(req);
		return rc;
	}
	if (rc != 0 || (dev_user >= 0 && dev_user != s->user_id)) {
		reply_error(req, 401, "session_expired", "the session is unknown or expired; sign in again");
		return TS_EAUTH;
	}
	return 0;
}

/* ---- static assets --------------------------------------------------------------- */

static void
serve_asset(struct evhttp_request *req, const char *name)
{
	const web_asset *a = web_asset_find(name);
	if (a == NULL) {
		reply_error(req, 404, "not_found", "no such resource");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_reference(b, a->data, a->len, NULL, NULL);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	sec_headers(req);
	evhttp_add_header(h, "Content-Type", a->type);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
h_static(struct evhttp_request *req, void *arg)
{
	(void)arg;
	char path[256];
	if (ts_httpd_path(req, path, sizeof(path)) != 0) {
		reply_error(req, 404, "not_found", "no such resource");
		return;
	}
	if (strcmp(path, "/owner") == 0) {
		sec_headers(req);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/owner/");
		evhttp_send_reply(req, 303, "See Other", NULL);
		return;
	}
	const char *name = path + strlen("/owner/");
	serve_asset(req, name[0] == '\0' ? "index.html" : name);
}

/* ---- session ------------------------------------------------------------------- */

static void
set_cookie(struct evhttp_request *req, const char *name, const char *value, long long max_age)
{
	char c[256];
	if (max_age >= 0)
		snprintf(c, sizeof(c), "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld", name, value,
		    max_age);
	else
		snprintf(c, sizeof(c), "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict", name, value);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

static int
random_hex(char out[WEB_TOKEN_HEX + 1])
{
	uint8_t raw[32];
	int rc = ts_random(raw, sizeof(raw));
	if (rc == 0)
		rc = ts_hex_encode(raw, sizeof(raw), out, WEB_TOKEN_HEX + 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

/* GET /owner/api/session: whether signed in, and the CSRF token for the next
 * POST (the session's, or the pre-session cookie's for the login). */
static void
h_session(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	const char *ck = ts_httpd_header(req, "Cookie");
	char tok[WEB_TOKEN_HEX + 1], binding[80], dev[65], th[65], csrf[65];
	int64_t dev_user, uid = -1;
	int rc = ts_cookie_hex64(ck, WEB_COOKIE, tok) == 0 ? binding_of(n, req, binding, dev, &dev_user) : TS_EDENIED;
	if (rc == 0) {
		secret_hash(tok, th);
		rc = n->st->ops->token_check(n->st, th, binding, ts_now(), &uid);
		if (rc == TS_EAUTH || (rc == 0 && dev_user >= 0 && dev_user != uid)) {
			rc = TS_EDENIED;
			uid = -1;
		}
	}
	if (rc != 0 && rc != TS_EDENIED) { /* signed in or not, the store could not tell */
		reply_busy(req);
		return;
	}
	if (uid >= 0) {
		char name[STORE_STR_MAX] = "";
		if (n->st->ops->user_get(n->st, uid, name, sizeof(name), NULL, 0) != 0) {
			reply_busy(req);
			return;
		}
		csrf_of(n, "session", tok, csrf);
		reply_json(req, 200, json_pack("{s:b,s:s,s:s,s:s?}", "signed_in", 1, "user", name, "csrf", csrf,
		    "device_id", dev[0] ? dev : NULL));
		return;
	}
	char pre[WEB_TOKEN_HEX + 1];
	if (ts_cookie_hex64(ck, WEB_PRE_COOKIE, pre) != 0) {
		if (random_hex(pre) != 0) {
			reply_error(req, 500, "random_failed", "no randomness");
			return;
		}
		set_cookie(req, WEB_PRE_COOKIE, pre, -1);
	}
	csrf_of(n, "login", pre, csrf);
	reply_json(req, 200, json_pack("{s:b,s:s}", "signed_in", 0, "csrf", csrf));
}

/* auth.c calls back on the loop: the passphrase was checked. tag = binding.
 * h_login set the security headers already. */
static void
login_done(node *n, struct evhttp_request *req, int ok, int64_t user_id, const char *binding)
{
	if (!ok) {
		ts_httpd_reply_error(req, 401, "wrong_passphrase", "the user name or the passphrase is wrong");
		return;
	}
	char tok[WEB_TOKEN_HEX + 1], th[65], csrf[65];
	if (random_hex(tok) != 0) {
		ts_httpd_reply_error(req, 500, "random_failed", "no randomness");
		return;
	}
	secret_hash(tok, th);
	if (n->st->ops->token_add(n->st, th, binding, user_id, ts_now() + n->web_session_s) != 0) {
		api_reply_busy(req); /* h_login set the security headers */
		OPENSSL_cleanse(tok, sizeof(tok));
		return;
	}
	set_cookie(req, WEB_COOKIE, tok, n->web_session_s);
	csrf_of(n, "session", tok, csrf);
	OPENSSL_cleanse(tok, sizeof(tok));
	char name[STORE_STR_MAX] = "";
	(void)n->st->ops->user_get(n->st, user_id, name, sizeof(name), NULL, 0);
	log_info("owner page: user %s signed in (%s)", name, binding);
	ts_httpd_reply_json(req, 200, json_pack("{s:b,s:s,s:s,s:I}", "signed_in", 1, "user", name, "csrf", csrf, "expires_in",
	    (json_int_t)n->web_session_s));
}

static void
h_login(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char pre[WEB_TOKEN_HEX + 1];
	int has_pre = ts_cookie_hex64(ts_httpd_header(req, "Cookie"), WEB_PRE_COOKIE, pre) == 0;
	if (!csrf_ok(n, req, "login", has_pre ? pre : NULL)) {
		reply_error(req, 403, "csrf", "missing or wrong X-CSRF-Token (reload the page)");
		return;
	}
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	const char *user = ts_json_str(body, "user"), *pass = ts_json_str(body, "passphrase");
	char binding[80], dev[65], peer[56], throttle[65];
	int64_t dev_user, uid = -1;
	if (user == NULL || pass == NULL || user[0] == '\0' || strlen(user) >= STORE_STR_MAX) {
		reply_error(req, 400, "bad_request", "sign-in needs \"user\" and \"passphrase\"");
		goto done;
	}
	int rc = binding_of(n, req, binding, dev, &dev_user);
	if (rc == TS_EDENIED) {
		reply_error(req, 403, "device_revoked", "this browser's device certificate is revoked or unknown");
		goto done;
	}
	/* An unknown user name is checked like a wrong passphrase (same
	 * answer, same scrypt time), throttled under the address alone. A
	 * store that cannot tell is no attempt: 503, nothing counted. */
	if (rc == 0 && (rc = n->st->ops->user_by_name(n->st, user, &uid)) == TS_ENOTFOUND) {
		rc = 0;
		uid = 0; /* no user has id 0: verifies as wrong */
	}
	if (rc != 0) {
		reply_busy(req);
		goto done;
	}
	if (dev_user >= 0 && uid != dev_user) {
		reply_error(req, 403, "device_other_user", "this browser's device certificate belongs to another account");
		goto done;
	}
	if (dev[0] != '\0')
		snprintf(throttle, sizeof(throttle), "%s", dev);
	else {
		if (ts_httpd_peer_addr(req, peer, sizeof(peer)) != 0)
			snprintf(peer, sizeof(peer), "?");
		snprintf(throttle, sizeof(throttle), "web:%s", peer);
	}
	sec_headers(req); /* the reply comes later, from the loop */
	auth_check(n, req, throttle, uid, pass, login_done, binding);
done:
	json_decref(body);
}

static void
h_logout(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	char tok[WEB_TOKEN_HEX + 1], th[65];
	if (ts_cookie_hex64(ts_httpd_header(req, "Cookie"), WEB_COOKIE, tok) != 0) {
		reply_error(req, 401, "signed_out", "not signed in");
		return;
	}
	if (!csrf_ok(n, req, "session", tok)) {
		reply_error(req, 403, "csrf", "missing or wrong X-CSRF-Token (reload the page)");
		return;
	}
	secret_hash(tok, th);
	if (n->st->ops->token_drop(n->st, th) != 0) {
		reply_busy(req);
		return;
	}
	set_cookie(req, WEB_COOKIE, "", 0);
	reply_json(req, 200, json_pack("{s:b}", "signed_in", 0));
}

/* ---- state ---------------------------------------------------------------------- */

/* One history entry from an event (its data is the share as of the step). */
static json_t *
history_entry(const store_event *e)
{
	json_t *d = json_loads(e->data, JSON_REJECT_DUPLICATES, NULL);
	json_t *o = json_pack("{s:I,s:s}", "id", (json_int_t)e->id, "type", e->type);
	if (o != NULL && json_is_object(d)) {
		json_t *at = json_object_get(d, "updated_at"), *msg = json_object_get(d, "message"),
		       *state = json_object_get(d, "state");
		if (json_is_integer(at))
			json_object_set(o, "at", at);
		if (json_is_string(msg))
			json_object_set(o, "message", msg);
		if (json_is_string(state))
			json_object_set(o, "state", state);
	}
	json_decref(d);
	return o;
}

static void
h_state(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	web_sess s;
	if (session_of(n, req, &s) != 0)
		return;
	json_t *devices = NULL, *shares = NULL, *hist = json_object();
	store_event *ev = calloc(WEB_EVENTS_BATCH, sizeof(*ev));
	int64_t last = 0;
	size_t got = 0, total = 0;
	int truncated = 0;
	if (ev == NULL || hist == NULL || n->st->ops->devices_json(n->st, s.user_id, &devices) != 0 ||
	    n->st->ops->shares_json(n->st, s.user_id, &shares) != 0)
		goto busy;
	do {
		if (n->st->ops->events_after(n->st, s.user_id, NULL, last, ev, WEB_EVENTS_BATCH, &got) != 0)
			goto busy;
		for (size_t i = 0; i < got; i++) {
			json_t *arr = json_object_get(hist, ev[i].share_id);
			if (arr == NULL) {
				arr = json_array();
				json_object_set_new(hist, ev[i].share_id, arr);
			}
			json_array_append_new(arr, history_entry(&ev[i]));
			last = ev[i].id;
		}
		total += got;
		if (total >= WEB_EVENTS_MAX && got == WEB_EVENTS_BATCH) {
			truncated = 1;
			break;
		}
	} while (got == WEB_EVENTS_BATCH);
	size_t i;
	json_t *sh;
	json_array_foreach(shares, i, sh) {
		const char *sid = ts_json_str(sh, "share_id");
		json_t *h = sid ? json_object_get(hist, sid) : NULL;
		if (h != NULL)
			json_object_set(sh, "history", h);
		else
			json_object_set_new(sh, "history", json_array());
	}
	char name[STORE_STR_MAX] = "";
	if (n->st->ops->user_get(n->st, s.user_id, name, sizeof(name), NULL, 0) != 0)
		goto busy;
	free(ev);
	json_decref(hist);
	reply_json(req, 200, json_pack("{s:s,s:s?,s:o,s:o,s:I,s:b,s:I}", "user", name, "device_id",
	    s.device_id[0] ? s.device_id : NULL, "devices", devices, "shares", shares, "last_event_id", (json_int_t)last,
	    "history_truncated", truncated, "now", (json_int_t)ts_now()));
	return;
busy:
	free(ev);
	json_decref(hist);
	json_decref(devices);
	json_decref(shares);
	reply_busy(req);
}

static void
h_events(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	web_sess s;
	if (session_of(n, req, &s) != 0)
		return;
	char after_s[32];
	long long after = 0;
	const char *lei = ts_httpd_header(req, "Last-Event-ID");
	if (lei != NULL ? ts_parse_ll(lei, 0, INT64_MAX, &after) != 0
			: ts_httpd_query(req, "after", after_s, sizeof(after_s)) == 0 &&
			      ts_parse_ll(after_s, 0, INT64_MAX, &after) != 0) {
		reply_error(req, 400, "bad_after", "after / Last-Event-ID must be a number");
		return;
	}
	/* A session bound to a device ends with the device's revocation
	 * (push.c closes that device's streams); "web" names no device. */
	/* push.c answers its own refusals (503 too_many_streams); only an
	 * allocation failure leaves the request to us. */
	if (push_subscribe_primary(n, req, s.user_id, s.device_id[0] ? s.device_id : "web", NULL, (int64_t)after) ==
	    TS_ENOMEM)
		reply_error(req, 503, "busy", "cannot open the event stream");
}

/* ---- actions -------------------------------------------------------------------- */

/* /owner/api/<kind>/{id}/<verb> -> id. */
static int
action_id(struct evhttp_request *req, const char *prefix, const char *verb, char *id, size_t cap)
{
	char path[256];
	if (ts_httpd_path(req, path, sizeof(path)) != 0 || strncmp(path, prefix, strlen(prefix)) != 0)
		return TS_EINVAL;
	const char *p = path + strlen(prefix), *slash = strchr(p, '/');
	if (slash == NULL || slash == p || (size_t)(slash - p) >= cap || strcmp(slash + 1, verb) != 0)
		return TS_EINVAL;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = '\0';
	return 0;
}

/* Session and CSRF for a POST; replies on failure. */
static int
post_auth(node *n, struct evhttp_request *req, web_sess *s)
{
	char tok[WEB_TOKEN_HEX + 1];
	int has = ts_cookie_hex64(ts_httpd_header(req, "Cookie"), WEB_COOKIE, tok) == 0;
	if (!csrf_ok(n, req, "session", has ? tok : NULL)) {
		reply_error(req, 403, "csrf", "missing or wrong X-CSRF-Token (reload the page)");
		return TS_EDENIED;
	}
	return session_of(n, req, s);
}

static void
h_share_cancel(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	web_sess s;
	char id[STORE_ID_MAX];
	if (post_auth(n, req, &s) != 0)
		return;
	if (action_id(req, "/owner/api/shares/", "cancel", id, sizeof(id)) != 0) {
		reply_error(req, 404, "unknown_share", "no such share");
		return;
	}
	store_share sh;
	share_why why = { "", "" };
	int rc = share_cancel(&n->svc, n->st, s.user_id, id, NULL, &sh, &why);
	if (rc != 0) {
		sec_headers(req);
		api_reply_refusal(req, &why, rc);
		return;
	}
	log_info("owner page: share %s cancelled by its user", id);
	reply_json(req, 202, store_share_json(&sh));
}

static void
h_device_revoke(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	web_sess s;
	char id[65];
	if (post_auth(n, req, &s) != 0)
		return;
	if (action_id(req, "/owner/api/devices/", "revoke", id, sizeof(id)) != 0) {
		reply_error(req, 404, "unknown_device", "no such device");
		return;
	}
	int rc = auth_revoke_device(n->st, s.user_id, id, NULL);
	if (rc == TS_ENOTFOUND) {
		reply_error(req, 404, "unknown_device", "no such device of this account");
		return;
	}
	if (rc == TS_ESTATE) {
		reply_error(req, 409, "device_revoked", "the device is already revoked");
		return;
	}
	if (rc != 0) {
		reply_busy(req);
		return;
	}
	push_device_revoked(n);
	reply_json(req, 200, json_pack("{s:s,s:s}", "device_id", id, "state", "revoked"));
}

int
web_conf(node *n)
{
	const char *on = ts_config_get(n->cfg, "node", "web", "on");
	long long ttl = WEB_SESSION_DEFAULT_S;
	n->web_on = strcmp(on, "off") != 0;
	if (ts_parse_ll(ts_config_get(n->cfg, "node", "web_session_s", "900"), 1, 86400, &ttl) != 0)
		return TS_ECONFIG;
	n->web_session_s = (int64_t)ttl;
	return 0;
}

void
web_routes(node *n)
{
	if (!n->web_on)
		return;
	ts_httpd_route(n->httpd, "GET", "/owner/api/session", h_session, n);
	ts_httpd_route(n->httpd, "POST", "/owner/api/login", h_login, n);
	ts_httpd_route(n->httpd, "POST", "/owner/api/logout", h_logout, n);
	ts_httpd_route(n->httpd, "GET", "/owner/api/state", h_state, n);
	ts_httpd_route(n->httpd, "GET", "/owner/api/events", h_events, n);
	ts_httpd_route(n->httpd, "POST", "/owner/api/shares/*", h_share_cancel, n);
	ts_httpd_route(n->httpd, "POST", "/owner/api/devices/*", h_device_revoke, n);
	ts_httpd_route(n->httpd, "GET", "/owner", h_static, n);
	ts_httpd_route(n->httpd, "GET", "/owner/*", h_static, n);
}
