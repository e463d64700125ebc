/*
 * admin.c — tapshare-node's administrative commands and configuration
 * loading: testpki, init, user, provider, app, shares.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/cmdline.h"
#include "lib/log.h"
#include "lib/passphrase.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"
#include "node/sealed.h"

#define ENROLL_CODE_BYTES 10

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "tapshare-node: error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n(see tapshare-node --help)\n");
	va_end(ap);
	return 2;
}

/* Finds "--name value" in argv; NULL when absent. */
static const char *
opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc - 1; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static int
flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

/* Positional argument number k (0-based) after the command words, skipping options. */
static const char *
positional(int argc, char **argv, int k, const char *const *with_value)
{
	int seen = 0;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			for (const char *const *w = with_value; *w; w++)
				if (strcmp(argv[i], *w) == 0) {
					i++;
					break;
				}
			continue;
		}
		if (seen++ == k)
			return argv[i];
	}
	return NULL;
}

static int
copy_file(const char *from, const char *to, unsigned mode)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = ts_read_file(from, 1 << 20, &buf, &len);
	if (rc == 0)
		rc = ts_write_file_atomic(to, buf, len, mode);
	if (buf)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

/* Every "--host NAME" (at most 16), checked (pki_host_valid). */
static int
collect_hosts(int argc, char **argv, const char **hosts, size_t *n)
{
	*n = 0;
	for (int i = 0; i < argc - 1; i++) {
		if (strcmp(argv[i], "--host") != 0)
			continue;
		if (*n == 16)
			return usage_error("%s", "at most 16 --host");
		if (!pki_host_valid(argv[i + 1]))
			return usage_error("--host %s is neither a DNS name nor an IP address", argv[i + 1]);
		hosts[(*n)++] = argv[i + 1];
	}
	return 0;
}

int
node_cmd_testpki(int argc, char **argv)
{
	static const char *const wv[] = { "--eid", "--ein", "--host", NULL };
	const char *dir = positional(argc, argv, 1, wv);
	const char *hosts[16];
	size_t nh = 0;
	if (collect_hosts(argc, argv, hosts, &nh) != 0)
		return 2;
	if (dir == NULL)
		return usage_error("%s", "testpki needs a directory: tapshare-node testpki DIR --eid EID");
	const char *eids[16];
	size_t n = 0;
	for (int i = 0; i < argc - 1; i++) {
		if (strcmp(argv[i], "--eid") != 0)
			continue;
		if (n == TS_ARRAY_LEN(eids))
			return usage_error("%s", "at most 16 --eid");
		eid_t e;
		int rc = eid_parse(argv[i + 1], &e);
		if (rc != 0) {
			fprintf(stderr, "tapshare-node: error: EID %s: %s\n", argv[i + 1], ts_strerror(rc));
			return 2;
		}
		eids[n++] = argv[i + 1];
	}
	const char *ein = opt(argc, argv, "--ein");
	if (ein == NULL)
		ein = "89049032";
	int rc = pki_testpki_generate_hosts(dir, ein, eids, n, hosts, nh);
	if (rc != 0) {
		fprintf(stderr, "tapshare-node: error: cannot generate the test PKI in %s: %s\n", dir, ts_strerror(rc));
		return 1;
	}
	fprintf(stderr, "test PKI written to %s (CI, EUM for %s, %zu eUICC, node CA, DPtls, DPauth, DPpb)\n", dir,
	    ein, n);
	return 0;
}

static int
path_in(char *out, size_t cap, const char *dir, const char *name)
{
	return ts_snprintf(out, cap, "%s/%s", dir, name);
}

/* One problem of an operator's PKI directory: "DIR/FILE: reason". */
static int
pki_refuse(const char *dir, const char *file, const char *reason)
{
	fprintf(stderr, "tapshare-node: error: %s/%s: %s\n", dir, file, reason);
	return 1;
}

/* Loads DIR/NAME.crt and DIR/NAME.key and checks they belong together. */
static int
pki_pair(const char *dir, const char *name, X509 **cert, EVP_PKEY **key)
{
	char p[PATH_MAX], f[64];
	(void)ts_snprintf(f, sizeof(f), "%s.crt", name);
	if (path_in(p, sizeof(p), dir, f) != 0 || pki_cert_load(p, cert) != 0)
		return pki_refuse(dir, f, "missing or not a PEM certificate");
	(void)ts_snprintf(f, sizeof(f), "%s.key", name);
	if (path_in(p, sizeof(p), dir, f) != 0 || pki_key_load(p, key) != 0)
		return pki_refuse(dir, f, "missing or not a PEM P-256 private key (unencrypted)");
	if (X509_check_private_key(*cert, *key) != 1) {
		ERR_clear_error();
		return pki_refuse(dir, f, "does not belong to its certificate");
	}
	return 0;
}

