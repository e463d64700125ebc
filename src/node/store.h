/*
 * store.h — the node's durable state behind one small vtable. Callers never
 * see SQL or a database handle; the SQLite backend (store_sqlite.c, WAL mode)
 * is the default and a PostgreSQL backend can implement the same table of
 * functions without touching callers. One store handle per thread.
 *
 * Every state change that has side effects writes, in the same transaction:
 * the share row, the primary's event (events), the companion's command
 * (companion_cmds) and the provider call (outbox). Side effects are performed
 * after commit and retried until acknowledged, so a crash at any point loses
 * nothing and duplicates nothing.
 *
 * Strings in the structs below are fixed-size copies (no ownership issues).
 * Returned json_t references are new (caller decrefs).
 */
#ifndef TS_NODE_STORE_H
#define TS_NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/json.h"

#include "node/share_state.h"

#define STORE_ID_MAX 65
#define STORE_STR_MAX 129

typedef struct store store;

typedef struct store_share {
	char id[STORE_ID_MAX];
	int64_t user_id;
	char device_id[STORE_ID_MAX];
	char eid[33];
	char app_id[STORE_STR_MAX];
	char provider[STORE_STR_MAX];
	enum share_state state;
	int64_t duration_s;
	int64_t not_after;
	char assoc_app_id[STORE_STR_MAX];
	char assoc_name[STORE_STR_MAX];
	char assoc_kind[32];
	char matching_id[STORE_ID_MAX];
	char reason[256];
	int64_t created_at, updated_at;
	char operation[8];     /* "share" or "move" (TS.43 transfer) */
} store_share;

typedef struct store_app {
	char app_id[STORE_STR_MAX];
	int64_t user_id;
	char name[STORE_STR_MAX];
	char kind[32];
	char provider[STORE_STR_MAX];
	int shareable;
	char released_share[STORE_ID_MAX]; /* "" while the user still holds it */
} store_app;

typedef struct store_provider {
	char name[STORE_STR_MAX];
	char url[512];
	char ca_file[512];
} store_provider;

typedef struct store_outbox {
	int64_t id;
	char kind[32];        /* "confirm_order" | "cancel_order" */
	char share_id[STORE_ID_MAX];
	char call_id[STORE_ID_MAX];
	int attempts;
} store_outbox;

/* A share of an EID as shares_of_eid lists it: its id and the associated
 * app it carries (what a notification's ICCID is matched against). */
typedef struct store_share_app {
	char id[STORE_ID_MAX];
	char assoc_app_id[STORE_STR_MAX];
} store_share_app;

typedef struct store_cmd {
	int64_t id;
	char eid[33];
	char share_id[STORE_ID_MAX];
	char type[16];        /* "download" | "delete" */
	char data[1024];      /* JSON text */
} store_cmd;

typedef struct store_event {
	int64_t id;
	char share_id[STORE_ID_MAX];
	char type[40];
	char data[2048];      /* JSON text */
} store_event;

typedef struct store_tx {
	char id[33];          /* hex transactionId */
	char share_id[STORE_ID_MAX];
	char eid[33];
	uint8_t euicc_challenge[16];
	uint8_t server_challenge[16];
	uint8_t euicc_sig1[64];
	uint8_t smdp_sig2[64];
	uint8_t euicc_pub[65];
	int stage;            /* 1 initiated, 2 authenticated, 3 package sent, 9 cancelled */
	int64_t created_at;
} store_tx;

struct store_ops {
	void (*close)(store *s);
	int (*begin)(store *s);
	int (*commit)(store *s);
	void (*rollback)(store *s);

