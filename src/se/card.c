/*
 * card.c — ISO 7816-4 transport of the software secure element: APDU parsing
 * (short and extended), logical channels 0..19 (MANAGE CHANNEL; the channel
 * in CLA, ISO/IEC 7816-4 §5.4.1), SELECT of the ISD-R or the credential
 * applet, STORE DATA chaining (GlobalPlatform / SGP.22 ES10) and GET
 * RESPONSE. Each channel has its own selection, STORE DATA chain and unread
 * response; a command on one channel leaves the others' alone.
 *
 * Responses: data is returned up to Ne (Le present; short Le 00 = 256,
 * extended 0000 = 65536, further capped by the caller's buffer). When Le is
 * absent (case 3) or the data does not fit, the card answers 61xx (xx = bytes
 * left, 00 meaning 256 or more) and the reader fetches the rest with GET
 * RESPONSE (INS C0) on the same channel, as in T=0. Any other command on the
 * channel discards its unread response. GET RESPONSE is accepted with CLA
 * 0X/4X and, as deployed LPAs send it, 8X/CX. TERMINAL CAPABILITY (80 AA)
 * with a well-formed A9 template is acknowledged.
 *
 * STORE DATA: P1 11 (more blocks follow) or 91 (last block), P2 the block
 * number counted from 0. A bound package arrives as one series per command
 * (SGP.22 §2.5.5, es10.c); a series longer than 256 blocks (the whole
 * package at once, still accepted) wraps P2 modulo 256. Blocks accumulate up to
 * SE_STORE_MAX bytes over all channels together (6A84 beyond). Any other
 * command on the channel aborts its chain.
 *
 * Status words: 9000 ok, 61xx more data, 6700 wrong length, 6881 channel not
 * open / no free channel, 6985 conditions not satisfied (ISD-R not selected,
 * GET RESPONSE with nothing pending, a package without a download session),
 * 6A80 wrong data (malformed ES10 command), 6A82 not found (other AID), 6A84
 * not enough memory, 6A86 wrong P1/P2 (e.g. closing the basic channel),
 * 6D00 INS not supported, 6E00 CLA not supported; the credential applet's
 * own words are in lib/credapplet.h.
 */
#include "se/card.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/credapplet.h"
#include "lib/der.h"
#include "lib/ts_err.h"
#include "se/card_int.h"

#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_CHANNEL_UNSUPPORTED 0x6881
#define SW_CONDITIONS 0x6985
#define SW_WRONG_DATA 0x6A80
#define SW_NOT_FOUND 0x6A82
#define SW_NO_MEMORY 0x6A84
#define SW_WRONG_P1P2 0x6A86
#define SW_INS_UNSUPPORTED 0x6D00
#define SW_CLA_UNSUPPORTED 0x6E00

#define INS_SELECT 0xA4
#define INS_MANAGE_CHANNEL 0x70
#define INS_STORE_DATA 0xE2
#define INS_GET_RESPONSE 0xC0
#define INS_TERMINAL_CAPABILITY 0xAA

/* T=1, no historical bytes: TS 3B, T0 80 (TD1), TD1 80 (TD2, T=0),
 * TD2 01 (T=1), TCK = XOR(T0..TD2). */
static const uint8_t card_atr[] = { 0x3B, 0x80, 0x80, 0x01, 0x01 };

typedef struct apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	int has_le;
	size_t ne; /* bytes the reader accepts when has_le */
} apdu;

