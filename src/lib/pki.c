/*
 * pki.c — keys, CSRs, certificates and chain verification on OpenSSL 3 (EVP /
 * X509 APIs only; no deprecated EC_KEY calls). Contracts in pki.h.
 *
 * OpenSSL failures come back as TS_ECRYPTO with OpenSSL's error queue left in
 * place so the caller can log pki_last_error(); expected negative outcomes
 * (a bad signature, an untrusted chain) come back as TS_EVERIFY with the
 * queue cleared.
 */
#include "lib/pki.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/ts_err.h"
#include "lib/util.h"

#define PKI_MAX_PEM (1u << 20)      /* a PEM file/bundle larger than this is refused */
#define PKI_SERIAL_LEN 16           /* 128-bit serial numbers */
#define PKI_BACKDATE_S 60           /* notBefore = now - 60 s against clock skew */
#define PKI_MAX_DAYS 36500
#define PKI_EIN_MAX_DIGITS (EID_DIGITS - 1)
#define PKI_LEAF_DAYS 825
#define PKI_CA_DAYS 3650
#define PKI_FIELD_LEN 32            /* r and s of a P-256 signature */

/* ---- helpers ------------------------------------------------------------ */

static pthread_once_t ein_oid_once = PTHREAD_ONCE_INIT;
static int ein_oid_nid = NID_undef;

static void
ein_oid_register(void)
{
	int nid = OBJ_txt2nid(PKI_OID_EIN_PREFIXES);
	if (nid == NID_undef)
		nid = OBJ_create(PKI_OID_EIN_PREFIXES, "tsEinPrefixes",
		    "tapshare EUM permitted EID prefixes");
	ein_oid_nid = nid;
}

/* NID of the EIN-prefix extension (registered once per process). */
static int
ein_nid(void)
{
	pthread_once(&ein_oid_once, ein_oid_register);
	return ein_oid_nid;
}

/* 1 if key is an EC key on P-256. */
static int
is_p256(const EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	if (key == NULL || !EVP_PKEY_is_a(key, "EC"))
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
	        sizeof(group), &glen)) {
		ERR_clear_error();
		return 0;
	}
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* Copies the contents of a memory BIO into a malloc'ed NUL-terminated string. */
static int
bio_to_str(BIO *bio, char **out)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	if (n < 0 || data == NULL)
		return TS_ECRYPTO;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return TS_ENOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	return 0;
}

static int
write_bio_file(BIO *bio, const char *path, unsigned mode)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	if (n < 0 || data == NULL)
		return TS_ECRYPTO;
	return ts_write_file_atomic(path, (const uint8_t *)data, (size_t)n, mode);
}

/* ---- keys --------------------------------------------------------------- */

/* Passphrase callback that refuses: an encrypted key file is an error, never
 * an interactive prompt (OpenSSL's default callback reads the terminal). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
pki_keygen(EVP_PKEY **out)
{
	if (out == NULL)
		return TS_EINVAL;
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return *out != NULL ? 0 : TS_ECRYPTO;
}

int
pki_key_save(const EVP_PKEY *key, const char *path)
{
	int rc = TS_ECRYPTO;
	BIO *bio = NULL;
	if (key == NULL || path == NULL)
		return TS_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		goto fail;
	rc = write_bio_file(bio, path, 0600);
fail:
	/* The memory BIO held the private key in PEM: wipe before freeing. */
	if (bio != NULL) {
		char *data = NULL;
		long n = BIO_get_mem_data(bio, &data);
		if (n > 0 && data != NULL)
			OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(bio);
	return rc;
}

