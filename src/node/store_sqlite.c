/*
 * store_sqlite.c — SQLite backend of store.h. WAL mode, every commit
 * fdatasynced before its statement returns (sq_wal_hook: the durability of
 * synchronous=FULL), so a commit is durable before the node acknowledges
 * anything. Prepared statements are cached per connection, keyed by the
 * address of the SQL literal. The node's threads share one connection (store_opts.share_with):
 * every handle's operation holds the connection's mutex, a transaction from
 * begin to commit or rollback (see "handles" below). A lock another process
 * holds on the file (the operator's CLI) is waited for outside that hold.
 */
#include "node/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "lib/ptrmap.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* The statement cache starts this small and doubles when full, so it cannot
 * run out however many statements the store grows (issue 8). */
#define SQ_CACHE_INIT 8

struct sq_cached {
	const char *sql;
	sqlite3_stmt *st;
};

/* The WAL index header (SQLite's WalIndexHdr, the first copy at the start of
 * the -shm file): every commit of any connection changes it (iChange,
 * mxFrame), a restart of the log too (the salts). */
#define SQ_WAL_HDR 48

typedef struct sq_store {
	store base;
	sqlite3 *db;
	struct sq_cached *cache; /* ncache used of cap */
	size_t ncache, cap;
	ts_ptrmap cache_idx; /* sql address -> index in cache[] */
	char sql_expired[256]; /* built at open from the transition table */
	char sql_by_eid_app[640];
	char sql_prune[7][512]; /* prune: events, cmds, outbox, es9_tx, share_cc, then shares; [6] counts */
	FILE *explain;         /* TAPSHARE_STORE_EXPLAIN (tests): query plans, see sq_explain */
	uint8_t key[32];       /* node key (store_opts.secret_key) when has_key */
	int has_key;
	/* The handles' turn on the connection (see "handles" below): owner and
	 * depth under mu, cv signalled when owner becomes NULL. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const void *owner; /* the handle whose operation or transaction holds db */
	unsigned depth;    /* its nested holds */
	int refs;          /* handles on this connection (under mu) */
	int found_lock;    /* the owner's try met another connection's lock (sq_busy) */
	int relaxed;       /* the next commit needs no fsync (outbox bookkeeping, relaxed()) */
	/* Group commit (see "Durability" below): commits written to the WAL
	 * that must be on disk before anyone acts on them, and how many of
	 * them the last finished fdatasync covered. seq grows under the hold
	 * and sync_mu; synced and syncing under sync_mu. */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	_Atomic uint64_t seq, synced;
	int syncing;          /* a thread is in the WAL's fdatasync, outside the hold */
	sqlite3_file *wal;    /* the WAL (the connection's, set in the hook under the hold) */
	/* The read transaction one handle's consecutive reads share (see
	 * "handles" below): its handle (NULL: none open) and start (mono_ms). */
	const void *rtx_owner;
	int64_t rtx_start;
	const void *shm;        /* the WAL index as SQLite maps it (region 0), NULL until known */
	unsigned char rtx_hdr[SQ_WAL_HDR]; /* its header when the read transaction began */
} sq_store;

/* Numbered migrations; index i moves the schema from version i to i+1.
 * Never edit a released migration: add a new one. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	"  pass_hash TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE enroll_codes (code_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
	"  expires_at INTEGER NOT NULL, used_at INTEGER);"
	"CREATE TABLE devices (device_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
	"  name TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, device_id TEXT NOT NULL, user_id INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"CREATE TABLE providers (name TEXT PRIMARY KEY, url TEXT NOT NULL, ca_file TEXT NOT NULL);"
	"CREATE TABLE apps (app_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
	"  name TEXT NOT NULL, kind TEXT NOT NULL, provider TEXT NOT NULL, shareable INTEGER NOT NULL);"
	"CREATE TABLE shares (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, device_id TEXT NOT NULL,"
	"  eid TEXT NOT NULL, app_id TEXT NOT NULL, provider TEXT NOT NULL, state TEXT NOT NULL,"
	"  duration_s INTEGER NOT NULL, not_after INTEGER NOT NULL, assoc_app_id TEXT NOT NULL,"
	"  assoc_name TEXT NOT NULL, assoc_kind TEXT NOT NULL, credential TEXT, matching_id TEXT NOT NULL,"
	"  reason TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	"CREATE INDEX shares_user ON shares(user_id);"
	"CREATE INDEX shares_eid_assoc ON shares(eid, assoc_app_id);"
	"CREATE INDEX shares_matching ON shares(matching_id);"
	"CREATE INDEX shares_expiry ON shares(state, not_after);"
	"CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL,"
	"  share_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE INDEX events_user ON events(user_id, id);"
	"CREATE TABLE companion_cmds (id INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL,"
	"  share_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX cmds_eid ON companion_cmds(eid, done, id);"
	"CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, share_id TEXT NOT NULL,"
	"  call_id TEXT UNIQUE NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
	"  lease_until INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
	"CREATE INDEX outbox_due ON outbox(done, next_at);"
	"CREATE TABLE idempotency (device_id TEXT NOT NULL, key TEXT NOT NULL, req_hash TEXT NOT NULL,"
	"  status INTEGER NOT NULL, response TEXT NOT NULL, created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (device_id, key));"
	"CREATE TABLE es9_tx (id TEXT PRIMARY KEY, share_id TEXT NOT NULL, eid TEXT NOT NULL,"
	"  euicc_challenge BLOB, server_challenge BLOB, euicc_sig1 BLOB, smdp_sig2 BLOB, euicc_pub BLOB,"
	"  stage INTEGER NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE companions (eid TEXT PRIMARY KEY, euicc_pub BLOB NOT NULL, last_seen INTEGER NOT NULL);",
	/* 2: companion-initiated sharing */
	"CREATE TABLE offer_nonces (nonce TEXT PRIMARY KEY, share_id TEXT NOT NULL, expires_at INTEGER NOT NULL);",
	/* 3: move = share, then release the original */
	"ALTER TABLE apps ADD COLUMN released_share TEXT NOT NULL DEFAULT '';",
	/* 4: bank-ID apps whose key the companion's SE generates */
	"ALTER TABLE shares ADD COLUMN app_key TEXT NOT NULL DEFAULT '';",
	/* 5: a move is a transfer for the provider */
	"ALTER TABLE shares ADD COLUMN operation TEXT NOT NULL DEFAULT 'share';",
	/* 6: device revocation and the persisted passphrase throttle (issue 8) */
	"ALTER TABLE devices ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE pass_throttle (key TEXT PRIMARY KEY, attempts INTEGER NOT NULL,"
	"  window_start INTEGER NOT NULL);",
	/* 7: a companion belongs to the user whose share it installed first (issue 8) */
	"CREATE TABLE companion_owners (eid TEXT PRIMARY KEY, user_id INTEGER NOT NULL, since INTEGER NOT NULL);",
	/* 8: flat as the store grows (issue 9): the companion-command update
	 * and the housekeeping on an index (test_store_plans checks the plans) */
	"CREATE INDEX cmds_share ON companion_cmds(share_id);"
	"CREATE INDEX events_share ON events(share_id);"
	"CREATE INDEX shares_updated ON shares(updated_at);"
	"CREATE INDEX outbox_share ON outbox(share_id);"
	"CREATE INDEX es9_tx_share ON es9_tx(share_id);"
	"CREATE INDEX es9_tx_created ON es9_tx(created_at);"
	"CREATE INDEX idem_created ON idempotency(created_at);"
	"CREATE INDEX tokens_expiry ON tokens(expires_at);"
	"CREATE INDEX enroll_codes_expiry ON enroll_codes(expires_at) WHERE used_at IS NULL;"
	"CREATE INDEX offer_nonces_expiry ON offer_nonces(expires_at);"
	"CREATE INDEX devices_revoked ON devices(revoked_at) WHERE revoked_at <> 0;"
	"CREATE INDEX apps_user ON apps(user_id);",
	/* 9: SM-DS (ES11) event registrations, one per authorised share (issue 7) */
	"CREATE TABLE smds_events (share_id TEXT PRIMARY KEY, eid TEXT NOT NULL, event_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX smds_events_eid ON smds_events(eid, created_at);",
	/* 10: a share's confirmation code: SHA-256 of it, refused attempts (issue 7) */
	/* (parenthesised: one element, as clang's -Wstring-concatenation wants it said) */
	("CREATE TABLE share_cc (share_id TEXT PRIMARY KEY, cc_hash TEXT NOT NULL, attempts INTEGER NOT NULL"
	 "  DEFAULT 0);"),
	/* 11 (issue 9): events, companion_cmds and outbox without AUTOINCREMENT,
	 * whose sqlite_sequence page was written by every commit that added
	 * one of their rows (~5 of a flow's ~85 WAL frames). Their ids (the
	 * events' and commands' are Last-Event-ID cursors) still never go
	 * back: SQLite gives max(id) + 1, and the row at the max is never
	 * pruned away without a high-water row taking its id (sq_prune,
	 * SQ_HIGH_WATER). The mark AUTOINCREMENT kept above the rows that are
	 * left becomes such a row here. */
	("CREATE TABLE events_11 (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, share_id TEXT NOT NULL,"
	 "  type TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL);"
	 "INSERT INTO events_11(id, user_id, share_id, type, data, created_at)"
	 "  SELECT id, user_id, share_id, type, data, created_at FROM events;"
	 "INSERT INTO events_11(id, user_id, share_id, type, data, created_at) SELECT seq, 0, '', '', '', 0"
	 "  FROM sqlite_sequence WHERE name='events' AND seq > (SELECT coalesce(max(id), 0) FROM events);"
	 "DROP TABLE events;"
	 "ALTER TABLE events_11 RENAME TO events;"
	 "CREATE INDEX events_user ON events(user_id, id);"
	 "CREATE INDEX events_share ON events(share_id);"
	 "CREATE TABLE companion_cmds_11 (id INTEGER PRIMARY KEY, eid TEXT NOT NULL, share_id TEXT NOT NULL,"
	 "  type TEXT NOT NULL, data TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
	 "INSERT INTO companion_cmds_11(id, eid, share_id, type, data, done, created_at)"
	 "  SELECT id, eid, share_id, type, data, done, created_at FROM companion_cmds;"
	 "INSERT INTO companion_cmds_11(id, eid, share_id, type, data, done, created_at) SELECT seq, '', '', '', '', 1, 0"
	 "  FROM sqlite_sequence WHERE name='companion_cmds' AND seq > (SELECT coalesce(max(id), 0) FROM companion_cmds);"
	 "DROP TABLE companion_cmds;"
	 "ALTER TABLE companion_cmds_11 RENAME TO companion_cmds;"
	 "CREATE INDEX cmds_eid ON companion_cmds(eid, done, id);"
	 "CREATE INDEX cmds_share ON companion_cmds(share_id);"
	 "CREATE TABLE outbox_11 (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, share_id TEXT NOT NULL,"
	 "  call_id TEXT UNIQUE NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
	 "  lease_until INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
	 "INSERT INTO outbox_11(id, kind, share_id, call_id, attempts, next_at, lease_until, done, last_error)"
	 "  SELECT id, kind, share_id, call_id, attempts, next_at, lease_until, done, last_error FROM outbox;"
	 "INSERT INTO outbox_11(id, kind, share_id, call_id, next_at, done) SELECT seq, '', '', '', 0, 1"
	 "  FROM sqlite_sequence WHERE name='outbox' AND seq > (SELECT coalesce(max(id), 0) FROM outbox);"
	 "DROP TABLE outbox;"
	 "ALTER TABLE outbox_11 RENAME TO outbox;"
	 "CREATE INDEX outbox_due ON outbox(done, next_at);"
	 "CREATE INDEX outbox_share ON outbox(share_id);"
	 /* (the pg helper's, as on PostgreSQL) shares_of_eid walks an index
	  * instead of sorting; expiry and prune on partial indexes holding
	  * only expirable / finished shares (their queries state the same
	  * lists: store_sql_expirable(), store_sql_open_states()) */
	 "CREATE INDEX shares_eid_created ON shares(eid, created_at);"
	 "DROP INDEX shares_expiry;"
	 "CREATE INDEX shares_expiry ON shares(not_after) WHERE state IN ('authorised','delivered','installed')"
	 "  AND not_after > 0;"
	 "DROP INDEX shares_updated;"
	 "CREATE INDEX shares_updated ON shares(updated_at) WHERE state NOT IN ('requested','eid_confirmed',"
	 "  'authorised','delivered','installed','cancel_pending');"),
	/* 12 (issue 9): the same two partial indexes without IN lists. SQLite
	 * evaluates an index's WHERE for every row it writes (a share's
	 * INSERT twice, an UPDATE naming state four times: old and new row),
	 * and an IN list of more than two constants there builds an ephemeral
	 * table each time: its page cache, a 4 kB page allocated and zeroed
	 * twice, the values inserted (EXPLAIN: 4 OpenEphemeral in the share
	 * UPDATE, 2 in the INSERT; ~40 per flow). Equalities and inequalities
	 * are compared in place. The expiry and prune queries state the same
	 * terms (store_sql_expirable_or(), store_sql_final_and()). */
	("DROP INDEX shares_expiry;"
	 "CREATE INDEX shares_expiry ON shares(not_after)"
	 "  WHERE (state='authorised' OR state='delivered' OR state='installed') AND not_after > 0;"
	 "DROP INDEX shares_updated;"
	 "CREATE INDEX shares_updated ON shares(updated_at) WHERE state<>'requested' AND state<>'eid_confirmed'"
	 "  AND state<>'authorised' AND state<>'delivered' AND state<>'installed' AND state<>'cancel_pending';"),
};

/* TAPSHARE_STORE_EXPLAIN=FILE (tests): each statement's EXPLAIN QUERY PLAN,
 * the first time this connection prepares it, as "-- SQL" and the plan
 * rows (tests/integration/test_store_plans.sh fails on a table SCAN). */
