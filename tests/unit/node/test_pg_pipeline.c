/*
 * PostgreSQL only (issue 9): the store's round trips and commits
 * (store_pg.c). A share transition is two round trips: BEGIN with the
 * share's FOR UPDATE read, then every write nobody reads a result of, the
 * COMMIT and its wake-ups (the queued writes); a queued write that fails
 * makes the commit fail and nothing of the transaction is kept; the
 * outbox's own bookkeeping (claim, done) commits without waiting for its
 * WAL flush, while every other commit waits (here: for a synchronous
 * standby that does not exist). The sends are counted by wrapping send(2)
 * (libpq writes with it), as test_store.c counts SQLite's fdatasync. Runs
 * when TS_PG_URL names a database it may wipe
 * (tests/integration/test_store_pg.sh); skips otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/pg_notify.h"
#include "node/store.h"

#include "../pg_fixture.h"

#define EID "89049032123451234512345678901235"

#include "../pg_sends.h" /* send(2) as libpq calls it, counted */

#include <dlfcn.h>

/* BEGINs the store sends (store_pg.c sends it as text through
 * PQsendQueryParams; this definition in the program comes before libpq's,
 * which it calls on) */
static int begins, texts;
int PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
    const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat);
int
PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
    const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat)
{
	static int (*real)(PGconn *, const char *, int, const Oid *, const char *const *, const int *,
	    const int *, int);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "PQsendQueryParams");
	if (command != NULL && strncmp(command, "BEGIN", 5) == 0)
		begins++;
	/* a query sent as text, parsed and planned by the server at each call */
	if (command != NULL && strncmp(command, "SELECT", 6) == 0)
		texts++;
	return real(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}

/* psql-like helpers on a connection of the test's own (pg_fixture.h) */
#define raw pg_fixture_conn
#define raw_exec pg_fixture_run
#define raw_value pg_fixture_value
#define pause_ms pg_fixture_pause_ms
#define sync_standby pg_fixture_sync_standby

static int
setup(void **state)
{
	(void)state;
	return pg_fixture_wipe();
}

static store *
open_store(int wait_ms)
{
	store *s = NULL;
	store_opts o = { .wait_ms = wait_ms };
	assert_int_equal(store_open_opts(pg_url, &o, &s), 0);
	return s;
}

static void
put_share(store *s, const char *id)
{
	store_share sh = { .user_id = 4, .state = SHARE_AUTHORISED, .created_at = 1, .updated_at = 1 };
	snprintf(sh.id, sizeof(sh.id), "%s", id);
	snprintf(sh.eid, sizeof(sh.eid), "%s", EID);
	snprintf(sh.matching_id, sizeof(sh.matching_id), "m-%s", id);
	snprintf(sh.operation, sizeof(sh.operation), "share");
	assert_int_equal(s->ops->share_insert(s, &sh), 0);
}

/* A transition as share.c makes it (share_deliver / end_share / withdraw):
 * load FOR UPDATE, then writes whose results nobody reads, then commit.
 * *mid: the sends before the commit. */
static void
transition(store *s, const char *id, int *mid)
{
	store_tx tx = { .stage = 3, .created_at = 1 };
	snprintf(tx.id, sizeof(tx.id), "tx-%s", id);
	snprintf(tx.share_id, sizeof(tx.share_id), "%s", id);
	snprintf(tx.eid, sizeof(tx.eid), EID);
	uint8_t pub[65] = { 4 };
	store_share sh;
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->share_get(s, id, &sh), 0);
	sh.state = SHARE_DELIVERED;
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->smds_event_del(s, sh.id), 0);
	assert_int_equal(s->ops->cmd_done(s, sh.id, "download"), 0);
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(s->ops->companion_put(s, EID, pub), 0);
	assert_int_equal(s->ops->event_add(s, 4, sh.id, "share.delivered", "{}", NULL), 0);
	assert_int_equal(s->ops->cmd_add(s, EID, sh.id, "delete", "{}", NULL), 0);
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", sh.id, NULL), 0);
	assert_int_equal(s->ops->share_set_app_key(s, sh.id, "00ff"), 0);
	*mid = sends;
	assert_int_equal(s->ops->commit(s), 0);
}

