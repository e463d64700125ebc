/* Unit tests for lib/ndef: message codec and the identity record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/der.h"
#include "lib/ndef.h"
#include "lib/ts_err.h"

#define EID0 "89049032123451234512345678901235"

static void
test_parse_short_record(void **state)
{
	(void)state;
	/* Well-known "T" text record: D1 01 05 54 02 65 6E 68 69 */
	static const uint8_t b[] = { 0xD1, 0x01, 0x05, 'T', 0x02, 'e', 'n', 'h', 'i' };
	ndef_record r[2];
	size_t n = 0;
	assert_int_equal(ndef_parse(b, sizeof(b), r, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].tnf, NDEF_TNF_WELL_KNOWN);
	assert_int_equal(r[0].type_len, 1);
	assert_int_equal(r[0].type[0], 'T');
	assert_int_equal(r[0].id_len, 0);
	assert_int_equal(r[0].payload_len, 5);
	assert_ptr_equal(r[0].payload, b + 4);
}

static void
test_parse_long_and_il(void **state)
{
	(void)state;
	/* Record 1: MB, long form, IL, MIME "a/b", id "x", payload 3 bytes.
	 * Record 2: ME, SR, empty TNF. */
	static const uint8_t b[] = { 0x8A, 0x03, 0x00, 0x00, 0x00, 0x03, 0x01, 'a', '/', 'b', 'x', 1,
		2, 3, 0x50, 0x00, 0x00 };
	ndef_record r[4];
	size_t n = 0;
	assert_int_equal(ndef_parse(b, sizeof(b), r, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].tnf, NDEF_TNF_MIME);
	assert_memory_equal(r[0].type, "a/b", 3);
	assert_int_equal(r[0].id_len, 1);
	assert_int_equal(r[0].id[0], 'x');
	assert_int_equal(r[0].payload_len, 3);
	assert_int_equal(r[0].payload[2], 3);
	assert_int_equal(r[1].tnf, NDEF_TNF_EMPTY);
	assert_int_equal(r[1].payload_len, 0);
	/* max too small */
	assert_int_equal(ndef_parse(b, sizeof(b), r, 1, &n), TS_ELIMIT);
}

static void
test_parse_malformed(void **state)
{
	(void)state;
	ndef_record r[4];
	size_t n = 0;
	/* Missing ME. */
	static const uint8_t no_me[] = { 0x91, 0x01, 0x01, 'T', 0x00 };
	assert_int_equal(ndef_parse(no_me, sizeof(no_me), r, 4, &n), TS_EPARSE);
	/* Missing MB. */
	static const uint8_t no_mb[] = { 0x51, 0x01, 0x01, 'T', 0x00 };
	assert_int_equal(ndef_parse(no_mb, sizeof(no_mb), r, 4, &n), TS_EPARSE);
	/* MB on the second record. */
	static const uint8_t mb2[] = { 0x91, 0x01, 0x00, 'T', 0xD1, 0x01, 0x00, 'T' };
	assert_int_equal(ndef_parse(mb2, sizeof(mb2), r, 4, &n), TS_EPARSE);
	/* CF set. */
	static const uint8_t cf[] = { 0xF1, 0x01, 0x01, 'T', 0x00 };
	assert_int_equal(ndef_parse(cf, sizeof(cf), r, 4, &n), TS_EPARSE);
	/* Payload length beyond the buffer (short and long form). */
	static const uint8_t pl[] = { 0xD1, 0x01, 0x05, 'T', 0x00 };
	assert_int_equal(ndef_parse(pl, sizeof(pl), r, 4, &n), TS_EPARSE);
	static const uint8_t pll[] = { 0xC1, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 'T', 0x00 };
	assert_int_equal(ndef_parse(pll, sizeof(pll), r, 4, &n), TS_EPARSE);
	/* Type length beyond the buffer. */
	static const uint8_t tl[] = { 0xD1, 0x09, 0x00, 'T' };
	assert_int_equal(ndef_parse(tl, sizeof(tl), r, 4, &n), TS_EPARSE);
	/* ID length beyond the buffer. */
	static const uint8_t il[] = { 0xD9, 0x01, 0x00, 0x04, 'T', 'x' };
	assert_int_equal(ndef_parse(il, sizeof(il), r, 4, &n), TS_EPARSE);
	/* Header cut short. */
	static const uint8_t cut[] = { 0xC1, 0x01, 0x00, 0x00 };
	assert_int_equal(ndef_parse(cut, sizeof(cut), r, 4, &n), TS_EPARSE);
	/* Trailing bytes after ME. */
	static const uint8_t tr[] = { 0xD1, 0x01, 0x00, 'T', 0x00 };
	assert_int_equal(ndef_parse(tr, sizeof(tr), r, 4, &n), TS_ETRAILING);
	/* Reserved TNF 7, unchanged TNF 6, empty TNF with a type, well-known without one. */
	static const uint8_t t7[] = { 0xD7, 0x00, 0x00 };
	assert_int_equal(ndef_parse(t7, sizeof(t7), r, 4, &n), TS_EPARSE);
	static const uint8_t t6[] = { 0xD6, 0x00, 0x00 };
	assert_int_equal(ndef_parse(t6, sizeof(t6), r, 4, &n), TS_EPARSE);
	static const uint8_t t0[] = { 0xD0, 0x01, 0x00, 'T' };
	assert_int_equal(ndef_parse(t0, sizeof(t0), r, 4, &n), TS_EPARSE);
	static const uint8_t t1[] = { 0xD1, 0x00, 0x00 };
	assert_int_equal(ndef_parse(t1, sizeof(t1), r, 4, &n), TS_EPARSE);
	/* Empty input. */
	assert_int_equal(ndef_parse(NULL, 0, r, 4, &n), TS_EPARSE);
	/* Over the message limit. */
	uint8_t *big = calloc(1, NDEF_MAX_MESSAGE + 1);
	assert_non_null(big);
	assert_int_equal(ndef_parse(big, NDEF_MAX_MESSAGE + 1, r, 4, &n), TS_ELIMIT);
	free(big);
}

