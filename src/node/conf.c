/*
 * conf.c — where tapshare-node finds its configuration and its state, and
 * (node.h) the checks of node.ini.
 *
 * Two layouts:
 *   --dir DIR           (tests, demos, `init`): DIR/node.ini, state in DIR
 *   installed (no --dir): /etc/tapshare/node.ini, state in /var/lib/tapshare
 *                        (TS_SYSCONFDIR / TS_STATEDIR from the build's install
 *                        prefix; under systemd $CONFIGURATION_DIRECTORY and
 *                        $STATE_DIRECTORY, which ConfigurationDirectory= and
 *                        StateDirectory= set, win)
 * --config FILE names the configuration file in either layout.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "lib/cmdline.h"
#include "lib/config.h"
#include "lib/httpd.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/sdnotify.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/metrics.h"
#include "node/node.h"

#ifndef TS_SYSCONFDIR
#define TS_SYSCONFDIR "/etc/tapshare"
#endif
#ifndef TS_STATEDIR
#define TS_STATEDIR "/var/lib/tapshare"
#endif

static const char *
arg_value(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc - 1; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* First directory of a colon-separated systemd list ("a:b" -> "a"). */
static int
first_dir(const char *list, char *out, size_t cap)
{
	size_t l = strcspn(list, ":");
	if (l == 0 || l >= cap)
		return TS_ECONFIG;
	memcpy(out, list, l);
	out[l] = '\0';
	return 0;
}

int
node_locate(int argc, char **argv, char *dir, size_t dcap, char *ini, size_t icap)
{
	const char *d = arg_value(argc, argv, "--dir");
	const char *c = arg_value(argc, argv, "--config");
	if (d == NULL)
		d = getenv("TAPSHARE_NODE_DIR");
	if (c == NULL)
		c = getenv("TAPSHARE_NODE_CONFIG");
	int rc;
	if (d != NULL)
		rc = ts_snprintf(dir, dcap, "%s", d);
	else if (getenv("STATE_DIRECTORY") != NULL && getenv("STATE_DIRECTORY")[0] != '\0')
		rc = first_dir(getenv("STATE_DIRECTORY"), dir, dcap);
	else
		rc = ts_snprintf(dir, dcap, "%s", TS_STATEDIR);
	if (rc != 0)
		return TS_ECONFIG;
	if (c != NULL)
		rc = ts_snprintf(ini, icap, "%s", c);
	else if (d != NULL)
		rc = ts_snprintf(ini, icap, "%s/node.ini", d);
	else {
		char cd[512];
		const char *cdir = getenv("CONFIGURATION_DIRECTORY");
		if (cdir != NULL && cdir[0] != '\0') {
			if (first_dir(cdir, cd, sizeof(cd)) != 0)
				return TS_ECONFIG;
		} else
			(void)ts_snprintf(cd, sizeof(cd), "%s", TS_SYSCONFDIR);
		rc = ts_snprintf(ini, icap, "%s/node.ini", cd);
	}
	return rc == 0 ? 0 : TS_ECONFIG;
}

/* Every key tapshare-node reads from node.ini, and nothing else: a key that
 * is not here is a mistake (issue 10: `lisen =` used to fall back to the
 * default address). */
