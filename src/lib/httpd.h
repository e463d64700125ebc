/*
 * httpd.h — HTTPS server glue over libevent evhttp + bufferevent_openssl,
 * shared by tapshare-node and tapshare-sp. One event loop thread, no thread
 * per connection. TLS 1.2+ only; optional or required client certificates
 * verified against a CA file.
 */
#ifndef TS_HTTPD_H
#define TS_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TS_HTTPD_MAX_BODY (256u * 1024u)
#define TS_HTTPD_MAX_HEADERS 16384

typedef struct ts_httpd ts_httpd;

typedef struct ts_httpd_opts {
	const char *addr;        /* "127.0.0.1" */
	uint16_t port;           /* 0 = ephemeral, see ts_httpd_port */
	const char *cert_file;   /* PEM server certificate (chain) */
	const char *key_file;    /* PEM server key */
	const char *client_ca;   /* PEM CA for client certificates, NULL = none asked */
	int require_client_cert; /* 1: handshake fails without one */
	size_t max_body;         /* 0 = TS_HTTPD_MAX_BODY */
	int timeout_s;           /* idle connection timeout, 0 = 60 */
	int reuse_port;          /* 1: SO_REUSEPORT, so that several processes (of
	                          * the same user) listen on one address:port and
	                          * the kernel spreads new connections over them */
	const char *ticket_key_file; /* NULL/"" = a random session-ticket key per
	                          * process; else a file of exactly 80 secret bytes
	                          * (ticket name 16, HMAC 32, AES 32): every process
	                          * with the same file resumes the others' tickets */
	char *errbuf;            /* optional: why ts_httpd_new failed ("address
	                          * 127.0.0.1:8443 already in use", "certificate
	                          * FILE: no such file"); borrowed */
	size_t errcap;
} ts_httpd_opts;

/* Handler: must reply (ts_httpd_reply_*, or evhttp_send_reply_start for a stream). */
typedef void (*ts_httpd_cb)(struct evhttp_request *req, void *arg);

/* Binds and listens. base is borrowed. TS_EEXIST when the address is in
 * use, TS_ECONFIG for TLS files, TS_EIO for other socket errors; the reason
 * in opts->errbuf. */
int ts_httpd_new(struct event_base *base, const ts_httpd_opts *opts, ts_httpd **out);
/* [tls] session_ticket_key: a file of exactly this many secret bytes (the
 * ticket name, HMAC and AES keys OpenSSL takes together). */
#define TS_HTTPD_TICKET_KEY_LEN 80
void ts_httpd_free(ts_httpd *h); /* NULL ok */
/* After the loop has stopped and every server on it is freed: runs what
 * libevent still has queued — the finalizers of the connections evhttp_free
 * closed, deferred callbacks that hold a reference on a bufferevent — so
 * that event_base_free leaves nothing behind (an SSL connection stopped in
 * the middle of its callbacks otherwise stays allocated, with its SSL_CTX). */
void ts_event_base_drain(struct event_base *base);
/* New TLS certificate, key and client CA (from opts; addr/port ignored) for
 * connections accepted from now on; open connections keep theirs. On error
 * (reason in opts->errbuf) the old ones stay in use. */
int ts_httpd_reload_tls(ts_httpd *h, const ts_httpd_opts *opts);
uint16_t ts_httpd_port(const ts_httpd *h);
/* TLS handshakes so far: completed, and refused by us (an alert sent before
 * the handshake finished). Event-loop thread. */
void ts_httpd_tls_stats(const ts_httpd *h, uint64_t *ok, uint64_t *failed);
/* accept() failures on the listener since start (EMFILE and the like). */
uint64_t ts_httpd_accept_errors(const ts_httpd *h);
/* Routes by exact path (no query) or, when path ends in '*', by prefix.
 * method is "GET", "POST", ...; first match wins; unmatched -> 404 JSON,
 * wrong method -> 405 JSON. Strings are copied. */