/*
 * An operator's existing PKI for `init --pki DIR` (docs/cli.md, the man page):
 *   ci.crt                the CI root (id-rspRole-ci)
 *   eum.crt               the trusted EUM certificate(s), a PEM bundle: each
 *                         issued by the CI, id-rspRole-eum, SGP.22 nameConstraints
 *   dpauth.crt dpauth.key DPauth, issued by the CI (id-rspRole-dp-auth)
 *   dppb.crt dppb.key     DPpb, issued by the CI (id-rspRole-dp-pb)
 *   node-ca.crt/.key      optional: the node CA (device certificates, TLS client CA)
 *   node-tls.crt/.key     with node-ca: the node's TLS certificate = DPtls
 *                         (id-rspRole-dp-tls), issued by the node CA or the CI
 * Without node-ca.* a fresh node CA and TLS certificate are generated. Every
 * problem is reported as "DIR/FILE: reason"; returns their number.
 * *has_node_ca: whether DIR brings its own node CA.
 */
static int
pki_dir_check(const char *dir, int *has_node_ca)
{
	char p[PATH_MAX], e[300], m[600];
	int bad = 0;
	X509 *ci = NULL, *auth = NULL, *pb = NULL, *nca = NULL, *tls = NULL;
	EVP_PKEY *ka = NULL, *kp = NULL, *kn = NULL, *kt = NULL;
	STACK_OF(X509) *eums = NULL;
	*has_node_ca = 0;
	if (path_in(p, sizeof(p), dir, "ci.crt") != 0 || pki_cert_load(p, &ci) != 0) {
		bad += pki_refuse(dir, "ci.crt", "missing or not a PEM certificate");
		goto out;
	}
	if (!pki_cert_has_role(ci, PKI_ROLE_CI) || X509_check_issued(ci, ci) != X509_V_OK) {
		bad += pki_refuse(dir, "ci.crt", "not an SGP.22 CI root (self-signed, certificate policy id-rspRole-ci "
						 "2.23.146.1.2.1.0)");
		goto out;
	}
	if (path_in(p, sizeof(p), dir, "eum.crt") != 0 || pki_certs_load(p, &eums) != 0) {
		bad += pki_refuse(dir, "eum.crt", "missing or not a PEM certificate bundle");
	} else {
		for (int i = 0; i < sk_X509_num(eums); i++) {
			X509 *eum = sk_X509_value(eums, i);
			int rc = pki_verify_chain(ci, NULL, eum, e, sizeof(e));
			if (rc == 0)
				rc = pki_eum_check(eum, e, sizeof(e));
			if (rc == 0)
				continue;
			char subj[256];
			X509_NAME_oneline(X509_get_subject_name(eum), subj, sizeof(subj));
			(void)ts_snprintf(m, sizeof(m), "EUM certificate %d (%s) cannot be used: %s", i + 1, subj, e);
			bad += pki_refuse(dir, "eum.crt", m);
		}
	}
	static const struct { const char *name; int role; } dp[] = { { "dpauth", PKI_ROLE_DP_AUTH },
		{ "dppb", PKI_ROLE_DP_PB } };
	for (size_t i = 0; i < TS_ARRAY_LEN(dp); i++) {
		X509 **c = i == 0 ? &auth : &pb;
		EVP_PKEY **k = i == 0 ? &ka : &kp;
		if (pki_pair(dir, dp[i].name, c, k) != 0) {
			bad++;
			continue;
		}
		if (pki_verify_role(ci, NULL, *c, dp[i].role, e, sizeof(e)) != 0) {
			char f[32];
			(void)ts_snprintf(f, sizeof(f), "%s.crt", dp[i].name);
			(void)ts_snprintf(m, sizeof(m), "cannot serve as %s: %s", pki_role_name(dp[i].role), e);
			bad += pki_refuse(dir, f, m);
		}
	}
	if (auth != NULL && pb != NULL && EVP_PKEY_eq(X509_get0_pubkey(auth), X509_get0_pubkey(pb)) == 1)
		bad += pki_refuse(dir, "dppb.crt", "has the DPauth key: SGP.22 gives DPauth and DPpb separate keys");
	if (path_in(p, sizeof(p), dir, "node-ca.crt") == 0 && access(p, F_OK) == 0) {
		*has_node_ca = 1;
		if (pki_pair(dir, "node-ca", &nca, &kn) != 0 || pki_pair(dir, "node-tls", &tls, &kt) != 0) {
			bad++;
			goto out;
		}
		if (pki_verify_chain(nca, NULL, tls, e, sizeof(e)) != 0 && pki_verify_chain(ci, NULL, tls, e, sizeof(e)) != 0) {
			(void)ts_snprintf(m, sizeof(m), "chains neither to node-ca.crt nor to ci.crt: %s", e);
			bad += pki_refuse(dir, "node-tls.crt", m);
		} else if (!pki_cert_has_role(tls, PKI_ROLE_DP_TLS)) {
			bad += pki_refuse(dir, "node-tls.crt", "not a DPtls certificate (no certificate policy "
							    "id-rspRole-dp-tls 2.23.146.1.2.1.3)");
		}
	}
out:
	ERR_clear_error();
	X509_free(ci);
	X509_free(auth);
	X509_free(pb);
	X509_free(nca);
	X509_free(tls);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kp);
	EVP_PKEY_free(kn);
	EVP_PKEY_free(kt);
	sk_X509_pop_free(eums, X509_free);
	return bad;
}

