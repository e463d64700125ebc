/* Unit tests for lib/util: hex, base64, number parsing, file I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/ts_err.h"
#include "lib/util.h"

static void
test_hex(void **state)
{
	(void)state;
	static const uint8_t in[] = { 0x00, 0x1F, 0xAB, 0xFF };
	char out[9];
	assert_int_equal(ts_hex_encode(in, sizeof(in), out, sizeof(out)), 0);
	assert_string_equal(out, "001fabff");
	assert_int_equal(ts_hex_encode(in, sizeof(in), out, 8), TS_EINVAL);
	assert_int_equal(ts_hex_encode(in, 0, out, 1), 0);
	assert_string_equal(out, "");

	uint8_t b[4];
	size_t n = 0;
	assert_int_equal(ts_hex_decode("001FabfF", b, sizeof(b), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(b, in, 4);
	assert_int_equal(ts_hex_decode("abc", b, sizeof(b), &n), TS_EINVAL);
	assert_int_equal(ts_hex_decode("zz", b, sizeof(b), &n), TS_EINVAL);
	assert_int_equal(ts_hex_decode("0g", b, sizeof(b), &n), TS_EINVAL);
	assert_int_equal(ts_hex_decode("0011223344", b, sizeof(b), &n), TS_EINVAL);
	assert_int_equal(ts_hex_decode("", b, sizeof(b), &n), 0);
	assert_int_equal(n, 0);
}

static void
test_b64_vectors(void **state)
{
	(void)state;
	/* RFC 4648 section 10. */
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		char *e = NULL;
		assert_int_equal(ts_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), &e), 0);
		assert_string_equal(e, enc[i]);
		free(e);
		uint8_t *d = NULL;
		size_t n = 99;
		assert_int_equal(ts_b64_decode(enc[i], &d, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		if (n > 0)
			assert_memory_equal(d, plain[i], n);
		free(d);
	}
	/* Binary round trip over all byte values. */
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	char *e = NULL;
	uint8_t *d = NULL;
	size_t n = 0;
	assert_int_equal(ts_b64_encode(all, sizeof(all), &e), 0);
	assert_int_equal(strlen(e), 344);
	assert_int_equal(ts_b64_decode(e, &d, &n), 0);
	assert_int_equal(n, 256);
	assert_memory_equal(d, all, 256);
	free(e);
	free(d);
}

static void
test_b64_strict(void **state)
{
	(void)state;
	static const char *bad[] = {
		"Zg=",      /* length not a multiple of 4 */
		"Zg",       /* missing padding */
		"Z===",     /* too much padding */
		"====",     /* padding only */
		"Zg=a",     /* data after padding */
		"Zg==Zm8=", /* padding in the middle */
		"Zm9v\n",   /* newline */
		"Zm 9",     /* space */
		"Zm9-",     /* URL-safe alphabet */
		"Zm9_",
		"Zm9*",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *d = NULL;
		size_t n = 0;
		assert_int_equal(ts_b64_decode(bad[i], &d, &n), TS_EPARSE);
		assert_null(d);
	}
}

