/*
 * tapshare-companion — the companion device agent (patent US 9,848,325 B2:
 * the second wireless device). Command line per docs/cli.md.
 */
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "companion/agent.h"
#include "device/link_qr.h"
#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/config.h"
#include "lib/cmdline.h"
#include "lib/log.h"
#include "lib/version.h"
#include "lib/ndef.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define PROG "tapshare-companion"
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char usage_main[] =
"Usage: " PROG " COMMAND [OPTIONS]\n"
"\n"
"The companion device agent of tapshare: the patent's second wireless device\n"
"(watch, camera, car module) in the LPA role of GSMA SGP.22. It shows its\n"
"secure element's EID on a short-range link, listens to the network node for\n"
"commands, downloads and installs the security applications shared with it\n"
"and deletes them when the share is revoked or expires.\n"
"\n"
"Commands:\n"
"  run       run the agent (foreground) until SIGTERM or SIGINT\n"
"  status    show the eUICC (EID, EUICCInfo2), its profiles and the tapshare\n"
"            applications they hold, as an SGP.22 LPA reads them\n"
"  enable, disable, delete ICCID|AID\n"
"            enable / disable / delete a profile (SGP.22 ES10c)\n"
"  nickname ICCID|AID NICKNAME\n"
"            set a profile's nickname (\"\" clears it)\n"
"  default-smdp ADDRESS\n"
"            set the eUICC's default SM-DP+ address (\"\" removes it)\n"
"  notification list|process|remove\n"
"            the eUICC's pending notifications: list them, send them to the\n"
"            node and remove what it acknowledged, or remove them unsent\n"
"  show-qr   show the EID as a QR code (terminal and/or PNG file) for a\n"
"            primary to scan (tapshare share --link qr:FILE.png | qr:camera)\n"
"  help CMD  show the help of a command\n"
"\n"
"Options:\n"
"  --json         print one JSON envelope on stdout (docs/cli.md)\n"
"  -h, --help     show this help; help COMMAND for one command\n"
"  -V, --version  show the version\n"
"\n"
"Exit status: 0 success, 1 the operation failed, 2 bad usage.\n"
"Logs go to stderr, one line each; steps of the patent flow start with their\n"
"label (S1, S14, S15, S17).\n";

static const char usage_run[] =
"Usage: " PROG " run --node URL --ca CAFILE --se SE_SPEC --link LINK_SPEC\n"
"                          [--name NAME] [--model MODEL] [--confirmation-code CODE]\n"
"                          [--config FILE] [-v]\n"
"\n"
"Runs the companion agent in the foreground:\n"
"  S1   advertises the secure element's EID (NDEF record tapshare.org:id) on\n"
"       the short-range link for a primary device to read;\n"
"  S14  keeps the push channel GET /v1/companion/events?eid=EID open to the node\n"
"       (reconnecting with backoff 1 s doubling to 30 s) and, on a `download`\n"
"       command, runs the ES9+ download: initiateAuthentication,\n"
"       authenticateClient, getBoundProfilePackage, then installs the bound\n"
"       package in the secure element (any failure: cancelSession);\n"
"  S15  sends the SE-signed install notification (handleNotification);\n"
"  S17  on a `delete` command deletes the application and sends the signed\n"
"       delete notification.\n"
"On start, and every few seconds, it re-sends notifications the node has not\n"
"acknowledged and deletes applications whose authorisation has expired.\n"
"SIGTERM or SIGINT stop it cleanly within about a second.\n"
"\n"
"Options:\n"
"  --node URL        the network node, e.g. https://127.0.0.1:8443\n"
"  --ca CAFILE       PEM CA certificate the node's TLS certificate must chain to\n"
"  --se SE_SPEC      secure element: inproc:/path/se.state or vpcd:HOST:PORT\n"
"  --link LINK_SPEC  short-range link: sim:/path/to/socket (a simulator of\n"
"                    NFC/BLE/body-coupled links over a Unix socket), or\n"
"                    qr:FILE.png (the identity QR code, written while running)\n"
"  --name NAME       device name advertised with the EID (at most 64 bytes)\n"
"  --model MODEL     device model advertised with the EID (at most 64 bytes)\n"
"  --confirmation-code CODE\n"
"                    the code the primary was shown for a share that asks for\n"
"                    one (SGP.22 confirmation code, given to PrepareDownload as\n"
"                    hashCc); other users may see command lines: prefer the\n"
"                    config key\n"
"  --config FILE     INI file with the same keys (node, ca, se, link, name,\n"
"                    model, confirmation_code) under [companion]; command-line\n"
"                    options win\n"
"  -v, --verbose     debug logging\n"
"  -h, --help        show this help\n"
"\n"
"Exit status: 0 after a clean stop, 1 when start-up fails (secure element,\n"
"EID, link, TLS set-up), 2 on bad usage. Network errors while running are\n"
"logged and retried.\n";

static const char usage_status[] =
"Usage: " PROG " status --se SE_SPEC [--json] [--config FILE]\n"
"\n"
"Reads the secure element as an SGP.22 LPA does (ES10, on a logical channel)\n"
"and prints:\n"
"  the EID (GetEuiccData) and the highlights of EUICCInfo2: SVN, firmware\n"
"  and profile package versions, free memory and installed applications\n"
"  (extCardResource), the CI key ids for verification and signing, category,\n"
"  PP version, SAS accreditation number; the default SM-DP+ and root SM-DS\n"
"  addresses (EuiccConfiguredAddresses);\n"
"  every profile (ProfileInfoList): ICCID, ISD-P AID, state, class, service\n"
"  provider name, profile name, nickname;\n"
"  the tapshare applications (profiles with metadata in the tapshare\n"
"  credential applet): app id, kind, provider, expiry (not_after, UTC;\n"
"  \"expired\" once past it) and, for bank-ID apps, the key state.\n"
"\n"
"Options:\n"
"  --se SE_SPEC   secure element: inproc:/path/se.state, vpcd:HOST:PORT or\n"
"                 pcsc:[READER] (any SGP.22 eUICC)\n"
"  --json         the envelope (docs/cli.md), data: {\"eid\", \"euicc_info2\": {...},\n"
"                 \"addresses\": {...}, \"profiles\": [{\"iccid\", \"isdp_aid\",\n"
"                 \"state\", \"class\", \"service_provider_name\", \"profile_name\",\n"
"                 \"nickname\"}], \"apps\": [{\"app_id\", \"iccid\", \"name\", \"kind\",\n"
"                 \"provider\", \"state\", \"enabled\", \"not_after\", \"expired\"}]}\n"
"                 (not_after in unix seconds, 0 = none)\n"
"  --config FILE  INI file; `se` is read from [companion]\n"
"  -h, --help     show this help\n"
"\n"
"Exit status: 0 success, 1 the secure element could not be read, 2 bad usage.\n";

