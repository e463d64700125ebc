/*
 * test_pki.c — certificate issuing and verification, CSRs, raw signatures,
 * points, and the test-PKI generator (lib/pki.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/eid.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#include "../hex_fixture.h"

/* A valid EID from 30 leading digits (check digits computed). */
static void
make_eid(const char *first30, char out[EID_DIGITS + 1])
{
	char cd[3];
	assert_int_equal(strlen(first30), 30);
	assert_int_equal(eid_check_digits(first30, cd), 0);
	memcpy(out, first30, 30);
	memcpy(out + 30, cd, 3);
	assert_int_equal(eid_is_valid(out), 1);
}

typedef struct chain {
	EVP_PKEY *ci_key, *eum_key, *euicc_key;
	X509 *ci, *eum, *euicc;
	char eid[EID_DIGITS + 1];
} chain;

static void
chain_make(chain *c)
{
	memset(c, 0, sizeof(*c));
	make_eid("890490320000000000000000001234", c->eid);
	assert_int_equal(pki_keygen(&c->ci_key), 0);
	assert_int_equal(pki_keygen(&c->eum_key), 0);
	assert_int_equal(pki_keygen(&c->euicc_key), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_ROOT_CA, .cn = "Test CI", .role = PKI_ROLE_CI,
		.days = 3650 };
	assert_int_equal(pki_issue(NULL, c->ci_key, c->ci_key, &o, &c->ci), 0);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_SUB_CA, .cn = "Test EUM", .org = "EUM Inc",
		.ein_prefixes = "89049032,89001012", .role = PKI_ROLE_EUM, .days = 3650 };
	assert_int_equal(pki_issue(c->ci, c->ci_key, c->eum_key, &o, &c->eum), 0);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_EUICC, .cn = "Test eUICC", .org = "EUM Inc",
		.serial_number = c->eid, .role = PKI_ROLE_EUICC, .days = 825 };
	assert_int_equal(pki_issue(c->eum, c->eum_key, c->euicc_key, &o, &c->euicc), 0);
}

static void
chain_free(chain *c)
{
	EVP_PKEY_free(c->ci_key);
	EVP_PKEY_free(c->eum_key);
	EVP_PKEY_free(c->euicc_key);
	X509_free(c->ci);
	X509_free(c->eum);
	X509_free(c->euicc);
}

static STACK_OF(X509) *
one(X509 *x)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	assert_non_null(sk);
	assert_true(sk_X509_push(sk, x) > 0);
	return sk;
}

static void
test_issue_and_verify_chain(void **state)
{
	(void)state;
	chain c;
	char err[256];
	chain_make(&c);
	STACK_OF(X509) *inter = one(c.eum);

	assert_int_equal(pki_verify_chain(c.ci, inter, c.euicc, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(pki_verify_chain(c.ci, NULL, c.eum, err, sizeof(err)), 0);

	/* Without the intermediate the eUICC certificate cannot be chained. */
	assert_int_equal(pki_verify_chain(c.ci, NULL, c.euicc, err, sizeof(err)), TS_EVERIFY);
	assert_string_equal(err, "unable to get local issuer certificate");

	/* A different root with the same name does not verify. */
	EVP_PKEY *k2 = NULL;
	X509 *ci2 = NULL;
	assert_int_equal(pki_keygen(&k2), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_ROOT_CA, .cn = "Test CI", .days = 3650 };
	assert_int_equal(pki_issue(NULL, k2, k2, &o, &ci2), 0);
	assert_int_equal(pki_verify_chain(ci2, inter, c.euicc, err, sizeof(err)), TS_EVERIFY);
	assert_true(strlen(err) > 0);

	/* The leaf may not be used as the trust anchor for the EUM. */
	assert_int_equal(pki_verify_chain(c.euicc, NULL, c.eum, NULL, 0), TS_EVERIFY);

	sk_X509_free(inter);
	X509_free(ci2);
	EVP_PKEY_free(k2);
	chain_free(&c);
}

static void
test_profiles(void **state)
{
	(void)state;
	chain c;
	chain_make(&c);

	/* CI: critical CA:TRUE pathlen 1; EUM pathlen 0; eUICC not a CA. */
	assert_int_equal(X509_check_ca(c.ci), 1);
	assert_int_equal(X509_check_ca(c.eum), 1);
	assert_int_equal(X509_check_ca(c.euicc), 0);
	assert_int_equal(X509_get_pathlen(c.ci), 1);
	assert_int_equal(X509_get_pathlen(c.eum), 0);
	int crit = -1;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(c.eum, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_true(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_key_usage(c.eum) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_get_key_usage(c.euicc), KU_DIGITAL_SIGNATURE);

	/* SKI / AKI link the chain. */
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(c.eum);
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(c.euicc);
	assert_non_null(ski);
	assert_non_null(aki);
	assert_int_equal(ASN1_OCTET_STRING_cmp(ski, aki), 0);

	/* 128-bit positive serial; notBefore back-dated by 60 s. */
	BIGNUM *sn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c.euicc), NULL);
	assert_non_null(sn);
	assert_false(BN_is_negative(sn));
	assert_int_equal(BN_num_bytes(sn), 16);
	BN_free(sn);
	time_t t = time(NULL) - 59;
	assert_true(X509_cmp_time(X509_get0_notBefore(c.euicc), &t) < 0);
	t = time(NULL) - 120;
	assert_true(X509_cmp_time(X509_get0_notBefore(c.euicc), &t) > 0);

	/* TLS server: serverAuth + clientAuth, SAN. TLS client: clientAuth only. */
	EVP_PKEY *k = NULL;
	X509 *srv = NULL, *cli = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_TLS_SERVER, .cn = "localhost",
		.san = "IP:127.0.0.1,DNS:localhost", .days = 825 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &srv), 0);
	assert_int_equal(X509_get_extended_key_usage(srv), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(srv, "example.org", 0, 0, NULL), 0);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_TLS_CLIENT, .cn = "device", .days = 825 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &cli), 0);
	assert_int_equal(X509_get_extended_key_usage(cli), XKU_SSL_CLIENT);

	/* Bad options. */
	X509 *bad = NULL;
	o = (pki_issue_opts){ .profile = PKI_PROFILE_EUICC, .cn = "x", .serial_number = "123",
		.days = 1 };
	assert_int_equal(pki_issue(c.eum, c.eum_key, k, &o, &bad), TS_EINVAL);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_SUB_CA, .cn = "x", .ein_prefixes = "89,a1",
		.days = 1 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &bad), TS_EINVAL);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_ROOT_CA, .cn = "x", .days = 1 };
	assert_int_equal(pki_issue(NULL, c.ci_key, k, &o, &bad), TS_EINVAL); /* key mismatch */
	o = (pki_issue_opts){ .profile = PKI_PROFILE_SIGNING, .cn = "x", .days = 0 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &bad), TS_EINVAL);
	assert_null(bad);

	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(k);
	chain_free(&c);
}

