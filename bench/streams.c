/*
 * bench/streams.c — holds N idle authenticated event streams open against a
 * node (issue 9, bench/run.sh BENCH_MODE=streams).
 *
 * One process, one libevent loop, no thread per stream: each stream is a
 * mutual-TLS connection with a primary's device certificate carrying
 * GET /v1/events (from now: no Last-Event-ID), read and discarded
 * (keepalives). At most --inflight handshakes run at once. With --resume
 * every connection after the first resumes its TLS session (a ticket: no
 * certificate signature or verification, as a returning device would). When N streams
 * have answered ": stream open" it writes "open N" to --ready-file and keeps
 * them until SIGTERM/SIGINT or --hold seconds, then exits 0 (1 when fewer
 * than N opened within --open-timeout seconds). 127.0.0.1 only (from
 * --source 127.x.y.z when given: one source address has ~28,000 ports).
 *
 * The caller (run.sh) measures the node: RSS per stream (/proc/PID/status)
 * and the CPU and latency of the flows it runs while these streams are idle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define STREAMS_MAX 20000

struct conn {
	struct bufferevent *bev;
	int open;  /* ": stream open" seen */
	int state; /* 0 idle slot, 1 connecting/handshake/request, 2 open, 3 failed */
};

static struct {
	struct event_base *base;
	SSL_CTX *ctx;
	struct sockaddr_in addr;
	struct sockaddr_in src; /* --source: the local address to connect from */
	int has_src;
	int resume;         /* --resume: later connections resume the first one's TLS session */
	SSL_SESSION *sess;
	char host[64];
	long n, inflight_max, hold_s, open_timeout_s;
	const char *ready_file;
	struct conn *c;
	long started, inflight, opened, failed, closed_after_open, resumed;
	long long keepalives; /* ": keepalive" comments received on open streams */
	int ready_written;
	int keep_partial; /* --keep-partial: at the open timeout, hold what is open */
	int partial;
	struct event *tick;
	time_t t0;
} g;

static void start_more(void);

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (!c->open) {
		struct evbuffer_ptr p = evbuffer_search(in, ": stream open", 13, NULL);
		if (p.pos < 0) {
			if (evbuffer_get_length(in) > 4096)
				evbuffer_drain(in, evbuffer_get_length(in) - 64);
			return;
		}
		c->open = 1;
		c->state = 2;
		if (SSL_session_reused(bufferevent_openssl_get_ssl(bev)))
			g.resumed++;
		/* the session tickets came right after the handshake, before this */
		if (g.resume && g.sess == NULL)
			g.sess = SSL_get1_session(bufferevent_openssl_get_ssl(bev));
		g.opened++;
		g.inflight--;
		start_more();
	}
	/* Each keepalive is one TLS record (push.c), read whole: count them, so
	 * that the node's keepalive counter (/metrics) can be checked from here. */
	struct evbuffer_ptr p = evbuffer_search(in, ": keepalive", 11, NULL);
	while (p.pos >= 0) {
		g.keepalives++;
		if (evbuffer_ptr_set(in, &p, 11, EVBUFFER_PTR_ADD) != 0)
			break;
		p = evbuffer_search(in, ": keepalive", 11, &p);
	}
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (c->open)
			g.closed_after_open++;
		else {
			g.failed++;
			g.inflight--;
		}
		c->state = 3;
		c->open = 0;
		bufferevent_free(bev);
		c->bev = NULL;
		start_more();
	}
}

static int
start_one(struct conn *c)
{
	SSL *ssl = SSL_new(g.ctx);
	if (ssl == NULL)
		return -1;
	SSL_set_tlsext_host_name(ssl, "127.0.0.1");
	if (g.sess != NULL)
		(void)SSL_set_session(ssl, g.sess);
	evutil_socket_t fd = -1;
	if (g.has_src) {
		/* One loopback source address gives at most ~28,000 ephemeral ports
		 * toward one port: several clients use 127.0.0.x each. The port is
		 * picked at connect() (IP_BIND_ADDRESS_NO_PORT), by the 4-tuple. */
		int one = 1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			SSL_free(ssl);
			return -1;
		}
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&g.src, sizeof(g.src)) != 0) {
			close(fd);
			SSL_free(ssl);
			return -1;
		}
	}
	c->bev = bufferevent_openssl_socket_new(g.base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		if (fd >= 0)
			close(fd);
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&g.addr, sizeof(g.addr)) != 0) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		return -1;
	}
	bufferevent_enable(c->bev, EV_READ);
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "GET /v1/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", g.host);
	c->state = 1;
	return 0;
}

