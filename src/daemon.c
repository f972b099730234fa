/* daemon.c - plumbd: one epoll loop, no threads of its own, no busy waits.
 * Events only mark resources dirty; a short debounce timer then runs the
 * engine over the dirty set. plumb's own writes land as renames into place:
 * the re-check they trigger finds the file compliant and does nothing. */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/config.h"
#include "plumb/contest.h"
#include "plumb/daemon.h"
#include "plumb/engine.h"
#include "plumb/fs.h"
#include "plumb/log.h"
#include "plumb/metrics.h"
#include "plumb/notify.h"
#include "plumb/notify_run.h"
#include "plumb/quarantine.h"
#include "plumb/report.h"
#include "plumb/run.h"
#include "plumb/helper.h"
#include "plumb/journal.h"
#include "plumb/livejob.h"
#include "plumb/select.h"
#include "plumb/spool.h"
#include "plumb/source.h"
#include "plumb/state.h"
#include "plumb/trust.h"
#include "plumb/watch.h"
#include "banned.h"

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
	struct plumb_contest *cs;   /* per file resource */
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
	char *live_said;           /* what the last live-state run reported (see live_repeats) */
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
	time_t last_run, last_fetch_ok;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void arm(struct plumb_daemon *d, int t, double first_s, double every_s)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (first_s > 0) {
		its.it_value.tv_sec = (time_t)first_s;
		its.it_value.tv_nsec = (long)((first_s - (double)(time_t)first_s) * 1e9);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (every_s > 0) {
		its.it_interval.tv_sec = (time_t)every_s;
		its.it_interval.tv_nsec = (long)((every_s - (double)(time_t)every_s) * 1e9);
	}
	timerfd_settime(d->timers[t], 0, &its, NULL);
}

static double splay(double interval)
{
	uint32_t r = 0;

	(void)!getrandom(&r, sizeof(r), GRND_NONBLOCK);
	return interval * ((double)r / 4294967296.0);
}

/* --- resources by path ---------------------------------------------------- */

static long find_res(const struct plumb_daemon *d, const char *path)
{
	size_t lo = 0, hi;

	if (!d->have_sel)
		return -1;
	hi = d->sel.b->nfiles;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(d->sel.b->files[mid].path, path);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void mark_dirty(struct plumb_daemon *d, long i);

/* The first baseline path >= path (the resources are sorted by path). */
static size_t first_at_or_after(const struct plumb_daemon *d, const char *path)
{
	size_t lo = 0, hi = d->sel.b->nfiles;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(d->sel.b->files[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether path is a managed path or lies above one. */
static int dir_matters(const struct plumb_daemon *d, const char *path)
{
	size_t n = strlen(path);

	if (!d->have_sel)
		return 0;
	for (size_t i = first_at_or_after(d, path); i < d->sel.b->nfiles; i++) {
		const char *f = d->sel.b->files[i].path;

		if (strncmp(f, path, n) != 0)
			return 0;
		if (f[n] == '\0' || f[n] == '/')
			return 1;
	}
	return 0;
}

/* Marks dirty every resource at path or below it, and says whether there
 * was any: a directory created, removed or moved there matters to the
 * watch set only then. Other directories coming and going in a watched
 * directory change nothing we enforce. */
static int mark_subtree(struct plumb_daemon *d, const char *path)
{
	size_t lo, n = strlen(path);
	int any = 0;

	if (!d->have_sel)
		return 0;
	for (lo = first_at_or_after(d, path); lo < d->sel.b->nfiles; lo++) {
		const char *f = d->sel.b->files[lo].path;

		if (strncmp(f, path, n) != 0)
			break;
		if (f[n] == '\0' || f[n] == '/') {
			mark_dirty(d, (long)lo);
			any = 1;
		}
	}
	return any;
}

static void mark_dirty(struct plumb_daemon *d, long i)
{
	if (i >= 0) {
		d->dirty[i] = 1;
		d->any_dirty = 1;
	}
	if (!d->debounce_armed) {
		arm(d, T_DEBOUNCE, PLUMB_DEBOUNCE_MS / 1000.0, 0);
		d->debounce_armed = 1;
	}
}

static void schedule_full(struct plumb_daemon *d, int rearm)
{
	d->full_pending = 1;
	d->rearm_pending |= rearm;
	mark_dirty(d, -1);
}

/* --- watches --------------------------------------------------------------- */

static void watches_clear(struct plumb_daemon *d)
{
	if (d->ws.ifd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->ws.ifd, NULL);
	plumb_watch_clear(&d->ws);
}

/* Rebuilds the whole watch set from the baseline (start, new baseline,
 * directories created, replaced or removed, queue overflow). */
static void watches_arm(struct plumb_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int missed;

	watches_clear(d);
	missed = plumb_watch_arm(&d->ws, d->rootfd, d->have_sel ? d->sel.b : NULL);
	if (d->ws.ifd >= 0) {
		ev.data.fd = d->ws.ifd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->ws.ifd, &ev);
	}
	if (missed > 0)
		schedule_full(d, 0);   /* what is not watched is found by the full scan */
}

static void on_inotify(struct plumb_daemon *d)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(d->ws.ifd, buf, sizeof(buf));

		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const struct inotify_event *)p;
			const char *wdir;

			p += sizeof(*ie) + ie->len;
			if (ie->mask & IN_Q_OVERFLOW) {
				plumb_log(PLUMB_LOG_WARN, "inotify queue overflowed: events were lost; scanning everything");
				schedule_full(d, 1);
				continue;
			}
			if (ie->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
				/* A watched directory went away: everything below it now. */
				if ((wdir = plumb_watch_dir(&d->ws, ie->wd)) != NULL)
					(void)mark_subtree(d, wdir);
				schedule_full(d, 1);
				continue;
			}
			if ((wdir = plumb_watch_dir(&d->ws, ie->wd)) == NULL)
				continue;
			if (ie->len == 0 || ie->name[0] == '\0') {
				mark_dirty(d, find_res(d, wdir));
				continue;
			}
			if (plumb_fs_is_temp_name(ie->name))
				continue;
			{
				char path[PATH_MAX];
				long i;

				snprintf(path, sizeof(path), "%s/%s", wdir, ie->name);
				i = find_res(d, path);
				if (i >= 0)
					mark_dirty(d, i);
				/* An entry appearing in a purge: true directory that the
				 * baseline does not name: re-check the directory. */
				if (i < 0 && (ie->mask & (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB))) {
					long pi = find_res(d, wdir);

					if (pi >= 0 && d->sel.b->files[pi].purge && !dir_matters(d, path))
						mark_dirty(d, pi);
				}
				/* The managed tree's shape changed: what lies there is
				 * re-checked at once, the watches re-armed with the next
				 * full scan (at most one per PLUMB_FULL_MIN_GAP s). */
				if ((ie->mask & IN_ISDIR) && (ie->mask & (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)) &&
				    mark_subtree(d, path))
					schedule_full(d, 1);
			}
		}
	}
}

static void live_request(struct plumb_daemon *d, int packages);
static void live_cancel(struct plumb_daemon *d);
static void notify_request(struct plumb_daemon *d);
static void notify_flush(struct plumb_daemon *d);
static void report_child_run(struct plumb_daemon *d, struct plumb_report *rep, unsigned covers, int send);