static const char usage_profile[] =
"Usage: " PROG " enable  --se SE_SPEC [--refresh] ICCID|AID\n"
"       " PROG " disable --se SE_SPEC [--refresh] ICCID|AID\n"
"       " PROG " delete  --se SE_SPEC ICCID|AID\n"
"       " PROG " nickname --se SE_SPEC ICCID|AID NICKNAME\n"
"       " PROG " default-smdp --se SE_SPEC ADDRESS\n"
"\n"
"SGP.22 ES10c profile management on any eUICC: EnableProfile, DisableProfile\n"
"(refreshFlag false unless --refresh), DeleteProfile, SetNickname, and\n"
"SetDefaultDpAddress (\"\" removes the default SM-DP+ address). The profile\n"
"is named by its ICCID (digits, as status shows it) or ISD-P AID (hex). A\n"
"refusal is printed with the eUICC's SGP.22 result (iccidOrAidNotFound,\n"
"profileNotInDisabledState, profileNotInEnabledState, disallowedByPolicy, ...).\n"
"The eUICC keeps the enable / disable / delete notification pending: send it\n"
"with `notification process` (the running agent does so by itself).\n"
"\n"
"Options:\n"
"  --se SE_SPEC   secure element (see status)\n"
"  --refresh      enable / disable with refreshFlag true (the eUICC refreshes\n"
"                 the device's UICC session)\n"
"  --config FILE  INI file; `se` is read from [companion]\n"
"  -v, --verbose  debug logging (every APDU header and status word)\n"
"  -h, --help     show this help\n"
"\n"
"Exit status: 0 done, 1 refused or failed, 2 bad usage.\n";

static const char usage_notification[] =
"Usage: " PROG " notification list --se SE_SPEC [--json]\n"
"       " PROG " notification process --se SE_SPEC --node URL --ca CAFILE\n"
"       " PROG " notification remove --se SE_SPEC (SEQ... | --all)\n"
"\n"
"The eUICC's pending notifications (SGP.22 ES10b):\n"
"  list     ListNotification: sequence number, operation (install, enable,\n"
"           disable, delete), notification address, ICCID\n"
"  process  for each, oldest first: RetrieveNotificationsList, ES9+\n"
"           handleNotification to the node, and NotificationSent once the\n"
"           node acknowledged it (what the running agent does by itself)\n"
"  remove   NotificationSent without sending (the notification is lost)\n"
"\n"
"Options:\n"
"  --se SE_SPEC   secure element (see status)\n"
"  --node URL     the network node (https://...), for process\n"
"  --ca CAFILE    PEM CA the node's TLS certificate must chain to, for process\n"
"  --all          remove every pending notification\n"
"  --json         the envelope (docs/cli.md), data: {\"notifications\": [{\"seq\", \"operation\",\n"
"                 \"address\", \"iccid\"}]}\n"
"  --config FILE  INI file; se, node, ca are read from [companion]\n"
"  -v, --verbose  debug logging\n"
"  -h, --help     show this help\n"
"\n"
"Exit status: 0 done, 1 failed (process: a notification is still pending),\n"
"2 bad usage.\n";

static const char usage_show_qr[] =
"Usage: " PROG " show-qr --se SE_SPEC [--name NAME] [--model MODEL] [--png FILE]\n"
"                              [--ascii] [--dark-ink] [--no-text] [--config FILE]\n"
"\n"
"S1 over a QR code: reads the EID from the secure element, builds the NDEF\n"
"identity message (record tapshare.org:id: EID, name, model) and shows it as\n"
"a QR code holding exactly those bytes (byte mode, error correction M). The\n"
"primary reads it with `tapshare share --link qr:FILE.png` or `--link qr:camera`.\n"
"The code is printed on the terminal with Unicode half blocks (two ASCII\n"
"characters per module when the locale is not UTF-8, or with --ascii).\n"
"\n"
"Options:\n"
"  --se SE_SPEC   secure element: inproc:/path/se.state or vpcd:HOST:PORT\n"
"  --name NAME    device name carried with the EID (at most 64 bytes)\n"
"  --model MODEL  device model carried with the EID (at most 64 bytes)\n"
"  --png FILE     also write the code as a PNG image (8 px per module, 4-module\n"
"                 quiet zone, black on white)\n"
"  --ascii        print with '##' / '  ' instead of Unicode half blocks\n"
"  --dark-ink     draw dark modules as ink (for light-background terminals;\n"
"                 by default light modules are drawn, for dark backgrounds)\n"
"  --no-text      do not print the code on the terminal (with --png)\n"
"  --config FILE  INI file; se, name, model are read from [companion]\n"
"  -h, --help     show this help\n"
"\n"
"Exit status: 0 success, 1 the secure element could not be read or the PNG\n"
"not written, 2 bad usage.\n";

static volatile sig_atomic_t g_stop;

static void
on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(PROG ": error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(PROG ": error: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " %s%s--help' for more information.\n", cmd ? cmd : "",
	    cmd ? " " : "");
	return EXIT_USAGE;
}

/* Options shared by the subcommands; strings borrowed from argv or cfg. */
struct cli {
	const char *node, *ca, *se, *link, *name, *model, *config, *cc;
	int json, verbose;
	ts_config *cfg;
};

enum { OPT_NODE = 256, OPT_CA, OPT_SE, OPT_LINK, OPT_NAME, OPT_MODEL, OPT_CONFIG, OPT_JSON, OPT_CC };

/* Parses argv (argv[0] = the command). Returns -1 to continue, else an exit
 * code (help shown: 0, usage error: 2). */
