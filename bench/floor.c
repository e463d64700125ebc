/*
 * bench/floor.c — the price of each primitive the node does per flow, timed
 * on this machine with OpenSSL and SQLite (issue 9, item 1).
 *
 *   bench_floor --pki DIR [--counts FILE0 FILE1 --flows N --node-cpu-ms MS]
 *
 * Prints "price NAME MICROSECONDS" for each primitive, measured as this
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over a fixed number of
 * repetitions, the median of --rounds R (default 5) such rounds, with the
 * smallest and largest round (the machine is shared): ECDSA P-256 sign and verify (SHA-256, 200 bytes), ECDH derive,
 * P-256 key generation, a full and a partial (on the curve, not infinity)
 * public-key check, a public-key import from a raw
 * point, an X.509 parse (DER), a chain verification (eUICC -> EUM -> CI of
 * DIR), the server side of a full mutual-TLS handshake and of one 512-byte
 * TLS record written and one read (memory BIO pair), one SQLite step of an
 * indexed SELECT, one SQLite write transaction in WAL with synchronous=FULL
 * (priced per fsync: each such commit does one), a 4 kB pread and pwrite,
 * a JSON parse and a dump of a 300-byte object, AES-128-CBC and CMAC per byte.
 *
 * With --counts (two counter dumps of libbench_count.so taken at the start
 * and the end of bench_flows' measured phase, see bench/preload/count.c) it
 * prints the counts per flow, the floor for one flow = sum(count x price),
 * the node's CPU per flow and the ratio. OpenSSL's per-request decoder and
 * fetch look-ups are counted but priced 0: they are overhead, not floor.
 *
 * The floor's definition (session 10), decided on the words ("8
 * keep-alive requests on nginx with client certificates, 6 SSE writes"):
 *   - each HTTPS request the node serves (counted: evhttp_send_reply) is
 *     priced as the server side of one keep-alive mutual-TLS request and
 *     reply on a real 127.0.0.1 TCP connection, served by a minimal epoll
 *     server of this file's own (time_net: its thread's CPU, user and
 *     kernel), at the node's mean request and reply sizes;
 *   - each SSE write (evhttp_send_reply_chunk) as one SSL_write of an event
 *     of the node's mean size into such a connection, the reader asleep;
 *   - each provider call the node makes (curl_easy_perform) as the client
 *     side of such an exchange at the node's call sizes;
 *   - a JSON parse and dump at the node's mean document sizes.
 * The SSL reads and writes inside those are then not priced again. The old
 * definition (one 512-byte record into a memory BIO per SSL_read/SSL_write,
 * JSON on a 300-byte document, requests not priced) is printed beside the
 * new one, part by part, with both floors and both ratios.
 * The fixed definition (session 11; floor_parts) is the new one without
 * three things it priced twice or too high: a commit's own step and pwrites
 * (in the fsync price, a whole small write transaction, and again in the
 * step and pwrite counts), a 24-byte WAL frame header priced as a 4 kB
 * pwrite, and the BEGIN/COMMIT steps of the node's shared read
 * transactions priced as full reads. All three floors and ratios are
 * printed.
 *
 *   bench_floor ... [--no-sized] [--save-samples FILE] [--add-samples FILE]
 *
 * bench/run.sh times the primitives whose price does not depend on the
 * node's sizes also before the node's run (--no-sized --save-samples) and
 * adds those rounds to the ones after it (--add-samples): a price is the
 * median of the rounds on both sides (this VM's CPU speed is bimodal; see
 * add_samples). The floor from the rounds after alone is printed beside.
 * --rounds 0 with --add-samples times nothing (ctest bench/floor checks the
 * arithmetic that way, bench/floor_test.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "lib/json.h"

#define FLOOR_MAX_NAMES 64
#define FLOOR_MAX_ROUNDS 15
#define FLOOR_ROUNDS 5 /* default --rounds */
/* rounds of this run plus those of --add-samples (the rounds run before the
 * node's, bench/run.sh) */
#define FLOOR_MAX_SAMPLES (2 * FLOOR_MAX_ROUNDS)
#define FLOOR_NAME_MAX 32

static double
cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_floor: error: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* A primitive's rounds: first those read with --add-samples ("before": the
 * rounds bench/run.sh runs before the node's flows), then this run's
 * ("after"). The price is the median of all of them; us_after, the median of
 * this run's alone (the floor as sessions 8-10 took it), is printed beside. */
struct price {
	char name[FLOOR_NAME_MAX];
	double us;       /* the median over all rounds */
	double us_after; /* the median over this run's rounds (0 if none) */
	double sample[FLOOR_MAX_SAMPLES];
	int n, nbefore;
};
static struct price prices[FLOOR_MAX_NAMES];
static size_t nprices;

static struct price *
price_slot(const char *name)
{
	size_t i = 0;
	while (i < nprices && strcmp(prices[i].name, name) != 0)
		i++;
	if (i == nprices) {
		if (nprices == FLOOR_MAX_NAMES)
			die("too many primitives");
		if (snprintf(prices[i].name, sizeof(prices[i].name), "%s", name) >= (int)sizeof(prices[i].name))
			die("primitive name too long");
		prices[i].n = prices[i].nbefore = 0;
		nprices++;
	}
	return &prices[i];
}

