/*
 * test_httpd.c — ts_httpd (libevent + OpenSSL) driven by ts_httpc (libcurl)
 * over real mutual TLS on 127.0.0.1, with a test PKI generated here.
 *
 * Two servers share one event loop running in a thread:
 *   strict   client certificate required, max body 4096
 *   lenient  client certificate optional
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "lib/httpc.h"
#include "lib/httpd.h"
#include "lib/json.h"
#include "lib/pki.h"
#include "lib/sse.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define STRICT_MAX_BODY 4096

static char tmpdir[64];
static char pkidir[128];
static char ca_file[256], srv_cert[256], srv_key[256], cli_cert[256], cli_key[256];
static char client_id[65];

static struct event_base *base;
static ts_httpd *strict_srv, *lenient_srv, *quick_srv;
/* session tickets: tick_a and tick_b share one ticket key file, tick_c has another */
static ts_httpd *tick_a, *tick_b, *tick_c;
static char ticket_key1[256], ticket_key2[256];
static pthread_t loop_thread;
static char strict_url[64], lenient_url[64], quick_url[64];

/* The one open /sse-hang stream (loop thread only). */
static struct evhttp_request *hang_req;

static void *
loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static json_t *
peer_json(struct evhttp_request *req)
{
	char id[65];
	if (ts_httpd_peer_id(req, id) == 0)
		return json_string(id);
	return json_null();
}

static void
h_echo(struct evhttp_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	if (ts_httpd_read_json(req, &body) != 0)
		return;
	ts_httpd_reply_json(req, 200, json_pack("{s:o,s:o}", "echo", body, "peer", peer_json(req)));
}

static void
h_whoami(struct evhttp_request *req, void *arg)
{
	(void)arg;
	/* and the connection's verify mode (none after a TLS 1.3 resumption) */
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	SSL *ssl = c != NULL ? bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(c)) : NULL;
	ts_httpd_reply_json(req, 200, json_pack("{s:o,s:i}", "peer", peer_json(req), "verify_mode",
	    ssl != NULL ? SSL_get_verify_mode(ssl) : -1));
}

static void
h_items(struct evhttp_request *req, void *arg)
{
	(void)arg;
	char path[256], q[256];
	/* No cmocka asserts here: this runs on the loop thread. */
	if (ts_httpd_path(req, path, sizeof(path)) != 0)
		snprintf(path, sizeof(path), "?");
	int qrc = ts_httpd_query(req, "x", q, sizeof(q));
	char nope[8];
	int nrc = ts_httpd_query(req, "missing", nope, sizeof(nope));
	const char *hdr = ts_httpd_header(req, "X-Test");
	ts_httpd_reply_json(req, 200, json_pack("{s:s,s:s,s:i,s:s}", "path", path, "x",
	    qrc == 0 ? q : "", "missing_rc", nrc, "hdr", hdr ? hdr : ""));
}

static void
send_event(struct evhttp_request *req, const char *id, const char *event, const char *data)
{
	char *s = NULL;
	size_t len = 0;
	assert_int_equal(sse_format(id, event, data, &s, &len), 0);
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, s, len);
	evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
	free(s);
}

static void
start_stream(struct evhttp_request *req)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	evhttp_remove_header(oh, "Content-Type");
	evhttp_add_header(oh, "Content-Type", "text/event-stream");
	evhttp_send_reply_start(req, 200, "OK");
}

/* Three events, then the end of the stream. The first event's data echoes
 * the Last-Event-ID request header. */
static void
h_sse(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const char *last = ts_httpd_header(req, "Last-Event-ID");
	char d1[128];
	snprintf(d1, sizeof(d1), "{\"last\":\"%s\"}", last ? last : "");
	start_stream(req);
	send_event(req, "1", "first", d1);
	/* as a long-lived stream does: the rest goes out after the request's
	 * parse state was given back, and the connection stays usable */
	ts_httpd_stream_idle(req);
	send_event(req, "2", "second", "{\"n\":2}");
	send_event(req, "3", "third", "{\"n\":3}");
	evhttp_send_reply_end(req);
}

static void
hang_closed(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	(void)arg;
	/* The request is detached from (or about to be freed with) the
	 * connection; ending it releases it in both cases. */
	if (hang_req != NULL) {
		evhttp_send_reply_end(hang_req);
		hang_req = NULL;
	}
}

/* One event, then silence: the client's idle timeout must fire. */
static void
h_sse_hang(struct evhttp_request *req, void *arg)
{
	(void)arg;
	start_stream(req);
	send_event(req, "1", "only", "{}");
	ts_httpd_stream_idle(req); /* then closed by the client or the idle timeout */
	hang_req = req;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), hang_closed, NULL);
}

/* Slow stream: SLOW_EVENTS events SLOW_EVERY_MS apart, then the end; lasts
 * longer than the quick server's 1 s idle timeout. */
#define SLOW_EVENTS 8
#define SLOW_EVERY_MS 300

struct slow_stream {
	struct evhttp_request *req;
	struct event *tick;
	int sent;
};

static void
slow_closed(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	struct slow_stream *st = arg;
	event_free(st->tick);
	evhttp_send_reply_end(st->req);
	free(st);
}

static void
slow_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct slow_stream *st = arg;
	char id[16];
	snprintf(id, sizeof(id), "%d", ++st->sent);
	send_event(st->req, id, "tick", "{}");
	if (st->sent == SLOW_EVENTS) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(st->req), NULL, NULL);
		evhttp_send_reply_end(st->req);
		event_free(st->tick);
		free(st);
		return;
	}
	struct timeval tv = { 0, SLOW_EVERY_MS * 1000 };
	evtimer_add(st->tick, &tv);
}

