/*
 * Unit tests for the node's store and passphrase hashing: exact codes (the
 * share service's transitions are tests/unit/node/test_share.c). The store groups run against the
 * SQLite backend, then against PostgreSQL when TS_PG_URL names a database
 * (libpq URI) that the tests may wipe (tests/integration/test_store_pg.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/store.h"

/* SHA-256 of "31415926", hex */
#define CC_HASH "31cc9650f3dd1bca7fdcd1f40a4cd1a77f7a82f0d333be132fec3502ec9d1515"

#include "../tmpdir_fixture.h"

/* pg_url: set while the PostgreSQL group runs (main) */
#include "../pg_fixture.h"

static int
setup(void **state)
{
	(void)state;
	if (tmpdir_setup("/tmp/ts-store-XXXXXX") != 0)
		return -1;
	if (pg_url != NULL)
		return pg_fixture_wipe();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_teardown();
}

static store *
open_store(void)
{
	store *s = NULL;
	assert_int_equal(store_open(pg_url ? pg_url : dbpath, &s), 0);
	return s;
}

static void
test_users_codes_tokens(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t alice, bob, uid;
	assert_int_equal(s->ops->user_add(s, "alice", "h1", &alice), 0);
	assert_int_equal(s->ops->user_add(s, "alice", "h2", &uid), TS_EEXIST);
	assert_int_equal(s->ops->user_add(s, "bob", "h3", &bob), 0);
	assert_int_not_equal(alice, bob);
	char name[32], hash[32];
	assert_int_equal(s->ops->user_get(s, alice, name, sizeof(name), hash, sizeof(hash)), 0);
	assert_string_equal(name, "alice");
	assert_string_equal(hash, "h1");
	assert_int_equal(s->ops->user_get(s, 999, name, sizeof(name), NULL, 0), TS_ENOTFOUND);

	/* enrollment codes: once, before expiry */
	assert_int_equal(s->ops->enroll_code_add(s, "c1", alice, ts_now() + 60), 0);
	assert_int_equal(s->ops->enroll_code_add(s, "c2", bob, ts_now() - 1), 0);
	assert_int_equal(s->ops->enroll_code_use(s, "c1", ts_now(), &uid), 0);
	assert_int_equal(uid, alice);
	assert_int_equal(s->ops->enroll_code_use(s, "c1", ts_now(), &uid), TS_ESTATE);
	assert_int_equal(s->ops->enroll_code_use(s, "c2", ts_now(), &uid), TS_EEXPIRED);
	assert_int_equal(s->ops->enroll_code_use(s, "nope", ts_now(), &uid), TS_ENOTFOUND);

	/* tokens are bound to a device and expire */
	assert_int_equal(s->ops->device_add(s, "dev-a", alice, "phone"), 0);
	assert_int_equal(s->ops->device_add(s, "dev-a", bob, "phone"), TS_EEXIST);
	assert_int_equal(s->ops->token_add(s, "t1", "dev-a", alice, ts_now() + 60), 0);
	assert_int_equal(s->ops->token_check(s, "t1", "dev-a", ts_now(), &uid), 0);
	assert_int_equal(uid, alice);
	assert_int_equal(s->ops->token_check(s, "t1", "dev-b", ts_now(), &uid), TS_EAUTH);
	assert_int_equal(s->ops->token_check(s, "t1", "dev-a", ts_now() + 61, &uid), TS_EAUTH);
	store_close(s);

	/* reopening runs no migration twice and keeps the data */
	s = open_store();
	assert_int_equal(s->ops->user_by_name(s, "bob", &uid), 0);
	assert_int_equal(uid, bob);
	store_close(s);
}

static void
test_outbox_claims_are_exclusive(void **state)
{
	(void)state;
	store *a = open_store(), *b = open_store();
	for (int i = 0; i < 5; i++) {
		char sid[16];
		snprintf(sid, sizeof(sid), "share-%d", i);
		assert_int_equal(a->ops->outbox_add(a, "confirm_order", sid, NULL), 0);
	}
	store_outbox ra[8], rb[8];
	size_t na = 0, nb = 0;
	int64_t now = ts_now();
	assert_int_equal(a->ops->outbox_claim(a, now, 60, ra, 3, &na), 0);
	assert_int_equal(b->ops->outbox_claim(b, now, 60, rb, 8, &nb), 0);
	assert_int_equal(na, 3);
	assert_int_equal(nb, 2);
	for (size_t i = 0; i < na; i++) {
		assert_int_equal(ra[i].attempts, 1);
		for (size_t j = 0; j < nb; j++) {
			assert_true(ra[i].id != rb[j].id);
			assert_string_not_equal(ra[i].call_id, rb[j].call_id);
		}
	}
	/* leased rows are not claimed again until the lease ends */
	assert_int_equal(a->ops->outbox_claim(a, now, 60, ra, 8, &na), 0);
	assert_int_equal(na, 0);
	assert_int_equal(a->ops->outbox_claim(a, now + 61, 60, ra, 8, &na), 0);
	assert_int_equal(na, 5);
	int64_t pending = -1, retrying = -1;
	assert_int_equal(a->ops->outbox_depth(a, &pending, &retrying), 0);
	assert_int_equal(pending, 5);
	assert_int_equal(retrying, 0);
	/* done rows never come back; retried rows come back when due */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(a->ops->outbox_done(a, ra[i].id), 0);
	assert_int_equal(a->ops->outbox_retry(a, ra[4].id, now + 100, "down"), 0);
	/* the metrics' outbox depth: one row left, and it failed once */
	assert_int_equal(b->ops->outbox_depth(b, &pending, &retrying), 0);
	assert_int_equal(pending, 1);
	assert_int_equal(retrying, 1);
	int64_t due;
	assert_int_equal(a->ops->outbox_next_due(a, now, &due), 0);
	assert_int_equal(due, 100);
	assert_int_equal(a->ops->outbox_claim(a, now + 99, 60, ra, 8, &na), 0);
	assert_int_equal(na, 0);
	assert_int_equal(a->ops->outbox_claim(a, now + 100, 60, ra, 8, &na), 0);
	assert_int_equal(na, 1);
	assert_int_equal(ra[0].attempts, 3);
	if (pg_url == NULL) {
		/* SQLite (one node): a restart releases every lease */
		assert_int_equal(a->ops->outbox_reset_leases(a), 0);
		assert_int_equal(b->ops->outbox_claim(b, now + 100, 60, rb, 8, &nb), 0);
		assert_int_equal(nb, 1);
	} else {
		/* PostgreSQL (several nodes): a restart of another node leaves a
		 * live owner's lease alone; the owner's death ends it at once */
		assert_int_equal(b->ops->outbox_reset_leases(b), 0);
		assert_int_equal(b->ops->outbox_claim(b, now + 100, 60, rb, 8, &nb), 0);
		assert_int_equal(nb, 0);
		store_close(a);
		a = NULL;
		int got = 0;
		for (int i = 0; i < 50 && !got; i++) { /* the server notices the closed session */
			assert_int_equal(b->ops->outbox_claim(b, now + 100, 60, rb, 8, &nb), 0);
			got = nb == 1;
			if (!got)
				usleep(20 * 1000);
		}
		assert_true(got);
		assert_int_equal(rb[0].attempts, 4);
	}
	store_close(a);
	store_close(b);
}

