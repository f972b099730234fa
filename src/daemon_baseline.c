/* daemon_baseline.c - plumbd's baseline: the fetch child and its
 * deadline, judging what it brought, switching to a new baseline, going
 * back to the anchor, and the lock-out probe, all from the loop. */
#include <string.h>
#include <sys/epoll.h>

#include "plumb/contest.h"
#include "plumb/daemon_int.h"
#include "plumb/log.h"
#include "plumb/run.h"
#include "plumb/state.h"
#include "banned.h"

/* Makes sel (taken) the enforced baseline unless it is the one enforced
 * already, and runs a full scan over it. accepted: sel is a tip that was
 * not refused (its anchor is recorded once applied). */
static void adopt(struct plumb_daemon *d, struct plumb_selection *sel, int accepted)
{
	if (sel->held) {
		/* The anchor, which plumbd_judge_baseline named as held: d->sel's own
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
	plumbd_probe_cancel(d);
	plumbd_live_cancel(d);     /* its answer would be about the baseline being replaced */
	plumbd_notify_flush(d);    /* actions due for the old baseline's reverts are not dropped */
	{
		size_t n = sel->b->nfiles;
		unsigned char *dirty = calloc(n ? n : 1, 1), *due = calloc(n ? n : 1, 1);
		unsigned char *unresolved = calloc(n ? n : 1, 1);

		if (dirty == NULL || unresolved == NULL || due == NULL) {
			free(dirty);
			free(unresolved);
			free(due);
			plumb_selection_release(sel);
			return;
		}
		if (d->have_sel)
			plumb_selection_release(&d->sel);
		free(d->dirty);
		free(d->unresolved);
		plumb_contests_release(&d->cs);
		free(d->notify_due);
		d->sel = *sel;
		memset(sel, 0, sizeof(*sel));
		d->have_sel = 1;
		d->dirty = dirty;
		d->unresolved = unresolved;
		d->notify_due = due;
	}
	if (d->sel.from_git)
		plumb_log(PLUMB_LOG_INFO, "enforcing commit %.12s (serial %llu, signed by %s)", d->sel.tip.commit,
			  (unsigned long long)d->sel.b->serial, d->sel.tip.signer);
	if (d->sel.reanchored[0] != '\0' && (d->last_reanchor == NULL || strcmp(d->last_reanchor, d->sel.reanchored) != 0)) {
		/* Loud, once: the anchor no longer held this tip to its serial and history. */
		free(d->last_reanchor);
		d->last_reanchor = strdup(d->sel.reanchored);
		plumbd_report_baseline_event(d, PLUMB_ACT_DETECTED, d->sel.reanchored);
	}
	plumbd_watches_arm(d);
	d->guard_pending = d->sel.from_git && d->sel.is_new && d->cfg.mode == PLUMB_MODE_ENFORCE;
	d->anchor_pending = d->guard_pending && accepted;
	plumbd_run_engine(d, 1);
	if (d->probe == PROBE_DUE)
		plumbd_probe_start(d);
}

/* Takes the state lock for a baseline switch; on failure plans a retry
 * (the poll timer, backing off) and returns nonzero. */
static int lock_for_baseline(struct plumb_daemon *d)
{
	struct plumb_err e;

	if (plumb_state_lock(d->st, 5, &e) != 0) {
		/* Try again soon (not only at the next poll): without a baseline
		 * nothing is enforced at all. */
		d->refresh_retry = plumbd_lock_backoff(d);
		plumb_log(PLUMB_LOG_WARN, "%s; fetching the baseline again in %.0f s (attempt %u)", e.msg,
			  d->refresh_retry, d->lock_failures);
		plumbd_arm(d, T_POLL, d->refresh_retry, (double)d->cfg.poll);
		plumbd_write_metrics(d);
		return -1;
	}
	d->refresh_retry = 0;
	plumbd_lock_regained(d);
	return 0;
}

/* Enforces the anchor (the last applied commit) from the verified store, no
 * fetch: at start, before the first fetch is back, and after a rollback. */
void plumbd_back_to_anchor(struct plumb_daemon *d)
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
void plumbd_judge_baseline(struct plumb_daemon *d, int fetch_r, const struct plumb_err *fetch_err, int timed_out)
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
		plumbd_report_refusal(d, refusal, fetch_r == 0);
		free(refusal);
	} else if (r == 0) {
		free(d->last_refusal);
		d->last_refusal = NULL;
		d->last_fetch_ok = time(NULL);
	}
	if (r != 0) {
		if (!refused)
			plumbd_report_refusal(d, e.msg, fetch_r == 0);
		plumbd_write_metrics(d);  /* the counters moved, and no run follows */
		return;
	}
	if (sel.cache_discarded)
		plumbd_arm(d, T_POLL, 1, (double)d->cfg.poll);   /* rebuild the discarded cache now, not a poll later */
	adopt(d, &sel, !refused);
}

