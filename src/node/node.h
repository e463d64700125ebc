/*
 * node.h — tapshare-node internals: the running node's context and the
 * modules that share it.
 *
 *   api_primary.c  primary-device API (enroll, session, apps, shares, cancel, events)
 *   api_es9.c      companion push channel and ES9+-shaped download functions
 *   share.c        share state machine: every transition in one transaction with
 *                  its event, companion command and outbox row
 *   outbox.c       worker threads performing provider calls (ES2+) with retries
 *   push.c         server-sent-event subscribers (primary and companion streams)
 *   passwd.c       passphrase hashing (scrypt)
 *   admin.c        init / user / provider / app commands
 */
#ifndef TS_NODE_H
#define TS_NODE_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/config.h"
#include "lib/httpd.h"
#include "node/store.h"

#define NODE_TOKEN_TTL_S 900
#define NODE_ENROLL_TTL_S (7 * 24 * 3600)
#define NODE_MAX_SUBSCRIBERS 8192
#define NODE_MAX_DURATION_S (10LL * 365 * 24 * 3600)
#define NODE_OUTBOX_MAX_ATTEMPTS 12
#define NODE_KEEPALIVE_S 15

struct push_sub;

/* Wrong-passphrase throttle: per device, in memory (a restart forgets it). */
#define NODE_PASS_SLOTS 256
#define NODE_PASS_MAX_FAILS 5
#define NODE_PASS_WINDOW_S 300
struct pass_slot {
	char device_id[65];
	int fails;
	int64_t window_start;
};

typedef struct node {
	char dir[512];           /* state: node.port, relative paths of the database */
	char ini[PATH_MAX];      /* configuration file ("" = DIR/node.ini) */
	ts_config *cfg;
	char db_url[600];
	char address[129];       /* public base URL, also the smdpAddress (<= 128) */
	char tls_cert[600], tls_key[600], ca_cert[600], ca_key[600];
	char sign_cert_file[600];
	struct event_base *base;
	ts_httpd *httpd;
	store *st;               /* main-thread store handle */
	X509 *ca;                /* node CA (device certificates) */
	EVP_PKEY *ca_pkey;
	X509 *sign_cert;         /* package signing (issued by the CI) */
	EVP_PKEY *sign_key;
	uint8_t *sign_cert_der;
	size_t sign_cert_der_len;
	X509 *ci;                /* trusted CI root */
	STACK_OF(X509) *eums;    /* trusted EUM certificates */
	char ein_prefixes[1024]; /* union of the EUMs' permitted prefixes */

	/* push */
	struct push_sub *subs;
	size_t nsubs;
	struct event *push_ev;   /* activated (thread-safe) when new events are committed */
	struct event *tick_ev;   /* 1 s: expiry, keepalives */

	/* outbox workers */
	int nworkers;
	pthread_t workers[8];
	pthread_mutex_t ob_mu;
	pthread_cond_t ob_cv;
	int ob_kicked;
	int stopping;
	const char *crash_after; /* fault injection for tests: "S12" / "S13" */
	struct pass_slot pass[NODE_PASS_SLOTS];
	int64_t next_gc;
} node;

/* admin.c */
int node_cmd_testpki(int argc, char **argv);
int node_cmd_init(int argc, char **argv);
int node_cmd_user(int argc, char **argv);
int node_cmd_provider(int argc, char **argv);
int node_cmd_app(int argc, char **argv);
int node_cmd_shares(int argc, char **argv);
/* Loads n->ini (DIR/node.ini when empty) and the keys and certificates it names. */
int node_load(node *n, const char *dir);

/* conf.c — the files: --dir DIR (DIR/node.ini, state in DIR), --config FILE,
 * else the installed layout (/etc/tapshare/node.ini, state in
 * /var/lib/tapshare; systemd's $CONFIGURATION_DIRECTORY / $STATE_DIRECTORY
 * first). Fills dir and ini; TS_ECONFIG when a path does not fit. */
int node_locate(int argc, char **argv, char *dir, size_t dcap, char *ini, size_t icap);
void node_unload(node *n);

/* run.c */
int node_cmd_run(int argc, char **argv);
/* Crash injection point (tests): raises SIGKILL if TAPSHARE_NODE_CRASH_AFTER == step. */
void node_crash_point(node *n, const char *step);

/* passwd.c */
int passwd_hash(const char *pass, char *out, size_t cap);
int passwd_verify(const char *pass, const char *stored); /* 0 ok, TS_EAUTH */
/* SHA-256 hex of a secret (tokens, enrollment codes are stored hashed). */
void secret_hash(const char *secret, char out[65]);

/* api_primary.c / api_es9.c / api_offer.c */
#include "lib/eid.h"
/* Validates an EID string (format, check digits, trusted EUM prefix); on
 * failure it has replied with the exact error and returns < 0. */
int api_check_eid(node *n, struct evhttp_request *req, const char *eid_s, eid_t *eid);
/* Checks that app_id exists, belongs to user_id, may be shared and was not
 * moved away; on failure it has replied with the exact error and returns < 0. */
int api_check_app(node *n, struct evhttp_request *req, const char *app_id, int64_t user_id, store_app *app);
void api_offer_routes(node *n);
void api_primary_routes(node *n);
void api_es9_routes(node *n);

/* share.c — transitions; each runs its own transaction on st and kicks push/outbox. */
int share_create(node *n, store *st, store_share *sh);          /* S11/S12 */
int share_authorised(node *n, store *st, const char *share_id, const char *assoc_app_id,
    const char *assoc_name, const char *assoc_kind, int64_t not_after, const char *credential_json); /* S13 */
int share_denied(node *n, store *st, const char *share_id, const char *reason);
int share_failed(node *n, store *st, const char *share_id, const char *reason);
int share_delivered(node *n, store *st, const char *share_id);   /* S14 */
/* S15. app_key_hex: for bank-ID apps, the public key the companion's SE
 * generated (the provider is then asked to certify it), else NULL. */
int share_installed(node *n, store *st, const char *share_id, const char *app_key_hex);
/* Bank-ID: the provider certified the SE's key; push the certificate. */
int share_key_certified(node *n, store *st, const char *share_id, const char *cert_b64);
int share_certify_failed(node *n, store *st, const char *share_id, const char *reason);
/* Bank-ID: the SE stored the certificate and enabled the app. */
int share_certified(node *n, store *st, const char *share_id);
int share_cancel(node *n, store *st, const char *share_id, store_share *out); /* S16 */
int share_deleted(node *n, store *st, const char *share_id);     /* S17 */
int share_expire(node *n, store *st, const char *share_id);
/* Credential JSON of a share (caller frees) */
int share_credential(store *st, const char *share_id, char **out);
json_t *store_share_json(const store_share *sh);

/* push.c */
int push_init(node *n);
void push_fini(node *n);
/* Thread-safe: wake the event loop to deliver newly committed events. */
void push_kick(node *n);
/* Starts an SSE response and registers it. kind 0 primary (user_id, share filter,
 * after), kind 1 companion (eid). */
int push_subscribe_primary(node *n, struct evhttp_request *req, int64_t user_id,
    const char *share_id, int64_t after);
int push_subscribe_companion(node *n, struct evhttp_request *req, const char *eid);
void push_tick(node *n);

/* outbox.c */
int outbox_start(node *n);
void outbox_stop(node *n);
void outbox_kick(node *n);

#endif