/* SQLite: rows another connection claims between a claim's read of the
 * due rows and its leases are that connection's (the lease is taken only
 * of a row still due and unleased), for one row and for a batch. */
static store *between_other;
static int64_t between_now;
static size_t between_got, between_max = 8;
static int between_retry;
static store_outbox between_rows[8];

static void
claim_in_between(void)
{
	store_sqlite_claim_between = NULL;
	assert_int_equal(between_other->ops->outbox_claim(between_other, between_now, 60, between_rows, between_max,
	    &between_got), 0);
	/* claimed, tried and due again at once: unleased, one attempt more */
	for (size_t i = 0; between_retry && i < between_got; i++)
		assert_int_equal(between_other->ops->outbox_retry(between_other, between_rows[i].id, between_now, "x"), 0);
}

static void
test_outbox_claim_race(void **state)
{
	(void)state;
	if (pg_url != NULL)
		skip(); /* PostgreSQL: FOR UPDATE SKIP LOCKED (test_pg_store) */
	store *a = open_store(), *b = open_store();
	store_outbox r[8];
	size_t n = 9;
	between_other = b;
	between_now = ts_now();
	for (int rows = 1; rows <= 3; rows += 2) {
		for (int i = 0; i < rows; i++)
			assert_int_equal(a->ops->outbox_add(a, "confirm_order", "share-race", NULL), 0);
		store_sqlite_claim_between = claim_in_between;
		assert_int_equal(a->ops->outbox_claim(a, between_now, 60, r, 8, &n), 0);
		assert_null(store_sqlite_claim_between); /* it ran */
		assert_int_equal(between_got, (size_t)rows);
		assert_int_equal(n, 0);
		between_now += 61; /* every lease over: all rows due again, for both */
		assert_int_equal(a->ops->outbox_claim(a, between_now, 60, r, 8, &n), 0);
		assert_int_equal(n, (size_t)rows);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(a->ops->outbox_done(a, r[i].id), 0);
	}
	/* the other connection takes one of three: the claim gets the two others */
	int64_t ids[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(a->ops->outbox_add(a, "confirm_order", "share-race", &ids[i]), 0);
	between_max = 1;
	store_sqlite_claim_between = claim_in_between;
	assert_int_equal(a->ops->outbox_claim(a, between_now, 60, r, 8, &n), 0);
	assert_int_equal(between_got, 1);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_true(r[i].id != between_rows[0].id);
		assert_true(r[i].id == ids[0] || r[i].id == ids[1] || r[i].id == ids[2]);
		assert_int_equal(r[i].attempts, 1);
	}
	assert_true(r[0].id != r[1].id);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(a->ops->outbox_done(a, r[i].id), 0);
	assert_int_equal(a->ops->outbox_done(a, between_rows[0].id), 0);
	/* claimed and tried by the other in between, due again: never handed
	 * out with the attempt count it had before that try */
	assert_int_equal(a->ops->outbox_add(a, "confirm_order", "share-race", NULL), 0);
	between_retry = 1;
	store_sqlite_claim_between = claim_in_between;
	assert_int_equal(a->ops->outbox_claim(a, between_now, 60, r, 8, &n), 0);
	assert_int_equal(between_got, 1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].attempts, 2);
	between_retry = 0;
	between_max = 8;
	store_close(a);
	store_close(b);
}

/* fdatasync as SQLite calls it (this executable's definition takes its
 * place, as an LD_PRELOAD would): counted, then done. */
static int fsyncs;
int fdatasync(int fd);
int
fdatasync(int fd)
{
	fsyncs++;
	return (int)syscall(SYS_fdatasync, fd);
}

/* SQLite: the outbox's bookkeeping (claim, done) commits without an fsync of
 * its own, and the connection is synchronous again for the next write
 * (store_sqlite.c relaxed(); the replay after a lost claim or done mark is
 * test_outbox_replay.sh). */
static void
test_outbox_bookkeeping_relaxed(void **state)
{
	(void)state;
	/* PostgreSQL fsyncs in its server: there only the claims and marks */
	int sq = pg_url == NULL;
	store *s = open_store();
	int64_t id = 0, uid = 0, now = 1000;
	assert_int_equal(s->ops->outbox_add(s, "confirm_order", "share-r", &id), 0);
	store_outbox r[2];
	size_t n = 0;
	int f0 = fsyncs;
	assert_int_equal(s->ops->outbox_claim(s, now, 60, r, 2, &n), 0);
	assert_int_equal(n, 1);
	if (sq)
		assert_int_equal(fsyncs, f0);
	assert_int_equal(s->ops->user_add(s, "relaxed-1", "h", &uid), 0);
	if (sq)
		assert_true(fsyncs > f0); /* FULL again after the claim */
	f0 = fsyncs;
	assert_int_equal(s->ops->outbox_done(s, r[0].id), 0);
	if (sq)
		assert_int_equal(fsyncs, f0);
	assert_int_equal(s->ops->user_add(s, "relaxed-2", "h", &uid), 0);
	if (sq)
		assert_true(fsyncs > f0); /* and after the done mark */
	/* inside a caller's transaction they join it: one commit, synchronous */
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", "share-r", &id), 0);
	f0 = fsyncs;
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->outbox_claim(s, now, 60, r, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->outbox_done(s, r[0].id), 0);
	assert_int_equal(s->ops->commit(s), 0);
	if (sq)
		assert_true(fsyncs > f0);
	store_close(s);
}

/* pread64 as SQLite calls it, counted like fdatasync above: the pages a
 * connection reads back (with mmap on, only WAL frames another
 * connection's commit wrote). */
static int preads;
ssize_t pread64(int fd, void *buf, size_t n, off_t off);
ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	preads++;
	return (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
}

struct lookup {
	store *s;
	const char *name;
	int rc;
};

static void *
lookup_in_thread(void *arg)
{
	struct lookup *l = arg;
	int64_t id;
	l->rc = l->s->ops->user_by_name(l->s, l->name, &id);
	return NULL;
}

/* SQLite (issue 9): a handle opened with share_with uses the other store's
 * connection. Its reads need no page of what the other handle committed
 * (a connection of its own re-reads them: the preads below), and it never
 * joins the other's open transaction: it waits for its turn, up to its
 * wait_ms, and then fails (TS_ETIMEOUT, the loop's 503). */
