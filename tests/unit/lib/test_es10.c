/*
 * test_es10.c — the ES10 codec (lib/es10.c) against byte-exact vectors
 * written by hand from the field definitions of SGP.22 RSPDefinitions (one
 * comment per TLV; no vector here was produced by the encoder): each vector
 * is decoded and checked field by field, re-encoded from the decoded fields
 * and compared byte for byte; then the strict decoder's refusals. Every
 * vector is also handed to the asn1c check (tests/asn1/dump.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "lib/eid.h"
#include "lib/es10.h"
#include "lib/pki.h"
#include "lib/ts_err.h"

#include "../../asn1/dump.h"
#include "../hex_fixture.h"

/* ---- shared values ---- */

/* ICCID 8944500102198304826 (19 digits, Luhn 6): pairs swapped, F-padded. */
#define ICCID_A_HEX "98 44 05 10 20 91 38 40 28 F6"
#define ICCID_A "8944500102198304826"
/* ICCID 89999123456789012344 (20 digits, Luhn 4). */
#define ICCID_B_HEX "98 99 19 32 54 76 98 10 32 44"
#define ICCID_B "89999123456789012344"
/* ISD-P AID (SGP.02 Annex H range of the ISD-R's RID/PIX). */
#define AID_HEX "A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 10 00"
/* A CI subject key identifier (20 bytes). */
#define SKI_HEX "F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"
/* 64 bytes standing in for r||s. */
#define SIG64_HEX                                                  \
	"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"          \
	"10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F"          \
	"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F"          \
	"30 31 32 33 34 35 36 37 38 39 3A 3B 3C 3D 3E 3F"

/* ---- ICCID ---- */

static void
test_iccid(void **st)
{
	(void)st;
	uint8_t b[ES10_ICCID_LEN];
	char d[ES10_ICCID_DIGITS_MAX + 1];
	vec a = hx(ICCID_A_HEX), bb = hx(ICCID_B_HEX);
	assert_int_equal(es10_iccid_from_digits(ICCID_A, b), 0);
	assert_memory_equal(b, a.b, 10);
	assert_int_equal(es10_iccid_to_digits(b, d), 0);
	assert_string_equal(d, ICCID_A);
	assert_int_equal(es10_iccid_from_digits(ICCID_B, b), 0);
	assert_memory_equal(b, bb.b, 10);
	assert_int_equal(es10_iccid_to_digits(b, d), 0);
	assert_string_equal(d, ICCID_B);

	/* Luhn: the textbook example 7992739871 -> 3. */
	char c;
	assert_int_equal(es10_luhn_digit("7992739871", 10, &c), 0);
	assert_int_equal(c, '3');
	/* Wrong check digit, every other digit: refused. */
	for (char x = '0'; x <= '9'; x++) {
		char s[] = ICCID_A;
		s[18] = x;
		assert_int_equal(es10_iccid_from_digits(s, b), x == '6' ? 0 : TS_EPARSE);
	}
	assert_int_equal(es10_iccid_from_digits("894450010219830482", b), TS_EPARSE); /* 18 digits */
	assert_int_equal(es10_iccid_from_digits("894450010219830482X", b), TS_EPARSE);
	assert_int_equal(es10_iccid_from_digits("899991234567890123446", b), TS_EPARSE); /* 21 */
	/* Nibbles: A..E never, F only as the last. */
	vec bad = hx("98 44 05 10 20 91 38 40 2A F6");
	assert_int_equal(es10_iccid_to_digits(bad.b, d), TS_EPARSE);
	bad = hx("98 44 05 10 F0 91 38 40 28 F6");
	assert_int_equal(es10_iccid_to_digits(bad.b, d), TS_EPARSE);
	bad = hx("98 44 05 10 20 91 38 40 28 6F");
	assert_int_equal(es10_iccid_to_digits(bad.b, d), TS_EPARSE);

	/* The app ICCID: 89 999, 14 digits, Luhn; deterministic per (EID, app). */
	eid_t e1, e2;
	char i1[21], i2[21], i3[21];
	assert_int_equal(eid_parse("89049032123451234512345678901235", &e1), 0);
	assert_int_equal(eid_parse("89001012012341234012345678901224", &e2), 0);
	assert_int_equal(es10_iccid_for_app(&e1, "bank-a", i1), 0);
	assert_int_equal(es10_iccid_for_app(&e1, "bank-a", i2), 0);
	assert_string_equal(i1, i2);
	assert_int_equal(strlen(i1), 20);
	assert_memory_equal(i1, "89999", 5);
	assert_int_equal(es10_iccid_from_digits(i1, b), 0); /* Luhn holds */
	assert_int_equal(es10_iccid_for_app(&e2, "bank-a", i3), 0);
	assert_string_not_equal(i1, i3);
	assert_int_equal(es10_iccid_for_app(&e1, "bank-b", i3), 0);
	assert_string_not_equal(i1, i3);
	assert_int_equal(es10_iccid_for_app(&e1, "", i3), TS_EINVAL);
}

/* The documented derivation, recomputed here with OpenSSL's one-shot
 * SHA-256 (not the codec's code path). */
