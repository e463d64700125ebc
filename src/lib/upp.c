/*
 * upp.c — the TCA eUICC profile package subset (upp.h). Written from the
 * field lists of PEDefinitions; the byte layouts of EF-ICCID / EF-IMSI /
 * EF-ACC / EF-AD are those of ETSI TS 102 221 §13.2 and 3GPP TS 31.102
 * §4.2.2, §4.2.15, §4.2.18.
 */
#include "lib/upp.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/der.h"
#include "lib/ts_err.h"

/* PE tags: ProfileElement alternatives under AUTOMATIC TAGS. */
#define PE_HEADER 0xA0u     /* [0] header */
#define PE_AKA 0xA4u        /* [4] akaParameter */
#define PE_NONSTANDARD 0xA9u/* [9] nonStandard */
#define PE_END 0xAAu        /* [10] end */
#define PE_MF 0xB0u         /* [16] mf */
#define PE_USIM 0xB3u       /* [19] usim */

#define CTX(n) (0x80u | (n))  /* primitive context tag [n], n < 31 */
#define CTXC(n) (0xA0u | (n)) /* constructed context tag [n] */

/* Fields of a SEQUENCE under AUTOMATIC TAGS: [0]..[30]. */
#define NFIELDS 31

/* ServicesList members tapshare-se provides. */
#define SVC_USIM 1
#define SVC_MILENAGE 4

/* 2.23.143.1.2.1 id-MF and 2.23.143.1.2.4 id-USIM (the TCA template arc). */
static const uint8_t OID_MF[] = { 0x67, 0x81, 0x0F, 0x01, 0x02, 0x01 };
static const uint8_t OID_USIM[] = { 0x67, 0x81, 0x0F, 0x01, 0x02, 0x04 };
/* UPP_ISSUER_OID, DER contents octets. */
static const uint8_t OID_ISSUER[] = { 0x69, 0x83, 0xCA, 0x86, 0x9D, 0xAF, 0x89, 0xC6, 0xDA, 0x8A,
	0x9F, 0xA3, 0xD3, 0xD0, 0xDD, 0x9F, 0x8E, 0xAF, 0xD1, 0x5B };

/* The USIM's AID: RID A000000087 (3GPP) + application code 1002 (USIM),
 * ETSI TS 101 220 Annex E; the optional PIX fields are left out. */
static const uint8_t USIM_AID[] = { 0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02 };
/* pinStatusTemplateDO (TS 102 221 §11.1.1.4.10): PS_DO '90' with no PIN
 * enabled — tapshare-se has no PIN. */
static const uint8_t PS_TEMPLATE[] = { 0x90, 0x01, 0x00 };
/* The ADF's temporary file ID (only used while the profile is created). */
static const uint8_t ADF_TEMP_FID[] = { 0x7F, 0xF1 };

/* Milenage defaults of AlgoParameter (3GPP TS 35.206 §4.1: r1..r5 = 64, 0,
 * 32, 64, 96 in bytes of 8 bits -> 40 00 20 40 60; c1..c5 = 0, 1, 2, 4, 8). */
static const uint8_t ROT_DEFAULT[5] = { 0x40, 0x00, 0x20, 0x40, 0x60 };

static int
xor_default(const uint8_t *v, size_t len)
{
	if (len != 80)
		return 0;
	for (size_t i = 0; i < 80; i++) {
		uint8_t want = 0;
		if (i % 16 == 15)
			want = (uint8_t)(i == 15 ? 0 : 1u << (i / 16 - 1));
		if (v[i] != want)
			return 0;
	}
	return 1;
}

/* ---- small codings --------------------------------------------------- */

int
upp_iccid_encode(const char *digits, uint8_t out[UPP_ICCID_LEN])
{
	if (digits == NULL || out == NULL)
		return TS_EINVAL;
	size_t n = strnlen(digits, UPP_ICCID_DIGITS_MAX + 1);
	if (n < 18 || n > UPP_ICCID_DIGITS_MAX)
		return TS_EINVAL;
	memset(out, 0xFF, UPP_ICCID_LEN);
	for (size_t i = 0; i < n; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return TS_EINVAL;
		unsigned d = (unsigned)(digits[i] - '0');
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(0xF0u | d);
		else
			out[i / 2] = (uint8_t)((out[i / 2] & 0x0Fu) | (d << 4));
	}
	return 0;
}

int
upp_iccid_decode(const uint8_t in[UPP_ICCID_LEN], char out[UPP_ICCID_DIGITS_MAX + 1])
{
	size_t n = 0;
	int ended = 0;
	for (size_t i = 0; i < 2 * UPP_ICCID_LEN; i++) {
		unsigned d = i % 2 == 0 ? (in[i / 2] & 0x0Fu) : (in[i / 2] >> 4);
		if (d == 0xF) {
			ended = 1;
			continue;
		}
		if (d > 9 || ended)
			return TS_EPARSE; /* A..E, or a digit after the filler */
		out[n++] = (char)('0' + d);
	}
	out[n] = '\0';
	return n >= 18 ? 0 : TS_EPARSE;
}

