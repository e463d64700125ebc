/*
 * test_httpc.c — ts_httpc_json's own HTTP/1.1 exchange over mutual TLS on
 * 127.0.0.1, against a scripted server written here with plain OpenSSL (one
 * thread per connection), so that the server can misbehave on purpose:
 * close a kept-alive connection, answer chunked, in pieces, never, or with a
 * broken message. (test_httpd drives ts_httpc against the real ts_httpd.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

enum mode {
	M_CL,           /* 200, Content-Length, {"n":<request number>} */
	M_CHUNKED,      /* the same body chunked, written in pieces */
	M_CLOSE_AFTER,  /* M_CL, then the server closes the connection (an idle timeout) */
	M_CONN_CLOSE,   /* M_CL with "Connection: close", the connection left open */
	M_NO_REPLY,     /* the request read, the connection closed without a byte */
	M_PARTIAL,      /* half a response, then closed */
	M_HANG,         /* the request read, no answer */
	M_UNTIL_CLOSE,  /* no Content-Length: the body ends with the connection */
	M_BAD_LENGTH,   /* Content-Length: x */
	M_BIG_CHUNKED,  /* chunks past TS_HTTPC_MAX_RESPONSE */
};

static char tmpdir[64];
static char ca_file[256], srv_cert[256], srv_key[256], cli_cert[256], cli_key[256];
static SSL_CTX *sctx;
static int lfd = -1;
static char base_url[64];
static pthread_t accept_thread;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static enum mode mode;
static int connections, requests, after_close; /* after_close: requests after a Connection: close */
static char last_req[8192];

static int offered_h2; /* a client offered h2 in ALPN */

/* As an HTTP/2-capable server does: h2 if offered, else http/1.1. */
static int
alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen,
    void *arg)
{
	(void)s;
	(void)arg;
	const unsigned char *pick = NULL;
	for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
			pthread_mutex_lock(&mu);
			offered_h2 = 1;
			pthread_mutex_unlock(&mu);
			pick = in + i;
			break;
		}
		if (in[i] == 8 && i + 9 <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0)
			pick = in + i;
	}
	if (pick == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	*outlen = pick[0];
	*out = pick + 1;
	return SSL_TLSEXT_ERR_OK;
}

static void
srv_write(SSL *s, const char *b, size_t n)
{
	if (n > 0)
		(void)SSL_write(s, b, (int)n);
}

static void
srv_puts(SSL *s, const char *b)
{
	srv_write(s, b, strlen(b));
}

/* Bytes of one complete request at the start of b, 0 if not all there. */
static size_t
request_len(const char *b, size_t n)
{
	const char *end = NULL;
	for (size_t i = 0; i + 3 < n; i++)
		if (memcmp(b + i, "\r\n\r\n", 4) == 0) {
			end = b + i + 4;
			break;
		}
	if (end == NULL)
		return 0;
	size_t head = (size_t)(end - b), cl = 0;
	static const char k[] = "\r\nContent-Length:";
	for (const char *p = b; p + sizeof(k) - 1 < end; p++)
		if (strncasecmp(p, k, sizeof(k) - 1) == 0) {
			cl = strtoul(p + sizeof(k) - 1, NULL, 10);
			break;
		}
	return head + cl <= n ? head + cl : 0;
}

