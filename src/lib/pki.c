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

#include "lib/ossl.h"
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

/* Keys found to be P-256: asking the provider for a key's group name is a
 * parameter look-up of a few microseconds, and every sign, verify and point
 * export asks. A key's group never changes, so the answer is kept for the
 * last PKI_P256_N keys; each entry holds a reference, so no other key can
 * take its address while it is remembered. Only "yes" is kept. The key's
 * public point is kept with it once exported (pki_pubkey_to_point: an
 * eUICC's key is exported at every authenticateClient and notification,
 * each export an EC point encoding with its own big-number context). */
#define PKI_P256_N 16
static struct {
	EVP_PKEY *key;
	int have_pt;
	uint8_t pt[PKI_PUBKEY_LEN];
} p256_tab[PKI_P256_N];
static size_t p256_next;
static pthread_mutex_t p256_mu = PTHREAD_MUTEX_INITIALIZER;

static int
is_p256_lookup(const EVP_PKEY *key)
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

/* 1 if key is an EC key on P-256; pt (may be NULL) gets its kept public
 * point and *have_pt says whether one was kept. */
static int
p256_known(const EVP_PKEY *key, uint8_t *pt, int *have_pt)
{
	if (key == NULL)
		return 0;
	int known = 0;
	if (have_pt != NULL)
		*have_pt = 0;
	pthread_mutex_lock(&p256_mu);
	for (size_t i = 0; i < PKI_P256_N && !known; i++) {
		if (p256_tab[i].key != key)
			continue;
		known = 1;
		if (pt != NULL && have_pt != NULL && p256_tab[i].have_pt) {
			memcpy(pt, p256_tab[i].pt, PKI_PUBKEY_LEN);
			*have_pt = 1;
		}
	}
	pthread_mutex_unlock(&p256_mu);
	if (known)
		return 1;
	if (!is_p256_lookup(key))
		return 0;
	EVP_PKEY *k = (EVP_PKEY *)key; /* the reference count only */
	if (EVP_PKEY_up_ref(k)) {
		pthread_mutex_lock(&p256_mu);
		EVP_PKEY *old = p256_tab[p256_next].key;
		p256_tab[p256_next].key = k;
		p256_tab[p256_next].have_pt = 0;
		p256_next = (p256_next + 1) % PKI_P256_N;
		pthread_mutex_unlock(&p256_mu);
		EVP_PKEY_free(old);
	}
	return 1;
}

static int
is_p256(const EVP_PKEY *key)
{
	return p256_known(key, NULL, NULL);
}

/* Keeps key's exported point beside its entry, if it still has one. */
static void
p256_keep_point(const EVP_PKEY *key, const uint8_t pt[PKI_PUBKEY_LEN])
{
	pthread_mutex_lock(&p256_mu);
	for (size_t i = 0; i < PKI_P256_N; i++) {
		if (p256_tab[i].key == key) {
			memcpy(p256_tab[i].pt, pt, PKI_PUBKEY_LEN);
			p256_tab[i].have_pt = 1;
			break;
		}
	}
	pthread_mutex_unlock(&p256_mu);
}

/* Initialised DigestSign / DigestVerify contexts, kept per key: a copy of
 * one (EVP_MD_CTX_copy_ex) skips what EVP_DigestSignInit does each time —
 * the key's signature implementation and the digest looked up by name in
 * the provider store. The entry holds a reference to its key, so no other
 * key can take its address while it is cached. PKI_CTX_N entries, replaced
 * in turn. */
#define PKI_CTX_N 64
static struct {
	EVP_PKEY *key;
	int sign;
	EVP_MD_CTX *ctx;
} ctx_tab[PKI_CTX_N];
static size_t ctx_next;
static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;

