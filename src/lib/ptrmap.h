/*
 * ptrmap.h — a map from pointers (a string literal's address, say) to
 * indexes, by open addressing. The stores' statement caches look their
 * prepared statements up by the address of the SQL text on every statement
 * (~175 per flow); a linear walk of 150 entries was ~1 % of the node's CPU.
 */
#ifndef TS_PTRMAP_H
#define TS_PTRMAP_H

#include <stddef.h>

typedef struct ts_ptrmap {
	const void **key; /* cap slots, NULL = empty */
	size_t *val;
	size_t cap, n;    /* cap 0 or 2^bits; n <= cap / 2 */
	unsigned bits;
} ts_ptrmap;

#define TS_PTRMAP_INIT { NULL, NULL, 0, 0, 0 }

/* 1 and *val when key is in the map, else 0. */
int ts_ptrmap_get(const ts_ptrmap *m, const void *key, size_t *val);
/* Adds key (not NULL) with val, or replaces its value: 0, TS_EINVAL for a
 * NULL key, TS_ENOMEM (the map unchanged). */
int ts_ptrmap_put(ts_ptrmap *m, const void *key, size_t val);
void ts_ptrmap_free(ts_ptrmap *m);

#endif