static void
test_eid_and_ein(void **state)
{
	(void)state;
	chain c;
	eid_t eid;
	char buf[64];
	chain_make(&c);

	assert_int_equal(pki_cert_eid(c.euicc, &eid), 0);
	assert_string_equal(eid.digits, c.eid);
	assert_int_equal(pki_cert_eid(c.eum, &eid), TS_ENOTFOUND);

	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "89049032,89001012");
	assert_int_equal(pki_cert_ein_prefixes(c.euicc, buf, sizeof(buf)), TS_ENOTFOUND);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, 17), TS_ELIMIT);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, 18), 0);

	/* The extension: critical nameConstraints, the bytes written by hand
	 * from RFC 5280 4.2.1.10 and SGP.22 4.5.2.1.0.2 (one EUM, one prefix). */
	EVP_PKEY *k1 = NULL;
	X509 *eum1 = NULL;
	assert_int_equal(pki_keygen(&k1), 0);
	pki_issue_opts o1 = { .profile = PKI_PROFILE_SUB_CA, .cn = "E", .org = "EUM Inc",
		.ein_prefixes = "89049032", .role = PKI_ROLE_EUM, .days = 1 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k1, &o1, &eum1), 0);
	int idx = X509_get_ext_by_NID(eum1, NID_name_constraints, -1);
	assert_true(idx >= 0);
	X509_EXTENSION *ext = X509_get_ext(eum1, idx);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(ext);
	static const uint8_t want[] = {
		0x30, 0x2D,                         /* NameConstraints */
		0xA0, 0x2B,                         /*  permittedSubtrees [0] IMPLICIT */
		0x30, 0x29,                         /*   GeneralSubtree */
		0xA4, 0x27,                         /*    base: directoryName [4] (Name is a CHOICE: explicit) */
		0x30, 0x25,                         /*     RDNSequence */
		0x31, 0x10, 0x30, 0x0E,             /*      SET { O = UTF8String "EUM Inc" } */
		0x06, 0x03, 0x55, 0x04, 0x0A, 0x0C, 0x07, 'E', 'U', 'M', ' ', 'I', 'n', 'c',
		0x31, 0x11, 0x30, 0x0F,             /*      SET { serialNumber = PrintableString "89049032" } */
		0x06, 0x03, 0x55, 0x04, 0x05, 0x13, 0x08, '8', '9', '0', '4', '9', '0', '3', '2',
	};
	assert_int_equal(ASN1_STRING_length(os), sizeof(want));
	assert_memory_equal(ASN1_STRING_get0_data(os), want, sizeof(want));
	X509_free(eum1);
	EVP_PKEY_free(k1);

	assert_int_equal(pki_ein_allowed(buf, &eid), 1);
	assert_int_equal(pki_ein_allowed("89001012,89049032", &eid), 1);
	assert_int_equal(pki_ein_allowed("89001012", &eid), 0);
	assert_int_equal(pki_ein_allowed("", &eid), 0);
	assert_int_equal(pki_ein_allowed(",,", &eid), 0);
	assert_int_equal(pki_ein_allowed("890490321", &eid), 0);
	char other[EID_DIGITS + 1];
	eid_t e2;
	make_eid("890010120000000000000000000001", other);
	assert_int_equal(eid_parse(other, &e2), 0);
	assert_int_equal(pki_ein_allowed(buf, &e2), 1);
	make_eid("890010130000000000000000000001", other);
	assert_int_equal(eid_parse(other, &e2), 0);
	assert_int_equal(pki_ein_allowed(buf, &e2), 0);
	chain_free(&c);
}


/* The certificatePolicies extension of cert: critical, exactly the one
 * PolicyInformation for 2.23.146.1.2.1.<arc> (DER written by hand:
 * 06 07 67 81 12 01 02 01 xx — 2*40+23 = 0x67, 146 = 81 12). */
static void
assert_policy(X509 *cert, uint8_t arc)
{
	int idx = X509_get_ext_by_NID(cert, NID_certificate_policies, -1);
	assert_true(idx >= 0);
	X509_EXTENSION *ext = X509_get_ext(cert, idx);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(ext);
	const uint8_t want[] = { 0x30, 0x0B, 0x30, 0x09, 0x06, 0x07, 0x67, 0x81, 0x12, 0x01, 0x02, 0x01, arc };
	assert_int_equal(ASN1_STRING_length(os), sizeof(want));
	assert_memory_equal(ASN1_STRING_get0_data(os), want, sizeof(want));
}

/* Re-signs *cert with key after a test changed it, and replaces it by a
 * fresh decode (OpenSSL caches the extensions it has looked at). */
static void
resign(X509 **cert, EVP_PKEY *key)
{
	assert_true(X509_sign(*cert, key, EVP_sha256()) > 0);
	X509 *fresh = X509_dup(*cert);
	assert_non_null(fresh);
	X509_free(*cert);
	*cert = fresh;
}

/* Replaces (or adds) cert's nameConstraints with the OpenSSL config value
 * conf (NULL: removes it), re-signed by the CI. */
static void
set_nc(chain *c, X509 **pcert, const char *conf)
{
	X509 *cert = *pcert;
	int idx = X509_get_ext_by_NID(cert, NID_name_constraints, -1);
	if (idx >= 0)
		X509_EXTENSION_free(X509_delete_ext(cert, idx));
	if (conf != NULL) {
		X509V3_CTX ctx;
		X509V3_set_ctx(&ctx, c->ci, cert, NULL, NULL, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_name_constraints, conf);
		assert_non_null(ext);
		assert_true(X509_add_ext(cert, ext, -1));
		X509_EXTENSION_free(ext);
	}
	resign(pcert, c->ci_key);
}

