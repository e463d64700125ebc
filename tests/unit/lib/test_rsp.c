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

static void
test_server_signed1(void **state)
{
	(void)state;
	rsp_server_signed1 s, d;
	uint8_t *buf = NULL;
	size_t len = 0;
	memset(&s, 0, sizeof(s));
	fill(s.transaction_id, 16, 0x00);
	fill(s.euicc_challenge, 16, 0x20);
	assert_int_equal(ts_snprintf(s.server_address, sizeof(s.server_address), "%s", "node.example"), 0);
	fill(s.server_challenge, 16, 0x40);
	assert_int_equal(rsp_server_signed1_encode(&s, &buf, &len), 0);

	/* Exact layout: 30 { 80 10 .. 81 10 .. 83 0C "node.example" 84 10 .. } */
	assert_int_equal(len, 2 + 18 + 18 + 14 + 18);
	assert_int_equal(buf[0], 0x30);
	assert_int_equal(buf[1], 68);
	assert_int_equal(buf[2], 0x80);
	assert_int_equal(buf[3], 0x10);
	assert_int_equal(buf[20], 0x81);
	assert_int_equal(buf[38], 0x83);
	assert_int_equal(buf[39], 12);
	assert_memory_equal(buf + 40, "node.example", 12);
	assert_int_equal(buf[52], 0x84);
	assert_memory_equal(buf + 54, s.server_challenge, 16);

	assert_int_equal(rsp_server_signed1_decode(buf, len, &d), 0);
	assert_memory_equal(&d, &s, sizeof(s));

	/* Trailing, truncated, wrong outer tag, wrong tid length. */
	uint8_t *b2 = malloc(len + 1);
	memcpy(b2, buf, len);
	b2[len] = 0;
	assert_int_equal(rsp_server_signed1_decode(b2, len + 1, &d), TS_ETRAILING);
	assert_int_equal(rsp_server_signed1_decode(buf, len - 1, &d), TS_EPARSE);
	b2[0] = 0x31;
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), TS_EPARSE);
	free(b2);

	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 15);
	der_put(&w, 0x81, s.euicc_challenge, 16);
	der_put_str(&w, 0x83, "x");
	der_put(&w, 0x84, s.server_challenge, 16);
	der_end(&w);
	b2 = done(&w, &len);
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), TS_EPARSE);
	free(b2);

	/* Challenge missing. */
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 16);
	der_put(&w, 0x81, s.euicc_challenge, 16);
	der_put_str(&w, 0x83, "x");
	der_end(&w);
	b2 = done(&w, &len);
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), TS_EPARSE);
	free(b2);

	/* Unknown extra field. */
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 16);
	der_put(&w, 0x81, s.euicc_challenge, 16);
	der_put_str(&w, 0x83, "x");
	der_put(&w, 0x84, s.server_challenge, 16);
	der_put_uint(&w, 0x85, 1);
	der_end(&w);
	b2 = done(&w, &len);
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), TS_EPARSE);
	free(b2);

	/* Server address at the limit and one over; embedded NUL. */
	char addr[RSP_STR_MAX + 2];
	memset(addr, 'a', sizeof(addr));
	addr[RSP_STR_MAX] = '\0';
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 16);
	der_put(&w, 0x81, s.euicc_challenge, 16);
	der_put_str(&w, 0x83, addr);
	der_put(&w, 0x84, s.server_challenge, 16);
	der_end(&w);
	b2 = done(&w, &len);
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), 0);
	assert_int_equal(strlen(d.server_address), RSP_STR_MAX);
	free(b2);
	addr[RSP_STR_MAX] = 'a';
	addr[RSP_STR_MAX + 1] = '\0';
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 16);
	der_put(&w, 0x81, s.euicc_challenge, 16);
	der_put_str(&w, 0x83, addr);
	der_put(&w, 0x84, s.server_challenge, 16);
	der_end(&w);
	b2 = done(&w, &len);
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), TS_ELIMIT);
	free(b2);
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 16);
	der_put(&w, 0x81, s.euicc_challenge, 16);
	der_put(&w, 0x83, (const uint8_t *)"a\0b", 3);
	der_put(&w, 0x84, s.server_challenge, 16);
	der_end(&w);
	b2 = done(&w, &len);
	assert_int_equal(rsp_server_signed1_decode(b2, len, &d), TS_EPARSE);
	free(b2);

	/* An unterminated string field is refused by the encoder. */
	memset(s.server_address, 'b', sizeof(s.server_address));
	assert_int_equal(rsp_server_signed1_encode(&s, &b2, &len), TS_ELIMIT);
	free(buf);
}

