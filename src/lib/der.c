/*
 * der.c — strict DER / BER-TLV reader and writer (see der.h).
 *
 * Identifier octets (ITU-T X.690 8.1.2): when the low five bits of the first
 * octet are all ones, the tag number follows in base 128, high bit set on all
 * but the last octet. DER requires the shortest form, so a first subsequent
 * octet of 0x80 (leading zero) and long-form tag numbers below 31 are
 * rejected. Length octets (X.690 8.1.3 / 10.1): definite form only, short form
 * for lengths below 128, no leading zero octets in the long form.
 */
#include "lib/der.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"

#define DER_MAX_TAG_OCTETS 4
#define DER_MAX_LEN_OCTETS 4 /* 0x84: enough to see any length > DER_MAX_LEN */

int
der_tag_constructed(uint32_t tag)
{
	/* The first identifier octet is the most significant non-zero byte. */
	uint32_t first = tag;
	while (first > 0xff)
		first >>= 8;
	return (first & 0x20) != 0;
}

/* Number of identifier octets of a well-formed tag, or 0 if tag is not a
 * valid minimal encoding. */
static size_t
tag_octets(uint32_t tag)
{
	size_t n = 1;
	while (n < DER_MAX_TAG_OCTETS && (tag >> (8 * n)) != 0)
		n++;
	uint8_t o[DER_MAX_TAG_OCTETS];
	for (size_t i = 0; i < n; i++)
		o[i] = (uint8_t)(tag >> (8 * (n - 1 - i)));
	if (n == 1)
		return (o[0] & 0x1f) != 0x1f && o[0] != 0 ? 1 : 0;
	if ((o[0] & 0x1f) != 0x1f || o[1] == 0x80)
		return 0;
	uint32_t num = 0;
	for (size_t i = 1; i < n; i++) {
		int last = i == n - 1;
		if (last != !(o[i] & 0x80))
			return 0;
		num = num << 7 | (o[i] & 0x7f);
	}
	return num >= 31 ? n : 0;
}

/* Reads the identifier octets. Returns octet count (>0) or a TS_E* code. */
static int
read_tag(const uint8_t *buf, size_t len, uint32_t *tag)
{
	if (len < 1)
		return TS_EAGAIN;
	uint32_t t = buf[0];
	if (buf[0] == 0x00)
		return TS_EPARSE; /* end-of-contents / padding: never a TLV here */
	if ((buf[0] & 0x1f) != 0x1f) {
		*tag = t;
		return 1;
	}
	uint32_t num = 0;
	for (size_t i = 1; i < DER_MAX_TAG_OCTETS; i++) {
		if (i >= len)
			return TS_EAGAIN;
		uint8_t b = buf[i];
		if (i == 1 && b == 0x80)
			return TS_EPARSE; /* leading zero in base 128 */
		t = t << 8 | b;
		num = num << 7 | (b & 0x7f);
		if (!(b & 0x80)) {
			if (num < 31)
				return TS_EPARSE; /* fits the short form */
			*tag = t;
			return (int)(i + 1);
		}
	}
	return TS_ELIMIT; /* more than DER_MAX_TAG_OCTETS identifier octets */
}

/* Reads the length octets. Returns octet count (>0) or a TS_E* code. */
static int
read_len(const uint8_t *buf, size_t len, size_t *out)
{
	if (len < 1)
		return TS_EAGAIN;
	uint8_t b = buf[0];
	if (b < 0x80) {
		*out = b;
		return 1;
	}
	if (b == 0x80 || b == 0xff)
		return TS_EPARSE; /* indefinite / reserved */
	size_t n = b & 0x7f;
	if (n > DER_MAX_LEN_OCTETS)
		return TS_ELIMIT;
	size_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (1 + i >= len)
			return TS_EAGAIN;
		if (i == 0 && buf[1] == 0)
			return TS_EPARSE; /* leading zero octet */
		v = v << 8 | buf[1 + i];
	}
	if (v < 0x80)
		return TS_EPARSE; /* long form for a short length */
	if (v > DER_MAX_LEN)
		return TS_ELIMIT;
	*out = v;
	return (int)(1 + n);
}

int
der_read(const uint8_t *buf, size_t len, der_tlv *out, size_t *consumed)
{
	if ((buf == NULL && len != 0) || out == NULL)
		return TS_EINVAL;
	uint32_t tag = 0;
	int tn = read_tag(buf, len, &tag);
	if (tn < 0)
		return tn;
	size_t vlen = 0;
	int ln = read_len(buf + tn, len - (size_t)tn, &vlen);
	if (ln < 0)
		return ln;
	size_t hdr = (size_t)tn + (size_t)ln;
	if (vlen > len - hdr)
		return TS_EAGAIN;
	out->tag = tag;
	out->val = buf + hdr;
	out->len = vlen;
	out->hdr_len = hdr;
	if (consumed != NULL)
		*consumed = hdr + vlen;
	return 0;
}

