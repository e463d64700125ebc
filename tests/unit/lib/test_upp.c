/*
 * test_upp.c — the profile package codec (lib/upp.c) against byte-exact
 * vectors written by hand from the TCA eUICC Profile Package field lists
 * (PEDefinitions, AUTOMATIC TAGS), ETSI TS 102 221 §13.2 (EF-ICCID) and
 * 3GPP TS 31.102 §4.2.2 / §4.2.15 / §4.2.18 (EF-IMSI, EF-ACC, EF-AD); one
 * comment per TLV, no vector produced by the encoder. Then the strict
 * decoder's refusals, one mutation of the vector each. Every vector (and
 * every package the encoder produced) is handed to the asn1c check of
 * tests/asn1/TapshareUPP.asn (tests/asn1/dump.h, type "Package").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"
#include "lib/upp.h"

#include "../../asn1/dump.h"
#include "../hex_fixture.h"

/* ---- the vector: ICCID 8944012345678901234, IMSI 001010123456789 (MCC
 * 001, MNC 01: the ITU-T test network), K and OPc of 3GPP TS 35.208 test
 * set 1. ---- */

#define ICCID_BCD "98 44 10 32 54 76 98 10 32 F4" /* 89 44 01 23 .. 23 4F, nibble-swapped */
#define K_HEX "46 5B 5C E8 B1 99 B4 9F AA 5F 0A 2E E2 38 A6 BC"
#define OPC_HEX "CD 63 CB 71 95 4A 9F 4E 48 A5 99 4E 37 A0 2B AF"

#define PE_HEADER_HEX                                                              \
	"A0 38"                         /* ProfileElement.header [0] ProfileHeader */ \
	"  80 01 02"                    /* major-version 2 */                         \
	"  81 01 03"                    /* minor-version 3 */                         \
	"  82 0C 746170736861726520 53494D" /* profileType "tapshare SIM" */          \
	"  83 0A " ICCID_BCD            /* iccid */                                   \
	"  A5 04"                       /* eUICC-Mandatory-services ServicesList */   \
	"    81 00"                     /*   usim [1] NULL */                         \
	"    84 00"                     /*   milenage [4] NULL */                     \
	"  A6 10"                       /* eUICC-Mandatory-GFSTEList */               \
	"    06 06 67810F010201"        /*   2.23.143.1.2.1 id-MF */                  \
	"    06 06 67810F010204"        /*   2.23.143.1.2.4 id-USIM */

#define PE_MF_HEX                                                                   \
	"B0 3D"                       /* ProfileElement.mf [16] PE-MF */             \
	"  A0 05 8000 810101"           /* mf-header: mandated, identification 1 */    \
	"  81 06 67810F010201"          /* templateID id-MF */                         \
	"  A2 07"                       /* mf File */                                  \
	"    A1 05"                     /*   fileDescriptor Fcp */                     \
	"      C6 03 900100"            /*     pinStatusTemplateDO: PS_DO, no PIN */   \
	"  A4 0C"                       /* ef-iccid File */                            \
	"    83 0A " ICCID_BCD          /*   fillFileContent: EF-ICCID */              \
	"  A5 13"                       /* ef-dir File */                              \
	"    83 11"                     /*   fillFileContent: record 1 */              \
	"      61 0F"                   /*     application template */                 \
	"        4F 07 A0000000871002"  /*       AID: 3GPP RID + USIM */              \
	"        50 04 5553494D"        /*       label "USIM" */                       \
	"  A6 00"                       /* ef-arr File: template defaults */

#define PE_USIM_HEX                                                                 \
	"B3 4A"                       /* ProfileElement.usim [19] PE-USIM */         \
	"  A0 05 8000 810102"           /* usim-header: mandated, identification 2 */  \
	"  81 06 67810F010204"          /* templateID id-USIM */                       \
	"  A2 14"                       /* adf-usim File */                            \
	"    A1 12"                     /*   fileDescriptor Fcp */                     \
	"      83 02 7FF1"              /*     fileID (temporary) */                   \
	"      84 07 A0000000871002"    /*     dfName: the USIM AID */                 \
	"      C6 03 900100"            /*     pinStatusTemplateDO */                  \
	"  A3 0B"                       /* ef-imsi File */                             \
	"    83 09 08 09 10 10 10 32 54 76 98" /* EF-IMSI: 8 bytes, 0|odd|001, 01 01 01 23 45 67 89 */ \
	"  A4 00"                       /* ef-arr */                                   \
	"  A8 00"                       /* ef-ust [8] */                               \
	"  AD 00"                       /* ef-spn [13] */                              \
	"  AE 00"                       /* ef-est [14] */                              \
	"  B2 04 83 02 0200"            /* ef-acc [18]: access class 9 (bit 9) */      \
	"  B5 06 83 04 00000002"        /* ef-ad [21]: normal operation, MNC 2 digits */ \
	"  B6 00"                       /* ef-ecc [22] */

