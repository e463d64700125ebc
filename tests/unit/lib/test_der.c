/* Unit tests for lib/der: strict reading, limits, writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/der.h"
#include "lib/ts_err.h"

static void
test_read_simple(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x5A, 0x02, 0xAB, 0xCD };
	der_tlv t;
	size_t used = 0;
	assert_int_equal(der_read(b, sizeof(b), &t, &used), 0);
	assert_int_equal(t.tag, 0x5A);
	assert_int_equal(t.len, 2);
	assert_int_equal(t.hdr_len, 2);
	assert_ptr_equal(t.val, b + 2);
	assert_int_equal(used, 4);
	assert_int_equal(der_tag_constructed(t.tag), 0);
	assert_int_equal(der_read_one(b, sizeof(b), &t), 0);
}

static void
test_multibyte_tags(void **state)
{
	(void)state;
	/* GetEuiccData: BF3E 03 5C 01 5A */
	static const uint8_t b[] = { 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A };
	der_tlv t, c;
	assert_int_equal(der_read_one(b, sizeof(b), &t), 0);
	assert_int_equal(t.tag, 0xBF3E);
	assert_int_equal(t.hdr_len, 3);
	assert_int_equal(t.len, 3);
	assert_int_equal(der_tag_constructed(t.tag), 1);
	assert_int_equal(der_find(t.val, t.len, 0x5C, &c), 0);
	assert_int_equal(c.len, 1);
	assert_int_equal(c.val[0], 0x5A);

	static const uint8_t s[] = { 0x5F, 0x37, 0x01, 0x00 };
	assert_int_equal(der_read_one(s, sizeof(s), &t), 0);
	assert_int_equal(t.tag, 0x5F37);
	assert_int_equal(der_tag_constructed(t.tag), 0);
	static const uint8_t p[] = { 0x9F, 0x70, 0x01, 0x01 };
	assert_int_equal(der_read_one(p, sizeof(p), &t), 0);
	assert_int_equal(t.tag, 0x9F70);
	/* Three identifier octets: BF 81 00 (tag number 128). */
	static const uint8_t l3[] = { 0xBF, 0x81, 0x00, 0x00 };
	assert_int_equal(der_read_one(l3, sizeof(l3), &t), 0);
	assert_int_equal(t.tag, 0xBF8100);
	assert_int_equal(t.len, 0);
	/* Five identifier octets: over the limit. */
	static const uint8_t l5[] = { 0x5F, 0x81, 0x81, 0x81, 0x01, 0x00 };
	assert_int_equal(der_read_one(l5, sizeof(l5), &t), TS_ELIMIT);
	/* Non-minimal tags: leading 0x80, and a number < 31 in long form. */
	static const uint8_t nm1[] = { 0x5F, 0x80, 0x37, 0x00 };
	assert_int_equal(der_read_one(nm1, sizeof(nm1), &t), TS_EPARSE);
	static const uint8_t nm2[] = { 0x5F, 0x1E, 0x00 };
	assert_int_equal(der_read_one(nm2, sizeof(nm2), &t), TS_EPARSE);
	/* Tag 00 is never a TLV. */
	static const uint8_t z[] = { 0x00, 0x00 };
	assert_int_equal(der_read_one(z, sizeof(z), &t), TS_EPARSE);
}

static void
test_lengths(void **state)
{
	(void)state;
	der_tlv t;
	uint8_t b[300];
	memset(b, 0xEE, sizeof(b));
	/* 81 80: 128 bytes, minimal long form. */
	b[0] = 0x04;
	b[1] = 0x81;
	b[2] = 0x80;
	assert_int_equal(der_read_one(b, 3 + 128, &t), 0);
	assert_int_equal(t.len, 128);
	assert_int_equal(t.hdr_len, 3);
	/* 82 01 00: 256 bytes. */
	b[1] = 0x82;
	b[2] = 0x01;
	b[3] = 0x00;
	assert_int_equal(der_read_one(b, 4 + 256, &t), 0);
	assert_int_equal(t.len, 256);
	/* Indefinite length. */
	static const uint8_t ind[] = { 0x30, 0x80, 0x00, 0x00 };
	assert_int_equal(der_read(ind, sizeof(ind), &t, NULL), TS_EPARSE);
	/* Non-minimal: 81 05 where 05 fits the short form. */
	static const uint8_t nm[] = { 0x04, 0x81, 0x05, 1, 2, 3, 4, 5 };
	assert_int_equal(der_read(nm, sizeof(nm), &t, NULL), TS_EPARSE);
	/* Leading zero length octet: 82 00 80. */
	static const uint8_t lz[] = { 0x04, 0x82, 0x00, 0x80 };
	assert_int_equal(der_read(lz, sizeof(lz), &t, NULL), TS_EPARSE);
	/* Reserved 0xFF. */
	static const uint8_t rs[] = { 0x04, 0xFF };
	assert_int_equal(der_read(rs, sizeof(rs), &t, NULL), TS_EPARSE);
	/* Over DER_MAX_LEN: 83 10 00 01, and 85 ... */
	static const uint8_t big[] = { 0x04, 0x83, 0x10, 0x00, 0x01 };
	assert_int_equal(der_read(big, sizeof(big), &t, NULL), TS_ELIMIT);
	static const uint8_t huge[] = { 0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00 };
	assert_int_equal(der_read(huge, sizeof(huge), &t, NULL), TS_ELIMIT);
	/* Exactly DER_MAX_LEN is allowed (header only: rest missing -> EAGAIN). */
	static const uint8_t max[] = { 0x04, 0x83, 0x10, 0x00, 0x00 };
	assert_int_equal(der_read(max, sizeof(max), &t, NULL), TS_EAGAIN);
}