static int
all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
upp_imsi_encode(const char *digits, uint8_t out[UPP_EF_IMSI_LEN])
{
	if (digits == NULL || out == NULL)
		return TS_EINVAL;
	size_t n = strnlen(digits, UPP_IMSI_DIGITS_MAX + 1);
	if (n < UPP_IMSI_DIGITS_MIN || n > UPP_IMSI_DIGITS_MAX || !all_digits(digits, n))
		return TS_EINVAL;
	memset(out, 0xFF, UPP_EF_IMSI_LEN);
	/* Nibble k (0 = the identity-type nibble of byte 2's low half): byte
	 * 2 + k/2, low nibble for even k. Digit i sits at nibble i + 1. */
	uint8_t nib[2 * (UPP_EF_IMSI_LEN - 1)];
	memset(nib, 0xF, sizeof(nib));
	nib[0] = (uint8_t)(0x1u | (n % 2 == 1 ? 0x8u : 0)); /* type 001 + parity */
	for (size_t i = 0; i < n; i++)
		nib[i + 1] = (uint8_t)(digits[i] - '0');
	size_t used = (n + 2) / 2; /* bytes holding the type nibble and n digits */
	out[0] = (uint8_t)used;
	for (size_t b = 0; b < used; b++)
		out[1 + b] = (uint8_t)(nib[2 * b] | (nib[2 * b + 1] << 4));
	return 0;
}

int
upp_imsi_decode(const uint8_t *in, size_t len, char out[UPP_IMSI_DIGITS_MAX + 1])
{
	if (in == NULL || out == NULL || len != UPP_EF_IMSI_LEN)
		return TS_EPARSE;
	size_t used = in[0];
	if (used < 2 || used > UPP_EF_IMSI_LEN - 1)
		return TS_EPARSE;
	for (size_t b = 1 + used; b < UPP_EF_IMSI_LEN; b++)
		if (in[b] != 0xFF)
			return TS_EPARSE;
	unsigned type = in[1] & 0x0Fu;
	if ((type & 0x7u) != 0x1u)
		return TS_EPARSE; /* not an IMSI */
	int odd = (type & 0x8u) != 0;
	size_t n = 2 * used - 1 - (odd ? 0 : 1);
	if (n < UPP_IMSI_DIGITS_MIN || n > UPP_IMSI_DIGITS_MAX)
		return TS_EPARSE;
	for (size_t i = 0; i < n; i++) {
		size_t k = i + 1;
		unsigned d = k % 2 == 0 ? (in[1 + k / 2] & 0x0Fu) : (in[1 + k / 2] >> 4);
		if (d > 9)
			return TS_EPARSE;
		out[i] = (char)('0' + d);
	}
	if (!odd && (in[used] >> 4) != 0xF)
		return TS_EPARSE; /* even count: the last high nibble is the filler */
	out[n] = '\0';
	return 0;
}

void
upp_sim_clear(upp_sim *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, sizeof(*s));
}

/* ---- encoder --------------------------------------------------------- */

static void
put_pe_header(der_writer *w, int mandated, unsigned id)
{
	der_begin(w, CTXC(0));
	if (mandated)
		der_put(w, CTX(0), NULL, 0);
	der_put_uint(w, CTX(1), id);
	der_end(w);
}

/* A File with one fillFileContent, or an empty File (template defaults). */
static void
put_file(der_writer *w, unsigned field, const uint8_t *content, size_t len)
{
	der_begin(w, CTXC(field));
	if (content != NULL)
		der_put(w, CTX(3), content, len);
	der_end(w);
}

