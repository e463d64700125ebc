/*
 * pg_listen.c — cross-node wake-ups when several nodes share one PostgreSQL
 * database (issue 9). The store sends NOTIFY tapshare, payload "u:<user id>"
 * (an event for a primary) or "e:<eid>" (a command for a companion) right
 * after the commit of the transaction that wrote the row, to every node
 * listening. Each node keeps one dedicated libpq
 * connection that LISTENs; its socket is watched by the event loop, and each
 * notification wakes the push streams of its user / EID (push.c), whichever
 * node made the change — except those this process's own store connections
 * sent (store_pg_own_backend): share.c woke those streams right after the
 * commit. A lost connection is re-opened every second and,
 * once back, every stream is woken (a notification may have been missed
 * meanwhile; the streams' cursors make a spurious wake harmless).
 *
 * The sweep (on the same connection) heals what a NOTIFY cannot: a node that
 * died between its COMMIT and its NOTIFY, and a stream read that found rows
 * of its key held back above the order horizon (pg_notify.h: committed, but
 * an older transaction was still running). Each sweep reads the keys of the
 * events and pending commands whose ids crossed the horizon since the last
 * sweep and wakes their streams; every committed row crosses it exactly
 * once, so every row's streams are woken at least once after it became
 * readable. It runs every PG_SWEEP_IDLE_MS; after a held-back read at the
 * next notification (another commit: perhaps of the transaction the read
 * waited for) or PG_SWEEP_FIRST_MS later, whichever comes first, and so on
 * (the delay doubling up to PG_SWEEP_MAX_MS) until the horizon has passed
 * the highest held-back row reported. TAPSHARE_PG_SWEEP_IDLE_MS (tests only:
 * tests/unit/node/test_pg_sweep.c) lengthens the idle period so that only the
 * fast sweep can deliver within a test's wait.
 *
 * Wake-ups only when someone else listens (issue 9): the connection names
 * itself PG_LISTEN_APP and counts, every PG_PEERS_MS, the other nodes'
 * listening connections on the database (pg_stat_activity); with none the
 * store sends no NOTIFY (store_pg_set_listeners): its only listener would
 * be this node, which drops its own. A node that starts listening is
 * counted within PG_PEERS_MS; what the others did not notify meanwhile its
 * sweep wakes (every row crosses its horizon after its first sweep).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/pg_notify.h"

#define PG_SWEEP_IDLE_MS 1000
#define PG_SWEEP_FIRST_MS 2
#define PG_SWEEP_MAX_MS 64
/* keys read per sweep (of each kind); more wake every stream */
#define PG_SWEEP_KEYS 4096
#define PG_SWEEP_KEYS_SQL "4096"
/* how often the other nodes' listeners are counted */
#define PG_PEERS_MS 1000

struct pg_listen {
	node *n;
	PGconn *conn;
	struct event *rd;    /* the connection's socket */
	struct event *retry; /* 1 s timer while disconnected */
	struct event *sweep; /* the sweep's timer */
	struct event *held;  /* activated (any thread) by store_pg_on_holdback */
	struct event *peers; /* PG_PEERS_MS: counts the other nodes' listeners */
	atomic_int held_flag;
	atomic_llong held_max; /* the highest held-back id reported (0: none) */
	int64_t horizon;     /* the last sweep's (-1: none yet) */
	int delay_ms;        /* of the next fast sweep (0: idle period) */
	int idle_ms;         /* the idle period: PG_SWEEP_IDLE_MS */
	int held_pending;    /* a held-back read not yet followed by a sweep */
	int explained;       /* TAPSHARE_STORE_EXPLAIN: the sweep's plan written */
	unsigned long own_skipped; /* notifications of our own commits, not woken */
	char url[sizeof(((node *)0)->db_url)];
};

static int
is_pg_url(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* The push hook for one user or EID: only that key's streams are read
 * again (push.c indexes them; any thread). */
static void
wake(node *n, int64_t user_id, const char *eid)
{
	if (eid != NULL && eid[0] != '\0')
		push_wake_eid(n, eid);
	else
		push_wake_user(n, user_id);
}

static void drop(struct pg_listen *l);
static void drain(struct pg_listen *l);
static int connect_listen(struct pg_listen *l);

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pg_listen *l = arg;
	if (PQconsumeInput(l->conn) == 0) {
		log_warn("postgresql LISTEN connection lost: %s", PQerrorMessage(l->conn));
		drop(l);
		return;
	}
	drain(l);
}

