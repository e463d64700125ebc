/*
 * node.h — tapshare-node internals: the running node's context and the
 * modules that share it.
 *
 *   api_primary.c  primary-device API (enroll, session, apps, shares, cancel, events):
 *                  HTTP glue only, JSON in, status codes out
 *   api_es9.c      companion push channel and ES9+ functions: HTTP glue only
 *   api_offer.c    companion-initiated share offers: HTTP glue only
 *   share.c        the share service (share.h): one function per patent step, each
 *                  owning its transaction; share_state.c its transition table
 *   download.c     the ES9+ download service (download.h): SE authentication,
 *                  bound package, notifications
 *   store.c        chooses the store backend (store_sqlite.c, store_pg.c)
 *   outbox.c       worker threads performing provider calls (ES2+) with retries
 *   push.c         server-sent-event subscribers (primary and companion streams)
 *   passwd.c       passphrase hashing (scrypt)
 *   auth.c         logins: passphrase throttle, scrypt on worker threads
 *   admin.c        init / user / provider / app commands
 */
#ifndef TS_NODE_H
#define TS_NODE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/config.h"
#include "lib/httpd.h"
#include "node/outbox.h"
#include "node/share.h"
#include "node/store.h"

#define NODE_TOKEN_TTL_S 900
#define NODE_ENROLL_TTL_S (7 * 24 * 3600)
#define NODE_MAX_SUBSCRIBERS 8192
#define NODE_OUTBOX_MAX_ATTEMPTS 12
#define NODE_KEEPALIVE_S 15

struct push_sub;

/* Passphrase throttle (auth.c): attempts per device and per account in a
 * window that starts at the first attempt; persisted in the store. */
#define NODE_PASS_MAX_FAILS 5
#define NODE_PASS_MAX_FAILS_USER 10
#define NODE_PASS_WINDOW_S 300
/* Passphrase checks (scrypt) run on these threads, never on the loop. */
#define NODE_AUTH_WORKERS 2
#define NODE_AUTH_QUEUE_MAX 64
struct auth_pool;
struct peerlim;
/* ES9+ initiateAuthentication per peer address per minute (each opens a
 * durable session row and costs a signature). */
#define NODE_ES9_PEER_MAX 60
#define NODE_ES9_PEER_WINDOW_S 60
#define NODE_STREAMS_PER_EID 2
#define NODE_STREAMS_PER_PEER 32

