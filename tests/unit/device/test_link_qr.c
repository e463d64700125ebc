/* Tests for device/link_qr.c: the QR-code link (libqrencode / zbar / libpng). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device/link.h"
#include "device/link_qr.h"
#include "lib/ndef.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define TEST_EID "89049032123451234512345678901235"

typedef struct fixture {
	char dir[64];
	char png[128];
	char spec[160];
	uint8_t *msg;
	size_t len;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	memcpy(f->dir, "/tmp/ts-qr-XXXXXX", sizeof("/tmp/ts-qr-XXXXXX"));
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ts_snprintf(f->png, sizeof(f->png), "%s/id.png", f->dir), 0);
	assert_int_equal(ts_snprintf(f->spec, sizeof(f->spec), "qr:%s", f->png), 0);
	ndef_identity id;
	memset(&id, 0, sizeof(id));
	memcpy(id.eid.digits, TEST_EID, sizeof(TEST_EID));
	/* Non-ASCII name: bytes zbar would re-encode if not in binary mode. */
	memcpy(id.name, "Zo\xc3\xab's w\xc3\xa4tch", sizeof("Zo\xc3\xab's w\xc3\xa4tch"));
	memcpy(id.model, "W-1", sizeof("W-1"));
	assert_int_equal(ndef_identity_encode(&id, &f->msg, &f->len), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	unlink(f->png);
	rmdir(f->dir);
	free(f->msg);
	free(f);
	return 0;
}

static void
write_modules(const fixture *f, const uint8_t *m, int width)
{
	assert_int_equal(link_qr_write_png(f->png, m, width, LINK_QR_MODULE_PX), 0);
}

static void
write_msg(const fixture *f, const uint8_t *msg, size_t len)
{
	uint8_t *m = NULL;
	int width = 0;
	assert_int_equal(link_qr_encode(msg, len, &m, &width), 0);
	write_modules(f, m, width);
	free(m);
}

static void
test_round_trip_exact_bytes(void **state)
{
	fixture *f = *state;
	uint8_t *out = NULL;
	size_t len = 0;
	write_msg(f, f->msg, f->len);
	assert_int_equal(link_spec_check(f->spec, NULL, 0), 0);
	assert_string_equal(link_describe(f->spec), "QR code");
	assert_int_equal(link_read(f->spec, 1000, &out, &len), 0);
	assert_int_equal(len, f->len);
	assert_memory_equal(out, f->msg, len);
	free(out);

	ndef_identity id;
	assert_int_equal(link_read_identity(f->spec, 1000, &id), 0);
	assert_string_equal(id.eid.digits, TEST_EID);
	assert_string_equal(id.name, "Zo\xc3\xab's w\xc3\xa4tch");
	assert_string_equal(id.model, "W-1");
}

/* Every byte value survives (binary mode, no charset guessing): an identity
 * whose payload also carries an unknown TLV (ignored by the decoder) holding
 * bytes 0x00..0xff. */
static void
test_all_byte_values_round_trip(void **state)
{
	fixture *f = *state;
	ndef_record rec[NDEF_MAX_RECORDS];
	size_t n = 0;
	assert_int_equal(ndef_parse(f->msg, f->len, rec, NDEF_MAX_RECORDS, &n), 0);
	assert_int_equal(n, 1);
	/* payload + 9F20 (tag unknown to the decoder) 82 0100 (length 256) + bytes */
	size_t base = rec[0].payload_len, plen = base + 5 + 256;
	uint8_t *payload = malloc(plen);
	assert_non_null(payload);
	memcpy(payload, rec[0].payload, base);
	memcpy(payload + base, "\x9f\x20\x82\x01\x00", 5);
	for (int i = 0; i < 256; i++)
		payload[base + 5 + i] = (uint8_t)(255 - i);
	ndef_record r = rec[0];
	r.payload = payload;
	r.payload_len = plen;
	uint8_t *msg = NULL, *out = NULL;
	size_t len = 0, outlen = 0;
	assert_int_equal(ndef_encode(&r, 1, &msg, &len), 0);
	ndef_identity id;
	assert_int_equal(ndef_identity_decode(msg, len, &id), 0);

	write_msg(f, msg, len);
	assert_int_equal(link_read(f->spec, 1000, &out, &outlen), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, msg, len);
	free(out);
	free(msg);
	free(payload);
}

