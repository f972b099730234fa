/* quarantine.h - where drifted content goes before plumb overwrites or removes
 * it: a root-only (0700), content-addressed, size-bounded directory under
 * state_dir, pruned fairly (see plumb_quarantine_keep), so an SRE can see
 * what an intruder wrote. */
#ifndef PLUMB_QUARANTINE_H
#define PLUMB_QUARANTINE_H

#include <stdint.h>
#include <time.h>

#include "plumb/error.h"
#include "plumb/hash.h"

struct plumb_quarantine;

/* Hard caps: entries kept at most, and the number of equal shares of the
 * byte cap: one resource's content larger than a share is never kept, and
 * a resource over its share is evicted from before any other. */
#define PLUMB_QUARANTINE_MAX_ENTRIES 4096
#define PLUMB_QUARANTINE_SHARES 4

/* Opens (creating, 0700) state_dir/quarantine, bounded to max_bytes of
 * allocated blocks (a 1-byte file counts as the block it takes). Nothing
 * is read until the first keep. */
int plumb_quarantine_open(struct plumb_quarantine **out, int state_dirfd, uint64_t max_bytes,
			  struct plumb_err *err);

/* Entries kept at or after since are evidence of reports not yet delivered
 * (the caller knows its spool): they are evicted only when nothing else can
 * be. Defaults to the time of open; an earlier since widens the protection. */
void plumb_quarantine_protect_since(struct plumb_quarantine *q, time_t since);

void plumb_quarantine_free(struct plumb_quarantine *q);

/* Copies the content of fd (from offset 0, never past the size fstat gives
 * at the start) into the quarantine as <sha256> for resource, writes that
 * id, then evicts entries past the caps: the resource's own oldest first,
 * then those of a resource over its share, then delivered evidence, then
 * undelivered. Returns 0 (err->msg non-empty if evidence not yet delivered
 * was evicted or the index could not be written), PLUMB_E_TOOBIG (larger
 * than a share: nothing kept), or another negative code with err filled. */
int plumb_quarantine_keep(struct plumb_quarantine *q, int fd, const char *resource, char id[PLUMB_SHA256_HEX],
			  struct plumb_err *err);

#endif
