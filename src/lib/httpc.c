/*
 * httpc.c — HTTPS client over libcurl: JSON requests and SSE streams.
 *
 * Event streams: one easy handle per ts_httpc, reset (not recreated) before
 * each request so that libcurl's connection cache and TLS session cache
 * survive. JSON calls: a second, CONNECT_ONLY handle holds one kept-alive
 * connection, and the HTTP/1.1 exchange on it is ours (see the JSON part).
 */
#include "lib/httpc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "lib/http1.h"
#include "lib/json.h"
#include "lib/sse.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define HTTPC_DEFAULT_TIMEOUT_MS 30000L
#define HTTPC_MAX_HEADERS 32
#define HTTPC_HEADER_MAX 1024
#define HTTPC_ORIGIN_MAX 512       /* host[:port] of a JSON call's URL */
#define HTTPC_KEEP_BUF (64u * 1024u) /* a request buffer up to this size is kept */

struct body_buf {
	char *data;
	size_t len;
	size_t cap;
};

struct ts_httpc {
	CURL *easy;             /* event streams */
	CURL *conn;             /* JSON calls: CONNECT_ONLY, NULL = no connection */
	CURLSH *share;          /* TLS sessions of conn, across reconnects */
	curl_socket_t sock;     /* conn's socket */
	char origin[HTTPC_ORIGIN_MAX]; /* where conn goes, "" if nowhere */
	char conn_err[CURL_ERROR_SIZE];
	char *rbuf;             /* received, not yet parsed (HTTPC_RBUF) */
	struct body_buf wbuf;   /* the request being sent */
	char *ca_file;
	char *cert_file;
	char *key_file;
	long timeout_ms;
	int (*tick)(void *arg); /* see ts_httpc_set_tick */
	void *tick_arg;
	int sse_was_open;       /* see ts_httpc_sse_was_open */
};

int
ts_httpc_sse_was_open(const ts_httpc *c)
{
	return c->sse_was_open;
}

void
ts_httpc_set_tick(ts_httpc *c, int (*tick)(void *arg), void *arg)
{
	c->tick = tick;
	c->tick_arg = arg;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	/* CURLOPT_NOSIGNAL (needed with threads) also stops libcurl from
	 * ignoring SIGPIPE around its writes; a server closing the TLS
	 * connection must not kill the client process. */
	signal(SIGPIPE, SIG_IGN);
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out ? 0 : TS_ENOMEM;
}