int
pki_key_load(const char *path, EVP_PKEY **out)
{
	int rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if ((rc = ts_read_file(path, PKI_MAX_PEM, &buf, &len)) != 0)
		goto fail;
	rc = TS_ECRYPTO;
	if (len > INT_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto fail;
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (*out == NULL) {
		rc = TS_EPARSE;
		goto fail;
	}
	if (!is_p256(*out)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		rc = TS_EUNSUPP;
		goto fail;
	}
	rc = 0;
fail:
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

/* ---- certificates: PEM / DER -------------------------------------------- */

int
pki_cert_save(const X509 *cert, const char *path)
{
	int rc = TS_ECRYPTO;
	BIO *bio = NULL;
	if (cert == NULL || path == NULL)
		return TS_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	if (!PEM_write_bio_X509(bio, cert))
		goto fail;
	rc = write_bio_file(bio, path, 0644);
fail:
	BIO_free(bio);
	return rc;
}

int
pki_cert_load(const char *path, X509 **out)
{
	int rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if ((rc = ts_read_file(path, PKI_MAX_PEM, &buf, &len)) != 0)
		return rc;
	rc = pki_cert_from_pem((const char *)buf, len, out);
	free(buf);
	return rc;
}

int
pki_certs_load(const char *path, STACK_OF(X509) **out)
{
	int rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;
	if (path == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if ((rc = ts_read_file(path, PKI_MAX_PEM, &buf, &len)) != 0)
		goto fail;
	rc = TS_ECRYPTO;
	if (len > INT_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto fail;
	if ((sk = sk_X509_new_null()) == NULL)
		goto fail;
	ERR_clear_error(); /* the end-of-input check below reads the queue */
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x))
			goto fail;
		x = NULL;
	}
	/* The loop ends on "no start line" at EOF; anything else is an error. */
	unsigned long e = ERR_peek_last_error();
	if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		rc = TS_EPARSE;
		goto fail;
	}
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		rc = TS_ENOTFOUND;
		goto fail;
	}
	*out = sk;
	sk = NULL;
	rc = 0;
fail:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	free(buf);
	return rc;
}

int
pki_cert_to_pem(const X509 *cert, char **out)
{
	int rc = TS_ECRYPTO;
	BIO *bio = NULL;
	if (cert == NULL || out == NULL)
		return TS_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	if (!PEM_write_bio_X509(bio, cert))
		goto fail;
	rc = bio_to_str(bio, out);
fail:
	BIO_free(bio);
	return rc;
}

int
pki_cert_from_pem(const char *pem, size_t len, X509 **out)
{
	int rc = TS_ECRYPTO;
	BIO *bio = NULL;
	if (pem == NULL || out == NULL || len > PKI_MAX_PEM)
		return TS_EINVAL;
	*out = NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto fail;
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (*out == NULL) {
		ERR_clear_error();
		rc = TS_EPARSE;
		goto fail;
	}
	rc = 0;
fail:
	BIO_free(bio);
	return rc;
}

int
pki_cert_to_der(const X509 *cert, uint8_t **out, size_t *outlen)
{
	if (cert == NULL || out == NULL || outlen == NULL)
		return TS_EINVAL;
	int n = i2d_X509(cert, NULL);
	if (n <= 0)
		return TS_ECRYPTO;
	uint8_t *buf = malloc((size_t)n);
	if (buf == NULL)
		return TS_ENOMEM;
	uint8_t *p = buf;
	if (i2d_X509(cert, &p) != n) {
		free(buf);
		return TS_ECRYPTO;
	}
	*out = buf;
	*outlen = (size_t)n;
	return 0;
}

int
pki_cert_from_der(const uint8_t *der, size_t len, X509 **out)
{
	if (der == NULL || out == NULL || len == 0 || len > LONG_MAX)
		return TS_EINVAL;
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL) {
		ERR_clear_error();
		*out = NULL;
		return TS_EPARSE;
	}
	if (p != der + len) {
		X509_free(x);
		*out = NULL;
		return TS_ETRAILING;
	}
	*out = x;
	return 0;
}

/* ---- CSRs --------------------------------------------------------------- */

int
pki_csr_new(EVP_PKEY *key, const char *cn, X509_REQ **out)
{
	int rc = TS_ECRYPTO;
	X509_REQ *req = NULL;
	X509_NAME *name;
	if (key == NULL || cn == NULL || cn[0] == '\0' || out == NULL)
		return TS_EINVAL;
	if (!is_p256(key))
		return TS_EUNSUPP;
	if ((req = X509_REQ_new()) == NULL)
		goto fail;
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1))
		goto fail;
	name = X509_REQ_get_subject_name(req);
	if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	        (const unsigned char *)cn, -1, -1, 0))
		goto fail;
	if (!X509_REQ_set_pubkey(req, key))
		goto fail;
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto fail;
	*out = req;
	req = NULL;
	rc = 0;
