/*
 * se_client.c — ES10-shaped calls over an se_driver (see se_client.h).
 *
 * Transport (SGP.22 §5.7, GlobalPlatform STORE DATA, ISO/IEC 7816-4): the
 * first call opens a logical channel (MANAGE CHANNEL, device/se_driver.h)
 * and selects the ISD-R on it by AID (00 A4 04 00, CLA carrying the channel),
 * falling back to the basic channel only when the card or reader cannot open
 * one. The channel stays open for the driver's life (se_driver_free closes
 * it). When the card answers the first block of a command with 6985 (ISD-R
 * not selected) or 6881 (channel not open: the card was reset, e.g. by
 * another PC/SC client), the client opens and selects again and resends once.
 * A command TLV goes out in STORE DATA blocks of at most 255 bytes (CLA 80 |
 * channel, INS E2, P1 11 / 91 last, P2 the block number modulo 256); the last
 * block carries Le 00 and the rest of the response is fetched with GET
 * RESPONSE (CLA 00 | channel) while the card says 61xx. The whole response is
 * bounded by SE_CLIENT_RESP_MAX.
 *
 * Result codes of the card (se/card.h) map to TS_E* codes:
 *   not found -> TS_ENOTFOUND, wrong state / no session -> TS_ESTATE,
 *   expired -> TS_EEXPIRED, certificate / signature / challenge / package
 *   MAC or structure -> TS_EVERIFY, already installed -> TS_EEXIST,
 *   no room -> TS_ELIMIT, anything else -> TS_EPROTO.
 */
#include "device/se_client.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "lib/bsp.h"
#include "lib/der.h"
#include "lib/pki.h"
#include "lib/log.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

#define SE_CLIENT_RESP_MAX DER_MAX_LEN
#define SE_BLOCK_MAX 255
#define RAPDU_CAP (0xFFFF + 2)

static int
sw_to_err(uint16_t sw)
{
	switch (sw) {
	case 0x6985: return TS_ESTATE;
	case 0x6A82: return TS_ENOTFOUND;
	case 0x6A84: return TS_ELIMIT;
	default: return TS_EPROTO;
	}
}

static int
xmit(se_driver *d, const uint8_t *capdu, size_t clen, uint8_t *r, size_t *rlen, uint16_t *sw)
{
	int rc = se_driver_transmit(d, capdu, clen, r, RAPDU_CAP, rlen);
	if (rc != 0)
		return rc;
	*sw = (uint16_t)(r[*rlen - 2] << 8 | r[*rlen - 1]);
	*rlen -= 2;
	return 0;
}

static int
append(uint8_t **buf, size_t *len, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > SE_CLIENT_RESP_MAX - *len)
		return TS_ELIMIT;
	uint8_t *nb = realloc(*buf, *len + n);
	if (nb == NULL)
		return TS_ENOMEM;
	memcpy(nb + *len, p, n);
	*buf = nb;
	*len += n;
	return 0;
}

/* Sends one command APDU on channel ch and collects its whole response:
 * while the card answers 61xx, GET RESPONSE (CLA of ch, C0 00 00 xx) fetches
 * the rest. *sw is the last status word; *out (caller frees, may be NULL when
 * empty) holds the data, also on a failing status word. */
static int
exchange(se_driver *d, int ch, const uint8_t *capdu, size_t clen, uint8_t *r, uint8_t **out,
    size_t *olen, uint16_t *sw)
{
	size_t got;
	*out = NULL;
	*olen = 0;
	int rc = xmit(d, capdu, clen, r, &got, sw);
	if (rc != 0)
		return rc;
	if ((rc = append(out, olen, r, got)) != 0)
		goto fail;
	while ((*sw & 0xFF00) == 0x6100) {
		uint8_t gr[5] = { se_cla(0x00, ch), 0xC0, 0x00, 0x00, (uint8_t)(*sw & 0xFF) };
		if ((rc = xmit(d, gr, sizeof(gr), r, &got, sw)) != 0)
			goto fail;
		/* A card answering 61xx without data would loop forever. */
		if (got == 0 && (*sw & 0xFF00) == 0x6100) {
			rc = TS_EPROTO;
			goto fail;
		}
		if ((rc = append(out, olen, r, got)) != 0)
			goto fail;
	}
	return 0;
fail:
	free(*out);
	*out = NULL;
	*olen = 0;
	return rc;
}

/* Selects the application aid for slot app: on channel ch when ch >= 0, else
 * on a logical channel of its own (MANAGE CHANNEL), or on the basic channel
 * when the card or reader has none. SELECT by DF name, first occurrence, FCI
 * returned (P2 00, Le 00), as an SGP.22 LPA selects the ISD-R; the FCI itself
 * is not needed. A channel opened here is closed again when SELECT fails. */
static int
select_app(se_driver *d, int app, const uint8_t *aid, size_t aidlen, int ch, uint8_t *r)
{
	int rc, opened = 0;
	uint8_t apdu[5 + 16 + 1];
	uint8_t *fci = NULL;
	size_t fcilen = 0;
	uint16_t sw = 0;
	if (aidlen < 5 || aidlen > 16)
		return TS_EINVAL;
	if (ch < 0) {
		rc = se_driver_open_channel(d, &ch);
		if (rc == TS_EUNSUPP)
			ch = 0;
		else if (rc != 0)
			return rc;
		opened = ch != 0;
	}
	apdu[0] = se_cla(0x00, ch);
	apdu[1] = 0xA4;
	apdu[2] = 0x04;
	apdu[3] = 0x00;
	apdu[4] = (uint8_t)aidlen;
	memcpy(apdu + 5, aid, aidlen);
	apdu[5 + aidlen] = 0x00;
	rc = exchange(d, ch, apdu, 6 + aidlen, r, &fci, &fcilen, &sw);
	free(fci);
	if (rc == 0 && sw != 0x9000)
		rc = sw == 0x6A82 ? TS_ENOTFOUND : sw_to_err(sw);
	if (rc != 0) {
		if (opened)
			(void)se_driver_close_channel(d, ch);
		return rc;
	}
	log_debug("secure element (%s): application selected on %s channel %d",
	    se_driver_name(d), ch == 0 ? "the basic" : "logical", ch);
	se_driver_set_app_channel(d, app, ch);
	return 0;
}

/* One chained STORE DATA sequence on channel ch. *reselect is set when the
 * card refused the first block: RESELECT_SAME when the application is not
 * selected on that channel (6985: something else was selected on it, or on
 * the basic channel the card was reset), RESELECT_NEW when the channel is not
 * open (6881: the card was reset, e.g. by another PC/SC client). */
enum { RESELECT_NO = 0, RESELECT_SAME, RESELECT_NEW };

static int
reselect_of(uint16_t sw)
{
	return sw == 0x6985 ? RESELECT_SAME : sw == 0x6881 ? RESELECT_NEW : RESELECT_NO;
}