static void
test_sgp22_policies(void **state)
{
	(void)state;
	chain c;
	chain_make(&c);
	assert_policy(c.ci, 0);
	assert_policy(c.euicc, 1);
	assert_policy(c.eum, 2);
	assert_int_equal(pki_cert_has_role(c.ci, PKI_ROLE_CI), 1);
	assert_int_equal(pki_cert_has_role(c.ci, PKI_ROLE_EUM), 0);
	assert_int_equal(pki_cert_has_role(c.eum, PKI_ROLE_EUM), 1);
	assert_int_equal(pki_cert_has_role(c.euicc, PKI_ROLE_EUICC), 1);
	assert_int_equal(pki_cert_has_role(c.euicc, PKI_ROLE_NONE), 0);
	/* SGP.22 4.5.2.1: the CI has only the SKI; the others have an AKI. */
	assert_non_null(X509_get0_subject_key_id(c.ci));
	assert_null(X509_get0_authority_key_id(c.ci));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(c.ci), X509_get0_authority_key_id(c.eum)), 0);

	EVP_PKEY *k = NULL;
	X509 *dp[4] = { 0 };
	static const int roles[4] = { PKI_ROLE_DP_TLS, PKI_ROLE_DP_AUTH, PKI_ROLE_DP_PB, PKI_ROLE_DS_AUTH };
	assert_int_equal(pki_keygen(&k), 0);
	for (size_t i = 0; i < 4; i++) {
		pki_issue_opts o = { .profile = PKI_PROFILE_SIGNING, .cn = "dp", .role = roles[i], .days = 1 };
		assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &dp[i]), 0);
	}
	assert_policy(dp[0], 3);
	assert_policy(dp[1], 4);
	assert_policy(dp[2], 5);
	assert_policy(dp[3], 7);
	char e[300];
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[1], PKI_ROLE_DP_AUTH, e, sizeof(e)), 0);
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[2], PKI_ROLE_DP_PB, e, sizeof(e)), 0);
	/* DPauth where DPpb is needed, and the other way round. */
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[1], PKI_ROLE_DP_PB, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "not a DPpb certificate: no certificate policy 2.23.146.1.2.1.5");
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[2], PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);
	/* A wrong policy OID (SM-DS auth) is not DPauth. */
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[3], PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);
	/* No policy at all. */
	X509 *none = NULL;
	pki_issue_opts o = { .profile = PKI_PROFILE_SIGNING, .cn = "dp", .days = 1 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &none), 0);
	assert_int_equal(X509_get_ext_by_NID(none, NID_certificate_policies, -1), -1);
	assert_int_equal(pki_verify_role(c.ci, NULL, none, PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);
	/* A CA certificate with the role is no end entity. */
	X509 *ca = NULL;
	o = (pki_issue_opts){ .profile = PKI_PROFILE_SUB_CA, .cn = "dp", .role = PKI_ROLE_DP_AUTH, .days = 1 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &ca), 0);
	assert_int_equal(pki_verify_role(c.ci, NULL, ca, PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "DPauth certificate is a CA");
	/* Expired: notAfter moved into the past, re-signed. */
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(dp[1]), -1, 0, NULL));
	resign(&dp[1], c.ci_key);
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[1], PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "chain: certificate has expired");
	/* A root without id-rspRole-ci is no CI. */
	EVP_PKEY *rk = NULL;
	X509 *root = NULL, *leaf = NULL;
	assert_int_equal(pki_keygen(&rk), 0);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_ROOT_CA, .cn = "R", .days = 1 };
	assert_int_equal(pki_issue(NULL, rk, rk, &o, &root), 0);
	o = (pki_issue_opts){ .profile = PKI_PROFILE_SIGNING, .cn = "dp", .role = PKI_ROLE_DP_AUTH, .days = 1 };
	assert_int_equal(pki_issue(root, rk, k, &o, &leaf), 0);
	assert_int_equal(pki_verify_role(root, NULL, leaf, PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "the root has no id-rspRole-ci (2.23.146.1.2.1.0) policy");
	/* Bad role values. */
	X509 *bad = NULL;
	o.role = PKI_ROLE_DS_AUTH + 1;
	assert_int_equal(pki_issue(c.ci, c.ci_key, k, &o, &bad), TS_EINVAL);
	assert_int_equal(pki_verify_role(c.ci, NULL, dp[2], 99, e, sizeof(e)), TS_EINVAL);
	assert_string_equal(pki_role_name(PKI_ROLE_DP_PB), "DPpb");
	for (size_t i = 0; i < 4; i++)
		X509_free(dp[i]);
	X509_free(none);
	X509_free(ca);
	X509_free(root);
	X509_free(leaf);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(k);
	chain_free(&c);
}

/* An eUICC certificate for eid (30 leading digits) with subject O org. */
static X509 *
euicc_for(chain *c, const char *first30, const char *org)
{
	char eid[EID_DIGITS + 1];
	X509 *x = NULL;
	make_eid(first30, eid);
	pki_issue_opts o = { .profile = PKI_PROFILE_EUICC, .cn = "eUICC", .org = org,
		.serial_number = eid, .role = PKI_ROLE_EUICC, .days = 1 };
	assert_int_equal(pki_issue(c->eum, c->eum_key, c->euicc_key, &o, &x), 0);
	return x;
}

/* The prefixes kept per certificate (issue 9) answer for that certificate
 * only: two EUMs read in turn keep their own lists, a hit still honours the
 * caller's buffer size, and a flush forgets them without changing answers. */
static void
test_ein_prefixes_cached(void **state)
{
	(void)state;
	chain c;
	char buf[64];
	chain_make(&c);
	EVP_PKEY *k2 = NULL;
	X509 *eum2 = NULL;
	assert_int_equal(pki_keygen(&k2), 0);
	pki_issue_opts o = { .profile = PKI_PROFILE_SUB_CA, .cn = "EUM 2", .org = "EUM Two",
		.ein_prefixes = "89033024", .role = PKI_ROLE_EUM, .days = 1 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, k2, &o, &eum2), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "89049032,89001012");
		assert_int_equal(pki_cert_ein_prefixes(eum2, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "89033024");
		assert_int_equal(pki_cert_ein_prefixes(eum2, buf, 8), TS_ELIMIT);
		assert_string_equal(buf, "");
		assert_int_equal(pki_cert_ein_prefixes(eum2, buf, 9), 0);
		assert_string_equal(buf, "89033024");
		if (round == 1)
			pki_cache_flush();
	}
	/* the same object changed in place (another EUM's nameConstraints)
	 * and signed again: read again, not answered from what was kept */
	X509 *donor = NULL;
	o.ein_prefixes = "89044000";
	assert_int_equal(pki_issue(c.ci, c.ci_key, k2, &o, &donor), 0);
	int idx = X509_get_ext_by_NID(eum2, NID_name_constraints, -1);
	assert_true(idx >= 0);
	X509_EXTENSION_free(X509_delete_ext(eum2, idx));
	X509_EXTENSION *ext = X509_get_ext(donor, X509_get_ext_by_NID(donor, NID_name_constraints, -1));
	assert_non_null(ext);
	assert_true(X509_add_ext(eum2, ext, -1));
	assert_true(X509_sign(eum2, c.ci_key, EVP_sha256()) > 0);
	assert_int_equal(pki_cert_ein_prefixes(eum2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "89044000");
	/* another object with the same signature bytes but other contents (a
	 * copy changed without signing): its own answer, not the original's */
	X509 *copy = X509_dup(eum2);
	assert_non_null(copy);
	idx = X509_get_ext_by_NID(copy, NID_name_constraints, -1);
	X509_EXTENSION_free(X509_delete_ext(copy, idx));
	assert_int_equal(pki_cert_ein_prefixes(copy, buf, sizeof(buf)), TS_ENOTFOUND);
	X509_free(copy);
	X509_free(donor);
	/* an eUICC certificate has none, asked twice */
	assert_int_equal(pki_cert_ein_prefixes(c.euicc, buf, sizeof(buf)), TS_ENOTFOUND);
	assert_int_equal(pki_cert_ein_prefixes(c.euicc, buf, sizeof(buf)), TS_ENOTFOUND);
	X509_free(eum2);
	EVP_PKEY_free(k2);
	chain_free(&c);
}

