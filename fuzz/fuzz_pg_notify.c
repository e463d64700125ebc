/*
 * Fuzz target for the nodes' PostgreSQL notification payload
 * (src/node/pg_notify.h): never reads past the payload or its bound, and
 * what it accepts is exactly "u:<decimal>" or "e:<32 digits>".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/pg_notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	p[size] = '\0';
	int64_t user_id;
	char eid[33];
	if (pg_notify_parse(p, &user_id, eid) == 0) {
		if (p[0] == 'u') {
			if (user_id < 0 || eid[0] != '\0')
				abort();
		} else {
			if (p[0] != 'e' || user_id != -1 || strlen(eid) != 32 || memcmp(eid, p + 2, 32) != 0)
				abort();
			for (size_t i = 0; i < 32; i++)
				if (eid[i] < '0' || eid[i] > '9')
					abort();
		}
	}
	free(p);
	return 0;
}
