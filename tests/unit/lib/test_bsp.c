/*
 * test_bsp.c — package binding (lib/bsp.c): KDF known answer against
 * OpenSSL's own X9.63 KDF, segment crypto checked independently, package
 * round trips, and every kind of tampering refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "lib/bsp.h"
#include "lib/der.h"
#include "lib/eid.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/es10.h"

#include "../../asn1/dump.h"

static const uint8_t host_id[] = "tapshare-node";
#define HOST_LEN (sizeof(host_id) - 1)
static const uint8_t tid[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
	0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };

static void
make_eid(const char *first30, eid_t *out)
{
	char s[EID_DIGITS + 1], cd[3];
	assert_int_equal(eid_check_digits(first30, cd), 0);
	memcpy(s, first30, 30);
	memcpy(s + 30, cd, 3);
	assert_int_equal(eid_parse(s, out), 0);
}

/* ---- KDF ---------------------------------------------------------------- */

static void
test_kdf_known_answer(void **state)
{
	(void)state;
	uint8_t z[32];
	for (size_t i = 0; i < sizeof(z); i++)
		z[i] = (uint8_t)(0xA0 + i);
	eid_t eid;
	make_eid("890490320000000000000000001234", &eid);

	/* SharedInfo built here from the header's description. */
	uint8_t si[64];
	size_t n = 0;
	si[n++] = 0x88;
	si[n++] = 0x10;
	si[n++] = (uint8_t)HOST_LEN;
	memcpy(si + n, host_id, HOST_LEN);
	n += HOST_LEN;
	si[n++] = 16;
	eid_to_bytes(&eid, si + n);
	n += 16;

	uint8_t want[48];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
	assert_non_null(kdf);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	assert_non_null(kctx);
	char md[] = "SHA256";
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, sizeof(z)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, si, n),
		OSSL_PARAM_construct_end(),
	};
	assert_int_equal(EVP_KDF_derive(kctx, want, sizeof(want), p), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);

	bsp_keys k;
	assert_int_equal(bsp_derive(z, host_id, HOST_LEN, &eid, &k), 0);
	assert_memory_equal(k.mcv, want, 16);
	assert_memory_equal(k.s_enc, want + 16, 16);
	assert_memory_equal(k.s_mac, want + 32, 16);
	assert_int_equal(k.counter, 1);

	/* A different EID gives different keys. */
	eid_t other;
	bsp_keys k2;
	make_eid("890490320000000000000000001235", &other);
	assert_int_equal(bsp_derive(z, host_id, HOST_LEN, &other, &k2), 0);
	assert_memory_not_equal(k.s_enc, k2.s_enc, 16);

	bsp_keys_clear(&k);
	uint8_t zero[sizeof(k)] = { 0 };
	assert_memory_equal(&k, zero, sizeof(k));
	assert_int_equal(bsp_derive(z, host_id, 0, &eid, &k), TS_EINVAL);
}

static void
test_ecdh(void **state)
{
	(void)state;
	EVP_PKEY *a = NULL, *b = NULL;
	uint8_t pa[PKI_PUBKEY_LEN], pb[PKI_PUBKEY_LEN], z1[32], z2[32];
	assert_int_equal(pki_keygen(&a), 0);
	assert_int_equal(pki_keygen(&b), 0);
	assert_int_equal(pki_pubkey_to_point(a, pa), 0);
	assert_int_equal(pki_pubkey_to_point(b, pb), 0);
	assert_int_equal(bsp_ecdh(a, pb, sizeof(pb), z1), 0);
	assert_int_equal(bsp_ecdh(b, pa, sizeof(pa), z2), 0);
	assert_memory_equal(z1, z2, 32);
	pb[64] ^= 1;
	assert_int_equal(bsp_ecdh(a, pb, sizeof(pb), z1), TS_EPARSE);
	assert_int_equal(bsp_ecdh(a, pb, 33, z1), TS_EPARSE);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* ---- segments, checked with OpenSSL directly ----------------------------- */

static void
fixed_keys(bsp_keys *k)
{
	for (int i = 0; i < 16; i++) {
		k->mcv[i] = (uint8_t)i;
		k->s_enc[i] = (uint8_t)(0x40 + i);
		k->s_mac[i] = (uint8_t)(0x80 + i);
	}
	k->counter = 1;
}

static void
cmac16(const uint8_t key[16], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[16])
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(m);
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string("cipher", cipher, 0),
		OSSL_PARAM_construct_end() };
	size_t n = 0;
	assert_int_equal(EVP_MAC_init(c, key, 16, p), 1);
	assert_int_equal(EVP_MAC_update(c, a, alen), 1);
	assert_int_equal(EVP_MAC_update(c, b, blen), 1);
	assert_int_equal(EVP_MAC_final(c, out, &n, 16), 1);
	assert_int_equal(n, 16);
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
}

