/*
 * Fuzz target for lib/eid: parsing arbitrary strings and byte forms must
 * never crash; a parsed EID must survive the 16-byte packing round trip and
 * agree with eid_is_valid and eid_check_digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/eid.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';

	eid_t e, back;
	int rc = eid_parse(s, &e);
	if ((rc == 0) != (eid_is_valid(s) == 1))
		abort();
	if (rc == 0) {
		uint8_t b[EID_BYTES];
		char cd[3];
		eid_to_bytes(&e, b);
		if (eid_from_bytes(b, &back) != 0 || strcmp(back.digits, e.digits) != 0)
			abort();
		char first30[EID_DIGITS - 1];
		memcpy(first30, e.digits, EID_DIGITS - 2);
		first30[EID_DIGITS - 2] = '\0';
		if (eid_check_digits(first30, cd) != 0)
			abort();
		/* eid_check_digits gives 98 - r (02..98); a number mod 97 == 1 may
		 * also end in that value -/+ 97 (00, 01 or 99). */
		int want = (cd[0] - '0') * 10 + (cd[1] - '0');
		int got = (e.digits[30] - '0') * 10 + (e.digits[31] - '0');
		if (want != got && want - got != 97 && got - want != 97)
			abort();
		(void)eid_has_prefix(&e, s + 16);
	}
	if (size >= EID_BYTES && eid_from_bytes(data, &back) == 0) {
		uint8_t b[EID_BYTES];
		eid_to_bytes(&back, b);
		if (memcmp(b, data, EID_BYTES) != 0 || !eid_is_valid(back.digits))
			abort();
	}
	char cd[3];
	if (n == 30 && eid_check_digits(s, cd) == 0) {
		char full[EID_DIGITS + 1];
		memcpy(full, s, 30);
		memcpy(full + 30, cd, 3);
		if (!eid_is_valid(full))
			abort();
	}
	return 0;
}
