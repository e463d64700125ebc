/*
 * eid.c — EID validation and packing (GSMA SGP.02 / SGP.29, ISO 7064 MOD 97-10).
 *
 * The 32-digit number exceeds 64 bits, so the remainder is folded digit by
 * digit: r = (r * 10 + d) % 97.
 */
#include "lib/eid.h"

#include <string.h>

#include "lib/ts_err.h"

/* Remainder mod 97 of n ASCII digits; -1 if a non-digit is found. */
static int
mod97(const char *s, size_t n)
{
	unsigned r = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		r = (r * 10 + (unsigned)(s[i] - '0')) % 97;
	}
	return (int)r;
}

/* Length of s up to max+1 (never reads beyond max+1 bytes). */
static size_t
bounded_len(const char *s, size_t max)
{
	size_t n = 0;
	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

int
eid_parse(const char *s, eid_t *out)
{
	if (s == NULL || out == NULL)
		return TS_EINVAL;
	if (bounded_len(s, EID_DIGITS) != EID_DIGITS)
		return TS_EEIDFMT;
	int r = mod97(s, EID_DIGITS);
	if (r < 0)
		return TS_EEIDFMT;
	if (r != 1)
		return TS_EEIDCHK;
	memcpy(out->digits, s, EID_DIGITS);
	out->digits[EID_DIGITS] = '\0';
	return 0;
}

int
eid_check_digits(const char *first30, char out[3])
{
	if (first30 == NULL || out == NULL)
		return TS_EINVAL;
	if (bounded_len(first30, EID_DIGITS - 2) != EID_DIGITS - 2)
		return TS_EEIDFMT;
	int r = mod97(first30, EID_DIGITS - 2);
	if (r < 0)
		return TS_EEIDFMT;
	/* Append "00": N*100 mod 97, then check = 98 - r. */
	unsigned rr = ((unsigned)r * 100) % 97;
	unsigned check = 98 - rr;
	out[0] = (char)('0' + check / 10);
	out[1] = (char)('0' + check % 10);
	out[2] = '\0';
	return 0;
}

int
eid_is_valid(const char *s)
{
	if (s == NULL || bounded_len(s, EID_DIGITS) != EID_DIGITS)
		return 0;
	return mod97(s, EID_DIGITS) == 1;
}

void
eid_to_bytes(const eid_t *eid, uint8_t out[EID_BYTES])
{
	for (size_t i = 0; i < EID_BYTES; i++) {
		unsigned hi = (unsigned)(eid->digits[2 * i] - '0') & 0x0f;
		unsigned lo = (unsigned)(eid->digits[2 * i + 1] - '0') & 0x0f;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

int
eid_from_bytes(const uint8_t in[EID_BYTES], eid_t *out)
{
	if (in == NULL || out == NULL)
		return TS_EINVAL;
	char s[EID_DIGITS + 1];
	for (size_t i = 0; i < EID_BYTES; i++) {
		unsigned hi = in[i] >> 4, lo = in[i] & 0x0f;
		if (hi > 9 || lo > 9)
			return TS_EEIDFMT;
		s[2 * i] = (char)('0' + hi);
		s[2 * i + 1] = (char)('0' + lo);
	}
	s[EID_DIGITS] = '\0';
	return eid_parse(s, out);
}

int
eid_has_prefix(const eid_t *eid, const char *ein)
{
	if (eid == NULL || ein == NULL)
		return 0;
	size_t n = bounded_len(ein, EID_DIGITS - 1);
	if (n < 1 || n > EID_DIGITS - 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ein[i] < '0' || ein[i] > '9')
			return 0;
	return memcmp(eid->digits, ein, n) == 0;
}
