/*
 * smds.c — ES11 (SM-DS) for the node's own shares; see smds.h.
 */
#include "node/smds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/eid.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define SMDS_INITIATED 1
#define SMDS_USED 9
#define SMDS_TX_PREFIX "smds:"

#define refuse download_refuse /* the one refusal of download.h */

int
smds_bare_address(const char *address, char *out, size_t cap)
{
	if (address == NULL || out == NULL || cap == 0)
		return TS_EINVAL;
	const char *p = strstr(address, "://");
	p = p != NULL ? p + 3 : address;
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= cap)
		return TS_EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* The same address, whether given bare or as a URL. */
static int
same_address(const char *a, const char *b)
{
	char x[ES10_ADDR_MAX + 1], y[ES10_ADDR_MAX + 1];
	return smds_bare_address(a, x, sizeof(x)) == 0 && smds_bare_address(b, y, sizeof(y)) == 0 &&
	    strcmp(x, y) == 0;
}

int
smds_initiate(const download_svc *d, store *st, const char *peer, const char *smds_address,
    const uint8_t euicc_challenge[RSP_CHALLENGE_LEN], char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1,
    size_t *s1_len, uint8_t sig1[64], download_why *why)
{
	*s1 = NULL;
	if (smds_address != NULL && smds_address[0] != '\0' && !same_address(smds_address, d->address))
		return refuse(why, TS_EINVAL, ES9_SMDS_ADDRESS_REFUSED, "smdsAddress %s is not this SM-DS (%s)", smds_address,
		    d->address);
	store_tx tx;
	memset(&tx, 0, sizeof(tx));
	es10_server_signed1 ss;
	/* random transactionId and serverChallenge, DPauth signature (download.c) */
	if (download_server_signed1(d, euicc_challenge, &ss, s1, s1_len, sig1) != 0)
		goto fail;
	ts_hex_encode(ss.tid, ss.tid_len, tx.id, sizeof(tx.id));
	snprintf(tx.share_id, sizeof(tx.share_id), SMDS_TX_PREFIX "%.58s", peer != NULL ? peer : "?");
	memcpy(tx.euicc_challenge, euicc_challenge, RSP_CHALLENGE_LEN);
	memcpy(tx.server_challenge, ss.server_challenge, RSP_CHALLENGE_LEN);
	tx.stage = SMDS_INITIATED;
	tx.created_at = ts_now();
	/* A peer holds a bounded number of sessions however often it calls. */
	if (st->ops->tx_trim(st, tx.share_id, DOWNLOAD_TX_PER_SHARE - 1) != 0 || st->ops->tx_put(st, &tx) != 0)
		goto fail;
	snprintf(out_tid, 2 * RSP_TID_LEN + 1, "%s", tx.id);
	return 0;
fail:
	free(*s1);
	*s1 = NULL;
	return refuse(why, TS_ECRYPTO, ES9_EXEC_ERROR, "internal error while opening the session");
}

/* The one place the AuthenticateServer response is decoded (the SGP.22
 * codec of lib/es10dl.h, as ES9+ uses it). */
static int
decode_asr(const uint8_t *asr, size_t asr_len, es10_auth_server_resp *a, es10_euicc_signed1 *es1)
{
	return es10_auth_server_resp_decode(asr, asr_len, a, es1) == 0 ? 0 : TS_EPARSE;
}

/* ES11 AuthenticateClient over a session opened with prefix (SMDS_TX_PREFIX:
 * ES11's initiateAuthentication; DOWNLOAD_UNBOUND_PREFIX: ES9+'s without a
 * matchingId, smds_authenticate_es9). */
static int
authenticate_events(const download_svc *d, store *st, const char *prefix, const char *tid, const uint8_t *asr,
    size_t asr_len, char eid[33], char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n, download_why *why);

int
smds_authenticate(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    char eid[33], char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n, download_why *why)
{
	return authenticate_events(d, st, SMDS_TX_PREFIX, tid, asr, asr_len, eid, event_ids, max, n, why);
}