static void
test_euicc_signed1(void **state)
{
	(void)state;
	rsp_euicc_signed1 s, d;
	uint8_t *buf = NULL;
	size_t len = 0;
	memset(&s, 0, sizeof(s));
	fill(s.transaction_id, 16, 1);
	assert_int_equal(ts_snprintf(s.server_address, sizeof(s.server_address), "%s", "127.0.0.1:8443"), 0);
	fill(s.server_challenge, 16, 9);
	assert_int_equal(ts_snprintf(s.matching_id, sizeof(s.matching_id), "%s", "MATCH-1"), 0);
	assert_int_equal(rsp_euicc_signed1_encode(&s, &buf, &len), 0);
	assert_int_equal(rsp_euicc_signed1_decode(buf, len, &d), 0);
	assert_memory_equal(&d, &s, sizeof(s));
	/* The A0 context is the last child: 30 .. A0 09 80 07 "MATCH-1". */
	assert_int_equal(buf[len - 11], 0xA0);
	assert_int_equal(buf[len - 10], 9);
	assert_int_equal(buf[len - 9], 0x80);
	assert_memory_equal(buf + len - 7, "MATCH-1", 7);
	free(buf);

	/* Empty matchingId is allowed. */
	s.matching_id[0] = '\0';
	assert_int_equal(rsp_euicc_signed1_encode(&s, &buf, &len), 0);
	assert_int_equal(rsp_euicc_signed1_decode(buf, len, &d), 0);
	assert_string_equal(d.matching_id, "");
	/* Swap order of 83 and 84: refused. */
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, s.transaction_id, 16);
	der_put(&w, 0x84, s.server_challenge, 16);
	der_put_str(&w, 0x83, s.server_address);
	der_begin(&w, 0xA0);
	der_put_str(&w, 0x80, "m");
	der_end(&w);
	der_end(&w);
	uint8_t *b2 = done(&w, &len);
	assert_int_equal(rsp_euicc_signed1_decode(b2, len, &d), TS_EPARSE);
	free(b2);
	free(buf);
}

static void
test_signed2(void **state)
{
	(void)state;
	rsp_smdp_signed2 a, ad;
	rsp_euicc_signed2 b, bd;
	uint8_t *buf = NULL;
	size_t len = 0;
	memset(&a, 0, sizeof(a));
	fill(a.transaction_id, 16, 3);
	assert_int_equal(rsp_smdp_signed2_encode(&a, &buf, &len), 0);
	assert_int_equal(len, 2 + 18 + 3);
	assert_int_equal(buf[20], 0x81);
	assert_int_equal(buf[21], 1);
	assert_int_equal(buf[22], 0);
	assert_int_equal(rsp_smdp_signed2_decode(buf, len, &ad), 0);
	assert_memory_equal(&ad, &a, sizeof(a));
	buf[22] = 2;
	assert_int_equal(rsp_smdp_signed2_decode(buf, len, &ad), TS_EPARSE);
	free(buf);
	a.cc_required = 2;
	assert_int_equal(rsp_smdp_signed2_encode(&a, &buf, &len), TS_EINVAL);

	memset(&b, 0, sizeof(b));
	fill(b.transaction_id, 16, 5);
	fill(b.euicc_otpk, PKI_PUBKEY_LEN, 0);
	b.euicc_otpk[0] = 0x04;
	assert_int_equal(rsp_euicc_signed2_encode(&b, &buf, &len), 0);
	assert_int_equal(len, 2 + 18 + 3 + 65);
	assert_int_equal(buf[20], 0x5F);
	assert_int_equal(buf[21], 0x49);
	assert_int_equal(buf[22], 65);
	assert_int_equal(rsp_euicc_signed2_decode(buf, len, &bd), 0);
	assert_memory_equal(&bd, &b, sizeof(b));
	buf[23] = 0x02; /* compressed-point marker */
	assert_int_equal(rsp_euicc_signed2_decode(buf, len, &bd), TS_EPARSE);
	free(buf);

	/* otPK of 64 bytes. */
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0x30);
	der_put(&w, 0x80, b.transaction_id, 16);
	der_put(&w, 0x5F49, b.euicc_otpk, 64);
	der_end(&w);
	buf = done(&w, &len);
	assert_int_equal(rsp_euicc_signed2_decode(buf, len, &bd), TS_EPARSE);
	free(buf);
}