	/* users, devices, tokens */
	int (*user_add)(store *s, const char *name, const char *pass_hash, int64_t *id);
	int (*user_get)(store *s, int64_t id, char *name, size_t cap, char *pass_hash, size_t hcap);
	int (*user_by_name)(store *s, const char *name, int64_t *id);
	int (*enroll_code_add)(store *s, const char *code_hash, int64_t user_id, int64_t expires_at);
	/* Marks the code used; returns its user. TS_ENOTFOUND / TS_EEXPIRED / TS_ESTATE (used). */
	int (*enroll_code_use)(store *s, const char *code_hash, int64_t now, int64_t *user_id);
	int (*device_add)(store *s, const char *device_id, int64_t user_id, const char *name);
	/* The device's user; TS_ENOTFOUND if never enrolled, TS_EDENIED if revoked. */
	int (*device_user)(store *s, const char *device_id, int64_t *user_id);
	int (*token_add)(store *s, const char *token_hash, const char *device_id, int64_t user_id, int64_t expires_at);
	int (*token_check)(store *s, const char *token_hash, const char *device_id, int64_t now, int64_t *user_id);

	/* providers and apps */
	int (*provider_put)(store *s, const store_provider *p);
	int (*provider_get)(store *s, const char *name, store_provider *p);
	int (*app_put)(store *s, const store_app *a);
	int (*app_get)(store *s, const char *app_id, store_app *a);
	/* apps of a user as a JSON array */
	int (*apps_json)(store *s, int64_t user_id, json_t **out);
	/* Move (issue 3): marks the original released after a completed share. */
	int (*app_release)(store *s, const char *app_id, const char *share_id);

	/* shares */
	int (*share_insert)(store *s, const store_share *sh);
	int (*share_get)(store *s, const char *id, store_share *sh);
	int (*share_update)(store *s, const store_share *sh);
	int (*share_by_eid_app)(store *s, const char *eid, const char *assoc_app_id, store_share *sh);
	int (*share_by_matching)(store *s, const char *matching_id, store_share *sh);
	/* bank-ID apps: the public key the companion's SE generated (hex of the point) */
	int (*share_set_app_key)(store *s, const char *id, const char *hex);
	int (*share_get_app_key)(store *s, const char *id, char *hex, size_t cap);
	/* the associated credential (JSON text from the provider); get: caller
	 * frees. Sealed at rest under the node key (store_opts.secret_key), and
	 * erased by share_update as soon as the share leaves authorised /
	 * delivered (installed, revoked, failed, expired, ...). */
	int (*share_set_credential)(store *s, const char *id, const char *json_text);
	int (*share_get_credential)(store *s, const char *id, char **out);
	/* user_id < 0: all users. JSON array of share objects. */
	int (*shares_json)(store *s, int64_t user_id, json_t **out);
	/* ids of shares whose not_after passed in an active state (at most max). */
	int (*shares_expired)(store *s, int64_t now, char (*ids)[STORE_ID_MAX], size_t max, size_t *n);
	/* number of shares in each state (metrics); unknown stored states are skipped */
	int (*share_counts)(store *s, int64_t counts[SHARE_NSTATES]);
	/* the shares for eid, newest first (at most max), with their associated
	 * apps: the node maps an eUICC's notification naming an ICCID to its
	 * share (one read, no share_get per candidate) */
	int (*shares_of_eid)(store *s, const char *eid, store_share_app *out, size_t max, size_t *n);

	/* primary events */
	int (*event_add)(store *s, int64_t user_id, const char *share_id, const char *type, const char *data, int64_t *id);
	/* events of a user with id > after (share_id filter optional), at most max */
	int (*events_after)(store *s, int64_t user_id, const char *share_id, int64_t after, store_event *out, size_t max, size_t *n);
	/* the user's latest event id (0 when none): a stream "from now" (push.c) */
	int (*events_last)(store *s, int64_t user_id, int64_t *id);

	/* companion commands */
	int (*cmd_add)(store *s, const char *eid, const char *share_id, const char *type, const char *data, int64_t *id);
	/* pending commands for eid with id > after */
	int (*cmds_pending)(store *s, const char *eid, int64_t after, store_cmd *out, size_t max, size_t *n);
	/* marks the pending commands of (share, type) done */
	int (*cmd_done)(store *s, const char *share_id, const char *type);

