/* test_diff.c - the drift diff: diff -u's hunks (context, several hunks,
 * no-newline markers), bounded output, refusal of binary and oversized
 * input, and random edits whose diff, applied, gives back what was found. */
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
	      "@@ -1,3 +1,3 @@\n Port 22\n-PermitRootLogin no\n+PermitRootLogin yes\n X11Forwarding no\n");
	check("a\nb\n", "a\nb\nc\n", "@@ -1,2 +1,3 @@\n a\n b\n+c\n");
	check("a\nb\nc\n", "c\n", "@@ -1,3 +1 @@\n-a\n-b\n c\n");
	check("a\n", "a", "@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
	check("", "new\n", "@@ -0,0 +1 @@\n+new\n");
	check("old\n", "", "@@ -1 +0,0 @@\n-old\n");
	check("same\n", "same\n", "");
}

/* Two one-line edits 35 lines apart: two hunks of 7 lines, as diff -u. */
static void two_hunks(void **state)
{
	char want[512], have[512];
	size_t n = 0, m = 0;
	char *d;

	(void)state;
	for (int i = 1; i <= 60; i++) {
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%d\n", i);
		m += (size_t)snprintf(have + m, sizeof(have) - m, "%s\n", i == 5 ? "five" : i == 40 ? "forty" : "");
		if (i != 5 && i != 40)
			m += (size_t)snprintf(have + m - 1, sizeof(have) - m + 1, "%d\n", i) - 1;
	}
	d = plumb_text_diff(want, n, have, m, PLUMB_DIFF_OUTPUT_MAX);
	assert_non_null(d);
	assert_string_equal(d, "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
			       "@@ -37,7 +37,7 @@\n 37\n 38\n 39\n-40\n+forty\n 41\n 42\n 43\n");
	free(d);
	/* 6 kept lines between two changes: one hunk */
	check("1\n2\n3\n4\n5\n6\n7\n8\n", "x\n2\n3\n4\n5\n6\n7\ny\n",
	      "@@ -1,8 +1,8 @@\n-1\n+x\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+y\n");
}

/* Applies a diff of ours to a (lines of one character and a newline). */
static size_t apply(char *out, const char *a, const char *d)
{
	size_t o = 0, ai = 0, alen = strlen(a);

	while (*d) {
		unsigned long start = 0, count = 1;
		size_t skip;

		/* "@@ -S[,N] +..." : a hunk of N old lines from line S (N = 0: after S) */
		if (sscanf(d, "@@ -%lu,%lu", &start, &count) < 1)
			fail_msg("bad hunk header: %.40s", d);
		skip = count == 0 ? start * 2 : (start - 1) * 2;  /* lines are 2 bytes */
		memcpy(out + o, a + ai, skip - ai);
		o += skip - ai;
		ai = skip;
		d = strchr(d, '\n') + 1;
		while (*d && *d != '@') {
			const char *nl = strchr(d, '\n');

			if (*d == ' ' || *d == '+') {
				memcpy(out + o, d + 1, (size_t)(nl - d));
				o += (size_t)(nl - d);
			}
			if (*d == ' ' || *d == '-')
				ai += 2;
			d = nl + 1;
		}
	}
	memcpy(out + o, a + ai, alen - ai);
	o += alen - ai;
	out[o] = '\0';
	return o;
}

static void random_edits(void **state)
{
	(void)state;
	srand(20);
	for (int round = 0; round < 2000; round++) {
		char a[400], b[800], back[1600], *d;
		int na = rand() % 120, nb = 0, edits = rand() % 12;

		for (int i = 0; i < na; i++)
			a[2 * i] = (char)('0' + rand() % 4), a[2 * i + 1] = '\n';
		a[2 * na] = '\0';
		memcpy(b, a, (size_t)(2 * na + 1));
		nb = na;
		for (int e = 0; e < edits; e++) {
			int at = nb ? rand() % (nb + 1) : 0, op = rand() % 3;

			if (op == 0 && at < nb) {
				memmove(b + 2 * at, b + 2 * at + 2, (size_t)(2 * (nb - at) - 1));
				nb--;
			} else if (op == 1 && nb < 390) {
				memmove(b + 2 * at + 2, b + 2 * at, (size_t)(2 * (nb - at) + 1));
				b[2 * at] = (char)('0' + rand() % 4), b[2 * at + 1] = '\n';
				nb++;
			} else if (at < nb) {
				b[2 * at] = 'x';
			}
		}
		d = plumb_text_diff(a, strlen(a), b, strlen(b), 1 << 16);
		assert_non_null(d);
		apply(back, a, d);
		if (strcmp(back, b) != 0)
			fail_msg("round %d:\na=%s\nb=%s\ndiff=%s\nback=%s", round, a, b, d, back);
		free(d);
	}
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
	/* many hunks: never past the bound, whatever the cap */
	for (size_t cap = 40; cap < 700; cap += 7) {
		char want[4000], have[4000];
		size_t n = 0, m = 0;

		for (int i = 0; i < 300; i++) {
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%d\n", i);
			m += (size_t)snprintf(have + m, sizeof(have) - m, i % 9 ? "%d\n" : "x%d\n", i);
		}
		d = plumb_text_diff(want, n, have, m, cap);
		assert_non_null(d);
		assert_true(strlen(d) <= cap + 16);
		free(d);
	}
	/* the largest input with every line different: past PLUMB_DIFF_D_MAX
	 * edits, still a diff, still bounded, and quick */
	{
		size_t n = PLUMB_DIFF_INPUT_MAX / 2, i;
		char *w = malloc(n + 1), *h = malloc(n + 1);

		assert_non_null(w);
		assert_non_null(h);
		for (i = 0; i < n; i += 2) {
			w[i] = (char)('a' + (i / 2) % 26), w[i + 1] = '\n';
			h[i] = (char)('A' + (i / 2) % 26), h[i + 1] = '\n';
		}
		w[n] = h[n] = '\0';
		d = plumb_text_diff(w, n, h, n, PLUMB_DIFF_OUTPUT_MAX);
		assert_non_null(d);
		assert_true(strlen(d) <= PLUMB_DIFF_OUTPUT_MAX + 64);
		free(d);
		free(w);
		free(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hunks),
		cmocka_unit_test(two_hunks),
		cmocka_unit_test(random_edits),
		cmocka_unit_test(bounds),
	};

	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
