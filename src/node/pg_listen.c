/*
 * pg_listen.c — cross-node wake-ups when several nodes share one PostgreSQL
 * database (issue 9). The store sends NOTIFY tapshare, payload "u:<user id>"
 * (an event for a primary) or "e:<eid>" (a command for a companion), in the
 * very transaction that wrote the row, so the notification is delivered at
 * its commit, to every node listening. Each node keeps one dedicated libpq
 * connection that LISTENs; its socket is watched by the event loop, and each
 * notification wakes the push streams of its user / EID (push.c), whichever
 * node made the change. A lost connection is re-opened every second and,
 * once back, every stream is woken (a notification may have been missed
 * meanwhile; the streams' cursors make a spurious wake harmless).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/pg_notify.h"

struct pg_listen {
	node *n;
	PGconn *conn;
	struct event *rd;    /* the connection's socket */
	struct event *retry; /* 1 s timer while disconnected */
	char url[sizeof(((node *)0)->db_url)];
};

static int
is_pg_url(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* The push hook for one user or EID. Until push.c indexes its streams
 * (engineer perf, issue 9 item 2) this is push_kick: every stream looks at
 * its own cursor. */
static void
wake(node *n, int64_t user_id, const char *eid)
{
	(void)user_id;
	(void)eid;
	push_kick(n);
}

static void drop(struct pg_listen *l);
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
	PGnotify *nt;
	/* bounded: only what this read brought in */
	for (int i = 0; i < 100000 && (nt = PQnotifies(l->conn)) != NULL; i++) {
		int64_t user_id;
		char eid[33];
		if (pg_notify_parse(nt->extra, &user_id, eid) == 0)
			wake(l->n, user_id, eid);
		else
			log_debug("postgresql NOTIFY %s: payload ignored", nt->relname);
		PQfreemem(nt);
	}
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

static void
drop(struct pg_listen *l)
{
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
	PGresult *r = PQexec(l->conn, "LISTEN tapshare");
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
	memcpy(l->url, n->db_url, sizeof(l->url));
	l->retry = evtimer_new(n->base, on_retry, l);
	if (l->retry == NULL) {
		free(l);
		return TS_ENOMEM;
	}
	n->pgl = l;
	/* the first connection must work: the database itself did a moment ago */
	if (connect_listen(l) != 0) {
		pg_listen_stop(n);
		log_error("cannot LISTEN for other nodes' changes on the PostgreSQL database");
		return TS_EDB;
	}
	log_info("listening for other nodes' changes (PostgreSQL LISTEN tapshare)");
	return 0;
}

void
pg_listen_stop(node *n)
{
	struct pg_listen *l = n->pgl;
	if (l == NULL)
		return;
	if (l->rd != NULL)
		event_free(l->rd);
	if (l->retry != NULL)
		event_free(l->retry);
	PQfinish(l->conn);
	memset(l->url, 0, sizeof(l->url));
	free(l);
	n->pgl = NULL;
}