static void
test_iccid_for_app_definition(void **st)
{
	(void)st;
	eid_t e;
	char got[21], want[21];
	assert_int_equal(eid_parse("89049032123451234512345678901235", &e), 0);
	uint8_t in[64], md[32];
	size_t n = 0;
	memcpy(in, e.digits, 32);
	n = 32;
	in[n++] = 0;
	memcpy(in + n, "sim-x", 5);
	n += 5;
	assert_non_null(EVP_Q_digest(NULL, "SHA256", NULL, in, n, md, NULL));
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | md[i];
	v %= UINT64_C(100000000000000);
	snprintf(want, sizeof(want), "89999%014llu", (unsigned long long)v);
	/* Luhn by hand: double every second digit from the right. */
	unsigned sum = 0;
	for (int i = 0; i < 19; i++) {
		unsigned d = (unsigned)(want[18 - i] - '0');
		if (i % 2 == 0)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	want[19] = (char)('0' + (10 - sum % 10) % 10);
	want[20] = '\0';
	assert_int_equal(es10_iccid_for_app(&e, "sim-x", got), 0);
	assert_string_equal(got, want);
}

/* ---- GetEuiccData ---- */

static void
test_get_euicc_data(void **st)
{
	(void)st;
	vec req = hx("BF3E 03"   /* GetEuiccDataRequest [62] */
	             " 5C 01 5A" /* tagList [APPLICATION 28] = '5A' */
	);
	vec resp = hx("BF3E 12"  /* GetEuiccDataResponse [62] */
	              " 5A 10 89 04 90 32 12 34 51 23 45 12 34 56 78 90 12 35" /* eidValue, plain nibbles */
	);
	asn1_dump("GetEuiccDataRequest", req.b, req.n);
	asn1_dump("GetEuiccDataResponse", resp.b, resp.n);
	ENC(es10_get_euicc_data_req_encode(&o_, &l_), &req);
	assert_int_equal(es10_get_euicc_data_req_decode(req.b, req.n), 0);
	uint8_t eid[16];
	assert_int_equal(es10_get_euicc_data_resp_decode(resp.b, resp.n, eid), 0);
	assert_memory_equal(eid, resp.b + 5, 16);
	ENC(es10_get_euicc_data_resp_encode(eid, &o_, &l_), &resp);

	/* Refusals. */
	vec v = hx("BF3E 03 5C 01 4F"); /* tagList must be 5A */
	assert_int_equal(es10_get_euicc_data_req_decode(v.b, v.n), TS_EPARSE);
	v = hx("BF3E 00"); /* tagList is mandatory */
	assert_int_equal(es10_get_euicc_data_req_decode(v.b, v.n), TS_EPARSE);
	v = hx("BF3E 03 5C 01 5A 00"); /* trailing byte */
	assert_int_equal(es10_get_euicc_data_req_decode(v.b, v.n), TS_ETRAILING);
	v = hx("BF3E 04 5C 01 5A"); /* length past the end */
	assert_int_equal(es10_get_euicc_data_req_decode(v.b, v.n), TS_EPARSE);
	v = hx("BF3F 03 5C 01 5A"); /* wrong tag */
	assert_int_equal(es10_get_euicc_data_req_decode(v.b, v.n), TS_EPARSE);
	v = hx("BF3E 11 5A 0F 89 04 90 32 12 34 51 23 45 12 34 56 78 90 12"); /* 15-byte EID */
	assert_int_equal(es10_get_euicc_data_resp_decode(v.b, v.n, eid), TS_EPARSE);
	v = hx("BF3E 00"); /* no eidValue */
	assert_int_equal(es10_get_euicc_data_resp_decode(v.b, v.n, eid), TS_EPARSE);
}

/* ---- empty requests, result responses ---- */

static void
test_empty_requests(void **st)
{
	(void)st;
	static const struct { uint32_t tag; const char *hex, *type; } r[] = {
		{ ES10_TAG_GET_EUICC_INFO1, "BF20 00", "GetEuiccInfo1Request" },          /* [32] */
		{ ES10_TAG_GET_EUICC_INFO2, "BF22 00", "GetEuiccInfo2Request" },          /* [34] */
		{ ES10_TAG_EUICC_CONFIGURED_ADDRESSES, "BF3C 00", "EuiccConfiguredAddressesRequest" }, /* [60] */
		{ ES10_TAG_GET_RAT, "BF43 00", "GetRatRequest" },                         /* [67] */
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		vec v = hx(r[i].hex);
		asn1_dump(r[i].type, v.b, v.n);
		ENC(es10_empty_req_encode(r[i].tag, &o_, &l_), &v);
		assert_int_equal(es10_empty_req_decode(r[i].tag, v.b, v.n), 0);
	}
	vec v = hx("BF20 03 82 01 00"); /* no data expected */
	assert_int_equal(es10_empty_req_decode(ES10_TAG_GET_EUICC_INFO1, v.b, v.n), TS_EPARSE);
	v = hx("BF22 00");
	assert_int_equal(es10_empty_req_decode(ES10_TAG_GET_EUICC_INFO1, v.b, v.n), TS_EPARSE);
	v = hx("BF20 00 00");
	assert_int_equal(es10_empty_req_decode(ES10_TAG_GET_EUICC_INFO1, v.b, v.n), TS_ETRAILING);
	v = hx("BF20 80"); /* indefinite length: not DER */
	assert_int_equal(es10_empty_req_decode(ES10_TAG_GET_EUICC_INFO1, v.b, v.n), TS_EPARSE);
}

static void
test_result_responses(void **st)
{
	(void)st;
	static const struct { uint32_t tag; const char *hex, *type; int code; } r[] = {
		/* EnableProfileResponse { enableResult [0] } profileNotInDisabledState */
		{ ES10_TAG_ENABLE_PROFILE, "BF31 03 80 01 02", "EnableProfileResponse", 2 },
		/* catBusy */
		{ ES10_TAG_ENABLE_PROFILE, "BF31 03 80 01 05", "EnableProfileResponse", 5 },
		/* DisableProfileResponse profileNotInEnabledState */
		{ ES10_TAG_DISABLE_PROFILE, "BF32 03 80 01 02", "DisableProfileResponse", 2 },
		/* DeleteProfileResponse ok */
		{ ES10_TAG_DELETE_PROFILE, "BF33 03 80 01 00", "DeleteProfileResponse", 0 },
		/* DeleteProfileResponse disallowedByPolicy */
		{ ES10_TAG_DELETE_PROFILE, "BF33 03 80 01 03", "DeleteProfileResponse", 3 },
		/* SetNicknameResponse iccidNotFound */
		{ ES10_TAG_SET_NICKNAME, "BF29 03 80 01 01", "SetNicknameResponse", 1 },
		/* NotificationSentResponse nothingToDelete */
		{ ES10_TAG_NOTIFICATION_SENT, "BF30 03 80 01 01", "NotificationSentResponse", 1 },
		/* EuiccMemoryResetResponse undefinedError */
		{ ES10_TAG_MEMORY_RESET, "BF34 03 80 01 7F", "EuiccMemoryResetResponse", 127 },
		/* SetDefaultDpAddressResponse ok */
		{ ES10_TAG_SET_DEFAULT_DP_ADDRESS, "BF3F 03 80 01 00", "SetDefaultDpAddressResponse", 0 },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		vec v = hx(r[i].hex);
		int code = -1;
		asn1_dump(r[i].type, v.b, v.n);
		assert_int_equal(es10_result_decode(r[i].tag, v.b, v.n, &code), 0);
		assert_int_equal(code, r[i].code);
		ENC(es10_result_encode(r[i].tag, code, &o_, &l_), &v);
	}
	int code;
	vec v = hx("BF31 04 80 02 00 02"); /* non-minimal INTEGER */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	v = hx("BF31 03 80 01 FF"); /* negative */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	v = hx("BF31 02 80 00"); /* empty INTEGER */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	v = hx("BF31 00"); /* result missing */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	v = hx("BF31 06 80 01 00 80 01 00"); /* twice */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	v = hx("BF32 03 80 01 00"); /* a disable answer to an enable */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	v = hx("BF31 04 A0 02 02 00"); /* constructed where INTEGER */
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), TS_EPARSE);
	/* A later version's extra element is skipped in a response. */
	v = hx("BF31 06 80 01 00 9F 7F 00");
	assert_int_equal(es10_result_decode(ES10_TAG_ENABLE_PROFILE, v.b, v.n, &code), 0);
	assert_int_equal(code, 0);
}

/* ---- EUICCInfo1 / EUICCInfo2 ---- */

static void
test_euicc_info1(void **st)
{
	(void)st;
	vec v = hx("BF20 35"                       /* EUICCInfo1 [32] */
	           " 82 03 02 02 02"               /* svn [2] v2.2.2 */
	           " A9 16 04 14 " SKI_HEX         /* euiccCiPKIdListForVerification [9] { SKI } */
	           " AA 16 04 14 " SKI_HEX);       /* euiccCiPKIdListForSigning [10] { SKI } */
	asn1_dump("EUICCInfo1", v.b, v.n);
	es10_euicc_info1 i;
	assert_int_equal(es10_euicc_info1_decode(v.b, v.n, &i), 0);
	assert_memory_equal(i.svn, "\x02\x02\x02", 3);
	assert_int_equal(i.ci_verify.n, 1);
	assert_int_equal(i.ci_verify.len[0], 20);
	assert_int_equal(i.ci_verify.id[0][0], 0xF5);
	assert_int_equal(i.ci_sign.n, 1);
	ENC(es10_euicc_info1_encode(&i, &o_, &l_), &v);

	vec bad = hx("BF20 1D 82 03 02 02 02 A9 16 04 14 " SKI_HEX); /* signing list missing */
	assert_int_equal(es10_euicc_info1_decode(bad.b, bad.n, &i), TS_EPARSE);
	bad = hx("BF20 07 82 03 02 02 02 A9 00"); /* lists must both be there */
	assert_int_equal(es10_euicc_info1_decode(bad.b, bad.n, &i), TS_EPARSE);
	bad = hx("BF20 09 82 03 02 02 02 A9 02 05 00"); /* list entry not an OCTET STRING */
	assert_int_equal(es10_euicc_info1_decode(bad.b, bad.n, &i), TS_EPARSE);
	bad = hx("BF20 08 82 02 02 02 A9 00 AA 00"); /* svn of 2 bytes */
	assert_int_equal(es10_euicc_info1_decode(bad.b, bad.n, &i), TS_EPARSE);
	bad = hx("BF20 09 A9 00 82 03 02 02 02 AA 00"); /* out of order */
	assert_int_equal(es10_euicc_info1_decode(bad.b, bad.n, &i), TS_EPARSE);
	/* Nine key ids: more than ES10_MAX_PKIDS. */
	bad = hx("BF20 24 82 03 02 02 02 A9 1B 04 01 01 04 01 02 04 01 03 04 01 04 04 01 05 04 01 06"
	         " 04 01 07 04 01 08 04 01 09 AA 00");
	assert_int_equal(es10_euicc_info1_decode(bad.b, bad.n, &i), TS_ELIMIT);
}

#define INFO2_HEX                                                                          \
	"BF22 7B"                    /* EUICCInfo2 [34] */                                  \
	" 81 03 02 03 01"            /* profileVersion [1] 2.3.1 */                         \
	" 82 03 02 02 02"            /* svn [2] 2.2.2 */                                    \
	" 83 03 01 00 00"            /* euiccFirmwareVer [3] 1.0.0 */                       \
	" 84 03 01 02 03"            /* extCardResource [4] */                              \
	" 85 03 01 68 02"            /* uiccCapability [5]: 1 unused bit; bits 1 2 4 14 */  \
	" 86 03 09 02 00"            /* ts102241Version [6] 9.2.0 */                        \
	" 87 03 02 03 00"            /* globalplatformVersion [7] 2.3.0 */                  \
	" 88 02 04 90"               /* rspCapability [8]: 4 unused; bits 0 3 */            \
	" A9 16 04 14 " SKI_HEX      /* euiccCiPKIdListForVerification [9] */               \
	" AA 16 04 14 " SKI_HEX      /* euiccCiPKIdListForSigning [10] */                   \
	" 8B 01 02"                  /* euiccCategory [11] mediumEuicc */                   \
	" 99 02 05 60"               /* forbiddenProfilePolicyRules [25]: ppr1 ppr2 */      \
	" 04 03 01 00 00"            /* ppVersion (universal OCTET STRING) */               \
	" 0C 0C 74 61 70 73 68 61 72 65 2D 73 61 73" /* sasAcreditationNumber "tapshare-sas" */ \
	" AC 08 80 02 50 4C 81 02 68 74" /* certificationDataObject [12] { [0] "PL", [1] "ht" } */

