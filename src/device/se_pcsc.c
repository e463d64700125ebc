/*
 * se_pcsc.c — the pcsc: secure-element transport (see se_driver.h): a real
 * smart card or eUICC in a reader, reached through pcsc-lite's pcscd.
 *
 *   pcsc:             the first reader (in pcscd's order) holding a card
 *   pcsc:NAME         the reader called NAME, or else the first whose name
 *                     starts with NAME ("pcsc:Virtual PCD" matches
 *                     "Virtual PCD 00 00")
 *
 * The card is opened SHARED, T=0 or T=1 (whichever pcscd negotiates), and
 * every exchange goes out with the matching protocol control information.
 * 61xx (more data) is the ES10 client's business (se_client.c fetches it with
 * GET RESPONSE). 6Cxx (wrong Le, T=0 cards) is answered here: the same
 * command goes out once more with Le set to the length the card asked for,
 * as ISO/IEC 7816-3 expects the terminal to do.
 *
 * Another application sharing the card may reset it (SCARD_W_RESET_CARD):
 * we reconnect without a further reset and resend once. The card has then
 * forgotten that the ISD-R was selected and answers 6985, which se_client
 * handles by selecting it again.
 *
 * Failures are logged with what the operator can fix (pcscd not running, no
 * reader, no card in reader X) and mapped to TS_E* codes at this boundary.
 * pcsc-lite's client library honours PCSCLITE_CSOCK_NAME for the socket of
 * the pcscd it talks to; tests use that to reach a private pcscd.
 */
#include "device/se_driver.h"

#include <stdlib.h>
#include <string.h>

#include <winscard.h>

#include "lib/log.h"
#include "lib/ts_err.h"

/* Longest reader list we accept from pcscd (names are < 128 bytes each). */
#define PCSC_READERS_MAX 8192
/* Readers named in one error message. */
#define PCSC_NAMES_SHOWN 512

typedef struct pcsc_conn {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	int have_ctx;
	int have_card;
	DWORD proto;
	char reader[256];
} pcsc_conn;

static const char *
pcsc_socket(void)
{
	const char *s = getenv("PCSCLITE_CSOCK_NAME");
	return s != NULL && s[0] != '\0' ? s : "pcsc-lite's default socket";
}

/* pcscd gone or never there: every call may say so. */
static int
service_gone(LONG rv)
{
	return rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED;
}

static int
no_card(LONG rv)
{
	return rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD;
}

/* "A", "B" from a multi-string, for messages. */
static void
names_join(const char *multi, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (const char *r = multi; *r != '\0'; r += strlen(r) + 1) {
		size_t n = strlen(r);
		if (o + n + 5 >= cap) {
			if (o + 4 < cap)
				memcpy(out + o, "...", 4);
			return;
		}
		if (o > 0) {
			memcpy(out + o, ", ", 2);
			o += 2;
		}
		out[o++] = '"';
		memcpy(out + o, r, n);
		o += n;
		out[o++] = '"';
		out[o] = '\0';
	}
}

static int
try_connect(pcsc_conn *p, const char *reader, LONG *rv)
{
	*rv = SCardConnect(p->ctx, reader, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &p->card, &p->proto);
	if (*rv != SCARD_S_SUCCESS)
		return -1;
	p->have_card = 1;
	size_t n = strlen(reader);
	if (n >= sizeof(p->reader))
		n = sizeof(p->reader) - 1;
	memcpy(p->reader, reader, n);
	p->reader[n] = '\0';
	return 0;
}

/* Connects to the reader named by want ("" = first with a card) among the
 * readers in the multi-string list. */
