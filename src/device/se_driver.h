/*
 * se_driver.h — how device agents reach a secure element: a small vtable of
 * APDU transports, chosen in one place (se_driver_open) from a spec string:
 *
 *   inproc:/path/to/se.state     the software SE linked into this process
 *   vpcd:127.0.0.1:35963         tapshare-se (or any vpcd-speaking card) over TCP
 *                                (vsmartcard framing: 2-byte BE length + payload)
 *   pcsc:READER NAME             (issue 3) a real reader through pcsc-lite
 *                                (not built yet: se_driver_open returns TS_EUNSUPP)
 *
 * se_driver_open: caller frees *out with se_driver_free. Errors: TS_EINVAL (bad
 * spec), TS_EUNSUPP, se_card_open's errors (inproc), TS_ENET (vpcd connect).
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
void se_driver_free(se_driver *d); /* NULL ok */
int se_driver_transmit(se_driver *d, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen);
int se_driver_reset(se_driver *d);

/* Session flag kept for the ES10 client (device/se_client): 1 once the ISD-R
 * is selected on the basic channel. Cleared by se_driver_reset. */
int se_driver_isdr_selected(const se_driver *d);
void se_driver_set_isdr_selected(se_driver *d, int on);
/* The transport's name ("inproc", "vpcd"); static storage. */
const char *se_driver_name(const se_driver *d);

#endif