static int
store_data_once(se_driver *d, int ch, const uint8_t *cmd, size_t len, uint8_t *r,
    uint8_t **resp, size_t *rlen, int *reselect)
{
	uint8_t apdu[5 + SE_BLOCK_MAX + 1];
	size_t off = 0, got;
	unsigned block = 0;
	if (len == 0)
		return TS_EINVAL;
	uint16_t sw = 0;
	int rc;
	*reselect = RESELECT_NO;
	for (;;) {
		size_t n = len - off > SE_BLOCK_MAX ? SE_BLOCK_MAX : len - off;
		int last = off + n == len;
		apdu[0] = se_cla(0x80, ch);
		apdu[1] = 0xE2;
		apdu[2] = last ? 0x91 : 0x11;
		apdu[3] = (uint8_t)block;
		apdu[4] = (uint8_t)n;
		memcpy(apdu + 5, cmd + off, n);
		size_t alen = 5 + n;
		if (last) {
			apdu[alen++] = 0x00; /* Le: up to 256 bytes now */
			uint8_t *out = NULL;
			size_t olen = 0;
			if ((rc = exchange(d, ch, apdu, alen, r, &out, &olen, &sw)) != 0)
				return rc;
			if (sw != 0x9000) {
				free(out);
				if (block == 0)
					*reselect = reselect_of(sw);
				return sw_to_err(sw);
			}
			*resp = out;
			*rlen = olen;
			return 0;
		}
		if ((rc = xmit(d, apdu, alen, r, &got, &sw)) != 0)
			return rc;
		if (sw != 0x9000) {
			if (block == 0)
				*reselect = reselect_of(sw);
			return sw_to_err(sw);
		}
		off += n;
		block++;
	}
}

/* Sends cmd to the application in slot app (selecting it first if needed)
 * and returns its whole response (caller frees). */
static int
app_store_data_ex(se_driver *d, int app, const uint8_t *aid, size_t aidlen, const uint8_t *cmd,
    size_t len, int allow_empty, uint8_t **resp, size_t *rlen)
{
	if (d == NULL || cmd == NULL || len == 0 || resp == NULL || rlen == NULL)
		return TS_EINVAL;
	uint8_t *r = malloc(RAPDU_CAP);
	uint8_t *out = NULL;
	size_t olen = 0;
	if (r == NULL)
		return TS_ENOMEM;
	int rc = se_driver_begin(d), reselect = RESELECT_NO, ch = se_driver_app_channel(d, app);
	if (rc != 0) {
		free(r);
		return rc;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt > 0 || ch < 0) {
			if ((rc = select_app(d, app, aid, aidlen, ch, r)) != 0)
				break;
			ch = se_driver_app_channel(d, app);
		}
		rc = store_data_once(d, ch, cmd, len, r, &out, &olen, &reselect);
		if (rc == 0 || reselect == RESELECT_NO)
			break;
		log_info("secure element (%s): the application is no longer selected on channel "
		    "%d (%s); selecting it again", se_driver_name(d), ch,
		    reselect == RESELECT_NEW ? "channel closed" : "deselected");
		se_driver_set_app_channel(d, app, -1);
		if (reselect == RESELECT_NEW) {
			se_driver_forget_channel(d, ch);
			ch = -1;
		}
	}
	se_driver_end(d);
	if (rc != 0)
		goto fail;
	der_tlv t;
	if (allow_empty && olen == 0) {
		free(out);
		out = NULL;
	} else if (der_read_one(out, olen, &t) != 0) {
		rc = TS_EPROTO;
		goto fail;
	}
	*resp = out;
	*rlen = olen;
	out = NULL;
fail:
	free(out);
	free(r);
	return rc;
}

static int
app_store_data(se_driver *d, int app, const uint8_t *aid, size_t aidlen, const uint8_t *cmd,
    size_t len, uint8_t **resp, size_t *rlen)
{
	return app_store_data_ex(d, app, aid, aidlen, cmd, len, 0, resp, rlen);
}

int
se_store_data(se_driver *d, const uint8_t *cmd, size_t len, uint8_t **resp, size_t *rlen)
{
	return app_store_data(d, SE_APP_ISDR, (const uint8_t *)SE_ISDR_AID, SE_ISDR_AID_LEN, cmd,
	    len, resp, rlen);
}

/* Sends cmd and checks the response is one TLV with tag want. Returns the
 * response (caller frees) and its value. */
static int
call(se_driver *d, const uint8_t *cmd, size_t len, uint32_t want,
    uint8_t **resp, size_t *rlen, der_tlv *val)
{
	int rc = se_store_data(d, cmd, len, resp, rlen);
	if (rc != 0)
		return rc;
	if (der_read_one(*resp, *rlen, val) != 0 || val->tag != want) {
		free(*resp);
		*resp = NULL;
		return TS_EPROTO;
	}
	return 0;
}

static int
auth_error_to_err(int code)
{
	switch (code) {
	/* AuthenticateErrorCode and DownloadErrorCode share 1..5. */
	case ES10_AUTH_INVALID_CERTIFICATE:
	case ES10_AUTH_INVALID_SIGNATURE:
	case ES10_DL_INVALID_TRANSACTION_ID:
	case ES10_AUTH_EUICC_CHALLENGE_MISMATCH:
	case ES10_AUTH_CI_PK_UNKNOWN: return TS_EVERIFY;
	case ES10_AUTH_NO_SESSION_CONTEXT: return TS_ESTATE;
	default: return TS_EPROTO;
	}
}

/* ProfileInstallationResult errorReason -> TS_E*. */
static int
pir_error_to_err(int reason)
{
	switch (reason) {
	case ES10_ERR_INVALID_SIGNATURE:
	case ES10_ERR_SCP03T_STRUCTURE:
	case ES10_ERR_SCP03T_SECURITY:
	case ES10_ERR_DATA_MISMATCH: return TS_EVERIFY;
	case ES10_ERR_INVALID_TRANSACTION_ID: return TS_ESTATE;
	case ES10_ERR_ICCID_ALREADY_EXISTS: return TS_EEXIST;
	case ES10_ERR_INSUFFICIENT_MEMORY: return TS_ELIMIT;
	case ES10_ERR_PPR_NOT_ALLOWED: return TS_EDENIED;
	default: return TS_EPROTO;
	}
}

int
se_get_eid(se_driver *d, eid_t *out)
{
	uint8_t *cmd = NULL, *resp = NULL, eid[EID_BYTES];
	size_t clen = 0, rlen = 0;
	if (out == NULL)
		return TS_EINVAL;
	int rc = es10_get_euicc_data_req_encode(&cmd, &clen);
	if (rc != 0)
		return rc;
	rc = se_store_data(d, cmd, clen, &resp, &rlen);
	free(cmd);
	if (rc != 0)
		return rc;
	rc = es10_get_euicc_data_resp_decode(resp, rlen, eid);
	free(resp);
	if (rc != 0)
		return rc == TS_ENOMEM ? rc : TS_EPROTO;
	return eid_from_bytes(eid, out);
}