/* A new context ready to sign (sign = 1) or verify with key; caller frees. */
static EVP_MD_CTX *
md_ctx_for(EVP_PKEY *key, int sign)
{
	EVP_MD_CTX *out = EVP_MD_CTX_new(), *t = NULL;
	int hit = 0;
	if (out == NULL)
		return NULL;
	pthread_mutex_lock(&ctx_mu);
	for (size_t i = 0; i < PKI_CTX_N && !hit; i++)
		if (ctx_tab[i].key == key && ctx_tab[i].sign == sign)
			hit = EVP_MD_CTX_copy_ex(out, ctx_tab[i].ctx) == 1 ? 1 : -1;
	pthread_mutex_unlock(&ctx_mu);
	if (hit == 1)
		return out;
	ERR_clear_error();
	if ((t = EVP_MD_CTX_new()) == NULL ||
	    (sign ? EVP_DigestSignInit(t, NULL, ts_ossl_sha256(), NULL, key)
		  : EVP_DigestVerifyInit(t, NULL, ts_ossl_sha256(), NULL, key)) != 1 ||
	    EVP_MD_CTX_copy_ex(out, t) != 1) {
		EVP_MD_CTX_free(t);
		EVP_MD_CTX_free(out);
		return NULL;
	}
	if (hit == 0 && EVP_PKEY_up_ref(key)) {
		pthread_mutex_lock(&ctx_mu);
		EVP_PKEY_free(ctx_tab[ctx_next].key);
		EVP_MD_CTX_free(ctx_tab[ctx_next].ctx);
		ctx_tab[ctx_next].key = key;
		ctx_tab[ctx_next].sign = sign;
		ctx_tab[ctx_next].ctx = t;
		ctx_next = (ctx_next + 1) % PKI_CTX_N;
		pthread_mutex_unlock(&ctx_mu);
	} else {
		EVP_MD_CTX_free(t);
	}
	return out;
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
	/* One key-generation context, set up once and generating every key:
	 * EVP_PKEY_Q_keygen fetched the EC key manager, built the group
	 * parameters and made a context per key (20.8 -> 9.1 us per key on this
	 * VM in a loop, several times that in the node between other work:
	 * bench/insitu.sh). Each EVP_PKEY_generate draws fresh randomness; the
	 * context is not thread-safe, hence the lock. */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static EVP_PKEY_CTX *ctx;
	if (out == NULL)
		return TS_EINVAL;
	*out = NULL;
	pthread_mutex_lock(&mu);
	if (ctx == NULL) {
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (ctx != NULL && (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_group_name(ctx, "P-256") != 1)) {
			EVP_PKEY_CTX_free(ctx);
			ctx = NULL;
		}
	}
	if (ctx != NULL && EVP_PKEY_generate(ctx, out) != 1) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	pthread_mutex_unlock(&mu);
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
	if (X509_REQ_sign(req, key, ts_ossl_sha256()) <= 0)
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

const char *
pki_role_name(int role)
{
	static const char *const names[] = { "none", "CI", "eUICC", "EUM", "DPtls", "DPauth", "DPpb",
		"DStls", "DSauth" };
	return role >= 0 && role < (int)TS_ARRAY_LEN(names) ? names[role] : "unknown";
}

/* "2.23.146.1.2.1.<role - 1>" */
static int
role_oid(int role, char *buf, size_t cap)
{
	if (role < PKI_ROLE_CI || role > PKI_ROLE_DS_AUTH)
		return TS_EINVAL;
	return ts_snprintf(buf, cap, "%s.%d", PKI_OID_RSP_ROLE, role - 1);
}

/* certificatePolicies, critical, the one id-rspRole policy of the role
 * (SGP.22 4.5.2.1: every RSP certificate's policy identifies its role). */
static int
add_ext_policy(X509 *cert, int role)
{
	char oid[64];
	int rc;
	if ((rc = role_oid(role, oid, sizeof(oid))) != 0)
		return rc;
	rc = TS_ECRYPTO;
	CERTIFICATEPOLICIES *cp = CERTIFICATEPOLICIES_new();
	POLICYINFO *pi = POLICYINFO_new();
	if (cp == NULL || pi == NULL)
		goto fail;
	ASN1_OBJECT_free(pi->policyid);
	if ((pi->policyid = OBJ_txt2obj(oid, 1)) == NULL)
		goto fail;
	if (!sk_POLICYINFO_push(cp, pi))
		goto fail;
	pi = NULL;
	if (X509_add1_ext_i2d(cert, NID_certificate_policies, cp, 1, X509V3_ADD_DEFAULT) != 1)
		goto fail;
	rc = 0;
fail:
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(cp);
	return rc;
}

/* nameConstraints (critical), one permitted directoryName per prefix:
 * O = org (when given), serialNumber = the prefix (SGP.22 4.5.2.1.0.2). */
static int
add_ext_nc(X509 *cert, const char *org, const char *prefixes)
{
	int rc = TS_ECRYPTO;
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	GENERAL_SUBTREE *st = NULL;
	if (nc == NULL || (nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) == NULL)
		goto fail;
	for (const char *p = prefixes; *p != '\0';) {
		size_t n = strcspn(p, ",");
		char pf[PKI_EIN_MAX_DIGITS + 1];
		if (n == 0 || n > PKI_EIN_MAX_DIGITS) {
			rc = TS_EINVAL;
			goto fail;
		}
		memcpy(pf, p, n);
		pf[n] = '\0';
		if ((st = GENERAL_SUBTREE_new()) == NULL)
			goto fail;
		X509_NAME *dn = X509_NAME_new();
		if (dn == NULL)
			goto fail;
		st->base->type = GEN_DIRNAME;
		st->base->d.directoryName = dn;
		if ((org != NULL &&
		        !X509_NAME_add_entry_by_NID(dn, NID_organizationName, MBSTRING_UTF8,
		            (const unsigned char *)org, -1, -1, 0)) ||
		    !X509_NAME_add_entry_by_NID(dn, NID_serialNumber, MBSTRING_ASC,
		        (const unsigned char *)pf, -1, -1, 0))
			goto fail;
		if (!sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st))
			goto fail;
		st = NULL;
		p += n;
		if (*p == ',')
			p++;
	}
	if (X509_add1_ext_i2d(cert, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) != 1)
		goto fail;
	rc = 0;
fail:
	GENERAL_SUBTREE_free(st);
	NAME_CONSTRAINTS_free(nc);
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
	if (opts->ein_prefixes != NULL &&
	    (!ein_list_valid(opts->ein_prefixes) || opts->profile != PKI_PROFILE_SUB_CA))
		return TS_EINVAL;
	if (opts->role < PKI_ROLE_NONE || opts->role > PKI_ROLE_DS_AUTH)
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
	/* SGP.22 4.5.2.1: a root (the CI) has only the subjectKeyIdentifier. */
	if (issuer_cert != NULL &&
	    (rc = add_ext_conf(cert, &ctx, NID_authority_key_identifier, "keyid:always")) != 0)
		goto fail;
	if (opts->role != PKI_ROLE_NONE && (rc = add_ext_policy(cert, opts->role)) != 0)
		goto fail;
	if (opts->san != NULL && opts->san[0] != '\0') {
		if ((rc = add_ext_conf(cert, &ctx, NID_subject_alt_name, opts->san)) != 0) {
			rc = TS_EINVAL;
			goto fail;
		}
	}
	if (opts->ein_prefixes != NULL && (rc = add_ext_nc(cert, opts->org, opts->ein_prefixes)) != 0)
		goto fail;

	rc = TS_ECRYPTO;
	if (X509_sign(cert, issuer_key, ts_ossl_sha256()) <= 0)
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

/* The one serialNumber of a name, or NULL (none or several). */
static const ASN1_STRING *
name_serial(const X509_NAME *name)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
	if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_serialNumber, idx) >= 0)
		return NULL;
	return X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
}

