/* diff.c - unified diffs of drifted files (Myers' O(ND) algorithm, three
 * lines of context, as many hunks as needed), bounded in input and output. */
#include <stdlib.h>
#include <string.h>

#include "plumb/buf.h"
#include "plumb/diff.h"
#include "plumb/util.h"
#include "banned.h"

/* Splits text into lines (pointers into text; each keeps its newline). */
static const char **split(const char *t, size_t len, size_t *n)
{
	size_t cnt = 0, i = 0;
	const char **v;

	for (size_t k = 0; k < len; k++)
		if (t[k] == '\n')
			cnt++;
	if ((v = calloc(cnt + 2, sizeof(*v))) == NULL)
		return NULL;
	for (size_t k = 0, start = 0; k < len; k++) {
		if (t[k] == '\n' || k == len - 1) {
			v[i++] = t + start;
			start = k + 1;
		}
	}
	v[i] = t + len;   /* end sentinel */
	*n = i;
	return v;
}

static size_t line_len(const char **v, size_t i)
{
	return (size_t)(v[i + 1] - v[i]);
}

static int same(const char **a, size_t i, const char **b, size_t j)
{
	size_t la = line_len(a, i), lb = line_len(b, j);

	return la == lb && memcmp(a[i], b[j], la) == 0;
}

/* Marks in ma[i] and mb[j] the lines of a[lo_a..hi_a) and b[lo_b..hi_b)
 * that a shortest edit script keeps (Myers 1986, forward greedy with the
 * V vector of every round kept for the way back). Past PLUMB_DIFF_D_MAX
 * edits nothing more is matched: the rest shows as removed and added,
 * which is still a correct diff, only a longer one. Returns 0 or -1 (memory). */
static int myers(const char **a, size_t lo_a, size_t hi_a, const char **b, size_t lo_b, size_t hi_b,
		 unsigned char *ma, unsigned char *mb)
{
	long n = (long)(hi_a - lo_a), m = (long)(hi_b - lo_b), dmax = n + m, d, k, x, y;
	/* int: lines are fewer than PLUMB_DIFF_INPUT_MAX; 4 MiB at most for the trace */
	int *trace = NULL, *v, *prev;
	size_t cap = 0, need;

	if (dmax > PLUMB_DIFF_D_MAX)
		dmax = PLUMB_DIFF_D_MAX;
	for (d = 0; d <= dmax; d++) {
		/* round d keeps V[k] for k in [-d, d] at trace[d*d + k + d] */
		need = (size_t)(d + 1) * (size_t)(d + 1);
		if (need > cap) {
			size_t ncap = cap ? cap * 2 : 64;
			int *nt;

			while (ncap < need)
				ncap *= 2;
			if ((nt = reallocarray(trace, ncap, sizeof(*nt))) == NULL) {
				free(trace);
				return -1;
			}
			trace = nt;
			cap = ncap;
		}
		v = trace + d * d + d;
		prev = d ? trace + (d - 1) * (d - 1) + (d - 1) : NULL;
		for (k = -d; k <= d; k += 2) {
			if (d == 0)
				x = 0;
			else if (k == -d || (k != d && prev[k - 1] < prev[k + 1]))
				x = prev[k + 1];
			else
				x = prev[k - 1] + 1;
			y = x - k;
			while (x < n && y < m && same(a, lo_a + (size_t)x, b, lo_b + (size_t)y))
				x++, y++;
			v[k] = (int)x;
			if (x >= n && y >= m)
				goto found;
		}
	}
	free(trace);
	return 0;   /* too many edits: no matches in the middle */
found:
	x = n, y = m;
	for (; d >= 0; d--) {
		long pk = 0, px, py;

		v = trace + d * d + d;
		k = x - y;
		if (d == 0) {
			px = 0, py = 0;
		} else {
			prev = trace + (d - 1) * (d - 1) + (d - 1);
			pk = (k == -d || (k != d && prev[k - 1] < prev[k + 1])) ? k + 1 : k - 1;
			px = prev[pk];
			py = px - pk;
			/* the snake of round d starts one step after (px, py) */
			if (pk == k + 1)
				py++;
			else
				px++;
		}
		while (x > px && y > py) {
			x--, y--;
			ma[lo_a + (size_t)x] = mb[lo_b + (size_t)y] = 1;
		}
		if (d > 0) {
			x = prev[pk];
			y = x - pk;
		}
	}
	free(trace);
	return 0;
}

struct out {
	struct plumb_buf b;
	size_t max;
	int full;
};