typedef struct node {
	char dir[512];           /* state: node.port, relative paths of the database */
	char ini[PATH_MAX];      /* configuration file ("" = DIR/node.ini) */
	int no_store;            /* node_load: do not open the database (reload) */
	ts_config *cfg;
	char db_url[600];
	char address[129];       /* public base URL, also the smdpAddress (<= 128) */
	char tls_cert[600], tls_key[600], ca_cert[600], ca_key[600];
	struct event_base *base;
	ts_httpd *httpd;
	store *st;               /* main-thread store handle (short lock waits) */
	share_svc svc;           /* the share service, wired to this node (node_svc_init) */
	X509 *ca;                /* node CA (device certificates) */
	EVP_PKEY *ca_pkey;
	/* SM-DP+ certificates (SGP.22 4.5.2), both issued by the CI ([sign]):
	 * DPauth signs serverSigned1 (ES9+/stream initiateAuthentication),
	 * DPpb signs smdpSigned2 and the bound profile package. */
	X509 *dpauth_cert;       /* id-rspRole-dp-auth */
	EVP_PKEY *dpauth_key;
	uint8_t *dpauth_cert_der;
	size_t dpauth_cert_der_len;
	X509 *dppb_cert;         /* id-rspRole-dp-pb */
	EVP_PKEY *dppb_key;
	uint8_t *dppb_cert_der;
	size_t dppb_cert_der_len;
	X509 *ci;                /* trusted CI root (id-rspRole-ci) */
	STACK_OF(X509) *eums;    /* trusted EUM certificates, each checked (pki_eum_check) */
	char ein_prefixes[1024]; /* union of the EUMs' nameConstraints prefixes, never empty */

	/* push */
	struct push_sub *subs;   /* every open stream */
	size_t nsubs;
	struct push_state *push; /* streams by EID / user, the wake queue (push.c) */
	/* node.ini [limits] (0 = default; read in run.c) */
	size_t lim_max_streams;  /* default: the fd limit less a reserve */
	int lim_streams_per_peer, lim_streams_per_eid;
	int lim_es9_per_peer;    /* ES9+ sessions per peer address per minute */
	struct event *push_ev;   /* activated (thread-safe) when new events are committed */
	struct event *tick_ev;   /* 1 s: expiry, keepalives */

	/* outbox workers */
	int nworkers;
	pthread_t workers[8];
	pthread_mutex_t ob_mu;
	pthread_cond_t ob_cv;
	int ob_kicked;           /* under ob_mu: rows may be due that no worker has claimed since */
	int ob_idle;             /* under ob_mu: workers waiting on ob_cv (outbox_kick signals only then) */
	/* Rows in backoff (outbox.c, rows_may_wait): ob_later counts the
	 * workers' looks at the next due row that found one pending; ob_quiet
	 * is 1 + the count a look found none at. Both 0 at first: may wait. */
	atomic_ulong ob_later, ob_quiet;
	int stopping;
	int outbox_fail_at;      /* fault injection (tests): worker N (1-based) fails to start */
	int outbox_poll_ms;      /* tests: longest wait without a kick (0: OUTBOX_POLL_MS) */
	/* tests: the workers' provider transport (NULL: HTTPS); see outbox.h */
	outbox_call_fn outbox_call;
	void *outbox_call_arg;
	unsigned reload_gen;     /* under ob_mu: bumped by each SIGHUP reload */
	struct evhttp *admin;    /* admin listener (admin_http.c), NULL when off */
	int ready;               /* serving: /readyz may say so */
	const char *crash_after; /* fault injection for tests: a crash point name */
	struct auth_pool *auth;  /* passphrase-check workers (auth.c) */
	int64_t revocations_seen; /* store's device revocation count at the last look (push.c) */
	struct peerlim *es9_peers; /* initiateAuthentication per peer (api_es9.c) */
	uint8_t secret_key[32];  /* DIR/node.key: seals credentials at rest (sealed.h) */
	int64_t next_gc;
	int64_t retention_s;     /* [node] retention_days: finished shares pruned after this */
	int64_t next_prune;
	struct pg_listen *pgl;   /* PostgreSQL LISTEN for cross-node wake-ups (pg_listen.c), or NULL */
	int web_on;              /* [node] web: the owner's page (web.c) */
	int64_t web_session_s;   /* [node] web_session_s */
} node;

/* default [node] retention_days */
#define NODE_RETENTION_DAYS 30
/* shares pruned per batch (one batch per tick while a backlog remains) */
#define NODE_PRUNE_BATCH 500

/* admin.c */
int node_cmd_testpki(int argc, char **argv);
int node_cmd_init(int argc, char **argv);
int node_cmd_user(int argc, char **argv);
int node_cmd_provider(int argc, char **argv);
int node_cmd_app(int argc, char **argv);
int node_cmd_shares(int argc, char **argv);
/* device list | device revoke (issue 8) */
int node_cmd_device(int argc, char **argv);
/* companion release EID (issue 8) */
int node_cmd_companion(int argc, char **argv);
/* Loads n->ini (DIR/node.ini when empty) and the keys and certificates it names. */
int node_load(node *n, const char *dir);
/* Argument helpers the admin commands share (admin.c): "--name value"
 * (NULL when absent), a flag's presence, positional number k after the
 * command words (skipping options and the values of with_value), and
 * loading the node a command names (--dir / --config; 0, or the exit
 * status 1 or 2 after saying why). */
const char *node_arg_opt(int argc, char **argv, const char *name);
int node_arg_flag(int argc, char **argv, const char *name);
const char *node_arg_positional(int argc, char **argv, int k, const char *const *with_value);
int node_admin_open(int argc, char **argv, node *n);
/* The user an admin command names: 0; 1 after saying "no user NAME"
 * (no_user: unknown, or a removed account's '#' tombstone) or, when the
 * store gave no answer (busy), "cannot read user NAME" (store: nothing was
 * changed, try again) -- a busy store is never taken for a missing user. */
int node_admin_user(node *n, const char *name, int64_t *uid);
/* The same for a read (provider, app, device) of what: 1 after saying why. */
int node_admin_read_failed(const char *what, const char *name, int rc);
/* admin_acct.c — user|app|provider|device list|show|remove (issue 10) */
int node_acct_user(int argc, char **argv);
int node_acct_app(int argc, char **argv);
int node_acct_provider(int argc, char **argv);
int node_acct_device(int argc, char **argv);