static void
test_truncated_and_trailing(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A, 0x99 };
	der_tlv t;
	size_t used = 0;
	/* Every strict prefix of the TLV needs more input. */
	for (size_t n = 0; n < 6; n++)
		assert_int_equal(der_read(b, n, &t, &used), TS_EAGAIN);
	assert_int_equal(der_read(b, sizeof(b), &t, &used), 0);
	assert_int_equal(used, 6);
	assert_int_equal(der_read_one(b, sizeof(b), &t), TS_ETRAILING);
	assert_int_equal(der_read_one(b, 6, &t), 0);
	/* Truncated long length. */
	static const uint8_t tl[] = { 0x04, 0x82, 0x01 };
	assert_int_equal(der_read(tl, sizeof(tl), &t, NULL), TS_EAGAIN);
}

static void
test_iter_and_find(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x80, 0x01, 0x01, 0x81, 0x00, 0x80, 0x01, 0x02 };
	der_iter it;
	der_tlv t;
	der_iter_init(&it, b, sizeof(b));
	assert_int_equal(der_iter_next(&it, &t), 1);
	assert_int_equal(t.tag, 0x80);
	assert_int_equal(t.val[0], 0x01);
	assert_int_equal(der_iter_next(&it, &t), 1);
	assert_int_equal(t.tag, 0x81);
	assert_int_equal(t.len, 0);
	assert_int_equal(der_iter_next(&it, &t), 1);
	assert_int_equal(der_iter_next(&it, &t), 0);
	assert_int_equal(der_iter_next(&it, &t), 0);
	/* find returns the first match. */
	assert_int_equal(der_find(b, sizeof(b), 0x80, &t), 0);
	assert_int_equal(t.val[0], 0x01);
	assert_int_equal(der_find(b, sizeof(b), 0x82, &t), TS_ENOTFOUND);
	/* Truncated element after the match: the whole buffer must parse. */
	static const uint8_t bad[] = { 0x80, 0x01, 0x01, 0x81, 0x05, 0x00 };
	assert_int_equal(der_find(bad, sizeof(bad), 0x80, &t), TS_EPARSE);
	der_iter_init(&it, bad, sizeof(bad));
	assert_int_equal(der_iter_next(&it, &t), 1);
	assert_int_equal(der_iter_next(&it, &t), TS_EPARSE);
	/* Empty buffer: nothing. */
	der_iter_init(&it, NULL, 0);
	assert_int_equal(der_iter_next(&it, &t), 0);
	assert_int_equal(der_find(NULL, 0, 0x80, &t), TS_ENOTFOUND);
}

static void
test_validate(void **state)
{
	(void)state;
	static const uint8_t ok[] = { 0xBF, 0x3E, 0x05, 0xA0, 0x03, 0x5A, 0x01, 0x00 };
	assert_int_equal(der_validate(ok, sizeof(ok)), 0);
	/* Child overruns its parent. */
	static const uint8_t bad[] = { 0xBF, 0x3E, 0x05, 0xA0, 0x04, 0x5A, 0x01, 0x00 };
	assert_int_equal(der_validate(bad, sizeof(bad)), TS_EPARSE);
	/* Primitive contents are opaque. */
	static const uint8_t prim[] = { 0x80, 0x02, 0x30, 0x80 };
	assert_int_equal(der_validate(prim, sizeof(prim)), 0);
	/* Non-minimal length deep inside. */
	static const uint8_t deep[] = { 0x30, 0x04, 0x04, 0x81, 0x01, 0x00 };
	assert_int_equal(der_validate(deep, sizeof(deep)), TS_EPARSE);
	assert_int_equal(der_validate(ok, sizeof(ok) - 1), TS_EPARSE);
	assert_int_equal(der_validate(NULL, 0), TS_EPARSE);
	uint8_t tr[sizeof(ok) + 1];
	memcpy(tr, ok, sizeof(ok));
	tr[sizeof(ok)] = 0x00;
	assert_int_equal(der_validate(tr, sizeof(tr)), TS_ETRAILING);
}

