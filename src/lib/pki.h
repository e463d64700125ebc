/*
 * pki.h — keys, CSRs, certificate issuing and chain verification (ECDSA P-256,
 * OpenSSL 3), plus the test-PKI generator.
 *
 * OpenSSL objects returned to the caller are owned by the caller
 * (EVP_PKEY_free / X509_free / X509_REQ_free). Arguments are borrowed.
 *
 * Trust model (ARCHITECTURE.md §4) and the SGP.22 certificate profile
 * (SGP.22 v2 section 4.5.2, RSPDefinitions id-rspRole):
 *   CI -> EUM -> eUICC   the secure element's chain. Every certificate names its
 *                        role in certificatePolicies (critical, id-rspRole-*). The
 *                        eUICC certificate has the EID as subject serialNumber; the
 *                        EUM certificate carries a critical nameConstraints whose
 *                        permittedSubtrees are directoryNames (O = the EUM's
 *                        organisation, serialNumber = the permitted EID prefix, its
 *                        EIN/IIN); an eUICC is inside a subtree when its subject has
 *                        the subtree's O and its serialNumber starts with the
 *                        subtree's serialNumber (SGP.22 4.5.2.1.0.2/.3 — a GSMA
 *                        prefix rule, not X.500 subtree matching, see
 *                        pki_verify_chain).
 *   CI -> DPauth         signs serverSigned1 (ES9+ authenticateClient input).
 *   CI -> DPpb           signs smdpSigned2 and the bound profile package.
 *   node CA -> node TLS (DPtls role OID; issued by the node CA, which also verifies
 *                        device client certificates), provider TLS, device
 *                        certificates (issued at enrollment).
 * SKI on every certificate, AKI on every certificate but a self-signed root
 * (SGP.22: the CI certificate has only the subjectKeyIdentifier).
 */
#ifndef TS_PKI_H
#define TS_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/eid.h"

/* SGP.22 RSPDefinitions: id-rspRole ::= {id-rsp-cert-objects 1}, id-rsp
 * 2.23.146.1, id-rsp-cert-objects {id-rsp 2}. */
#define PKI_OID_RSP_ROLE "2.23.146.1.2.1"
enum pki_role {              /* the OID's last arc is the value minus one */
	PKI_ROLE_NONE = 0,       /* no id-rspRole policy */
	PKI_ROLE_CI = 1,         /* id-rspRole-ci      2.23.146.1.2.1.0 */
	PKI_ROLE_EUICC = 2,      /* id-rspRole-euicc   2.23.146.1.2.1.1 */
	PKI_ROLE_EUM = 3,        /* id-rspRole-eum     2.23.146.1.2.1.2 */
	PKI_ROLE_DP_TLS = 4,     /* id-rspRole-dp-tls  2.23.146.1.2.1.3 */
	PKI_ROLE_DP_AUTH = 5,    /* id-rspRole-dp-auth 2.23.146.1.2.1.4 */
	PKI_ROLE_DP_PB = 6,      /* id-rspRole-dp-pb   2.23.146.1.2.1.5 */
	PKI_ROLE_DS_TLS = 7,     /* id-rspRole-ds-tls  2.23.146.1.2.1.6 */
	PKI_ROLE_DS_AUTH = 8,    /* id-rspRole-ds-auth 2.23.146.1.2.1.7 */
};
/* "CI", "eUICC", "EUM", "DPtls", "DPauth", "DPpb", "DStls", "DSauth", "none". */
const char *pki_role_name(int role);
#define PKI_SIG_LEN 64    /* raw r||s, as SGP.22 tag 5F37 */
#define PKI_PUBKEY_LEN 65 /* X9.62 uncompressed P-256 point */

/* New P-256 key pair. */
int pki_keygen(EVP_PKEY **out);

/* PEM files. Private keys are written with mode 0600 (atomically). */
int pki_key_save(const EVP_PKEY *key, const char *path);
int pki_key_load(const char *path, EVP_PKEY **out);
int pki_cert_save(const X509 *cert, const char *path);
int pki_cert_load(const char *path, X509 **out);
/* Loads every certificate in a PEM file (a bundle); caller frees with
 * sk_X509_pop_free(*out, X509_free). */
int pki_certs_load(const char *path, STACK_OF(X509) **out);

/* PEM / DER in memory. Strings/buffers returned are malloc'ed; caller frees. */
int pki_cert_to_pem(const X509 *cert, char **out);
int pki_cert_from_pem(const char *pem, size_t len, X509 **out);
int pki_cert_to_der(const X509 *cert, uint8_t **out, size_t *outlen);
int pki_cert_from_der(const uint8_t *der, size_t len, X509 **out); /* rejects trailing bytes */

