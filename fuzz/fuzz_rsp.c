/*
 * fuzz_rsp.c — every rsp.h decoder on the same input. Where a structure has
 * an encoder, a successful decode must re-encode to exactly the input bytes
 * (the decoders accept only the one canonical DER form).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pki.h"
#include "lib/rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Called after the encoder has run: its output must equal the input. */
static void
same(int rc, uint8_t *out, size_t outlen, const uint8_t *data, size_t size)
{
	if (rc != 0 || outlen != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key; /* one key for the whole run, to reach pki_verify */
	uint8_t *out = NULL;
	size_t outlen = 0;
	int rc;
	if (key == NULL && pki_keygen(&key) != 0)
		abort();

	rsp_metadata md;
	if (rsp_metadata_decode(data, size, &md) == 0) {
		rc = rsp_metadata_encode(&md, &out, &outlen);
		same(rc, out, outlen, data, size);
	}

	rsp_notification n;
	if (rsp_notification_decode(data, size, NULL, &n) == 0) {
		/* A signature from the input must not verify under our fresh key. */
		if (rsp_notification_decode(data, size, key, &n) == 0)
			abort();
	}
	return 0;
}