fail:
	X509_REQ_free(req);
	return rc;
}

int
pki_csr_to_pem(const X509_REQ *req, char **out)
{
	int rc = TS_ECRYPTO;
	BIO *bio = NULL;
	if (req == NULL || out == NULL)
		return TS_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	if (!PEM_write_bio_X509_REQ(bio, req))
		goto fail;
	rc = bio_to_str(bio, out);
fail:
	BIO_free(bio);
	return rc;
}

int
pki_csr_from_pem(const char *pem, size_t len, X509_REQ **out)
{
	int rc = TS_EPARSE;
	BIO *bio = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	if (pem == NULL || out == NULL || len > PKI_MAX_PEM)
		return TS_EINVAL;
	*out = NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rc = TS_ECRYPTO;
		goto fail;
	}
	if ((req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) == NULL)
		goto fail;
	if ((pub = X509_REQ_get0_pubkey(req)) == NULL)
		goto fail;
	if (!is_p256(pub)) {
		rc = TS_EUNSUPP;
		goto fail;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		rc = TS_EVERIFY;
		goto fail;
	}
	*out = req;
	req = NULL;
	rc = 0;
fail:
	if (rc != 0)
		ERR_clear_error();
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

/* ---- issuing ------------------------------------------------------------ */

/* Checks "d{1,31}(,d{1,31})*". */
static int
ein_list_valid(const char *s)
{
	size_t run = 0;
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s == ',') {
			if (run == 0)
				return 0;
			run = 0;
		} else if (*s >= '0' && *s <= '9') {
			if (++run > PKI_EIN_MAX_DIGITS)
				return 0;
		} else {
			return 0;
		}
	}
	return run > 0;
}

static int
add_ext_conf(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (ext == NULL)
		return TS_ECRYPTO;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : TS_ECRYPTO;
}

/* The EUM extension: a non-critical extension whose extnValue is the DER of a
 * UTF8String holding the comma-separated prefix list. */
static int
add_ext_ein(X509 *cert, const char *prefixes)
{
	int rc = TS_ECRYPTO;
	ASN1_UTF8STRING *u = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;
	uint8_t *der = NULL;
	int nid = ein_nid();
	if (nid == NID_undef)
		goto fail;
	if ((u = ASN1_UTF8STRING_new()) == NULL)
		goto fail;
	if (!ASN1_STRING_set(u, prefixes, -1))
		goto fail;
	int n = i2d_ASN1_UTF8STRING(u, &der);
	if (n <= 0)
		goto fail;
	if ((os = ASN1_OCTET_STRING_new()) == NULL || !ASN1_OCTET_STRING_set(os, der, n))
		goto fail;
	if ((ext = X509_EXTENSION_create_by_NID(NULL, nid, 0, os)) == NULL)
		goto fail;
	if (!X509_add_ext(cert, ext, -1))
		goto fail;
	rc = 0;
fail:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	ASN1_UTF8STRING_free(u);
	return rc;
}

static int
add_name_entry(X509_NAME *name, int nid, const char *value)
{
	if (value == NULL)
		return 0;
	if (value[0] == '\0')
		return TS_EINVAL;
	return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
	           (const unsigned char *)value, -1, -1, 0)
	    ? 0
	    : TS_EINVAL;
}

/* Random positive 128-bit serial (top bit cleared so the DER INTEGER stays
 * 16 bytes, never zero). */
static int
set_random_serial(X509 *cert)
{
	int rc = TS_ECRYPTO;
	uint8_t r[PKI_SERIAL_LEN];
	BIGNUM *bn = NULL;
	if (ts_random(r, sizeof(r)) != 0)
		goto fail;
	r[0] &= 0x7f;
	r[0] |= 0x40;
	if ((bn = BN_bin2bn(r, sizeof(r), NULL)) == NULL)
		goto fail;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		goto fail;
	rc = 0;
fail:
	BN_free(bn);
	return rc;
}