int ts_httpd_route(ts_httpd *h, const char *method, const char *path, ts_httpd_cb cb, void *arg);
/* Requests this thread has begun to handle (any ts_httpd): a request
 * boundary for what must not outlive one (store_pg.c's read-ahead). */
uint64_t ts_httpd_thread_requests(void);
/* Counts one more (each request the server dispatches; tests). */
void ts_httpd_request_mark(void);

/* The verified client certificate of the request's connection (borrowed,
 * valid during the callback) or NULL. */
X509 *ts_httpd_peer_cert(struct evhttp_request *req);
/* SHA-256 of the client's public key (pki_pubkey_id) or TS_ENOTFOUND. */
int ts_httpd_peer_id(struct evhttp_request *req, char out[65]);

/* The peer's address (numeric host, no port) of the request's connection,
 * copied into buf; TS_ENOTFOUND without a connection. */
int ts_httpd_peer_addr(struct evhttp_request *req, char *buf, size_t cap);

/* Path without query string, copied into buf. */
int ts_httpd_path(struct evhttp_request *req, char *buf, size_t cap);
/* Query parameter value (decoded) into buf, TS_ENOTFOUND if absent. */
int ts_httpd_query(struct evhttp_request *req, const char *name, char *buf, size_t cap);
/* Request header value (borrowed) or NULL. */
const char *ts_httpd_header(struct evhttp_request *req, const char *name);

/* A long-lived streamed reply (evhttp_send_reply_start, then its first
 * chunk) gives back what only parsing the request and starting the reply
 * needed: the request's and the response's header lists (a client's
 * "Connection: close" is kept: it decides whether the connection closes
 * when the stream ends), the request line (path and query are then no longer
 * available on req), the cached host and peer strings, and the request's
 * own body buffers. The connection, its TLS state and the reply go on as
 * they were. Issue 9: ~0.8 kB of node memory per idle stream. */
void ts_httpd_stream_idle(struct evhttp_request *req);

/* Taking a long-lived streamed reply's connection away from evhttp (issue
 * 9: an idle stream then holds its TLS object, its socket and what its
 * owner keeps, not evhttp's connection, request, bufferevent and buffers).
 *
 * ts_httpd_take_begin, from the request's handler, before any reply: stops
 * evhttp's reads and writes on the connection and makes the response head
 * (status line, req's output headers, Transfer-Encoding: chunked for an
 * HTTP/1.1 request; *chunked says so) in *head (malloc'd, *head_len bytes,
 * the caller's). Fails (< 0, nothing changed) unless the connection is an
 * established TLS connection with nothing queued to write.
 *
 * ts_httpd_take_end, from a LATER loop pass (the event base must have
 * applied the removal of the socket's events: epoll's change list): frees
 * evhttp's connection and req, and returns the connection's SSL and its
 * socket (*fd), both the caller's (SSL_free, close). The SSL then reads and
 * writes *fd through a BIO of its own. NULL on failure (out of
 * descriptors): the connection is then closed and req freed. */
int ts_httpd_take_begin(struct evhttp_request *req, int status, const char *reason, char **head,
    size_t *head_len, int *chunked);
SSL *ts_httpd_take_end(struct evhttp_request *req, int *fd);

/* Reads the body as a JSON object (strict: duplicate keys rejected, size
 * limited). On failure it has already replied 400/413 and returns < 0. */
int ts_httpd_read_json(struct evhttp_request *req, json_t **out);

/* Replies with a JSON body; steals the reference to body (may be NULL for
 * an empty body, e.g. 204). */
void ts_httpd_reply_json(struct evhttp_request *req, int status, json_t *body);
/* The same reply from JSON text already serialised (borrowed; NULL: no
 * body), e.g. an idempotent call's recorded answer: not parsed and dumped
 * again. */
void ts_httpd_reply_json_text(struct evhttp_request *req, int status, const char *text);
/* Replies {"error":{"code":code,"message":...}}. */
void ts_httpd_reply_error(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
