/*
 * es10dl.h — the download half of the ES10 codec (GSMA SGP.22 v2.x, ASN.1
 * module RSPDefinitions; the v2.2.2 / v2.5 structures): the functions an LPA
 * calls on the eUICC to download a profile, and the signed data objects the
 * SM-DP+ and the eUICC exchange through the LPA (ES9+ carries them in base64).
 * Same conventions as lib/es10.h (read its header comment first): strict
 * decoders over the caller's buffer, TS_ETRAILING after the structure,
 * TS_EPARSE on a wrong tag / length / order / SIZE, request decoders (the
 * eUICC's side) reject unknown elements, response decoders (the LPA's and
 * SM-DP+'s side) skip unknown elements after checking they are well-formed.
 *
 * Encodings (DER; tags are those RSPDefinitions gives, with its AUTOMATIC
 * TAGS applied where a SEQUENCE has no tagged component):
 *
 *   GetEuiccChallenge  req  BF2E {}                                    (§5.7.7)
 *                      resp BF2E { 80 euiccChallenge(16) }
 *   ServerSigned1      30 { 80 transactionId(1..16), 81 euiccChallenge(16),
 *                           83 serverAddress (UTF8String), 84 serverChallenge(16) }
 *   CtxParams1         A0 ctxParamsForCommonAuthentication {
 *                           [80 matchingId (UTF8String)],
 *                           A1 deviceInfo { 80 tac(4), A1 deviceCapabilities {
 *                                  [80 gsm] [81 utran] [82 cdma1x] [83 cdmaHrpd]
 *                                  [84 cdmaEhrpd] [85 eutran] [86 contactless]
 *                                  [87 rspCrl] [88 nrEpc] [89 nr5gc] [8A eutran5gc]
 *                                  [8B lpaSvn] ... (VersionType each, 3 bytes) },
 *                               [82 imei(8)] } }
 *   AuthenticateServer req  BF38 { 30 serverSigned1, 5F37 serverSignature1(64),
 *                                  04 euiccCiPKIdToBeUsed, 30 serverCertificate,
 *                                  A0 ctxParams1 }                     (§5.7.13)
 *   EuiccSigned1       30 { 80 transactionId, 83 serverAddress, 84 serverChallenge(16),
 *                           BF22 euiccInfo2 (lib/es10.h), A0 ctxParams1 }
 *   AuthenticateServer resp BF38 { A0 authenticateResponseOk { 30 euiccSigned1,
 *                                  5F37 euiccSignature1(64), 30 euiccCertificate,
 *                                  30 eumCertificate } }
 *                      |    BF38 { A1 authenticateResponseError { 80 transactionId,
 *                                  02 authenticateErrorCode } }
 *   SmdpSigned2        30 { 80 transactionId, 01 ccRequiredFlag (BOOLEAN),
 *                           [5F49 bppEuiccOtpk(65)] }
 *   PrepareDownload    req  BF21 { 30 smdpSigned2, 5F37 smdpSignature2(64),
 *                                  [04 hashCc(32)], 30 smdpCertificate } (§5.7.5)
 *   EUICCSigned2       30 { 80 transactionId, 5F49 euiccOtpk(65), [04 hashCc(32)] }
 *   PrepareDownload    resp BF21 { A0 downloadResponseOk { 30 euiccSigned2,
 *                                  5F37 euiccSignature2(64) } }
 *                      |    BF21 { A1 downloadResponseError { 80 transactionId,
 *                                  02 downloadErrorCode } }
 *
 *   CancelSession      req  BF41 { 80 transactionId, 81 reason (INTEGER) } (§5.7.14)
 *   EuiccCancelSessionSigned 30 { 80 transactionId, 81 smdpOid (OBJECT IDENTIFIER),
 *                           82 reason (INTEGER) }
 *   CancelSession      resp BF41 { A0 cancelSessionResponseOk { 30 euiccCancelSessionSigned,
 *                                  5F37 euiccCancelSessionSignature(64) } }
 *                      |    BF41 { 81 cancelSessionResponseError (INTEGER) }
 *
 * Signature inputs (ECDSA P-256 / SHA-256, r||s, lib/pki.h), byte for byte:
 *   serverSignature1  over the whole ServerSigned1 TLV (30 L ...);
 *   euiccSignature1   over the whole EuiccSigned1 TLV;
 *   smdpSignature2    over SmdpSigned2 TLV || 5F37 40 euiccSignature1;
 *   euiccSignature2   over EUICCSigned2 TLV || 5F37 40 smdpSignature2.
 * es10_sig_input() builds the last two.
 *
 * hashCc (confirmation code, §2.6.? / §5.7.5):
 *   SHA-256( SHA-256(confirmation code as entered) || transactionId ).
 */
