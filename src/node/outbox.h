/*
 * outbox.h — the outbox's pure parts, for tests.
 */
#ifndef TS_NODE_OUTBOX_H
#define TS_NODE_OUTBOX_H

#include <stdint.h>

#define OUTBOX_BACKOFF_MAX_S 60

/* Seconds before the next try after `attempts` failed attempts (1, 2, 4, 8,
 * 16, 32, then OUTBOX_BACKOFF_MAX_S). */
int64_t outbox_backoff_s(int attempts);

#endif
