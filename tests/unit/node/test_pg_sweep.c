/*
 * PostgreSQL only (issue 9): pg_listen.c's fast sweep. A stream read that
 * finds a row of its key held back (committed, but an older transaction is
 * still running: pg_notify.h) must be followed by a sweep that wakes the
 * key's streams as soon as the row becomes readable — even when no
 * notification comes (the older transaction commits without one), well
 * before the idle sweep. The idle period is set to an hour
 * (TAPSHARE_PG_SWEEP_IDLE_MS), so only the fast sweep can deliver within the
 * test's wait; the waits are generous and bounded (no timing assertion).
 * The push hooks (push.c) are replaced by counters here. Runs when TS_PG_URL
 * names a database it may wipe (tests/integration/test_store_pg.sh); skips
 * otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/pg_notify.h"
#include "node/store.h"

#include "../pg_fixture.h"

#define EID "89049032123451234512345678901235"

static int wakes_user[16];
static int wakes_eid, kicks;

/* push.c's hooks, as pg_listen.c calls them (loop thread here) */
void
push_wake_user(node *n, int64_t user_id)
{
	(void)n;
	if (user_id >= 0 && user_id < 16)
		wakes_user[user_id]++;
}

/* the sweep's wake: the user's highest row it saw cross the horizon */
static int64_t upto_user[16];
void
push_wake_user_upto(node *n, int64_t user_id, int64_t upto)
{
	(void)n;
	if (user_id >= 0 && user_id < 16) {
		wakes_user[user_id]++;
		upto_user[user_id] = upto;
	}
}

void
push_wake_eid(node *n, const char *eid)
{
	(void)n;
	if (strcmp(eid, EID) == 0)
		wakes_eid++;
}

void
push_kick(node *n)
{
	(void)n;
	kicks++;
}

/* psql-like, and the store (pg_fixture.h) */
#define raw_exec pg_fixture_sql
#define open_store pg_fixture_store