/* Nested 30 xx 30 xx ... with `levels` constructed TLVs around 05 00. */
static size_t
nest(uint8_t *b, int levels)
{
	size_t n = 0;
	for (int i = 0; i < levels; i++) {
		b[n++] = 0x30;
		b[n++] = (uint8_t)(2 * (levels - 1 - i) + 2);
	}
	b[n++] = 0x05;
	b[n++] = 0x00;
	return n;
}

static void
test_depth_limit(void **state)
{
	(void)state;
	uint8_t b[128];
	size_t n = nest(b, DER_MAX_DEPTH);
	assert_int_equal(der_validate(b, n), 0);
	n = nest(b, DER_MAX_DEPTH + 1);
	assert_int_equal(der_validate(b, n), TS_ELIMIT);
	/* DER_MAX_DEPTH constructed levels from the writer read back. */
	der_writer w;
	uint8_t *out = NULL;
	der_writer_init(&w);
	for (int i = 0; i < DER_MAX_DEPTH; i++)
		der_begin(&w, 0xA0);
	der_put(&w, 0x05, NULL, 0);
	for (int i = 0; i < DER_MAX_DEPTH; i++)
		der_end(&w);
	assert_int_equal(der_writer_finish(&w, &out, &n), 0);
	assert_int_equal(der_validate(out, n), 0);
	free(out);
}

static void
test_get_uint(void **state)
{
	(void)state;
	der_tlv t;
	uint64_t v = 0;
	static const uint8_t one[] = { 0x02, 0x01, 0x07 };
	assert_int_equal(der_read_one(one, sizeof(one), &t), 0);
	assert_int_equal(der_get_uint(&t, &v), 0);
	assert_int_equal(v, 7);
	static const uint8_t eight[] = { 0x80, 0x08, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88 };
	assert_int_equal(der_read_one(eight, sizeof(eight), &t), 0);
	assert_int_equal(der_get_uint(&t, &v), 0);
	assert_true(v == 0xFFEEDDCCBBAA9988ull);
	static const uint8_t nine[] = { 0x02, 0x09, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0x01 };
	assert_int_equal(der_read_one(nine, sizeof(nine), &t), 0);
	assert_int_equal(der_get_uint(&t, &v), 0);
	assert_true(v == 0xFF00000000000001ull);
	static const uint8_t nine_bad[] = { 0x02, 0x09, 0x01, 0xFF, 0, 0, 0, 0, 0, 0, 0x01 };
	assert_int_equal(der_read_one(nine_bad, sizeof(nine_bad), &t), 0);
	assert_int_equal(der_get_uint(&t, &v), TS_ELIMIT);
	static const uint8_t empty[] = { 0x02, 0x00 };
	assert_int_equal(der_read_one(empty, sizeof(empty), &t), 0);
	assert_int_equal(der_get_uint(&t, &v), TS_EPARSE);
	static const uint8_t cons[] = { 0xA0, 0x01, 0x01 };
	assert_int_equal(der_read_one(cons, sizeof(cons), &t), 0);
	assert_int_equal(der_get_uint(&t, &v), TS_EPARSE);
}

static void
test_writer_basic(void **state)
{
	(void)state;
	der_writer w;
	uint8_t *out = NULL;
	size_t n = 0;
	der_writer_init(&w);
	assert_int_equal(der_begin(&w, 0xBF3E), 0);
	assert_int_equal(der_put(&w, 0x5A, (const uint8_t *)"\x89\x04", 2), 0);
	assert_int_equal(der_put_uint(&w, 0x80, 0), 0);
	assert_int_equal(der_put_uint(&w, 0x81, 0x1234), 0);
	assert_int_equal(der_put_str(&w, 0x5F37, "hi"), 0);
	assert_int_equal(der_end(&w), 0);
	assert_int_equal(der_put_raw(&w, (const uint8_t *)"\x05\x00", 2), 0);
	assert_int_equal(der_writer_finish(&w, &out, &n), 0);
	static const uint8_t want[] = { 0xBF, 0x3E, 0x10, 0x5A, 0x02, 0x89, 0x04, 0x80, 0x01, 0x00,
		0x81, 0x02, 0x12, 0x34, 0x5F, 0x37, 0x02, 'h', 'i', 0x05, 0x00 };
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	free(out);
	assert_null(w.buf);
	der_writer_clear(&w);
	der_writer_clear(&w);
}