static void
sq_explain(sq_store *s, const char *sql)
{
	size_t len = strlen(sql) + 20;
	char *text = malloc(len);
	sqlite3_stmt *p = NULL;
	if (text == NULL)
		return;
	ts_snprintf(text, len, "EXPLAIN QUERY PLAN %s", sql);
	fprintf(s->explain, "-- %s\n", sql);
	if (sqlite3_prepare_v2(s->db, text, -1, &p, NULL) == SQLITE_OK)
		while (sqlite3_step(p) == SQLITE_ROW)
			fprintf(s->explain, "%s\n", (const char *)sqlite3_column_text(p, 3));
	else
		fprintf(s->explain, "EXPLAIN FAILED: %s\n", sqlite3_errmsg(s->db));
	sqlite3_finalize(p);
	fflush(s->explain);
	free(text);
}

static sqlite3_stmt *
st(sq_store *s, const char *sql)
{
	size_t i;
	if (ts_ptrmap_get(&s->cache_idx, sql, &i)) {
		sqlite3_reset(s->cache[i].st);
		sqlite3_clear_bindings(s->cache[i].st);
		return s->cache[i].st;
	}
	if (s->ncache == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : SQ_CACHE_INIT;
		struct sq_cached *nc = ncap > SIZE_MAX / sizeof(*nc) ? NULL : realloc(s->cache, ncap * sizeof(*nc));
		if (nc == NULL) {
			log_error("sqlite statement cache: out of memory");
			return NULL;
		}
		s->cache = nc;
		s->cap = ncap;
	}
	sqlite3_stmt *p = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &p, NULL) != SQLITE_OK) {
		log_error("sqlite prepare: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	if (ts_ptrmap_put(&s->cache_idx, sql, s->ncache) != 0) {
		log_error("sqlite statement cache: out of memory");
		sqlite3_finalize(p);
		return NULL;
	}
	s->cache[s->ncache].sql = sql;
	s->cache[s->ncache].st = p;
	s->ncache++;
	if (s->explain != NULL)
		sq_explain(s, sql);
	return p;
}

#define S(x) ((sq_store *)(x))

/* Text bound without a copy (SQLITE_STATIC): every value bound here is the
 * caller's, alive and unchanged until the op's last step of p (no bt()
 * argument is freed, written or out of scope before it: issue 9, checked
 * at each call site), and st() clears the bindings before p's next use.
 * A copy (SQLITE_TRANSIENT) was a malloc, a memcpy and a free per bound
 * string: ~1 % of the node's instructions per flow. */
static void
bt(sqlite3_stmt *p, int i, const char *v)
{
	sqlite3_bind_text(p, i, v, -1, SQLITE_STATIC);
}

static void
cpy(char *dst, size_t cap, const unsigned char *src)
{
	if (src == NULL)
		src = (const unsigned char *)"";
	size_t n = strlen((const char *)src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A statement's failure rc as a store error: a lock another connection
 * holds is TS_ETIMEOUT, never a result (a handle tries again, sq_try, and
 * logs it when it gives up); anything else TS_EDB. */
static int
step_error(sq_store *s, int rc)
{
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return TS_ETIMEOUT;
	log_error("sqlite: %s", sqlite3_errmsg(s->db));
	return TS_EDB;
}

/* Runs a statement that returns no row; TS_EEXIST on a constraint violation. */
static int
run(sq_store *s, sqlite3_stmt *p)
{
	if (p == NULL)
		return TS_EDB;
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		if (sqlite3_get_autocommit(s->db) && !sqlite3_stmt_readonly(p))
			store_committed();
		return 0;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return TS_EEXIST;
	return step_error(s, rc);
}

/* run() for a statement that follows up another one of the same op and
 * usually matches no row (share_update, tx_put): only a change is a
 * commit (store_committed counts an op's commits as before). */
static int
run_followup(sq_store *s, sqlite3_stmt *p)
{
	if (p == NULL)
		return TS_EDB;
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		if (sqlite3_get_autocommit(s->db) && sqlite3_changes(s->db) > 0)
			store_committed();
		return 0;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return TS_EEXIST;
	return step_error(s, rc);
}

static int
exec(sq_store *s, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		int busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
		if (!busy)
			log_error("sqlite: %s", err ? err : "?");
		sqlite3_free(err);
		return busy ? TS_ETIMEOUT : TS_EDB;
	}
	return 0;
}

/* Durability. The connection runs with synchronous=NORMAL, and every commit
 * is made durable before the op that made it returns, and before any op that
 * could have read it returns: sq_wal_hook, which SQLite calls after each
 * commit on the connection (whatever statement made it), counts it (seq);
 * the op then fdatasyncs the write-ahead log (sq_durable) once it has let
 * go of the connection. That is synchronous=FULL's guarantee for everything
 * the node acknowledges. (Switching with PRAGMA synchronous re-prepared the
 * PRAGMA each time: it acts when compiled.) The hook also checkpoints as
 * SQLite's own auto-checkpoint would, every SQ_CHECKPOINT_FRAMES frames.
 *
 * Group commit (issue 9): the fdatasync runs outside the connection's hold,
 * so while one thread syncs, the others' transactions go on and commit; they
 * then wait for that sync and the first of them syncs once more for all of
 * them (a sync covers every commit written before it began: the WAL is one
 * file, written in order). An op outside a transaction that ends after a
 * commit not yet synced waits for it too, whether or not it read that
 * commit's rows, so nobody answers from a change a power loss could take
 * back; within a transaction that wait is at its commit or rollback.
 *
 * The outbox's own bookkeeping (a worker's claim, a row marked done) is
 * committed without its own fsync (relaxed for that statement):
 * nothing is acknowledged on it, and the write-ahead log is one sequence,
 * so the next synchronous commit of any connection (the transition the
 * provider's answer makes, within the same call) makes it durable with
 * everything before it. A power loss can only take such a write back
 * together with all that followed it: the row is claimed or done again and
 * the provider called again with the same functionCallIdentifier, which it
 * answers with its first answer (the states test_crash's outbox.answered /
 * outbox.applied points and test_outbox_replay cover). Inside a caller's
 * transaction the statement just joins it. */
static int
relaxed(sq_store *s, int on)
{
	if (on && !sqlite3_get_autocommit(s->db))
		return TS_ESTATE; /* joins the caller's transaction: its commit syncs */
	s->relaxed = on;
	return 0;
}

/* SQLite's default is 1000 frames (~4 MB); a checkpoint copies each page
 * the frames changed once, and the same few pages (the tables' and
 * indexes' last leaves) change in every flow, so fewer, larger checkpoints
 * write and fsync less per flow. 4000 frames: a WAL of ~16 MB. */
#ifndef SQ_CHECKPOINT_FRAMES
#define SQ_CHECKPOINT_FRAMES 4000
#endif
/* frames past SQ_CHECKPOINT_FRAMES the log reaches before the checkpoint
 * (the last commit's) and the next write restarts it (wal_grow) */
#define SQ_WAL_SLACK 64
#define SQ_WAL_HDR_BYTES 32

/* The page size of a new database (an existing one keeps its own). A
 * commit writes one whole page of each b-tree it changes, so the page size
 * is the unit of what every commit writes, fdatasyncs and a checkpoint
 * copies. Per flow (issue 9, bench at c=1): 4096 -> 85 WAL frames, 350 kB;
 * 2048 -> 96 frames, 199 kB, node CPU no higher; 1024 -> 117 frames,
 * 123 kB, but node CPU +15 % (deeper trees, more pages per row). */
#ifndef SQ_PAGE_SIZE
#define SQ_PAGE_SIZE 2048
#endif
#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)
#define SQ_PAGE_SIZE_TEXT SQ_STR(SQ_PAGE_SIZE)

static void
wal_sync(sq_store *s, sqlite3_file *wal)
{
	if (wal == NULL || wal->pMethods == NULL || wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
		/* Linux may have dropped the pages it could not write: going
		 * on could acknowledge a later commit whose log is broken. */
		log_error("sqlite: cannot fsync the write-ahead log of %s; stopping", sqlite3_db_filename(s->db, "main"));
		abort();
	}
}

static int
sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	sq_store *s = arg;
	if (!s->relaxed) {
		if (s->wal == NULL) {
			sqlite3_file *wal = NULL;
			if (sqlite3_file_control(db, name, SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK)
				wal = NULL;
			/* the first sync here, under the hold: it also syncs the
			 * directory of a new WAL (SQLite's own once-only step) */
			wal_sync(s, wal);
			s->wal = wal;
			pthread_mutex_lock(&s->sync_mu);
			atomic_store(&s->synced, atomic_fetch_add(&s->seq, 1) + 1);
			pthread_mutex_unlock(&s->sync_mu);
		} else {
			pthread_mutex_lock(&s->sync_mu);
			atomic_fetch_add(&s->seq, 1);
			pthread_mutex_unlock(&s->sync_mu);
		}
	}
	if (frames >= SQ_CHECKPOINT_FRAMES)
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* Returns once the commits up to need (a seq value) are on disk: syncs the
 * WAL itself unless another thread's sync under way covers them, which it
 * waits for (then syncs again if that one began before need was written).
 * Never called holding the connection (a wait would stop its users). */
static void
sq_durable(sq_store *s, uint64_t need)
{
	if (atomic_load(&s->synced) >= need)
		return;
	pthread_mutex_lock(&s->sync_mu);
	while (atomic_load(&s->synced) < need) {
		if (s->syncing) {
			pthread_cond_wait(&s->sync_cv, &s->sync_mu);
			continue;
		}
		s->syncing = 1;
		uint64_t upto = atomic_load(&s->seq); /* written before this sync begins */
		sqlite3_file *wal = s->wal;
		pthread_mutex_unlock(&s->sync_mu);
		wal_sync(s, wal);
		pthread_mutex_lock(&s->sync_mu);
		s->syncing = 0;
		atomic_store(&s->synced, upto);
		/* the waiters re-check synced and syncing under sync_mu */
		pthread_mutex_unlock(&s->sync_mu);
		pthread_cond_broadcast(&s->sync_cv);
		pthread_mutex_lock(&s->sync_mu);
	}
	pthread_mutex_unlock(&s->sync_mu);
}

static void
sq_close(store *b)
{
	sq_store *s = S(b);
	for (size_t i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	free(s->cache);
	ts_ptrmap_free(&s->cache_idx);
	sqlite3_close(s->db);
	if (s->explain)
		fclose(s->explain);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->sync_cv);
	pthread_mutex_destroy(&s->sync_mu);
	free(s);
}

/* BEGIN / COMMIT / ROLLBACK as cached prepared statements (sqlite3_exec
 * parsed them again for every transaction); errors as exec() reports them. */
static int
control(sq_store *s, const char *sql)
{
	sqlite3_stmt *p = st(s, sql);
	if (p == NULL)
		return exec(s, sql);
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return step_error(s, rc);
}

static const char sql_begin[] = "BEGIN IMMEDIATE", sql_commit[] = "COMMIT", sql_rollback[] = "ROLLBACK";
static const char sql_begin_read[] = "BEGIN";
static int sq_begin(store *b) { return control(S(b), sql_begin); }
static int
sq_commit(store *b)
{
	int rc = control(S(b), sql_commit);
	if (rc == 0)
		store_committed();
	return rc;
}
static void sq_rollback(store *b) { (void)control(S(b), sql_rollback); }

static int
sq_user_add(store *b, const char *name, const char *pass_hash, int64_t *id)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO users(name, pass_hash, created_at) VALUES(?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, name);
	bt(p, 2, pass_hash);
	sqlite3_bind_int64(p, 3, ts_now());
	int rc = run(s, p);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int
sq_user_get(store *b, int64_t id, char *name, size_t cap, char *hash, size_t hcap)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT name, pass_hash FROM users WHERE id=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		if (name)
			cpy(name, cap, sqlite3_column_text(p, 0));
		if (hash)
			cpy(hash, hcap, sqlite3_column_text(p, 1));
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_user_by_name(store *b, const char *name, int64_t *id)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT id FROM users WHERE name=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, name);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*id = sqlite3_column_int64(p, 0);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_enroll_code_add(store *b, const char *code_hash, int64_t user_id, int64_t expires_at)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO enroll_codes(code_hash, user_id, expires_at) VALUES(?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, code_hash);
	sqlite3_bind_int64(p, 2, user_id);
	sqlite3_bind_int64(p, 3, expires_at);
	return run(s, p);
}

static int
sq_enroll_code_use(store *b, const char *code_hash, int64_t now, int64_t *user_id)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT user_id, expires_at, used_at FROM enroll_codes WHERE code_hash=?";
	static const char u[] = "UPDATE enroll_codes SET used_at=? WHERE code_hash=? AND used_at IS NULL";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, code_hash);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*user_id = sqlite3_column_int64(p, 0);
		if (sqlite3_column_type(p, 2) != SQLITE_NULL)
			rc = TS_ESTATE;
		else if (sqlite3_column_int64(p, 1) < now)
			rc = TS_EEXPIRED;
		else
			rc = 0;
	}
	sqlite3_reset(p);
	if (rc != 0)
		return rc;
	p = st(s, u);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, now);
	bt(p, 2, code_hash);
	rc = run(s, p);
	if (rc == 0 && sqlite3_changes(s->db) != 1)
		rc = TS_ESTATE;
	return rc;
}

static int
sq_device_add(store *b, const char *device_id, int64_t user_id, const char *name)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO devices(device_id, user_id, name, created_at) VALUES(?,?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, device_id);
	sqlite3_bind_int64(p, 2, user_id);
	bt(p, 3, name);
	sqlite3_bind_int64(p, 4, ts_now());
	return run(s, p);
}

static int
sq_device_user(store *b, const char *device_id, int64_t *user_id)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT user_id, revoked_at FROM devices WHERE device_id=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, device_id);
	int rc, step = sqlite3_step(p);
	if (step == SQLITE_ROW) {
		*user_id = sqlite3_column_int64(p, 0);
		rc = sqlite3_column_int64(p, 1) != 0 ? TS_EDENIED : 0;
	} else {
		/* only a finished scan means "no such device": busy is not that */
		rc = step == SQLITE_DONE ? TS_ENOTFOUND : step_error(s, step);
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_token_add(store *b, const char *token_hash, const char *device_id, int64_t user_id, int64_t exp)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO tokens(token_hash, device_id, user_id, expires_at) VALUES(?,?,?,?)";
	static const char d[] = "DELETE FROM tokens WHERE expires_at < ?";
	sqlite3_stmt *p = st(s, d);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, ts_now());
	(void)run(s, p);
	p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, token_hash);
	bt(p, 2, device_id);
	sqlite3_bind_int64(p, 3, user_id);
	sqlite3_bind_int64(p, 4, exp);
	return run(s, p);
}