	/* outbox */
	int (*outbox_add)(store *s, const char *kind, const char *share_id, int64_t *id);
	/* claims up to max due rows (lease until now+lease_s) */
	int (*outbox_claim)(store *s, int64_t now, int64_t lease_s, store_outbox *out, size_t max, size_t *n);
	int (*outbox_done)(store *s, int64_t id);
	int (*outbox_retry)(store *s, int64_t id, int64_t next_at, const char *err);
	/* rows not done yet, and how many of them failed at least once (have a
	 * last_error, waiting for a retry) — the metrics' outbox depth */
	int (*outbox_depth)(store *s, int64_t *pending, int64_t *retrying);
	/* at start-up (no other worker alive): release every lease */
	int (*outbox_reset_leases)(store *s);
	/* a call to the provider of share_id succeeded: its rows waiting out a
	 * backoff become due now (leased rows are left alone) */
	int (*outbox_wake)(store *s, const char *share_id, int64_t now);
	/* seconds until the next due row (or -1 if none) */
	int (*outbox_next_due)(store *s, int64_t now, int64_t *secs);

	/* idempotency keys: get returns TS_ENOTFOUND when new */
	int (*idem_get)(store *s, const char *device_id, const char *key, char *req_hash, size_t hcap,
	    int *status, char **response /* caller frees */);
	int (*idem_put)(store *s, const char *device_id, const char *key, const char *req_hash,
	    int status, const char *response);

	/* share offers (claims 20/33): records a nonce; TS_EEXIST if already used */
	int (*offer_nonce_use)(store *s, const char *nonce_hex, const char *share_id, int64_t expires_at);

	/* housekeeping: drops finished download sessions older than tx_before,
	 * idempotency records older than idem_before, expired tokens and codes */
	int (*gc)(store *s, int64_t tx_before, int64_t idem_before, int64_t now);
	/* Store growth (issue 9): drops up to max shares in a final state whose
	 * last change is older than `before`, with their events, companion
	 * commands, outbox rows and download sessions (a share whose provider
	 * call is still pending stays); *n: how many shares went. */
	int (*prune)(store *s, int64_t before, size_t max, size_t *n);

	/* ES9+ transactions and companion identities */
	int (*tx_put)(store *s, const store_tx *tx);
	int (*tx_get)(store *s, const char *id, store_tx *tx);
	int (*companion_put)(store *s, const char *eid, const uint8_t pub[65]);
	int (*companion_pub)(store *s, const char *eid, uint8_t pub[65]);

	/* Devices (issue 8): a revoked device stays listed and is refused
	 * everywhere (device_user returns TS_EDENIED); its tokens are dropped in
	 * the same statement batch. TS_ENOTFOUND unknown, TS_ESTATE already
	 * revoked. *user_id (may be NULL) is the device's user. */
	int (*device_revoke)(store *s, const char *device_id, int64_t now, int64_t *user_id);
	/* user_id < 0: all users. JSON array of {device_id, user, name,
	 * created_at, revoked_at (0 = active)}. */
	int (*devices_json)(store *s, int64_t user_id, json_t **out);
	/* How many devices were ever revoked (grows by one per revocation): a
	 * running node polls it to end the streams of a device revoked by
	 * another process. */
	int (*device_revocations)(store *s, int64_t *count);

	/* Passphrase throttle, persisted, keyed by "device:<id>" / "user:<id>".
	 * hit counts one attempt in key's window and returns the attempts so far
	 * and the window's start; a window lasts window_s from its first attempt
	 * and only its end starts a new one (one atomic statement, so concurrent
	 * attempts all count). undo takes one attempt back (a correct passphrase:
	 * the other attempts stay); forget drops key's window. */
	int (*throttle_hit)(store *s, const char *key, int64_t now, int64_t window_s, int *attempts,
	    int64_t *window_start);
	int (*throttle_undo)(store *s, const char *key);
	int (*throttle_forget)(store *s, const char *key);