static const ts_config_key node_schema[] = {
	{ .section = "node", .key = "listen", .type = TS_CFG_HOSTPORT },
	{ .section = "node", .key = "address", .type = TS_CFG_URL },
	{ .section = "node", .key = "database", .type = TS_CFG_DBURL, .secret = 1 },
	{ .section = "node", .key = "outbox_workers", .type = TS_CFG_INT, .min = 1, .max = 8 },
	{ .section = "node", .key = "log_level", .type = TS_CFG_ENUM, .choices = "debug|info|warn|error" },
	{ .section = "node", .key = "log", .type = TS_CFG_ENUM, .choices = "auto|stderr|journal|syslog" },
	{ .section = "node", .key = "db_wait_ms", .type = TS_CFG_INT, .min = 0, .max = 60000 },
	{ .section = "node", .key = "admin_listen", .type = TS_CFG_HOSTPORT },
	/* finished shares (and their events) are pruned after this many days; 0 keeps them */
	{ .section = "node", .key = "retention_days", .type = TS_CFG_INT, .min = 0, .max = 36500 },
	{ .section = "node", .key = "web", .type = TS_CFG_ENUM, .choices = "on|off" },
	/* SO_REUSEPORT: several node processes on one listen address (PostgreSQL only) */
	{ .section = "node", .key = "reuse_port", .type = TS_CFG_ENUM, .choices = "true|false|on|off" },
	{ .section = "node", .key = "web_session_s", .type = TS_CFG_INT, .min = 1, .max = 86400 },
	{ .section = "tls", .key = "cert", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "tls", .key = "key", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "tls", .key = "ca_cert", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "tls", .key = "ca_key", .type = TS_CFG_FILE, .required = 1 },
	/* 80 secret bytes shared by the processes on one port: each resumes the
	 * others' session tickets (absent: a random key per process) */
	{ .section = "tls", .key = "session_ticket_key", .type = TS_CFG_FILE },
	{ .section = "sign", .key = "auth_cert", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "sign", .key = "auth_key", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "sign", .key = "pb_cert", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "sign", .key = "pb_key", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "trust", .key = "ci", .type = TS_CFG_FILE, .required = 1 },
	{ .section = "trust", .key = "eum", .type = TS_CFG_FILE, .required = 1 },
	/* caps (0 or absent = the default; README "Limits") */
	{ .section = "limits", .key = "max_streams", .type = TS_CFG_INT, .min = 0, .max = 10000000 },
	{ .section = "limits", .key = "streams_per_peer", .type = TS_CFG_INT, .min = 0, .max = 10000000 },
	{ .section = "limits", .key = "streams_per_eid", .type = TS_CFG_INT, .min = 0, .max = 1000 },
	{ .section = "limits", .key = "es9_sessions_per_peer_per_min", .type = TS_CFG_INT, .min = 0, .max = 10000000 },
};

struct pem_check {
	const char *section, *key;
	int what; /* 0 certificate, 1 certificates (bundle), 2 private key */
};

/* Certificate/key pairs first (even index = certificate, next = its key). */
static const struct pem_check node_pems[] = {
	{ "tls", "cert", 0 }, { "tls", "key", 2 }, { "tls", "ca_cert", 0 }, { "tls", "ca_key", 2 },
	{ "sign", "auth_cert", 0 }, { "sign", "auth_key", 2 }, { "sign", "pb_cert", 0 },
	{ "sign", "pb_key", 2 }, { "trust", "ci", 0 }, { "trust", "eum", 1 },
};
#define NODE_PEM_PAIRS 4
#define NODE_PEM_AUTH 4
#define NODE_PEM_PB 6
#define NODE_PEM_CI 8
#define NODE_PEM_EUM 9

static void
report_line(ts_config_report_fn report, void *arg, const ts_config *c, const char *section,
    const char *key, const char *what)
{
	char msg[1200];
	int line = ts_config_line(c, section, key);
	if (line > 0)
		(void)ts_snprintf(msg, sizeof(msg), "%s:%d: [%s] %s: %s", ts_config_path(c), line, section,
		    key, what);
	else
		(void)ts_snprintf(msg, sizeof(msg), "%s: [%s] %s: %s", ts_config_path(c), section, key, what);
	if (report != NULL)
		report(arg, msg);
}

/* The SGP.22 profile of what [sign] and [trust] name: the CI has
 * id-rspRole-ci, DPauth and DPpb chain to it with their roles, every EUM in
 * the bundle chains to it and is usable (pki_eum_check). An EUM the node
 * cannot use is an error, not skipped: a share for its eUICCs would be
 * refused later with no hint why. */
static size_t
check_profile(const ts_config *c, X509 *const *certs, STACK_OF(X509) *eums, ts_config_report_fn report,
    void *arg)
{
	size_t bad = 0;
	char e[300], what[900];
	X509 *ci = certs[NODE_PEM_CI];
	if (ci == NULL)
		return 0;
	if (!pki_cert_has_role(ci, PKI_ROLE_CI)) {
		(void)ts_snprintf(what, sizeof(what), "%s: not an SGP.22 CI certificate (no certificate policy "
		    "id-rspRole-ci 2.23.146.1.2.1.0)", ts_config_get(c, "trust", "ci", ""));
		report_line(report, arg, c, "trust", "ci", what);
		return 1; /* everything below would repeat it */
	}
	static const struct { int idx, role; } leaf[] = { { NODE_PEM_AUTH, PKI_ROLE_DP_AUTH },
		{ NODE_PEM_PB, PKI_ROLE_DP_PB } };
	for (size_t i = 0; i < TS_ARRAY_LEN(leaf); i++) {
		const struct pem_check *p = &node_pems[leaf[i].idx];
		if (certs[leaf[i].idx] == NULL ||
		    pki_verify_role(ci, NULL, certs[leaf[i].idx], leaf[i].role, e, sizeof(e)) == 0)
			continue;
		(void)ts_snprintf(what, sizeof(what), "%s: cannot serve as %s: %s",
		    ts_config_get(c, p->section, p->key, ""), pki_role_name(leaf[i].role), e);
		report_line(report, arg, c, p->section, p->key, what);
		bad++;
	}
	for (int i = 0; eums != NULL && i < sk_X509_num(eums); i++) {
		X509 *eum = sk_X509_value(eums, i);
		char subj[256];
		X509_NAME_oneline(X509_get_subject_name(eum), subj, sizeof(subj));
		int rc = pki_verify_chain(ci, NULL, eum, e, sizeof(e));
		if (rc == 0)
			rc = pki_eum_check(eum, e, sizeof(e));
		if (rc == 0)
			continue;
		(void)ts_snprintf(what, sizeof(what), "%s: EUM certificate %d (%s) cannot be used: %s",
		    ts_config_get(c, "trust", "eum", ""), i + 1, subj, e);
		report_line(report, arg, c, "trust", "eum", what);
		bad++;
	}
	return bad;
}