#ifndef TS_ES10DL_H
#define TS_ES10DL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/es10.h"

#define ES10_CHALLENGE_LEN 16
#define ES10_OTPK_LEN 65      /* uncompressed P-256 point, 04 || X || Y */
#define ES10_HASHCC_LEN 32
#define ES10_TAC_LEN 4
#define ES10_IMEI_LEN 8
#define ES10_MATCHING_ID_MAX 255 /* UTF8String without SIZE in SGP.22 — our bound */
#define ES10_DEVCAPS_MAX 128     /* deviceCapabilities content octets — our bound */
#define ES10_EUICC_INFO2_MAX 1024 /* the BF22 TLV inside euiccSigned1 — our bound */

#define ES10_TAG_SIGNATURE 0x5F37
#define ES10_TAG_OTPK 0x5F49

/* AuthenticateErrorCode (§5.7.13) and DownloadErrorCode (§5.7.5). */
enum es10_auth_error {
	ES10_AUTH_INVALID_CERTIFICATE = 1,
	ES10_AUTH_INVALID_SIGNATURE = 2,
	ES10_AUTH_UNSUPPORTED_CURVE = 3,
	ES10_AUTH_NO_SESSION_CONTEXT = 4,
	ES10_AUTH_INVALID_OID = 5,
	ES10_AUTH_EUICC_CHALLENGE_MISMATCH = 6,
	ES10_AUTH_CI_PK_UNKNOWN = 7,
	ES10_AUTH_UNDEFINED = 127,
};
enum es10_download_error {
	ES10_DL_INVALID_CERTIFICATE = 1,
	ES10_DL_INVALID_SIGNATURE = 2,
	ES10_DL_UNSUPPORTED_CURVE = 3,
	ES10_DL_NO_SESSION_CONTEXT = 4,
	ES10_DL_INVALID_TRANSACTION_ID = 5,
	ES10_DL_UNDEFINED = 127,
};

/* A borrowed span of the caller's buffer (decoders) or of the caller's data
 * (encoders): always a whole TLV, tag and length included. */
typedef struct es10_span { const uint8_t *p; size_t len; } es10_span;

/* ---- GetEuiccChallenge ---- */
int es10_challenge_resp_encode(const uint8_t ch[ES10_CHALLENGE_LEN], uint8_t **out, size_t *len);
int es10_challenge_resp_decode(const uint8_t *buf, size_t len, uint8_t ch[ES10_CHALLENGE_LEN]);

/* ---- ServerSigned1 ---- */
typedef struct es10_server_signed1 {
	uint8_t tid[ES10_TID_MAX]; size_t tid_len;
	uint8_t euicc_challenge[ES10_CHALLENGE_LEN];
	char server_address[ES10_ADDR_MAX + 1];
	uint8_t server_challenge[ES10_CHALLENGE_LEN];
} es10_server_signed1;
int es10_server_signed1_encode(const es10_server_signed1 *s, uint8_t **out, size_t *len);
int es10_server_signed1_decode(const uint8_t *buf, size_t len, es10_server_signed1 *s);

/* ---- CtxParams1 (ctxParamsForCommonAuthentication) ---- */
typedef struct es10_device_info {
	uint8_t tac[ES10_TAC_LEN];
	/* deviceCapabilities content octets: context-tagged elements in
	 * ascending tag order, [0]..[11] VersionType (3 bytes); later ones
	 * (v2.5+) are kept as they came if well-formed. */
	uint8_t caps[ES10_DEVCAPS_MAX]; size_t caps_len;
	int has_imei;
	uint8_t imei[ES10_IMEI_LEN];
} es10_device_info;
typedef struct es10_ctx_params1 {
	int has_matching_id;
	char matching_id[ES10_MATCHING_ID_MAX + 1];
	es10_device_info device;
} es10_ctx_params1;
/* The A0 TLV alone (for tests and the fuzzer). */
int es10_ctx_params1_encode(const es10_ctx_params1 *c, uint8_t **out, size_t *len);
int es10_ctx_params1_decode(const uint8_t *buf, size_t len, es10_ctx_params1 *c);
/* deviceCapabilities content from a list of (tag number 0..11, version). */
int es10_device_caps_set(es10_device_info *d, const int *tags, const uint8_t (*versions)[ES10_VERSION_LEN],
    size_t n);

