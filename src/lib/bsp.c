/*
 * bsp.c — package binding (GSMA SGP.22 BSP, ex-SCP03t); contract in bsp.h.
 *
 * Framing rule for the payload (A3). A MAC chain protects the order of the
 * segments it covers, but not the *end* of the stream: a receiver cannot tell
 * a package whose last segment was cut off from a shorter one. So every
 * segment but the last carries exactly BSP_SEG_MAX plaintext bytes and the
 * last carries fewer (possibly none: a payload of 0 or k*BSP_SEG_MAX bytes
 * ends with an empty segment). The receiver enforces this, so dropping the
 * final segment leaves a full-size last segment and is refused, and dropping,
 * duplicating or reordering any other segment breaks the MAC chain.
 *
 * The metadata (A1) is exactly one MAC-only segment (tag 88), so it is at most
 * BSP_SEG_MAX bytes. The chain runs A1 first, then A3 in order; the IV block
 * counter advances for every segment, MAC-only ones included (SGP.22).
 */
#include "lib/bsp.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "lib/der.h"
#include "lib/pki.h"
#include "lib/ts_err.h"

#define BSP_TAG_ENC 0x86
#define BSP_TAG_MAC 0x88
#define BSP_BLOCK 16
#define BSP_KEY_TYPE_AES 0x88
#define BSP_KEY_LEN 0x10
#define BSP_HOST_ID_MAX 255 /* LV(host id) has a one-byte length */
#define BSP_TID_MAX 16      /* SGP.22 TransactionId ::= OCTET STRING (SIZE(1..16)) */
#define BSP_REMOTE_OP_INSTALL 1

#define TAG_PACKAGE 0xBF36
#define TAG_INIT_SC 0xBF23
#define TAG_REMOTE_OP 0x82 /* RemoteOpId ::= [2] INTEGER */
#define TAG_TID 0x80       /* transactionId [0] */
#define TAG_CRT 0xA6       /* controlRefTemplate [6] */
#define TAG_CRT_KEY_TYPE 0x80
#define TAG_CRT_KEY_LEN 0x81
#define TAG_CRT_HOST_ID 0x84
#define TAG_OTPK 0x5F49
#define TAG_SIG 0x5F37
#define TAG_METADATA 0xA1
#define TAG_SEGMENTS 0xA3

void
bsp_keys_clear(bsp_keys *k)
{
	if (k != NULL)
		OPENSSL_cleanse(k, sizeof(*k));
}

int
bsp_ecdh(EVP_PKEY *own, const uint8_t *peer_point, size_t peer_len, uint8_t z[32])
{
	int rc;
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t zlen = 32;
	if (own == NULL || peer_point == NULL || z == NULL)
		return TS_EINVAL;
	if ((rc = pki_pubkey_from_point(peer_point, peer_len, &peer)) != 0)
		goto fail;
	rc = TS_ECRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL)) == NULL)
		goto fail;
	if (EVP_PKEY_derive_init(ctx) != 1)
		goto fail;
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1)
		goto fail;
	if (EVP_PKEY_derive(ctx, z, &zlen) != 1 || zlen != 32)
		goto fail;
	rc = 0;
fail:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return rc;
}

