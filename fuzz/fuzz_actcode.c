/*
 * Fuzz target for the SGP.22 activation code parser (src/lib/actcode.h):
 * never reads past len, and what it accepts is consistent: the fields it
 * returns are NUL-terminated, within their limits, free of '$' and
 * re-assemble into a code that parses to the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/actcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ac_code c, d;
	if (ac_parse((const char *)data, size, &c) != 0)
		return 0;
	if (strlen(c.address) == 0 || strlen(c.address) > AC_ADDR_MAX || strlen(c.matching_id) > AC_MATCHING_ID_MAX ||
	    strlen(c.oid) > AC_OID_MAX || strchr(c.address, '$') || strchr(c.matching_id, '$') || strchr(c.oid, '$'))
		abort();
	char s[AC_TEXT_MAX * 2];
	int n = snprintf(s, sizeof(s), "LPA:1$%s$%s%s%s%s", c.address, c.matching_id,
	    c.oid[0] || c.cc_required ? "$" : "", c.oid, c.cc_required ? "$1" : "");
	if (n < 0 || (size_t)n >= sizeof(s))
		abort();
	if (ac_parse(s, (size_t)n, &d) != 0 || strcmp(c.address, d.address) != 0 ||
	    strcmp(c.matching_id, d.matching_id) != 0 || strcmp(c.oid, d.oid) != 0 || c.cc_required != d.cc_required)
		abort();
	return 0;
}
