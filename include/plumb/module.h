/* module.h - kernel modules (the `modules:` list): loaded or not, as
 * /proc/modules says; repaired with modprobe / modprobe -r. Where a repair
 * cannot work (no modprobe, no CAP_SYS_MODULE as in a container, no
 * /proc/modules) the event says why and check still reports the drift. */
#ifndef PLUMB_MODULE_H
#define PLUMB_MODULE_H

#include <stddef.h>

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/report.h"

#define PLUMB_PROC_MODULES "/proc/modules"
#define PLUMB_MODPROBE "/usr/sbin/modprobe"
/* For tests only: another modules list and another modprobe. */
#define PLUMB_PROC_MODULES_ENV "PLUMB_PROC_MODULES"
#define PLUMB_MODPROBE_ENV "PLUMB_MODPROBE"
#define PLUMB_PROC_MODULES_MAX (4u << 20)
#define PLUMB_MODPROBE_TIMEOUT 60

/* Whether /proc/modules text (len bytes) lists module name (as the kernel
 * writes it, '_' for '-'). */
int plumb_modules_listed(const char *text, size_t len, const char *name);

/* Checks (and with repair, loads or unloads) every `modules:` entry of b,
 * adding an event per drifted or failed module to rep: resource
 * "module:NAME", drift "present" (loaded, should not be) or "missing".
 * Returns 0, or a negative code for a failure of the run itself. */
int plumb_module_run(struct plumb_report *rep, const struct plumb_baseline *b, int repair, struct plumb_err *err);

#endif
