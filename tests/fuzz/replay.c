/*
 * replay.c - run a libFuzzer target's inputs without libFuzzer: every file
 * named on the command line, and every file of every directory named (in
 * name order).  Lets gcc, sanitizer and valgrind builds replay a corpus.
 */
#define _DEFAULT_SOURCE /* scandir */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;
	size_t got;

	if (!f) {
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc(size > 0 ? (size_t)size : 1);
	got = buf ? fread(buf, 1, (size_t)size, f) : 0;
	fclose(f);
	if (!buf || got != (size_t)size) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(buf);
		return 1;
	}
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	unsigned runs = 0;
	int errors = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **names;
		int n;

		if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
			errors += run_file(argv[i]);
			runs++;
			continue;
		}
		n = scandir(argv[i], &names, NULL, by_name);
		for (int k = 0; k < n; k++) {
			char path[4096];
			if (names[k]->d_name[0] != '.') {
				snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
				errors += run_file(path);
				runs++;
			}
			free(names[k]);
		}
		free(n >= 0 ? names : NULL);
	}
	printf("replayed %u inputs\n", runs);
	return errors != 0;
}