/* conf.c — the files: --dir DIR (DIR/node.ini, state in DIR), --config FILE,
 * else the installed layout (/etc/tapshare/node.ini, state in
 * /var/lib/tapshare; systemd's $CONFIGURATION_DIRECTORY / $STATE_DIRECTORY
 * first). Fills dir and ini; TS_ECONFIG when a path does not fit. */
int node_locate(int argc, char **argv, char *dir, size_t dcap, char *ini, size_t icap);
/* Checks node.ini strictly (lib/config.h schema: unknown sections and keys,
 * bad values, missing files), then that the PEM files parse and the key
 * pairs match. One report per problem; returns their number. */
size_t node_conf_check(const ts_config *c, ts_config_report_fn report, void *arg);
/* [node] reuse_port = true|on (SO_REUSEPORT on the listener; PostgreSQL only). */
int node_conf_reuse_port(const ts_config *c);
/* Report callback: "tapshare-node: error: MSG" on stderr. */
void node_report_stderr(void *arg, const char *msg);
/* `tapshare-node check [--dir DIR | --config FILE]`: exit 0 clean, 1 problems. */
int node_cmd_check(int argc, char **argv);
/* admin_http.c — /healthz, /readyz, /metrics on plain HTTP at listen
 * ("HOST:PORT"; port 0 writes DIR/admin.port). */
int admin_http_start(node *n, const char *listen);
void admin_http_stop(node *n); /* no-op when not started */

/* SIGHUP (main thread): reloads n->ini and everything it names — TLS
 * certificate and key (new connections), node CA, signing certificate, CI
 * and EUMs — and makes the outbox workers drop their provider clients
 * (provider endpoints and CAs are read again). Open connections and streams
 * stay. A configuration with errors is refused and logged, the running one
 * kept (TS_ECONFIG). listen, database, address, outbox_workers and
 * admin_listen take effect at the next start. */
int node_reload(node *n);
/* The TLS client certificate and key for provider calls (any thread). */
void node_client_tls(node *n, char cert[600], char key[600]);
void node_unload(node *n);

/* pg_listen.c — cross-node wake-ups on PostgreSQL (issue 9): a dedicated
 * connection LISTENs on channel "tapshare", its socket watched by n->base;
 * a notification "u:<user id>" or "e:<eid>" (sent by the store in the
 * transaction that wrote the event / command) wakes the push streams.
 * start is a no-op (0) for a SQLite database. */
int pg_listen_start(node *n);
void pg_listen_stop(node *n);

/* run.c */
int node_cmd_run(int argc, char **argv);
/* glibc malloc settings for the node's process (run.c; called first by
 * node_cmd_run): trim and mmap thresholds, no fastbins. */
void node_malloc_setup(void);
/* Crash injection point (tests): raises SIGKILL if TAPSHARE_NODE_CRASH_AFTER
 * names this point (a share.c function name, or an outbox point). */
void node_crash_point(node *n, const char *point);
/* Wires n->svc to the node (push and outbox kicks, crash points). */
void node_svc_init(node *n);

/* auth.c */
int auth_start(node *n);
/* Joins the workers; checks still in flight are answered 503. NULL-safe. */
void auth_stop(node *n);
/* POST /v1/session after the device was authenticated: counts the attempt,
 * then checks pass on a worker thread and replies from the loop (201 token,
 * 401, 429 throttled, 503 busy). pass is copied. */
void auth_login(node *n, struct evhttp_request *req, const char *device_id, int64_t user_id, const char *pass);
/* The same check for other callers (the owner's web page, web.c): the
 * attempt is throttled under "device:<device_id>" and the account, then
 * done(n, req, ok, user_id, tag) replies from the loop (tag copied, at most
 * AUTH_TAG_MAX - 1 bytes); the 429/503/400 refusals are answered here. */
#define AUTH_TAG_MAX 96
typedef void (*auth_done_fn)(node *n, struct evhttp_request *req, int ok, int64_t user_id, const char *tag);
void auth_check(node *n, struct evhttp_request *req, const char *device_id, int64_t user_id, const char *pass,
    auth_done_fn done, const char *tag);
/* The throttle alone (tests): counts one attempt; 0 go on, TS_ELIMIT
 * refused (*retry_after seconds; *by_account: the account's limit). */
