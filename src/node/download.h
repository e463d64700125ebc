/*
 * download.h — the node's SM-DP+ role in the companion's download (SGP.22
 * ES9+; patent S14/S15/S17): the business of each ES9+ function, without
 * HTTP. api_es9.c turns the JSON into these calls and the results into ES9+
 * answers.
 *
 *   download_initiate      initiateAuthentication: opens a session for a
 *                          downloadable share, serverSigned1 signed by the node
 *   download_authenticate  authenticateClient: the SE's certificate chains
 *                          CI -> EUM -> eUICC, its EID is permitted by the EUM
 *                          and is the share's, euiccSignature1 verifies and
 *                          euiccSigned1 carries this session's challenge
 *   download_package       getBoundProfilePackage: euiccSignature2 verifies,
 *                          the package is bound to the SE's one-time key and
 *                          the share is delivered (share_deliver)
 *   download_notification  handleNotification: an SE-signed install / delete /
 *                          enable notification drives S15 / S17
 *   download_cancel        cancelSession: a session the companion gave up; one
 *                          whose package was sent means the SE did not load it
 *
 * Refusals return a negative TS_E* code and fill download_why with the
 * SGP.22 subject / reason codes and a message.
 */
#ifndef TS_NODE_DOWNLOAD_H
#define TS_NODE_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/es10dl.h"
#include "lib/rsp.h"
#include "node/es9_status.h"
#include "node/share.h"
#include "node/store.h"

/* Open ES9+ sessions kept per share: a new one replaces the oldest. */
#define DOWNLOAD_TX_PER_SHARE 4
/* Wrong confirmation codes a share tolerates; the last one ends it. */
#define DOWNLOAD_CC_ATTEMPTS 3

typedef struct download_svc {
	const share_svc *share;     /* borrowed */
	const char *address;        /* serverAddress: the bare SM-DP+ address, no scheme (borrowed) */
	/* SGP.22 4.5.2: two CI-issued SM-DP+ certificates (all borrowed). */
	EVP_PKEY *dpauth_key;       /* DPauth: signs serverSigned1 */
	const uint8_t *dpauth_cert_der; /* CERT.DPauth.ECDSA, serverCertificate */
	size_t dpauth_cert_der_len;
	EVP_PKEY *dppb_key;         /* DPpb: signs smdpSigned2 and the bound package */
	const uint8_t *dppb_cert_der;   /* CERT.DPpb.ECDSA, smdpCertificate */
	size_t dppb_cert_der_len;
	X509 *ci;                   /* trusted CI root (borrowed) */
	char address_buf[ES10_ADDR_MAX + 1]; /* storage address may point to */
	const char *peer;           /* the caller's address (sessions without a matchingId), or NULL */
} download_svc;

/* share_id of a session opened without a matchingId, followed by the peer. */
#define DOWNLOAD_UNBOUND_PREFIX "es9:"
/* 1 if tid is a session initiateAuthentication opened without a matchingId
 * and not yet authenticated, 0 if not, < 0 when the store could not tell
 * (busy: never taken for "not unbound"). */
int download_tx_unbound(store *st, const char *tid);

typedef struct download_why {
	es9_status status;   /* the refusal (node/es9_status.h) */
	const char *subject; /* its subjectCode (es9_status_code), static */
	const char *reason;  /* its reasonCode, static */
	char subject_id[80]; /* subjectIdentifier, "" if none */
	char msg[512];
} download_why;

/* Fills why with status, its codes and the message; logs it; returns rc.
 * The one way every ES9+ / ES11 business function refuses. */
