/*
 * download.c — the ES9+ download service (download.h). The companion needs no
 * credential of its own: its secure element proves the EID. Session keys
 * exist only inside bsp_package_build.
 */
#include "node/download.h"
#include "node/notification.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "lib/bsp.h"
#include "lib/eid.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/upp.h"
#include "lib/util.h"

#define ES9_HOST_ID "tapshare-node"

/* tx.stage values */
#define TX_INITIATED 1
#define TX_AUTHENTICATED 2
#define TX_PACKAGE_SENT 3
#define TX_CANCELLED 9

int
download_refuse(download_why *why, int rc, es9_status status, const char *fmt, ...)
{
	const es9_code *c = es9_status_code(status);
	why->status = status;
	why->subject = c->subject;
	why->reason = c->reason;
	why->subject_id[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	log_warn("ES9+ refused (%s %s, %s): %s", c->subject, c->reason, c->what, why->msg);
	return rc;
}

#define refuse download_refuse

static int
internal(download_why *why, const char *what)
{
	return refuse(why, TS_ECRYPTO, ES9_EXEC_ERROR, "internal error while %s", what);
}

/* A store read that gave no answer (busy, timed out, failed) is no verdict
 * on the transactionId, matchingId or share asked for: "Function provider
 * - Busy" (1.2 / 4.4, the LPA may retry), never the refusal a missing row
 * earns. Only TS_ENOTFOUND means "not there". */
static int
read_failed(download_why *why, int rc)
{
	return refuse(why, rc, ES9_BUSY, "the database is busy; retry");
}

static int
tx_lookup(store *st, const char *tid, int stage, store_tx *tx, download_why *why)
{
	int rc = tid == NULL || strlen(tid) != 2 * RSP_TID_LEN ? TS_ENOTFOUND : st->ops->tx_get(st, tid, tx);
	if (rc != 0 && rc != TS_ENOTFOUND)
		return read_failed(why, rc);
	if (rc != 0)
		return refuse(why, TS_ENOTFOUND, ES9_TID_UNKNOWN, "unknown transactionId");
	if (tx->stage != stage)
		return refuse(why, TS_ESTATE, ES9_TID_UNKNOWN, "transaction %s is not at this step", tid);
	return 0;
}

/* Why a share cannot be downloaded (share_downloadable is false): one the
 * provider has not authorised yet is a profile not released, an expired one
 * an expired download order; one that has ended otherwise leaves its matching
 * ID refused. */
static es9_status
not_downloadable(const store_share *sh)
{
	if (sh->state == SHARE_REQUESTED || sh->state == SHARE_EID_CONFIRMED)
		return ES9_PROFILE_NOT_RELEASED;
	return sh->state == SHARE_EXPIRED ? ES9_ORDER_EXPIRED : ES9_MATCHING_ID_REFUSED;
}

static void
share_metadata(const store_share *sh, rsp_metadata *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->app_id, sizeof(m->app_id), "%s", sh->assoc_app_id);
	snprintf(m->name, sizeof(m->name), "%s", sh->assoc_name);
	snprintf(m->kind, sizeof(m->kind), "%s", sh->assoc_kind);
	snprintf(m->provider, sizeof(m->provider), "%s", sh->provider);
	m->not_after = sh->not_after;
}

/* The StoreMetadataRequest of a share for the eUICC eid (ICCID mandatory):
 * share_metadata, the node's own address for every notification (B6), and
 * the profile's ICCID — a SIM credential's "iccid", else the ICCID tapshare
 * gives the app on that EID (es10_iccid_for_app), as credential_profile
 * puts in the package. */
static int
share_store_metadata(const download_svc *d, store *st, const store_share *sh, const eid_t *eid,
    rsp_metadata *m)
{
	char *cred = NULL;
	char digits[ES10_ICCID_DIGITS_MAX + 1];
	int rc;
	share_metadata(sh, m);
	if (ts_snprintf(m->notif_address, sizeof(m->notif_address), "%s", d->address) != 0)
		return TS_ELIMIT;
	if ((rc = share_credential(st, sh->id, &cred)) != 0)
		return rc;
	json_t *j = ts_json_loads(cred);
	const char *iccid = j != NULL && ts_json_str(j, "profile_package") != NULL ? ts_json_str(j, "iccid") : NULL;
	if (iccid != NULL)
		rc = upp_iccid_encode(iccid, m->iccid);
	else if ((rc = es10_iccid_for_app(eid, m->app_id, digits)) == 0)
		rc = upp_iccid_encode(digits, m->iccid);
	m->has_iccid = rc == 0;
	json_decref(j);
	OPENSSL_cleanse(cred, strlen(cred));
	free(cred);
	return rc;
}

int
download_bare_address(const char *url, char *out, size_t cap)
{
	if (url == NULL || out == NULL)
		return TS_EINVAL;
	if (strncasecmp(url, "https://", 8) == 0)
		url += 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		url += 7;
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0 || n >= cap || n > ES10_ADDR_MAX)
		return TS_ELIMIT;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