/* ---- AuthenticateServerRequest ---- */
typedef struct es10_auth_server_req {
	es10_span server_signed1;              /* 30 TLV */
	uint8_t server_signature1[ES10_SIG_LEN];
	uint8_t ci_pkid[ES10_PKID_MAX]; size_t ci_pkid_len;
	es10_span server_cert;                 /* 30 TLV (X.509 DER) */
	es10_ctx_params1 ctx;
} es10_auth_server_req;
int es10_auth_server_req_encode(const es10_auth_server_req *r, uint8_t **out, size_t *len);
/* Also decodes serverSigned1 into *s1 (may be NULL). */
int es10_auth_server_req_decode(const uint8_t *buf, size_t len, es10_auth_server_req *r,
    es10_server_signed1 *s1);

/* ---- EuiccSigned1 ---- */
typedef struct es10_euicc_signed1 {
	uint8_t tid[ES10_TID_MAX]; size_t tid_len;
	char server_address[ES10_ADDR_MAX + 1];
	uint8_t server_challenge[ES10_CHALLENGE_LEN];
	es10_span euicc_info2;                 /* BF22 TLV, checked with es10_euicc_info2_decode */
	es10_ctx_params1 ctx;
} es10_euicc_signed1;
int es10_euicc_signed1_encode(const es10_euicc_signed1 *s, uint8_t **out, size_t *len);
int es10_euicc_signed1_decode(const uint8_t *buf, size_t len, es10_euicc_signed1 *s);

/* ---- AuthenticateServerResponse ---- */
typedef struct es10_auth_server_resp {
	int error;                             /* 0: ok; else authenticateErrorCode */
	uint8_t tid[ES10_TID_MAX]; size_t tid_len; /* error only */
	es10_span euicc_signed1;               /* ok: 30 TLV */
	uint8_t euicc_signature1[ES10_SIG_LEN];
	es10_span euicc_cert, eum_cert;        /* ok: 30 TLVs */
} es10_auth_server_resp;
int es10_auth_server_resp_encode(const es10_auth_server_resp *r, uint8_t **out, size_t *len);
/* Also decodes euiccSigned1 into *s1 when ok (s1 may be NULL). */
int es10_auth_server_resp_decode(const uint8_t *buf, size_t len, es10_auth_server_resp *r,
    es10_euicc_signed1 *s1);

/* ---- SmdpSigned2 ---- */
typedef struct es10_smdp_signed2 {
	uint8_t tid[ES10_TID_MAX]; size_t tid_len;
	int cc_required;                       /* BOOLEAN */
	int has_bpp_otpk;
	uint8_t bpp_otpk[ES10_OTPK_LEN];
} es10_smdp_signed2;
int es10_smdp_signed2_encode(const es10_smdp_signed2 *s, uint8_t **out, size_t *len);
int es10_smdp_signed2_decode(const uint8_t *buf, size_t len, es10_smdp_signed2 *s);

/* ---- PrepareDownloadRequest ---- */
typedef struct es10_prepare_download_req {
	es10_span smdp_signed2;                /* 30 TLV */
	uint8_t smdp_signature2[ES10_SIG_LEN];
	int has_hash_cc;
	uint8_t hash_cc[ES10_HASHCC_LEN];
	es10_span smdp_cert;                   /* 30 TLV */
} es10_prepare_download_req;
int es10_prepare_download_req_encode(const es10_prepare_download_req *r, uint8_t **out, size_t *len);
int es10_prepare_download_req_decode(const uint8_t *buf, size_t len, es10_prepare_download_req *r,
    es10_smdp_signed2 *s2);

/* ---- EUICCSigned2 ---- */
typedef struct es10_euicc_signed2 {
	uint8_t tid[ES10_TID_MAX]; size_t tid_len;
	uint8_t euicc_otpk[ES10_OTPK_LEN];
	int has_hash_cc;
	uint8_t hash_cc[ES10_HASHCC_LEN];
} es10_euicc_signed2;
int es10_euicc_signed2_encode(const es10_euicc_signed2 *s, uint8_t **out, size_t *len);
int es10_euicc_signed2_decode(const uint8_t *buf, size_t len, es10_euicc_signed2 *s);

