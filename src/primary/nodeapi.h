/*
 * nodeapi.h — the primary device's calls to the network node
 * (docs/protocol.md §2, TS.43 ODSA-shaped), over ts_httpc (lib/httpc.h).
 * Every HTTP/JSON detail of the primary lives here; cmd.c never builds a URL.
 *
 * Return values: 0 when the node answered with the expected 2xx status;
 * otherwise a TS_E* code and *err filled in:
 *   TS_ENET      no answer (transport / TLS); err->code "transport"
 *   TS_EPARSE    the node's answer was not the JSON it should be
 *   TS_EINVAL    400   TS_EAUTH 401   TS_EDENIED 403 / 422   TS_ENOTFOUND 404
 *   TS_ECONFLICT 409   TS_ELIMIT 413  TS_EPROTO other statuses (5xx, ...)
 * with err->status the HTTP status and err->code / err->message from the
 * node's {"error":{"code","message"}}.
 * JSON results (*resp) are new references; caller decrefs.
 */
#ifndef TS_PRIMARY_NODEAPI_H
#define TS_PRIMARY_NODEAPI_H

#include <stddef.h>

#include <jansson.h>

#define NODEAPI_RETRIES 3 /* extra attempts of a non-idempotent call, same key */

typedef struct nodeapi nodeapi;

typedef struct nodeapi_error {
	long status;       /* HTTP status, 0 when none arrived */
	char code[64];     /* node error code, or "transport" / "bad_response" */
	char message[512];
} nodeapi_error;

/* base_url "https://host:port" (a trailing '/' is ignored). cert/key NULL =
 * server-authenticated TLS only (enrollment). Strings are copied. */
int nodeapi_new(const char *base_url, const char *ca_file, const char *cert_file,
    const char *key_file, nodeapi **out);
void nodeapi_free(nodeapi *n); /* NULL ok; wipes the token */

/* POST /v1/enroll {"code","csr","name"} -> 200/201 {"device_id","certificate","user",...}.
 * name may be NULL. */
int nodeapi_enroll(nodeapi *n, const char *code, const char *csr_pem, const char *name,
    json_t **resp, nodeapi_error *err);

/* POST /v1/session {"passphrase"} -> {"token","expires_in"}; the token is kept
 * in n and sent as "Authorization: Bearer" by the calls that need it. */
int nodeapi_login(nodeapi *n, const char *passphrase, nodeapi_error *err);

/* GET /v1/apps -> {"apps":[...]} (S2). */
int nodeapi_apps(nodeapi *n, json_t **resp, nodeapi_error *err);

/* POST /v1/shares with a fresh Idempotency-Key (S4); 201 -> the share with
 * "confirmation" (S5). Retried with the same key on retryable failures.
 * duration_s 0 = not sent; device_name NULL/"" = not sent. */
int nodeapi_share_create(nodeapi *n, const char *eid, const char *app_id,
    long long duration_s, const char *device_name, json_t **resp, nodeapi_error *err);
/* The same with an operation: "share" (default) or "move" (the provider
 * sees a TS.43 transfer and does not time-limit the copy). */
int nodeapi_share_create_op(nodeapi *n, const char *eid, const char *app_id,
    long long duration_s, const char *device_name, const char *operation, json_t **resp,
    nodeapi_error *err);
/* The same with cc_hash (SHA-256 hex of a confirmation code the user chose,
 * "confirmation_code_hash"), NULL = none. */
int nodeapi_share_create_cc(nodeapi *n, const char *eid, const char *app_id, long long duration_s,
    const char *device_name, const char *operation, const char *cc_hash, json_t **resp, nodeapi_error *err);

/* GET /v1/devices -> {"devices":[...],"this_device"} (needs the token). */
int nodeapi_devices(nodeapi *n, json_t **resp, nodeapi_error *err);
/* POST /v1/devices/{device_id}/revoke {} ("self": this device) -> 200
 * {"device_id","state":"revoked"} (needs the token). */
int nodeapi_device_revoke(nodeapi *n, const char *device_id, json_t **resp, nodeapi_error *err);

/* GET /v1/shares -> {"shares":[...]}. */
int nodeapi_shares(nodeapi *n, json_t **resp, nodeapi_error *err);

/* POST /v1/shares/{id}/cancel {} with a fresh Idempotency-Key (S7);
 * 200/202 -> the share. Retried like nodeapi_share_create. */
int nodeapi_share_cancel(nodeapi *n, const char *share_id, json_t **resp, nodeapi_error *err);

/* POST /v1/apps/{app_id}/release {"share_id"} with a fresh Idempotency-Key,
 * retried like nodeapi_share_create: the last step of a move, once the share
 * is installed -> 200 {"app_id","state":"moved","share_id","associated_app_id"}.
 * 409 move_incomplete / app_moved, 404 unknown_app / unknown_share. app_id
 * and share_id must be URL-safe ids (TS_EINVAL otherwise). */
int nodeapi_app_release(nodeapi *n, const char *app_id, const char *share_id, json_t **resp,
    nodeapi_error *err);

/* Called per event of GET /v1/events?share=ID; data is the parsed JSON
 * (borrowed, NULL if it was not JSON). Return nonzero to stop waiting. */
typedef int (*nodeapi_event_cb)(const char *event, const char *id, const json_t *data,
    void *arg);

/* Streams the share's events until cb stops (0) or timeout_ms passes
 * (TS_ETIMEOUT). A broken stream is reopened with Last-Event-ID; events
 * with an id not above the last one seen are not delivered twice.
 * A refused stream (4xx) ends with its error. */
int nodeapi_wait_events(nodeapi *n, const char *share_id, long timeout_ms,
    nodeapi_event_cb cb, void *arg, nodeapi_error *err);

/* Pure: 1 if a call that returned rc with HTTP status may be repeated with
 * the same Idempotency-Key (no answer, or HTTP 502/503/504 whatever rc
 * the status was turned into), else 0. */
int nodeapi_retryable(int rc, long status);
/* Pure: TS_E* code for an HTTP error status (see above); 0 for 2xx. */
int nodeapi_status_err(long status);

#endif
