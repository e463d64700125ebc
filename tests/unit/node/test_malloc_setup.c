/*
 * node_malloc_setup (run.c): the node's glibc malloc settings. With
 * fastbins off, small blocks freed beyond the thread's tcache (7 per size)
 * are never kept in a fastbin, which glibc's own accounting shows
 * (mallinfo2: smblks, the blocks in fastbins).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdlib.h>

#include "node/node.h"

/* frees 32 blocks of 48 bytes: 7 fill the tcache, the others would go to
 * a fastbin */
static size_t
fastbin_blocks_after_frees(void)
{
	void *p[32];
	for (size_t i = 0; i < 32; i++) {
		p[i] = malloc(48);
		assert_non_null(p[i]);
	}
	for (size_t i = 0; i < 32; i++)
		free(p[i]);
	return mallinfo2().smblks;
}

static void
test_no_fastbins(void **state)
{
	(void)state;
	node_malloc_setup();
	assert_int_equal(fastbin_blocks_after_frees(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_fastbins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
