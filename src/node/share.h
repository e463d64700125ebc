/*
 * share.h — the share service: one function per patent step (S11..S17), each
 * running its own transaction on the store handle it is given, writing the
 * share row, the primary's event, the companion's command and the provider
 * call (outbox) of that step together, and kicking the push stream / outbox
 * only after the commit. The table at the top of share.c maps each step to
 * its function.
 *
 * The service never sees HTTP: callers (api_*.c, outbox.c, download.c, the
 * node's tick) turn requests into the structs below and the results into
 * status codes. Refusals come back as a negative TS_E* code and, where the
 * caller gave a share_why, the API error code and message to show.
 *
 * Dependencies point one way: share.c -> store.h, share_state.h, lib. It does
 * not know the node, the outbox workers or the push streams; it reaches them
 * through share_svc.kick.
 */
#ifndef TS_NODE_SHARE_H
#define TS_NODE_SHARE_H

#include <stdint.h>

#include <openssl/x509.h>

#include "lib/rsp.h"
#include "node/share_state.h"
#include "node/store.h"

/* outbox kinds and companion command types */
#define OUTBOX_CONFIRM_ORDER "confirm_order"
#define OUTBOX_CANCEL_ORDER "cancel_order"
#define OUTBOX_RELEASE_ORIGINAL "release_original"
#define OUTBOX_CERTIFY_KEY "certify_key"
/* ES2+ HandleDownloadProgressInfo for a download the companion cancelled
 * with a reason that keeps the share (SGP.22 §5.6.5 step 1): one kind per
 * CancelSessionReason, since an outbox row names only a kind and a share. */
#define OUTBOX_PROGRESS_POSTPONED "progress_postponed"
#define OUTBOX_PROGRESS_TIMEOUT "progress_timeout"
#define OUTBOX_PROGRESS_UNDEFINED "progress_undefined"
#define CMD_DOWNLOAD "download"
#define CMD_DELETE "delete"
#define CMD_CERTIFICATE "certificate"

#define SHARE_MAX_DURATION_S (10LL * 365 * 24 * 3600)
#define SHARE_OFFER_MAX_TTL_S 3600
#define SHARE_EXPIRE_BATCH 64

/* what share_svc.kick wakes */
#define SHARE_KICK_PUSH 1u
#define SHARE_KICK_OUTBOX 2u

typedef struct share_svc {
	const char *address;      /* node base URL = smdpAddress in download commands (borrowed) */
	const char *ein_prefixes; /* trusted EUMs' permitted EID prefixes (borrowed) */
	X509 *device_ca;          /* node CA: offers must be signed by a device it issued (borrowed) */
	/* Called after a commit (any thread); NULL: nothing to wake. */
	void (*kick)(void *arg, unsigned what);
	void *kick_arg;
	/* Called after a commit (any thread) for each user whose events and each
	 * EID whose commands the transaction added (eid NULL: a user; else an
	 * EID), with kick_arg. NULL: kick(SHARE_KICK_PUSH) wakes every stream. */
	void (*wake)(void *arg, int64_t user_id, const char *eid);
	/* Fault injection (tests): called at every named point between two
	 * durable writes; may not return. NULL: no injection. */
	void (*crash)(void *arg, const char *point);
	void *crash_arg;
} share_svc;

/* A refusal the API shows: error code ("eid_check_digits") and message. */
typedef struct share_why {
	char code[40];
	char msg[400];
} share_why;

/* Idempotency of a primary's request: key and request hash from the caller;
 * status is what the API answers on success and is stored with the answer.
 * On a replay the service fills replayed = 1, status and response. */
typedef struct share_idem {
	const char *device_id;
	const char *key;
	const char *req_hash;
	int status;
	int replayed;
	char *response; /* JSON text of the answer; caller frees (NULL until set) */
} share_idem;

/* S11: a share request from the primary (or from an offer). */
typedef struct share_req {
	int64_t user_id;
	const char *device_id; /* the requesting (or offering) primary device */
	const char *eid;       /* as received, unchecked */
	const char *app_id;
	const char *operation; /* "share" (default when NULL) or "move" */
	int64_t duration_s;    /* 0: as long as the provider allows */
	/* SHA-256 of the confirmation code the primary chose (64 hex digits),
	 * or NULL: the download then needs hashCc (SGP.22 §3.1.2; download.h). */
	const char *cc_hash;
} share_req;

/* The SGP.22 activation code of a share: "LPA:1$<bare address>$<matching
 * id>" (SGP.22 4.1: AC_Format 1, SM-DP+ address without scheme). */
int share_activation_code(const char *address, const char *matching_id, char *out, size_t cap);

/* S13: the provider's grant (confirmOrder answer). */
typedef struct share_grant {
	const char *assoc_app_id;
	const char *assoc_name;
	const char *assoc_kind;
	int64_t not_after;
	const char *credential_json; /* JSON text of the associated credential */
} share_grant;

/* ---- S11 / S12 ---------------------------------------------------------- */

/* Checks an EID (format, ISO 7064 check digits, trusted EUM prefix). Pure. */
int share_check_eid(const share_svc *svc, const char *eid_s, eid_t *eid, share_why *why);
/* S11 + S12: checks the EID and the app (exists, the user's, shareable, not
 * moved), records the share as eid_confirmed with its first-confirmation
 * event and the confirmOrder outbox row and the idempotency record, in one
 * transaction. out: the share. idem may be NULL (no idempotency). On success
 * idem->response holds the answer (the share with its "confirmation").
 * TS_ECONFLICT: the key was used for another request. */
