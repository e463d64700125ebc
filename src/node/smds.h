/*
 * smds.h — the node as the SM-DS of its own shares (SGP.22 ES11, issue 7):
 * a standard LPA that discovers with its eUICC finds each share waiting for
 * it (authorised, S13) as an event entry {eventId = the share's matchingId,
 * rspServerAddress = this node}, then downloads over ES9+ with that
 * matchingId. The companion's push stream stays the fast path.
 *
 *   ES11.InitiateAuthentication {euiccChallenge, euiccInfo1, smdsAddress}
 *        -> transactionId, serverSigned1, serverSignature1, serverCertificate
 *   (the LPA's eUICC runs ES10b AuthenticateServer: euiccSigned1 signed)
 *   ES11.AuthenticateClient {transactionId, authenticateServerResponse}
 *        -> eventEntries [{eventId, rspServerAddress}]
 *
 * The eUICC is verified exactly as for ES9+ (download_verify_euicc: chain
 * CI -> EUM -> eUICC, roles, the EUM's nameConstraints and the EID in them)
 * plus euiccSignature1 and this session's transactionId, serverChallenge
 * and server address in euiccSigned1; the EID is the certificate's. Event
 * registrations are store rows (smds_event_put/del), kept by share.c.
 * Deviation: serverSigned1 is signed with the node's DPauth key (the node
 * has no separate SM-DS DSauth certificate; the eUICC accepts either role).
 * Sessions are es9_tx rows keyed to the peer ("smds:<addr>"), trimmed like a
 * share's, each usable once.
 */
#ifndef TS_NODE_SMDS_H
#define TS_NODE_SMDS_H

#include "node/download.h"

#define SMDS_EVENTS_MAX 32 /* event entries in one answer */

/* The address without scheme and trailing '/': "https://h:1/" -> "h:1"
 * (SGP.22 FQDN form, as in activation codes and rspServerAddress). */
int smds_bare_address(const char *address, char *out, size_t cap);

/* InitiateAuthentication. smds_address: the request's (NULL/"" = not
 * given); refused when it is not this node's. */
int smds_initiate(const download_svc *d, store *st, const char *peer, const char *smds_address,
    const uint8_t euicc_challenge[RSP_CHALLENGE_LEN], char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1,
    size_t *s1_len, uint8_t sig1[64], download_why *why);

/* AuthenticateClient: on success event_ids[0..*n) are the eUICC's events and
 * eid its EID. The session is used up either way. */
int smds_authenticate(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    char eid[33], char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n, download_why *why);

/* The same on the ES9+ path (SGP.22 deployments and LPAs such as lpac send
 * ES11 to the /gsma/rsp2/es9plus/ paths): a session ES9+ initiateAuthentication opened
 * without a matchingId, whose eUICC-signed ctxParams1 names none either
 * (smds_discovery_request). */
int smds_authenticate_es9(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    char eid[33], char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n, download_why *why);
/* 1 if asr is an AuthenticateServerResponse whose ctxParams1 carries no
 * matchingId (an event discovery), else 0. */
int smds_discovery_request(const uint8_t *asr, size_t asr_len);

#endif