static void
test_shared_connection(void **state)
{
	(void)state;
	if (pg_url != NULL)
		skip();
	store *s = open_store(), *own = open_store(), *w = NULL;
	store_opts so = { .wait_ms = STORE_WAIT_LOOP_MS, .share_with = s };
	assert_int_equal(store_open_opts(dbpath, &so, &w), 0);
	int64_t id = 0, got = 0;
	assert_int_equal(w->ops->user_by_name(w, "nobody", &got), TS_ENOTFOUND); /* warm */
	assert_int_equal(own->ops->user_by_name(own, "nobody", &got), TS_ENOTFOUND);
	assert_int_equal(s->ops->user_add(s, "shared-1", "h", &id), 0);
	int p0 = preads;
	assert_int_equal(w->ops->user_by_name(w, "shared-1", &got), 0);
	assert_int_equal(got, id);
	assert_int_equal(preads, p0); /* the same connection's cache */
	assert_int_equal(own->ops->user_by_name(own, "shared-1", &got), 0);
	assert_true(preads > p0); /* a connection of its own reads the frames back */
	/* the other handle's transaction: no joining it from another thread */
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->user_add(s, "shared-2", "h", &id), 0);
	struct lookup l = { .s = w, .name = "shared-2", .rc = 1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, lookup_in_thread, &l), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(l.rc, TS_ETIMEOUT);
	assert_int_equal(s->ops->commit(s), 0);
	assert_int_equal(w->ops->user_by_name(w, "shared-2", &got), 0);
	assert_int_equal(got, id);
	/* the connection outlives the handle it was opened with */
	store_close(s);
	assert_int_equal(w->ops->begin(w), 0);
	assert_int_equal(w->ops->user_add(w, "shared-3", "h", &id), 0);
	w->ops->rollback(w);
	assert_int_equal(w->ops->user_by_name(w, "shared-3", &got), TS_ENOTFOUND);
	store_close(w);
	store_close(own);
}

/* One job per (share, kind) on PostgreSQL: a repeated add is a no-op. */
static void
test_outbox_once(void **state)
{
	(void)state;
	if (pg_url == NULL)
		skip();
	store *s = open_store();
	int64_t id1 = 0, id2 = -1;
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", "share-y", &id1), 0);
	assert_true(id1 > 0);
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", "share-y", &id2), 0);
	assert_int_equal(id2, 0);
	assert_int_equal(s->ops->outbox_add(s, "confirm_order", "share-y", &id2), 0);
	assert_true(id2 > id1);
	int64_t pending = 0, retrying = 0;
	assert_int_equal(s->ops->outbox_depth(s, &pending, &retrying), 0);
	assert_int_equal(pending, 2);
	store_close(s);
}

static void
test_idempotency_records(void **state)
{
	(void)state;
	store *s = open_store();
	char h[65];
	int st;
	char *resp = NULL;
	assert_int_equal(s->ops->idem_get(s, "dev", "k", h, sizeof(h), &st, &resp), TS_ENOTFOUND);
	assert_int_equal(s->ops->idem_put(s, "dev", "k", "hash1", 201, "{\"a\":1}"), 0);
	assert_int_equal(s->ops->idem_put(s, "dev", "k", "hash2", 201, "{}"), TS_EEXIST);
	assert_int_equal(s->ops->idem_get(s, "dev", "k", h, sizeof(h), &st, &resp), 0);
	assert_string_equal(h, "hash1");
	assert_int_equal(st, 201);
	assert_string_equal(resp, "{\"a\":1}");
	free(resp);
	/* keys are per device */
	assert_int_equal(s->ops->idem_get(s, "other", "k", h, sizeof(h), &st, &resp), TS_ENOTFOUND);
	store_close(s);
}

