#include "lib/ossl.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;
static EVP_CIPHER *aes128_ecb, *aes128_cbc, *aes256_gcm;

/* Kept for the process's life: OpenSSL frees providers' algorithms at exit. */
static void
fetch_all(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	aes128_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	aes128_cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	aes256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

const EVP_MD *
ts_ossl_sha256(void)
{
	pthread_once(&once, fetch_all);
	return sha256 != NULL ? sha256 : EVP_sha256();
}

const EVP_CIPHER *
ts_ossl_aes128_ecb(void)
{
	pthread_once(&once, fetch_all);
	return aes128_ecb != NULL ? aes128_ecb : EVP_aes_128_ecb();
}

const EVP_CIPHER *
ts_ossl_aes128_cbc(void)
{
	pthread_once(&once, fetch_all);
	return aes128_cbc != NULL ? aes128_cbc : EVP_aes_128_cbc();
}

const EVP_CIPHER *
ts_ossl_aes256_gcm(void)
{
	pthread_once(&once, fetch_all);
	return aes256_gcm != NULL ? aes256_gcm : EVP_aes_256_gcm();
}

int
ts_ossl_fetched(void)
{
	pthread_once(&once, fetch_all);
	return sha256 != NULL && aes128_ecb != NULL && aes128_cbc != NULL && aes256_gcm != NULL;
}
