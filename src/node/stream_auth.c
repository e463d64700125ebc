/*
 * stream_auth.c — see stream_auth.h.
 */
#include "node/stream_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/eid.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define SA_INITIATED 1
#define SA_USED 9

#define refuse download_refuse /* the one refusal of download.h */

/* The token's row in tokens: device_id "companion:<EID>", user 0. */
static void
token_owner(const char *eid, char out[STORE_ID_MAX])
{
	snprintf(out, STORE_ID_MAX, "companion:%s", eid);
}

int
stream_auth_initiate(const download_svc *d, store *st, const char *peer, const char *eid_s,
    const uint8_t euicc_challenge[RSP_CHALLENGE_LEN], char out_tid[2 * RSP_TID_LEN + 1], uint8_t **s1,
    size_t *s1_len, uint8_t sig1[64], download_why *why)
{
	eid_t eid;
	*s1 = NULL;
	if (eid_s == NULL || eid_parse(eid_s, &eid) != 0)
		return refuse(why, TS_EINVAL, ES9_INVALID, "give the companion's EID (32 digits, valid check digits)");
	if (!pki_ein_allowed(d->share->ein_prefixes, &eid))
		return refuse(why, TS_EDENIED, ES9_EID_REFUSED, "EID %s has no trusted manufacturer", eid.digits);
	store_tx tx;
	memset(&tx, 0, sizeof(tx));
	es10_server_signed1 ss;
	if (download_server_signed1(d, euicc_challenge, &ss, s1, s1_len, sig1) != 0)
		goto fail;
	ts_hex_encode(ss.tid, ss.tid_len, tx.id, sizeof(tx.id));
	snprintf(tx.share_id, sizeof(tx.share_id), "stream:%.56s", peer);
	snprintf(tx.eid, sizeof(tx.eid), "%s", eid.digits);
	memcpy(tx.euicc_challenge, euicc_challenge, RSP_CHALLENGE_LEN);
	memcpy(tx.server_challenge, ss.server_challenge, RSP_CHALLENGE_LEN);
	tx.stage = SA_INITIATED;
	tx.created_at = ts_now();
	if (st->ops->tx_trim(st, tx.share_id, DOWNLOAD_TX_PER_SHARE - 1) != 0 || st->ops->tx_put(st, &tx) != 0)
		goto fail;
	snprintf(out_tid, 2 * RSP_TID_LEN + 1, "%s", tx.id);
	return 0;
fail:
	free(*s1);
	*s1 = NULL;
	return refuse(why, TS_ECRYPTO, ES9_EXEC_ERROR, "internal error while opening the session");
}

int
stream_auth_complete(const download_svc *d, store *st, const char *tid, const uint8_t *asr, size_t asr_len,
    char token[65], download_why *why)
{
	store_tx tx;
	es10_auth_server_resp a;
	es10_euicc_signed1 es1;
	EVP_PKEY *pub = NULL;
	char tid_hex[2 * ES10_TID_MAX + 1], owner[STORE_ID_MAX], th[65];
	uint8_t raw[32];
	int rc;
	rc = tid == NULL || strlen(tid) != 2 * RSP_TID_LEN ? TS_ENOTFOUND : st->ops->tx_get(st, tid, &tx);
	if (rc != 0 && rc != TS_ENOTFOUND) /* busy: no verdict on the transactionId */
		return refuse(why, rc, ES9_BUSY, "the database is busy; retry");
	if (rc != 0 || strncmp(tx.share_id, "stream:", 7) != 0)
		return refuse(why, TS_ENOTFOUND, ES9_TID_UNKNOWN, "unknown transactionId");
	if (tx.stage != SA_INITIATED)
		return refuse(why, TS_ESTATE, ES9_TID_UNKNOWN, "transaction %s was used already", tid);
	/* one attempt per session, whatever its outcome */
	tx.stage = SA_USED;
	if (st->ops->tx_put(st, &tx) != 0)
		return refuse(why, TS_EDB, ES9_EXEC_ERROR, "internal error while recording the session");
	if (es10_auth_server_resp_decode(asr, asr_len, &a, &es1) != 0)
		return refuse(why, TS_EPARSE, ES9_INVALID, "authenticateServerResponse is missing or malformed");
	if (a.error != 0)
		return refuse(why, TS_EDENIED, ES9_EUICC_REFUSED, "the secure element refused the server (error %d)", a.error);
	if ((rc = download_verify_euicc(d, &a, tx.eid, &pub, why)) != 0)
		return rc;
	if (pki_verify(pub, a.euicc_signed1.p, a.euicc_signed1.len, a.euicc_signature1) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSignature1 does not verify");
		goto done;
	}
	ts_hex_encode(es1.tid, es1.tid_len, tid_hex, sizeof(tid_hex));
	if (strcmp(tid_hex, tx.id) != 0 || ts_ct_equal(es1.server_challenge, tx.server_challenge, 16) != 0 ||
	    !es1.ctx.has_matching_id || strcmp(es1.ctx.matching_id, STREAM_AUTH_MATCHING_ID) != 0 ||
	    strcmp(es1.server_address, d->address) != 0) {
		rc = refuse(why, TS_EVERIFY, ES9_EUICC_VERIFY, "euiccSigned1 does not match this session (replay?)");
		goto done;
	}
	if (ts_random(raw, sizeof(raw)) != 0 || ts_hex_encode(raw, sizeof(raw), token, 65) != 0) {
		rc = refuse(why, TS_ECRYPTO, ES9_EXEC_ERROR, "no randomness");
		goto done;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	secret_hash(token, th);
	token_owner(tx.eid, owner);
	if (st->ops->token_add(st, th, owner, 0, ts_now() + STREAM_TOKEN_TTL_S) != 0) {
		OPENSSL_cleanse(token, 65);
		rc = refuse(why, TS_EDB, ES9_EXEC_ERROR, "internal error while storing the token");
		goto done;
	}
	log_info("companion %s proved its secure element (chain to CI, euiccSignature1): event stream token issued",
	    tx.eid);
	rc = 0;
done:
	EVP_PKEY_free(pub);
	return rc;
}

int
stream_auth_check(store *st, const char *eid, const char *bearer)
{
	char th[65], owner[STORE_ID_MAX];
	int64_t uid;
	if (bearer == NULL || strlen(bearer) != 64)
		return TS_EAUTH;
	secret_hash(bearer, th);
	token_owner(eid, owner);
	return st->ops->token_check(st, th, owner, ts_now(), &uid); /* TS_EAUTH: no such live token */
}