static void
h_sse_slow(struct evhttp_request *req, void *arg)
{
	(void)arg;
	struct slow_stream *st = calloc(1, sizeof(*st));
	st->req = req;
	st->tick = evtimer_new(base, slow_tick, st);
	start_stream(req);
	ts_httpd_stream_idle(req);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), slow_closed, st);
	struct timeval tv = { 0, SLOW_EVERY_MS * 1000 };
	evtimer_add(st->tick, &tv);
}

/* A stream whose connection is taken from evhttp (ts_httpd_take_begin in
 * the handler, ts_httpd_take_end a loop pass later): the server then
 * writes its reply itself through the SSL, once at once and once 100 ms
 * later (after libevent's deferred finalizer freed the bufferevent the SSL
 * came from), then ends it. */
struct taken {
	char *head;
	size_t head_len;
	int chunked;
	struct evhttp_request *req;
	SSL *ssl;
	int fd;
	struct event *tick;
	int step;
};

static void
taken_write(struct taken *t, const char *s)
{
	size_t len = strlen(s), off = 0;
	for (int i = 0; off < len && i < 1000; i++) {
		int r = SSL_write(t->ssl, s + off, (int)(len - off));
		if (r > 0)
			off += (size_t)r;
		else if (SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_WRITE)
			break;
	}
	ERR_clear_error();
}

static void
taken_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct taken *t = arg;
	if (t->step++ == 0) {
		t->ssl = ts_httpd_take_end(t->req, &t->fd);
		if (t->ssl != NULL) {
			SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
			char *h = strndup(t->head, t->head_len);
			taken_write(t, h);
			free(h);
			taken_write(t, "6\r\ntaken!\r\n");
			struct timeval tv = { 0, 100 * 1000 };
			evtimer_add(t->tick, &tv);
			return;
		}
	} else {
		taken_write(t, "a\r\nstill ours\r\n0\r\n\r\n");
		(void)SSL_shutdown(t->ssl);
	}
	if (t->ssl != NULL) {
		SSL_free(t->ssl);
		close(t->fd);
	}
	event_free(t->tick);
	free(t->head);
	free(t);
}

static void
h_take(struct evhttp_request *req, void *arg)
{
	(void)arg;
	struct taken *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Taken", "yes");
	if (ts_httpd_take_begin(req, 200, "OK", &t->head, &t->head_len, &t->chunked) != 0) {
		free(t);
		ts_httpd_reply_error(req, 500, "take", "not taken");
		return;
	}
	t->req = req;
	t->tick = evtimer_new(base, taken_tick, t);
	struct timeval now0 = { 0, 0 };
	evtimer_add(t->tick, &now0);
}

/* A JSON answer larger than TS_HTTPC_MAX_RESPONSE. */
static void
h_big(struct evhttp_request *req, void *arg)
{
	(void)arg;
	size_t n = TS_HTTPC_MAX_RESPONSE + 1000;
	char *s = malloc(n + 1);
	memset(s, 'z', n);
	s[n] = '\0';
	ts_httpd_reply_json(req, 200, json_pack("{s:s}", "big", s));
	free(s);
}

static int
add_routes(ts_httpd *h)
{
	int rc = 0;
	rc |= ts_httpd_route(h, "POST", "/echo", h_echo, NULL);
	rc |= ts_httpd_route(h, "GET", "/whoami", h_whoami, NULL);
	rc |= ts_httpd_route(h, "GET", "/items/*", h_items, NULL);
	rc |= ts_httpd_route(h, "DELETE", "/items/*", h_items, NULL);
	rc |= ts_httpd_route(h, "GET", "/sse", h_sse, NULL);
	rc |= ts_httpd_route(h, "GET", "/sse-hang", h_sse_hang, NULL);
	rc |= ts_httpd_route(h, "GET", "/sse-slow", h_sse_slow, NULL);
	rc |= ts_httpd_route(h, "GET", "/big", h_big, NULL);
	rc |= ts_httpd_route(h, "GET", "/take", h_take, NULL);
	return rc;
}

