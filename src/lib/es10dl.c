/*
 * es10dl.c — the download structures of the ES10 codec; contract and byte
 * layouts in es10dl.h. Decoding discipline as in es10.c: the output struct is
 * zeroed first and meaningful only when 0 is returned.
 */
#include "lib/es10dl.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/der.h"
#include "lib/es10_int.h"
#include "lib/ossl.h"
#include "lib/ts_err.h"

#define TAG_SEQ 0x30
#define TAG_BOOL 0x01
#define TAG_INT 0x02
#define TAG_OCTETS 0x04
#define TAG_A0 0xA0
#define TAG_A1 0xA1

/* ---- helpers ------------------------------------------------------------ */

static int
utf8_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	return n <= max && es10_utf8_valid((const uint8_t *)s, n);
}

/* A positive INTEGER error code 1..127 (one octet, DER-minimal). */
static int
get_code(const der_tlv *t, int *out)
{
	if (t->len != 1 || t->val[0] == 0 || t->val[0] > 0x7F)
		return TS_EPARSE;
	*out = t->val[0];
	return 0;
}

static void
span_of(const der_tlv *t, es10_span *s)
{
	s->p = t->val - t->hdr_len;
	s->len = t->hdr_len + t->len;
}

/* A span must be exactly one TLV with tag. */
static int
span_ok(const es10_span *s, uint32_t tag)
{
	der_tlv t;
	if (s->p == NULL || der_read_one(s->p, s->len, &t) != 0 || t.tag != tag)
		return 0;
	return 1;
}

/* Next element for a response decoder: skips (well-formed) elements whose tag
 * is not in known[] and returns the next known one; rc 0 at the end. */
static int
next_known(der_iter *it, const uint32_t *known, size_t nknown, der_tlv *out)
{
	for (;;) {
		int rc = der_iter_next(it, out);
		if (rc <= 0)
			return rc;
		for (size_t i = 0; i < nknown; i++)
			if (out->tag == known[i])
				return 1;
		if (der_tag_constructed(out->tag) &&
		    der_validate(out->val - out->hdr_len, out->hdr_len + out->len) != 0)
			return TS_EPARSE;
	}
}

/* The one alternative of a response CHOICE whose alternatives are alts[0..1]. */
static int
get_alternative(const uint8_t *buf, size_t len, uint32_t tag, const uint32_t alts[2], der_tlv *ch)
{
	der_tlv top, t;
	der_iter it;
	int rc;
	if ((rc = es10i_top(buf, len, tag, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = next_known(&it, alts, 2, ch)) <= 0)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = next_known(&it, alts, 2, &t)) != 0)
		return rc < 0 ? rc : TS_EPARSE;
	return 0;
}

/* A response's ok alternative { 30 signed data, 5F37 signature } (unknown
 * elements skipped): the signed TLV's span and the signature. */
static int
get_signed_ok(const der_tlv *ch, es10_span *signed_tlv, uint8_t sig[ES10_SIG_LEN])
{
	static const uint32_t known[] = { TAG_SEQ, ES10_TAG_SIGNATURE };
	der_iter in;
	der_tlv t;
	int rc;
	der_iter_init(&in, ch->val, ch->len);
	if ((rc = next_known(&in, known, 2, &t)) <= 0 || t.tag != TAG_SEQ)
		return rc < 0 ? rc : TS_EPARSE;
	span_of(&t, signed_tlv);
	if ((rc = next_known(&in, known, 2, &t)) <= 0 || t.tag != ES10_TAG_SIGNATURE ||
	    (rc = es10i_get_fixed(&t, sig, ES10_SIG_LEN)) != 0)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = next_known(&in, known, 2, &t)) != 0)
		return rc < 0 ? rc : TS_EPARSE;
	return 0;
}

/* A0 { signed TLV, 5F37 40 signature } */
static void
put_signed_ok(der_writer *w, const es10_span *signed_tlv, const uint8_t sig[ES10_SIG_LEN])
{
	der_begin(w, TAG_A0);
	der_put_raw(w, signed_tlv->p, signed_tlv->len);
	der_put(w, ES10_TAG_SIGNATURE, sig, ES10_SIG_LEN);
	der_end(w);
}

/* The prologue the decoders of the signed structures (and of CancelSession's
 * request) share: buf is one TLV with tag, whose first element is
 * transactionId [0] (1..16 bytes) into tid; *it is left after it. Nothing is
 * written to tid unless it is well-formed. */
static int
open_with_tid(const uint8_t *buf, size_t len, uint32_t tag, der_iter *it, uint8_t *tid, size_t *tid_len)
{
	der_tlv top, t;
	int rc = es10i_top(buf, len, tag, &top);
	if (rc != 0)
		return rc;
	der_iter_init(it, top.val, top.len);
	if ((rc = der_iter_expect(it, 0x80, &t)) != 0)
		return rc;
	return es10i_get_var(&t, tid, 1, ES10_TID_MAX, tid_len);
}

/* ---- GetEuiccChallenge ---------------------------------------------------- */

