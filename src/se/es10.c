/*
 * es10.c — the ISD-R of the software secure element: every ES10 function of
 * SGP.22 part 1 (layouts and result codes: lib/es10.h, the one ES10 codec)
 * plus the download functions (lib/es10dl.h; the bound package lib/bsp.h). Each function receives a complete command TLV (assembled from
 * STORE DATA blocks by card.c) and builds a response TLV. A command that is
 * not well-formed gets SW 6A80; a well-formed one that cannot be done gets
 * the SGP.22 result code inside its response.
 *
 * Functions (SGP.22 v2.x §5.7):
 *   BF3E GetEuiccData, BF20 GetEuiccInfo1, BF22 GetEuiccInfo2,
 *   BF3C EuiccConfiguredAddresses, BF3F SetDefaultDpAddress, BF43 GetRAT
 *   (an empty table: no profile policy rule is allowed), BF2D
 *   ProfileInfoList (search criteria, tag list), BF31/BF32 Enable/Disable,
 *   BF33 Delete, BF29 SetNickname, BF28 ListNotification, BF2B
 *   RetrieveNotificationsList, BF30 NotificationSent, BF34 eUICCMemoryReset;
 *   BF2E GetEuiccChallenge, BF38 AuthenticateServer, BF21 PrepareDownload,
 *   BF36 LoadBoundProfilePackage, command by command (its commands are not
 *   whole TLVs: BF36's tag and length with BF23, A0..A3 headers, 87 / 88 /
 *   86 segments; see "LoadBoundProfilePackage" below), answered with a
 *   ProfileInstallationResult.
 *
 * Profiles: every installed app is a profile of class operational with an
 * ICCID (es10_iccid_for_app), an ISD-P AID, serviceProviderName = provider
 * and profileName = name (cut to their SGP.22 sizes at a UTF-8 boundary),
 * and a notificationConfigurationInfo naming all four events at the SM-DP+
 * address of its download (tapshare's SM-DP+, the node, asks for all of
 * them). Several profiles may be enabled at once: tapshare's apps are
 * credentials side by side, not alternative subscriptions, so Enable does not
 * disable the others (a deviation from SGP.22's single enabled profile).
 *
 * Result codes the ISD-R chooses (beyond the obvious not found / wrong state):
 *   - Enable of an app past its not_after, or of a bank-ID app whose key is
 *     not certified yet: disallowedByPolicy (3).
 *   - Enable, Disable and eUICCMemoryReset while a download is between
 *     PrepareDownload and its package: catBusy (5) — the ISD-R is busy.
 *   - Delete of an enabled profile: profileNotInDisabledState (2); the LPA
 *     disables first.
 *
 * Notifications: enable, disable and delete produce an OtherSignedNotification
 * (tbsOtherNotification = the BF2F NotificationMetadata, signed by the eUICC
 * key over exactly those bytes, with the eUICC and EUM certificates); an
 * install (or a refused package, when a download session existed) produces a
 * ProfileInstallationResult signed over its BF27. Sequence numbers count up
 * from 1 across all of them and are never reused. They stay pending until
 * NotificationSent; if SE_MAX_PENDING are unacknowledged the oldest is
 * dropped (logged). eUICCMemoryReset produces the delete notifications of the
 * profiles it deletes.
 *
 * smdpOid: the registeredID of the DPpb certificate's subjectAltName; a
 * certificate without one (tapshare's test PKI) gets TS_SMDP_OID_FALLBACK,
 * the UUID OID 2.25.147690574018280209739247297496349449012 (X.667).
 *
 * Session rules: the challenge is consumed by the next AuthenticateServer
 * whatever its outcome; a failed PrepareDownload or package drops the
 * session; the one-time key exists only between PrepareDownload and the
 * package (or a reset) and is freed (OpenSSL clears EC private keys) at once.
 *
 * Bank-ID apps (metadata kind "bankid"): installing one generates a P-256 key
 * pair for the app, kept in the state (the credential applet, credapplet.c,
 * returns its public half and stores the provider's certificate for it); the
 * app is installed DISABLED and can be enabled only once certified.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/der.h"
#include "lib/es10.h"
#include "lib/es10dl.h"
#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card_int.h"

#define SW_WRONG_DATA 0x6A80
#define SW_NO_MEMORY 0x6A84
#define SW_CONDITIONS 0x6985

static const uint8_t TS_SMDP_OID_FALLBACK[] = { 0x69, 0x81, 0xDE, 0x9C, 0x95, 0xDF, 0xD3, 0xA4,
	0xEA, 0xB0, 0xFD, 0x8B, 0xAF, 0xCB, 0xAF, 0xA1, 0xF0, 0xB2, 0xB6, 0x34 };

static void
session_drop(se_card *c)
{
	EVP_PKEY_free(c->server_pub);
	EVP_PKEY_free(c->smdp_pub);
	EVP_PKEY_free(c->otsk); /* EC private scalars are cleared on free */
	c->server_pub = c->smdp_pub = c->otsk = NULL;
	OPENSSL_cleanse(c->tid, sizeof(c->tid));
	OPENSSL_cleanse(c->euicc_sig1, sizeof(c->euicc_sig1));
	c->sess = SE_SESS_NONE;
	c->server_address[0] = '\0';
	c->smdp_oid_len = 0;
}

static void load_interrupt(se_card *c);

void
se_es10_reset(se_card *c)
{
	load_interrupt(c);
	session_drop(c);
	OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
	c->have_challenge = 0;
}

/* ---- small helpers ---- */


/* Copies s into dst (max bytes + NUL), cut at a UTF-8 character boundary;
 * a string that is not UTF-8 (app metadata is not checked for it) has its
 * non-ASCII bytes replaced by '?', so the UTF8String it becomes is valid. */
static void
utf8_cut(char *dst, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	if (!es10_utf8_valid((const uint8_t *)dst, n)) {
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)dst[i] >= 0x80)
				dst[i] = '?';
	}
}

static se_app_rec *
app_find(se_card *c, const char *app_id, size_t *idx)
{
	for (size_t i = 0; i < c->n_apps; i++) {
		if (strcmp(c->apps[i].app_id, app_id) == 0) {
			if (idx != NULL)
				*idx = i;
			return &c->apps[i];
		}
	}
	return NULL;
}

se_app_rec *
se_app_by_iccid(se_card *c, const uint8_t iccid[ES10_ICCID_LEN], size_t *idx)
{
	for (size_t i = 0; i < c->n_apps; i++) {
		if (memcmp(c->apps[i].iccid, iccid, ES10_ICCID_LEN) == 0) {
			if (idx != NULL)
				*idx = i;
			return &c->apps[i];
		}
	}
	return NULL;
}

static se_app_rec *
app_by_id(se_card *c, const es10_profile_id *id, size_t *idx)
{
	if (id->kind == ES10_ID_ICCID)
		return se_app_by_iccid(c, id->iccid, idx);
	for (size_t i = 0; i < c->n_apps; i++) {
		if (id->aid_len == SE_ISDR_AID_LEN && memcmp(c->apps[i].aid, id->aid, id->aid_len) == 0) {
			if (idx != NULL)
				*idx = i;
			return &c->apps[i];
		}
	}
	return NULL;
}

int
se_app_identity(const se_card *c, se_app_rec *a)
{
	char digits[ES10_ICCID_DIGITS_MAX + 1];
	int rc = es10_iccid_for_app(&c->eid, a->app_id, digits);
	if (rc != 0 || (rc = es10_iccid_from_digits(digits, a->iccid)) != 0)
		return rc;
	for (size_t i = 0; i < c->n_apps; i++) {
		if (&c->apps[i] != a && memcmp(c->apps[i].iccid, a->iccid, ES10_ICCID_LEN) == 0)
			return TS_EEXIST;
	}
	for (unsigned slot = 0; slot < SE_MAX_APPS; slot++) {
		uint8_t aid[SE_ISDR_AID_LEN];
		memcpy(aid, SE_ISDP_AID_PREFIX, SE_ISDP_AID_PREFIX_LEN);
		aid[14] = (uint8_t)(0x10 + slot);
		aid[15] = 0x00;
		int used = 0;
		for (size_t i = 0; i < c->n_apps && !used; i++)
			used = &c->apps[i] != a && memcmp(c->apps[i].aid, aid, sizeof(aid)) == 0;
		if (!used) {
			memcpy(a->aid, aid, sizeof(aid));
			return 0;
		}
	}
	return TS_ELIMIT;
}

