/*
 * Fuzz target for lib/sse: the parser must never crash, and the events it
 * reports must not depend on how the input is split into chunks. The first
 * byte picks the split point; the rest is the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sse.h"

struct digest {
	uint64_t h;
	size_t events;
};

static void
mix(struct digest *d, const char *s)
{
	/* FNV-1a over the string and its terminator. */
	for (const char *p = s;; p++) {
		d->h ^= (uint8_t)*p;
		d->h *= 0x100000001b3ull;
		if (*p == '\0')
			break;
	}
}

static int
on_event(const char *event, const char *id, const char *data, void *arg)
{
	struct digest *d = arg;
	if (event == NULL || id == NULL || data == NULL)
		abort();
	mix(d, event);
	mix(d, id);
	mix(d, data);
	d->events++;
	return 0;
}

static int
run(const char *buf, size_t len, size_t split, struct digest *d)
{
	sse_parser *p = NULL;
	d->h = 0xcbf29ce484222325ull;
	d->events = 0;
	if (sse_parser_new(on_event, d, &p) != 0)
		return -1;
	int rc = sse_parser_feed(p, buf, split);
	if (rc == 0)
		rc = sse_parser_feed(p, buf + split, len - split);
	sse_parser_free(p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	size_t split = len == 0 ? 0 : data[0] % (len + 1);
	struct digest a, b;
	int ra = run(buf, len, 0, &a);
	int rb = run(buf, len, split, &b);
	if (ra != rb || a.h != b.h || a.events != b.events)
		abort();

	/* sse_format output parses back to the same event. */
	char *s = malloc(len + 1);
	if (s == NULL)
		return 0;
	memcpy(s, buf, len);
	s[len] = '\0';
	char *out = NULL;
	size_t outlen = 0;
	/* Only data that fits one line ("data: " + s) can come back whole. */
	if (strlen(s) + 6 <= SSE_MAX_LINE && sse_format("1", "ev", s, &out, &outlen) == 0) {
		struct digest want = { 0xcbf29ce484222325ull, 1 };
		mix(&want, "ev");
		mix(&want, "1");
		mix(&want, s);
		if (run(out, outlen, outlen / 2, &b) != 0 || b.events != 1 || b.h != want.h)
			abort();
		free(out);
	}
	free(s);
	return 0;
}