/* Answers one request; returns 0 to go on with the connection, 1 to close it. */
static int
answer(SSL *s, enum mode m, int n, int conn_closed_before)
{
	char body[64], msg[512];
	snprintf(body, sizeof(body), "{\"n\":%d}", n);
	switch (m) {
	case M_CL:
	case M_CLOSE_AFTER:
	case M_CONN_CLOSE:
		snprintf(msg, sizeof(msg), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%s"
		    "Content-Length: %zu\r\n\r\n%s", m == M_CONN_CLOSE ? "Connection: close\r\n" : "",
		    strlen(body), body);
		srv_puts(s, msg);
		(void)conn_closed_before;
		return m == M_CLOSE_AFTER;
	case M_CHUNKED: {
		srv_puts(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
		size_t len = strlen(body), half = len / 2;
		snprintf(msg, sizeof(msg), "%zx;ext=1\r\n%.*s\r\n", half, (int)half, body);
		srv_puts(s, msg);
		snprintf(msg, sizeof(msg), "%zX\r\n%s\r\n", len - half, body + half);
		srv_puts(s, msg);
		srv_puts(s, "0\r\nX-Trailer: t\r\n\r\n");
		return 0;
	}
	case M_NO_REPLY:
		return 1;
	case M_PARTIAL:
		srv_puts(s, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{\"n\":");
		return 1;
	case M_HANG: {
		char b[16];
		(void)SSL_read(s, b, sizeof(b)); /* until the client goes (or SO_RCVTIMEO) */
		return 1;
	}
	case M_UNTIL_CLOSE:
		snprintf(msg, sizeof(msg), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n%s", body);
		srv_puts(s, msg);
		return 1;
	case M_BAD_LENGTH:
		srv_puts(s, "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}");
		return 1;
	case M_BIG_CHUNKED: {
		static char chunk[65536 + 32];
		int h = snprintf(chunk, sizeof(chunk), "10000\r\n");
		memset(chunk + h, 'b', 65536);
		memcpy(chunk + h + 65536, "\r\n", 2);
		srv_puts(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
		for (int i = 0; i < 20; i++)
			if (SSL_write(s, chunk, h + 65536 + 2) <= 0)
				break;
		return 1;
	}
	}
	return 1;
}

static void *
conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg, one = 1;
	struct timeval tv = { 3, 0 };
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL *s = SSL_new(sctx);
	char *in = malloc(65536);
	size_t have = 0;
	int said_close = 0;
	if (s == NULL || in == NULL || SSL_set_fd(s, fd) != 1 || SSL_accept(s) != 1)
		goto out;
	for (;;) {
		size_t need;
		while ((need = request_len(in, have)) == 0) {
			if (have == 65536)
				goto out;
			int k = SSL_read(s, in + have, (int)(65536 - have));
			if (k <= 0)
				goto out;
			have += (size_t)k;
		}
		pthread_mutex_lock(&mu);
		int n = ++requests;
		if (said_close)
			after_close++;
		enum mode m = mode;
		snprintf(last_req, sizeof(last_req), "%.*s", (int)need, in);
		pthread_mutex_unlock(&mu);
		memmove(in, in + need, have - need);
		have -= need;
		if (m == M_CONN_CLOSE)
			said_close = 1;
		if (answer(s, m, n, said_close) != 0)
			break;
	}
	(void)SSL_shutdown(s);
out:
	ERR_clear_error();
	SSL_free(s);
	free(in);
	close(fd);
	return NULL;
}

static void *
accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&mu);
		connections++;
		pthread_mutex_unlock(&mu);
		pthread_t t;
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
}

static void
set_mode(enum mode m)
{
	pthread_mutex_lock(&mu);
	mode = m;
	connections = requests = after_close = 0;
	last_req[0] = '\0';
	pthread_mutex_unlock(&mu);
}

static void
counts(int *conns, int *reqs)
{
	pthread_mutex_lock(&mu);
	*conns = connections;
	*reqs = requests;
	pthread_mutex_unlock(&mu);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ts_httpc_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	char pki[128];
	snprintf(pki, sizeof(pki), "%s/pki", tmpdir);
	if (pki_testpki_generate(pki, "89049032", NULL, 0) != 0)
		return -1;
	snprintf(ca_file, sizeof(ca_file), "%s/node-ca.crt", pki);
	snprintf(srv_cert, sizeof(srv_cert), "%s/node-tls.crt", pki);
	snprintf(srv_key, sizeof(srv_key), "%s/node-tls.key", pki);
	snprintf(cli_cert, sizeof(cli_cert), "%s/sp-tls.crt", pki);
	snprintf(cli_key, sizeof(cli_key), "%s/sp-tls.key", pki);
	sctx = SSL_CTX_new(TLS_server_method());
	if (sctx == NULL || SSL_CTX_use_certificate_chain_file(sctx, srv_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, srv_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(sctx, ca_file, NULL) != 1)
		return -1;
	/* the client must present its certificate */
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_alpn_select_cb(sctx, alpn_cb, NULL);
	/* with client certificates, resumption (the client's reconnects) needs it */
	static const unsigned char sid_ctx[] = "test_httpc";
	if (SSL_CTX_set_session_id_context(sctx, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	snprintf(base_url, sizeof(base_url), "https://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	return pthread_create(&accept_thread, NULL, accept_main, NULL) == 0 ? 0 : -1;
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
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(accept_thread, NULL);
	SSL_CTX_free(sctx);
	rm_rf(tmpdir);
	return 0;
}

static ts_httpc *
client(long timeout_ms)
{
	ts_httpc_opts o = { .ca_file = ca_file, .cert_file = cli_cert, .key_file = cli_key, .timeout_ms = timeout_ms };
	ts_httpc *c = NULL;
	assert_int_equal(ts_httpc_new(&o, &c), 0);
	return c;
}

/* One POST to path; returns ts_httpc_json's code, *n the answer's "n". */
static int
call(ts_httpc *c, const char *path, long *n, char *err, size_t errcap)
{
	char url[160];
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	json_t *body = json_pack("{s:s}", "functionCallIdentifier", "f1");
	static const char *const hdrs[] = { "X-Admin-Protocol: gsma/rsp/v2.5.0", NULL };
	long status = 0;
	json_t *resp = NULL;
	int rc = ts_httpc_json(c, "POST", url, hdrs, body, &status, &resp, err, errcap);
	json_decref(body);
	*n = -1;
	if (rc == 0) {
		assert_int_equal(status, 200);
		assert_non_null(resp);
		*n = (long)json_integer_value(json_object_get(resp, "n"));
	}
	json_decref(resp);
	return rc;
}

static void
test_keep_alive_reuse_and_request(void **state)
{
	(void)state;
	set_mode(M_CL);
	ts_httpc *c = client(5000);
	long n;
	char err[256];
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(call(c, "/gsma/rsp2/es2plus/confirmOrder?x=1#frag", &n, err, sizeof(err)), 0);
		assert_int_equal(n, i);
	}
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 1); /* one connection carried all three */
	assert_int_equal(reqs, 3);
	/* the message sent: request line (no fragment), Host, the fixed and the
	 * caller's fields, Content-Length, the JSON body */
	pthread_mutex_lock(&mu);
	char req[sizeof(last_req)];
	memcpy(req, last_req, sizeof(req));
	pthread_mutex_unlock(&mu);
	assert_true(strncmp(req, "POST /gsma/rsp2/es2plus/confirmOrder?x=1 HTTP/1.1\r\n", 51) == 0);
	char host[96];
	snprintf(host, sizeof(host), "\r\nHost: %s\r\n", base_url + 8);
	assert_non_null(strstr(req, host));
	assert_non_null(strstr(req, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(req, "\r\nAccept: application/json\r\n"));
	assert_non_null(strstr(req, "\r\nX-Admin-Protocol: gsma/rsp/v2.5.0\r\n"));
	const char *jb = "{\"functionCallIdentifier\":\"f1\"}";
	char cl[64];
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n\r\n", strlen(jb));
	assert_non_null(strstr(req, cl));
	assert_string_equal(req + strlen(req) - strlen(jb), jb);

	/* a GET without a body has no Content-Length; a DELETE without one says 0 */
	char url[128];
	long status = 0;
	json_t *resp = NULL;
	snprintf(url, sizeof(url), "%s/x", base_url);
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), 0);
	json_decref(resp);
	pthread_mutex_lock(&mu);
	assert_true(strncmp(last_req, "GET /x HTTP/1.1\r\n", 17) == 0);
	assert_null(strstr(last_req, "Content-Length"));
	pthread_mutex_unlock(&mu);
	snprintf(url, sizeof(url), "%s?q=1", base_url);
	assert_int_equal(ts_httpc_json(c, "DELETE", url, NULL, NULL, &status, &resp, NULL, 0), 0);
	json_decref(resp);
	pthread_mutex_lock(&mu);
	assert_true(strncmp(last_req, "DELETE /?q=1 HTTP/1.1\r\n", 23) == 0);
	assert_non_null(strstr(last_req, "\r\nContent-Length: 0\r\n"));
	pthread_mutex_unlock(&mu);
	/* the connection was negotiated for HTTP/1.1 only */
	pthread_mutex_lock(&mu);
	assert_int_equal(offered_h2, 0);
	pthread_mutex_unlock(&mu);
	ts_httpc_free(c);
}

static void
test_chunked_answer(void **state)
{
	(void)state;
	set_mode(M_CHUNKED);
	ts_httpc *c = client(5000);
	long n;
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(call(c, "/c", &n, NULL, 0), 0);
		assert_int_equal(n, i);
	}
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 1);
	ts_httpc_free(c);
}

