/*
 * outbox.c — performs the provider calls (ES2+-shaped confirmOrder and
 * cancelOrder) that share transitions wrote to the outbox table. Worker
 * threads, each with its own store handle and HTTPS client, claim due rows
 * atomically, call the provider with the row's functionCallIdentifier (the
 * provider answers a repeated identifier with its first answer), apply the
 * answer as a share transition (share.h) and mark the row done. Transport
 * failures, HTTP 5xx and unreachable providers are retried with the same
 * identifier and exponential backoff (outbox_backoff_s: 1, 2, 4, 8, 16, 32,
 * 60, 60 ... s); a call that succeeds makes the provider's other waiting rows
 * due at once, so one outage does not leave them sleeping out their backoff.
 * After NODE_OUTBOX_MAX_ATTEMPTS the share fails (and the provider is told to
 * drop whatever it may have granted).
 *
 * Exactly-once: a crash after the provider answered but before the row was
 * marked done repeats the call with the same identifier; the transition then
 * finds the share already moved on (TS_ESTATE) and the row is closed. An
 * answer that moves the share closes its row in the transition's own
 * transaction (share_outbox_arm), so that window is only between the answer
 * and that commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/metrics.h"
#include "node/node.h"
#include "node/outbox.h"

#define OB_LEASE_S 60
#define OB_BATCH 8
#define OB_CLIENTS 8

typedef struct worker {
	node *n;
	store *st;
	outbox_call_fn call; /* the provider transport (https_call, or a test's) */
	void *call_arg;
	struct {
		char provider[STORE_STR_MAX];
		ts_httpc *c;
	} clients[OB_CLIENTS];
	unsigned reload_gen; /* n->reload_gen the clients were made under */
} worker;

static ts_httpc *
client_for(worker *w, const store_provider *p)
{
	for (size_t i = 0; i < OB_CLIENTS; i++)
		if (w->clients[i].c && strcmp(w->clients[i].provider, p->name) == 0)
			return w->clients[i].c;
	for (size_t i = 0; i < OB_CLIENTS; i++) {
		if (w->clients[i].c)
			continue;
		char cert[sizeof(w->n->tls_cert)], key[sizeof(w->n->tls_key)];
		node_client_tls(w->n, cert, key); /* SIGHUP may change them */
		ts_httpc_opts o = { .ca_file = p->ca_file, .cert_file = cert, .key_file = key,
			.timeout_ms = 15000 };
		if (ts_httpc_new(&o, &w->clients[i].c) != 0)
			return NULL;
		snprintf(w->clients[i].provider, sizeof(w->clients[i].provider), "%s", p->name);
		return w->clients[i].c;
	}
	return NULL;
}

int
outbox_classify(int transport_rc, const char *transport_err, const char *provider, long status, json_t *r,
    json_t **resp, char *reason, size_t rcap)
{
	if (transport_rc != 0) {
		json_decref(r);
		snprintf(reason, rcap, "provider %s unreachable: %s", provider,
		    transport_err && transport_err[0] ? transport_err : ts_strerror(transport_rc));
		return TS_ENET;
	}
	if (status >= 500 || r == NULL) {
		snprintf(reason, rcap, "provider %s answered HTTP %ld", provider, status);
		json_decref(r);
		return TS_ENET;
	}
	const char *st = json_string_value(json_object_get(json_object_get(json_object_get(r, "header"),
	    "functionExecutionStatus"), "status"));
	if (st != NULL && strcmp(st, "Executed-Success") == 0 && status == 200) {
		*resp = r;
		return 0;
	}
	json_t *scd = json_object_get(json_object_get(json_object_get(r, "header"), "functionExecutionStatus"),
	    "statusCodeData");
	const char *msg = json_string_value(json_object_get(scd, "message"));
	const char *subj = json_string_value(json_object_get(scd, "subjectCode"));
	const char *rsn = json_string_value(json_object_get(scd, "reasonCode"));
	snprintf(reason, rcap, "%s (subject %s, reason %s)", msg ? msg : "refused by the provider", subj ? subj : "?",
	    rsn ? rsn : "?");
	json_decref(r);
	/* A refusal is final only when the provider said so in a well-formed
	 * answer; anything else (redirects, 404 from a proxy, 429) is retried. */
	return st != NULL && (status == 200 || status == 400 || status == 403 || status == 422) ? TS_EDENIED : TS_ENET;
}

