/* sender.h - delivery of the spool to the control plane over HTTPS
 * (libcurl): oldest first, 2xx deletes; 400 and 422 move the report to
 * spool/rejected/ (final); 413 splits it into smaller reports in its place
 * (final only when one event cannot get smaller); every other answer
 * (401/403: credentials refused; 429/503: throttled, Retry-After honoured)
 * and network errors keep it and back off (full jitter, cap 10 min).
 * Never follows redirects. */
#ifndef PLUMB_SENDER_H
#define PLUMB_SENDER_H

#include "plumb/config.h"
#include "plumb/error.h"

struct plumb_state;

#define PLUMB_SEND_TIMEOUT 30          /* seconds per request at most */
#define PLUMB_SEND_BACKOFF_MAX 600     /* seconds */
#define PLUMB_TOKEN_MAX 4096

/* Exit codes of plumb-send (and plumb deliver), as a bit set: 0 every
 * report delivered, 1 error, 2 reports still wait, 4 some were rejected
 * in this pass (moved to spool/rejected/), 6 both. */
#define PLUMB_SEND_EXIT_WAITING 2
#define PLUMB_SEND_EXIT_REJECTED 4

/* 413 splits in one pass at most (each at least halves a report). */
#define PLUMB_SEND_SPLITS_MAX 64

struct plumb_deliver_result {
	unsigned delivered, rejected, pending;
	unsigned split;             /* reports split after a 413 */
	int backing_off;            /* skipped: the backoff says not yet */
	int auth_refused;           /* the pass stopped at a 401/403 */
};

/* One delivery pass of at most budget_s seconds. With respect_backoff, a pass
 * before the stored next attempt does nothing. Stats are updated in the
 * spool. Returns 0 (also when reports remain), PLUMB_E_INVALID when no
 * report.url is configured, or PLUMB_E_IO when another pass holds the spool. */
int plumb_deliver(struct plumb_state *st, const struct plumb_config *cfg, double budget_s, int respect_backoff,
		  struct plumb_deliver_result *res, struct plumb_err *err);

/* Parses a Retry-After value (seconds or an HTTP date) into seconds from now;
 * -1 if unparsable. */
long plumb_retry_after(const char *value, time_t now);

#endif
