/*
 * Fuzz target: bsp_package_open on arbitrary bytes (the SE's view of a bound
 * package from the network). Keys are fixed per process; every input must be
 * refused or opened without a crash, and nothing may be returned on failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bsp.h"
#include "lib/eid.h"
#include "lib/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *otsk, *server;
static eid_t eid;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (otsk == NULL) {
		if (pki_keygen(&otsk) != 0 || pki_keygen(&server) != 0 ||
		    eid_parse("89049032123451234512345678901235", &eid) != 0)
			abort();
	}
	static const uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	uint8_t *md = NULL, *pl = NULL;
	size_t mdlen = 0, plen = 0;
	int rc = bsp_package_open(otsk, &eid, server, tid, sizeof(tid), data, size, &md, &mdlen, &pl, &plen);
	/* Without the server's signature no input can be accepted. */
	if (rc == 0)
		abort();
	free(md);
	free(pl);
	return 0;
}
