/*
 * test_se_client.c — the companion's ES10 client (device/se_client) on its
 * transport: logical channels (MANAGE CHANNEL, SELECT of the ISD-R on the
 * channel, the channel in the CLA of every STORE DATA and GET RESPONSE,
 * close at the end), the fall-back to the basic channel, and selecting again
 * after the card was reset or the ISD-R deselected.
 *
 * The card is the real software SE (se/card.h), reached through a wrapper
 * transport (se_driver_new) that records every command APDU and can play a
 * card that differs: one without logical channels, one that assigns channel
 * numbers of the further inter-industry class (4..19), a T=0-like card that
 * answers 61xx. The expected APDUs are written out by hand from ISO/IEC
 * 7816-4 §5.4.1 (class byte), §11.1.2 (MANAGE CHANNEL), GlobalPlatform
 * STORE DATA and SGP.22 §5.7 (ISD-R AID), not produced by the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device/se_client.h"
#include "device/se_driver.h"
#include "lib/eid.h"
#include "lib/pki.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "lib/es10.h"
#include "se/card.h"

#define TEST_EID "89049032123451234512345678901235"
#define LOG_MAX 64
#define LOG_BYTES 300

static char dir[64];
static char pki_dir[128];
static int state_counter;

/* The wrapper card. */
typedef struct wrap {
	se_card *card;
	uint16_t refuse_mc; /* answer MANAGE CHANNEL with this SW (0 = pass it on) */
	int assign;         /* report this channel number for the card's channel 1 (0 = as is) */
	int strip_le;       /* drop Le from case-4 STORE DATA: the card answers 61xx */
	/* answer the last STORE DATA block with these bytes + 9000 (0 = pass it on) */
	const uint8_t *inject;
	size_t inject_len;
	size_t n;
	struct {
		uint8_t b[LOG_BYTES];
		size_t len;
		uint16_t sw;
	} log[LOG_MAX];
} wrap;

/* Channel of a class byte, decoded here independently of se_cla. */
static int
cla_channel(uint8_t cla)
{
	return (cla & 0x40) ? 4 + (cla & 0x0F) : cla & 0x03;
}

static int
wrap_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	wrap *w = ctx;
	uint8_t c[SE_APDU_MAX];
	assert_true(clen <= sizeof(c));
	memcpy(c, capdu, clen);
	int rc = 0;
	if (c[1] == 0x70 && w->refuse_mc != 0) {
		rapdu[0] = (uint8_t)(w->refuse_mc >> 8);
		rapdu[1] = (uint8_t)w->refuse_mc;
		*rlen = 2;
		goto logit;
	}
	if (w->inject != NULL && c[1] == 0xE2 && c[2] == 0x91) {
		assert_true(w->inject_len + 2 <= rcap);
		memcpy(rapdu, w->inject, w->inject_len);
		rapdu[w->inject_len] = 0x90;
		rapdu[w->inject_len + 1] = 0x00;
		*rlen = w->inject_len + 2;
		goto logit;
	}
	if (w->assign != 0 && cla_channel(c[0]) == w->assign) /* to the card's channel 1 */
		c[0] = (uint8_t)((c[0] & 0x80) | 0x01);
	if (w->assign != 0 && c[1] == 0x70 && c[2] == 0x80 && c[3] == w->assign)
		c[3] = 0x01;
	if (w->strip_le && c[1] == 0xE2 && clen == 6u + c[4])
		clen--;
	rc = se_card_apdu(w->card, c, clen, rapdu, rcap, rlen);
	if (rc == 0 && w->assign != 0 && c[1] == 0x70 && c[2] == 0x00 && *rlen == 3 &&
	    rapdu[0] == 0x01)
		rapdu[0] = (uint8_t)w->assign;
logit:
	if (rc == 0 && w->n < LOG_MAX) {
		size_t k = clen < LOG_BYTES ? clen : LOG_BYTES;
		memcpy(w->log[w->n].b, capdu, k);
		w->log[w->n].len = clen;
		w->log[w->n].sw = (uint16_t)(rapdu[*rlen - 2] << 8 | rapdu[*rlen - 1]);
		w->n++;
	}
	return rc;
}

static int
wrap_reset(void *ctx)
{
	wrap *w = ctx;
	se_card_reset(w->card);
	return 0;
}

static void
wrap_close(void *ctx)
{
	(void)ctx; /* the test frees the card after looking at the log */
}

static const struct se_driver_ops wrap_ops = {
	.name = "wrap",
	.transmit = wrap_transmit,
	.reset = wrap_reset,
	.close = wrap_close,
};

static int
group_setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/ts-sec-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
	const char *eids[] = { TEST_EID };
	return pki_testpki_generate(pki_dir, "89049032", eids, 1) == 0 ? 0 : -1;
}

