/*
 * store_pg.c — PostgreSQL backend of store.h (libpq). Same tables as the
 * SQLite migrations, translated (BIGSERIAL/BIGINT, BYTEA, TEXT), applied as
 * numbered migrations recorded in schema_version. Every statement is
 * prepared once per connection (PQprepare) and run with bound parameters
 * (PQexecPrepared); BLOBs travel as bytea in binary format and every result
 * is read in binary format.
 *
 * Several node processes share one database (issue 9): there is no global
 * lock. Isolation is READ COMMITTED plus row-level and keyed locks:
 *  - a share transition reads its share with SELECT ... FOR UPDATE (share_get
 *    and the other share look-ups inside a transaction), so two nodes moving
 *    the same share run one after the other and the second sees the first's
 *    result (READ COMMITTED re-reads the locked row): expiry and the outbox
 *    may run on every node side by side without a double event or call;
 *  - event order without a lock: an event's or command's id is its order
 *    key, made of the inserting transaction's id (pg_notify.h), and the
 *    stream reads (events_after, cmds_pending outside a transaction) return
 *    only rows of transactions older than every one still running, so their
 *    cursors (per user, per EID) never skip a row that commits late, while
 *    two flows of one user write and commit side by side;
 *  - idempotency by unique constraints: one outbox job per (share, kind)
 *    (outbox_add is INSERT ... ON CONFLICT DO NOTHING), ids and nonces as
 *    primary keys;
 *  - a deadlock (40P01), serialisation failure (40001) or lock wait past
 *    lock_timeout (55P03) is TS_ETIMEOUT ("busy, retry"): a statement outside
 *    a transaction and the store's own short transactions are retried here
 *    (PQ_RETRIES times, with a short growing pause); inside a caller's
 *    transaction the work is gone and the caller sees TS_ETIMEOUT (the API
 *    answers 503 store_busy, the outbox retries the row).
 *  - outbox leases carry their owner: each connection holds a session-level
 *    advisory lock (TS_PG_OWNER_CLASS, owner); a row leased by an owner whose
 *    lock is gone (its process died: PostgreSQL drops the session) is
 *    claimable at once instead of after the lease. The lease is claimed FOR
 *    UPDATE SKIP LOCKED, so concurrent workers never claim one row.
 *  - cross-node wake-ups: event_add / cmd_add note the payload "u:<user
 *    id>" / "e:<eid>", and the commit sends NOTIFY tapshare right after its
 *    COMMIT, in the same round trip but outside the write transaction (see
 *    pq_commit); pg_listen.c turns them into push wake-ups on every node, and
 *    its sweep heals a NOTIFY that was never sent (the process died between
 *    the two) or a read that found rows held back.
 *  - Readers outside begin() are never blocked.
 *  - A failed statement in SQLite fails alone, the transaction goes on; in
 *    PostgreSQL it aborts the transaction. A constraint violation is
 *    TS_EEXIST exactly where SQLite returns SQLITE_CONSTRAINT, with the
 *    transaction going on (ON CONFLICT DO NOTHING, or a savepoint for a
 *    foreign key); any other failure of a write ends the transaction, which
 *    every caller rolls back (see the statement flags).
 *  - Round trips (issue 9): BEGIN goes with the first statement, the
 *    writes whose result nobody reads are queued and go with the next
 *    statement or the COMMIT (a libpq pipeline), the wake-ups with the
 *    COMMIT; the outbox's own bookkeeping commits without waiting for its
 *    WAL flush (q_relaxed). Outside a transaction a session's, a share's or
 *    a device's read brings what the node reads next about it (its share,
 *    confirmation code, credential, provider, user, app; the device's live
 *    tokens), and the outbox's commits bring outbox_next_due: the
 *    read-ahead, answered while nothing else ran (see there).
 *  - A server that went away (connection lost, backend ended, shutdown,
 *    too many connections) is the busy error, TS_ETIMEOUT (pq_rc).
 */
#include "node/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "lib/httpd.h"
#include "lib/log.h"
#include "lib/ptrmap.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/pg_notify.h"

/* distinct NOTIFY payloads kept per transaction (a flow step names one user
 * and one EID; more are healed by pg_listen.c's sweep within a second) */
#define PQ_NOTES 16

/* Prepared statements per connection: starts this small and doubles when
 * full, so it cannot run out (issue 8). Names "ts<index>" stay stable. */
#define PQ_CACHE_INIT 8
/* advisory lock class (first key of the two-int form) of the outbox lease
 * owner (session scope); 73101 / 73102 were the per-user / per-EID event
 * locks of schema 8, gone (see "event order" above) */
#define TS_PG_OWNER_CLASS "73103"
/* retries of a statement / store-owned transaction on 40001 / 40P01 / 55P03 */
#define PQ_RETRIES 4

typedef struct pq_store {
	store base;
	PGconn *conn;
	int in_tx;
	int begin_pending; /* in_tx, BEGIN not sent yet: it goes with the first statement */
	struct pq_queued *queue; /* PQ_QMAX: statements not sent yet (Q_DEFER, the COMMIT) */
	int nq;
	char locked[STORE_ID_MAX]; /* in a transaction: the share it read FOR UPDATE ("": none) */
	int sp_n;
	struct pq_cached {
		const char *sql;
		int prepared;
		int explained; /* TAPSHARE_STORE_EXPLAIN: plan written */
	} *cache; /* ncache used of cap */
	size_t ncache, cap;
	ts_ptrmap cache_idx; /* sql address -> index in cache[] */
	char lock_timeout[128]; /* "SET lock_timeout = '<ms>ms'; SET default_transaction_isolation ..." */
	int retryable;         /* the last failure was 40001 / 40P01 / 55P03 */
	int broken;            /* left in pipeline mode by a failed send: reconnect (alive) */
	int fail_send;         /* TAPSHARE_PG_FAIL_SEND=n (tests): the nth pipeline of 2+ queued fails part-way */
	int tx_seq;            /* in a transaction: events / commands it inserted (ord_expr) */
	/* NOTIFY payloads of this transaction, sent after its COMMIT (not in
	 * it: see "cross-node wake-ups" above); nnote of PQ_NOTES */
	char notes[PQ_NOTES][PG_NOTIFY_PAYLOAD_MAX + 1];
	int nnote;
	int32_t owner;         /* outbox lease owner: our session advisory lock */
	int pid;               /* the server process of conn (own_pids), 0: none */
	FILE *explain;         /* TAPSHARE_STORE_EXPLAIN: plans of each statement */
	char sql_expired[256]; /* built at open from the transition table */
	char sql_by_eid_app[640];
	char sql_by_eid_app_tx[660];
	char sql_prune[1024];
	uint8_t key[32];       /* node key (store_opts.secret_key) when has_key */
	int has_key;
	/* read-ahead (see "Read-ahead" below): one row, RA_* columns, from
	 * ra_off on (0, or after the es9_tx columns); RA_DEVICE: a device's row
	 * and its tokens (device_user), device ra_dev */
	PGresult *ra;
	int ra_off;
	char ra_dev[STORE_ID_MAX];
	uint64_t ra_req;       /* ts_httpd_thread_requests() when it was read */
	int64_t ra_ms;         /* and the monotonic time */
	/* outbox_next_due read ahead with the outbox's own commits (q_relaxed):
	 * nd_state 0 none, 1 no row due, 2 nd_at; ends as the row above does */
	int nd_state;
	int64_t nd_at;
} pq_store;

#define S(x) ((pq_store *)(x))

/* Numbered migrations; index i moves the schema from version i to i+1. The
 * numbers match the SQLite backend's. Never edit a released migration. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	"  pass_hash TEXT NOT NULL, created_at BIGINT NOT NULL);"
	"CREATE TABLE enroll_codes (code_hash TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id),"
	"  expires_at BIGINT NOT NULL, used_at BIGINT);"
	"CREATE TABLE devices (device_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id),"
	"  name TEXT NOT NULL, created_at BIGINT NOT NULL);"
	"CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, device_id TEXT NOT NULL, user_id BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL);"
	"CREATE TABLE providers (name TEXT PRIMARY KEY, url TEXT NOT NULL, ca_file TEXT NOT NULL);"
	"CREATE TABLE apps (app_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id),"
	"  name TEXT NOT NULL, kind TEXT NOT NULL, provider TEXT NOT NULL, shareable BIGINT NOT NULL);"
	"CREATE TABLE shares (id TEXT PRIMARY KEY, user_id BIGINT NOT NULL, device_id TEXT NOT NULL,"
	"  eid TEXT NOT NULL, app_id TEXT NOT NULL, provider TEXT NOT NULL, state TEXT NOT NULL,"
	"  duration_s BIGINT NOT NULL, not_after BIGINT NOT NULL, assoc_app_id TEXT NOT NULL,"
	"  assoc_name TEXT NOT NULL, assoc_kind TEXT NOT NULL, credential TEXT, matching_id TEXT NOT NULL,"
	"  reason TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
	"CREATE INDEX shares_user ON shares(user_id);"
	"CREATE INDEX shares_eid_assoc ON shares(eid, assoc_app_id);"
	"CREATE INDEX shares_matching ON shares(matching_id);"
	"CREATE INDEX shares_expiry ON shares(state, not_after);"
	"CREATE TABLE events (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL,"
	"  share_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, created_at BIGINT NOT NULL);"
	"CREATE INDEX events_user ON events(user_id, id);"
	"CREATE TABLE companion_cmds (id BIGSERIAL PRIMARY KEY, eid TEXT NOT NULL,"
	"  share_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, done BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL);"
	"CREATE INDEX cmds_eid ON companion_cmds(eid, done, id);"
	"CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, share_id TEXT NOT NULL,"
	"  call_id TEXT UNIQUE NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL,"
	"  lease_until BIGINT NOT NULL DEFAULT 0, done BIGINT NOT NULL DEFAULT 0, last_error TEXT);"
	"CREATE INDEX outbox_due ON outbox(done, next_at);"
	"CREATE TABLE idempotency (device_id TEXT NOT NULL, key TEXT NOT NULL, req_hash TEXT NOT NULL,"
	"  status BIGINT NOT NULL, response TEXT NOT NULL, created_at BIGINT NOT NULL,"
	"  PRIMARY KEY (device_id, key));"
	"CREATE TABLE es9_tx (id TEXT PRIMARY KEY, share_id TEXT NOT NULL, eid TEXT NOT NULL,"
	"  euicc_challenge BYTEA, server_challenge BYTEA, euicc_sig1 BYTEA, smdp_sig2 BYTEA, euicc_pub BYTEA,"
	"  stage BIGINT NOT NULL, created_at BIGINT NOT NULL);"
	"CREATE TABLE companions (eid TEXT PRIMARY KEY, euicc_pub BYTEA NOT NULL, last_seen BIGINT NOT NULL);",
	/* 2: companion-initiated sharing */
	"CREATE TABLE offer_nonces (nonce TEXT PRIMARY KEY, share_id TEXT NOT NULL, expires_at BIGINT NOT NULL);",
	/* 3: move = share, then release the original */
	"ALTER TABLE apps ADD COLUMN released_share TEXT NOT NULL DEFAULT '';",
	/* 4: bank-ID apps whose key the companion's SE generates */
	"ALTER TABLE shares ADD COLUMN app_key TEXT NOT NULL DEFAULT '';",
	/* 5: a move is a transfer for the provider */
	"ALTER TABLE shares ADD COLUMN operation TEXT NOT NULL DEFAULT 'share';",
	/* 6: device revocation and the persisted passphrase throttle (issue 8) */
	"ALTER TABLE devices ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;"
	"CREATE TABLE pass_throttle (key TEXT PRIMARY KEY, attempts BIGINT NOT NULL,"
	"  window_start BIGINT NOT NULL);",
	/* 7: a companion belongs to the user whose share it installed first (issue 8) */
	"CREATE TABLE companion_owners (eid TEXT PRIMARY KEY, user_id BIGINT NOT NULL, since BIGINT NOT NULL);",
	/* 8: several nodes on one database, flat as the store grows (issue 9):
	 * outbox leases name their owner; one job per (share, kind); every
	 * statement of the flow and of the housekeeping on an index
	 * (tests/integration/test_pg_plans.sh checks the plans) */
	"ALTER TABLE outbox ADD COLUMN lease_owner BIGINT NOT NULL DEFAULT 0;"
	"DELETE FROM outbox a USING outbox b WHERE a.share_id = b.share_id AND a.kind = b.kind AND a.id > b.id;"
	"CREATE UNIQUE INDEX outbox_once ON outbox(share_id, kind);"
	"CREATE INDEX cmds_share ON companion_cmds(share_id);"
	"CREATE INDEX events_share ON events(share_id);"
	"CREATE INDEX shares_updated ON shares(updated_at);"
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
	"  created_at BIGINT NOT NULL);"
	"CREATE INDEX smds_events_eid ON smds_events(eid, created_at);",
	/* 10: a share's confirmation code: SHA-256 of it, refused attempts (issue 7) */
	/* (parenthesised: one element, as clang's -Wstring-concatenation wants it said) */
	("CREATE TABLE share_cc (share_id TEXT PRIMARY KEY, cc_hash TEXT NOT NULL, attempts INTEGER NOT NULL"
	 "  DEFAULT 0);"),
	/* 11: flat as the store grows, cheaper share updates (issue 9):
	 * shares_of_eid ("WHERE eid ORDER BY created_at DESC, id DESC LIMIT")
	 * walks an index backwards instead of sorting every share the EID ever
	 * had; a share update (never HOT: state and updated_at change) adds an
	 * entry to each index whose predicate the new row meets, so the expiry
	 * index holds only the expirable states (store_sql_expirable()) and the
	 * prune index only the finished ones (NOT IN store_sql_open_states()),
	 * the predicates the queries state word for word (test_pg_plans.sh);
	 * device_user reads the device's live tokens with it (read-ahead). */
	("CREATE INDEX shares_eid_created ON shares(eid, created_at, id);"
	 "CREATE INDEX tokens_device ON tokens(device_id, expires_at);"
	 "DROP INDEX shares_expiry;"
	 "CREATE INDEX shares_expiry ON shares(not_after)"
	 "  WHERE state IN ('authorised','delivered','installed') AND not_after > 0;"
	 "DROP INDEX shares_updated;"
	 "CREATE INDEX shares_updated ON shares(updated_at) WHERE state NOT IN"
	 "  ('requested','eid_confirmed','authorised','delivered','installed','cancel_pending');"),
};

/* Statement flags. A failed statement aborts a PostgreSQL transaction
 * (SQLite's fails alone). Savepoints cost two statements each; issue 9
 * audited the callers instead: every caller of a write inside a
 * transaction rolls back on any failure of it (share.c, download.c,
 * enroll.c, auth.c, admin_acct.c; TS_ESTATE of a row count is no failure),
 * so only a constraint violation a caller may go on after (TS_EEXIST, the
 * transaction usable: test_store.c test_transactions) must leave the
 * transaction alive. Inserts with a unique key say ON CONFLICT DO NOTHING
 * and report TS_EEXIST by their row count (q_insert); only a foreign key,
 * which ON CONFLICT cannot catch, still needs a savepoint (Q_GUARD). */
