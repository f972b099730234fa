/* diff.h - bounded unified diffs for drift reports and `plumb --diff`:
 * the hunks of `diff -u` (three lines of context, "-" the baseline, "+"
 * what was found, "\ No newline at end of file"), without file headers. */
#ifndef PLUMB_DIFF_H
#define PLUMB_DIFF_H

#include <stddef.h>

#define PLUMB_DIFF_INPUT_MAX (64u << 10)   /* larger files: hashes only */
#define PLUMB_DIFF_OUTPUT_MAX 4096         /* the report's cap; the hub takes <= 8192 */
#define PLUMB_DIFF_CONTEXT 3
#define PLUMB_DIFF_D_MAX 1000              /* edits searched; past it, a longer diff */

/* Returns a malloc'd diff of want (the baseline) against have (what was
 * found), or NULL when either side is not text, is too large, or memory is
 * short. Output past max bytes ends with a "... (truncated)" line. */
char *plumb_text_diff(const char *want, size_t wlen, const char *have, size_t hlen, size_t max);

#endif
