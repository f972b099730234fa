/* notify_run.h - the `notify:` actions of files: after a file is reverted
 * (or rewritten for a new baseline) its units are reloaded or restarted, or
 * its exec: argv is run; batched per run, each with a deadline, never
 * through a shell. (notify.h is the other direction: plumbd telling its
 * own service manager that it is ready.) */
#ifndef PLUMB_NOTIFY_RUN_H
#define PLUMB_NOTIFY_RUN_H

#include <stddef.h>

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/report.h"

/* Most output of an action quoted in its event's error. */
#define PLUMB_NOTIFY_ERROR_MAX 300

/* Runs the notify: actions of the n files in changed, in that order, each
 * distinct action once however many files asked for it, adding one event
 * per action to rep: resource "service:UNIT" or "exec:PROGRAM", action
 * notified, or failed with the reason (non-zero exit with its output, a
 * timeout, a unit whose systemd is not reachable: the root is not "/" or
 * systemd does not run there). exec: actions run with the working
 * directory and $PLUMB_ROOT set to the root. Failures count in
 * rep->failed. Returns 0, or PLUMB_E_NOMEM. */
int plumb_notify_run(struct plumb_report *rep, const struct plumb_file_res *const *changed, size_t n, int rootfd,
		     struct plumb_err *err);

#endif