int download_refuse(download_why *why, int rc, es9_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A fresh serverSigned1 (random transactionId of 16 bytes and
 * serverChallenge, serverAddress = d->address) and its serverSignature1. */
int download_server_signed1(const download_svc *d, const uint8_t euicc_challenge[RSP_CHALLENGE_LEN],
    es10_server_signed1 *ss, uint8_t **s1, size_t *s1_len, uint8_t sig1[64]);

/* The bare SM-DP+ address SGP.22 signs (serverAddress): url without its
 * scheme and trailing '/'. */
int download_bare_address(const char *url, char *out, size_t cap);

/* initiateAuthentication. matching_id NULL (SGP.22: it comes later, in
 * ctxParams1) or a downloadable share's (tapshare's companion). smdp_address:
 * the address the LPA used, ours (8.8.1 / 3.8 otherwise); info1: the eUICC's
 * (download_check_info1; NULL skips it — only tests and the stream's own
 * initiation). out_tid: hex transactionId; *s1: serverSigned1 DER (caller
 * frees); sig1: serverSignature1. */
int download_initiate(const download_svc *d, store *st, const char *matching_id, const char *smdp_address,
    const es10_euicc_info1 *info1, const uint8_t euicc_challenge[RSP_CHALLENGE_LEN],
    char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1, size_t *s1_len, uint8_t sig1[64], download_why *why);

/* The eUICC's EUICCInfo1 against this server (§5.6.1 / §5.8.1): SGP.22 v2 or
 * later (8.8.3 / 3.1), the CI of our certificates in its
 * euiccCiPKIdListForVerification (8.8.4 / 3.7) and ForSigning (8.8.2 / 3.1);
 * that CI's key identifier is then euiccCiPKIdToBeUsed. smds: the SM-DS's
 * codes (8.9.3, 8.9.4, 8.9.2) for ES11. */
int download_check_info1(const download_svc *d, const es10_euicc_info1 *info1, int smds, download_why *why);

/* authenticateClient. Outputs (caller frees *md, *s2): profileMetadata DER,
 * smdpSigned2 DER, smdpSignature2. */
int download_authenticate(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    uint8_t **md, size_t *md_len, uint8_t **s2, size_t *s2_len, uint8_t sig2[64], download_why *why);

/* getBoundProfilePackage. *bpp: the bound package (caller cleanses and frees). */
int download_package(const download_svc *d, store *st, const char *tid, const uint8_t *pdr, size_t pdr_len,
    uint8_t **bpp, size_t *bpp_len, download_why *why);

/* handleNotification: nb is one SGP.22 PendingNotification, checked by
 * notification_check (node/notification.h: BF37 install result -> S15,
 * OtherSignedNotification delete -> S17, enable -> bank-ID certified).
 * app_key (PKI_PUBKEY_LEN bytes or NULL, borrowed): a bank-ID app's public
 * key sent with its install result; it must be a P-256 point. 0 also for a
 * notification about something unknown (acknowledged so that the SE stops
 * resending it). */
int download_notification(const download_svc *d, store *st, const uint8_t *nb, size_t nb_len,
    const uint8_t *app_key, download_why *why);

/* cancelSession (§5.6.5): csr is the eUICC's CancelSessionResponse (BF41),
 * verified with the eUICC key of session tid (8.1 / 6.1), smdpOid ours
 * (8.8 / 3.10), its signed transactionId tid's (8.10.1 / 3.9). Then the
 * session ends; a package that was sent and refused (loadBppExecutionError),
 * or whose share has ended, fails the share (the provider is told). */
int download_cancel(const download_svc *d, store *st, const char *tid, const uint8_t *csr, size_t csr_len,
    download_why *why);

/* The SE's identity in an AuthenticateServer response: chain CI -> EUM ->
 * eUICC, the EID permitted by the EUM and equal to want_eid (NULL: any EID,
 * as ES11 where the certificate tells it). *pub: the eUICC key (caller
 * frees). A refusal fills why: 8.11.1 CI unknown, 8.1.2 EUM, 8.1.3 eUICC
 * certificate (6.1 / 6.3 expired), 8.1.1 another EID. Also used by
 * stream_auth.c and smds.c. */
int download_verify_euicc(const download_svc *d, const es10_auth_server_resp *a, const char *want_eid,
    EVP_PKEY **pub, download_why *why);

#endif
