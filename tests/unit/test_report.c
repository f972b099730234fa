/* test_report.c - the plumb.report/v1 object's shape, and the exit codes a
 * report stands for (check and apply, as the contract says). */
#include "testlib.h"

#include "plumb/report.h"
#include "plumb/run.h"

static void add(struct plumb_report *r, enum plumb_action a, unsigned drift)
{
	struct plumb_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.resource = strdup("file:/etc/motd");
	ev.action = a;
	ev.drift = drift;
	assert_int_equal(plumb_report_add(r, &ev), 0);
}

static void shape(void **state)
{
	struct plumb_report r;
	struct plumb_err err;
	json_t *j, *ev;

	(void)state;
	assert_int_equal(plumb_report_init(&r, "enforce", &err), 0);
	add(&r, PLUMB_ACT_REVERTED, PLUMB_DRIFT_CONTENT | PLUMB_DRIFT_MODE);
	r.resources = 3;
	r.drifted = 1;
	r.reverted = 1;
	r.has_serial = 1;
	r.serial = 42;
	r.finished_at = r.started_at;
	j = plumb_report_json(&r);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "schema")), "plumb.report/v1");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "id"))), 36);
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "enforce");
	assert_true(json_is_null(json_object_get(json_object_get(j, "baseline"), "signer")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "baseline"), "serial")), 42);
	ev = json_array_get(json_object_get(j, "events"), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "resource")), "file:/etc/motd");
	assert_string_equal(json_string_value(json_object_get(ev, "action")), "reverted");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "drift"), 0)), "content");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "drift"), 1)), "mode");
	assert_non_null(strchr(json_string_value(json_object_get(ev, "at")), 'Z'));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"), "resources")), 3);
	json_decref(j);
	plumb_report_release(&r);
}

static void exit_codes(void **state)
{
	struct plumb_report r;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_report_init(&r, "enforce", &err), 0);
	assert_int_equal(plumb_run_exit_code(&r, 0), 0);
	assert_int_equal(plumb_run_exit_code(&r, 1), 0);
	add(&r, PLUMB_ACT_REVERTED, PLUMB_DRIFT_MODE);
	r.drifted = 1;
	r.reverted = 1;
	assert_int_equal(plumb_run_exit_code(&r, 0), 2);
	assert_int_equal(plumb_run_exit_code(&r, 1), 2);
	add(&r, PLUMB_ACT_FAILED, PLUMB_DRIFT_TYPE);
	r.failed = 1;
	assert_int_equal(plumb_run_exit_code(&r, 1), 6);
	plumb_report_release(&r);

	assert_int_equal(plumb_report_init(&r, "enforce", &err), 0);
	add(&r, PLUMB_ACT_FAILED, 0);
	r.failed = 1;
	assert_int_equal(plumb_run_exit_code(&r, 1), 4);
	assert_int_equal(plumb_run_exit_code(&r, 0), 2);
	plumb_report_release(&r);

	assert_int_equal(plumb_report_init(&r, "enforce", &err), 0);
	add(&r, PLUMB_ACT_DETECTED, PLUMB_DRIFT_CONTENT);   /* enforce: warn */
	r.drifted = 1;
	assert_int_equal(plumb_run_exit_code(&r, 1), 2);
	add(&r, PLUMB_ACT_REFUSED, 0);
	assert_int_equal(plumb_run_exit_code(&r, 1), 1);
	plumb_report_release(&r);
}

static void drift_name_list(void **state)
{
	char buf[64];

	(void)state;
	plumb_drift_names(buf, sizeof(buf), PLUMB_DRIFT_OWNER | PLUMB_DRIFT_MISSING | PLUMB_DRIFT_RULES);
	assert_string_equal(buf, "owner,missing,rules");
	plumb_drift_names(buf, 8, PLUMB_DRIFT_CONTENT | PLUMB_DRIFT_MODE);
	assert_true(strlen(buf) < 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shape),
		cmocka_unit_test(exit_codes),
		cmocka_unit_test(drift_name_list),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
