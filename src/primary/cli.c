/*
 * cli.c — argument parsing, usage, and formatting for `tapshare` (see cli.h).
 */
#include "primary/cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cmdline.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* ------------------------------------------------------------------------ */
/* Usage text                                                                 */

static const char usage_overview[] =
    "Usage: tapshare [--home DIR] COMMAND [OPTIONS]\n"
    "       tapshare --help | --version | help COMMAND\n"
    "\n"
    "tapshare is the primary device (the patent's first wireless device): it reads a\n"
    "companion's EID over a short-range link and asks the tapshare network node to share\n"
    "one of the user's security applications (eSIM profile, bank-ID, service credential)\n"
    "with that companion.\n"
    "\n"
    "Commands:\n"
    "  enroll   enroll this device with a node (one-time enrollment code)\n"
    "  apps     list the security applications of the user (S2)\n"
    "  share    tap a companion and share an application with it (S1, S3-S6)\n"
    "  move     move an application to a companion: share it, then remove the\n"
    "           original from this phone's secure element\n"
    "  shares   list the user's shares and their states\n"
    "  watch    follow the events of all the user's shares (revoked, expired, ...)\n"
    "  cancel   cancel a share; the companion deletes the application (S7, S8)\n"
    "  offer    hand a companion a signed share offer; the companion asks the node\n"
    "           for the share itself (companion-initiated sharing)\n"
    "  device   list the account's devices; revoke a lost one, or this one\n"
    "  help     show the page of a command\n"
    "\n"
    "Options:\n"
    "  --home DIR             device directory (default $TAPSHARE_HOME, else ~/.tapshare):\n"
    "                         device.key, device.crt, ca.crt, primary.ini\n"
    "  --passphrase-file FILE account passphrase in the first line of FILE\n"
    "                         (default $TAPSHARE_PASSPHRASE, else asked on the terminal)\n"
    "  --se SPEC              this phone's own secure element, for move (default: se in\n"
    "                         the [primary] section of primary.ini, set by enroll --se):\n"
    "                         inproc:/path/to/se.state, vpcd:HOST:PORT or pcsc:[READER]\n"
    "  --json                 print one JSON envelope on stdout (docs/cli.md); share,\n"
    "                         cancel, move, offer and watch print progress events first\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 bad usage.\n";

static const char usage_enroll[] =
    "Usage: tapshare enroll --node URL --ca CAFILE --code CODE [--name NAME] [--json]\n"
    "\n"
    "Generates this device's key (HOME/device.key, mode 0600) locally, sends a\n"
    "certificate signing request with the one-time enrollment CODE (printed by\n"
    "`tapshare-node user add`) to POST URL/v1/enroll over TLS, the server certificate\n"
    "checked against CAFILE, and stores the issued device.crt, a copy of CAFILE as\n"
    "ca.crt and primary.ini (node URL, user, device id). The private key never leaves\n"
    "the device; the device is known to the node by the SHA-256 of its public key.\n"
    "\n"
    "  --node URL     node base URL, e.g. https://127.0.0.1:8443\n"
    "  --ca CAFILE    PEM CA certificate the node's TLS certificate chains to\n"
    "  --code CODE    one-time enrollment code of the user's account\n"
    "  --name NAME    a name for this device (certificate CN; default tapshare-primary)\n"
    "  --se SPEC      (global option) also store this phone's own secure element in\n"
    "                 primary.ini ([primary] se = SPEC), for `tapshare move`\n";

static const char usage_apps[] =
    "Usage: tapshare apps [--json]\n"
    "\n"
    "S2: lists the security applications the node holds for the enrolled user\n"
    "(GET /v1/apps, mutual TLS with the device certificate): APP_ID, NAME, KIND\n"
    "(sim, bankid, service), PROVIDER and whether it may be shared.\n";

static const char usage_share[] =
    "Usage: tapshare share --link SPEC [--app APP_ID] [--duration SECONDS]\n"
    "                      [--confirmation-code] [--timeout SECONDS] [--no-wait] [--json]\n"
    "       tapshare share --eid EID ...   (EID read earlier, e.g. from the device label)\n"
    "\n"
    "Shares a security application with a companion device:\n"
    "  S1  reads the companion's identity (EID, name) over the short-range link SPEC;\n"
    "      nothing secret crosses the link\n"
    "  S3  chooses the application: --app, or a numbered menu when stdin is a terminal\n"
    "  S4  sends the share request (POST /v1/shares, user authorised with the passphrase)\n"
    "  S5  prints the node's first confirmation (EID received and correct)\n"
    "  S6  waits for the second confirmation: installed in the companion\n"
    "\n"
    "  --link SPEC         sim:/path/to/socket  the SIMULATED proximity link (a Unix socket\n"
    "                      served by `tapshare-companion run --link sim:...`, standing for\n"
    "                      BLE/body-coupled links); qr:FILE.png or qr:camera  a QR code shown\n"
    "                      by `tapshare-companion show-qr`; nfc:[DEVICE]  the companion as an\n"
    "                      NFC Type 4 Tag through libnfc (docs/nfc.md)\n"
    "  --eid EID           the companion's EID, already known (no link is read; the node\n"
    "                      still checks it); exactly one of --link and --eid\n"
    "  --app APP_ID        application to share (see `tapshare apps`)\n"
    "  --duration SECONDS  ask for a time-limited share\n"
    "  --confirmation-code protect the download with an SGP.22 confirmation code: a\n"
    "                      random 8-digit code is printed here (and in --json) for the\n"
    "                      companion's user to enter; the node keeps only its SHA-256\n"
    "                      and ends the share after 3 wrong codes\n"
    "  --timeout SECONDS   how long to wait for the tap and for the second confirmation\n"
    "                      (default 120); the share goes on at the node after a timeout,\n"
    "                      see `tapshare shares`\n"
    "  --no-wait           stop after the first confirmation\n"
    "\n"
    "Exit status 0 once installed (or after S5 with --no-wait), 1 if the node or the\n"
    "provider refused, the delivery failed, or the wait timed out.\n";

