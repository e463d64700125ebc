/*
 * httpd.c — HTTPS server glue: libevent evhttp over bufferevent_openssl.
 *
 * Every accepted connection gets its own SSL object (from one SSL_CTX per
 * server) wrapped in an OpenSSL bufferevent in accepting state; evhttp then
 * parses HTTP on top of it. All of it runs on the caller's event_base: one
 * thread, no thread per connection.
 *
 * Routing is a linear table (first match wins); servers here have a few dozen
 * routes at most, so O(routes) per request is cheaper than anything cleverer.
 *
 * Nothing here ends a request behind the handler's back: a handler that
 * starts a chunked reply (evhttp_send_reply_start, used for SSE streams)
 * keeps the request until it calls evhttp_send_reply_end or the connection
 * goes away.
 */
#include "lib/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http_struct.h> /* ts_httpd_stream_idle: the request's own fields */
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define HTTPD_MAX_ROUTES 256
#define HTTPD_DEFAULT_TIMEOUT_S 60
#define HTTPD_VERIFY_DEPTH 4
#define HTTPD_ERRMSG_MAX 512
#define HTTPD_TLS13_SUITES "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
/* Out of descriptors (EMFILE/ENFILE): the listener pauses this long, sheds
 * one waiting connection with the spare descriptor, and logs at most once
 * per HTTPD_ACCEPT_LOG_S (with the count), instead of spinning on a
 * readable listening socket and logging every failed accept(). */
#define HTTPD_ACCEPT_PAUSE_MS 250
#define HTTPD_ACCEPT_LOG_S 10

struct httpd_route {
	enum evhttp_cmd_type cmd;
	char *path;  /* without the trailing '*' for prefix routes */
	size_t plen;
	int prefix;
	ts_httpd_cb cb;
	void *arg;
};

struct ts_httpd {
	struct event_base *base; /* borrowed */
	struct evhttp *http;
	struct evhttp_bound_socket *sock; /* owned by http */
	SSL_CTX *ctx;
	uint16_t port;
	size_t max_body;
	struct httpd_route *routes;
	size_t n_routes;
	struct httpd_tls_stats {
		uint64_t ok, failed; /* event-loop thread only */
	} tls;
	int spare_fd;                 /* /dev/null, given up to shed a connection at EMFILE */
	struct event *accept_resume;  /* re-enables the paused listener */
	uint64_t accept_errors;       /* since the last log line */
	uint64_t accept_errors_total;
	time_t accept_logged;
};

/* Once a connection's handshake is counted, the connection's own info
 * callback is set to this no-op: it overrides the context's, so nothing
 * is counted twice, and it costs no allocation (ex-data on an SSL is a
 * 64-byte stack per connection, kept for its whole life). */
static void
tls_info_counted(const SSL *ssl, int where, int ret)
{
	(void)ssl;
	(void)where;
	(void)ret;
}

/* A resumed TLS 1.3 handshake asks for no certificate: the client's
 * identity is the ticket's session (its certificate and verify result as
 * first verified). But OpenSSL 3.0's server keeps the handshake transcript
 * buffer (a memory BIO holding the ClientHello with its ticket, ~1.2 kB) for
 * the connection's whole life whenever the verify mode has SSL_VERIFY_PEER:
 * only a client Certificate message frees it, and a resumption has none
 * (issue 9: an idle stream that resumed held ~1.4 kB more than one that did
 * not). So, once a ClientHello is processed (the state is still
 * TLS_ST_SR_CLNT_HELLO, with SSL_session_reused known, before ServerHello
 * is made), a TLS 1.3 resumption gets verify mode none, and ServerHello
 * then lets the buffer go; any other handshake gets the context's mode.
 * Decided afresh for each ClientHello: after a HelloRetryRequest the second
 * one that does not resume still asks for the client's certificate. */
static void
tls_verify_mode_for(SSL *ssl)
{
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	int resumed = SSL_session_reused(ssl) && SSL_version(ssl) == TLS1_3_VERSION;
	int mode = resumed ? SSL_VERIFY_NONE : SSL_CTX_get_verify_mode(ctx);
	if (SSL_get_verify_mode(ssl) != mode)
		SSL_set_verify(ssl, mode, SSL_CTX_get_verify_callback(ctx));
}

/* Counts each connection's handshake once: done, or an alert we sent
 * before it finished (bad client certificate, protocol error); and sets
 * the verify mode of a resumption (tls_verify_mode_for). */