enum {
	Q_READ = 0,
	/* a write; inside a transaction a failure ends it (the commit fails) */
	Q_WRITE = 1,
	/* a write whose constraint violation (a foreign key) is TS_EEXIST with
	 * the transaction going on: SAVEPOINT and RELEASE around it, sent in
	 * the same round trip */
	Q_GUARD = 2,
	/* a write whose result nobody reads (out NULL) and that cannot fail but
	 * with its transaction: inside one it is queued and sent with the
	 * transaction's next statement or its COMMIT, in that round trip (a
	 * libpq pipeline); its failure is that statement's or the commit's */
	Q_DEFER = 4,
	/* housekeeping nobody acknowledges or waits for (tx_trim): besides
	 * Q_DEFER's queueing inside a transaction, outside one it is queued as
	 * well and sent with this connection's next statement, in its round
	 * trip and its implicit transaction (the pipeline's one sync), or with
	 * the next BEGIN; lost with that statement when it fails, or when the
	 * store is closed first, which only leaves a row for the next trim (the
	 * queue is empty whenever the connection breaks: every send of it is a
	 * flush, which empties it) (issue 9: tx_trim + tx_put were two round
	 * trips per flow) */
	Q_HOUSE = 8,
};

/* statements of a transaction queued before they are sent (Q_DEFER); a
 * full queue is sent at once */
#define PQ_QMAX 40

/* ---- parameters ---- */

#define PQ_MAXP 20

typedef struct pq_args {
	int n;
	const char *v[PQ_MAXP];
	int len[PQ_MAXP];
	int fmt[PQ_MAXP];
	char num[PQ_MAXP][24];
} pq_args;

/* A statement queued in a transaction (Q_DEFER, the COMMIT and what goes
 * after it), with its own copy of the parameters. */
struct pq_queued {
	char name[16];   /* the prepared statement; "": sql, a text of our own */
	const char *sql;
	int n;
	const char *v[PQ_MAXP];
	int len[PQ_MAXP];
	int fmt[PQ_MAXP];
	char *buf;       /* the parameters' copy */
	PGresult **keep; /* NULL: checked and cleared; else its result, when all went well */
	int soft;        /* a failure is only logged (the wake-ups after the COMMIT) */
};

static void
a_text(pq_args *a, const char *v)
{
	if (a->n >= PQ_MAXP)
		return;
	a->v[a->n] = v; /* NULL binds SQL NULL */
	a->len[a->n] = 0;
	a->fmt[a->n] = 0;
	a->n++;
}

static void
a_i64(pq_args *a, int64_t v)
{
	if (a->n >= PQ_MAXP)
		return;
	ts_snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", (long long)v);
	a_text(a, a->num[a->n]);
}

static void
a_blob(pq_args *a, const uint8_t *v, size_t len)
{
	if (a->n >= PQ_MAXP)
		return;
	a->v[a->n] = (const char *)v;
	a->len[a->n] = (int)len;
	a->fmt[a->n] = 1;
	a->n++;
}

/* ---- results (binary format) ---- */

static int64_t
c_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	uint64_t v = 0;
	if (len != 2 && len != 4 && len != 8)
		return 0;
	for (int i = 0; i < len; i++)
		v = (v << 8) | p[i];
	if (len == 2)
		return (int16_t)(uint16_t)v;
	if (len == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

static void
c_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
	if (cap == 0)
		return;
	size_t n = 0;
	const char *v = "";
	if (!PQgetisnull(r, row, col)) {
		v = PQgetvalue(r, row, col);
		n = (size_t)PQgetlength(r, row, col);
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static char *
c_strdup(const PGresult *r, int row, int col)
{
	size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
	char *o = malloc(n + 1);
	if (o == NULL)
		return NULL;
	if (n)
		memcpy(o, PQgetvalue(r, row, col), n);
	o[n] = '\0';
	return o;
}

static void
c_blob(const PGresult *r, int row, int col, uint8_t *dst, size_t len)
{
	if (!PQgetisnull(r, row, col) && (size_t)PQgetlength(r, row, col) == len)
		memcpy(dst, PQgetvalue(r, row, col), len);
	else
		memset(dst, 0, len);
}

/* ---- execution ---- */

static void
notice_sink(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

static int sqlstate_rc(const PGresult *r);

/* A failure because the server went away (the connection lost, the backend
 * ended by an administrator or a server shutdown: 57P01..57P03, no room for
 * a new connection: 53300) is the busy error, TS_ETIMEOUT, as a lock
 * timeout is: the callers retry or answer 503 with Retry-After, and the
 * next statement outside a transaction reconnects (alive). A commit that
 * failed this way may still have been made (its answer was lost): the
 * callers' retries are idempotent (unique keys, state checks). */
static int
pq_rc(pq_store *s, int rc)
{
	if (rc == TS_EDB && (PQstatus(s->conn) != CONNECTION_OK || s->broken))
		return TS_ETIMEOUT;
	return rc;
}

/* READ COMMITTED is the session's default (set at connect with lock_timeout):
 * a bare BEGIN is cheaper for the server to run than one naming the level */
#define PQ_BEGIN_SQL "BEGIN"

static int flush(pq_store *s, const char *name, const pq_args *a, int guard, PGresult **r_out);

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forgets the read-ahead row: any statement of this connection ends it. */
static void
ra_drop(pq_store *s)
{
	PQclear(s->ra);
	s->ra = NULL;
	s->nd_state = 0;
}

/* Runs a simple (parameterless, valueless) command; inside a transaction
 * whose BEGIN is still pending, the BEGIN first (in the same round trip);
 * statements still queued are sent before it. */
static int
simple(pq_store *s, const char *sql)
{
	char both[256];
	ra_drop(s);
	if (s->nq > 0) {
		int rc = flush(s, NULL, NULL, 0, NULL);
		if (rc != 0)
			return rc;
	}
	if (s->begin_pending) {
		s->begin_pending = 0;
		size_t len = strlen(sql);
		if (len < sizeof(both) - sizeof(PQ_BEGIN_SQL) - 2) {
			ts_snprintf(both, sizeof(both), PQ_BEGIN_SQL "; %s", sql);
			sql = both;
		} else {
			int rc = simple(s, PQ_BEGIN_SQL);
			if (rc != 0)
				return rc;
		}
	}
	PGresult *r = PQexec(s->conn, sql);
	ExecStatusType t = PQresultStatus(r);
	int rc = 0;
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		log_error("postgresql: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
		rc = sqlstate_rc(r) == TS_ETIMEOUT ? TS_ETIMEOUT : TS_EDB;
	}
	PQclear(r);
	return pq_rc(s, rc);
}

static int
sqlstate_rc(const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && strncmp(state, "23", 2) == 0)
		return TS_EEXIST;
	if (state != NULL && strcmp(state, "55P03") == 0) /* lock_not_available: lock_timeout */
		return TS_ETIMEOUT;
	if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		return TS_ETIMEOUT; /* serialization_failure, deadlock_detected: retry */
	/* connection_exception (08), admin / crash shutdown, cannot connect now
	 * (57P01..57P03), too_many_connections (53300): see pq_rc */
	if (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
				 strcmp(state, "53300") == 0))
		return TS_ETIMEOUT;
	return TS_EDB;
}

/* 40001 / 40P01: the statement (or transaction) may simply run again. */
static int
sqlstate_retry(const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* A short pause before retry number `attempt` (1..): 2, 4, 8 ... ms plus
 * jitter, so two nodes that deadlocked do not meet again in step. */
static void
retry_pause(int attempt)
{
	uint8_t j = 0;
	(void)ts_random(&j, 1);
	struct timespec ts = { 0, ((1L << attempt) * 1000L + (long)j * 8L) * 1000L };
	nanosleep(&ts, NULL);
}

/* The outbox lease owner id of this connection: a random positive int4
 * whose session advisory lock we hold (released by PostgreSQL when the
 * session ends, however the process ended). */
static int
take_owner(pq_store *s)
{
	for (int i = 0; i < 16; i++) {
		uint32_t v = 0;
		if (ts_random((uint8_t *)&v, sizeof(v)) != 0)
			return TS_ECRYPTO;
		v &= 0x7fffffffu;
		if (v == 0)
			continue;
		char sql[96];
		ts_snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(" TS_PG_OWNER_CLASS ", %u)", (unsigned)v);
		PGresult *r = PQexec(s->conn, sql);
		int got = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		int bad = PQresultStatus(r) != PGRES_TUPLES_OK;
		if (bad)
			log_error("postgresql: %s", PQresultErrorMessage(r));
		PQclear(r);
		if (bad)
			return TS_EDB;
		if (got) {
			s->owner = (int32_t)v;
			return 0;
		}
	}
	return TS_EDB;
}

/* The server processes (backend pids) of this process's store connections:
 * pg_listen.c ignores the notifications they send (pg_notify.h). At most
 * PQ_OWN_MAX are kept; one that does not fit is merely not ignored. */
#define PQ_OWN_MAX 64
static _Atomic int own_pids[PQ_OWN_MAX];

static void
own_add(int pid)
{
	for (int i = 0; pid > 0 && i < PQ_OWN_MAX; i++) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&own_pids[i], &zero, pid))
			return;
	}
}

static void
own_del(int pid)
{
	for (int i = 0; pid > 0 && i < PQ_OWN_MAX; i++) {
		int cur = pid;
		if (atomic_compare_exchange_strong(&own_pids[i], &cur, 0))
			return;
	}
}

int
store_pg_own_backend(int pid)
{
	for (int i = 0; pid > 0 && i < PQ_OWN_MAX; i++)
		if (atomic_load(&own_pids[i]) == pid)
			return 1;
	return 0;
}

/* A lost connection is reopened between transactions (never inside one:
 * its work is gone and the caller must see the failure). */
static int
alive(pq_store *s)
{
	if (PQstatus(s->conn) == CONNECTION_OK && !s->broken)
		return 0;
	if (s->in_tx)
		return TS_ETIMEOUT; /* the transaction is gone: busy (pq_rc) */
	own_del(s->pid);
	s->pid = 0;
	/* (a new connection: out of pipeline mode whatever state it was in) */
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		log_error("postgresql: reconnect failed: %s", PQerrorMessage(s->conn));
		return TS_ETIMEOUT;
	}
	s->broken = 0;
	for (size_t i = 0; i < s->ncache; i++)
		s->cache[i].prepared = 0;
	log_warn("postgresql: connection re-established");
	own_add(s->pid = PQbackendPID(s->conn));
	int rc = simple(s, s->lock_timeout);
	return rc != 0 ? rc : take_owner(s);
}