static void
test_nameconstraints(void **state)
{
	(void)state;
	chain c;
	char e[300], buf[128];
	chain_make(&c);
	STACK_OF(X509) *inter = one(c.eum);

	/* Inside: both prefixes, with the EUM's O. */
	assert_int_equal(pki_verify_role(c.ci, inter, c.euicc, PKI_ROLE_EUICC, e, sizeof(e)), 0);
	X509 *in2 = euicc_for(&c, "890010120000000000000000000077", "EUM Inc");
	assert_int_equal(pki_verify_chain(c.ci, inter, in2, e, sizeof(e)), 0);
	assert_int_equal(pki_eum_permits(c.eum, in2), 1);

	/* An EID outside the range: refused by the chain check itself. */
	X509 *out = euicc_for(&c, "890490330000000000000000000001", "EUM Inc");
	assert_int_equal(pki_eum_permits(c.eum, out), 0);
	assert_int_equal(pki_verify_chain(c.ci, inter, out, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "the subject is outside the issuer's nameConstraints (SGP.22: O and serialNumber prefix)");
	assert_int_equal(pki_verify_role(c.ci, inter, out, PKI_ROLE_EUICC, e, sizeof(e)), TS_EVERIFY);
	/* The right prefix under another organisation: refused too. */
	X509 *org = euicc_for(&c, "890490320000000000000000000002", "Other EUM");
	assert_int_equal(pki_eum_permits(c.eum, org), 0);
	assert_int_equal(pki_verify_chain(c.ci, inter, org, e, sizeof(e)), TS_EVERIFY);
	/* An eUICC certificate without the EUICC policy. */
	assert_int_equal(pki_verify_role(c.ci, inter, c.euicc, PKI_ROLE_DP_AUTH, e, sizeof(e)), TS_EVERIFY);

	/* EUM without nameConstraints: unusable (not skipped), and its eUICC is
	 * refused. Its prefixes were read (and kept) before the change in place:
	 * the re-signed certificate is read again, not answered from the cache. */
	assert_int_equal(pki_eum_check(c.eum, e, sizeof(e)), 0);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "89049032,89001012");
	set_nc(&c, &c.eum, NULL);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), TS_ENOTFOUND);
	assert_int_equal(pki_eum_check(c.eum, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "no nameConstraints: SGP.22 requires the EUM's permitted EID range there");
	assert_int_equal(pki_eum_permits(c.eum, c.euicc), 0);
	assert_int_equal(pki_verify_role(c.ci, inter, c.euicc, PKI_ROLE_EUICC, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "EUM: no nameConstraints: SGP.22 requires the EUM's permitted EID range there");

	/* Forms that are not SGP.22's: refused. */
	set_nc(&c, &c.eum, "critical,permitted;DNS:example.com");
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), TS_EUNSUPP);
	assert_int_equal(pki_eum_check(c.eum, e, sizeof(e)), TS_EVERIFY);
	assert_int_equal(pki_eum_permits(c.eum, c.euicc), 0);
	set_nc(&c, &c.eum, "critical,permitted;email:x@example.com,excluded;DNS:bad.example");
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), TS_EUNSUPP);

	/* A directoryName without serialNumber, and a non-critical extension:
	 * built by hand (an OpenSSL config would need a section). */
	X509_NAME *dn = X509_NAME_new();
	assert_non_null(dn);
	assert_true(X509_NAME_add_entry_by_NID(dn, NID_organizationName, MBSTRING_ASC,
	    (const unsigned char *)"EUM Inc", -1, -1, 0));
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
	assert_non_null(nc);
	assert_non_null(st);
	st->base->type = GEN_DIRNAME;
	st->base->d.directoryName = dn;
	nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null();
	assert_true(sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st) > 0);
	set_nc(&c, &c.eum, NULL);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(X509_add1_ext_i2d(c.eum, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT), 1);
	resign(&c.eum, c.ci_key);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), TS_EUNSUPP);
	/* Now with serialNumber, but not critical. */
	assert_true(X509_NAME_add_entry_by_NID(dn, NID_serialNumber, MBSTRING_ASC,
	    (const unsigned char *)"89049032", -1, -1, 0));
	set_nc(&c, &c.eum, NULL);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(X509_add1_ext_i2d(c.eum, NID_name_constraints, nc, 0, X509V3_ADD_DEFAULT), 1);
	resign(&c.eum, c.ci_key);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), TS_EUNSUPP);
	/* Critical: the SGP.22 form again, one prefix. */
	set_nc(&c, &c.eum, NULL);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(X509_add1_ext_i2d(c.eum, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT), 1);
	resign(&c.eum, c.ci_key);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_cert_ein_prefixes(c.eum, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "89049032");
	assert_int_equal(pki_eum_check(c.eum, e, sizeof(e)), 0);
	assert_int_equal(pki_verify_role(c.ci, inter, c.euicc, PKI_ROLE_EUICC, e, sizeof(e)), 0);
	assert_int_equal(pki_verify_chain(c.ci, inter, in2, e, sizeof(e)), TS_EVERIFY); /* 89001012 gone */
	NAME_CONSTRAINTS_free(nc);

	/* An EUM without the EUM policy. */
	int pidx = X509_get_ext_by_NID(c.eum, NID_certificate_policies, -1);
	assert_true(pidx >= 0);
	X509_EXTENSION_free(X509_delete_ext(c.eum, pidx));
	resign(&c.eum, c.ci_key);
	(void)sk_X509_set(inter, 0, c.eum);
	assert_int_equal(pki_eum_check(c.eum, e, sizeof(e)), TS_EVERIFY);
	assert_string_equal(e, "no id-rspRole-eum (2.23.146.1.2.1.2) certificate policy");

	X509_free(in2);
	X509_free(out);
	X509_free(org);
	sk_X509_free(inter);
	chain_free(&c);
}