/* The SGP.22 subtree rule: every attribute of the subtree's directoryName is
 * in subject with the same value, except serialNumber, which the subject's
 * serialNumber must start with. */
static int
subtree_permits(const X509_NAME *base, const X509_NAME *subject)
{
	int have_serial = 0;
	for (int i = 0; i < X509_NAME_entry_count(base); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(base, i);
		const ASN1_OBJECT *type = X509_NAME_ENTRY_get_object(e);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		if (OBJ_obj2nid(type) == NID_serialNumber) {
			const ASN1_STRING *sv = name_serial(subject);
			if (sv == NULL || ASN1_STRING_length(sv) < ASN1_STRING_length(v) ||
			    memcmp(ASN1_STRING_get0_data(sv), ASN1_STRING_get0_data(v),
			        (size_t)ASN1_STRING_length(v)) != 0)
				return 0;
			have_serial = 1;
			continue;
		}
		int found = 0;
		for (int j = -1; !found && (j = X509_NAME_get_index_by_OBJ(subject, type, j)) >= 0;) {
			const ASN1_STRING *sv = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, j));
			found = ASN1_STRING_length(sv) == ASN1_STRING_length(v) &&
			    memcmp(ASN1_STRING_get0_data(sv), ASN1_STRING_get0_data(v),
			        (size_t)ASN1_STRING_length(v)) == 0;
		}
		if (!found)
			return 0;
	}
	return have_serial;
}

/* The EUM's nameConstraints in the SGP.22 form, or NULL (caller frees with
 * NAME_CONSTRAINTS_free). rc: why not. */
static NAME_CONSTRAINTS *
sgp22_nc(const X509 *eum, int *rc)
{
	int crit = -1;
	NAME_CONSTRAINTS *nc = X509_get_ext_d2i(eum, NID_name_constraints, &crit, NULL);
	if (nc == NULL) {
		*rc = crit == -1 ? TS_ENOTFOUND : TS_EPARSE; /* -2: several, else undecodable */
		ERR_clear_error();
		return NULL;
	}
	*rc = TS_EUNSUPP;
	if (crit != 1 || nc->excludedSubtrees != NULL || nc->permittedSubtrees == NULL ||
	    sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) == 0)
		goto bad;
	for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		if (st->minimum != NULL || st->maximum != NULL || st->base->type != GEN_DIRNAME)
			goto bad;
		const ASN1_STRING *sn = name_serial(st->base->d.directoryName);
		int n = sn != NULL ? ASN1_STRING_length(sn) : 0;
		if (n < 1 || n > PKI_EIN_MAX_DIGITS)
			goto bad;
		for (int k = 0; k < n; k++)
			if (ASN1_STRING_get0_data(sn)[k] < '0' || ASN1_STRING_get0_data(sn)[k] > '9')
				goto bad;
	}
	*rc = 0;
	return nc;
bad:
	NAME_CONSTRAINTS_free(nc);
	return NULL;
}

int
pki_eum_permits(const X509 *eum, const X509 *euicc)
{
	int rc, ok = 0;
	if (eum == NULL || euicc == NULL)
		return 0;
	NAME_CONSTRAINTS *nc = sgp22_nc(eum, &rc);
	for (int i = 0; nc != NULL && !ok && i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		ok = subtree_permits(st->base->d.directoryName, X509_get_subject_name(euicc));
	}
	NAME_CONSTRAINTS_free(nc);
	return ok;
}

/* OpenSSL reports X509_V_ERR_PERMITTED_VIOLATION for an SGP.22 eUICC under
 * its EUM (module comment in pki.h): decide by the SGP.22 rule instead —
 * the certificate at the error depth must be permitted by every CA above it
 * that carries nameConstraints, each of which must be in the SGP.22 form. */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (ok || X509_STORE_CTX_get_error(ctx) != X509_V_ERR_PERMITTED_VIOLATION)
		return ok;
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	if (chain == NULL || depth < 0 || depth >= sk_X509_num(chain))
		return 0;
	const X509 *subject = sk_X509_value(chain, depth);
	int constrained = 0;
	for (int i = depth + 1; i < sk_X509_num(chain); i++) {
		const X509 *ca = sk_X509_value(chain, i);
		if (X509_get_ext_by_NID(ca, NID_name_constraints, -1) < 0)
			continue;
		if (!pki_eum_permits(ca, subject))
			return 0;
		constrained = 1;
	}
	if (!constrained)
		return 0;
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

/* X509_verify_cert of leaf against store (strict, the SGP.22 nameConstraints
 * rule of verify_cb, extra flags e.g. X509_V_FLAG_PARTIAL_CHAIN). */