int
ts_httpc_new(const ts_httpc_opts *opts, ts_httpc **out)
{
	if (opts == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return TS_ENET;
	struct ts_httpc *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TS_ENOMEM;
	int rc = TS_ENOMEM;
	if (dup_opt(opts->ca_file, &c->ca_file) != 0 ||
	    dup_opt(opts->cert_file, &c->cert_file) != 0 ||
	    dup_opt(opts->key_file, &c->key_file) != 0)
		goto fail;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
	c->sock = CURL_SOCKET_BAD;
	c->easy = curl_easy_init();
	c->share = curl_share_init();
	if (c->easy == NULL || c->share == NULL ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		goto fail;
	*out = c;
	return 0;
fail:
	ts_httpc_free(c);
	return rc;
}

void
ts_httpc_free(ts_httpc *c)
{
	if (c == NULL)
		return;
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	if (c->conn != NULL)
		curl_easy_cleanup(c->conn);
	if (c->share != NULL)
		curl_share_cleanup(c->share);
	free(c->rbuf);
	free(c->wbuf.data);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c);
}

static void
set_err(char *errbuf, size_t errcap, const char *curl_err, CURLcode cc)
{
	if (errbuf == NULL || errcap == 0)
		return;
	snprintf(errbuf, errcap, "%s", curl_err[0] ? curl_err : curl_easy_strerror(cc));
}

/* Our client certificate goes out alone, without the chain OpenSSL would
 * otherwise build from CURLOPT_CAINFO (the trust store for the server) and
 * append: a node verifies device certificates against its own CA, so the CA
 * copy was never used, yet the node parsed it at every handshake and kept it
 * (with its decoded public key) for the connection's life — ~5 kB per idle
 * event stream (measured in bench/, issue 9). A chain written in the
 * certificate file itself is still sent. */
static CURLcode
ssl_ctx_cb(CURL *e, void *sslctx, void *arg)
{
	(void)e;
	(void)arg;
	SSL_CTX_set_mode((SSL_CTX *)sslctx, SSL_MODE_NO_AUTO_CHAIN);
	return CURLE_OK;
}

/* The JSON calls' connection also reads ahead: a TLS record in one recv
 * instead of its 5-byte header first and the rest in a second one. Safe
 * there because exchange() polls only after curl_easy_recv said there is
 * nothing (SSL_read had no whole record buffered); not for the event
 * streams, whose waiting libcurl does (it asks SSL_pending, which does not
 * count bytes read ahead). */
static CURLcode
conn_ctx_cb(CURL *e, void *sslctx, void *arg)
{
	(void)e;
	(void)arg;
	SSL_CTX_set_mode((SSL_CTX *)sslctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_read_ahead((SSL_CTX *)sslctx, 1);
	return CURLE_OK;
}

/* The connection's checks: TLS trust, client certificate, HTTPS only,
 * TLS >= 1.2, connect timeout. */
static int
setup_tls(ts_httpc *c, CURL *e)
{
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms) != CURLE_OK;
	if (c->ca_file != NULL)
		bad |= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) != CURLE_OK;
	if (c->cert_file != NULL) {
		bad |= curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb) != CURLE_OK;
	}
	if (c->key_file != NULL) {
		bad |= curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
	}
	return bad ? TS_EINVAL : 0;
}

/* Options common to every event-stream request. */
static int
setup_common(ts_httpc *c, const char *url, char *curl_err)
{
	CURL *e = c->easy;
	curl_easy_reset(e);
	curl_err[0] = '\0';
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK;
	bad |= setup_tls(c, e) != 0;
	return bad ? TS_EINVAL : 0;
}

/* Builds the header list: fixed ones first, then the caller's (at most
 * HTTPC_MAX_HEADERS, each shorter than HTTPC_HEADER_MAX, no CR/LF). */
static int
build_headers(const char *const *fixed, const char *const *extra, struct curl_slist **out)
{
	struct curl_slist *l = NULL;
	*out = NULL;
	for (size_t i = 0; fixed && fixed[i]; i++) {
		struct curl_slist *n = curl_slist_append(l, fixed[i]);
		if (n == NULL)
			goto nomem;
		l = n;
	}
	for (size_t i = 0; extra && extra[i]; i++) {
		if (i >= HTTPC_MAX_HEADERS || strlen(extra[i]) >= HTTPC_HEADER_MAX ||
		    strpbrk(extra[i], "\r\n") != NULL) {
			curl_slist_free_all(l);
			return TS_EINVAL;
		}
		struct curl_slist *n = curl_slist_append(l, extra[i]);
		if (n == NULL)
			goto nomem;
		l = n;
	}
	*out = l;
	return 0;
nomem:
	curl_slist_free_all(l);
	return TS_ENOMEM;
}

/* ---- JSON calls: HTTP/1.1 of our own over a libcurl connection ----------
 *
 * A provider call through curl_easy_perform cost the node ~4x the CPU of the
 * same keep-alive exchange done with plain OpenSSL (issue 9, bench/httpc.c
 * and bench/insitu.sh): per request libcurl re-runs its whole transfer
 * state machine (options reset and re-applied, proxy environment looked up,
 * a connection-alive check with a peek, several polls, header parsing into
 * its own structures). So libcurl now only makes the connection (DNS with
 * its timeouts, proxies, TCP, the TLS handshake with every check set in
 * conn_handle: CA, host name, client certificate, TLS >= 1.2, HTTPS only)
 * with CURLOPT_CONNECT_ONLY, and each request is one curl_easy_send of the
 * whole message, then curl_easy_recv until lib/http1 says the response is
 * complete, polling the socket only when nothing is there yet. */