static int
group_teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static se_driver *
wrap_open(wrap *w)
{
	char state[256];
	memset(w, 0, sizeof(*w));
	snprintf(state, sizeof(state), "%s/se-%d.state", dir, state_counter++);
	assert_int_equal(se_card_init_state(state, pki_dir, TEST_EID), 0);
	assert_int_equal(se_card_open(state, &w->card), 0);
	se_driver *d = NULL;
	assert_int_equal(se_driver_new(&wrap_ops, w, &d), 0);
	return d;
}

/* Hand-written APDUs. */
static const uint8_t MC_OPEN[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
#define ISDR_AID_BYTES 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, \
	0x89, 0x00, 0x00, 0x01, 0x00
#define GET_EID_BYTES 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A

static void
expect_apdu(const wrap *w, size_t i, const uint8_t *want, size_t len, uint16_t sw)
{
	assert_true(i < w->n);
	assert_int_equal(w->log[i].len, len);
	assert_memory_equal(w->log[i].b, want, len);
	assert_int_equal(w->log[i].sw, sw);
}

static void
test_cla_encoding(void **st)
{
	(void)st;
	/* ISO/IEC 7816-4 §5.4.1: 0..3 in b2..b1; 4..19 as 0100xxxx (+ b8 for proprietary). */
	static const struct { int ch; uint8_t inter, prop; } v[] = {
		{ 0, 0x00, 0x80 }, { 1, 0x01, 0x81 }, { 2, 0x02, 0x82 }, { 3, 0x03, 0x83 },
		{ 4, 0x40, 0xC0 }, { 5, 0x41, 0xC1 }, { 12, 0x48, 0xC8 }, { 19, 0x4F, 0xCF },
	};
	for (size_t i = 0; i < TS_ARRAY_LEN(v); i++) {
		assert_int_equal(se_cla(0x00, v[i].ch), v[i].inter);
		assert_int_equal(se_cla(0x80, v[i].ch), v[i].prop);
	}
	assert_int_equal(se_cla(0x00, 20), 0xFF);
	assert_int_equal(se_cla(0x80, -1), 0xFF);
}

/* Open, select on channel 1, STORE DATA with CLA 81, close on free. */
static void
test_logical_channel(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	eid_t eid;
	assert_int_equal(se_get_eid(d, &eid), 0);
	assert_string_equal(eid.digits, TEST_EID);
	assert_int_equal(se_get_eid(d, &eid), 0); /* no second MANAGE CHANNEL / SELECT */
	assert_int_equal(se_driver_channels(d), 1u << 1);
	assert_int_equal(se_driver_app_channel(d, SE_APP_ISDR), 1);

	static const uint8_t sel[] = { 0x01, 0xA4, 0x04, 0x00, 0x10, ISDR_AID_BYTES, 0x00 };
	static const uint8_t sd[] = { 0x81, 0xE2, 0x91, 0x00, 0x06, GET_EID_BYTES, 0x00 };
	static const uint8_t close1[] = { 0x01, 0x70, 0x80, 0x01 };
	expect_apdu(&w, 0, MC_OPEN, sizeof(MC_OPEN), 0x9000);
	expect_apdu(&w, 1, sel, sizeof(sel), 0x9000);
	expect_apdu(&w, 2, sd, sizeof(sd), 0x9000);
	expect_apdu(&w, 3, sd, sizeof(sd), 0x9000);
	assert_int_equal(w.n, 4);
	se_driver_free(d);
	expect_apdu(&w, 4, close1, sizeof(close1), 0x9000);
	assert_int_equal(w.n, 5);
	se_card_free(w.card);
}

/* A card that hands out channel 5: CLA 41 / C1 (further inter-industry). */
static void
test_channel_above_3(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	w.assign = 5;
	eid_t eid;
	assert_int_equal(se_get_eid(d, &eid), 0);
	assert_string_equal(eid.digits, TEST_EID);
	static const uint8_t sel[] = { 0x41, 0xA4, 0x04, 0x00, 0x10, ISDR_AID_BYTES, 0x00 };
	static const uint8_t sd[] = { 0xC1, 0xE2, 0x91, 0x00, 0x06, GET_EID_BYTES, 0x00 };
	static const uint8_t close5[] = { 0x41, 0x70, 0x80, 0x05 };
	expect_apdu(&w, 0, MC_OPEN, sizeof(MC_OPEN), 0x9000);
	expect_apdu(&w, 1, sel, sizeof(sel), 0x9000);
	expect_apdu(&w, 2, sd, sizeof(sd), 0x9000);
	se_driver_free(d);
	expect_apdu(&w, 3, close5, sizeof(close5), 0x9000);
	assert_int_equal(w.n, 4);
	se_card_free(w.card);
}

/* No Le on the card's side (T=0 style): 61xx, GET RESPONSE on the channel. */
static void
test_get_response_on_channel(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	w.strip_le = 1;
	eid_t eid;
	assert_int_equal(se_get_eid(d, &eid), 0);
	assert_string_equal(eid.digits, TEST_EID);
	/* BF3E 12 5A 10 <16>: 0x15 bytes */
	static const uint8_t gr[] = { 0x01, 0xC0, 0x00, 0x00, 0x15 };
	assert_int_equal(w.n, 4);
	assert_int_equal(w.log[2].sw, 0x6115);
	expect_apdu(&w, 3, gr, sizeof(gr), 0x9000);
	se_driver_free(d);
	se_card_free(w.card);
}

/* MANAGE CHANNEL refused (no channel support): the basic channel, once. */
static void
test_basic_channel_fallback(void **st)
{
	(void)st;
	static const uint16_t refusals[] = { 0x6881, 0x6D00, 0x6E00, 0x6A81 };
	for (size_t i = 0; i < TS_ARRAY_LEN(refusals); i++) {
		wrap w;
		se_driver *d = wrap_open(&w);
		w.refuse_mc = refusals[i];
		eid_t eid;
		assert_int_equal(se_get_eid(d, &eid), 0);
		assert_string_equal(eid.digits, TEST_EID);
		static const uint8_t sel[] = { 0x00, 0xA4, 0x04, 0x00, 0x10, ISDR_AID_BYTES, 0x00 };
		static const uint8_t sd[] = { 0x80, 0xE2, 0x91, 0x00, 0x06, GET_EID_BYTES, 0x00 };
		expect_apdu(&w, 0, MC_OPEN, sizeof(MC_OPEN), refusals[i]);
		expect_apdu(&w, 1, sel, sizeof(sel), 0x9000);
		expect_apdu(&w, 2, sd, sizeof(sd), 0x9000);
		assert_int_equal(se_driver_app_channel(d, SE_APP_ISDR), 0);
		assert_int_equal(se_driver_channels(d), 0);
		/* A card reset (another PC/SC client) deselects the ISD-R: 6985,
		 * then SELECT again on the basic channel, without asking for a
		 * channel again. */
		se_card_reset(w.card);
		assert_int_equal(se_get_eid(d, &eid), 0);
		assert_int_equal(w.n, 6);
		expect_apdu(&w, 3, sd, sizeof(sd), 0x6985);
		expect_apdu(&w, 4, sel, sizeof(sel), 0x9000);
		expect_apdu(&w, 5, sd, sizeof(sd), 0x9000);
		/* Another application (the credential applet) would not ask again. */
		int ch = -1;
		assert_int_equal(se_driver_open_channel(d, &ch), TS_EUNSUPP);
		assert_int_equal(w.n, 6);
		se_driver_free(d);
		assert_int_equal(w.n, 6); /* nothing to close */
		se_card_free(w.card);
	}
}

/* Any other answer to MANAGE CHANNEL is an error, not a silent fall-back. */
static void
test_manage_channel_error(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	w.refuse_mc = 0x6F00;
	eid_t eid;
	assert_int_equal(se_get_eid(d, &eid), TS_EPROTO);
	assert_int_equal(w.n, 1);
	se_driver_free(d);
	se_card_free(w.card);
}

/* The card was reset: channel 1 is gone (6881); open and select again. */
static void
test_reopen_after_reset(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	eid_t eid;
	assert_int_equal(se_get_eid(d, &eid), 0);
	se_card_reset(w.card);
	assert_int_equal(se_get_eid(d, &eid), 0);
	assert_string_equal(eid.digits, TEST_EID);
	static const uint8_t sel[] = { 0x01, 0xA4, 0x04, 0x00, 0x10, ISDR_AID_BYTES, 0x00 };
	static const uint8_t sd[] = { 0x81, 0xE2, 0x91, 0x00, 0x06, GET_EID_BYTES, 0x00 };
	static const uint8_t close1[] = { 0x01, 0x70, 0x80, 0x01 };
	assert_int_equal(w.n, 7);
	expect_apdu(&w, 2, sd, sizeof(sd), 0x9000);
	expect_apdu(&w, 3, sd, sizeof(sd), 0x6881);
	expect_apdu(&w, 4, MC_OPEN, sizeof(MC_OPEN), 0x9000);
	expect_apdu(&w, 5, sel, sizeof(sel), 0x9000);
	expect_apdu(&w, 6, sd, sizeof(sd), 0x9000);
	se_driver_free(d);
	expect_apdu(&w, 7, close1, sizeof(close1), 0x9000);
	se_card_free(w.card);
}

/* Something else selected on our channel: 6985, SELECT again on it. */
static void
test_reselect_on_channel(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	eid_t eid;
	assert_int_equal(se_get_eid(d, &eid), 0);
	static const uint8_t other[] = { 0x01, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x00, 0x01 };
	uint8_t r[16];
	size_t rl = 0;
	assert_int_equal(se_driver_transmit(d, other, sizeof(other), r, sizeof(r), &rl), 0);
	assert_int_equal(rl, 2);
	assert_int_equal(r[0] << 8 | r[1], 0x6A82);
	assert_int_equal(se_get_eid(d, &eid), 0);
	static const uint8_t sel[] = { 0x01, 0xA4, 0x04, 0x00, 0x10, ISDR_AID_BYTES, 0x00 };
	static const uint8_t sd[] = { 0x81, 0xE2, 0x91, 0x00, 0x06, GET_EID_BYTES, 0x00 };
	/* 0 open, 1 select, 2 sd, 3 other, 4 sd 6985, 5 select on the same channel, 6 sd */
	assert_int_equal(w.n, 7);
	expect_apdu(&w, 4, sd, sizeof(sd), 0x6985);
	expect_apdu(&w, 5, sel, sizeof(sel), 0x9000);
	expect_apdu(&w, 6, sd, sizeof(sd), 0x9000);
	assert_int_equal(se_driver_channels(d), 1u << 1);
	se_driver_free(d);
	se_card_free(w.card);
}


/* ---- SGP.22 requests and result codes, with hand-written bytes ---- */

/* The data of the last STORE DATA the client sent (log entry i). */
static void
expect_store_data(const wrap *w, size_t i, const uint8_t *want, size_t len)
{
	assert_true(i < w->n);
	assert_int_equal(w->log[i].b[1], 0xE2);
	assert_int_equal(w->log[i].b[2], 0x91);
	assert_int_equal(w->log[i].b[4], len);
	assert_int_equal(w->log[i].len, 5 + len + 1);
	assert_memory_equal(w->log[i].b + 5, want, len);
}

/* ICCID 89014103211118510720 as SGP.22 carries it (5A, nibble-swapped). */
static const uint8_t ICCID_BYTES[ES10_ICCID_LEN] = {
	0x98, 0x10, 0x14, 0x30, 0x12, 0x11, 0x81, 0x15, 0x70, 0x02,
};

static es10_profile_id
iccid_id(void)
{
	es10_profile_id id;
	memset(&id, 0, sizeof(id));
	id.kind = ES10_ID_ICCID;
	memcpy(id.iccid, ICCID_BYTES, ES10_ICCID_LEN);
	return id;
}

static void
test_requests_bytes(void **st)
{
	(void)st;
	wrap w;
	se_driver *d = wrap_open(&w);
	static const uint8_t ok31[] = { 0xBF, 0x31, 0x03, 0x80, 0x01, 0x00 };
	es10_profile_id id = iccid_id();
	int res = -5;

	/* EnableProfile { A0 { 5A iccid }, 81 refreshFlag } (SGP.22 §5.7.16) */
	w.inject = ok31;
	w.inject_len = sizeof(ok31);
	assert_int_equal(se_enable_profile(d, &id, 1, &res), 0);
	assert_int_equal(res, 0);
	static const uint8_t en[] = { 0xBF, 0x31, 0x11, 0xA0, 0x0C, 0x5A, 0x0A, 0x98, 0x10, 0x14,
		0x30, 0x12, 0x11, 0x81, 0x15, 0x70, 0x02, 0x81, 0x01, 0xFF };
	expect_store_data(&w, w.n - 1, en, sizeof(en));

	/* DisableProfile by ISD-P AID, refreshFlag false */
	static const uint8_t ok32[] = { 0xBF, 0x32, 0x03, 0x80, 0x01, 0x00 };
	w.inject = ok32;
	w.inject_len = sizeof(ok32);
	es10_profile_id aid;
	memset(&aid, 0, sizeof(aid));
	aid.kind = ES10_ID_ISDP_AID;
	static const uint8_t isdp[] = { 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF,
		0xFF, 0x89, 0x00, 0x00, 0x10, 0x00 };
	memcpy(aid.aid, isdp, sizeof(isdp));
	aid.aid_len = sizeof(isdp);
	assert_int_equal(se_disable_profile(d, &aid, 0, NULL), 0);
	static const uint8_t dis[] = { 0xBF, 0x32, 0x17, 0xA0, 0x12, 0x4F, 0x10, 0xA0, 0x00, 0x00,
		0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x00,
		0x81, 0x01, 0x00 };
	expect_store_data(&w, w.n - 1, dis, sizeof(dis));

	/* DeleteProfile { 4F aid } (§5.7.18: the CHOICE directly) */
	static const uint8_t ok33[] = { 0xBF, 0x33, 0x03, 0x80, 0x01, 0x00 };
	w.inject = ok33;
	w.inject_len = sizeof(ok33);
	assert_int_equal(se_delete_profile(d, &aid, NULL), 0);
	static const uint8_t del[] = { 0xBF, 0x33, 0x12, 0x4F, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59,
		0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x00 };
	expect_store_data(&w, w.n - 1, del, sizeof(del));

	/* SetNickname { 5A iccid, 90 nickname } (§5.7.21) */
	static const uint8_t ok29[] = { 0xBF, 0x29, 0x03, 0x80, 0x01, 0x00 };
	w.inject = ok29;
	w.inject_len = sizeof(ok29);
	assert_int_equal(se_set_nickname(d, ICCID_BYTES, "my sim", NULL), 0);
	static const uint8_t nick[] = { 0xBF, 0x29, 0x14, 0x5A, 0x0A, 0x98, 0x10, 0x14, 0x30, 0x12,
		0x11, 0x81, 0x15, 0x70, 0x02, 0x90, 0x06, 'm', 'y', ' ', 's', 'i', 'm' };
	expect_store_data(&w, w.n - 1, nick, sizeof(nick));

	/* NotificationSent { 80 seqNumber } (§5.7.11) */
	static const uint8_t ok30[] = { 0xBF, 0x30, 0x03, 0x80, 0x01, 0x00 };
	w.inject = ok30;
	w.inject_len = sizeof(ok30);
	assert_int_equal(se_remove_notification(d, 300, NULL), 0);
	static const uint8_t sent[] = { 0xBF, 0x30, 0x04, 0x80, 0x02, 0x01, 0x2C };
	expect_store_data(&w, w.n - 1, sent, sizeof(sent));

	/* ListNotification without filter: BF28 00; empty list back */
	static const uint8_t list0[] = { 0xBF, 0x28, 0x02, 0xA0, 0x00 };
	w.inject = list0;
	w.inject_len = sizeof(list0);
	es10_notif_list nl;
	assert_int_equal(se_list_notifications(d, 0, &nl), 0);
	assert_int_equal(nl.n, 0);
	es10_notif_list_clear(&nl);
	static const uint8_t ln[] = { 0xBF, 0x28, 0x00 };
	expect_store_data(&w, w.n - 1, ln, sizeof(ln));

	/* RetrieveNotificationsList { A0 { 80 seqNumber } }; noResultAvailable = empty */
	static const uint8_t nores[] = { 0xBF, 0x2B, 0x03, 0x81, 0x01, 0x01 };
	w.inject = nores;
	w.inject_len = sizeof(nores);
	es10_retrieve_req rq = { .by = ES10_RETRIEVE_SEQ, .seq = 7 };
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	es10_pending_list pl;
	assert_int_equal(se_retrieve_notifications(d, &rq, &raw, &rawlen, &pl), 0);
	assert_int_equal(pl.n, 0);
	es10_pending_list_clear(&pl);
	free(raw);
	static const uint8_t rt[] = { 0xBF, 0x2B, 0x05, 0xA0, 0x03, 0x80, 0x01, 0x07 };
	expect_store_data(&w, w.n - 1, rt, sizeof(rt));

	/* ProfileInfoList, everything: BF2D 00 */
	static const uint8_t pl0[] = { 0xBF, 0x2D, 0x02, 0xA0, 0x00 };
	w.inject = pl0;
	w.inject_len = sizeof(pl0);
	es10_profile_list prl;
	assert_int_equal(se_get_profiles(d, NULL, &prl, NULL), 0);
	assert_int_equal(prl.n, 0);
	es10_profile_list_clear(&prl);
	static const uint8_t pi[] = { 0xBF, 0x2D, 0x00 };
	expect_store_data(&w, w.n - 1, pi, sizeof(pi));

	/* eUICCMemoryReset { 82 resetOptions }: deleteOperationalProfiles and
	 * deleteFieldLoadedTestProfiles = bits 0 and 1: 02 06 C0 */
	static const uint8_t ok34[] = { 0xBF, 0x34, 0x03, 0x80, 0x01, 0x00 };
	w.inject = ok34;
	w.inject_len = sizeof(ok34);
	assert_int_equal(se_memory_reset(d, ES10_RESET_OPERATIONAL | ES10_RESET_TEST, NULL), 0);
	static const uint8_t mr[] = { 0xBF, 0x34, 0x04, 0x82, 0x02, 0x06, 0xC0 };
	expect_store_data(&w, w.n - 1, mr, sizeof(mr));

	se_driver_free(d);
	se_card_free(w.card);
}

/* Every SGP.22 result code the functions can get, hand-written, to the
 * TS_E* code and the name the CLI prints. */
static void
test_result_codes(void **st)
{
	(void)st;
	static const struct {
		uint32_t fn;
		uint8_t code;
		int rc;
		const char *name;
	} v[] = {
		{ ES10_TAG_ENABLE_PROFILE, 0x01, TS_ENOTFOUND, "iccidOrAidNotFound" },
		{ ES10_TAG_ENABLE_PROFILE, 0x02, TS_ESTATE, "profileNotInDisabledState" },
		{ ES10_TAG_ENABLE_PROFILE, 0x03, TS_EDENIED, "disallowedByPolicy" },
		{ ES10_TAG_ENABLE_PROFILE, 0x04, TS_ESTATE, "wrongProfileReenabling" },
		{ ES10_TAG_ENABLE_PROFILE, 0x05, TS_ESTATE, "catBusy" },
		{ ES10_TAG_ENABLE_PROFILE, 0x7F, TS_EPROTO, "undefinedError" },
		{ ES10_TAG_DISABLE_PROFILE, 0x01, TS_ENOTFOUND, "iccidOrAidNotFound" },
		{ ES10_TAG_DISABLE_PROFILE, 0x02, TS_ESTATE, "profileNotInEnabledState" },
		{ ES10_TAG_DISABLE_PROFILE, 0x03, TS_EDENIED, "disallowedByPolicy" },
		{ ES10_TAG_DISABLE_PROFILE, 0x05, TS_ESTATE, "catBusy" },
		{ ES10_TAG_DELETE_PROFILE, 0x01, TS_ENOTFOUND, "iccidOrAidNotFound" },
		{ ES10_TAG_DELETE_PROFILE, 0x02, TS_ESTATE, "profileNotInDisabledState" },
		{ ES10_TAG_DELETE_PROFILE, 0x03, TS_EDENIED, "disallowedByPolicy" },
		{ ES10_TAG_DELETE_PROFILE, 0x7F, TS_EPROTO, "undefinedError" },
		{ ES10_TAG_SET_NICKNAME, 0x01, TS_ENOTFOUND, "iccidNotFound" },
		{ ES10_TAG_SET_NICKNAME, 0x7F, TS_EPROTO, "undefinedError" },
		{ ES10_TAG_NOTIFICATION_SENT, 0x01, TS_ENOTFOUND, "nothingToDelete" },
		{ ES10_TAG_MEMORY_RESET, 0x01, TS_ENOTFOUND, "nothingToDelete" },
		{ ES10_TAG_MEMORY_RESET, 0x05, TS_ESTATE, "catBusy" },
		{ ES10_TAG_SET_DEFAULT_DP_ADDRESS, 0x7F, TS_EPROTO, "undefinedError" },
	};
	wrap w;
	se_driver *d = wrap_open(&w);
	es10_profile_id id = iccid_id();
	for (size_t i = 0; i < TS_ARRAY_LEN(v); i++) {
		uint8_t resp[] = { (uint8_t)(v[i].fn >> 8), (uint8_t)v[i].fn, 0x03, 0x80, 0x01, v[i].code };
		w.inject = resp;
		w.inject_len = sizeof(resp);
		int res = -5, rc;
		switch (v[i].fn) {
		case ES10_TAG_ENABLE_PROFILE: rc = se_enable_profile(d, &id, 0, &res); break;
		case ES10_TAG_DISABLE_PROFILE: rc = se_disable_profile(d, &id, 0, &res); break;
		case ES10_TAG_DELETE_PROFILE: rc = se_delete_profile(d, &id, &res); break;
		case ES10_TAG_SET_NICKNAME: rc = se_set_nickname(d, ICCID_BYTES, "x", &res); break;
		case ES10_TAG_NOTIFICATION_SENT: rc = se_remove_notification(d, 1, &res); break;
		case ES10_TAG_MEMORY_RESET: rc = se_memory_reset(d, ES10_RESET_OPERATIONAL, &res); break;
		default: rc = se_set_default_dp(d, "smdp.example.com", &res); break;
		}
		assert_int_equal(rc, v[i].rc);
		assert_int_equal(res, v[i].code);
		assert_string_equal(se_result_name(v[i].fn, res), v[i].name);
	}
	/* ProfileInfoListError incorrectInputValues: TS_EINVAL, result 1 */
	static const uint8_t plerr[] = { 0xBF, 0x2D, 0x03, 0x81, 0x01, 0x01 };
	w.inject = plerr;
	w.inject_len = sizeof(plerr);
	es10_profile_list pl;
	int res = -5;
	assert_int_equal(se_get_profiles(d, NULL, &pl, &res), TS_EINVAL);
	assert_int_equal(res, 1);
	assert_string_equal(se_result_name(ES10_TAG_PROFILE_INFO_LIST, res), "incorrectInputValues");
	/* The answer of another function, or no result at all: a protocol error. */
	static const uint8_t other[] = { 0xBF, 0x32, 0x03, 0x80, 0x01, 0x00 };
	w.inject = other;
	w.inject_len = sizeof(other);
	assert_int_equal(se_enable_profile(d, &id, 0, &res), TS_EPROTO);
	assert_int_equal(res, SE_RESULT_NONE);
	static const uint8_t empty[] = { 0xBF, 0x31, 0x00 };
	w.inject = empty;
	w.inject_len = sizeof(empty);
	assert_int_equal(se_enable_profile(d, &id, 0, &res), TS_EPROTO);
	/* ListNotification's error alternative (undefinedError) */
	static const uint8_t lnerr[] = { 0xBF, 0x28, 0x03, 0x81, 0x01, 0x7F };
	w.inject = lnerr;
	w.inject_len = sizeof(lnerr);
	es10_notif_list nl;
	assert_int_equal(se_list_notifications(d, 0, &nl), TS_EPROTO);
	se_driver_free(d);
	se_card_free(w.card);
}

/* ---- against the real SE: profiles, apps, notifications ---- */

/* A fresh SE with two preinstalled apps, opened in-process. */
static se_driver *
real_se(char *state, size_t cap)
{
	snprintf(state, cap, "%s/se-%d.state", dir, state_counter++);
	assert_int_equal(se_card_init_state(state, pki_dir, TEST_EID), 0);
	assert_int_equal(se_card_preinstall(state, "sim-alice", "sim", "operator", "Alice mobile"), 0);
	assert_int_equal(se_card_preinstall(state, "svc-parking", "service", "city", NULL), 0);
	char spec[300];
	snprintf(spec, sizeof(spec), "inproc:%s", state);
	se_driver *d = NULL;
	assert_int_equal(se_driver_open(spec, &d), 0);
	return d;
}

static void
iccid_of(const char *app_id, char digits[ES10_ICCID_DIGITS_MAX + 1])
{
	eid_t eid;
	assert_int_equal(eid_parse(TEST_EID, &eid), 0);
	assert_int_equal(es10_iccid_for_app(&eid, app_id, digits), 0);
}

static void
test_profiles_and_apps(void **st)
{
	(void)st;
	char state[256], want[ES10_ICCID_DIGITS_MAX + 1], got[ES10_ICCID_DIGITS_MAX + 1];
	se_driver *d = real_se(state, sizeof(state));
	es10_profile_list pl;
	assert_int_equal(se_get_profiles(d, NULL, &pl, NULL), 0);
	assert_int_equal(pl.n, 2);
	const es10_profile_info *p = &pl.items[0];
	assert_true((p->present & (ES10_PI_ICCID | ES10_PI_ISDP_AID | ES10_PI_STATE | ES10_PI_CLASS |
	    ES10_PI_SPN | ES10_PI_NAME)) == (ES10_PI_ICCID | ES10_PI_ISDP_AID | ES10_PI_STATE |
	    ES10_PI_CLASS | ES10_PI_SPN | ES10_PI_NAME));
	iccid_of("sim-alice", want);
	assert_int_equal(es10_iccid_to_digits(p->iccid, got), 0);
	assert_string_equal(got, want);
	assert_int_equal(p->state, ES10_STATE_ENABLED);
	assert_int_equal(p->profile_class, ES10_CLASS_OPERATIONAL);
	assert_string_equal(p->spn, "operator");
	assert_string_equal(p->name, "Alice mobile");
	es10_profile_list_clear(&pl);

	/* The tapshare view: applet metadata joined with the profiles. */
	se_app apps[4];
	size_t n = 0;
	assert_int_equal(se_list_apps(d, apps, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(apps[0].app_id, "sim-alice");
	assert_string_equal(apps[0].iccid, want);
	assert_string_equal(apps[0].kind, "sim");
	assert_int_equal(apps[0].enabled, 1);
	assert_int_equal(apps[0].certified, -1);
	assert_string_equal(apps[1].app_id, "svc-parking");
	assert_int_equal(se_list_apps(d, apps, 1, &n), TS_ELIMIT);

	/* A profile named by ICCID, by AID in either case, or not at all. */
	es10_profile_id id;
	es10_profile_info *info = malloc(sizeof(*info));
	assert_non_null(info);
	assert_int_equal(se_find_profile(d, want, &id, info), 0);
	assert_int_equal(id.kind, ES10_ID_ICCID);
	char aid_hex[2 * ES10_AID_MAX + 1];
	assert_int_equal(ts_hex_encode(info->aid, info->aid_len, aid_hex, sizeof(aid_hex)), 0);
	es10_profile_id by_aid;
	assert_int_equal(se_find_profile(d, aid_hex, &by_aid, NULL), 0);
	assert_memory_equal(by_aid.iccid, id.iccid, ES10_ICCID_LEN);
	for (char *c = aid_hex; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	assert_int_equal(se_find_profile(d, aid_hex, &by_aid, NULL), 0);
	assert_memory_equal(by_aid.iccid, id.iccid, ES10_ICCID_LEN);
	char other[ES10_ICCID_DIGITS_MAX + 1];
	iccid_of("not-installed", other);
	assert_int_equal(se_find_profile(d, other, &by_aid, NULL), TS_ENOTFOUND);
	assert_int_equal(by_aid.kind, ES10_ID_ICCID); /* still sendable: the eUICC answers */
	assert_int_equal(se_enable_profile(d, &by_aid, 0, NULL), TS_ENOTFOUND);
	assert_int_equal(se_find_profile(d, "12345", &by_aid, NULL), TS_ENOTFOUND);
	assert_int_equal(by_aid.kind, ES10_ID_NONE);
	assert_int_equal(se_find_profile(d, "not a profile", &by_aid, NULL), TS_EINVAL);
	free(info);

	/* The real eUICC's refusals, with their SGP.22 results. */
	int res = SE_RESULT_NONE;
	assert_int_equal(se_enable_profile(d, &id, 0, &res), TS_ESTATE);
	assert_string_equal(se_result_name(ES10_TAG_ENABLE_PROFILE, res), "profileNotInDisabledState");
	assert_int_equal(se_delete_profile(d, &id, &res), TS_ESTATE);
	assert_string_equal(se_result_name(ES10_TAG_DELETE_PROFILE, res), "profileNotInDisabledState");
	assert_int_equal(se_disable_profile(d, &id, 0, &res), 0);
	assert_int_equal(se_disable_profile(d, &id, 0, &res), TS_ESTATE);
	assert_string_equal(se_result_name(ES10_TAG_DISABLE_PROFILE, res), "profileNotInEnabledState");
	assert_int_equal(se_set_nickname(d, id.iccid, "my watch line", &res), 0);
	uint8_t none[ES10_ICCID_LEN];
	assert_int_equal(es10_iccid_from_digits(other, none), 0);
	assert_int_equal(se_set_nickname(d, none, "x", &res), TS_ENOTFOUND);
	assert_string_equal(se_result_name(ES10_TAG_SET_NICKNAME, res), "iccidNotFound");
	assert_int_equal(se_get_profiles(d, NULL, &pl, NULL), 0);
	assert_string_equal(pl.items[0].nickname, "my watch line");
	assert_int_equal(pl.items[0].state, ES10_STATE_DISABLED);
	es10_profile_list_clear(&pl);

	/* se_delete disables first where needed and hands back the delete
	 * notification; the disable of the other app is pending too. */
	uint8_t *notif = NULL;
	size_t nlen = 0;
	assert_int_equal(se_delete(d, "svc-parking", &notif, &nlen), 0);
	es10_pending pn;
	assert_int_equal(es10_pending_decode(notif, nlen, &pn), 0);
	assert_int_equal(pn.kind, ES10_PENDING_OTHER);
	assert_int_equal(pn.meta.event, ES10_EVENT_DELETE);
	char parking[ES10_ICCID_DIGITS_MAX + 1];
	iccid_of("svc-parking", parking);
	assert_int_equal(es10_iccid_to_digits(pn.meta.iccid, got), 0);
	assert_string_equal(got, parking);
	free(notif);
	assert_int_equal(se_delete(d, "svc-parking", NULL, NULL), TS_ENOTFOUND);
	es10_notif_list nl;
	assert_int_equal(se_list_notifications(d, 0, &nl), 0);
	/* disable sim-alice, disable svc-parking, delete svc-parking */
	assert_int_equal(nl.n, 3);
	assert_int_equal(nl.items[0].event, ES10_EVENT_DISABLE);
	assert_int_equal(nl.items[2].event, ES10_EVENT_DELETE);
	uint64_t seq = nl.items[2].seq;
	es10_notif_list_clear(&nl);
	assert_int_equal(se_list_notifications(d, ES10_EVENT_DELETE, &nl), 0);
	assert_int_equal(nl.n, 1);
	es10_notif_list_clear(&nl);
	assert_int_equal(se_remove_notification(d, seq, &res), 0);
	assert_int_equal(se_remove_notification(d, seq, &res), TS_ENOTFOUND);
	assert_string_equal(se_result_name(ES10_TAG_NOTIFICATION_SENT, res), "nothingToDelete");
	/* dropping what is left about sim-alice */
	size_t dropped = 0;
	assert_int_equal(se_drop_notifications(d, id.iccid, &dropped), 0);
	assert_int_equal(dropped, 1);
	assert_int_equal(se_list_notifications(d, 0, &nl), 0);
	assert_int_equal(nl.n, 1); /* svc-parking's disable */
	es10_notif_list_clear(&nl);

	/* The credential applet on its own channel beside the ISD-R's. */
	assert_int_equal(se_driver_app_channel(d, SE_APP_ISDR), 1);
	assert_int_equal(se_driver_app_channel(d, SE_APP_CRED), 2);
	cred_entry ce;
	assert_int_equal(se_cred_get(d, id.iccid, &ce), 0);
	assert_string_equal(ce.app_id, "sim-alice");
	assert_int_equal(se_cred_get(d, none, &ce), TS_ENOTFOUND);
	uint8_t pt[CRED_PUBKEY_LEN];
	assert_int_equal(se_cred_generate_key(d, id.iccid, pt), TS_ESTATE); /* not bank-ID */
	se_driver_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cla_encoding),
		cmocka_unit_test(test_logical_channel),
		cmocka_unit_test(test_channel_above_3),
		cmocka_unit_test(test_get_response_on_channel),
		cmocka_unit_test(test_basic_channel_fallback),
		cmocka_unit_test(test_manage_channel_error),
		cmocka_unit_test(test_reopen_after_reset),
		cmocka_unit_test(test_reselect_on_channel),
		cmocka_unit_test(test_requests_bytes),
		cmocka_unit_test(test_result_codes),
		cmocka_unit_test(test_profiles_and_apps),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
