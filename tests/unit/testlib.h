/* testlib.h - helpers shared by the unit tests: temp directories, small
 * file writers, data-file discovery. Header-only to keep each test one file. */
#ifndef PLUMB_TESTLIB_H
#define PLUMB_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static inline const char *t_data_dir(void)
{
	const char *d = getenv("PLUMB_TEST_DATA");

	return d ? d : "tests/data";
}

/* Makes a fresh temp directory; the caller frees the string. */
static inline char *t_mkdtemp(void)
{
	char tmpl[] = "/tmp/plumb-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static inline void t_rm_rf(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		int st;

		waitpid(pid, &st, 0);
	}
}

/* Runs a shell command line (test fixtures only); returns its exit status. */
static inline int system_ok(const char *cmd)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes text to dir/rel, creating it. */
static inline void t_write(const char *dir, const char *rel, const char *text)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Reads a whole file; NULL if missing. */
static inline char *t_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Data-driven cases: every *.yaml in dir whose first line is
 * "# expect: ok" or "# expect: TEXT" (TEXT must occur in the error). */
struct t_case {
	char path[800];
	char expect[512];
};

static inline int t_cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct t_case *)a)->path, ((const struct t_case *)b)->path);
}

static inline struct t_case *t_load_cases(const char *sub, size_t *n)
{
	char dir[256];
	struct t_case *v = NULL;
	struct dirent *de;
	size_t cnt = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", t_data_dir(), sub);
	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "cannot open test data '%s': %s\n", dir, strerror(errno));
		exit(1);
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char *text, *nl;

		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
			continue;
		v = realloc(v, (cnt + 1) * sizeof(*v));
		snprintf(v[cnt].path, sizeof(v[cnt].path), "%s/%s", dir, de->d_name);
		text = t_read(v[cnt].path, NULL);
		if (text == NULL || strncmp(text, "# expect: ", 10) != 0) {
			fprintf(stderr, "%s: first line must be '# expect: ...'\n", v[cnt].path);
			exit(1);
		}
		nl = strchr(text, '\n');
		if (nl)
			*nl = '\0';
		snprintf(v[cnt].expect, sizeof(v[cnt].expect), "%s", text + 10);
		free(text);
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), t_cmp_names);
	*n = cnt;
	return v;
}

/* Runs one cmocka group: a test per data file of sub (state = its case),
 * then the extra tests. Returns cmocka's result. */
static inline int t_run_data_group(const char *group, const char *sub, CMUnitTestFunction fn,
				   const struct CMUnitTest *extra, size_t nextra)
{
	size_t n, i;
	struct t_case *cases = t_load_cases(sub, &n);
	struct CMUnitTest *tests = calloc(n + nextra, sizeof(*tests));
	int r;

	for (i = 0; i < n; i++) {
		tests[i].name = strrchr(cases[i].path, '/') + 1;
		tests[i].test_func = fn;
		tests[i].initial_state = &cases[i];
	}
	for (size_t j = 0; j < nextra; j++)
		tests[i++] = extra[j];
	r = _cmocka_run_group_tests(group, tests, i, NULL, NULL);
	free(tests);
	free(cases);
	return r;
}

#endif