static int
write_random(const char *path, size_t n)
{
	FILE *u = fopen("/dev/urandom", "rb"), *f = fopen(path, "wb");
	unsigned char b[128];
	int ok = u != NULL && f != NULL && n <= sizeof(b) && fread(b, 1, n, u) == n && fwrite(b, 1, n, f) == n;
	if (u != NULL)
		fclose(u);
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ts_httpd_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(pkidir, sizeof(pkidir), "%s/pki", tmpdir);
	if (pki_testpki_generate(pkidir, "89049032", NULL, 0) != 0)
		return -1;
	snprintf(ca_file, sizeof(ca_file), "%s/node-ca.crt", pkidir);
	snprintf(srv_cert, sizeof(srv_cert), "%s/node-tls.crt", pkidir);
	snprintf(srv_key, sizeof(srv_key), "%s/node-tls.key", pkidir);
	snprintf(cli_cert, sizeof(cli_cert), "%s/sp-tls.crt", pkidir);
	snprintf(cli_key, sizeof(cli_key), "%s/sp-tls.key", pkidir);
	X509 *c = NULL;
	if (pki_cert_load(cli_cert, &c) != 0 || pki_cert_pubkey_id(c, client_id) != 0)
		return -1;
	X509_free(c);

	if (evthread_use_pthreads() != 0)
		return -1;
	base = event_base_new();
	if (base == NULL)
		return -1;
	ts_httpd_opts o = {
		.addr = "127.0.0.1",
		.port = 0,
		.cert_file = srv_cert,
		.key_file = srv_key,
		.client_ca = ca_file,
		.require_client_cert = 1,
		.max_body = STRICT_MAX_BODY,
		.timeout_s = 10,
	};
	if (ts_httpd_new(base, &o, &strict_srv) != 0 || add_routes(strict_srv) != 0)
		return -1;
	o.require_client_cert = 0;
	o.max_body = 0;
	if (ts_httpd_new(base, &o, &lenient_srv) != 0 || add_routes(lenient_srv) != 0)
		return -1;
	o.timeout_s = 1;
	if (ts_httpd_new(base, &o, &quick_srv) != 0 || add_routes(quick_srv) != 0)
		return -1;
	snprintf(quick_url, sizeof(quick_url), "https://127.0.0.1:%u",
	    (unsigned)ts_httpd_port(quick_srv));
	if (ts_httpd_port(strict_srv) == 0 || ts_httpd_port(lenient_srv) == 0 ||
	    ts_httpd_port(strict_srv) == ts_httpd_port(lenient_srv))
		return -1;
	snprintf(strict_url, sizeof(strict_url), "https://127.0.0.1:%u",
	    (unsigned)ts_httpd_port(strict_srv));
	snprintf(lenient_url, sizeof(lenient_url), "https://127.0.0.1:%u",
	    (unsigned)ts_httpd_port(lenient_srv));
	snprintf(ticket_key1, sizeof(ticket_key1), "%s/ticket1.key", tmpdir);
	snprintf(ticket_key2, sizeof(ticket_key2), "%s/ticket2.key", tmpdir);
	if (write_random(ticket_key1, 80) != 0 || write_random(ticket_key2, 80) != 0)
		return -1;
	o.timeout_s = 10;
	o.ticket_key_file = ticket_key1;
	if (ts_httpd_new(base, &o, &tick_a) != 0 || add_routes(tick_a) != 0 ||
	    ts_httpd_new(base, &o, &tick_b) != 0 || add_routes(tick_b) != 0)
		return -1;
	o.ticket_key_file = ticket_key2;
	if (ts_httpd_new(base, &o, &tick_c) != 0 || add_routes(tick_c) != 0)
		return -1;
	if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0)
		return -1;
	return 0;
}

static void
rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) != 0)
			rm_rf(p);
	}
	closedir(d);
	rmdir(dir);
}

static int
teardown(void **state)
{
	(void)state;
	event_base_loopbreak(base);
	pthread_join(loop_thread, NULL);
	ts_httpd_free(strict_srv);
	ts_httpd_free(lenient_srv);
	ts_httpd_free(quick_srv);
	ts_httpd_free(tick_a);
	ts_httpd_free(tick_b);
	ts_httpd_free(tick_c);
	event_base_free(base);
	rm_rf(tmpdir);
	return 0;
}

static ts_httpc *
client(int with_cert)
{
	ts_httpc_opts o = {
		.ca_file = ca_file,
		.cert_file = with_cert ? cli_cert : NULL,
		.key_file = with_cert ? cli_key : NULL,
		.timeout_ms = 10000,
	};
	ts_httpc *c = NULL;
	assert_int_equal(ts_httpc_new(&o, &c), 0);
	return c;
}

static void
url_of(char *buf, size_t cap, const char *base_url, const char *path)
{
	snprintf(buf, cap, "%s%s", base_url, path);
}

static void
test_json_roundtrip_and_peer_id(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/echo");
	/* Twice on the same handle: the second goes over the kept-alive connection. */
	for (int i = 0; i < 2; i++) {
		json_t *body = json_pack("{s:i,s:s,s:[i,i]}", "a", 1 + i, "s", "héllo", "l", 1, 2);
		long status = 0;
		json_t *resp = NULL;
		char err[256];
		assert_int_equal(ts_httpc_json(c, "POST", url, NULL, body, &status, &resp, err,
		    sizeof(err)), 0);
		assert_int_equal(status, 200);
		assert_non_null(resp);
		assert_true(json_equal(json_object_get(resp, "echo"), body));
		assert_string_equal(ts_json_str(resp, "peer"), client_id);
		json_decref(resp);
		json_decref(body);
	}
	ts_httpc_free(c);
}

static void
test_required_cert_rejects_anonymous(void **state)
{
	(void)state;
	ts_httpc *c = client(0);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/whoami");
	long status = -1;
	json_t *resp = NULL;
	char err[256] = "";
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, err,
	    sizeof(err)), TS_ENET);
	assert_int_equal(status, 0);
	assert_null(resp);
	assert_true(err[0] != '\0');
	ts_httpc_free(c);
}

static void
test_optional_cert(void **state)
{
	(void)state;
	char url[128];
	url_of(url, sizeof(url), lenient_url, "/whoami");
	for (int with = 0; with < 2; with++) {
		ts_httpc *c = client(with);
		long status = 0;
		json_t *resp = NULL;
		assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), 0);
		assert_int_equal(status, 200);
		json_t *peer = json_object_get(resp, "peer");
		if (with)
			assert_string_equal(json_string_value(peer), client_id);
		else
			assert_true(json_is_null(peer));
		json_decref(resp);
		ts_httpc_free(c);
	}
}

static void
test_server_cert_must_verify(void **state)
{
	(void)state;
	/* A client trusting another CA (the CI root) must refuse the server. */
	char other_ca[256];
	snprintf(other_ca, sizeof(other_ca), "%s/ci.crt", pkidir);
	ts_httpc_opts o = { .ca_file = other_ca, .cert_file = cli_cert, .key_file = cli_key };
	ts_httpc *c = NULL;
	assert_int_equal(ts_httpc_new(&o, &c), 0);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/whoami");
	long status = -1;
	json_t *resp = NULL;
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), TS_ENET);
	assert_null(resp);
	ts_httpc_free(c);
}

