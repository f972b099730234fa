/* test_journal.c - the run journal: intents made durable, outcomes applied
 * to their intents, a torn last line skipped, interrupted repairs reported
 * as such, and the journal gone once cleared. */
#include "testlib.h"

#include "plumb/journal.h"
#include "plumb/state.h"

static void event(struct plumb_event *ev, const char *res, unsigned drift)
{
	memset(ev, 0, sizeof(*ev));
	ev->resource = strdup(res);
	ev->drift = drift;
	ev->action = PLUMB_ACT_REVERTED;
	ev->at = 1700000000;
	ev->actual = json_pack("{s:s}", "type", "file");
}

static void journal_roundtrip(void **state)
{
	char *dir = t_mkdtemp(), p[600];
	struct plumb_journal *j;
	struct plumb_report rep, *v;
	struct plumb_state *st;
	struct plumb_event a, b, c;
	struct plumb_err err;
	size_t n;
	FILE *f;

	(void)state;
	assert_int_equal(plumb_state_open(&st, dir, 0, &err), 0);
	assert_int_equal(plumb_report_init(&rep, "enforce", &err), 0);
	rep.commit = strdup("0123456789012345678901234567890123456789");
	rep.has_serial = 1;
	rep.serial = 7;
	/* nothing announced: no journal at all */
	assert_int_equal(plumb_journal_open(&j, st, &rep, &err), 0);
	plumb_journal_free(j);
	snprintf(p, sizeof(p), "%s/journal", dir);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(plumb_journal_recover(st, &v, &n, &err), 0);
	assert_int_equal(n, 0);

	assert_int_equal(plumb_journal_open(&j, st, &rep, &err), 0);
	event(&a, "file:/etc/a", PLUMB_DRIFT_CONTENT);
	event(&b, "file:/etc/b", PLUMB_DRIFT_MODE | PLUMB_DRIFT_ACL);
	event(&c, "file:/etc/c", PLUMB_DRIFT_MISSING);
	assert_int_equal(plumb_journal_intend(j, &a, &err), 0);
	assert_int_equal(plumb_journal_intend(j, &b, &err), 0);
	assert_int_equal(plumb_journal_intend(j, &c, &err), 0);
	assert_int_equal(plumb_journal_sync(j, &err), 0);
	a.quarantine = strdup("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(plumb_journal_done(j, &a, &err), 0);
	b.action = PLUMB_ACT_FAILED;
	b.error = strdup("cannot change mode");
	assert_int_equal(plumb_journal_done(j, &b, &err), 0);
	plumb_journal_free(j);
	/* a torn last line, as a kill in the middle of a write leaves */
	assert_non_null(f = fopen(p, "a"));
	fputs("{\"run\":\"x\",\"done\":{\"resou", f);
	fclose(f);

	assert_int_equal(plumb_journal_recover(st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, rep.id);
	assert_string_equal(v[0].commit, rep.commit);
	assert_int_equal(v[0].serial, 7);
	assert_int_equal(v[0].nevents, 3);
	assert_string_equal(v[0].events[0].resource, "file:/etc/a");
	assert_int_equal(v[0].events[0].action, PLUMB_ACT_REVERTED);
	assert_int_equal(v[0].events[0].drift, PLUMB_DRIFT_CONTENT);
	assert_string_equal(v[0].events[0].quarantine, a.quarantine);
	assert_int_equal(v[0].events[1].action, PLUMB_ACT_FAILED);
	assert_int_equal(v[0].events[1].drift, PLUMB_DRIFT_MODE | PLUMB_DRIFT_ACL);
	assert_string_equal(v[0].events[1].error, "cannot change mode");
	/* announced, never finished: failed, saying the run was interrupted */
	assert_int_equal(v[0].events[2].action, PLUMB_ACT_FAILED);
	assert_non_null(strstr(v[0].events[2].error, "interrupted"));
	assert_int_equal(v[0].reverted, 1);
	assert_int_equal(v[0].failed, 2);
	plumb_report_release(&v[0]);
	free(v);

	assert_int_equal(plumb_journal_clear(st, &err), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(plumb_journal_clear(st, &err), 0);   /* twice is fine */
	plumb_event_release(&a);
	plumb_event_release(&b);
	plumb_event_release(&c);
	plumb_report_release(&rep);
	plumb_state_free(st);
	t_rm_rf(dir);
	free(dir);
}

/* A FIFO or symlink at the journal's name is refused, never opened. */
static void journal_not_regular(void **state)
{
	char *dir = t_mkdtemp(), p[600];
	struct plumb_state *st;
	struct plumb_report *v;
	struct plumb_err err;
	size_t n;

	(void)state;
	assert_int_equal(plumb_state_open(&st, dir, 0, &err), 0);
	snprintf(p, sizeof(p), "%s/journal", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(plumb_journal_recover(st, &v, &n, &err), PLUMB_E_UNSAFE);
	assert_non_null(strstr(err.msg, "not a regular file"));
	unlink(p);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_true(plumb_journal_recover(st, &v, &n, &err) < 0);
	plumb_state_free(st);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(journal_roundtrip),
		cmocka_unit_test(journal_not_regular),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
