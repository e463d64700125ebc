/*
 * tapshare-sp — the reference service provider (operator / bank / carmaker
 * server): answers the node's ES2+-shaped confirmOrder, cancelOrder,
 * handleDownloadProgressInfo and certifyKey over mutual TLS according to a policy file, minting the
 * associated credential and certifying bank-ID keys, and records every
 * decision. Command line: docs/cli.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/cmdline.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "lib/version.h"
#include "sp/sp_conf.h"
#include "sp/sp_http.h"
#include "sp/sp_store.h"

#define PROG "tapshare-sp"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char usage_main[] =
"Usage: tapshare-sp COMMAND [OPTIONS]\n"
"\n"
"The reference service provider of tapshare: the operator, bank or carmaker\n"
"server that the network node asks to authorise sharing a security application\n"
"(eSIM profile, bank-ID credential, service credential) with a companion device\n"
"(patent step S13), and tells about a cancellation (S16). It speaks the node's\n"
"provider interface, shaped like GSMA SGP.22 ES2+ (confirmOrder, cancelOrder,\n"
"handleDownloadProgressInfo,\n"
"and the tapshare extension certifyKey), as JSON over HTTPS with mutual TLS,\n"
"decides by a policy file, mints the associated credential, certifies the\n"
"key a companion generated for a bank-ID credential, and records every\n"
"decision in SQLite.\n"
"\n"
"Commands:\n"
"  init        create a provider directory (sp.ini, policy.ini, sp.db, TLS files)\n"
"  run         serve confirmOrder / cancelOrder / handleDownloadProgressInfo /\n"
"              certifyKey (foreground)\n"
"  decisions   list what the provider decided\n"
"  check       validate the configuration and the policy (every problem)\n"
"  help [COMMAND]   show help for a command\n"
"\n"
"Options:\n"
"  --json       print one JSON envelope on stdout (docs/cli.md)\n"
"  --help       show this help (or a command's help after the command)\n"
"  --version    print the version and exit\n"
"\n"
"Exit status: 0 success, 1 the operation failed, 2 bad usage.\n"
"Errors go to stderr as 'tapshare-sp: error: WHAT (WHY)'; logs go to stderr.\n"
"Run 'tapshare-sp help COMMAND' for the options of a command.\n";

static const char usage_init[] =
"Usage: tapshare-sp init --dir DIR --pki PKIDIR [--listen HOST:PORT]\n"
"\n"
"Creates the provider directory DIR (mode 0700) with:\n"
"  sp.ini        configuration: listen address, database, policy, TLS files\n"
"  policy.ini    default policy: approve every request, at most 86400 s\n"
"                (kept unchanged if DIR/policy.ini already exists)\n"
"  sp.db         empty SQLite decision record (mode 0600: it holds minted secrets)\n"
"  sp-tls.crt, sp-tls.key (0600)   the provider's TLS certificate and key,\n"
"                copied from PKIDIR\n"
"  node-ca.crt   the node CA, copied from PKIDIR; client certificates must\n"
"                chain to it\n"
"  provider-ca.crt, provider-ca.key (0600)   the provider's own bank-ID CA\n"
"                (\"<DIR name> bank-ID CA\"), which certifies the keys that\n"
"                companions generate for bank-ID credentials (kept if present;\n"
"                'run' creates it at the first certifyKey when missing)\n"
"When PKIDIR/node-tls.crt exists, its public key id is written to sp.ini as\n"
"[tls] allowed_clients, so that only the node (and not a phone holding another\n"
"certificate from the same CA) may call the provider.\n"
"PKIDIR is a test PKI as written by 'tapshare-node testpki'. init refuses to\n"
"overwrite an existing DIR/sp.ini.\n"
"\n"
"  --dir DIR            provider directory to create\n"
"  --pki PKIDIR         PKI directory with sp-tls.crt, sp-tls.key, node-ca.crt\n"
"  --listen HOST:PORT   address 'run' listens on (default 127.0.0.1:9443);\n"
"                       port 0 lets the kernel choose, see 'run'\n";

static const char usage_run[] =
"Usage: tapshare-sp run [--dir DIR | --config FILE]\n"
"\n"
"Serves, in the foreground on one event loop, over HTTPS (TLS 1.2 or later)\n"
"with client certificates required and verified against DIR/node-ca.crt; a\n"
"client whose key is not in sp.ini's [tls] allowed_clients (when that is not\n"
"empty) gets HTTP 403:\n"
"\n"
"  POST /gsma/rsp2/es2plus/confirmOrder   (S13)\n"
"    {\"header\":{\"functionRequesterIdentifier\",\"functionCallIdentifier\"},\n"
"     \"eid\",\"appId\",\"userId\",\"shareId\",\"requestedDurationS\"}\n"
"    The EID is checked (32 digits, ISO 7064 MOD 97-10), then the policy is\n"
"    applied. Approval mints the associated credential and answers\n"
"    Executed-Success with associatedAppId, name, kind, notAfter (unix s, 0 =\n"
"    unlimited: now + min(requested, max_duration_s)) and credential:\n"
"      sim      iccid (19 digits, 8944..., Luhn), imsi (15 digits), ki, opc\n"
"      bankid   account, certify_url, activation_code\n"
"      service  token, scope, expires_at\n"
"    A refusal answers status Failed with statusCodeData {subjectCode 8.1,\n"
"    reasonCode 3.8, message}; a bad EID, 8.1 / 2.1.\n"
"  POST /gsma/rsp2/es2plus/cancelOrder    (S16)\n"
"    {\"header\":{...},\"eid\",\"associatedAppId\",\"shareId\",\n"
"     \"finalProfileStatusIndicator\"}  -> Executed-Success (also for an unknown\n"
"    associatedAppId, which is recorded as such).\n"
"  POST /gsma/rsp2/es2plus/handleDownloadProgressInfo  (SGP.22 5.6.5 step 1)\n"
"    {\"header\":{...},\"eid\",\"associatedAppId\",\"shareId\",\"timestamp\",\n"
"     \"notificationPointId\",\"notificationPointStatus\",\"cancelSessionReason\"}\n"
"    -> Executed-Success: the node's notice that a download was cancelled and\n"
"    the order kept; recorded (decision noted), nothing changes.\n"
"  POST /gsma/rsp2/es2plus/certifyKey     (bank-ID key certification)\n"
"    {\"header\":{...},\"eid\",\"shareId\",\"associatedAppId\",\n"
"     \"publicKey\":\"<base64 of a 65-byte uncompressed P-256 point>\"}\n"
"    Certifies the key the companion's secure element generated for a bankid\n"
"    credential minted here: Executed-Success with certificate (base64 DER,\n"
"    issued by DIR/provider-ca.crt; subject O=tapshare bank-ID, CN=the bank\n"
"    account of the primary's app, serialNumber=associatedAppId; valid until\n"
"    the grant's notAfter, else 825 days). The same key for the same app gets\n"
"    the same certificate again. Refusals (statusCodeData subjectCode 8.1):\n"
"    3.9 unknown associatedAppId, 3.8 not a bankid credential, 2.1 bad EID or\n"
"    public key, 3.10 another EID, 3.7 cancelled, 6.3 grant expired, 3.3\n"
"    another key already certified.\n"
"\n"
"Every answer is recorded under its functionCallIdentifier; a repeated call\n"
"returns the recorded answer unchanged and decides nothing new. A malformed\n"
"request gets HTTP 400 and is not recorded.\n"
"\n"
"Policy (DIR/policy.ini, reloaded on SIGHUP):\n"
"  [default]        decision = approve|deny, max_duration_s = N (0 = none),\n"
"                   kind = sim|bankid|service (used when nothing else says)\n"
"  [app.APP_ID]     decision, max_duration_s, kind, name, scope for one of the\n"
"                   primary device's applications\n"
"  [deny]           eids = EID,EID,...  companions always refused\n"
"                   (further lists in eids.1 .. eids.99)\n"
"The kind comes from [app.APP_ID], else from a \"kind\" member of the request,\n"
"else from [default].\n"
"\n"
"Logs 'listening on https://HOST:PORT' once connections are accepted. With a\n"
"listen port of 0 the kernel chooses it and it is also written to DIR/sp.port.\n"
"SIGTERM or SIGINT stop the server cleanly (exit 0).\n"
"\n"
"  --dir DIR      provider directory made by 'tapshare-sp init'\n"
"  --config FILE  configuration file of the installed layout; its files are\n"
"                 relative to FILE's directory, the database to the state\n"
"                 directory (--dir, $STATE_DIRECTORY, else /var/lib/tapshare).\n"
"                 Without --dir and --config: /etc/tapshare/sp.ini\n"
"                 ($CONFIGURATION_DIRECTORY/sp.ini under systemd).\n"
"SIGHUP reloads the policy; a policy with errors is refused and the old one\n"
"kept. Under systemd (Type=notify) it reports READY=1 once listening.\n";

static const char usage_check[] =
"Usage: tapshare-sp check [--dir DIR | --config FILE]\n"
"\n"
"Validates sp.ini and its policy file without starting the server: every\n"
"unknown section or key, malformed value and missing file is reported on\n"
"stderr as 'FILE:LINE: [section] key: problem'. Exit status 0 when the\n"
"configuration is usable, 1 otherwise. 'run' refuses the same problems.\n"
"\n"
"  --dir DIR      provider directory\n"
"  --config FILE  configuration file of the installed layout (see 'run')\n";

static const char usage_decisions[] =
"Usage: tapshare-sp decisions [--dir DIR | --config FILE] [--json]\n"
"\n"
"Lists every recorded confirmOrder, cancelOrder, certifyKey and\n"
"handleDownloadProgressInfo, oldest first: time, function, decision (approved,\n"
"denied, cancelled, certified, noted), EID, the\n"
"primary's app id,\n"
"the associated app id, notAfter, functionCallIdentifier and the reason of a\n"
"refusal. Minted secrets (Ki, tokens) are never printed.\n"
"\n"
"  --dir DIR    provider directory\n"
"  --json       print a JSON array of decision objects on stdout instead of a\n"
"               table (members: id, created_at, function, functionCallIdentifier,\n"
"               requester, peer_id, eid, app_id, share_id, user_id, decision,\n"
"               kind, associatedAppId, notAfter, reason, http_status, account)\n";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, PROG ": error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see " PROG " --help)\n");
	exit(cmdline_exit(EXIT_USAGE));
}

static int
fail(const char *what, const char *why)
{
	fprintf(stderr, PROG ": error: %s (%s)\n", what, why);
	return EXIT_FAIL;
}

struct opts {
	const char *dir;
	const char *config;
	const char *pki;
	const char *listen;
	int json;
	int help;
};

/* Parses --name VALUE / --name=VALUE options; allowed is a list of the
 * option names this command takes. */