static void
expect_error_body(ts_httpc *c, const char *method, const char *url, int with_body,
    long want_status, const char *want_code)
{
	long status = 0;
	json_t *resp = NULL;
	json_t *body = with_body ? json_object() : NULL;
	assert_int_equal(ts_httpc_json(c, method, url, NULL, body, &status, &resp, NULL, 0), 0);
	json_decref(body);
	assert_int_equal(status, want_status);
	assert_non_null(resp);
	json_t *e = json_object_get(resp, "error");
	assert_string_equal(ts_json_str(e, "code"), want_code);
	assert_non_null(ts_json_str(e, "message"));
	json_decref(resp);
}

static void
expect_error(ts_httpc *c, const char *method, const char *url, long want_status,
    const char *want_code)
{
	expect_error_body(c, method, url, strcmp(method, "GET") != 0, want_status, want_code);
}

static void
test_404_405(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/nope");
	expect_error(c, "GET", url, 404, "not_found");
	url_of(url, sizeof(url), strict_url, "/echoes");
	expect_error(c, "POST", url, 404, "not_found");
	url_of(url, sizeof(url), strict_url, "/echo");
	expect_error(c, "GET", url, 405, "method_not_allowed");
	url_of(url, sizeof(url), strict_url, "/items/x");
	expect_error(c, "POST", url, 405, "method_not_allowed");
	ts_httpc_free(c);
}

static void
test_bad_json_body(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/echo");
	/* An empty POST body is not a JSON object. */
	expect_error_body(c, "POST", url, 0, 400, "bad_json");
	ts_httpc_free(c);
}

static void
test_body_too_large(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/echo");
	char *big = malloc(STRICT_MAX_BODY + 100);
	memset(big, 'a', STRICT_MAX_BODY + 99);
	big[STRICT_MAX_BODY + 99] = '\0';
	json_t *body = json_pack("{s:s}", "big", big);
	free(big);
	long status = 0;
	json_t *resp = NULL;
	char err[256] = "";
	assert_int_equal(ts_httpc_json(c, "POST", url, NULL, body, &status, &resp, err,
	    sizeof(err)), 0);
	assert_int_equal(status, 413);
	json_decref(resp);
	json_decref(body);

	/* Just under the limit is accepted. */
	big = malloc(STRICT_MAX_BODY);
	memset(big, 'b', STRICT_MAX_BODY - 100);
	big[STRICT_MAX_BODY - 100] = '\0';
	body = json_pack("{s:s}", "big", big);
	free(big);
	resp = NULL;
	ts_httpc_free(c);
	c = client(1);
	assert_int_equal(ts_httpc_json(c, "POST", url, NULL, body, &status, &resp, NULL, 0), 0);
	assert_int_equal(status, 200);
	assert_true(json_equal(json_object_get(resp, "echo"), body));
	json_decref(resp);
	json_decref(body);
	ts_httpc_free(c);
}

static void
test_response_cap(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/big");
	long status = 0;
	json_t *resp = NULL;
	char err[256] = "";
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, err, sizeof(err)),
	    TS_ELIMIT);
	assert_null(resp);
	assert_non_null(strstr(err, "larger than"));
	ts_httpc_free(c);
}

static void
test_prefix_query_header(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[160];
	url_of(url, sizeof(url), strict_url, "/items/abc?x=hello%20w%26&y=2");
	const char *hdrs[] = { "X-Test: yes", NULL };
	long status = 0;
	json_t *resp = NULL;
	assert_int_equal(ts_httpc_json(c, "GET", url, hdrs, NULL, &status, &resp, NULL, 0), 0);
	assert_int_equal(status, 200);
	assert_string_equal(ts_json_str(resp, "path"), "/items/abc");
	assert_string_equal(ts_json_str(resp, "x"), "hello w&");
	assert_int_equal(json_integer_value(json_object_get(resp, "missing_rc")), TS_ENOTFOUND);
	assert_string_equal(ts_json_str(resp, "hdr"), "yes");
	json_decref(resp);

	url_of(url, sizeof(url), strict_url, "/items/q");
	assert_int_equal(ts_httpc_json(c, "DELETE", url, NULL, NULL, &status, &resp, NULL, 0), 0);
	assert_int_equal(status, 200);
	assert_string_equal(ts_json_str(resp, "path"), "/items/q");
	json_decref(resp);

	/* Header injection is refused before anything is sent. */
	const char *bad[] = { "X-Test: a\r\nX-Evil: b", NULL };
	assert_int_equal(ts_httpc_json(c, "GET", url, bad, NULL, &status, &resp, NULL, 0), TS_EINVAL);
	ts_httpc_free(c);
}

struct sse_rec {
	int n;
	int stop_at;
	char event[4][32];
	char id[4][16];
	char data[4][128];
};

static int
sse_cb(const char *event, const char *id, const char *data, void *arg)
{
	struct sse_rec *r = arg;
	if (r->n < 4) {
		snprintf(r->event[r->n], sizeof(r->event[0]), "%s", event ? event : "");
		snprintf(r->id[r->n], sizeof(r->id[0]), "%s", id ? id : "");
		snprintf(r->data[r->n], sizeof(r->data[0]), "%s", data ? data : "");
	}
	r->n++;
	return r->stop_at && r->n >= r->stop_at ? -1 : 0;
}

