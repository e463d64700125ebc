/*
 * state.c — the secure element's persistent state: one JSON document (jansson),
 * replaced atomically (ts_write_file_atomic, mode 0600: it holds the eUICC
 * private key) on every change.
 *
 *   {"version":1, "eid":"<32 digits>",
 *    "euicc_key":"<PEM>", "euicc_cert":"<PEM>", "eum_cert":"<PEM>", "ci_cert":"<PEM>",
 *    "notification_seq":N,
 *    "apps":[{"app_id","name","kind","provider","enabled":bool,"not_after":N,
 *             "payload":"<base64>",
 *             "app_key":"<PEM>" (bank-ID: the key generated at install, optional),
 *             "app_cert":"<base64 DER>" (its provider certificate, optional),
 *             "iccid":"<19-20 digits>", "isdp_aid":"<32 hex>", "nickname":"...",
 *             "notification_address":"..."}],
 *    "default_dp":"..." (optional), "root_ds":"...",
 *    "pending":[{"seq":N,"event":E,"notification":"<base64 of the signed
 *                PendingNotification>"}]}
 *
 * A state written before the SGP.22 identity existed has no iccid / isdp_aid
 * / root_ds: they are given on load (se_app_identity, SE_ROOT_DS_DEFAULT) and
 * written with the next change. Its pending notifications (tapshare's old
 * private BF2F, no "event") cannot be delivered to an SGP.22 SM-DP+: they are
 * dropped on load, with a warning.
 *
 * Loading is strict: duplicate keys, unknown versions, over-long strings,
 * more than SE_MAX_APPS apps or SE_MAX_PENDING notifications are refused.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/log.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card_int.h"

#define STATE_VERSION 1

void
se_app_rec_clear(se_app_rec *a)
{
	if (a->payload != NULL) {
		OPENSSL_cleanse(a->payload, a->payload_len);
		free(a->payload);
	}
	EVP_PKEY_free(a->app_key); /* EC private scalars are cleared on free */
	free(a->cert_der);
	memset(a, 0, sizeof(*a));
}

void
se_state_clear(se_card *c)
{
	EVP_PKEY_free(c->euicc_key);
	X509_free(c->euicc_cert);
	X509_free(c->eum_cert);
	X509_free(c->ci_cert);
	free(c->euicc_cert_der);
	free(c->eum_cert_der);
	for (size_t i = 0; i < c->n_apps; i++)
		se_app_rec_clear(&c->apps[i]);
	for (size_t i = 0; i < c->n_pending; i++)
		se_pending_clear(&c->pending[i]);
	free(c->path);
	c->path = NULL;
	c->euicc_key = NULL;
	c->euicc_cert = c->eum_cert = c->ci_cert = NULL;
	c->euicc_cert_der = c->eum_cert_der = NULL;
	c->n_apps = c->n_pending = 0;
}

static int
key_from_pem(const char *pem, EVP_PKEY **out)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	if (b == NULL)
		return TS_ENOMEM;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL)
		return TS_EPARSE;
	*out = k;
	return 0;
}

/* PEM of the private key in a malloc'ed string the caller cleanses and frees.
 * The BIO is secure memory, wiped when freed. */
static int
key_to_pem(EVP_PKEY *key, char **out, size_t *outlen)
{
	int rc = TS_ECRYPTO;
	BIO *b = BIO_new(BIO_s_secmem());
	if (b == NULL)
		return TS_ENOMEM;
	if (PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto fail;
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0 || data == NULL)
		goto fail;
	char *s = malloc((size_t)n + 1);
	if (s == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	*outlen = (size_t)n;
	rc = 0;
fail:
	BIO_free(b);
	return rc;
}

static int
copy_str(const json_t *obj, const char *key, char *dst, size_t cap, int required)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return required ? TS_EPARSE : 0;
	if (!json_is_string(v))
		return TS_EPARSE;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n >= cap || strlen(s) != n)
		return TS_EPARSE;
	memcpy(dst, s, n + 1);
	return 0;
}

static int
get_int(const json_t *obj, const char *key, json_int_t min, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v))
		return TS_EPARSE;
	json_int_t x = json_integer_value(v);
	if (x < min)
		return TS_EPARSE;
	*out = x;
	return 0;
}

