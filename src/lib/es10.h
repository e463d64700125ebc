/*
 * es10.h — the ES10 codec: the eUICC functions an LPA calls through STORE DATA
 * (GSMA SGP.22 v2.x, ASN.1 module RSPDefinitions, "DEFINITIONS AUTOMATIC TAGS,
 * EXTENSIBILITY IMPLIED"), as encoder + strict decoder. Used by the ISD-R of
 * tapshare-se (src/se/es10.c) and by the companion's LPA client
 * (src/device/se_client.c). This header is the one place in the tree where
 * ES10 tags and layouts are written down; nothing else spells them out.
 *
 * Encodings (DER; "IMPLICIT" context tags unless noted; CHOICE is always
 * explicitly tagged, so a tagged CHOICE adds a constructed wrapper):
 *
 *   GetEuiccData          req  BF3E { 5C 01 5A }                       (SGP.22 v2.x §5.7.20 GetEID)
 *                         resp BF3E { 5A eid(16) }
 *   GetEuiccInfo1         req  BF20 {}                                 (§5.7.8 GetEUICCInfo)
 *                         resp BF20 { 82 svn(3), A9 { 04 pkid ... }, AA { 04 pkid ... } }
 *   GetEuiccInfo2         req  BF22 {}                                 (§5.7.8)
 *                         resp BF22 { 81 profileVersion, 82 svn, 83 euiccFirmwareVer,
 *                                84 extCardResource, 85 uiccCapability (BIT STRING),
 *                                [86 ts102241Version], [87 globalplatformVersion],
 *                                88 rspCapability (BIT STRING), A9 {04..}, AA {04..},
 *                                [8B euiccCategory], [99 forbiddenProfilePolicyRules],
 *                                04 ppVersion, 0C sasAcreditationNumber,
 *                                [AC { 80 platformLabel, 81 discoveryBaseURL }] }
 *   EuiccConfiguredAddresses req BF3C {}                              (§5.7.3)
 *                         resp BF3C { [80 defaultDpAddress], 81 rootDsAddress }
 *   SetDefaultDpAddress   req  BF3F { 80 defaultDpAddress }            (§5.7.4)
 *                         resp BF3F { 80 result }       ok 0, undefinedError 127
 *   GetRAT                req  BF43 {}                                 (§5.7.22)
 *                         resp BF43 { A0 { 30 { 80 pprIds, A1 { 30 { 80 mccMnc(3),
 *                                [81 gid1], [82 gid2] } ... }, 82 pprFlags } ... } }
 *   ProfileInfoList       req  BF2D { [A0 { 4F aid | 5A iccid | 95 class }], [5C tagList] } (§5.7.15 GetProfilesInfo)
 *                         resp BF2D { A0 { E3 ProfileInfo ... } } | BF2D { 81 error }
 *        ProfileInfo E3 { [5A iccid(10)], [4F isdpAid], [9F70 state], [90 nickname],
 *                         [91 serviceProviderName], [92 profileName], [93 iconType],
 *                         [94 icon], [95 profileClass], [B6 { 30 { 80 event, 81 address } ... }],
 *                         [B7 { 80 mccMnc, [81 gid1], [82 gid2] }], [B8 { 80 dpOid ... }],
 *                         [99 pprIds], [BF76 refArDo] }
 *   EnableProfile         req  BF31 { A0 { 4F aid | 5A iccid }, 81 refreshFlag (BOOLEAN) } (§5.7.16)
 *                         resp BF31 { 80 result }
 *   DisableProfile        req  BF32 { A0 { 4F aid | 5A iccid }, 81 refreshFlag } (§5.7.17)
 *                         resp BF32 { 80 result }
 *   DeleteProfile         req  BF33 { 4F aid | 5A iccid }              (§5.7.18)
 *                         resp BF33 { 80 result }
 *   SetNickname           req  BF29 { 5A iccid, 90 nickname }          (§5.7.21)
 *                         resp BF29 { 80 result }
 *   ListNotification      req  BF28 { [81 profileManagementOperation] } (§5.7.9)
 *                         resp BF28 { A0 { BF2F NotificationMetadata ... } } | BF28 { 81 error }
 *        NotificationMetadata BF2F { 80 seqNumber, 81 profileManagementOperation,
 *                                   0C notificationAddress, [5A iccid] }
 *   RetrieveNotificationsList req BF2B { [A0 { 80 seqNumber | 81 profileManagementOperation }] } (§5.7.10)
 *                         resp BF2B { A0 { PendingNotification ... } } | BF2B { 81 error }
 *        PendingNotification = BF37 ProfileInstallationResult | 30 OtherSignedNotification
 *        OtherSignedNotification 30 { BF2F tbsOtherNotification, 5F37 euiccNotificationSignature,
 *                                     30 euiccCertificate, 30 eumCertificate }
 *        ProfileInstallationResult BF37 { BF27 { 80 transactionId, BF2F notificationMetadata,
 *                                     06 smdpOid, A2 { A0 { 4F aid, 04 simaResponse }
 *                                     | A1 { 80 bppCommandId, 81 errorReason, [82 simaResponse] } } },
 *                                     5F37 euiccSignPIR }
 *   NotificationSent      req  BF30 { 80 seqNumber }                   (§5.7.11 RemoveNotificationFromList)
 *                         resp BF30 { 80 result }
 *   eUICCMemoryReset      req  BF34 { 82 resetOptions (BIT STRING) }   (§5.7.19)
 *                         resp BF34 { 80 result }
 *
 * Signatures: euiccNotificationSignature covers exactly the BF2F TLV
 * (tbsOtherNotification, tag and length included); euiccSignPIR covers exactly
 * the BF27 TLV (profileInstallationResultData). Both are 5F37 with 64 bytes
 * r||s (ECDSA P-256 / SHA-256, lib/pki.h).
 *
 * Value conventions:
 *  - BIT STRINGs with named bits are held as a uint32_t mask, bit n of the
 *    ASN.1 named bit n at (1u << n). Encoded as DER: first octet the number of
 *    unused bits, named bit 0 is the most significant bit of the second octet,
 *    trailing zero bits removed (X.690 §11.2.2), so an empty mask is the
 *    one-octet value 00.
 *    The decoder requires the unused-bits octet to be 0..7 (0 for an empty
 *    string) and the padding bits to be zero, and accepts (BER-valid) trailing
 *    zero bits because deployed eUICCs send fixed-width capability masks; bits
 *    past 31 must be zero.
 *  - INTEGERs are non-negative, encoded in minimal two's complement (a value
 *    with its top bit set gets a leading 00); the decoder rejects negative
 *    values, non-minimal encodings and more than 8 value bytes.
 *  - BOOLEAN is one octet, 00 or FF (DER); anything else is TS_EPARSE.
 *  - UTF8Strings are copied into NUL-terminated char arrays; an embedded NUL,
 *    ill-formed UTF-8 (RFC 3629) or a value longer than the field's ASN.1
 *    SIZE bound is TS_EPARSE (encoders: TS_EINVAL).
 *    Empty strings are valid where the ASN.1 allows SIZE(0).
 *
 * Decoders are pure functions over the caller's buffer: the buffer must hold
 * exactly one structure (TS_ETRAILING after it), every tag, length and
 * SIZE constraint is checked (TS_EPARSE), counts are bounded by the ES10_MAX_*
 * constants (TS_ELIMIT), nesting is bounded by the fixed layout. Request
 * decoders (used by the eUICC) reject any element they do not know. Response
 * decoders (used by the LPA against any eUICC) skip, after checking it is
 * well-formed, an element whose tag the layout does not name — SGP.22's
 * EXTENSIBILITY IMPLIED lets later versions add elements — but reject a known
 * element out of order or twice.
 *
 * Errors: 0, or TS_EPARSE / TS_ETRAILING / TS_ELIMIT (decoders), TS_EINVAL
 * (an argument outside its ASN.1 constraint, encoders), TS_ENOMEM.
 * Encoders allocate *out (caller frees with free()).
 */