int
download_server_signed1(const download_svc *d, const uint8_t euicc_challenge[RSP_CHALLENGE_LEN],
    es10_server_signed1 *ss, uint8_t **s1, size_t *s1_len, uint8_t sig1[64])
{
	memset(ss, 0, sizeof(*ss));
	*s1 = NULL;
	ss->tid_len = RSP_TID_LEN;
	if (ts_random(ss->tid, ss->tid_len) != 0 || ts_random(ss->server_challenge, ES10_CHALLENGE_LEN) != 0)
		return TS_ECRYPTO;
	memcpy(ss->euicc_challenge, euicc_challenge, ES10_CHALLENGE_LEN);
	if (ts_snprintf(ss->server_address, sizeof(ss->server_address), "%s", d->address) != 0)
		return TS_ELIMIT;
	int rc = es10_server_signed1_encode(ss, s1, s1_len);
	if (rc == 0 && (rc = pki_sign(d->dpauth_key, *s1, *s1_len, sig1)) != 0) {
		free(*s1);
		*s1 = NULL;
	}
	return rc;
}

/* 1 if the key identifier ski is in list l. */
static int
pkid_in(const es10_pkid_list *l, const ASN1_OCTET_STRING *ski)
{
	for (size_t i = 0; i < l->n && i < ES10_MAX_PKIDS; i++)
		if (l->len[i] == (size_t)ski->length && memcmp(l->id[i], ski->data, l->len[i]) == 0)
			return 1;
	return 0;
}

int
download_check_info1(const download_svc *d, const es10_euicc_info1 *i, int smds, download_why *why)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(d->ci);
	if (i->svn[0] < 2)
		return refuse(why, TS_EUNSUPP, smds ? ES9_SMDS_SVN_UNSUPPORTED : ES9_SVN_UNSUPPORTED,
		    "the eUICC implements SGP.22 v%u.%u.%u; this server speaks v2", i->svn[0], i->svn[1], i->svn[2]);
	if (ski == NULL || ski->length <= 0)
		return internal(why, "reading the CI's key identifier");
	/* The eUICC verifies our certificates with, and signs for, this CI. */
	if (!pkid_in(&i->ci_verify, ski))
		return refuse(why, TS_EUNSUPP, smds ? ES9_SMDS_CERT_UNAVAILABLE : ES9_CERT_UNAVAILABLE,
		    "none of the eUICC's euiccCiPKIdListForVerification is the CI of this server's certificate");
	if (!pkid_in(&i->ci_sign, ski))
		return refuse(why, TS_EUNSUPP, smds ? ES9_SMDS_NO_COMMON_CI : ES9_NO_COMMON_CI,
		    "none of the eUICC's euiccCiPKIdListForSigning is supported by this server");
	return 0;
}

int
download_initiate(const download_svc *d, store *st, const char *matching_id, const char *smdp_address,
    const es10_euicc_info1 *info1, const uint8_t euicc_challenge[RSP_CHALLENGE_LEN],
    char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1, size_t *s1_len, uint8_t sig1[64], download_why *why)
{
	store_share sh;
	char bare[ES10_ADDR_MAX + 1];
	int rc;
	*s1 = NULL;
	memset(&sh, 0, sizeof(sh));
	/* §5.6.1: the address the LPA dialled is ours (case-insensitive). */
	char ours[ES10_ADDR_MAX + 1];
	if (smdp_address == NULL || download_bare_address(smdp_address, bare, sizeof(bare)) != 0 ||
	    download_bare_address(d->address, ours, sizeof(ours)) != 0 || strcasecmp(bare, ours) != 0)
		return refuse(why, TS_EINVAL, ES9_SMDP_ADDRESS_REFUSED, "smdpAddress %.64s is not this SM-DP+ (%s)",
		    smdp_address ? smdp_address : "(none)", d->address);
	if (info1 != NULL && (rc = download_check_info1(d, info1, 0, why)) != 0)
		return rc;
	/* SGP.22 initiateAuthentication names no matchingId: the eUICC signs
	 * it later in ctxParams1 and authenticateClient binds the share then.
	 * A session without one is keyed by the caller's address so that rows
	 * stay bounded per peer. tapshare's companion may still name it here,
	 * which binds the session at once. */
	if (matching_id != NULL) {
		if ((rc = st->ops->share_by_matching(st, matching_id, &sh)) != 0 && rc != TS_ENOTFOUND)
			return read_failed(why, rc);
		if (rc != 0)
			return refuse(why, TS_ENOTFOUND, ES9_MATCHING_ID_REFUSED, "unknown matchingId");
		if (!share_downloadable(&sh))
			return refuse(why, TS_ESTATE, not_downloadable(&sh), "share %s is %s: nothing to download", sh.id,
			    share_state_name(sh.state));
	}
	store_tx tx;
	memset(&tx, 0, sizeof(tx));
	es10_server_signed1 ss;
	if (download_server_signed1(d, euicc_challenge, &ss, s1, s1_len, sig1) != 0)
		return internal(why, "opening the session");
	ts_hex_encode(ss.tid, ss.tid_len, tx.id, sizeof(tx.id));
	if (matching_id != NULL) {
		snprintf(tx.share_id, sizeof(tx.share_id), "%s", sh.id);
		snprintf(tx.eid, sizeof(tx.eid), "%s", sh.eid);
	} else {
		snprintf(tx.share_id, sizeof(tx.share_id), "%s%.56s", DOWNLOAD_UNBOUND_PREFIX,
		    d->peer != NULL ? d->peer : "?");
	}
	memcpy(tx.euicc_challenge, euicc_challenge, RSP_CHALLENGE_LEN);
	memcpy(tx.server_challenge, ss.server_challenge, RSP_CHALLENGE_LEN);
	tx.stage = TX_INITIATED;
	tx.created_at = ts_now();
	/* A new session replaces the share's (or the peer's) oldest: rows stay
	 * bounded whoever knows the matchingId and however often they call. */
	if (st->ops->tx_trim(st, tx.share_id, DOWNLOAD_TX_PER_SHARE - 1) != 0 || st->ops->tx_put(st, &tx) != 0)
		goto fail;
	snprintf(out_tid, 2 * RSP_TID_LEN + 1, "%s", tx.id);
	if (matching_id != NULL)
		log_info("S14 share %s: download session %s opened by companion %s", sh.id, tx.id, sh.eid);
	else
		log_info("S14 download session %s opened (matchingId to come in ctxParams1)", tx.id);
	return 0;
fail:
	free(*s1);
	*s1 = NULL;
	return internal(why, "opening the session");
}

