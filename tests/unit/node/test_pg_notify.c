/*
 * Unit tests for the PostgreSQL notification payload (src/node/pg_notify.h):
 * hand-written payloads, the exact forms store_pg.c sends and what must be
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "node/pg_notify.h"

static void
test_accepted(void **state)
{
	(void)state;
	int64_t u;
	char eid[33];
	assert_int_equal(pg_notify_parse("u:1", &u, eid), 0);
	assert_int_equal(u, 1);
	assert_string_equal(eid, "");
	assert_int_equal(pg_notify_parse("u:9223372036854775807", &u, eid), 0);
	assert_true(u == INT64_MAX);
	assert_int_equal(pg_notify_parse("e:89049032123451234512345678901235", &u, eid), 0);
	assert_int_equal(u, -1);
	assert_string_equal(eid, "89049032123451234512345678901235");
}

static void
test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "u", "u:", "u:-1", "u: 1", "u:+1", "u:1x", "u:9223372036854775808", "x:1", "u;1",
		"e:", "e:8904903212345123451234567890123", "e:890490321234512345123456789012351",
		"e:8904903212345123451234567890123x", "e: 8904903212345123451234567890123",
		"U:1", "E:89049032123451234512345678901235",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t u = 5;
		char eid[33] = "x";
		assert_int_equal(pg_notify_parse(bad[i], &u, eid), TS_EPARSE);
		assert_int_equal(u, -1);
		assert_string_equal(eid, "");
	}
	/* longer than the bound: refused without reading on */
	char longp[200];
	memset(longp, '1', sizeof(longp) - 1);
	longp[0] = 'u';
	longp[1] = ':';
	longp[sizeof(longp) - 1] = '\0';
	int64_t u;
	char eid[33];
	assert_int_equal(pg_notify_parse(longp, &u, eid), TS_EPARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests_name("pg_notify", tests, NULL, NULL);
}
