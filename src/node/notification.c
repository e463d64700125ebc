/*
 * notification.c — an SGP.22 PendingNotification as the node takes it (see
 * notification.h). Pure checks over the store: no HTTP, no state changes.
 */
#include "node/notification.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/eid.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* Pending commands scanned per store call when looking for the share. */
#define NOTIF_CMD_BATCH 32
/* At most this many pending commands per EID are looked at (a companion has
 * a handful; the bound keeps a flood of commands from making this slow). */
#define NOTIF_CMD_MAX 1024
/* Then the EID's newest shares, at most this many. */
#define NOTIF_SHARES_MAX 64

static int refuse(node_notification *o, int rc, es9_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(node_notification *o, int rc, es9_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
	o->status = status;
	return rc;
}

/* A store read that gave no answer (busy, timed out, failed): the
 * notification is neither verified nor settled, so it is answered Failed
 * (1.2 / 4.4) for the LPA to send again, never discarded as unknown. */
static int
read_failed(node_notification *o, int rc)
{
	return refuse(o, rc, ES9_BUSY, "the database is busy; send the notification again");
}

/* 1 if iccid is the one tapshare gives app_id on eid — or, for a SIM
 * (associated app id "sim-<ICCID>", sp/credential.h), the provider's ICCID
 * the node put into the package's metadata (download.c). */
static int
iccid_is_app(const char *eid_digits, const char *app_id, const uint8_t iccid[ES10_ICCID_LEN])
{
	eid_t eid;
	char want[ES10_ICCID_DIGITS_MAX + 1], got[ES10_ICCID_DIGITS_MAX + 1];
	if (es10_iccid_to_digits(iccid, got) != 0)
		return 0;
	if (strncmp(app_id, "sim-", 4) == 0 && strcmp(app_id + 4, got) == 0)
		return 1;
	return eid_parse(eid_digits, &eid) == 0 && es10_iccid_for_app(&eid, app_id, want) == 0 &&
	    strcmp(want, got) == 0;
}

static int
check_install(store *st, const es10_pending *p, node_notification *o)
{
	store_tx tx;
	store_share sh;
	EVP_PKEY *pub = NULL;
	char tid[2 * ES10_TID_MAX + 1];
	int rc = p->pir.tid_len != 16 || ts_hex_encode(p->pir.tid, p->pir.tid_len, tid, sizeof(tid)) != 0 ?
	    TS_ENOTFOUND : st->ops->tx_get(st, tid, &tx);
	if (rc != 0 && rc != TS_ENOTFOUND)
		return read_failed(o, rc);
	if (rc != 0)
		return refuse(o, TS_ENOTFOUND, ES9_TID_UNKNOWN,
		    "install result for an unknown transactionId");
	if (pki_pubkey_from_point(tx.euicc_pub, sizeof(tx.euicc_pub), &pub) != 0)
		return refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "session %s has no authenticated eUICC key", tid);
	rc = es10_pending_verify(p, pub);
	EVP_PKEY_free(pub);
	if (rc != 0)
		return refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "euiccSignPIR of the install result for session %s does not verify", tid);
	(void)ts_snprintf(o->eid, sizeof(o->eid), "%s", tx.eid);
	if ((rc = st->ops->share_get(st, tx.share_id, &sh)) != 0) {
		if (rc != TS_ENOTFOUND)
			return read_failed(o, rc);
		log_warn("install result for session %s of a share that is gone acknowledged", tid);
		return 0;
	}
	/* A success names the installed profile, which must be the session's.
	 * An error result may come before the eUICC read the profile's ICCID
	 * (no room, issue 8 F3): its signed transactionId already ties it to
	 * the session; an ICCID it does name must still be the session's. */
	int need_iccid = p->pir.success || p->meta.has_iccid;
	if (need_iccid && (!p->meta.has_iccid || !iccid_is_app(tx.eid, sh.assoc_app_id, p->meta.iccid)))
		return refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "install result for session %s names ICCID %s, not the one of %s", tid,
		    o->iccid[0] ? o->iccid : "(none)", sh.assoc_app_id);
	o->has_share = 1;
	memcpy(o->share_id, sh.id, sizeof(o->share_id));
	o->success = p->pir.success;
	o->bpp_command_id = p->pir.bpp_command_id;
	o->error_reason = p->pir.error_reason;
	return 0;
}

