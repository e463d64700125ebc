#include "lib/ptrmap.h"

#include <stdint.h>
#include <stdlib.h>

#include "lib/ts_err.h"

/* Fibonacci hashing of the address: the top bits of key * 2^64/phi. */
static size_t
slot_of(const void *key, unsigned bits)
{
	uint64_t h = (uint64_t)(uintptr_t)key * UINT64_C(0x9E3779B97F4A7C15);
	return (size_t)(h >> (64 - bits));
}

int
ts_ptrmap_get(const ts_ptrmap *m, const void *key, size_t *val)
{
	if (m->cap == 0 || key == NULL)
		return 0;
	for (size_t i = slot_of(key, m->bits), k = 0; k < m->cap; i = (i + 1) & (m->cap - 1), k++) {
		if (m->key[i] == NULL)
			return 0;
		if (m->key[i] == key) {
			*val = m->val[i];
			return 1;
		}
	}
	return 0;
}

/* Puts into a table known to have room (no growth). */
static void
place(const void **keys, size_t *vals, unsigned bits, const void *key, size_t val)
{
	size_t cap = (size_t)1 << bits, i = slot_of(key, bits);
	while (keys[i] != NULL && keys[i] != key)
		i = (i + 1) & (cap - 1);
	keys[i] = key;
	vals[i] = val;
}

int
ts_ptrmap_put(ts_ptrmap *m, const void *key, size_t val)
{
	if (key == NULL)
		return TS_EINVAL;
	size_t old;
	if (ts_ptrmap_get(m, key, &old)) {
		place(m->key, m->val, m->bits, key, val);
		return 0;
	}
	if (m->n + 1 > m->cap / 2) {
		unsigned nbits = m->cap ? m->bits + 1 : 4;
		if (nbits > 30)
			return TS_ENOMEM;
		size_t ncap = (size_t)1 << nbits;
		const void **nk = calloc(ncap, sizeof(*nk));
		size_t *nv = calloc(ncap, sizeof(*nv));
		if (nk == NULL || nv == NULL) {
			free(nk);
			free(nv);
			return TS_ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->key[i] != NULL)
				place(nk, nv, nbits, m->key[i], m->val[i]);
		free(m->key);
		free(m->val);
		m->key = nk;
		m->val = nv;
		m->cap = ncap;
		m->bits = nbits;
	}
	place(m->key, m->val, m->bits, key, val);
	m->n++;
	return 0;
}

void
ts_ptrmap_free(ts_ptrmap *m)
{
	free(m->key);
	free(m->val);
	m->key = NULL;
	m->val = NULL;
	m->cap = m->n = 0;
	m->bits = 0;
}