/* ANSI X9.63 KDF (SEC 1 §3.6.1) with SHA-256, two blocks for 48 bytes. */
int
bsp_derive(const uint8_t z[32], const uint8_t *host_id, size_t host_id_len,
    const eid_t *eid, bsp_keys *out)
{
	int rc = TS_ECRYPTO;
	uint8_t si[2 + 1 + BSP_HOST_ID_MAX + 1 + EID_BYTES];
	size_t silen = 0;
	uint8_t km[2 * 32];
	EVP_MD_CTX *md = NULL;
	if (z == NULL || host_id == NULL || eid == NULL || out == NULL)
		return TS_EINVAL;
	if (host_id_len == 0 || host_id_len > BSP_HOST_ID_MAX)
		return TS_EINVAL;
	si[silen++] = BSP_KEY_TYPE_AES;
	si[silen++] = BSP_KEY_LEN;
	si[silen++] = (uint8_t)host_id_len;
	memcpy(si + silen, host_id, host_id_len);
	silen += host_id_len;
	si[silen++] = EID_BYTES;
	eid_to_bytes(eid, si + silen);
	silen += EID_BYTES;

	if ((md = EVP_MD_CTX_new()) == NULL)
		goto fail;
	for (uint32_t i = 1; i <= 2; i++) {
		uint8_t ctr[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		unsigned int n = 0;
		if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(md, z, 32) != 1 ||
		    EVP_DigestUpdate(md, ctr, sizeof(ctr)) != 1 ||
		    EVP_DigestUpdate(md, si, silen) != 1 ||
		    EVP_DigestFinal_ex(md, km + 32 * (i - 1), &n) != 1 || n != 32)
			goto fail;
	}
	memcpy(out->mcv, km, 16);
	memcpy(out->s_enc, km + 16, 16);
	memcpy(out->s_mac, km + 32, 16);
	out->counter = 1;
	rc = 0;
fail:
	OPENSSL_cleanse(km, sizeof(km));
	EVP_MD_CTX_free(md);
	return rc;
}

/* DER length octets of n (n <= DER_MAX_LEN). Returns the octet count. */
static size_t
put_der_len(uint8_t out[5], size_t n)
{
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		return 1;
	}
	size_t k = 0;
	for (size_t v = n; v != 0; v >>= 8)
		k++;
	out[0] = (uint8_t)(0x80 | k);
	for (size_t i = 0; i < k; i++)
		out[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	return 1 + k;
}

/* AES-CMAC(S-MAC, MCV || hdr || data) -> mac[16]. */
static int
cmac(const bsp_keys *k, const uint8_t *hdr, size_t hdrlen, const uint8_t *data, size_t len,
    uint8_t mac[16])
{
	int rc = TS_ECRYPTO;
	EVP_MAC *alg = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t maclen = 0;
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	if ((alg = EVP_MAC_fetch(NULL, "CMAC", NULL)) == NULL)
		goto fail;
	if ((ctx = EVP_MAC_CTX_new(alg)) == NULL)
		goto fail;
	if (EVP_MAC_init(ctx, k->s_mac, sizeof(k->s_mac), params) != 1)
		goto fail;
	if (EVP_MAC_update(ctx, k->mcv, sizeof(k->mcv)) != 1 ||
	    EVP_MAC_update(ctx, hdr, hdrlen) != 1 ||
	    (len > 0 && EVP_MAC_update(ctx, data, len) != 1))
		goto fail;
	if (EVP_MAC_final(ctx, mac, &maclen, 16) != 1 || maclen != 16)
		goto fail;
	rc = 0;
fail:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	return rc;
}

/* IV = AES-ECB(S-ENC, counter as a 16-byte big-endian block). */
static int
make_iv(const bsp_keys *k, uint8_t iv[BSP_BLOCK])
{
	int rc = TS_ECRYPTO;
	uint8_t blk[BSP_BLOCK] = { 0 };
	int n1 = 0, n2 = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	for (int i = 0; i < 8; i++)
		blk[BSP_BLOCK - 1 - i] = (uint8_t)(k->counter >> (8 * i));
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, k->s_enc, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, iv, &n1, blk, BSP_BLOCK) != 1 ||
	    EVP_EncryptFinal_ex(ctx, iv + n1, &n2) != 1 || n1 + n2 != BSP_BLOCK)
		goto fail;
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* AES-128-CBC without OpenSSL padding (we pad 80 00.. ourselves); len is a
 * multiple of 16. */
