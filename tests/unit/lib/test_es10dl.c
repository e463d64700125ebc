/*
 * test_es10dl.c — the download half of the ES10 codec (lib/es10dl.c) against
 * byte-exact vectors written by hand from SGP.22 RSPDefinitions (a comment per
 * TLV; none produced by the encoder): decode, check the fields, re-encode and
 * compare byte for byte, then the strict decoders' refusals. Every vector is
 * also handed to the asn1c check (tests/asn1/dump.h).
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

#include "lib/es10.h"
#include "lib/es10dl.h"
#include "lib/ts_err.h"

#include "../../asn1/dump.h"
#include "../hex_fixture.h"

/* ---- shared values ---- */
#define TID_HEX "01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10"
#define ECHAL_HEX "E0 E1 E2 E3 E4 E5 E6 E7 E8 E9 EA EB EC ED EE EF"
#define SCHAL_HEX "50 51 52 53 54 55 56 57 58 59 5A 5B 5C 5D 5E 5F"
#define SKI_HEX "F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"
#define SIG64_HEX                                                  \
	"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"          \
	"10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F"          \
	"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F"          \
	"30 31 32 33 34 35 36 37 38 39 3A 3B 3C 3D 3E 3F"
/* An uncompressed point: 04 || 64 bytes (the decoder does not check the curve). */
#define OTPK_HEX "04 " SIG64_HEX
#define HASHCC_HEX                                                 \
	"87 b0 21 5c 5d 8f 95 28 04 b1 c9 2d 5f 2a e9 96"          \
	"65 68 b4 7c d6 59 51 95 36 d8 62 e7 a9 47 0d 2d"
/* Stand-ins for certificates: the codec only requires one 30 TLV (the
 * asn1c module takes Certificate as an open type). */
#define CERT_A "30 03 02 01 05"
#define CERT_B "30 03 02 01 06"

/* ServerSigned1, 65 content bytes. */
#define SS1_HEX                                   \
	"30 41"                /* ServerSigned1 */  \
	" 80 10 " TID_HEX      /* transactionId */  \
	" 81 10 " ECHAL_HEX    /* euiccChallenge */ \
	" 83 09 6E 6F 64 65 2E 74 65 73 74" /* serverAddress "node.test" */ \
	" 84 10 " SCHAL_HEX    /* serverChallenge */

/* CtxParams1, 42 content bytes. */
#define CTX_HEX                                              \
	"A0 2A"                       /* ctxParamsForCommonAuthentication */ \
	" 80 05 4D 49 44 2D 31"       /* matchingId "MID-1" */      \
	" A1 21"                      /* deviceInfo */              \
	"  80 04 35 29 06 11"         /* tac */                     \
	"  A1 0F"                     /* deviceCapabilities */      \
	"   80 03 0F 00 00"           /* gsmSupportedRelease 15.0.0 */ \
	"   81 03 0F 00 00"           /* utranSupportedRelease */   \
	"   85 03 0F 00 00"           /* eutranSupportedRelease */  \
	"  82 08 35 29 06 11 12 34 56 70" /* imei */

/* The minimal EUICCInfo2 of test_es10.c, 56 content bytes. */
#define INFO2_HEX                                         \
	"BF22 38"                 /* EUICCInfo2 */          \
	" 81 03 02 03 01"         /* profileVersion */      \
	" 82 03 02 02 02"         /* svn */                 \
	" 83 03 01 00 00"         /* euiccFirmwareVer */    \
	" 84 00"                  /* extCardResource */     \
	" 85 01 00"               /* uiccCapability */      \
	" 88 01 00"               /* rspCapability */       \
	" A9 16 04 14 " SKI_HEX   /* ciPKIdListForVerification */ \
	" AA 00"                  /* ciPKIdListForSigning */ \
	" 04 03 01 00 00"         /* ppVersion */           \
	" 0C 00"                  /* sasAcreditationNumber */

