/*
 * link_qr.h — the QR-code short-range link (issue 3; owner: h8).
 *
 * The companion shows its NDEF identity message (lib/ndef.h) as a QR code;
 * the primary reads it from a PNG file or a camera. The QR code holds exactly
 * the NDEF message bytes in one 8-bit (byte mode) segment, error correction
 * level M; nothing is added or converted (docs/protocol.md §1). Encoding is
 * done with libqrencode, decoding with libzbar (binary mode, so the bytes come
 * back as they were), PNG I/O with libpng.
 *
 * Link specs (dispatched from device/link.c):
 *   qr:FILE.png   read: decode the QR code in a PNG file;
 *                 advertise: write the PNG file (removed again on free)
 *   qr:camera     read: scan with `zbarcam` on /dev/video0 (needs zbar-tools
 *                 and a camera; TS_EUNSUPP "no camera" otherwise)
 *   qr:camera:DEV the same with another video device (a PNG file named
 *                 "camera" is reached as qr:./camera)
 *
 * Errors of reading, each with its own code and a log line saying what was
 * wrong (the primary shows both):
 *   TS_EIO       the file cannot be opened or read
 *   TS_EPARSE    the file is not a PNG (or a corrupt one)
 *   TS_ELIMIT    the image is larger than LINK_QR_MAX_DIM / LINK_QR_MAX_PIXELS
 *   TS_ENOTFOUND no QR code in the image
 *   TS_EVERIFY   a QR code is there (finder patterns seen) but cannot be
 *                decoded: damaged beyond its error correction
 *   TS_EPROTO    a QR code that is not a tapshare companion identity
 *                ("foreign QR code", e.g. a URL)
 *   TS_EEIDFMT / TS_EEIDCHK  an identity whose EID is invalid
 *   TS_EUNSUPP   qr:camera without zbarcam or /dev/video0
 *   TS_ETIMEOUT  qr:camera saw no code within the timeout
 */
#ifndef TS_LINK_QR_H
#define TS_LINK_QR_H

#include <stddef.h>
#include <stdint.h>

/* Pixels per module and quiet-zone width (modules) of the PNGs we write. The
 * QR standard asks for a quiet zone of at least 4 modules. */
#define LINK_QR_MODULE_PX 8
#define LINK_QR_QUIET 4
/* Largest image we decode: bounds the memory a hostile PNG can make us
 * allocate (checked from the header, before any pixel is decompressed). */
#define LINK_QR_MAX_DIM 16384
#define LINK_QR_MAX_PIXELS (50u * 1000u * 1000u)
#define LINK_QR_MAX_FILE (64u * 1024u * 1024u)

/* Encodes msg (1..NDEF_MAX_MESSAGE bytes) as a QR code in byte mode, level M.
 * *modules (caller frees) gets width*width bytes, row-major, 1 = dark
 * module, without quiet zone. TS_ELIMIT if msg does not fit a QR code. */
int link_qr_encode(const uint8_t *msg, size_t len, uint8_t **modules, int *width);

/* Writes a QR bitmap (as from link_qr_encode) as an 8-bit greyscale PNG:
 * module_px pixels per module (1..64), a LINK_QR_QUIET-module white quiet
 * zone, black on white. The file is written to a temporary name beside path
 * and renamed into place, mode 0644. */
int link_qr_write_png(const char *path, const uint8_t *modules, int width, int module_px);

/* Terminal rendering flags. */
#define LINK_QR_TEXT_UTF8 0x1     /* Unicode half blocks (else 2 ASCII chars per module) */
#define LINK_QR_TEXT_DARK_INK 0x2 /* ink = dark modules (for light-background
                                     terminals); default ink = light modules,
                                     for the usual dark background */

/* Pure: renders a QR bitmap (width*width, 1 = dark) as text with a
 * LINK_QR_QUIET-module quiet zone. UTF-8 mode: one character per module
 * column, one line per two module rows ("█" both inked, "▀" top only, "▄"
 * bottom only, " " neither; an odd last row is paired with quiet zone).
 * ASCII mode: "##" per inked module, "  " otherwise, one line per row.
 * Every line ends with "\n". *out (caller frees) is NUL-terminated. */
int link_qr_render_text(const uint8_t *modules, int width, unsigned flags, char **out);

/* Decodes the QR code(s) in an 8-bit greyscale image (w*h bytes, row-major;
 * borrowed) and returns the one tapshare identity message found (*out caller
 * frees). Codes as above (TS_ENOTFOUND / TS_EVERIFY / TS_EPROTO / EID codes;
 * TS_EPARSE if the image holds two different identities). why (may be NULL)
 * gets a one-line reason on failure. */
int link_qr_decode_gray(const uint8_t *gray, int w, int h, uint8_t **out, size_t *outlen,
    char *why, size_t whycap);

/* Reads any PNG (grey, palette, RGB, with or without alpha, 8 or 16 bit) as
 * 8-bit grey, alpha composited onto white. *gray caller frees. TS_EIO /
 * TS_EPARSE / TS_ELIMIT; why as above. */
int link_qr_read_png(const char *path, uint8_t **gray, int *w, int *h, char *why, size_t whycap);

/* Driver hooks for device/link.c's table (arg = text after "qr:"). */
int link_qr_check(const char *arg, char *errbuf, size_t errcap);
int link_qr_read(const char *arg, long timeout_ms, uint8_t **out, size_t *outlen);
int link_qr_advertise(const char *arg, const uint8_t *msg, size_t len, void **impl);
void link_qr_advertiser_free(void *impl); /* NULL ok */

#endif