static void
parse_opts(int argc, char **argv, const char *const *allowed, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			o->help = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			die_usage("unexpected argument '%s'", a);
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		int ok = 0;
		for (size_t k = 0; allowed[k]; k++)
			if (strlen(allowed[k]) == nlen && strncmp(allowed[k], name, nlen) == 0)
				ok = 1;
		if (!ok)
			die_usage("unknown option '%s'", a);
		if (nlen == 4 && strncmp(name, "json", 4) == 0) {
			if (eq)
				die_usage("--json takes no value");
			o->json = 1;
			continue;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (val == NULL) {
			if (i + 1 >= argc)
				die_usage("option '%s' needs a value", a);
			val = argv[++i];
		}
		if (val[0] == '\0')
			die_usage("option '%s' needs a non-empty value", a);
		if (strncmp(name, "dir", nlen) == 0 && nlen == 3)
			o->dir = val;
		else if (strncmp(name, "pki", nlen) == 0 && nlen == 3)
			o->pki = val;
		else if (strncmp(name, "listen", nlen) == 0 && nlen == 6)
			o->listen = val;
		else if (strncmp(name, "config", nlen) == 0 && nlen == 6)
			o->config = val;
	}
}

#ifndef TS_SYSCONFDIR
#define TS_SYSCONFDIR "/etc/tapshare"
#endif
#ifndef TS_STATEDIR
#define TS_STATEDIR "/var/lib/tapshare"
#endif

