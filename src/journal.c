/* journal.c - JSON lines in state_dir/journal: a header per run, the events
 * a run is about to complete (fsynced as one batch before the first repair)
 * and each repair's outcome; read back into reports after a crash. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/fs.h"
#include "plumb/journal.h"
#include "plumb/state.h"
#include "plumb/util.h"
#include "banned.h"

struct plumb_journal {
	struct plumb_state *st;
	int fd;                       /* -1 until the first intent */
	json_t *header;               /* written before the first intent */
	char run[37];
};

int plumb_journal_open(struct plumb_journal **out, struct plumb_state *st, const struct plumb_report *rep,
		       struct plumb_err *err)
{
	struct plumb_journal *j;
	json_t *b;
	char t[21];

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	j->st = st;
	j->fd = -1;
	memcpy(j->run, rep->id, sizeof(j->run));
	plumb_time_format(t, rep->started_at);
	b = json_pack("{s:s?,s:s?,s:s?}", "commit", rep->commit, "signer", rep->signer, "fingerprint",
		      rep->fingerprint);
	if (b != NULL && rep->has_serial)
		json_object_set_new(b, "serial", json_integer((json_int_t)rep->serial));
	j->header = b ? json_pack("{s:s,s:s,s:s,s:o}", "run", j->run, "mode", rep->mode, "started_at", t,
				  "baseline", b) : NULL;
	if (j->header == NULL) {
		free(j);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	*out = j;
	return 0;
}

void plumb_journal_free(struct plumb_journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	json_decref(j->header);
	free(j);
}

/* Appends one line with one write(2) (O_APPEND): a crash tears at most
 * the last line, which recovery skips. */
static int append(struct plumb_journal *j, json_t *line, struct plumb_err *err)
{
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	size_t n;
	int r = 0;

	json_decref(line);
	if (text == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	n = strlen(text);
	text[n] = '\n';   /* json_dumps's NUL becomes the line's end */
	if (plumb_fs_write_all(j->fd, text, n + 1) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write the journal");
	free(text);
	return r;
}

static int ensure_open(struct plumb_journal *j, struct plumb_err *err)
{
	struct stat st;
	int fd;

	if (j->fd >= 0)
		return 0;
	fd = openat(j->st->dirfd, PLUMB_JOURNAL, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s/%s'", j->st->path, PLUMB_JOURNAL);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s/%s' is not a regular file", j->st->path, PLUMB_JOURNAL);
	}
	j->fd = fd;
	return append(j, json_incref(j->header), err);
}

int plumb_journal_intend(struct plumb_journal *j, const struct plumb_event *ev, struct plumb_err *err)
{
	int r;

	if ((r = ensure_open(j, err)) != 0)
		return r;
	return append(j, json_pack("{s:s,s:o}", "run", j->run, "intent", plumb_event_json(ev)), err);
}

int plumb_journal_sync(struct plumb_journal *j, struct plumb_err *err)
{
	if (j->fd >= 0 && fdatasync(j->fd) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fsync the journal");
	return 0;
}

int plumb_journal_done(struct plumb_journal *j, const struct plumb_event *ev, struct plumb_err *err)
{
	json_t *d;

	if (j->fd < 0)
		return 0;       /* nothing was announced */
	d = json_pack("{s:s,s:s}", "resource", ev->resource, "action", plumb_action_name(ev->action));
	if (d != NULL && ev->error)
		json_object_set_new(d, "error", json_string(ev->error));
	if (d != NULL && ev->quarantine)
		json_object_set_new(d, "quarantine", json_string(ev->quarantine));
	return append(j, d ? json_pack("{s:s,s:o}", "run", j->run, "done", d) : NULL, err);
}

int plumb_journal_clear(struct plumb_state *st, struct plumb_err *err)
{
	if (unlinkat(st->dirfd, PLUMB_JOURNAL, 0) != 0) {
		if (errno == ENOENT)
			return 0;
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot remove '%s/%s'", st->path, PLUMB_JOURNAL);
	}
	if (fsync(st->dirfd) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fsync '%s'", st->path);
	return 0;
}

static const char *mode_literal(const char *m)
{
	if (m != NULL && strcmp(m, "audit") == 0)
		return "audit";
	if (m != NULL && strcmp(m, "check") == 0)
		return "check";
	return "enforce";
}

static struct plumb_report *find_run(struct plumb_report *v, size_t n, const char *run)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, run) == 0)
			return &v[i];
	return NULL;
}

/* Applies an outcome to the last intent of its resource in rep. */
static void apply_done(struct plumb_report *rep, const json_t *d)
{
	const char *res = json_string_value(json_object_get(d, "resource"));
	const char *act = json_string_value(json_object_get(d, "action"));
	const char *s;

	for (size_t i = rep->nevents; res != NULL && act != NULL && i-- > 0;) {
		struct plumb_event *ev = &rep->events[i];

		if (strcmp(ev->resource, res) != 0)
			continue;
		ev->action = strcmp(act, "reverted") == 0 ? PLUMB_ACT_REVERTED : PLUMB_ACT_FAILED;
		free(ev->error);
		ev->error = (s = json_string_value(json_object_get(d, "error"))) ? strdup(s) : NULL;
		free(ev->quarantine);
		ev->quarantine = (s = json_string_value(json_object_get(d, "quarantine"))) ? strdup(s) : NULL;
		ev->count = 1;          /* marks "outcome known" until the summary below */
		return;
	}
}

static int add_run(struct plumb_report **v, size_t *n, const json_t *h)
{
	const char *run = json_string_value(json_object_get(h, "run"));
	const char *start = json_string_value(json_object_get(h, "started_at"));
	const json_t *b = json_object_get(h, "baseline");
	struct plumb_report *nv, *r;
	const char *s;

	if (run == NULL || strlen(run) != 36 || find_run(*v, *n, run) != NULL)
		return 0;
	if ((nv = reallocarray(*v, *n + 1, sizeof(*nv))) == NULL)
		return PLUMB_E_NOMEM;
	*v = nv;
	r = &nv[(*n)++];
	if (plumb_report_init(r, mode_literal(json_string_value(json_object_get(h, "mode"))), NULL) != 0)
		return PLUMB_E_IO;
	memcpy(r->id, run, 37);    /* the interrupted run's own id: a retry is idempotent */
	if (start != NULL)
		(void)plumb_time_parse(&r->started_at, start);
	r->commit = (s = json_string_value(json_object_get(b, "commit"))) ? strdup(s) : NULL;
	r->signer = (s = json_string_value(json_object_get(b, "signer"))) ? strdup(s) : NULL;
	r->fingerprint = (s = json_string_value(json_object_get(b, "fingerprint"))) ? strdup(s) : NULL;
	if (json_is_integer(json_object_get(b, "serial"))) {
		r->has_serial = 1;
		r->serial = (uint64_t)json_integer_value(json_object_get(b, "serial"));
	}
	return 0;
}

int plumb_journal_recover(struct plumb_state *st, struct plumb_report **out, size_t *n, struct plumb_err *err)
{
	struct plumb_report *v = NULL;
	struct plumb_buf b;
	struct stat sb;
	size_t cnt = 0;
	int fd, r = 0;

	*out = NULL;
	*n = 0;
	fd = openat(st->dirfd, PLUMB_JOURNAL, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s/%s'", st->path,
							   PLUMB_JOURNAL);
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s/%s' is not a regular file", st->path, PLUMB_JOURNAL);
	}
	plumb_buf_init(&b, PLUMB_JOURNAL_MAX);
	r = plumb_buf_read_fd(&b, fd);
	close(fd);
	if (r != 0) {
		plumb_buf_release(&b);
		return plumb_err_set(err, r, "cannot read '%s/%s': %s", st->path, PLUMB_JOURNAL, plumb_strerror(r));
	}
	for (char *line = b.data, *next; r == 0 && line != NULL && *line; line = next) {
		json_t *o, *x;
		struct plumb_report *rep;
		const char *run;

		if ((next = strchr(line, '\n')) == NULL)
			break;           /* torn: the crash came in the middle of this line */
		*next++ = '\0';
		if ((o = json_loads(line, 0, NULL)) == NULL)
			continue;
		run = json_string_value(json_object_get(o, "run"));
		if (json_object_get(o, "mode") != NULL) {
			r = add_run(&v, &cnt, o);
		} else if (run != NULL && (rep = find_run(v, cnt, run)) != NULL) {
			if ((x = json_object_get(o, "intent")) != NULL) {
				struct plumb_event ev;

				if (plumb_event_parse(&ev, x) == 0) {
					free(ev.error);
					ev.error = NULL;
					ev.count = 0;
					r = plumb_report_add(rep, &ev);
				}
			} else if ((x = json_object_get(o, "done")) != NULL) {
				apply_done(rep, x);
			}
		}
		json_decref(o);
	}
	plumb_buf_release(&b);
	/* Outcomes known or not: the summary, and what could not be known. */
	for (size_t k = 0; k < cnt; k++) {
		struct plumb_report *rep = &v[k];

		rep->finished_at = time(NULL);
		for (size_t i = 0; i < rep->nevents; i++) {
			struct plumb_event *ev = &rep->events[i];

			rep->resources++;
			rep->drifted++;
			if (ev->count == 0) {
				ev->action = PLUMB_ACT_FAILED;
				free(ev->error);
				ev->error = strdup("plumb was interrupted during this repair, before it could record the "
						   "outcome; the next run checks the resource again");
			}
			ev->count = 0;
			if (ev->action == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
		}
	}
	if (r != 0) {
		for (size_t k = 0; k < cnt; k++)
			plumb_report_release(&v[k]);
		free(v);
		return plumb_err_set(err, r, "cannot read '%s/%s': %s", st->path, PLUMB_JOURNAL, plumb_strerror(r));
	}
	*out = v;
	*n = cnt;
	return 0;
}
