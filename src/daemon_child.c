/* daemon_child.c - what of plumbd's runs waits on programs, in children
 * of its own (livejob.c): live state (sysctl, services, modules,
 * packages) and the notify: actions of reverted files. */
#include <string.h>
#include <sys/epoll.h>

#include "plumb/daemon_int.h"
#include "plumb/livejob.h"
#include "plumb/log.h"
#include "plumb/notify_run.h"
#include "plumb/run.h"
#include "plumb/state.h"
#include "banned.h"

static void report_child_run(struct plumb_daemon *d, struct plumb_report *rep, unsigned covers, int send);

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
void plumbd_live_request(struct plumb_daemon *d, int packages)
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
		plumbd_write_metrics(d);
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
void plumbd_live_cancel(struct plumb_daemon *d)
{
	if (d->live != NULL)
		plumb_livejob_abort(live_detach(d));
	d->live_due = 0;
}

/* The live-state child answered: its events become plumbd's (tracked,
 * logged, reported as a run of their own), and a run asked for meanwhile
 * starts. */
void plumbd_on_live(struct plumb_daemon *d)
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
	plumbd_track_live(d, &rep, packages);
	d->last_run = time(NULL);
	/* A full scan's always goes (it clears what was fixed meanwhile), an
	 * interval's when it has news: not the same failures as last time
	 * (a read-only /proc/sys in a container), or fewer open. */
	report_child_run(d, &rep, PLUMB_COVERS_LIVE | (packages ? PLUMB_COVERS_PACKAGE : 0),
			 packages || (rep.nevents > 0 && !plumbd_live_repeats(d, &rep)) ||
				 d->live_unresolved + d->pkg_unresolved < before);
	plumb_report_release(&rep);
next:
	plumbd_write_metrics(d);
	plumbd_send_reports(d);
	if ((due = d->live_due) != 0) {
		d->live_due = 0;
		plumbd_live_request(d, due == 2);
	}
}

/* A child run's answer (or a fallback run in place) is done: logged, and
 * with send reported (covers: what it looked at in full). */
static void report_child_run(struct plumb_daemon *d, struct plumb_report *rep, unsigned covers, int send)
{
	struct plumb_err e;

	rep->finished_at = time(NULL);
	plumbd_log_events(rep);
	if (!send)
		return;
	if (plumb_state_lock(d->st, 5, &e) == 0) {
		plumbd_lock_regained(d);
		plumbd_flush_held(d);
		plumbd_stand(d, rep, covers);
		(void)plumb_run_report(d->st, &d->cfg, rep, 0, NULL);
		plumb_state_unlock(d->st);
		return;
	}
	/* Its repairs are made: the report waits for the lock, and a retry
	 * (an empty dirty-set run) is due after the usual backoff. */
	if (d->nheld == PLUMBD_HELD_MAX) {
		plumb_log(PLUMB_LOG_ERROR, "%s; %d reports wait for it already: the oldest is dropped (its events were "
			  "logged)", e.msg, PLUMBD_HELD_MAX);
		plumb_report_release(&d->held[0].rep);
		memmove(&d->held[0], &d->held[1], (PLUMBD_HELD_MAX - 1) * sizeof(d->held[0]));
		d->nheld--;
	} else {
		plumb_log(PLUMB_LOG_WARN, "%s; this run's report waits for the lock", e.msg);
	}
	d->held[d->nheld].rep = *rep;
	d->held[d->nheld++].covers = covers;
	memset(rep, 0, sizeof(*rep));     /* the caller's release is a no-op now */
	d->any_dirty = 1;
	if (!d->debounce_armed) {
		plumbd_arm(d, T_DEBOUNCE, plumbd_lock_backoff(d), 0);
		d->debounce_armed = 1;
	}
}

/* With the state lock: the reports that waited for it, in order. */
void plumbd_flush_held(struct plumb_daemon *d)
{
	for (size_t i = 0; i < d->nheld; i++) {
		plumbd_stand(d, &d->held[i].rep, d->held[i].covers);
		(void)plumb_run_report(d->st, &d->cfg, &d->held[i].rep, 0, NULL);
		plumb_report_release(&d->held[i].rep);
	}
	d->nheld = 0;
}

/* plumbd stops: what still waits is spooled if the lock is free now. */
void plumbd_drop_held(struct plumb_daemon *d)
{
	struct plumb_err e;

	if (d->nheld == 0)
		return;
	if (plumb_state_lock(d->st, 0, &e) == 0) {
		plumbd_flush_held(d);
		plumb_state_unlock(d->st);
		return;
	}
	plumb_log(PLUMB_LOG_ERROR, "%s; %zu reports that waited for it are lost (their events were logged)", e.msg,
		  d->nheld);
	for (size_t i = 0; i < d->nheld; i++)
		plumb_report_release(&d->held[i].rep);
	d->nheld = 0;
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
void plumbd_notify_request(struct plumb_daemon *d)
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
		plumbd_notify_flush(d);
		return;
	}
	memset(d->notify_due, 0, d->sel.b->nfiles);    /* the child has its own copy */
	d->notify_fd = plumb_livejob_fd(d->notifyjob);
	ev.data.fd = d->notify_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->notify_fd, &ev);
}

/* Runs what is marked here and now (a baseline switch, or no child could
 * be started): the actions are never dropped. */
void plumbd_notify_flush(struct plumb_daemon *d)
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
void plumbd_on_notify(struct plumb_daemon *d)
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
	plumbd_send_reports(d);
	plumbd_notify_request(d);
}