static void
test_encode_roundtrip(void **state)
{
	(void)state;
	static uint8_t big[300];
	memset(big, 0x42, sizeof(big));
	ndef_record in[3] = {
		{ .tnf = NDEF_TNF_WELL_KNOWN, .type = (const uint8_t *)"U", .type_len = 1,
		    .payload = (const uint8_t *)"\x04x.org", .payload_len = 6 },
		{ .tnf = NDEF_TNF_EXTERNAL, .type = (const uint8_t *)"a.b:c", .type_len = 5,
		    .id = (const uint8_t *)"id", .id_len = 2, .payload = big, .payload_len = 300 },
		{ .tnf = NDEF_TNF_UNKNOWN, .payload = (const uint8_t *)"z", .payload_len = 1 },
	};
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(ndef_encode(in, 3, &out, &len), 0);
	/* First record: MB SR TNF1. Second: IL, long. Third: ME SR TNF5. */
	static const uint8_t r1[] = { 0x91, 0x01, 0x06, 'U', 0x04, 'x', '.', 'o', 'r', 'g' };
	assert_memory_equal(out, r1, sizeof(r1));
	static const uint8_t r2h[] = { 0x0C, 0x05, 0x00, 0x00, 0x01, 0x2C, 0x02 };
	assert_memory_equal(out + sizeof(r1), r2h, sizeof(r2h));
	size_t r3 = sizeof(r1) + sizeof(r2h) + 5 + 2 + 300;
	static const uint8_t r3b[] = { 0x55, 0x00, 0x01, 'z' };
	assert_int_equal(len, r3 + sizeof(r3b));
	assert_memory_equal(out + r3, r3b, sizeof(r3b));

	ndef_record back[NDEF_MAX_RECORDS];
	size_t n = 0;
	assert_int_equal(ndef_parse(out, len, back, NDEF_MAX_RECORDS, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(back[i].tnf, in[i].tnf);
		assert_int_equal(back[i].type_len, in[i].type_len);
		assert_int_equal(back[i].id_len, in[i].id_len);
		assert_int_equal(back[i].payload_len, in[i].payload_len);
		assert_memory_equal(back[i].payload, in[i].payload, in[i].payload_len);
	}
	free(out);

	/* Invalid encodes. */
	assert_int_equal(ndef_encode(in, 0, &out, &len), TS_EINVAL);
	ndef_record bad = { .tnf = NDEF_TNF_WELL_KNOWN };
	assert_int_equal(ndef_encode(&bad, 1, &out, &len), TS_EINVAL);
	ndef_record many[NDEF_MAX_RECORDS + 1];
	memset(many, 0, sizeof(many));
	assert_int_equal(ndef_encode(many, NDEF_MAX_RECORDS + 1, &out, &len), TS_ELIMIT);
	uint8_t *huge = calloc(1, NDEF_MAX_MESSAGE);
	assert_non_null(huge);
	ndef_record hr = { .tnf = NDEF_TNF_UNKNOWN, .payload = huge, .payload_len = NDEF_MAX_MESSAGE };
	assert_int_equal(ndef_encode(&hr, 1, &out, &len), TS_ELIMIT);
	free(huge);
}

static void
test_identity_roundtrip(void **state)
{
	(void)state;
	ndef_identity id, back;
	memset(&id, 0, sizeof(id));
	memcpy(id.eid.digits, EID0, sizeof(EID0));
	memcpy(id.name, "Watch", 6);
	memcpy(id.model, "W-1", 4);
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(ndef_identity_encode(&id, &out, &len), 0);
	static const uint8_t want[] = { 0xD4, 0x0F, 0x1E, 't', 'a', 'p', 's', 'h', 'a', 'r', 'e', '.',
		'o', 'r', 'g', ':', 'i', 'd', 0x5A, 0x10, 0x89, 0x04, 0x90, 0x32, 0x12, 0x34, 0x51,
		0x23, 0x45, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x35, 0x80, 0x05, 'W', 'a', 't', 'c',
		'h', 0x81, 0x03, 'W', '-', '1' };
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(ndef_identity_decode(out, len, &back), 0);
	assert_string_equal(back.eid.digits, EID0);
	assert_string_equal(back.name, "Watch");
	assert_string_equal(back.model, "W-1");
	free(out);

	/* No name or model: payload is the EID alone. */
	id.name[0] = '\0';
	id.model[0] = '\0';
	assert_int_equal(ndef_identity_encode(&id, &out, &len), 0);
	assert_int_equal(len, 3 + 15 + 18);
	assert_int_equal(ndef_identity_decode(out, len, &back), 0);
	assert_string_equal(back.name, "");
	assert_string_equal(back.model, "");
	free(out);

	/* Bad EID refused on encode. */
	id.eid.digits[31] = '6';
	assert_int_equal(ndef_identity_encode(&id, &out, &len), TS_EEIDCHK);
	id.eid.digits[31] = 'x';
	assert_int_equal(ndef_identity_encode(&id, &out, &len), TS_EEIDFMT);
}

/* Builds a one-record message of type `type` around payload. */
static uint8_t *
msg(const char *type, const uint8_t *payload, size_t plen, size_t *len)
{
	ndef_record r = { .tnf = NDEF_TNF_EXTERNAL, .type = (const uint8_t *)type,
		.type_len = strlen(type), .payload = payload, .payload_len = plen };
	uint8_t *out = NULL;
	assert_int_equal(ndef_encode(&r, 1, &out, len), 0);
	return out;
}

static const uint8_t eid_tlv[] = { 0x5A, 0x10, 0x89, 0x04, 0x90, 0x32, 0x12, 0x34, 0x51, 0x23, 0x45,
	0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x35 };

static void
test_identity_decode_cases(void **state)
{
	(void)state;
	ndef_identity id;
	size_t len = 0;
	uint8_t p[200];
	uint8_t *m;

	/* Type compared case-insensitively; unknown tags ignored. */
	memcpy(p, eid_tlv, sizeof(eid_tlv));
	p[sizeof(eid_tlv)] = 0x82;
	p[sizeof(eid_tlv) + 1] = 0x00;
	m = msg("TapShare.ORG:ID", p, sizeof(eid_tlv) + 2, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), 0);
	assert_string_equal(id.eid.digits, EID0);
	free(m);

	/* Other type: not found. */
	m = msg("tapshare.org:idx", eid_tlv, sizeof(eid_tlv), &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_ENOTFOUND);
	free(m);

	/* Missing EID. */
	static const uint8_t noeid[] = { 0x80, 0x01, 'a' };
	m = msg(NDEF_TS_TYPE, noeid, sizeof(noeid), &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EPARSE);
	free(m);

	/* EID with a wrong check digit / a non-digit nibble / wrong length. */
	memcpy(p, eid_tlv, sizeof(eid_tlv));
	p[17] = 0x36;
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv), &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EEIDCHK);
	free(m);
	p[17] = 0x3F;
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv), &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EEIDFMT);
	free(m);
	memcpy(p, eid_tlv, sizeof(eid_tlv));
	p[1] = 0x0F;
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv) - 1, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EPARSE);
	free(m);

	/* Duplicate EID TLV. */
	memcpy(p, eid_tlv, sizeof(eid_tlv));
	memcpy(p + sizeof(eid_tlv), eid_tlv, sizeof(eid_tlv));
	m = msg(NDEF_TS_TYPE, p, 2 * sizeof(eid_tlv), &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EPARSE);
	free(m);

	/* Name of 64 bytes OK, 65 over the limit. */
	memcpy(p, eid_tlv, sizeof(eid_tlv));
	p[sizeof(eid_tlv)] = 0x80;
	p[sizeof(eid_tlv) + 1] = 64;
	memset(p + sizeof(eid_tlv) + 2, 'n', 65);
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv) + 2 + 64, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), 0);
	assert_int_equal(strlen(id.name), 64);
	free(m);
	p[sizeof(eid_tlv) + 1] = 65;
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv) + 2 + 65, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_ELIMIT);
	free(m);

	/* Name with a NUL byte, and with invalid UTF-8. */
	p[sizeof(eid_tlv) + 1] = 3;
	memcpy(p + sizeof(eid_tlv) + 2, "a\0b", 3);
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv) + 5, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EPARSE);
	free(m);
	memcpy(p + sizeof(eid_tlv) + 2, "a\xC0\xAF", 3); /* overlong '/' */
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv) + 5, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EPARSE);
	free(m);
	memcpy(p + sizeof(eid_tlv) + 2, "\xC3\xA9!", 3); /* "é!" */
	m = msg(NDEF_TS_TYPE, p, sizeof(eid_tlv) + 5, &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), 0);
	assert_string_equal(id.name, "\xC3\xA9!");
	free(m);

	/* Payload that is not TLV. */
	static const uint8_t junk[] = { 0x5A, 0x81, 0x05 };
	m = msg(NDEF_TS_TYPE, junk, sizeof(junk), &len);
	assert_int_equal(ndef_identity_decode(m, len, &id), TS_EPARSE);
	free(m);
}

