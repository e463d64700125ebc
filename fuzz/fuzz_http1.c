/*
 * Fuzz target for lib/http1: the response parser must never crash, must
 * stay inside the bytes it is given and its limits, and its result (status,
 * keep-alive, body, bytes left over) must not depend on how the input
 * arrives. The first byte picks the piece size and the body limit; the rest
 * is the response, fed whole and then in pieces the way ts_httpc feeds it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http1.h"

struct out {
	int rc;
	int status;
	int keep_alive;
	size_t body_len;
	size_t leftover;
	uint64_t h; /* FNV-1a of the body */
};

static void
run(const char *msg, size_t len, size_t step, size_t max_body, char *buf, struct out *o)
{
	http1_resp p;
	http1_resp_init(&p, max_body, 0);
	memset(o, 0, sizeof(*o));
	o->h = 0xcbf29ce484222325ull;
	size_t have = 0, arrived = 0;
	for (;;) {
		size_t more = len - arrived < step ? len - arrived : step;
		memcpy(buf + have, msg + arrived, more);
		have += more;
		arrived += more;
		size_t off = 0;
		int rc;
		for (;;) {
			size_t used = 0, blen = 0;
			const char *b = NULL;
			rc = http1_resp_feed(&p, buf + off, have - off, &used, &b, &blen);
			if (used > have - off || (blen > 0 && (b < buf + off || b + blen > buf + have)))
				abort();
			for (size_t i = 0; i < blen; i++) {
				o->h ^= (uint8_t)b[i];
				o->h *= 0x100000001b3ull;
			}
			o->body_len += blen;
			if (o->body_len > max_body)
				abort();
			off += used;
			if (rc != 0 || (used == 0 && blen == 0))
				break;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (rc == 0 && arrived == len)
			rc = http1_resp_eof(&p);
		if (rc != 0) {
			o->rc = rc;
			o->leftover = have + (len - arrived);
			if (rc == 1) {
				o->status = p.status;
				o->keep_alive = p.keep_alive;
				if (p.status < 200 || p.status > 599)
					abort();
			} else if (p.why == NULL || rc > 0) {
				abort();
			}
			return;
		}
		/* the parser may hold back at most a head's or a line's worth */
		if (have > HTTP1_MAX_HEAD + step)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *msg = (const char *)data + 1;
	size_t len = size - 1;
	size_t step = (size_t)(data[0] & 0x0f) + 1;
	size_t max_body = (data[0] & 0x10) ? 64 : (1u << 20);
	char *buf = malloc(len + HTTP1_MAX_HEAD + 32);
	if (buf == NULL)
		return 0;
	struct out a, b;
	run(msg, len, len > 0 ? len : 1, max_body, buf, &a);
	run(msg, len, step, max_body, buf, &b);
	/* an error may come at another point (more or less body before it),
	 * but it is an error either way; a success is the same success */
	if ((a.rc < 0) != (b.rc < 0))
		abort();
	if (a.rc == 1 && (a.status != b.status || a.keep_alive != b.keep_alive || a.body_len != b.body_len ||
	    a.h != b.h || a.leftover != b.leftover))
		abort();
	free(buf);
	return 0;
}