/* The server closed the kept-alive connection while it was idle: the next
 * call finds it dead before any byte of an answer, connects again and sends
 * once more. */
static void
test_dead_reused_connection_retried(void **state)
{
	(void)state;
	set_mode(M_CLOSE_AFTER);
	ts_httpc *c = client(5000);
	long n;
	char err[256] = "";
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), 0);
	usleep(100 * 1000); /* the server's close arrives */
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 2);
	assert_int_equal(reqs, 2);
	ts_httpc_free(c);
}

/* Only once: a server that drops every request gets it twice, not more;
 * and a fresh connection is not retried at all. */
static void
test_retry_only_once(void **state)
{
	(void)state;
	set_mode(M_CL);
	ts_httpc *c = client(5000);
	long n;
	char err[256] = "";
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), 0);
	set_mode(M_NO_REPLY);
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ENET);
	assert_true(err[0] != '\0');
	usleep(50 * 1000);
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 1); /* the retry's; the first request went on the kept one */
	assert_int_equal(reqs, 2);
	set_mode(M_NO_REPLY);
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ENET);
	usleep(50 * 1000);
	counts(&conns, &reqs);
	assert_int_equal(conns, 1);
	assert_int_equal(reqs, 1);
	ts_httpc_free(c);
}

/* Once a byte of the answer came, the server may have acted: no retry. */
static void
test_no_retry_after_a_byte(void **state)
{
	(void)state;
	set_mode(M_CL);
	ts_httpc *c = client(5000);
	long n;
	char err[256] = "";
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), 0);
	set_mode(M_PARTIAL);
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ENET);
	assert_non_null(strstr(err, "closed before the end"));
	usleep(50 * 1000);
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 0);
	assert_int_equal(reqs, 1);
	ts_httpc_free(c);
}

