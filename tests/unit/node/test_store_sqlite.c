/*
 * SQLite backend only (store_sqlite.c): the shared connection's handles and
 * locks other connections hold. Another process's write lock is waited out
 * outside the hold on the shared connection, so the event-loop thread's
 * reads (WAL: they need no lock) answer while an outbox worker waits; a
 * lock is never read as "no such row"; no op slot is NULL.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/ts_err.h"
#include "node/store.h"

#include "../tmpdir_fixture.h"

static int
setup(void **state)
{
	(void)state;
	return tmpdir_setup("/tmp/ts-store-sq-XXXXXX");
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_teardown();
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Another process holding the database's write lock (BEGIN IMMEDIATE, as
 * the operator's CLI or a second node would) until release_locker. */
typedef struct locker {
	pid_t pid;
	int go; /* write end: a byte (or EOF) lets the lock go */
} locker;

static void
start_locker(locker *l)
{
	int ready[2], go[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	l->pid = fork();
	assert_true(l->pid >= 0);
	if (l->pid == 0) {
		close(ready[0]);
		close(go[1]);
		sqlite3 *db = NULL;
		char c = 'L';
		if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
		    sqlite3_busy_timeout(db, 20000) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			_exit(2);
		if (write(ready[1], &c, 1) != 1)
			_exit(3);
		(void)read(go[0], &c, 1); /* a byte, or EOF if the test died */
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(db);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	char c = 0;
	assert_int_equal(read(ready[0], &c, 1), 1); /* the lock is held */
	assert_int_equal(c, 'L');
	close(ready[0]);
	l->go = go[1];
}

static void
release_locker(locker *l)
{
	char c = 'G';
	assert_int_equal(write(l->go, &c, 1), 1);
	close(l->go);
	int status = -1;
	assert_int_equal(waitpid(l->pid, &status, 0), l->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* An outbox worker's write on the shared connection, in a thread. */
typedef struct worker_job {
	store *w;
	int in_tx; /* begin + user_add + commit, else one autocommit outbox_add */
	pthread_mutex_t mu;
	int started, done, rc;
} worker_job;

static void *
worker_write(void *arg)
{
	worker_job *j = arg;
	pthread_mutex_lock(&j->mu);
	j->started = 1;
	pthread_mutex_unlock(&j->mu);
	int rc;
	int64_t id = 0;
	if (j->in_tx) {
		rc = j->w->ops->begin(j->w);
		if (rc == 0 && (rc = j->w->ops->user_add(j->w, "from-worker", "h", &id)) == 0)
			rc = j->w->ops->commit(j->w);
		else if (rc != TS_ETIMEOUT)
			j->w->ops->rollback(j->w);
	} else {
		rc = j->w->ops->outbox_add(j->w, "confirm_order", "share-w", &id);
	}
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->done = 1;
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static int
job_flag(worker_job *j, int *flag)
{
	pthread_mutex_lock(&j->mu);
	int v = *flag;
	pthread_mutex_unlock(&j->mu);
	return v;
}

/* issue 9 leftover: a worker waiting for another process's write lock
 * held the shared connection, and the event-loop thread's read waited for
 * it (then answered 503). The loop handle here may wait 5 s for its turn,
 * far longer than a try on the connection takes however loaded the
 * machine; the worker would wait 60 s for the lock. Old code: the read
 * times out after 5 s (TS_ETIMEOUT). Both the worker's autocommit write
 * and its BEGIN IMMEDIATE. */
static void
test_worker_waits_outside_the_hold(void **state)
{
	(void)state;
	store *loop = NULL, *w = NULL;
	store_opts lo = { .wait_ms = 5000 };
	assert_int_equal(store_open_opts(dbpath, &lo, &loop), 0);
	store_opts wo = { .wait_ms = 60000, .share_with = loop };
	assert_int_equal(store_open_opts(dbpath, &wo, &w), 0);
	int64_t uid = 0, got = 0;
	assert_int_equal(loop->ops->user_add(loop, "alice", "h", &uid), 0);
	for (int in_tx = 0; in_tx <= 1; in_tx++) {
		locker l;
		start_locker(&l);
		worker_job j = { .w = w, .in_tx = in_tx };
		pthread_mutex_init(&j.mu, NULL);
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, worker_write, &j), 0);
		for (int i = 0; i < 2000 && !job_flag(&j, &j.started); i++)
			sleep_ms(5);
		assert_true(job_flag(&j, &j.started));
		/* the worker is at the lock now (or within microseconds) and stays
		 * there while the other process holds it */
		for (int i = 0; i < 10; i++) {
			sleep_ms(50);
			got = 0;
			assert_int_equal(loop->ops->user_by_name(loop, "alice", &got), 0);
			assert_int_equal(got, uid);
		}
		assert_false(job_flag(&j, &j.done)); /* still waiting for the lock */
		release_locker(&l);
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_int_equal(j.rc, 0); /* and it got the lock once it was free */
		pthread_mutex_destroy(&j.mu);
	}
	assert_int_equal(loop->ops->user_by_name(loop, "from-worker", &got), 0);
	store_close(w);
	store_close(loop);
}

/* A lock another connection holds is TS_ETIMEOUT (the loop's 503
 * store_busy), never TS_ENOTFOUND ("not enrolled", 403): sq_device_user's
 * own mapping of a failed step (the lock comes from a shared-cache table
 * lock, SQLITE_LOCKED, which SQLite reports at once and deterministically;
 * SQLITE_BUSY takes the same branch), and the handle's (another handle's
 * transaction holds the shared connection). */
static void
test_device_user_busy_is_not_not_found(void **state)
{
	(void)state;
	sqlite3_enable_shared_cache(1);
	store *s = NULL, *w = NULL;
	store_opts so = { .wait_ms = 50 };
	assert_int_equal(store_open_opts(dbpath, &so, &s), 0);
	int64_t uid = 0, uid2 = 0, got = -1;
	assert_int_equal(s->ops->user_add(s, "alice", "h", &uid), 0);
	assert_int_equal(s->ops->device_add(s, "dev-1", uid, "phone"), 0);
	assert_int_equal(s->ops->device_user(s, "dev-x", &got), TS_ENOTFOUND);
	/* s's reads keep their read transaction open after the op
	 * (store_sqlite.c rtx_prepare); in shared-cache mode (this test's,
	 * never the node's) it holds a table lock the write below would wait
	 * for: a write op of s ends it. */
	assert_int_equal(s->ops->user_add(s, "bob", "h", &uid2), 0);
	sqlite3 *other = NULL;
	assert_int_equal(sqlite3_open_v2(dbpath, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE devices SET name = name", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(s->ops->device_user(s, "dev-x", &got), TS_ETIMEOUT);
	assert_int_equal(s->ops->device_user(s, "dev-1", &got), TS_ETIMEOUT);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(s->ops->device_user(s, "dev-x", &got), TS_ENOTFOUND);
	assert_int_equal(s->ops->device_user(s, "dev-1", &got), 0);
	assert_int_equal(got, uid);
	/* another handle's transaction on the shared connection */
	store_opts wo = { .wait_ms = 50, .share_with = s };
	assert_int_equal(store_open_opts(dbpath, &wo, &w), 0);
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(w->ops->device_user(w, "dev-x", &got), TS_ETIMEOUT);
	s->ops->rollback(s);
	assert_int_equal(w->ops->device_user(w, "dev-x", &got), TS_ENOTFOUND);
	store_close(w);
	store_close(s);
	sqlite3_enable_shared_cache(0);
}

/* fdatasync as SQLite calls it (this executable's definition takes its
 * place, as an LD_PRELOAD would): counted, then done. While the gate is
 * closed (test_group_commit) each call waits in it until it opens. */
static int fsyncs;
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_closed, gate_waiting;
int fdatasync(int fd);
int
fdatasync(int fd)
{
	pthread_mutex_lock(&gate_mu);
	fsyncs++;
	if (gate_closed) {
		gate_waiting++;
		pthread_cond_broadcast(&gate_cv);
		while (gate_closed)
			pthread_cond_wait(&gate_cv, &gate_mu);
		gate_waiting--;
	}
	pthread_mutex_unlock(&gate_mu);
	return (int)syscall(SYS_fdatasync, fd);
}

/* sqlite3_step as the store calls it (the same way as fdatasync above):
 * while steps_prefix is set, the steps of statements whose SQL starts with
 * it are counted, then the real one runs. */
static pthread_mutex_t steps_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *steps_prefix;
static int steps;
int
sqlite3_step(sqlite3_stmt *p)
{
	static int (*real)(sqlite3_stmt *);
	pthread_mutex_lock(&steps_mu);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "sqlite3_step");
	const char *sql = sqlite3_sql(p);
	if (steps_prefix != NULL && sql != NULL && strncmp(sql, steps_prefix, strlen(steps_prefix)) == 0)
		steps++;
	int (*f)(sqlite3_stmt *) = real;
	pthread_mutex_unlock(&steps_mu);
	return f(p);
}

/* Starts counting the steps of statements beginning with prefix (NULL:
 * stops); returns the count since the last call. */
static int
count_steps(const char *prefix)
{
	pthread_mutex_lock(&steps_mu);
	int n = steps;
	steps = 0;
	steps_prefix = prefix;
	pthread_mutex_unlock(&steps_mu);
	return n;
}

static void
gate(int closed)
{
	pthread_mutex_lock(&gate_mu);
	gate_closed = closed;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static int
gate_waiters(void)
{
	pthread_mutex_lock(&gate_mu);
	int n = gate_waiting;
	pthread_mutex_unlock(&gate_mu);
	return n;
}

struct gc_job {
	store *h;
	const char *name;
	int in_tx; /* begin, user_add, commit */
	int rc;
	_Atomic int done;
};

static void *
gc_thread(void *arg)
{
	struct gc_job *j = arg;
	int64_t id = 0;
	if (j->in_tx) {
		j->rc = j->h->ops->begin(j->h);
		if (j->rc == 0 && (j->rc = j->h->ops->user_add(j->h, j->name, "h", &id)) == 0)
			j->rc = j->h->ops->commit(j->h);
		else
			j->h->ops->rollback(j->h);
	} else if (j->name[0] == '?') {
		j->rc = j->h->ops->user_by_name(j->h, j->name + 1, &id);
	} else {
		j->rc = j->h->ops->user_add(j->h, j->name, "h", &id);
	}
	j->done = 1;
	return NULL;
}

/* Polls (at most 30 s) until cond(arg) holds. */
static int
wait_until(int (*cond)(void *), void *arg)
{
	for (int i = 0; i < 3000; i++) {
		if (cond(arg))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static int
has_gate_waiter(void *arg)
{
	(void)arg;
	return gate_waiters() > 0;
}

struct seen {
	store *other;
	const char *name;
};

static int
committed_elsewhere(void *arg)
{
	struct seen *x = arg;
	int64_t id;
	return x->other->ops->user_by_name(x->other, x->name, &id) == 0;
}

/* fcntl as SQLite calls it (glibc's fcntl64; its locks: the WAL index's
 * read and write locks are fcntl(F_SETLK) on the -shm file), counted like
 * fdatasync. */
static int fcntls;
int fcntl64(int fd, int cmd, ...);
int
fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	__atomic_fetch_add(&fcntls, 1, __ATOMIC_RELAXED);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

/* A handle's consecutive reads share one read transaction (store_sqlite.c
 * rtx_prepare): ten reads take the WAL read lock once, not ten times (two
 * fcntl each). They still see every commit made before them: the handle's
 * own write, another connection's commit (the WAL index header changed),
 * another handle's write on the shared connection. */
static void
test_reads_share_a_transaction(void **state)
{
	(void)state;
	store *s = NULL, *own = NULL, *w = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	assert_int_equal(store_open(dbpath, &own), 0);
	store_opts wo = { .share_with = s };
	assert_int_equal(store_open_opts(dbpath, &wo, &w), 0);
	int64_t uid = 0, got = 0;
	assert_int_equal(s->ops->user_add(s, "alice", "h", &uid), 0);
	int f0 = fcntls;
	for (int i = 0; i < 10; i++)
		assert_int_equal(s->ops->user_by_name(s, "alice", &got), 0);
	assert_true(fcntls - f0 < 10);
	assert_int_equal(s->ops->user_add(s, "bob", "h", &uid), 0);
	assert_int_equal(s->ops->user_by_name(s, "bob", &got), 0);
	assert_int_equal(got, uid);
	assert_int_equal(s->ops->user_by_name(s, "carol", &got), TS_ENOTFOUND);
	assert_int_equal(own->ops->user_add(own, "carol", "h", &uid), 0);
	assert_int_equal(s->ops->user_by_name(s, "carol", &got), 0);
	assert_int_equal(got, uid);
	assert_int_equal(s->ops->user_by_name(s, "dave", &got), TS_ENOTFOUND);
	assert_int_equal(w->ops->user_add(w, "dave", "h", &uid), 0);
	assert_int_equal(s->ops->user_by_name(s, "dave", &got), 0);
	assert_int_equal(got, uid);
	store_close(w);
	store_close(own);
	store_close(s);
}

/* A failed check leaves shared-cache mode on for no other test. */
static int
shared_cache_teardown(void **state)
{
	sqlite3_enable_shared_cache(0);
	return teardown(state);
}

/* A failed check leaves no thread waiting in the gate. */
static int
gate_teardown(void **state)
{
	gate(0);
	return teardown(state);
}

/* Group commit (store_sqlite.c sq_durable): a commit's fdatasync runs
 * outside the shared connection's hold. While one worker's sync is under
 * way (held in the gate), two other handles' transactions run and commit;
 * neither returns before the sync that covers it, nor does a read of the
 * loop's handle (it may have seen those commits); one more fdatasync then
 * covers both transactions: 2 for 3 commits. */
static void
test_group_commit(void **state)
{
	(void)state;
	store *s = NULL, *w[3] = { NULL, NULL, NULL }, *other = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	for (int i = 0; i < 3; i++) {
		store_opts so = { .wait_ms = 5000, .share_with = s };
		assert_int_equal(store_open_opts(dbpath, &so, &w[i]), 0);
	}
	assert_int_equal(store_open(dbpath, &other), 0); /* a connection of its own */
	int64_t uid;
	assert_int_equal(s->ops->user_add(s, "first", "h", &uid), 0); /* the WAL's first sync */
	int f0 = fsyncs;
	gate(1);
	struct gc_job a = { .h = w[0], .name = "a" };
	pthread_t ta, tb1, tb2, tc;
	assert_int_equal(pthread_create(&ta, NULL, gc_thread, &a), 0);
	assert_true(wait_until(has_gate_waiter, NULL)); /* a's commit is in its fdatasync */
	struct gc_job b1 = { .h = w[1], .name = "b1", .in_tx = 1 }, b2 = { .h = w[2], .name = "b2", .in_tx = 1 };
	struct gc_job c = { .h = s, .name = "?a" };
	assert_int_equal(pthread_create(&tb1, NULL, gc_thread, &b1), 0);
	assert_int_equal(pthread_create(&tb2, NULL, gc_thread, &b2), 0);
	struct seen x1 = { other, "b1" }, x2 = { other, "b2" };
	/* both transactions committed (another connection sees them) while
	 * a's sync is still held: the hold was free */
	assert_true(wait_until(committed_elsewhere, &x1));
	assert_true(wait_until(committed_elsewhere, &x2));
	assert_int_equal(pthread_create(&tc, NULL, gc_thread, &c), 0);
	sleep_ms(100);
	assert_false(a.done);
	assert_false(b1.done); /* not durable yet: not returned */
	assert_false(b2.done);
	assert_false(c.done); /* read what is not durable yet: waits too */
	assert_int_equal(fsyncs, f0 + 1);
	gate(0);
	pthread_join(ta, NULL);
	pthread_join(tb1, NULL);
	pthread_join(tb2, NULL);
	pthread_join(tc, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b1.rc, 0);
	assert_int_equal(b2.rc, 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(fsyncs, f0 + 2); /* b1 and b2 in one */
	store_close(other);
	for (int i = 0; i < 3; i++)
		store_close(w[i]);
	store_close(s);
}

static void
put_share(store *s, const char *id, enum share_state state, int64_t updated_at)
{
	store_share sh = { .user_id = 7, .state = state, .created_at = 1, .updated_at = updated_at };
	snprintf(sh.id, sizeof(sh.id), "%s", id);
	snprintf(sh.eid, sizeof(sh.eid), "89049032123451234512345678901235");
	snprintf(sh.operation, sizeof(sh.operation), "share");
	assert_int_equal(s->ops->share_insert(s, &sh), 0);
}

/* The connection runs synchronous=NORMAL and its WAL hook fdatasyncs after
 * every commit (store_sqlite.c sq_wal_hook, sq_durable): each kind of commit
 * is on disk when the op returns: an autocommit statement, an op of several
 * statements, a caller's transaction, an op's own transaction (prune), a
 * follow-up statement that changed a row (share_update's indexed columns)
 * and the migrations at open. (The outbox bookkeeping that is not synced
 * is test_store's test_outbox_bookkeeping_relaxed.) */
static void
test_every_commit_fsyncs(void **state)
{
	(void)state;
	store *s = NULL;
	int f0 = fsyncs;
	assert_int_equal(store_open(dbpath, &s), 0);
	assert_true(fsyncs > f0); /* the schema */
	int64_t uid = 0;
	f0 = fsyncs;
	assert_int_equal(s->ops->user_add(s, "alice", "h", &uid), 0);
	assert_true(fsyncs > f0);
	f0 = fsyncs;
	assert_int_equal(s->ops->token_add(s, "tok", "dev", uid, 4000000000LL), 0);
	assert_true(fsyncs > f0);
	f0 = fsyncs;
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->user_add(s, "bob", "h", &uid), 0);
	put_share(s, "sh-1", SHARE_REVOKED, 1000);
	assert_int_equal(fsyncs, f0); /* nothing before the commit */
	assert_int_equal(s->ops->commit(s), 0);
	assert_true(fsyncs > f0);
	store_share sh;
	assert_int_equal(s->ops->share_get(s, "sh-1", &sh), 0);
	snprintf(sh.matching_id, sizeof(sh.matching_id), "M-1");
	f0 = fsyncs;
	/* an indexed column changed, autocommit: the second statement commits,
	 * on disk when the op returns */
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(fsyncs, f0 + 1);
	size_t n = 0;
	f0 = fsyncs;
	assert_int_equal(s->ops->prune(s, 2000, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_true(fsyncs > f0);
	store_close(s);
}

/* share_update sets the indexed columns (user_id, eid, assoc_app_id,
 * matching_id, created_at) by a second statement only when one differs,
 * and erases the credential with the state: the row still ends as given.
 * tx_put updates in place, share_id / eid / created_at by a second
 * statement. */
static void
test_updates_whole_row(void **state)
{
	(void)state;
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	put_share(s, "sh-1", SHARE_EID_CONFIRMED, 10);
	assert_int_equal(s->ops->share_set_credential(s, "sh-1", "{\"k\":1}"), 0);
	store_share sh, got;
	assert_int_equal(s->ops->share_get(s, "sh-1", &sh), 0);
	sh.state = SHARE_AUTHORISED;
	sh.user_id = 8;
	sh.not_after = 99;
	sh.updated_at = 11;
	sh.created_at = 3;
	snprintf(sh.eid, sizeof(sh.eid), "89049032123451234512345678901332");
	snprintf(sh.assoc_app_id, sizeof(sh.assoc_app_id), "assoc-1");
	snprintf(sh.matching_id, sizeof(sh.matching_id), "M-1");
	snprintf(sh.device_id, sizeof(sh.device_id), "dev-2");
	snprintf(sh.reason, sizeof(sh.reason), "why");
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->share_get(s, "sh-1", &got), 0);
	assert_int_equal(got.user_id, 8);
	assert_int_equal(got.state, SHARE_AUTHORISED);
	assert_int_equal(got.not_after, 99);
	assert_int_equal(got.updated_at, 11);
	assert_int_equal(got.created_at, 3);
	assert_string_equal(got.eid, sh.eid);
	assert_string_equal(got.assoc_app_id, "assoc-1");
	assert_string_equal(got.matching_id, "M-1");
	assert_string_equal(got.device_id, "dev-2");
	assert_string_equal(got.reason, "why");
	char *cred = NULL;
	assert_int_equal(s->ops->share_get_credential(s, "sh-1", &cred), 0); /* kept while authorised */
	assert_string_equal(cred, "{\"k\":1}");
	free(cred);
	store_share_app ids[2];
	size_t n = 0;
	assert_int_equal(s->ops->shares_of_eid(s, sh.eid, ids, 2, &n), 0); /* the index follows */
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->share_by_matching(s, "M-1", &got), 0);
	sh.state = SHARE_INSTALLED;
	sh.updated_at = 12;
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->share_get_credential(s, "sh-1", &cred), TS_ENOTFOUND); /* erased */
	assert_int_equal(s->ops->share_get(s, "sh-1", &got), 0);
	assert_int_equal(got.state, SHARE_INSTALLED);
	assert_string_equal(got.matching_id, "M-1");
	store_tx tx = { .stage = 1, .created_at = 5 }, tg;
	snprintf(tx.id, sizeof(tx.id), "tx1");
	snprintf(tx.share_id, sizeof(tx.share_id), "sh-1");
	snprintf(tx.eid, sizeof(tx.eid), "E1");
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	tx.stage = 2;
	tx.euicc_sig1[0] = 0x5a;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(s->ops->tx_get(s, "tx1", &tg), 0);
	assert_int_equal(tg.stage, 2);
	assert_int_equal(tg.euicc_sig1[0], 0x5a);
	assert_int_equal(tg.created_at, 5);
	snprintf(tx.share_id, sizeof(tx.share_id), "sh-2");
	snprintf(tx.eid, sizeof(tx.eid), "E2");
	tx.created_at = 6;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(s->ops->tx_get(s, "tx1", &tg), 0);
	assert_string_equal(tg.share_id, "sh-2");
	assert_string_equal(tg.eid, "E2");
	assert_int_equal(tg.created_at, 6);
	store_close(s);
}

/* share_update and tx_put are one statement each when the indexed columns
 * stay as they are (a transition, a stage of the download), two only when
 * one of them changes (issue 9: fewer statements per flow; the row's end
 * state is test_updates_whole_row's). */
static void
test_one_statement_per_update(void **state)
{
	(void)state;
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	put_share(s, "sh-1", SHARE_EID_CONFIRMED, 10);
	store_share sh, got;
	assert_int_equal(s->ops->share_get(s, "sh-1", &sh), 0);
	count_steps("UPDATE shares SET");
	assert_int_equal(s->ops->begin(s), 0);
	sh.state = SHARE_AUTHORISED;
	sh.updated_at = 11;
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(s->ops->commit(s), 0);
	assert_int_equal(count_steps("UPDATE shares SET"), 1);
	sh.state = SHARE_DELIVERED; /* autocommit too */
	sh.updated_at = 12;
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(count_steps("UPDATE shares SET"), 1);
	snprintf(sh.matching_id, sizeof(sh.matching_id), "M-2");
	assert_int_equal(s->ops->share_update(s, &sh), 0);
	assert_int_equal(count_steps("UPDATE shares SET"), 2);
	snprintf(sh.id, sizeof(sh.id), "sh-none");
	assert_int_equal(s->ops->share_update(s, &sh), TS_ENOTFOUND);
	assert_int_equal(count_steps(NULL), 2);
	assert_int_equal(s->ops->share_get(s, "sh-1", &got), 0);
	assert_int_equal(got.state, SHARE_DELIVERED);
	assert_string_equal(got.matching_id, "M-2");
	store_tx tx = { .stage = 1, .created_at = 5 }, tg;
	snprintf(tx.id, sizeof(tx.id), "tx1");
	snprintf(tx.share_id, sizeof(tx.share_id), "sh-1");
	snprintf(tx.eid, sizeof(tx.eid), "E1");
	count_steps("UPDATE es9_tx");
	assert_int_equal(s->ops->tx_put(s, &tx), 0); /* new */
	tx.stage = 2;
	assert_int_equal(s->ops->tx_put(s, &tx), 0); /* the next stage */
	assert_int_equal(count_steps("INSERT INTO es9_tx"), 0);
	tx.stage = 3;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(count_steps("UPDATE es9_tx"), 1);
	tx.created_at = 6;
	assert_int_equal(s->ops->tx_put(s, &tx), 0);
	assert_int_equal(count_steps(NULL), 1);
	assert_int_equal(s->ops->tx_get(s, "tx1", &tg), 0);
	assert_int_equal(tg.stage, 3);
	assert_int_equal(tg.created_at, 6);
	store_close(s);
}

/* stat(2) size of dbpath + sfx, -1 when there is no such file. */
static long long
file_size(const char *sfx)
{
	char p[160];
	struct stat sb;
	snprintf(p, sizeof(p), "%s%s", dbpath, sfx);
	return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int
pragma_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *p = NULL;
	int v = -1;
	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &p, NULL) == SQLITE_OK && sqlite3_step(p) == SQLITE_ROW)
		v = sqlite3_column_int(p, 0);
	sqlite3_finalize(p);
	sqlite3_close(db);
	return v;
}

/* A new database has 2048-byte pages (issue 9: half the bytes per commit);
 * the serving store's write-ahead log is grown at open to what a
 * checkpoint cycle fills (4000 + 64 frames of 24 + 2048 bytes, after the
 * 32-byte header), so that no commit extends the file; a store that does
 * not serve (the CLI's) leaves it as SQLite makes it. */
static void
test_new_database_page_and_log(void **state)
{
	(void)state;
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0); /* the CLI's: not serving */
	int64_t uid = 0;
	assert_int_equal(s->ops->user_add(s, "alice", "h", &uid), 0);
	assert_true(file_size("-wal") < 1000000);
	store_close(s);
	assert_int_equal(pragma_int("PRAGMA page_size"), 2048);
	const long long want = 32 + (4000LL + 64) * (24 + 2048);
	store_opts o = { .serving = 1 };
	assert_int_equal(store_open_opts(dbpath, &o, &s), 0);
	assert_int_equal(file_size("-wal"), want);
	for (int i = 0; i < 50; i++) {
		char name[32];
		snprintf(name, sizeof(name), "user-%d", i);
		assert_int_equal(s->ops->user_add(s, name, "h", &uid), 0);
	}
	assert_int_equal(file_size("-wal"), want); /* the commits went into it */
	assert_int_equal(s->ops->user_by_name(s, "user-49", &uid), 0);
	store_close(s);
	/* reopened (the log's frames recovered, or checkpointed at close) */
	assert_int_equal(store_open_opts(dbpath, &o, &s), 0);
	assert_int_equal(s->ops->user_by_name(s, "user-49", &uid), 0);
	assert_int_equal(file_size("-wal"), want);
	store_close(s);
}

/* Migration 11 drops AUTOINCREMENT from events, companion_cmds and outbox:
 * a schema-10 database whose newest rows were deleted (their ids kept only
 * in sqlite_sequence) still gives new rows ids above every id it gave. */
static void
test_migration_keeps_high_water(void **state)
{
	(void)state;
	static const char v10[] =
	    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
	    "INSERT INTO schema_version(version) VALUES(10);"
	    "CREATE TABLE shares (id TEXT PRIMARY KEY, eid TEXT NOT NULL, state TEXT NOT NULL,"
	    "  not_after INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	    "CREATE INDEX shares_expiry ON shares(state, not_after);"
	    "CREATE INDEX shares_updated ON shares(updated_at);"
	    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL,"
	    "  share_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL);"
	    "CREATE INDEX events_user ON events(user_id, id);"
	    "CREATE INDEX events_share ON events(share_id);"
	    "CREATE TABLE companion_cmds (id INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL,"
	    "  share_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
	    "  created_at INTEGER NOT NULL);"
	    "CREATE INDEX cmds_eid ON companion_cmds(eid, done, id);"
	    "CREATE INDEX cmds_share ON companion_cmds(share_id);"
	    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, share_id TEXT NOT NULL,"
	    "  call_id TEXT UNIQUE NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
	    "  lease_until INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
	    "CREATE INDEX outbox_due ON outbox(done, next_at);"
	    "CREATE INDEX outbox_share ON outbox(share_id);"
	    "INSERT INTO events(user_id, share_id, type, data, created_at) VALUES"
	    "  (7, 'a', 't', '{}', 1), (7, 'b', 't', '{}', 1), (7, 'c', 't', '{}', 1);"
	    "INSERT INTO companion_cmds(eid, share_id, type, data, created_at) VALUES"
	    "  ('E', 'a', 't', '{}', 1), ('E', 'b', 't', '{}', 1), ('E', 'c', 't', '{}', 1);"
	    "INSERT INTO outbox(kind, share_id, call_id, next_at) VALUES"
	    "  ('k', 'a', 'c1', 0), ('k', 'b', 'c2', 0), ('k', 'c', 'c3', 0);"
	    "DELETE FROM events WHERE id > 1; DELETE FROM companion_cmds WHERE id > 1;"
	    "DELETE FROM outbox WHERE id > 1;";
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v10, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	int64_t id = 0;
	assert_int_equal(s->ops->event_add(s, 7, "d", "t", "{}", &id), 0);
	assert_int_equal(id, 4);
	assert_int_equal(s->ops->cmd_add(s, "E", "d", "t", "{}", &id), 0);
	assert_int_equal(id, 4);
	assert_int_equal(s->ops->outbox_add(s, "k", "d", &id), 0);
	assert_int_equal(id, 4);
	/* the high-water rows are no one's */
	store_event ev[8];
	size_t n = 0;
	assert_int_equal(s->ops->events_after(s, 7, NULL, 0, ev, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].id, 1);
	assert_int_equal(ev[1].id, 4);
	store_cmd cm[8];
	assert_int_equal(s->ops->cmds_pending(s, "E", 0, cm, 8, &n), 0);
	assert_int_equal(n, 2);
	int64_t pending = 0, retrying = 0;
	assert_int_equal(s->ops->outbox_depth(s, &pending, &retrying), 0);
	assert_int_equal(pending, 2);
	store_close(s);
	assert_int_equal(pragma_int("SELECT count(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'"), 0);
	assert_int_equal(pragma_int("SELECT MAX(version) FROM schema_version"), 12);
}

/* write_bytes of /proc/self/io: what this process made dirty in the page
 * cache, to be written back (-1: not available). */
static long long
io_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The grown log is written in page-sized pieces: a commit then dirties (and
 * its fdatasync writes back) only the few pages its frames touch. Grown in
 * 64 kB writes, ext4 (6.16+ on this machine) caches it in large folios and
 * a small commit dirties a whole one (where the page cache has no large
 * folios, both pass). */
static void
test_grown_log_small_writes(void **state)
{
	(void)state;
	store *s = NULL;
	store_opts o = { .serving = 1 };
	assert_int_equal(store_open_opts(dbpath, &o, &s), 0);
	int64_t uid = 0;
	assert_int_equal(s->ops->user_add(s, "warm", "h", &uid), 0);
	long long w0 = io_write_bytes();
	if (w0 < 0) {
		store_close(s);
		skip();
	}
	for (int i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof(name), "u%d", i);
		assert_int_equal(s->ops->user_add(s, name, "h", &uid), 0);
	}
	long long per = (io_write_bytes() - w0) / 40;
	if (per >= 16384)
		fprintf(stderr, "write_bytes per one-row commit: %lld\n", per);
	assert_true(per < 16384); /* measured: 8.3 kB; grown in 64 kB writes: 25.3 kB */
	store_close(s);
}

/* Every slot of the SQLite handle's ops table is set (store_sqlite.c makes
 * the table and the wrappers from one list and checks its length against
 * struct store_ops at compile time; this is the run-time half). */
static void
test_no_null_op(void **state)
{
	(void)state;
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	typedef void (*slot_fn)(void);
	const unsigned char *t = (const unsigned char *)s->ops;
	size_t nslots = sizeof(struct store_ops) / sizeof(slot_fn);
	assert_true(nslots > 70);
	for (size_t i = 0; i < nslots; i++) {
		slot_fn f;
		memcpy(&f, t + i * sizeof(slot_fn), sizeof(f));
		if (f == NULL)
			fail_msg("store_ops slot %zu is NULL on SQLite", i);
	}
	store_close(s);
}

/* An ephemeral table's page cache takes no 20-page block at once
 * (store_sqlite.c sq_config): the prune's IN (SELECT ...) list, an
 * ephemeral table, allocates nothing near 87 kB (4 kB pages: an ephemeral
 * table has the default page size). SQLITE_STATUS_MALLOC_SIZE is the
 * largest single allocation since the reset, and SQLite keeps it only with
 * its memory statistics on, which sq_config turns off (every allocation
 * took a global mutex for them): off first (checked), then on again for the
 * measurement (after sqlite3_shutdown; the page-cache setting stays). The
 * first store_sqlite_open of this process configures SQLite: it must come
 * before any raw sqlite3_open here (test order). */
static void
test_no_page_cache_block(void **state)
{
	(void)state;
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	size_t n = 0;
	assert_int_equal(s->ops->prune(s, 1, 10, &n), 0);
	sqlite3_int64 cur = -1, hi = -1;
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &hi, 0), SQLITE_OK);
	assert_int_equal(cur, 0); /* no statistics kept */
	store_close(s);
	assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1), SQLITE_OK);
	assert_int_equal(store_open(dbpath, &s), 0);
	/* prepared once (its own allocations), then measured */
	assert_int_equal(s->ops->prune(s, 1, 10, &n), 0);
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &cur, &hi, 1), SQLITE_OK);
	assert_int_equal(s->ops->prune(s, 1, 10, &n), 0);
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &cur, &hi, 0), SQLITE_OK);
	if (hi >= 16384)
		fprintf(stderr, "largest SQLite allocation in a prune: %lld bytes\n", (long long)hi);
	assert_true(hi > 0 && hi < 16384);
	store_close(s);
}