static void
test_passwd(void **state)
{
	(void)state;
	char h1[256], h2[256];
	assert_int_equal(passwd_hash("correct horse", h1, sizeof(h1)), 0);
	assert_int_equal(passwd_hash("correct horse", h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2); /* salted */
	assert_int_equal(strncmp(h1, "scrypt$15$8$1$", 14), 0);
	assert_int_equal(passwd_verify("correct horse", h1), 0);
	assert_int_equal(passwd_verify("correct horsE", h1), TS_EAUTH);
	/* the whole hash is compared: a stored hash that differs from the
	 * right one in its first, a middle or its last byte only is refused */
	char *hash = strrchr(h1, '$') + 1;
	assert_int_equal(strlen(hash), 64);
	static const size_t pos[] = { 0, 1, 31, 62, 63 };
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		char t[256];
		snprintf(t, sizeof(t), "%s", h1);
		char *c = strrchr(t, '$') + 1 + pos[i];
		*c = *c == '0' ? '1' : '0';
		assert_int_equal(passwd_verify("correct horse", t), TS_EAUTH);
	}
	assert_int_equal(passwd_verify("correct horse", "scrypt$15$8$1$zz$00"), TS_EAUTH);
	assert_int_equal(passwd_verify("correct horse", "plain"), TS_EAUTH);
	/* absurd cost parameters are refused, not computed */
	assert_int_equal(passwd_verify("x", "scrypt$40$8$1$00112233445566778899aabbccddeeff$"
					 "0011223344556677889900112233445566778899001122334455667788990011"),
	    TS_EAUTH);
	char s1[65], s2[65];
	secret_hash("abc", s1);
	secret_hash("abc", s2);
	assert_string_equal(s1, s2);
	assert_string_equal(s1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The backends differ most in transactions: a failed statement leaves the
 * transaction usable, nesting and stray commits are errors. */
static void
test_transactions(void **state)
{
	(void)state;
	store *s = open_store(), *o = open_store();
	int64_t a, b, c;
	assert_int_equal(s->ops->user_add(s, "ann", "h", &a), 0);
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->begin(s), TS_EDB);
	assert_int_equal(s->ops->user_add(s, "ann", "h", &b), TS_EEXIST);
	assert_int_equal(s->ops->idem_put(s, "d", "k", "h", 200, "{}"), 0);
	assert_int_equal(s->ops->idem_put(s, "d", "k", "h", 200, "{}"), TS_EEXIST);
	assert_int_equal(s->ops->user_add(s, "ben", "h", &b), 0);
	assert_int_equal(s->ops->device_add(s, "dv", 424242, "no such user"), TS_EEXIST);
	int64_t eid1 = 0, eid2 = 0;
	assert_int_equal(s->ops->event_add(s, b, "sh", "t", "{}", &eid1), 0);
	/* not visible to another connection before commit */
	assert_int_equal(o->ops->user_by_name(o, "ben", &c), TS_ENOTFOUND);
	assert_int_equal(s->ops->commit(s), 0);
	assert_int_equal(o->ops->user_by_name(o, "ben", &c), 0);
	assert_int_equal(c, b);
	assert_int_equal(s->ops->commit(s), TS_EDB);
	/* rolled back work is gone */
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->user_add(s, "cat", "h", &c), 0);
	s->ops->rollback(s);
	assert_int_equal(o->ops->user_by_name(o, "cat", &c), TS_ENOTFOUND);
	/* event ids grow, outside a transaction too */
	assert_int_equal(o->ops->event_add(o, b, "sh", "t2", "{}", &eid2), 0);
	assert_true(eid2 > eid1);
	store_event ev[4];
	size_t n = 0;
	assert_int_equal(s->ops->events_after(s, b, NULL, 0, ev, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ev[1].type, "t2");
	assert_int_equal(s->ops->events_after(s, b, "other", 0, ev, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(s->ops->events_after(s, b, "sh", eid1, ev, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].id, eid2);
	store_close(o);
	store_close(s);
}

struct share_waiter {
	store *s;
	const char *id;
	pthread_mutex_t mu;
	int done, rc;
	store_share sh;
};

static void *
load_in_thread(void *arg)
{
	struct share_waiter *w = arg;
	int rc = w->s->ops->begin(w->s);
	if (rc == 0)
		rc = w->s->ops->share_get(w->s, w->id, &w->sh);
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = 1;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
put_share(store *s, const char *id, int64_t user, const char *eid)
{
	store_share sh = { .user_id = user, .state = SHARE_EID_CONFIRMED, .created_at = 1, .updated_at = 1 };
	snprintf(sh.id, sizeof(sh.id), "%s", id);
	snprintf(sh.eid, sizeof(sh.eid), "%s", eid);
	snprintf(sh.operation, sizeof(sh.operation), "share");
	assert_int_equal(s->ops->share_insert(s, &sh), 0);
}

/* Did the other connection's begin + share_get finish within 300 ms? */
static int
finished_soon(struct share_waiter *w)
{
	usleep(300 * 1000);
	pthread_mutex_lock(&w->mu);
	int done = w->done;
	pthread_mutex_unlock(&w->mu);
	return done;
}

/* A share transition reads, checks and updates inside one transaction: a
 * second transaction loading the same share waits for the first to end, then
 * sees what it committed (SQLite: one writer at a time; PostgreSQL: the row
 * FOR UPDATE). On PostgreSQL transactions on other shares of other users do
 * not wait (no global lock: several nodes work side by side). */
static void
test_transactions_serialised(void **state)
{
	(void)state;
	store *a = open_store(), *b = open_store();
	put_share(a, "sh-1", 1, "89049032123451234512345678901235");
	put_share(a, "sh-2", 2, "89049032123451234512345678901332");
	store_share sh;
	assert_int_equal(a->ops->begin(a), 0);
	assert_int_equal(a->ops->share_get(a, "sh-1", &sh), 0);
	sh.state = SHARE_AUTHORISED;
	assert_int_equal(a->ops->share_update(a, &sh), 0);
	if (pg_url != NULL) {
		struct share_waiter o = { .s = b, .id = "sh-2" };
		pthread_mutex_init(&o.mu, NULL);
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, load_in_thread, &o), 0);
		assert_true(finished_soon(&o)); /* another share: no wait */
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_int_equal(o.rc, 0);
		assert_int_equal(o.sh.state, SHARE_EID_CONFIRMED);
		assert_int_equal(b->ops->commit(b), 0);
		pthread_mutex_destroy(&o.mu);
	}
	struct share_waiter w = { .s = b, .id = "sh-1" };
	pthread_mutex_init(&w.mu, NULL);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, load_in_thread, &w), 0);
	assert_false(finished_soon(&w)); /* the same share: waits */
	assert_int_equal(a->ops->commit(a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.sh.state, SHARE_AUTHORISED); /* the committed state */
	assert_int_equal(b->ops->commit(b), 0);
	pthread_mutex_destroy(&w.mu);
	store_close(a);
	store_close(b);
}

/* Housekeeping (issue 9 item 4): finished shares older than the cut-off go
 * with their events, commands, outbox rows and sessions; open ones, recent
 * ones and those with a provider call pending stay. */
static void
test_prune(void **state)
{
	(void)state;
	store *s = open_store();
	const char *eid = "89049032123451234512345678901235";
	struct { const char *id; enum share_state st; int64_t at; } rows[] = {
		{ "old-revoked", SHARE_REVOKED, 1000 }, { "old-expired", SHARE_EXPIRED, 1001 },
		{ "old-installed", SHARE_INSTALLED, 1002 }, { "new-revoked", SHARE_REVOKED, 5000 },
		{ "old-pending", SHARE_REVOKED, 1003 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		store_share sh = { .user_id = 7, .state = rows[i].st, .created_at = 1, .updated_at = rows[i].at };
		snprintf(sh.id, sizeof(sh.id), "%s", rows[i].id);
		snprintf(sh.eid, sizeof(sh.eid), "%s", eid);
		snprintf(sh.operation, sizeof(sh.operation), "share");
		assert_int_equal(s->ops->share_insert(s, &sh), 0);
		assert_int_equal(s->ops->event_add(s, 7, rows[i].id, "share.x", "{}", NULL), 0);
		assert_int_equal(s->ops->cmd_add(s, eid, rows[i].id, "delete", "{}", NULL), 0);
		store_tx tx = { .stage = 1, .created_at = 1 };
		snprintf(tx.id, sizeof(tx.id), "tx%zu", i);
		snprintf(tx.share_id, sizeof(tx.share_id), "%s", rows[i].id);
		assert_int_equal(s->ops->tx_put(s, &tx), 0);
		assert_int_equal(s->ops->cc_put(s, rows[i].id, CC_HASH), 0);
	}
	int64_t ob;
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", "old-revoked", &ob), 0);
	assert_int_equal(s->ops->outbox_done(s, ob), 0);
	assert_int_equal(s->ops->outbox_add(s, "cancel_order", "old-pending", &ob), 0);
	size_t n = 99;
	assert_int_equal(s->ops->prune(s, 2000, 1, &n), 0); /* at most max, oldest first */
	assert_int_equal(n, 1);
	store_share sh;
	assert_int_equal(s->ops->share_get(s, "old-revoked", &sh), TS_ENOTFOUND);
	assert_int_equal(s->ops->share_get(s, "old-expired", &sh), 0);
	assert_int_equal(s->ops->prune(s, 2000, 100, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->prune(s, 2000, 100, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(s->ops->share_get(s, "old-expired", &sh), TS_ENOTFOUND);
	assert_int_equal(s->ops->share_get(s, "old-installed", &sh), 0);
	assert_int_equal(s->ops->share_get(s, "new-revoked", &sh), 0);
	assert_int_equal(s->ops->share_get(s, "old-pending", &sh), 0);
	/* what hung off the pruned shares is gone, the rest stays */
	char cch[65];
	int att = 0;
	assert_int_equal(s->ops->cc_get(s, "old-revoked", cch, &att), TS_ENOTFOUND);
	assert_int_equal(s->ops->cc_get(s, "old-expired", cch, &att), TS_ENOTFOUND);
	assert_int_equal(s->ops->cc_get(s, "old-installed", cch, &att), 0);
	store_event ev[8];
	assert_int_equal(s->ops->events_after(s, 7, NULL, 0, ev, 8, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(strncmp(ev[i].share_id, "old-expired", 12) != 0 && strcmp(ev[i].share_id, "old-revoked") != 0);
	store_cmd cm[8];
	assert_int_equal(s->ops->cmds_pending(s, eid, 0, cm, 8, &n), 0);
	assert_int_equal(n, 3);
	store_tx tx;
	assert_int_equal(s->ops->tx_get(s, "tx0", &tx), TS_ENOTFOUND);
	assert_int_equal(s->ops->tx_get(s, "tx1", &tx), TS_ENOTFOUND);
	assert_int_equal(s->ops->tx_get(s, "tx2", &tx), 0);
	int64_t pending = 0, retrying = 0;
	assert_int_equal(s->ops->outbox_depth(s, &pending, &retrying), 0);
	assert_int_equal(pending, 1);
	store_close(s);
}

/* Event and command ids are Last-Event-ID cursors, and no id is given
 * twice: a prune that takes away the newest rows of events, companion_cmds
 * and outbox leaves the next ids above them, also after a reopen and a
 * second prune (SQLite: high-water rows, migration 11; PostgreSQL:
 * sequences), and the rows that keep the mark are no one's. */
static void
test_ids_never_reused(void **state)
{
	(void)state;
	store *s = open_store();
	const char *eid = "89049032123451234512345678901235";
	int64_t e0, c0, o0, e, c, o;
	store_share keep = { .user_id = 7, .state = SHARE_AUTHORISED, .created_at = 1, .updated_at = 1000 };
	snprintf(keep.id, sizeof(keep.id), "kept");
	snprintf(keep.eid, sizeof(keep.eid), "%s", eid);
	snprintf(keep.operation, sizeof(keep.operation), "share");
	assert_int_equal(s->ops->share_insert(s, &keep), 0);
	assert_int_equal(s->ops->event_add(s, 7, "kept", "share.x", "{}", &e0), 0);
	assert_int_equal(s->ops->cmd_add(s, eid, "kept", "download", "{}", &c0), 0);
	assert_int_equal(s->ops->outbox_add(s, "confirm_order", "kept", &o0), 0);
	for (int round = 0; round < 2; round++) {
		store_share old = { .user_id = 7, .state = SHARE_REVOKED, .created_at = 1, .updated_at = 1000 };
		snprintf(old.id, sizeof(old.id), "old-%d", round);
		snprintf(old.eid, sizeof(old.eid), "%s", eid);
		snprintf(old.operation, sizeof(old.operation), "share");
		assert_int_equal(s->ops->share_insert(s, &old), 0);
		int64_t e1, c1, o1;
		assert_int_equal(s->ops->event_add(s, 7, old.id, "share.x", "{}", &e1), 0);
		assert_int_equal(s->ops->cmd_add(s, eid, old.id, "delete", "{}", &c1), 0);
		assert_int_equal(s->ops->cmd_done(s, old.id, "delete"), 0);
		assert_int_equal(s->ops->outbox_add(s, "cancel_order", old.id, &o1), 0);
		assert_int_equal(s->ops->outbox_done(s, o1), 0);
		size_t n = 0;
		assert_int_equal(s->ops->prune(s, 2000, 100, &n), 0);
		assert_int_equal(n, 1);
		store_close(s);
		s = open_store();
		assert_int_equal(s->ops->event_add(s, 7, "kept", "share.y", "{}", &e), 0);
		assert_int_equal(s->ops->cmd_add(s, eid, "kept", "download", "{}", &c), 0);
		/* (one outbox row per share and kind on PostgreSQL) */
		assert_int_equal(s->ops->outbox_add(s, round == 0 ? "cancel_order" : "transfer_order", "kept", &o), 0);
		assert_true(e > e1);
		assert_true(c > c1);
		assert_true(o > o1);
	}
	/* what a reader sees: the kept share's rows only */
	store_event ev[8];
	size_t n = 0;
	assert_int_equal(s->ops->events_after(s, 7, NULL, 0, ev, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].id, e0);
	assert_int_equal(ev[2].id, e);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ev[i].share_id, "kept");
	int64_t last = 0;
	assert_int_equal(s->ops->events_last(s, 7, &last), 0);
	assert_int_equal(last, e);
	store_cmd cm[8];
	assert_int_equal(s->ops->cmds_pending(s, eid, 0, cm, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(cm[0].id, c0);
	int64_t pending = 0, retrying = 0;
	assert_int_equal(s->ops->outbox_depth(s, &pending, &retrying), 0);
	assert_int_equal(pending, 3);
	int64_t secs = -1;
	assert_int_equal(s->ops->outbox_next_due(s, 0, &secs), 0);
	assert_int_equal(secs, 0);
	store_close(s);
}

static void
test_apps_providers_blobs(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t u;
	assert_int_equal(s->ops->user_add(s, "dora", "h", &u), 0);
	store_provider p = { .name = "op", .url = "https://a", .ca_file = "/ca1" }, pg;
	assert_int_equal(s->ops->provider_put(s, &p), 0);
	snprintf(p.url, sizeof(p.url), "https://b");
	assert_int_equal(s->ops->provider_put(s, &p), 0); /* replaces */
	assert_int_equal(s->ops->provider_get(s, "op", &pg), 0);
	assert_string_equal(pg.url, "https://b");
	assert_string_equal(pg.ca_file, "/ca1");
	assert_int_equal(s->ops->provider_get(s, "none", &pg), TS_ENOTFOUND);

	store_app a = { .app_id = "sim-a", .user_id = u, .name = "A", .kind = "sim", .provider = "op",
		.shareable = 1 }, ag;
	assert_int_equal(s->ops->app_put(s, &a), 0);
	store_app bad = a;
	snprintf(bad.app_id, sizeof(bad.app_id), "sim-z");
	bad.user_id = 999999;
	assert_int_equal(s->ops->app_put(s, &bad), TS_EEXIST); /* no such user */
	assert_int_equal(s->ops->app_release(s, "sim-a", "share-9"), 0);
	assert_int_equal(s->ops->app_release(s, "sim-a", "share-10"), TS_ESTATE);
	assert_int_equal(s->ops->app_release(s, "nope", "share-10"), TS_ESTATE);
	assert_int_equal(s->ops->app_get(s, "sim-a", &ag), 0);
	assert_string_equal(ag.released_share, "share-9");
	json_t *arr = NULL;
	assert_int_equal(s->ops->apps_json(s, u, &arr), 0);
	assert_int_equal(json_array_size(arr), 1);
	json_t *o = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "moved");
	assert_true(json_is_false(json_object_get(o, "shareable")));
	json_decref(arr);
	/* a put replaces the whole row, the release included */
	assert_int_equal(s->ops->app_put(s, &a), 0);
	assert_int_equal(s->ops->app_get(s, "sim-a", &ag), 0);
	assert_string_equal(ag.released_share, "");
	assert_int_equal(ag.shareable, 1);
	assert_int_equal(ag.user_id, u);

	/* ES9+ transactions and companion keys keep every byte (NULs included) */
	store_tx tx, tg;
	memset(&tx, 0, sizeof(tx));
	snprintf(tx.id, sizeof(tx.id), "00ff");
	snprintf(tx.share_id, sizeof(tx.share_id), "share-1");
	snprintf(tx.eid, sizeof(tx.eid), "89049032123451234512345678901235");
	for (size_t i = 0; i < 16; i++) {
		tx.euicc_challenge[i] = (uint8_t)(i * 17);
		tx.server_challenge[i] = (uint8_t)(255 - i);
	}
	for (size_t i = 0; i < 64; i++) {
		tx.euicc_sig1[i] = (uint8_t)(i % 3 == 0 ? 0 : i);
		tx.smdp_sig2[i] = (uint8_t)(i + 128);
	}
	for (size_t i = 0; i < 65; i++)
		tx.euicc_pub[i] = (uint8_t)(i ^ 0x5c);
	tx.stage = 1;
	tx.created_at = 1700000000;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	tx.stage = 2;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(s->ops->tx_get(s, "00ff", &tg), 0);
	assert_int_equal(tg.stage, 2);
	assert_int_equal(tg.created_at, 1700000000);
	assert_string_equal(tg.eid, tx.eid);
	assert_memory_equal(tg.euicc_challenge, tx.euicc_challenge, 16);
	assert_memory_equal(tg.server_challenge, tx.server_challenge, 16);
	assert_memory_equal(tg.euicc_sig1, tx.euicc_sig1, 64);
	assert_memory_equal(tg.smdp_sig2, tx.smdp_sig2, 64);
	assert_memory_equal(tg.euicc_pub, tx.euicc_pub, 65);
	assert_int_equal(s->ops->tx_get(s, "00fe", &tg), TS_ENOTFOUND);
	uint8_t pub[65];
	assert_int_equal(s->ops->companion_put(s, tx.eid, tx.euicc_pub), 0);
	assert_int_equal(s->ops->companion_put(s, tx.eid, tx.euicc_pub), 0);
	assert_int_equal(s->ops->companion_pub(s, tx.eid, pub), 0);
	assert_memory_equal(pub, tx.euicc_pub, 65);
	assert_int_equal(s->ops->companion_pub(s, "0", pub), TS_ENOTFOUND);
	/* gc drops old download sessions only */
	assert_int_equal(s->ops->gc(s, 1700000000, 0, ts_now()), 0);
	assert_int_equal(s->ops->tx_get(s, "00ff", &tg), 0);
	assert_int_equal(s->ops->gc(s, 1700000001, 0, ts_now()), 0);
	assert_int_equal(s->ops->tx_get(s, "00ff", &tg), TS_ENOTFOUND);
	/* offer nonces are single-use */
	assert_int_equal(s->ops->offer_nonce_use(s, "n1", "share-1", ts_now() + 60), 0);
	assert_int_equal(s->ops->offer_nonce_use(s, "n1", "share-2", ts_now() + 60), TS_EEXIST);
	store_close(s);
}

/* Devices can be listed and revoked; a revoked device is refused
 * (TS_EDENIED) and loses its tokens at once (issue 8). */
static void
test_device_revocation(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t alice, bob, uid = 0, n = -1;
	assert_int_equal(s->ops->user_add(s, "alice", "h1", &alice), 0);
	assert_int_equal(s->ops->user_add(s, "bob", "h2", &bob), 0);
	assert_int_equal(s->ops->device_add(s, "d1", alice, "phone"), 0);
	assert_int_equal(s->ops->device_add(s, "d2", alice, "tablet"), 0);
	assert_int_equal(s->ops->device_add(s, "d3", bob, "bob's phone"), 0);
	assert_int_equal(s->ops->token_add(s, "t1", "d1", alice, ts_now() + 60), 0);
	assert_int_equal(s->ops->device_revocations(s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(s->ops->device_revoke(s, "d1", ts_now(), &uid), 0);
	assert_int_equal(uid, alice);
	assert_int_equal(s->ops->device_user(s, "d1", &uid), TS_EDENIED);
	assert_int_not_equal(s->ops->token_check(s, "t1", "d1", ts_now(), &uid), 0);
	assert_int_equal(s->ops->device_user(s, "d2", &uid), 0);
	assert_int_equal(uid, alice);
	assert_int_equal(s->ops->device_revoke(s, "d1", ts_now(), NULL), TS_ESTATE);
	assert_int_equal(s->ops->device_revoke(s, "nope", ts_now(), NULL), TS_ENOTFOUND);
	assert_int_equal(s->ops->device_revocations(s, &n), 0);
	assert_int_equal(n, 1);
	json_t *arr = NULL;
	assert_int_equal(s->ops->devices_json(s, alice, &arr), 0);
	assert_int_equal(json_array_size(arr), 2);
	size_t i;
	json_t *v;
	int seen = 0;
	json_array_foreach(arr, i, v) {
		const char *id = json_string_value(json_object_get(v, "device_id"));
		assert_string_equal(json_string_value(json_object_get(v, "user")), "alice");
		json_int_t rev = json_integer_value(json_object_get(v, "revoked_at"));
		if (strcmp(id, "d1") == 0) {
			assert_true(rev > 0);
			assert_string_equal(json_string_value(json_object_get(v, "name")), "phone");
			seen++;
		} else {
			assert_string_equal(id, "d2");
			assert_int_equal(rev, 0);
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	json_decref(arr);
	assert_int_equal(s->ops->devices_json(s, -1, &arr), 0);
	assert_int_equal(json_array_size(arr), 3);
	json_decref(arr);
	store_close(s);
}

/* The passphrase throttle: a window starts at its first attempt and only
 * its end starts a new one; keys never share a counter; it survives a
 * reopen (a node restart). */
static void
test_pass_throttle(void **state)
{
	(void)state;
	store *s = open_store();
	int a = 0;
	int64_t ws = 0;
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1000, 300, &a, &ws), 0);
	assert_int_equal(a, 1);
	assert_int_equal(ws, 1000);
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1100, 300, &a, &ws), 0);
	assert_int_equal(a, 2);
	assert_int_equal(ws, 1000);
	/* another key (a colliding device, another account) counts apart and
	 * does not touch x's window */
	assert_int_equal(s->ops->throttle_hit(s, "device:y", 1150, 300, &a, &ws), 0);
	assert_int_equal(a, 1);
	assert_int_equal(ws, 1150);
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1299, 300, &a, &ws), 0);
	assert_int_equal(a, 3);
	assert_int_equal(ws, 1000);
	store_close(s);
	s = open_store();
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1299, 300, &a, &ws), 0);
	assert_int_equal(a, 4);
	/* undo takes back one attempt, the window stays */
	assert_int_equal(s->ops->throttle_undo(s, "device:x"), 0);
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1299, 300, &a, &ws), 0);
	assert_int_equal(a, 4);
	assert_int_equal(ws, 1000);
	/* the window's end starts a new one */
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1300, 300, &a, &ws), 0);
	assert_int_equal(a, 1);
	assert_int_equal(ws, 1300);
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1301, 300, &a, &ws), 0);
	assert_int_equal(a, 2);
	assert_int_equal(s->ops->throttle_forget(s, "device:x"), 0);
	assert_int_equal(s->ops->throttle_hit(s, "device:x", 1302, 300, &a, &ws), 0);
	assert_int_equal(a, 1);
	assert_int_equal(ws, 1302);
	assert_int_equal(s->ops->throttle_hit(s, "device:y", 1302, 300, &a, &ws), 0);
	assert_int_equal(a, 2);
	assert_int_equal(ws, 1150);
	store_close(s);
}

