/* test_diff.c - the compact drift diff: one hunk around the change, bounded
 * output, no newline markers, refusal of binary and oversized input. */
#include "testlib.h"

#include "plumb/diff.h"

static void check(const char *want, const char *have, const char *expect)
{
	char *d = plumb_text_diff(want, strlen(want), have, strlen(have), PLUMB_DIFF_OUTPUT_MAX);

	assert_non_null(d);
	assert_string_equal(d, expect);
	free(d);
}

static void hunks(void **state)
{
	(void)state;
	check("Port 22\nPermitRootLogin no\nX11Forwarding no\n", "Port 22\nPermitRootLogin yes\nX11Forwarding no\n",
	      "@@ -2,1 +2,1 @@\n-PermitRootLogin no\n+PermitRootLogin yes\n");
	check("a\nb\n", "a\nb\nc\n", "@@ -3,0 +3,1 @@\n+c\n");
	check("a\nb\nc\n", "c\n", "@@ -1,2 +1,0 @@\n-a\n-b\n");
	check("a\n", "a", "@@ -1,1 +1,1 @@\n-a\n+a\n\\ No newline at end of file\n");
	check("", "new\n", "@@ -1,0 +1,1 @@\n+new\n");
}

static void bounds(void **state)
{
	char big[PLUMB_DIFF_INPUT_MAX + 2], *d;

	(void)state;
	assert_null(plumb_text_diff("a\n", 2, "\x00\x01", 2, 4096));     /* binary */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(plumb_text_diff("a\n", 2, big, strlen(big), 4096));  /* too large */
	/* many changed lines: truncated within the bound */
	{
		char want[8000], have[8000];
		size_t n = 0, m = 0;

		for (int i = 0; i < 400; i++) {
			n += (size_t)snprintf(want + n, sizeof(want) - n, "line %d\n", i);
			m += (size_t)snprintf(have + m, sizeof(have) - m, "LINE %d\n", i);
		}
		d = plumb_text_diff(want, n, have, m, 512);
		assert_non_null(d);
		assert_true(strlen(d) <= 512 + 64);
		assert_non_null(strstr(d, "... (truncated)\n"));
		free(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hunks),
		cmocka_unit_test(bounds),
	};

	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
