/* run.c - one check or apply run from config to persisted report.
 * Baseline problems become a `refused` event and exit 1: nothing applied. */
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/baseline.h"
#include "plumb/select.h"
#include "plumb/helper.h"
#include "plumb/spool.h"
#include "plumb/trust.h"
#include "plumb/engine.h"
#include "plumb/log.h"
#include "plumb/journal.h"
#include "plumb/quarantine.h"
#include "plumb/run.h"
#include "plumb/source.h"
#include "plumb/state.h"
#include "banned.h"

int plumb_run_exit_code(const struct plumb_report *r, int apply)
{
	size_t detected = 0;

	for (size_t i = 0; i < r->nevents; i++) {
		if (r->events[i].action == PLUMB_ACT_REFUSED || r->events[i].action == PLUMB_ACT_ROLLED_BACK)
			return PLUMB_EXIT_ERROR;
		if (r->events[i].action == PLUMB_ACT_DETECTED)
			detected++;
	}
	if (!apply)
		return (r->drifted || r->failed) ? PLUMB_EXIT_CHANGES : PLUMB_EXIT_OK;
	return ((r->reverted || detected) ? PLUMB_EXIT_CHANGES : 0) | (r->failed ? PLUMB_EXIT_FAILURES : 0);
}

/* A report over report.max_bytes goes out as several (plumb_report_split),
 * each spooled on its own; 0 only when every part is in the spool. */
static int spool_split(struct plumb_state *st, const json_t *j, const char *id, size_t len, uint64_t max_bytes)
{
	struct plumb_err e;
	json_t **parts = NULL;
	size_t n = 0, i;
	int r;

	if ((r = plumb_report_split(&parts, &n, j, (size_t)max_bytes, &e)) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "cannot split report %s: %s (enforcement goes on)", id, e.msg);
		return r;
	}
	for (i = 0; i < n && r == 0; i++) {
		const char *pid = json_string_value(json_object_get(parts[i], "id"));
		char *text = json_dumps(parts[i], JSON_COMPACT | JSON_SORT_KEYS);

		if (text == NULL)
			r = PLUMB_E_NOMEM;
		else if ((r = plumb_spool_put(st, pid, 0, text, strlen(text), &e)) != 0)
			plumb_log(PLUMB_LOG_ERROR, "cannot spool part %zu of %zu of report %s: %s (enforcement goes on)",
				  i + 1, n, id, e.msg);
		free(text);
	}
	if (r == 0 && n > 1)
		plumb_log(PLUMB_LOG_INFO, "report %s (%zu bytes) spooled as %zu reports of at most %llu bytes", id, len,
			  n, (unsigned long long)max_bytes);
	plumb_report_parts_free(parts, n);
	return r;
}