/* Records one round's time of a primitive (printed by print_prices). */
static void
set_price(const char *name, double us)
{
	struct price *p = price_slot(name);
	if (p->n >= FLOOR_MAX_SAMPLES)
		die("too many rounds of one primitive");
	p->sample[p->n++] = us;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(const double *s, int n, double *lo, double *hi)
{
	double v[FLOOR_MAX_SAMPLES];
	if (n <= 0)
		return 0;
	memcpy(v, s, sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	if (lo != NULL)
		*lo = v[0];
	if (hi != NULL)
		*hi = v[n - 1];
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * --add-samples FILE: "sample NAME MICROSECONDS" lines (--save-samples of an
 * earlier run) become each primitive's first rounds. bench/run.sh prices the
 * primitives whose price does not depend on the node's sizes once before the
 * node's flows and once after them: this VM's CPU speed is bimodal (the same
 * primitive 1.3x apart between runs minutes apart), and rounds on both sides
 * of the node's run bracket the speed it ran at. Nothing is dropped or
 * weighted: the price is the median of all rounds.
 */
static void
add_samples(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path);
	char name[FLOOR_NAME_MAX], tag[16];
	double us;
	int k;
	while ((k = fscanf(f, "%15s %31s %lf", tag, name, &us)) == 3) {
		if (strcmp(tag, "sample") != 0 || !isfinite(us) || us < 0)
			die("--add-samples: a line is not \"sample NAME MICROSECONDS\"");
		set_price(name, us);
	}
	if (k != EOF || ferror(f))
		die("--add-samples: a line is not \"sample NAME MICROSECONDS\"");
	fclose(f);
	for (size_t i = 0; i < nprices; i++)
		prices[i].nbefore = prices[i].n;
}

/* --save-samples FILE: this run's rounds, for a later --add-samples. */
static void
save_samples(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		die(path);
	for (size_t i = 0; i < nprices; i++)
		for (int r = prices[i].nbefore; r < prices[i].n; r++)
			fprintf(f, "sample %s %.6f\n", prices[i].name, prices[i].sample[r]);
	if (fclose(f) != 0)
		die(path);
}

/* Each primitive's price = the median of its rounds (one round on a shared
 * machine can be twice another), printed with the spread. */
static void
print_prices(void)
{
	for (size_t i = 0; i < nprices; i++) {
		struct price *p = &prices[i];
		double lo = 0, hi = 0;
		p->us = median(p->sample, p->n, &lo, &hi);
		p->us_after = median(p->sample + p->nbefore, p->n - p->nbefore, NULL, NULL);
		/* "n:" names are counts per operation (the floor's own commit's calls), not times */
		const char *unit = strncmp(p->name, "n:", 2) == 0 ? "  " : "us";
		if (p->nbefore > 0)
			printf("price %-24s %11.4f %s  (median of %d rounds: %d before the node's run, %d after (median "
			       "%.4f); min %.4f, max %.4f)\n",
			    p->name, p->us, unit, p->n, p->nbefore, p->n - p->nbefore, p->us_after, lo, hi);
		else
			printf("price %-24s %11.4f %s  (median of %d rounds, min %.4f, max %.4f)\n", p->name, p->us, unit,
			    p->n, lo, hi);
	}
}

/* after = 1: the median of this run's rounds alone */
static double
price_of(const char *name, int after, int *known)
{
	for (size_t i = 0; i < nprices; i++)
		if (strcmp(prices[i].name, name) == 0 && (!after || prices[i].n > prices[i].nbefore)) {
			*known = 1;
			return after ? prices[i].us_after : prices[i].us;
		}
	*known = 0;
	return 0;
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		die(path);
	return x;
}

/* ---- ECDSA, ECDH, keys -------------------------------------------------- */
static void
time_ec(void)
{
	enum { N = 300 };
	unsigned char msg[200], sig[128];
	memset(msg, 0x5a, sizeof(msg));
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_MD *sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (k == NULL || peer == NULL || sha == NULL)
		die("P-256 keys");
	size_t siglen = 0;
	double t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		siglen = sizeof(sig);
		if (EVP_DigestSignInit(c, NULL, sha, NULL, k) != 1 || EVP_DigestSign(c, sig, &siglen, msg, sizeof(msg)) != 1)
			die("sign");
		EVP_MD_CTX_free(c);
	}
	set_price("sign", (cpu_us() - t0) / N);
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (EVP_DigestVerifyInit(c, NULL, sha, NULL, k) != 1 ||
		    EVP_DigestVerify(c, sig, siglen, msg, sizeof(msg)) != 1)
			die("verify");
		EVP_MD_CTX_free(c);
	}
	set_price("verify", (cpu_us() - t0) / N);
	/* ECDH as the node does it (bsp_ecdh): the peer's point is checked on
	 * the curve when it is imported (pki_pubkey_from_point, priced as
	 * pkey_import), so the derive does not check it again
	 * (EVP_PKEY_derive_set_peer_ex(..., 0)). Until session 12 the floor
	 * used EVP_PKEY_derive_set_peer, which also runs OpenSSL's full public
	 * key check (a scalar multiplication, the pkey_check price): it priced
	 * an ECDH ~1.9x the node's. */
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		unsigned char z[64];
		size_t zl = sizeof(z);
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
		if (c == NULL || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer_ex(c, peer, 0) != 1 ||
		    EVP_PKEY_derive(c, z, &zl) != 1)
			die("derive");
		EVP_PKEY_CTX_free(c);
	}
	set_price("ecdh_derive", (cpu_us() - t0) / N);
	/* keygen as the node does it (pki_keygen, session 13): one context set
	 * up once, EVP_PKEY_generate per key (EVP_PKEY_Q_keygen made a context
	 * per key and cost ~2.3x) */
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (kc == NULL || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_CTX_set_group_name(kc, "P-256") != 1)
		die("keygen context");
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		EVP_PKEY *g = NULL;
		if (EVP_PKEY_generate(kc, &g) != 1)
			die("keygen");
		EVP_PKEY_free(g);
	}
	set_price("keygen", (cpu_us() - t0) / N);
	EVP_PKEY_CTX_free(kc);
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(peer, NULL);
		if (c == NULL || EVP_PKEY_public_check(c) != 1)
			die("public check");
		EVP_PKEY_CTX_free(c);
	}
	set_price("pkey_check", (cpu_us() - t0) / N);
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(peer, NULL);
		if (c == NULL || EVP_PKEY_public_check_quick(c) != 1)
			die("public check (partial)");
		EVP_PKEY_CTX_free(c);
	}
	set_price("pkey_check_quick", (cpu_us() - t0) / N);
	unsigned char pt[65];
	size_t ptl = 0;
	if (EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptl) != 1)
		die("public point");
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
		OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
		OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, ptl);
		OSSL_PARAM *p = OSSL_PARAM_BLD_to_param(b);
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		EVP_PKEY *out = NULL;
		if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 || EVP_PKEY_fromdata(c, &out, EVP_PKEY_PUBLIC_KEY, p) != 1)
			die("import");
		EVP_PKEY_free(out);
		EVP_PKEY_CTX_free(c);
		OSSL_PARAM_free(p);
		OSSL_PARAM_BLD_free(b);
	}
	set_price("pkey_import", (cpu_us() - t0) / N);
	EVP_MD_free(sha);
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);
}

/* ---- X.509 -------------------------------------------------------------- */
static void
time_x509(const char *pki)
{
	enum { N = 300 };
	char p[4096];
	snprintf(p, sizeof(p), "%s/ci.crt", pki);
	X509 *ci = load_cert(p);
	snprintf(p, sizeof(p), "%s/eum.crt", pki);
	X509 *eum = load_cert(p);
	X509 *leaf = NULL;
	/* any eUICC certificate of the PKI */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "ls %s/euicc-*.crt 2>/dev/null | head -1", pki);
	FILE *ls = popen(cmd, "r");
	if (ls != NULL && fgets(p, sizeof(p), ls) != NULL) {
		p[strcspn(p, "\n")] = '\0';
		leaf = load_cert(p);
	}
	if (ls != NULL)
		pclose(ls);
	if (leaf == NULL)
		die("no eUICC certificate in the PKI");
	unsigned char *der = NULL;
	int dl = i2d_X509(leaf, &der);
	double t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		const unsigned char *q = der;
		X509 *x = d2i_X509(NULL, &q, dl);
		if (x == NULL)
			die("parse");
		X509_free(x);
	}
	set_price("x509_parse", (cpu_us() - t0) / N);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_add_cert(st, ci);
	STACK_OF(X509) *un = sk_X509_new_null();
	sk_X509_push(un, eum);
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		X509_STORE_CTX *c = X509_STORE_CTX_new();
		if (X509_STORE_CTX_init(c, st, leaf, un) != 1)
			die("chain ctx");
		(void)X509_verify_cert(c); /* the policy of the node may differ; the work is the same */
		X509_STORE_CTX_free(c);
	}
	set_price("chain_verify", (cpu_us() - t0) / N);
	OPENSSL_free(der);
	sk_X509_free(un);
	X509_STORE_free(st);
	X509_free(ci);
	X509_free(eum);
	X509_free(leaf);
}

