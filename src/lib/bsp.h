/*
 * bsp.h — package binding, the construction GSMA SGP.22 calls BSP (ex-SCP03t).
 *
 *  - ECDH P-256 between one-time keys (server otSK with eUICC otPK, and back).
 *  - ANSI X9.63 KDF with SHA-256: Z || counter(4, BE from 1) || SharedInfo,
 *    SharedInfo = key type (0x88) || key length (0x10) || LV(host id) || LV(EID, 16 bytes).
 *    48 bytes = initial MAC chaining value || S-ENC || S-MAC.
 *  - Each segment: AES-128-CBC under S-ENC with IV = AES-ECB(S-ENC, 16-byte BE
 *    block counter, starting at 1, incremented per segment), padding
 *    80 00..; then C-MAC = AES-CMAC(S-MAC, MCV || tag || length || ciphertext);
 *    the segment carries the first 8 bytes; the full 16 bytes become the next MCV.
 *    The block counter advances for every segment, MAC-only ones included.
 *    Encoded segment: tag (0x86 / 0x87 encrypted+MAC, 0x88 MAC only) | DER length |
 *    ciphertext || MAC(8), at most 1020 bytes with tag and length (SGP.22
 *    §2.5.3), so plaintext per segment at most BSP_SEG_MAX = 1007 bytes
 *    encrypted, BSP_SEG_MAX_MAC = 1008 MAC only.
 *
 * Bound package (SGP.22 v2.x §2.5.4, BoundProfilePackage), DER:
 *   BF36 {
 *     BF23 InitialiseSecureChannelRequest (§5.5.1) {
 *       82 remoteOpId 01 (installBoundProfilePackage) | 80 transactionId |
 *       A6 controlRefTemplate { 80 keyType 88, 81 keyLen 10, 84 hostId } |
 *       5F49 smdpOtpk (65) | 5F37 smdpSign (64, r||s, by DPpb over the DER of
 *       BF23's children 82..5F49 followed by the eUICC otPK as 5F49 41 ..) }
 *     A0 firstSequenceOf87 { 87 .. : ConfigureISDPRequest BF24, encrypted + MAC }
 *     A1 sequenceOf88 { 88 .. : StoreMetadataRequest BF25, MAC only }
 *     [A2 secondSequenceOf87 { 87 .. : ReplaceSessionKeysRequest BF26, encrypted + MAC }]
 *     A3 sequenceOf86 { 86 .. : the profile package, encrypted + MAC }
 *   }
 * One session key set (S-ENC, S-MAC, MCV, block counter from 1) protects the
 * 87s of A0, the 88s of A1, the 87s of A2 and — without A2 — the 86s, in that
 * order; the counter advances once per segment, MAC-only ones included. With
 * A2 the 86s are protected under the keys BF26 carries (PPK-ENC, PPK-MAC, the
 * initial MCV), the block counter starting again at 1: a protected profile
 * package is made once, independently of the session (§2.5.3, §5.5.4).
 * Each sequence's plaintext (BF24, BF25, BF26, the profile) is split into
 * segments of at most BSP_SEG_MAX (encrypted) / BSP_SEG_MAX_MAC (MAC only)
 * bytes; the receiver accepts any segment size up to the 1020-byte TLV.
 * The MAC chain protects the order of the segments; the end of a sequence is
 * its container's length (a truncated profile is refused by the profile
 * package interpreter, which needs the package's End PE).
 */
#ifndef TS_BSP_H
#define TS_BSP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/der.h"
#include "lib/eid.h"

#define BSP_SEG_TLV_MAX 1020 /* a whole segment TLV (SGP.22 §2.5.3) */
#define BSP_SEG_MAX 1007     /* encrypted: 1 + 3 + (1007 + 1 padded to 1008) + 8 = 1020 */
#define BSP_SEG_MAX_MAC 1008 /* MAC only: 1 + 3 + 1008 + 8 = 1020 */
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

/* ---- SGP.22 commands carried inside the package ---------------------- */