static void
test_writer_long_lengths(void **state)
{
	(void)state;
	/* A constructed TLV that grows past 127 and 255 bytes: der_end must
	 * widen the length in place (81 xx, 82 xx xx). */
	static uint8_t val[300];
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)i;
	size_t sizes[] = { 0, 125, 126, 127, 128, 253, 254, 255, 256, 298 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		der_writer w;
		uint8_t *out = NULL;
		size_t n = 0;
		der_writer_init(&w);
		assert_int_equal(der_begin(&w, 0x30), 0);
		assert_int_equal(der_begin(&w, 0xA1), 0);
		assert_int_equal(der_put(&w, 0x04, val, sizes[k]), 0);
		assert_int_equal(der_end(&w), 0);
		assert_int_equal(der_end(&w), 0);
		assert_int_equal(der_writer_finish(&w, &out, &n), 0);
		assert_int_equal(der_validate(out, n), 0);
		der_tlv outer, inner, leaf;
		assert_int_equal(der_read_one(out, n, &outer), 0);
		assert_int_equal(outer.tag, 0x30);
		assert_int_equal(der_read_one(outer.val, outer.len, &inner), 0);
		assert_int_equal(inner.tag, 0xA1);
		assert_int_equal(der_read_one(inner.val, inner.len, &leaf), 0);
		assert_int_equal(leaf.len, sizes[k]);
		if (sizes[k] > 0)
			assert_memory_equal(leaf.val, val, sizes[k]);
		size_t leaf_hdr = sizes[k] < 128 ? 2 : sizes[k] < 256 ? 3 : 4;
		assert_int_equal(leaf.hdr_len, leaf_hdr);
		free(out);
	}
}

static void
test_writer_errors(void **state)
{
	(void)state;
	der_writer w;
	uint8_t *out = NULL;
	size_t n = 0;

	/* Unclosed constructed TLV. */
	der_writer_init(&w);
	assert_int_equal(der_begin(&w, 0x30), 0);
	assert_int_equal(der_writer_finish(&w, &out, &n), TS_ESTATE);
	assert_null(out);
	der_writer_clear(&w);

	/* End without begin; sticky afterwards. */
	der_writer_init(&w);
	assert_int_equal(der_end(&w), TS_ESTATE);
	assert_int_equal(der_put_uint(&w, 0x80, 1), TS_ESTATE);
	assert_int_equal(der_writer_finish(&w, &out, &n), TS_ESTATE);
	der_writer_clear(&w);

	/* Primitive tag in begin, malformed tags in put. */
	der_writer_init(&w);
	assert_int_equal(der_begin(&w, 0x04), TS_EINVAL);
	der_writer_clear(&w);
	der_writer_init(&w);
	assert_int_equal(der_put(&w, 0x1F, NULL, 0), TS_EINVAL);
	der_writer_clear(&w);
	der_writer_init(&w);
	assert_int_equal(der_put(&w, 0x5F1E, NULL, 0), TS_EINVAL);
	der_writer_clear(&w);
	der_writer_init(&w);
	assert_int_equal(der_put(&w, 0x3F, NULL, 0), TS_EINVAL);
	der_writer_clear(&w);

	/* Depth limit. */
	der_writer_init(&w);
	for (int i = 0; i < DER_MAX_DEPTH; i++)
		assert_int_equal(der_begin(&w, 0x30), 0);
	assert_int_equal(der_begin(&w, 0x30), TS_ELIMIT);
	der_writer_clear(&w);

	/* Empty writer gives an empty, freeable buffer. */
	der_writer_init(&w);
	assert_int_equal(der_writer_finish(&w, &out, &n), 0);
	assert_non_null(out);
	assert_int_equal(n, 0);
	free(out);
}

static void
test_writer_reader_roundtrip_uint(void **state)
{
	(void)state;
	uint64_t vals[] = { 0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFFFFFFull, 0x100000000ull,
		0xFFFFFFFFFFFFFFFFull };
	size_t lens[] = { 1, 1, 1, 1, 1, 2, 4, 5, 8 };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		der_writer w;
		uint8_t *out = NULL;
		size_t n = 0;
		der_tlv t;
		uint64_t v = 0;
		der_writer_init(&w);
		assert_int_equal(der_put_uint(&w, 0x9F70, vals[i]), 0);
		assert_int_equal(der_writer_finish(&w, &out, &n), 0);
		assert_int_equal(der_read_one(out, n, &t), 0);
		assert_int_equal(t.tag, 0x9F70);
		assert_int_equal(t.len, lens[i]);
		assert_int_equal(der_get_uint(&t, &v), 0);
		assert_true(v == vals[i]);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_simple),
		cmocka_unit_test(test_multibyte_tags),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_iter_and_find),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_get_uint),
		cmocka_unit_test(test_writer_basic),
		cmocka_unit_test(test_writer_long_lengths),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_writer_reader_roundtrip_uint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
