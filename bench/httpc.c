/*
 * bench/httpc.c — the client CPU of one ts_httpc_json call (issue 9: the
 * node's provider calls), against an in-process keep-alive mutual-TLS
 * server on 127.0.0.1 written here with plain OpenSSL.
 *
 *   bench_httpc [N [REQ_BYTES [REP_BYTES]]]   (defaults 2000, 495, 527)
 *
 * Makes a test PKI in a temporary directory, starts the server thread (one
 * connection at a time, answers every request with a REP_BYTES JSON body
 * and Content-Length), then calls ts_httpc_json("POST") N times from this
 * thread with a REQ_BYTES JSON body and the node's headers, as the outbox
 * does, and prints this thread's CPU (CLOCK_THREAD_CPUTIME_ID: user and
 * kernel) per call after a warm-up, and how many TCP connections the server
 * accepted (1 = every call reused the kept-alive connection). Also the
 * wall time per call. The server's CPU is not counted.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "lib/httpc.h"
#include "lib/pki.h"

#define WARMUP 50
#define SRV_BUF 65536

static SSL_CTX *sctx;
static int lfd;
static char *reply;
static size_t reply_len;
static int accepted;

static double
now_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_httpc: error: %s\n", what);
	exit(1);
}

/* Bytes of one complete request at the start of b (head + Content-Length
 * body), 0 if not all there yet. The client always sends Content-Length. */
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

static void *
server(void *arg)
{
	(void)arg;
	char *in = malloc(SRV_BUF);
	if (in == NULL)
		die("out of memory");
	for (;;) {
		int fd = accept(lfd, NULL, NULL), one = 1;
		if (fd < 0)
			break;
		accepted++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		SSL *s = SSL_new(sctx);
		if (s == NULL || SSL_set_fd(s, fd) != 1 || SSL_accept(s) != 1)
			goto next;
		size_t have = 0;
		for (;;) {
			int k = SSL_read(s, in + have, (int)(SRV_BUF - have));
			if (k <= 0)
				break;
			have += (size_t)k;
			size_t need;
			while ((need = request_len(in, have)) > 0) {
				if (SSL_write(s, reply, (int)reply_len) != (int)reply_len)
					goto next;
				memmove(in, in + need, have - need);
				have -= need;
			}
			if (have == SRV_BUF)
				break;
		}
next:
		if (s != NULL)
			SSL_free(s);
		close(fd);
	}
	free(in);
	return NULL;
}

static size_t
arg_size(int argc, char **argv, int i, size_t def)
{
	if (argc <= i)
		return def;
	char *end;
	unsigned long v = strtoul(argv[i], &end, 10);
	if (*end != '\0' || v == 0 || v > 100000)
		die("arguments: N REQ_BYTES REP_BYTES, positive integers up to 100000");
	return v;
}

int
main(int argc, char **argv)
{
	size_t n = arg_size(argc, argv, 1, 2000), req = arg_size(argc, argv, 2, 495),
	       rep = arg_size(argc, argv, 3, 527);
	char dir[] = "/tmp/bench_httpc.XXXXXX", pki[64], p[5][128];
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	if (pki_testpki_generate(pki, "89049032", NULL, 0) != 0)
		die("test PKI");
	const char *names[5] = { "node-tls.crt", "node-tls.key", "node-ca.crt", "sp-tls.crt", "sp-tls.key" };
	for (int i = 0; i < 5; i++)
		snprintf(p[i], sizeof(p[i]), "%s/%s", pki, names[i]);

	sctx = SSL_CTX_new(TLS_server_method());
	if (sctx == NULL || SSL_CTX_use_certificate_chain_file(sctx, p[0]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, p[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(sctx, p[2], NULL) != 1)
		die("server TLS");
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);

	/* the reply: a head with Content-Length and a JSON object body */
	size_t body = rep > 64 ? rep - 64 : 8;
	reply = malloc(body + 256);
	if (reply == NULL)
		die("out of memory");
	int hl = snprintf(reply, 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", body);
	memcpy(reply + hl, "{\"r\":\"", 6);
	memset(reply + hl + 6, 'r', body - 8);
	memcpy(reply + (size_t)hl + body - 2, "\"}", 2);
	reply_len = (size_t)hl + body;

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		die("listen on 127.0.0.1");
	pthread_t t;
	if (pthread_create(&t, NULL, server, NULL) != 0)
		die("server thread");

	ts_httpc_opts o = { .ca_file = p[2], .cert_file = p[3], .key_file = p[4], .timeout_ms = 15000 };
	ts_httpc *c = NULL;
	if (ts_httpc_new(&o, &c) != 0)
		die("ts_httpc_new");
	char url[128];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/gsma/rsp2/es2plus/confirmOrder",
	    (unsigned)ntohs(sa.sin_port));
	char *fill = malloc(req);
	if (fill == NULL)
		die("out of memory");
	memset(fill, 'q', req - 1);
	fill[req > 20 ? req - 20 : 1] = '\0';
	json_t *jb = json_pack("{s:s}", "f", fill);
	static const char *const hdrs[] = { "X-Admin-Protocol: gsma/rsp/v2.5.0", NULL };
	double c0 = 0, w0 = 0;
	for (size_t i = 0; i < WARMUP + n; i++) {
		if (i == WARMUP) {
			c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
			w0 = now_us(CLOCK_MONOTONIC);
		}
		long status = 0;
		json_t *r = NULL;
		char err[256] = "";
		if (ts_httpc_json(c, "POST", url, hdrs, jb, &status, &r, err, sizeof(err)) != 0 || status != 200 ||
		    !json_is_object(r)) {
			fprintf(stderr, "bench_httpc: call %zu: %s (HTTP %ld)\n", i, err, status);
			exit(1);
		}
		json_decref(r);
	}
	double cpu = (now_us(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)n;
	double wall = (now_us(CLOCK_MONOTONIC) - w0) / (double)n;
	printf("httpc call: %.1f us client CPU, %.1f us wall per call (%zu calls, %zu B out, %zu B back), "
	    "%d connection(s)\n", cpu, wall, n, req, rep, accepted);
	ts_httpc_free(c);
	json_decref(jb);
	free(fill);
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(t, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
