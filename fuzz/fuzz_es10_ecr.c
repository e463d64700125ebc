/*
 * Fuzz target for es10_ecr_decode (lib/es10.h): the extCardResource of
 * EUICCInfo2 as any eUICC may send it. Must never crash or read past the input;
 * a decoded value fits the bytes it came from.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/es10.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	es10_ecr e;
	if (es10_ecr_decode(data, size, &e) == 0 &&
	    (e.has_installed_apps + e.has_free_nvm + e.has_free_ram) * 3u > size)
		abort(); /* each value needs at least tag, length and one byte */
	return 0;
}
