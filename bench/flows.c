/*
 * flows.c — bench_flows: drives N complete share flows (S4 -> S5 -> S13 ->
 * S14 -> S15 -> S6) against a running tapshare-node and prints throughput,
 * latency and the node's CPU time per flow. A benchmark, not a test: it never
 * runs under ctest (bench/run.sh starts everything and calls it).
 *
 * What is simulated and what is real:
 *   - primary: one enrolled device (its certificate and key from --home-dir),
 *     one session token obtained once with the passphrase; each worker thread
 *     has its own keep-alive mutual-TLS connection (ts_httpc) and sends
 *     POST /v1/shares with a fresh Idempotency-Key. One extra thread holds the
 *     user's push stream GET /v1/events (mutual TLS) and timestamps
 *     share.installed (S6) as the primary app would see it.
 *   - companions: one thread per EID holds GET /v1/companion/events?eid=EID
 *     (server-authenticated TLS, keep-alive) and on each `download` command
 *     runs the whole ES9+ download against the node with its own in-process
 *     software secure element (device/se_client.h over the inproc se_driver):
 *     real ECDSA signatures, ECDH, key derivation, AES-CMAC/CBC package
 *     unwrapping, signed install notification. The ES9+ JSON client is
 *     written here on lib/ APIs; the stream token (the SE proving its EID
 *     before the node opens the stream) is earned with the companion's own
 *     es9_stream_auth (src/companion/es9client.c).
 *   - cleanup after each flow (so an SE never fills, SE_MAX_APPS = 32):
 *       delete (default): the companion deletes the app from its SE and sends
 *         the signed delete notification; the node revokes the share and
 *         queues cancelOrder to the provider (S17 path, companion-initiated);
 *       cancel: the primary cancels (POST /v1/shares/ID/cancel, S7/S8), the
 *         node calls cancelOrder, pushes `delete`, the companion deletes and
 *         acknowledges (S16/S17);
 *       none: nothing (needs flows per EID <= 32).
 *     Cleanup is outside the S4->S5 / S4->S6 latencies but inside the wall
 *     time, flows/s and CPU per flow (a "flow" = share + cleanup).
 *
 * Timing: S4 is taken just before the POST /v1/shares, S5 when its 201
 * arrives, S6 when the primary's event stream delivers share.installed.
 * CPU: utime + stime of --node-pid (and --sp-pid) from /proc/PID/stat,
 * before and after the measured phase, in clock ticks (sysconf(_SC_CLK_TCK))
 * converted to ms. The node figure excludes the provider (a separate process).
 * Context switches: voluntary and involuntary, summed over the node's
 * threads (/proc/PID/task/TID/status) at the same two points; a thread that
 * ended in between is not counted (the node's threads live as long as it).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/eid.h"
#include "lib/es10dl.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"
#include "companion/es9client.h"

#define BENCH_MAX_FLOWS 100000
#define BENCH_MAX_CONC 64
#define BENCH_MAX_EIDS 64
#define BENCH_URL_MAX 1024
#define BENCH_PATH_MAX 4096
#define BENCH_ID_MAX 129
#define BENCH_TOKEN_MAX 256
#define BENCH_PASS_MAX 1024
#define BENCH_SSE_IDLE_MS 2000L /* stream threads re-check the stop flag this often */
#define BENCH_HTTP_TIMEOUT_MS 30000L
#define BENCH_RECENT 16         /* downloads a companion remembers (re-sent commands) */
#define ES9_ADMIN_HDR "X-Admin-Protocol: gsma/rsp/v2.5.0"

enum cleanup_mode { CLEANUP_DELETE = 0, CLEANUP_CANCEL, CLEANUP_NONE };

static const char *const cleanup_names[] = { "delete", "cancel", "none" };

/* ------------------------------------------------------------------------ */
/* Options and global state                                                   */

struct opts {
	const char *node;
	const char *ca;
	const char *home;
	const char *se_dir;
	const char *pki;
	const char *app;
	const char *pass_file;
	const char *eids[BENCH_MAX_EIDS];
	size_t neids;
	long flows;
	long conc;
	long warmup;
	long node_pid;
	long sp_pid;
	long duration_s;
	long flow_timeout_s;
	int cleanup;
	const char *count_file; /* libbench_count.so's dump: copied to .start / .end around the phase */
};

/* What the primary's event stream learned about one share. Times are
 * monotonic microseconds, 0 = not seen. */
struct share_rec {
	char id[BENCH_ID_MAX]; /* "" = free slot */
	int64_t push_us;       /* the companion received the `download` command */
	int64_t installed_us;
	int64_t revoked_us;
	int64_t failed_us;
	char assoc[BENCH_ID_MAX];
	char why[96];
};

struct companion {
	int idx;
	char eid[EID_DIGITS + 1];
	char state_path[BENCH_PATH_MAX];
	se_driver *se;
	pthread_mutex_t se_mu; /* the SE is used by this thread and, for delete, by a worker */
	ts_httpc *stream;
	ts_httpc *api;
	ts_httpc *api_stream; /* the stream-token requests (this thread only) */
	char stream_token[65];
	int64_t stream_token_until_us;
	pthread_t thr;
	int started;
	char last_id[32];
	char recent[BENCH_RECENT][BENCH_ID_MAX];
	size_t recent_next;
	atomic_long downloads;
	atomic_long errors;
};

struct flow_res {
	int ok;
	int64_t push_us;    /* S4 -> download command at the companion (S13, S14 push) */
	int64_t s5_us;      /* S4 -> S5 */
	int64_t s6_us;      /* S4 -> S6 */
	int64_t cleanup_us; /* S6 -> revoked (delete / cancel modes) */
};

struct worker {
	int idx;
	ts_httpc *prim; /* mutual TLS, keep-alive */
	ts_httpc *es9;  /* server-auth TLS, for the delete notification */
	struct companion *comps[BENCH_MAX_EIDS];
	size_t ncomps;
	size_t next_comp;
	pthread_t thr;
};

static struct {
	struct opts o;
	char token[BENCH_TOKEN_MAX];
	char cert[BENCH_PATH_MAX];
	char key[BENCH_PATH_MAX];

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct share_rec *recs;
	size_t cap; /* power of two */
	size_t used;

	atomic_int stop;        /* stream threads: leave */
	atomic_long stream_auths; /* stream tokens earned (es9_stream_auth) */
	atomic_long next_flow;  /* next flow index of the running phase */
	long phase_flows;
	int64_t deadline_us;
	struct flow_res *res;   /* phase_flows entries */
	char prim_last_id[32];
	pthread_t prim_thr;
	ts_httpc *prim_stream;

	atomic_long fail_post, fail_timeout, fail_refused, fail_cleanup;
	char first_error[256];
} g;

/* Where the time of a download goes (sums in us over successful downloads),
 * measured by the simulated companion: node HTTP round trips vs its SE. */
enum { PH_INIT_HTTP, PH_SE_AUTH, PH_AUTHC_HTTP, PH_SE_PREP, PH_BPP_HTTP, PH_SE_LOAD, PH_NOTIF_HTTP,
	PH_COUNT };
static const char *const phase_names[PH_COUNT] = {
	"initiateAuthentication (HTTP)", "SE AuthenticateServer", "authenticateClient (HTTP)",
	"SE PrepareDownload", "getBoundProfilePackage (HTTP)", "SE LoadBoundProfilePackage",
	"handleNotification (HTTP)",
};
static atomic_llong phase_sum[PH_COUNT];
static atomic_long phase_n;

static struct companion comps[BENCH_MAX_EIDS];
static size_t ncomps;
static struct worker workers[BENCH_MAX_CONC];

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note_error(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g.mu);
	if (g.first_error[0] == '\0')
		(void)ts_snprintf(g.first_error, sizeof(g.first_error), "%s", buf);
	pthread_mutex_unlock(&g.mu);
	log_warn("%s", buf);
}

