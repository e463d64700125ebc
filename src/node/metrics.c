/*
 * metrics.c — counters, histograms and their Prometheus text exposition
 * (metrics.h). Format: https://prometheus.io/docs/instrumenting/exposition_formats/
 * (text 0.0.4): "# HELP name text", "# TYPE name type", then the samples of
 * that family only; histograms as name_bucket{le="..."} (cumulative, ending
 * with le="+Inf"), name_sum and name_count.
 *
 * Histogram sums are kept in integer microseconds so that every update is
 * one atomic add; they are printed in seconds.
 */
#include "node/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "lib/version.h"

/* Upper bounds in microseconds (seconds in the output). */
static const int64_t step_bounds[] = { 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000, 10000000, 30000000, 60000000, 300000000, 3600000000LL };
static const int64_t call_bounds[] = { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 15000000 };
#define HIST_MAX 16

struct hist {
	atomic_ullong bucket[HIST_MAX]; /* non-cumulative; cumulated when rendered */
	atomic_ullong count;
	atomic_ullong sum_us;
};

static void
hist_observe(struct hist *h, const int64_t *bounds, size_t nb, int64_t us)
{
	if (us < 0)
		us = 0;
	size_t i = 0;
	while (i < nb && us > bounds[i])
		i++;
	if (i < nb)
		atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_us, (unsigned long long)us);
}

enum { FN_CONFIRM, FN_CANCEL, FN_CERTIFY, FN_PROGRESS, FN_OTHER, FN_N };
static const char *const fn_names[FN_N] = { "confirmOrder", "cancelOrder", "certifyKey", "handleDownloadProgressInfo",
	"other" };
enum { CALL_EXECUTED, CALL_REFUSED, CALL_FAILED, CALL_N };
static const char *const call_names[CALL_N] = { "executed", "refused", "failed" };
static const char *const outbox_names[] = { "done", "retry", "gave_up" };

static struct {
	struct hist step[SHARE_NSTATES];
	atomic_ullong calls[FN_N][CALL_N];
	struct hist call_time[FN_N];
	atomic_ullong outbox[3];
	struct hist commit;
	atomic_ullong commit_failed;
	atomic_ullong reloads[2];
} M;

/* Start times of shares this process saw begin, for step latencies at
 * microsecond resolution: a direct-mapped table, bounded; a collision only
 * costs the precision of the share that lost its slot. */
#define START_SLOTS 4096
static struct {
	char id[40];
	int64_t t0;
} starts[START_SLOTS];
static pthread_mutex_t starts_mu = PTHREAD_MUTEX_INITIALIZER;

int64_t
metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t
slot_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % START_SLOTS;
}

void
metrics_share_step(const char *share_id, enum share_state to, int64_t created_at)
{
	if ((int)to < 0 || to >= SHARE_NSTATES || share_id == NULL)
		return;
	int64_t now = metrics_now_us();
	size_t s = slot_of(share_id);
	int64_t t0 = -1;
	int first = to == SHARE_REQUESTED || to == SHARE_EID_CONFIRMED;
	pthread_mutex_lock(&starts_mu);
	if (first && strcmp(starts[s].id, share_id) != 0) {
		(void)ts_snprintf(starts[s].id, sizeof(starts[s].id), "%s", share_id);
		starts[s].t0 = now;
	} else if (!first && strcmp(starts[s].id, share_id) == 0)
		t0 = starts[s].t0;
	pthread_mutex_unlock(&starts_mu);
	if (first)
		return;
	int64_t us;
	if (t0 >= 0)
		us = now - t0;
	else if (created_at > 0)
		us = (ts_now() - created_at) * 1000000;
	else
		return;
	hist_observe(&M.step[to], step_bounds, TS_ARRAY_LEN(step_bounds), us);
}

void
metrics_provider_call(const char *function, int rc, int64_t t0)
{
	int f = FN_OTHER;
	for (int i = 0; i < FN_OTHER; i++)
		if (function != NULL && strcmp(function, fn_names[i]) == 0)
			f = i;
	int r = rc == 0 ? CALL_EXECUTED : rc == TS_EDENIED ? CALL_REFUSED : CALL_FAILED;
	atomic_fetch_add(&M.calls[f][r], 1);
	hist_observe(&M.call_time[f], call_bounds, TS_ARRAY_LEN(call_bounds), metrics_now_us() - t0);
}

void
metrics_outbox(enum metrics_outbox_result r)
{
	if ((int)r >= 0 && (size_t)r < TS_ARRAY_LEN(outbox_names))
		atomic_fetch_add(&M.outbox[r], 1);
}

