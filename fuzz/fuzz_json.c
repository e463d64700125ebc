/*
 * Fuzz target for lib/json's readers and writer: ts_json_parse (its fast
 * reader, else jansson) must give jansson's verdict on every input
 * (json_loadb with JSON_REJECT_DUPLICATES, an object) and the same value;
 * ts_json_dump of what was read must be json_dumps' compact text, and
 * ts_json_dump_sorted its JSON_SORT_KEYS text; ts_json_loads must give
 * json_loads(s, 0)'s value or refusal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > TS_JSON_MAX)
		return 0;
	json_t *mine = NULL;
	int rc = ts_json_parse((const char *)data, size, &mine, NULL, 0);
	json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (ref != NULL && !json_is_object(ref)) {
		json_decref(ref);
		ref = NULL;
	}
	if ((rc == 0) != (ref != NULL))
		abort();
	if (ref != NULL) {
		if (!json_equal(mine, ref))
			abort();
		char *a = ts_json_dump(mine), *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
		if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
			abort();
		free(a);
		free(b);
		a = ts_json_dump_sorted(mine);
		b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
			abort();
		free(a);
		free(b);
	}
	json_decref(mine);
	json_decref(ref);
	char *z = malloc(size + 1);
	if (z == NULL)
		return 0;
	memcpy(z, data, size);
	z[size] = '\0';
	mine = ts_json_loads(z);
	ref = json_loads(z, 0, NULL);
	if ((mine == NULL) != (ref == NULL) || (ref != NULL && !json_equal(mine, ref)))
		abort();
	json_decref(mine);
	json_decref(ref);
	free(z);
	return 0;
}