/* ISO 7816-3 §12.1 cases 1..4, short and extended. */
static int
apdu_parse(const uint8_t *b, size_t len, apdu *a)
{
	memset(a, 0, sizeof(*a));
	if (len < 4)
		return TS_EPARSE;
	a->cla = b[0];
	a->ins = b[1];
	a->p1 = b[2];
	a->p2 = b[3];
	if (len == 4)
		return 0; /* case 1 */
	if (len == 5) { /* case 2 short */
		a->has_le = 1;
		a->ne = b[4] == 0 ? 256 : b[4];
		return 0;
	}
	if (b[4] != 0) { /* short Lc */
		size_t lc = b[4];
		if (len == 5 + lc) {
			a->data = b + 5;
			a->lc = lc;
			return 0;
		}
		if (len == 6 + lc) {
			a->data = b + 5;
			a->lc = lc;
			a->has_le = 1;
			a->ne = b[5 + lc] == 0 ? 256 : b[5 + lc];
			return 0;
		}
		return TS_EPARSE;
	}
	/* b[4] == 0: extended length */
	if (len < 7)
		return TS_EPARSE;
	size_t n = ((size_t)b[5] << 8) | b[6];
	if (len == 7) { /* case 2 extended */
		a->has_le = 1;
		a->ne = n == 0 ? 65536 : n;
		return 0;
	}
	if (n == 0)
		return TS_EPARSE;
	if (len == 7 + n) {
		a->data = b + 7;
		a->lc = n;
		return 0;
	}
	if (len == 9 + n) {
		size_t le = ((size_t)b[7 + n] << 8) | b[8 + n];
		a->data = b + 7;
		a->lc = n;
		a->has_le = 1;
		a->ne = le == 0 ? 65536 : le;
		return 0;
	}
	return TS_EPARSE;
}

/* Logical channel from CLA (ISO/IEC 7816-4 §5.4.1): the first inter-industry
 * encoding (b7 b6 = 00) carries channels 0..3 in b2 b1, the further
 * inter-industry encoding (b7 = 1) channels 4..19 as 4 + b4..b1. GlobalPlatform
 * commands (CLA 8x / Cx) use the same bits. -1 for a CLA that is neither. */
static int
apdu_channel(uint8_t cla)
{
	if (cla & 0x40)
		return 4 + (cla & 0x0F);
	if (cla & 0x20)
		return -1;
	return cla & 0x03;
}

static void
resp_drop(se_channel *k)
{
	free(k->resp);
	k->resp = NULL;
	k->resp_len = k->resp_off = 0;
}

static void
chain_drop(se_channel *k)
{
	if (k->chain != NULL) {
		/* Blocks may hold the bound package: keep no copy around. */
		OPENSSL_cleanse(k->chain, k->chain_len);
		free(k->chain);
	}
	k->chain = NULL;
	k->chain_len = 0;
	k->chain_active = 0;
	k->chain_blocks = 0;
}

static void
channel_close(se_channel *k)
{
	chain_drop(k);
	resp_drop(k);
	k->open = 0;
	k->selected = SE_SEL_NONE;
}

/* Bytes held in the STORE DATA chains of all channels. */
static size_t
chains_total(const se_card *c)
{
	size_t n = 0;
	for (int i = 0; i < SE_CHANNELS; i++)
		n += c->ch[i].chain_len;
	return n;
}

static size_t
put_sw(uint8_t *r, size_t off, uint16_t sw)
{
	r[off] = (uint8_t)(sw >> 8);
	r[off + 1] = (uint8_t)sw;
	return off + 2;
}

/* Sends the next piece of the channel's pending response: up to ne bytes (0
 * if the command had no Le), then 9000 or 61xx. */
static size_t
resp_send(se_channel *k, const apdu *a, uint8_t *r, size_t rcap)
{
	size_t left = k->resp_len - k->resp_off;
	size_t n = 0;
	if (a->has_le) {
		n = a->ne;
		if (n > left)
			n = left;
		if (n > rcap - 2)
			n = rcap - 2;
	}
	if (n > 0)
		memcpy(r, k->resp + k->resp_off, n);
	k->resp_off += n;
	left -= n;
	if (left == 0) {
		resp_drop(k);
		return put_sw(r, n, SW_OK);
	}
	return put_sw(r, n, (uint16_t)(0x6100 | (left >= 256 ? 0 : left)));
}

