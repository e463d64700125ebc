/*
 * link.h — short-range link drivers (patent S1): how the primary reads the
 * companion's identity (an NDEF message) and how the companion offers it.
 * Chosen in one place from a spec string:
 *
 *   sim:/path/to/socket   SIMULATOR of a proximity link (NFC/BLE/body-coupled):
 *                         a Unix socket carrying exactly the NDEF bytes a tag
 *                         would hold, framed as 2-byte BE length + message;
 *                         the reader may write one frame back (link_write).
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

/* Added by h11 — the offer direction (patent claims 20/33): like an NFC
 * reader writing to a tag, the primary hands the companion one message (a
 * share offer in an NDEF record, lib/ndef_offer.h) after reading its
 * identity. Only links that can carry it support this (sim today).
 *
 * link_offer_cb: called on the advertiser's thread with the bytes the reader
 * wrote (borrowed, valid during the call; NOT validated — parse and judge
 * them). Must return quickly: the advertiser serves the next reader after it.
 * link_advertise_ex: link_advertise plus cb (NULL = link_advertise). On a
 * one-way link (qr) it advertises as usual and cb is never called.
 * link_write: primary side: connects (retrying until timeout_ms), reads the
 * companion's identity message (*identity malloc'ed, caller frees), then
 * writes msg (1..NDEF_MAX_MESSAGE bytes). TS_EUNSUPP on a one-way link.
 * Success means the bytes were handed over, not that they were accepted. */
typedef void (*link_offer_cb)(const uint8_t *msg, size_t len, void *arg);
int link_advertise_ex(const char *spec, const uint8_t *msg, size_t len, link_offer_cb cb,
    void *arg, link_advertiser **out);
int link_write(const char *spec, long timeout_ms, const uint8_t *msg, size_t len,
    uint8_t **identity, size_t *idlen);

/* Frame of the sim driver: 2-byte big-endian length, then the message. */
#define LINK_SIM_HDR 2

#endif