static void
test_metadata(void **state)
{
	(void)state;
	rsp_metadata m, d;
	uint8_t *buf = NULL;
	size_t len = 0;
	memset(&m, 0, sizeof(m));
	assert_int_equal(ts_snprintf(m.app_id, sizeof(m.app_id), "%s", "app-1"), 0);
	assert_int_equal(ts_snprintf(m.name, sizeof(m.name), "%s", "Travel eSIM"), 0);
	assert_int_equal(ts_snprintf(m.kind, sizeof(m.kind), "%s", "sim"), 0);
	assert_int_equal(ts_snprintf(m.provider, sizeof(m.provider), "%s", "sp-1"), 0);
	m.not_after = 1893456000;
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), 0);
	assert_int_equal(buf[0], 0xE3);
	assert_int_equal(buf[2], 0x80);
	assert_int_equal(buf[9], 0x91);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), 0);
	assert_memory_equal(&d, &m, sizeof(m));
	/* notAfter 1893456000 = 0x70DBD880: 82 04 .. at the end. */
	static const uint8_t tail[] = { 0x82, 0x04, 0x70, 0xDB, 0xD8, 0x80 };
	assert_memory_equal(buf + len - sizeof(tail), tail, sizeof(tail));
	free(buf);

	m.not_after = 0;
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), 0);
	assert_int_equal(buf[len - 3], 0x82);
	assert_int_equal(buf[len - 2], 1);
	assert_int_equal(buf[len - 1], 0);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), 0);
	assert_int_equal(d.not_after, 0);
	free(buf);
	m.not_after = -1;
	assert_int_equal(rsp_metadata_encode(&m, &buf, &len), TS_EINVAL);

	/* kind too long for its field (31 max). */
	char kind[33];
	memset(kind, 'k', 32);
	kind[32] = '\0';
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0xE3);
	der_put_str(&w, 0x80, "a");
	der_put_str(&w, 0x91, "n");
	der_put_str(&w, 0x95, kind);
	der_put_str(&w, 0x83, "p");
	der_put_uint(&w, 0x82, 5);
	der_end(&w);
	buf = done(&w, &len);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), TS_ELIMIT);
	free(buf);
	/* Non-minimal integer. */
	der_writer_init(&w);
	der_begin(&w, 0xE3);
	der_put_str(&w, 0x80, "a");
	der_put_str(&w, 0x91, "n");
	der_put_str(&w, 0x95, "sim");
	der_put_str(&w, 0x83, "p");
	der_put(&w, 0x82, (const uint8_t *)"\x00\x05", 2);
	der_end(&w);
	buf = done(&w, &len);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), TS_EPARSE);
	free(buf);
	/* notAfter beyond INT64_MAX. */
	der_writer_init(&w);
	der_begin(&w, 0xE3);
	der_put_str(&w, 0x80, "a");
	der_put_str(&w, 0x91, "n");
	der_put_str(&w, 0x95, "sim");
	der_put_str(&w, 0x83, "p");
	der_put_uint(&w, 0x82, UINT64_MAX);
	der_end(&w);
	buf = done(&w, &len);
	assert_int_equal(rsp_metadata_decode(buf, len, &d), TS_ELIMIT);
	free(buf);

	/* The optional ICCID (issue 7 item 5), hand-written:
	 * E3 1D { 80 01 "a", 91 01 "n", 95 03 "sim", 83 01 "p", 82 01 05,
	 *         5A 0A 98 44 10 32 54 76 98 10 32 F8 (8944012345678901238) } */
	static const uint8_t with_iccid[] = { 0xE3, 0x1D, 0x80, 0x01, 'a', 0x91, 0x01, 'n', 0x95, 0x03,
		's', 'i', 'm', 0x83, 0x01, 'p', 0x82, 0x01, 0x05, 0x5A, 0x0A, 0x98, 0x44, 0x10, 0x32, 0x54,
		0x76, 0x98, 0x10, 0x32, 0xF8 };
	assert_int_equal(rsp_metadata_decode(with_iccid, sizeof(with_iccid), &d), 0);
	assert_true(d.has_iccid);
	assert_memory_equal(d.iccid, with_iccid + sizeof(with_iccid) - 10, 10);
	assert_int_equal(rsp_metadata_encode(&d, &buf, &len), 0);
	assert_int_equal(len, sizeof(with_iccid));
	assert_memory_equal(buf, with_iccid, len);
	free(buf);
	uint8_t bad[sizeof(with_iccid)];
	memcpy(bad, with_iccid, sizeof(bad));
	bad[19] = 0x5B; /* another tag after notAfter */
	assert_int_equal(rsp_metadata_decode(bad, sizeof(bad), &d), TS_EPARSE);
	/* ICCID of 9 bytes */
	memcpy(bad, with_iccid, sizeof(bad));
	bad[1] = 0x1C;
	bad[20] = 0x09;
	assert_int_equal(rsp_metadata_decode(bad, sizeof(bad) - 1, &d), TS_EPARSE);
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