/* Takes ownership of data. */
static size_t
resp_start(se_channel *k, uint8_t *data, size_t len, const apdu *a, uint8_t *r, size_t rcap)
{
	resp_drop(k);
	if (len == 0) {
		free(data);
		return put_sw(r, 0, SW_OK);
	}
	k->resp = data;
	k->resp_len = len;
	k->resp_off = 0;
	return resp_send(k, a, r, rcap);
}

/* FCI 6F { 84 AID } of a selected application. */
static size_t
send_fci(se_channel *k, const uint8_t *aid, size_t aid_len, const apdu *a, uint8_t *r, size_t rcap)
{
	uint8_t *fci = malloc(4 + aid_len);
	if (fci == NULL)
		return put_sw(r, 0, SW_NO_MEMORY);
	fci[0] = 0x6F;
	fci[1] = (uint8_t)(2 + aid_len);
	fci[2] = 0x84;
	fci[3] = (uint8_t)aid_len;
	memcpy(fci + 4, aid, aid_len);
	return resp_start(k, fci, 4 + aid_len, a, r, rcap);
}

/* SELECT by DF name (P1 04): the ISD-R or the credential applet. */
static size_t
do_select(se_channel *k, const apdu *a, uint8_t *r, size_t rcap)
{
	if (a->p1 != 0x04 || (a->p2 != 0x00 && a->p2 != 0x0C))
		return put_sw(r, 0, SW_WRONG_P1P2);
	const uint8_t *aid;
	size_t aid_len;
	if (a->lc == SE_ISDR_AID_LEN && memcmp(a->data, SE_ISDR_AID, SE_ISDR_AID_LEN) == 0) {
		k->selected = SE_SEL_ISDR;
		aid = (const uint8_t *)SE_ISDR_AID;
		aid_len = SE_ISDR_AID_LEN;
	} else if (a->lc == CRED_AID_LEN && memcmp(a->data, CRED_AID, CRED_AID_LEN) == 0) {
		k->selected = SE_SEL_CRED;
		aid = (const uint8_t *)CRED_AID;
		aid_len = CRED_AID_LEN;
	} else {
		k->selected = SE_SEL_NONE;
		return put_sw(r, 0, SW_NOT_FOUND);
	}
	if (a->p2 == 0x0C)
		return put_sw(r, 0, SW_OK);
	return send_fci(k, aid, aid_len, a, r, rcap);
}

/* MANAGE CHANNEL (ISO/IEC 7816-4 §11.1.2): P1 00 opens (P2 00: the card
 * assigns the lowest free channel and answers its number; P2 1..19: that
 * channel), P1 80 closes channel P2 (00: the command's own channel). */
static size_t
do_manage_channel(se_card *c, const apdu *a, int ch, uint8_t *r, size_t rcap)
{
	if (a->p1 == 0x00) {
		if (a->lc != 0)
			return put_sw(r, 0, SW_WRONG_LENGTH);
		int n = a->p2;
		if (n == 0) {
			for (n = 1; n < SE_CHANNELS && c->ch[n].open; n++)
				;
			if (n == SE_CHANNELS)
				return put_sw(r, 0, SW_CHANNEL_UNSUPPORTED);
		} else if (n >= SE_CHANNELS || c->ch[n].open) {
			return put_sw(r, 0, SW_WRONG_P1P2);
		}
		c->ch[n].open = 1;
		c->ch[n].selected = SE_SEL_NONE;
		if (a->p2 != 0)
			return put_sw(r, 0, SW_OK);
		uint8_t *d = malloc(1);
		if (d == NULL) {
			c->ch[n].open = 0;
			return put_sw(r, 0, SW_NO_MEMORY);
		}
		d[0] = (uint8_t)n;
		apdu a2 = *a;
		if (!a2.has_le) { /* the channel number is the answer */
			a2.has_le = 1;
			a2.ne = 1;
		}
		/* The answer belongs to the channel the command came on. */
		return resp_start(&c->ch[ch], d, 1, &a2, r, rcap);
	}
	if (a->p1 == 0x80) {
		if (a->lc != 0)
			return put_sw(r, 0, SW_WRONG_LENGTH);
		int n = a->p2 == 0 ? ch : a->p2;
		if (n <= 0 || n >= SE_CHANNELS || !c->ch[n].open)
			return put_sw(r, 0, SW_WRONG_P1P2);
		channel_close(&c->ch[n]);
		return put_sw(r, 0, SW_OK);
	}
	return put_sw(r, 0, SW_WRONG_P1P2);
}