static void
test_euicc_info2(void **st)
{
	(void)st;
	vec v = hx(INFO2_HEX);
	asn1_dump("EUICCInfo2", v.b, v.n);
	es10_euicc_info2 i;
	assert_int_equal(es10_euicc_info2_decode(v.b, v.n, &i), 0);
	assert_memory_equal(i.profile_version, "\x02\x03\x01", 3);
	assert_memory_equal(i.firmware_version, "\x01\x00\x00", 3);
	assert_int_equal(i.ext_card_resource_len, 3);
	assert_int_equal(i.uicc_capability,
	    ES10_UICCCAP_USIM | ES10_UICCCAP_ISIM | ES10_UICCCAP_AKA_MILENAGE | ES10_UICCCAP_JAVACARD);
	assert_true(i.has_ts102241_version && i.has_gp_version);
	assert_int_equal(i.rsp_capability, ES10_RSPCAP_ADDITIONAL_PROFILE | ES10_RSPCAP_TEST_PROFILE);
	assert_int_equal(i.ci_verify.n, 1);
	assert_true(i.has_category);
	assert_int_equal(i.category, ES10_CATEGORY_MEDIUM);
	assert_true(i.has_forbidden_pprs);
	assert_int_equal(i.forbidden_pprs, ES10_PPR1 | ES10_PPR2);
	assert_memory_equal(i.pp_version, "\x01\x00\x00", 3);
	assert_string_equal(i.sas_accreditation, "tapshare-sas");
	assert_true(i.has_certification_data);
	assert_string_equal(i.platform_label, "PL");
	assert_string_equal(i.discovery_base_url, "ht");
	ENC(es10_euicc_info2_encode(&i, &o_, &l_), &v);

	/* The minimal form: optional elements absent, empty bit strings. */
	vec m = hx("BF22 38"                 /* EUICCInfo2 */
	           " 81 03 02 03 01"         /* profileVersion */
	           " 82 03 02 02 02"         /* svn */
	           " 83 03 01 00 00"         /* euiccFirmwareVer */
	           " 84 00"                  /* extCardResource (empty) */
	           " 85 01 00"               /* uiccCapability: no bit */
	           " 88 01 00"               /* rspCapability: no bit */
	           " A9 16 04 14 " SKI_HEX   /* verification */
	           " AA 00"                  /* signing: empty list */
	           " 04 03 01 00 00"         /* ppVersion */
	           " 0C 00");                /* sasAcreditationNumber "" */
	asn1_dump("EUICCInfo2", m.b, m.n);
	assert_int_equal(es10_euicc_info2_decode(m.b, m.n, &i), 0);
	assert_false(i.has_category || i.has_gp_version || i.has_ts102241_version || i.has_forbidden_pprs);
	assert_int_equal(i.uicc_capability, 0);
	assert_int_equal(i.ci_sign.n, 0);
	ENC(es10_euicc_info2_encode(&i, &o_, &l_), &m);

	/* A v3 eUICC's extra element after the known ones is skipped... */
	vec ext = hx("BF22 3B 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 01 00 88 01 00"
	             " A9 16 04 14 " SKI_HEX " AA 00 04 03 01 00 00 0C 00 8F 01 00");
	assert_int_equal(es10_euicc_info2_decode(ext.b, ext.n, &i), 0);
	/* ...a fixed-width capability mask with trailing zero bits is read... */
	vec fw = hx("BF22 3A 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 03 00 40 00 88 01 00"
	            " A9 16 04 14 " SKI_HEX " AA 00 04 03 01 00 00 0C 00");
	assert_int_equal(es10_euicc_info2_decode(fw.b, fw.n, &i), 0);
	assert_int_equal(i.uicc_capability, ES10_UICCCAP_USIM);
	/* ...but not padding bits that are set, an unused count > 7, or an
	 * unused count on an empty string. */
	vec bad = hx("BF22 39 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 02 03 69 88 01 00"
	             " A9 16 04 14 " SKI_HEX " AA 00 04 03 01 00 00 0C 00");
	assert_int_equal(es10_euicc_info2_decode(bad.b, bad.n, &i), TS_EPARSE);
	bad = hx("BF22 39 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 02 08 00 88 01 00"
	         " A9 16 04 14 " SKI_HEX " AA 00 04 03 01 00 00 0C 00");
	assert_int_equal(es10_euicc_info2_decode(bad.b, bad.n, &i), TS_EPARSE);
	bad = hx("BF22 38 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 01 03 88 01 00"
	         " A9 16 04 14 " SKI_HEX " AA 00 04 03 01 00 00 0C 00");
	assert_int_equal(es10_euicc_info2_decode(bad.b, bad.n, &i), TS_EPARSE);
	/* ppVersion missing. */
	bad = hx("BF22 33 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 01 00 88 01 00"
	         " A9 16 04 14 " SKI_HEX " AA 00 0C 00");
	assert_int_equal(es10_euicc_info2_decode(bad.b, bad.n, &i), TS_EPARSE);
	/* sasAcreditationNumber over 64 bytes. */
	vec lng = hx("BF22 79 81 03 02 03 01 82 03 02 02 02 83 03 01 00 00 84 00 85 01 00 88 01 00"
	             " A9 16 04 14 " SKI_HEX " AA 00 04 03 01 00 00 0C 41"
	             " 41414141414141414141414141414141 41414141414141414141414141414141"
	             " 41414141414141414141414141414141 41414141414141414141414141414141 41");
	assert_int_equal(es10_euicc_info2_decode(lng.b, lng.n, &i), TS_EPARSE);
}