#define PE_AKA_HEX                                                                  \
	"A4 35"                         /* ProfileElement.akaParameter [4] */          \
	"  A0 05 8000 810103"           /* aka-header: mandated, identification 3 */   \
	"  A1 2C"                       /* algoConfiguration (a CHOICE: explicit) */   \
	"    A1 2A"                     /*   algoParameter [1] AlgoParameter */        \
	"      80 01 01"                /*     algorithmID milenage(1) */              \
	"      81 01 00"                /*     algorithmOptions */                     \
	"      82 10 " K_HEX            /*     key */                                  \
	"      83 10 " OPC_HEX          /*     opc */

#define PE_END4_HEX                                                                 \
	"AA 05"                         /* ProfileElement.end [10] PE-End */           \
	"  A0 03 810104"                /* end-header: identification 4 */

static const char *const PACKAGE = PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX;

static void
fill_sim(upp_sim *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->profile_type, sizeof(s->profile_type), "tapshare SIM");
	assert_int_equal(upp_iccid_encode("8944012345678901234", s->iccid), 0);
	snprintf(s->imsi, sizeof(s->imsi), "001010123456789");
	s->mnc_len = 2;
	vec k = hx(K_HEX), o = hx(OPC_HEX);
	memcpy(s->ki, k.b, UPP_KEY_LEN);
	memcpy(s->opc, o.b, UPP_KEY_LEN);
}

static void
test_iccid(void **state)
{
	(void)state;
	uint8_t b[UPP_ICCID_LEN];
	char d[UPP_ICCID_DIGITS_MAX + 1];
	/* 20 digits (ETSI TS 102 221 §13.2: digit 1 in the low nibble). */
	vec want = hx("98 10 14 30 12 11 81 15 70 02");
	assert_int_equal(upp_iccid_encode("89014103211118510720", b), 0);
	expect_bytes(b, sizeof(b), &want);
	assert_int_equal(upp_iccid_decode(b, d), 0);
	assert_string_equal(d, "89014103211118510720");
	/* 19 digits: the 20th nibble is the filler F (high nibble of byte 10). */
	want = hx(ICCID_BCD);
	assert_int_equal(upp_iccid_encode("8944012345678901234", b), 0);
	expect_bytes(b, sizeof(b), &want);
	assert_int_equal(upp_iccid_decode(b, d), 0);
	assert_string_equal(d, "8944012345678901234");
	/* refusals */
	assert_int_equal(upp_iccid_encode("894401234567890", b), TS_EINVAL);      /* too short */
	assert_int_equal(upp_iccid_encode("894401234567890123X", b), TS_EINVAL);  /* not a digit */
	vec bad = hx("98 44 10 32 54 76 98 10 32 A4");                             /* nibble A */
	assert_int_equal(upp_iccid_decode(bad.b, d), TS_EPARSE);
	bad = hx("98 44 10 32 54 76 98 F0 32 14");                                 /* digit after F */
	assert_int_equal(upp_iccid_decode(bad.b, d), TS_EPARSE);
}

