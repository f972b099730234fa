/* quarantine.h - where drifted content goes before plumb overwrites or removes
 * it: a root-only (0700), content-addressed, size-bounded directory under
 * state_dir, pruned oldest first, so an SRE can see what an intruder wrote. */
#ifndef PLUMB_QUARANTINE_H
#define PLUMB_QUARANTINE_H

#include <stdint.h>

#include "plumb/error.h"
#include "plumb/hash.h"

struct plumb_quarantine;

/* Opens (creating, 0700) state_dir/quarantine, bounded to max_bytes. */
int plumb_quarantine_open(struct plumb_quarantine **out, int state_dirfd, uint64_t max_bytes,
			  struct plumb_err *err);

void plumb_quarantine_free(struct plumb_quarantine *q);

/* Copies the whole content of fd (read from offset 0) into the quarantine
 * as <sha256>, writes that id, then prunes the oldest entries past the cap.
 * Returns 0, PLUMB_E_TOOBIG (larger than the cap: nothing kept), or another
 * negative code with err filled. */
int plumb_quarantine_keep(struct plumb_quarantine *q, int fd, char id[PLUMB_SHA256_HEX],
			  struct plumb_err *err);

#endif
