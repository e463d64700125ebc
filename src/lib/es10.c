/*
 * es10.c — the ES10 codec (layouts in es10.h, from SGP.22 RSPDefinitions).
 *
 * Decoding walks the children of each SEQUENCE against a small table of the
 * layout's tags in ASN.1 order (struct layout): a known tag must come after
 * the previous one (no duplicates, no reordering); an unknown tag is an error
 * in requests and skipped, once checked well-formed, in responses (SGP.22's
 * EXTENSIBILITY IMPLIED). Mandatory elements are checked once the walk ends.
 */
#include "lib/es10.h"

#include <stdlib.h>
#include <string.h>

#include "lib/der.h"
#include "lib/es10_int.h"
#include "lib/ossl.h"
#include "lib/pki.h"
#include "lib/ts_err.h"

#define TAG_ICCID 0x5A
#define TAG_AID 0x4F
#define TAG_TAG_LIST 0x5C
#define TAG_SEQUENCE 0x30
#define TAG_OCTET_STRING 0x04
#define TAG_UTF8 0x0C
#define TAG_OID 0x06
#define TAG_SIG 0x5F37

#define FULL(t) ((t).val - (t).hdr_len)
#define SIZE(t) ((t).hdr_len + (t).len)

/* ---- primitive values ---- */

/* INTEGER, non-negative, minimal two's complement. */
static int
put_int(der_writer *w, uint32_t tag, uint64_t v)
{
	uint8_t b[9];
	size_t n = 0;
	int started = 0;
	for (int i = 7; i >= 0; i--) {
		uint8_t byte = (uint8_t)(v >> (8 * i));
		if (!started && byte == 0 && i > 0)
			continue;
		if (!started && (byte & 0x80))
			b[n++] = 0x00;
		started = 1;
		b[n++] = byte;
	}
	return der_put(w, tag, b, n);
}

static int
get_int(const der_tlv *t, uint64_t *out)
{
	if (der_tag_constructed(t->tag) || t->len == 0)
		return TS_EPARSE;
	const uint8_t *p = t->val;
	size_t n = t->len;
	if (p[0] & 0x80)
		return TS_EPARSE; /* negative: no ES10 INTEGER is */
	if (n > 1 && p[0] == 0x00 && !(p[1] & 0x80))
		return TS_EPARSE; /* not minimal */
	if (p[0] == 0x00 && n > 1) {
		p++;
		n--;
	}
	if (n > 8)
		return TS_ELIMIT;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	*out = v;
	return 0;
}

static int
get_small_int(const der_tlv *t, int *out)
{
	uint64_t v;
	int rc = get_int(t, &v);
	if (rc != 0)
		return rc;
	if (v > 0x7FFFFFFF)
		return TS_ELIMIT;
	*out = (int)v;
	return 0;
}

/* BIT STRING of named bits (es10.h: bit n of the mask is named bit n). */
static int
put_bits(der_writer *w, uint32_t tag, uint32_t mask)
{
	uint8_t b[5] = { 0 };
	int nbits = 0;
	for (int i = 31; i >= 0; i--) {
		if (mask & (1u << i)) {
			nbits = i + 1;
			break;
		}
	}
	size_t nbytes = ((size_t)nbits + 7) / 8;
	b[0] = (uint8_t)(nbytes * 8 - (size_t)nbits);
	for (int i = 0; i < nbits; i++) {
		if (mask & (1u << i))
			b[1 + i / 8] |= (uint8_t)(0x80u >> (i % 8));
	}
	return der_put(w, tag, b, 1 + nbytes);
}

static int
get_bits(const der_tlv *t, uint32_t *mask)
{
	if (der_tag_constructed(t->tag) || t->len == 0)
		return TS_EPARSE;
	uint8_t unused = t->val[0];
	size_t nbytes = t->len - 1;
	if (unused > 7 || (nbytes == 0 && unused != 0))
		return TS_EPARSE;
	if (nbytes > 0 && (t->val[t->len - 1] & ((1u << unused) - 1)) != 0)
		return TS_EPARSE; /* padding bits must be zero */
	uint32_t m = 0;
	for (size_t i = 0; i < nbytes; i++) {
		uint8_t byte = t->val[1 + i];
		for (int bit = 0; bit < 8; bit++) {
			if (!(byte & (0x80u >> bit)))
				continue;
			size_t n = i * 8 + (size_t)bit;
			if (n > 31)
				return TS_ELIMIT;
			m |= 1u << n;
		}
	}
	*mask = m;
	return 0;
}

static int
put_bool(der_writer *w, uint32_t tag, int v)
{
	uint8_t b = v ? 0xFF : 0x00;
	return der_put(w, tag, &b, 1);
}

static int
get_bool(const der_tlv *t, int *out)
{
	if (der_tag_constructed(t->tag) || t->len != 1 || (t->val[0] != 0x00 && t->val[0] != 0xFF))
		return TS_EPARSE;
	*out = t->val[0] == 0xFF;
	return 0;
}

/* 1 if p holds well-formed UTF-8 (RFC 3629: shortest form, no surrogates,
 * at most U+10FFFF). */
int
es10_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int
put_str(der_writer *w, uint32_t tag, const char *s, size_t max)
{
	if (s == NULL || strlen(s) > max || !es10_utf8_valid((const uint8_t *)s, strlen(s)))
		return TS_EINVAL;
	return der_put_str(w, tag, s);
}

/* ---- layout walker ---- */

typedef struct walk {
	der_iter it;
	const uint32_t *tags;
	size_t ntags;
	int last;      /* index of the last known element, -1 at the start */
	int lenient;   /* skip unknown tags (responses) */
	uint32_t seen; /* bit i: element i seen */
} walk;

static void
walk_init(walk *w, const der_tlv *parent, const uint32_t *tags, size_t ntags, int lenient)
{
	der_iter_init(&w->it, parent->val, parent->len);
	w->tags = tags;
	w->ntags = ntags;
	w->last = -1;
	w->lenient = lenient;
	w->seen = 0;
}

/* 1 with *idx and *t set, 0 at the end, or a TS_E* code. */
static int
walk_next(walk *w, der_tlv *t, int *idx)
{
	for (;;) {
		int rc = der_iter_next(&w->it, t);
		if (rc <= 0)
			return rc;
		int found = -1;
		for (size_t i = 0; i < w->ntags; i++) {
			if (w->tags[i] == t->tag) {
				found = (int)i;
				break;
			}
		}
		if (found < 0) {
			if (!w->lenient)
				return TS_EPARSE;
			if ((rc = der_validate(FULL(*t), SIZE(*t))) != 0)
				return rc;
			continue;
		}
		if (found <= w->last)
			return TS_EPARSE; /* duplicate or out of order */
		w->last = found;
		w->seen |= 1u << found;
		*idx = found;
		return 1;
	}
}

/* All elements of the mask were seen. */
static int
walk_has(const walk *w, uint32_t mask)
{
	return (w->seen & mask) == mask ? 0 : TS_EPARSE;
}

/* Children of a SEQUENCE OF: every one must carry tag. */
static int
each_child(const der_tlv *parent, uint32_t tag, der_iter *it, der_tlv *t)
{
	int rc = der_iter_next(it, t);
	if (rc == 1 && t->tag != tag)
		return TS_EPARSE;
	(void)parent;
	return rc;
}

/* ---- ICCID ---- */

