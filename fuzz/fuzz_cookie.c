/*
 * Fuzz target for lib/cookie: any Cookie header and any name must never
 * crash; a cookie found is 64 lower-case hex digits, and it occurs in the
 * header right after "name=".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cookie.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* first byte: length of the name, then the name, then the header */
	if (size < 1)
		return 0;
	size_t nl = data[0] % 32;
	if (nl > size - 1)
		nl = size - 1;
	char name[33], *hdr = malloc(size);
	if (hdr == NULL)
		return 0;
	memcpy(name, data + 1, nl);
	name[nl] = '\0';
	size_t hl = size - 1 - nl;
	memcpy(hdr, data + 1 + nl, hl);
	hdr[hl] = '\0';
	char out[65];
	if (ts_cookie_hex64(hdr, name, out) == 0) {
		if (strlen(out) != 64 || strspn(out, "0123456789abcdef") != 64)
			abort();
		char want[100];
		size_t l = strlen(name);
		memcpy(want, name, l);
		want[l] = '=';
		memcpy(want + l + 1, out, 65);
		if (strstr(hdr, want) == NULL)
			abort();
	}
	free(hdr);
	return 0;
}