static int
sq_token_check(store *b, const char *token_hash, const char *device_id, int64_t now, int64_t *user_id)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT user_id FROM tokens WHERE token_hash=? AND device_id=? AND expires_at>=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, token_hash);
	bt(p, 2, device_id);
	sqlite3_bind_int64(p, 3, now);
	int rc = TS_EAUTH;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*user_id = sqlite3_column_int64(p, 0);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_token_drop(store *b, const char *token_hash)
{
	sq_store *s = S(b);
	sqlite3_stmt *p = st(s, "DELETE FROM tokens WHERE token_hash=?");
	if (!p)
		return TS_EDB;
	bt(p, 1, token_hash);
	return run(s, p);
}

static int
sq_provider_put(store *b, const store_provider *pr)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT OR REPLACE INTO providers(name, url, ca_file) VALUES(?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, pr->name);
	bt(p, 2, pr->url);
	bt(p, 3, pr->ca_file);
	return run(s, p);
}

static int
sq_provider_get(store *b, const char *name, store_provider *pr)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT name, url, ca_file FROM providers WHERE name=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, name);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		cpy(pr->name, sizeof(pr->name), sqlite3_column_text(p, 0));
		cpy(pr->url, sizeof(pr->url), sqlite3_column_text(p, 1));
		cpy(pr->ca_file, sizeof(pr->ca_file), sqlite3_column_text(p, 2));
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_app_put(store *b, const store_app *a)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT OR REPLACE INTO apps(app_id, user_id, name, kind, provider, shareable)"
				" VALUES(?,?,?,?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, a->app_id);
	sqlite3_bind_int64(p, 2, a->user_id);
	bt(p, 3, a->name);
	bt(p, 4, a->kind);
	bt(p, 5, a->provider);
	sqlite3_bind_int(p, 6, a->shareable);
	return run(s, p);
}

static void
app_row(sqlite3_stmt *p, store_app *a)
{
	cpy(a->app_id, sizeof(a->app_id), sqlite3_column_text(p, 0));
	a->user_id = sqlite3_column_int64(p, 1);
	cpy(a->name, sizeof(a->name), sqlite3_column_text(p, 2));
	cpy(a->kind, sizeof(a->kind), sqlite3_column_text(p, 3));
	cpy(a->provider, sizeof(a->provider), sqlite3_column_text(p, 4));
	a->shareable = sqlite3_column_int(p, 5);
	cpy(a->released_share, sizeof(a->released_share), sqlite3_column_text(p, 6));
}

static int
sq_app_get(store *b, const char *app_id, store_app *a)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT app_id, user_id, name, kind, provider, shareable, released_share FROM apps WHERE app_id=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, app_id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		app_row(p, a);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_app_release(store *b, const char *app_id, const char *share_id)
{
	static const char q[] = "UPDATE apps SET released_share=? WHERE app_id=? AND released_share=''";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	bt(p, 2, app_id);
	int rc = run(S(b), p);
	if (rc == 0 && sqlite3_changes(S(b)->db) != 1)
		rc = TS_ESTATE;
	return rc;
}

static int
sq_apps_json(store *b, int64_t user_id, json_t **out)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT app_id, user_id, name, kind, provider, shareable, released_share"
				" FROM apps WHERE user_id=? ORDER BY app_id";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	json_t *arr = json_array();
	while (sqlite3_step(p) == SQLITE_ROW) {
		store_app a;
		app_row(p, &a);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "app_id", a.app_id,
		    "name", a.name, "kind", a.kind, "provider", a.provider,
		    "shareable", a.shareable && a.released_share[0] == '\0',
		    "state", a.released_share[0] ? "moved" : "held", "moved_by_share", a.released_share));
	}
	sqlite3_reset(p);
	*out = arr;
	return 0;
}

#define SHARE_COLS "id, user_id, device_id, eid, app_id, provider, state, duration_s, not_after," \
		   " assoc_app_id, assoc_name, assoc_kind, matching_id, reason, created_at, updated_at, operation"

static void
share_row(sqlite3_stmt *p, store_share *sh)
{
	cpy(sh->id, sizeof(sh->id), sqlite3_column_text(p, 0));
	sh->user_id = sqlite3_column_int64(p, 1);
	cpy(sh->device_id, sizeof(sh->device_id), sqlite3_column_text(p, 2));
	cpy(sh->eid, sizeof(sh->eid), sqlite3_column_text(p, 3));
	cpy(sh->app_id, sizeof(sh->app_id), sqlite3_column_text(p, 4));
	cpy(sh->provider, sizeof(sh->provider), sqlite3_column_text(p, 5));
	sh->state = share_state_parse((const char *)sqlite3_column_text(p, 6));
	sh->duration_s = sqlite3_column_int64(p, 7);
	sh->not_after = sqlite3_column_int64(p, 8);
	cpy(sh->assoc_app_id, sizeof(sh->assoc_app_id), sqlite3_column_text(p, 9));
	cpy(sh->assoc_name, sizeof(sh->assoc_name), sqlite3_column_text(p, 10));
	cpy(sh->assoc_kind, sizeof(sh->assoc_kind), sqlite3_column_text(p, 11));
	cpy(sh->matching_id, sizeof(sh->matching_id), sqlite3_column_text(p, 12));
	cpy(sh->reason, sizeof(sh->reason), sqlite3_column_text(p, 13));
	sh->created_at = sqlite3_column_int64(p, 14);
	sh->updated_at = sqlite3_column_int64(p, 15);
	cpy(sh->operation, sizeof(sh->operation), sqlite3_column_text(p, 16));
}

static void
share_bind(sqlite3_stmt *p, const store_share *sh)
{
	bt(p, 1, sh->id);
	sqlite3_bind_int64(p, 2, sh->user_id);
	bt(p, 3, sh->device_id);
	bt(p, 4, sh->eid);
	bt(p, 5, sh->app_id);
	bt(p, 6, sh->provider);
	bt(p, 7, share_state_name(sh->state));
	sqlite3_bind_int64(p, 8, sh->duration_s);
	sqlite3_bind_int64(p, 9, sh->not_after);
	bt(p, 10, sh->assoc_app_id);
	bt(p, 11, sh->assoc_name);
	bt(p, 12, sh->assoc_kind);
	bt(p, 13, sh->matching_id);
	bt(p, 14, sh->reason);
	sqlite3_bind_int64(p, 15, sh->created_at);
	sqlite3_bind_int64(p, 16, sh->updated_at);
	bt(p, 17, sh->operation[0] ? sh->operation : "share");
}

static int
sq_share_insert(store *b, const store_share *sh)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO shares(" SHARE_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	share_bind(p, sh);
	return run(s, p);
}

static int
sq_share_update(store *b, const store_share *sh)
{
	sq_store *s = S(b);
	/* SQLite rewrites the entries of every index on a column the SET names,
	 * changed or not (a page written to the WAL each): the columns of
	 * shares_user, shares_eid_assoc, shares_matching and shares_eid_created,
	 * which a transition seldom changes, are left out of the first
	 * statement, which matches the row only while they are what sh says
	 * (one statement for a transition, issue 9: it was always two, the
	 * second setting them when one differed). When it matches nothing, the
	 * second sets every column, or finds no row. The row ends the same. */
	/* The credential is needed only while the share can be downloaded
	 * (?18: erase it). */
	static const char q[] = "UPDATE shares SET device_id=?3, app_id=?5, provider=?6, state=?7, duration_s=?8,"
				" not_after=?9, assoc_name=?11, assoc_kind=?12, reason=?14,"
				" updated_at=?16, operation=?17, credential=CASE WHEN ?18 THEN NULL ELSE credential END"
				" WHERE id=?1 AND user_id IS ?2 AND eid IS ?4 AND assoc_app_id IS ?10"
				" AND matching_id IS ?13 AND created_at IS ?15";
	static const char k[] = "UPDATE shares SET user_id=?2, device_id=?3, eid=?4, app_id=?5, provider=?6, state=?7,"
				" duration_s=?8, not_after=?9, assoc_app_id=?10, assoc_name=?11, assoc_kind=?12,"
				" matching_id=?13, reason=?14, created_at=?15, updated_at=?16, operation=?17,"
				" credential=CASE WHEN ?18 THEN NULL ELSE credential END WHERE id=?1";
	const char *const sql[] = { q, k };
	int rc = 0;
	for (size_t i = 0; i < TS_ARRAY_LEN(sql); i++) {
		sqlite3_stmt *p = st(s, sql[i]);
		if (!p)
			return TS_EDB;
		share_bind(p, sh);
		sqlite3_bind_int(p, 18, sh->state != SHARE_AUTHORISED && sh->state != SHARE_DELIVERED);
		/* (outside a transaction a first statement that matched
		 * nothing committed nothing) */
		if ((rc = i == 0 ? run_followup(s, p) : run(s, p)) != 0)
			return rc;
		if (sqlite3_changes(s->db) == 1)
			return 0;
	}
	return TS_ENOTFOUND;
}

static int
share_one(sq_store *s, sqlite3_stmt *p, store_share *sh)
{
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		share_row(p, sh);
		rc = 0;
	}
	sqlite3_reset(p);
	(void)s;
	return rc;
}

static int
sq_share_get(store *b, const char *id, store_share *sh)
{
	static const char q[] = "SELECT " SHARE_COLS " FROM shares WHERE id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, id);
	return share_one(S(b), p, sh);
}

static int
sq_share_by_eid_app(store *b, const char *eid, const char *assoc, store_share *sh)
{
	sqlite3_stmt *p = st(S(b), S(b)->sql_by_eid_app);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	bt(p, 2, assoc);
	return share_one(S(b), p, sh);
}

static int
sq_share_by_matching(store *b, const char *mid, store_share *sh)
{
	static const char q[] = "SELECT " SHARE_COLS " FROM shares WHERE matching_id=? AND matching_id<>''";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, mid);
	return share_one(S(b), p, sh);
}

static int
sq_share_set_credential(store *b, const char *id, const char *json_text)
{
	static const char q[] = "UPDATE shares SET credential=? WHERE id=?";
	sqlite3_stmt *p = st(S(b), q);
	char *sealed = NULL;
	if (!p)
		return TS_EDB;
	int rc = store_credential_seal(S(b)->has_key ? S(b)->key : NULL, id, json_text, &sealed);
	if (rc != 0)
		return rc;
	bt(p, 1, sealed);
	bt(p, 2, id);
	rc = run(S(b), p);
	OPENSSL_cleanse(sealed, strlen(sealed));
	free(sealed);
	return rc;
}

static int
sq_share_set_app_key(store *b, const char *id, const char *hex)
{
	static const char q[] = "UPDATE shares SET app_key=? WHERE id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, hex);
	bt(p, 2, id);
	return run(S(b), p);
}

static int
sq_share_get_app_key(store *b, const char *id, char *hex, size_t cap)
{
	static const char q[] = "SELECT app_key FROM shares WHERE id=? AND app_key<>''";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		cpy(hex, cap, sqlite3_column_text(p, 0));
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_share_get_credential(store *b, const char *id, char **out)
{
	static const char q[] = "SELECT credential FROM shares WHERE id=? AND credential IS NOT NULL";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW)
		rc = store_credential_unseal(S(b)->has_key ? S(b)->key : NULL, id,
		    (const char *)sqlite3_column_text(p, 0), out);
	sqlite3_reset(p);
	return rc;
}

static int
sq_shares_json(store *b, int64_t user_id, json_t **out)
{
	/* one user's on the index shares_user; all (the operator) is a scan */
	static const char q[] = "SELECT " SHARE_COLS " FROM shares WHERE user_id=?1 ORDER BY created_at, id";
	static const char all[] = "SELECT " SHARE_COLS " FROM shares WHERE ?1 < 0 ORDER BY created_at, id";
	sqlite3_stmt *p = st(S(b), user_id < 0 ? all : q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	json_t *arr = json_array();
	while (sqlite3_step(p) == SQLITE_ROW) {
		store_share sh;
		share_row(p, &sh);
		json_array_append_new(arr, store_share_json(&sh));
	}
	sqlite3_reset(p);
	*out = arr;
	return 0;
}

static int
sq_shares_expired(store *b, int64_t now, char (*ids)[STORE_ID_MAX], size_t max, size_t *n)
{
	sqlite3_stmt *p = st(S(b), S(b)->sql_expired);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, now);
	sqlite3_bind_int64(p, 2, (sqlite3_int64)max);
	*n = 0;
	while (*n < max && sqlite3_step(p) == SQLITE_ROW)
		cpy(ids[(*n)++], STORE_ID_MAX, sqlite3_column_text(p, 0));
	sqlite3_reset(p);
	return 0;
}

static int
sq_share_counts(store *b, int64_t counts[SHARE_NSTATES])
{
	static const char q[] = "SELECT state, COUNT(*) FROM shares GROUP BY state";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	memset(counts, 0, SHARE_NSTATES * sizeof(counts[0]));
	int r;
	while ((r = sqlite3_step(p)) == SQLITE_ROW) {
		enum share_state k = share_state_parse((const char *)sqlite3_column_text(p, 0));
		if (k < SHARE_NSTATES)
			counts[k] = sqlite3_column_int64(p, 1);
	}
	sqlite3_reset(p);
	return r == SQLITE_DONE ? 0 : TS_EDB;
}

static int
sq_shares_of_eid(store *b, const char *eid, store_share_app *out, size_t max, size_t *n)
{
	static const char q[] = "SELECT id, assoc_app_id FROM shares WHERE eid=? ORDER BY created_at DESC, rowid DESC LIMIT ?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	sqlite3_bind_int64(p, 2, (sqlite3_int64)max);
	*n = 0;
	while (*n < max && sqlite3_step(p) == SQLITE_ROW) {
		cpy(out[*n].id, STORE_ID_MAX, sqlite3_column_text(p, 0));
		cpy(out[*n].assoc_app_id, STORE_STR_MAX, sqlite3_column_text(p, 1));
		(*n)++;
	}
	sqlite3_reset(p);
	return 0;
}

