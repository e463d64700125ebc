/*
 * test_rsp.c — DER structures of the download (lib/rsp.c): exact encodings,
 * round trips, signed notifications, SE responses, malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/der.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "../../asn1/dump.h"

static void
fill(uint8_t *p, size_t n, uint8_t base)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(base + i);
}

static void
make_eid(const char *first30, eid_t *out)
{
	char s[EID_DIGITS + 1], cd[3];
	assert_int_equal(eid_check_digits(first30, cd), 0);
	memcpy(s, first30, 30);
	memcpy(s + 30, cd, 3);
	assert_int_equal(eid_parse(s, out), 0);
}

/* Encodes a writer's content into a fresh buffer. */
static uint8_t *
done(der_writer *w, size_t *len)
{
	uint8_t *out = NULL;
	assert_int_equal(der_writer_finish(w, &out, len), 0);
	der_writer_clear(w);
	return out;
}

/* StoreMetadataRequest (SGP.22 §5.5.3), written by hand from the spec's
 * field list — one comment per TLV:
 *   BF25 6A
 *     5A 0A 98 44 10 32 54 76 98 10 32 F8     iccid 8944012345678901238 (F-padded, swapped)
 *     91 04 "sp-1"                             serviceProviderName
 *     92 0B "Travel eSIM"                      profileName
 *                                              (95 profileClass operational: DEFAULT, absent)
 *     B6 12                                    notificationConfigurationInfo
 *       30 10
 *         80 02 04 F0                          [0] install enable disable delete (4 unused bits)
 *         81 0A "dp.example"                   [1] notificationAddress
 *     BF22 34                                  serviceSpecificDataStoredInEuicc
 *       30 32
 *         80 14 69 83 CA .. 5B                 vendorOid 2.25.3044255561141990384743087865
 *                                                12682805467 (tapshare)
 *         A1 1A                                vendorSpecificData (explicit)
 *           30 18
 *             80 05 "app-1"                    appId
 *             81 03 "sim"                      kind
 *             82 04 70 DB D8 80                notAfter 1893456000
 *             83 04 "sp-1"                     provider */
static const uint8_t smr_vec[] = { 0xBF, 0x25, 0x6A,
	0x5A, 0x0A, 0x98, 0x44, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x32, 0xF8,
	0x91, 0x04, 's', 'p', '-', '1',
	0x92, 0x0B, 'T', 'r', 'a', 'v', 'e', 'l', ' ', 'e', 'S', 'I', 'M',
	0xB6, 0x12, 0x30, 0x10, 0x80, 0x02, 0x04, 0xF0,
	0x81, 0x0A, 'd', 'p', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	0xBF, 0x22, 0x34, 0x30, 0x32,
	0x80, 0x14, 0x69, 0x83, 0xCA, 0x86, 0x9D, 0xAF, 0x89, 0xC6, 0xDA, 0x8A, 0x9F, 0xA3, 0xD3, 0xD0,
	0xDD, 0x9F, 0x8E, 0xAF, 0xD1, 0x5B,
	0xA1, 0x1A, 0x30, 0x18,
	0x80, 0x05, 'a', 'p', 'p', '-', '1',
	0x81, 0x03, 's', 'i', 'm',
	0x82, 0x04, 0x70, 0xDB, 0xD8, 0x80,
	0x83, 0x04, 's', 'p', '-', '1' };

static void
vec_md(rsp_metadata *m)
{
	static const uint8_t iccid[] = { 0x98, 0x44, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x32, 0xF8 };
	memset(m, 0, sizeof(*m));
	assert_int_equal(ts_snprintf(m->app_id, sizeof(m->app_id), "%s", "app-1"), 0);
	assert_int_equal(ts_snprintf(m->name, sizeof(m->name), "%s", "Travel eSIM"), 0);
	assert_int_equal(ts_snprintf(m->kind, sizeof(m->kind), "%s", "sim"), 0);
	assert_int_equal(ts_snprintf(m->provider, sizeof(m->provider), "%s", "sp-1"), 0);
	assert_int_equal(ts_snprintf(m->notif_address, sizeof(m->notif_address), "%s", "dp.example"), 0);
	m->not_after = 1893456000;
	m->has_iccid = 1;
	memcpy(m->iccid, iccid, 10);
}

