/* sysctl.h - kernel parameters (the `sysctl:` list): read and written in
 * /proc/sys of the agent's own namespaces, never under --root (net.* keys
 * belong to the network namespace plumb runs in). */
#ifndef PLUMB_SYSCTL_H
#define PLUMB_SYSCTL_H

#include <stddef.h>

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/report.h"

/* Where the parameters live; PLUMB_SYSCTL_DIR_ENV overrides it, for tests
 * of global keys against a fake tree (never set it in production). */
#define PLUMB_SYSCTL_DIR "/proc/sys"
#define PLUMB_SYSCTL_DIR_ENV "PLUMB_SYSCTL_DIR"
/* Most bytes of a parameter read. */
#define PLUMB_SYSCTL_READ_MAX 65536

/* Writes the whitespace-normalized form of s into out (runs of blanks and
 * newlines become one space; none at either end). Returns the length, or
 * outlen or more when out was too small (then out is truncated). */
size_t plumb_sysctl_normalize(char *out, size_t outlen, const char *s);

/* Checks (and with repair, writes) every `sysctl:` entry of b, adding an
 * event per drifted or failed key to rep (resource "sysctl:KEY", drift
 * "value"; a key the kernel lacks is drift "missing", failed). Entries with
 * enforce: warn are reported, never written; sensitive ones are reported by
 * sha256 only. A write is read back: a value the kernel does not keep is a
 * failure. Returns 0, or a negative code for a failure of the run itself. */
/* With foreign_root (--root is not this machine's /), a key outside net.*
 * found on the running kernel's procfs is checked but never written: it is
 * this machine's, not the root's (the write fails, saying so). */
int plumb_sysctl_run(struct plumb_report *rep, const struct plumb_baseline *b, int repair, int foreign_root,
		     struct plumb_err *err);

#endif