int
node_cmd_init(int argc, char **argv)
{
	const char *dir = opt(argc, argv, "--dir");
	const char *pki = opt(argc, argv, "--pki");
	const char *listen = opt(argc, argv, "--listen");
	if (dir == NULL)
		return usage_error("%s", "init needs --dir DIR");

	if (listen == NULL)
		listen = "127.0.0.1:8443";
	char abs[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	if (ts_mkdirs(dir, 0700) != 0 || realpath(dir, abs) == NULL) {
		fprintf(stderr, "tapshare-node: error: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* --config FILE: the configuration goes there (the installed layout,
	 * /etc/tapshare/node.ini), the database and PKI stay in DIR. */
	const char *config = opt(argc, argv, "--config");
	char inipath[PATH_MAX];
	if (config != NULL)
		snprintf(inipath, sizeof(inipath), "%s", config);
	else
		path_in(inipath, sizeof(inipath), abs, "node.ini");
	snprintf(p, sizeof(p), "%s", inipath);
	if (access(p, F_OK) == 0) {
		fprintf(stderr, "tapshare-node: error: %s already exists; refusing to overwrite a node\n", p);
		return 1;
	}
	char pkidir[PATH_MAX];
	path_in(pkidir, sizeof(pkidir), abs, "pki");
	if (ts_mkdirs(pkidir, 0700) != 0)
		return 1;
	if (pki == NULL) {
		fprintf(stderr, "no --pki given: generating a fresh test PKI in %s\n", pkidir);
		const char *hosts[16];
		size_t nh = 0;
		if (collect_hosts(argc, argv, hosts, &nh) != 0)
			return 2;
		if (pki_testpki_generate_hosts(pkidir, "89049032", NULL, 0, hosts, nh) != 0) {
			fprintf(stderr, "tapshare-node: error: cannot generate a test PKI\n");
			return 1;
		}
	} else {
		/* An operator's PKI: refused whole, before anything is written,
		 * when any part of it cannot be used. */
		int own_ca = 0;
		if (pki_dir_check(pki, &own_ca) != 0) {
			fprintf(stderr, "tapshare-node: error: %s is not a usable PKI (layout and profile: "
					"tapshare-node(1), docs/cli.md)\n", pki);
			return 1;
		}
		if (own_ca && opt(argc, argv, "--host") != NULL)
			return usage_error("%s", "--host names the hosts of a TLS certificate init generates; "
						 "PKIDIR brings its own node-tls.crt");
		static const char *const sgp22[] = { "ci.crt", "eum.crt", "dpauth.key", "dpauth.crt", "dppb.key",
			"dppb.crt", NULL };
		static const char *const node_tls[] = { "node-ca.key", "node-ca.crt", "node-tls.key", "node-tls.crt",
			NULL };
		for (int pass = 0; pass < 2; pass++) {
			const char *const *list = pass == 0 ? sgp22 : node_tls;
			if (pass == 1 && !own_ca)
				break;
			for (const char *const *f = list; *f; f++) {
				path_in(p, sizeof(p), pki, *f);
				path_in(q, sizeof(q), pkidir, *f);
				if (copy_file(p, q, strstr(*f, ".key") ? 0600 : 0644) != 0) {
					fprintf(stderr, "tapshare-node: error: cannot copy %s\n", p);
					return 1;
				}
			}
		}
		if (!own_ca) {
			/* No node CA given: a fresh one and its TLS certificate. */
			const char *hosts[16];
			size_t nh = 0;
			if (collect_hosts(argc, argv, hosts, &nh) != 0)
				return 2;
			if (pki_node_tls_generate(pkidir, hosts, nh) != 0) {
				fprintf(stderr, "tapshare-node: error: cannot generate the node CA and TLS certificate\n");
				return 1;
			}
			fprintf(stderr, "%s has no node-ca.crt: generated a fresh node CA and TLS certificate in %s\n",
			    pki, pkidir);
		}
	}
	char ini[8192];
	int w = snprintf(ini, sizeof(ini),
	    "# tapshare-node configuration (created by tapshare-node init)\n"
	    "[node]\n"
	    "# address to listen on; port 0 = chosen by the kernel (written to node.port)\n"
	    "listen = %s\n"
	    "# public base URL of this node (also the ES9+ smdpAddress); empty = https://<listen>\n"
	    "address =\n"
	    "database = sqlite:%s/node.db\n"
	    "outbox_workers = 2\n"
	    "# finished shares and their events are deleted this many days after they ended (0 = never)\n"
	    "retention_days = 30\n"
	    "log_level = info\n\n"
	    "[tls]\n"
	    "cert = %s/node-tls.crt\nkey = %s/node-tls.key\n"
	    "# the node CA: issues device certificates, verifies client certificates\n"
	    "ca_cert = %s/node-ca.crt\nca_key = %s/node-ca.key\n\n"
	    "[sign]\n"
	    "# SM-DP+ certificates issued by the CI (SGP.22 4.5.2): DPauth signs serverSigned1,\n"
	    "# DPpb signs smdpSigned2 and the bound profile package\n"
	    "auth_cert = %s/dpauth.crt\nauth_key = %s/dpauth.key\n"
	    "pb_cert = %s/dppb.crt\npb_key = %s/dppb.key\n\n"
	    "[trust]\n"
	    "# CI root that eUICC chains must reach, and the trusted EUM certificates (PEM bundle)\n"
	    "ci = %s/ci.crt\neum = %s/eum.crt\n",
	    listen, abs, pkidir, pkidir, pkidir, pkidir, pkidir, pkidir, pkidir, pkidir, pkidir, pkidir);
	if (w < 0 || (size_t)w >= sizeof(ini))
		return 1;
	snprintf(p, sizeof(p), "%s", inipath);
	if (ts_write_file_atomic(p, (const uint8_t *)ini, (size_t)w, 0600) != 0) {
		fprintf(stderr, "tapshare-node: error: cannot write %s\n", p);
		return 1;
	}
	node n;
	memset(&n, 0, sizeof(n));
	snprintf(n.ini, sizeof(n.ini), "%s", inipath);
	if (node_load(&n, abs) != 0)
		return 1;
	node_unload(&n);
	fprintf(stderr, "node initialised in %s (config %s, database node.db)\n", abs, inipath);
	return 0;
}

int
node_load(node *n, const char *dir)
{
	char p[PATH_MAX], err[256] = "";
	snprintf(n->dir, sizeof(n->dir), "%s", dir);
	/* The directory holds the node's keys and (by default) its database:
	 * private whatever mode it had (an existing 0755 directory included). */
	if (chmod(dir, 0700) != 0) {
		fprintf(stderr, "tapshare-node: error: cannot make %s private (0700): %s\n", dir, strerror(errno));
		return TS_EIO;
	}
	if (n->ini[0] != '\0')
		snprintf(p, sizeof(p), "%s", n->ini);
	else
		path_in(p, sizeof(p), dir, "node.ini");
	int rc = ts_config_load(p, &n->cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "tapshare-node: error: cannot read %s: %s %s\n", p, ts_strerror(rc), err);
		return rc;
	}
	if (node_conf_check(n->cfg, node_report_stderr, NULL) != 0)
		return TS_ECONFIG;
	const ts_config *c = n->cfg;
	snprintf(n->db_url, sizeof(n->db_url), "%s", ts_config_get(c, "node", "database", "sqlite:node.db"));
	snprintf(n->address, sizeof(n->address), "%s", ts_config_get(c, "node", "address", ""));
	snprintf(n->tls_cert, sizeof(n->tls_cert), "%s", ts_config_get(c, "tls", "cert", ""));
	snprintf(n->tls_key, sizeof(n->tls_key), "%s", ts_config_get(c, "tls", "key", ""));
	snprintf(n->ca_cert, sizeof(n->ca_cert), "%s", ts_config_get(c, "tls", "ca_cert", ""));
	snprintf(n->ca_key, sizeof(n->ca_key), "%s", ts_config_get(c, "tls", "ca_key", ""));
	long long workers = 2;
	if (ts_config_get_int(c, "node", "outbox_workers", 2, 1, 8, &workers) != 0) {
		fprintf(stderr, "tapshare-node: error: node.outbox_workers must be 1..8\n");
		return TS_ECONFIG;
	}
	n->nworkers = (int)workers;
	long long days = NODE_RETENTION_DAYS;
	if (ts_config_get_int(c, "node", "retention_days", NODE_RETENTION_DAYS, 0, 36500, &days) != 0) {
		fprintf(stderr, "tapshare-node: error: node.retention_days must be 0..36500\n");
		return TS_ECONFIG;
	}
	n->retention_s = (int64_t)days * 86400;
	const char *what = NULL;
	if (pki_cert_load(n->ca_cert, &n->ca) != 0)
		what = n->ca_cert;
	else if (pki_key_load(n->ca_key, &n->ca_pkey) != 0)
		what = n->ca_key;
	else if (pki_cert_load(ts_config_get(c, "sign", "auth_cert", ""), &n->dpauth_cert) != 0)
		what = ts_config_get(c, "sign", "auth_cert", "");
	else if (pki_key_load(ts_config_get(c, "sign", "auth_key", ""), &n->dpauth_key) != 0)
		what = ts_config_get(c, "sign", "auth_key", "");
	else if (pki_cert_load(ts_config_get(c, "sign", "pb_cert", ""), &n->dppb_cert) != 0)
		what = ts_config_get(c, "sign", "pb_cert", "");
	else if (pki_key_load(ts_config_get(c, "sign", "pb_key", ""), &n->dppb_key) != 0)
		what = ts_config_get(c, "sign", "pb_key", "");
	else if (pki_cert_load(ts_config_get(c, "trust", "ci", ""), &n->ci) != 0)
		what = ts_config_get(c, "trust", "ci", "");
	else if (pki_certs_load(ts_config_get(c, "trust", "eum", ""), &n->eums) != 0)
		what = ts_config_get(c, "trust", "eum", "");
	else if (pki_cert_to_der(n->dpauth_cert, &n->dpauth_cert_der, &n->dpauth_cert_der_len) != 0)
		what = "DPauth certificate (DER)";
	else if (pki_cert_to_der(n->dppb_cert, &n->dppb_cert_der, &n->dppb_cert_der_len) != 0)
		what = "DPpb certificate (DER)";
	if (what != NULL) {
		fprintf(stderr, "tapshare-node: error: cannot load %s\n", what);
		return TS_ECONFIG;
	}
	/* Permitted EID prefixes: the union of the EUMs' nameConstraints. Every
	 * EUM passed node_conf_check (chain, role, nameConstraints); one that
	 * does not is refused there, never skipped here. */
	n->ein_prefixes[0] = '\0';
	for (int i = 0; i < sk_X509_num(n->eums); i++) {
		char pf[512];
		size_t l = strlen(n->ein_prefixes);
		if (pki_cert_ein_prefixes(sk_X509_value(n->eums, i), pf, sizeof(pf)) != 0 ||
		    ts_snprintf(n->ein_prefixes + l, sizeof(n->ein_prefixes) - l, "%s%s", l ? "," : "", pf) != 0) {
			fprintf(stderr, "tapshare-node: error: EUM certificate %d: nameConstraints unusable or "
					"too many prefixes (at most %zu characters in all)\n",
			    i + 1, sizeof(n->ein_prefixes) - 1);
			return TS_ECONFIG;
		}
	}
	if (n->ein_prefixes[0] == '\0') {
		fprintf(stderr, "tapshare-node: error: no EUM certificate in %s\n", ts_config_get(c, "trust", "eum", ""));
		return TS_ECONFIG;
	}
	/* The node key seals secrets at rest (SIM Ki/OPc while pending). */
	if (path_in(p, sizeof(p), n->dir, "node.key") != 0 || (rc = sealed_key_load(p, n->secret_key)) != 0) {
		fprintf(stderr, "tapshare-node: error: cannot load the node key %s (32 bytes, mode 0600)\n", p);
		return rc != 0 ? rc : TS_ECONFIG;
	}
	if (n->no_store)
		return 0; /* a reload (conf.c): the running node keeps its database */
	store_opts so = { .secret_key = n->secret_key };
	if ((rc = store_open_opts(n->db_url, &so, &n->st)) != 0) {
		char shown[sizeof(n->db_url)];
		ts_redact_url(n->db_url, shown, sizeof(shown));
		fprintf(stderr, "tapshare-node: error: cannot open the database %s: %s\n", shown, ts_strerror(rc));
		return rc;
	}
	return 0;
}

void
node_unload(node *n)
{
	store_close(n->st);
	n->st = NULL;
	OPENSSL_cleanse(n->secret_key, sizeof(n->secret_key));
	X509_free(n->ca);
	EVP_PKEY_free(n->ca_pkey);
	X509_free(n->dpauth_cert);
	EVP_PKEY_free(n->dpauth_key);
	X509_free(n->dppb_cert);
	EVP_PKEY_free(n->dppb_key);
	X509_free(n->ci);
	sk_X509_pop_free(n->eums, X509_free);
	free(n->dpauth_cert_der);
	free(n->dppb_cert_der);
	ts_config_free(n->cfg);
	n->ca = NULL;
	n->ca_pkey = NULL;
	n->dpauth_cert = NULL;
	n->dpauth_key = NULL;
	n->dppb_cert = NULL;
	n->dppb_key = NULL;
	n->ci = NULL;
	n->eums = NULL;
	n->dpauth_cert_der = NULL;
	n->dppb_cert_der = NULL;
	n->cfg = NULL;
}

static int
load_dir(int argc, char **argv, node *n)
{
	char dir[sizeof(n->dir)];
	memset(n, 0, sizeof(*n));
	if (node_locate(argc, argv, dir, sizeof(dir), n->ini, sizeof(n->ini)) != 0) {
		fprintf(stderr, "tapshare-node: error: --dir or --config path too long\n");
		return 2;
	}
	if (node_load(n, dir) != 0)
		return 1;
	/* the store-busy test hook reaches the admin commands' reads too */
	if (store_fault_busy(n->st, store_test_hook("TAPSHARE_NODE_STORE_BUSY")) != 0) {
		node_unload(n);
		return 1;
	}
	return 0;
}

const char *
node_arg_opt(int argc, char **argv, const char *name)
{
	return opt(argc, argv, name);
}

int
node_arg_flag(int argc, char **argv, const char *name)
{
	return flag(argc, argv, name);
}

const char *
node_arg_positional(int argc, char **argv, int k, const char *const *with_value)
{
	return positional(argc, argv, k, with_value);
}

int
node_admin_open(int argc, char **argv, node *n)
{
	return load_dir(argc, argv, n);
}

static int
new_code(node *n, int64_t user_id, const char *name)
{
	uint8_t raw[ENROLL_CODE_BYTES];
	char hex[2 * ENROLL_CODE_BYTES + 1], code[32], h[65];
	if (ts_random(raw, sizeof(raw)) != 0)
		return 1;
	ts_hex_encode(raw, sizeof(raw), hex, sizeof(hex));
	snprintf(code, sizeof(code), "%.5s-%.5s-%.5s-%.5s", hex, hex + 5, hex + 10, hex + 15);
	secret_hash(code, h);
	if (n->st->ops->enroll_code_add(n->st, h, user_id, ts_now() + NODE_ENROLL_TTL_S) != 0)
		return 1;
	if (cmdline_json()) {
		cmdline_ok(json_pack("{s:s,s:s,s:I}", "user", name, "enrollment_code", code, "expires_at",
		    (json_int_t)(ts_now() + NODE_ENROLL_TTL_S)));
	} else {
		fprintf(stderr, "one-time enrollment code for %s (valid 7 days):\n", name);
		printf("%s\n", code);
	}
	OPENSSL_cleanse(code, sizeof(code));
	return 0;
}

int
node_cmd_user(int argc, char **argv)
{
	static const char *const wv[] = { "--dir", "--config", NULL };
	const char *sub = positional(argc, argv, 1, wv), *name = positional(argc, argv, 2, wv);
	if (sub != NULL && (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "remove") == 0))
		return node_acct_user(argc, argv);
	if (sub == NULL || name == NULL || (strcmp(sub, "add") != 0 && strcmp(sub, "code") != 0))
		return usage_error("%s", "usage: tapshare-node user add|code|show|remove NAME | user list  (--dir DIR)");
	if (strlen(name) == 0 || strlen(name) > 64)
		return usage_error("%s", "user names are 1..64 characters");
	/* "#<id>" names the tombstone of a removed account (store.h user_remove) */
	if (name[0] == '#')
		return usage_error("%s", "user names may not begin with '#'");
	node n;
	int rc = load_dir(argc, argv, &n);
	if (rc != 0)
		return rc;
	int64_t uid;
	if (strcmp(sub, "add") == 0) {
		char pass[1024], prompt[128];
		snprintf(prompt, sizeof(prompt), "passphrase for %s (not shown): ", name);
		if (ts_read_passphrase(prompt, pass, sizeof(pass)) != 0) {
			OPENSSL_cleanse(pass, sizeof(pass));
			fprintf(stderr, "tapshare-node: error: no passphrase on standard input (or longer than %zu)\n",
			    sizeof(pass) - 1);
			rc = 1;
			goto done;
		}
		if (strlen(pass) < 8) {
			fprintf(stderr, "tapshare-node: error: the passphrase must have at least 8 characters\n");
			rc = 1;
			goto done;
		}
		char hash[256];
		int hrc = passwd_hash(pass, hash, sizeof(hash));
		OPENSSL_cleanse(pass, sizeof(pass));
		if (hrc != 0 || n.st->ops->user_add(n.st, name, hash, &uid) != 0) {
			fprintf(stderr, "tapshare-node: error: cannot add user %s (exists already?)\n", name);
			rc = 1;
			goto done;
		}
	} else if ((rc = node_admin_user(&n, name, &uid)) != 0) {
		goto done;
	}
	rc = new_code(&n, uid, name);
done:
	node_unload(&n);
	return rc;
}