int
es10_luhn_digit(const char *digits, size_t n, char *check)
{
	if (digits == NULL || check == NULL)
		return TS_EINVAL;
	unsigned sum = 0;
	/* From the right: the digit next to the check digit is doubled. */
	for (size_t i = 0; i < n; i++) {
		char c = digits[n - 1 - i];
		if (c < '0' || c > '9')
			return TS_EPARSE;
		unsigned d = (unsigned)(c - '0');
		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	*check = (char)('0' + (10 - sum % 10) % 10);
	return 0;
}

int
es10_iccid_for_app(const eid_t *eid, const char *app_id, char digits[ES10_ICCID_DIGITS_MAX + 1])
{
	uint8_t md[32];
	unsigned mdlen = 0;
	if (eid == NULL || app_id == NULL || app_id[0] == '\0' || digits == NULL)
		return TS_EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return TS_ENOMEM;
	static const uint8_t zero = 0;
	int ok = EVP_DigestInit_ex(ctx, ts_ossl_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, eid->digits, EID_DIGITS) == 1 && EVP_DigestUpdate(ctx, &zero, 1) == 1 &&
	    EVP_DigestUpdate(ctx, app_id, strlen(app_id)) == 1 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return TS_ECRYPTO;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | md[i];
	v %= UINT64_C(100000000000000);
	memcpy(digits, "89999", 5);
	for (int i = 18; i >= 5; i--) {
		digits[i] = (char)('0' + v % 10);
		v /= 10;
	}
	int rc = es10_luhn_digit(digits, 19, &digits[19]);
	digits[20] = '\0';
	return rc;
}

int
es10_iccid_from_digits(const char *digits, uint8_t out[ES10_ICCID_LEN])
{
	if (digits == NULL || out == NULL)
		return TS_EINVAL;
	size_t n = strlen(digits);
	if (n != 19 && n != 20)
		return TS_EPARSE;
	char check;
	int rc = es10_luhn_digit(digits, n - 1, &check);
	if (rc != 0)
		return rc;
	if (digits[n - 1] != check)
		return TS_EPARSE;
	for (size_t i = 0; i < ES10_ICCID_LEN; i++) {
		unsigned lo = (unsigned)(digits[2 * i] - '0');
		unsigned hi = 2 * i + 1 < n ? (unsigned)(digits[2 * i + 1] - '0') : 0xF;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
es10_iccid_to_digits(const uint8_t in[ES10_ICCID_LEN], char out[ES10_ICCID_DIGITS_MAX + 1])
{
	if (in == NULL || out == NULL)
		return TS_EINVAL;
	size_t n = 0;
	for (size_t i = 0; i < ES10_ICCID_LEN; i++) {
		unsigned lo = in[i] & 0x0F, hi = in[i] >> 4;
		if (lo > 9)
			return TS_EPARSE;
		out[n++] = (char)('0' + lo);
		if (hi == 0xF && i == ES10_ICCID_LEN - 1)
			break;
		if (hi > 9)
			return TS_EPARSE;
		out[n++] = (char)('0' + hi);
	}
	out[n] = '\0';
	return 0;
}

/* ---- requests without data, single-result responses ---- */

int
es10_empty_req_encode(uint32_t tag, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, tag);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_empty_req_decode(uint32_t tag, const uint8_t *buf, size_t len)
{
	der_tlv t;
	int rc = es10i_top(buf, len, tag, &t);
	if (rc != 0)
		return rc;
	return t.len == 0 ? 0 : TS_EPARSE;
}

int
es10_result_encode(uint32_t tag, int result, uint8_t **out, size_t *len)
{
	if (result < 0)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, tag);
	put_int(&w, 0x80, (uint64_t)result);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_result_decode(uint32_t tag, const uint8_t *buf, size_t len, int *result)
{
	static const uint32_t L[] = { 0x80 };
	der_tlv t, c;
	walk wk;
	int idx, rc;
	if (result == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, tag, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 1, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if ((rc = get_small_int(&c, result)) != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 1);
}

int
es10_list_error_encode(uint32_t tag, int code, uint8_t **out, size_t *len)
{
	if (code < 0)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, tag);
	put_int(&w, 0x81, (uint64_t)code);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

/* ---- GetEuiccData ---- */

int
es10_get_euicc_data_req_encode(uint8_t **out, size_t *len)
{
	static const uint8_t tag5a = TAG_ICCID;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_GET_EUICC_DATA);
	der_put(&w, TAG_TAG_LIST, &tag5a, 1);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_get_euicc_data_req_decode(const uint8_t *buf, size_t len)
{
	der_tlv t, c;
	der_iter it;
	int rc = es10i_top(buf, len, ES10_TAG_GET_EUICC_DATA, &t);
	if (rc != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, TAG_TAG_LIST, &c)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	return c.len == 1 && c.val[0] == TAG_ICCID ? 0 : TS_EPARSE;
}

int
es10_get_euicc_data_resp_encode(const uint8_t eid[EID_BYTES], uint8_t **out, size_t *len)
{
	if (eid == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_GET_EUICC_DATA);
	der_put(&w, TAG_ICCID, eid, EID_BYTES);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_get_euicc_data_resp_decode(const uint8_t *buf, size_t len, uint8_t eid[EID_BYTES])
{
	static const uint32_t L[] = { TAG_ICCID };
	der_tlv t, c;
	walk wk;
	int idx, rc;
	if (eid == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_GET_EUICC_DATA, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 1, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if ((rc = es10i_get_fixed(&c, eid, EID_BYTES)) != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 1);
}

/* ---- EUICCInfo1 / EUICCInfo2 ---- */

static int
put_pkids(der_writer *w, uint32_t tag, const es10_pkid_list *l)
{
	if (l->n > ES10_MAX_PKIDS)
		return TS_EINVAL;
	der_begin(w, tag);
	for (size_t i = 0; i < l->n; i++) {
		if (l->len[i] == 0 || l->len[i] > ES10_PKID_MAX)
			return TS_EINVAL;
		der_put(w, TAG_OCTET_STRING, l->id[i], l->len[i]);
	}
	return der_end(w);
}

static int
get_pkids(const der_tlv *t, es10_pkid_list *l)
{
	der_iter it;
	der_tlv c;
	int rc;
	if (!der_tag_constructed(t->tag))
		return TS_EPARSE;
	memset(l, 0, sizeof(*l));
	der_iter_init(&it, t->val, t->len);
	while ((rc = each_child(t, TAG_OCTET_STRING, &it, &c)) == 1) {
		if (l->n == ES10_MAX_PKIDS)
			return TS_ELIMIT;
		if ((rc = es10i_get_var(&c, l->id[l->n], 1, ES10_PKID_MAX, &l->len[l->n])) != 0)
			return rc;
		l->n++;
	}
	return rc;
}

int
es10_euicc_info1_encode(const es10_euicc_info1 *i, uint8_t **out, size_t *len)
{
	if (i == NULL)
		return TS_EINVAL;
	der_writer w;
	int rc;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_GET_EUICC_INFO1);
	der_put(&w, 0x82, i->svn, ES10_VERSION_LEN);
	if ((rc = put_pkids(&w, 0xA9, &i->ci_verify)) != 0 || (rc = put_pkids(&w, 0xAA, &i->ci_sign)) != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_euicc_info1_decode(const uint8_t *buf, size_t len, es10_euicc_info1 *i)
{
	static const uint32_t L[] = { 0x82, 0xA9, 0xAA };
	der_tlv t, c;
	walk wk;
	int idx, rc;
	if (i == NULL)
		return TS_EINVAL;
	memset(i, 0, sizeof(*i));
	if ((rc = es10i_top(buf, len, ES10_TAG_GET_EUICC_INFO1, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 3, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		switch (idx) {
		case 0: rc = es10i_get_fixed(&c, i->svn, ES10_VERSION_LEN); break;
		case 1: rc = get_pkids(&c, &i->ci_verify); break;
		default: rc = get_pkids(&c, &i->ci_sign); break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 0x7);
}

int
es10_euicc_info2_encode(const es10_euicc_info2 *i, uint8_t **out, size_t *len)
{
	if (i == NULL || i->ext_card_resource_len > ES10_ECR_MAX)
		return TS_EINVAL;
	der_writer w;
	int rc;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_GET_EUICC_INFO2);
	der_put(&w, 0x81, i->profile_version, ES10_VERSION_LEN);
	der_put(&w, 0x82, i->svn, ES10_VERSION_LEN);
	der_put(&w, 0x83, i->firmware_version, ES10_VERSION_LEN);
	der_put(&w, 0x84, i->ext_card_resource, i->ext_card_resource_len);
	put_bits(&w, 0x85, i->uicc_capability);
	if (i->has_ts102241_version)
		der_put(&w, 0x86, i->ts102241_version, ES10_VERSION_LEN);
	if (i->has_gp_version)
		der_put(&w, 0x87, i->gp_version, ES10_VERSION_LEN);
	put_bits(&w, 0x88, i->rsp_capability);
	if ((rc = put_pkids(&w, 0xA9, &i->ci_verify)) != 0 || (rc = put_pkids(&w, 0xAA, &i->ci_sign)) != 0)
		goto fail;
	if (i->has_category) {
		if (i->category < 0) {
			rc = TS_EINVAL;
			goto fail;
		}
		put_int(&w, 0x8B, (uint64_t)i->category);
	}
	if (i->has_forbidden_pprs)
		put_bits(&w, 0x99, i->forbidden_pprs);
	der_put(&w, TAG_OCTET_STRING, i->pp_version, ES10_VERSION_LEN);
	if ((rc = put_str(&w, TAG_UTF8, i->sas_accreditation, ES10_SAS_MAX)) != 0)
		goto fail;
	if (i->has_certification_data) {
		/* CertificationDataObject: untagged components, so AUTOMATIC TAGS
		 * gives them [0] and [1]. */
		der_begin(&w, 0xAC);
		if ((rc = put_str(&w, 0x80, i->platform_label, ES10_LABEL_MAX)) != 0 ||
		    (rc = put_str(&w, 0x81, i->discovery_base_url, ES10_LABEL_MAX)) != 0)
			goto fail;
		der_end(&w);
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
fail:
	der_writer_clear(&w);
	return rc;
}

int
es10_euicc_info2_decode(const uint8_t *buf, size_t len, es10_euicc_info2 *i)
{
	static const uint32_t L[] = { 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0xA9, 0xAA,
		0x8B, 0x99, TAG_OCTET_STRING, TAG_UTF8, 0xAC };
	/* profileVersion svn firmware ecr uiccCap rspCap verify sign ppVersion sas */
	const uint32_t mandatory = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x80 | 0x100 | 0x200 | 0x1000 | 0x2000;
	der_tlv t, c, d;
	walk wk;
	der_iter it;
	int idx, rc;
	if (i == NULL)
		return TS_EINVAL;
	memset(i, 0, sizeof(*i));
	if ((rc = es10i_top(buf, len, ES10_TAG_GET_EUICC_INFO2, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, sizeof(L) / sizeof(L[0]), 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		switch (idx) {
		case 0: rc = es10i_get_fixed(&c, i->profile_version, ES10_VERSION_LEN); break;
		case 1: rc = es10i_get_fixed(&c, i->svn, ES10_VERSION_LEN); break;
		case 2: rc = es10i_get_fixed(&c, i->firmware_version, ES10_VERSION_LEN); break;
		case 3: rc = es10i_get_var(&c, i->ext_card_resource, 0, ES10_ECR_MAX, &i->ext_card_resource_len); break;
		case 4: rc = get_bits(&c, &i->uicc_capability); break;
		case 5:
			i->has_ts102241_version = 1;
			rc = es10i_get_fixed(&c, i->ts102241_version, ES10_VERSION_LEN);
			break;
		case 6:
			i->has_gp_version = 1;
			rc = es10i_get_fixed(&c, i->gp_version, ES10_VERSION_LEN);
			break;
		case 7: rc = get_bits(&c, &i->rsp_capability); break;
		case 8: rc = get_pkids(&c, &i->ci_verify); break;
		case 9: rc = get_pkids(&c, &i->ci_sign); break;
		case 10:
			i->has_category = 1;
			rc = get_small_int(&c, &i->category);
			break;
		case 11:
			i->has_forbidden_pprs = 1;
			rc = get_bits(&c, &i->forbidden_pprs);
			break;
		case 12: rc = es10i_get_fixed(&c, i->pp_version, ES10_VERSION_LEN); break;
		case 13: rc = es10i_get_str(&c, i->sas_accreditation, ES10_SAS_MAX); break;
		default:
			i->has_certification_data = 1;
			der_iter_init(&it, c.val, c.len);
			if ((rc = der_iter_expect(&it, 0x80, &d)) != 0 ||
			    (rc = es10i_get_str(&d, i->platform_label, ES10_LABEL_MAX)) != 0 ||
			    (rc = der_iter_expect(&it, 0x81, &d)) != 0 ||
			    (rc = es10i_get_str(&d, i->discovery_base_url, ES10_LABEL_MAX)) != 0)
				return rc;
			rc = der_iter_end(&it);
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, mandatory);
}

/* ---- EuiccConfiguredAddresses / SetDefaultDpAddress ---- */

int
es10_configured_addresses_encode(const es10_configured_addresses *a, uint8_t **out, size_t *len)
{
	if (a == NULL)
		return TS_EINVAL;
	der_writer w;
	int rc = 0;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_EUICC_CONFIGURED_ADDRESSES);
	if (a->has_default_dp)
		rc = put_str(&w, 0x80, a->default_dp, ES10_ADDR_MAX);
	if (rc == 0)
		rc = put_str(&w, 0x81, a->root_ds, ES10_ADDR_MAX);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_configured_addresses_decode(const uint8_t *buf, size_t len, es10_configured_addresses *a)
{
	static const uint32_t L[] = { 0x80, 0x81 };
	der_tlv t, c;
	walk wk;
	int idx, rc;
	if (a == NULL)
		return TS_EINVAL;
	memset(a, 0, sizeof(*a));
	if ((rc = es10i_top(buf, len, ES10_TAG_EUICC_CONFIGURED_ADDRESSES, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 2, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if (idx == 0) {
			a->has_default_dp = 1;
			rc = es10i_get_str(&c, a->default_dp, ES10_ADDR_MAX);
		} else {
			rc = es10i_get_str(&c, a->root_ds, ES10_ADDR_MAX);
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 0x2);
}

int
es10_set_default_dp_req_encode(const char *address, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_SET_DEFAULT_DP_ADDRESS);
	int rc = put_str(&w, 0x80, address, ES10_ADDR_MAX);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_set_default_dp_req_decode(const uint8_t *buf, size_t len, char address[ES10_ADDR_MAX + 1])
{
	der_tlv t, c;
	der_iter it;
	int rc;
	if (address == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_SET_DEFAULT_DP_ADDRESS, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, 0x80, &c)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	return es10i_get_str(&c, address, ES10_ADDR_MAX);
}

/* ---- GetRAT ---- */

static int
put_operator(der_writer *w, uint32_t tag, const es10_operator_id *o)
{
	if ((o->has_gid1 && o->gid1_len > ES10_GID_MAX) || (o->has_gid2 && o->gid2_len > ES10_GID_MAX))
		return TS_EINVAL;
	der_begin(w, tag);
	der_put(w, 0x80, o->mcc_mnc, 3);
	if (o->has_gid1)
		der_put(w, 0x81, o->gid1, o->gid1_len);
	if (o->has_gid2)
		der_put(w, 0x82, o->gid2, o->gid2_len);
	return der_end(w);
}

static int
get_operator(const der_tlv *t, es10_operator_id *o, int lenient)
{
	static const uint32_t L[] = { 0x80, 0x81, 0x82 };
	der_tlv c;
	walk wk;
	int idx, rc;
	memset(o, 0, sizeof(*o));
	if (!der_tag_constructed(t->tag))
		return TS_EPARSE;
	walk_init(&wk, t, L, 3, lenient);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if (idx == 0) {
			rc = es10i_get_fixed(&c, o->mcc_mnc, 3);
		} else if (idx == 1) {
			o->has_gid1 = 1;
			rc = es10i_get_var(&c, o->gid1, 0, ES10_GID_MAX, &o->gid1_len);
		} else {
			o->has_gid2 = 1;
			rc = es10i_get_var(&c, o->gid2, 0, ES10_GID_MAX, &o->gid2_len);
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 0x1);
}

int
es10_rat_encode(const es10_rat *r, uint8_t **out, size_t *len)
{
	if (r == NULL || r->n > ES10_MAX_RULES)
		return TS_EINVAL;
	der_writer w;
	int rc = 0;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_GET_RAT);
	der_begin(&w, 0xA0);
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		const es10_ppar *p = &r->rules[i];
		if (p->n_operators > ES10_MAX_OPERATORS) {
			rc = TS_EINVAL;
			break;
		}
		der_begin(&w, TAG_SEQUENCE);
		put_bits(&w, 0x80, p->ppr_ids);
		der_begin(&w, 0xA1);
		for (size_t j = 0; j < p->n_operators && rc == 0; j++)
			rc = put_operator(&w, TAG_SEQUENCE, &p->operators[j]);
		der_end(&w);
		put_bits(&w, 0x82, p->ppr_flags);
		der_end(&w);
	}
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

static int
get_ppar(const der_tlv *t, es10_ppar *p)
{
	static const uint32_t L[] = { 0x80, 0xA1, 0x82 };
	der_tlv c, o;
	der_iter it;
	walk wk;
	int idx, rc;
	memset(p, 0, sizeof(*p));
	walk_init(&wk, t, L, 3, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if (idx == 0) {
			rc = get_bits(&c, &p->ppr_ids);
		} else if (idx == 2) {
			rc = get_bits(&c, &p->ppr_flags);
		} else {
			der_iter_init(&it, c.val, c.len);
			while ((rc = each_child(&c, TAG_SEQUENCE, &it, &o)) == 1) {
				if (p->n_operators == ES10_MAX_OPERATORS)
					return TS_ELIMIT;
				if ((rc = get_operator(&o, &p->operators[p->n_operators++], 1)) != 0)
					return rc;
			}
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 0x7);
}

int
es10_rat_decode(const uint8_t *buf, size_t len, es10_rat *r)
{
	static const uint32_t L[] = { 0xA0 };
	der_tlv t, c, e;
	der_iter it;
	walk wk;
	int idx, rc;
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if ((rc = es10i_top(buf, len, ES10_TAG_GET_RAT, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 1, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		der_iter_init(&it, c.val, c.len);
		while ((rc = each_child(&c, TAG_SEQUENCE, &it, &e)) == 1) {
			if (r->n == ES10_MAX_RULES)
				return TS_ELIMIT;
			if ((rc = get_ppar(&e, &r->rules[r->n++])) != 0)
				return rc;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 0x1);
}

/* ---- profile identifiers ---- */

static int
put_profile_id(der_writer *w, const es10_profile_id *id)
{
	if (id->kind == ES10_ID_ICCID)
		return der_put(w, TAG_ICCID, id->iccid, ES10_ICCID_LEN);
	if (id->kind == ES10_ID_ISDP_AID && id->aid_len >= 1 && id->aid_len <= ES10_AID_MAX)
		return der_put(w, TAG_AID, id->aid, id->aid_len);
	return TS_EINVAL;
}

/* One 4F or 5A TLV. */
static int
get_profile_id(const der_tlv *t, es10_profile_id *id)
{
	memset(id, 0, sizeof(*id));
	if (t->tag == TAG_ICCID) {
		id->kind = ES10_ID_ICCID;
		return es10i_get_fixed(t, id->iccid, ES10_ICCID_LEN);
	}
	if (t->tag == TAG_AID) {
		id->kind = ES10_ID_ISDP_AID;
		return es10i_get_var(t, id->aid, 1, ES10_AID_MAX, &id->aid_len);
	}
	return TS_EPARSE;
}

/* ---- ProfileInfoList ---- */

int
es10_profile_info_req_encode(const es10_profile_info_req *r, uint8_t **out, size_t *len)
{
	if (r == NULL || (r->has_tag_list && r->tag_list_len > ES10_TAGLIST_MAX))
		return TS_EINVAL;
	der_writer w;
	int rc = 0;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_PROFILE_INFO_LIST);
	switch (r->search) {
	case ES10_SEARCH_NONE: break;
	case ES10_SEARCH_ISDP_AID:
	case ES10_SEARCH_ICCID:
		if ((r->search == ES10_SEARCH_ICCID) != (r->id.kind == ES10_ID_ICCID)) {
			rc = TS_EINVAL;
			break;
		}
		der_begin(&w, 0xA0);
		rc = put_profile_id(&w, &r->id);
		der_end(&w);
		break;
	case ES10_SEARCH_CLASS:
		if (r->profile_class < 0) {
			rc = TS_EINVAL;
			break;
		}
		der_begin(&w, 0xA0);
		put_int(&w, 0x95, (uint64_t)r->profile_class);
		der_end(&w);
		break;
	default: rc = TS_EINVAL; break;
	}
	if (rc == 0 && r->has_tag_list)
		rc = der_put(&w, TAG_TAG_LIST, r->tag_list, r->tag_list_len);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_profile_info_req_decode(const uint8_t *buf, size_t len, es10_profile_info_req *r)
{
	static const uint32_t L[] = { 0xA0, TAG_TAG_LIST };
	der_tlv t, c, s;
	der_iter it;
	walk wk;
	int idx, rc;
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if ((rc = es10i_top(buf, len, ES10_TAG_PROFILE_INFO_LIST, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 2, 0);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if (idx == 0) {
			der_iter_init(&it, c.val, c.len);
			if ((rc = der_iter_next(&it, &s)) != 1)
				return rc < 0 ? rc : TS_EPARSE;
			if ((rc = der_iter_end(&it)) != 0)
				return rc;
			if (s.tag == 0x95) {
				r->search = ES10_SEARCH_CLASS;
				rc = get_small_int(&s, &r->profile_class);
			} else {
				rc = get_profile_id(&s, &r->id);
				r->search = r->id.kind == ES10_ID_ICCID ? ES10_SEARCH_ICCID : ES10_SEARCH_ISDP_AID;
			}
		} else {
			r->has_tag_list = 1;
			if (der_tag_constructed(c.tag) || c.len > ES10_TAGLIST_MAX)
				return TS_EPARSE;
			memcpy(r->tag_list, c.val, c.len);
			r->tag_list_len = c.len;
			unsigned m;
			rc = es10_tag_list_mask(c.val, c.len, &m);
		}
		if (rc != 0)
			return rc;
	}
	return rc;
}

/* ProfileInfo layout: tags in ASN.1 order; index = ES10_PI_* bit, except
 * refArDo (BF76, index 13) which the struct does not keep. */
static const uint32_t pi_tags[] = { TAG_ICCID, TAG_AID, 0x9F70, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
	0xB6, 0xB7, 0xB8, 0x99, 0xBF76 };
#define PI_NTAGS (sizeof(pi_tags) / sizeof(pi_tags[0]))

int
es10_tag_list_mask(const uint8_t *tags, size_t len, unsigned *mask)
{
	if ((tags == NULL && len != 0) || mask == NULL)
		return TS_EINVAL;
	unsigned m = 0;
	size_t off = 0;
	while (off < len) {
		/* One BER identifier: first octet, then 0x80-continued octets
		 * when the low five bits are all ones (X.690 §8.1.2.4). */
		uint32_t tag = tags[off++];
		if ((tag & 0x1F) == 0x1F) {
			int n = 0;
			uint8_t b;
			do {
				if (off >= len || ++n > 3)
					return TS_EPARSE;
				b = tags[off++];
				tag = tag << 8 | b;
			} while (b & 0x80);
		}
		for (size_t i = 0; i + 1 < PI_NTAGS; i++) {
			if (pi_tags[i] == tag)
				m |= 1u << i;
		}
	}
	*mask = m;
	return 0;
}

static int
put_profile_info(der_writer *w, const es10_profile_info *p)
{
	unsigned m = p->present;
	int rc = 0;
	der_begin(w, ES10_TAG_PROFILE_INFO);
	if (m & ES10_PI_ICCID)
		der_put(w, TAG_ICCID, p->iccid, ES10_ICCID_LEN);
	if (m & ES10_PI_ISDP_AID) {
		if (p->aid_len < 1 || p->aid_len > ES10_AID_MAX)
			return TS_EINVAL;
		der_put(w, TAG_AID, p->aid, p->aid_len);
	}
	if ((m & ES10_PI_STATE) && p->state < 0)
		return TS_EINVAL;
	if (m & ES10_PI_STATE)
		put_int(w, 0x9F70, (uint64_t)p->state);
	if ((m & ES10_PI_NICKNAME) && (rc = put_str(w, 0x90, p->nickname, ES10_NICKNAME_MAX)) != 0)
		return rc;
	if ((m & ES10_PI_SPN) && (rc = put_str(w, 0x91, p->spn, ES10_SPN_MAX)) != 0)
		return rc;
	if ((m & ES10_PI_NAME) && (rc = put_str(w, 0x92, p->name, ES10_PNAME_MAX)) != 0)
		return rc;
	if ((m & ES10_PI_ICON_TYPE) && p->icon_type < 0)
		return TS_EINVAL;
	if (m & ES10_PI_ICON_TYPE)
		put_int(w, 0x93, (uint64_t)p->icon_type);
	if (m & ES10_PI_ICON) {
		if (p->icon_len > ES10_ICON_MAX)
			return TS_EINVAL;
		der_put(w, 0x94, p->icon, p->icon_len);
	}
	if ((m & ES10_PI_CLASS) && p->profile_class < 0)
		return TS_EINVAL;
	if (m & ES10_PI_CLASS)
		put_int(w, 0x95, (uint64_t)p->profile_class);
	if (m & ES10_PI_NOTIF_CFG) {
		if (p->n_notif_cfg > ES10_MAX_NOTIF_CFG)
			return TS_EINVAL;
		der_begin(w, 0xB6);
		for (size_t i = 0; i < p->n_notif_cfg; i++) {
			der_begin(w, TAG_SEQUENCE);
			put_bits(w, 0x80, p->notif_cfg[i].events);
			if ((rc = put_str(w, 0x81, p->notif_cfg[i].address, ES10_ADDR_MAX)) != 0)
				return rc;
			der_end(w);
		}
		der_end(w);
	}
	if ((m & ES10_PI_OWNER) && (rc = put_operator(w, 0xB7, &p->owner)) != 0)
		return rc;
	if (m & ES10_PI_DP_PROPRIETARY) {
		if (p->dp_proprietary_len > ES10_DP_PROPRIETARY_MAX)
			return TS_EINVAL;
		der_begin(w, 0xB8);
		der_put_raw(w, p->dp_proprietary, p->dp_proprietary_len);
		der_end(w);
	}
	if (m & ES10_PI_PPRS)
		put_bits(w, 0x99, p->pprs);
	return der_end(w);
}

static int
get_notif_cfg(const der_tlv *t, es10_profile_info *p)
{
	static const uint32_t L[] = { 0x80, 0x81 };
	der_iter it;
	der_tlv e, c;
	walk wk;
	int idx, rc;
	der_iter_init(&it, t->val, t->len);
	while ((rc = each_child(t, TAG_SEQUENCE, &it, &e)) == 1) {
		if (p->n_notif_cfg == ES10_MAX_NOTIF_CFG)
			return TS_ELIMIT;
		es10_notif_cfg *n = &p->notif_cfg[p->n_notif_cfg++];
		walk_init(&wk, &e, L, 2, 1);
		while ((rc = walk_next(&wk, &c, &idx)) == 1) {
			rc = idx == 0 ? get_bits(&c, &n->events) : es10i_get_str(&c, n->address, ES10_ADDR_MAX);
			if (rc != 0)
				return rc;
		}
		if (rc < 0 || (rc = walk_has(&wk, 0x3)) != 0)
			return rc;
	}
	return rc;
}

static int
get_profile_info(const der_tlv *t, es10_profile_info *p)
{
	der_tlv c;
	walk wk;
	int idx, rc;
	memset(p, 0, sizeof(*p));
	p->profile_class = ES10_CLASS_OPERATIONAL;
	walk_init(&wk, t, pi_tags, PI_NTAGS, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		switch (idx) {
		case 0: rc = es10i_get_fixed(&c, p->iccid, ES10_ICCID_LEN); break;
		case 1: rc = es10i_get_var(&c, p->aid, 1, ES10_AID_MAX, &p->aid_len); break;
		case 2: rc = get_small_int(&c, &p->state); break;
		case 3: rc = es10i_get_str(&c, p->nickname, ES10_NICKNAME_MAX); break;
		case 4: rc = es10i_get_str(&c, p->spn, ES10_SPN_MAX); break;
		case 5: rc = es10i_get_str(&c, p->name, ES10_PNAME_MAX); break;
		case 6: rc = get_small_int(&c, &p->icon_type); break;
		case 7: rc = es10i_get_var(&c, p->icon, 0, ES10_ICON_MAX, &p->icon_len); break;
		case 8: rc = get_small_int(&c, &p->profile_class); break;
		case 9: rc = der_tag_constructed(c.tag) ? get_notif_cfg(&c, p) : TS_EPARSE; break;
		case 10: rc = get_operator(&c, &p->owner, 1); break;
		case 11:
			if (SIZE(c) > ES10_DP_PROPRIETARY_MAX)
				return TS_ELIMIT;
			if ((rc = der_validate(FULL(c), SIZE(c))) != 0)
				return rc;
			memcpy(p->dp_proprietary, c.val, c.len);
			p->dp_proprietary_len = c.len;
			break;
		case 12: rc = get_bits(&c, &p->pprs); break;
		default: rc = der_validate(FULL(c), SIZE(c)); break; /* refArDo: checked, not kept */
		}
		if (rc != 0)
			return rc;
		if (idx < 13)
			p->present |= 1u << idx;
	}
	return rc;
}

void
es10_profile_list_init(es10_profile_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
es10_profile_list_clear(es10_profile_list *l)
{
	if (l == NULL)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

int
es10_profile_list_encode(const es10_profile_info *items, size_t n, uint8_t **out, size_t *len)
{
	if ((items == NULL && n != 0) || n > ES10_MAX_PROFILES)
		return TS_EINVAL;
	der_writer w;
	int rc = 0;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_PROFILE_INFO_LIST);
	der_begin(&w, 0xA0);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = put_profile_info(&w, &items[i]);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

/* The CHOICE of BF2D / BF28 / BF2B: A0 { entries } or 81 error. Returns 1
 * with *list set for the list, 0 with *error set for the error. */
static int
list_choice(const uint8_t *buf, size_t len, uint32_t tag, der_tlv *list, int *error)
{
	der_tlv t, c;
	der_iter it;
	int rc;
	if ((rc = es10i_top(buf, len, tag, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_next(&it, &c)) != 1)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = der_iter_end(&it)) != 0)
		return rc;
	if (c.tag == 0xA0) {
		*list = c;
		return 1;
	}
	if (c.tag == 0x81) {
		if ((rc = get_small_int(&c, error)) != 0)
			return rc;
		return *error == 0 ? TS_EPARSE : 0;
	}
	return TS_EPARSE;
}

/* Counts children and checks their tag; bounded by max. */
static int
count_children(const der_tlv *list, uint32_t tag, size_t max, size_t *n)
{
	der_iter it;
	der_tlv c;
	int rc;
	*n = 0;
	der_iter_init(&it, list->val, list->len);
	while ((rc = der_iter_next(&it, &c)) == 1) {
		if (tag != 0 && c.tag != tag)
			return TS_EPARSE;
		if (++*n > max)
			return TS_ELIMIT;
	}
	return rc;
}

int
es10_profile_list_decode(const uint8_t *buf, size_t len, es10_profile_list *l)
{
	der_tlv list, c;
	der_iter it;
	size_t n;
	int err = 0, rc;
	if (l == NULL)
		return TS_EINVAL;
	es10_profile_list_init(l);
	if ((rc = list_choice(buf, len, ES10_TAG_PROFILE_INFO_LIST, &list, &err)) < 0)
		return rc;
	if (rc == 0) {
		l->error = err;
		return 0;
	}
	if ((rc = count_children(&list, ES10_TAG_PROFILE_INFO, ES10_MAX_PROFILES, &n)) != 0)
		return rc;
	if (n > 0 && (l->items = calloc(n, sizeof(*l->items))) == NULL)
		return TS_ENOMEM;
	der_iter_init(&it, list.val, list.len);
	while ((rc = der_iter_next(&it, &c)) == 1) {
		if ((rc = get_profile_info(&c, &l->items[l->n])) != 0)
			break;
		l->n++;
	}
	if (rc != 0) {
		es10_profile_list_clear(l);
		return rc;
	}
	return 0;
}

/* ---- Enable / Disable / Delete / SetNickname ---- */

int
es10_switch_req_encode(uint32_t tag, const es10_profile_id *id, int refresh, uint8_t **out, size_t *len)
{
	if (id == NULL || (tag != ES10_TAG_ENABLE_PROFILE && tag != ES10_TAG_DISABLE_PROFILE))
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, tag);
	der_begin(&w, 0xA0);
	int rc = put_profile_id(&w, id);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	put_bool(&w, 0x81, refresh);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_switch_req_decode(uint32_t tag, const uint8_t *buf, size_t len, es10_profile_id *id, int *refresh)
{
	der_tlv t, c, s;
	der_iter it, in;
	int rc;
	if (id == NULL || refresh == NULL ||
	    (tag != ES10_TAG_ENABLE_PROFILE && tag != ES10_TAG_DISABLE_PROFILE))
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, tag, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, 0xA0, &c)) != 0)
		return rc;
	der_iter_init(&in, c.val, c.len);
	if ((rc = der_iter_next(&in, &s)) != 1)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = der_iter_end(&in)) != 0 || (rc = get_profile_id(&s, id)) != 0)
		return rc;
	if ((rc = der_iter_expect(&it, 0x81, &c)) != 0 || (rc = get_bool(&c, refresh)) != 0)
		return rc;
	return der_iter_end(&it);
}

int
es10_delete_req_encode(const es10_profile_id *id, uint8_t **out, size_t *len)
{
	if (id == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_DELETE_PROFILE);
	int rc = put_profile_id(&w, id);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_delete_req_decode(const uint8_t *buf, size_t len, es10_profile_id *id)
{
	der_tlv t, s;
	der_iter it;
	int rc;
	if (id == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_DELETE_PROFILE, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_next(&it, &s)) != 1)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = der_iter_end(&it)) != 0)
		return rc;
	return get_profile_id(&s, id);
}

int
es10_set_nickname_req_encode(const uint8_t iccid[ES10_ICCID_LEN], const char *nickname, uint8_t **out,
    size_t *len)
{
	if (iccid == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_SET_NICKNAME);
	der_put(&w, TAG_ICCID, iccid, ES10_ICCID_LEN);
	int rc = put_str(&w, 0x90, nickname, ES10_NICKNAME_MAX);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_set_nickname_req_decode(const uint8_t *buf, size_t len, uint8_t iccid[ES10_ICCID_LEN],
    char nickname[ES10_NICKNAME_MAX + 1])
{
	der_tlv t, c;
	der_iter it;
	int rc;
	if (iccid == NULL || nickname == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_SET_NICKNAME, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, TAG_ICCID, &c)) != 0 || (rc = es10i_get_fixed(&c, iccid, ES10_ICCID_LEN)) != 0 ||
	    (rc = der_iter_expect(&it, 0x90, &c)) != 0 || (rc = es10i_get_str(&c, nickname, ES10_NICKNAME_MAX)) != 0)
		return rc;
	return der_iter_end(&it);
}

/* ---- notifications ---- */

static int
one_event(uint32_t e)
{
	return e != 0 && (e & (e - 1)) == 0 && e <= ES10_EVENT_DELETE;
}

static int
put_metadata(der_writer *w, uint32_t tag, const es10_notif_metadata *m)
{
	if (!one_event(m->event))
		return TS_EINVAL;
	der_begin(w, tag);
	put_int(w, 0x80, m->seq);
	put_bits(w, 0x81, m->event);
	int rc = put_str(w, TAG_UTF8, m->address, ES10_ADDR_MAX);
	if (rc != 0)
		return rc;
	if (m->has_iccid)
		der_put(w, TAG_ICCID, m->iccid, ES10_ICCID_LEN);
	return der_end(w);
}

static int
get_metadata(const der_tlv *t, es10_notif_metadata *m)
{
	static const uint32_t L[] = { 0x80, 0x81, TAG_UTF8, TAG_ICCID };
	der_tlv c;
	walk wk;
	int idx, rc;
	memset(m, 0, sizeof(*m));
	if (!der_tag_constructed(t->tag))
		return TS_EPARSE;
	walk_init(&wk, t, L, 4, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		switch (idx) {
		case 0: rc = get_int(&c, &m->seq); break;
		case 1: rc = get_bits(&c, &m->event); break;
		case 2: rc = es10i_get_str(&c, m->address, ES10_ADDR_MAX); break;
		default:
			m->has_iccid = 1;
			rc = es10i_get_fixed(&c, m->iccid, ES10_ICCID_LEN);
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* "Only one bit SHALL be set to 1" (RSPDefinitions). */
	if (!one_event(m->event))
		return TS_EPARSE;
	return walk_has(&wk, 0x7);
}

int
es10_notif_metadata_encode(const es10_notif_metadata *m, uint8_t **out, size_t *len)
{
	if (m == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	int rc = put_metadata(&w, ES10_TAG_NOTIFICATION_METADATA, m);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	return es10i_finish(&w, out, len);
}

int
es10_notif_metadata_decode(const uint8_t *buf, size_t len, es10_notif_metadata *m)
{
	der_tlv t;
	if (m == NULL)
		return TS_EINVAL;
	int rc = es10i_top(buf, len, ES10_TAG_NOTIFICATION_METADATA, &t);
	if (rc != 0)
		return rc;
	return get_metadata(&t, m);
}

int
es10_list_notif_req_encode(int has_filter, uint32_t events, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_LIST_NOTIFICATION);
	if (has_filter)
		put_bits(&w, 0x81, events);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_list_notif_req_decode(const uint8_t *buf, size_t len, int *has_filter, uint32_t *events)
{
	static const uint32_t L[] = { 0x81 };
	der_tlv t, c;
	walk wk;
	int idx, rc;
	if (has_filter == NULL || events == NULL)
		return TS_EINVAL;
	*has_filter = 0;
	*events = 0;
	if ((rc = es10i_top(buf, len, ES10_TAG_LIST_NOTIFICATION, &t)) != 0)
		return rc;
	walk_init(&wk, &t, L, 1, 0);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		*has_filter = 1;
		if ((rc = get_bits(&c, events)) != 0)
			return rc;
	}
	return rc;
}

void
es10_notif_list_init(es10_notif_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
es10_notif_list_clear(es10_notif_list *l)
{
	if (l == NULL)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

int
es10_notif_list_encode(const es10_notif_metadata *items, size_t n, uint8_t **out, size_t *len)
{
	if ((items == NULL && n != 0) || n > ES10_MAX_NOTIFICATIONS)
		return TS_EINVAL;
	der_writer w;
	int rc = 0;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_LIST_NOTIFICATION);
	der_begin(&w, 0xA0);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = put_metadata(&w, ES10_TAG_NOTIFICATION_METADATA, &items[i]);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_notif_list_decode(const uint8_t *buf, size_t len, es10_notif_list *l)
{
	der_tlv list, c;
	der_iter it;
	size_t n;
	int err = 0, rc;
	if (l == NULL)
		return TS_EINVAL;
	es10_notif_list_init(l);
	if ((rc = list_choice(buf, len, ES10_TAG_LIST_NOTIFICATION, &list, &err)) < 0)
		return rc;
	if (rc == 0) {
		l->error = err;
		return 0;
	}
	if ((rc = count_children(&list, ES10_TAG_NOTIFICATION_METADATA, ES10_MAX_NOTIFICATIONS, &n)) != 0)
		return rc;
	if (n > 0 && (l->items = calloc(n, sizeof(*l->items))) == NULL)
		return TS_ENOMEM;
	der_iter_init(&it, list.val, list.len);
	while ((rc = der_iter_next(&it, &c)) == 1) {
		if ((rc = get_metadata(&c, &l->items[l->n])) != 0)
			break;
		l->n++;
	}
	if (rc != 0) {
		es10_notif_list_clear(l);
		return rc;
	}
	return 0;
}

int
es10_retrieve_req_encode(const es10_retrieve_req *r, uint8_t **out, size_t *len)
{
	if (r == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_RETRIEVE_NOTIFICATIONS);
	if (r->by == ES10_RETRIEVE_SEQ || r->by == ES10_RETRIEVE_EVENTS) {
		der_begin(&w, 0xA0);
		if (r->by == ES10_RETRIEVE_SEQ)
			put_int(&w, 0x80, r->seq);
		else
			put_bits(&w, 0x81, r->events);
		der_end(&w);
	} else if (r->by != ES10_RETRIEVE_ALL) {
		der_writer_clear(&w);
		return TS_EINVAL;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_retrieve_req_decode(const uint8_t *buf, size_t len, es10_retrieve_req *r)
{
	der_tlv t, c, s;
	der_iter it, in;
	int rc;
	if (r == NULL)
		return TS_EINVAL;
	memset(r, 0, sizeof(*r));
	if ((rc = es10i_top(buf, len, ES10_TAG_RETRIEVE_NOTIFICATIONS, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_next(&it, &c)) <= 0)
		return rc;
	if (c.tag != 0xA0 || (rc = der_iter_end(&it)) != 0)
		return TS_EPARSE;
	der_iter_init(&in, c.val, c.len);
	if ((rc = der_iter_next(&in, &s)) != 1)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = der_iter_end(&in)) != 0)
		return rc;
	if (s.tag == 0x80) {
		r->by = ES10_RETRIEVE_SEQ;
		return get_int(&s, &r->seq);
	}
	if (s.tag == 0x81) {
		r->by = ES10_RETRIEVE_EVENTS;
		return get_bits(&s, &r->events);
	}
	return TS_EPARSE;
}

/* profileInstallationResultData */
static int
put_pir_data(der_writer *w, const es10_pir *p)
{
	if (p->tid_len < 1 || p->tid_len > ES10_TID_MAX || p->meta.event != ES10_EVENT_INSTALL ||
	    (p->has_smdp_oid && (p->smdp_oid_len < 1 || p->smdp_oid_len > ES10_OID_MAX)) ||
	    p->sima_len > ES10_SIMA_MAX)
		return TS_EINVAL;
	der_begin(w, ES10_TAG_PIR_DATA);
	der_put(w, 0x80, p->tid, p->tid_len);
	int rc = put_metadata(w, ES10_TAG_NOTIFICATION_METADATA, &p->meta);
	if (rc != 0)
		return rc;
	if (p->has_smdp_oid)
		der_put(w, TAG_OID, p->smdp_oid, p->smdp_oid_len);
	der_begin(w, 0xA2);
	if (p->success) {
		if (p->aid_len < 5 || p->aid_len > ES10_AID_MAX)
			return TS_EINVAL;
		der_begin(w, 0xA0);
		der_put(w, TAG_AID, p->aid, p->aid_len);
		der_put(w, TAG_OCTET_STRING, p->sima, p->sima_len);
		der_end(w);
	} else {
		if (p->bpp_command_id < 0 || p->error_reason < 0)
			return TS_EINVAL;
		der_begin(w, 0xA1);
		put_int(w, 0x80, (uint64_t)p->bpp_command_id);
		put_int(w, 0x81, (uint64_t)p->error_reason);
		if (p->has_sima)
			der_put(w, 0x82, p->sima, p->sima_len);
		der_end(w);
	}
	der_end(w);
	return der_end(w);
}

static int
get_final_result(const der_tlv *t, es10_pir *p)
{
	static const uint32_t LS[] = { TAG_AID, TAG_OCTET_STRING };
	static const uint32_t LE[] = { 0x80, 0x81, 0x82 };
	der_tlv r, c;
	der_iter it;
	walk wk;
	int idx, rc;
	der_iter_init(&it, t->val, t->len);
	if ((rc = der_iter_next(&it, &r)) != 1)
		return rc < 0 ? rc : TS_EPARSE;
	if ((rc = der_iter_end(&it)) != 0)
		return rc;
	if (r.tag == 0xA0) {
		p->success = 1;
		p->has_sima = 1;
		walk_init(&wk, &r, LS, 2, 1);
		while ((rc = walk_next(&wk, &c, &idx)) == 1) {
			rc = idx == 0 ? es10i_get_var(&c, p->aid, 5, ES10_AID_MAX, &p->aid_len)
			              : es10i_get_var(&c, p->sima, 0, ES10_SIMA_MAX, &p->sima_len);
			if (rc != 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		return walk_has(&wk, 0x3);
	}
	if (r.tag != 0xA1)
		return TS_EPARSE;
	walk_init(&wk, &r, LE, 3, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		if (idx == 0) {
			rc = get_small_int(&c, &p->bpp_command_id);
		} else if (idx == 1) {
			rc = get_small_int(&c, &p->error_reason);
		} else {
			p->has_sima = 1;
			rc = es10i_get_var(&c, p->sima, 0, ES10_SIMA_MAX, &p->sima_len);
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return walk_has(&wk, 0x3);
}

static int
get_pir_data(const der_tlv *t, es10_pir *p)
{
	static const uint32_t L[] = { 0x80, ES10_TAG_NOTIFICATION_METADATA, TAG_OID, 0xA2 };
	der_tlv c;
	walk wk;
	int idx, rc;
	walk_init(&wk, t, L, 4, 1);
	while ((rc = walk_next(&wk, &c, &idx)) == 1) {
		switch (idx) {
		case 0: rc = es10i_get_var(&c, p->tid, 1, ES10_TID_MAX, &p->tid_len); break;
		case 1: rc = get_metadata(&c, &p->meta); break;
		case 2:
			p->has_smdp_oid = 1;
			rc = es10i_get_var(&c, p->smdp_oid, 1, ES10_OID_MAX, &p->smdp_oid_len);
			break;
		default: rc = der_tag_constructed(c.tag) ? get_final_result(&c, p) : TS_EPARSE; break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if ((rc = walk_has(&wk, 0x1 | 0x2 | 0x8)) != 0)
		return rc;
	return p->meta.event == ES10_EVENT_INSTALL ? 0 : TS_EPARSE;
}

int
es10_other_notif_sign(const es10_notif_metadata *m, EVP_PKEY *key, const uint8_t *euicc_cert,
    size_t euicc_cert_len, const uint8_t *eum_cert, size_t eum_cert_len, uint8_t **out, size_t *len)
{
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	uint8_t sig[PKI_SIG_LEN];
	der_writer w;
	int rc;
	if (m == NULL || key == NULL || euicc_cert == NULL || eum_cert == NULL)
		return TS_EINVAL;
	if ((rc = der_validate(euicc_cert, euicc_cert_len)) != 0 || (rc = der_validate(eum_cert, eum_cert_len)) != 0)
		return TS_EINVAL;
	if ((rc = es10_notif_metadata_encode(m, &tbs, &tbs_len)) != 0)
		return rc;
	if ((rc = pki_sign(key, tbs, tbs_len, sig)) != 0) {
		free(tbs);
		return rc;
	}
	der_writer_init(&w);
	der_begin(&w, TAG_SEQUENCE);
	der_put_raw(&w, tbs, tbs_len);
	der_put(&w, TAG_SIG, sig, sizeof(sig));
	der_put_raw(&w, euicc_cert, euicc_cert_len);
	der_put_raw(&w, eum_cert, eum_cert_len);
	der_end(&w);
	free(tbs);
	return es10i_finish(&w, out, len);
}

int
es10_pir_sign(const es10_pir *p, EVP_PKEY *key, uint8_t **out, size_t *len)
{
	uint8_t *tbs = NULL, sig[PKI_SIG_LEN];
	size_t tbs_len = 0;
	der_writer w;
	int rc;
	if (p == NULL || key == NULL)
		return TS_EINVAL;
	der_writer_init(&w);
	if ((rc = put_pir_data(&w, p)) != 0) {
		der_writer_clear(&w);
		return rc;
	}
	if ((rc = es10i_finish(&w, &tbs, &tbs_len)) != 0)
		return rc;
	if ((rc = pki_sign(key, tbs, tbs_len, sig)) != 0) {
		free(tbs);
		return rc;
	}
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_PROFILE_INSTALLATION_RESULT);
	der_put_raw(&w, tbs, tbs_len);
	der_put(&w, TAG_SIG, sig, sizeof(sig));
	der_end(&w);
	free(tbs);
	return es10i_finish(&w, out, len);
}

/* One PendingNotification TLV (already read). */
static int
get_pending(const der_tlv *t, es10_pending *n)
{
	der_iter it;
	der_tlv c, s;
	int rc;
	memset(n, 0, sizeof(*n));
	n->der = FULL(*t);
	n->der_len = SIZE(*t);
	der_iter_init(&it, t->val, t->len);
	if (t->tag == ES10_TAG_PROFILE_INSTALLATION_RESULT) {
		n->kind = ES10_PENDING_INSTALL;
		if ((rc = der_iter_expect(&it, ES10_TAG_PIR_DATA, &c)) != 0 || (rc = get_pir_data(&c, &n->pir)) != 0)
			return rc;
		n->meta = n->pir.meta;
	} else if (t->tag == TAG_SEQUENCE) {
		n->kind = ES10_PENDING_OTHER;
		if ((rc = der_iter_expect(&it, ES10_TAG_NOTIFICATION_METADATA, &c)) != 0 ||
		    (rc = get_metadata(&c, &n->meta)) != 0)
			return rc;
		if (n->meta.event == ES10_EVENT_INSTALL)
			return TS_EPARSE; /* an install result is a ProfileInstallationResult */
	} else {
		return TS_EPARSE;
	}
	n->tbs = FULL(c);
	n->tbs_len = SIZE(c);
	if ((rc = der_iter_expect(&it, TAG_SIG, &s)) != 0 || (rc = es10i_get_fixed(&s, n->sig, ES10_SIG_LEN)) != 0)
		return rc;
	if (n->kind == ES10_PENDING_OTHER) {
		if ((rc = der_iter_expect(&it, TAG_SEQUENCE, &c)) != 0 || (rc = der_validate(FULL(c), SIZE(c))) != 0)
			return rc;
		n->euicc_cert = FULL(c);
		n->euicc_cert_len = SIZE(c);
		if ((rc = der_iter_expect(&it, TAG_SEQUENCE, &c)) != 0 || (rc = der_validate(FULL(c), SIZE(c))) != 0)
			return rc;
		n->eum_cert = FULL(c);
		n->eum_cert_len = SIZE(c);
	}
	return der_iter_end(&it);
}

int
es10_pending_decode(const uint8_t *buf, size_t len, es10_pending *n)
{
	der_tlv t;
	int rc;
	if (buf == NULL || n == NULL)
		return TS_EINVAL;
	rc = der_read_one(buf, len, &t);
	if (rc == TS_EAGAIN)
		return TS_EPARSE;
	if (rc != 0)
		return rc;
	return get_pending(&t, n);
}

int
es10_pending_verify(const es10_pending *n, EVP_PKEY *pub)
{
	if (n == NULL || pub == NULL || n->tbs == NULL)
		return TS_EINVAL;
	return pki_verify(pub, n->tbs, n->tbs_len, n->sig) == 0 ? 0 : TS_EVERIFY;
}

void
es10_pending_list_init(es10_pending_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
es10_pending_list_clear(es10_pending_list *l)
{
	if (l == NULL)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

int
es10_pending_list_encode(const es10_blob *items, size_t n, uint8_t **out, size_t *len)
{
	if ((items == NULL && n != 0) || n > ES10_MAX_NOTIFICATIONS)
		return TS_EINVAL;
	der_writer w;
	es10_pending p;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_RETRIEVE_NOTIFICATIONS);
	der_begin(&w, 0xA0);
	for (size_t i = 0; i < n; i++) {
		if (es10_pending_decode(items[i].der, items[i].len, &p) != 0) {
			der_writer_clear(&w);
			return TS_EINVAL;
		}
		der_put_raw(&w, items[i].der, items[i].len);
	}
	der_end(&w);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_pending_list_decode(const uint8_t *buf, size_t len, es10_pending_list *l)
{
	der_tlv list, c;
	der_iter it;
	size_t n;
	int err = 0, rc;
	if (l == NULL)
		return TS_EINVAL;
	es10_pending_list_init(l);
	if ((rc = list_choice(buf, len, ES10_TAG_RETRIEVE_NOTIFICATIONS, &list, &err)) < 0)
		return rc;
	if (rc == 0) {
		l->error = err;
		return 0;
	}
	if ((rc = count_children(&list, 0, ES10_MAX_NOTIFICATIONS, &n)) != 0)
		return rc;
	if (n > 0 && (l->items = calloc(n, sizeof(*l->items))) == NULL)
		return TS_ENOMEM;
	der_iter_init(&it, list.val, list.len);
	while ((rc = der_iter_next(&it, &c)) == 1) {
		if ((rc = get_pending(&c, &l->items[l->n])) != 0)
			break;
		l->n++;
	}
	if (rc != 0) {
		es10_pending_list_clear(l);
		return rc;
	}
	return 0;
}

int
es10_notif_sent_req_encode(uint64_t seq, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_NOTIFICATION_SENT);
	put_int(&w, 0x80, seq);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_notif_sent_req_decode(const uint8_t *buf, size_t len, uint64_t *seq)
{
	der_tlv t, c;
	der_iter it;
	int rc;
	if (seq == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_NOTIFICATION_SENT, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, 0x80, &c)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	return get_int(&c, seq);
}

/* ---- eUICCMemoryReset ---- */

int
es10_memory_reset_req_encode(uint32_t options, uint8_t **out, size_t *len)
{
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, ES10_TAG_MEMORY_RESET);
	put_bits(&w, 0x82, options);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
es10_memory_reset_req_decode(const uint8_t *buf, size_t len, uint32_t *options)
{
	der_tlv t, c;
	der_iter it;
	int rc;
	if (options == NULL)
		return TS_EINVAL;
	if ((rc = es10i_top(buf, len, ES10_TAG_MEMORY_RESET, &t)) != 0)
		return rc;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, 0x82, &c)) != 0 || (rc = der_iter_end(&it)) != 0)
		return rc;
	return get_bits(&c, options);
}

/* ---- extCardResource (ETSI TS 102 226) ---- */

int
es10_ecr_decode(const uint8_t *buf, size_t len, es10_ecr *out)
{
	der_iter it;
	der_tlv t;
	int rc;
	if ((buf == NULL && len > 0) || out == NULL)
		return TS_EINVAL;
	es10_ecr e;
	memset(&e, 0, sizeof(e));
	der_iter_init(&it, buf, len);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		int *has;
		uint64_t *v;
		switch (t.tag) {
		case 0x81: has = &e.has_installed_apps; v = &e.installed_apps; break;
		case 0x82: has = &e.has_free_nvm; v = &e.free_nvm; break;
		case 0x83: has = &e.has_free_ram; v = &e.free_ram; break;
		default: continue;
		}
		if (*has || t.len == 0 || t.len > 8)
			return TS_EPARSE;
		*v = 0;
		for (size_t i = 0; i < t.len; i++)
			*v = *v << 8 | t.val[i];
		*has = 1;
	}
	if (rc < 0)
		return rc == TS_EAGAIN ? TS_EPARSE : rc;
	*out = e;
	return 0;
}
