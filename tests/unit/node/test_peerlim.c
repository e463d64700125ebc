/* Unit tests for node/peerlim: per-key fixed windows, exact keys, a full
 * table refuses new keys instead of evicting a live window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "lib/ts_err.h"
#include "node/peerlim.h"

static void
test_window(void **state)
{
	(void)state;
	peerlim *pl = NULL;
	assert_int_equal(peerlim_new(0, 60, &pl), TS_EINVAL);
	assert_int_equal(peerlim_new(3, 60, &pl), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(peerlim_hit(pl, "10.0.0.1", 1000 + i), 0);
	assert_int_equal(peerlim_hit(pl, "10.0.0.1", 1010), TS_ELIMIT);
	/* another peer has its own window and does not touch the first */
	assert_int_equal(peerlim_hit(pl, "10.0.0.2", 1010), 0);
	assert_int_equal(peerlim_hit(pl, "10.0.0.1", 1059), TS_ELIMIT);
	/* the window ends 60 s after its first event */
	assert_int_equal(peerlim_hit(pl, "10.0.0.1", 1060), 0);
	peerlim_free(pl);
	peerlim_free(NULL);
}

static void
test_full_table(void **state)
{
	(void)state;
	peerlim *pl = NULL;
	char k[32];
	assert_int_equal(peerlim_new(1, 60, &pl), 0);
	for (int i = 0; i < PEERLIM_SLOTS; i++) {
		snprintf(k, sizeof(k), "peer-%d", i);
		assert_int_equal(peerlim_hit(pl, k, 1000), 0);
	}
	/* full of live windows: a new peer is refused, none is evicted */
	assert_int_equal(peerlim_hit(pl, "newcomer", 1001), TS_ELIMIT);
	assert_int_equal(peerlim_hit(pl, "peer-7", 1001), TS_ELIMIT);
	/* once windows end, their slots serve new peers */
	assert_int_equal(peerlim_hit(pl, "newcomer", 1060), 0);
	assert_int_equal(peerlim_hit(pl, "newcomer", 1061), TS_ELIMIT);
	peerlim_free(pl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_full_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
