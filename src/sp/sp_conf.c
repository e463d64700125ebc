/*
 * sp_conf.c — tapshare-sp directory layout and sp.ini (sp_conf.h).
 */
#include "sp/sp_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <openssl/x509.h>

#include "lib/config.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "sp/policy.h"
#include "sp/sp_ca.h"
#include "sp/sp_store.h"

#define SP_COPY_MAX (1u << 20)

static const char default_policy[] =
    "# tapshare-sp policy (see `tapshare-sp run --help`).\n"
    "#\n"
    "# [default]        decision = approve|deny, max_duration_s = N (0 = unlimited),\n"
    "#                  kind = sim|bankid|service (when neither the app section\n"
    "#                  nor the node's request names one)\n"
    "# [app.<APP_ID>]   decision, max_duration_s, kind, name, scope\n"
    "# [deny]           eids = EID,EID,...  (more in eids.1 .. eids.99)\n"
    "\n"
    "[default]\n"
    "decision = approve\n"
    "max_duration_s = 86400\n"
    "kind = sim\n"
    "\n"
    "[deny]\n"
    "eids =\n";

int
sp_parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
	if (s == NULL)
		return TS_EINVAL;
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		return TS_EINVAL;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return TS_EINVAL;
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= cap)
		return TS_EINVAL;
	long long p;
	if (ts_parse_ll(colon + 1, 0, 65535, &p) != 0)
		return TS_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* Every key tapshare-sp reads from sp.ini (sp_conf.h). */
static const ts_config_key sp_schema[] = {
	{ .section = "sp", .key = "listen", .type = TS_CFG_HOSTPORT },
	{ .section = "sp", .key = "database", .type = TS_CFG_STRING },
	{ .section = "sp", .key = "policy", .type = TS_CFG_FILE },
	{ .section = "sp", .key = "timeout_s", .type = TS_CFG_INT, .min = 1, .max = 3600 },
	{ .section = "tls", .key = "cert", .type = TS_CFG_FILE },
	{ .section = "tls", .key = "key", .type = TS_CFG_FILE },
	{ .section = "tls", .key = "client_ca", .type = TS_CFG_FILE },
	{ .section = "tls", .key = "allowed_clients", .type = TS_CFG_STRING },
	/* created at the first certifyKey when missing */
	{ .section = "ca", .key = "cert", .type = TS_CFG_STRING },
	{ .section = "ca", .key = "key", .type = TS_CFG_STRING },
};

/* path relative to dir unless absolute. */
static int
resolve(const char *dir, const char *p, char out[SP_PATH_MAX])
{
	if (p[0] == '/')
		return ts_snprintf(out, SP_PATH_MAX, "%s", p);
	return ts_snprintf(out, SP_PATH_MAX, "%s/%s", dir, p);
}

int
sp_conf_load(const char *dir, sp_conf *out, char *errbuf, size_t errcap)
{
	char ini[SP_PATH_MAX];
	if (ts_snprintf(ini, sizeof(ini), "%s/sp.ini", dir) != 0)
		return TS_ELIMIT;
	return sp_conf_load_files(ini, dir, out, errbuf, errcap);
}