static void
test_segment_independent(void **state)
{
	(void)state;
	bsp_keys k, r;
	uint8_t pt[20];
	uint8_t *seg = NULL, *out = NULL;
	size_t seglen = 0, outlen = 0;
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 3);
	fixed_keys(&k);
	fixed_keys(&r);

	assert_int_equal(bsp_seg_wrap(&k, 0x86, pt, sizeof(pt), &seg, &seglen), 0);
	/* 20 bytes pad to 32; value = 32 + 8 MAC. */
	assert_int_equal(seglen, 2 + 32 + 8);
	assert_int_equal(seg[0], 0x86);
	assert_int_equal(seg[1], 40);
	assert_int_equal(k.counter, 2);

	/* MAC = CMAC(S-MAC, MCV || 86 28 || ct); first 8 bytes carried, all 16 chained. */
	uint8_t macin[16 + 2], mac[16];
	memcpy(macin, r.mcv, 16);
	macin[16] = 0x86;
	macin[17] = 40;
	cmac16(r.s_mac, macin, sizeof(macin), seg + 2, 32, mac);
	assert_memory_equal(seg + 34, mac, 8);
	assert_memory_equal(k.mcv, mac, 16);

	/* IV = AES-ECB(S-ENC, 00..01); CBC decrypt; padding 80 00.. */
	uint8_t ctr[16] = { 0 }, iv[16], dec[32];
	int l1 = 0, l2 = 0;
	ctr[15] = 1;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, r.s_enc, NULL), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_EncryptUpdate(c, iv, &l1, ctr, 16), 1);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, r.s_enc, iv), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_DecryptUpdate(c, dec, &l1, seg + 2, 32), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, dec + l1, &l2), 1);
	EVP_CIPHER_CTX_free(c);
	assert_memory_equal(dec, pt, sizeof(pt));
	assert_int_equal(dec[20], 0x80);
	for (int i = 21; i < 32; i++)
		assert_int_equal(dec[i], 0);

	/* Our unwrap agrees, and advances the same state. */
	assert_int_equal(bsp_seg_unwrap(&r, seg, seglen, &out, &outlen), 0);
	assert_int_equal(outlen, sizeof(pt));
	assert_memory_equal(out, pt, sizeof(pt));
	assert_memory_equal(r.mcv, k.mcv, 16);
	assert_int_equal(r.counter, 2);
	free(out);
	free(seg);

	/* MAC-only: plaintext visible; the block counter advances all the same
	 * (SGP.22 §2.6.4.4: also for segments with C-MAC only). */
	assert_int_equal(bsp_seg_wrap(&k, 0x88, pt, sizeof(pt), &seg, &seglen), 0);
	assert_int_equal(seglen, 2 + 20 + 8);
	assert_memory_equal(seg + 2, pt, 20);
	assert_int_equal(k.counter, 3);
	/* Replaying with the wrong chaining value fails, state untouched. */
	bsp_keys stale;
	fixed_keys(&stale);
	assert_int_equal(bsp_seg_unwrap(&stale, seg, seglen, &out, &outlen), TS_EVERIFY);
	assert_int_equal(bsp_seg_unwrap(&r, seg, seglen, &out, &outlen), 0);
	assert_memory_equal(out, pt, 20);
	assert_int_equal(r.counter, 3);
	free(out);
	free(seg);
	/* ...so the next encrypted segment's IV is AES(S-ENC, 00..03). */
	assert_int_equal(bsp_seg_wrap(&k, 0x86, pt, sizeof(pt), &seg, &seglen), 0);
	{
		uint8_t c3[16] = { 0 }, iv3[16], d3[32];
		int m1 = 0, m2 = 0;
		c3[15] = 3;
		EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
		assert_int_equal(EVP_EncryptInit_ex(cc, EVP_aes_128_ecb(), NULL, r.s_enc, NULL), 1);
		EVP_CIPHER_CTX_set_padding(cc, 0);
		assert_int_equal(EVP_EncryptUpdate(cc, iv3, &m1, c3, 16), 1);
		assert_int_equal(EVP_DecryptInit_ex(cc, EVP_aes_128_cbc(), NULL, r.s_enc, iv3), 1);
		EVP_CIPHER_CTX_set_padding(cc, 0);
		assert_int_equal(EVP_DecryptUpdate(cc, d3, &m1, seg + 2, 32), 1);
		assert_int_equal(EVP_DecryptFinal_ex(cc, d3 + m1, &m2), 1);
		EVP_CIPHER_CTX_free(cc);
		assert_memory_equal(d3, pt, sizeof(pt));
	}
	free(seg);

	/* Limits and bad tags. */
	uint8_t big[BSP_SEG_MAX + 1] = { 0 };
	assert_int_equal(bsp_seg_wrap(&k, 0x86, big, sizeof(big), &seg, &seglen), TS_ELIMIT);
	assert_int_equal(bsp_seg_wrap(&k, 0x89, pt, 1, &seg, &seglen), TS_EINVAL);
	/* Exactly 16 bytes get a full padding block. */
	assert_int_equal(bsp_seg_wrap(&k, 0x86, big, 16, &seg, &seglen), 0);
	assert_int_equal(seglen, 2 + 32 + 8);
	free(seg);
	/* The largest segment, 1007 bytes: 1008 + 8 with a two-byte long-form
	 * length is exactly 1020 bytes with tag and length (SGP.22 §2.5.3). */
	assert_int_equal(BSP_SEG_MAX, 1007);
	assert_int_equal(bsp_seg_wrap(&k, 0x86, big, BSP_SEG_MAX, &seg, &seglen), 0);
	assert_int_equal(seglen, 1020);
	assert_int_equal(seg[1], 0x82);
	assert_int_equal(seg[2], 0x03);
	assert_int_equal(seg[3], 0xF8);
	free(seg);
	/* MAC only: 1008 bytes + 8 with 82 03 F8 is the same 1020. */
	uint8_t bigm[BSP_SEG_MAX_MAC + 1] = { 0 };
	assert_int_equal(bsp_seg_wrap(&k, 0x88, bigm, BSP_SEG_MAX_MAC, &seg, &seglen), 0);
	assert_int_equal(seglen, 1020);
	free(seg);
	assert_int_equal(bsp_seg_wrap(&k, 0x88, bigm, sizeof(bigm), &seg, &seglen), TS_ELIMIT);
	/* The receiver refuses a segment TLV beyond 1020 bytes (an 86 of
	 * 1024 + 8 bytes of data, MAC checked or not). */
	uint8_t huge[1 + 3 + 1024 + 8] = { 0x86, 0x82, 0x04, 0x08 };
	uint8_t *o2 = NULL;
	size_t o2l = 0;
	bsp_keys r2 = k;
	assert_int_equal(bsp_seg_unwrap(&r2, huge, sizeof(huge), &o2, &o2l), TS_ELIMIT);
}

/* ---- packages ----------------------------------------------------------- */

typedef struct fixture {
	EVP_PKEY *sign, *otsk;
	uint8_t otpk[PKI_PUBKEY_LEN];
	eid_t eid;
	uint8_t md[40];
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (f == NULL || pki_keygen(&f->sign) != 0 || pki_keygen(&f->otsk) != 0 ||
	    pki_pubkey_to_point(f->otsk, f->otpk) != 0)
		return -1;
	char s[EID_DIGITS + 1], cd[3];
	memcpy(s, "890490320000000000000000004321", 30);
	s[30] = '\0';
	if (eid_check_digits(s, cd) != 0)
		return -1;
	memcpy(s + 30, cd, 3);
	if (eid_parse(s, &f->eid) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(f->md); i++)
		f->md[i] = (uint8_t)(0xE0 ^ i);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	EVP_PKEY_free(f->sign);
	EVP_PKEY_free(f->otsk);
	free(f);
	return 0;
}

