/*
 * ossl.h — OpenSSL algorithms fetched from the default provider once per
 * process. EVP_sha256(), EVP_aes_128_cbc() and the like are "legacy"
 * handles: every EVP_DigestInit_ex / EVP_CipherInit_ex given one looks the
 * algorithm up by name in the provider store again (issue 9: 14 such
 * look-ups per flow in the node). A fetched handle skips that.
 *
 * Each getter falls back to the legacy handle if the fetch failed, so a
 * caller never gets NULL and behaves as before, only slower.
 */
#ifndef TS_OSSL_H
#define TS_OSSL_H

#include <openssl/evp.h>

const EVP_MD *ts_ossl_sha256(void);
const EVP_CIPHER *ts_ossl_aes128_ecb(void);
const EVP_CIPHER *ts_ossl_aes128_cbc(void);
const EVP_CIPHER *ts_ossl_aes256_gcm(void);
/* 1 when every algorithm above was fetched (no fallback in use). */
int ts_ossl_fetched(void);

#endif
