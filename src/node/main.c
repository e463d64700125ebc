/*
 * tapshare-node — the network node (patent: network node 3; subscription
 * center + distribution center + TSM).
 */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/version.h"
#include "node/node.h"

static const char usage[] =
    "NAME\n"
    "    tapshare-node - tapshare network node: checks companion EIDs, asks providers,\n"
    "    delivers bound security applications, confirms, revokes\n"
    "\n"
    "SYNOPSIS\n"
    "    tapshare-node testpki DIR --eid EID [--eid EID ...] [--ein PREFIX] [--host NAME ...]\n"
    "    tapshare-node init --dir DIR [--config FILE] [--pki PKIDIR | --host NAME ...]\n"
    "                       [--listen HOST:PORT]\n"
    "    tapshare-node check [--dir DIR | --config FILE]\n"
    "    tapshare-node user add NAME --dir DIR      (passphrase: asked without echo, or stdin)\n"
    "    tapshare-node user code NAME --dir DIR\n"
    "    tapshare-node provider add NAME URL --dir DIR [--ca FILE]\n"
    "    tapshare-node app add --dir DIR --user NAME --app-id ID --name TEXT\n"
    "                          --kind sim|bankid|service --provider NAME [--not-shareable]\n"
    "    tapshare-node run [--dir DIR | --config FILE]\n"
    "    tapshare-node shares --dir DIR [--json]\n"
    "    tapshare-node device list --dir DIR [--user NAME] [--json]\n"
    "    tapshare-node device revoke DEVICE_ID --dir DIR\n"
    "    tapshare-node companion release EID --dir DIR\n"
    "\n"
    "COMMANDS\n"
    "    testpki   Write a fresh test PKI: CI root, EUM (permitted EID prefix PREFIX,\n"
    "              default 89049032, in nameConstraints), one eUICC key+certificate per EID,\n"
    "              node CA, node TLS (DPtls), DPauth and DPpb (SGP.22 certificate policies),\n"
    "              provider TLS key. For tests and demos only.\n"
    "              The TLS certificates are for 127.0.0.1 and localhost, and for every\n"
    "              --host NAME (DNS name or IP address; the first is the node's CN).\n"
    "    check     Validate the configuration: every unknown section or key, bad value,\n"
    "              missing or unreadable file as FILE:LINE: [section] key: problem.\n"
    "              Exit 0 when usable, 1 otherwise. run refuses the same problems.\n"
    "    init      Create a node in DIR: node.ini (or --config FILE), node.db (SQLite, WAL), and the PKI files\n"
    "              (copied from PKIDIR, or generated when --pki is absent).\n"
    "    user      add: create an account; prints a one-time enrollment code (7 days).\n"
    "              code: print a new enrollment code for an existing account.\n"
    "    provider  Register a service provider's ES2+ endpoint (https URL). Its TLS\n"
    "              certificate must chain to --ca (default: the node CA).\n"
    "    app       Register a security application a user holds (what `tapshare apps` lists).\n"
    "    run       Serve HTTPS on node.listen until SIGTERM/SIGINT. Writes DIR/node.port.\n"
    "              SIGHUP reloads the configuration, TLS certificate and providers (open\n"
    "              streams stay; a broken configuration is refused and logged). With\n"
    "              [node] admin_listen = HOST:PORT also serves /healthz, /readyz and\n"
    "              /metrics (Prometheus) in plain HTTP there. Under systemd (Type=notify)\n"
    "              it reports READY=1, RELOADING=1 and STOPPING=1.\n"
    "    shares    List every share with its state.\n"
    "    device    list: the enrolled primary devices (id = SHA-256 of the public key),\n"
    "              their user and state. revoke: a lost or stolen device is refused on\n"
    "              every endpoint at once (a running node also closes its open event\n"
    "              streams within a second); its session tokens are dropped and offers\n"
    "              it signed are no longer redeemed. The phone can do the same itself:\n"
    "              tapshare device revoke.\n"
    "    companion release: a companion belongs to the user whose share it installed\n"
    "              first, and shares from other users are refused (companion_not_yours);\n"
    "              release forgets that, for a companion that changed hands.\n"
    "\n"
    "ENVIRONMENT\n"
    "    TAPSHARE_NODE_DIR          default for --dir\n"
    "    TAPSHARE_NODE_CONFIG       default for --config\n"
    "    CONFIGURATION_DIRECTORY, STATE_DIRECTORY   set by systemd: where node.ini and the\n"
    "                               state are when neither --dir nor --config is given\n"
    "    TAPSHARE_NODE_CRASH_AFTER  tests only: SIGKILL right after a crash point (a share\n"
    "                               service function, e.g. share_request, or outbox.answered)\n"
    "                               or after the Nth durable commit (commit:N)\n"
    "\n"
    "FILES\n"
    "    DIR/node.ini  configuration (sections node, tls, sign, trust)\n"
    "    DIR/node.db   shares, grants, events, outbox, devices, users\n"
    "    Installed (no --dir): /etc/tapshare/node.ini, state in /var/lib/tapshare.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failure, 2 usage error.\n"
    "\n"
    "SEE ALSO\n"
    "    tapshare(1), tapshare-companion(1), tapshare-se(1), tapshare-sp(1), docs/protocol.md, README (Operate it)\n";

int
main(int argc, char **argv)
{
	ts_log_init("tapshare-node", TS_LOG_INFO);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		ts_version_print("tapshare-node");
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	const char *cmd = argv[1];
	if (strcmp(cmd, "testpki") == 0)
		return node_cmd_testpki(argc - 1, argv + 1);
	if (strcmp(cmd, "init") == 0)
		return node_cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return node_cmd_user(argc - 1, argv + 1);
	if (strcmp(cmd, "provider") == 0)
		return node_cmd_provider(argc - 1, argv + 1);
	if (strcmp(cmd, "app") == 0)
		return node_cmd_app(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return node_cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return node_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "shares") == 0)
		return node_cmd_shares(argc - 1, argv + 1);
	if (strcmp(cmd, "device") == 0)
		return node_cmd_device(argc - 1, argv + 1);
	if (strcmp(cmd, "companion") == 0)
		return node_cmd_companion(argc - 1, argv + 1);
	fprintf(stderr, "tapshare-node: error: unknown command %s (see tapshare-node --help)\n", cmd);
	return 2;
}