static int64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------------ */
/* Share table (open addressing on the share id, under g.mu)                 */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Finds or creates the record of id; NULL when the table is full (caller holds g.mu). */
static struct share_rec *
rec_get(const char *id, int create)
{
	size_t mask = g.cap - 1;
	for (size_t i = hash_str(id) & mask, n = 0; n < g.cap; i = (i + 1) & mask, n++) {
		struct share_rec *r = &g.recs[i];
		if (r->id[0] == '\0') {
			if (!create || g.used + 1 >= g.cap)
				return NULL;
			if (ts_snprintf(r->id, sizeof(r->id), "%s", id) != 0) {
				r->id[0] = '\0';
				return NULL;
			}
			g.used++;
			return r;
		}
		if (strcmp(r->id, id) == 0)
			return r;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Primary: event stream                                                      */

static int
prim_event(const char *event, const char *id, const char *data, void *arg)
{
	(void)arg;
	int64_t t = now_us();
	json_t *o = NULL;
	if (id != NULL && id[0] != '\0')
		(void)ts_snprintf(g.prim_last_id, sizeof(g.prim_last_id), "%s", id);
	if (strncmp(event, "share.", 6) != 0 || ts_json_parse(data, strlen(data), &o, NULL, 0) != 0)
		return atomic_load(&g.stop) ? 1 : 0;
	const char *sid = ts_json_str(o, "share_id");
	if (sid != NULL) {
		pthread_mutex_lock(&g.mu);
		struct share_rec *r = rec_get(sid, 1);
		if (r != NULL) {
			if (strcmp(event, "share.installed") == 0 && r->installed_us == 0) {
				r->installed_us = t;
				const char *a = ts_json_str(o, "associated_app_id");
				if (a != NULL)
					(void)ts_snprintf(r->assoc, sizeof(r->assoc), "%s", a);
			} else if (strcmp(event, "share.revoked") == 0 && r->revoked_us == 0) {
				r->revoked_us = t;
			} else if ((strcmp(event, "share.denied") == 0 || strcmp(event, "share.failed") == 0 ||
			    strcmp(event, "share.expired") == 0) && r->failed_us == 0) {
				r->failed_us = t;
				const char *m = ts_json_str(o, "reason");
				(void)ts_snprintf(r->why, sizeof(r->why), "%s: %s", event,
				    m ? m : (ts_json_str(o, "message") ? ts_json_str(o, "message") : ""));
			}
			pthread_cond_broadcast(&g.cv);
		}
		pthread_mutex_unlock(&g.mu);
	}
	json_decref(o);
	return atomic_load(&g.stop) ? 1 : 0;
}

static void *
prim_stream_main(void *arg)
{
	(void)arg;
	char url[BENCH_URL_MAX];
	char why[256];
	if (ts_snprintf(url, sizeof(url), "%s/v1/events", g.o.node) != 0)
		return NULL;
	while (!atomic_load(&g.stop)) {
		int rc = ts_httpc_sse(g.prim_stream, url, NULL,
		    g.prim_last_id[0] ? g.prim_last_id : NULL, BENCH_SSE_IDLE_MS, prim_event, NULL,
		    why, sizeof(why));
		if (rc != 0 && rc != TS_ETIMEOUT && !atomic_load(&g.stop)) {
			note_error("primary event stream: %s (%s)", ts_strerror(rc), why);
			struct timespec ts = { 0, 200000000L };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Companion: ES9+ over the node, SE in process                               */

/* POSTs an ES9+ function; 0 when the answer is Executed-Success (or an empty
 * 2xx when allow_empty). *resp (may be NULL) gets the body. */
static int
es9_call(ts_httpc *c, const char *function, json_t *body, int allow_empty, json_t **resp,
    char *why, size_t whycap)
{
	static const char *const hdrs[] = { ES9_ADMIN_HDR, NULL };
	char url[BENCH_URL_MAX];
	long status = 0;
	json_t *r = NULL;
	if (resp != NULL)
		*resp = NULL;
	int rc = ts_snprintf(url, sizeof(url), "%s/gsma/rsp2/es9plus/%s", g.o.node, function);
	if (rc != 0)
		return rc;
	rc = ts_httpc_json(c, "POST", url, hdrs, body, &status, &r, why, whycap);
	if (rc != 0)
		return rc;
	if (r == NULL) {
		if (allow_empty && status >= 200 && status < 300)
			return 0;
		(void)ts_snprintf(why, whycap, "%s: HTTP %ld, empty body", function, status);
		return TS_EPROTO;
	}
	const json_t *fes = json_object_get(json_object_get(r, "header"), "functionExecutionStatus");
	const char *st = ts_json_str(fes, "status");
	if (status < 200 || status >= 300 || st == NULL || strcmp(st, "Executed-Success") != 0) {
		const json_t *scd = json_object_get(fes, "statusCodeData");
		(void)ts_snprintf(why, whycap, "%s: HTTP %ld status %s %s", function, status,
		    st ? st : "(none)", ts_json_str(scd, "message") ? ts_json_str(scd, "message") : "");
		json_decref(r);
		return TS_EPROTO;
	}
	if (resp != NULL)
		*resp = r;
	else
		json_decref(r);
	return 0;
}

/* Sends an SE-signed notification and marks it sent in the SE. */
static int
send_notification(struct companion *c, ts_httpc *http, const uint8_t *notif, size_t len,
    char *why, size_t whycap)
{
	es10_pending nt;
	int rc = es10_pending_decode(notif, len, &nt);
	if (rc != 0) {
		(void)ts_snprintf(why, whycap, "SE notification does not decode (%s)", ts_strerror(rc));
		return rc;
	}
	json_t *body = json_object();
	if (body == NULL || ts_json_set_b64(body, "pendingNotification", notif, len) != 0) {
		json_decref(body);
		return TS_ENOMEM;
	}
	rc = es9_call(http, "handleNotification", body, 1, NULL, why, whycap);
	json_decref(body);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&c->se_mu);
	rc = se_notification_sent(c->se, nt.meta.seq);
	pthread_mutex_unlock(&c->se_mu);
	if (rc != 0)
		(void)ts_snprintf(why, whycap, "SE NotificationSent: %s", ts_strerror(rc));
	return rc;
}

/* Decodes a required base64 member. */
static int
need_b64(const json_t *o, const char *key, uint8_t **out, size_t *len, char *why, size_t whycap)
{
	*out = NULL;
	if (ts_json_b64(o, key, out, len) != 0 || *len == 0) {
		free(*out);
		*out = NULL;
		(void)ts_snprintf(why, whycap, "response field %s missing or bad", key);
		return TS_EPROTO;
	}
	return 0;
}

/* The whole ES9+ download for one `download` command (S14 -> S15). */
static int
do_download(struct companion *c, const char *matching_id, const char *smdp, char *why,
    size_t whycap)
{
	uint8_t challenge[RSP_CHALLENGE_LEN];
	json_t *req = NULL, *resp = NULL;
	uint8_t *s1 = NULL, *sig1 = NULL, *cert1 = NULL, *bf38 = NULL;
	uint8_t *s2 = NULL, *sig2 = NULL, *cert2 = NULL, *bf21 = NULL, *bpp = NULL, *notif = NULL;
	size_t s1_len, sig1_len, cert1_len, bf38_len, s2_len, sig2_len, cert2_len, bf21_len, bpp_len,
	    notif_len;
	char tid[80];
	int64_t ph[PH_COUNT], t0;
	int rc;

	uint8_t *info1 = NULL; /* SGP.22: initiateAuthentication carries the eUICC's EUICCInfo1 */
	size_t info1_len = 0;
	pthread_mutex_lock(&c->se_mu);
	rc = se_get_euicc_info1_raw(c->se, &info1, &info1_len);
	if (rc == 0)
		rc = se_get_challenge(c->se, challenge);
	pthread_mutex_unlock(&c->se_mu);
	if (rc != 0) {
		free(info1);
		(void)ts_snprintf(why, whycap, "SE GetEuiccInfo1 / GetEuiccChallenge: %s", ts_strerror(rc));
		goto fail;
	}

	/* initiateAuthentication */
	req = json_pack("{s:s,s:s}", "smdpAddress", smdp, "matchingId", matching_id);
	if (req == NULL || ts_json_set_b64(req, "euiccChallenge", challenge, sizeof(challenge)) != 0 ||
	    ts_json_set_b64(req, "euiccInfo1", info1, info1_len) != 0) {
		free(info1);
		rc = TS_ENOMEM;
		goto fail;
	}
	free(info1);
	t0 = now_us();
	rc = es9_call(c->api, "initiateAuthentication", req, 0, &resp, why, whycap);
	ph[PH_INIT_HTTP] = now_us() - t0;
	if (rc != 0)
		goto fail;
	json_decref(req);
	req = NULL;
	const char *t = ts_json_str(resp, "transactionId");
	if (t == NULL || ts_snprintf(tid, sizeof(tid), "%s", t) != 0) {
		(void)ts_snprintf(why, whycap, "initiateAuthentication: no transactionId");
		rc = TS_EPROTO;
		goto fail;
	}
	if ((rc = need_b64(resp, "serverSigned1", &s1, &s1_len, why, whycap)) != 0 ||
	    (rc = need_b64(resp, "serverSignature1", &sig1, &sig1_len, why, whycap)) != 0 ||
	    (rc = need_b64(resp, "serverCertificate", &cert1, &cert1_len, why, whycap)) != 0)
		goto fail;
	json_decref(resp);
	resp = NULL;
	/* ES9+ carries the 5F37 data object (SGP.22); keep its 64 bytes. */
	uint8_t sig1_raw[PKI_SIG_LEN];
	if (sig1_len != 3 + PKI_SIG_LEN || es10_sig_from_do(sig1, sig1_len, sig1_raw) != 0) {
		(void)ts_snprintf(why, whycap, "serverSignature1 is not a 5F37 signature");
		rc = TS_EPROTO;
		goto fail;
	}
	memcpy(sig1, sig1_raw, PKI_SIG_LEN);
	/* The LPA's own check: the server echoes our challenge. */
	{
		es10_server_signed1 ss;
		if (es10_server_signed1_decode(s1, s1_len, &ss) != 0 ||
		    CRYPTO_memcmp(ss.euicc_challenge, challenge, sizeof(challenge)) != 0) {
			(void)ts_snprintf(why, whycap, "serverSigned1 does not echo our challenge");
			rc = TS_EVERIFY;
			goto fail;
		}
	}

	/* AuthenticateServer in the SE (verifies the node's chain and signature, signs). */
	t0 = now_us();
	pthread_mutex_lock(&c->se_mu);
	rc = se_authenticate_server(c->se, s1, s1_len, sig1, cert1, cert1_len, matching_id, &bf38,
	    &bf38_len);
	pthread_mutex_unlock(&c->se_mu);
	ph[PH_SE_AUTH] = now_us() - t0;
	if (rc != 0) {
		(void)ts_snprintf(why, whycap, "SE AuthenticateServer: %s", ts_strerror(rc));
		goto fail;
	}
	{
		es10_auth_server_resp ar;
		if (es10_auth_server_resp_decode(bf38, bf38_len, &ar, NULL) != 0 || ar.error != 0) {
			(void)ts_snprintf(why, whycap, "SE refused the server");
			rc = TS_EVERIFY;
			goto fail;
		}
	}

	/* authenticateClient */
	req = json_pack("{s:s}", "transactionId", tid);
	if (req == NULL || ts_json_set_b64(req, "authenticateServerResponse", bf38, bf38_len) != 0) {
		rc = TS_ENOMEM;
		goto fail;
	}
	t0 = now_us();
	rc = es9_call(c->api, "authenticateClient", req, 0, &resp, why, whycap);
	ph[PH_AUTHC_HTTP] = now_us() - t0;
	if (rc != 0)
		goto fail;
	json_decref(req);
	req = NULL;
	if ((rc = need_b64(resp, "smdpSigned2", &s2, &s2_len, why, whycap)) != 0 ||
	    (rc = need_b64(resp, "smdpSignature2", &sig2, &sig2_len, why, whycap)) != 0 ||
	    (rc = need_b64(resp, "smdpCertificate", &cert2, &cert2_len, why, whycap)) != 0)
		goto fail;
	json_decref(resp);
	resp = NULL;
	uint8_t sig2_raw[PKI_SIG_LEN];
	if (sig2_len != 3 + PKI_SIG_LEN || es10_sig_from_do(sig2, sig2_len, sig2_raw) != 0) {
		(void)ts_snprintf(why, whycap, "smdpSignature2 is not a 5F37 signature");
		rc = TS_EPROTO;
		goto fail;
	}
	memcpy(sig2, sig2_raw, PKI_SIG_LEN);

	/* PrepareDownload in the SE (one-time ECDH key pair, signed). */
	t0 = now_us();
	pthread_mutex_lock(&c->se_mu);
	rc = se_prepare_download(c->se, s2, s2_len, sig2, cert2, cert2_len, &bf21, &bf21_len);
	pthread_mutex_unlock(&c->se_mu);
	ph[PH_SE_PREP] = now_us() - t0;
	if (rc != 0) {
		(void)ts_snprintf(why, whycap, "SE PrepareDownload: %s", ts_strerror(rc));
		goto fail;
	}
	{
		es10_prepare_download_resp pr;
		if (es10_prepare_download_resp_decode(bf21, bf21_len, &pr, NULL) != 0 || pr.error != 0) {
			(void)ts_snprintf(why, whycap, "SE refused smdpSigned2");
			rc = TS_EVERIFY;
			goto fail;
		}
	}

	/* getBoundProfilePackage */
	req = json_pack("{s:s}", "transactionId", tid);
	if (req == NULL || ts_json_set_b64(req, "prepareDownloadResponse", bf21, bf21_len) != 0) {
		rc = TS_ENOMEM;
		goto fail;
	}
	t0 = now_us();
	rc = es9_call(c->api, "getBoundProfilePackage", req, 0, &resp, why, whycap);
	ph[PH_BPP_HTTP] = now_us() - t0;
	if (rc != 0)
		goto fail;
	json_decref(req);
	req = NULL;
	if ((rc = need_b64(resp, "boundProfilePackage", &bpp, &bpp_len, why, whycap)) != 0)
		goto fail;
	json_decref(resp);
	resp = NULL;

	/* LoadBoundProfilePackage: ECDH, KDF, CMAC, decrypt, install, signed notification. */
	t0 = now_us();
	pthread_mutex_lock(&c->se_mu);
	rc = se_load_package(c->se, bpp, bpp_len, &notif, &notif_len);
	pthread_mutex_unlock(&c->se_mu);
	ph[PH_SE_LOAD] = now_us() - t0;
	if (rc != 0) {
		(void)ts_snprintf(why, whycap, "SE LoadBoundProfilePackage: %s", ts_strerror(rc));
		goto fail;
	}
	t0 = now_us();
	rc = send_notification(c, c->api, notif, notif_len, why, whycap);
	ph[PH_NOTIF_HTTP] = now_us() - t0; /* includes the SE's NotificationSent */
	if (rc == 0) {
		for (int i = 0; i < PH_COUNT; i++)
			atomic_fetch_add(&phase_sum[i], ph[i]);
		atomic_fetch_add(&phase_n, 1);
	}
fail:
	json_decref(req);
	json_decref(resp);
	free(s1);
	free(sig1);
	free(cert1);
	free(bf38);
	free(s2);
	free(sig2);
	free(cert2);
	free(bf21);
	free(bpp);
	free(notif);
	return rc;
}

/* Deletes app_id from the companion's SE and tells the node (S17). */
static int
companion_delete(struct companion *c, ts_httpc *http, const char *app_id, char *why, size_t whycap)
{
	uint8_t *notif = NULL;
	size_t nlen = 0;
	pthread_mutex_lock(&c->se_mu);
	int rc = se_delete(c->se, app_id, &notif, &nlen);
	pthread_mutex_unlock(&c->se_mu);
	if (rc != 0) {
		(void)ts_snprintf(why, whycap, "SE Delete %s: %s", app_id, ts_strerror(rc));
		return rc;
	}
	rc = send_notification(c, http, notif, nlen, why, whycap);
	free(notif);
	return rc;
}

static int
comp_seen(struct companion *c, const char *key)
{
	for (size_t i = 0; i < BENCH_RECENT; i++)
		if (strcmp(c->recent[i], key) == 0)
			return 1;
	return 0;
}

static void
comp_remember(struct companion *c, const char *key)
{
	(void)ts_snprintf(c->recent[c->recent_next], BENCH_ID_MAX, "%s", key);
	c->recent_next = (c->recent_next + 1) % BENCH_RECENT;
}

static int
comp_event(const char *event, const char *id, const char *data, void *arg)
{
	struct companion *c = arg;
	json_t *o = NULL;
	char why[512] = "";
	char key[BENCH_ID_MAX];
	if (id != NULL && id[0] != '\0')
		(void)ts_snprintf(c->last_id, sizeof(c->last_id), "%s", id);
	if (ts_json_parse(data, strlen(data), &o, NULL, 0) != 0)
		goto out;
	const char *sid = ts_json_str(o, "share_id");
	if (sid == NULL)
		goto out;
	if (strcmp(event, "download") == 0) {
		const char *mid = ts_json_str(o, "matching_id");
		const char *smdp = ts_json_str(o, "smdp_address");
		if (ts_snprintf(key, sizeof(key), "d%s", sid) != 0 || comp_seen(c, key))
			goto out; /* a re-send of a command already handled */
		int64_t tp = now_us();
		pthread_mutex_lock(&g.mu);
		struct share_rec *r = rec_get(sid, 1);
		if (r != NULL && r->push_us == 0)
			r->push_us = tp;
		pthread_mutex_unlock(&g.mu);
		if (mid == NULL || smdp == NULL) {
			atomic_fetch_add(&c->errors, 1);
			note_error("companion %s: download command without matching id", c->eid);
			goto out;
		}
		int rc = do_download(c, mid, smdp, why, sizeof(why));
		if (rc == 0) {
			comp_remember(c, key);
			atomic_fetch_add(&c->downloads, 1);
		} else {
			atomic_fetch_add(&c->errors, 1);
			note_error("companion %s: download for share %s failed: %s", c->eid, sid, why);
		}
	} else if (strcmp(event, "delete") == 0) {
		const char *app = ts_json_str(o, "app_id");
		if (app == NULL || ts_snprintf(key, sizeof(key), "x%s", sid) != 0 || comp_seen(c, key))
			goto out;
		int rc = companion_delete(c, c->api, app, why, sizeof(why));
		if (rc == 0) {
			comp_remember(c, key);
		} else {
			atomic_fetch_add(&c->errors, 1);
			note_error("companion %s: delete for share %s failed: %s", c->eid, sid, why);
		}
	}
out:
	json_decref(o);
	return atomic_load(&g.stop) ? 1 : 0;
}

/* The stream's Authorization header in buf: the SE proves its EID to the node
 * (es9_stream_auth, the companion's own code) and the token is kept while it
 * has a minute left. NULL when the SE or the node refused (why says why). */
static const char *
comp_stream_authz(struct companion *c, char *buf, size_t cap, char *why, size_t whycap)
{
	int64_t now = now_us();
	if (c->stream_token[0] == '\0' || now + 60000000LL >= c->stream_token_until_us) {
		long ttl = 0;
		pthread_mutex_lock(&c->se_mu);
		int rc = es9_stream_auth(c->api_stream, c->se, g.o.node, c->eid, c->stream_token, &ttl, why, whycap);
		pthread_mutex_unlock(&c->se_mu);
		if (rc != 0) {
			c->stream_token[0] = '\0';
			return NULL;
		}
		c->stream_token_until_us = now + (int64_t)ttl * 1000000LL;
		atomic_fetch_add(&g.stream_auths, 1);
	}
	return ts_snprintf(buf, cap, "Authorization: Bearer %s", c->stream_token) == 0 ? buf : NULL;
}

static void *
comp_main(void *arg)
{
	struct companion *c = arg;
	char url[BENCH_URL_MAX];
	char why[256];
	if (ts_snprintf(url, sizeof(url), "%s/v1/companion/events?eid=%s", g.o.node, c->eid) != 0)
		return NULL;
	while (!atomic_load(&g.stop)) {
		char authz[128];
		why[0] = '\0';
		const char *hdrs[] = { comp_stream_authz(c, authz, sizeof(authz), why, sizeof(why)), NULL };
		int rc = hdrs[0] == NULL ? TS_EAUTH : ts_httpc_sse(c->stream, url, hdrs,
		    c->last_id[0] ? c->last_id : NULL, BENCH_SSE_IDLE_MS, comp_event, c, why, sizeof(why));
		if (rc != 0 && rc != TS_ETIMEOUT && !atomic_load(&g.stop)) {
			note_error("companion %s event stream: %s (%s)", c->eid, ts_strerror(rc), why);
			c->stream_token[0] = '\0'; /* earn a new one: it may be what was refused */
			struct timespec ts = { 0, 200000000L };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Primary: flows                                                             */

/* Waits until the share's record satisfies want (1 installed, 2 revoked) or
 * it failed, or until limit_us. Returns 0, TS_EDENIED (failed/denied) or
 * TS_ETIMEOUT. *rec_out gets a copy of the record. */
static int
wait_share(const char *sid, int want, int64_t limit_us, struct share_rec *rec_out)
{
	int rc = TS_ETIMEOUT;
	pthread_mutex_lock(&g.mu);
	for (;;) {
		struct share_rec *r = rec_get(sid, 1);
		if (r == NULL) {
			rc = TS_ELIMIT;
			break;
		}
		if ((want == 1 && r->installed_us != 0) || (want == 2 && r->revoked_us != 0)) {
			*rec_out = *r;
			rc = 0;
			break;
		}
		if (r->failed_us != 0) {
			*rec_out = *r;
			rc = TS_EDENIED;
			break;
		}
		int64_t now = now_us();
		if (now >= limit_us)
			break;
		int64_t wake = now + 100000; /* re-check at least every 100 ms */
		if (wake > limit_us)
			wake = limit_us;
		struct timespec ts = { (time_t)(wake / 1000000), (long)(wake % 1000000) * 1000 };
		(void)pthread_cond_timedwait(&g.cv, &g.mu, &ts);
	}
	pthread_mutex_unlock(&g.mu);
	return rc;
}

/* One flow; authz is the worker's "Authorization: Bearer ..." header. */
static int
one_flow(struct worker *w, long idx, const char *authz)
{
	struct flow_res *fr = &g.res[idx];
	struct companion *c = w->comps[w->next_comp];
	w->next_comp = (w->next_comp + 1) % w->ncomps;
	char url[BENCH_URL_MAX], idem[64], ikey[33], why[512] = "";
	char sid[BENCH_ID_MAX];
	json_t *resp = NULL;
	long status = 0;
	struct share_rec rec;
	int rc;

	memset(fr, 0, sizeof(*fr));
	if (ts_random_id(ikey) != 0 || ts_snprintf(idem, sizeof(idem), "Idempotency-Key: %s", ikey) != 0 ||
	    ts_snprintf(url, sizeof(url), "%s/v1/shares", g.o.node) != 0)
		return TS_EINVAL;
	const char *hdrs[] = { authz, idem, NULL };
	json_t *body = json_pack("{s:s,s:s,s:s}", "eid", c->eid, "app_id", g.o.app, "device_name",
	    "bench companion");
	if (body == NULL)
		return TS_ENOMEM;

	int64_t t4 = now_us();
	rc = ts_httpc_json(w->prim, "POST", url, hdrs, body, &status, &resp, why, sizeof(why));
	int64_t t5 = now_us();
	json_decref(body);
	if (rc != 0 || status != 201 || ts_json_str(resp, "share_id") == NULL) {
		atomic_fetch_add(&g.fail_post, 1);
		const json_t *e = json_object_get(resp, "error");
		note_error("POST /v1/shares: HTTP %ld %s%s%s", status,
		    ts_json_str(e, "code") ? ts_json_str(e, "code") : "", rc != 0 ? ts_strerror(rc) : "",
		    why);
		json_decref(resp);
		return rc != 0 ? rc : TS_EPROTO;
	}
	(void)ts_snprintf(sid, sizeof(sid), "%s", ts_json_str(resp, "share_id"));
	json_decref(resp);
	resp = NULL;

	int64_t limit = t4 + g.o.flow_timeout_s * 1000000LL;
	if (limit > g.deadline_us)
		limit = g.deadline_us;
	rc = wait_share(sid, 1, limit, &rec);
	if (rc != 0) {
		if (rc == TS_EDENIED) {
			atomic_fetch_add(&g.fail_refused, 1);
			note_error("share %s on %s: %s", sid, c->eid, rec.why);
		} else {
			atomic_fetch_add(&g.fail_timeout, 1);
			note_error("share %s on %s: not installed in time", sid, c->eid);
		}
		return rc;
	}
	fr->s5_us = t5 - t4;
	fr->s6_us = rec.installed_us - t4;
	fr->push_us = rec.push_us != 0 ? rec.push_us - t4 : 0;

	if (g.o.cleanup == CLEANUP_NONE) {
		fr->ok = 1;
		return 0;
	}
	int64_t tc = now_us();
	if (g.o.cleanup == CLEANUP_DELETE) {
		if (rec.assoc[0] == '\0') {
			rc = TS_EPROTO;
			(void)ts_snprintf(why, sizeof(why), "share.installed without associated_app_id");
		} else {
			rc = companion_delete(c, w->es9, rec.assoc, why, sizeof(why));
		}
	} else {
		if (ts_random_id(ikey) != 0 ||
		    ts_snprintf(idem, sizeof(idem), "Idempotency-Key: %s", ikey) != 0 ||
		    ts_snprintf(url, sizeof(url), "%s/v1/shares/%s/cancel", g.o.node, sid) != 0)
			return TS_EINVAL;
		body = json_object();
		rc = ts_httpc_json(w->prim, "POST", url, hdrs, body, &status, &resp, why, sizeof(why));
		json_decref(body);
		json_decref(resp);
		if (rc == 0 && status != 202) {
			(void)ts_snprintf(why, sizeof(why), "cancel: HTTP %ld", status);
			rc = TS_EPROTO;
		}
	}
	if (rc == 0) {
		limit = now_us() + g.o.flow_timeout_s * 1000000LL;
		if (limit > g.deadline_us)
			limit = g.deadline_us;
		rc = wait_share(sid, 2, limit, &rec);
		if (rc != 0)
			(void)ts_snprintf(why, sizeof(why), "%s", rc == TS_ETIMEOUT ? "not revoked in time" : rec.why);
	}
	if (rc != 0) {
		atomic_fetch_add(&g.fail_cleanup, 1);
		note_error("cleanup (%s) of share %s on %s: %s", cleanup_names[g.o.cleanup], sid, c->eid, why);
		return rc;
	}
	fr->cleanup_us = rec.revoked_us - tc;
	fr->ok = 1;
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char authz[BENCH_TOKEN_MAX + 32];
	if (ts_snprintf(authz, sizeof(authz), "Authorization: Bearer %s", g.token) != 0)
		return NULL;
	for (;;) {
		if (now_us() >= g.deadline_us)
			break;
		long idx = atomic_fetch_add(&g.next_flow, 1);
		if (idx >= g.phase_flows)
			break;
		(void)one_flow(w, idx, authz);
	}
	OPENSSL_cleanse(authz, sizeof(authz));
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                     */

static int
read_cpu_ticks(long pid, long long *ticks)
{
	char path[64], buf[2048];
	*ticks = -1;
	if (pid <= 0 || ts_snprintf(path, sizeof(path), "/proc/%ld/stat", pid) != 0)
		return TS_EINVAL;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return TS_EIO;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the ")" that ends comm: state(3) ... utime(14) stime(15). */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return TS_EPARSE;
	p++;
	long long ut = -1, st = -1;
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 14 && ts_parse_ll(tok, 0, INT64_MAX, &ut) != 0)
			return TS_EPARSE;
		if (field == 15) {
			if (ts_parse_ll(tok, 0, INT64_MAX, &st) != 0)
				return TS_EPARSE;
			break;
		}
	}
	if (ut < 0 || st < 0)
		return TS_EPARSE;
	*ticks = ut + st;
	return 0;
}

/* Sums voluntary_ctxt_switches and nonvoluntary_ctxt_switches over the
 * threads of pid: 0, or a negative code (*vol and *invol are then -1). */
static int
read_ctx_switches(long pid, long long *vol, long long *invol)
{
	char path[64];
	*vol = *invol = -1;
	if (pid <= 0 || ts_snprintf(path, sizeof(path), "/proc/%ld/task", pid) != 0)
		return TS_EINVAL;
	DIR *d = opendir(path);
	if (d == NULL)
		return TS_EIO;
	long long v = 0, nv = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char sp[320], line[256];
		if (e->d_name[0] == '.' ||
		    ts_snprintf(sp, sizeof(sp), "/proc/%ld/task/%s/status", pid, e->d_name) != 0)
			continue;
		FILE *f = fopen(sp, "r");
		if (f == NULL)
			continue; /* the thread ended meanwhile */
		while (fgets(line, sizeof(line), f) != NULL) {
			long long x;
			char *val = strchr(line, ':');
			if (val == NULL)
				continue;
			*val++ = '\0';
			val += strspn(val, " \t");
			val[strcspn(val, "\n")] = '\0';
			if (ts_parse_ll(val, 0, INT64_MAX, &x) != 0)
				continue;
			if (strcmp(line, "voluntary_ctxt_switches") == 0)
				v += x;
			else if (strcmp(line, "nonvoluntary_ctxt_switches") == 0)
				nv += x;
		}
		fclose(f);
	}
	closedir(d);
	*vol = v;
	*invol = nv;
	return 0;
}

static int
get_token(void)
{
	char pass[BENCH_PASS_MAX];
	const char *env = getenv("TAPSHARE_PASSPHRASE");
	ts_httpc *c = NULL;
	json_t *body = NULL, *resp = NULL;
	char url[BENCH_URL_MAX], why[256] = "";
	long status = 0;
	int rc;

	if (g.o.pass_file != NULL) {
		uint8_t *d = NULL;
		size_t len = 0;
		if ((rc = ts_read_file(g.o.pass_file, BENCH_PASS_MAX - 1, &d, &len)) != 0) {
			fprintf(stderr, "bench_flows: error: cannot read %s (%s)\n", g.o.pass_file,
			    ts_strerror(rc));
			return rc;
		}
		size_t l = strcspn((char *)d, "\r\n");
		memcpy(pass, d, l);
		pass[l] = '\0';
		OPENSSL_cleanse(d, len);
		free(d);
	} else if (env != NULL && strlen(env) < sizeof(pass)) {
		memcpy(pass, env, strlen(env) + 1);
	} else {
		fprintf(stderr, "bench_flows: error: no passphrase (TAPSHARE_PASSPHRASE or --passphrase-file)\n");
		return TS_EINVAL;
	}
	ts_httpc_opts ho = { .ca_file = g.o.ca, .cert_file = g.cert, .key_file = g.key,
		.timeout_ms = BENCH_HTTP_TIMEOUT_MS };
	if ((rc = ts_httpc_new(&ho, &c)) != 0)
		goto fail;
	body = json_pack("{s:s}", "passphrase", pass);
	if (body == NULL || (rc = ts_snprintf(url, sizeof(url), "%s/v1/session", g.o.node)) != 0) {
		rc = rc ? rc : TS_ENOMEM;
		goto fail;
	}
	rc = ts_httpc_json(c, "POST", url, NULL, body, &status, &resp, why, sizeof(why));
	if (rc == 0 && (status != 200 && status != 201)) {
		rc = TS_EAUTH;
		(void)ts_snprintf(why, sizeof(why), "HTTP %ld", status);
	}
	if (rc == 0 && (ts_json_str(resp, "token") == NULL ||
	    ts_snprintf(g.token, sizeof(g.token), "%s", ts_json_str(resp, "token")) != 0))
		rc = TS_EPROTO;
	if (rc != 0)
		fprintf(stderr, "bench_flows: error: POST /v1/session failed (%s: %s)\n", ts_strerror(rc), why);
fail:
	OPENSSL_cleanse(pass, sizeof(pass));
	json_decref(body); /* holds a copy of the passphrase; jansson frees it */
	json_decref(resp);
	ts_httpc_free(c);
	return rc;
}

static int
add_companion(const char *state_path)
{
	if (ncomps >= BENCH_MAX_EIDS) {
		fprintf(stderr, "bench_flows: error: more than %d secure elements\n", BENCH_MAX_EIDS);
		return TS_ELIMIT;
	}
	struct companion *c = &comps[ncomps];
	char spec[BENCH_PATH_MAX + 16];
	eid_t eid;
	memset(c, 0, sizeof(*c));
	c->idx = (int)ncomps;
	if (ts_snprintf(c->state_path, sizeof(c->state_path), "%s", state_path) != 0 ||
	    ts_snprintf(spec, sizeof(spec), "inproc:%s", state_path) != 0)
		return TS_ELIMIT;
	int rc = se_driver_open(spec, &c->se);
	if (rc == 0)
		rc = se_get_eid(c->se, &eid);
	if (rc != 0) {
		fprintf(stderr, "bench_flows: error: secure element %s: %s\n", state_path, ts_strerror(rc));
		se_driver_free(c->se);
		c->se = NULL;
		return rc;
	}
	memcpy(c->eid, eid.digits, sizeof(c->eid));
	pthread_mutex_init(&c->se_mu, NULL);
	ts_httpc_opts ho = { .ca_file = g.o.ca, .timeout_ms = BENCH_HTTP_TIMEOUT_MS };
	if ((rc = ts_httpc_new(&ho, &c->stream)) != 0 || (rc = ts_httpc_new(&ho, &c->api)) != 0 ||
	    (rc = ts_httpc_new(&ho, &c->api_stream)) != 0) {
		fprintf(stderr, "bench_flows: error: HTTP client: %s\n", ts_strerror(rc));
		return rc;
	}
	ncomps++;
	return 0;
}

static int
cmp_state(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Creates DIR/<EID>.state for every --eid (from --pki) if missing, then
 * opens every DIR/<*.state>, sorted by name. */
static int
load_companions(void)
{
	char path[BENCH_PATH_MAX];
	int rc;
	struct stat sb;
	if ((rc = ts_mkdirs(g.o.se_dir, 0700)) != 0) {
		fprintf(stderr, "bench_flows: error: cannot create %s\n", g.o.se_dir);
		return rc;
	}
	for (size_t i = 0; i < g.o.neids; i++) {
		if (!eid_is_valid(g.o.eids[i]) || strlen(g.o.eids[i]) != EID_DIGITS) {
			fprintf(stderr, "bench_flows: error: %s is not a valid EID\n", g.o.eids[i]);
			return TS_EEIDCHK;
		}
		if ((rc = ts_snprintf(path, sizeof(path), "%s/%s.state", g.o.se_dir, g.o.eids[i])) != 0)
			return rc;
		if (stat(path, &sb) == 0)
			continue;
		if (g.o.pki == NULL) {
			fprintf(stderr, "bench_flows: error: --eid needs --pki to create %s\n", path);
			return TS_EINVAL;
		}
		if ((rc = se_card_init_state(path, g.o.pki, g.o.eids[i])) != 0) {
			fprintf(stderr, "bench_flows: error: cannot create SE state for %s from %s (%s)\n",
			    g.o.eids[i], g.o.pki, ts_strerror(rc));
			return rc;
		}
	}
	DIR *d = opendir(g.o.se_dir);
	if (d == NULL)
		return TS_EIO;
	char *names[BENCH_MAX_EIDS];
	size_t n = 0;
	struct dirent *de;
	rc = 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 7 || strcmp(de->d_name + l - 6, ".state") != 0)
			continue;
		if (n >= BENCH_MAX_EIDS) {
			rc = TS_ELIMIT;
			break;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = TS_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0)
		qsort(names, n, sizeof(names[0]), cmp_state);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && (rc = ts_snprintf(path, sizeof(path), "%s/%s", g.o.se_dir, names[i])) == 0)
			rc = add_companion(path);
		free(names[i]);
	}
	if (rc == 0 && ncomps == 0) {
		fprintf(stderr, "bench_flows: error: no *.state in %s\n", g.o.se_dir);
		rc = TS_ENOTFOUND;
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                 */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (permille pm) of sorted v[0..n). */
static double
pct_ms(const int64_t *v, size_t n, size_t pm)
{
	if (n == 0)
		return 0;
	size_t k = (n * pm + 999) / 1000;
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

static void
print_latency(const char *label, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), cmp_i64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	printf("%-28s p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  mean %8.1f ms\n", label,
	    pct_ms(v, n, 500), pct_ms(v, n, 990), n ? (double)v[n - 1] / 1000.0 : 0.0,
	    n ? sum / (double)n / 1000.0 : 0.0);
}

/* ------------------------------------------------------------------------ */
/* Main                                                                       */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: bench_flows --node URL --ca FILE --home-dir DIR --se-dir DIR --app APP_ID\n"
	    "                   [--pki DIR --eid EID [--eid EID ...]] [--flows N] [--concurrency C]\n"
	    "                   [--warmup N] [--node-pid PID] [--sp-pid PID] [--duration-limit S]\n"
	    "                   [--flow-timeout S] [--cleanup delete|cancel|none] [--cancel]\n"
	    "                   [--passphrase-file FILE] [--count-file FILE]\n"
	    "  --home-dir DIR   an enrolled primary (device.crt, device.key); passphrase from\n"
	    "                   $TAPSHARE_PASSPHRASE or --passphrase-file\n"
	    "  --se-dir DIR     secure-element state files *.state (one simulated companion each);\n"
	    "                   with --pki/--eid, DIR/<EID>.state is created when missing\n"
	    "  --flows N        measured flows (default 200, at most %d)\n"
	    "  --concurrency C  worker threads, each a primary+companion pair (default 4)\n"
	    "  --cleanup MODE   after each flow: delete (companion deletes, default), cancel\n"
	    "                   (primary cancels, S7/S8 -> S16/S17; same as --cancel) or none\n",
	    BENCH_MAX_FLOWS);
}

/* Asks the node's call counter (bench/preload/count.c) for a fresh dump
 * (creates FILE.req; the counter removes it once FILE is rewritten, within
 * ~20 ms) and copies FILE to FILE.tag. */
static void
snap_counts(const char *file, const char *tag)
{
	if (file == NULL)
		return;
	char dst[BENCH_PATH_MAX + 16], req[BENCH_PATH_MAX + 16];
	if (ts_snprintf(dst, sizeof(dst), "%s.%s", file, tag) != 0 ||
	    ts_snprintf(req, sizeof(req), "%s.req", file) != 0)
		return;
	if (ts_write_file_atomic(req, (const uint8_t *)"", 0, 0644) != 0) {
		fprintf(stderr, "bench_flows: warning: cannot ask for the call counts (%s)\n", req);
		return;
	}
	struct timespec ts = { 0, 10000000L };
	int i;
	for (i = 0; i < 500 && access(req, F_OK) == 0; i++) /* 5 s at most */
		nanosleep(&ts, NULL);
	if (i == 500) {
		fprintf(stderr, "bench_flows: warning: the node's call counter did not answer %s\n", req);
		(void)unlink(req);
		return;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (ts_read_file(file, 1 << 16, &buf, &len) == 0) {
		(void)ts_write_file_atomic(dst, buf, len, 0644);
		free(buf);
	} else {
		fprintf(stderr, "bench_flows: warning: cannot read the call counts %s\n", file);
	}
}

static int
parse_long(const char *name, const char *s, long min, long max, long *out)
{
	long long v;
	if (ts_parse_ll(s, min, max, &v) != 0) {
		fprintf(stderr, "bench_flows: error: %s must be an integer in %ld..%ld\n", name, min, max);
		return TS_EINVAL;
	}
	*out = (long)v;
	return 0;
}

/* Runs one phase of n flows with every worker; returns the wall time in us. */
static int64_t
run_phase(long n, size_t nworkers)
{
	g.phase_flows = n;
	atomic_store(&g.next_flow, 0);
	int64_t t0 = now_us();
	size_t started = 0;
	for (size_t i = 0; i < nworkers; i++) {
		if (pthread_create(&workers[i].thr, NULL, worker_main, &workers[i]) != 0)
			break;
		started++;
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(workers[i].thr, NULL);
	return now_us() - t0;
}

int
main(int argc, char **argv)
{
	enum { O_NODE = 1000, O_CA, O_HOME, O_SEDIR, O_PKI, O_EID, O_FLOWS, O_CONC, O_WARM, O_NPID,
		O_SPID, O_APP, O_DUR, O_FTO, O_CLEAN, O_CANCEL, O_PASS, O_HELP, O_COUNT };
	static const struct option lopts[] = {
		{ "node", required_argument, NULL, O_NODE },
		{ "ca", required_argument, NULL, O_CA },
		{ "home-dir", required_argument, NULL, O_HOME },
		{ "se-dir", required_argument, NULL, O_SEDIR },
		{ "pki", required_argument, NULL, O_PKI },
		{ "eid", required_argument, NULL, O_EID },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "warmup", required_argument, NULL, O_WARM },
		{ "node-pid", required_argument, NULL, O_NPID },
		{ "count-file", required_argument, NULL, O_COUNT },
		{ "sp-pid", required_argument, NULL, O_SPID },
		{ "app", required_argument, NULL, O_APP },
		{ "duration-limit", required_argument, NULL, O_DUR },
		{ "flow-timeout", required_argument, NULL, O_FTO },
		{ "cleanup", required_argument, NULL, O_CLEAN },
		{ "cancel", no_argument, NULL, O_CANCEL },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &g.o;
	int rc = 0, ch;
	int exit_code = 1, measured = 0, all_ok = 0;

	o->flows = 200;
	o->conc = 4;
	o->duration_s = 120;
	o->flow_timeout_s = 30;
	o->cleanup = CLEANUP_DELETE;
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case O_NODE: o->node = optarg; break;
		case O_CA: o->ca = optarg; break;
		case O_HOME: o->home = optarg; break;
		case O_SEDIR: o->se_dir = optarg; break;
		case O_PKI: o->pki = optarg; break;
		case O_EID:
			if (o->neids >= BENCH_MAX_EIDS) {
				fprintf(stderr, "bench_flows: error: at most %d --eid\n", BENCH_MAX_EIDS);
				return 2;
			}
			o->eids[o->neids++] = optarg;
			break;
		case O_FLOWS: rc = parse_long("--flows", optarg, 1, BENCH_MAX_FLOWS, &o->flows); break;
		case O_CONC: rc = parse_long("--concurrency", optarg, 1, BENCH_MAX_CONC, &o->conc); break;
		case O_WARM: rc = parse_long("--warmup", optarg, 0, BENCH_MAX_FLOWS, &o->warmup); break;
		case O_NPID: rc = parse_long("--node-pid", optarg, 1, 1L << 30, &o->node_pid); break;
		case O_SPID: rc = parse_long("--sp-pid", optarg, 1, 1L << 30, &o->sp_pid); break;
		case O_APP: o->app = optarg; break;
		case O_COUNT: o->count_file = optarg; break;
		case O_DUR: rc = parse_long("--duration-limit", optarg, 1, 3600, &o->duration_s); break;
		case O_FTO: rc = parse_long("--flow-timeout", optarg, 1, 600, &o->flow_timeout_s); break;
		case O_CLEAN:
			if (strcmp(optarg, "delete") == 0)
				o->cleanup = CLEANUP_DELETE;
			else if (strcmp(optarg, "cancel") == 0)
				o->cleanup = CLEANUP_CANCEL;
			else if (strcmp(optarg, "none") == 0)
				o->cleanup = CLEANUP_NONE;
			else
				rc = TS_EINVAL;
			break;
		case O_CANCEL: o->cleanup = CLEANUP_CANCEL; break;
		case O_PASS: o->pass_file = optarg; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (rc != 0) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || o->node == NULL || o->ca == NULL || o->home == NULL ||
	    o->se_dir == NULL || o->app == NULL) {
		usage(stderr);
		return 2;
	}
	ts_log_init("bench_flows", TS_LOG_ERROR);
	if (ts_snprintf(g.cert, sizeof(g.cert), "%s/device.crt", o->home) != 0 ||
	    ts_snprintf(g.key, sizeof(g.key), "%s/device.key", o->home) != 0)
		return 2;

	pthread_mutex_init(&g.mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g.cv, &ca);
	pthread_condattr_destroy(&ca);

	long total = o->flows + o->warmup;
	g.cap = 1024;
	while (g.cap < (size_t)total * 2 + 64)
		g.cap <<= 1;
	g.recs = calloc(g.cap, sizeof(*g.recs));
	g.res = calloc((size_t)(o->flows > o->warmup ? o->flows : o->warmup), sizeof(*g.res));
	int64_t *v5 = calloc((size_t)o->flows, sizeof(int64_t));
	int64_t *v6 = calloc((size_t)o->flows, sizeof(int64_t));
	int64_t *vc = calloc((size_t)o->flows, sizeof(int64_t));
	if (g.recs == NULL || g.res == NULL || v5 == NULL || v6 == NULL || vc == NULL) {
		fprintf(stderr, "bench_flows: error: out of memory\n");
		goto done;
	}

	if (load_companions() != 0)
		goto done;
	size_t nworkers = (size_t)o->conc;
	if (nworkers > ncomps) {
		fprintf(stderr, "bench_flows: note: %zu secure elements, concurrency lowered from %zu to %zu "
		    "(one EID is never shared by two workers)\n", ncomps, nworkers, ncomps);
		nworkers = ncomps;
	}
	/* Every EID belongs to exactly one worker, so no SE sees two flows at once. */
	size_t per_eid_max = 0;
	for (size_t i = 0; i < nworkers; i++) {
		struct worker *w = &workers[i];
		w->idx = (int)i;
		for (size_t k = i; k < ncomps; k += nworkers)
			w->comps[w->ncomps++] = &comps[k];
	}
	per_eid_max = (size_t)((total + (long)ncomps - 1) / (long)ncomps) + 1;
	if (o->cleanup == CLEANUP_NONE && per_eid_max > SE_MAX_APPS) {
		fprintf(stderr, "bench_flows: error: --cleanup none with %ld flows over %zu EIDs would put "
		    "more than %d apps in one SE; add EIDs or use delete/cancel\n", total, ncomps, SE_MAX_APPS);
		goto done;
	}

	if (get_token() != 0)
		goto done;
	ts_httpc_opts mo = { .ca_file = o->ca, .cert_file = g.cert, .key_file = g.key,
		.timeout_ms = BENCH_HTTP_TIMEOUT_MS };
	ts_httpc_opts so = { .ca_file = o->ca, .timeout_ms = BENCH_HTTP_TIMEOUT_MS };
	if ((rc = ts_httpc_new(&mo, &g.prim_stream)) != 0)
		goto done;
	for (size_t i = 0; i < nworkers; i++)
		if ((rc = ts_httpc_new(&mo, &workers[i].prim)) != 0 ||
		    (rc = ts_httpc_new(&so, &workers[i].es9)) != 0) {
			fprintf(stderr, "bench_flows: error: HTTP client: %s\n", ts_strerror(rc));
			goto done;
		}

	/* Streams first: the primary's events, then one push channel per companion. */
	if (pthread_create(&g.prim_thr, NULL, prim_stream_main, NULL) != 0)
		goto done;
	for (size_t i = 0; i < ncomps; i++) {
		if (pthread_create(&comps[i].thr, NULL, comp_main, &comps[i]) != 0)
			goto stop;
		comps[i].started = 1;
	}
	/* Let the streams connect before the first share (a command pushed
	 * earlier would still be delivered on connect: pending commands are
	 * re-sent, so this only avoids counting connection set-up). */
	{
		struct timespec ts = { 0, 300000000L };
		nanosleep(&ts, NULL);
	}

	g.deadline_us = now_us() + o->duration_s * 1000000LL;
	if (o->warmup > 0) {
		(void)run_phase(o->warmup, nworkers);
		long wok = 0;
		for (long i = 0; i < o->warmup; i++)
			wok += g.res[i].ok;
		printf("warm-up: %ld of %ld flows completed (not counted)\n", wok, o->warmup);
		atomic_store(&g.fail_post, 0);
		atomic_store(&g.fail_timeout, 0);
		atomic_store(&g.fail_refused, 0);
		atomic_store(&g.fail_cleanup, 0);
		g.first_error[0] = '\0';
		for (int i = 0; i < PH_COUNT; i++)
			atomic_store(&phase_sum[i], 0);
		atomic_store(&phase_n, 0);
	}

	long long node0 = -1, node1 = -1, sp0 = -1, sp1 = -1;
	struct rusage ru0, ru1;
	snap_counts(o->count_file, "start");
	long long vol0 = -1, invol0 = -1, vol1 = -1, invol1 = -1;
	if (o->node_pid > 0 && read_cpu_ticks(o->node_pid, &node0) != 0)
		fprintf(stderr, "bench_flows: warning: cannot read /proc/%ld/stat\n", o->node_pid);
	if (o->node_pid > 0)
		(void)read_ctx_switches(o->node_pid, &vol0, &invol0);
	if (o->sp_pid > 0 && read_cpu_ticks(o->sp_pid, &sp0) != 0)
		fprintf(stderr, "bench_flows: warning: cannot read /proc/%ld/stat\n", o->sp_pid);
	getrusage(RUSAGE_SELF, &ru0);
	int64_t wall = run_phase(o->flows, nworkers);
	getrusage(RUSAGE_SELF, &ru1);
	if (node0 >= 0)
		(void)read_cpu_ticks(o->node_pid, &node1);
	if (vol0 >= 0)
		(void)read_ctx_switches(o->node_pid, &vol1, &invol1);
	if (sp0 >= 0)
		(void)read_cpu_ticks(o->sp_pid, &sp1);
	snap_counts(o->count_file, "end");

	size_t n5 = 0, nc = 0;
	long ok = 0;
	for (long i = 0; i < o->flows; i++) {
		if (!g.res[i].ok)
			continue;
		ok++;
		v5[n5] = g.res[i].s5_us;
		v6[n5] = g.res[i].s6_us;
		n5++;
		if (o->cleanup != CLEANUP_NONE)
			vc[nc++] = g.res[i].cleanup_us;
	}
	long attempted = atomic_load(&g.next_flow);
	if (attempted > o->flows)
		attempted = o->flows;
	long failed = attempted - ok;
	double wall_s = (double)wall / 1e6;
	long tck = sysconf(_SC_CLK_TCK);
	double self_ms = ((double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e3 +
	    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e3 +
	    (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e3 +
	    (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e3);

	printf("tapshare bench: %ld flows requested, concurrency %zu, %zu simulated companions (EIDs), "
	    "cleanup=%s, app %s\n", o->flows, nworkers, ncomps, cleanup_names[o->cleanup], o->app);
	printf("flows completed %ld, failed %ld, not started %ld (post %ld, refused %ld, timeout %ld, "
	    "cleanup %ld)\n", ok, failed, o->flows - attempted, atomic_load(&g.fail_post),
	    atomic_load(&g.fail_refused), atomic_load(&g.fail_timeout), atomic_load(&g.fail_cleanup));
	printf("wall time %.3f s, %.2f flows/s (a flow = share S4..S6 + cleanup)\n", wall_s,
	    wall_s > 0 ? (double)ok / wall_s : 0.0);
	print_latency("S4->S5 (201 to the POST)", v5, n5);
	print_latency("S4->S6 (share.installed)", v6, n5);
	{
		/* BENCH_LATENCY_FILE (scale's bench/plot.sh): every S4->S6 sample in
		 * microseconds, sorted, one per line, for percentiles beyond p50/p99. */
		const char *lf = getenv("BENCH_LATENCY_FILE");
		FILE *f = lf != NULL && lf[0] != '\0' ? fopen(lf, "w") : NULL;
		for (size_t i = 0; f != NULL && i < n5; i++)
			fprintf(f, "%lld\n", (long long)v6[i]);
		if (f != NULL)
			fclose(f);
	}
	if (o->cleanup != CLEANUP_NONE)
		print_latency("cleanup (-> share.revoked)", vc, nc);
	{
		/* Where S4->S6 goes: the push (S11..S14 at the node, incl. provider),
		 * then each ES9+ round trip and each SE command at the companion. */
		double push = 0;
		size_t np = 0;
		for (long i = 0; i < o->flows; i++)
			if (g.res[i].ok && g.res[i].push_us > 0) {
				push += (double)g.res[i].push_us;
				np++;
			}
		long pn = atomic_load(&phase_n);
		printf("S4->S6 breakdown (means): S4 -> download command at companion %.1f ms", np ? push / (double)np / 1000.0 : 0.0);
		for (int i = 0; i < PH_COUNT && pn > 0; i++)
			printf("; %s %.1f ms", phase_names[i], (double)atomic_load(&phase_sum[i]) / (double)pn / 1000.0);
		printf("\n");
	}
	if (node0 >= 0 && node1 >= 0 && ok > 0) {
		double ms = (double)(node1 - node0) * 1000.0 / (double)tck;
		printf("node CPU: %.0f ms total, %.2f ms per flow, %.0f%% of one core "
		    "(pid %ld utime+stime, provider excluded)\n", ms, ms / (double)ok,
		    wall_s > 0 ? ms / 10.0 / wall_s : 0.0, o->node_pid);
	} else {
		printf("node CPU: not measured (%s)\n", ok == 0 ? "no flow completed" : "give --node-pid");
	}
	if (vol0 >= 0 && vol1 >= vol0 && invol1 >= invol0 && ok > 0)
		printf("node context switches: %.2f voluntary, %.2f involuntary per flow (all threads)\n",
		    (double)(vol1 - vol0) / (double)ok, (double)(invol1 - invol0) / (double)ok);
	if (sp0 >= 0 && sp1 >= 0 && ok > 0) {
		double ms = (double)(sp1 - sp0) * 1000.0 / (double)tck;
		printf("provider CPU: %.0f ms total, %.2f ms per flow, %.0f%% of one core (pid %ld)\n", ms,
		    ms / (double)ok, wall_s > 0 ? ms / 10.0 / wall_s : 0.0, o->sp_pid);
	}
	if (ok > 0)
		printf("bench CPU (simulated primaries + companions + SEs): %.0f ms total, %.2f ms per flow, "
		    "%.0f%% of one core\n", self_ms, self_ms / (double)ok, wall_s > 0 ? self_ms / 10.0 / wall_s : 0.0);
	measured = 1;
	all_ok = ok == o->flows;

stop:
	/* Join the streams first: a companion counts its download only after
	 * NotificationSent, which may follow the node's share.installed. */
	atomic_store(&g.stop, 1);
	pthread_join(g.prim_thr, NULL);
	for (size_t i = 0; i < ncomps; i++)
		if (comps[i].started)
			pthread_join(comps[i].thr, NULL);
	if (measured) {
		long cd = 0, ce = 0;
		for (size_t i = 0; i < ncomps; i++) {
			cd += atomic_load(&comps[i].downloads);
			ce += atomic_load(&comps[i].errors);
		}
		printf("companions: %ld downloads (warm-up included), %ld errors\n", cd, ce);
		if (g.first_error[0] != '\0')
			printf("first error: %s\n", g.first_error);
		exit_code = (all_ok && ce == 0) ? 0 : 1;
	}
done:
	OPENSSL_cleanse(g.token, sizeof(g.token));
	for (size_t i = 0; i < BENCH_MAX_CONC; i++) {
		ts_httpc_free(workers[i].prim);
		ts_httpc_free(workers[i].es9);
	}
	for (size_t i = 0; i < ncomps; i++) {
		ts_httpc_free(comps[i].stream);
		ts_httpc_free(comps[i].api);
		ts_httpc_free(comps[i].api_stream);
		se_driver_free(comps[i].se);
		pthread_mutex_destroy(&comps[i].se_mu);
	}
	ts_httpc_free(g.prim_stream);
	free(g.recs);
	free(g.res);
	free(v5);
	free(v6);
	free(vc);
	return exit_code;
}
