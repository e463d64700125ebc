/*
 * watch.c — the primary's view (issue 3, see watch.h): `tapshare watch`
 * follows GET /v1/events for all the user's shares and prints one line (or
 * one JSON object) per event; `tapshare shares` lists the shares with their
 * device, state and expiry.
 *
 * Starting "now" (without --all). A new stream without Last-Event-ID starts
 * "from now" on the node (issue 9); --all asks for the history with
 * ?after=0. An older node sent every stored event on such a stream, written
 * in one go when the stream opened, so watch still first reads
 * a stream until it has been quiet for WATCH_SCAN_QUIET_MS ("the scan"),
 * skipping what it reads — the history — and remembering the last event id;
 * it then follows from that id with Last-Event-ID, printing everything.
 * A live event that races with the scan (arrives within the scan) is still
 * printed if its share changed after watch started (updated_at > start,
 * watch_changed_after); only an event that does not change the share's
 * state (share.key_certified, share.certified, ...) and happens within the
 * first second or two can be missed. The other obvious design — skip every
 * event whose updated_at is older than the start — would wrongly skip those
 * events at any time, and print old ones from a node whose clock runs ahead.
 * Before the scan, one GET /v1/apps on the same connection checks that the
 * node answers and accepts the device certificate, so that the scan's quiet
 * period is not eaten by the TLS handshake.
 *
 * The stream uses its own ts_httpc (not nodeapi's) for its tick hook: the
 * hook ends a wait at once on --timeout or on SIGINT/SIGTERM (exit 0).
 */
#include "primary/watch.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/cmdline.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "primary/cli.h"
#include "primary/cmd.h"
#include "primary/nodeapi.h"

/* The stored history arrives in one burst right after the stream opens;
 * this much silence ends it. */
#define WATCH_SCAN_QUIET_MS 1500L
/* The scan ends after this long even if events keep coming (a busy user):
 * what it read later than the start is printed anyway (see above). */
#define WATCH_SCAN_MAX_MS 10000L
/* The node writes a keepalive comment every 15 s: a stream silent for longer
 * than two of them is dead (e.g. the node's host vanished) and is reopened. */
#define WATCH_IDLE_MS 40000L
#define WATCH_BACKOFF_MIN_MS 100L
#define WATCH_BACKOFF_MAX_MS 2000L
#define WATCH_URL_MAX 2300

/* ------------------------------------------------------------------------ */
/* Pure formatting (watch.h)                                                  */

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

static const struct {
	const char *event;
	const char *words;
} event_words[] = {
	{ "share.eid_confirmed", "requested, first confirmation" },
	{ "share.authorised", "authorised by the provider" },
	{ "share.denied", "denied by the provider" },
	{ "share.delivered", "delivered to the companion" },
	{ "share.installed", "installed, second confirmation" },
	{ "share.failed", "failed" },
	{ "share.cancel_pending", "cancelled: waiting for the companion to delete it" },
	{ "share.revoked", "revoked" },
	{ "share.expired", "expired: time limit reached" },
	{ "share.key_certified", "key certified by the provider" },
	{ "share.certify_failed", "key certification failed" },
	{ "share.certified", "certified: credential enabled in the companion" },
};

const char *
watch_event_words(const char *event)
{
	if (event == NULL)
		return "event";
	for (size_t i = 0; i < TS_ARRAY_LEN(event_words); i++)
		if (strcmp(event, event_words[i].event) == 0)
			return event_words[i].words;
	if (strncmp(event, "share.", 6) == 0 && event[6] != '\0')
		return event + 6;
	return event;
}

time_t
watch_event_time(const char *event, const json_t *data, time_t received)
{
	const json_t *u = json_object_get(data, "updated_at");
	const char *state = jstr(data, "state");
	if (event == NULL || strncmp(event, "share.", 6) != 0 || state[0] == '\0' ||
	    strcmp(event + 6, state) != 0 || !json_is_integer(u) || json_integer_value(u) <= 0)
		return received;
	return (time_t)json_integer_value(u);
}

