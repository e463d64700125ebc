/*
 * httpc.c — HTTPS client over libcurl: JSON requests and SSE streams.
 *
 * One easy handle per ts_httpc, reset (not recreated) before each request so
 * that libcurl's connection cache and TLS session cache survive: requests to
 * the same server reuse the TLS connection (keep-alive).
 */
#include "lib/httpc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "lib/json.h"
#include "lib/sse.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define HTTPC_DEFAULT_TIMEOUT_MS 30000L
#define HTTPC_MAX_HEADERS 32
#define HTTPC_HEADER_MAX 1024

struct ts_httpc {
	CURL *easy;
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
	c->easy = curl_easy_init();
	if (c->easy == NULL)
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

/* Options common to every request: TLS trust, client certificate, HTTPS only. */
static int
setup_common(ts_httpc *c, const char *url, char *curl_err)
{
	CURL *e = c->easy;
	curl_easy_reset(e);
	curl_err[0] = '\0';
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK;
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

struct body_buf {
	char *data;
	size_t len;
	size_t cap;
	int overflow;
};

static size_t
body_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body_buf *b = arg;
	size_t n = size * nmemb;
	if (n > TS_HTTPC_MAX_RESPONSE - b->len) {
		b->overflow = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		char *nd = realloc(b->data, ncap);
		if (nd == NULL)
			return 0;
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
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
		"Expect:", /* no 100-continue round trip */
		NULL,
	};
	char curl_err[CURL_ERROR_SIZE];
	struct curl_slist *hl = NULL;
	struct body_buf rb = { 0 };
	int rc = TS_EINVAL;

	if (status != NULL)
		*status = 0;
	if (resp != NULL)
		*resp = NULL;
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (c == NULL || method == NULL || url == NULL)
		return TS_EINVAL;
	if ((rc = setup_common(c, url, curl_err)) != 0)
		goto fail;
	if ((rc = build_headers(fixed, headers, &hl)) != 0)
		goto fail;
	CURL *e = c->easy;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_write_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &rb) != CURLE_OK;
	if (strcmp(method, "GET") == 0 && req_body == NULL) {
		bad |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	} else {
		/* POSTFIELDS makes curl send the body; CUSTOMREQUEST renames the
		 * method for PUT/DELETE/PATCH or a GET with a body. */
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(req_body ? strlen(req_body) : 0)) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req_body ? req_body : "") != CURLE_OK;
		if (strcmp(method, "POST") != 0)
			bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	}
	if (bad) {
		rc = TS_EINVAL;
		goto fail;
	}

	CURLcode cc = curl_easy_perform(e);
	if (cc != CURLE_OK) {
		if (rb.overflow) {
			rc = TS_ELIMIT;
			if (errbuf != NULL && errcap > 0)
				snprintf(errbuf, errcap, "response larger than %u bytes",
				    TS_HTTPC_MAX_RESPONSE);
		} else {
			rc = cc == CURLE_OPERATION_TIMEDOUT ? TS_ETIMEOUT : TS_ENET;
			set_err(errbuf, errcap, curl_err, cc);
		}
		goto fail;
	}
	long code = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
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
	curl_slist_free_all(hl);
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