static void
test_identity_among_records(void **state)
{
	(void)state;
	ndef_identity id;
	ndef_record r[3] = {
		{ .tnf = NDEF_TNF_WELL_KNOWN, .type = (const uint8_t *)"T", .type_len = 1,
		    .payload = (const uint8_t *)"\x02" "enhi", .payload_len = 5 },
		{ .tnf = NDEF_TNF_EXTERNAL, .type = (const uint8_t *)NDEF_TS_TYPE,
		    .type_len = strlen(NDEF_TS_TYPE), .payload = eid_tlv, .payload_len = sizeof(eid_tlv) },
		{ .tnf = NDEF_TNF_EXTERNAL, .type = (const uint8_t *)NDEF_TS_TYPE,
		    .type_len = strlen(NDEF_TS_TYPE), .payload = eid_tlv, .payload_len = sizeof(eid_tlv) },
	};
	uint8_t *out = NULL;
	size_t len = 0;
	/* Other records are ignored. */
	assert_int_equal(ndef_encode(r, 2, &out, &len), 0);
	assert_int_equal(ndef_identity_decode(out, len, &id), 0);
	assert_string_equal(id.eid.digits, EID0);
	free(out);
	/* Two identity records: rejected as ambiguous (documented in ndef.h). */
	assert_int_equal(ndef_encode(r, 3, &out, &len), 0);
	assert_int_equal(ndef_identity_decode(out, len, &id), TS_EPARSE);
	free(out);
	/* A broken message is reported as such. */
	static const uint8_t bad[] = { 0x94, 0x0F, 0x00 };
	assert_int_equal(ndef_identity_decode(bad, sizeof(bad), &id), TS_EPARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_short_record),
		cmocka_unit_test(test_parse_long_and_il),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_identity_roundtrip),
		cmocka_unit_test(test_identity_decode_cases),
		cmocka_unit_test(test_identity_among_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