/* EuiccSigned1: 18 + 11 + 18 + 59 + 44 = 150 content bytes. */
#define ES1_HEX                                   \
	"30 81 96"             /* EuiccSigned1 */   \
	" 80 10 " TID_HEX      /* transactionId */  \
	" 83 09 6E 6F 64 65 2E 74 65 73 74" /* serverAddress */ \
	" 84 10 " SCHAL_HEX    /* serverChallenge */ \
	" " INFO2_HEX          /* euiccInfo2 */     \
	" " CTX_HEX            /* ctxParams1 */

/* SmdpSigned2, 21 content bytes. */
#define SS2_HEX                                    \
	"30 15"                /* SmdpSigned2 */     \
	" 80 10 " TID_HEX      /* transactionId */   \
	" 01 01 00"            /* ccRequiredFlag FALSE */

/* EUICCSigned2, 86 content bytes. */
#define ES2_HEX                                    \
	"30 56"                /* EUICCSigned2 */    \
	" 80 10 " TID_HEX      /* transactionId */   \
	" 5F49 41 " OTPK_HEX   /* euiccOtpk */

static void
test_challenge(void **st)
{
	(void)st;
	vec v = hx("BF2E 12"                   /* GetEuiccChallengeResponse */
	           " 80 10 " ECHAL_HEX);       /* euiccChallenge */
	asn1_dump("GetEuiccChallengeResponse", v.b, v.n);
	uint8_t ch[16];
	assert_int_equal(es10_challenge_resp_decode(v.b, v.n, ch), 0);
	assert_int_equal(ch[0], 0xE0);
	assert_int_equal(ch[15], 0xEF);
	ENC(es10_challenge_resp_encode(ch, &o_, &l_), &v);
	vec req = hx("BF2E 00");               /* GetEuiccChallengeRequest */
	asn1_dump("GetEuiccChallengeRequest", req.b, req.n);
	assert_int_equal(es10_empty_req_decode(ES10_TAG_GET_EUICC_CHALLENGE, req.b, req.n), 0);
	vec s = hx("BF2E 11 80 0F E0 E1 E2 E3 E4 E5 E6 E7 E8 E9 EA EB EC ED EE"); /* 15 bytes */
	assert_int_equal(es10_challenge_resp_decode(s.b, s.n, ch), TS_EPARSE);
	vec t = hx("BF2E 12 80 10 " ECHAL_HEX " 00");
	assert_int_equal(es10_challenge_resp_decode(t.b, t.n, ch), TS_ETRAILING);
}

static void
test_server_signed1(void **st)
{
	(void)st;
	vec v = hx(SS1_HEX);
	asn1_dump("ServerSigned1", v.b, v.n);
	es10_server_signed1 s;
	assert_int_equal(es10_server_signed1_decode(v.b, v.n, &s), 0);
	assert_int_equal(s.tid_len, 16);
	assert_int_equal(s.tid[0], 0x01);
	assert_string_equal(s.server_address, "node.test");
	assert_int_equal(s.euicc_challenge[1], 0xE1);
	assert_int_equal(s.server_challenge[15], 0x5F);
	ENC(es10_server_signed1_encode(&s, &o_, &l_), &v);
	/* A short transactionId is fine (SIZE(1..16)). */
	vec sh = hx("30 34 80 03 01 02 03 81 10 " ECHAL_HEX " 83 09 6E 6F 64 65 2E 74 65 73 74 84 10 " SCHAL_HEX);
	asn1_dump("ServerSigned1", sh.b, sh.n);
	assert_int_equal(es10_server_signed1_decode(sh.b, sh.n, &s), 0);
	assert_int_equal(s.tid_len, 3);
	ENC(es10_server_signed1_encode(&s, &o_, &l_), &sh);
	/* Refusals: elements swapped, empty tid, 17-byte tid, bad UTF-8, extra. */
	vec sw = hx("30 41 81 10 " ECHAL_HEX " 80 10 " TID_HEX " 83 09 6E 6F 64 65 2E 74 65 73 74 84 10 " SCHAL_HEX);
	assert_int_equal(es10_server_signed1_decode(sw.b, sw.n, &s), TS_EPARSE);
	vec e0 = hx("30 31 80 00 81 10 " ECHAL_HEX " 83 09 6E 6F 64 65 2E 74 65 73 74 84 10 " SCHAL_HEX);
	assert_int_equal(es10_server_signed1_decode(e0.b, e0.n, &s), TS_EPARSE);
	vec l17 = hx("30 42 80 11 " TID_HEX " 11 81 10 " ECHAL_HEX " 83 09 6E 6F 64 65 2E 74 65 73 74 84 10 " SCHAL_HEX);
	assert_int_equal(es10_server_signed1_decode(l17.b, l17.n, &s), TS_EPARSE);
	vec u8 = hx("30 41 80 10 " TID_HEX " 81 10 " ECHAL_HEX " 83 09 6E 6F 64 65 2E 74 65 73 FF 84 10 " SCHAL_HEX);
	assert_int_equal(es10_server_signed1_decode(u8.b, u8.n, &s), TS_EPARSE);
	vec ex = hx("30 44 80 10 " TID_HEX " 81 10 " ECHAL_HEX " 83 09 6E 6F 64 65 2E 74 65 73 74 84 10 " SCHAL_HEX
	            " 85 01 00");
	assert_int_equal(es10_server_signed1_decode(ex.b, ex.n, &s), TS_EPARSE);
}