static int
parse_opts(const char *cmd, int run, int argc, char **argv, struct cli *c)
{
	static const struct option run_opts[] = {
		{ "node", required_argument, NULL, OPT_NODE },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "se", required_argument, NULL, OPT_SE },
		{ "link", required_argument, NULL, OPT_LINK },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "model", required_argument, NULL, OPT_MODEL },
		{ "confirmation-code", required_argument, NULL, OPT_CC },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option status_opts[] = {
		{ "se", required_argument, NULL, OPT_SE },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage = run ? usage_run : usage_status;

	optind = 1;
	opterr = 0;
	for (;;) {
		int ch = getopt_long(argc, argv, ":hv", run ? run_opts : status_opts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case OPT_NODE: c->node = optarg; break;
		case OPT_CA: c->ca = optarg; break;
		case OPT_SE: c->se = optarg; break;
		case OPT_LINK: c->link = optarg; break;
		case OPT_NAME: c->name = optarg; break;
		case OPT_MODEL: c->model = optarg; break;
		case OPT_CC: c->cc = optarg; break;
		case OPT_CONFIG: c->config = optarg; break;
		case OPT_JSON: c->json = 1; break;
		case 'v': c->verbose = 1; break;
		case 'h': cmdline_page(stdout, PROG, usage); return 0;
		case ':':
			return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (c->config != NULL) {
		char why[256] = "";
		int rc = ts_config_load(c->config, &c->cfg, why, sizeof(why));
		if (rc != 0) {
			errorf("cannot read config %s (%s%s%s)", c->config, ts_strerror(rc),
			    why[0] ? ": " : "", why);
			return EXIT_FAIL;
		}
		const char *sec = "companion";
		if (c->node == NULL) c->node = ts_config_get(c->cfg, sec, "node", NULL);
		if (c->ca == NULL) c->ca = ts_config_get(c->cfg, sec, "ca", NULL);
		if (c->se == NULL) c->se = ts_config_get(c->cfg, sec, "se", NULL);
		if (c->link == NULL) c->link = ts_config_get(c->cfg, sec, "link", NULL);
		if (c->name == NULL) c->name = ts_config_get(c->cfg, sec, "name", NULL);
		if (c->model == NULL) c->model = ts_config_get(c->cfg, sec, "model", NULL);
		if (c->cc == NULL) c->cc = ts_config_get(c->cfg, sec, "confirmation_code", NULL);
	}
	struct { const char *v, *opt; } need[] = {
		{ c->se, "--se" }, { c->node, "--node" }, { c->ca, "--ca" }, { c->link, "--link" },
	};
	size_t nneed = run ? TS_ARRAY_LEN(need) : 1;
	for (size_t i = 0; i < nneed; i++)
		if (need[i].v == NULL || need[i].v[0] == '\0')
			return usage_error(cmd, "missing %s", need[i].opt);
	return -1;
}

static int
cmd_run(int argc, char **argv)
{
	struct cli c;
	memset(&c, 0, sizeof(c));
	int ex = parse_opts("run", 1, argc, argv, &c);
	if (ex >= 0)
		goto done;
	ts_log_init(PROG, c.verbose ? TS_LOG_DEBUG : TS_LOG_INFO);
	if (strncmp(c.node, "https://", 8) != 0) {
		ex = usage_error("run", "--node must be an https:// URL, not '%s'", c.node);
		goto done;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: blocking waits return early and see g_stop. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	agent_opts o = {
		.node_url = c.node, .ca_file = c.ca, .se_spec = c.se, .link_spec = c.link,
		.name = c.name, .model = c.model, .confirmation_code = c.cc,
	};
	char why[512] = "";
	int rc = agent_run(&o, &g_stop, why, sizeof(why));
	if (rc != 0) {
		errorf("%s", why[0] ? why : ts_strerror(rc));
		ex = EXIT_FAIL;
	} else {
		ex = 0;
	}
done:
	ts_config_free(c.cfg);
	return ex;
}

static void
fmt_time(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)ts_snprintf(out, cap, "%lld", (long long)t);
}

/* ---- status: what an LPA shows of the chip and its profiles ---- */

static void
fmt_version(const uint8_t v[ES10_VERSION_LEN], char *out, size_t cap)
{
	(void)ts_snprintf(out, cap, "%u.%u.%u", v[0], v[1], v[2]);
}

static const char *
class_name(int c)
{
	switch (c) {
	case ES10_CLASS_TEST: return "test";
	case ES10_CLASS_PROVISIONING: return "provisioning";
	case ES10_CLASS_OPERATIONAL: return "operational";
	default: return "unknown";
	}
}

static const char *
category_name(int c)
{
	switch (c) {
	case ES10_CATEGORY_OTHER: return "other";
	case ES10_CATEGORY_BASIC: return "basicEuicc";
	case ES10_CATEGORY_MEDIUM: return "mediumEuicc";
	case ES10_CATEGORY_CONTACTLESS: return "contactlessEuicc";
	default: return "unknown";
	}
}

static const char *
operation_name(uint32_t ev)
{
	switch (ev) {
	case ES10_EVENT_INSTALL: return "install";
	case ES10_EVENT_ENABLE: return "enable";
	case ES10_EVENT_DISABLE: return "disable";
	case ES10_EVENT_DELETE: return "delete";
	default: return "unknown";
	}
}

/* Everything status shows, read once. */
struct chip {
	eid_t eid;
	int have_info2, have_addr, have_apps;
	int info2_rc, addr_rc, apps_rc;
	es10_euicc_info2 info2;
	es10_ecr ecr;
	int have_ecr;
	es10_configured_addresses addr;
	es10_profile_list profiles;
	se_app apps[AGENT_MAX_APPS];
	size_t n_apps;
};

static void
profile_strings(const es10_profile_info *p, char iccid[ES10_ICCID_DIGITS_MAX + 1],
    char aid[2 * ES10_AID_MAX + 1])
{
	iccid[0] = aid[0] = '\0';
	if ((p->present & ES10_PI_ICCID) && es10_iccid_to_digits(p->iccid, iccid) != 0)
		iccid[0] = '\0';
	if (p->present & ES10_PI_ISDP_AID) {
		if (ts_hex_encode(p->aid, p->aid_len, aid, 2 * ES10_AID_MAX + 1) != 0)
			aid[0] = '\0';
		for (char *c = aid; *c; c++)
			if (*c >= 'a' && *c <= 'f')
				*c = (char)(*c - 'a' + 'A');
	}
}

static json_t *
pkids_json(const es10_pkid_list *l)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < l->n; i++) {
		char hex[2 * ES10_PKID_MAX + 1];
		if (ts_hex_encode(l->id[i], l->len[i], hex, sizeof(hex)) == 0)
			json_array_append_new(a, json_string(hex));
	}
	return a;
}

static void
pkids_text(const es10_pkid_list *l, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		char hex[2 * ES10_PKID_MAX + 1];
		if (ts_hex_encode(l->id[i], l->len[i], hex, sizeof(hex)) != 0)
			continue;
		int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", hex);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
	if (o == 0)
		(void)ts_snprintf(out, cap, "%s", "none");
}