int share_request(const share_svc *svc, store *st, const share_req *req, share_idem *idem,
    store_share *out, share_why *why);
/* S11 (claims 20/33): redeems a share offer the companion brought. The offer
 * was decoded (and its signature checked) by the caller; this checks that its
 * certificate was issued by the node CA to an enrolled device, its expiry and
 * lifetime, the EID and the app, uses its nonce once, and records the share as
 * share_request does — one transaction. */
int share_offer_redeem(const share_svc *svc, store *st, const char *eid_s, const rsp_offer *offer,
    store_share *out, share_why *why);

/* ---- S13 ---------------------------------------------------------------- */

/* S13 authorised: records the grant and pushes the download command. If the
 * share was cancelled (or failed) while the confirmOrder was in flight, the
 * provider is told to drop the grant (cancelOrder) and TS_ESTATE returned. */
int share_authorise(const share_svc *svc, store *st, const char *share_id, const share_grant *g);
/* S13 denied by the provider. */
int share_deny(const share_svc *svc, store *st, const char *share_id, const char *reason);
/* The share cannot go on. granted != 0: the provider may hold a grant for
 * it (an answer we could not use, or a failure after S13), so a cancelOrder
 * is written too. */
int share_fail(const share_svc *svc, store *st, const char *share_id, const char *reason, int granted);

/* ---- S14 / S15 ---------------------------------------------------------- */

/* S14: the bound package for tx (stage 3) is handed to the companion: the
 * session and the share (delivered) are written in one transaction.
 * TS_ESTATE if the share is no longer downloadable. */
int share_deliver(const share_svc *svc, store *st, const char *share_id, const store_tx *tx);
/* S15: the SE's signed install notification. app_key_hex: for bank-ID apps
 * the public key the SE generated (the provider is asked to certify it). */
int share_installed(const share_svc *svc, store *st, const char *share_id, const char *app_key_hex);
/* The SE (or the companion on its behalf) refused or could not load the
 * package: a delivered share fails with the reason (share.failed to the
 * primary, cancelOrder to the provider); a cancelled one completes. */
int share_install_failed(const share_svc *svc, store *st, const char *share_id, const char *reason);
/* The companion cancelled a download with a reason that keeps the share
 * (postponed, timeout, undefinedReason): the provider's notice (outbox
 * kind, an OUTBOX_PROGRESS_*) is queued in one transaction and the outbox
 * kicked. A notice of what happened, whatever the share's state since (a
 * share that ended meanwhile also got its cancelOrder). TS_ENOTFOUND
 * without the share. */
int share_download_cancelled(const share_svc *svc, store *st, const char *share_id, const char *kind);
/* Bank-ID: the provider certified the SE's key; push the certificate. */
int share_key_certified(const share_svc *svc, store *st, const char *share_id, const char *cert_b64);
int share_certify_failed(const share_svc *svc, store *st, const char *share_id, const char *reason);
/* Bank-ID: the SE stored the certificate and enabled the app. */
int share_certified(const share_svc *svc, store *st, const char *share_id);

/* ---- S16 / S17 / expiry / move ------------------------------------------ */

/* S16: the user cancels. Another user's share is TS_ENOTFOUND; a share that
 * cannot be cancelled is TS_ESTATE (out holds it). idem as share_request. */
int share_cancel(const share_svc *svc, store *st, int64_t user_id, const char *share_id, share_idem *idem,
    store_share *out, share_why *why);
/* S17: the SE's signed delete notification. */
int share_deleted(const share_svc *svc, store *st, const char *share_id);
/* Expiry of one share (not_after passed). */
int share_expire(const share_svc *svc, store *st, const char *share_id);
/* The node's expiry tick: expires every share whose not_after <= now (at
 * most SHARE_EXPIRE_BATCH per call). *n: how many expired. */
int share_expire_due(const share_svc *svc, store *st, int64_t now, size_t *n);
/* Move (S16 of the original): after the share of app_id reached installed,
 * releases the original and tells the provider, in one transaction. */
int share_release(const share_svc *svc, store *st, int64_t user_id, const char *app_id, const char *share_id,
    share_idem *idem, share_why *why);

/* ---- the outbox row being applied (outbox.c) ---------------------------- */

/* An outbox worker applies a provider's answer as a share transition on its
 * own thread. share_outbox_arm makes the next transition this thread
 * commits (any share_* step) also mark outbox row outbox_id done and, when
 * wake, make the rows waiting out a backoff for the provider of share_id due
 * at now (store.h outbox_done, outbox_wake), in that transition's
 * transaction: the row is closed by the durable commit that applied it, with
 * no bookkeeping write of its own after it. share_outbox_disarm ends it: 1
 * if a committed transition closed the row (nothing more to write for it),
 * 0 if none did (the caller marks the row itself). */
void share_outbox_arm(int64_t outbox_id, const char *share_id, int64_t now, int wake);
/* Changes the armed row's wake (the worker decides it again once the
 * provider has answered); nothing when no row is armed. */
void share_outbox_set_wake(int wake);
int share_outbox_disarm(void);

/* ---- reads -------------------------------------------------------------- */

/* The share if user_id owns it, else TS_ENOTFOUND. */
int share_get_owned(store *st, int64_t user_id, const char *share_id, store_share *out);
/* Credential JSON of a share (caller frees). */
int share_credential(store *st, const char *share_id, char **out);
/* True if the share's package may be downloaded (authorised or delivered). */
int share_downloadable(const store_share *sh);

#endif
