/*
 * es9_status.h — the one table of the SGP.22 function execution status codes
 * the node answers on ES9+ (SM-DP+) and ES11 (SM-DS): every refusal names one
 * es9_status and the (subjectCode, reasonCode) pair comes from here only.
 *
 * Function-specific codes (SGP.22 v2.2 §5.6.1 InitiateAuthentication, §5.6.2
 * GetBoundProfilePackage, §5.6.3 AuthenticateClient, §5.6.5 CancelSession,
 * §5.8.1 / §5.8.2 ES11 InitiateAuthentication / AuthenticateClient):
 *
 *   8.1     eUICC                     6.1  Verification failed (a signature,
 *                                          the serverChallenge)
 *                                     3.8  Refused (the eUICC answered an
 *                                          error instead of signed data)
 *   8.1.1   EID                       3.8  Refused (not the EID the matching ID
 *                                          was issued for)
 *   8.1.2   EUM Certificate           6.1  Verification failed / 6.3 Expired
 *   8.1.3   eUICC Certificate         6.1  Verification failed / 6.3 Expired
 *   8.2     Profile                   1.2  Not allowed (not yet released)
 *   8.2.6   Matching ID               3.8  Refused
 *   8.2.7   Confirmation Code         2.2  Mandatory element missing
 *                                     3.8  Refused
 *                                     6.4  Maximum number of retries exceeded
 *   8.8     SM-DP+                    3.10 Invalid association (smdpOid)
 *   8.8.1   SM-DP+ Address            3.8  Refused
 *   8.8.2   Security configuration    3.1  Unsupported (none of the eUICC's
 *                                          euiccCiPKIdListForSigning is ours)
 *   8.8.3   Specification version     3.1  Unsupported
 *   8.8.4   Certificate               3.7  Unavailable (no CERT.DPauth under a
 *                                          CI of euiccCiPKIdListForVerification)
 *   8.8.5   Download order            4.10 Time to Live Expired
 *   8.9.1   SM-DS Address             3.8  Refused (ES11; 8.9.2 / 8.9.3 / 8.9.4
 *                                          as 8.8.2 / 8.8.3 / 8.8.4 for the SM-DS)
 *   8.10.1  TransactionId             3.9  Unknown
 *   8.11.1  CI Public Key             3.9  Unknown
 *
 * The pairs agree with the tables other SGP.22 implementations carry (lpac's
 * es9p_errors.c, osmo-smdpp); for the smdpOid check osmo-smdpp answers 3.10
 * (Invalid association, SGP.22 v2.2 §5.6.5) where lpac lists 3.1: 3.10 here.
 *
 * General codes (SGP.22 refers to the common codes of SGP.02 §5.1.6.4):
 *
 *   1.2     Function provider         4.2  Execution error / 4.4 Busy
 *   1.6     Function                  2.1  Invalid / 2.2 Mandatory element missing
 *
 * handleNotification has no status codes of its own: an accepted notification
 * is answered HTTP 204 (SGP.22 §6.3 MEP notification), and so is one the node
 * cannot verify (discarded, logged); only an execution error is a Failed.
 */
#ifndef TS_NODE_ES9_STATUS_H
#define TS_NODE_ES9_STATUS_H

typedef enum es9_status {
	ES9_INVALID = 1,          /* 1.6 / 2.1 */
	ES9_MISSING,              /* 1.6 / 2.2 */
	ES9_EXEC_ERROR,           /* 1.2 / 4.2 */
	ES9_BUSY,                 /* 1.2 / 4.4 */
	ES9_EUICC_VERIFY,         /* 8.1 / 6.1 */
	ES9_EUICC_REFUSED,        /* 8.1 / 3.8 */
	ES9_EID_REFUSED,          /* 8.1.1 / 3.8 */
	ES9_EUM_CERT_INVALID,     /* 8.1.2 / 6.1 */
	ES9_EUM_CERT_EXPIRED,     /* 8.1.2 / 6.3 */
	ES9_EUICC_CERT_INVALID,   /* 8.1.3 / 6.1 */
	ES9_EUICC_CERT_EXPIRED,   /* 8.1.3 / 6.3 */
	ES9_PROFILE_NOT_RELEASED, /* 8.2 / 1.2 */
	ES9_MATCHING_ID_REFUSED,  /* 8.2.6 / 3.8 */
	ES9_CC_MISSING,           /* 8.2.7 / 2.2 */
	ES9_CC_REFUSED,           /* 8.2.7 / 3.8 */
	ES9_CC_RETRIES_EXCEEDED,  /* 8.2.7 / 6.4 */
	ES9_SMDP_OID_INVALID,     /* 8.8 / 3.10 */
	ES9_SMDP_ADDRESS_REFUSED, /* 8.8.1 / 3.8 */
	ES9_NO_COMMON_CI,         /* 8.8.2 / 3.1 */
	ES9_SVN_UNSUPPORTED,      /* 8.8.3 / 3.1 */
	ES9_CERT_UNAVAILABLE,     /* 8.8.4 / 3.7 */
	ES9_ORDER_EXPIRED,        /* 8.8.5 / 4.10 */
	ES9_SMDS_ADDRESS_REFUSED, /* 8.9.1 / 3.8 */
	ES9_SMDS_NO_COMMON_CI,    /* 8.9.2 / 3.1 */
	ES9_SMDS_SVN_UNSUPPORTED, /* 8.9.3 / 3.1 */
	ES9_SMDS_CERT_UNAVAILABLE, /* 8.9.4 / 3.7 */
	ES9_TID_UNKNOWN,          /* 8.10.1 / 3.9 */
	ES9_CI_PK_UNKNOWN,        /* 8.11.1 / 3.9 */
	ES9_STATUS_COUNT
} es9_status;

typedef struct es9_code {
	const char *subject; /* subjectCode */
	const char *reason;  /* reasonCode */
	const char *what;    /* the specification's short description */
} es9_code;

/* The codes of s; an out-of-range s yields the execution error's. */
const es9_code *es9_status_code(es9_status s);

#endif