static uint8_t *
payload_of(size_t n)
{
	uint8_t *p = malloc(n + 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	return p;
}

static void
build(fixture *f, const uint8_t *pl, size_t n, uint8_t **pkg, size_t *len)
{
	assert_int_equal(bsp_package_build(f->otpk, sizeof(f->otpk), &f->eid, tid, sizeof(tid),
	                     host_id, HOST_LEN, f->sign, f->md, sizeof(f->md), pl, n, pkg, len),
	    0);
}

static int
open_pkg(fixture *f, const uint8_t *pkg, size_t len, uint8_t **md, size_t *mdl, uint8_t **pl,
    size_t *pll)
{
	return bsp_package_open(f->otsk, &f->eid, f->sign, tid, sizeof(tid), pkg, len, md, mdl, pl,
	    pll);
}

/* Number of segments in A3. */
static size_t
count_segments(const uint8_t *pkg, size_t len)
{
	der_tlv top, t;
	assert_int_equal(der_read_one(pkg, len, &top), 0);
	assert_int_equal(top.tag, 0xBF36);
	assert_int_equal(der_find(top.val, top.len, 0xA3, &t), 0);
	der_iter it;
	der_tlv s;
	size_t n = 0;
	der_iter_init(&it, t.val, t.len);
	while (der_iter_next(&it, &s) == 1) {
		assert_int_equal(s.tag, 0x86);
		n++;
	}
	return n;
}

static void
test_round_trips(void **state)
{
	fixture *f = *state;
	static const size_t sizes[] = { 0, 1, 1020, 1021, 5000 };
	static const size_t segs[] = { 0, 1, 2, 2, 5 }; /* 1007 bytes each, the rest in the last */
	for (size_t i = 0; i < 5; i++) {
		uint8_t *pl = payload_of(sizes[i]);
		uint8_t *pkg = NULL, *md = NULL, *out = NULL;
		size_t len = 0, mdl = 0, outl = 0;
		build(f, pl, sizes[i], &pkg, &len);
		assert_int_equal(count_segments(pkg, len), segs[i]);
		assert_int_equal(open_pkg(f, pkg, len, &md, &mdl, &out, &outl), 0);
		assert_int_equal(mdl, sizeof(f->md));
		assert_memory_equal(md, f->md, sizeof(f->md));
		assert_int_equal(outl, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(out, pl, sizes[i]);
		assert_non_null(out);
		free(md);
		free(out);
		free(pkg);
		free(pl);
	}
}

static void
test_flipped_bits(void **state)
{
	fixture *f = *state;
	uint8_t *pl = payload_of(1500);
	uint8_t *pkg = NULL, *md = NULL, *out = NULL;
	size_t len = 0, mdl = 0, outl = 0;
	build(f, pl, 1500, &pkg, &len);
	/* One bit in every byte: header, transactionId, host id, otPK, signature,
	 * metadata segment, every payload segment's tag, length, ciphertext, MAC. */
	for (size_t i = 0; i < len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		pkg[i] ^= bit;
		int rc = open_pkg(f, pkg, len, &md, &mdl, &out, &outl);
		pkg[i] ^= bit;
		if (rc == 0)
			fail_msg("flip at byte %zu of %zu accepted", i, len);
		assert_null(md);
		assert_null(out);
	}
	/* Trailing byte, truncation. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, pkg, len);
	longer[len] = 0x00;
	assert_int_equal(open_pkg(f, longer, len + 1, &md, &mdl, &out, &outl), TS_EPARSE);
	assert_int_equal(open_pkg(f, pkg, len - 1, &md, &mdl, &out, &outl), TS_EPARSE);
	free(longer);
	/* Unchanged package still opens. */
	assert_int_equal(open_pkg(f, pkg, len, &md, &mdl, &out, &outl), 0);
	free(md);
	free(out);
	free(pkg);
	free(pl);
}

/* Rebuilds pkg with the A3 segments in the order given by idx. */
static void
rebuild(const uint8_t *pkg, size_t len, const size_t *idx, size_t n, uint8_t **out, size_t *outl)
{
	der_tlv top, c[4], segs[16];
	der_iter it;
	size_t ns = 0;
	assert_int_equal(der_read_one(pkg, len, &top), 0);
	der_iter_init(&it, top.val, top.len);
	for (int i = 0; i < 4; i++)
		assert_int_equal(der_iter_next(&it, &c[i]), 1); /* BF23 A0 A1 A3 */
	der_iter_init(&it, c[3].val, c[3].len);
	while (ns < 16 && der_iter_next(&it, &segs[ns]) == 1)
		ns++;
	der_writer w;
	der_writer_init(&w);
	der_begin(&w, 0xBF36);
	der_put_raw(&w, c[0].val - c[0].hdr_len, c[0].hdr_len + c[0].len);
	der_put_raw(&w, c[1].val - c[1].hdr_len, c[1].hdr_len + c[1].len);
	der_put_raw(&w, c[2].val - c[2].hdr_len, c[2].hdr_len + c[2].len);
	der_begin(&w, 0xA3);
	for (size_t i = 0; i < n; i++) {
		assert_true(idx[i] < ns);
		der_put_raw(&w, segs[idx[i]].val - segs[idx[i]].hdr_len,
		    segs[idx[i]].hdr_len + segs[idx[i]].len);
	}
	der_end(&w);
	der_end(&w);
	assert_int_equal(der_writer_finish(&w, out, outl), 0);
	der_writer_clear(&w);
}

static void
test_segment_order(void **state)
{
	fixture *f = *state;
	uint8_t *pl = payload_of(3000); /* 1007 + 1007 + 986 */
	uint8_t *pkg = NULL, *md = NULL, *out = NULL, *bad = NULL;
	size_t len = 0, mdl = 0, outl = 0, badl = 0;
	build(f, pl, 3000, &pkg, &len);
	assert_int_equal(count_segments(pkg, len), 3);

	static const size_t same[] = { 0, 1, 2 };
	rebuild(pkg, len, same, 3, &bad, &badl);
	assert_int_equal(badl, len);
	assert_memory_equal(bad, pkg, len);
	assert_int_equal(open_pkg(f, bad, badl, &md, &mdl, &out, &outl), 0);
	free(md);
	free(out);
	free(bad);

	static const struct {
		size_t idx[4], n;
		int rc;
	} cases[] = {
		{ { 1, 0, 2 }, 3, TS_EVERIFY }, /* reordered */
		{ { 0, 2, 1 }, 3, TS_EVERIFY }, /* reordered */
		{ { 1, 2 }, 2, TS_EVERIFY },    /* first dropped */
		{ { 0, 2 }, 2, TS_EVERIFY },    /* middle dropped */
		{ { 0, 0, 1, 2 }, 4, TS_EVERIFY }, /* duplicated */
		{ { 0, 1, 2, 2 }, 4, TS_EVERIFY }, /* last one repeated */
		/* Dropped from the end, with A3's length rewritten: the MAC
		 * chain cannot tell (SGP.22 has no end marker); the profile
		 * package interpreter refuses the cut package (no End PE,
		 * test_es10_se). */
		{ { 0, 1 }, 2, 0 },
		{ { 0 }, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rebuild(pkg, len, cases[i].idx, cases[i].n, &bad, &badl);
		int rc = open_pkg(f, bad, badl, &md, &mdl, &out, &outl);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(outl, cases[i].n * 1007);
			free(md);
			free(out);
		} else {
			assert_null(out);
		}
		free(bad);
	}
	free(pkg);
	free(pl);
}

static void
test_wrong_parties(void **state)
{
	fixture *f = *state;
	uint8_t *pl = payload_of(100);
	uint8_t *pkg = NULL, *md = NULL, *out = NULL;
	size_t len = 0, mdl = 0, outl = 0;
	build(f, pl, 100, &pkg, &len);

	/* Wrong EID: keys differ, first MAC fails. */
	eid_t other;
	make_eid("890490320000000000000000004322", &other);
	assert_int_equal(bsp_package_open(f->otsk, &other, f->sign, tid, sizeof(tid), pkg, len, &md,
	                     &mdl, &out, &outl),
	    TS_EVERIFY);
	/* Wrong transactionId (and wrong length). */
	uint8_t tid2[16];
	memcpy(tid2, tid, 16);
	tid2[15] ^= 1;
	assert_int_equal(bsp_package_open(f->otsk, &f->eid, f->sign, tid2, sizeof(tid2), pkg, len,
	                     &md, &mdl, &out, &outl),
	    TS_EVERIFY);
	assert_int_equal(bsp_package_open(f->otsk, &f->eid, f->sign, tid, 15, pkg, len, &md, &mdl,
	                     &out, &outl),
	    TS_EVERIFY);
	/* Wrong server key. */
	EVP_PKEY *k = NULL;
	assert_int_equal(pki_keygen(&k), 0);
	assert_int_equal(bsp_package_open(f->otsk, &f->eid, k, tid, sizeof(tid), pkg, len, &md, &mdl,
	                     &out, &outl),
	    TS_EVERIFY);
	/* Wrong eUICC one-time key: the signature covered the real otPK. */
	assert_int_equal(bsp_package_open(k, &f->eid, f->sign, tid, sizeof(tid), pkg, len, &md, &mdl,
	                     &out, &outl),
	    TS_EVERIFY);
	assert_null(md);
	assert_null(out);
	EVP_PKEY_free(k);

	/* Two builds for the same eUICC differ (fresh server one-time key). */
	uint8_t *pkg2 = NULL;
	size_t len2 = 0;
	build(f, pl, 100, &pkg2, &len2);
	assert_int_equal(len2, len);
	assert_memory_not_equal(pkg, pkg2, len);
	free(pkg2);

	/* Build refuses bad input. */
	static uint8_t bigmd[BSP_SEQ_MAX + 1];
	assert_int_equal(bsp_package_build(f->otpk, sizeof(f->otpk), &f->eid, tid, sizeof(tid),
	                     host_id, HOST_LEN, f->sign, bigmd, sizeof(bigmd), pl, 100, &pkg2, &len2),
	    TS_ELIMIT);
	uint8_t badpt[PKI_PUBKEY_LEN];
	memcpy(badpt, f->otpk, sizeof(badpt));
	badpt[10] ^= 1;
	assert_int_equal(bsp_package_build(badpt, sizeof(badpt), &f->eid, tid, sizeof(tid), host_id,
	                     HOST_LEN, f->sign, f->md, sizeof(f->md), pl, 100, &pkg2, &len2),
	    TS_EPARSE);
	assert_int_equal(bsp_package_build(f->otpk, sizeof(f->otpk), &f->eid, tid, 17, host_id,
	                     HOST_LEN, f->sign, f->md, sizeof(f->md), pl, 100, &pkg2, &len2),
	    TS_EINVAL);
	free(pkg);
	free(pl);
}

/* BF23 exactly as SGP.22 §5.5.1 lays it out, and smdpSign over its
 * children 82..5F49 followed by 5F49 41 euiccOtpk, checked with OpenSSL. */
static void
test_init_secure_channel(void **state)
{
	fixture *f = *state;
	uint8_t *pl = payload_of(10), *pkg = NULL;
	size_t len = 0;
	build(f, pl, 10, &pkg, &len);
	der_tlv top, isc, t, crt;
	der_iter it, in, c;
	assert_int_equal(der_read_one(pkg, len, &top), 0);
	der_iter_init(&it, top.val, top.len);
	assert_int_equal(der_iter_expect(&it, 0xBF23, &isc), 0);
	der_iter_init(&in, isc.val, isc.len);
	assert_int_equal(der_iter_expect(&in, 0x82, &t), 0);          /* remoteOpId */
	assert_int_equal(t.len, 1);
	assert_int_equal(t.val[0], 1);                                 /* installBoundProfilePackage */
	assert_int_equal(der_iter_expect(&in, 0x80, &t), 0);          /* transactionId */
	assert_memory_equal(t.val, tid, sizeof(tid));
	assert_int_equal(der_iter_expect(&in, 0xA6, &crt), 0);        /* controlRefTemplate */
	der_iter_init(&c, crt.val, crt.len);
	assert_int_equal(der_iter_expect(&c, 0x80, &t), 0);           /* keyType AES */
	assert_int_equal(t.val[0], 0x88);
	assert_int_equal(der_iter_expect(&c, 0x81, &t), 0);           /* keyLen 16 */
	assert_int_equal(t.val[0], 0x10);
	assert_int_equal(der_iter_expect(&c, 0x84, &t), 0);           /* hostId */
	assert_int_equal(der_iter_end(&c), 0);
	der_tlv otpk, sig;
	assert_int_equal(der_iter_expect(&in, 0x5F49, &otpk), 0);     /* smdpOtpk */
	assert_int_equal(otpk.len, 65);
	assert_int_equal(der_iter_expect(&in, 0x5F37, &sig), 0);      /* smdpSign */
	assert_int_equal(sig.len, 64);
	assert_int_equal(der_iter_end(&in), 0);
	size_t body = (size_t)(otpk.val + otpk.len - isc.val);
	uint8_t tbs[512];
	assert_true(body + 3 + 65 <= sizeof(tbs));
	memcpy(tbs, isc.val, body);
	tbs[body] = 0x5F;
	tbs[body + 1] = 0x49;
	tbs[body + 2] = 0x41;
	memcpy(tbs + body + 3, f->otpk, 65);
	assert_int_equal(pki_verify(f->sign, tbs, body + 3 + 65, sig.val), 0);
	/* not over the bare point (the pre-SGP.22 input) */
	memcpy(tbs + body, f->otpk, 65);
	assert_int_not_equal(pki_verify(f->sign, tbs, body + 65, sig.val), 0);
	free(pkg);
	free(pl);
}

/* ---- BF24, BF26: hand-written vectors --------------------------------- */

static void
test_command_vectors(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t n = 0;
	const uint8_t *oid = NULL;
	size_t oid_len = 0;
	/* BF24 00: ConfigureISDPRequest without dpProprietaryData */
	static const uint8_t ci0[] = { 0xBF, 0x24, 0x00 };
	assert_int_equal(bsp_configure_isdp_encode(NULL, 0, &out, &n), 0);
	assert_int_equal(n, sizeof(ci0));
	assert_memory_equal(out, ci0, n);
	free(out);
	asn1_dump("ConfigureISDPRequest", ci0, sizeof(ci0));
	assert_int_equal(bsp_configure_isdp_decode(ci0, sizeof(ci0), &oid, &oid_len), 0);
	assert_null(oid);
	/* BF24 0B                       ConfigureISDPRequest
	 *   B8 09                       dpProprietaryData [24]
	 *     80 07 2B 06 01 04 01 82 37  dpOid [0] 1.3.6.1.4.1.311 */
	static const uint8_t ci1[] = { 0xBF, 0x24, 0x0B, 0xB8, 0x09, 0x80, 0x07, 0x2B, 0x06, 0x01, 0x04,
		0x01, 0x82, 0x37 };
	assert_int_equal(bsp_configure_isdp_encode(ci1 + 7, 7, &out, &n), 0);
	assert_int_equal(n, sizeof(ci1));
	assert_memory_equal(out, ci1, n);
	free(out);
	asn1_dump("ConfigureISDPRequest", ci1, sizeof(ci1));
	assert_int_equal(bsp_configure_isdp_decode(ci1, sizeof(ci1), &oid, &oid_len), 0);
	assert_ptr_equal(oid, ci1 + 7);
	assert_int_equal(oid_len, 7);
	/* SM-DP+ data after dpOid, an extension addition after B8: accepted */
	static const uint8_t ci2[] = { 0xBF, 0x24, 0x12, 0xB8, 0x0C, 0x80, 0x07, 0x2B, 0x06, 0x01, 0x04,
		0x01, 0x82, 0x37, 0x81, 0x01, 0x00, 0x9F, 0x7F, 0x01, 0x00 };
	assert_int_equal(bsp_configure_isdp_decode(ci2, sizeof(ci2), &oid, &oid_len), 0);
	assert_int_equal(oid_len, 7);
	/* dpOid as a universal 06 (not the AUTOMATIC [0]); B8 twice; trailing */
	uint8_t bad[sizeof(ci1) + 11];
	memcpy(bad, ci1, sizeof(ci1));
	bad[5] = 0x06;
	assert_int_equal(bsp_configure_isdp_decode(bad, sizeof(ci1), &oid, &oid_len), TS_EPARSE);
	memcpy(bad, ci1, sizeof(ci1));
	memcpy(bad + sizeof(ci1), ci1 + 3, 11);
	bad[2] = 0x16;
	assert_int_equal(bsp_configure_isdp_decode(bad, sizeof(bad), &oid, &oid_len), TS_EPARSE);
	assert_int_equal(bsp_configure_isdp_decode(ci1, sizeof(ci1) - 1, &oid, &oid_len), TS_EPARSE);
	/* dpProprietaryData is at most 128 bytes with tag and length */
	uint8_t longoid[125];
	memset(longoid, 0x01, sizeof(longoid));
	assert_int_equal(bsp_configure_isdp_encode(longoid, sizeof(longoid), &out, &n), TS_ELIMIT);

	/* BF26 36                     ReplaceSessionKeysRequest
	 *   80 10 00 01 .. 0F         initialMacChainingValue [0]
	 *   81 10 40 41 .. 4F         ppkEnc [1]
	 *   82 10 80 81 .. 8F         ppkCmac [2] */
	uint8_t rsk[3 + 3 * 18];
	rsk[0] = 0xBF;
	rsk[1] = 0x26;
	rsk[2] = 0x36;
	for (int j = 0; j < 3; j++) {
		rsk[3 + 18 * j] = (uint8_t)(0x80 + j);
		rsk[4 + 18 * j] = 0x10;
		for (int b = 0; b < 16; b++)
			rsk[5 + 18 * j + b] = (uint8_t)(0x40 * j + b);
	}
	bsp_keys k, d;
	fixed_keys(&k);
	assert_int_equal(bsp_rsk_encode(&k, &out, &n), 0);
	assert_int_equal(n, sizeof(rsk));
	assert_memory_equal(out, rsk, n);
	free(out);
	asn1_dump("ReplaceSessionKeysRequest", rsk, sizeof(rsk));
	assert_int_equal(bsp_rsk_decode(rsk, sizeof(rsk), &d), 0);
	assert_memory_equal(&d, &k, sizeof(k));
	rsk[22] = 0x0F; /* ppkEnc of 15 bytes (and the rest shifted): refused */
	assert_int_not_equal(bsp_rsk_decode(rsk, sizeof(rsk), &d), 0);
	assert_int_equal(bsp_rsk_decode(rsk, 3 + 36, &d), TS_EPARSE);
}

/* ---- the package, checked with OpenSSL alone ------------------------------ */

static void
aes_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0;
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_EncryptUpdate(c, out, &n1, in, 16), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + n1, &n2), 1);
	EVP_CIPHER_CTX_free(c);
}

