/* daemon_int.h - plumbd's own state and the functions its modules
 * share (src/daemon*.c); not an interface for anything else. */
#ifndef PLUMB_DAEMON_INT_H
#define PLUMB_DAEMON_INT_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "plumb/config.h"
#include "plumb/contest.h"
#include "plumb/daemon.h"
#include "plumb/error.h"
#include "plumb/firewall.h"
#include "plumb/metrics.h"
#include "plumb/report.h"
#include "plumb/select.h"
#include "plumb/watch.h"

struct plumb_git_fetch;
struct plumb_livejob;
struct plumb_state;

/* Child runs' reports kept while the state lock is held by another. */
#define PLUMBD_HELD_MAX 16

enum { T_POLL, T_FULL, T_DEBOUNCE, T_BACKOFF, T_WATCHDOG, T_SEND, T_FIREWALL, T_LIVE, T_FETCH, T_COUNT };

/* Owned firewall tables are re-checked this often between full scans. */
#define PLUMB_FIREWALL_CHECK 10
/* Full scans asked for by events (directories of the managed tree created
 * or removed, queue overflows) run at most this often (seconds). */
#define PLUMB_FULL_MIN_GAP 5.0

struct plumb_daemon {
	const struct plumb_daemon_opts *o;
	struct plumb_config cfg;
	struct plumb_state *st;
	struct plumb_selection sel;
	int have_sel;
	int rootfd;
	int epfd, sfd;
	int timers[T_COUNT];
	struct plumb_watch_set ws;
	unsigned char *dirty;      /* per file resource */
	struct plumb_contests cs;   /* file resources ever reverted */
	unsigned char *unresolved; /* per file resource: the last run that looked left it drifted or failed */
	int any_dirty, full_pending, rearm_pending, debounce_armed;
	uint64_t watchdog_usec;
	int stop;
	char *last_refusal;
	char *last_reanchor;       /* the re-anchoring last reported (audit mode keeps meeting it) */
	/* report delivery runs in a child: the loop never waits on the network */
	pid_t sender_pid;
	int sender_fd;             /* read end: EOF when the child is done */
	int send_again;
	/* the baseline fetch runs in a child too: its end is an fd event, its
	 * deadline the T_FETCH timer */
	struct plumb_git_fetch *fetch;
	int fetch_fd;
	int guard_pending;         /* the lock-out guard for a new baseline */
	int anchor_pending;        /* a new git baseline whose anchor is not yet recorded */
	/* The lock-out probe: a fetch (in d->fetch while PROBE_OUT) through the
	 * new firewall, whose end decides between the anchor and a rollback
	 * to probe_undo. Enforcement goes on meanwhile. */
	enum { PROBE_NONE, PROBE_DUE, PROBE_OUT } probe;
	struct plumb_fw_undo probe_undo;
	/* the state lock: who kept us from running, and the retry backoff */
	unsigned lock_failures;    /* consecutive */
	uint64_t lock_failures_total;
	long lock_holder;          /* pid seen holding it at the last failure, 0 unknown/none */
	double refresh_retry;      /* > 0: the first baseline fetch was put off; poll again this soon */
	/* metrics */
	uint64_t reverted_total, refused_total, drifted_last, failed_last;
	uint64_t fetch_failures[PLUMB_FETCH_REASONS];
	double full_scan_seconds;
	double last_event_full;    /* monotonic: the last full scan an event asked for */
	struct plumb_metrics_file metrics;   /* what plumb.prom last got, to skip rewrites */
	char *live_said;           /* what the last live-state run reported (see plumbd_live_repeats) */
	int journal_unsettled;     /* the journal may hold what no report has yet */
	unsigned fw_unresolved;    /* owned tables the last firewall run left drifted */
	unsigned live_unresolved;  /* sysctl/service/module resources likewise */
	unsigned pkg_unresolved;   /* package resources the last package run left failing */
	/* Live state (sysctl:, services:, modules:, and packages: with full
	 * scans) runs in a child (livejob.c): its answer is an fd event, so a
	 * slow systemctl or apt-get never holds up a file revert. */
	struct plumb_livejob *live;
	int live_fd;
	int live_due;              /* asked for while one ran: 1, 2 with packages */
	int scanned;               /* the start-up full scan ran */
	/* notify: actions of reverted files run in a child too (livejob.c):
	 * the runs mark them here, one child at a time takes them */
	unsigned char *notify_due; /* per file resource */
	struct plumb_livejob *notifyjob;
	int notify_fd;
	int live_startup;          /* its live-state run is out: plumb.prom waits for it */
	/* child runs' reports that found the state lock held: spooled by the
	 * next run that takes it (their repairs are made: never dropped) */
	struct held_report {
		struct plumb_report rep;
		unsigned covers;
	} held[PLUMBD_HELD_MAX];
	size_t nheld;
	time_t last_run, last_fetch_ok;
};

/* daemon.c: the loop */
double plumbd_now_mono(void);
void plumbd_arm(struct plumb_daemon *d, int t, double first_s, double every_s);
long plumbd_find_res(const struct plumb_daemon *d, const char *path);
void plumbd_watches_arm(struct plumb_daemon *d);

/* daemon_run.c: the runs */
void plumbd_stand(const struct plumb_daemon *d, struct plumb_report *rep, unsigned covers);
void plumbd_write_metrics(struct plumb_daemon *d);
void plumbd_log_events(const struct plumb_report *rep);
void plumbd_send_reports(struct plumb_daemon *d);
void plumbd_on_sender_done(struct plumb_daemon *d);
double plumbd_lock_backoff(struct plumb_daemon *d);
void plumbd_lock_regained(struct plumb_daemon *d);
void plumbd_track_live(struct plumb_daemon *d, const struct plumb_report *rep, int packages);
int plumbd_live_repeats(struct plumb_daemon *d, const struct plumb_report *rep);
void plumbd_run_engine(struct plumb_daemon *d, int full);
void plumbd_report_baseline_event(struct plumb_daemon *d, enum plumb_action action, const char *why);
void plumbd_report_refusal(struct plumb_daemon *d, const char *why, int tip);

/* daemon_baseline.c: the baseline */
void plumbd_back_to_anchor(struct plumb_daemon *d);
void plumbd_judge_baseline(struct plumb_daemon *d, int fetch_r, const struct plumb_err *fetch_err, int timed_out);
struct plumb_git_fetch *plumbd_fetch_detach(struct plumb_daemon *d);

/* daemon_child.c: children that wait on programs */
void plumbd_live_request(struct plumb_daemon *d, int packages);
void plumbd_flush_held(struct plumb_daemon *d);
void plumbd_drop_held(struct plumb_daemon *d);
void plumbd_live_cancel(struct plumb_daemon *d);
void plumbd_on_live(struct plumb_daemon *d);
void plumbd_notify_request(struct plumb_daemon *d);
void plumbd_notify_flush(struct plumb_daemon *d);
void plumbd_on_notify(struct plumb_daemon *d);
void plumbd_probe_start(struct plumb_daemon *d);
void plumbd_probe_cancel(struct plumb_daemon *d);
void plumbd_on_fetch(struct plumb_daemon *d);
void plumbd_on_fetch_timeout(struct plumb_daemon *d);
void plumbd_refresh_baseline(struct plumb_daemon *d);

#endif