static void emit(struct out *o, char sign, const char *line, size_t len)
{
	if (o->full)
		return;
	if (o->b.len + len + 2 + 32 > o->max) {
		plumb_buf_adds(&o->b, "... (truncated)\n");
		o->full = 1;
		return;
	}
	plumb_buf_add(&o->b, &sign, 1);
	plumb_buf_add(&o->b, line, len);
	if (len == 0 || line[len - 1] != '\n')
		plumb_buf_adds(&o->b, "\n\\ No newline at end of file\n");
}

/* "-5,3" as diff -u writes it: the count left out when it is 1, and the
 * line before the hunk when it is 0. */
static void range(struct out *o, char sign, size_t start, size_t count)
{
	if (count == 1)
		plumb_buf_addf(&o->b, "%c%zu", sign, start + 1);
	else
		plumb_buf_addf(&o->b, "%c%zu,%zu", sign, count ? start + 1 : start, count);
}

char *plumb_text_diff(const char *want, size_t wlen, const char *have, size_t hlen, size_t max)
{
	const char **a = NULL, **b = NULL;
	unsigned char *ma = NULL, *mb = NULL;
	size_t na, nb, pre = 0, suf = 0, i, j;
	struct out o;
	char *r = NULL;

	if (wlen > PLUMB_DIFF_INPUT_MAX || hlen > PLUMB_DIFF_INPUT_MAX ||
	    !plumb_is_text((const unsigned char *)want, wlen) || !plumb_is_text((const unsigned char *)have, hlen))
		return NULL;
	if ((a = split(want, wlen, &na)) == NULL || (b = split(have, hlen, &nb)) == NULL)
		goto out;
	if ((ma = calloc(na + 1, 1)) == NULL || (mb = calloc(nb + 1, 1)) == NULL)
		goto out;
	while (pre < na && pre < nb && same(a, pre, b, pre))
		ma[pre] = mb[pre] = 1, pre++;
	while (suf < na - pre && suf < nb - pre && same(a, na - 1 - suf, b, nb - 1 - suf))
		ma[na - 1 - suf] = mb[nb - 1 - suf] = 1, suf++;
	if (myers(a, pre, na - suf, b, pre, nb - suf, ma, mb) != 0)
		goto out;

	plumb_buf_init(&o.b, max + 64);
	o.max = max;
	o.full = 0;
	/* Walk both sides: a kept line of a pairs with the next kept line of
	 * b. A hunk runs from a change to the last change at most 2*CONTEXT
	 * kept lines later, with CONTEXT kept lines on either side. */
	i = 0, j = 0;
	while (!o.full) {
		size_t si, sj, ei, ej, gap, ci, cj;

		while (i < na && j < nb && ma[i] && mb[j])
			i++, j++;
		if (i >= na && j >= nb)
			break;
		/* (i, j) is the first change; find the end of its hunk */
		si = i > PLUMB_DIFF_CONTEXT ? i - PLUMB_DIFF_CONTEXT : 0;
		sj = j - (i - si);
		ei = i, ej = j;
		for (;;) {
			while (ei < na && !ma[ei])
				ei++;
			while (ej < nb && !mb[ej])
				ej++;
			for (gap = 0; ei + gap < na && ej + gap < nb && ma[ei + gap] && mb[ej + gap]; gap++)
				;
			if ((ei + gap >= na && ej + gap >= nb) || gap > 2 * PLUMB_DIFF_CONTEXT) {
				ci = gap < PLUMB_DIFF_CONTEXT ? gap : PLUMB_DIFF_CONTEXT;
				break;
			}
			ei += gap, ej += gap;
		}
		cj = ci;
		if (o.b.len + 64 > o.max) {  /* no room for a header and a line */
			plumb_buf_adds(&o.b, "... (truncated)\n");
			break;
		}
		plumb_buf_adds(&o.b, "@@ ");
		range(&o, '-', si, ei + ci - si);
		plumb_buf_adds(&o.b, " ");
		range(&o, '+', sj, ej + cj - sj);
		plumb_buf_adds(&o.b, " @@\n");
		for (; i > si; i--, j--)
			;
		while ((i < ei || j < ej) && !o.full) {
			if (i < ei && !ma[i]) {
				emit(&o, '-', a[i], line_len(a, i));
				i++;
			} else if (j < ej && !mb[j]) {
				emit(&o, '+', b[j], line_len(b, j));
				j++;
			} else {
				emit(&o, ' ', a[i], line_len(a, i));
				i++, j++;
			}
		}
		for (size_t c = 0; c < ci && !o.full; c++, i++, j++)
			emit(&o, ' ', a[i], line_len(a, i));
	}
	r = plumb_buf_detach(&o.b, NULL);
out:
	free(ma);
	free(mb);
	free(a);
	free(b);
	return r;
}