/* "Connection: close" ends the connection's use even if the server keeps it open. */
static void
test_connection_close_honoured(void **state)
{
	(void)state;
	set_mode(M_CONN_CLOSE);
	ts_httpc *c = client(5000);
	long n;
	assert_int_equal(call(c, "/a", &n, NULL, 0), 0);
	assert_int_equal(call(c, "/a", &n, NULL, 0), 0);
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 2);
	pthread_mutex_lock(&mu);
	assert_int_equal(after_close, 0);
	pthread_mutex_unlock(&mu);
	ts_httpc_free(c);
}

static void
test_body_until_close(void **state)
{
	(void)state;
	set_mode(M_UNTIL_CLOSE);
	ts_httpc *c = client(5000);
	long n;
	assert_int_equal(call(c, "/a", &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_int_equal(call(c, "/a", &n, NULL, 0), 0);
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(conns, 2);
	ts_httpc_free(c);
}

static void
test_timeout(void **state)
{
	(void)state;
	set_mode(M_HANG);
	ts_httpc *c = client(300);
	long n;
	char err[256] = "";
	int64_t t0 = ts_mono_ms();
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ETIMEOUT);
	int64_t took = ts_mono_ms() - t0;
	assert_true(took >= 290 && took < 2000);
	assert_non_null(strstr(err, "300 ms"));
	ts_httpc_free(c);
}

static void
test_broken_and_oversize_answers(void **state)
{
	(void)state;
	ts_httpc *c = client(10000);
	long n;
	char err[256] = "";
	set_mode(M_BAD_LENGTH);
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ENET);
	assert_non_null(strstr(err, "malformed HTTP response"));
	set_mode(M_BIG_CHUNKED);
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ELIMIT);
	assert_non_null(strstr(err, "larger than"));
	/* and the client works on after both */
	set_mode(M_CL);
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), 0);
	ts_httpc_free(c);
}

static void
test_refused_before_sending(void **state)
{
	(void)state;
	set_mode(M_CL);
	ts_httpc *c = client(5000);
	long status = 0;
	json_t *resp = NULL;
	char err[256] = "";
	/* HTTPS only */
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/a", strrchr(base_url, ':') + 1);
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, err, sizeof(err)), TS_ENET);
	assert_non_null(strstr(err, "https"));
	snprintf(url, sizeof(url), "%s/a", base_url);
	/* a method or a header that would break the message */
	assert_int_equal(ts_httpc_json(c, "GE T", url, NULL, NULL, &status, &resp, NULL, 0), TS_EINVAL);
	const char *nocolon[] = { "X-Test yes", NULL };
	assert_int_equal(ts_httpc_json(c, "GET", url, nocolon, NULL, &status, &resp, NULL, 0), TS_EINVAL);
	const char *crlf[] = { "X-Test: a\r\nX-Evil: b", NULL };
	assert_int_equal(ts_httpc_json(c, "GET", url, crlf, NULL, &status, &resp, NULL, 0), TS_EINVAL);
	/* userinfo, spaces */
	snprintf(url, sizeof(url), "https://u@%s/a", base_url + 8);
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), TS_EINVAL);
	snprintf(url, sizeof(url), "%s/a b", base_url);
	assert_int_equal(ts_httpc_json(c, "GET", url, NULL, NULL, &status, &resp, NULL, 0), TS_EINVAL);
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(reqs, 0);
	ts_httpc_free(c);
}

