/*
 * t4t.c — NFC Forum Type 4 Tag (mapping version 2.0), read-only tag and
 * reader, as pure functions over APDU bytes. Contracts in t4t.h.
 */
#include "lib/t4t.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/ts_err.h"

const uint8_t t4t_ndef_aid[T4T_NDEF_AID_LEN] = { 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01 };

enum { EF_NONE = 0, EF_CC = 1, EF_NDEF = 2 };

#define INS_SELECT 0xA4
#define INS_READ_BINARY 0xB0
#define INS_UPDATE_BINARY 0xD6

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)(v & 0xff);
}

static unsigned
get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* ------------------------------------------------------------------------ */
/* Tag side */

int
t4t_tag_init(t4t_tag *tag, const uint8_t *msg, size_t len, unsigned mle)
{
	if (tag == NULL || (msg == NULL && len > 0))
		return TS_EINVAL;
	if (mle == 0)
		mle = T4T_TAG_MLE_DEFAULT;
	if (mle < T4T_MLE_MIN || mle > T4T_READ_CHUNK_MAX + 1)
		return TS_EINVAL;
	if (len > NDEF_MAX_MESSAGE)
		return TS_ELIMIT;

	memset(tag, 0, sizeof(*tag));
	tag->mle = (uint16_t)mle;
	tag->file_len = T4T_NLEN_LEN + len;
	if (tag->file_len < T4T_NDEF_FILE_MIN)
		tag->file_len = T4T_NDEF_FILE_MIN;
	put16(tag->file, (unsigned)len);
	if (len > 0)
		memcpy(tag->file + T4T_NLEN_LEN, msg, len);

	/* CC layout, T4T 2.0 §5.1: CCLEN, mapping version, MLe, MLc, then the
	 * NDEF File Control TLV (T 04, L 06, file id, max size, read, write). */
	uint8_t *c = tag->cc;
	put16(c, T4T_CC_LEN);
	c[2] = T4T_MAPPING_VERSION;
	put16(c + 3, mle);
	put16(c + 5, T4T_TAG_MLC);
	c[7] = 0x04;
	c[8] = 0x06;
	put16(c + 9, T4T_NDEF_FILE_ID);
	put16(c + 11, (unsigned)tag->file_len);
	c[13] = 0x00; /* read access granted without security */
	c[14] = 0xFF; /* write access: none (read-only tag) */
	return 0;
}

void
t4t_tag_reset(t4t_tag *tag)
{
	if (tag == NULL)
		return;
	tag->app_selected = 0;
	tag->ef = EF_NONE;
}

void
t4t_tag_clear(t4t_tag *tag)
{
	if (tag != NULL)
		OPENSSL_cleanse(tag, sizeof(*tag));
}

/* A short C-APDU split into its cases (ISO 7816-3 §12.1). */
typedef struct capdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t le; /* 1..256 when has_le */
	int has_le;
} capdu;

/* Returns 0, or -1 for a length that fits no short case. */
static int
capdu_split(const uint8_t *b, size_t n, capdu *c)
{
	memset(c, 0, sizeof(*c));
	if (n < 4)
		return -1;
	c->cla = b[0];
	c->ins = b[1];
	c->p1 = b[2];
	c->p2 = b[3];
	if (n == 4)
		return 0; /* case 1 */
	if (n == 5) { /* case 2 */
		c->has_le = 1;
		c->le = b[4] == 0 ? 256 : b[4];
		return 0;
	}
	if (b[4] == 0)
		return -1; /* extended length: not supported */
	c->lc = b[4];
	c->data = b + 5;
	if (n == 5 + c->lc)
		return 0; /* case 3 */
	if (n == 6 + c->lc) { /* case 4 */
		c->has_le = 1;
		c->le = b[n - 1] == 0 ? 256 : b[n - 1];
		return 0;
	}
	return -1;
}

static unsigned
tag_select(t4t_tag *tag, const capdu *c)
{
	if (c->p1 == 0x04 && c->p2 == 0x00) { /* by DF name, first or only */
		if (c->lc == 0)
			return T4T_SW_WRONG_LENGTH;
		if (c->lc != T4T_NDEF_AID_LEN || memcmp(c->data, t4t_ndef_aid, T4T_NDEF_AID_LEN) != 0)
			return T4T_SW_NOT_FOUND;
		tag->app_selected = 1;
		tag->ef = EF_NONE;
		return T4T_SW_OK;
	}
	if (c->p1 == 0x00 && c->p2 == 0x0C) { /* by file id, no response data */
		if (c->lc != 2 || c->has_le)
			return T4T_SW_WRONG_LENGTH;
		if (!tag->app_selected)
			return T4T_SW_NOT_FOUND;
		unsigned fid = get16(c->data);
		if (fid == T4T_CC_FILE_ID)
			tag->ef = EF_CC;
		else if (fid == T4T_NDEF_FILE_ID)
			tag->ef = EF_NDEF;
		else
			return T4T_SW_NOT_FOUND;
		return T4T_SW_OK;
	}
	return T4T_SW_WRONG_P1P2;
}

