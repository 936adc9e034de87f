/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Corpus replay driver shared by every fuzz target when the tree is built
 * without libFuzzer (-Dfuzzing=false, the default): each argument is a file
 * or a directory of files, each file is fed once to LLVMFuzzerTestOneInput,
 * and the run is reported as TAP, so corpora double as regression tests.
 * A crash or sanitizer report fails the test; an empty corpus is a skip.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvirt/cleanup.h"
#include "kvirt/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (16u << 20)

static int n_run, n_failed;

static void replay_file(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = kv_read_file(path, REPLAY_MAX_INPUT, &buf, &len);
	n_run++;
	if (r < 0) {
		n_failed++;
		printf("not ok %d - %s: cannot read (%s)\n", n_run, path, strerror(-r));
		return;
	}
	/* Copy into an exact-size allocation so ASan sees overreads past the input. */
	_cleanup_free_ uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		n_failed++;
		printf("not ok %d - %s: out of memory\n", n_run, path);
		return;
	}
	memcpy(exact, buf, len);
	LLVMFuzzerTestOneInput(exact, len);
	printf("ok %d - %s (%zu bytes)\n", n_run, path, len);
	fflush(stdout);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		n_run++;
		n_failed++;
		printf("not ok %d - %s: cannot open directory\n", n_run, dir);
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
		}
		names[n] = kv_strdup_printf("%s/%s", dir, de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	/* Sorted, so TAP numbering is stable between runs. */
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		replay_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i]);
	}
	if (n_run == 0) {
		printf("1..0 # SKIP empty corpus\n");
		return 77;
	}
	printf("1..%d\n", n_run);
	return n_failed ? 1 : 0;
}
