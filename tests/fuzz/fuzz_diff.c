/* fuzz_diff.c - libFuzzer target: plumb_text_diff on two arbitrary texts
 * never crashes or passes its cap, and its diff, applied, gives back "have". */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lines of t: starts[i], with starts[n] = end. */
static size_t lines(const char *t, size_t len, const char ***out)
{
	size_t n = 0, k;
	const char **v = malloc((len + 2) * sizeof(*v));

	if (v == NULL)
		abort();
	for (k = 0; k < len; k++)
		if (k == 0 || t[k - 1] == '\n')
			v[n++] = t + k;
	v[n] = t + len;
	*out = v;
	return n;
}

/* Applies d to a; returns the result's length in out (malloc'd). */
static size_t apply(char **out, const char *a, size_t alen, const char *d)
{
	const char **al;
	size_t na = lines(a, alen, &al), ai = 0, o = 0;
	char *r = malloc(alen + strlen(d) + 1);

	if (r == NULL)
		abort();
	while (*d == '@') {
		unsigned long s = 0, c = 1;
		size_t first;

		if (sscanf(d, "@@ -%lu,%lu", &s, &c) < 1)
			__builtin_trap();
		first = c == 0 ? s : s - 1;
		if (first < ai || first > na)
			__builtin_trap();
		memcpy(r + o, al[ai], (size_t)(al[first] - al[ai]));
		o += (size_t)(al[first] - al[ai]);
		ai = first;
		d = strchr(d, '\n') + 1;
		while (*d == ' ' || *d == '-' || *d == '+') {
			char sign = *d;
			const char *nl = strchr(d, '\n');
			size_t len = (size_t)(nl - d);  /* content and its newline */

			if (nl[1] == '\\') {            /* "\ No newline at end of file" */
				nl = strchr(nl + 1, '\n');
				len--;
			}
			if (sign != '-') {
				memcpy(r + o, d + 1, len);
				o += len;
			}
			if (sign != '+')
				ai++;
			d = nl + 1;
		}
	}
	if (*d != '\0' || ai > na)
		__builtin_trap();
	memcpy(r + o, al[ai], (size_t)(al[na] - al[ai]));
	o += (size_t)(al[na] - al[ai]);
	free(al);
	*out = r;
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut, cap;
	char *d, *back;

	if (size < 2)
		return 0;
	cut = (size - 2) * data[0] / 255;
	cap = 64 + (size_t)data[1] * 64;
	data += 2, size -= 2;
	if ((d = plumb_text_diff((const char *)data, cut, (const char *)data + cut, size - cut, cap)) == NULL)
		return 0;  /* not text */
	if (strlen(d) > cap + 16)
		__builtin_trap();
	if (strstr(d, "... (truncated)\n") == NULL) {
		size_t n = apply(&back, (const char *)data, cut, d);

		if (n != size - cut || memcmp(back, data + cut, n) != 0)
			__builtin_trap();
		free(back);
	}
	free(d);
	return 0;
}