static void
test_ctx_params1(void **st)
{
	(void)st;
	vec v = hx(CTX_HEX);
	asn1_dump("CtxParams1", v.b, v.n);
	es10_ctx_params1 c;
	assert_int_equal(es10_ctx_params1_decode(v.b, v.n, &c), 0);
	assert_true(c.has_matching_id);
	assert_string_equal(c.matching_id, "MID-1");
	assert_memory_equal(c.device.tac, "\x35\x29\x06\x11", 4);
	assert_int_equal(c.device.caps_len, 15);
	assert_true(c.device.has_imei);
	ENC(es10_ctx_params1_encode(&c, &o_, &l_), &v);
	/* The builder gives the same capabilities. */
	es10_ctx_params1 d = c;
	static const int tags[] = { 0, 1, 5 };
	static const uint8_t vers[3][3] = { { 15, 0, 0 }, { 15, 0, 0 }, { 15, 0, 0 } };
	assert_int_equal(es10_device_caps_set(&d.device, tags, vers, 3), 0);
	ENC(es10_ctx_params1_encode(&d, &o_, &l_), &v);
	/* No matchingId (SM-DS / default SM-DP+ case), no capability, no IMEI. */
	vec m = hx("A0 0A"              /* ctxParamsForCommonAuthentication */
	           " A1 08"             /* deviceInfo */
	           "  80 04 35 29 06 11" /* tac */
	           "  A1 00");          /* deviceCapabilities (empty) */
	asn1_dump("CtxParams1", m.b, m.n);
	assert_int_equal(es10_ctx_params1_decode(m.b, m.n, &c), 0);
	assert_false(c.has_matching_id || c.device.has_imei);
	ENC(es10_ctx_params1_encode(&c, &o_, &l_), &m);
	/* Refusals: capabilities out of order, a VersionType of 2 bytes, tac of
	 * 3 bytes, deviceInfo missing. */
	vec oo = hx("A0 14 A1 12 80 04 35 29 06 11 A1 0A 85 03 0F 00 00 80 03 0F 00 00");
	assert_int_equal(es10_ctx_params1_decode(oo.b, oo.n, &c), TS_EPARSE);
	vec v2 = hx("A0 0E A1 0C 80 04 35 29 06 11 A1 04 85 02 0F 00");
	assert_int_equal(es10_ctx_params1_decode(v2.b, v2.n, &c), TS_EPARSE);
	vec t3 = hx("A0 09 A1 07 80 03 35 29 06 A1 00");
	assert_int_equal(es10_ctx_params1_decode(t3.b, t3.n, &c), TS_EPARSE);
	vec nd = hx("A0 07 80 05 4D 49 44 2D 31");
	assert_int_equal(es10_ctx_params1_decode(nd.b, nd.n, &c), TS_EPARSE);
}