/* The HTTPS transport (outbox_call_fn): arg is the worker. */
static int
https_call(void *arg, const store_provider *p, const char *function, const char *body, json_t **resp,
    char *reason, size_t rcap)
{
	worker *w = arg;
	ts_httpc *c = client_for(w, p);
	if (c == NULL) {
		snprintf(reason, rcap, "cannot set up a client for provider %s", p->name);
		return TS_ENET;
	}
	char url[700];
	if (ts_snprintf(url, sizeof(url), "%s/gsma/rsp2/es2plus/%s", p->url, function) != 0) {
		snprintf(reason, rcap, "provider URL too long");
		return TS_EDENIED;
	}
	static const char *const hdrs[] = { "X-Admin-Protocol: gsma/rsp/v2.5.0", NULL };
	long status = 0;
	char err[256] = "";
	json_t *r = NULL;
	int64_t t0 = metrics_now_us();
	int rc = ts_httpc_json_text(c, "POST", url, hdrs, body, &status, &r, err, sizeof(err));
	rc = outbox_classify(rc, err, p->name, status, r, resp, reason, rcap);
	metrics_provider_call(function, rc, t0);
	return rc;
}

static int rows_may_wait(node *n);

/* The answer's transition wakes the rows in backoff if some may be waiting
 * now, after the call: a retry while it was under way counts. */
static int
call_provider(worker *w, const store_provider *p, const char *function, const char *body, json_t **resp,
    char *reason, size_t rcap)
{
	*resp = NULL;
	int rc = w->call(w->call_arg, p, function, body, resp, reason, rcap);
	share_outbox_set_wake(rows_may_wait(w->n));
	return rc;
}

static json_t *
header(const store_outbox *o)
{
	return json_pack("{s:s,s:s}", "functionRequesterIdentifier", "tapshare-node",
	    "functionCallIdentifier", o->call_id);
}

/* Opens a request body in w with its header (header()'s members). */
static void
header_jw(ts_jw *w, const store_outbox *o)
{
	ts_jw_reserve(w, 1024);
	ts_jw_open(w, NULL);
	ts_jw_open(w, "header");
	ts_jw_str(w, "functionRequesterIdentifier", "tapshare-node");
	ts_jw_str(w, "functionCallIdentifier", o->call_id);
	ts_jw_close(w);
}

/* The text of a body built as a jansson tree (taken; NULL: json_pack
 * refused a value, and the call goes without a body, as it always has). */
static char *
tree_text(json_t *body)
{
	char *t = body != NULL ? ts_json_dump(body) : NULL;
	json_decref(body);
	return t;
}

/* w's text, or, when the writer is unsure of a value (not plain ASCII),
 * the tree's, which the caller then builds: *unsure set. */
static char *
jw_text(ts_jw *w, int *unsure)
{
	char *t = NULL;
	ts_jw_close(w);
	*unsure = ts_jw_finish(w, &t) == TS_JW_UNSURE;
	return t;
}

int64_t
outbox_backoff_s(int attempts)
{
	if (attempts < 1)
		attempts = 1;
	if (attempts > 7)
		return OUTBOX_BACKOFF_MAX_S;
	int64_t d = (int64_t)1 << (attempts - 1); /* 1, 2, 4, 8, 16, 32, 64 */
	return d > OUTBOX_BACKOFF_MAX_S ? OUTBOX_BACKOFF_MAX_S : d;
}

/* The share an outbox row is about and its provider: 0, TS_ENOTFOUND when
 * either is gone (nothing left to tell), or the store's error. */
static int
share_and_provider(worker *w, const store_outbox *o, store_share *sh, store_provider *p)
{
	int rc = w->st->ops->share_get(w->st, o->share_id, sh);
	return rc != 0 ? rc : w->st->ops->provider_get(w->st, sh->provider, p);
}

/* A store read that gave no answer (busy, timed out): the row is retried
 * (backoff), never done as if the share or provider were not there. */
static int
read_failed(int rc, char *reason, size_t rcap)
{
	snprintf(reason, rcap, "the database is busy (%s)", ts_strerror(rc));
	return rc;
}