#ifndef TS_ES10_H
#define TS_ES10_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/eid.h"

/* ---- tags of the ES10 functions (the top-level TLV of request and response) ---- */
#define ES10_TAG_GET_EUICC_INFO1 0xBF20
#define ES10_TAG_PREPARE_DOWNLOAD 0xBF21   /* part 2: layout in lib/rsp.h */
#define ES10_TAG_GET_EUICC_INFO2 0xBF22
#define ES10_TAG_LIST_NOTIFICATION 0xBF28
#define ES10_TAG_SET_NICKNAME 0xBF29
#define ES10_TAG_RETRIEVE_NOTIFICATIONS 0xBF2B
#define ES10_TAG_PROFILE_INFO_LIST 0xBF2D
#define ES10_TAG_GET_EUICC_CHALLENGE 0xBF2E /* part 2: BF2E {} -> BF2E { 80 challenge(16) } */
#define ES10_TAG_NOTIFICATION_SENT 0xBF30
#define ES10_TAG_ENABLE_PROFILE 0xBF31
#define ES10_TAG_DISABLE_PROFILE 0xBF32
#define ES10_TAG_DELETE_PROFILE 0xBF33
#define ES10_TAG_MEMORY_RESET 0xBF34
#define ES10_TAG_BOUND_PROFILE_PACKAGE 0xBF36 /* part 2: lib/bsp.h */
#define ES10_TAG_PROFILE_INSTALLATION_RESULT 0xBF37
#define ES10_TAG_AUTHENTICATE_SERVER 0xBF38 /* part 2: lib/rsp.h */
#define ES10_TAG_EUICC_CONFIGURED_ADDRESSES 0xBF3C
#define ES10_TAG_GET_EUICC_DATA 0xBF3E
#define ES10_TAG_SET_DEFAULT_DP_ADDRESS 0xBF3F
#define ES10_TAG_CANCEL_SESSION 0xBF41    /* part 2 */
#define ES10_TAG_GET_RAT 0xBF43
/* Data objects that are not functions. */
#define ES10_TAG_NOTIFICATION_METADATA 0xBF2F
#define ES10_TAG_PIR_DATA 0xBF27 /* profileInstallationResultData */
#define ES10_TAG_PROFILE_INFO 0xE3