static int
verify_in_store(X509_STORE *store, STACK_OF(X509) *intermediates, X509 *leaf, unsigned long flags,
    char *errbuf, size_t errcap)
{
	int rc = TS_ECRYPTO;
	X509_STORE_CTX *ctx = NULL;
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		goto fail;
	if (!X509_STORE_CTX_init(ctx, store, leaf, intermediates))
		goto fail;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT | flags);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
	} else {
		int err = X509_STORE_CTX_get_error(ctx);
		if (errbuf != NULL && errcap > 0)
			(void)ts_snprintf(errbuf, errcap, "%s",
			    err == X509_V_ERR_PERMITTED_VIOLATION ?
				"the subject is outside the issuer's nameConstraints (SGP.22: O and "
				"serialNumber prefix)" :
				X509_verify_cert_error_string(err));
		ERR_clear_error();
		rc = TS_EVERIFY;
	}
fail:
	X509_STORE_CTX_free(ctx);
	return rc;
}

int
pki_verify_chain(X509 *root, STACK_OF(X509) *intermediates, X509 *leaf,
    char *errbuf, size_t errcap)
{
	int rc = TS_ECRYPTO;
	X509_STORE *store = NULL;
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (root == NULL || leaf == NULL)
		return TS_EINVAL;
	if ((store = X509_STORE_new()) == NULL)
		goto fail;
	if (!X509_STORE_add_cert(store, root))
		goto fail;
	rc = verify_in_store(store, intermediates, leaf, 0, errbuf, errcap);
fail:
	X509_STORE_free(store);
	return rc;
}

int
pki_cert_has_role(const X509 *cert, int role)
{
	char want[64], got[80];
	int found = 0;
	if (cert == NULL || role_oid(role, want, sizeof(want)) != 0)
		return 0;
	CERTIFICATEPOLICIES *cp = X509_get_ext_d2i(cert, NID_certificate_policies, NULL, NULL);
	for (int i = 0; cp != NULL && !found && i < sk_POLICYINFO_num(cp); i++) {
		const POLICYINFO *pi = sk_POLICYINFO_value(cp, i);
		found = OBJ_obj2txt(got, sizeof(got), pi->policyid, 1) > 0 && strcmp(got, want) == 0;
	}
	CERTIFICATEPOLICIES_free(cp);
	ERR_clear_error();
	return found;
}

/* Writes "a" "b" (b may be "") as the reason; returns TS_EVERIFY. */
static int
why(char *errbuf, size_t errcap, const char *a, const char *b)
{
	if (errbuf != NULL && errcap > 0)
		(void)ts_snprintf(errbuf, errcap, "%s%s", a, b);
	return TS_EVERIFY;
}

int
pki_eum_check(const X509 *eum, char *errbuf, size_t errcap)
{
	char pf[512];
	if (eum == NULL)
		return TS_EINVAL;
	if (!pki_cert_has_role(eum, PKI_ROLE_EUM))
		return why(errbuf, errcap, "no id-rspRole-eum (2.23.146.1.2.1.2) certificate policy", "");
	if (X509_check_ca((X509 *)eum) != 1)
		return why(errbuf, errcap, "not a CA certificate (basicConstraints)", "");
	int rc = pki_cert_ein_prefixes(eum, pf, sizeof(pf));
	if (rc == TS_ENOTFOUND)
		return why(errbuf, errcap, "no nameConstraints: SGP.22 requires the EUM's permitted "
		    "EID range there", "");
	if (rc != 0)
		return why(errbuf, errcap, "nameConstraints not in the SGP.22 form (critical, "
		    "permittedSubtrees of directoryName with one serialNumber of digits each, no "
		    "excludedSubtrees)", "");
	return 0;
}

/* pki_verify_role after the chain: the roles, keyUsage and the EUM. */
static int
role_profile(X509 *root, STACK_OF(X509) *intermediates, X509 *leaf, int role, char *errbuf, size_t errcap)
{
	char e[256];
	if (!pki_cert_has_role(root, PKI_ROLE_CI))
		return why(errbuf, errcap, "the root has no id-rspRole-ci (2.23.146.1.2.1.0) policy", "");
	if (!pki_cert_has_role(leaf, role)) {
		char oid[64], m[128];
		(void)role_oid(role, oid, sizeof(oid));
		(void)ts_snprintf(m, sizeof(m), "not a %s certificate: no certificate policy ", pki_role_name(role));
		return why(errbuf, errcap, m, oid);
	}
	if (role != PKI_ROLE_CI && role != PKI_ROLE_EUM) {
		uint32_t ku = X509_get_key_usage(leaf);
		if (X509_check_ca(leaf) != 0)
			return why(errbuf, errcap, pki_role_name(role), " certificate is a CA");
		if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE))
			return why(errbuf, errcap, pki_role_name(role), " certificate without keyUsage digitalSignature");
	}
	if (role == PKI_ROLE_EUICC) {
		X509 *eum = NULL;
		for (int i = 0; intermediates != NULL && i < sk_X509_num(intermediates); i++) {
			X509 *c = sk_X509_value(intermediates, i);
			if (X509_check_issued(c, leaf) == X509_V_OK)
				eum = c;
		}
		if (eum == NULL)
			return why(errbuf, errcap, "no EUM certificate issued the eUICC certificate", "");
		if (pki_eum_check(eum, e, sizeof(e)) != 0)
			return why(errbuf, errcap, "EUM: ", e);
		if (!pki_eum_permits(eum, leaf))
			return why(errbuf, errcap, "the eUICC's EID is outside its EUM's nameConstraints", "");
	}
	return 0;
}