int
smds_authenticate_es9(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    char eid[33], char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n, download_why *why)
{
	return authenticate_events(d, st, DOWNLOAD_UNBOUND_PREFIX, tid, asr, asr_len, eid, event_ids, max, n, why);
}

int
smds_discovery_request(const uint8_t *asr, size_t asr_len)
{
	es10_auth_server_resp a;
	es10_euicc_signed1 es1;
	return decode_asr(asr, asr_len, &a, &es1) == 0 && a.error == 0 && !es1.ctx.has_matching_id;
}

static int
authenticate_events(const download_svc *d, store *st, const char *prefix, const char *tid, const uint8_t *asr,
    size_t asr_len, char eid[33], char (*event_ids)[STORE_ID_MAX], size_t max, size_t *n, download_why *why)
{
	store_tx tx;
	es10_auth_server_resp a;
	es10_euicc_signed1 es1;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;
	eid_t e;
	char tid_hex[2 * ES10_TID_MAX + 1];
	int rc;
	*n = 0;
	eid[0] = '\0';
	rc = tid == NULL || strlen(tid) != 2 * RSP_TID_LEN ? TS_ENOTFOUND : st->ops->tx_get(st, tid, &tx);
	if (rc != 0 && rc != TS_ENOTFOUND) /* busy: no verdict on the transactionId */
		return refuse(why, rc, ES9_BUSY, "the database is busy; retry");
	if (rc != 0 || strncmp(tx.share_id, prefix, strlen(prefix)) != 0)
		return refuse(why, TS_ENOTFOUND, ES9_TID_UNKNOWN, "unknown transactionId");
	if (tx.stage != SMDS_INITIATED)
		return refuse(why, TS_ESTATE, ES9_TID_UNKNOWN, "transaction %s was used already", tid);
	tx.stage = SMDS_USED; /* one attempt per session, whatever its outcome */
	if (st->ops->tx_put(st, &tx) != 0)
		return refuse(why, TS_EDB, ES9_EXEC_ERROR, "internal error while recording the session");
	memset(&es1, 0, sizeof(es1));
	if (decode_asr(asr, asr_len, &a, &es1) != 0)
		return refuse(why, TS_EPARSE, ES9_INVALID, "authenticateServerResponse is missing or malformed");
	if (a.error != 0)
		return refuse(why, TS_EDENIED, ES9_EUICC_REFUSED, "the eUICC refused the server (error %d)", a.error);
	if ((rc = download_verify_euicc(d, &a, NULL, &pub, why)) != 0)
		return rc;
	if (pki_verify(pub, a.euicc_signed1.p, a.euicc_signed1.len, a.euicc_signature1) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSignature1 does not verify");
		goto done;
	}
	ts_hex_encode(es1.tid, es1.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0 || ts_ct_equal(es1.server_challenge, tx.server_challenge, 16) != 0 ||
	    !same_address(es1.server_address, d->address)) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSigned1 does not match this session (replay?)");
		goto done;
	}
	if (pki_cert_from_der(a.euicc_cert.p, a.euicc_cert.len, &cert) != 0 || pki_cert_eid(cert, &e) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_CERT_INVALID, "eUICC certificate carries no valid EID");
		goto done;
	}
	snprintf(eid, 33, "%s", e.digits);
	if ((rc = st->ops->smds_events(st, e.digits, event_ids, max, n)) != 0) {
		/* No answer is no verdict ("no events" would be one): Busy. This
		 * session is spent (one attempt each), so the LPA starts anew. */
		rc = refuse(why, rc, ES9_BUSY, "the database is busy; start a new discovery session");
		goto done;
	}
	log_info("ES11: eUICC %s authenticated, %zu event%s", e.digits, *n, *n == 1 ? "" : "s");
	rc = 0;
done:
	X509_free(cert);
	EVP_PKEY_free(pub);
	return rc;
}
