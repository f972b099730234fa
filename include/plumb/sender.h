/* sender.h - delivery of the spool to the control plane over HTTPS
 * (libcurl): oldest first, 2xx deletes, 408/425/429/5xx and network errors
 * back off (full jitter, Retry-After honoured, cap 10 min), other answers
 * move the report to spool/rejected/. Never follows redirects. */
#ifndef PLUMB_SENDER_H
#define PLUMB_SENDER_H

#include "plumb/config.h"
#include "plumb/error.h"

struct plumb_state;

#define PLUMB_SEND_TIMEOUT 30          /* seconds per request at most */
#define PLUMB_SEND_BACKOFF_MAX 600     /* seconds */
#define PLUMB_TOKEN_MAX 4096

struct plumb_deliver_result {
	unsigned delivered, rejected, pending;
	int backing_off;            /* skipped: the backoff says not yet */
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
