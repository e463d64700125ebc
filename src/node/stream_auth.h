/*
 * stream_auth.h — the companion proves its secure element before the node
 * opens its event stream (GET /v1/companion/events), which carries share ids
 * and matchingIds (issue 8). The proof is the ES9+ mutual authentication the
 * download already uses, without a share:
 *
 *   POST /v1/companion/stream/initiate     {eid, euiccChallenge}
 *        -> transactionId, serverSigned1, serverSignature1, serverCertificate
 *   (the companion's SE runs ES10b AuthenticateServer with matchingId
 *    STREAM_AUTH_MATCHING_ID: it signs euiccSigned1 with the eUICC key)
 *   POST /v1/companion/stream/authenticate {transactionId, authenticateServerResponse}
 *        -> streamToken, expiresIn
 *   GET  /v1/companion/events?eid=EID      Authorization: Bearer <streamToken>
 *
 * The node checks the chain CI -> EUM -> eUICC, that the certificate's EID
 * is the claimed one and permitted by the EUM, euiccSignature1, and that
 * euiccSigned1 carries this session's transactionId, serverChallenge, the
 * node's address and the stream matchingId (so a download's signature is not
 * a stream proof and the reverse). The token is stored hashed, bound to the
 * EID, lives STREAM_TOKEN_TTL_S and serves any number of reconnects in that
 * time. Sessions are rows of es9_tx keyed to the peer ("stream:<addr>"),
 * trimmed like a share's, so a peer holds at most DOWNLOAD_TX_PER_SHARE.
 */
#ifndef TS_NODE_STREAM_AUTH_H
#define TS_NODE_STREAM_AUTH_H

#include "node/download.h"

#define STREAM_AUTH_MATCHING_ID "tapshare-event-stream"
#define STREAM_TOKEN_TTL_S 900

/* Opens a session for the claimed EID (format and EUM prefix checked). */
int stream_auth_initiate(const download_svc *d, store *st, const char *peer, const char *eid_s,
    const uint8_t euicc_challenge[RSP_CHALLENGE_LEN], char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1,
    size_t *s1_len, uint8_t sig1[64], download_why *why);
/* Verifies the SE's answer and issues the token (hex, 64 chars). The session
 * is used up either way. */
int stream_auth_complete(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    char token[65], download_why *why);
/* 0 if bearer is a live stream token of eid, TS_EAUTH if not, another
 * error when the store could not tell (busy: no verdict on the token). */
int stream_auth_check(store *st, const char *eid, const char *bearer);

#endif