static int
sq_event_add(store *b, int64_t user_id, const char *share_id, const char *type, const char *data, int64_t *id)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO events(user_id, share_id, type, data, created_at) VALUES(?,?,?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	bt(p, 2, share_id);
	bt(p, 3, type);
	bt(p, 4, data);
	sqlite3_bind_int64(p, 5, ts_now());
	int rc = run(s, p);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int
sq_events_after(store *b, int64_t user_id, const char *share_id, int64_t after, store_event *out,
    size_t max, size_t *n)
{
	static const char q[] = "SELECT id, share_id, type, data FROM events WHERE user_id=? AND id>?"
				" AND (?3 IS NULL OR share_id=?3) ORDER BY id LIMIT ?4";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	sqlite3_bind_int64(p, 2, after);
	if (share_id)
		bt(p, 3, share_id);
	else
		sqlite3_bind_null(p, 3);
	sqlite3_bind_int64(p, 4, (sqlite3_int64)max);
	*n = 0;
	while (*n < max && sqlite3_step(p) == SQLITE_ROW) {
		store_event *e = &out[(*n)++];
		e->id = sqlite3_column_int64(p, 0);
		cpy(e->share_id, sizeof(e->share_id), sqlite3_column_text(p, 1));
		cpy(e->type, sizeof(e->type), sqlite3_column_text(p, 2));
		cpy(e->data, sizeof(e->data), sqlite3_column_text(p, 3));
	}
	sqlite3_reset(p);
	return 0;
}

static int
sq_events_last(store *b, int64_t user_id, int64_t *id)
{
	static const char q[] = "SELECT coalesce(max(id), 0) FROM events WHERE user_id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	int rc = TS_EDB;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*id = sqlite3_column_int64(p, 0);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_cmd_add(store *b, const char *eid, const char *share_id, const char *type, const char *data, int64_t *id)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO companion_cmds(eid, share_id, type, data, created_at) VALUES(?,?,?,?,?)";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	bt(p, 2, share_id);
	bt(p, 3, type);
	bt(p, 4, data);
	sqlite3_bind_int64(p, 5, ts_now());
	int rc = run(s, p);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int
sq_cmds_pending(store *b, const char *eid, int64_t after, store_cmd *out, size_t max, size_t *n)
{
	static const char q[] = "SELECT id, eid, share_id, type, data FROM companion_cmds"
				" WHERE eid=? AND done=0 AND id>? ORDER BY id LIMIT ?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	sqlite3_bind_int64(p, 2, after);
	sqlite3_bind_int64(p, 3, (sqlite3_int64)max);
	*n = 0;
	while (*n < max && sqlite3_step(p) == SQLITE_ROW) {
		store_cmd *c = &out[(*n)++];
		c->id = sqlite3_column_int64(p, 0);
		cpy(c->eid, sizeof(c->eid), sqlite3_column_text(p, 1));
		cpy(c->share_id, sizeof(c->share_id), sqlite3_column_text(p, 2));
		cpy(c->type, sizeof(c->type), sqlite3_column_text(p, 3));
		cpy(c->data, sizeof(c->data), sqlite3_column_text(p, 4));
	}
	sqlite3_reset(p);
	return 0;
}

static int
sq_cmd_done(store *b, const char *share_id, const char *type)
{
	static const char q[] = "UPDATE companion_cmds SET done=1 WHERE share_id=? AND type=? AND done=0";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	bt(p, 2, type);
	return run(S(b), p);
}

static int
sq_outbox_add(store *b, const char *kind, const char *share_id, int64_t *id)
{
	sq_store *s = S(b);
	static const char q[] = "INSERT INTO outbox(kind, share_id, call_id, next_at) VALUES(?,?,?,?)";
	char call_id[33];
	int rc = ts_random_id(call_id);
	if (rc != 0)
		return rc;
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, kind);
	bt(p, 2, share_id);
	bt(p, 3, call_id);
	sqlite3_bind_int64(p, 4, 0);
	rc = run(s, p);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

void (*store_sqlite_claim_between)(void);

/* The due rows are read in index order (outbox_due: done, next_at, then
 * the rowid: the longest due first, then the oldest) and each is leased by
 * key, its lease taken only if it is still unleased and due (changes()
 * says so): whatever another connection claimed between the read and the
 * lease is left to it, so concurrent workers never get the same row. A
 * batch of more than one row is leased in one write transaction. (The one
 * statement this was, UPDATE ... WHERE id IN (SELECT ... ORDER BY id
 * LIMIT) RETURNING, built three ephemeral tables at each call, the IN
 * list, the ORDER BY sorter and the RETURNING rows, each with a page cache
 * of its own: ~85 us a claim against ~15 us, and an empty claim, half of
 * them at c=1, took the write lock for nothing; issue 9.) */
static int
sq_outbox_claim(store *b, int64_t now, int64_t lease_s, store_outbox *out, size_t max, size_t *n)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT id, kind, share_id, call_id, attempts FROM outbox"
				" WHERE done=0 AND next_at<=?1 AND lease_until<=?1 ORDER BY next_at, id LIMIT ?2";
	static const char lease[] = "UPDATE outbox SET lease_until=?2, attempts=attempts+1"
				    " WHERE id=?1 AND done=0 AND next_at<=?3 AND lease_until<=?3 AND attempts=?4";
	sqlite3_stmt *p = st(s, q);
	*n = 0;
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, now);
	sqlite3_bind_int64(p, 2, (sqlite3_int64)max);
	size_t got = 0;
	int rc = SQLITE_DONE;
	while (got < max && (rc = sqlite3_step(p)) == SQLITE_ROW) {
		store_outbox *o = &out[got++];
		o->id = sqlite3_column_int64(p, 0);
		cpy(o->kind, sizeof(o->kind), sqlite3_column_text(p, 1));
		cpy(o->share_id, sizeof(o->share_id), sqlite3_column_text(p, 2));
		cpy(o->call_id, sizeof(o->call_id), sqlite3_column_text(p, 3));
		o->attempts = sqlite3_column_int(p, 4) + 1;
	}
	if (got < max && rc != SQLITE_DONE) {
		sqlite3_reset(p);
		return step_error(s, rc);
	}
	sqlite3_reset(p);
	if (got == 0)
		return 0;
	if (store_sqlite_claim_between != NULL)
		store_sqlite_claim_between();
	int relax = relaxed(s, 1) == 0; /* 0: a caller's transaction, whose commit syncs */
	int batch = relax && got > 1;
	if (batch && (rc = control(s, sql_begin)) != 0) {
		relaxed(s, 0);
		return rc;
	}
	sqlite3_stmt *u = st(s, lease);
	rc = u ? 0 : TS_EDB;
	for (size_t i = 0; i < got && rc == 0; i++) {
		sqlite3_bind_int64(u, 1, out[i].id);
		sqlite3_bind_int64(u, 2, now + lease_s);
		sqlite3_bind_int64(u, 3, now);
		sqlite3_bind_int(u, 4, out[i].attempts - 1); /* as read: no claim and retry between */
		int r = sqlite3_step(u);
		sqlite3_reset(u);
		if (r != SQLITE_DONE)
			rc = step_error(s, r);
		else if (sqlite3_changes(s->db) == 1)
			out[(*n)++] = out[i]; /* leased: ours (*n <= i) */
	}
	if (batch && rc == 0)
		rc = control(s, sql_commit);
	if (batch && rc != 0 && !sqlite3_get_autocommit(s->db))
		(void)control(s, sql_rollback);
	relaxed(s, 0);
	if (rc != 0) {
		*n = 0;
		return rc;
	}
	if (*n > 0 && sqlite3_get_autocommit(s->db))
		store_committed();
	return 0;
}

static int
sq_outbox_done(store *b, int64_t id)
{
	static const char q[] = "UPDATE outbox SET done=1, lease_until=0 WHERE id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, id);
	int relax = relaxed(S(b), 1) == 0;
	int rc = run(S(b), p);
	if (relax && relaxed(S(b), 0) != 0)
		return TS_EDB;
	return rc;
}

static int
sq_outbox_retry(store *b, int64_t id, int64_t next_at, const char *err)
{
	static const char q[] = "UPDATE outbox SET next_at=?, lease_until=0, last_error=? WHERE id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, next_at);
	bt(p, 2, err);
	sqlite3_bind_int64(p, 3, id);
	return run(S(b), p);
}

static int
sq_outbox_wake(store *b, const char *share_id, int64_t now)
{
	/* the pending rows first (index outbox_due), their shares by key */
	static const char q[] = "UPDATE outbox SET next_at=?1 WHERE done=0 AND next_at>?1 AND lease_until<=?1"
				" AND (SELECT provider FROM shares WHERE id=outbox.share_id) ="
				" (SELECT provider FROM shares WHERE id=?2)";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, now);
	bt(p, 2, share_id);
	return run(S(b), p);
}

static int
sq_outbox_reset_leases(store *b)
{
	return exec(S(b), "UPDATE outbox SET lease_until=0 WHERE done=0");
}

static int
sq_outbox_depth(store *b, int64_t *pending, int64_t *retrying)
{
	static const char q[] = "SELECT COUNT(*), COALESCE(SUM(last_error IS NOT NULL), 0) FROM outbox WHERE done=0";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	int rc = TS_EDB;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*pending = sqlite3_column_int64(p, 0);
		*retrying = sqlite3_column_int64(p, 1);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_outbox_next_due(store *b, int64_t now, int64_t *secs)
{
	static const char q[] = "SELECT MIN(MAX(next_at, lease_until)) FROM outbox WHERE done=0";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	*secs = -1;
	if (sqlite3_step(p) == SQLITE_ROW && sqlite3_column_type(p, 0) != SQLITE_NULL) {
		int64_t t = sqlite3_column_int64(p, 0);
		*secs = t <= now ? 0 : t - now;
	}
	sqlite3_reset(p);
	return 0;
}

static int
sq_idem_get(store *b, const char *device_id, const char *key, char *req_hash, size_t hcap,
    int *status, char **response)
{
	static const char q[] = "SELECT req_hash, status, response FROM idempotency WHERE device_id=? AND key=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, device_id);
	bt(p, 2, key);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		cpy(req_hash, hcap, sqlite3_column_text(p, 0));
		*status = sqlite3_column_int(p, 1);
		const char *r = (const char *)sqlite3_column_text(p, 2);
		*response = strdup(r ? r : "");
		rc = *response ? 0 : TS_ENOMEM;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_idem_put(store *b, const char *device_id, const char *key, const char *req_hash, int status,
    const char *response)
{
	static const char q[] = "INSERT INTO idempotency(device_id, key, req_hash, status, response, created_at)"
				" VALUES(?,?,?,?,?,?)";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, device_id);
	bt(p, 2, key);
	bt(p, 3, req_hash);
	sqlite3_bind_int(p, 4, status);
	bt(p, 5, response);
	sqlite3_bind_int64(p, 6, ts_now());
	return run(S(b), p);
}

static int
sq_offer_nonce_use(store *b, const char *nonce_hex, const char *share_id, int64_t expires_at)
{
	/* Expired nonces can go: an offer past its expiry is refused anyway. */
	static const char d[] = "DELETE FROM offer_nonces WHERE expires_at < ?";
	static const char q[] = "INSERT INTO offer_nonces(nonce, share_id, expires_at) VALUES(?,?,?)";
	sqlite3_stmt *p = st(S(b), d);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, ts_now() - 3600);
	(void)run(S(b), p);
	p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, nonce_hex);
	bt(p, 2, share_id);
	sqlite3_bind_int64(p, 3, expires_at);
	return run(S(b), p);
}

