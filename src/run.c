/* run.c - one check or apply run from config to persisted report.
 * Baseline problems become a `refused` event and exit 1: nothing applied. */
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/baseline.h"
#include "plumb/gitsrc.h"
#include "plumb/signers.h"
#include "plumb/trust.h"
#include "plumb/engine.h"
#include "plumb/log.h"
#include "plumb/quarantine.h"
#include "plumb/run.h"
#include "plumb/source.h"
#include "plumb/state.h"
#include "banned.h"

int plumb_run_exit_code(const struct plumb_report *r, int apply)
{
	size_t detected = 0;

	for (size_t i = 0; i < r->nevents; i++) {
		if (r->events[i].action == PLUMB_ACT_REFUSED)
			return PLUMB_EXIT_ERROR;
		if (r->events[i].action == PLUMB_ACT_DETECTED)
			detected++;
	}
	if (!apply)
		return (r->drifted || r->failed) ? PLUMB_EXIT_CHANGES : PLUMB_EXIT_OK;
	return ((r->reverted || detected) ? PLUMB_EXIT_CHANGES : 0) | (r->failed ? PLUMB_EXIT_FAILURES : 0);
}

/* Records a refused baseline in the report. */
static int refuse(struct plumb_report *rep, const char *why)
{
	struct plumb_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.resource = strdup("baseline");
	ev.error = strdup(why);
	ev.action = PLUMB_ACT_REFUSED;
	ev.at = time(NULL);
	if (ev.resource == NULL || ev.error == NULL) {
		free(ev.resource);
		free(ev.error);
		return PLUMB_E_NOMEM;
	}
	return plumb_report_add(rep, &ev);
}

/* A baseline ready to enforce, and where it came from. */
struct selection {
	struct plumb_source *src;
	struct plumb_baseline *b;
	int from_git;
	int is_new;                 /* a git tip other than the anchor */
	int stale;                  /* expires: has passed */
	struct plumb_git_tip tip;
};

static void selection_release(struct selection *sel)
{
	plumb_baseline_free(sel->b);
	plumb_source_free(sel->src);
	memset(sel, 0, sizeof(*sel));
}

static int load_baseline(struct plumb_baseline **out, struct plumb_source *src, struct plumb_err *err)
{
	struct plumb_buf text;
	int r;

	if ((r = plumb_source_load(src, &text, err)) != 0)
		return r;
	r = plumb_baseline_parse(out, src->name, text.data ? text.data : "", text.len, err);
	plumb_buf_release(&text);
	if (r != 0)
		return r;
	if ((r = plumb_baseline_check_sources(*out, src, err)) != 0) {
		plumb_baseline_free(*out);
		*out = NULL;
	}
	return r;
}

static int select_dir(struct selection *sel, const struct plumb_config *cfg, const char *dir, struct plumb_err *err)
{
	int r;

	if ((r = plumb_source_dir_open(&sel->src, dir, cfg->source_baseline, err)) != 0 ||
	    (r = load_baseline(&sel->b, sel->src, err)) != 0)
		return r;
	sel->stale = sel->b->has_expires && sel->b->expires <= time(NULL);
	return 0;
}

/* Opens tip's baseline from the cache. */
static int open_git_baseline(struct selection *sel, const struct plumb_config *cfg,
			     const struct plumb_git_tip *tip, struct plumb_err *err)
{
	int r;

	sel->from_git = 1;
	sel->tip = *tip;
	if ((r = plumb_source_git_open(&sel->src, cfg->state_dir, tip, cfg->source_baseline, err)) != 0 ||
	    (r = load_baseline(&sel->b, sel->src, err)) != 0)
		return r;
	if (!sel->b->has_serial)
		return plumb_err_set(err, PLUMB_E_INVALID, "%s: 'serial' is required for a signed baseline",
				     sel->src->name);
	sel->stale = sel->b->has_expires && sel->b->expires <= time(NULL);
	return 0;
}

/* Fetches and judges the tip: signed by an allowed signer, descending from
 * the anchor, with a greater serial and not expired. */
static int select_git_tip(struct selection *sel, const struct plumb_config *cfg, const struct plumb_trust *trust,
			  struct plumb_err *err)
{
	struct plumb_git_opts go = {cfg->source_url, cfg->source_ref, cfg->source_ca_file, cfg->source_ssh_key,
				    cfg->source_ssh_host_key, cfg->source_timeout, cfg->source_max_size};
	struct plumb_signers *signers = NULL;
	struct plumb_git_tip tip;
	struct plumb_err e;
	int r;