/* Bytes received and not yet consumed by the parser: a whole head must fit. */
#define HTTPC_RBUF (HTTP1_MAX_HEAD + 4096)

static int
body_append(struct body_buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		char *nd = realloc(b->data, ncap);
		if (nd == NULL)
			return TS_ENOMEM;
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static void
conn_drop(ts_httpc *c)
{
	if (c->conn != NULL)
		curl_easy_cleanup(c->conn); /* closes the connection */
	c->conn = NULL;
	c->origin[0] = '\0';
	c->sock = CURL_SOCKET_BAD;
}

/* A CONNECT_ONLY handle with every option a connection needs, set once;
 * the TLS session cache is c->share's, so a reconnect resumes. */
static int
conn_handle(ts_httpc *c)
{
	CURL *e = curl_easy_init();
	if (e == NULL)
		return TS_ENOMEM;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->conn_err) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SHARE, c->share) != CURLE_OK;
	bad |= setup_tls(c, e) != 0;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, conn_ctx_cb) != CURLE_OK;
	/* what we speak on it: ALPN offers http/1.1 alone (libcurl's default
	 * offers h2 first, which a server may pick) */
	bad |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	if (bad) {
		curl_easy_cleanup(e);
		return TS_EINVAL;
	}
	c->conn = e;
	return 0;
}

static long
ms_left(int64_t deadline)
{
	int64_t left = deadline - ts_mono_ms();
	return left > 0 ? (long)left : 0;
}

/* Waits until the socket is readable (POLLIN) or writable; 0, or
 * TS_ETIMEOUT at the deadline. */
static int
wait_sock(curl_socket_t s, short ev, int64_t deadline)
{
	for (;;) {
		long left = ms_left(deadline);
		if (left == 0)
			return TS_ETIMEOUT;
		struct pollfd pf = { .fd = s, .events = ev };
		int n = poll(&pf, 1, (int)(left < 1000000 ? left : 1000000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return TS_ENET;
	}
}

/* Connects to origin ("host[:port]") unless already connected there. */
static int
conn_open(ts_httpc *c, const char *origin, int64_t deadline, char *errbuf, size_t errcap)
{
	if (c->conn != NULL && strcmp(c->origin, origin) == 0)
		return 0;
	conn_drop(c);
	int rc = conn_handle(c);
	if (rc != 0)
		return rc;
	char url[HTTPC_ORIGIN_MAX + 16];
	if (ts_snprintf(url, sizeof(url), "https://%s/", origin) != 0)
		return TS_EINVAL;
	long left = ms_left(deadline);
	c->conn_err[0] = '\0';
	if (left == 0 || curl_easy_setopt(c->conn, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->conn, CURLOPT_TIMEOUT_MS, left) != CURLE_OK) {
		conn_drop(c);
		return left == 0 ? TS_ETIMEOUT : TS_EINVAL;
	}
	CURLcode cc = curl_easy_perform(c->conn);
	curl_socket_t s = CURL_SOCKET_BAD;
	if (cc == CURLE_OK && (curl_easy_getinfo(c->conn, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
	    s == CURL_SOCKET_BAD))
		cc = CURLE_COULDNT_CONNECT;
	if (cc != CURLE_OK) {
		set_err(errbuf, errcap, c->conn_err, cc);
		conn_drop(c);
		return cc == CURLE_OPERATION_TIMEDOUT ? TS_ETIMEOUT : TS_ENET;
	}
	c->sock = s;
	snprintf(c->origin, sizeof(c->origin), "%s", origin);
	return 0;
}

/* Splits an https URL into its authority (host[:port], the Host header and
 * the connection's key) and request target (path and query, "/" if none;
 * the fragment dropped). */
static int
split_url(const char *url, char *origin, size_t ocap, const char **target, size_t *tlen,
    char *errbuf, size_t errcap)
{
	if (strncasecmp(url, "https://", 8) != 0) {
		if (errbuf != NULL && errcap > 0)
			snprintf(errbuf, errcap, "only https:// URLs are allowed");
		return TS_ENET;
	}
	const char *a = url + 8;
	size_t alen = strcspn(a, "/?#");
	const char *t = a + alen;
	size_t n = strcspn(t, "#");
	int bad = alen == 0 || alen >= ocap || memchr(a, '@', alen) != NULL;
	for (const char *p = a; *p != '\0' && p < t + n; p++)
		bad |= (unsigned char)*p <= 0x20 || *p == 0x7f;
	if (bad) {
		if (errbuf != NULL && errcap > 0)
			snprintf(errbuf, errcap, "malformed URL");
		return TS_EINVAL;
	}
	memcpy(origin, a, alen);
	origin[alen] = '\0';
	*target = t;
	*tlen = n;
	return 0;
}

static int
is_token(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("!#$%&'*+-.^_`|~", ch) != NULL) || ch == '\0')
			return 0;
	}
	return 1;
}