/* pki_verify_euicc_der with a DER copy of x (trailing: one byte more). */
static int
ver_der(X509 *ci, X509 *eum, X509 *euicc, int trailing, char *e, size_t cap)
{
	uint8_t *d1 = NULL, *d2 = NULL;
	size_t l1 = 0, l2 = 0;
	X509 *oe = NULL, *ol = NULL;
	assert_int_equal(pki_cert_to_der(eum, &d1, &l1), 0);
	assert_int_equal(pki_cert_to_der(euicc, &d2, &l2), 0);
	uint8_t *d2x = malloc(l2 + 1);
	assert_non_null(d2x);
	memcpy(d2x, d2, l2);
	d2x[l2] = 0;
	int rc = pki_verify_euicc_der(ci, d1, l1, d2x, l2 + (trailing ? 1 : 0), &oe, &ol, e, cap);
	if (rc == 0) {
		assert_non_null(oe);
		assert_non_null(ol);
		assert_int_equal(X509_cmp(oe, eum), 0);
		assert_int_equal(X509_cmp(ol, euicc), 0);
	} else {
		assert_null(oe);
		assert_null(ol);
	}
	X509_free(oe);
	X509_free(ol);
	free(d1);
	free(d2);
	free(d2x);
	return rc;
}

/* The verified-certificate cache: a hit is only ever the same bytes under
 * the same root; a new eUICC of a cached EUM is still verified (signature,
 * nameConstraints, role). Each refusal below is on the cached path. */
static void
test_euicc_cache(void **state)
{
	(void)state;
	chain c;
	char e[300];
	pki_cache_flush();
	chain_make(&c);
	assert_int_equal(ver_der(c.ci, c.eum, c.euicc, 0, e, sizeof(e)), 0); /* full */
	assert_int_equal(ver_der(c.ci, c.eum, c.euicc, 0, e, sizeof(e)), 0); /* hit */
	assert_int_equal(ver_der(c.ci, c.eum, c.euicc, 1, e, sizeof(e)), TS_ETRAILING);
	/* another eUICC of the cached EUM, in range: verified under it */
	X509 *in2 = euicc_for(&c, "890010120000000000000000000077", "EUM Inc");
	assert_int_equal(ver_der(c.ci, c.eum, in2, 0, e, sizeof(e)), 0);
	/* a changed signature byte under the cached EUM: refused */
	uint8_t *der = NULL;
	size_t dl = 0;
	assert_int_equal(pki_cert_to_der(in2, &der, &dl), 0);
	der[dl - 3] ^= 0x01; /* inside s of the ECDSA signature */
	const uint8_t *q = der;
	X509 *forged = d2i_X509(NULL, &q, (long)dl);
	assert_non_null(forged);
	free(der);
	assert_int_equal(ver_der(c.ci, c.eum, forged, 0, e, sizeof(e)), TS_EVERIFY);
	assert_non_null(strstr(e, "signature"));
	X509_free(forged);
	/* outside the EUM's range, or another organisation: refused */
	X509 *out = euicc_for(&c, "890490330000000000000000000001", "EUM Inc");
	assert_int_equal(ver_der(c.ci, c.eum, out, 0, e, sizeof(e)), TS_EVERIFY);
	assert_non_null(strstr(e, "nameConstraints"));
	X509 *org = euicc_for(&c, "890490320000000000000000000002", "Other EUM");
	assert_int_equal(ver_der(c.ci, c.eum, org, 0, e, sizeof(e)), TS_EVERIFY);
	/* no eUICC policy: refused by the role profile */
	X509 *norole = NULL;
	char eid[EID_DIGITS + 1];
	make_eid("890490320000000000000000000003", eid);
	pki_issue_opts o = { .profile = PKI_PROFILE_EUICC, .cn = "eUICC", .org = "EUM Inc",
		.serial_number = eid, .role = PKI_ROLE_NONE, .days = 1 };
	assert_int_equal(pki_issue(c.eum, c.eum_key, c.euicc_key, &o, &norole), 0);
	assert_int_equal(ver_der(c.ci, c.eum, norole, 0, e, sizeof(e)), TS_EVERIFY);
	assert_non_null(strstr(e, "certificate policy"));
	/* a second EUM of the same CI, same names, another key: its own eUICC
	 * passes, but c's eUICC presented with it does not (signature) */
	chain b;
	chain_make(&b);
	X509_free(b.ci);
	b.ci = c.ci;
	X509_up_ref(c.ci);
	X509_free(b.eum);
	b.eum = NULL;
	o = (pki_issue_opts){ .profile = PKI_PROFILE_SUB_CA, .cn = "Test EUM", .org = "EUM Inc",
		.ein_prefixes = "89049032,89001012", .role = PKI_ROLE_EUM, .days = 3650 };
	assert_int_equal(pki_issue(c.ci, c.ci_key, b.eum_key, &o, &b.eum), 0);
	X509_free(b.euicc);
	b.euicc = euicc_for(&b, "890490320000000000000000000004", "EUM Inc");
	assert_int_equal(ver_der(c.ci, b.eum, b.euicc, 0, e, sizeof(e)), 0);
	assert_int_equal(ver_der(c.ci, b.eum, c.euicc, 0, e, sizeof(e)), TS_EVERIFY);
	assert_int_equal(ver_der(c.ci, c.eum, b.euicc, 0, e, sizeof(e)), TS_EVERIFY);
	/* what passed under c's CI is not taken for another CI */
	chain d;
	chain_make(&d);
	assert_int_equal(ver_der(d.ci, c.eum, c.euicc, 0, e, sizeof(e)), TS_EVERIFY);
	assert_int_equal(ver_der(c.ci, c.eum, c.euicc, 0, e, sizeof(e)), 0);
	X509_free(in2);
	X509_free(out);
	X509_free(org);
	X509_free(norole);
	chain_free(&b);
	chain_free(&d);
	chain_free(&c);
	pki_cache_flush();
}