/* Checks one segment TLV with keys (senc, smac), chaining value mcv and
 * block counter ctr (ignored for 88): the MAC over mcv || tag || length ||
 * data, then the decryption with IV = AES-ECB(senc, ctr). Writes the
 * plaintext (padding removed) and the next mcv. */
static size_t
check_seg(const der_tlv *t, const uint8_t senc[16], const uint8_t smac[16], uint8_t mcv[16],
    uint64_t ctr, uint8_t *pt)
{
	uint8_t full[16];
	size_t dl = t->len - 8;
	uint8_t hdrmcv[16 + 8];
	memcpy(hdrmcv, mcv, 16);
	memcpy(hdrmcv + 16, t->val - t->hdr_len, t->hdr_len);
	cmac16(smac, hdrmcv, 16 + t->hdr_len, t->val, dl, full);
	assert_memory_equal(full, t->val + dl, 8);
	memcpy(mcv, full, 16);
	if (t->tag == 0x88) {
		memcpy(pt, t->val, dl);
		return dl;
	}
	uint8_t blk[16] = { 0 }, iv[16];
	for (int i = 0; i < 8; i++)
		blk[15 - i] = (uint8_t)(ctr >> (8 * i));
	aes_ecb_block(senc, blk, iv);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0;
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, senc, iv), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_DecryptUpdate(c, pt, &n1, t->val, (int)dl), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, pt + n1, &n2), 1);
	EVP_CIPHER_CTX_free(c);
	size_t n = dl;
	while (n > 0 && pt[n - 1] == 0x00)
		n--;
	assert_true(n > 0);
	assert_int_equal(pt[n - 1], 0x80);
	return n - 1;
}