int
node_conf_reuse_port(const ts_config *c)
{
	const char *v = ts_config_get(c, "node", "reuse_port", "false");
	return strcmp(v, "true") == 0 || strcmp(v, "on") == 0;
}

size_t
node_conf_check(const ts_config *c, ts_config_report_fn report, void *arg)
{
	size_t bad = 0;
	/* Before issue 7 one [sign] cert/key served as DPauth and DPpb. */
	if (ts_config_get(c, "sign", "cert", NULL) != NULL || ts_config_get(c, "sign", "key", NULL) != NULL) {
		report_line(report, arg, c, "sign", ts_config_get(c, "sign", "cert", NULL) != NULL ? "cert" : "key",
		    "one certificate for both SM-DP+ roles is no longer accepted (SGP.22 4.5.2): name the "
		    "DPauth certificate and key as auth_cert/auth_key and the DPpb ones as pb_cert/pb_key "
		    "(`tapshare-node testpki DIR` generates both)");
		bad++;
	}
	bad += ts_config_check(c, node_schema, TS_ARRAY_LEN(node_schema), NULL, report, arg);
	if (bad != 0)
		return bad; /* contents only of files that are all there */
	if (node_conf_reuse_port(c)) {
		const char *db = ts_config_get(c, "node", "database", "sqlite:node.db");
		const char *listen = ts_config_get(c, "node", "listen", "127.0.0.1:8443");
		const char *colon = strrchr(listen, ':');
		if (strncmp(db, "postgresql:", 11) != 0 && strncmp(db, "postgres:", 9) != 0) {
			/* Each process would serve its own streams, and a change made
			 * by one never reaches the streams held by another (there is no
			 * cross-process notification on SQLite; run also refuses a
			 * second process on one SQLite file). */
			report_line(report, arg, c, "node", "reuse_port",
			    "several node processes on one port need a PostgreSQL database (database = "
			    "postgresql://...): on SQLite a change made by one process would not reach the "
			    "event streams held by the others");
			bad++;
		} else if (colon == NULL || strcmp(colon, ":0") == 0) {
			report_line(report, arg, c, "node", "reuse_port",
			    "needs a fixed port in [node] listen (port 0 gives each process a port of its own)");
			bad++;
		}
	}
	/* The PEM files parse, and the key pairs belong together. */
	X509 *certs[TS_ARRAY_LEN(node_pems)] = { 0 };
	EVP_PKEY *keys[TS_ARRAY_LEN(node_pems)] = { 0 };
	STACK_OF(X509) *eums = NULL;
	for (size_t i = 0; i < TS_ARRAY_LEN(node_pems); i++) {
		const struct pem_check *p = &node_pems[i];
		const char *file = ts_config_get(c, p->section, p->key, "");
		char what[700];
		int rc;
		if (p->what == 0)
			rc = pki_cert_load(file, &certs[i]);
		else if (p->what == 2)
			rc = pki_key_load(file, &keys[i]);
		else
			rc = pki_certs_load(file, &eums);
		if (rc != 0) {
			(void)ts_snprintf(what, sizeof(what), "%s: not a PEM %s", file,
			    p->what == 2 ? "private key" : "certificate");
			report_line(report, arg, c, p->section, p->key, what);
			bad++;
		}
	}
	for (size_t i = 0; i + 1 < 2 * NODE_PEM_PAIRS; i += 2) {
		if (certs[i] != NULL && keys[i + 1] != NULL && X509_check_private_key(certs[i], keys[i + 1]) != 1) {
			char what[700];
			(void)ts_snprintf(what, sizeof(what), "%s does not belong to the certificate %s",
			    ts_config_get(c, node_pems[i + 1].section, node_pems[i + 1].key, ""),
			    ts_config_get(c, node_pems[i].section, node_pems[i].key, ""));
			report_line(report, arg, c, node_pems[i + 1].section, node_pems[i + 1].key, what);
			bad++;
		}
	}
	/* The ticket key file run would load: exactly its size (httpd.c). */
	const char *tk = ts_config_get(c, "tls", "session_ticket_key", NULL);
	struct stat tst;
	if (tk != NULL && tk[0] != '\0' && stat(tk, &tst) == 0 && tst.st_size != TS_HTTPD_TICKET_KEY_LEN) {
		char what[700];
		(void)ts_snprintf(what, sizeof(what), "%s: %lld bytes; a session ticket key is exactly %d "
		    "(head -c %d /dev/urandom > FILE)", tk, (long long)tst.st_size, TS_HTTPD_TICKET_KEY_LEN,
		    TS_HTTPD_TICKET_KEY_LEN);
		report_line(report, arg, c, "tls", "session_ticket_key", what);
		bad++;
	}
	bad += check_profile(c, certs, eums, report, arg);
	ERR_clear_error();
	for (size_t i = 0; i < TS_ARRAY_LEN(node_pems); i++) {
		X509_free(certs[i]);
		EVP_PKEY_free(keys[i]);
	}
	sk_X509_pop_free(eums, X509_free);
	return bad;
}