/* vec with bytes [at, at+cut) replaced by ins; lengths of BF25 fixed up
 * (at a top-level element boundary; BF25's one-byte length fixed up). */
static size_t
splice(uint8_t *out, size_t at, size_t cut, const uint8_t *ins, size_t inslen)
{
	memcpy(out, smr_vec, at);
	memcpy(out + at, ins, inslen);
	memcpy(out + at + inslen, smr_vec + at + cut, sizeof(smr_vec) - at - cut);
	size_t n = sizeof(smr_vec) - cut + inslen;
	out[2] = (uint8_t)(n - 3);
	return n;
}

static void
test_metadata(void **state)
{
	(void)state;
	rsp_metadata m, d;
	uint8_t *buf = NULL;
	size_t len = 0;
	vec_md(&m);
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), 0);
	asn1_dump("StoreMetadataRequest", smr_vec, sizeof(smr_vec));
	assert_int_equal(len, sizeof(smr_vec));
	assert_memory_equal(buf, smr_vec, len);
	free(buf);
	assert_int_equal(rsp_metadata_decode(smr_vec, sizeof(smr_vec), &d), 0);
	m.has_vendor = 1;
	assert_memory_equal(&d, &m, sizeof(m));

	/* ICCID is mandatory; not_after >= 0. */
	vec_md(&m);
	m.has_iccid = 0;
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), TS_EINVAL);
	vec_md(&m);
	m.not_after = -1;
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), TS_EINVAL);

	/* A long name: profileName cut at 64 bytes on a UTF-8 boundary, the
	 * whole name in tapshare's data (84); round trip. */
	vec_md(&m);
	memset(m.name, 'n', 63);
	memcpy(m.name + 63, "\xC3\xA9xyz", 5); /* é straddles byte 64 */
	m.name[68] = '\0';
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), 0);
	asn1_dump("StoreMetadataRequest", buf, len);
	der_tlv top, t;
	assert_int_equal(der_read_one(buf, len, &top), 0);
	assert_int_equal(der_find(top.val, top.len, 0x92, &t), 0);
	assert_int_equal(t.len, 63);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), 0);
	assert_string_equal(d.name, m.name);
	free(buf);

	/* Test / provisioning classes are encoded, operational is not. */
	vec_md(&m);
	m.profile_class = RSP_PCLASS_TEST;
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), 0);
	assert_int_equal(der_read_one(buf, len, &top), 0);
	assert_int_equal(der_find(top.val, top.len, 0x95, &t), 0);
	assert_int_equal(t.len, 1);
	assert_int_equal(t.val[0], 0);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), 0);
	assert_int_equal(d.profile_class, RSP_PCLASS_TEST);
	asn1_dump("StoreMetadataRequest", buf, len);
	free(buf);

	uint8_t v[sizeof(smr_vec) + 64];
	size_t n;
	/* 95 01 02: operational written out is not DER (it is the DEFAULT). */
	static const uint8_t pc2[] = { 0x95, 0x01, 0x02 };
	n = splice(v, 34, 0, pc2, sizeof(pc2));
	assert_int_equal(rsp_metadata_decode(v, n, &d), TS_EPARSE);
	/* profilePolicyRules 99 02 06 40 (ppr1): decoded for the eUICC to refuse. */
	static const uint8_t ppr[] = { 0x99, 0x02, 0x06, 0x40 };
	n = splice(v, 54, 0, ppr, sizeof(ppr));
	assert_int_equal(rsp_metadata_decode(v, n, &d), 0);
	assert_int_equal(d.ppr, 0x40);
	/* icon without iconType: refused; with it, skipped. */
	static const uint8_t icon[] = { 0x94, 0x01, 0x00 };
	n = splice(v, 34, 0, icon, sizeof(icon));
	assert_int_equal(rsp_metadata_decode(v, n, &d), TS_EPARSE);
	static const uint8_t icon2[] = { 0x93, 0x01, 0x01, 0x94, 0x01, 0x00 };
	n = splice(v, 34, 0, icon2, sizeof(icon2));
	assert_int_equal(rsp_metadata_decode(v, n, &d), 0);
	asn1_dump("StoreMetadataRequest", v, n);
	/* An extension addition after everything (9F7B ecallIndication of
	 * SGP.32): passed over, as EXTENSIBILITY IMPLIED has it. */
	static const uint8_t ext[] = { 0x9F, 0x7B, 0x01, 0xFF };
	n = splice(v, sizeof(smr_vec), 0, ext, sizeof(ext));
	assert_int_equal(rsp_metadata_decode(v, n, &d), 0);
	assert_string_equal(d.app_id, "app-1");
	/* B6 twice, or after BF22: out of order. */
	n = splice(v, 54, 0, smr_vec + 34, 20);
	assert_int_equal(rsp_metadata_decode(v, n, &d), TS_EPARSE);
	n = splice(v, sizeof(smr_vec), 0, smr_vec + 34, 20);
	assert_int_equal(rsp_metadata_decode(v, n, &d), TS_EPARSE);
	/* Without BF22 (a profile from another SM-DP+): no tapshare data,
	 * the names from 91 / 92. */
	n = splice(v, 54, 55, NULL, 0);
	assert_int_equal(rsp_metadata_decode(v, n, &d), 0);
	asn1_dump("StoreMetadataRequest", v, n);
	assert_false(d.has_vendor);
	assert_string_equal(d.app_id, "");
	assert_string_equal(d.name, "Travel eSIM");
	assert_string_equal(d.provider, "sp-1");
	/* Another vendor's item in BF22 is skipped: 30 07 { 80 01 2A, A1 02 05 00 }. */
	static const uint8_t other[] = { 0xBF, 0x22, 0x09, 0x30, 0x07, 0x80, 0x01, 0x2A, 0xA1, 0x02,
		0x05, 0x00 };
	n = splice(v, 54, 55, other, sizeof(other));
	assert_int_equal(rsp_metadata_decode(v, n, &d), 0);
	assert_false(d.has_vendor);
	/* ICCID of 9 bytes; a missing profileName; trailing byte. */
	memcpy(v, smr_vec, sizeof(smr_vec));
	v[4] = 0x09;
	assert_int_equal(rsp_metadata_decode(v, sizeof(smr_vec), &d), TS_EPARSE);
	n = splice(v, 21, 13, NULL, 0);
	assert_int_equal(rsp_metadata_decode(v, n, &d), TS_EPARSE);
	memcpy(v, smr_vec, sizeof(smr_vec));
	v[sizeof(smr_vec)] = 0;
	assert_int_equal(rsp_metadata_decode(v, sizeof(smr_vec) + 1, &d), TS_ETRAILING);
	/* notAfter: non-minimal, negative. */
	memcpy(v, smr_vec, sizeof(smr_vec));
	v[sizeof(smr_vec) - 10] = 0xF0; /* 82 04 F0 DB D8 80: negative */
	assert_int_equal(rsp_metadata_decode(v, sizeof(smr_vec), &d), TS_EPARSE);
}

