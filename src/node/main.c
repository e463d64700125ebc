/*
 * tapshare-node — the network node (patent: network node 3; subscription
 * center + distribution center + TSM).
 */
#include <stdio.h>
#include <string.h>

#include "lib/cmdline.h"
#include "lib/log.h"
#include "node/node.h"

/* The test hooks (store_test_hook) are named only where the build has them. */
#ifdef TS_TEST_HOOKS
#define TS_HELP_TEST_HOOKS \
	"  TAPSHARE_NODE_CRASH_AFTER  tests only: SIGKILL right after a crash point\n" \
	"  TAPSHARE_NODE_STORE_BUSY   tests only: OP[,OP...] store reads that always time out\n"
#else
#define TS_HELP_TEST_HOOKS ""
#endif

static const cmdline_cmd cmds[] = {
	{ "testpki", "testpki DIR --eid EID [--eid EID ...] [--ein PREFIX] [--host NAME ...]",
	    "write a fresh test PKI (tests and demos only)",
	    "Write a fresh test PKI: CI root, EUM (permitted EID prefix PREFIX, default\n"
	    "89049032, in nameConstraints), one eUICC key+certificate per EID, node CA, node\n"
	    "TLS (DPtls), DPauth and DPpb (SGP.22 certificate policies), provider TLS key.\n"
	    "For tests and demos only. The TLS certificates are for\n"
	    "127.0.0.1 and localhost, and for every --host NAME (DNS name or IP address; the\n"
	    "first is the node's CN)." },
	{ "init", "init --dir DIR [--config FILE] [--pki PKIDIR] [--host NAME ...] [--listen HOST:PORT]",
	    "create a node directory",
	    "Create a node in DIR: node.ini (or --config FILE), node.db (SQLite, WAL), and the\n"
	    "PKI files (copied from PKIDIR, or generated when --pki is absent)." },
	{ "check", "check [--dir DIR | --config FILE]",
	    "validate the configuration, every problem named",
	    "Validate the configuration: every unknown section or key, bad value, missing or\n"
	    "unreadable file as FILE:LINE: [section] key: problem. Exit 0 when usable, 1\n"
	    "otherwise. run refuses the same problems." },
	{ "user", "user add|code NAME\nuser list\nuser show NAME\nuser remove NAME [--force]",
	    "add, list, show, remove accounts; enrollment codes",
	    "add: create an account (passphrase asked without echo, or the first line of\n"
	    "stdin); prints a one-time enrollment code (7 days). code: a new code for an\n"
	    "existing account. list / show: accounts with their devices, apps and shares.\n"
	    "remove: close an account (devices revoked, sessions, codes and apps dropped; the\n"
	    "name is free again, the id never reused). Refused while the user has live\n"
	    "shares; --force first cancels them as the owner would (the companion deletes,\n"
	    "the provider is told)." },
	{ "provider", "provider add NAME URL [--ca FILE]\nprovider list\nprovider show|remove NAME",
	    "register, list, show, remove providers (ES2+ endpoints)",
	    "Register a service provider's ES2+ endpoint (https URL); its TLS certificate\n"
	    "must chain to --ca (default: the node CA). remove is refused while an app names\n"
	    "the provider or a live share needs it (never forced: cancelling needs it)." },
	{ "app", "app add --user NAME --app-id ID --name TEXT --kind sim|bankid|service --provider NAME\n"
		 "    [--not-shareable] [--replace]\napp list [--user NAME]\napp show|remove APP_ID [--force]",
	    "register, list, show, remove users' applications",
	    "Register a security application a user holds (what `tapshare apps` lists). An\n"
	    "existing id is refused (app_exists) unless --replace. remove is refused while a\n"
	    "share of the app is live; --force cancels those shares first." },
	{ "run", "run [--dir DIR | --config FILE]",
	    "serve (foreground; SIGHUP reloads)",
	    "Serve HTTPS on node.listen until SIGTERM/SIGINT. Writes DIR/node.port. SIGHUP\n"
	    "reloads the configuration, TLS certificate and providers (open streams stay; a\n"
	    "broken configuration is refused and logged). With [node] admin_listen =\n"
	    "HOST:PORT also serves /healthz, /readyz and /metrics (Prometheus) in plain HTTP\n"
	    "there. Under systemd (Type=notify) it reports READY=1, RELOADING=1 and\n"
	    "STOPPING=1. [node] log = stderr|journal|syslog chooses where logs go (default:\n"
	    "the journal when started by systemd, else stderr)." },
	{ "shares", "shares", "list every share with its state", "List every share with its state (admin view)." },
	{ "device", "device list [--user NAME]\ndevice show DEVICE_ID\ndevice revoke|remove DEVICE_ID [--force]",
	    "list, show, revoke/remove primary devices",
	    "list / show: the enrolled primary devices (id = SHA-256 of the public key), their\n"
	    "user and state. revoke (or remove): a lost or stolen device is refused on every\n"
	    "endpoint at once (a running node also closes its open event streams within a\n"
	    "second); its sessions are dropped, offers it signed are no longer redeemed; it\n"
	    "stays listed as revoked. remove refuses the last active device of a user with\n"
	    "live shares unless --force. The phone can do the same: tapshare device revoke." },
	{ "companion", "companion release EID",
	    "release a companion that changed hands",
	    "A companion belongs to the user whose share it installed first, and shares from\n"
	    "other users are refused (companion_not_yours); release forgets that, for a\n"
	    "companion that changed hands." },
	{ NULL, NULL, NULL, NULL },
};

