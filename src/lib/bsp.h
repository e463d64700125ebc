/*
 * bsp.h — package binding, the construction GSMA SGP.22 calls BSP (ex-SCP03t).
 *
 *  - ECDH P-256 between one-time keys (server otSK with eUICC otPK, and back).
 *  - ANSI X9.63 KDF with SHA-256: Z || counter(4, BE from 1) || SharedInfo,
 *    SharedInfo = key type (0x88) || key length (0x10) || LV(host id) || LV(EID, 16 bytes).
 *    48 bytes = initial MAC chaining value || S-ENC || S-MAC.
 *  - Each segment: AES-128-CBC under S-ENC with IV = AES-ECB(S-ENC, 16-byte BE
 *    block counter, starting at 1, incremented per encrypted segment), padding
 *    80 00..; then C-MAC = AES-CMAC(S-MAC, MCV || tag || length || ciphertext);
 *    the segment carries the first 8 bytes; the full 16 bytes become the next MCV.
 *    The block counter advances for every segment, MAC-only ones included.
 *    Encoded segment: tag (0x86 encrypted+MAC, 0x88 MAC only) | DER length |
 *    ciphertext || MAC(8), at most 1020 bytes with tag and length (SGP.22
 *    §2.5.3), so plaintext per segment at most BSP_SEG_MAX = 1007 bytes.
 *
 * Bound package layout (DER):
 *   BF36 {
 *     BF23 InitialiseSecureChannelRequest (SGP.22 §5.5.1) {
 *       82 remoteOpId (1) | 80 transactionId | A6 controlRefTemplate { 80 key type 88,
 *       81 key len 10, 84 host id } | 5F49 smdpOtpk (65) | 5F37 smdpSign (64, r||s,
 *       by DPpb over the DER of BF23's children 82..5F49 followed by the
 *       eUICC otPK as a data object 5F49 41 ..) }
 *     A1 { 88 segment: metadata (MAC only) }
 *     A3 { 86 segment, 86 segment, ... : the payload, encrypted }
 *   }
 * The order of segments is protected by the MAC chain: a reordered, dropped,
 * truncated or flipped segment fails verification.
 */
#ifndef TS_BSP_H
#define TS_BSP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/eid.h"

#define BSP_SEG_TLV_MAX 1020 /* a whole segment TLV (SGP.22 §2.5.3) */
#define BSP_SEG_MAX 1007     /* plaintext: 1 + 3 + (1007 + 1 padded to 1008) + 8 = 1020 */
#define BSP_MAC_LEN 8
#define BSP_MAX_PACKAGE (256u * 1024u)

typedef struct bsp_keys {
	uint8_t mcv[16];
	uint8_t s_enc[16];
	uint8_t s_mac[16];
	uint64_t counter; /* next IV block counter, starts at 1 */
} bsp_keys;

/* Wipes the keys (OPENSSL_cleanse). */
void bsp_keys_clear(bsp_keys *k);

/* ECDH: own private one-time key with the peer's uncompressed point. */
int bsp_ecdh(EVP_PKEY *own, const uint8_t *peer_point, size_t peer_len, uint8_t z[32]);
/* X9.63 KDF as above. */
int bsp_derive(const uint8_t z[32], const uint8_t *host_id, size_t host_id_len,
    const eid_t *eid, bsp_keys *out);

/* Segment encode / decode (advance counter and MCV). Caller frees *out. */
int bsp_seg_wrap(bsp_keys *k, uint8_t tag, const uint8_t *pt, size_t len,
    uint8_t **out, size_t *outlen);
/* seg is one complete segment TLV. TS_EVERIFY on a MAC mismatch. */
int bsp_seg_unwrap(bsp_keys *k, const uint8_t *seg, size_t len,
    uint8_t **pt, size_t *ptlen);

/* Server side: builds the bound package for one eUICC. Generates its own
 * one-time key, never stores session keys. Caller frees *out. */
int bsp_package_build(const uint8_t *euicc_otpk, size_t otpk_len, const eid_t *eid,
    const uint8_t *transaction_id, size_t tid_len, const uint8_t *host_id, size_t host_id_len,
    EVP_PKEY *sign_key, const uint8_t *metadata, size_t mdlen,
    const uint8_t *payload, size_t plen, uint8_t **out, size_t *outlen);

/* eUICC side: verifies the server signature with server_pub, derives keys with
 * its one-time private key, checks every MAC and decrypts. expected_tid must
 * equal the package's transactionId. Caller frees *metadata and *payload. */
int bsp_package_open(EVP_PKEY *euicc_otsk, const eid_t *eid, EVP_PKEY *server_pub,
    const uint8_t *expected_tid, size_t tid_len,
    const uint8_t *pkg, size_t len,
    uint8_t **metadata, size_t *mdlen, uint8_t **payload, size_t *plen);

#endif