/* extCardResource (ETSI TS 102 226): 81 installed apps, 82 free NVM, 83 free RAM. */
static void
test_ext_card_resource(void **st)
{
	(void)st;
	es10_ecr e;
	vec v = hx("81 01 02"          /* 2 applications installed */
	           " 82 04 00 80 00 00" /* free non-volatile memory 8 MiB */
	           " 83 02 10 00"      /* free volatile memory 4096 */
	           " 84 01 00");       /* a later tag: skipped */
	assert_int_equal(es10_ecr_decode(v.b, v.n, &e), 0);
	assert_true(e.has_installed_apps && e.has_free_nvm && e.has_free_ram);
	assert_int_equal(e.installed_apps, 2);
	assert_int_equal(e.free_nvm, 0x800000);
	assert_int_equal(e.free_ram, 4096);
	vec none = hx("");
	assert_int_equal(es10_ecr_decode(none.b, 0, &e), 0);
	assert_false(e.has_installed_apps || e.has_free_nvm || e.has_free_ram);
	vec bad = hx("81 01 02 81 01 03"); /* twice */
	assert_int_equal(es10_ecr_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx("82 00"); /* empty number */
	assert_int_equal(es10_ecr_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx("82 09 01 02 03 04 05 06 07 08 09"); /* over 64 bits */
	assert_int_equal(es10_ecr_decode(bad.b, bad.n, &e), TS_EPARSE);
	bad = hx("81 02 02"); /* truncated */
	assert_int_equal(es10_ecr_decode(bad.b, bad.n, &e), TS_EPARSE);
}

/* ---- EuiccConfiguredAddresses / SetDefaultDpAddress ---- */

static void
test_addresses(void **st)
{
	(void)st;
	vec v = hx("BF3C 16"                                   /* EuiccConfiguredAddressesResponse [60] */
	           " 80 08 64 70 2E 65 78 2E 6F 72"            /* defaultDpAddress "dp.ex.or" */
	           " 81 0A 6C 70 61 2E 64 73 2E 63 6F 6D");    /* rootDsAddress "lpa.ds.com" */
	asn1_dump("EuiccConfiguredAddressesResponse", v.b, v.n);
	es10_configured_addresses a;
	assert_int_equal(es10_configured_addresses_decode(v.b, v.n, &a), 0);
	assert_true(a.has_default_dp);
	assert_string_equal(a.default_dp, "dp.ex.or");
	assert_string_equal(a.root_ds, "lpa.ds.com");
	ENC(es10_configured_addresses_encode(&a, &o_, &l_), &v);
	vec nodp = hx("BF3C 0C 81 0A 6C 70 61 2E 64 73 2E 63 6F 6D"); /* no default */
	asn1_dump("EuiccConfiguredAddressesResponse", nodp.b, nodp.n);
	assert_int_equal(es10_configured_addresses_decode(nodp.b, nodp.n, &a), 0);
	assert_false(a.has_default_dp);
	ENC(es10_configured_addresses_encode(&a, &o_, &l_), &nodp);
	vec bad = hx("BF3C 0A 80 08 64 70 2E 65 78 2E 6F 72"); /* rootDsAddress missing */
	assert_int_equal(es10_configured_addresses_decode(bad.b, bad.n, &a), TS_EPARSE);
	bad = hx("BF3C 05 81 03 61 00 62"); /* NUL inside */
	assert_int_equal(es10_configured_addresses_decode(bad.b, bad.n, &a), TS_EPARSE);
	bad = hx("BF3C 04 81 02 C3 28"); /* ill-formed UTF-8 */
	assert_int_equal(es10_configured_addresses_decode(bad.b, bad.n, &a), TS_EPARSE);
	bad = hx("BF3C 04 81 02 C0 AF"); /* overlong "/" */
	assert_int_equal(es10_configured_addresses_decode(bad.b, bad.n, &a), TS_EPARSE);
	bad = hx("BF3C 05 81 03 ED A0 80"); /* a surrogate */
	assert_int_equal(es10_configured_addresses_decode(bad.b, bad.n, &a), TS_EPARSE);
	vec u = hx("BF3C 07 81 05 C3 A9 E2 82 AC"); /* "é€": fine */
	assert_int_equal(es10_configured_addresses_decode(u.b, u.n, &a), 0);
	assert_string_equal(a.root_ds, "\xC3\xA9\xE2\x82\xAC");

	vec req = hx("BF3F 0A"                          /* SetDefaultDpAddressRequest [63] */
	             " 80 08 64 70 2E 65 78 2E 6F 72"); /* defaultDpAddress "dp.ex.or" */
	asn1_dump("SetDefaultDpAddressRequest", req.b, req.n);
	char addr[ES10_ADDR_MAX + 1];
	assert_int_equal(es10_set_default_dp_req_decode(req.b, req.n, addr), 0);
	assert_string_equal(addr, "dp.ex.or");
	ENC(es10_set_default_dp_req_encode(addr, &o_, &l_), &req);
	vec empty = hx("BF3F 02 80 00"); /* "" = remove the default */
	asn1_dump("SetDefaultDpAddressRequest", empty.b, empty.n);
	assert_int_equal(es10_set_default_dp_req_decode(empty.b, empty.n, addr), 0);
	assert_string_equal(addr, "");
	bad = hx("BF3F 00");
	assert_int_equal(es10_set_default_dp_req_decode(bad.b, bad.n, addr), TS_EPARSE);
	bad = hx("BF3F 05 80 00 81 01 00"); /* unknown element in a request */
	assert_int_equal(es10_set_default_dp_req_decode(bad.b, bad.n, addr), TS_EPARSE);
}

/* ---- GetRAT ---- */

static void
test_rat(void **st)
{
	(void)st;
	vec v = hx("BF43 1C"                 /* GetRatResponse [67] */
	           " A0 1A"                  /* rat [0] RulesAuthorisationTable */
	           "  30 18"                 /* ProfilePolicyAuthorisationRule */
	           "   80 02 05 60"          /* pprIds [0]: ppr1 ppr2 */
	           "   A1 0E"                /* allowedOperators [1] */
	           "    30 0C"               /* OperatorId */
	           "     80 03 32 F4 10"     /* mccMnc [0] 234/01 */
	           "     81 02 FF FF"        /* gid1 [1] */
	           "     82 01 01"           /* gid2 [2] */
	           "   82 02 07 80");        /* pprFlags [2]: consentRequired */
	asn1_dump("GetRatResponse", v.b, v.n);
	es10_rat r;
	assert_int_equal(es10_rat_decode(v.b, v.n, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.rules[0].ppr_ids, ES10_PPR1 | ES10_PPR2);
	assert_int_equal(r.rules[0].n_operators, 1);
	assert_memory_equal(r.rules[0].operators[0].mcc_mnc, "\x32\xF4\x10", 3);
	assert_true(r.rules[0].operators[0].has_gid1 && r.rules[0].operators[0].has_gid2);
	assert_int_equal(r.rules[0].ppr_flags, ES10_PPRFLAG_CONSENT_REQUIRED);
	ENC(es10_rat_encode(&r, &o_, &l_), &v);
	vec empty = hx("BF43 02 A0 00"); /* an empty table */
	asn1_dump("GetRatResponse", empty.b, empty.n);
	assert_int_equal(es10_rat_decode(empty.b, empty.n, &r), 0);
	assert_int_equal(r.n, 0);
	ENC(es10_rat_encode(&r, &o_, &l_), &empty);
	vec bad = hx("BF43 00"); /* rat missing */
	assert_int_equal(es10_rat_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF43 0B A0 09 30 07 80 01 00 A1 00 82 00"); /* pprFlags of no octet */
	assert_int_equal(es10_rat_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF43 0E A0 0C 30 0A 80 01 00 A1 02 30 00 82 01 00"); /* OperatorId without mccMnc */
	assert_int_equal(es10_rat_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF43 04 A0 02 04 00"); /* entry not a SEQUENCE */
	assert_int_equal(es10_rat_decode(bad.b, bad.n, &r), TS_EPARSE);
}

/* ---- ProfileInfoList ---- */

static void
test_profile_info_request(void **st)
{
	(void)st;
	es10_profile_info_req r;
	vec all = hx("BF2D 00"); /* ProfileInfoListRequest: no criteria, no tagList */
	asn1_dump("ProfileInfoListRequest", all.b, all.n);
	assert_int_equal(es10_profile_info_req_decode(all.b, all.n, &r), 0);
	assert_int_equal(r.search, ES10_SEARCH_NONE);
	assert_false(r.has_tag_list);
	ENC(es10_profile_info_req_encode(&r, &o_, &l_), &all);

	vec by_iccid = hx("BF2D 13"                     /* ProfileInfoListRequest [45] */
	                  " A0 0C 5A 0A " ICCID_A_HEX   /* searchCriteria [0] CHOICE: iccid */
	                  " 5C 03 5A 9F 70");           /* tagList: 5A, 9F70 */
	asn1_dump("ProfileInfoListRequest", by_iccid.b, by_iccid.n);
	assert_int_equal(es10_profile_info_req_decode(by_iccid.b, by_iccid.n, &r), 0);
	assert_int_equal(r.search, ES10_SEARCH_ICCID);
	assert_int_equal(r.id.kind, ES10_ID_ICCID);
	assert_true(r.has_tag_list);
	unsigned mask;
	assert_int_equal(es10_tag_list_mask(r.tag_list, r.tag_list_len, &mask), 0);
	assert_int_equal(mask, ES10_PI_ICCID | ES10_PI_STATE);
	ENC(es10_profile_info_req_encode(&r, &o_, &l_), &by_iccid);

	vec by_aid = hx("BF2D 14 A0 12 4F 10 " AID_HEX); /* searchCriteria: isdpAid */
	asn1_dump("ProfileInfoListRequest", by_aid.b, by_aid.n);
	assert_int_equal(es10_profile_info_req_decode(by_aid.b, by_aid.n, &r), 0);
	assert_int_equal(r.search, ES10_SEARCH_ISDP_AID);
	assert_int_equal(r.id.aid_len, 16);
	ENC(es10_profile_info_req_encode(&r, &o_, &l_), &by_aid);

	vec by_class = hx("BF2D 05 A0 03 95 01 02"); /* searchCriteria: profileClass operational */
	asn1_dump("ProfileInfoListRequest", by_class.b, by_class.n);
	assert_int_equal(es10_profile_info_req_decode(by_class.b, by_class.n, &r), 0);
	assert_int_equal(r.search, ES10_SEARCH_CLASS);
	assert_int_equal(r.profile_class, ES10_CLASS_OPERATIONAL);
	ENC(es10_profile_info_req_encode(&r, &o_, &l_), &by_class);

	vec bad = hx("BF2D 0F A0 0D 5A 0A " ICCID_A_HEX " 00"); /* a byte after the ICCID */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2D 0D A0 0B 5A 09 98 44 05 10 20 91 38 40 28"); /* 9-byte ICCID */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2D 08 A0 06 95 01 02 95 01 01"); /* two criteria */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2D 05 A0 03 92 01 41"); /* not a search criterion */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2D 07 5C 01 5A A0 02 4F 00"); /* out of order; empty AID */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2D 03 5C 01 9F"); /* tagList ending inside a tag */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2D 03 81 01 00"); /* unknown element in a request */
	assert_int_equal(es10_profile_info_req_decode(bad.b, bad.n, &r), TS_EPARSE);
}

#define PROFILE_E3_HEX                                                                    \
	"E3 81 84"                       /* ProfileInfo [PRIVATE 3], 132 bytes */              \
	" 5A 0A " ICCID_A_HEX            /* iccid */                                           \
	" 4F 10 " AID_HEX                /* isdpAid [APPLICATION 15] */                        \
	" 9F 70 01 01"                   /* profileState [112] enabled */                     \
	" 90 04 77 6F 72 6B"             /* profileNickname [16] "work" */                    \
	" 91 08 42 61 6E 6B 20 4F 6E 65" /* serviceProviderName [17] "Bank One" */            \
	" 92 07 42 61 6E 6B 2D 49 44"    /* profileName [18] "Bank-ID" */                     \
	" 93 01 01"                      /* iconType [19] png */                               \
	" 94 04 89 50 4E 47"             /* icon [20] */                                       \
	" 95 01 02"                      /* profileClass [21] operational */                   \
	" B6 20"                         /* notificationConfigurationInfo [22] */              \
	"  30 1E 80 02 04 70"            /*  { profileManagementOperation: enable disable delete */ \
	"   81 18 6E 6F 64 65 2E 74 61 70 73 68 61 72 65 2E 65 78 61 6D 70 6C 65 3A 38 34" \
	                                 /*    notificationAddress "node.tapshare.example:84" } */ \
	" B7 0A 80 03 32 F4 10 81 03 42 41 4E" /* profileOwner [23] { mccMnc, gid1 "BAN" } */  \
	" B8 09 80 07 2B 06 01 04 01 82 37" /* dpProprietaryData [24] { dpOid [0] (automatic) } */           \
	" 99 02 06 40"                   /* profilePolicyRules [25]: 6 unused; ppr1 (bit 1) */

static void
test_profile_info_response(void **st)
{
	(void)st;
	vec v = hx("BF2D 81 8A"          /* ProfileInfoListResponse [45] */
	           " A0 81 87 " PROFILE_E3_HEX); /* profileInfoListOk: SEQUENCE OF ProfileInfo */
	asn1_dump("ProfileInfoListResponse", v.b, v.n);
	es10_profile_list l;
	assert_int_equal(es10_profile_list_decode(v.b, v.n, &l), 0);
	assert_int_equal(l.error, 0);
	assert_int_equal(l.n, 1);
	es10_profile_info *p = &l.items[0];
	assert_int_equal(p->present, ES10_PI_ALL & ~0u);
	char d[21];
	assert_int_equal(es10_iccid_to_digits(p->iccid, d), 0);
	assert_string_equal(d, ICCID_A);
	assert_int_equal(p->aid_len, 16);
	assert_int_equal(p->state, ES10_STATE_ENABLED);
	assert_string_equal(p->nickname, "work");
	assert_string_equal(p->spn, "Bank One");
	assert_string_equal(p->name, "Bank-ID");
	assert_int_equal(p->icon_type, ES10_ICON_PNG);
	assert_int_equal(p->icon_len, 4);
	assert_int_equal(p->profile_class, ES10_CLASS_OPERATIONAL);
	assert_int_equal(p->n_notif_cfg, 1);
	assert_int_equal(p->notif_cfg[0].events, ES10_EVENT_ENABLE | ES10_EVENT_DISABLE | ES10_EVENT_DELETE);
	assert_string_equal(p->notif_cfg[0].address, "node.tapshare.example:84");
	assert_memory_equal(p->owner.mcc_mnc, "\x32\xF4\x10", 3);
	assert_true(p->owner.has_gid1);
	assert_false(p->owner.has_gid2);
	assert_int_equal(p->dp_proprietary_len, 9);
	assert_int_equal(p->pprs, ES10_PPR1);
	ENC(es10_profile_list_encode(l.items, l.n, &o_, &l_), &v);

	/* A tag-list answer: only ICCID and state, in two entries. */
	vec two = hx("BF2D 26 A0 24"
	             " E3 10 5A 0A " ICCID_A_HEX " 9F 70 01 01"  /* { iccid, enabled } */
	             " E3 10 5A 0A " ICCID_B_HEX " 9F 70 01 00"); /* { iccid, disabled } */
	asn1_dump("ProfileInfoListResponse", two.b, two.n);
	es10_profile_list_clear(&l);
	assert_int_equal(es10_profile_list_decode(two.b, two.n, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[1].present, ES10_PI_ICCID | ES10_PI_STATE);
	assert_int_equal(l.items[1].state, ES10_STATE_DISABLED);
	assert_int_equal(l.items[1].profile_class, ES10_CLASS_OPERATIONAL); /* absent: operational */
	ENC(es10_profile_list_encode(l.items, l.n, &o_, &l_), &two);

	vec none = hx("BF2D 02 A0 00"); /* no profile */
	asn1_dump("ProfileInfoListResponse", none.b, none.n);
	es10_profile_list_clear(&l);
	assert_int_equal(es10_profile_list_decode(none.b, none.n, &l), 0);
	assert_int_equal(l.n, 0);
	ENC(es10_profile_list_encode(NULL, 0, &o_, &l_), &none);

	vec err = hx("BF2D 03 81 01 01"); /* profileInfoListError incorrectInputValues */
	asn1_dump("ProfileInfoListResponse", err.b, err.n);
	assert_int_equal(es10_profile_list_decode(err.b, err.n, &l), 0);
	assert_int_equal(l.error, ES10_INCORRECT_INPUT_VALUES);
	ENC(es10_list_error_encode(ES10_TAG_PROFILE_INFO_LIST, 1, &o_, &l_), &err);

	/* Refusals. */
	vec bad = hx("BF2D 06 A0 04 E3 02 5A 00"); /* 0-byte ICCID */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 0C A0 0A E3 08 9F 70 01 01 9F 70 01 00"); /* state twice */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 14 A0 12 E3 10 9F 70 01 01 5A 0A " ICCID_A_HEX); /* out of order */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 07 A0 05 30 03 80 01 00"); /* entry not E3 */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 05 A0 00 81 01 7F"); /* both alternatives */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 03 81 01 00"); /* an "error" 0 */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 0A A0 08 E3 06 B6 04 30 02 80 00"); /* notification config without address */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	bad = hx("BF2D 06 A0 04 E3 02 95 00"); /* empty INTEGER */
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	/* 91 is SIZE(0..32): 33 bytes refused. */
	bad = hx("BF2D 27 A0 25 E3 23 91 21 41414141414141414141414141414141 41414141414141414141414141414141 41");
	assert_int_equal(es10_profile_list_decode(bad.b, bad.n, &l), TS_EPARSE);
	/* A refArDo (BF76) and an unknown later element are skipped. */
	vec ext = hx("BF2D 0E A0 0C E3 0A 9F 70 01 01 BF 76 00 9F 7E 00");
	assert_int_equal(es10_profile_list_decode(ext.b, ext.n, &l), 0);
	assert_int_equal(l.items[0].present, ES10_PI_STATE);
	es10_profile_list_clear(&l);
	es10_profile_list_clear(&l);
}

/* ---- Enable / Disable / Delete / SetNickname ---- */

static void
test_switch_requests(void **st)
{
	(void)st;
	es10_profile_id id;
	int refresh;
	vec en = hx("BF31 11"                      /* EnableProfileRequest [49] */
	            " A0 0C 5A 0A " ICCID_A_HEX    /* profileIdentifier [0] CHOICE: iccid */
	            " 81 01 FF");                  /* refreshFlag [1] TRUE */
	asn1_dump("EnableProfileRequest", en.b, en.n);
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, en.b, en.n, &id, &refresh), 0);
	assert_int_equal(id.kind, ES10_ID_ICCID);
	assert_int_equal(refresh, 1);
	ENC(es10_switch_req_encode(ES10_TAG_ENABLE_PROFILE, &id, refresh, &o_, &l_), &en);

	vec dis = hx("BF32 17"                     /* DisableProfileRequest [50] */
	             " A0 12 4F 10 " AID_HEX       /* profileIdentifier: isdpAid */
	             " 81 01 00");                 /* refreshFlag FALSE */
	asn1_dump("DisableProfileRequest", dis.b, dis.n);
	assert_int_equal(es10_switch_req_decode(ES10_TAG_DISABLE_PROFILE, dis.b, dis.n, &id, &refresh), 0);
	assert_int_equal(id.kind, ES10_ID_ISDP_AID);
	assert_int_equal(id.aid_len, 16);
	assert_int_equal(refresh, 0);
	ENC(es10_switch_req_encode(ES10_TAG_DISABLE_PROFILE, &id, refresh, &o_, &l_), &dis);
	vec en_aid = hx("BF31 17 A0 12 4F 10 " AID_HEX " 81 01 00");
	asn1_dump("EnableProfileRequest", en_aid.b, en_aid.n);
	vec dis_iccid = hx("BF32 11 A0 0C 5A 0A " ICCID_B_HEX " 81 01 FF");
	asn1_dump("DisableProfileRequest", dis_iccid.b, dis_iccid.n);

	vec bad = hx("BF31 0E A0 0C 5A 0A " ICCID_A_HEX); /* refreshFlag missing */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);
	bad = hx("BF31 11 A0 0C 5A 0A " ICCID_A_HEX " 81 01 01"); /* BOOLEAN 01: not DER */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);
	bad = hx("BF31 0F 5A 0A " ICCID_A_HEX " 81 01 FF"); /* CHOICE not wrapped in A0 */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);
	bad = hx("BF31 07 A0 02 80 00 81 01 FF"); /* the old private tag 80 */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);
	bad = hx("BF31 13 A0 0E 5A 0A " ICCID_A_HEX " 4F 00 81 01 FF"); /* two identifiers */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);
	bad = hx("BF31 14 A0 0C 5A 0A " ICCID_A_HEX " 81 01 FF 82 01 00"); /* unknown element */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);
	bad = hx("BF31 19 A0 14 4F 12 " AID_HEX " 00 00 81 01 FF"); /* 18-byte AID */
	assert_int_equal(es10_switch_req_decode(ES10_TAG_ENABLE_PROFILE, bad.b, bad.n, &id, &refresh), TS_EPARSE);

	vec del = hx("BF33 0C"                    /* DeleteProfileRequest [51] CHOICE */
	             " 5A 0A " ICCID_A_HEX);       /* iccid */
	asn1_dump("DeleteProfileRequest", del.b, del.n);
	assert_int_equal(es10_delete_req_decode(del.b, del.n, &id), 0);
	assert_int_equal(id.kind, ES10_ID_ICCID);
	ENC(es10_delete_req_encode(&id, &o_, &l_), &del);
	vec del_aid = hx("BF33 12 4F 10 " AID_HEX); /* isdpAid */
	asn1_dump("DeleteProfileRequest", del_aid.b, del_aid.n);
	assert_int_equal(es10_delete_req_decode(del_aid.b, del_aid.n, &id), 0);
	assert_int_equal(id.kind, ES10_ID_ISDP_AID);
	ENC(es10_delete_req_encode(&id, &o_, &l_), &del_aid);
	bad = hx("BF33 00");
	assert_int_equal(es10_delete_req_decode(bad.b, bad.n, &id), TS_EPARSE);
	bad = hx("BF33 0E A0 0C 5A 0A " ICCID_A_HEX); /* wrapped: the CHOICE is the [51] itself */
	assert_int_equal(es10_delete_req_decode(bad.b, bad.n, &id), TS_EPARSE);

	vec nick = hx("BF29 12"                   /* SetNicknameRequest [41] */
	              " 5A 0A " ICCID_A_HEX       /* iccid */
	              " 90 04 77 6F 72 6B");      /* profileNickname [16] "work" */
	asn1_dump("SetNicknameRequest", nick.b, nick.n);
	uint8_t iccid[10];
	char nn[ES10_NICKNAME_MAX + 1];
	assert_int_equal(es10_set_nickname_req_decode(nick.b, nick.n, iccid, nn), 0);
	assert_string_equal(nn, "work");
	ENC(es10_set_nickname_req_encode(iccid, nn, &o_, &l_), &nick);
	vec clr = hx("BF29 0E 5A 0A " ICCID_A_HEX " 90 00"); /* empty nickname */
	asn1_dump("SetNicknameRequest", clr.b, clr.n);
	assert_int_equal(es10_set_nickname_req_decode(clr.b, clr.n, iccid, nn), 0);
	assert_string_equal(nn, "");
	bad = hx("BF29 06 90 04 77 6F 72 6B"); /* ICCID missing */
	assert_int_equal(es10_set_nickname_req_decode(bad.b, bad.n, iccid, nn), TS_EPARSE);
	bad = hx("BF29 08 4F 00 90 04 77 6F 72 6B"); /* by AID: not allowed */
	assert_int_equal(es10_set_nickname_req_decode(bad.b, bad.n, iccid, nn), TS_EPARSE);
	char big[70];
	memset(big, 'a', 65);
	big[65] = '\0';
	uint8_t *o = NULL;
	size_t l = 0;
	assert_int_equal(es10_set_nickname_req_encode(iccid, big, &o, &l), TS_EINVAL); /* SIZE(0..64) */
}