static uint8_t *
auth_resp(const uint8_t *s1, size_t s1len, size_t siglen, int extra, size_t *len)
{
	static const uint8_t cert1[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	static const uint8_t cert2[] = { 0x30, 0x03, 0x02, 0x01, 0x02 };
	uint8_t sig[64];
	fill(sig, 64, 0x90);
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0xBF38);
	der_begin(&w, 0xA0);
	der_put_raw(&w, s1, s1len);
	der_put(&w, 0x5F37, sig, siglen);
	der_put_raw(&w, cert1, sizeof(cert1));
	if (extra != 1)
		der_put_raw(&w, cert2, sizeof(cert2));
	if (extra == 2)
		der_put_uint(&w, 0x85, 1);
	der_end(&w);
	der_end(&w);
	return done(&w, len);
}

static void
test_auth_server_resp(void **state)
{
	(void)state;
	rsp_euicc_signed1 s;
	rsp_auth_server_resp r;
	uint8_t *s1 = NULL, *buf = NULL;
	size_t s1len = 0, len = 0;
	memset(&s, 0, sizeof(s));
	fill(s.transaction_id, 16, 1);
	assert_int_equal(ts_snprintf(s.server_address, sizeof(s.server_address), "%s", "a"), 0);
	assert_int_equal(ts_snprintf(s.matching_id, sizeof(s.matching_id), "%s", "m"), 0);
	assert_int_equal(rsp_euicc_signed1_encode(&s, &s1, &s1len), 0);

	buf = auth_resp(s1, s1len, 64, 0, &len);
	assert_int_equal(rsp_auth_server_resp_decode(buf, len, &r), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.euicc_signed1_len, s1len);
	assert_memory_equal(r.euicc_signed1, s1, s1len);
	assert_true(r.euicc_signed1 >= buf && r.euicc_signed1 < buf + len);
	assert_int_equal(r.euicc_signature1[0], 0x90);
	assert_int_equal(r.euicc_cert_len, 5);
	assert_int_equal(r.euicc_cert[4], 1);
	assert_int_equal(r.eum_cert_len, 5);
	assert_int_equal(r.eum_cert[4], 2);
	free(buf);

	buf = auth_resp(s1, s1len, 63, 0, &len);
	assert_int_equal(rsp_auth_server_resp_decode(buf, len, &r), TS_EPARSE);
	assert_null(r.euicc_signed1);
	free(buf);
	buf = auth_resp(s1, s1len, 64, 1, &len); /* EUM cert missing */
	assert_int_equal(rsp_auth_server_resp_decode(buf, len, &r), TS_EPARSE);
	free(buf);
	buf = auth_resp(s1, s1len, 64, 2, &len); /* unknown trailing child */
	assert_int_equal(rsp_auth_server_resp_decode(buf, len, &r), TS_EPARSE);
	free(buf);
	buf = auth_resp(s1, s1len - 1, 64, 0, &len); /* broken inner euiccSigned1 */
	assert_true(rsp_auth_server_resp_decode(buf, len, &r) < 0);
	free(buf);

	/* Error alternative. */
	static const uint8_t err[] = { 0xBF, 0x38, 0x03, 0x02, 0x01, 0x7F };
	assert_int_equal(rsp_auth_server_resp_decode(err, sizeof(err), &r), 0);
	assert_int_equal(r.error, 127);
	assert_null(r.euicc_signed1);
	static const uint8_t err0[] = { 0xBF, 0x38, 0x03, 0x02, 0x01, 0x00 };
	assert_int_equal(rsp_auth_server_resp_decode(err0, sizeof(err0), &r), TS_EPARSE);
	static const uint8_t errneg[] = { 0xBF, 0x38, 0x03, 0x02, 0x01, 0x80 };
	assert_int_equal(rsp_auth_server_resp_decode(errneg, sizeof(errneg), &r), TS_EPARSE);
	static const uint8_t err2[] = { 0xBF, 0x38, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };
	assert_int_equal(rsp_auth_server_resp_decode(err2, sizeof(err2), &r), TS_EPARSE);
	static const uint8_t empty[] = { 0xBF, 0x38, 0x00 };
	assert_int_equal(rsp_auth_server_resp_decode(empty, sizeof(empty), &r), TS_EPARSE);
	static const uint8_t wrongtag[] = { 0xBF, 0x21, 0x03, 0x02, 0x01, 0x01 };
	assert_int_equal(rsp_auth_server_resp_decode(wrongtag, sizeof(wrongtag), &r), TS_EPARSE);
	free(s1);
}

