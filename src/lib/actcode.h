/*
 * actcode.h — the SGP.22 Activation Code (§4.1): what a standard LPA is given
 * (QR code, typed in) to download one profile:
 *
 *   [LPA:]1$<SM-DP+ address>$<matching id>[$<SM-DP+ OID>[$<confirmation code required flag>]]
 *
 * "LPA:" is the QR code's prefix (optional here: a code typed in has none);
 * AC_Format is "1"; the address is bare (an FQDN, optionally :port — no
 * scheme, no path); the matching id (AC_Token) may be empty; the OID, when
 * present, is dotted decimal; the flag, when present, is "1" (a confirmation
 * code is required) — the OID may then be empty ("…$$1"). tapshare's node
 * prints the code `LPA:1$<address>$<matching id>` (src/node/share.c).
 *
 * ac_parse is pure over the caller's bytes (no NUL needed), bounded by the
 * named limits, and refuses anything else (TS_EPARSE): other formats, a
 * scheme or path in the address, control or non-ASCII characters, extra
 * fields, an empty address, a flag other than "1".
 */
#ifndef TS_ACTCODE_H
#define TS_ACTCODE_H

#include <stddef.h>

#define AC_TEXT_MAX 512        /* the whole code */
#define AC_ADDR_MAX 255        /* FQDN (253) + ":port" fits; SGP.22 serverAddress is UTF8String */
#define AC_MATCHING_ID_MAX 255
#define AC_OID_MAX 64

typedef struct ac_code {
	char address[AC_ADDR_MAX + 1];        /* bare SM-DP+ address */
	char matching_id[AC_MATCHING_ID_MAX + 1]; /* "" = none */
	char oid[AC_OID_MAX + 1];             /* "" = absent */
	int cc_required;                      /* 1: confirmation code required */
} ac_code;

/* Parses s (len bytes, borrowed) into *out (filled only on success).
 * 0, TS_EPARSE (not an SGP.22 activation code), TS_ELIMIT (a field or the
 * whole code longer than its limit), TS_EINVAL (NULL arguments). */
int ac_parse(const char *s, size_t len, ac_code *out);

#endif