/* Shared by pki_issue and pki_issue_csr: subject_pub is only the public key. */
static int
issue(const X509 *issuer_cert, EVP_PKEY *issuer_key, EVP_PKEY *subject_pub,
    const pki_issue_opts *opts, X509 **out)
{
	int rc = TS_EINVAL;
	X509 *cert = NULL;
	X509_NAME *name;
	X509V3_CTX ctx;
	eid_t eid;

	if (issuer_key == NULL || subject_pub == NULL || opts == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if (opts->cn == NULL || opts->cn[0] == '\0' || opts->days <= 0 ||
	    opts->days > PKI_MAX_DAYS)
		return TS_EINVAL;
	if (opts->profile < PKI_PROFILE_ROOT_CA || opts->profile > PKI_PROFILE_TLS_CLIENT)
		return TS_EINVAL;
	if (!is_p256(issuer_key) || !is_p256(subject_pub))
		return TS_EUNSUPP;
	if (opts->profile == PKI_PROFILE_EUICC &&
	    (opts->serial_number == NULL || eid_parse(opts->serial_number, &eid) != 0))
		return TS_EINVAL;
	if (opts->ein_prefixes != NULL && !ein_list_valid(opts->ein_prefixes))
		return TS_EINVAL;
	/* Self-signed only for a root, and then issuer and subject key coincide. */
	if (issuer_cert == NULL) {
		if (opts->profile != PKI_PROFILE_ROOT_CA || EVP_PKEY_eq(issuer_key, subject_pub) != 1)
			return TS_EINVAL;
	} else if (opts->profile == PKI_PROFILE_ROOT_CA) {
		return TS_EINVAL;
	}

	rc = TS_ECRYPTO;
	if ((cert = X509_new()) == NULL)
		goto fail;
	if (!X509_set_version(cert, X509_VERSION_3))
		goto fail;
	if ((rc = set_random_serial(cert)) != 0)
		goto fail;
	rc = TS_ECRYPTO;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -PKI_BACKDATE_S) == NULL)
		goto fail;
	if (X509_time_adj_ex(X509_getm_notAfter(cert), opts->days, 0, NULL) == NULL)
		goto fail;
	if (!X509_set_pubkey(cert, subject_pub))
		goto fail;

	name = X509_get_subject_name(cert);
	if ((rc = add_name_entry(name, NID_organizationName, opts->org)) != 0 ||
	    (rc = add_name_entry(name, NID_commonName, opts->cn)) != 0 ||
	    (rc = add_name_entry(name, NID_serialNumber, opts->serial_number)) != 0)
		goto fail;
	rc = TS_ECRYPTO;
	if (!X509_set_issuer_name(cert,
	        issuer_cert != NULL ? X509_get_subject_name(issuer_cert) : name))
		goto fail;

	/* For a self-signed root the context's issuer is the certificate itself,
	 * so the authorityKeyIdentifier repeats its own subjectKeyIdentifier. */
	X509V3_set_ctx(&ctx, issuer_cert != NULL ? (X509 *)issuer_cert : cert, cert, NULL, NULL, 0);

	switch (opts->profile) {
	case PKI_PROFILE_ROOT_CA:
		rc = add_ext_conf(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:1");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
		break;
	case PKI_PROFILE_SUB_CA:
		rc = add_ext_conf(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
		break;
	case PKI_PROFILE_EUICC:
	case PKI_PROFILE_SIGNING:
		rc = add_ext_conf(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_key_usage, "critical,digitalSignature");
		break;
	case PKI_PROFILE_TLS_SERVER:
		rc = add_ext_conf(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_key_usage, "critical,digitalSignature");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
		break;
	case PKI_PROFILE_TLS_CLIENT:
		rc = add_ext_conf(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_key_usage, "critical,digitalSignature");
		if (rc == 0)
			rc = add_ext_conf(cert, &ctx, NID_ext_key_usage, "clientAuth");
		break;
	default:
		rc = TS_EINVAL;
		break;
	}
	if (rc != 0)
		goto fail;
	if ((rc = add_ext_conf(cert, &ctx, NID_subject_key_identifier, "hash")) != 0)
		goto fail;
	if ((rc = add_ext_conf(cert, &ctx, NID_authority_key_identifier, "keyid:always")) != 0)
		goto fail;
	if (opts->san != NULL && opts->san[0] != '\0') {
		if ((rc = add_ext_conf(cert, &ctx, NID_subject_alt_name, opts->san)) != 0) {
			rc = TS_EINVAL;
			goto fail;
		}
	}
	if (opts->ein_prefixes != NULL && (rc = add_ext_ein(cert, opts->ein_prefixes)) != 0)
		goto fail;

	rc = TS_ECRYPTO;
	if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
		goto fail;
	*out = cert;
	cert = NULL;
	rc = 0;
fail:
	X509_free(cert);
	return rc;
}

int
pki_issue(const X509 *issuer_cert, EVP_PKEY *issuer_key, EVP_PKEY *subject_key,
    const pki_issue_opts *opts, X509 **out)
{
	return issue(issuer_cert, issuer_key, subject_key, opts, out);
}

int
pki_issue_csr(const X509 *issuer_cert, EVP_PKEY *issuer_key, X509_REQ *req,
    const pki_issue_opts *opts, X509 **out)
{
	if (req == NULL || issuer_cert == NULL)
		return TS_EINVAL;
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	if (pub == NULL || !is_p256(pub))
		return TS_EUNSUPP;
	if (X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		return TS_EVERIFY;
	}
	return issue(issuer_cert, issuer_key, pub, opts, out);
}

/* ---- verification ------------------------------------------------------- */

int
pki_verify_chain(X509 *root, STACK_OF(X509) *intermediates, X509 *leaf,
    char *errbuf, size_t errcap)
{
	int rc = TS_ECRYPTO;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (root == NULL || leaf == NULL)
		return TS_EINVAL;
	if ((store = X509_STORE_new()) == NULL)
		goto fail;
	if (!X509_STORE_add_cert(store, root))
		goto fail;
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		goto fail;
	if (!X509_STORE_CTX_init(ctx, store, leaf, intermediates))
		goto fail;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
	} else {
		int err = X509_STORE_CTX_get_error(ctx);
		if (errbuf != NULL && errcap > 0)
			(void)ts_snprintf(errbuf, errcap, "%s", X509_verify_cert_error_string(err));
		ERR_clear_error();
		rc = TS_EVERIFY;
	}
fail:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

int
pki_cert_eid(const X509 *cert, eid_t *out)
{
	if (cert == NULL || out == NULL)
		return TS_EINVAL;
	const X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
	if (idx < 0)
		return TS_ENOTFOUND;
	/* Exactly one serialNumber: two would make "the EID" ambiguous. */
	if (X509_NAME_get_index_by_NID(name, NID_serialNumber, idx) >= 0)
		return TS_EPARSE;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	if (s == NULL)
		return TS_EPARSE;
	int n = ASN1_STRING_length(s);
	if (n != EID_DIGITS)
		return TS_EEIDFMT;
	char digits[EID_DIGITS + 1];
	memcpy(digits, ASN1_STRING_get0_data(s), EID_DIGITS);
	digits[EID_DIGITS] = '\0';
	return eid_parse(digits, out);
}

int
pki_cert_ein_prefixes(const X509 *cert, char *buf, size_t cap)
{
	if (cert == NULL || buf == NULL || cap == 0)
		return TS_EINVAL;
	buf[0] = '\0';
	int nid = ein_nid();
	if (nid == NID_undef)
		return TS_ECRYPTO;
	int idx = X509_get_ext_by_NID(cert, nid, -1);
	if (idx < 0)
		return TS_ENOTFOUND;
	if (X509_get_ext_by_NID(cert, nid, idx) >= 0)
		return TS_EPARSE;
	X509_EXTENSION *ext = X509_get_ext(cert, idx);
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(ext);
	if (os == NULL)
		return TS_EPARSE;
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long len = ASN1_STRING_length(os);
	const unsigned char *end = p + len;
	ASN1_UTF8STRING *u = d2i_ASN1_UTF8STRING(NULL, &p, len);
	if (u == NULL) {
		ERR_clear_error();
		return TS_EPARSE;
	}
	int rc = 0;
	int n = ASN1_STRING_length(u);
	if (p != end) {
		rc = TS_ETRAILING;
	} else if (n < 0 || (size_t)n >= cap) {
		rc = TS_ELIMIT;
	} else {
		memcpy(buf, ASN1_STRING_get0_data(u), (size_t)n);
		buf[n] = '\0';
		if (!ein_list_valid(buf)) {
			buf[0] = '\0';
			rc = TS_EPARSE;
		}
	}
	ASN1_UTF8STRING_free(u);
	return rc;
}

int
pki_ein_allowed(const char *prefixes, const eid_t *eid)
{
	if (prefixes == NULL || eid == NULL)
		return 0;
	const char *p = prefixes;
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n > 0 && n <= PKI_EIN_MAX_DIGITS) {
			char ein[PKI_EIN_MAX_DIGITS + 1];
			memcpy(ein, p, n);
			ein[n] = '\0';
			if (eid_has_prefix(eid, ein) == 1)
				return 1;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

/* ---- identities, raw signatures, points --------------------------------- */

int
pki_pubkey_id(const EVP_PKEY *key, char out[65])
{
	uint8_t *der = NULL;
	uint8_t md[32];
	unsigned int mdlen = 0;
	int rc = TS_ECRYPTO;
	if (key == NULL || out == NULL)
		return TS_EINVAL;
	int n = i2d_PUBKEY(key, &der);
	if (n <= 0)
		goto fail;
	if (!EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof(md))
		goto fail;
	rc = ts_hex_encode(md, sizeof(md), out, 65);
fail:
	OPENSSL_free(der);
	return rc;
}

int
pki_cert_pubkey_id(const X509 *cert, char out[65])
{
	if (cert == NULL || out == NULL)
		return TS_EINVAL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	if (pub == NULL)
		return TS_EPARSE;
	return pki_pubkey_id(pub, out);
}

int
pki_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[PKI_SIG_LEN])
{
	int rc = TS_ECRYPTO;
	EVP_MD_CTX *md = NULL;
	uint8_t der[80]; /* an ECDSA-Sig-Value for P-256 is at most 72 bytes */
	size_t derlen = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	if (key == NULL || (msg == NULL && len > 0) || sig == NULL)
		return TS_EINVAL;
	if (!is_p256(key))
		return TS_EUNSUPP;
	if ((md = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1)
		goto fail;
	if (EVP_DigestSign(md, der, &derlen, msg, len) != 1)
		goto fail;
	const uint8_t *p = der;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		goto fail;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, PKI_FIELD_LEN) != PKI_FIELD_LEN ||
	    BN_bn2binpad(s, sig + PKI_FIELD_LEN, PKI_FIELD_LEN) != PKI_FIELD_LEN)
		goto fail;
	rc = 0;
fail:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return rc;
}

