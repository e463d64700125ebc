/* Unit tests for lib/t4t: Type 4 Tag and reader, driven by exact APDU
 * transcripts (hex) and by a reader-against-tag loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/t4t.h"
#include "lib/ts_err.h"

#define TS_ARRAY_LEN_T(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* helpers */

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h);
	assert_true(n % 2 == 0);
	assert_true(n / 2 <= cap);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v = 0;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n / 2;
}

/* Sends hex C-APDU to tag, asserts the R-APDU equals hex. */
static void
tag_expect(t4t_tag *tag, const char *cmd, const char *resp)
{
	uint8_t c[T4T_CAPDU_MAX + 8], want[T4T_RAPDU_MAX], r[T4T_RAPDU_MAX];
	size_t clen = unhex(cmd, c, sizeof(c));
	size_t wlen = unhex(resp, want, sizeof(want));
	size_t rlen = 0;
	assert_int_equal(t4t_tag_apdu(tag, c, clen, r, sizeof(r), &rlen), 0);
	if (rlen != wlen || memcmp(r, want, wlen) != 0) {
		fprintf(stderr, "C-APDU %s: want %s, got ", cmd, resp);
		for (size_t i = 0; i < rlen; i++)
			fprintf(stderr, "%02X", r[i]);
		fprintf(stderr, "\n");
		fail();
	}
}

/* A transcript a scripted "tag" replays to the reader: the reader must send
 * exactly cmd[i] and gets resp[i]. */
typedef struct script {
	const char *const *cmd;
	const char *const *resp;
	size_t n, pos;
} script;

static int
script_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	script *s = arg;
	uint8_t want[T4T_CAPDU_MAX];
	assert_true(s->pos < s->n);
	size_t wlen = unhex(s->cmd[s->pos], want, sizeof(want));
	assert_int_equal(clen, wlen);
	assert_memory_equal(capdu, want, wlen);
	*rlen = unhex(s->resp[s->pos], rapdu, rcap);
	s->pos++;
	return 0;
}

static const uint8_t text_msg[] = { 0xD1, 0x01, 0x05, 'T', 0x02, 'e', 'n', 'h', 'i' };

#define SEL_APP "00A4040007D276000085010100"
#define SEL_CC "00A4000C02E103"
#define READ_CC "00B000000F"
#define SEL_NDEF "00A4000C02E104"
#define READ_NLEN "00B0000002"
#define CC_TEXT "000F2000FF00FF0406E104000B00FF"

/* The full read of a tag holding the 9-byte text record. */
static const char *const full_cmd[] = { SEL_APP, SEL_CC, READ_CC, SEL_NDEF, READ_NLEN,
	"00B0000209" };
static const char *const full_resp[] = { "9000", "9000", CC_TEXT "9000", "9000", "00099000",
	"D101055402656E68699000" };

/* ------------------------------------------------------------------------ */
/* tag side */

static void
test_tag_full_read_transcript(void **state)
{
	(void)state;
	t4t_tag tag;
	assert_int_equal(t4t_tag_init(&tag, text_msg, sizeof(text_msg), 0), 0);
	for (size_t i = 0; i < TS_ARRAY_LEN_T(full_cmd); i++)
		tag_expect(&tag, full_cmd[i], full_resp[i]);
	/* The whole file in one read, and a read of the CC in two parts. */
	tag_expect(&tag, "00B000000B", "0009D101055402656E68699000");
	tag_expect(&tag, SEL_CC, "9000");
	tag_expect(&tag, "00B0000005", "000F2000FF9000");
	tag_expect(&tag, "00B000050A", "00FF0406E104000B00FF9000");
	t4t_tag_clear(&tag);
}