/* ---- notifications ---- */

#define META_DELETE_HEX                                                      \
	"BF2F 25"                              /* NotificationMetadata [47] */ \
	" 80 02 00 C8"                         /* seqNumber [0] 200 (00: positive) */ \
	" 81 02 04 10"                         /* profileManagementOperation [1]: 4 unused, delete (3) */ \
	" 0C 0F 6E 6F 64 65 2E 65 78 61 6D 70 6C 65 3A 38 34" /* notificationAddress "node.example:84" */ \
	" 5A 0A " ICCID_A_HEX                  /* iccid */

#define META_INSTALL_HEX                                                     \
	"BF2F 24"                              /* NotificationMetadata */      \
	" 80 01 01"                            /* seqNumber 1 */                \
	" 81 02 07 80"                         /* 7 unused, install (0) */       \
	" 0C 0F 6E 6F 64 65 2E 65 78 61 6D 70 6C 65 3A 38 34" /* "node.example:84" */ \
	" 5A 0A " ICCID_B_HEX                  /* iccid */

#define CERT_HEX "30 08 30 03 02 01 01 03 01 00" /* DER-shaped stand-in for a certificate */

#define OTHER_HEX                                                             \
	"30 7F"                                /* OtherSignedNotification */    \
	" " META_DELETE_HEX                    /* tbsOtherNotification */       \
	" 5F 37 40 " SIG64_HEX                 /* euiccNotificationSignature [APPLICATION 55] */ \
	" " CERT_HEX                           /* euiccCertificate */            \
	" " CERT_HEX                           /* eumCertificate */