/* --- runs -------------------------------------------------------------------- */

/* What is drifted, failing or contested now, across every run (what
 * track_unresolved keeps): plumb_unresolved, and "standing" in reports. */
static uint64_t unresolved_now(const struct plumb_daemon *d)
{
	uint64_t n = d->fw_unresolved + d->live_unresolved + d->pkg_unresolved;

	for (size_t i = 0; d->have_sel && i < d->sel.b->nfiles; i++)
		n += d->cs[i].unresolved;
	return n;
}

/* Every plumbd report says what stands beyond its own events (the kinds
 * it covers, unresolved now, a standing refusal): a control plane must not
 * take a dirty-set run's silence about a failed package for a resolve. */
static void stand(const struct plumb_daemon *d, struct plumb_report *rep, unsigned covers)
{
	rep->has_standing = 1;
	rep->covers = covers;
	rep->unresolved = unresolved_now(d);
	free(rep->refused);
	rep->refused = d->last_refusal != NULL ? strdup(d->last_refusal) : NULL;
}

static void write_metrics(struct plumb_daemon *d)
{
	struct plumb_metrics m;
	struct plumb_spool_entry *v = NULL;
	struct plumb_spool_stats ss;
	struct plumb_err e;
	char path[PATH_MAX], text[8192];
	double now = now_mono();
	int n;

	if (d->live_startup)
		return;     /* the start-up catch-up is not over until its live state is */
	memset(&m, 0, sizeof(m));
	m.resources = d->have_sel ? d->sel.b->nfiles : 0;
	m.unresolved = unresolved_now(d);
	for (size_t i = 0; d->have_sel && i < d->sel.b->nfiles; i++)
		if (plumb_contest_paused(&d->cs[i], now))
			m.contested++;
	m.drifted = d->drifted_last;
	m.failed = d->failed_last;
	m.reverted_total = d->reverted_total;
	m.refused_total = d->refused_total;
	memcpy(m.fetch_failures, d->fetch_failures, sizeof(m.fetch_failures));
	m.last_run = d->last_run;
	m.last_fetch_ok = d->last_fetch_ok;
	m.serial = d->have_sel ? d->sel.b->serial : 0;
	m.full_scan_seconds = d->full_scan_seconds;
	m.lock_failures_total = d->lock_failures_total;
	m.lock_holder = d->lock_failures ? d->lock_holder : 0L;
	m.audit = d->cfg.mode == PLUMB_MODE_AUDIT;
	m.expires = d->have_sel && d->sel.b->has_expires ? (long long)d->sel.b->expires : 0LL;
	m.stale = d->have_sel && d->sel.stale;
	memset(&ss, 0, sizeof(ss));
	if (d->cfg.report_url != NULL) {
		(void)plumb_spool_stats_peek(d->st, &ss, NULL);
		if (plumb_spool_list(d->st, &v, &m.spool_reports, NULL) == 0 && m.spool_reports > 0)
			m.spool_oldest = v[0].queued_at;
		free(v);
	}
	m.spool_rejected = ss.rejected;
	m.spool_write_errors = ss.write_errors;
	if ((n = plumb_metrics_render(text, sizeof(text), &m)) < 0)
		return;
	if (d->cfg.metrics_textfile)
		snprintf(path, sizeof(path), "%s", d->cfg.metrics_textfile);
	else
		snprintf(path, sizeof(path), "%s/plumb.prom", d->cfg.state_dir);
	if (plumb_metrics_write(&d->metrics, path, text, (size_t)n, now, &e) != 0)
		plumb_log(PLUMB_LOG_WARN, "cannot write metrics: %s", e.msg);
}

static void log_events(const struct plumb_report *rep)
{
	for (size_t i = 0; i < rep->nevents; i++) {
		const struct plumb_event *ev = &rep->events[i];
		char kinds[128];

		plumb_drift_names(kinds, sizeof(kinds), ev->drift);
		plumb_log(ev->action == PLUMB_ACT_FAILED || ev->action == PLUMB_ACT_REFUSED ||
			  strcmp(ev->resource, "baseline") == 0 ? PLUMB_LOG_WARN : PLUMB_LOG_INFO,
			  "%s: %s%s%s%s%s", ev->resource, plumb_action_name(ev->action), kinds[0] ? " " : "", kinds,
			  ev->error ? ": " : "", ev->error ? ev->error : "");
	}
}

/* Starts a delivery pass in plumb-send (one at a time). */
static void send_reports(struct plumb_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct plumb_err e;
	int pid, fd;

	if (d->cfg.report_url == NULL)
		return;
	if (d->sender_pid > 0) {
		d->send_again = 1;
		return;
	}
	if ((pid = plumb_helper_send(d->cfg.path, d->cfg.state_dir, 120, 0, &fd, &e)) < 0) {
		plumb_log(PLUMB_LOG_WARN, "reports not delivered: %s", e.msg);
		return;
	}
	d->sender_pid = pid;
	d->sender_fd = fd;     /* EOF when plumb-send exits */
	ev.data.fd = d->sender_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sender_fd, &ev);
}

/* The delivery child finished: reap it, and plan the next pass. */
static void on_sender_done(struct plumb_daemon *d)
{
	struct plumb_spool_entry *v;
	struct plumb_spool_stats s;
	size_t n = 0;

	{
		char drain[256];

		while (read(d->sender_fd, drain, sizeof(drain)) > 0)
			;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->sender_fd, NULL);
	close(d->sender_fd);
	d->sender_fd = -1;
	while (waitpid(d->sender_pid, NULL, 0) < 0 && errno == EINTR)
		;
	d->sender_pid = 0;
	if (plumb_spool_list(d->st, &v, &n, NULL) == 0)
		free(v);
	if (d->send_again) {
		d->send_again = 0;
		send_reports(d);
	} else if (n > 0) {
		long wait;

		(void)plumb_spool_stats_load(d->st, &s, NULL);
		wait = plumb_spool_retry_wait(&s, time(NULL));
		arm(d, T_SEND, wait > 0 ? (double)wait : 1.0, 0);
	}
}

/* Counts reverts; a resource reverted too often is backed off and reported
 * once as contested for this cycle. */
static void account(struct plumb_daemon *d, struct plumb_report *rep)
{
	double now = now_mono(), next = 0;
	size_t n = rep->nevents;

	for (size_t k = 0; k < n; k++) {
		struct plumb_event *ev = &rep->events[k];
		struct plumb_contest *c;
		double pause;
		long i;

		if (ev->action != PLUMB_ACT_REVERTED || strncmp(ev->resource, "file:", 5) != 0)
			continue;
		d->reverted_total++;
		if ((i = find_res(d, ev->resource + 5)) < 0)
			continue;
		c = &d->cs[i];
		if ((pause = plumb_contest_revert(c, now)) > 0) {
			struct plumb_event cev;
			char why[160];

			memset(&cev, 0, sizeof(cev));
			snprintf(why, sizeof(why), "another writer keeps changing it: %u reverts; pausing enforcement for %.0f s",
				 c->cycle, pause);
			cev.resource = strdup(ev->resource);
			cev.error = strdup(why);
			cev.action = PLUMB_ACT_CONTESTED;
			cev.count = c->cycle;
			cev.at = time(NULL);
			plumb_report_add(rep, &cev);   /* rep->events may move: ev is not used after */
			ev = NULL;
		}
		if (plumb_contest_paused(c, now) && (next == 0 || c->until < next))
			next = c->until;
	}
	if (next > 0)
		arm(d, T_BACKOFF, next - now, 0);
}