static void
tls_info_cb(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if ((where & SSL_CB_ACCEPT_LOOP) == SSL_CB_ACCEPT_LOOP && SSL_get_state(ssl) == TLS_ST_SR_CLNT_HELLO) {
		tls_verify_mode_for((SSL *)ssl);
		return;
	}
	struct httpd_tls_stats *st = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (st == NULL)
		return;
	if (where & SSL_CB_HANDSHAKE_DONE)
		st->ok++;
	else if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE) && !SSL_is_init_finished(ssl))
		st->failed++;
	else
		return;
	SSL_set_info_callback((SSL *)ssl, tls_info_counted);
}

/* Hooks the handshake counter of h into ctx. */
static void
tls_count_into(ts_httpd *h, SSL_CTX *ctx)
{
	SSL_CTX_set_app_data(ctx, &h->tls);
	SSL_CTX_set_info_callback(ctx, tls_info_cb);
}

void
ts_httpd_tls_stats(const ts_httpd *h, uint64_t *ok, uint64_t *failed)
{
	*ok = h != NULL ? h->tls.ok : 0;
	*failed = h != NULL ? h->tls.failed : 0;
}

static const char *
status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return status < 400 ? "OK" : "Error";
	}
}

static int
method_from_str(const char *m, enum evhttp_cmd_type *out)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type cmd;
	} tab[] = {
		{ "GET", EVHTTP_REQ_GET },
		{ "POST", EVHTTP_REQ_POST },
		{ "PUT", EVHTTP_REQ_PUT },
		{ "DELETE", EVHTTP_REQ_DELETE },
		{ "PATCH", EVHTTP_REQ_PATCH },
		{ "HEAD", EVHTTP_REQ_HEAD },
		{ "OPTIONS", EVHTTP_REQ_OPTIONS },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(m, tab[i].name) == 0) {
			*out = tab[i].cmd;
			return 0;
		}
	}
	return TS_EINVAL;
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "?";
	}
}

static void
log_ssl_errors(const char *what)
{
	char buf[256];
	log_error("%s: %s", what, pki_last_error(buf, sizeof(buf)));
}

