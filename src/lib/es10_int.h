/*
 * es10_int.h — DER helpers the ES10 codec's files share (lib/es10.c,
 * lib/es10dl.c, lib/credapplet.c); library-internal, not installed. Each
 * value helper refuses a constructed encoding of a primitive type and any
 * length outside the type's SIZE.
 */
#ifndef TS_LIB_ES10_INT_H
#define TS_LIB_ES10_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/der.h"
#include "lib/es10.h"
#include "lib/ts_err.h"

/* der_writer_finish, then the writer is cleared whatever happened. */
static inline int
es10i_finish(der_writer *w, uint8_t **out, size_t *len)
{
	int rc = der_writer_finish(w, out, len);
	der_writer_clear(w);
	return rc;
}

/* The one TLV that makes up buf; its tag must be tag (TS_ETRAILING after it). */
static inline int
es10i_top(const uint8_t *buf, size_t len, uint32_t tag, der_tlv *t)
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

/* OCTET STRING of exactly n bytes. */
static inline int
es10i_get_fixed(const der_tlv *t, uint8_t *dst, size_t n)
{
	if (der_tag_constructed(t->tag) || t->len != n)
		return TS_EPARSE;
	memcpy(dst, t->val, n);
	return 0;
}

/* OCTET STRING of lo..hi bytes. */
static inline int
es10i_get_var(const der_tlv *t, uint8_t *dst, size_t lo, size_t hi, size_t *n)
{
	if (der_tag_constructed(t->tag) || t->len < lo || t->len > hi)
		return TS_EPARSE;
	memcpy(dst, t->val, t->len);
	*n = t->len;
	return 0;
}

/* UTF8String of at most max bytes (0 allowed) into char[max + 1]: no NUL,
 * well-formed UTF-8. */
static inline int
es10i_get_str(const der_tlv *t, char *dst, size_t max)
{
	if (der_tag_constructed(t->tag) || t->len > max || (t->len > 0 && memchr(t->val, 0, t->len) != NULL) ||
	    !es10_utf8_valid(t->val, t->len))
		return TS_EPARSE;
	if (t->len > 0)
		memcpy(dst, t->val, t->len);
	dst[t->len] = '\0';
	return 0;
}

#endif
