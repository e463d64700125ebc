/*
 * cmd.c — the commands of `tapshare`: files in the home directory, the
 * terminal (passphrase, app menu), the short-range link, and the order of the
 * patent's steps. Node calls go through nodeapi.c; parsing and formatting
 * through cli.c.
 */
#include "primary/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "device/link.h"
#include "lib/cmdline.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/ndef.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "primary/nodeapi.h"

#define PASSPHRASE_MAX 1024
#define CA_FILE_MAX (256u * 1024u)
#define CHOICE_TRIES 3

typedef struct primary_ctx {
	char home[PATH_MAX];
	char key_path[PATH_MAX + 16];
	char crt_path[PATH_MAX + 16];
	char ca_path[PATH_MAX + 16];
	char ini_path[PATH_MAX + 16];
	ts_config *cfg;
	const char *url;  /* borrowed from cfg */
	const char *user; /* borrowed from cfg */
	nodeapi *api;
} primary_ctx;

void
cmd_error(const char *fmt, ...)
{
	char msg[1024];
	char clean[1024];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_sanitize(msg, clean, sizeof(clean));
	fprintf(stderr, "tapshare: error: %s\n", clean);
}

/* A step line on stdout, flushed so progress shows at once; under --json
 * one NDJSON progress event {"schema":1,"event":{"step":"S5","text":...}}
 * ("step" null for a line without a step label). */
