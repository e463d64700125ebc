/*
 * PostgreSQL only (issue 9): the lock-free order of events and companion
 * commands (src/node/pg_notify.h, store_pg.c). Several connections — the
 * nodes — write one user's events and one EID's commands without a lock; a
 * stream reader paging by cursor must still get every committed row once, in
 * id order, whatever order the writers commit in, and a replay from any
 * Last-Event-ID must give exactly the rows after it. The wake-ups (NOTIFY
 * tapshare) go after the commit, once per key, never for a rolled-back
 * transaction, and outside the write transaction (the notification lock is
 * never held across a commit's wait for durability). Runs when TS_PG_URL names a database it may wipe
 * (tests/integration/test_store_pg.sh); skips otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/pg_notify.h"
#include "node/store.h"

#include "../pg_fixture.h"

#define EID "89049032123451234512345678901235"

static int holdbacks;
static int64_t held_id;

static void
on_holdback(void *arg, int64_t id)
{
	(void)arg;
	holdbacks++;
	held_id = id;
}

/* psql-like helpers on a connection of the test's own (pg_fixture.h) */
#define raw pg_fixture_conn
#define raw_exec pg_fixture_run
#define open_store pg_fixture_store
#define raw_value pg_fixture_value
#define sync_standby pg_fixture_sync_standby

static int
setup(void **state)
{
	(void)state;
	if (pg_fixture_wipe() != 0)
		return -1;
	holdbacks = 0;
	store_pg_on_holdback(on_holdback, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_pg_on_holdback(NULL, NULL);
	return 0;
}

static size_t
read_events(store *s, int64_t user, int64_t after, store_event *ev, size_t max)
{
	size_t n = 0;
	assert_int_equal(s->ops->events_after(s, user, NULL, after, ev, max, &n), 0);
	return n;
}

/* Two writers of one user; the one that started first commits last. The
 * reader sees nothing of the early commit while the older transaction runs
 * (held back, and says so), then both rows in id order: its cursor never
 * passes the late one. */
static void
test_late_commit_not_skipped(void **state)
{
	(void)state;
	store *a = open_store(), *b = open_store(), *r = open_store();
	int64_t user, ida, idb, last = -1;
	assert_int_equal(r->ops->user_add(r, "alice", "h", &user), 0);
	/* a gets its transaction id first (an earlier write), inserts last */
	assert_int_equal(a->ops->begin(a), 0);
	assert_int_equal(a->ops->user_add(a, "early", "h", &ida), 0);
	assert_int_equal(b->ops->begin(b), 0);
	assert_int_equal(b->ops->event_add(b, user, "sh-b", "share.b", "{}", &idb), 0);
	assert_int_equal(a->ops->event_add(a, user, "sh-a", "share.a", "{}", &ida), 0);
	assert_true(ida < idb);
	assert_int_equal(b->ops->commit(b), 0);

	store_event ev[8];
	int before = holdbacks;
	assert_int_equal(read_events(r, user, 0, ev, 8), 0);
	assert_true(holdbacks > before);
	assert_int_equal(held_id, idb); /* the row that waits */
	assert_int_equal(r->ops->events_last(r, user, &last), 0);
	assert_int_equal(last, 0); /* "from now" starts below both */
	/* one share's stream (store_pg.c reads it with a statement of its own)
	 * holds the early commit back the same way */
	size_t m = 9;
	before = holdbacks;
	held_id = 0;
	assert_int_equal(r->ops->events_after(r, user, "sh-b", 0, ev, 8, &m), 0);
	assert_int_equal(m, 0);
	assert_true(holdbacks > before);
	assert_int_equal(held_id, idb);

	assert_int_equal(a->ops->commit(a), 0);
	size_t n = read_events(r, user, last, ev, 8);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].id, ida);
	assert_string_equal(ev[0].type, "share.a");
	assert_int_equal(ev[1].id, idb);
	/* ... and then gives that share's row alone */
	assert_int_equal(r->ops->events_after(r, user, "sh-b", 0, ev, 8, &m), 0);
	assert_int_equal(m, 1);
	assert_int_equal(ev[0].id, idb);
	assert_string_equal(ev[0].type, "share.b");
	assert_string_equal(ev[0].share_id, "sh-b");
	assert_int_equal(r->ops->events_last(r, user, &last), 0);
	assert_int_equal(last, idb);
	/* a transaction's own rows keep its insert order */
	assert_int_equal(a->ops->begin(a), 0);
	int64_t x1, x2;
	assert_int_equal(a->ops->event_add(a, user, "sh-c", "share.c1", "{}", &x1), 0);
	assert_int_equal(a->ops->event_add(a, user, "sh-c", "share.c2", "{}", &x2), 0);
	assert_int_equal(a->ops->commit(a), 0);
	assert_true(idb < x1 && x1 < x2);
	n = read_events(r, user, idb, ev, 8);
	assert_int_equal(n, 2);
	assert_string_equal(ev[0].type, "share.c1");
	assert_string_equal(ev[1].type, "share.c2");
	store_close(a);
	store_close(b);
	store_close(r);
}