int auth_throttle_begin(store *st, const char *device_id, int64_t user_id, int64_t now, int64_t *retry_after,
    int *by_account);
/* A correct passphrase: forgets the device's window, takes its attempt back
 * from the account's. */
void auth_throttle_success(store *st, const char *device_id, int64_t user_id);
/* Revokes a device in its own transaction: refused at once on every
 * endpoint, its tokens dropped. by_user >= 0: only a device of that user
 * (else TS_ENOTFOUND); < 0: any (the operator). TS_ESTATE already revoked.
 * *owner (may be NULL) gets the device's user. */
int auth_revoke_device(store *st, int64_t by_user, const char *device_id, int64_t *owner);

/* passwd.c */
int passwd_hash(const char *pass, char *out, size_t cap);
int passwd_verify(const char *pass, const char *stored); /* 0 ok, TS_EAUTH */
/* SHA-256 hex of a secret (tokens, enrollment codes are stored hashed). */
void secret_hash(const char *secret, char out[65]);

/* api_primary.c / api_es9.c / api_offer.c */
void api_offer_routes(node *n);
void api_primary_routes(node *n);
void api_es9_routes(node *n);
/* The download service over this node's keys, certificates, CI and bare
 * serverAddress, shared by ES9+ and ES11 (api_es9.c). */
struct download_svc;
void node_download_svc(node *n, struct download_svc *d);
/* api_es11.c — the SM-DS (ES11) routes (smds.h) */
void api_es11_routes(node *n);
/* The HTTP status of a service refusal (why->code), fallback when unknown. */
int api_status(const share_why *why, int rc);
/* Replies with a service refusal. */
void api_reply_refusal(struct evhttp_request *req, const share_why *why, int rc);
/* 503 store_busy with Retry-After: a store that could not answer (busy,
 * timed out, failed) is no verdict, so never the refusal a missing row earns. */
void api_reply_busy(struct evhttp_request *req);

/* push.c */
int push_init(node *n);
void push_fini(node *n);
/* Thread-safe (any thread): the streams of one EID (companions) or of one
 * user (primaries) read the store again and get what was committed for them;
 * only those streams are touched. push_wake_all / push_kick: every stream. */
void push_wake_eid(node *n, const char *eid);
void push_wake_user(node *n, int64_t user_id);
/* push_wake_user for a wake that only rows up to id upto (> 0) need: a
 * stream whose cursor is at or past it has them all and is not read again
 * (pg_listen.c's sweep: most rows it sees crossing the order horizon were
 * delivered on their NOTIFY already; issue 9, one read per event). */
void push_wake_user_upto(node *n, int64_t user_id, int64_t upto);
void push_wake_all(node *n);
void push_kick(node *n);
/* Loop thread: streams read back from the store, events written (since start). */
void push_stats(const node *n, uint64_t *delivers, uint64_t *written);
/* Loop thread: keepalive comments written to idle streams (since start). */
uint64_t push_keepalives(const node *n);
/* Times a wake-up activated the push event (once per batch of wakes that
 * on_push takes together; tests). */
uint64_t push_wake_arms(const node *n);
/* Starts an SSE response and registers it. kind 0 primary (user_id, share filter,
 * after: replay after that event id; < 0 = from now, unless share_id, which
 * replays that share from its start), kind 1 companion (eid). */
int push_subscribe_primary(node *n, struct evhttp_request *req, int64_t user_id, const char *device_id,
    const char *share_id, int64_t after);
/* Companion streams are capped: lim_streams_per_peer per peer address
 * (429 beyond), lim_streams_per_eid per EID (a new one replaces the oldest);
 * every stream by lim_max_streams (503, connection closed). */
int push_subscribe_companion(node *n, struct evhttp_request *req, const char *eid, const char *peer);
/* Keepalives; also ends the streams of devices revoked meanwhile (by any
 * process: it polls the store's revocation count). */
void push_tick(node *n);
/* Ends every open stream of a revoked device now. */
void push_device_revoked(node *n);

/* outbox.c */
/* Starts n->nworkers workers (1..8). On failure every worker already
 * started is joined before it returns (n->nworkers is then 0). */
int outbox_start(node *n);
/* Joins the workers; safe after a failed outbox_start. */
void outbox_stop(node *n);
void outbox_kick(node *n);

#endif