static void
test_two_identities_are_ambiguous_same_twice_is_fine(void **state)
{
	fixture *f = *state;
	ndef_identity id2;
	uint8_t *msg2 = NULL, *m1 = NULL, *m2 = NULL;
	size_t len2 = 0;
	int w1 = 0, w2 = 0;
	memset(&id2, 0, sizeof(id2));
	memcpy(id2.eid.digits, "89049032123451234512345678901332", 33);
	assert_int_equal(ndef_identity_encode(&id2, &msg2, &len2), 0);
	assert_int_equal(link_qr_encode(f->msg, f->len, &m1, &w1), 0);
	assert_int_equal(link_qr_encode(msg2, len2, &m2, &w2), 0);

	int px = 4, cell = (w1 > w2 ? w1 : w2) + 2 * LINK_QR_QUIET;
	int W = 2 * cell * px, H = cell * px;
	uint8_t *g = malloc((size_t)W * (size_t)H);
	assert_non_null(g);
	for (int pass = 0; pass < 2; pass++) {
		memset(g, 255, (size_t)W * (size_t)H);
		for (int k = 0; k < 2; k++) {
			const uint8_t *m = (k == 0 || pass == 1) ? m1 : m2;
			int w = (k == 0 || pass == 1) ? w1 : w2;
			int ox = k * cell * px + LINK_QR_QUIET * px, oy = LINK_QR_QUIET * px;
			for (int y = 0; y < w * px; y++)
				for (int x = 0; x < w * px; x++)
					if (m[(y / px) * w + x / px])
						g[(oy + y) * W + ox + x] = 0;
		}
		uint8_t *out = NULL;
		size_t len = 0;
		char why[256] = "";
		int rc = link_qr_decode_gray(g, W, H, &out, &len, why, sizeof(why));
		if (pass == 0) {
			assert_int_equal(rc, TS_EPARSE);
			assert_non_null(strstr(why, "two different tapshare identities"));
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(len, f->len);
			assert_memory_equal(out, f->msg, len);
			free(out);
		}
	}
	free(g);
	free(m1);
	free(m2);
	free(msg2);
}

/* A large block of data modules painted over: the finder patterns remain,
 * the data is beyond level M's error correction. */
static void
test_damaged_block_is_reported_as_damaged(void **state)
{
	fixture *f = *state;
	uint8_t *m = NULL, *out = NULL;
	int width = 0;
	size_t len = 0;
	assert_int_equal(link_qr_encode(f->msg, f->len, &m, &width), 0);
	for (int y = 9; y < width - 9; y++)
		for (int x = 9; x < width; x++)
			m[y * width + x] = 1;
	write_modules(f, m, width);
	free(m);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_EVERIFY);
	assert_null(out);
}

static int
in_finder(int x, int y, int width)
{
	return (x < 8 && y < 8) || (x >= width - 8 && y < 8) || (x < 8 && y >= width - 8);
}

/* Heavy noise over everything but the finder patterns. */
static void
test_noise_beyond_error_correction_is_damaged(void **state)
{
	fixture *f = *state;
	uint8_t *m = NULL, *out = NULL;
	int width = 0;
	size_t len = 0;
	uint32_t seed = 12345;
	assert_int_equal(link_qr_encode(f->msg, f->len, &m, &width), 0);
	for (int y = 0; y < width; y++)
		for (int x = 0; x < width; x++) {
			seed = seed * 1103515245u + 12345u;
			if (!in_finder(x, y, width) && (seed >> 16) % 100 < 40)
				m[y * width + x] ^= 1;
		}
	write_modules(f, m, width);
	free(m);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_EVERIFY);
}

/* A few flipped modules are repaired by the error correction. */
static void
test_light_damage_is_repaired(void **state)
{
	fixture *f = *state;
	uint8_t *m = NULL, *out = NULL;
	int width = 0;
	size_t len = 0;
	assert_int_equal(link_qr_encode(f->msg, f->len, &m, &width), 0);
	m[(width / 2) * width + width / 2] ^= 1;
	m[(width / 2 + 1) * width + width / 2 + 3] ^= 1;
	write_modules(f, m, width);
	free(m);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), 0);
	assert_int_equal(len, f->len);
	assert_memory_equal(out, f->msg, len);
	free(out);
}