int
upp_encode(const upp_sim *s, uint8_t **out, size_t *len)
{
	uint8_t imsi[UPP_EF_IMSI_LEN];
	size_t nt;
	int rc;
	if (s == NULL || out == NULL || len == NULL)
		return TS_EINVAL;
	*out = NULL;
	*len = 0;
	nt = strnlen(s->profile_type, sizeof(s->profile_type));
	int naa = s->imsi[0] != '\0'; /* else a credential-only package */
	if (nt == sizeof(s->profile_type) || (naa && s->mnc_len != 2 && s->mnc_len != 3) ||
	    (s->app_content == NULL) != (s->app_content_len == 0) ||
	    s->app_content_len > UPP_APP_CONTENT_MAX || (!naa && s->app_content == NULL))
		return TS_EINVAL;
	char iccid[UPP_ICCID_DIGITS_MAX + 1];
	if (upp_iccid_decode(s->iccid, iccid) != 0)
		return TS_EINVAL;
	if (!naa)
		memset(imsi, 0xFF, sizeof(imsi));
	else if ((rc = upp_imsi_encode(s->imsi, imsi)) != 0)
		return rc;
	/* EF-ACC: the access class is the IMSI's last digit (TS 22.011 §4.2
	 * leaves the choice to the operator); class c is bit c of the 16-bit
	 * big-endian value (TS 31.102 §4.2.15). */
	unsigned cls = naa ? (unsigned)(s->imsi[strlen(s->imsi) - 1] - '0') : 0;
	uint8_t acc[2] = { (uint8_t)((1u << cls) >> 8), (uint8_t)((1u << cls) & 0xFFu) };
	/* EF-AD: normal operation, no additional information, MNC length. */
	uint8_t ad[4] = { 0x00, 0x00, 0x00, (uint8_t)s->mnc_len };
	/* EF-DIR record 1: the USIM's application template (TS 102 221 §13.1):
	 * 61 { 4F AID, 50 label }. The rest of the record keeps the template's
	 * fill. */
	uint8_t dir[2 + 2 + sizeof(USIM_AID) + 2 + 4];
	size_t dl = 0;
	dir[dl++] = 0x61;
	dir[dl++] = (uint8_t)(sizeof(dir) - 2);
	dir[dl++] = 0x4F;
	dir[dl++] = (uint8_t)sizeof(USIM_AID);
	memcpy(dir + dl, USIM_AID, sizeof(USIM_AID));
	dl += sizeof(USIM_AID);
	dir[dl++] = 0x50;
	dir[dl++] = 4;
	memcpy(dir + dl, "USIM", 4);
	dl += 4;
	unsigned id = 1;

	der_writer w;
	der_writer_init(&w);
	/* ProfileHeader */
	der_begin(&w, PE_HEADER);
	der_put_uint(&w, CTX(0), UPP_VERSION_MAJOR);
	der_put_uint(&w, CTX(1), UPP_VERSION_MINOR);
	if (nt > 0)
		der_put(&w, CTX(2), (const uint8_t *)s->profile_type, nt);
	der_put(&w, CTX(3), s->iccid, UPP_ICCID_LEN);
	der_begin(&w, CTXC(5)); /* eUICC-Mandatory-services */
	if (naa) {
		der_put(&w, CTX(SVC_USIM), NULL, 0);
		der_put(&w, CTX(SVC_MILENAGE), NULL, 0);
	}
	der_end(&w);
	der_begin(&w, CTXC(6)); /* eUICC-Mandatory-GFSTEList */
	der_put(&w, 0x06, OID_MF, sizeof(OID_MF));
	if (naa)
		der_put(&w, 0x06, OID_USIM, sizeof(OID_USIM));
	der_end(&w);
	der_end(&w);
	/* PE-MF */
	der_begin(&w, PE_MF);
	put_pe_header(&w, 1, id++);
	der_put(&w, CTX(1), OID_MF, sizeof(OID_MF));
	der_begin(&w, CTXC(2)); /* mf: its FCP's PIN status template */
	der_begin(&w, CTXC(1));
	der_put(&w, 0xC6, PS_TEMPLATE, sizeof(PS_TEMPLATE));
	der_end(&w);
	der_end(&w);
	put_file(&w, 4, s->iccid, UPP_ICCID_LEN); /* ef-iccid */
	put_file(&w, 5, naa ? dir : NULL, dl);    /* ef-dir */
	put_file(&w, 6, NULL, 0);                 /* ef-arr */
	der_end(&w);
	if (!naa)
		goto content;
	/* PE-USIM */
	der_begin(&w, PE_USIM);
	put_pe_header(&w, 1, id++);
	der_put(&w, CTX(1), OID_USIM, sizeof(OID_USIM));
	der_begin(&w, CTXC(2)); /* adf-usim: temporary FID, AID, PIN status */
	der_begin(&w, CTXC(1));
	der_put(&w, 0x83, ADF_TEMP_FID, sizeof(ADF_TEMP_FID));
	der_put(&w, 0x84, USIM_AID, sizeof(USIM_AID));
	der_put(&w, 0xC6, PS_TEMPLATE, sizeof(PS_TEMPLATE));
	der_end(&w);
	der_end(&w);
	put_file(&w, 3, imsi, sizeof(imsi)); /* ef-imsi */
	put_file(&w, 4, NULL, 0);            /* ef-arr */
	put_file(&w, 8, NULL, 0);            /* ef-ust */
	put_file(&w, 13, NULL, 0);           /* ef-spn */
	put_file(&w, 14, NULL, 0);           /* ef-est */
	put_file(&w, 18, acc, sizeof(acc));  /* ef-acc */
	put_file(&w, 21, ad, sizeof(ad));    /* ef-ad */
	put_file(&w, 22, NULL, 0);           /* ef-ecc */
	der_end(&w);
	/* PE-AKAParameter */
	der_begin(&w, PE_AKA);
	put_pe_header(&w, 1, id++);
	der_begin(&w, CTXC(1));  /* algoConfiguration (explicit: a CHOICE) */
	der_begin(&w, CTXC(1));  /* algoParameter */
	der_put_uint(&w, CTX(0), 1); /* milenage */
	uint8_t opts = 0x00;         /* no algorithm option set */
	der_put(&w, CTX(1), &opts, 1);
	der_put(&w, CTX(2), s->ki, UPP_KEY_LEN);
	der_put(&w, CTX(3), s->opc, UPP_KEY_LEN);
	der_end(&w);
	der_end(&w);
	der_end(&w);
content:
	/* PE-NonStandard: the credential applet's content; mandated in a
	 * credential-only package (without it the profile is nothing) */
	if (s->app_content != NULL) {
		der_begin(&w, PE_NONSTANDARD);
		put_pe_header(&w, !naa, id++);
		der_put(&w, CTX(1), OID_ISSUER, sizeof(OID_ISSUER));
		der_put(&w, CTX(2), s->app_content, s->app_content_len);
		der_end(&w);
	}
	/* PE-End */
	der_begin(&w, PE_END);
	put_pe_header(&w, 0, id++);
	der_end(&w);
	OPENSSL_cleanse(imsi, sizeof(imsi));
	rc = der_writer_finish(&w, out, len);
	if (rc != 0) {
		if (w.buf != NULL)
			OPENSSL_cleanse(w.buf, w.cap);
		der_writer_clear(&w);
	}
	return rc;
}