/* --dir DIR: DIR/sp.ini, state in DIR (tests, demos). Otherwise the installed
 * layout: --config FILE or /etc/tapshare/sp.ini, state in /var/lib/tapshare
 * (systemd's $CONFIGURATION_DIRECTORY / $STATE_DIRECTORY first). */
/* systemd's directory variables may list several directories ("a:b"): the
 * first one, or def when unset or empty. */
static int
systemd_dir(const char *var, const char *def, char *out, size_t cap)
{
	const char *v = getenv(var);
	if (v == NULL || v[0] == '\0')
		return ts_snprintf(out, cap, "%s", def);
	return ts_snprintf(out, cap, "%.*s", (int)strcspn(v, ":"), v);
}

/* Configuration file and state directory of o (see load_conf). */
static int
locate(const struct opts *o, char ini[SP_PATH_MAX], char state[SP_PATH_MAX])
{
	char cd[SP_PATH_MAX];
	int rc;
	if (o->dir != NULL && o->config == NULL)
		return ts_snprintf(ini, SP_PATH_MAX, "%s/sp.ini", o->dir) == 0 &&
		    ts_snprintf(state, SP_PATH_MAX, "%s", o->dir) == 0 ? 0 : TS_ELIMIT;
	rc = o->dir != NULL ? ts_snprintf(state, SP_PATH_MAX, "%s", o->dir) :
			      systemd_dir("STATE_DIRECTORY", TS_STATEDIR, state, SP_PATH_MAX);
	if (rc == 0 && o->config != NULL)
		rc = ts_snprintf(ini, SP_PATH_MAX, "%s", o->config);
	else if (rc == 0 && (rc = systemd_dir("CONFIGURATION_DIRECTORY", TS_SYSCONFDIR, cd,
	    sizeof(cd))) == 0)
		rc = ts_snprintf(ini, SP_PATH_MAX, "%s/sp.ini", cd);
	return rc == 0 ? 0 : TS_ELIMIT;
}

