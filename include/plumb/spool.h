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
#define PLUMB_SPOOL_STATS "stats.json"
#define PLUMB_SPOOL_STATS_MAX 4096
#define PLUMB_SPOOL_LOCK ".deliver.lock"
/* The longest a delivery retry waits, whatever the wall clock did. */
#define PLUMB_SPOOL_RETRY_MAX 600

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
	uint64_t set_aside;         /* damaged or unreadable stats files kept aside (spool/stats.json.corrupt-T) */
	uint64_t auth_refused;      /* answers 401/403: credentials refused, report kept and retried */
	uint64_t throttled;         /* answers 429/503: the hub asked to come back later */
	uint64_t split;             /* answers 413: the report was split into smaller ones */
	char last_error[256];
	int unusable;               /* not persisted: the file could not be read nor set aside; never save */
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

/* Replaces entry e by n reports (texts[i] with report id ids[i]), which
 * take its place in the delivery order: all are written durably before e
 * is removed. Call with the delivery lock held. Returns 0 or a negative
 * code (e is then still there; pieces written so far are retried too). */
int plumb_spool_split(struct plumb_state *st, const struct plumb_spool_entry *e, char *const *texts,
		      const char *const *ids, size_t n, struct plumb_err *err);

/* Moves reports from spool/rejected/ back into the spool (their .reason
 * files removed): all of them with id NULL, else the one whose report id
 * (or file name) is id. Takes the delivery lock. *moved says how many.
 * Returns 0, PLUMB_E_NOTFOUND (id given and not there), PLUMB_E_IO
 * (another delivery is in progress, or a move failed). */
int plumb_spool_requeue(struct plumb_state *st, const char *id, unsigned *moved, struct plumb_err *err);

/* How many reports spool/rejected/ holds (0 when it cannot be read). */
size_t plumb_spool_rejected_count(struct plumb_state *st);

/* Reads the stats (zeros when absent). A file that cannot be read (EIO),
 * is not a regular file, or does not parse is never silently zeroed: it is
 * renamed to spool/stats.json.corrupt-<unix time>, logged, counted in
 * set_aside, and 0 returned with fresh counters. When even that rename
 * fails, returns a negative code and sets s->unusable, and
 * plumb_spool_stats_save then refuses to write over it. */
int plumb_spool_stats_load(struct plumb_state *st, struct plumb_spool_stats *s, struct plumb_err *err);

/* Reads the stats for display only: like plumb_spool_stats_load but a
 * damaged or unreadable file is left where it is (s->unusable set, the
 * error returned); it is set aside by the next writer. */
int plumb_spool_stats_peek(struct plumb_state *st, struct plumb_spool_stats *s, struct plumb_err *err);

/* Writes the stats (in place when possible, else atomically in spool/).
 * Returns 0 or a negative code; PLUMB_E_IO when s->unusable. */
int plumb_spool_stats_save(struct plumb_state *st, const struct plumb_spool_stats *s);

/* Seconds until the next delivery attempt is due, in [0, PLUMB_SPOOL_RETRY_MAX]:
 * 0 also when the stored last attempt lies in the future (the wall clock
 * was stepped back), so a clock step never stalls delivery. */
long plumb_spool_retry_wait(const struct plumb_spool_stats *s, time_t now);

/* True when a heartbeat is due: interval seconds since the last one, or
 * the last one lies in the future (the clock was stepped back). */
int plumb_spool_heartbeat_due(const struct plumb_spool_stats *s, time_t now, uint64_t interval);

/* Takes the delivery lock (spool/.deliver.lock, a regular file) without
 * waiting. Returns its fd (close it to release), or PLUMB_E_IO ("another
 * delivery is in progress") or PLUMB_E_UNSAFE (the lock is not a regular
 * file), err naming the path. */
int plumb_spool_lock_delivery(struct plumb_state *st, struct plumb_err *err);

/* Removes plumb temp files that killed writers left in spool/ and
 * spool/rejected/. Call with the state lock held; skipped while a delivery
 * runs (it writes temps there too). */
void plumb_spool_sweep(struct plumb_state *st);

/* Opens (creating) the spool directory below state_dir. Returns an fd. */
int plumb_spool_dirfd(struct plumb_state *st, struct plumb_err *err);

#endif
