/*
 * tmpdir_fixture.h — the set-up and tear-down the node's store tests share:
 * a fresh temporary directory per test (dir) with the SQLite database's
 * path in it (dbpath = dir/node.db), removed afterwards. Include after
 * <cmocka.h> (and its prerequisites); the test's setup() calls
 * tmpdir_setup("/tmp/ts-<name>-XXXXXX"), its teardown() tmpdir_teardown().
 */
#ifndef TS_TEST_TMPDIR_FIXTURE_H
#define TS_TEST_TMPDIR_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char dbpath[128];

/* dir from tmpl (ending in XXXXXX, see mkdtemp) and dbpath in it: 0, or -1. */
static inline int
tmpdir_setup(const char *tmpl)
{
	if (snprintf(dir, sizeof(dir), "%s", tmpl) >= (int)sizeof(dir) || mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/node.db", dir);
	return 0;
}

/* Removes dir with everything in it: 0, or -1. */
static inline int
tmpdir_teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
