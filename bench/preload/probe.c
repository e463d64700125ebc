/*
 * bench/preload/probe.c — bench_count_probe: checks that libbench_count.so
 * (count.c) counts each primitive once. It does a known number of each
 * priced OpenSSL operation the node does per flow (2 P-256 key generations,
 * 1 ECDSA sign, 1 verify, 1 ECDH derive, 1 full and 1 partial public-key
 * check), asks the counter for a dump and compares. Run by ctest (bench/count)
 * with LD_PRELOAD=libbench_count.so and BENCH_COUNT_FILE set; exit 0 when
 * every count is exact. OpenSSL's own nesting (EVP_DigestSign ->
 * EVP_DigestSignFinal, EVP_PKEY_Q_keygen -> EVP_PKEY_generate) once made
 * these count twice and the floor price six signs for three.
 *
 * It also checks the byte counters the floor takes its sizes from: one JSON
 * document of known length parsed and dumped, one pwrite of known length;
 * and the SQLite steps: eight statements stepped once each, six of them
 * BEGIN / COMMIT / END / ROLLBACK in any case and with leading blanks
 * (sqlite_step_txn), two SELECTs.
 *
 * Then the SSE writes (a second dump, counted from the first): on a TLS
 * server connection (memory BIOs, a self-signed P-256 certificate), an
 * SSL_write of an HTTP head with the first chunk of events, one of a chunk
 * alone and one of an unchunked event count as 3 sse_write, their SSE bytes
 * (without the head) as size:sse_bytes; a JSON reply, the same SSE text
 * written by the client, and the tail of a write cut short are not SSE
 * writes.
 *
 * Then the provider calls (a third dump, counted from the second): a
 * curl_easy_perform and a curl_easy_send that starts a request count as 2
 * https_call, a curl_easy_send of a request's rest as none (the handle
 * connects nowhere: the calls fail, they are counted as made).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "lib/json.h"

static int
fail(const char *what)
{
	fprintf(stderr, "bench_count_probe: error: %s\n", what);
	return 1;
}

/* counter name's value in the dump at path, -1 if absent */
static long
count_of(const char *path, const char *want)
{
	char name[64];
	unsigned long v;
	long got = -1;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fscanf(f, "%63s %lu", name, &v) == 2)
		if (strcmp(name, want) == 0)
			got = (long)v;
	fclose(f);
	return got;
}

/* asks count.c for a dump (it removes the request file once it is in place) */
static int
dump_now(const char *path)
{
	char req[4096];
	if (snprintf(req, sizeof(req), "%s.req", path) >= (int)sizeof(req))
		return -1;
	FILE *f = fopen(req, "w");
	if (f == NULL || fclose(f) != 0)
		return -1;
	for (int i = 0; i < 500 && access(req, F_OK) == 0; i++) {
		struct timespec ts = { 0, 20000000L };
		nanosleep(&ts, NULL);
	}
	return access(req, F_OK) == 0 ? -1 : 0;
}

/* a connected TLS pair over memory BIOs: *srv the server side */
static int
tls_pair(SSL **srv, SSL **cli)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
	if (k == NULL || x == NULL || sc == NULL || cc == NULL)
		return -1;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"probe", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (X509_set_pubkey(x, k) != 1 || X509_sign(x, k, EVP_sha256()) <= 0 || SSL_CTX_use_certificate(sc, x) != 1 ||
	    SSL_CTX_use_PrivateKey(sc, k) != 1)
		return -1;
	SSL_CTX_set_verify(cc, SSL_VERIFY_NONE, NULL);
	*srv = SSL_new(sc);
	*cli = SSL_new(cc);
	BIO *a, *b;
	if (*srv == NULL || *cli == NULL || BIO_new_bio_pair(&a, 0, &b, 0) != 1)
		return -1;
	SSL_set_bio(*cli, a, a);
	SSL_set_bio(*srv, b, b);
	SSL_set_connect_state(*cli);
	SSL_set_accept_state(*srv);
	for (int i = 0; i < 100; i++) {
		int rc = SSL_do_handshake(*cli), rs = SSL_do_handshake(*srv);
		if (rc == 1 && rs == 1)
			break;
	}
	X509_free(x);
	EVP_PKEY_free(k);
	SSL_CTX_free(sc); /* the SSLs keep their references */
	SSL_CTX_free(cc);
	return SSL_is_init_finished(*srv) && SSL_is_init_finished(*cli) ? 0 : -1;
}

/* voluntary_ctxt_switches of this process's thread named "bench_count"
 * (count.c's writer), or -1 */