/* Stops watching the fetch in flight (before its fd is closed). */
struct plumb_git_fetch *plumbd_fetch_detach(struct plumb_daemon *d)
{
	struct plumb_git_fetch *f = d->fetch;

	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->fetch_fd, NULL);
	plumbd_arm(d, T_FETCH, 0, 0);
	d->fetch = NULL;
	d->fetch_fd = -1;
	return f;
}

/* --- the lock-out probe ---------------------------------------------------- */

/* Starts the probe (due: a new baseline's firewall replaced the tables).
 * A fetch in flight, or a cache lock another fetch holds, puts it off to
 * the end of that fetch or to the next poll tick. */
void plumbd_probe_start(struct plumb_daemon *d)
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
		plumbd_arm(d, T_POLL, 2, (double)d->cfg.poll);
		return;
	}
	d->probe = PROBE_OUT;
	d->fetch_fd = plumb_git_fetch_fd(d->fetch);
	ev.data.fd = d->fetch_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->fetch_fd, &ev);
	plumbd_arm(d, T_FETCH, (double)go.timeout_s, 0);
	plumb_log(PLUMB_LOG_INFO, "probing the git remote through the new firewall of commit %.12s (at most %u s)",
		  d->sel.tip.commit, (unsigned)go.timeout_s);
}

/* Drops a probe (a newer baseline replaces the one probed, or plumbd stops). */
void plumbd_probe_cancel(struct plumb_daemon *d)
{
	if (d->probe == PROBE_OUT && d->fetch != NULL)
		(void)plumb_git_fetch_abort(plumbd_fetch_detach(d), 0, NULL);
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
		double wait = plumbd_lock_backoff(d);

		/* Nothing can be recorded either way: probe again, soon. */
		plumb_log(PLUMB_LOG_WARN, "%s; the lock-out probe is repeated in %.0f s", le.msg, wait);
		plumbd_arm(d, T_POLL, wait, (double)d->cfg.poll);
		plumbd_write_metrics(d);
		return;
	}
	plumbd_lock_regained(d);
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
		plumbd_stand(d, &rep, 0);
		plumbd_log_events(&rep);
		(void)plumb_run_report(d->st, &d->cfg, &rep, 0, NULL);
	}
	plumb_report_release(&rep);
	plumb_state_unlock(d->st);
	plumbd_write_metrics(d);
	plumbd_send_reports(d);
	if (!answered)
		plumbd_back_to_anchor(d);  /* the rolled-back commit is refused from now on */
}

/* A fetch ended (timed_out: its deadline did it): the probe's decides the
 * rollback; a poll's brings a tip to judge (and lets a due probe start). */
static void fetch_done(struct plumb_daemon *d, int r, const struct plumb_err *e, int timed_out)
{
	if (d->probe == PROBE_OUT) {
		probe_done(d, r, e);
		return;
	}
	plumbd_judge_baseline(d, r, e, timed_out);
	plumbd_probe_start(d);
}

/* The fetch child wrote or closed its end: judge the tip once it is done. */
void plumbd_on_fetch(struct plumb_daemon *d)
{
	struct plumb_git_fetch *f;
	struct plumb_err e;
	int r;

	if (!plumb_git_fetch_pump(d->fetch))
		return;
	f = plumbd_fetch_detach(d);
	r = plumb_git_fetch_finish(f, &e);
	fetch_done(d, r, &e, 0);
}

/* source.timeout passed: the child is killed, the fetch is a refusal. */
void plumbd_on_fetch_timeout(struct plumb_daemon *d)
{
	struct plumb_err e;
	int r;

	if (d->fetch == NULL)
		return;
	r = plumb_git_fetch_abort(plumbd_fetch_detach(d), 1, &e);
	fetch_done(d, r, &e, 1);
}

/* Starts fetching the baseline, or re-reads the directory. Never waits on
 * the network: the fetch's end comes back to the loop (plumbd_on_fetch). */
void plumbd_refresh_baseline(struct plumb_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct plumb_git_opts go;
	struct plumb_err e;

	if (d->o->baseline_dir != NULL || d->cfg.source_url == NULL) {
		plumbd_judge_baseline(d, 0, NULL, 0);
		return;
	}
	if (d->fetch != NULL) {
		plumb_log(PLUMB_LOG_DEBUG, "a baseline fetch is still in flight");
		return;
	}
	if (d->probe == PROBE_DUE) {
		plumbd_probe_start(d);     /* the lock-out probe first: it decides what is enforced */
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
	plumbd_arm(d, T_FETCH, (double)d->cfg.source_timeout, 0);
}
