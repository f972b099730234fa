/* package.h - Debian packages (the `packages:` list), judged by the root's
 * own dpkg database (var/lib/dpkg/status, read below the root fd), removed
 * with `dpkg --root=ROOT --purge`, installed with apt-get only when the
 * root is / (a sandbox root has no package source plumb could trust). */
#ifndef PLUMB_PACKAGE_H
#define PLUMB_PACKAGE_H

#include <stddef.h>

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/report.h"

#define PLUMB_DPKG_STATUS "var/lib/dpkg/status"
#define PLUMB_DPKG_STATUS_MAX (64u << 20)
#define PLUMB_DPKG "/usr/bin/dpkg"
#define PLUMB_APT_GET "/usr/bin/apt-get"
/* Seconds one dpkg or apt-get run may take. */
#define PLUMB_PACKAGE_TIMEOUT 600

/* What the status file says of one package. */
struct plumb_package_state {
	int present;            /* unpacked or further: installed, half-configured, triggers-* ... */
	char status[64];        /* "install ok installed"; "" when not listed */
	char version[128];
};

/* Looks up the n packages named in b->packages (sorted) in a dpkg status
 * text of len bytes, filling out[i] for each. Never fails: what it cannot
 * read is not present. */
void plumb_dpkg_status_scan(struct plumb_package_state *out, const struct plumb_package_res *pkgs, size_t n,
			    const char *text, size_t len);

/* Checks (and with repair, purges or installs) every `packages:` entry of b
 * in the root at rootfd, adding an event per drifted or failed package to
 * rep: resource "package:NAME", drift "present" (installed, should be
 * absent) or "missing". Removals go in one dpkg call, installs in one
 * apt-get call; the database is read again afterwards to judge each.
 * Returns 0, or a negative code for a failure of the run itself. */
int plumb_package_run(struct plumb_report *rep, const struct plumb_baseline *b, int rootfd, int repair,
		      struct plumb_err *err);

#endif
