/*
 * cookie.c — one cookie out of a Cookie header (cookie.h).
 */
#include <string.h>

#include "lib/cookie.h"
#include "lib/ts_err.h"

#define HEX64 64

static int
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int
ts_cookie_hex64(const char *header, const char *name, char out[65])
{
	if (header == NULL || name == NULL || name[0] == '\0')
		return TS_ENOTFOUND;
	size_t nl = strlen(name);
	const char *p = header;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t vl = len - nl - 1;
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl != HEX64)
				return TS_ENOTFOUND;
			for (size_t i = 0; i < vl; i++)
				if (!is_lower_hex(v[i]))
					return TS_ENOTFOUND;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 0;
		}
		if (end == NULL)
			return TS_ENOTFOUND;
		p = end + 1;
	}
}