static void
test_auth_server_request(void **st)
{
	(void)st;
	vec v = hx("BF38 81 CD"            /* AuthenticateServerRequest, 205 bytes */
	           " " SS1_HEX             /* serverSigned1 */
	           " 5F37 40 " SIG64_HEX   /* serverSignature1 */
	           " 04 14 " SKI_HEX       /* euiccCiPKIdToBeUsed */
	           " " CERT_A              /* serverCertificate */
	           " " CTX_HEX);           /* ctxParams1 */
	asn1_dump("AuthenticateServerRequest", v.b, v.n);
	es10_auth_server_req r;
	es10_server_signed1 s1;
	assert_int_equal(es10_auth_server_req_decode(v.b, v.n, &r, &s1), 0);
	assert_string_equal(s1.server_address, "node.test");
	assert_int_equal(r.server_signed1.len, 67);
	assert_ptr_equal(r.server_signed1.p, v.b + 4);
	assert_int_equal(r.server_signature1[63], 0x3F);
	assert_int_equal(r.ci_pkid_len, 20);
	assert_int_equal(r.server_cert.len, 5);
	assert_string_equal(r.ctx.matching_id, "MID-1");
	ENC(es10_auth_server_req_encode(&r, &o_, &l_), &v);
	/* Refusals: the SGP.22 element missing (no euiccCiPKIdToBeUsed), a raw
	 * signature of 63 bytes, a trailing element. */
	vec np = hx("BF38 81 B7 " SS1_HEX " 5F37 40 " SIG64_HEX " " CERT_A " " CTX_HEX);
	assert_int_equal(es10_auth_server_req_decode(np.b, np.n, &r, NULL), TS_EPARSE);
	vec s63 = hx("BF38 81 CC " SS1_HEX " 5F37 3F " SIG64_HEX " " CERT_A " " CTX_HEX);
	assert_true(es10_auth_server_req_decode(s63.b, s63.n, &r, NULL) < 0);
	vec tr = hx("BF38 81 D0 " SS1_HEX " 5F37 40 " SIG64_HEX " 04 14 " SKI_HEX " " CERT_A " " CTX_HEX " 85 01 00");
	assert_int_equal(es10_auth_server_req_decode(tr.b, tr.n, &r, NULL), TS_EPARSE);
}

static void
test_euicc_signed1_and_response(void **st)
{
	(void)st;
	vec e = hx(ES1_HEX);
	asn1_dump("EuiccSigned1", e.b, e.n);
	es10_euicc_signed1 s;
	assert_int_equal(es10_euicc_signed1_decode(e.b, e.n, &s), 0);
	assert_int_equal(s.euicc_info2.len, 59);
	assert_string_equal(s.ctx.matching_id, "MID-1");
	ENC(es10_euicc_signed1_encode(&s, &o_, &l_), &e);

	vec ok = hx("BF38 81 E9"           /* AuthenticateServerResponse */
	            " A0 81 E6"            /* authenticateResponseOk */
	            " " ES1_HEX            /* euiccSigned1 */
	            " 5F37 40 " SIG64_HEX  /* euiccSignature1 */
	            " " CERT_A             /* euiccCertificate */
	            " " CERT_B);           /* eumCertificate */
	asn1_dump("AuthenticateServerResponse", ok.b, ok.n);
	es10_auth_server_resp r;
	assert_int_equal(es10_auth_server_resp_decode(ok.b, ok.n, &r, &s), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.euicc_signed1.len, 153);
	assert_int_equal(r.euicc_cert.p[4], 0x05);
	assert_int_equal(r.eum_cert.p[4], 0x06);
	ENC(es10_auth_server_resp_encode(&r, &o_, &l_), &ok);

	vec err = hx("BF38 17"             /* AuthenticateServerResponse */
	             " A1 15"              /* authenticateResponseError */
	             " 80 10 " TID_HEX     /* transactionId */
	             " 02 01 06");         /* euiccChallengeMismatch */
	asn1_dump("AuthenticateServerResponse", err.b, err.n);
	assert_int_equal(es10_auth_server_resp_decode(err.b, err.n, &r, NULL), 0);
	assert_int_equal(r.error, ES10_AUTH_EUICC_CHALLENGE_MISMATCH);
	assert_int_equal(r.tid_len, 16);
	ENC(es10_auth_server_resp_encode(&r, &o_, &l_), &err);
	/* The pre-SGP.22 form (BF38 { 02 code }) and a zero code are refused;
	 * both alternatives at once too. */
	vec old = hx("BF38 03 02 01 06");
	assert_int_equal(es10_auth_server_resp_decode(old.b, old.n, &r, NULL), TS_EPARSE);
	vec zero = hx("BF38 17 A1 15 80 10 " TID_HEX " 02 01 00");
	assert_int_equal(es10_auth_server_resp_decode(zero.b, zero.n, &r, NULL), TS_EPARSE);
	vec two = hx("BF38 2E A1 15 80 10 " TID_HEX " 02 01 06 A1 15 80 10 " TID_HEX " 02 01 06");
	assert_int_equal(es10_auth_server_resp_decode(two.b, two.n, &r, NULL), TS_EPARSE);
	/* euiccSigned1 without euiccInfo2 (the old layout) is refused. */
	vec no2 = hx("30 5B 80 10 " TID_HEX " 83 09 6E 6F 64 65 2E 74 65 73 74 84 10 " SCHAL_HEX " " CTX_HEX);
	assert_int_equal(es10_euicc_signed1_decode(no2.b, no2.n, &s), TS_EPARSE);
}

