/* Unit tests for lib/actcode: SGP.22 §4.1 activation codes, written by hand
 * from the specification's layout (not produced by our node). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/actcode.h"
#include "lib/ts_err.h"

static int
parse(const char *s, ac_code *c)
{
	memset(c, 0x5a, sizeof(*c));
	return ac_parse(s, strlen(s), c);
}

static void
test_valid(void **state)
{
	(void)state;
	ac_code c;
	/* the form the node prints: LPA:1$<address>$<matching id> */
	assert_int_equal(parse("LPA:1$smdp.example.com$04386-AGYFT-A74Y8-3F815", &c), 0);
	assert_string_equal(c.address, "smdp.example.com");
	assert_string_equal(c.matching_id, "04386-AGYFT-A74Y8-3F815");
	assert_string_equal(c.oid, "");
	assert_int_equal(c.cc_required, 0);
	/* typed in, without the QR prefix; address with a port */
	assert_int_equal(parse("1$127.0.0.1:8443$0123456789abcdef0123456789abcdef", &c), 0);
	assert_string_equal(c.address, "127.0.0.1:8443");
	assert_string_equal(c.matching_id, "0123456789abcdef0123456789abcdef");
	/* with the SM-DP+ OID */
	assert_int_equal(parse("LPA:1$smdp.example.com$MID-1$1.3.6.1.4.1.31746", &c), 0);
	assert_string_equal(c.oid, "1.3.6.1.4.1.31746");
	assert_int_equal(c.cc_required, 0);
	/* OID and the confirmation code flag */
	assert_int_equal(parse("LPA:1$smdp.example.com$MID-1$1.3.6.1.4.1.31746$1", &c), 0);
	assert_int_equal(c.cc_required, 1);
	/* the flag without an OID: its place left empty */
	assert_int_equal(parse("LPA:1$smdp.example.com$MID-1$$1", &c), 0);
	assert_string_equal(c.oid, "");
	assert_int_equal(c.cc_required, 1);
	/* an empty matching id (the SM-DP+ finds the profile by EID) */
	assert_int_equal(parse("LPA:1$smdp.example.com$", &c), 0);
	assert_string_equal(c.matching_id, "");
	/* not NUL-terminated: only len bytes are read */
	const char buf[] = "LPA:1$a.example$MIDxxxxx";
	assert_int_equal(ac_parse(buf, 19, &c), 0);
	assert_string_equal(c.matching_id, "MID");
}

static void
test_invalid(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"LPA:",
		"LPA:1",
		"LPA:1$smdp.example.com",              /* no matching id field */
		"LPA:2$smdp.example.com$MID",          /* AC_Format other than 1 */
		"LPA:11$smdp.example.com$MID",
		"lpa:1$smdp.example.com$MID",          /* the prefix is upper case */
		"LPA:1$$MID",                          /* empty address */
		"LPA:1$https://smdp.example.com$MID",  /* scheme */
		"LPA:1$smdp.example.com/path$MID",     /* path */
		"LPA:1$user@smdp.example.com$MID",
		"LPA:1$smdp.example.com:$MID",         /* empty port */
		"LPA:1$smdp.example.com:0$MID",
		"LPA:1$smdp.example.com:65536$MID",
		"LPA:1$smdp.example.com:8x$MID",
		"LPA:1$:8443$MID",
		"LPA:1$smdp.example.com$MID$",         /* empty OID without the flag */
		"LPA:1$smdp.example.com$MID$1.2.x",    /* OID not dotted decimal */
		"LPA:1$smdp.example.com$MID$1",        /* one arc */
		"LPA:1$smdp.example.com$MID$1..2",
		"LPA:1$smdp.example.com$MID$1.2$0",    /* flag other than 1 */
		"LPA:1$smdp.example.com$MID$1.2$11",
		"LPA:1$smdp.example.com$MID$1.2$1$x",  /* a sixth field */
		"LPA:1$smdp.example.com$MI D",         /* space */
		"LPA:1$smdp.example.com$MI\tD",        /* control character */
		"LPA:1$smdp.example.com$MI\xc3\xa9",   /* not ASCII */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ac_code c;
		memset(&c, 0x5a, sizeof(c));
		int rc = ac_parse(bad[i], strlen(bad[i]), &c);
		if (rc != TS_EPARSE)
			fail_msg("\"%s\": %d, expected TS_EPARSE", bad[i], rc);
		assert_int_equal(((unsigned char *)&c)[0], 0x5a); /* untouched */
	}
	/* an embedded NUL */
	ac_code c;
	assert_int_equal(ac_parse("LPA:1$a.example$M\0D", 19, &c), TS_EPARSE);
	assert_int_equal(ac_parse(NULL, 0, &c), TS_EINVAL);
	assert_int_equal(ac_parse("1$a$b", 5, NULL), TS_EINVAL);
}

static void
test_limits(void **state)
{
	(void)state;
	char s[AC_TEXT_MAX + 16];
	ac_code c;
	/* a matching id of exactly AC_MATCHING_ID_MAX, then one more */
	int n = snprintf(s, sizeof(s), "LPA:1$a.example$");
	memset(s + n, 'M', AC_MATCHING_ID_MAX);
	s[n + AC_MATCHING_ID_MAX] = '\0';
	assert_int_equal(parse(s, &c), 0);
	assert_int_equal(strlen(c.matching_id), AC_MATCHING_ID_MAX);
	s[n + AC_MATCHING_ID_MAX] = 'M';
	s[n + AC_MATCHING_ID_MAX + 1] = '\0';
	assert_int_equal(parse(s, &c), TS_ELIMIT);
	/* an address of AC_ADDR_MAX + 1 */
	n = snprintf(s, sizeof(s), "1$");
	memset(s + n, 'a', AC_ADDR_MAX + 1);
	snprintf(s + n + AC_ADDR_MAX + 1, sizeof(s) - (size_t)n - AC_ADDR_MAX - 1, "$M");
	assert_int_equal(parse(s, &c), TS_ELIMIT);
	/* the whole code longer than AC_TEXT_MAX */
	memset(s, 'a', AC_TEXT_MAX + 1);
	memcpy(s, "1$a$", 4);
	assert_int_equal(ac_parse(s, AC_TEXT_MAX + 1, &c), TS_ELIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
