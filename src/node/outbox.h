/*
 * outbox.h — the outbox's parts that tests drive directly: the backoff, the
 * classification of a provider's answer, and one pass over the due rows with
 * a provider transport of the caller's choice (the node's workers use HTTPS).
 */
#ifndef TS_NODE_OUTBOX_H
#define TS_NODE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "node/store.h"

struct node;

#define OUTBOX_BACKOFF_MAX_S 60
/* A waiting worker looks for due rows at least this often (ms) without a
 * kick: rows another process wrote (the operator's CLI, another node on
 * PostgreSQL, a node that crashed before its workers claimed them) are
 * kicked by no one here. */
#define OUTBOX_POLL_MS 1000

/* Seconds before the next try after `attempts` failed attempts (1, 2, 4, 8,
 * 16, 32, then OUTBOX_BACKOFF_MAX_S). */
int64_t outbox_backoff_s(int attempts);

/* One provider call (ES2+ function name, the body's JSON text borrowed;
 * NULL: sent without a body). 0: executed, *resp set (caller decrefs);
 * TS_EDENIED: refused, final; TS_ENET: retry later with the same
 * functionCallIdentifier. reason is set on failure. */
typedef int (*outbox_call_fn)(void *arg, const store_provider *p, const char *function, const char *body,
    json_t **resp, char *reason, size_t rcap);

/* Classifies a provider's answer: transport_rc != 0 (unreachable) and HTTP
 * 5xx are TS_ENET (retried, never a denial); a well-formed refusal is
 * TS_EDENIED; Executed-Success with 200 is 0 (*resp takes r). Takes r. */
int outbox_classify(int transport_rc, const char *transport_err, const char *provider, long status, json_t *r,
    json_t **resp, char *reason, size_t rcap);

/* Claims the rows due at `now` on st and performs them with call. */
int outbox_run_due(struct node *n, store *st, outbox_call_fn call, void *arg, int64_t now, size_t *processed);

#endif