static int
setup(void **state)
{
	(void)state;
	if (pg_fixture_wipe() != 0)
		return -1;
	memset(wakes_user, 0, sizeof(wakes_user));
	memset(upto_user, 0, sizeof(upto_user));
	wakes_eid = kicks = 0;
	return 0;
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop for ms, or until *counter exceeds above (if counter). */
static void
run_loop(node *n, int ms, const int *counter, int above)
{
	int64_t end = ts_mono_ms() + ms;
	struct event *t = evtimer_new(n->base, on_stop, n->base);
	assert_non_null(t);
	while (ts_mono_ms() < end && (counter == NULL || *counter <= above)) {
		struct timeval tv = { 0, 20 * 1000 };
		evtimer_add(t, &tv);
		event_base_loop(n->base, EVLOOP_ONCE);
	}
	event_free(t);
}

static node *
start_listen(void)
{
	node *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	assert_true(strlen(pg_url) < sizeof(n->db_url));
	memcpy(n->db_url, pg_url, strlen(pg_url) + 1);
	n->base = event_base_new();
	assert_non_null(n->base);
	assert_int_equal(pg_listen_start(n), 0);
	run_loop(n, 300, NULL, 0); /* the first sweep: the horizon */
	return n;
}

static void
stop_listen(node *n)
{
	pg_listen_stop(n);
	event_base_free(n->base);
	free(n);
}

/* The event of user 3 is committed while an older transaction runs: the
 * stream read holds it back. The older one then commits without any
 * notification; the fast sweep must wake user 3 (the idle sweep would take
 * an hour). */
static void
test_held_back_read_sweeps_fast(void **state)
{
	(void)state;
	store *w = open_store(), *old = open_store(), *r = open_store(), *other = open_store();
	node *n = start_listen();
	int64_t u, id;
	/* the older transaction: an id assigned, no event, no notification */
	assert_int_equal(old->ops->begin(old), 0);
	assert_int_equal(old->ops->user_add(old, "older", "h", &u), 0);
	/* the event (its NOTIFY comes from our own connection: ignored,
	 * share.c wakes those; the sweep cannot see it yet) */
	assert_int_equal(w->ops->event_add(w, 3, "sh", "share.x", "{}", &id), 0);
	run_loop(n, 300, NULL, 0);
	int after_notify = wakes_user[3];
	store_event ev[4];
	size_t got = 9;
	assert_int_equal(r->ops->events_after(r, 3, NULL, 0, ev, 4, &got), 0);
	assert_int_equal(got, 0); /* held back */
	/* the fast sweeps run while the older transaction lasts: nothing to wake */
	run_loop(n, 500, NULL, 0);
	assert_int_equal(wakes_user[3], after_notify);
	assert_int_equal(old->ops->commit(old), 0); /* no NOTIFY */
	run_loop(n, 20000, &wakes_user[3], after_notify);
	assert_true(wakes_user[3] > after_notify);
	assert_int_equal(upto_user[3], id); /* streams past it are not read again */
	assert_int_equal(r->ops->events_after(r, 3, NULL, 0, ev, 4, &got), 0);
	assert_int_equal(got, 1);
	assert_int_equal(ev[0].id, id);
	/* the same for a companion's command */
	assert_int_equal(old->ops->begin(old), 0);
	assert_int_equal(old->ops->user_add(old, "older2", "h", &u), 0);
	assert_int_equal(other->ops->cmd_add(other, EID, "sh", "download", "{}", &id), 0);
	store_cmd c[4];
	assert_int_equal(r->ops->cmds_pending(r, EID, 0, c, 4, &got), 0);
	assert_int_equal(got, 0);
	run_loop(n, 300, NULL, 0);
	int before = wakes_eid;
	assert_int_equal(old->ops->commit(old), 0);
	run_loop(n, 20000, &wakes_eid, before);
	assert_true(wakes_eid > before);
	assert_int_equal(kicks, 0);
	stop_listen(n);
	store_close(w);
	store_close(old);
	store_close(r);
	store_close(other);
}

/* A notification from another process's connection wakes its key; one sent
 * by this process's own store connection does not (share.c woke them). */
static void
test_own_notifications_ignored(void **state)
{
	(void)state;
	store *s = open_store();
	node *n = start_listen();
	int64_t id;
	assert_int_equal(s->ops->event_add(s, 5, "sh", "share.x", "{}", &id), 0);
	/* a notification of another process, sent after ours: once it is in,
	 * ours was drained before it (one channel, commit order) */
	raw_exec("NOTIFY tapshare, 'u:6'");
	run_loop(n, 20000, &wakes_user[6], 0);
	assert_int_equal(wakes_user[6], 1);
	assert_int_equal(wakes_user[5], 0);
	stop_listen(n);
	store_close(s);
}

/* Collects the payloads received on c into got (space-separated) until one
 * is marker (bounded: 20 s). */
static void
notifies_until(PGconn *c, const char *marker, char *got, size_t cap)
{
	got[0] = '\0';
	int64_t end = ts_mono_ms() + 20000;
	int seen = 0;
	while (!seen && ts_mono_ms() < end) {
		assert_int_equal(PQconsumeInput(c), 1);
		PGnotify *nt;
		while ((nt = PQnotifies(c)) != NULL) {
			size_t len = strlen(got);
			snprintf(got + len, cap - len, "%s%s", len ? " " : "", nt->extra);
			seen |= strcmp(nt->extra, marker) == 0;
			PQfreemem(nt);
		}
		struct timespec ts = { 0, 5 * 1000 * 1000L };
		nanosleep(&ts, NULL);
	}
	assert_true(seen);
}

/* Wake-ups only while another node listens (issue 9): with this node's
 * listener alone a commit sends none; once another node's listener
 * (PG_LISTEN_APP) is on the database, within the count's period they are
 * sent. An observer that LISTENs under another name is no node: it sees
 * which were sent, each before the marker another session sends after
 * the commit (one channel, commit order). */
static void
test_notify_only_with_peers(void **state)
{
	(void)state;
	store *s = open_store();
	node *n = start_listen(); /* it counted the others: none */
	PGconn *obs = PQconnectdb(pg_url), *peer = NULL;
	assert_int_equal(PQstatus(obs), CONNECTION_OK);
	PGresult *r = PQexec(obs, "LISTEN tapshare");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	int64_t id;
	char got[512];
	assert_int_equal(s->ops->event_add(s, 5, "sh", "share.x", "{}", &id), 0);
	raw_exec("NOTIFY tapshare, 'u:7'");
	notifies_until(obs, "u:7", got, sizeof(got));
	assert_string_equal(got, "u:7"); /* no u:5 before it */
	peer = PQconnectdb(pg_url);
	assert_int_equal(PQstatus(peer), CONNECTION_OK);
	r = PQexec(peer, "SET application_name = '" PG_LISTEN_APP "'; LISTEN tapshare");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	int sent = 0;
	for (int i = 0; i < 40 && !sent; i++) {
		run_loop(n, 300, NULL, 0); /* the count runs on the loop */
		assert_int_equal(s->ops->event_add(s, 5, "sh", "share.x", "{}", &id), 0);
		raw_exec("NOTIFY tapshare, 'u:7'");
		notifies_until(obs, "u:7", got, sizeof(got));
		sent = strstr(got, "u:5") != NULL;
	}
	assert_true(sent);
	PQfinish(peer);
	PQfinish(obs);
	stop_listen(n);
	store_close(s);
}

int
main(void)
{
	if (pg_fixture_skip("test_pg_sweep"))
		return 0;
	setenv("TAPSHARE_PG_SWEEP_IDLE_MS", "3600000", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_held_back_read_sweeps_fast, setup),
		cmocka_unit_test_setup(test_own_notifications_ignored, setup),
		cmocka_unit_test_setup(test_notify_only_with_peers, setup),
	};
	return cmocka_run_group_tests_name("pg_sweep", tests, NULL, NULL);
}
