/* Unit tests for lib/ossl: the algorithms fetched once. Each handle is a
 * provider's (not the legacy one that is looked up again at every init) and
 * computes its algorithm: known answers from FIPS 180-2 (SHA-256 "abc"),
 * FIPS-197 C.1 (AES-128), SP 800-38A F.2.1 (AES-128-CBC) and the GCM
 * specification's test cases 13 and 14 (AES-256-GCM, zero key and IV). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/provider.h>

#include "lib/ossl.h"
#include "lib/util.h"

static void
unhex(const char *h, uint8_t *out, size_t n)
{
	size_t got = 0;
	assert_int_equal(ts_hex_decode(h, out, n, &got), 0);
	assert_int_equal(got, n);
}

static void
test_fetched_from_a_provider(void **state)
{
	(void)state;
	assert_int_equal(ts_ossl_fetched(), 1);
	assert_non_null(EVP_MD_get0_provider(ts_ossl_sha256()));
	assert_non_null(EVP_CIPHER_get0_provider(ts_ossl_aes128_ecb()));
	assert_non_null(EVP_CIPHER_get0_provider(ts_ossl_aes128_cbc()));
	assert_non_null(EVP_CIPHER_get0_provider(ts_ossl_aes256_gcm()));
	/* the legacy handles carry none: what the getters replace */
	assert_null(EVP_CIPHER_get0_provider(EVP_aes_128_cbc()));
	/* the same object every time */
	assert_ptr_equal(ts_ossl_aes128_cbc(), ts_ossl_aes128_cbc());
}

static void
test_sha256_abc(void **state)
{
	(void)state;
	uint8_t want[32], got[32];
	unsigned int n = 0;
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	assert_int_equal(EVP_Digest("abc", 3, got, &n, ts_ossl_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	assert_memory_equal(got, want, 32);
}

static void
cipher_once(const EVP_CIPHER *c, const char *key, const char *iv, const char *in, const char *want, size_t klen)
{
	uint8_t k[32], v[16], p[16], w[16], out[32];
	int n1 = 0, n2 = 0;
	unhex(key, k, klen);
	if (iv != NULL)
		unhex(iv, v, 16);
	unhex(in, p, 16);
	unhex(want, w, 16);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, c, NULL, k, iv != NULL ? v : NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, out, &n1, p, 16), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + n1, &n2), 1);
	assert_int_equal(n1 + n2, 16);
	assert_memory_equal(out, w, 16);
	EVP_CIPHER_CTX_free(ctx);
}

static void
test_aes128(void **state)
{
	(void)state;
	cipher_once(ts_ossl_aes128_ecb(), "000102030405060708090a0b0c0d0e0f", NULL,
	    "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a", 16);
	cipher_once(ts_ossl_aes128_cbc(), "2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f",
	    "6bc1bee22e409f96e93d7e117393172a", "7649abac8119b246cee98e9b12e9197d", 16);
}

static void
test_aes256_gcm(void **state)
{
	(void)state;
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, pt[16] = { 0 }, ct[16], tag[16], want_ct[16], want_tag[16];
	int n = 0, n2 = 0;
	/* test case 13: no plaintext */
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, ts_ossl_aes256_gcm(), NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, ct, &n2), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	unhex("530f8afbc74536b9a963b4f1c4cb738b", want_tag, 16);
	assert_memory_equal(tag, want_tag, 16);
	/* test case 14: one zero block */
	assert_int_equal(EVP_EncryptInit_ex(ctx, ts_ossl_aes256_gcm(), NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, ct, &n, pt, 16), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, ct + n, &n2), 1);
	assert_int_equal(n + n2, 16);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	unhex("cea7403d4d606b6e074ec5d3baf39d18", want_ct, 16);
	unhex("d0d1c8a799996bf0265b98b5d48ab919", want_tag, 16);
	assert_memory_equal(ct, want_ct, 16);
	assert_memory_equal(tag, want_tag, 16);
	EVP_CIPHER_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetched_from_a_provider),
		cmocka_unit_test(test_sha256_abc),
		cmocka_unit_test(test_aes128),
		cmocka_unit_test(test_aes256_gcm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