static size_t
do_store_data(se_card *c, const apdu *a, int ch, uint8_t *r, size_t rcap)
{
	se_channel *k = &c->ch[ch];
	if (k->selected != SE_SEL_ISDR) {
		chain_drop(k);
		return put_sw(r, 0, SW_CONDITIONS);
	}
	if (a->p1 != 0x11 && a->p1 != 0x91) {
		chain_drop(k);
		return put_sw(r, 0, SW_WRONG_P1P2);
	}
	if (a->lc == 0) {
		chain_drop(k);
		return put_sw(r, 0, SW_WRONG_LENGTH);
	}
	if (!k->chain_active) {
		if (a->p2 != 0)
			return put_sw(r, 0, SW_WRONG_P1P2);
		k->chain_active = 1;
	} else if (a->p2 != (k->chain_blocks & 0xFF)) {
		chain_drop(k);
		return put_sw(r, 0, SW_WRONG_P1P2);
	}
	if (a->lc > SE_STORE_MAX - chains_total(c)) {
		chain_drop(k);
		return put_sw(r, 0, SW_NO_MEMORY);
	}
	uint8_t *nb = realloc(k->chain, k->chain_len + a->lc);
	if (nb == NULL) {
		chain_drop(k);
		return put_sw(r, 0, SW_NO_MEMORY);
	}
	k->chain = nb;
	memcpy(k->chain + k->chain_len, a->data, a->lc);
	k->chain_len += a->lc;
	k->chain_blocks++;
	if (a->p1 == 0x11)
		return put_sw(r, 0, SW_OK);

	uint8_t *out = NULL;
	size_t olen = 0;
	uint16_t sw = SW_WRONG_DATA;
	int rc = se_es10_dispatch(c, k->chain, k->chain_len, &out, &olen, &sw);
	chain_drop(k);
	if (rc != 0)
		return put_sw(r, 0, sw);
	return resp_start(k, out, olen, a, r, rcap);
}

/* TERMINAL CAPABILITY (ETSI TS 102 221 §11.1.19; SGP.22 §3.4 has the device
 * send it with its eUICC-related capabilities, tag 83): CLA 80, P1 P2 00 00,
 * data one terminal capability template A9. The card needs nothing from it:
 * a well-formed one is acknowledged. */
static size_t
do_terminal_capability(const apdu *a, uint8_t *r)
{
	der_tlv t;
	if (a->p1 != 0 || a->p2 != 0)
		return put_sw(r, 0, SW_WRONG_P1P2);
	if (a->lc == 0 || der_read_one(a->data, a->lc, &t) != 0 || t.tag != 0xA9 ||
	    der_validate(a->data, a->lc) != 0)
		return put_sw(r, 0, SW_WRONG_DATA);
	return put_sw(r, 0, SW_OK);
}

static size_t
do_cred(se_card *c, const apdu *a, int ch, uint8_t *r, size_t rcap)
{
	uint8_t *out = NULL;
	size_t olen = 0;
	uint16_t sw = SW_WRONG_DATA;
	int rc = se_cred_command(c, a->cla, a->ins, a->p1, a->p2, a->data, a->lc, &out, &olen, &sw);
	if (rc != 0 || sw != SW_OK) {
		free(out);
		return put_sw(r, 0, sw);
	}
	return resp_start(&c->ch[ch], out, olen, a, r, rcap);
}

