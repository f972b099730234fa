/* contest.c - contested-resource backoff (contest.h). */
#include "plumb/contest.h"
#include "plumb/daemon.h"
#include "banned.h"

double plumb_contest_revert(struct plumb_contest *c, double now)
{
	double pause;

	if (now - c->last_revert > PLUMB_CONTEST_MAX_BACKOFF * 2) {
		c->level = 0;      /* calm for long enough: a fresh start */
		c->cycle = 0;
	}
	if (now - c->window_start > PLUMB_CONTEST_WINDOW) {
		c->window_start = now;
		c->reverts = 0;
	}
	c->reverts++;
	c->cycle++;
	c->last_revert = now;
	if (c->reverts < PLUMB_CONTEST_THRESHOLD)
		return 0;
	if (c->level < 16)
		c->level++;
	pause = (double)(1u << (c->level - 1));
	if (pause > PLUMB_CONTEST_MAX_BACKOFF)
		pause = PLUMB_CONTEST_MAX_BACKOFF;
	c->until = now + pause;
	c->reverts = 0;
	c->window_start = now;
	return pause;
}

int plumb_contest_paused(const struct plumb_contest *c, double now)
{
	return c->until > now;
}
