/* test_metrics.c - plumbd's textfile: every fetch-failure reason is a
 * labelled series apart from plumb_refused_total; a fetch's error code
 * maps to its reason; a buffer too small is refused, not truncated; a
 * rewrite is skipped when only the last-run time moved. */
#include "testlib.h"

#include "plumb/metrics.h"

static void render(void **state)
{
	struct plumb_metrics m;
	char text[8192];
	int n;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.refused_total = 2;
	m.fetch_failures[PLUMB_FETCH_TIMEOUT] = 3;
	m.fetch_failures[PLUMB_FETCH_CORRUPT] = 1;
	m.audit = 1;
	n = plumb_metrics_render(text, sizeof(text), &m);
	assert_true(n > 0 && (size_t)n == strlen(text));
	assert_non_null(strstr(text, "\nplumb_refused_total 2\n"));
	assert_non_null(strstr(text, "\nplumb_fetch_failures_total{reason=\"timeout\"} 3\n"));
	assert_non_null(strstr(text, "\nplumb_fetch_failures_total{reason=\"network\"} 0\n"));
	assert_non_null(strstr(text, "\nplumb_fetch_failures_total{reason=\"notfound\"} 0\n"));
	assert_non_null(strstr(text, "\nplumb_fetch_failures_total{reason=\"corrupt\"} 1\n"));
	assert_non_null(strstr(text, "\nplumb_fetch_failures_total{reason=\"other\"} 0\n"));
	assert_non_null(strstr(text, "# TYPE plumb_fetch_failures_total counter\n"));
	assert_non_null(strstr(text, "plumb_mode{mode=\"audit\"} 1\n"));
	/* one HELP and TYPE per family */
	{
		int k = 0;

		for (const char *p = text; (p = strstr(p, "# TYPE plumb_fetch_failures_total")) != NULL; p++)
			k++;
		assert_int_equal(k, 1);
	}
	assert_int_equal(plumb_metrics_render(text, 100, &m), -1);
	assert_int_equal(plumb_metrics_render(text, (size_t)n, &m), -1);   /* no room for the NUL */
}

static void reasons(void **state)
{
	(void)state;
	assert_int_equal(plumb_fetch_failure_reason(PLUMB_E_IO, 1), PLUMB_FETCH_TIMEOUT);
	assert_int_equal(plumb_fetch_failure_reason(PLUMB_E_IO, 0), PLUMB_FETCH_NETWORK);
	assert_int_equal(plumb_fetch_failure_reason(PLUMB_E_NOTFOUND, 0), PLUMB_FETCH_NOTFOUND);
	assert_int_equal(plumb_fetch_failure_reason(PLUMB_E_CORRUPT, 0), PLUMB_FETCH_CORRUPT);
	assert_int_equal(plumb_fetch_failure_reason(PLUMB_E_INVALID, 0), PLUMB_FETCH_OTHER);
	assert_int_equal(plumb_fetch_failure_reason(-999, 0), PLUMB_FETCH_OTHER);
	assert_string_equal(plumb_fetch_failure_name(PLUMB_FETCH_NOTFOUND), "notfound");
	assert_string_equal(plumb_fetch_failure_name((enum plumb_fetch_failure)77), "other");
}

static void write_skips(void **state)
{
	struct plumb_metrics_file f = {NULL, 0};
	struct plumb_metrics m;
	struct plumb_err e;
	struct stat a, b;
	char text[8192], path[512], *dir = t_mkdtemp();
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/plumb.prom", dir);
	memset(&m, 0, sizeof(m));
	m.last_run = 100;
	n = plumb_metrics_render(text, sizeof(text), &m);
	assert_int_equal(plumb_metrics_write(&f, path, text, (size_t)n, 10.0, &e), 0);
	assert_int_equal(stat(path, &a), 0);
	m.last_run = 101;    /* only the last-run time: skipped within a minute */
	n = plumb_metrics_render(text, sizeof(text), &m);
	assert_int_equal(plumb_metrics_write(&f, path, text, (size_t)n, 20.0, &e), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	m.fetch_failures[PLUMB_FETCH_NETWORK] = 1;   /* a real change: rewritten (a new file renamed in) */
	n = plumb_metrics_render(text, sizeof(text), &m);
	assert_int_equal(plumb_metrics_write(&f, path, text, (size_t)n, 21.0, &e), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);
	assert_int_equal(b.st_mode & 07777, 0644);
	assert_int_not_equal(plumb_metrics_write(&f, "relative.prom", text, (size_t)n, 200.0, &e), 0);
	plumb_metrics_file_release(&f);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(render),
		cmocka_unit_test(reasons),
		cmocka_unit_test(write_skips),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