static int
expired(int64_t not_after)
{
	return not_after != 0 && ts_now() >= not_after;
}

/* A download is under way between PrepareDownload and its package. */
static int
cat_busy(const se_card *c)
{
	return c->sess == SE_SESS_PREPARED;
}

/* ---- notifications ---- */

void
se_pending_clear(se_pending *p)
{
	free(p->der);
	memset(p, 0, sizeof(*p));
}

/* The OtherSignedNotification of an enable / disable / delete of a, with the
 * next sequence number (not committed). */
static int
notif_other(se_card *c, uint32_t event, const se_app_rec *a, se_pending *p)
{
	es10_notif_metadata m;
	memset(&m, 0, sizeof(m));
	memset(p, 0, sizeof(*p));
	m.seq = c->notif_seq + 1;
	m.event = event;
	memcpy(m.address, a->notif_address, sizeof(m.address));
	m.has_iccid = 1;
	memcpy(m.iccid, a->iccid, ES10_ICCID_LEN);
	int rc = es10_other_notif_sign(&m, c->euicc_key, c->euicc_cert_der, c->euicc_cert_der_len,
	    c->eum_cert_der, c->eum_cert_der_len, &p->der, &p->len);
	if (rc != 0)
		return rc;
	p->seq = m.seq;
	p->event = event;
	return 0;
}

/* Appends p (taking its buffers); drops the oldest when full. *dropped
 * receives the dropped entry (owned by the caller, der NULL if none). */
static void
pending_push(se_card *c, se_pending *p, se_pending *dropped)
{
	memset(dropped, 0, sizeof(*dropped));
	if (c->n_pending == SE_MAX_PENDING) {
		*dropped = c->pending[0];
		memmove(&c->pending[0], &c->pending[1], (SE_MAX_PENDING - 1) * sizeof(se_pending));
		c->n_pending--;
		log_warn("notification list full: dropped unacknowledged notification %llu",
		    (unsigned long long)dropped->seq);
	}
	c->pending[c->n_pending++] = *p;
	c->notif_seq = p->seq;
	memset(p, 0, sizeof(*p));
}

/* Undoes the last pending_push. */
static void
pending_pop(se_card *c, se_pending *dropped)
{
	c->n_pending--;
	se_pending_clear(&c->pending[c->n_pending]);
	c->notif_seq--;
	if (dropped->der != NULL) {
		memmove(&c->pending[1], &c->pending[0], c->n_pending * sizeof(se_pending));
		c->pending[0] = *dropped;
		c->n_pending++;
		memset(dropped, 0, sizeof(*dropped));
	}
}

/* Commits a state change that produced notification p: pushes it and saves
 * the state; on failure everything but the caller's own change is undone
 * and the caller must undo that. */
static int
commit_with(se_card *c, se_pending *p)
{
	se_pending dropped;
	pending_push(c, p, &dropped);
	int rc = se_state_save(c);
	if (rc != 0) {
		log_error("cannot persist the state: %s", ts_strerror(rc));
		pending_pop(c, &dropped);
		return rc;
	}
	se_pending_clear(&dropped);
	return 0;
}

/* ---- GetEuiccData, GetEuiccInfo1/2, addresses, RAT ---- */

static int
get_euicc_data(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int rc = es10_get_euicc_data_req_decode(cmd, len);
	if (rc != 0)
		return rc;
	uint8_t eb[EID_BYTES];
	eid_to_bytes(&c->eid, eb);
	return es10_get_euicc_data_resp_encode(eb, out, olen);
}

static void
ci_pkids(const se_card *c, es10_pkid_list *l)
{
	memset(l, 0, sizeof(*l));
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(c->ci_cert);
	if (ski != NULL && ski->length > 0 && ski->length <= ES10_PKID_MAX) {
		memcpy(l->id[0], ski->data, (size_t)ski->length);
		l->len[0] = (size_t)ski->length;
		l->n = 1;
	}
}

static const uint8_t se_svn[ES10_VERSION_LEN] = { 2, 2, 2 };

static int
get_euicc_info1(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int rc = es10_empty_req_decode(ES10_TAG_GET_EUICC_INFO1, cmd, len);
	if (rc != 0)
		return rc;
	es10_euicc_info1 i;
	memset(&i, 0, sizeof(i));
	memcpy(i.svn, se_svn, sizeof(se_svn));
	ci_pkids(c, &i.ci_verify);
	i.ci_sign = i.ci_verify;
	return es10_euicc_info1_encode(&i, out, olen);
}

/* What tapshare-se is, stated truthfully: SGP.22 2.2.2, firmware 0.1.0, no
 * UICC capability (it runs no telecom NAA), GlobalPlatform 2.3 commands,
 * additionalProfile while a slot is free, category other, no protection
 * profile certification, no SAS accreditation. extCardResource as ETSI TS
 * 102 226 §8.2.1.3.2: 81 installed applications, 82 free non-volatile
 * memory, 83 free volatile memory (bytes, as our limits give them). */
static int
euicc_info2_der(const se_card *c, uint8_t **out, size_t *olen)
{
	es10_euicc_info2 i;
	memset(&i, 0, sizeof(i));
	static const uint8_t pv[3] = { 2, 3, 1 }, fw[3] = { 0, 1, 0 }, gp[3] = { 2, 3, 0 };
	memcpy(i.profile_version, pv, 3);
	memcpy(i.svn, se_svn, 3);
	memcpy(i.firmware_version, fw, 3);
	uint32_t free_nv = (uint32_t)((SE_MAX_APPS - c->n_apps) * (uint64_t)BSP_MAX_PACKAGE > UINT32_MAX
	    ? UINT32_MAX : (SE_MAX_APPS - c->n_apps) * (uint64_t)BSP_MAX_PACKAGE);
	uint32_t free_ram = SE_RESP_MAX;
	uint8_t *e = i.ext_card_resource;
	e[0] = 0x81; e[1] = 0x01; e[2] = (uint8_t)c->n_apps;
	e[3] = 0x82; e[4] = 0x04;
	e[5] = (uint8_t)(free_nv >> 24); e[6] = (uint8_t)(free_nv >> 16); e[7] = (uint8_t)(free_nv >> 8); e[8] = (uint8_t)free_nv;
	e[9] = 0x83; e[10] = 0x04;
	e[11] = (uint8_t)(free_ram >> 24); e[12] = (uint8_t)(free_ram >> 16); e[13] = (uint8_t)(free_ram >> 8); e[14] = (uint8_t)free_ram;
	i.ext_card_resource_len = 15;
	i.uicc_capability = 0;
	i.has_gp_version = 1;
	memcpy(i.gp_version, gp, 3);
	i.rsp_capability = c->n_apps < SE_MAX_APPS ? ES10_RSPCAP_ADDITIONAL_PROFILE : 0;
	ci_pkids(c, &i.ci_verify);
	i.ci_sign = i.ci_verify;
	i.has_category = 1;
	i.category = ES10_CATEGORY_OTHER;
	/* pp_version 0.0.0, sas_accreditation "": none */
	return es10_euicc_info2_encode(&i, out, olen);
}

static int
get_euicc_info2(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int rc = es10_empty_req_decode(ES10_TAG_GET_EUICC_INFO2, cmd, len);
	if (rc != 0)
		return rc;
	return euicc_info2_der(c, out, olen);
}