static int
cbc(const bsp_keys *k, int enc, const uint8_t *in, size_t len, uint8_t *out)
{
	int rc = TS_ECRYPTO;
	uint8_t iv[BSP_BLOCK];
	int n1 = 0, n2 = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	if (len % BSP_BLOCK != 0 || len > BSP_SEG_MAX + BSP_BLOCK)
		return TS_EINVAL;
	if ((rc = make_iv(k, iv)) != 0)
		return rc;
	rc = TS_ECRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, k->s_enc, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n1, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1 || (size_t)(n1 + n2) != len)
		goto fail;
	rc = 0;
fail:
	OPENSSL_cleanse(iv, sizeof(iv));
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
bsp_seg_wrap(bsp_keys *k, uint8_t tag, const uint8_t *pt, size_t len,
    uint8_t **out, size_t *outlen)
{
	int rc;
	uint8_t *seg = NULL;
	uint8_t hdr[6];
	uint8_t mac[16];
	size_t hdrlen, datalen;
	if (k == NULL || (pt == NULL && len > 0) || out == NULL || outlen == NULL)
		return TS_EINVAL;
	if (tag != BSP_TAG_ENC && tag != BSP_TAG_MAC)
		return TS_EINVAL;
	if (len > BSP_SEG_MAX)
		return TS_ELIMIT;
	/* Encrypted: padding 80 00.. always adds 1..16 bytes. */
	datalen = tag == BSP_TAG_ENC ? (len / BSP_BLOCK + 1) * BSP_BLOCK : len;
	hdr[0] = tag;
	hdrlen = 1 + put_der_len(hdr + 1, datalen + BSP_MAC_LEN);
	if ((seg = malloc(hdrlen + datalen + BSP_MAC_LEN)) == NULL)
		return TS_ENOMEM;
	memcpy(seg, hdr, hdrlen);
	uint8_t *data = seg + hdrlen;
	if (tag == BSP_TAG_ENC) {
		uint8_t padded[BSP_SEG_MAX + BSP_BLOCK];
		if (len > 0)
			memcpy(padded, pt, len);
		padded[len] = 0x80;
		memset(padded + len + 1, 0, datalen - len - 1);
		rc = cbc(k, 1, padded, datalen, data);
		OPENSSL_cleanse(padded, datalen);
		if (rc != 0)
			goto fail;
	} else if (len > 0) {
		memcpy(data, pt, len);
	}
	if ((rc = cmac(k, hdr, hdrlen, data, datalen, mac)) != 0)
		goto fail;
	memcpy(data + datalen, mac, BSP_MAC_LEN);
	memcpy(k->mcv, mac, sizeof(k->mcv));
	/* SGP.22 §2.6.4.4: the block counter of the ICV advances for every
	 * segment, MAC-only ones included. */
	k->counter++;
	*out = seg;
	*outlen = hdrlen + datalen + BSP_MAC_LEN;
	seg = NULL;
	rc = 0;
fail:
	free(seg);
	return rc;
}

