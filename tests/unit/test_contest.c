/* test_contest.c - contested-resource backoff: below the threshold nothing
 * pauses; at it the pause doubles per contest up to the cap; a revert
 * outside the window starts a new count; long calm starts afresh. The
 * sparse table: entries by index, created on demand, kept across growth,
 * every one seen once by the slot walk. */
#include "testlib.h"

#include "plumb/contest.h"
#include "plumb/daemon.h"

static void backoff(void **state)
{
	struct plumb_contest c;
	double t = 1000, p = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (int i = 1; i < PLUMB_CONTEST_THRESHOLD; i++)
		assert_true(plumb_contest_revert(&c, t + i * 0.1) == 0);
	assert_false(plumb_contest_paused(&c, t + 1));
	assert_true(plumb_contest_revert(&c, t + 1) == 1);      /* the fifth in the window */
	assert_true(plumb_contest_paused(&c, t + 1.5));
	assert_false(plumb_contest_paused(&c, t + 2.1));
	assert_int_equal(c.cycle, PLUMB_CONTEST_THRESHOLD);
	/* each further contest doubles the pause, up to the cap */
	for (int level = 2; level <= 10; level++) {
		t += 1;
		for (int i = 0; i < PLUMB_CONTEST_THRESHOLD; i++)
			p = plumb_contest_revert(&c, t + i * 0.01);
		assert_true(p == ((1u << (level - 1)) > PLUMB_CONTEST_MAX_BACKOFF ? PLUMB_CONTEST_MAX_BACKOFF :
				  (double)(1u << (level - 1))));
	}
	assert_true(p == PLUMB_CONTEST_MAX_BACKOFF);
	/* reverts spread wider than the window never pause */
	t += 10 * PLUMB_CONTEST_MAX_BACKOFF;
	for (int i = 0; i < 3 * PLUMB_CONTEST_THRESHOLD; i++)
		assert_true(plumb_contest_revert(&c, t + i * (PLUMB_CONTEST_WINDOW + 1.0)) == 0);
	/* and after long calm the level starts again from the bottom */
	assert_int_equal(c.level, 0);
}

static void table(void **state)
{
	struct plumb_contests t = {0};
	size_t seen = 0, sum = 0, i;

	(void)state;
	assert_null(plumb_contests_get(&t, 7, 0));           /* none until asked to create */
	assert_int_equal(t.cap, 0);
	for (size_t k = 0; k < 5000; k += 5) {               /* 1,000 entries: grows several times */
		struct plumb_contest *c = plumb_contests_get(&t, k, 1);

		assert_non_null(c);
		assert_int_equal(c->reverts, 0);
		c->reverts = (uint32_t)k + 1;
	}
	assert_int_equal(t.n, 1000);
	for (size_t k = 0; k < 5000; k++) {
		struct plumb_contest *c = plumb_contests_get(&t, k, 0);

		if (k % 5 == 0) {
			assert_non_null(c);
			assert_int_equal(c->reverts, k + 1);          /* kept across growth */
			assert_ptr_equal(plumb_contests_get(&t, k, 1), c);
		} else {
			assert_null(c);
		}
	}
	for (size_t k = 0; k < t.cap; k++) {
		struct plumb_contest *c = plumb_contests_slot(&t, k, &i);

		if (c != NULL) {
			assert_int_equal(c->reverts, i + 1);
			seen++;
			sum += i;
		}
	}
	assert_int_equal(seen, 1000);
	assert_int_equal(sum, 5 * (999 * 1000 / 2));
	assert_int_equal(t.n, 1000);
	plumb_contests_release(&t);
	assert_int_equal(t.cap, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff),
		cmocka_unit_test(table),
	};

	return cmocka_run_group_tests_name("contest", tests, NULL, NULL);
}