int
node_cmd_provider(int argc, char **argv)
{
	static const char *const wv[] = { "--dir", "--config", "--ca", NULL };
	const char *sub = positional(argc, argv, 1, wv), *name = positional(argc, argv, 2, wv);
	const char *url = positional(argc, argv, 3, wv);
	if (sub != NULL && (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "remove") == 0))
		return node_acct_provider(argc, argv);
	if (sub == NULL || strcmp(sub, "add") != 0 || name == NULL || url == NULL)
		return usage_error("%s", "usage: tapshare-node provider add NAME URL --dir DIR [--ca FILE]");
	if (strncmp(url, "https://", 8) != 0)
		return usage_error("provider URL must be https:// (got %s)", url);
	node n;
	int rc = load_dir(argc, argv, &n);
	if (rc != 0)
		return rc;
	store_provider p;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.url, sizeof(p.url), "%s", url);
	const char *ca = opt(argc, argv, "--ca");
	char abs[PATH_MAX];
	if (ca != NULL && realpath(ca, abs) == NULL) {
		fprintf(stderr, "tapshare-node: error: %s: %s\n", ca, strerror(errno));
		node_unload(&n);
		return 1;
	}
	if (ts_snprintf(p.ca_file, sizeof(p.ca_file), "%s", ca ? abs : n.ca_cert) != 0 ||
	    n.st->ops->provider_put(n.st, &p) != 0)
		rc = 1;
	else
		fprintf(stderr, "provider %s -> %s\n", name, url);
	node_unload(&n);
	return rc;
}