/* The eUICC certificate of an OtherSignedNotification: chains to ci through
 * the EUM, its EID is permitted, its key is the one authenticated for that
 * EID. *pub: caller frees. */
static int
check_certificates(store *st, X509 *ci, const es10_pending *p, node_notification *o,
    EVP_PKEY **pub)
{
	X509 *eum = NULL, *euicc = NULL;
	char err[256] = "", prefixes[512];
	uint8_t known[PKI_PUBKEY_LEN], got[PKI_PUBKEY_LEN];
	eid_t eid;
	int rc;
	*pub = NULL;
	/* SGP.22 profile: roles, the EUM's nameConstraints and the EID in them
	 * (parsed and verified once per certificate, pki.h) */
	rc = pki_verify_euicc_der(ci, p->eum_cert, p->eum_cert_len, p->euicc_cert, p->euicc_cert_len, &eum, &euicc,
	    err, sizeof(err));
	if (rc == TS_EVERIFY) {
		rc = refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "the notification's eUICC certificate does not chain to the trusted CI: %s", err);
		goto done;
	}
	if (rc != 0) {
		rc = refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY, "malformed eUICC or EUM certificate");
		goto done;
	}
	if (pki_cert_eid(euicc, &eid) != 0 || pki_cert_ein_prefixes(eum, prefixes, sizeof(prefixes)) != 0 ||
	    !pki_ein_allowed(prefixes, &eid)) {
		rc = refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "the notification's eUICC certificate carries no EID its EUM permits");
		goto done;
	}
	(void)ts_snprintf(o->eid, sizeof(o->eid), "%s", eid.digits);
	if ((*pub = X509_get_pubkey(euicc)) == NULL || pki_pubkey_to_point(*pub, got) != 0) {
		rc = refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY, "the eUICC certificate's key is unusable");
		goto done;
	}
	/* The eUICC this node authenticated at download, not merely one that
	 * chains: the companion's SE is known by its key. */
	if ((rc = st->ops->companion_pub(st, eid.digits, known)) != 0 && rc != TS_ENOTFOUND) {
		rc = read_failed(o, rc);
		goto done;
	}
	if (rc != 0 || ts_ct_equal(known, got, PKI_PUBKEY_LEN) != 0) {
		rc = refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "EID %s: not the eUICC key this node authenticated", eid.digits);
		goto done;
	}
	rc = 0;
done:
	if (rc != 0) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
	}
	X509_free(eum);
	X509_free(euicc);
	return rc;
}

/* The share of eid with a pending command (delete, certificate, ...) for the
 * app with iccid: the share the node is waiting to hear about. Which
 * transition the notification makes is the share state machine's call. */
static int
share_of_command(store *st, const char *eid, const uint8_t iccid[ES10_ICCID_LEN],
    char share_id[STORE_ID_MAX])
{
	store_cmd cmds[NOTIF_CMD_BATCH];
	int64_t after = 0;
	for (size_t seen = 0; seen < NOTIF_CMD_MAX;) {
		size_t n = 0;
		int rc = st->ops->cmds_pending(st, eid, after, cmds, NOTIF_CMD_BATCH, &n);
		if (rc != 0)
			return rc == TS_ENOTFOUND ? TS_EDB : rc;
		for (size_t i = 0; i < n; i++) {
			store_share sh;
			after = cmds[i].id;
			if ((rc = st->ops->share_get(st, cmds[i].share_id, &sh)) == TS_ENOTFOUND)
				continue;
			if (rc != 0)
				return rc;
			if (iccid_is_app(eid, sh.assoc_app_id, iccid)) {
				memcpy(share_id, sh.id, STORE_ID_MAX);
				return 0;
			}
		}
		seen += n;
		if (n < NOTIF_CMD_BATCH)
			break;
	}
	return TS_ENOTFOUND;
}