/* ---- decoder --------------------------------------------------------- */

typedef struct fields {
	der_tlv f[NFIELDS];
	uint32_t present; /* bit n: field [n] seen */
} fields;

/* Reads the components of a SEQUENCE under AUTOMATIC TAGS: context tags in
 * strictly increasing number, each at most once. Components numbered 31 and
 * up (two-byte tags: extensions of a later version) are skipped. */
static int
read_fields(const uint8_t *buf, size_t len, fields *fs)
{
	der_iter it;
	der_tlv t;
	int rc;
	unsigned last = 0;
	int any = 0;
	memset(fs, 0, sizeof(*fs));
	der_iter_init(&it, buf, len);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		unsigned n;
		if (t.tag <= 0xFFu && (t.tag & 0xC0u) == 0x80u && (t.tag & 0x1Fu) != 0x1Fu)
			n = t.tag & 0x1Fu;
		else if ((t.tag >> 8 == 0x9Fu || t.tag >> 8 == 0xBFu) && (t.tag & 0x80u) == 0 &&
		    (t.tag & 0x7Fu) >= 31)
			n = t.tag & 0x7Fu;
		else
			return TS_EPARSE; /* not a context tag of this SEQUENCE */
		if (any && n <= last)
			return TS_EPARSE; /* out of order or repeated */
		any = 1;
		last = n;
		if (n < NFIELDS) {
			fs->f[n] = t;
			fs->present |= 1u << n;
		}
	}
	return rc;
}

static int
has(const fields *fs, unsigned n)
{
	return (fs->present >> n) & 1u;
}

/* Field [n] must be present (or absent when optional) and primitive. */
static int
want_prim(const fields *fs, unsigned n, int required)
{
	if (!has(fs, n))
		return required ? TS_EPARSE : 0;
	return fs->f[n].tag == CTX(n) ? 0 : TS_EPARSE;
}

static int
want_cons(const fields *fs, unsigned n, int required)
{
	if (!has(fs, n))
		return required ? TS_EPARSE : 0;
	return fs->f[n].tag == CTXC(n) ? 0 : TS_EPARSE;
}

/* A DER INTEGER in 0..max: minimal, non-negative. */
static int
get_uint(const der_tlv *t, uint64_t max, uint64_t *out)
{
	if (t->len == 0 || t->len > 4)
		return t->len == 0 ? TS_EPARSE : TS_ELIMIT;
	if (t->val[0] & 0x80u)
		return TS_EPARSE; /* negative */
	if (t->len > 1 && t->val[0] == 0 && !(t->val[1] & 0x80u))
		return TS_EPARSE; /* not minimal */
	uint64_t v = 0;
	for (size_t i = 0; i < t->len; i++)
		v = v << 8 | t->val[i];
	if (v > max)
		return TS_ELIMIT;
	*out = v;
	return 0;
}

static int
is_null(const der_tlv *t)
{
	return t->len == 0;
}

static int
utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0u) == 0xC0u) {
			k = 1;
			cp = c & 0x1Fu;
		} else if ((c & 0xF0u) == 0xE0u) {
			k = 2;
			cp = c & 0x0Fu;
		} else if ((c & 0xF8u) == 0xF0u) {
			k = 3;
			cp = c & 0x07u;
		} else {
			return 0;
		}
		if (k > n - i - 1)
			return 0; /* truncated sequence */
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0u) != 0x80u)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3Fu);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* PEHeader { [0] mandated NULL OPTIONAL, [1] identification UInt15 }. */
static int
pe_header(const der_tlv *h, int *mandated, unsigned *id)
{
	fields fs;
	uint64_t v;
	int rc;
	if (h->tag != CTXC(0))
		return TS_EPARSE;
	if ((rc = read_fields(h->val, h->len, &fs)) != 0 || (rc = want_prim(&fs, 0, 0)) != 0 ||
	    (rc = want_prim(&fs, 1, 1)) != 0)
		return rc;
	if (has(&fs, 0) && !is_null(&fs.f[0]))
		return TS_EPARSE;
	if ((rc = get_uint(&fs.f[1], 32767, &v)) != 0)
		return rc;
	*mandated = has(&fs, 0);
	*id = (unsigned)v;
	return 0;
}