/* Writing a share row builds no ephemeral table (migration 12): SQLite
 * evaluates each partial index's WHERE for the rows it writes, and an IN
 * list of constants there is an ephemeral table built at each evaluation
 * (the share INSERT had 2, an UPDATE of its state 4). EXPLAIN of such
 * statements on the migrated schema has no OpenEphemeral. */
static int
ephemeral_tables(sqlite3 *db, const char *sql)
{
	char q[1024];
	snprintf(q, sizeof(q), "EXPLAIN %s", sql);
	sqlite3_stmt *p = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &p, NULL), SQLITE_OK);
	int n = 0, ops = 0;
	while (sqlite3_step(p) == SQLITE_ROW) {
		ops++;
		n += strcmp((const char *)sqlite3_column_text(p, 1), "OpenEphemeral") == 0;
	}
	sqlite3_finalize(p);
	assert_true(ops > 10);
	return n;
}

static void
test_share_writes_no_ephemeral_table(void **state)
{
	(void)state;
	store *s = NULL;
	assert_int_equal(store_open(dbpath, &s), 0);
	store_close(s);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	/* the oracle: the same statement with an IN list in a partial index
	 * (migration 11's form) builds one */
	assert_int_equal(sqlite3_exec(db, "CREATE TEMP TABLE t(a TEXT NOT NULL, b INTEGER);"
					  "CREATE INDEX temp.t_b ON t(b) WHERE a IN ('x','y','z');",
			     NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(ephemeral_tables(db, "INSERT INTO t(a, b) VALUES(?, ?)"), 1);
	assert_int_equal(ephemeral_tables(db,
			     "INSERT INTO shares(id, user_id, device_id, eid, app_id, provider, state, duration_s,"
			     " not_after, assoc_app_id, assoc_name, assoc_kind, matching_id, reason, created_at,"
			     " updated_at, operation) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
	    0);
	assert_int_equal(ephemeral_tables(db, "UPDATE shares SET state=?2, not_after=?3, updated_at=?4 WHERE id=?1"), 0);
	assert_int_equal(ephemeral_tables(db, "DELETE FROM shares WHERE id=?"), 0);
	sqlite3_close(db);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_waits_outside_the_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_user_busy_is_not_not_found, setup, shared_cache_teardown),
		cmocka_unit_test_setup_teardown(test_no_null_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_commit_fsyncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, gate_teardown),
		cmocka_unit_test_setup_teardown(test_reads_share_a_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_updates_whole_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_statement_per_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_database_page_and_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_keeps_high_water, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grown_log_small_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_page_cache_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_writes_no_ephemeral_table, setup, teardown),
	};
	return cmocka_run_group_tests_name("store_sqlite_locks", tests, NULL, NULL);
}
