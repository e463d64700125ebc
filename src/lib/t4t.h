/*
 * t4t.h — NFC Forum Type 4 Tag (ISO 14443-4 / ISO 7816-4 APDUs), mapping
 * version 2.0, read-only. Pure: APDU bytes in, APDU bytes out; no device,
 * no allocation on the tag side. The libnfc glue (device/nfc_libnfc.c) moves
 * the bytes; this module is what the unit tests and the fuzz target drive.
 *
 * Tag side (the companion): a caller-allocated t4t_tag holding one NDEF
 * message answers the NDEF Tag Application:
 *   SELECT by name  00 A4 04 00 07 D2760000850101 [Le]  -> 9000 / 6A82
 *   SELECT EF by id 00 A4 00 0C 02 <E103|E104>          -> 9000 / 6A82
 *   READ BINARY     00 B0 <offset P1 P2> Le             -> data 9000
 *   UPDATE BINARY   00 D6 ...                           -> 6982 (read-only tag)
 * Status words (ISO 7816-4): 9000 ok, 6700 wrong length (case/Lc/Le, or Le
 * above MLe), 6A82 application or file not found (also a file SELECT before
 * the application is selected), 6A86 wrong P1-P2 of SELECT, 6986 READ BINARY
 * with no EF selected, 6B00 offset outside the EF (or a short-EF-id P1),
 * 6282 end of EF reached before Le bytes (the data there is returned),
 * 6982 UPDATE BINARY on this read-only tag, 6D00 other INS, 6E00 CLA != 00.
 * A failed SELECT leaves the current selection unchanged (ISO 7816-4).
 * Only short APDUs are accepted; extended length gives 6700.
 *
 * Files: the Capability Container E103 (15 bytes: CCLEN 000F, mapping
 * version 20, MLe, MLc, NDEF File Control TLV 04 06 E104 <max size>
 * 00 (read: free) FF (write: never)) and the NDEF file E104 (NLEN, 2 bytes
 * big-endian, then the message; max size max(2 + len, 5), the spec minimum,
 * zero-padded).
 *
 * Reader side (the primary): t4t_read_ndef runs SELECT app, SELECT CC,
 * READ BINARY CC (15 bytes), validates it, SELECT NDEF file, READ BINARY
 * NLEN, then the message in chunks of min(MLe, T4T_READ_CHUNK_MAX) through
 * a caller's transceive callback. Every response is checked (status word,
 * exact data length); the number of exchanges is bounded by
 * 6 + NDEF_MAX_MESSAGE / T4T_MLE_MIN.
 */
#ifndef TS_T4T_H
#define TS_T4T_H

#include <stddef.h>
#include <stdint.h>

#include "lib/ndef.h"

/* NDEF Tag Application name (mapping version 2.0). */
#define T4T_NDEF_AID_LEN 7
extern const uint8_t t4t_ndef_aid[T4T_NDEF_AID_LEN]; /* D2 76 00 00 85 01 01 */

#define T4T_CC_FILE_ID 0xE103u
#define T4T_NDEF_FILE_ID 0xE104u /* the id this tag uses */
#define T4T_CC_LEN 15            /* CCLEN 000F: header + one NDEF File Control TLV */
#define T4T_MAPPING_VERSION 0x20
#define T4T_NLEN_LEN 2
#define T4T_NDEF_FILE_MIN 5 /* smallest valid "maximum NDEF file size" */
#define T4T_NDEF_FILE_MAX (T4T_NLEN_LEN + NDEF_MAX_MESSAGE)

/* MLe below 000Fh is invalid (T4T 2.0); the reader refuses such a CC. */
#define T4T_MLE_MIN 0x000Fu
/* What this tag advertises by default: 255 keeps every READ BINARY a short
 * APDU with a non-zero Le and fits the 262-byte frames of PN53x chips. */
#define T4T_TAG_MLE_DEFAULT 0x00FFu
#define T4T_TAG_MLC 0x00FFu
/* The reader never asks for more than this per READ BINARY: Le = 00 would
 * mean 256 in a short APDU, which some tags read as "whatever you have". */
#define T4T_READ_CHUNK_MAX 255u

/* Largest C-APDU / R-APDU either side builds or needs room for. */
#define T4T_CAPDU_MAX 261u /* 5 + 255 + 1 */
#define T4T_RAPDU_MAX 258u /* 256 data + SW1 SW2 */