/* ---- PrepareDownloadResponse ---- */
typedef struct es10_prepare_download_resp {
	int error;                             /* 0: ok; else downloadErrorCode */
	uint8_t tid[ES10_TID_MAX]; size_t tid_len; /* error only */
	es10_span euicc_signed2;               /* ok: 30 TLV */
	uint8_t euicc_signature2[ES10_SIG_LEN];
} es10_prepare_download_resp;
int es10_prepare_download_resp_encode(const es10_prepare_download_resp *r, uint8_t **out, size_t *len);
int es10_prepare_download_resp_decode(const uint8_t *buf, size_t len, es10_prepare_download_resp *r,
    es10_euicc_signed2 *s2);

/* ---- CancelSession ---- */
/* CancelSessionReason (§5.7.14; INTEGER, values 0..127 here). */
enum es10_cancel_reason {
	ES10_CANCEL_END_USER_REJECTION = 0,
	ES10_CANCEL_POSTPONED = 1,
	ES10_CANCEL_TIMEOUT = 2,
	ES10_CANCEL_PPR_NOT_ALLOWED = 3,
	ES10_CANCEL_METADATA_MISMATCH = 4,
	ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR = 5,
	ES10_CANCEL_UNDEFINED_REASON = 127,
};
/* cancelSessionResponseError */
enum es10_cancel_error {
	ES10_CANCEL_INVALID_TRANSACTION_ID = 5,
	ES10_CANCEL_UNDEFINED_ERROR = 127,
};
/* The reason's name in RSPDefinitions ("loadBppExecutionError"), or NULL. */
const char *es10_cancel_reason_name(int reason);
/* The reverse; -1 for an unknown name. */
int es10_cancel_reason_parse(const char *name);

typedef struct es10_cancel_session_req {
	uint8_t tid[ES10_TID_MAX]; size_t tid_len;
	int reason;                            /* 0..127 */
} es10_cancel_session_req;
int es10_cancel_session_req_encode(const es10_cancel_session_req *r, uint8_t **out, size_t *len);
int es10_cancel_session_req_decode(const uint8_t *buf, size_t len, es10_cancel_session_req *r);

typedef struct es10_cancel_signed {
	uint8_t tid[ES10_TID_MAX]; size_t tid_len;
	uint8_t smdp_oid[ES10_OID_MAX]; size_t smdp_oid_len; /* content octets */
	int reason;
} es10_cancel_signed;
int es10_cancel_signed_encode(const es10_cancel_signed *s, uint8_t **out, size_t *len);
int es10_cancel_signed_decode(const uint8_t *buf, size_t len, es10_cancel_signed *s);

typedef struct es10_cancel_session_resp {
	int error;                             /* 0: ok; else cancelSessionResponseError */
	es10_span cancel_signed;               /* ok: 30 TLV */
	uint8_t signature[ES10_SIG_LEN];       /* ok: euiccCancelSessionSignature */
} es10_cancel_session_resp;
int es10_cancel_session_resp_encode(const es10_cancel_session_resp *r, uint8_t **out, size_t *len);
/* Also decodes euiccCancelSessionSigned into *s when ok (s may be NULL). */
int es10_cancel_session_resp_decode(const uint8_t *buf, size_t len, es10_cancel_session_resp *r,
    es10_cancel_signed *s);

/* signed TLV || 5F37 40 sig: the input of smdpSignature2 / euiccSignature2.
 * Caller frees *out. */
int es10_sig_input(const uint8_t *signed_tlv, size_t len, const uint8_t sig[ES10_SIG_LEN],
    uint8_t **out, size_t *outlen);
/* 5F37 40 sig, the data object ES9+ carries (serverSignature1, smdpSignature2). */
void es10_sig_do(const uint8_t sig[ES10_SIG_LEN], uint8_t out[3 + ES10_SIG_LEN]);
/* The reverse: exactly 5F37 40 + 64 bytes. TS_EPARSE otherwise. */
int es10_sig_from_do(const uint8_t *buf, size_t len, uint8_t sig[ES10_SIG_LEN]);
/* hashCc = SHA-256(SHA-256(code) || transactionId). */
int es10_hash_cc(const char *code, const uint8_t *tid, size_t tid_len, uint8_t out[ES10_HASHCC_LEN]);
/* The same from SHA-256(code) (what an SM-DP+ keeps instead of the code). */
int es10_hash_cc_of(const uint8_t code_hash[32], const uint8_t *tid, size_t tid_len, uint8_t out[ES10_HASHCC_LEN]);

#endif