/* ES9+ sessions per share are trimmed to the newest (authenticated ones
 * first); other shares' sessions are untouched (issue 8). */
static void
test_share_counts(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t counts[SHARE_NSTATES];
	assert_int_equal(s->ops->share_counts(s, counts), 0);
	for (int i = 0; i < SHARE_NSTATES; i++)
		assert_int_equal(counts[i], 0);
	/* 2 installed, 1 revoked (no foreign keys on shares: rows as stored) */
	static const struct {
		const char *id;
		enum share_state st;
	} rows[] = { { "c0ffee01", SHARE_INSTALLED }, { "c0ffee02", SHARE_INSTALLED }, { "c0ffee03", SHARE_REVOKED } };
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		store_share sh;
		memset(&sh, 0, sizeof(sh));
		snprintf(sh.id, sizeof(sh.id), "%s", rows[i].id);
		sh.user_id = 1;
		snprintf(sh.device_id, sizeof(sh.device_id), "dev");
		snprintf(sh.eid, sizeof(sh.eid), "89049032123451234512345678901235");
		snprintf(sh.app_id, sizeof(sh.app_id), "app");
		snprintf(sh.provider, sizeof(sh.provider), "operator");
		sh.state = rows[i].st;
		sh.created_at = sh.updated_at = 1700000000;
		assert_int_equal(s->ops->share_insert(s, &sh), 0);
	}
	assert_int_equal(s->ops->share_counts(s, counts), 0);
	assert_int_equal(counts[SHARE_INSTALLED], 2);
	assert_int_equal(counts[SHARE_REVOKED], 1);
	assert_int_equal(counts[SHARE_REQUESTED], 0);
	store_close(s);
}

