/*
 * watch.h — the primary's view (issue 3): `tapshare watch` follows every
 * event of the user's shares, made from any of the user's devices
 * (GET /v1/events, docs/protocol.md §2), one line per event; `tapshare
 * shares` (cmd_shares_view, also in watch.c) lists them with state, expiry
 * and device.
 *
 * The functions here are pure (no network, no terminal) and unit-tested in
 * tests/unit/primary/test_watch.c; the stream loop lives in watch.c.
 * data arguments are an event's share object (docs/protocol.md §2: share
 * fields plus "message"), borrowed, may be NULL.
 */
#ifndef TS_PRIMARY_WATCH_H
#define TS_PRIMARY_WATCH_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#define WATCH_SHORT_ID 8    /* share ids are shown by their first 8 characters */
#define WATCH_LINE_MAX 1024 /* a line longer than this is cut */

/* The event in words: "revoked", "expired: time limit reached", ... For an
 * event this version does not know, its name without "share." (so a node
 * that adds events is still shown). event NULL: "event". Static or borrowed
 * from event. */
const char *watch_event_words(const char *event);

/* When the event happened, as far as the event says: the share's
 * updated_at when the event is the one that put the share in its current
 * state (share.X with state X), else received (events such as
 * share.key_certified leave updated_at at the last state change). */
time_t watch_event_time(const char *event, const json_t *data, time_t received);

/* One text line (no newline), in local time:
 *   "2025-11-25 09:00:04  3f2a9c1b  sim-alice -> sim-alice-w1 on 8904...1235  expired:
 *    time limit reached (time limit reached: grant expired)"
 * i.e. time, share id (first 8), app -> associated app (omitted while the
 * provider has not named one) on EID, the words, and the node's message
 * in parentheses (its "message", else "reason"; left out when empty or
 * already part of the words). Control characters become '?'. Returns 0, or
 * TS_ELIMIT if the line was cut to cap-1 bytes, TS_EINVAL if line is NULL
 * or cap 0. */
int watch_format_line(const char *event, const json_t *data, time_t when, char *line,
    size_t cap);

/* The --json (NDJSON) record of one event, a new object (caller decrefs;
 * NULL when out of memory): {"time": when (unix s), "id": the event id (a
 * number when numeric, else the string; null when none), "event",
 * "share_id", "text": the words, "message", "share": data (null if none)}. */
json_t *watch_event_json(const char *event, const char *id, const json_t *data, time_t when);

/* Start "now" without a node call: an event from the stored history that a
 * new stream sends first is still shown when its share changed after watch
 * started — 1 if data's updated_at > start (strictly later second), else 0. */
int watch_changed_after(const json_t *data, time_t start);

#endif