static void
test_parse_ll(void **state)
{
	(void)state;
	long long v = 0;
	assert_int_equal(ts_parse_ll("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ts_parse_ll("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(ts_parse_ll("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	v = 42;
	assert_int_equal(ts_parse_ll("11", 0, 10, &v), TS_ELIMIT);
	assert_int_equal(ts_parse_ll("-1", 0, 10, &v), TS_ELIMIT);
	assert_int_equal(v, 42);
	assert_int_equal(ts_parse_ll("9223372036854775807", 0, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(ts_parse_ll("-9223372036854775808", INT64_MIN, 0, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(ts_parse_ll("9223372036854775808", 0, INT64_MAX, &v), TS_ELIMIT);
	assert_int_equal(ts_parse_ll("-9223372036854775809", INT64_MIN, 0, &v), TS_ELIMIT);
	assert_int_equal(ts_parse_ll("", 0, 10, &v), TS_EINVAL);
	assert_int_equal(ts_parse_ll(NULL, 0, 10, &v), TS_EINVAL);
	assert_int_equal(ts_parse_ll("abc", 0, 10, &v), TS_EINVAL);
	assert_int_equal(ts_parse_ll("12a", 0, 100, &v), TS_EINVAL);
	assert_int_equal(ts_parse_ll("5 ", 0, 10, &v), TS_EINVAL);
	assert_int_equal(ts_parse_ll("0x10", 0, 100, &v), TS_EINVAL);
	assert_int_equal(ts_parse_ll("1.5", 0, 10, &v), TS_EINVAL);
}

static char dir[64];

static int
mkdir_setup(void **state)
{
	(void)state;
	memcpy(dir, "/tmp/ts_util_XXXXXX", 20);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
rm_teardown(void **state)
{
	(void)state;
	char cmd[128];
	if (ts_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) == 0)
		(void)system(cmd);
	return 0;
}

static size_t
count_entries(const char *path)
{
	DIR *d = opendir(path);
	size_t n = 0;
	struct dirent *e;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_files(void **state)
{
	(void)state;
	char path[128];
	assert_int_equal(ts_snprintf(path, sizeof(path), "%s/f.bin", dir), 0);
	static const uint8_t data[] = { 'a', 0x00, 'b', '\n', 0xFF };
	assert_int_equal(ts_write_file_atomic(path, data, sizeof(data), 0600), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, sizeof(data));
	assert_int_equal(count_entries(dir), 1); /* no temp file left */

	uint8_t *out = NULL;
	size_t n = 0;
	assert_int_equal(ts_read_file(path, 1024, &out, &n), 0);
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(out, data, sizeof(data));
	assert_int_equal(out[n], 0); /* extra NUL */
	free(out);

	/* Exactly at the limit, and one byte below it. */
	assert_int_equal(ts_read_file(path, sizeof(data), &out, &n), 0);
	free(out);
	out = NULL;
	assert_int_equal(ts_read_file(path, sizeof(data) - 1, &out, &n), TS_ELIMIT);
	assert_null(out);

	/* Replace atomically with shorter content. */
	assert_int_equal(ts_write_file_atomic(path, (const uint8_t *)"xy", 2, 0600), 0);
	assert_int_equal(ts_read_file(path, 1024, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "xy", 2);
	free(out);

	/* Empty file. */
	assert_int_equal(ts_write_file_atomic(path, NULL, 0, 0600), 0);
	assert_int_equal(ts_read_file(path, 1024, &out, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(out[0], 0);
	free(out);

	char missing[128];
	assert_int_equal(ts_snprintf(missing, sizeof(missing), "%s/missing", dir), 0);
	assert_int_equal(ts_read_file(missing, 1024, &out, &n), TS_ENOTFOUND);
	/* Writing into a directory that does not exist fails cleanly. */
	assert_int_equal(ts_snprintf(missing, sizeof(missing), "%s/no/such/f", dir), 0);
	assert_int_equal(ts_write_file_atomic(missing, data, sizeof(data), 0600), TS_EIO);

	/* mkdirs creates the chain and is idempotent. */
	char deep[128];
	assert_int_equal(ts_snprintf(deep, sizeof(deep), "%s/a/b/c", dir), 0);
	assert_int_equal(ts_mkdirs(deep, 0700), 0);
	assert_int_equal(ts_mkdirs(deep, 0700), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void
test_misc(void **state)
{
	(void)state;
	char id[33], id2[33];
	assert_int_equal(ts_random_id(id), 0);
	assert_int_equal(ts_random_id(id2), 0);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	assert_string_not_equal(id, id2);

	char buf[4];
	assert_int_equal(ts_snprintf(buf, sizeof(buf), "%s", "abc"), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(ts_snprintf(buf, sizeof(buf), "%s", "abcd"), TS_ELIMIT);

	assert_int_equal(ts_ct_equal("abcd", "abcd", 4), 0);
	assert_int_not_equal(ts_ct_equal("abcd", "abce", 4), 0);

	assert_true(ts_now() > 1700000000);
	assert_true(ts_now_ms() / 1000 >= ts_now() - 1);
	int64_t a = ts_mono_ms(), b = ts_mono_ms();
	assert_true(b >= a);
}

/* ts_buf_reserve: contents kept, capacity at least need, and growth
 * geometric: 100,000 one-byte appends grow the buffer a handful of times (an
 * exact-fit realloc per append, the old push.c send_text, would be 100,000). */
static void
test_buf_reserve(void **state)
{
	(void)state;
	char *b = NULL;
	size_t cap = 0, grows = 0;
	for (size_t i = 0; i < 100000; i++) {
		size_t before = cap;
		assert_int_equal(ts_buf_reserve(&b, &cap, i + 1), 0);
		assert_true(cap >= i + 1);
		if (cap != before)
			grows++;
		b[i] = (char)('a' + i % 26);
	}
	assert_true(grows <= 20);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(b[i], (char)('a' + i % 26));
	/* need within the capacity: nothing moves */
	char *same = b;
	size_t c0 = cap;
	assert_int_equal(ts_buf_reserve(&b, &cap, 10), 0);
	assert_ptr_equal(b, same);
	assert_int_equal(cap, c0);
	/* a need that cannot be doubled: refused, buffer untouched */
	assert_int_equal(ts_buf_reserve(&b, &cap, SIZE_MAX / 2 + 1), TS_ENOMEM);
	assert_ptr_equal(b, same);
	assert_int_equal(cap, c0);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_parse_ll),
		cmocka_unit_test_setup_teardown(test_files, mkdir_setup, rm_teardown),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_buf_reserve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