/* ConfigureISDPRequest BF24 { [B8 dpProprietaryData { 80 dpOid }] } (§5.5.2;
 * AUTOMATIC TAGS make dpOid [0]).
 * dp_oid: content octets of the OID, NULL for none. Caller frees *out. */
int bsp_configure_isdp_encode(const uint8_t *dp_oid, size_t oid_len, uint8_t **out, size_t *len);
/* Strict on what it knows, skips extension additions after it (the module
 * is EXTENSIBILITY IMPLIED); *dp_oid borrows from buf (NULL when absent). */
int bsp_configure_isdp_decode(const uint8_t *buf, size_t len, const uint8_t **dp_oid,
    size_t *oid_len);
/* ReplaceSessionKeysRequest BF26 { 80 initialMacChainingValue, 81 ppkEnc,
 * 82 ppkCmac } (§5.5.4), 16 bytes each. decode sets counter = 1. */
int bsp_rsk_encode(const bsp_keys *ppk, uint8_t **out, size_t *len);
int bsp_rsk_decode(const uint8_t *buf, size_t len, bsp_keys *ppk);

/* ---- SM-DP+ side ---------------------------------------------------------- */

/* One binding: the server's one-time key (generated, never kept), the
 * session keys and the signed BF23. bsp_server_clear wipes the keys. */
typedef struct bsp_server {
	bsp_keys k;
	uint8_t *bf23; /* the whole InitialiseSecureChannelRequest TLV, owned */
	size_t bf23_len;
} bsp_server;

int bsp_server_start(bsp_server *s, const uint8_t *euicc_otpk, size_t otpk_len, const eid_t *eid,
    const uint8_t *transaction_id, size_t tid_len, const uint8_t *host_id, size_t host_id_len,
    EVP_PKEY *sign_key);
void bsp_server_clear(bsp_server *s);
/* Appends container ctag { segments of tag over data[0..len) } to w, split at
 * BSP_SEG_MAX / BSP_SEG_MAX_MAC; len 0 gives an empty container. */
int bsp_put_sequence(der_writer *w, bsp_keys *k, uint32_t ctag, uint8_t tag, const uint8_t *data,
    size_t len);

typedef struct bsp_build_args {
	const uint8_t *euicc_otpk;
	size_t otpk_len;
	const eid_t *eid;
	const uint8_t *tid;
	size_t tid_len;
	const uint8_t *host_id;
	size_t host_id_len;
	EVP_PKEY *sign_key;             /* DPpb */
	const uint8_t *configure_isdp;  /* BF24 DER; NULL = BF24 without dpProprietaryData */
	size_t ci_len;
	const uint8_t *metadata;        /* BF25 DER */
	size_t md_len;
	int replace_keys;               /* 1: A2 with fresh random PPKs protecting A3 */
	const uint8_t *payload;         /* the profile package */
	size_t plen;
} bsp_build_args;

/* Builds the bound package for one eUICC. Caller frees *out. */
int bsp_package_build_ex(const bsp_build_args *a, uint8_t **out, size_t *outlen);
/* The same with the default BF24 and no A2. */
int bsp_package_build(const uint8_t *euicc_otpk, size_t otpk_len, const eid_t *eid,
    const uint8_t *transaction_id, size_t tid_len, const uint8_t *host_id, size_t host_id_len,
    EVP_PKEY *sign_key, const uint8_t *metadata, size_t mdlen,
    const uint8_t *payload, size_t plen, uint8_t **out, size_t *outlen);

/* ---- LPA side: the commands of LoadBoundProfilePackage (§2.5.5) ----------- */

typedef struct bsp_cmd {
	size_t off, len; /* a slice of the package */
} bsp_cmd;

/* Splits a package the way SGP.22 §2.5.5 has the LPA send it, one ES10b
 * STORE DATA series each: BF36 tag+length with the whole BF23; A0
 * tag+length with its first 87, then each further 87; A1 tag+length, then
 * each 88; A2 tag+length with its first 87, then each further 87 (if A2 is
 * present); A3 tag+length, then each 86. Only the framing is checked
 * (DER, BF23 first, then sequences A0..A3), not their order or the
 * cryptography: that is the eUICC's to judge. *cmds: caller frees. */
