/*
 * credapplet.h — the tapshare credential applet: what the secure element
 * holds for an installed app beyond its SGP.22 profile (the tapshare
 * metadata, a bank-ID app's key pair and the provider's certificate for it),
 * served by an applet of its own beside the ISD-R, so that the ISD-R speaks
 * pure SGP.22. Command and response encodings shared by the applet
 * (src/se/credapplet.c) and its client (src/device/se_client.c).
 * docs/protocol.md §"Credential applet" is the prose version of this header.
 *
 * AID  F0 74 61 70 73 68 61 72 65 01
 *      ISO/IEC 7816-5 category 'F' (proprietary, unregistered RID): RID
 *      F0 74 61 70 73 ("F0" + "taps"), PIX 68 61 72 65 ("hare") + 01 (version).
 *      SELECT: 00 A4 04 00|0C Lc AID [Le] -> 6F { 84 AID } 9000 (P2 00).
 *      Selectable on any open logical channel; selecting it deselects the
 *      ISD-R on that channel and the other way round.
 *
 * Commands: CLA 80 (ORed with the channel as in ISO 7816-4), data and
 * responses BER-TLV; short or extended APDUs; long responses by 61xx +
 * GET RESPONSE like every other command of the card.
 *
 *   INS 10 LIST CREDENTIALS     P1 P2 00 00, no data
 *        -> E0 { E1 entry ... }                                    9000
 *   INS 12 GET CREDENTIAL       P1 P2 00 00, data 5A iccid(10)
 *        -> E1 entry                                               9000 | 6A88
 *   INS 20 GENERATE KEY         P1 P2 00 00, data 5A iccid(10)
 *        -> E2 { 5A iccid, 86 public key (65, X9.62 uncompressed P-256) } 9000
 *        The app's key pair is generated on the first call (the SE also
 *        generates it when a bank-ID app is installed) and kept; later calls
 *        return the same public key until a certificate is stored (then
 *        6985). The private key never leaves the SE. 6A88 unknown ICCID,
 *        6985 not a bank-ID app or already certified.
 *   INS 22 STORE CERTIFICATE    P1 P2 00 00, data 5A iccid(10) 30 certificate (X.509 DER)
 *        -> no data                                                9000
 *        Stores the provider's certificate for the app's key; it must
 *        certify exactly that public key (6A80 otherwise). Stored once
 *        (6985 when one is stored or no key exists). Storing it makes the
 *        profile enable-able: the LPA then enables it with ES10
 *        EnableProfile, which yields the standard enable notification.
 *   INS 24 READ CERTIFICATE     P1 P2 00 00, data 5A iccid(10)
 *        -> 30 certificate                                         9000 | 6A88 (none)
 *
 *   entry  E1 { 5A iccid(10), 80 appId, 81 name, 82 kind ("sim" | "bankid" |
 *               "service"), 83 provider, 84 notAfter (INTEGER, unix seconds,
 *               0 = none), 85 keyState (INTEGER: 0 no key, 1 key awaiting its
 *               certificate, 2 certified) }
 *   Strings are UTF-8 without NUL: appId 1..CRED_STR_MAX bytes, kind
 *   1..CRED_KIND_MAX, name and provider 0..CRED_STR_MAX.
 *
 * Status words: 9000, 61xx, 6700 (wrong length), 6A80 (wrong data), 6A86
 * (P1/P2 not 00 00), 6A88 (no app with that ICCID / no certificate), 6985
 * (conditions not satisfied), 6D00 (INS), 6E00 (CLA not 80).
 *
 * Decoders are pure and strict: exactly one structure (TS_ETRAILING),
 * elements in the order above, no unknown elements (TS_EPARSE), at most
 * CRED_MAX_ENTRIES entries (TS_ELIMIT). Encoders allocate *out (caller
 * frees with free()).
 */
#ifndef TS_CREDAPPLET_H
#define TS_CREDAPPLET_H

#include <stddef.h>
#include <stdint.h>

#define CRED_AID "\xF0\x74\x61\x70\x73\x68\x61\x72\x65\x01"
#define CRED_AID_LEN 10

#define CRED_CLA 0x80
#define CRED_INS_LIST 0x10
#define CRED_INS_GET 0x12
#define CRED_INS_GENERATE_KEY 0x20
#define CRED_INS_STORE_CERT 0x22
#define CRED_INS_READ_CERT 0x24

#define CRED_ICCID_LEN 10
#define CRED_STR_MAX 128
#define CRED_KIND_MAX 31
#define CRED_PUBKEY_LEN 65
#define CRED_MAX_ENTRIES 64

enum cred_key_state { CRED_KEY_NONE = 0, CRED_KEY_PENDING = 1, CRED_KEY_CERTIFIED = 2 };

typedef struct cred_entry {
	uint8_t iccid[CRED_ICCID_LEN];
	char app_id[CRED_STR_MAX + 1];
	char name[CRED_STR_MAX + 1];
	char kind[CRED_KIND_MAX + 1];
	char provider[CRED_STR_MAX + 1];
	int64_t not_after; /* >= 0 */
	int key_state;     /* enum cred_key_state */
} cred_entry;

/* E1 entry. */
int cred_entry_encode(const cred_entry *e, uint8_t **out, size_t *len);
int cred_entry_decode(const uint8_t *buf, size_t len, cred_entry *e);

/* E0 list. decode: *items is allocated (caller frees with free(); NULL when
 * the list is empty). */
int cred_list_encode(const cred_entry *items, size_t n, uint8_t **out, size_t *len);
int cred_list_decode(const uint8_t *buf, size_t len, cred_entry **items, size_t *n);

/* Command data that is one ICCID: 5A iccid. */
int cred_iccid_encode(const uint8_t iccid[CRED_ICCID_LEN], uint8_t **out, size_t *len);
int cred_iccid_decode(const uint8_t *buf, size_t len, uint8_t iccid[CRED_ICCID_LEN]);

/* GENERATE KEY response: E2 { 5A iccid, 86 point }. */
int cred_key_encode(const uint8_t iccid[CRED_ICCID_LEN], const uint8_t point[CRED_PUBKEY_LEN],
    uint8_t **out, size_t *len);
int cred_key_decode(const uint8_t *buf, size_t len, uint8_t iccid[CRED_ICCID_LEN],
    uint8_t point[CRED_PUBKEY_LEN]);

/* STORE CERTIFICATE data: 5A iccid, 30 certificate. decode: *cert borrows
 * from buf (the whole 30 TLV); only its DER framing is checked here. */
int cred_store_cert_encode(const uint8_t iccid[CRED_ICCID_LEN], const uint8_t *cert, size_t cert_len,
    uint8_t **out, size_t *len);
int cred_store_cert_decode(const uint8_t *buf, size_t len, uint8_t iccid[CRED_ICCID_LEN],
    const uint8_t **cert, size_t *cert_len);

#endif