static void step(const cli_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
step(const cli_opts *o, const char *fmt, ...)
{
	char msg[1024];
	char clean[1024];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_sanitize(msg, clean, sizeof(clean));
	if (o->json) {
		/* "S12 ..." / "M0 ...": the patent step (or move step) label */
		char label[8] = "";
		size_t n = strspn(clean + 1, "0123456789");
		if ((clean[0] == 'S' || clean[0] == 'M') && n > 0 && n < 4 && clean[1 + n] == ' ')
			(void)ts_snprintf(label, sizeof(label), "%.*s", (int)(n + 1), clean);
		cmdline_event(json_pack("{s:s?,s:s}", "step", label[0] ? label : NULL, "text", clean));
		return;
	}
	fprintf(stdout, "%s\n", clean);
	fflush(stdout);
}

/* The command's JSON result: kept until the command returns, then printed
 * by cmd_finish as the envelope (docs/cli.md). */
static json_t *json_result;

static void
print_json(json_t *doc)
{
	json_decref(json_result);
	json_result = json_incref(doc);
}

int
cmd_finish(const cli_opts *o, int rc)
{
	json_t *doc = json_result;
	json_result = NULL;
	if (!o->json || cmdline_done()) {
		json_decref(doc);
		return rc;
	}
	if (rc == 0) {
		cmdline_ok(doc != NULL ? doc : json_object());
		return rc;
	}
	/* a failure: the error the command recorded, the rest as data */
	json_t *err = doc ? json_incref(json_object_get(doc, "error")) : NULL;
	if (doc != NULL)
		json_object_del(doc, "error");
	if (!json_is_object(err)) {
		json_decref(err);
		err = json_pack("{s:s,s:s}", "code", rc == 2 ? "usage" : "failed", "message",
		    "failed (see the message on stderr)");
	}
	/* data: what the command recorded besides the error, if anything */
	if (doc != NULL && json_object_size(doc) == 0) {
		json_decref(doc);
		doc = NULL;
	}
	cmdline_error_envelope(err, doc);
	return rc;
}

/* Prints "<what> (<code>: <message>)" and records it in doc (may be NULL). */
static void
node_failed(json_t *doc, const char *what, int rc, const nodeapi_error *e)
{
	if (e->code[0] != '\0' && strcmp(e->code, "transport") != 0)
		cmd_error("%s (%s: %s)", what, e->code, e->message[0] ? e->message : ts_strerror(rc));
	else if (e->code[0] != '\0')
		cmd_error("%s (cannot reach the node: %s)", what, e->message);
	else
		cmd_error("%s (%s)", what, ts_strerror(rc));
	if (doc != NULL) {
		json_object_set_new(doc, "error", json_pack("{s:s, s:s, s:I}",
		    "code", e->code[0] ? e->code : "error",
		    "message", e->message[0] ? e->message : ts_strerror(rc),
		    "status", (json_int_t)e->status));
	}
}

static void
doc_error(json_t *doc, const char *code, const char *message)
{
	if (doc != NULL)
		json_object_set_new(doc, "error", json_pack("{s:s, s:s}", "code", code,
		    "message", message));
}

/* ------------------------------------------------------------------------ */
/* Home directory                                                             */

static int
ctx_paths(const cli_opts *o, primary_ctx *c)
{
	int rc = cli_home_dir(o->home, getenv("TAPSHARE_HOME"), getenv("HOME"), c->home,
	    sizeof(c->home));
	if (rc != 0) {
		cmd_error("no home directory (use --home DIR or set TAPSHARE_HOME)");
		return rc;
	}
	if (ts_snprintf(c->key_path, sizeof(c->key_path), "%s/device.key", c->home) != 0 ||
	    ts_snprintf(c->crt_path, sizeof(c->crt_path), "%s/device.crt", c->home) != 0 ||
	    ts_snprintf(c->ca_path, sizeof(c->ca_path), "%s/ca.crt", c->home) != 0 ||
	    ts_snprintf(c->ini_path, sizeof(c->ini_path), "%s/primary.ini", c->home) != 0) {
		cmd_error("home directory path too long: %s", c->home);
		return TS_ELIMIT;
	}
	return 0;
}

/* Loads primary.ini and opens a mutual-TLS client to the node. */
static int ctx_open_(const cli_opts *o, primary_ctx *c);

/* As ctx_open_, recording a failure in doc (may be NULL). */
static int
ctx_open(const cli_opts *o, primary_ctx *c, json_t *doc)
{
	int rc = ctx_open_(o, c);
	if (rc != 0)
		doc_error(doc, rc == TS_ENOTFOUND ? "not_enrolled" : "device_config",
		    rc == TS_ENOTFOUND ? "this device is not enrolled"
		                       : "cannot load the device's configuration");
	return rc;
}

static int
ctx_open_(const cli_opts *o, primary_ctx *c)
{
	char why[256] = "";
	int rc;
	memset(c, 0, sizeof(*c));
	if ((rc = ctx_paths(o, c)) != 0)
		return rc;
	if (access(c->ini_path, F_OK) != 0) {
		cmd_error("this device is not enrolled: %s is missing (run tapshare enroll --node URL "
		    "--ca CAFILE --code CODE, or pass --home)", c->ini_path);
		return TS_ENOTFOUND;
	}
	if ((rc = ts_config_load(c->ini_path, &c->cfg, why, sizeof(why))) != 0) {
		cmd_error("cannot read %s (%s)", c->ini_path, why[0] ? why : ts_strerror(rc));
		return rc;
	}
	c->url = ts_config_get(c->cfg, "node", "url", NULL);
	c->user = ts_config_get(c->cfg, "device", "user", NULL);
	if (c->url == NULL || c->user == NULL) {
		cmd_error("%s lacks [node] url or [device] user (enroll again)", c->ini_path);
		return TS_ECONFIG;
	}
	const char *need[] = { c->key_path, c->crt_path, c->ca_path };
	for (size_t i = 0; i < TS_ARRAY_LEN(need); i++) {
		if (access(need[i], R_OK) != 0) {
			cmd_error("cannot read %s (%s); enroll this device again", need[i],
			    strerror(errno));
			return TS_ECONFIG;
		}
	}
	if ((rc = nodeapi_new(c->url, c->ca_path, c->crt_path, c->key_path, &c->api)) != 0) {
		cmd_error("cannot set up the node client (%s)", ts_strerror(rc));
		return rc;
	}
	return 0;
}

static void
ctx_close(primary_ctx *c)
{
	nodeapi_free(c->api);
	ts_config_free(c->cfg);
	c->api = NULL;
	c->cfg = NULL;
}

/* ------------------------------------------------------------------------ */
/* Passphrase: $TAPSHARE_PASSPHRASE, else --passphrase-file, else terminal     */

static void
chomp(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

static int
prompt_tty(const char *user, char *buf, size_t cap)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return TS_ENOTFOUND;
	struct termios old, quiet;
	int have_tio = tcgetattr(fd, &old) == 0;
	if (have_tio) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	char prompt[256];
	(void)ts_snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", user);
	ssize_t w = write(fd, prompt, strlen(prompt));
	(void)w;
	size_t n = 0;
	int rc = 0;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n')
			break;
		if (n + 1 >= cap) {
			rc = TS_ELIMIT;
			continue; /* drain the line */
		}
		buf[n++] = ch;
	}
	buf[n] = '\0';
	if (have_tio)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	w = write(fd, "\n", 1);
	close(fd);
	return rc;
}

