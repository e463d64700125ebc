/*
 * Replay driver for fuzz targets when not built with libFuzzer: feeds every
 * file of the corpus directories given on the command line, then a bounded
 * number of deterministic pseudo-random inputs, to LLVMFuzzerTestOneInput.
 * A crash or sanitizer report fails the ctest that runs it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_FILE (1u << 20)
#define REPLAY_RANDOM_RUNS 20000
#define REPLAY_RANDOM_MAXLEN 512

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	uint8_t *buf = malloc(REPLAY_MAX_FILE);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	size_t n = fread(buf, 1, REPLAY_MAX_FILE, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	size_t files = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			int w = snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (w < 0 || (size_t)w >= sizeof(path))
				continue;
			if (replay_file(path) == 0)
				files++;
		}
		closedir(d);
	}
	/* Deterministic xorshift so a failure reproduces. */
	uint64_t s = 0x9E3779B97F4A7C15ull;
	uint8_t buf[REPLAY_RANDOM_MAXLEN];
	for (int run = 0; run < REPLAY_RANDOM_RUNS; run++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		size_t len = (size_t)(s % REPLAY_RANDOM_MAXLEN);
		for (size_t j = 0; j < len; j++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[j] = (uint8_t)s;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("replayed %zu corpus files and %d random inputs\n", files, REPLAY_RANDOM_RUNS);
	return 0;
}