static int
req_add(struct body_buf *w, const char *s)
{
	return body_append(w, s, strlen(s));
}

/* The whole request message into w. */
static int
build_request(struct body_buf *w, const char *method, const char *origin, const char *target,
    size_t tlen, const char *const *fixed, const char *const *extra, const char *body)
{
	w->len = 0;
	int rc = 0;
	rc |= req_add(w, method);
	rc |= req_add(w, " ");
	if (tlen == 0 || target[0] == '?')
		rc |= req_add(w, "/");
	rc |= body_append(w, target, tlen);
	rc |= req_add(w, " HTTP/1.1\r\nHost: ");
	rc |= req_add(w, origin);
	rc |= req_add(w, "\r\n");
	for (size_t i = 0; fixed[i] != NULL; i++) {
		rc |= req_add(w, fixed[i]);
		rc |= req_add(w, "\r\n");
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		rc |= req_add(w, extra[i]);
		rc |= req_add(w, "\r\n");
	}
	/* a body, or a method that has one (curl sent Content-Length: 0 for an
	 * empty POST or DELETE): Content-Length; a bodiless GET or HEAD: none */
	if (body != NULL || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
		char cl[48];
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", body ? strlen(body) : 0);
		rc |= req_add(w, cl);
	}
	rc |= req_add(w, "\r\n");
	if (body != NULL)
		rc |= req_add(w, body);
	return rc != 0 ? TS_ENOMEM : 0;
}

/* Caller's headers: at most HTTPC_MAX_HEADERS, each "Name: value" with a
 * token name, shorter than HTTPC_HEADER_MAX, no CR/LF. */
static int
check_headers(const char *const *extra)
{
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		const char *colon = strchr(extra[i], ':');
		if (i >= HTTPC_MAX_HEADERS || strlen(extra[i]) >= HTTPC_HEADER_MAX ||
		    strpbrk(extra[i], "\r\n") != NULL || colon == NULL ||
		    !is_token(extra[i], (size_t)(colon - extra[i])))
			return TS_EINVAL;
	}
	return 0;
}

static int
send_all(ts_httpc *c, const char *buf, size_t len, int64_t deadline, CURLcode *cc_out)
{
	size_t off = 0;
	*cc_out = CURLE_OK;
	while (off < len) {
		size_t n = 0;
		c->conn_err[0] = '\0';
		CURLcode cc = curl_easy_send(c->conn, buf + off, len - off, &n);
		if (cc == CURLE_AGAIN) {
			int rc = wait_sock(c->sock, POLLOUT, deadline);
			if (rc != 0)
				return rc;
			continue;
		}
		if (cc != CURLE_OK) {
			*cc_out = cc;
			return TS_ENET;
		}
		off += n;
	}
	return 0;
}

/* One exchange on the open connection. *got_bytes: whether any byte of a
 * response arrived (before that, a reused connection that died may be
 * retried). Sets *reuse to whether the connection may carry the next one. */