static const char usage_shares[] =
    "Usage: tapshare shares [--active] [--json]\n"
    "\n"
    "Lists the user's shares made from any of the user's devices (GET /v1/shares):\n"
    "SHARE_ID, STATE (requested, eid_confirmed, authorised, delivered, installed,\n"
    "denied, failed, expired, cancel_pending, revoked), APP_ID, companion EID, the\n"
    "associated application, DEVICE (first 8 characters of the id of the device that\n"
    "made the share), NOT_AFTER (expiry, UTC; - = no time limit) and when it last\n"
    "changed. Needs the account passphrase.\n"
    "\n"
    "  --active  hide shares in a final state (denied, failed, revoked, expired)\n";

static const char usage_watch[] =
    "Usage: tapshare watch [--all] [--share SHARE_ID] [--timeout SECONDS] [--json]\n"
    "\n"
    "Follows the node's events for all the user's shares, made from any of the\n"
    "user's devices (GET /v1/events, mutual TLS; no passphrase needed), and prints\n"
    "one line per event: local time, share id (first 8 characters), application ->\n"
    "associated application on the companion's EID, what happened (\"revoked\",\n"
    "\"expired: time limit reached\", ...) and the node's message. A cancellation or\n"
    "an expiry made elsewhere shows up here as it happens.\n"
    "\n"
    "Without --all only events from now on are printed: the events the node has\n"
    "stored already (its first burst on a new stream) are skipped, unless their\n"
    "share changed after watch started. A broken stream is reopened with\n"
    "Last-Event-ID, so nothing is lost or printed twice.\n"
    "\n"
    "  --all              print every stored event first (the whole history)\n"
    "  --share SHARE_ID   only the events of this share\n"
    "  --timeout SECONDS  stop after SECONDS (exit 0); default: until Ctrl-C/SIGTERM\n"
    "  --json             one progress event per share event (NDJSON, {\"schema\":1,\"event\":...}),\n"
    "                     then the envelope (docs/cli.md)\n";

static const char usage_move[] =
    "Usage: tapshare move APP_ID (--link SPEC | --eid EID) [--timeout SECONDS] [--json]\n"
    "\n"
    "Moves a security application from this phone to a companion device: the\n"
    "companion gets its own associated copy and only then is the original removed.\n"
    "For the user it is one operation; its steps:\n"
    "  M0  checks that this phone's secure element (--se, or se in primary.ini)\n"
    "      holds APP_ID enabled; otherwise refuses before doing anything\n"
    "  S1-S6  the share, as `tapshare share --app APP_ID` (no time limit)\n"
    "  S7  after the second confirmation: releases the original at the node\n"
    "      (POST /v1/apps/APP_ID/release); the node tells the provider\n"
    "  S8  deletes the original from this phone's secure element\n"
    "\n"
    "If a step before S6 fails or times out, the share is cancelled (best effort)\n"
    "and the original stays unchanged and usable. If the release fails, the\n"
    "companion keeps its copy, the original is NOT released and stays usable; the\n"
    "copy can be withdrawn with `tapshare cancel SHARE_ID`.\n"
    "\n"
    "  --link SPEC, --eid EID  the companion, as for share (exactly one)\n"
    "  --timeout SECONDS       how long to wait for the tap and for the second\n"
    "                          confirmation (default 120)\n"
    "\n"
    "Exit status 0 once moved, 1 if any step failed (the message says which and\n"
    "what state the original is in), 2 bad usage.\n";

static const char usage_cancel[] =
    "Usage: tapshare cancel SHARE_ID [--no-wait] [--timeout SECONDS] [--json]\n"
    "\n"
    "S7: asks the node to cancel a share (POST /v1/shares/SHARE_ID/cancel); the node\n"
    "revokes it, tells the provider and has the companion delete the associated\n"
    "application. S8: waits (default 120 s) until the node reports the share revoked.\n"
    "Needs the account passphrase.\n";