/* 1 if cert's notAfter has passed. */
static int
cert_expired(const X509 *cert)
{
	return X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
}

/* 1 if the EUM was issued by the CI the node trusts (its authorityKeyIdentifier
 * is the CI's subjectKeyIdentifier): the CI PKId of the eUICC's chain. */
static int
eum_ci_known(X509 *ci, X509 *eum)
{
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(eum), *ski = X509_get0_subject_key_id(ci);
	return aki != NULL && ski != NULL && ASN1_OCTET_STRING_cmp(aki, ski) == 0;
}

/* Why pki_verify_euicc_der refused a's chain (err: its reason), as SGP.22
 * names it: malformed or expired EUM / eUICC certificate (8.1.2 / 8.1.3,
 * 6.1 / 6.3), an EUM of another CI (8.11.1), an EUM that does not chain to
 * ours (8.1.2), else the eUICC certificate (8.1.3). */
static void
diagnose(const download_svc *d, const es10_auth_server_resp *a, const char *err, download_why *why)
{
	X509 *eum = NULL, *euicc = NULL;
	char eerr[256] = "";
	if (pki_cert_from_der(a->eum_cert.p, a->eum_cert.len, &eum) != 0)
		refuse(why, TS_EVERIFY, ES9_EUM_CERT_INVALID, "malformed EUM certificate");
	else if (pki_cert_from_der(a->euicc_cert.p, a->euicc_cert.len, &euicc) != 0)
		refuse(why, TS_EVERIFY, ES9_EUICC_CERT_INVALID, "malformed eUICC certificate");
	else if (!eum_ci_known(d->ci, eum))
		refuse(why, TS_EVERIFY, ES9_CI_PK_UNKNOWN, "the EUM certificate was not issued by the CI this SM-DP+ uses");
	else if (cert_expired(eum))
		refuse(why, TS_EVERIFY, ES9_EUM_CERT_EXPIRED, "the EUM certificate has expired");
	else if (pki_verify_chain(d->ci, NULL, eum, eerr, sizeof(eerr)) != 0 || pki_eum_check(eum, eerr, sizeof(eerr)) != 0)
		refuse(why, TS_EVERIFY, ES9_EUM_CERT_INVALID, "EUM certificate refused: %s", eerr);
	else if (cert_expired(euicc))
		refuse(why, TS_EVERIFY, ES9_EUICC_CERT_EXPIRED, "the eUICC certificate has expired");
	else
		refuse(why, TS_EVERIFY, ES9_EUICC_CERT_INVALID, "eUICC certificate does not chain to the trusted CI: %s", err);
	X509_free(eum);
	X509_free(euicc);
}

/* Verifies the SE's identity (SGP.22 §5.6.3): the eUICC's chain names our CI
 * (8.11.1), the EUM chains to it (8.1.2), the eUICC certificate chains through
 * the EUM with its EID inside the EUM's nameConstraints (8.1.3), and the EID
 * is want_eid's (8.1.1). Returns the eUICC key. */
static int
verify_euicc(const download_svc *d, const es10_auth_server_resp *a, const char *want_eid, EVP_PKEY **pub,
    download_why *why)
{
	X509 *eum = NULL, *euicc = NULL;
	int rc = TS_EVERIFY;
	char err[256] = "";
	eid_t eid;
	char prefixes[512];
	/* SGP.22 profile: roles, the EUM's nameConstraints and the EID in them
	 * (parsed and verified once per certificate, pki.h). Which certificate
	 * failed, and why, is worked out only on failure. */
	int vr = pki_verify_euicc_der(d->ci, a->eum_cert.p, a->eum_cert.len, a->euicc_cert.p, a->euicc_cert.len,
	    &eum, &euicc, err, sizeof(err));
	if (vr != 0) {
		diagnose(d, a, err, why);
		goto done;
	}
	if (pki_cert_eid(euicc, &eid) != 0) {
		refuse(why, rc, ES9_EUICC_CERT_INVALID, "eUICC certificate carries no valid EID");
		goto done;
	}
	if (pki_cert_ein_prefixes(eum, prefixes, sizeof(prefixes)) != 0 || !pki_ein_allowed(prefixes, &eid)) {
		refuse(why, rc, ES9_EUICC_CERT_INVALID, "EID %s is outside the EUM's permitted prefixes", eid.digits);
		goto done;
	}
	if (want_eid != NULL && strcmp(eid.digits, want_eid) != 0) {
		refuse(why, rc, ES9_EID_REFUSED, "secure element is EID %s, the share is for %s", eid.digits, want_eid);
		goto done;
	}
	*pub = X509_get_pubkey(euicc);
	rc = *pub ? 0 : internal(why, "reading the eUICC key");
done:
	X509_free(eum);
	X509_free(euicc);
	return rc;
}