/* Checks a File (SEQUENCE OF CHOICE { [0] doNotCreate NULL, [1] Fcp,
 * [2] fillFileOffset UInt16, [3] fillFileContent }) and, when body != NULL,
 * lays its content out over body (cap bytes, pre-filled with FF: the
 * default fill): each fillFileOffset skips, each fillFileContent writes at
 * the current position. *created = 0 for doNotCreate; *filled = bytes up to
 * the last written one. */
static int
file_body(const der_tlv *file, uint8_t *body, size_t cap, size_t *filled, int *created)
{
	der_iter it;
	der_tlv t;
	int rc;
	size_t pos = 0, end = 0;
	unsigned n = 0;
	if (body != NULL)
		memset(body, 0xFF, cap);
	*created = 1;
	der_iter_init(&it, file->val, file->len);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		n++;
		if (t.tag == CTX(0)) {
			if (!is_null(&t) || n != 1)
				return TS_EPARSE;
			*created = 0;
		} else if (t.tag == CTXC(1)) {
			if (!*created)
				return TS_EPARSE; /* a file not created has no FCP */
		} else if (t.tag == CTX(2)) {
			uint64_t off;
			if ((rc = get_uint(&t, 65535, &off)) != 0)
				return rc;
			pos += (size_t)off;
		} else if (t.tag == CTX(3)) {
			if (!*created)
				return TS_EPARSE;
			if (body != NULL) {
				if (pos > cap || t.len > cap - pos)
					return TS_ELIMIT;
				memcpy(body + pos, t.val, t.len);
			}
			pos += t.len;
			end = pos;
		} else {
			return TS_EPARSE;
		}
		if (pos > 65535u * 2u)
			return TS_ELIMIT;
	}
	if (rc != 0)
		return rc;
	*filled = end;
	return 0;
}

/* Every File field [from..NFIELDS) present must be a well-formed File. */
static int
check_files(const fields *fs, unsigned from)
{
	for (unsigned n = from; n < NFIELDS; n++) {
		if (!has(fs, n))
			continue;
		size_t filled;
		int created, rc;
		if (fs->f[n].tag != CTXC(n))
			return TS_EPARSE;
		if ((rc = file_body(&fs->f[n], NULL, 0, &filled, &created)) != 0)
			return rc;
	}
	return 0;
}

/* The body of a File we interpret; content required unless optional. */
static int
want_body(const fields *fs, unsigned n, uint8_t *body, size_t cap, size_t *filled)
{
	int created;
	int rc = file_body(&fs->f[n], body, cap, filled, &created);
	if (rc != 0)
		return rc;
	return created ? 0 : TS_EUNSUPP;
}

static int
oid_is(const der_tlv *t, const uint8_t *oid, size_t len)
{
	return t->len == len && memcmp(t->val, oid, len) == 0;
}

static int
decode_header(const der_tlv *pe, upp_sim *s, int *usim)
{
	fields fs, sv;
	uint64_t v;
	int rc;
	if ((rc = read_fields(pe->val, pe->len, &fs)) != 0)
		return rc;
	if ((rc = want_prim(&fs, 0, 1)) != 0 || (rc = want_prim(&fs, 1, 1)) != 0 ||
	    (rc = want_prim(&fs, 2, 0)) != 0 || (rc = want_prim(&fs, 3, 1)) != 0 ||
	    (rc = want_prim(&fs, 4, 0)) != 0 || (rc = want_cons(&fs, 5, 1)) != 0 ||
	    (rc = want_cons(&fs, 6, 1)) != 0 || (rc = want_prim(&fs, 7, 0)) != 0 ||
	    (rc = want_cons(&fs, 8, 0)) != 0 || (rc = want_cons(&fs, 9, 0)) != 0)
		return rc;
	if ((rc = get_uint(&fs.f[0], 255, &v)) != 0)
		return rc;
	s->major = (unsigned)v;
	if ((rc = get_uint(&fs.f[1], 255, &v)) != 0)
		return rc;
	s->minor = (unsigned)v;
	if (s->major != 2 && s->major != 3)
		return TS_EUNSUPP; /* PEStatus unsupported-profile-version */
	if (has(&fs, 2)) {
		const der_tlv *t = &fs.f[2];
		if (t->len < 1 || t->len > UPP_TYPE_MAX || !utf8_valid(t->val, t->len) ||
		    memchr(t->val, 0, t->len) != NULL)
			return TS_EPARSE;
		memcpy(s->profile_type, t->val, t->len);
		s->profile_type[t->len] = '\0';
	}
	if (fs.f[3].len != UPP_ICCID_LEN)
		return TS_EPARSE;
	memcpy(s->iccid, fs.f[3].val, UPP_ICCID_LEN);
	char digits[UPP_ICCID_DIGITS_MAX + 1];
	if ((rc = upp_iccid_decode(s->iccid, digits)) != 0)
		return rc;
	/* ServicesList: NULLs; each one tapshare-se must provide. */
	if ((rc = read_fields(fs.f[5].val, fs.f[5].len, &sv)) != 0)
		return rc;
	for (unsigned n = 0; n < NFIELDS; n++) {
		if (!has(&sv, n))
			continue;
		if (sv.f[n].tag != CTX(n) || !is_null(&sv.f[n]))
			return TS_EPARSE;
		if (n != SVC_USIM && n != SVC_MILENAGE)
			return TS_EUNSUPP;
	}
	*usim = has(&sv, SVC_USIM);
	/* eUICC-Mandatory-GFSTEList: the templates it needs. */
	der_iter it;
	der_tlv t;
	der_iter_init(&it, fs.f[6].val, fs.f[6].len);
	while ((rc = der_iter_next(&it, &t)) == 1) {
		if (t.tag != 0x06 || t.len == 0)
			return TS_EPARSE;
		if (!oid_is(&t, OID_MF, sizeof(OID_MF)) && !oid_is(&t, OID_USIM, sizeof(OID_USIM)))
			return TS_EUNSUPP;
	}
	return rc;
}

