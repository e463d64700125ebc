/*
 * bsp.c — package binding (GSMA SGP.22 BSP, ex-SCP03t); contract in bsp.h.
 *
 * The eUICC side is a loader fed one command at a time (bsp_loader_feed):
 * a pure state machine over the items of the package in their order, with
 * the current sequence's plaintext as its only growing state. The whole
 * package at once (bsp_package_open) is the same loader fed once.
 */
#include "lib/bsp.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "lib/der.h"
#include "lib/es10.h"
#include "lib/ossl.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define BSP_TAG_ENC 0x86
#define BSP_TAG_ENC87 0x87
#define BSP_TAG_MAC 0x88
#define BSP_BLOCK 16
#define BSP_KEY_TYPE_AES 0x88
#define BSP_KEY_LEN 0x10
#define BSP_HOST_ID_MAX 255 /* LV(host id) has a one-byte length */
#define BSP_HOST_ID_SPEC_MAX 16 /* hostId OctetTo16 (ControlRefTemplate) */
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
#define TAG_SEQ87_1 0xA0 /* firstSequenceOf87 */
#define TAG_SEQ88 0xA1   /* sequenceOf88 */
#define TAG_SEQ87_2 0xA2 /* secondSequenceOf87 */
#define TAG_SEQ86 0xA3   /* sequenceOf86 */
#define TAG_CONFIGURE_ISDP 0xBF24
#define TAG_DP_PROPRIETARY 0xB8
#define TAG_RSK 0xBF26
#define DP_PROPRIETARY_MAX 128 /* with tag and length (§5.5.2) */

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
	/* 0: pki_pubkey_from_point validated the point (on the curve); OpenSSL's
	 * own check would repeat it with a scalar multiplication per download. */
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1)
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
		if (EVP_DigestInit_ex(md, ts_ossl_sha256(), NULL) != 1 ||
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

/* CMAC with its cipher, fetched and set up once per process (issue 9: a
 * provider look-up per segment); each call works on a copy. */
static pthread_once_t cmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC_CTX *cmac_proto;

static void
cmac_setup(void)
{
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = alg != NULL ? EVP_MAC_CTX_new(alg) : NULL;
	EVP_MAC_free(alg); /* the context holds its own reference */
	/* keyed (with zeros): OpenSSL copies only a CMAC context that has a
	 * key; each call's EVP_MAC_init sets its own */
	static const uint8_t zero[16];
	if (ctx != NULL && EVP_MAC_init(ctx, zero, sizeof(zero), params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	cmac_proto = ctx;
}

/* AES-CMAC(S-MAC, MCV || hdr || data) -> mac[16]. */
static int
cmac(const bsp_keys *k, const uint8_t *hdr, size_t hdrlen, const uint8_t *data, size_t len,
    uint8_t mac[16])
{
	int rc = TS_ECRYPTO;
	EVP_MAC_CTX *ctx = NULL;
	size_t maclen = 0;
	if (pthread_once(&cmac_once, cmac_setup) != 0 || cmac_proto == NULL)
		return TS_ECRYPTO;
	if ((ctx = EVP_MAC_CTX_dup(cmac_proto)) == NULL)
		goto fail;
	if (EVP_MAC_init(ctx, k->s_mac, sizeof(k->s_mac), NULL) != 1)
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
	if (EVP_EncryptInit_ex(ctx, ts_ossl_aes128_ecb(), NULL, k->s_enc, NULL) != 1 ||
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
	if (EVP_CipherInit_ex(ctx, ts_ossl_aes128_cbc(), NULL, k->s_enc, iv, enc) != 1 ||
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
	if (tag != BSP_TAG_ENC && tag != BSP_TAG_ENC87 && tag != BSP_TAG_MAC)
		return TS_EINVAL;
	if (len > (tag == BSP_TAG_MAC ? BSP_SEG_MAX_MAC : BSP_SEG_MAX))
		return TS_ELIMIT;
	/* Encrypted: padding 80 00.. always adds 1..16 bytes. */
	datalen = tag != BSP_TAG_MAC ? (len / BSP_BLOCK + 1) * BSP_BLOCK : len;
	hdr[0] = tag;
	hdrlen = 1 + put_der_len(hdr + 1, datalen + BSP_MAC_LEN);
	if ((seg = malloc(hdrlen + datalen + BSP_MAC_LEN)) == NULL)
		return TS_ENOMEM;
	memcpy(seg, hdr, hdrlen);
	uint8_t *data = seg + hdrlen;
	if (tag != BSP_TAG_MAC) {
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
	if (t.tag != BSP_TAG_ENC && t.tag != BSP_TAG_ENC87 && t.tag != BSP_TAG_MAC)
		return TS_EPARSE;
	if (t.len < BSP_MAC_LEN)
		return TS_EPARSE;
	/* §2.5.3: a segment is at most 1020 bytes with its tag and length. */
	if (t.hdr_len + t.len > BSP_SEG_TLV_MAX)
		return TS_ELIMIT;
	datalen = t.len - BSP_MAC_LEN;
	if (t.tag != BSP_TAG_MAC && (datalen == 0 || datalen % BSP_BLOCK != 0))
		return TS_EPARSE;
	/* MAC first: nothing is decrypted or returned before it checks out. */
	if ((rc = cmac(k, seg, t.hdr_len, t.val, datalen, mac)) != 0)
		return rc;
	if (CRYPTO_memcmp(mac, t.val + datalen, BSP_MAC_LEN) != 0)
		return TS_EVERIFY;
	if ((plain = malloc(datalen + 1)) == NULL)
		return TS_ENOMEM;
	if (t.tag != BSP_TAG_MAC) {
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

/* ---- BF23 ----------------------------------------------------------------- */

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

/* ---- BF24, BF26 ------------------------------------------------------------ */

int
bsp_configure_isdp_encode(const uint8_t *dp_oid, size_t oid_len, uint8_t **out, size_t *len)
{
	der_writer w;
	if (out == NULL || len == NULL || (dp_oid == NULL && oid_len > 0))
		return TS_EINVAL;
	/* B8 { 80 dpOid }: AUTOMATIC TAGS give dpOid [0]; at most 128 bytes
	 * with tag and length. */
	if (dp_oid != NULL && (oid_len == 0 || oid_len > DP_PROPRIETARY_MAX - 4))
		return TS_ELIMIT;
	der_writer_init(&w);
	der_begin(&w, TAG_CONFIGURE_ISDP);
	if (dp_oid != NULL) {
		der_begin(&w, TAG_DP_PROPRIETARY);
		der_put(&w, 0x80, dp_oid, oid_len);
		der_end(&w);
	}
	der_end(&w);
	int rc = der_writer_finish(&w, out, len);
	der_writer_clear(&w);
	return rc;
}

int
bsp_configure_isdp_decode(const uint8_t *buf, size_t len, const uint8_t **dp_oid, size_t *oid_len)
{
	der_tlv top, t, oid;
	der_iter it, in;
	int rc;
	if (buf == NULL || dp_oid == NULL || oid_len == NULL)
		return TS_EINVAL;
	*dp_oid = NULL;
	*oid_len = 0;
	if ((rc = der_read_one(buf, len, &top)) != 0)
		return rc == TS_EAGAIN ? TS_EPARSE : rc;
	if (top.tag != TAG_CONFIGURE_ISDP)
		return TS_EPARSE;
	der_iter_init(&it, top.val, top.len);
	rc = der_iter_next(&it, &t);
	if (rc < 0)
		return rc;
	if (rc == 1 && t.tag == TAG_DP_PROPRIETARY) {
		if (t.hdr_len + t.len > DP_PROPRIETARY_MAX)
			return TS_ELIMIT;
		der_iter_init(&in, t.val, t.len);
		/* dpOid, then whatever the SM-DP+ adds ("additional data objects
		 * defined by the SM-DP+ MAY follow"). */
		if ((rc = der_iter_expect(&in, 0x80, &oid)) != 0)
			return rc;
		if (oid.len == 0 || (oid.val[oid.len - 1] & 0x80) != 0)
			return TS_EPARSE;
		while ((rc = der_iter_next(&in, &t)) == 1)
			;
		if (rc < 0)
			return rc;
		*dp_oid = oid.val;
		*oid_len = oid.len;
		rc = der_iter_next(&it, &t);
		if (rc < 0)
			return rc;
	}
	/* Extension additions (EXTENSIBILITY IMPLIED): well-formed, skipped. */
	while (rc == 1) {
		if (t.tag == TAG_DP_PROPRIETARY)
			return TS_EPARSE; /* twice, or after an addition */
		rc = der_iter_next(&it, &t);
	}
	return rc < 0 ? rc : 0;
}

int
bsp_rsk_encode(const bsp_keys *ppk, uint8_t **out, size_t *len)
{
	der_writer w;
	if (ppk == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	der_writer_init(&w);
	der_begin(&w, TAG_RSK);
	der_put(&w, 0x80, ppk->mcv, sizeof(ppk->mcv));
	der_put(&w, 0x81, ppk->s_enc, sizeof(ppk->s_enc));
	der_put(&w, 0x82, ppk->s_mac, sizeof(ppk->s_mac));
	der_end(&w);
	int rc = der_writer_finish(&w, out, len);
	der_writer_clear(&w);
	return rc;
}

int
bsp_rsk_decode(const uint8_t *buf, size_t len, bsp_keys *ppk)
{
	der_tlv top, t;
	der_iter it;
	int rc;
	uint8_t *dst[3];
	if (buf == NULL || ppk == NULL)
		return TS_EINVAL;
	memset(ppk, 0, sizeof(*ppk));
	dst[0] = ppk->mcv;
	dst[1] = ppk->s_enc;
	dst[2] = ppk->s_mac;
	if ((rc = der_read_one(buf, len, &top)) != 0)
		return rc == TS_EAGAIN ? TS_EPARSE : rc;
	if (top.tag != TAG_RSK)
		return TS_EPARSE;
	der_iter_init(&it, top.val, top.len);
	for (uint32_t i = 0; i < 3; i++) {
		if ((rc = der_iter_expect(&it, 0x80 + i, &t)) != 0)
			goto fail;
		if (t.len != 16) {
			rc = TS_EUNSUPP; /* AES-128 keys only (the CRT's keyLen) */
			goto fail;
		}
		memcpy(dst[i], t.val, 16);
	}
	while ((rc = der_iter_next(&it, &t)) == 1)
		; /* extension additions */
	if (rc < 0)
		goto fail;
	ppk->counter = 1;
	return 0;
fail:
	bsp_keys_clear(ppk);
	return rc;
}

/* ---- SM-DP+ side ---------------------------------------------------------- */

void
bsp_server_clear(bsp_server *s)
{
	if (s == NULL)
		return;
	bsp_keys_clear(&s->k);
	free(s->bf23);
	s->bf23 = NULL;
	s->bf23_len = 0;
}

int
bsp_server_start(bsp_server *s, const uint8_t *euicc_otpk, size_t otpk_len, const eid_t *eid,
    const uint8_t *transaction_id, size_t tid_len, const uint8_t *host_id, size_t host_id_len,
    EVP_PKEY *sign_key)
{
	int rc;
	EVP_PKEY *otsk = NULL;
	uint8_t otpk[PKI_PUBKEY_LEN];
	uint8_t z[32];
	uint8_t sig[PKI_SIG_LEN];
	uint8_t *body = NULL, *tbs = NULL;
	size_t bodylen = 0, tbslen = 0;
	der_writer w;

	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	memset(z, 0, sizeof(z));
	der_writer_init(&w);
	if (euicc_otpk == NULL || eid == NULL || transaction_id == NULL || host_id == NULL ||
	    sign_key == NULL)
		return TS_EINVAL;
	if (otpk_len != PKI_PUBKEY_LEN || tid_len == 0 || tid_len > BSP_TID_MAX ||
	    host_id_len == 0 || host_id_len > BSP_HOST_ID_SPEC_MAX)
		return TS_EINVAL;
	if ((rc = pki_keygen(&otsk)) != 0 || (rc = pki_pubkey_to_point(otsk, otpk)) != 0 ||
	    (rc = bsp_ecdh(otsk, euicc_otpk, otpk_len, z)) != 0 ||
	    (rc = bsp_derive(z, host_id, host_id_len, eid, &s->k)) != 0 ||
	    (rc = encode_init_sc_body(transaction_id, tid_len, host_id, host_id_len, otpk, &body,
	         &bodylen)) != 0 ||
	    (rc = signed_data(body, bodylen, euicc_otpk, &tbs, &tbslen)) != 0 ||
	    (rc = pki_sign(sign_key, tbs, tbslen, sig)) != 0)
		goto fail;
	der_begin(&w, TAG_INIT_SC);
	der_put_raw(&w, body, bodylen);
	der_put(&w, TAG_SIG, sig, sizeof(sig));
	der_end(&w);
	rc = der_writer_finish(&w, &s->bf23, &s->bf23_len);
fail:
	if (rc != 0)
		bsp_server_clear(s);
	der_writer_clear(&w);
	OPENSSL_cleanse(z, sizeof(z));
	free(body);
	free(tbs);
	EVP_PKEY_free(otsk);
	return rc;
}

int
bsp_put_sequence(der_writer *w, bsp_keys *k, uint32_t ctag, uint8_t tag, const uint8_t *data,
    size_t len)
{
	size_t max = tag == BSP_TAG_MAC ? BSP_SEG_MAX_MAC : BSP_SEG_MAX;
	int rc;
	if (w == NULL || k == NULL || (data == NULL && len > 0))
		return TS_EINVAL;
	if ((rc = der_begin(w, ctag)) != 0)
		return rc;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < max ? len - off : max;
		uint8_t *seg = NULL;
		size_t seglen = 0;
		if ((rc = bsp_seg_wrap(k, tag, data + off, n, &seg, &seglen)) != 0)
			return rc;
		rc = der_put_raw(w, seg, seglen);
		OPENSSL_cleanse(seg, seglen);
		free(seg);
		if (rc != 0)
			return rc;
		off += n;
	}
	return der_end(w);
}

int
bsp_package_build_ex(const bsp_build_args *a, uint8_t **out, size_t *outlen)
{
	int rc;
	bsp_server s;
	bsp_keys ppk;
	uint8_t *ci = NULL, *rsk = NULL;
	size_t ci_len = 0, rsk_len = 0;
	der_writer w;

	memset(&s, 0, sizeof(s));
	memset(&ppk, 0, sizeof(ppk));
	der_writer_init(&w);
	if (a == NULL || out == NULL || outlen == NULL || a->metadata == NULL || a->md_len == 0 ||
	    (a->payload == NULL && a->plen > 0))
		return TS_EINVAL;
	if (a->md_len > BSP_SEQ_MAX || a->plen > BSP_MAX_PACKAGE)
		return TS_ELIMIT;
	if ((rc = bsp_server_start(&s, a->euicc_otpk, a->otpk_len, a->eid, a->tid, a->tid_len,
	         a->host_id, a->host_id_len, a->sign_key)) != 0)
		goto fail;
	if (a->configure_isdp == NULL && (rc = bsp_configure_isdp_encode(NULL, 0, &ci, &ci_len)) != 0)
		goto fail;
	der_begin(&w, TAG_PACKAGE);
	der_put_raw(&w, s.bf23, s.bf23_len);
	if ((rc = bsp_put_sequence(&w, &s.k, TAG_SEQ87_1, BSP_TAG_ENC87,
	         a->configure_isdp != NULL ? a->configure_isdp : ci,
	         a->configure_isdp != NULL ? a->ci_len : ci_len)) != 0 ||
	    (rc = bsp_put_sequence(&w, &s.k, TAG_SEQ88, BSP_TAG_MAC, a->metadata, a->md_len)) != 0)
		goto fail;
	bsp_keys *pk = &s.k;
	if (a->replace_keys) {
		/* The profile protection keys: random, used for this package only
		 * (a pre-protected profile would bring its own). */
		if (ts_random(ppk.mcv, sizeof(ppk.mcv)) != 0 || ts_random(ppk.s_enc, 16) != 0 ||
		    ts_random(ppk.s_mac, 16) != 0) {
			rc = TS_ECRYPTO;
			goto fail;
		}
		ppk.counter = 1;
		if ((rc = bsp_rsk_encode(&ppk, &rsk, &rsk_len)) != 0 ||
		    (rc = bsp_put_sequence(&w, &s.k, TAG_SEQ87_2, BSP_TAG_ENC87, rsk, rsk_len)) != 0)
			goto fail;
		pk = &ppk;
	}
	if ((rc = bsp_put_sequence(&w, pk, TAG_SEQ86, BSP_TAG_ENC, a->payload, a->plen)) != 0)
		goto fail;
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
	bsp_server_clear(&s);
	bsp_keys_clear(&ppk);
	if (rsk != NULL)
		OPENSSL_cleanse(rsk, rsk_len);
	free(rsk);
	free(ci);
	return rc;
}

int
bsp_package_build(const uint8_t *euicc_otpk, size_t otpk_len, const eid_t *eid,
    const uint8_t *transaction_id, size_t tid_len, const uint8_t *host_id, size_t host_id_len,
    EVP_PKEY *sign_key, const uint8_t *metadata, size_t mdlen,
    const uint8_t *payload, size_t plen, uint8_t **out, size_t *outlen)
{
	bsp_build_args a;
	memset(&a, 0, sizeof(a));
	a.euicc_otpk = euicc_otpk;
	a.otpk_len = otpk_len;
	a.eid = eid;
	a.tid = transaction_id;
	a.tid_len = tid_len;
	a.host_id = host_id;
	a.host_id_len = host_id_len;
	a.sign_key = sign_key;
	a.metadata = metadata;
	a.md_len = mdlen;
	a.payload = payload;
	a.plen = plen;
	return bsp_package_build_ex(&a, out, outlen);
}

/* ---- item headers ----------------------------------------------------------- */

/* Tag (1..3 identifier octets) and minimal DER length of the item at p, with
 * only n bytes available: the value may lie beyond them. 0, TS_EAGAIN (the
 * header itself is cut) or TS_EPARSE. */
static int
hdr_read(const uint8_t *p, size_t n, uint32_t *tag, size_t *len, size_t *hl)
{
	size_t i = 0;
	uint32_t t;
	if (n == 0)
		return TS_EAGAIN;
	t = p[i++];
	if ((t & 0x1F) == 0x1F) {
		for (int k = 0;; k++) {
			if (i == n)
				return TS_EAGAIN;
			if (k == 2 || (k == 0 && (p[i] & 0x7F) == 0))
				return TS_EPARSE; /* too long, or not minimal */
			t = t << 8 | p[i];
			if ((p[i++] & 0x80) == 0)
				break;
		}
	}
	if (i == n)
		return TS_EAGAIN;
	size_t l = p[i++];
	if (l & 0x80) {
		size_t k = l & 0x7F;
		if (k == 0 || k > 3)
			return TS_EPARSE;
		if (n - i < k)
			return TS_EAGAIN;
		l = 0;
		for (size_t j = 0; j < k; j++)
			l = l << 8 | p[i++];
		if (l < 0x80 || (k > 1 && l >> (8 * (k - 1)) == 0))
			return TS_EPARSE;
	}
	*tag = t;
	*len = l;
	*hl = i;
	return 0;
}

/* ---- LPA side ---------------------------------------------------------------- */

static int
cmds_add(bsp_cmd **v, size_t *n, size_t *cap, size_t off, size_t len)
{
	if (*n == *cap) {
		size_t nc = *cap == 0 ? 16 : *cap * 2;
		bsp_cmd *nv = realloc(*v, nc * sizeof(*nv));
		if (nv == NULL)
			return TS_ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n].off = off;
	(*v)[*n].len = len;
	(*n)++;
	return 0;
}

int
bsp_split(const uint8_t *pkg, size_t len, bsp_cmd **cmds, size_t *n)
{
	der_tlv top, t, c;
	der_iter it, in;
	bsp_cmd *v = NULL;
	size_t nv = 0, cap = 0;
	int rc;
	if (pkg == NULL || cmds == NULL || n == NULL)
		return TS_EINVAL;
	*cmds = NULL;
	*n = 0;
	if ((rc = der_read_one(pkg, len, &top)) != 0)
		return rc == TS_EAGAIN ? TS_EPARSE : rc;
	if (top.tag != TAG_PACKAGE)
		return TS_EPARSE;
	der_iter_init(&it, top.val, top.len);
	if ((rc = der_iter_expect(&it, TAG_INIT_SC, &t)) != 0)
		return rc;
	/* BF36 tag and length with the whole BF23. */
	if ((rc = cmds_add(&v, &nv, &cap, 0, (size_t)(t.val + t.len - pkg))) != 0)
		goto fail;
	/* The order of the sequences is the eUICC's to check: an LPA only
	 * transports them. */
	while ((rc = der_iter_next(&it, &t)) == 1) {
		if (t.tag < TAG_SEQ87_1 || t.tag > TAG_SEQ86) {
			rc = TS_EPARSE;
			goto fail;
		}
		size_t hoff = (size_t)(t.val - t.hdr_len - pkg);
		/* A0 / A2: the header travels with the first 87; A1 / A3: alone. */
		int with_first = t.tag == TAG_SEQ87_1 || t.tag == TAG_SEQ87_2;
		der_iter_init(&in, t.val, t.len);
		int first = 1;
		while ((rc = der_iter_next(&in, &c)) == 1) {
			size_t coff = (size_t)(c.val - c.hdr_len - pkg), clen = c.hdr_len + c.len;
			if (first && with_first)
				rc = cmds_add(&v, &nv, &cap, hoff, coff + clen - hoff);
			else if (first && (rc = cmds_add(&v, &nv, &cap, hoff, t.hdr_len)) == 0)
				rc = cmds_add(&v, &nv, &cap, coff, clen);
			else
				rc = cmds_add(&v, &nv, &cap, coff, clen);
			if (rc != 0)
				goto fail;
			first = 0;
		}
		if (rc < 0)
			goto fail;
		if (first && (rc = cmds_add(&v, &nv, &cap, hoff, t.hdr_len)) != 0)
			goto fail; /* an empty sequence: its header alone */
	}
	if (rc < 0)
		goto fail;
	*cmds = v;
	*n = nv;
	return 0;
fail:
	free(v);
	return rc;
}

/* ---- eUICC side ------------------------------------------------------------ */

enum {
	L_IDLE = 0,
	L_BF36, /* BF36 tag and length */
	L_BF23, /* the whole BF23 */
	L_A0,   /* A0 tag and length */
	L_87A,  /* the 87s of A0 */
	L_A1,
	L_88,
	L_A2A3, /* A2 (optional) or A3 */
	L_87B,  /* the 87s of A2 */
	L_A3,
	L_86,
	L_DONE,
	L_FAILED,
};

/* The BppCommandId the eUICC is at in a stage (ES10_BPP_*): the command
 * that failed, or the one expected when the sequence broke. */
static int
stage_cmd(int stage, uint32_t tag)
{
	switch (stage) {
	case L_IDLE:
	case L_BF36:
	case L_BF23: return ES10_BPP_INITIALISE_SECURE_CHANNEL;
	case L_A0:
	case L_87A: return ES10_BPP_CONFIGURE_ISDP;
	case L_A1:
	case L_88: return ES10_BPP_STORE_METADATA;
	case L_A2A3: return tag == TAG_SEQ87_2 ? ES10_BPP_REPLACE_SESSION_KEYS : ES10_BPP_LOAD_PROFILE_ELEMENTS;
	case L_87B: return ES10_BPP_REPLACE_SESSION_KEYS;
	default: return ES10_BPP_LOAD_PROFILE_ELEMENTS;
	}
}

static void
loader_wipe(bsp_loader *l)
{
	bsp_keys_clear(&l->k);
	if (l->buf != NULL) {
		OPENSSL_cleanse(l->buf, l->buf_cap);
		free(l->buf);
	}
	l->buf = NULL;
	l->buf_len = l->buf_cap = 0;
	l->otsk = l->server_pub = NULL;
	l->eid = NULL;
}

static int
loader_fail(bsp_loader *l, int cmd, int reason)
{
	loader_wipe(l);
	l->stage = L_FAILED;
	l->cmd = cmd;
	l->reason = reason;
	return BSP_LOAD_FAILED;
}

void
bsp_loader_clear(bsp_loader *l)
{
	if (l == NULL)
		return;
	loader_wipe(l);
	OPENSSL_cleanse(l, sizeof(*l));
}

void
bsp_loader_begin(bsp_loader *l, EVP_PKEY *otsk, const eid_t *eid, EVP_PKEY *server_pub,
    const uint8_t *tid, size_t tid_len, const bsp_loader_ops *ops, void *ctx)
{
	bsp_loader_clear(l);
	l->otsk = otsk;
	l->eid = eid;
	l->server_pub = server_pub;
	if (tid != NULL && tid_len <= sizeof(l->tid)) {
		memcpy(l->tid, tid, tid_len);
		l->tid_len = tid_len;
	}
	l->ops = ops;
	l->ctx = ctx;
	l->stage = L_BF36;
}

void
bsp_loader_begin_keyed(bsp_loader *l, const bsp_keys *k, const bsp_loader_ops *ops, void *ctx)
{
	bsp_loader_clear(l);
	l->k = *k;
	l->ops = ops;
	l->ctx = ctx;
	l->unbounded = 1;
	l->stage = L_A0;
}

int
bsp_loader_command(const bsp_loader *l)
{
	return l == NULL ? ES10_BPP_INITIALISE_SECURE_CHANNEL : stage_cmd(l->stage, 0);
}

int
bsp_loader_active(const bsp_loader *l)
{
	return l != NULL && l->stage >= L_BF36 && l->stage <= L_86;
}

/* ES8+.InitialiseSecureChannel (§5.5.1) on the whole BF23 TLV: the eUICC's
 * checks in order — remote operation, CRT, smdpSign, transactionId — then
 * the session keys. */
static int
loader_init_sc(bsp_loader *l, const uint8_t *p, size_t n)
{
	der_tlv isc, t, tid, crt, host, otpk, sig;
	der_iter in, c;
	uint8_t own[PKI_PUBKEY_LEN], z[32];
	uint8_t *tbs = NULL;
	size_t tbslen = 0;
	const int cmd = ES10_BPP_INITIALISE_SECURE_CHANNEL;
	int rc;
	if (l->otsk == NULL || l->server_pub == NULL || l->eid == NULL)
		return loader_fail(l, cmd, ES10_ERR_UNKNOWN);
	if (der_read_one(p, n, &isc) != 0 || isc.tag != TAG_INIT_SC)
		return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
	der_iter_init(&in, isc.val, isc.len);
	if (der_iter_expect(&in, TAG_REMOTE_OP, &t) != 0)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);
	if (t.len != 1 || t.val[0] != BSP_REMOTE_OP_INSTALL)
		return loader_fail(l, cmd, ES10_ERR_UNSUPPORTED_REMOTE_OPERATION_TYPE);
	if (der_iter_expect(&in, TAG_TID, &tid) != 0 || der_iter_expect(&in, TAG_CRT, &crt) != 0 ||
	    der_iter_expect(&in, TAG_OTPK, &otpk) != 0)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);
	size_t body_len = (size_t)(otpk.val + otpk.len - isc.val);
	if (der_iter_expect(&in, TAG_SIG, &sig) != 0)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);
	while ((rc = der_iter_next(&in, &t)) == 1)
		; /* extension additions */
	if (rc < 0 || tid.len == 0 || tid.len > BSP_TID_MAX || otpk.len != PKI_PUBKEY_LEN ||
	    sig.len != PKI_SIG_LEN)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);
	der_iter_init(&c, crt.val, crt.len);
	if (der_iter_expect(&c, TAG_CRT_KEY_TYPE, &t) != 0)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);
	if (t.len != 1 || t.val[0] != BSP_KEY_TYPE_AES)
		return loader_fail(l, cmd, ES10_ERR_UNSUPPORTED_CRT_VALUES);
	if (der_iter_expect(&c, TAG_CRT_KEY_LEN, &t) != 0)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);
	if (t.len != 1 || t.val[0] != BSP_KEY_LEN)
		return loader_fail(l, cmd, ES10_ERR_UNSUPPORTED_CRT_VALUES);
	if (der_iter_expect(&c, TAG_CRT_HOST_ID, &host) != 0 || der_iter_end(&c) != 0 ||
	    host.len == 0 || host.len > BSP_HOST_ID_SPEC_MAX)
		return loader_fail(l, cmd, ES10_ERR_INCORRECT_INPUT_VALUES);

	/* smdpSign over BF23's children 82..5F49 || 5F49 our own otPK. */
	if (pki_pubkey_to_point(l->otsk, own) != 0 || signed_data(isc.val, body_len, own, &tbs, &tbslen) != 0)
		return loader_fail(l, cmd, ES10_ERR_UNKNOWN);
	rc = pki_verify(l->server_pub, tbs, tbslen, sig.val);
	free(tbs);
	if (rc != 0)
		return loader_fail(l, cmd, ES10_ERR_INVALID_SIGNATURE);
	/* A validly signed package for another session is still refused. */
	if (tid.len != l->tid_len || CRYPTO_memcmp(tid.val, l->tid, tid.len) != 0)
		return loader_fail(l, cmd, ES10_ERR_INVALID_TRANSACTION_ID);
	memset(z, 0, sizeof(z));
	rc = bsp_ecdh(l->otsk, otpk.val, otpk.len, z);
	if (rc == 0)
		rc = bsp_derive(z, host.val, host.len, l->eid, &l->k);
	OPENSSL_cleanse(z, sizeof(z));
	if (rc != 0)
		return loader_fail(l, cmd, rc == TS_ENOMEM ? ES10_ERR_UNKNOWN : ES10_ERR_INCORRECT_INPUT_VALUES);
	/* The borrowed keys are not needed any more. */
	l->otsk = l->server_pub = NULL;
	l->eid = NULL;
	return BSP_LOAD_MORE;
}

/* Room for need bytes in l->buf: a fresh buffer of twice the size, the old
 * one wiped (realloc could leave a plaintext copy behind). */
static int
buf_grow(bsp_loader *l, size_t need)
{
	if (need <= l->buf_cap)
		return 0;
	size_t cap = l->buf_cap < 1024 ? 1024 : l->buf_cap;
	while (cap < need)
		cap *= 2;
	uint8_t *nb = malloc(cap);
	if (nb == NULL)
		return TS_ENOMEM;
	if (l->buf_len > 0)
		memcpy(nb, l->buf, l->buf_len);
	if (l->buf != NULL) {
		OPENSSL_cleanse(l->buf, l->buf_cap);
		free(l->buf);
	}
	l->buf = nb;
	l->buf_cap = cap;
	return 0;
}

/* A sequence is complete: hand its plaintext over. rest: bytes of the
 * command after it. */
static int
loader_seq_done(bsp_loader *l, size_t rest)
{
	int reason = 0;
	bsp_keys ppk;
	switch (l->stage) {
	case L_87A:
		if (l->ops->configure_isdp(l->ctx, l->buf, l->buf_len, &reason) != 0)
			return loader_fail(l, ES10_BPP_CONFIGURE_ISDP, reason ? reason : ES10_ERR_UNKNOWN);
		l->stage = L_A1;
		break;
	case L_88:
		if (l->ops->store_metadata(l->ctx, l->buf, l->buf_len, &reason) != 0)
			return loader_fail(l, ES10_BPP_STORE_METADATA, reason ? reason : ES10_ERR_UNKNOWN);
		l->stage = L_A2A3;
		break;
	case L_87B:
		/* ReplaceSessionKeys: the 86s that follow are under the profile
		 * protection keys, their block counter from 1. */
		if (l->buf_len == 0 || bsp_rsk_decode(l->buf, l->buf_len, &ppk) != 0)
			return loader_fail(l, ES10_BPP_REPLACE_SESSION_KEYS, ES10_ERR_INCORRECT_INPUT_VALUES);
		l->k = ppk;
		bsp_keys_clear(&ppk);
		l->stage = L_A3;
		break;
	case L_86:
		if (rest != 0 || (!l->unbounded && l->bpp_left != 0))
			return loader_fail(l, ES10_BPP_LOAD_PROFILE_ELEMENTS, ES10_ERR_SCP03T_STRUCTURE);
		bsp_keys_clear(&l->k);
		if (l->buf == NULL && buf_grow(l, 1) != 0) /* an empty profile: still a buffer */
			return loader_fail(l, ES10_BPP_LOAD_PROFILE_ELEMENTS, ES10_ERR_INSUFFICIENT_MEMORY);
		if (l->ops->load_profile(l->ctx, &l->buf, l->buf_len, &reason) != 0)
			return loader_fail(l, ES10_BPP_LOAD_PROFILE_ELEMENTS, reason ? reason : ES10_ERR_UNKNOWN);
		l->stage = L_DONE;
		break;
	default:
		return loader_fail(l, stage_cmd(l->stage, 0), ES10_ERR_SCP03T_STRUCTURE);
	}
	/* the next sequence starts empty */
	if (l->buf != NULL) {
		OPENSSL_cleanse(l->buf, l->buf_cap);
		free(l->buf);
	}
	l->buf = NULL;
	l->buf_len = l->buf_cap = 0;
	return BSP_LOAD_MORE;
}

static int
loader_take(bsp_loader *l, size_t n)
{
	if (l->unbounded)
		return 0;
	if (n > l->bpp_left)
		return -1;
	l->bpp_left -= n;
	return 0;
}

int
bsp_loader_feed(bsp_loader *l, const uint8_t *p, size_t n)
{
	if (l == NULL)
		return BSP_LOAD_FAILED;
	if (l->stage == L_FAILED)
		return BSP_LOAD_FAILED;
	if (!bsp_loader_active(l) || p == NULL || n == 0)
		return loader_fail(l, stage_cmd(l->stage, 0), ES10_ERR_SCP03T_STRUCTURE);
	size_t off = 0;
	while (off < n) {
		uint32_t tag;
		size_t vlen, hl;
		int st = l->stage;
		if (hdr_read(p + off, n - off, &tag, &vlen, &hl) != 0)
			return loader_fail(l, stage_cmd(st, 0), ES10_ERR_SCP03T_STRUCTURE);
		int cmd = stage_cmd(st, tag);
		size_t whole = hl + vlen;
		uint32_t want_ctr = 0, want_seg = 0;
		switch (st) {
		case L_BF36:
			if (tag != TAG_PACKAGE || vlen > BSP_MAX_PACKAGE + BSP_MAX_PACKAGE / 8)
				return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
			l->bpp_left = vlen;
			off += hl;
			l->stage = L_BF23;
			continue;
		case L_BF23:
			/* BF23 travels whole, in the command that opens BF36. */
			if (tag != TAG_INIT_SC || whole > n - off || loader_take(l, whole) != 0)
				return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
			if (loader_init_sc(l, p + off, whole) != BSP_LOAD_MORE)
				return BSP_LOAD_FAILED;
			off += whole;
			l->stage = L_A0;
			continue;
		case L_A0: want_ctr = TAG_SEQ87_1; break;
		case L_A1: want_ctr = TAG_SEQ88; break;
		case L_A2A3: want_ctr = tag == TAG_SEQ87_2 ? TAG_SEQ87_2 : TAG_SEQ86; break;
		case L_A3: want_ctr = TAG_SEQ86; break;
		case L_87A:
		case L_87B: want_seg = BSP_TAG_ENC87; break;
		case L_88: want_seg = BSP_TAG_MAC; break;
		case L_86: want_seg = BSP_TAG_ENC; break;
		default: return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
		}
		if (want_ctr != 0) {
			/* A sequence's tag and length; its segments follow. */
			if (tag != want_ctr || (!l->unbounded && whole > l->bpp_left) || loader_take(l, hl) != 0)
				return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
			off += hl;
			l->seq_left = vlen;
			l->stage = want_ctr == TAG_SEQ87_1 ? L_87A : want_ctr == TAG_SEQ88 ? L_88
			    : want_ctr == TAG_SEQ87_2 ? L_87B : L_86;
			if (vlen == 0 && loader_seq_done(l, n - off) != BSP_LOAD_MORE)
				return BSP_LOAD_FAILED;
			continue;
		}
		/* One segment: whole, inside its sequence, in this command. */
		if (tag != want_seg || whole > n - off || whole > l->seq_left || loader_take(l, whole) != 0)
			return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
		uint8_t *pt = NULL;
		size_t ptl = 0;
		int rc = bsp_seg_unwrap(&l->k, p + off, whole, &pt, &ptl);
		if (rc == TS_EVERIFY)
			return loader_fail(l, cmd, ES10_ERR_SCP03T_SECURITY);
		if (rc == TS_ENOMEM)
			return loader_fail(l, cmd, ES10_ERR_INSUFFICIENT_MEMORY);
		if (rc != 0)
			return loader_fail(l, cmd, ES10_ERR_SCP03T_STRUCTURE);
		size_t cap = st == L_86 ? BSP_MAX_PACKAGE : BSP_SEQ_MAX;
		if (ptl > cap - l->buf_len || buf_grow(l, l->buf_len + ptl) != 0) {
			OPENSSL_cleanse(pt, ptl);
			free(pt);
			return loader_fail(l, cmd, ES10_ERR_INSUFFICIENT_MEMORY);
		}
		if (ptl > 0)
			memcpy(l->buf + l->buf_len, pt, ptl);
		l->buf_len += ptl;
		OPENSSL_cleanse(pt, ptl);
		free(pt);
		off += whole;
		l->seq_left -= whole;
		if (l->seq_left == 0 && loader_seq_done(l, n - off) != BSP_LOAD_MORE)
			return BSP_LOAD_FAILED;
	}
	return l->stage == L_DONE ? BSP_LOAD_DONE : BSP_LOAD_MORE;
}

/* ---- the whole package at once --------------------------------------------- */

typedef struct open_ctx {
	uint8_t *md, *pl;
	size_t mdl, pll;
} open_ctx;

static int
open_ci(void *ctx, const uint8_t *bf24, size_t len, int *reason)
{
	const uint8_t *oid;
	size_t oid_len;
	(void)ctx;
	if (bsp_configure_isdp_decode(bf24, len, &oid, &oid_len) != 0) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	return 0;
}

static int
open_md(void *ctx, const uint8_t *bf25, size_t len, int *reason)
{
	open_ctx *o = ctx;
	if (len == 0 || (o->md = malloc(len)) == NULL) {
		*reason = len == 0 ? ES10_ERR_INCORRECT_INPUT_VALUES : ES10_ERR_INSUFFICIENT_MEMORY;
		return -1;
	}
	memcpy(o->md, bf25, len);
	o->mdl = len;
	return 0;
}

static int
open_pl(void *ctx, uint8_t **profile, size_t len, int *reason)
{
	open_ctx *o = ctx;
	(void)reason;
	o->pl = *profile;
	o->pll = len;
	*profile = NULL;
	return 0;
}

int
bsp_package_open(EVP_PKEY *euicc_otsk, const eid_t *eid, EVP_PKEY *server_pub,
    const uint8_t *expected_tid, size_t tid_len,
    const uint8_t *pkg, size_t len,
    uint8_t **metadata, size_t *mdlen, uint8_t **payload, size_t *plen)
{
	static const bsp_loader_ops ops = { open_ci, open_md, open_pl };
	bsp_loader l;
	open_ctx o;
	int rc;
	if (euicc_otsk == NULL || eid == NULL || server_pub == NULL || expected_tid == NULL ||
	    pkg == NULL || metadata == NULL || mdlen == NULL || payload == NULL || plen == NULL)
		return TS_EINVAL;
	*metadata = *payload = NULL;
	*mdlen = *plen = 0;
	if (tid_len == 0 || tid_len > BSP_TID_MAX)
		return TS_EINVAL;
	if (len > BSP_MAX_PACKAGE + BSP_MAX_PACKAGE / 8)
		return TS_ELIMIT;
	memset(&o, 0, sizeof(o));
	memset(&l, 0, sizeof(l));
	bsp_loader_begin(&l, euicc_otsk, eid, server_pub, expected_tid, tid_len, &ops, &o);
	rc = bsp_loader_feed(&l, pkg, len);
	if (rc == BSP_LOAD_DONE) {
		if (o.pl == NULL && (o.pl = malloc(1)) == NULL) {
			rc = TS_ENOMEM;
		} else {
			*metadata = o.md;
			*mdlen = o.mdl;
			*payload = o.pl;
			*plen = o.pll;
			o.md = o.pl = NULL;
			rc = 0;
		}
	} else if (rc == BSP_LOAD_FAILED) {
		switch (l.reason) {
		case ES10_ERR_INVALID_SIGNATURE:
		case ES10_ERR_INVALID_TRANSACTION_ID:
		case ES10_ERR_SCP03T_SECURITY: rc = TS_EVERIFY; break;
		case ES10_ERR_UNSUPPORTED_CRT_VALUES:
		case ES10_ERR_UNSUPPORTED_REMOTE_OPERATION_TYPE: rc = TS_EUNSUPP; break;
		case ES10_ERR_INSUFFICIENT_MEMORY: rc = TS_ELIMIT; break;
		default: rc = TS_EPARSE; break;
		}
	} else {
		rc = TS_EPARSE; /* the package ended before its A3 did */
	}
	bsp_loader_clear(&l);
	free(o.md);
	if (o.pl != NULL) {
		OPENSSL_cleanse(o.pl, o.pll);
		free(o.pl);
	}
	return rc;
}
