/*
 * peerlim.c — see peerlim.h. A linear scan over 4096 slots is a few
 * microseconds, far below the cost of what it guards (a signature and a
 * durable database write), and needs no hash that keys could be ground to
 * collide in.
 */
#include "node/peerlim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ts_err.h"

struct slot {
	char key[PEERLIM_KEY_MAX];
	int count;
	int64_t window_start;
};

struct peerlim {
	int max;
	int64_t window_s;
	struct slot slots[PEERLIM_SLOTS];
};

int
peerlim_new(int max, int64_t window_s, peerlim **out)
{
	if (max < 1 || window_s < 1 || out == NULL)
		return TS_EINVAL;
	peerlim *pl = calloc(1, sizeof(*pl));
	if (pl == NULL)
		return TS_ENOMEM;
	pl->max = max;
	pl->window_s = window_s;
	*out = pl;
	return 0;
}

void
peerlim_free(peerlim *pl)
{
	free(pl);
}

int
peerlim_hit(peerlim *pl, const char *key, int64_t now)
{
	char k[PEERLIM_KEY_MAX];
	snprintf(k, sizeof(k), "%s", key);
	struct slot *free_slot = NULL;
	for (size_t i = 0; i < PEERLIM_SLOTS; i++) {
		struct slot *s = &pl->slots[i];
		int live = s->key[0] != '\0' && now - s->window_start < pl->window_s;
		if (s->key[0] != '\0' && strcmp(s->key, k) == 0) {
			if (!live) {
				s->count = 0;
				s->window_start = now;
			}
			if (s->count >= pl->max)
				return TS_ELIMIT;
			s->count++;
			return 0;
		}
		if (!live && free_slot == NULL)
			free_slot = s;
	}
	if (free_slot == NULL)
		return TS_ELIMIT;
	snprintf(free_slot->key, sizeof(free_slot->key), "%s", k);
	free_slot->count = 1;
	free_slot->window_start = now;
	return 0;
}