static void set_err(const ts_httpd_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The reason ts_httpd_new failed, for the caller's message (opts->errbuf). */
static void
set_err(const ts_httpd_opts *o, const char *fmt, ...)
{
	if (o->errbuf == NULL || o->errcap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->errbuf, o->errcap, fmt, ap);
	va_end(ap);
}

/* A PEM file OpenSSL refused: name a missing or unreadable file as such. */
static void
file_err(const ts_httpd_opts *o, const char *what, const char *file)
{
	if (access(file, R_OK) != 0)
		set_err(o, "%s %s: %s", what, file, errno == ENOENT ? "no such file" : strerror(errno));
	else {
		char buf[256];
		set_err(o, "%s %s: %s", what, file, pki_last_error(buf, sizeof(buf)));
	}
}

/* The session-ticket keys from o->ticket_key_file (80 bytes: the ticket
 * key name 16, HMAC-SHA256 key 32, AES-256 key 32, as OpenSSL takes them).
 * Without it each process makes its own at random, and a ticket issued by
 * one process of several on one port (SO_REUSEPORT) is refused by the
 * others: the returning client falls back to a full handshake. */
#define HTTPD_TICKET_KEYS TS_HTTPD_TICKET_KEY_LEN
static int
load_ticket_keys(const ts_httpd_opts *o, SSL_CTX *ctx)
{
	unsigned char k[HTTPD_TICKET_KEYS + 1];
	FILE *f = fopen(o->ticket_key_file, "rb");
	if (f == NULL) {
		set_err(o, "session ticket key %s: %s", o->ticket_key_file, strerror(errno));
		return -1;
	}
	size_t got = fread(k, 1, sizeof(k), f);
	fclose(f);
	int rc = 0;
	if (got != HTTPD_TICKET_KEYS) {
		set_err(o, "session ticket key %s: must hold exactly %d random bytes (head -c %d /dev/urandom)",
		    o->ticket_key_file, HTTPD_TICKET_KEYS, HTTPD_TICKET_KEYS);
		rc = -1;
	} else if (SSL_CTX_set_tlsext_ticket_keys(ctx, k, HTTPD_TICKET_KEYS) != 1) {
		set_err(o, "session ticket key %s: refused by OpenSSL", o->ticket_key_file);
		rc = -1;
	}
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

static int
make_ssl_ctx(const ts_httpd_opts *o, SSL_CTX **out)
{
	/* Fixed context id: OpenSSL refuses to resume sessions of a verifying
	 * server without one. */
	static const unsigned char sid_ctx[] = "tapshare-httpd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return TS_ENOMEM;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION);
	/* Idle connections (event streams) give their read/write buffers back
	 * (~34 kB per connection otherwise). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* No server-side session cache (it would keep every client's session
	 * and certificate in memory): returning clients resume with stateless
	 * session tickets (TLS 1.3 and 1.2, on by default), which need none. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* TLS 1.3: ChaCha20-Poly1305 first (the server's order wins,
	 * SSL_OP_CIPHER_SERVER_PREFERENCE). Its two cipher contexts per
	 * connection hold ~0.2 kB less than AES-GCM's (a connection lives for
	 * hours as an idle event stream: issue 9); the records here are small,
	 * so its speed does not matter. */
	if (SSL_CTX_set_ciphersuites(ctx, HTTPD_TLS13_SUITES) != 1)
		goto fail;
	if (o->ticket_key_file != NULL && o->ticket_key_file[0] != '\0' && load_ticket_keys(o, ctx) != 0)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
		file_err(o, "certificate", o->cert_file);
		log_ssl_errors(o->cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
		file_err(o, "private key", o->key_file);
		log_ssl_errors(o->key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		set_err(o, "private key %s does not belong to the certificate %s", o->key_file, o->cert_file);
		log_ssl_errors("server key does not match certificate");
		goto fail;
	}
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		goto fail;
	if (o->client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1) {
			file_err(o, "client CA", o->client_ca);
			log_ssl_errors(o->client_ca);
			goto fail;
		}
		/* Tell clients which CA we accept (they pick a certificate by it). */
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca);
		if (names != NULL)
			SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
		int mode = SSL_VERIFY_PEER;
		if (o->require_client_cert)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
		SSL_CTX_set_verify_depth(ctx, HTTPD_VERIFY_DEPTH);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	*out = ctx;
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return TS_ECONFIG;
}

/* evhttp's per-connection bufferevent factory: a fresh SSL in accepting state.
 * evhttp sets the socket on it afterwards. Returning NULL makes evhttp drop
 * the connection. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
	struct ts_httpd *h = arg;
	SSL *ssl = SSL_new(h->ctx);
	if (ssl == NULL) {
		ERR_clear_error();
		return NULL;
	}
	struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* A client that drops the TCP connection without close_notify is
	 * routine; do not turn it into an error on the HTTP layer. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* The listener's accept() failed. Out of descriptors: pause the listener
 * (level-triggered, it would fire again at once), shed one waiting
 * connection through the spare descriptor so that its client is refused
 * rather than left hanging, and log once per interval. */
/* libevent hands the error callback the listener's user data, which evhttp
 * owns (its struct evhttp): the servers are found from it here. */
#define HTTPD_REGISTRY 16
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ts_httpd *registry[HTTPD_REGISTRY];

static void
registry_set(struct ts_httpd *h, int add)
{
	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < HTTPD_REGISTRY; i++) {
		if (add && registry[i] == NULL) {
			registry[i] = h;
			break;
		}
		if (!add && registry[i] == h) {
			registry[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&registry_mu);
}

static struct ts_httpd *
registry_find(const void *http)
{
	struct ts_httpd *h = NULL;
	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < HTTPD_REGISTRY && h == NULL; i++)
		if (registry[i] != NULL && (const void *)registry[i]->http == http)
			h = registry[i];
	pthread_mutex_unlock(&registry_mu);
	return h;
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	struct ts_httpd *h = registry_find(arg);
	if (h == NULL) {
		/* not one of ours (more servers than HTTPD_REGISTRY): pause only */
		evconnlistener_disable(lev);
		return;
	}
	h->accept_errors++;
	h->accept_errors_total++;
	time_t now = time(NULL);
	if (now - h->accept_logged >= HTTPD_ACCEPT_LOG_S) {
		log_warn("accept failed %llu time(s) (%s); pausing the listener %d ms at a time",
		    (unsigned long long)h->accept_errors, strerror(e), HTTPD_ACCEPT_PAUSE_MS);
		h->accept_logged = now;
		h->accept_errors = 0;
	}
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	if (h->spare_fd >= 0) {
		close(h->spare_fd);
		h->spare_fd = -1;
		int c = accept(evconnlistener_get_fd(lev), NULL, NULL);
		if (c >= 0)
			close(c);
		h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	evconnlistener_disable(lev);
	struct timeval tv = { 0, HTTPD_ACCEPT_PAUSE_MS * 1000 };
	if (h->accept_resume != NULL)
		event_add(h->accept_resume, &tv);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ts_httpd *h = arg;
	if (h->spare_fd < 0)
		h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	evconnlistener_enable(evhttp_bound_socket_get_listener(h->sock));
}

uint64_t
ts_httpd_accept_errors(const ts_httpd *h)
{
	return h ? h->accept_errors_total : 0;
}

static _Thread_local uint64_t thread_requests;

uint64_t
ts_httpd_thread_requests(void)
{
	return thread_requests;
}

void
ts_httpd_request_mark(void)
{
	thread_requests++;
}

static void
gen_cb(struct evhttp_request *req, void *arg)
{
	struct ts_httpd *h = arg;
	ts_httpd_request_mark();
	char path[1024];
	if (ts_httpd_path(req, path, sizeof(path)) != 0) {
		ts_httpd_reply_error(req, 404, "not_found", "no such resource");
		return;
	}
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int path_matched = 0;
	char allow[128] = "";
	for (size_t i = 0; i < h->n_routes; i++) {
		const struct httpd_route *r = &h->routes[i];
		int match = r->prefix ? strncmp(path, r->path, r->plen) == 0
				      : strcmp(path, r->path) == 0;
		if (!match)
			continue;
		if (r->cmd == cmd) {
			r->cb(req, r->arg);
			return;
		}
		if (!strstr(allow, method_name(r->cmd))) {
			size_t l = strlen(allow);
			snprintf(allow + l, sizeof(allow) - l, "%s%s", l ? ", " : "",
			    method_name(r->cmd));
		}
		path_matched = 1;
	}
	if (path_matched) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		ts_httpd_reply_error(req, 405, "method_not_allowed", "%s not allowed on this resource",
		    method_name(cmd));
		return;
	}
	ts_httpd_reply_error(req, 404, "not_found", "no such resource");
}

/* evhttp_bind_socket_with_handle with SO_REUSEPORT set before bind(): the
 * same listening socket options otherwise (SO_REUSEADDR, non-blocking,
 * close-on-exec, evhttp's backlog of 128). NULL with errno from bind(). */
static struct evhttp_bound_socket *
bind_reuse_port(struct evhttp *http, struct event_base *base, const char *addr, uint16_t port)
{
	struct evutil_addrinfo hints = { 0 }, *ai = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
	if (evutil_getaddrinfo(addr, ps, &hints, &ai) != 0 || ai == NULL) {
		errno = EADDRNOTAVAIL;
		return NULL;
	}
	struct evconnlistener *lev = evconnlistener_new_bind(base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE, 128,
	    ai->ai_addr, (int)ai->ai_addrlen);
	int e = errno;
	evutil_freeaddrinfo(ai);
	if (lev == NULL) {
		errno = e;
		return NULL;
	}
	struct evhttp_bound_socket *bs = evhttp_bind_listener(http, lev);
	if (bs == NULL) {
		evconnlistener_free(lev);
		errno = ENOMEM;
	}
	return bs;
}

int
ts_httpd_new(struct event_base *base, const ts_httpd_opts *opts, ts_httpd **out)
{
	int rc = TS_EINVAL;
	struct ts_httpd *h = NULL;
	if (base == NULL || opts == NULL || out == NULL || opts->cert_file == NULL ||
	    opts->key_file == NULL)
		return TS_EINVAL;
	*out = NULL;
	/* A peer that resets the connection while we write would otherwise kill
	 * the whole server with SIGPIPE; every program using this wants EPIPE. */
	signal(SIGPIPE, SIG_IGN);

	h = calloc(1, sizeof(*h));
	if (h != NULL)
		h->spare_fd = -1;
	if (h == NULL)
		return TS_ENOMEM;
	h->base = base;
	h->max_body = opts->max_body ? opts->max_body : TS_HTTPD_MAX_BODY;
	if ((rc = make_ssl_ctx(opts, &h->ctx)) != 0)
		goto fail;
	tls_count_into(h, h->ctx);
	rc = TS_ENOMEM;
	h->http = evhttp_new(base);
	if (h->http == NULL)
		goto fail;
	evhttp_set_bevcb(h->http, bev_cb, h);
	evhttp_set_max_body_size(h->http, (ev_ssize_t)h->max_body);
	evhttp_set_max_headers_size(h->http, TS_HTTPD_MAX_HEADERS);
	evhttp_set_timeout(h->http, opts->timeout_s > 0 ? opts->timeout_s : HTTPD_DEFAULT_TIMEOUT_S);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	/* Drain an over-long body before answering 413, so the client reads
	 * the answer instead of a connection reset mid-upload. */
	evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_default_content_type(h->http, "application/json");
	evhttp_set_gencb(h->http, gen_cb, h);

	rc = TS_EIO;
	errno = 0;
	if (opts->reuse_port)
		h->sock = bind_reuse_port(h->http, base, opts->addr ? opts->addr : "127.0.0.1", opts->port);
	else
		h->sock = evhttp_bind_socket_with_handle(h->http,
		    opts->addr ? opts->addr : "127.0.0.1", opts->port);
	if (h->sock == NULL) {
		/* libevent keeps bind()'s errno. */
		int e = errno;
		const char *a = opts->addr ? opts->addr : "127.0.0.1";
		int v6 = strchr(a, ':') != NULL;
		if (e == EADDRINUSE)
			set_err(opts, "address %s%s%s:%u already in use", v6 ? "[" : "", a, v6 ? "]" : "",
			    (unsigned)opts->port);
		else if (e == EACCES)
			set_err(opts, "address %s:%u: permission denied (a port below 1024 needs "
			    "CAP_NET_BIND_SERVICE)", a, (unsigned)opts->port);
		else if (e == EADDRNOTAVAIL)
			set_err(opts, "address %s is not an address of this machine", a);
		else
			set_err(opts, "cannot listen on %s:%u: %s", a, (unsigned)opts->port,
			    e != 0 ? strerror(e) : "bad address");
		log_error("cannot listen on %s:%u", a, (unsigned)opts->port);
		rc = e == EADDRINUSE ? TS_EEXIST : TS_EIO;
		goto fail;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(h->sock);
	/* Responses go out as small TLS records (headers, then body): with Nagle
	 * on, each waited for the peer's delayed ACK (~40 ms per exchange,
	 * measured in bench/). Linux copies TCP_NODELAY from the listening socket
	 * to every accepted one. */
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		log_warn("cannot set TCP_NODELAY on the listening socket");
	h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	h->accept_resume = evtimer_new(base, accept_resume_cb, h);
	if (h->accept_resume == NULL)
		goto fail;
	registry_set(h, 1);
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(h->sock), accept_error_cb);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		goto fail;
	if (ss.ss_family == AF_INET)
		h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		goto fail;
	*out = h;
	return 0;
fail:
	ts_httpd_free(h);
	return rc;
}

int
ts_httpd_reload_tls(ts_httpd *h, const ts_httpd_opts *opts)
{
	if (h == NULL || opts == NULL || opts->cert_file == NULL || opts->key_file == NULL)
		return TS_EINVAL;
	SSL_CTX *ctx = NULL;
	int rc = make_ssl_ctx(opts, &ctx);
	if (rc != 0)
		return rc;
	tls_count_into(h, ctx);
	/* Connections made so far hold a reference to the old context through
	 * their SSL objects and keep it until they close. */
	SSL_CTX_free(h->ctx);
	h->ctx = ctx;
	return 0;
}

void
ts_httpd_free(ts_httpd *h)
{
	if (h == NULL)
		return;
	/* evhttp_free closes listeners and every connection (freeing their
	 * SSL objects through BEV_OPT_CLOSE_ON_FREE) and pending requests. */
	registry_set(h, 0);
	if (h->http != NULL)
		evhttp_free(h->http);
	if (h->accept_resume != NULL)
		event_free(h->accept_resume);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	SSL_CTX_free(h->ctx);
	for (size_t i = 0; i < h->n_routes; i++)
		free(h->routes[i].path);
	free(h->routes);
	free(h);
}

void
ts_event_base_drain(struct event_base *base)
{
	/* Each pass may queue more (a deferred callback drops the last
	 * reference, which queues the finalizer): bounded, not until idle,
	 * since a persistent event could keep it active forever. */
	for (int i = 0; i < 16 && event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) > 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

uint16_t
ts_httpd_port(const ts_httpd *h)
{
	return h ? h->port : 0;
}

int
ts_httpd_route(ts_httpd *h, const char *method, const char *path, ts_httpd_cb cb, void *arg)
{
	if (h == NULL || method == NULL || path == NULL || cb == NULL || path[0] == '\0')
		return TS_EINVAL;
	enum evhttp_cmd_type cmd;
	if (method_from_str(method, &cmd) != 0)
		return TS_EINVAL;
	if (h->n_routes >= HTTPD_MAX_ROUTES)
		return TS_ELIMIT;
	struct httpd_route *nr = realloc(h->routes, (h->n_routes + 1) * sizeof(*nr));
	if (nr == NULL)
		return TS_ENOMEM;
	h->routes = nr;
	struct httpd_route *r = &h->routes[h->n_routes];
	size_t len = strlen(path);
	r->prefix = path[len - 1] == '*';
	r->plen = r->prefix ? len - 1 : len;
	r->path = strndup(path, r->plen);
	if (r->path == NULL)
		return TS_ENOMEM;
	r->cmd = cmd;
	r->cb = cb;
	r->arg = arg;
	h->n_routes++;
	return 0;
}

static SSL *
req_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (conn == NULL)
		return NULL;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	if (bev == NULL)
		return NULL;
	return bufferevent_openssl_get_ssl(bev);
}

X509 *
ts_httpd_peer_cert(struct evhttp_request *req)
{
	SSL *ssl = req ? req_ssl(req) : NULL;
	if (ssl == NULL)
		return NULL;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	/* With SSL_VERIFY_PEER a failed chain already aborts the handshake;
	 * checking the result again keeps this safe if that ever changes. */
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return cert;
}

int
ts_httpd_peer_id(struct evhttp_request *req, char out[65])
{
	X509 *cert = ts_httpd_peer_cert(req);
	if (cert == NULL)
		return TS_ENOTFOUND;
	return pki_cert_pubkey_id(cert, out);
}

int
ts_httpd_peer_addr(struct evhttp_request *req, char *buf, size_t cap)
{
	struct evhttp_connection *conn = req ? evhttp_request_get_connection(req) : NULL;
	char *host = NULL;
	ev_uint16_t port = 0;
	if (conn == NULL || cap == 0)
		return TS_ENOTFOUND;
	evhttp_connection_get_peer(conn, &host, &port);
	if (host == NULL)
		return TS_ENOTFOUND;
	return ts_snprintf(buf, cap, "%s", host);
}

int
ts_httpd_path(struct evhttp_request *req, char *buf, size_t cap)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
	if (p == NULL || p[0] == '\0')
		p = "/";
	size_t len = strlen(p);
	if (cap == 0 || len >= cap)
		return TS_ELIMIT;
	memcpy(buf, p, len + 1);
	return 0;
}

int
ts_httpd_query(struct evhttp_request *req, const char *name, char *buf, size_t cap)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	if (q == NULL)
		return TS_ENOTFOUND;
	struct evkeyvalq kv = { 0 }; /* TAILQ_INIT: empty list */
	kv.tqh_first = NULL;
	kv.tqh_last = &kv.tqh_first;
	if (evhttp_parse_query_str(q, &kv) != 0) {
		evhttp_clear_headers(&kv);
		return TS_EPARSE;
	}
	int rc = TS_ENOTFOUND;
	const char *v = evhttp_find_header(&kv, name);
	if (v != NULL) {
		size_t len = strlen(v);
		if (cap == 0 || len >= cap) {
			rc = TS_ELIMIT;
		} else {
			memcpy(buf, v, len + 1);
			rc = 0;
		}
	}
	evhttp_clear_headers(&kv);
	return rc;
}

