/*
 * pg_notify.h — the payload of the nodes' PostgreSQL notifications (channel
 * "tapshare", sent by store_pg.c right after the COMMIT of the transaction
 * that wrote the row, read by pg_listen.c): "u:<user id>" (an event for a primary of that user)
 * or "e:<eid>" (a command for that companion). Header-only so that the fuzz
 * target needs nothing but lib/.
 */
#ifndef TS_NODE_PG_NOTIFY_H
#define TS_NODE_PG_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/ts_err.h"
#include "lib/util.h"

#define PG_NOTIFY_PAYLOAD_MAX 80

/*
 * The order key of events and companion commands (their id) on PostgreSQL,
 * lock-free across nodes (issue 9): a row's id is
 *     xid * PG_ORD_PER_XID + k
 * where xid is the top-level transaction id of the transaction that
 * inserted it (pg_current_xact_id(), 64-bit, never reused) and k = 1, 2, ...
 * counts the rows that transaction inserted. A reader pages by cursor
 * (id > after) and only returns rows below the horizon
 *     pg_snapshot_xmin(pg_current_snapshot()) * PG_ORD_PER_XID,
 * the ids of transactions that had all ended when its statement's snapshot
 * was taken (xmin: the oldest transaction still running). Any row that
 * becomes visible later belongs to a transaction at or past that xmin, so
 * its id is above everything returned: a cursor never skips a row that
 * commits late, whatever order the nodes commit in, and no writer waits for
 * another. A row above the horizon is "held back" until the older
 * transactions end; the reader tells pg_listen.c (store_pg_on_holdback), whose
 * sweep wakes its streams once it is below. Ids of schema <= 10 rows (a
 * BIGSERIAL) are far below any new one; store_pg_open checks it.
 */
#define PG_ORD_PER_XID 65536
#define PG_ORD_PER_XID_SQL "65536"
#define PG_ORD_HORIZON_SQL "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint * " PG_ORD_PER_XID_SQL ")"

/* store_pg.c: fn(arg, id) is called (any thread) when a stream read found a
 * row of its key held back above the horizon, id the first such row's; NULL
 * turns it off. */
void store_pg_on_holdback(void (*fn)(void *, int64_t), void *arg);

/* store_pg.c: 1 when pid is the server process of one of this process's
 * own store connections (any thread). pg_listen.c drops the notifications
 * they sent: share.c already woke this node's streams of those keys right
 * after the commit (its wake_pending), so a second wake would only re-read
 * the store for rows already delivered (issue 9: one stream read per event,
 * not two). */
int store_pg_own_backend(int pid);

/* store_pg.c: n other nodes' LISTEN connections are on the database
 * (pg_listen.c counts them, application_name PG_LISTEN_APP); 0 means no
 * commit of this process sends a wake-up (only this node's streams could
 * want it, and share.c woke those), -1 (unknown, the default) that every
 * commit does. */
void store_pg_set_listeners(int n);
#define PG_LISTEN_APP "tapshare-listen"

/* Parses payload p (NUL-terminated, read at most PG_NOTIFY_PAYLOAD_MAX + 1
 * bytes). 0 and *user_id >= 0 (eid "") for "u:", or *user_id = -1 and the
 * 32-digit eid for "e:"; TS_EPARSE for anything else. */
static inline int
pg_notify_parse(const char *p, int64_t *user_id, char eid[33])
{
	size_t len = strnlen(p, PG_NOTIFY_PAYLOAD_MAX + 1);
	*user_id = -1;
	eid[0] = '\0';
	if (len < 3 || len > PG_NOTIFY_PAYLOAD_MAX || p[1] != ':')
		return TS_EPARSE;
	if (p[0] == 'u') {
		long long v;
		if (p[2] < '0' || p[2] > '9' || ts_parse_ll(p + 2, 0, INT64_MAX, &v) != 0)
			return TS_EPARSE;
		*user_id = (int64_t)v;
		return 0;
	}
	if (p[0] == 'e' && len - 2 == 32) {
		for (size_t i = 2; i < len; i++)
			if (p[i] < '0' || p[i] > '9')
				return TS_EPARSE;
		memcpy(eid, p + 2, 33);
		return 0;
	}
	return TS_EPARSE;
}

#endif