static void
arm_sweep(struct pg_listen *l, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (l->sweep != NULL)
		evtimer_add(l->sweep, &tv);
}

/* Wakes the streams of the notifications libpq has read (bounded: only
 * what is already in). */
static void
drain(struct pg_listen *l)
{
	PGnotify *nt;
	for (int i = 0; i < 100000 && (nt = PQnotifies(l->conn)) != NULL; i++) {
		int64_t user_id;
		char eid[33];
		if (store_pg_own_backend(nt->be_pid))
			l->own_skipped++; /* our commit: share.c woke them already */
		else if (pg_notify_parse(nt->extra, &user_id, eid) == 0)
			wake(l->n, user_id, eid);
		else
			log_debug("postgresql NOTIFY %s: payload ignored", nt->relname);
		PQfreemem(nt);
		/* another commit: the transaction a held-back read waited for
		 * may be the one that just ended, so sweep now */
		if (l->held_pending) {
			l->held_pending = 0;
			arm_sweep(l, 0);
		}
	}
}

/* TAPSHARE_STORE_EXPLAIN=FILE (tests): the sweep's plan, once, in the
 * store's format ("-- SQL", then the plan lines; test_pg_plans.sh fails on
 * any table scan). */
static void
explain(struct pg_listen *l, const char *sql, const char *param)
{
	l->explained = 1;
	const char *path = store_test_hook("TAPSHARE_STORE_EXPLAIN");
	FILE *f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;
	if (f == NULL)
		return;
	size_t len = strlen(sql) + 9;
	char *text = malloc(len);
	if (text != NULL) {
		snprintf(text, len, "EXPLAIN %s", sql);
		const char *vals[1] = { param };
		PGresult *r = PQexecParams(l->conn, text, 1, NULL, vals, NULL, NULL, 0);
		fprintf(f, "-- %s\n", sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			for (int k = 0; k < PQntuples(r); k++)
				fprintf(f, "%s\n", PQgetvalue(r, k, 0));
		else
			fprintf(f, "EXPLAIN FAILED: %s", PQresultErrorMessage(r));
		PQclear(r);
		free(text);
	}
	fclose(f);
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pg_listen *l = arg;
	int fast = atomic_exchange(&l->held_flag, 0);
	l->held_pending = 0;
	if (l->conn == NULL)
		return; /* on_retry kicks every stream once reconnected */
	/* keys whose rows crossed the horizon since the last sweep, a user's
	 * with the highest such id ("<user>:<id>": its streams whose cursor is
	 * there already got them all, most often on their NOTIFY, and are not
	 * read again); the "h" row is the new horizon */
	static const char sql[] =
	    "WITH h AS (SELECT " PG_ORD_HORIZON_SQL " AS h)"
	    " SELECT 'h', h::text FROM h"
	    " UNION ALL (SELECT 'u', user_id::text || ':' || max(id)::text FROM events, h WHERE $1::bigint >= 0"
	    "  AND id >= $1::bigint AND id < h.h GROUP BY user_id LIMIT " PG_SWEEP_KEYS_SQL ")"
	    " UNION ALL (SELECT DISTINCT 'e', eid FROM companion_cmds, h WHERE $1::bigint >= 0"
	    "  AND id >= $1::bigint AND id < h.h AND done = 0 LIMIT " PG_SWEEP_KEYS_SQL ")";
	char from[24];
	snprintf(from, sizeof(from), "%lld", (long long)l->horizon);
	const char *vals[1] = { from };
	if (l->horizon >= 0 && !l->explained)
		explain(l, sql, vals[0]);
	PGresult *r = PQexecParams(l->conn, sql, 1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_warn("postgresql sweep: %s", PQresultErrorMessage(r));
		push_kick(l->n);
	} else {
		int nk = 0;
		for (int i = 0; i < PQntuples(r); i++) {
			const char *k = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
			long long h;
			if (k[0] == 'h' && ts_parse_ll(v, 0, INT64_MAX, &h) == 0) {
				l->horizon = h;
			} else if (k[0] == 'u') {
				const char *colon = strchr(v, ':');
				char uid[24];
				long long u, upto;
				nk++;
				if (colon != NULL && (size_t)(colon - v) < sizeof(uid)) {
					memcpy(uid, v, (size_t)(colon - v));
					uid[colon - v] = '\0';
					if (ts_parse_ll(uid, 0, INT64_MAX, &u) == 0 &&
					    ts_parse_ll(colon + 1, 1, INT64_MAX, &upto) == 0)
						push_wake_user_upto(l->n, (int64_t)u, (int64_t)upto);
				}
			} else if (k[0] == 'e') {
				char payload[PG_NOTIFY_PAYLOAD_MAX + 1];
				int64_t user_id;
				char eid[33];
				nk++;
				snprintf(payload, sizeof(payload), "%c:%s", k[0], v);
				if (pg_notify_parse(payload, &user_id, eid) == 0)
					wake(l->n, user_id, eid);
			}
		}
		if (nk >= PG_SWEEP_KEYS)
			push_kick(l->n);
	}
	PQclear(r);
	if (PQstatus(l->conn) != CONNECTION_OK) {
		log_warn("postgresql LISTEN connection lost: %s", PQerrorMessage(l->conn));
		drop(l);
		return;
	}
	drain(l);
	/* Until the horizon passes the highest held-back row reported: again at
	 * the next notification or after a delay doubling up to
	 * PG_SWEEP_MAX_MS; then the idle period (not after every sweep that woke
	 * someone: under load every sweep does, and the NOTIFYs woke them). */
	long long held = atomic_load(&l->held_max);
	if (held > 0 && held < l->horizon) {
		/* passed: this sweep woke them; a report racing in is >= this */
		long long expect = held;
		atomic_compare_exchange_strong(&l->held_max, &expect, 0);
		held = atomic_load(&l->held_max);
	}
	if (held > 0 && held >= l->horizon) {
		l->delay_ms = fast || l->delay_ms == 0 ? PG_SWEEP_FIRST_MS :
		    l->delay_ms * 2 > PG_SWEEP_MAX_MS ? PG_SWEEP_MAX_MS : l->delay_ms * 2;
		l->held_pending = 1;
	} else {
		l->delay_ms = 0;
	}
	arm_sweep(l, l->delay_ms > 0 ? l->delay_ms : l->idle_ms);
}

/* store_pg.c's hook (any thread): a stream read found rows held back. */
static void
on_holdback(void *arg, int64_t id)
{
	struct pg_listen *l = arg;
	long long cur = atomic_load(&l->held_max);
	while (id > cur && !atomic_compare_exchange_weak(&l->held_max, &cur, id))
		;
	if (atomic_exchange(&l->held_flag, 1) == 0)
		event_active(l->held, EV_READ, 0);
}

static void
on_held(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pg_listen *l = arg;
	l->delay_ms = PG_SWEEP_FIRST_MS;
	l->held_pending = 1;
	arm_sweep(l, PG_SWEEP_FIRST_MS);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pg_listen *l = arg;
	if (connect_listen(l) == 0) {
		log_info("postgresql LISTEN connection re-established");
		push_kick(l->n); /* whatever was missed meanwhile */
	}
}

/* The other nodes' listening connections (this process has one): the
 * store sends its wake-ups only when there is one. Unknown (-1) when the
 * count fails. */
static void
count_peers(struct pg_listen *l)
{
	if (l->conn == NULL)
		return;
	PGresult *r = PQexec(l->conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" PG_LISTEN_APP
					"' AND datname = current_database() AND pid <> pg_backend_pid()");
	long long n = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    ts_parse_ll(PQgetvalue(r, 0, 0), 0, INT32_MAX, &n) != 0) {
		log_warn("postgresql: cannot count the other nodes' listeners: %s", PQresultErrorMessage(r));
		n = -1;
	}
	PQclear(r);
	store_pg_set_listeners((int)n);
	struct timeval tv = { PG_PEERS_MS / 1000, (PG_PEERS_MS % 1000) * 1000 };
	if (l->peers != NULL)
		evtimer_add(l->peers, &tv);
	if (PQstatus(l->conn) != CONNECTION_OK) {
		log_warn("postgresql LISTEN connection lost: %s", PQerrorMessage(l->conn));
		drop(l);
		return;
	}
	drain(l); /* what came in with the answer */
}

