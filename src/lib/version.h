/*
 * version.h — the one place the programs' version comes from: the project
 * version in CMakeLists.txt (project(... VERSION)) and the git revision of
 * the tree it was built from, written at build time into a generated header
 * that only version.c includes (so a new commit recompiles one file).
 */
#ifndef TS_VERSION_H
#define TS_VERSION_H

/* "0.1.0" (static storage). */
const char *ts_version(void);
/* git revision, e.g. "d77da8b1c2e3" or "d77da8b1c2e3-dirty", or "unknown". */
const char *ts_git_revision(void);
/* Prints "PROG VERSION (git REVISION)\n" on stdout: every program's --version. */
void ts_version_print(const char *prog);

#endif