static const char usage_offer[] =
    "Usage: tapshare offer --app APP_ID --link SPEC [--ttl SECONDS] [--timeout SECONDS]\n"
    "                      [--no-wait] [--json]\n"
    "\n"
    "Companion-initiated sharing (claims 20 and 33): instead of asking the node itself,\n"
    "this phone hands the companion a share OFFER and the companion asks the node:\n"
    "  -   signs the offer with this device's key (HOME/device.key): application,\n"
    "      this device's id and certificate, expiry (now + --ttl), a one-time nonce\n"
    "  S1  reads the companion's identity over the short-range link SPEC and writes\n"
    "      the offer back to it (an NDEF record \"tapshare.org:offer\")\n"
    "  S4  the companion sends its EID and the offer to the node, which checks the\n"
    "      signature, the certificate, the expiry, the nonce and that you own APP_ID\n"
    "  S5  prints the first confirmation once the node has started the share\n"
    "  S6  waits for the second confirmation: installed in the companion\n"
    "\n"
    "  --app APP_ID       application to offer (see `tapshare apps`)\n"
    "  --link SPEC        sim:/path/to/socket (the simulated proximity link); a QR code\n"
    "                     cannot carry the offer back\n"
    "  --ttl SECONDS      how long the offer may be redeemed (default 300, max 3600)\n"
    "  --timeout SECONDS  how long to wait for the tap and for the confirmations\n"
    "                     (default 120)\n"
    "  --no-wait          stop once the offer is handed over (no passphrase needed)\n"
    "\n"
    "Waiting for the confirmations needs the account passphrase (the share list).\n"
    "If the node refuses the offer, the companion's log says why; here the wait\n"
    "times out. Exit status 0 once installed (or handed over with --no-wait).\n"
    "\n"
    "The offer is bound to the companion's EID read in S1: the node redeems it only\n"
    "for that EID, so an offer intercepted on the link is of no use to another device.\n"
    "\n"
    "testing options: --print-offer FILE writes the signed offer (base64) to FILE\n"
    "instead of using a link, bound to --eid EID (unbound without it, which the node\n"
    "refuses); --expires-at UNIX sets its expiry time outright.\n";

static const char usage_device[] =
    "Usage: tapshare device list [--json]\n"
    "       tapshare device revoke [DEVICE_ID] [--json]\n"
    "\n"
    "list: the primary devices enrolled for the account (GET /v1/devices): DEVICE\n"
    "(the SHA-256 of its public key), STATE (active, revoked), NAME; this device is\n"
    "marked with '*'.\n"
    "revoke: revokes DEVICE_ID, or this device when none is given (POST\n"
    "/v1/devices/ID/revoke). A revoked device is refused at once on every\n"
    "endpoint (apps, events, shares, cancel, release; offers it signed are no\n"
    "longer redeemed) and its open event streams end. Revoke a lost or stolen\n"
    "phone from another of your devices; the operator can also do it\n"
    "(tapshare-node device revoke). It cannot be undone: enroll again with a new\n"
    "code. Needs the account passphrase.\n";

static const struct {
	int cmd;
	const char *name;
	const char *usage;
} commands[] = {
	{ CLI_CMD_ENROLL, "enroll", usage_enroll },
	{ CLI_CMD_APPS, "apps", usage_apps },
	{ CLI_CMD_SHARE, "share", usage_share },
	{ CLI_CMD_MOVE, "move", usage_move },
	{ CLI_CMD_SHARES, "shares", usage_shares },
	{ CLI_CMD_CANCEL, "cancel", usage_cancel },
	{ CLI_CMD_OFFER, "offer", usage_offer },
	{ CLI_CMD_WATCH, "watch", usage_watch },
	{ CLI_CMD_DEVICE, "device", usage_device },
};

const char *
cli_cmd_name(int cmd)
{
	for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	return NULL;
}

static int
cmd_by_name(const char *name)
{
	for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].cmd;
	return CLI_CMD_NONE;
}

int
cli_usage(FILE *out, const char *topic)
{
	if (topic == NULL || strcmp(topic, "help") == 0) {
		cmdline_page(out, "tapshare", usage_overview);
		return 0;
	}
	for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++) {
		if (strcmp(commands[i].name, topic) == 0) {
			cmdline_page(out, "tapshare", commands[i].usage);
			return 0;
		}
	}
	return TS_ENOTFOUND;
}

/* ------------------------------------------------------------------------ */
/* Argument parsing                                                           */