/* ---- TLS (server side, memory BIO pair) --------------------------------- */
static int
pump(SSL *cli, SSL *srv, double *srv_us)
{
	for (int i = 0; i < 100; i++) {
		int rc = SSL_do_handshake(cli);
		double t0 = cpu_us();
		int rs = SSL_do_handshake(srv);
		*srv_us += cpu_us() - t0;
		if (rc == 1 && rs == 1)
			return 0;
	}
	return -1;
}

/* The server's context (the node's TLS key, client certificates verified)
 * and a client's that presents a certificate of the PKI (mutual TLS). */
static void
tls_ctxs(const char *pki, SSL_CTX **server, SSL_CTX **client)
{
	char c1[4096], k1[4096], ca[4096], cc[4096], ck[4096], ci[4096];
	snprintf(c1, sizeof(c1), "%s/node-tls.crt", pki);
	snprintf(k1, sizeof(k1), "%s/node-tls.key", pki);
	snprintf(ca, sizeof(ca), "%s/node-ca.crt", pki);
	snprintf(cc, sizeof(cc), "%s/sp-tls.crt", pki);
	snprintf(ck, sizeof(ck), "%s/sp-tls.key", pki);
	snprintf(ci, sizeof(ci), "%s/ci.crt", pki);
	SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
	if (sc == NULL || cctx == NULL || SSL_CTX_use_certificate_chain_file(sc, c1) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sc, k1, SSL_FILETYPE_PEM) != 1)
		die("server TLS key");
	/* the client presents some certificate the server verifies (the work of
	 * a device certificate: one chain verification) */
	if (SSL_CTX_use_certificate_file(cctx, cc, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(cctx, ck, SSL_FILETYPE_PEM) != 1)
		die("client TLS key");
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
	SSL_CTX_load_verify_locations(sc, ca, NULL);
	/* the client certificate's issuer may be another CA of the PKI: trust it too */
	SSL_CTX_load_verify_locations(sc, ci, NULL);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	*server = sc;
	*client = cctx;
}

static void
time_tls(const char *pki)
{
	enum { N = 60, R = 2000 };
	SSL_CTX *sc, *cctx;
	tls_ctxs(pki, &sc, &cctx);
	double hs = 0;
	SSL *keep_c = NULL, *keep_s = NULL;
	for (int i = 0; i < N; i++) {
		SSL *c = SSL_new(cctx), *s = SSL_new(sc);
		BIO *a, *b;
		BIO_new_bio_pair(&a, 0, &b, 0);
		SSL_set_bio(c, a, a);
		SSL_set_bio(s, b, b);
		SSL_set_connect_state(c);
		SSL_set_accept_state(s);
		if (pump(c, s, &hs) != 0)
			die("TLS handshake");
		if (i == N - 1) {
			keep_c = c;
			keep_s = s;
		} else {
			SSL_free(c);
			SSL_free(s);
		}
	}
	set_price("tls_connection", hs / N);
	char buf[512], in[2048];
	memset(buf, 'x', sizeof(buf));
	double w = 0, r = 0;
	for (int i = 0; i < R; i++) {
		double t0 = cpu_us();
		if (SSL_write(keep_s, buf, sizeof(buf)) != (int)sizeof(buf))
			die("SSL_write");
		w += cpu_us() - t0;
		if (SSL_read(keep_c, in, sizeof(in)) <= 0)
			die("SSL_read (client)");
		if (SSL_write(keep_c, buf, sizeof(buf)) != (int)sizeof(buf))
			die("SSL_write (client)");
		t0 = cpu_us();
		if (SSL_read(keep_s, in, sizeof(in)) <= 0)
			die("SSL_read");
		r += cpu_us() - t0;
	}
	set_price("ssl_write", w / R);
	set_price("ssl_read", r / R);
	SSL_free(keep_c);
	SSL_free(keep_s);
	SSL_CTX_free(sc);
	SSL_CTX_free(cctx);
}

/* ---- keep-alive mutual TLS on a loopback TCP socket --------------------- */
/*
 * The issue measured its floor with "8 keep-alive requests on nginx with
 * client certificates, 6 SSE writes". A request is priced here as what a
 * minimal event-driven HTTPS server of this file's own (not the node's code)
 * spends on the server side of one keep-alive mutual-TLS request and reply
 * on a real 127.0.0.1 TCP connection: epoll_wait, SSL_read until it would
 * block (the request's record(s), then the read(2) that finds nothing more,
 * as nginx reads), the request line and headers scanned for the end and
 * Content-Length, the reply (head and body, built once) written with one
 * SSL_write, and back to epoll_wait. It is that thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: user and kernel, so the TCP send and receive
 * paths, the epoll and the wake-ups are in it), divided by the requests. The
 * connection is set up (handshake, tickets) before the timing: the node's
 * connections are kept alive. The sizes are the node's means per request
 * (the counter's bytes), which is exact as far as a request's cost is
 * linear in its bytes (a fixed part plus a part per byte).
 *
 * An SSE write is priced as one SSL_write of an event of the node's mean
 * size into such a connection while the client sleeps in its read (the
 * writer wakes it, as the node does), timed around the call alone.
 *
 * A provider call (the node as the client: ES2+ over keep-alive mutual
 * TLS) is priced as the client side of the same exchange at the sizes of
 * the node's calls: a blocking SSL_write of the request, SSL_read until the
 * reply is complete.
 */
#define NET_WARMUP 50
#define NET_BUF (256 * 1024)

struct net_side {
	SSL_CTX *sctx;
	int lfd;
	int mode;            /* 0 = requests and replies, 1 = SSE writes */
	const char *reply;   /* mode 0 */
	size_t reply_len;
	const char *event;   /* mode 1 */
	size_t event_len;
	int n;               /* timed exchanges (after NET_WARMUP) */
	sem_t ready;         /* mode 1: the client read the last event */
	double us;           /* out: server CPU per request / per write */
	int err;
};

/* The length of the first complete HTTP/1.1 request (or reply) in b, 0 if
 * it is not all there yet; -1 if it is malformed. */
static long
http_complete(const char *b, size_t n)
{
	const char *end = NULL;
	for (size_t i = 0; i + 3 < n; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
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
	if (cl > NET_BUF)
		return -1;
	return head + cl <= n ? (long)(head + cl) : 0;
}

/* Writes all of buf (a non-blocking socket waits in poll for room). */
static int
ssl_write_all(SSL *s, int fd, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		int k = SSL_write(s, buf + off, (int)(len - off));
		if (k > 0) {
			off += (size_t)k;
			continue;
		}
		int e = SSL_get_error(s, k);
		struct pollfd pf = { fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0 };
		if ((e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) || poll(&pf, 1, 10000) != 1)
			return -1;
	}
	return 0;
}

