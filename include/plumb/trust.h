/* trust.h - the rollback anchor: the last applied signed commit and its
 * serial, persisted atomically in state_dir/trust.json (after TUF) and in a
 * copy, trust.backup.json, written first. */
#ifndef PLUMB_TRUST_H
#define PLUMB_TRUST_H

#include <stdint.h>
#include <time.h>

#include "plumb/error.h"

struct plumb_state;

#define PLUMB_TRUST_FILE "trust.json"
#define PLUMB_TRUST_BACKUP "trust.backup.json"
#define PLUMB_TRUST_FILE_MAX (64u << 10)

struct plumb_trust {
	int has;                   /* an anchor exists */
	char commit[41];           /* hex commit id */
	uint64_t serial;
	char signer[256];
	char fingerprint[64];
	time_t accepted_at;
};

/* Loads the anchor: the further (higher serial) of trust.json and its copy.
 * A missing trust.json is "no anchor" (has = 0) only when nothing shows an
 * earlier one: no copy (or a copy saying "reset"), and no last report of an
 * enforced signed commit. Otherwise, and for a damaged or unreadable
 * trust.json, an error naming `plumb trust reset`: plumb never silently
 * forgets its anchor. Returns 0, PLUMB_E_PARSE, PLUMB_E_INVALID, or the
 * read's code (PLUMB_E_UNSAFE, PLUMB_E_TOOBIG, PLUMB_E_IO). */
int plumb_trust_load(struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err);

/* Saves the anchor atomically: the copy first (a failure there is logged),
 * then trust.json, whose failure is returned: the caller must report it,
 * the anchor is not durable. */
int plumb_trust_save(const struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err);

/* Removes the anchor (operator command), leaving a copy that records the
 * reset. Returns 0 also when none existed. */
int plumb_trust_reset(struct plumb_state *st, struct plumb_err *err);

#endif