static void
test_tag_wrong_aid_and_selection(void **state)
{
	(void)state;
	t4t_tag tag;
	assert_int_equal(t4t_tag_init(&tag, text_msg, sizeof(text_msg), 0), 0);
	/* Nothing selected: file select and read refused. */
	tag_expect(&tag, SEL_CC, "6A82");
	tag_expect(&tag, READ_CC, "6986");
	/* Version 1.0 AID (…0100), a truncated AID and a longer one. */
	tag_expect(&tag, "00A4040007D276000085010000", "6A82");
	tag_expect(&tag, "00A4040006D2760000850100", "6A82");
	tag_expect(&tag, "00A4040008D27600008501010100", "6A82");
	tag_expect(&tag, SEL_CC, "6A82");
	/* Right AID without Le (case 3) works too. */
	tag_expect(&tag, "00A4040007D2760000850101", "9000");
	tag_expect(&tag, READ_CC, "6986"); /* app selected, no EF yet */
	tag_expect(&tag, SEL_NDEF, "9000");
	/* Unknown file: 6A82 and the NDEF file stays selected. */
	tag_expect(&tag, "00A4000C02E105", "6A82");
	tag_expect(&tag, READ_NLEN, "00099000");
	/* A failed application SELECT keeps the selection too. */
	tag_expect(&tag, "00A4040007A000000003101000", "6A82");
	tag_expect(&tag, READ_NLEN, "00099000");
	/* Re-selecting the application clears the EF. */
	tag_expect(&tag, SEL_APP, "9000");
	tag_expect(&tag, READ_NLEN, "6986");
	/* Reset (new reader) deselects everything. */
	tag_expect(&tag, SEL_CC, "9000");
	t4t_tag_reset(&tag);
	tag_expect(&tag, READ_CC, "6986");
	tag_expect(&tag, SEL_CC, "6A82");
}

static void
test_tag_read_past_end(void **state)
{
	(void)state;
	t4t_tag tag;
	assert_int_equal(t4t_tag_init(&tag, text_msg, sizeof(text_msg), 0), 0);
	tag_expect(&tag, SEL_APP, "9000");
	tag_expect(&tag, SEL_NDEF, "9000");
	/* File is 11 bytes: offset 11 is outside, offset 10 has one byte left. */
	tag_expect(&tag, "00B0000B01", "6B00");
	tag_expect(&tag, "00B0FFFF01", "6B00");
	tag_expect(&tag, "00B0000A05", "696282");
	/* Short EF identifier in P1 is not supported. */
	tag_expect(&tag, "00B0810001", "6B00");
	/* CC is 15 bytes. */
	tag_expect(&tag, SEL_CC, "9000");
	tag_expect(&tag, "00B0000F01", "6B00");
	tag_expect(&tag, "00B0000E02", "FF6282");
}

static void
test_tag_bad_commands(void **state)
{
	(void)state;
	t4t_tag tag;
	assert_int_equal(t4t_tag_init(&tag, text_msg, sizeof(text_msg), 0), 0);
	tag_expect(&tag, "80A4040007D276000085010100", "6E00"); /* CLA */
	tag_expect(&tag, "90", "6E00");
	tag_expect(&tag, "00CA00FF00", "6D00"); /* GET DATA */
	tag_expect(&tag, "00", "6700");
	tag_expect(&tag, "", "6700");
	tag_expect(&tag, "00B0", "6700");
	tag_expect(&tag, "00A404", "6700");
	tag_expect(&tag, SEL_APP, "9000");
	tag_expect(&tag, "00A4020C02E103", "6A86");  /* SELECT wrong P1 */
	tag_expect(&tag, "00A4000002E103", "6A86");  /* P2 00 (FCI) not offered */
	tag_expect(&tag, "00A4000C02E10300", "6700"); /* Le on a P2=0C select */
	tag_expect(&tag, "00A4000C01E1", "6700");
	tag_expect(&tag, "00A4000C03E10300", "6700");
	tag_expect(&tag, "00A4000C05E103", "6700"); /* Lc says 5, 2 bytes follow */
	tag_expect(&tag, "00A4040000", "6700");     /* select by name, no name */
	tag_expect(&tag, SEL_NDEF, "9000");
	tag_expect(&tag, "00B0000000", "6700");       /* Le 256 > MLe 255 */
	tag_expect(&tag, "00B00000", "6700");         /* no Le */
	tag_expect(&tag, "00B0000001AA01", "6700");   /* data on READ BINARY */
	tag_expect(&tag, "00B000000000FF", "6700");   /* extended length */
	tag_expect(&tag, "00D6000001AA", "6982");     /* read-only */
	tag_expect(&tag, "00D600000100", "6982");
	tag_expect(&tag, READ_NLEN, "00099000");      /* unchanged */
}