/* CSR with subject CN=cn, signed by key. */
int pki_csr_new(EVP_PKEY *key, const char *cn, X509_REQ **out);
int pki_csr_to_pem(const X509_REQ *req, char **out);
/* Parses and checks the CSR's self-signature and that its key is P-256. */
int pki_csr_from_pem(const char *pem, size_t len, X509_REQ **out);

enum pki_profile {
	PKI_PROFILE_ROOT_CA = 1,   /* self-signed CA (CI, node CA) */
	PKI_PROFILE_SUB_CA,        /* CA issued by another (EUM) */
	PKI_PROFILE_EUICC,         /* end entity, digitalSignature, serialNumber=EID */
	PKI_PROFILE_SIGNING,       /* end entity, digitalSignature (node package signing) */
	PKI_PROFILE_TLS_SERVER,    /* serverAuth + clientAuth, SAN from opts->san */
	PKI_PROFILE_TLS_CLIENT,    /* clientAuth (device certificates) */
};

typedef struct pki_issue_opts {
	int profile;               /* enum pki_profile */
	const char *cn;            /* subject CN */
	const char *org;           /* subject O, may be NULL */
	const char *serial_number; /* subject serialNumber (the EID for PKI_PROFILE_EUICC), may be NULL */
	const char *san;           /* e.g. "IP:127.0.0.1,DNS:localhost", may be NULL */
	const char *ein_prefixes;  /* for an EUM: "89049032,89001012" -> nameConstraints with one
	                            * permitted directoryName (O=org, serialNumber=prefix) each;
	                            * may be NULL */
	int role;                  /* enum pki_role written to certificatePolicies (critical);
	                            * PKI_ROLE_NONE (0) writes none */
	int days;                  /* validity from now */
} pki_issue_opts;

/* Issues a certificate for subject_key's public key. issuer_cert == NULL makes
 * it self-signed (then issuer_key must be the subject key). Random 128-bit
 * serial. SHA-256 ECDSA. */
int pki_issue(const X509 *issuer_cert, EVP_PKEY *issuer_key, EVP_PKEY *subject_key,
    const pki_issue_opts *opts, X509 **out);
/* Issues a certificate for the public key of a CSR (subject CN from opts). */
int pki_issue_csr(const X509 *issuer_cert, EVP_PKEY *issuer_key, X509_REQ *req,
    const pki_issue_opts *opts, X509 **out);

/* Verifies leaf against root through the untrusted intermediates (may be NULL),
 * with validity dates checked at the current time. TS_EVERIFY on failure;
 * if errbuf is not NULL a reason is written there.
 * Name constraints: OpenSSL matches a directoryName subtree as an RDN-sequence
 * prefix, which an SGP.22 eUICC subject never is (its serialNumber is longer
 * than the EUM's prefix). Such a violation is replaced by the SGP.22 rule
 * (pki_eum_permits against every constraining CA in the chain): accepted only
 * when that rule holds, refused otherwise. */
int pki_verify_chain(X509 *root, STACK_OF(X509) *intermediates, X509 *leaf,
    char *errbuf, size_t errcap);

/* 1 if cert's certificatePolicies names role (enum pki_role), else 0. */
int pki_cert_has_role(const X509 *cert, int role);
/* pki_verify_chain, then the profile of the role: root has id-rspRole-ci,
 * leaf has `role` and digitalSignature and is no CA; for PKI_ROLE_EUICC the
 * issuing EUM (from intermediates) has id-rspRole-eum, passes pki_eum_check
 * and permits the leaf (pki_eum_permits). TS_EVERIFY with a reason. */
int pki_verify_role(X509 *root, STACK_OF(X509) *intermediates, X509 *leaf, int role,
    char *errbuf, size_t errcap);
/* pki_verify_role(ci, [eum], euicc, PKI_ROLE_EUICC) for certificates given
 * as DER (each must be exactly one certificate), with a cache (issue 9): an
 * EUM is parsed and its link to ci verified once, an eUICC certificate once
 * per EUM; a hit re-checks only the validity periods. *eum_out, *euicc_out:
 * the parsed certificates (caller frees). TS_EPARSE / TS_ETRAILING for a
 * malformed certificate, TS_EVERIFY with pki_verify_role's reason. */
int pki_verify_euicc_der(X509 *ci, const uint8_t *eum_der, size_t eum_len, const uint8_t *euicc_der,
    size_t euicc_len, X509 **eum_out, X509 **euicc_out, char *errbuf, size_t errcap);
/* Drops every cached verification and EIN prefix list (tests; a node
 * reload need not: entries are keyed by the root they passed under, and by
 * certificate and signature). */
