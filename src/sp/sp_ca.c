/*
 * sp_ca.c — the provider's bank-ID CA (sp_ca.h).
 */
#include "sp/sp_ca.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define SP_CA_SUFFIX " bank-ID CA"

int
sp_ca_name(const char *dir, char *cn, size_t cap)
{
	if (dir == NULL || cn == NULL || cap == 0)
		return TS_EINVAL;
	char abs[PATH_MAX];
	const char *p = realpath(dir, abs) != NULL ? abs : dir;
	/* Last non-empty path element. */
	size_t end = strlen(p);
	while (end > 0 && p[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && p[start - 1] != '/')
		start--;
	char name[SP_CA_CN_MAX];
	size_t room = sizeof(name) - sizeof(SP_CA_SUFFIX); /* leaves the NUL */
	size_t n = 0;
	for (size_t i = start; i < end && n < room; i++) {
		unsigned char c = (unsigned char)p[i];
		name[n++] = (c >= 0x20 && c <= 0x7e) ? (char)c : '_';
	}
	if (n == 0) {
		memcpy(name, "tapshare-sp", 11);
		n = 11;
	}
	name[n] = '\0';
	return ts_snprintf(cn, cap, "%s" SP_CA_SUFFIX, name);
}

static int
ca_create(const char *crt_path, const char *key_path, const char *cn)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc;
	pki_issue_opts o = {
		.profile = PKI_PROFILE_ROOT_CA,
		.cn = cn,
		.org = SP_CERT_ORG,
		.days = SP_CA_DAYS,
	};
	if ((rc = pki_keygen(&key)) != 0 || (rc = pki_issue(NULL, key, key, &o, &cert)) != 0)
		goto fail;
	/* Key first: a certificate without its key would be useless. */
	if ((rc = pki_key_save(key, key_path)) != 0)
		goto fail;
	if ((rc = pki_cert_save(cert, crt_path)) != 0) {
		(void)unlink(key_path);
		goto fail;
	}
	log_info("created the bank-ID CA %s (%s)", crt_path, cn);
fail:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int
sp_ca_open(const char *crt_path, const char *key_path, const char *cn, int create,
    sp_ca **out)
{
	if (crt_path == NULL || key_path == NULL || out == NULL || (create && cn == NULL))
		return TS_EINVAL;
	*out = NULL;
	int have_crt = access(crt_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	int rc;
	if (have_crt != have_key) {
		log_error("bank-ID CA: %s exists but %s does not", have_crt ? crt_path : key_path,
		    have_crt ? key_path : crt_path);
		return TS_ECONFIG;
	}
	if (!have_crt) {
		if (!create)
			return TS_ENOTFOUND;
		if ((rc = ca_create(crt_path, key_path, cn)) != 0)
			return rc;
	}
	sp_ca *ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return TS_ENOMEM;
	if ((rc = pki_cert_load(crt_path, &ca->cert)) != 0 ||
	    (rc = pki_key_load(key_path, &ca->key)) != 0)
		goto fail;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		log_error("bank-ID CA: %s does not belong to %s", key_path, crt_path);
		rc = TS_ECONFIG;
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	sp_ca_free(ca);
	return rc;
}

void
sp_ca_free(sp_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int
sp_ca_issue(const sp_ca *ca, EVP_PKEY *subject, const char *account,
    const char *assoc_id, int64_t not_after, int64_t now, uint8_t **der, size_t *der_len)
{
	if (ca == NULL || subject == NULL || account == NULL || account[0] == '\0' ||
	    assoc_id == NULL || der == NULL || der_len == NULL)
		return TS_EINVAL;
	*der = NULL;
	*der_len = 0;
	if (not_after != 0 && not_after <= now)
		return TS_EINVAL;
	int days = SP_CERT_DAYS;
	if (not_after != 0) {
		int64_t d = (not_after - now + 86399) / 86400;
		if (d > 36500)
			return TS_EINVAL;
		days = d < 1 ? 1 : (int)d;
	}
	pki_issue_opts o = {
		.profile = PKI_PROFILE_SIGNING,
		.cn = account,
		.org = SP_CERT_ORG,
		.serial_number = assoc_id,
		.days = days,
	};
	X509 *cert = NULL;
	int rc = pki_issue(ca->cert, ca->key, subject, &o, &cert);
	if (rc != 0)
		return rc;
	if (not_after != 0) {
		/* pki_issue counts whole days; the grant ends at a given second:
		 * set it and sign again (the new signature replaces the old). */
		rc = TS_ECRYPTO;
		if (ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) == NULL ||
		    X509_sign(cert, ca->key, EVP_sha256()) <= 0)
			goto out;
	}
	rc = pki_cert_to_der(cert, der, der_len);
out:
	X509_free(cert);
	return rc;
}