/* The same for an EID's commands: a stream read (outside a transaction)
 * holds the late one back; inside a transaction ("is a command pending?")
 * every committed row counts. */
static void
test_cmds_late_commit(void **state)
{
	(void)state;
	store *a = open_store(), *b = open_store(), *r = open_store();
	int64_t ida, idb, u;
	assert_int_equal(a->ops->begin(a), 0);
	assert_int_equal(a->ops->user_add(a, "early", "h", &u), 0);
	assert_int_equal(b->ops->cmd_add(b, EID, "sh-b", "download", "{}", &idb), 0); /* own transaction */
	assert_int_equal(a->ops->cmd_add(a, EID, "sh-a", "delete", "{}", &ida), 0);
	assert_true(ida < idb);
	store_cmd c[8];
	size_t n = 9;
	assert_int_equal(r->ops->cmds_pending(r, EID, 0, c, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(r->ops->begin(r), 0);
	assert_int_equal(r->ops->cmds_pending(r, EID, 0, c, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].id, idb);
	r->ops->rollback(r);
	assert_int_equal(a->ops->commit(a), 0);
	assert_int_equal(r->ops->cmds_pending(r, EID, 0, c, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].id, ida);
	assert_string_equal(c[0].share_id, "sh-a");
	assert_int_equal(c[1].id, idb);
	store_close(a);
	store_close(b);
	store_close(r);
}

/* Writers in two processes (two nodes), each WRITES transactions of EPT
 * events for one user with a pause inside, commit order random; the reader
 * pages by cursor while they run. Every event exactly once, ids rising,
 * and replays from 0 and from the middle give exactly the same rows. */
#define WRITERS 2
#define WRITES 60
#define EPT 2
static void
test_two_writers_one_user(void **state)
{
	(void)state;
	store *r = open_store();
	int64_t user;
	assert_int_equal(r->ops->user_add(r, "alice", "h", &user), 0);
	pid_t kids[WRITERS];
	for (int w = 0; w < WRITERS; w++) {
		kids[w] = fork();
		assert_true(kids[w] >= 0);
		if (kids[w] == 0) {
			store *s = NULL;
			if (store_open(pg_url, &s) != 0)
				_exit(2);
			srand((unsigned)getpid());
			for (int i = 0; i < WRITES; i++) {
				if (s->ops->begin(s) != 0)
					_exit(3);
				for (int e = 0; e < EPT; e++) {
					char data[32];
					snprintf(data, sizeof(data), "%d.%d.%d", w, i, e);
					int64_t id;
					if (s->ops->event_add(s, user, "sh", "share.x", data, &id) != 0)
						_exit(4);
					struct timespec ts = { 0, (rand() % 3000) * 1000L };
					nanosleep(&ts, NULL);
				}
				if (s->ops->commit(s) != 0)
					_exit(5);
			}
			store_close(s);
			_exit(0);
		}
	}
	enum { TOTAL = WRITERS * WRITES * EPT };
	static char seen[WRITERS][WRITES][EPT];
	static int64_t ids[TOTAL];
	memset(seen, 0, sizeof(seen));
	size_t got = 0;
	int64_t cursor = 0;
	store_event ev[16];
	int64_t deadline = ts_mono_ms() + 60000;
	while (got < TOTAL && ts_mono_ms() < deadline) {
		size_t n = read_events(r, user, cursor, ev, 16);
		for (size_t i = 0; i < n; i++) {
			int w, k, e;
			assert_int_equal(sscanf(ev[i].data, "%d.%d.%d", &w, &k, &e), 3);
			assert_true(w >= 0 && w < WRITERS && k >= 0 && k < WRITES && e >= 0 && e < EPT);
			assert_int_equal(seen[w][k][e], 0); /* no duplicate */
			seen[w][k][e] = 1;
			assert_true(ev[i].id > cursor); /* rising */
			cursor = ev[i].id;
			ids[got++] = ev[i].id;
		}
		if (n == 0) {
			struct timespec ts = { 0, 200 * 1000L };
			nanosleep(&ts, NULL);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int st = -1;
		assert_int_equal(waitpid(kids[w], &st, 0), kids[w]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	size_t n = read_events(r, user, cursor, ev, 16);
	assert_int_equal(n, 0);   /* nothing was passed over ... */
	assert_int_equal(got, TOTAL); /* ... and nothing is missing */
	/* replays: from 0, and from the middle (a Last-Event-ID) */
	int64_t from[2] = { 0, ids[TOTAL / 2 - 1] };
	size_t start[2] = { 0, TOTAL / 2 };
	for (int k = 0; k < 2; k++) {
		size_t at = start[k];
		int64_t c = from[k];
		for (;;) {
			n = read_events(r, user, c, ev, 16);
			if (n == 0)
				break;
			for (size_t i = 0; i < n; i++) {
				assert_true(at < TOTAL);
				assert_int_equal(ev[i].id, ids[at]);
				at++;
				c = ev[i].id;
			}
		}
		assert_int_equal(at, TOTAL);
	}
	store_close(r);
}

/* Returns the payloads received on c within ms, space-separated. */
static void
notifies(PGconn *c, int ms, char *out, size_t cap)
{
	out[0] = '\0';
	int64_t end = ts_mono_ms() + ms;
	while (ts_mono_ms() < end) {
		assert_int_equal(PQconsumeInput(c), 1);
		PGnotify *nt;
		while ((nt = PQnotifies(c)) != NULL) {
			size_t len = strlen(out);
			snprintf(out + len, cap - len, "%s%s", len ? " " : "", nt->extra);
			PQfreemem(nt);
		}
		struct timespec ts = { 0, 5 * 1000 * 1000L };
		nanosleep(&ts, NULL);
	}
}

/* The wake-ups: none before the commit or for a rollback, one per key after
 * it (two events of one user and a command: two notifications). */
static void
test_notify_after_commit(void **state)
{
	(void)state;
	store *s = open_store();
	PGconn *l = raw();
	raw_exec(l, "LISTEN tapshare");
	int64_t id;
	char got[512];
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->event_add(s, 7, "sh", "share.a", "{}", &id), 0);
	assert_int_equal(s->ops->event_add(s, 7, "sh", "share.b", "{}", &id), 0);
	assert_int_equal(s->ops->cmd_add(s, EID, "sh", "download", "{}", &id), 0);
	notifies(l, 100, got, sizeof(got));
	assert_string_equal(got, "");
	assert_int_equal(s->ops->commit(s), 0);
	notifies(l, 300, got, sizeof(got));
	assert_string_equal(got, "u:7 e:" EID);
	/* one slot per key: many events of one user leave room for the EID */
	assert_int_equal(s->ops->begin(s), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(s->ops->event_add(s, 7, "sh", "share.a", "{}", &id), 0);
	assert_int_equal(s->ops->cmd_add(s, EID, "sh", "download", "{}", &id), 0);
	assert_int_equal(s->ops->commit(s), 0);
	notifies(l, 300, got, sizeof(got));
	assert_string_equal(got, "u:7 e:" EID);
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->event_add(s, 8, "sh", "share.a", "{}", &id), 0);
	s->ops->rollback(s);
	assert_int_equal(s->ops->event_add(s, 9, "sh", "share.a", "{}", &id), 0); /* autocommit */
	notifies(l, 300, got, sizeof(got));
	assert_string_equal(got, "u:9");
	PQfinish(l);
	store_close(s);
}

static int
teardown_sync(void **state)
{
	sync_standby("");
	return teardown(state);
}

/* The wake-up is sent after COMMIT, outside the write transaction: while
 * the commit waits for its durability (here: for a synchronous standby
 * that does not exist, the commit record written, the row not yet visible)
 * no reader is woken for the row, and the global notification lock is not
 * held (a NOTIFY inside the transaction would hold it from before the
 * commit record to the end of the wait: every other notifying commit would
 * wait behind it). Once the commit ends the listener is woken and the row
 * is there. */
static void
test_notify_outside_commit_wait(void **state)
{
	(void)state;
	store *s0 = open_store(); /* migrated */
	store_close(s0);
	PGconn *l = raw();
	raw_exec(l, "LISTEN tapshare");
	int go[2], ready[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		store *s = NULL;
		int64_t id;
		char b = 0;
		if (store_open(pg_url, &s) != 0 || s->ops->begin(s) != 0 ||
		    s->ops->event_add(s, 7, "sh", "share.a", "{}", &id) != 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(3);
		_exit(s->ops->commit(s) == 0 ? 0 : 4);
	}
	char b = 0;
	assert_int_equal(read(ready[0], &b, 1), 1);
	sync_standby("nobody");
	assert_int_equal(write(go[1], "g", 1), 1);
	/* the child's COMMIT waits for the standby (bounded wait for it) */
	char v[64] = "";
	for (int i = 0; i < 400 && strcmp(v, "1") != 0; i++) {
		raw_value("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", v, sizeof(v));
		if (strcmp(v, "1") != 0) {
			struct timespec ts = { 0, 50 * 1000 * 1000L };
			nanosleep(&ts, NULL);
		}
	}
	assert_string_equal(v, "1");
	/* another notifying session is not held up by it */
	PGconn *p = raw();
	PGresult *r = PQexec(p, "SET synchronous_commit = local; SET lock_timeout = '10s'; NOTIFY tapshare, 'u:99'");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("a NOTIFY beside a commit waiting for durability: %s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(p);
	char got[512];
	notifies(l, 300, got, sizeof(got));
	assert_string_equal(got, "u:99"); /* not u:7: its row is not visible */
	raw_value("SELECT count(*) FROM events WHERE user_id = 7", v, sizeof(v));
	assert_string_equal(v, "0");
	sync_standby("");
	int st = -1;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	got[0] = '\0';
	for (int i = 0; i < 40 && got[0] == '\0'; i++)
		notifies(l, 500, got, sizeof(got));
	assert_string_equal(got, "u:7");
	raw_value("SELECT count(*) FROM events WHERE user_id = 7", v, sizeof(v));
	assert_string_equal(v, "1");
	PQfinish(l);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

/* A database whose ids lie above the new order keys (a bulk load with
 * large ids) is refused at open: a cursor could pass new rows. */
static void
test_old_ids_checked(void **state)
{
	(void)state;
	store *s = open_store();
	store_close(s);
	PGconn *c = raw();
	raw_exec(c, "INSERT INTO events(id, user_id, share_id, type, data, created_at)"
		    " VALUES(4000000000000000000, 1, 'x', 'x', '{}', 0)");
	assert_int_not_equal(store_open(pg_url, &s), 0);
	raw_exec(c, "DELETE FROM events");
	raw_exec(c, "INSERT INTO events(id, user_id, share_id, type, data, created_at) VALUES(-5, 1, 'x', 'x', '{}', 0)");
	assert_int_equal(store_open(pg_url, &s), 0);
	store_close(s);
	PQfinish(c);
}

int
main(void)
{
	if (pg_fixture_skip("test_pg_order"))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_late_commit_not_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmds_late_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_writers_one_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_ids_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_outside_commit_wait, setup, teardown_sync),
	};
	return cmocka_run_group_tests_name("pg_order", tests, NULL, NULL);
}