static int
sq_gc(store *b, int64_t tx_before, int64_t idem_before, int64_t now)
{
	static const char q1[] = "DELETE FROM es9_tx WHERE created_at < ?";
	static const char q2[] = "DELETE FROM idempotency WHERE created_at < ?";
	static const char q3[] = "DELETE FROM tokens WHERE expires_at < ?";
	static const char q4[] = "DELETE FROM enroll_codes WHERE expires_at < ? AND used_at IS NULL";
	const char *const qs[] = { q1, q2, q3, q4 };
	const int64_t vs[] = { tx_before, idem_before, now, now };
	for (size_t i = 0; i < TS_ARRAY_LEN(qs); i++) {
		sqlite3_stmt *p = st(S(b), qs[i]);
		if (!p)
			return TS_EDB;
		sqlite3_bind_int64(p, 1, vs[i]);
		int rc = run(S(b), p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The tables whose ids must never be given again (migration 11): the
 * largest id before a prune, its high-water row put back at that id when
 * the prune took the row away (a row no query of the node matches: user
 * 0, eid '', call_id ''; each table keeps one, the older ones go). */
static const struct {
	const char *max, *drop, *put;
} sq_high_water[] = {
	{ "SELECT max(id) FROM events", "DELETE FROM events WHERE user_id=0 AND share_id='' AND id<?1",
	    "INSERT INTO events(id, user_id, share_id, type, data, created_at) SELECT ?1, 0, '', '', '', 0"
	    " WHERE NOT EXISTS (SELECT 1 FROM events WHERE id=?1)" },
	{ "SELECT max(id) FROM companion_cmds", "DELETE FROM companion_cmds WHERE eid='' AND done=1 AND id<?1",
	    "INSERT INTO companion_cmds(id, eid, share_id, type, data, done, created_at) SELECT ?1, '', '', '', '', 1, 0"
	    " WHERE NOT EXISTS (SELECT 1 FROM companion_cmds WHERE id=?1)" },
	{ "SELECT max(id) FROM outbox", "DELETE FROM outbox WHERE call_id='' AND id<?1",
	    "INSERT INTO outbox(id, kind, share_id, call_id, next_at, done) SELECT ?1, '', '', '', 0, 1"
	    " WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE id=?1)" },
};

/* Inside sq_prune's transaction: hw[i] = the largest id of table i (0: none). */
static int
high_water_get(sq_store *s, int64_t hw[TS_ARRAY_LEN(sq_high_water)])
{
	for (size_t i = 0; i < TS_ARRAY_LEN(sq_high_water); i++) {
		sqlite3_stmt *p = st(s, sq_high_water[i].max);
		if (p == NULL)
			return TS_EDB;
		int r = sqlite3_step(p);
		hw[i] = r == SQLITE_ROW ? sqlite3_column_int64(p, 0) : 0;
		sqlite3_reset(p);
		if (r != SQLITE_ROW)
			return step_error(s, r);
	}
	return 0;
}

/* ... and after its deletes: each table's largest id is hw[i] again. */
static int
high_water_put(sq_store *s, const int64_t hw[TS_ARRAY_LEN(sq_high_water)])
{
	int rc = 0;
	for (size_t i = 0; i < TS_ARRAY_LEN(sq_high_water) && rc == 0; i++) {
		if (hw[i] <= 0)
			continue;
		sqlite3_stmt *p = st(s, sq_high_water[i].drop);
		if (p == NULL)
			return TS_EDB;
		sqlite3_bind_int64(p, 1, hw[i]);
		if ((rc = run(s, p)) != 0 || (p = st(s, sq_high_water[i].put)) == NULL)
			return rc != 0 ? rc : TS_EDB;
		sqlite3_bind_int64(p, 1, hw[i]);
		rc = run(s, p);
	}
	return rc;
}

/* pg's prune in one transaction: the same share set (finished, older than
 * ?1, no pending provider call, at most ?2) for each table, shares last;
 * then the high-water rows. */
static int
sq_prune(store *b, int64_t before, size_t max, size_t *n)
{
	sq_store *s = S(b);
	*n = 0;
	int rc = exec(s, "BEGIN IMMEDIATE");
	if (rc != 0)
		return rc;
	sqlite3_stmt *c = st(s, s->sql_prune[6]);
	if (c == NULL) {
		(void)exec(s, "ROLLBACK");
		return TS_EDB;
	}
	sqlite3_bind_int64(c, 1, before);
	sqlite3_bind_int64(c, 2, (sqlite3_int64)max);
	if (sqlite3_step(c) == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(c, 0);
	sqlite3_reset(c);
	int64_t hw[TS_ARRAY_LEN(sq_high_water)] = { 0 };
	if (*n > 0)
		rc = high_water_get(s, hw);
	for (size_t i = 0; i < 6 && rc == 0 && *n > 0; i++) {
		sqlite3_stmt *p = st(s, s->sql_prune[i]);
		if (p == NULL) {
			rc = TS_EDB;
			break;
		}
		sqlite3_bind_int64(p, 1, before);
		sqlite3_bind_int64(p, 2, (sqlite3_int64)max);
		rc = run(s, p);
	}
	if (rc == 0 && *n > 0)
		rc = high_water_put(s, hw);
	if (rc != 0) {
		(void)exec(s, "ROLLBACK");
		*n = 0;
		return rc;
	}
	if ((rc = exec(s, "COMMIT")) != 0) {
		(void)exec(s, "ROLLBACK");
		*n = 0;
		return rc;
	}
	if (*n > 0)
		store_committed();
	return 0;
}

static int
sq_tx_put(store *b, const store_tx *tx)
{
	/* An update in place (REPLACE deleted the row and every index entry and
	 * wrote them again: pages in the WAL); the indexed columns (share_id,
	 * created_at) and eid are left alone by the upsert, which updates the
	 * row only while they are what tx says (one statement, issue 9: a
	 * second one always ran to set them); when they differ it changes
	 * nothing and the second statement sets every column. */
	static const char q[] = "INSERT INTO es9_tx(id, share_id, eid, euicc_challenge, server_challenge,"
				" euicc_sig1, smdp_sig2, euicc_pub, stage, created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
				" ON CONFLICT(id) DO UPDATE SET euicc_challenge=excluded.euicc_challenge,"
				" server_challenge=excluded.server_challenge, euicc_sig1=excluded.euicc_sig1,"
				" smdp_sig2=excluded.smdp_sig2, euicc_pub=excluded.euicc_pub, stage=excluded.stage"
				" WHERE share_id IS excluded.share_id AND eid IS excluded.eid"
				" AND created_at IS excluded.created_at";
	static const char k[] = "UPDATE es9_tx SET share_id=?2, eid=?3, euicc_challenge=?4, server_challenge=?5,"
				" euicc_sig1=?6, smdp_sig2=?7, euicc_pub=?8, stage=?9, created_at=?10 WHERE id=?1";
	/* the upsert, the full update; the upsert again if another
	 * connection deleted the row in between (then it inserts) */
	const char *const sql[] = { q, k, q };
	for (size_t i = 0; i < TS_ARRAY_LEN(sql); i++) {
		sqlite3_stmt *p = st(S(b), sql[i]);
		if (!p)
			return TS_EDB;
		bt(p, 1, tx->id);
		bt(p, 2, tx->share_id);
		bt(p, 3, tx->eid);
		sqlite3_bind_blob(p, 4, tx->euicc_challenge, 16, SQLITE_TRANSIENT);
		sqlite3_bind_blob(p, 5, tx->server_challenge, 16, SQLITE_TRANSIENT);
		sqlite3_bind_blob(p, 6, tx->euicc_sig1, 64, SQLITE_TRANSIENT);
		sqlite3_bind_blob(p, 7, tx->smdp_sig2, 64, SQLITE_TRANSIENT);
		sqlite3_bind_blob(p, 8, tx->euicc_pub, 65, SQLITE_TRANSIENT);
		sqlite3_bind_int(p, 9, tx->stage);
		sqlite3_bind_int64(p, 10, tx->created_at);
		/* (only a statement that changed the row committed anything) */
		int rc = run_followup(S(b), p);
		if (rc != 0 || sqlite3_changes(S(b)->db) == 1)
			return rc;
	}
	return TS_ETIMEOUT; /* the row came and went under another connection twice */
}

static void
blob(sqlite3_stmt *p, int col, uint8_t *dst, size_t len)
{
	const void *v = sqlite3_column_blob(p, col);
	if (v != NULL && (size_t)sqlite3_column_bytes(p, col) == len)
		memcpy(dst, v, len);
	else
		memset(dst, 0, len);
}

static int
sq_tx_get(store *b, const char *id, store_tx *tx)
{
	static const char q[] = "SELECT id, share_id, eid, euicc_challenge, server_challenge, euicc_sig1,"
				" smdp_sig2, euicc_pub, stage, created_at FROM es9_tx WHERE id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		cpy(tx->id, sizeof(tx->id), sqlite3_column_text(p, 0));
		cpy(tx->share_id, sizeof(tx->share_id), sqlite3_column_text(p, 1));
		cpy(tx->eid, sizeof(tx->eid), sqlite3_column_text(p, 2));
		blob(p, 3, tx->euicc_challenge, 16);
		blob(p, 4, tx->server_challenge, 16);
		blob(p, 5, tx->euicc_sig1, 64);
		blob(p, 6, tx->smdp_sig2, 64);
		blob(p, 7, tx->euicc_pub, 65);
		tx->stage = sqlite3_column_int(p, 8);
		tx->created_at = sqlite3_column_int64(p, 9);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_companion_put(store *b, const char *eid, const uint8_t pub[65])
{
	/* in place: REPLACE rewrote the primary key's index entry too */
	static const char q[] = "INSERT INTO companions(eid, euicc_pub, last_seen) VALUES(?,?,?)"
				" ON CONFLICT(eid) DO UPDATE SET euicc_pub=excluded.euicc_pub, last_seen=excluded.last_seen";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	sqlite3_bind_blob(p, 2, pub, 65, SQLITE_TRANSIENT);
	sqlite3_bind_int64(p, 3, ts_now());
	return run(S(b), p);
}

static int
sq_companion_pub(store *b, const char *eid, uint8_t pub[65])
{
	static const char q[] = "SELECT euicc_pub FROM companions WHERE eid=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		blob(p, 0, pub, 65);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

/* ---- devices and the passphrase throttle (issue 8) ---- */

static int
sq_device_revoke(store *b, const char *device_id, int64_t now, int64_t *user_id)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT user_id, revoked_at FROM devices WHERE device_id=?";
	static const char u[] = "UPDATE devices SET revoked_at=? WHERE device_id=? AND revoked_at=0";
	static const char d[] = "DELETE FROM tokens WHERE device_id=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, device_id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		if (user_id)
			*user_id = sqlite3_column_int64(p, 0);
		rc = sqlite3_column_int64(p, 1) != 0 ? TS_ESTATE : 0;
	}
	sqlite3_reset(p);
	if (rc != 0)
		return rc;
	if ((p = st(s, u)) == NULL)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, now > 0 ? now : 1);
	bt(p, 2, device_id);
	if ((rc = run(s, p)) != 0)
		return rc;
	if (sqlite3_changes(s->db) != 1)
		return TS_ESTATE;
	if ((p = st(s, d)) == NULL)
		return TS_EDB;
	bt(p, 1, device_id);
	return run(s, p);
}

static int
sq_devices_json(store *b, int64_t user_id, json_t **out)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT d.device_id, u.name, d.name, d.created_at, d.revoked_at FROM devices d"
				" JOIN users u ON u.id = d.user_id WHERE ?1 < 0 OR d.user_id = ?1"
				" ORDER BY d.created_at, d.device_id";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	json_t *arr = json_array();
	if (arr == NULL)
		return TS_ENOMEM;
	int rc;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:I}", "device_id",
		    (const char *)sqlite3_column_text(p, 0), "user", (const char *)sqlite3_column_text(p, 1),
		    "name", (const char *)sqlite3_column_text(p, 2), "created_at",
		    (json_int_t)sqlite3_column_int64(p, 3), "revoked_at", (json_int_t)sqlite3_column_int64(p, 4)));
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return TS_EDB;
	}
	*out = arr;
	return 0;
}

static int
sq_device_revocations(store *b, int64_t *count)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT count(*) FROM devices WHERE revoked_at<>0";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	int rc = TS_EDB;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*count = sqlite3_column_int64(p, 0);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_throttle_hit(store *b, const char *key, int64_t now, int64_t window_s, int *attempts, int64_t *window_start)
{
	sq_store *s = S(b);
	/* One statement: concurrent attempts (other threads, other processes)
	 * each count; only a window's end starts a new one. */
	static const char q[] =
	    "INSERT INTO pass_throttle(key, attempts, window_start) VALUES(?1, 1, ?2)"
	    " ON CONFLICT(key) DO UPDATE SET"
	    "  attempts = CASE WHEN pass_throttle.window_start + ?3 <= ?2 THEN 1 ELSE pass_throttle.attempts + 1 END,"
	    "  window_start = CASE WHEN pass_throttle.window_start + ?3 <= ?2 THEN ?2"
	    "                 ELSE pass_throttle.window_start END"
	    " RETURNING attempts, window_start";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, key);
	sqlite3_bind_int64(p, 2, now);
	sqlite3_bind_int64(p, 3, window_s);
	int rc = TS_EDB;
	if (sqlite3_step(p) == SQLITE_ROW) {
		int64_t a = sqlite3_column_int64(p, 0);
		*attempts = a > 1000000 ? 1000000 : (int)a;
		*window_start = sqlite3_column_int64(p, 1);
		rc = sqlite3_step(p) == SQLITE_DONE ? 0 : TS_EDB;
	}
	if (rc != 0)
		log_error("sqlite: %s", sqlite3_errmsg(s->db));
	sqlite3_reset(p);
	return rc;
}

static int
sq_throttle_undo(store *b, const char *key)
{
	sq_store *s = S(b);
	static const char q[] = "UPDATE pass_throttle SET attempts = max(attempts - 1, 0) WHERE key=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, key);
	return run(s, p);
}

static int
sq_throttle_forget(store *b, const char *key)
{
	sq_store *s = S(b);
	static const char q[] = "DELETE FROM pass_throttle WHERE key=?";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	bt(p, 1, key);
	return run(s, p);
}

/* A share's sessions in the order tx_trim keeps them: authenticated
 * (stage 2 or 3) first, then the newest, then the last written. */
typedef struct sq_tx_rank {
	sqlite3_int64 rowid, created_at;
	int authenticated;
} sq_tx_rank;

static int
tx_rank_cmp(const void *pa, const void *pb)
{
	const sq_tx_rank *a = pa, *b = pb;
	if (a->authenticated != b->authenticated)
		return a->authenticated ? -1 : 1;
	if (a->created_at != b->created_at)
		return a->created_at > b->created_at ? -1 : 1;
	return a->rowid > b->rowid ? -1 : a->rowid < b->rowid;
}

/* The sessions a share may have at once are few (DOWNLOAD_TX_PER_SHARE):
 * read by the index es9_tx_share and ranked here, so a share with no more
 * than keep of them, nearly every one, takes no write lock (issue 9:
 * DELETE ... WHERE id NOT IN (SELECT ... ORDER BY ... LIMIT) built two
 * ephemeral tables and took the write lock at every session opened). One
 * with more is read again and trimmed, by key, in one write transaction,
 * so that nothing changes between the ranking and the deletes. More than
 * SQ_TRIM_READ of them (never written by the node: tx_put trims first) go
 * by that one statement. */
#define SQ_TRIM_READ 32
static int
tx_trim_read(sq_store *s, const char *share_id, sq_tx_rank *v, size_t *n)
{
	static const char q[] = "SELECT rowid, created_at, stage IN (2, 3) FROM es9_tx WHERE share_id=?1 LIMIT ?2";
	sqlite3_stmt *p = st(s, q);
	int rc;
	*n = 0;
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	sqlite3_bind_int(p, 2, SQ_TRIM_READ + 1);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW && *n < SQ_TRIM_READ + 1) {
		v[*n].rowid = sqlite3_column_int64(p, 0);
		v[*n].created_at = sqlite3_column_int64(p, 1);
		v[*n].authenticated = sqlite3_column_int(p, 2);
		(*n)++;
	}
	sqlite3_reset(p);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : step_error(s, rc);
}