/* ---- sizes (ASN.1 SIZE constraints of RSPDefinitions, or our bounds) ---- */
#define ES10_VERSION_LEN 3   /* VersionType: major, minor, revision */
#define ES10_ICCID_LEN 10    /* Iccid: 20 BCD digits, nibble-swapped, F-padded */
#define ES10_ICCID_DIGITS_MAX 20
#define ES10_AID_MAX 16      /* OctetTo16 */
#define ES10_TID_MAX 16      /* TransactionId SIZE(1..16) */
#define ES10_SIG_LEN 64      /* 5F37: r||s of P-256 */
#define ES10_PKID_MAX 32     /* SubjectKeyIdentifier (20 in practice) — our bound */
#define ES10_MAX_PKIDS 8     /* CI key ids per list — our bound */
#define ES10_ECR_MAX 64      /* extCardResource — our bound */
#define ES10_ADDR_MAX 255    /* an FQDN (notification / SM-DP+ / SM-DS address) */
#define ES10_SAS_MAX 64      /* sasAcreditationNumber SIZE(0..64) */
#define ES10_LABEL_MAX 255   /* certificationDataObject strings — our bound */
#define ES10_NICKNAME_MAX 64 /* profileNickname SIZE(0..64) */
#define ES10_SPN_MAX 32      /* serviceProviderName SIZE(0..32) */
#define ES10_PNAME_MAX 64    /* profileName SIZE(0..64) */
#define ES10_ICON_MAX 1024   /* icon SIZE(0..1024) */
#define ES10_GID_MAX 16      /* gid1 / gid2 — our bound */
#define ES10_MAX_NOTIF_CFG 8 /* notificationConfigurationInfo entries — our bound */
#define ES10_MAX_OPERATORS 8 /* allowedOperators per rule — our bound */
#define ES10_MAX_RULES 8     /* RulesAuthorisationTable entries — our bound */
#define ES10_MAX_PROFILES 64 /* ProfileInfo entries in one list — our bound */
#define ES10_MAX_NOTIFICATIONS 128 /* entries in one notification list — our bound */
#define ES10_TAGLIST_MAX 64  /* tagList bytes — our bound */
#define ES10_OID_MAX 32      /* smdpOid content octets — our bound */
#define ES10_SIMA_MAX 512    /* simaResponse — our bound */
#define ES10_DP_PROPRIETARY_MAX 128 /* dpProprietaryData, whole TLV (SGP.22) */

/* ---- named bits ---- */
/* NotificationEvent */
#define ES10_EVENT_INSTALL (1u << 0)
#define ES10_EVENT_ENABLE (1u << 1)
#define ES10_EVENT_DISABLE (1u << 2)
#define ES10_EVENT_DELETE (1u << 3)
/* RspCapability */
#define ES10_RSPCAP_ADDITIONAL_PROFILE (1u << 0)
#define ES10_RSPCAP_CRL (1u << 1)
#define ES10_RSPCAP_RPM (1u << 2)
#define ES10_RSPCAP_TEST_PROFILE (1u << 3)
#define ES10_RSPCAP_DEVICEINFO_EXT (1u << 4)
/* UICCCapability (the ones tapshare-se reports; see RSPDefinitions for all) */
#define ES10_UICCCAP_CONTACTLESS (1u << 0)
#define ES10_UICCCAP_USIM (1u << 1)
#define ES10_UICCCAP_ISIM (1u << 2)
#define ES10_UICCCAP_AKA_MILENAGE (1u << 4)
#define ES10_UICCCAP_JAVACARD (1u << 14)
/* PprIds */
#define ES10_PPR_UPDATE_CONTROL (1u << 0)
#define ES10_PPR1 (1u << 1) /* disabling not allowed */
#define ES10_PPR2 (1u << 2) /* deletion not allowed */
/* pprFlags */
#define ES10_PPRFLAG_CONSENT_REQUIRED (1u << 0)
/* resetOptions of eUICCMemoryReset */
#define ES10_RESET_OPERATIONAL (1u << 0)
#define ES10_RESET_TEST (1u << 1)
#define ES10_RESET_DEFAULT_SMDP (1u << 2)