/* Two round trips, whatever the number of writes; the writes are all
 * there afterwards. */
static void
test_transition_two_round_trips(void **state)
{
	(void)state;
	store *s = open_store(0), *o = open_store(0);
	int mid = 0;
	int64_t cmd = 0;
	put_share(s, "sh-0"); /* the first: every statement prepared */
	transition(s, "sh-0", &mid);
	put_share(s, "sh-1");
	assert_int_equal(s->ops->cmd_add(s, EID, "sh-1", "download", "{}", &cmd), 0);
	int before = sends;
	transition(s, "sh-1", &mid);
	assert_int_equal(mid - before, 1); /* BEGIN and the read; the writes queued */
	assert_int_equal(sends - before, 2); /* the writes and the COMMIT */
	/* all of it committed */
	uint8_t pub[65] = { 4 };
	store_share got;
	assert_int_equal(o->ops->share_get(o, "sh-1", &got), 0);
	assert_int_equal(got.state, SHARE_DELIVERED);
	store_tx gt;
	assert_int_equal(o->ops->tx_get(o, "tx-sh-1", &gt), 0);
	assert_int_equal(gt.stage, 3);
	uint8_t gp[65];
	assert_int_equal(o->ops->companion_pub(o, EID, gp), 0);
	assert_memory_equal(gp, pub, sizeof(pub));
	char hex[8];
	assert_int_equal(o->ops->share_get_app_key(o, "sh-1", hex, sizeof(hex)), 0);
	assert_string_equal(hex, "00ff");
	char v[32];
	raw_value("SELECT count(*) FROM companion_cmds WHERE share_id = 'sh-1' AND done = 0", v, sizeof(v));
	assert_string_equal(v, "1"); /* the download done, the delete pending */
	raw_value("SELECT count(*) FROM events WHERE share_id = 'sh-1'", v, sizeof(v));
	assert_string_equal(v, "1");
	raw_value("SELECT count(*) FROM outbox WHERE share_id = 'sh-1' AND kind = 'cancel_order'", v, sizeof(v));
	assert_string_equal(v, "1");
	/* an event outside a transaction: BEGIN, insert, COMMIT in one */
	before = sends;
	int64_t id = 0;
	assert_int_equal(s->ops->event_add(s, 4, "sh-1", "share.x", "{}", &id), 0);
	assert_true(id > 0);
	assert_int_equal(sends - before, 1);
	/* a share not read FOR UPDATE in the transaction: the update is
	 * counted (an unknown share is TS_ENOTFOUND, as before) */
	store_share sh = got;
	assert_int_equal(s->ops->begin(s), 0);
	snprintf(sh.id, sizeof(sh.id), "no-such-share");
	assert_int_equal(s->ops->share_update(s, &sh), TS_ENOTFOUND);
	s->ops->rollback(s);
	store_close(s);
	store_close(o);
}

/* A queued write that fails (here: it waits past lock_timeout for a row
 * another transaction holds) fails the commit, and nothing of its
 * transaction is kept, not even what ran before it; the handle works on. */