static void
test_prepare_download_resp(void **state)
{
	(void)state;
	rsp_euicc_signed2 s;
	rsp_prepare_download_resp r;
	uint8_t *s2 = NULL, *buf = NULL;
	size_t s2len = 0, len = 0;
	uint8_t sig[64];
	memset(&s, 0, sizeof(s));
	fill(s.transaction_id, 16, 1);
	s.euicc_otpk[0] = 0x04;
	fill(sig, 64, 0x33);
	assert_int_equal(rsp_euicc_signed2_encode(&s, &s2, &s2len), 0);

	for (int c = 0; c < 3; c++) {
		der_writer w;
		der_writer_init(&w);
		der_begin(&w, 0xBF21);
		der_begin(&w, 0xA0);
		der_put_raw(&w, s2, s2len);
		der_put(&w, 0x5F37, sig, 64);
		if (c == 1)
			der_put(&w, 0x5F37, sig, 64);
		der_end(&w);
		if (c == 2)
			der_put_uint(&w, 0x02, 1);
		der_end(&w);
		buf = done(&w, &len);
		int rc = rsp_prepare_download_resp_decode(buf, len, &r);
		if (c == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.error, 0);
			assert_int_equal(r.euicc_signed2_len, s2len);
			assert_memory_equal(r.euicc_signed2, s2, s2len);
			assert_memory_equal(r.euicc_signature2, sig, 64);
		} else {
			assert_int_equal(rc, TS_EPARSE);
		}
		free(buf);
	}
	static const uint8_t err[] = { 0xBF, 0x21, 0x04, 0x02, 0x02, 0x00, 0x80 };
	assert_int_equal(rsp_prepare_download_resp_decode(err, sizeof(err), &r), 0);
	assert_int_equal(r.error, 128);
	static const uint8_t errnm[] = { 0xBF, 0x21, 0x04, 0x02, 0x02, 0x00, 0x01 };
	assert_int_equal(rsp_prepare_download_resp_decode(errnm, sizeof(errnm), &r), TS_EPARSE);
	free(s2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_signed1),
		cmocka_unit_test(test_euicc_signed1),
		cmocka_unit_test(test_signed2),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_notification),
		cmocka_unit_test(test_auth_server_resp),
		cmocka_unit_test(test_prepare_download_resp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