/* Which commands take an option (bit = 1 << cmd); 0 = every command. */
#define B(c) (1u << (c))
enum opt_id {
	OPT_HOME, OPT_PASSFILE, OPT_JSON, OPT_HELP, OPT_VERSION,
	OPT_SE,
	OPT_NODE, OPT_CA, OPT_CODE, OPT_NAME,
	OPT_LINK, OPT_EID, OPT_APP, OPT_DURATION, OPT_TIMEOUT, OPT_NOWAIT,
	OPT_TTL, OPT_PRINT_OFFER, OPT_EXPIRES_AT,
	OPT_ALL, OPT_SHARE, OPT_ACTIVE, OPT_CC,
};
static const struct {
	int id;
	const char *name;
	int has_arg;
	unsigned cmds;
} options[] = {
	{ OPT_HOME, "home", 1, 0 },
	{ OPT_PASSFILE, "passphrase-file", 1, 0 },
	{ OPT_JSON, "json", 0, 0 },
	{ OPT_HELP, "help", 0, 0 },
	{ OPT_VERSION, "version", 0, 0 },
	{ OPT_SE, "se", 1, 0 },
	{ OPT_NODE, "node", 1, B(CLI_CMD_ENROLL) },
	{ OPT_CA, "ca", 1, B(CLI_CMD_ENROLL) },
	{ OPT_CODE, "code", 1, B(CLI_CMD_ENROLL) },
	{ OPT_NAME, "name", 1, B(CLI_CMD_ENROLL) },
	{ OPT_LINK, "link", 1, B(CLI_CMD_SHARE) | B(CLI_CMD_MOVE) },
	{ OPT_EID, "eid", 1, B(CLI_CMD_SHARE) | B(CLI_CMD_MOVE) | B(CLI_CMD_OFFER) },
	{ OPT_APP, "app", 1, B(CLI_CMD_SHARE) },
	{ OPT_DURATION, "duration", 1, B(CLI_CMD_SHARE) },
	{ OPT_TIMEOUT, "timeout", 1, B(CLI_CMD_SHARE) | B(CLI_CMD_CANCEL) | B(CLI_CMD_MOVE) |
	    B(CLI_CMD_WATCH) },
	{ OPT_NOWAIT, "no-wait", 0, B(CLI_CMD_SHARE) | B(CLI_CMD_CANCEL) },
	{ OPT_TTL, "ttl", 1, B(CLI_CMD_OFFER) },
	{ OPT_PRINT_OFFER, "print-offer", 1, B(CLI_CMD_OFFER) },
	{ OPT_EXPIRES_AT, "expires-at", 1, B(CLI_CMD_OFFER) },
	{ OPT_ALL, "all", 0, B(CLI_CMD_WATCH) },
	{ OPT_SHARE, "share", 1, B(CLI_CMD_WATCH) },
	{ OPT_ACTIVE, "active", 0, B(CLI_CMD_SHARES) },
	{ OPT_CC, "confirmation-code", 0, B(CLI_CMD_SHARE) },
};
/* Options shared with share/cancel that offer takes too (kept out of the
 * table above so that entries other commands own stay as they are). */
static unsigned
offer_takes(int id)
{
	return id == OPT_LINK || id == OPT_APP || id == OPT_TIMEOUT || id == OPT_NOWAIT;
}

typedef struct pending_opt {
	int id;
	const char *name;
	const char *val;
} pending_opt;

static int
fail_usage(char *err, size_t errcap, const char *what, const char *arg)
{
	if (err != NULL && errcap > 0)
		(void)ts_snprintf(err, errcap, "%s%s%s", what, arg ? ": " : "", arg ? arg : "");
	return TS_EINVAL;
}

static int
no_ctl(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

void
cli_sanitize(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	if (out == NULL || cap == 0)
		return;
	for (; in != NULL && in[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[i] = '\0';
}

int
cli_check_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > CLI_MAX_ID)
		return TS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!(isalnum(c) || c == '-' || c == '_'))
			return TS_EINVAL;
	}
	return 0;
}

