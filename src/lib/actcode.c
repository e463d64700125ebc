/*
 * actcode.c — the SGP.22 Activation Code (see actcode.h).
 */
#include "lib/actcode.h"

#include <string.h>

#include "lib/ts_err.h"

/* Printable ASCII without the delimiter: what every field may hold. */
static int
field_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '$';
}

/* Copies s[0..n) into dst (cap bytes incl. NUL) after checking each byte. */
static int
take(const char *s, size_t n, char *dst, size_t cap)
{
	if (n + 1 > cap)
		return TS_ELIMIT;
	for (size_t i = 0; i < n; i++)
		if (!field_char((unsigned char)s[i]))
			return TS_EPARSE;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* host[:port]: no scheme, no path, no user info, no query. */
static int
address_ok(const char *a)
{
	if (a[0] == '\0' || strchr(a, '/') != NULL || strchr(a, '@') != NULL || strchr(a, '?') != NULL ||
	    strchr(a, '#') != NULL)
		return 0;
	const char *colon = strchr(a, ':');
	if (colon == NULL)
		return 1;
	if (colon == a || strchr(colon + 1, ':') != NULL)
		return 0;
	size_t pl = strlen(colon + 1);
	if (pl < 1 || pl > 5)
		return 0;
	unsigned long port = 0;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port >= 1 && port <= 65535;
}

/* Dotted decimal, at least two arcs, no empty arc. */
static int
oid_ok(const char *o)
{
	size_t arcs = 0, digits = 0;
	for (const char *p = o;; p++) {
		if (*p >= '0' && *p <= '9') {
			digits++;
		} else if (*p == '.' || *p == '\0') {
			if (digits == 0)
				return 0;
			arcs++;
			digits = 0;
			if (*p == '\0')
				break;
		} else {
			return 0;
		}
	}
	return arcs >= 2;
}

int
ac_parse(const char *s, size_t len, ac_code *out)
{
	if (s == NULL || out == NULL)
		return TS_EINVAL;
	if (len > AC_TEXT_MAX)
		return TS_ELIMIT;
	if (len >= 4 && memcmp(s, "LPA:", 4) == 0) {
		s += 4;
		len -= 4;
	}
	/* Split at '$': 3 to 5 fields. */
	const char *f[5];
	size_t fl[5], nf = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '$') {
			if (nf == 5)
				return TS_EPARSE;
			f[nf] = s + start;
			fl[nf] = i - start;
			nf++;
			start = i + 1;
		} else if (s[i] == '\0') {
			return TS_EPARSE;
		}
	}
	if (nf < 3 || fl[0] != 1 || f[0][0] != '1')
		return TS_EPARSE;
	ac_code c;
	memset(&c, 0, sizeof(c));
	int rc;
	if ((rc = take(f[1], fl[1], c.address, sizeof(c.address))) != 0 ||
	    (rc = take(f[2], fl[2], c.matching_id, sizeof(c.matching_id))) != 0)
		return rc;
	if (!address_ok(c.address))
		return TS_EPARSE;
	if (nf >= 4) {
		if ((rc = take(f[3], fl[3], c.oid, sizeof(c.oid))) != 0)
			return rc;
		/* An empty OID only as the place holder before the flag. */
		if ((c.oid[0] == '\0' && nf == 4) || (c.oid[0] != '\0' && !oid_ok(c.oid)))
			return TS_EPARSE;
	}
	if (nf == 5) {
		if (fl[4] != 1 || f[4][0] != '1')
			return TS_EPARSE;
		c.cc_required = 1;
	}
	*out = c;
	return 0;
}