static long
writer_switches(void)
{
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return -1;
	long v = -1;
	struct dirent *e;
	while (v < 0 && (e = readdir(d)) != NULL) {
		char p[300], line[256];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(p, "r");
		if (f == NULL)
			continue;
		int is = fgets(line, sizeof(line), f) != NULL && strcmp(line, "bench_count\n") == 0;
		fclose(f);
		if (!is)
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/status", e->d_name);
		if ((f = fopen(p, "r")) == NULL)
			break;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
				break;
		fclose(f);
	}
	closedir(d);
	return v;
}

int
main(void)
{
	const char *path = getenv("BENCH_COUNT_FILE");
	if (path == NULL || path[0] == '\0')
		return fail("BENCH_COUNT_FILE is not set (run with LD_PRELOAD=libbench_count.so)");
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k == NULL || peer == NULL)
		return fail("P-256 keys");
	unsigned char msg[200], sig[128], z[64];
	size_t siglen = sizeof(sig), zl = sizeof(z);
	memset(msg, 0x5a, sizeof(msg));
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(c, sig, &siglen, msg, sizeof(msg)) != 1)
		return fail("sign");
	EVP_MD_CTX_free(c);
	c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestVerify(c, sig, siglen, msg, sizeof(msg)) != 1)
		return fail("verify");
	EVP_MD_CTX_free(c);
	EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(k, NULL), *chk = EVP_PKEY_CTX_new(peer, NULL);
	if (d == NULL || chk == NULL || EVP_PKEY_derive_init(d) != 1 || EVP_PKEY_derive_set_peer_ex(d, peer, 0) != 1 ||
	    EVP_PKEY_derive(d, z, &zl) != 1)
		return fail("derive");
	if (EVP_PKEY_public_check(chk) != 1 || EVP_PKEY_public_check_quick(chk) != 1)
		return fail("public checks");
	EVP_PKEY_CTX_free(d);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);

	static const char doc[] = "{\"transactionId\":\"0123456789ABCDEF\",\"n\":7}"; /* 42 bytes */
	json_t *j = json_loadb(doc, sizeof(doc) - 1, 0, NULL);
	char *dumped = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	if (dumped == NULL || strcmp(dumped, doc) != 0)
		return fail("JSON");
	free(dumped);
	/* the node's own reader and writer (lib/json.c) are counted through
	 * their weak hooks */
	dumped = ts_json_dump(j);
	if (dumped == NULL || strcmp(dumped, doc) != 0)
		return fail("ts_json_dump");
	free(dumped);
	json_decref(j);
	if (ts_json_parse(doc, sizeof(doc) - 1, &j, NULL, 0) != 0)
		return fail("ts_json_parse");
	json_decref(j);
	char tmp[] = "/tmp/bench_count_probe.XXXXXX";
	int fd = mkstemp(tmp);
	char page[100] = { 0 };
	if (fd < 0 || pwrite(fd, page, sizeof(page), 0) != (ssize_t)sizeof(page))
		return fail("pwrite");
	close(fd);
	unlink(tmp);

	sqlite3 *db = NULL;
	static const char *const q[] = { "BEGIN", "SELECT 1", "COMMIT", "  begin deferred", "end", "BEGIN",
		"\nRollback", "SELECT 2" };
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return fail("sqlite open");
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, q[i], -1, &st, NULL) != SQLITE_OK)
			return fail(q[i]);
		int rc = sqlite3_step(st);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			return fail(q[i]);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);

	/* ask for a dump (count.c removes the request file once it is in place) */
	char req[4096];
	if (snprintf(req, sizeof(req), "%s.req", path) >= (int)sizeof(req))
		return fail("path too long");
	FILE *f = fopen(req, "w");
	if (f == NULL || fclose(f) != 0)
		return fail("cannot write the request file");
	for (int i = 0; i < 500 && access(req, F_OK) == 0; i++) {
		struct timespec ts = { 0, 20000000L };
		nanosleep(&ts, NULL);
	}
	if (access(req, F_OK) == 0)
		return fail("no dump within 10 s: is libbench_count.so preloaded?");
	static const struct {
		const char *name;
		unsigned long want;
	} want[] = {
		{ "sign", 1 }, { "verify", 1 }, { "keygen", 2 }, { "ecdh_derive", 1 }, { "pkey_check", 1 },
		{ "pkey_check_quick", 1 }, { "json_parse", 2 }, { "json_dump", 2 }, { "size:json_parse_bytes", 84 },
		{ "size:json_dump_bytes", 84 }, { "pwrite", 1 }, { "size:pwrite_bytes", 100 },
		{ "sqlite_step", 8 }, { "sqlite_step_txn", 6 },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char name[64];
		unsigned long v;
		int seen = 0;
		f = fopen(path, "r");
		if (f == NULL)
			return fail("cannot read the counts");
		while (fscanf(f, "%63s %lu", name, &v) == 2)
			if (strcmp(name, want[i].name) == 0) {
				seen = 1;
				if (v != want[i].want) {
					fprintf(stderr, "bench_count_probe: %s counted %lu, done %lu\n", name, v, want[i].want);
					bad = 1;
				}
			}
		fclose(f);
		if (!seen) {
			fprintf(stderr, "bench_count_probe: %s not counted at all\n", want[i].name);
			bad = 1;
		}
	}
	if (bad)
		return bad;

	SSL *srv = NULL, *cli = NULL;
	if (tls_pair(&srv, &cli) != 0)
		return fail("TLS pair");
	long w0 = count_of(path, "sse_write"), b0 = count_of(path, "size:sse_bytes");
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char first[] = "10\r\nid: 7\ndata: {}\n\n\r\n";
	static const char chunk[] = "c\r\n: keepalive\n\r\n";
	static const char plain[] = "event: x\ndata: 1\n\n";
	static const char json[] = "{\"data:\":1}";
	char w[sizeof(head) + sizeof(first)], in[4096];
	if (snprintf(w, sizeof(w), "%s%s", head, first) >= (int)sizeof(w))
		return fail("SSE head");
	const char *const srv_writes[] = { w, chunk, plain, json, "data: 1" + 1 };
	for (size_t i = 0; i < sizeof(srv_writes) / sizeof(srv_writes[0]); i++) {
		if (SSL_write(srv, srv_writes[i], (int)strlen(srv_writes[i])) <= 0)
			return fail("SSL_write (server)");
		while (SSL_read(cli, in, sizeof(in)) > 0)
			if (SSL_pending(cli) == 0)
				break;
	}
	if (SSL_write(cli, plain, (int)strlen(plain)) <= 0)
		return fail("SSL_write (client)");
	SSL_free(srv);
	SSL_free(cli);
	if (dump_now(path) != 0)
		return fail("no second dump within 10 s");
	long dw = count_of(path, "sse_write") - w0, dbytes = count_of(path, "size:sse_bytes") - b0;
	long want_b = (long)(strlen(first) + strlen(chunk) + strlen(plain));
	if (w0 < 0 || b0 < 0 || dw != 3 || dbytes != want_b) {
		fprintf(stderr, "bench_count_probe: SSE writes counted %ld of %ld bytes, done 3 of %ld bytes\n", dw, dbytes,
		    want_b);
		return 1;
	}
	long c0 = count_of(path, "https_call");
	CURL *easy = curl_easy_init();
	if (easy == NULL)
		return fail("curl_easy_init");
	size_t sent = 0;
	(void)curl_easy_perform(easy);
	static const char rq[] = "POST /gsma/rsp2/es2plus/confirmOrder HTTP/1.1\r\nHost: sp\r\n\r\n";
	(void)curl_easy_send(easy, rq, strlen(rq), &sent);
	(void)curl_easy_send(easy, "{\"rest\":1} HTTP/1.1\r\n", 21, &sent);
	curl_easy_cleanup(easy);
	if (dump_now(path) != 0)
		return fail("no third dump within 10 s");
	long dc = count_of(path, "https_call") - c0;
	if (c0 < 0 || dc != 2) {
		fprintf(stderr, "bench_count_probe: provider calls counted %ld, done 2\n", dc);
		return 1;
	}
	/* The counter's thread sleeps between dumps (count.c's writer waits in
	 * an inotify read): over 300 ms it is not woken (it used to wake every
	 * 20 ms, ~15 voluntary switches here, all of them charged to the node). */
	long s0 = writer_switches(), s1;
	struct timespec nap = { 0, 300000000L };
	nanosleep(&nap, NULL);
	s1 = writer_switches();
	if (s0 < 0 || s1 < 0 || s1 - s0 > 2) {
		fprintf(stderr, "bench_count_probe: the counter's thread (bench_count) switched %ld times in 300 ms idle\n",
		    s0 < 0 || s1 < 0 ? -1 : s1 - s0);
		return 1;
	}
	printf("bench_count_probe: every primitive counted once, the SSE writes and provider calls too; the counter's "
	       "thread sleeps\n");
	return 0;
}