void
node_report_stderr(void *arg, const char *msg)
{
	(void)arg;
	/* a running node under systemd: each problem is an error record */
	if (ts_log_get_target() != TS_LOG_STDERR)
		log_error("%s", msg);
	else
		fprintf(stderr, "tapshare-node: error: %s\n", msg);
}

int
node_cmd_check(int argc, char **argv)
{
	char dir[512], ini[PATH_MAX], err[600] = "";
	if (node_locate(argc, argv, dir, sizeof(dir), ini, sizeof(ini)) != 0) {
		fprintf(stderr, "tapshare-node: error: --dir or --config path too long\n");
		return 2;
	}
	ts_config *c = NULL;
	int rc = ts_config_load(ini, &c, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "tapshare-node: error: %s\n", err[0] ? err : ts_strerror(rc));
		return 1;
	}
	size_t bad = node_conf_check(c, node_report_stderr, NULL);
	ts_config_free(c);
	if (bad != 0) {
		fprintf(stderr, "tapshare-node: %s: %zu problem%s\n", ini, bad, bad == 1 ? "" : "s");
		cmdline_error_envelope(json_pack("{s:s,s:s}", "code", "config_invalid", "message", "configuration problems (see stderr)"),
		    json_pack("{s:s,s:I}", "config", ini, "problems", (json_int_t)bad));
		return 1;
	}
	if (cmdline_json())
		cmdline_ok(json_pack("{s:s,s:s,s:I}", "config", ini, "state", dir, "problems", (json_int_t)0));
	else
		printf("%s: configuration OK (state in %s)\n", ini, dir);
	return 0;
}

void
node_client_tls(node *n, char cert[600], char key[600])
{
	pthread_mutex_lock(&n->ob_mu);
	memcpy(cert, n->tls_cert, sizeof(n->tls_cert));
	memcpy(key, n->tls_key, sizeof(n->tls_key));
	pthread_mutex_unlock(&n->ob_mu);
}

static void
note_restart_key(const ts_config *old, const ts_config *new, const char *key, const char *def)
{
	const char *a = ts_config_get(old, "node", key, def), *b = ts_config_get(new, "node", key, def);
	if (strcmp(a, b) != 0)
		log_warn("reload: [node] %s changed; it takes effect at the next start", key);
}

#define SWAP(a, b)                          \
	do {                                \
		__typeof__(a) swap_tmp_ = (a); \
		(a) = (b);                  \
		(b) = swap_tmp_;            \
	} while (0)

