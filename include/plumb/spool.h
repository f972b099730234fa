/* spool.h - durable outbox of reports under state_dir/spool (0700): each is
 * fsynced and renamed in BEFORE any send, removed only after a 2xx, moved to
 * spool/rejected/ after a permanent refusal. Bounded: when full, the oldest
 * heartbeats go first, never a report that carries events. */
#ifndef PLUMB_SPOOL_H
#define PLUMB_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "plumb/error.h"

#define PLUMB_SPOOL_DIR "spool"
#define PLUMB_SPOOL_MAX_COUNT 10000
#define PLUMB_SPOOL_MAX_BYTES (64ULL << 20)
#define PLUMB_SPOOL_REPORT_MAX (16u << 20)

struct plumb_state;

/* One spooled report. */
struct plumb_spool_entry {
	char name[96];              /* file name in the spool */
	int heartbeat;
	uint64_t size;
	time_t queued_at;
};

/* Counters kept in spool/stats.json, carried in the next report. */
struct plumb_spool_stats {
	uint64_t dropped_heartbeats;
	uint64_t write_errors;
	uint64_t rejected;
	time_t last_delivery;
	time_t last_attempt;
	time_t next_attempt;        /* backoff: not before this */
	uint32_t failures;          /* consecutive retryable failures */
	time_t last_heartbeat;      /* when a heartbeat was last spooled */
	char last_error[256];
};

/* Writes report text (id = its UUID) into the spool durably, then enforces
 * the bounds. A failure (e.g. ENOSPC) is counted in the stats and returned;
 * it never stops enforcement. */
int plumb_spool_put(struct plumb_state *st, const char *id, int heartbeat, const char *text, size_t len,
		    struct plumb_err *err);

/* Lists the spool oldest first. *out is malloc'd (free it). */
int plumb_spool_list(struct plumb_state *st, struct plumb_spool_entry **out, size_t *n, struct plumb_err *err);

/* Reads one entry into a malloc'd NUL-terminated buffer. */
int plumb_spool_read(struct plumb_state *st, const struct plumb_spool_entry *e, char **text, size_t *len,
		     struct plumb_err *err);

/* Removes a delivered entry (and fsyncs the directory). */
int plumb_spool_remove(struct plumb_state *st, const struct plumb_spool_entry *e);

/* Moves an entry to spool/rejected/ with a .reason file beside it. */
int plumb_spool_reject(struct plumb_state *st, const struct plumb_spool_entry *e, const char *reason);

/* Stats: read (zeros when absent) and write atomically. */
void plumb_spool_stats_load(struct plumb_state *st, struct plumb_spool_stats *s);
int plumb_spool_stats_save(struct plumb_state *st, const struct plumb_spool_stats *s);

/* Opens (creating) the spool directory below state_dir. Returns an fd. */
int plumb_spool_dirfd(struct plumb_state *st, struct plumb_err *err);

#endif
