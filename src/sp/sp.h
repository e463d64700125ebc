/*
 * sp.h — tapshare-sp's ES2+-shaped functions (docs/protocol.md §5) as pure
 * JSON-in / JSON-out handlers over a policy and a decision store. No sockets
 * here; sp_http.c puts them behind HTTPS.
 *
 * Status codes used in statusCodeData (subjectCode / reasonCode):
 *   8.1 / 3.8   refused by policy (protocol.md)
 *   8.1 / 2.1   EID malformed or check digits wrong
 *   1.2 / 2.2   mandatory element missing or malformed (HTTP 400, not recorded)
 *   1.2 / 3.3   functionCallIdentifier reused for another function (HTTP 409)
 */
#ifndef TS_SP_SP_H
#define TS_SP_SP_H

#include <stdint.h>

#include <jansson.h>

#include "sp/policy.h"
#include "sp/sp_store.h"

#define SP_FCI_MAX 128
#define SP_TEXT_MAX 128

/* confirmOrder (S13). req is borrowed; peer_id (client key id) may be NULL.
 * On 0, *status is the HTTP status and *resp the body (caller decrefs).
 * A negative return is an internal failure (caller answers 500); nothing
 * was recorded then, so the node's retry is safe. */
int sp_confirm_order(sp_policy *p, sp_store *s, const json_t *req, const char *peer_id,
    int64_t now, int *status, json_t **resp);
/* cancelOrder (S16): always Executed-Success for a well-formed request,
 * recorded (with "unknown associatedAppId" when nothing was minted for it). */
int sp_cancel_order(sp_store *s, const json_t *req, const char *peer_id, int64_t now,
    int *status, json_t **resp);

#endif
