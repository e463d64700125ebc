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

#include <jansson.h>
#include <openssl/crypto.h>

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

static int
refuse(download_why *why, int rc, const char *subject, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
refuse(download_why *why, int rc, const char *subject, const char *reason, const char *fmt, ...)
{
	why->subject = subject;
	why->reason = reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	log_warn("ES9+ refused: %s", why->msg);
	return rc;
}

static int
internal(download_why *why, const char *what)
{
	return refuse(why, TS_ECRYPTO, "8.1", "5.1", "internal error while %s", what);
}

static int
tx_lookup(store *st, const char *tid, int stage, store_tx *tx, download_why *why)
{
	if (tid == NULL || strlen(tid) != 2 * RSP_TID_LEN || st->ops->tx_get(st, tid, tx) != 0)
		return refuse(why, TS_ENOTFOUND, "8.10.1", "3.9", "unknown transactionId");
	if (tx->stage != stage)
		return refuse(why, TS_ESTATE, "8.10.1", "3.9", "transaction %s is not at this step", tid);
	return 0;
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
	json_t *j = json_loads(cred, 0, NULL);
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
	if (strncmp(url, "https://", 8) == 0)
		url += 8;
	else if (strncmp(url, "http://", 7) == 0)
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

int
download_initiate(const download_svc *d, store *st, const char *matching_id,
    const uint8_t euicc_challenge[RSP_CHALLENGE_LEN], char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1,
    size_t *s1_len, uint8_t sig1[64], download_why *why)
{
	store_share sh;
	*s1 = NULL;
	memset(&sh, 0, sizeof(sh));
	/* SGP.22 initiateAuthentication names no matchingId: the eUICC signs
	 * it later in ctxParams1 and authenticateClient binds the share then.
	 * A session without one is keyed by the caller's address so that rows
	 * stay bounded per peer. tapshare's companion may still name it here,
	 * which binds the session at once. */
	if (matching_id != NULL) {
		if (st->ops->share_by_matching(st, matching_id, &sh) != 0)
			return refuse(why, TS_ENOTFOUND, "8.2.6", "3.8", "unknown matchingId");
		if (!share_downloadable(&sh))
			return refuse(why, TS_ESTATE, "8.2.6", "3.8", "share %s is %s: nothing to download", sh.id,
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

/* Verifies the SE's identity: chain CI -> EUM -> eUICC, the EUM's permitted
 * prefixes, and the EID in the eUICC certificate. Returns the eUICC key. */
static int
verify_euicc(const download_svc *d, const es10_auth_server_resp *a, const char *want_eid, EVP_PKEY **pub,
    char *why, size_t cap)
{
	X509 *eum = NULL, *euicc = NULL;
	int rc = TS_EVERIFY;
	char err[256] = "";
	eid_t eid;
	char prefixes[512];
	/* SGP.22 profile: roles, the EUM's nameConstraints and the EID in them
	 * (parsed and verified once per certificate, pki.h) */
	int vr = pki_verify_euicc_der(d->ci, a->eum_cert.p, a->eum_cert.len, a->euicc_cert.p, a->euicc_cert.len,
	    &eum, &euicc, err, sizeof(err));
	if (vr == TS_EVERIFY) {
		snprintf(why, cap, "eUICC certificate does not chain to the trusted CI: %s", err);
		goto done;
	}
	if (vr != 0) {
		snprintf(why, cap, "malformed eUICC or EUM certificate");
		goto done;
	}
	if (pki_cert_eid(euicc, &eid) != 0) {
		snprintf(why, cap, "eUICC certificate carries no valid EID");
		goto done;
	}
	if (pki_cert_ein_prefixes(eum, prefixes, sizeof(prefixes)) != 0 || !pki_ein_allowed(prefixes, &eid)) {
		snprintf(why, cap, "EID %s is outside the EUM's permitted prefixes", eid.digits);
		goto done;
	}
	if (want_eid != NULL && strcmp(eid.digits, want_eid) != 0) {
		snprintf(why, cap, "secure element is EID %s, the share is for %s", eid.digits, want_eid);
		goto done;
	}
	*pub = X509_get_pubkey(euicc);
	rc = *pub ? 0 : TS_ECRYPTO;
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
	char vwhy[300];
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	int rc;
	*md = *s2 = NULL;
	if ((rc = tx_lookup(st, tid, TX_INITIATED, &tx, why)) != 0)
		return rc;
	if (es10_auth_server_resp_decode(asr, asr_len, &a, &es1) != 0)
		return refuse(why, TS_EPARSE, "8.1", "2.1", "authenticateServerResponse is missing or malformed");
	if (a.error != 0)
		return refuse(why, TS_EDENIED, "8.1", "3.8", "the secure element refused the server (authenticateErrorCode %d)",
		    a.error);
	int unbound = strncmp(tx.share_id, DOWNLOAD_UNBOUND_PREFIX, strlen(DOWNLOAD_UNBOUND_PREFIX)) == 0;
	if (unbound) {
		/* The share is the one the eUICC's signed matchingId names (checked
		 * against its signature below, before anything is recorded). */
		if (!es1.ctx.has_matching_id || st->ops->share_by_matching(st, es1.ctx.matching_id, &sh) != 0)
			return refuse(why, TS_ENOTFOUND, "8.2.6", "3.8", "matchingId in ctxParams1 is missing or unknown");
		snprintf(tx.share_id, sizeof(tx.share_id), "%s", sh.id);
		snprintf(tx.eid, sizeof(tx.eid), "%s", sh.eid);
	}
	if (verify_euicc(d, &a, tx.eid, &pub, vwhy, sizeof(vwhy)) != 0)
		return refuse(why, TS_EVERIFY, "8.1.3", "6.1", "%s", vwhy);
	if (pki_verify(pub, a.euicc_signed1.p, a.euicc_signed1.len, a.euicc_signature1) != 0) {
		rc = refuse(why, TS_EVERIFY, "8.1", "6.1", "euiccSignature1 does not verify");
		goto done;
	}
	if (!unbound && st->ops->share_get(st, tx.share_id, &sh) != 0) {
		rc = refuse(why, TS_ENOTFOUND, "8.2", "3.8", "share %s is gone", tx.share_id);
		goto done;
	}
	char tid_hex[2 * ES10_TID_MAX + 1];
	ts_hex_encode(es1.tid, es1.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0 || strcmp(es1.server_address, d->address) != 0) {
		rc = refuse(why, TS_EVERIFY, "8.1", "6.1", "euiccSigned1 does not match this session (replay?)");
		goto done;
	}
	if (ts_ct_equal(es1.server_challenge, tx.server_challenge, 16) != 0) {
		rc = refuse(why, TS_EVERIFY, "8.1", "6.1", "euiccSigned1 does not carry this session's serverChallenge");
		goto done;
	}
	/* The matching ID travels in ctxParams1, signed by the eUICC. */
	if (!es1.ctx.has_matching_id || strcmp(es1.ctx.matching_id, sh.matching_id) != 0) {
		rc = refuse(why, TS_ENOTFOUND, "8.2.6", "3.8", "matchingId in ctxParams1 is missing or not this share's");
		goto done;
	}
	if (!share_downloadable(&sh)) {
		rc = refuse(why, TS_ESTATE, "8.2", "3.8", "share %s is %s: nothing to download", sh.id,
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
	ss2.cc_required = 0;
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
	json_t *j = json_loads(cred, 0, NULL);
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
		return refuse(why, TS_EPARSE, "8.1", "2.1", "prepareDownloadResponse is missing or malformed");
	if (p.error != 0)
		return refuse(why, TS_EDENIED, "8.1", "3.8",
		    "the secure element refused to prepare the download (downloadErrorCode %d)", p.error);
	if (pki_pubkey_from_point(tx.euicc_pub, 65, &pub) != 0)
		return internal(why, "binding the package");
	/* euiccSignature2 over euiccSigned2 || 5F37 40 smdpSignature2. */
	if (es10_sig_input(p.euicc_signed2.p, p.euicc_signed2.len, tx.smdp_sig2, &tbs, &tbs_len) != 0) {
		rc = internal(why, "binding the package");
		goto done;
	}
	if (pki_verify(pub, tbs, tbs_len, p.euicc_signature2) != 0) {
		rc = refuse(why, TS_EVERIFY, "8.1", "6.1", "euiccSignature2 does not verify");
		goto done;
	}
	char tid_hex[2 * ES10_TID_MAX + 1];
	ts_hex_encode(es2.tid, es2.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0) {
		rc = refuse(why, TS_EVERIFY, "8.10.1", "3.9", "euiccSigned2 is for another session");
		goto done;
	}
	/* Whether the share is still downloadable is decided by share_deliver,
	 * inside the transaction that records the delivery. */
	if (st->ops->share_get(st, tx.share_id, &sh) != 0) {
		rc = refuse(why, TS_ENOTFOUND, "8.2", "3.8", "share %s is gone", tx.share_id);
		goto done;
	}
	/* A share that left authorised/delivered has no credential any more
	 * (erased at rest, issue 8): say so rather than fail to build. */
	if (!share_downloadable(&sh)) {
		rc = refuse(why, TS_ESTATE, "8.2", "3.8", "share %s is no longer downloadable", sh.id);
		goto done;
	}
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
		rc = refuse(why, rc, "8.2", "3.8", "share %s is no longer downloadable", sh.id);
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
		return refuse(why, TS_EVERIFY, nt.subject, nt.reason, "%s", nt.msg);
	EVP_PKEY *kp = NULL;
	if (app_key != NULL && pki_pubkey_from_point(app_key, PKI_PUBKEY_LEN, &kp) != 0)
		return refuse(why, TS_EPARSE, "8.1", "2.1", "tapshareAppKey is not a P-256 public key");
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
		return refuse(why, rc, "8.1", "5.1", "cannot record the notification");
	return 0;
}

int
download_cancel(const download_svc *d, store *st, const char *tid, const char *reason)
{
	store_tx tx;
	if (tid == NULL || st->ops->tx_get(st, tid, &tx) != 0 || tx.stage == TX_CANCELLED)
		return TS_ENOTFOUND;
	log_warn("companion %s cancelled download session %s: %s", tx.eid, tid, reason ? reason : "no reason given");
	store_share sh;
	if (tx.stage == TX_PACKAGE_SENT && st->ops->share_get(st, tx.share_id, &sh) == 0) {
		/* The package was sent but is not on the SE. If the SE refused to
		 * load it (loadBppExecutionError: card full, bad package) the share
		 * fails with that reason; otherwise (transport, postponed) a retry
		 * may still install it, unless the grant has ended meanwhile: then
		 * nothing will ever be installed and a pending delete is settled.
		 * First the share, then the session, so that a cancelSession
		 * repeated after a crash still reaches the share. */
		int refused = reason != NULL && strcmp(reason, "loadBppExecutionError") == 0;
		if (refused || !share_downloadable(&sh)) {
			char why[160];
			snprintf(why, sizeof(why), "the companion's secure element did not install the package (%.64s)",
			    reason ? reason : "undefinedReason");
			int rc = share_install_failed(d->share, st, tx.share_id, why);
			if (rc != 0 && rc != TS_ESTATE)
				return rc;
		}
	}
	tx.stage = TX_CANCELLED;
	return st->ops->tx_put(st, &tx);
}

int
download_verify_euicc(const download_svc *d, const es10_auth_server_resp *a, const char *want_eid, EVP_PKEY **pub,
    char *why, size_t cap)
{
	return verify_euicc(d, a, want_eid, pub, why, cap);
}
