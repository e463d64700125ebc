/*
 * ndef.c — NFC Forum NDEF message codec and the tapshare identity record.
 *
 * Record layout (NFC Forum NDEF 1.0, section 3.2): header octet (MB ME CF SR
 * IL TNF), TYPE LENGTH (1), PAYLOAD LENGTH (1 if SR else 4, big-endian),
 * ID LENGTH (1, only if IL), TYPE, ID, PAYLOAD.
 */
#include "lib/ndef.h"

#include <stdlib.h>
#include <string.h>

#include "lib/der.h"
#include "lib/ts_err.h"

#define NDEF_MB 0x80
#define NDEF_ME 0x40
#define NDEF_CF 0x20
#define NDEF_SR 0x10
#define NDEF_IL 0x08
#define NDEF_TNF_MASK 0x07
#define NDEF_TNF_RESERVED 7

#define TAG_EID 0x5A
#define TAG_NAME 0x80
#define TAG_MODEL 0x81

/* TNF / length consistency (NDEF 3.2.6): empty records carry nothing,
 * unknown has no type, unchanged only appears in chunked records (which we
 * reject), the others need a type. */
static int
tnf_ok(uint8_t tnf, size_t type_len, size_t id_len, size_t payload_len)
{
	switch (tnf) {
	case NDEF_TNF_EMPTY:
		return type_len == 0 && id_len == 0 && payload_len == 0;
	case NDEF_TNF_WELL_KNOWN:
	case NDEF_TNF_MIME:
	case NDEF_TNF_URI:
	case NDEF_TNF_EXTERNAL:
		return type_len > 0;
	case NDEF_TNF_UNKNOWN:
		return type_len == 0;
	default:
		return 0;
	}
}

int
ndef_parse(const uint8_t *buf, size_t len, ndef_record *recs, size_t max, size_t *n)
{
	if ((buf == NULL && len != 0) || (recs == NULL && max != 0) || n == NULL)
		return TS_EINVAL;
	if (len > NDEF_MAX_MESSAGE)
		return TS_ELIMIT;
	size_t off = 0, count = 0;
	int ended = 0;
	while (off < len) {
		if (ended)
			return TS_ETRAILING;
		uint8_t h = buf[off++];
		if ((count == 0) != ((h & NDEF_MB) != 0))
			return TS_EPARSE; /* MB on the first record only */
		if (h & NDEF_CF)
			return TS_EPARSE; /* chunking not supported */
		uint8_t tnf = h & NDEF_TNF_MASK;
		if (off >= len)
			return TS_EPARSE;
		size_t type_len = buf[off++];
		size_t payload_len;
		if (h & NDEF_SR) {
			if (off >= len)
				return TS_EPARSE;
			payload_len = buf[off++];
		} else {
			if (len - off < 4)
				return TS_EPARSE;
			payload_len = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
			    (size_t)buf[off + 2] << 8 | buf[off + 3];
			off += 4;
		}
		size_t id_len = 0;
		if (h & NDEF_IL) {
			if (off >= len)
				return TS_EPARSE;
			id_len = buf[off++];
		}
		if (!tnf_ok(tnf, type_len, id_len, payload_len))
			return TS_EPARSE;
		/* Each piece is checked against what is left: no sum can wrap. */
		if (type_len > len - off)
			return TS_EPARSE;
		const uint8_t *type = buf + off;
		off += type_len;
		if (id_len > len - off)
			return TS_EPARSE;
		const uint8_t *id = buf + off;
		off += id_len;
		if (payload_len > len - off)
			return TS_EPARSE;
		const uint8_t *payload = buf + off;
		off += payload_len;
		if (count >= max)
			return TS_ELIMIT;
		recs[count].tnf = tnf;
		recs[count].type = type;
		recs[count].type_len = type_len;
		recs[count].id = id;
		recs[count].id_len = id_len;
		recs[count].payload = payload;
		recs[count].payload_len = payload_len;
		count++;
		if (h & NDEF_ME)
			ended = 1;
	}
	if (!ended)
		return TS_EPARSE; /* empty input, or the last record lacks ME */
	*n = count;
	return 0;
}

int
ndef_encode(const ndef_record *recs, size_t n, uint8_t **out, size_t *outlen)
{
	if (recs == NULL || n == 0 || out == NULL || outlen == NULL)
		return TS_EINVAL;
	if (n > NDEF_MAX_RECORDS)
		return TS_ELIMIT;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		const ndef_record *r = &recs[i];
		if (r->type_len > 255 || r->id_len > 255)
			return TS_EINVAL;
		if ((r->type == NULL && r->type_len) || (r->id == NULL && r->id_len) ||
		    (r->payload == NULL && r->payload_len))
			return TS_EINVAL;
		if (!tnf_ok(r->tnf, r->type_len, r->id_len, r->payload_len))
			return TS_EINVAL;
		if (r->payload_len > NDEF_MAX_MESSAGE)
			return TS_ELIMIT;
		total += 1 + 1 + (r->payload_len < 256 ? 1 : 4) + (r->id_len ? 1 : 0) +
		    r->type_len + r->id_len + r->payload_len;
		if (total > NDEF_MAX_MESSAGE)
			return TS_ELIMIT; /* bounded, so the sum above cannot wrap */
	}
	uint8_t *b = malloc(total);
	if (b == NULL)
		return TS_ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		const ndef_record *r = &recs[i];
		uint8_t h = r->tnf;
		if (i == 0)
			h |= NDEF_MB;
		if (i == n - 1)
			h |= NDEF_ME;
		if (r->payload_len < 256)
			h |= NDEF_SR;
		if (r->id_len)
			h |= NDEF_IL;
		b[off++] = h;
		b[off++] = (uint8_t)r->type_len;
		if (r->payload_len < 256) {
			b[off++] = (uint8_t)r->payload_len;
		} else {
			b[off++] = (uint8_t)(r->payload_len >> 24);
			b[off++] = (uint8_t)(r->payload_len >> 16);
			b[off++] = (uint8_t)(r->payload_len >> 8);
			b[off++] = (uint8_t)r->payload_len;
		}
		if (r->id_len)
			b[off++] = (uint8_t)r->id_len;
		if (r->type_len)
			memcpy(b + off, r->type, r->type_len);
		off += r->type_len;
		if (r->id_len)
			memcpy(b + off, r->id, r->id_len);
		off += r->id_len;
		if (r->payload_len)
			memcpy(b + off, r->payload, r->payload_len);
		off += r->payload_len;
	}
	*out = b;
	*outlen = off;
	return 0;
}

