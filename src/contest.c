/* contest.c - contested-resource backoff (contest.h). */
#include <stdlib.h>

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

static size_t slot_of(size_t i, size_t cap)
{
	uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (cap - 1);
}

/* Doubles the table (or makes it): every entry moved to its new slot. */
static int grow(struct plumb_contests *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct plumb_contest *v = calloc(cap, sizeof(*v));
	size_t *key = calloc(cap, sizeof(*key));

	if (v == NULL || key == NULL) {
		free(v);
		free(key);
		return -1;
	}
	for (size_t k = 0; k < t->cap; k++) {
		size_t j;

		if (t->key[k] == 0)
			continue;
		for (j = slot_of(t->key[k] - 1, cap); key[j] != 0; j = (j + 1) & (cap - 1))
			;
		key[j] = t->key[k];
		v[j] = t->v[k];
	}
	free(t->v);
	free(t->key);
	t->v = v;
	t->key = key;
	t->cap = cap;
	return 0;
}

struct plumb_contest *plumb_contests_get(struct plumb_contests *t, size_t i, int create)
{
	size_t j;

	if (t->cap > 0)
		for (j = slot_of(i, t->cap); t->key[j] != 0; j = (j + 1) & (t->cap - 1))
			if (t->key[j] == i + 1)
				return &t->v[j];
	if (!create || ((t->n + 1) * 2 > t->cap && grow(t) != 0))
		return NULL;
	for (j = slot_of(i, t->cap); t->key[j] != 0; j = (j + 1) & (t->cap - 1))
		;
	t->key[j] = i + 1;
	t->n++;
	return &t->v[j];
}

struct plumb_contest *plumb_contests_slot(const struct plumb_contests *t, size_t k, size_t *i)
{
	if (k >= t->cap || t->key[k] == 0)
		return NULL;
	*i = t->key[k] - 1;
	return &t->v[k];
}

void plumb_contests_release(struct plumb_contests *t)
{
	free(t->v);
	free(t->key);
	t->v = NULL;
	t->key = NULL;
	t->n = t->cap = 0;
}
