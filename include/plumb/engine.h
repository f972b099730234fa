/* engine.h - runs a baseline's resources: resolve, inspect (in parallel),
 * then in path order diff and, when enforcing, repair; one event per
 * drifted or failed resource goes into the report. */
#ifndef PLUMB_ENGINE_H
#define PLUMB_ENGINE_H

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/firewall.h"
#include "plumb/report.h"

struct plumb_source;
struct plumb_quarantine;
struct plumb_journal;

/* Most inspection threads used. */
#define PLUMB_ENGINE_MAX_THREADS 8

struct plumb_engine_opts {
	int repair;       /* 0: observe only (check, audit) */
	int threads;      /* inspection threads; 0 picks the number of CPUs */
	const unsigned char *only;   /* per file resource, nonzero = run it; NULL = all */
	int firewall;                /* -1: with full runs (only == NULL); 0: never; 1: always */
	struct plumb_fw_undo *fw_undo;  /* receives how to undo a firewall repair; may be NULL */
	struct plumb_journal *journal;  /* file repairs are announced here first; may be NULL */
	int live;         /* live state (sysctl, services): 0 with full runs (only == NULL); -1 never; 1 always */
	int packages;     /* packages: the same */
	/* per file resource: with it, notify: actions are not run here; each
	 * file reverted that has some is marked instead (plumbd runs them in
	 * a child, livejob.c) */
	unsigned char *notify_due;
};

/* Runs the file resources of b against the tree at rootfd, adding events
 * and summary counts to rep. Resource failures are events, not errors.
 * Returns 0, or a negative code for a failure of the run itself. */
int plumb_engine_run(struct plumb_report *rep, const struct plumb_baseline *b,
		     struct plumb_source *src, int rootfd, struct plumb_quarantine *q,
		     const struct plumb_engine_opts *o, struct plumb_err *err);

#endif
