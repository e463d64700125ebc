/*
 * se_driver.h — how device agents reach a secure element: a small vtable of
 * APDU transports, chosen in one place (se_driver_open) from a spec string:
 *
 *   inproc:/path/to/se.state     the software SE linked into this process
 *   vpcd:127.0.0.1:35963         tapshare-se (or any vpcd-speaking card) over TCP
 *                                (vsmartcard framing: 2-byte BE length + payload)
 *   pcsc:READER NAME             (issue 3) a real reader through pcsc-lite
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

#endif
