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
	assert_null(json_object_get(j, "standing"));     /* plumb apply and check: one whole run */
	json_decref(j);
	/* plumbd's: what stands beyond the run's events, in every part too */
	r.has_standing = 1;
	r.covers = PLUMB_COVERS_SYSCTL | PLUMB_COVERS_PACKAGE;
	r.unresolved = 7;
	r.refused = strdup("tip 0123: not signed");
	j = plumb_report_json(&r);
	assert_non_null(j);
	{
		json_t *st = json_object_get(j, "standing"), **v = NULL;
		size_t n = 0;

		assert_int_equal(json_array_size(json_object_get(st, "covers")), 2);
		assert_string_equal(json_string_value(json_array_get(json_object_get(st, "covers"), 0)), "sysctl");
		assert_string_equal(json_string_value(json_array_get(json_object_get(st, "covers"), 1)), "package");
		assert_int_equal(json_integer_value(json_object_get(st, "unresolved")), 7);
		assert_string_equal(json_string_value(json_object_get(st, "refused")), "tip 0123: not signed");
		assert_int_equal(plumb_report_split(&v, &n, j, 1 << 20, &err), 0);
		assert_int_equal(n, 1);
		assert_true(json_equal(json_object_get(v[0], "standing"), st));
		plumb_report_parts_free(v, n);
	}
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

/* A report of n reverted events, each with a diff of dlen characters. */
static json_t *big_report(size_t n, size_t dlen)
{
	struct plumb_report r;
	struct plumb_err err;
	char *diff = malloc(dlen + 1);
	json_t *j;

	assert_non_null(diff);
	memset(diff, 'x', dlen);
	diff[dlen] = '\0';
	assert_int_equal(plumb_report_init(&r, "enforce", &err), 0);
	for (size_t i = 0; i < n; i++) {
		struct plumb_event ev;
		char res[64];

		memset(&ev, 0, sizeof(ev));
		snprintf(res, sizeof(res), "file:/etc/f%04zu", i);
		ev.resource = strdup(res);
		ev.action = PLUMB_ACT_REVERTED;
		ev.drift = PLUMB_DRIFT_CONTENT;
		ev.actual = json_pack("{s:s, s:s}", "type", "file", "diff", diff);
		assert_int_equal(plumb_report_add(&r, &ev), 0);
	}
	r.resources = n + 5;
	r.drifted = r.reverted = n;
	r.finished_at = r.started_at;
	j = plumb_report_json(&r);
	assert_non_null(j);
	plumb_report_release(&r);
	free(diff);
	return j;
}

/* Parts: each under the cap, events in order, own ids, the summary of
 * its own slice, and intervals [(k-1)/n, k/n) that tile [0, 1). */
static void split(void **state)
{
	json_t *doc = big_report(300, 2000), **v = NULL, **again = NULL, **w = NULL;
	const char *id = json_string_value(json_object_get(doc, "id"));
	size_t n = 0, m = 0, k = 0, seen = 0;
	long double cover = 0;
	struct plumb_err err;

	(void)state;
	assert_true(json_dumpb(doc, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS) > 500000);
	assert_int_equal(plumb_report_split(&v, &n, doc, 64 << 10, &err), 0);
	assert_true(n >= 9);
	for (size_t i = 0; i < n; i++) {
		json_t *run = json_object_get(v[i], "run"), *evs = json_object_get(v[i], "events"), *sum;
		size_t j;
		json_t *ev;

		assert_true(json_dumpb(v[i], NULL, 0, JSON_COMPACT | JSON_SORT_KEYS) <= 64 << 10);
		assert_string_equal(json_string_value(json_object_get(run, "id")), id);
		assert_int_equal(json_integer_value(json_object_get(run, "part")), (json_int_t)i + 1);
		assert_int_equal(json_integer_value(json_object_get(run, "parts")), (json_int_t)n);
		assert_string_not_equal(json_string_value(json_object_get(v[i], "id")), id);
		for (size_t p = 0; p < i; p++)
			assert_string_not_equal(json_string_value(json_object_get(v[i], "id")),
						json_string_value(json_object_get(v[p], "id")));
		json_array_foreach(evs, j, ev) {
			char res[64];

			snprintf(res, sizeof(res), "file:/etc/f%04zu", seen++);
			assert_string_equal(json_string_value(json_object_get(ev, "resource")), res);
		}
		sum = json_object_get(v[i], "summary");
		assert_int_equal(json_integer_value(json_object_get(sum, "reverted")), (json_int_t)json_array_size(evs));
		assert_int_equal(json_integer_value(json_object_get(sum, "drifted")), (json_int_t)json_array_size(evs));
		assert_int_equal(json_integer_value(json_object_get(sum, "resources")), 305);
	}
	assert_int_equal(seen, 300);
	/* the same split again: the same ids (a crash mid-split is harmless) */
	assert_int_equal(plumb_report_split(&again, &m, doc, 64 << 10, &err), 0);
	assert_int_equal(m, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_object_get(again[i], "id")),
				    json_string_value(json_object_get(v[i], "id")));
	/* part 2 split again (a 413): its pieces take its interval */
	assert_int_equal(plumb_report_split(&w, &k, v[1], 16 << 10, &err), 0);
	assert_true(k >= 2);
	for (size_t i = 0; i < n; i++)
		if (i != 1)
			cover += 1.0L / (long double)json_integer_value(json_object_get(json_object_get(v[i], "run"), "parts"));
	for (size_t i = 0; i < k; i++) {
		json_t *run = json_object_get(w[i], "run");

		assert_string_equal(json_string_value(json_object_get(run, "id")), id);
		assert_int_equal(json_integer_value(json_object_get(run, "parts")), (json_int_t)(n * k));
		assert_int_equal(json_integer_value(json_object_get(run, "part")), (json_int_t)(k + i + 1));
		cover += 1.0L / (long double)(n * k);
	}
	assert_true(cover > 0.999999L && cover < 1.000001L);
	plumb_report_parts_free(v, n);
	plumb_report_parts_free(again, m);
	plumb_report_parts_free(w, k);
	json_decref(doc);
}

/* One event over the cap: its diff goes (marked), the event stays; a
 * report that fits is itself, with no run. */
static void split_oversized_event(void **state)
{
	json_t *doc = big_report(1, 8000), **v = NULL, *actual;
	size_t n = 0;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_report_split(&v, &n, doc, 4096, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(json_string_value(json_object_get(v[0], "id")), json_string_value(json_object_get(doc, "id")));
	assert_null(json_object_get(v[0], "run"));
	actual = json_object_get(json_array_get(json_object_get(v[0], "events"), 0), "actual");
	assert_null(json_object_get(actual, "diff"));
	assert_true(json_is_true(json_object_get(actual, "diff_dropped")));
	assert_string_equal(json_string_value(json_object_get(actual, "type")), "file");
	plumb_report_parts_free(v, n);
	/* under the cap: unchanged */
	assert_int_equal(plumb_report_split(&v, &n, doc, 1 << 20, &err), 0);
	assert_int_equal(n, 1);
	assert_true(json_equal(v[0], doc));
	plumb_report_parts_free(v, n);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shape),
		cmocka_unit_test(exit_codes),
		cmocka_unit_test(split),
		cmocka_unit_test(split_oversized_event),
		cmocka_unit_test(drift_name_list),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
