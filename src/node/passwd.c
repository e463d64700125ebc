/*
 * passwd.c — account passphrases, stored as scrypt hashes:
 *   "scrypt$<log2 N>$<r>$<p>$<salt hex>$<hash hex>"
 * N = 2^15, r = 8, p = 1 (32 MiB, tens of milliseconds): slow for a guesser,
 * paid once per session token, not per request.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

#include "lib/ossl.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "node/node.h"

#define PW_LOGN 15
#define PW_R 8
#define PW_P 1
#define PW_SALT 16
#define PW_LEN 32

static int
derive(const char *pass, const uint8_t *salt, size_t slen, int logn, int r, int p, uint8_t out[PW_LEN])
{
	uint64_t N = (uint64_t)1 << logn;
	/* maxmem: 128 * r * N plus slack */
	if (EVP_PBE_scrypt(pass, strlen(pass), salt, slen, N, (uint64_t)r, (uint64_t)p,
		(uint64_t)(130ull * (uint64_t)r * N), out, PW_LEN) != 1)
		return TS_ECRYPTO;
	return 0;
}

int
passwd_hash(const char *pass, char *out, size_t cap)
{
	uint8_t salt[PW_SALT], h[PW_LEN];
	char shex[2 * PW_SALT + 1], hhex[2 * PW_LEN + 1];
	int rc;
	if ((rc = ts_random(salt, sizeof(salt))) != 0 ||
	    (rc = derive(pass, salt, sizeof(salt), PW_LOGN, PW_R, PW_P, h)) != 0)
		return rc;
	ts_hex_encode(salt, sizeof(salt), shex, sizeof(shex));
	ts_hex_encode(h, sizeof(h), hhex, sizeof(hhex));
	OPENSSL_cleanse(h, sizeof(h));
	return ts_snprintf(out, cap, "scrypt$%d$%d$%d$%s$%s", PW_LOGN, PW_R, PW_P, shex, hhex);
}

int
passwd_verify(const char *pass, const char *stored)
{
	int logn, r, p;
	char shex[2 * PW_SALT + 1], hhex[2 * PW_LEN + 1];
	if (sscanf(stored, "scrypt$%d$%d$%d$%32[0-9a-f]$%64[0-9a-f]", &logn, &r, &p, shex, hhex) != 5)
		return TS_EAUTH;
	if (logn < 10 || logn > 20 || r < 1 || r > 32 || p < 1 || p > 4)
		return TS_EAUTH;
	uint8_t salt[PW_SALT], want[PW_LEN], got[PW_LEN];
	size_t sl, wl;
	if (ts_hex_decode(shex, salt, sizeof(salt), &sl) != 0 || ts_hex_decode(hhex, want, sizeof(want), &wl) != 0 ||
	    wl != PW_LEN)
		return TS_EAUTH;
	if (derive(pass, salt, sl, logn, r, p, got) != 0)
		return TS_EAUTH;
	int ok = CRYPTO_memcmp(got, want, PW_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok ? 0 : TS_EAUTH;
}

/* SHA-256 with the digest fetched once (lib/ossl.h): SHA256() looked it
 * up by name at every call, and a primary's every request hashes its token.
 * Should hashing ever fail, out is a value no other call returns ("!" and a
 * count, not hex), so that neither a stored token nor a presented one can
 * match through a failure. */
void
secret_hash(const char *secret, char out[65])
{
	static _Atomic unsigned long long failures;
	uint8_t d[SHA256_DIGEST_LENGTH];
	unsigned int n = 0;
	if (EVP_Digest(secret, strlen(secret), d, &n, ts_ossl_sha256(), NULL) != 1 || n != sizeof(d)) {
		snprintf(out, 65, "!%llu", ++failures);
		return;
	}
	ts_hex_encode(d, sizeof(d), out, 65);
}