static void
on_peers(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	count_peers(arg);
}

static void
drop(struct pg_listen *l)
{
	store_pg_set_listeners(-1); /* unknown: every commit notifies */
	if (l->rd != NULL) {
		event_free(l->rd);
		l->rd = NULL;
	}
	PQfinish(l->conn);
	l->conn = NULL;
	struct timeval sec = { 1, 0 };
	if (l->retry != NULL)
		evtimer_add(l->retry, &sec);
}

static int
connect_listen(struct pg_listen *l)
{
	l->conn = PQconnectdb(l->url);
	if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK) {
		log_warn("postgresql LISTEN: cannot connect: %s", l->conn ? PQerrorMessage(l->conn) : "out of memory");
		drop(l);
		return TS_EDB;
	}
	PGresult *r = PQexec(l->conn, "SET application_name = '" PG_LISTEN_APP "'; LISTEN tapshare");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		log_warn("postgresql LISTEN: %s", PQresultErrorMessage(r));
	PQclear(r);
	int fd = PQsocket(l->conn);
	if (!ok || fd < 0 || PQsetnonblocking(l->conn, 1) != 0 ||
	    (l->rd = event_new(l->n->base, fd, EV_READ | EV_PERSIST, on_readable, l)) == NULL ||
	    event_add(l->rd, NULL) != 0) {
		drop(l);
		return TS_EDB;
	}
	/* the first sweep only reads the horizon (what came before is woken
	 * by the caller: nothing at start, every stream after a reconnect) */
	l->horizon = -1;
	l->delay_ms = 0;
	arm_sweep(l, 0);
	count_peers(l);
	return 0;
}