static int
do_confirm(worker *w, const store_outbox *o, char *reason, size_t rcap)
{
	node *n = w->n;
	store_share sh;
	int rc = w->st->ops->share_get(w->st, o->share_id, &sh);
	if (rc != 0)
		return rc == TS_ENOTFOUND ? 0 : read_failed(rc, reason, rcap); /* 0: nothing to do */
	/* No confirmOrder for a share cancelled before S13 (or already answered:
	 * a repeat after a crash). */
	if (sh.state != SHARE_EID_CONFIRMED)
		return 0;
	store_provider p;
	if ((rc = w->st->ops->provider_get(w->st, sh.provider, &p)) != 0 && rc != TS_ENOTFOUND)
		return read_failed(rc, reason, rcap);
	if (rc != 0) {
		share_fail(&n->svc, w->st, sh.id, "provider is not configured on the node", 0);
		return 0;
	}
	/* The user's name and the app's kind and name go to the provider: a
	 * busy read retries the row rather than ask with them left empty (a
	 * missing row keeps the defaults below). */
	char user[STORE_STR_MAX] = "";
	if ((rc = w->st->ops->user_get(w->st, sh.user_id, user, sizeof(user), NULL, 0)) != 0 && rc != TS_ENOTFOUND)
		return read_failed(rc, reason, rcap);
	store_app app;
	memset(&app, 0, sizeof(app));
	if ((rc = w->st->ops->app_get(w->st, sh.app_id, &app)) != 0 && rc != TS_ENOTFOUND)
		return read_failed(rc, reason, rcap);
	if (rc != 0)
		memset(&app, 0, sizeof(app));
	const char *kind = app.kind[0] ? app.kind : "sim", *aname = app.name[0] ? app.name : sh.app_id;
	const char *op = strcmp(sh.operation, "move") == 0 ? "transfer" : "subscribe";
	ts_jw jw;
	int unsure;
	ts_jw_init(&jw);
	header_jw(&jw, o);
	ts_jw_str(&jw, "eid", sh.eid);
	ts_jw_str(&jw, "appId", sh.app_id);
	ts_jw_str(&jw, "userId", user);
	ts_jw_str(&jw, "shareId", sh.id);
	ts_jw_int(&jw, "requestedDurationS", sh.duration_s);
	ts_jw_str(&jw, "kind", kind);
	ts_jw_str(&jw, "name", aname);
	ts_jw_str(&jw, "operationType", op);
	char *body = jw_text(&jw, &unsure);
	if (unsure)
		body = tree_text(json_pack("{s:o,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "header", header(o), "eid", sh.eid,
		    "appId", sh.app_id, "userId", user, "shareId", sh.id, "requestedDurationS",
		    (json_int_t)sh.duration_s, "kind", kind, "name", aname, "operationType", op));
	json_t *r = NULL;
	rc = call_provider(w, &p, "confirmOrder", body, &r, reason, rcap);
	free(body);
	if (rc == TS_EDENIED) {
		node_crash_point(n, "outbox.answered");
		share_deny(&n->svc, w->st, sh.id, reason);
		return 0;
	}
	if (rc != 0)
		return rc;
	node_crash_point(n, "outbox.answered");
	const char *assoc = json_string_value(json_object_get(r, "associatedAppId"));
	const char *name = json_string_value(json_object_get(r, "name"));
	kind = json_string_value(json_object_get(r, "kind"));
	json_t *cred = json_object_get(r, "credential");
	json_int_t not_after = json_integer_value(json_object_get(r, "notAfter"));
	if (assoc == NULL || assoc[0] == '\0' || strlen(assoc) >= STORE_STR_MAX || cred == NULL ||
	    !json_is_object(cred)) {
		json_decref(r);
		/* Executed-Success: the provider holds a grant we cannot use (F2). */
		share_fail(&n->svc, w->st, sh.id, "provider answer lacks associatedAppId or credential", 1);
		return 0;
	}
	char *credtxt = ts_json_dump(cred); /* json_dumps(cred, JSON_COMPACT)'s text */
	share_grant g = { .assoc_app_id = assoc, .assoc_name = name ? name : assoc,
		.assoc_kind = kind ? kind : "service", .not_after = (int64_t)not_after,
		.credential_json = credtxt ? credtxt : "{}" };
	rc = share_authorise(&n->svc, w->st, sh.id, &g);
	free(credtxt);
	json_decref(r);
	if (rc == TS_ESTATE)
		return 0;
	if (rc != 0) {
		snprintf(reason, rcap, "cannot record the grant: %s", ts_strerror(rc));
		return TS_ENET;
	}
	return 0;
}

