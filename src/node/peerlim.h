/*
 * peerlim.h — a bounded count of events per key (a peer address) in fixed
 * windows: at most max events per key per window_s, the window starting at
 * the key's first event. Exact keys, no hashing into shared slots, so one
 * peer can never reset another's window. The table has a fixed size: when
 * every slot holds a live window a new key is refused (fail closed) until one
 * ends, rather than evicting someone's window.
 */
#ifndef TS_NODE_PEERLIM_H
#define TS_NODE_PEERLIM_H

#include <stdint.h>

#define PEERLIM_SLOTS 4096
#define PEERLIM_KEY_MAX 64

typedef struct peerlim peerlim;

/* TS_EINVAL for max < 1 or window_s < 1. Free with peerlim_free. */
int peerlim_new(int max, int64_t window_s, peerlim **out);
void peerlim_free(peerlim *pl); /* NULL ok */
/* Counts one event of key (copied; truncated to PEERLIM_KEY_MAX - 1) at
 * now: 0 allowed, TS_ELIMIT over the limit or the table full of live
 * windows. O(PEERLIM_SLOTS) per call. Not thread-safe (loop thread only). */
int peerlim_hit(peerlim *pl, const char *key, int64_t now);

#endif