int
bsp_seg_unwrap(bsp_keys *k, const uint8_t *seg, size_t len, uint8_t **pt, size_t *ptlen)
{
	int rc;
	der_tlv t;
	uint8_t mac[16];
	uint8_t *plain = NULL;
	size_t datalen, n;
	if (k == NULL || seg == NULL || pt == NULL || ptlen == NULL)
		return TS_EINVAL;
	if ((rc = der_read_one(seg, len, &t)) != 0)
		return rc == TS_EAGAIN ? TS_EPARSE : rc;
	if (t.tag != BSP_TAG_ENC && t.tag != BSP_TAG_MAC)
		return TS_EPARSE;
	if (t.len < BSP_MAC_LEN)
		return TS_EPARSE;
	datalen = t.len - BSP_MAC_LEN;
	if (t.tag == BSP_TAG_ENC) {
		if (datalen == 0 || datalen % BSP_BLOCK != 0 || datalen > BSP_SEG_MAX + BSP_BLOCK)
			return TS_EPARSE;
	} else if (datalen > BSP_SEG_MAX) {
		return TS_ELIMIT;
	}
	/* MAC first: nothing is decrypted or returned before it checks out. */
	if ((rc = cmac(k, seg, t.hdr_len, t.val, datalen, mac)) != 0)
		return rc;
	if (CRYPTO_memcmp(mac, t.val + datalen, BSP_MAC_LEN) != 0)
		return TS_EVERIFY;
	if ((plain = malloc(datalen + 1)) == NULL)
		return TS_ENOMEM;
	if (t.tag == BSP_TAG_ENC) {
		if ((rc = cbc(k, 0, t.val, datalen, plain)) != 0)
			goto fail;
		/* Padding 80 00..: 1..16 bytes, all inside the last block. */
		n = datalen;
		while (n > datalen - BSP_BLOCK && plain[n - 1] == 0x00)
			n--;
		if (n == datalen - BSP_BLOCK || plain[n - 1] != 0x80) {
			rc = TS_EVERIFY;
			goto fail;
		}
		n--;
		if (n > BSP_SEG_MAX) {
			rc = TS_ELIMIT;
			goto fail;
		}
	} else {
		n = datalen;
		if (n > 0)
			memcpy(plain, t.val, n);
	}
	memcpy(k->mcv, mac, sizeof(k->mcv));
	k->counter++; /* for MAC-only segments too (SGP.22 §2.6.4.4) */
	*pt = plain;
	*ptlen = n;
	plain = NULL;
	rc = 0;
fail:
	if (plain != NULL)
		OPENSSL_cleanse(plain, datalen);
	free(plain);
	return rc;
}

/* ---- package ------------------------------------------------------------ */

/* The children of BF23 up to and including 5F49 (what the signature covers
 * before the eUICC otPK is appended). */
static int
encode_init_sc_body(const uint8_t *tid, size_t tid_len, const uint8_t *host_id,
    size_t host_id_len, const uint8_t otpk[PKI_PUBKEY_LEN], uint8_t **out, size_t *outlen)
{
	der_writer w;
	const uint8_t key_type = BSP_KEY_TYPE_AES, key_len = BSP_KEY_LEN;
	der_writer_init(&w);
	der_put_uint(&w, TAG_REMOTE_OP, BSP_REMOTE_OP_INSTALL);
	der_put(&w, TAG_TID, tid, tid_len);
	der_begin(&w, TAG_CRT);
	der_put(&w, TAG_CRT_KEY_TYPE, &key_type, 1);
	der_put(&w, TAG_CRT_KEY_LEN, &key_len, 1);
	der_put(&w, TAG_CRT_HOST_ID, host_id, host_id_len);
	der_end(&w);
	der_put(&w, TAG_OTPK, otpk, PKI_PUBKEY_LEN);
	int rc = der_writer_finish(&w, out, outlen);
	der_writer_clear(&w);
	return rc;
}

/* body || 5F49 41 euiccOtpk, the bytes smdpSign covers (SGP.22 §5.5.1: the
 * data objects remoteOpId .. smdpOtpk, then the eUICC's one-time key as a
 * 5F49 data object). */
static int
signed_data(const uint8_t *body, size_t bodylen, const uint8_t euicc_otpk[PKI_PUBKEY_LEN],
    uint8_t **out, size_t *outlen)
{
	uint8_t *buf = malloc(bodylen + 3 + PKI_PUBKEY_LEN);
	if (buf == NULL)
		return TS_ENOMEM;
	memcpy(buf, body, bodylen);
	buf[bodylen] = 0x5F;
	buf[bodylen + 1] = 0x49;
	buf[bodylen + 2] = PKI_PUBKEY_LEN;
	memcpy(buf + bodylen + 3, euicc_otpk, PKI_PUBKEY_LEN);
	*out = buf;
	*outlen = bodylen + 3 + PKI_PUBKEY_LEN;
	return 0;
}

static int
put_segment(der_writer *w, bsp_keys *k, uint8_t tag, const uint8_t *pt, size_t len)
{
	uint8_t *seg = NULL;
	size_t seglen = 0;
	int rc = bsp_seg_wrap(k, tag, pt, len, &seg, &seglen);
	if (rc == 0)
		rc = der_put_raw(w, seg, seglen);
	free(seg);
	return rc;
}