/* ---- enumerations (the INTEGER values of RSPDefinitions) ---- */
enum es10_profile_state { ES10_STATE_DISABLED = 0, ES10_STATE_ENABLED = 1 };
enum es10_profile_class { ES10_CLASS_TEST = 0, ES10_CLASS_PROVISIONING = 1, ES10_CLASS_OPERATIONAL = 2 };
enum es10_icon_type { ES10_ICON_JPG = 0, ES10_ICON_PNG = 1 };
enum es10_euicc_category {
	ES10_CATEGORY_OTHER = 0, ES10_CATEGORY_BASIC = 1, ES10_CATEGORY_MEDIUM = 2,
	ES10_CATEGORY_CONTACTLESS = 3,
};

/* Result codes. One INTEGER type per response; the values they share are
 * named once. Which values each response may carry:
 *   EnableProfileResponse.enableResult    0 1 2 3 4 5 127
 *   DisableProfileResponse.disableResult  0 1 2 3 5 127
 *   DeleteProfileResponse.deleteResult    0 1 2 3 127
 *   SetNicknameResponse                   0 1 (iccidNotFound) 127
 *   NotificationSentResponse              0 1 (nothingToDelete) 127
 *   EuiccMemoryResetResponse              0 1 (nothingToDelete) 5 127
 *   SetDefaultDpAddressResponse           0 127
 *   ProfileInfoListError                  1 (incorrectInputValues) 127
 *   ListNotificationResponse error        127
 *   RetrieveNotificationsListResponse err 1 (noResultAvailable) 127 */
enum es10_result {
	ES10_OK = 0,
	ES10_ICCID_OR_AID_NOT_FOUND = 1,
	ES10_PROFILE_NOT_IN_DISABLED_STATE = 2, /* enable, delete */
	ES10_PROFILE_NOT_IN_ENABLED_STATE = 2,  /* disable */
	ES10_DISALLOWED_BY_POLICY = 3,
	ES10_WRONG_PROFILE_REENABLING = 4,
	ES10_CAT_BUSY = 5,
	ES10_ICCID_NOT_FOUND = 1,               /* SetNickname */
	ES10_NOTHING_TO_DELETE = 1,             /* NotificationSent, eUICCMemoryReset */
	ES10_INCORRECT_INPUT_VALUES = 1,        /* ProfileInfoListError */
	ES10_NO_RESULT_AVAILABLE = 1,           /* RetrieveNotificationsList */
	ES10_UNDEFINED_ERROR = 127,
};

/* ProfileInstallationResult: bppCommandId and errorReason. */
enum es10_bpp_command {
	ES10_BPP_INITIALISE_SECURE_CHANNEL = 0, ES10_BPP_CONFIGURE_ISDP = 1,
	ES10_BPP_STORE_METADATA = 2, ES10_BPP_STORE_METADATA2 = 3,
	ES10_BPP_REPLACE_SESSION_KEYS = 4, ES10_BPP_LOAD_PROFILE_ELEMENTS = 5,
};
enum es10_error_reason {
	ES10_ERR_INCORRECT_INPUT_VALUES = 1,
	ES10_ERR_INVALID_SIGNATURE = 2,
	ES10_ERR_INVALID_TRANSACTION_ID = 3,
	ES10_ERR_UNSUPPORTED_CRT_VALUES = 4,
	ES10_ERR_UNSUPPORTED_REMOTE_OPERATION_TYPE = 5,
	ES10_ERR_UNSUPPORTED_PROFILE_CLASS = 6,
	ES10_ERR_SCP03T_STRUCTURE = 7,
	ES10_ERR_SCP03T_SECURITY = 8,
	ES10_ERR_ICCID_ALREADY_EXISTS = 9,
	ES10_ERR_INSUFFICIENT_MEMORY = 10,
	ES10_ERR_INTERRUPTION = 11,
	ES10_ERR_PE_PROCESSING = 12,
	ES10_ERR_DATA_MISMATCH = 13,
	ES10_ERR_TEST_PROFILE_INVALID_NAA_KEY = 14,
	ES10_ERR_PPR_NOT_ALLOWED = 15,
	ES10_ERR_UNKNOWN = 127,
};

/* ---- ICCID and ISD-P AID ---- */

/* Digits -> the 10 bytes of tag 5A (ITU-T E.118 / ETSI EF-ICCID coding):
 * each pair of digits d1 d2 becomes the byte (d2 << 4) | d1, an odd count is
 * padded with F in the last high nibble. digits: 19 or 20 decimal digits whose
 * last is the Luhn check digit of the others (TS_EPARSE otherwise). */
int es10_iccid_from_digits(const char *digits, uint8_t out[ES10_ICCID_LEN]);
/* The 5A bytes -> NUL-terminated digits (19 or 20). TS_EPARSE when a nibble
 * is not a digit, or F appears anywhere but as the last nibble. The check
 * digit is not verified (an LPA shows what the card holds). */
