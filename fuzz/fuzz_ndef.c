/*
 * Fuzz target for lib/ndef: parsing must never crash; a parsed message must
 * re-encode and parse back to the same records; an identity that decodes
 * must survive encode -> decode unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ndef.h"

static int
same_field(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ndef_record recs[NDEF_MAX_RECORDS], back[NDEF_MAX_RECORDS];
	size_t n = 0, m = 0;

	if (ndef_parse(data, size, recs, NDEF_MAX_RECORDS, &n) == 0) {
		uint8_t *out = NULL;
		size_t outlen = 0;
		if (n == 0 || n > NDEF_MAX_RECORDS)
			abort();
		/* Re-encoding never grows the message (SR is chosen when it fits). */
		if (ndef_encode(recs, n, &out, &outlen) != 0 || outlen > size)
			abort();
		if (ndef_parse(out, outlen, back, NDEF_MAX_RECORDS, &m) != 0 || m != n)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (back[i].tnf != recs[i].tnf ||
			    !same_field(back[i].type, back[i].type_len, recs[i].type, recs[i].type_len) ||
			    !same_field(back[i].id, back[i].id_len, recs[i].id, recs[i].id_len) ||
			    !same_field(back[i].payload, back[i].payload_len, recs[i].payload,
				recs[i].payload_len))
				abort();
		}
		free(out);
	}

	ndef_identity id, id2;
	if (ndef_identity_decode(data, size, &id) == 0) {
		uint8_t *out = NULL;
		size_t outlen = 0;
		if (ndef_identity_encode(&id, &out, &outlen) != 0)
			abort();
		if (ndef_identity_decode(out, outlen, &id2) != 0)
			abort();
		if (strcmp(id.eid.digits, id2.eid.digits) != 0 || strcmp(id.name, id2.name) != 0 ||
		    strcmp(id.model, id2.model) != 0)
			abort();
		free(out);
	}
	return 0;
}
