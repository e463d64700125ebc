/*
 * upp.h — the SIM profile as a profile package: the subset of the TCA
 * (formerly SIMalliance) "eUICC Profile Package: Interoperable Format
 * Technical Specification" (ASN.1 module PEDefinitions, AUTOMATIC TAGS) that
 * tapshare produces and its secure element interprets.
 *
 * A package is a plain concatenation of DER ProfileElements (the CHOICE
 * alternative's context tag is the PE's outer tag):
 *
 *   A0    header        ProfileHeader { [0] major-version, [1] minor-version,
 *                       [2] profileType, [3] iccid (10 bytes, EF-ICCID coding),
 *                       [4] pol, [5] eUICC-Mandatory-services (ServicesList:
 *                       NULLs [0] contactless, [1] usim, ... [4] milenage, ...),
 *                       [6] eUICC-Mandatory-GFSTEList (SEQUENCE OF OID), ... }
 *   A4    akaParameter  PE-AKAParameter { [0] PEHeader, [1] algoConfiguration
 *                       (CHOICE, so explicit) { [1] AlgoParameter { [0]
 *                       algorithmID (1 = milenage), [1] algorithmOptions,
 *                       [2] key, [3] opc, [4] rotationConstants DEFAULT,
 *                       [5] xoringConstants DEFAULT, [6] authCounterMax } },
 *                       [2] sqnOptions .. [5] sqnInit, all DEFAULT }
 *   A9    nonStandard   PE-NonStandard { [0] PEHeader, [1] issuerID OID,
 *                       [2] content }
 *   AA    end           PE-End { [0] PEHeader }
 *   B0    mf            PE-MF { [0] PEHeader, [1] templateID, [2] mf, [3] ef-pl,
 *                       [4] ef-iccid, [5] ef-dir, [6] ef-arr, [7] ef-umpc }
 *   B3    usim          PE-USIM { [0] PEHeader, [1] templateID, [2] adf-usim,
 *                       [3] ef-imsi, [4] ef-arr, ... [8] ef-ust, ... [13] ef-spn,
 *                       [14] ef-est, ... [18] ef-acc, ... [21] ef-ad, [22] ef-ecc, ... }
 *   PEHeader  { [0] mandated NULL OPTIONAL, [1] identification UInt15 }
 *   File      SEQUENCE OF CHOICE { [0] doNotCreate, [1] fileDescriptor Fcp,
 *             [2] fillFileOffset, [3] fillFileContent }
 *
 * What upp_encode emits (version 2.3, the profileVersion tapshare-se
 * announces in EUICCInfo2): header (services usim + milenage, templates
 * id-MF 2.23.143.1.2.1 and id-USIM 2.23.143.1.2.4), MF (EF-ICCID content,
 * EF-DIR with the USIM's application template, the other files from the
 * template), USIM (ADF with its AID, EF-IMSI, EF-ACC, EF-AD, the mandatory
 * template files from the template), AKA (Milenage, Ki, OPc, the
 * specification's default constants, so omitted in DER), optionally one
 * nonStandard PE for tapshare's credential applet (UPP_ISSUER_OID), End.
 * No PIN/PUK or security-domain PEs: tapshare-se has no PIN and no
 * GlobalPlatform runtime. With an empty imsi it emits a credential-only
 * package instead (bank-ID account, service token): header without
 * mandatory services and with id-MF only, MF (EF-ICCID; EF-DIR from the
 * template), the nonStandard PE — required then, and mandated — and End.
 *
 * What upp_decode accepts — strictly DER, bounded (UPP_MAX_PACKAGE bytes,
 * UPP_MAX_PES elements): the header first, End last, nothing after End
 * (TS_ETRAILING); one MF, then — when the header lists the usim service,
 * and only then — one USIM followed by one AKA parameter (without them, a
 * credential-only package, tapshare's nonStandard PE is required; imsi is
 * "" then); inside each known element the fields in their ASN.1 order
 * (strictly increasing context tag numbers, each once), mandatory fields
 * present, DEFAULT values not encoded. Unknown elements and the known ones
 * tapshare does not interpret are handled as the specification's PEHeader
 * "mandated" flag says: skipped when the flag is absent, refused
 * (TS_EUNSUPP) when it is set — the eUICC must then abort the installation.
 * Refused too (TS_EUNSUPP): a major version other than 2 or 3, a mandatory
 * service or template (GFSTE) tapshare-se does not provide, an algorithm
 * other than Milenage, non-default Milenage constants, a mapping parameter.
 * A header ICCID that differs from EF-ICCID is TS_EVERIFY.
 */