static int
exchange(ts_httpc *c, const struct body_buf *req, int head_req, int64_t deadline, http1_resp *p,
    struct body_buf *resp, int *got_bytes, int *reuse, char *errbuf, size_t errcap)
{
	*got_bytes = 0;
	*reuse = 0;
	CURLcode scc;
	int rc = send_all(c, req->data, req->len, deadline, &scc);
	if (rc == TS_ETIMEOUT) {
		if (errbuf != NULL && errcap > 0)
			snprintf(errbuf, errcap, "timed out sending the request");
		return rc;
	}
	if (rc != 0) {
		set_err(errbuf, errcap, c->conn_err, scc);
		return rc;
	}
	http1_resp_init(p, TS_HTTPC_MAX_RESPONSE, head_req);
	size_t have = 0;
	for (;;) {
		size_t n = 0;
		c->conn_err[0] = '\0';
		CURLcode cc = curl_easy_recv(c->conn, c->rbuf + have, HTTPC_RBUF - have, &n);
		if (cc == CURLE_AGAIN) {
			rc = wait_sock(c->sock, POLLIN, deadline);
			if (rc != 0) {
				if (errbuf != NULL && errcap > 0)
					snprintf(errbuf, errcap, "no complete response within %ld ms", c->timeout_ms);
				return rc;
			}
			continue;
		}
		if (cc != CURLE_OK) {
			set_err(errbuf, errcap, c->conn_err, cc);
			return TS_ENET;
		}
		if (n == 0) {
			rc = *got_bytes ? http1_resp_eof(p) : TS_ENET;
			if (rc == 1)
				return 0; /* a body delimited by the close */
			if (errbuf != NULL && errcap > 0)
				snprintf(errbuf, errcap, "%s", *got_bytes ? p->why : "connection closed by the server");
			return TS_ENET;
		}
		*got_bytes = 1;
		have += n;
		size_t off = 0;
		int done = 0;
		for (;;) {
			size_t used = 0, blen = 0;
			const char *b = NULL;
			rc = http1_resp_feed(p, c->rbuf + off, have - off, &used, &b, &blen);
			if (blen > 0 && body_append(resp, b, blen) != 0)
				return TS_ENOMEM;
			off += used;
			if (rc == 1) {
				done = 1;
				break;
			}
			if (rc < 0) {
				if (errbuf != NULL && errcap > 0) {
					if (rc == TS_ELIMIT)
						snprintf(errbuf, errcap, "response larger than %u bytes (%s)",
						    TS_HTTPC_MAX_RESPONSE, p->why);
					else
						snprintf(errbuf, errcap, "malformed HTTP response: %s", p->why);
				}
				return rc == TS_ELIMIT ? rc : TS_ENET;
			}
			if (used == 0 && blen == 0)
				break;
		}
		if (done) {
			/* bytes past the response: not ours to guess at, so no reuse */
			*reuse = p->keep_alive && off == have;
			return 0;
		}
		memmove(c->rbuf, c->rbuf + off, have - off);
		have -= off;
	}
}

int
ts_httpc_json(ts_httpc *c, const char *method, const char *url,
    const char *const *headers, json_t *body, long *status, json_t **resp,
    char *errbuf, size_t errcap)
{
	char *txt = NULL;
	if (body != NULL && (txt = ts_json_dump(body)) == NULL) {
		if (status != NULL)
			*status = 0;
		if (resp != NULL)
			*resp = NULL;
		if (errbuf != NULL && errcap > 0)
			errbuf[0] = '\0';
		return c == NULL || method == NULL || url == NULL ? TS_EINVAL : TS_ENOMEM;
	}
	int rc = ts_httpc_json_text(c, method, url, headers, txt, status, resp, errbuf, errcap);
	free(txt);
	return rc;
}