int
se_get_challenge(se_driver *d, uint8_t out[16])
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen;
	der_tlv v;
	if (out == NULL)
		return TS_EINVAL;
	int rc = es10_empty_req_encode(ES10_TAG_GET_EUICC_CHALLENGE, &cmd, &clen);
	if (rc == 0)
		rc = call(d, cmd, clen, ES10_TAG_GET_EUICC_CHALLENGE, &resp, &rlen, &v);
	free(cmd);
	if (rc != 0)
		return rc;
	rc = es10_challenge_resp_decode(resp, rlen, out) == 0 ? 0 : TS_EPROTO;
	free(resp);
	return rc;
}

/* The authorityKeyIdentifier of a certificate: the CI key that issued it. */
static int
cert_aki(const uint8_t *der, size_t len, uint8_t *out, size_t *olen)
{
	X509 *x = NULL;
	if (pki_cert_from_der(der, len, &x) != 0)
		return TS_EPARSE;
	const ASN1_OCTET_STRING *k = X509_get0_authority_key_id(x);
	int rc = TS_ENOTFOUND;
	if (k != NULL && k->length > 0 && k->length <= ES10_PKID_MAX) {
		memcpy(out, k->data, (size_t)k->length);
		*olen = (size_t)k->length;
		rc = 0;
	}
	X509_free(x);
	return rc;
}

void
se_lpa_device_info(es10_device_info *d)
{
	/* A companion is no handset: no GSMA-allocated TAC (zeros), no radio
	 * access technology to declare, no IMEI. */
	memset(d, 0, sizeof(*d));
}

int
se_authenticate_server_ex(se_driver *d, const se_auth_server_args *a, uint8_t **resp, size_t *rlen)
{
	if (a == NULL || a->server_signed1 == NULL || a->sig1 == NULL || a->server_cert == NULL ||
	    a->ci_pkid == NULL || resp == NULL || rlen == NULL ||
	    (a->matching_id != NULL && strlen(a->matching_id) > ES10_MATCHING_ID_MAX))
		return TS_EINVAL;
	es10_auth_server_req q;
	memset(&q, 0, sizeof(q));
	q.server_signed1.p = a->server_signed1;
	q.server_signed1.len = a->server_signed1_len;
	memcpy(q.server_signature1, a->sig1, ES10_SIG_LEN);
	if (a->ci_pkid_len < 1 || a->ci_pkid_len > ES10_PKID_MAX)
		return TS_EINVAL;
	memcpy(q.ci_pkid, a->ci_pkid, a->ci_pkid_len);
	q.ci_pkid_len = a->ci_pkid_len;
	q.server_cert.p = a->server_cert;
	q.server_cert.len = a->server_cert_len;
	if (a->matching_id != NULL && a->matching_id[0] != '\0') {
		q.ctx.has_matching_id = 1;
		snprintf(q.ctx.matching_id, sizeof(q.ctx.matching_id), "%s", a->matching_id);
	}
	if (a->device != NULL)
		q.ctx.device = *a->device;
	else
		se_lpa_device_info(&q.ctx.device);
	uint8_t *cmd = NULL, *out = NULL;
	size_t clen = 0, olen = 0;
	der_tlv v;
	int rc = es10_auth_server_req_encode(&q, &cmd, &clen);
	if (rc != 0)
		return rc;
	if ((rc = call(d, cmd, clen, ES10_TAG_AUTHENTICATE_SERVER, &out, &olen, &v)) != 0)
		goto fail;
	es10_auth_server_resp r;
	if (es10_auth_server_resp_decode(out, olen, &r, NULL) != 0) {
		rc = TS_EPROTO;
		goto fail;
	}
	if (r.error != 0) {
		log_info("secure element: AuthenticateServer refused (authenticateErrorCode %d)", r.error);
		rc = auth_error_to_err(r.error);
		goto fail;
	}
	*resp = out;
	*rlen = olen;
	out = NULL;
fail:
	free(cmd);
	free(out);
	return rc;
}

int
se_authenticate_server(se_driver *d, const uint8_t *server_signed1, size_t s1len,
    const uint8_t sig1[64], const uint8_t *server_cert, size_t certlen,
    const char *matching_id, uint8_t **resp, size_t *rlen)
{
	uint8_t pkid[ES10_PKID_MAX];
	size_t pkid_len = 0;
	if (server_cert == NULL || cert_aki(server_cert, certlen, pkid, &pkid_len) != 0)
		return TS_EINVAL;
	se_auth_server_args a = {
		.server_signed1 = server_signed1, .server_signed1_len = s1len, .sig1 = sig1,
		.ci_pkid = pkid, .ci_pkid_len = pkid_len, .server_cert = server_cert,
		.server_cert_len = certlen, .matching_id = matching_id, .device = NULL,
	};
	return se_authenticate_server_ex(d, &a, resp, rlen);
}

int
se_prepare_download_ex(se_driver *d, const uint8_t *smdp_signed2, size_t s2len,
    const uint8_t sig2[64], const uint8_t *hash_cc, const uint8_t *smdp_cert, size_t certlen,
    uint8_t **resp, size_t *rlen)
{
	if (smdp_signed2 == NULL || sig2 == NULL || smdp_cert == NULL || resp == NULL ||
	    rlen == NULL)
		return TS_EINVAL;
	es10_prepare_download_req q;
	memset(&q, 0, sizeof(q));
	q.smdp_signed2.p = smdp_signed2;
	q.smdp_signed2.len = s2len;
	memcpy(q.smdp_signature2, sig2, ES10_SIG_LEN);
	if (hash_cc != NULL) {
		q.has_hash_cc = 1;
		memcpy(q.hash_cc, hash_cc, ES10_HASHCC_LEN);
	}
	q.smdp_cert.p = smdp_cert;
	q.smdp_cert.len = certlen;
	uint8_t *cmd = NULL, *out = NULL;
	size_t clen = 0, olen = 0;
	der_tlv v;
	int rc = es10_prepare_download_req_encode(&q, &cmd, &clen);
	if (rc != 0)
		return rc;
	if ((rc = call(d, cmd, clen, ES10_TAG_PREPARE_DOWNLOAD, &out, &olen, &v)) != 0)
		goto fail;
	es10_prepare_download_resp r;
	if (es10_prepare_download_resp_decode(out, olen, &r, NULL) != 0) {
		rc = TS_EPROTO;
		goto fail;
	}
	if (r.error != 0) {
		log_info("secure element: PrepareDownload refused (downloadErrorCode %d)", r.error);
		rc = auth_error_to_err(r.error);
		goto fail;
	}
	*resp = out;
	*rlen = olen;
	out = NULL;
fail:
	free(cmd);
	free(out);
	return rc;
}

int
se_prepare_download(se_driver *d, const uint8_t *smdp_signed2, size_t s2len,
    const uint8_t sig2[64], const uint8_t *smdp_cert, size_t certlen,
    uint8_t **resp, size_t *rlen)
{
	return se_prepare_download_ex(d, smdp_signed2, s2len, sig2, NULL, smdp_cert, certlen, resp, rlen);
}