#ifndef TS_UPP_H
#define TS_UPP_H

#include <stddef.h>
#include <stdint.h>

#define UPP_ICCID_LEN 10       /* ETSI TS 102 221 §13.2: 20 BCD nibbles */
#define UPP_ICCID_DIGITS_MAX 20
#define UPP_IMSI_DIGITS_MIN 6  /* MCC + MNC + at least one MSIN digit */
#define UPP_IMSI_DIGITS_MAX 15 /* ITU-T E.212 */
#define UPP_EF_IMSI_LEN 9      /* 3GPP TS 31.102 §4.2.2 */
#define UPP_KEY_LEN 16         /* Milenage K and OPc: 128 bits */
#define UPP_TYPE_MAX 100       /* profileType SIZE (1..100) */
#define UPP_MAX_PACKAGE (64u * 1024u)
#define UPP_MAX_PES 64
#define UPP_APP_CONTENT_MAX (16u * 1024u)

#define UPP_VERSION_MAJOR 2
#define UPP_VERSION_MINOR 3

/* The issuerID of tapshare's nonStandard PE: 2.25.<UUID> (ITU-T X.667), a
 * UUID generated for this purpose (e5063abc-4c6b-428f-a3a7-42e9f1cbe8db). Its content is the credential applet's
 * data for the app (docs/protocol.md, "Credentials as profile content"). */
#define UPP_ISSUER_OID "2.25.304425556114199038474308786512682805467"

typedef struct upp_sim {
	unsigned major, minor;                  /* decode: as received */
	char profile_type[UPP_TYPE_MAX + 1];    /* "" = absent */
	uint8_t iccid[UPP_ICCID_LEN];           /* EF-ICCID coding (nibble-swapped BCD) */
	char imsi[UPP_IMSI_DIGITS_MAX + 1];     /* decimal digits; "" = no USIM */
	unsigned mnc_len;                       /* 2 or 3 (EF-AD byte 4) */
	uint8_t ki[UPP_KEY_LEN], opc[UPP_KEY_LEN];
	/* Content of tapshare's nonStandard PE: encode reads it (borrowed,
	 * NULL = no such PE); decode points it into the decoded buffer
	 * (borrowed from the caller's buffer, NULL when absent). */
	const uint8_t *app_content;
	size_t app_content_len;
} upp_sim;

/* Encodes the package (caller frees *out with free(); it holds Ki and OPc:
 * cleanse it first). TS_EINVAL for an IMSI that is not 6..15 digits, an
 * mnc_len other than 2/3, an ICCID that is not valid BCD, a
 * credential-only package (imsi "") without app_content. */
int upp_encode(const upp_sim *s, uint8_t **out, size_t *len);

/* Decodes and checks a whole package (see above). On failure *s is wiped.
 * s->app_content points into buf. */
int upp_decode(const uint8_t *buf, size_t len, upp_sim *s);

/* Wipes the keys (and everything else) of *s. */
void upp_sim_clear(upp_sim *s);

/* ICCID digits (18..20, decimal) <-> EF-ICCID bytes: digit pairs with the
 * first digit in the low nibble, an odd count padded with F. */
int upp_iccid_encode(const char *digits, uint8_t out[UPP_ICCID_LEN]);
int upp_iccid_decode(const uint8_t in[UPP_ICCID_LEN], char out[UPP_ICCID_DIGITS_MAX + 1]);

/* IMSI digits <-> EF-IMSI (3GPP TS 31.102 §4.2.2, TS 24.008 mobile identity):
 * byte 1 = number of bytes used, byte 2 = digit 1 (high nibble) | parity
 * (0x08 for an odd digit count) | identity type 001, then digit pairs with
 * the lower-numbered digit in the low nibble, F filler, FF for unused bytes. */
int upp_imsi_encode(const char *digits, uint8_t out[UPP_EF_IMSI_LEN]);
int upp_imsi_decode(const uint8_t *in, size_t len, char out[UPP_IMSI_DIGITS_MAX + 1]);

#endif
