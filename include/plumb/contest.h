/* contest.h - contested-resource backoff: a file another writer keeps
 * changing back is reverted at most PLUMB_CONTEST_THRESHOLD times per
 * PLUMB_CONTEST_WINDOW seconds; then its enforcement pauses 1, 2, 4 ... up
 * to PLUMB_CONTEST_MAX_BACKOFF seconds (daemon.h), and plumbd reports it
 * contested. Calm for twice the longest pause starts it afresh. Times are
 * monotonic seconds. */
#ifndef PLUMB_CONTEST_H
#define PLUMB_CONTEST_H

#include <stddef.h>
#include <stdint.h>

struct plumb_contest {
	uint32_t reverts;          /* in the current window */
	uint32_t cycle;            /* reverts since the contest began */
	double window_start;
	double last_revert;
	double until;              /* enforcement paused until (0: not paused) */
	unsigned level;
};

/* The contests of a baseline's file resources, by index, for those that
 * were ever reverted only (a 10,000-file baseline whose files stay put
 * holds none; a dense array of them held 400 KB). */
struct plumb_contests {
	struct plumb_contest *v;
	size_t *key;               /* index + 1; 0: a free slot */
	size_t n, cap;             /* cap: 0 or a power of two */
};

/* Resource i's contest: created (zeroed) when create, else NULL when it
 * has none. NULL also when it cannot be created (out of memory: then
 * that revert is not counted). */
struct plumb_contest *plumb_contests_get(struct plumb_contests *t, size_t i, int create);

/* The k-th slot (0 <= k < t->cap): its contest and, in *i, its resource;
 * NULL for a free slot. */
struct plumb_contest *plumb_contests_slot(const struct plumb_contests *t, size_t k, size_t *i);

void plumb_contests_release(struct plumb_contests *t);

/* Counts one revert at now. Returns the pause in seconds when this revert
 * makes the resource contested (until is set then), else 0. */
double plumb_contest_revert(struct plumb_contest *c, double now);

/* Whether enforcement of c is paused at now. */
int plumb_contest_paused(const struct plumb_contest *c, double now);

#endif