/* ---- identity record ---- */

static int
ascii_ieq(const uint8_t *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++) {
		uint8_t x = a[i], y = (uint8_t)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* 1 if s[0..len) is well-formed UTF-8 without NUL (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static int
utf8_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp, min;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n > len - i - 1)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Length of a NUL-terminated field of at most NDEF_TS_NAME_MAX bytes, or
 * TS_ELIMIT when the array holds no NUL in time. */
static int
field_len(const char *s, size_t *len)
{
	size_t n = 0;
	while (n <= NDEF_TS_NAME_MAX && s[n] != '\0')
		n++;
	if (n > NDEF_TS_NAME_MAX)
		return TS_ELIMIT;
	*len = n;
	return 0;
}

int
ndef_identity_encode(const ndef_identity *id, uint8_t **out, size_t *outlen)
{
	der_writer w;
	uint8_t *payload = NULL;
	size_t plen = 0, nlen = 0, mlen = 0;
	eid_t eid;
	uint8_t eb[EID_BYTES];
	ndef_record rec;
	int rc;

	der_writer_init(&w);
	if (id == NULL || out == NULL || outlen == NULL)
		return TS_EINVAL;
	if ((rc = eid_parse(id->eid.digits, &eid)) != 0)
		return rc;
	if ((rc = field_len(id->name, &nlen)) != 0 || (rc = field_len(id->model, &mlen)) != 0)
		return rc;
	if (!utf8_ok((const uint8_t *)id->name, nlen) || !utf8_ok((const uint8_t *)id->model, mlen))
		return TS_EINVAL;
	eid_to_bytes(&eid, eb);
	der_put(&w, TAG_EID, eb, sizeof(eb));
	if (nlen > 0)
		der_put(&w, TAG_NAME, (const uint8_t *)id->name, nlen);
	if (mlen > 0)
		der_put(&w, TAG_MODEL, (const uint8_t *)id->model, mlen);
	if ((rc = der_writer_finish(&w, &payload, &plen)) != 0)
		goto fail;
	memset(&rec, 0, sizeof(rec));
	rec.tnf = NDEF_TNF_EXTERNAL;
	rec.type = (const uint8_t *)NDEF_TS_TYPE;
	rec.type_len = strlen(NDEF_TS_TYPE);
	rec.payload = payload;
	rec.payload_len = plen;
	rc = ndef_encode(&rec, 1, out, outlen);
fail:
	der_writer_clear(&w);
	free(payload);
	return rc;
}

/* Copies a name/model TLV value into a fixed field. */
static int
copy_field(const der_tlv *t, char dst[NDEF_TS_NAME_MAX + 1])
{
	if (t->len > NDEF_TS_NAME_MAX)
		return TS_ELIMIT;
	if (!utf8_ok(t->val, t->len))
		return TS_EPARSE;
	if (t->len > 0)
		memcpy(dst, t->val, t->len);
	dst[t->len] = '\0';
	return 0;
}

static int
identity_payload(const uint8_t *p, size_t len, ndef_identity *out)
{
	der_iter it;
	der_tlv t;
	int rc, have_eid = 0, have_name = 0, have_model = 0;
	ndef_identity id;

	memset(&id, 0, sizeof(id));
	der_iter_init(&it, p, len);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		switch (t.tag) {
		case TAG_EID:
			if (have_eid++ || t.len != EID_BYTES)
				return TS_EPARSE;
			if ((rc = eid_from_bytes(t.val, &id.eid)) != 0)
				return rc;
			break;
		case TAG_NAME:
			if (have_name++)
				return TS_EPARSE;
			if ((rc = copy_field(&t, id.name)) != 0)
				return rc;
			break;
		case TAG_MODEL:
			if (have_model++)
				return TS_EPARSE;
			if ((rc = copy_field(&t, id.model)) != 0)
				return rc;
			break;
		default:
			break; /* unknown tags: ignored, room for later fields */
		}
	}
	if (rc < 0)
		return rc;
	if (!have_eid)
		return TS_EPARSE;
	*out = id;
	return 0;
}

int
ndef_identity_decode(const uint8_t *buf, size_t len, ndef_identity *out)
{
	ndef_record recs[NDEF_MAX_RECORDS];
	size_t n = 0;
	const ndef_record *found = NULL;
	if (out == NULL)
		return TS_EINVAL;
	int rc = ndef_parse(buf, len, recs, NDEF_MAX_RECORDS, &n);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].tnf != NDEF_TNF_EXTERNAL ||
		    !ascii_ieq(recs[i].type, recs[i].type_len, NDEF_TS_TYPE))
			continue;
		if (found != NULL)
			return TS_EPARSE; /* two identities: ambiguous, refuse */
		found = &recs[i];
	}
	if (found == NULL)
		return TS_ENOTFOUND;
	return identity_payload(found->payload, found->payload_len, out);
}