int
download_authenticate(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    uint8_t **md, size_t *md_len, uint8_t **s2, size_t *s2_len, uint8_t sig2[64], download_why *why)
{
	EVP_PKEY *pub = NULL;
	store_tx tx;
	es10_auth_server_resp a;
	es10_euicc_signed1 es1;
	store_share sh;
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	int rc;
	*md = *s2 = NULL;
	if ((rc = tx_lookup(st, tid, TX_INITIATED, &tx, why)) != 0)
		return rc;
	if (es10_auth_server_resp_decode(asr, asr_len, &a, &es1) != 0)
		return refuse(why, TS_EPARSE, ES9_INVALID, "authenticateServerResponse is missing or malformed");
	if (a.error != 0)
		return refuse(why, TS_EDENIED, ES9_EUICC_REFUSED, "the secure element refused the server (authenticateErrorCode %d)",
		    a.error);
	int unbound = strncmp(tx.share_id, DOWNLOAD_UNBOUND_PREFIX, strlen(DOWNLOAD_UNBOUND_PREFIX)) == 0;
	if (unbound) {
		/* The share is the one the eUICC's signed matchingId names (checked
		 * against its signature below, before anything is recorded). */
		rc = es1.ctx.has_matching_id ? st->ops->share_by_matching(st, es1.ctx.matching_id, &sh) : TS_ENOTFOUND;
		if (rc != 0 && rc != TS_ENOTFOUND)
			return read_failed(why, rc);
		if (rc != 0)
			return refuse(why, TS_ENOTFOUND, ES9_MATCHING_ID_REFUSED, "matchingId in ctxParams1 is missing or unknown");
		snprintf(tx.share_id, sizeof(tx.share_id), "%s", sh.id);
		snprintf(tx.eid, sizeof(tx.eid), "%s", sh.eid);
	}
	if ((rc = verify_euicc(d, &a, tx.eid, &pub, why)) != 0)
		return rc;
	if (pki_verify(pub, a.euicc_signed1.p, a.euicc_signed1.len, a.euicc_signature1) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSignature1 does not verify");
		goto done;
	}
	if (!unbound && (rc = st->ops->share_get(st, tx.share_id, &sh)) != 0) {
		rc = rc != TS_ENOTFOUND ? read_failed(why, rc) :
		    refuse(why, TS_ENOTFOUND, ES9_MATCHING_ID_REFUSED, "share %s is gone", tx.share_id);
		goto done;
	}
	char tid_hex[2 * ES10_TID_MAX + 1];
	ts_hex_encode(es1.tid, es1.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_TID_UNKNOWN, "euiccSigned1 is for another session (replay?)");
		goto done;
	}
	if (strcmp(es1.server_address, d->address) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSigned1 names another serverAddress (replay?)");
		goto done;
	}
	if (ts_ct_equal(es1.server_challenge, tx.server_challenge, 16) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSigned1 does not carry this session's serverChallenge");
		goto done;
	}
	/* The matching ID travels in ctxParams1, signed by the eUICC. */
	if (!es1.ctx.has_matching_id || strcmp(es1.ctx.matching_id, sh.matching_id) != 0) {
		rc = refuse(why, TS_ENOTFOUND, ES9_MATCHING_ID_REFUSED, "matchingId in ctxParams1 is missing or not this share's");
		goto done;
	}
	if (!share_downloadable(&sh)) {
		rc = refuse(why, TS_ESTATE, not_downloadable(&sh), "share %s is %s: nothing to download", sh.id,
		    share_state_name(sh.state));
		goto done;
	}
	memcpy(tx.euicc_sig1, a.euicc_signature1, 64);
	rc = TS_ECRYPTO;
	if (pki_pubkey_to_point(pub, tx.euicc_pub) != 0)
		goto fail;
	es10_smdp_signed2 ss2;
	memset(&ss2, 0, sizeof(ss2));
	memcpy(ss2.tid, es1.tid, es1.tid_len);
	ss2.tid_len = es1.tid_len;
	/* SGP.22 §3.1.2: a share with a confirmation code makes the eUICC ask
	 * for it (ccRequiredFlag), getBoundProfilePackage checks its hashCc. */
	char cch[65];
	int cc_attempts = 0;
	rc = st->ops->cc_get(st, sh.id, cch, &cc_attempts);
	if (rc != 0 && rc != TS_ENOTFOUND)
		goto fail;
	ss2.cc_required = rc == 0;
	/* smdpSignature2 over smdpSigned2 || 5F37 40 euiccSignature1. */
	if (es10_smdp_signed2_encode(&ss2, s2, s2_len) != 0 ||
	    es10_sig_input(*s2, *s2_len, tx.euicc_sig1, &tbs, &tbs_len) != 0 ||
	    pki_sign(d->dppb_key, tbs, tbs_len, sig2) != 0)
		goto fail;
	memcpy(tx.smdp_sig2, sig2, 64);
	tx.stage = TX_AUTHENTICATED;
	rsp_metadata m;
	eid_t meid;
	if (eid_parse(tx.eid, &meid) != 0 || share_store_metadata(d, st, &sh, &meid, &m) != 0 ||
	    rsp_metadata_encode(&m, md, md_len) != 0)
		goto fail;
	/* the session and the SE's key (for its notifications) together */
	if ((rc = st->ops->begin(st)) != 0)
		goto fail;
	if ((rc = st->ops->tx_put(st, &tx)) != 0 || (rc = st->ops->companion_put(st, tx.eid, tx.euicc_pub)) != 0 ||
	    (rc = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		goto fail;
	}
	log_info("S14 share %s: companion authenticated by its secure element (EID %s, chain to CI verified)", sh.id,
	    tx.eid);
	rc = 0;
	goto done;
fail:
	rc = internal(why, "authenticating the client");
done:
	if (rc != 0) {
		free(*md);
		free(*s2);
		*md = *s2 = NULL;
	}
	free(tbs);
	EVP_PKEY_free(pub);
	return rc;
}

