/* diff.c - compact text diffs of drifted files (one hunk around the change).
 * Enough for an SRE to read what was written; not a general diff tool. */
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

static void emit(struct plumb_buf *out, char sign, const char *line, size_t len, size_t max, int *full)
{
	if (*full)
		return;
	if (out->len + len + 2 + 20 > max) {
		plumb_buf_adds(out, "... (truncated)\n");
		*full = 1;
		return;
	}
	plumb_buf_add(out, &sign, 1);
	plumb_buf_add(out, line, len);
	if (len == 0 || line[len - 1] != '\n')
		plumb_buf_adds(out, "\n\\ No newline at end of file\n");
}

char *plumb_text_diff(const char *want, size_t wlen, const char *have, size_t hlen, size_t max)
{
	const char **a = NULL, **b = NULL;
	size_t na, nb, pre = 0, suf = 0;
	struct plumb_buf out;
	int full = 0;
	char *r = NULL;

	if (wlen > PLUMB_DIFF_INPUT_MAX || hlen > PLUMB_DIFF_INPUT_MAX ||
	    !plumb_is_text((const unsigned char *)want, wlen) || !plumb_is_text((const unsigned char *)have, hlen))
		return NULL;
	if ((a = split(want, wlen, &na)) == NULL || (b = split(have, hlen, &nb)) == NULL)
		goto out;
	while (pre < na && pre < nb && same(a, pre, b, pre))
		pre++;
	while (suf < na - pre && suf < nb - pre && same(a, na - 1 - suf, b, nb - 1 - suf))
		suf++;
	plumb_buf_init(&out, max + 64);
	plumb_buf_addf(&out, "@@ -%zu,%zu +%zu,%zu @@\n", pre + 1, na - pre - suf, pre + 1, nb - pre - suf);
	for (size_t i = pre; i < na - suf; i++)
		emit(&out, '-', a[i], line_len(a, i), max, &full);
	for (size_t j = pre; j < nb - suf; j++)
		emit(&out, '+', b[j], line_len(b, j), max, &full);
	r = plumb_buf_detach(&out, NULL);
out:
	free(a);
	free(b);
	return r;
}
