/*
 * tapshare — the primary device (US 9,848,325 B2 first wireless device):
 * enroll, list apps (S2), tap + share (S1, S3-S6), list shares, cancel (S7/S8).
 * Command line: docs/cli.md; node API: docs/protocol.md §2.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/version.h"
#include "primary/cli.h"
#include "primary/cmd.h"

int
main(int argc, char **argv)
{
	cli_opts o;
	char err[512];

	ts_log_init("tapshare", getenv("TAPSHARE_DEBUG") ? TS_LOG_DEBUG : TS_LOG_WARN);
	/* A node or reader that goes away must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	if (cli_parse(argc, argv, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "tapshare: error: %s\n", err);
		const char *name = cli_cmd_name(o.cmd);
		fprintf(stderr, "usage: see 'tapshare %s%s--help'\n", name ? name : "",
		    name ? " " : "");
		return 2;
	}
	switch (o.cmd) {
	case CLI_CMD_HELP:
		return cli_usage(stdout, o.help_topic) == 0 ? 0 : 2;
	case CLI_CMD_VERSION:
		ts_version_print("tapshare");
		return 0;
	case CLI_CMD_ENROLL: return cmd_enroll(&o);
	case CLI_CMD_APPS: return cmd_apps(&o);
	case CLI_CMD_SHARE: return cmd_share(&o);
	case CLI_CMD_SHARES: return cmd_shares_view(&o);
	case CLI_CMD_CANCEL: return cmd_cancel(&o);
	case CLI_CMD_MOVE: return cmd_move(&o);
	case CLI_CMD_OFFER: return cmd_offer(&o);
	case CLI_CMD_WATCH: return cmd_watch(&o);
	case CLI_CMD_DEVICE: return cmd_device(&o);
	default:
		fprintf(stderr, "tapshare: error: no command (see tapshare --help)\n");
		return 2;
	}
}