static int
cert_from_member(const json_t *obj, const char *key, X509 **out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return TS_EPARSE;
	return pki_cert_from_pem(json_string_value(v), json_string_length(v), out);
}

/* Bank-ID members: "app_key" (PEM) and "app_cert" (base64 DER) are
 * optional, but a certificate needs a key and must certify exactly it. */
static int
load_app_key(const json_t *o, se_app_rec *a)
{
	json_t *k = json_object_get(o, "app_key");
	json_t *cb = json_object_get(o, "app_cert");
	X509 *cert = NULL;
	int rc;
	if (k == NULL)
		return cb == NULL ? 0 : TS_EPARSE;
	if (!json_is_string(k) || key_from_pem(json_string_value(k), &a->app_key) != 0)
		return TS_EPARSE;
	if (cb == NULL)
		return 0;
	if (!json_is_string(cb) ||
	    ts_b64_decode(json_string_value(cb), &a->cert_der, &a->cert_der_len) != 0)
		return TS_EPARSE;
	rc = pki_cert_from_der(a->cert_der, a->cert_der_len, &cert);
	if (rc == 0 && EVP_PKEY_eq(X509_get0_pubkey(cert), a->app_key) != 1)
		rc = TS_EPARSE;
	X509_free(cert);
	return rc == 0 ? 0 : TS_EPARSE;
}

static int
load_app(const json_t *o, se_app_rec *a)
{
	if (!json_is_object(o))
		return TS_EPARSE;
	int rc;
	if ((rc = copy_str(o, "app_id", a->app_id, sizeof(a->app_id), 1)) != 0 ||
	    (rc = copy_str(o, "name", a->name, sizeof(a->name), 1)) != 0 ||
	    (rc = copy_str(o, "kind", a->kind, sizeof(a->kind), 1)) != 0 ||
	    (rc = copy_str(o, "provider", a->provider, sizeof(a->provider), 1)) != 0)
		return rc;
	if (a->app_id[0] == '\0')
		return TS_EPARSE;
	json_t *en = json_object_get(o, "enabled");
	if (!json_is_boolean(en))
		return TS_EPARSE;
	a->enabled = json_is_true(en);
	json_int_t na;
	if ((rc = get_int(o, "not_after", 0, &na)) != 0)
		return rc;
	a->not_after = (int64_t)na;
	json_t *p = json_object_get(o, "payload");
	if (!json_is_string(p))
		return TS_EPARSE;
	if (json_string_length(p) > 0) {
		rc = ts_b64_decode(json_string_value(p), &a->payload, &a->payload_len);
		if (rc != 0)
			return TS_EPARSE;
		if (a->payload_len > BSP_MAX_PACKAGE)
			return TS_ELIMIT;
	}
	if ((rc = load_app_key(o, a)) != 0)
		return rc;
	if ((rc = copy_str(o, "nickname", a->nickname, sizeof(a->nickname), 0)) != 0 ||
	    (rc = copy_str(o, "notification_address", a->notif_address, sizeof(a->notif_address), 0)) != 0)
		return rc;
	return 0;
}

