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
	return cmocka_run_group_tests(tests, NULL, NULL);
}
