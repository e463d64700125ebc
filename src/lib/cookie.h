/*
 * cookie.h — reading one cookie from an HTTP Cookie header (RFC 6265 §5.4
 * syntax: "a=b; c=d"), for the owner's web page (src/node/web.c).
 */
#ifndef TS_COOKIE_H
#define TS_COOKIE_H

/* The value of cookie `name` in header, when it is exactly 64 lower-case hex
 * digits (the form of every cookie tapshare sets): 0, or TS_ENOTFOUND when
 * the header is NULL, the cookie is absent or its value has another form.
 * The first cookie of that name counts. Reads at most strlen(header) bytes;
 * fuzzed by fuzz/fuzz_cookie.c. */
int ts_cookie_hex64(const char *header, const char *name, char out[65]);

#endif