int
pki_verify_role(X509 *root, STACK_OF(X509) *intermediates, X509 *leaf, int role,
    char *errbuf, size_t errcap)
{
	char e[256];
	if (root == NULL || leaf == NULL || role < PKI_ROLE_CI || role > PKI_ROLE_DS_AUTH)
		return TS_EINVAL;
	if (pki_verify_chain(root, intermediates, leaf, e, sizeof(e)) != 0)
		return why(errbuf, errcap, "chain: ", e);
	return role_profile(root, intermediates, leaf, role, errbuf, errcap);
}

/* ---- the verified eUICC/EUM cache (issue 9: CPU per flow) -------------
 *
 * An SE presents the same EUM and eUICC certificates at every
 * authenticateClient and in every notification. Each is parsed and verified
 * in full once (pki_verify_role: CI -> EUM -> eUICC); what passed is kept,
 * keyed by the SHA-256 of its DER and the root it passed under:
 *   - an EUM entry: the EUM parsed, its link to the CI verified, and a trust
 *     store anchored at the EUM, so that a new eUICC of that EUM is verified
 *     by one signature (X509_V_FLAG_PARTIAL_CHAIN; the EUM's own validity,
 *     CA-ness and nameConstraints are still checked by that verification);
 *   - an eUICC entry: the certificate parsed and verified under that EUM.
 * On a hit only the validity periods of the three certificates are checked
 * again (the clock moves; everything else is a property of the bytes).
 * Nothing that failed is kept. PKI_CACHE_N entries, replaced in turn. */
#define PKI_CACHE_N 128

struct vc_ent {
	uint8_t h[32];       /* SHA-256 of the certificate's DER */
	X509 *root;          /* the CI it was verified under (a reference) */
	X509 *cert;          /* the parsed certificate (a reference) */
	X509 *issuer;        /* eUICC entry: its EUM (a reference); EUM entry: NULL */
	X509_STORE *anchor;  /* EUM entry: a store trusting the EUM alone */
};
/* Points imported and checked before (the eUICC key of a session is
 * imported again for its package and for its notification): the key kept,
 * keyed by the exact 65 bytes; PKI_CACHE_N entries replaced in turn. */
static struct {
	uint8_t pt[PKI_PUBKEY_LEN];
	EVP_PKEY *key;
} pk_tab[PKI_CACHE_N];
static size_t pk_next;
static pthread_mutex_t pk_mu = PTHREAD_MUTEX_INITIALIZER;

static struct vc_ent vc_tab[PKI_CACHE_N];
static size_t vc_next;
static pthread_mutex_t vc_mu = PTHREAD_MUTEX_INITIALIZER;

static void
vc_clear(struct vc_ent *e)
{
	X509_free(e->root);
	X509_free(e->cert);
	X509_free(e->issuer);
	X509_STORE_free(e->anchor);
	memset(e, 0, sizeof(*e));
}

/* Under vc_mu: the entry for h under root (an EUM entry if issuer is NULL,
 * else an eUICC entry of that EUM), or NULL. */
static struct vc_ent *
vc_find(const uint8_t h[32], const X509 *root, const X509 *issuer, int want_eum)
{
	for (size_t i = 0; i < PKI_CACHE_N; i++) {
		struct vc_ent *e = &vc_tab[i];
		if (e->cert == NULL || memcmp(e->h, h, 32) != 0 || (e->issuer == NULL) != want_eum)
			continue;
		if (X509_cmp(e->root, root) != 0 || (!want_eum && e->issuer != issuer))
			continue;
		return e;
	}
	return NULL;
}

/* Under vc_mu: keeps references to what passed. */
static void
vc_put(const uint8_t h[32], X509 *root, X509 *cert, X509 *issuer, X509_STORE *anchor)
{
	struct vc_ent *e = &vc_tab[vc_next];
	vc_next = (vc_next + 1) % PKI_CACHE_N;
	vc_clear(e);
	if (!X509_up_ref(root))
		return;
	e->root = root;
	if (!X509_up_ref(cert)) {
		vc_clear(e);
		return;
	}
	e->cert = cert;
	if (issuer != NULL && !X509_up_ref(issuer)) {
		vc_clear(e);
		return;
	}
	e->issuer = issuer;
	if (anchor != NULL && !X509_STORE_up_ref(anchor)) {
		vc_clear(e);
		return;
	}
	e->anchor = anchor;
	memcpy(e->h, h, 32);
}

/* An EUM's EIN prefixes, kept per certificate object and signature: the
 * entry holds a reference, so no other certificate can take its address
 * while cached, and a certificate changed in place and signed again (its
 * signature differs) is decoded again. Otherwise its nameConstraints
 * extension is decoded at every authenticateClient and notification
 * (issue 9). Only successes are kept, PKI_PF_N of them, replaced in turn. */
#define PKI_PF_N 16
#define PKI_PF_CAP 512
#define PKI_PF_SIG_MAX 144
static struct {
	X509 *cert;
	size_t siglen;
	uint8_t sig[PKI_PF_SIG_MAX];
	char pf[PKI_PF_CAP];
} pf_tab[PKI_PF_N];
static size_t pf_next;
static pthread_mutex_t pf_mu = PTHREAD_MUTEX_INITIALIZER;