int
sp_conf_load_files(const char *ini, const char *statedir, sp_conf *out, char *errbuf,
    size_t errcap)
{
	ts_config *cfg = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	/* Files named in sp.ini are relative to its directory; the database and
	 * the port file to the state directory (the same with --dir). */
	char dir[SP_PATH_MAX];
	const char *slash = strrchr(ini, '/');
	if (slash == NULL)
		rc = ts_snprintf(dir, sizeof(dir), ".");
	else if (slash == ini)
		rc = ts_snprintf(dir, sizeof(dir), "/");
	else
		rc = ts_snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ini), ini);
	if (rc != 0 || (rc = ts_snprintf(out->dir, sizeof(out->dir), "%s", statedir)) != 0 ||
	    (rc = ts_snprintf(out->ini, sizeof(out->ini), "%s", ini)) != 0 ||
	    (rc = ts_snprintf(out->port_file, sizeof(out->port_file), "%s/sp.port", statedir)) != 0)
		return rc;
	if (access(out->ini, F_OK) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s not found; run `tapshare-sp init` first",
		    out->ini);
		return TS_ENOTFOUND;
	}
	if ((rc = ts_config_load(out->ini, &cfg, errbuf, errcap)) != 0)
		return rc;
	rc = TS_ECONFIG;
	struct ts_config_errbuf first = { errbuf, errcap };
	if (ts_config_check(cfg, sp_schema, TS_ARRAY_LEN(sp_schema), dir, ts_config_first_problem,
	    &first) != 0)
		goto fail;
	const char *listen = ts_config_get(cfg, "sp", "listen", SP_DEFAULT_LISTEN);
	if (sp_parse_listen(listen, out->listen_addr, sizeof(out->listen_addr), &out->port) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: [sp] listen: expected HOST:PORT, got %s",
		    out->ini, listen);
		goto fail;
	}
	long long t;
	if (ts_config_get_int(cfg, "sp", "timeout_s", 60, 1, 3600, &t) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: [sp] timeout_s must be 1..3600", out->ini);
		goto fail;
	}
	out->timeout_s = (int)t;
	const char *ac = ts_config_get(cfg, "tls", "allowed_clients", "");
	if (ts_snprintf(out->allowed_clients, sizeof(out->allowed_clients), "%s", ac) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: [tls] allowed_clients too long", out->ini);
		goto fail;
	}
	/* Only 64-hex ids, commas and blanks. */
	for (const char *q = ac; *q; q++) {
		if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || *q == ',' ||
		    *q == ' ')) {
			(void)ts_snprintf(errbuf, errcap,
			    "%s: [tls] allowed_clients: expected lower-case hex key ids", out->ini);
			goto fail;
		}
	}
	if (resolve(statedir, ts_config_get(cfg, "sp", "database", "sp.db"), out->db) != 0 ||
	    resolve(dir, ts_config_get(cfg, "sp", "policy", "policy.ini"), out->policy) != 0 ||
	    resolve(dir, ts_config_get(cfg, "tls", "cert", "sp-tls.crt"), out->cert) != 0 ||
	    resolve(dir, ts_config_get(cfg, "tls", "key", "sp-tls.key"), out->key) != 0 ||
	    resolve(dir, ts_config_get(cfg, "tls", "client_ca", "node-ca.crt"),
	    out->client_ca) != 0 ||
	    resolve(dir, ts_config_get(cfg, "ca", "cert", "provider-ca.crt"), out->ca_cert) != 0 ||
	    resolve(dir, ts_config_get(cfg, "ca", "key", "provider-ca.key"), out->ca_key) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: a path is too long", out->ini);
		goto fail;
	}
	/* The defaults of absent keys must exist too. */
	const struct {
		const char *section, *key, *path;
	} need[] = {
		{ "sp", "policy", out->policy }, { "tls", "cert", out->cert }, { "tls", "key", out->key },
		{ "tls", "client_ca", out->client_ca },
	};
	for (size_t i = 0; i < TS_ARRAY_LEN(need); i++) {
		if (access(need[i].path, R_OK) != 0) {
			(void)ts_snprintf(errbuf, errcap, "%s: [%s] %s: %s: %s (default; set %s)", out->ini,
			    need[i].section, need[i].key, need[i].path,
			    errno == ENOENT ? "no such file" : strerror(errno), need[i].key);
			goto fail;
		}
	}
	if (sp_ca_name(dir, out->ca_name, sizeof(out->ca_name)) != 0) {
		(void)ts_snprintf(errbuf, errcap, "%s: cannot name the bank-ID CA", out->ini);
		goto fail;
	}
	rc = 0;
fail:
	ts_config_free(cfg);
	return rc;
}