int
der_read_one(const uint8_t *buf, size_t len, der_tlv *out)
{
	size_t used = 0;
	int rc = der_read(buf, len, out, &used);
	if (rc != 0)
		return rc;
	return used == len ? 0 : TS_ETRAILING;
}

void
der_iter_init(der_iter *it, const uint8_t *buf, size_t len)
{
	it->buf = buf;
	it->len = buf == NULL ? 0 : len;
	it->off = 0;
}

int
der_iter_next(der_iter *it, der_tlv *out)
{
	if (it->off >= it->len)
		return 0;
	size_t used = 0;
	int rc = der_read(it->buf + it->off, it->len - it->off, out, &used);
	if (rc == TS_EAGAIN)
		return TS_EPARSE; /* the buffer is complete: truncation is an error */
	if (rc != 0)
		return rc;
	it->off += used;
	return 1;
}

int
der_find(const uint8_t *buf, size_t len, uint32_t tag, der_tlv *out)
{
	der_iter it;
	der_tlv t;
	int found = 0, rc;
	der_iter_init(&it, buf, len);
	/* Keep going after a hit: the whole buffer must parse. */
	while ((rc = der_iter_next(&it, &t)) == 1) {
		if (!found && t.tag == tag) {
			if (out != NULL)
				*out = t;
			found = 1;
		}
	}
	if (rc < 0)
		return rc;
	return found ? 0 : TS_ENOTFOUND;
}

/* Validates the children of a constructed TLV nested `depth` constructed
 * levels deep (the root is level 1). Recursion is bounded by DER_MAX_DEPTH. */
static int
validate_seq(const uint8_t *buf, size_t len, int depth)
{
	der_iter it;
	der_tlv t;
	int rc;
	der_iter_init(&it, buf, len);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		if (der_tag_constructed(t.tag)) {
			if (depth + 1 > DER_MAX_DEPTH)
				return TS_ELIMIT;
			rc = validate_seq(t.val, t.len, depth + 1);
			if (rc != 0)
				return rc;
		}
	}
	return rc;
}

int
der_validate(const uint8_t *buf, size_t len)
{
	der_tlv t;
	if (buf == NULL && len != 0)
		return TS_EINVAL;
	int rc = der_read_one(buf, len, &t);
	if (rc == TS_EAGAIN)
		return TS_EPARSE;
	if (rc != 0)
		return rc;
	if (!der_tag_constructed(t.tag))
		return 0;
	return validate_seq(t.val, t.len, 1);
}