static int
prepared_name(pq_store *s, const char *sql, int nparams, char name[16])
{
	size_t i;
	if (!ts_ptrmap_get(&s->cache_idx, sql, &i)) {
		i = s->ncache;
		if (s->ncache == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : PQ_CACHE_INIT;
			struct pq_cached *nc = ncap > SIZE_MAX / sizeof(*nc) ? NULL : realloc(s->cache, ncap * sizeof(*nc));
			if (nc == NULL) {
				log_error("postgresql statement cache: out of memory");
				return TS_ENOMEM;
			}
			s->cache = nc;
			s->cap = ncap;
		}
		if (ts_ptrmap_put(&s->cache_idx, sql, i) != 0) {
			log_error("postgresql statement cache: out of memory");
			return TS_ENOMEM;
		}
		s->cache[i].sql = sql;
		s->cache[i].prepared = 0;
		s->cache[i].explained = 0;
		s->ncache++;
	}
	ts_snprintf(name, 16, "ts%zu", i);
	if (s->cache[i].prepared)
		return 0;
	PGresult *r = PQprepare(s->conn, name, sql, nparams, NULL);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		log_error("postgresql prepare: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
	PQclear(r);
	if (!ok)
		return TS_EDB;
	s->cache[i].prepared = 1;
	return 0;
}

/* TAPSHARE_STORE_EXPLAIN=FILE (tests, bench): the first time a statement
 * runs on this connection, its plan for these very parameters is appended
 * to FILE as "-- SQL" followed by the plan lines (EXPLAIN without ANALYZE:
 * nothing is executed). tests/integration/test_pg_plans.sh fails on any
 * "Seq Scan" of a flow statement. */
static void
explain(pq_store *s, const char *sql, const pq_args *a)
{
	size_t i;
	if (!ts_ptrmap_get(&s->cache_idx, sql, &i) || s->cache[i].explained)
		return;
	s->cache[i].explained = 1;
	size_t len = strlen(sql) + 9;
	char *text = malloc(len);
	if (text == NULL)
		return;
	ts_snprintf(text, len, "EXPLAIN %s", sql);
	/* inside a transaction a failed EXPLAIN must not abort it */
	int sp = s->in_tx && simple(s, "SAVEPOINT ts_ex") == 0;
	PGresult *r = PQexecParams(s->conn, text, a ? a->n : 0, NULL, a ? a->v : NULL, a ? a->len : NULL,
	    a ? a->fmt : NULL, 0);
	if (sp && PQresultStatus(r) != PGRES_TUPLES_OK)
		(void)simple(s, "ROLLBACK TO SAVEPOINT ts_ex");
	if (sp)
		(void)simple(s, "RELEASE SAVEPOINT ts_ex");
	fprintf(s->explain, "-- %s\n", sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		for (int k = 0; k < PQntuples(r); k++)
			fprintf(s->explain, "%s\n", PQgetvalue(r, k, 0));
	else
		fprintf(s->explain, "EXPLAIN FAILED: %s", PQresultErrorMessage(r));
	fflush(s->explain);
	PQclear(r);
	free(text);
}

/* The next result of a pipeline; the NULL that ends a query's results is
 * consumed (a sync has none). */
static PGresult *
pipe_next(PGconn *c)
{
	PGresult *r = PQgetResult(c);
	if (r != NULL && PQresultStatus(r) != PGRES_PIPELINE_SYNC)
		PQclear(PQgetResult(c));
	return r;
}

static void
queue_clear(pq_store *s)
{
	for (int i = 0; i < s->nq; i++) {
		free(s->queue[i].buf);
		s->queue[i].buf = NULL;
	}
	s->nq = 0;
}

/* Queues a statement of the transaction: the prepared statement name, or
 * (name "") the text sql, with a copy of a; sent by the next flush. keep:
 * where its result goes when everything sent with it went well (else NULL
 * there). soft: its failure is only logged. */
static int
enqueue(pq_store *s, const char *name, const char *sql, const pq_args *a, PGresult **keep, int soft)
{
	if (keep)
		*keep = NULL;
	if (s->nq == PQ_QMAX) {
		int rc = flush(s, NULL, NULL, 0, NULL);
		if (rc != 0)
			return rc;
	}
	struct pq_queued *e = &s->queue[s->nq];
	int n = a ? a->n : 0;
	size_t total = 0;
	for (int i = 0; i < n; i++)
		if (a->v[i] != NULL)
			total += a->fmt[i] ? (size_t)a->len[i] : strlen(a->v[i]) + 1;
	char *buf = NULL;
	if (total > 0 && (buf = malloc(total)) == NULL) {
		log_error("postgresql statement queue: out of memory");
		return TS_ENOMEM;
	}
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		e->len[i] = a->len[i];
		e->fmt[i] = a->fmt[i];
		e->v[i] = NULL;
		if (a->v[i] == NULL)
			continue;
		size_t l = a->fmt[i] ? (size_t)a->len[i] : strlen(a->v[i]) + 1;
		if (l > 0)
			memcpy(buf + off, a->v[i], l);
		e->v[i] = buf != NULL ? buf + off : "";
		off += l;
	}
	e->n = n;
	e->buf = buf;
	e->keep = keep;
	e->soft = soft;
	e->sql = sql;
	ts_snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	s->nq++;
	return 0;
}

/* Sends in ONE round trip (a libpq pipeline) the transaction's pending
 * BEGIN, the queued statements and then, when name is not NULL, the
 * prepared statement name with a (between SAVEPOINT and RELEASE when
 * guard: three round trips before; per flow that was some 40 of the node's
 * and PostgreSQL's system calls and wake-ups). When a statement fails,
 * PostgreSQL skips the rest up to the sync (the transaction is aborted;
 * for the guarded statement the caller rolls back to the savepoint).
 * *r_out: the last statement's result, success or not. Returns 0, or the
 * failure of BEGIN, of a queued statement (the first; then *r_out is
 * NULL), of SAVEPOINT / RELEASE or of the pipeline itself. The queue is
 * empty afterwards. */
static int
flush(pq_store *s, const char *name, const pq_args *a, int guard, PGresult **r_out)
{
	PGconn *c = s->conn;
	if (r_out)
		*r_out = NULL;
	int begin = s->begin_pending, nq = s->nq;
	s->begin_pending = 0;
	s->retryable = 0;
	if (PQenterPipelineMode(c) != 1) {
		log_error("postgresql: cannot enter pipeline mode: %s", PQerrorMessage(c));
		queue_clear(s);
		return TS_EDB;
	}
	int fail_here = nq >= 2 && s->fail_send > 0 && --s->fail_send == 0;
	int sent = !begin || PQsendQueryParams(c, PQ_BEGIN_SQL, 0, NULL, NULL, NULL, NULL, 0) == 1;
	for (int i = 0; sent && i < nq; i++) {
		const struct pq_queued *e = &s->queue[i];
		if (i == 1 && fail_here) {
			log_warn("TAPSHARE_PG_FAIL_SEND: a send fails part-way");
			sent = 0;
			break;
		}
		sent = e->name[0] != '\0' ? PQsendQueryPrepared(c, e->name, e->n, e->v, e->len, e->fmt, 1) == 1 :
		    PQsendQueryParams(c, e->sql, e->n, NULL, e->v, e->len, e->fmt, 1) == 1;
	}
	if (sent && name != NULL)
		sent = (!guard || PQsendQueryParams(c, "SAVEPOINT ts_sp", 0, NULL, NULL, NULL, NULL, 0) == 1) &&
		    PQsendQueryPrepared(c, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
			a ? a->fmt : NULL, 1) == 1 &&
		    (!guard || PQsendQueryParams(c, "RELEASE SAVEPOINT ts_sp", 0, NULL, NULL, NULL, NULL, 0) == 1);
	sent = sent && PQpipelineSync(c) == 1;
	int rc = 0;
	PGresult *sp = NULL, *r = NULL, *rel = NULL;
	if (sent) {
		if (begin) {
			PGresult *bg = pipe_next(c);
			if (PQresultStatus(bg) != PGRES_COMMAND_OK) {
				log_error("postgresql: %s", bg ? PQresultErrorMessage(bg) : PQerrorMessage(c));
				rc = TS_EDB;
			}
			PQclear(bg);
		}
		for (int i = 0; i < nq; i++) {
			const struct pq_queued *e = &s->queue[i];
			PGresult *qr = pipe_next(c);
			ExecStatusType t = PQresultStatus(qr);
			if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
				if (e->keep != NULL) {
					*e->keep = qr;
					qr = NULL;
				}
			} else if (t == PGRES_PIPELINE_ABORTED) {
				if (rc == 0 && !e->soft)
					rc = TS_EDB; /* skipped: cannot be without a failure before it */
			} else if (e->soft) {
				log_warn("postgresql: %s", qr ? PQresultErrorMessage(qr) : PQerrorMessage(c));
			} else if (rc == 0) {
				log_error("postgresql: %s", qr ? PQresultErrorMessage(qr) : PQerrorMessage(c));
				rc = sqlstate_rc(qr) == TS_ETIMEOUT ? TS_ETIMEOUT : TS_EDB;
				s->retryable = sqlstate_retry(qr);
			}
			PQclear(qr);
		}
		if (name != NULL) {
			sp = guard ? pipe_next(c) : NULL;
			r = pipe_next(c);
			rel = guard ? pipe_next(c) : NULL;
		}
		/* up to the sync (bounded: a broken connection returns NULL); an
		 * error there is the commit's of an implicit transaction (the
		 * pipeline without BEGIN: q_relaxed) */
		for (int i = 0; i < 8; i++) {
			PGresult *e = PQgetResult(c);
			int end = e != NULL && PQresultStatus(e) == PGRES_PIPELINE_SYNC;
			if (e != NULL && PQresultStatus(e) == PGRES_FATAL_ERROR && rc == 0) {
				log_error("postgresql: %s", PQresultErrorMessage(e));
				rc = sqlstate_rc(e) == TS_ETIMEOUT ? TS_ETIMEOUT : TS_EDB;
				s->retryable = sqlstate_retry(e);
			}
			PQclear(e);
			if (end)
				break;
		}
	}
	if (PQexitPipelineMode(c) != 1 || !sent) {
		log_error("postgresql: pipeline: %s", PQerrorMessage(c));
		if (rc == 0)
			rc = TS_EDB;
	}
	/* A send that failed part-way leaves the connection in pipeline mode
	 * (libpq refuses to leave it with statements unanswered), where every
	 * later statement fails: the session is given up and reopened before
	 * the next statement (alive), which also makes the server roll back
	 * what part of the transaction it got (no sync was sent for it, and
	 * its BEGIN came first). */
	if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
		log_warn("postgresql: connection left in pipeline mode; it is reopened");
		s->broken = 1;
	}
	rc = pq_rc(s, rc);
	if (rc == 0 && name != NULL) {
		if (guard && PQresultStatus(sp) != PGRES_COMMAND_OK) {
			log_error("postgresql: %s", sp ? PQresultErrorMessage(sp) : PQerrorMessage(c));
			rc = sqlstate_rc(sp) == TS_ETIMEOUT ? TS_ETIMEOUT : TS_EDB;
		} else {
			ExecStatusType t = PQresultStatus(r);
			if (guard && (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) &&
			    PQresultStatus(rel) != PGRES_COMMAND_OK) {
				log_error("postgresql: %s", rel ? PQresultErrorMessage(rel) : PQerrorMessage(c));
				rc = TS_EDB;
			} else if (r_out != NULL) {
				*r_out = r; /* the statement's, success or not */
				r = NULL;
			}
		}
	}
	if (rc != 0)
		for (int i = 0; i < nq; i++)
			if (s->queue[i].keep != NULL) {
				PQclear(*s->queue[i].keep);
				*s->queue[i].keep = NULL;
			}
	PQclear(sp);
	PQclear(r);
	PQclear(rel);
	queue_clear(s);
	return rc;
}

/* Runs a prepared statement once (see q). */
static int
q_once(pq_store *s, const char *sql, int flags, const pq_args *a, PGresult **out)
{
	ra_drop(s);
	int rc = alive(s);
	char name[16];
	s->retryable = 0;
	if (rc != 0 || (rc = prepared_name(s, sql, a ? a->n : 0, name)) != 0)
		return pq_rc(s, rc);
	if (s->explain != NULL)
		explain(s, sql, a);
	if ((flags & Q_DEFER) && (s->in_tx || (flags & Q_HOUSE)) && out == NULL)
		return enqueue(s, name, NULL, a, NULL, 0);
	int guard = (flags & Q_GUARD) && s->in_tx;
	PGresult *r = NULL;
	if (guard || s->begin_pending || s->nq > 0) {
		if ((rc = flush(s, name, a, guard, &r)) != 0)
			return rc;
	} else {
		r = PQexecPrepared(s->conn, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
		    a ? a->fmt : NULL, 1);
	}
	ExecStatusType t = PQresultStatus(r);
	if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
		if (out)
			*out = r;
		else
			PQclear(r);
		return 0;
	}
	rc = pq_rc(s, sqlstate_rc(r));
	s->retryable = sqlstate_retry(r);
	if (rc != TS_EEXIST)
		log_error("postgresql: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
	PQclear(r);
	if (guard && simple(s, "ROLLBACK TO SAVEPOINT ts_sp") == 0)
		(void)simple(s, "RELEASE SAVEPOINT ts_sp");
	return rc;
}

/* Runs a prepared statement; on success *out is the result (caller clears)
 * or NULL when out is NULL. TS_EEXIST on a constraint violation. Outside a
 * transaction a deadlock or serialisation failure is retried (bounded);
 * inside one it is the caller's TS_ETIMEOUT. */
static int
q(pq_store *s, const char *sql, int flags, const pq_args *a, PGresult **out)
{
	if (out)
		*out = NULL;
	int rc = q_once(s, sql, flags, a, out);
	for (int attempt = 1; rc != 0 && s->retryable && !s->in_tx && attempt <= PQ_RETRIES; attempt++) {
		log_warn("postgresql: deadlock or serialisation failure, retry %d of %d", attempt, PQ_RETRIES);
		retry_pause(attempt);
		rc = q_once(s, sql, flags, a, out);
	}
	return rc;
}

/* Rows changed by a write (for the "exactly one row" checks). */
static int
q_changes(pq_store *s, const char *sql, const pq_args *a, long long *changes)
{
	PGresult *r = NULL;
	int rc = q(s, sql, Q_WRITE, a, &r);
	if (rc != 0)
		return rc;
	long long n = 0;
	if (ts_parse_ll(PQcmdTuples(r), 0, INT64_MAX, &n) != 0)
		n = 0;
	PQclear(r);
	*changes = n;
	return 0;
}

/* An insert that says ON CONFLICT DO NOTHING: TS_EEXIST when it inserted
 * nothing, and a transaction it runs in goes on (see the statement flags). */
static int
q_insert(pq_store *s, const char *sql, const pq_args *a)
{
	long long n = 0;
	int rc = q_changes(s, sql, a, &n);
	return rc == 0 && n != 1 ? TS_EEXIST : rc;
}

/* ---- transactions ---- */

/* Other nodes' LISTEN connections on this database (pg_listen.c's count):
 * -1 unknown (no listener in this process): the wake-ups are sent. */
static _Atomic int other_listeners = -1;

void
store_pg_set_listeners(int n)
{
	atomic_store(&other_listeners, n);
}

static void
pq_close(store *b)
{
	pq_store *s = S(b);
	own_del(s->pid);
	queue_clear(s);
	ra_drop(s);
	PQfinish(s->conn);
	if (s->explain)
		fclose(s->explain);
	free(s->cache);
	ts_ptrmap_free(&s->cache_idx);
	free(s->queue);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s);
}

static int
pq_begin(store *b)
{
	pq_store *s = S(b);
	if (s->in_tx) {
		log_error("postgresql: cannot start a transaction within a transaction");
		return TS_EDB;
	}
	ra_drop(s);
	int rc = alive(s);
	if (rc != 0)
		return rc;
	/* no round trip of its own: BEGIN leads the first statement's (issue 9);
	 * housekeeping queued outside a transaction (Q_HOUSE) goes after it */
	s->in_tx = 1;
	s->begin_pending = 1;
	s->tx_seq = 0;
	s->nnote = 0;
	s->locked[0] = '\0';
	return 0;
}

/* outbox_next_due's statement */
static const char sql_next_due[] = "SELECT MIN(GREATEST(next_at, lease_until)) FROM outbox WHERE done=0";
/* the wake-up a commit sends (pg_notify.h); prepared like every statement
 * of the flow: sent unnamed, PostgreSQL parsed, analysed and planned it at
 * each call (as the set_config and outbox_next_due reads of q_relaxed) */
static const char sql_notify[] = "SELECT pg_notify('tapshare', $1)";

/* Commits: what is still queued, the COMMIT and the wake-ups, in one round
 * trip. count: a durable commit (store_committed, the crash hook). */
static int
commit_tx(pq_store *s, int count)
{
	if (!s->in_tx) {
		log_error("postgresql: cannot commit - no transaction is active");
		return TS_EDB;
	}
	s->in_tx = 0;
	if (s->begin_pending && s->nq == 0) { /* nothing was run: nothing to commit */
		s->begin_pending = 0;
		s->nnote = 0;
		if (count)
			store_committed();
		return 0;
	}
	if (!s->begin_pending) {
		PGTransactionStatusType ts = PQtransactionStatus(s->conn);
		if (ts != PQTRANS_INTRANS) {
			/* a statement failed and aborted it: COMMIT would only roll back */
			log_error("postgresql: transaction aborted, not committed");
			queue_clear(s);
			s->nnote = 0;
			if (ts == PQTRANS_INERROR && !s->broken)
				(void)simple(s, "ROLLBACK");
			return pq_rc(s, TS_EDB);
		}
	}
	/* The wake-ups go after the COMMIT, in the same round trip (they form
	 * their own implicit transaction up to the sync, which writes no WAL
	 * of its own and so waits for no flush). Sent inside the write
	 * transaction, PostgreSQL would take its global notification lock
	 * before the commit record and hold it across the WAL flush: every
	 * notifying commit of every node in one line (wait_event "object").
	 * None when pg_listen.c counted no other node listening (issue 9):
	 * this node's own streams were woken by share.c, and a node that starts
	 * listening meanwhile is healed by its sweep. */
	PGresult *cr = NULL;
	int rc = enqueue(s, "", "COMMIT", NULL, &cr, 0);
	int send = atomic_load(&other_listeners) != 0;
	char nname[16];
	if (rc == 0 && send && s->nnote > 0)
		rc = prepared_name(s, sql_notify, 1, nname);
	for (int i = 0; rc == 0 && send && i < s->nnote; i++) {
		pq_args na = { 0 };
		a_text(&na, s->notes[i]);
		rc = enqueue(s, nname, sql_notify, &na, NULL, 1);
	}
	s->nnote = 0;
	if (rc == 0)
		rc = flush(s, NULL, NULL, 0, NULL);
	if (rc == 0 && (PQresultStatus(cr) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(cr), "COMMIT") != 0)) {
		log_error("postgresql commit: %s", cr ? PQresultErrorMessage(cr) : PQerrorMessage(s->conn));
		rc = TS_EDB;
	}
	PQclear(cr);
	queue_clear(s);
	s->begin_pending = 0;
	if (rc != 0 && PQstatus(s->conn) == CONNECTION_OK && !s->broken &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		(void)simple(s, "ROLLBACK");
	if (rc == 0 && count)
		store_committed();
	return pq_rc(s, rc);
}

static int
pq_commit(store *b)
{
	return commit_tx(S(b), 1);
}