static void
test_csr_round_trip(void **state)
{
	(void)state;
	chain c;
	EVP_PKEY *k = NULL;
	X509_REQ *req = NULL, *req2 = NULL;
	X509 *cert = NULL;
	char *pem = NULL;
	char id1[65], id2[65], err[128];
	chain_make(&c);

	assert_int_equal(pki_keygen(&k), 0);
	assert_int_equal(pki_csr_new(k, "device-1", &req), 0);
	assert_int_equal(pki_csr_to_pem(req, &pem), 0);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
	assert_int_equal(pki_csr_from_pem(pem, strlen(pem), &req2), 0);

	pki_issue_opts o = { .profile = PKI_PROFILE_TLS_CLIENT, .cn = "device-1", .days = 825 };
	assert_int_equal(pki_issue_csr(c.ci, c.ci_key, req2, &o, &cert), 0);
	assert_int_equal(pki_verify_chain(c.ci, NULL, cert, err, sizeof(err)), 0);
	assert_int_equal(pki_pubkey_id(k, id1), 0);
	assert_int_equal(pki_cert_pubkey_id(cert, id2), 0);
	assert_string_equal(id1, id2);
	assert_int_equal(strlen(id1), 64);

	/* Flip the last byte of the DER (inside the signature): self-signature fails. */
	uint8_t *der = NULL;
	int n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	der[n - 1] ^= 0x01;
	const uint8_t *p = der;
	X509_REQ *bad = d2i_X509_REQ(NULL, &p, n);
	assert_non_null(bad);
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(bio, bad), 1);
	char *data = NULL;
	long blen = BIO_get_mem_data(bio, &data);
	X509_REQ *req3 = NULL;
	assert_int_equal(pki_csr_from_pem(data, (size_t)blen, &req3), TS_EVERIFY);
	assert_null(req3);
	BIO_free(bio);
	X509_REQ_free(bad);
	OPENSSL_free(der);

	/* A P-384 CSR is refused. */
	EVP_PKEY *k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(k384);
	X509_REQ *r384 = X509_REQ_new();
	assert_int_equal(X509_REQ_set_pubkey(r384, k384), 1);
	assert_true(X509_REQ_sign(r384, k384, EVP_sha256()) > 0);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(bio, r384), 1);
	blen = BIO_get_mem_data(bio, &data);
	assert_int_equal(pki_csr_from_pem(data, (size_t)blen, &req3), TS_EUNSUPP);
	assert_int_equal(pki_csr_from_pem("garbage", 7, &req3), TS_EPARSE);
	BIO_free(bio);
	X509_REQ_free(r384);
	EVP_PKEY_free(k384);

	X509_free(cert);
	free(pem);
	X509_REQ_free(req);
	X509_REQ_free(req2);
	EVP_PKEY_free(k);
	chain_free(&c);
}