static void *
net_server(void *arg)
{
	struct net_side *a = arg;
	int fd = accept(a->lfd, NULL, NULL), one = 1;
	SSL *s = fd >= 0 ? SSL_new(a->sctx) : NULL;
	char *in = malloc(NET_BUF);
	int ep = epoll_create1(0);
	a->err = 1;
	if (s == NULL || in == NULL || ep < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    SSL_set_fd(s, fd) != 1 || SSL_accept(s) != 1 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		goto out;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto out;
	if (a->mode == 1) {
		double sum = 0, t0;
		for (int i = 0; i < NET_WARMUP + a->n; i++) {
			if (sem_wait(&a->ready) != 0)
				goto out;
			t0 = cpu_us();
			if (ssl_write_all(s, fd, a->event, a->event_len) != 0)
				goto out;
			if (i >= NET_WARMUP)
				sum += cpu_us() - t0;
		}
		a->us = sum / a->n;
		a->err = 0;
		goto out;
	}
	size_t have = 0;
	int served = 0;
	double t0 = 0;
	while (served < NET_WARMUP + a->n) {
		struct epoll_event got;
		if (epoll_wait(ep, &got, 1, 10000) != 1)
			goto out;
		for (;;) {
			if (have == NET_BUF)
				goto out;
			int k = SSL_read(s, in + have, (int)(NET_BUF - have));
			if (k > 0) {
				have += (size_t)k;
				continue;
			}
			if (SSL_get_error(s, k) == SSL_ERROR_WANT_READ)
				break;
			goto out;
		}
		long need;
		while ((need = http_complete(in, have)) > 0) {
			if (ssl_write_all(s, fd, a->reply, a->reply_len) != 0)
				goto out;
			memmove(in, in + need, have - (size_t)need);
			have -= (size_t)need;
			if (++served == NET_WARMUP)
				t0 = cpu_us();
		}
		if (need < 0)
			goto out;
	}
	a->us = (cpu_us() - t0) / a->n;
	a->err = 0;
out:
	if (ep >= 0)
		close(ep);
	free(in);
	if (s != NULL) {
		SSL_shutdown(s);
		SSL_free(s);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* A message of exactly len bytes (at least its head): an HTTP/1.1 head
 * with Content-Length, then a JSON-like body of base64 characters. */
static char *
http_message(const char *first_line, size_t len, size_t *out_len)
{
	char head[512];
	size_t body = 0;
	int hl = 0;
	for (int pass = 0; pass < 3; pass++) { /* Content-Length's digits change the head's length */
		hl = snprintf(head, sizeof(head), "%s\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		    "X-Admin-Protocol: gsma/rsp/v2.5.0\r\nContent-Length: %zu\r\n\r\n", first_line, body);
		body = len > (size_t)hl ? len - (size_t)hl : 0;
	}
	hl = snprintf(head, sizeof(head), "%s\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "X-Admin-Protocol: gsma/rsp/v2.5.0\r\nContent-Length: %zu\r\n\r\n", first_line, body);
	char *m = malloc((size_t)hl + body + 1);
	if (m == NULL)
		die("out of memory");
	memcpy(m, head, (size_t)hl);
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < body; i++)
		m[(size_t)hl + i] = b64[i % 64];
	if (body >= 2) {
		m[hl] = '{';
		m[(size_t)hl + body - 1] = '}';
	}
	m[(size_t)hl + body] = '\0';
	*out_len = (size_t)hl + body;
	return m;
}

static int
net_listen(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0)
		die("listen on 127.0.0.1");
	return fd;
}

static SSL *
net_connect(SSL_CTX *cctx, int lfd, int *out_fd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	SSL *c = SSL_new(cctx);
	if (fd < 0 || c == NULL || getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sl) != 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    SSL_set_fd(c, fd) != 1 || SSL_connect(c) != 1)
		die("connect to 127.0.0.1");
	*out_fd = fd;
	return c;
}

/* Reads one complete HTTP message (or exactly want bytes if want > 0). */
static int
client_read(SSL *c, char *buf, size_t want)
{
	size_t have = 0;
	for (;;) {
		int k = SSL_read(c, buf + have, (int)(NET_BUF - have));
		if (k <= 0)
			return -1;
		have += (size_t)k;
		if (want > 0 ? have >= want : http_complete(buf, have) > 0)
			return 0;
		if (have == NET_BUF)
			return -1;
	}
}

/* One server thread and this thread as the client over one connection.
 * mode 0: n requests of req bytes answered with rep bytes; *srv_us and
 * *cli_us = each side's CPU per exchange. mode 1: n SSE events of rep
 * bytes; *srv_us = the server's CPU per write. */
static void
net_run(SSL_CTX *sctx, SSL_CTX *cctx, int mode, size_t req, size_t rep, int n, double *srv_us, double *cli_us)
{
	struct net_side a;
	memset(&a, 0, sizeof(a));
	a.sctx = sctx;
	a.lfd = net_listen();
	a.mode = mode;
	a.n = n;
	size_t rql = 0;
	char *rq = mode == 0 ? http_message("POST /gsma/rsp2/es9plus/authenticateClient HTTP/1.1", req, &rql) : NULL;
	char *rp = NULL;
	if (mode == 0) {
		rp = http_message("HTTP/1.1 200 OK", rep, &a.reply_len);
		a.reply = rp;
	} else {
		rp = malloc(rep + 1);
		if (rp == NULL)
			die("out of memory");
		memset(rp, 'e', rep);
		a.event = rp;
		a.event_len = rep;
	}
	if (sem_init(&a.ready, 0, 1) != 0)
		die("sem_init");
	pthread_t t;
	if (pthread_create(&t, NULL, net_server, &a) != 0)
		die("server thread");
	int fd;
	SSL *c = net_connect(cctx, a.lfd, &fd);
	char *buf = malloc(NET_BUF);
	if (buf == NULL)
		die("out of memory");
	double t0 = 0;
	int bad = 0;
	for (int i = 0; i < NET_WARMUP + n && !bad; i++) {
		if (i == NET_WARMUP)
			t0 = cpu_us();
		if (mode == 0)
			bad = SSL_write(c, rq, (int)rql) != (int)rql || client_read(c, buf, 0) != 0;
		else
			bad = client_read(c, buf, rep) != 0 || sem_post(&a.ready) != 0;
	}
	if (cli_us != NULL)
		*cli_us = (cpu_us() - t0) / n;
	pthread_join(t, NULL);
	if (bad || a.err)
		die(mode == 0 ? "requests on 127.0.0.1" : "SSE writes on 127.0.0.1");
	*srv_us = a.us;
	SSL_free(c);
	close(fd);
	close(a.lfd);
	sem_destroy(&a.ready);
	free(buf);
	free(rq);
	free(rp);
}

/* The node's mean sizes per request, SSE write, provider call, JSON
 * document and pwrite (from the counter; the defaults without --counts). */
struct sizes {
	double req, rep, sse, call_req, call_rep, json_parse, json_dump;
};

static void
time_net(const char *pki, const struct sizes *z)
{
	enum { N = 1000 };
	SSL_CTX *sc, *cctx;
	tls_ctxs(pki, &sc, &cctx);
	/* as the node's listeners (and nginx) do: buffers given back when idle */
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
	double srv = 0, cli = 0;
	net_run(sc, cctx, 0, (size_t)z->req, (size_t)z->rep, N, &srv, NULL);
	set_price("https_request", srv);
	net_run(sc, cctx, 1, 0, (size_t)z->sse, N, &srv, NULL);
	set_price("sse_write", srv);
	net_run(sc, cctx, 0, (size_t)z->call_req, (size_t)z->call_rep, N, &srv, &cli);
	set_price("https_call", cli);
	SSL_CTX_free(sc);
	SSL_CTX_free(cctx);
}

/* ---- SQLite, files ------------------------------------------------------ */
static void
sql(sqlite3 *db, const char *q)
{
	char *err = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_floor: error: %s: %s\n", q, err ? err : "?");
		exit(1);
	}
}

/* The process's I/O counters (/proc/self/io): read and write calls and bytes. */
struct proc_io {
	unsigned long long syscr, syscw, rchar, wchar;
};

static void
read_io(struct proc_io *io)
{
	FILE *f = fopen("/proc/self/io", "r");
	char k[32];
	unsigned long long v;
	int got = 0;
	memset(io, 0, sizeof(*io));
	if (f == NULL)
		die("/proc/self/io");
	while (fscanf(f, "%31[^:]: %llu ", k, &v) == 2) {
		if (strcmp(k, "syscr") == 0)
			io->syscr = v, got |= 1;
		else if (strcmp(k, "syscw") == 0)
			io->syscw = v, got |= 2;
		else if (strcmp(k, "rchar") == 0)
			io->rchar = v, got |= 4;
		else if (strcmp(k, "wchar") == 0)
			io->wchar = v, got |= 8;
	}
	fclose(f);
	if (got != 15)
		die("/proc/self/io: no syscr/syscw/rchar/wchar");
}

/* the node's page size (store_sqlite.c SQ_PAGE_SIZE) */
#define FLOOR_SQLITE_PAGE_TEXT "2048"

static off_t
file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
time_sqlite(const char *dir)
{
	enum { N = 200 };
	char path[4096];
	snprintf(path, sizeof(path), "%s/floor.db", dir);
	unlink(path);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite open");
	/* The node's settings (store_sqlite.c open_conn): 2 kB pages
	 * (SQ_PAGE_SIZE), WAL, mmap of the database file; synchronous=FULL here
	 * is the node's NORMAL plus its own fdatasync of the log after each
	 * commit (one sync of the log per commit either way). */
	sql(db, "PRAGMA page_size=" FLOOR_SQLITE_PAGE_TEXT);
	sql(db, "PRAGMA journal_mode=WAL");
	sql(db, "PRAGMA synchronous=FULL");
	sql(db, "PRAGMA mmap_size=268435456");
	sql(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v TEXT); CREATE INDEX t_k ON t(k)");
	sqlite3_stmt *ins, *sel;
	sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES(?, ?)", -1, &ins, NULL);
	sqlite3_prepare_v2(db, "SELECT id, v FROM t WHERE k=?", -1, &sel, NULL);
	static const char v[] = "{\"share_id\":\"0123456789abcdef0123456789abcdef\",\"state\":\"authorised\"}";
	/* Session 12: the node grows its write-ahead log before it serves
	 * (store_sqlite.c wal_grow), so no commit of its appends to the file;
	 * one that appends allocates blocks and changes the size, and its
	 * fdatasync writes the block bitmap and group descriptor too (3 block
	 * I/Os instead of 2 on this ext4). The floor's log grew with every
	 * timed commit (a fresh database): it priced a dearer commit than the
	 * node's. Now the same N commits are made once untimed (the log grows
	 * to their size), checkpointed (RESTART: the next commit writes from
	 * the log's start again, over blocks the file has), and then timed:
	 * n:commit_log_grew counts the timed commits that still grew it (0). */
	/* twice: the second pass inserts into the pages the first one's rows
	 * left free, as the timed one does (its commits are a little larger) */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < N; i++) {
			char k[32];
			snprintf(k, sizeof(k), "k%d", i);
			sql(db, "BEGIN IMMEDIATE");
			sqlite3_bind_text(ins, 1, k, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 2, v, -1, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE)
				die("insert");
			sqlite3_reset(ins);
			sql(db, "COMMIT");
		}
		/* the rows go (their pages are reused: the database file does
		 * not grow either); both checkpoints leave the log empty at its
		 * size */
		sql(db, "PRAGMA wal_checkpoint(RESTART)");
		sql(db, "DELETE FROM t");
		sql(db, "PRAGMA wal_checkpoint(RESTART)");
	}
	char walp[4200];
	snprintf(walp, sizeof(walp), "%s-wal", path);
	/* The calls in each transaction that libbench_count.so would count in
	 * the node, from /proc/self/io (this thread is the process's only one
	 * here): its pwrite and pread calls and bytes (session 11's definition,
	 * see floor_parts). */
	struct proc_io i0, i1;
	int grew = 0;
	off_t wal0 = file_size(walp);
	read_io(&i0);
	double t0 = cpu_us(), tsize = 0;
	for (int i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k%d", i);
		sql(db, "BEGIN IMMEDIATE");
		sqlite3_bind_text(ins, 1, k, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, v, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die("insert");
		sqlite3_reset(ins);
		sql(db, "COMMIT");
		double ts0 = cpu_us();
		off_t w = file_size(walp);
		grew += w != wal0;
		wal0 = w;
		tsize += cpu_us() - ts0; /* the stat is not the commit's */
	}
	set_price("fsync", (cpu_us() - t0 - tsize) / N); /* one write transaction = one WAL fsync */
	read_io(&i1);
	set_price("n:commit_log_grew", grew);
	sqlite3_stmt *ps = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &ps, NULL) != SQLITE_OK || sqlite3_step(ps) != SQLITE_ROW)
		die("PRAGMA page_size");
	set_price("n:page_size", sqlite3_column_int(ps, 0));
	sqlite3_finalize(ps);
	set_price("n:commit_pwrite", (double)(i1.syscw - i0.syscw) / N);
	set_price("n:commit_pwrite_bytes", (double)(i1.wchar - i0.wchar) / N);
	set_price("n:commit_pread", (double)(i1.syscr - i0.syscr) / N);
	/* a BEGIN or COMMIT step of a read transaction with nothing in it (the
	 * node's shared read transactions: their reads are priced as steps) */
	sqlite3_stmt *rbeg, *rcom;
	if (sqlite3_prepare_v2(db, "BEGIN", -1, &rbeg, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &rcom, NULL) != SQLITE_OK)
		die("prepare BEGIN / COMMIT");
	t0 = cpu_us();
	for (int i = 0; i < N * 10; i++) {
		if (sqlite3_step(rbeg) != SQLITE_DONE || sqlite3_step(rcom) != SQLITE_DONE)
			die("BEGIN / COMMIT");
		sqlite3_reset(rbeg);
		sqlite3_reset(rcom);
	}
	set_price("sqlite_txn_step", (cpu_us() - t0) / (N * 20));
	sqlite3_finalize(rbeg);
	sqlite3_finalize(rcom);
	t0 = cpu_us();
	for (int i = 0; i < N * 10; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k%d", i % N);
		sqlite3_bind_text(sel, 1, k, -1, SQLITE_TRANSIENT);
		(void)sqlite3_step(sel);
		sqlite3_reset(sel);
	}
	set_price("sqlite_step", (cpu_us() - t0) / (N * 10));
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_close(db);
	/* 4 kB pread / pwrite on the (cached) database file */
	FILE *f = fopen(path, "r+");
	if (f == NULL)
		die("reopen");
	int fd = fileno(f);
	char page[4096];
	memset(page, 0, sizeof(page));
	t0 = cpu_us();
	for (int i = 0; i < N * 10; i++)
		if (pread(fd, page, sizeof(page), 0) < 0)
			die("pread");
	set_price("pread", (cpu_us() - t0) / (N * 10));
	t0 = cpu_us();
	for (int i = 0; i < N * 10; i++)
		if (pwrite(fd, page, sizeof(page), 1 << 20) < 0)
			die("pwrite");
	set_price("pwrite", (cpu_us() - t0) / (N * 10));
	/* a WAL frame header's size: with the 4 kB one, the price of a pwrite
	 * as a fixed part and a part per byte (session 11's definition) */
	t0 = cpu_us();
	for (int i = 0; i < N * 10; i++)
		if (pwrite(fd, page, 24, 1 << 20) < 0)
			die("pwrite");
	set_price("pwrite_24", (cpu_us() - t0) / (N * 10));
	fclose(f);
	unlink(path);
	snprintf(path, sizeof(path), "%s/floor.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/floor.db-shm", dir);
	unlink(path);
}