int
watch_format_line(const char *event, const json_t *data, time_t when, char *line, size_t cap)
{
	char raw[WATCH_LINE_MAX * 2];
	char tbuf[40];
	char target[600];
	struct tm tm;
	if (line == NULL || cap == 0)
		return TS_EINVAL;
	if (localtime_r(&when, &tm) == NULL || strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)ts_snprintf(tbuf, sizeof(tbuf), "%lld", (long long)when);

	const char *id = jstr(data, "share_id");
	const char *app = jstr(data, "app_id");
	const char *assoc = jstr(data, "associated_app_id");
	const char *eid = jstr(data, "eid");
	(void)ts_snprintf(target, sizeof(target), "%s%s%s%s%s", app[0] ? app : "?",
	    assoc[0] ? " -> " : "", assoc, eid[0] ? " on " : "", eid);

	const char *words = watch_event_words(event);
	const char *msg = jstr(data, "message");
	if (msg[0] == '\0')
		msg = jstr(data, "reason");
	int with_msg = msg[0] != '\0' && strstr(words, msg) == NULL;
	int rc = ts_snprintf(raw, sizeof(raw), "%s  %-*.*s  %s  %s%s%s%s", tbuf, WATCH_SHORT_ID,
	    WATCH_SHORT_ID, id[0] ? id : "-", target, words, with_msg ? " (" : "", with_msg ? msg : "",
	    with_msg ? ")" : "");
	cli_sanitize(raw, line, cap);
	if (rc != 0 || strlen(raw) >= cap)
		return TS_ELIMIT;
	return 0;
}

json_t *
watch_event_json(const char *event, const char *id, const json_t *data, time_t when)
{
	long long num;
	json_t *jid;
	if (id == NULL || id[0] == '\0')
		jid = json_null();
	else if (ts_parse_ll(id, 0, LLONG_MAX, &num) == 0)
		jid = json_integer((json_int_t)num);
	else
		jid = json_null(); /* ids are numbers (docs/cli.md); the node sends no other */
	const char *msg = jstr(data, "message");
	if (msg[0] == '\0')
		msg = jstr(data, "reason");
	/* "o" steals jid; "O?" takes a new reference to data (null if NULL). */
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:O?}", "time", (json_int_t)when, "id", jid,
	    "event", event != NULL ? event : "message", "share_id", jstr(data, "share_id"), "text",
	    watch_event_words(event), "message", msg, "share", (json_t *)data);
}

int
watch_changed_after(const json_t *data, time_t start)
{
	const json_t *u = json_object_get(data, "updated_at");
	return json_is_integer(u) && json_integer_value(u) > (json_int_t)start;
}

/* ------------------------------------------------------------------------ */
/* tapshare watch                                                             */

static volatile sig_atomic_t watch_signal;

static void
on_signal(int sig)
{
	watch_signal = sig;
}

typedef struct watch_run {
	const cli_opts *o;
	time_t start;       /* wall clock when watch started */
	int scanning;       /* reading the stored history (skipped) */
	int64_t scan_end;   /* monotonic ms: the scan stops here at the latest */
	int64_t deadline;   /* monotonic ms of --timeout, 0 = none */
	char last_id[64];   /* Last-Event-ID for the next stream */
	long long last_num; /* highest numeric id seen, -1 = none */
	unsigned long seen; /* events read (printed or skipped) */
	int out_err;        /* stdout failed (closed pipe) */
} watch_run;

static int
should_stop(const watch_run *w)
{
	int64_t now = ts_mono_ms();
	return watch_signal != 0 || w->out_err || (w->deadline != 0 && now >= w->deadline) ||
	    (w->scanning && now >= w->scan_end);
}

static int
on_tick(void *arg)
{
	return should_stop(arg);
}

static void
print_event(watch_run *w, const char *event, const char *id, const json_t *data)
{
	time_t when = watch_event_time(event, data, (time_t)ts_now());
	if (w->o->json) {
		/* one NDJSON progress event per share event (docs/cli.md) */
		json_t *rec = watch_event_json(event, id, data, when);
		if (rec == NULL) {
			log_warn("event %s (%s) could not be shown: out of memory", id ? id : "?", event);
			return;
		}
		cmdline_event(rec);
		if (ferror(stdout))
			w->out_err = 1;
	} else {
		char line[WATCH_LINE_MAX];
		(void)watch_format_line(event, data, when, line, sizeof(line));
		if (printf("%s\n", line) < 0)
			w->out_err = 1;
	}
	if (fflush(stdout) != 0)
		w->out_err = 1;
}