static void
test_foreign_url_code(void **state)
{
	fixture *f = *state;
	static const char url[] = "https://example.com/pay?to=mallory";
	uint8_t *out = NULL;
	size_t len = 0;
	write_msg(f, (const uint8_t *)url, strlen(url));
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_EPROTO);
	assert_null(out);

	/* The same via the lower layer, to see the message. */
	uint8_t *g = NULL;
	int w = 0, h = 0;
	char why[256] = "";
	assert_int_equal(link_qr_read_png(f->png, &g, &w, &h, why, sizeof(why)), 0);
	assert_int_equal(link_qr_decode_gray(g, w, h, &out, &len, why, sizeof(why)), TS_EPROTO);
	assert_string_equal(why, "foreign QR code: not a tapshare companion identity "
	    "(it holds \"https://example.com/pay?to=mallory\")");
	free(g);
}

/* NDEF that is well-formed but carries another record type is foreign too. */
static void
test_foreign_ndef_uri_record(void **state)
{
	fixture *f = *state;
	static const uint8_t uri[] = { 0xd1, 0x01, 0x0c, 'U', 0x04, 'e', 'x', 'a', 'm', 'p', 'l',
		'e', '.', 'c', 'o', 'm' };
	uint8_t *out = NULL;
	size_t len = 0;
	write_msg(f, uri, sizeof(uri));
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_EPROTO);
}

static void
test_bad_eid_identity(void **state)
{
	fixture *f = *state;
	uint8_t *bad = malloc(f->len);
	uint8_t *out = NULL;
	size_t len = 0;
	assert_non_null(bad);
	memcpy(bad, f->msg, f->len);
	/* Find the 5A 10 TLV and change one BCD digit pair: check digits fail. */
	size_t i;
	for (i = 0; i + 2 < f->len; i++)
		if (bad[i] == 0x5a && bad[i + 1] == 0x10)
			break;
	assert_true(i + 2 < f->len);
	bad[i + 2 + 8] ^= 0x11;
	write_msg(f, bad, f->len);
	int rc = link_read(f->spec, 1000, &out, &len);
	assert_true(rc == TS_EEIDCHK || rc == TS_EEIDFMT);
	free(bad);
}

static void
test_blank_image_has_no_code(void **state)
{
	fixture *f = *state;
	uint8_t blank[21 * 21];
	uint8_t *out = NULL;
	size_t len = 0;
	memset(blank, 0, sizeof(blank));
	write_modules(f, blank, 21);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_ENOTFOUND);
}

static void
test_not_a_png_and_missing_file(void **state)
{
	fixture *f = *state;
	uint8_t *out = NULL, *g = NULL;
	size_t len = 0;
	int w = 0, h = 0;
	char why[256] = "";
	static const char text[] = "this is not an image\n";
	assert_int_equal(ts_write_file_atomic(f->png, (const uint8_t *)text, sizeof(text) - 1, 0600),
	    0);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_EPARSE);
	assert_int_equal(link_qr_read_png(f->png, &g, &w, &h, why, sizeof(why)), TS_EPARSE);
	assert_non_null(strstr(why, "is not a PNG image"));

	/* A PNG signature followed by garbage: corrupt. */
	uint8_t junk[64];
	memcpy(junk, "\x89PNG\r\n\x1a\n", 8);
	memset(junk + 8, 0x41, sizeof(junk) - 8);
	assert_int_equal(ts_write_file_atomic(f->png, junk, sizeof(junk), 0600), 0);
	assert_int_equal(link_qr_read_png(f->png, &g, &w, &h, why, sizeof(why)), TS_EPARSE);
	assert_non_null(strstr(why, "corrupt PNG"));

	unlink(f->png);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), TS_EIO);
	assert_int_equal(link_qr_read_png(f->png, &g, &w, &h, why, sizeof(why)), TS_EIO);
	assert_non_null(strstr(why, "no such file"));
	assert_null(out);
	assert_null(g);
}

/* Any PNG: grey+alpha with dark modules on a transparent background. */
static void
test_reads_png_with_alpha(void **state)
{
	fixture *f = *state;
	uint8_t *m = NULL, *out = NULL;
	int width = 0;
	size_t len = 0;
	assert_int_equal(link_qr_encode(f->msg, f->len, &m, &width), 0);
	int px = 6, side = (width + 2 * LINK_QR_QUIET) * px;
	uint8_t *ga = calloc((size_t)side * (size_t)side, 2); /* transparent black */
	assert_non_null(ga);
	for (int y = 0; y < width * px; y++)
		for (int x = 0; x < width * px; x++)
			if (m[(y / px) * width + x / px])
				ga[2 * ((size_t)(y + LINK_QR_QUIET * px) * side + x + LINK_QR_QUIET * px) + 1] =
				    255;
	png_image img;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)side;
	img.height = (png_uint_32)side;
	img.format = PNG_FORMAT_GA;
	assert_true(png_image_write_to_file(&img, f->png, 0, ga, 0, NULL));
	png_image_free(&img);
	free(ga);
	free(m);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), 0);
	assert_int_equal(len, f->len);
	assert_memory_equal(out, f->msg, len);
	free(out);
}