/* ---- JSON, symmetric crypto --------------------------------------------- */
static void
time_misc(void)
{
	enum { N = 3000 };
	static const char doc[] = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
				  "\"transactionId\":\"0123456789ABCDEF0123456789ABCDEF\",\"serverSigned1\":\"MIGbgBAB"
				  "I0VniavN7wEjRWeJq83vgQ8xMjcuMC4wLjE6NDQzgwcxMjM0NTY3\",\"serverSignature1\":\"XzdA"
				  "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNF\"}";
	double t0 = cpu_us();
	json_t *j = NULL;
	for (int i = 0; i < N; i++) {
		json_decref(j);
		j = json_loadb(doc, sizeof(doc) - 1, 0, NULL);
	}
	set_price("json_parse", (cpu_us() - t0) / N);
	t0 = cpu_us();
	for (int i = 0; i < N; i++)
		free(json_dumps(j, JSON_COMPACT));
	set_price("json_dump", (cpu_us() - t0) / N);
	json_decref(j);
	/* AES-128-CBC and CMAC per byte, over 1 kB segments (BSP) */
	unsigned char key[16] = { 1 }, iv[16] = { 2 }, in[1024], out[1100];
	memset(in, 7, sizeof(in));
	EVP_CIPHER *cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		int l = 0;
		EVP_CipherInit_ex(cc, cbc, NULL, key, iv, 1);
		EVP_CIPHER_CTX_set_padding(cc, 0);
		EVP_CipherUpdate(cc, out, &l, in, sizeof(in));
	}
	set_price("bsp_cipher_bytes", (cpu_us() - t0) / N / sizeof(in));
	EVP_MAC *cm = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *mc = EVP_MAC_CTX_new(cm);
	OSSL_PARAM pr[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", 0), OSSL_PARAM_END };
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		unsigned char tag[16];
		size_t tl;
		EVP_MAC_init(mc, key, sizeof(key), pr);
		EVP_MAC_update(mc, in, sizeof(in));
		EVP_MAC_final(mc, tag, &tl, sizeof(tag));
	}
	set_price("bsp_cmac_bytes", (cpu_us() - t0) / N / sizeof(in));
	EVP_MAC_CTX_free(mc);
	EVP_MAC_free(cm);
	EVP_CIPHER_CTX_free(cc);
	EVP_CIPHER_free(cbc);
}