static int
apply_opt(cli_opts *o, const pending_opt *p, char *err, size_t errcap)
{
	unsigned cmds = 0;
	for (size_t i = 0; i < TS_ARRAY_LEN(options); i++)
		if (options[i].id == p->id)
			cmds = options[i].cmds;
	if (o->cmd == CLI_CMD_OFFER && offer_takes(p->id))
		cmds |= B(CLI_CMD_OFFER);
	if (cmds != 0 && !(cmds & B(o->cmd))) {
		if (o->cmd == CLI_CMD_NONE)
			return fail_usage(err, errcap, "option needs a command before it", p->name);
		return fail_usage(err, errcap, "option not valid for this command", p->name);
	}
	if (p->val != NULL && !no_ctl(p->val))
		return fail_usage(err, errcap, "control characters in the value of", p->name);
	long long v;
	switch (p->id) {
	case OPT_HOME: o->home = p->val; break;
	case OPT_PASSFILE: o->passphrase_file = p->val; break;
	case OPT_SE:
		/* Also stored in primary.ini by enroll: no leading blank or
		 * character inih reads as a comment or section. */
		if (p->val[0] == '\0' || strlen(p->val) > 1024 || strchr(" \t;#[", p->val[0]) != NULL)
			return fail_usage(err, errcap, "bad --se (e.g. inproc:/path/to/se.state)", p->val);
		o->se = p->val;
		break;
	case OPT_JSON: o->json = 1; break;
	case OPT_NODE:
		if (strncmp(p->val, "https://", 8) != 0 || p->val[8] == '\0')
			return fail_usage(err, errcap, "--node must be an https:// URL", p->val);
		o->node_url = p->val;
		break;
	case OPT_CA: o->ca_file = p->val; break;
	case OPT_CODE:
		if (p->val[0] == '\0')
			return fail_usage(err, errcap, "--code is empty", NULL);
		o->code = p->val;
		break;
	case OPT_NAME: o->name = p->val; break;
	case OPT_LINK: o->link = p->val; break;
	case OPT_EID:
		/* Only bounded here: checking the digits is the node's S11/S12,
		 * whose refusal (eid_check_digits, ...) says exactly what is wrong. */
		if (p->val[0] == '\0' || strlen(p->val) > 64)
			return fail_usage(err, errcap, "bad --eid", p->val);
		o->eid = p->val;
		break;
	case OPT_APP:
		if (p->val[0] == '\0' || strlen(p->val) > CLI_MAX_ID)
			return fail_usage(err, errcap, "bad --app", p->val);
		o->app_id = p->val;
		break;
	case OPT_DURATION:
		if (ts_parse_ll(p->val, 1, CLI_MAX_DURATION_S, &v) != 0)
			return fail_usage(err, errcap, "--duration must be a number of seconds >= 1", p->val);
		o->duration_s = v;
		break;
	case OPT_TIMEOUT:
		if (ts_parse_ll(p->val, 1, CLI_MAX_TIMEOUT_S, &v) != 0)
			return fail_usage(err, errcap, "--timeout must be 1..86400 seconds", p->val);
		o->timeout_s = v;
		o->timeout_set = 1;
		break;
	case OPT_NOWAIT: o->no_wait = 1; break;
	case OPT_TTL:
		if (ts_parse_ll(p->val, 1, CLI_OFFER_MAX_TTL_S, &v) != 0)
			return fail_usage(err, errcap, "--ttl must be 1..3600 seconds", p->val);
		o->ttl_s = v;
		break;
	case OPT_PRINT_OFFER:
		if (p->val[0] == '\0')
			return fail_usage(err, errcap, "--print-offer needs a file name", NULL);
		o->print_offer = p->val;
		break;
	case OPT_EXPIRES_AT:
		/* Any time, past ones included: it exists to test the node's expiry check. */
		if (ts_parse_ll(p->val, 1, 1LL << 40, &v) != 0)
			return fail_usage(err, errcap, "--expires-at must be a unix time", p->val);
		o->expires_at = v;
		break;
	case OPT_ALL: o->all = 1; break;
	case OPT_SHARE:
		if (cli_check_id(p->val) != 0)
			return fail_usage(err, errcap, "bad --share SHARE_ID", p->val);
		o->share_id = p->val;
		break;
	case OPT_ACTIVE: o->active = 1; break;
	case OPT_CC: o->confirmation_code = 1; break;
	default: break;
	}
	return 0;
}

