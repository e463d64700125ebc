/*
 * link.h — short-range link drivers (patent S1): how the primary reads the
 * companion's identity (an NDEF message) and how the companion offers it.
 * Chosen in one place from a spec string:
 *
 *   sim:/path/to/socket   SIMULATOR of a proximity link (NFC/BLE/body-coupled):
 *                         a Unix socket carrying exactly the NDEF bytes a tag
 *                         would hold, framed as 2-byte BE length + message.
 *   qr:FILE.png, nfc:    (issue 3)
 */
#ifndef TS_LINK_H
#define TS_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/ndef.h"

/* Primary side: reads one NDEF message over the link (timeout_ms bounds the
 * wait). *out is malloc'ed; caller frees. */
int link_read(const char *spec, long timeout_ms, uint8_t **out, size_t *outlen);
/* Convenience: link_read + ndef_identity_decode. */
int link_read_identity(const char *spec, long timeout_ms, ndef_identity *out);

/* Companion side: an advertiser that serves msg (copied) to every reader
 * until freed. Runs its own thread. */
typedef struct link_advertiser link_advertiser;
int link_advertise(const char *spec, const uint8_t *msg, size_t len, link_advertiser **out);
void link_advertiser_free(link_advertiser *a); /* NULL ok */

/* Added by h5 (the one place specs are checked, for callers that want a
 * human message before doing I/O):
 * link_spec_check: 0 if spec names a usable link; TS_EUNSUPP for an unknown
 * or not-yet-implemented scheme, TS_EINVAL for a bad argument (e.g. a socket
 * path that does not fit sun_path). errbuf (may be NULL) gets the reason.
 * link_describe: static text naming the kind of link, e.g.
 * "simulated proximity link", for messages; never NULL. */
int link_spec_check(const char *spec, char *errbuf, size_t errcap);
const char *link_describe(const char *spec);

/* Frame of the sim driver: 2-byte big-endian length, then the message. */
#define LINK_SIM_HDR 2

#endif