static int
get_passphrase(const cli_opts *o, const char *user, char *buf, size_t cap)
{
	int rc;
	const char *env = getenv("TAPSHARE_PASSPHRASE");
	if (env != NULL && env[0] != '\0') {
		if (ts_snprintf(buf, cap, "%s", env) != 0) {
			cmd_error("TAPSHARE_PASSPHRASE is too long");
			return TS_ELIMIT;
		}
		return 0;
	}
	if (o->passphrase_file != NULL) {
		uint8_t *data = NULL;
		size_t len = 0;
		if ((rc = ts_read_file(o->passphrase_file, PASSPHRASE_MAX, &data, &len)) != 0) {
			cmd_error("cannot read the passphrase file %s (%s)", o->passphrase_file,
			    ts_strerror(rc));
			return rc;
		}
		chomp((char *)data);
		rc = ts_snprintf(buf, cap, "%s", (char *)data);
		OPENSSL_cleanse(data, len);
		free(data);
		if (rc != 0 || buf[0] == '\0') {
			cmd_error("no passphrase in the first line of %s", o->passphrase_file);
			return TS_EINVAL;
		}
		return 0;
	}
	rc = prompt_tty(user, buf, cap);
	if (rc == TS_ENOTFOUND) {
		cmd_error("no passphrase: set TAPSHARE_PASSPHRASE, use --passphrase-file FILE, or run "
		    "on a terminal");
		return rc;
	}
	if (rc != 0 || buf[0] == '\0') {
		cmd_error("no passphrase entered");
		return rc != 0 ? rc : TS_EINVAL;
	}
	return 0;
}