static void
test_imsi(void **state)
{
	(void)state;
	uint8_t b[UPP_EF_IMSI_LEN];
	char d[UPP_IMSI_DIGITS_MAX + 1];
	static const struct {
		const char *digits, *ef;
	} v[] = {
		/* 15 digits, odd: length 8, 0x09 = digit 1 (0) | parity 1 | type 001 */
		{ "001010123456789", "08 09 10 10 10 32 54 76 98" },
		/* 14 digits, even: parity 0, the last high nibble is the filler F */
		{ "00101012345678", "08 01 10 10 10 32 54 76 F8" },
		/* MCC 234, MNC 15, 15 digits */
		{ "234150999999999", "08 29 43 51 90 99 99 99 99" },
		/* 6 digits: 4 bytes used, the rest FF */
		{ "001011", "04 01 10 10 F1 FF FF FF FF" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		vec want = hx(v[i].ef);
		assert_int_equal(upp_imsi_encode(v[i].digits, b), 0);
		expect_bytes(b, sizeof(b), &want);
		assert_int_equal(upp_imsi_decode(want.b, want.n, d), 0);
		assert_string_equal(d, v[i].digits);
	}
	assert_int_equal(upp_imsi_encode("00101", b), TS_EINVAL);
	assert_int_equal(upp_imsi_encode("0010101234567890", b), TS_EINVAL);
	assert_int_equal(upp_imsi_encode("00101012345678a", b), TS_EINVAL);
	static const char *const bad[] = {
		"08 01 10 10 10 32 54 76 98", /* parity says even, last nibble is a digit */
		"08 09 10 10 10 32 54 76 F8", /* parity says odd, last nibble is F */
		"08 0A 10 10 10 32 54 76 98", /* identity type 010 (IMEI) */
		"09 09 10 10 10 32 54 76 98", /* length beyond the file */
		"04 01 10 10 F1 FF FF 00 FF", /* unused byte not FF */
		"08 09 10 10 1A 32 54 76 98", /* nibble A */
		"01 09 FF FF FF FF FF FF FF", /* too short */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vec x = hx(bad[i]);
		assert_int_equal(upp_imsi_decode(x.b, x.n, d), TS_EPARSE);
	}
	vec shortf = hx("08 09 10 10 10 32 54 76");
	assert_int_equal(upp_imsi_decode(shortf.b, shortf.n, d), TS_EPARSE);
}

static void
test_package_vector(void **state)
{
	(void)state;
	vec want = hx(PACKAGE);
	asn1_dump("Package", want.b, want.n);
	upp_sim s;
	fill_sim(&s);
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(upp_encode(&s, &out, &len), 0);
	expect_bytes(out, len, &want);
	asn1_dump("Package", out, len);
	free(out);

	upp_sim d;
	assert_int_equal(upp_decode(want.b, want.n, &d), 0);
	assert_int_equal(d.major, 2);
	assert_int_equal(d.minor, 3);
	assert_string_equal(d.profile_type, "tapshare SIM");
	assert_memory_equal(d.iccid, s.iccid, UPP_ICCID_LEN);
	assert_string_equal(d.imsi, "001010123456789");
	assert_int_equal(d.mnc_len, 2);
	assert_memory_equal(d.ki, s.ki, UPP_KEY_LEN);
	assert_memory_equal(d.opc, s.opc, UPP_KEY_LEN);
	assert_null(d.app_content);
	upp_sim_clear(&d);
	upp_sim_clear(&s);
}

#define PE_APP_HEX                                                                   \
	"A9 24"                         /* ProfileElement.nonStandard [9] */            \
	"  A0 03 810104"                /* nonStandard-header: identification 4 */      \
	"  81 14 6983CA869DAF89C6DA8A9FA3D3D0DD9F8EAFD15B" /* issuerID UPP_ISSUER_OID */ \
	"  82 07 E1 05 80 03 616263"    /* content (opaque here) */

#define PE_END5_HEX "AA 05 A0 03 810105" /* end, identification 5 */

static void
test_package_app_content(void **state)
{
	(void)state;
	vec want = hx(PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_APP_HEX PE_END5_HEX);
	asn1_dump("Package", want.b, want.n);
	vec content = hx("E1 05 80 03 616263");
	upp_sim s;
	fill_sim(&s);
	s.app_content = content.b;
	s.app_content_len = content.n;
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(upp_encode(&s, &out, &len), 0);
	expect_bytes(out, len, &want);
	free(out);
	upp_sim d;
	assert_int_equal(upp_decode(want.b, want.n, &d), 0);
	assert_int_equal(d.app_content_len, content.n);
	assert_memory_equal(d.app_content, content.b, content.n);
	/* A second one of ours is refused. */
	vec two = hx(PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_APP_HEX
	    "A9 24 A0 03 810106 81 14 6983CA869DAF89C6DA8A9FA3D3D0DD9F8EAFD15B 82 07 E1 05 80 03 616263"
	    PE_END5_HEX);
	assert_int_equal(upp_decode(two.b, two.n, &d), TS_EPARSE);
}

/* A credential-only package (bank-ID account, service token): no NAA, the
 * credential applet's content in a mandated nonStandard PE. */
#define CRED_PACKAGE                                                                 \
	"A0 33"                         /* header */                                   \
	"  80 01 02  81 01 03"          /* version 2.3 */                              \
	"  82 13 7461707368617265 20 63726564656E7469616C" /* "tapshare credential" */  \
	"  83 0A " ICCID_BCD            /* iccid */                                    \
	"  A5 00"                       /* no mandatory service */                     \
	"  A6 08 06 06 67810F010201"    /* templates: id-MF only */                    \
	"B0 2A"                         /* mf */                                       \
	"  A0 05 8000 810101"           /* mandated, id 1 */                           \
	"  81 06 67810F010201"          /* id-MF */                                    \
	"  A2 07 A1 05 C6 03 900100"    /* mf: PIN status template */                  \
	"  A4 0C 83 0A " ICCID_BCD      /* ef-iccid */                                 \
	"  A5 00"                       /* ef-dir: template (no application) */        \
	"  A6 00"                       /* ef-arr */                                   \
	"A9 26"                         /* nonStandard */                              \
	"  A0 05 8000 810102"           /* mandated, id 2 */                           \
	"  81 14 6983CA869DAF89C6DA8A9FA3D3D0DD9F8EAFD15B" /* tapshare's issuer */      \
	"  82 07 7B2261223A317D"        /* content {"a":1} */                          \
	"AA 05 A0 03 810103"            /* end, id 3 */

static void
test_credential_package(void **state)
{
	(void)state;
	vec want = hx(CRED_PACKAGE);
	asn1_dump("Package", want.b, want.n);
	upp_sim s;
	memset(&s, 0, sizeof(s));
	snprintf(s.profile_type, sizeof(s.profile_type), "tapshare credential");
	assert_int_equal(upp_iccid_encode("8944012345678901234", s.iccid), 0);
	s.app_content = (const uint8_t *)"{\"a\":1}";
	s.app_content_len = 7;
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(upp_encode(&s, &out, &len), 0);
	expect_bytes(out, len, &want);
	free(out);
	upp_sim d;
	assert_int_equal(upp_decode(want.b, want.n, &d), 0);
	assert_string_equal(d.imsi, "");
	assert_int_equal(d.app_content_len, 7);
	assert_memory_equal(d.app_content, "{\"a\":1}", 7);
	/* without content there is nothing to install */
	s.app_content = NULL;
	s.app_content_len = 0;
	assert_int_equal(upp_encode(&s, &out, &len), TS_EINVAL);
	vec none = hx("A0 33 80 01 02 81 01 03 82 13 7461707368617265 20 63726564656E7469616C 83 0A " ICCID_BCD
	    " A5 00 A6 08 06 06 67810F010201"
	    " B0 2A A0 05 8000 810101 81 06 67810F010201 A2 07 A1 05 C6 03 900100 A4 0C 83 0A " ICCID_BCD
	    " A5 00 A6 00 AA 05 A0 03 810103");
	assert_int_equal(upp_decode(none.b, none.n, &d), TS_EPARSE);
	/* the usim service without a USIM; a USIM without the usim service */
	vec svc = hx(PE_HEADER_HEX PE_MF_HEX PE_APP_HEX PE_END5_HEX);
	assert_int_equal(upp_decode(svc.b, svc.n, &d), TS_EPARSE);
	vec nosvc = hx("A0 33 80 01 02 81 01 03 82 13 7461707368617265 20 63726564656E7469616C 83 0A " ICCID_BCD
	    " A5 00 A6 08 06 06 67810F010201" PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX);
	assert_int_equal(upp_decode(nosvc.b, nosvc.n, &d), TS_EPARSE);
}

static void
test_encode_refusals(void **state)
{
	(void)state;
	upp_sim s;
	uint8_t *out = NULL;
	size_t len = 0;
	fill_sim(&s);
	s.mnc_len = 1;
	assert_int_equal(upp_encode(&s, &out, &len), TS_EINVAL);
	fill_sim(&s);
	snprintf(s.imsi, sizeof(s.imsi), "00101");
	assert_int_equal(upp_encode(&s, &out, &len), TS_EINVAL);
	fill_sim(&s);
	s.iccid[9] = 0xA4;
	assert_int_equal(upp_encode(&s, &out, &len), TS_EINVAL);
	assert_null(out);
}

/* One mutation of the vector each, with the code the decoder must give. */
static void
test_decode_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *what, *hex;
		int code;
	} r[] = {
		{ "trailing byte after End", PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX "00",
		    TS_ETRAILING },
		{ "a PE after End", PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX PE_END5_HEX,
		    TS_ETRAILING },
		{ "no End", PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX, TS_EPARSE },
		{ "header not first", PE_MF_HEX PE_HEADER_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "two headers", PE_HEADER_HEX PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
		    TS_EPARSE },
		{ "no AKA parameter", PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_END4_HEX, TS_EPARSE },
		{ "USIM before MF", PE_HEADER_HEX PE_USIM_HEX PE_MF_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "truncated", PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX "AA 05 A0 03 8101", TS_EPARSE },
		{ "non-minimal length",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX "AA 8105 A0 03 810104", TS_EPARSE },
		/* header */
		{ "major version 4",
		    "A0 38 80 01 04 81 01 03 82 0C 746170736861726520 53494D 83 0A " ICCID_BCD
		    " A5 04 8100 8400 A6 10 0606 67810F010201 0606 67810F010204"
		    PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EUNSUPP },
		{ "fields out of order (minor before major)",
		    "A0 38 81 01 03 80 01 02 82 0C 746170736861726520 53494D 83 0A " ICCID_BCD
		    " A5 04 8100 8400 A6 10 0606 67810F010201 0606 67810F010204"
		    PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "iccid of 9 bytes",
		    "A0 37 80 01 02 81 01 03 82 0C 746170736861726520 53494D 83 09 98 44 10 32 54 76 98 10 32"
		    " A5 04 8100 8400 A6 10 0606 67810F010201 0606 67810F010204"
		    PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "mandatory service isim",
		    "A0 3A 80 01 02 81 01 03 82 0C 746170736861726520 53494D 83 0A " ICCID_BCD
		    " A5 06 8100 8200 8400 A6 10 0606 67810F010201 0606 67810F010204"
		    PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EUNSUPP },
		{ "service NULL with content",
		    "A0 39 80 01 02 81 01 03 82 0C 746170736861726520 53494D 83 0A " ICCID_BCD
		    " A5 05 8101 00 8400 A6 10 0606 67810F010201 0606 67810F010204"
		    PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "mandatory template id-ISIM 2.23.143.1.2.8",
		    "A0 40 80 01 02 81 01 03 82 0C 746170736861726520 53494D 83 0A " ICCID_BCD
		    " A5 04 8100 8400 A6 18 0606 67810F010201 0606 67810F010204 0606 67810F010208"
		    PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EUNSUPP },
		/* MF */
		{ "EF-ICCID differs from the header",
		    PE_HEADER_HEX
		    "B0 3D A0 05 8000 810101 81 06 67810F010201 A2 07 A1 05 C6 03 900100"
		    " A4 0C 83 0A 98 44 10 32 54 76 98 10 32 F5"
		    " A5 13 83 11 61 0F 4F 07 A0000000871002 50 04 5553494D A6 00"
		    PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EVERIFY },
		{ "MF without ef-arr",
		    PE_HEADER_HEX
		    "B0 3B A0 05 8000 810101 81 06 67810F010201 A2 07 A1 05 C6 03 900100"
		    " A4 0C 83 0A " ICCID_BCD " A5 13 83 11 61 0F 4F 07 A0000000871002 50 04 5553494D"
		    PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "MF with another template",
		    PE_HEADER_HEX
		    "B0 3D A0 05 8000 810101 81 06 67810F010202 A2 07 A1 05 C6 03 900100"
		    " A4 0C 83 0A " ICCID_BCD " A5 13 83 11 61 0F 4F 07 A0000000871002 50 04 5553494D A6 00"
		    PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EUNSUPP },
		{ "File element of an unknown tag",
		    PE_HEADER_HEX
		    "B0 3D A0 05 8000 810101 81 06 67810F010201 A2 07 A1 05 C6 03 900100"
		    " A4 0C 84 0A " ICCID_BCD " A5 13 83 11 61 0F 4F 07 A0000000871002 50 04 5553494D A6 00"
		    PE_USIM_HEX PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		/* USIM */
		{ "EF-IMSI with a wrong parity",
		    PE_HEADER_HEX PE_MF_HEX
		    "B3 4A A0 05 8000 810102 81 06 67810F010204 A2 14 A1 12 83 02 7FF1 84 07 A0000000871002"
		    " C6 03 900100 A3 0B 83 09 08 01 10 10 10 32 54 76 98 A4 00 A8 00 AD 00 AE 00"
		    " B2 04 83 02 0200 B5 06 83 04 00000002 B6 00"
		    PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "EF-IMSI not created",
		    PE_HEADER_HEX PE_MF_HEX
		    "B3 41 A0 05 8000 810102 81 06 67810F010204 A2 14 A1 12 83 02 7FF1 84 07 A0000000871002"
		    " C6 03 900100 A3 02 80 00 A4 00 A8 00 AD 00 AE 00"
		    " B2 04 83 02 0200 B5 06 83 04 00000002 B6 00"
		    PE_AKA_HEX PE_END4_HEX, TS_EUNSUPP },
		{ "EF-AD with MNC length 4",
		    PE_HEADER_HEX PE_MF_HEX
		    "B3 4A A0 05 8000 810102 81 06 67810F010204 A2 14 A1 12 83 02 7FF1 84 07 A0000000871002"
		    " C6 03 900100 A3 0B 83 09 08 09 10 10 10 32 54 76 98 A4 00 A8 00 AD 00 AE 00"
		    " B2 04 83 02 0200 B5 06 83 04 00000004 B6 00"
		    PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		{ "USIM fields out of order (ef-ad before ef-acc)",
		    PE_HEADER_HEX PE_MF_HEX
		    "B3 4A A0 05 8000 810102 81 06 67810F010204 A2 14 A1 12 83 02 7FF1 84 07 A0000000871002"
		    " C6 03 900100 A3 0B 83 09 08 09 10 10 10 32 54 76 98 A4 00 A8 00 AD 00 AE 00"
		    " B5 06 83 04 00000002 B2 04 83 02 0200 B6 00"
		    PE_AKA_HEX PE_END4_HEX, TS_EPARSE },
		/* AKA */
		{ "algorithm TUAK",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 35 A0 05 8000 810103 A1 2C A1 2A 80 01 02 81 01 00 82 10 " K_HEX " 83 10 " OPC_HEX
		    PE_END4_HEX, TS_EUNSUPP },
		{ "mapping parameter",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 17 A0 05 8000 810103 A1 0E A0 0C 80 01 01 81 07 A0000000871002"
		    PE_END4_HEX, TS_EUNSUPP },
		{ "rotation constants at their DEFAULT (not DER)",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 3C A0 05 8000 810103 A1 33 A1 31 80 01 01 81 01 00 82 10 " K_HEX " 83 10 " OPC_HEX
		    " 84 05 4000204060" PE_END4_HEX, TS_EPARSE },
		{ "operator rotation constants",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 3C A0 05 8000 810103 A1 33 A1 31 80 01 01 81 01 00 82 10 " K_HEX " 83 10 " OPC_HEX
		    " 84 05 4000204061" PE_END4_HEX, TS_EUNSUPP },
		{ "sqnOptions at its DEFAULT",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 38 A0 05 8000 810103 A1 2C A1 2A 80 01 01 81 01 00 82 10 " K_HEX " 83 10 " OPC_HEX
		    " 82 01 02" PE_END4_HEX, TS_EPARSE },
		{ "key of 15 bytes",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 34 A0 05 8000 810103 A1 2B A1 29 80 01 01 81 01 00 82 0F 465B5CE8B199B49FAA5F0A2EE238A6"
		    " 83 10 " OPC_HEX PE_END4_HEX, TS_EUNSUPP },
		{ "algorithmID non-minimal",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 36 A0 05 8000 810103 A1 2D A1 2B 80 02 0001 81 01 00 82 10 " K_HEX " 83 10 " OPC_HEX
		    PE_END4_HEX, TS_EPARSE },
		{ "two alternatives in algoConfiguration",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX
		    "A4 37 A0 05 8000 810103 A1 2E A1 2A 80 01 01 81 01 00 82 10 " K_HEX " 83 10 " OPC_HEX
		    " A1 00" PE_END4_HEX, TS_EPARSE },
		/* unknown and uninterpreted PEs */
		{ "mandated pinCodes PE",
		    PE_HEADER_HEX PE_MF_HEX "A2 0B A0 05 8000 810109 A0 02 8100" PE_USIM_HEX PE_AKA_HEX
		    PE_END4_HEX, TS_EUNSUPP },
		{ "mandated PE of a future version [40]",
		    PE_HEADER_HEX PE_MF_HEX "BF28 07 A0 05 8000 810109" PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
		    TS_EUNSUPP },
		{ "mandated nonStandard PE of another issuer",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX
		    "A9 0F A0 05 8000 810109 81 03 2A0304 82 01 00" PE_END4_HEX, TS_EUNSUPP },
		{ "a PE without PEHeader",
		    PE_HEADER_HEX PE_MF_HEX "A2 04 81 02 0001" PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
		    TS_EPARSE },
		{ "a primitive PE", PE_HEADER_HEX PE_MF_HEX "82 00" PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
		    TS_EPARSE },
		{ "a universal-class PE", PE_HEADER_HEX PE_MF_HEX "30 05 A0 03 810109" PE_USIM_HEX PE_AKA_HEX
		    PE_END4_HEX, TS_EPARSE },
		{ "duplicate identification",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX "AA 05 A0 03 810103", TS_EPARSE },
		{ "PEHeader mandated with content",
		    PE_HEADER_HEX PE_MF_HEX "A2 0A A0 06 8001 00 810109 8100" PE_USIM_HEX PE_AKA_HEX
		    PE_END4_HEX, TS_EPARSE },
		{ "empty content in tapshare's nonStandard PE",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX
		    "A9 1D A0 03 810104 81 14 6983CA869DAF89C6DA8A9FA3D3D0DD9F8EAFD15B 82 00" PE_END5_HEX,
		    TS_EPARSE },
		{ "identification above UInt15",
		    PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX "AA 07 A0 05 8103 008000", TS_ELIMIT },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		vec v = hx(r[i].hex);
		upp_sim d;
		int rc = upp_decode(v.b, v.n, &d);
		if (rc != r[i].code)
			fprintf(stderr, "case \"%s\": got %d, want %d\n", r[i].what, rc, r[i].code);
		assert_int_equal(rc, r[i].code);
		/* nothing of a refused package is left behind */
		static const uint8_t zero[UPP_KEY_LEN];
		assert_memory_equal(d.ki, zero, UPP_KEY_LEN);
		assert_string_equal(d.imsi, "");
	}
	vec none = hx("");
	upp_sim d;
	assert_int_equal(upp_decode(none.b, 0, &d), TS_EPARSE);
}

/* What the specification allows to be skipped is skipped. */
static void
test_decode_skips(void **state)
{
	(void)state;
	static const char *const ok[] = {
		/* a pinCodes PE without the mandated flag (tapshare-se has no PIN) */
		PE_HEADER_HEX PE_MF_HEX "A2 09 A0 03 810109 A0 02 8100" PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
		/* a not-mandated PE of a later version, [40] */
		PE_HEADER_HEX PE_MF_HEX "BF28 05 A0 03 810109" PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
		/* another issuer's nonStandard PE */
		PE_HEADER_HEX PE_MF_HEX PE_USIM_HEX PE_AKA_HEX "A9 0D A0 03 810109 81 03 2A0304 82 01 00"
		PE_END4_HEX,
		/* ProfileHeader without profileType and templates, with only the
		 * usim service, plus a field of a later version ([31]) */
		"A0 1C 80 01 03 81 01 01 83 0A " ICCID_BCD " A5 02 8100 A6 00 9F1F 01 00"
		PE_MF_HEX PE_USIM_HEX PE_AKA_HEX PE_END4_HEX,
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		vec v = hx(ok[i]);
		upp_sim d;
		int rc = upp_decode(v.b, v.n, &d);
		if (rc != 0)
			fprintf(stderr, "case %zu: %d\n", i, rc);
		assert_int_equal(rc, 0);
		assert_string_equal(d.imsi, "001010123456789");
		assert_null(d.app_content);
		if (i == 2)
			asn1_dump("Package", v.b, v.n);
	}
}

int
main(void)
{
	asn1_dump_init("lib_upp");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iccid),
		cmocka_unit_test(test_imsi),
		cmocka_unit_test(test_package_vector),
		cmocka_unit_test(test_package_app_content),
		cmocka_unit_test(test_credential_package),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_decode_skips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