	/* ES9+ sessions of a share beyond the newest keep are dropped (a new
	 * session replaces the oldest, so a leaked matchingId cannot grow the
	 * table: at most keep + 1 rows per share). Sessions the SE already
	 * authenticated (stage 2, 3) are kept before merely initiated ones:
	 * whoever floods with a leaked matchingId only replaces their own. */
	int (*tx_trim)(store *s, const char *share_id, int keep);

	/* A companion belongs to the user whose share was installed on it
	 * first (issue 8): claim records that once (a later claim changes
	 * nothing), owner reads it (TS_ENOTFOUND: nobody's yet), release (the
	 * operator: a companion that changed hands) forgets it. */
	int (*companion_claim)(store *s, const char *eid, int64_t user_id, int64_t now);
	int (*companion_owner)(store *s, const char *eid, int64_t *user_id);
	int (*companion_release)(store *s, const char *eid);

	/* Administration (tapshare-node user|app|provider list|show|remove).
	 * users_json: every account that was not removed, by name: JSON array
	 * of {user_id, name, created_at}. providers_json: [{name, url,
	 * ca_file}] by name. app_remove / provider_remove delete one row
	 * (TS_ENOTFOUND when absent); the caller checks first that nothing
	 * live still needs it. user_remove closes an account in one
	 * statement batch: its devices are revoked (kept, so their
	 * certificates stay refused), its tokens, enrollment codes, apps,
	 * companion ownerships and throttle windows dropped, and the row kept
	 * as a tombstone named "#<id>" with no passphrase hash, so the id is
	 * never given to a new account (the share history keeps pointing to
	 * it) and the name is free again. TS_ENOTFOUND unknown. */
	int (*users_json)(store *s, json_t **out);
	int (*providers_json)(store *s, json_t **out);
	int (*app_remove)(store *s, const char *app_id);
	int (*provider_remove)(store *s, const char *name);
	int (*user_remove)(store *s, int64_t user_id, int64_t now);
	/* Drops one session token (the owner's web page: logout). 0 also when
	 * it was unknown. */
	int (*token_drop)(store *s, const char *token_hash);
	/* SM-DS (ES11) event registrations (issue 7): one per share while it is
	 * authorised (S13), the eventId being the share's matching ID (SGP.22:
	 * the LPA uses the eventId as the matchingId at the SM-DP+).
	 * smds_event_put is idempotent per share; smds_event_del of a share
	 * without one is 0. smds_events lists an EID's event IDs, oldest first,
	 * at most max. */
	int (*smds_event_put)(store *s, const char *share_id, const char *eid, const char *event_id, int64_t now);
	int (*smds_event_del)(store *s, const char *share_id);
	int (*smds_events)(store *s, const char *eid, char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n);
	/* A share's confirmation code (SGP.22 §3.1.2; issue 7): only SHA-256 of
	 * the code (64 hex digits) is kept, with the number of refused hashCc.
	 * cc_get: TS_ENOTFOUND when the share asks for none. cc_refused adds one
	 * refusal and returns the new count. Pruned with the share. */
	int (*cc_put)(store *s, const char *share_id, const char *cc_hash_hex);
	int (*cc_get)(store *s, const char *share_id, char cc_hash_hex[65], int *attempts);
	int (*cc_refused)(store *s, const char *share_id, int *attempts);
};

struct store {
	const struct store_ops *ops;
};

/* store.c: the one place a backend is chosen, and what both backends share. */

/* How long a statement may wait for a lock another connection holds before
 * it fails with TS_ETIMEOUT. The event-loop thread uses a short wait (it
 * answers 503 rather than freeze every request); worker threads wait longer. */
#define STORE_WAIT_LOOP_MS 250
#define STORE_WAIT_WORKER_MS 10000

