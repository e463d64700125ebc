/* Unit tests for node/sealed: AES-256-GCM sealing of secrets at rest, bound
 * to the share id; the node key file is created 0600 and refused when others
 * may read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ts_err.h"
#include "node/sealed.h"
#include "node/store.h"

static const char secret[] = "{\"ki\":\"000102030405060708090a0b0c0d0e0f\",\"opc\":\"ffeeddcc\"}";

static void
test_seal_open(void **state)
{
	(void)state;
	uint8_t k1[SEALED_KEY_LEN], k2[SEALED_KEY_LEN];
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	char *s = NULL, *p = NULL, *s2 = NULL;
	assert_int_equal(sealed_seal(k1, "share-1", secret, &s), 0);
	assert_int_equal(strncmp(s, SEALED_PREFIX, strlen(SEALED_PREFIX)), 0);
	assert_null(strstr(s, "000102030405060708090a0b0c0d0e0f")); /* no Ki in clear */
	assert_null(strstr(s, "ffeeddcc"));
	assert_int_equal(sealed_open(k1, "share-1", s, &p), 0);
	assert_string_equal(p, secret);
	free(p);
	/* a fresh nonce each time */
	assert_int_equal(sealed_seal(k1, "share-1", secret, &s2), 0);
	assert_string_not_equal(s, s2);
	free(s2);
	assert_int_equal(sealed_open(k2, "share-1", s, &p), TS_EVERIFY);      /* another key */
	assert_int_equal(sealed_open(k1, "share-2", s, &p), TS_EVERIFY);      /* moved to another share */
	size_t n = strlen(s);
	s[n - 3] = s[n - 3] == 'A' ? 'B' : 'A';                            /* tampered */
	assert_int_equal(sealed_open(k1, "share-1", s, &p), TS_EVERIFY);
	assert_int_equal(sealed_open(k1, "share-1", "plain text", &p), TS_EPARSE);
	assert_null(p);
	free(s);
	/* the store helpers: sealed with a key, a plain (older) value passes */
	assert_int_equal(store_credential_seal(k1, "share-9", secret, &s), 0);
	assert_int_equal(store_credential_unseal(k1, "share-9", s, &p), 0);
	assert_string_equal(p, secret);
	free(p);
	assert_int_equal(store_credential_unseal(NULL, "share-9", s, &p), TS_ECONFIG);
	free(s);
	assert_int_equal(store_credential_unseal(k1, "share-9", "{\"old\":1}", &p), 0);
	assert_string_equal(p, "{\"old\":1}");
	free(p);
}

static void
test_key_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/ts-sealed-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/node.key", dir);
	uint8_t a[SEALED_KEY_LEN], b[SEALED_KEY_LEN];
	assert_int_equal(sealed_key_load(path, a), 0); /* created */
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, SEALED_KEY_LEN);
	assert_int_equal(sealed_key_load(path, b), 0); /* read back */
	assert_memory_equal(a, b, SEALED_KEY_LEN);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sealed_key_load(path, b), TS_ECONFIG); /* others may read it */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(truncate(path, 16), 0);
	assert_int_equal(sealed_key_load(path, b), TS_ECONFIG); /* wrong size */
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_key_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