/* Counts a failure to take the state lock and says how long to wait
 * before the next try: 1, 2, 4 ... 60 s. */
static double lock_backoff(struct plumb_daemon *d)
{
	double wait = d->lock_failures >= 6 ? 60 : (double)(1u << d->lock_failures);

	d->lock_failures++;
	d->lock_failures_total++;
	d->lock_holder = d->st->holder;
	return wait;
}

static void lock_regained(struct plumb_daemon *d)
{
	if (d->lock_failures == 0)
		return;
	if (d->lock_holder > 0)
		plumb_log(PLUMB_LOG_WARN, "state lock taken after %u failed attempt(s) (it was held by pid %ld); "
			  "enforcing now", d->lock_failures, d->lock_holder);
	else
		plumb_log(PLUMB_LOG_WARN, "state lock taken after %u failed attempt(s); enforcing now", d->lock_failures);
	d->lock_failures = 0;
}

/* What is drifted now (not what was found and reverted): a resource the run
 * looked at is resolved unless its event says detected, failed or contested. */
static void track_unresolved(struct plumb_daemon *d, const struct plumb_report *rep, const unsigned char *only,
			     int full)
{
	for (size_t i = 0; full >= 0 && i < d->sel.b->nfiles; i++)
		if (only[i])
			d->cs[i].unresolved = 0;
	if (full == 1 || full == -1)
		d->fw_unresolved = 0;
	for (size_t k = 0; k < rep->nevents; k++) {
		const struct plumb_event *ev = &rep->events[k];
		int open = ev->action == PLUMB_ACT_DETECTED || ev->action == PLUMB_ACT_FAILED ||
			   ev->action == PLUMB_ACT_CONTESTED;
		long i;

		if (strncmp(ev->resource, "file:", 5) == 0 && (i = find_res(d, ev->resource + 5)) >= 0)
			d->cs[i].unresolved = (unsigned char)open;
		else if (strncmp(ev->resource, "firewall:", 9) == 0 && open)
			d->fw_unresolved++;
	}
}

/* The same for a live-state run (packages: it covered them too). */
static void track_live(struct plumb_daemon *d, const struct plumb_report *rep, int packages)
{
	d->live_unresolved = 0;
	if (packages)
		d->pkg_unresolved = 0;
	for (size_t k = 0; k < rep->nevents; k++) {
		const struct plumb_event *ev = &rep->events[k];

		if (ev->action != PLUMB_ACT_DETECTED && ev->action != PLUMB_ACT_FAILED && ev->action != PLUMB_ACT_CONTESTED)
			continue;
		if (strncmp(ev->resource, "package:", 8) == 0)
			d->pkg_unresolved++;
		else if (strcmp(ev->resource, "baseline") != 0)
			d->live_unresolved++;   /* sysctl:, service:, module: */
	}
}


/* Whether a live-state run found just what the previous one did and
 * changed nothing (a read-only /proc/sys in a container fails the same way
 * every interval): then its report is not sent again. Full runs still
 * report everything. */
static int live_repeats(struct plumb_daemon *d, const struct plumb_report *rep)
{
	struct plumb_buf b;
	char *said;
	int same;

	plumb_buf_init(&b, 1u << 20);
	for (size_t i = 0; i < rep->nevents; i++) {
		const struct plumb_event *ev = &rep->events[i];

		if (ev->action != PLUMB_ACT_DETECTED && ev->action != PLUMB_ACT_FAILED) {
			plumb_buf_release(&b);
			free(d->live_said);
			d->live_said = NULL;
			return 0;          /* it changed something: always reported */
		}
		plumb_buf_addf(&b, "%s %d %u %s\n", ev->resource, (int)ev->action, ev->drift, ev->error ? ev->error : "");
	}
	said = plumb_buf_detach(&b, NULL);
	same = said != NULL && d->live_said != NULL && strcmp(said, d->live_said) == 0;
	free(d->live_said);
	d->live_said = said;
	return same;
}

/* Runs the engine over the dirty set (full 0), files and firewall (1), or
 * the firewall alone (-1), and reports; live state goes to its child
 * (live_request). */
struct after_engine {
	struct plumb_daemon *d;
	const unsigned char *only;
	int full;
};

/* Between the engine and the lock-out guard: reverts counted (contests),
 * what is left drifted tracked. */
static void after_engine(void *ctx, struct plumb_report *rep)
{
	struct after_engine *a = ctx;

	account(a->d, rep);
	track_unresolved(a->d, rep, a->only, a->full);
}

/* One of plumbd's runs through the one run (plumb_run_selected): full > 0
 * a full scan (its live state then goes to the live-state child), 0 the
 * inotify dirty set, -1 firewall-only. */