typedef struct load_ctx {
	int ci, md, pl;
	size_t pll;
	const uint8_t *want; /* the profile expected, if set */
} load_ctx;

static int
lc_ci(void *ctx, const uint8_t *b, size_t n, int *reason)
{
	const uint8_t *oid;
	size_t ol;
	((load_ctx *)ctx)->ci++;
	if (bsp_configure_isdp_decode(b, n, &oid, &ol) != 0) {
		*reason = ES10_ERR_INCORRECT_INPUT_VALUES;
		return -1;
	}
	return 0;
}

static int
lc_md(void *ctx, const uint8_t *b, size_t n, int *reason)
{
	(void)b;
	(void)n;
	(void)reason;
	((load_ctx *)ctx)->md++;
	return 0;
}

static int
lc_pl(void *ctx, uint8_t **p, size_t n, int *reason)
{
	load_ctx *lc = ctx;
	(void)reason;
	lc->pl++;
	lc->pll = n;
	if (lc->want != NULL)
		assert_memory_equal(*p, lc->want, n);
	return 0;
}

static void
test_package_layout(void **state)
{
	fixture *f = *state;
	const size_t plen = 2100; /* 1007 + 1007 + 86 */
	uint8_t *pl = payload_of(plen), *pkg = NULL;
	size_t len = 0;
	bsp_build_args a;
	memset(&a, 0, sizeof(a));
	a.euicc_otpk = f->otpk;
	a.otpk_len = sizeof(f->otpk);
	a.eid = &f->eid;
	a.tid = tid;
	a.tid_len = sizeof(tid);
	a.host_id = host_id;
	a.host_id_len = HOST_LEN;
	a.sign_key = f->sign;
	a.metadata = f->md;
	a.md_len = sizeof(f->md);
	a.replace_keys = 1;
	a.payload = pl;
	a.plen = plen;
	assert_int_equal(bsp_package_build_ex(&a, &pkg, &len), 0);
	asn1_dump("BoundProfilePackage", pkg, len);

	/* BF36 { BF23, A0 {87}, A1 {88}, A2 {87}, A3 {86 86 86} } */
	der_tlv top, c[5], t, otpk;
	der_iter it, in;
	static const uint32_t tags[] = { 0xBF23, 0xA0, 0xA1, 0xA2, 0xA3 };
	assert_int_equal(der_read_one(pkg, len, &top), 0);
	assert_int_equal(top.tag, 0xBF36);
	der_iter_init(&it, top.val, top.len);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(der_iter_next(&it, &c[i]), 1);
		assert_int_equal(c[i].tag, tags[i]);
	}
	assert_int_equal(der_iter_end(&it), 0);
	asn1_dump("InitialiseSecureChannelRequest", c[0].val - c[0].hdr_len, c[0].hdr_len + c[0].len);
	assert_int_equal(der_find(c[0].val, c[0].len, 0x5F49, &otpk), 0);

	/* The session keys, by OpenSSL alone: ECDH, then X9.63 (SHA-256). */
	EVP_PKEY *srv = NULL;
	assert_int_equal(pki_pubkey_from_point(otpk.val, otpk.len, &srv), 0);
	EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(f->otsk, NULL);
	uint8_t z[32];
	size_t zl = sizeof(z);
	assert_int_equal(EVP_PKEY_derive_init(dc), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(dc, srv), 1);
	assert_int_equal(EVP_PKEY_derive(dc, z, &zl), 1);
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(srv);
	uint8_t si[64], km[48];
	size_t sn = 0;
	si[sn++] = 0x88;
	si[sn++] = 0x10;
	si[sn++] = (uint8_t)HOST_LEN;
	memcpy(si + sn, host_id, HOST_LEN);
	sn += HOST_LEN;
	si[sn++] = 16;
	eid_to_bytes(&f->eid, si + sn);
	sn += 16;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	char md[] = "SHA256";
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, sizeof(z)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, si, sn),
		OSSL_PARAM_construct_end(),
	};
	assert_int_equal(EVP_KDF_derive(kctx, km, sizeof(km), p), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	uint8_t mcv[16], senc[16], smac[16], buf[1024];
	memcpy(mcv, km, 16);
	memcpy(senc, km + 16, 16);
	memcpy(smac, km + 32, 16);

	/* 87 of A0 (counter 1): BF24 00 */
	der_iter_init(&in, c[1].val, c[1].len);
	assert_int_equal(der_iter_next(&in, &t), 1);
	assert_int_equal(t.tag, 0x87);
	size_t n = check_seg(&t, senc, smac, mcv, 1, buf);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "\xBF\x24\x00", 3);
	assert_int_equal(der_iter_end(&in), 0);
	/* 88 of A1: MAC only, the metadata as it is; it uses counter 2 */
	der_iter_init(&in, c[2].val, c[2].len);
	assert_int_equal(der_iter_next(&in, &t), 1);
	assert_int_equal(t.tag, 0x88);
	n = check_seg(&t, senc, smac, mcv, 2, buf);
	assert_int_equal(n, sizeof(f->md));
	assert_memory_equal(buf, f->md, n);
	/* 87 of A2 with counter 3 (advanced for the 88): BF26 */
	der_iter_init(&in, c[3].val, c[3].len);
	assert_int_equal(der_iter_next(&in, &t), 1);
	assert_int_equal(t.tag, 0x87);
	n = check_seg(&t, senc, smac, mcv, 3, buf);
	asn1_dump("ReplaceSessionKeysRequest", buf, n);
	assert_int_equal(n, 3 + 54);
	assert_memory_equal(buf, "\xBF\x26\x36\x80\x10", 5);
	uint8_t pmcv[16], penc[16], pmac[16];
	memcpy(pmcv, buf + 5, 16);
	memcpy(penc, buf + 23, 16);
	memcpy(pmac, buf + 41, 16);
	/* 86s of A3: under the PPKs, counter from 1 again */
	der_iter_init(&in, c[4].val, c[4].len);
	size_t off = 0;
	for (uint64_t ctr = 1; ctr <= 3; ctr++) {
		assert_int_equal(der_iter_next(&in, &t), 1);
		assert_int_equal(t.tag, 0x86);
		assert_true(t.hdr_len + t.len <= 1020);
		n = check_seg(&t, penc, pmac, pmcv, ctr, buf);
		assert_int_equal(n, ctr < 3 ? 1007 : 86);
		assert_memory_equal(buf, pl + off, n);
		off += n;
	}
	assert_int_equal(der_iter_end(&in), 0);

	/* The LPA's split (SGP.22 §2.5.5): contiguous, in order. */
	bsp_cmd *cmds = NULL;
	size_t nc = 0;
	assert_int_equal(bsp_split(pkg, len, &cmds, &nc), 0);
	assert_int_equal(nc, 9);
	static const uint8_t first[] = { 0xBF, 0xA0, 0xA1, 0x88, 0xA2, 0xA3, 0x86, 0x86, 0x86 };
	size_t at = 0;
	for (size_t i = 0; i < nc; i++) {
		assert_int_equal(cmds[i].off, at);
		assert_int_equal(pkg[at], first[i]);
		at += cmds[i].len;
	}
	assert_int_equal(at, len);
	assert_int_equal(cmds[0].len, (size_t)(c[0].val + c[0].len - pkg)); /* BF36 hdr + BF23 */
	assert_int_equal(cmds[2].len, c[2].hdr_len);                          /* A1 hdr alone */
	assert_int_equal(cmds[5].len, c[4].hdr_len);                          /* A3 hdr alone */

	/* The loader, fed command by command: 90 00 (MORE) until the last. */
	static const bsp_loader_ops ops = { lc_ci, lc_md, lc_pl };
	bsp_loader l;
	load_ctx lc;
	memset(&l, 0, sizeof(l));
	memset(&lc, 0, sizeof(lc));
	bsp_loader_begin(&l, f->otsk, &f->eid, f->sign, tid, sizeof(tid), &ops, &lc);
	for (size_t i = 0; i < nc; i++) {
		int st = bsp_loader_feed(&l, pkg + cmds[i].off, cmds[i].len);
		assert_int_equal(st, i + 1 < nc ? BSP_LOAD_MORE : BSP_LOAD_DONE);
		assert_int_equal(lc.ci, i >= 1);
		assert_int_equal(lc.md, i >= 3);
	}
	assert_int_equal(lc.pl, 1);
	assert_int_equal(lc.pll, plen);
	bsp_loader_clear(&l);
	/* An item cut across two commands: a structure error at that point. */
	memset(&lc, 0, sizeof(lc));
	bsp_loader_begin(&l, f->otsk, &f->eid, f->sign, tid, sizeof(tid), &ops, &lc);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(bsp_loader_feed(&l, pkg + cmds[i].off, cmds[i].len), BSP_LOAD_MORE);
	assert_int_equal(bsp_loader_feed(&l, pkg + cmds[6].off, 100), BSP_LOAD_FAILED);
	assert_int_equal(l.cmd, ES10_BPP_LOAD_PROFILE_ELEMENTS);
	assert_int_equal(l.reason, ES10_ERR_SCP03T_STRUCTURE);
	assert_int_equal(bsp_loader_feed(&l, pkg + cmds[6].off, cmds[6].len), BSP_LOAD_FAILED);
	bsp_loader_clear(&l);
	free(cmds);
	free(pkg);
	free(pl);
}

