/*
 * der.h — strict DER (BER-TLV as used by ISO 7816 / GSMA SGP.22) reader and
 * writer.
 *
 * Tags are held as the big-endian integer of their identifier octets: 0x5A,
 * 0x80, 0xBF3E, 0x5F37, 0x9F70, ... (at most 4 identifier octets). Bit 0x20 of
 * the first identifier octet marks a constructed TLV. Only definite lengths in
 * minimal form are accepted (no 0x80 indefinite, no leading zero length bytes,
 * no long form for lengths < 128). Length limit DER_MAX_LEN.
 */
#ifndef TS_DER_H
#define TS_DER_H

#include <stddef.h>
#include <stdint.h>

#define DER_MAX_LEN (1u << 20) /* 1 MiB: far above any message we exchange */
#define DER_MAX_DEPTH 16

typedef struct der_tlv {
	uint32_t tag;
	const uint8_t *val; /* borrowed: points into the parsed buffer */
	size_t len;
	size_t hdr_len;     /* bytes of tag + length */
} der_tlv;

/* 1 if the tag is constructed. */
int der_tag_constructed(uint32_t tag);

/* Reads one TLV from the start of buf. On success *consumed = hdr + len.
 * Returns 0, TS_EAGAIN (buf ends inside the TLV), TS_EPARSE (not minimal /
 * malformed) or TS_ELIMIT. */
int der_read(const uint8_t *buf, size_t len, der_tlv *out, size_t *consumed);

/* Reads exactly one TLV that must span all of buf (TS_ETRAILING otherwise). */
int der_read_one(const uint8_t *buf, size_t len, der_tlv *out);

/* Finds the first TLV with tag among the TLVs that make up buf (a sequence of
 * TLVs, e.g. the value of a constructed TLV). The whole buffer must parse
 * (TS_EPARSE otherwise). TS_ENOTFOUND if absent. */
int der_find(const uint8_t *buf, size_t len, uint32_t tag, der_tlv *out);

/* Iterator over the TLVs of a buffer (children of a constructed value). */
typedef struct der_iter {
	const uint8_t *buf;
	size_t len, off;
} der_iter;
void der_iter_init(der_iter *it, const uint8_t *buf, size_t len);
/* Returns 1 with *out set, 0 at the end, or a negative TS_E* code. */
int der_iter_next(der_iter *it, der_tlv *out);

/* The iterator's next TLV, which must exist and carry tag (TS_EPARSE
 * otherwise, or the iterator's own error). */
int der_iter_expect(der_iter *it, uint32_t tag, der_tlv *out);
/* 0 if the iterator is at its end, TS_EPARSE if anything follows. */
int der_iter_end(der_iter *it);

/* Validates that buf is a well-formed DER tree (recursing into constructed
 * values, up to DER_MAX_DEPTH). For fuzzing and untrusted input.
 * buf must hold exactly one root TLV: TS_ETRAILING after it, TS_EPARSE when
 * empty or truncated, TS_ELIMIT when more than DER_MAX_DEPTH constructed
 * TLVs nest (the root counts; the writer's limit is the same). */
int der_validate(const uint8_t *buf, size_t len);

/* Unsigned big-endian integer value (1..8 bytes) of a primitive TLV; a 9-byte
 * value with a leading 0x00 (DER INTEGER >= 2^63) is accepted too.
 * TS_EPARSE when empty or constructed, TS_ELIMIT when longer. */
int der_get_uint(const der_tlv *t, uint64_t *out);

/*
 * Writer. Caller-allocated; der_writer_init / der_writer_clear.
 * Errors are sticky: after the first failure every call returns it and
 * der_writer_finish reports it.
 */
typedef struct der_writer {
	uint8_t *buf;
	size_t len, cap;
	int err;
	size_t open[DER_MAX_DEPTH]; /* offsets of open constructed TLVs */
	uint32_t open_tag[DER_MAX_DEPTH];
	int depth;
} der_writer;

void der_writer_init(der_writer *w);
void der_writer_clear(der_writer *w); /* frees the buffer; safe twice */
int der_put(der_writer *w, uint32_t tag, const uint8_t *val, size_t len);
int der_put_uint(der_writer *w, uint32_t tag, uint64_t v); /* minimal bytes */
int der_put_str(der_writer *w, uint32_t tag, const char *s);
/* Appends raw, already-encoded bytes (e.g. a DER certificate). */
int der_put_raw(der_writer *w, const uint8_t *raw, size_t len);
int der_begin(der_writer *w, uint32_t tag);
int der_end(der_writer *w);
/* Hands the encoded bytes to the caller (caller frees *out with free());
 * the writer is left empty. Fails if a constructed TLV is still open. */
int der_writer_finish(der_writer *w, uint8_t **out, size_t *outlen);

#endif
