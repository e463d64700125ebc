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
 * certifyKey refusals (HTTP 200, recorded with decision "denied"):
 *   8.1 / 3.9   associatedAppId unknown (not minted by this provider)
 *   8.1 / 3.8   associatedAppId is not a bankid credential
 *   8.1 / 2.1   EID malformed (check digits), or publicKey not a valid P-256
 *               point (65-byte X9.62 uncompressed; base64) — see the message
 *   8.1 / 3.10  EID is not the companion the credential was minted for
 *   8.1 / 3.7   the associated app was cancelled (cancelOrder seen)
 *   8.1 / 6.3   the grant's notAfter has passed
 *   8.1 / 3.3   another key is already certified for the associated app
 */
#ifndef TS_SP_SP_H
#define TS_SP_SP_H

#include <stdint.h>

#include <jansson.h>

#include "sp/policy.h"
#include "sp/sp_ca.h"
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
/* handleDownloadProgressInfo (ES2+; SGP.22 §5.6.5 step 1, protocol.md §5):
 * the node's notice that a download was cancelled and the share kept. Always
 * Executed-Success for a well-formed request (associatedAppId and
 * notificationPointId required), recorded with decision "noted" and the
 * reason "cancelSession REASON at notification point N"; nothing changes. */
int sp_download_progress(sp_store *s, const json_t *req, const char *peer_id, int64_t now,
    int *status, json_t **resp);

/* certifyKey (tapshare extension, protocol.md §5): certifies the P-256 key
 * a companion's secure element generated for a bankid credential this
 * provider minted, under the account of the primary's app (ca issues;
 * sp_ca.h). Success: Executed-Success with "certificate" (base64 DER),
 * recorded with decision "certified". The same key for the same app gets
 * the stored certificate again (new call ids too). Returns as
 * sp_confirm_order. */
int sp_certify_key(sp_store *s, const sp_ca *ca, const json_t *req, const char *peer_id,
    int64_t now, int *status, json_t **resp);

#endif
