/* daemon_run.c - plumbd's runs: the engine over the dirty set, a full
 * scan or the firewall (through the one run, plumb_run_selected), what is
 * unresolved now, contests, metrics, reports and their sender child. */
#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "plumb/contest.h"
#include "plumb/daemon_int.h"
#include "plumb/helper.h"
#include "plumb/log.h"
#include "plumb/run.h"
#include "plumb/spool.h"
#include "plumb/state.h"
#include "banned.h"

static void track_unresolved(struct plumb_daemon *d, const struct plumb_report *rep, const unsigned char *only,
			     int full);

/* --- runs -------------------------------------------------------------------- */

/* What is drifted, failing or contested now, across every run (what
 * track_unresolved keeps): plumb_unresolved, and "standing" in reports. */
static uint64_t unresolved_now(const struct plumb_daemon *d)
{
	uint64_t n = d->fw_unresolved + d->live_unresolved + d->pkg_unresolved;

	for (size_t i = 0; d->have_sel && i < d->sel.b->nfiles; i++)
		n += d->unresolved[i];
	return n;
}

/* Every plumbd report says what stands beyond its own events (the kinds
 * it covers, unresolved now, a standing refusal): a control plane must not
 * take a dirty-set run's silence about a failed package for a resolve. */
void plumbd_stand(const struct plumb_daemon *d, struct plumb_report *rep, unsigned covers)
{
	rep->has_standing = 1;
	rep->covers = covers;
	rep->unresolved = unresolved_now(d);
	free(rep->refused);
	rep->refused = d->last_refusal != NULL ? strdup(d->last_refusal) : NULL;
}

void plumbd_write_metrics(struct plumb_daemon *d)
{
	struct plumb_metrics m;
	struct plumb_spool_entry *v = NULL;
	struct plumb_spool_stats ss;
	struct plumb_err e;
	char path[PATH_MAX], text[8192];
	double now = plumbd_now_mono();
	int n;

	if (d->live_startup)
		return;     /* the start-up catch-up is not over until its live state is */
	memset(&m, 0, sizeof(m));
	m.resources = d->have_sel ? d->sel.b->nfiles : 0;
	m.unresolved = unresolved_now(d);
	for (size_t k = 0; d->have_sel && k < d->cs.cap; k++) {
		const struct plumb_contest *c;
		size_t i;

		if ((c = plumb_contests_slot(&d->cs, k, &i)) != NULL && plumb_contest_paused(c, now))
			m.contested++;
	}
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

void plumbd_log_events(const struct plumb_report *rep)
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
void plumbd_send_reports(struct plumb_daemon *d)
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
void plumbd_on_sender_done(struct plumb_daemon *d)
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
		plumbd_send_reports(d);
	} else if (n > 0) {
		long wait;

		(void)plumb_spool_stats_load(d->st, &s, NULL);
		wait = plumb_spool_retry_wait(&s, time(NULL));
		plumbd_arm(d, T_SEND, wait > 0 ? (double)wait : 1.0, 0);
	}
}

/* Counts reverts; a resource reverted too often is backed off and reported
 * once as contested for this cycle. */
static void account(struct plumb_daemon *d, struct plumb_report *rep)
{
	double now = plumbd_now_mono(), next = 0;
	size_t n = rep->nevents;

	for (size_t k = 0; k < n; k++) {
		struct plumb_event *ev = &rep->events[k];
		struct plumb_contest *c;
		double pause;
		long i;

		if (ev->action != PLUMB_ACT_REVERTED || strncmp(ev->resource, "file:", 5) != 0)
			continue;
		d->reverted_total++;
		if ((i = plumbd_find_res(d, ev->resource + 5)) < 0)
			continue;
		if ((c = plumb_contests_get(&d->cs, (size_t)i, 1)) == NULL)
			continue;       /* out of memory: this revert is not counted */
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
		plumbd_arm(d, T_BACKOFF, next - now, 0);
}

/* Counts a failure to take the state lock and says how long to wait
 * before the next try: 1, 2, 4 ... 60 s. */
double plumbd_lock_backoff(struct plumb_daemon *d)
{
	double wait = d->lock_failures >= 6 ? 60 : (double)(1u << d->lock_failures);

	d->lock_failures++;
	d->lock_failures_total++;
	d->lock_holder = d->st->holder;
	return wait;
}

void plumbd_lock_regained(struct plumb_daemon *d)
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
			d->unresolved[i] = 0;
	if (full == 1 || full == -1)
		d->fw_unresolved = 0;
	for (size_t k = 0; k < rep->nevents; k++) {
		const struct plumb_event *ev = &rep->events[k];
		int open = ev->action == PLUMB_ACT_DETECTED || ev->action == PLUMB_ACT_FAILED ||
			   ev->action == PLUMB_ACT_CONTESTED;
		long i;

		if (strncmp(ev->resource, "file:", 5) == 0 && (i = plumbd_find_res(d, ev->resource + 5)) >= 0)
			d->unresolved[i] = (unsigned char)open;
		else if (strncmp(ev->resource, "firewall:", 9) == 0 && open)
			d->fw_unresolved++;
	}
}

