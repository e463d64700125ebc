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
#include "lib/es10_int.h"
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

/* ---- metadata: StoreMetadataRequest BF25 -------------------------------- */

#define TAG_SMR 0xBF25
#define TAG_SPN 0x91
#define TAG_PNAME 0x92
#define TAG_ICON_TYPE 0x93
#define TAG_ICON 0x94
#define TAG_PCLASS 0x95
#define TAG_NOTIF_CFG 0xB6
#define TAG_OWNER 0xB7
#define TAG_PPR 0x99
#define TAG_SSD_STORED 0xBF22 /* serviceSpecificDataStoredInEuicc [34] */
#define RSP_ICON_MAX 1024

/* Length of s cut to at most max bytes at a UTF-8 character boundary. */
static size_t
utf8_prefix(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* A non-negative INTEGER in DER (a leading 00 when the top bit is set). */
static int
put_uint_der(der_writer *w, uint32_t tag, uint64_t v)
{
	uint8_t b[9];
	size_t n = 1;
	while (n < 8 && (v >> (8 * n)) != 0)
		n++;
	size_t o = 0;
	if ((v >> (8 * (n - 1))) & 0x80)
		b[o++] = 0x00;
	for (size_t i = 0; i < n; i++)
		b[o++] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return der_put(w, tag, b, o);
}

/* The DER form of that INTEGER back (minimal, non-negative, < 2^63). */
static int
get_uint_der(const der_tlv *t, uint64_t *out)
{
	const uint8_t *p = t->val;
	size_t n = t->len;
	if (n == 0 || (p[0] & 0x80) != 0)
		return TS_EPARSE;
	if (n > 1 && p[0] == 0x00) {
		if ((p[1] & 0x80) == 0)
			return TS_EPARSE; /* not minimal */
		p++;
		n--;
	}
	if (n > 8)
		return TS_ELIMIT;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (v > (uint64_t)INT64_MAX)
		return TS_ELIMIT;
	*out = v;
	return 0;
}

int
rsp_metadata_encode(const rsp_metadata *m, uint8_t **out, size_t *len)
{
	der_writer w;
	int rc;
	if (m == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	if (m->not_after < 0 || !m->has_iccid || m->profile_class < RSP_PCLASS_OPERATIONAL ||
	    m->profile_class > RSP_PCLASS_PROVISIONING)
		return TS_EINVAL;
	if (str_fits(m->app_id, sizeof(m->app_id)) != 0 || str_fits(m->name, sizeof(m->name)) != 0 ||
	    str_fits(m->kind, sizeof(m->kind)) != 0 || str_fits(m->provider, sizeof(m->provider)) != 0 ||
	    str_fits(m->notif_address, sizeof(m->notif_address)) != 0)
		return TS_ELIMIT;
	size_t spn = utf8_prefix(m->provider, RSP_SPN_MAX), pname = utf8_prefix(m->name, RSP_PNAME_MAX);
	der_writer_init(&w);
	der_begin(&w, TAG_SMR);
	der_put(&w, TAG_EID, m->iccid, sizeof(m->iccid)); /* 5A, Iccid */
	der_put(&w, TAG_SPN, (const uint8_t *)m->provider, spn);
	der_put(&w, TAG_PNAME, (const uint8_t *)m->name, pname);
	if (m->profile_class != RSP_PCLASS_OPERATIONAL) {
		uint8_t pc = m->profile_class == RSP_PCLASS_TEST ? 0 : 1;
		der_put(&w, TAG_PCLASS, &pc, 1);
	}
	if (m->notif_address[0] != '\0') {
		/* NotificationEvent: install(0) enable(1) disable(2) delete(3),
		 * DER named-bit list: 4 bits used, 4 unused. */
		static const uint8_t all[] = { 0x04, 0xF0 };
		der_begin(&w, TAG_NOTIF_CFG);
		der_begin(&w, TAG_SEQ);
		der_put(&w, TAG_CTX0, all, sizeof(all));      /* [0] BIT STRING */
		der_put_str(&w, TAG_CTX1, m->notif_address); /* [1] UTF8String */
		der_end(&w);
		der_end(&w);
	}
	if (m->app_id[0] != '\0') {
		der_begin(&w, TAG_SSD_STORED);
		der_begin(&w, TAG_SEQ);
		der_put(&w, TAG_CTX0, (const uint8_t *)RSP_VENDOR_OID, RSP_VENDOR_OID_LEN);
		der_begin(&w, 0xA1); /* vendorSpecificData [1], an open type: explicit */
		der_begin(&w, TAG_SEQ);
		der_put_str(&w, TAG_CTX0, m->app_id);
		der_put_str(&w, TAG_CTX1, m->kind);
		put_uint_der(&w, TAG_CTX2, (uint64_t)m->not_after);
		der_put_str(&w, TAG_CTX3, m->provider);
		if (pname < strlen(m->name))
			der_put_str(&w, TAG_CTX4, m->name);
		der_end(&w);
		der_end(&w);
		der_end(&w);
		der_end(&w);
	}
	der_end(&w);
	rc = finish(&w, out, len);
	return rc;
}

/* A string of at most max bytes that fits cap, no NUL. */
static int
get_str_max(const der_tlv *t, char *out, size_t cap, size_t max)
{
	if (t->len > max)
		return TS_ELIMIT;
	return get_str(t, out, cap);
}

/* tapshare's vendorSpecificData: 30 { 80 appId 81 kind 82 notAfter 83 provider [84 name] }. */
static int
vendor_decode(const der_tlv *data, rsp_metadata *m)
{
	der_tlv seq, t;
	der_iter it, in;
	uint64_t v = 0;
	int rc;
	der_iter_init(&it, data->val, data->len);
	if ((rc = der_iter_expect(&it, TAG_SEQ, &seq)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	der_iter_init(&in, seq.val, seq.len);
	if ((rc = der_iter_expect(&in, TAG_CTX0, &t)) != 0 ||
	    (rc = get_str(&t, m->app_id, sizeof(m->app_id))) != 0 ||
	    (rc = der_iter_expect(&in, TAG_CTX1, &t)) != 0 ||
	    (rc = get_str(&t, m->kind, sizeof(m->kind))) != 0 ||
	    (rc = der_iter_expect(&in, TAG_CTX2, &t)) != 0 || (rc = get_uint_der(&t, &v)) != 0 ||
	    (rc = der_iter_expect(&in, TAG_CTX3, &t)) != 0 ||
	    (rc = get_str(&t, m->provider, sizeof(m->provider))) != 0)
		return rc;
	if ((rc = der_iter_next(&in, &t)) < 0)
		return rc;
	if (rc == 1) {
		if (t.tag != TAG_CTX4)
			return TS_EPARSE;
		if ((rc = get_str(&t, m->name, sizeof(m->name))) != 0 || (rc = der_iter_end(&in)) != 0)
			return rc;
	}
	if (m->app_id[0] == '\0')
		return TS_EPARSE;
	m->not_after = (int64_t)v;
	m->has_vendor = 1;
	return 0;
}

/* BF22: a SEQUENCE OF { 80 vendorOid, A1 vendorSpecificData }; tapshare's
 * item at most once, other vendors' skipped. */
static int
ssd_decode(const der_tlv *ssd, rsp_metadata *m)
{
	der_tlv item, oid, data;
	der_iter it, in;
	int rc;
	der_iter_init(&it, ssd->val, ssd->len);
	while ((rc = der_iter_next(&it, &item)) == 1) {
		if (item.tag != TAG_SEQ)
			return TS_EPARSE;
		der_iter_init(&in, item.val, item.len);
		if ((rc = der_iter_expect(&in, TAG_CTX0, &oid)) != 0 ||
		    (rc = der_iter_expect(&in, 0xA1, &data)) != 0 || (rc = der_iter_end(&in)) != 0)
			return rc;
		if (oid.len == 0 || (oid.val[oid.len - 1] & 0x80) != 0)
			return TS_EPARSE;
		if (oid.len != RSP_VENDOR_OID_LEN || memcmp(oid.val, RSP_VENDOR_OID, RSP_VENDOR_OID_LEN) != 0)
			continue;
		if (m->has_vendor)
			return TS_EPARSE; /* twice */
		if ((rc = vendor_decode(&data, m)) != 0)
			return rc;
	}
	return rc;
}

/* B6: SEQUENCE OF { 80 NotificationEvent, 81 address } (AUTOMATIC TAGS); the first address
 * is kept (tapshare's SM-DP+ names one for all events). */
static int
notif_cfg_decode(const der_tlv *cfg, rsp_metadata *m)
{
	der_tlv item, bits, addr;
	der_iter it, in;
	int rc;
	der_iter_init(&it, cfg->val, cfg->len);
	while ((rc = der_iter_next(&it, &item)) == 1) {
		if (item.tag != TAG_SEQ)
			return TS_EPARSE;
		der_iter_init(&in, item.val, item.len);
		if ((rc = der_iter_expect(&in, TAG_CTX0, &bits)) != 0 ||
		    (rc = der_iter_expect(&in, TAG_CTX1, &addr)) != 0 || (rc = der_iter_end(&in)) != 0)
			return rc;
		/* a BIT STRING: its unused-bits octet 0..7, those bits zero */
		if (bits.len == 0 || bits.val[0] > 7 || (bits.len == 1 && bits.val[0] != 0) ||
		    (bits.len > 1 && (bits.val[bits.len - 1] & ((1u << bits.val[0]) - 1)) != 0))
			return TS_EPARSE;
		if (m->notif_address[0] == '\0' &&
		    (rc = get_str_max(&addr, m->notif_address, sizeof(m->notif_address), RSP_ADDR_MAX)) != 0)
			return rc;
	}
	return rc;
}

int
rsp_metadata_decode(const uint8_t *buf, size_t len, rsp_metadata *m)
{
	der_tlv top, t;
	der_iter it;
	int rc;
	/* SIZE(0..32) / SIZE(0..64) count characters: up to 4 bytes each in
	 * UTF-8, bounded here by the struct's fields (RSP_STR_MAX bytes). */
	char spn[RSP_STR_MAX + 1], pname[RSP_STR_MAX + 1];
	if (m == NULL)
		return TS_EINVAL;
	memset(m, 0, sizeof(*m));
	if ((rc = es10i_top(buf, len, TAG_SMR, &top)) != 0)
		return rc;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_EID, &t)) != 0 || (rc = get_fixed(&t, m->iccid, 10)) != 0 ||
	    (rc = der_iter_expect(&it, TAG_SPN, &t)) != 0 ||
	    (rc = get_str(&t, spn, sizeof(spn))) != 0 ||
	    (rc = der_iter_expect(&it, TAG_PNAME, &t)) != 0 ||
	    (rc = get_str(&t, pname, sizeof(pname))) != 0)
		goto fail;
	m->has_iccid = 1;
	/* The optional elements in their order; each at most once. */
	static const uint32_t order[] = { TAG_ICON_TYPE, TAG_ICON, TAG_PCLASS, TAG_NOTIF_CFG, TAG_OWNER,
		TAG_PPR, TAG_SSD_STORED };
	size_t k = 0;
	int have_icon_type = 0;
	while ((rc = der_iter_next(&it, &t)) == 1) {
		size_t j = k;
		while (j < sizeof(order) / sizeof(order[0]) && order[j] != t.tag)
			j++;
		if (j == sizeof(order) / sizeof(order[0])) {
			/* not one of ours: an extension addition (EXTENSIBILITY
			 * IMPLIED) if it comes after what we know of, else out of
			 * order or a repetition. */
			int known = 0;
			for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
				known |= order[i] == t.tag;
			if (known) {
				rc = TS_EPARSE;
				goto fail;
			}
			k = sizeof(order) / sizeof(order[0]);
			continue;
		}
		k = j + 1;
		uint64_t v = 0;
		switch (t.tag) {
		case TAG_ICON_TYPE:
			if (get_uint(&t, &v) != 0 || t.len != 1 || v > 1) {
				rc = TS_EPARSE;
				goto fail;
			}
			have_icon_type = 1;
			break;
		case TAG_ICON:
			if (!have_icon_type || t.len > RSP_ICON_MAX) {
				rc = TS_EPARSE;
				goto fail;
			}
			break;
		case TAG_PCLASS:
			/* operational (2) is the DEFAULT: DER leaves it out */
			if (get_uint(&t, &v) != 0 || t.len != 1 || v > 1) {
				rc = TS_EPARSE;
				goto fail;
			}
			m->profile_class = v == 0 ? RSP_PCLASS_TEST : RSP_PCLASS_PROVISIONING;
			break;
		case TAG_NOTIF_CFG:
			if ((rc = notif_cfg_decode(&t, m)) != 0)
				goto fail;
			break;
		case TAG_OWNER: {
			der_tlv o;
			der_iter oi;
			der_iter_init(&oi, t.val, t.len);
			if ((rc = der_iter_expect(&oi, TAG_CTX0, &o)) != 0)
				goto fail;
			if (o.len != 3) {
				rc = TS_EPARSE;
				goto fail;
			}
			while ((rc = der_iter_next(&oi, &o)) == 1)
				if (o.tag != TAG_CTX1 && o.tag != TAG_CTX2) {
					rc = TS_EPARSE;
					goto fail;
				}
			if (rc < 0)
				goto fail;
			break;
		}
		case TAG_PPR:
			/* PprIds BIT STRING: up to 3 named bits */
			if (t.len == 0 || t.len > 2 || t.val[0] > 7 || (t.len == 1 && t.val[0] != 0)) {
				rc = TS_EPARSE;
				goto fail;
			}
			m->ppr = t.len == 2 ? t.val[1] : 0;
			break;
		case TAG_SSD_STORED:
			if ((rc = ssd_decode(&t, m)) != 0)
				goto fail;
			break;
		}
	}
	if (rc < 0)
		goto fail;
	/* The SGP.22 names, unless tapshare's data gave whole ones. */
	if (m->provider[0] == '\0')
		memcpy(m->provider, spn, strlen(spn) + 1);
	if (m->name[0] == '\0')
		memcpy(m->name, pname, strlen(pname) + 1);
	return 0;
fail:
	memset(m, 0, sizeof(*m));
	return rc;
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
	if ((rc = es10i_top(buf, len, TAG_NOTIFICATION, &top)) != 0)
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
	if ((rc = es10i_top(buf, len, TAG_OFFER, &top)) != 0)
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