/* READ BINARY: writes up to Le bytes at the offset into out; *n gets the
 * count. */
static unsigned
tag_read(const t4t_tag *tag, const capdu *c, uint8_t *out, size_t *n)
{
	*n = 0;
	if (c->lc != 0 || !c->has_le)
		return T4T_SW_WRONG_LENGTH;
	if (tag->ef == EF_NONE)
		return T4T_SW_NO_EF;
	if (c->p1 & 0x80)
		return T4T_SW_WRONG_OFFSET; /* short EF identifier: not supported */
	if (c->le > tag->mle)
		return T4T_SW_WRONG_LENGTH;
	const uint8_t *f = tag->ef == EF_CC ? tag->cc : tag->file;
	size_t flen = tag->ef == EF_CC ? sizeof(tag->cc) : tag->file_len;
	size_t off = (size_t)c->p1 << 8 | c->p2;
	if (off >= flen)
		return T4T_SW_WRONG_OFFSET;
	size_t take = flen - off < c->le ? flen - off : c->le;
	memcpy(out, f + off, take);
	*n = take;
	return take < c->le ? T4T_SW_EOF : T4T_SW_OK;
}

int
t4t_tag_apdu(t4t_tag *tag, const uint8_t *capdu_buf, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	uint8_t data[T4T_RAPDU_MAX];
	size_t n = 0;
	unsigned sw;
	capdu c;

	if (tag == NULL || (capdu_buf == NULL && clen > 0) || rapdu == NULL || rlen == NULL)
		return TS_EINVAL;
	*rlen = 0;

	/* CLA, then INS, then lengths and parameters: the order cards use, so a
	 * reader probing with a foreign CLA learns nothing else. */
	if (clen >= 1 && capdu_buf[0] != 0x00)
		sw = T4T_SW_CLA;
	else if (clen >= 2 && capdu_buf[1] != INS_SELECT && capdu_buf[1] != INS_READ_BINARY &&
	    capdu_buf[1] != INS_UPDATE_BINARY)
		sw = T4T_SW_INS;
	else if (capdu_split(capdu_buf, clen, &c) != 0)
		sw = T4T_SW_WRONG_LENGTH;
	else if (c.ins == INS_SELECT)
		sw = tag_select(tag, &c);
	else if (c.ins == INS_READ_BINARY)
		sw = tag_read(tag, &c, data, &n);
	else
		sw = T4T_SW_SECURITY; /* UPDATE BINARY: write access is FF */

	if (rcap < n + 2)
		return TS_ELIMIT;
	memcpy(rapdu, data, n);
	put16(rapdu + n, sw);
	*rlen = n + 2;
	OPENSSL_cleanse(data, n);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Reader side */

int
t4t_cc_parse(const uint8_t *buf, size_t len, t4t_cc *out)
{
	if (buf == NULL || out == NULL)
		return TS_EINVAL;
	if (len < T4T_CC_LEN)
		return TS_EPARSE;
	t4t_cc cc;
	cc.cclen = (uint16_t)get16(buf);
	cc.version = buf[2];
	cc.mle = (uint16_t)get16(buf + 3);
	cc.mlc = (uint16_t)get16(buf + 5);
	if (cc.cclen < T4T_CC_LEN)
		return TS_EPARSE;
	if (buf[7] != 0x04 || buf[8] != 0x06)
		return TS_EPARSE;
	cc.ndef_file_id = (uint16_t)get16(buf + 9);
	cc.ndef_max = (uint16_t)get16(buf + 11);
	cc.read_access = buf[13];
	cc.write_access = buf[14];

	if ((cc.version >> 4) != 2)
		return TS_EUNSUPP;
	if (cc.mle < T4T_MLE_MIN || cc.mlc == 0)
		return TS_EPROTO;
	switch (cc.ndef_file_id) {
	case 0x0000: case 0xE102: case 0xE103: case 0x3F00: case 0x3FFF: case 0xFFFF:
		return TS_EPROTO;
	default:
		break;
	}
	if (cc.ndef_max < T4T_NDEF_FILE_MIN || cc.ndef_max > 0xFFFE)
		return TS_EPROTO;
	if (cc.read_access != 0x00)
		return TS_EUNSUPP;
	*out = cc;
	return 0;
}

typedef struct reader {
	t4t_xfer_fn xfer;
	void *arg;
	uint8_t r[T4T_RAPDU_MAX];
	size_t rlen;
} reader;

/* One exchange; expects SW 9000 and, when want >= 0, exactly want data
 * bytes (want < 0: any data, ignored — e.g. FCI after SELECT). */
static int
exchange(reader *rd, const uint8_t *c, size_t clen, long want)
{
	rd->rlen = 0;
	int rc = rd->xfer(rd->arg, c, clen, rd->r, sizeof(rd->r), &rd->rlen);
	if (rc != 0)
		return rc;
	if (rd->rlen < 2 || rd->rlen > sizeof(rd->r))
		return TS_EPROTO;
	unsigned sw = get16(rd->r + rd->rlen - 2);
	if (sw == T4T_SW_NOT_FOUND)
		return TS_ENOTFOUND;
	if (sw != T4T_SW_OK)
		return TS_EPROTO;
	if (want >= 0 && rd->rlen - 2 != (size_t)want)
		return TS_EPROTO;
	return 0;
}

static int
select_file(reader *rd, unsigned fid)
{
	uint8_t c[7] = { 0x00, INS_SELECT, 0x00, 0x0C, 0x02, 0, 0 };
	put16(c + 5, fid);
	return exchange(rd, c, sizeof(c), 0);
}

static int
read_binary(reader *rd, size_t off, size_t n)
{
	/* off < 8000h (P1 bit 8 clear) and 1 <= n <= 255 hold for every call:
	 * offsets stay below T4T_NDEF_FILE_MAX. */
	uint8_t c[5] = { 0x00, INS_READ_BINARY, (uint8_t)(off >> 8), (uint8_t)(off & 0xff),
		(uint8_t)n };
	return exchange(rd, c, sizeof(c), (long)n);
}

int
t4t_read_ndef(t4t_xfer_fn xfer, void *arg, uint8_t **out, size_t *outlen, t4t_cc *ccout)
{
	static const uint8_t select_app[] = { 0x00, INS_SELECT, 0x04, 0x00, T4T_NDEF_AID_LEN, 0xD2,
		0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00 };
	reader rd;
	t4t_cc cc;
	uint8_t *msg = NULL;
	int rc;

	if (xfer == NULL || out == NULL || outlen == NULL)
		return TS_EINVAL;
	*out = NULL;
	*outlen = 0;
	memset(&rd, 0, sizeof(rd));
	rd.xfer = xfer;
	rd.arg = arg;

	if ((rc = exchange(&rd, select_app, sizeof(select_app), -1)) != 0)
		goto fail;
	if ((rc = select_file(&rd, T4T_CC_FILE_ID)) != 0)
		goto fail;
	if ((rc = read_binary(&rd, 0, T4T_CC_LEN)) != 0)
		goto fail;
	if ((rc = t4t_cc_parse(rd.r, T4T_CC_LEN, &cc)) != 0)
		goto fail;
	if ((rc = select_file(&rd, cc.ndef_file_id)) != 0)
		goto fail;
	if ((rc = read_binary(&rd, 0, T4T_NLEN_LEN)) != 0)
		goto fail;
	size_t nlen = get16(rd.r);
	if (nlen > (size_t)cc.ndef_max - T4T_NLEN_LEN) {
		rc = TS_EPROTO;
		goto fail;
	}
	if (nlen > NDEF_MAX_MESSAGE) {
		rc = TS_ELIMIT;
		goto fail;
	}
	if (nlen > 0) {
		size_t chunk = cc.mle < T4T_READ_CHUNK_MAX ? cc.mle : T4T_READ_CHUNK_MAX;
		msg = malloc(nlen);
		if (msg == NULL) {
			rc = TS_ENOMEM;
			goto fail;
		}
		for (size_t got = 0; got < nlen;) {
			size_t n = nlen - got < chunk ? nlen - got : chunk;
			if ((rc = read_binary(&rd, T4T_NLEN_LEN + got, n)) != 0)
				goto fail;
			memcpy(msg + got, rd.r, n);
			got += n;
		}
	}
	OPENSSL_cleanse(rd.r, sizeof(rd.r));
	if (ccout != NULL)
		*ccout = cc;
	*out = msg;
	*outlen = nlen;
	return 0;

fail:
	OPENSSL_cleanse(rd.r, sizeof(rd.r));
	free(msg);
	return rc;
}