static int
print_status_json(const struct chip *c, int64_t now)
{
	json_t *root = json_object(), *profiles = json_array(), *apps = json_array();
	int rc = TS_ENOMEM;
	char v1[16], v2[16], v3[16], v4[16];
	if (root == NULL || profiles == NULL || apps == NULL)
		goto fail;
	json_object_set_new(root, "eid", json_string(c->eid.digits));
	if (c->have_info2) {
		const es10_euicc_info2 *i = &c->info2;
		fmt_version(i->profile_version, v1, sizeof(v1));
		fmt_version(i->svn, v2, sizeof(v2));
		fmt_version(i->firmware_version, v3, sizeof(v3));
		fmt_version(i->pp_version, v4, sizeof(v4));
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "profile_version", v1,
		    "svn", v2, "firmware_version", v3, "pp_version", v4,
		    "sas_accreditation_number", i->sas_accreditation,
		    "uicc_capability", (json_int_t)i->uicc_capability,
		    "rsp_capability", (json_int_t)i->rsp_capability);
		if (o == NULL)
			goto fail;
		json_object_set_new(o, "ci_pkid_verification", pkids_json(&i->ci_verify));
		json_object_set_new(o, "ci_pkid_signing", pkids_json(&i->ci_sign));
		if (i->has_category)
			json_object_set_new(o, "euicc_category", json_string(category_name(i->category)));
		if (c->have_ecr) {
			json_t *e = json_object();
			if (c->ecr.has_installed_apps)
				json_object_set_new(e, "installed_applications",
				    json_integer((json_int_t)c->ecr.installed_apps));
			if (c->ecr.has_free_nvm)
				json_object_set_new(e, "free_non_volatile_memory",
				    json_integer((json_int_t)c->ecr.free_nvm));
			if (c->ecr.has_free_ram)
				json_object_set_new(e, "free_volatile_memory",
				    json_integer((json_int_t)c->ecr.free_ram));
			json_object_set_new(o, "ext_card_resource", e);
		}
		json_object_set_new(root, "euicc_info2", o);
	}
	if (c->have_addr) {
		json_t *o = json_pack("{s:s}", "root_ds_address", c->addr.root_ds);
		if (o != NULL && c->addr.has_default_dp)
			json_object_set_new(o, "default_dp_address", json_string(c->addr.default_dp));
		json_object_set_new(root, "addresses", o);
	}
	for (size_t k = 0; k < c->profiles.n; k++) {
		const es10_profile_info *p = &c->profiles.items[k];
		char iccid[ES10_ICCID_DIGITS_MAX + 1], aid[2 * ES10_AID_MAX + 1];
		profile_strings(p, iccid, aid);
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(profiles, o) != 0)
			goto fail;
		if (iccid[0])
			json_object_set_new(o, "iccid", json_string(iccid));
		if (aid[0])
			json_object_set_new(o, "isdp_aid", json_string(aid));
		if (p->present & ES10_PI_STATE)
			json_object_set_new(o, "state",
			    json_string(p->state == ES10_STATE_ENABLED ? "enabled" : "disabled"));
		if (p->present & ES10_PI_CLASS)
			json_object_set_new(o, "class", json_string(class_name(p->profile_class)));
		if (p->present & ES10_PI_SPN)
			json_object_set_new(o, "service_provider_name", json_string(p->spn));
		if (p->present & ES10_PI_NAME)
			json_object_set_new(o, "profile_name", json_string(p->name));
		json_object_set_new(o, "nickname",
		    (p->present & ES10_PI_NICKNAME) ? json_string(p->nickname) : json_null());
	}
	json_object_set(root, "profiles", profiles);
	for (size_t k = 0; k < c->n_apps; k++) {
		const se_app *a = &c->apps[k];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:b}",
		    "app_id", a->app_id, "iccid", a->iccid, "name", a->name, "kind", a->kind,
		    "provider", a->provider, "state", a->enabled ? "enabled" : "disabled",
		    "enabled", a->enabled ? 1 : 0, "not_after", (json_int_t)a->not_after,
		    "expired", a->not_after != 0 && a->not_after <= now);
		/* bank-ID apps: whether the provider certified the SE-generated key */
		if (o != NULL && a->certified >= 0)
			json_object_set_new(o, "key_certified", json_boolean(a->certified == 1));
		if (o == NULL || json_array_append_new(apps, o) != 0)
			goto fail;
	}
	json_object_set(root, "apps", apps);
	cmdline_set_json(1);
	cmdline_ok(json_incref(root));
	rc = 0;
fail:
	json_decref(apps);
	json_decref(profiles);
	json_decref(root);
	return rc;
}