	memset(sel, 0, sizeof(*sel));
	if (cfg->source_allowed_signers == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "source.allowed_signers is required with source.url");
	if ((r = plumb_signers_load(&signers, cfg->source_allowed_signers, err)) != 0)
		return r;
	if ((r = plumb_git_fetch(&go, cfg->state_dir, err)) != 0)
		goto out;
	if ((r = plumb_git_verify_tip(&tip, cfg->state_dir, cfg->source_ref, signers, time(NULL), err)) != 0)
		goto out;
	sel->is_new = !trust->has || strcmp(tip.commit, trust->commit) != 0;
	if (trust->has && sel->is_new) {
		r = plumb_git_descends(cfg->state_dir, tip.commit, trust->commit, &e);
		if (r < 0) {
			*err = e;
			goto out;
		}
		if (r == 0) {
			r = plumb_err_set(err, PLUMB_E_INVALID,
					  "rollback: tip %.12s does not descend from the last applied commit %.12s",
					  tip.commit, trust->commit);
			goto out;
		}
	}
	if ((r = open_git_baseline(sel, cfg, &tip, err)) != 0)
		goto out;
	if (trust->has && sel->is_new && sel->b->serial <= trust->serial) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "serial %llu of tip %.12s is not greater than %llu, the last applied",
				  (unsigned long long)sel->b->serial, tip.commit, (unsigned long long)trust->serial);
		goto out;
	}
	if (sel->is_new && sel->stale) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "tip %.12s carries a baseline that has already expired", tip.commit);
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		selection_release(sel);
	plumb_signers_free(signers);
	return r;
}

static int plumb_run_select(struct selection *sel, const struct plumb_config *cfg, const char *baseline_dir,
			    struct plumb_state *st, struct plumb_trust *trust, char **refusal, struct plumb_err *err);

/* Picks what to enforce. A refused git tip sets *refusal and falls back to
 * the anchor (the last applied, already verified commit). Returns 0 with a
 * selection, or a negative code when there is nothing to enforce. */
static int plumb_run_select(struct selection *sel, const struct plumb_config *cfg, const char *baseline_dir,
			    struct plumb_state *st, struct plumb_trust *trust, char **refusal, struct plumb_err *err)
{
	struct plumb_err e;
	int r;