int es10_iccid_to_digits(const uint8_t in[ES10_ICCID_LEN], char out[ES10_ICCID_DIGITS_MAX + 1]);
/* Luhn check digit ('0'..'9') of n decimal digits; TS_EPARSE on a non-digit. */
int es10_luhn_digit(const char *digits, size_t n, char *check);

/* The ICCID tapshare gives an app installed on the eUICC with this EID, so
 * that the SE, the companion and the node agree on it without a table (until
 * the SM-DP+ assigns ICCIDs in StoreMetadata, issue 7). 20 digits:
 *   "89" (telecom) "999" (E.164 country code 999, reserved, so no operator's
 *   ICCID can be equal) + 14 digits + Luhn check digit, where the 14 digits
 *   are the first 8 bytes of SHA-256(EID as 32 ASCII digits || 0x00 ||
 *   app_id), read as a big-endian uint64, modulo 10^14, zero-padded.
 * TS_EINVAL when app_id is NULL or empty. */
int es10_iccid_for_app(const eid_t *eid, const char *app_id, char digits[ES10_ICCID_DIGITS_MAX + 1]);

/* 1 if p[0..n) is well-formed UTF-8 (RFC 3629), else 0. */
int es10_utf8_valid(const uint8_t *p, size_t n);

/* ---- requests without data: BF20, BF22, BF3C, BF43 (and BF2E) ---- */
int es10_empty_req_encode(uint32_t tag, uint8_t **out, size_t *len);
/* Accepts exactly "tag 00". */
int es10_empty_req_decode(uint32_t tag, const uint8_t *buf, size_t len);

/* ---- responses that are one result code: tag { 80 INTEGER } ----
 * BF31, BF32, BF33, BF29, BF30, BF34, BF3F. */
int es10_result_encode(uint32_t tag, int result, uint8_t **out, size_t *len);
int es10_result_decode(uint32_t tag, const uint8_t *buf, size_t len, int *result);

/* ---- GetEuiccData ---- */
int es10_get_euicc_data_req_encode(uint8_t **out, size_t *len);
int es10_get_euicc_data_req_decode(const uint8_t *buf, size_t len); /* tagList must be 5A */
int es10_get_euicc_data_resp_encode(const uint8_t eid[EID_BYTES], uint8_t **out, size_t *len);
int es10_get_euicc_data_resp_decode(const uint8_t *buf, size_t len, uint8_t eid[EID_BYTES]);

/* ---- GetEuiccInfo1 / GetEuiccInfo2 ---- */
typedef struct es10_pkid_list {
	size_t n;
	uint8_t id[ES10_MAX_PKIDS][ES10_PKID_MAX];
	size_t len[ES10_MAX_PKIDS]; /* 1..ES10_PKID_MAX */
} es10_pkid_list;

typedef struct es10_euicc_info1 {
	uint8_t svn[ES10_VERSION_LEN];
	es10_pkid_list ci_verify; /* euiccCiPKIdListForVerification */
	es10_pkid_list ci_sign;   /* euiccCiPKIdListForSigning */
} es10_euicc_info1;

int es10_euicc_info1_encode(const es10_euicc_info1 *i, uint8_t **out, size_t *len);
int es10_euicc_info1_decode(const uint8_t *buf, size_t len, es10_euicc_info1 *i);

typedef struct es10_euicc_info2 {
	uint8_t profile_version[ES10_VERSION_LEN];
	uint8_t svn[ES10_VERSION_LEN];
	uint8_t firmware_version[ES10_VERSION_LEN];
	uint8_t ext_card_resource[ES10_ECR_MAX];
	size_t ext_card_resource_len;
	uint32_t uicc_capability; /* ES10_UICCCAP_* */
	int has_ts102241_version;
	uint8_t ts102241_version[ES10_VERSION_LEN];
	int has_gp_version;
	uint8_t gp_version[ES10_VERSION_LEN];
	uint32_t rsp_capability;  /* ES10_RSPCAP_* */
	es10_pkid_list ci_verify;
	es10_pkid_list ci_sign;
	int has_category;
	int category;             /* enum es10_euicc_category */
	int has_forbidden_pprs;
	uint32_t forbidden_pprs;  /* ES10_PPR* */
	uint8_t pp_version[ES10_VERSION_LEN];
	char sas_accreditation[ES10_SAS_MAX + 1];
	int has_certification_data;
	char platform_label[ES10_LABEL_MAX + 1];
	char discovery_base_url[ES10_LABEL_MAX + 1];
} es10_euicc_info2;

int es10_euicc_info2_encode(const es10_euicc_info2 *i, uint8_t **out, size_t *len);
int es10_euicc_info2_decode(const uint8_t *buf, size_t len, es10_euicc_info2 *i);

/* extCardResource of EUICCInfo2 (ETSI TS 102 226 §8.2.1.3.2.1.1, Extended
 * Card Resources Information): a run of TLVs, 81 number of installed
 * applications, 82 free non-volatile memory, 83 free volatile memory (bytes),
 * each an unsigned big-endian integer of 1..8 bytes. Other tags are skipped
 * (later versions add some); each of the three at most once (TS_EPARSE). */