#define PIR_HEX                                                               \
	"BF37 81 A0"                           /* ProfileInstallationResult [55] */ \
	" BF27 5A"                             /* profileInstallationResultData [39] */ \
	"  80 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF" /* transactionId [0] */ \
	"  " META_INSTALL_HEX                  /* notificationMetadata [47] */  \
	"  06 07 2B 06 01 04 01 82 37"         /* smdpOid 1.3.6.1.4.1.311 */     \
	"  A2 16"                              /* finalResult [2] CHOICE */     \
	"   A0 14"                             /* successResult [0] */          \
	"    4F 10 " AID_HEX                   /* aid [APPLICATION 15] */       \
	"    04 00"                            /* simaResponse (empty) */       \
	" 5F 37 40 " SIG64_HEX                 /* euiccSignPIR */

static void
test_notification_metadata(void **st)
{
	(void)st;
	vec v = hx(META_DELETE_HEX);
	asn1_dump("NotificationMetadata", v.b, v.n);
	es10_notif_metadata m;
	assert_int_equal(es10_notif_metadata_decode(v.b, v.n, &m), 0);
	assert_int_equal(m.seq, 200);
	assert_int_equal(m.event, ES10_EVENT_DELETE);
	assert_string_equal(m.address, "node.example:84");
	assert_true(m.has_iccid);
	ENC(es10_notif_metadata_encode(&m, &o_, &l_), &v);
	vec noiccid = hx("BF2F 18 80 01 00 81 02 05 20 0C 0F 6E 6F 64 65 2E 65 78 61 6D 70 6C 65 3A 38 34");
	asn1_dump("NotificationMetadata", noiccid.b, noiccid.n); /* seq 0, disable, no iccid */
	assert_int_equal(es10_notif_metadata_decode(noiccid.b, noiccid.n, &m), 0);
	assert_int_equal(m.seq, 0);
	assert_int_equal(m.event, ES10_EVENT_DISABLE);
	assert_false(m.has_iccid);
	ENC(es10_notif_metadata_encode(&m, &o_, &l_), &noiccid);

	vec bad = hx("BF2F 09 80 01 00 81 02 04 30 0C 00"); /* two events set */
	assert_int_equal(es10_notif_metadata_decode(bad.b, bad.n, &m), TS_EPARSE);
	bad = hx("BF2F 08 80 01 00 81 01 00 0C 00"); /* no event */
	assert_int_equal(es10_notif_metadata_decode(bad.b, bad.n, &m), TS_EPARSE);
	bad = hx("BF2F 07 80 01 00 81 02 04 10"); /* address missing */
	assert_int_equal(es10_notif_metadata_decode(bad.b, bad.n, &m), TS_EPARSE);
	bad = hx("BF2F 09 80 01 80 81 02 04 10 0C 00"); /* negative seqNumber */
	assert_int_equal(es10_notif_metadata_decode(bad.b, bad.n, &m), TS_EPARSE);
	m.event = ES10_EVENT_ENABLE | ES10_EVENT_DELETE;
	uint8_t *o = NULL;
	size_t l = 0;
	assert_int_equal(es10_notif_metadata_encode(&m, &o, &l), TS_EINVAL);
}