static const cmdline_opt opts[] = {
	{ "--dir DIR", "the node's directory (node.ini and its state)" },
	{ "--config FILE", "node.ini elsewhere (state in /var/lib/tapshare)" },
	{ NULL, NULL },
};

static const cmdline_prog prog = {
	.prog = "tapshare-node",
	.summary = "tapshare network node",
	.description = "Checks companion EIDs, asks providers, delivers bound security applications to\n"
		       "companions' secure elements, confirms, revokes (ES9+, ES11, the primary API).",
	.cmds = cmds,
	.opts = opts,
	.extra = "Environment:\n"
		 "  TAPSHARE_NODE_DIR          default for --dir\n"
		 "  TAPSHARE_NODE_CONFIG       default for --config\n"
		 "  CONFIGURATION_DIRECTORY, STATE_DIRECTORY   set by systemd: where node.ini and the\n"
		 "                             state are when neither --dir nor --config is given\n"
		 "  JOURNAL_STREAM             set by systemd: logs go to the journal (see run)\n"
		 "  TAPSHARE_JOURNAL_SOCKET    the journal's native socket when it is not\n"
		 "                             /run/systemd/journal/socket (e.g. a container's)\n"
		 TS_HELP_TEST_HOOKS
		 "\n"
		 "Files:\n"
		 "  DIR/node.ini  configuration (sections node, tls, sign, trust)\n"
		 "  DIR/node.db   shares, grants, events, outbox, devices, users\n"
		 "  Installed (no --dir): /etc/tapshare/node.ini, state in /var/lib/tapshare.",
};

int
main(int argc, char **argv)
{
	ts_log_init("tapshare-node", TS_LOG_INFO);
	ts_log_set_target(TS_LOG_AUTO); /* run: [node] log decides */
	cmdline_init("tapshare-node", argc, argv);
	int rc = cmdline_front(&prog, argc, argv);
	if (rc >= 0)
		return rc;
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} table[] = {
		{ "testpki", node_cmd_testpki }, { "init", node_cmd_init }, { "user", node_cmd_user },
		{ "provider", node_cmd_provider }, { "app", node_cmd_app }, { "check", node_cmd_check },
		{ "run", node_cmd_run }, { "shares", node_cmd_shares }, { "device", node_cmd_device },
		{ "companion", node_cmd_companion },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(argv[1], table[i].name) == 0)
			return cmdline_exit(table[i].fn(argc - 1, argv + 1));
	return cmdline_exit(cmdline_usage("unknown command %s", argv[1]));
}
