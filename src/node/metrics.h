/*
 * metrics.h — the node's Prometheus metrics: process-wide counters and
 * histograms (C11 atomics: the event loop and the outbox workers update
 * them), rendered in the Prometheus text exposition format 0.0.4 by
 * admin_http.c. Each hook is one call at the place the thing happens.
 */
#ifndef TS_NODE_METRICS_H
#define TS_NODE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "node/share_state.h"

/* Monotonic microseconds, for the *_t0 arguments below. */
int64_t metrics_now_us(void);

/* share.c move(): a share entered state to. The step latency is measured
 * from the share's first state (S11/S12) when this process saw it, else
 * from created_at (whole seconds). */
void metrics_share_step(const char *share_id, enum share_state to, int64_t created_at);
/* outbox.c: one provider call (function "confirmOrder", "cancelOrder",
 * "certifyKey") with its outcome rc (0 executed, TS_EDENIED refused, else
 * failed: retried) and its start time. */
void metrics_provider_call(const char *function, int rc, int64_t t0);
/* outbox.c: an outbox row done, retried later, or given up. */
enum metrics_outbox_result { METRICS_OUTBOX_DONE, METRICS_OUTBOX_RETRY, METRICS_OUTBOX_GAVE_UP };
void metrics_outbox(enum metrics_outbox_result r);
/* share.c finish(): one store transaction commit that started at t0. */
void metrics_store_commit(int64_t t0, int rc);
/* conf.c: a SIGHUP reload, accepted (ok = 1) or refused. */
void metrics_reload(int ok);

/* Values known only at scrape time (read on the event-loop thread). */
typedef struct metrics_snapshot {
	size_t shares_by_state[SHARE_NSTATES];
	int shares_ok;            /* 0: the store could not be read */
	size_t event_streams;     /* open SSE streams (primaries + companions) */
	uint64_t stream_reads;    /* streams read back from the store after a wake-up (push.c) */
	uint64_t stream_events;   /* events and commands written to streams */
	uint64_t stream_keepalives; /* keepalive comments written to idle streams (push.c) */
	int outbox_ok;            /* 0: the store could not be read */
	int64_t outbox_pending, outbox_retrying;
	uint64_t tls_ok, tls_failed;
} metrics_snapshot;

/* Appends the whole exposition to out. */
int metrics_render(struct evbuffer *out, const metrics_snapshot *snap);

/* Label value / HELP text escaping of the exposition format (tested):
 * label values escape backslash, double quote and newline; HELP text
 * backslash and newline. Writes at most cap - 1 bytes and a NUL. */
void metrics_escape_label(const char *in, char *out, size_t cap);
void metrics_escape_help(const char *in, char *out, size_t cap);

#endif