static void
print_status_text(const struct chip *c, const char *spec, int64_t now)
{
	char v1[16], v2[16], v3[16], v4[16], ids[512];
	printf("EID %s\n", c->eid.digits);
	if (c->have_info2) {
		const es10_euicc_info2 *i = &c->info2;
		fmt_version(i->svn, v1, sizeof(v1));
		fmt_version(i->firmware_version, v2, sizeof(v2));
		fmt_version(i->profile_version, v3, sizeof(v3));
		fmt_version(i->pp_version, v4, sizeof(v4));
		printf("eUICC: SVN %s, firmware %s, profile package version %s, PP version %s%s%s\n",
		    v1, v2, v3, v4, i->has_category ? ", category " : "",
		    i->has_category ? category_name(i->category) : "");
		if (c->have_ecr) {
			printf("  resources:");
			if (c->ecr.has_free_nvm)
				printf(" %llu bytes free (non-volatile)", (unsigned long long)c->ecr.free_nvm);
			if (c->ecr.has_free_ram)
				printf("%s %llu bytes free (volatile)", c->ecr.has_free_nvm ? "," : "",
				    (unsigned long long)c->ecr.free_ram);
			if (c->ecr.has_installed_apps)
				printf("%s %llu applications installed",
				    c->ecr.has_free_nvm || c->ecr.has_free_ram ? "," : "",
				    (unsigned long long)c->ecr.installed_apps);
			printf("\n");
		}
		pkids_text(&i->ci_verify, ids, sizeof(ids));
		printf("  CI keys for verification: %s\n", ids);
		pkids_text(&i->ci_sign, ids, sizeof(ids));
		printf("  CI keys for signing: %s\n", ids);
		if (i->sas_accreditation[0])
			printf("  SAS accreditation: %s\n", i->sas_accreditation);
	} else {
		printf("eUICC: EUICCInfo2 unavailable (%s)\n", ts_strerror(c->info2_rc));
	}
	if (c->have_addr)
		printf("  default SM-DP+: %s, root SM-DS: %s\n",
		    c->addr.has_default_dp && c->addr.default_dp[0] ? c->addr.default_dp : "none",
		    c->addr.root_ds[0] ? c->addr.root_ds : "none");
	printf("%zu profile%s\n", c->profiles.n, c->profiles.n == 1 ? "" : "s");
	for (size_t k = 0; k < c->profiles.n; k++) {
		const es10_profile_info *p = &c->profiles.items[k];
		char iccid[ES10_ICCID_DIGITS_MAX + 1], aid[2 * ES10_AID_MAX + 1];
		profile_strings(p, iccid, aid);
		printf("  ICCID %s  AID %s  %s  %s  \"%s\" / \"%s\"  nickname %s%s%s\n",
		    iccid[0] ? iccid : "-", aid[0] ? aid : "-",
		    !(p->present & ES10_PI_STATE) ? "-" : p->state == ES10_STATE_ENABLED ? "enabled" : "disabled",
		    (p->present & ES10_PI_CLASS) ? class_name(p->profile_class) : "-",
		    (p->present & ES10_PI_SPN) ? p->spn : "", (p->present & ES10_PI_NAME) ? p->name : "",
		    (p->present & ES10_PI_NICKNAME) && p->nickname[0] ? "\"" : "",
		    (p->present & ES10_PI_NICKNAME) && p->nickname[0] ? p->nickname : "-",
		    (p->present & ES10_PI_NICKNAME) && p->nickname[0] ? "\"" : "");
	}
	if (!c->have_apps) {
		printf("no tapshare credential applet on %s (%s): not a tapshare SE\n", spec,
		    ts_strerror(c->apps_rc));
		return;
	}
	printf("%zu application%s installed\n", c->n_apps, c->n_apps == 1 ? "" : "s");
	for (size_t k = 0; k < c->n_apps; k++) {
		const se_app *a = &c->apps[k];
		char when[40] = "none";
		if (a->not_after != 0)
			fmt_time(a->not_after, when, sizeof(when));
		printf("  %s  ICCID %s  %s  %s  \"%s\"  provider %s  not_after %s%s%s\n", a->app_id,
		    a->iccid, a->enabled ? "enabled" : "disabled", a->kind[0] ? a->kind : "-", a->name,
		    a->provider[0] ? a->provider : "-", when,
		    a->not_after != 0 && a->not_after <= now ? " (expired)" : "",
		    a->certified == 1 ? "  key certified" :
		    a->certified == 0 ? "  key awaiting certification" : "");
	}
}

static int
cmd_status(int argc, char **argv)
{
	struct cli c;
	se_driver *se = NULL;
	struct chip *chip = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	int ex = parse_opts("status", 0, argc, argv, &c);
	if (ex >= 0)
		goto done;
	ts_log_init(PROG, c.verbose ? TS_LOG_DEBUG : TS_LOG_WARN);
	ex = EXIT_FAIL;
	if ((chip = calloc(1, sizeof(*chip))) == NULL) {
		errorf("out of memory");
		goto done;
	}
	es10_profile_list_init(&chip->profiles);
	if ((rc = se_driver_open(c.se, &se)) != 0) {
		errorf("cannot open secure element %s (%s)", c.se, ts_strerror(rc));
		goto done;
	}
	if ((rc = se_get_eid(se, &chip->eid)) != 0) {
		errorf("cannot read the EID from %s (%s)", c.se, ts_strerror(rc));
		goto done;
	}
	chip->info2_rc = se_get_euicc_info2(se, &chip->info2);
	chip->have_info2 = chip->info2_rc == 0;
	if (chip->have_info2)
		chip->have_ecr = es10_ecr_decode(chip->info2.ext_card_resource,
		    chip->info2.ext_card_resource_len, &chip->ecr) == 0;
	chip->addr_rc = se_get_addresses(se, &chip->addr);
	chip->have_addr = chip->addr_rc == 0;
	int res = SE_RESULT_NONE;
	if ((rc = se_get_profiles(se, NULL, &chip->profiles, &res)) != 0) {
		errorf("cannot list the profiles on %s (%s%s%s)", c.se, ts_strerror(rc),
		    res > 0 ? ": " : "", res > 0 ? se_result_name(ES10_TAG_PROFILE_INFO_LIST, res) : "");
		goto done;
	}
	chip->apps_rc = se_list_apps(se, chip->apps, TS_ARRAY_LEN(chip->apps), &chip->n_apps);
	chip->have_apps = chip->apps_rc == 0;
	if (!chip->have_apps && chip->apps_rc != TS_ENOTFOUND) {
		errorf("cannot list the applications on %s (%s)", c.se, ts_strerror(chip->apps_rc));
		goto done;
	}
	int64_t now = ts_now();
	if (c.json) {
		if ((rc = print_status_json(chip, now)) != 0) {
			errorf("cannot format JSON (%s)", ts_strerror(rc));
			goto done;
		}
	} else {
		print_status_text(chip, c.se, now);
	}
	ex = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
done:
	if (chip != NULL)
		es10_profile_list_clear(&chip->profiles);
	free(chip);
	se_driver_free(se);
	ts_config_free(c.cfg);
	return ex;
}

/* ---- enable / disable / delete / nickname ---- */

enum { OPT_P_SE = 768, OPT_P_CONFIG, OPT_P_REFRESH, OPT_P_NODE, OPT_P_CA, OPT_P_ALL, OPT_P_JSON };

/* Options of the small commands; strings borrowed from argv or cfg. */
struct small {
	const char *se, *node, *ca, *config;
	int refresh, all, json, verbose;
	ts_config *cfg;
	int nargs;
	char **args;
};

