/*
 * credapplet.c — encodings of the tapshare credential applet (credapplet.h).
 */
#include "lib/credapplet.h"

#include <stdlib.h>
#include <string.h>

#include "lib/der.h"
#include "lib/es10_int.h"
#include "lib/ts_err.h"

#define TAG_ICCID 0x5A
#define TAG_LIST 0xE0
#define TAG_ENTRY 0xE1
#define TAG_KEY 0xE2
#define TAG_POINT 0x86
#define TAG_CERT 0x30

static int
top(const uint8_t *buf, size_t len, der_tlv *t)
{
	if (buf == NULL)
		return TS_EINVAL;
	int rc = der_read_one(buf, len, t);
	return rc == TS_EAGAIN ? TS_EPARSE : rc;
}

/* INTEGER >= 0, minimal two's complement. */
static void
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
			b[n++] = 0;
		started = 1;
		b[n++] = byte;
	}
	der_put(w, tag, b, n);
}

static int
get_int(const der_tlv *t, int64_t *out)
{
	if (der_tag_constructed(t->tag) || t->len == 0 || t->len > 8 || (t->val[0] & 0x80) ||
	    (t->len > 1 && t->val[0] == 0 && !(t->val[1] & 0x80)))
		return TS_EPARSE;
	uint64_t v = 0;
	for (size_t i = 0; i < t->len; i++)
		v = v << 8 | t->val[i];
	*out = (int64_t)v;
	return 0;
}

static int
get_str(const der_tlv *t, char *dst, size_t min, size_t max)
{
	if (der_tag_constructed(t->tag) || t->len < min || t->len > max || memchr(t->val, 0, t->len) != NULL)
		return TS_EPARSE;
	memcpy(dst, t->val, t->len);
	dst[t->len] = '\0';
	return 0;
}

static int
put_str(der_writer *w, uint32_t tag, const char *s, size_t min, size_t max)
{
	size_t n = s == NULL ? 0 : strlen(s);
	if (s == NULL || n < min || n > max)
		return TS_EINVAL;
	return der_put(w, tag, (const uint8_t *)s, n);
}

static int
put_entry(der_writer *w, const cred_entry *e)
{
	int rc;
	if (e->not_after < 0 || e->key_state < CRED_KEY_NONE || e->key_state > CRED_KEY_CERTIFIED)
		return TS_EINVAL;
	der_begin(w, TAG_ENTRY);
	der_put(w, TAG_ICCID, e->iccid, CRED_ICCID_LEN);
	if ((rc = put_str(w, 0x80, e->app_id, 1, CRED_STR_MAX)) != 0 ||
	    (rc = put_str(w, 0x81, e->name, 0, CRED_STR_MAX)) != 0 ||
	    (rc = put_str(w, 0x82, e->kind, 1, CRED_KIND_MAX)) != 0 ||
	    (rc = put_str(w, 0x83, e->provider, 0, CRED_STR_MAX)) != 0)
		return rc;
	put_int(w, 0x84, (uint64_t)e->not_after);
	put_int(w, 0x85, (uint64_t)e->key_state);
	return der_end(w);
}

static int
get_entry(const der_tlv *t, cred_entry *e)
{
	der_iter it;
	der_tlv c;
	int64_t v;
	int rc;
	memset(e, 0, sizeof(*e));
	if (t->tag != TAG_ENTRY)
		return TS_EPARSE;
	der_iter_init(&it, t->val, t->len);
	if ((rc = der_iter_expect(&it, TAG_ICCID, &c)) != 0)
		return rc;
	if (c.len != CRED_ICCID_LEN)
		return TS_EPARSE;
	memcpy(e->iccid, c.val, CRED_ICCID_LEN);
	if ((rc = der_iter_expect(&it, 0x80, &c)) != 0 || (rc = get_str(&c, e->app_id, 1, CRED_STR_MAX)) != 0 ||
	    (rc = der_iter_expect(&it, 0x81, &c)) != 0 || (rc = get_str(&c, e->name, 0, CRED_STR_MAX)) != 0 ||
	    (rc = der_iter_expect(&it, 0x82, &c)) != 0 || (rc = get_str(&c, e->kind, 1, CRED_KIND_MAX)) != 0 ||
	    (rc = der_iter_expect(&it, 0x83, &c)) != 0 || (rc = get_str(&c, e->provider, 0, CRED_STR_MAX)) != 0 ||
	    (rc = der_iter_expect(&it, 0x84, &c)) != 0 || (rc = get_int(&c, &e->not_after)) != 0 ||
	    (rc = der_iter_expect(&it, 0x85, &c)) != 0 || (rc = get_int(&c, &v)) != 0)
		return rc;
	if (v > CRED_KEY_CERTIFIED)
		return TS_EPARSE;
	e->key_state = (int)v;
	return der_iter_end(&it);
}

