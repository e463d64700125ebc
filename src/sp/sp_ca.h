/*
 * sp_ca.h — the provider's own certification authority, which certifies the
 * key pair a companion's secure element generated for a bank-ID credential
 * (certifyKey, sp.h). The CA is DIR/provider-ca.key (0600) + provider-ca.crt,
 * a self-signed P-256 root ("<provider> bank-ID CA") made by `tapshare-sp
 * init`, or at the first certifyKey of a directory initialised before.
 *
 * Certificates issued: subject O = "tapshare bank-ID", CN = the bank account,
 * serialNumber = the associated app id; digitalSignature end entity
 * (PKI_PROFILE_SIGNING); valid until the grant's notAfter, or SP_CERT_DAYS
 * when the grant is unlimited.
 */
#ifndef TS_SP_CA_H
#define TS_SP_CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define SP_CA_DAYS 3650
#define SP_CERT_DAYS 825
#define SP_CERT_ORG "tapshare bank-ID"
#define SP_CA_CN_MAX 64 /* X.520 ub-common-name */

typedef struct sp_ca {
	X509 *cert;
	EVP_PKEY *key;
} sp_ca;

/* The CA's CN for provider directory dir: "<last path element> bank-ID CA"
 * (printable ASCII, at most SP_CA_CN_MAX - 1 chars). */
int sp_ca_name(const char *dir, char *cn, size_t cap);

/* Loads the CA from crt_path / key_path (and checks that they belong
 * together). When neither file exists and create is set, makes a new CA
 * named cn first. TS_ENOTFOUND (create not set), TS_ECONFIG (only one of
 * the two files exists, or they do not match). Caller frees with sp_ca_free. */
int sp_ca_open(const char *crt_path, const char *key_path, const char *cn, int create,
    sp_ca **out);
void sp_ca_free(sp_ca *ca); /* NULL ok */

/* Issues the certificate for subject (a P-256 public key): CN account,
 * serialNumber assoc_id. not_after 0 = SP_CERT_DAYS from now, else exactly
 * not_after (must be > now). *der is malloc'ed (caller frees). */
int sp_ca_issue(const sp_ca *ca, EVP_PKEY *subject, const char *account,
    const char *assoc_id, int64_t not_after, int64_t now, uint8_t **der, size_t *der_len);

#endif