static int
pick_and_connect(pcsc_conn *p, const char *want, const char *list)
{
	char names[PCSC_NAMES_SHOWN];
	LONG rv = SCARD_S_SUCCESS;
	names_join(list, names, sizeof(names));

	if (want[0] == '\0') {
		LONG first_err = SCARD_S_SUCCESS;
		for (const char *r = list; *r != '\0'; r += strlen(r) + 1) {
			if (try_connect(p, r, &rv) == 0)
				return 0;
			if (service_gone(rv))
				break;
			if (!no_card(rv) && first_err == SCARD_S_SUCCESS)
				first_err = rv;
		}
		if (service_gone(rv)) {
			log_error("pcsc: pcscd stopped (%s)", pcsc_stringify_error(rv));
			return TS_EIO;
		}
		if (first_err != SCARD_S_SUCCESS) {
			log_error("pcsc: no usable card in any reader (%s; readers: %s)",
			    pcsc_stringify_error(first_err), names);
			return TS_EIO;
		}
		log_error("pcsc: no card in any reader (readers: %s)", names);
		return TS_ENOTFOUND;
	}

	/* An exact name wins over a prefix match. */
	const char *pick = NULL;
	size_t wl = strlen(want);
	for (const char *r = list; *r != '\0'; r += strlen(r) + 1)
		if (strcmp(r, want) == 0) {
			pick = r;
			break;
		}
	for (const char *r = list; pick == NULL && *r != '\0'; r += strlen(r) + 1)
		if (strncmp(r, want, wl) == 0)
			pick = r;
	if (pick == NULL) {
		log_error("pcsc: no reader \"%s\" (readers: %s)", want, names);
		return TS_ENOTFOUND;
	}
	if (try_connect(p, pick, &rv) == 0)
		return 0;
	if (no_card(rv)) {
		log_error("pcsc: no card in reader \"%s\"", pick);
		return TS_ENOTFOUND;
	}
	if (service_gone(rv)) {
		log_error("pcsc: pcscd stopped (%s)", pcsc_stringify_error(rv));
		return TS_EIO;
	}
	if (rv == SCARD_E_SHARING_VIOLATION) {
		log_error("pcsc: the card in reader \"%s\" is held exclusively by another application",
		    pick);
		return TS_ESTATE;
	}
	log_error("pcsc: cannot connect to the card in reader \"%s\" (%s)", pick,
	    pcsc_stringify_error(rv));
	return TS_EIO;
}

static void
pcsc_close(void *ctx)
{
	pcsc_conn *p = ctx;
	if (p == NULL)
		return;
	if (p->have_card)
		(void)SCardDisconnect(p->card, SCARD_LEAVE_CARD);
	if (p->have_ctx)
		(void)SCardReleaseContext(p->ctx);
	free(p);
}

int
se_pcsc_open(const char *reader, void **out)
{
	if (reader == NULL || out == NULL)
		return TS_EINVAL;
	pcsc_conn *p = calloc(1, sizeof(*p));
	char *list = NULL;
	int rc;
	if (p == NULL)
		return TS_ENOMEM;

	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx);
	if (rv != SCARD_S_SUCCESS) {
		if (service_gone(rv)) {
			log_error("pcsc: pcscd not running (no PC/SC service at %s)", pcsc_socket());
			rc = TS_EIO;
		} else {
			log_error("pcsc: cannot reach pcscd (%s)", pcsc_stringify_error(rv));
			rc = TS_EIO;
		}
		goto fail;
	}
	p->have_ctx = 1;

	DWORD len = 0;
	rv = SCardListReaders(p->ctx, NULL, NULL, &len);
	if (rv == SCARD_S_SUCCESS && (len < 2 || len > PCSC_READERS_MAX))
		rv = len < 2 ? SCARD_E_NO_READERS_AVAILABLE : SCARD_E_INSUFFICIENT_BUFFER;
	if (rv == SCARD_S_SUCCESS) {
		if ((list = calloc(1, (size_t)len + 1)) == NULL) {
			rc = TS_ENOMEM;
			goto fail;
		}
		rv = SCardListReaders(p->ctx, NULL, list, &len);
	}
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		log_error("pcsc: no reader (pcscd at %s has none)", pcsc_socket());
		rc = TS_ENOTFOUND;
		goto fail;
	}
	if (rv != SCARD_S_SUCCESS) {
		if (service_gone(rv))
			log_error("pcsc: pcscd not running (no PC/SC service at %s)", pcsc_socket());
		else
			log_error("pcsc: cannot list readers (%s)", pcsc_stringify_error(rv));
		rc = rv == SCARD_E_INSUFFICIENT_BUFFER ? TS_ELIMIT : TS_EIO;
		goto fail;
	}
	/* Terminate the multi-string even if pcscd did not. */
	list[len] = '\0';
	if (len >= 1)
		list[len - 1] = '\0';

	if ((rc = pick_and_connect(p, reader, list)) != 0)
		goto fail;
	log_info("pcsc: card in reader \"%s\", T=%d", p->reader,
	    p->proto == SCARD_PROTOCOL_T0 ? 0 : 1);
	free(list);
	*out = p;
	return 0;
fail:
	free(list);
	pcsc_close(p);
	return rc;
}

static int
map_transmit_error(pcsc_conn *p, LONG rv)
{
	if (service_gone(rv)) {
		log_error("pcsc: pcscd stopped (%s)", pcsc_stringify_error(rv));
		return TS_EIO;
	}
	if (no_card(rv)) {
		log_error("pcsc: card removed from reader \"%s\"", p->reader);
		return TS_EIO;
	}
	if (rv == SCARD_E_INSUFFICIENT_BUFFER)
		return TS_EPROTO;
	if (rv == SCARD_E_TIMEOUT)
		return TS_ETIMEOUT;
	log_error("pcsc: exchange with reader \"%s\" failed (%s)", p->reader,
	    pcsc_stringify_error(rv));
	return TS_EIO;
}

