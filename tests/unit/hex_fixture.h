/*
 * hex_fixture.h — the hand-written vectors of the codec tests: hex text
 * (spaces ignored) into bytes, and a byte-exact comparison that prints both
 * sides when they differ. Include after <cmocka.h> (and its prerequisites).
 */
#ifndef TS_TEST_HEX_FIXTURE_H
#define TS_TEST_HEX_FIXTURE_H

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vec {
	uint8_t b[4096];
	size_t n;
} vec;

/* Hex digits, spaces ignored; anything else, an odd count or more than
 * sizeof(vec.b) bytes fails the test. */
static inline vec
hx(const char *s)
{
	vec v;
	memset(&v, 0, sizeof(v));
	int hi = -1;
	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s))
			continue;
		int d = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
		assert_true(d >= 0 && d < 16);
		if (hi < 0) {
			hi = d;
		} else {
			assert_true(v.n < sizeof(v.b));
			v.b[v.n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return v;
}

static inline void
expect_bytes(const uint8_t *got, size_t got_len, const vec *want)
{
	if (got_len != want->n || memcmp(got, want->b, want->n) != 0) {
		fprintf(stderr, "got  ");
		for (size_t i = 0; i < got_len; i++)
			fprintf(stderr, "%02X", got[i]);
		fprintf(stderr, "\nwant ");
		for (size_t i = 0; i < want->n; i++)
			fprintf(stderr, "%02X", want->b[i]);
		fprintf(stderr, "\n");
	}
	assert_int_equal(got_len, want->n);
	assert_memory_equal(got, want->b, want->n);
}

/* Checks and frees an encoder's output; the call names its out parameters
 * &o_, &l_. */
#define ENC(call, want)                          \
	do {                                     \
		uint8_t *o_ = NULL;              \
		size_t l_ = 0;                   \
		assert_int_equal((call), 0);     \
		expect_bytes(o_, l_, (want));    \
		free(o_);                        \
	} while (0)

#endif