int
pki_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t sig[PKI_SIG_LEN])
{
	int rc = TS_EVERIFY;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;
	if (pub == NULL || (msg == NULL && len > 0) || sig == NULL)
		return TS_EINVAL;
	if (!is_p256(pub))
		return TS_EUNSUPP;
	r = BN_bin2bn(sig, PKI_FIELD_LEN, NULL);
	s = BN_bin2bn(sig + PKI_FIELD_LEN, PKI_FIELD_LEN, NULL);
	if (r == NULL || s == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	/* r = 0 or s = 0 is never a valid signature; the range check against the
	 * group order is done by the verifier itself. */
	if (BN_is_zero(r) || BN_is_zero(s))
		goto fail;
	if ((es = ECDSA_SIG_new()) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	if (!ECDSA_SIG_set0(es, r, s)) {
		rc = TS_ECRYPTO;
		goto fail;
	}
	r = s = NULL; /* owned by es now */
	int derlen = i2d_ECDSA_SIG(es, &der);
	if (derlen <= 0) {
		rc = TS_ECRYPTO;
		goto fail;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1) {
		rc = TS_ECRYPTO;
		goto fail;
	}
	if (EVP_DigestVerify(md, der, (size_t)derlen, msg, len) == 1)
		rc = 0;
fail:
	if (rc == TS_EVERIFY)
		ERR_clear_error();
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	EVP_MD_CTX_free(md);
	return rc;
}

int
pki_pubkey_to_point(const EVP_PKEY *key, uint8_t out[PKI_PUBKEY_LEN])
{
	size_t n = 0;
	if (key == NULL || out == NULL)
		return TS_EINVAL;
	if (!is_p256(key))
		return TS_EUNSUPP;
	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out, PKI_PUBKEY_LEN, &n))
		return TS_ECRYPTO;
	if (n != PKI_PUBKEY_LEN || out[0] != 0x04)
		return TS_EUNSUPP; /* a compressed point format was configured on the key */
	return 0;
}

