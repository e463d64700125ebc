/*
 * rsp.c — DER encodings of the download structures; contract in rsp.h.
 *
 * Decoding discipline (the same for every structure): the input is exactly one
 * TLV with the expected tag (TS_ETRAILING otherwise); its children appear in
 * the documented order, each exactly once; an unknown or missing child is
 * TS_EPARSE; fixed-size fields have their exact length; strings fit the
 * caller's fixed field and contain no NUL byte; integers are minimal.
 * The output struct is zeroed first and is only meaningful when 0 is returned.
 */
#include "lib/rsp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/der.h"
#include "lib/ts_err.h"

#define TAG_SEQ 0x30
#define TAG_INT 0x02
#define TAG_CTX0 0x80
#define TAG_CTX1 0x81
#define TAG_CTX2 0x82
#define TAG_CTX3 0x83
#define TAG_CTX4 0x84
#define TAG_CRT_A0 0xA0
#define TAG_EID 0x5A
#define TAG_OTPK 0x5F49
#define TAG_SIG 0x5F37
#define TAG_NOTIFICATION 0xBF2F
#define TAG_METADATA 0xE3
#define TAG_MD_NAME 0x91
#define TAG_MD_KIND 0x95
#define TAG_AUTH_SERVER 0xBF38
#define TAG_PREPARE_DOWNLOAD 0xBF21

#define RSP_KIND_MAX 31 /* sizeof(rsp_metadata.kind) - 1 */

/* ---- shared helpers ----------------------------------------------------- */

/* Length of s if it is shorter than cap (so it fits a char[cap]), else -1. */
static int
str_fits(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	return n < cap ? 0 : -1;
}

static int
put_str_bounded(der_writer *w, uint32_t tag, const char *s, size_t cap)
{
	if (str_fits(s, cap) != 0)
		return TS_ELIMIT;
	return der_put_str(w, tag, s);
}

/* Minimal two's-complement encoding of a signed 32-bit value. */
static int
put_int(der_writer *w, uint32_t tag, int32_t v)
{
	uint8_t b[4];
	size_t n = 4;
	for (size_t i = 0; i < 4; i++)
		b[i] = (uint8_t)((uint32_t)v >> (8 * (3 - i)));
	size_t s = 0;
	while (n - s > 1 && ((b[s] == 0x00 && !(b[s + 1] & 0x80)) ||
	                        (b[s] == 0xff && (b[s + 1] & 0x80))))
		s++;
	return der_put(w, tag, b + s, n - s);
}

static int
finish(der_writer *w, uint8_t **out, size_t *len)
{
	int rc = der_writer_finish(w, out, len);
	der_writer_clear(w);
	return rc;
}

/* Reads the whole buffer as one TLV with tag; truncation is a parse error. */
static int
read_top(const uint8_t *buf, size_t len, uint32_t tag, der_tlv *t)
{
	if (buf == NULL)
		return TS_EINVAL;
	int rc = der_read_one(buf, len, t);
	if (rc == TS_EAGAIN)
		return TS_EPARSE;
	if (rc != 0)
		return rc;
	return t->tag == tag ? 0 : TS_EPARSE;
}

static int
get_fixed(const der_tlv *t, uint8_t *out, size_t n)
{
	if (t->len != n)
		return TS_EPARSE;
	memcpy(out, t->val, n);
	return 0;
}

/* Copies a string value into char[cap]: at most cap-1 bytes, no NUL inside. */
static int
get_str(const der_tlv *t, char *out, size_t cap)
{
	if (t->len >= cap)
		return TS_ELIMIT;
	if (t->len > 0 && memchr(t->val, '\0', t->len) != NULL)
		return TS_EPARSE;
	if (t->len > 0)
		memcpy(out, t->val, t->len);
	out[t->len] = '\0';
	return 0;
}

/* Minimal unsigned integer, 1..8 bytes. */
static int
get_uint(const der_tlv *t, uint64_t *out)
{
	if (t->len == 0 || t->len > 8 || (t->len > 1 && t->val[0] == 0x00))
		return TS_EPARSE;
	uint64_t v = 0;
	for (size_t i = 0; i < t->len; i++)
		v = v << 8 | t->val[i];
	*out = v;
	return 0;
}

