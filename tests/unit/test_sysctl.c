/* test_sysctl.c - the sysctl provider: the normalized comparison, and a run
 * over a fake /proc/sys tree (PLUMB_SYSCTL_DIR), never the host's. */
#include "testlib.h"

#include "plumb/baseline.h"
#include "plumb/report.h"
#include "plumb/sysctl.h"

static void normalize(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(plumb_sysctl_normalize(out, sizeof(out), "  32768\t\t60999 \n"), 11);
	assert_string_equal(out, "32768 60999");
	assert_int_equal(plumb_sysctl_normalize(out, sizeof(out), "1\n"), 1);
	assert_string_equal(out, "1");
	assert_int_equal(plumb_sysctl_normalize(out, sizeof(out), "\n\n"), 0);
	assert_string_equal(out, "");
	/* too small: truncated, and the length says so */
	assert_int_equal(plumb_sysctl_normalize(out, 4, "abcdef"), 6);
	assert_string_equal(out, "abc");
}

static const struct plumb_event *find(const struct plumb_report *rep, const char *res)
{
	for (size_t i = 0; i < rep->nevents; i++)
		if (strcmp(rep->events[i].resource, res) == 0)
			return &rep->events[i];
	return NULL;
}

static void run_fake_tree(void **state)
{
	static const char doc[] = "version: 1\nsysctl:\n"
				  "  - key: kernel.a\n    value: \"2\"\n"
				  "  - key: kernel.b\n    value: \"1 2\"\n"
				  "  - key: kernel.c\n    value: \"0\"\n    enforce: warn\n"
				  "  - key: kernel.gone\n    value: \"0\"\n";
	struct plumb_baseline *b;
	struct plumb_report rep;
	struct plumb_err err;
	const struct plumb_event *ev;
	char *dir = t_mkdtemp(), path[512];
	size_t len;
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/kernel", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	t_write(dir, "kernel/a", "1\n");
	t_write(dir, "kernel/b", "1\t 2\n");
	t_write(dir, "kernel/c", "5\n");
	setenv(PLUMB_SYSCTL_DIR_ENV, dir, 1);
	assert_int_equal(plumb_baseline_parse(&b, "doc", doc, sizeof(doc) - 1, &err), 0);

	/* observe only */
	assert_int_equal(plumb_report_init(&rep, "check", &err), 0);
	assert_int_equal(plumb_sysctl_run(&rep, b, 0, 0, &err), 0);
	assert_int_equal(rep.resources, 4);
	assert_int_equal(rep.drifted, 2);
	assert_int_equal(rep.failed, 1);
	assert_int_equal(rep.nevents, 3);
	assert_null(find(&rep, "sysctl:kernel.b"));   /* whitespace only */
	assert_non_null(ev = find(&rep, "sysctl:kernel.a"));
	assert_int_equal(ev->action, PLUMB_ACT_DETECTED);
	assert_int_equal(ev->drift, PLUMB_DRIFT_VALUE);
	assert_string_equal(json_string_value(json_object_get(ev->actual, "value")), "1");
	assert_non_null(ev = find(&rep, "sysctl:kernel.gone"));
	assert_int_equal(ev->action, PLUMB_ACT_FAILED);
	assert_int_equal(ev->drift, PLUMB_DRIFT_MISSING);
	plumb_report_release(&rep);
	snprintf(path, sizeof(path), "%s/kernel/a", dir);
	text = t_read(path, &len);
	assert_string_equal(text, "1\n");
	free(text);

	/* repair: a written, c (warn) left */
	assert_int_equal(plumb_report_init(&rep, "enforce", &err), 0);
	assert_int_equal(plumb_sysctl_run(&rep, b, 1, 0, &err), 0);
	assert_int_equal(rep.reverted, 1);
	assert_int_equal(find(&rep, "sysctl:kernel.a")->action, PLUMB_ACT_REVERTED);
	assert_int_equal(find(&rep, "sysctl:kernel.c")->action, PLUMB_ACT_DETECTED);
	plumb_report_release(&rep);
	text = t_read(path, &len);
	assert_string_equal(text, "2");
	free(text);
	snprintf(path, sizeof(path), "%s/kernel/c", dir);
	text = t_read(path, &len);
	assert_string_equal(text, "5\n");
	free(text);

	unsetenv(PLUMB_SYSCTL_DIR_ENV);
	plumb_baseline_free(b);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize),
		cmocka_unit_test(run_fake_tree),
	};

	return cmocka_run_group_tests_name("sysctl", tests, NULL, NULL);
}