typedef struct store_opts {
	int wait_ms; /* 0: STORE_WAIT_WORKER_MS */
	/* The node key (32 bytes, copied at open; NULL = none): credentials are
	 * written sealed with it (sealed.h) and read back through it. */
	const uint8_t *secret_key;
	/* SQLite: NULL, or an open SQLite store whose connection the new
	 * handle shares (the url, secret_key are then that store's): the
	 * node's threads use one connection, so no thread's transaction starts
	 * by re-reading what another connection's commit changed. Operations
	 * of the handles are serialised (a transaction holds the connection
	 * from begin to commit); close each handle. PostgreSQL ignores it. */
	store *share_with;
	/* 1: the node's own store while it serves (run.c), open for long.
	 * SQLite grows its write-ahead log at open to the size it reaches
	 * before each checkpoint, so no commit extends the file. PostgreSQL
	 * ignores it. */
	int serving;
} store_opts;

/* For the backends: the credential text to store (sealed when key != NULL)
 * and the plain text of a stored one (a sealed value needs the key; a plain
 * one, from before sealing, is returned as is). Caller frees *out. */
int store_credential_seal(const uint8_t *key, const char *share_id, const char *plain, char **out);
int store_credential_unseal(const uint8_t *key, const char *share_id, const char *stored, char **out);

/* Opens the backend named by url: "sqlite:/path/node.db" (or a bare path),
 * or a libpq connection URI "postgresql://..." / "postgres://...".
 * Runs pending migrations. opts may be NULL. */
int store_open_opts(const char *url, const store_opts *opts, store **out);
int store_open(const char *url, store **out); /* default options */
static inline void store_close(store *s) { if (s) s->ops->close(s); }

/* The share as the API shows it (new reference). */
json_t *store_share_json(const store_share *sh);
/* Writes the members of store_share_json(sh), in its order, into the object
 * open in w (lib/json.h). */
void store_share_jw(ts_jw *w, const store_share *sh);
/* The text ts_json_dump gives for store_share_json(sh) with the string
 * members extra[i][0]: extra[i][1] (i < n) set after the share's own, keys
 * not among the share's; an extra whose value is NULL is left out, as
 * json_object_set_new(o, key, json_string(NULL)) leaves it. Written
 * without a jansson tree; jansson makes it when the writer is unsure (a
 * byte above 0x7f), and its refusal (invalid UTF-8 in the share) is NULL,
 * as is running out of memory. Caller frees. */
char *store_share_text(const store_share *sh, const char *const (*extra)[2], size_t n);

/* SQL text of the states a share may expire from (derived from the
 * transition table), for the backends' expiry query. */
const char *store_sql_expirable(void);
/* SQL text of the states that are not final. */
const char *store_sql_open_states(void);
/* The same two sets as SQLite's partial indexes state them (migration 12):
 * "(state='authorised' OR ...)" and "state<>'requested' AND ..." for the
 * final states (share_state_sql_from_or / share_state_sql_final_and). A
 * query uses such an index only if it states the index's terms as they are. */
const char *store_sql_expirable_or(void);
const char *store_sql_final_and(void);

/* The value of the test hook environment variable `name` (store.c), NULL
 * when it is unset or the build has no test hooks (CMake TS_TEST_HOOKS). */
const char *store_test_hook(const char *name);

/* Fault injection (tests): TAPSHARE_NODE_CRASH_AFTER=commit:N kills the
 * process with SIGKILL right after its Nth durable commit (any connection,
 * any thread). The backends call store_committed() after every commit,
 * explicit or autocommit. */
void store_crash_after_commits(long n);
void store_committed(void);
/* Fault injection (tests): list = "op[,op...]" of store reads (store.c
 * names those it knows) that then always fail with TS_ETIMEOUT on s, as a
 * busy database does. 0; TS_EINVAL for a name it does not know. Once per
 * process, on the event-loop thread's handle, after the others opened. */
int store_fault_busy(store *s, const char *list);
/* Tests: called by the SQLite outbox claim between its read of the due
 * rows and their leases, when not NULL (another connection's claim there
 * must win the rows). */
extern void (*store_sqlite_claim_between)(void);

/* backends */
int store_sqlite_open(const char *path, const store_opts *opts, store **out);
/* PostgreSQL backend (store_pg.c); url is a libpq connection URI. */
int store_pg_open(const char *url, const store_opts *opts, store **out);

#endif