static int
on_event(const char *event, const char *id, const char *data, void *arg)
{
	watch_run *w = arg;
	long long num = -1;
	if (id != NULL && id[0] != '\0') {
		/* A resumed stream starts after Last-Event-ID; should a node repeat
		 * one anyway, numeric ids at or below the last one were handled. */
		if (ts_parse_ll(id, 0, LLONG_MAX, &num) == 0 && num <= w->last_num)
			return should_stop(w);
		(void)ts_snprintf(w->last_id, sizeof(w->last_id), "%s", id);
		if (num > w->last_num)
			w->last_num = num;
	}
	w->seen++;
	json_error_t je;
	json_t *j = data != NULL ? json_loads(data, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (!w->scanning || w->o->all || watch_changed_after(j, w->start))
		print_event(w, event != NULL ? event : "message", id, j);
	json_decref(j);
	return should_stop(w);
}

static void
sleep_ms_until(const watch_run *w, long ms)
{
	/* In short steps, so that a signal or the deadline ends it at once. */
	int64_t end = ts_mono_ms() + ms;
	while (!should_stop(w) && ts_mono_ms() < end) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50L * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* The node answers and accepts this device: GET /v1/apps on the stream's
 * own connection (which curl then keeps for the stream). */
static int
check_node(ts_httpc *http, const char *base)
{
	char url[WATCH_URL_MAX], why[512] = "";
	long status = 0;
	json_t *r = NULL;
	int rc = ts_snprintf(url, sizeof(url), "%s/v1/apps", base);
	if (rc == 0)
		rc = ts_httpc_json(http, "GET", url, NULL, NULL, &status, &r, why, sizeof(why));
	json_decref(r);
	if (rc != 0) {
		cmd_error("cannot reach the node at %s (%s)", base, why[0] ? why : ts_strerror(rc));
		return rc;
	}
	if (status != 200) {
		cmd_error("the node refused this device (HTTP %ld); enroll it again", status);
		return nodeapi_status_err(status) != 0 ? nodeapi_status_err(status) : TS_EPROTO;
	}
	return 0;
}

/*
 * Reads streams until the scan is over (w->scanning) or, when following,
 * until a signal, the deadline or a refused stream. A broken or dead stream
 * is reopened after w->last_id. Returns 0 (stopped as asked, or scan done)
 * or the error of a refused/malformed stream (printed).
 */
static int
stream(watch_run *w, ts_httpc *http, const char *url)
{
	char why[512];
	long backoff = WATCH_BACKOFF_MIN_MS;
	int warned = 0;
	for (;;) {
		unsigned long before = w->seen;
		why[0] = '\0';
		int rc = ts_httpc_sse(http, url, NULL, w->last_id[0] ? w->last_id : NULL,
		    w->scanning ? WATCH_SCAN_QUIET_MS : WATCH_IDLE_MS, on_event, w, why, sizeof(why));
		if (should_stop(w))
			return 0;
		if (w->scanning && rc == TS_ETIMEOUT)
			return 0; /* quiet: the stored history is over */
		switch (rc) {
		case 0:           /* stopped by the callback without a reason: go on */
		case TS_ETIMEOUT: /* silent past the keepalives: dead, reopen */
		case TS_EIO:      /* the node closed the stream */
		case TS_ENET:     /* transport broke: the node may be restarting */
			if (!warned) {
				log_warn("event stream interrupted (%s); reconnecting%s%s",
				    why[0] ? why : ts_strerror(rc), w->last_id[0] ? " after event " : "",
				    w->last_id);
				warned = 1;
			}
			if (w->seen != before)
				backoff = WATCH_BACKOFF_MIN_MS;
			sleep_ms_until(w, backoff);
			if (backoff < WATCH_BACKOFF_MAX_MS)
				backoff *= 2;
			continue;
		default:
			cmd_error("cannot follow the node's events (%s)", why[0] ? why : ts_strerror(rc));
			return rc;
		}
	}
}

int
cmd_watch(const cli_opts *o)
{
	primary_ctx *c = NULL;
	ts_httpc *http = NULL;
	char home[PATH_MAX], ca[PATH_MAX + 16], crt[PATH_MAX + 16], key[PATH_MAX + 16];
	char base[WATCH_URL_MAX], url[WATCH_URL_MAX];
	struct sigaction sa, old_int, old_term;
	int ex = 1, handlers = 0;
	watch_run w = { .o = o, .last_num = -1 };

	w.start = (time_t)ts_now();
	if (o->timeout_set)
		w.deadline = ts_mono_ms() + (int64_t)o->timeout_s * 1000;
	/* cmd_ctx_open checks the enrollment and reports what is missing. */
	if (cmd_ctx_open(o, NULL, &c) != 0)
		goto out;
	const char *node_url = cmd_ctx_conf(c, "node", "url");
	if (cli_home_dir(o->home, getenv("TAPSHARE_HOME"), getenv("HOME"), home, sizeof(home)) != 0 ||
	    ts_snprintf(ca, sizeof(ca), "%s/ca.crt", home) != 0 ||
	    ts_snprintf(crt, sizeof(crt), "%s/device.crt", home) != 0 ||
	    ts_snprintf(key, sizeof(key), "%s/device.key", home) != 0 || node_url == NULL ||
	    ts_snprintf(base, sizeof(base), "%s", node_url) != 0) {
		cmd_error("home directory path or node URL too long");
		goto out;
	}
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		base[--blen] = '\0';
	if ((o->share_id != NULL &&
	        ts_snprintf(url, sizeof(url), "%s/v1/events?share=%s", base, o->share_id) != 0) ||
	    (o->share_id == NULL && ts_snprintf(url, sizeof(url), "%s/v1/events%s", base,
	        o->all ? "?after=0" : "") != 0)) {
		cmd_error("node URL too long");
		goto out;
	}
	ts_httpc_opts ho = { .ca_file = ca, .cert_file = crt, .key_file = key, .timeout_ms = 30000 };
	if (ts_httpc_new(&ho, &http) != 0) {
		cmd_error("cannot set up the node client");
		goto out;
	}

	/* No SA_RESTART: a signal cuts waits short; the tick hook (about once a
	 * second inside the stream) and the callbacks see the flag. */
	watch_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, &old_int) != 0 || sigaction(SIGTERM, &sa, &old_term) != 0) {
		cmd_error("cannot install signal handlers");
		goto out;
	}
	handlers = 1;
	ts_httpc_set_tick(http, on_tick, &w);

	if (check_node(http, base) != 0)
		goto out;
	if (!o->all) {
		w.scanning = 1;
		w.scan_end = ts_mono_ms() + WATCH_SCAN_MAX_MS;
		if (stream(&w, http, url) != 0)
			goto out;
		log_debug("watch: skipped the stored history up to event %s",
		    w.last_id[0] ? w.last_id : "(none)");
		w.scanning = 0;
	}
	if (!should_stop(&w) && stream(&w, http, url) != 0)
		goto out;
	if (w.out_err) {
		cmd_error("cannot write to stdout");
		goto out;
	}
	ex = 0; /* --timeout reached, or stopped by SIGINT/SIGTERM */
out:
	if (handlers) {
		(void)sigaction(SIGINT, &old_int, NULL);
		(void)sigaction(SIGTERM, &old_term, NULL);
	}
	ts_httpc_free(http);
	cmd_ctx_free(c);
	return ex;
}

/* ------------------------------------------------------------------------ */
/* tapshare shares                                                            */

int
cmd_shares_view(const cli_opts *o)
{
	primary_ctx *c = NULL;
	json_t *resp = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	int ex = 1, rc;
	if (doc == NULL || cmd_ctx_open(o, doc, &c) != 0)
		goto out;
	if (cmd_login(o, c, doc) != 0)
		goto out;
	/* GET /v1/shares: every share of the user, whichever device made it. */
	if ((rc = nodeapi_shares(cmd_ctx_api(c), &resp, &e)) != 0) {
		cmd_node_failed(doc, "cannot list the shares", rc, &e);
		goto out;
	}
	json_t *shares = json_object_get(resp, "shares");
	if (o->json && o->active) {
		json_t *act = cli_shares_active(shares);
		if (act == NULL || json_object_set_new(resp, "shares", act) != 0) {
			cmd_error("out of memory");
			goto out;
		}
	} else if (!o->json) {
		cli_print_shares_view(stdout, shares, o->active);
	}
	json_decref(doc);
	doc = json_incref(resp);
	ex = 0;
out:
	if (o->json)
		cmd_print_json(doc);
	json_decref(doc);
	json_decref(resp);
	cmd_ctx_free(c);
	return ex;
}