static void
test_tag_init_and_caller_errors(void **state)
{
	(void)state;
	t4t_tag tag;
	static uint8_t big[NDEF_MAX_MESSAGE + 1];
	uint8_t r[T4T_RAPDU_MAX];
	size_t rlen = 99;
	uint8_t c[5];

	assert_int_equal(t4t_tag_init(NULL, text_msg, 9, 0), TS_EINVAL);
	assert_int_equal(t4t_tag_init(&tag, NULL, 9, 0), TS_EINVAL);
	assert_int_equal(t4t_tag_init(&tag, text_msg, 9, 14), TS_EINVAL);
	assert_int_equal(t4t_tag_init(&tag, text_msg, 9, 257), TS_EINVAL);
	assert_int_equal(t4t_tag_init(&tag, big, sizeof(big), 0), TS_ELIMIT);
	assert_int_equal(t4t_tag_init(&tag, big, NDEF_MAX_MESSAGE, 0), 0);
	/* Empty tag: NLEN 0, file padded to the minimum of 5 bytes. */
	assert_int_equal(t4t_tag_init(&tag, NULL, 0, 0x3B), 0);
	tag_expect(&tag, SEL_APP, "9000");
	tag_expect(&tag, SEL_CC, "9000");
	tag_expect(&tag, READ_CC, "000F20003B00FF0406E104000500FF9000");
	/* Le 16 <= MLe 59, but the CC has 15 bytes: all of them, then 6282. */
	tag_expect(&tag, "00B0000010", "000F20003B00FF0406E104000500FF6282");
	tag_expect(&tag, SEL_NDEF, "9000");
	tag_expect(&tag, "00B0000005", "00000000009000");
	tag_expect(&tag, "00B000003C", "6700"); /* Le 60 > MLe 59 */

	/* Caller mistakes are errors, not status words. */
	unhex(READ_NLEN, c, sizeof(c));
	assert_int_equal(t4t_tag_apdu(&tag, c, 5, r, 3, &rlen), TS_ELIMIT);
	assert_int_equal(t4t_tag_apdu(&tag, c, 5, r, 4, &rlen), 0);
	assert_int_equal(rlen, 4);
	assert_int_equal(t4t_tag_apdu(&tag, c, 5, r, 1, &rlen), TS_ELIMIT);
	assert_int_equal(t4t_tag_apdu(NULL, c, 5, r, sizeof(r), &rlen), TS_EINVAL);
	assert_int_equal(t4t_tag_apdu(&tag, NULL, 5, r, sizeof(r), &rlen), TS_EINVAL);
	assert_int_equal(t4t_tag_apdu(&tag, c, 5, NULL, sizeof(r), &rlen), TS_EINVAL);
	assert_int_equal(t4t_tag_apdu(&tag, c, 5, r, sizeof(r), NULL), TS_EINVAL);
	t4t_tag_clear(NULL);
	t4t_tag_reset(NULL);
}

/* ------------------------------------------------------------------------ */
/* reader side */

static void
test_reader_full_read_transcript(void **state)
{
	(void)state;
	script s = { full_cmd, full_resp, TS_ARRAY_LEN_T(full_cmd), 0 };
	uint8_t *out = NULL;
	size_t outlen = 0;
	t4t_cc cc;
	assert_int_equal(t4t_read_ndef(script_xfer, &s, &out, &outlen, &cc), 0);
	assert_int_equal(s.pos, s.n);
	assert_int_equal(outlen, sizeof(text_msg));
	assert_memory_equal(out, text_msg, sizeof(text_msg));
	assert_int_equal(cc.cclen, 15);
	assert_int_equal(cc.version, 0x20);
	assert_int_equal(cc.mle, 255);
	assert_int_equal(cc.mlc, 255);
	assert_int_equal(cc.ndef_file_id, 0xE104);
	assert_int_equal(cc.ndef_max, 11);
	assert_int_equal(cc.read_access, 0);
	assert_int_equal(cc.write_access, 0xFF);
	free(out);
}

/* Runs the reader against a script and checks the code and how far it got. */
static void
reader_expect(const char *const *cmd, const char *const *resp, size_t n, int want_rc)
{
	script s = { cmd, resp, n, 0 };
	uint8_t *out = (uint8_t *)1;
	size_t outlen = 77;
	assert_int_equal(t4t_read_ndef(script_xfer, &s, &out, &outlen, NULL), want_rc);
	assert_int_equal(s.pos, n); /* stopped right after the bad answer */
	assert_null(out);
	assert_int_equal(outlen, 0);
}