int
cli_parse(int argc, char *const *argv, cli_opts *o, char *err, size_t errcap)
{
	pending_opt pend[32];
	size_t npend = 0;
	const char *pos[4];
	size_t npos = 0;
	int help = 0, version = 0, rc;
	int dashdash = 0;

	memset(o, 0, sizeof(*o));
	o->timeout_s = CLI_DEFAULT_TIMEOUT_S;
	o->ttl_s = CLI_OFFER_DEFAULT_TTL_S;
	if (err != NULL && errcap > 0)
		err[0] = '\0';

	/* First pass: split options from positionals (the command is the first
	 * positional); options are applied once the command is known. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (dashdash || strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (a[0] == '-' && !dashdash && a[1] != '\0')
				return fail_usage(err, errcap, "unknown option", a);
			if (npos == TS_ARRAY_LEN(pos))
				return fail_usage(err, errcap, "too many arguments", a);
			pos[npos++] = a;
			continue;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		size_t k;
		for (k = 0; k < TS_ARRAY_LEN(options); k++)
			if (strlen(options[k].name) == nlen && memcmp(options[k].name, name, nlen) == 0)
				break;
		if (k == TS_ARRAY_LEN(options))
			return fail_usage(err, errcap, "unknown option", a);
		const char *val = NULL;
		if (options[k].has_arg) {
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return fail_usage(err, errcap, "option needs a value", a);
		} else if (eq != NULL) {
			return fail_usage(err, errcap, "option takes no value", a);
		}
		if (options[k].id == OPT_HELP) {
			help = 1;
			continue;
		}
		if (options[k].id == OPT_VERSION) {
			version = 1;
			continue;
		}
		if (npend == TS_ARRAY_LEN(pend))
			return fail_usage(err, errcap, "too many options", NULL);
		pend[npend++] = (pending_opt){ options[k].id, a, val };
	}

	if (npos > 0) {
		if (strcmp(pos[0], "help") == 0) {
			o->cmd = CLI_CMD_HELP;
			if (npos > 2)
				return fail_usage(err, errcap, "help takes one command", pos[2]);
			if (npos == 2) {
				if (cmd_by_name(pos[1]) == CLI_CMD_NONE && strcmp(pos[1], "help") != 0)
					return fail_usage(err, errcap, "unknown command", pos[1]);
				o->help_topic = pos[1];
			}
			return 0;
		}
		o->cmd = cmd_by_name(pos[0]);
		if (o->cmd == CLI_CMD_NONE)
			return fail_usage(err, errcap, "unknown command", pos[0]);
	}
	if (help) {
		o->help_topic = cli_cmd_name(o->cmd);
		o->cmd = CLI_CMD_HELP;
		return 0;
	}
	if (version) {
		o->cmd = CLI_CMD_VERSION;
		return 0;
	}
	if (o->cmd == CLI_CMD_NONE)
		return fail_usage(err, errcap, "no command given (try tapshare --help)", NULL);

	for (size_t i = 0; i < npend; i++)
		if ((rc = apply_opt(o, &pend[i], err, errcap)) != 0)
			return rc;

	size_t want_pos = (o->cmd == CLI_CMD_CANCEL || o->cmd == CLI_CMD_MOVE) ? 2 :
	    o->cmd == CLI_CMD_DEVICE ? 3 : 1;
	if (npos > want_pos)
		return fail_usage(err, errcap, "unexpected argument", pos[want_pos]);
	switch (o->cmd) {
	case CLI_CMD_ENROLL:
		if (o->node_url == NULL)
			return fail_usage(err, errcap, "enroll needs --node URL", NULL);
		if (o->ca_file == NULL)
			return fail_usage(err, errcap, "enroll needs --ca CAFILE", NULL);
		if (o->code == NULL)
			return fail_usage(err, errcap, "enroll needs --code CODE", NULL);
		break;
	case CLI_CMD_SHARE:
		if (o->link == NULL && o->eid == NULL)
			return fail_usage(err, errcap, "share needs --link SPEC (e.g. sim:/path/to/socket) or --eid EID", NULL);
		if (o->link != NULL && o->eid != NULL)
			return fail_usage(err, errcap, "share takes --link or --eid, not both", NULL);
		break;
	case CLI_CMD_MOVE:
		if (npos < 2)
			return fail_usage(err, errcap, "move needs an APP_ID (see tapshare apps)", NULL);
		if (cli_check_id(pos[1]) != 0)
			return fail_usage(err, errcap, "bad APP_ID", pos[1]);
		o->app_id = pos[1];
		if (o->link == NULL && o->eid == NULL)
			return fail_usage(err, errcap, "move needs --link SPEC or --eid EID (the companion)", NULL);
		if (o->link != NULL && o->eid != NULL)
			return fail_usage(err, errcap, "move takes --link or --eid, not both", NULL);
		break;
	case CLI_CMD_OFFER:
		if (o->app_id == NULL)
			return fail_usage(err, errcap, "offer needs --app APP_ID (see tapshare apps)", NULL);
		if (o->link == NULL && o->print_offer == NULL)
			return fail_usage(err, errcap, "offer needs --link SPEC (e.g. sim:/path/to/socket)", NULL);
		if (o->link != NULL && o->print_offer != NULL)
			return fail_usage(err, errcap, "offer takes --link or --print-offer, not both", NULL);
		if (o->eid != NULL && o->print_offer == NULL)
			return fail_usage(err, errcap, "offer reads the EID over --link; --eid goes with --print-offer", NULL);
		break;
	case CLI_CMD_DEVICE:
		if (npos < 2 || (strcmp(pos[1], "list") != 0 && strcmp(pos[1], "revoke") != 0))
			return fail_usage(err, errcap, "device needs list or revoke", npos < 2 ? NULL : pos[1]);
		o->device_sub = pos[1];
		if (npos == 3) {
			if (strcmp(pos[1], "revoke") != 0)
				return fail_usage(err, errcap, "unexpected argument", pos[2]);
			if (cli_check_id(pos[2]) != 0)
				return fail_usage(err, errcap, "bad DEVICE_ID", pos[2]);
			o->device_id = pos[2];
		}
		break;
	case CLI_CMD_CANCEL:
		if (npos < 2)
			return fail_usage(err, errcap, "cancel needs a SHARE_ID", NULL);
		if (cli_check_id(pos[1]) != 0)
			return fail_usage(err, errcap, "bad SHARE_ID", pos[1]);
		o->share_id = pos[1];
		break;
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Home and primary.ini                                                       */

int
cli_home_dir(const char *opt, const char *env_tapshare_home, const char *env_home,
    char *out, size_t cap)
{
	if (opt != NULL && opt[0] != '\0')
		return ts_snprintf(out, cap, "%s", opt);
	if (env_tapshare_home != NULL && env_tapshare_home[0] != '\0')
		return ts_snprintf(out, cap, "%s", env_tapshare_home);
	if (env_home != NULL && env_home[0] != '\0')
		return ts_snprintf(out, cap, "%s/.tapshare", env_home);
	return TS_ECONFIG;
}

int
cli_format_ini(const char *node_url, const char *user, const char *device_id,
    const char *name, char **out)
{
	if (node_url == NULL || user == NULL || device_id == NULL || out == NULL)
		return TS_EINVAL;
	if (name == NULL)
		name = "";
	const char *vals[] = { node_url, user, device_id, name };
	for (size_t i = 0; i < TS_ARRAY_LEN(vals); i++) {
		if ((i < 3 && vals[i][0] == '\0') || !no_ctl(vals[i]) || strlen(vals[i]) > 1024)
			return TS_EINVAL;
		/* inih would read these as comments or a section header. */
		if (vals[i][0] == ';' || vals[i][0] == '#' || vals[i][0] == '[' ||
		    vals[i][0] == ' ' || vals[i][0] == '\t')
			return TS_EINVAL;
	}
	size_t cap = 256 + strlen(node_url) + strlen(user) + strlen(device_id) + strlen(name);
	char *s = malloc(cap);
	if (s == NULL)
		return TS_ENOMEM;
	int rc = ts_snprintf(s, cap,
	    "; tapshare primary device, written by `tapshare enroll`\n"
	    "[node]\n"
	    "url = %s\n"
	    "\n"
	    "[device]\n"
	    "user = %s\n"
	    "device_id = %s\n"
	    "%s%s%s",
	    node_url, user, device_id, name[0] ? "name = " : "", name, name[0] ? "\n" : "");
	if (rc != 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* App choice                                                                 */

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

long
cli_app_find(const json_t *apps, const char *app_id)
{
	size_t i;
	json_t *a;
	if (!json_is_array(apps) || app_id == NULL)
		return -1;
	json_array_foreach(apps, i, a) {
		if (strcmp(jstr(a, "app_id"), app_id) == 0)
			return (long)i;
	}
	return -1;
}

size_t
cli_app_menu(FILE *out, const json_t *apps, size_t *map, size_t mapcap)
{
	size_t i, n = 0;
	json_t *a;
	if (!json_is_array(apps))
		return 0;
	json_array_foreach(apps, i, a) {
		if (!json_is_true(json_object_get(a, "shareable")) || n == mapcap)
			continue;
		map[n++] = i;
		if (out != NULL)
			fprintf(out, "  %zu) %s  %s (%s, %s)\n", n, jstr(a, "app_id"), jstr(a, "name"),
			    jstr(a, "kind"), jstr(a, "provider"));
	}
	return n;
}

int
cli_parse_choice(const char *line, size_t n, size_t *idx)
{
	char buf[32];
	if (line == NULL)
		return TS_EINVAL;
	while (*line == ' ' || *line == '\t')
		line++;
	size_t len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
	    line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf) || n == 0)
		return TS_EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	long long v;
	if (ts_parse_ll(buf, 1, (long long)n, &v) != 0)
		return TS_EINVAL;
	*idx = (size_t)(v - 1);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                     */

#define COL_MAX 40 /* longer cells are cut so one odd name cannot wreck a table */

static int
cell_width(const json_t *rows, const char *key, const char *title)
{
	size_t i, w = strlen(title);
	json_t *r;
	json_array_foreach(rows, i, r) {
		size_t l = strlen(jstr(r, key));
		if (l > w)
			w = l;
	}
	return (int)(w > COL_MAX ? COL_MAX : w);
}

static void
print_row(FILE *out, const char *const *cells, const int *widths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i + 1 == n)
			fprintf(out, "%.*s\n", COL_MAX, cells[i]);
		else
			fprintf(out, "%-*.*s  ", widths[i], widths[i], cells[i]);
	}
}

