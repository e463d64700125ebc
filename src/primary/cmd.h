/*
 * cmd.h — the commands of `tapshare` (primary device). Each takes the parsed
 * options (borrowed) and returns the process exit status: 0 success, 1 the
 * operation failed (the reason is printed as "tapshare: error: ...").
 */
#ifndef TS_PRIMARY_CMD_H
#define TS_PRIMARY_CMD_H

#include "primary/cli.h"

int cmd_enroll(const cli_opts *o);
int cmd_apps(const cli_opts *o);
int cmd_share(const cli_opts *o);
int cmd_shares(const cli_opts *o);
int cmd_cancel(const cli_opts *o);

/* Prints "tapshare: error: <fmt...>" on stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
