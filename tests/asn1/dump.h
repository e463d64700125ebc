/*
 * dump.h — lets a unit test hand the structures it sees (its hand-written
 * vectors and everything the SE emits) to the independent asn1c check
 * (tests/asn1/asn1_check.c). When TS_ASN1_DUMP names a directory, each call
 * writes one file <dir>/<suite>/<Type>.<n>.der; the checker decodes each
 * file as the ASN.1 type its name starts with and re-encodes it in DER.
 * Header-only, for tests.
 */
#ifndef TS_TEST_ASN1_DUMP_H
#define TS_TEST_ASN1_DUMP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

static char asn1_dump_dir[512];
static unsigned asn1_dump_n;

/* Clears this suite's dump directory (from an earlier run). */
static void
asn1_dump_init(const char *suite)
{
	const char *root = getenv("TS_ASN1_DUMP");
	if (root == NULL || root[0] == '\0')
		return;
	mkdir(root, 0755);
	snprintf(asn1_dump_dir, sizeof(asn1_dump_dir), "%s/%s", root, suite);
	mkdir(asn1_dump_dir, 0755);
	DIR *d = opendir(asn1_dump_dir);
	if (d != NULL) {
		struct dirent *e;
		char p[1024];
		while ((e = readdir(d)) != NULL) {
			if (strstr(e->d_name, ".der") == NULL)
				continue;
			snprintf(p, sizeof(p), "%s/%s", asn1_dump_dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
}

/* type: the ASN.1 type name of RSPDefinitions the bytes must decode as. */
static void
asn1_dump(const char *type, const uint8_t *der, size_t len)
{
	if (asn1_dump_dir[0] == '\0')
		return;
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s.%04u.der", asn1_dump_dir, type, asn1_dump_n++);
	FILE *f = fopen(p, "wb");
	if (f == NULL)
		return;
	fwrite(der, 1, len, f);
	fclose(f);
}

#endif