int
se_load_package(se_driver *d, const uint8_t *bpp, size_t len, uint8_t **notif, size_t *nlen)
{
	if (bpp == NULL || notif == NULL || nlen == NULL)
		return TS_EINVAL;
	uint8_t *out = NULL;
	size_t olen = 0, ncmd = 0;
	bsp_cmd *cmds = NULL;
	/* LoadBoundProfilePackage as SGP.22 §2.5.5 has the LPA send it: one
	 * STORE DATA series per command (bsp_split); the eUICC answers 90 00
	 * without data until the end, or the PIR at the first error. */
	int rc = bsp_split(bpp, len, &cmds, &ncmd);
	if (rc != 0)
		return rc == TS_ENOMEM ? rc : TS_EPROTO;
	for (size_t i = 0; i < ncmd && out == NULL; i++) {
		rc = app_store_data_ex(d, SE_APP_ISDR, (const uint8_t *)SE_ISDR_AID, SE_ISDR_AID_LEN,
		    bpp + cmds[i].off, cmds[i].len, 1, &out, &olen);
		if (rc != 0) {
			free(cmds);
			return rc;
		}
	}
	free(cmds);
	if (out == NULL) {
		log_info("secure element: no ProfileInstallationResult after the last command of the package");
		return TS_EPROTO;
	}
	es10_pending p;
	if ((rc = es10_pending_decode(out, olen, &p)) != 0 || p.kind != ES10_PENDING_INSTALL) {
		free(out);
		return rc == TS_ENOMEM ? rc : TS_EPROTO;
	}
	if (!p.pir.success) {
		log_info("secure element: the profile was not installed (ProfileInstallationResult "
		    "errorResult: bppCommandId %d, errorReason %d)", p.pir.bpp_command_id,
		    p.pir.error_reason);
		free(out);
		return pir_error_to_err(p.pir.error_reason);
	}
	*notif = out;
	*nlen = olen;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* SGP.22 ES10 functions through lib/es10.h                                   */

/* SGP.22 result code -> TS_E* (se_client.h). */
static int
es10_result_to_err(uint32_t fn, int result)
{
	switch (result) {
	case ES10_OK: return 0;
	case 1: /* iccidOrAidNotFound, iccidNotFound, nothingToDelete, incorrectInputValues */
		return fn == ES10_TAG_PROFILE_INFO_LIST ? TS_EINVAL : TS_ENOTFOUND;
	case 2: /* profileNotInDisabledState / profileNotInEnabledState */
	case 4: /* wrongProfileReenabling */
		return TS_ESTATE;
	case 3: return TS_EDENIED; /* disallowedByPolicy */
	case 5: return fn == ES10_TAG_MEMORY_RESET || fn == ES10_TAG_ENABLE_PROFILE ||
	    fn == ES10_TAG_DISABLE_PROFILE ? TS_ESTATE : TS_EPROTO; /* catBusy */
	default: return TS_EPROTO;
	}
}

const char *
se_result_name(uint32_t fn, int result)
{
	switch (result) {
	case ES10_OK: return "ok";
	case 1:
		switch (fn) {
		case ES10_TAG_ENABLE_PROFILE:
		case ES10_TAG_DISABLE_PROFILE:
		case ES10_TAG_DELETE_PROFILE: return "iccidOrAidNotFound";
		case ES10_TAG_SET_NICKNAME: return "iccidNotFound";
		case ES10_TAG_NOTIFICATION_SENT:
		case ES10_TAG_MEMORY_RESET: return "nothingToDelete";
		case ES10_TAG_PROFILE_INFO_LIST: return "incorrectInputValues";
		case ES10_TAG_RETRIEVE_NOTIFICATIONS: return "noResultAvailable";
		default: break;
		}
		break;
	case 2:
		if (fn == ES10_TAG_ENABLE_PROFILE || fn == ES10_TAG_DELETE_PROFILE)
			return "profileNotInDisabledState";
		if (fn == ES10_TAG_DISABLE_PROFILE)
			return "profileNotInEnabledState";
		break;
	case 3:
		if (fn == ES10_TAG_ENABLE_PROFILE || fn == ES10_TAG_DISABLE_PROFILE ||
		    fn == ES10_TAG_DELETE_PROFILE)
			return "disallowedByPolicy";
		break;
	case 4:
		if (fn == ES10_TAG_ENABLE_PROFILE)
			return "wrongProfileReenabling";
		break;
	case 5:
		if (fn == ES10_TAG_ENABLE_PROFILE || fn == ES10_TAG_DISABLE_PROFILE ||
		    fn == ES10_TAG_MEMORY_RESET)
			return "catBusy";
		break;
	case ES10_UNDEFINED_ERROR: return "undefinedError";
	default: break;
	}
	return "unknown result";
}

/* Sends an encoded request and returns the response. enc_rc is the
 * encoder's result; *cmd is read only here, after the encoder (an argument
 * of this call) has run, and is consumed (freed). */
static int
send_req(se_driver *d, int enc_rc, uint8_t **cmd, const size_t *clen, uint8_t **resp, size_t *rlen)
{
	int rc = enc_rc != 0 ? enc_rc : se_store_data(d, *cmd, *clen, resp, rlen);
	free(*cmd);
	*cmd = NULL;
	return rc;
}

static int
decode_failed(uint32_t fn, int rc)
{
	log_debug("secure element: the response to %04X does not decode (%s)", (unsigned)fn,
	    ts_strerror(rc));
	return rc == TS_ENOMEM ? rc : TS_EPROTO;
}

/* A function whose response is tag { 80 result }. */
static int
result_call(se_driver *d, uint32_t fn, int enc_rc, uint8_t *cmd, size_t clen, int *result)
{
	uint8_t *resp = NULL;
	size_t rlen = 0;
	int res = SE_RESULT_NONE;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	int rc = send_req(d, enc_rc, &cmd, &clen, &resp, &rlen);
	if (rc != 0)
		return rc;
	rc = es10_result_decode(fn, resp, rlen, &res);
	free(resp);
	if (rc != 0)
		return decode_failed(fn, rc);
	if (result != NULL)
		*result = res;
	rc = es10_result_to_err(fn, res);
	if (rc != 0)
		log_debug("secure element: %04X answered %s (%d)", (unsigned)fn, se_result_name(fn, res),
		    res);
	return rc;
}

int
se_get_euicc_info1(se_driver *d, es10_euicc_info1 *out)
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen = 0;
	if (out == NULL)
		return TS_EINVAL;
	int rc = send_req(d, es10_empty_req_encode(ES10_TAG_GET_EUICC_INFO1, &cmd, &clen), &cmd,
	    &clen, &resp, &rlen);
	if (rc != 0)
		return rc;
	es10_euicc_info1 i;
	rc = es10_euicc_info1_decode(resp, rlen, &i);
	free(resp);
	if (rc != 0)
		return decode_failed(ES10_TAG_GET_EUICC_INFO1, rc);
	*out = i;
	return 0;
}