static void
test_sign_verify(void **state)
{
	(void)state;
	EVP_PKEY *k = NULL, *k2 = NULL, *pub = NULL;
	uint8_t sig[PKI_SIG_LEN], bad[PKI_SIG_LEN], pt[PKI_PUBKEY_LEN];
	uint8_t msg[] = "transaction 0001";
	assert_int_equal(pki_keygen(&k), 0);
	assert_int_equal(pki_keygen(&k2), 0);

	assert_int_equal(pki_sign(k, msg, sizeof(msg), sig), 0);
	assert_int_equal(pki_verify(k, msg, sizeof(msg), sig), 0);
	msg[0] ^= 1;
	assert_int_equal(pki_verify(k, msg, sizeof(msg), sig), TS_EVERIFY);
	msg[0] ^= 1;
	assert_int_equal(pki_verify(k2, msg, sizeof(msg), sig), TS_EVERIFY);
	for (size_t i = 0; i < PKI_SIG_LEN; i += 7) {
		memcpy(bad, sig, sizeof(bad));
		bad[i] ^= 0x80;
		assert_int_equal(pki_verify(k, msg, sizeof(msg), bad), TS_EVERIFY);
	}
	/* Malformed: zeros, all ones (>= group order), r = 0. */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(pki_verify(k, msg, sizeof(msg), bad), TS_EVERIFY);
	memset(bad, 0xff, sizeof(bad));
	assert_int_equal(pki_verify(k, msg, sizeof(msg), bad), TS_EVERIFY);
	memcpy(bad, sig, sizeof(bad));
	memset(bad, 0, 32);
	assert_int_equal(pki_verify(k, msg, sizeof(msg), bad), TS_EVERIFY);
	/* s + n: same value mod n but out of range, must be refused. */
	static const uint8_t n_p256[32] = { 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E,
		0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51 };
	memcpy(bad, n_p256, 32);
	memcpy(bad + 32, sig + 32, 32);
	assert_int_equal(pki_verify(k, msg, sizeof(msg), bad), TS_EVERIFY);
	/* Empty message works. */
	assert_int_equal(pki_sign(k, NULL, 0, sig), 0);
	assert_int_equal(pki_verify(k, NULL, 0, sig), 0);

	/* Point round trip; verification with the reconstructed public key. */
	assert_int_equal(pki_sign(k, msg, sizeof(msg), sig), 0);
	assert_int_equal(pki_pubkey_to_point(k, pt), 0);
	assert_int_equal(pt[0], 0x04);
	assert_int_equal(pki_pubkey_from_point(pt, sizeof(pt), &pub), 0);
	assert_int_equal(pki_verify(pub, msg, sizeof(msg), sig), 0);
	char id1[65], id2[65];
	assert_int_equal(pki_pubkey_id(k, id1), 0);
	assert_int_equal(pki_pubkey_id(pub, id2), 0);
	assert_string_equal(id1, id2);
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_int_equal(pki_pubkey_from_point(pt, 64, &pub), TS_EPARSE);
	pt[0] = 0x02;
	assert_int_equal(pki_pubkey_from_point(pt, sizeof(pt), &pub), TS_EPARSE);
	pt[0] = 0x04;
	pt[64] ^= 0x01; /* off the curve */
	assert_int_equal(pki_pubkey_from_point(pt, sizeof(pt), &pub), TS_EPARSE);
	assert_null(pub);
	/* SP 800-56A r3 5.6.2.3.4 (partial public-key validation), by hand:
	 * (0, y) with y = sqrt(b) mod p is on P-256 and accepted; the same point
	 * with x written as p (outside [0, p-1]) is refused, as is (0, 0), off
	 * the curve. The point at infinity has no 65-byte 04 encoding. */
	vec q = hx("04 0000000000000000000000000000000000000000000000000000000000000000"
		   "66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4");
	assert_int_equal(pki_pubkey_from_point(q.b, q.n, &pub), 0);
	EVP_PKEY_free(pub);
	pub = NULL;
	q = hx("04 ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"
	       "66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4");
	assert_int_equal(pki_pubkey_from_point(q.b, q.n, &pub), TS_EPARSE);
	q = hx("04 0000000000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(pki_pubkey_from_point(q.b, q.n, &pub), TS_EPARSE);
	assert_null(pub);

	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

static char tmpl[] = "/tmp/ts-pki-XXXXXX";

static void
rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[PATH_MAX];
		if (ts_snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) == 0)
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
test_files(void **state)
{
	(void)state;
	char dir[sizeof(tmpl)];
	char path[PATH_MAX];
	struct stat st;
	memcpy(dir, tmpl, sizeof(tmpl));
	assert_non_null(mkdtemp(dir));
	chain c;
	chain_make(&c);

	assert_int_equal(ts_snprintf(path, sizeof(path), "%s/k.key", dir), 0);
	assert_int_equal(pki_key_save(c.ci_key, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	EVP_PKEY *k = NULL;
	assert_int_equal(pki_key_load(path, &k), 0);
	assert_int_equal(EVP_PKEY_eq(k, c.ci_key), 1);
	EVP_PKEY_free(k);

	/* Bundle of two certificates. */
	char *p1 = NULL, *p2 = NULL;
	assert_int_equal(pki_cert_to_pem(c.ci, &p1), 0);
	assert_int_equal(pki_cert_to_pem(c.eum, &p2), 0);
	size_t l1 = strlen(p1), l2 = strlen(p2);
	char *both = malloc(l1 + l2);
	memcpy(both, p1, l1);
	memcpy(both + l1, p2, l2);
	assert_int_equal(ts_snprintf(path, sizeof(path), "%s/b.pem", dir), 0);
	assert_int_equal(ts_write_file_atomic(path, (uint8_t *)both, l1 + l2, 0644), 0);
	STACK_OF(X509) *sk = NULL;
	assert_int_equal(pki_certs_load(path, &sk), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 1), c.eum), 0);
	sk_X509_pop_free(sk, X509_free);
	X509 *x = NULL;
	assert_int_equal(pki_cert_load(path, &x), 0); /* the first one */
	assert_int_equal(X509_cmp(x, c.ci), 0);
	X509_free(x);
	free(both);
	free(p1);
	free(p2);

	/* DER round trip; trailing byte refused. */
	uint8_t *der = NULL;
	size_t dlen = 0;
	assert_int_equal(pki_cert_to_der(c.euicc, &der, &dlen), 0);
	assert_int_equal(pki_cert_from_der(der, dlen, &x), 0);
	assert_int_equal(X509_cmp(x, c.euicc), 0);
	X509_free(x);
	uint8_t *der2 = malloc(dlen + 1);
	memcpy(der2, der, dlen);
	der2[dlen] = 0;
	assert_int_equal(pki_cert_from_der(der2, dlen + 1, &x), TS_ETRAILING);
	assert_int_equal(pki_cert_from_der(der2, dlen - 1, &x), TS_EPARSE);
	free(der2);
	free(der);

	/* pki_last_error reports and drains. */
	X509 *none = NULL;
	char eb[256];
	assert_int_equal(pki_cert_load("/nonexistent/x.crt", &none), TS_ENOTFOUND);
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	const uint8_t *jp = junk;
	assert_null(d2i_X509(NULL, &jp, sizeof(junk)));
	assert_string_not_equal(pki_last_error(eb, sizeof(eb)), "no OpenSSL error");
	assert_string_equal(pki_last_error(eb, sizeof(eb)), "no OpenSSL error");

	chain_free(&c);
	rm_dir(dir);
}

static void
test_testpki_generate(void **state)
{
	(void)state;
	char dir[sizeof(tmpl)];
	char sub[PATH_MAX], path[PATH_MAX], err[256];
	char e1[EID_DIGITS + 1], e2[EID_DIGITS + 1];
	memcpy(dir, tmpl, sizeof(tmpl));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ts_snprintf(sub, sizeof(sub), "%s/pki", dir), 0);
	make_eid("890490320000000000000000000011", e1);
	make_eid("890010120000000000000000000022", e2);
	const char *eids[] = { e1, e2 };
	assert_int_equal(pki_testpki_generate(sub, "89049032,89001012", eids, 2), 0);

	static const char *const names[] = { "ci", "eum", "node-ca", "node-tls", "dpauth",
		"sp-tls", "dppb" };
	X509 *cert[7];
	for (size_t i = 0; i < 7; i++) {
		struct stat st;
		EVP_PKEY *k = NULL;
		assert_int_equal(ts_snprintf(path, sizeof(path), "%s/%s.crt", sub, names[i]), 0);
		assert_int_equal(pki_cert_load(path, &cert[i]), 0);
		assert_int_equal(ts_snprintf(path, sizeof(path), "%s/%s.key", sub, names[i]), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(pki_key_load(path, &k), 0);
		assert_int_equal(X509_check_private_key(cert[i], k), 1);
		EVP_PKEY_free(k);
	}
	X509 *ci = cert[0], *eum = cert[1], *nca = cert[2];
	assert_int_equal(pki_verify_chain(ci, NULL, eum, err, sizeof(err)), 0);
	assert_int_equal(pki_verify_chain(nca, NULL, cert[3], err, sizeof(err)), 0);
	assert_int_equal(pki_verify_chain(ci, NULL, cert[4], err, sizeof(err)), 0);
	assert_int_equal(pki_verify_chain(nca, NULL, cert[5], err, sizeof(err)), 0);
	/* The SGP.22 roles: DPauth and DPpb are two certificates with two keys. */
	assert_policy(ci, 0);
	assert_policy(eum, 2);
	assert_policy(cert[3], 3);
	assert_int_equal(pki_verify_role(ci, NULL, cert[4], PKI_ROLE_DP_AUTH, err, sizeof(err)), 0);
	assert_int_equal(pki_verify_role(ci, NULL, cert[6], PKI_ROLE_DP_PB, err, sizeof(err)), 0);
	assert_int_equal(pki_verify_role(ci, NULL, cert[4], PKI_ROLE_DP_PB, err, sizeof(err)), TS_EVERIFY);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert[4]), X509_get0_pubkey(cert[6])), 0);
	assert_int_equal(pki_eum_check(eum, err, sizeof(err)), 0);
	assert_null(X509_get0_authority_key_id(ci));
	/* One SM-DP+ OID (2.25 UUID form) in both SM-DP+ certificates. */
	for (size_t i = 4; i < 7; i += 2) {
		GENERAL_NAMES *g = X509_get_ext_d2i(cert[i], NID_subject_alt_name, NULL, NULL);
		assert_non_null(g);
		assert_int_equal(sk_GENERAL_NAME_num(g), 1);
		assert_int_equal(sk_GENERAL_NAME_value(g, 0)->type, GEN_RID);
		char oid[80];
		assert_true(OBJ_obj2txt(oid, sizeof(oid), sk_GENERAL_NAME_value(g, 0)->d.registeredID, 1) > 10);
		assert_memory_equal(oid, "2.25.", 5);
		GENERAL_NAMES_free(g);
	}
	/* Separate roots: the node TLS certificate is not under the CI. */
	assert_int_equal(pki_verify_chain(ci, NULL, cert[3], err, sizeof(err)), TS_EVERIFY);
	for (size_t i = 3; i < 6; i += 2) {
		assert_int_equal(X509_check_ip_asc(cert[i], "127.0.0.1", 0), 1);
		assert_int_equal(X509_check_host(cert[i], "localhost", 0, 0, NULL), 1);
		assert_int_equal(X509_get_extended_key_usage(cert[i]), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	}
	char pre[64];
	assert_int_equal(pki_cert_ein_prefixes(eum, pre, sizeof(pre)), 0);
	assert_string_equal(pre, "89049032,89001012");

	STACK_OF(X509) *inter = one(eum);
	for (size_t i = 0; i < 2; i++) {
		X509 *x = NULL;
		EVP_PKEY *k = NULL;
		eid_t eid;
		assert_int_equal(ts_snprintf(path, sizeof(path), "%s/euicc-%s.crt", sub, eids[i]), 0);
		assert_int_equal(pki_cert_load(path, &x), 0);
		assert_int_equal(pki_verify_chain(ci, inter, x, err, sizeof(err)), 0);
		assert_int_equal(pki_verify_role(ci, inter, x, PKI_ROLE_EUICC, err, sizeof(err)), 0);
		assert_int_equal(pki_cert_eid(x, &eid), 0);
		assert_string_equal(eid.digits, eids[i]);
		assert_int_equal(pki_ein_allowed(pre, &eid), 1);
		assert_int_equal(ts_snprintf(path, sizeof(path), "%s/euicc-%s.key", sub, eids[i]), 0);
		assert_int_equal(pki_key_load(path, &k), 0);
		assert_int_equal(X509_check_private_key(x, k), 1);
		EVP_PKEY_free(k);
		X509_free(x);
	}
	sk_X509_free(inter);
	for (size_t i = 0; i < 7; i++)
		X509_free(cert[i]);

	const char *badeids[] = { "89049032000000000000000000001100" };
	assert_int_equal(pki_testpki_generate(sub, NULL, badeids, 1), TS_EEIDCHK);
	rm_dir(sub);
	rm_dir(dir);
}