/* A BF23 signed by the SM-DP+ but with values the eUICC does not support:
 * refused with the reason for that value, not as a bad signature. */
static void
test_init_sc_values(void **state)
{
	fixture *f = *state;
	static const bsp_loader_ops ops = { lc_ci, lc_md, lc_pl };
	static const struct {
		uint8_t op, key_type, key_len;
		int reason;
	} cases[] = {
		{ 1, 0x88, 0x10, 0 },
		{ 2, 0x88, 0x10, ES10_ERR_UNSUPPORTED_REMOTE_OPERATION_TYPE },
		{ 1, 0x80, 0x10, ES10_ERR_UNSUPPORTED_CRT_VALUES },
		{ 1, 0x88, 0x20, ES10_ERR_UNSUPPORTED_CRT_VALUES },
	};
	EVP_PKEY *srv = NULL;
	uint8_t spk[PKI_PUBKEY_LEN];
	assert_int_equal(pki_keygen(&srv), 0);
	assert_int_equal(pki_pubkey_to_point(srv, spk), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		der_writer w;
		uint8_t *body = NULL, *pkg = NULL, tbs[512], sig[PKI_SIG_LEN];
		size_t bl = 0, pl = 0;
		der_writer_init(&w);
		der_put(&w, 0x82, &cases[i].op, 1);
		der_put(&w, 0x80, tid, sizeof(tid));
		der_begin(&w, 0xA6);
		der_put(&w, 0x80, &cases[i].key_type, 1);
		der_put(&w, 0x81, &cases[i].key_len, 1);
		der_put(&w, 0x84, host_id, HOST_LEN);
		der_end(&w);
		der_put(&w, 0x5F49, spk, sizeof(spk));
		assert_int_equal(der_writer_finish(&w, &body, &bl), 0);
		der_writer_clear(&w);
		memcpy(tbs, body, bl);
		memcpy(tbs + bl, "\x5F\x49\x41", 3);
		memcpy(tbs + bl + 3, f->otpk, PKI_PUBKEY_LEN);
		assert_int_equal(pki_sign(f->sign, tbs, bl + 3 + PKI_PUBKEY_LEN, sig), 0);
		der_writer_init(&w);
		der_begin(&w, 0xBF36);
		der_begin(&w, 0xBF23);
		der_put_raw(&w, body, bl);
		der_put(&w, 0x5F37, sig, sizeof(sig));
		der_end(&w);
		der_begin(&w, 0xA0);
		der_end(&w);
		der_end(&w);
		assert_int_equal(der_writer_finish(&w, &pkg, &pl), 0);
		der_writer_clear(&w);
		bsp_loader l;
		load_ctx lc;
		memset(&l, 0, sizeof(l));
		memset(&lc, 0, sizeof(lc));
		bsp_loader_begin(&l, f->otsk, &f->eid, f->sign, tid, sizeof(tid), &ops, &lc);
		/* the first command: BF36 header and BF23 */
		size_t first = pl - 2;
		int st = bsp_loader_feed(&l, pkg, first);
		if (cases[i].reason == 0) {
			assert_int_equal(st, BSP_LOAD_MORE);
		} else {
			assert_int_equal(st, BSP_LOAD_FAILED);
			assert_int_equal(l.cmd, ES10_BPP_INITIALISE_SECURE_CHANNEL);
			assert_int_equal(l.reason, cases[i].reason);
		}
		bsp_loader_clear(&l);
		free(body);
		free(pkg);
	}
	EVP_PKEY_free(srv);
}