static void run_engine(struct plumb_daemon *d, int full)
{
	/* The firewall goes with full scans and firewall-only runs; a run over
	 * the inotify dirty set touches files only. (The daemon always passes
	 * an `only` set, so "with full runs" must be said explicitly.) */
	struct plumb_run_scope sc = {.repair = d->cfg.mode == PLUMB_MODE_ENFORCE, .threads = d->o->threads,
				     .firewall = full > 0 || full == -1 ? 1 : 0, .live = -1, .packages = -1,
				     .guard = d->guard_pending ? PLUMB_GUARD_DEFER : PLUMB_GUARD_NONE,
				     .anchor = d->anchor_pending && full > 0 && d->probe == PROBE_NONE,
				     .notify_due = d->notify_due, .after_engine = after_engine};
	struct after_engine ae = {d, NULL, full};
	struct plumb_run_result res;
	unsigned char *only = NULL;
	struct plumb_report rep, rec;
	int have_rec = 0;
	struct plumb_err e;
	double now = now_mono();
	size_t n;

	if (!d->have_sel)
		return;
	n = d->sel.b->nfiles;
	if ((only = calloc(n ? n : 1, 1)) == NULL)
		return;
	for (size_t i = 0; i < n && full >= 0; i++)
		only[i] = (full || d->dirty[i]) && !plumb_contest_paused(&d->cs[i], now);
	if (full >= 0) {
		memset(d->dirty, 0, n ? n : 1);
		d->any_dirty = 0;
	}
	sc.only = ae.only = only;
	sc.ctx = &ae;
	if (plumb_state_lock(d->st, 5, &e) != 0) {
		/* Someone else holds state_dir: put the work back and really retry,
		 * backing off, so drift made meanwhile is not left to the next
		 * full scan. */
		double wait = lock_backoff(d);

		for (size_t i = 0; i < n; i++) {
			d->dirty[i] |= only[i];
			d->any_dirty |= only[i];
		}
		if (full > 0)
			d->full_pending = 1;
		if (full != 0)
			d->any_dirty = 1;       /* a firewall-only run comes back with the next full or timer */
		plumb_log(PLUMB_LOG_WARN, "%s; enforcement put off, retrying in %.0f s (attempt %u)", e.msg, wait,
			  d->lock_failures);
		free(only);
		arm(d, T_DEBOUNCE, wait, 0);
		d->debounce_armed = 1;
		write_metrics(d);
		return;
	}
	lock_regained(d);
	if (plumb_report_init(&rep, d->cfg.mode == PLUMB_MODE_AUDIT ? "audit" : "enforce", &e) == 0) {
		(void)plumb_run_header(&rep, &d->sel);
		/* A killed plumbd's reverts, read before this run journals its own;
		 * they join this run's report after its own figures are taken. */
		if (d->journal_unsettled && plumb_report_init(&rec, rep.mode, &e) == 0) {
			plumb_run_recover(d->st, &rec);
			have_rec = 1;
		}
		if (plumb_run_selected(&rep, &d->cfg, d->st, &d->sel, d->rootfd, &sc, &res, &e) != 0)
			plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
		if (d->guard_pending) {
			d->guard_pending = 0;
			if (res.probe) {
				d->probe_undo = res.undo;   /* probed from the loop: probe_start */
				d->probe = PROBE_DUE;
			}
		}
		if (d->anchor_pending && res.anchored)
			d->anchor_pending = 0;     /* durable before the report says so; else retried next full run */
		rep.finished_at = time(NULL);
		d->last_run = rep.finished_at;
		if (full > 0) {
			d->full_scan_seconds = now_mono() - now;
			d->drifted_last = rep.drifted;
			d->failed_last = rep.failed;
		}
		if (have_rec) {
			plumb_report_merge(&rep, &rec);
			plumb_report_release(&rec);
		}
		log_events(&rep);
		plumb_log(PLUMB_LOG_DEBUG, "%s run: %llu resources, %zu events, %.1f ms",
			  full > 0 ? "full" : full == -1 ? "firewall" : "dirty-set",
			  (unsigned long long)rep.resources,
			  rep.nevents, (now_mono() - now) * 1e3);
		if (full > 0 || rep.nevents > 0) {
			stand(d, &rep, full > 0 ? PLUMB_COVERS_FILE | PLUMB_COVERS_FIREWALL :
				       full == -1 ? PLUMB_COVERS_FIREWALL : 0);
			/* saved and spooled now, sent by the child */
			if (plumb_run_report(d->st, &d->cfg, &rep, 0, NULL) == 0) {
				if (sc.repair || d->journal_unsettled)
					plumb_run_settle(d->st, 1);
				d->journal_unsettled = 0;
			} else {
				d->journal_unsettled = 1;
			}
		}
		plumb_report_release(&rep);
	}
	plumb_state_unlock(d->st);
	free(only);
	if (full > 0 && !d->scanned) {
		d->scanned = 1;     /* the start-up catch-up: plumb.prom once its live state is done too */
		d->live_startup = 1;
	}
	write_metrics(d);
	send_reports(d);
	notify_request(d);
	if (full > 0)
		live_request(d, 1);
	/* A run frees what it held per file (jobs, events, JSON; the first
	 * one a fetch's frames before it), and malloc keeps freed pages in
	 * the middle of its heap: given back after each run (20-30 us at
	 * 10,000 files; 1.6 MB stayed resident after five drifts without). */
	(void)malloc_trim(0);
}

/* Sends a report of one event on resource baseline. */
static void report_baseline_event(struct plumb_daemon *d, enum plumb_action action, const char *why)
{
	struct plumb_report rep;
	struct plumb_err e;

	if (plumb_report_init(&rep, d->cfg.mode == PLUMB_MODE_AUDIT ? "audit" : "enforce", &e) != 0)
		return;
	if (d->have_sel)
		(void)plumb_run_header(&rep, &d->sel);
	(void)plumb_report_baseline_event(&rep, action, why);
	rep.finished_at = time(NULL);
	stand(d, &rep, 0);
	log_events(&rep);
	plumb_run_report(d->st, &d->cfg, &rep, 0, NULL);
	plumb_report_release(&rep);
	send_reports(d);
}

/* Adds a refused event, once per distinct reason. tip: a fetched tip was
 * refused (plumb_refused_total); not one for a fetch that failed (counted
 * in plumb_fetch_failures_total by judge_baseline). */
static void report_refusal(struct plumb_daemon *d, const char *why, int tip)
{
	if (d->last_refusal && strcmp(d->last_refusal, why) == 0)
		return;
	free(d->last_refusal);
	d->last_refusal = strdup(why);
	if (tip)
		d->refused_total++;
	report_baseline_event(d, PLUMB_ACT_REFUSED, why);
}

static void back_to_anchor(struct plumb_daemon *d);
static void probe_start(struct plumb_daemon *d);
static void probe_cancel(struct plumb_daemon *d);

/* Makes sel (taken) the enforced baseline unless it is the one enforced
 * already, and runs a full scan over it. accepted: sel is a tip that was
 * not refused (its anchor is recorded once applied). */
static void adopt(struct plumb_daemon *d, struct plumb_selection *sel, int accepted)
{
	if (sel->held) {
		/* The anchor, which judge_baseline named as held: d->sel's own
		 * commit, not parsed a second time. Unchanged. */
		plumb_selection_release(sel);
		return;
	}
	if (d->have_sel && !sel->is_new && sel->from_git == d->sel.from_git &&
	    (!sel->from_git || strcmp(sel->tip.commit, d->sel.tip.commit) == 0) && !d->o->baseline_dir) {
		plumb_selection_release(sel);   /* unchanged */
		return;
	}
	/* A new baseline (or the first, or a re-read directory): switch over.
	 * A probe of the one it replaces no longer decides anything. */
	probe_cancel(d);
	live_cancel(d);     /* its answer would be about the baseline being replaced */
	notify_flush(d);    /* actions due for the old baseline's reverts are not dropped */
	{
		size_t n = sel->b->nfiles;
		unsigned char *dirty = calloc(n ? n : 1, 1), *due = calloc(n ? n : 1, 1);
		struct plumb_contest *cs = calloc(n ? n : 1, sizeof(*cs));

		if (dirty == NULL || cs == NULL || due == NULL) {
			free(dirty);
			free(cs);
			free(due);
			plumb_selection_release(sel);
			return;
		}
		if (d->have_sel)
			plumb_selection_release(&d->sel);
		free(d->dirty);
		free(d->cs);
		free(d->notify_due);
		d->sel = *sel;
		memset(sel, 0, sizeof(*sel));
		d->have_sel = 1;
		d->dirty = dirty;
		d->cs = cs;
		d->notify_due = due;
	}
	if (d->sel.from_git)
		plumb_log(PLUMB_LOG_INFO, "enforcing commit %.12s (serial %llu, signed by %s)", d->sel.tip.commit,
			  (unsigned long long)d->sel.b->serial, d->sel.tip.signer);
	if (d->sel.reanchored[0] != '\0' && (d->last_reanchor == NULL || strcmp(d->last_reanchor, d->sel.reanchored) != 0)) {
		/* Loud, once: the anchor no longer held this tip to its serial and history. */
		free(d->last_reanchor);
		d->last_reanchor = strdup(d->sel.reanchored);
		report_baseline_event(d, PLUMB_ACT_DETECTED, d->sel.reanchored);
	}
	watches_arm(d);
	d->guard_pending = d->sel.from_git && d->sel.is_new && d->cfg.mode == PLUMB_MODE_ENFORCE;
	d->anchor_pending = d->guard_pending && accepted;
	run_engine(d, 1);
	if (d->probe == PROBE_DUE)
		probe_start(d);
}