static int
sq_tx_trim(store *b, const char *share_id, int keep)
{
	sq_store *s = S(b);
	static const char del[] = "DELETE FROM es9_tx WHERE rowid=?";
	static const char all[] = "DELETE FROM es9_tx WHERE share_id=?1 AND id NOT IN (SELECT id FROM es9_tx"
				  " WHERE share_id=?1 ORDER BY stage IN (2, 3) DESC, created_at DESC, rowid DESC LIMIT ?2)";
	sq_tx_rank v[SQ_TRIM_READ + 1];
	size_t n = 0;
	int rc;
	if (keep < 0)
		keep = 0;
	if ((rc = tx_trim_read(s, share_id, v, &n)) != 0 || n <= (size_t)keep)
		return rc;
	int own = sqlite3_get_autocommit(s->db);
	if (own && ((rc = control(s, sql_begin)) != 0 || (rc = tx_trim_read(s, share_id, v, &n)) != 0)) {
		if (!sqlite3_get_autocommit(s->db))
			(void)control(s, sql_rollback);
		return rc;
	}
	sqlite3_stmt *p;
	sqlite3_int64 c0 = sqlite3_total_changes64(s->db);
	if (n > SQ_TRIM_READ) {
		if ((p = st(s, all)) == NULL) {
			rc = TS_EDB;
		} else {
			bt(p, 1, share_id);
			sqlite3_bind_int(p, 2, keep);
			rc = run(s, p);
		}
	} else {
		qsort(v, n, sizeof(v[0]), tx_rank_cmp);
		for (size_t i = (size_t)keep; i < n && rc == 0; i++) {
			if ((p = st(s, del)) == NULL) {
				rc = TS_EDB;
				break;
			}
			sqlite3_bind_int64(p, 1, v[i].rowid);
			rc = run(s, p);
		}
	}
	if (own && rc == 0 && (rc = control(s, sql_commit)) == 0 && sqlite3_total_changes64(s->db) != c0)
		store_committed();
	if (own && rc != 0 && !sqlite3_get_autocommit(s->db))
		(void)control(s, sql_rollback);
	return rc;
}

static int
sq_companion_claim(store *b, const char *eid, int64_t user_id, int64_t now)
{
	static const char q[] = "INSERT INTO companion_owners(eid, user_id, since) VALUES(?,?,?) ON CONFLICT(eid) DO NOTHING";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	sqlite3_bind_int64(p, 2, user_id);
	sqlite3_bind_int64(p, 3, now);
	return run(S(b), p);
}

static int
sq_companion_owner(store *b, const char *eid, int64_t *user_id)
{
	static const char q[] = "SELECT user_id FROM companion_owners WHERE eid=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		*user_id = sqlite3_column_int64(p, 0);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_smds_event_put(store *b, const char *share_id, const char *eid, const char *event_id, int64_t now)
{
	static const char q[] = "INSERT INTO smds_events(share_id, eid, event_id, created_at) VALUES(?,?,?,?)"
				" ON CONFLICT(share_id) DO UPDATE SET eid=excluded.eid, event_id=excluded.event_id";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	bt(p, 2, eid);
	bt(p, 3, event_id);
	sqlite3_bind_int64(p, 4, now);
	return run(S(b), p);
}

static int
sq_smds_event_del(store *b, const char *share_id)
{
	static const char q[] = "DELETE FROM smds_events WHERE share_id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	return run(S(b), p);
}

static int
sq_smds_events(store *b, const char *eid, char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n)
{
	static const char q[] = "SELECT event_id FROM smds_events WHERE eid=? ORDER BY created_at, rowid LIMIT ?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	sqlite3_bind_int64(p, 2, (sqlite3_int64)max);
	*n = 0;
	while (*n < max && sqlite3_step(p) == SQLITE_ROW)
		cpy(event_ids[(*n)++], STORE_ID_MAX, sqlite3_column_text(p, 0));
	sqlite3_reset(p);
	return 0;
}

static int
sq_cc_put(store *b, const char *share_id, const char *cc_hash_hex)
{
	static const char q[] = "INSERT INTO share_cc(share_id, cc_hash, attempts) VALUES(?,?,0)";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	bt(p, 2, cc_hash_hex);
	return run(S(b), p);
}

static int
sq_cc_get(store *b, const char *share_id, char cc_hash_hex[65], int *attempts)
{
	static const char q[] = "SELECT cc_hash, attempts FROM share_cc WHERE share_id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	int rc = TS_ENOTFOUND;
	if (sqlite3_step(p) == SQLITE_ROW) {
		cpy(cc_hash_hex, 65, sqlite3_column_text(p, 0));
		*attempts = sqlite3_column_int(p, 1);
		rc = 0;
	}
	sqlite3_reset(p);
	return rc;
}

static int
sq_cc_refused(store *b, const char *share_id, int *attempts)
{
	static const char q[] = "UPDATE share_cc SET attempts=attempts+1 WHERE share_id=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, share_id);
	int rc = run(S(b), p);
	if (rc == 0 && sqlite3_changes(S(b)->db) != 1)
		rc = TS_ENOTFOUND;
	char h[65];
	return rc != 0 ? rc : sq_cc_get(b, share_id, h, attempts);
}

static int
sq_companion_release(store *b, const char *eid)
{
	static const char q[] = "DELETE FROM companion_owners WHERE eid=?";
	sqlite3_stmt *p = st(S(b), q);
	if (!p)
		return TS_EDB;
	bt(p, 1, eid);
	int rc = run(S(b), p);
	if (rc == 0 && sqlite3_changes(S(b)->db) != 1)
		rc = TS_ENOTFOUND;
	return rc;
}

/* ---- administration (tapshare-node user|app|provider list|show|remove) ---- */

static int
sq_users_json(store *b, json_t **out)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT id, name, created_at FROM users WHERE pass_hash<>'' ORDER BY name";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	json_t *arr = json_array();
	if (arr == NULL)
		return TS_ENOMEM;
	int rc;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:I,s:s,s:I}", "user_id", (json_int_t)sqlite3_column_int64(p, 0),
		    "name", (const char *)sqlite3_column_text(p, 1), "created_at", (json_int_t)sqlite3_column_int64(p, 2)));
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return TS_EDB;
	}
	*out = arr;
	return 0;
}

static int
sq_providers_json(store *b, json_t **out)
{
	sq_store *s = S(b);
	static const char q[] = "SELECT name, url, ca_file FROM providers ORDER BY name";
	sqlite3_stmt *p = st(s, q);
	if (!p)
		return TS_EDB;
	json_t *arr = json_array();
	if (arr == NULL)
		return TS_ENOMEM;
	int rc;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name", (const char *)sqlite3_column_text(p, 0),
		    "url", (const char *)sqlite3_column_text(p, 1), "ca_file", (const char *)sqlite3_column_text(p, 2)));
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return TS_EDB;
	}
	*out = arr;
	return 0;
}

/* DELETE of one row by a text key; TS_ENOTFOUND when there was none. */
static int
delete_one(sq_store *s, const char *sql, const char *key)
{
	sqlite3_stmt *p = st(s, sql);
	if (!p)
		return TS_EDB;
	bt(p, 1, key);
	int rc = run(s, p);
	if (rc == 0 && sqlite3_changes(s->db) != 1)
		rc = TS_ENOTFOUND;
	return rc;
}

static int
sq_app_remove(store *b, const char *app_id)
{
	static const char q[] = "DELETE FROM apps WHERE app_id=?";
	return delete_one(S(b), q, app_id);
}

static int
sq_provider_remove(store *b, const char *name)
{
	static const char q[] = "DELETE FROM providers WHERE name=?";
	return delete_one(S(b), q, name);
}

static int
sq_user_remove(store *b, int64_t user_id, int64_t now)
{
	sq_store *s = S(b);
	static const char sel[] = "SELECT 1 FROM users WHERE id=? AND pass_hash<>''";
	/* In this order: the device throttle keys are found through the
	 * devices, which stay (revoked). */
	static const char *const batch[] = {
		("DELETE FROM pass_throttle WHERE key='user:'||?1"
		 " OR key IN (SELECT 'device:'||device_id FROM devices WHERE user_id=?1)"),
		"UPDATE devices SET revoked_at=?2 WHERE user_id=?1 AND revoked_at=0",
		"DELETE FROM tokens WHERE user_id=?1",
		"DELETE FROM enroll_codes WHERE user_id=?1",
		"DELETE FROM apps WHERE user_id=?1",
		"DELETE FROM companion_owners WHERE user_id=?1",
		"UPDATE users SET name='#'||id, pass_hash='' WHERE id=?1",
	};
	sqlite3_stmt *p = st(s, sel);
	if (!p)
		return TS_EDB;
	sqlite3_bind_int64(p, 1, user_id);
	int rc = sqlite3_step(p) == SQLITE_ROW ? 0 : TS_ENOTFOUND;
	sqlite3_reset(p);
	for (size_t i = 0; rc == 0 && i < TS_ARRAY_LEN(batch); i++) {
		if ((p = st(s, batch[i])) == NULL)
			return TS_EDB;
		sqlite3_bind_int64(p, 1, user_id);
		if (sqlite3_bind_parameter_count(p) >= 2)
			sqlite3_bind_int64(p, 2, now > 0 ? now : 1);
		rc = run(s, p);
	}
	return rc;
}

/* Every store op but close / begin / commit / rollback, once: X(name,
 * parameters, the arguments that pass them on to the connection). Both
 * ops tables and the handles' wrappers are made from it, so no op can be
 * missing from one (a NULL slot); the count is checked against store.h's
 * struct store_ops at compile time. */
#define SQ_OPS(X) \
	X(user_add, (store *s, const char *name, const char *pass_hash, int64_t *id), (&H(s)->s->base, name, pass_hash, id)) \
	X(user_get, (store *s, int64_t id, char *name, size_t cap, char *pass_hash, size_t hcap), \
	    (&H(s)->s->base, id, name, cap, pass_hash, hcap)) \
	X(user_by_name, (store *s, const char *name, int64_t *id), (&H(s)->s->base, name, id)) \
	X(enroll_code_add, (store *s, const char *code_hash, int64_t user_id, int64_t expires_at), \
	    (&H(s)->s->base, code_hash, user_id, expires_at)) \
	X(enroll_code_use, (store *s, const char *code_hash, int64_t now, int64_t *user_id), \
	    (&H(s)->s->base, code_hash, now, user_id)) \
	X(device_add, (store *s, const char *device_id, int64_t user_id, const char *name), \
	    (&H(s)->s->base, device_id, user_id, name)) \
	X(device_user, (store *s, const char *device_id, int64_t *user_id), (&H(s)->s->base, device_id, user_id)) \
	X(token_add, (store *s, const char *token_hash, const char *device_id, int64_t user_id, int64_t expires_at), \
	    (&H(s)->s->base, token_hash, device_id, user_id, expires_at)) \
	X(token_check, (store *s, const char *token_hash, const char *device_id, int64_t now, int64_t *user_id), \
	    (&H(s)->s->base, token_hash, device_id, now, user_id)) \
	X(provider_put, (store *s, const store_provider *p), (&H(s)->s->base, p)) \
	X(provider_get, (store *s, const char *name, store_provider *p), (&H(s)->s->base, name, p)) \
	X(app_put, (store *s, const store_app *a), (&H(s)->s->base, a)) \
	X(app_get, (store *s, const char *app_id, store_app *a), (&H(s)->s->base, app_id, a)) \
	X(apps_json, (store *s, int64_t user_id, json_t **out), (&H(s)->s->base, user_id, out)) \
	X(app_release, (store *s, const char *app_id, const char *share_id), (&H(s)->s->base, app_id, share_id)) \
	X(share_insert, (store *s, const store_share *sh), (&H(s)->s->base, sh)) \
	X(share_get, (store *s, const char *id, store_share *sh), (&H(s)->s->base, id, sh)) \
	X(share_update, (store *s, const store_share *sh), (&H(s)->s->base, sh)) \
	X(share_by_eid_app, (store *s, const char *eid, const char *assoc_app_id, store_share *sh), \
	    (&H(s)->s->base, eid, assoc_app_id, sh)) \
	X(share_by_matching, (store *s, const char *matching_id, store_share *sh), (&H(s)->s->base, matching_id, sh)) \
	X(share_set_app_key, (store *s, const char *id, const char *hex), (&H(s)->s->base, id, hex)) \
	X(share_get_app_key, (store *s, const char *id, char *hex, size_t cap), (&H(s)->s->base, id, hex, cap)) \
	X(share_set_credential, (store *s, const char *id, const char *json_text), (&H(s)->s->base, id, json_text)) \
	X(share_get_credential, (store *s, const char *id, char **out), (&H(s)->s->base, id, out)) \
	X(shares_json, (store *s, int64_t user_id, json_t **out), (&H(s)->s->base, user_id, out)) \
	X(shares_expired, (store *s, int64_t now, char (*ids)[STORE_ID_MAX], size_t max, size_t *n), \
	    (&H(s)->s->base, now, ids, max, n)) \
	X(share_counts, (store *s, int64_t counts[SHARE_NSTATES]), (&H(s)->s->base, counts)) \
	X(shares_of_eid, (store *s, const char *eid, store_share_app *out, size_t max, size_t *n), \
	    (&H(s)->s->base, eid, out, max, n)) \
	X(event_add, (store *s, int64_t user_id, const char *share_id, const char *type, const char *data, int64_t *id), \
	    (&H(s)->s->base, user_id, share_id, type, data, id)) \
	X(events_after, (store *s, int64_t user_id, const char *share_id, int64_t after, store_event *out, size_t max, size_t *n), \
	    (&H(s)->s->base, user_id, share_id, after, out, max, n)) \
	X(events_last, (store *s, int64_t user_id, int64_t *id), (&H(s)->s->base, user_id, id)) \
	X(cmd_add, (store *s, const char *eid, const char *share_id, const char *type, const char *data, int64_t *id), \
	    (&H(s)->s->base, eid, share_id, type, data, id)) \
	X(cmds_pending, (store *s, const char *eid, int64_t after, store_cmd *out, size_t max, size_t *n), \
	    (&H(s)->s->base, eid, after, out, max, n)) \
	X(cmd_done, (store *s, const char *share_id, const char *type), (&H(s)->s->base, share_id, type)) \
	X(outbox_add, (store *s, const char *kind, const char *share_id, int64_t *id), (&H(s)->s->base, kind, share_id, id)) \
	X(outbox_claim, (store *s, int64_t now, int64_t lease_s, store_outbox *out, size_t max, size_t *n), \
	    (&H(s)->s->base, now, lease_s, out, max, n)) \
	X(outbox_done, (store *s, int64_t id), (&H(s)->s->base, id)) \
	X(outbox_retry, (store *s, int64_t id, int64_t next_at, const char *err), (&H(s)->s->base, id, next_at, err)) \
	X(outbox_depth, (store *s, int64_t *pending, int64_t *retrying), (&H(s)->s->base, pending, retrying)) \
	X(outbox_reset_leases, (store *s), (&H(s)->s->base)) \
	X(outbox_wake, (store *s, const char *share_id, int64_t now), (&H(s)->s->base, share_id, now)) \
	X(outbox_next_due, (store *s, int64_t now, int64_t *secs), (&H(s)->s->base, now, secs)) \
	X(idem_get, (store *s, const char *device_id, const char *key, char *req_hash, size_t hcap, int *status, char **response), \
	    (&H(s)->s->base, device_id, key, req_hash, hcap, status, response)) \
	X(idem_put, (store *s, const char *device_id, const char *key, const char *req_hash, int status, const char *response), \
	    (&H(s)->s->base, device_id, key, req_hash, status, response)) \
	X(offer_nonce_use, (store *s, const char *nonce_hex, const char *share_id, int64_t expires_at), \
	    (&H(s)->s->base, nonce_hex, share_id, expires_at)) \
	X(gc, (store *s, int64_t tx_before, int64_t idem_before, int64_t now), (&H(s)->s->base, tx_before, idem_before, now)) \
	X(prune, (store *s, int64_t before, size_t max, size_t *n), (&H(s)->s->base, before, max, n)) \
	X(tx_put, (store *s, const store_tx *tx), (&H(s)->s->base, tx)) \
	X(tx_get, (store *s, const char *id, store_tx *tx), (&H(s)->s->base, id, tx)) \
	X(companion_put, (store *s, const char *eid, const uint8_t pub[65]), (&H(s)->s->base, eid, pub)) \
	X(companion_pub, (store *s, const char *eid, uint8_t pub[65]), (&H(s)->s->base, eid, pub)) \
	X(device_revoke, (store *s, const char *device_id, int64_t now, int64_t *user_id), \
	    (&H(s)->s->base, device_id, now, user_id)) \
	X(devices_json, (store *s, int64_t user_id, json_t **out), (&H(s)->s->base, user_id, out)) \
	X(device_revocations, (store *s, int64_t *count), (&H(s)->s->base, count)) \
	X(throttle_hit, (store *s, const char *key, int64_t now, int64_t window_s, int *attempts, int64_t *window_start), \
	    (&H(s)->s->base, key, now, window_s, attempts, window_start)) \
	X(throttle_undo, (store *s, const char *key), (&H(s)->s->base, key)) \
	X(throttle_forget, (store *s, const char *key), (&H(s)->s->base, key)) \
	X(tx_trim, (store *s, const char *share_id, int keep), (&H(s)->s->base, share_id, keep)) \
	X(companion_claim, (store *s, const char *eid, int64_t user_id, int64_t now), (&H(s)->s->base, eid, user_id, now)) \
	X(companion_owner, (store *s, const char *eid, int64_t *user_id), (&H(s)->s->base, eid, user_id)) \
	X(companion_release, (store *s, const char *eid), (&H(s)->s->base, eid)) \
	X(users_json, (store *s, json_t **out), (&H(s)->s->base, out)) \
	X(providers_json, (store *s, json_t **out), (&H(s)->s->base, out)) \
	X(app_remove, (store *s, const char *app_id), (&H(s)->s->base, app_id)) \
	X(provider_remove, (store *s, const char *name), (&H(s)->s->base, name)) \
	X(user_remove, (store *s, int64_t user_id, int64_t now), (&H(s)->s->base, user_id, now)) \
	X(token_drop, (store *s, const char *token_hash), (&H(s)->s->base, token_hash)) \
	X(smds_event_put, (store *s, const char *share_id, const char *eid, const char *event_id, int64_t now), \
	    (&H(s)->s->base, share_id, eid, event_id, now)) \
	X(smds_event_del, (store *s, const char *share_id), (&H(s)->s->base, share_id)) \
	X(smds_events, (store *s, const char *eid, char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n), \
	    (&H(s)->s->base, eid, event_ids, max, n)) \
	X(cc_put, (store *s, const char *share_id, const char *cc_hash_hex), (&H(s)->s->base, share_id, cc_hash_hex)) \
	X(cc_get, (store *s, const char *share_id, char cc_hash_hex[65], int *attempts), \
	    (&H(s)->s->base, share_id, cc_hash_hex, attempts)) \
	X(cc_refused, (store *s, const char *share_id, int *attempts), (&H(s)->s->base, share_id, attempts))