static void
test_tx_trim(void **state)
{
	(void)state;
	store *s = open_store();
	store_tx tx, tg;
	memset(&tx, 0, sizeof(tx));
	snprintf(tx.eid, sizeof(tx.eid), "89049032123451234512345678901235");
	/* share-a: an authenticated session first, then six merely initiated */
	for (int i = 0; i < 7; i++) {
		snprintf(tx.id, sizeof(tx.id), "a%02d", i);
		snprintf(tx.share_id, sizeof(tx.share_id), "share-a");
		tx.stage = i == 0 ? 2 : 1;
		tx.created_at = 1000 + i;
		assert_int_equal(s->ops->tx_put(s, &tx), 0);
	}
	snprintf(tx.id, sizeof(tx.id), "b00");
	snprintf(tx.share_id, sizeof(tx.share_id), "share-b");
	tx.stage = 1;
	tx.created_at = 900;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(s->ops->tx_trim(s, "share-a", 3), 0);
	assert_int_equal(s->ops->tx_get(s, "a00", &tg), 0); /* authenticated: kept */
	assert_int_equal(s->ops->tx_get(s, "a06", &tg), 0);
	assert_int_equal(s->ops->tx_get(s, "a05", &tg), 0);
	assert_int_equal(s->ops->tx_get(s, "a04", &tg), TS_ENOTFOUND);
	assert_int_equal(s->ops->tx_get(s, "a01", &tg), TS_ENOTFOUND);
	assert_int_equal(s->ops->tx_get(s, "b00", &tg), 0);
	assert_int_equal(s->ops->tx_trim(s, "share-a", 0), 0);
	assert_int_equal(s->ops->tx_get(s, "a00", &tg), TS_ENOTFOUND);
	assert_int_equal(s->ops->tx_get(s, "b00", &tg), 0);
	/* share-c: a stage-3 session is kept as a stage-2 one is; of two of
	 * one age, the one written last */
	static const char *const cid[] = { "c00", "c01", "c02" };
	static const int cstage[] = { 3, 1, 1 }, cat[] = { 500, 600, 600 };
	for (int i = 0; i < 3; i++) {
		snprintf(tx.id, sizeof(tx.id), "%s", cid[i]);
		snprintf(tx.share_id, sizeof(tx.share_id), "share-c");
		tx.stage = cstage[i];
		tx.created_at = cat[i];
		assert_int_equal(s->ops->tx_put(s, &tx), 0);
	}
	assert_int_equal(s->ops->tx_trim(s, "share-c", 3), 0); /* none past keep: none gone */
	assert_int_equal(s->ops->tx_get(s, "c01", &tg), 0);
	assert_int_equal(s->ops->tx_trim(s, "share-c", 2), 0);
	assert_int_equal(s->ops->tx_get(s, "c00", &tg), 0);
	assert_int_equal(s->ops->tx_get(s, "c02", &tg), 0);
	assert_int_equal(s->ops->tx_get(s, "c01", &tg), TS_ENOTFOUND);
	store_close(s);
}

