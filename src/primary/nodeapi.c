/*
 * nodeapi.c — primary <-> node calls (see nodeapi.h, docs/protocol.md §2).
 */
#include "primary/nodeapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define NODEAPI_URL_MAX 2048
#define NODEAPI_TOKEN_MAX 512
/* An event stream is reopened at least this often while nothing happens,
 * so that the caller's deadline is kept even though keepalive comments
 * (every 15 s) reset ts_httpc_sse's idle timer. Must stay below 15 s. */
#define NODEAPI_SSE_SLICE_MS 10000L
/* Reconnect delay after a broken stream: starts small (a node restart or a
 * dropped connection is usually over at once), doubles while reconnecting
 * brings nothing, and is reset by any delivered event. */
#define NODEAPI_SSE_BACKOFF_MIN_MS 100L
#define NODEAPI_SSE_BACKOFF_MAX_MS 2000L

struct nodeapi {
	char base[NODEAPI_URL_MAX];
	ts_httpc *http;
	char token[NODEAPI_TOKEN_MAX];
};

int
nodeapi_new(const char *base_url, const char *ca_file, const char *cert_file,
    const char *key_file, nodeapi **out)
{
	int rc;
	nodeapi *n = NULL;
	if (base_url == NULL || out == NULL)
		return TS_EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return TS_ENOMEM;
	if ((rc = ts_snprintf(n->base, sizeof(n->base), "%s", base_url)) != 0)
		goto fail;
	size_t len = strlen(n->base);
	while (len > 0 && n->base[len - 1] == '/')
		n->base[--len] = '\0';
	ts_httpc_opts o = { .ca_file = ca_file, .cert_file = cert_file, .key_file = key_file,
		.timeout_ms = 30000 };
	if ((rc = ts_httpc_new(&o, &n->http)) != 0)
		goto fail;
	*out = n;
	return 0;
fail:
	nodeapi_free(n);
	return rc;
}

void
nodeapi_free(nodeapi *n)
{
	if (n == NULL)
		return;
	ts_httpc_free(n->http);
	OPENSSL_cleanse(n->token, sizeof(n->token));
	free(n);
}

int
nodeapi_status_err(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 400: return TS_EINVAL;
	case 401: return TS_EAUTH;
	case 403: return TS_EDENIED;
	case 404: return TS_ENOTFOUND;
	case 409: return TS_ECONFLICT;
	case 413: return TS_ELIMIT;
	case 422: return TS_EDENIED;
	default: return TS_EPROTO;
	}
}

int
nodeapi_retryable(int rc, long status)
{
	if (rc == TS_ENET || rc == TS_ETIMEOUT)
		return 1;
	/* The node (or a proxy in front of it) was momentarily unavailable;
	 * the key makes a repeat safe even if the first attempt got through. */
	return status == 502 || status == 503 || status == 504;
}

