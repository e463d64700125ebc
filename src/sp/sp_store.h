/*
 * sp_store.h — tapshare-sp's record of every decision (SQLite, WAL).
 *
 * Table decisions: one row per ES2+ call, keyed by its functionCallIdentifier
 * (UNIQUE), holding the exact response body returned, so a repeated call
 * gets the recorded answer back unchanged. The response may contain minted
 * secrets (Ki, tokens): the database file is created with mode 0600 and
 * sp_store_list never returns responses.
 *
 * Schema 2 adds: decisions.account (the bank account a bankid credential was
 * minted under), table accounts (one bank account per primary app id, so
 * every bankid credential minted for that app carries the same account) and
 * table certificates (the key certified by certifyKey for an associated app
 * id and the certificate issued, so the same key gets the same certificate).
 */
#ifndef TS_SP_STORE_H
#define TS_SP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SP_ACCOUNT_MAX 33 /* account text + NUL */

typedef struct sp_store sp_store;

/* Opens (creating and migrating) the database at path. */
int sp_store_open(const char *path, sp_store **out);
void sp_store_close(sp_store *s); /* NULL ok */

/* One decision (strings borrowed; NULL allowed except function, fci,
 * decision, response). */
typedef struct sp_record {
	int64_t created_at;
	const char *function;          /* "confirmOrder" | "cancelOrder" | "certifyKey" |
	                                * "handleDownloadProgressInfo" */
	const char *fci;               /* functionCallIdentifier */
	const char *requester;         /* functionRequesterIdentifier */
	const char *peer_id;           /* client certificate's key id */
	const char *eid;
	const char *app_id;
	const char *share_id;
	const char *user_id;
	const char *decision;          /* "approved" | "denied" | "cancelled" | "certified" | "noted" */
	const char *kind;
	const char *associated_app_id;
	const char *account;           /* bankid: account minted under, may be NULL */
	int64_t not_after;
	const char *reason;
	int http_status;
	const char *response;          /* JSON text exactly as sent */
} sp_record;

/* Inserts r. TS_EEXIST if r->fci is already recorded. */
int sp_store_insert(sp_store *s, const sp_record *r);
/* The recorded call for fci: *function and *response are malloc'ed (caller
 * frees); TS_ENOTFOUND when absent. */
int sp_store_lookup(sp_store *s, const char *fci, char **function, char **response,
    int *http_status);
/* 0 if an approved confirmOrder minted assoc_id, else TS_ENOTFOUND. */
int sp_store_find_assoc(sp_store *s, const char *assoc_id);
/* What an approved confirmOrder minted for an associated app id. */
typedef struct sp_minted {
	char kind[16];
	char app_id[65];                /* the primary's app id */
	char eid[65];                   /* the companion it was minted for */
	char user_id[129];              /* "" when the node sent none */
	char account[SP_ACCOUNT_MAX];   /* "" unless bankid */
	int64_t not_after;              /* unix s, 0 = unlimited */
} sp_minted;

/* The approved confirmOrder that minted assoc_id, or TS_ENOTFOUND. */
int sp_store_get_minted(sp_store *s, const char *assoc_id, sp_minted *out);
/* 1 if a cancelOrder was recorded for assoc_id, 0 if not, < 0 on error. */
int sp_store_cancelled(sp_store *s, const char *assoc_id);

/* The bank account of a primary app id: 0 with account set, or TS_ENOTFOUND. */
int sp_store_account_get(sp_store *s, const char *app_id, char account[SP_ACCOUNT_MAX]);
/* Records a new account for app_id. TS_EEXIST if app_id already has one or
 * the account number is taken. */
int sp_store_account_add(sp_store *s, const char *app_id, const char *user_id,
    const char *account, int64_t now);

/* The key certified for assoc_id (65-byte point) and its certificate (DER);
 * both malloc'ed, caller frees. TS_ENOTFOUND when none. */
int sp_store_cert_get(sp_store *s, const char *assoc_id, uint8_t **point, size_t *point_len,
    uint8_t **der, size_t *der_len);
/* Stores them. TS_EEXIST if assoc_id already has a certificate. */
int sp_store_cert_put(sp_store *s, const char *assoc_id, const uint8_t *point,
    size_t point_len, const uint8_t *der, size_t der_len, int64_t now);

/* All decisions, oldest first, as a JSON array of objects (no response
 * bodies). Caller decrefs. */
int sp_store_list(sp_store *s, json_t **out);

#endif