/* PE-MF: the template must be id-MF; EF-ICCID, when it has content, must
 * hold the header's ICCID. */
static int
decode_mf(const der_tlv *pe, upp_sim *s, int *mandated, unsigned *id)
{
	fields fs;
	int rc;
	uint8_t body[UPP_ICCID_LEN];
	size_t filled;
	if ((rc = read_fields(pe->val, pe->len, &fs)) != 0)
		return rc;
	if ((rc = want_cons(&fs, 0, 1)) != 0 || (rc = want_prim(&fs, 1, 1)) != 0 ||
	    (rc = want_cons(&fs, 2, 1)) != 0 || (rc = want_cons(&fs, 4, 1)) != 0 ||
	    (rc = want_cons(&fs, 5, 1)) != 0 || (rc = want_cons(&fs, 6, 1)) != 0 ||
	    (rc = pe_header(&fs.f[0], mandated, id)) != 0 || (rc = check_files(&fs, 2)) != 0)
		return rc;
	if (!oid_is(&fs.f[1], OID_MF, sizeof(OID_MF)))
		return TS_EUNSUPP;
	if ((rc = want_body(&fs, 4, body, sizeof(body), &filled)) != 0)
		return rc;
	if (filled != 0 && (filled != UPP_ICCID_LEN || memcmp(body, s->iccid, UPP_ICCID_LEN) != 0))
		return TS_EVERIFY;
	return 0;
}

/* PE-USIM: the template must be id-USIM; EF-IMSI is required (tapshare-se
 * has no template IMSI), EF-AD optional. */
static int
decode_usim(const der_tlv *pe, upp_sim *s, int *mandated, unsigned *id)
{
	fields fs;
	int rc;
	uint8_t body[UPP_EF_IMSI_LEN];
	size_t filled;
	if ((rc = read_fields(pe->val, pe->len, &fs)) != 0)
		return rc;
	if ((rc = want_cons(&fs, 0, 1)) != 0 || (rc = want_prim(&fs, 1, 1)) != 0 ||
	    (rc = want_cons(&fs, 2, 1)) != 0 || (rc = want_cons(&fs, 3, 1)) != 0 ||
	    (rc = want_cons(&fs, 4, 1)) != 0 || (rc = pe_header(&fs.f[0], mandated, id)) != 0 ||
	    (rc = check_files(&fs, 2)) != 0)
		return rc;
	if (!oid_is(&fs.f[1], OID_USIM, sizeof(OID_USIM)))
		return TS_EUNSUPP;
	if ((rc = want_body(&fs, 3, body, sizeof(body), &filled)) != 0)
		return rc;
	if (filled != UPP_EF_IMSI_LEN)
		return TS_EPARSE;
	if ((rc = upp_imsi_decode(body, filled, s->imsi)) != 0)
		return rc;
	s->mnc_len = 0;
	if (has(&fs, 21)) {
		uint8_t ad[16];
		int created;
		if ((rc = file_body(&fs.f[21], ad, sizeof(ad), &filled, &created)) != 0)
			return rc;
		if (created && filled >= 4) {
			unsigned m = ad[3] & 0x0Fu;
			if (m != 2 && m != 3)
				return TS_EPARSE;
			s->mnc_len = m;
		}
	}
	return 0;
}