static int
copy_file(const char *src, const char *dst, unsigned mode, char *errbuf, size_t errcap)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = ts_read_file(src, SP_COPY_MAX, &data, &len);
	if (rc != 0) {
		(void)ts_snprintf(errbuf, errcap, "cannot read %s: %s", src, ts_strerror(rc));
		return rc;
	}
	rc = ts_write_file_atomic(dst, data, len, mode);
	if (rc != 0)
		(void)ts_snprintf(errbuf, errcap, "cannot write %s: %s", dst, ts_strerror(rc));
	OPENSSL_cleanse(data, len); /* may be a private key */
	free(data);
	return rc;
}

int
sp_conf_init(const char *dir, const char *pkidir, const char *listen, char *errbuf,
    size_t errcap)
{
	char dummy[8];
	if (errbuf == NULL || errcap == 0) {
		errbuf = dummy;
		errcap = sizeof(dummy);
	}
	errbuf[0] = '\0';
	if (dir == NULL || pkidir == NULL)
		return TS_EINVAL;
	if (listen == NULL)
		listen = SP_DEFAULT_LISTEN;
	char host[128];
	uint16_t port;
	if (sp_parse_listen(listen, host, sizeof(host), &port) != 0) {
		(void)ts_snprintf(errbuf, errcap, "--listen: expected HOST:PORT, got %s", listen);
		return TS_EINVAL;
	}
	char ini[SP_PATH_MAX], src[SP_PATH_MAX], dst[SP_PATH_MAX];
	if (ts_snprintf(ini, sizeof(ini), "%s/sp.ini", dir) != 0)
		return TS_ELIMIT;
	if (access(ini, F_OK) == 0) {
		(void)ts_snprintf(errbuf, errcap, "%s already exists", ini);
		return TS_EEXIST;
	}
	int rc = ts_mkdirs(dir, 0700);
	if (rc != 0) {
		(void)ts_snprintf(errbuf, errcap, "cannot create %s: %s", dir, ts_strerror(rc));
		return rc;
	}
	static const struct {
		const char *name;
		unsigned mode;
	} files[] = {
		{ "sp-tls.crt", 0644 },
		{ "sp-tls.key", 0600 },
		{ "node-ca.crt", 0644 },
	};
	for (size_t i = 0; i < TS_ARRAY_LEN(files); i++) {
		if (ts_snprintf(src, sizeof(src), "%s/%s", pkidir, files[i].name) != 0 ||
		    ts_snprintf(dst, sizeof(dst), "%s/%s", dir, files[i].name) != 0)
			return TS_ELIMIT;
		if ((rc = copy_file(src, dst, files[i].mode, errbuf, errcap)) != 0)
			return rc;
	}

	if (ts_snprintf(dst, sizeof(dst), "%s/policy.ini", dir) != 0)
		return TS_ELIMIT;
	if (access(dst, F_OK) != 0) {
		rc = ts_write_file_atomic(dst, (const uint8_t *)default_policy,
		    sizeof(default_policy) - 1, 0644);
		if (rc != 0) {
			(void)ts_snprintf(errbuf, errcap, "cannot write %s: %s", dst, ts_strerror(rc));
			return rc;
		}
	} else {
		sp_policy *p = NULL;
		if ((rc = sp_policy_load(dst, &p, errbuf, errcap)) != 0)
			return rc;
		sp_policy_free(p);
	}

	if (ts_snprintf(dst, sizeof(dst), "%s/sp.db", dir) != 0)
		return TS_ELIMIT;
	sp_store *st = NULL;
	if ((rc = sp_store_open(dst, &st)) != 0) {
		(void)ts_snprintf(errbuf, errcap, "cannot create %s: %s", dst, ts_strerror(rc));
		return rc;
	}
	sp_store_close(st);

	/* The bank-ID CA (certifyKey), kept if the directory already has one. */
	char ca_crt[SP_PATH_MAX], ca_cn[SP_CA_CN_MAX];
	if (ts_snprintf(ca_crt, sizeof(ca_crt), "%s/provider-ca.crt", dir) != 0 ||
	    ts_snprintf(dst, sizeof(dst), "%s/provider-ca.key", dir) != 0)
		return TS_ELIMIT;
	sp_ca *ca = NULL;
	if ((rc = sp_ca_name(dir, ca_cn, sizeof(ca_cn))) != 0 ||
	    (rc = sp_ca_open(ca_crt, dst, ca_cn, 1, &ca)) != 0) {
		(void)ts_snprintf(errbuf, errcap, "cannot create the bank-ID CA %s: %s", ca_crt,
		    ts_strerror(rc));
		return rc;
	}
	sp_ca_free(ca);

	/* Pin the node's TLS key when the PKI has it (see sp_conf.h). */
	char node_id[65] = "";
	if (ts_snprintf(src, sizeof(src), "%s/node-tls.crt", pkidir) != 0)
		return TS_ELIMIT;
	if (access(src, F_OK) == 0) {
		X509 *nc = NULL;
		if ((rc = pki_cert_load(src, &nc)) != 0 || (rc = pki_cert_pubkey_id(nc, node_id)) != 0) {
			X509_free(nc);
			(void)ts_snprintf(errbuf, errcap, "cannot read %s: %s", src, ts_strerror(rc));
			return rc;
		}
		X509_free(nc);
	}

	char text[2048];
	if (ts_snprintf(text, sizeof(text),
	    "# tapshare-sp configuration, written by `tapshare-sp init`.\n"
	    "# Relative paths are relative to this directory.\n"
	    "\n"
	    "[sp]\n"
	    "listen = %s\n"
	    "database = sp.db\n"
	    "policy = policy.ini\n"
	    "timeout_s = 60\n"
	    "\n"
	    "[tls]\n"
	    "cert = sp-tls.crt\n"
	    "key = sp-tls.key\n"
	    "# client certificates (the node's) must chain to this CA\n"
	    "client_ca = node-ca.crt\n"
	    "# and their public key must be one of these (SHA-256 key ids; empty = any\n"
	    "# certificate from client_ca, which also issues the phones' certificates)\n"
	    "allowed_clients = %s\n"
	    "\n"
	    "[ca]\n"
	    "# the bank-ID CA that certifies companions' keys (certifyKey)\n"
	    "cert = provider-ca.crt\n"
	    "key = provider-ca.key\n",
	    listen, node_id) != 0)
		return TS_ELIMIT;
	rc = ts_write_file_atomic(ini, (const uint8_t *)text, strlen(text), 0644);
	if (rc != 0)
		(void)ts_snprintf(errbuf, errcap, "cannot write %s: %s", ini, ts_strerror(rc));
	return rc;
}