/* Takes the state lock for a baseline switch; on failure plans a retry
 * (the poll timer, backing off) and returns nonzero. */
static int lock_for_baseline(struct plumb_daemon *d)
{
	struct plumb_err e;

	if (plumb_state_lock(d->st, 5, &e) != 0) {
		/* Try again soon (not only at the next poll): without a baseline
		 * nothing is enforced at all. */
		d->refresh_retry = lock_backoff(d);
		plumb_log(PLUMB_LOG_WARN, "%s; fetching the baseline again in %.0f s (attempt %u)", e.msg,
			  d->refresh_retry, d->lock_failures);
		arm(d, T_POLL, d->refresh_retry, (double)d->cfg.poll);
		write_metrics(d);
		return -1;
	}
	d->refresh_retry = 0;
	lock_regained(d);
	return 0;
}

/* Enforces the anchor (the last applied commit) from the verified store, no
 * fetch: at start, before the first fetch is back, and after a rollback. */
static void back_to_anchor(struct plumb_daemon *d)
{
	struct plumb_selection sel;
	struct plumb_trust trust;
	struct plumb_err e;
	int r;

	if (lock_for_baseline(d) != 0)
		return;
	r = plumb_select_anchor(&sel, &d->cfg, d->st, &trust, &e);
	plumb_state_unlock(d->st);
	if (r == 0)
		adopt(d, &sel, 0);
	else if (r != PLUMB_E_NOTFOUND)
		plumb_log(PLUMB_LOG_ERROR, "cannot enforce the last applied commit: %s", e.msg);
}

/* Judges what a fetch brought (fetch_r, fetch_err: its result, timed_out:
 * source.timeout ended it; a plain directory has no fetch) and, when a new
 * baseline is accepted, switches to it. */
static void judge_baseline(struct plumb_daemon *d, int fetch_r, const struct plumb_err *fetch_err, int timed_out)
{
	struct plumb_selection sel;
	struct plumb_trust trust;
	struct plumb_err e;
	char *refusal = NULL;
	int r, refused;

	if (fetch_r != 0)
		d->fetch_failures[plumb_fetch_failure_reason(fetch_r, timed_out)]++;
	if (lock_for_baseline(d) != 0)
		return;
	if (d->o->baseline_dir != NULL)
		r = plumb_select(&sel, &d->cfg, d->o->baseline_dir, d->st, &trust, &refusal, &e);
	else
		r = plumb_select_fetched(&sel, &d->cfg, d->st, &trust, fetch_r, fetch_err,
					 d->have_sel && d->sel.from_git ? d->sel.tip.commit : NULL, &refusal, &e);
	plumb_state_unlock(d->st);
	refused = refusal != NULL;
	if (refused) {
		report_refusal(d, refusal, fetch_r == 0);
		free(refusal);
	} else if (r == 0) {
		free(d->last_refusal);
		d->last_refusal = NULL;
		d->last_fetch_ok = time(NULL);
	}
	if (r != 0) {
		if (!refused)
			report_refusal(d, e.msg, fetch_r == 0);
		write_metrics(d);  /* the counters moved, and no run follows */
		return;
	}
	if (sel.cache_discarded)
		arm(d, T_POLL, 1, (double)d->cfg.poll);   /* rebuild the discarded cache now, not a poll later */
	adopt(d, &sel, !refused);
}

/* Stops watching the fetch in flight (before its fd is closed). */
static struct plumb_git_fetch *fetch_detach(struct plumb_daemon *d)
{
	struct plumb_git_fetch *f = d->fetch;

	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->fetch_fd, NULL);
	arm(d, T_FETCH, 0, 0);
	d->fetch = NULL;
	d->fetch_fd = -1;
	return f;
}

/* --- live state, in a child ------------------------------------------------ */

/* The loop's own fds, which a child of it closes first (out: room for
 * T_COUNT + 8). Returns how many. */
static size_t loop_fds(const struct plumb_daemon *d, int *out)
{
	size_t n = 0;

	out[n++] = d->epfd;
	out[n++] = d->sfd;
	out[n++] = d->ws.ifd;
	out[n++] = d->sender_fd;
	out[n++] = d->fetch_fd;
	out[n++] = d->live_fd;
	out[n++] = d->notify_fd;
	for (int t = 0; t < T_COUNT; t++)
		out[n++] = d->timers[t];
	return n;
}

/* Starts a live-state run (packages: with packages, as full scans have),
 * or, while one is out, asks for another when it is done. */
static void live_request(struct plumb_daemon *d, int packages)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int close_fds[T_COUNT + 8];
	const struct plumb_baseline *b;
	struct plumb_err e;
	size_t n;

	if (!d->have_sel || d->stop)
		goto none;
	b = d->sel.b;
	if (b->nsysctl == 0 && b->nservices == 0 && b->nmodules == 0 && (!packages || b->npackages == 0))
		goto none;
	if (d->live != NULL) {
		d->live_due = packages || d->live_due == 2 ? 2 : 1;
		return;
	}
	n = loop_fds(d, close_fds);
	if (plumb_livejob_start(&d->live, &d->cfg, d->st, &d->sel, d->rootfd, d->cfg.mode == PLUMB_MODE_ENFORCE,
				packages, NULL, close_fds, n, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s; live state is checked again at the next interval", e.msg);
		d->live = NULL;
		goto none;
	}
	d->live_fd = plumb_livejob_fd(d->live);
	ev.data.fd = d->live_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->live_fd, &ev);
	return;
none:
	if (d->live_startup) {
		d->live_startup = 0;
		write_metrics(d);
	}
}

static struct plumb_livejob *live_detach(struct plumb_daemon *d)
{
	struct plumb_livejob *j = d->live;

	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->live_fd, NULL);
	d->live = NULL;
	d->live_fd = -1;
	return j;
}

/* Stops a live-state run (a new baseline, or plumbd stops). */
static void live_cancel(struct plumb_daemon *d)
{
	if (d->live != NULL)
		plumb_livejob_abort(live_detach(d));
	d->live_due = 0;
}

/* The live-state child answered: its events become plumbd's (tracked,
 * logged, reported as a run of their own), and a run asked for meanwhile
 * starts. */