/* A JSON object of about len bytes shaped like the node's documents (ES9+
 * and ES2+ bodies: a header object, identifiers and base64 fields of up to
 * 256 characters). */
static char *
json_doc(size_t len)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char head[] = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
				   "\"transactionId\":\"0123456789ABCDEF0123456789ABCDEF\"";
	size_t cap = len + sizeof(head) + 64;
	char *d = malloc(cap);
	if (d == NULL)
		die("out of memory");
	size_t o = sizeof(head) - 1;
	memcpy(d, head, o);
	for (int f = 0; o + 12 < len; f++) {
		size_t room = len - o - 10, v = room < 256 ? room : 256; /* ,"fNN":"...." */
		int n = snprintf(d + o, cap - o, ",\"f%d\":\"", f);
		if (n < 0 || (size_t)n + v + 3 > cap - o)
			die("json_doc: document does not fit");
		o += (size_t)n;
		for (size_t i = 0; i < v; i++)
			d[o++] = b64[(i + (size_t)f) % 64];
		d[o++] = '"';
	}
	d[o++] = '}';
	d[o] = '\0';
	return d;
}

/* A JSON parse and a dump at the node's mean document sizes (the node's
 * flags: duplicates refused; compact). The parse and the dump are the
 * node's own, ts_json_parse and ts_json_dump (lib/json.c, session 12: a
 * fast reader and writer in front of jansson's): the floor prices what the
 * node runs, as it prices the node's SQLite settings. */
static void
time_json_sized(const struct sizes *z)
{
	enum { N = 2000 };
	char *doc = json_doc((size_t)z->json_parse);
	size_t dl = strlen(doc);
	json_t *j = NULL;
	double t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		json_decref(j);
		if (ts_json_parse(doc, dl, &j, NULL, 0) != 0)
			die("JSON parse");
	}
	set_price("json_parse_sized", (cpu_us() - t0) / N);
	json_decref(j);
	free(doc);
	doc = json_doc((size_t)z->json_dump);
	if ((j = json_loadb(doc, strlen(doc), 0, NULL)) == NULL)
		die("JSON parse");
	t0 = cpu_us();
	for (int i = 0; i < N; i++)
		free(ts_json_dump(j));
	set_price("json_dump_sized", (cpu_us() - t0) / N);
	json_decref(j);
	free(doc);
}

/* ---- counts ------------------------------------------------------------- */
struct counts {
	char name[FLOOR_MAX_NAMES][32];
	unsigned long v[FLOOR_MAX_NAMES];
	size_t n;
};

static void
read_counts(const char *path, struct counts *c)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path);
	c->n = 0;
	while (c->n < FLOOR_MAX_NAMES && fscanf(f, "%31s %lu", c->name[c->n], &c->v[c->n]) == 2)
		c->n++;
	fclose(f);
}

/* (end - start) / flows of the counter name (0 if the node did not count it) */
static double
per_flow(const struct counts *a, const struct counts *b, const char *name, double flows)
{
	unsigned long before = 0, after = 0;
	for (size_t j = 0; j < a->n; j++)
		if (strcmp(a->name[j], name) == 0)
			before = a->v[j];
	for (size_t j = 0; j < b->n; j++)
		if (strcmp(b->name[j], name) == 0)
			after = b->v[j];
	return flows > 0 && after >= before ? (double)(after - before) / flows : 0;
}

/* --rounds: a whole decimal number, else 0 (refused by the caller). */
static int
parse_rounds(const char *s)
{
	char *end = NULL;
	errno = 0;
	long r = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || r < 1 || r > FLOOR_MAX_ROUNDS)
		return 0;
	return (int)r;
}

/* --flows / --node-cpu-ms: a whole finite decimal number >= 0, else -1
 * (refused by the caller). */
static double
parse_nonneg(const char *s)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0)
		return -1;
	return v;
}

/* The floor for one flow under the three definitions (see main), each part
 * printed when print is set; after = 1: prices from this run's rounds alone. */