#define SQ_COUNT(name, params, args) +1
_Static_assert(sizeof(struct store_ops) == (4 SQ_OPS(SQ_COUNT)) * sizeof(void (*)(void)),
    "struct store_ops has an op that SQ_OPS lacks");
#undef SQ_COUNT

#define SLOT(name, params, args) .name = sq_##name,
static const struct store_ops sq_ops = {
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	SQ_OPS(SLOT)
};
#undef SLOT

/* ---- handles -------------------------------------------------------------
 * What store_sqlite_open returns: a handle on a connection. A handle opened
 * with store_opts.share_with is one more handle on that store's connection
 * (the outbox workers' on the event-loop thread's), so the node's threads
 * never invalidate each other's page cache: each transaction of a
 * connection of its own began by re-reading every page another
 * connection's commit had changed (sqlite3BtreeBeginTrans, 8 % of the
 * node's CPU, issue 9). Every operation holds the connection for its
 * handle; begin holds it until the commit or rollback, so another handle's
 * statement can never join a transaction, and two threads never share a
 * prepared statement. The hold belongs to the handle, not to a thread (a
 * transaction begun on one thread may end on another, as on two
 * connections). A handle is used by one thread at a time.
 *
 * Its wait_ms bounds the whole operation: the wait for its turn (the
 * event-loop thread answers 503 after STORE_WAIT_LOOP_MS rather than
 * freeze) and the wait for a lock another process holds (the operator's
 * CLI, a second node). The latter is never waited out while holding the
 * connection: the connection has no busy timeout, so a try that finds the
 * write lock taken fails at once, and the handle lets go of the connection,
 * pauses and tries again (sq_try). Otherwise a worker waiting for another
 * process's write lock would hold the connection, and the loop's reads,
 * which in WAL mode need no lock, would wait with it. */
typedef struct sq_handle {
	store base;
	sq_store *s;
	int wait_ms;
	int in_tx; /* this handle's begin holds the connection */
} sq_handle;

#define H(x) ((sq_handle *)(x))

/* Pauses between tries at another process's lock, as SQLite's own busy
 * handler sleeps (ms); the last one repeats. */
static const int sq_pause_ms[] = { 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 };

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes the connection for h, waiting for another handle's operation or
 * transaction at most until deadline (mono_ms). */
static int
hlock(sq_handle *h, int64_t deadline)
{
	sq_store *s = h->s;
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	if (s->owner != NULL && s->owner != h) {
		struct timespec ts = { .tv_sec = (time_t)(deadline / 1000), .tv_nsec = (long)(deadline % 1000) * 1000000L };
		while (rc == 0 && s->owner != NULL)
			rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->owner == NULL)
			rc = 0;
	}
	if (rc == 0) {
		s->owner = h;
		s->depth++;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		log_warn("sqlite: database busy (another thread's transaction)");
		return TS_ETIMEOUT;
	}
	return 0;
}

static void
hunlock(sq_handle *h)
{
	sq_store *s = h->s;
	pthread_mutex_lock(&s->mu);
	int freed = s->owner == h && --s->depth == 0;
	if (freed)
		s->owner = NULL;
	pthread_mutex_unlock(&s->mu);
	/* after the unlock: a waiter woken under mu went back to sleep on it
	 * (issue 9, wake helper's sched_switch call graphs); it re-checks
	 * owner under mu, so a barging handle only makes it wait again */
	if (freed)
		pthread_cond_signal(&s->cv);
}

/* Reads share a read transaction (issue 9: a flow made ~70 single-statement
 * read transactions, each taking and dropping a WAL read lock, two fcntl
 * calls and ~3 us). A read op outside a transaction joins the one its
 * handle's previous reads opened; any other op, another handle's op, a
 * commit of another connection (the WAL index header changed since the
 * transaction began: another process, the operator's CLI), or an age over
 * SQ_RTX_MS ends it first (COMMIT of a transaction that wrote nothing: no
 * WAL frame, no sync). So a read sees every commit made before it, as an
 * autocommit read does: this process's commits end the transaction before
 * they write, another connection's is seen in the header. The age bound
 * keeps an idle handle from holding a read mark (which stops a checkpoint
 * from resetting the log) for long. The ops that only read: */
#define SQ_RTX_MS 20
static const char *const sq_read_ops[] = { "user_get", "user_by_name", "device_user", "token_check",
	"provider_get", "app_get", "apps_json", "share_get", "share_by_eid_app", "share_by_matching",
	"share_get_app_key", "share_get_credential", "shares_json", "shares_expired", "share_counts",
	"shares_of_eid", "events_after", "events_last", "cmds_pending", "outbox_depth", "outbox_next_due",
	"idem_get", "tx_get", "companion_pub", "devices_json", "device_revocations", "companion_owner",
	"users_json", "providers_json", "smds_events", "cc_get" };

/* 1 for an op in sq_read_ops, 2 for any other (once per op: *kind caches it). */
static int
op_kind(_Atomic int *kind, const char *name)
{
	int k = atomic_load(kind);
	if (k == 0) {
		k = 2;
		for (size_t i = 0; i < TS_ARRAY_LEN(sq_read_ops); i++)
			if (strcmp(sq_read_ops[i], name) == 0)
				k = 1;
		atomic_store(kind, k);
	}
	return k;
}

static void
rtx_end(sq_store *s)
{
	if (s->rtx_owner != NULL) {
		s->rtx_owner = NULL;
		if (!sqlite3_get_autocommit(s->db) && control(s, sql_commit) != 0)
			(void)control(s, sql_rollback);
	}
}

/* The WAL index's first region as SQLite mapped it (xShmMap returns the
 * mapping it holds; NULL when there is none, then no read transaction is
 * kept open). */
static const void *
wal_index(sq_store *s)
{
	if (s->shm == NULL) {
		sqlite3_file *f = NULL;
		void volatile *p = NULL;
		if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f != NULL &&
		    f->pMethods != NULL && f->pMethods->iVersion >= 2 && f->pMethods->xShmMap != NULL &&
		    f->pMethods->xShmMap(f, 0, 32768, 0, &p) == SQLITE_OK && p != NULL)
			s->shm = (const void *)p;
	}
	return s->shm;
}

/* Holding the connection, before h's op (read: it only reads). */
static void
rtx_prepare(sq_handle *h, int read)
{
	sq_store *s = h->s;
	if (s->rtx_owner != NULL && (!read || s->rtx_owner != h || mono_ms() - s->rtx_start > SQ_RTX_MS ||
	    memcmp(s->shm, s->rtx_hdr, SQ_WAL_HDR) != 0))
		rtx_end(s);
	if (read && s->rtx_owner == NULL && !h->in_tx && sqlite3_get_autocommit(s->db) && wal_index(s) != NULL &&
	    control(s, sql_begin_read) == 0) {
		/* before the op's first read takes the snapshot: a commit in
		 * between only ends the transaction sooner */
		memcpy(s->rtx_hdr, s->shm, SQ_WAL_HDR);
		s->rtx_owner = h;
		s->rtx_start = mono_ms();
	}
}

/* One operation's tries (see "handles" above). */
typedef struct sq_try {
	sq_handle *h;
	int64_t deadline; /* mono_ms */
	sqlite3_int64 changes; /* the connection's total changes when this try began */
	unsigned pauses;
	uint64_t need; /* the commits (seq) there were when the try let go of the connection */
} sq_try;

static void
try_start(sq_try *t, sq_handle *h)
{
	t->h = h;
	t->deadline = mono_ms() + h->wait_ms;
	t->pauses = 0;
	t->changes = 0;
	t->need = 0;
}

/* SQLite's busy handler while a handle holds db: a lock another connection
 * holds is noted and not waited for (0: SQLite gives up at once). */
static int
sq_busy(void *arg, int n)
{
	(void)n;
	((sq_store *)arg)->found_lock = 1;
	return 0;
}

/* Takes the connection for one try. */
static int
try_take(sq_try *t)
{
	int rc = hlock(t->h, t->deadline);
	if (rc == 0) {
		t->changes = sqlite3_total_changes64(t->h->s->db);
		t->h->s->found_lock = 0;
	}
	return rc;
}

/* Ends one try with its result *rc and lets go of the connection; 1: try
 * again. A try that failed and met another connection's lock (sq_busy, or
 * a statement's TS_ETIMEOUT) failed of that lock: *rc is TS_ETIMEOUT, never
 * what the operation made of it ("no such row"). It is tried again outside
 * a transaction of the handle's (a transaction holds the write lock from
 * its BEGIN IMMEDIATE: nothing inside it waits for another process), when
 * it changed nothing (an operation of several statements whose first one
 * committed is not repeated: it fails as a busy timeout did), while the
 * handle's wait lasts. The pause is outside the hold. */
static int
try_again(sq_try *t, int *rc)
{
	sq_handle *h = t->h;
	int busy = *rc != 0 && (*rc == TS_ETIMEOUT || h->s->found_lock);
	if (busy && h->s->rtx_owner == h)
		rtx_end(h->s); /* a read that met a lock: tried again in a read transaction of its own */
	int again = busy && !h->in_tx && sqlite3_get_autocommit(h->s->db) &&
	    sqlite3_total_changes64(h->s->db) == t->changes;
	t->need = atomic_load(&h->s->seq);
	hunlock(h);
	if (!busy)
		return 0;
	*rc = TS_ETIMEOUT;
	int64_t left = t->deadline - mono_ms();
	if (!again || left <= 0) {
		log_warn("sqlite: database busy (held by another connection)");
		return 0;
	}
	size_t i = t->pauses < TS_ARRAY_LEN(sq_pause_ms) ? t->pauses : TS_ARRAY_LEN(sq_pause_ms) - 1;
	int64_t ms = sq_pause_ms[i] < left ? sq_pause_ms[i] : left;
	t->pauses++;
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 1;
}

static int
w_begin(store *b)
{
	sq_handle *h = H(b);
	sq_try t;
	int rc;
	try_start(&t, h);
	do {
		if ((rc = try_take(&t)) != 0)
			return rc;
		rtx_prepare(h, 0);
		/* in_tx: SQLite refuses a nested BEGIN */
		if ((rc = sq_begin(&h->s->base)) == 0) {
			h->in_tx = 1; /* the connection stays held until commit or rollback */
			return 0;
		}
	} while (try_again(&t, &rc));
	return rc;
}