int
bsp_package_build(const uint8_t *euicc_otpk, size_t otpk_len, const eid_t *eid,
    const uint8_t *transaction_id, size_t tid_len, const uint8_t *host_id, size_t host_id_len,
    EVP_PKEY *sign_key, const uint8_t *metadata, size_t mdlen,
    const uint8_t *payload, size_t plen, uint8_t **out, size_t *outlen)
{
	int rc;
	EVP_PKEY *otsk = NULL;
	uint8_t otpk[PKI_PUBKEY_LEN];
	uint8_t z[32];
	uint8_t sig[PKI_SIG_LEN];
	bsp_keys k;
	uint8_t *body = NULL, *tbs = NULL;
	size_t bodylen = 0, tbslen = 0;
	der_writer w;

	memset(&k, 0, sizeof(k));
	memset(z, 0, sizeof(z));
	der_writer_init(&w);
	if (euicc_otpk == NULL || eid == NULL || transaction_id == NULL || host_id == NULL ||
	    sign_key == NULL || (metadata == NULL && mdlen > 0) ||
	    (payload == NULL && plen > 0) || out == NULL || outlen == NULL)
		return TS_EINVAL;
	if (otpk_len != PKI_PUBKEY_LEN || tid_len == 0 || tid_len > BSP_TID_MAX ||
	    host_id_len == 0 || host_id_len > BSP_HOST_ID_MAX)
		return TS_EINVAL;
	if (mdlen > BSP_SEG_MAX || plen > BSP_MAX_PACKAGE)
		return TS_ELIMIT;

	if ((rc = pki_keygen(&otsk)) != 0)
		goto fail;
	if ((rc = pki_pubkey_to_point(otsk, otpk)) != 0)
		goto fail;
	if ((rc = bsp_ecdh(otsk, euicc_otpk, otpk_len, z)) != 0)
		goto fail;
	if ((rc = bsp_derive(z, host_id, host_id_len, eid, &k)) != 0)
		goto fail;
	if ((rc = encode_init_sc_body(transaction_id, tid_len, host_id, host_id_len, otpk,
	         &body, &bodylen)) != 0)
		goto fail;
	if ((rc = signed_data(body, bodylen, euicc_otpk, &tbs, &tbslen)) != 0)
		goto fail;
	if ((rc = pki_sign(sign_key, tbs, tbslen, sig)) != 0)
		goto fail;

	der_begin(&w, TAG_PACKAGE);
	der_begin(&w, TAG_INIT_SC);
	der_put_raw(&w, body, bodylen);
	der_put(&w, TAG_SIG, sig, sizeof(sig));
	der_end(&w);
	der_begin(&w, TAG_METADATA);
	if ((rc = put_segment(&w, &k, BSP_TAG_MAC, metadata, mdlen)) != 0)
		goto fail;
	der_end(&w);
	der_begin(&w, TAG_SEGMENTS);
	size_t off = 0;
	for (;;) {
		size_t n = plen - off < BSP_SEG_MAX ? plen - off : BSP_SEG_MAX;
		if ((rc = put_segment(&w, &k, BSP_TAG_ENC, n > 0 ? payload + off : NULL, n)) != 0)
			goto fail;
		off += n;
		if (n < BSP_SEG_MAX)
			break; /* the short (possibly empty) final segment */
	}
	der_end(&w);
	der_end(&w);
	if ((rc = der_writer_finish(&w, out, outlen)) != 0)
		goto fail;
	if (*outlen > BSP_MAX_PACKAGE + BSP_MAX_PACKAGE / 8) {
		/* Overhead is ~3 %: far above any real package; refuse rather than
		 * hand the SE something it will not accept. */
		free(*out);
		*out = NULL;
		rc = TS_ELIMIT;
		goto fail;
	}
	rc = 0;
fail:
	der_writer_clear(&w);
	bsp_keys_clear(&k);
	OPENSSL_cleanse(z, sizeof(z));
	free(body);
	free(tbs);
	EVP_PKEY_free(otsk);
	return rc;
}

