/*
 * sp_store.h — tapshare-sp's record of every decision (SQLite, WAL).
 *
 * Table decisions: one row per ES2+ call, keyed by its functionCallIdentifier
 * (UNIQUE), holding the exact response body returned, so a repeated call
 * gets the recorded answer back unchanged. The response may contain minted
 * secrets (Ki, tokens): the database file is created with mode 0600 and
 * sp_store_list never returns responses.
 */
#ifndef TS_SP_STORE_H
#define TS_SP_STORE_H

#include <stdint.h>

#include <jansson.h>

typedef struct sp_store sp_store;

/* Opens (creating and migrating) the database at path. */
int sp_store_open(const char *path, sp_store **out);
void sp_store_close(sp_store *s); /* NULL ok */

/* One decision (strings borrowed; NULL allowed except function, fci,
 * decision, response). */
typedef struct sp_record {
	int64_t created_at;
	const char *function;          /* "confirmOrder" | "cancelOrder" */
	const char *fci;               /* functionCallIdentifier */
	const char *requester;         /* functionRequesterIdentifier */
	const char *peer_id;           /* client certificate's key id */
	const char *eid;
	const char *app_id;
	const char *share_id;
	const char *user_id;
	const char *decision;          /* "approved" | "denied" | "cancelled" */
	const char *kind;
	const char *associated_app_id;
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
/* All decisions, oldest first, as a JSON array of objects (no response
 * bodies). Caller decrefs. */
int sp_store_list(sp_store *s, json_t **out);

#endif