/* The profile the bound package carries for a share's credential, always
 * a TCA profile package (lib/upp.h), whose ICCID also goes into the
 * metadata so that tapshare-se gives the profile that ICCID and checks the
 * package against it:
 *   - a SIM credential: the provider's package ("profile_package", base64)
 *     and the provider's ICCID ("iccid");
 *   - any other (bank-ID account, service token): a credential-only package
 *     the node builds — the credential JSON as the content of tapshare's
 *     nonStandard PE — under the ICCID tapshare gives the app on that EID
 *     (es10_iccid_for_app).
 * *out is a new buffer (caller cleanses and frees). */
static int
credential_profile(const char *cred, const eid_t *eid, rsp_metadata *m, uint8_t **out, size_t *len)
{
	json_t *j = ts_json_loads(cred);
	const char *pkg = j != NULL ? ts_json_str(j, "profile_package") : NULL;
	int rc;
	*out = NULL;
	*len = 0;
	if (pkg == NULL) {
		json_decref(j);
		upp_sim s;
		char d[ES10_ICCID_DIGITS_MAX + 1];
		memset(&s, 0, sizeof(s));
		snprintf(s.profile_type, sizeof(s.profile_type), "tapshare %s", m->kind);
		s.app_content = (const uint8_t *)cred;
		s.app_content_len = strlen(cred);
		if ((rc = es10_iccid_for_app(eid, m->app_id, d)) != 0 ||
		    (rc = upp_iccid_encode(d, s.iccid)) != 0 || (rc = upp_encode(&s, out, len)) != 0)
			return rc;
		memcpy(m->iccid, s.iccid, sizeof(m->iccid));
		m->has_iccid = 1;
		return 0;
	}
	const char *iccid = ts_json_str(j, "iccid");
	rc = iccid != NULL ? upp_iccid_encode(iccid, m->iccid) : TS_EPARSE;
	if (rc == 0)
		rc = ts_b64_decode(pkg, out, len);
	m->has_iccid = rc == 0;
	json_decref(j); /* the credential's strings: freed, the caller cleanses its text */
	return rc;
}

/* The confirmation code (SGP.22 §3.1.2 / §5.6.2): a share that asks for one
 * needs hashCc in the eUICC-signed euiccSigned2 (8.2.7 / 2.2), equal to
 * SHA-256(SHA-256(code) || transactionId) (8.2.7 / 3.8). The
 * DOWNLOAD_CC_ATTEMPTS-th wrong one ends the share (failed: the provider is
 * told) and is answered 8.2.7 / 6.4. */
static int
check_cc(const download_svc *d, store *st, const store_share *sh, const es10_euicc_signed2 *es2, download_why *why)
{
	char hex[65];
	uint8_t h1[32], want[ES10_HASHCC_LEN];
	size_t n = 0;
	int attempts = 0;
	int rc = st->ops->cc_get(st, sh->id, hex, &attempts);
	if (rc == TS_ENOTFOUND)
		return 0;
	if (rc != 0)
		return read_failed(why, rc);
	if (ts_hex_decode(hex, h1, sizeof(h1), &n) != 0 || n != 32 ||
	    es10_hash_cc_of(h1, es2->tid, es2->tid_len, want) != 0)
		return internal(why, "reading the confirmation code");
	if (attempts >= DOWNLOAD_CC_ATTEMPTS)
		return refuse(why, TS_EDENIED, ES9_CC_RETRIES_EXCEEDED, "share %s: no confirmation code attempts left",
		    sh->id);
	if (!es2->has_hash_cc)
		return refuse(why, TS_EDENIED, ES9_CC_MISSING, "share %s needs the confirmation code (hashCc)", sh->id);
	if (ts_ct_equal(es2->hash_cc, want, ES10_HASHCC_LEN) == 0)
		return 0;
	if ((rc = st->ops->cc_refused(st, sh->id, &attempts)) != 0)
		return internal(why, "counting the confirmation code attempt");
	if (attempts < DOWNLOAD_CC_ATTEMPTS)
		return refuse(why, TS_EDENIED, ES9_CC_REFUSED, "share %s: wrong confirmation code (%d of %d attempts)",
		    sh->id, attempts, DOWNLOAD_CC_ATTEMPTS);
	char reason[128];
	snprintf(reason, sizeof(reason), "the confirmation code was wrong %d times", attempts);
	rc = share_fail(d->share, st, sh->id, reason, 1);
	if (rc != 0 && rc != TS_ESTATE)
		return internal(why, "ending the share");
	return refuse(why, TS_EDENIED, ES9_CC_RETRIES_EXCEEDED, "share %s: %s; the share has ended", sh->id, reason);
}

