/*
 * outbox_start cannot leak threads: when a worker fails to start, the ones
 * already running are joined before outbox_start returns (issue 8). Threads
 * are counted in /proc/self/task.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ts_err.h"
#include "node/node.h"

static int
threads(void)
{
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The count once it is `want`, or after 2 s. pthread_join returns when the
 * kernel clears the thread's tid (mm_release), a moment before the task is
 * released and leaves /proc/self/task: on a loaded machine a joined thread
 * can still be listed right after the join (seen once in CI). */
static int
threads_settle(int want)
{
	int n = threads();
	for (int i = 0; i < 200 && n != want; i++) {
		usleep(10 * 1000);
		n = threads();
	}
	return n;
}

static void
test_failed_start_joins_started_workers(void **state)
{
	(void)state;
	char dir[] = "/tmp/ts-outbox-XXXXXX";
	assert_non_null(mkdtemp(dir));
	static node n; /* large */
	memset(&n, 0, sizeof(n));
	snprintf(n.db_url, sizeof(n.db_url), "sqlite:%s/node.db", dir);
	assert_int_equal(store_open(n.db_url, &n.st), 0);
	int before = threads();

	/* the third of four workers cannot open its store */
	n.nworkers = 4;
	n.outbox_fail_at = 3;
	assert_int_not_equal(outbox_start(&n), 0);
	assert_int_equal(n.nworkers, 0);
	assert_int_equal(threads_settle(before), before);
	outbox_stop(&n); /* safe after a failed start */

	/* and a start that works, then stops, leaves none either */
	n.nworkers = 3;
	n.outbox_fail_at = 0;
	assert_int_equal(outbox_start(&n), 0);
	assert_int_equal(n.nworkers, 3);
	assert_int_equal(threads(), before + 3);
	outbox_stop(&n);
	assert_int_equal(threads_settle(before), before);

	store_close(n.st);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_start_joins_started_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