/* is_p256 remembers keys found to be P-256 (pki.c): a key of another
 * 256-bit curve is refused every time, before and after a P-256 key was
 * remembered, and a remembered key still works once others pushed it out. */
static void
test_p256_remembered(void **state)
{
	(void)state;
	uint8_t msg[32] = { 1, 2, 3 }, sig[PKI_SIG_LEN];
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k1);
	assert_int_equal(pki_sign(k1, msg, sizeof(msg), sig), TS_EUNSUPP);
	EVP_PKEY *k = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pki_sign(k, msg, sizeof(msg), sig), 0);
		assert_int_equal(pki_verify(k, msg, sizeof(msg), sig), 0);
		assert_int_equal(pki_sign(k1, msg, sizeof(msg), sig), TS_EUNSUPP);
		assert_int_equal(pki_verify(k1, msg, sizeof(msg), sig), TS_EUNSUPP);
	}
	for (int i = 0; i < 40; i++) { /* more keys than are remembered */
		EVP_PKEY *o = NULL;
		assert_int_equal(pki_keygen(&o), 0);
		assert_int_equal(pki_sign(o, msg, sizeof(msg), sig), 0);
		EVP_PKEY_free(o);
	}
	assert_int_equal(pki_sign(k, msg, sizeof(msg), sig), 0);
	assert_int_equal(pki_verify(k, msg, sizeof(msg), sig), 0);
	assert_int_equal(pki_sign(k1, msg, sizeof(msg), sig), TS_EUNSUPP);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k1);
}

/* The point kept beside a remembered key (issue 9) is that key's own: 20
 * keys (more than are remembered, so entries are reused) each used to sign
 * (remembered without a point) and then exported, in turn, three rounds,
 * each export equal to the provider's own answer for it. */
static void
test_point_remembered(void **state)
{
	(void)state;
	enum { N = 20 };
	EVP_PKEY *k[N] = { NULL };
	uint8_t want[N][PKI_PUBKEY_LEN], got[PKI_PUBKEY_LEN], msg[32] = { 7 }, sig[PKI_SIG_LEN];
	for (int i = 0; i < N; i++) {
		size_t n = 0;
		assert_int_equal(pki_keygen(&k[i]), 0);
		assert_int_equal(EVP_PKEY_get_octet_string_param(k[i], OSSL_PKEY_PARAM_PUB_KEY, want[i],
		    PKI_PUBKEY_LEN, &n), 1);
		assert_int_equal(n, PKI_PUBKEY_LEN);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			int j = round == 1 ? N - 1 - i : i; /* backwards once */
			memset(got, 0, sizeof(got));
			assert_int_equal(pki_sign(k[j], msg, sizeof(msg), sig), 0);
			assert_int_equal(pki_pubkey_to_point(k[j], got), 0);
			assert_memory_equal(got, want[j], PKI_PUBKEY_LEN);
			assert_int_equal(pki_pubkey_to_point(k[j], got), 0); /* the kept one */
			assert_memory_equal(got, want[j], PKI_PUBKEY_LEN);
		}
	}
	for (int i = 0; i < N; i++)
		EVP_PKEY_free(k[i]);
}

/* pki_keygen makes every key anew from one shared context: P-256 keys with
 * a private part, never the same key twice (a mutant that kept the first
 * key fails), each signing for itself only. */
static void
test_keygen_fresh(void **state)
{
	(void)state;
	EVP_PKEY *k[4] = { NULL };
	uint8_t pt[4][PKI_PUBKEY_LEN];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pki_keygen(&k[i]), 0);
		assert_int_equal(pki_pubkey_to_point(k[i], pt[i]), 0);
		for (int j = 0; j < i; j++) {
			assert_ptr_not_equal(k[i], k[j]);
			assert_memory_not_equal(pt[i], pt[j], PKI_PUBKEY_LEN);
		}
	}
	static const uint8_t msg[] = "keygen";
	uint8_t sig[PKI_SIG_LEN];
	assert_int_equal(pki_sign(k[3], msg, sizeof(msg), sig), 0);
	assert_int_equal(pki_verify(k[3], msg, sizeof(msg), sig), 0);
	assert_int_equal(pki_verify(k[2], msg, sizeof(msg), sig), TS_EVERIFY);
	assert_int_equal(pki_keygen(NULL), TS_EINVAL);
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(k[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_and_verify_chain),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_eid_and_ein),
		cmocka_unit_test(test_sgp22_policies),
		cmocka_unit_test(test_ein_prefixes_cached),
		cmocka_unit_test(test_nameconstraints),
		cmocka_unit_test(test_csr_round_trip),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_keygen_fresh),
		cmocka_unit_test(test_euicc_cache),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_testpki_generate),
		cmocka_unit_test(test_p256_remembered),
		cmocka_unit_test(test_point_remembered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
