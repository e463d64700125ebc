/*
 * Fuzz target for upp_decode (lib/upp.h): a profile package as it arrives
 * inside a bound profile package. Must never crash or read past the input;
 * a decoded package re-encodes (when it carries nothing the encoder leaves
 * out) to a package that decodes to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/upp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	upp_sim s, t;
	if (upp_decode(data, size, &s) != 0)
		return 0;
	if (s.app_content != NULL &&
	    (s.app_content < data || s.app_content + s.app_content_len > data + size))
		abort(); /* the content points into the input */
	if (s.mnc_len == 0)
		s.mnc_len = 2; /* EF-AD absent: the encoder always writes one */
	uint8_t *out = NULL;
	size_t len = 0;
	if (upp_encode(&s, &out, &len) != 0)
		abort(); /* everything the decoder accepts can be encoded */
	if (upp_decode(out, len, &t) != 0 || strcmp(t.imsi, s.imsi) != 0 ||
	    memcmp(t.iccid, s.iccid, sizeof(s.iccid)) != 0 || memcmp(t.ki, s.ki, sizeof(s.ki)) != 0 ||
	    memcmp(t.opc, s.opc, sizeof(s.opc)) != 0 || t.app_content_len != s.app_content_len)
		abort();
	free(out);
	return 0;
}