int bsp_split(const uint8_t *pkg, size_t len, bsp_cmd **cmds, size_t *n);

/* ---- eUICC side: loading command by command ------------------------------ */

/* What the loader hands over as each command's plaintext is complete. Each
 * returns 0 to go on, or sets *reason (an SGP.22 errorReason, ES10_ERR_*)
 * and returns non-zero to stop the load. load_profile may take the buffer
 * (set *profile = NULL; it is then the callee's to cleanse and free). */
typedef struct bsp_loader_ops {
	int (*configure_isdp)(void *ctx, const uint8_t *bf24, size_t len, int *reason);
	int (*store_metadata)(void *ctx, const uint8_t *bf25, size_t len, int *reason);
	int (*load_profile)(void *ctx, uint8_t **profile, size_t len, int *reason);
} bsp_loader_ops;

enum { BSP_LOAD_MORE = 0, BSP_LOAD_DONE = 1, BSP_LOAD_FAILED = 2 };

/* Caller-allocated; all state is bounded: the current sequence's plaintext
 * (BSP_SEQ_MAX) or the profile so far (BSP_MAX_PACKAGE). */
#define BSP_SEQ_MAX 8192u

typedef struct bsp_loader {
	/* borrowed from bsp_loader_begin until the BF23 is processed */
	EVP_PKEY *otsk, *server_pub;
	const eid_t *eid;
	uint8_t tid[16];
	size_t tid_len;
	const bsp_loader_ops *ops;
	void *ctx;
	int stage;
	int unbounded; /* bsp_loader_begin_keyed: no BF36 around the commands */
	size_t bpp_left, seq_left;
	bsp_keys k;
	uint8_t *buf; /* plaintext so far, wiped when freed */
	size_t buf_len, buf_cap;
	int cmd, reason; /* after BSP_LOAD_FAILED: bppCommandId, errorReason */
} bsp_loader;

/* Starts a load: the next command must begin with BF36. otsk (the eUICC's
 * one-time private key), eid, server_pub (the DPpb key) are borrowed until
 * the first bsp_loader_feed returns. */
void bsp_loader_begin(bsp_loader *l, EVP_PKEY *otsk, const eid_t *eid, EVP_PKEY *server_pub,
    const uint8_t *tid, size_t tid_len, const bsp_loader_ops *ops, void *ctx);
/* Tests and fuzzing only: starts after a BF23 with the given session keys;
 * the commands then begin with A0 and nothing bounds them but the limits. */
void bsp_loader_begin_keyed(bsp_loader *l, const bsp_keys *k, const bsp_loader_ops *ops, void *ctx);
/* Feeds one command (the data of one STORE DATA series): any run of whole
 * items — a container's tag and length (BF36, A0..A3) or a whole TLV (BF23,
 * 87, 88, 86) — in the package's order, so both the §2.5.5 split and the
 * whole package at once are accepted. Returns BSP_LOAD_MORE, BSP_LOAD_DONE
 * (the profile was handed over) or BSP_LOAD_FAILED (l->cmd / l->reason
 * say why; every later feed fails the same way). */
int bsp_loader_feed(bsp_loader *l, const uint8_t *cmd, size_t len);
/* The BppCommandId (ES10_BPP_*) the load is at: the command being
 * processed, or expected next. */
int bsp_loader_command(const bsp_loader *l);
/* 1 between begin and DONE / FAILED. */
int bsp_loader_active(const bsp_loader *l);
/* Wipes keys and buffers; safe twice. */
void bsp_loader_clear(bsp_loader *l);

/* The whole package at once (tests, fuzzing): verifies, decrypts and returns
 * the BF25 StoreMetadataRequest bytes and the profile. Caller frees both.
 * TS_EVERIFY for a signature / MAC / transaction failure, TS_EPARSE for
 * structure. */
int bsp_package_open(EVP_PKEY *euicc_otsk, const eid_t *eid, EVP_PKEY *server_pub,
    const uint8_t *expected_tid, size_t tid_len,
    const uint8_t *pkg, size_t len,
    uint8_t **metadata, size_t *mdlen, uint8_t **payload, size_t *plen);

#endif