void
pki_cache_flush(void)
{
	pthread_mutex_lock(&vc_mu);
	for (size_t i = 0; i < PKI_CACHE_N; i++)
		vc_clear(&vc_tab[i]);
	vc_next = 0;
	pthread_mutex_unlock(&vc_mu);
	pthread_mutex_lock(&pk_mu);
	for (size_t i = 0; i < PKI_CACHE_N; i++) {
		EVP_PKEY_free(pk_tab[i].key);
		pk_tab[i].key = NULL;
	}
	pk_next = 0;
	pthread_mutex_unlock(&pk_mu);
	pthread_mutex_lock(&ctx_mu);
	for (size_t i = 0; i < PKI_CTX_N; i++) {
		EVP_PKEY_free(ctx_tab[i].key);
		EVP_MD_CTX_free(ctx_tab[i].ctx);
		ctx_tab[i].key = NULL;
		ctx_tab[i].ctx = NULL;
	}
	ctx_next = 0;
	pthread_mutex_unlock(&ctx_mu);
	pthread_mutex_lock(&pf_mu);
	for (size_t i = 0; i < PKI_PF_N; i++) {
		X509_free(pf_tab[i].cert);
		pf_tab[i].cert = NULL;
	}
	pf_next = 0;
	pthread_mutex_unlock(&pf_mu);
}

/* 1 if now is inside cert's validity period. */
static int
in_validity(const X509 *cert)
{
	return X509_cmp_current_time(X509_get0_notBefore(cert)) < 0 &&
	    X509_cmp_current_time(X509_get0_notAfter(cert)) > 0;
}

static int
der_hash(const uint8_t *der, size_t len, uint8_t h[32])
{
	unsigned int n = 0;
	return EVP_Digest(der, len, h, &n, ts_ossl_sha256(), NULL) == 1 && n == 32 ? 0 : TS_ECRYPTO;
}