int
download_package(const download_svc *d, store *st, const char *tid, const uint8_t *pdr, size_t pdr_len,
    uint8_t **bpp, size_t *bpp_len, download_why *why)
{
	EVP_PKEY *pub = NULL;
	uint8_t *md = NULL;
	size_t md_len = 0, profile_len = 0;
	char *cred = NULL;
	uint8_t *profile = NULL;
	store_tx tx;
	es10_prepare_download_resp p;
	es10_euicc_signed2 es2;
	store_share sh;
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	int rc;
	*bpp = NULL;
	if ((rc = tx_lookup(st, tid, TX_AUTHENTICATED, &tx, why)) != 0)
		return rc;
	if (es10_prepare_download_resp_decode(pdr, pdr_len, &p, &es2) != 0)
		return refuse(why, TS_EPARSE, ES9_INVALID, "prepareDownloadResponse is missing or malformed");
	if (p.error != 0)
		return refuse(why, TS_EDENIED, ES9_EUICC_REFUSED,
		    "the secure element refused to prepare the download (downloadErrorCode %d)", p.error);
	if (pki_pubkey_from_point(tx.euicc_pub, 65, &pub) != 0)
		return internal(why, "binding the package");
	/* euiccSignature2 over euiccSigned2 || 5F37 40 smdpSignature2. */
	if (es10_sig_input(p.euicc_signed2.p, p.euicc_signed2.len, tx.smdp_sig2, &tbs, &tbs_len) != 0) {
		rc = internal(why, "binding the package");
		goto done;
	}
	if (pki_verify(pub, tbs, tbs_len, p.euicc_signature2) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSignature2 does not verify");
		goto done;
	}
	char tid_hex[2 * ES10_TID_MAX + 1];
	ts_hex_encode(es2.tid, es2.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_TID_UNKNOWN, "euiccSigned2 is for another session");
		goto done;
	}
	/* Whether the share is still downloadable is decided by share_deliver,
	 * inside the transaction that records the delivery. */
	if ((rc = st->ops->share_get(st, tx.share_id, &sh)) != 0) {
		rc = rc != TS_ENOTFOUND ? read_failed(why, rc) :
		    refuse(why, TS_ENOTFOUND, ES9_TID_UNKNOWN, "share %s is gone: the download session ended with it",
		    tx.share_id);
		goto done;
	}
	/* A share that left authorised/delivered has no credential any more
	 * (erased at rest, issue 8): say so rather than fail to build. */
	if (!share_downloadable(&sh)) {
		rc = refuse(why, TS_ESTATE, ES9_TID_UNKNOWN, "share %s is no longer downloadable: the download session ended with it", sh.id);
		goto done;
	}
	if ((rc = check_cc(d, st, &sh, &es2, why)) != 0)
		goto done;
	rsp_metadata m;
	share_metadata(&sh, &m);
	eid_t eid;
	if (ts_snprintf(m.notif_address, sizeof(m.notif_address), "%s", d->address) != 0 ||
	    eid_parse(tx.eid, &eid) != 0 || share_credential(st, sh.id, &cred) != 0 ||
	    credential_profile(cred, &eid, &m, &profile, &profile_len) != 0 ||
	    rsp_metadata_encode(&m, &md, &md_len) != 0 ||
	    bsp_package_build(es2.euicc_otpk, sizeof(es2.euicc_otpk), &eid, es2.tid, es2.tid_len,
		(const uint8_t *)ES9_HOST_ID, strlen(ES9_HOST_ID), d->dppb_key, md, md_len, profile,
		profile_len, bpp, bpp_len) != 0) {
		rc = internal(why, "binding the package");
		goto done;
	}
	tx.stage = TX_PACKAGE_SENT;
	rc = share_deliver(d->share, st, sh.id, &tx);
	if (rc == TS_ESTATE)
		rc = refuse(why, rc, ES9_TID_UNKNOWN, "share %s is no longer downloadable: the download session ended with it", sh.id);
	else if (rc != 0)
		rc = internal(why, "recording the delivery");
done:
	if (rc != 0 && *bpp != NULL) {
		OPENSSL_cleanse(*bpp, *bpp_len);
		free(*bpp);
		*bpp = NULL;
	}
	EVP_PKEY_free(pub);
	free(tbs);
	if (cred) {
		OPENSSL_cleanse(cred, strlen(cred));
		free(cred);
	}
	if (profile != NULL) {
		OPENSSL_cleanse(profile, profile_len);
		free(profile);
	}
	free(md);
	return rc;
}

/* SGP.22 ProfileInstallationResultData errorReason, by name (lib/es10.h). */
static const char *
error_reason_name(int r)
{
	switch (r) {
	case ES10_ERR_INCORRECT_INPUT_VALUES: return "incorrectInputValues";
	case ES10_ERR_INVALID_SIGNATURE: return "invalidSignature";
	case ES10_ERR_INVALID_TRANSACTION_ID: return "invalidTransactionId";
	case ES10_ERR_UNSUPPORTED_CRT_VALUES: return "unsupportedCrtValues";
	case ES10_ERR_UNSUPPORTED_REMOTE_OPERATION_TYPE: return "unsupportedRemoteOperationType";
	case ES10_ERR_UNSUPPORTED_PROFILE_CLASS: return "unsupportedProfileClass";
	case ES10_ERR_SCP03T_STRUCTURE: return "scp03tStructureError";
	case ES10_ERR_SCP03T_SECURITY: return "scp03tSecurityError";
	case ES10_ERR_ICCID_ALREADY_EXISTS: return "installFailedDueToIccidAlreadyExistsOnEuicc";
	case ES10_ERR_INSUFFICIENT_MEMORY: return "installFailedDueToInsufficientMemoryForProfile";
	case ES10_ERR_INTERRUPTION: return "installFailedDueToInterruption";
	case ES10_ERR_PE_PROCESSING: return "peProcessingError";
	case ES10_ERR_DATA_MISMATCH: return "installFailedDueToDataMismatch";
	case ES10_ERR_TEST_PROFILE_INVALID_NAA_KEY: return "testProfileInstallFailedDueToInvalidNaaKey";
	case ES10_ERR_PPR_NOT_ALLOWED: return "pprNotAllowed";
	default: return "installFailedDueToUnknownError";
	}
}