static int
load_conf(const struct opts *o, sp_conf *c, char *err, size_t errcap)
{
	char ini[SP_PATH_MAX], state[SP_PATH_MAX];
	if (locate(o, ini, state) != 0)
		return TS_ELIMIT;
	return sp_conf_load_files(ini, state, c, err, errcap);
}

static void
report_problem(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, PROG ": error: %s\n", msg);
}

static int
cmd_check(int argc, char **argv)
{
	static const char *const allowed[] = { "dir", "config", NULL };
	struct opts o;
	parse_opts(argc, argv, allowed, &o);
	if (o.help) {
		cmdline_page(stdout, PROG, usage_check);
		return 0;
	}
	char ini[SP_PATH_MAX], state[SP_PATH_MAX];
	if (locate(&o, ini, state) != 0)
		die_usage("--dir or --config path too long");
	size_t bad = sp_conf_check(ini, state, report_problem, NULL);
	if (bad != 0) {
		fprintf(stderr, PROG ": %s: %zu problem%s\n", ini, bad, bad == 1 ? "" : "s");
		return EXIT_FAIL;
	}
	printf("%s: configuration OK (state in %s)\n", ini, state);
	return 0;
}

static int
cmd_init(int argc, char **argv)
{
	static const char *const allowed[] = { "dir", "pki", "listen", NULL };
	struct opts o;
	parse_opts(argc, argv, allowed, &o);
	if (o.help) {
		cmdline_page(stdout, PROG, usage_init);
		return 0;
	}
	if (o.dir == NULL || o.pki == NULL)
		die_usage("init needs --dir and --pki");
	char err[512] = "";
	int rc = sp_conf_init(o.dir, o.pki, o.listen, err, sizeof(err));
	if (rc == TS_EINVAL)
		die_usage("%s", err[0] ? err : "bad --listen");
	if (rc != 0)
		return fail("cannot initialise the provider directory", err[0] ? err : ts_strerror(rc));
	printf("initialised %s (listen %s)\n", o.dir, o.listen ? o.listen : SP_DEFAULT_LISTEN);
	return 0;
}

