/*
 * se_driver.h — how device agents reach a secure element: a small vtable of
 * APDU transports, chosen in one place (se_driver_open) from a spec string:
 *
 *   inproc:/path/to/se.state     the software SE linked into this process
 *   vpcd:127.0.0.1:35963         tapshare-se (or any vpcd-speaking card) over TCP
 *                                (vsmartcard framing: 2-byte BE length + payload)
 *   pcsc:                        the first reader holding a card, through pcsc-lite
 *   pcsc:READER NAME             that reader (exact name, else the first whose name
 *                                starts with READER NAME); see docs/pcsc.md
 *
 * se_driver_open: caller frees *out with se_driver_free. Errors: TS_EINVAL (bad
 * spec), TS_EUNSUPP, se_card_open's errors (inproc), TS_ENET (vpcd connect);
 * pcsc: TS_EIO (pcscd not running or stopped, card unusable), TS_ENOTFOUND (no
 * such reader, no card in it), TS_ESTATE (card held exclusively elsewhere) —
 * the reason is logged (lib/log.h) at error level.
 * se_driver_transmit: TS_EIO / TS_ETIMEOUT (vpcd: connection lost, no reply in
 * 30 s), TS_EPROTO (reply frame larger than rcap: the connection is unusable).
 */
#ifndef TS_SE_DRIVER_H
#define TS_SE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct se_driver se_driver;

struct se_driver_ops {
	const char *name;
	/* One APDU exchange; rapdu includes SW1 SW2. */
	int (*transmit)(void *ctx, const uint8_t *capdu, size_t clen,
	    uint8_t *rapdu, size_t rcap, size_t *rlen);
	/* Power cycle / reset. */
	int (*reset)(void *ctx);
	void (*close)(void *ctx);
	/* Optional (NULL: nothing to do): hold the card for a sequence of
	 * exchanges that must not interleave with another client's (PC/SC
	 * SCardBeginTransaction / SCardEndTransaction on a shared card). */
	int (*begin)(void *ctx);
	void (*end)(void *ctx);
};

int se_driver_open(const char *spec, se_driver **out);

/* The pcsc: transport (device/se_pcsc.c), for se_driver_open only: READER is
 * the spec after "pcsc:" (borrowed; "" = first reader with a card); *ctx is
 * released by se_pcsc_ops.close. Errors as for se_driver_open. */
extern const struct se_driver_ops se_pcsc_ops;
int se_pcsc_open(const char *reader, void **ctx);

void se_driver_free(se_driver *d); /* NULL ok */
int se_driver_transmit(se_driver *d, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen);
int se_driver_reset(se_driver *d);
/* Brackets one ES10 call (SELECT, the STORE DATA blocks, GET RESPONSE): on a
 * card shared with other PC/SC clients, theirs cannot slip in between (the
 * card has one STORE DATA chain and one pending response). Errors as for
 * se_driver_transmit. Every successful begin is followed by one end. */
int se_driver_begin(se_driver *d);
void se_driver_end(se_driver *d);

/* A transport of the caller's (tests, wrappers around another transport):
 * ops is borrowed and must outlive the driver (static storage); ctx is handed
 * to ops->close by se_driver_free. Caller frees *out with se_driver_free. */
int se_driver_new(const struct se_driver_ops *ops, void *ctx, se_driver **out);

/*
 * Logical channels (ISO/IEC 7816-4 §5.4.1, §11.1.2).
 *
 * se_cla: the class byte of a command on channel ch. cla is the command's
 * class on the basic channel: 00 (inter-industry: SELECT, MANAGE CHANNEL,
 * GET RESPONSE) or 80 (proprietary, GlobalPlatform STORE DATA). Channels 1..3
 * use the first inter-industry encoding (channel in b2..b1: 01..03, 81..83);
 * channels 4..19 the further one (b7 set, channel - 4 in b4..b1: 40..4F,
 * C0..CF). Secure messaging and command chaining bits are never set by us.
 * Returns 0xFF (an invalid class) when ch is out of 0..19.
 *
 * se_driver_open_channel: MANAGE CHANNEL open (00 70 00 00 01, the card
 * assigns the number) -> *ch in 1..19. TS_EUNSUPP when the reader or card
 * cannot open one (SW 6881 no logical channel support, 6A81 function not
 * supported, 6D00 INS or 6E00 CLA not supported): the caller then uses the
 * basic channel, and later calls return TS_EUNSUPP at once (remembered until
 * se_driver_reset). TS_EPROTO for any other answer.
 * se_driver_close_channel: MANAGE CHANNEL close (CLA of ch, 70 80 ch); the
 * channel is forgotten whatever the card answers. se_driver_free closes every
 * channel still open, se_driver_reset forgets them (a reset closes them).
 */
#define SE_CHANNEL_MAX 19
uint8_t se_cla(uint8_t cla, int ch);
int se_driver_open_channel(se_driver *d, int *ch);
int se_driver_close_channel(se_driver *d, int ch);
/* The card closed channel ch by itself (it was reset and answers 6881 on
 * it): forget it without a MANAGE CHANNEL. */
void se_driver_forget_channel(se_driver *d, int ch);
/* Bit n set: channel n is open (bit 0, the basic channel, never). */
uint32_t se_driver_channels(const se_driver *d);

/*
 * Session state kept for the ES10 client (device/se_client): for each
 * application it talks to (SE_APP_ISDR, SE_APP_CRED), the channel it is
 * selected on, or -1 when it is not selected. Cleared by se_driver_reset.
 */
enum { SE_APP_ISDR = 0, SE_APP_CRED = 1, SE_APP_SLOTS = 2 };
int se_driver_app_channel(const se_driver *d, int app);
void se_driver_set_app_channel(se_driver *d, int app, int ch);

/* The transport's name ("inproc", "vpcd", "pcsc"); static storage. */
const char *se_driver_name(const se_driver *d);

#endif