int
download_notification(const download_svc *d, store *st, const uint8_t *nb, size_t nb_len,
    const uint8_t *app_key, download_why *why)
{
	node_notification nt;
	if (notification_check(st, d->ci, nb, nb_len, &nt) != 0)
		return refuse(why, TS_EVERIFY, nt.status, "%s", nt.msg);
	EVP_PKEY *kp = NULL;
	if (app_key != NULL && pki_pubkey_from_point(app_key, PKI_PUBKEY_LEN, &kp) != 0)
		return refuse(why, TS_EPARSE, ES9_INVALID, "tapshareAppKey is not a P-256 public key");
	EVP_PKEY_free(kp);
	if (!nt.has_share) {
		/* Not ours (or long gone): acknowledged so the SE stops resending it. */
		log_warn("notification %llu (%s) for ICCID %s on %s: no share to settle; acknowledged",
		    (unsigned long long)nt.seq, nt.event == ES10_EVENT_INSTALL ? "install"
		    : nt.event == ES10_EVENT_ENABLE ? "enable" : nt.event == ES10_EVENT_DISABLE ? "disable"
		    : nt.event == ES10_EVENT_DELETE ? "delete" : "?", nt.iccid[0] ? nt.iccid : "-", nt.eid);
		return 0;
	}
	log_info("handleNotification: %s notification %llu from %s for share %s (ICCID %s)",
	    nt.event == ES10_EVENT_INSTALL ? "install" : nt.event == ES10_EVENT_ENABLE ? "enable"
	    : nt.event == ES10_EVENT_DISABLE ? "disable" : nt.event == ES10_EVENT_DELETE ? "delete" : "?",
	    (unsigned long long)nt.seq, nt.eid, nt.share_id, nt.iccid);
	int rc = 0;
	if (nt.event == ES10_EVENT_INSTALL && nt.success) {
		/* The key counts only with the verified install result of the
		 * share's own session, and only the first time (share_installed
		 * ignores a repeat once the share is installed). */
		char hex[2 * PKI_PUBKEY_LEN + 1];
		if (app_key != NULL)
			ts_hex_encode(app_key, PKI_PUBKEY_LEN, hex, sizeof(hex));
		rc = share_installed(d->share, st, nt.share_id, app_key != NULL ? hex : NULL);
	} else if (nt.event == ES10_EVENT_INSTALL) {
		char reason[200];
		snprintf(reason, sizeof(reason), "the companion's secure element refused the package: %s "
		    "(bppCommandId %d, errorReason %d)", error_reason_name(nt.error_reason), nt.bpp_command_id,
		    nt.error_reason);
		rc = share_install_failed(d->share, st, nt.share_id, reason);
	} else if (nt.event == ES10_EVENT_DELETE) {
		rc = share_deleted(d->share, st, nt.share_id);
	} else if (nt.event == ES10_EVENT_ENABLE) {
		rc = share_certified(d->share, st, nt.share_id);
	}
	if (rc != 0 && rc != TS_ESTATE)
		return refuse(why, rc, ES9_EXEC_ERROR, "cannot record the notification");
	return 0;
}

/* The SM-DP+ OID: the registeredID in CERT.DPauth's subjectAltName, as
 * OBJECT IDENTIFIER content octets. */
static int
dpauth_oid(const download_svc *d, uint8_t *oid, size_t *len)
{
	X509 *x = NULL;
	int rc = TS_ENOTFOUND;
	*len = 0;
	if (pki_cert_from_der(d->dpauth_cert_der, d->dpauth_cert_der_len, &x) != 0)
		return TS_EPARSE;
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && rc != 0; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		size_t n = g->type == GEN_RID ? OBJ_length(g->d.registeredID) : 0;
		const unsigned char *p = n > 0 ? OBJ_get0_data(g->d.registeredID) : NULL;
		if (p != NULL && n <= ES10_OID_MAX) {
			memcpy(oid, p, n);
			*len = n;
			rc = 0;
		}
	}
	GENERAL_NAMES_free(gens);
	X509_free(x);
	return rc;
}

int
download_tx_unbound(store *st, const char *tid)
{
	store_tx tx;
	if (tid == NULL || strlen(tid) != 2 * RSP_TID_LEN)
		return 0;
	int rc = st->ops->tx_get(st, tid, &tx);
	if (rc != 0)
		return rc == TS_ENOTFOUND ? 0 : rc < 0 ? rc : TS_EDB;
	return tx.stage == TX_INITIATED &&
	    strncmp(tx.share_id, DOWNLOAD_UNBOUND_PREFIX, strlen(DOWNLOAD_UNBOUND_PREFIX)) == 0;
}

