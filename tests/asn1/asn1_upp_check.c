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
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ProfileElement.h"

#define MAX_FILE (1u << 20)

typedef struct obuf {
	unsigned char *b;
	size_t n, cap;
} obuf;

static int
collect(const void *p, size_t n, void *key)
{
	obuf *o = key;
	if (o->n + n > o->cap) {
		size_t cap = (o->n + n) * 2;
		unsigned char *nb = realloc(o->b, cap);
		if (nb == NULL)
			return -1;
		o->b = nb;
		o->cap = cap;
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
	return 0;
}

/* 0 when the file is a sequence of ProfileElements that re-encodes to the
 * same bytes; *pes counts them. */
static int
check_file(const char *path, unsigned *pes)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	unsigned char *buf = malloc(MAX_FILE);
	size_t len = buf == NULL ? 0 : fread(buf, 1, MAX_FILE, f);
	fclose(f);
	if (buf == NULL || len == 0 || len == MAX_FILE) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(buf);
		return -1;
	}
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
	DIR *top = opendir(argv[1]);
	if (top == NULL) {
		fprintf(stderr, "asn1_upp_check: cannot open %s\n", argv[1]);
		return 1;
	}
	unsigned files = 0, bad = 0, pes = 0;
	struct dirent *s;
	while ((s = readdir(top)) != NULL) {
		if (s->d_name[0] == '.')
			continue;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", argv[1], s->d_name);
		DIR *d = opendir(sub);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			if (l < 5 || strcmp(e->d_name + l - 4, ".der") != 0)
				continue;
			char p[2048];
			snprintf(p, sizeof(p), "%s/%s", sub, e->d_name);
			if (strncmp(e->d_name, "Package.", 8) != 0) {
				fprintf(stderr, "%s: not a Package dump\n", p);
				bad++;
				continue;
			}
			files++;
			if (check_file(p, &pes) != 0)
				bad++;
		}
		closedir(d);
	}
	closedir(top);
	if (files == 0) {
		fprintf(stderr, "asn1_upp_check: no package was dumped\n");
		return 1;
	}
	printf("asn1_upp_check: %u packages, %u profile elements, %u failures\n", files, pes, bad);
	return bad == 0 ? 0 : 1;
}
