/*
 * rsp.h — the signed structures exchanged between the node (SM-DP+ role), the
 * companion (LPA role) and the secure element (eUICC role), shaped like
 * GSMA SGP.22 ES9+/ES10b. Every encoding the download uses lives here, so that
 * moving to exact SGP.22 ASN.1 later stays local to this module.
 *
 * All structures are DER (lib/der.h). Signatures are tag 5F37, 64 bytes raw
 * r||s, ECDSA P-256 with SHA-256 (pki_sign / pki_verify). Byte layouts are
 * documented in docs/protocol.md §"Secure element and download structures".
 *
 *   (The SGP.22 download structures, serverSigned1 .. PrepareDownload, are
 *   in lib/es10dl.h.)
 *   notification    BF2F { 30 { 80 seq 81 event 82 appId 5A eid(16) 83 transactionId(opt) 84 result 85 appKey(opt) } 5F37 sig }
 *   metadata        SGP.22 StoreMetadataRequest (§5.5.3):
 *     BF25 { 5A iccid | 91 serviceProviderName (<= 32 bytes) | 92 profileName (<= 64) |
 *            [93 iconType 94 icon] | [95 profileClass, DEFAULT operational: omitted] |
 *            [B6 notificationConfigurationInfo { 30 { 80 02 04 F0 (install, enable,
 *                disable, delete) 81 notificationAddress } }] | [B7 profileOwner] |
 *            [99 profilePolicyRules] |
 *            [BF22 serviceSpecificDataStoredInEuicc { 30 { 80 vendorOid (tapshare,
 *                RSP_VENDOR_OID) A1 { 30 { 80 appId 81 kind 82 notAfter (unix s,
 *                0 = none) 83 provider [84 name, when longer than profileName] } } } }] }
 *     BF22 is SGP.22 v3's VendorSpecificExtension field; in v2.x's module
 *     (EXTENSIBILITY IMPLIED) it is an extension addition that an eUICC or LPA
 *     which does not know it passes over (docs/protocol.md).
 *
 * Decoders are pure, bounded, reject trailing bytes; strings they return are
 * copied into the fixed fields of the caller's struct.
 */
#ifndef TS_RSP_H
#define TS_RSP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/eid.h"
#include "lib/pki.h"

#define RSP_TID_LEN 16
#define RSP_CHALLENGE_LEN 16
#define RSP_STR_MAX 128

enum rsp_event {
	RSP_EVENT_INSTALL = 0,
	RSP_EVENT_ENABLE = 1,
	RSP_EVENT_DISABLE = 2,
	RSP_EVENT_DELETE = 3,
};

/* tapshare's vendorOid in BF22: its UUID OID 2.25.304425556114199038474308786512682805467
 * (the issuer OID of its profile-package PE too), DER content octets. */
#define RSP_VENDOR_OID "\x69\x83\xCA\x86\x9D\xAF\x89\xC6\xDA\x8A\x9F\xA3\xD3\xD0\xDD\x9F\x8E\xAF\xD1\x5B"
#define RSP_VENDOR_OID_LEN 20
#define RSP_ADDR_MAX 255
#define RSP_SPN_MAX 32       /* serviceProviderName */
#define RSP_PNAME_MAX 64     /* profileName */

enum rsp_profile_class {
	RSP_PCLASS_OPERATIONAL = 0, /* the DEFAULT: not encoded */
	RSP_PCLASS_TEST = 1,
	RSP_PCLASS_PROVISIONING = 2,
};