int
pki_pubkey_from_point(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	int rc = TS_ECRYPTO;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *chk = NULL;
	if (pt == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if (len != PKI_PUBKEY_LEN || pt[0] != 0x04)
		return TS_EPARSE;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto fail;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, len))
		goto fail;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto fail;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		goto fail;
	if (EVP_PKEY_fromdata_init(ctx) != 1)
		goto fail;
	if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		rc = TS_EPARSE; /* not a point on the curve */
		goto fail;
	}
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL)
		goto fail;
	if (EVP_PKEY_public_check(chk) != 1) {
		rc = TS_EPARSE;
		goto fail;
	}
	*out = key;
	key = NULL;
	rc = 0;
fail:
	if (rc == TS_EPARSE)
		ERR_clear_error();
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

/* ---- test PKI ----------------------------------------------------------- */

static int
save_pair(const char *dir, const char *base, const EVP_PKEY *key, const X509 *cert)
{
	char path[PATH_MAX];
	int rc;
	if ((rc = ts_snprintf(path, sizeof(path), "%s/%s.key", dir, base)) != 0)
		return rc;
	if ((rc = pki_key_save(key, path)) != 0)
		return rc;
	if ((rc = ts_snprintf(path, sizeof(path), "%s/%s.crt", dir, base)) != 0)
		return rc;
	return pki_cert_save(cert, path);
}

