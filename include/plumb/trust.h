/* trust.h - the rollback anchor: the last applied signed commit and its
 * serial, persisted atomically in state_dir/trust.json (after TUF). */
#ifndef PLUMB_TRUST_H
#define PLUMB_TRUST_H

#include <stdint.h>
#include <time.h>

#include "plumb/error.h"

struct plumb_state;

#define PLUMB_TRUST_FILE "trust.json"

struct plumb_trust {
	int has;                   /* an anchor exists */
	char commit[41];           /* hex commit id */
	uint64_t serial;
	char signer[256];
	char fingerprint[64];
	time_t accepted_at;
};

/* Loads the anchor; a missing file is "no anchor" (has = 0). A damaged
 * file is an error: plumb never silently forgets its anchor. */
int plumb_trust_load(struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err);

/* Saves the anchor atomically. */
int plumb_trust_save(const struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err);

/* Removes the anchor (operator command). Returns 0 also when none existed. */
int plumb_trust_reset(struct plumb_state *st, struct plumb_err *err);

#endif