int
pg_listen_start(node *n)
{
	n->pgl = NULL;
	if (!is_pg_url(n->db_url))
		return 0;
	struct pg_listen *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return TS_ENOMEM;
	l->n = n;
	l->idle_ms = PG_SWEEP_IDLE_MS;
	long long idle;
	const char *env = store_test_hook("TAPSHARE_PG_SWEEP_IDLE_MS");
	if (env != NULL && ts_parse_ll(env, 10, 3600000, &idle) == 0)
		l->idle_ms = (int)idle;
	memcpy(l->url, n->db_url, sizeof(l->url));
	l->retry = evtimer_new(n->base, on_retry, l);
	l->sweep = evtimer_new(n->base, on_sweep, l);
	l->held = event_new(n->base, -1, 0, on_held, l);
	l->peers = evtimer_new(n->base, on_peers, l);
	n->pgl = l;
	if (l->retry == NULL || l->sweep == NULL || l->held == NULL || l->peers == NULL) {
		pg_listen_stop(n);
		return TS_ENOMEM;
	}
	/* the first connection must work: the database itself did a moment ago */
	if (connect_listen(l) != 0) {
		pg_listen_stop(n);
		log_error("cannot LISTEN for other nodes' changes on the PostgreSQL database");
		return TS_EDB;
	}
	store_pg_on_holdback(on_holdback, l);
	log_info("listening for other nodes' changes (PostgreSQL LISTEN tapshare)");
	return 0;
}

void
pg_listen_stop(node *n)
{
	struct pg_listen *l = n->pgl;
	if (l == NULL)
		return;
	store_pg_on_holdback(NULL, NULL);
	store_pg_set_listeners(-1);
	if (l->rd != NULL)
		event_free(l->rd);
	if (l->peers != NULL)
		event_free(l->peers);
	if (l->retry != NULL)
		event_free(l->retry);
	if (l->sweep != NULL)
		event_free(l->sweep);
	if (l->held != NULL)
		event_free(l->held);
	PQfinish(l->conn);
	memset(l->url, 0, sizeof(l->url));
	free(l);
	n->pgl = NULL;
}