void
metrics_store_commit(int64_t t0, int rc)
{
	if (rc != 0)
		atomic_fetch_add(&M.commit_failed, 1);
	hist_observe(&M.commit, call_bounds, TS_ARRAY_LEN(call_bounds), metrics_now_us() - t0);
}

void
metrics_reload(int ok)
{
	atomic_fetch_add(&M.reloads[ok ? 0 : 1], 1);
}

void
metrics_escape_label(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return;
	for (const char *p = in; *p && o + 1 < cap; p++) {
		const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		if (rep != NULL) {
			if (o + 2 >= cap)
				break;
			out[o++] = rep[0];
			out[o++] = rep[1];
		} else
			out[o++] = *p;
	}
	out[o] = '\0';
}

void
metrics_escape_help(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return;
	for (const char *p = in; *p && o + 1 < cap; p++) {
		const char *rep = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : NULL;
		if (rep != NULL) {
			if (o + 2 >= cap)
				break;
			out[o++] = rep[0];
			out[o++] = rep[1];
		} else
			out[o++] = *p;
	}
	out[o] = '\0';
}

static void
family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	char h[512];
	metrics_escape_help(help, h, sizeof(h));
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, h, name, type);
}

/* Seconds from microseconds, exactly (no float rounding in the text). */
static void
add_seconds(struct evbuffer *out, unsigned long long us)
{
	evbuffer_add_printf(out, "%llu.%06llu", us / 1000000ULL, us % 1000000ULL);
}

/* An "le" bound: shortest decimal form of microseconds in seconds (0.01, 2.5, 60). */
static void
add_bound(struct evbuffer *out, int64_t us)
{
	char frac[8];
	(void)ts_snprintf(frac, sizeof(frac), "%06lld", (long long)(us % 1000000));
	size_t l = strlen(frac);
	while (l > 0 && frac[l - 1] == '0')
		frac[--l] = '\0';
	evbuffer_add_printf(out, "%lld%s%s", (long long)(us / 1000000), l ? "." : "", frac);
}

/* One histogram series; labels is "" or `name="value",` (escaped, with the
 * trailing comma). */
static void
hist_render(struct evbuffer *out, const char *name, const char *labels, struct hist *h,
    const int64_t *bounds, size_t nb)
{
	unsigned long long cum = 0;
	/* count first: a concurrent observe between bucket and count reads
	 * must not leave +Inf below the finite buckets. */
	unsigned long long count = atomic_load(&h->count);
	for (size_t i = 0; i < nb; i++) {
		cum += atomic_load(&h->bucket[i]);
		if (cum > count)
			cum = count;
		evbuffer_add_printf(out, "%s_bucket{%sle=\"", name, labels);
		add_bound(out, bounds[i]);
		evbuffer_add_printf(out, "\"} %llu\n", cum);
	}
	evbuffer_add_printf(out, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, count);
	size_t l = strlen(labels);
	char bare[128];
	(void)ts_snprintf(bare, sizeof(bare), "%.*s", (int)(l > 0 ? l - 1 : 0), labels);
	evbuffer_add_printf(out, "%s_sum%s%s%s ", name, l ? "{" : "", bare, l ? "}" : "");
	add_seconds(out, atomic_load(&h->sum_us));
	evbuffer_add_printf(out, "\n%s_count%s%s%s %llu\n", name, l ? "{" : "", bare, l ? "}" : "", count);
}