static void on_live(struct plumb_daemon *d)
{
	struct plumb_livejob *j;
	struct plumb_report rep;
	struct plumb_err e;
	unsigned before = d->live_unresolved + d->pkg_unresolved;
	int packages, due;

	if (!plumb_livejob_pump(d->live))
		return;
	j = live_detach(d);
	packages = plumb_livejob_packages(j);
	d->live_startup = 0;
	if (plumb_report_init(&rep, d->cfg.mode == PLUMB_MODE_AUDIT ? "audit" : "enforce", &e) != 0) {
		plumb_livejob_abort(j);
		goto next;
	}
	(void)plumb_run_header(&rep, &d->sel);
	if (plumb_livejob_finish(j, &rep, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s; live state is checked again at the next interval", e.msg);
		plumb_report_release(&rep);
		goto next;
	}
	track_live(d, &rep, packages);
	d->last_run = time(NULL);
	/* A full scan's always goes (it clears what was fixed meanwhile), an
	 * interval's when it has news: not the same failures as last time
	 * (a read-only /proc/sys in a container), or fewer open. */
	report_child_run(d, &rep, PLUMB_COVERS_LIVE | (packages ? PLUMB_COVERS_PACKAGE : 0),
			 packages || (rep.nevents > 0 && !live_repeats(d, &rep)) ||
				 d->live_unresolved + d->pkg_unresolved < before);
	plumb_report_release(&rep);
next:
	write_metrics(d);
	send_reports(d);
	if ((due = d->live_due) != 0) {
		d->live_due = 0;
		live_request(d, due == 2);
	}
}

/* A child run's answer (or a fallback run in place) is done: logged, and
 * with send reported (covers: what it looked at in full). */
static void report_child_run(struct plumb_daemon *d, struct plumb_report *rep, unsigned covers, int send)
{
	struct plumb_err e;

	rep->finished_at = time(NULL);
	log_events(rep);
	if (!send)
		return;
	if (plumb_state_lock(d->st, 5, &e) == 0) {
		lock_regained(d);
		stand(d, rep, covers);
		(void)plumb_run_report(d->st, &d->cfg, rep, 0, NULL);
		plumb_state_unlock(d->st);
	} else {
		plumb_log(PLUMB_LOG_ERROR, "%s; this run is not reported (its events are logged above)", e.msg);
	}
}

static int notify_marked(const struct plumb_daemon *d)
{
	for (size_t i = 0; d->have_sel && d->notify_due != NULL && i < d->sel.b->nfiles; i++)
		if (d->notify_due[i])
			return 1;
	return 0;
}

/* Starts the notify: actions the runs marked, in a child (one at a time:
 * what is marked meanwhile goes when it is done). */
static void notify_request(struct plumb_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int close_fds[T_COUNT + 8];
	struct plumb_err e;
	size_t n;

	if (d->notifyjob != NULL || d->stop || !notify_marked(d))
		return;
	n = loop_fds(d, close_fds);
	if (plumb_livejob_start(&d->notifyjob, &d->cfg, d->st, &d->sel, d->rootfd, 1, 0, d->notify_due, close_fds, n,
				&e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s; running the notify: actions here", e.msg);
		d->notifyjob = NULL;
		notify_flush(d);
		return;
	}
	memset(d->notify_due, 0, d->sel.b->nfiles);    /* the child has its own copy */
	d->notify_fd = plumb_livejob_fd(d->notifyjob);
	ev.data.fd = d->notify_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->notify_fd, &ev);
}

/* Runs what is marked here and now (a baseline switch, or no child could
 * be started): the actions are never dropped. */
static void notify_flush(struct plumb_daemon *d)
{
	const struct plumb_file_res **changed;
	struct plumb_report rep;
	struct plumb_err e;
	size_t n = 0;

	if (!notify_marked(d))
		return;
	if ((changed = calloc(d->sel.b->nfiles, sizeof(*changed))) == NULL)
		return;
	for (size_t i = 0; i < d->sel.b->nfiles; i++)
		if (d->notify_due[i] && d->sel.b->files[i].nnotify > 0)
			changed[n++] = &d->sel.b->files[i];
	memset(d->notify_due, 0, d->sel.b->nfiles);
	if (plumb_report_init(&rep, "enforce", &e) == 0) {
		(void)plumb_run_header(&rep, &d->sel);
		if (plumb_notify_run(&rep, changed, n, d->rootfd, &e) != 0)
			plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
		report_child_run(d, &rep, 0, rep.nevents > 0);
		plumb_report_release(&rep);
	}
	free(changed);
}

/* The notify child answered: its events are reported; what was marked
 * meanwhile starts. */
static void on_notify(struct plumb_daemon *d)
{
	struct plumb_livejob *j;
	struct plumb_report rep;
	struct plumb_err e;

	if (!plumb_livejob_pump(d->notifyjob))
		return;
	j = d->notifyjob;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->notify_fd, NULL);
	d->notifyjob = NULL;
	d->notify_fd = -1;
	if (plumb_report_init(&rep, "enforce", &e) != 0) {
		plumb_livejob_abort(j);
	} else {
		(void)plumb_run_header(&rep, &d->sel);
		if (plumb_livejob_finish(j, &rep, &e) != 0)
			plumb_log(PLUMB_LOG_ERROR, "notify: %s", e.msg);
		else
			report_child_run(d, &rep, 0, rep.nevents > 0);
		plumb_report_release(&rep);
	}
	send_reports(d);
	notify_request(d);
}

/* --- the lock-out probe ---------------------------------------------------- */

/* Starts the probe (due: a new baseline's firewall replaced the tables).
 * A fetch in flight, or a cache lock another fetch holds, puts it off to
 * the end of that fetch or to the next poll tick. */
static void probe_start(struct plumb_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct plumb_git_opts go;
	struct plumb_err e;

	if (d->probe != PROBE_DUE || d->fetch != NULL)
		return;
	plumb_select_probe_opts(&go, &d->cfg);
	go.cancel_fd = -1;
	if (plumb_git_fetch_start(&d->fetch, &go, d->cfg.state_dir, 0, &e) != 0) {
		d->fetch = NULL;
		plumb_log(PLUMB_LOG_WARN, "%s; probing the git remote again in 2 s", e.msg);
		arm(d, T_POLL, 2, (double)d->cfg.poll);
		return;
	}
	d->probe = PROBE_OUT;
	d->fetch_fd = plumb_git_fetch_fd(d->fetch);
	ev.data.fd = d->fetch_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->fetch_fd, &ev);
	arm(d, T_FETCH, (double)go.timeout_s, 0);
	plumb_log(PLUMB_LOG_INFO, "probing the git remote through the new firewall of commit %.12s (at most %u s)",
		  d->sel.tip.commit, (unsigned)go.timeout_s);
}

/* Drops a probe (a newer baseline replaces the one probed, or plumbd stops). */
static void probe_cancel(struct plumb_daemon *d)
{
	if (d->probe == PROBE_OUT && d->fetch != NULL)
		(void)plumb_git_fetch_abort(fetch_detach(d), 0, NULL);
	d->probe = PROBE_NONE;
	plumb_fw_undo_release(&d->probe_undo);
}

/* The probe's fetch ended with r (e): the remote answered, so the new
 * commit becomes the anchor; or it did not, so the previous tables come
 * back, the commit is recorded as rolled back and plumbd goes back to
 * the anchor (no fetch: the remote is what this firewall cut off). */