static void
test_smdp_signed2_and_request(void **st)
{
	(void)st;
	vec v = hx(SS2_HEX);
	asn1_dump("SmdpSigned2", v.b, v.n);
	es10_smdp_signed2 s;
	assert_int_equal(es10_smdp_signed2_decode(v.b, v.n, &s), 0);
	assert_false(s.cc_required || s.has_bpp_otpk);
	ENC(es10_smdp_signed2_encode(&s, &o_, &l_), &v);
	vec cc = hx("30 59"                /* SmdpSigned2 */
	            " 80 10 " TID_HEX      /* transactionId */
	            " 01 01 FF"            /* ccRequiredFlag TRUE */
	            " 5F49 41 " OTPK_HEX); /* bppEuiccOtpk */
	asn1_dump("SmdpSigned2", cc.b, cc.n);
	assert_int_equal(es10_smdp_signed2_decode(cc.b, cc.n, &s), 0);
	assert_true(s.cc_required && s.has_bpp_otpk);
	ENC(es10_smdp_signed2_encode(&s, &o_, &l_), &cc);
	/* BOOLEAN 01 is not DER; the old context tag 81 is not SGP.22. */
	vec b1 = hx("30 15 80 10 " TID_HEX " 01 01 01");
	assert_int_equal(es10_smdp_signed2_decode(b1.b, b1.n, &s), TS_EPARSE);
	vec c81 = hx("30 15 80 10 " TID_HEX " 81 01 00");
	assert_int_equal(es10_smdp_signed2_decode(c81.b, c81.n, &s), TS_EPARSE);

	vec r = hx("BF21 5F"               /* PrepareDownloadRequest, 95 bytes */
	           " " SS2_HEX             /* smdpSigned2 */
	           " 5F37 40 " SIG64_HEX   /* smdpSignature2 */
	           " " CERT_A);            /* smdpCertificate */
	asn1_dump("PrepareDownloadRequest", r.b, r.n);
	es10_prepare_download_req q;
	assert_int_equal(es10_prepare_download_req_decode(r.b, r.n, &q, &s), 0);
	assert_false(q.has_hash_cc);
	assert_int_equal(q.smdp_signed2.len, 23);
	ENC(es10_prepare_download_req_encode(&q, &o_, &l_), &r);
	vec h = hx("BF21 81 81"            /* PrepareDownloadRequest, 129 bytes */
	           " " SS2_HEX             /* smdpSigned2 */
	           " 5F37 40 " SIG64_HEX   /* smdpSignature2 */
	           " 04 20 " HASHCC_HEX    /* hashCc */
	           " " CERT_A);            /* smdpCertificate */
	asn1_dump("PrepareDownloadRequest", h.b, h.n);
	assert_int_equal(es10_prepare_download_req_decode(h.b, h.n, &q, NULL), 0);
	assert_true(q.has_hash_cc);
	assert_int_equal(q.hash_cc[0], 0x87);
	ENC(es10_prepare_download_req_encode(&q, &o_, &l_), &h);
	/* hashCc of 31 bytes; no certificate. */
	vec h31 = hx("BF21 81 80 " SS2_HEX " 5F37 40 " SIG64_HEX " 04 1F " HASHCC_HEX " " CERT_A);
	assert_true(es10_prepare_download_req_decode(h31.b, h31.n, &q, NULL) < 0);
	vec nc = hx("BF21 5A " SS2_HEX " 5F37 40 " SIG64_HEX);
	assert_int_equal(es10_prepare_download_req_decode(nc.b, nc.n, &q, NULL), TS_EPARSE);
}