/* Otherwise (an LPA deleted the profile on its own: expiry, the user) the
 * newest share of eid for the app with iccid, among its NOTIF_SHARES_MAX
 * newest. The newest alone is read first: it is the one in the usual case
 * (the profile just installed), and a read of 64 shares stepped through
 * every one of them (issue 9: 54 rows per delete notification in the bench,
 * whose companion holds every share). */
static int
share_of_eid(store *st, const char *eid, const uint8_t iccid[ES10_ICCID_LEN],
    char share_id[STORE_ID_MAX])
{
	store_share_app one, *v = &one;
	size_t n = 0;
	int rc;
	if ((rc = st->ops->shares_of_eid(st, eid, v, 1, &n)) != 0)
		return rc == TS_ENOTFOUND ? TS_EDB : rc;
	if (n == 1 && iccid_is_app(eid, v[0].assoc_app_id, iccid)) {
		memcpy(share_id, v[0].id, STORE_ID_MAX);
		return 0;
	}
	if (n == 0)
		return TS_ENOTFOUND;
	if ((v = calloc(NOTIF_SHARES_MAX, sizeof(*v))) == NULL)
		return TS_ENOMEM;
	if ((rc = st->ops->shares_of_eid(st, eid, v, NOTIF_SHARES_MAX, &n)) != 0) {
		free(v);
		return rc == TS_ENOTFOUND ? TS_EDB : rc;
	}
	rc = TS_ENOTFOUND;
	/* v[0] is the newest again (or a share newer still) */
	for (size_t i = 0; i < n && rc == TS_ENOTFOUND; i++) {
		if (iccid_is_app(eid, v[i].assoc_app_id, iccid)) {
			memcpy(share_id, v[i].id, STORE_ID_MAX);
			rc = 0;
		}
	}
	free(v);
	return rc;
}

static int
check_other(store *st, X509 *ci, const es10_pending *p, node_notification *o)
{
	EVP_PKEY *pub = NULL;
	int rc = check_certificates(st, ci, p, o, &pub);
	if (rc != 0)
		return rc;
	rc = es10_pending_verify(p, pub);
	EVP_PKEY_free(pub);
	if (rc != 0)
		return refuse(o, TS_EVERIFY, ES9_EUICC_VERIFY,
		    "euiccNotificationSignature of %s's notification %llu does not verify", o->eid,
		    (unsigned long long)p->meta.seq);
	if (!p->meta.has_iccid)
		return 0; /* no profile named: nothing to settle */
	rc = share_of_command(st, o->eid, p->meta.iccid, o->share_id);
	if (rc == TS_ENOTFOUND)
		rc = share_of_eid(st, o->eid, p->meta.iccid, o->share_id);
	if (rc != 0 && rc != TS_ENOTFOUND)
		return read_failed(o, rc);
	o->has_share = rc == 0;
	return 0;
}

int
notification_check(store *st, X509 *ci, const uint8_t *der, size_t len, node_notification *o)
{
	es10_pending p;
	if (o == NULL)
		return TS_EINVAL;
	memset(o, 0, sizeof(*o));
	if (st == NULL || ci == NULL || der == NULL)
		return refuse(o, TS_EINVAL, ES9_INVALID, "no notification");
	if (es10_pending_decode(der, len, &p) != 0)
		return refuse(o, TS_EPARSE, ES9_INVALID,
		    "pendingNotification is not an SGP.22 PendingNotification");
	o->event = p.meta.event;
	o->seq = p.meta.seq;
	if (p.meta.has_iccid && es10_iccid_to_digits(p.meta.iccid, o->iccid) != 0)
		o->iccid[0] = '\0';
	if (p.kind == ES10_PENDING_INSTALL)
		return check_install(st, &p, o);
	return check_other(st, ci, &p, o);
}
