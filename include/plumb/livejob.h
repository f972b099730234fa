/* livejob.h - plumbd's live-state runs (sysctl:, services:, modules: and,
 * with full scans, packages:) in a child of its own, so the loop never
 * waits for systemctl, modprobe or apt-get (deadlines of 30 s to 10 min):
 * the child (plumb_helper_fork) runs the one run (plumb_run_selected) over
 * live state alone and writes its report's JSON to a pipe; the loop reads
 * the pipe when it is readable and takes the events as its own. The child
 * is plumbd itself, forked: root, as live state needs; it writes nothing
 * in state_dir and takes no state lock, so file reverts go on meanwhile. */
#ifndef PLUMB_LIVEJOB_H
#define PLUMB_LIVEJOB_H

#include <stddef.h>

#include "plumb/config.h"
#include "plumb/error.h"
#include "plumb/report.h"

struct plumb_selection;
struct plumb_state;
struct plumb_livejob;

/* Most bytes of a child's answer (a report's JSON); more is a failure. */
#define PLUMB_LIVEJOB_MAX (16u << 20)

/* Starts a live-state run over sel (repair: enforce mode; packages: the
 * packages too, as with full scans). close_fds: the caller's fds the
 * child closes first. Returns 0 with *out set, or a negative code. */
int plumb_livejob_start(struct plumb_livejob **out, const struct plumb_config *cfg, struct plumb_state *st,
			const struct plumb_selection *sel, int rootfd, int repair, int packages, const int *close_fds,
			size_t nclose, struct plumb_err *err);

/* The fd the loop watches (readable: call pump). */
int plumb_livejob_fd(const struct plumb_livejob *j);

/* Whether the run covers packages. */
int plumb_livejob_packages(const struct plumb_livejob *j);

/* Reads what the child wrote: 1 once it is done (closed its end, or sent
 * too much), 0 to wait for more. */
int plumb_livejob_pump(struct plumb_livejob *j);

/* Reaps the child and adds its events and counts to rep; frees j.
 * Returns 0, or a negative code with err saying why (it died, or sent
 * what is not a report). */
int plumb_livejob_finish(struct plumb_livejob *j, struct plumb_report *rep, struct plumb_err *err);

/* Stops the run (SIGTERM: the program it waits for is killed, its run
 * ends; SIGKILL after 2 s) and frees j. Accepts NULL. */
void plumb_livejob_abort(struct plumb_livejob *j);

#endif