/* Without the client certificate the server refuses the handshake. */
static void
test_client_cert_needed(void **state)
{
	(void)state;
	set_mode(M_CL);
	ts_httpc_opts o = { .ca_file = ca_file, .timeout_ms = 5000 };
	ts_httpc *c = NULL;
	assert_int_equal(ts_httpc_new(&o, &c), 0);
	long n;
	char err[256] = "";
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ENET);
	assert_true(err[0] != '\0');
	ts_httpc_free(c);
}

/* The server presents cert (issued by issuer/issuer_key, SAN san) with its
 * key for the next connections; restore() puts the node certificate back. */
static void
serve_as(X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_TLS_SERVER, .cn = "test server", .san = san, .days = 1 };
	assert_int_equal(pki_issue(issuer, issuer_key, k, &o, &c), 0);
	assert_int_equal(SSL_CTX_use_certificate(sctx, c), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, k), 1);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void
restore(void)
{
	assert_int_equal(SSL_CTX_use_certificate_chain_file(sctx, srv_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(sctx, srv_key, SSL_FILETYPE_PEM), 1);
}

/* A fresh client's call is refused in the handshake, with a reason, before
 * the server has read any request. */
static void
assert_refused_before_request(void)
{
	ts_httpc *c = client(5000);
	long n;
	char err[256] = "";
	assert_int_equal(call(c, "/a", &n, err, sizeof(err)), TS_ENET);
	assert_true(err[0] != '\0');
	int conns, reqs;
	counts(&conns, &reqs);
	assert_int_equal(reqs, 0);
	ts_httpc_free(c);
}

/* The provider's certificate must name the host called (CURLOPT_SSL_VERIFYHOST):
 * a certificate of the trusted CA for another name is refused before any
 * request byte is sent; the same CA's certificate for 127.0.0.1 is not. */
static void
test_server_name_checked(void **state)
{
	(void)state;
	char pki[128], path[192];
	snprintf(pki, sizeof(pki), "%s/pki", tmpdir);
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	snprintf(path, sizeof(path), "%s/node-ca.crt", pki);
	assert_int_equal(pki_cert_load(path, &ca), 0);
	snprintf(path, sizeof(path), "%s/node-ca.key", pki);
	assert_int_equal(pki_key_load(path, &ca_key), 0);
	set_mode(M_CL);
	serve_as(ca, ca_key, "DNS:elsewhere.example");
	assert_refused_before_request();
	/* the same CA, the right name: served */
	set_mode(M_CL);
	serve_as(ca, ca_key, "IP:127.0.0.1");
	ts_httpc *c = client(5000);
	long n;
	assert_int_equal(call(c, "/a", &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	ts_httpc_free(c);
	restore();
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

/* ... and must chain to the configured CA (CURLOPT_SSL_VERIFYPEER): the right
 * name under a CA of its own is refused before any request byte is sent. */
static void
test_server_chain_checked(void **state)
{
	(void)state;
	EVP_PKEY *other_key = NULL;
	X509 *other = NULL;
	assert_int_equal(pki_keygen(&other_key), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_ROOT_CA, .cn = "not the provider's CA", .days = 1 };
	assert_int_equal(pki_issue(NULL, other_key, other_key, &o, &other), 0);
	set_mode(M_CL);
	serve_as(other, other_key, "IP:127.0.0.1,DNS:localhost");
	assert_refused_before_request();
	restore();
	X509_free(other);
	EVP_PKEY_free(other_key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_alive_reuse_and_request),
		cmocka_unit_test(test_chunked_answer),
		cmocka_unit_test(test_dead_reused_connection_retried),
		cmocka_unit_test(test_retry_only_once),
		cmocka_unit_test(test_no_retry_after_a_byte),
		cmocka_unit_test(test_connection_close_honoured),
		cmocka_unit_test(test_body_until_close),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_broken_and_oversize_answers),
		cmocka_unit_test(test_refused_before_sending),
		cmocka_unit_test(test_client_cert_needed),
		cmocka_unit_test(test_server_name_checked),
		cmocka_unit_test(test_server_chain_checked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