static void
test_euicc_signed2_and_response(void **st)
{
	(void)st;
	vec e = hx(ES2_HEX);
	asn1_dump("EUICCSigned2", e.b, e.n);
	es10_euicc_signed2 s;
	assert_int_equal(es10_euicc_signed2_decode(e.b, e.n, &s), 0);
	assert_false(s.has_hash_cc);
	assert_int_equal(s.euicc_otpk[0], 0x04);
	ENC(es10_euicc_signed2_encode(&s, &o_, &l_), &e);
	vec eh = hx("30 78"                /* EUICCSigned2 */
	            " 80 10 " TID_HEX      /* transactionId */
	            " 5F49 41 " OTPK_HEX   /* euiccOtpk */
	            " 04 20 " HASHCC_HEX); /* hashCc */
	asn1_dump("EUICCSigned2", eh.b, eh.n);
	assert_int_equal(es10_euicc_signed2_decode(eh.b, eh.n, &s), 0);
	assert_true(s.has_hash_cc);
	ENC(es10_euicc_signed2_encode(&s, &o_, &l_), &eh);
	/* A compressed point is refused. */
	vec cp = hx("30 56 80 10 " TID_HEX " 5F49 41 02 " SIG64_HEX);
	assert_int_equal(es10_euicc_signed2_decode(cp.b, cp.n, &s), TS_EPARSE);

	vec ok = hx("BF21 81 9E"           /* PrepareDownloadResponse */
	            " A0 81 9B"            /* downloadResponseOk */
	            " " ES2_HEX            /* euiccSigned2 */
	            " 5F37 40 " SIG64_HEX); /* euiccSignature2 */
	asn1_dump("PrepareDownloadResponse", ok.b, ok.n);
	es10_prepare_download_resp r;
	assert_int_equal(es10_prepare_download_resp_decode(ok.b, ok.n, &r, &s), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.euicc_signed2.len, 88);
	ENC(es10_prepare_download_resp_encode(&r, &o_, &l_), &ok);
	vec err = hx("BF21 17"             /* PrepareDownloadResponse */
	             " A1 15"              /* downloadResponseError */
	             " 80 10 " TID_HEX     /* transactionId */
	             " 02 01 05");         /* invalidTransactionId */
	asn1_dump("PrepareDownloadResponse", err.b, err.n);
	assert_int_equal(es10_prepare_download_resp_decode(err.b, err.n, &r, NULL), 0);
	assert_int_equal(r.error, ES10_DL_INVALID_TRANSACTION_ID);
	ENC(es10_prepare_download_resp_encode(&r, &o_, &l_), &err);
	/* An unknown element after euiccSignature2 is skipped (response decoder). */
	vec ext = hx("BF21 81 A1 A0 81 9E " ES2_HEX " 5F37 40 " SIG64_HEX " 85 01 00");
	assert_int_equal(es10_prepare_download_resp_decode(ext.b, ext.n, &r, NULL), 0);
	vec old = hx("BF21 03 02 01 05");
	assert_int_equal(es10_prepare_download_resp_decode(old.b, old.n, &r, NULL), TS_EPARSE);
}

/* CancelSession (SGP.22 §5.7.14), RSPDefinitions: CancelSessionRequest
 * [65] SEQUENCE (AUTOMATIC: 80, 81), EuiccCancelSessionSigned SEQUENCE
 * (AUTOMATIC: 80, 81, 82), CancelSessionResponse [65] CHOICE (A0 / 81). */
