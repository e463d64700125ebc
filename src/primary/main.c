/*
 * tapshare — the primary device (US 9,848,325 B2 first wireless device):
 * enroll, list apps (S2), tap + share (S1, S3-S6), list shares, cancel (S7/S8).
 * Command line: docs/cli.md; node API: docs/protocol.md §2.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/cmdline.h"
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

	cmdline_init("tapshare", argc, argv);
	if (argc < 2) {
		cli_usage(stderr, NULL);
		return 2;
	}
	if (cli_parse(argc, argv, &o, err, sizeof(err)) != 0) {
		const char *name = cli_cmd_name(o.cmd);
		cmdline_fail(2, "usage", NULL, "%s", err);
		fprintf(stderr, "Usage: see 'tapshare %s%s--help'\n", name ? name : "", name ? " " : "");
		return 2;
	}
	cmdline_set_json(o.json);
	int rc;
	switch (o.cmd) {
	case CLI_CMD_HELP:
		if (cli_usage(stdout, o.help_topic) == 0)
			return 0;
		fprintf(stderr, "tapshare: error: no command %s\n(see tapshare --help)\n", o.help_topic);
		return 2;
	case CLI_CMD_VERSION:
		ts_version_print("tapshare");
		return 0;
	case CLI_CMD_ENROLL: rc = cmd_enroll(&o); break;
	case CLI_CMD_APPS: rc = cmd_apps(&o); break;
	case CLI_CMD_SHARE: rc = cmd_share(&o); break;
	case CLI_CMD_SHARES: rc = cmd_shares_view(&o); break;
	case CLI_CMD_CANCEL: rc = cmd_cancel(&o); break;
	case CLI_CMD_MOVE: rc = cmd_move(&o); break;
	case CLI_CMD_OFFER: rc = cmd_offer(&o); break;
	case CLI_CMD_WATCH: rc = cmd_watch(&o); break;
	case CLI_CMD_DEVICE: rc = cmd_device(&o); break;
	default:
		return cmdline_exit(cmdline_usage("no command"));
	}
	/* one envelope per command under --json (docs/cli.md) */
	return cmdline_exit(cmd_finish(&o, rc));
}
