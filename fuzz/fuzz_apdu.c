/*
 * Fuzz target for the software secure element (se/card.c, se/es10.c): arbitrary
 * APDU sequences must never crash, and every answer must be a well-formed
 * response APDU (at least SW1 SW2, within the caller's buffer).
 *
 * The card is opened once from a state file created on first use in a fresh
 * /tmp directory (test PKI, one EID, two preinstalled apps; removed at exit).
 * Each input starts from a reset card with the ISD-R selected on the basic
 * channel, then:
 *   bit 1 of the first byte set: a logical channel is opened (MANAGE CHANNEL)
 *                    and the ISD-R (bit 0 set) or the credential applet (bit
 *                    0 clear) selected on it; what follows goes to it;
 *   bit 0 clear:     the rest is a run of frames, 2-byte big-endian length +
 *                    APDU (the vpcd framing), each sent as is;
 *   bit 0 set:       the rest is one ES10 command, sent through STORE DATA
 *                    chaining (255-byte blocks) and read back with GET RESPONSE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/credapplet.h"
#include "lib/pki.h"
#include "se/card.h"

#define FUZZ_EID "89049032123451234512345678901235"
#define FUZZ_RCAP 4096

static se_card *card;
static char dir[64];

static void
cleanup(void)
{
	se_card_free(card);
	card = NULL;
	if (dir[0] != '\0') {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz_apdu: cannot remove %s\n", dir);
	}
}

static void
setup(void)
{
	char pki[128], state[128];
	snprintf(dir, sizeof(dir), "/tmp/ts-fuzz-apdu-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(state, sizeof(state), "%s/se.state", dir);
	const char *eids[] = { FUZZ_EID };
	if (pki_testpki_generate(pki, "89049032", eids, 1) != 0 ||
	    se_card_init_state(state, pki, FUZZ_EID) != 0 ||
	    se_card_preinstall(state, "sim-1", "sim", "op", NULL) != 0 ||
	    se_card_preinstall(state, "bank-1", "bankid", "bank", NULL) != 0 ||
	    se_card_open(state, &card) != 0)
		abort();
	atexit(cleanup);
}

static uint8_t rbuf[FUZZ_RCAP];

static unsigned
send(const uint8_t *apdu, size_t len)
{
	size_t rlen = 0;
	if (se_card_apdu(card, apdu, len, rbuf, sizeof(rbuf), &rlen) != 0)
		abort();
	if (rlen < 2 || rlen > sizeof(rbuf))
		abort();
	return (unsigned)(rbuf[rlen - 2] << 8 | rbuf[rlen - 1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (card == NULL)
		setup();
	se_card_reset(card);
	uint8_t sel[5 + SE_ISDR_AID_LEN] = { 0x00, 0xA4, 0x04, 0x0C, SE_ISDR_AID_LEN };
	memcpy(sel + 5, SE_ISDR_AID, SE_ISDR_AID_LEN);
	if (send(sel, sizeof(sel)) != 0x9000)
		abort();
	if (size == 0)
		return 0;
	uint8_t cla = 0x80;
	if (data[0] & 2) {
		static const uint8_t mc[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
		if (send(mc, sizeof(mc)) != 0x9000 || rbuf[0] == 0 || rbuf[0] > 3)
			abort(); /* after a reset the card assigns channel 1 */
		uint8_t ch = rbuf[0];
		uint8_t s2[5 + SE_ISDR_AID_LEN] = { ch, 0xA4, 0x04, 0x0C, SE_ISDR_AID_LEN };
		if (data[0] & 1) {
			memcpy(s2 + 5, SE_ISDR_AID, SE_ISDR_AID_LEN);
		} else {
			s2[4] = CRED_AID_LEN;
			memcpy(s2 + 5, CRED_AID, CRED_AID_LEN);
		}
		if (send(s2, 5 + s2[4]) != 0x9000)
			abort();
		cla = (uint8_t)(0x80 | ch);
	}

	if ((data[0] & 1) == 0) {
		size_t off = 1;
		while (off + 2 <= size) {
			size_t n = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (n > size - off)
				n = size - off;
			send(data + off, n);
			off += n;
		}
		return 0;
	}

	/* One ES10 command through chaining. */
	const uint8_t *cmd = data + 1;
	size_t len = size - 1, off = 0;
	unsigned block = 0, sw = 0x9000;
	uint8_t apdu[5 + 255 + 1];
	while (off < len) {
		size_t n = len - off > 255 ? 255 : len - off;
		int last = off + n == len;
		apdu[0] = cla;
		apdu[1] = 0xE2;
		apdu[2] = last ? 0x91 : 0x11;
		apdu[3] = (uint8_t)block++;
		apdu[4] = (uint8_t)n;
		memcpy(apdu + 5, cmd + off, n);
		size_t alen = 5 + n;
		if (last)
			apdu[alen++] = 0x00;
		sw = send(apdu, alen);
		off += n;
		if (!last && sw != 0x9000)
			return 0;
	}
	/* Bounded: each GET RESPONSE returns at least one byte of a bounded response. */
	for (int i = 0; i < 4096 && (sw & 0xFF00) == 0x6100; i++) {
		uint8_t gr[5] = { (uint8_t)(cla & 0x03), 0xC0, 0x00, 0x00, (uint8_t)sw };
		sw = send(gr, sizeof(gr));
	}
	return 0;
}