#define OID_HEX "88 37 01" /* 2.999.1: 2 * 40 + 999 = 1079 = 0x88 0x37 in base 128, then 1 */
#define CSS_HEX "30 1A"           /* EuiccCancelSessionSigned */ \
	" 80 10 " TID_HEX         /* transactionId */ \
	" 81 03 " OID_HEX         /* smdpOid */ \
	" 82 01 05"               /* reason loadBppExecutionError */

static void
test_cancel_session(void **st)
{
	(void)st;
	vec q = hx("BF41 15"              /* CancelSessionRequest */
	           " 80 10 " TID_HEX      /* transactionId */
	           " 81 01 00");          /* reason endUserRejection */
	asn1_dump("CancelSessionRequest", q.b, q.n);
	es10_cancel_session_req r;
	assert_int_equal(es10_cancel_session_req_decode(q.b, q.n, &r), 0);
	assert_int_equal(r.tid_len, 16);
	assert_int_equal(r.tid[15], 0x10);
	assert_int_equal(r.reason, ES10_CANCEL_END_USER_REJECTION);
	ENC(es10_cancel_session_req_encode(&r, &o_, &l_), &q);
	vec q2 = hx("BF41 15 80 10 " TID_HEX " 81 01 7F"); /* undefinedReason */
	asn1_dump("CancelSessionRequest", q2.b, q2.n);
	assert_int_equal(es10_cancel_session_req_decode(q2.b, q2.n, &r), 0);
	assert_int_equal(r.reason, ES10_CANCEL_UNDEFINED_REASON);
	assert_string_equal(es10_cancel_reason_name(r.reason), "undefinedReason");
	assert_int_equal(es10_cancel_reason_parse("loadBppExecutionError"), 5);
	assert_null(es10_cancel_reason_name(6));
	/* a request decoder: an unknown element, a missing reason, a two-octet
	 * reason, trailing bytes, the reason first */
	vec x1 = hx("BF41 18 80 10 " TID_HEX " 81 01 00 82 01 00");
	assert_int_equal(es10_cancel_session_req_decode(x1.b, x1.n, &r), TS_EPARSE);
	vec x2 = hx("BF41 12 80 10 " TID_HEX);
	assert_int_equal(es10_cancel_session_req_decode(x2.b, x2.n, &r), TS_EPARSE);
	vec x3 = hx("BF41 16 80 10 " TID_HEX " 81 02 00 80");
	assert_int_equal(es10_cancel_session_req_decode(x3.b, x3.n, &r), TS_EPARSE);
	vec x4 = hx("BF41 15 80 10 " TID_HEX " 81 01 00 00");
	assert_int_equal(es10_cancel_session_req_decode(x4.b, x4.n, &r), TS_ETRAILING);
	vec x5 = hx("BF41 15 81 01 00 80 10 " TID_HEX);
	assert_int_equal(es10_cancel_session_req_decode(x5.b, x5.n, &r), TS_EPARSE);

	vec cs = hx(CSS_HEX);
	asn1_dump("EuiccCancelSessionSigned", cs.b, cs.n);
	es10_cancel_signed s;
	assert_int_equal(es10_cancel_signed_decode(cs.b, cs.n, &s), 0);
	assert_int_equal(s.smdp_oid_len, 3);
	assert_int_equal(s.smdp_oid[0], 0x88);
	assert_int_equal(s.reason, ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR);
	ENC(es10_cancel_signed_encode(&s, &o_, &l_), &cs);
	/* an OID ending inside a sub-identifier, a sub-identifier padded with 0x80 */
	vec b1 = hx("30 1A 80 10 " TID_HEX " 81 03 88 37 81 82 01 05");
	assert_int_equal(es10_cancel_signed_decode(b1.b, b1.n, &s), TS_EPARSE);
	vec b2 = hx("30 1A 80 10 " TID_HEX " 81 03 80 37 01 82 01 05");
	assert_int_equal(es10_cancel_signed_decode(b2.b, b2.n, &s), TS_EPARSE);

	vec ok = hx("BF41 61"             /* CancelSessionResponse */
	            " A0 5F"              /* cancelSessionResponseOk */
	            " " CSS_HEX           /* euiccCancelSessionSigned */
	            " 5F37 40 " SIG64_HEX); /* euiccCancelSessionSignature */
	asn1_dump("CancelSessionResponse", ok.b, ok.n);
	es10_cancel_session_resp p;
	assert_int_equal(es10_cancel_session_resp_decode(ok.b, ok.n, &p, &s), 0);
	assert_int_equal(p.error, 0);
	assert_int_equal(p.cancel_signed.len, 28);
	assert_memory_equal(p.cancel_signed.p, cs.b, cs.n);
	assert_int_equal(p.signature[63], 0x3F);
	assert_int_equal(s.reason, 5);
	ENC(es10_cancel_session_resp_encode(&p, &o_, &l_), &ok);
	vec err = hx("BF41 03"            /* CancelSessionResponse */
	             " 81 01 05");        /* cancelSessionResponseError invalidTransactionId */
	asn1_dump("CancelSessionResponse", err.b, err.n);
	assert_int_equal(es10_cancel_session_resp_decode(err.b, err.n, &p, NULL), 0);
	assert_int_equal(p.error, ES10_CANCEL_INVALID_TRANSACTION_ID);
	ENC(es10_cancel_session_resp_encode(&p, &o_, &l_), &err);
	/* a response decoder skips an unknown element after the signature, but
	 * not a second alternative, a missing signature or trailing bytes */
	vec ext = hx("BF41 64 A0 62 " CSS_HEX " 5F37 40 " SIG64_HEX " 85 01 00");
	assert_int_equal(es10_cancel_session_resp_decode(ext.b, ext.n, &p, NULL), 0);
	vec two = hx("BF41 64 A0 5F " CSS_HEX " 5F37 40 " SIG64_HEX " 81 01 05");
	assert_int_equal(es10_cancel_session_resp_decode(two.b, two.n, &p, NULL), TS_EPARSE);
	vec nosig = hx("BF41 1E A0 1C " CSS_HEX);
	assert_int_equal(es10_cancel_session_resp_decode(nosig.b, nosig.n, &p, NULL), TS_EPARSE);
	vec tr = hx("BF41 03 81 01 05 00");
	assert_int_equal(es10_cancel_session_resp_decode(tr.b, tr.n, &p, NULL), TS_ETRAILING);
	vec zero = hx("BF41 03 81 01 00"); /* no error code 0 */
	assert_int_equal(es10_cancel_session_resp_decode(zero.b, zero.n, &p, NULL), TS_EPARSE);
}