int
der_get_uint(const der_tlv *t, uint64_t *out)
{
	if (t == NULL || out == NULL)
		return TS_EINVAL;
	if (der_tag_constructed(t->tag) || t->len == 0)
		return TS_EPARSE;
	const uint8_t *p = t->val;
	size_t n = t->len;
	/* A DER INTEGER of a value >= 2^63 carries a leading 0x00: 9 bytes. */
	if (n == 9 && p[0] == 0) {
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

/* ---- writer ---- */

void
der_writer_init(der_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void
der_writer_clear(der_writer *w)
{
	if (w == NULL)
		return;
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static int
w_fail(der_writer *w, int err)
{
	if (w->err == 0)
		w->err = err;
	return w->err;
}

static int
w_reserve(der_writer *w, size_t extra)
{
	if (extra > SIZE_MAX - w->len)
		return w_fail(w, TS_ELIMIT);
	size_t need = w->len + extra;
	if (need <= w->cap)
		return 0;
	size_t cap = w->cap < 64 ? 64 : w->cap;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return w_fail(w, TS_ELIMIT);
		cap *= 2;
	}
	uint8_t *nb = realloc(w->buf, cap);
	if (nb == NULL)
		return w_fail(w, TS_ENOMEM);
	w->buf = nb;
	w->cap = cap;
	return 0;
}

static size_t
len_octets(size_t len)
{
	if (len < 0x80)
		return 1;
	size_t n = 0;
	for (size_t v = len; v != 0; v >>= 8)
		n++;
	return 1 + n;
}

static void
put_len_at(uint8_t *p, size_t len)
{
	size_t n = len_octets(len);
	if (n == 1) {
		p[0] = (uint8_t)len;
		return;
	}
	p[0] = (uint8_t)(0x80 | (n - 1));
	for (size_t i = 1; i < n; i++)
		p[i] = (uint8_t)(len >> (8 * (n - 1 - i)));
}

static void
put_tag_at(uint8_t *p, uint32_t tag, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(tag >> (8 * (n - 1 - i)));
}

int
der_put(der_writer *w, uint32_t tag, const uint8_t *val, size_t len)
{
	if (w->err != 0)
		return w->err;
	size_t tn = tag_octets(tag);
	if (tn == 0 || (val == NULL && len != 0))
		return w_fail(w, TS_EINVAL);
	if (len > DER_MAX_LEN)
		return w_fail(w, TS_ELIMIT);
	size_t ln = len_octets(len);
	int rc = w_reserve(w, tn + ln + len);
	if (rc != 0)
		return rc;
	put_tag_at(w->buf + w->len, tag, tn);
	put_len_at(w->buf + w->len + tn, len);
	if (len != 0)
		memcpy(w->buf + w->len + tn + ln, val, len);
	w->len += tn + ln + len;
	return 0;
}

int
der_put_uint(der_writer *w, uint32_t tag, uint64_t v)
{
	uint8_t b[8];
	size_t n = 1;
	while (n < 8 && (v >> (8 * n)) != 0)
		n++;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return der_put(w, tag, b, n);
}

int
der_put_str(der_writer *w, uint32_t tag, const char *s)
{
	if (w->err != 0)
		return w->err;
	if (s == NULL)
		return w_fail(w, TS_EINVAL);
	return der_put(w, tag, (const uint8_t *)s, strlen(s));
}

int
der_put_raw(der_writer *w, const uint8_t *raw, size_t len)
{
	if (w->err != 0)
		return w->err;
	if (raw == NULL && len != 0)
		return w_fail(w, TS_EINVAL);
	int rc = w_reserve(w, len);
	if (rc != 0)
		return rc;
	if (len != 0)
		memcpy(w->buf + w->len, raw, len);
	w->len += len;
	return 0;
}

int
der_begin(der_writer *w, uint32_t tag)
{
	if (w->err != 0)
		return w->err;
	size_t tn = tag_octets(tag);
	if (tn == 0 || !der_tag_constructed(tag))
		return w_fail(w, TS_EINVAL);
	if (w->depth >= DER_MAX_DEPTH)
		return w_fail(w, TS_ELIMIT);
	/* Tag and one length octet now; der_end widens the length if needed. */
	int rc = w_reserve(w, tn + 1);
	if (rc != 0)
		return rc;
	put_tag_at(w->buf + w->len, tag, tn);
	w->len += tn;
	w->open[w->depth] = w->len; /* offset of the length octet */
	w->open_tag[w->depth] = tag;
	w->depth++;
	w->buf[w->len++] = 0;
	return 0;
}

int
der_end(der_writer *w)
{
	if (w->err != 0)
		return w->err;
	if (w->depth <= 0)
		return w_fail(w, TS_ESTATE);
	size_t lpos = w->open[w->depth - 1];
	size_t vstart = lpos + 1;
	size_t vlen = w->len - vstart;
	if (vlen > DER_MAX_LEN)
		return w_fail(w, TS_ELIMIT);
	size_t ln = len_octets(vlen);
	if (ln > 1) {
		int rc = w_reserve(w, ln - 1);
		if (rc != 0)
			return rc;
		memmove(w->buf + vstart + ln - 1, w->buf + vstart, vlen);
		w->len += ln - 1;
	}
	put_len_at(w->buf + lpos, vlen);
	w->depth--;
	return 0;
}

int
der_writer_finish(der_writer *w, uint8_t **out, size_t *outlen)
{
	if (w->err == 0 && w->depth != 0)
		w_fail(w, TS_ESTATE);
	if (w->err == 0 && (out == NULL || outlen == NULL))
		w_fail(w, TS_EINVAL);
	if (w->err != 0) {
		int err = w->err;
		free(w->buf);
		memset(w, 0, sizeof(*w));
		w->err = err; /* stays sticky until der_writer_clear */
		return err;
	}
	if (w->buf == NULL) {
		w->buf = malloc(1); /* empty output: still a freeable pointer */
		if (w->buf == NULL)
			return w_fail(w, TS_ENOMEM);
	}
	*out = w->buf;
	*outlen = w->len;
	memset(w, 0, sizeof(*w));
	return 0;
}

int
der_iter_expect(der_iter *it, uint32_t tag, der_tlv *out)
{
	int rc = der_iter_next(it, out);
	if (rc < 0)
		return rc;
	if (rc == 0 || out->tag != tag)
		return TS_EPARSE;
	return 0;
}

int
der_iter_end(der_iter *it)
{
	der_tlv t;
	int rc = der_iter_next(it, &t);
	if (rc < 0)
		return rc;
	return rc == 0 ? 0 : TS_EPARSE;
}
