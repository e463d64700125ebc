/* Unit tests for lib/log: every logged field is escaped, so a client-chosen
 * string (device name, app id, cancelSession reason) cannot forge a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"

static void
test_escape_controls(void **state)
{
	(void)state;
	char out[128];
	size_t n = ts_log_escape("a\nb\rc\td\x7f" "e\\f", out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "a\\x0ab\\x0dc\\x09d\\x7fe\\x5cf");
	/* UTF-8 text is kept, a UTF-8 C1 control (NEL, U+0085) is not */
	ts_log_escape("Alice\xe2\x80\x99s watch \xc2\x85x", out, sizeof(out));
	assert_string_equal(out, "Alice\xe2\x80\x99s watch \\xc2\\x85x");
}

static void
test_escape_bounds(void **state)
{
	(void)state;
	char out[8];
	/* "ab" + "\x0a" = 6 bytes fit with the NUL; the next escape does not */
	assert_int_equal(ts_log_escape("ab\n\n", out, sizeof(out)), 6);
	assert_string_equal(out, "ab\\x0a");
	char one[1];
	assert_int_equal(ts_log_escape("x", one, 1), 0);
	assert_string_equal(one, "");
	assert_int_equal(ts_log_escape("x", one, 0), 0);
}

/* Logs through ts_log with stderr redirected to a file and returns what was
 * written (caller frees). */
static char *
capture(const char *name, const char *reason)
{
	char path[] = "/tmp/tapshare-logtest.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	ts_log_init("tapshare-node", TS_LOG_INFO);
	log_info("enrolled device %s; cancelled: %s", name, reason);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char *buf = calloc(1, 4096);
	assert_non_null(buf);
	ssize_t n = pread(fd, buf, 4095, 0);
	assert_true(n > 0);
	close(fd);
	unlink(path);
	return buf;
}

static void
test_log_line_not_forged(void **state)
{
	(void)state;
	char *out = capture("phone\n2026-12-01T10:00:00.000Z tapshare-node INFO S15 share X installed",
	    "bye\r\n2026-12-01T10:00:01.000Z tapshare-node WARN forged");
	/* exactly one line, ending in the one newline ts_log writes */
	size_t nl = 0;
	for (const char *p = out; *p; p++)
		nl += *p == '\n';
	assert_int_equal(nl, 1);
	assert_int_equal(out[strlen(out) - 1], '\n');
	assert_non_null(strstr(out, "phone\\x0a2026-12-01T10:00:00.000Z"));
	assert_non_null(strstr(out, "bye\\x0d\\x0a2026"));
	assert_non_null(strstr(out, " tapshare-node INFO enrolled device phone"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_controls),
		cmocka_unit_test(test_escape_bounds),
		cmocka_unit_test(test_log_line_not_forged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
