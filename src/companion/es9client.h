/*
 * es9client.h — the companion's side of the ES9+-shaped download protocol
 * (docs/protocol.md §3; GSMA SGP.22 ES9+, LPA <-> SM-DP+ role).
 *
 * Every step has a pure request builder (-> a new jansson object, caller
 * decrefs) and a pure response parser (JSON -> caller-owned C struct) so the
 * encodings are unit-testable without a network or a secure element. The
 * only I/O is es9_post(), which sends one request through a ts_httpc.
 *
 * Responses are checked in one place (es9_check_status): the HTTP status,
 * header.functionExecutionStatus.status == "Executed-Success", and on
 * "Failed" the statusCodeData {subjectCode, reasonCode, message} is turned
 * into a readable error. Parsers reject missing or malformed fields with
 * TS_EPROTO and say which field in errbuf.
 */
#ifndef TS_ES9CLIENT_H
#define TS_ES9CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/httpc.h"
#include "lib/pki.h"
#include "lib/es10dl.h"
#include "lib/rsp.h"

#define ES9_ADMIN_PROTOCOL "gsma/rsp/v2.5.0"
#define ES9_PATH "/gsma/rsp2/es9plus/"
#define ES9_TID_HEX_MAX 64 /* transactionId hex, as the node sends it */

/*
 * Checks one ES9+ response. http_status is the HTTP status, resp the parsed
 * body (borrowed, NULL when the body was empty).
 *  - 204 with no body: success when allow_empty (handleNotification,
 *    cancelSession), else TS_EPROTO.
 *  - 2xx with header.functionExecutionStatus.status "Executed-Success": 0.
 *  - status "Failed": TS_EDENIED, errbuf "Failed: subjectCode S reasonCode R: message".
 *  - a tapshare error body {"error":{"code","message"}} (any status): TS_EPROTO,
 *    errbuf "HTTP 404 code: message".
 *  - anything else: TS_EPROTO.
 */
int es9_check_status(long http_status, const json_t *resp, int allow_empty,
    char *errbuf, size_t errcap);

/* initiateAuthentication {euiccChallenge, euiccInfo1, smdpAddress[, matchingId]}
 * (SGP.22 §5.6.1; euiccInfo1: the eUICC's EUICCInfo1 TLV as it answered
 * GetEuiccInfo1, se_get_euicc_info1_raw). matching_id NULL: a standard LPA
 * (the matching ID travels in ctxParams1 only); tapshare's companion names it
 * here too. */
int es9_initiate_auth_request(const uint8_t challenge[RSP_CHALLENGE_LEN], const uint8_t *euicc_info1,
    size_t euicc_info1_len, const char *smdp_address, const char *matching_id, json_t **out);

/* initiateAuthentication response. Buffers are malloc'ed; es9_auth1_clear
 * frees them. */
typedef struct es9_auth1 {
	char transaction_id[ES9_TID_HEX_MAX + 1]; /* hex, as received */
	uint8_t *server_signed1; size_t server_signed1_len;
	uint8_t server_signature1[PKI_SIG_LEN];
	uint8_t *server_cert; size_t server_cert_len;
	/* euiccCiPKIdToBeUsed (value of the 04 TLV); 0 = absent, then the
	 * server certificate's authorityKeyIdentifier is used. */
	uint8_t ci_pkid[ES10_PKID_MAX]; size_t ci_pkid_len;
} es9_auth1;

/* Parses a successful response (status already checked). Requires
 * transactionId (hex, 2..64 chars), serverSigned1, serverSignature1 (the 5F37
 * data object, 64 bytes r||s), optional euiccCiPKIdToBeUsed (04 TLV), and
 * bytes), serverCertificate. TS_EPROTO with the field in errbuf. */
int es9_initiate_auth_parse(const json_t *resp, es9_auth1 *out, char *errbuf, size_t errcap);
void es9_auth1_clear(es9_auth1 *a); /* NULL ok; safe on a zeroed struct */

/* The LPA's own checks on serverSigned1 before handing it to the SE:
 * it decodes, its transactionId equals the JSON transactionId, it echoes our
 * euiccChallenge and names the SM-DP+ address we asked for. TS_EVERIFY (or
 * TS_EPARSE when it does not decode) with the reason in errbuf. */
