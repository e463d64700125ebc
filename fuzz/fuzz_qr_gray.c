/*
 * Fuzz target for device/link_qr.c's decoder: an arbitrary greyscale image
 * (first byte = width - 1, the rest pixels row by row) goes through zbar and
 * our finder-pattern search. It must never crash, and whatever it accepts
 * must be a valid tapshare identity.
 */
#include <stdint.h>
#include <stdlib.h>

#include "device/link_qr.h"
#include "lib/ndef.h"
#include "lib/ts_err.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int w = data[0] + 1;
	size_t h = (size - 1) / (size_t)w;
	if (h == 0)
		return 0;
	if (h > 256)
		h = 256;
	uint8_t *out = NULL;
	size_t outlen = 0;
	char why[256];
	int rc = link_qr_decode_gray(data + 1, w, (int)h, &out, &outlen, why, sizeof(why));
	if (rc == 0) {
		ndef_identity id;
		if (out == NULL || outlen == 0 || ndef_identity_decode(out, outlen, &id) != 0)
			abort();
		free(out);
	} else if (out != NULL || rc >= 0) {
		abort();
	}
	return 0;
}