static void
pq_rollback(store *b)
{
	pq_store *s = S(b);
	int was = s->in_tx && !s->begin_pending;
	queue_clear(s);
	s->in_tx = 0;
	s->begin_pending = 0;
	s->nnote = 0;
	if (was && PQstatus(s->conn) == CONNECTION_OK && !s->broken && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		(void)simple(s, "ROLLBACK");
}

/* The outbox's own bookkeeping (a worker's claim, a row marked done),
 * outside a caller's transaction: committed without waiting for its WAL
 * flush, as the SQLite backend commits it without its fsync
 * (store_sqlite.c relaxed(), the same argument): nothing is acknowledged
 * on it, and the WAL is one sequence, so the next synchronous commit of any
 * connection (the transition the provider's answer makes, within the same
 * call) flushes it with everything before it, and the WAL writer does
 * within 3 x wal_writer_delay otherwise. A crash can only take such a write
 * back together with all that followed it: the row is claimed or done again
 * and the provider called again with the same functionCallIdentifier,
 * which it answers with its first answer. Another node that acts on the
 * row commits after it in the WAL, so its own durable commit makes this
 * one durable first.
 * One round trip and one implicit transaction (the pipeline up to its
 * sync, no BEGIN / COMMIT: issue 9, two statements fewer per call, ~6 per
 * flow): set_config('synchronous_commit', 'off', true) — local to that
 * transaction, so the session's setting is back at its end — the
 * statement, and outbox_next_due's read, which the worker asks next when it
 * waits (any failure rolls back all three: none is soft). Inside a
 * caller's transaction the statement just joins it. */
static const char sql_relaxed[] = "SELECT set_config('synchronous_commit', 'off', true)";

static int
q_relaxed(pq_store *s, const char *sql, const pq_args *a, PGresult **out)
{
	if (out)
		*out = NULL;
	if (s->in_tx)
		return q(s, sql, Q_WRITE | Q_DEFER, a, out);
	for (int attempt = 0;; attempt++) {
		ra_drop(s);
		int rc = alive(s);
		if (rc != 0)
			return rc;
		char name[16], rname[16], ndname[16];
		PGresult *r = NULL, *nd = NULL;
		s->retryable = 0;
		if ((rc = prepared_name(s, sql, a ? a->n : 0, name)) == 0 &&
		    (rc = prepared_name(s, sql_relaxed, 0, rname)) == 0 &&
		    (rc = prepared_name(s, sql_next_due, 0, ndname)) == 0 &&
		    (rc = enqueue(s, rname, sql_relaxed, NULL, NULL, 0)) == 0) {
			if (s->explain != NULL)
				explain(s, sql, a);
			if ((rc = enqueue(s, name, NULL, a, &r, 0)) == 0 &&
			    (rc = enqueue(s, ndname, sql_next_due, NULL, &nd, 0)) == 0)
				rc = flush(s, NULL, NULL, 0, NULL);
		}
		queue_clear(s); /* (after a failed enqueue) */
		if (rc == 0 && nd != NULL && PQntuples(nd) == 1) {
			s->nd_state = PQgetisnull(nd, 0, 0) ? 1 : 2;
			s->nd_at = c_i64(nd, 0, 0);
			s->ra_req = ts_httpd_thread_requests();
			s->ra_ms = mono_ms();
		}
		PQclear(nd);
		if (rc == 0) {
			if (out)
				*out = r;
			else
				PQclear(r);
			return 0;
		}
		PQclear(r);
		if (!s->retryable || attempt >= PQ_RETRIES)
			return rc;
		log_warn("postgresql: deadlock or serialisation failure, retry %d of %d", attempt + 1, PQ_RETRIES);
		retry_pause(attempt + 1);
	}
}

/* ---- read-ahead ----
 *
 * Outside a transaction a read of a session or a share (tx_get, share_get)
 * also brings, in the same statement and round trip, what the node reads
 * next about that share (issue 9: ~35 reads per flow, one round trip each):
 * the ES9+ handlers read the session, its share, the confirmation code and
 * the credential (download.c); an outbox worker the share, its provider,
 * user and app (outbox.c). Those reads are then answered from that row.
 * It is kept only while nothing else runs on the connection (any statement
 * drops it: ra_drop), within one HTTP request of the thread
 * (ts_httpd_thread_requests) and for PQ_RA_MS at most: so the answers are
 * those the reads would have had a moment earlier, with nothing the caller
 * did or saw in between (a write of its own, another request's effects).
 * Inside a transaction nothing is read ahead (FOR UPDATE reads lock). */
#define PQ_RA_MS 50

#define RA_SHARE_COLS "s.id, s.user_id, s.device_id, s.eid, s.app_id, s.provider, s.state, s.duration_s," \
		      " s.not_after, s.assoc_app_id, s.assoc_name, s.assoc_kind, s.matching_id, s.reason," \
		      " s.created_at, s.updated_at, s.operation"
/* columns after the share's 17 (RA_SHARE_COLS), from ra_off */
enum { RA_CRED = 17, RA_CC_HASH, RA_CC_ATTEMPTS, RA_P_NAME, RA_P_URL, RA_P_CA, RA_U_NAME, RA_U_HASH, RA_APP };
#define RA_COLS RA_SHARE_COLS ", s.credential, c.cc_hash, c.attempts, p.name, p.url, p.ca_file, u.name," \
		" u.pass_hash, a.app_id, a.user_id, a.name, a.kind, a.provider, a.shareable, a.released_share"
#define RA_JOINS " LEFT JOIN share_cc c ON c.share_id = s.id LEFT JOIN providers p ON p.name = s.provider" \
		 " LEFT JOIN users u ON u.id = s.user_id LEFT JOIN apps a ON a.app_id = s.app_id"
#define TX_COLS "t.id, t.share_id, t.eid, t.euicc_challenge, t.server_challenge, t.euicc_sig1, t.smdp_sig2," \
		" t.euicc_pub, t.stage, t.created_at"
#define RA_TX_NCOLS 10
/* device_user's read: the device and its live tokens, RA_TOKENS at most
 * (more: token_check reads) */
#define RA_DEVICE (-1)
#define RA_TOKENS 8
static const char ra_by_device[] = "SELECT d.user_id, d.revoked_at, t.token_hash, t.user_id, t.expires_at"
				   " FROM devices d LEFT JOIN LATERAL (SELECT token_hash, user_id, expires_at FROM tokens"
				   " WHERE device_id = d.device_id AND expires_at >= $2 LIMIT 9) t ON true" /* RA_TOKENS + 1 */
				   " WHERE d.device_id=$1";
static const char ra_by_share[] = "SELECT " RA_COLS " FROM shares s" RA_JOINS " WHERE s.id=$1";
static const char ra_by_tx[] = "SELECT " TX_COLS ", " RA_COLS " FROM es9_tx t LEFT JOIN shares s ON s.id = t.share_id"
			       RA_JOINS " WHERE t.id=$1";


/* Keeps r (one row or none) as the read-ahead row, its share at column off. */
static void
ra_keep(pq_store *s, PGresult *r, int off)
{
	ra_drop(s);
	s->ra = r;
	s->ra_off = off;
	s->ra_req = ts_httpd_thread_requests();
	s->ra_ms = mono_ms();
}

/* The read-ahead row whose share is share_id and exists (its first column
 * at *off), or NULL: none, or no longer valid (then dropped). */
static int
ra_valid(pq_store *s)
{
	if (s->ra == NULL)
		return 0;
	if (s->in_tx || s->ra_req != ts_httpd_thread_requests() || mono_ms() - s->ra_ms > PQ_RA_MS) {
		ra_drop(s);
		return 0;
	}
	return 1;
}

static const PGresult *
ra_share(pq_store *s, const char *share_id, int *off)
{
	if (!ra_valid(s))
		return NULL;
	*off = s->ra_off;
	if (*off < 0 || PQntuples(s->ra) != 1 || PQgetisnull(s->ra, 0, *off) || share_id == NULL ||
	    strcmp(PQgetvalue(s->ra, 0, *off), share_id) != 0)
		return NULL;
	return s->ra;
}

/* The read-ahead row (as ra_share) whose share has text column col equal
 * to v (its provider, app), or user id uid when v is NULL. */
static const PGresult *
ra_of(pq_store *s, int col, const char *v, int64_t uid, int *off)
{
	if (s->ra == NULL || s->ra_off < 0 || PQntuples(s->ra) != 1 || PQgetisnull(s->ra, 0, s->ra_off))
		return NULL;
	const PGresult *r = ra_share(s, PQgetvalue(s->ra, 0, s->ra_off), off);
	if (r == NULL)
		return NULL;
	if (v != NULL)
		return strcmp(PQgetvalue(r, 0, *off + col), v) == 0 ? r : NULL;
	return c_i64(r, 0, *off + col) == uid ? r : NULL;
}

/* ---- users, devices, tokens ---- */

static int
pq_user_add(store *b, const char *name, const char *pass_hash, int64_t *id)
{
	static const char sql[] = "INSERT INTO users(name, pass_hash, created_at) VALUES($1,$2,$3)"
				  " ON CONFLICT DO NOTHING RETURNING id";
	pq_args a = { 0 };
	a_text(&a, name);
	a_text(&a, pass_hash);
	a_i64(&a, ts_now());
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_WRITE, &a, &r);
	if (rc == 0) {
		if (PQntuples(r) == 1)
			*id = c_i64(r, 0, 0);
		else
			rc = TS_EEXIST; /* the name is taken */
	}
	PQclear(r);
	return rc;
}

