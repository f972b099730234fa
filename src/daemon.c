/* daemon.c - plumbd: one epoll loop, no threads of its own, no busy waits.
 * Events only mark resources dirty; a short debounce timer then runs the
 * engine over the dirty set. plumb's own writes land as renames into place:
 * the re-check they trigger finds the file compliant and does nothing.
 * Here: the loop, its timers and signals, the watch set, the configuration.
 * The runs are in daemon_run.c, the baseline's life (fetch, judge, adopt,
 * the lock-out probe) in daemon_baseline.c, the children that wait on
 * programs in daemon_child.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "plumb/contest.h"
#include "plumb/daemon_int.h"
#include "plumb/fs.h"
#include "plumb/helper.h"
#include "plumb/livejob.h"
#include "plumb/log.h"
#include "plumb/notify.h"
#include "plumb/spool.h"
#include "plumb/state.h"
#include "banned.h"

static void mark_dirty(struct plumb_daemon *d, long i);

double plumbd_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void plumbd_arm(struct plumb_daemon *d, int t, double first_s, double every_s)
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

long plumbd_find_res(const struct plumb_daemon *d, const char *path)
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
		plumbd_arm(d, T_DEBOUNCE, PLUMB_DEBOUNCE_MS / 1000.0, 0);
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
void plumbd_watches_arm(struct plumb_daemon *d)
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
				mark_dirty(d, plumbd_find_res(d, wdir));
				continue;
			}
			if (plumb_fs_is_temp_name(ie->name))
				continue;
			{
				char path[PATH_MAX];
				long i;

				snprintf(path, sizeof(path), "%s/%s", wdir, ie->name);
				i = plumbd_find_res(d, path);
				if (i >= 0)
					mark_dirty(d, i);
				/* An entry appearing in a purge: true directory that the
				 * baseline does not name: re-check the directory. */
				if (i < 0 && (ie->mask & (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB))) {
					long pi = plumbd_find_res(d, wdir);

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

/* --- configuration --------------------------------------------------------- */

static int load_config(struct plumb_config *cfg, const struct plumb_daemon_opts *o, struct plumb_err *err)
{
	return plumb_config_open(cfg, o->config_path, o->root, o->state_dir, err);
}

static void arm_intervals(struct plumb_daemon *d)
{
	plumbd_arm(d, T_POLL, (double)d->cfg.poll + splay((double)d->cfg.poll / 10), (double)d->cfg.poll);
	/* A full scan at least as often as a heartbeat is due, so a quiet host
	 * still tells the control plane it is alive and compliant. */
	double full = (double)(d->cfg.report_url && d->cfg.report_heartbeat < d->cfg.full_scan ?
			       d->cfg.report_heartbeat : d->cfg.full_scan);

	plumbd_arm(d, T_FULL, full, full);
	plumbd_arm(d, T_FIREWALL, PLUMB_FIREWALL_CHECK, PLUMB_FIREWALL_CHECK);
	/* Live state (sysctl:, services:, modules:), which no inotify reports. */
	plumbd_arm(d, T_LIVE, (double)d->cfg.live, (double)d->cfg.live);
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
	plumbd_refresh_baseline(d);
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
		plumbd_arm(d, T_WATCHDOG, d->watchdog_usec / 2e6, d->watchdog_usec / 2e6);
	plumb_helper_set_waiting(helper_waiting, d);
	return 0;
}

static void teardown(struct plumb_daemon *d)
{
	plumb_helper_set_waiting(NULL, NULL);
	plumbd_live_cancel(d);
	plumbd_drop_held(d);
	if (d->notifyjob != NULL)
		plumb_livejob_abort(d->notifyjob);   /* plumbd stops: its actions are killed, as in a run */
	plumbd_probe_cancel(d);
	if (d->fetch != NULL)
		(void)plumb_git_fetch_abort(plumbd_fetch_detach(d), 0, NULL);   /* the cache is cleaned by the next fetch */
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
	free(d->unresolved);
	plumb_contests_release(&d->cs);
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
		plumbd_back_to_anchor(&d);
	plumbd_refresh_baseline(&d);
	arm_intervals(&d);
	if (d.refresh_retry > 0)
		plumbd_arm(&d, T_POLL, d.refresh_retry, (double)d.cfg.poll);   /* the first fetch was put off */
	plumbd_send_reports(&d);        /* whatever waited in the spool while plumbd was down */
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
				double gap = d.last_event_full + PLUMB_FULL_MIN_GAP - plumbd_now_mono();

				d.debounce_armed = 0;
				if (d.full_pending && gap > 0) {
					/* A storm: full scans at most every PLUMB_FULL_MIN_GAP s;
					 * what is marked dirty is still re-checked at once. */
					if (d.any_dirty)
						plumbd_run_engine(&d, 0);
					plumbd_arm(&d, T_DEBOUNCE, gap, 0);
					d.debounce_armed = 1;
				} else {
					int full = d.full_pending;

					d.full_pending = 0;
					if (d.rearm_pending) {
						d.rearm_pending = 0;
						plumbd_watches_arm(&d);
					}
					if (full)
						d.last_event_full = plumbd_now_mono();
					if (full || d.any_dirty)
						plumbd_run_engine(&d, full);
				}
			} else if (fd == d.timers[T_FULL] && timer_fired(fd)) {
				plumbd_run_engine(&d, 1);
			} else if (fd == d.timers[T_FIREWALL] && timer_fired(fd)) {
				if (d.have_sel && d.sel.b->firewall != NULL)
					plumbd_run_engine(&d, -1);
			} else if (fd == d.timers[T_LIVE] && timer_fired(fd)) {
				plumbd_live_request(&d, 0);
			} else if (d.live != NULL && fd == d.live_fd) {
				plumbd_on_live(&d);
			} else if (d.notifyjob != NULL && fd == d.notify_fd) {
				plumbd_on_notify(&d);
			} else if (fd == d.timers[T_POLL] && timer_fired(fd)) {
				plumbd_refresh_baseline(&d);
			} else if (fd == d.timers[T_BACKOFF] && timer_fired(fd)) {
				/* Paused resources are due: look at each once more. */
				double now = plumbd_now_mono();

				for (size_t slot = 0; d.have_sel && slot < d.cs.cap; slot++) {
					struct plumb_contest *c;
					size_t i;

					if ((c = plumb_contests_slot(&d.cs, slot, &i)) != NULL && c->until > 0 && c->until <= now) {
						c->until = 0;
						mark_dirty(&d, (long)i);
					}
				}
			} else if (d.fetch != NULL && fd == d.fetch_fd) {
				plumbd_on_fetch(&d);
			} else if (fd == d.timers[T_FETCH] && timer_fired(fd)) {
				plumbd_on_fetch_timeout(&d);
			} else if (fd == d.sender_fd) {
				plumbd_on_sender_done(&d);
			} else if (fd == d.timers[T_SEND] && timer_fired(fd)) {
				plumbd_send_reports(&d);
			} else if (fd == d.timers[T_WATCHDOG] && timer_fired(fd)) {
				plumb_notify("WATCHDOG=1");
			}
		}
	}
	plumb_notify("STOPPING=1");
	teardown(&d);
	return 0;
}