static int
do_cancel(worker *w, const store_outbox *o, char *reason, size_t rcap)
{
	store_share sh;
	store_provider p;
	int rc = share_and_provider(w, o, &sh, &p);
	if (rc != 0)
		return rc == TS_ENOTFOUND ? 0 : read_failed(rc, reason, rcap);
	ts_jw jw;
	int unsure;
	ts_jw_init(&jw);
	header_jw(&jw, o);
	ts_jw_str(&jw, "eid", sh.eid);
	ts_jw_str(&jw, "associatedAppId", sh.assoc_app_id);
	ts_jw_str(&jw, "shareId", sh.id);
	ts_jw_str(&jw, "finalProfileStatusIndicator", "Unavailable");
	char *body = jw_text(&jw, &unsure);
	if (unsure)
		body = tree_text(json_pack("{s:o,s:s,s:s,s:s,s:s}", "header", header(o), "eid", sh.eid,
		    "associatedAppId", sh.assoc_app_id, "shareId", sh.id, "finalProfileStatusIndicator", "Unavailable"));
	json_t *r = NULL;
	rc = call_provider(w, &p, "cancelOrder", body, &r, reason, rcap);
	free(body);
	json_decref(r);
	if (rc == TS_EDENIED) {
		log_warn("provider %s refused cancelOrder for share %s: %s", p.name, sh.id, reason);
		return 0;
	}
	if (rc == 0)
		log_info("S16 provider %s told: share %s (%s) cancelled", p.name, sh.id, sh.assoc_app_id);
	return rc;
}

/* SGP.22 §5.6.5 step 1 for a download the companion cancelled with a
 * reason that keeps the share (share_download_cancelled): ES2+
 * HandleDownloadProgressInfo, shaped as docs/protocol.md §5 gives it. A
 * notice: a refusal changes nothing. */
static int
do_progress(worker *w, const store_outbox *o, const char *cancel_reason, char *reason, size_t rcap)
{
	store_share sh;
	store_provider p;
	int rc = share_and_provider(w, o, &sh, &p);
	if (rc != 0)
		return rc == TS_ENOTFOUND ? 0 : read_failed(rc, reason, rcap);
	char ts[32];
	time_t now = (time_t)ts_now();
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL || strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		ts[0] = '\0';
	char msg[64];
	snprintf(msg, sizeof(msg), "cancelSession: %s", cancel_reason);
	/* notificationPointId 3: BPP download, the step the companion gave up */
	json_t *body = json_pack("{s:o,s:s,s:s,s:s,s:s,s:i,s:{s:s,s:{s:s}},s:s}", "header", header(o), "eid",
	    sh.eid, "associatedAppId", sh.assoc_app_id, "shareId", sh.id, "timestamp", ts,
	    "notificationPointId", 3, "notificationPointStatus", "status", "Failed", "statusCodeData", "message",
	    msg, "cancelSessionReason", cancel_reason);
	json_t *r = NULL;
	char *txt = tree_text(body);
	rc = call_provider(w, &p, "handleDownloadProgressInfo", txt, &r, reason, rcap);
	free(txt);
	json_decref(r);
	if (rc == TS_EDENIED) {
		log_warn("provider %s refused handleDownloadProgressInfo for share %s: %s", p.name, sh.id, reason);
		return 0;
	}
	if (rc == 0)
		log_info("provider %s told: the download of share %s was cancelled (%s)", p.name, sh.id,
		    cancel_reason);
	return rc;
}

/* Move: the provider is told that the original left the primary. */
static int
do_release(worker *w, const store_outbox *o, char *reason, size_t rcap)
{
	store_share sh;
	store_provider p;
	int rc = share_and_provider(w, o, &sh, &p);
	if (rc != 0)
		return rc == TS_ENOTFOUND ? 0 : read_failed(rc, reason, rcap);
	json_t *body = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s}", "header", header(o), "eid", sh.eid,
	    "associatedAppId", sh.app_id, "shareId", sh.id, "finalProfileStatusIndicator", "Unavailable",
	    "movedTo", sh.assoc_app_id);
	json_t *r = NULL;
	char *txt = tree_text(body);
	rc = call_provider(w, &p, "cancelOrder", txt, &r, reason, rcap);
	free(txt);
	json_decref(r);
	if (rc == TS_EDENIED) {
		log_warn("provider %s refused to cancel the moved original %s: %s", p.name, sh.app_id, reason);
		return 0;
	}
	if (rc == 0)
		log_info("S16 move: provider %s told that original %s moved to %s", p.name, sh.app_id,
		    sh.assoc_app_id);
	return rc;
}