static int
configured_addresses(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int rc = es10_empty_req_decode(ES10_TAG_EUICC_CONFIGURED_ADDRESSES, cmd, len);
	if (rc != 0)
		return rc;
	es10_configured_addresses a;
	memset(&a, 0, sizeof(a));
	a.has_default_dp = c->has_default_dp;
	memcpy(a.default_dp, c->default_dp, sizeof(a.default_dp));
	memcpy(a.root_ds, c->root_ds, sizeof(a.root_ds));
	return es10_configured_addresses_encode(&a, out, olen);
}

/* An empty address removes the default (SGP.22 §5.7.4). */
static int
set_default_dp(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	char addr[ES10_ADDR_MAX + 1];
	int rc = es10_set_default_dp_req_decode(cmd, len, addr);
	if (rc != 0)
		return rc;
	int had = c->has_default_dp;
	char old[ES10_ADDR_MAX + 1];
	memcpy(old, c->default_dp, sizeof(old));
	c->has_default_dp = addr[0] != '\0';
	memcpy(c->default_dp, addr, sizeof(addr));
	int result = ES10_OK;
	if ((rc = se_state_save(c)) != 0) {
		log_error("cannot persist the default SM-DP+ address: %s", ts_strerror(rc));
		c->has_default_dp = had;
		memcpy(c->default_dp, old, sizeof(old));
		result = ES10_UNDEFINED_ERROR;
	}
	return es10_result_encode(ES10_TAG_SET_DEFAULT_DP_ADDRESS, result, out, olen);
}

static int
get_rat(const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int rc = es10_empty_req_decode(ES10_TAG_GET_RAT, cmd, len);
	if (rc != 0)
		return rc;
	es10_rat r;
	memset(&r, 0, sizeof(r));
	return es10_rat_encode(&r, out, olen);
}

/* ---- ProfileInfoList ---- */

static void
profile_info_of(const se_app_rec *a, unsigned mask, es10_profile_info *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->iccid, a->iccid, ES10_ICCID_LEN);
	memcpy(p->aid, a->aid, SE_ISDR_AID_LEN);
	p->aid_len = SE_ISDR_AID_LEN;
	p->state = a->enabled ? ES10_STATE_ENABLED : ES10_STATE_DISABLED;
	memcpy(p->nickname, a->nickname, sizeof(p->nickname));
	utf8_cut(p->spn, a->provider, ES10_SPN_MAX);
	utf8_cut(p->name, a->name, ES10_PNAME_MAX);
	p->profile_class = ES10_CLASS_OPERATIONAL;
	unsigned present = ES10_PI_ICCID | ES10_PI_ISDP_AID | ES10_PI_STATE | ES10_PI_SPN | ES10_PI_NAME |
	    ES10_PI_CLASS;
	if (a->nickname[0] != '\0')
		present |= ES10_PI_NICKNAME;
	if (a->notif_address[0] != '\0') {
		present |= ES10_PI_NOTIF_CFG;
		p->n_notif_cfg = 1;
		p->notif_cfg[0].events = ES10_EVENT_INSTALL | ES10_EVENT_ENABLE | ES10_EVENT_DISABLE |
		    ES10_EVENT_DELETE;
		memcpy(p->notif_cfg[0].address, a->notif_address, sizeof(p->notif_cfg[0].address));
	}
	p->present = present & mask;
}

static int
profile_list(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	es10_profile_info_req r;
	int rc = es10_profile_info_req_decode(cmd, len, &r);
	if (rc != 0)
		return rc;
	unsigned mask = ES10_PI_ALL;
	if (r.has_tag_list && (rc = es10_tag_list_mask(r.tag_list, r.tag_list_len, &mask)) != 0)
		return rc;
	es10_profile_info *items = calloc(c->n_apps > 0 ? c->n_apps : 1, sizeof(*items));
	if (items == NULL)
		return TS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < c->n_apps; i++) {
		const se_app_rec *a = &c->apps[i];
		if ((r.search == ES10_SEARCH_ICCID || r.search == ES10_SEARCH_ISDP_AID) &&
		    app_by_id(c, &r.id, NULL) != a)
			continue;
		if (r.search == ES10_SEARCH_CLASS && r.profile_class != ES10_CLASS_OPERATIONAL)
			continue;
		profile_info_of(a, mask, &items[n++]);
	}
	rc = es10_profile_list_encode(items, n, out, olen);
	free(items);
	return rc;
}

/* ---- Enable / Disable / Delete / SetNickname ---- */

/* Enables or disables a (already found); returns an SGP.22 result. The
 * notification is pending when it returns ES10_OK. */
static int
switch_app(se_card *c, se_app_rec *a, int enable)
{
	se_pending p;
	if (a->enabled == enable)
		return ES10_PROFILE_NOT_IN_DISABLED_STATE; /* = NOT_IN_ENABLED_STATE */
	if (cat_busy(c))
		return ES10_CAT_BUSY;
	if (enable && (expired(a->not_after) || (a->app_key != NULL && a->cert_der == NULL)))
		return ES10_DISALLOWED_BY_POLICY;
	if (notif_other(c, enable ? ES10_EVENT_ENABLE : ES10_EVENT_DISABLE, a, &p) != 0)
		return ES10_UNDEFINED_ERROR;
	a->enabled = enable;
	if (commit_with(c, &p) != 0) {
		a->enabled = !enable;
		se_pending_clear(&p);
		return ES10_UNDEFINED_ERROR;
	}
	log_info("%s %s", enable ? "enabled" : "disabled", a->app_id);
	return ES10_OK;
}

static int
enable_disable(se_card *c, uint32_t tag, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	es10_profile_id id;
	int refresh;
	int rc = es10_switch_req_decode(tag, cmd, len, &id, &refresh);
	if (rc != 0)
		return rc;
	/* refreshFlag: there is no modem session to REFRESH; accepted. */
	se_app_rec *a = app_by_id(c, &id, NULL);
	int result = a == NULL ? ES10_ICCID_OR_AID_NOT_FOUND : switch_app(c, a, tag == ES10_TAG_ENABLE_PROFILE);
	return es10_result_encode(tag, result, out, olen);
}

/* Removes apps[idx] with its notification p pending. */
static int
remove_app(se_card *c, size_t idx, se_pending *p)
{
	se_app_rec removed = c->apps[idx];
	memmove(&c->apps[idx], &c->apps[idx + 1], (c->n_apps - idx - 1) * sizeof(se_app_rec));
	c->n_apps--;
	int rc = commit_with(c, p);
	if (rc != 0) {
		memmove(&c->apps[idx + 1], &c->apps[idx], (c->n_apps - idx) * sizeof(se_app_rec));
		c->apps[idx] = removed;
		c->n_apps++;
		return rc;
	}
	log_info("deleted %s", removed.app_id);
	se_app_rec_clear(&removed);
	return 0;
}

static int
delete_profile(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	es10_profile_id id;
	se_pending p;
	size_t idx = 0;
	int rc = es10_delete_req_decode(cmd, len, &id);
	if (rc != 0)
		return rc;
	int result = ES10_OK;
	se_app_rec *a = app_by_id(c, &id, &idx);
	if (a == NULL)
		result = ES10_ICCID_OR_AID_NOT_FOUND;
	else if (a->enabled)
		result = ES10_PROFILE_NOT_IN_DISABLED_STATE;
	else if (notif_other(c, ES10_EVENT_DELETE, a, &p) != 0)
		result = ES10_UNDEFINED_ERROR;
	else if (remove_app(c, idx, &p) != 0) {
		se_pending_clear(&p);
		result = ES10_UNDEFINED_ERROR;
	}
	return es10_result_encode(ES10_TAG_DELETE_PROFILE, result, out, olen);
}