static void
test_queued_failure_fails_commit(void **state)
{
	(void)state;
	store *holder = open_store(0), *s = open_store(200), *o = open_store(0);
	uint8_t pub[65] = { 4 };
	assert_int_equal(holder->ops->companion_put(holder, EID, pub), 0);
	assert_int_equal(holder->ops->begin(holder), 0);
	assert_int_equal(holder->ops->companion_put(holder, EID, pub), 0);
	uint8_t gp[65];
	assert_int_equal(holder->ops->companion_pub(holder, EID, gp), 0); /* sends it: the row is locked */
	int64_t uid = 0;
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->user_add(s, "pipe-user", "h", &uid), 0);
	assert_int_equal(s->ops->companion_put(s, EID, pub), 0); /* queued */
	int rc = s->ops->commit(s);
	assert_true(rc == TS_ETIMEOUT || rc == TS_EDB);
	s->ops->rollback(s);
	holder->ops->rollback(holder);
	int64_t got = 0;
	assert_int_equal(o->ops->user_by_name(o, "pipe-user", &got), TS_ENOTFOUND);
	/* the same failure surfaces at the next statement that is sent */
	assert_int_equal(holder->ops->begin(holder), 0);
	assert_int_equal(holder->ops->companion_put(holder, EID, pub), 0);
	assert_int_equal(holder->ops->companion_pub(holder, EID, gp), 0);
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->companion_put(s, EID, pub), 0);
	rc = s->ops->user_by_name(s, "anyone", &got);
	assert_true(rc == TS_ETIMEOUT || rc == TS_EDB);
	assert_int_not_equal(s->ops->commit(s), 0);
	s->ops->rollback(s);
	holder->ops->rollback(holder);
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->user_add(s, "pipe-user", "h", &uid), 0);
	assert_int_equal(s->ops->companion_put(s, EID, pub), 0);
	assert_int_equal(s->ops->commit(s), 0);
	assert_int_equal(o->ops->user_by_name(o, "pipe-user", &got), 0);
	assert_int_equal(got, uid);
	store_close(holder);
	store_close(s);
	store_close(o);
}

static int
teardown_sync(void **state)
{
	(void)state;
	sync_standby("");
	return 0;
}

struct call {
	store *s;
	int what; /* 0 claim, 1 done, 2 a durable write, 3 another durable write */
	int64_t id;
	size_t n;
	pthread_mutex_t mu;
	int finished, rc;
};

