/*
 * asn1_upp_check.c — the independent check of tapshare's profile packages:
 * every package the unit tests saw (hand-written vectors and everything
 * lib/upp.c or the provider produced, written by tests/asn1/dump.h as
 * <dir>/<suite>/Package.<n>.der) is decoded with the asn1c-generated decoder
 * of tests/asn1/TapshareUPP.asn as a sequence of ProfileElement values (each
 * BER-decoded, constraint-checked, DER-re-encoded), and the concatenated
 * re-encodings must equal the file byte for byte. Fails when no package
 * was seen at all.
 *
 * Usage: asn1_upp_check DUMPDIR   (exit 0: all good; 1: a failure; 2: usage)
 * Built from generated C with warnings off (CMakeLists.txt), test tree only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ProfileElement.h"
#include "check_harness.h"

/* 0 when the file (a Package dump) is a sequence of ProfileElements that
 * re-encodes to the same bytes; arg (unsigned *) counts them. */
static int
check_file(const char *path, const char *fname, void *arg)
{
	unsigned *pes = arg;
	unsigned char *buf;
	size_t len;
	if (strncmp(fname, "Package.", 8) != 0) {
		fprintf(stderr, "%s: not a Package dump\n", path);
		return -1;
	}
	if (read_dump(path, &buf, &len) != 0)
		return -1;
	obuf o = { 0 };
	size_t off = 0;
	int rc = 0;
	while (off < len && rc == 0) {
		ProfileElement_t *pe = NULL;
		asn_dec_rval_t dr = ber_decode(NULL, &asn_DEF_ProfileElement, (void **)&pe, buf + off,
		    len - off);
		char err[256];
		size_t errlen = sizeof(err);
		if (dr.code != RC_OK || dr.consumed == 0) {
			fprintf(stderr, "%s: offset %zu does not decode as ProfileElement (code %d)\n", path,
			    off, (int)dr.code);
			rc = -1;
		} else if (asn_check_constraints(&asn_DEF_ProfileElement, pe, err, &errlen) != 0) {
			fprintf(stderr, "%s: offset %zu: constraint violated: %s\n", path, off, err);
			rc = -1;
		} else if (der_encode(&asn_DEF_ProfileElement, pe, collect, &o).encoded < 0) {
			fprintf(stderr, "%s: offset %zu: cannot re-encode\n", path, off);
			rc = -1;
		} else {
			off += dr.consumed;
			(*pes)++;
		}
		ASN_STRUCT_FREE(asn_DEF_ProfileElement, pe);
	}
	if (rc == 0 && (o.n != len || memcmp(o.b, buf, len) != 0)) {
		fprintf(stderr, "%s: DER re-encoding differs (%zu bytes vs %zu)\n", path, o.n, len);
		rc = -1;
	}
	free(o.b);
	free(buf);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: asn1_upp_check DUMPDIR\n");
		return 2;
	}
	unsigned files = 0, pes = 0;
	int bad = for_each_dump(argv[1], check_file, &pes, &files);
	if (bad < 0) {
		fprintf(stderr, "asn1_upp_check: cannot open %s\n", argv[1]);
		return 1;
	}
	if (files == 0) {
		fprintf(stderr, "asn1_upp_check: no package was dumped\n");
		return 1;
	}
	printf("asn1_upp_check: %u files, %u profile elements, %d failures\n", files, pes, bad);
	return bad == 0 ? 0 : 1;
}