/* Bank-ID: the provider certifies the key the companion's SE generated. */
static int
do_certify(worker *w, const store_outbox *o, char *reason, size_t rcap)
{
	store_share sh;
	char hex[2 * 65 + 1];
	uint8_t point[65];
	size_t plen = 0;
	store_provider p;
	int rc = w->st->ops->share_get(w->st, o->share_id, &sh);
	if (rc == 0 && sh.state != SHARE_INSTALLED)
		return 0;
	if (rc == 0)
		rc = w->st->ops->share_get_app_key(w->st, sh.id, hex, sizeof(hex));
	if (rc == 0)
		rc = w->st->ops->provider_get(w->st, sh.provider, &p);
	if (rc != 0)
		return rc == TS_ENOTFOUND ? 0 : read_failed(rc, reason, rcap);
	if (ts_hex_decode(hex, point, sizeof(point), &plen) != 0 || plen != sizeof(point))
		return 0;
	json_t *body = json_pack("{s:o,s:s,s:s,s:s}", "header", header(o), "eid", sh.eid, "shareId", sh.id,
	    "associatedAppId", sh.assoc_app_id);
	ts_json_set_b64(body, "publicKey", point, sizeof(point));
	json_t *r = NULL;
	char *txt = tree_text(body);
	rc = call_provider(w, &p, "certifyKey", txt, &r, reason, rcap);
	free(txt);
	if (rc == TS_EDENIED) {
		share_certify_failed(&w->n->svc, w->st, sh.id, reason);
		return 0;
	}
	if (rc != 0)
		return rc;
	const char *cert = json_string_value(json_object_get(r, "certificate"));
	if (cert == NULL || cert[0] == '\0') {
		json_decref(r);
		share_certify_failed(&w->n->svc, w->st, sh.id, "provider answer lacks the certificate");
		return 0;
	}
	rc = share_key_certified(&w->n->svc, w->st, sh.id, cert);
	json_decref(r);
	return rc == TS_ESTATE ? 0 : rc;
}

/* Whether rows may be waiting out a backoff, which an answer from their
 * provider makes due at once (outbox_wake, one UPDATE per answered call,
 * with its write lock, or a statement to PostgreSQL). No: the workers'
 * last look at the next due row (worker_main) found no row pending at all,
 * and neither a look nor a retry since found or made one. Every row in
 * backoff got there by a retry (outbox_add's rows are due at once): one of
 * this process counts at once (process); one another node made, or one
 * from before a restart, counts from the first look that sees it pending
 * (a worker looks after each pass that claimed less than a full batch).
 * Until then an answer does not wake it and it waits out its backoff, as
 * without the wake. */
static int
rows_may_wait(node *n)
{
	return atomic_load(&n->ob_quiet) != atomic_load(&n->ob_later) + 1;
}