static void
test_list_notification(void **st)
{
	(void)st;
	int has;
	uint32_t ev;
	vec all = hx("BF28 00"); /* ListNotificationRequest: all */
	asn1_dump("ListNotificationRequest", all.b, all.n);
	assert_int_equal(es10_list_notif_req_decode(all.b, all.n, &has, &ev), 0);
	assert_false(has);
	ENC(es10_list_notif_req_encode(0, 0, &o_, &l_), &all);
	vec del = hx("BF28 04 81 02 04 10"); /* profileManagementOperation [1]: delete */
	asn1_dump("ListNotificationRequest", del.b, del.n);
	assert_int_equal(es10_list_notif_req_decode(del.b, del.n, &has, &ev), 0);
	assert_true(has);
	assert_int_equal(ev, ES10_EVENT_DELETE);
	ENC(es10_list_notif_req_encode(1, ev, &o_, &l_), &del);
	vec bad = hx("BF28 04 80 02 04 10");
	assert_int_equal(es10_list_notif_req_decode(bad.b, bad.n, &has, &ev), TS_EPARSE);

	vec resp = hx("BF28 51"           /* ListNotificationResponse [40] */
	              " A0 4F"            /* notificationMetadataList */
	              " " META_DELETE_HEX
	              " " META_INSTALL_HEX);
	asn1_dump("ListNotificationResponse", resp.b, resp.n);
	es10_notif_list l;
	assert_int_equal(es10_notif_list_decode(resp.b, resp.n, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.items[0].seq, 200);
	assert_int_equal(l.items[1].event, ES10_EVENT_INSTALL);
	ENC(es10_notif_list_encode(l.items, l.n, &o_, &l_), &resp);
	es10_notif_list_clear(&l);
	vec err = hx("BF28 03 81 01 7F"); /* listNotificationsResultError undefinedError */
	asn1_dump("ListNotificationResponse", err.b, err.n);
	assert_int_equal(es10_notif_list_decode(err.b, err.n, &l), 0);
	assert_int_equal(l.error, ES10_UNDEFINED_ERROR);
	ENC(es10_list_error_encode(ES10_TAG_LIST_NOTIFICATION, 127, &o_, &l_), &err);
	bad = hx("BF28 04 A0 02 30 00"); /* entry not BF2F */
	assert_int_equal(es10_notif_list_decode(bad.b, bad.n, &l), TS_EPARSE);
}

static void
test_retrieve_request(void **st)
{
	(void)st;
	es10_retrieve_req r;
	vec all = hx("BF2B 00");
	asn1_dump("RetrieveNotificationsListRequest", all.b, all.n);
	assert_int_equal(es10_retrieve_req_decode(all.b, all.n, &r), 0);
	assert_int_equal(r.by, ES10_RETRIEVE_ALL);
	ENC(es10_retrieve_req_encode(&r, &o_, &l_), &all);
	vec seq = hx("BF2B 06"      /* RetrieveNotificationsListRequest [43] */
	             " A0 04"       /* searchCriteria: CHOICE, automatically tagged [0] (explicit) */
	             " 80 02 00 C8"); /* seqNumber [0] 200 */
	asn1_dump("RetrieveNotificationsListRequest", seq.b, seq.n);
	assert_int_equal(es10_retrieve_req_decode(seq.b, seq.n, &r), 0);
	assert_int_equal(r.by, ES10_RETRIEVE_SEQ);
	assert_int_equal(r.seq, 200);
	ENC(es10_retrieve_req_encode(&r, &o_, &l_), &seq);
	vec ev = hx("BF2B 06 A0 04 81 02 07 80"); /* profileManagementOperation [1]: install */
	asn1_dump("RetrieveNotificationsListRequest", ev.b, ev.n);
	assert_int_equal(es10_retrieve_req_decode(ev.b, ev.n, &r), 0);
	assert_int_equal(r.by, ES10_RETRIEVE_EVENTS);
	assert_int_equal(r.events, ES10_EVENT_INSTALL);
	ENC(es10_retrieve_req_encode(&r, &o_, &l_), &ev);
	vec bad = hx("BF2B 04 80 02 00 C8"); /* criterion not wrapped */
	assert_int_equal(es10_retrieve_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2B 02 A0 00"); /* empty CHOICE */
	assert_int_equal(es10_retrieve_req_decode(bad.b, bad.n, &r), TS_EPARSE);
	bad = hx("BF2B 07 A0 05 80 03 00 00 C8"); /* non-minimal seqNumber */
	assert_int_equal(es10_retrieve_req_decode(bad.b, bad.n, &r), TS_EPARSE);
}

static void
test_pending_notifications(void **st)
{
	(void)st;
	vec other = hx(OTHER_HEX);
	vec pir = hx(PIR_HEX);
	asn1_dump("PendingNotification", other.b, other.n);
	asn1_dump("PendingNotification", pir.b, pir.n);
	asn1_dump("OtherSignedNotification", other.b, other.n);
	asn1_dump("ProfileInstallationResult", pir.b, pir.n);

	es10_pending n;
	assert_int_equal(es10_pending_decode(other.b, other.n, &n), 0);
	assert_int_equal(n.kind, ES10_PENDING_OTHER);
	assert_int_equal(n.meta.seq, 200);
	assert_int_equal(n.meta.event, ES10_EVENT_DELETE);
	assert_ptr_equal(n.tbs, other.b + 2); /* the BF2F TLV */
	assert_int_equal(n.tbs_len, 3 + 0x25);
	assert_int_equal(n.sig[63], 0x3F);
	assert_int_equal(n.euicc_cert_len, 10);
	assert_int_equal(n.der_len, other.n);

	assert_int_equal(es10_pending_decode(pir.b, pir.n, &n), 0);
	assert_int_equal(n.kind, ES10_PENDING_INSTALL);
	assert_int_equal(n.pir.tid_len, 16);
	assert_int_equal(n.meta.event, ES10_EVENT_INSTALL);
	assert_true(n.pir.has_smdp_oid);
	assert_int_equal(n.pir.smdp_oid_len, 7);
	assert_true(n.pir.success);
	assert_int_equal(n.pir.aid_len, 16);
	assert_int_equal(n.pir.sima_len, 0);
	assert_ptr_equal(n.tbs, pir.b + 4); /* the BF27 TLV */
	assert_int_equal(n.tbs_len, 3 + 0x5A);

	/* The error alternative. */
	vec perr = hx("BF37 81 92"                 /* ProfileInstallationResult */
	              " BF27 4C"
	              "  80 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF" /* transactionId */
	              "  " META_INSTALL_HEX
	              "  06 07 2B 06 01 04 01 82 37"   /* smdpOid */
	              "  A2 08 A1 06"                  /* finalResult: errorResult [1] */
	              "   80 01 05"                    /* bppCommandId loadProfileElements */
	              "   81 01 08"                    /* errorReason scp03tSecurityError */
	              " 5F 37 40 " SIG64_HEX);
	asn1_dump("PendingNotification", perr.b, perr.n);
	assert_int_equal(es10_pending_decode(perr.b, perr.n, &n), 0);
	assert_false(n.pir.success);
	assert_int_equal(n.pir.bpp_command_id, ES10_BPP_LOAD_PROFILE_ELEMENTS);
	assert_int_equal(n.pir.error_reason, ES10_ERR_SCP03T_SECURITY);

	vec list = hx("BF2B 82 01 29"        /* RetrieveNotificationsListResponse [43] */
	              " A0 82 01 25 "        /* notificationList: SEQUENCE OF PendingNotification */
	              OTHER_HEX " " PIR_HEX);
	asn1_dump("RetrieveNotificationsListResponse", list.b, list.n);
	es10_pending_list pl;
	assert_int_equal(es10_pending_list_decode(list.b, list.n, &pl), 0);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.items[0].kind, ES10_PENDING_OTHER);
	assert_int_equal(pl.items[1].kind, ES10_PENDING_INSTALL);
	es10_blob blobs[2] = { { pl.items[0].der, pl.items[0].der_len }, { pl.items[1].der, pl.items[1].der_len } };
	ENC(es10_pending_list_encode(blobs, 2, &o_, &l_), &list);
	es10_pending_list_clear(&pl);
	vec none = hx("BF2B 03 81 01 01"); /* notificationsListResultError noResultAvailable */
	asn1_dump("RetrieveNotificationsListResponse", none.b, none.n);
	assert_int_equal(es10_pending_list_decode(none.b, none.n, &pl), 0);
	assert_int_equal(pl.error, ES10_NO_RESULT_AVAILABLE);
	vec empty = hx("BF2B 02 A0 00");
	asn1_dump("RetrieveNotificationsListResponse", empty.b, empty.n);
	assert_int_equal(es10_pending_list_decode(empty.b, empty.n, &pl), 0);
	assert_int_equal(pl.n, 0);
	ENC(es10_pending_list_encode(NULL, 0, &o_, &l_), &empty);

	/* Refusals: the old private notification, a short signature, a
	 * certificate missing, an install event in an OtherSignedNotification. */
	vec bad = hx("BF2F 05 30 03 80 01 01");
	assert_int_equal(es10_pending_decode(bad.b, bad.n, &n), TS_EPARSE);
	vec shortsig = hx("30 42 " META_DELETE_HEX " 5F 37 03 00 01 02 " CERT_HEX " " CERT_HEX);
	assert_int_equal(es10_pending_decode(shortsig.b, shortsig.n, &n), TS_EPARSE);
	vec nocert = hx("30 75 " META_DELETE_HEX " 5F 37 40 " SIG64_HEX " " CERT_HEX);
	assert_int_equal(es10_pending_decode(nocert.b, nocert.n, &n), TS_EPARSE);
	vec inst = hx("30 7E " META_INSTALL_HEX " 5F 37 40 " SIG64_HEX " " CERT_HEX " " CERT_HEX);
	assert_int_equal(es10_pending_decode(inst.b, inst.n, &n), TS_EPARSE);
	vec trail = hx(OTHER_HEX " 00");
	assert_int_equal(es10_pending_decode(trail.b, trail.n, &n), TS_ETRAILING);
	/* ProfileInstallationResult whose metadata is not an install. */
	vec notinst = hx("BF37 81 A1 BF27 5B 80 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF "
	                 META_DELETE_HEX " 06 07 2B 06 01 04 01 82 37 A2 16 A0 14 4F 10 " AID_HEX " 04 00"
	                 " 5F 37 40 " SIG64_HEX);
	assert_int_equal(es10_pending_decode(notinst.b, notinst.n, &n), TS_EPARSE);
	/* finalResult missing. */
	vec nofinal = hx("BF37 81 88 BF27 42 80 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF "
	                 META_INSTALL_HEX " 06 07 2B 06 01 04 01 82 37 5F 37 40 " SIG64_HEX);
	assert_int_equal(es10_pending_decode(nofinal.b, nofinal.n, &n), TS_EPARSE);
	/* A list entry that is no PendingNotification. */
	vec badlist = hx("BF2B 04 A0 02 04 00");
	assert_int_equal(es10_pending_list_decode(badlist.b, badlist.n, &pl), TS_EPARSE);
}

/* Signing: the signature covers exactly the BF2F (resp. BF27) TLV — checked
 * with OpenSSL directly over the bytes the vector layout names. */
static void
test_signing(void **st)
{
	(void)st;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	vec cert = hx(CERT_HEX);
	es10_notif_metadata m;
	memset(&m, 0, sizeof(m));
	m.seq = 7;
	m.event = ES10_EVENT_ENABLE;
	snprintf(m.address, sizeof(m.address), "a.b");
	uint8_t *o = NULL;
	size_t l = 0;
	assert_int_equal(es10_other_notif_sign(&m, key, cert.b, cert.n, cert.b, cert.n, &o, &l), 0);
	vec tbs = hx("BF2F 0C 80 01 07 81 02 06 40 0C 03 61 2E 62"); /* seq 7, enable, "a.b" */
	assert_true(l > 3 + tbs.n);
	assert_int_equal(o[0], 0x30);
	assert_memory_equal(o + 2, tbs.b, tbs.n);
	const uint8_t *sig5f37 = o + 2 + tbs.n;
	assert_memory_equal(sig5f37, "\x5F\x37\x40", 3);
	/* r||s -> DER ECDSA-Sig-Value, verified by OpenSSL alone. */
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig5f37 + 3, 32, NULL), *s = BN_bin2bn(sig5f37 + 35, 32, NULL);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	unsigned char *dsig = NULL;
	int dlen = i2d_ECDSA_SIG(es, &dsig);
	assert_true(dlen > 0);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(ctx, dsig, (size_t)dlen, tbs.b, tbs.n), 1);
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(dsig);
	ECDSA_SIG_free(es);
	asn1_dump("PendingNotification", o, l);
	es10_pending n;
	assert_int_equal(es10_pending_decode(o, l, &n), 0);
	assert_int_equal(es10_pending_verify(&n, key), 0);
	n.sig[5] ^= 1;
	assert_int_equal(es10_pending_verify(&n, key), TS_EVERIFY);
	free(o);

	es10_pir p;
	memset(&p, 0, sizeof(p));
	p.tid_len = 1;
	p.tid[0] = 0xAB;
	p.meta.seq = 1;
	p.meta.event = ES10_EVENT_INSTALL;
	p.has_smdp_oid = 1;
	p.smdp_oid_len = 1;
	p.smdp_oid[0] = 0x2A; /* 1.2 */
	p.success = 1;
	p.aid_len = 5;
	memcpy(p.aid, "\xA0\x00\x00\x05\x59", 5);
	assert_int_equal(es10_pir_sign(&p, key, &o, &l), 0);
	vec data = hx("BF27 1F"                 /* profileInstallationResultData */
	              " 80 01 AB"               /* transactionId */
	              " BF2F 09 80 01 01 81 02 07 80 0C 00" /* metadata: seq 1, install, "" */
	              " 06 01 2A"               /* smdpOid 1.2 */
	              " A2 0B A0 09 4F 05 A0 00 00 05 59 04 00"); /* success { aid, simaResponse "" } */
	assert_int_equal(o[0], 0xBF);
	assert_int_equal(o[1], 0x37);
	assert_memory_equal(o + 3, data.b, data.n);
	asn1_dump("PendingNotification", o, l);
	assert_int_equal(es10_pending_decode(o, l, &n), 0);
	assert_int_equal(es10_pending_verify(&n, key), 0);
	assert_int_equal(n.tbs_len, data.n);
	free(o);
	p.meta.event = ES10_EVENT_DELETE;
	assert_int_equal(es10_pir_sign(&p, key, &o, &l), TS_EINVAL);
	EVP_PKEY_free(key);
}