/* Appends a decrypted segment to a growing buffer bounded by BSP_MAX_PACKAGE. */
static int
append(uint8_t **buf, size_t *len, const uint8_t *data, size_t n)
{
	if (n == 0)
		return 0;
	if (*len + n > BSP_MAX_PACKAGE)
		return TS_ELIMIT;
	uint8_t *nb = realloc(*buf, *len + n);
	if (nb == NULL)
		return TS_ENOMEM;
	memcpy(nb + *len, data, n);
	*buf = nb;
	*len += n;
	return 0;
}

int
bsp_package_open(EVP_PKEY *euicc_otsk, const eid_t *eid, EVP_PKEY *server_pub,
    const uint8_t *expected_tid, size_t tid_len,
    const uint8_t *pkg, size_t len,
    uint8_t **metadata, size_t *mdlen, uint8_t **payload, size_t *plen)
{
	int rc;
	der_tlv top, isc, t, crt, tid, host, otpk, sig, a1, a3;
	der_iter it, in, c;
	uint8_t own_otpk[PKI_PUBKEY_LEN];
	uint8_t z[32];
	bsp_keys k;
	uint8_t *tbs = NULL, *md = NULL, *pl = NULL, *seg = NULL;
	size_t tbslen = 0, mdl = 0, pll = 0, segl = 0;
	uint64_t v;

	memset(&k, 0, sizeof(k));
	memset(z, 0, sizeof(z));
	if (euicc_otsk == NULL || eid == NULL || server_pub == NULL || expected_tid == NULL ||
	    pkg == NULL || metadata == NULL || mdlen == NULL || payload == NULL || plen == NULL)
		return TS_EINVAL;
	*metadata = *payload = NULL;
	*mdlen = *plen = 0;
	if (len > BSP_MAX_PACKAGE + BSP_MAX_PACKAGE / 8)
		return TS_ELIMIT;

	/* Structure: BF36 { BF23 {...} A1 {88} A3 {86...} }, nothing else. */
	if ((rc = der_read_one(pkg, len, &top)) != 0) {
		rc = rc == TS_EAGAIN ? TS_EPARSE : rc;
		goto fail;
	}
	rc = TS_EPARSE;
	if (top.tag != TAG_PACKAGE)
		goto fail;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_INIT_SC, &isc)) != 0 ||
	    (rc = der_iter_expect(&it, TAG_METADATA, &a1)) != 0 ||
	    (rc = der_iter_expect(&it, TAG_SEGMENTS, &a3)) != 0 || (rc = der_iter_end(&it)) != 0)
		goto fail;

	/* BF23 { 82 01 | 80 tid | A6 { 80 88, 81 10, 84 host } | 5F49 otPK | 5F37 sig } */
	der_iter_init(&in, isc.val, isc.len);
	if ((rc = der_iter_expect(&in, TAG_REMOTE_OP, &t)) != 0)
		goto fail;
	rc = TS_EPARSE;
	if (t.len != 1 || t.val[0] != BSP_REMOTE_OP_INSTALL)
		goto fail;
	if ((rc = der_iter_expect(&in, TAG_TID, &tid)) != 0 || (rc = der_iter_expect(&in, TAG_CRT, &crt)) != 0 ||
	    (rc = der_iter_expect(&in, TAG_OTPK, &otpk)) != 0)
		goto fail;
	size_t body_len = (size_t)(otpk.val + otpk.len - isc.val);
	if ((rc = der_iter_expect(&in, TAG_SIG, &sig)) != 0 || (rc = der_iter_end(&in)) != 0)
		goto fail;
	rc = TS_EPARSE;
	if (tid.len == 0 || tid.len > BSP_TID_MAX || otpk.len != PKI_PUBKEY_LEN ||
	    sig.len != PKI_SIG_LEN)
		goto fail;
	der_iter_init(&c, crt.val, crt.len);
	if ((rc = der_iter_expect(&c, TAG_CRT_KEY_TYPE, &t)) != 0)
		goto fail;
	if (der_get_uint(&t, &v) != 0 || t.len != 1 || v != BSP_KEY_TYPE_AES) {
		rc = TS_EUNSUPP;
		goto fail;
	}
	if ((rc = der_iter_expect(&c, TAG_CRT_KEY_LEN, &t)) != 0)
		goto fail;
	if (der_get_uint(&t, &v) != 0 || t.len != 1 || v != BSP_KEY_LEN) {
		rc = TS_EUNSUPP;
		goto fail;
	}
	if ((rc = der_iter_expect(&c, TAG_CRT_HOST_ID, &host)) != 0 || (rc = der_iter_end(&c)) != 0)
		goto fail;
	if (host.len == 0 || host.len > BSP_HOST_ID_MAX) {
		rc = TS_EPARSE;
		goto fail;
	}

	/* smdpSign over BF23's children 82..5F49 || 5F49 our own otPK. */
	if ((rc = pki_pubkey_to_point(euicc_otsk, own_otpk)) != 0)
		goto fail;
	if ((rc = signed_data(isc.val, body_len, own_otpk, &tbs, &tbslen)) != 0)
		goto fail;
	if ((rc = pki_verify(server_pub, tbs, tbslen, sig.val)) != 0)
		goto fail;
	/* A validly signed package for another session is still refused. */
	if (tid.len != tid_len || CRYPTO_memcmp(tid.val, expected_tid, tid_len) != 0) {
		rc = TS_EVERIFY;
		goto fail;
	}

	if ((rc = bsp_ecdh(euicc_otsk, otpk.val, otpk.len, z)) != 0)
		goto fail;
	if ((rc = bsp_derive(z, host.val, host.len, eid, &k)) != 0)
		goto fail;

	/* A1: exactly one MAC-only segment. */
	der_iter_init(&c, a1.val, a1.len);
	if ((rc = der_iter_expect(&c, BSP_TAG_MAC, &t)) != 0 || (rc = der_iter_end(&c)) != 0)
		goto fail;
	if ((rc = bsp_seg_unwrap(&k, t.val - t.hdr_len, t.hdr_len + t.len, &md, &mdl)) != 0)
		goto fail;

	/* A3: full segments, then one short final segment (see the top comment). */
	der_iter_init(&c, a3.val, a3.len);
	int last_short = 0;
	for (;;) {
		int more = der_iter_next(&c, &t);
		if (more < 0) {
			rc = more;
			goto fail;
		}
		if (more == 0)
			break;
		if (last_short || t.tag != BSP_TAG_ENC) {
			rc = TS_EPARSE; /* a segment after the final one, or a foreign tag */
			goto fail;
		}
		if ((rc = bsp_seg_unwrap(&k, t.val - t.hdr_len, t.hdr_len + t.len, &seg, &segl)) != 0)
			goto fail;
		rc = append(&pl, &pll, seg, segl);
		OPENSSL_cleanse(seg, segl);
		free(seg);
		seg = NULL;
		if (rc != 0)
			goto fail;
		last_short = segl < BSP_SEG_MAX;
	}
	if (!last_short) {
		rc = TS_EVERIFY; /* truncated: the final short segment is missing */
		goto fail;
	}
	if (pl == NULL && (pl = malloc(1)) == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	*metadata = md;
	*mdlen = mdl;
	*payload = pl;
	*plen = pll;
	md = pl = NULL;
	rc = 0;
fail:
	bsp_keys_clear(&k);
	OPENSSL_cleanse(z, sizeof(z));
	free(tbs);
	free(md);
	if (pl != NULL)
		OPENSSL_cleanse(pl, pll);
	free(pl);
	return rc;
}
