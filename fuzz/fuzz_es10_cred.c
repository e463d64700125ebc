/*
 * Fuzz target for the credential applet encodings (lib/credapplet.c): every
 * decoder gets the input; what one accepts must encode again and decode
 * again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/credapplet.h"

#define CHECK(x)              \
	do {                  \
		if (!(x))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *o = NULL;
	size_t ol = 0;
	cred_entry e;
	if (cred_entry_decode(data, size, &e) == 0) {
		CHECK(cred_entry_encode(&e, &o, &ol) == 0);
		CHECK(cred_entry_decode(o, ol, &e) == 0);
		free(o);
	}
	cred_entry *items = NULL;
	size_t n = 0;
	if (cred_list_decode(data, size, &items, &n) == 0) {
		CHECK(cred_list_encode(items, n, &o, &ol) == 0);
		cred_entry *again = NULL;
		size_t m = 0;
		CHECK(cred_list_decode(o, ol, &again, &m) == 0 && m == n);
		free(again);
		free(o);
		free(items);
	}
	uint8_t iccid[CRED_ICCID_LEN], point[CRED_PUBKEY_LEN];
	if (cred_iccid_decode(data, size, iccid) == 0) {
		CHECK(cred_iccid_encode(iccid, &o, &ol) == 0);
		free(o);
	}
	if (cred_key_decode(data, size, iccid, point) == 0) {
		CHECK(cred_key_encode(iccid, point, &o, &ol) == 0);
		CHECK(cred_key_decode(o, ol, iccid, point) == 0);
		free(o);
	}
	const uint8_t *cert;
	size_t cl;
	if (cred_store_cert_decode(data, size, iccid, &cert, &cl) == 0) {
		CHECK(cert >= data && cert + cl <= data + size);
		CHECK(cred_store_cert_encode(iccid, cert, cl, &o, &ol) == 0);
		free(o);
	}
	return 0;
}
