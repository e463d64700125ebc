/*
 * Fuzz target for lib/t4t. Byte 0 picks the side:
 *   even: arbitrary C-APDUs into a tag. Bytes 1-2 give the message length
 *         (mod NDEF_MAX_MESSAGE + 1), byte 3 the MLe (below 15: default),
 *         then APDUs as <len byte><len bytes>. Every answer must be a
 *         well-formed R-APDU; afterwards a reset tag must still give a reader
 *         its exact message (commands cannot change a read-only tag).
 *   odd:  arbitrary R-APDUs into the reader: a callback replays the bytes as
 *         <len byte><len bytes> responses. The reader must not crash, must
 *         return a bounded message or an error, and must stop after a
 *         bounded number of exchanges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/t4t.h"
#include "lib/ts_err.h"

typedef struct feed {
	const uint8_t *p;
	size_t left;
	size_t calls;
} feed;

static int
replay_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	feed *f = arg;
	if (capdu == NULL || clen < 4 || clen > T4T_CAPDU_MAX)
		abort(); /* the reader only builds well-formed short APDUs */
	if (++f->calls > 6 + NDEF_MAX_MESSAGE / T4T_MLE_MIN + 1)
		abort();
	if (f->left == 0)
		return TS_EIO;
	size_t n = f->p[0];
	f->p++;
	f->left--;
	if (n > f->left)
		n = f->left;
	if (n > rcap)
		n = rcap;
	memcpy(rapdu, f->p, n);
	f->p += n;
	f->left -= n;
	*rlen = n;
	return 0;
}

static int
tag_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	return t4t_tag_apdu(arg, capdu, clen, rapdu, rcap, rlen);
}

static void
fuzz_tag(const uint8_t *data, size_t size)
{
	static t4t_tag tag;
	static uint8_t msg[NDEF_MAX_MESSAGE];
	if (size < 4)
		return;
	size_t mlen = ((size_t)data[1] << 8 | data[2]) % (NDEF_MAX_MESSAGE + 1);
	unsigned mle = data[3] < T4T_MLE_MIN ? 0 : data[3];
	for (size_t i = 0; i < mlen; i++)
		msg[i] = (uint8_t)(i ^ data[2]);
	if (t4t_tag_init(&tag, msg, mlen, mle) != 0)
		abort();
	data += 4;
	size -= 4;
	while (size > 0) {
		size_t n = data[0];
		data++;
		size--;
		if (n > size)
			n = size;
		uint8_t r[T4T_RAPDU_MAX];
		size_t rlen = 0;
		if (t4t_tag_apdu(&tag, data, n, r, sizeof(r), &rlen) != 0)
			abort();
		if (rlen < 2 || rlen > (size_t)tag.mle + 2)
			abort();
		unsigned sw = (unsigned)r[rlen - 2] << 8 | r[rlen - 1];
		if (rlen > 2 && sw != T4T_SW_OK && sw != T4T_SW_EOF)
			abort();
		data += n;
		size -= n;
	}
	t4t_tag_reset(&tag);
	uint8_t *out = NULL;
	size_t outlen = 0;
	if (t4t_read_ndef(tag_xfer, &tag, &out, &outlen, NULL) != 0 || outlen != mlen ||
	    (mlen > 0 && memcmp(out, msg, mlen) != 0))
		abort();
	free(out);
}

static void
fuzz_reader(const uint8_t *data, size_t size)
{
	feed f = { data + 1, size - 1, 0 };
	uint8_t *out = NULL;
	size_t outlen = 0;
	t4t_cc cc;
	int rc = t4t_read_ndef(replay_xfer, &f, &out, &outlen, &cc);
	if (rc == 0) {
		if (outlen > NDEF_MAX_MESSAGE || (outlen == 0) != (out == NULL))
			abort();
		if (outlen + T4T_NLEN_LEN > cc.ndef_max)
			abort();
	} else if (out != NULL || outlen != 0 || rc >= 0) {
		abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_tag(data, size);
	else
		fuzz_reader(data, size);
	return 0;
}