int
pki_verify_euicc_der(X509 *ci, const uint8_t *eum_der, size_t eum_len, const uint8_t *euicc_der,
    size_t euicc_len, X509 **eum_out, X509 **euicc_out, char *errbuf, size_t errcap)
{
	uint8_t he[32], hl[32];
	X509 *eum = NULL, *euicc = NULL;
	X509_STORE *anchor = NULL;
	STACK_OF(X509) *chain = NULL;
	char e[256];
	int rc;
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	if (ci == NULL || eum_out == NULL || euicc_out == NULL)
		return TS_EINVAL;
	*eum_out = *euicc_out = NULL;
	if (eum_der == NULL || euicc_der == NULL || eum_len == 0 || euicc_len == 0)
		return TS_EPARSE;
	if (der_hash(eum_der, eum_len, he) != 0 || der_hash(euicc_der, euicc_len, hl) != 0)
		return TS_ECRYPTO;
	pthread_mutex_lock(&vc_mu);
	struct vc_ent *ee = vc_find(he, ci, NULL, 1);
	struct vc_ent *le = ee != NULL ? vc_find(hl, ci, ee->cert, 0) : NULL;
	if (ee != NULL && X509_up_ref(ee->cert)) {
		eum = ee->cert;
		if (X509_STORE_up_ref(ee->anchor))
			anchor = ee->anchor;
	}
	if (eum != NULL && le != NULL && X509_up_ref(le->cert))
		euicc = le->cert;
	pthread_mutex_unlock(&vc_mu);
	if (eum != NULL && euicc != NULL) {
		/* both verified before: only the clock may have changed */
		if (!in_validity(ci) || !in_validity(eum) || !in_validity(euicc)) {
			rc = why(errbuf, errcap, "chain: ", "certificate is not yet valid or has expired");
			goto done;
		}
		rc = 0;
		goto done;
	}
	if (euicc == NULL && (rc = pki_cert_from_der(euicc_der, euicc_len, &euicc)) != 0)
		goto done;
	if (eum == NULL && (rc = pki_cert_from_der(eum_der, eum_len, &eum)) != 0)
		goto done;
	rc = TS_ENOMEM;
	if ((chain = sk_X509_new_null()) == NULL || !sk_X509_push(chain, eum))
		goto done;
	if (anchor != NULL) {
		/* a new eUICC of a known EUM: its own signature, the EUM's
		 * validity and constraints, then the profile; and the CI's clock */
		if (!in_validity(ci)) {
			rc = why(errbuf, errcap, "chain: ", "certificate is not yet valid or has expired");
			goto done;
		}
		if (verify_in_store(anchor, NULL, euicc, X509_V_FLAG_PARTIAL_CHAIN, e, sizeof(e)) != 0) {
			rc = why(errbuf, errcap, "chain: ", e);
			goto done;
		}
		if ((rc = role_profile(ci, chain, euicc, PKI_ROLE_EUICC, errbuf, errcap)) != 0)
			goto done;
		pthread_mutex_lock(&vc_mu);
		struct vc_ent *again = vc_find(he, ci, NULL, 1);
		if (again != NULL && again->cert == eum && vc_find(hl, ci, eum, 0) == NULL)
			vc_put(hl, ci, euicc, eum, NULL);
		pthread_mutex_unlock(&vc_mu);
		goto done;
	}
	/* first sight of this EUM: the whole chain, as pki_verify_role */
	if ((rc = pki_verify_role(ci, chain, euicc, PKI_ROLE_EUICC, errbuf, errcap)) != 0)
		goto done;
	if ((anchor = X509_STORE_new()) != NULL && X509_STORE_add_cert(anchor, eum)) {
		pthread_mutex_lock(&vc_mu);
		if (vc_find(he, ci, NULL, 1) == NULL) {
			vc_put(he, ci, eum, NULL, anchor);
			vc_put(hl, ci, euicc, eum, NULL);
		}
		pthread_mutex_unlock(&vc_mu);
	}
	ERR_clear_error();
done:
	sk_X509_free(chain);
	X509_STORE_free(anchor);
	if (rc != 0) {
		X509_free(eum);
		X509_free(euicc);
		return rc;
	}
	*eum_out = eum;
	*euicc_out = euicc;
	return 0;
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

static int
ein_prefixes_decode(const X509 *cert, char *buf, size_t cap)
{
	int rc;
	NAME_CONSTRAINTS *nc = sgp22_nc(cert, &rc);
	size_t used = 0;
	for (int i = 0; nc != NULL && rc == 0 && i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
		const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
		const ASN1_STRING *sn = name_serial(st->base->d.directoryName);
		size_t n = (size_t)ASN1_STRING_length(sn);
		if (used + (used ? 1 : 0) + n >= cap) {
			rc = TS_ELIMIT;
			break;
		}
		if (used)
			buf[used++] = ',';
		memcpy(buf + used, ASN1_STRING_get0_data(sn), n);
		used += n;
		buf[used] = '\0';
	}
	NAME_CONSTRAINTS_free(nc);
	if (rc != 0)
		buf[0] = '\0';
	return rc;
}

int
pki_cert_ein_prefixes(const X509 *cert, char *buf, size_t cap)
{
	if (cert == NULL || buf == NULL || cap == 0)
		return TS_EINVAL;
	buf[0] = '\0';
	const ASN1_BIT_STRING *sig = NULL;
	X509_get0_signature(&sig, NULL, cert);
	size_t siglen = sig != NULL ? (size_t)ASN1_STRING_length(sig) : 0;
	int keep = sig != NULL && siglen > 0 && siglen <= PKI_PF_SIG_MAX, rc = -1;
	pthread_mutex_lock(&pf_mu);
	for (size_t i = 0; keep && i < PKI_PF_N && rc == -1; i++) {
		if (pf_tab[i].cert != cert || pf_tab[i].siglen != siglen ||
		    memcmp(pf_tab[i].sig, ASN1_STRING_get0_data(sig), siglen) != 0)
			continue;
		size_t n = strlen(pf_tab[i].pf);
		rc = n < cap ? 0 : TS_ELIMIT;
		if (rc == 0)
			memcpy(buf, pf_tab[i].pf, n + 1);
	}
	pthread_mutex_unlock(&pf_mu);
	if (rc != -1)
		return rc;
	if ((rc = ein_prefixes_decode(cert, buf, cap)) != 0 || !keep || strlen(buf) >= PKI_PF_CAP)
		return rc;
	X509 *c = (X509 *)cert; /* the reference count only */
	if (X509_up_ref(c)) {
		pthread_mutex_lock(&pf_mu);
		X509 *old = pf_tab[pf_next].cert;
		pf_tab[pf_next].cert = c;
		pf_tab[pf_next].siglen = siglen;
		memcpy(pf_tab[pf_next].sig, ASN1_STRING_get0_data(sig), siglen);
		memcpy(pf_tab[pf_next].pf, buf, strlen(buf) + 1);
		pf_next = (pf_next + 1) % PKI_PF_N;
		pthread_mutex_unlock(&pf_mu);
		X509_free(old);
	}
	return 0;
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
	if (!EVP_Digest(der, (size_t)n, md, &mdlen, ts_ossl_sha256(), NULL) || mdlen != sizeof(md))
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
	if (X509_get0_pubkey(cert) == NULL)
		return TS_EPARSE;
	/* The certificate's SubjectPublicKeyInfo as parsed: the same DER as
	 * i2d_PUBKEY of its key, without an OpenSSL encoder look-up per call
	 * (every authenticated request names its device by it). */
	uint8_t *der = NULL, md[32];
	unsigned int mdlen = 0;
	int rc = TS_ECRYPTO;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, ts_ossl_sha256(), NULL) && mdlen == sizeof(md))
		rc = ts_hex_encode(md, sizeof(md), out, 65);
	OPENSSL_free(der);
	return rc;
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
	if ((md = md_ctx_for(key, 1)) == NULL)
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
	if ((md = md_ctx_for(pub, 0)) == NULL) {
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
	int have = 0;
	if (key == NULL || out == NULL)
		return TS_EINVAL;
	if (!p256_known(key, out, &have))
		return TS_EUNSUPP;
	if (have)
		return 0;
	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out, PKI_PUBKEY_LEN, &n))
		return TS_ECRYPTO;
	if (n != PKI_PUBKEY_LEN || out[0] != 0x04)
		return TS_EUNSUPP; /* a compressed point format was configured on the key */
	p256_keep_point(key, out);
	return 0;
}