	memset(sel, 0, sizeof(*sel));
	*refusal = NULL;
	memset(trust, 0, sizeof(*trust));
	if (baseline_dir != NULL)
		return select_dir(sel, cfg, baseline_dir, err);
	if (cfg->source_url == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID,
				     "no baseline source: set source.url in the configuration or give --baseline-dir DIR");
	if ((r = plumb_trust_load(trust, st, err)) != 0)
		return r;
	if ((r = select_git_tip(sel, cfg, trust, &e)) == 0)
		return 0;
	if ((*refusal = strdup(e.msg)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if (!trust->has) {
		*err = e;
		return r;
	}
	{
		struct plumb_git_tip last;

		memset(&last, 0, sizeof(last));
		memcpy(last.commit, trust->commit, sizeof(last.commit));
		snprintf(last.signer, sizeof(last.signer), "%s", trust->signer);
		snprintf(last.fingerprint, sizeof(last.fingerprint), "%s", trust->fingerprint);
		plumb_log(PLUMB_LOG_WARN, "still enforcing the last applied commit %.12s (serial %llu)",
			  trust->commit, (unsigned long long)trust->serial);
		if ((r = open_git_baseline(sel, cfg, &last, err)) != 0) {
			selection_release(sel);
			return r;
		}
	}
	return 0;
}

int plumb_run(const struct plumb_config *cfg, const struct plumb_run_opts *o,
	      json_t **report_out, struct plumb_err *err)
{
	const char *mode = !o->apply ? "check" : cfg->mode == PLUMB_MODE_AUDIT ? "audit" : "enforce";
	struct plumb_engine_opts eo = {o->apply && cfg->mode == PLUMB_MODE_ENFORCE, o->threads};
	struct plumb_quarantine *q = NULL;
	struct plumb_state *st = NULL;
	struct plumb_trust trust;
	struct selection sel;
	struct plumb_report rep;
	struct plumb_err e;
	json_t *json = NULL;
	char *text = NULL, *refusal = NULL;
	int code = PLUMB_EXIT_ERROR, rootfd = -1, selected = 0;

	*report_out = NULL;
	memset(&rep, 0, sizeof(rep));
	memset(&sel, 0, sizeof(sel));
	if (plumb_state_open(&st, cfg->state_dir, 1, err) != 0 || plumb_state_lock(st, 60, err) != 0)
		goto out;
	if (plumb_report_init(&rep, mode, err) != 0)
		goto out;
	if ((rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		plumb_err_errno(err, PLUMB_E_NOTFOUND, errno, "cannot open root '%s'", cfg->root);
		goto out;
	}
	selected = plumb_run_select(&sel, cfg, o->baseline_dir, st, &trust, &refusal, &e) == 0;
	if (refusal != NULL || !selected) {
		/* Refused: reported; the last good baseline (if any) is still enforced. */
		*err = e;
		if (refuse(&rep, refusal ? refusal : e.msg) != 0) {
			plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		if (refusal != NULL)
			plumb_err_set(err, PLUMB_E_INVALID, "refused the new baseline: %s", refusal);
	}
	if (selected) {
		const struct plumb_source_info *info = &sel.src->info;

		rep.has_serial = sel.b->has_serial;
		rep.serial = sel.b->serial;
		rep.stale = sel.stale;
		if ((info->commit && (rep.commit = strdup(info->commit)) == NULL) ||
		    (info->signer && (rep.signer = strdup(info->signer)) == NULL) ||
		    (info->fingerprint && (rep.fingerprint = strdup(info->fingerprint)) == NULL)) {
			plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		if (sel.stale)
			plumb_log(PLUMB_LOG_WARN, "baseline '%s' expired; still enforcing it until a newer one arrives",
				  sel.src->name);
		if (sel.b->firewall != NULL)
			plumb_log(PLUMB_LOG_WARN, "firewall: not enforced by this build; only files are checked");
		if (eo.repair && plumb_quarantine_open(&q, st->dirfd, cfg->quarantine_max, &e) != 0) {
			plumb_log(PLUMB_LOG_WARN, "%s; drifted content will not be kept", e.msg);
			q = NULL;
		}
		if (plumb_engine_run(&rep, sel.b, sel.src, rootfd, q, &eo, err) != 0)
			goto out;
		if (eo.repair && sel.from_git && sel.is_new && refusal == NULL) {
			/* Applied: the anchor moves forward to this commit. */
			memset(&trust, 0, sizeof(trust));
			trust.has = 1;
			memcpy(trust.commit, sel.tip.commit, sizeof(trust.commit));
			trust.serial = sel.b->serial;
			snprintf(trust.signer, sizeof(trust.signer), "%s", sel.tip.signer);
			snprintf(trust.fingerprint, sizeof(trust.fingerprint), "%s", sel.tip.fingerprint);
			trust.accepted_at = time(NULL);
			if (plumb_trust_save(&trust, st, &e) != 0)
				plumb_log(PLUMB_LOG_ERROR, "cannot record the applied commit: %s", e.msg);
		}
	}
	rep.finished_at = time(NULL);
	if ((json = plumb_report_json(&rep)) == NULL ||
	    (text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	if (plumb_state_write(st, PLUMB_LAST_REPORT, text, strlen(text), &e) != 0)
		plumb_log(PLUMB_LOG_WARN, "cannot save the run's report: %s", e.msg);
	code = plumb_run_exit_code(&rep, o->apply);
	*report_out = json;
	json = NULL;
out:
	free(refusal);
	free(text);
	json_decref(json);
	plumb_report_release(&rep);
	plumb_quarantine_free(q);
	selection_release(&sel);
	if (rootfd >= 0)
		close(rootfd);
	plumb_state_free(st);
	return code;
}

int plumb_run_verify(const struct plumb_config *cfg, struct plumb_verify_result *out, struct plumb_err *err)
{
	struct plumb_state *st = NULL;
	struct plumb_trust trust;
	struct selection sel;
	char *refusal = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (cfg->source_url == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "verify needs a git source: set source.url");
	if ((r = plumb_state_open(&st, cfg->state_dir, 1, err)) != 0 || (r = plumb_state_lock(st, 60, err)) != 0)
		goto out;
	if ((r = plumb_trust_load(&trust, st, err)) != 0)
		goto out;
	if ((r = select_git_tip(&sel, cfg, &trust, err)) != 0)
		goto out;
	out->tip = sel.tip;
	out->serial = sel.b->serial;
	out->is_new = sel.is_new;
	out->stale = sel.stale;
	out->anchor = trust;
	selection_release(&sel);
out:
	free(refusal);
	plumb_state_free(st);
	return r;
}