typedef struct es10_ecr {
	int has_installed_apps, has_free_nvm, has_free_ram;
	uint64_t installed_apps, free_nvm, free_ram;
} es10_ecr;
int es10_ecr_decode(const uint8_t *buf, size_t len, es10_ecr *out);

/* ---- EuiccConfiguredAddresses / SetDefaultDpAddress ---- */
typedef struct es10_configured_addresses {
	int has_default_dp;
	char default_dp[ES10_ADDR_MAX + 1];
	char root_ds[ES10_ADDR_MAX + 1];
} es10_configured_addresses;

int es10_configured_addresses_encode(const es10_configured_addresses *a, uint8_t **out, size_t *len);
int es10_configured_addresses_decode(const uint8_t *buf, size_t len, es10_configured_addresses *a);
/* address: 0..ES10_ADDR_MAX bytes ("" asks the eUICC to remove the default). */
int es10_set_default_dp_req_encode(const char *address, uint8_t **out, size_t *len);
int es10_set_default_dp_req_decode(const uint8_t *buf, size_t len, char address[ES10_ADDR_MAX + 1]);

/* ---- GetRAT ---- */
typedef struct es10_operator_id {
	uint8_t mcc_mnc[3];
	int has_gid1, has_gid2;
	uint8_t gid1[ES10_GID_MAX], gid2[ES10_GID_MAX];
	size_t gid1_len, gid2_len;
} es10_operator_id;

typedef struct es10_ppar { /* ProfilePolicyAuthorisationRule */
	uint32_t ppr_ids;   /* ES10_PPR* */
	size_t n_operators;
	es10_operator_id operators[ES10_MAX_OPERATORS];
	uint32_t ppr_flags; /* ES10_PPRFLAG_* */
} es10_ppar;

typedef struct es10_rat {
	size_t n;
	es10_ppar rules[ES10_MAX_RULES];
} es10_rat;

int es10_rat_encode(const es10_rat *r, uint8_t **out, size_t *len);
int es10_rat_decode(const uint8_t *buf, size_t len, es10_rat *r);

/* ---- profile identifiers ---- */
enum es10_id_kind { ES10_ID_NONE = 0, ES10_ID_ISDP_AID = 1, ES10_ID_ICCID = 2 };

typedef struct es10_profile_id {
	int kind; /* enum es10_id_kind */
	uint8_t iccid[ES10_ICCID_LEN];
	uint8_t aid[ES10_AID_MAX];
	size_t aid_len; /* 1..16 */
} es10_profile_id;

/* ---- ProfileInfoList ---- */
enum es10_search {
	ES10_SEARCH_NONE = 0, ES10_SEARCH_ISDP_AID = 1, ES10_SEARCH_ICCID = 2, ES10_SEARCH_CLASS = 3,
};

typedef struct es10_profile_info_req {
	int search;           /* enum es10_search */
	es10_profile_id id;   /* ES10_SEARCH_ISDP_AID / _ICCID */
	int profile_class;    /* ES10_SEARCH_CLASS */
	int has_tag_list;
	uint8_t tag_list[ES10_TAGLIST_MAX];
	size_t tag_list_len;  /* concatenated BER tags, e.g. 5A 4F 9F70 */
} es10_profile_info_req;

int es10_profile_info_req_encode(const es10_profile_info_req *r, uint8_t **out, size_t *len);
int es10_profile_info_req_decode(const uint8_t *buf, size_t len, es10_profile_info_req *r);

/* Presence bits of ProfileInfo fields (also what a tagList selects). */
#define ES10_PI_ICCID (1u << 0)     /* 5A */
#define ES10_PI_ISDP_AID (1u << 1)  /* 4F */
#define ES10_PI_STATE (1u << 2)     /* 9F70 */
#define ES10_PI_NICKNAME (1u << 3)  /* 90 */
#define ES10_PI_SPN (1u << 4)       /* 91 */
#define ES10_PI_NAME (1u << 5)      /* 92 */
#define ES10_PI_ICON_TYPE (1u << 6) /* 93 */
#define ES10_PI_ICON (1u << 7)      /* 94 */
#define ES10_PI_CLASS (1u << 8)     /* 95 */
#define ES10_PI_NOTIF_CFG (1u << 9) /* B6 */
#define ES10_PI_OWNER (1u << 10)    /* B7 */
#define ES10_PI_DP_PROPRIETARY (1u << 11) /* B8 */
#define ES10_PI_PPRS (1u << 12)     /* 99 */
#define ES10_PI_ALL 0x1FFFu

/* The ES10_PI_* bits a tagList asks for. Tags the list names but ProfileInfo
 * does not have are ignored (SGP.22: the eUICC returns what it has); a list
 * that is not a run of well-formed BER tags is TS_EPARSE. */