static void
start_more(void)
{
	while (g.started < g.n && g.inflight < g.inflight_max) {
		struct conn *c = &g.c[g.started++];
		if (start_one(c) != 0) {
			g.failed++;
			c->state = 3;
			continue;
		}
		g.inflight++;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	time_t now = time(NULL);
	if (!g.ready_written && g.opened >= g.n) {
		FILE *f = fopen(g.ready_file, "w");
		if (f != NULL) {
			fprintf(f, "open %ld\n", g.opened);
			fclose(f);
		}
		g.ready_written = 1;
		g.t0 = now; /* the hold starts now */
		fprintf(stderr, "bench_streams: %ld streams open (%ld resumed a TLS session)\n", g.opened, g.resumed);
	}
	if (!g.ready_written && (now - g.t0 > g.open_timeout_s || (g.started >= g.n && g.inflight == 0))) {
		fprintf(stderr, "bench_streams: error: %ld of %ld streams opened (%ld failed)\n", g.opened, g.n,
		    g.failed);
		if (!g.keep_partial || g.opened == 0) {
			event_base_loopbreak(g.base);
			return;
		}
		/* keep what is open (and stop opening more): the caller counts it */
		g.n = g.started;
		FILE *f = fopen(g.ready_file, "w");
		if (f != NULL) {
			fprintf(f, "partial %ld\n", g.opened);
			fclose(f);
		}
		g.ready_written = 1;
		g.partial = 1;
		g.t0 = now;
		fprintf(stderr, "bench_streams: %ld streams open (%ld resumed a TLS session; partial: the open timeout)\n",
		    g.opened, g.resumed);
	}
	if (g.ready_written && now - g.t0 > g.hold_s)
		event_base_loopbreak(g.base);
}

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(g.base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_streams --port PORT --ca FILE --cert FILE --key FILE --streams N\n"
			"                     --ready-file FILE [--inflight K] [--hold S] [--open-timeout S]\n"
			"                     [--source 127.0.0.X] [--resume] [--keep-partial]\n");
}

int
main(int argc, char **argv)
{
	const char *ca = NULL, *cert = NULL, *key = NULL;
	long port = 0;
	g.n = 100;
	g.inflight_max = 64;
	g.hold_s = 600;
	g.open_timeout_s = 300;
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' }, { "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "streams", required_argument, NULL, 'n' }, { "ready-file", required_argument, NULL, 'r' },
		{ "inflight", required_argument, NULL, 'i' }, { "hold", required_argument, NULL, 'h' },
		{ "open-timeout", required_argument, NULL, 't' }, { "source", required_argument, NULL, 's' },
		{ "resume", no_argument, NULL, 'R' }, { "keep-partial", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'a': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'n': g.n = strtol(optarg, NULL, 10); break;
		case 'r': g.ready_file = optarg; break;
		case 'i': g.inflight_max = strtol(optarg, NULL, 10); break;
		case 'h': g.hold_s = strtol(optarg, NULL, 10); break;
		case 't': g.open_timeout_s = strtol(optarg, NULL, 10); break;
		case 'R': g.resume = 1; break;
		case 'P': g.keep_partial = 1; break;
		case 's':
			g.src.sin_family = AF_INET;
			if (inet_pton(AF_INET, optarg, &g.src.sin_addr) != 1 ||
			    (ntohl(g.src.sin_addr.s_addr) >> 24) != 127) {
				fprintf(stderr, "bench_streams: error: --source must be a 127.x.y.z address\n");
				return 2;
			}
			g.has_src = 1;
			break;
		default: usage(); return 2;
		}
	}
	if (port < 1 || port > 65535 || !ca || !cert || !key || !g.ready_file || g.n < 1 || g.n > STREAMS_MAX ||
	    g.inflight_max < 1 || g.hold_s < 1 || g.open_timeout_s < 1) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(g.host, sizeof(g.host), "127.0.0.1:%ld", port);
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	g.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g.ctx = SSL_CTX_new(TLS_client_method());
	if (g.ctx == NULL || SSL_CTX_load_verify_locations(g.ctx, ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_file(g.ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(g.ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "bench_streams: error: TLS client set-up (%s, %s, %s)\n", ca, cert, key);
		return 2;
	}
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(g.ctx, SSL_MODE_RELEASE_BUFFERS);
	/* the leaf alone, as tapshare's clients send it (src/lib/httpc.c) */
	SSL_CTX_set_mode(g.ctx, SSL_MODE_NO_AUTO_CHAIN);
	g.c = calloc((size_t)g.n, sizeof(*g.c));
	g.base = event_base_new();
	if (g.c == NULL || g.base == NULL)
		return 2;
	struct timeval sec = { 1, 0 };
	g.tick = event_new(g.base, -1, EV_PERSIST, on_tick, NULL);
	struct event *st = evsignal_new(g.base, SIGTERM, on_signal, NULL);
	struct event *si = evsignal_new(g.base, SIGINT, on_signal, NULL);
	event_add(g.tick, &sec);
	event_add(st, NULL);
	event_add(si, NULL);
	g.t0 = time(NULL);
	start_more();
	event_base_dispatch(g.base);
	int ok = g.ready_written && !g.partial;
	fprintf(stderr, "bench_streams: done: %ld opened (%ld resumed a TLS session), %ld failed, %ld closed by the node, "
	    "%lld keepalives received\n", g.opened, g.resumed, g.failed, g.closed_after_open, g.keepalives);
	for (long i = 0; i < g.n; i++)
		if (g.c[i].bev != NULL)
			bufferevent_free(g.c[i].bev);
	free(g.c);
	event_free(g.tick);
	event_free(st);
	event_free(si);
	event_base_free(g.base);
	SSL_SESSION_free(g.sess);
	SSL_CTX_free(g.ctx);
	return ok ? 0 : 1;
}