/* shares_of_eid: the EID's shares only, newest first, at most max. */
static void
test_shares_of_eid(void **state)
{
	(void)state;
	store *s = open_store();
	static const struct { const char *id, *eid; int64_t at; } v[] = {
		{ "sh-old", "89049032123451234512345678901235", 100 },
		{ "sh-other", "89049032123451234512345678901332", 150 },
		{ "sh-new", "89049032123451234512345678901235", 200 },
		{ "sh-mid", "89049032123451234512345678901235", 160 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		store_share sh;
		memset(&sh, 0, sizeof(sh));
		snprintf(sh.id, sizeof(sh.id), "%s", v[i].id);
		snprintf(sh.eid, sizeof(sh.eid), "%s", v[i].eid);
		snprintf(sh.app_id, sizeof(sh.app_id), "sim-a");
		snprintf(sh.assoc_app_id, sizeof(sh.assoc_app_id), "assoc-%s", v[i].id);
		snprintf(sh.provider, sizeof(sh.provider), "operator");
		snprintf(sh.device_id, sizeof(sh.device_id), "dev");
		snprintf(sh.operation, sizeof(sh.operation), "share");
		sh.created_at = sh.updated_at = v[i].at;
		assert_int_equal(s->ops->share_insert(s, &sh), 0);
	}
	store_share_app ids[4];
	size_t n = 0;
	assert_int_equal(s->ops->shares_of_eid(s, v[0].eid, ids, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0].id, "sh-new");
	assert_string_equal(ids[0].assoc_app_id, "assoc-sh-new");
	assert_string_equal(ids[1].id, "sh-mid");
	assert_string_equal(ids[1].assoc_app_id, "assoc-sh-mid");
	assert_string_equal(ids[2].id, "sh-old");
	assert_string_equal(ids[2].assoc_app_id, "assoc-sh-old");
	assert_int_equal(s->ops->shares_of_eid(s, v[0].eid, ids, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[1].id, "sh-mid");
	assert_int_equal(s->ops->shares_of_eid(s, "89049032000000000000000000000000", ids, 4, &n), 0);
	assert_int_equal(n, 0);
	store_close(s);
}

/* A companion's owner: the first claim holds, release forgets it (issue 8). */
static void
test_companion_owner(void **state)
{
	(void)state;
	store *s = open_store();
	int64_t uid = -1;
	const char *eid = "89049032123451234512345678901235";
	assert_int_equal(s->ops->companion_owner(s, eid, &uid), TS_ENOTFOUND);
	assert_int_equal(s->ops->companion_claim(s, eid, 7, 1000), 0);
	assert_int_equal(s->ops->companion_claim(s, eid, 8, 1001), 0); /* changes nothing */
	assert_int_equal(s->ops->companion_owner(s, eid, &uid), 0);
	assert_int_equal(uid, 7);
	assert_int_equal(s->ops->companion_release(s, eid), 0);
	assert_int_equal(s->ops->companion_release(s, eid), TS_ENOTFOUND);
	assert_int_equal(s->ops->companion_owner(s, eid, &uid), TS_ENOTFOUND);
	assert_int_equal(s->ops->companion_claim(s, eid, 8, 1002), 0);
	assert_int_equal(s->ops->companion_owner(s, eid, &uid), 0);
	assert_int_equal(uid, 8);
	store_close(s);
}

/* SM-DS (ES11) event registrations: per share, idempotent, per EID, oldest
 * first, bounded by max (issue 7). Runs on both backends. */
static void
test_smds_events(void **state)
{
	(void)state;
	store *s = open_store();
	const char *e1 = "89049032123451234512345678901235", *e2 = "89049032123451234512345678901332";
	char ids[4][STORE_ID_MAX];
	size_t n = 9;
	assert_int_equal(s->ops->smds_events(s, e1, ids, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(s->ops->smds_event_put(s, "sh-2", e1, "mid-2", 200), 0);
	assert_int_equal(s->ops->smds_event_put(s, "sh-1", e1, "mid-1", 100), 0);
	assert_int_equal(s->ops->smds_event_put(s, "sh-3", e2, "mid-3", 300), 0);
	assert_int_equal(s->ops->smds_event_put(s, "sh-1", e1, "mid-1", 400), 0); /* again: one row, first time kept */
	assert_int_equal(s->ops->smds_events(s, e1, ids, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "mid-1");
	assert_string_equal(ids[1], "mid-2");
	assert_int_equal(s->ops->smds_events(s, e1, ids, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->smds_event_del(s, "sh-1"), 0);
	assert_int_equal(s->ops->smds_event_del(s, "sh-1"), 0);
	assert_int_equal(s->ops->smds_events(s, e1, ids, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "mid-2");
	assert_int_equal(s->ops->smds_events(s, e2, ids, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "mid-3");
	store_close(s);
}

/* A share's confirmation code: its SHA-256 and the refused attempts. */
static void
test_share_cc(void **state)
{
	(void)state;
	store *s = open_store();
	char h[65];
	int n = 9;
	assert_int_equal(s->ops->cc_get(s, "sh-1", h, &n), TS_ENOTFOUND);
	assert_int_equal(s->ops->cc_refused(s, "sh-1", &n), TS_ENOTFOUND);
	assert_int_equal(s->ops->cc_put(s, "sh-1", CC_HASH), 0);
	assert_int_not_equal(s->ops->cc_put(s, "sh-1", CC_HASH), 0); /* one per share */
	assert_int_equal(s->ops->cc_get(s, "sh-1", h, &n), 0);
	assert_string_equal(h, CC_HASH);
	assert_int_equal(n, 0);
	assert_int_equal(s->ops->cc_refused(s, "sh-1", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->cc_refused(s, "sh-1", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s->ops->cc_get(s, "sh-1", h, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s->ops->cc_get(s, "sh-2", h, &n), TS_ENOTFOUND);
	store_close(s);
}


/* store_share_text (lib/json.h's writer, jansson when it is unsure) against
 * what the events, idempotency records and replies were before it: jansson's
 * tree store_share_json with the extra members set on it, dumped by
 * json_dumps — for every state, each event's message, with and without an
 * activation code, and share fields with escapes, non-ASCII UTF-8 and
 * invalid UTF-8 (jansson refuses: NULL). */
static void
share_text_as_jansson(const store_share *sh, const char *message, const char *ac)
{
	const char *const extra[][2] = { { "message", message }, { "activation_code", ac } };
	char *mine = store_share_text(sh, extra, 2);
	json_t *o = store_share_json(sh);
	char *ref = NULL;
	if (o != NULL) {
		json_object_set_new(o, "message", json_string(message));
		if (ac != NULL)
			json_object_set_new(o, "activation_code", json_string(ac));
		ref = json_dumps(o, JSON_COMPACT);
	}
	json_decref(o);
	if (ref == NULL)
		assert_null(mine);
	else {
		assert_non_null(mine);
		assert_string_equal(mine, ref);
	}
	free(mine);
	free(ref);
}

static void
test_share_text(void **state)
{
	(void)state;
	static const char *const messages[] = { "EID received and correct", "authorised by the provider",
		"bound package delivered to the companion", "cancelled: the companion never installed it",
		"deleted from the companion", "time limit reached: deleted from the companion",
		"provider said \"no\"\n\tC:\\path", "", "caf\xc3\xa9", "\xff\xfe", NULL };
	static const char *const fields[] = { "", "plain", "q\"b\\s/\x01\x1f\x7f", "\xe2\x82\xac", "\xc3\x28" };
	store_share sh;
	memset(&sh, 0, sizeof(sh));
	snprintf(sh.id, sizeof(sh.id), "0123456789abcdef0123456789abcdef");
	snprintf(sh.device_id, sizeof(sh.device_id), "dev-1");
	snprintf(sh.eid, sizeof(sh.eid), "89049032123451234512345678901235");
	snprintf(sh.app_id, sizeof(sh.app_id), "sim-1");
	snprintf(sh.provider, sizeof(sh.provider), "prov");
	sh.not_after = INT64_MAX;
	sh.created_at = INT64_MIN;
	sh.updated_at = 1764768000;
	for (int st = 0; st <= SHARE_NSTATES; st++) { /* SHARE_NSTATES: the name "?" */
		sh.state = (enum share_state)st;
		for (size_t m = 0; m < sizeof(messages) / sizeof(messages[0]); m++) {
			snprintf(sh.operation, sizeof(sh.operation), "%s", m % 2 ? "move" : "");
			share_text_as_jansson(&sh, messages[m], NULL);
			share_text_as_jansson(&sh, messages[m], "LPA:1$node.example$0A1B$$1");
		}
	}
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		store_share t = sh;
		snprintf(t.reason, sizeof(t.reason), "%s", fields[f]);
		share_text_as_jansson(&t, "m", NULL);
		t = sh;
		snprintf(t.assoc_app_id, sizeof(t.assoc_app_id), "%s", fields[f]);
		snprintf(t.assoc_kind, sizeof(t.assoc_kind), "%s", fields[f]);
		share_text_as_jansson(&t, "m", fields[f]);
		t = sh;
		snprintf(t.device_id, sizeof(t.device_id), "%s", fields[f]);
		share_text_as_jansson(&t, fields[f], NULL);
	}
	/* no extras: the share alone, as store_share_json dumps it */
	char *mine = store_share_text(&sh, NULL, 0);
	json_t *o = store_share_json(&sh);
	char *ref = json_dumps(o, JSON_COMPACT);
	assert_string_equal(mine, ref);
	free(mine);
	free(ref);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest store_tests[] = {
		cmocka_unit_test_setup_teardown(test_users_codes_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_claims_are_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_claim_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotency_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions_serialised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_bookkeeping_relaxed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apps_providers_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_throttle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_companion_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shares_of_eid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_cc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smds_events, setup, teardown),
	};
	const struct CMUnitTest other_tests[] = {
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_share_text),
	};
	int failed = cmocka_run_group_tests_name("passwd", other_tests, NULL, NULL);
	printf("store backend: sqlite\n");
	failed += cmocka_run_group_tests_name("store_sqlite", store_tests, NULL, NULL);
	const char *url = getenv("TS_PG_URL");
	if (url != NULL && url[0] != '\0') {
		pg_url = url;
		printf("store backend: postgresql\n");
		failed += cmocka_run_group_tests_name("store_postgresql", store_tests, NULL, NULL);
		pg_url = NULL;
	}
	return failed;
}
