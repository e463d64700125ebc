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

/* Session flag kept for the ES10 client (device/se_client): 1 once the ISD-R
 * is selected on the basic channel. Cleared by se_driver_reset. */
int se_driver_isdr_selected(const se_driver *d);
void se_driver_set_isdr_selected(se_driver *d, int on);
/* The transport's name ("inproc", "vpcd", "pcsc"); static storage. */
const char *se_driver_name(const se_driver *d);

#endif
