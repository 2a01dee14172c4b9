/* replay.c — runs a fuzz target's LLVMFuzzerTestOneInput over files, for
 * the builds without libFuzzer: `fuzz_replay_NAME FILE|DIR...` (ctest runs
 * each target over its seeds and every past finding in tests/fuzz/regress,
 * so a fixed bug stays fixed; `make asan` runs them under the sanitizers).
 * Prints `N inputs` and exits 0 when every input returned. */
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
	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "replay: out of memory reading %s\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int run_path(const char *path, long *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (run_file(path) < 0)
			return -1;
		++*count;
		return 0;
	}
	DIR *dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "replay: cannot read folder %s\n", path);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dir)) && rc == 0) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		char *sub = malloc(len);
		if (!sub) {
			rc = -1;
			break;
		}
		snprintf(sub, len, "%s/%s", path, e->d_name);
		rc = run_path(sub, count);
		free(sub);
	}
	closedir(dir);
	return rc;
}

int main(int argc, char **argv)
{
	long count = 0;
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			return 1;
	printf("%ld inputs\n", count);
	return 0;
}