int plumb_run_report(struct plumb_state *st, const struct plumb_config *cfg, struct plumb_report *rep,
		     double send_budget_s, json_t **json_out)
{
	int r = 0, saved;
	struct plumb_spool_stats s;
	struct plumb_err e;
	json_t *j;
	char *text = NULL;
	int heartbeat = rep->nevents == 0;

	if (json_out != NULL)
		*json_out = NULL;
	if (cfg->report_url != NULL) {
		(void)plumb_spool_stats_load(st, &s, NULL);   /* damaged stats: set aside and logged there */
		rep->spool_dropped = s.dropped_heartbeats;
		rep->spool_write_errors = s.write_errors;
		rep->spool_rejected = s.rejected;
		rep->spool_set_aside = s.set_aside;
	}
	plumb_confine_assess(&rep->confinement, cfg);
	if ((j = plumb_report_json(rep)) == NULL || (text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		json_decref(j);
		plumb_log(PLUMB_LOG_ERROR, "out of memory: report %s neither saved nor spooled", rep->id);
		return PLUMB_E_NOMEM;
	}
	saved = plumb_state_write(st, PLUMB_LAST_REPORT, text, strlen(text), &e) == 0;
	if (!saved)
		plumb_log(PLUMB_LOG_WARN, "cannot save the run's report: %s", e.msg);
	if (cfg->report_url != NULL && (!heartbeat || plumb_spool_heartbeat_due(&s, time(NULL), cfg->report_heartbeat))) {
		if (strlen(text) > cfg->report_max_bytes)
			r = spool_split(st, j, rep->id, strlen(text), cfg->report_max_bytes);
		else if ((r = plumb_spool_put(st, rep->id, heartbeat, text, strlen(text), &e)) != 0)
			plumb_log(PLUMB_LOG_ERROR, "cannot spool report %s: %s (enforcement goes on)", rep->id, e.msg);
	}
	free(text);
	if (json_out != NULL)
		*json_out = j;
	else
		json_decref(j);
	if (r == 0 && !saved)
		r = PLUMB_E_IO;
	if (cfg->report_url == NULL)
		return r;
	if (send_budget_s <= 0)
		return r;
	/* Delivery runs in plumb-send (the only program linking libcurl),
	 * bounded by the budget: a dead control plane delays reports only. */
	{
		int pid = plumb_helper_send(cfg->path, cfg->state_dir, (unsigned)send_budget_s, 0, NULL, &e);

		if (pid < 0)
			plumb_log(PLUMB_LOG_WARN, "reports not delivered: %s", e.msg);
		else
			(void)plumb_helper_wait(pid, (unsigned)send_budget_s + 2);
	}
	return r;
}

void plumb_run_recover(struct plumb_state *st, struct plumb_report *rep)
{
	struct plumb_report *v = NULL;
	struct plumb_err e;
	size_t n = 0, moved = 0;

	if (plumb_journal_recover(st, &v, &n, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s; the journal is kept for the next run", e.msg);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < v[k].nevents; i++) {
			struct plumb_event *ev = &v[k].events[i];
			char *msg = NULL;
			size_t len = 96 + (ev->error ? strlen(ev->error) : 0);

			/* Say where the event comes from: a run that never reported. */
			if ((msg = malloc(len)) != NULL)
				snprintf(msg, len, "from run %s, interrupted before it reported%s%s", v[k].id,
					 ev->error ? ": " : "", ev->error ? ev->error : "");
			free(ev->error);
			ev->error = msg;
			rep->drifted++;
			if (ev->action == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
			if (plumb_report_add(rep, ev) == 0)
				moved++;
		}
		plumb_report_release(&v[k]);
	}
	free(v);
	if (moved > 0)
		plumb_log(PLUMB_LOG_WARN, "%zu event%s of %zu interrupted run%s recovered from the journal", moved,
			  moved > 1 ? "s" : "", n, n > 1 ? "s" : "");
}

void plumb_run_settle(struct plumb_state *st, int reported)
{
	struct plumb_err e;

	/* The journal goes only once what it recorded is in a durable report;
	 * else the next run reports it again (twice rather than never). */
	if (reported && plumb_journal_clear(st, &e) != 0)
		plumb_log(PLUMB_LOG_WARN, "%s", e.msg);
}

int plumb_run_quarantine_open(struct plumb_quarantine **out, struct plumb_state *st,
			      const struct plumb_config *cfg, struct plumb_err *err)
{
	struct plumb_spool_entry *v = NULL;
	size_t n = 0;
	int r;

	if ((r = plumb_quarantine_open(out, st->dirfd, cfg->quarantine_max, err)) != 0)
		return r;
	/* Evidence kept since the oldest report still waiting in the spool
	 * may be what that report names: spare it as long as possible. */
	if (plumb_spool_list(st, &v, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (!v[i].heartbeat) {
				plumb_quarantine_protect_since(*out, v[i].queued_at);
				break;
			}
		}
		free(v);
	}
	return 0;
}

int plumb_run_header(struct plumb_report *rep, const struct plumb_selection *sel)
{
	const struct plumb_source_info *info = &sel->src->info;

	rep->has_serial = sel->b->has_serial;
	rep->serial = sel->b->serial;
	rep->stale = sel->stale;
	if ((info->commit && (rep->commit = strdup(info->commit)) == NULL) ||
	    (info->signer && (rep->signer = strdup(info->signer)) == NULL) ||
	    (info->fingerprint && (rep->fingerprint = strdup(info->fingerprint)) == NULL))
		return PLUMB_E_NOMEM;
	return 0;
}

static int scope_has_files(const struct plumb_run_scope *sc, const struct plumb_selection *sel)
{
	if (sc->only == NULL)
		return sel->b->nfiles > 0;
	for (size_t i = 0; i < sel->b->nfiles; i++)
		if (sc->only[i])
			return 1;
	return 0;
}

int plumb_run_selected(struct plumb_report *rep, const struct plumb_config *cfg, struct plumb_state *st,
		       const struct plumb_selection *sel, int rootfd, const struct plumb_run_scope *sc,
		       struct plumb_run_result *res, struct plumb_err *err)
{
	struct plumb_fw_undo undo = {NULL};
	struct plumb_engine_opts eo = {sc->repair, sc->threads, sc->only, sc->firewall, sc->guard ? &undo : NULL,
				       NULL, sc->live, sc->packages};
	struct plumb_quarantine *q = NULL;
	struct plumb_journal *journal = NULL;
	struct plumb_err e;
	int r;

	memset(res, 0, sizeof(*res));
	/* The quarantine and the journal are for file repairs: a run over no
	 * file (plumbd's live-state child, which writes nothing in state_dir)
	 * opens neither. */
	if (sc->repair && scope_has_files(sc, sel) && plumb_run_quarantine_open(&q, st, cfg, &e) != 0) {
		plumb_log(PLUMB_LOG_WARN, "%s; drifted content will not be kept", e.msg);
		q = NULL;
	}
	if (sc->repair && scope_has_files(sc, sel) && plumb_journal_open(&journal, st, rep, &e) != 0)
		plumb_log(PLUMB_LOG_WARN, "%s; reverts are not journaled", e.msg);
	eo.journal = journal;
	if ((r = plumb_engine_run(rep, sel->b, sel->src, rootfd, q, &eo, err)) == 0) {
		if (sc->after_engine != NULL)
			sc->after_engine(sc->ctx, rep);
		if (sc->guard == PLUMB_GUARD_DEFER && sc->repair && plumb_select_lockout_needed(sel, cfg, &undo)) {
			res->probe = 1;
			res->undo = undo;           /* the caller's now */
			undo.batch = NULL;
		} else if (sc->guard == PLUMB_GUARD_IN_PLACE && sc->repair) {
			res->rolled_back = plumb_select_lockout_guard(sel, cfg, st, &undo, rep);
		}
		/* Applied: the anchor moves forward to this commit, durably before
		 * the run reports; a failure is a failed event (retried next run). */
		if (sc->anchor && sc->repair && !res->rolled_back && !res->probe)
			res->anchored = plumb_select_commit_anchor(sel, st, rep) == 0;
	}
	plumb_journal_free(journal);
	plumb_quarantine_free(q);
	plumb_fw_undo_release(&undo);
	return r;
}

int plumb_run(const struct plumb_config *cfg, const struct plumb_run_opts *o,
	      json_t **report_out, struct plumb_err *err)
{
	const char *mode = !o->apply ? "check" : cfg->mode == PLUMB_MODE_AUDIT ? "audit" : "enforce";
	struct plumb_state *st = NULL;
	struct plumb_trust trust;
	struct plumb_selection sel;
	struct plumb_report rep, rec;
	struct plumb_err e;
	json_t *json = NULL;
	char *refusal = NULL;
	int code = PLUMB_EXIT_ERROR, rootfd = -1, selected = 0, have_rec = 0, own;

	*report_out = NULL;
	memset(&rep, 0, sizeof(rep));
	memset(&sel, 0, sizeof(sel));
	if (plumb_state_open(&st, cfg->state_dir, 1, err) != 0 || plumb_state_lock(st, 60, err) != 0)
		goto out;
	if (plumb_report_init(&rep, mode, err) != 0)
		goto out;
	if (cfg->report_url != NULL)
		plumb_spool_sweep(st);     /* temps a killed run left in spool/ */
	if (o->apply)
		/* Reverts a killed run made and never reported: read before this
		 * run journals its own, they ride in its report but do not decide
		 * its exit code. */
		if (plumb_report_init(&rec, mode, NULL) == 0) {
			plumb_run_recover(st, &rec);
			have_rec = 1;
		}
	if ((rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		plumb_err_errno(err, PLUMB_E_NOTFOUND, errno, "cannot open root '%s'", cfg->root);
		goto out;
	}
	selected = plumb_select(&sel, cfg, o->baseline_dir, st, &trust, &refusal, &e) == 0;
	if (refusal != NULL || !selected) {
		/* Refused: reported; the last good baseline (if any) is still enforced. */
		*err = e;
		if (plumb_report_baseline_event(&rep, PLUMB_ACT_REFUSED, refusal ? refusal : e.msg) != 0) {
			plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		if (refusal != NULL)
			plumb_err_set(err, PLUMB_E_INVALID, "refused the new baseline: %s", refusal);
	}
	if (selected) {
		struct plumb_run_scope sc = {.repair = o->apply && cfg->mode == PLUMB_MODE_ENFORCE, .threads = o->threads,
					     .firewall = -1, .guard = sel.from_git && sel.is_new && refusal == NULL ?
						      PLUMB_GUARD_IN_PLACE : PLUMB_GUARD_NONE,
					     .anchor = sel.from_git && sel.is_new && refusal == NULL};
		struct plumb_run_result res;

		if (plumb_run_header(&rep, &sel) != 0) {
			plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		if (sel.reanchored[0] != '\0') {
			plumb_log(PLUMB_LOG_WARN, "%s", sel.reanchored);
			if (plumb_report_baseline_event(&rep, PLUMB_ACT_DETECTED, sel.reanchored) != 0) {
				plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				goto out;
			}
		}
		if (sel.stale)
			plumb_log(PLUMB_LOG_WARN, "baseline '%s' expired; still enforcing it until a newer one arrives",
				  sel.src->name);
		if (plumb_run_selected(&rep, cfg, st, &sel, rootfd, &sc, &res, err) != 0)
			goto out;
	}
	own = plumb_run_exit_code(&rep, o->apply);
	if (have_rec)
		plumb_report_merge(&rep, &rec);
	rep.finished_at = time(NULL);
	if (plumb_run_report(st, cfg, &rep, 5.0, &json) == 0 && o->apply)
		plumb_run_settle(st, 1);
	if (json == NULL) {
		plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	code = own;
	*report_out = json;
	json = NULL;
out:
	free(refusal);
	json_decref(json);
	plumb_report_release(&rep);
	if (have_rec)
		plumb_report_release(&rec);
	plumb_selection_release(&sel);
	if (rootfd >= 0)
		close(rootfd);
	plumb_state_free(st);
	return code;
}

int plumb_run_verify(const struct plumb_config *cfg, struct plumb_verify_result *out, struct plumb_err *err)
{
	struct plumb_state *st = NULL;
	struct plumb_trust trust;
	struct plumb_selection sel;
	char *refusal = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (cfg->source_url == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "verify needs a git source: set source.url");
	if ((r = plumb_state_open(&st, cfg->state_dir, 1, err)) != 0 || (r = plumb_state_lock(st, 60, err)) != 0)
		goto out;
	if ((r = plumb_trust_load(&trust, st, err)) != 0)
		goto out;
	if ((r = plumb_select_git_tip(&sel, cfg, &trust, err)) != 0)
		goto out;
	out->tip = sel.tip;
	out->serial = sel.b->serial;
	out->is_new = sel.is_new;
	out->stale = sel.stale;
	out->anchor = trust;
	snprintf(out->reanchored, sizeof(out->reanchored), "%s", sel.reanchored);
	plumb_selection_release(&sel);
out:
	free(refusal);
	plumb_state_free(st);
	return r;
}
