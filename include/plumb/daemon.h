/* daemon.h - plumbd's event loop: inotify on managed paths (re-check only
 * what changed, debounced), a full scan at least every interval.full_scan,
 * a poll timer for new signed baselines, backoff for contested resources,
 * signals (SIGHUP reload, SIGTERM stop) and readiness/watchdog pings. */
#ifndef PLUMB_DAEMON_H
#define PLUMB_DAEMON_H

#include "plumb/error.h"

/* Tunables (compile-time; see docs in README). */
#define PLUMB_DEBOUNCE_MS 20           /* first event to re-check */
#define PLUMB_CONTEST_WINDOW 10        /* seconds */
#define PLUMB_CONTEST_THRESHOLD 5      /* reverts within the window */
#define PLUMB_CONTEST_MAX_BACKOFF 60   /* seconds */

struct plumb_daemon_opts {
	const char *config_path;    /* NULL: the default, which may be missing */
	const char *root;           /* overrides, or NULL */
	const char *state_dir;
	const char *baseline_dir;   /* unsigned directory source, or NULL */
	int threads;
};

/* Runs until SIGTERM or SIGINT. Returns 0 after a clean stop, or a negative
 * code (err filled) when it cannot start (bad config, unusable state_dir). */
int plumb_daemon_run(const struct plumb_daemon_opts *o, struct plumb_err *err);

#endif
