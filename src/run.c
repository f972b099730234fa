/* run.c - one check or apply run from config to persisted report.
 * Baseline problems become a `refused` event and exit 1: nothing applied. */
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/baseline.h"
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

/* Opens the configured source. */
static int open_source(struct plumb_source **out, const struct plumb_config *cfg,
		       const struct plumb_run_opts *o, struct plumb_err *err)
{
	if (o->baseline_dir != NULL)
		return plumb_source_dir_open(out, o->baseline_dir, cfg->source_baseline, err);
	if (cfg->source_url == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID,
				     "no baseline source: set source.url in the configuration or give --baseline-dir DIR");
	return plumb_err_set(err, PLUMB_E_UNSUPPORTED,
			     "source.url '%s': signed git sources are not in this build yet; use --baseline-dir",
			     cfg->source_url);
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

int plumb_run(const struct plumb_config *cfg, const struct plumb_run_opts *o,
	      json_t **report_out, struct plumb_err *err)
{
	const char *mode = !o->apply ? "check" : cfg->mode == PLUMB_MODE_AUDIT ? "audit" : "enforce";
	struct plumb_engine_opts eo = {o->apply && cfg->mode == PLUMB_MODE_ENFORCE, o->threads};
	struct plumb_quarantine *q = NULL;
	struct plumb_baseline *b = NULL;
	struct plumb_source *src = NULL;
	struct plumb_state *st = NULL;
	struct plumb_report rep;
	struct plumb_err e;
	json_t *json = NULL;
	char *text = NULL;
	int code = PLUMB_EXIT_ERROR, rootfd = -1;

	*report_out = NULL;
	memset(&rep, 0, sizeof(rep));
	if (plumb_state_open(&st, cfg->state_dir, 1, err) != 0 || plumb_state_lock(st, 60, err) != 0)
		goto out;
	if (plumb_report_init(&rep, mode, err) != 0)
		goto out;
	if ((rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		plumb_err_errno(err, PLUMB_E_NOTFOUND, errno, "cannot open root '%s'", cfg->root);
		goto out;
	}
	if (open_source(&src, cfg, o, &e) != 0 || load_baseline(&b, src, &e) != 0) {
		/* Refused: report it, apply nothing. */
		*err = e;
		if (refuse(&rep, e.msg) != 0) {
			plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
	} else {
		rep.has_serial = b->has_serial;
		rep.serial = b->serial;
		if (b->has_expires && b->expires < time(NULL)) {
			rep.stale = 1;
			plumb_log(PLUMB_LOG_WARN, "baseline '%s' expired; still enforcing it until a newer one arrives",
				  src->name);
		}
		if (b->firewall != NULL)
			plumb_log(PLUMB_LOG_WARN, "firewall: not enforced by this build; only files are checked");
		if (eo.repair && plumb_quarantine_open(&q, st->dirfd, cfg->quarantine_max, &e) != 0) {
			plumb_log(PLUMB_LOG_WARN, "%s; drifted content will not be kept", e.msg);
			q = NULL;
		}
		if (plumb_engine_run(&rep, b, src, rootfd, q, &eo, err) != 0)
			goto out;
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
	free(text);
	json_decref(json);
	plumb_report_release(&rep);
	plumb_quarantine_free(q);
	plumb_baseline_free(b);
	plumb_source_free(src);
	if (rootfd >= 0)
		close(rootfd);
	plumb_state_free(st);
	return code;
}
