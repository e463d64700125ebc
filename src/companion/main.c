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
"  status    show the secure element's EID and installed applications\n"
"  show-qr   show the EID as a QR code (terminal and/or PNG file) for a\n"
"            primary to scan (tapshare share --link qr:FILE.png | qr:camera)\n"
"  help CMD  show the help of a command\n"
"\n"
"Options:\n"
"  -h, --help     show this help\n"
"  -V, --version  show the version\n"
"\n"
"Exit status: 0 success, 1 the operation failed, 2 bad usage.\n"
"Logs go to stderr, one line each; steps of the patent flow start with their\n"
"label (S1, S14, S15, S17).\n";

static const char usage_run[] =
"Usage: " PROG " run --node URL --ca CAFILE --se SE_SPEC --link LINK_SPEC\n"
"                          [--name NAME] [--model MODEL] [--config FILE] [-v]\n"
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
"  --config FILE     INI file with the same keys (node, ca, se, link, name,\n"
"                    model) under [companion]; command-line options win\n"
"  -v, --verbose     debug logging\n"
"  -h, --help        show this help\n"
"\n"
"Exit status: 0 after a clean stop, 1 when start-up fails (secure element,\n"
"EID, link, TLS set-up), 2 on bad usage. Network errors while running are\n"
"logged and retried.\n";

static const char usage_status[] =
"Usage: " PROG " status --se SE_SPEC [--json] [--config FILE]\n"
"\n"
"Prints the secure element's EID and its installed applications, with their\n"
"state (enabled / disabled) and expiry (not_after, UTC; \"none\" when not\n"
"time-limited; \"expired\" once past it).\n"
"\n"
"Options:\n"
"  --se SE_SPEC   secure element: inproc:/path/se.state or vpcd:HOST:PORT\n"
"  --json         print one JSON document: {\"eid\",\"apps\":[{\"app_id\",\"name\",\n"
"                 \"kind\",\"provider\",\"state\",\"enabled\",\"not_after\",\"expired\"}]}\n"
"                 (not_after in unix seconds, 0 = none)\n"
"  --config FILE  INI file; `se` is read from [companion]\n"
"  -h, --help     show this help\n"
"\n"
"Exit status: 0 success, 1 the secure element could not be read, 2 bad usage.\n";

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
	const char *node, *ca, *se, *link, *name, *model, *config;
	int json, verbose;
	ts_config *cfg;
};

enum { OPT_NODE = 256, OPT_CA, OPT_SE, OPT_LINK, OPT_NAME, OPT_MODEL, OPT_CONFIG, OPT_JSON };

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
		case OPT_CONFIG: c->config = optarg; break;
		case OPT_JSON: c->json = 1; break;
		case 'v': c->verbose = 1; break;
		case 'h': fputs(usage, stdout); return 0;
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
		.name = c.name, .model = c.model,
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

static int
print_status_json(const eid_t *eid, const se_app *apps, size_t n, int64_t now)
{
	json_t *root = json_object(), *arr = json_array();
	int rc = TS_ENOMEM;
	if (root == NULL || arr == NULL)
		goto fail;
	if (json_object_set_new(root, "eid", json_string(eid->digits)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:b}",
		    "app_id", apps[i].app_id, "name", apps[i].name, "kind", apps[i].kind,
		    "provider", apps[i].provider,
		    "state", apps[i].enabled ? "enabled" : "disabled",
		    "enabled", apps[i].enabled ? 1 : 0,
		    "not_after", (json_int_t)apps[i].not_after,
		    "expired", apps[i].not_after != 0 && apps[i].not_after <= now);
		/* bank-ID apps: whether the provider certified the SE-generated key */
		if (o != NULL && apps[i].certified >= 0)
			json_object_set_new(o, "key_certified", json_boolean(apps[i].certified == 1));
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto fail;
	}
	if (json_object_set(root, "apps", arr) != 0)
		goto fail;
	char *s = json_dumps(root, JSON_INDENT(2));
	if (s == NULL)
		goto fail;
	printf("%s\n", s);
	free(s);
	rc = 0;
fail:
	json_decref(arr);
	json_decref(root);
	return rc;
}

static int
cmd_status(int argc, char **argv)
{
	struct cli c;
	se_driver *se = NULL;
	se_app apps[AGENT_MAX_APPS];
	size_t n = 0;
	eid_t eid;
	int rc;

	memset(&c, 0, sizeof(c));
	int ex = parse_opts("status", 0, argc, argv, &c);
	if (ex >= 0)
		goto done;
	ts_log_init(PROG, c.verbose ? TS_LOG_DEBUG : TS_LOG_WARN);
	ex = EXIT_FAIL;
	if ((rc = se_driver_open(c.se, &se)) != 0) {
		errorf("cannot open secure element %s (%s)", c.se, ts_strerror(rc));
		goto done;
	}
	if ((rc = se_get_eid(se, &eid)) != 0) {
		errorf("cannot read the EID from %s (%s)", c.se, ts_strerror(rc));
		goto done;
	}
	if ((rc = se_list_apps(se, apps, TS_ARRAY_LEN(apps), &n)) != 0) {
		errorf("cannot list applications on %s (%s)", c.se, ts_strerror(rc));
		goto done;
	}
	int64_t now = ts_now();
	if (c.json) {
		if ((rc = print_status_json(&eid, apps, n, now)) != 0) {
			errorf("cannot format JSON (%s)", ts_strerror(rc));
			goto done;
		}
	} else {
		printf("EID %s\n", eid.digits);
		printf("%zu application%s installed\n", n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++) {
			char when[40] = "none";
			if (apps[i].not_after != 0)
				fmt_time(apps[i].not_after, when, sizeof(when));
			printf("  %s  %s  %s  \"%s\"  provider %s  not_after %s%s%s\n", apps[i].app_id,
			    apps[i].enabled ? "enabled" : "disabled", apps[i].kind[0] ? apps[i].kind : "-",
			    apps[i].name, apps[i].provider[0] ? apps[i].provider : "-", when,
			    apps[i].not_after != 0 && apps[i].not_after <= now ? " (expired)" : "",
			    apps[i].certified == 1 ? "  key certified" :
			    apps[i].certified == 0 ? "  key awaiting certification" : "");
		}
	}
	ex = 0;
done:
	se_driver_free(se);
	ts_config_free(c.cfg);
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
		case 'h': fputs(usage_show_qr, stdout); return 0;
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

int
main(int argc, char **argv)
{
	ts_log_init(PROG, TS_LOG_INFO);
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		ts_version_print(PROG);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc == 2) {
			fputs(usage_main, stdout);
			return 0;
		}
		if (argc > 3)
			return usage_error(NULL, "help takes one command, got '%s' too", argv[3]);
		if (strcmp(argv[2], "run") == 0)
			fputs(usage_run, stdout);
		else if (strcmp(argv[2], "status") == 0)
			fputs(usage_status, stdout);
		else if (strcmp(argv[2], "show-qr") == 0)
			fputs(usage_show_qr, stdout);
		else if (strcmp(argv[2], "help") == 0)
			fputs(usage_main, stdout);
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
	return usage_error(NULL, "unknown command '%s'", cmd);
}
