/* path.h - validation of paths named by baselines (after git's verify_path):
 * absolute managed paths and relative source paths, both normalized. */
#ifndef PLUMB_PATH_H
#define PLUMB_PATH_H

#include <stddef.h>

/* Longest managed path accepted, in bytes. */
#define PLUMB_PATH_MAX 4095

/* Checks that p (of length len, which may contain NULs) is an absolute,
 * normalized path other than "/": no empty, "." or ".." component, no
 * trailing slash, no NUL, each component at most NAME_MAX bytes.
 * Returns NULL if valid, else a static sentence saying what is wrong. */
const char *plumb_path_check_abs(const char *p, size_t len);

/* The same rules for a relative path (no leading slash). */
const char *plumb_path_check_rel(const char *p, size_t len);

#endif