int
se_get_euicc_info2(se_driver *d, es10_euicc_info2 *out)
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen = 0;
	if (out == NULL)
		return TS_EINVAL;
	int rc = send_req(d, es10_empty_req_encode(ES10_TAG_GET_EUICC_INFO2, &cmd, &clen), &cmd,
	    &clen, &resp, &rlen);
	if (rc != 0)
		return rc;
	es10_euicc_info2 *i = malloc(sizeof(*i));
	if (i == NULL) {
		free(resp);
		return TS_ENOMEM;
	}
	rc = es10_euicc_info2_decode(resp, rlen, i);
	free(resp);
	if (rc == 0)
		*out = *i;
	free(i);
	return rc != 0 ? decode_failed(ES10_TAG_GET_EUICC_INFO2, rc) : 0;
}

int
se_get_addresses(se_driver *d, es10_configured_addresses *out)
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen = 0;
	if (out == NULL)
		return TS_EINVAL;
	int rc = send_req(d, es10_empty_req_encode(ES10_TAG_EUICC_CONFIGURED_ADDRESSES, &cmd, &clen),
	    &cmd, &clen, &resp, &rlen);
	if (rc != 0)
		return rc;
	es10_configured_addresses a;
	rc = es10_configured_addresses_decode(resp, rlen, &a);
	free(resp);
	if (rc != 0)
		return decode_failed(ES10_TAG_EUICC_CONFIGURED_ADDRESSES, rc);
	*out = a;
	return 0;
}

int
se_set_default_dp(se_driver *d, const char *address, int *result)
{
	uint8_t *cmd = NULL;
	size_t clen = 0;
	if (address == NULL)
		return TS_EINVAL;
	int rc = es10_set_default_dp_req_encode(address, &cmd, &clen);
	return result_call(d, ES10_TAG_SET_DEFAULT_DP_ADDRESS, rc, cmd, clen, result);
}

int
se_get_profiles(se_driver *d, const es10_profile_info_req *req, es10_profile_list *out,
    int *result)
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen = 0;
	es10_profile_info_req all;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	if (out == NULL)
		return TS_EINVAL;
	if (req == NULL) {
		memset(&all, 0, sizeof(all));
		req = &all;
	}
	int rc = send_req(d, es10_profile_info_req_encode(req, &cmd, &clen), &cmd, &clen, &resp,
	    &rlen);
	if (rc != 0)
		return rc;
	es10_profile_list l;
	rc = es10_profile_list_decode(resp, rlen, &l);
	free(resp);
	if (rc != 0)
		return decode_failed(ES10_TAG_PROFILE_INFO_LIST, rc);
	if (result != NULL)
		*result = l.error;
	if (l.error != 0) {
		log_debug("secure element: ProfileInfoList answered %s (%d)",
		    se_result_name(ES10_TAG_PROFILE_INFO_LIST, l.error), l.error);
		rc = es10_result_to_err(ES10_TAG_PROFILE_INFO_LIST, l.error);
		es10_profile_list_clear(&l);
		return rc;
	}
	*out = l;
	return 0;
}

static int
switch_call(se_driver *d, uint32_t fn, const es10_profile_id *id, int refresh, int *result)
{
	uint8_t *cmd = NULL;
	size_t clen = 0;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	if (id == NULL)
		return TS_EINVAL;
	int rc = es10_switch_req_encode(fn, id, refresh, &cmd, &clen);
	return result_call(d, fn, rc, cmd, clen, result);
}

int
se_enable_profile(se_driver *d, const es10_profile_id *id, int refresh, int *result)
{
	return switch_call(d, ES10_TAG_ENABLE_PROFILE, id, refresh, result);
}

int
se_disable_profile(se_driver *d, const es10_profile_id *id, int refresh, int *result)
{
	return switch_call(d, ES10_TAG_DISABLE_PROFILE, id, refresh, result);
}

int
se_delete_profile(se_driver *d, const es10_profile_id *id, int *result)
{
	uint8_t *cmd = NULL;
	size_t clen = 0;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	if (id == NULL)
		return TS_EINVAL;
	int rc = es10_delete_req_encode(id, &cmd, &clen);
	return result_call(d, ES10_TAG_DELETE_PROFILE, rc, cmd, clen, result);
}

int
se_set_nickname(se_driver *d, const uint8_t iccid[ES10_ICCID_LEN], const char *nickname,
    int *result)
{
	uint8_t *cmd = NULL;
	size_t clen = 0;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	if (iccid == NULL || nickname == NULL)
		return TS_EINVAL;
	int rc = es10_set_nickname_req_encode(iccid, nickname, &cmd, &clen);
	return result_call(d, ES10_TAG_SET_NICKNAME, rc, cmd, clen, result);
}

int
se_list_notifications(se_driver *d, uint32_t events, es10_notif_list *out)
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen = 0;
	if (out == NULL)
		return TS_EINVAL;
	int rc = send_req(d, es10_list_notif_req_encode(events != 0, events, &cmd, &clen), &cmd,
	    &clen, &resp, &rlen);
	if (rc != 0)
		return rc;
	es10_notif_list l;
	rc = es10_notif_list_decode(resp, rlen, &l);
	free(resp);
	if (rc != 0)
		return decode_failed(ES10_TAG_LIST_NOTIFICATION, rc);
	if (l.error != 0) {
		log_debug("secure element: ListNotification answered %s (%d)",
		    se_result_name(ES10_TAG_LIST_NOTIFICATION, l.error), l.error);
		es10_notif_list_clear(&l);
		return TS_EPROTO;
	}
	*out = l;
	return 0;
}

int
se_retrieve_notifications(se_driver *d, const es10_retrieve_req *req, uint8_t **raw,
    size_t *rawlen, es10_pending_list *out)
{
	uint8_t *cmd = NULL, *resp = NULL;
	size_t clen = 0, rlen = 0;
	es10_retrieve_req all;
	if (raw == NULL || rawlen == NULL || out == NULL)
		return TS_EINVAL;
	if (req == NULL) {
		memset(&all, 0, sizeof(all));
		all.by = ES10_RETRIEVE_ALL;
		req = &all;
	}
	int rc = send_req(d, es10_retrieve_req_encode(req, &cmd, &clen), &cmd, &clen, &resp, &rlen);
	if (rc != 0)
		return rc;
	es10_pending_list l;
	rc = es10_pending_list_decode(resp, rlen, &l);
	if (rc != 0) {
		free(resp);
		return decode_failed(ES10_TAG_RETRIEVE_NOTIFICATIONS, rc);
	}
	if (l.error != 0 && l.error != ES10_NO_RESULT_AVAILABLE) {
		log_debug("secure element: RetrieveNotificationsList answered %s (%d)",
		    se_result_name(ES10_TAG_RETRIEVE_NOTIFICATIONS, l.error), l.error);
		es10_pending_list_clear(&l);
		free(resp);
		return TS_EPROTO;
	}
	l.error = 0; /* noResultAvailable: nothing pending */
	*raw = resp;
	*rawlen = rlen;
	*out = l;
	return 0;
}