static void *
call_main(void *arg)
{
	struct call *c = arg;
	store_outbox r[4];
	size_t n = 0;
	int64_t uid;
	int rc = c->what == 0 ? c->s->ops->outbox_claim(c->s, ts_now(), 60, r, 4, &n) :
	    c->what == 1      ? c->s->ops->outbox_done(c->s, c->id) :
	    c->what == 2      ? c->s->ops->user_add(c->s, "durable", "h", &uid) :
				c->s->ops->user_add(c->s, "durable-too", "h", &uid);
	pthread_mutex_lock(&c->mu);
	if (c->what == 0 && rc == 0 && n > 0)
		c->id = r[0].id;
	c->n = n;
	c->rc = rc;
	c->finished = 1;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int
finished(struct call *c)
{
	pthread_mutex_lock(&c->mu);
	int f = c->finished;
	pthread_mutex_unlock(&c->mu);
	return f;
}

/* Did the call finish within ms (polled)? */
static int
finishes_within(struct call *c, int ms)
{
	for (int t = 0; t < ms && !finished(c); t += 20)
		pause_ms(20);
	return finished(c);
}

/* While every durable commit waits (a synchronous standby that does not
 * exist), the outbox's claim and done marks still commit: they do not wait
 * for their WAL flush. */
static void
test_outbox_bookkeeping_relaxed(void **state)
{
	(void)state;
	store *s = open_store(0), *d = open_store(0);
	int64_t id = 0;
	assert_int_equal(s->ops->outbox_add(s, "confirm_order", "sh-r", &id), 0);
	sync_standby("nobody");
	struct call cl = { .s = s, .what = 0 }, dn = { .s = s, .what = 1 }, dw = { .s = d, .what = 2 };
	pthread_mutex_init(&cl.mu, NULL);
	pthread_mutex_init(&dn.mu, NULL);
	pthread_mutex_init(&dw.mu, NULL);
	pthread_t t1, t2, t3;
	/* the control: a durable write waits for the standby */
	assert_int_equal(pthread_create(&t3, NULL, call_main, &dw), 0);
	char v[64] = "";
	for (int i = 0; i < 400 && strcmp(v, "1") != 0; i++) {
		raw_value("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", v, sizeof(v));
		if (strcmp(v, "1") != 0)
			pause_ms(50);
	}
	assert_string_equal(v, "1");
	assert_false(finished(&dw));
	assert_int_equal(pthread_create(&t1, NULL, call_main, &cl), 0);
	if (!finishes_within(&cl, 20000)) {
		sync_standby(""); /* releases it, so that the thread ends */
		assert_int_equal(pthread_join(t1, NULL), 0);
		fail_msg("the outbox claim waited for the standby");
	}
	assert_int_equal(pthread_join(t1, NULL), 0);
	assert_int_equal(cl.rc, 0);
	assert_int_equal(cl.n, 1);
	assert_int_equal(cl.id, id);
	dn.id = id;
	assert_int_equal(pthread_create(&t2, NULL, call_main, &dn), 0);
	if (!finishes_within(&dn, 20000)) {
		sync_standby("");
		assert_int_equal(pthread_join(t2, NULL), 0);
		fail_msg("the outbox done mark waited for the standby");
	}
	assert_int_equal(pthread_join(t2, NULL), 0);
	assert_int_equal(dn.rc, 0);
	assert_false(finished(&dw)); /* still waiting */
	raw_value("SELECT done FROM outbox", v, sizeof(v));
	assert_string_equal(v, "1");
	/* the session's own setting is untouched: its next durable commit
	 * waits as well (set_config(..., true) ended with its transaction) */
	struct call dw2 = { .s = s, .what = 3 };
	pthread_mutex_init(&dw2.mu, NULL);
	pthread_t t4;
	assert_int_equal(pthread_create(&t4, NULL, call_main, &dw2), 0);
	for (int i = 0; i < 400 && strcmp(v, "2") != 0; i++) {
		raw_value("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", v, sizeof(v));
		if (strcmp(v, "2") != 0)
			pause_ms(50);
	}
	assert_string_equal(v, "2");
	assert_false(finished(&dw2));
	sync_standby("");
	assert_int_equal(pthread_join(t3, NULL), 0);
	assert_int_equal(dw.rc, 0);
	assert_int_equal(pthread_join(t4, NULL), 0);
	assert_int_equal(dw2.rc, 0);
	pthread_mutex_destroy(&dw2.mu);
	pthread_mutex_destroy(&cl.mu);
	pthread_mutex_destroy(&dn.mu);
	pthread_mutex_destroy(&dw.mu);
	/* inside a caller's transaction they join it */
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", "sh-r", &id), 0);
	assert_int_equal(s->ops->begin(s), 0);
	store_outbox r[2];
	size_t n = 0;
	assert_int_equal(s->ops->outbox_claim(s, ts_now(), 60, r, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->outbox_done(s, r[0].id), 0);
	s->ops->rollback(s);
	raw_value("SELECT count(*) FROM outbox WHERE done = 0 AND attempts = 0", v, sizeof(v));
	assert_string_equal(v, "1");
	store_close(s);
	store_close(d);
}

/* The outbox's bookkeeping is one implicit transaction (issue 9): no
 * BEGIN / COMMIT of its own, one round trip with its next-due read; a
 * failure at its commit (here a deferred constraint trigger that raises
 * then) is the call's failure and nothing of it is kept. */
static void
test_relaxed_implicit_transaction(void **state)
{
	(void)state;
	store *s = open_store(0);
	int64_t id = 0, due = 0, now = ts_now();
	assert_int_equal(s->ops->outbox_add(s, "confirm_order", "sh-i", &id), 0);
	store_outbox r[2];
	size_t n = 0;
	begins = 0;
	sends = 0;
	assert_int_equal(s->ops->outbox_claim(s, now, 60, r, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->outbox_next_due(s, now, &due), 0); /* read with it */
	assert_int_equal(due, 60);
	assert_int_equal(begins, 0);
	/* the prepares of the statement, of set_config and of the next-due
	 * read (once per connection), then the pipeline */
	assert_int_equal(sends, 4);
	/* prepared once: the next call is the pipeline alone, its set_config
	 * and next-due read named statements, not parsed again */
	sends = 0;
	texts = 0;
	assert_int_equal(s->ops->outbox_claim(s, now, 60, r + 1, 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sends, 1);
	assert_int_equal(begins, 0);
	assert_int_equal(texts, 0);
	pg_fixture_sql("CREATE FUNCTION ts_refuse() RETURNS trigger LANGUAGE plpgsql AS"
		 " $$BEGIN RAISE EXCEPTION 'refused at commit'; END$$");
	pg_fixture_sql("CREATE CONSTRAINT TRIGGER ts_at_commit AFTER UPDATE ON outbox DEFERRABLE INITIALLY DEFERRED"
		 " FOR EACH ROW EXECUTE FUNCTION ts_refuse()");
	assert_int_not_equal(s->ops->outbox_done(s, r[0].id), 0);
	char v[32] = "";
	raw_value("SELECT done FROM outbox", v, sizeof(v));
	assert_string_equal(v, "0");
	pg_fixture_sql("DROP TRIGGER ts_at_commit ON outbox");
	pg_fixture_sql("DROP FUNCTION ts_refuse()");
	/* the connection goes on */
	assert_int_equal(s->ops->outbox_done(s, r[0].id), 0);
	raw_value("SELECT done FROM outbox", v, sizeof(v));
	assert_string_equal(v, "1");
	store_close(s);
}

/* A commit's wake-ups (NOTIFY, when another node listens) go in the
 * commit's round trip as a prepared statement: the first commit prepares
 * it, later ones send no query text the server must parse and plan; every
 * payload arrives. */
static void
test_notify_prepared(void **state)
{
	(void)state;
	store *s = open_store(0);
	PGconn *l = raw();
	raw_exec(l, "LISTEN tapshare");
	store_pg_set_listeners(1);
	int64_t id = 0;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(s->ops->begin(s), 0);
		assert_int_equal(s->ops->event_add(s, 7 + round, "sh-n", "share.requested", "{}", &id), 0);
		texts = 0;
		assert_int_equal(s->ops->commit(s), 0);
		assert_int_equal(texts, 0);
	}
	int got[3] = { 0 };
	for (int tries = 0; tries < 200 && !(got[0] && got[1] && got[2]); tries++) {
		assert_int_equal(PQconsumeInput(l), 1);
		PGnotify *nf;
		while ((nf = PQnotifies(l)) != NULL) {
			int64_t uid = 0;
			char eid[33];
			if (strcmp(nf->relname, "tapshare") == 0 && pg_notify_parse(nf->extra, &uid, eid) == 0 &&
			    uid >= 7 && uid <= 9)
				got[uid - 7] = 1;
			PQfreemem(nf);
		}
		pause_ms(10);
	}
	assert_true(got[0] && got[1] && got[2]);
	store_pg_set_listeners(0);
	PQfinish(l);
	store_close(s);
}

int
main(void)
{
	if (pg_fixture_skip("test_pg_pipeline"))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_transition_two_round_trips, setup),
		cmocka_unit_test_setup(test_queued_failure_fails_commit, setup),
		cmocka_unit_test_setup_teardown(test_outbox_bookkeeping_relaxed, setup, teardown_sync),
		cmocka_unit_test_setup(test_relaxed_implicit_transaction, setup),
		cmocka_unit_test_setup(test_notify_prepared, setup),
	};
	return cmocka_run_group_tests_name("pg_pipeline", tests, NULL, NULL);
}