int
node_reload(node *n)
{
	/* static: a node is large; only the main thread reloads. */
	static node fresh;
	memset(&fresh, 0, sizeof(fresh));
	const char *ini = n->ini[0] != '\0' ? n->ini : NULL;
	char path[PATH_MAX];
	if (ini != NULL)
		(void)ts_snprintf(path, sizeof(path), "%s", ini);
	else
		(void)ts_snprintf(path, sizeof(path), "%s/node.ini", n->dir);
	(void)ts_sd_notify_reloading();
	log_info("SIGHUP: reloading %s", path);
	(void)ts_snprintf(fresh.ini, sizeof(fresh.ini), "%s", path);
	/* node_load checks strictly and loads every key and certificate; the
	 * database is the running one (a new [node] database waits for a
	 * restart, and must not be created or migrated by a reload). */
	fresh.no_store = 1;
	int rc = node_load(&fresh, n->dir);
	char herr[700] = "";
	if (rc == 0) {
		ts_httpd_opts o = { .cert_file = fresh.tls_cert, .key_file = fresh.tls_key,
			.client_ca = fresh.ca_cert, .errbuf = herr, .errcap = sizeof(herr),
			.ticket_key_file = ts_config_get(fresh.cfg, "tls", "session_ticket_key", NULL) };
		if ((rc = ts_httpd_reload_tls(n->httpd, &o)) != 0)
			log_error("reload refused: TLS: %s", herr[0] ? herr : ts_strerror(rc));
	}
	if (rc != 0) {
		log_error("reload refused: %s has errors (see above); still running with the previous "
			  "configuration", path);
		node_unload(&fresh);
		metrics_reload(0);
		(void)ts_sd_notify("READY=1\nSTATUS=serving (reload refused)");
		return TS_ECONFIG;
	}
	note_restart_key(n->cfg, fresh.cfg, "listen", "127.0.0.1:8443");
	note_restart_key(n->cfg, fresh.cfg, "database", "sqlite:node.db");
	note_restart_key(n->cfg, fresh.cfg, "address", "");
	note_restart_key(n->cfg, fresh.cfg, "outbox_workers", "2");
	note_restart_key(n->cfg, fresh.cfg, "admin_listen", "");
	note_restart_key(n->cfg, fresh.cfg, "reuse_port", "false");
	note_restart_key(n->cfg, fresh.cfg, "web", "on");
	note_restart_key(n->cfg, fresh.cfg, "web_session_s", "900");
	/* Everything below is read on this thread only, except the provider
	 * client certificate (node_client_tls, under ob_mu). */
	SWAP(n->cfg, fresh.cfg);
	SWAP(n->ca, fresh.ca);
	SWAP(n->ca_pkey, fresh.ca_pkey);
	SWAP(n->dpauth_cert, fresh.dpauth_cert);
	SWAP(n->dpauth_key, fresh.dpauth_key);
	SWAP(n->dpauth_cert_der, fresh.dpauth_cert_der);
	SWAP(n->dpauth_cert_der_len, fresh.dpauth_cert_der_len);
	SWAP(n->dppb_cert, fresh.dppb_cert);
	SWAP(n->dppb_key, fresh.dppb_key);
	SWAP(n->dppb_cert_der, fresh.dppb_cert_der);
	SWAP(n->dppb_cert_der_len, fresh.dppb_cert_der_len);
	SWAP(n->ci, fresh.ci);
	SWAP(n->eums, fresh.eums);
	memcpy(n->ein_prefixes, fresh.ein_prefixes, sizeof(n->ein_prefixes));
	memcpy(n->ca_cert, fresh.ca_cert, sizeof(n->ca_cert));
	memcpy(n->ca_key, fresh.ca_key, sizeof(n->ca_key));
	n->svc.device_ca = n->ca;
	pthread_mutex_lock(&n->ob_mu);
	memcpy(n->tls_cert, fresh.tls_cert, sizeof(n->tls_cert));
	memcpy(n->tls_key, fresh.tls_key, sizeof(n->tls_key));
	n->reload_gen++;
	pthread_mutex_unlock(&n->ob_mu);
	node_unload(&fresh); /* frees the previous objects */
	const char *lvl = ts_config_get(n->cfg, "node", "log_level", "info");
	ts_log_init("tapshare-node", strcmp(lvl, "debug") == 0 ? TS_LOG_DEBUG :
	    strcmp(lvl, "warn") == 0 ? TS_LOG_WARN : strcmp(lvl, "error") == 0 ? TS_LOG_ERROR : TS_LOG_INFO);
	ts_log_set_target((enum ts_log_target)ts_log_target_parse(ts_config_get(n->cfg, "node", "log", "auto")));
	outbox_kick(n);
	log_info("reloaded %s: TLS certificate %s, trusted EID prefixes %s; providers are read again", path,
	    n->tls_cert, n->ein_prefixes);
	metrics_reload(1);
	(void)ts_sd_notify("READY=1\nSTATUS=serving");
	return 0;
}