/* Command series built by an independent implementation (Python's
 * cryptography package: AES-ECB/CBC, AES-CMAC; the same series are the
 * fuzz_bpp_load corpus) under the keys MCV 00..0F, S-ENC 40..4F, S-MAC
 * 80..8F: A0{87 BF24}, A1, 88 BF25, [A2{87 BF26}], A3, 86s. The loader must
 * take every one of them. */
static void
test_independent_series(void **state)
{
	(void)state;
	static const char *names[] = { "spec_split", "with_rsk" };
	static const bsp_loader_ops ops = { lc_ci, lc_md, lc_pl };
	const char *root = getenv("TS_TEST_DATA");
	assert_non_null(root);
	for (size_t k = 0; k < 2; k++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/bsp/%s", root, names[k]);
		FILE *fp = fopen(path, "rb");
		assert_non_null(fp);
		static uint8_t buf[8192];
		size_t size = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		bsp_keys keys;
		fixed_keys(&keys);
		bsp_loader l;
		load_ctx lc;
		memset(&l, 0, sizeof(l));
		memset(&lc, 0, sizeof(lc));
		static uint8_t want[18 * 70];
		for (size_t j = 0; j < 70; j++)
			memcpy(want + 18 * j, "{\"credential\":\"x\"}", 18);
		lc.want = want;
		bsp_loader_begin_keyed(&l, &keys, &ops, &lc);
		int st = BSP_LOAD_MORE;
		size_t off = 0, cmds = 0;
		while (off + 2 <= size) {
			size_t n = (size_t)buf[off] << 8 | buf[off + 1];
			off += 2;
			assert_true(n <= size - off);
			assert_int_equal(st, BSP_LOAD_MORE);
			st = bsp_loader_feed(&l, buf + off, n);
			off += n;
			cmds++;
		}
		if (st != BSP_LOAD_DONE)
			fail_msg("%s: loader at %d after %zu commands (cmd %d reason %d)", names[k], st, cmds,
			    l.cmd, l.reason);
		assert_int_equal(lc.ci, 1);
		assert_int_equal(lc.md, 1);
		assert_int_equal(lc.pll, 18 * 70);
		bsp_loader_clear(&l);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kdf_known_answer),
		cmocka_unit_test(test_ecdh),
		cmocka_unit_test(test_segment_independent),
		cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_parties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_secure_channel, setup, teardown),
		cmocka_unit_test(test_command_vectors),
		cmocka_unit_test_setup_teardown(test_package_layout, setup, teardown),
		cmocka_unit_test(test_independent_series),
		cmocka_unit_test_setup_teardown(test_init_sc_values, setup, teardown),
	};
	asn1_dump_init("bsp");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
