/* livejob.c - plumbd's live-state runs in a child of its own (livejob.h).
 * The child runs plumb_run_selected with a scope of live state alone and
 * answers with its report's JSON; the parent trusts it as its own (it is
 * plumbd, forked), but still bounds what it reads and checks its shape. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "plumb/buf.h"
#include "plumb/fs.h"
#include "plumb/helper.h"
#include "plumb/livejob.h"
#include "plumb/log.h"
#include "plumb/notify_run.h"
#include "plumb/run.h"
#include "plumb/select.h"
#include "banned.h"

struct plumb_livejob {
	pid_t pid;
	int fd;
	int packages;
	int done, toobig;
	struct plumb_buf out;
};

struct child_arg {
	const struct plumb_config *cfg;
	struct plumb_state *st;
	const struct plumb_selection *sel;
	int rootfd, repair, packages;
	const unsigned char *notify;
};

/* The notify: actions of the files marked in a->notify, into rep. */
static int run_notify(struct plumb_report *rep, const struct child_arg *a, struct plumb_err *err)
{
	const struct plumb_baseline *b = a->sel->b;
	const struct plumb_file_res **changed = calloc(b->nfiles ? b->nfiles : 1, sizeof(*changed));
	size_t n = 0;
	int r;

	if (changed == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	for (size_t i = 0; i < b->nfiles; i++)
		if (a->notify[i] && b->files[i].nnotify > 0)
			changed[n++] = &b->files[i];
	r = n > 0 ? plumb_notify_run(rep, changed, n, a->rootfd, err) : 0;
	free(changed);
	return r;
}

/* In the child, while a program runs: a pending SIGTERM (plumbd stops, or
 * a new baseline replaced this run's) ends the wait. */
static int child_waiting(void *arg)
{
	sigset_t pending;

	(void)arg;
	return sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

static void child_main(void *arg, int wfd)
{
	const struct child_arg *a = arg;
	size_t n = a->sel->b->nfiles;
	unsigned char *none = calloc(n ? n : 1, 1);    /* no file of the baseline */
	struct plumb_run_scope sc = {.repair = a->repair, .threads = 1, .only = none, .firewall = 0, .live = 1,
				     .packages = a->packages ? 1 : -1, .guard = PLUMB_GUARD_NONE};
	struct plumb_run_result res;
	struct plumb_report rep;
	struct plumb_err e;
	json_t *j = NULL;
	char *text = NULL;

	plumb_helper_set_waiting(child_waiting, NULL);
	if (none == NULL || plumb_report_init(&rep, a->repair ? "enforce" : "audit", &e) != 0)
		_exit(3);
	if ((a->notify != NULL ? run_notify(&rep, a, &e) :
	     plumb_run_selected(&rep, a->cfg, a->st, a->sel, a->rootfd, &sc, &res, &e)) != 0)
		j = json_pack("{s:s}", "error", e.msg);
	else
		j = plumb_report_json(&rep);
	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL)
		_exit(3);
	_exit(plumb_fs_write_all(wfd, text, strlen(text)) == 0 ? 0 : 3);
}

int plumb_livejob_start(struct plumb_livejob **out, const struct plumb_config *cfg, struct plumb_state *st,
			const struct plumb_selection *sel, int rootfd, int repair, int packages,
			const unsigned char *notify, const int *close_fds, size_t nclose, struct plumb_err *err)
{
	struct child_arg a = {cfg, st, sel, rootfd, repair, packages, notify};
	struct plumb_livejob *j;
	int pid;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	plumb_buf_init(&j->out, PLUMB_LIVEJOB_MAX);
	/* a is read by the forked copy of this stack frame only */
	if ((pid = plumb_helper_fork(child_main, &a, close_fds, nclose, &j->fd, err)) < 0) {
		free(j);
		return pid;
	}
	j->pid = pid;
	j->packages = packages;
	*out = j;
	return 0;
}

int plumb_livejob_fd(const struct plumb_livejob *j)
{
	return j->fd;
}

int plumb_livejob_packages(const struct plumb_livejob *j)
{
	return j->packages;
}

int plumb_livejob_pump(struct plumb_livejob *j)
{
	char chunk[65536];
	ssize_t n;

	if (j->done)
		return 1;
	/* one read per wakeup: the pipe is readable, so it does not block */
	n = read(j->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		j->done = 1;
		return 1;
	}
	if (plumb_buf_add(&j->out, chunk, (size_t)n) != 0) {
		j->toobig = 1;
		j->done = 1;
		return 1;
	}
	return 0;
}

/* Reaps the child (after SIGTERM to its group with term), killing it
 * past 2 s: its exit status, or -1 (killed, or it died of a signal). */
static int reap(struct plumb_livejob *j, int term)
{
	if (term)
		kill(-j->pid, SIGTERM);
	return plumb_helper_wait(j->pid, 2);
}

static void job_free(struct plumb_livejob *j)
{
	close(j->fd);
	plumb_buf_release(&j->out);
	free(j);
}

/* The child's report into rep: its events (each checked as the journal's
 * are) and its counts. */
static int take_report(struct plumb_report *rep, const json_t *doc, struct plumb_err *err)
{
	const json_t *evs = json_object_get(doc, "events"), *sum = json_object_get(doc, "summary");
	const char *why = json_string_value(json_object_get(doc, "error"));
	size_t i;
	json_t *o;

	if (why != NULL)
		return plumb_err_set(err, PLUMB_E_IO, "%s", why);
	if (!json_is_array(evs) || !json_is_object(sum))
		return plumb_err_set(err, PLUMB_E_INVALID, "its answer is not a report");
	json_array_foreach(evs, i, o) {
		struct plumb_event ev;
		int r;

		if ((r = plumb_event_parse(&ev, o)) != 0)
			return plumb_err_set(err, r, "event %zu of its answer is not an event", i);
		if ((r = plumb_report_add(rep, &ev)) != 0)
			return plumb_err_set(err, r, "out of memory");
	}
	rep->resources += (uint64_t)json_integer_value(json_object_get(sum, "resources"));
	rep->drifted += (uint64_t)json_integer_value(json_object_get(sum, "drifted"));
	rep->reverted += (uint64_t)json_integer_value(json_object_get(sum, "reverted"));
	rep->failed += (uint64_t)json_integer_value(json_object_get(sum, "failed"));
	return 0;
}

int plumb_livejob_finish(struct plumb_livejob *j, struct plumb_report *rep, struct plumb_err *err)
{
	json_error_t je;
	json_t *doc;
	int st, r;

	st = reap(j, j->toobig);
	if (j->toobig) {
		r = plumb_err_set(err, PLUMB_E_TOOBIG, "the live-state run answered more than %u bytes", PLUMB_LIVEJOB_MAX);
	} else if (st == -1 || (st != 0 && j->out.len == 0)) {
		r = plumb_err_set(err, PLUMB_E_IO, "the live-state run %s", st == -1 ? "died or was killed" :
				  "ended without an answer");
	} else if ((doc = json_loadb(j->out.data ? j->out.data : "", j->out.len, 0, &je)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "the live-state run's answer is not JSON: %s", je.text);
	} else {
		if ((r = take_report(rep, doc, err)) != 0) {
			struct plumb_err e = *err;

			plumb_err_set(err, r, "the live-state run failed: %s", e.msg);
		}
		json_decref(doc);
	}
	job_free(j);
	return r;
}

void plumb_livejob_abort(struct plumb_livejob *j)
{
	if (j == NULL)
		return;
	(void)reap(j, 1);
	job_free(j);
}
