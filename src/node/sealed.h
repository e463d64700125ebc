/*
 * sealed.h — secrets at rest in the node's database (issue 8): the provider's
 * associated credential (a SIM's Ki/OPc, a service secret) is kept sealed
 * with AES-256-GCM under the node key (DIR/node.key, 32 random bytes, 0600),
 * the share id as additional data so a sealed value cannot be moved to
 * another share. Text form: "sealed:v1:" + base64(nonce(12) || ciphertext
 * || tag(16)). The key never enters the database.
 */
#ifndef TS_NODE_SEALED_H
#define TS_NODE_SEALED_H

#include <stddef.h>
#include <stdint.h>

#define SEALED_KEY_LEN 32
#define SEALED_PREFIX "sealed:v1:"

/* *out: the sealed text (caller frees). */
int sealed_seal(const uint8_t key[SEALED_KEY_LEN], const char *aad, const char *plain, char **out);
/* *out: the plain text (caller cleanses and frees). TS_EVERIFY when the tag
 * does not verify (wrong key, wrong share, tampered), TS_EPARSE when in is
 * not sealed text. */
int sealed_open(const uint8_t key[SEALED_KEY_LEN], const char *aad, const char *in, char **out);
/* Loads DIR-relative key file path, creating it (0600, O_EXCL) with fresh
 * random bytes when absent. TS_ECONFIG for a file of the wrong size or
 * mode (readable by others). */
int sealed_key_load(const char *path, uint8_t key[SEALED_KEY_LEN]);

#endif