int es10_tag_list_mask(const uint8_t *tags, size_t len, unsigned *mask);

typedef struct es10_notif_cfg { /* NotificationConfigurationInformation */
	uint32_t events;            /* ES10_EVENT_* */
	char address[ES10_ADDR_MAX + 1];
} es10_notif_cfg;

typedef struct es10_profile_info {
	unsigned present; /* ES10_PI_* */
	uint8_t iccid[ES10_ICCID_LEN];
	uint8_t aid[ES10_AID_MAX];
	size_t aid_len;
	int state;        /* enum es10_profile_state */
	char nickname[ES10_NICKNAME_MAX + 1];
	char spn[ES10_SPN_MAX + 1];
	char name[ES10_PNAME_MAX + 1];
	int icon_type;    /* enum es10_icon_type */
	uint8_t icon[ES10_ICON_MAX];
	size_t icon_len;
	int profile_class; /* enum es10_profile_class */
	size_t n_notif_cfg;
	es10_notif_cfg notif_cfg[ES10_MAX_NOTIF_CFG];
	es10_operator_id owner;
	uint8_t dp_proprietary[ES10_DP_PROPRIETARY_MAX]; /* the SEQUENCE's content */
	size_t dp_proprietary_len;
	uint32_t pprs;    /* ES10_PPR* */
} es10_profile_info;

/* A decoded ProfileInfoListResponse. items: owned, freed by
 * es10_profile_list_clear. error: 0 for profileInfoListOk, else the
 * ProfileInfoListError (n = 0). */
typedef struct es10_profile_list {
	es10_profile_info *items;
	size_t n;
	int error;
} es10_profile_list;

void es10_profile_list_init(es10_profile_list *l);
void es10_profile_list_clear(es10_profile_list *l); /* safe twice */

/* Encodes profileInfoListOk with the present fields of each entry (borrowed). */
int es10_profile_list_encode(const es10_profile_info *items, size_t n, uint8_t **out, size_t *len);
int es10_profile_list_decode(const uint8_t *buf, size_t len, es10_profile_list *l);
/* The error alternative of BF2D, BF28, BF2B: tag { 81 code }. */
int es10_list_error_encode(uint32_t tag, int code, uint8_t **out, size_t *len);

/* ---- EnableProfile / DisableProfile / DeleteProfile ---- */
/* tag: ES10_TAG_ENABLE_PROFILE or ES10_TAG_DISABLE_PROFILE. */
int es10_switch_req_encode(uint32_t tag, const es10_profile_id *id, int refresh, uint8_t **out,
    size_t *len);
int es10_switch_req_decode(uint32_t tag, const uint8_t *buf, size_t len, es10_profile_id *id,
    int *refresh);
int es10_delete_req_encode(const es10_profile_id *id, uint8_t **out, size_t *len);
int es10_delete_req_decode(const uint8_t *buf, size_t len, es10_profile_id *id);

/* ---- SetNickname ---- */
int es10_set_nickname_req_encode(const uint8_t iccid[ES10_ICCID_LEN], const char *nickname,
    uint8_t **out, size_t *len);
int es10_set_nickname_req_decode(const uint8_t *buf, size_t len, uint8_t iccid[ES10_ICCID_LEN],
    char nickname[ES10_NICKNAME_MAX + 1]);

/* ---- notifications ---- */
typedef struct es10_notif_metadata {
	uint64_t seq;
	uint32_t event; /* exactly one ES10_EVENT_* bit */
	char address[ES10_ADDR_MAX + 1];
	int has_iccid;
	uint8_t iccid[ES10_ICCID_LEN];
} es10_notif_metadata;

/* The BF2F TLV alone (tbsOtherNotification). The encoder refuses (TS_EINVAL)
 * an event with other than one bit set. */
int es10_notif_metadata_encode(const es10_notif_metadata *m, uint8_t **out, size_t *len);
int es10_notif_metadata_decode(const uint8_t *buf, size_t len, es10_notif_metadata *m);

/* ListNotification. has_filter 0: all; else events (ES10_EVENT_* mask). */
int es10_list_notif_req_encode(int has_filter, uint32_t events, uint8_t **out, size_t *len);
int es10_list_notif_req_decode(const uint8_t *buf, size_t len, int *has_filter, uint32_t *events);

/* items: owned, freed by es10_notif_list_clear; error as in es10_profile_list. */
typedef struct es10_notif_list {
	es10_notif_metadata *items;
	size_t n;
	int error;
} es10_notif_list;
void es10_notif_list_init(es10_notif_list *l);
void es10_notif_list_clear(es10_notif_list *l);
int es10_notif_list_encode(const es10_notif_metadata *items, size_t n, uint8_t **out, size_t *len);
int es10_notif_list_decode(const uint8_t *buf, size_t len, es10_notif_list *l);