static int
pq_user_get(store *b, int64_t id, char *name, size_t cap, char *hash, size_t hcap)
{
	static const char sql[] = "SELECT name, pass_hash FROM users WHERE id=$1";
	int o = 0;
	const PGresult *ra = ra_of(S(b), 1, NULL, id, &o);
	if (ra != NULL) { /* the share's user, read ahead */
		if (PQgetisnull(ra, 0, o + RA_U_NAME))
			return TS_ENOTFOUND;
		if (name)
			c_text(ra, 0, o + RA_U_NAME, name, cap);
		if (hash)
			c_text(ra, 0, o + RA_U_HASH, hash, hcap);
		return 0;
	}
	pq_args a = { 0 };
	a_i64(&a, id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		if (name)
			c_text(r, 0, 0, name, cap);
		if (hash)
			c_text(r, 0, 1, hash, hcap);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* Reads one BIGINT from the first row: TS_ENOTFOUND (or notfound) without one. */
static int
one_i64(pq_store *s, const char *sql, const pq_args *a, int64_t *v, int notfound)
{
	PGresult *r = NULL;
	int rc = q(s, sql, Q_READ, a, &r);
	if (rc != 0)
		return rc;
	rc = notfound;
	if (PQntuples(r) > 0) {
		*v = c_i64(r, 0, 0);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_user_by_name(store *b, const char *name, int64_t *id)
{
	static const char sql[] = "SELECT id FROM users WHERE name=$1";
	pq_args a = { 0 };
	a_text(&a, name);
	return one_i64(S(b), sql, &a, id, TS_ENOTFOUND);
}

static int
pq_enroll_code_add(store *b, const char *code_hash, int64_t user_id, int64_t expires_at)
{
	static const char sql[] = "INSERT INTO enroll_codes(code_hash, user_id, expires_at) VALUES($1,$2,$3)";
	pq_args a = { 0 };
	a_text(&a, code_hash);
	a_i64(&a, user_id);
	a_i64(&a, expires_at);
	return q(S(b), sql, Q_WRITE | Q_GUARD, &a, NULL); /* user_id: a foreign key */
}

static int
pq_enroll_code_use(store *b, const char *code_hash, int64_t now, int64_t *user_id)
{
	static const char sel[] = "SELECT user_id, expires_at, used_at FROM enroll_codes WHERE code_hash=$1";
	static const char upd[] = "UPDATE enroll_codes SET used_at=$1 WHERE code_hash=$2 AND used_at IS NULL";
	pq_args a = { 0 };
	a_text(&a, code_hash);
	PGresult *r = NULL;
	int rc = q(S(b), sel, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		*user_id = c_i64(r, 0, 0);
		if (!PQgetisnull(r, 0, 2))
			rc = TS_ESTATE;
		else if (c_i64(r, 0, 1) < now)
			rc = TS_EEXPIRED;
		else
			rc = 0;
	}
	PQclear(r);
	if (rc != 0)
		return rc;
	pq_args u = { 0 };
	a_i64(&u, now);
	a_text(&u, code_hash);
	long long n = 0;
	rc = q_changes(S(b), upd, &u, &n);
	if (rc == 0 && n != 1)
		rc = TS_ESTATE;
	return rc;
}

static int
pq_device_add(store *b, const char *device_id, int64_t user_id, const char *name)
{
	static const char sql[] = "INSERT INTO devices(device_id, user_id, name, created_at) VALUES($1,$2,$3,$4)";
	pq_args a = { 0 };
	a_text(&a, device_id);
	a_i64(&a, user_id);
	a_text(&a, name);
	a_i64(&a, ts_now());
	return q(S(b), sql, Q_WRITE | Q_GUARD, &a, NULL); /* user_id: a foreign key */
}

static int
pq_device_user(store *b, const char *device_id, int64_t *user_id)
{
	static const char sql[] = "SELECT user_id, revoked_at FROM devices WHERE device_id=$1";
	pq_store *s = S(b);
	int ahead = !s->in_tx && strlen(device_id) < sizeof(s->ra_dev);
	pq_args a = { 0 };
	a_text(&a, device_id);
	if (ahead) /* with its live tokens: the API's token_check follows (read-ahead) */
		a_i64(&a, ts_now());
	PGresult *r = NULL;
	int rc = q(s, ahead ? ra_by_device : sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		*user_id = c_i64(r, 0, 0);
		rc = c_i64(r, 0, 1) != 0 ? TS_EDENIED : 0;
		if (ahead) {
			ra_keep(s, r, RA_DEVICE);
			memcpy(s->ra_dev, device_id, strlen(device_id) + 1);
			return rc;
		}
	}
	PQclear(r);
	return rc;
}

static int
pq_token_add(store *b, const char *token_hash, const char *device_id, int64_t user_id, int64_t exp)
{
	static const char del[] = "DELETE FROM tokens WHERE expires_at < $1";
	static const char ins[] = "INSERT INTO tokens(token_hash, device_id, user_id, expires_at) VALUES($1,$2,$3,$4)"
				  " ON CONFLICT DO NOTHING";
	pq_args d = { 0 };
	a_i64(&d, ts_now());
	(void)q(S(b), del, Q_WRITE | Q_DEFER, &d, NULL);
	pq_args a = { 0 };
	a_text(&a, token_hash);
	a_text(&a, device_id);
	a_i64(&a, user_id);
	a_i64(&a, exp);
	return q_insert(S(b), ins, &a);
}

static int
pq_token_check(store *b, const char *token_hash, const char *device_id, int64_t now, int64_t *user_id)
{
	static const char sql[] = "SELECT user_id FROM tokens WHERE token_hash=$1 AND device_id=$2 AND expires_at>=$3";
	pq_store *s = S(b);
	const PGresult *ra = ra_valid(s) && s->ra_off == RA_DEVICE && strcmp(s->ra_dev, device_id) == 0 ? s->ra : NULL;
	if (ra != NULL && PQntuples(ra) <= RA_TOKENS) { /* the device's live tokens, all of them */
		for (int i = 0; i < PQntuples(ra); i++)
			if (!PQgetisnull(ra, i, 2) && strcmp(PQgetvalue(ra, i, 2), token_hash) == 0 &&
			    c_i64(ra, i, 4) >= now) {
				*user_id = c_i64(ra, i, 3);
				return 0;
			}
		return TS_EAUTH;
	}
	pq_args a = { 0 };
	a_text(&a, token_hash);
	a_text(&a, device_id);
	a_i64(&a, now);
	return one_i64(S(b), sql, &a, user_id, TS_EAUTH);
}

static int
pq_token_drop(store *b, const char *token_hash)
{
	pq_args a = { 0 };
	a_text(&a, token_hash);
	return q(S(b), "DELETE FROM tokens WHERE token_hash=$1", Q_WRITE, &a, NULL);
}

/* ---- providers and apps ---- */

static int
pq_provider_put(store *b, const store_provider *pr)
{
	static const char sql[] = "INSERT INTO providers(name, url, ca_file) VALUES($1,$2,$3)"
				  " ON CONFLICT (name) DO UPDATE SET url=EXCLUDED.url, ca_file=EXCLUDED.ca_file";
	pq_args a = { 0 };
	a_text(&a, pr->name);
	a_text(&a, pr->url);
	a_text(&a, pr->ca_file);
	return q(S(b), sql, Q_WRITE, &a, NULL);
}

static int
pq_provider_get(store *b, const char *name, store_provider *pr)
{
	static const char sql[] = "SELECT name, url, ca_file FROM providers WHERE name=$1";
	int o = 0;
	const PGresult *ra = ra_of(S(b), 5, name, 0, &o);
	if (ra != NULL) { /* the share's provider, read ahead */
		if (PQgetisnull(ra, 0, o + RA_P_NAME))
			return TS_ENOTFOUND;
		c_text(ra, 0, o + RA_P_NAME, pr->name, sizeof(pr->name));
		c_text(ra, 0, o + RA_P_URL, pr->url, sizeof(pr->url));
		c_text(ra, 0, o + RA_P_CA, pr->ca_file, sizeof(pr->ca_file));
		return 0;
	}
	pq_args a = { 0 };
	a_text(&a, name);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		c_text(r, 0, 0, pr->name, sizeof(pr->name));
		c_text(r, 0, 1, pr->url, sizeof(pr->url));
		c_text(r, 0, 2, pr->ca_file, sizeof(pr->ca_file));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_app_put(store *b, const store_app *ap)
{
	/* SQLite's INSERT OR REPLACE replaces the whole row: released_share
	 * returns to its default. */
	static const char sql[] = "INSERT INTO apps(app_id, user_id, name, kind, provider, shareable)"
				  " VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT (app_id) DO UPDATE SET"
				  " user_id=EXCLUDED.user_id, name=EXCLUDED.name, kind=EXCLUDED.kind,"
				  " provider=EXCLUDED.provider, shareable=EXCLUDED.shareable, released_share=''";
	pq_args a = { 0 };
	a_text(&a, ap->app_id);
	a_i64(&a, ap->user_id);
	a_text(&a, ap->name);
	a_text(&a, ap->kind);
	a_text(&a, ap->provider);
	a_i64(&a, ap->shareable);
	return q(S(b), sql, Q_WRITE | Q_GUARD, &a, NULL); /* user_id: a foreign key */
}

static void
app_row_at(const PGresult *r, int i, int o, store_app *ap)
{
	c_text(r, i, o + 0, ap->app_id, sizeof(ap->app_id));
	ap->user_id = c_i64(r, i, o + 1);
	c_text(r, i, o + 2, ap->name, sizeof(ap->name));
	c_text(r, i, o + 3, ap->kind, sizeof(ap->kind));
	c_text(r, i, o + 4, ap->provider, sizeof(ap->provider));
	ap->shareable = (int)c_i64(r, i, o + 5);
	c_text(r, i, o + 6, ap->released_share, sizeof(ap->released_share));
}

#define app_row(r, i, ap) app_row_at(r, i, 0, ap)

static int
pq_app_get(store *b, const char *app_id, store_app *ap)
{
	static const char sql[] = "SELECT app_id, user_id, name, kind, provider, shareable, released_share"
				  " FROM apps WHERE app_id=$1";
	int o = 0;
	const PGresult *ra = ra_of(S(b), 4, app_id, 0, &o);
	if (ra != NULL) { /* the share's app, read ahead */
		if (PQgetisnull(ra, 0, o + RA_APP))
			return TS_ENOTFOUND;
		app_row_at(ra, 0, o + RA_APP, ap);
		return 0;
	}
	pq_args a = { 0 };
	a_text(&a, app_id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		app_row(r, 0, ap);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_app_release(store *b, const char *app_id, const char *share_id)
{
	static const char sql[] = "UPDATE apps SET released_share=$1 WHERE app_id=$2 AND released_share=''";
	pq_args a = { 0 };
	a_text(&a, share_id);
	a_text(&a, app_id);
	long long n = 0;
	int rc = q_changes(S(b), sql, &a, &n);
	if (rc == 0 && n != 1)
		rc = TS_ESTATE;
	return rc;
}

static int
pq_apps_json(store *b, int64_t user_id, json_t **out)
{
	static const char sql[] = "SELECT app_id, user_id, name, kind, provider, shareable, released_share"
				  " FROM apps WHERE user_id=$1 ORDER BY app_id";
	pq_args a = { 0 };
	a_i64(&a, user_id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		store_app ap;
		app_row(r, i, &ap);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "app_id", ap.app_id,
		    "name", ap.name, "kind", ap.kind, "provider", ap.provider,
		    "shareable", ap.shareable && ap.released_share[0] == '\0',
		    "state", ap.released_share[0] ? "moved" : "held", "moved_by_share", ap.released_share));
	}
	PQclear(r);
	*out = arr;
	return 0;
}

/* ---- shares ---- */

#define SHARE_COLS "id, user_id, device_id, eid, app_id, provider, state, duration_s, not_after," \
		   " assoc_app_id, assoc_name, assoc_kind, matching_id, reason, created_at, updated_at, operation"

static void
share_row_at(const PGresult *r, int i, int o, store_share *sh)
{
	c_text(r, i, o + 0, sh->id, sizeof(sh->id));
	sh->user_id = c_i64(r, i, o + 1);
	c_text(r, i, o + 2, sh->device_id, sizeof(sh->device_id));
	c_text(r, i, o + 3, sh->eid, sizeof(sh->eid));
	c_text(r, i, o + 4, sh->app_id, sizeof(sh->app_id));
	c_text(r, i, o + 5, sh->provider, sizeof(sh->provider));
	char state[24];
	c_text(r, i, o + 6, state, sizeof(state));
	sh->state = share_state_parse(state);
	sh->duration_s = c_i64(r, i, o + 7);
	sh->not_after = c_i64(r, i, o + 8);
	c_text(r, i, o + 9, sh->assoc_app_id, sizeof(sh->assoc_app_id));
	c_text(r, i, o + 10, sh->assoc_name, sizeof(sh->assoc_name));
	c_text(r, i, o + 11, sh->assoc_kind, sizeof(sh->assoc_kind));
	c_text(r, i, o + 12, sh->matching_id, sizeof(sh->matching_id));
	c_text(r, i, o + 13, sh->reason, sizeof(sh->reason));
	sh->created_at = c_i64(r, i, o + 14);
	sh->updated_at = c_i64(r, i, o + 15);
	c_text(r, i, o + 16, sh->operation, sizeof(sh->operation));
}

#define share_row(r, i, sh) share_row_at(r, i, 0, sh)

static void
share_args(pq_args *a, const store_share *sh)
{
	a_text(a, sh->id);
	a_i64(a, sh->user_id);
	a_text(a, sh->device_id);
	a_text(a, sh->eid);
	a_text(a, sh->app_id);
	a_text(a, sh->provider);
	a_text(a, share_state_name(sh->state));
	a_i64(a, sh->duration_s);
	a_i64(a, sh->not_after);
	a_text(a, sh->assoc_app_id);
	a_text(a, sh->assoc_name);
	a_text(a, sh->assoc_kind);
	a_text(a, sh->matching_id);
	a_text(a, sh->reason);
	a_i64(a, sh->created_at);
	a_i64(a, sh->updated_at);
	a_text(a, sh->operation[0] ? sh->operation : "share");
}

static int
pq_share_insert(store *b, const store_share *sh)
{
	static const char sql[] = "INSERT INTO shares(" SHARE_COLS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
				  "$11,$12,$13,$14,$15,$16,$17) ON CONFLICT DO NOTHING";
	pq_args a = { 0 };
	share_args(&a, sh);
	return q_insert(S(b), sql, &a);
}

static int
pq_share_update(store *b, const store_share *sh)
{
	/* one statement: the credential is kept only while the share can be
	 * downloaded ($18) */
	static const char sql[] = "UPDATE shares SET id=$1, user_id=$2, device_id=$3, eid=$4, app_id=$5,"
				  " provider=$6, state=$7, duration_s=$8, not_after=$9, assoc_app_id=$10,"
				  " assoc_name=$11, assoc_kind=$12, matching_id=$13, reason=$14, created_at=$15,"
				  " updated_at=$16, operation=$17, credential=CASE WHEN $18::boolean THEN credential END"
				  " WHERE id=$1";
	pq_store *s = S(b);
	pq_args a = { 0 };
	share_args(&a, sh);
	a_text(&a, sh->state == SHARE_AUTHORISED || sh->state == SHARE_DELIVERED ? "t" : "f");
	/* the share this transaction read FOR UPDATE: its row is there (locked:
	 * nobody else may delete it), nothing to count, so it is queued */
	if (s->in_tx && s->locked[0] != '\0' && strcmp(s->locked, sh->id) == 0)
		return q(s, sql, Q_WRITE | Q_DEFER, &a, NULL);
	long long n = 0;
	int rc = q_changes(s, sql, &a, &n);
	if (rc == 0 && n != 1)
		rc = TS_ENOTFOUND;
	return rc;
}

/* One share by sql, or inside a transaction by sql_tx (the same query FOR
 * UPDATE): the row stays locked until the transaction ends. */
static int
share_one(pq_store *s, const char *sql, const char *sql_tx, const pq_args *a, store_share *sh)
{
	PGresult *r = NULL;
	int in_tx = s->in_tx;
	int rc = q(s, in_tx ? sql_tx : sql, Q_READ, a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		share_row(r, 0, sh);
		if (in_tx)
			memcpy(s->locked, sh->id, sizeof(s->locked));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_share_get(store *b, const char *id, store_share *sh)
{
	static const char sql[] = "SELECT " SHARE_COLS " FROM shares WHERE id=$1";
	static const char sql_tx[] = "SELECT " SHARE_COLS " FROM shares WHERE id=$1 FOR UPDATE";
	pq_store *s = S(b);
	pq_args a = { 0 };
	a_text(&a, id);
	if (s->in_tx)
		return share_one(s, sql, sql_tx, &a, sh);
	int o = 0;
	const PGresult *ra = ra_share(s, id, &o);
	if (ra == NULL) { /* read with what the node reads next about it */
		PGresult *r = NULL;
		int rc = q(s, ra_by_share, Q_READ, &a, &r);
		if (rc != 0)
			return rc;
		if (PQntuples(r) != 1) {
			PQclear(r);
			return TS_ENOTFOUND;
		}
		ra_keep(s, r, 0);
		ra = r;
		o = 0;
	}
	share_row_at(ra, 0, o, sh);
	return 0;
}

static int
pq_share_by_eid_app(store *b, const char *eid, const char *assoc, store_share *sh)
{
	pq_args a = { 0 };
	a_text(&a, eid);
	a_text(&a, assoc);
	return share_one(S(b), S(b)->sql_by_eid_app, S(b)->sql_by_eid_app_tx, &a, sh);
}

static int
pq_share_by_matching(store *b, const char *mid, store_share *sh)
{
	static const char sql[] = "SELECT " SHARE_COLS " FROM shares WHERE matching_id=$1 AND matching_id<>''";
	static const char sql_tx[] = "SELECT " SHARE_COLS " FROM shares WHERE matching_id=$1 AND matching_id<>''"
				     " FOR UPDATE";
	pq_args a = { 0 };
	a_text(&a, mid);
	return share_one(S(b), sql, sql_tx, &a, sh);
}

static int
pq_share_set_credential(store *b, const char *id, const char *json_text)
{
	static const char sql[] = "UPDATE shares SET credential=$1 WHERE id=$2";
	char *sealed = NULL;
	int rc = store_credential_seal(S(b)->has_key ? S(b)->key : NULL, id, json_text, &sealed);
	if (rc != 0)
		return rc;
	pq_args a = { 0 };
	a_text(&a, sealed);
	a_text(&a, id);
	rc = q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
	OPENSSL_cleanse(sealed, strlen(sealed));
	free(sealed);
	return rc;
}

static int
pq_share_set_app_key(store *b, const char *id, const char *hex)
{
	static const char sql[] = "UPDATE shares SET app_key=$1 WHERE id=$2";
	pq_args a = { 0 };
	a_text(&a, hex);
	a_text(&a, id);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_share_get_app_key(store *b, const char *id, char *hex, size_t cap)
{
	static const char sql[] = "SELECT app_key FROM shares WHERE id=$1 AND app_key<>''";
	pq_args a = { 0 };
	a_text(&a, id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		c_text(r, 0, 0, hex, cap);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_share_get_credential(store *b, const char *id, char **out)
{
	static const char sql[] = "SELECT credential FROM shares WHERE id=$1 AND credential IS NOT NULL";
	int o = 0;
	const PGresult *ra = ra_share(S(b), id, &o);
	if (ra != NULL) { /* read ahead */
		if (PQgetisnull(ra, 0, o + RA_CRED))
			return TS_ENOTFOUND;
		char *stored = c_strdup(ra, 0, o + RA_CRED);
		int rc = stored ? store_credential_unseal(S(b)->has_key ? S(b)->key : NULL, id, stored, out) : TS_ENOMEM;
		free(stored);
		return rc;
	}
	pq_args a = { 0 };
	a_text(&a, id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		char *stored = c_strdup(r, 0, 0);
		rc = stored ? store_credential_unseal(S(b)->has_key ? S(b)->key : NULL, id, stored, out) : TS_ENOMEM;
		free(stored);
	}
	PQclear(r);
	return rc;
}

static int
pq_shares_json(store *b, int64_t user_id, json_t **out)
{
	static const char sql[] = "SELECT " SHARE_COLS " FROM shares WHERE ($1::bigint < 0 OR user_id=$1::bigint)"
				  " ORDER BY created_at, id";
	pq_args a = { 0 };
	a_i64(&a, user_id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		store_share sh;
		share_row(r, i, &sh);
		json_array_append_new(arr, store_share_json(&sh));
	}
	PQclear(r);
	*out = arr;
	return 0;
}

static int
pq_shares_expired(store *b, int64_t now, char (*ids)[STORE_ID_MAX], size_t max, size_t *n)
{
	const char *sql = S(b)->sql_expired;
	pq_args a = { 0 };
	a_i64(&a, now);
	a_i64(&a, (int64_t)max);
	PGresult *r = NULL;
	*n = 0;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < max; i++)
		c_text(r, i, 0, ids[(*n)++], STORE_ID_MAX);
	PQclear(r);
	return 0;
}

static int
pq_share_counts(store *b, int64_t counts[SHARE_NSTATES])
{
	static const char sql[] = "SELECT state, COUNT(*) FROM shares GROUP BY state";
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, NULL, &r);
	if (rc != 0)
		return rc;
	memset(counts, 0, SHARE_NSTATES * sizeof(counts[0]));
	for (int i = 0; i < PQntuples(r); i++) {
		char name[32];
		c_text(r, i, 0, name, sizeof(name));
		enum share_state k = share_state_parse(name);
		if (k < SHARE_NSTATES)
			counts[k] = c_i64(r, i, 1);
	}
	PQclear(r);
	return 0;
}

static int
pq_shares_of_eid(store *b, const char *eid, store_share_app *out, size_t max, size_t *n)
{
	static const char sql[] = "SELECT id, assoc_app_id FROM shares WHERE eid=$1 ORDER BY created_at DESC, id DESC LIMIT $2";
	pq_args a = { 0 };
	a_text(&a, eid);
	a_i64(&a, (int64_t)max);
	PGresult *r = NULL;
	*n = 0;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < max; i++, (*n)++) {
		c_text(r, i, 0, out[*n].id, STORE_ID_MAX);
		c_text(r, i, 1, out[*n].assoc_app_id, STORE_STR_MAX);
	}
	PQclear(r);
	return 0;
}

/* ---- events and companion commands ---- */

/* Held-back rows seen by a stream read (pg_notify.h): pg_listen.c's hook. */
static void (*_Atomic holdback_fn)(void *, int64_t);
static void *_Atomic holdback_arg;

void
store_pg_on_holdback(void (*fn)(void *, int64_t), void *arg)
{
	holdback_arg = arg;
	holdback_fn = fn;
}

static void
held_back(int64_t id)
{
	void (*fn)(void *, int64_t) = holdback_fn;
	if (fn != NULL)
		fn(holdback_arg, id);
}

/* Column col of a binary-format boolean result. */
static int
c_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 && PQgetvalue(r, row, col)[0] != 0;
}

/* Remembers a NOTIFY payload of this transaction (deduplicated), sent after
 * its COMMIT. Only [0-9a-z:] reaches the SQL text (pg_notify_parse's
 * alphabet); anything else, or a full list, is left to pg_listen.c's sweep. */
static void
note(pq_store *s, const char *payload)
{
	size_t len = strnlen(payload, PG_NOTIFY_PAYLOAD_MAX + 1);
	int64_t uid;
	char eid[33];
	if (len > PG_NOTIFY_PAYLOAD_MAX || pg_notify_parse(payload, &uid, eid) != 0) {
		log_debug("postgresql: NOTIFY payload %.20s not sent", payload);
		return;
	}
	for (int i = 0; i < s->nnote; i++)
		if (strcmp(s->notes[i], payload) == 0)
			return;
	if (s->nnote == PQ_NOTES) {
		log_debug("postgresql: more than %d NOTIFY payloads in one transaction, the rest left to the sweep",
		    PQ_NOTES);
		return;
	}
	memcpy(s->notes[s->nnote++], payload, len + 1);
}

/* Inserts an event or command row whose id is its order key (pg_notify.h):
 * sql's last parameter is k, this transaction's row count; payload is the
 * wake-up sent after the commit. In a caller's transaction it is queued
 * when the id is not wanted (share.c never wants it); outside one it runs
 * in its own, BEGIN, the insert and COMMIT in one round trip, retried on a
 * deadlock. No lock is taken: ids of one user or EID may commit in any
 * order, the readers' horizon keeps their cursors exact. */
static int
insert_seq(pq_store *s, const char *sql, const pq_args *args, const char *payload, int64_t *id)
{
	int own = !s->in_tx, rc;
	for (int attempt = 0;; attempt++) {
		if (own && (rc = pq_begin(&s->base)) != 0)
			return rc;
		if (s->tx_seq >= PG_ORD_PER_XID - 1) {
			log_error("postgresql: more than %d events and commands in one transaction", PG_ORD_PER_XID - 1);
			if (own)
				pq_rollback(&s->base);
			return TS_ELIMIT;
		}
		pq_args a = *args;
		a_i64(&a, ++s->tx_seq);
		PGresult *r = NULL;
		if (!own) {
			rc = q(s, sql, id ? Q_WRITE : Q_WRITE | Q_DEFER, &a, id ? &r : NULL);
			if (rc == 0 && id != NULL) {
				if (PQntuples(r) == 1)
					*id = c_i64(r, 0, 0);
				else
					rc = TS_EDB;
			}
			PQclear(r);
			if (rc == 0)
				note(s, payload);
			return rc;
		}
		char name[16];
		if ((rc = prepared_name(s, sql, a.n, name)) == 0) {
			if (s->explain != NULL)
				explain(s, sql, &a);
			rc = enqueue(s, name, NULL, &a, &r, 0);
		}
		if (rc == 0) {
			note(s, payload);
			rc = commit_tx(s, 1);
		} else {
			pq_rollback(&s->base);
		}
		if (rc == 0 && (r == NULL || PQntuples(r) != 1))
			rc = TS_EDB;
		if (rc == 0 && id != NULL)
			*id = c_i64(r, 0, 0);
		PQclear(r);
		if (rc == 0 || !s->retryable || attempt >= PQ_RETRIES)
			return rc;
		retry_pause(attempt + 1);
	}
}

/* the id of a new event / command: $6 is k (insert_seq) */
#define ORD_NEW "pg_current_xact_id()::text::bigint * " PG_ORD_PER_XID_SQL " + $6::bigint"

static int
pq_event_add(store *b, int64_t user_id, const char *share_id, const char *type, const char *data, int64_t *id)
{
	static const char sql[] = "INSERT INTO events(id, user_id, share_id, type, data, created_at)"
				  " VALUES(" ORD_NEW ", $1, $2, $3, $4, $5) RETURNING id";
	pq_args a = { 0 };
	a_i64(&a, user_id);
	a_text(&a, share_id);
	a_text(&a, type);
	a_text(&a, data);
	a_i64(&a, ts_now());
	char payload[32];
	ts_snprintf(payload, sizeof(payload), "u:%lld", (long long)user_id);
	return insert_seq(S(b), sql, &a, payload, id);
}

/* A stream's read (push.c, web.c): only rows below the horizon, in id order
 * (pg_notify.h). A row above it ends the page and tells pg_listen.c.
 *
 * perf (issue 9, ~3 calls per flow): two statements, one per form of the
 * read, so that PostgreSQL's plan cache keeps one generic plan per form
 * instead of planning every call (~156 us). One statement with the share
 * filter "($3 IS NULL OR share_id=$3)" had a generic plan whose row
 * estimate fell to 1 (the OR), so that a sort of a bitmap scan looked
 * cheapest (cost ~34) and every custom plan (events_pkey, ~4 plus its
 * planning) beat it: plans == calls. Without the OR the generic plan of
 * all of a user's events reads events_user's range in id order and stops
 * at the LIMIT (cost ~5 on a filled store; user_id being fixed, ORDER BY
 * id is its index order), and that of one share's events reads
 * events_share (a share's few rows, sorted); both cost less than a custom
 * plan and its planning, so they are kept.
 * tests/integration/test_pg_plans.sh checks both generic plans. */
static int
pq_events_after(store *b, int64_t user_id, const char *share_id, int64_t after, store_event *out,
    size_t max, size_t *n)
{
	static const char sql_user[] = "SELECT id, share_id, type, data, id < " PG_ORD_HORIZON_SQL " FROM events"
				       " WHERE user_id=$1 AND id>$2 ORDER BY id LIMIT $3";
	static const char sql_share[] = "SELECT id, share_id, type, data, id < " PG_ORD_HORIZON_SQL " FROM events"
					" WHERE user_id=$1 AND id>$2 AND share_id=$4 ORDER BY id LIMIT $3";
	pq_args a = { 0 };
	a_i64(&a, user_id);
	a_i64(&a, after);
	a_i64(&a, (int64_t)max);
	if (share_id != NULL)
		a_text(&a, share_id);
	PGresult *r = NULL;
	*n = 0;
	int rc = q(S(b), share_id != NULL ? sql_share : sql_user, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < max; i++) {
		if (!c_bool(r, i, 4)) {
			held_back(c_i64(r, i, 0));
			break;
		}
		store_event *e = &out[(*n)++];
		e->id = c_i64(r, i, 0);
		c_text(r, i, 1, e->share_id, sizeof(e->share_id));
		c_text(r, i, 2, e->type, sizeof(e->type));
		c_text(r, i, 3, e->data, sizeof(e->data));
	}
	PQclear(r);
	return 0;
}

/* perf (issue 9): the "from now" start of a primary's stream (push.c): the
 * last id below the horizon (a row above it, committed around now, is
 * delivered; none below it can still appear). */
static int
pq_events_last(store *b, int64_t user_id, int64_t *id)
{
	static const char sql[] = "SELECT coalesce(max(id), 0) FROM events WHERE user_id=$1 AND id < " PG_ORD_HORIZON_SQL;
	pq_args a = { 0 };
	a_i64(&a, user_id);
	return one_i64(S(b), sql, &a, id, TS_EDB);
}

static int
pq_cmd_add(store *b, const char *eid, const char *share_id, const char *type, const char *data, int64_t *id)
{
	static const char sql[] = "INSERT INTO companion_cmds(id, eid, share_id, type, data, created_at)"
				  " VALUES(" ORD_NEW ", $1, $2, $3, $4, $5) RETURNING id";
	pq_args a = { 0 };
	a_text(&a, eid);
	a_text(&a, share_id);
	a_text(&a, type);
	a_text(&a, data);
	a_i64(&a, ts_now());
	char payload[PG_NOTIFY_PAYLOAD_MAX + 1];
	ts_snprintf(payload, sizeof(payload), "e:%s", eid ? eid : "");
	return insert_seq(S(b), sql, &a, payload, id);
}

static int
pq_cmds_pending(store *b, const char *eid, int64_t after, store_cmd *out, size_t max, size_t *n)
{
	/* Outside a transaction a stream's read (push.c; notification.c's
	 * look-up, of commands a companion already had): only rows below the
	 * horizon, as events_after. Inside one (share.c: "is a command still
	 * pending") every committed row counts. */
	static const char sql[] = "SELECT id, eid, share_id, type, data, $4::bigint = 1 OR id < " PG_ORD_HORIZON_SQL
				  " FROM companion_cmds WHERE eid=$1 AND done=0 AND id>$2 ORDER BY id LIMIT $3";
	pq_store *s = S(b);
	pq_args a = { 0 };
	a_text(&a, eid);
	a_i64(&a, after);
	a_i64(&a, (int64_t)max);
	a_i64(&a, s->in_tx ? 1 : 0);
	PGresult *r = NULL;
	*n = 0;
	int rc = q(s, sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < max; i++) {
		if (!c_bool(r, i, 5)) {
			held_back(c_i64(r, i, 0));
			break;
		}
		store_cmd *c = &out[(*n)++];
		c->id = c_i64(r, i, 0);
		c_text(r, i, 1, c->eid, sizeof(c->eid));
		c_text(r, i, 2, c->share_id, sizeof(c->share_id));
		c_text(r, i, 3, c->type, sizeof(c->type));
		c_text(r, i, 4, c->data, sizeof(c->data));
	}
	PQclear(r);
	return 0;
}

static int
pq_cmd_done(store *b, const char *share_id, const char *type)
{
	static const char sql[] = "UPDATE companion_cmds SET done=1 WHERE share_id=$1 AND type=$2 AND done=0";
	pq_args a = { 0 };
	a_text(&a, share_id);
	a_text(&a, type);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

/* ---- outbox ---- */

static int
pq_outbox_add(store *b, const char *kind, const char *share_id, int64_t *id)
{
	/* one job per (share, kind): a second add (a repeated provider
	 * answer, another node) changes nothing */
	static const char sql[] = "INSERT INTO outbox(kind, share_id, call_id, next_at) VALUES($1,$2,$3,$4)"
				  " ON CONFLICT (share_id, kind) DO NOTHING RETURNING id";
	char call_id[33];
	int rc = ts_random_id(call_id);
	if (rc != 0)
		return rc;
	pq_args a = { 0 };
	a_text(&a, kind);
	a_text(&a, share_id);
	a_text(&a, call_id);
	a_i64(&a, 0);
	if (id == NULL) /* nobody reads the id: queued inside a transaction */
		return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
	PGresult *r = NULL;
	rc = q(S(b), sql, Q_WRITE, &a, &r);
	if (rc == 0)
		*id = PQntuples(r) == 1 ? c_i64(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

/* SQL: the lease owner of outbox row o is alive (its session lock is held). */
#define OWNER_ALIVE "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = " \
		    TS_PG_OWNER_CLASS " AND l.objsubid = 2 AND l.objid = o.lease_owner::oid AND l.granted)"

static int
pq_outbox_claim(store *b, int64_t now, int64_t lease_s, store_outbox *out, size_t max, size_t *n)
{
	/* One statement claims atomically: the rows are locked as they are
	 * picked, rows another worker is claiming are skipped. */
	/* A lease whose owner died (SIGKILL, crash: PostgreSQL ended its
	 * session and dropped its lock) is over at once. */
	static const char sql[] =
	    "WITH c AS (SELECT id FROM outbox o WHERE done=0 AND next_at<=$1::bigint AND (lease_until<=$1::bigint"
	    " OR NOT " OWNER_ALIVE ") ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED),"
	    " u AS (UPDATE outbox o SET lease_until=$1::bigint + $2::bigint, lease_owner=$4, attempts=o.attempts+1"
	    " FROM c WHERE o.id=c.id RETURNING o.id, o.kind, o.share_id, o.call_id, o.attempts)"
	    " SELECT id, kind, share_id, call_id, attempts FROM u ORDER BY id";
	pq_args a = { 0 };
	a_i64(&a, now);
	a_i64(&a, lease_s);
	a_i64(&a, (int64_t)max);
	a_i64(&a, S(b)->owner);
	PGresult *r = NULL;
	*n = 0;
	int rc = q_relaxed(S(b), sql, &a, &r);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < max; i++) {
		store_outbox *o = &out[(*n)++];
		o->id = c_i64(r, i, 0);
		c_text(r, i, 1, o->kind, sizeof(o->kind));
		c_text(r, i, 2, o->share_id, sizeof(o->share_id));
		c_text(r, i, 3, o->call_id, sizeof(o->call_id));
		o->attempts = (int)c_i64(r, i, 4);
	}
	PQclear(r);
	return 0;
}

static int
pq_outbox_done(store *b, int64_t id)
{
	static const char sql[] = "UPDATE outbox SET done=1, lease_until=0, lease_owner=0 WHERE id=$1";
	pq_args a = { 0 };
	a_i64(&a, id);
	return q_relaxed(S(b), sql, &a, NULL);
}

static int
pq_outbox_retry(store *b, int64_t id, int64_t next_at, const char *err)
{
	static const char sql[] = "UPDATE outbox SET next_at=$1, lease_until=0, lease_owner=0, last_error=$2 WHERE id=$3";
	pq_args a = { 0 };
	a_i64(&a, next_at);
	a_text(&a, err);
	a_i64(&a, id);
	return q(S(b), sql, Q_WRITE, &a, NULL);
}

static int
pq_outbox_wake(store *b, const char *share_id, int64_t now)
{
	/* pending rows first (index outbox_due), their shares by key */
	static const char sql[] = "UPDATE outbox o SET next_at=$1 FROM shares s WHERE o.done=0 AND o.next_at>$1"
				  " AND o.lease_until<=$1 AND s.id=o.share_id"
				  " AND s.provider=(SELECT provider FROM shares WHERE id=$2)";
	pq_args a = { 0 };
	a_i64(&a, now);
	a_text(&a, share_id);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_outbox_reset_leases(store *b)
{
	/* Other nodes may be running: only the leases of dead owners go. */
	static const char sql[] = "UPDATE outbox o SET lease_until=0, lease_owner=0 WHERE done=0 AND lease_until>0"
				  " AND NOT " OWNER_ALIVE;
	return q(S(b), sql, Q_WRITE, NULL, NULL);
}

static int
pq_outbox_depth(store *b, int64_t *pending, int64_t *retrying)
{
	static const char sql[] = "SELECT COUNT(*), COUNT(*) FILTER (WHERE last_error IS NOT NULL) FROM outbox WHERE done=0";
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, NULL, &r);
	if (rc != 0)
		return rc;
	rc = TS_EDB;
	if (PQntuples(r) > 0) {
		*pending = c_i64(r, 0, 0);
		*retrying = c_i64(r, 0, 1);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_outbox_next_due(store *b, int64_t now, int64_t *secs)
{
	pq_store *s = S(b);
	*secs = -1;
	if (s->nd_state != 0 && !s->in_tx && s->ra_req == ts_httpd_thread_requests() &&
	    mono_ms() - s->ra_ms <= PQ_RA_MS) { /* read with the outbox's last commit (q_relaxed) */
		if (s->nd_state == 2)
			*secs = s->nd_at <= now ? 0 : s->nd_at - now;
		return 0;
	}
	PGresult *r = NULL;
	int rc = q(s, sql_next_due, Q_READ, NULL, &r);
	if (rc != 0)
		return rc;
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		int64_t t = c_i64(r, 0, 0);
		*secs = t <= now ? 0 : t - now;
	}
	PQclear(r);
	return 0;
}

/* ---- idempotency, offers, housekeeping ---- */

static int
pq_idem_get(store *b, const char *device_id, const char *key, char *req_hash, size_t hcap,
    int *status, char **response)
{
	static const char sql[] = "SELECT req_hash, status, response FROM idempotency WHERE device_id=$1 AND key=$2";
	pq_args a = { 0 };
	a_text(&a, device_id);
	a_text(&a, key);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		c_text(r, 0, 0, req_hash, hcap);
		*status = (int)c_i64(r, 0, 1);
		*response = c_strdup(r, 0, 2);
		rc = *response ? 0 : TS_ENOMEM;
	}
	PQclear(r);
	return rc;
}

static int
pq_idem_put(store *b, const char *device_id, const char *key, const char *req_hash, int status,
    const char *response)
{
	static const char sql[] = "INSERT INTO idempotency(device_id, key, req_hash, status, response, created_at)"
				  " VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING";
	pq_args a = { 0 };
	a_text(&a, device_id);
	a_text(&a, key);
	a_text(&a, req_hash);
	a_i64(&a, status);
	a_text(&a, response);
	a_i64(&a, ts_now());
	return q_insert(S(b), sql, &a);
}

static int
pq_offer_nonce_use(store *b, const char *nonce_hex, const char *share_id, int64_t expires_at)
{
	/* Expired nonces can go: an offer past its expiry is refused anyway. */
	static const char del[] = "DELETE FROM offer_nonces WHERE expires_at < $1";
	static const char ins[] = "INSERT INTO offer_nonces(nonce, share_id, expires_at) VALUES($1,$2,$3)"
				  " ON CONFLICT DO NOTHING";
	pq_args d = { 0 };
	a_i64(&d, ts_now() - 3600);
	(void)q(S(b), del, Q_WRITE | Q_DEFER, &d, NULL);
	pq_args a = { 0 };
	a_text(&a, nonce_hex);
	a_text(&a, share_id);
	a_i64(&a, expires_at);
	return q_insert(S(b), ins, &a);
}

static int
pq_gc(store *b, int64_t tx_before, int64_t idem_before, int64_t now)
{
	static const char q1[] = "DELETE FROM es9_tx WHERE created_at < $1";
	static const char q2[] = "DELETE FROM idempotency WHERE created_at < $1";
	static const char q3[] = "DELETE FROM tokens WHERE expires_at < $1";
	static const char q4[] = "DELETE FROM enroll_codes WHERE expires_at < $1 AND used_at IS NULL";
	const char *const qs[] = { q1, q2, q3, q4 };
	const int64_t vs[] = { tx_before, idem_before, now, now };
	for (size_t i = 0; i < TS_ARRAY_LEN(qs); i++) {
		pq_args a = { 0 };
		a_i64(&a, vs[i]);
		int rc = q(S(b), qs[i], Q_WRITE, &a, NULL);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
pq_prune(store *b, int64_t before, size_t max, size_t *n)
{
	/* One statement: the shares (locked, skipping any a transition holds)
	 * and everything that hangs off them. A share whose provider call is
	 * still pending stays until the outbox settles it. */
	pq_store *s = S(b);
	pq_args a = { 0 };
	a_i64(&a, before);
	a_i64(&a, (int64_t)max);
	PGresult *r = NULL;
	*n = 0;
	int rc = q(s, s->sql_prune, Q_WRITE, &a, &r);
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 1)
		*n = (size_t)c_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* ---- ES9+ transactions and companions ---- */

static int
pq_tx_put(store *b, const store_tx *tx)
{
	static const char sql[] = "INSERT INTO es9_tx(id, share_id, eid, euicc_challenge, server_challenge,"
				  " euicc_sig1, smdp_sig2, euicc_pub, stage, created_at)"
				  " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (id) DO UPDATE SET"
				  " share_id=EXCLUDED.share_id, eid=EXCLUDED.eid,"
				  " euicc_challenge=EXCLUDED.euicc_challenge, server_challenge=EXCLUDED.server_challenge,"
				  " euicc_sig1=EXCLUDED.euicc_sig1, smdp_sig2=EXCLUDED.smdp_sig2,"
				  " euicc_pub=EXCLUDED.euicc_pub, stage=EXCLUDED.stage, created_at=EXCLUDED.created_at";
	pq_args a = { 0 };
	a_text(&a, tx->id);
	a_text(&a, tx->share_id);
	a_text(&a, tx->eid);
	a_blob(&a, tx->euicc_challenge, 16);
	a_blob(&a, tx->server_challenge, 16);
	a_blob(&a, tx->euicc_sig1, 64);
	a_blob(&a, tx->smdp_sig2, 64);
	a_blob(&a, tx->euicc_pub, 65);
	a_i64(&a, tx->stage);
	a_i64(&a, tx->created_at);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_tx_get(store *b, const char *id, store_tx *tx)
{
	static const char sql[] = "SELECT id, share_id, eid, euicc_challenge, server_challenge, euicc_sig1,"
				  " smdp_sig2, euicc_pub, stage, created_at FROM es9_tx WHERE id=$1";
	pq_store *s = S(b);
	pq_args a = { 0 };
	a_text(&a, id);
	PGresult *r = NULL;
	/* outside a transaction with its share and what hangs off it (read-ahead) */
	int ahead = !s->in_tx;
	int rc = q(s, ahead ? ra_by_tx : sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		c_text(r, 0, 0, tx->id, sizeof(tx->id));
		c_text(r, 0, 1, tx->share_id, sizeof(tx->share_id));
		c_text(r, 0, 2, tx->eid, sizeof(tx->eid));
		c_blob(r, 0, 3, tx->euicc_challenge, 16);
		c_blob(r, 0, 4, tx->server_challenge, 16);
		c_blob(r, 0, 5, tx->euicc_sig1, 64);
		c_blob(r, 0, 6, tx->smdp_sig2, 64);
		c_blob(r, 0, 7, tx->euicc_pub, 65);
		tx->stage = (int)c_i64(r, 0, 8);
		tx->created_at = c_i64(r, 0, 9);
		rc = 0;
		if (ahead && !PQgetisnull(r, 0, RA_TX_NCOLS)) {
			ra_keep(s, r, RA_TX_NCOLS);
			return 0;
		}
	}
	PQclear(r);
	return rc;
}

static int
pq_companion_put(store *b, const char *eid, const uint8_t pub[65])
{
	static const char sql[] = "INSERT INTO companions(eid, euicc_pub, last_seen) VALUES($1,$2,$3)"
				  " ON CONFLICT (eid) DO UPDATE SET euicc_pub=EXCLUDED.euicc_pub,"
				  " last_seen=EXCLUDED.last_seen";
	pq_args a = { 0 };
	a_text(&a, eid);
	a_blob(&a, pub, 65);
	a_i64(&a, ts_now());
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_companion_pub(store *b, const char *eid, uint8_t pub[65])
{
	static const char sql[] = "SELECT euicc_pub FROM companions WHERE eid=$1";
	pq_args a = { 0 };
	a_text(&a, eid);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		c_blob(r, 0, 0, pub, 65);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* ---- devices and the passphrase throttle (issue 8) ---- */

static int
pq_device_revoke(store *b, const char *device_id, int64_t now, int64_t *user_id)
{
	static const char sel[] = "SELECT user_id, revoked_at FROM devices WHERE device_id=$1";
	static const char upd[] = "UPDATE devices SET revoked_at=$1 WHERE device_id=$2 AND revoked_at=0";
	static const char del[] = "DELETE FROM tokens WHERE device_id=$1";
	pq_store *s = S(b);
	pq_args a = { 0 };
	a_text(&a, device_id);
	PGresult *r = NULL;
	int rc = q(s, sel, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		if (user_id)
			*user_id = c_i64(r, 0, 0);
		rc = c_i64(r, 0, 1) != 0 ? TS_ESTATE : 0;
	}
	PQclear(r);
	if (rc != 0)
		return rc;
	pq_args u = { 0 };
	a_i64(&u, now > 0 ? now : 1);
	a_text(&u, device_id);
	long long changes = 0;
	if ((rc = q_changes(s, upd, &u, &changes)) != 0)
		return rc;
	if (changes != 1)
		return TS_ESTATE;
	return q(s, del, Q_WRITE, &a, NULL);
}

static int
pq_devices_json(store *b, int64_t user_id, json_t **out)
{
	static const char sql[] = "SELECT d.device_id, u.name, d.name, d.created_at, d.revoked_at FROM devices d"
				  " JOIN users u ON u.id = d.user_id WHERE $1::bigint < 0 OR d.user_id = $1::bigint"
				  " ORDER BY d.created_at, d.device_id";
	pq_args a = { 0 };
	a_i64(&a, user_id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	json_t *arr = json_array();
	if (arr == NULL) {
		PQclear(r);
		return TS_ENOMEM;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		char id[STORE_ID_MAX], user[STORE_STR_MAX], name[STORE_STR_MAX];
		c_text(r, i, 0, id, sizeof(id));
		c_text(r, i, 1, user, sizeof(user));
		c_text(r, i, 2, name, sizeof(name));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:I}", "device_id", id, "user", user, "name",
		    name, "created_at", (json_int_t)c_i64(r, i, 3), "revoked_at", (json_int_t)c_i64(r, i, 4)));
	}
	PQclear(r);
	*out = arr;
	return 0;
}

static int
pq_device_revocations(store *b, int64_t *count)
{
	static const char sql[] = "SELECT count(*) FROM devices WHERE revoked_at<>0";
	return one_i64(S(b), sql, NULL, count, TS_EDB);
}

static int
pq_throttle_hit(store *b, const char *key, int64_t now, int64_t window_s, int *attempts, int64_t *window_start)
{
	/* One statement: concurrent attempts each count; only a window's end
	 * starts a new one. */
	static const char sql[] =
	    "INSERT INTO pass_throttle(key, attempts, window_start) VALUES($1, 1, $2::bigint)"
	    " ON CONFLICT(key) DO UPDATE SET"
	    "  attempts = CASE WHEN pass_throttle.window_start + $3::bigint <= $2::bigint THEN 1"
	    "             ELSE pass_throttle.attempts + 1 END,"
	    "  window_start = CASE WHEN pass_throttle.window_start + $3::bigint <= $2::bigint THEN $2::bigint"
	    "                 ELSE pass_throttle.window_start END"
	    " RETURNING attempts, window_start";
	pq_args a = { 0 };
	a_text(&a, key);
	a_i64(&a, now);
	a_i64(&a, window_s);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_WRITE, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_EDB;
	if (PQntuples(r) == 1) {
		int64_t n = c_i64(r, 0, 0);
		*attempts = n > 1000000 ? 1000000 : (int)n;
		*window_start = c_i64(r, 0, 1);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_throttle_undo(store *b, const char *key)
{
	static const char sql[] = "UPDATE pass_throttle SET attempts = GREATEST(attempts - 1, 0) WHERE key=$1";
	pq_args a = { 0 };
	a_text(&a, key);
	return q(S(b), sql, Q_WRITE, &a, NULL);
}

static int
pq_throttle_forget(store *b, const char *key)
{
	static const char sql[] = "DELETE FROM pass_throttle WHERE key=$1";
	pq_args a = { 0 };
	a_text(&a, key);
	return q(S(b), sql, Q_WRITE, &a, NULL);
}

static int
pq_tx_trim(store *b, const char *share_id, int keep)
{
	static const char sql[] = "DELETE FROM es9_tx WHERE share_id=$1 AND id NOT IN (SELECT id FROM es9_tx"
				  " WHERE share_id=$1 ORDER BY stage IN (2, 3) DESC, created_at DESC, id DESC LIMIT $2::bigint)";
	pq_args a = { 0 };
	a_text(&a, share_id);
	a_i64(&a, keep < 0 ? 0 : keep);
	/* housekeeping: with the session's insert that follows (download.c) */
	return q(S(b), sql, Q_WRITE | Q_DEFER | Q_HOUSE, &a, NULL);
}

static int
pq_companion_claim(store *b, const char *eid, int64_t user_id, int64_t now)
{
	static const char sql[] = "INSERT INTO companion_owners(eid, user_id, since) VALUES($1,$2,$3)"
				  " ON CONFLICT(eid) DO NOTHING";
	pq_args a = { 0 };
	a_text(&a, eid);
	a_i64(&a, user_id);
	a_i64(&a, now);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_companion_owner(store *b, const char *eid, int64_t *user_id)
{
	static const char sql[] = "SELECT user_id FROM companion_owners WHERE eid=$1";
	pq_args a = { 0 };
	a_text(&a, eid);
	return one_i64(S(b), sql, &a, user_id, TS_ENOTFOUND);
}

static int
pq_smds_event_put(store *b, const char *share_id, const char *eid, const char *event_id, int64_t now)
{
	static const char sql[] = "INSERT INTO smds_events(share_id, eid, event_id, created_at) VALUES($1,$2,$3,$4)"
				  " ON CONFLICT(share_id) DO UPDATE SET eid=EXCLUDED.eid, event_id=EXCLUDED.event_id";
	pq_args a = { 0 };
	a_text(&a, share_id);
	a_text(&a, eid);
	a_text(&a, event_id);
	a_i64(&a, now);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_smds_event_del(store *b, const char *share_id)
{
	static const char sql[] = "DELETE FROM smds_events WHERE share_id=$1";
	pq_args a = { 0 };
	a_text(&a, share_id);
	return q(S(b), sql, Q_WRITE | Q_DEFER, &a, NULL);
}

static int
pq_smds_events(store *b, const char *eid, char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n)
{
	static const char sql[] = "SELECT event_id FROM smds_events WHERE eid=$1 ORDER BY created_at, share_id LIMIT $2";
	pq_args a = { 0 };
	a_text(&a, eid);
	a_i64(&a, (int64_t)max);
	PGresult *r = NULL;
	*n = 0;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < max; i++)
		c_text(r, i, 0, event_ids[(*n)++], STORE_ID_MAX);
	PQclear(r);
	return 0;
}

static int
pq_cc_put(store *b, const char *share_id, const char *cc_hash_hex)
{
	static const char sql[] = "INSERT INTO share_cc(share_id, cc_hash, attempts) VALUES($1,$2,0)"
				  " ON CONFLICT DO NOTHING";
	pq_args a = { 0 };
	a_text(&a, share_id);
	a_text(&a, cc_hash_hex);
	return q_insert(S(b), sql, &a);
}

static int
pq_cc_get(store *b, const char *share_id, char cc_hash_hex[65], int *attempts)
{
	static const char sql[] = "SELECT cc_hash, attempts FROM share_cc WHERE share_id=$1";
	int o = 0;
	const PGresult *ra = ra_share(S(b), share_id, &o);
	if (ra != NULL) { /* read ahead */
		if (PQgetisnull(ra, 0, o + RA_CC_HASH))
			return TS_ENOTFOUND;
		c_text(ra, 0, o + RA_CC_HASH, cc_hash_hex, 65);
		*attempts = (int)c_i64(ra, 0, o + RA_CC_ATTEMPTS);
		return 0;
	}
	pq_args a = { 0 };
	a_text(&a, share_id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		c_text(r, 0, 0, cc_hash_hex, 65);
		*attempts = (int)c_i64(r, 0, 1);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_cc_refused(store *b, const char *share_id, int *attempts)
{
	static const char sql[] = "UPDATE share_cc SET attempts=attempts+1 WHERE share_id=$1 RETURNING attempts";
	pq_args a = { 0 };
	a_text(&a, share_id);
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_WRITE, &a, &r);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	if (PQntuples(r) > 0) {
		*attempts = (int)c_i64(r, 0, 0);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pq_companion_release(store *b, const char *eid)
{
	static const char sql[] = "DELETE FROM companion_owners WHERE eid=$1";
	pq_args a = { 0 };
	a_text(&a, eid);
	long long n = 0;
	int rc = q_changes(S(b), sql, &a, &n);
	return rc == 0 && n != 1 ? TS_ENOTFOUND : rc;
}

/* ---- administration (tapshare-node user|app|provider list|show|remove) ---- */

static int
pq_users_json(store *b, json_t **out)
{
	static const char sql[] = "SELECT id, name, created_at FROM users WHERE pass_hash<>'' ORDER BY name";
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, NULL, &r);
	if (rc != 0)
		return rc;
	json_t *arr = json_array();
	if (arr == NULL) {
		PQclear(r);
		return TS_ENOMEM;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		char name[STORE_STR_MAX];
		c_text(r, i, 1, name, sizeof(name));
		json_array_append_new(arr, json_pack("{s:I,s:s,s:I}", "user_id", (json_int_t)c_i64(r, i, 0), "name", name,
		    "created_at", (json_int_t)c_i64(r, i, 2)));
	}
	PQclear(r);
	*out = arr;
	return 0;
}

static int
pq_providers_json(store *b, json_t **out)
{
	static const char sql[] = "SELECT name, url, ca_file FROM providers ORDER BY name";
	PGresult *r = NULL;
	int rc = q(S(b), sql, Q_READ, NULL, &r);
	if (rc != 0)
		return rc;
	json_t *arr = json_array();
	if (arr == NULL) {
		PQclear(r);
		return TS_ENOMEM;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		store_provider pr;
		c_text(r, i, 0, pr.name, sizeof(pr.name));
		c_text(r, i, 1, pr.url, sizeof(pr.url));
		c_text(r, i, 2, pr.ca_file, sizeof(pr.ca_file));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name", pr.name, "url", pr.url, "ca_file", pr.ca_file));
	}
	PQclear(r);
	*out = arr;
	return 0;
}

static int
delete_one(pq_store *s, const char *sql, const char *key)
{
	pq_args a = { 0 };
	a_text(&a, key);
	long long n = 0;
	int rc = q_changes(s, sql, &a, &n);
	return rc == 0 && n != 1 ? TS_ENOTFOUND : rc;
}

static int
pq_app_remove(store *b, const char *app_id)
{
	static const char sql[] = "DELETE FROM apps WHERE app_id=$1";
	return delete_one(S(b), sql, app_id);
}

static int
pq_provider_remove(store *b, const char *name)
{
	static const char sql[] = "DELETE FROM providers WHERE name=$1";
	return delete_one(S(b), sql, name);
}

static int
pq_user_remove(store *b, int64_t user_id, int64_t now)
{
	static const char sel[] = "SELECT 1 FROM users WHERE id=$1 AND pass_hash<>''";
	/* As store_sqlite.c: throttle keys first (found through the devices). */
	static const char *const batch[] = {
		("DELETE FROM pass_throttle WHERE key='user:'||$1::bigint"
		 " OR key IN (SELECT 'device:'||device_id FROM devices WHERE user_id=$1::bigint)"),
		"UPDATE devices SET revoked_at=$2 WHERE user_id=$1 AND revoked_at=0",
		"DELETE FROM tokens WHERE user_id=$1",
		"DELETE FROM enroll_codes WHERE user_id=$1",
		"DELETE FROM apps WHERE user_id=$1",
		"DELETE FROM companion_owners WHERE user_id=$1",
		"UPDATE users SET name='#'||id::text, pass_hash='' WHERE id=$1",
	};
	pq_store *s = S(b);
	pq_args a = { 0 };
	a_i64(&a, user_id);
	PGresult *r = NULL;
	int rc = q(s, sel, Q_READ, &a, &r);
	if (rc != 0)
		return rc;
	rc = PQntuples(r) > 0 ? 0 : TS_ENOTFOUND;
	PQclear(r);
	for (size_t i = 0; rc == 0 && i < TS_ARRAY_LEN(batch); i++) {
		pq_args w = { 0 };
		a_i64(&w, user_id);
		if (i == 1)
			a_i64(&w, now > 0 ? now : 1);
		rc = q(s, batch[i], Q_WRITE, &w, NULL);
	}
	return rc;
}

static const struct store_ops pq_ops = {
	.close = pq_close,
	.begin = pq_begin,
	.commit = pq_commit,
	.rollback = pq_rollback,
	.user_add = pq_user_add,
	.user_get = pq_user_get,
	.user_by_name = pq_user_by_name,
	.enroll_code_add = pq_enroll_code_add,
	.enroll_code_use = pq_enroll_code_use,
	.device_add = pq_device_add,
	.device_user = pq_device_user,
	.token_add = pq_token_add,
	.token_check = pq_token_check,
	.token_drop = pq_token_drop,
	.provider_put = pq_provider_put,
	.provider_get = pq_provider_get,
	.app_put = pq_app_put,
	.app_get = pq_app_get,
	.apps_json = pq_apps_json,
	.app_release = pq_app_release,
	.share_insert = pq_share_insert,
	.share_get = pq_share_get,
	.share_update = pq_share_update,
	.share_by_eid_app = pq_share_by_eid_app,
	.share_by_matching = pq_share_by_matching,
	.share_set_app_key = pq_share_set_app_key,
	.share_get_app_key = pq_share_get_app_key,
	.share_set_credential = pq_share_set_credential,
	.share_get_credential = pq_share_get_credential,
	.shares_json = pq_shares_json,
	.shares_expired = pq_shares_expired,
	.shares_of_eid = pq_shares_of_eid,
	.event_add = pq_event_add,
	.events_after = pq_events_after,
	.events_last = pq_events_last,
	.cmd_add = pq_cmd_add,
	.cmds_pending = pq_cmds_pending,
	.cmd_done = pq_cmd_done,
	.outbox_add = pq_outbox_add,
	.outbox_claim = pq_outbox_claim,
	.outbox_done = pq_outbox_done,
	.outbox_retry = pq_outbox_retry,
	.outbox_reset_leases = pq_outbox_reset_leases,
	.outbox_wake = pq_outbox_wake,
	.outbox_next_due = pq_outbox_next_due,
	.outbox_depth = pq_outbox_depth,
	.share_counts = pq_share_counts,
	.idem_get = pq_idem_get,
	.idem_put = pq_idem_put,
	.offer_nonce_use = pq_offer_nonce_use,
	.gc = pq_gc,
	.prune = pq_prune,
	.tx_put = pq_tx_put,
	.tx_get = pq_tx_get,
	.companion_put = pq_companion_put,
	.companion_pub = pq_companion_pub,
	.device_revoke = pq_device_revoke,
	.devices_json = pq_devices_json,
	.device_revocations = pq_device_revocations,
	.throttle_hit = pq_throttle_hit,
	.throttle_undo = pq_throttle_undo,
	.throttle_forget = pq_throttle_forget,
	.tx_trim = pq_tx_trim,
	.companion_claim = pq_companion_claim,
	.companion_owner = pq_companion_owner,
	.companion_release = pq_companion_release,
	.users_json = pq_users_json,
	.providers_json = pq_providers_json,
	.app_remove = pq_app_remove,
	.provider_remove = pq_provider_remove,
	.user_remove = pq_user_remove,
	.smds_event_put = pq_smds_event_put,
	.smds_event_del = pq_smds_event_del,
	.smds_events = pq_smds_events,
	.cc_put = pq_cc_put,
	.cc_get = pq_cc_get,
	.cc_refused = pq_cc_refused,
};

/* Each migration runs in its own transaction under a migration lock, so two
 * nodes starting together never apply one twice. */
static int
migrate(pq_store *s)
{
	for (;;) {
		int rc = pq_begin(&s->base);
		if (rc != 0)
			return rc;
		/* nodes starting together take turns (no global lock otherwise) */
		if ((rc = simple(s, "SELECT pg_advisory_xact_lock(73100, 1)")) != 0)
			goto fail;
		if ((rc = simple(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")) != 0)
			goto fail;
		PGresult *r = PQexecParams(s->conn, "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_version",
		    0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			log_error("postgresql: %s", PQresultErrorMessage(r));
			PQclear(r);
			rc = TS_EDB;
			goto fail;
		}
		int64_t version = c_i64(r, 0, 0);
		PQclear(r);
		if (version > (int64_t)TS_ARRAY_LEN(migrations)) {
			log_error("database schema version %lld is newer than this program (%zu)", (long long)version,
			    TS_ARRAY_LEN(migrations));
			rc = TS_EDB;
			goto fail;
		}
		if (version == (int64_t)TS_ARRAY_LEN(migrations))
			return pq_commit(&s->base);
		if ((rc = simple(s, migrations[version])) != 0)
			goto fail;
		char v[24];
		ts_snprintf(v, sizeof(v), "%lld", (long long)version + 1);
		const char *vals[1] = { v };
		r = PQexecParams(s->conn, "INSERT INTO schema_version(version) VALUES($1)", 1, NULL, vals, NULL, NULL, 0);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : TS_EDB;
		if (rc != 0)
			log_error("postgresql: %s", PQresultErrorMessage(r));
		PQclear(r);
		if (rc != 0 || (rc = pq_commit(&s->base)) != 0)
			goto fail;
		log_info("database migrated to schema version %lld", (long long)version + 1);
		continue;
fail:
		pq_rollback(&s->base);
		return rc;
	}
}

/* Ids written before the order key (schema <= 10 nodes: a BIGSERIAL) must
 * all lie below any new one, or a cursor could pass a new row: true unless
 * more than 65,536 rows per transaction id so far were bulk-loaded. */
static int
check_ord(pq_store *s)
{
	int64_t ok = 0;
	int rc = one_i64(s,
	    "SELECT (GREATEST((SELECT max(id) FROM events), (SELECT max(id) FROM companion_cmds), 0) < "
	    PG_ORD_HORIZON_SQL ")::int::bigint",
	    NULL, &ok, TS_EDB);
	if (rc == 0 && !ok) {
		log_error("postgresql: event or command ids above the order keys of new rows (bulk-loaded ids?):"
			  " renumber them below %d * the current transaction id", PG_ORD_PER_XID);
		rc = TS_EDB;
	}
	return rc;
}

int
store_pg_open(const char *url, const store_opts *opts, store **out)
{
	pq_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TS_ENOMEM;
	s->base.ops = &pq_ops;
	if ((s->queue = calloc(PQ_QMAX, sizeof(*s->queue))) == NULL) {
		free(s);
		return TS_ENOMEM;
	}
	if (opts != NULL && opts->secret_key != NULL) {
		memcpy(s->key, opts->secret_key, sizeof(s->key));
		s->has_key = 1;
	}
	int rc = TS_EDB;
	s->conn = PQconnectdb(url);
	if (s->conn == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		/* the message names the server, never the password */
		log_error("cannot connect to PostgreSQL: %s", PQerrorMessage(s->conn));
		goto fail;
	}
	PQsetNoticeProcessor(s->conn, notice_sink, NULL);
	own_add(s->pid = PQbackendPID(s->conn));
	ts_snprintf(s->lock_timeout, sizeof(s->lock_timeout),
	    "SET lock_timeout = '%dms'; SET default_transaction_isolation = 'read committed'",
	    opts && opts->wait_ms > 0 ? opts->wait_ms : STORE_WAIT_WORKER_MS);
	ts_snprintf(s->sql_expired, sizeof(s->sql_expired),
	    "SELECT id FROM shares WHERE state IN (%s) AND not_after > 0 AND not_after <= $1 LIMIT $2",
	    store_sql_expirable());
	/* A share still in progress first, then the newest (see store_sqlite.c). */
	ts_snprintf(s->sql_by_eid_app, sizeof(s->sql_by_eid_app),
	    "SELECT " SHARE_COLS " FROM shares WHERE eid=$1 AND assoc_app_id=$2"
	    " ORDER BY CASE WHEN state IN (%s) THEN 0 ELSE 1 END, created_at DESC, updated_at DESC LIMIT 1",
	    store_sql_open_states());
	ts_snprintf(s->sql_by_eid_app_tx, sizeof(s->sql_by_eid_app_tx), "%s FOR UPDATE", s->sql_by_eid_app);
	ts_snprintf(s->sql_prune, sizeof(s->sql_prune),
	    "WITH d AS (SELECT id FROM shares sh WHERE updated_at < $1::bigint AND state NOT IN (%s)"
	    "  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.share_id = sh.id AND o.done = 0)"
	    "  ORDER BY updated_at LIMIT $2::bigint FOR UPDATE SKIP LOCKED),"
	    " e AS (DELETE FROM events WHERE share_id IN (SELECT id FROM d)),"
	    " c AS (DELETE FROM companion_cmds WHERE share_id IN (SELECT id FROM d)),"
	    " o AS (DELETE FROM outbox WHERE share_id IN (SELECT id FROM d)),"
	    " t AS (DELETE FROM es9_tx WHERE share_id IN (SELECT id FROM d)),"
	    " k AS (DELETE FROM share_cc WHERE share_id IN (SELECT id FROM d)),"
	    " x AS (DELETE FROM shares WHERE id IN (SELECT id FROM d) RETURNING 1)"
	    " SELECT COUNT(*)::bigint FROM x",
	    store_sql_open_states());
	const char *fs = store_test_hook("TAPSHARE_PG_FAIL_SEND");
	long long fsn = 0;
	if (fs != NULL && ts_parse_ll(fs, 1, 1000000, &fsn) == 0)
		s->fail_send = (int)fsn;
	const char *ex = store_test_hook("TAPSHARE_STORE_EXPLAIN");
	if (ex != NULL && ex[0] != '\0' && (s->explain = fopen(ex, "a")) == NULL)
		log_warn("TAPSHARE_STORE_EXPLAIN: cannot open %s", ex);
	if ((rc = simple(s, s->lock_timeout)) != 0 || (rc = take_owner(s)) != 0 || (rc = migrate(s)) != 0 ||
	    (rc = check_ord(s)) != 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	own_del(s->pid);
	PQfinish(s->conn);
	if (s->explain)
		fclose(s->explain);
	free(s->cache);
	ts_ptrmap_free(&s->cache_idx);
	free(s->queue);
	free(s);
	return rc;
}