static void
test_sse_three_events(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/sse");

	/* The callback stops at the third event: 0, even with a negative stop value. */
	struct sse_rec r = { .stop_at = 3 };
	assert_int_equal(ts_httpc_sse(c, url, NULL, "41", 5000, sse_cb, &r, NULL, 0), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.event[0], "first");
	assert_string_equal(r.id[0], "1");
	assert_string_equal(r.data[0], "{\"last\":\"41\"}");
	assert_string_equal(r.event[1], "second");
	assert_string_equal(r.data[1], "{\"n\":2}");
	assert_string_equal(r.event[2], "third");
	assert_string_equal(r.id[2], "3");
	assert_string_equal(r.data[2], "{\"n\":3}");

	/* Never stopped: the server's end of stream is TS_EIO after all three. */
	struct sse_rec r2 = { 0 };
	char err[256] = "";
	assert_int_equal(ts_httpc_sse(c, url, NULL, NULL, 5000, sse_cb, &r2, err, sizeof(err)),
	    TS_EIO);
	assert_int_equal(r2.n, 3);
	assert_string_equal(r2.data[0], "{\"last\":\"\"}");

	/* A JSON request on the same handle still works afterwards. */
	url_of(url, sizeof(url), strict_url, "/whoami");
	long status = 0;
	json_t *resp = NULL;
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), 0);
	assert_int_equal(status, 200);
	json_decref(resp);
	ts_httpc_free(c);
}

static void
test_sse_idle_timeout_and_errors(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), strict_url, "/sse-hang");
	struct sse_rec r = { 0 };
	assert_int_equal(ts_httpc_sse(c, url, NULL, NULL, 400, sse_cb, &r, NULL, 0), TS_ETIMEOUT);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.event[0], "only");

	/* Not an event stream: 404 is a protocol error, no event delivered. */
	url_of(url, sizeof(url), strict_url, "/nope");
	struct sse_rec r2 = { 0 };
	assert_int_equal(ts_httpc_sse(c, url, NULL, NULL, 2000, sse_cb, &r2, NULL, 0), TS_EPROTO);
	assert_int_equal(r2.n, 0);
	ts_httpc_free(c);

	/* Without a client certificate the strict server refuses the stream. */
	c = client(0);
	url_of(url, sizeof(url), strict_url, "/sse");
	struct sse_rec r3 = { 0 };
	assert_int_equal(ts_httpc_sse(c, url, NULL, NULL, 2000, sse_cb, &r3, NULL, 0), TS_ENET);
	assert_int_equal(r3.n, 0);
	ts_httpc_free(c);
}

/* A stream outlives the server's idle timeout as long as it delivers; a
 * silent one does not. */
static void
test_stream_outlives_idle_timeout(void **state)
{
	(void)state;
	ts_httpc *c = client(1);
	char url[128];
	url_of(url, sizeof(url), quick_url, "/sse-slow");
	struct sse_rec r = { 0 };
	char err[256] = "";
	assert_int_equal(ts_httpc_sse(c, url, NULL, NULL, 2000, sse_cb, &r, err, sizeof(err)),
	    TS_EIO);
	assert_int_equal(r.n, SLOW_EVENTS);
	assert_string_equal(r.id[3], "4");

	/* Same handle, kept-alive connection, after the server's idle timeout
	 * closed it: a new connection is made transparently. */
	url_of(url, sizeof(url), quick_url, "/whoami");
	long status = 0;
	json_t *resp = NULL;
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), 0);
	assert_int_equal(status, 200);
	json_decref(resp);

	/* A stream that stays silent longer than the server's idle timeout is
	 * closed by the server (streams must send keep-alives more often). */
	url_of(url, sizeof(url), quick_url, "/sse-hang");
	struct sse_rec r2 = { 0 };
	int64_t t0 = ts_mono_ms();
	assert_int_equal(ts_httpc_sse(c, url, NULL, NULL, 5000, sse_cb, &r2, NULL, 0), TS_ENET);
	int64_t took = ts_mono_ms() - t0;
	assert_int_equal(r2.n, 1);
	assert_true(took >= 900 && took < 4000);
	ts_httpc_free(c);
}

static void
test_route_args(void **state)
{
	(void)state;
	assert_int_equal(ts_httpd_route(strict_srv, "BREW", "/x", h_echo, NULL), TS_EINVAL);
	assert_int_equal(ts_httpd_route(strict_srv, "GET", "", h_echo, NULL), TS_EINVAL);
	assert_int_equal(ts_httpd_route(NULL, "GET", "/x", h_echo, NULL), TS_EINVAL);
	ts_httpd_free(NULL);
	ts_httpc_free(NULL);
	/* A missing key file is a configuration error. */
	ts_httpd_opts o = { .addr = "127.0.0.1", .cert_file = srv_cert, .key_file = "/nonexistent" };
	ts_httpd *h = NULL;
	struct event_base *b = event_base_new();
	assert_int_equal(ts_httpd_new(b, &o, &h), TS_ECONFIG);
	assert_null(h);
	event_base_free(b);
}

/* A mutual-TLS client connection to 127.0.0.1:port, not yet connected
 * (OpenSSL directly); *fd and *ctx are the caller's to close and free. */