/* PE-AKAParameter with algoParameter for Milenage. */
static int
decode_aka(const der_tlv *pe, upp_sim *s, int *mandated, unsigned *id)
{
	fields fs, ap;
	der_tlv alt;
	uint64_t v;
	int rc;
	if ((rc = read_fields(pe->val, pe->len, &fs)) != 0)
		return rc;
	if ((rc = want_cons(&fs, 0, 1)) != 0 || (rc = want_cons(&fs, 1, 1)) != 0 ||
	    (rc = want_prim(&fs, 2, 0)) != 0 || (rc = want_prim(&fs, 3, 0)) != 0 ||
	    (rc = want_prim(&fs, 4, 0)) != 0 || (rc = want_cons(&fs, 5, 0)) != 0 ||
	    (rc = pe_header(&fs.f[0], mandated, id)) != 0)
		return rc;
	/* DEFAULT values are not encoded in DER; sequence-number options are
	 * not used by tapshare-se (it runs no AKA), only checked for size. */
	if (has(&fs, 2) && (fs.f[2].len != 1 || fs.f[2].val[0] == 0x02))
		return TS_EPARSE;
	for (unsigned n = 3; n <= 4; n++) {
		static const uint8_t dflt[6] = { 0x00, 0x00, 0x10, 0x00, 0x00, 0x00 };
		if (has(&fs, n) && (fs.f[n].len != 6 || memcmp(fs.f[n].val, dflt, 6) == 0))
			return TS_EPARSE;
	}
	if (has(&fs, 5) && der_validate(fs.f[5].val - fs.f[5].hdr_len, fs.f[5].hdr_len + fs.f[5].len) != 0)
		return TS_EPARSE;
	/* algoConfiguration: exactly one alternative */
	if ((rc = der_read_one(fs.f[1].val, fs.f[1].len, &alt)) != 0)
		return rc == TS_ETRAILING ? TS_EPARSE : rc;
	if (alt.tag == CTXC(0))
		return TS_EUNSUPP; /* mappingParameter: keys of another NAA */
	if (alt.tag != CTXC(1))
		return TS_EPARSE;
	if ((rc = read_fields(alt.val, alt.len, &ap)) != 0)
		return rc;
	if ((rc = want_prim(&ap, 0, 1)) != 0 || (rc = want_prim(&ap, 1, 1)) != 0 ||
	    (rc = want_prim(&ap, 2, 1)) != 0 || (rc = want_prim(&ap, 3, 1)) != 0 ||
	    (rc = want_prim(&ap, 4, 0)) != 0 || (rc = want_prim(&ap, 5, 0)) != 0 ||
	    (rc = want_prim(&ap, 6, 0)) != 0 || (rc = want_prim(&ap, 7, 0)) != 0)
		return rc;
	if ((rc = get_uint(&ap.f[0], 255, &v)) != 0)
		return rc;
	if (v != 1)
		return TS_EUNSUPP; /* TUAK / the test algorithm */
	if (ap.f[1].len != 1)
		return TS_EPARSE;
	if (ap.f[2].len != UPP_KEY_LEN || ap.f[3].len != UPP_KEY_LEN)
		return TS_EUNSUPP; /* Milenage: 128-bit K and OPc */
	if (has(&ap, 4)) {
		if (ap.f[4].len != 5 || memcmp(ap.f[4].val, ROT_DEFAULT, 5) == 0)
			return TS_EPARSE;
		return TS_EUNSUPP; /* operator-specific constants */
	}
	if (has(&ap, 5)) {
		if (ap.f[5].len != 80 || xor_default(ap.f[5].val, 80))
			return TS_EPARSE;
		return TS_EUNSUPP;
	}
	if (has(&ap, 6) && ap.f[6].len != 3)
		return TS_EPARSE;
	if (has(&ap, 7)) {
		/* numberOfKeccak (TUAK only), DEFAULT 1 */
		if ((rc = get_uint(&ap.f[7], 255, &v)) != 0)
			return rc;
		if (v == 1)
			return TS_EPARSE;
	}
	memcpy(s->ki, ap.f[2].val, UPP_KEY_LEN);
	memcpy(s->opc, ap.f[3].val, UPP_KEY_LEN);
	return 0;
}

/* PE-NonStandard: 1 when it is tapshare's (content returned), 0 when it
 * is another issuer's. */
static int
decode_nonstandard(const der_tlv *pe, der_tlv *content, int *mandated, unsigned *id)
{
	fields fs;
	int rc;
	if ((rc = read_fields(pe->val, pe->len, &fs)) != 0)
		return rc;
	if ((rc = want_cons(&fs, 0, 1)) != 0 || (rc = want_prim(&fs, 1, 1)) != 0 ||
	    (rc = want_prim(&fs, 2, 1)) != 0 || (rc = pe_header(&fs.f[0], mandated, id)) != 0)
		return rc;
	if (fs.f[1].len == 0)
		return TS_EPARSE;
	if (!oid_is(&fs.f[1], OID_ISSUER, sizeof(OID_ISSUER)))
		return 0;
	if (fs.f[2].len > UPP_APP_CONTENT_MAX)
		return TS_ELIMIT;
	if (fs.f[2].len == 0)
		return TS_EPARSE; /* an empty credential */
	*content = fs.f[2];
	return 1;
}

