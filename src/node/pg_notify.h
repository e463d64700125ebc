/*
 * pg_notify.h — the payload of the nodes' PostgreSQL notifications (channel
 * "tapshare", sent by store_pg.c in the transaction that wrote the row,
 * read by pg_listen.c): "u:<user id>" (an event for a primary of that user)
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