/* Minimal two's-complement integer, 1..4 bytes. */
static int
get_int(const der_tlv *t, int32_t *out)
{
	const uint8_t *p = t->val;
	if (t->len == 0 || t->len > 4)
		return TS_EPARSE;
	if (t->len > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xff && (p[1] & 0x80))))
		return TS_EPARSE;
	uint32_t v = (p[0] & 0x80) ? UINT32_MAX : 0;
	for (size_t i = 0; i < t->len; i++)
		v = v << 8 | p[i];
	*out = (int32_t)v;
	return 0;
}

/* ---- metadata ----------------------------------------------------------- */

int
rsp_metadata_encode(const rsp_metadata *m, uint8_t **out, size_t *len)
{
	der_writer w;
	int rc;
	if (m == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (m->not_after < 0)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_METADATA);
	if ((rc = put_str_bounded(&w, TAG_CTX0, m->app_id, sizeof(m->app_id))) != 0 ||
	    (rc = put_str_bounded(&w, TAG_MD_NAME, m->name, sizeof(m->name))) != 0 ||
	    (rc = put_str_bounded(&w, TAG_MD_KIND, m->kind, sizeof(m->kind))) != 0 ||
	    (rc = put_str_bounded(&w, TAG_CTX3, m->provider, sizeof(m->provider))) != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_put_uint(&w, TAG_CTX2, (uint64_t)m->not_after);
	der_end(&w);
	return finish(&w, out, len);
}

int
rsp_metadata_decode(const uint8_t *buf, size_t len, rsp_metadata *m)
{
	der_tlv top, t;
	der_iter it;
	uint64_t v = 0;
	int rc;
	if (m == NULL)
		return TS_EINVAL;
	memset(m, 0, sizeof(*m));
	if ((rc = read_top(buf, len, TAG_METADATA, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_CTX0, &t)) != 0 ||
	    (rc = get_str(&t, m->app_id, sizeof(m->app_id))) != 0 ||
	    (rc = der_iter_expect(&it, TAG_MD_NAME, &t)) != 0 ||
	    (rc = get_str(&t, m->name, sizeof(m->name))) != 0 ||
	    (rc = der_iter_expect(&it, TAG_MD_KIND, &t)) != 0 ||
	    (rc = get_str(&t, m->kind, sizeof(m->kind))) != 0 ||
	    (rc = der_iter_expect(&it, TAG_CTX3, &t)) != 0 ||
	    (rc = get_str(&t, m->provider, sizeof(m->provider))) != 0 ||
	    (rc = der_iter_expect(&it, TAG_CTX2, &t)) != 0 || (rc = get_uint(&t, &v)) != 0 ||
	    (rc = der_iter_end(&it)) != 0)
		return rc;
	if (v > (uint64_t)INT64_MAX)
		return TS_ELIMIT;
	m->not_after = (int64_t)v;
	return 0;
}

/* ---- notification ------------------------------------------------------- */

static int
notification_body(const rsp_notification *n, uint8_t **out, size_t *len)
{
	der_writer w;
	uint8_t eb[EID_BYTES];
	if (n->event < RSP_EVENT_INSTALL || n->event > RSP_EVENT_DELETE)
		return TS_EINVAL;
	if (str_fits(n->app_id, sizeof(n->app_id)) != 0)
		return TS_ELIMIT;
	if (!eid_is_valid(n->eid.digits) || strnlen(n->eid.digits, sizeof(n->eid.digits)) != EID_DIGITS)
		return TS_EINVAL;
	eid_to_bytes(&n->eid, eb);
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	der_put_uint(&w, TAG_CTX0, n->seq);
	der_put_uint(&w, TAG_CTX1, (uint64_t)n->event);
	der_put_str(&w, TAG_CTX2, n->app_id);
	der_put(&w, TAG_EID, eb, EID_BYTES);
	if (n->has_tid)
		der_put(&w, TAG_CTX3, n->transaction_id, RSP_TID_LEN);
	put_int(&w, TAG_CTX4, (int32_t)n->result);
	if (n->has_app_key)
		der_put(&w, 0x85, n->app_key, PKI_PUBKEY_LEN);
	der_end(&w);
	return finish(&w, out, len);
}

int
rsp_notification_sign(const rsp_notification *n, EVP_PKEY *key, uint8_t **out, size_t *len)
{
	int rc;
	uint8_t *body = NULL;
	size_t bodylen = 0;
	uint8_t sig[PKI_SIG_LEN];
	der_writer w;
	if (n == NULL || key == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if ((rc = notification_body(n, &body, &bodylen)) != 0)
		return rc;
	if ((rc = pki_sign(key, body, bodylen, sig)) != 0)
		goto fail;
	der_writer_init(&w);
	der_begin(&w, TAG_NOTIFICATION);
	der_put_raw(&w, body, bodylen);
	der_put(&w, TAG_SIG, sig, sizeof(sig));
	der_end(&w);
	rc = finish(&w, out, len);
fail:
	free(body);
	return rc;
}

int
rsp_notification_decode(const uint8_t *buf, size_t len, EVP_PKEY *pub, rsp_notification *n)
{
	der_tlv top, body, sig, t;
	der_iter it, in;
	uint64_t v = 0;
	int32_t res = 0;
	int rc;
	if (n == NULL)
		return TS_EINVAL;
	memset(n, 0, sizeof(*n));
	if ((rc = read_top(buf, len, TAG_NOTIFICATION, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_SEQ, &body)) != 0 || (rc = der_iter_expect(&it, TAG_SIG, &sig)) != 0 ||
	    (rc = der_iter_end(&it)) != 0)
		return rc;
	if (sig.len != PKI_SIG_LEN)
		return TS_EPARSE;

	der_iter_init(&in, body.val, body.len);
	if ((rc = der_iter_expect(&in, TAG_CTX0, &t)) != 0 || (rc = get_uint(&t, &v)) != 0)
		goto fail;
	n->seq = v;
	if ((rc = der_iter_expect(&in, TAG_CTX1, &t)) != 0 || (rc = get_uint(&t, &v)) != 0)
		goto fail;
	if (v > RSP_EVENT_DELETE) {
		rc = TS_EPARSE;
		goto fail;
	}
	n->event = (int)v;
	if ((rc = der_iter_expect(&in, TAG_CTX2, &t)) != 0 ||
	    (rc = get_str(&t, n->app_id, sizeof(n->app_id))) != 0 ||
	    (rc = der_iter_expect(&in, TAG_EID, &t)) != 0)
		goto fail;
	if (t.len != EID_BYTES) {
		rc = TS_EPARSE;
		goto fail;
	}
	if ((rc = eid_from_bytes(t.val, &n->eid)) != 0)
		goto fail;
	/* Optional transactionId, then the result. */
	rc = der_iter_next(&in, &t);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		rc = TS_EPARSE;
		goto fail;
	}
	if (t.tag == TAG_CTX3) {
		if ((rc = get_fixed(&t, n->transaction_id, RSP_TID_LEN)) != 0)
			goto fail;
		n->has_tid = 1;
		if ((rc = der_iter_expect(&in, TAG_CTX4, &t)) != 0)
			goto fail;
	} else if (t.tag != TAG_CTX4) {
		rc = TS_EPARSE;
		goto fail;
	}
	if ((rc = get_int(&t, &res)) != 0)
		goto fail;
	n->result = res;
	/* Optional app public key, then nothing. */
	rc = der_iter_next(&in, &t);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		if (t.tag != 0x85) {
			rc = TS_EPARSE;
			goto fail;
		}
		if ((rc = get_fixed(&t, n->app_key, PKI_PUBKEY_LEN)) != 0 || (rc = der_iter_end(&in)) != 0)
			goto fail;
		n->has_app_key = 1;
	}

	/* Signature over the whole 30 TLV as it came in. */
	if (pub != NULL) {
		const uint8_t *b = body.val - body.hdr_len;
		if ((rc = pki_verify(pub, b, body.hdr_len + body.len, sig.val)) != 0)
			goto fail;
	}
	return 0;
fail:
	memset(n, 0, sizeof(*n));
	return rc;
}