static void probe_done(struct plumb_daemon *d, int r, const struct plumb_err *e)
{
	struct plumb_report rep;
	struct plumb_err le;
	int answered = plumb_select_probe_answered(r);

	d->probe = PROBE_DUE;      /* until decided below */
	if (plumb_state_lock(d->st, 5, &le) != 0) {
		double wait = lock_backoff(d);

		/* Nothing can be recorded either way: probe again, soon. */
		plumb_log(PLUMB_LOG_WARN, "%s; the lock-out probe is repeated in %.0f s", le.msg, wait);
		arm(d, T_POLL, wait, (double)d->cfg.poll);
		write_metrics(d);
		return;
	}
	lock_regained(d);
	if (plumb_report_init(&rep, "enforce", &le) != 0) {
		plumb_state_unlock(d->st);
		plumb_log(PLUMB_LOG_ERROR, "%s; the lock-out probe is repeated at the next poll", le.msg);
		return;
	}
	(void)plumb_run_header(&rep, &d->sel);
	if (answered) {
		plumb_log(PLUMB_LOG_INFO, "the git remote still answers through the firewall of commit %.12s",
			  d->sel.tip.commit);
		if (d->anchor_pending && plumb_select_commit_anchor(&d->sel, d->st, &rep) == 0)
			d->anchor_pending = 0;
	} else {
		plumb_select_lockout_rollback(&d->sel, d->st, &d->probe_undo, e->msg, &rep);
		d->anchor_pending = 0;
	}
	d->probe = PROBE_NONE;
	plumb_fw_undo_release(&d->probe_undo);
	rep.finished_at = time(NULL);
	if (rep.nevents > 0) {
		stand(d, &rep, 0);
		log_events(&rep);
		(void)plumb_run_report(d->st, &d->cfg, &rep, 0, NULL);
	}
	plumb_report_release(&rep);
	plumb_state_unlock(d->st);
	write_metrics(d);
	send_reports(d);
	if (!answered)
		back_to_anchor(d);  /* the rolled-back commit is refused from now on */
}

/* A fetch ended (timed_out: its deadline did it): the probe's decides the
 * rollback; a poll's brings a tip to judge (and lets a due probe start). */
static void fetch_done(struct plumb_daemon *d, int r, const struct plumb_err *e, int timed_out)
{
	if (d->probe == PROBE_OUT) {
		probe_done(d, r, e);
		return;
	}
	judge_baseline(d, r, e, timed_out);
	probe_start(d);
}

/* The fetch child wrote or closed its end: judge the tip once it is done. */
static void on_fetch(struct plumb_daemon *d)
{
	struct plumb_git_fetch *f;
	struct plumb_err e;
	int r;

	if (!plumb_git_fetch_pump(d->fetch))
		return;
	f = fetch_detach(d);
	r = plumb_git_fetch_finish(f, &e);
	fetch_done(d, r, &e, 0);
}

/* source.timeout passed: the child is killed, the fetch is a refusal. */
static void on_fetch_timeout(struct plumb_daemon *d)
{
	struct plumb_err e;
	int r;

	if (d->fetch == NULL)
		return;
	r = plumb_git_fetch_abort(fetch_detach(d), 1, &e);
	fetch_done(d, r, &e, 1);
}

/* Starts fetching the baseline, or re-reads the directory. Never waits on
 * the network: the fetch's end comes back to the loop (on_fetch). */
static void refresh_baseline(struct plumb_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct plumb_git_opts go;
	struct plumb_err e;

	if (d->o->baseline_dir != NULL || d->cfg.source_url == NULL) {
		judge_baseline(d, 0, NULL, 0);
		return;
	}
	if (d->fetch != NULL) {
		plumb_log(PLUMB_LOG_DEBUG, "a baseline fetch is still in flight");
		return;
	}
	if (d->probe == PROBE_DUE) {
		probe_start(d);     /* the lock-out probe first: it decides what is enforced */
		return;
	}
	plumb_select_git_opts(&go, &d->cfg);
	go.cancel_fd = -1;
	if (plumb_git_fetch_start(&d->fetch, &go, d->cfg.state_dir, 0, &e) != 0) {
		/* The cache lock is held by another fetch (plumb apply): it brings
		 * the same remote's tip; ours comes at the next poll. */
		plumb_log(PLUMB_LOG_WARN, "%s; fetching again at the next poll", e.msg);
		d->fetch = NULL;
		return;
	}
	d->fetch_fd = plumb_git_fetch_fd(d->fetch);
	ev.data.fd = d->fetch_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->fetch_fd, &ev);
	arm(d, T_FETCH, (double)d->cfg.source_timeout, 0);
}

/* --- configuration --------------------------------------------------------- */

static int load_config(struct plumb_config *cfg, const struct plumb_daemon_opts *o, struct plumb_err *err)
{
	return plumb_config_open(cfg, o->config_path, o->root, o->state_dir, err);
}

static void arm_intervals(struct plumb_daemon *d)
{
	arm(d, T_POLL, (double)d->cfg.poll + splay((double)d->cfg.poll / 10), (double)d->cfg.poll);
	/* A full scan at least as often as a heartbeat is due, so a quiet host
	 * still tells the control plane it is alive and compliant. */
	double full = (double)(d->cfg.report_url && d->cfg.report_heartbeat < d->cfg.full_scan ?
			       d->cfg.report_heartbeat : d->cfg.full_scan);

	arm(d, T_FULL, full, full);
	arm(d, T_FIREWALL, PLUMB_FIREWALL_CHECK, PLUMB_FIREWALL_CHECK);
	/* Live state (sysctl:, services:, modules:), which no inotify reports. */
	arm(d, T_LIVE, (double)d->cfg.live, (double)d->cfg.live);
}

static void reload(struct plumb_daemon *d)
{
	struct plumb_config cfg;
	struct plumb_err e;

	if (load_config(&cfg, d->o, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "SIGHUP: keeping the running configuration: %s", e.msg);
		return;
	}
	if (strcmp(cfg.root, d->cfg.root) != 0 || strcmp(cfg.state_dir, d->cfg.state_dir) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "SIGHUP: root and state_dir cannot change while running; restart plumbd");
		plumb_config_release(&cfg);
		return;
	}
	plumb_config_release(&d->cfg);
	d->cfg = cfg;
	plumb_log(PLUMB_LOG_INFO, "SIGHUP: configuration reloaded from %s", d->cfg.path ? d->cfg.path : "defaults");
	arm_intervals(d);
	refresh_baseline(d);
	schedule_full(d, 1);
}

/* --- the loop -------------------------------------------------------------- */

/* plumbd inside a helper's wait (apt-get, systemctl, modprobe, notify:
 * commands run inside a run, bounded by their deadlines): the watchdog is
 * still pinged, and a pending SIGTERM or SIGINT ends the wait (the loop
 * reads the signal right after the run). */