void
cli_print_apps(FILE *out, const json_t *apps)
{
	static const char *keys[] = { "app_id", "name", "kind", "provider" };
	static const char *titles[] = { "APP_ID", "NAME", "KIND", "PROVIDER", "SHAREABLE" };
	int w[5];
	size_t i;
	json_t *a;
	if (!json_is_array(apps) || json_array_size(apps) == 0) {
		fprintf(out, "no applications\n");
		return;
	}
	for (size_t k = 0; k < 4; k++)
		w[k] = cell_width(apps, keys[k], titles[k]);
	w[4] = 9;
	print_row(out, titles, w, 5);
	json_array_foreach(apps, i, a) {
		const char *cells[5] = { jstr(a, "app_id"), jstr(a, "name"), jstr(a, "kind"),
			jstr(a, "provider"),
			json_is_true(json_object_get(a, "shareable")) ? "yes" : "no" };
		print_row(out, cells, w, 5);
	}
}

static void
fmt_time(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v)) {
		(void)ts_snprintf(buf, cap, "%s", json_string_value(v));
		return;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		(void)ts_snprintf(buf, cap, "-");
		return;
	}
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)ts_snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
}

/* Width of the DEVICE column: device ids are 64 hex digits; 8 tell the
 * user's few devices apart, as a short git hash does. */
#define DEVICE_SHORT 8

int
cli_share_final(const char *state)
{
	static const char *const final[] = { "denied", "failed", "revoked", "expired" };
	if (state == NULL)
		return 0;
	for (size_t i = 0; i < TS_ARRAY_LEN(final); i++)
		if (strcmp(state, final[i]) == 0)
			return 1;
	return 0;
}

