/*
 * Fuzz target for lib/ndef_offer: finding the offer record must never crash,
 * the payload it returns lies inside the input, and re-wrapping it gives a
 * message that decodes to the same bytes. The payload then goes through
 * rsp_offer_decode, as the companion does with what a reader writes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ndef_offer.h"
#include "lib/rsp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = NULL, *q = NULL;
	size_t plen = 0, qlen = 0;
	if (ndef_offer_decode(data, size, &p, &plen) != 0)
		return 0;
	if (plen == 0 || plen > NDEF_OFFER_MAX || p < data || p + plen > data + size)
		abort();
	uint8_t *msg = NULL;
	size_t mlen = 0;
	if (ndef_offer_encode(p, plen, &msg, &mlen) != 0)
		abort();
	if (ndef_offer_decode(msg, mlen, &q, &qlen) != 0 || qlen != plen || memcmp(p, q, plen) != 0)
		abort();
	free(msg);
	rsp_offer o;
	(void)rsp_offer_decode(p, plen, &o);
	return 0;
}