static int
set_nickname(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	uint8_t iccid[ES10_ICCID_LEN];
	char nick[ES10_NICKNAME_MAX + 1];
	int rc = es10_set_nickname_req_decode(cmd, len, iccid, nick);
	if (rc != 0)
		return rc;
	int result = ES10_OK;
	se_app_rec *a = se_app_by_iccid(c, iccid, NULL);
	if (a == NULL) {
		result = ES10_ICCID_NOT_FOUND;
	} else {
		char old[ES10_NICKNAME_MAX + 1];
		memcpy(old, a->nickname, sizeof(old));
		memcpy(a->nickname, nick, sizeof(nick));
		if ((rc = se_state_save(c)) != 0) {
			log_error("cannot persist the nickname: %s", ts_strerror(rc));
			memcpy(a->nickname, old, sizeof(old));
			result = ES10_UNDEFINED_ERROR;
		}
	}
	return es10_result_encode(ES10_TAG_SET_NICKNAME, result, out, olen);
}

/* ---- notification lists ---- */

static int
list_notification(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int has_filter;
	uint32_t events;
	int rc = es10_list_notif_req_decode(cmd, len, &has_filter, &events);
	if (rc != 0)
		return rc;
	es10_notif_metadata *items = calloc(c->n_pending > 0 ? c->n_pending : 1, sizeof(*items));
	if (items == NULL)
		return TS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < c->n_pending; i++) {
		es10_pending p;
		if (has_filter && !(c->pending[i].event & events))
			continue;
		if (es10_pending_decode(c->pending[i].der, c->pending[i].len, &p) != 0) {
			free(items);
			return es10_list_error_encode(ES10_TAG_LIST_NOTIFICATION, ES10_UNDEFINED_ERROR, out, olen);
		}
		items[n++] = p.meta;
	}
	rc = es10_notif_list_encode(items, n, out, olen);
	free(items);
	return rc;
}

static int
retrieve_notifications(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	es10_retrieve_req r;
	int rc = es10_retrieve_req_decode(cmd, len, &r);
	if (rc != 0)
		return rc;
	es10_blob *items = calloc(c->n_pending > 0 ? c->n_pending : 1, sizeof(*items));
	if (items == NULL)
		return TS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < c->n_pending; i++) {
		const se_pending *p = &c->pending[i];
		if ((r.by == ES10_RETRIEVE_SEQ && p->seq != r.seq) ||
		    (r.by == ES10_RETRIEVE_EVENTS && !(p->event & r.events)))
			continue;
		items[n].der = p->der;
		items[n].len = p->len;
		n++;
	}
	/* A search that matches nothing: noResultAvailable. */
	if (n == 0 && r.by != ES10_RETRIEVE_ALL)
		rc = es10_list_error_encode(ES10_TAG_RETRIEVE_NOTIFICATIONS, ES10_NO_RESULT_AVAILABLE, out, olen);
	else
		rc = es10_pending_list_encode(items, n, out, olen);
	free(items);
	return rc;
}

static int
remove_pending(se_card *c, uint64_t seq)
{
	size_t i;
	for (i = 0; i < c->n_pending; i++) {
		if (c->pending[i].seq == seq)
			break;
	}
	if (i == c->n_pending)
		return ES10_NOTHING_TO_DELETE;
	se_pending p = c->pending[i];
	memmove(&c->pending[i], &c->pending[i + 1], (c->n_pending - i - 1) * sizeof(se_pending));
	c->n_pending--;
	int rc = se_state_save(c);
	if (rc != 0) {
		log_error("cannot persist notification removal: %s", ts_strerror(rc));
		memmove(&c->pending[i + 1], &c->pending[i], (c->n_pending - i) * sizeof(se_pending));
		c->pending[i] = p;
		c->n_pending++;
		return ES10_UNDEFINED_ERROR;
	}
	se_pending_clear(&p);
	return ES10_OK;
}

static int
notification_sent(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	uint64_t seq;
	int rc = es10_notif_sent_req_decode(cmd, len, &seq);
	if (rc != 0)
		return rc;
	return es10_result_encode(ES10_TAG_NOTIFICATION_SENT, remove_pending(c, seq), out, olen);
}

/* ---- eUICCMemoryReset ---- */

/* deleteOperationalProfiles deletes every app (all are operational), each
 * with its delete notification; deleteFieldLoadedTestProfiles finds none;
 * resetDefaultSmdpAddress removes the default SM-DP+ address. nothingToDelete
 * when none of the asked-for things existed. */
static int
memory_reset(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	uint32_t opt;
	int rc = es10_memory_reset_req_decode(cmd, len, &opt);
	if (rc != 0)
		return rc;
	if (cat_busy(c))
		return es10_result_encode(ES10_TAG_MEMORY_RESET, ES10_CAT_BUSY, out, olen);
	int did = 0, result = ES10_OK;
	if (opt & ES10_RESET_OPERATIONAL) {
		while (c->n_apps > 0) {
			se_pending p;
			se_app_rec *a = &c->apps[c->n_apps - 1];
			a->enabled = 0;
			if (notif_other(c, ES10_EVENT_DELETE, a, &p) != 0 || remove_app(c, c->n_apps - 1, &p) != 0) {
				se_pending_clear(&p);
				result = ES10_UNDEFINED_ERROR;
				break;
			}
			did = 1;
		}
	}
	if (result == ES10_OK && (opt & ES10_RESET_DEFAULT_SMDP) && c->has_default_dp) {
		c->has_default_dp = 0;
		char old[ES10_ADDR_MAX + 1];
		memcpy(old, c->default_dp, sizeof(old));
		c->default_dp[0] = '\0';
		if (se_state_save(c) != 0) {
			c->has_default_dp = 1;
			memcpy(c->default_dp, old, sizeof(old));
			result = ES10_UNDEFINED_ERROR;
		} else {
			did = 1;
		}
	}
	if (result == ES10_OK && !did)
		result = ES10_NOTHING_TO_DELETE;
	log_info("eUICC memory reset (options %u): result %d", (unsigned)opt, result);
	return es10_result_encode(ES10_TAG_MEMORY_RESET, result, out, olen);
}

/* ---- download: GetEuiccChallenge, AuthenticateServer, PrepareDownload
 * (SGP.22 §5.7.5, §5.7.7, §5.7.13, §5.7.14; encodings lib/es10dl.h) ---- */

static int
get_challenge(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	int rc = es10_empty_req_decode(ES10_TAG_GET_EUICC_CHALLENGE, cmd, len);
	if (rc != 0)
		return rc;
	/* A new challenge starts a new authentication: drop any session. */
	se_es10_reset(c);
	if ((rc = ts_random(c->challenge, sizeof(c->challenge))) != 0)
		return rc;
	c->have_challenge = 1;
	return es10_challenge_resp_encode(c->challenge, out, olen);
}

/* Parses a DER certificate and verifies it chains to the SE's CI. On success
 * *pub holds its public key (caller frees). */
/* The registeredID in the certificate's subjectAltName (SGP.22: the
 * SM-DP+ OID), as OBJECT IDENTIFIER content octets; the fallback when it has
 * none. */
static void
cert_oid(X509 *cert, uint8_t *oid, size_t *len)
{
	*len = 0;
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && *len == 0; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_RID)
			continue;
		size_t n = OBJ_length(g->d.registeredID);
		const unsigned char *p = OBJ_get0_data(g->d.registeredID);
		if (p != NULL && n > 0 && n <= ES10_OID_MAX) {
			memcpy(oid, p, n);
			*len = n;
		}
	}
	GENERAL_NAMES_free(gens);
	if (*len == 0) {
		memcpy(oid, TS_SMDP_OID_FALLBACK, sizeof(TS_SMDP_OID_FALLBACK));
		*len = sizeof(TS_SMDP_OID_FALLBACK);
	}
}

/* oid: when not NULL, receives the certificate's SM-DP+ OID (cert_oid).
 * role: PKI_ROLE_DP_AUTH (AuthenticateServer) or PKI_ROLE_DP_PB
 * (PrepareDownload) — a certificate of the other role is refused. */