struct floors {
	double old_us, new_us, fix_us;
};

static double
p_or_0(const char *name, int after)
{
	int known = 0;
	double v = price_of(name, after, &known);
	return known ? v : 0;
}

static void
floor_parts(const struct counts *a, const struct counts *b, double flows, int after, int print, struct floors *out)
{
	/*
	 * "old" (sessions 8-9): an SSL read or write priced into a memory BIO
	 * (512 bytes, no socket), JSON on a 300-byte document, requests and SSE
	 * writes not priced as such. "new" (session 10, the "keep-alive
	 * requests with client certificates, SSE writes"): each request, SSE
	 * write and provider call priced on a real loopback TCP connection at
	 * the node's sizes (time_net), which includes its SSL reads and writes
	 * (so those are priced 0 there), and JSON at the node's document sizes.
	 * Everything else is the same in both. "fixed" (session 11): "new" with
	 * three things no longer priced twice, below the table.
	 */
	static const struct {
		const char *count, *old_price, *new_price;
	} defs[] = {
		{ "ssl_read", "ssl_read", NULL },
		{ "ssl_write", "ssl_write", NULL },
		{ "json_parse", "json_parse", "json_parse_sized" },
		{ "json_dump", "json_dump", "json_dump_sized" },
		{ "https_request", NULL, "https_request" },
		{ "sse_write", NULL, "sse_write" },
		{ "https_call", NULL, "https_call" },
	};
	double old_us = 0, new_us = 0;
	if (print)
		printf("per flow (counted in the node by libbench_count.so) x price = floor part, old and new definition\n");
	for (size_t i = 0; i < b->n; i++) {
		if (strncmp(b->name[i], "size:", 5) == 0 || strcmp(b->name[i], "sqlite_step_txn") == 0)
			continue; /* the sizes above; a part of sqlite_step (the fixed definition) */
		double per = per_flow(a, b, b->name[i], flows);
		const char *on = b->name[i], *nn = b->name[i];
		for (size_t d = 0; d < sizeof(defs) / sizeof(defs[0]); d++)
			if (strcmp(defs[d].count, b->name[i]) == 0) {
				on = defs[d].old_price;
				nn = defs[d].new_price;
			}
		int ok_old = 0, ok_new = 0;
		double po = on != NULL ? price_of(on, after, &ok_old) : 0, pn = nn != NULL ? price_of(nn, after, &ok_new) : 0;
		old_us += per * po;
		new_us += per * pn;
		if (!print)
			continue;
		char co[64], cn[64];
		if (ok_old)
			snprintf(co, sizeof(co), "%9.3f us = %8.1f us", po, per * po);
		else
			snprintf(co, sizeof(co), "%22s", on == NULL ? "(not in this def.)" : "(not priced)");
		if (ok_new)
			snprintf(cn, sizeof(cn), "%9.3f us = %8.1f us", pn, per * pn);
		else
			snprintf(cn, sizeof(cn), "%22s", nn == NULL ? "(in https_*/sse_write)" : "(not priced)");
		printf("  %-20s %10.2f x old %s | new %s\n", b->name[i], per, co, cn);
	}
	/*
	 * The fixed definition (session 11) = new, except three parts that the
	 * new one priced twice or too high:
	 *  - a commit (each fsync the node counts) is priced as the floor's own
	 *    write transaction (the fsync price: BEGIN IMMEDIATE, one INSERT,
	 *    COMMIT) minus what in it the node's counts price again: its INSERT
	 *    step and its pwrite and pread calls (the node's own steps and
	 *    pwrites are in the counts). Its BEGIN and COMMIT run through
	 *    sqlite3_exec (parsed each time, not counted as steps) and stay in
	 *    it, which the node's prepared BEGIN/COMMIT do not need: still a
	 *    little high. Priced this way, the floor's transaction costs what
	 *    was measured, once;
	 *  - a pwrite is priced as a fixed part plus a part per byte (from a
	 *    24-byte and a 4 kB pwrite), at the node's counted bytes: half of
	 *    its pwrites are 24-byte WAL frame headers, priced as 4 kB before;
	 *  - a BEGIN / COMMIT / END / ROLLBACK step (counted apart,
	 *    sqlite_step_txn) at the price of one of an empty read transaction;
	 *    the node's other steps as before.
	 */
	double steps = per_flow(a, b, "sqlite_step", flows), txn = per_flow(a, b, "sqlite_step_txn", flows),
	       fs = per_flow(a, b, "fsync", flows), pw = per_flow(a, b, "pwrite", flows),
	       pwb = per_flow(a, b, "size:pwrite_bytes", flows);
	double p_step = p_or_0("sqlite_step", after), p_txn = p_or_0("sqlite_txn_step", after),
	       p_fsync = p_or_0("fsync", after), p_pw = p_or_0("pwrite", after), p_pw24 = p_or_0("pwrite_24", after),
	       p_pr = p_or_0("pread", after), tx_pw = p_or_0("n:commit_pwrite", after),
	       tx_pwb = p_or_0("n:commit_pwrite_bytes", after), tx_pr = p_or_0("n:commit_pread", after);
	if (txn > steps)
		txn = steps;
	double per_byte = (p_pw - p_pw24) / (4096.0 - 24.0);
	if (per_byte < 0)
		per_byte = 0; /* noise: a 4 kB pwrite measured cheaper than 24 bytes */
	double fixed = p_pw24 - 24.0 * per_byte;
	double p_commit = p_fsync - p_step - (tx_pw * fixed + tx_pwb * per_byte) - tx_pr * p_pr;
	if (p_commit < 0)
		p_commit = 0;
	/* the new definition's parts that the fixed one prices otherwise */
	double new_db = steps * p_step + fs * p_fsync + pw * p_pw;
	double fix_db = (steps - txn) * p_step + txn * p_txn + fs * p_commit + pw * fixed + pwb * per_byte;
	double fix_us = new_us - new_db + fix_db;
	if (print) {
		printf("fixed definition (session 11) = new, except (new: %.1f us of these per flow, fixed: %.1f us):\n",
		    new_db, fix_db);
		printf("  %-20s %10.2f x           %9.3f us = %8.1f us  (statements; new: all %.2f steps x %.3f us)\n",
		    "sqlite_step", steps - txn, p_step, (steps - txn) * p_step, steps, p_step);
		printf("  %-20s %10.2f x           %9.3f us = %8.1f us  (BEGIN/COMMIT/END/ROLLBACK steps: an empty read "
		       "transaction's)\n",
		    "sqlite_step_txn", txn, p_txn, txn * p_txn);
		printf("  %-20s %10.2f x           %9.3f us = %8.1f us  (fsync %.3f us - its INSERT step - its %.2f pwrites "
		       "of %.0f B in all - its %.2f preads)\n",
		    "fsync", fs, p_commit, fs * p_commit, p_fsync, tx_pw, tx_pwb, tx_pr);
		printf("  %-20s %10.2f x %.3f us + %.0f B x %.6f us = %8.1f us  (pwrite_24 %.3f, pwrite 4 kB %.3f; new: "
		       "all as 4 kB)\n",
		    "pwrite", pw, fixed, pwb, per_byte, pw * fixed + pwb * per_byte, p_pw24, p_pw);
	}
	out->old_us = old_us;
	out->new_us = new_us;
	out->fix_us = fix_us;
}