static void
test_advertise_writes_png_and_free_removes_it(void **state)
{
	fixture *f = *state;
	link_advertiser *a = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	struct stat st;
	assert_int_equal(link_advertise(f->spec, f->msg, f->len, &a), 0);
	assert_int_equal(stat(f->png, &st), 0);
	assert_int_equal(link_read(f->spec, 1000, &out, &len), 0);
	assert_memory_equal(out, f->msg, f->len);
	free(out);
	link_advertiser_free(a);
	assert_int_equal(stat(f->png, &st), -1);
	assert_int_equal(link_advertise("qr:camera", f->msg, f->len, &a), TS_EUNSUPP);
}

static void
test_spec_checks_and_camera(void **state)
{
	(void)state;
	char why[256] = "";
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(link_spec_check("qr:", why, sizeof(why)), TS_EINVAL);
	assert_non_null(strstr(why, "qr:FILE.png"));
	if (access("/dev/video0", R_OK) == 0)
		skip(); /* a real camera: nothing deterministic to assert */
	assert_int_equal(link_spec_check("qr:camera", why, sizeof(why)), TS_EUNSUPP);
	assert_non_null(strstr(why, "no camera"));
	assert_int_equal(link_read("qr:camera", 100, &out, &len), TS_EUNSUPP);
	assert_null(out);
}

/* qr:camera:DEV runs zbarcam from PATH: a stand-in script plays the camera,
 * printing what zbarcam --raw would (the bytes, then a newline). */
static void
fake_zbarcam(const fixture *f, const char *body)
{
	char path[192], script[1024];
	assert_int_equal(ts_snprintf(path, sizeof(path), "%s/zbarcam", f->dir), 0);
	assert_int_equal(ts_snprintf(script, sizeof(script), "#!/bin/sh\n%s\n", body), 0);
	assert_int_equal(ts_write_file_atomic(path, (const uint8_t *)script, strlen(script), 0700),
	    0);
}

static void
test_camera_with_stand_in_zbarcam(void **state)
{
	fixture *f = *state;
	char bin[192], cmd[512], spec[200], dev[192], oldpath[4096], newpath[4400];
	uint8_t *out = NULL;
	size_t len = 0;
	const char *p = getenv("PATH");
	assert_int_equal(ts_snprintf(oldpath, sizeof(oldpath), "%s", p ? p : "/usr/bin:/bin"), 0);
	assert_int_equal(ts_snprintf(newpath, sizeof(newpath), "%s:%s", f->dir, oldpath), 0);
	assert_int_equal(setenv("PATH", newpath, 1), 0);
	/* The "video device" only has to be readable. */
	assert_int_equal(ts_snprintf(dev, sizeof(dev), "%s/video", f->dir), 0);
	assert_int_equal(ts_write_file_atomic(dev, (const uint8_t *)"", 0, 0600), 0);
	assert_int_equal(ts_snprintf(spec, sizeof(spec), "qr:camera:%s", dev), 0);
	assert_int_equal(ts_snprintf(bin, sizeof(bin), "%s/msg.bin", f->dir), 0);
	assert_int_equal(ts_write_file_atomic(bin, f->msg, f->len, 0600), 0);

	/* No zbarcam on PATH yet (ours not written): refused as no camera,
	 * unless the machine has a real one installed. */
	char why[256] = "";
	if (link_spec_check(spec, why, sizeof(why)) != 0)
		assert_non_null(strstr(why, "no camera"));

	/* The identity, then zbarcam's newline: exact bytes. */
	assert_int_equal(ts_snprintf(cmd, sizeof(cmd), "cat '%s'; printf '\\n'", bin), 0);
	fake_zbarcam(f, cmd);
	assert_int_equal(link_spec_check(spec, NULL, 0), 0);
	assert_int_equal(link_read(spec, 5000, &out, &len), 0);
	assert_int_equal(len, f->len);
	assert_memory_equal(out, f->msg, len);
	free(out);
	out = NULL;

	/* A URL: foreign. */
	fake_zbarcam(f, "echo https://example.com/");
	assert_int_equal(link_read(spec, 5000, &out, &len), TS_EPROTO);
	/* Nothing seen: bounded by the timeout, the scanner is stopped. */
	fake_zbarcam(f, "exec sleep 30");
	int64_t t0 = ts_mono_ms();
	assert_int_equal(link_read(spec, 300, &out, &len), TS_ETIMEOUT);
	assert_true(ts_mono_ms() - t0 < 3000);
	/* The scanner gives up without a code. */
	fake_zbarcam(f, "exit 1");
	assert_int_equal(link_read(spec, 5000, &out, &len), TS_EIO);
	assert_null(out);

	assert_int_equal(setenv("PATH", oldpath, 1), 0);
	unlink(bin);
	unlink(dev);
	assert_int_equal(ts_snprintf(bin, sizeof(bin), "%s/zbarcam", f->dir), 0);
	unlink(bin);
}

