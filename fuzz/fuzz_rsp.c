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

	rsp_server_signed1 s1;
	if (rsp_server_signed1_decode(data, size, &s1) == 0) {
		rc = rsp_server_signed1_encode(&s1, &out, &outlen);
		same(rc, out, outlen, data, size);
	}
	rsp_euicc_signed1 e1;
	if (rsp_euicc_signed1_decode(data, size, &e1) == 0) {
		rc = rsp_euicc_signed1_encode(&e1, &out, &outlen);
		same(rc, out, outlen, data, size);
	}
	rsp_smdp_signed2 s2;
	if (rsp_smdp_signed2_decode(data, size, &s2) == 0) {
		rc = rsp_smdp_signed2_encode(&s2, &out, &outlen);
		same(rc, out, outlen, data, size);
	}
	rsp_euicc_signed2 e2;
	if (rsp_euicc_signed2_decode(data, size, &e2) == 0) {
		rc = rsp_euicc_signed2_encode(&e2, &out, &outlen);
		same(rc, out, outlen, data, size);
	}
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
	rsp_auth_server_resp a;
	if (rsp_auth_server_resp_decode(data, size, &a) == 0 && a.error == 0) {
		if (a.euicc_signed1 < data || a.euicc_signed1 + a.euicc_signed1_len > data + size ||
		    a.eum_cert + a.eum_cert_len > data + size)
			abort();
	}
	rsp_prepare_download_resp p;
	if (rsp_prepare_download_resp_decode(data, size, &p) == 0 && p.error == 0) {
		if (p.euicc_signed2 < data || p.euicc_signed2 + p.euicc_signed2_len > data + size)
			abort();
	}
	return 0;
}
