/*
 * fuzz_rsp.c — every rsp.h decoder on the same input. The metadata
 * (StoreMetadataRequest BF25) decoder passes over extension additions and
 * elements tapshare does not keep (icon, owner, PPRs), so its property is
 * the canonical fixpoint: what it decoded encodes, and that encoding decodes
 * and re-encodes to itself byte for byte.
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

	rsp_metadata md, md2;
	if (rsp_metadata_decode(data, size, &md) == 0) {
		if (rsp_metadata_encode(&md, &out, &outlen) != 0)
			abort();
		if (rsp_metadata_decode(out, outlen, &md2) != 0)
			abort();
		uint8_t *out2 = NULL;
		size_t outlen2 = 0;
		rc = rsp_metadata_encode(&md2, &out2, &outlen2);
		same(rc, out2, outlen2, out, outlen);
		free(out);
		out = NULL;
	}

	rsp_notification n;
	if (rsp_notification_decode(data, size, NULL, &n) == 0) {
		/* A signature from the input must not verify under our fresh key. */
		if (rsp_notification_decode(data, size, key, &n) == 0)
			abort();
	}
	return 0;
}