static void
process(worker *w, const store_outbox *o, int64_t now)
{
	char reason[512] = "";
	int rc;
	int wake = rows_may_wait(w->n);
	/* The transition that applies the answer closes the row in its own
	 * transaction (share_outbox_arm); only a call that moves no share
	 * (cancelOrder, a share no longer waiting) marks it here. */
	share_outbox_arm(o->id, o->share_id, now, wake);
	if (strcmp(o->kind, OUTBOX_CONFIRM_ORDER) == 0)
		rc = do_confirm(w, o, reason, sizeof(reason));
	else if (strcmp(o->kind, OUTBOX_CANCEL_ORDER) == 0)
		rc = do_cancel(w, o, reason, sizeof(reason));
	else if (strcmp(o->kind, OUTBOX_RELEASE_ORIGINAL) == 0)
		rc = do_release(w, o, reason, sizeof(reason));
	else if (strcmp(o->kind, OUTBOX_CERTIFY_KEY) == 0)
		rc = do_certify(w, o, reason, sizeof(reason));
	else if (strcmp(o->kind, OUTBOX_PROGRESS_POSTPONED) == 0)
		rc = do_progress(w, o, "postponed", reason, sizeof(reason));
	else if (strcmp(o->kind, OUTBOX_PROGRESS_TIMEOUT) == 0)
		rc = do_progress(w, o, "timeout", reason, sizeof(reason));
	else if (strcmp(o->kind, OUTBOX_PROGRESS_UNDEFINED) == 0)
		rc = do_progress(w, o, "undefinedReason", reason, sizeof(reason));
	else {
		log_error("outbox row %lld has unknown kind %s", (long long)o->id, o->kind);
		rc = 0;
	}
	int closed = share_outbox_disarm();
	if (rc == 0 || closed) {
		node_crash_point(w->n, "outbox.applied");
		if (!closed) {
			w->st->ops->outbox_done(w->st, o->id);
			/* The provider answers again: rows waiting out a backoff
			 * for it need not wait any longer. */
			if (rows_may_wait(w->n))
				w->st->ops->outbox_wake(w->st, o->share_id, now);
		}
		metrics_outbox(METRICS_OUTBOX_DONE);
		return;
	}
	if (o->attempts >= NODE_OUTBOX_MAX_ATTEMPTS) {
		log_error("giving up on %s for share %s after %d attempts: %s", o->kind, o->share_id,
		    o->attempts, reason);
		/* The provider may have granted it on one of the attempts whose
		 * answer never arrived: it is told to drop it (the failure
		 * closes the row; no wake: the provider did not answer). */
		closed = 0;
		if (strcmp(o->kind, OUTBOX_CONFIRM_ORDER) == 0) {
			share_outbox_arm(o->id, o->share_id, now, 0);
			share_fail(&w->n->svc, w->st, o->share_id, reason, 1);
			closed = share_outbox_disarm();
		}
		if (!closed)
			w->st->ops->outbox_done(w->st, o->id);
		metrics_outbox(METRICS_OUTBOX_GAVE_UP);
		return;
	}
	int64_t delay = outbox_backoff_s(o->attempts);
	log_warn("%s for share %s failed (attempt %d), retry in %llds: %s", o->kind, o->share_id, o->attempts,
	    (long long)delay, reason);
	w->st->ops->outbox_retry(w->st, o->id, now + delay, reason);
	atomic_fetch_add(&w->n->ob_later, 1); /* a row waits now: the next answer wakes it */
	metrics_outbox(METRICS_OUTBOX_RETRY);
}

static int
run_due(worker *w, int64_t now, size_t *got)
{
	store_outbox rows[OB_BATCH];
	*got = 0;
	int rc = w->st->ops->outbox_claim(w->st, now, OB_LEASE_S, rows, OB_BATCH, got);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < *got; i++)
		process(w, &rows[i], now);
	return 0;
}

int
outbox_run_due(struct node *n, store *st, outbox_call_fn call, void *arg, int64_t now, size_t *processed)
{
	worker w;
	memset(&w, 0, sizeof(w));
	w.n = n;
	w.st = st;
	w.call = call;
	w.call_arg = arg;
	return run_due(&w, now, processed);
}

static void *
worker_main(void *arg)
{
	worker *w = arg;
	node *n = w->n;
	for (;;) {
		pthread_mutex_lock(&n->ob_mu);
		int stop = n->stopping;
		unsigned gen = n->reload_gen;
		pthread_mutex_unlock(&n->ob_mu);
		if (stop)
			break;
		/* After a SIGHUP reload: new clients (provider CAs, our certificate). */
		if (gen != w->reload_gen) {
			for (size_t i = 0; i < OB_CLIENTS; i++) {
				ts_httpc_free(w->clients[i].c);
				w->clients[i].c = NULL;
			}
			w->reload_gen = gen;
		}
		size_t got = 0;
		if (run_due(w, ts_now(), &got) != 0)
			got = 0;
		/* A full batch may have left more due rows: claim again. Fewer
		 * means none was left when it claimed; a row added since kicked
		 * (ob_kicked) and the wait below returns at once. */
		if (got == OB_BATCH)
			continue;
		int64_t due = -1;
		unsigned long later = atomic_load(&n->ob_later);
		if (w->st->ops->outbox_next_due(w->st, ts_now(), &due) == 0 && due < 0)
			atomic_store(&n->ob_quiet, later + 1); /* nothing pending: none waits */
		else
			atomic_fetch_add(&n->ob_later, 1);
		/* Wake when kicked, at the next due row (due counts whole
		 * seconds: a row due now that no claim got is looked at again
		 * in 50 ms), or after the poll interval at most. */
		long wait_ms = n->outbox_poll_ms > 0 ? n->outbox_poll_ms : OUTBOX_POLL_MS;
		if (due == 0 && wait_ms > 50)
			wait_ms = 50;
		else if (due > 0 && due < wait_ms / 1000)
			wait_ms = (long)due * 1000;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&n->ob_mu);
		n->ob_idle++;
		while (!n->ob_kicked && !n->stopping)
			if (pthread_cond_timedwait(&n->ob_cv, &n->ob_mu, &ts) != 0)
				break;
		n->ob_idle--;
		n->ob_kicked = 0;
		pthread_mutex_unlock(&n->ob_mu);
	}
	for (size_t i = 0; i < OB_CLIENTS; i++)
		ts_httpc_free(w->clients[i].c);
	store_close(w->st);
	free(w);
	return NULL;
}