int
se_remove_notification(se_driver *d, uint64_t seq, int *result)
{
	uint8_t *cmd = NULL;
	size_t clen = 0;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	int rc = es10_notif_sent_req_encode(seq, &cmd, &clen);
	return result_call(d, ES10_TAG_NOTIFICATION_SENT, rc, cmd, clen, result);
}

int
se_memory_reset(se_driver *d, uint32_t options, int *result)
{
	uint8_t *cmd = NULL;
	size_t clen = 0;
	if (result != NULL)
		*result = SE_RESULT_NONE;
	int rc = es10_memory_reset_req_encode(options, &cmd, &clen);
	return result_call(d, ES10_TAG_MEMORY_RESET, rc, cmd, clen, result);
}

/* Case-insensitive equality of s with the hex of b. */
static int
hex_equal(const char *s, const uint8_t *b, size_t n)
{
	char hex[2 * ES10_AID_MAX + 1];
	if (n > ES10_AID_MAX || strlen(s) != 2 * n || ts_hex_encode(b, n, hex, sizeof(hex)) != 0)
		return 0;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (c != hex[i])
			return 0;
	}
	return 1;
}

int
se_find_profile(se_driver *d, const char *s, es10_profile_id *id, es10_profile_info *info)
{
	es10_profile_id guess;
	int have_guess = 0;
	if (s == NULL || id == NULL)
		return TS_EINVAL;
	memset(&guess, 0, sizeof(guess));
	size_t sl = strlen(s);
	if (es10_iccid_from_digits(s, guess.iccid) == 0) {
		guess.kind = ES10_ID_ICCID;
		have_guess = 1;
	} else if (sl >= 10 && sl <= 2 * ES10_AID_MAX && sl % 2 == 0) {
		char lower[2 * ES10_AID_MAX + 1];
		for (size_t i = 0; i <= sl; i++)
			lower[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
		if (ts_hex_decode(lower, guess.aid, sizeof(guess.aid), &guess.aid_len) == 0) {
			guess.kind = ES10_ID_ISDP_AID;
			have_guess = 1;
		}
	}
	int digits = sl > 0 && strspn(s, "0123456789") == sl;
	if (!have_guess && !digits)
		return TS_EINVAL;

	memset(id, 0, sizeof(*id)); /* ES10_ID_NONE */
	es10_profile_list l;
	int rc = se_get_profiles(d, NULL, &l, NULL);
	if (rc != 0)
		return rc;
	rc = TS_ENOTFOUND;
	for (size_t i = 0; i < l.n; i++) {
		const es10_profile_info *p = &l.items[i];
		char iccid[ES10_ICCID_DIGITS_MAX + 1];
		int by_iccid = (p->present & ES10_PI_ICCID) &&
		    es10_iccid_to_digits(p->iccid, iccid) == 0 && strcmp(iccid, s) == 0;
		int by_aid = (p->present & ES10_PI_ISDP_AID) && hex_equal(s, p->aid, p->aid_len);
		if (!by_iccid && !by_aid)
			continue;
		memset(id, 0, sizeof(*id));
		if (p->present & ES10_PI_ICCID) {
			id->kind = ES10_ID_ICCID;
			memcpy(id->iccid, p->iccid, ES10_ICCID_LEN);
		} else {
			id->kind = ES10_ID_ISDP_AID;
			memcpy(id->aid, p->aid, p->aid_len);
			id->aid_len = p->aid_len;
		}
		if (info != NULL)
			*info = *p;
		rc = 0;
		break;
	}
	es10_profile_list_clear(&l);
	if (rc == TS_ENOTFOUND && have_guess)
		*id = guess;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The tapshare credential applet                                             */

static int
cred_sw_to_err(uint8_t ins, uint16_t sw)
{
	switch (sw) {
	case 0x6A88: return TS_ENOTFOUND;
	case 0x6985: return TS_ESTATE;
	case 0x6A80: return ins == CRED_INS_STORE_CERT ? TS_EVERIFY : TS_EPROTO;
	default: return TS_EPROTO;
	}
}

/* One applet command (CLA 80 | channel, INS ins, P1 P2 00 00, data, Le 00;
 * extended length when data does not fit a short APDU). On a channel the
 * card closed (6881: it was reset), the applet is selected again on a new
 * one and the command resent once. *resp: caller frees (NULL when empty). */
static int
cred_call(se_driver *d, uint8_t ins, const uint8_t *data, size_t dlen, uint8_t **resp,
    size_t *rlen)
{
	uint8_t *r = malloc(RAPDU_CAP), *apdu = NULL, *out = NULL;
	size_t olen = 0;
	uint16_t sw = 0;
	int rc;
	*resp = NULL;
	*rlen = 0;
	if (r == NULL)
		return TS_ENOMEM;
	if (dlen > 0xFFFF || (apdu = malloc(7 + dlen + 2)) == NULL) {
		free(r);
		return dlen > 0xFFFF ? TS_EINVAL : TS_ENOMEM;
	}
	if ((rc = se_driver_begin(d)) != 0)
		goto done;
	for (int attempt = 0; attempt < 2; attempt++) {
		int ch = se_driver_app_channel(d, SE_APP_CRED);
		if (ch < 0) {
			if ((rc = select_app(d, SE_APP_CRED, (const uint8_t *)CRED_AID, CRED_AID_LEN, -1,
			    r)) != 0)
				break;
			ch = se_driver_app_channel(d, SE_APP_CRED);
		}
		size_t alen = 0;
		apdu[alen++] = se_cla(CRED_CLA, ch);
		apdu[alen++] = ins;
		apdu[alen++] = 0x00;
		apdu[alen++] = 0x00;
		if (dlen > 0 && dlen <= 255) {
			apdu[alen++] = (uint8_t)dlen;
			memcpy(apdu + alen, data, dlen);
			alen += dlen;
			apdu[alen++] = 0x00;
		} else if (dlen > 255) { /* extended Lc, Le 0000 */
			apdu[alen++] = 0x00;
			apdu[alen++] = (uint8_t)(dlen >> 8);
			apdu[alen++] = (uint8_t)dlen;
			memcpy(apdu + alen, data, dlen);
			alen += dlen;
			apdu[alen++] = 0x00;
			apdu[alen++] = 0x00;
		} else {
			apdu[alen++] = 0x00; /* case 2: Le only */
		}
		free(out);
		out = NULL;
		if ((rc = exchange(d, ch, apdu, alen, r, &out, &olen, &sw)) != 0)
			break;
		if (sw == 0x6881 && attempt == 0 && ch != 0) {
			log_info("secure element (%s): channel %d of the credential applet was closed; "
			    "selecting it again", se_driver_name(d), ch);
			se_driver_forget_channel(d, ch);
			continue;
		}
		rc = sw == 0x9000 ? 0 : cred_sw_to_err(ins, sw);
		if (rc != 0)
			log_debug("secure element: credential applet INS %02X answered %04X", ins, sw);
		break;
	}
	se_driver_end(d);
	if (rc == 0) {
		*resp = out;
		*rlen = olen;
		out = NULL;
	}
done:
	free(out);
	free(apdu);
	free(r);
	return rc;
}

int
se_cred_list(se_driver *d, cred_entry **items, size_t *n)
{
	uint8_t *resp = NULL;
	size_t rlen = 0;
	if (d == NULL || items == NULL || n == NULL)
		return TS_EINVAL;
	int rc = cred_call(d, CRED_INS_LIST, NULL, 0, &resp, &rlen);
	if (rc != 0)
		return rc;
	rc = cred_list_decode(resp, rlen, items, n);
	free(resp);
	return rc != 0 ? decode_failed(CRED_INS_LIST, rc) : 0;
}

/* A command whose data is 5A iccid. */
static int
cred_iccid_call(se_driver *d, uint8_t ins, const uint8_t iccid[CRED_ICCID_LEN], uint8_t **resp,
    size_t *rlen)
{
	uint8_t *data = NULL;
	size_t dlen = 0;
	if (d == NULL || iccid == NULL)
		return TS_EINVAL;
	int rc = cred_iccid_encode(iccid, &data, &dlen);
	if (rc != 0)
		return rc;
	rc = cred_call(d, ins, data, dlen, resp, rlen);
	free(data);
	return rc;
}

int
se_cred_get(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN], cred_entry *out)
{
	uint8_t *resp = NULL;
	size_t rlen = 0;
	if (out == NULL)
		return TS_EINVAL;
	int rc = cred_iccid_call(d, CRED_INS_GET, iccid, &resp, &rlen);
	if (rc != 0)
		return rc;
	cred_entry e;
	rc = cred_entry_decode(resp, rlen, &e);
	free(resp);
	if (rc != 0)
		return decode_failed(CRED_INS_GET, rc);
	if (memcmp(e.iccid, iccid, CRED_ICCID_LEN) != 0)
		return TS_EPROTO; /* an answer about another app */
	*out = e;
	return 0;
}

int
se_cred_generate_key(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN],
    uint8_t point[CRED_PUBKEY_LEN])
{
	uint8_t *resp = NULL, got[CRED_ICCID_LEN], pt[CRED_PUBKEY_LEN];
	size_t rlen = 0;
	if (point == NULL)
		return TS_EINVAL;
	int rc = cred_iccid_call(d, CRED_INS_GENERATE_KEY, iccid, &resp, &rlen);
	if (rc != 0)
		return rc;
	rc = cred_key_decode(resp, rlen, got, pt);
	free(resp);
	if (rc != 0)
		return decode_failed(CRED_INS_GENERATE_KEY, rc);
	if (memcmp(got, iccid, CRED_ICCID_LEN) != 0)
		return TS_EPROTO;
	memcpy(point, pt, CRED_PUBKEY_LEN);
	return 0;
}

