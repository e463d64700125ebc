/*
 * Fuzz target: tapshare-se's LoadBoundProfilePackage loader (lib/bsp.h
 * bsp_loader_feed), command by command, after a BF23 with fixed session
 * keys (bsp_loader_begin_keyed), and the BF24 / BF25 / BF26 decoders it
 * hands the plaintext to. Input: records of a 2-byte big-endian length and
 * that many bytes, each fed as one STORE DATA command.
 * Keys: MCV 00..0F, S-ENC 40..4F, S-MAC 80..8F, block counter 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bsp.h"
#include "lib/es10.h"
#include "lib/rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int profiles;

static int
f_ci(void *ctx, const uint8_t *b, size_t n, int *reason)
{
	const uint8_t *oid;
	size_t ol;
	(void)ctx;
	if (bsp_configure_isdp_decode(b, n, &oid, &ol) != 0) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	return 0;
}

static int
f_md(void *ctx, const uint8_t *b, size_t n, int *reason)
{
	rsp_metadata m;
	(void)ctx;
	if (rsp_metadata_decode(b, n, &m) != 0) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	return 0;
}

static int
f_pl(void *ctx, uint8_t **p, size_t n, int *reason)
{
	(void)ctx;
	(void)reason;
	if (*p == NULL || n > BSP_MAX_PACKAGE)
		abort();
	profiles++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const bsp_loader_ops ops = { f_ci, f_md, f_pl };
	bsp_keys k;
	bsp_loader l;
	for (int i = 0; i < 16; i++) {
		k.mcv[i] = (uint8_t)i;
		k.s_enc[i] = (uint8_t)(0x40 + i);
		k.s_mac[i] = (uint8_t)(0x80 + i);
	}
	k.counter = 1;
	memset(&l, 0, sizeof(l));
	bsp_loader_begin_keyed(&l, &k, &ops, NULL);
	profiles = 0;
	int st = BSP_LOAD_MORE;
	size_t off = 0;
	while (st == BSP_LOAD_MORE && size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		st = bsp_loader_feed(&l, data + off, n);
		off += n;
	}
	/* DONE exactly when the profile was handed over, once */
	if ((st == BSP_LOAD_DONE) != (profiles == 1) || profiles > 1)
		abort();
	if (st == BSP_LOAD_FAILED && (l.cmd < 0 || l.cmd > 5 || l.reason <= 0))
		abort();
	bsp_loader_clear(&l);
	return 0;
}