int
metrics_render(struct evbuffer *out, const metrics_snapshot *snap)
{
	char v[64], r[128];
	metrics_escape_label(ts_version(), v, sizeof(v));
	metrics_escape_label(ts_git_revision(), r, sizeof(r));
	family(out, "tapshare_build_info", "gauge", "Version and git revision of this tapshare-node (value 1).");
	evbuffer_add_printf(out, "tapshare_build_info{version=\"%s\",revision=\"%s\"} 1\n", v, r);

	if (snap->shares_ok) {
		family(out, "tapshare_shares", "gauge", "Shares in the store, by state.");
		for (int s = 0; s < SHARE_NSTATES; s++)
			evbuffer_add_printf(out, "tapshare_shares{state=\"%s\"} %zu\n", share_state_name(s),
			    snap->shares_by_state[s]);
	}

	family(out, "tapshare_share_step_seconds", "histogram",
	    "Time from a share's request (S11) to its entering each state: authorised = S13, "
	    "delivered = S14, installed = S15, revoked = S17.");
	for (int s = SHARE_AUTHORISED; s < SHARE_NSTATES; s++) {
		char lab[64];
		(void)ts_snprintf(lab, sizeof(lab), "state=\"%s\",", share_state_name(s));
		hist_render(out, "tapshare_share_step_seconds", lab, &M.step[s], step_bounds,
		    TS_ARRAY_LEN(step_bounds));
	}

	family(out, "tapshare_provider_calls_total", "counter",
	    "Calls to service providers (ES2+) by function and result; failed calls are retried.");
	for (int f = 0; f < FN_N; f++)
		for (int c = 0; c < CALL_N; c++)
			evbuffer_add_printf(out, "tapshare_provider_calls_total{function=\"%s\",result=\"%s\"} %llu\n",
			    fn_names[f], call_names[c], atomic_load(&M.calls[f][c]));
	family(out, "tapshare_provider_call_seconds", "histogram", "Duration of provider calls, by function.");
	for (int f = 0; f < FN_N; f++) {
		char lab[64];
		(void)ts_snprintf(lab, sizeof(lab), "function=\"%s\",", fn_names[f]);
		hist_render(out, "tapshare_provider_call_seconds", lab, &M.call_time[f], call_bounds,
		    TS_ARRAY_LEN(call_bounds));
	}

	family(out, "tapshare_outbox_rows_total", "counter",
	    "Outbox rows processed: done, retry (scheduled again with backoff), gave_up.");
	for (size_t i = 0; i < TS_ARRAY_LEN(outbox_names); i++)
		evbuffer_add_printf(out, "tapshare_outbox_rows_total{result=\"%s\"} %llu\n", outbox_names[i],
		    atomic_load(&M.outbox[i]));

	if (snap->outbox_ok) {
		family(out, "tapshare_outbox_depth", "gauge",
		    "Outbox rows (provider calls) not done yet: all, and those that already failed once and wait for a retry.");
		evbuffer_add_printf(out, "tapshare_outbox_depth{rows=\"pending\"} %lld\n", (long long)snap->outbox_pending);
		evbuffer_add_printf(out, "tapshare_outbox_depth{rows=\"retrying\"} %lld\n", (long long)snap->outbox_retrying);
	}

	family(out, "tapshare_event_streams", "gauge", "Open server-sent-event streams (primaries and companions).");
	evbuffer_add_printf(out, "tapshare_event_streams %zu\n", snap->event_streams);
	family(out, "tapshare_event_stream_reads_total", "counter",
	    "Event streams read back from the store after a wake-up (an event wakes only its own EID's or user's streams).");
	evbuffer_add_printf(out, "tapshare_event_stream_reads_total %llu\n", (unsigned long long)snap->stream_reads);
	family(out, "tapshare_event_stream_writes_total", "counter",
	    "Events and commands written to event streams.");
	evbuffer_add_printf(out, "tapshare_event_stream_writes_total %llu\n", (unsigned long long)snap->stream_events);
	family(out, "tapshare_event_stream_keepalives_total", "counter",
	    "Keepalive comments written to idle event streams (one per stream every 15 s without a write).");
	evbuffer_add_printf(out, "tapshare_event_stream_keepalives_total %llu\n",
	    (unsigned long long)snap->stream_keepalives);

	family(out, "tapshare_tls_handshakes_total", "counter", "TLS handshakes on the public listener, by result.");
	evbuffer_add_printf(out, "tapshare_tls_handshakes_total{result=\"ok\"} %llu\n",
	    (unsigned long long)snap->tls_ok);
	evbuffer_add_printf(out, "tapshare_tls_handshakes_total{result=\"failed\"} %llu\n",
	    (unsigned long long)snap->tls_failed);

	family(out, "tapshare_store_commit_seconds", "histogram", "Duration of share-service store transaction commits.");
	hist_render(out, "tapshare_store_commit_seconds", "", &M.commit, call_bounds, TS_ARRAY_LEN(call_bounds));
	family(out, "tapshare_store_commit_failures_total", "counter", "Store commits that failed.");
	evbuffer_add_printf(out, "tapshare_store_commit_failures_total %llu\n", atomic_load(&M.commit_failed));

	family(out, "tapshare_reloads_total", "counter", "SIGHUP configuration reloads, by result.");
	evbuffer_add_printf(out, "tapshare_reloads_total{result=\"ok\"} %llu\n", atomic_load(&M.reloads[0]));
	evbuffer_add_printf(out, "tapshare_reloads_total{result=\"refused\"} %llu\n", atomic_load(&M.reloads[1]));
	return 0;
}