typedef struct rsp_metadata {
	char app_id[RSP_STR_MAX + 1];
	char name[RSP_STR_MAX + 1];
	char kind[32];               /* "sim", "bankid", "service" */
	char provider[RSP_STR_MAX + 1];
	int64_t not_after;           /* unix seconds, 0 = no limit */
	/* The profile's ICCID when the SM-DP+ assigns it (a SIM share: the
	 * provider's ICCID, EF-ICCID coding), optional tag 5A after not_after;
	 * absent = tapshare-se derives one (es10_iccid_for_app). */
	int has_iccid;               /* encode requires it (iccid is mandatory in BF25) */
	uint8_t iccid[10];
	/* B6: every event's notifications to this address; "" = no B6. */
	char notif_address[RSP_ADDR_MAX + 1];
	int profile_class;           /* enum rsp_profile_class */
	/* decode only */
	uint8_t ppr;                 /* profilePolicyRules bits (pprUpdateControl 0x80, ppr1 0x40, ppr2 0x20) */
	int has_vendor;              /* BF22 carried tapshare's data (app_id, kind, ...) */
} rsp_metadata;

typedef struct rsp_notification {
	uint64_t seq;
	int event;                   /* enum rsp_event */
	char app_id[RSP_STR_MAX + 1];
	eid_t eid;
	int has_tid;
	uint8_t transaction_id[RSP_TID_LEN];
	int result;                  /* 0 success, else an SE error code */
	/* Bank-ID-style apps: the public half of the key pair the SE generated for
	 * the app at install (tag 85, after the result); the private half never
	 * leaves the SE. */
	int has_app_key;
	uint8_t app_key[PKI_PUBKEY_LEN];
} rsp_notification;

/* Encoders: caller frees *out. Decoders: parse exactly one structure.
 * rsp_metadata_encode: name and provider are cut to profileName /
 * serviceProviderName at a UTF-8 boundary (the whole name travels in BF22).
 * rsp_metadata_decode: strict DER for every element it knows, unknown
 * extension additions skipped; without tapshare's BF22 item, has_vendor = 0,
 * name / provider come from 92 / 91 and app_id / kind stay "". */
int rsp_metadata_encode(const rsp_metadata *m, uint8_t **out, size_t *len);
int rsp_metadata_decode(const uint8_t *buf, size_t len, rsp_metadata *m);

/* Notification: the signed BF2F. encode signs with key; decode parses and,
 * if pub != NULL, verifies the signature (TS_EVERIFY). */
int rsp_notification_sign(const rsp_notification *n, EVP_PKEY *key, uint8_t **out, size_t *len);
int rsp_notification_decode(const uint8_t *buf, size_t len, EVP_PKEY *pub, rsp_notification *n);

/*
 * Share offer (patent claims 20/33, companion-initiated sharing): what the
 * primary hands the companion over the short-range link, signed with the
 * primary's device key:
 *   BF70 { 30 { 80 appId 81 deviceId (64 hex) 82 expiresAt (unix s) 83 nonce(16)
 *               [84 eid (32 digits)] }
 *          5F37 signature (over the 30 TLV)  30 device certificate (X.509 DER) }
 * eid: the companion's EID the primary read over the link before signing
 * (issue 8): the node redeems the offer only for that EID, so an offer
 * intercepted on the link is of no use for another device. Optional in the
 * encoding (absent = unbound); the node refuses unbound offers.
 * The node checks the certificate (issued by its CA, key hash == deviceId),
 * the signature, the expiry, the EID and that the nonce was never used.
 */
#define RSP_OFFER_NONCE_LEN 16

typedef struct rsp_offer {
	char app_id[RSP_STR_MAX + 1];
	char device_id[65];
	int64_t expires_at;
	uint8_t nonce[RSP_OFFER_NONCE_LEN];
	char eid[33];         /* "" = unbound (no 84 TLV) */
	/* decode only: borrowed pointer to the certificate DER inside the buffer */
	const uint8_t *cert; size_t cert_len;
} rsp_offer;

/* Signs with key; cert_der is the signer's certificate (copied in). */
int rsp_offer_sign(const rsp_offer *o, EVP_PKEY *key, const uint8_t *cert_der, size_t cert_len,
    uint8_t **out, size_t *len);
/* Parses and verifies the signature against the certificate it carries
 * (TS_EVERIFY); whether that certificate is trusted is the caller's check. */
int rsp_offer_decode(const uint8_t *buf, size_t len, rsp_offer *o);

#endif