static void
test_reader_errors(void **state)
{
	(void)state;
	/* No NDEF application (wrong AID from the tag's point of view). */
	{
		static const char *const c[] = { SEL_APP };
		static const char *const r[] = { "6A82" };
		reader_expect(c, r, 1, TS_ENOTFOUND);
	}
	/* No CC file. */
	{
		static const char *const c[] = { SEL_APP, SEL_CC };
		static const char *const r[] = { "9000", "6A82" };
		reader_expect(c, r, 2, TS_ENOTFOUND);
	}
	/* SELECT answered with FCI data is fine; an odd status word is not. */
	{
		static const char *const c[] = { SEL_APP, SEL_CC };
		static const char *const r[] = { "6F00" "9000", "6986" };
		reader_expect(c, r, 2, TS_EPROTO);
	}
	/* A 1-byte answer and a CC of 14 bytes. */
	{
		static const char *const c[] = { SEL_APP };
		static const char *const r[] = { "90" };
		reader_expect(c, r, 1, TS_EPROTO);
	}
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC };
		static const char *const r[] = { "9000", "9000", "000F2000FF00FF0406E104000B009000" };
		reader_expect(c, r, 3, TS_EPROTO);
	}
	/* CCs with absurd sizes: MLe 000E, MLe 0, max size FFFF, max size 0004,
	 * CCLEN 0003; and a v3.0 mapping, a locked file, a reserved file id. */
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC };
		static const char *const bad[][2] = {
			{ "000F20000E00FF0406E104000B00FF9000", "P" },
			{ "000F20000000FF0406E104000B00FF9000", "P" },
			{ "000F2000FF00FF0406E104FFFF00FF9000", "P" },
			{ "000F2000FF00FF0406E104000400FF9000", "P" },
			{ "000F2000FF00000406E104000B00FF9000", "P" }, /* MLc 0 */
			{ "00032000FF00FF0406E104000B00FF9000", "X" },
			{ "000F2000FF00FF0506E104000B00FF9000", "X" }, /* TLV tag 05 */
			{ "000F3000FF00FF0406E104000B00FF9000", "U" },
			{ "000F2000FF00FF0406E104000B80FF9000", "U" },
			{ "000F2000FF00FF0406E103000B00FF9000", "P" },
			{ "000F2000FF00FF04063F00000B00FF9000", "P" },
		};
		for (size_t i = 0; i < TS_ARRAY_LEN_T(bad); i++) {
			const char *r[] = { "9000", "9000", bad[i][0] };
			int want = bad[i][1][0] == 'P' ? TS_EPROTO :
			    bad[i][1][0] == 'X'        ? TS_EPARSE :
							 TS_EUNSUPP;
			reader_expect(c, r, 3, want);
		}
	}
	/* NLEN larger than the file (max size 11 holds at most 9). */
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC, SEL_NDEF, READ_NLEN };
		static const char *const r[] = { "9000", "9000", CC_TEXT "9000", "9000", "000A9000" };
		reader_expect(c, r, 5, TS_EPROTO);
	}
	/* NLEN within a FFFE-byte file but above NDEF_MAX_MESSAGE. */
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC, SEL_NDEF, READ_NLEN };
		static const char *const r[] = { "9000", "9000",
			"000F2000FF00FF0406E104FFFE00FF9000", "9000", "10019000" };
		reader_expect(c, r, 5, TS_ELIMIT);
	}
	/* A chunk shorter than asked for (the tag ran out: 6282), and one that
	 * is short with 9000. */
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC, SEL_NDEF, READ_NLEN,
			"00B0000209" };
		static const char *const r[] = { "9000", "9000", CC_TEXT "9000", "9000", "00099000",
			"D10105546282" };
		reader_expect(c, r, 6, TS_EPROTO);
	}
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC, SEL_NDEF, READ_NLEN,
			"00B0000209" };
		static const char *const r[] = { "9000", "9000", CC_TEXT "9000", "9000", "00099000",
			"D10105549000" };
		reader_expect(c, r, 6, TS_EPROTO);
	}
	/* The tag's own NDEF file id (not E104) is what the reader selects;
	 * MLe 000F splits a 20-byte message into 15 + 5. */
	{
		static const char *const c[] = { SEL_APP, SEL_CC, READ_CC, "00A4000C020001",
			READ_NLEN, "00B000020F", "00B0001105" };
		static const char *const r[] = { "9000", "9000",
			"000F20000F00010406000100FF00009000", "9000", "00149000",
			"000102030405060708090A0B0C0D0E9000", "0F101112139000" };
		script s = { c, r, 7, 0 };
		uint8_t *out = NULL;
		size_t outlen = 0;
		assert_int_equal(t4t_read_ndef(script_xfer, &s, &out, &outlen, NULL), 0);
		assert_int_equal(s.pos, 7);
		assert_int_equal(outlen, 20);
		for (size_t i = 0; i < 20; i++)
			assert_int_equal(out[i], i);
		free(out);
	}
}

static int
fail_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	(void)capdu;
	(void)clen;
	(void)rapdu;
	(void)rcap;
	(void)rlen;
	int *calls = arg;
	(*calls)++;
	return TS_ETIMEOUT;
}