int
download_cancel(const download_svc *d, store *st, const char *tid, const uint8_t *csr, size_t csr_len,
    download_why *why)
{
	store_tx tx;
	es10_cancel_session_resp r;
	es10_cancel_signed cs;
	EVP_PKEY *pub = NULL;
	uint8_t oid[ES10_OID_MAX];
	size_t oid_len = 0;
	char tid_hex[2 * ES10_TID_MAX + 1];
	int rc = tid == NULL || strlen(tid) != 2 * RSP_TID_LEN ? TS_ENOTFOUND : st->ops->tx_get(st, tid, &tx);
	if (rc != 0 && rc != TS_ENOTFOUND)
		return read_failed(why, rc);
	if (rc != 0 || tx.stage == TX_CANCELLED)
		return refuse(why, TS_ENOTFOUND, ES9_TID_UNKNOWN, "unknown transactionId");
	if (es10_cancel_session_resp_decode(csr, csr_len, &r, &cs) != 0)
		return refuse(why, TS_EPARSE, ES9_INVALID, "cancelSessionResponse is not a CancelSessionResponse (BF41)");
	if (r.error != 0)
		return refuse(why, TS_EDENIED, ES9_EUICC_REFUSED,
		    "the eUICC did not cancel the session (cancelSessionResponseError %d)", r.error);
	/* PK.EUICC attached to the session: known once authenticateClient verified it. */
	if (tx.stage < TX_AUTHENTICATED || pki_pubkey_from_point(tx.euicc_pub, sizeof(tx.euicc_pub), &pub) != 0)
		return refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "session %s has no authenticated eUICC key to verify the cancellation with", tid);
	rc = pki_verify(pub, r.cancel_signed.p, r.cancel_signed.len, r.signature);
	EVP_PKEY_free(pub);
	if (rc != 0)
		return refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccCancelSessionSignature does not verify");
	if ((rc = dpauth_oid(d, oid, &oid_len)) != 0)
		return internal(why, "reading the SM-DP+ OID");
	if (cs.smdp_oid_len != oid_len || memcmp(cs.smdp_oid, oid, oid_len) != 0)
		return refuse(why, TS_EVERIFY, ES9_SMDP_OID_INVALID, "smdpOid is not this SM-DP+'s");
	ts_hex_encode(cs.tid, cs.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0)
		return refuse(why, TS_EVERIFY, ES9_TID_UNKNOWN, "euiccCancelSessionSigned is for another session");
	const char *reason = es10_cancel_reason_name(cs.reason);
	if (reason == NULL)
		reason = "undefinedReason";
	log_warn("companion %s cancelled download session %s: %s", tx.eid, tid, reason);
	/* SGP.22 §5.6.5, once verified: notify the Operator, terminate the
	 * pending download process, if required delete the SM-DS event
	 * (§3.6.3); the steps do not depend on the reason. The session always
	 * ends here. What happens to the share by reason is tapshare's policy
	 * (docs/protocol.md): endUserRejection, pprNotAllowed, metadataMismatch
	 * and loadBppExecutionError end it (failed, cancelOrder to the provider,
	 * the SM-DS event removed); postponed, timeout and undefinedReason
	 * (tapshare-companion's reason for a failure it retries) keep it
	 * deliverable (the provider is told: share_download_cancelled), unless a
	 * package was sent and the grant ended meanwhile: then nothing will
	 * ever be installed and a pending delete is settled.
	 * First the share, then the session, so that a cancelSession repeated
	 * after a crash still reaches the share. */
	int reason_code = es10_cancel_reason_name(cs.reason) != NULL ? cs.reason : ES10_CANCEL_UNDEFINED_REASON;
	int keep = reason_code == ES10_CANCEL_POSTPONED || reason_code == ES10_CANCEL_TIMEOUT ||
	    reason_code == ES10_CANCEL_UNDEFINED_REASON;
	int sent = tx.stage == TX_PACKAGE_SENT;
	store_share sh;
	rc = sent || !keep ? st->ops->share_get(st, tx.share_id, &sh) : TS_ENOTFOUND;
	if (rc != 0 && rc != TS_ENOTFOUND)
		return read_failed(why, rc); /* the session stays open: a retry reaches the share */
	if (rc == 0 && (keep ? !share_downloadable(&sh) : sent || share_downloadable(&sh))) {
		char m[160];
		snprintf(m, sizeof(m), sent ? "the companion's secure element did not install the package (%s)" :
					      "the companion cancelled the download (%s)", reason);
		rc = share_install_failed(d->share, st, tx.share_id, m);
		if (rc != 0 && rc != TS_ESTATE)
			return internal(why, "recording the failed install");
	} else if (keep) {
		/* §5.6.5 step 1 for a share that stays: the provider is told
		 * (ES2+ HandleDownloadProgressInfo, docs/protocol.md §5). */
		const char *kind = reason_code == ES10_CANCEL_POSTPONED ? OUTBOX_PROGRESS_POSTPONED :
				   reason_code == ES10_CANCEL_TIMEOUT   ? OUTBOX_PROGRESS_TIMEOUT :
									  OUTBOX_PROGRESS_UNDEFINED;
		rc = share_download_cancelled(d->share, st, tx.share_id, kind);
		if (rc != 0 && rc != TS_ENOTFOUND)
			return read_failed(why, rc); /* the session stays open: a retry tells the provider */
	}
	tx.stage = TX_CANCELLED;
	if (st->ops->tx_put(st, &tx) != 0)
		return internal(why, "ending the session");
	return 0;
}

int
download_verify_euicc(const download_svc *d, const es10_auth_server_resp *a, const char *want_eid, EVP_PKEY **pub,
    download_why *why)
{
	return verify_euicc(d, a, want_eid, pub, why);
}