json_t *
cli_shares_active(const json_t *shares)
{
	size_t i;
	json_t *s;
	if (!json_is_array(shares))
		return NULL;
	json_t *out = json_array();
	if (out == NULL)
		return NULL;
	json_array_foreach(shares, i, s) {
		if (cli_share_final(jstr(s, "state")))
			continue;
		if (json_array_append(out, s) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The shares table; with_device adds DEVICE after ASSOCIATED. */
static void
print_shares(FILE *out, const json_t *shares, int with_device, int active)
{
	const char *titles[8] = { "SHARE_ID", "STATE", "APP_ID", "EID", "ASSOCIATED" };
	static const char *keys[] = { "share_id", "state", "app_id", "eid", "associated_app_id" };
	int w[8];
	size_t i, n = 0, nc = 0;
	json_t *s;
	const json_t *rows = shares;
	json_t *own = NULL;
	if (active && json_is_array(shares))
		rows = own = cli_shares_active(shares);
	if (!json_is_array(rows) || json_array_size(rows) == 0) {
		fputs(active ? "no active shares\n" : "no shares\n", out);
		json_decref(own);
		return;
	}
	for (size_t k = 0; k < 5; k++)
		w[nc++] = cell_width(rows, keys[k], titles[k]);
	if (with_device) {
		titles[nc] = "DEVICE";
		w[nc++] = DEVICE_SHORT;
	}
	titles[nc] = "NOT_AFTER";
	w[nc++] = 20;
	titles[nc] = "UPDATED";
	w[nc++] = 20;
	print_row(out, titles, w, nc);
	json_array_foreach(rows, i, s) {
		char na[40], up[40], dev[DEVICE_SHORT + 1];
		const char *cells[8];
		fmt_time(json_object_get(s, "not_after"), na, sizeof(na));
		fmt_time(json_object_get(s, "updated_at"), up, sizeof(up));
		const char *assoc = jstr(s, "associated_app_id");
		const char *d = jstr(s, "device_id");
		(void)ts_snprintf(dev, sizeof(dev), "%.*s", DEVICE_SHORT, d[0] ? d : "-");
		n = 0;
		cells[n++] = jstr(s, "share_id");
		cells[n++] = jstr(s, "state");
		cells[n++] = jstr(s, "app_id");
		cells[n++] = jstr(s, "eid");
		cells[n++] = assoc[0] ? assoc : "-";
		if (with_device)
			cells[n++] = dev;
		cells[n++] = na;
		cells[n++] = up;
		print_row(out, cells, w, n);
	}
	json_decref(own);
}

void
cli_print_shares(FILE *out, const json_t *shares)
{
	print_shares(out, shares, 0, 0);
}

void
cli_print_shares_view(FILE *out, const json_t *shares, int active)
{
	print_shares(out, shares, 1, active);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                     */

static const char *
reason_of(const json_t *data)
{
	const char *r = jstr(data, "reason");
	if (r[0] == '\0')
		r = jstr(data, "message");
	return r[0] ? r : "no reason given";
}

int
cli_event(int wait, const char *event, const json_t *data, char *line, size_t cap)
{
	if (line != NULL && cap > 0)
		line[0] = '\0';
	if (event == NULL || line == NULL)
		return CLI_EV_IGNORE;
	const char *id = jstr(data, "share_id");

	if (wait == CLI_WAIT_REVOKE) {
		if (strcmp(event, "share.revoked") == 0) {
			(void)ts_snprintf(line, cap, "S8 share %s revoked", id);
			return CLI_EV_SUCCESS;
		}
		/* Earlier history of the share (replayed) does not matter here. */
		return CLI_EV_IGNORE;
	}

	if (strcmp(event, "share.installed") == 0) {
		const char *assoc = jstr(data, "associated_app_id");
		(void)ts_snprintf(line, cap, "S6 second confirmation: installed in companion (%s)",
		    assoc[0] ? assoc : "associated app id not given");
		return CLI_EV_SUCCESS;
	}
	if (strcmp(event, "share.authorised") == 0) {
		char na[40];
		const json_t *v = json_object_get(data, "not_after");
		if (json_is_integer(v) && json_integer_value(v) > 0) {
			fmt_time(v, na, sizeof(na));
			(void)ts_snprintf(line, cap, "... authorised by provider (until %s)", na);
		} else {
			(void)ts_snprintf(line, cap, "... authorised by provider");
		}
		return CLI_EV_PROGRESS;
	}
	if (strcmp(event, "share.delivered") == 0) {
		(void)ts_snprintf(line, cap, "... delivered to companion");
		return CLI_EV_PROGRESS;
	}
	if (strcmp(event, "share.cancel_pending") == 0) {
		(void)ts_snprintf(line, cap, "... cancel requested");
		return CLI_EV_PROGRESS;
	}
	if (strcmp(event, "share.denied") == 0) {
		(void)ts_snprintf(line, cap, "... denied by provider: %s", reason_of(data));
		return CLI_EV_FAILURE;
	}
	if (strcmp(event, "share.failed") == 0) {
		(void)ts_snprintf(line, cap, "... failed: %s", reason_of(data));
		return CLI_EV_FAILURE;
	}
	if (strcmp(event, "share.expired") == 0) {
		(void)ts_snprintf(line, cap, "... expired before installation");
		return CLI_EV_FAILURE;
	}
	if (strcmp(event, "share.revoked") == 0) {
		(void)ts_snprintf(line, cap, "... revoked before installation");
		return CLI_EV_FAILURE;
	}
	/* share.eid_confirmed was S5 (printed from the 201 answer); unknown
	 * events are ignored so that the node can add new ones. */
	return CLI_EV_IGNORE;
}
