/*
 * ndef.h — NFC Forum NDEF message codec, and the companion identity record
 * that tapshare carries over every short-range link (NFC, QR, BLE, sim).
 *
 * Record header: MB 0x80, ME 0x40, CF 0x20, SR 0x10, IL 0x08, TNF low 3 bits.
 * Chunked records (CF) are rejected. Parsing is pure and bounded.
 */
#ifndef TS_NDEF_H
#define TS_NDEF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/eid.h"

#define NDEF_MAX_RECORDS 8
#define NDEF_MAX_MESSAGE 4096

enum {
	NDEF_TNF_EMPTY = 0,
	NDEF_TNF_WELL_KNOWN = 1,
	NDEF_TNF_MIME = 2,
	NDEF_TNF_URI = 3,
	NDEF_TNF_EXTERNAL = 4,
	NDEF_TNF_UNKNOWN = 5,
	NDEF_TNF_UNCHANGED = 6,
};

typedef struct ndef_record {
	uint8_t tnf;
	const uint8_t *type; size_t type_len;       /* borrowed */
	const uint8_t *id; size_t id_len;           /* borrowed */
	const uint8_t *payload; size_t payload_len; /* borrowed */
} ndef_record;

/* Parses a complete NDEF message (MB on first, ME on last, nothing after).
 * Pointers in recs borrow from buf. Returns 0, TS_EPARSE, TS_ETRAILING,
 * TS_ELIMIT (more than max records or NDEF_MAX_MESSAGE bytes). */
int ndef_parse(const uint8_t *buf, size_t len, ndef_record *recs, size_t max, size_t *n);
/* Encodes records as one message (sets MB/ME, SR when payload < 256).
 * Caller frees *out. */
int ndef_encode(const ndef_record *recs, size_t n, uint8_t **out, size_t *outlen);

/* The companion identity record: TNF external, type "tapshare.org:id"
 * (compared case-insensitively). Payload is BER-TLV: 5A EID (16 bytes),
 * optional 80 device name (UTF-8, <= 64 bytes), optional 81 model (<= 64). */
#define NDEF_TS_TYPE "tapshare.org:id"
#define NDEF_TS_NAME_MAX 64

typedef struct ndef_identity {
	eid_t eid;
	char name[NDEF_TS_NAME_MAX + 1];  /* "" when absent */
	char model[NDEF_TS_NAME_MAX + 1]; /* "" when absent */
} ndef_identity;

int ndef_identity_encode(const ndef_identity *id, uint8_t **out, size_t *outlen);
/* Finds the identity record in a message (other records are ignored) and
 * validates the EID (TS_EEIDFMT / TS_EEIDCHK). TS_ENOTFOUND if absent.
 * A message with two or more identity records is rejected (TS_EPARSE): a
 * tag offering two identities is ambiguous, and "first wins" would let an
 * appended record go unnoticed. In the payload, 5A is required and must be
 * 16 bytes; 5A/80/81 may each appear once (TS_EPARSE on repeats); 80/81
 * longer than NDEF_TS_NAME_MAX give TS_ELIMIT, and must be UTF-8 without NUL
 * (TS_EPARSE); unknown tags are ignored. ndef_identity_encode refuses an
 * invalid EID (TS_EEIDFMT / TS_EEIDCHK) and omits empty name / model. */
int ndef_identity_decode(const uint8_t *buf, size_t len, ndef_identity *out);

#endif