static int
pubkey_import(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	int rc = TS_ECRYPTO;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
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
	/* That import is the ECC partial public-key validation (NIST SP 800-56A
	 * r3 §5.6.2.3.4): OpenSSL's EC point decoding refuses a coordinate
	 * outside [0, p-1] and a point off the curve, and the point at infinity
	 * has no 65-byte 04 encoding; P-256 has cofactor 1, so the full check's
	 * n*Q = O holds too. A separate EVP_PKEY_public_check_quick could never
	 * fail after it (test_pki test_sign_verify: the SP 800-56A vectors are
	 * refused here, by the import). */
	*out = key;
	key = NULL;
	rc = 0;
fail:
	if (rc == TS_EPARSE)
		ERR_clear_error();
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

int
pki_pubkey_from_point(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	if (pt == NULL || out == NULL)
		return TS_EINVAL;
	*out = NULL;
	if (len != PKI_PUBKEY_LEN || pt[0] != 0x04)
		return TS_EPARSE;
	pthread_mutex_lock(&pk_mu);
	for (size_t i = 0; i < PKI_CACHE_N; i++)
		if (pk_tab[i].key != NULL && memcmp(pk_tab[i].pt, pt, PKI_PUBKEY_LEN) == 0 &&
		    EVP_PKEY_up_ref(pk_tab[i].key)) {
			*out = pk_tab[i].key;
			break;
		}
	pthread_mutex_unlock(&pk_mu);
	if (*out != NULL)
		return 0;
	int rc = pubkey_import(pt, len, out);
	if (rc != 0 || !EVP_PKEY_up_ref(*out))
		return rc;
	pthread_mutex_lock(&pk_mu);
	EVP_PKEY_free(pk_tab[pk_next].key);
	memcpy(pk_tab[pk_next].pt, pt, PKI_PUBKEY_LEN);
	pk_tab[pk_next].key = *out;
	pk_next = (pk_next + 1) % PKI_CACHE_N;
	pthread_mutex_unlock(&pk_mu);
	return 0;
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

/* "RID:2.25.<n>": a fresh UUID OID (ITU-T X.667, a random version-4 UUID
 * as one integer arc), the SM-DP+ OID of a generated test PKI. */
static int
fresh_smdp_oid(char *out, size_t cap)
{
	uint8_t u[16];
	int rc = TS_ECRYPTO;
	BIGNUM *bn = NULL;
	char *dec = NULL;
	if (ts_random(u, sizeof(u)) != 0)
		return TS_ECRYPTO;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	if ((bn = BN_bin2bn(u, sizeof(u), NULL)) == NULL || (dec = BN_bn2dec(bn)) == NULL)
		goto fail;
	rc = ts_snprintf(out, cap, "RID:2.25.%s", dec);
fail:
	OPENSSL_free(dec);
	BN_free(bn);
	return rc;
}

int
pki_node_tls_generate(const char *dir, const char *const *hosts, size_t n_hosts)
{
	int rc;
	EVP_PKEY *nca_key = NULL;
	X509 *nca = NULL;
	char san[2048];
	if (dir == NULL || (n_hosts > 0 && hosts == NULL))
		return TS_EINVAL;
	if ((rc = san_for_hosts(hosts, n_hosts, san, sizeof(san))) != 0)
		return rc;
	pki_issue_opts o = {
		.profile = PKI_PROFILE_ROOT_CA, .cn = "tapshare node CA", .org = "tapshare node", .days = PKI_CA_DAYS,
	};
	if ((rc = gen_one(dir, "node-ca", NULL, NULL, &o, &nca_key, &nca)) != 0)
		goto fail;
	o = (pki_issue_opts){
		.profile = PKI_PROFILE_TLS_SERVER, .cn = n_hosts > 0 ? hosts[0] : "localhost",
		.org = "tapshare node", .san = san, .role = PKI_ROLE_DP_TLS, .days = PKI_LEAF_DAYS,
	};
	rc = gen_one(dir, "node-tls", nca, nca_key, &o, NULL, NULL);
fail:
	EVP_PKEY_free(nca_key);
	X509_free(nca);
	return rc;
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
	char san[2048], rid[80];
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
		.org = "tapshare test", .role = PKI_ROLE_CI, .days = PKI_CA_DAYS,
	};
	if ((rc = gen_one(dir, "ci", NULL, NULL, &o, &ci_key, &ci)) != 0)
		goto fail;

	o = (pki_issue_opts){
		.profile = PKI_PROFILE_SUB_CA, .cn = "tapshare test EUM",
		.org = "tapshare test", .ein_prefixes = ein_prefixes != NULL ? ein_prefixes : "89049032",
		.role = PKI_ROLE_EUM, .days = PKI_CA_DAYS,
	};
	if ((rc = gen_one(dir, "eum", ci, ci_key, &o, &eum_key, &eum)) != 0)
		goto fail;

	for (size_t i = 0; i < n_eids; i++) {
		char base[64];
		if ((rc = ts_snprintf(base, sizeof(base), "euicc-%s", eids[i])) != 0)
			goto fail;
		o = (pki_issue_opts){
			.profile = PKI_PROFILE_EUICC, .cn = "tapshare test eUICC",
			.org = "tapshare test", .serial_number = eids[i], .role = PKI_ROLE_EUICC,
			.days = PKI_LEAF_DAYS,
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
		.org = "tapshare test node", .san = san, .role = PKI_ROLE_DP_TLS, .days = PKI_LEAF_DAYS,
	};
	if ((rc = gen_one(dir, "node-tls", nca, nca_key, &o, NULL, NULL)) != 0)
		goto fail;

	/* DPauth and DPpb: two keys, one SM-DP+ OID (SGP.22 4.5.2.1.0.4/.5). */
	if ((rc = fresh_smdp_oid(rid, sizeof(rid))) != 0)
		goto fail;
	o = (pki_issue_opts){
		.profile = PKI_PROFILE_SIGNING, .cn = "tapshare test SM-DP+ DPauth",
		.org = "tapshare test node", .san = rid, .role = PKI_ROLE_DP_AUTH, .days = PKI_LEAF_DAYS,
	};
	if ((rc = gen_one(dir, "dpauth", ci, ci_key, &o, NULL, NULL)) != 0)
		goto fail;
	o.cn = "tapshare test SM-DP+ DPpb";
	o.role = PKI_ROLE_DP_PB;
	if ((rc = gen_one(dir, "dppb", ci, ci_key, &o, NULL, NULL)) != 0)
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
