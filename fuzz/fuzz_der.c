/*
 * Fuzz target for lib/der: the reader must never crash, and every input that
 * validates must re-encode through the writer to the very same bytes (DER
 * has exactly one encoding per tree, so any difference is a bug).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/der.h"

static void
rewrite(der_writer *w, const der_tlv *t)
{
	if (!der_tag_constructed(t->tag)) {
		der_put(w, t->tag, t->val, t->len);
		return;
	}
	der_begin(w, t->tag);
	der_iter it;
	der_tlv c;
	der_iter_init(&it, t->val, t->len);
	while (der_iter_next(&it, &c) == 1)
		rewrite(w, &c);
	der_end(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	der_tlv t;
	size_t used = 0;
	uint64_t v;

	/* Plain reads and a sequence walk on the raw input. */
	if (der_read(data, size, &t, &used) == 0) {
		if (used > size || t.hdr_len + t.len != used || t.val != data + t.hdr_len)
			abort();
		(void)der_get_uint(&t, &v);
	}
	der_iter it;
	der_iter_init(&it, data, size);
	size_t guard = 0;
	while (der_iter_next(&it, &t) == 1)
		if (++guard > size)
			abort(); /* every TLV takes at least two bytes */
	(void)der_find(data, size, 0x5A, &t);

	if (der_validate(data, size) != 0)
		return 0;
	if (der_read_one(data, size, &t) != 0)
		abort();
	der_writer w;
	uint8_t *out = NULL;
	size_t outlen = 0;
	der_writer_init(&w);
	rewrite(&w, &t);
	if (der_writer_finish(&w, &out, &outlen) != 0)
		abort();
	if (outlen != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	der_writer_clear(&w);
	return 0;
}