/* Any other PE: constructed, a context tag, its first component a PEHeader. */
static int
decode_other(const der_tlv *pe, int *mandated, unsigned *id)
{
	der_tlv h;
	size_t used;
	int rc;
	int ctx_cons = (pe->tag <= 0xFFu && (pe->tag & 0xE0u) == 0xA0u && (pe->tag & 0x1Fu) != 0x1Fu) ||
	    (pe->tag >> 8 == 0xBFu && (pe->tag & 0x80u) == 0);
	if (!ctx_cons)
		return TS_EPARSE;
	if ((rc = der_read(pe->val, pe->len, &h, &used)) != 0)
		return rc == TS_EAGAIN ? TS_EPARSE : rc;
	return pe_header(&h, mandated, id);
}

int
upp_decode(const uint8_t *buf, size_t len, upp_sim *s)
{
	der_iter it;
	der_tlv pe, content = { 0 };
	unsigned ids[UPP_MAX_PES];
	size_t n = 0;
	int rc, have_mf = 0, have_usim = 0, have_aka = 0, have_app = 0, ended = 0, want_usim = 0;
	if (s == NULL)
		return TS_EINVAL;
	memset(s, 0, sizeof(*s));
	if (buf == NULL || len == 0)
		return TS_EPARSE;
	if (len > UPP_MAX_PACKAGE)
		return TS_ELIMIT;
	der_iter_init(&it, buf, len);
	while (!ended && (rc = der_iter_next(&it, &pe)) == 1) {
		int mandated = 0;
		unsigned id = 0;
		if (n == UPP_MAX_PES) {
			rc = TS_ELIMIT;
			goto fail;
		}
		if ((rc = der_validate(pe.val - pe.hdr_len, pe.hdr_len + pe.len)) != 0)
			goto fail;
		if (n == 0) {
			/* The ProfileHeader comes first, once. */
			if (pe.tag != PE_HEADER) {
				rc = TS_EPARSE;
				goto fail;
			}
			if ((rc = decode_header(&pe, s, &want_usim)) != 0)
				goto fail;
			n++;
			continue;
		}
		switch (pe.tag) {
		case PE_HEADER:
			rc = TS_EPARSE;
			break;
		case PE_MF:
			rc = have_mf ? TS_EPARSE : decode_mf(&pe, s, &mandated, &id);
			have_mf = 1;
			break;
		case PE_USIM:
			rc = !have_mf || have_usim ? TS_EPARSE : decode_usim(&pe, s, &mandated, &id);
			have_usim = 1;
			break;
		case PE_AKA:
			rc = !have_usim || have_aka ? TS_EPARSE : decode_aka(&pe, s, &mandated, &id);
			have_aka = 1;
			break;
		case PE_NONSTANDARD:
			rc = decode_nonstandard(&pe, &content, &mandated, &id);
			if (rc == 1) {
				if (have_app) {
					rc = TS_EPARSE;
					break;
				}
				have_app = 1;
				s->app_content = content.val;
				s->app_content_len = content.len;
				rc = 0;
			} else if (rc == 0 && mandated) {
				rc = TS_EUNSUPP; /* a mandated PE of an issuer we do not know */
			}
			break;
		case PE_END:
			if ((rc = read_fields(pe.val, pe.len, &(fields){ 0 })) != 0)
				break;
			rc = decode_other(&pe, &mandated, &id);
			ended = 1;
			break;
		default:
			/* Known PEs tapshare-se does not interpret (PIN, PUK, security
			 * domain, application, RFM, other templates ...) and unknown
			 * ones: skipped unless mandated (PEStatus pe-not-supported). */
			rc = decode_other(&pe, &mandated, &id);
			if (rc == 0 && mandated)
				rc = TS_EUNSUPP;
			break;
		}
		if (rc != 0)
			goto fail;
		for (size_t i = 0; i + 1 < n; i++) {
			if (ids[i] == id) {
				rc = TS_EPARSE; /* identification numbers are unique */
				goto fail;
			}
		}
		ids[n - 1] = id;
		n++;
	}
	if (!ended && rc != 0)
		goto fail;
	if (ended && it.off != len) {
		rc = TS_ETRAILING; /* nothing may follow PE-End */
		goto fail;
	}
	/* A SIM: the usim service, the USIM and its AKA parameter; a
	 * credential-only package: none of them, but tapshare's content. */
	if (!ended || !have_mf || have_usim != want_usim || have_aka != want_usim ||
	    (!want_usim && !have_app)) {
		rc = TS_EPARSE;
		goto fail;
	}
	return 0;
fail:
	upp_sim_clear(s);
	return rc == TS_EAGAIN ? TS_EPARSE : rc; /* a truncated TLV is malformed */
}