int es9_check_server_signed1(const es9_auth1 *a, const uint8_t challenge[RSP_CHALLENGE_LEN],
    const char *smdp_address, char *errbuf, size_t errcap);

/* authenticateClient {transactionId, authenticateServerResponse}. bf38 is the
 * SE's whole AuthenticateServer response. */
int es9_authenticate_client_request(const char *transaction_id, const uint8_t *bf38,
    size_t bf38_len, json_t **out);

typedef struct es9_auth2 {
	int has_metadata;
	rsp_metadata metadata; /* decoded profileMetadata when has_metadata */
	uint8_t *smdp_signed2; size_t smdp_signed2_len;
	uint8_t smdp_signature2[PKI_SIG_LEN];
	uint8_t *smdp_cert; size_t smdp_cert_len;
} es9_auth2;

/* Requires smdpSigned2, smdpSignature2 (5F37 data object), smdpCertificate;
 * profileMetadata is optional but, when present, must decode (E3). */
int es9_authenticate_client_parse(const json_t *resp, es9_auth2 *out, char *errbuf, size_t errcap);
void es9_auth2_clear(es9_auth2 *a); /* NULL ok */

/* getBoundProfilePackage {transactionId, prepareDownloadResponse}. */
int es9_get_bpp_request(const char *transaction_id, const uint8_t *bf21, size_t bf21_len,
    json_t **out);
/* Requires boundProfilePackage; *bpp is malloc'ed, caller frees. */
int es9_get_bpp_parse(const json_t *resp, uint8_t **bpp, size_t *bpp_len,
    char *errbuf, size_t errcap);

/* handleNotification {pendingNotification}. */
int es9_handle_notification_request(const uint8_t *notif, size_t len, json_t **out);

/* cancelSession {transactionId, cancelSessionResponse} (SGP.22 §5.6.5): csr is
 * the eUICC's signed CancelSessionResponse (BF41, se_cancel_session). */
int es9_cancel_session_request(const char *transaction_id, const uint8_t *csr, size_t csr_len, json_t **out);

/* The base URL an LPA dials for an SM-DP+ address (SGP.22 §5.6.1: the LPA
 * opens ES9+ to the smdpAddress it was given, and sends it in
 * initiateAuthentication): a bare address ("smdp.example.org[:port]") gets
 * "https://"; one that already names https:// is kept as it is (tapshare's
 * nodes name their `[node] address`, a URL). TS_EINVAL for an empty
 * address, another scheme (ES9+ is HTTPS only), a character outside
 * printable ASCII or a space, a userinfo ('@'), a query or a fragment;
 * TS_ELIMIT when it does not fit in cap. */
int es9_server_base(const char *smdp_address, char *out, size_t cap);

/* Joins base (e.g. "https://127.0.0.1:8443", trailing '/' tolerated) with
 * ES9_PATH and function into out. TS_ELIMIT when it does not fit. */
int es9_url(const char *base, const char *function, char *out, size_t cap);

/*
 * Sends POST base/gsma/rsp2/es9plus/<function> with X-Admin-Protocol and the
 * JSON body (borrowed), then es9_check_status. *resp (may be NULL to discard)
 * receives the body; caller decrefs. TS_ENET on a transport error.
 */
int es9_post(ts_httpc *c, const char *base, const char *function, json_t *body,
    int allow_empty, json_t **resp, char *errbuf, size_t errcap);

/*
 * The event stream's token (issue 8; node: src/node/stream_auth.h): the SE
 * proves its EID to the node at base without a share. GetEuiccChallenge,
 * POST base/v1/companion/stream/initiate {eid, euiccChallenge}, the LPA's
 * checks on serverSigned1 (its serverAddress must be base), AuthenticateServer
 * with matchingId PUSH_STREAM_MATCHING_ID, POST .../stream/authenticate
 * {transactionId, authenticateServerResponse} -> token (64 hex) and its
 * lifetime. se is borrowed (struct se_driver, device/se_driver.h).
 */
struct se_driver;
int es9_stream_auth(ts_httpc *c, struct se_driver *se, const char *base, const char *eid, char token[65],
    long *expires_in, char *errbuf, size_t errcap);

#endif