/* Ends this handle's transaction: its hold on the connection goes. */
static void
end_tx(sq_handle *h)
{
	if (h->in_tx) {
		h->in_tx = 0;
		hunlock(h);
	}
}

static int
w_commit(store *b)
{
	sq_handle *h = H(b);
	int rc = hlock(h, mono_ms() + h->wait_ms);
	if (rc != 0)
		return rc;
	rc = sq_commit(&h->s->base);
	/* A COMMIT that failed with the transaction still open leaves it to
	 * the caller's rollback. */
	if (rc == 0 || sqlite3_get_autocommit(h->s->db))
		end_tx(h);
	uint64_t need = atomic_load(&h->s->seq);
	hunlock(h);
	if (!h->in_tx)
		sq_durable(h->s, need);
	return rc;
}

static void
w_rollback(store *b)
{
	sq_handle *h = H(b);
	if (hlock(h, mono_ms() + h->wait_ms) != 0)
		return; /* not in a transaction: another handle holds the connection */
	if (!sqlite3_get_autocommit(h->s->db))
		sq_rollback(&h->s->base);
	end_tx(h);
	uint64_t need = atomic_load(&h->s->seq);
	hunlock(h);
	sq_durable(h->s, need); /* what the transaction read, the caller may act on */
}

static void
w_close(store *b)
{
	sq_handle *h = H(b);
	sq_store *s = h->s;
	(void)hlock(h, mono_ms() + h->wait_ms); /* waits at most wait_ms for another handle's transaction */
	if (s->rtx_owner == h && s->owner == h)
		rtx_end(s);
	if (h->in_tx) { /* closed half-way through a transaction */
		sq_rollback(&s->base);
		end_tx(h);
	}
	pthread_mutex_lock(&s->mu);
	int last = --s->refs == 0;
	if (s->owner == h) {
		s->owner = NULL;
		s->depth = 0;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	free(h);
	if (last)
		sq_close(&s->base);
}

/* Every other operation: holding the connection, tried again outside the
 * hold while another process holds the lock it needs; outside a
 * transaction, it returns once every commit it may have seen is durable. */
#define W(name, params, args) \
	static int w_##name params \
	{ \
		static _Atomic int kind_; \
		sq_try t_; \
		int rc_, read_ = op_kind(&kind_, #name) == 1; \
		try_start(&t_, H(s)); \
		do { \
			if ((rc_ = try_take(&t_)) != 0) \
				return rc_; \
			rtx_prepare(H(s), read_); \
			rc_ = sq_ops.name args; \
			if (read_ && H(s)->s->rtx_owner == H(s) && \
			    sqlite3_total_changes64(H(s)->s->db) != t_.changes) { \
				log_error("sqlite: read op " #name " changed the database"); \
				rtx_end(H(s)->s); \
			} \
		} while (try_again(&t_, &rc_)); \
		if (!H(s)->in_tx) \
			sq_durable(H(s)->s, t_.need); \
		return rc_; \
	}
SQ_OPS(W)
#undef W

#define SLOT(name, params, args) .name = w_##name,
static const struct store_ops sq_handle_ops = {
	.close = w_close,
	.begin = w_begin,
	.commit = w_commit,
	.rollback = w_rollback,
	SQ_OPS(SLOT)
};
#undef SLOT

static int
migrate(sq_store *s)
{
	int rc = exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
	if (rc != 0)
		return rc;
	int version = 0;
	sqlite3_stmt *p = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1, &p, NULL) != SQLITE_OK)
		return TS_EDB;
	if (sqlite3_step(p) == SQLITE_ROW)
		version = sqlite3_column_int(p, 0);
	sqlite3_finalize(p);
	if (version > (int)TS_ARRAY_LEN(migrations)) {
		log_error("database schema version %d is newer than this program (%zu)", version,
		    TS_ARRAY_LEN(migrations));
		return TS_EDB;
	}
	for (size_t i = (size_t)version; i < TS_ARRAY_LEN(migrations); i++) {
		if ((rc = exec(s, "BEGIN IMMEDIATE")) != 0)
			return rc;
		char ins[80];
		ts_snprintf(ins, sizeof(ins), "INSERT INTO schema_version(version) VALUES(%zu)", i + 1);
		if ((rc = exec(s, migrations[i])) != 0 || (rc = exec(s, ins)) != 0) {
			(void)exec(s, "ROLLBACK");
			return rc;
		}
		if ((rc = exec(s, "COMMIT")) != 0)
			return rc;
		log_info("database migrated to schema version %zu", i + 1);
	}
	return 0;
}

/* The database holds account hashes and pending SIM secrets: the file and
 * its WAL and shared-memory files are 0600 whatever existed before (SQLite
 * creates the latter two with the database file's mode). Only chmod(2) on
 * paths and an exclusive create: closing a descriptor of a file this process
 * has open in another connection would drop that connection's POSIX locks. */
static int
private_files(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		close(fd); /* new, so no connection can hold locks on it */
	else if (errno != EEXIST) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return TS_EIO;
	}
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < TS_ARRAY_LEN(sfx); i++) {
		char p[4096];
		if (ts_snprintf(p, sizeof(p), "%s%s", path, sfx[i]) != 0)
			return TS_ELIMIT;
		if (chmod(p, 0600) != 0 && errno != ENOENT) {
			log_error("cannot make %s private (0600): %s", p, strerror(errno));
			return TS_EIO;
		}
	}
	return 0;
}

/* The write-ahead log grown, under the write lock, to the size a checkpoint
 * cycle fills (zeros: never a valid frame, SQLite checks each frame's salts
 * and checksum chain) and synced, before the node serves (store_opts.serving).
 * SQLite then writes every commit's frames into blocks the file already has,
 * also in its first cycle: a commit that appends to the file allocates
 * blocks and changes its size, and its fdatasync then writes the block bitmap
 * and group descriptor as well as the frames and the inode (ext4 without a
 * journal, as here; with a journal, a journal commit): 3 block I/Os per
 * fdatasync instead of 2 (block_rq_issue, issue 9). The log stays at that
 * size until the last connection closes and deletes it. Only the part past
 * the end of the file is written: that holds no frame of anyone's. */
static void
wal_grow(sq_store *s)
{
	sqlite3_stmt *p = NULL;
	int page = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &p, NULL) == SQLITE_OK && sqlite3_step(p) == SQLITE_ROW)
		page = sqlite3_column_int(p, 0);
	sqlite3_finalize(p);
	if (page < 512 || exec(s, "BEGIN IMMEDIATE") != 0)
		return;
	sqlite3_file *wal = NULL;
	sqlite3_int64 size = 0, want = SQ_WAL_HDR_BYTES + (sqlite3_int64)(SQ_CHECKPOINT_FRAMES + SQ_WAL_SLACK) * (24 + page);
	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK && wal != NULL &&
	    wal->pMethods != NULL && wal->pMethods->xFileSize(wal, &size) == SQLITE_OK && size < want) {
		/* page-sized writes: the page cache then holds the log in small
		 * folios, and a commit's fdatasync writes back only the pages
		 * its frames touched (64 kB writes made 64 kB folios, each
		 * written whole: the node's write_bytes 120 -> 209 MB in 300
		 * flows) */
		static const char zero[4096];
		int ok = 1;
		while (ok && size < want) {
			int n = want - size < (sqlite3_int64)sizeof(zero) ? (int)(want - size) : (int)sizeof(zero);
			ok = wal->pMethods->xWrite(wal, zero, n, size) == SQLITE_OK;
			size += n;
		}
		if (ok)
			wal_sync(s, wal); /* here, not in the first commit's sync */
		else
			log_warn("sqlite: cannot grow the write-ahead log of %s", sqlite3_db_filename(s->db, "main"));
	}
	(void)exec(s, "COMMIT"); /* it wrote no frame */
}

/* The connection: opened, configured and migrated. */
static int
open_conn(const char *path, const store_opts *opts, sq_store **out)
{
	if (strcmp(path, ":memory:") != 0 && private_files(path) != 0)
		return TS_EIO;
	sq_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TS_ENOMEM;
	pthread_condattr_t ca;
	int ok = pthread_condattr_init(&ca) == 0;
	if (ok) {
		ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&s->cv, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (ok && pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_cond_destroy(&s->cv);
		ok = 0;
	}
	if (ok && pthread_mutex_init(&s->sync_mu, NULL) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		ok = 0;
	}
	if (ok && pthread_cond_init(&s->sync_cv, NULL) != 0) {
		pthread_mutex_destroy(&s->sync_mu);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		ok = 0;
	}
	if (!ok) {
		free(s);
		return TS_ENOMEM;
	}
	s->base.ops = &sq_ops;
	if (opts != NULL && opts->secret_key != NULL) {
		memcpy(s->key, opts->secret_key, sizeof(s->key));
		s->has_key = 1;
	}
	/* NOMUTEX: every use holds the connection (the handles above) */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		log_error("cannot open database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "?");
		sqlite3_close(s->db);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->sync_cv);
		pthread_mutex_destroy(&s->sync_mu);
		free(s);
		return TS_EDB;
	}
	/* Opening and migrating wait for other processes' locks here; from then
	 * on the handles do (sq_try): no waiting while one holds db. */
	sqlite3_busy_timeout(s->db, opts && opts->wait_ms > 0 ? opts->wait_ms : STORE_WAIT_WORKER_MS);
	ts_snprintf(s->sql_expired, sizeof(s->sql_expired),
	    "SELECT id FROM shares WHERE %s AND not_after > 0 AND not_after <= ? LIMIT ?", store_sql_expirable_or());
	/* A share still in progress first (a notification is about it, not about
	 * an older share of the same app that ended), then the newest. */
	ts_snprintf(s->sql_by_eid_app, sizeof(s->sql_by_eid_app),
	    "SELECT " SHARE_COLS " FROM shares WHERE eid=? AND assoc_app_id=?"
	    " ORDER BY CASE WHEN state IN (%s) THEN 0 ELSE 1 END, created_at DESC, rowid DESC LIMIT 1",
	    store_sql_open_states());
	static const char *const prune_of[] = { "DELETE FROM events WHERE share_id IN",
		"DELETE FROM companion_cmds WHERE share_id IN", "DELETE FROM outbox WHERE share_id IN",
		"DELETE FROM es9_tx WHERE share_id IN", "DELETE FROM share_cc WHERE share_id IN",
		"DELETE FROM shares WHERE id IN",
		"SELECT COUNT(*) FROM shares WHERE id IN" };
	for (size_t i = 0; i < TS_ARRAY_LEN(prune_of); i++)
		ts_snprintf(s->sql_prune[i], sizeof(s->sql_prune[i]),
		    "%s (SELECT id FROM shares sh WHERE updated_at < ?1 AND %s"
		    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.share_id = sh.id AND o.done = 0)"
		    " ORDER BY updated_at LIMIT ?2)", prune_of[i], store_sql_final_and());
	const char *ex = store_test_hook("TAPSHARE_STORE_EXPLAIN");
	if (ex != NULL && ex[0] != '\0' && (s->explain = fopen(ex, "a")) == NULL)
		log_warn("TAPSHARE_STORE_EXPLAIN: cannot open %s", ex);
	int rc;
	/* before anything creates the file; an existing database keeps its own */
	if ((rc = exec(s, "PRAGMA page_size=" SQ_PAGE_SIZE_TEXT)) != 0 || (rc = exec(s, "PRAGMA journal_mode=WAL")) != 0 ||
	    (rc = exec(s, "PRAGMA synchronous=NORMAL")) != 0 ||
	    (sqlite3_wal_hook(s->db, sq_wal_hook, s), 0) != 0 ||
	    (rc = exec(s, "PRAGMA foreign_keys=ON")) != 0 || (rc = exec(s, "PRAGMA mmap_size=268435456")) != 0 ||
	    (rc = migrate(s)) != 0) {
		if (rc == TS_ETIMEOUT)
			log_warn("sqlite: database %s busy (held by another connection)", path);
		sq_close(&s->base);
		return rc;
	}
	if (opts != NULL && opts->serving && strcmp(path, ":memory:") != 0)
		wal_grow(s);
	sqlite3_busy_handler(s->db, sq_busy, s);
	sq_durable(s, atomic_load(&s->seq)); /* the migrations */
	*out = s;
	return 0;
}

/* pcache1 starts each new page cache with one block of 20 pages
 * (SQLITE_DEFAULT_PCACHE_INITSZ: 87,208 bytes with 4 kB pages) and frees it
 * with the cache, and every ephemeral table has a page cache of its own: the
 * outbox claim's IN list and RETURNING rows, ORDER BY ... LIMIT, IN (...).
 * Measured (heaptrack, issue 9): ~11 such blocks allocated and freed per
 * flow, each a large-bin malloc and a free of more than 64 kB, both of which
 * make glibc consolidate its fastbins (the profile's malloc_consolidate and
 * unlink_chunk). With no initial block a cache takes its pages one at a
 * time. Process-wide, and only before SQLite is initialised: in a program
 * that opened SQLite itself first (a test) it fails with SQLITE_MISUSE,
 * which changes nothing else. */
static pthread_once_t sq_config_once = PTHREAD_ONCE_INIT;

static void
sq_config(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
store_sqlite_open(const char *path, const store_opts *opts, store **out)
{
	pthread_once(&sq_config_once, sq_config);
	sq_handle *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return TS_ENOMEM;
	h->base.ops = &sq_handle_ops;
	h->wait_ms = opts && opts->wait_ms > 0 ? opts->wait_ms : STORE_WAIT_WORKER_MS;
	store *with = opts ? opts->share_with : NULL;
	if (with != NULL && with->ops == &sq_handle_ops) {
		/* one more handle on that connection (path and key are its) */
		h->s = H(with)->s;
		pthread_mutex_lock(&h->s->mu);
		h->s->refs++;
		pthread_mutex_unlock(&h->s->mu);
	} else {
		int rc = open_conn(path, opts, &h->s);
		if (rc != 0) {
			free(h);
			return rc;
		}
		h->s->refs = 1;
	}
	*out = &h->base;
	return 0;
}
