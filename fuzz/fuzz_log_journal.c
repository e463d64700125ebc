/*
 * Fuzz target for lib/log's journal encoding: any message (client-chosen
 * text reaches log lines) gives fields made only of the digits they name,
 * and a record that a reader of the native protocol parses back into exactly
 * the fields written, MESSAGE equal to the input; never a crash or overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static int
only(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[1600];
	size_t n = size < sizeof(msg) - 1 ? size : sizeof(msg) - 1;
	memcpy(msg, data, n);
	msg[n] = '\0';
	n = strlen(msg); /* up to the first NUL, as a C string message */

	ts_log_fields f;
	ts_log_fields_of(msg, &f);
	if (!only(f.share_id, "0123456789abcdef") || !only(f.device_id, "0123456789abcdef") ||
	    !only(f.eid, "0123456789"))
		abort();
	if ((f.eid[0] && strlen(f.eid) != 32) || (f.share_id[0] && strlen(f.share_id) < 16))
		abort();

	uint8_t rec[2200];
	size_t len = ts_log_journal_record(rec, sizeof(rec), TS_LOG_INFO, "fuzz", msg);
	if (len == 0)
		return 0;
	if (len > sizeof(rec))
		abort();
	/* parse it back: every field well formed; MESSAGE is msg */
	size_t i = 0;
	int seen_msg = 0;
	while (i < len) {
		size_t k = i;
		while (i < len && rec[i] != '=' && rec[i] != '\n')
			i++;
		if (i == len || i == k)
			abort();
		const uint8_t *v;
		size_t vl;
		if (rec[i] == '=') {
			size_t e = i + 1;
			while (e < len && rec[e] != '\n')
				e++;
			if (e == len)
				abort();
			v = rec + i + 1;
			vl = e - i - 1;
			i = e + 1;
		} else {
			uint64_t l = 0;
			if (len - i < 9)
				abort();
			for (int b = 7; b >= 0; b--)
				l = (l << 8) | rec[i + 1 + b];
			if (l >= len - i - 9 || rec[i + 9 + l] != '\n')
				abort();
			v = rec + i + 9;
			vl = (size_t)l;
			i = i + 9 + vl + 1;
		}
		if ((size_t)(v - rec) - k >= 8 && memcmp(rec + k, "MESSAGE", 7) == 0 &&
		    (rec[k + 7] == '=' || rec[k + 7] == '\n')) {
			if (vl != n || memcmp(v, msg, n) != 0)
				abort();
			seen_msg = 1;
		}
	}
	if (!seen_msg)
		abort();
	return 0;
}