static void
err_set(nodeapi_error *err, long status, const char *code, const char *msg)
{
	if (err == NULL)
		return;
	err->status = status;
	(void)ts_snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	(void)ts_snprintf(err->message, sizeof(err->message), "%s", msg ? msg : "");
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * One request. want1/want2: accepted statuses. On success *resp holds the body
 * (may be NULL when resp is NULL). On an HTTP error the node's error object
 * goes into err.
 */
static int
call(nodeapi *n, const char *method, const char *path, json_t *body, int auth,
    const char *idem_key, long want1, long want2, json_t **resp, long *status_out,
    nodeapi_error *err)
{
	char url[NODEAPI_URL_MAX + 256];
	char authz[NODEAPI_TOKEN_MAX + 32];
	char idem[96];
	const char *hdrs[3] = { NULL, NULL, NULL };
	size_t nh = 0;
	char why[512] = "";
	long status = 0;
	json_t *r = NULL;
	int rc;

	if (resp != NULL)
		*resp = NULL;
	if (status_out != NULL)
		*status_out = 0;
	err_set(err, 0, "", "");
	if ((rc = ts_snprintf(url, sizeof(url), "%s%s", n->base, path)) != 0)
		return rc;
	if (auth) {
		if (n->token[0] == '\0') {
			err_set(err, 0, "no_token", "no user authorisation (log in first)");
			return TS_EAUTH;
		}
		if ((rc = ts_snprintf(authz, sizeof(authz), "Authorization: Bearer %s", n->token)) != 0)
			return rc;
		hdrs[nh++] = authz;
	}
	if (idem_key != NULL) {
		if ((rc = ts_snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idem_key)) != 0)
			return rc;
		hdrs[nh++] = idem;
	}

	rc = ts_httpc_json(n->http, method, url, hdrs, body, &status, &r, why, sizeof(why));
	if (auth)
		OPENSSL_cleanse(authz, sizeof(authz));
	if (status_out != NULL)
		*status_out = status;
	if (rc != 0) {
		if (rc == TS_EPARSE)
			err_set(err, status, "bad_response", why[0] ? why : "the node's answer is not JSON");
		else
			err_set(err, 0, "transport", why[0] ? why : ts_strerror(rc));
		json_decref(r);
		return rc;
	}
	if (status == want1 || (want2 != 0 && status == want2)) {
		if (resp != NULL && !json_is_object(r)) {
			err_set(err, status, "bad_response", "the node answered without a JSON object");
			json_decref(r);
			return TS_EPARSE;
		}
		if (resp != NULL)
			*resp = r;
		else
			json_decref(r);
		return 0;
	}
	/* {"error":{"code","message"}} (docs/protocol.md); anything else is
	 * reported with the bare status. */
	json_t *e = json_object_get(r, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char def[64];
	(void)ts_snprintf(def, sizeof(def), "HTTP %ld", status);
	err_set(err, status, code ? code : "http_error", msg ? msg : def);
	json_decref(r);
	rc = nodeapi_status_err(status);
	return rc != 0 ? rc : TS_EPROTO;
}

/* A non-idempotent call made safe: one fresh Idempotency-Key for every
 * attempt of this operation, retried only when the answer may have been lost
 * or the node was momentarily unavailable. */
static int
call_idempotent(nodeapi *n, const char *path, json_t *body, long want1, long want2,
    json_t **resp, nodeapi_error *err)
{
	char key[33];
	int rc = ts_random_id(key);
	if (rc != 0)
		return rc;
	long delay = 250;
	for (int attempt = 0;; attempt++) {
		long status = 0;
		rc = call(n, "POST", path, body, 1, key, want1, want2, resp, &status, err);
		if (rc == 0 || attempt >= NODEAPI_RETRIES || !nodeapi_retryable(rc, status))
			return rc;
		log_warn("%s: %s%s%s; retrying with the same Idempotency-Key (%d of %d)", path,
		    err ? err->code : "", err ? ": " : "", err ? err->message : "", attempt + 1,
		    NODEAPI_RETRIES);
		sleep_ms(delay);
		delay *= 2;
	}
}

int
nodeapi_enroll(nodeapi *n, const char *code, const char *csr_pem, const char *name,
    json_t **resp, nodeapi_error *err)
{
	if (n == NULL || code == NULL || csr_pem == NULL || resp == NULL)
		return TS_EINVAL;
	json_t *body = json_pack("{s:s, s:s}", "code", code, "csr", csr_pem);
	if (body == NULL)
		return TS_ENOMEM;
	if (name != NULL && name[0] != '\0' && json_object_set_new(body, "name", json_string(name)) != 0) {
		json_decref(body);
		return TS_ENOMEM;
	}
	int rc = call(n, "POST", "/v1/enroll", body, 0, NULL, 201, 200, resp, NULL, err);
	json_decref(body);
	if (rc == 0 && (json_string_value(json_object_get(*resp, "certificate")) == NULL ||
	    json_string_value(json_object_get(*resp, "device_id")) == NULL ||
	    json_string_value(json_object_get(*resp, "user")) == NULL)) {
		err_set(err, 200, "bad_response", "enrollment answer lacks certificate, device_id or user");
		json_decref(*resp);
		*resp = NULL;
		rc = TS_EPARSE;
	}
	return rc;
}

int
nodeapi_login(nodeapi *n, const char *passphrase, nodeapi_error *err)
{
	json_t *resp = NULL;
	if (n == NULL || passphrase == NULL)
		return TS_EINVAL;
	/* jansson keeps its own copy of the string; it is freed (not wiped) with
	 * the body, the one place the passphrase outlives our buffers. */
	json_t *body = json_pack("{s:s}", "passphrase", passphrase);
	if (body == NULL)
		return TS_ENOMEM;
	int rc = call(n, "POST", "/v1/session", body, 0, NULL, 200, 201, &resp, NULL, err);
	json_decref(body);
	if (rc != 0)
		return rc;
	const char *tok = json_string_value(json_object_get(resp, "token"));
	if (tok == NULL || tok[0] == '\0' || strpbrk(tok, "\r\n") != NULL ||
	    ts_snprintf(n->token, sizeof(n->token), "%s", tok) != 0) {
		OPENSSL_cleanse(n->token, sizeof(n->token));
		err_set(err, 200, "bad_response", "session answer without a usable token");
		rc = TS_EPARSE;
	}
	json_decref(resp);
	return rc;
}

int
nodeapi_apps(nodeapi *n, json_t **resp, nodeapi_error *err)
{
	if (n == NULL || resp == NULL)
		return TS_EINVAL;
	int rc = call(n, "GET", "/v1/apps", NULL, 0, NULL, 200, 0, resp, NULL, err);
	if (rc == 0 && !json_is_array(json_object_get(*resp, "apps"))) {
		err_set(err, 200, "bad_response", "apps answer without an \"apps\" array");
		json_decref(*resp);
		*resp = NULL;
		rc = TS_EPARSE;
	}
	return rc;
}

int
nodeapi_share_create_op(nodeapi *n, const char *eid, const char *app_id,
    long long duration_s, const char *device_name, const char *operation, json_t **resp,
    nodeapi_error *err)
{
	return nodeapi_share_create_cc(n, eid, app_id, duration_s, device_name, operation, NULL, resp, err);
}

int
nodeapi_share_create_cc(nodeapi *n, const char *eid, const char *app_id, long long duration_s,
    const char *device_name, const char *operation, const char *cc_hash, json_t **resp, nodeapi_error *err)
{
	if (n == NULL || eid == NULL || app_id == NULL || resp == NULL)
		return TS_EINVAL;
	int rc = TS_ENOMEM;
	json_t *body = json_pack("{s:s, s:s}", "eid", eid, "app_id", app_id);
	if (body == NULL)
		return TS_ENOMEM;
	if (operation != NULL && json_object_set_new(body, "operation", json_string(operation)) != 0)
		goto out;
	if (duration_s > 0 && json_object_set_new(body, "duration_s", json_integer(duration_s)) != 0)
		goto out;
	if (cc_hash != NULL && json_object_set_new(body, "confirmation_code_hash", json_string(cc_hash)) != 0)
		goto out;
	if (device_name != NULL && device_name[0] != '\0' &&
	    json_object_set_new(body, "device_name", json_string(device_name)) != 0)
		goto out;
	rc = call_idempotent(n, "/v1/shares", body, 201, 200, resp, err);
	if (rc == 0 && json_string_value(json_object_get(*resp, "share_id")) == NULL) {
		err_set(err, 201, "bad_response", "share answer without share_id");
		json_decref(*resp);
		*resp = NULL;
		rc = TS_EPARSE;
	}
out:
	json_decref(body);
	return rc;
}

int
nodeapi_share_create(nodeapi *n, const char *eid, const char *app_id,
    long long duration_s, const char *device_name, json_t **resp, nodeapi_error *err)
{
	return nodeapi_share_create_op(n, eid, app_id, duration_s, device_name, NULL, resp, err);
}

int
nodeapi_shares(nodeapi *n, json_t **resp, nodeapi_error *err)
{
	if (n == NULL || resp == NULL)
		return TS_EINVAL;
	int rc = call(n, "GET", "/v1/shares", NULL, 1, NULL, 200, 0, resp, NULL, err);
	if (rc == 0 && !json_is_array(json_object_get(*resp, "shares"))) {
		err_set(err, 200, "bad_response", "shares answer without a \"shares\" array");
		json_decref(*resp);
		*resp = NULL;
		rc = TS_EPARSE;
	}
	return rc;
}

int
nodeapi_devices(nodeapi *n, json_t **resp, nodeapi_error *err)
{
	if (n == NULL || resp == NULL)
		return TS_EINVAL;
	int rc = call(n, "GET", "/v1/devices", NULL, 1, NULL, 200, 0, resp, NULL, err);
	if (rc == 0 && !json_is_array(json_object_get(*resp, "devices"))) {
		err_set(err, 200, "bad_response", "devices answer without a \"devices\" array");
		json_decref(*resp);
		*resp = NULL;
		rc = TS_EPARSE;
	}
	return rc;
}

int
nodeapi_device_revoke(nodeapi *n, const char *device_id, json_t **resp, nodeapi_error *err)
{
	char path[256];
	if (n == NULL || device_id == NULL || resp == NULL || device_id[0] == '\0' ||
	    strpbrk(device_id, "/?#% ") != NULL)
		return TS_EINVAL;
	int rc = ts_snprintf(path, sizeof(path), "/v1/devices/%s/revoke", device_id);
	if (rc != 0)
		return rc;
	json_t *body = json_object();
	if (body == NULL)
		return TS_ENOMEM;
	rc = call(n, "POST", path, body, 1, NULL, 200, 0, resp, NULL, err);
	json_decref(body);
	return rc;
}

int
nodeapi_share_cancel(nodeapi *n, const char *share_id, json_t **resp, nodeapi_error *err)
{
	char path[256];
	if (n == NULL || share_id == NULL || resp == NULL || strpbrk(share_id, "/?#%") != NULL)
		return TS_EINVAL;
	int rc = ts_snprintf(path, sizeof(path), "/v1/shares/%s/cancel", share_id);
	if (rc != 0)
		return rc;
	json_t *body = json_object();
	if (body == NULL)
		return TS_ENOMEM;
	rc = call_idempotent(n, path, body, 202, 200, resp, err);
	json_decref(body);
	return rc;
}

int
nodeapi_app_release(nodeapi *n, const char *app_id, const char *share_id, json_t **resp,
    nodeapi_error *err)
{
	char path[256];
	if (n == NULL || app_id == NULL || share_id == NULL || resp == NULL ||
	    app_id[0] == '\0' || strpbrk(app_id, "/?#% ") != NULL)
		return TS_EINVAL;
	int rc = ts_snprintf(path, sizeof(path), "/v1/apps/%s/release", app_id);
	if (rc != 0)
		return rc;
	json_t *body = json_pack("{s:s}", "share_id", share_id);
	if (body == NULL)
		return TS_ENOMEM;
	rc = call_idempotent(n, path, body, 200, 0, resp, err);
	json_decref(body);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                     */

typedef struct ev_state {
	nodeapi_event_cb cb;
	void *arg;
	char last_id[64];   /* Last-Event-ID for a reconnect */
	long long last_num; /* highest numeric id delivered, -1 = none */
	unsigned long delivered; /* events passed to cb */
	int64_t deadline;
	int stopped;
	int timed_out;
} ev_state;

static int
ev_on_event(const char *event, const char *id, const char *data, void *arg)
{
	ev_state *s = arg;
	long long num = -1;
	if (id != NULL && id[0] != '\0') {
		/* Replays (?share=ID from the start, Last-Event-ID after N) may
		 * overlap: numeric ids at or below the last one were seen. */
		if (ts_parse_ll(id, 0, INT64_MAX, &num) == 0 && num <= s->last_num)
			return ts_mono_ms() >= s->deadline ? (s->timed_out = 1) : 0;
		(void)ts_snprintf(s->last_id, sizeof(s->last_id), "%s", id);
		if (num > s->last_num)
			s->last_num = num;
	}
	json_error_t je;
	json_t *j = data != NULL ? json_loads(data, JSON_REJECT_DUPLICATES, &je) : NULL;
	s->delivered++;
	int stop = s->cb(event != NULL ? event : "message", id, j, s->arg);
	json_decref(j);
	if (stop) {
		s->stopped = 1;
		return 1;
	}
	if (ts_mono_ms() >= s->deadline) {
		s->timed_out = 1;
		return 1;
	}
	return 0;
}

int
nodeapi_wait_events(nodeapi *n, const char *share_id, long timeout_ms,
    nodeapi_event_cb cb, void *arg, nodeapi_error *err)
{
	char url[NODEAPI_URL_MAX + 256];
	char why[512];
	int rc;
	int warned = 0;
	long backoff = NODEAPI_SSE_BACKOFF_MIN_MS;
	ev_state s = { .cb = cb, .arg = arg, .last_num = -1 };

	err_set(err, 0, "", "");
	if (n == NULL || share_id == NULL || cb == NULL || timeout_ms <= 0 ||
	    strpbrk(share_id, "/?#%&") != NULL)
		return TS_EINVAL;
	if ((rc = ts_snprintf(url, sizeof(url), "%s/v1/events?share=%s", n->base, share_id)) != 0)
		return rc;
	s.deadline = ts_mono_ms() + timeout_ms;

	for (;;) {
		int64_t left = s.deadline - ts_mono_ms();
		if (left <= 0)
			return TS_ETIMEOUT;
		long slice = left < NODEAPI_SSE_SLICE_MS ? (long)left : NODEAPI_SSE_SLICE_MS;
		why[0] = '\0';
		unsigned long before = s.delivered;
		rc = ts_httpc_sse(n->http, url, NULL, s.last_id[0] ? s.last_id : NULL, slice,
		    ev_on_event, &s, why, sizeof(why));
		if (s.stopped)
			return 0;
		if (s.timed_out)
			return TS_ETIMEOUT;
		switch (rc) {
		case TS_ETIMEOUT: /* quiet slice: reopen (and recheck the deadline) */
			continue;
		case TS_EIO:      /* the node closed the stream */
		case TS_ENET:     /* transport broke: the node may be restarting */
			if (!warned) {
				log_warn("event stream interrupted (%s); reconnecting%s%s",
				    why[0] ? why : ts_strerror(rc), s.last_id[0] ? " after event " : "",
				    s.last_id);
				warned = 1;
			}
			if (s.delivered != before)
				backoff = NODEAPI_SSE_BACKOFF_MIN_MS;
			left = s.deadline - ts_mono_ms();
			sleep_ms(left < backoff ? (left > 0 ? (long)left : 0) : backoff);
			if (backoff < NODEAPI_SSE_BACKOFF_MAX_MS)
				backoff *= 2;
			continue;
		default:
			/* Refused (HTTP error) or a malformed stream: waiting longer
			 * will not help. */
			err_set(err, 0, rc == TS_EPROTO ? "event_stream_refused" : "event_stream",
			    why[0] ? why : ts_strerror(rc));
			return rc;
		}
	}
}