int
se_card_apdu(se_card *c, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	if (c == NULL || rapdu == NULL || rlen == NULL || rcap < 2)
		return TS_EINVAL;
	apdu a;
	if (capdu == NULL || apdu_parse(capdu, clen, &a) != 0) {
		*rlen = put_sw(rapdu, 0, SW_WRONG_LENGTH);
		return 0;
	}
	if (a.cla == 0xFF) {
		*rlen = put_sw(rapdu, 0, SW_CLA_UNSUPPORTED);
		return 0;
	}
	int ch = apdu_channel(a.cla);
	if (ch < 0) {
		*rlen = put_sw(rapdu, 0, SW_CLA_UNSUPPORTED);
		return 0;
	}
	if (ch >= SE_CHANNELS || !c->ch[ch].open) {
		*rlen = put_sw(rapdu, 0, SW_CHANNEL_UNSUPPORTED);
		return 0;
	}
	se_channel *k = &c->ch[ch];
	int proprietary = (a.cla & 0x80) != 0;

	/* GET RESPONSE is an inter-industry command (CLA 0X / 4X), but LPAs in
	 * the field send it with the class of the STORE DATA it continues (8X /
	 * CX) and eUICCs answer it: so does this card. */
	if (a.ins == INS_GET_RESPONSE) {
		chain_drop(k);
		if (k->resp == NULL)
			*rlen = put_sw(rapdu, 0, SW_CONDITIONS);
		else if (a.p1 != 0 || a.p2 != 0)
			*rlen = put_sw(rapdu, 0, SW_WRONG_P1P2);
		else if (!a.has_le || a.lc != 0)
			*rlen = put_sw(rapdu, 0, SW_WRONG_LENGTH);
		else
			*rlen = resp_send(k, &a, rapdu, rcap);
		return 0;
	}
	/* Any other command on this channel discards its unread response and,
	 * unless it continues it, its STORE DATA chain. */
	resp_drop(k);
	if (a.ins != INS_STORE_DATA || !proprietary)
		chain_drop(k);

	if (!proprietary && a.ins == INS_SELECT) {
		*rlen = do_select(k, &a, rapdu, rcap);
	} else if (!proprietary && a.ins == INS_MANAGE_CHANNEL) {
		*rlen = do_manage_channel(c, &a, ch, rapdu, rcap);
	} else if (proprietary && a.ins == INS_TERMINAL_CAPABILITY) {
		*rlen = do_terminal_capability(&a, rapdu);
	} else if (k->selected == SE_SEL_CRED) {
		*rlen = do_cred(c, &a, ch, rapdu, rcap);
	} else if (a.ins == INS_STORE_DATA) {
		*rlen = proprietary ? do_store_data(c, &a, ch, rapdu, rcap)
		                    : put_sw(rapdu, 0, SW_CLA_UNSUPPORTED);
	} else if (a.ins == INS_SELECT || a.ins == INS_MANAGE_CHANNEL) {
		*rlen = put_sw(rapdu, 0, SW_CLA_UNSUPPORTED);
	} else {
		*rlen = put_sw(rapdu, 0, SW_INS_UNSUPPORTED);
	}
	return 0;
}

void
se_card_reset(se_card *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < SE_CHANNELS; i++)
		channel_close(&c->ch[i]);
	c->ch[0].open = 1;
	se_es10_reset(c);
}

size_t
se_card_atr(const se_card *c, uint8_t *out, size_t cap)
{
	(void)c;
	if (out == NULL || cap < sizeof(card_atr))
		return 0;
	memcpy(out, card_atr, sizeof(card_atr));
	return sizeof(card_atr);
}

int
se_card_open(const char *state_path, se_card **out)
{
	if (state_path == NULL || out == NULL)
		return TS_EINVAL;
	se_card *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TS_ENOMEM;
	int rc = se_state_load(c, state_path);
	if (rc != 0) {
		se_card_free(c);
		return rc;
	}
	c->ch[0].open = 1;
	*out = c;
	return 0;
}

void
se_card_free(se_card *c)
{
	if (c == NULL)
		return;
	se_card_reset(c);
	se_state_clear(c);
	free(c);
}
