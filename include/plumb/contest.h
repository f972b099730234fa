/* contest.h - contested-resource backoff: a file another writer keeps
 * changing back is reverted at most PLUMB_CONTEST_THRESHOLD times per
 * PLUMB_CONTEST_WINDOW seconds; then its enforcement pauses 1, 2, 4 ... up
 * to PLUMB_CONTEST_MAX_BACKOFF seconds (daemon.h), and plumbd reports it
 * contested. Calm for twice the longest pause starts it afresh. Times are
 * monotonic seconds. */
#ifndef PLUMB_CONTEST_H
#define PLUMB_CONTEST_H

#include <stdint.h>

struct plumb_contest {
	uint32_t reverts;          /* in the current window */
	uint32_t cycle;            /* reverts since the contest began */
	double window_start;
	double last_revert;
	double until;              /* enforcement paused until (0: not paused) */
	unsigned level;
	unsigned char unresolved;  /* the last run that looked left it drifted or failed */
};

/* Counts one revert at now. Returns the pause in seconds when this revert
 * makes the resource contested (until is set then), else 0. */
double plumb_contest_revert(struct plumb_contest *c, double now);

/* Whether enforcement of c is paused at now. */
int plumb_contest_paused(const struct plumb_contest *c, double now);

#endif