/* One exchange; after a reset by another application, reconnect and resend
 * once. */
static int
exchange(pcsc_conn *p, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	for (int attempt = 0;; attempt++) {
		const SCARD_IO_REQUEST *pci =
		    p->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
		DWORD rl = rcap > MAX_BUFFER_SIZE_EXTENDED ? MAX_BUFFER_SIZE_EXTENDED : (DWORD)rcap;
		LONG rv = SCardTransmit(p->card, pci, capdu, (DWORD)clen, NULL, rapdu, &rl);
		if (rv == SCARD_W_RESET_CARD && attempt == 0) {
			DWORD proto = 0;
			rv = SCardReconnect(p->card, SCARD_SHARE_SHARED,
			    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD, &proto);
			if (rv != SCARD_S_SUCCESS)
				return map_transmit_error(p, rv);
			p->proto = proto;
			log_info("pcsc: card in reader \"%s\" was reset by another application",
			    p->reader);
			continue;
		}
		if (rv != SCARD_S_SUCCESS)
			return map_transmit_error(p, rv);
		if (rl < 2 || rl > rcap)
			return TS_EPROTO;
		*rlen = rl;
		return 0;
	}
}

/* Where Le sits in a short command APDU: *at = its offset, or clen when the
 * command has none (case 1 or 3). -1 for extended or malformed APDUs. */
static int
short_le_offset(const uint8_t *capdu, size_t clen, size_t *at)
{
	if (clen == 4) {
		*at = 4;
		return 0;
	}
	if (clen == 5) {
		*at = 4; /* case 2: the fifth byte is Le */
		return 0;
	}
	size_t lc = capdu[4];
	if (lc == 0)
		return -1; /* extended length */
	if (clen == 5 + lc) {
		*at = clen;
		return 0;
	}
	if (clen == 6 + lc) {
		*at = clen - 1;
		return 0;
	}
	return -1;
}

static int
pcsc_transmit(void *ctx, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	pcsc_conn *p = ctx;
	if (clen < 4 || clen > MAX_BUFFER_SIZE_EXTENDED)
		return TS_EINVAL;
	int rc = exchange(p, capdu, clen, rapdu, rcap, rlen);
	if (rc != 0 || *rlen != 2 || rapdu[0] != 0x6C)
		return rc;

	/* 6Cxx: resend once with Le = xx (ISO/IEC 7816-3, T=0). */
	size_t at;
	uint8_t again[5 + 255 + 1];
	if (short_le_offset(capdu, clen, &at) != 0 || at + 1 > sizeof(again))
		return 0; /* not ours to fix: the caller sees 6Cxx */
	memcpy(again, capdu, at);
	again[at] = rapdu[1];
	return exchange(p, again, at + 1, rapdu, rcap, rlen);
}

static int
pcsc_reset(void *ctx)
{
	pcsc_conn *p = ctx;
	DWORD proto = 0;
	LONG rv = SCardReconnect(p->card, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_RESET_CARD, &proto);
	if (rv != SCARD_S_SUCCESS)
		return map_transmit_error(p, rv);
	p->proto = proto;
	return 0;
}

/* A transaction locks the card against the other clients of a SHARED
 * connection for one ES10 call. A reset by another application ends it with
 * SCARD_W_RESET_CARD: reconnect (no further reset) and try once more; the
 * ES10 client then finds its channel gone (6881) and opens a new one. */
static int
pcsc_begin(void *ctx)
{
	pcsc_conn *p = ctx;
	LONG rv = SCardBeginTransaction(p->card);
	if (rv == SCARD_W_RESET_CARD) {
		DWORD proto = 0;
		rv = SCardReconnect(p->card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
		    SCARD_LEAVE_CARD, &proto);
		if (rv != SCARD_S_SUCCESS)
			return map_transmit_error(p, rv);
		p->proto = proto;
		log_info("pcsc: card in reader \"%s\" was reset by another application", p->reader);
		rv = SCardBeginTransaction(p->card);
	}
	return rv == SCARD_S_SUCCESS ? 0 : map_transmit_error(p, rv);
}

static void
pcsc_end(void *ctx)
{
	pcsc_conn *p = ctx;
	(void)SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
}

const struct se_driver_ops se_pcsc_ops = {
	.name = "pcsc",
	.transmit = pcsc_transmit,
	.reset = pcsc_reset,
	.close = pcsc_close,
	.begin = pcsc_begin,
	.end = pcsc_end,
};