/* The SGP.22 identity stored with an app, or 1 when it has none yet. */
static int
load_app_identity(const json_t *o, se_app_rec *a)
{
	char digits[ES10_ICCID_DIGITS_MAX + 2], hex[2 * SE_ISDR_AID_LEN + 2];
	json_t *ic = json_object_get(o, "iccid"), *aid = json_object_get(o, "isdp_aid");
	if (ic == NULL && aid == NULL)
		return 1;
	if (copy_str(o, "iccid", digits, sizeof(digits), 1) != 0 ||
	    es10_iccid_from_digits(digits, a->iccid) != 0 ||
	    copy_str(o, "isdp_aid", hex, sizeof(hex), 1) != 0 || strlen(hex) != 2 * SE_ISDR_AID_LEN)
		return TS_EPARSE;
	for (size_t i = 0; i < SE_ISDR_AID_LEN; i++) {
		unsigned v;
		char two[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
		char *end = NULL;
		if (!isxdigit((unsigned char)two[0]) || !isxdigit((unsigned char)two[1]))
			return TS_EPARSE;
		v = (unsigned)strtoul(two, &end, 16);
		a->aid[i] = (uint8_t)v;
	}
	if (memcmp(a->aid, SE_ISDP_AID_PREFIX, SE_ISDP_AID_PREFIX_LEN) != 0)
		return TS_EPARSE;
	return 0;
}

int
se_state_load(se_card *c, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *root = NULL;
	int rc = ts_read_file(path, SE_STATE_MAX, &buf, &len);
	if (rc != 0)
		return rc;
	json_error_t jerr;
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	OPENSSL_cleanse(buf, len);
	free(buf);
	rc = TS_EPARSE;
	if (!json_is_object(root))
		goto fail;
	c->path = strdup(path);
	if (c->path == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	json_int_t ver;
	if (get_int(root, "version", 0, &ver) != 0 || ver != STATE_VERSION)
		goto fail;
	const char *eid = json_string_value(json_object_get(root, "eid"));
	if (eid == NULL || eid_parse(eid, &c->eid) != 0)
		goto fail;
	const char *kp = json_string_value(json_object_get(root, "euicc_key"));
	if (kp == NULL || key_from_pem(kp, &c->euicc_key) != 0)
		goto fail;
	if (cert_from_member(root, "euicc_cert", &c->euicc_cert) != 0 ||
	    cert_from_member(root, "eum_cert", &c->eum_cert) != 0 ||
	    cert_from_member(root, "ci_cert", &c->ci_cert) != 0)
		goto fail;
	if ((rc = pki_cert_to_der(c->euicc_cert, &c->euicc_cert_der, &c->euicc_cert_der_len)) != 0 ||
	    (rc = pki_cert_to_der(c->eum_cert, &c->eum_cert_der, &c->eum_cert_der_len)) != 0)
		goto fail;
	rc = TS_EPARSE;
	json_int_t seq;
	if (get_int(root, "notification_seq", 0, &seq) != 0)
		goto fail;
	c->notif_seq = (uint64_t)seq;

	json_t *apps = json_object_get(root, "apps");
	if (!json_is_array(apps))
		goto fail;
	if (json_array_size(apps) > SE_MAX_APPS) {
		rc = TS_ELIMIT;
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(apps); i++) {
		se_app_rec *a = &c->apps[c->n_apps];
		memset(a, 0, sizeof(*a));
		c->n_apps++; /* counted first so that a failure frees a partial record */
		if ((rc = load_app(json_array_get(apps, i), a)) != 0)
			goto fail;
		/* 1: none stored (aid[0] stays 0); it is given below. */
		if ((rc = load_app_identity(json_array_get(apps, i), a)) < 0)
			goto fail;
		for (size_t j = 0; j + 1 < c->n_apps; j++) {
			if (strcmp(c->apps[j].app_id, a->app_id) == 0) {
				rc = TS_EPARSE;
				goto fail;
			}
		}
	}
	/* Apps without an identity get one now; then no two may share one. */
	for (size_t i = 0; i < c->n_apps; i++) {
		if (c->apps[i].aid[0] == 0 && (rc = se_app_identity(c, &c->apps[i])) != 0)
			goto fail;
	}
	for (size_t i = 0; i < c->n_apps; i++) {
		for (size_t j = 0; j < i; j++) {
			if (memcmp(c->apps[i].iccid, c->apps[j].iccid, ES10_ICCID_LEN) == 0 ||
			    memcmp(c->apps[i].aid, c->apps[j].aid, SE_ISDR_AID_LEN) == 0) {
				rc = TS_EPARSE;
				goto fail;
			}
		}
	}
	rc = TS_EPARSE;
	json_t *dp = json_object_get(root, "default_dp");
	if (dp != NULL) {
		if (copy_str(root, "default_dp", c->default_dp, sizeof(c->default_dp), 1) != 0)
			goto fail;
		c->has_default_dp = 1;
	}
	if (json_object_get(root, "root_ds") == NULL)
		memcpy(c->root_ds, SE_ROOT_DS_DEFAULT, sizeof(SE_ROOT_DS_DEFAULT));
	else if (copy_str(root, "root_ds", c->root_ds, sizeof(c->root_ds), 1) != 0)
		goto fail;
	json_t *pend = json_object_get(root, "pending");
	if (!json_is_array(pend))
		goto fail;
	if (json_array_size(pend) > SE_MAX_PENDING) {
		rc = TS_ELIMIT;
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(pend); i++) {
		json_t *o = json_array_get(pend, i);
		json_int_t s;
		const char *b = json_string_value(json_object_get(o, "notification"));
		if (!json_is_object(o) || get_int(o, "seq", 0, &s) != 0 || b == NULL)
			goto fail;
		if (json_object_get(o, "event") == NULL) {
			log_warn("dropping pending notification %lld of an old state file (not SGP.22)",
			    (long long)s);
			continue;
		}
		se_pending *p = &c->pending[c->n_pending];
		memset(p, 0, sizeof(*p));
		c->n_pending++; /* counted first so that a failure frees it */
		es10_pending chk;
		json_int_t ev;
		if (get_int(o, "event", 0, &ev) != 0 || ev > ES10_EVENT_DELETE ||
		    ts_b64_decode(b, &p->der, &p->len) != 0 ||
		    es10_pending_decode(p->der, p->len, &chk) != 0 || chk.meta.seq != (uint64_t)s ||
		    chk.meta.event != (uint32_t)ev)
			goto fail;
		p->event = (uint32_t)ev;
		p->seq = (uint64_t)s;
	}
	rc = 0;
fail:
	json_decref(root);
	return rc;
}

static int
set_new(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL)
		return TS_ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : TS_ENOMEM;
}

static int
set_cert(json_t *obj, const char *key, const X509 *cert)
{
	char *pem = NULL;
	int rc = pki_cert_to_pem(cert, &pem);
	if (rc != 0)
		return rc;
	rc = set_new(obj, key, json_string(pem));
	free(pem);
	return rc;
}

static int
set_b64(json_t *obj, const char *key, const uint8_t *buf, size_t len)
{
	char *s = NULL;
	if (len == 0)
		return set_new(obj, key, json_string(""));
	int rc = ts_b64_encode(buf, len, &s);
	if (rc != 0)
		return rc;
	rc = set_new(obj, key, json_string(s));
	free(s);
	return rc;
}

/* Bank-ID members of one app object (see the layout at the top). */
static int
save_app_key(json_t *o, const se_app_rec *a)
{
	char *pem = NULL;
	size_t pem_len = 0;
	if (a->app_key == NULL)
		return 0;
	int rc = key_to_pem(a->app_key, &pem, &pem_len);
	if (rc != 0)
		return rc;
	rc = set_new(o, "app_key", json_string(pem));
	OPENSSL_cleanse(pem, pem_len);
	free(pem);
	if (rc == 0 && a->cert_der != NULL)
		rc = set_b64(o, "app_cert", a->cert_der, a->cert_der_len);
	return rc;
}

/* The notification counter and not_after fit json_int_t (long long). */
int
se_state_save(const se_card *c)
{
	int rc = TS_ENOMEM;
	char *kpem = NULL, *text = NULL;
	size_t kpem_len = 0, text_len = 0;
	json_t *root = json_object();
	json_t *apps = json_array();
	json_t *pend = json_array();
	if (root == NULL || apps == NULL || pend == NULL)
		goto fail;
	if ((rc = set_new(root, "version", json_integer(STATE_VERSION))) != 0 ||
	    (rc = set_new(root, "eid", json_string(c->eid.digits))) != 0)
		goto fail;
	if ((rc = key_to_pem(c->euicc_key, &kpem, &kpem_len)) != 0)
		goto fail;
	if ((rc = set_new(root, "euicc_key", json_string(kpem))) != 0 ||
	    (rc = set_cert(root, "euicc_cert", c->euicc_cert)) != 0 ||
	    (rc = set_cert(root, "eum_cert", c->eum_cert)) != 0 ||
	    (rc = set_cert(root, "ci_cert", c->ci_cert)) != 0 ||
	    (rc = set_new(root, "notification_seq", json_integer((json_int_t)c->notif_seq))) != 0)
		goto fail;
	for (size_t i = 0; i < c->n_apps; i++) {
		const se_app_rec *a = &c->apps[i];
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(apps, o) != 0) {
			rc = TS_ENOMEM;
			goto fail;
		}
		if ((rc = set_new(o, "app_id", json_string(a->app_id))) != 0 ||
		    (rc = set_new(o, "name", json_string(a->name))) != 0 ||
		    (rc = set_new(o, "kind", json_string(a->kind))) != 0 ||
		    (rc = set_new(o, "provider", json_string(a->provider))) != 0 ||
		    (rc = set_new(o, "enabled", json_boolean(a->enabled))) != 0 ||
		    (rc = set_new(o, "not_after", json_integer((json_int_t)a->not_after))) != 0 ||
		    (rc = set_b64(o, "payload", a->payload, a->payload_len)) != 0)
			goto fail;
		if ((rc = save_app_key(o, a)) != 0)
			goto fail;
		char digits[ES10_ICCID_DIGITS_MAX + 1], hex[2 * SE_ISDR_AID_LEN + 1];
		if ((rc = es10_iccid_to_digits(a->iccid, digits)) != 0)
			goto fail;
		for (size_t k = 0; k < SE_ISDR_AID_LEN; k++)
			(void)ts_snprintf(hex + 2 * k, 3, "%02X", a->aid[k]);
		if ((rc = set_new(o, "iccid", json_string(digits))) != 0 ||
		    (rc = set_new(o, "isdp_aid", json_string(hex))) != 0 ||
		    (rc = set_new(o, "nickname", json_string(a->nickname))) != 0 ||
		    (rc = set_new(o, "notification_address", json_string(a->notif_address))) != 0)
			goto fail;
	}
	if (c->has_default_dp && (rc = set_new(root, "default_dp", json_string(c->default_dp))) != 0)
		goto fail;
	if ((rc = set_new(root, "root_ds", json_string(c->root_ds))) != 0)
		goto fail;
	for (size_t i = 0; i < c->n_pending; i++) {
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(pend, o) != 0) {
			rc = TS_ENOMEM;
			goto fail;
		}
		const se_pending *p = &c->pending[i];
		if ((rc = set_new(o, "seq", json_integer((json_int_t)p->seq))) != 0)
			goto fail;
		if ((rc = set_new(o, "event", json_integer((json_int_t)p->event))) != 0 ||
		    (rc = set_b64(o, "notification", p->der, p->len)) != 0)
			goto fail;
	}
	if ((rc = set_new(root, "apps", apps)) != 0) {
		apps = NULL;
		goto fail;
	}
	apps = NULL;
	if ((rc = set_new(root, "pending", pend)) != 0) {
		pend = NULL;
		goto fail;
	}
	pend = NULL;
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	text_len = strlen(text);
	rc = ts_write_file_atomic(c->path, (const uint8_t *)text, text_len, 0600);
