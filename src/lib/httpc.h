/*
 * httpc.h — HTTPS client over libcurl (OpenSSL): JSON requests and
 * server-sent-event streams, with optional client certificate.
 * One ts_httpc per thread; it keeps connections alive between requests
 * (JSON calls and event streams each on their own connection).
 */
#ifndef TS_HTTPC_H
#define TS_HTTPC_H

#include <stddef.h>

#include <jansson.h>

#define TS_HTTPC_MAX_RESPONSE (1u << 20)

typedef struct ts_httpc ts_httpc;

typedef struct ts_httpc_opts {
	const char *ca_file;   /* PEM CA that the server certificate must chain to */
	const char *cert_file; /* client certificate (PEM), NULL = none */
	const char *key_file;  /* client key (PEM), NULL = none */
	long timeout_ms;       /* whole request, 0 = 30000 */
} ts_httpc_opts;

/* Strings in opts are copied. */
int ts_httpc_new(const ts_httpc_opts *opts, ts_httpc **out);
void ts_httpc_free(ts_httpc *c); /* NULL ok */

/* Sends method url with a JSON body (borrowed, may be NULL) and extra headers
 * (NULL-terminated array of "Name: value", may be NULL). *status gets the HTTP
 * status; *resp the parsed JSON body (NULL when empty), caller decrefs.
 * Returns 0 whenever an HTTP response arrived (whatever its status), TS_ENET
 * on a transport/TLS error or a malformed HTTP response (errbuf, if given,
 * says why), TS_ETIMEOUT when the whole call took longer than timeout_ms,
 * TS_ELIMIT on a body over TS_HTTPC_MAX_RESPONSE, TS_EPARSE on a non-JSON
 * 2xx body, TS_EINVAL on a URL that is not https://host[:port][/path][?query]
 * without user info, a method that is not a token or a header that is not
 * "Name: value" (nothing sent then).
 * A kept-alive connection found closed before any byte of the response came
 * is replaced and the request sent once more: callers' requests must be
 * safe to repeat in that case (the server may have read it, never answered). */
int ts_httpc_json(ts_httpc *c, const char *method, const char *url,
    const char *const *headers, json_t *body, long *status, json_t **resp,
    char *errbuf, size_t errcap);
/* ts_httpc_json with the body as JSON text (borrowed, may be NULL: no
 * body), sent as it is. */
int ts_httpc_json_text(ts_httpc *c, const char *method, const char *url,
    const char *const *headers, const char *body, long *status, json_t **resp,
    char *errbuf, size_t errcap);

/* One server-sent event, as delivered to the callback (strings borrowed,
 * valid during the call). Return nonzero from the callback to stop. */
typedef int (*ts_sse_cb)(const char *event, const char *id, const char *data, void *arg);

/* Optional hook, called about once a second while ts_httpc_sse waits
 * (libcurl's progress callback), also when no data arrives: return nonzero
 * to end the stream as if the event callback had asked (ts_httpc_sse returns
 * 0). Lets a long-lived stream notice a stop request or due housekeeping
 * without reconnecting. tick == NULL clears it. */
void ts_httpc_set_tick(ts_httpc *c, int (*tick)(void *arg), void *arg);

/* GETs url as text/event-stream and calls cb per event until the callback
 * stops it (returns 0), the server closes (TS_EIO), nothing arrives for
 * idle_timeout_ms (TS_ETIMEOUT) or a transport error (TS_ENET). Sends
 * Last-Event-ID when last_event_id is not NULL. */
/* 1 if the last ts_httpc_sse call got its event stream open (HTTP 200 and
 * body bytes) before it ended, however it ended (a reconnect after a stream
 * that was up is not a failure to back off from). */
int ts_httpc_sse_was_open(const ts_httpc *c);
int ts_httpc_sse(ts_httpc *c, const char *url, const char *const *headers,
    const char *last_event_id, long idle_timeout_ms, ts_sse_cb cb, void *arg,
    char *errbuf, size_t errcap);

#endif