static int
server_cert_check(se_card *c, const uint8_t *der, size_t der_len, int role, EVP_PKEY **pub, uint8_t *oid,
    size_t *oid_len)
{
	X509 *cert = NULL;
	int rc = pki_cert_from_der(der, der_len, &cert);
	if (rc != 0)
		return TS_EVERIFY;
	char why[300];
	rc = pki_verify_role(c->ci_cert, NULL, cert, role, why, sizeof(why));
	if (rc != 0) {
		log_warn("server certificate refused: %s", why);
		X509_free(cert);
		return TS_EVERIFY;
	}
	*pub = X509_get_pubkey(cert);
	if (oid != NULL)
		cert_oid(cert, oid, oid_len);
	X509_free(cert);
	return *pub == NULL ? TS_ECRYPTO : 0;
}

/* 1 if pkid is the key identifier of the eUICC's CI (the one it verifies
 * and signs with: euiccCiPKIdListForVerification / ForSigning). */
static int
ci_pkid_known(const se_card *c, const uint8_t *pkid, size_t len)
{
	es10_pkid_list l;
	ci_pkids(c, &l);
	for (size_t i = 0; i < l.n; i++)
		if (l.len[i] == len && memcmp(l.id[i], pkid, len) == 0)
			return 1;
	return 0;
}

static int
auth_refuse(const uint8_t *tid, size_t tid_len, int code, uint8_t **out, size_t *len)
{
	es10_auth_server_resp r;
	memset(&r, 0, sizeof(r));
	memcpy(r.tid, tid, tid_len);
	r.tid_len = tid_len;
	r.error = code;
	log_info("AuthenticateServer refused (authenticateErrorCode %d)", code);
	return es10_auth_server_resp_encode(&r, out, len);
}

/*
 * AuthenticateServer, the eUICC's checks in the order of SGP.22 §5.7.13:
 * a challenge was issued (else noSessionContext); euiccCiPKIdToBeUsed is
 * our CI (ciPKUnknown); serverCertificate chains to it (invalidCertificate);
 * serverSignature1 verifies over serverSigned1 (invalidSignature);
 * euiccChallenge is ours (euiccChallengeMismatch). Then euiccSigned1 =
 * transactionId, serverAddress, serverChallenge, our euiccInfo2 and the
 * LPA's ctxParams1, signed over the whole TLV.
 */
static int
authenticate_server(se_card *c, const uint8_t *cmd, size_t cmd_len, uint8_t **out, size_t *len)
{
	es10_auth_server_req q;
	es10_server_signed1 ss1;
	es10_euicc_signed1 es1;
	es10_auth_server_resp r;
	EVP_PKEY *pub = NULL;
	uint8_t *es1_der = NULL, *info2 = NULL;
	size_t es1_len = 0, info2_len = 0;
	uint8_t esig[PKI_SIG_LEN];
	uint8_t oid[ES10_OID_MAX]; /* the SM-DP+ OID of CERT.DPauth: CancelSession signs it */
	size_t oid_len = 0;
	int code = 0, rc;

	/* Structure first: a malformed request is a 6A80, not a result code. */
	if ((rc = es10_auth_server_req_decode(cmd, cmd_len, &q, &ss1)) != 0)
		return rc;

	/* The challenge is single-use whatever happens next. */
	int had_challenge = c->have_challenge;
	uint8_t challenge[ES10_CHALLENGE_LEN];
	memcpy(challenge, c->challenge, sizeof(challenge));
	se_es10_reset(c);
	if (!had_challenge)
		code = ES10_AUTH_NO_SESSION_CONTEXT;
	else if (!ci_pkid_known(c, q.ci_pkid, q.ci_pkid_len))
		code = ES10_AUTH_CI_PK_UNKNOWN;
	else if (server_cert_check(c, q.server_cert.p, q.server_cert.len, PKI_ROLE_DP_AUTH, &pub, oid, &oid_len) != 0)
		code = ES10_AUTH_INVALID_CERTIFICATE;
	else if (pki_verify(pub, q.server_signed1.p, q.server_signed1.len, q.server_signature1) != 0)
		code = ES10_AUTH_INVALID_SIGNATURE;
	else if (CRYPTO_memcmp(ss1.euicc_challenge, challenge, sizeof(challenge)) != 0)
		code = ES10_AUTH_EUICC_CHALLENGE_MISMATCH;
	if (code != 0) {
		rc = auth_refuse(ss1.tid, ss1.tid_len, code, out, len);
		goto done;
	}

	memset(&es1, 0, sizeof(es1));
	memcpy(es1.tid, ss1.tid, ss1.tid_len);
	es1.tid_len = ss1.tid_len;
	memcpy(es1.server_address, ss1.server_address, sizeof(es1.server_address));
	memcpy(es1.server_challenge, ss1.server_challenge, ES10_CHALLENGE_LEN);
	es1.ctx = q.ctx;
	if ((rc = euicc_info2_der(c, &info2, &info2_len)) != 0)
		goto done;
	es1.euicc_info2.p = info2;
	es1.euicc_info2.len = info2_len;
	if ((rc = es10_euicc_signed1_encode(&es1, &es1_der, &es1_len)) != 0 ||
	    (rc = pki_sign(c->euicc_key, es1_der, es1_len, esig)) != 0)
		goto done;
	memset(&r, 0, sizeof(r));
	r.euicc_signed1.p = es1_der;
	r.euicc_signed1.len = es1_len;
	memcpy(r.euicc_signature1, esig, sizeof(esig));
	r.euicc_cert.p = c->euicc_cert_der;
	r.euicc_cert.len = c->euicc_cert_der_len;
	r.eum_cert.p = c->eum_cert_der;
	r.eum_cert.len = c->eum_cert_der_len;
	if ((rc = es10_auth_server_resp_encode(&r, out, len)) != 0)
		goto done;

	memcpy(c->tid, ss1.tid, ss1.tid_len);
	c->tid_len = ss1.tid_len;
	memcpy(c->euicc_sig1, esig, sizeof(esig));
	memcpy(c->server_address, ss1.server_address, sizeof(c->server_address));
	c->server_pub = pub;
	pub = NULL;
	memcpy(c->smdp_oid, oid, oid_len);
	c->smdp_oid_len = oid_len;
	c->sess = SE_SESS_AUTHENTICATED;
	rc = 0;
done:
	OPENSSL_cleanse(challenge, sizeof(challenge));
	EVP_PKEY_free(pub);
	free(es1_der);
	free(info2);
	return rc;
}

static int
prepare_refuse(se_card *c, const uint8_t *tid, size_t tid_len, int code, uint8_t **out, size_t *len)
{
	es10_prepare_download_resp r;
	memset(&r, 0, sizeof(r));
	memcpy(r.tid, tid, tid_len);
	r.tid_len = tid_len;
	r.error = code;
	log_info("PrepareDownload refused (downloadErrorCode %d)", code);
	session_drop(c);
	return es10_prepare_download_resp_encode(&r, out, len);
}

/*
 * PrepareDownload (SGP.22 §5.7.5): an authenticated session (else
 * noSessionContext); smdpCertificate chains to our CI (invalidCertificate);
 * smdpSignature2 verifies over smdpSigned2 || 5F37 40 euiccSignature1
 * (invalidSignature); the transactionId is the session's
 * (invalidTransactionId); when ccRequiredFlag is set the LPA must give hashCc
 * (undefinedError otherwise), which then goes into euiccSigned2 for the
 * SM-DP+ to check. A new one-time key pair; euiccSignature2 over
 * euiccSigned2 || 5F37 40 smdpSignature2. A bppEuiccOtpk (retry with an
 * earlier key) is not honoured: every session binds to a fresh key.
 */
