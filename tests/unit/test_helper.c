/* test_helper.c - plumb_helper_run: argv exec'd as is (no shell), output
 * captured and capped, exit status and signals, the deadline kills the
 * whole process group, a program that cannot run is an error, the waiting
 * hook runs while a program is waited for and can end the wait. */
#include "testlib.h"

#include <time.h>

#include "plumb/helper.h"

static void runs_argv(void **state)
{
	const char *argv[] = {"/bin/echo", "a;", "$(id)", "*", NULL};
	char out[64];
	struct plumb_err e;

	(void)state;
	assert_int_equal(plumb_helper_run(argv, NULL, NULL, 5000, out, sizeof(out), &e), 0);
	assert_string_equal(out, "a; $(id) *\n");
}

static void status_env_cwd_cap(void **state)
{
	const char *fail_argv[] = {"/bin/sh", "-c", "echo oops >&2; exit 3", NULL};
	const char *env_argv[] = {"/bin/sh", "-c", "printf '%s|%s|' \"$PLUMB_ROOT\" \"$(pwd)\"; printf '%s' \"$HOME\"", NULL};
	const char *big_argv[] = {"/usr/bin/head", "-c", "100000", "/dev/zero", NULL};
	const char *env[] = {"PLUMB_ROOT=/tmp", NULL};
	const char *kill_argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
	char out[64];
	struct plumb_err e;

	(void)state;
	assert_int_equal(plumb_helper_run(fail_argv, NULL, NULL, 5000, out, sizeof(out), &e), 3);
	assert_string_equal(out, "oops\n");
	assert_int_equal(plumb_helper_run(env_argv, env, "/tmp", 5000, out, sizeof(out), &e), 0);
	assert_string_equal(out, "/tmp|/tmp|");   /* and no HOME: a minimal environment */
	assert_int_equal(plumb_helper_run(big_argv, NULL, NULL, 5000, out, sizeof(out), &e), 0);
	assert_int_equal(strlen(out), 0);          /* NULs: what was kept ends at the first */
	assert_int_equal(plumb_helper_run(kill_argv, NULL, NULL, 5000, NULL, 0, &e), 256 + 9);
}

static void deadline_kills_group(void **state)
{
	/* The shell's child keeps the output open: the group must die. */
	const char *argv[] = {"/bin/sh", "-c", "sleep 30 & sleep 30", NULL};
	struct timespec a, b;
	struct plumb_err e;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(plumb_helper_run(argv, NULL, NULL, 300, NULL, 0, &e), PLUMB_E_IO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 5);
	assert_non_null(strstr(e.msg, "took longer than 300 ms"));
}

static int hook_calls;

/* Says "stop" at its third call. */
static int stop_third(void *arg)
{
	(void)arg;
	return ++hook_calls >= 3;
}

static void waiting_hook_stops(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "sleep 30 & sleep 30", NULL};
	const char *quick[] = {"/bin/true", NULL};
	struct timespec a, b;
	struct plumb_err e;

	(void)state;
	plumb_helper_set_waiting(stop_third, NULL);
	hook_calls = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(plumb_helper_run(argv, NULL, NULL, 60000, NULL, 0, &e), PLUMB_E_IO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(hook_calls, 3);            /* about every 500 ms, then it gave up */
	assert_true(b.tv_sec - a.tv_sec < 10);
	assert_non_null(strstr(e.msg, "plumb is stopping"));
	hook_calls = 0;
	assert_int_equal(plumb_helper_run(quick, NULL, NULL, 5000, NULL, 0, &e), 0);
	plumb_helper_set_waiting(NULL, NULL);
}

static void cannot_run(void **state)
{
	const char *missing[] = {"/nonexistent/prog", NULL};
	const char *relative[] = {"sh", "-c", "true", NULL};
	struct plumb_err e;

	(void)state;
	assert_int_equal(plumb_helper_run(missing, NULL, NULL, 5000, NULL, 0, &e), PLUMB_E_IO);
	assert_non_null(strstr(e.msg, "cannot run '/nonexistent/prog'"));
	assert_int_equal(plumb_helper_run(relative, NULL, NULL, 5000, NULL, 0, &e), PLUMB_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(runs_argv),
		cmocka_unit_test(status_env_cwd_cap),
		cmocka_unit_test(deadline_kills_group),
		cmocka_unit_test(cannot_run),
		cmocka_unit_test(waiting_hook_stops),
	};

	return cmocka_run_group_tests_name("helper", tests, NULL, NULL);
}
