/*
 * http1.h — HTTP/1.1 response parser (RFC 9112): a pure, bounded,
 * incremental parser over the caller's bytes, for ts_httpc's JSON calls.
 *
 * No allocation, no I/O: the caller keeps the bytes it received and calls
 * http1_resp_feed with those not consumed yet; the parser says how many it
 * consumed and hands body bytes back as spans of the caller's buffer.
 */
#ifndef TS_HTTP1_H
#define TS_HTTP1_H

#include <stddef.h>

/* The longest response head (status line + fields, or a trailer section)
 * and the longest chunk-size line (with its extensions) accepted. */
#define HTTP1_MAX_HEAD 16384
#define HTTP1_MAX_CHUNK_LINE 1024

typedef struct http1_resp {
	/* results, valid once the head is parsed (http1_resp_head_done) */
	int status;     /* final status code, 100..599 (1xx interim heads are skipped) */
	int keep_alive; /* 1 = the connection may carry the next request */
	/* parser state: private */
	int state;
	int err;        /* the sticky error, once state is the error state */
	int conn_close; /* a Connection: close was seen */
	int conn_keep;  /* a Connection: keep-alive was seen */
	int have_cl;    /* a Content-Length was seen (value in remaining) */
	int te_seen;    /* a Transfer-Encoding was seen */
	int no_body;    /* HEAD request, 204, 304 */
	int minor;      /* HTTP/1.minor of the final head */
	int chunked;
	int till_close; /* body delimited by the end of the connection */
	size_t max_body;
	size_t body_len;  /* body bytes handed back so far */
	size_t remaining; /* bytes left in the Content-Length body or the current chunk */
	size_t trailer_len;
	const char *why; /* on error: what was wrong (static string) */
} http1_resp;

/* max_body: the most body bytes accepted (decoded, chunked framing not
 * counted); head_request: 1 if the request was HEAD (no body follows). */
void http1_resp_init(http1_resp *p, size_t max_body, int head_request);

/* Feeds buf[0..len): the bytes received and not yet consumed, in order.
 * Sets *used to the bytes consumed (the caller drops them and keeps the
 * rest for the next call, with more bytes appended) and, when it returns
 * body bytes, *body / *body_len to a span inside buf (else *body_len = 0).
 * Returns:
 *   1          the response is complete (bytes after *used belong to no
 *              response: a caller must not reuse the connection then)
 *   0          call again: with the rest of buf if *used or *body_len was
 *              nonzero, else once more bytes arrived
 *   TS_EPROTO  malformed response (p->why says what)
 *   TS_ELIMIT  head, chunk line or trailer too long, or the body larger than
 *              max_body (p->why says which)
 * After an error or completion every call returns the same. A body read
 * until the connection closes (no Content-Length, not chunked) ends with
 * http1_resp_eof. */
int http1_resp_feed(http1_resp *p, const char *buf, size_t len, size_t *used, const char **body,
    size_t *body_len);

/* The connection ended (no more bytes will come): 1 if that completes the
 * response (a body delimited by the close), else TS_EPROTO (truncated;
 * p->why says where). */
int http1_resp_eof(http1_resp *p);

/* 1 once the final head has been parsed (status and keep_alive are valid). */
int http1_resp_head_done(const http1_resp *p);

#endif