int
se_cred_store_certificate(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN],
    const uint8_t *cert, size_t len)
{
	uint8_t *data = NULL, *resp = NULL;
	size_t dlen = 0, rlen = 0;
	der_tlv ct;
	if (d == NULL || iccid == NULL || cert == NULL)
		return TS_EINVAL;
	/* The certificate goes in as it is: one 30 TLV, nothing after it. */
	if (der_read_one(cert, len, &ct) != 0 || ct.tag != 0x30 || ct.hdr_len + ct.len != len)
		return TS_EINVAL;
	int rc = cred_store_cert_encode(iccid, cert, len, &data, &dlen);
	if (rc != 0)
		return rc;
	rc = cred_call(d, CRED_INS_STORE_CERT, data, dlen, &resp, &rlen);
	free(data);
	free(resp);
	return rc;
}

int
se_cred_read_certificate(se_driver *d, const uint8_t iccid[CRED_ICCID_LEN], uint8_t **cert,
    size_t *len)
{
	uint8_t *resp = NULL;
	size_t rlen = 0;
	der_tlv ct;
	if (cert == NULL || len == NULL)
		return TS_EINVAL;
	int rc = cred_iccid_call(d, CRED_INS_READ_CERT, iccid, &resp, &rlen);
	if (rc != 0)
		return rc;
	if (der_read_one(resp, rlen, &ct) != 0 || ct.tag != 0x30 || ct.hdr_len + ct.len != rlen) {
		free(resp);
		return TS_EPROTO;
	}
	*cert = resp;
	*len = rlen;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* tapshare apps: profile + credential applet entry                           */

static void
app_from(se_app *a, const cred_entry *e, const es10_profile_info *p)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->app_id, e->app_id, sizeof(a->app_id));
	memcpy(a->name, e->name, sizeof(a->name));
	memcpy(a->kind, e->kind, sizeof(a->kind));
	memcpy(a->provider, e->provider, sizeof(a->provider));
	a->not_after = e->not_after;
	a->certified = e->key_state == CRED_KEY_CERTIFIED ? 1 : e->key_state == CRED_KEY_PENDING ? 0 : -1;
	a->enabled = (p->present & ES10_PI_STATE) && p->state == ES10_STATE_ENABLED;
	if (es10_iccid_to_digits(e->iccid, a->iccid) != 0)
		a->iccid[0] = '\0';
	a->id.kind = ES10_ID_ICCID;
	memcpy(a->id.iccid, e->iccid, ES10_ICCID_LEN);
}

int
se_list_apps(se_driver *d, se_app *apps, size_t max, size_t *n)
{
	cred_entry *ce = NULL;
	size_t nce = 0;
	es10_profile_list pl;
	if (n == NULL || (apps == NULL && max > 0))
		return TS_EINVAL;
	*n = 0;
	int rc = se_get_profiles(d, NULL, &pl, NULL);
	if (rc != 0)
		return rc;
	if ((rc = se_cred_list(d, &ce, &nce)) != 0)
		goto done;
	for (size_t i = 0; i < nce; i++) {
		const es10_profile_info *p = NULL;
		for (size_t j = 0; j < pl.n && p == NULL; j++)
			if ((pl.items[j].present & ES10_PI_ICCID) &&
			    memcmp(pl.items[j].iccid, ce[i].iccid, ES10_ICCID_LEN) == 0)
				p = &pl.items[j];
		if (p == NULL)
			continue; /* metadata without a profile: not installed */
		if (*n == max) {
			rc = TS_ELIMIT;
			goto done;
		}
		app_from(&apps[(*n)++], &ce[i], p);
	}
done:
	free(ce);
	es10_profile_list_clear(&pl);
	return rc;
}