int
sp_conf_client_allowed(const sp_conf *c, const char *id)
{
	const char *s = c->allowed_clients;
	int any = 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		const char *e = s;
		while (*e != '\0' && *e != ' ' && *e != ',')
			e++;
		any = 1;
		if (id != NULL && strlen(id) == (size_t)(e - s) && strncmp(id, s, (size_t)(e - s)) == 0)
			return 1;
		s = e;
	}
	return !any;
}

size_t
sp_conf_check(const char *ini, const char *statedir, ts_config_report_fn report, void *arg)
{
	char err[1024] = "", dir[SP_PATH_MAX];
	ts_config *cfg = NULL;
	int rc = ts_config_load(ini, &cfg, err, sizeof(err));
	if (rc != 0) {
		if (report != NULL)
			report(arg, err[0] ? err : ts_strerror(rc));
		return 1;
	}
	const char *slash = strrchr(ini, '/');
	if (slash == NULL)
		(void)ts_snprintf(dir, sizeof(dir), ".");
	else
		(void)ts_snprintf(dir, sizeof(dir), "%.*s", (int)(slash == ini ? 1 : slash - ini), ini);
	size_t bad = ts_config_check(cfg, sp_schema, TS_ARRAY_LEN(sp_schema), dir, report, arg);
	ts_config_free(cfg);
	if (bad != 0)
		return bad;
	/* Semantic checks and the defaults' files, then the policy. */
	sp_conf c;
	if ((rc = sp_conf_load_files(ini, statedir, &c, err, sizeof(err))) != 0) {
		if (report != NULL)
			report(arg, err[0] ? err : ts_strerror(rc));
		return 1;
	}
	return sp_policy_check(c.policy, report, arg);
}
