/*
 * util.h — small helpers shared by every program: hex/base64, randomness,
 * checked number parsing, whole-file I/O with atomic replace, time.
 */
#ifndef TS_UTIL_H
#define TS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define TS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Hex: lower-case. hex_encode writes 2*len+1 bytes (NUL-terminated) into out,
 * which must have room for them. Returns 0 or TS_EINVAL. */
int ts_hex_encode(const uint8_t *in, size_t len, char *out, size_t outcap);
/* The value of one hex digit (either case), -1 for anything else. */
int ts_hexval(char c);
/* Decodes exactly strlen(hex)/2 bytes; rejects odd length and non-hex.
 * *outlen receives the number of bytes written. */
int ts_hex_decode(const char *hex, uint8_t *out, size_t outcap, size_t *outlen);

/* Base64 (standard alphabet, padded, no newlines). *out is malloc'ed, caller
 * frees; NUL-terminated for encode. */
int ts_b64_encode(const uint8_t *in, size_t len, char **out);
/* Strict decode: rejects bad characters and bad padding. Caller frees *out. */
int ts_b64_decode(const char *in, uint8_t **out, size_t *outlen);

/* Cryptographically secure random bytes (OpenSSL RAND_bytes). */
int ts_random(uint8_t *out, size_t len);
/* Random identifier: 32 lower-case hex chars (16 random bytes) + NUL. */
int ts_random_id(char out[33]);

/* Parses a base-10 integer in [min, max]; the whole string must be used.
 * Returns 0, TS_EINVAL (not a number) or TS_ELIMIT (out of range). */
int ts_parse_ll(const char *s, long long min, long long max, long long *out);

/* Reads a whole file (at most maxlen bytes, TS_ELIMIT beyond). *out is
 * malloc'ed with one extra NUL byte after the data; caller frees. */
int ts_read_file(const char *path, size_t maxlen, uint8_t **out, size_t *outlen);
/* Writes a file atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory. mode is the permission of the new file. */
int ts_write_file_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode);
/* mkdir -p with the given mode for created directories. */
int ts_mkdirs(const char *path, unsigned mode);

/* Wall clock in seconds / milliseconds since the epoch; monotonic ms. */
int64_t ts_now(void);
int64_t ts_now_ms(void);
int64_t ts_mono_ms(void);

/* snprintf into a fixed buffer; TS_ELIMIT if truncated. */
int ts_snprintf(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes a diagnostic into errbuf (NULL or errcap 0: nothing). Truncation
 * is acceptable: the caller still returns its code. */
void ts_errbuf(char *errbuf, size_t errcap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Constant-time comparison (CRYPTO_memcmp); 0 iff equal. */
int ts_ct_equal(const void *a, const void *b, size_t len);

/* Makes *buf (capacity *cap bytes, NULL when 0) hold at least need bytes,
 * keeping its contents. A growth at least doubles the capacity, so n
 * appends cost O(n) copies in all, not O(n^2). 0, or TS_ENOMEM when out of
 * memory or need cannot be doubled within size_t (*buf and *cap unchanged). */
int ts_buf_reserve(char **buf, size_t *cap, size_t need);

#endif