/* Claims more bytes than the buffer it was given. */
static int
liar_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	(void)arg;
	(void)capdu;
	(void)clen;
	rapdu[0] = 0x90;
	rapdu[1] = 0x00;
	*rlen = rcap + 1;
	return 0;
}

static void
test_reader_callback_errors(void **state)
{
	(void)state;
	int calls = 0;
	uint8_t *out = NULL;
	size_t outlen = 0;
	assert_int_equal(t4t_read_ndef(fail_xfer, &calls, &out, &outlen, NULL), TS_ETIMEOUT);
	assert_int_equal(calls, 1);
	assert_int_equal(t4t_read_ndef(liar_xfer, NULL, &out, &outlen, NULL), TS_EPROTO);
	assert_int_equal(t4t_read_ndef(NULL, NULL, &out, &outlen, NULL), TS_EINVAL);
	assert_int_equal(t4t_read_ndef(fail_xfer, &calls, NULL, &outlen, NULL), TS_EINVAL);
	assert_int_equal(t4t_read_ndef(fail_xfer, &calls, &out, NULL, NULL), TS_EINVAL);
	assert_null(out);
}

static void
test_cc_parse(void **state)
{
	(void)state;
	uint8_t b[32];
	t4t_cc cc;
	size_t n = unhex(CC_TEXT "0503E10101", b, sizeof(b)); /* extra TLV ignored */
	assert_int_equal(t4t_cc_parse(b, n, &cc), 0);
	assert_int_equal(cc.ndef_max, 11);
	assert_int_equal(t4t_cc_parse(b, 14, &cc), TS_EPARSE);
	/* Mapping 2.1 is still major version 2. */
	n = unhex("000F2100FF00FF0406E104FFFE0000", b, sizeof(b));
	assert_int_equal(t4t_cc_parse(b, n, &cc), 0);
	assert_int_equal(cc.ndef_max, 0xFFFE);
	assert_int_equal(cc.write_access, 0);
	n = unhex("000F1000FF00FF0406E104FFFE0000", b, sizeof(b));
	assert_int_equal(t4t_cc_parse(b, n, &cc), TS_EUNSUPP);
	assert_int_equal(t4t_cc_parse(NULL, n, &cc), TS_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* reader against tag */

typedef struct loop {
	t4t_tag *tag;
	size_t exchanges;
} loop;

static int
tag_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	loop *l = arg;
	l->exchanges++;
	return t4t_tag_apdu(l->tag, capdu, clen, rapdu, rcap, rlen);
}

static void
test_round_trip(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 253, 254, 1000, 4096 };
	static const unsigned mles[] = { 0, 15, 59, 254, 256 };
	static uint8_t msg[NDEF_MAX_MESSAGE];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);

	for (size_t m = 0; m < TS_ARRAY_LEN_T(mles); m++) {
		for (size_t s = 0; s < TS_ARRAY_LEN_T(sizes); s++) {
			size_t n = sizes[s];
			t4t_tag *tag = malloc(sizeof(*tag));
			assert_non_null(tag);
			assert_int_equal(t4t_tag_init(tag, msg, n, mles[m]), 0);
			loop l = { tag, 0 };
			uint8_t *out = NULL;
			size_t outlen = 99;
			t4t_cc cc;
			assert_int_equal(t4t_read_ndef(tag_xfer, &l, &out, &outlen, &cc), 0);
			assert_int_equal(outlen, n);
			if (n == 0)
				assert_null(out);
			else
				assert_memory_equal(out, msg, n);
			size_t mle = mles[m] == 0 ? 255 : mles[m];
			size_t chunk = mle > 255 ? 255 : mle;
			/* select app, select CC, read CC, select NDEF, read NLEN,
			 * then ceil(n / chunk) reads. */
			assert_int_equal(l.exchanges, 5 + (n + chunk - 1) / chunk);
			assert_int_equal(cc.mle, mle);
			assert_int_equal(cc.ndef_max, n + 2 < 5 ? 5 : n + 2);
			free(out);
			t4t_tag_clear(tag);
			free(tag);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_full_read_transcript),
		cmocka_unit_test(test_tag_wrong_aid_and_selection),
		cmocka_unit_test(test_tag_read_past_end),
		cmocka_unit_test(test_tag_bad_commands),
		cmocka_unit_test(test_tag_init_and_caller_errors),
		cmocka_unit_test(test_reader_full_read_transcript),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_reader_callback_errors),
		cmocka_unit_test(test_cc_parse),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