const char *
ts_httpd_header(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* struct evhttp_request is libevent's public (if discouraged) layout
 * (event2/http_struct.h); evhttp_request_free tests each of these for NULL,
 * and once the reply has started (chunked) evhttp reads none of them again:
 * the chunks go straight to the connection's buffer, and the end of the
 * reply reads only the input headers (Connection) and the version. */
void
ts_httpd_stream_idle(struct evhttp_request *req)
{
	if (req == NULL)
		return;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *c = evhttp_find_header(in, "Connection");
	int close = c != NULL && evutil_ascii_strcasecmp(c, "close") == 0;
	evhttp_clear_headers(in);
	evhttp_clear_headers(evhttp_request_get_output_headers(req));
	if (close)
		evhttp_add_header(in, "Connection", "close");
	free(req->uri);
	req->uri = NULL;
	if (req->uri_elems != NULL)
		evhttp_uri_free(req->uri_elems);
	req->uri_elems = NULL;
	free(req->remote_host);
	req->remote_host = NULL;
	free(req->host_cache);
	req->host_cache = NULL;
	free(req->response_code_line);
	req->response_code_line = NULL;
	if (req->input_buffer != NULL && evbuffer_get_length(req->input_buffer) == 0) {
		evbuffer_free(req->input_buffer);
		req->input_buffer = NULL;
	}
	if (req->output_buffer != NULL && evbuffer_get_length(req->output_buffer) == 0) {
		evbuffer_free(req->output_buffer);
		req->output_buffer = NULL;
	}
}

/* The BIO of a taken connection: reads and writes its socket like
 * OpenSSL's socket BIO, but answers "no descriptor" to BIO_get_fd. The
 * bufferevent the SSL came from is freed later, by a libevent finalizer that
 * closes whatever descriptor the SSL's BIO then names (BEV_OPT_CLOSE_ON_FREE):
 * it must find none. */
static BIO_METHOD *take_bio_method;
static pthread_once_t take_bio_once = PTHREAD_ONCE_INIT;

static int
take_bio_write(BIO *b, const char *in, int len)
{
	BIO_clear_retry_flags(b);
	ssize_t r = send((int)(intptr_t)BIO_get_data(b), in, (size_t)len, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int
take_bio_read(BIO *b, char *out, int len)
{
	BIO_clear_retry_flags(b);
	ssize_t r = recv((int)(intptr_t)BIO_get_data(b), out, (size_t)len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long
take_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		return -1;
	default:
		return 0;
	}
}

static int
take_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
take_bio_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tapshare stream");
	if (m == NULL || BIO_meth_set_write(m, take_bio_write) != 1 || BIO_meth_set_read(m, take_bio_read) != 1 ||
	    BIO_meth_set_ctrl(m, take_bio_ctrl) != 1 || BIO_meth_set_create(m, take_bio_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	take_bio_method = m;
}

static struct bufferevent *
req_bev(struct evhttp_request *req)
{
	struct evhttp_connection *conn = req != NULL ? evhttp_request_get_connection(req) : NULL;
	return conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
}

int
ts_httpd_take_begin(struct evhttp_request *req, int status, const char *reason, char **head,
    size_t *head_len, int *chunked)
{
	struct bufferevent *bev = req_bev(req);
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	if (ssl == NULL || !SSL_is_init_finished(ssl) || bufferevent_getfd(bev) < 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return TS_EINVAL;
	(void)pthread_once(&take_bio_once, take_bio_init);
	if (take_bio_method == NULL)
		return TS_ENOMEM;
	int ch = req->major > 1 || (req->major == 1 && req->minor >= 1);
	struct evbuffer *b = evbuffer_new();
	if (b == NULL)
		return TS_ENOMEM;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL || strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		date[0] = '\0';
	int rc = evbuffer_add_printf(b, "HTTP/1.%d %d %s\r\n", ch ? 1 : 0, status, reason) < 0;
	struct evkeyval *kv;
	for (kv = evhttp_request_get_output_headers(req)->tqh_first; kv != NULL; kv = kv->next.tqe_next)
		rc |= evbuffer_add_printf(b, "%s: %s\r\n", kv->key, kv->value) < 0;
	if (date[0] != '\0')
		rc |= evbuffer_add_printf(b, "Date: %s\r\n", date) < 0;
	rc |= evbuffer_add_printf(b, "%s\r\n", ch ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n") < 0;
	size_t len = evbuffer_get_length(b);
	char *h = rc == 0 ? malloc(len) : NULL;
	if (h == NULL || evbuffer_remove(b, h, len) != (int)len) {
		free(h);
		evbuffer_free(b);
		return TS_ENOMEM;
	}
	evbuffer_free(b);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	*head = h;
	*head_len = len;
	*chunked = ch;
	return 0;
}

SSL *
ts_httpd_take_end(struct evhttp_request *req, int *fd)
{
	*fd = -1;
	struct evhttp_connection *conn = req != NULL ? evhttp_request_get_connection(req) : NULL;
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	int old = bev != NULL ? bufferevent_getfd(bev) : -1;
	if (ssl == NULL || old < 0) {
		if (conn != NULL)
			evhttp_connection_free(conn);
		return NULL;
	}
	/* The socket moves to a new descriptor; the old one becomes /dev/null,
	 * which evhttp then shuts down and which is closed here (evhttp would
	 * otherwise shut the stream's socket down). The old descriptor has no
	 * events left in epoll (take_begin removed them a loop pass ago). */
	int nfd = fcntl(old, F_DUPFD_CLOEXEC, 0);
	int nul = nfd >= 0 ? open("/dev/null", O_RDWR | O_CLOEXEC) : -1;
	BIO *bio = nul >= 0 ? BIO_new(take_bio_method) : NULL;
	if (bio == NULL || dup2(nul, old) < 0) {
		BIO_free(bio);
		if (nul >= 0)
			close(nul);
		if (nfd >= 0)
			close(nfd);
		evhttp_connection_free(conn);
		return NULL;
	}
	close(nul);
	(void)fcntl(old, F_SETFD, FD_CLOEXEC);
	BIO_set_data(bio, (void *)(intptr_t)nfd);
	SSL_up_ref(ssl);
	SSL_set_bio(ssl, bio, bio); /* frees libevent's socket BIO (it does not close) */
	evhttp_connection_free(conn); /* and req */
	close(old);
	*fd = nfd;
	return ssl;
}

int
ts_httpd_read_json(struct evhttp_request *req, json_t **out)
{
	*out = NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	/* evhttp already enforces max_body; TS_JSON_MAX bounds the parser too. */
	if (len > TS_JSON_MAX) {
		ts_httpd_reply_error(req, 413, "too_large", "body exceeds %u bytes", TS_JSON_MAX);
		return TS_ELIMIT;
	}
	if (len == 0) {
		ts_httpd_reply_error(req, 400, "bad_json", "empty body, a JSON object is required");
		return TS_EPARSE;
	}
	const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	if (data == NULL) {
		ts_httpd_reply_error(req, 500, "internal", "out of memory");
		return TS_ENOMEM;
	}
	char err[200] = "";
	int rc = ts_json_parse(data, len, out, err, sizeof(err));
	if (rc == TS_ELIMIT) {
		ts_httpd_reply_error(req, 413, "too_large", "%s", err[0] ? err : "body too large");
		return rc;
	}
	if (rc != 0) {
		ts_httpd_reply_error(req, 400, "bad_json", "%s", err[0] ? err : "malformed JSON");
		return rc;
	}
	return 0;
}

void
ts_httpd_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	if (body == NULL) {
		evhttp_send_reply(req, status, status_reason(status), NULL);
		return;
	}
	char *s = ts_json_dump(body);
	json_decref(body);
	if (s == NULL) {
		evhttp_send_reply(req, 500, status_reason(500), NULL);
		return;
	}
	ts_httpd_reply_json_text(req, status, s);
	free(s);
}

void
ts_httpd_reply_json_text(struct evhttp_request *req, int status, const char *text)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	if (text == NULL) {
		evhttp_send_reply(req, status, status_reason(status), NULL);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (b == NULL || evbuffer_add(b, text, strlen(text)) != 0) {
		if (b != NULL)
			evbuffer_free(b);
		evhttp_send_reply(req, 500, status_reason(500), NULL);
		return;
	}
	evhttp_remove_header(oh, "Content-Type");
	evhttp_add_header(oh, "Content-Type", "application/json");
	evhttp_add_header(oh, "Cache-Control", "no-store");
	/* evhttp queues the head and the body as separate chains, and
	 * bufferevent_openssl writes each chain as its own TLS record and
	 * write(2). The reply waits in the output buffer until the socket is
	 * writable (the next loop pass): made one chain here, it leaves as one
	 * record and one system call. */
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	evhttp_send_reply(req, status, status_reason(status), b);
	evbuffer_free(b);
	if (bev != NULL)
		(void)evbuffer_pullup(bufferevent_get_output(bev), -1);
}

void
ts_httpd_reply_error(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...)
{
	char msg[HTTPD_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "error",
	    "message", msg);
	/* json_pack refuses non-UTF-8 text (e.g. echoed from a request). */
	if (body == NULL)
		body = json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "error",
		    "message", status_reason(status));
	ts_httpd_reply_json(req, status, body);
}