/* Generates a key, issues its certificate and writes both. issuer_* NULL for
 * a root. On success the caller owns *key_out / *cert_out if requested. */
static int
gen_one(const char *dir, const char *base, const X509 *issuer_cert, EVP_PKEY *issuer_key,
    const pki_issue_opts *opts, EVP_PKEY **key_out, X509 **cert_out)
{
	int rc;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	if ((rc = pki_keygen(&key)) != 0)
		goto fail;
	if ((rc = pki_issue(issuer_cert, issuer_key != NULL ? issuer_key : key, key, opts, &cert)) != 0)
		goto fail;
	if ((rc = save_pair(dir, base, key, cert)) != 0)
		goto fail;
	if (key_out != NULL) {
		*key_out = key;
		key = NULL;
	}
	if (cert_out != NULL) {
		*cert_out = cert;
		cert = NULL;
	}
fail:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int
pki_host_valid(const char *h)
{
	unsigned char buf[16];
	if (h == NULL || h[0] == '\0')
		return 0;
	if (inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1)
		return 1;
	size_t n = strlen(h), label = 0;
	if (n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c == '-' && label > 0);
		if (!ok)
			return 0;
		label++;
	}
	return 1;
}

/* "IP:127.0.0.1,DNS:localhost" plus one DNS: or IP: entry per host. */
static int
san_for_hosts(const char *const *hosts, size_t n, char *out, size_t cap)
{
	int rc = ts_snprintf(out, cap, "IP:127.0.0.1,DNS:localhost");
	unsigned char buf[16];
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!pki_host_valid(hosts[i]))
			return TS_EINVAL;
		int ip = inet_pton(AF_INET, hosts[i], buf) == 1 || inet_pton(AF_INET6, hosts[i], buf) == 1;
		size_t l = strlen(out);
		rc = ts_snprintf(out + l, cap - l, ",%s:%s", ip ? "IP" : "DNS", hosts[i]);
	}
	return rc == 0 ? 0 : TS_ELIMIT;
}

int
pki_testpki_generate(const char *dir, const char *ein_prefixes,
    const char *const *eids, size_t n_eids)
{
	return pki_testpki_generate_hosts(dir, ein_prefixes, eids, n_eids, NULL, 0);
}

