/*
 * es9_status.c — the status code table (es9_status.h).
 */
#include "node/es9_status.h"

#include <stddef.h>

static const es9_code codes[ES9_STATUS_COUNT] = {
	[ES9_INVALID] = { "1.6", "2.1", "Function - Invalid" },
	[ES9_MISSING] = { "1.6", "2.2", "Function - Mandatory element missing" },
	[ES9_EXEC_ERROR] = { "1.2", "4.2", "Function provider - Execution error" },
	[ES9_BUSY] = { "1.2", "4.4", "Function provider - Busy" },
	[ES9_EUICC_VERIFY] = { "8.1", "6.1", "eUICC - Verification failed" },
	[ES9_EUICC_REFUSED] = { "8.1", "3.8", "eUICC - Refused" },
	[ES9_EID_REFUSED] = { "8.1.1", "3.8", "EID - Refused" },
	[ES9_EUM_CERT_INVALID] = { "8.1.2", "6.1", "EUM Certificate - Verification failed" },
	[ES9_EUM_CERT_EXPIRED] = { "8.1.2", "6.3", "EUM Certificate - Expired" },
	[ES9_EUICC_CERT_INVALID] = { "8.1.3", "6.1", "eUICC Certificate - Verification failed" },
	[ES9_EUICC_CERT_EXPIRED] = { "8.1.3", "6.3", "eUICC Certificate - Expired" },
	[ES9_PROFILE_NOT_RELEASED] = { "8.2", "1.2", "Profile - Not allowed (not released)" },
	[ES9_MATCHING_ID_REFUSED] = { "8.2.6", "3.8", "Matching ID - Refused" },
	[ES9_CC_MISSING] = { "8.2.7", "2.2", "Confirmation Code - Mandatory element missing" },
	[ES9_CC_REFUSED] = { "8.2.7", "3.8", "Confirmation Code - Refused" },
	[ES9_CC_RETRIES_EXCEEDED] = { "8.2.7", "6.4", "Confirmation Code - Maximum number of retries exceeded" },
	[ES9_SMDP_OID_INVALID] = { "8.8", "3.10", "SM-DP+ - Invalid association" },
	[ES9_SMDP_ADDRESS_REFUSED] = { "8.8.1", "3.8", "SM-DP+ Address - Refused" },
	[ES9_NO_COMMON_CI] = { "8.8.2", "3.1", "Security configuration - Unsupported" },
	[ES9_SVN_UNSUPPORTED] = { "8.8.3", "3.1", "Specification Version Number - Unsupported" },
	[ES9_CERT_UNAVAILABLE] = { "8.8.4", "3.7", "Certificate - Unavailable" },
	[ES9_ORDER_EXPIRED] = { "8.8.5", "4.10", "Download order - Time to Live Expired" },
	[ES9_SMDS_ADDRESS_REFUSED] = { "8.9.1", "3.8", "SM-DS Address - Refused" },
	[ES9_SMDS_NO_COMMON_CI] = { "8.9.2", "3.1", "Security configuration - Unsupported (SM-DS)" },
	[ES9_SMDS_SVN_UNSUPPORTED] = { "8.9.3", "3.1", "Specification Version Number - Unsupported (SM-DS)" },
	[ES9_SMDS_CERT_UNAVAILABLE] = { "8.9.4", "3.7", "Certificate - Unavailable (SM-DS)" },
	[ES9_TID_UNKNOWN] = { "8.10.1", "3.9", "TransactionId - Unknown" },
	[ES9_CI_PK_UNKNOWN] = { "8.11.1", "3.9", "CI Public Key - Unknown" },
};

const es9_code *
es9_status_code(es9_status s)
{
	if ((int)s <= 0 || s >= ES9_STATUS_COUNT || codes[s].subject == NULL)
		return &codes[ES9_EXEC_ERROR];
	return &codes[s];
}