/* RetrieveNotificationsList request. */
enum es10_retrieve_by { ES10_RETRIEVE_ALL = 0, ES10_RETRIEVE_SEQ = 1, ES10_RETRIEVE_EVENTS = 2 };
typedef struct es10_retrieve_req {
	int by;          /* enum es10_retrieve_by */
	uint64_t seq;    /* ES10_RETRIEVE_SEQ */
	uint32_t events; /* ES10_RETRIEVE_EVENTS */
} es10_retrieve_req;
int es10_retrieve_req_encode(const es10_retrieve_req *r, uint8_t **out, size_t *len);
int es10_retrieve_req_decode(const uint8_t *buf, size_t len, es10_retrieve_req *r);

/* profileInstallationResultData, decoded or to encode. */
typedef struct es10_pir {
	uint8_t tid[ES10_TID_MAX];
	size_t tid_len;                /* 1..16 */
	es10_notif_metadata meta;      /* event ES10_EVENT_INSTALL */
	int has_smdp_oid;              /* SGP.22 v2.2 requires it; decoder tolerates absence */
	uint8_t smdp_oid[ES10_OID_MAX]; /* content octets of the OBJECT IDENTIFIER */
	size_t smdp_oid_len;
	int success;                   /* 1: successResult, 0: errorResult */
	uint8_t aid[ES10_AID_MAX];     /* success: ISD-P AID, 5..16 bytes */
	size_t aid_len;
	int bpp_command_id;            /* error: enum es10_bpp_command */
	int error_reason;              /* error: enum es10_error_reason */
	int has_sima;                  /* error: simaResponse present (success: always) */
	uint8_t sima[ES10_SIMA_MAX];
	size_t sima_len;
} es10_pir;

/* A PendingNotification as decoded. Pointers are borrowed from the decoded
 * buffer (valid while it is). */
enum es10_pending_kind { ES10_PENDING_INSTALL = 1, ES10_PENDING_OTHER = 2 };
typedef struct es10_pending {
	int kind;                  /* enum es10_pending_kind */
	es10_notif_metadata meta;  /* for INSTALL a copy of pir.meta */
	const uint8_t *der;        /* the whole PendingNotification TLV (what ES9+ forwards) */
	size_t der_len;
	const uint8_t *tbs;        /* the signed bytes: BF2F TLV (OTHER) or BF27 TLV (INSTALL) */
	size_t tbs_len;
	uint8_t sig[ES10_SIG_LEN];
	const uint8_t *euicc_cert; /* OTHER: DER certificates */
	size_t euicc_cert_len;
	const uint8_t *eum_cert;
	size_t eum_cert_len;
	es10_pir pir;              /* INSTALL */
} es10_pending;

/* Builds OtherSignedNotification: encodes m, signs the BF2F TLV with key
 * (borrowed), appends the certificates (borrowed DER, copied in). */
int es10_other_notif_sign(const es10_notif_metadata *m, EVP_PKEY *key, const uint8_t *euicc_cert,
    size_t euicc_cert_len, const uint8_t *eum_cert, size_t eum_cert_len, uint8_t **out, size_t *len);
/* Builds ProfileInstallationResult: encodes p, signs the BF27 TLV with key. */
int es10_pir_sign(const es10_pir *p, EVP_PKEY *key, uint8_t **out, size_t *len);
/* Parses one PendingNotification (BF37 or 30). Does not verify. */
int es10_pending_decode(const uint8_t *buf, size_t len, es10_pending *n);
/* Verifies n->sig over n->tbs with pub (borrowed): 0 or TS_EVERIFY. */
int es10_pending_verify(const es10_pending *n, EVP_PKEY *pub);

/* items: owned array (their pointers borrow from the decoded buffer), freed
 * by es10_pending_list_clear. */
typedef struct es10_pending_list {
	es10_pending *items;
	size_t n;
	int error;
} es10_pending_list;
void es10_pending_list_init(es10_pending_list *l);
void es10_pending_list_clear(es10_pending_list *l);
/* Encodes notificationList from already-encoded PendingNotifications
 * (borrowed; each must parse as one). */
typedef struct es10_blob { const uint8_t *der; size_t len; } es10_blob;
int es10_pending_list_encode(const es10_blob *items, size_t n, uint8_t **out, size_t *len);
int es10_pending_list_decode(const uint8_t *buf, size_t len, es10_pending_list *l);

/* NotificationSent request. */
int es10_notif_sent_req_encode(uint64_t seq, uint8_t **out, size_t *len);
int es10_notif_sent_req_decode(const uint8_t *buf, size_t len, uint64_t *seq);

/* ---- eUICCMemoryReset ---- */
int es10_memory_reset_req_encode(uint32_t options, uint8_t **out, size_t *len);
int es10_memory_reset_req_decode(const uint8_t *buf, size_t len, uint32_t *options);

#endif