int
es10_challenge_resp_encode(const uint8_t ch[ES10_CHALLENGE_LEN], uint8_t **out, size_t *len)
{
	der_writer w;
	if (ch == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_GET_EUICC_CHALLENGE);
	der_put(&w, 0x80, ch, ES10_CHALLENGE_LEN);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_challenge_resp_decode(const uint8_t *buf, size_t len, uint8_t ch[ES10_CHALLENGE_LEN])
{
	der_tlv top, t;
	der_iter it;
	int rc;
	if (ch == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_GET_EUICC_CHALLENGE, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	static const uint32_t known[] = { 0x80 };
	if ((rc = next_known(&it, known, 1, &t)) < 0)
		return rc;
	if (rc == 0)
		return TS_EPARSE;
	if ((rc = es10i_get_fixed(&t, ch, ES10_CHALLENGE_LEN)) != 0)
		return rc;
	if ((rc = next_known(&it, known, 1, &t)) != 0)
		return rc < 0 ? rc : TS_EPARSE;
	return 0;
}

/* ---- ServerSigned1 -------------------------------------------------------- */

int
es10_server_signed1_encode(const es10_server_signed1 *s, uint8_t **out, size_t *len)
{
	der_writer w;
	if (s == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (s->tid_len < 1 || s->tid_len > ES10_TID_MAX || !utf8_ok(s->server_address, ES10_ADDR_MAX))
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	der_put(&w, 0x80, s->tid, s->tid_len);
	der_put(&w, 0x81, s->euicc_challenge, ES10_CHALLENGE_LEN);
	der_put_str(&w, 0x83, s->server_address);
	der_put(&w, 0x84, s->server_challenge, ES10_CHALLENGE_LEN);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_server_signed1_decode(const uint8_t *buf, size_t len, es10_server_signed1 *s)
{
	der_tlv t;
	der_iter it;
	int rc;
	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	/* Read by the eUICC: strict, nothing unknown. */
	if ((rc = open_with_tid(buf, len, TAG_SEQ, &it, s->tid, &s->tid_len)) != 0 ||
	    (rc = der_iter_expect(&it, 0x81, &t)) != 0 ||
	    (rc = es10i_get_fixed(&t, s->euicc_challenge, ES10_CHALLENGE_LEN)) != 0 ||
	    (rc = der_iter_expect(&it, 0x83, &t)) != 0 ||
	    (rc = es10i_get_str(&t, s->server_address, ES10_ADDR_MAX)) != 0 ||
	    (rc = der_iter_expect(&it, 0x84, &t)) != 0 ||
	    (rc = es10i_get_fixed(&t, s->server_challenge, ES10_CHALLENGE_LEN)) != 0 ||
	    (rc = der_iter_end(&it)) != 0) {
		memset(s, 0, sizeof(*s));
		return rc;
	}
	return 0;
}

/* ---- CtxParams1 ----------------------------------------------------------- */

/* deviceCapabilities content: context-class elements in strictly ascending
 * tag order; [0]..[11] are VersionType. */
static int
caps_check(const uint8_t *p, size_t n)
{
	der_iter it;
	der_tlv t;
	int rc, last = -1;
	der_iter_init(&it, p, n);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		uint32_t tag = t.tag;
		int num;
		if (tag >= 0x80 && tag <= 0x9E)
			num = (int)(tag - 0x80);
		else if (tag >= 0xA0 && tag <= 0xBE)
			num = (int)(tag - 0xA0);
		else if (tag >= 0x9F1F && tag <= 0x9F7F)
			num = (int)(tag - 0x9F00);
		else if (tag >= 0xBF1F && tag <= 0xBF7F)
			num = (int)(tag - 0xBF00);
		else
			return TS_EPARSE;
		if (num <= last)
			return TS_EPARSE;
		last = num;
		if (num <= 11 && (der_tag_constructed(tag) || t.len != ES10_VERSION_LEN))
			return TS_EPARSE;
		if (der_tag_constructed(tag) && der_validate(t.val - t.hdr_len, t.hdr_len + t.len) != 0)
			return TS_EPARSE;
	}
	return rc;
}

int
es10_device_caps_set(es10_device_info *d, const int *tags, const uint8_t (*versions)[ES10_VERSION_LEN],
    size_t n)
{
	der_writer w;
	uint8_t *b = NULL;
	size_t bl = 0;
	if (d == NULL || (n > 0 && (tags == NULL || versions == NULL)))
		return TS_EINVAL;
	der_writer_init(&w);
	for (size_t i = 0; i < n; i++) {
		if (tags[i] < 0 || tags[i] > 11 || (i > 0 && tags[i] <= tags[i - 1])) {
			der_writer_clear(&w);
			return TS_EINVAL;
		}
		der_put(&w, 0x80u + (uint32_t)tags[i], versions[i], ES10_VERSION_LEN);
	}
	int rc = es10i_finish(&w, &b, &bl);
	if (rc != 0)
		return rc;
	if (bl > ES10_DEVCAPS_MAX) {
		free(b);
		return TS_EINVAL;
	}
	if (bl > 0)
		memcpy(d->caps, b, bl);
	d->caps_len = bl;
	free(b);
	return 0;
}

static int
put_ctx(der_writer *w, const es10_ctx_params1 *c)
{
	if ((c->has_matching_id && !utf8_ok(c->matching_id, ES10_MATCHING_ID_MAX)) ||
	    c->device.caps_len > ES10_DEVCAPS_MAX || caps_check(c->device.caps, c->device.caps_len) != 0)
		return TS_EINVAL;
	der_begin(w, TAG_A0);
	if (c->has_matching_id)
		der_put_str(w, 0x80, c->matching_id);
	der_begin(w, TAG_A1);
	der_put(w, 0x80, c->device.tac, ES10_TAC_LEN);
	der_begin(w, TAG_A1);
	der_put_raw(w, c->device.caps, c->device.caps_len);
	der_end(w);
	if (c->device.has_imei)
		der_put(w, 0x82, c->device.imei, ES10_IMEI_LEN);
	der_end(w);
	der_end(w);
	return w->err;
}

/* t: the A0 TLV. */
static int
get_ctx(const der_tlv *t, es10_ctx_params1 *c)
{
	der_iter it, di;
	der_tlv e, d;
	int rc;
	memset(c, 0, sizeof(*c));
	if (t->tag != TAG_A0)
		return TS_EPARSE;
	der_iter_init(&it, t->val, t->len);
	if ((rc = der_iter_next(&it, &e)) <= 0)
		return rc < 0 ? rc : TS_EPARSE;
	if (e.tag == 0x80) {
		if ((rc = es10i_get_str(&e, c->matching_id, ES10_MATCHING_ID_MAX)) != 0)
			return rc;
		c->has_matching_id = 1;
		if ((rc = der_iter_next(&it, &e)) <= 0)
			return rc < 0 ? rc : TS_EPARSE;
	}
	if (e.tag != TAG_A1 || (rc = der_iter_end(&it)) != 0)
		return TS_EPARSE;
	der_iter_init(&di, e.val, e.len);
	if ((rc = der_iter_expect(&di, 0x80, &d)) != 0 || (rc = es10i_get_fixed(&d, c->device.tac, ES10_TAC_LEN)) != 0 ||
	    (rc = der_iter_expect(&di, TAG_A1, &d)) != 0)
		return rc;
	if (d.len > ES10_DEVCAPS_MAX)
		return TS_ELIMIT;
	if ((rc = caps_check(d.val, d.len)) != 0)
		return rc;
	if (d.len > 0)
		memcpy(c->device.caps, d.val, d.len);
	c->device.caps_len = d.len;
	if ((rc = der_iter_next(&di, &d)) < 0)
		return rc;
	if (rc == 1) {
		if (d.tag != 0x82 || (rc = es10i_get_fixed(&d, c->device.imei, ES10_IMEI_LEN)) != 0)
			return TS_EPARSE;
		c->device.has_imei = 1;
		if ((rc = der_iter_end(&di)) != 0)
			return rc;
	}
	return 0;
}

int
es10_ctx_params1_encode(const es10_ctx_params1 *c, uint8_t **out, size_t *len)
{
	der_writer w;
	if (c == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	der_writer_init(&w);
	int rc = put_ctx(&w, c);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	return es10i_finish(&w, out, len);
}

int
es10_ctx_params1_decode(const uint8_t *buf, size_t len, es10_ctx_params1 *c)
{
	der_tlv t;
	int rc;
	if (c == NULL)
		return TS_EINVAL;
	memset(c, 0, sizeof(*c));
	if ((rc = es10i_top(buf, len, TAG_A0, &t)) != 0)
		return rc;
	if ((rc = get_ctx(&t, c)) != 0)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* ---- AuthenticateServerRequest -------------------------------------------- */

int
es10_auth_server_req_encode(const es10_auth_server_req *r, uint8_t **out, size_t *len)
{
	der_writer w;
	es10_server_signed1 s1;
	int rc;
	if (r == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (es10_server_signed1_decode(r->server_signed1.p, r->server_signed1.len, &s1) != 0 ||
	    !span_ok(&r->server_cert, TAG_SEQ) || r->ci_pkid_len < 1 || r->ci_pkid_len > ES10_PKID_MAX)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_AUTHENTICATE_SERVER);
	der_put_raw(&w, r->server_signed1.p, r->server_signed1.len);
	der_put(&w, ES10_TAG_SIGNATURE, r->server_signature1, ES10_SIG_LEN);
	der_put(&w, TAG_OCTETS, r->ci_pkid, r->ci_pkid_len);
	der_put_raw(&w, r->server_cert.p, r->server_cert.len);
	if ((rc = put_ctx(&w, &r->ctx)) != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_auth_server_req_decode(const uint8_t *buf, size_t len, es10_auth_server_req *r, es10_server_signed1 *s1)
{
	der_tlv top, t;
	der_iter it;
	es10_server_signed1 tmp;
	int rc;
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if (s1 == NULL)
		s1 = &tmp;
	if ((rc = es10i_top(buf, len, ES10_TAG_AUTHENTICATE_SERVER, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_SEQ, &t)) != 0)
		goto fail;
	span_of(&t, &r->server_signed1);
	if ((rc = es10_server_signed1_decode(r->server_signed1.p, r->server_signed1.len, s1)) != 0 ||
	    (rc = der_iter_expect(&it, ES10_TAG_SIGNATURE, &t)) != 0 ||
	    (rc = es10i_get_fixed(&t, r->server_signature1, ES10_SIG_LEN)) != 0 ||
	    (rc = der_iter_expect(&it, TAG_OCTETS, &t)) != 0)
		goto fail;
	if (t.len < 1 || t.len > ES10_PKID_MAX) {
		rc = TS_EPARSE;
		goto fail;
	}
	memcpy(r->ci_pkid, t.val, t.len);
	r->ci_pkid_len = t.len;
	if ((rc = der_iter_expect(&it, TAG_SEQ, &t)) != 0)
		goto fail;
	span_of(&t, &r->server_cert);
	if ((rc = der_iter_expect(&it, TAG_A0, &t)) != 0 || (rc = get_ctx(&t, &r->ctx)) != 0 ||
	    (rc = der_iter_end(&it)) != 0)
		goto fail;
	return 0;
fail:
	memset(r, 0, sizeof(*r));
	memset(s1, 0, sizeof(*s1));
	return rc;
}

/* ---- EuiccSigned1 --------------------------------------------------------- */

static int
info2_ok(const es10_span *s)
{
	es10_euicc_info2 i;
	return s->p != NULL && s->len <= ES10_EUICC_INFO2_MAX && es10_euicc_info2_decode(s->p, s->len, &i) == 0;
}

int
es10_euicc_signed1_encode(const es10_euicc_signed1 *s, uint8_t **out, size_t *len)
{
	der_writer w;
	int rc;
	if (s == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (s->tid_len < 1 || s->tid_len > ES10_TID_MAX || !utf8_ok(s->server_address, ES10_ADDR_MAX) ||
	    !info2_ok(&s->euicc_info2))
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	der_put(&w, 0x80, s->tid, s->tid_len);
	der_put_str(&w, 0x83, s->server_address);
	der_put(&w, 0x84, s->server_challenge, ES10_CHALLENGE_LEN);
	der_put_raw(&w, s->euicc_info2.p, s->euicc_info2.len);
	if ((rc = put_ctx(&w, &s->ctx)) != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_euicc_signed1_decode(const uint8_t *buf, size_t len, es10_euicc_signed1 *s)
{
	der_tlv t;
	der_iter it;
	int rc;
	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	/* Read by the SM-DP+ from any eUICC; the signature covers it as sent,
	 * so the layout is checked exactly. */
	if ((rc = open_with_tid(buf, len, TAG_SEQ, &it, s->tid, &s->tid_len)) != 0 ||
	    (rc = der_iter_expect(&it, 0x83, &t)) != 0 ||
	    (rc = es10i_get_str(&t, s->server_address, ES10_ADDR_MAX)) != 0 ||
	    (rc = der_iter_expect(&it, 0x84, &t)) != 0 ||
	    (rc = es10i_get_fixed(&t, s->server_challenge, ES10_CHALLENGE_LEN)) != 0 ||
	    (rc = der_iter_expect(&it, ES10_TAG_GET_EUICC_INFO2, &t)) != 0)
		goto fail;
	span_of(&t, &s->euicc_info2);
	if (!info2_ok(&s->euicc_info2)) {
		rc = TS_EPARSE;
		goto fail;
	}
	if ((rc = der_iter_expect(&it, TAG_A0, &t)) != 0 || (rc = get_ctx(&t, &s->ctx)) != 0 ||
	    (rc = der_iter_end(&it)) != 0)
		goto fail;
	return 0;
fail:
	memset(s, 0, sizeof(*s));
	return rc;
}

/* ---- the two CHOICE responses -------------------------------------------- */

static int
put_error(der_writer *w, const uint8_t *tid, size_t tid_len, int code)
{
	if (tid_len < 1 || tid_len > ES10_TID_MAX || code < 1 || code > 127)
		return TS_EINVAL;
	uint8_t c = (uint8_t)code;
	der_begin(w, TAG_A1);
	der_put(w, 0x80, tid, tid_len);
	der_put(w, TAG_INT, &c, 1);
	der_end(w);
	return 0;
}

static int
get_error(const der_tlv *e, uint8_t *tid, size_t *tid_len, int *code)
{
	der_iter it;
	der_tlv t;
	int rc;
	static const uint32_t known[] = { 0x80, TAG_INT };
	der_iter_init(&it, e->val, e->len);
	if ((rc = next_known(&it, known, 2, &t)) <= 0 || t.tag != 0x80)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = es10i_get_var(&t, tid, 1, ES10_TID_MAX, tid_len)) != 0)
		return rc;
	if ((rc = next_known(&it, known, 2, &t)) <= 0 || t.tag != TAG_INT)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = get_code(&t, code)) != 0)
		return rc;
	if ((rc = next_known(&it, known, 2, &t)) != 0)
		return rc < 0 ? rc : TS_EPARSE;
	return 0;
}

int
es10_auth_server_resp_encode(const es10_auth_server_resp *r, uint8_t **out, size_t *len)
{
	der_writer w;
	if (r == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_AUTHENTICATE_SERVER);
	if (r->error != 0) {
		if (put_error(&w, r->tid, r->tid_len, r->error) != 0) {
			der_writer_clear(&w);
			return TS_EINVAL;
		}
	} else {
		es10_euicc_signed1 s1;
		if (es10_euicc_signed1_decode(r->euicc_signed1.p, r->euicc_signed1.len, &s1) != 0 ||
		    !span_ok(&r->euicc_cert, TAG_SEQ) || !span_ok(&r->eum_cert, TAG_SEQ)) {
			der_writer_clear(&w);
			return TS_EINVAL;
		}
		der_begin(&w, TAG_A0);
		der_put_raw(&w, r->euicc_signed1.p, r->euicc_signed1.len);
		der_put(&w, ES10_TAG_SIGNATURE, r->euicc_signature1, ES10_SIG_LEN);
		der_put_raw(&w, r->euicc_cert.p, r->euicc_cert.len);
		der_put_raw(&w, r->eum_cert.p, r->eum_cert.len);
		der_end(&w);
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_auth_server_resp_decode(const uint8_t *buf, size_t len, es10_auth_server_resp *r, es10_euicc_signed1 *s1)
{
	der_tlv top, ch, t;
	der_iter it, in;
	es10_euicc_signed1 tmp;
	int rc;
	static const uint32_t alts[] = { TAG_A0, TAG_A1 };
	static const uint32_t ok_known[] = { TAG_SEQ, ES10_TAG_SIGNATURE };
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if (s1 == NULL)
		s1 = &tmp;
	memset(s1, 0, sizeof(*s1));
	if ((rc = es10i_top(buf, len, ES10_TAG_AUTHENTICATE_SERVER, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	/* A CHOICE: exactly one alternative (an unknown extra is skipped). */
	if ((rc = next_known(&it, alts, 2, &ch)) <= 0)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = next_known(&it, alts, 2, &t)) != 0)
		return rc < 0 ? rc : TS_EPARSE;
	if (ch.tag == TAG_A1) {
		if ((rc = get_error(&ch, r->tid, &r->tid_len, &r->error)) != 0)
			goto fail;
		return 0;
	}
	der_iter_init(&in, ch.val, ch.len);
	if ((rc = next_known(&in, ok_known, 2, &t)) <= 0 || t.tag != TAG_SEQ)
		goto bad;
	span_of(&t, &r->euicc_signed1);
	if ((rc = es10_euicc_signed1_decode(r->euicc_signed1.p, r->euicc_signed1.len, s1)) != 0)
		goto fail;
	if ((rc = next_known(&in, ok_known, 2, &t)) <= 0 || t.tag != ES10_TAG_SIGNATURE ||
	    (rc = es10i_get_fixed(&t, r->euicc_signature1, ES10_SIG_LEN)) != 0)
		goto bad;
	if ((rc = next_known(&in, ok_known, 2, &t)) <= 0 || t.tag != TAG_SEQ)
		goto bad;
	span_of(&t, &r->euicc_cert);
	if ((rc = next_known(&in, ok_known, 2, &t)) <= 0 || t.tag != TAG_SEQ)
		goto bad;
	span_of(&t, &r->eum_cert);
	if ((rc = next_known(&in, ok_known, 2, &t)) != 0)
		goto bad;
	return 0;
bad:
	rc = rc < 0 ? rc : TS_EPARSE;
fail:
	memset(r, 0, sizeof(*r));
	memset(s1, 0, sizeof(*s1));
	return rc;
}

/* ---- SmdpSigned2 ---------------------------------------------------------- */

int
es10_smdp_signed2_encode(const es10_smdp_signed2 *s, uint8_t **out, size_t *len)
{
	der_writer w;
	if (s == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (s->tid_len < 1 || s->tid_len > ES10_TID_MAX || (s->cc_required != 0 && s->cc_required != 1) ||
	    (s->has_bpp_otpk && s->bpp_otpk[0] != 0x04))
		return TS_EINVAL;
	uint8_t b = s->cc_required ? 0xFF : 0x00;
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	der_put(&w, 0x80, s->tid, s->tid_len);
	der_put(&w, TAG_BOOL, &b, 1);
	if (s->has_bpp_otpk)
		der_put(&w, ES10_TAG_OTPK, s->bpp_otpk, ES10_OTPK_LEN);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_smdp_signed2_decode(const uint8_t *buf, size_t len, es10_smdp_signed2 *s)
{
	der_tlv t;
	der_iter it;
	int rc;
	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	if ((rc = open_with_tid(buf, len, TAG_SEQ, &it, s->tid, &s->tid_len)) != 0 ||
	    (rc = der_iter_expect(&it, TAG_BOOL, &t)) != 0)
		goto fail;
	if (t.len != 1 || (t.val[0] != 0x00 && t.val[0] != 0xFF)) {
		rc = TS_EPARSE;
		goto fail;
	}
	s->cc_required = t.val[0] == 0xFF;
	if ((rc = der_iter_next(&it, &t)) < 0)
		goto fail;
	if (rc == 1) {
		if (t.tag != ES10_TAG_OTPK || (rc = es10i_get_fixed(&t, s->bpp_otpk, ES10_OTPK_LEN)) != 0 ||
		    s->bpp_otpk[0] != 0x04 || (rc = der_iter_end(&it)) != 0) {
			rc = rc != 0 ? rc : TS_EPARSE;
			goto fail;
		}
		s->has_bpp_otpk = 1;
	}
	return 0;
fail:
	memset(s, 0, sizeof(*s));
	return rc;
}

/* ---- PrepareDownloadRequest ----------------------------------------------- */

int
es10_prepare_download_req_encode(const es10_prepare_download_req *r, uint8_t **out, size_t *len)
{
	der_writer w;
	es10_smdp_signed2 s2;
	if (r == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (es10_smdp_signed2_decode(r->smdp_signed2.p, r->smdp_signed2.len, &s2) != 0 ||
	    !span_ok(&r->smdp_cert, TAG_SEQ))
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_PREPARE_DOWNLOAD);
	der_put_raw(&w, r->smdp_signed2.p, r->smdp_signed2.len);
	der_put(&w, ES10_TAG_SIGNATURE, r->smdp_signature2, ES10_SIG_LEN);
	if (r->has_hash_cc)
		der_put(&w, TAG_OCTETS, r->hash_cc, ES10_HASHCC_LEN);
	der_put_raw(&w, r->smdp_cert.p, r->smdp_cert.len);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_prepare_download_req_decode(const uint8_t *buf, size_t len, es10_prepare_download_req *r,
    es10_smdp_signed2 *s2)
{
	der_tlv top, t;
	der_iter it;
	es10_smdp_signed2 tmp;
	int rc;
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if (s2 == NULL)
		s2 = &tmp;
	if ((rc = es10i_top(buf, len, ES10_TAG_PREPARE_DOWNLOAD, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_SEQ, &t)) != 0)
		goto fail;
	span_of(&t, &r->smdp_signed2);
	if ((rc = es10_smdp_signed2_decode(r->smdp_signed2.p, r->smdp_signed2.len, s2)) != 0 ||
	    (rc = der_iter_expect(&it, ES10_TAG_SIGNATURE, &t)) != 0 ||
	    (rc = es10i_get_fixed(&t, r->smdp_signature2, ES10_SIG_LEN)) != 0 ||
	    (rc = der_iter_next(&it, &t)) <= 0) {
		rc = rc < 0 ? rc : TS_EPARSE;
		goto fail;
	}
	if (t.tag == TAG_OCTETS) {
		if ((rc = es10i_get_fixed(&t, r->hash_cc, ES10_HASHCC_LEN)) != 0)
			goto fail;
		r->has_hash_cc = 1;
		if ((rc = der_iter_next(&it, &t)) <= 0) {
			rc = rc < 0 ? rc : TS_EPARSE;
			goto fail;
		}
	}
	if (t.tag != TAG_SEQ) {
		rc = TS_EPARSE;
		goto fail;
	}
	span_of(&t, &r->smdp_cert);
	if ((rc = der_iter_end(&it)) != 0)
		goto fail;
	return 0;
fail:
	memset(r, 0, sizeof(*r));
	memset(s2, 0, sizeof(*s2));
	return rc;
}

/* ---- EUICCSigned2 --------------------------------------------------------- */

int
es10_euicc_signed2_encode(const es10_euicc_signed2 *s, uint8_t **out, size_t *len)
{
	der_writer w;
	if (s == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (s->tid_len < 1 || s->tid_len > ES10_TID_MAX || s->euicc_otpk[0] != 0x04)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	der_put(&w, 0x80, s->tid, s->tid_len);
	der_put(&w, ES10_TAG_OTPK, s->euicc_otpk, ES10_OTPK_LEN);
	if (s->has_hash_cc)
		der_put(&w, TAG_OCTETS, s->hash_cc, ES10_HASHCC_LEN);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_euicc_signed2_decode(const uint8_t *buf, size_t len, es10_euicc_signed2 *s)
{
	der_tlv t;
	der_iter it;
	int rc;
	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	if ((rc = open_with_tid(buf, len, TAG_SEQ, &it, s->tid, &s->tid_len)) != 0 ||
	    (rc = der_iter_expect(&it, ES10_TAG_OTPK, &t)) != 0 ||
	    (rc = es10i_get_fixed(&t, s->euicc_otpk, ES10_OTPK_LEN)) != 0)
		goto fail;
	/* X9.62 uncompressed; on-curve is checked where the point is used. */
	if (s->euicc_otpk[0] != 0x04) {
		rc = TS_EPARSE;
		goto fail;
	}
	if ((rc = der_iter_next(&it, &t)) < 0)
		goto fail;
	if (rc == 1) {
		if (t.tag != TAG_OCTETS || (rc = es10i_get_fixed(&t, s->hash_cc, ES10_HASHCC_LEN)) != 0 ||
		    (rc = der_iter_end(&it)) != 0) {
			rc = rc != 0 ? rc : TS_EPARSE;
			goto fail;
		}
		s->has_hash_cc = 1;
	}
	return 0;
fail:
	memset(s, 0, sizeof(*s));
	return rc;
}

/* ---- PrepareDownloadResponse ---------------------------------------------- */

int
es10_prepare_download_resp_encode(const es10_prepare_download_resp *r, uint8_t **out, size_t *len)
{
	der_writer w;
	if (r == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_PREPARE_DOWNLOAD);
	if (r->error != 0) {
		if (put_error(&w, r->tid, r->tid_len, r->error) != 0) {
			der_writer_clear(&w);
			return TS_EINVAL;
		}
	} else {
		es10_euicc_signed2 s2;
		if (es10_euicc_signed2_decode(r->euicc_signed2.p, r->euicc_signed2.len, &s2) != 0) {
			der_writer_clear(&w);
			return TS_EINVAL;
		}
		put_signed_ok(&w, &r->euicc_signed2, r->euicc_signature2);
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_prepare_download_resp_decode(const uint8_t *buf, size_t len, es10_prepare_download_resp *r,
    es10_euicc_signed2 *s2)
{
	der_tlv ch;
	es10_euicc_signed2 tmp;
	int rc;
	static const uint32_t alts[] = { TAG_A0, TAG_A1 };
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if (s2 == NULL)
		s2 = &tmp;
	memset(s2, 0, sizeof(*s2));
	if ((rc = get_alternative(buf, len, ES10_TAG_PREPARE_DOWNLOAD, alts, &ch)) != 0)
		return rc;
	if (ch.tag == TAG_A1)
		rc = get_error(&ch, r->tid, &r->tid_len, &r->error);
	else if ((rc = get_signed_ok(&ch, &r->euicc_signed2, r->euicc_signature2)) == 0)
		rc = es10_euicc_signed2_decode(r->euicc_signed2.p, r->euicc_signed2.len, s2);
	if (rc != 0) {
		memset(r, 0, sizeof(*r));
		memset(s2, 0, sizeof(*s2));
	}
	return rc;
}

/* ---- CancelSession -------------------------------------------------------- */

static const struct { int v; const char *name; } cancel_reasons[] = {
	{ ES10_CANCEL_END_USER_REJECTION, "endUserRejection" },
	{ ES10_CANCEL_POSTPONED, "postponed" },
	{ ES10_CANCEL_TIMEOUT, "timeout" },
	{ ES10_CANCEL_PPR_NOT_ALLOWED, "pprNotAllowed" },
	{ ES10_CANCEL_METADATA_MISMATCH, "metadataMismatch" },
	{ ES10_CANCEL_LOAD_BPP_EXECUTION_ERROR, "loadBppExecutionError" },
	{ ES10_CANCEL_UNDEFINED_REASON, "undefinedReason" },
};

const char *
es10_cancel_reason_name(int reason)
{
	for (size_t i = 0; i < sizeof(cancel_reasons) / sizeof(cancel_reasons[0]); i++)
		if (cancel_reasons[i].v == reason)
			return cancel_reasons[i].name;
	return NULL;
}

int
es10_cancel_reason_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(cancel_reasons) / sizeof(cancel_reasons[0]); i++)
		if (strcmp(cancel_reasons[i].name, name) == 0)
			return cancel_reasons[i].v;
	return -1;
}

/* A non-negative INTEGER 0..127 (one octet, DER-minimal). */
static int
get_small(const der_tlv *t, int *out)
{
	if (t->len != 1 || t->val[0] > 0x7F)
		return TS_EPARSE;
	*out = t->val[0];
	return 0;
}

/* OBJECT IDENTIFIER content octets: 1..ES10_OID_MAX, the last octet ends a
 * sub-identifier, no sub-identifier starts with 0x80 (X.690 §8.19.2). */
static int
get_oid(const der_tlv *t, uint8_t *out, size_t *len)
{
	if (t->len < 1 || t->len > ES10_OID_MAX || der_tag_constructed(t->tag) || (t->val[t->len - 1] & 0x80))
		return TS_EPARSE;
	for (size_t i = 0; i < t->len; i++)
		if (t->val[i] == 0x80 && (i == 0 || !(t->val[i - 1] & 0x80)))
			return TS_EPARSE;
	memcpy(out, t->val, t->len);
	*len = t->len;
	return 0;
}

int
es10_cancel_session_req_encode(const es10_cancel_session_req *r, uint8_t **out, size_t *len)
{
	der_writer w;
	if (r == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (r->tid_len < 1 || r->tid_len > ES10_TID_MAX || r->reason < 0 || r->reason > 0x7F)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_CANCEL_SESSION);
	der_put(&w, 0x80, r->tid, r->tid_len);
	der_put_uint(&w, 0x81, (uint64_t)r->reason);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_cancel_session_req_decode(const uint8_t *buf, size_t len, es10_cancel_session_req *r)
{
	der_tlv t;
	der_iter it;
	int rc;
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if ((rc = open_with_tid(buf, len, ES10_TAG_CANCEL_SESSION, &it, r->tid, &r->tid_len)) != 0 ||
	    (rc = der_iter_expect(&it, 0x81, &t)) != 0 || (rc = get_small(&t, &r->reason)) != 0 ||
	    (rc = der_iter_end(&it)) != 0) {
		memset(r, 0, sizeof(*r));
		return rc;
	}
	return 0;
}

int
es10_cancel_signed_encode(const es10_cancel_signed *s, uint8_t **out, size_t *len)
{
	der_writer w;
	if (s == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (s->tid_len < 1 || s->tid_len > ES10_TID_MAX || s->smdp_oid_len < 1 || s->smdp_oid_len > ES10_OID_MAX ||
	    s->reason < 0 || s->reason > 0x7F)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_SEQ);
	der_put(&w, 0x80, s->tid, s->tid_len);
	der_put(&w, 0x81, s->smdp_oid, s->smdp_oid_len);
	der_put_uint(&w, 0x82, (uint64_t)s->reason);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

/* Signed by the eUICC and read by the SM-DP+: a response decoder (unknown
 * elements after the known ones are skipped if well-formed). */
int
es10_cancel_signed_decode(const uint8_t *buf, size_t len, es10_cancel_signed *s)
{
	der_tlv top, t;
	der_iter it;
	int rc;
	static const uint32_t known[] = { 0x80, 0x81, 0x82 };
	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	if ((rc = es10i_top(buf, len, TAG_SEQ, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = next_known(&it, known, 3, &t)) <= 0 || t.tag != 0x80 ||
	    (rc = es10i_get_var(&t, s->tid, 1, ES10_TID_MAX, &s->tid_len)) != 0 ||
	    (rc = next_known(&it, known, 3, &t)) <= 0 || t.tag != 0x81 ||
	    (rc = get_oid(&t, s->smdp_oid, &s->smdp_oid_len)) != 0 || (rc = next_known(&it, known, 3, &t)) <= 0 ||
	    t.tag != 0x82 || (rc = get_small(&t, &s->reason)) != 0 || (rc = next_known(&it, known, 3, &t)) != 0) {
		memset(s, 0, sizeof(*s));
		return rc < 0 ? rc : TS_EPARSE;
	}
	return 0;
}

int
es10_cancel_session_resp_encode(const es10_cancel_session_resp *r, uint8_t **out, size_t *len)
{
	der_writer w;
	es10_cancel_signed cs;
	if (r == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (r->error != 0 ? r->error < 1 || r->error > 0x7F
			  : es10_cancel_signed_decode(r->cancel_signed.p, r->cancel_signed.len, &cs) != 0)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_CANCEL_SESSION);
	if (r->error != 0) {
		der_put_uint(&w, 0x81, (uint64_t)r->error);
	} else {
		put_signed_ok(&w, &r->cancel_signed, r->signature);
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_cancel_session_resp_decode(const uint8_t *buf, size_t len, es10_cancel_session_resp *r, es10_cancel_signed *s)
{
	der_tlv ch;
	es10_cancel_signed tmp;
	int rc;
	static const uint32_t alts[] = { TAG_A0, 0x81 };
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if (s == NULL)
		s = &tmp;
	memset(s, 0, sizeof(*s));
	if ((rc = get_alternative(buf, len, ES10_TAG_CANCEL_SESSION, alts, &ch)) != 0)
		return rc;
	if (ch.tag == 0x81)
		rc = get_code(&ch, &r->error);
	else if ((rc = get_signed_ok(&ch, &r->cancel_signed, r->signature)) == 0)
		rc = es10_cancel_signed_decode(r->cancel_signed.p, r->cancel_signed.len, s);
	if (rc != 0) {
		memset(r, 0, sizeof(*r));
		memset(s, 0, sizeof(*s));
	}
	return rc;
}

/* ---- signature inputs ----------------------------------------------------- */

void
es10_sig_do(const uint8_t sig[ES10_SIG_LEN], uint8_t out[3 + ES10_SIG_LEN])
{
	out[0] = 0x5F;
	out[1] = 0x37;
	out[2] = ES10_SIG_LEN;
	memcpy(out + 3, sig, ES10_SIG_LEN);
}

int
es10_sig_from_do(const uint8_t *buf, size_t len, uint8_t sig[ES10_SIG_LEN])
{
	der_tlv t;
	if (buf == NULL || sig == NULL)
		return TS_EINVAL;
	int rc = es10i_top(buf, len, ES10_TAG_SIGNATURE, &t);
	if (rc != 0)
		return rc;
	return es10i_get_fixed(&t, sig, ES10_SIG_LEN);
}

int
es10_sig_input(const uint8_t *signed_tlv, size_t len, const uint8_t sig[ES10_SIG_LEN], uint8_t **out,
    size_t *outlen)
{
	if (signed_tlv == NULL || sig == NULL || out == NULL || outlen == NULL || len > DER_MAX_LEN)
		return TS_EINVAL;
	uint8_t *b = malloc(len + 3 + ES10_SIG_LEN);
	if (b == NULL)
		return TS_ENOMEM;
	memcpy(b, signed_tlv, len);
	es10_sig_do(sig, b + len);
	*out = b;
	*outlen = len + 3 + ES10_SIG_LEN;
	return 0;
}

int
es10_hash_cc_of(const uint8_t code_hash[32], const uint8_t *tid, size_t tid_len, uint8_t out[ES10_HASHCC_LEN])
{
	unsigned int n = 0;
	int rc = TS_ECRYPTO;
	if (code_hash == NULL || tid == NULL || out == NULL || tid_len < 1 || tid_len > ES10_TID_MAX)
		return TS_EINVAL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL)
		return TS_ENOMEM;
	if (EVP_DigestInit_ex(md, ts_ossl_sha256(), NULL) == 1 && EVP_DigestUpdate(md, code_hash, 32) == 1 &&
	    EVP_DigestUpdate(md, tid, tid_len) == 1 && EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32)
		rc = 0;
	EVP_MD_CTX_free(md);
	return rc;
}

int
es10_hash_cc(const char *code, const uint8_t *tid, size_t tid_len, uint8_t out[ES10_HASHCC_LEN])
{
	uint8_t h1[32];
	unsigned int n = 0;
	if (code == NULL || tid == NULL || out == NULL || tid_len < 1 || tid_len > ES10_TID_MAX)
		return TS_EINVAL;
	if (EVP_Digest(code, strlen(code), h1, &n, ts_ossl_sha256(), NULL) != 1 || n != 32)
		return TS_ECRYPTO;
	int rc = es10_hash_cc_of(h1, tid, tid_len, out);
	OPENSSL_cleanse(h1, sizeof(h1));
	return rc;
}
