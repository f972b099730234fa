/* confine.h - how well this host can confine plumb's network-facing
 * children (the git fetcher, plumb-send's network child), said in every
 * report and in `plumb status` when it is weaker than designed
 * (docs/PRIVSEP.md). The children themselves never fail to run for it. */
#ifndef PLUMB_CONFINE_H
#define PLUMB_CONFINE_H

#include <stddef.h>

#include "plumb/config.h"

/* Reasons, as bits; their report names are in plumb_confine_names(). */
enum {
	PLUMB_WEAKER_USER_MISSING = 1 << 0,     /* the user: does not exist (or is root): children run as root */
	PLUMB_WEAKER_USER_UNREACHABLE = 1 << 1, /* it cannot reach its cache or a local remote: the fetch runs as root */
	PLUMB_WEAKER_NO_LANDLOCK = 1 << 2,      /* no Landlock in this kernel: world-readable files stay readable */
};
#define PLUMB_WEAKER_ALL 7u
#define PLUMB_CONFINE_DETAIL_MAX 384

struct plumb_confinement {
	unsigned weaker;                       /* PLUMB_WEAKER_* bits, 0: as designed */
	char detail[PLUMB_CONFINE_DETAIL_MAX]; /* one sentence for people, "" when weaker is 0 */
};

/* What cfg's children would get on this host, from the same checks the
 * fetcher and the sender make (the user database, the path to
 * state_dir/cache.git and to a local remote, the Landlock ABI). Nothing
 * is weaker when cfg starts no child (no source.url, no report.url). */
void plumb_confine_assess(struct plumb_confinement *c, const struct plumb_config *cfg);

/* The reasons' report names: plumb_confine_name() in report.h. */

#endif
