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
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define FLOOR_MAX_NAMES 40
#define FLOOR_MAX_ROUNDS 15
#define FLOOR_ROUNDS 5 /* default --rounds */

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

struct price {
	const char *name;
	double us;                   /* the median over the rounds */
	double sample[FLOOR_MAX_ROUNDS];
	int n;
};
static struct price prices[FLOOR_MAX_NAMES];
static size_t nprices;

/* Records one round's time of a primitive (printed by print_prices). */
static void
set_price(const char *name, double us)
{
	size_t i = 0;
	while (i < nprices && strcmp(prices[i].name, name) != 0)
		i++;
	if (i == nprices) {
		if (nprices == FLOOR_MAX_NAMES)
			die("too many primitives");
		prices[nprices].name = name;
		prices[nprices].n = 0;
		nprices++;
	}
	if (prices[i].n < FLOOR_MAX_ROUNDS)
		prices[i].sample[prices[i].n++] = us;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Each primitive's price = the median of its rounds (one round on a shared
 * machine can be twice another), printed with the spread. */
static void
print_prices(void)
{
	for (size_t i = 0; i < nprices; i++) {
		struct price *p = &prices[i];
		double v[FLOOR_MAX_ROUNDS];
		memcpy(v, p->sample, sizeof(double) * (size_t)p->n);
		qsort(v, (size_t)p->n, sizeof(double), cmp_double);
		p->us = p->n % 2 ? v[p->n / 2] : (v[p->n / 2 - 1] + v[p->n / 2]) / 2;
		printf("price %-20s %11.4f us  (median of %d rounds, min %.4f, max %.4f)\n", p->name, p->us, p->n,
		    v[0], v[p->n - 1]);
	}
}

static double
price_of(const char *name, int *known)
{
	for (size_t i = 0; i < nprices; i++)
		if (strcmp(prices[i].name, name) == 0) {
			*known = 1;
			return prices[i].us;
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

static EVP_PKEY *
load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		die(path);
	return k;
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
	t0 = cpu_us();
	for (int i = 0; i < N; i++) {
		unsigned char z[64];
		size_t zl = sizeof(z);
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
		if (c == NULL || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, peer) != 1 ||
		    EVP_PKEY_derive(c, z, &zl) != 1)
			die("derive");
		EVP_PKEY_CTX_free(c);
	}
	set_price("ecdh_derive", (cpu_us() - t0) / N);
	t0 = cpu_us();
	for (int i = 0; i < N; i++)
		EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	set_price("keygen", (cpu_us() - t0) / N);
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

static void
time_tls(const char *pki)
{
	enum { N = 60, R = 2000 };
	char c1[4096], k1[4096], ca[4096], cc[4096], ck[4096];
	snprintf(c1, sizeof(c1), "%s/node-tls.crt", pki);
	snprintf(k1, sizeof(k1), "%s/node-tls.key", pki);
	snprintf(ca, sizeof(ca), "%s/node-ca.crt", pki);
	snprintf(cc, sizeof(cc), "%s/sp-tls.crt", pki);
	snprintf(ck, sizeof(ck), "%s/sp-tls.key", pki);
	SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_use_certificate_chain_file(sc, c1) != 1 || SSL_CTX_use_PrivateKey_file(sc, k1, SSL_FILETYPE_PEM) != 1)
		die("server TLS key");
	/* the client presents some certificate the server verifies (the work of
	 * a device certificate: one chain verification) */
	X509 *ccert = load_cert(cc);
	EVP_PKEY *ckey = load_key(ck);
	SSL_CTX_use_certificate(cctx, ccert);
	SSL_CTX_use_PrivateKey(cctx, ckey);
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
	SSL_CTX_load_verify_locations(sc, ca, NULL);
	{
		/* the client certificate's issuer may be another CA of the PKI: trust it too */
		char ci[4096];
		snprintf(ci, sizeof(ci), "%s/ci.crt", pki);
		SSL_CTX_load_verify_locations(sc, ci, NULL);
	}
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
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
	X509_free(ccert);
	EVP_PKEY_free(ckey);
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
	sql(db, "PRAGMA journal_mode=WAL");
	sql(db, "PRAGMA synchronous=FULL");
	sql(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v TEXT); CREATE INDEX t_k ON t(k)");
	sqlite3_stmt *ins, *sel;
	sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES(?, ?)", -1, &ins, NULL);
	sqlite3_prepare_v2(db, "SELECT id, v FROM t WHERE k=?", -1, &sel, NULL);
	static const char v[] = "{\"share_id\":\"0123456789abcdef0123456789abcdef\",\"state\":\"authorised\"}";
	double t0 = cpu_us();
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
	set_price("fsync", (cpu_us() - t0) / N); /* one write transaction = one WAL fsync */
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

int
main(int argc, char **argv)
{
	const char *pki = NULL, *c0 = NULL, *c1 = NULL, *tmp = "/tmp";
	double flows = 0, node_ms = 0;
	int rounds = FLOOR_ROUNDS;
	static const struct option lo[] = {
		{ "pki", required_argument, NULL, 'p' }, { "counts", required_argument, NULL, 'c' },
		{ "flows", required_argument, NULL, 'f' }, { "node-cpu-ms", required_argument, NULL, 'm' },
		{ "tmp", required_argument, NULL, 't' }, { "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
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
			rounds = parse_rounds(optarg);
			if (rounds < 1 || rounds > FLOOR_MAX_ROUNDS) {
				fprintf(stderr, "bench_floor: error: --rounds must be 1..%d\n", FLOOR_MAX_ROUNDS);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: bench_floor --pki DIR [--tmp DIR] [--rounds R] [--counts START END --flows N --node-cpu-ms MS]\n");
			return 2;
		}
	}
	if (pki == NULL || (c0 != NULL && (c1 == NULL || flows <= 0))) {
		fprintf(stderr, "usage: bench_floor --pki DIR [--tmp DIR] [--rounds R] [--counts START END --flows N --node-cpu-ms MS]\n");
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		time_ec();
		time_x509(pki);
		time_tls(pki);
		time_sqlite(tmp);
		time_misc();
		set_price("ossl_decoder", 0);
		set_price("ossl_fetch", 0);
	}
	print_prices();
	if (c0 == NULL)
		return 0;
	struct counts a, b;
	read_counts(c0, &a);
	read_counts(c1, &b);
	double floor_us = 0;
	printf("per flow (counted in the node by libbench_count.so) x price = floor part\n");
	for (size_t i = 0; i < b.n; i++) {
		unsigned long before = 0;
		for (size_t j = 0; j < a.n; j++)
			if (strcmp(a.name[j], b.name[i]) == 0)
				before = a.v[j];
		double per = (double)(b.v[i] - before) / flows;
		int known;
		double pr = price_of(b.name[i], &known);
		double part = per * pr;
		floor_us += part;
		printf("  %-20s %10.2f x %9.3f us = %8.1f us%s\n", b.name[i], per, pr, part,
		    known ? "" : " (not priced)");
	}
	printf("floor for one flow: %.2f ms\n", floor_us / 1000);
	if (node_ms > 0)
		printf("node CPU per flow: %.2f ms; ratio node / floor = %.2f\n", node_ms, node_ms * 1000 / floor_us);
	return 0;
}
