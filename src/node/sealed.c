/*
 * sealed.c — see sealed.h. OpenSSL EVP AES-256-GCM, a fresh 96-bit random
 * nonce per value (values are few: one per share), 128-bit tag.
 */
#include "node/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/log.h"
#include "lib/ossl.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define NONCE_LEN 12
#define TAG_LEN 16

int
sealed_seal(const uint8_t key[SEALED_KEY_LEN], const char *aad, const char *plain, char **out)
{
	size_t plen = strlen(plain), blen = NONCE_LEN + plen + TAG_LEN;
	uint8_t *buf = NULL;
	char *b64 = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int rc = TS_ECRYPTO, l = 0, l2 = 0;
	*out = NULL;
	if (plen > (1u << 20))
		return TS_ELIMIT;
	if ((buf = malloc(blen)) == NULL)
		return TS_ENOMEM;
	if (ts_random(buf, NONCE_LEN) != 0 || (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(c, ts_ossl_aes256_gcm(), NULL, key, buf) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &l, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(c, buf + NONCE_LEN, &l, (const uint8_t *)plain, (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(c, buf + NONCE_LEN + l, &l2) != 1 || (size_t)(l + l2) != plen ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + NONCE_LEN + plen) != 1)
		goto done;
	if (ts_b64_encode(buf, blen, &b64) != 0) {
		rc = TS_ENOMEM;
		goto done;
	}
	size_t n = strlen(SEALED_PREFIX) + strlen(b64) + 1;
	if ((*out = malloc(n)) == NULL) {
		rc = TS_ENOMEM;
		goto done;
	}
	memcpy(*out, SEALED_PREFIX, strlen(SEALED_PREFIX));
	memcpy(*out + strlen(SEALED_PREFIX), b64, strlen(b64) + 1);
	rc = 0;
done:
	EVP_CIPHER_CTX_free(c);
	free(b64);
	free(buf);
	return rc;
}

int
sealed_open(const uint8_t key[SEALED_KEY_LEN], const char *aad, const char *in, char **out)
{
	uint8_t *buf = NULL;
	size_t blen = 0;
	char *plain = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int rc = TS_EVERIFY, l = 0, l2 = 0;
	*out = NULL;
	if (strncmp(in, SEALED_PREFIX, strlen(SEALED_PREFIX)) != 0 ||
	    ts_b64_decode(in + strlen(SEALED_PREFIX), &buf, &blen) != 0 || blen < NONCE_LEN + TAG_LEN) {
		free(buf);
		return TS_EPARSE;
	}
	size_t plen = blen - NONCE_LEN - TAG_LEN;
	if ((plain = malloc(plen + 1)) == NULL) {
		free(buf);
		return TS_ENOMEM;
	}
	if ((c = EVP_CIPHER_CTX_new()) == NULL || EVP_DecryptInit_ex(c, ts_ossl_aes256_gcm(), NULL, key, buf) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &l, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(c, (uint8_t *)plain, &l, buf + NONCE_LEN, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, buf + NONCE_LEN + plen) != 1 ||
	    EVP_DecryptFinal_ex(c, (uint8_t *)plain + l, &l2) != 1 || (size_t)(l + l2) != plen) {
		OPENSSL_cleanse(plain, plen + 1);
		free(plain);
		goto done;
	}
	plain[plen] = '\0';
	*out = plain;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	return rc;
}

int
sealed_key_load(const char *path, uint8_t key[SEALED_KEY_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		uint8_t k[SEALED_KEY_LEN];
		if (ts_random(k, sizeof(k)) != 0)
			return TS_ECRYPTO;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		int ok = fd >= 0 && write(fd, k, sizeof(k)) == (ssize_t)sizeof(k) && fsync(fd) == 0;
		if (fd >= 0)
			close(fd);
		OPENSSL_cleanse(k, sizeof(k));
		if (!ok) {
			log_error("cannot create the node key %s: %s", path, strerror(errno));
			return TS_EIO;
		}
		log_info("created the node key %s (seals secrets at rest)", path);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		log_error("cannot open the node key %s: %s", path, strerror(errno));
		return TS_EIO;
	}
	struct stat sb;
	ssize_t n = -1;
	int rc = TS_ECONFIG;
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) == 0 && sb.st_size == SEALED_KEY_LEN)
		n = read(fd, key, SEALED_KEY_LEN);
	close(fd);
	if (n == SEALED_KEY_LEN)
		rc = 0;
	else
		log_error("the node key %s must be %d bytes, mode 0600", path, SEALED_KEY_LEN);
	return rc;
}