/* User authorisation for share / cancel / list: a token from the passphrase. */
static int
login(const cli_opts *o, primary_ctx *c, json_t *doc)
{
	char pass[PASSPHRASE_MAX + 1];
	nodeapi_error e;
	int rc = get_passphrase(o, c->user, pass, sizeof(pass));
	if (rc != 0) {
		doc_error(doc, "no_passphrase", "no passphrase available");
		OPENSSL_cleanse(pass, sizeof(pass));
		return rc;
	}
	rc = nodeapi_login(c->api, pass, &e);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (rc != 0)
		node_failed(doc, rc == TS_EAUTH ? "the node refused the passphrase"
		                                : "could not obtain user authorisation", rc, &e);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* enroll                                                                     */

int
cmd_enroll(const cli_opts *o)
{
	primary_ctx c;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509 *cert = NULL;
	char *csr = NULL, *ini = NULL;
	uint8_t *ca = NULL;
	size_t ca_len = 0;
	nodeapi *api = NULL;
	json_t *resp = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	char key_id[65], cert_id[65];
	int ex = 1, rc, key_saved = 0;

	memset(&c, 0, sizeof(c));
	if (doc == NULL || ctx_paths(o, &c) != 0)
		goto out;
	if (access(c.crt_path, F_OK) == 0) {
		cmd_error("%s is already enrolled (%s exists); use another --home to enroll again",
		    c.home, c.crt_path);
		doc_error(doc, "already_enrolled", "device certificate exists");
		goto out;
	}
	if ((rc = ts_read_file(o->ca_file, CA_FILE_MAX, &ca, &ca_len)) != 0) {
		cmd_error("cannot read the CA file %s (%s)", o->ca_file, ts_strerror(rc));
		doc_error(doc, "ca_file", ts_strerror(rc));
		goto out;
	}
	if ((rc = ts_mkdirs(c.home, 0700)) != 0) {
		cmd_error("cannot create %s (%s)", c.home, ts_strerror(rc));
		doc_error(doc, "home", ts_strerror(rc));
		goto out;
	}
	/* The key is made here and never leaves the device (ARCHITECTURE §4). */
	if ((rc = pki_keygen(&key)) != 0 || (rc = pki_key_save(key, c.key_path)) != 0 ||
	    (key_saved = 1, rc = pki_csr_new(key, o->name ? o->name : "tapshare-primary", &req)) != 0 ||
	    (rc = pki_csr_to_pem(req, &csr)) != 0 || (rc = pki_pubkey_id(key, key_id)) != 0) {
		cmd_error("cannot create the device key and CSR (%s)", ts_strerror(rc));
		doc_error(doc, "key", ts_strerror(rc));
		goto out;
	}
	if ((rc = nodeapi_new(o->node_url, o->ca_file, NULL, NULL, &api)) != 0) {
		cmd_error("cannot set up the node client (%s)", ts_strerror(rc));
		goto out;
	}
	if ((rc = nodeapi_enroll(api, o->code, csr, o->name, &resp, &e)) != 0) {
		node_failed(doc, "enrollment failed", rc, &e);
		goto out;
	}
	const char *pem = json_string_value(json_object_get(resp, "certificate"));
	const char *device_id = json_string_value(json_object_get(resp, "device_id"));
	const char *user = json_string_value(json_object_get(resp, "user"));
	/* The node names devices by the SHA-256 of their key: the certificate
	 * must carry our key and the id must be its hash. */
	if (pki_cert_from_pem(pem, strlen(pem), &cert) != 0 ||
	    pki_cert_pubkey_id(cert, cert_id) != 0 || strcmp(cert_id, key_id) != 0 ||
	    strcmp(device_id, key_id) != 0) {
		cmd_error("the node's certificate does not match this device's key");
		doc_error(doc, "bad_certificate", "certificate/device_id does not match the key");
		goto out;
	}
	if ((rc = cli_format_ini(o->node_url, user, device_id, o->name, &ini)) != 0) {
		cmd_error("the node's answer cannot be stored (user name %s)", ts_strerror(rc));
		goto out;
	}
	if (o->se != NULL) {
		/* enroll --se SPEC: this phone's own SE, for move (checked by cli_parse). */
		size_t cap = strlen(ini) + strlen(o->se) + 32;
		char *more = malloc(cap);
		if (more == NULL || ts_snprintf(more, cap, "%s\n[primary]\nse = %s\n", ini, o->se) != 0) {
			free(more);
			cmd_error("cannot store --se");
			goto out;
		}
		free(ini);
		ini = more;
	}
	if ((rc = pki_cert_save(cert, c.crt_path)) != 0 ||
	    (rc = ts_write_file_atomic(c.ca_path, ca, ca_len, 0644)) != 0 ||
	    (rc = ts_write_file_atomic(c.ini_path, (const uint8_t *)ini, strlen(ini), 0600)) != 0) {
		cmd_error("cannot write the credentials into %s (%s)", c.home, ts_strerror(rc));
		doc_error(doc, "write", ts_strerror(rc));
		goto out;
	}
	json_object_set_new(doc, "device_id", json_string(device_id));
	json_object_set_new(doc, "user", json_string(user));
	json_object_set_new(doc, "node", json_string(o->node_url));
	json_object_set_new(doc, "home", json_string(c.home));
	step(o, "enrolled device %s for user %s at %s", device_id, user, o->node_url);
	step(o, "credentials in %s (device.key, device.crt, ca.crt, primary.ini)", c.home);
	ex = 0;
out:
	/* A key without a certificate is of no use; the next enroll makes a new one. */
	if (ex != 0 && key_saved)
		unlink(c.key_path);
	if (o->json)
		print_json(doc);
	json_decref(doc);
	json_decref(resp);
	nodeapi_free(api);
	X509_free(cert);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	free(csr);
	free(ini);
	free(ca);
	return ex;
}

/* ------------------------------------------------------------------------ */
/* apps, shares                                                               */

int
cmd_apps(const cli_opts *o)
{
	primary_ctx c;
	json_t *resp = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	int ex = 1, rc;
	memset(&c, 0, sizeof(c));
	if (doc == NULL || ctx_open(o, &c, doc) != 0)
		goto out;
	if ((rc = nodeapi_apps(c.api, &resp, &e)) != 0) {
		node_failed(doc, "cannot list the applications", rc, &e);
		goto out;
	}
	if (!o->json)
		cli_print_apps(stdout, json_object_get(resp, "apps"));
	json_decref(doc);
	doc = json_incref(resp);
	ex = 0;
out:
	if (o->json)
		print_json(doc);
	json_decref(doc);
	json_decref(resp);
	ctx_close(&c);
	return ex;
}

/* ------------------------------------------------------------------------ */
/* share                                                                      */

/* S3 without --app: a numbered menu on the terminal. Returns the index in
 * apps, or -1 (reason printed). */
static long
choose_interactively(const json_t *apps)
{
	size_t map[64];
	fprintf(stderr, "Applications you can share:\n");
	size_t n = cli_app_menu(stderr, apps, map, TS_ARRAY_LEN(map));
	if (n == 0) {
		cmd_error("you have no shareable applications (see tapshare apps)");
		return -1;
	}
	for (int tries = 0; tries < CHOICE_TRIES; tries++) {
		char line[64];
		size_t idx;
		fprintf(stderr, "Share which one? [1-%zu]: ", n);
		fflush(stderr);
		if (fgets(line, sizeof(line), stdin) == NULL)
			break;
		if (cli_parse_choice(line, n, &idx) == 0)
			return (long)map[idx];
		fprintf(stderr, "please type a number from 1 to %zu\n", n);
	}
	cmd_error("no application chosen");
	return -1;
}

typedef struct wait_ctx {
	const cli_opts *o;
	int kind;        /* enum cli_wait */
	int outcome;     /* last CLI_EV_SUCCESS / CLI_EV_FAILURE */
	char line[512];  /* the line of the outcome */
	char state[32];  /* the state the outcome put the share in */
	json_t *events;  /* array in the JSON document */
	char activation_code[300]; /* SGP.22 "LPA:1$..." from share.authorised, or "" */
} wait_ctx;

static int
on_event(const char *event, const char *id, const json_t *data, void *arg)
{
	wait_ctx *w = arg;
	char line[512];
	/* event ids are numbers (the node's SSE ids), null when absent */
	long long num;
	json_t *jid = id != NULL && ts_parse_ll(id, 0, LLONG_MAX, &num) == 0 ? json_integer((json_int_t)num) : json_null();
	json_t *rec = json_pack("{s:s, s:o, s:O?}", "event", event, "id", jid, "data", (json_t *)data);
	if (rec != NULL)
		json_array_append_new(w->events, rec);
	int k = cli_event(w->kind, event, data, line, sizeof(line));
	if (k == CLI_EV_IGNORE)
		return 0;
	step(w->o, "%s", line);
	/* For a companion that runs some other standard LPA (issue 7). */
	const char *ac = json_string_value(json_object_get(data, "activation_code"));
	if (strcmp(event, "share.authorised") == 0 && ac != NULL && w->activation_code[0] == '\0') {
		cli_sanitize(ac, w->activation_code, sizeof(w->activation_code));
		/* --json: the code as a field too, while the share still waits */
		if (w->o->json)
			cmdline_event(json_pack("{s:n,s:s+,s:s}", "step", "text", "... activation code for a standard LPA: ",
			    w->activation_code, "activation_code", w->activation_code));
		else
			step(w->o, "... activation code for a standard LPA: %s", w->activation_code);
	}
	if (k == CLI_EV_PROGRESS)
		return 0;
	w->outcome = k;
	(void)ts_snprintf(w->line, sizeof(w->line), "%s", line);
	const char *dot = strchr(event, '.');
	(void)ts_snprintf(w->state, sizeof(w->state), "%s", dot ? dot + 1 : event);
	return 1;
}

/* S1: the companion's identity over the short-range link. Only the EID (and
 * a display name) crosses it. */
static int
read_identity(const cli_opts *o, json_t *doc, ndef_identity *ident)
{
	char eid_name[NDEF_TS_NAME_MAX + 1];
	long timeout_ms = (long)o->timeout_s * 1000L;
	if (!o->json)
		fprintf(stderr, "tapshare: waiting up to %lld s for a companion on %s (%s)\n",
		    o->timeout_s, o->link, link_describe(o->link));
	int rc = link_read_identity(o->link, timeout_ms, ident);
	if (rc != 0) {
		if (rc == TS_ETIMEOUT)
			cmd_error("no companion answered on %s within %lld s", o->link, o->timeout_s);
		else if (rc == TS_EEIDFMT || rc == TS_EEIDCHK)
			cmd_error("the companion on %s sent an invalid EID (%s)", o->link,
			    ts_strerror(rc));
		else
			cmd_error("cannot read the companion's identity over %s (%s)", o->link,
			    ts_strerror(rc));
		doc_error(doc, "link", ts_strerror(rc));
		return rc;
	}
	cli_sanitize(ident->name[0] ? ident->name : ident->model, eid_name, sizeof(eid_name));
	json_object_set_new(doc, "eid", json_string(ident->eid.digits));
	json_object_set_new(doc, "companion", json_pack("{s:s, s:s}", "name", ident->name,
	    "model", ident->model));
	if (eid_name[0])
		step(o, "S1 read EID %s over %s (%s)", ident->eid.digits, o->link, eid_name);
	else
		step(o, "S1 read EID %s over %s", ident->eid.digits, o->link);
	return 0;
}

int
cmd_share(const cli_opts *o)
{
	primary_ctx c;
	ndef_identity ident;
	json_t *apps_resp = NULL, *share = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	char why[256];
	int ex = 1, rc;
	long timeout_ms = (long)o->timeout_s * 1000L;
	wait_ctx w = { .o = o, .kind = CLI_WAIT_INSTALL };

	memset(&c, 0, sizeof(c));
	if (doc == NULL)
		goto out;
	if (o->link != NULL && link_spec_check(o->link, why, sizeof(why)) != 0) {
		cmd_error("bad --link: %s", why);
		doc_error(doc, "bad_link", why);
		ex = 2;
		goto out;
	}
	if (o->app_id == NULL && !isatty(STDIN_FILENO)) {
		cmd_error("no application chosen: pass --app APP_ID (see tapshare apps), or run on "
		    "a terminal to pick one");
		doc_error(doc, "no_app", "no --app and stdin is not a terminal");
		ex = 2;
		goto out;
	}
	if (ctx_open(o, &c, doc) != 0)
		goto out;
	json_object_set_new(doc, "link", o->link ? json_string(o->link) : json_null());
	memset(&ident, 0, sizeof(ident));
	if (o->eid != NULL) {
		/* S1 happened earlier (label, an earlier tap): the EID goes to the
		 * node as given and is checked there (S11/S12). */
		if (ts_snprintf(ident.eid.digits, sizeof(ident.eid.digits), "%s", o->eid) != 0) {
			cmd_error("--eid is longer than an EID: %s", o->eid);
			doc_error(doc, "eid_format", "EID too long");
			ex = 2;
			goto out;
		}
		json_object_set_new(doc, "eid", json_string(ident.eid.digits));
		step(o, "S1 EID %s given on the command line (no link read)", ident.eid.digits);
	} else if (read_identity(o, doc, &ident) != 0) {
		goto out;
	}

	/* S2: the user's applications; S3: the choice. */
	if ((rc = nodeapi_apps(c.api, &apps_resp, &e)) != 0) {
		node_failed(doc, "cannot list the applications", rc, &e);
		goto out;
	}
	const json_t *apps = json_object_get(apps_resp, "apps");
	long idx = o->app_id != NULL ? cli_app_find(apps, o->app_id) : choose_interactively(apps);
	if (o->app_id == NULL && idx < 0) {
		doc_error(doc, "no_app", "no application chosen");
		goto out;
	}
	/* An --app the list does not show still goes to the node, which is the
	 * authority on ownership and shareability and says why it refuses. */
	const json_t *app = idx >= 0 ? json_array_get(apps, (size_t)idx) : NULL;
	const char *app_id = app ? json_string_value(json_object_get(app, "app_id")) : o->app_id;
	const char *app_name = app ? json_string_value(json_object_get(app, "name")) : NULL;
	json_object_set_new(doc, "app", app ? json_incref((json_t *)app)
	                                    : json_pack("{s:s}", "app_id", app_id));
	if (app_name != NULL && app_name[0] != '\0')
		step(o, "S3 chose %s (%s)", app_id, app_name);
	else
		step(o, "S3 chose %s", app_id);

	if (login(o, &c, doc) != 0)
		goto out;

	/* S4 -> node S11/S12 -> S5 first confirmation. */
	step(o, "S4 sent share request for %s to companion %s", app_id, ident.eid.digits);
	rc = nodeapi_share_create(c.api, ident.eid.digits, app_id, o->duration_s, ident.name,
	    &share, &e);
	if (rc != 0) {
		json_object_set_new(doc, "result", json_string("refused"));
		node_failed(doc, "the node refused the share", rc, &e);
		goto out;
	}
	json_object_set_new(doc, "share", json_incref(share));
	const char *share_id = json_string_value(json_object_get(share, "share_id"));
	const char *conf = json_string_value(json_object_get(share, "confirmation"));
	step(o, "S5 first confirmation: %s (share %s)", conf ? conf : "EID received and correct",
	    share_id);

	if (o->no_wait) {
		json_object_set_new(doc, "result", json_string("sent"));
		step(o, "not waiting for the second confirmation; follow the share with "
		    "'tapshare shares'");
		ex = 0;
		goto out;
	}

	/* S6: the node's events for this share, until installed or refused. */
	w.events = json_array();
	json_object_set_new(doc, "events", w.events);
	rc = nodeapi_wait_events(c.api, share_id, timeout_ms, on_event, &w, &e);
	if (w.activation_code[0] != '\0')
		json_object_set_new(doc, "activation_code", json_string(w.activation_code));
	if (rc == 0 && w.outcome == CLI_EV_SUCCESS) {
		json_object_set_new(doc, "result", json_string("installed"));
		ex = 0;
	} else if (rc == 0) {
		json_object_set_new(doc, "result", json_string(w.state));
		cmd_error("share %s was not installed: %s", share_id, w.line);
		doc_error(doc, w.state, w.line);
	} else if (rc == TS_ETIMEOUT) {
		json_object_set_new(doc, "result", json_string("timeout"));
		cmd_error("no second confirmation within %lld s; share %s goes on at the node, check "
		    "it with 'tapshare shares'", o->timeout_s, share_id);
		doc_error(doc, "timeout", "no second confirmation in time");
	} else {
		json_object_set_new(doc, "result", json_string("unknown"));
		node_failed(doc, "lost the node's event stream; check the share with 'tapshare shares'",
		    rc, &e);
	}
out:
	if (o->json)
		print_json(doc);
	json_decref(doc);
	json_decref(apps_resp);
	json_decref(share);
	ctx_close(&c);
	return ex;
}

/* ------------------------------------------------------------------------ */
/* cancel                                                                     */

int
cmd_cancel(const cli_opts *o)
{
	primary_ctx c;
	json_t *share = NULL;
	json_t *doc = json_object();
	nodeapi_error e;
	int ex = 1, rc;
	wait_ctx w = { .o = o, .kind = CLI_WAIT_REVOKE };

	memset(&c, 0, sizeof(c));
	if (doc == NULL || ctx_open(o, &c, doc) != 0)
		goto out;
	if (login(o, &c, doc) != 0)
		goto out;
	/* S7 -> node S16 (revoke, tell the provider, push delete). */
	if ((rc = nodeapi_share_cancel(c.api, o->share_id, &share, &e)) != 0) {
		json_object_set_new(doc, "result", json_string("refused"));
		node_failed(doc, "the node refused to cancel the share", rc, &e);
		goto out;
	}
	json_object_set_new(doc, "share", json_incref(share));
	const char *state = json_string_value(json_object_get(share, "state"));
	step(o, "S7 cancel requested for share %s (state %s)", o->share_id,
	    state ? state : "unknown");
	if (state != NULL && strcmp(state, "revoked") == 0) {
		step(o, "S8 share %s revoked", o->share_id);
		json_object_set_new(doc, "result", json_string("revoked"));
		ex = 0;
		goto out;
	}
	if (o->no_wait) {
		json_object_set_new(doc, "result", json_string("requested"));
		ex = 0;
		goto out;
	}
	/* S8: wait for share.revoked (node S17, after the companion deleted). */
	w.events = json_array();
	json_object_set_new(doc, "events", w.events);
	rc = nodeapi_wait_events(c.api, o->share_id, (long)o->timeout_s * 1000L, on_event, &w, &e);
	if (rc == 0 && w.outcome == CLI_EV_SUCCESS) {
		json_object_set_new(doc, "result", json_string("revoked"));
		ex = 0;
	} else if (rc == TS_ETIMEOUT) {
		json_object_set_new(doc, "result", json_string("timeout"));
		cmd_error("share %s not revoked within %lld s; the node goes on revoking it, check "
		    "with 'tapshare shares'", o->share_id, o->timeout_s);
		doc_error(doc, "timeout", "not revoked in time");
	} else {
		json_object_set_new(doc, "result", json_string("unknown"));
		node_failed(doc, "lost the node's event stream; check with 'tapshare shares'", rc, &e);
	}
out:
	if (o->json)
		print_json(doc);
	json_decref(doc);
	json_decref(share);
	ctx_close(&c);
	return ex;
}

/* ------------------------------------------------------------------------ */
/* Helpers for commands in other files (cmd.h; move.c)                        */

int
cmd_ctx_open(const cli_opts *o, json_t *doc, primary_ctx **out)
{
	primary_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		cmd_error("out of memory");
		return TS_ENOMEM;
	}
	int rc = ctx_open(o, c, doc);
	if (rc != 0) {
		cmd_ctx_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
cmd_ctx_free(primary_ctx *c)
{
	if (c == NULL)
		return;
	ctx_close(c);
	free(c);
}

nodeapi *
cmd_ctx_api(const primary_ctx *c)
{
	return c->api;
}

const char *
cmd_ctx_conf(const primary_ctx *c, const char *section, const char *key)
{
	return ts_config_get(c->cfg, section, key, NULL);
}

int
cmd_login(const cli_opts *o, primary_ctx *c, json_t *doc)
{
	return login(o, c, doc);
}

void
cmd_step(const cli_opts *o, const char *fmt, ...)
{
	char msg[1024];
	if (o->json)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	step(o, "%s", msg);
}

void
cmd_print_json(json_t *doc)
{
	print_json(doc);
}

void
cmd_node_failed(json_t *doc, const char *what, int rc, const nodeapi_error *e)
{
	node_failed(doc, what, rc, e);
}

void
cmd_doc_error(json_t *doc, const char *code, const char *message)
{
	doc_error(doc, code, message);
}

int
cmd_read_identity(const cli_opts *o, json_t *doc, ndef_identity *ident)
{
	return read_identity(o, doc, ident);
}

int
cmd_wait_share(const cli_opts *o, nodeapi *api, const char *share_id, int kind,
    long timeout_ms, json_t *events, int *outcome, char *state, size_t scap, char *line,
    size_t lcap, nodeapi_error *e)
{
	wait_ctx w = { .o = o, .kind = kind };
	json_t *own = NULL;
	if (events == NULL)
		events = own = json_array();
	w.events = events;
	int rc = nodeapi_wait_events(api, share_id, timeout_ms, on_event, &w, e);
	json_decref(own);
	*outcome = w.outcome;
	(void)ts_snprintf(state, scap, "%s", w.state);
	(void)ts_snprintf(line, lcap, "%s", w.line);
	return rc;
}
