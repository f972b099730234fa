/* service.h - systemd units (the `services:` list): enablement in the root
 * through `systemctl --root=ROOT is-enabled|enable|disable|mask|unmask`,
 * which works offline on any tree; running state through the running
 * systemd only where it is reachable (the root is / and systemd runs),
 * else reported as "unknown". */
#ifndef PLUMB_SERVICE_H
#define PLUMB_SERVICE_H

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/report.h"

/* The systemctl exec'd; PLUMB_SYSTEMCTL_ENV names another, for tests only. */
#define PLUMB_SYSTEMCTL "/usr/bin/systemctl"
#define PLUMB_SYSTEMCTL_ENV "PLUMB_SYSTEMCTL"
/* Seconds one systemctl call may take. */
#define PLUMB_SYSTEMCTL_TIMEOUT 30

/* The systemctl to exec: PLUMB_SYSTEMCTL_ENV when absolute, else the default. */
const char *plumb_systemctl_path(void);

/* Whether the root at rootfd is this system's / and systemd runs it. When
 * not, *why (if why is not NULL) says which. */
int plumb_systemd_reachable(int rootfd, const char **why);

/* The path of the directory rootfd, for --root= and $PLUMB_ROOT. Returns 0
 * or PLUMB_E_IO. */
int plumb_root_path(char *out, size_t outlen, int rootfd);

/* Checks (and with repair, enables, disables, masks, starts or stops)
 * every `services:` entry of b, adding an event per drifted or failed unit
 * to rep: resource "service:UNIT", drift "enabled" and "running". A unit
 * systemctl does not know is compliant when it should be disabled, masked
 * when it should be masked, and failed (drift "missing") when it should be
 * enabled. enforce: warn units
 * are reported, never changed. A repair is checked by asking again.
 * Returns 0, or a negative code for a failure of the run itself. */
int plumb_service_run(struct plumb_report *rep, const struct plumb_baseline *b, int rootfd, int repair,
		      struct plumb_err *err);

#endif