int
node_cmd_app(int argc, char **argv)
{
	static const char *const wv[] = { "--dir", "--config", "--user", "--app-id", "--name", "--kind", "--provider",
		NULL };
	const char *sub = positional(argc, argv, 1, wv);
	if (sub != NULL && (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "remove") == 0))
		return node_acct_app(argc, argv);
	const char *user = opt(argc, argv, "--user"), *app_id = opt(argc, argv, "--app-id");
	const char *name = opt(argc, argv, "--name"), *kind = opt(argc, argv, "--kind");
	const char *prov = opt(argc, argv, "--provider");
	if (sub == NULL || strcmp(sub, "add") != 0 || !user || !app_id || !name || !kind || !prov)
		return usage_error("%s", "usage: tapshare-node app add --dir DIR --user NAME --app-id ID --name TEXT"
					 " --kind sim|bankid|service --provider NAME [--not-shareable]");
	if (strcmp(kind, "sim") != 0 && strcmp(kind, "bankid") != 0 && strcmp(kind, "service") != 0)
		return usage_error("--kind must be sim, bankid or service (got %s)", kind);
	if (strlen(app_id) >= STORE_STR_MAX || strlen(name) >= STORE_STR_MAX)
		return usage_error("%s", "--app-id and --name are at most 128 characters");
	node n;
	int rc = load_dir(argc, argv, &n);
	if (rc != 0)
		return rc;
	store_app a;
	memset(&a, 0, sizeof(a));
	store_provider p;
	store_app old;
	int arc = TS_ENOTFOUND, prc = 0;
	if ((rc = node_admin_user(&n, user, &a.user_id)) != 0) {
		/* said why */
	} else if (!flag(argc, argv, "--replace") && (arc = n.st->ops->app_get(n.st, app_id, &old)) == 0) {
		/* an app id is one application in one SE: registering it again
		 * would silently hand it to another user or provider */
		rc = cmdline_fail(1, "app_exists", NULL,
		    "app %s already exists (%s, %s, provider %s): give --replace to overwrite it", app_id, old.name,
		    old.kind, old.provider);
	} else if (arc != TS_ENOTFOUND) { /* busy: it may exist */
		rc = node_admin_read_failed("app", app_id, arc);
	} else if ((prc = n.st->ops->provider_get(n.st, prov, &p)) != 0 && prc != TS_ENOTFOUND) {
		rc = node_admin_read_failed("provider", prov, prc);
	} else if (prc != 0) {
		fprintf(stderr, "tapshare-node: error: no provider %s (add it with tapshare-node provider add)\n", prov);
		rc = 1;
	} else {
		snprintf(a.app_id, sizeof(a.app_id), "%s", app_id);
		snprintf(a.name, sizeof(a.name), "%s", name);
		snprintf(a.kind, sizeof(a.kind), "%s", kind);
		snprintf(a.provider, sizeof(a.provider), "%s", prov);
		a.shareable = !flag(argc, argv, "--not-shareable");
		if (n.st->ops->app_put(n.st, &a) != 0)
			rc = 1;
		else
			fprintf(stderr, "app %s (%s, %s) registered for %s\n", app_id, kind, prov, user);
	}
	node_unload(&n);
	return rc;
}