static int
cmd_run(int argc, char **argv)
{
	static const char *const allowed[] = { "dir", "config", NULL };
	struct opts o;
	parse_opts(argc, argv, allowed, &o);
	if (o.help) {
		cmdline_page(stdout, PROG, usage_run);
		return 0;
	}
	sp_conf c;
	char err[512] = "";
	int rc = load_conf(&o, &c, err, sizeof(err));
	if (rc != 0)
		return fail("cannot load the configuration", err[0] ? err : ts_strerror(rc));
	rc = sp_run(&c);
	if (rc != 0)
		return fail("the provider stopped", ts_strerror(rc));
	return 0;
}

static const char *
json_s(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static int
cmd_decisions(int argc, char **argv)
{
	static const char *const allowed[] = { "dir", "config", "json", NULL };
	struct opts o;
	parse_opts(argc, argv, allowed, &o);
	if (o.help) {
		cmdline_page(stdout, PROG, usage_decisions);
		return 0;
	}
	sp_conf c;
	char err[512] = "";
	int rc = load_conf(&o, &c, err, sizeof(err));
	if (rc != 0)
		return fail("cannot load the configuration", err[0] ? err : ts_strerror(rc));
	sp_store *st = NULL;
	if ((rc = sp_store_open(c.db, &st)) != 0)
		return fail("cannot open the decision record", ts_strerror(rc));
	json_t *list = NULL;
	rc = sp_store_list(st, &list);
	sp_store_close(st);
	if (rc != 0)
		return fail("cannot read the decision record", ts_strerror(rc));
	if (o.json) {
		cmdline_set_json(1);
		cmdline_ok(list);
		return 0;
	}
	printf("%-20s %-12s %-9s %-32s %-16s %-26s %-10s %s\n", "TIME", "FUNCTION", "DECISION",
	    "EID", "APP", "ASSOCIATED", "NOT_AFTER", "CALL / REASON");
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d) {
		char tbuf[32] = "-";
		time_t t = (time_t)json_integer_value(json_object_get(d, "created_at"));
		struct tm tm;
		if (gmtime_r(&t, &tm) != NULL)
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		long long na = json_integer_value(json_object_get(d, "notAfter"));
		char nabuf[24];
		snprintf(nabuf, sizeof(nabuf), "%lld", na);
		const char *reason = json_string_value(json_object_get(d, "reason"));
		printf("%-20s %-12s %-9s %-32s %-16s %-26s %-10s %s%s%s\n", tbuf,
		    json_s(d, "function"), json_s(d, "decision"), json_s(d, "eid"),
		    json_s(d, "app_id"), json_s(d, "associatedAppId"), nabuf,
		    json_s(d, "functionCallIdentifier"), reason ? " / " : "", reason ? reason : "");
	}
	json_decref(list);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
} commands[] = {
	{ "init", cmd_init, usage_init },
	{ "run", cmd_run, usage_run },
	{ "decisions", cmd_decisions, usage_decisions },
	{ "check", cmd_check, usage_check },
};

static int
dispatch(int argc, char **argv)
{
	if (argc < 2) {
		cmdline_page(stderr, PROG, usage_main);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		cmdline_page(stdout, PROG, usage_main);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		ts_version_print(PROG);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc < 3) {
			cmdline_page(stdout, PROG, usage_main);
			return 0;
		}
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (strcmp(argv[2], commands[i].name) == 0) {
				cmdline_page(stdout, PROG, commands[i].usage);
				return 0;
			}
		}
		die_usage("unknown command '%s'", argv[2]);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].fn(argc - 2, argv + 2);
	die_usage("unknown command '%s'", cmd);
}

int
main(int argc, char **argv)
{
	ts_log_init(PROG, TS_LOG_INFO);
	ts_log_set_target(TS_LOG_AUTO); /* the journal when systemd connected stderr to it */
	cmdline_init(PROG, argc, argv);
	/* one --json envelope per command, whatever path it ended on */
	return cmdline_exit(dispatch(argc, argv));
}