void pki_cache_flush(void);
/* An EUM certificate the node can use: id-rspRole-eum, a CA, and a
 * nameConstraints in the SGP.22 form (pki_cert_ein_prefixes succeeds).
 * TS_EVERIFY with a reason otherwise. */
int pki_eum_check(const X509 *eum, char *errbuf, size_t errcap);
/* 1 if the eUICC certificate's subject is inside one of the EUM's permitted
 * subtrees by the SGP.22 rule (module comment), else 0. */
int pki_eum_permits(const X509 *eum, const X509 *euicc);

/* The EID in the subject serialNumber of an eUICC certificate. */
int pki_cert_eid(const X509 *cert, eid_t *out);
/* The EUM's permitted EID prefixes from its nameConstraints, as "a,b,c".
 * TS_ENOTFOUND without nameConstraints; TS_EUNSUPP when the extension is not
 * in the SGP.22 form (excludedSubtrees, a base that is not a directoryName,
 * minimum/maximum, a subtree without exactly one serialNumber of 1..31
 * digits, a non-critical extension); TS_ELIMIT when buf is too small.
 * Kept per certificate object and signature once decoded (issue 9). */
int pki_cert_ein_prefixes(const X509 *cert, char *buf, size_t cap);
/* 1 if eid matches one of the comma-separated prefixes, else 0. */
int pki_ein_allowed(const char *prefixes, const eid_t *eid);

/* Device identity: SHA-256 of the DER SubjectPublicKeyInfo, as 64 hex chars. */
int pki_pubkey_id(const EVP_PKEY *key, char out[65]);
int pki_cert_pubkey_id(const X509 *cert, char out[65]);

/* Raw-form ECDSA P-256 over SHA-256(msg): sig is r||s, 32 bytes each. */
int pki_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[PKI_SIG_LEN]);
int pki_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t sig[PKI_SIG_LEN]);

/* Public key <-> X9.62 uncompressed point (65 bytes). */
int pki_pubkey_to_point(const EVP_PKEY *key, uint8_t out[PKI_PUBKEY_LEN]);
int pki_pubkey_from_point(const uint8_t *pt, size_t len, EVP_PKEY **out);

/*
 * Test-PKI generator: writes a complete, fresh PKI into dir (created), every
 * certificate in the SGP.22 profile above:
 *   ci.key ci.crt                       CI root (id-rspRole-ci)
 *   eum.key eum.crt                     EUM, issued by CI (id-rspRole-eum), nameConstraints
 *                                       for ein_prefixes
 *   euicc-<EID>.key euicc-<EID>.crt     one per EID in eids (issued by EUM, id-rspRole-euicc)
 *   node-ca.key node-ca.crt             node CA (root, no role)
 *   node-tls.key node-tls.crt           node TLS = DPtls (id-rspRole-dp-tls, server+client),
 *                                       issued by the node CA, SAN IP:127.0.0.1,DNS:localhost
 *                                       (+ the hosts of pki_testpki_generate_hosts)
 *   dpauth.key dpauth.crt               DPauth, issued by CI (id-rspRole-dp-auth)
 *   dppb.key dppb.crt                   DPpb, issued by CI (id-rspRole-dp-pb)
 *                                       (both with SAN registeredID = one fresh 2.25 OID,
 *                                       the SM-DP+ OID)
 *   sp-tls.key sp-tls.crt               provider TLS, issued by node CA
 * Every key is generated here; nothing is anyone's published test key.
 */
int pki_testpki_generate(const char *dir, const char *ein_prefixes,
    const char *const *eids, size_t n_eids);
/* The same, with the TLS certificates (node and provider) also valid for
 * each of hosts (DNS names or IP addresses, pki_host_valid) beside
 * 127.0.0.1 and localhost; the node's CN is hosts[0]. TS_EINVAL for a host
 * that is neither. */
int pki_testpki_generate_hosts(const char *dir, const char *ein_prefixes,
    const char *const *eids, size_t n_eids, const char *const *hosts, size_t n_hosts);
/* Only the node CA and the node TLS certificate of the test PKI
 * (node-ca.*, node-tls.*; hosts as above), fresh, into dir (exists): for
 * `init --pki` with an operator's SGP.22 set that brings no node CA. */
int pki_node_tls_generate(const char *dir, const char *const *hosts, size_t n_hosts);
/* 1 if h is an IPv4/IPv6 address or a DNS name (labels of 1..63 letters,
 * digits and inner hyphens, at most 253 characters), else 0. */
int pki_host_valid(const char *h);

/* Text of the last OpenSSL error (for logs); clears the queue. */
const char *pki_last_error(char *buf, size_t cap);

#endif