static int
prepare_download(se_card *c, const uint8_t *cmd, size_t cmd_len, uint8_t **out, size_t *len)
{
	es10_prepare_download_req q;
	es10_smdp_signed2 ss2;
	es10_euicc_signed2 es2;
	es10_prepare_download_resp r;
	EVP_PKEY *pub = NULL, *otsk = NULL;
	uint8_t *tbs = NULL, *es2_der = NULL;
	size_t tbs_len = 0, es2_len = 0;
	uint8_t esig[PKI_SIG_LEN];
	uint8_t oid[ES10_OID_MAX];
	size_t oid_len = 0;
	int code = 0, rc;

	if ((rc = es10_prepare_download_req_decode(cmd, cmd_len, &q, &ss2)) != 0)
		return rc;
	if (c->sess != SE_SESS_AUTHENTICATED) {
		code = ES10_DL_NO_SESSION_CONTEXT;
		goto refuse;
	}
	if (server_cert_check(c, q.smdp_cert.p, q.smdp_cert.len, PKI_ROLE_DP_PB, &pub, oid, &oid_len) != 0) {
		code = ES10_DL_INVALID_CERTIFICATE;
		goto refuse;
	}
	if ((rc = es10_sig_input(q.smdp_signed2.p, q.smdp_signed2.len, c->euicc_sig1, &tbs, &tbs_len)) != 0)
		goto fail;
	if (pki_verify(pub, tbs, tbs_len, q.smdp_signature2) != 0) {
		code = ES10_DL_INVALID_SIGNATURE;
		goto refuse;
	}
	if (ss2.tid_len != c->tid_len || CRYPTO_memcmp(ss2.tid, c->tid, c->tid_len) != 0) {
		code = ES10_DL_INVALID_TRANSACTION_ID;
		goto refuse;
	}
	if (ss2.cc_required && !q.has_hash_cc) {
		code = ES10_DL_UNDEFINED;
		goto refuse;
	}

	memset(&es2, 0, sizeof(es2));
	memcpy(es2.tid, c->tid, c->tid_len);
	es2.tid_len = c->tid_len;
	if (q.has_hash_cc) {
		es2.has_hash_cc = 1;
		memcpy(es2.hash_cc, q.hash_cc, ES10_HASHCC_LEN);
	}
	if ((rc = pki_keygen(&otsk)) != 0 || (rc = pki_pubkey_to_point(otsk, es2.euicc_otpk)) != 0 ||
	    (rc = es10_euicc_signed2_encode(&es2, &es2_der, &es2_len)) != 0)
		goto fail;
	free(tbs);
	tbs = NULL;
	if ((rc = es10_sig_input(es2_der, es2_len, q.smdp_signature2, &tbs, &tbs_len)) != 0 ||
	    (rc = pki_sign(c->euicc_key, tbs, tbs_len, esig)) != 0)
		goto fail;
	memset(&r, 0, sizeof(r));
	r.euicc_signed2.p = es2_der;
	r.euicc_signed2.len = es2_len;
	memcpy(r.euicc_signature2, esig, sizeof(esig));
	if ((rc = es10_prepare_download_resp_encode(&r, out, len)) != 0)
		goto fail;
	c->smdp_pub = pub;
	c->otsk = otsk;
	memcpy(c->smdp_oid, oid, oid_len);
	c->smdp_oid_len = oid_len;
	pub = otsk = NULL;
	c->sess = SE_SESS_PREPARED;
	rc = 0;
	goto done;
refuse:
	rc = prepare_refuse(c, ss2.tid, ss2.tid_len, code, out, len);
	goto done;
fail:
	session_drop(c);
done:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(otsk);
	free(tbs);
	free(es2_der);
	return rc;
}

/*
 * CancelSession (SGP.22 §5.7.14): the transactionId is the open session's
 * (after AuthenticateServer; else cancelSessionResponseError
 * invalidTransactionId). euiccCancelSessionSigned = transactionId, the SM-DP+
 * OID of the session's certificate, the LPA's reason; signed over the whole
 * TLV; the session (and any one-time key) ends.
 */
