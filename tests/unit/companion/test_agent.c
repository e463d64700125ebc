/*
 * test_agent.c — the agent's small pure helpers (src/companion/agent.h).
 * The run loop itself is exercised by the integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "companion/agent.h"
#include "lib/ts_err.h"

static void
test_backoff(void **state)
{
	(void)state;
	/* 1 s doubling to 30 s, then stays. */
	static const long want[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	long cur = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cur = agent_next_backoff(cur);
		assert_int_equal(cur, want[i]);
	}
	assert_int_equal(agent_next_backoff(-5), 1000);
	assert_int_equal(agent_next_backoff(15000), 30000);
	assert_int_equal(agent_next_backoff(14999), 29998);
}

static void
test_link_kind(void **state)
{
	(void)state;
	char k[8];
	assert_int_equal(agent_link_kind("sim:/tmp/x.sock", k, sizeof(k)), 0);
	assert_string_equal(k, "sim");
	assert_int_equal(agent_link_kind("/tmp/x.sock", k, sizeof(k)), TS_EINVAL);
	assert_int_equal(agent_link_kind(":x", k, sizeof(k)), TS_EINVAL);
	assert_int_equal(agent_link_kind("verylongscheme:x", k, sizeof(k)), TS_ELIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_link_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