/* The same for a live-state run (packages: it covered them too). */
void plumbd_track_live(struct plumb_daemon *d, const struct plumb_report *rep, int packages)
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
int plumbd_live_repeats(struct plumb_daemon *d, const struct plumb_report *rep)
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
 * (plumbd_live_request). */
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
void plumbd_run_engine(struct plumb_daemon *d, int full)
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
	double now = plumbd_now_mono();
	size_t n;

	if (!d->have_sel)
		return;
	n = d->sel.b->nfiles;
	if ((only = calloc(n ? n : 1, 1)) == NULL)
		return;
	for (size_t i = 0; i < n && full >= 0; i++) {
		const struct plumb_contest *c = plumb_contests_get(&d->cs, i, 0);

		only[i] = (full || d->dirty[i]) && (c == NULL || !plumb_contest_paused(c, now));
	}
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
		double wait = plumbd_lock_backoff(d);

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
		plumbd_arm(d, T_DEBOUNCE, wait, 0);
		d->debounce_armed = 1;
		plumbd_write_metrics(d);
		return;
	}
	plumbd_lock_regained(d);
	plumbd_flush_held(d);
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
				d->probe_undo = res.undo;   /* probed from the loop: plumbd_probe_start */
				d->probe = PROBE_DUE;
			}
		}
		if (d->anchor_pending && res.anchored)
			d->anchor_pending = 0;     /* durable before the report says so; else retried next full run */
		rep.finished_at = time(NULL);
		d->last_run = rep.finished_at;
		if (full > 0) {
			d->full_scan_seconds = plumbd_now_mono() - now;
			d->drifted_last = rep.drifted;
			d->failed_last = rep.failed;
		}
		if (have_rec) {
			plumb_report_merge(&rep, &rec);
			plumb_report_release(&rec);
		}
		plumbd_log_events(&rep);
		plumb_log(PLUMB_LOG_DEBUG, "%s run: %llu resources, %zu events, %.1f ms",
			  full > 0 ? "full" : full == -1 ? "firewall" : "dirty-set",
			  (unsigned long long)rep.resources,
			  rep.nevents, (plumbd_now_mono() - now) * 1e3);
		if (full > 0 || rep.nevents > 0) {
			plumbd_stand(d, &rep, full > 0 ? PLUMB_COVERS_FILE | PLUMB_COVERS_FIREWALL :
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
	plumbd_write_metrics(d);
	plumbd_send_reports(d);
	plumbd_notify_request(d);
	if (full > 0)
		plumbd_live_request(d, 1);
	/* A run frees what it held per file (jobs, events, JSON; the first
	 * one a fetch's frames before it), and malloc keeps freed pages in
	 * the middle of its heap: given back after each run (20-30 us at
	 * 10,000 files; 1.6 MB stayed resident after five drifts without). */
	(void)malloc_trim(0);
}

/* Sends a report of one event on resource baseline. */
void plumbd_report_baseline_event(struct plumb_daemon *d, enum plumb_action action, const char *why)
{
	struct plumb_report rep;
	struct plumb_err e;

	if (plumb_report_init(&rep, d->cfg.mode == PLUMB_MODE_AUDIT ? "audit" : "enforce", &e) != 0)
		return;
	if (d->have_sel)
		(void)plumb_run_header(&rep, &d->sel);
	(void)plumb_report_baseline_event(&rep, action, why);
	rep.finished_at = time(NULL);
	plumbd_stand(d, &rep, 0);
	plumbd_log_events(&rep);
	plumb_run_report(d->st, &d->cfg, &rep, 0, NULL);
	plumb_report_release(&rep);
	plumbd_send_reports(d);
}

/* Adds a refused event, once per distinct reason. tip: a fetched tip was
 * refused (plumb_refused_total); not one for a fetch that failed (counted
 * in plumb_fetch_failures_total by plumbd_judge_baseline). */
void plumbd_report_refusal(struct plumb_daemon *d, const char *why, int tip)
{
	if (d->last_refusal && strcmp(d->last_refusal, why) == 0)
		return;
	free(d->last_refusal);
	d->last_refusal = strdup(why);
	if (tip)
		d->refused_total++;
	plumbd_report_baseline_event(d, PLUMB_ACT_REFUSED, why);
}