static int
cancel_session(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	es10_cancel_session_req q;
	es10_cancel_session_resp r;
	es10_cancel_signed cs;
	uint8_t *signed_der = NULL;
	size_t signed_len = 0;
	int rc = es10_cancel_session_req_decode(cmd, len, &q);
	if (rc != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	if (c->sess == SE_SESS_NONE || q.tid_len != c->tid_len || CRYPTO_memcmp(q.tid, c->tid, c->tid_len) != 0) {
		log_info("CancelSession refused: no session with that transactionId");
		r.error = ES10_CANCEL_INVALID_TRANSACTION_ID;
		return es10_cancel_session_resp_encode(&r, out, olen);
	}
	memset(&cs, 0, sizeof(cs));
	memcpy(cs.tid, c->tid, c->tid_len);
	cs.tid_len = c->tid_len;
	memcpy(cs.smdp_oid, c->smdp_oid, c->smdp_oid_len);
	cs.smdp_oid_len = c->smdp_oid_len;
	cs.reason = q.reason;
	if ((rc = es10_cancel_signed_encode(&cs, &signed_der, &signed_len)) != 0 ||
	    (rc = pki_sign(c->euicc_key, signed_der, signed_len, r.signature)) != 0)
		goto done;
	r.cancel_signed.p = signed_der;
	r.cancel_signed.len = signed_len;
	if ((rc = es10_cancel_session_resp_encode(&r, out, olen)) != 0)
		goto done;
	log_info("CancelSession: download session ended (reason %d)", q.reason);
	session_drop(c);
done:
	free(signed_der);
	return rc;
}

/* ---- the bound package ---- */

/* The ProfileInstallationResult of a download (next sequence number, not
 * committed): successResult with the new ISD-P AID when a != NULL, else
 * errorResult { bpp_cmd, reason }. */
static int
pir_make(se_card *c, const uint8_t *tid, size_t tid_len, const char *address, const uint8_t *oid, size_t oid_len,
    const se_app_rec *a, int bpp_cmd, int reason, se_pending *p)
{
	es10_pir r;
	memset(&r, 0, sizeof(r));
	memset(p, 0, sizeof(*p));
	memcpy(r.tid, tid, tid_len);
	r.tid_len = tid_len;
	r.meta.seq = c->notif_seq + 1;
	r.meta.event = ES10_EVENT_INSTALL;
	utf8_cut(r.meta.address, address, ES10_ADDR_MAX);
	r.has_smdp_oid = 1;
	memcpy(r.smdp_oid, oid, oid_len);
	r.smdp_oid_len = oid_len;
	if (a != NULL) {
		r.meta.has_iccid = 1;
		memcpy(r.meta.iccid, a->iccid, ES10_ICCID_LEN);
		r.success = 1;
		memcpy(r.aid, a->aid, SE_ISDR_AID_LEN);
		r.aid_len = SE_ISDR_AID_LEN;
		r.has_sima = 1; /* simaResponse: no profile package interpreter, nothing to say */
	} else {
		r.bpp_command_id = bpp_cmd;
		r.error_reason = reason;
	}
	int rc = es10_pir_sign(&r, c->euicc_key, &p->der, &p->len);
	if (rc != 0)
		return rc;
	p->seq = r.meta.seq;
	p->event = ES10_EVENT_INSTALL;
	return 0;
}

/* A refused package: a pending errorResult ProfileInstallationResult, which
 * is also the answer. */
static int
load_refuse(se_card *c, const uint8_t *tid, size_t tid_len, const char *address, const uint8_t *oid, size_t oid_len,
    int bpp_cmd, int reason, uint8_t **out, size_t *len)
{
	se_pending p;
	log_info("bound package refused (bppCommandId %d, errorReason %d)", bpp_cmd, reason);
	int rc = pir_make(c, tid, tid_len, address, oid, oid_len, NULL, bpp_cmd, reason, &p);
	if (rc != 0)
		return rc;
	uint8_t *copy = malloc(p.len);
	size_t clen = p.len;
	if (copy == NULL) {
		se_pending_clear(&p);
		return TS_ENOMEM;
	}
	memcpy(copy, p.der, clen);
	if (commit_with(c, &p) != 0)
		log_warn("the refusal of a package is answered but not kept pending");
	*out = copy;
	*len = clen;
	return 0;
}

/*
 * The hand-over of a downloaded profile: profile[0..len) are the reassembled
 * profile bytes (the plaintext of the sequenceOf86 segments, every MAC
 * checked), a is the new app record (app id, ICCID and ISD-P AID set from the
 * metadata; not yet counted in c->n_apps). Returns 0 to accept; the caller
 * then keeps the bytes as the app's payload. To refuse, set *reason to an
 * SGP.22 errorReason (ES10_ERR_*) and return TS_EPARSE: the caller answers
 * with an errorResult ProfileInstallationResult (bppCommandId
 * loadProfileElements). Today the payload is tapshare's credential blob and
 * is accepted as it is; the profile package parser (issue 7 item 5) goes here.
 */
static int
se_profile_install(se_card *c, se_app_rec *a, const uint8_t *profile, size_t len, int *reason)
{
	(void)c;
	(void)a;
	if (profile == NULL || len > BSP_MAX_PACKAGE) {
		*reason = ES10_ERR_INSUFFICIENT_MEMORY;
		return TS_ELIMIT;
	}
	return 0;
}

/*
 * LoadBoundProfilePackage, command by command (SGP.22 §2.5.5, §5.5): the
 * LPA sends the package as a series of ES10b STORE DATA commands and the
 * loader (lib/bsp.h) processes each as it arrives — the session keys after
 * BF23, the ISD-P after BF24, the metadata after BF25, each 86 decrypted —
 * answering 90 00 without data until the end, where (or at the first error)
 * the answer is the signed ProfileInstallationResult. The state kept between
 * commands is c->load and c->ld: bounded (lib/bsp.h BSP_SEQ_MAX, the profile
 * up to BSP_MAX_PACKAGE). Any other ES10 command during a load ends it with
 * installFailedDueToInterruption (the PIR stays pending) and is then
 * processed; so does a card reset.
 */

static void
load_end(se_card *c)
{
	bsp_loader_clear(&c->load);
	se_app_rec_clear(&c->ld.rec);
	memset(&c->ld.md, 0, sizeof(c->ld.md));
	if (c->ld.resp != NULL) {
		OPENSSL_cleanse(c->ld.resp, c->ld.resp_len);
		free(c->ld.resp);
	}
	c->ld.resp = NULL;
	c->ld.resp_len = 0;
	c->ld.have_isdp = c->ld.have_md = 0;
}

/* BF24: an ISD-P for the profile (a free slot; tapshare-se creates it with
 * the profile, SE_ISDP_AID_PREFIX + slot). */
static int
load_configure_isdp(void *ctx, const uint8_t *bf24, size_t len, int *reason)
{
	se_card *c = ctx;
	const uint8_t *oid;
	size_t oid_len;
	if (bsp_configure_isdp_decode(bf24, len, &oid, &oid_len) != 0) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	if (c->n_apps >= SE_MAX_APPS) {
		*reason = ES10_ERR_INSUFFICIENT_MEMORY;
		return -1;
	}
	c->ld.have_isdp = 1;
	return 0;
}

/* BF25: the profile's metadata, checked as the eUICC must (§5.5.3) before
 * any profile element arrives. */
static int
load_store_metadata(void *ctx, const uint8_t *bf25, size_t len, int *reason)
{
	se_card *c = ctx;
	rsp_metadata *m = &c->ld.md;
	se_app_rec *a = &c->ld.rec;
	char d[ES10_ICCID_DIGITS_MAX + 1];
	if (rsp_metadata_decode(bf25, len, m) != 0 || es10_iccid_to_digits(m->iccid, d) != 0) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	if (m->profile_class != RSP_PCLASS_OPERATIONAL) {
		*reason = ES10_ERR_UNSUPPORTED_PROFILE_CLASS;
		return -1;
	}
	/* The RAT is empty: no profile policy rule is allowed (GetRAT). */
	if (m->ppr != 0) {
		*reason = ES10_ERR_PPR_NOT_ALLOWED;
		return -1;
	}
	/* A profile from an SM-DP+ that is not tapshare's: an app named by
	 * its ICCID, of kind "sim". */
	if (!m->has_vendor) {
		snprintf(m->app_id, sizeof(m->app_id), "iccid:%s", d);
		snprintf(m->kind, sizeof(m->kind), "sim");
	}
	if (m->not_after < 0 || expired(m->not_after)) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	if (app_find(c, m->app_id, NULL) != NULL) {
		*reason = ES10_ERR_ICCID_ALREADY_EXISTS;
		return -1;
	}
	for (size_t i = 0; i < c->n_apps; i++)
		if (memcmp(c->apps[i].iccid, m->iccid, ES10_ICCID_LEN) == 0) {
			*reason = ES10_ERR_ICCID_ALREADY_EXISTS;
			return -1;
		}
	se_app_rec_clear(a);
	memset(a, 0, sizeof(*a));
	memcpy(a->app_id, m->app_id, sizeof(a->app_id));
	int rc = se_app_identity(c, a);
	if (rc != 0) {
		memset(a, 0, sizeof(*a));
		*reason = rc == TS_EEXIST ? ES10_ERR_ICCID_ALREADY_EXISTS : ES10_ERR_INSUFFICIENT_MEMORY;
		return -1;
	}
	memcpy(a->iccid, m->iccid, ES10_ICCID_LEN); /* the SM-DP+'s ICCID */
	memcpy(a->name, m->name, sizeof(a->name));
	memcpy(a->kind, m->kind, sizeof(a->kind));
	memcpy(a->provider, m->provider, sizeof(a->provider));
	a->not_after = m->not_after;
	/* notificationConfigurationInfo's address, else the SM-DP+ of the
	 * download (the node asks for every event at its own address). */
	utf8_cut(a->notif_address, m->notif_address[0] != '\0' ? m->notif_address : c->ld.address,
	    ES10_ADDR_MAX);
	c->ld.have_md = 1;
	return 0;
}

/* A3 complete: the profile package, then the install and its PIR. */
static int
load_profile(void *ctx, uint8_t **profile, size_t len, int *reason)
{
	se_card *c = ctx;
	se_app_rec *a = &c->ld.rec;
	EVP_PKEY *app_key = NULL;
	se_pending p;
	int rc;
	memset(&p, 0, sizeof(p));
	if (!c->ld.have_isdp || !c->ld.have_md || c->n_apps >= SE_MAX_APPS) {
		*reason = ES10_ERR_UNKNOWN;
		return -1;
	}
	/* The reassembled profile bytes (the decrypted 86 segments) are
	 * handed over at exactly one place. */
	if (se_profile_install(c, a, *profile, len, reason) != 0 ||
	    se_profile_check(a, *profile, len, reason) != 0) {
		if (*reason == 0)
			*reason = ES10_ERR_PE_PROCESSING;
		return -1;
	}
	/* Bank-ID: the app's own key pair is born here and never leaves. */
	if (strcmp(a->kind, "bankid") == 0 && pki_keygen(&app_key) != 0) {
		*reason = ES10_ERR_UNKNOWN;
		return -1;
	}
	a->enabled = app_key == NULL; /* a bank-ID app waits for its certificate */
	if (pir_make(c, c->ld.tid, c->ld.tid_len, c->ld.address, c->ld.oid, c->ld.oid_len, a, 0, 0, &p) != 0 ||
	    (c->ld.resp = malloc(p.len)) == NULL) {
		EVP_PKEY_free(app_key);
		se_pending_clear(&p);
		*reason = ES10_ERR_UNKNOWN;
		return -1;
	}
	memcpy(c->ld.resp, p.der, p.len);
	c->ld.resp_len = p.len;
	se_app_rec *dst = &c->apps[c->n_apps];
	*dst = *a;
	memset(a, 0, sizeof(*a)); /* moved */
	dst->payload = *profile;
	dst->payload_len = len;
	dst->app_key = app_key;
	*profile = NULL;
	c->n_apps++;
	if ((rc = commit_with(c, &p)) != 0) {
		c->n_apps--;
		*profile = dst->payload; /* back to the loader, which wipes it */
		dst->payload = NULL;
		se_app_rec_clear(dst);
		OPENSSL_cleanse(c->ld.resp, c->ld.resp_len);
		free(c->ld.resp);
		c->ld.resp = NULL;
		*reason = ES10_ERR_UNKNOWN;
		return -1;
	}
	log_info("installed %s (%s) from %s%s", dst->app_id, dst->kind, dst->provider,
	    dst->app_key != NULL ? ", disabled until its key is certified" : "");
	return 0;
}

static const bsp_loader_ops se_load_ops = { load_configure_isdp, load_store_metadata, load_profile };

/* The answer to a command of the load: nothing (90 00) while it goes on,
 * the PIR at the end or at the first error. */
static int
load_answer(se_card *c, int st, uint8_t **out, size_t *len)
{
	int rc = 0;
	*out = NULL;
	*len = 0;
	if (st == BSP_LOAD_MORE)
		return 0;
	if (st == BSP_LOAD_DONE) {
		*out = c->ld.resp;
		*len = c->ld.resp_len;
		c->ld.resp = NULL;
	} else {
		rc = load_refuse(c, c->ld.tid, c->ld.tid_len, c->ld.address, c->ld.oid, c->ld.oid_len,
		    c->load.cmd, c->load.reason, out, len);
	}
	load_end(c);
	return rc;
}

/* The first command: BF36 tag and length with the whole BF23. */
static int
load_start(se_card *c, const uint8_t *cmd, size_t len, uint8_t **out, size_t *olen)
{
	if (c->sess != SE_SESS_PREPARED)
		return TS_ESTATE; /* no download session: nothing to report against */
	load_end(c);
	memcpy(c->ld.tid, c->tid, sizeof(c->ld.tid));
	c->ld.tid_len = c->tid_len;
	memcpy(c->ld.address, c->server_address, sizeof(c->ld.address));
	memcpy(c->ld.oid, c->smdp_oid, c->smdp_oid_len);
	c->ld.oid_len = c->smdp_oid_len;
	bsp_loader_begin(&c->load, c->otsk, &c->eid, c->smdp_pub, c->tid, c->tid_len, &se_load_ops, c);
	int st = bsp_loader_feed(&c->load, cmd, len);
	/* One package per one-time key, whatever the outcome. */
	session_drop(c);
	return load_answer(c, st, out, olen);
}

/* A load in progress ends with installFailedDueToInterruption: the PIR is
 * kept pending, nothing is answered with it. */
static void
load_interrupt(se_card *c)
{
	se_pending p;
	if (!bsp_loader_active(&c->load))
		return;
	int cmd = bsp_loader_command(&c->load);
	log_info("bound package interrupted by another command (bppCommandId %d)", cmd);
	if (pir_make(c, c->ld.tid, c->ld.tid_len, c->ld.address, c->ld.oid, c->ld.oid_len, NULL, cmd,
	        ES10_ERR_INTERRUPTION, &p) == 0 &&
	    commit_with(c, &p) != 0)
		log_warn("the interrupted package's result is not kept pending");
	load_end(c);
}

/* The tag of the first item of a command (1..3 identifier octets), 0 if
 * there is none. */
static uint32_t
first_tag(const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	uint32_t t = p[0];
	if ((t & 0x1F) != 0x1F)
		return t;
	for (size_t i = 1; i < n && i < 3; i++) {
		t = t << 8 | p[i];
		if ((p[i] & 0x80) == 0)
			return t;
	}
	return 0;
}

static int
is_bpp_item(uint32_t t)
{
	return t == ES10_TAG_BOUND_PROFILE_PACKAGE || t == 0xBF23 || (t >= 0xA0 && t <= 0xA3) ||
	    (t >= 0x86 && t <= 0x88);
}

/* ---- dispatch ---- */

int
se_es10_dispatch(se_card *c, const uint8_t *cmd, size_t len,
    uint8_t **resp, size_t *rlen, uint16_t *sw)
{
	der_tlv t;
	*sw = SW_WRONG_DATA;
	int rc;
	uint32_t ft = first_tag(cmd, len);
	if (bsp_loader_active(&c->load) && is_bpp_item(ft)) {
		/* the next command of the package being loaded */
		rc = load_answer(c, bsp_loader_feed(&c->load, cmd, len), resp, rlen);
		if (rc == TS_ENOMEM)
			*sw = SW_NO_MEMORY;
		return rc;
	}
	load_interrupt(c);
	if (ft == ES10_TAG_BOUND_PROFILE_PACKAGE) {
		/* its first command: BF36 tag and length, the whole BF23 — or the
		 * whole package at once */
		rc = load_start(c, cmd, len, resp, rlen);
		if (rc == TS_ENOMEM)
			*sw = SW_NO_MEMORY;
		else if (rc == TS_ESTATE)
			*sw = SW_CONDITIONS;
		return rc;
	}
	rc = der_read_one(cmd, len, &t);
	if (rc != 0)
		return rc;
	if (!der_tag_constructed(t.tag))
		return TS_EPARSE;
	switch (t.tag) {
	case ES10_TAG_GET_EUICC_DATA: rc = get_euicc_data(c, cmd, len, resp, rlen); break;
	case ES10_TAG_GET_EUICC_INFO1: rc = get_euicc_info1(c, cmd, len, resp, rlen); break;
	case ES10_TAG_GET_EUICC_INFO2: rc = get_euicc_info2(c, cmd, len, resp, rlen); break;
	case ES10_TAG_EUICC_CONFIGURED_ADDRESSES: rc = configured_addresses(c, cmd, len, resp, rlen); break;
	case ES10_TAG_SET_DEFAULT_DP_ADDRESS: rc = set_default_dp(c, cmd, len, resp, rlen); break;
	case ES10_TAG_GET_RAT: rc = get_rat(cmd, len, resp, rlen); break;
	case ES10_TAG_GET_EUICC_CHALLENGE: rc = get_challenge(c, cmd, len, resp, rlen); break;
	case ES10_TAG_AUTHENTICATE_SERVER: rc = authenticate_server(c, cmd, len, resp, rlen); break;
	case ES10_TAG_PREPARE_DOWNLOAD: rc = prepare_download(c, cmd, len, resp, rlen); break;
	case ES10_TAG_CANCEL_SESSION: rc = cancel_session(c, cmd, len, resp, rlen); break;
	case ES10_TAG_PROFILE_INFO_LIST: rc = profile_list(c, cmd, len, resp, rlen); break;
	case ES10_TAG_ENABLE_PROFILE:
	case ES10_TAG_DISABLE_PROFILE:
		rc = enable_disable(c, (uint32_t)t.tag, cmd, len, resp, rlen);
		break;
	case ES10_TAG_DELETE_PROFILE: rc = delete_profile(c, cmd, len, resp, rlen); break;
	case ES10_TAG_SET_NICKNAME: rc = set_nickname(c, cmd, len, resp, rlen); break;
	case ES10_TAG_LIST_NOTIFICATION: rc = list_notification(c, cmd, len, resp, rlen); break;
	case ES10_TAG_RETRIEVE_NOTIFICATIONS: rc = retrieve_notifications(c, cmd, len, resp, rlen); break;
	case ES10_TAG_NOTIFICATION_SENT: rc = notification_sent(c, cmd, len, resp, rlen); break;
	case ES10_TAG_MEMORY_RESET: rc = memory_reset(c, cmd, len, resp, rlen); break;
	default: rc = TS_EPARSE; break;
	}
	if (rc == TS_ENOMEM)
		*sw = SW_NO_MEMORY;
	else if (rc == TS_ESTATE)
		*sw = SW_CONDITIONS;
	return rc;
}
