/*
 * check_harness.h — what the two independent checks (asn1_check.c for the
 * ES10 structures, asn1_upp_check.c for the profile packages) share: reading
 * a dump file whole, collecting asn1c's DER re-encoding, and the walk over
 * <dir>/<suite>/<name>.der that tests/asn1/dump.h writes. Test tree only,
 * compiled with the generated C (warnings off, CMakeLists.txt).
 */
#ifndef TS_ASN1_CHECK_HARNESS_H
#define TS_ASN1_CHECK_HARNESS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (1u << 20)

typedef struct obuf {
	unsigned char *b;
	size_t n, cap;
} obuf;

/* asn_app_consume_bytes_f: appends a re-encoding's bytes to the obuf key. */
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

/* The whole file (1 .. MAX_FILE - 1 bytes) into *buf (caller frees); -1
 * with a message otherwise. */
static int
read_dump(const char *path, unsigned char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	unsigned char *b = malloc(MAX_FILE);
	size_t n = b == NULL ? 0 : fread(b, 1, MAX_FILE, f);
	fclose(f);
	if (b == NULL || n == 0 || n == MAX_FILE) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(b);
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* check(path, file name, arg) for every <dir>/<suite>/<name>.der; *files
 * counts them. The number of files check refused, or -1 when dir cannot be
 * opened. */
typedef int (*dump_check_fn)(const char *path, const char *fname, void *arg);

static int
for_each_dump(const char *dir, dump_check_fn check, void *arg, unsigned *files)
{
	DIR *top = opendir(dir);
	if (top == NULL)
		return -1;
	int bad = 0;
	struct dirent *s;
	*files = 0;
	while ((s = readdir(top)) != NULL) {
		if (s->d_name[0] == '.')
			continue;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", dir, s->d_name);
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
			(*files)++;
			if (check(p, e->d_name, arg) != 0)
				bad++;
		}
		closedir(d);
	}
	closedir(top);
	return bad;
}

#endif
