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

/* Which notifications the agent delivers to its node (SGP.22: each goes to
 * its notificationAddress; others are left for the LPA that serves them). */
static void
test_address_is_node(void **state)
{
	(void)state;
	const char *node = "https://node.example.org:8443";
	assert_int_equal(agent_address_is_node(node, "node.example.org:8443"), 1);
	assert_int_equal(agent_address_is_node(node, "https://NODE.example.org:8443"), 1);
	assert_int_equal(agent_address_is_node(node, "https://node.example.org:8443/"), 1);
	assert_int_equal(agent_address_is_node(node, ""), 1);
	assert_int_equal(agent_address_is_node(node, NULL), 1);
	assert_int_equal(agent_address_is_node(node, "smdp.operator.com"), 0);
	assert_int_equal(agent_address_is_node(node, "node.example.org"), 0);
	assert_int_equal(agent_address_is_node(node, "node.example.org:844"), 0);
	assert_int_equal(agent_address_is_node(node, "node.example.org:84433"), 0);
	assert_int_equal(agent_address_is_node("https://127.0.0.1:1/", "127.0.0.1:1"), 1);
	assert_int_equal(agent_address_is_node(NULL, "127.0.0.1:1"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_link_kind),
		cmocka_unit_test(test_address_is_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
