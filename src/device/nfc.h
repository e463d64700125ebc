/*
 * nfc.h — the `nfc:` short-range link: the companion emulates an NFC Forum
 * Type 4 Tag holding its NDEF identity message, the primary reads it as an
 * ISO 14443-4 reader. The APDU logic is lib/t4t (pure, tested); this is only
 * the device glue. Two implementations, exactly one built (CMakeLists.txt):
 *   nfc_libnfc.c  when pkg-config finds libnfc (PN532, ACR122U, ...);
 *   nfc_none.c    otherwise: every function reports TS_EUNSUPP.
 * How to run it with hardware: docs/nfc.md.
 *
 * arg is what follows "nfc:" in the link spec: empty for libnfc's default
 * device (first in /etc/nfc/libnfc.conf or found by scanning), or a libnfc
 * connstring such as "pn532_uart:/dev/ttyUSB0" or "acr122_usb".
 */
#ifndef TS_NFC_H
#define TS_NFC_H

#include <stddef.h>
#include <stdint.h>

/* Checks arg without touching hardware. 0, TS_EINVAL (connstring too long
 * or with control characters) or TS_EUNSUPP (built without libnfc);
 * errbuf (may be NULL) gets the reason. */
int nfc_link_check(const char *arg, char *errbuf, size_t errcap);

/* Primary: opens the device, waits up to timeout_ms for an ISO 14443-4
 * (Type A, 106 kbit/s) target and reads its NDEF message with the Type 4 Tag
 * reader (lib/t4t). *out is malloc'ed, caller frees. Errors: TS_ENOTFOUND
 * (no NFC device: "no NFC device found (libnfc)..." is logged; or the tag
 * has no NDEF application / an empty message), TS_ETIMEOUT (no tag came
 * near), TS_EUNSUPP (no libnfc in this build, or the tag is not
 * ISO 14443-4), TS_EIO (device error), TS_EPROTO / TS_EPARSE / TS_ELIMIT
 * from the tag's answers. */
int nfc_link_read(const char *arg, long timeout_ms, uint8_t **out, size_t *outlen);

/* Companion: opens the device and emulates a Type 4 Tag holding msg
 * (copied; 1..NDEF_MAX_MESSAGE bytes) in a thread, serving one reader after
 * another until nfc_link_stop. *handle is freed by nfc_link_stop. Errors:
 * TS_EINVAL, TS_ELIMIT, TS_ENOTFOUND (no device), TS_EUNSUPP, TS_EIO,
 * TS_ENOMEM. */
int nfc_link_advertise(const char *arg, const uint8_t *msg, size_t len, void **handle);
/* Stops the emulation thread (within about NFC_LINK_POLL_MS), closes the
 * device and frees handle. NULL ok. */
void nfc_link_stop(void *handle);

/* How often the emulation thread looks at its stop flag: libnfc calls are
 * given this timeout instead of blocking forever. */
#define NFC_LINK_POLL_MS 250

#endif
