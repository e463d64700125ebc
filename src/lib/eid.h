/*
 * eid.h — eUICC identifiers (EID): 32 decimal digits, ISO 7064 MOD 97-10 check
 * digits in the last two places (valid iff the 32-digit number mod 97 == 1),
 * as in GSMA SGP.02 / SGP.29. The leading digits are the issuer (EIN) prefix.
 */
#ifndef TS_EID_H
#define TS_EID_H

#include <stddef.h>
#include <stdint.h>

#define EID_DIGITS 32
#define EID_BYTES 16 /* ES10 tag 5A: digits packed as plain hex nibbles, no swap */

typedef struct eid {
	char digits[EID_DIGITS + 1]; /* NUL-terminated */
} eid_t;

/* Parses and validates s (exactly 32 ASCII digits, nothing else).
 * Returns 0, TS_EEIDFMT (length / non-digit) or TS_EEIDCHK (check digits). */
int eid_parse(const char *s, eid_t *out);
/* Computes the two check digits for the first 30 digits; out gets "NN\0". */
int eid_check_digits(const char *first30, char out[3]);
/* 1 if the digit string passes MOD 97-10, else 0 (no format errors reported). */
int eid_is_valid(const char *s);
/* 16-byte packed form (tag 5A) <-> EID; from_bytes validates like eid_parse. */
void eid_to_bytes(const eid_t *eid, uint8_t out[EID_BYTES]);
int eid_from_bytes(const uint8_t in[EID_BYTES], eid_t *out);
/* 1 if the EID starts with the issuer prefix ein (1..31 digits), else 0. */
int eid_has_prefix(const eid_t *eid, const char *ein);

#endif