int
node_cmd_shares(int argc, char **argv)
{
	node n;
	int rc = load_dir(argc, argv, &n);
	if (rc != 0)
		return rc;
	json_t *arr = NULL;
	if (n.st->ops->shares_json(n.st, -1, &arr) != 0) {
		node_unload(&n);
		return 1;
	}
	if (cmdline_json()) {
		cmdline_ok(json_incref(arr));
	} else {
		size_t i;
		json_t *v;
		printf("%-32s  %-32s  %-16s  %-14s  %s\n", "SHARE", "EID", "APP", "STATE", "ASSOCIATED APP");
		json_array_foreach(arr, i, v) {
			printf("%-32s  %-32s  %-16s  %-14s  %s\n", json_string_value(json_object_get(v, "share_id")),
			    json_string_value(json_object_get(v, "eid")), json_string_value(json_object_get(v, "app_id")),
			    json_string_value(json_object_get(v, "state")),
			    json_string_value(json_object_get(v, "associated_app_id")));
		}
	}
	json_decref(arr);
	node_unload(&n);
	return 0;
}

/* tapshare-node device list [--user NAME] [--json] | device revoke DEVICE_ID */
int
node_cmd_device(int argc, char **argv)
{
	static const char *const wv[] = { "--dir", "--config", "--user", NULL };
	const char *sub = positional(argc, argv, 1, wv), *id = positional(argc, argv, 2, wv);
	if (sub != NULL && (strcmp(sub, "show") == 0 || strcmp(sub, "remove") == 0))
		return node_acct_device(argc, argv);
	if (sub == NULL || (strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) ||
	    (strcmp(sub, "revoke") == 0 && id == NULL))
		return usage_error("%s", "usage: tapshare-node device list [--user NAME] [--json] --dir DIR\n"
					 "       tapshare-node device revoke DEVICE_ID --dir DIR");
	node n;
	int rc = load_dir(argc, argv, &n);
	if (rc != 0)
		return rc;
	if (strcmp(sub, "revoke") == 0) {
		int64_t owner = -1;
		rc = auth_revoke_device(n.st, -1, id, &owner);
		if (rc == 0) {
			char uname[STORE_STR_MAX] = "?";
			n.st->ops->user_get(n.st, owner, uname, sizeof(uname), NULL, 0);
			fprintf(stderr, "device %s of %s revoked: refused on every endpoint from now on\n", id, uname);
		} else {
			fprintf(stderr, "tapshare-node: error: cannot revoke device %s: %s\n", id,
			    rc == TS_ENOTFOUND ? "no such device" : rc == TS_ESTATE ? "already revoked" : ts_strerror(rc));
			rc = 1;
		}
		node_unload(&n);
		return rc;
	}
	int64_t uid = -1;
	const char *user = opt(argc, argv, "--user");
	if (user != NULL && node_admin_user(&n, user, &uid) != 0) {
		node_unload(&n);
		return 1;
	}
	json_t *arr = NULL;
	if (n.st->ops->devices_json(n.st, uid, &arr) != 0) {
		node_unload(&n);
		return 1;
	}
	if (cmdline_json()) {
		cmdline_ok(json_incref(arr));
	} else {
		size_t i;
		json_t *v;
		printf("%-64s  %-12s  %-8s  %s\n", "DEVICE", "USER", "STATE", "NAME");
		json_array_foreach(arr, i, v) {
			char name[STORE_STR_MAX];
			ts_log_escape(json_string_value(json_object_get(v, "name")), name, sizeof(name));
			printf("%-64s  %-12s  %-8s  %s\n", json_string_value(json_object_get(v, "device_id")),
			    json_string_value(json_object_get(v, "user")),
			    json_integer_value(json_object_get(v, "revoked_at")) ? "revoked" : "active", name);
		}
	}
	json_decref(arr);
	node_unload(&n);
	return 0;
}

/* tapshare-node companion release EID: a companion that changed hands may
 * then receive shares from its new owner (issue 8). */
int
node_cmd_companion(int argc, char **argv)
{
	static const char *const wv[] = { "--dir", NULL };
	const char *sub = positional(argc, argv, 1, wv), *eid_s = positional(argc, argv, 2, wv);
	eid_t eid;
	if (sub == NULL || strcmp(sub, "release") != 0 || eid_s == NULL)
		return usage_error("%s", "usage: tapshare-node companion release EID --dir DIR");
	if (eid_parse(eid_s, &eid) != 0)
		return usage_error("not a valid EID: %s", eid_s);
	node n;
	int rc = load_dir(argc, argv, &n);
	if (rc != 0)
		return rc;
	rc = n.st->ops->companion_release(n.st, eid.digits);
	if (rc == 0)
		fprintf(stderr, "companion %s released: the next user whose share it installs owns it\n", eid.digits);
	else
		fprintf(stderr, "tapshare-node: error: companion %s: %s\n", eid.digits,
		    rc == TS_ENOTFOUND ? "belongs to nobody" : ts_strerror(rc));
	node_unload(&n);
	return rc == 0 ? 0 : 1;
}
