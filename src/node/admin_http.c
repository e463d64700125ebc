/*
 * admin_http.c — the node's admin listener (node.h): plain HTTP, meant for
 * loopback, off the public port and off unless [node] admin_listen is set.
 *
 *   GET /healthz  200 "ok": the event loop runs.
 *   GET /readyz   200 "ready" when serving and the store answers, else 503.
 *   GET /metrics  Prometheus text exposition 0.0.4 (metrics.c).
 *
 * No TLS and no authentication: whoever reaches it sees counts, never
 * identifiers or secrets. Bind it to 127.0.0.1 (or a management network).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/metrics.h"
#include "node/node.h"

static void
reply_text(struct evhttp_request *req, int status, const char *reason, const char *ctype, struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, status, reason, b);
}

/* 1 when the store answers a small query. A query that reports its own
 * failure: a lookup's "not found" cannot tell a missing row from a store
 * that fails, so a failing store used to look ready. */
static int
store_ok(node *n)
{
	int64_t pending, retrying;
	return n->st->ops->outbox_depth(n->st, &pending, &retrying) == 0;
}

static void
snapshot(node *n, metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	int64_t counts[SHARE_NSTATES];
	if (n->st->ops->share_counts(n->st, counts) == 0) {
		for (int i = 0; i < SHARE_NSTATES; i++)
			s->shares_by_state[i] = counts[i] < 0 ? 0 : (size_t)counts[i];
		s->shares_ok = 1;
	}
	s->outbox_ok = n->st->ops->outbox_depth(n->st, &s->outbox_pending, &s->outbox_retrying) == 0;
	s->event_streams = n->nsubs;
	push_stats(n, &s->stream_reads, &s->stream_events);
	s->stream_keepalives = push_keepalives(n);
	ts_httpd_tls_stats(n->httpd, &s->tls_ok, &s->tls_failed);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	node *n = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evbuffer_add_printf(b, "method not allowed\n");
		reply_text(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", b);
	} else if (path != NULL && strcmp(path, "/healthz") == 0) {
		evbuffer_add_printf(b, "ok\n");
		reply_text(req, 200, "OK", "text/plain; charset=utf-8", b);
	} else if (path != NULL && strcmp(path, "/readyz") == 0) {
		if (n->ready && store_ok(n)) {
			evbuffer_add_printf(b, "ready\n");
			reply_text(req, 200, "OK", "text/plain; charset=utf-8", b);
		} else {
			evbuffer_add_printf(b, "not ready: %s\n", n->ready ? "the store does not answer" : "starting");
			reply_text(req, 503, "Service Unavailable", "text/plain; charset=utf-8", b);
		}
	} else if (path != NULL && strcmp(path, "/metrics") == 0) {
		metrics_snapshot s;
		snapshot(n, &s);
		metrics_render(b, &s);
		reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	} else {
		evbuffer_add_printf(b, "not found: /healthz, /readyz, /metrics\n");
		reply_text(req, 404, "Not Found", "text/plain; charset=utf-8", b);
	}
	evbuffer_free(b);
}

int
admin_http_start(node *n, const char *listen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	long long port;
	if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(host) ||
	    ts_parse_ll(colon + 1, 0, 65535, &port) != 0) {
		log_error("[node] admin_listen must be HOST:PORT (got %s)", listen);
		return TS_ECONFIG;
	}
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	n->admin = evhttp_new(n->base);
	if (n->admin == NULL)
		return TS_ENOMEM;
	evhttp_set_allowed_methods(n->admin, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_max_headers_size(n->admin, 8192);
	evhttp_set_max_body_size(n->admin, 0);
	evhttp_set_timeout(n->admin, 10);
	evhttp_set_gencb(n->admin, on_request, n);
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(n->admin, host, (uint16_t)port);
	if (sock == NULL) {
		int e = errno;
		log_error("admin listener: %s", e == EADDRINUSE ? "address already in use" : strerror(e));
		fprintf(stderr, "tapshare-node: error: cannot serve the admin listener on %s: %s\n", listen,
		    e == EADDRINUSE ? "address already in use" : strerror(e));
		evhttp_free(n->admin);
		n->admin = NULL;
		return TS_EIO;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint16_t bound = (uint16_t)port;
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	char pf[PATH_MAX], pbuf[16];
	snprintf(pbuf, sizeof(pbuf), "%u\n", bound);
	if (ts_snprintf(pf, sizeof(pf), "%s/admin.port", n->dir) == 0)
		(void)ts_write_file_atomic(pf, (const uint8_t *)pbuf, strlen(pbuf), 0644);
	log_info("admin listener on http://%s%s%s:%u (/healthz, /readyz, /metrics)", hl != (size_t)(colon - listen) ? "[" : "",
	    host, hl != (size_t)(colon - listen) ? "]" : "", bound);
	return 0;
}

void
admin_http_stop(node *n)
{
	if (n->admin != NULL)
		evhttp_free(n->admin);
	n->admin = NULL;
}