int
main(int argc, char **argv)
{
	const char *pki = NULL, *c0 = NULL, *c1 = NULL, *tmp = "/tmp", *add = NULL, *save = NULL;
	double flows = 0, node_ms = 0;
	int rounds = FLOOR_ROUNDS, sized = 1, sqlite_only = 0;
	static const struct option lo[] = {
		{ "pki", required_argument, NULL, 'p' }, { "counts", required_argument, NULL, 'c' },
		{ "flows", required_argument, NULL, 'f' }, { "node-cpu-ms", required_argument, NULL, 'm' },
		{ "tmp", required_argument, NULL, 't' }, { "rounds", required_argument, NULL, 'r' },
		{ "add-samples", required_argument, NULL, 'a' }, { "save-samples", required_argument, NULL, 's' },
		{ "no-sized", no_argument, NULL, 'n' }, { "sqlite-only", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 },
	};
	static const char usage[] = "usage: bench_floor --pki DIR [--tmp DIR] [--rounds R] [--no-sized] [--save-samples FILE]\n"
				    "                   [--add-samples FILE] [--counts START END --flows N --node-cpu-ms MS]\n"
				    "       bench_floor --pki DIR --tmp DIR --rounds R --sqlite-only\n";
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p': pki = optarg; break;
		case 'c':
			c0 = optarg;
			if (optind < argc)
				c1 = argv[optind++];
			break;
		case 'f':
		case 'm': {
			double v = parse_nonneg(optarg);
			if (v < 0) {
				fprintf(stderr, "bench_floor: error: --%s must be a number >= 0\n",
				    o == 'f' ? "flows" : "node-cpu-ms");
				return 2;
			}
			if (o == 'f')
				flows = v;
			else
				node_ms = v;
			break;
		}
		case 't': tmp = optarg; break;
		case 'r':
			/* 0: no round of its own (--add-samples gives every price) */
			rounds = strcmp(optarg, "0") == 0 ? 0 : parse_rounds(optarg);
			if (rounds == 0 && strcmp(optarg, "0") != 0) {
				fprintf(stderr, "bench_floor: error: --rounds must be 0..%d\n", FLOOR_MAX_ROUNDS);
				return 2;
			}
			break;
		case 'a': add = optarg; break;
		case 's': save = optarg; break;
		case 'n': sized = 0; break;
		case 'q': sqlite_only = 1; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (pki == NULL || (c0 != NULL && (c1 == NULL || flows <= 0)) || (rounds == 0 && add == NULL)) {
		fputs(usage, stderr);
		return 2;
	}
	if (add != NULL)
		add_samples(add);
	static struct counts a, b;
	struct sizes z = { 2048, 1024, 300, 600, 400, 2048, 1024 }; /* without --counts */
	if (c0 != NULL) {
		read_counts(c0, &a);
		read_counts(c1, &b);
		double req = per_flow(&a, &b, "https_request", flows), sse = per_flow(&a, &b, "sse_write", flows),
		       call = per_flow(&a, &b, "https_call", flows), jp = per_flow(&a, &b, "json_parse", flows),
		       jd = per_flow(&a, &b, "json_dump", flows), sseb = per_flow(&a, &b, "size:sse_bytes", flows);
		if (req > 0) {
			z.req = per_flow(&a, &b, "size:srv_read_bytes", flows) / req;
			z.rep = (per_flow(&a, &b, "size:srv_write_bytes", flows) - sseb) / req;
		}
		if (sse > 0)
			z.sse = sseb / sse;
		if (call > 0) {
			z.call_req = per_flow(&a, &b, "size:cli_write_bytes", flows) / call;
			z.call_rep = per_flow(&a, &b, "size:cli_read_bytes", flows) / call;
		}
		if (jp > 0)
			z.json_parse = per_flow(&a, &b, "size:json_parse_bytes", flows) / jp;
		if (jd > 0)
			z.json_dump = per_flow(&a, &b, "size:json_dump_bytes", flows) / jd;
	}
	/* floor sizes: an HTTP head at least, and no empty document */
	z.req = z.req < 64 ? 64 : z.req;
	z.rep = z.rep < 64 ? 64 : z.rep;
	z.call_req = z.call_req < 64 ? 64 : z.call_req;
	z.call_rep = z.call_rep < 64 ? 64 : z.call_rep;
	z.sse = z.sse < 16 ? 16 : z.sse;
	z.json_parse = z.json_parse < 128 ? 128 : z.json_parse;
	z.json_dump = z.json_dump < 128 ? 128 : z.json_dump;
	if (sized)
		printf("sizes priced (the node's means%s): request %.0f B, reply %.0f B, SSE write %.0f B, provider call "
		       "%.0f B out / %.0f B back, JSON parse %.0f B, JSON dump %.0f B\n",
		    c0 != NULL ? ", counted" : "; defaults without --counts", z.req, z.rep, z.sse, z.call_req,
		    z.call_rep, z.json_parse, z.json_dump);
	else
		printf("--no-sized: the primitives priced at the node's sizes (https_request, sse_write, https_call, "
		       "json_*_sized) are not timed\n");
	fflush(stdout);
	if (sqlite_only) { /* bench/floor_test.sh: the commit's settings */
		for (int r = 0; r < rounds; r++)
			time_sqlite(tmp);
		print_prices();
		return 0;
	}
	for (int r = 0; r < rounds; r++) {
		time_ec();
		time_x509(pki);
		time_tls(pki);
		if (sized)
			time_net(pki, &z);
		time_sqlite(tmp);
		time_misc();
		if (sized)
			time_json_sized(&z);
		set_price("ossl_decoder", 0);
		set_price("ossl_fetch", 0);
	}
	if (save != NULL)
		save_samples(save);
	print_prices();
	if (c0 == NULL)
		return 0;
	struct floors all, aft;
	floor_parts(&a, &b, flows, 0, 1, &all);
	floor_parts(&a, &b, flows, 1, 0, &aft);
	printf("floor for one flow: old definition %.2f ms, new definition %.2f ms, fixed definition %.2f ms\n",
	    all.old_us / 1000, all.new_us / 1000, all.fix_us / 1000);
	if (rounds > 0 && add != NULL)
		printf("floor from this run's rounds alone (after the node's run, as in session 10): old %.2f ms, new "
		       "%.2f ms, fixed %.2f ms\n",
		    aft.old_us / 1000, aft.new_us / 1000, aft.fix_us / 1000);
	if (node_ms > 0 && all.new_us > 0 && all.old_us > 0 && all.fix_us > 0) {
		printf("node CPU per flow: %.2f ms; ratio node / floor = %.2f (old definition %.2f, fixed definition "
		       "%.2f)\n",
		    node_ms, node_ms * 1000 / all.new_us, node_ms * 1000 / all.old_us, node_ms * 1000 / all.fix_us);
		if (rounds > 0 && add != NULL && aft.new_us > 0)
			printf("ratio from this run's rounds alone: %.2f (fixed definition %.2f)\n",
			    node_ms * 1000 / aft.new_us, node_ms * 1000 / aft.fix_us);
	}
	return 0;
}
