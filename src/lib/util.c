#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/ts_err.h"

int
ts_hex_encode(const uint8_t *in, size_t len, char *out, size_t outcap)
{
	static const char digits[] = "0123456789abcdef";
	if (len > (SIZE_MAX - 1) / 2 || outcap < 2 * len + 1)
		return TS_EINVAL;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return 0;
}

int
ts_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
ts_hex_decode(const char *hex, uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t n = strlen(hex);
	if (n % 2 != 0 || n / 2 > outcap)
		return TS_EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = ts_hexval(hex[2 * i]), lo = ts_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return TS_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return 0;
}

int
ts_b64_encode(const uint8_t *in, size_t len, char **out)
{
	if (len > (size_t)INT_MAX / 2)
		return TS_ELIMIT;
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *s = malloc(cap);
	if (s == NULL)
		return TS_ENOMEM;
	EVP_EncodeBlock((unsigned char *)s, in, (int)len);
	*out = s;
	return 0;
}

/* Each base64 character's value + 1 (RFC 4648 §4); 0 for every other byte.
 * One load per character: ts_b64_decode runs over every base64 field of
 * every ES9+ request (a few kB per flow). */
static const uint8_t b64_plus1[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8, ['I'] = 9,
	['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25,
	['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
	['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41,
	['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* The value of byte c, or a value with bits above the low 6 set for a
 * byte that is not a base64 character. */
static inline uint32_t
b64v(uint8_t c)
{
	return (uint32_t)b64_plus1[c] - 1u;
}

int
ts_b64_decode(const char *in, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(in);
	if (n % 4 != 0)
		return TS_EPARSE;
	size_t pad = 0;
	if (n >= 1 && in[n - 1] == '=')
		pad++;
	if (n >= 2 && in[n - 2] == '=')
		pad++;
	uint8_t *buf = malloc(n / 4 * 3 + 1);
	if (buf == NULL)
		return TS_ENOMEM;
	const uint8_t *u = (const uint8_t *)in;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v0 = b64v(u[i]), v1 = b64v(u[i + 1]), v2 = b64v(u[i + 2]), v3 = b64v(u[i + 3]);
		if (i + 4 == n) { /* only the last quad's padding counts as 0 */
			if (pad >= 1)
				v3 = 0;
			if (pad == 2)
				v2 = 0;
		}
		if ((v0 | v1 | v2 | v3) & ~(uint32_t)0x3f) {
			free(buf);
			return TS_EPARSE;
		}
		uint32_t w = v0 << 18 | v1 << 12 | v2 << 6 | v3;
		buf[o++] = (uint8_t)(w >> 16);
		buf[o++] = (uint8_t)(w >> 8);
		buf[o++] = (uint8_t)w;
	}
	/* Strict: the bits below the padding must be zero ("QR==" is not "QQ=="). */
	if ((pad == 2 && (b64v(u[n - 3]) & 0x0f) != 0) || (pad == 1 && (b64v(u[n - 2]) & 0x03) != 0)) {
		free(buf);
		return TS_EPARSE;
	}
	o -= pad;
	*out = buf;
	*outlen = o;
	return 0;
}

int
ts_random(uint8_t *out, size_t len)
{
	if (len > INT_MAX)
		return TS_EINVAL;
	return RAND_bytes(out, (int)len) == 1 ? 0 : TS_ECRYPTO;
}

int
ts_random_id(char out[33])
{
	uint8_t b[16];
	int rc = ts_random(b, sizeof(b));
	if (rc != 0)
		return rc;
	return ts_hex_encode(b, sizeof(b), out, 33);
}

int
ts_parse_ll(const char *s, long long min, long long max, long long *out)
{
	if (s == NULL || *s == '\0')
		return TS_EINVAL;
	/* Only an optional '-' then digits: no spaces, no '+'. */
	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return TS_EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s)
		return TS_EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return TS_ELIMIT;
	*out = v;
	return 0;
}

int
ts_read_file(const char *path, size_t maxlen, uint8_t **out, size_t *outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? TS_ENOTFOUND : TS_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return TS_EIO;
	}
	if ((uint64_t)st.st_size > maxlen) {
		close(fd);
		return TS_ELIMIT;
	}
	size_t cap = (size_t)st.st_size + 1;
	uint8_t *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return TS_ENOMEM;
	}
	size_t n = 0;
	for (;;) {
		if (n == cap - 1) {
			/* File grew since fstat; refuse rather than read unbounded. */
			char extra;
			ssize_t r = read(fd, &extra, 1);
			if (r == 0)
				break;
			free(buf);
			close(fd);
			return r < 0 ? TS_EIO : TS_ELIMIT;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return TS_EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

int
ts_write_file_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	if (ts_snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) != 0)
		return TS_ELIMIT;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return TS_EIO;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	char dcopy[PATH_MAX];
	if (ts_snprintf(dcopy, sizeof(dcopy), "%s", path) == 0) {
		int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return TS_EIO;
}

int
ts_mkdirs(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	if (ts_snprintf(buf, sizeof(buf), "%s", path) != 0)
		return TS_ELIMIT;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return TS_EIO;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return TS_EIO;
	return 0;
}

int64_t
ts_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
ts_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ts_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ts_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		return TS_ELIMIT;
	return 0;
}

int
ts_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0 ? 0 : 1;
}

int
ts_buf_reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / 2)
		return TS_ENOMEM;
	size_t ncap = *cap < 64 ? 64 : *cap;
	while (ncap < need)
		ncap *= 2;
	char *nb = realloc(*buf, ncap);
	if (nb == NULL)
		return TS_ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

void
ts_errbuf(char *errbuf, size_t errcap, const char *fmt, ...)
{
	if (errbuf == NULL || errcap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(errbuf, errcap, fmt, ap);
	va_end(ap);
}
