/*
 * notification.h — what the node (SM-DP+ role) makes of an SGP.22
 * PendingNotification that a companion's LPA forwards with ES9+
 * handleNotification: decoded through lib/es10.h, verified with the eUICC's
 * key over exactly the bytes SGP.22 names, and tied to the share it is about.
 *
 *   ProfileInstallationResult (BF37): euiccSignPIR over the BF27 TLV
 *     (profileInstallationResultData), verified with the key of the eUICC
 *     certificate the download session authenticated (store_tx.euicc_pub);
 *     the share is the session's (its transactionId), and the ICCID in the
 *     notification metadata must be the one tapshare gives the share's app
 *     (es10_iccid_for_app). S15.
 *   OtherSignedNotification (30): euiccNotificationSignature over the BF2F
 *     TLV (tbsOtherNotification), verified with the eUICC certificate it
 *     carries, which must chain CI -> EUM -> eUICC, hold an EID the EUM
 *     permits, and carry the key this node authenticated for that EID at
 *     download (companion_pub). For a delete (S17) or enable (bank-ID
 *     credential enabled) event, the share is the one of that EID with a
 *     pending command (delete, certificate) for the app with that ICCID,
 *     else (an LPA deleted the profile on its own: expiry, its user) the
 *     EID's newest share of that app; the share state machine decides what
 *     the event changes.
 *
 * The caller applies the verdict to the share state machine.
 */
#ifndef TS_NODE_NOTIFICATION_H
#define TS_NODE_NOTIFICATION_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "lib/es10.h"
#include "node/es9_status.h"
#include "node/store.h"

typedef struct node_notification {
	uint32_t event;              /* ES10_EVENT_* */
	uint64_t seq;
	char eid[33];
	char iccid[ES10_ICCID_DIGITS_MAX + 1];
	int has_share;               /* 0: not about a share this node is settling */
	char share_id[STORE_ID_MAX];
	int success;                 /* install: successResult */
	int bpp_command_id, error_reason; /* install: errorResult */
	/* ES9+ refusal, when notification_check fails */
	es9_status status;           /* the refusal (node/es9_status.h) */
	char msg[300];
} node_notification;

/*
 * Checks der (one PendingNotification, borrowed) against the store and the
 * trusted CI root ci (borrowed). 0: verified, *out filled (has_share 0 when
 * it is about nothing this node settles: acknowledge it so the eUICC drops
 * it). Errors, with out->status / msg set: TS_EPARSE (does not decode:
 * ES9_INVALID), TS_EVERIFY (signature, certificate chain, EID or key not the
 * one authenticated, ICCID not the session's app: ES9_EUICC_VERIFY),
 * TS_ENOTFOUND (unknown transactionId: ES9_TID_UNKNOWN), TS_EDB (store).
 */
int notification_check(store *st, X509 *ci, const uint8_t *der, size_t len, node_notification *out);

#endif