int
ts_httpc_json_text(ts_httpc *c, const char *method, const char *url,
    const char *const *headers, const char *req_body, long *status, json_t **resp,
    char *errbuf, size_t errcap)
{
	static const char *const fixed[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		NULL,
	};
	struct body_buf rb = { 0 };
	int rc = TS_EINVAL;

	if (status != NULL)
		*status = 0;
	if (resp != NULL)
		*resp = NULL;
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (c == NULL || method == NULL || url == NULL || !is_token(method, strlen(method)))
		return TS_EINVAL;
	int64_t deadline = ts_mono_ms() + c->timeout_ms;
	char origin[HTTPC_ORIGIN_MAX];
	const char *target;
	size_t tlen;
	if ((rc = split_url(url, origin, sizeof(origin), &target, &tlen, errbuf, errcap)) != 0)
		goto fail;
	if ((rc = check_headers(headers)) != 0)
		goto fail;
	if ((rc = build_request(&c->wbuf, method, origin, target, tlen, fixed, headers, req_body)) != 0)
		goto fail;
	if (c->rbuf == NULL && (c->rbuf = malloc(HTTPC_RBUF)) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	http1_resp p;
	int head_req = strcmp(method, "HEAD") == 0;
	/* A reused connection the server closed while idle fails before any
	 * byte of the response: connect again and send once more. Only then:
	 * after a byte arrived the server may have acted on the request (the
	 * ES2+ calls are idempotent by functionCallIdentifier, other callers'
	 * requests need not be). */
	for (int attempt = 0;; attempt++) {
		int reused = c->conn != NULL && strcmp(c->origin, origin) == 0;
		if ((rc = conn_open(c, origin, deadline, errbuf, errcap)) != 0)
			goto fail;
		int got = 0, reuse = 0;
		rb.len = 0;
		rc = exchange(c, &c->wbuf, head_req, deadline, &p, &rb, &got, &reuse, errbuf, errcap);
		if (rc != 0 || !reuse)
			conn_drop(c);
		if (rc == 0)
			break;
		if (rc == TS_ETIMEOUT || got || !reused || attempt > 0)
			goto fail;
		if (errbuf != NULL && errcap > 0)
			errbuf[0] = '\0';
	}
	long code = p.status;
	if (status != NULL)
		*status = code;
	if (rb.len > 0) {
		json_t *j = NULL;
		char perr[160] = "";
		int prc = ts_json_parse(rb.data, rb.len, &j, perr, sizeof(perr));
		if (prc != 0) {
			/* An error status with a non-JSON body (e.g. an HTML error
			 * page from the HTTP layer) is still an HTTP answer: the
			 * status says what happened. A 2xx must be JSON. */
			if (code >= 400) {
				rc = 0;
				goto fail;
			}
			if (errbuf != NULL && errcap > 0)
				snprintf(errbuf, errcap, "HTTP %ld with a non-JSON body: %s", code, perr);
			rc = TS_EPARSE;
			goto fail;
		}
		if (resp != NULL)
			*resp = j;
		else
			json_decref(j);
	}
	rc = 0;
fail:
	/* the request buffer is kept for the next call, unless it grew large */
	if (c != NULL && c->wbuf.cap > HTTPC_KEEP_BUF) {
		free(c->wbuf.data);
		c->wbuf = (struct body_buf){ 0 };
	}
	free(rb.data);
	return rc;
}

struct sse_ctx {
	ts_httpc *c;
	CURL *easy;
	sse_parser *parser;
	long idle_ms;
	int64_t last_data_ms;
	int status_checked;
	long status;
	int stopped;     /* callback returned nonzero */
	int parse_err;   /* parser error (TS_ELIMIT) */
	int idle_expired;
	ts_sse_cb user_cb;
	void *user_arg;
};

/* Between parser and caller: remembers that the caller asked to stop, since
 * its nonzero value could otherwise be mistaken for a parser error code. */
static int
httpc_sse_event(const char *event, const char *id, const char *data, void *arg)
{
	struct sse_ctx *s = arg;
	if (s->user_cb(event, id, data, s->user_arg) != 0) {
		s->stopped = 1;
		return 1;
	}
	return 0;
}

static size_t
sse_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sse_ctx *s = arg;
	size_t n = size * nmemb;
	s->last_data_ms = ts_mono_ms();
	if (!s->status_checked) {
		s->status_checked = 1;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
		if (s->status != 200)
			return 0;
	}
	int rc = sse_parser_feed(s->parser, ptr, n);
	if (s->stopped)
		return 0;
	if (rc != 0) {
		s->parse_err = rc < 0 ? rc : TS_EPROTO;
		return 0;
	}
	return n;
}