/* One waiting worker claims what the kick made due (waking all of them
 * made each run an empty claim); a busy one sees ob_kicked when it next
 * waits (it looks under ob_mu before it waits), so no worker is woken when
 * none is waiting. The signal comes after the unlock: a worker woken while
 * the kicker still held ob_mu went back to sleep on the mutex at once
 * (measured: 0.49 of 2.16 wake-ups per flow, bench c=1). A signal that
 * arrives after its worker already left the wait only wakes a waiter that
 * finds ob_kicked clear and waits on. */
void
outbox_kick(node *n)
{
	pthread_mutex_lock(&n->ob_mu);
	n->ob_kicked = 1;
	int idle = n->ob_idle > 0;
	pthread_mutex_unlock(&n->ob_mu);
	if (idle)
		pthread_cond_signal(&n->ob_cv);
}

/* Joins every started worker (they exit once stopping is set). */
static void
join_workers(node *n)
{
	pthread_mutex_lock(&n->ob_mu);
	n->stopping = 1;
	pthread_cond_broadcast(&n->ob_cv);
	pthread_mutex_unlock(&n->ob_mu);
	for (int i = 0; i < n->nworkers; i++)
		pthread_join(n->workers[i], NULL);
	n->nworkers = 0;
}

int
outbox_start(node *n)
{
	pthread_mutex_init(&n->ob_mu, NULL);
	pthread_cond_init(&n->ob_cv, NULL);
	n->stopping = 0;
	n->ob_idle = 0;
	int want = n->nworkers < 1 ? 1 : n->nworkers;
	if (want > (int)TS_ARRAY_LEN(n->workers))
		want = (int)TS_ARRAY_LEN(n->workers);
	/* n->nworkers counts the started threads from here on, so that a
	 * failure half-way joins exactly those (none keeps running on a node
	 * the caller is about to free). */
	n->nworkers = 0;
	int rc = n->st->ops->outbox_reset_leases(n->st);
	if (rc != 0)
		return rc;
	for (int i = 0; i < want; i++) {
		worker *w = calloc(1, sizeof(*w));
		if (w == NULL) {
			rc = TS_ENOMEM;
			goto fail;
		}
		w->n = n;
		w->call = n->outbox_call != NULL ? n->outbox_call : https_call;
		w->call_arg = n->outbox_call != NULL ? n->outbox_call_arg : w;
		/* SQLite: the event-loop thread's connection (store_opts.share_with) */
		store_opts so = { .wait_ms = STORE_WAIT_WORKER_MS, .secret_key = n->secret_key, .share_with = n->st };
		if (n->outbox_fail_at == i + 1)
			rc = TS_EDB; /* fault injection (tests) */
		else
			rc = store_open_opts(n->db_url, &so, &w->st);
		if (rc != 0) {
			free(w);
			goto fail;
		}
		if (pthread_create(&n->workers[i], NULL, worker_main, w) != 0) {
			store_close(w->st);
			free(w);
			rc = TS_ENOMEM;
			goto fail;
		}
		n->nworkers = i + 1;
	}
	return 0;
fail:
	log_error("cannot start outbox worker %d of %d (%s); stopping the %d started", n->nworkers + 1, want,
	    ts_strerror(rc), n->nworkers);
	join_workers(n);
	return rc;
}

void
outbox_stop(node *n)
{
	join_workers(n);
}