int
cred_entry_encode(const cred_entry *e, uint8_t **out, size_t *len)
{
	if (e == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	int rc = put_entry(&w, e);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	return es10i_finish(&w, out, len);
}

int
cred_entry_decode(const uint8_t *buf, size_t len, cred_entry *e)
{
	der_tlv t;
	if (e == NULL)
		return TS_EINVAL;
	int rc = top(buf, len, &t);
	return rc != 0 ? rc : get_entry(&t, e);
}

int
cred_list_encode(const cred_entry *items, size_t n, uint8_t **out, size_t *len)
{
	if ((items == NULL && n != 0) || n > CRED_MAX_ENTRIES)
		return TS_EINVAL;
	der_writer w;
	int rc = 0;
	der_writer_init(&w);
	der_begin(&w, TAG_LIST);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = put_entry(&w, &items[i]);
	if (rc != 0) {
		der_writer_clear(&w);
		return rc;
	}
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
cred_list_decode(const uint8_t *buf, size_t len, cred_entry **items, size_t *n)
{
	der_tlv t, c;
	der_iter it;
	size_t count = 0;
	int rc;
	if (items == NULL || n == NULL)
		return TS_EINVAL;
	*items = NULL;
	*n = 0;
	if ((rc = top(buf, len, &t)) != 0)
		return rc;
	if (t.tag != TAG_LIST)
		return TS_EPARSE;
	der_iter_init(&it, t.val, t.len);
	while ((rc = der_iter_next(&it, &c)) == 1) {
		if (++count > CRED_MAX_ENTRIES)
			return TS_ELIMIT;
	}
	if (rc < 0)
		return rc;
	if (count == 0)
		return 0;
	cred_entry *e = calloc(count, sizeof(*e));
	if (e == NULL)
		return TS_ENOMEM;
	der_iter_init(&it, t.val, t.len);
	for (size_t i = 0; i < count; i++) {
		if ((rc = der_iter_next(&it, &c)) != 1 || (rc = get_entry(&c, &e[i])) != 0) {
			free(e);
			return rc < 0 ? rc : TS_EPARSE;
		}
	}
	*items = e;
	*n = count;
	return 0;
}

int
cred_iccid_encode(const uint8_t iccid[CRED_ICCID_LEN], uint8_t **out, size_t *len)
{
	if (iccid == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_put(&w, TAG_ICCID, iccid, CRED_ICCID_LEN);
	return es10i_finish(&w, out, len);
}

int
cred_iccid_decode(const uint8_t *buf, size_t len, uint8_t iccid[CRED_ICCID_LEN])
{
	der_tlv t;
	if (iccid == NULL)
		return TS_EINVAL;
	int rc = top(buf, len, &t);
	if (rc != 0)
		return rc;
	if (t.tag != TAG_ICCID || t.len != CRED_ICCID_LEN)
		return TS_EPARSE;
	memcpy(iccid, t.val, CRED_ICCID_LEN);
	return 0;
}

int
cred_key_encode(const uint8_t iccid[CRED_ICCID_LEN], const uint8_t point[CRED_PUBKEY_LEN], uint8_t **out,
    size_t *len)
{
	if (iccid == NULL || point == NULL)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, TAG_KEY);
	der_put(&w, TAG_ICCID, iccid, CRED_ICCID_LEN);
	der_put(&w, TAG_POINT, point, CRED_PUBKEY_LEN);
	der_end(&w);
	return es10i_finish(&w, out, len);
}

int
cred_key_decode(const uint8_t *buf, size_t len, uint8_t iccid[CRED_ICCID_LEN], uint8_t point[CRED_PUBKEY_LEN])
{
	der_tlv t, c;
	der_iter it;
	int rc;
	if (iccid == NULL || point == NULL)
		return TS_EINVAL;
	if ((rc = top(buf, len, &t)) != 0)
		return rc;
	if (t.tag != TAG_KEY)
		return TS_EPARSE;
	der_iter_init(&it, t.val, t.len);
	if ((rc = der_iter_expect(&it, TAG_ICCID, &c)) != 0)
		return rc;
	if (c.len != CRED_ICCID_LEN)
		return TS_EPARSE;
	memcpy(iccid, c.val, CRED_ICCID_LEN);
	if ((rc = der_iter_expect(&it, TAG_POINT, &c)) != 0)
		return rc;
	if (c.len != CRED_PUBKEY_LEN || c.val[0] != 0x04)
		return TS_EPARSE;
	memcpy(point, c.val, CRED_PUBKEY_LEN);
	return der_iter_end(&it);
}

int
cred_store_cert_encode(const uint8_t iccid[CRED_ICCID_LEN], const uint8_t *cert, size_t cert_len, uint8_t **out,
    size_t *len)
{
	if (iccid == NULL || cert == NULL || der_validate(cert, cert_len) != 0 || cert[0] != TAG_CERT)
		return TS_EINVAL;
	der_writer w;
	der_writer_init(&w);
	der_put(&w, TAG_ICCID, iccid, CRED_ICCID_LEN);
	der_put_raw(&w, cert, cert_len);
	return es10i_finish(&w, out, len);
}

int
cred_store_cert_decode(const uint8_t *buf, size_t len, uint8_t iccid[CRED_ICCID_LEN], const uint8_t **cert,
    size_t *cert_len)
{
	der_iter it;
	der_tlv c;
	int rc;
	if (buf == NULL || iccid == NULL || cert == NULL || cert_len == NULL)
		return TS_EINVAL;
	der_iter_init(&it, buf, len);
	if ((rc = der_iter_expect(&it, TAG_ICCID, &c)) != 0)
		return rc;
	if (c.len != CRED_ICCID_LEN)
		return TS_EPARSE;
	memcpy(iccid, c.val, CRED_ICCID_LEN);
	if ((rc = der_iter_expect(&it, TAG_CERT, &c)) != 0)
		return rc;
	if ((rc = der_validate(c.val - c.hdr_len, c.hdr_len + c.len)) != 0)
		return rc;
	*cert = c.val - c.hdr_len;
	*cert_len = c.hdr_len + c.len;
	if ((rc = der_iter_end(&it)) != 0)
		return rc == TS_EPARSE ? TS_ETRAILING : rc;
	return 0;
}