int
pki_testpki_generate_hosts(const char *dir, const char *ein_prefixes,
    const char *const *eids, size_t n_eids, const char *const *hosts, size_t n_hosts)
{
	int rc;
	EVP_PKEY *ci_key = NULL, *eum_key = NULL, *nca_key = NULL;
	X509 *ci = NULL, *eum = NULL, *nca = NULL;
	char san[2048];
	eid_t eid;

	if (n_hosts > 0 && hosts == NULL)
		return TS_EINVAL;
	if ((rc = san_for_hosts(hosts, n_hosts, san, sizeof(san))) != 0)
		return rc;
	/* The node's certificate is named after its first host. */
	const char *node_cn = n_hosts > 0 ? hosts[0] : "localhost";

	if (dir == NULL || dir[0] == '\0' || (eids == NULL && n_eids > 0))
		return TS_EINVAL;
	if (ein_prefixes != NULL && !ein_list_valid(ein_prefixes))
		return TS_EINVAL;
	for (size_t i = 0; i < n_eids; i++) {
		if (eids[i] == NULL || (rc = eid_parse(eids[i], &eid)) != 0)
			return eids[i] == NULL ? TS_EINVAL : rc;
	}
	if ((rc = ts_mkdirs(dir, 0700)) != 0)
		return rc;

	pki_issue_opts o = {
		.profile = PKI_PROFILE_ROOT_CA, .cn = "tapshare test CI",
		.org = "tapshare test", .days = PKI_CA_DAYS,
	};
	if ((rc = gen_one(dir, "ci", NULL, NULL, &o, &ci_key, &ci)) != 0)
		goto fail;

	o = (pki_issue_opts){
		.profile = PKI_PROFILE_SUB_CA, .cn = "tapshare test EUM",
		.org = "tapshare test", .ein_prefixes = ein_prefixes, .days = PKI_CA_DAYS,
	};
	if ((rc = gen_one(dir, "eum", ci, ci_key, &o, &eum_key, &eum)) != 0)
		goto fail;

	for (size_t i = 0; i < n_eids; i++) {
		char base[64];
		if ((rc = ts_snprintf(base, sizeof(base), "euicc-%s", eids[i])) != 0)
			goto fail;
		o = (pki_issue_opts){
			.profile = PKI_PROFILE_EUICC, .cn = "tapshare test eUICC",
			.org = "tapshare test", .serial_number = eids[i], .days = PKI_LEAF_DAYS,
		};
		if ((rc = gen_one(dir, base, eum, eum_key, &o, NULL, NULL)) != 0)
			goto fail;
	}

	o = (pki_issue_opts){
		.profile = PKI_PROFILE_ROOT_CA, .cn = "tapshare test node CA",
		.org = "tapshare test", .days = PKI_CA_DAYS,
	};
	if ((rc = gen_one(dir, "node-ca", NULL, NULL, &o, &nca_key, &nca)) != 0)
		goto fail;

	o = (pki_issue_opts){
		.profile = PKI_PROFILE_TLS_SERVER, .cn = node_cn,
		.org = "tapshare test node", .san = san, .days = PKI_LEAF_DAYS,
	};
	if ((rc = gen_one(dir, "node-tls", nca, nca_key, &o, NULL, NULL)) != 0)
		goto fail;

	o = (pki_issue_opts){
		.profile = PKI_PROFILE_SIGNING, .cn = "tapshare test node signing",
		.org = "tapshare test node", .days = PKI_LEAF_DAYS,
	};
	if ((rc = gen_one(dir, "node-sign", ci, ci_key, &o, NULL, NULL)) != 0)
		goto fail;

	o = (pki_issue_opts){
		.profile = PKI_PROFILE_TLS_SERVER, .cn = "localhost",
		.org = "tapshare test provider", .san = san, .days = PKI_LEAF_DAYS,
	};
	if ((rc = gen_one(dir, "sp-tls", nca, nca_key, &o, NULL, NULL)) != 0)
		goto fail;
	rc = 0;
fail:
	EVP_PKEY_free(ci_key);
	EVP_PKEY_free(eum_key);
	EVP_PKEY_free(nca_key);
	X509_free(ci);
	X509_free(eum);
	X509_free(nca);
	return rc;
}

const char *
pki_last_error(char *buf, size_t cap)
{
	unsigned long e, last = 0;
	if (buf == NULL || cap == 0)
		return "";
	/* Report the earliest error (the root cause), then drain the queue. */
	if ((e = ERR_get_error()) != 0)
		last = e;
	while (ERR_get_error() != 0)
		;
	if (last == 0) {
		(void)ts_snprintf(buf, cap, "%s", "no OpenSSL error");
		return buf;
	}
	ERR_error_string_n(last, buf, cap);
	return buf;
}