static int helper_waiting(void *arg)
{
	struct plumb_daemon *d = arg;
	sigset_t pending;

	if (d->watchdog_usec > 0)
		plumb_notify("WATCHDOG=1");
	return sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

static int setup(struct plumb_daemon *d, struct plumb_err *err)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t set;
	int r;

	plumb_watch_init(&d->ws);
	d->epfd = d->sfd = d->rootfd = d->sender_fd = d->fetch_fd = d->live_fd = d->notify_fd = -1;
	for (int t = 0; t < T_COUNT; t++)
		d->timers[t] = -1;
	if ((r = load_config(&d->cfg, d->o, err)) != 0)
		return r;
	if ((r = plumb_state_open(&d->st, d->cfg.state_dir, 1, err)) != 0)
		return r;
	if ((d->rootfd = open(d->cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_NOTFOUND, errno, "cannot open root '%s'", d->cfg.root);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((d->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot set up the event loop");
	ev.data.fd = d->sfd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sfd, &ev);
	for (int t = 0; t < T_COUNT; t++) {
		if ((d->timers[t] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
			return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a timer");
		ev.data.fd = d->timers[t];
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timers[t], &ev);
	}
	if ((d->watchdog_usec = plumb_notify_watchdog_usec()) > 0)
		arm(d, T_WATCHDOG, d->watchdog_usec / 2e6, d->watchdog_usec / 2e6);
	plumb_helper_set_waiting(helper_waiting, d);
	return 0;
}

static void teardown(struct plumb_daemon *d)
{
	plumb_helper_set_waiting(NULL, NULL);
	live_cancel(d);
	if (d->notifyjob != NULL)
		plumb_livejob_abort(d->notifyjob);   /* plumbd stops: its actions are killed, as in a run */
	probe_cancel(d);
	if (d->fetch != NULL)
		(void)plumb_git_fetch_abort(fetch_detach(d), 0, NULL);   /* the cache is cleaned by the next fetch */
	if (d->sender_pid > 0) {
		/* Safe at any point: an undelivered report stays in the spool. */
		kill(d->sender_pid, SIGKILL);
		waitpid(d->sender_pid, NULL, 0);
		close(d->sender_fd);
	}
	watches_clear(d);
	if (d->have_sel)
		plumb_selection_release(&d->sel);
	free(d->dirty);
	free(d->cs);
	free(d->notify_due);
	free(d->last_reanchor);
	free(d->last_refusal);
	plumb_metrics_file_release(&d->metrics);
	free(d->live_said);
	for (int t = 0; t < T_COUNT; t++)
		if (d->timers[t] >= 0)
			close(d->timers[t]);
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->rootfd >= 0)
		close(d->rootfd);
	plumb_state_free(d->st);
	plumb_config_release(&d->cfg);
}

static int timer_fired(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

static void on_signal(struct plumb_daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(d);
		} else {
			plumb_log(PLUMB_LOG_INFO, "%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			d->stop = 1;
		}
	}
}

int plumb_daemon_run(const struct plumb_daemon_opts *o, struct plumb_err *err)
{
	struct plumb_daemon d;
	struct plumb_err e;
	int r;

	memset(&d, 0, sizeof(d));
	d.journal_unsettled = 1;   /* a journal left by a killed plumbd is reported by the first run */
	d.o = o;
	if ((r = setup(&d, err)) != 0) {
		teardown(&d);
		return r;
	}
	plumb_log(PLUMB_LOG_INFO, "starting: root %s, state %s, %s mode, full scan every %llus, poll every %llus",
		  d.cfg.root, d.cfg.state_dir, d.cfg.mode == PLUMB_MODE_AUDIT ? "audit" : "enforce",
		  (unsigned long long)d.cfg.full_scan, (unsigned long long)d.cfg.poll);
	if (d.cfg.report_url != NULL && plumb_state_lock(d.st, 0, &e) == 0) {
		plumb_spool_sweep(d.st);      /* temps a killed run left in spool/ */
		plumb_state_unlock(d.st);
	}
	/* Catch up at once: drift made while plumbd was down is reverted now,
	 * against the last applied commit while the first fetch is out. */
	if (d.o->baseline_dir == NULL && d.cfg.source_url != NULL)
		back_to_anchor(&d);
	refresh_baseline(&d);
	arm_intervals(&d);
	if (d.refresh_retry > 0)
		arm(&d, T_POLL, d.refresh_retry, (double)d.cfg.poll);   /* the first fetch was put off */
	send_reports(&d);        /* whatever waited in the spool while plumbd was down */
	plumb_notify("READY=1");
	while (!d.stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(d.epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n && !d.stop; k++) {
			int fd = evs[k].data.fd;

			if (fd == d.sfd) {
				on_signal(&d);
			} else if (fd == d.ws.ifd) {
				on_inotify(&d);
			} else if (fd == d.timers[T_DEBOUNCE] && timer_fired(fd)) {
				double gap = d.last_event_full + PLUMB_FULL_MIN_GAP - now_mono();

				d.debounce_armed = 0;
				if (d.full_pending && gap > 0) {
					/* A storm: full scans at most every PLUMB_FULL_MIN_GAP s;
					 * what is marked dirty is still re-checked at once. */
					if (d.any_dirty)
						run_engine(&d, 0);
					arm(&d, T_DEBOUNCE, gap, 0);
					d.debounce_armed = 1;
				} else {
					int full = d.full_pending;

					d.full_pending = 0;
					if (d.rearm_pending) {
						d.rearm_pending = 0;
						watches_arm(&d);
					}
					if (full)
						d.last_event_full = now_mono();
					if (full || d.any_dirty)
						run_engine(&d, full);
				}
			} else if (fd == d.timers[T_FULL] && timer_fired(fd)) {
				run_engine(&d, 1);
			} else if (fd == d.timers[T_FIREWALL] && timer_fired(fd)) {
				if (d.have_sel && d.sel.b->firewall != NULL)
					run_engine(&d, -1);
			} else if (fd == d.timers[T_LIVE] && timer_fired(fd)) {
				live_request(&d, 0);
			} else if (d.live != NULL && fd == d.live_fd) {
				on_live(&d);
			} else if (d.notifyjob != NULL && fd == d.notify_fd) {
				on_notify(&d);
			} else if (fd == d.timers[T_POLL] && timer_fired(fd)) {
				refresh_baseline(&d);
			} else if (fd == d.timers[T_BACKOFF] && timer_fired(fd)) {
				/* Paused resources are due: look at each once more. */
				double now = now_mono();

				for (size_t i = 0; d.have_sel && i < d.sel.b->nfiles; i++)
					if (d.cs[i].until > 0 && d.cs[i].until <= now) {
						d.cs[i].until = 0;
						mark_dirty(&d, (long)i);
					}
			} else if (d.fetch != NULL && fd == d.fetch_fd) {
				on_fetch(&d);
			} else if (fd == d.timers[T_FETCH] && timer_fired(fd)) {
				on_fetch_timeout(&d);
			} else if (fd == d.sender_fd) {
				on_sender_done(&d);
			} else if (fd == d.timers[T_SEND] && timer_fired(fd)) {
				send_reports(&d);
			} else if (fd == d.timers[T_WATCHDOG] && timer_fired(fd)) {
				plumb_notify("WATCHDOG=1");
			}
		}
	}
	plumb_notify("STOPPING=1");
	teardown(&d);
	return 0;
}
