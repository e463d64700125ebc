/*
 * credapplet.c — the tapshare credential applet of the software secure
 * element (commands and encodings: lib/credapplet.h). It serves what the SE
 * keeps for an app beyond its SGP.22 profile: the tapshare metadata, a
 * bank-ID app's key pair (the private half never leaves) and the provider's
 * certificate for it. Reached by SELECT of CRED_AID on any logical channel
 * (card.c); the ISD-R is not involved.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/credapplet.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "se/card_int.h"

#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_CONDITIONS 0x6985
#define SW_WRONG_DATA 0x6A80
#define SW_NO_MEMORY 0x6A84
#define SW_WRONG_P1P2 0x6A86
#define SW_REF_NOT_FOUND 0x6A88
#define SW_INS_UNSUPPORTED 0x6D00
#define SW_CLA_UNSUPPORTED 0x6E00

static void
entry_of(const se_app_rec *a, cred_entry *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->iccid, a->iccid, CRED_ICCID_LEN);
	memcpy(e->app_id, a->app_id, sizeof(e->app_id));
	memcpy(e->name, a->name[0] != '\0' ? a->name : a->app_id, sizeof(e->name));
	memcpy(e->kind, a->kind, sizeof(e->kind));
	memcpy(e->provider, a->provider, sizeof(e->provider));
	e->not_after = a->not_after;
	e->key_state = a->app_key == NULL ? CRED_KEY_NONE
	             : a->cert_der == NULL ? CRED_KEY_PENDING : CRED_KEY_CERTIFIED;
}

static int
rc_to_sw(int rc)
{
	return rc == TS_ENOMEM ? SW_NO_MEMORY : SW_WRONG_DATA;
}

/* INS 20: the app's public key, generated on first use. */
static uint16_t
generate_key(se_card *c, se_app_rec *a, uint8_t **resp, size_t *rlen)
{
	uint8_t point[PKI_PUBKEY_LEN];
	if (strcmp(a->kind, "bankid") != 0 || a->cert_der != NULL)
		return SW_CONDITIONS;
	if (a->app_key == NULL) {
		EVP_PKEY *k = NULL;
		if (pki_keygen(&k) != 0)
			return SW_NO_MEMORY;
		a->app_key = k;
		if (se_state_save(c) != 0) {
			log_error("cannot persist the key of %s", a->app_id);
			EVP_PKEY_free(k);
			a->app_key = NULL;
			return SW_NO_MEMORY;
		}
		log_info("generated the key of %s", a->app_id);
	}
	if (pki_pubkey_to_point(a->app_key, point) != 0)
		return SW_NO_MEMORY;
	int rc = cred_key_encode(a->iccid, point, resp, rlen);
	return rc == 0 ? SW_OK : (uint16_t)rc_to_sw(rc);
}

/* INS 22: stores the provider's certificate for the app's key. */
static uint16_t
store_cert(se_card *c, const uint8_t *data, size_t len)
{
	uint8_t iccid[CRED_ICCID_LEN];
	const uint8_t *cd;
	size_t cl;
	X509 *cert = NULL;
	if (cred_store_cert_decode(data, len, iccid, &cd, &cl) != 0)
		return SW_WRONG_DATA;
	se_app_rec *a = se_app_by_iccid(c, iccid, NULL);
	if (a == NULL)
		return SW_REF_NOT_FOUND;
	if (a->app_key == NULL || a->cert_der != NULL)
		return SW_CONDITIONS;
	if (pki_cert_from_der(cd, cl, &cert) != 0 || EVP_PKEY_eq(X509_get0_pubkey(cert), a->app_key) != 1) {
		X509_free(cert);
		log_warn("STORE CERTIFICATE for %s refused: not a certificate for the app's key", a->app_id);
		return SW_WRONG_DATA;
	}
	X509_free(cert);
	uint8_t *der = malloc(cl);
	if (der == NULL)
		return SW_NO_MEMORY;
	memcpy(der, cd, cl);
	a->cert_der = der;
	a->cert_der_len = cl;
	if (se_state_save(c) != 0) {
		log_error("cannot persist the certificate of %s", a->app_id);
		free(der);
		a->cert_der = NULL;
		a->cert_der_len = 0;
		return SW_NO_MEMORY;
	}
	log_info("stored the provider certificate of %s", a->app_id);
	return SW_OK;
}

int
se_cred_command(se_card *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, uint8_t **resp, size_t *rlen, uint16_t *sw)
{
	uint8_t iccid[CRED_ICCID_LEN];
	se_app_rec *a = NULL;
	int rc;
	*resp = NULL;
	*rlen = 0;
	if ((cla & 0x80) == 0) {
		*sw = SW_CLA_UNSUPPORTED;
		return 0;
	}
	if (ins != CRED_INS_LIST && ins != CRED_INS_GET && ins != CRED_INS_GENERATE_KEY &&
	    ins != CRED_INS_STORE_CERT && ins != CRED_INS_READ_CERT) {
		*sw = SW_INS_UNSUPPORTED;
		return 0;
	}
	if (p1 != 0 || p2 != 0) {
		*sw = SW_WRONG_P1P2;
		return 0;
	}
	if (ins == CRED_INS_LIST) {
		if (len != 0) {
			*sw = SW_WRONG_LENGTH;
			return 0;
		}
		cred_entry *items = calloc(c->n_apps > 0 ? c->n_apps : 1, sizeof(*items));
		if (items == NULL) {
			*sw = SW_NO_MEMORY;
			return 0;
		}
		for (size_t i = 0; i < c->n_apps; i++)
			entry_of(&c->apps[i], &items[i]);
		rc = cred_list_encode(items, c->n_apps, resp, rlen);
		free(items);
		*sw = rc == 0 ? SW_OK : (uint16_t)rc_to_sw(rc);
		return 0;
	}
	if (ins == CRED_INS_STORE_CERT) {
		*sw = store_cert(c, data, len);
		return 0;
	}
	if (cred_iccid_decode(data, len, iccid) != 0) {
		*sw = SW_WRONG_DATA;
		return 0;
	}
	if ((a = se_app_by_iccid(c, iccid, NULL)) == NULL) {
		*sw = SW_REF_NOT_FOUND;
		return 0;
	}
	switch (ins) {
	case CRED_INS_GET: {
		cred_entry e;
		entry_of(a, &e);
		rc = cred_entry_encode(&e, resp, rlen);
		*sw = rc == 0 ? SW_OK : (uint16_t)rc_to_sw(rc);
		break;
	}
	case CRED_INS_GENERATE_KEY: *sw = generate_key(c, a, resp, rlen); break;
	default: /* CRED_INS_READ_CERT */
		if (a->cert_der == NULL) {
			*sw = SW_REF_NOT_FOUND;
			break;
		}
		if ((*resp = malloc(a->cert_der_len)) == NULL) {
			*sw = SW_NO_MEMORY;
			break;
		}
		memcpy(*resp, a->cert_der, a->cert_der_len);
		*rlen = a->cert_der_len;
		*sw = SW_OK;
		break;
	}
	return 0;
}