int
se_find_app(se_driver *d, const char *app_id, se_app *out)
{
	cred_entry *ce = NULL;
	size_t nce = 0;
	if (app_id == NULL || app_id[0] == '\0' || out == NULL)
		return TS_EINVAL;
	int rc = se_cred_list(d, &ce, &nce);
	if (rc != 0)
		return rc;
	size_t i;
	for (i = 0; i < nce; i++)
		if (strcmp(ce[i].app_id, app_id) == 0)
			break;
	if (i == nce) {
		free(ce);
		return TS_ENOTFOUND;
	}
	es10_profile_info_req req;
	es10_profile_list pl;
	memset(&req, 0, sizeof(req));
	req.search = ES10_SEARCH_ICCID;
	req.id.kind = ES10_ID_ICCID;
	memcpy(req.id.iccid, ce[i].iccid, ES10_ICCID_LEN);
	if ((rc = se_get_profiles(d, &req, &pl, NULL)) == 0) {
		if (pl.n == 1 && (pl.items[0].present & ES10_PI_ICCID) &&
		    memcmp(pl.items[0].iccid, ce[i].iccid, ES10_ICCID_LEN) == 0)
			app_from(out, &ce[i], &pl.items[0]);
		else
			rc = pl.n == 0 ? TS_ENOTFOUND : TS_EPROTO;
		es10_profile_list_clear(&pl);
	}
	free(ce);
	return rc;
}

int
se_enable(se_driver *d, const char *app_id)
{
	se_app a;
	int rc = se_find_app(d, app_id, &a);
	return rc != 0 ? rc : se_enable_profile(d, &a.id, 0, NULL);
}

int
se_disable(se_driver *d, const char *app_id)
{
	se_app a;
	int rc = se_find_app(d, app_id, &a);
	return rc != 0 ? rc : se_disable_profile(d, &a.id, 0, NULL);
}

/* The newest pending notification for event on the profile iccid, retrieved
 * (whole PendingNotification, caller frees). TS_ENOTFOUND when none. */
static int
take_notification(se_driver *d, uint32_t event, const uint8_t iccid[ES10_ICCID_LEN],
    uint8_t **notif, size_t *nlen)
{
	es10_notif_list nl;
	int rc = se_list_notifications(d, event, &nl);
	if (rc != 0)
		return rc;
	int found = 0;
	uint64_t seq = 0;
	for (size_t i = 0; i < nl.n; i++)
		if (nl.items[i].event == event && nl.items[i].has_iccid &&
		    memcmp(nl.items[i].iccid, iccid, ES10_ICCID_LEN) == 0 &&
		    (!found || nl.items[i].seq > seq)) {
			seq = nl.items[i].seq;
			found = 1;
		}
	es10_notif_list_clear(&nl);
	if (!found)
		return TS_ENOTFOUND;
	es10_retrieve_req rq = { .by = ES10_RETRIEVE_SEQ, .seq = seq };
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	es10_pending_list pl;
	if ((rc = se_retrieve_notifications(d, &rq, &raw, &rawlen, &pl)) != 0)
		return rc;
	rc = TS_ENOTFOUND;
	for (size_t i = 0; i < pl.n; i++) {
		if (pl.items[i].meta.seq != seq)
			continue;
		if ((*notif = malloc(pl.items[i].der_len)) == NULL) {
			rc = TS_ENOMEM;
			break;
		}
		memcpy(*notif, pl.items[i].der, pl.items[i].der_len);
		*nlen = pl.items[i].der_len;
		rc = 0;
		break;
	}
	es10_pending_list_clear(&pl);
	free(raw);
	return rc;
}

int
se_delete(se_driver *d, const char *app_id, uint8_t **notif, size_t *nlen)
{
	se_app a;
	int res = SE_RESULT_NONE;
	if (notif != NULL && nlen == NULL)
		return TS_EINVAL;
	int rc = se_find_app(d, app_id, &a);
	if (rc != 0)
		return rc;
	/* SGP.22: only a disabled profile may be deleted. */
	if (a.enabled && (rc = se_disable_profile(d, &a.id, 0, &res)) != 0 &&
	    !(rc == TS_ESTATE && res == ES10_PROFILE_NOT_IN_ENABLED_STATE))
		return rc;
	if ((rc = se_delete_profile(d, &a.id, NULL)) != 0)
		return rc;
	if (notif == NULL)
		return 0;
	return take_notification(d, ES10_EVENT_DELETE, a.id.iccid, notif, nlen);
}

int
se_store_certificate(se_driver *d, const char *app_id, const uint8_t *cert, size_t len,
    uint8_t **notif, size_t *nlen)
{
	se_app a;
	if (cert == NULL || (notif != NULL && nlen == NULL))
		return TS_EINVAL;
	int rc = se_find_app(d, app_id, &a);
	if (rc != 0)
		return rc;
	if ((rc = se_cred_store_certificate(d, a.id.iccid, cert, len)) != 0)
		return rc;
	if ((rc = se_enable_profile(d, &a.id, 0, NULL)) != 0)
		return rc;
	if (notif == NULL)
		return 0;
	return take_notification(d, ES10_EVENT_ENABLE, a.id.iccid, notif, nlen);
}

int
se_pending_notifications(se_driver *d, uint8_t ***notifs, size_t **lens, size_t *n)
{
	uint8_t *raw = NULL, **arr = NULL;
	size_t rawlen = 0, *larr = NULL, cnt = 0;
	es10_pending_list pl;
	if (notifs == NULL || lens == NULL || n == NULL)
		return TS_EINVAL;
	int rc = se_retrieve_notifications(d, NULL, &raw, &rawlen, &pl);
	if (rc != 0)
		return rc;
	if (pl.n > 0 && ((arr = calloc(pl.n, sizeof(*arr))) == NULL ||
	    (larr = calloc(pl.n, sizeof(*larr))) == NULL)) {
		rc = TS_ENOMEM;
		goto fail;
	}
	for (; cnt < pl.n; cnt++) {
		if ((arr[cnt] = malloc(pl.items[cnt].der_len)) == NULL) {
			rc = TS_ENOMEM;
			goto fail;
		}
		memcpy(arr[cnt], pl.items[cnt].der, pl.items[cnt].der_len);
		larr[cnt] = pl.items[cnt].der_len;
	}
	*notifs = arr;
	*lens = larr;
	*n = cnt;
	arr = NULL;
	larr = NULL;
	cnt = 0;
fail:
	for (size_t i = 0; i < cnt; i++)
		free(arr[i]);
	free(arr);
	free(larr);
	es10_pending_list_clear(&pl);
	free(raw);
	return rc;
}

int
se_drop_notifications(se_driver *d, const uint8_t iccid[ES10_ICCID_LEN], size_t *n)
{
	es10_notif_list nl;
	if (iccid == NULL || n == NULL)
		return TS_EINVAL;
	*n = 0;
	int rc = se_list_notifications(d, 0, &nl);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < nl.n && rc == 0; i++) {
		if (!nl.items[i].has_iccid || memcmp(nl.items[i].iccid, iccid, ES10_ICCID_LEN) != 0)
			continue;
		if ((rc = se_remove_notification(d, nl.items[i].seq, NULL)) == 0)
			(*n)++;
	}
	es10_notif_list_clear(&nl);
	return rc;
}

int
se_notification_sent(se_driver *d, uint64_t seq)
{
	return se_remove_notification(d, seq, NULL);
}
