/*
 * version.c — build version (version.h). ts_version_gen.h is generated into
 * the build tree by cmake/version.cmake.
 */
#include "lib/version.h"

#include <stdio.h>

#include "ts_version_gen.h"

const char *
ts_version(void)
{
	return TS_VERSION_NUMBER;
}

const char *
ts_git_revision(void)
{
	return TS_GIT_REVISION;
}

void
ts_version_print(const char *prog)
{
	printf("%s %s (git %s)\n", prog, TS_VERSION_NUMBER, TS_GIT_REVISION);
}