fail:
	if (kpem != NULL) {
		OPENSSL_cleanse(kpem, kpem_len);
		free(kpem);
	}
	if (text != NULL) {
		OPENSSL_cleanse(text, text_len);
		free(text);
	}
	json_decref(apps);
	json_decref(pend);
	/* The key PEM inside the tree is freed by jansson without wiping; it
	 * lived only as long as this call. */
	json_decref(root);
	return rc;
}

int
se_card_init_state(const char *state_path, const char *pki_dir, const char *eid)
{
	if (state_path == NULL || pki_dir == NULL || eid == NULL)
		return TS_EINVAL;
	se_card c;
	memset(&c, 0, sizeof(c));
	char path[PATH_MAX];
	eid_t cert_eid;
	STACK_OF(X509) *inter = NULL;
	int rc = eid_parse(eid, &c.eid);
	if (rc != 0)
		return rc;
	struct stat st;
	if (stat(state_path, &st) == 0)
		return TS_EEXIST;
	if (errno != ENOENT)
		return TS_EIO;

	if ((rc = ts_snprintf(path, sizeof(path), "%s/euicc-%s.key", pki_dir, eid)) != 0 ||
	    (rc = pki_key_load(path, &c.euicc_key)) != 0)
		goto fail;
	if ((rc = ts_snprintf(path, sizeof(path), "%s/euicc-%s.crt", pki_dir, eid)) != 0 ||
	    (rc = pki_cert_load(path, &c.euicc_cert)) != 0)
		goto fail;
	if ((rc = ts_snprintf(path, sizeof(path), "%s/eum.crt", pki_dir)) != 0 ||
	    (rc = pki_cert_load(path, &c.eum_cert)) != 0)
		goto fail;
	if ((rc = ts_snprintf(path, sizeof(path), "%s/ci.crt", pki_dir)) != 0 ||
	    (rc = pki_cert_load(path, &c.ci_cert)) != 0)
		goto fail;

	/* The state must be self-consistent: key matches certificate, the
	 * certificate carries this EID and chains CI -> EUM -> eUICC. */
	rc = TS_EVERIFY;
	if (X509_check_private_key(c.euicc_cert, c.euicc_key) != 1)
		goto fail;
	if (pki_cert_eid(c.euicc_cert, &cert_eid) != 0 ||
	    strcmp(cert_eid.digits, c.eid.digits) != 0)
		goto fail;
	inter = sk_X509_new_null();
	if (inter == NULL || sk_X509_push(inter, c.eum_cert) <= 0) {
		rc = TS_ENOMEM;
		goto fail;
	}
	/* SGP.22 profile: CI role, EUM role with nameConstraints permitting
	 * this eUICC, eUICC role. */
	char why[300];
	if ((rc = pki_verify_role(c.ci_cert, inter, c.euicc_cert, PKI_ROLE_EUICC, why, sizeof(why))) != 0) {
		log_error("%s/euicc-%s.crt: %s", pki_dir, eid, why);
		goto fail;
	}
	memcpy(c.root_ds, SE_ROOT_DS_DEFAULT, sizeof(SE_ROOT_DS_DEFAULT));
	c.path = strdup(state_path);
	if (c.path == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	rc = se_state_save(&c);
fail:
	sk_X509_free(inter); /* the EUM certificate is freed below */
	se_state_clear(&c);
	return rc;
}

int
se_card_preinstall(const char *state_path, const char *app_id, const char *kind,
    const char *provider, const char *name)
{
	if (state_path == NULL || app_id == NULL || kind == NULL || provider == NULL)
		return TS_EINVAL;
	if (name == NULL || name[0] == '\0')
		name = app_id;
	if (app_id[0] == '\0' || provider[0] == '\0' || strlen(app_id) > RSP_STR_MAX ||
	    strlen(provider) > RSP_STR_MAX || strlen(name) > RSP_STR_MAX)
		return TS_EINVAL;
	if (strcmp(kind, "sim") != 0 && strcmp(kind, "bankid") != 0 && strcmp(kind, "service") != 0)
		return TS_EINVAL;
	se_card c;
	memset(&c, 0, sizeof(c));
	int rc = se_state_load(&c, state_path);
	if (rc != 0)
		goto fail;
	for (size_t i = 0; i < c.n_apps; i++) {
		if (strcmp(c.apps[i].app_id, app_id) == 0) {
			rc = TS_EEXIST;
			goto fail;
		}
	}
	if (c.n_apps == SE_MAX_APPS) {
		rc = TS_ELIMIT;
		goto fail;
	}
	se_app_rec *a = &c.apps[c.n_apps];
	memset(a, 0, sizeof(*a));
	/* Lengths checked above; the buffers hold RSP_STR_MAX + 1 (kind: 32). */
	(void)ts_snprintf(a->app_id, sizeof(a->app_id), "%s", app_id);
	(void)ts_snprintf(a->name, sizeof(a->name), "%s", name);
	(void)ts_snprintf(a->kind, sizeof(a->kind), "%s", kind);
	(void)ts_snprintf(a->provider, sizeof(a->provider), "%s", provider);
	a->enabled = 1;
	c.n_apps++;
	/* No download, so no SM-DP+ to notify: notifications go to the default
	 * SM-DP+ address when one is configured ("" otherwise). */
	if (c.has_default_dp)
		memcpy(a->notif_address, c.default_dp, sizeof(a->notif_address));
	if ((rc = se_app_identity(&c, a)) != 0)
		goto fail;
	rc = se_state_save(&c);
fail:
	se_state_clear(&c);
	return rc;
}
