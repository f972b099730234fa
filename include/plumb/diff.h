/* diff.h - a compact, bounded text diff for drift reports: the common
 * leading and trailing lines are trimmed and the differing middle is shown
 * as "-" (baseline) and "+" (found) lines under one "@@ -a,n +b,m @@" hunk. */
#ifndef PLUMB_DIFF_H
#define PLUMB_DIFF_H

#include <stddef.h>

#define PLUMB_DIFF_INPUT_MAX (64u << 10)   /* larger files: hashes only */
#define PLUMB_DIFF_OUTPUT_MAX 4096

/* Returns a malloc'd diff of want (the baseline) against have (what was
 * found), or NULL when either side is not text, is too large, or memory is
 * short. Output past max bytes ends with a "... (truncated)" line. */
char *plumb_text_diff(const char *want, size_t wlen, const char *have, size_t hlen, size_t max);

#endif