static SSL *
tls_client(uint16_t port, int *fd, SSL_CTX **ctx)
{
	*ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(*ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(*ctx, ca_file, NULL), 1);
	assert_int_equal(SSL_CTX_use_certificate_file(*ctx, cli_cert, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(*ctx, cli_key, SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_verify(*ctx, SSL_VERIFY_PEER, NULL);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	struct timeval tv = { 10, 0 };
	(void)setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	SSL *ssl = SSL_new(*ctx);
	assert_non_null(ssl);
	SSL_set_fd(ssl, *fd);
	return ssl;
}

/* How a /whoami client shapes its handshake (whoami_get). */
enum whoami_hello {
	WHOAMI_PLAIN,     /* OpenSSL's defaults */
	WHOAMI_HRR,       /* key share for X25519 only: a HelloRetryRequest */
	WHOAMI_HRR_DROP,  /* as WHOAMI_HRR, and the second ClientHello offers no ticket */
};

/* ClientHellos the client sent (2: the server answered the first with a
 * HelloRetryRequest), counted by whoami_msg for the last whoami_get. */
static int client_hellos;

/* The message callback of a WHOAMI_HRR / _DROP client: counts its
 * ClientHellos; with arg non-NULL (_DROP), on the HelloRetryRequest (the
 * ServerHello that answers the first ClientHello) it marks the offered
 * session as one of a SHA-384 suite, so that OpenSSL's client leaves the
 * ticket out of its second ClientHello (RFC 8446 4.1.2: a PSK whose hash
 * is not the one of the suite the HelloRetryRequest chose is removed). The
 * server resumed on the first ClientHello and must not on the second. */
static void
whoami_msg(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
	(void)version;
	if (content_type != SSL3_RT_HANDSHAKE || len == 0)
		return;
	uint8_t mt = ((const uint8_t *)buf)[0];
	if (write_p && mt == SSL3_MT_CLIENT_HELLO)
		client_hellos++;
	if (!write_p && mt == SSL3_MT_SERVER_HELLO && client_hellos == 1 && arg != NULL) {
		static const unsigned char aes256[2] = { 0x13, 0x02 }; /* TLS_AES_256_GCM_SHA384 */
		SSL_SESSION *offered = SSL_get_session(ssl);
		assert_non_null(offered);
		assert_int_equal(SSL_SESSION_set_cipher(offered, SSL_CIPHER_find(ssl, aes256)), 1);
	}
}

/* GET /whoami over a fresh mutual-TLS connection (OpenSSL directly: the
 * session and whether it was resumed are visible), its handshake shaped by
 * hello. *sess in: the session to offer (NULL: none; taken: freed here);
 * out: the connection's session, tickets included. */
static void
whoami_get(uint16_t port, enum whoami_hello hello, SSL_SESSION **sess, int *reused, char *body, size_t cap)
{
	SSL_CTX *ctx = NULL;
	int fd = -1;
	SSL *ssl = tls_client(port, &fd, &ctx);
	client_hellos = 0;
	if (hello != WHOAMI_PLAIN) {
		/* the servers here take P-256 alone (main's OpenSSL
		 * configuration): each handshake goes through a HRR */
		assert_int_equal(SSL_set1_groups_list(ssl, "X25519:P-256"), 1);
		SSL_set_msg_callback(ssl, whoami_msg);
		SSL_set_msg_callback_arg(ssl, hello == WHOAMI_HRR_DROP ? (void *)ssl : NULL);
	}
	if (*sess != NULL)
		assert_int_equal(SSL_set_session(ssl, *sess), 1);
	assert_int_equal(SSL_connect(ssl), 1);
	static const char rq[] = "GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	assert_int_equal(SSL_write(ssl, rq, (int)sizeof(rq) - 1), (int)sizeof(rq) - 1);
	size_t len = 0;
	int r;
	SSL_SESSION_free(*sess);
	*sess = NULL;
	while (len + 1 < cap && (r = SSL_read(ssl, body + len, (int)(cap - 1 - len))) > 0) {
		len += (size_t)r;
		/* the tickets came before the answer; a copy taken now, before
		 * the server's close (an EOF without close_notify makes OpenSSL
		 * mark the connection's session not resumable) */
		if (*sess == NULL)
			*sess = SSL_SESSION_dup(SSL_get_session(ssl));
	}
	body[len] = '\0';
	*reused = SSL_session_reused(ssl);
	if (hello != WHOAMI_PLAIN)
		assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

static void
whoami_tls(uint16_t port, SSL_SESSION **sess, int *reused, char *body, size_t cap)
{
	whoami_get(port, WHOAMI_PLAIN, sess, reused, body, cap);
}

/* The "verify_mode" of a /whoami answer (-2: none found). */
static int
whoami_verify_mode(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	json_t *j = NULL;
	char err[200];
	int mode = -2;
	if (b != NULL && ts_json_parse(b + 4, strlen(b + 4), &j, err, sizeof(err)) == 0) {
		json_t *m = json_object_get(j, "verify_mode");
		if (json_is_integer(m))
			mode = (int)json_integer_value(m);
	}
	json_decref(j);
	return mode;
}

/* One whoami_get on port whose answer is 200 with the client's identity,
 * resumed or not as reused says, with verify mode mode; the ClientHellos
 * counted when the handshake goes through a HRR. *sess as whoami_get. */
static void
expect_whoami(uint16_t port, enum whoami_hello hello, SSL_SESSION **sess, int reused, int mode)
{
	char body[4096];
	int r = -1;
	whoami_get(port, hello, sess, &r, body, sizeof(body));
	if (hello != WHOAMI_PLAIN)
		assert_int_equal(client_hellos, 2);
	assert_int_equal(r, reused);
	assert_non_null(strstr(body, "200 OK"));
	assert_non_null(strstr(body, client_id));
	assert_int_equal(whoami_verify_mode(body), mode);
	assert_non_null(*sess);
}

/* With one ticket key file, a session ticket issued by one server (one node
 * process of several on one port) is resumed by another, and the resumed
 * connection still knows its client (the certificate travels in the
 * ticket); with another key file it is not resumed (full handshake).
 * A full handshake keeps the context's verify mode (a certificate is
 * asked for); a TLS 1.3 resumption has mode none, so that OpenSSL lets its
 * ClientHello buffer go (httpd.c tls_verify_mode_for), and the handshake
 * that fails to resume asks for the certificate again. */
static void
test_ticket_key_shared(void **state)
{
	(void)state;
	SSL_SESSION *sess = NULL;
	expect_whoami(ts_httpd_port(tick_a), WHOAMI_PLAIN, &sess, 0, SSL_VERIFY_PEER);
	assert_int_equal(SSL_SESSION_is_resumable(sess), 1);
	SSL_SESSION *first = sess;
	SSL_SESSION_up_ref(first);
	expect_whoami(ts_httpd_port(tick_b), WHOAMI_PLAIN, &sess, 1, SSL_VERIFY_NONE);
	SSL_SESSION_free(sess);
	sess = first;
	expect_whoami(ts_httpd_port(tick_c), WHOAMI_PLAIN, &sess, 0, SSL_VERIFY_PEER);
	SSL_SESSION_free(sess);
	/* a key file of the wrong size is a configuration error */
	char shortk[300], err[300] = "";
	snprintf(shortk, sizeof(shortk), "%s/short.key", tmpdir);
	assert_int_equal(write_random(shortk, 48), 0);
	ts_httpd_opts o = { .addr = "127.0.0.1", .cert_file = srv_cert, .key_file = srv_key,
		.ticket_key_file = shortk, .errbuf = err, .errcap = sizeof(err) };
	ts_httpd *h = NULL;
	struct event_base *b = event_base_new();
	assert_int_equal(ts_httpd_new(b, &o, &h), TS_ECONFIG);
	assert_null(h);
	assert_non_null(strstr(err, "exactly 80"));
	event_base_free(b);
}

/* A connection taken from evhttp stays the taker's: its head (status,
 * the handler's headers, chunked framing), what it writes at once and what
 * it writes after libevent freed the bufferevent (its finalizer must not
 * close the socket: the SSL's own BIO names no descriptor), and evhttp
 * does not shut the socket down when it frees its connection (the old
 * descriptor is /dev/null by then). */
static void
test_take_connection(void **state)
{
	(void)state;
	SSL_CTX *ctx = NULL;
	int fd = -1;
	SSL *ssl = tls_client(ts_httpd_port(lenient_srv), &fd, &ctx);
	assert_int_equal(SSL_connect(ssl), 1);
	static const char rq[] = "GET /take HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	assert_int_equal(SSL_write(ssl, rq, (int)sizeof(rq) - 1), (int)sizeof(rq) - 1);
	char body[4096];
	size_t len = 0;
	int r;
	while (len + 1 < sizeof(body) && (r = SSL_read(ssl, body + len, (int)(sizeof(body) - 1 - len))) > 0)
		len += (size_t)r;
	body[len] = '\0';
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	assert_non_null(strstr(body, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(body, "\r\nX-Taken: yes\r\n"));
	assert_non_null(strstr(body, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_non_null(strstr(body, "\r\n\r\n6\r\ntaken!\r\n"));
	assert_non_null(strstr(body, "6\r\ntaken!\r\na\r\nstill ours\r\n0\r\n\r\n"));
}

/* A TLS 1.3 client offering OpenSSL's default suites (AES-256-GCM first)
 * gets ChaCha20-Poly1305, the server's first choice (smaller per-connection
 * cipher state for the idle streams); a client offering AES-GCM alone
 * still gets it. */
static void
test_tls13_suite(void **state)
{
	(void)state;
	for (int only_aes = 0; only_aes <= 1; only_aes++) {
		SSL_CTX *ctx = NULL;
		int fd = -1;
		SSL *ssl = tls_client(ts_httpd_port(lenient_srv), &fd, &ctx);
		if (only_aes)
			assert_int_equal(SSL_set_ciphersuites(ssl, "TLS_AES_128_GCM_SHA256"), 1);
		assert_int_equal(SSL_connect(ssl), 1);
		assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
		assert_string_equal(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
		    only_aes ? "TLS_AES_128_GCM_SHA256" : "TLS_CHACHA20_POLY1305_SHA256");
		SSL_free(ssl);
		close(fd);
		SSL_CTX_free(ctx);
	}
}

/* The verify mode of a TLS 1.3 resumption is decided on each ClientHello
 * (httpd.c tls_verify_mode_for): through a HelloRetryRequest, a full
 * handshake still asks for (and knows) the client's certificate, and a
 * resumption still gets mode none (its ClientHello buffer let go) and
 * still knows its client from the ticket; and a first ClientHello that
 * resumes followed by a second that does not (its ticket left out) is a
 * full handshake that asks for the certificate again: a decision taken on
 * the first ClientHello alone would leave it with mode none and no client. */
static void
test_hello_retry_request(void **state)
{
	(void)state;
	SSL_SESSION *sess = NULL;
	expect_whoami(ts_httpd_port(tick_a), WHOAMI_HRR, &sess, 0, SSL_VERIFY_PEER);
	SSL_SESSION *first = SSL_SESSION_dup(sess);
	assert_non_null(first);
	expect_whoami(ts_httpd_port(tick_b), WHOAMI_HRR, &sess, 1, SSL_VERIFY_NONE);
	SSL_SESSION_free(sess);
	sess = first; /* resumable on tick_b (one key file) */
	expect_whoami(ts_httpd_port(tick_b), WHOAMI_HRR_DROP, &sess, 0, SSL_VERIFY_PEER);
	SSL_SESSION_free(sess);
}

/* The client's application traffic secret of the last handshake (SSL keylog). */
static char client_secret_hex[2 * EVP_MAX_MD_SIZE + 1];

static void
keylog_cb(const SSL *ssl, const char *line)
{
	(void)ssl;
	static const char tag[] = "CLIENT_TRAFFIC_SECRET_0 ";
	const char *sp = strncmp(line, tag, sizeof(tag) - 1) == 0 ? strchr(line + sizeof(tag) - 1, ' ') : NULL;
	if (sp != NULL)
		snprintf(client_secret_hex, sizeof(client_secret_hex), "%s", sp + 1);
}

/* HKDF-Expand-Label (RFC 8446 §7.1) with SHA-256, empty context, olen <= 32. */
static void
expand_label(const uint8_t *secret, size_t slen, const char *label, uint8_t *out, size_t olen)
{
	uint8_t info[64], t[EVP_MAX_MD_SIZE];
	size_t n = 0, ll = strlen(label);
	unsigned tl = 0;
	info[n++] = 0;
	info[n++] = (uint8_t)olen;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* context */
	info[n++] = 1; /* T(1) = HMAC(secret, info || 0x01) */
	assert_non_null(HMAC(EVP_sha256(), secret, (int)slen, info, n, t, &tl));
	memcpy(out, t, olen);
}

/* The handshake counter counts each connection once, by how its handshake
 * ended: a connection that completed its handshake and then fails is one
 * completed handshake, not also a failed one. Here the client's first
 * record after the handshake is a KeyUpdate one byte too long (RFC 8446
 * §4.6.3), written by hand under the client's application traffic key
 * (TLS_AES_128_GCM_SHA256, sequence number 0): OpenSSL answers it with a
 * fatal illegal_parameter alert while it handles the post-handshake message
 * (not SSL_is_init_finished), which without the count-once marker is
 * counted as a failed handshake. */
static void
test_handshake_counted_once(void **state)
{
	(void)state;
	uint64_t ok0, failed0, ok1, failed1;
	ts_httpd_tls_stats(lenient_srv, &ok0, &failed0);
	SSL_CTX *ctx = NULL;
	int fd = -1;
	SSL *ssl = tls_client(ts_httpd_port(lenient_srv), &fd, &ctx);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	assert_int_equal(SSL_set_ciphersuites(ssl, "TLS_AES_128_GCM_SHA256"), 1);
	client_secret_hex[0] = '\0';
	assert_int_equal(SSL_connect(ssl), 1);
	assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
	uint8_t secret[32], key[16], iv[12], tag[16], ct[7];
	size_t slen = 0;
	assert_int_equal(ts_hex_decode(client_secret_hex, secret, sizeof(secret), &slen), 0);
	assert_int_equal(slen, 32);
	expand_label(secret, slen, "key", key, sizeof(key));
	expand_label(secret, slen, "iv", iv, sizeof(iv));
	/* TLSInnerPlaintext: KeyUpdate (24) of length 2 (RFC 8446 §4.6.3: one byte); type handshake */
	static const uint8_t pt[] = { 0x18, 0x00, 0x00, 0x02, 0x00, 0x00, 0x16 };
	uint8_t rec[5 + sizeof(pt) + sizeof(tag)] = { 0x17, 0x03, 0x03, 0x00, sizeof(pt) + sizeof(tag) };
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;
	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv), 1); /* nonce: iv XOR 0 */
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &l1, rec, 5), 1);                 /* the record header */
	assert_int_equal(EVP_EncryptUpdate(c, ct, &l1, pt, sizeof(pt)), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, ct + l1, &l2), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag), 1);
	EVP_CIPHER_CTX_free(c);
	memcpy(rec + 5, ct, sizeof(ct));
	memcpy(rec + 5 + sizeof(ct), tag, sizeof(tag));
	assert_int_equal(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	char b[64];
	int r = SSL_read(ssl, b, sizeof(b)); /* the server's alert */
	assert_true(r <= 0);
	assert_int_equal(SSL_get_error(ssl, r), SSL_ERROR_SSL);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()), SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER);
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	/* one more request on the same loop: the first connection's callbacks
	 * have all run once it is answered (Connection: close, so that the
	 * server has closed this one too before the suite's teardown stops
	 * the loop: a connection open then is never finalised) */
	SSL_SESSION *sess = NULL;
	int reused = -1;
	char body[4096];
	whoami_tls(ts_httpd_port(lenient_srv), &sess, &reused, body, sizeof(body));
	SSL_SESSION_free(sess);
	assert_non_null(strstr(body, "200 OK"));
	ts_httpd_tls_stats(lenient_srv, &ok1, &failed1);
	assert_int_equal(ok1 - ok0, 2);
	assert_int_equal(failed1 - failed0, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_roundtrip_and_peer_id),
		cmocka_unit_test(test_required_cert_rejects_anonymous),
		cmocka_unit_test(test_optional_cert),
		cmocka_unit_test(test_server_cert_must_verify),
		cmocka_unit_test(test_404_405),
		cmocka_unit_test(test_bad_json_body),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_prefix_query_header),
		cmocka_unit_test(test_sse_three_events),
		cmocka_unit_test(test_sse_idle_timeout_and_errors),
		cmocka_unit_test(test_stream_outlives_idle_timeout),
		cmocka_unit_test(test_route_args),
		cmocka_unit_test(test_ticket_key_shared),
		cmocka_unit_test(test_handshake_counted_once),
		cmocka_unit_test(test_hello_retry_request),
		cmocka_unit_test(test_take_connection),
		cmocka_unit_test(test_tls13_suite),
	};
	/* Every TLS context here takes the P-256 group alone, unless it says
	 * otherwise (test_hello_retry_request's clients offer X25519 first). */
	char conf[] = "/tmp/test_httpd_openssl.XXXXXX";
	int cfd = mkstemp(conf);
	static const char cnf[] = "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = groups\n"
				  "[groups]\nGroups = P-256\n";
	if (cfd < 0 || write(cfd, cnf, sizeof(cnf) - 1) != (ssize_t)sizeof(cnf) - 1 || close(cfd) != 0 ||
	    setenv("OPENSSL_CONF", conf, 1) != 0)
		return 1;
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	unlink(conf);
	return rc;
}