static void
test_signature_inputs(void **st)
{
	(void)st;
	/* smdpSignature2 covers smdpSigned2 || 5F37 40 euiccSignature1. */
	vec s2 = hx(SS2_HEX);
	vec sig = hx(SIG64_HEX);
	vec want = hx(SS2_HEX " 5F 37 40 " SIG64_HEX);
	ENC(es10_sig_input(s2.b, s2.n, sig.b, &o_, &l_), &want);
	uint8_t d[67];
	es10_sig_do(sig.b, d);
	vec wd = hx("5F 37 40 " SIG64_HEX);
	expect_bytes(d, sizeof(d), &wd);
	uint8_t back[64];
	assert_int_equal(es10_sig_from_do(wd.b, wd.n, back), 0);
	assert_memory_equal(back, sig.b, 64);
	assert_int_equal(es10_sig_from_do(sig.b, sig.n, back), TS_EPARSE); /* raw r||s */
	/* hashCc = SHA-256(SHA-256("12345678") || transactionId), value
	 * computed independently with Python's hashlib. */
	vec tid = hx(TID_HEX);
	vec hc = hx(HASHCC_HEX);
	uint8_t h[32];
	assert_int_equal(es10_hash_cc("12345678", tid.b, tid.n, h), 0);
	expect_bytes(h, sizeof(h), &hc);
}

int
main(void)
{
	asn1_dump_init("lib_es10dl");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_server_signed1),
		cmocka_unit_test(test_ctx_params1),
		cmocka_unit_test(test_auth_server_request),
		cmocka_unit_test(test_euicc_signed1_and_response),
		cmocka_unit_test(test_smdp_signed2_and_request),
		cmocka_unit_test(test_euicc_signed2_and_response),
		cmocka_unit_test(test_signature_inputs),
		cmocka_unit_test(test_cancel_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