/* ---- share offer (claims 20/33) ------------------------------------------ */

#define TAG_OFFER 0xBF70u

static int
offer_body(const rsp_offer *o, uint8_t **out, size_t *len)
{
	der_writer w;
	if (o->expires_at < 0 || str_fits(o->device_id, sizeof(o->device_id)) != 0 ||
	    strlen(o->device_id) != 64 || str_fits(o->eid, sizeof(o->eid)) != 0 ||
	    (o->eid[0] != '\0' && (strlen(o->eid) != 32 || strspn(o->eid, "0123456789") != 32)))
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	put_str_bounded(&w, TAG_CTX0, o->app_id, sizeof(o->app_id));
	der_put_str(&w, TAG_CTX1, o->device_id);
	der_put_uint(&w, TAG_CTX2, (uint64_t)o->expires_at);
	der_put(&w, 0x83, o->nonce, RSP_OFFER_NONCE_LEN);
	if (o->eid[0] != '\0')
		der_put_str(&w, 0x84, o->eid);
	der_end(&w);
	return finish(&w, out, len);
}

int
rsp_offer_sign(const rsp_offer *o, EVP_PKEY *key, const uint8_t *cert_der, size_t cert_len,
    uint8_t **out, size_t *len)
{
	uint8_t *body = NULL, sig[PKI_SIG_LEN];
	size_t bodylen = 0;
	der_writer w;
	int rc;
	if (o == NULL || key == NULL || cert_der == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if ((rc = offer_body(o, &body, &bodylen)) != 0)
		return rc;
	if ((rc = pki_sign(key, body, bodylen, sig)) != 0)
		goto fail;
	der_writer_init(&w);
	der_begin(&w, TAG_OFFER);
	der_put_raw(&w, body, bodylen);
	der_put(&w, TAG_SIG, sig, sizeof(sig));
	der_put_raw(&w, cert_der, cert_len);
	der_end(&w);
	rc = finish(&w, out, len);
fail:
	free(body);
	return rc;
}

int
rsp_offer_decode(const uint8_t *buf, size_t len, rsp_offer *o)
{
	der_tlv top, body, sig, cert, t;
	der_iter it, in;
	uint64_t v = 0;
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	int rc;
	if (o == NULL)
		return TS_EINVAL;
	memset(o, 0, sizeof(*o));
	if ((rc = read_top(buf, len, TAG_OFFER, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_SEQ, &body)) != 0 || (rc = der_iter_expect(&it, TAG_SIG, &sig)) != 0 ||
	    (rc = der_iter_expect(&it, TAG_SEQ, &cert)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	if (sig.len != PKI_SIG_LEN)
		return TS_EPARSE;
	der_iter_init(&in, body.val, body.len);
	if ((rc = der_iter_expect(&in, TAG_CTX0, &t)) != 0 || (rc = get_str(&t, o->app_id, sizeof(o->app_id))) != 0 ||
	    (rc = der_iter_expect(&in, TAG_CTX1, &t)) != 0 || (rc = get_str(&t, o->device_id, sizeof(o->device_id))) != 0 ||
	    (rc = der_iter_expect(&in, TAG_CTX2, &t)) != 0 || (rc = get_uint(&t, &v)) != 0 ||
	    (rc = der_iter_expect(&in, 0x83, &t)) != 0 || (rc = get_fixed(&t, o->nonce, RSP_OFFER_NONCE_LEN)) != 0)
		goto fail;
	/* optional 84 eid: exactly 32 digits */
	if ((rc = der_iter_next(&in, &t)) < 0)
		goto fail;
	if (rc == 1) {
		if (t.tag != 0x84 || (rc = get_str(&t, o->eid, sizeof(o->eid))) != 0 || strlen(o->eid) != 32 ||
		    strspn(o->eid, "0123456789") != 32) {
			rc = TS_EPARSE;
			goto fail;
		}
	}
	if ((rc = der_iter_end(&in)) != 0)
		goto fail;
	if (v > INT64_MAX || strlen(o->device_id) != 64 || o->app_id[0] == '\0') {
		rc = TS_EPARSE;
		goto fail;
	}
	o->expires_at = (int64_t)v;
	o->cert = cert.val - cert.hdr_len;
	o->cert_len = cert.hdr_len + cert.len;
	if ((rc = pki_cert_from_der(o->cert, o->cert_len, &x)) != 0)
		goto fail;
	pub = X509_get_pubkey(x);
	if (pub == NULL) {
		rc = TS_EPARSE;
		goto fail;
	}
	/* The signature covers the whole 30 TLV, header included. */
	rc = pki_verify(pub, body.val - body.hdr_len, body.hdr_len + body.len, sig.val) == 0 ? 0 : TS_EVERIFY;
fail:
	EVP_PKEY_free(pub);
	X509_free(x);
	return rc;
}