/* Status words. */
#define T4T_SW_OK 0x9000u
#define T4T_SW_EOF 0x6282u
#define T4T_SW_WRONG_LENGTH 0x6700u
#define T4T_SW_SECURITY 0x6982u
#define T4T_SW_NO_EF 0x6986u
#define T4T_SW_NOT_FOUND 0x6A82u
#define T4T_SW_WRONG_P1P2 0x6A86u
#define T4T_SW_WRONG_OFFSET 0x6B00u
#define T4T_SW_INS 0x6D00u
#define T4T_SW_CLA 0x6E00u

/* ------------------------------------------------------------------------ */
/* Tag side */

typedef struct t4t_tag {
	/* private: read only through the functions below */
	uint8_t cc[T4T_CC_LEN];
	uint8_t file[T4T_NDEF_FILE_MAX]; /* NLEN + message, zero-padded */
	size_t file_len;                 /* the "maximum NDEF file size" */
	uint16_t mle;
	int app_selected;
	int ef; /* 0 none, 1 CC, 2 NDEF */
} t4t_tag;

/* Fills tag with a copy of msg (len <= NDEF_MAX_MESSAGE; len 0 is an empty
 * tag, NLEN 0). mle is the MLe advertised in the CC (0 = the default;
 * otherwise T4T_MLE_MIN..T4T_READ_CHUNK_MAX+1, i.e. at most 256). msg is
 * borrowed. Returns 0, TS_EINVAL (NULL tag / msg with len > 0 / bad mle),
 * TS_ELIMIT (len too large). The tag starts deselected. */
int t4t_tag_init(t4t_tag *tag, const uint8_t *msg, size_t len, unsigned mle);
/* Back to the power-on selection state (new reader / field reset). */
void t4t_tag_reset(t4t_tag *tag);
/* Wipes the tag (the message may identify the user). NULL ok. */
void t4t_tag_clear(t4t_tag *tag);

/* Answers one C-APDU. Writes the R-APDU (data + SW1 SW2) to rapdu and its
 * length to *rlen. Malformed or unsupported commands are answered with a
 * status word, not an error: the return value is 0 for every APDU, and
 * TS_EINVAL (NULL arguments) or TS_ELIMIT (rcap too small for the answer;
 * T4T_RAPDU_MAX is always enough) only for caller mistakes. */
int t4t_tag_apdu(t4t_tag *tag, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen);

/* ------------------------------------------------------------------------ */
/* Reader side */

/* Parsed Capability Container. */
typedef struct t4t_cc {
	uint16_t cclen;
	uint8_t version;
	uint16_t mle, mlc;
	uint16_t ndef_file_id;
	uint16_t ndef_max; /* maximum NDEF file size, NLEN included */
	uint8_t read_access, write_access;
} t4t_cc;

/* Parses the first T4T_CC_LEN bytes of a CC (extra TLVs after them are
 * allowed and ignored; len must be >= T4T_CC_LEN). Pure. Returns 0,
 * TS_EPARSE (too short, CCLEN < 000F, no 04 06 NDEF File Control TLV),
 * TS_EUNSUPP (mapping major version != 2, read access != 00),
 * TS_EPROTO (MLe < 000F, MLc 0, reserved file id 0000/E102/E103/3F00/3FFF/
 * FFFF, max size outside 0005..FFFE). */
int t4t_cc_parse(const uint8_t *buf, size_t len, t4t_cc *out);

/* Transceive callback: sends capdu, writes the R-APDU (data + SW) to rapdu
 * (capacity rcap) and its length to *rlen. Returns 0 or a TS_E* code, which
 * t4t_read_ndef passes on unchanged. */
typedef int (*t4t_xfer_fn)(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu,
    size_t rcap, size_t *rlen);

/* Reads the NDEF message of a Type 4 Tag. On success *out is malloc'ed
 * (caller frees) and holds *outlen bytes; when the tag is empty (NLEN 0)
 * *out is NULL and *outlen 0. cc (may be NULL) receives the parsed CC.
 * Errors: TS_ENOTFOUND (the NDEF application or a file is not on the tag:
 * 6A82), TS_EPROTO (any other unexpected status word, a response of the
 * wrong length, NLEN above the CC's max size), TS_EPARSE / TS_EUNSUPP from
 * t4t_cc_parse, TS_ELIMIT (NLEN > NDEF_MAX_MESSAGE), TS_ENOMEM, or the
 * callback's own code. The message is not parsed here (ndef_parse). */
int t4t_read_ndef(t4t_xfer_fn xfer, void *arg, uint8_t **out, size_t *outlen, t4t_cc *cc);

#endif