static void
test_encode_limits(void **state)
{
	(void)state;
	uint8_t *m = NULL;
	int width = 0;
	uint8_t big[NDEF_MAX_MESSAGE];
	memset(big, 0xa5, sizeof(big));
	/* 4096 bytes exceed version 40-M's byte capacity (2331). */
	assert_int_equal(link_qr_encode(big, sizeof(big), &m, &width), TS_ELIMIT);
	assert_int_equal(link_qr_encode(big, 0, &m, &width), TS_EINVAL);
	assert_null(m);
}

/* 2x2 bitmap: dark at (0,0) and (1,1). */
static const uint8_t tiny[] = { 1, 0, 0, 1 };

static void
test_render_utf8_dark_ink(void **state)
{
	(void)state;
	char *s = NULL;
	assert_int_equal(link_qr_render_text(tiny, 2, LINK_QR_TEXT_UTF8 | LINK_QR_TEXT_DARK_INK,
	    &s), 0);
	/* side 10 -> 5 lines of 10 cells; rows 4/5 hold the bitmap. */
	assert_string_equal(s,
	    "          \n"
	    "          \n"
	    "    \xe2\x96\x80\xe2\x96\x84    \n"
	    "          \n"
	    "          \n");
	free(s);
}

static void
test_render_utf8_light_ink_odd_side(void **state)
{
	(void)state;
	/* 1x1 dark module: side 9 (odd), 5 lines; the last line pairs row 8
	 * with a light row below (ink in this mode). */
	static const uint8_t one[] = { 1 };
	char *s = NULL;
	assert_int_equal(link_qr_render_text(one, 1, LINK_QR_TEXT_UTF8, &s), 0);
#define F "\xe2\x96\x88"
#define T "\xe2\x96\x80"
#define B "\xe2\x96\x84"
	assert_string_equal(s,
	    F F F F F F F F F "\n"
	    F F F F F F F F F "\n"
	    F F F F B F F F F "\n" /* rows 4 (dark: no ink) and 5 */
	    F F F F F F F F F "\n"
	    F F F F F F F F F "\n");
#undef F
#undef T
#undef B
	free(s);
}

static void
test_render_ascii(void **state)
{
	(void)state;
	char *s = NULL;
	assert_int_equal(link_qr_render_text(tiny, 2, LINK_QR_TEXT_DARK_INK, &s), 0);
#define BLANK "                    \n"
	const char *want = BLANK BLANK BLANK BLANK
	    "        ##          \n"
	    "          ##        \n"
	    BLANK BLANK BLANK BLANK;
#undef BLANK
	assert_string_equal(s, want);
	free(s);
	assert_int_equal(link_qr_render_text(tiny, 0, 0, &s), TS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_exact_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_byte_values_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_identities_are_ambiguous_same_twice_is_fine,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_block_is_reported_as_damaged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_noise_beyond_error_correction_is_damaged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_light_damage_is_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_url_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_ndef_uri_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_eid_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blank_image_has_no_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_png_and_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_png_with_alpha, setup, teardown),
		cmocka_unit_test_setup_teardown(test_advertise_writes_png_and_free_removes_it, setup,
		    teardown),
		cmocka_unit_test(test_spec_checks_and_camera),
		cmocka_unit_test_setup_teardown(test_camera_with_stand_in_zbarcam, setup, teardown),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_render_utf8_dark_ink),
		cmocka_unit_test(test_render_utf8_light_ink_odd_side),
		cmocka_unit_test(test_render_ascii),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