/* Returns -1 to go on, else an exit code. */
static int
parse_small(const char *cmd, const char *usage, int argc, char **argv, struct small *o)
{
	static const struct option opts[] = {
		{ "se", required_argument, NULL, OPT_P_SE },
		{ "config", required_argument, NULL, OPT_P_CONFIG },
		{ "refresh", no_argument, NULL, OPT_P_REFRESH },
		{ "node", required_argument, NULL, OPT_P_NODE },
		{ "ca", required_argument, NULL, OPT_P_CA },
		{ "all", no_argument, NULL, OPT_P_ALL },
		{ "json", no_argument, NULL, OPT_P_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	optind = 1;
	opterr = 0;
	for (;;) {
		int ch = getopt_long(argc, argv, ":hv", opts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case OPT_P_SE: o->se = optarg; break;
		case OPT_P_CONFIG: o->config = optarg; break;
		case OPT_P_REFRESH: o->refresh = 1; break;
		case OPT_P_NODE: o->node = optarg; break;
		case OPT_P_CA: o->ca = optarg; break;
		case OPT_P_ALL: o->all = 1; break;
		case OPT_P_JSON: o->json = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': cmdline_page(stdout, PROG, usage); return 0;
		case ':': return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		default: return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	o->nargs = argc - optind;
	o->args = argv + optind;
	if (o->config != NULL) {
		char why[256] = "";
		int rc = ts_config_load(o->config, &o->cfg, why, sizeof(why));
		if (rc != 0) {
			errorf("cannot read config %s (%s%s%s)", o->config, ts_strerror(rc),
			    why[0] ? ": " : "", why);
			return EXIT_FAIL;
		}
		if (o->se == NULL) o->se = ts_config_get(o->cfg, "companion", "se", NULL);
		if (o->node == NULL) o->node = ts_config_get(o->cfg, "companion", "node", NULL);
		if (o->ca == NULL) o->ca = ts_config_get(o->cfg, "companion", "ca", NULL);
	}
	if (o->se == NULL || o->se[0] == '\0')
		return usage_error(cmd, "missing --se");
	ts_log_init(PROG, o->verbose ? TS_LOG_DEBUG : TS_LOG_WARN);
	return -1;
}

/* "iccidOrAidNotFound (1)" or the TS_E* message. */
static void
refusal(uint32_t fn, int rc, int res, char *out, size_t cap)
{
	if (res > 0)
		(void)ts_snprintf(out, cap, "the eUICC answered %s (%d)", se_result_name(fn, res), res);
	else
		(void)ts_snprintf(out, cap, "%s", ts_strerror(rc));
}

static int
cmd_profile(const char *cmd, int argc, char **argv)
{
	struct small o;
	se_driver *se = NULL;
	memset(&o, 0, sizeof(o));
	int nick = strcmp(cmd, "nickname") == 0;
	int ex = parse_small(cmd, usage_profile, argc, argv, &o);
	if (ex >= 0)
		goto done;
	if (strcmp(cmd, "default-smdp") == 0) {
		if (o.nargs != 1 || o.refresh) {
			ex = usage_error(cmd, "give the SM-DP+ address (\"\" removes it)");
			goto done;
		}
		int rc = se_driver_open(o.se, &se), res = SE_RESULT_NONE;
		if (rc != 0) {
			errorf("cannot open secure element %s (%s)", o.se, ts_strerror(rc));
			ex = EXIT_FAIL;
			goto done;
		}
		if ((rc = se_set_default_dp(se, o.args[0], &res)) != 0) {
			char why[160];
			refusal(ES10_TAG_SET_DEFAULT_DP_ADDRESS, rc, res, why, sizeof(why));
			errorf("default-smdp refused: %s", why);
			ex = EXIT_FAIL;
			goto done;
		}
		printf("default SM-DP+ address %s%s\n", o.args[0][0] ? "set to " : "removed",
		    o.args[0]);
		ex = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
		goto done;
	}
	if (o.nargs != (nick ? 2 : 1)) {
		ex = usage_error(cmd, nick ? "give the profile (ICCID or AID) and the nickname"
		    : "give one profile: its ICCID or ISD-P AID");
		goto done;
	}
	if (o.refresh && (nick || strcmp(cmd, "delete") == 0)) {
		ex = usage_error(cmd, "--refresh is for enable and disable");
		goto done;
	}
	ex = EXIT_FAIL;
	int rc = se_driver_open(o.se, &se);
	if (rc != 0) {
		errorf("cannot open secure element %s (%s)", o.se, ts_strerror(rc));
		goto done;
	}
	es10_profile_id id;
	es10_profile_info *info = malloc(sizeof(*info));
	if (info == NULL) {
		errorf("out of memory");
		goto done;
	}
	rc = se_find_profile(se, o.args[0], &id, info);
	free(info);
	if (rc == TS_EINVAL) {
		ex = usage_error(cmd, "'%s' is neither an ICCID nor an ISD-P AID", o.args[0]);
		goto done;
	}
	if (rc == TS_ENOTFOUND && id.kind == ES10_ID_NONE) {
		errorf("no profile with ICCID or AID %s on %s", o.args[0], o.se);
		goto done;
	}
	if (rc != 0 && rc != TS_ENOTFOUND) {
		errorf("cannot list the profiles on %s (%s)", o.se, ts_strerror(rc));
		goto done;
	}
	/* Not in the list but well-formed: ask the eUICC all the same and show its answer. */
	int res = SE_RESULT_NONE;
	uint32_t fn;
	if (strcmp(cmd, "enable") == 0) {
		fn = ES10_TAG_ENABLE_PROFILE;
		rc = se_enable_profile(se, &id, o.refresh, &res);
	} else if (strcmp(cmd, "disable") == 0) {
		fn = ES10_TAG_DISABLE_PROFILE;
		rc = se_disable_profile(se, &id, o.refresh, &res);
	} else if (strcmp(cmd, "delete") == 0) {
		fn = ES10_TAG_DELETE_PROFILE;
		rc = se_delete_profile(se, &id, &res);
	} else {
		fn = ES10_TAG_SET_NICKNAME;
		if (id.kind != ES10_ID_ICCID) {
			errorf("SetNickname names the profile by ICCID; %s has none", o.args[0]);
			goto done;
		}
		rc = se_set_nickname(se, id.iccid, o.args[1], &res);
	}
	if (rc != 0) {
		char why[160];
		refusal(fn, rc, res, why, sizeof(why));
		errorf("%s %s refused: %s", cmd, o.args[0], why);
		goto done;
	}
	printf("%s %s: ok\n", cmd, o.args[0]);
	ex = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
done:
	se_driver_free(se);
	ts_config_free(o.cfg);
	return ex;
}

/* ---- notification list / process / remove ---- */

static int
notif_list(se_driver *se, const struct small *o)
{
	es10_notif_list nl;
	int rc = se_list_notifications(se, 0, &nl);
	if (rc != 0) {
		errorf("cannot list the notifications on %s (%s)", o->se, ts_strerror(rc));
		return EXIT_FAIL;
	}
	json_t *arr = o->json ? json_array() : NULL;
	if (!o->json)
		printf("%zu notification%s pending\n", nl.n, nl.n == 1 ? "" : "s");
	for (size_t i = 0; i < nl.n; i++) {
		const es10_notif_metadata *m = &nl.items[i];
		char iccid[ES10_ICCID_DIGITS_MAX + 1] = "";
		if (m->has_iccid && es10_iccid_to_digits(m->iccid, iccid) != 0)
			iccid[0] = '\0';
		if (arr != NULL) {
			json_t *e = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)m->seq, "operation",
			    operation_name(m->event), "address", m->address);
			if (e != NULL && iccid[0])
				json_object_set_new(e, "iccid", json_string(iccid));
			json_array_append_new(arr, e);
		} else {
			printf("  %llu  %s  %s  ICCID %s\n", (unsigned long long)m->seq,
			    operation_name(m->event), m->address[0] ? m->address : "-",
			    iccid[0] ? iccid : "-");
		}
	}
	es10_notif_list_clear(&nl);
	if (arr != NULL) {
		json_t *root = json_pack("{s:o}", "notifications", arr);
		if (root == NULL) {
			errorf("cannot format JSON");
			return EXIT_FAIL;
		}
		cmdline_set_json(1);
		cmdline_ok(root);
	}
	return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}

static int
notif_remove(se_driver *se, const struct small *o)
{
	uint64_t seqs[ES10_MAX_NOTIFICATIONS];
	size_t n = 0;
	if (o->all) {
		es10_notif_list nl;
		int rc = se_list_notifications(se, 0, &nl);
		if (rc != 0) {
			errorf("cannot list the notifications on %s (%s)", o->se, ts_strerror(rc));
			return EXIT_FAIL;
		}
		for (size_t i = 0; i < nl.n && n < TS_ARRAY_LEN(seqs); i++)
			seqs[n++] = nl.items[i].seq;
		es10_notif_list_clear(&nl);
	} else {
		for (int i = 1; i < o->nargs && n < TS_ARRAY_LEN(seqs); i++) {
			long long v;
			if (ts_parse_ll(o->args[i], 0, INT64_MAX, &v) != 0)
				return usage_error("notification", "'%s' is not a sequence number", o->args[i]);
			seqs[n++] = (uint64_t)v;
		}
	}
	int ex = 0;
	for (size_t i = 0; i < n; i++) {
		int res = SE_RESULT_NONE;
		int rc = se_remove_notification(se, seqs[i], &res);
		if (rc != 0) {
			char why[160];
			refusal(ES10_TAG_NOTIFICATION_SENT, rc, res, why, sizeof(why));
			errorf("notification %llu not removed: %s", (unsigned long long)seqs[i], why);
			ex = EXIT_FAIL;
			continue;
		}
		printf("notification %llu removed\n", (unsigned long long)seqs[i]);
	}
	return fflush(stdout) == 0 ? ex : EXIT_FAIL;
}

static int
cmd_notification(int argc, char **argv)
{
	struct small o;
	se_driver *se = NULL;
	memset(&o, 0, sizeof(o));
	int ex = parse_small("notification", usage_notification, argc, argv, &o);
	if (ex >= 0)
		goto done;
	const char *sub = o.nargs > 0 ? o.args[0] : "";
	int list = strcmp(sub, "list") == 0, process = strcmp(sub, "process") == 0;
	int remove = strcmp(sub, "remove") == 0;
	if (!list && !process && !remove) {
		ex = usage_error("notification", "give list, process or remove");
		goto done;
	}
	if ((list || process) && o.nargs != 1) {
		ex = usage_error("notification", "unexpected argument '%s'", o.args[1]);
		goto done;
	}
	if (remove && (o.all == (o.nargs > 1))) {
		ex = usage_error("notification", "remove takes sequence numbers or --all");
		goto done;
	}
	if (process) {
		if (o.node == NULL || o.ca == NULL) {
			ex = usage_error("notification", "process needs --node and --ca");
			goto done;
		}
		if (strncmp(o.node, "https://", 8) != 0) {
			ex = usage_error("notification", "--node must be an https:// URL");
			goto done;
		}
		ts_log_init(PROG, o.verbose ? TS_LOG_DEBUG : TS_LOG_INFO);
		agent_opts ao = { .node_url = o.node, .ca_file = o.ca, .se_spec = o.se };
		size_t sent = 0, left = 0;
		char why[512] = "";
		int rc = agent_process_notifications(&ao, &sent, &left, why, sizeof(why));
		printf("%zu notification%s sent and removed, %zu pending\n", sent, sent == 1 ? "" : "s",
		    left);
		if (rc != 0)
			errorf("%s", why[0] ? why : ts_strerror(rc));
		ex = rc == 0 ? 0 : EXIT_FAIL;
		goto done;
	}
	int rc = se_driver_open(o.se, &se);
	if (rc != 0) {
		errorf("cannot open secure element %s (%s)", o.se, ts_strerror(rc));
		ex = EXIT_FAIL;
		goto done;
	}
	ex = list ? notif_list(se, &o) : notif_remove(se, &o);
done:
	se_driver_free(se);
	ts_config_free(o.cfg);
	return ex;
}

/* show-qr: S1 as a QR code (device/link_qr.h). */
enum { OPT_QR_SE = 512, OPT_QR_NAME, OPT_QR_MODEL, OPT_QR_PNG, OPT_QR_ASCII, OPT_QR_DARK,
	OPT_QR_NOTEXT, OPT_QR_CONFIG };

static int
cmd_show_qr(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "se", required_argument, NULL, OPT_QR_SE },
		{ "name", required_argument, NULL, OPT_QR_NAME },
		{ "model", required_argument, NULL, OPT_QR_MODEL },
		{ "png", required_argument, NULL, OPT_QR_PNG },
		{ "ascii", no_argument, NULL, OPT_QR_ASCII },
		{ "dark-ink", no_argument, NULL, OPT_QR_DARK },
		{ "no-text", no_argument, NULL, OPT_QR_NOTEXT },
		{ "config", required_argument, NULL, OPT_QR_CONFIG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *se_spec = NULL, *name = NULL, *model = NULL, *png = NULL, *config = NULL;
	int ascii = 0, dark = 0, notext = 0, verbose = 0;
	ts_config *cfg = NULL;
	se_driver *se = NULL;
	ndef_identity id;
	uint8_t *msg = NULL, *mods = NULL;
	char *text = NULL;
	size_t len = 0;
	int width = 0, rc, ex = EXIT_FAIL;

	optind = 1;
	opterr = 0;
	for (;;) {
		int ch = getopt_long(argc, argv, ":hv", opts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case OPT_QR_SE: se_spec = optarg; break;
		case OPT_QR_NAME: name = optarg; break;
		case OPT_QR_MODEL: model = optarg; break;
		case OPT_QR_PNG: png = optarg; break;
		case OPT_QR_ASCII: ascii = 1; break;
		case OPT_QR_DARK: dark = 1; break;
		case OPT_QR_NOTEXT: notext = 1; break;
		case OPT_QR_CONFIG: config = optarg; break;
		case 'v': verbose = 1; break;
		case 'h': cmdline_page(stdout, PROG, usage_show_qr); return 0;
		case ':':
			return usage_error("show-qr", "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("show-qr", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("show-qr", "unexpected argument '%s'", argv[optind]);
	if (notext && png == NULL)
		return usage_error("show-qr", "--no-text needs --png (nothing would be shown)");
	ts_log_init(PROG, verbose ? TS_LOG_DEBUG : TS_LOG_WARN);
	if (config != NULL) {
		char why[256] = "";
		if ((rc = ts_config_load(config, &cfg, why, sizeof(why))) != 0) {
			errorf("cannot read config %s (%s%s%s)", config, ts_strerror(rc),
			    why[0] ? ": " : "", why);
			goto done;
		}
		if (se_spec == NULL) se_spec = ts_config_get(cfg, "companion", "se", NULL);
		if (name == NULL) name = ts_config_get(cfg, "companion", "name", NULL);
		if (model == NULL) model = ts_config_get(cfg, "companion", "model", NULL);
	}
	if (se_spec == NULL || se_spec[0] == '\0') {
		ex = usage_error("show-qr", "missing --se");
		goto done;
	}
	memset(&id, 0, sizeof(id));
	if (name != NULL && ts_snprintf(id.name, sizeof(id.name), "%s", name) != 0) {
		ex = usage_error("show-qr", "--name is longer than %d bytes", NDEF_TS_NAME_MAX);
		goto done;
	}
	if (model != NULL && ts_snprintf(id.model, sizeof(id.model), "%s", model) != 0) {
		ex = usage_error("show-qr", "--model is longer than %d bytes", NDEF_TS_NAME_MAX);
		goto done;
	}
	if ((rc = se_driver_open(se_spec, &se)) != 0) {
		errorf("cannot open secure element %s (%s)", se_spec, ts_strerror(rc));
		goto done;
	}
	if ((rc = se_get_eid(se, &id.eid)) != 0) {
		errorf("cannot read the EID from %s (%s)", se_spec, ts_strerror(rc));
		goto done;
	}
	if ((rc = ndef_identity_encode(&id, &msg, &len)) != 0) {
		errorf("cannot encode the NDEF identity (%s)", ts_strerror(rc));
		goto done;
	}
	if ((rc = link_qr_encode(msg, len, &mods, &width)) != 0) {
		errorf("cannot encode the QR code (%s)", ts_strerror(rc));
		goto done;
	}
	if (png != NULL &&
	    (rc = link_qr_write_png(png, mods, width, LINK_QR_MODULE_PX)) != 0) {
		errorf("cannot write the QR code to %s (%s)", png, ts_strerror(rc));
		goto done;
	}
	if (!notext) {
		unsigned flags = dark ? LINK_QR_TEXT_DARK_INK : 0;
		const char *cs = setlocale(LC_CTYPE, "") != NULL ? nl_langinfo(CODESET) : NULL;
		if (!ascii && cs != NULL && strcmp(cs, "UTF-8") == 0)
			flags |= LINK_QR_TEXT_UTF8;
		if ((rc = link_qr_render_text(mods, width, flags, &text)) != 0) {
			errorf("cannot render the QR code (%s)", ts_strerror(rc));
			goto done;
		}
		fputs(text, stdout);
	}
	printf("S1 EID %s as a QR code (%zu-byte NDEF identity, %dx%d modules)%s%s\n",
	    id.eid.digits, len, width, width, png ? ", PNG " : "", png ? png : "");
	ex = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
done:
	free(text);
	free(mods);
	free(msg);
	se_driver_free(se);
	ts_config_free(cfg);
	return ex;
}

static int
dispatch(int argc, char **argv)
{
	if (argc < 2) {
		cmdline_page(stderr, PROG, usage_main);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		cmdline_page(stdout, PROG, usage_main);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		ts_version_print(PROG);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc == 2) {
			cmdline_page(stdout, PROG, usage_main);
			return 0;
		}
		if (argc > 3)
			return usage_error(NULL, "help takes one command, got '%s' too", argv[3]);
		if (strcmp(argv[2], "run") == 0)
			cmdline_page(stdout, PROG, usage_run);
		else if (strcmp(argv[2], "status") == 0)
			cmdline_page(stdout, PROG, usage_status);
		else if (strcmp(argv[2], "show-qr") == 0)
			cmdline_page(stdout, PROG, usage_show_qr);
		else if (strcmp(argv[2], "enable") == 0 || strcmp(argv[2], "disable") == 0 ||
		    strcmp(argv[2], "delete") == 0 || strcmp(argv[2], "nickname") == 0 ||
		    strcmp(argv[2], "default-smdp") == 0)
			cmdline_page(stdout, PROG, usage_profile);
		else if (strcmp(argv[2], "notification") == 0)
			cmdline_page(stdout, PROG, usage_notification);
		else if (strcmp(argv[2], "help") == 0)
			cmdline_page(stdout, PROG, usage_main);
		else
			return usage_error(NULL, "unknown command '%s'", argv[2]);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "show-qr") == 0)
		return cmd_show_qr(argc - 1, argv + 1);
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0 ||
	    strcmp(cmd, "delete") == 0 || strcmp(cmd, "nickname") == 0 ||
	    strcmp(cmd, "default-smdp") == 0)
		return cmd_profile(cmd, argc - 1, argv + 1);
	if (strcmp(cmd, "notification") == 0)
		return cmd_notification(argc - 1, argv + 1);
	return usage_error(NULL, "unknown command '%s'", cmd);
}

int
main(int argc, char **argv)
{
	ts_log_init(PROG, TS_LOG_INFO);
	cmdline_init(PROG, argc, argv);
	/* one --json envelope per command, whatever path it ended on */
	return cmdline_exit(dispatch(argc, argv));
}