static void
test_notification_sent_and_reset(void **st)
{
	(void)st;
	uint64_t seq;
	vec v = hx("BF30 04"          /* NotificationSentRequest [48] */
	           " 80 02 00 C8");   /* seqNumber [0] 200 */
	asn1_dump("NotificationSentRequest", v.b, v.n);
	assert_int_equal(es10_notif_sent_req_decode(v.b, v.n, &seq), 0);
	assert_int_equal(seq, 200);
	ENC(es10_notif_sent_req_encode(seq, &o_, &l_), &v);
	vec z = hx("BF30 03 80 01 00"); /* seqNumber 0 */
	asn1_dump("NotificationSentRequest", z.b, z.n);
	ENC(es10_notif_sent_req_encode(0, &o_, &l_), &z);
	vec bad = hx("BF30 00");
	assert_int_equal(es10_notif_sent_req_decode(bad.b, bad.n, &seq), TS_EPARSE);
	bad = hx("BF30 0C 80 0A 01 02 03 04 05 06 07 08 09 0A"); /* beyond 64 bits */
	assert_int_equal(es10_notif_sent_req_decode(bad.b, bad.n, &seq), TS_ELIMIT);

	uint32_t opt;
	vec r = hx("BF34 04"          /* EuiccMemoryResetRequest [52] */
	           " 82 02 05 E0");   /* resetOptions [2]: 5 unused; bits 0 1 2 */
	asn1_dump("EuiccMemoryResetRequest", r.b, r.n);
	assert_int_equal(es10_memory_reset_req_decode(r.b, r.n, &opt), 0);
	assert_int_equal(opt, ES10_RESET_OPERATIONAL | ES10_RESET_TEST | ES10_RESET_DEFAULT_SMDP);
	ENC(es10_memory_reset_req_encode(opt, &o_, &l_), &r);
	vec r2 = hx("BF34 04 82 02 06 40"); /* deleteFieldLoadedTestProfiles only */
	asn1_dump("EuiccMemoryResetRequest", r2.b, r2.n);
	assert_int_equal(es10_memory_reset_req_decode(r2.b, r2.n, &opt), 0);
	assert_int_equal(opt, ES10_RESET_TEST);
	ENC(es10_memory_reset_req_encode(opt, &o_, &l_), &r2);
	bad = hx("BF34 00"); /* resetOptions mandatory */
	assert_int_equal(es10_memory_reset_req_decode(bad.b, bad.n, &opt), TS_EPARSE);
	bad = hx("BF34 04 81 02 05 E0");
	assert_int_equal(es10_memory_reset_req_decode(bad.b, bad.n, &opt), TS_EPARSE);
}

int
main(void)
{
	asn1_dump_init("lib_es10");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iccid),
		cmocka_unit_test(test_iccid_for_app_definition),
		cmocka_unit_test(test_get_euicc_data),
		cmocka_unit_test(test_empty_requests),
		cmocka_unit_test(test_result_responses),
		cmocka_unit_test(test_euicc_info1),
		cmocka_unit_test(test_euicc_info2),
		cmocka_unit_test(test_ext_card_resource),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_rat),
		cmocka_unit_test(test_profile_info_request),
		cmocka_unit_test(test_profile_info_response),
		cmocka_unit_test(test_switch_requests),
		cmocka_unit_test(test_notification_metadata),
		cmocka_unit_test(test_list_notification),
		cmocka_unit_test(test_retrieve_request),
		cmocka_unit_test(test_pending_notifications),
		cmocka_unit_test(test_signing),
		cmocka_unit_test(test_notification_sent_and_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
