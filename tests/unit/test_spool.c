/* test_spool.c - the report outbox: a split replaces a report in its place
 * in the delivery order, requeue brings rejected reports back, and the
 * delivery counters survive a save and load. */
#include "testlib.h"

#include "plumb/spool.h"
#include "plumb/state.h"

#define ID_A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define ID_B "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define ID_P1 "11111111-1111-4111-8111-111111111111"
#define ID_P2 "22222222-2222-4222-8222-222222222222"

static struct plumb_state *open_state(char **dir)
{
	struct plumb_state *st;
	struct plumb_err err;

	*dir = t_mkdtemp();
	assert_int_equal(plumb_state_open(&st, *dir, 0, &err), 0);
	return st;
}

static void close_state(struct plumb_state *st, char *dir)
{
	plumb_state_free(st);
	t_rm_rf(dir);
	free(dir);
}

static void split_in_place(void **state)
{
	char *dir, *texts[2] = {"{\"p\":1}", "{\"p\":2}"}, *one[1] = {"{\"small\":1}"}, *text;
	const char *ids[2] = {ID_P1, ID_P2}, *same[1] = {ID_A};
	struct plumb_state *st = open_state(&dir);
	struct plumb_spool_entry *v;
	struct plumb_err err;
	size_t n, len;

	(void)state;
	assert_int_equal(plumb_spool_put(st, ID_A, 0, "{\"big\":1}", 9, &err), 0);
	assert_int_equal(plumb_spool_put(st, ID_B, 0, "{\"later\":1}", 11, &err), 0);
	assert_int_equal(plumb_spool_list(st, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(plumb_spool_split(st, &v[0], texts, ids, 2, &err), 0);
	free(v);
	/* the pieces come first, in order, before the later report */
	assert_int_equal(plumb_spool_list(st, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_non_null(strstr(v[0].name, ID_P1));
	assert_non_null(strstr(v[1].name, ID_P2));
	assert_non_null(strstr(v[2].name, ID_B));
	free(v);
	/* one piece with the same id: replaced where it is, never lost */
	assert_int_equal(plumb_spool_put(st, ID_A, 0, "{\"big\":2}", 9, &err), 0);
	assert_int_equal(plumb_spool_list(st, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_non_null(strstr(v[3].name, ID_A));
	assert_int_equal(plumb_spool_split(st, &v[3], one, same, 1, &err), 0);
	free(v);
	assert_int_equal(plumb_spool_list(st, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_non_null(strstr(v[3].name, ID_A));
	assert_int_equal(plumb_spool_read(st, &v[3], &text, &len, &err), 0);
	assert_string_equal(text, "{\"small\":1}");
	free(text);
	free(v);
	close_state(st, dir);
}

static void requeue(void **state)
{
	char *dir;
	struct plumb_state *st = open_state(&dir);
	struct plumb_spool_entry *v;
	struct plumb_err err;
	unsigned moved;
	size_t n;

	(void)state;
	assert_int_equal(plumb_spool_put(st, ID_A, 0, "{}", 2, &err), 0);
	assert_int_equal(plumb_spool_put(st, ID_B, 0, "{}", 2, &err), 0);
	assert_int_equal(plumb_spool_list(st, &v, &n, &err), 0);
	assert_int_equal(plumb_spool_reject(st, &v[0], "HTTP 400: bad"), 0);
	assert_int_equal(plumb_spool_reject(st, &v[1], "HTTP 422: bad"), 0);
	free(v);
	assert_int_equal(plumb_spool_rejected_count(st), 2);
	assert_int_equal(plumb_spool_requeue(st, ID_P1, &moved, &err), PLUMB_E_NOTFOUND);
	assert_int_equal(moved, 0);
	assert_int_equal(plumb_spool_requeue(st, ID_B, &moved, &err), 0);
	assert_int_equal(moved, 1);
	assert_int_equal(plumb_spool_rejected_count(st), 1);
	assert_int_equal(plumb_spool_list(st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_non_null(strstr(v[0].name, ID_B));
	free(v);
	assert_int_equal(plumb_spool_requeue(st, NULL, &moved, &err), 0);
	assert_int_equal(moved, 1);
	assert_int_equal(plumb_spool_rejected_count(st), 0);
	assert_int_equal(plumb_spool_requeue(st, NULL, &moved, &err), 0);
	assert_int_equal(moved, 0);
	close_state(st, dir);
}

static void counters(void **state)
{
	char *dir;
	struct plumb_state *st = open_state(&dir);
	struct plumb_spool_stats s, t;
	struct plumb_err err;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.auth_refused = 3;
	s.throttled = 5;
	s.split = 7;
	s.rejected = 2;
	memset(s.last_error, 'e', sizeof(s.last_error) - 1);   /* too long for the record: shortened */
	s.last_error[sizeof(s.last_error) - 1] = '\0';
	assert_int_equal(plumb_spool_stats_save(st, &s), 0);
	assert_int_equal(plumb_spool_stats_load(st, &t, &err), 0);
	assert_int_equal(t.auth_refused, 3);
	assert_int_equal(t.throttled, 5);
	assert_int_equal(t.split, 7);
	assert_int_equal(t.rejected, 2);
	assert_true(strlen(t.last_error) > 0 && t.last_error[0] == 'e');
	close_state(st, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_in_place),
		cmocka_unit_test(requeue),
		cmocka_unit_test(counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