static void
test_notification(void **state)
{
	(void)state;
	EVP_PKEY *k = NULL, *k2 = NULL;
	rsp_notification n, d;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(pki_keygen(&k), 0);
	assert_int_equal(pki_keygen(&k2), 0);
	memset(&n, 0, sizeof(n));
	n.seq = 300;
	n.event = RSP_EVENT_INSTALL;
	assert_int_equal(ts_snprintf(n.app_id, sizeof(n.app_id), "%s", "app-7"), 0);
	make_eid("890490320000000000000000000077", &n.eid);
	n.has_tid = 1;
	fill(n.transaction_id, 16, 0x70);
	n.result = 0;
	assert_int_equal(rsp_notification_sign(&n, k, &buf, &len), 0);
	assert_int_equal(buf[0], 0xBF);
	assert_int_equal(buf[1], 0x2F);
	/* Signature is the last 64 bytes after 5F 37 40. */
	assert_int_equal(buf[len - 67], 0x5F);
	assert_int_equal(buf[len - 66], 0x37);
	assert_int_equal(buf[len - 65], 64);
	assert_int_equal(rsp_notification_decode(buf, len, k, &d), 0);
	assert_memory_equal(&d, &n, sizeof(n));
	assert_int_equal(rsp_notification_decode(buf, len, NULL, &d), 0);
	assert_int_equal(rsp_notification_decode(buf, len, k2, &d), TS_EVERIFY);
	/* Tamper with seq (first value byte of 80 inside 30): signature fails. */
	size_t seq_at = 0;
	for (size_t i = 0; i + 3 < len; i++) {
		if (buf[i] == 0x80 && buf[i + 1] == 0x02 && buf[i + 2] == 0x01 && buf[i + 3] == 0x2C) {
			seq_at = i + 3;
			break;
		}
	}
	assert_true(seq_at > 0);
	buf[seq_at] ^= 1;
	assert_int_equal(rsp_notification_decode(buf, len, k, &d), TS_EVERIFY);
	assert_int_equal(rsp_notification_decode(buf, len, NULL, &d), 0);
	assert_int_equal(d.seq, 301);
	free(buf);

	/* No transactionId, negative result. */
	n.has_tid = 0;
	memset(n.transaction_id, 0, 16);
	n.event = RSP_EVENT_DELETE;
	n.result = -300;
	assert_int_equal(rsp_notification_sign(&n, k, &buf, &len), 0);
	assert_int_equal(rsp_notification_decode(buf, len, k, &d), 0);
	assert_memory_equal(&d, &n, sizeof(n));
	free(buf);
	n.event = 4;
	assert_int_equal(rsp_notification_sign(&n, k, &buf, &len), TS_EINVAL);
	n.event = RSP_EVENT_ENABLE;
	n.eid.digits[31] ^= 1; /* bad check digits */
	assert_int_equal(rsp_notification_sign(&n, k, &buf, &len), TS_EINVAL);

	/* Hand-built: event 9 refused; bad EID bytes refused; short signature. */
	uint8_t eb[16];
	make_eid("890490320000000000000000000077", &n.eid);
	eid_to_bytes(&n.eid, eb);
	uint8_t sig[64] = { 0 };
	for (int c = 0; c < 3; c++) {
		der_writer w;
		der_writer_init(&w);
		der_begin(&w, 0xBF2F);
		der_begin(&w, 0x30);
		der_put_uint(&w, 0x80, 1);
		der_put_uint(&w, 0x81, c == 0 ? 9 : 0);
		der_put_str(&w, 0x82, "a");
		if (c == 1)
			eb[15] ^= 0x01;
		der_put(&w, 0x5A, eb, 16);
		der_put_uint(&w, 0x84, 0);
		der_end(&w);
		der_put(&w, 0x5F37, sig, c == 2 ? 63 : 64);
		der_end(&w);
		buf = done(&w, &len);
		int rc = rsp_notification_decode(buf, len, NULL, &d);
		if (c == 1)
			assert_true(rc == TS_EEIDCHK || rc == TS_EEIDFMT);
		else
			assert_int_equal(rc, TS_EPARSE);
		free(buf);
	}
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_notification),
	};
	asn1_dump_init("rsp");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
