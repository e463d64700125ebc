/*
 * ndef_offer.h — the share-offer record (patent claims 20/33, companion-
 * initiated sharing): how the primary's signed offer (lib/rsp.h, tag BF70)
 * travels to the companion inside an NDEF message over the short-range link,
 * the way an NFC reader writes a record to a tag.
 *
 * Record: TNF external (4), type "tapshare.org:offer" (compared
 * case-insensitively), payload = the BF70 bytes unchanged. This module only
 * frames the bytes; rsp_offer_decode parses them and the node judges trust.
 */
#ifndef TS_NDEF_OFFER_H
#define TS_NDEF_OFFER_H

#include <stddef.h>
#include <stdint.h>

#define NDEF_OFFER_TYPE "tapshare.org:offer"
/* Largest offer payload: what fits in one NDEF message with the record
 * header and type (NDEF_MAX_MESSAGE, lib/ndef.h). */
#define NDEF_OFFER_MAX 4000

/* Wraps offer (borrowed, 1..NDEF_OFFER_MAX bytes) in a one-record NDEF
 * message. Caller frees *out. TS_EINVAL for empty input, TS_ELIMIT if too
 * large. */
int ndef_offer_encode(const uint8_t *offer, size_t len, uint8_t **out, size_t *outlen);

/* Finds the offer record in a complete NDEF message (other records are
 * ignored). *offer borrows from buf. TS_ENOTFOUND if there is none,
 * TS_EPARSE for two or more (ambiguous) or an empty payload, TS_ELIMIT for a
 * payload over NDEF_OFFER_MAX, and ndef_parse's errors for a bad message. */
int ndef_offer_decode(const uint8_t *buf, size_t len, const uint8_t **offer, size_t *offer_len);

#endif