/* Called by libcurl at least about once a second, also while idle. */
static int
sse_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct sse_ctx *s = arg;
	if (s->c->tick != NULL && s->c->tick(s->c->tick_arg) != 0) {
		s->stopped = 1;
		return 1;
	}
	if (s->idle_ms > 0 && ts_mono_ms() - s->last_data_ms >= s->idle_ms) {
		s->idle_expired = 1;
		return 1;
	}
	return 0;
}

int
ts_httpc_sse(ts_httpc *c, const char *url, const char *const *headers,
    const char *last_event_id, long idle_timeout_ms, ts_sse_cb cb, void *arg,
    char *errbuf, size_t errcap)
{
	static const char *const fixed[] = {
		"Accept: text/event-stream",
		"Cache-Control: no-cache",
		NULL,
	};
	char curl_err[CURL_ERROR_SIZE];
	struct curl_slist *hl = NULL;
	struct sse_ctx s = { 0 };
	int rc;

	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (c == NULL || url == NULL || cb == NULL)
		return TS_EINVAL;
	c->sse_was_open = 0;
	s.user_cb = cb;
	s.user_arg = arg;
	if ((rc = sse_parser_new(httpc_sse_event, &s, &s.parser)) != 0)
		return rc;
	if ((rc = setup_common(c, url, curl_err)) != 0)
		goto fail;
	if ((rc = build_headers(fixed, headers, &hl)) != 0)
		goto fail;
	if (last_event_id != NULL) {
		char h[HTTPC_HEADER_MAX];
		if (strpbrk(last_event_id, "\r\n") != NULL ||
		    ts_snprintf(h, sizeof(h), "Last-Event-ID: %s", last_event_id) != 0) {
			rc = TS_EINVAL;
			goto fail;
		}
		struct curl_slist *n = curl_slist_append(hl, h);
		if (n == NULL) {
			rc = TS_ENOMEM;
			goto fail;
		}
		hl = n;
	}
	s.c = c;
	s.easy = c->easy;
	s.idle_ms = idle_timeout_ms;
	s.last_data_ms = ts_mono_ms();
	CURL *e = c->easy;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sse_write_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &s) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, sse_progress_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_XFERINFODATA, &s) != CURLE_OK;
	/* No CURLOPT_TIMEOUT_MS: a stream lives as long as it delivers. */
	if (bad) {
		rc = TS_EINVAL;
		goto fail;
	}

	CURLcode cc = curl_easy_perform(e);
	/* body bytes of a 200 arrived: the stream was up, however it ended */
	c->sse_was_open = s.status_checked && s.status == 200;
	if (s.stopped) {
		rc = 0;
	} else if (s.parse_err) {
		rc = s.parse_err;
		if (errbuf != NULL && errcap > 0)
			snprintf(errbuf, errcap, "event stream: %s", ts_strerror(rc));
	} else if (s.idle_expired) {
		rc = TS_ETIMEOUT;
		if (errbuf != NULL && errcap > 0)
			snprintf(errbuf, errcap, "no data for %ld ms", idle_timeout_ms);
	} else if (s.status_checked && s.status != 200) {
		rc = TS_EPROTO;
		if (errbuf != NULL && errcap > 0)
			snprintf(errbuf, errcap, "HTTP %ld instead of an event stream", s.status);
	} else if (cc == CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200) {
			/* A non-200 with an empty body never reached the write callback. */
			rc = TS_EPROTO;
			if (errbuf != NULL && errcap > 0)
				snprintf(errbuf, errcap, "HTTP %ld instead of an event stream", code);
		} else {
			rc = TS_EIO;
			if (errbuf != NULL && errcap > 0)
				snprintf(errbuf, errcap, "server closed the event stream");
		}
	} else {
		rc = TS_ENET;
		set_err(errbuf, errcap, curl_err, cc);
	}
fail:
	curl_slist_free_all(hl);
	sse_parser_free(s.parser);
	return rc;
}
