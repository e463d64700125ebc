/*
 * sp_conf.h — tapshare-sp's directory: sp.ini (written by `init`, read by
 * `run` and `decisions`), the default policy.ini, copies of the TLS files.
 *
 * sp.ini:
 *   [sp]   listen = 127.0.0.1:9443   database = sp.db   policy = policy.ini
 *          timeout_s = 60
 *   [tls]  cert = sp-tls.crt   key = sp-tls.key   client_ca = node-ca.crt
 *          allowed_clients = KEYID,...   SHA-256 public-key ids (pki_pubkey_id)
 *                                        of the clients allowed in; empty = any
 *                                        certificate chaining to client_ca
 *   [ca]   cert = provider-ca.crt   key = provider-ca.key   the bank-ID CA
 *          (sp_ca.h; the defaults when a directory has no [ca] section)
 * Relative paths are relative to the directory (installed: files relative to
 * sp.ini's directory, the database to the state directory).
 *
 * Why allowed_clients: the node CA also issues the primary devices'
 * certificates, so "chains to the node CA" alone would let a phone call the
 * provider directly. init pins PKIDIR/node-tls.crt's key.
 */
#ifndef TS_SP_CONF_H
#define TS_SP_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

#define SP_PATH_MAX 1024
#define SP_DEFAULT_LISTEN "127.0.0.1:9443"

typedef struct sp_conf {
	char dir[SP_PATH_MAX];
	char ini[SP_PATH_MAX];
	char listen_addr[128];
	uint16_t port;
	char db[SP_PATH_MAX];
	char policy[SP_PATH_MAX];
	char cert[SP_PATH_MAX];
	char key[SP_PATH_MAX];
	char client_ca[SP_PATH_MAX];
	char ca_cert[SP_PATH_MAX];   /* bank-ID CA certificate (certifyKey) */
	char ca_key[SP_PATH_MAX];    /* its key (0600) */
	char ca_name[64];            /* its CN when it has to be created */
	char port_file[SP_PATH_MAX]; /* DIR/sp.port */
	char allowed_clients[1024];  /* comma-separated key ids, "" = any */
	int timeout_s;
} sp_conf;

/* "HOST:PORT" or "[V6]:PORT" -> host and port (0..65535). TS_EINVAL. */
int sp_parse_listen(const char *s, char *host, size_t cap, uint16_t *port);

/* Reads DIR/sp.ini. TS_ENOTFOUND when the directory is not initialised,
 * TS_ECONFIG with a reason in errbuf. */
int sp_conf_load(const char *dir, sp_conf *out, char *errbuf, size_t errcap);
/* The same for the installed layout: the configuration file ini (files it
 * names relative to its directory, e.g. /etc/tapshare) and the state
 * directory statedir (database, sp.port; e.g. /var/lib/tapshare). */
int sp_conf_load_files(const char *ini, const char *statedir, sp_conf *out, char *errbuf,
    size_t errcap);

/* Creates DIR (0700) with sp.ini, policy.ini (kept if present), copies of
 * PKIDIR/sp-tls.crt, sp-tls.key (0600), node-ca.crt, an empty sp.db and the
 * bank-ID CA provider-ca.crt + provider-ca.key (0600; kept if present);
 * allowed_clients = the key id of PKIDIR/node-tls.crt when present.
 * TS_EEXIST if DIR/sp.ini exists. */
int sp_conf_init(const char *dir, const char *pkidir, const char *listen, char *errbuf,
    size_t errcap);

/* `tapshare-sp check`: sp.ini and its policy file, every problem reported
 * ("FILE:LINE: [section] key: problem"). Returns their number. */
size_t sp_conf_check(const char *ini, const char *statedir, ts_config_report_fn report, void *arg);

/* 1 if id is in the conf's allowed_clients (or that list is empty), else 0. */
int sp_conf_client_allowed(const sp_conf *c, const char *id);

#endif
