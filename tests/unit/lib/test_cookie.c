/* Unit tests for lib/cookie: one cookie out of a Cookie header (RFC 6265
 * §5.4 form), hand-written headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cookie.h"
#include "lib/ts_err.h"

#define V64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define W64 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void
test_found(void **state)
{
	(void)state;
	char out[65];
	assert_int_equal(ts_cookie_hex64("s=" V64, "s", out), 0);
	assert_string_equal(out, V64);
	/* among others, with the separators browsers send */
	assert_int_equal(ts_cookie_hex64("a=1; s=" V64 "; b=2", "s", out), 0);
	assert_string_equal(out, V64);
	assert_int_equal(ts_cookie_hex64("a=1;s=" V64 " ;b", "s", out), 0);
	assert_string_equal(out, V64);
	/* the first of two counts */
	assert_int_equal(ts_cookie_hex64("s=" W64 "; s=" V64, "s", out), 0);
	assert_string_equal(out, W64);
	/* a name that only ends or begins like ours is another cookie */
	assert_int_equal(ts_cookie_hex64("xs=" W64 "; s=" V64, "s", out), 0);
	assert_string_equal(out, V64);
	assert_int_equal(ts_cookie_hex64("s2=" W64 "; s=" V64, "s", out), 0);
	assert_string_equal(out, V64);
	assert_int_equal(ts_cookie_hex64("__Host-tapshare_pre=" W64 "; __Host-tapshare_session=" V64,
	    "__Host-tapshare_session", out), 0);
	assert_string_equal(out, V64);
}

static void
test_refused(void **state)
{
	(void)state;
	char out[65] = "unchanged";
	assert_int_equal(ts_cookie_hex64(NULL, "s", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("", "s", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("s=" V64, "", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("t=" V64, "s", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("s", "s", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("s=", "s", out), TS_ENOTFOUND);
	/* 63 and 65 digits */
	assert_int_equal(ts_cookie_hex64("s=" V64 "0", "s", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("s=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "s", out),
	    TS_ENOTFOUND);
	/* upper case, quotes, a non-hex digit */
	assert_int_equal(ts_cookie_hex64("s=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "s", out),
	    TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("s=\"" V64 "\"", "s", out), TS_ENOTFOUND);
	assert_int_equal(ts_cookie_hex64("s=g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "s", out),
	    TS_ENOTFOUND);
	/* a bad first one is not skipped for a good second one */
	assert_int_equal(ts_cookie_hex64("s=bad; s=" V64, "s", out), TS_ENOTFOUND);
	/* the name must be followed by '=' directly */
	assert_int_equal(ts_cookie_hex64("s =" V64, "s", out), TS_ENOTFOUND);
	assert_string_equal(out, "unchanged");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
