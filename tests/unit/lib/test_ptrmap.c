/* Unit tests for lib/ptrmap: the statement caches' pointer -> index map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/ptrmap.h"
#include "lib/ts_err.h"

static char keys[3000];

/* 1,000 adjacent addresses (neighbours probe into each other's slots), every
 * one found with its own value, none of the other 2,000 found. */
static void
test_put_get(void **state)
{
	(void)state;
	ts_ptrmap m = TS_PTRMAP_INIT;
	size_t v = 0;
	assert_int_equal(ts_ptrmap_get(&m, &keys[0], &v), 0);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(ts_ptrmap_put(&m, &keys[i * 3], i + 7), 0);
	assert_int_equal(m.n, 1000);
	assert_true(m.n <= m.cap / 2);
	for (size_t i = 0; i < 3000; i++) {
		v = 12345;
		if (i % 3 == 0) {
			assert_int_equal(ts_ptrmap_get(&m, &keys[i], &v), 1);
			assert_int_equal(v, i / 3 + 7);
		} else {
			assert_int_equal(ts_ptrmap_get(&m, &keys[i], &v), 0);
			assert_int_equal(v, 12345);
		}
	}
	ts_ptrmap_free(&m);
	assert_int_equal(ts_ptrmap_get(&m, &keys[0], &v), 0);
}

/* A second put of a key replaces its value and adds no entry; NULL is no key. */
static void
test_replace_null(void **state)
{
	(void)state;
	ts_ptrmap m = TS_PTRMAP_INIT;
	size_t v = 0;
	assert_int_equal(ts_ptrmap_put(&m, &keys[5], 1), 0);
	assert_int_equal(ts_ptrmap_put(&m, &keys[5], 2), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(ts_ptrmap_get(&m, &keys[5], &v), 1);
	assert_int_equal(v, 2);
	assert_int_equal(ts_ptrmap_put(&m, NULL, 3), TS_EINVAL);
	assert_int_equal(ts_ptrmap_get(&m, NULL, &v), 0);
	assert_int_equal(m.n, 1);
	ts_ptrmap_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_replace_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
