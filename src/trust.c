/* trust.c - persistence of the rollback anchor, in two copies.
 * The anchor only moves forward: callers decide, this file only stores. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <jansson.h>

#include "plumb/log.h"
#include "plumb/state.h"
#include "plumb/trust.h"
#include "plumb/util.h"
#include "banned.h"

static int save_copy(struct plumb_state *st, const char *name, json_t *j, struct plumb_err *err);

/* What one copy of the anchor holds. */
enum copy_kind { COPY_ABSENT, COPY_ANCHOR, COPY_RESET, COPY_LOST, COPY_DAMAGED };

static int is_hex40(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 40;
}

/* Parses one copy. Returns COPY_* and fills t for COPY_ANCHOR. */
static enum copy_kind parse_copy(struct plumb_trust *t, const char *text, size_t len)
{
	enum copy_kind k = COPY_DAMAGED;
	json_t *j, *v;
	const char *s;

	memset(t, 0, sizeof(*t));
	if ((j = json_loadb(text, len, 0, NULL)) == NULL)
		return COPY_DAMAGED;
	if (json_is_true(json_object_get(j, "reset"))) {
		k = COPY_RESET;
		goto out;
	}
	if (json_is_string(json_object_get(j, "lost"))) {
		/* A trace found once (below) and kept, so the refusal lasts. */
		snprintf(t->signer, sizeof(t->signer), "%s", json_string_value(json_object_get(j, "lost")));
		k = COPY_LOST;
		goto out;
	}
	if ((s = json_string_value(json_object_get(j, "commit"))) == NULL || !is_hex40(s))
		goto out;
	memcpy(t->commit, s, 41);
	if (!json_is_integer(v = json_object_get(j, "serial")) || json_integer_value(v) < 0)
		goto out;
	t->serial = (uint64_t)json_integer_value(v);
	if ((s = json_string_value(json_object_get(j, "signer"))) != NULL)
		snprintf(t->signer, sizeof(t->signer), "%s", s);
	if ((s = json_string_value(json_object_get(j, "fingerprint"))) != NULL)
		snprintf(t->fingerprint, sizeof(t->fingerprint), "%s", s);
	if ((s = json_string_value(json_object_get(j, "accepted_at"))) != NULL)
		(void)plumb_time_parse(&t->accepted_at, s);
	t->has = 1;
	k = COPY_ANCHOR;
out:
	json_decref(j);
	return k;
}

/* Reads one copy; a read error other than "absent" is returned (r < 0). */
static int read_copy(enum copy_kind *kind, struct plumb_trust *t, struct plumb_state *st, const char *name,
		     struct plumb_err *err)
{
	struct plumb_buf b;
	int r;

	*kind = COPY_ABSENT;
	memset(t, 0, sizeof(*t));
	plumb_buf_init(&b, PLUMB_TRUST_FILE_MAX);
	r = plumb_state_read(st, name, &b, err);
	if (r == 0)
		*kind = parse_copy(t, b.data, b.len);
	else if (r == PLUMB_E_NOTFOUND)
		r = 0;
	plumb_buf_release(&b);
	return r;
}

/* A trace that an anchor was recorded before: the last report is of an
 * enforce run of a signed commit that neither failed to record its anchor
 * nor was rolled back (since the anchor is written before the report,
 * such a report proves one was written). Fills what with a description. */
static int last_report_trace(struct plumb_state *st, char *what, size_t whatlen)
{
	struct plumb_buf b;
	const char *mode, *commit;
	json_t *j, *bl, *ev;
	size_t i;
	int trace = 0;

	plumb_buf_init(&b, PLUMB_STATE_FILE_MAX);
	if (plumb_state_read(st, PLUMB_LAST_REPORT, &b, NULL) != 0 || (j = json_loadb(b.data, b.len, 0, NULL)) == NULL) {
		plumb_buf_release(&b);
		return 0;
	}
	plumb_buf_release(&b);
	bl = json_object_get(j, "baseline");
	mode = json_string_value(json_object_get(j, "mode"));
	commit = json_string_value(json_object_get(bl, "commit"));
	if (mode != NULL && strcmp(mode, "enforce") == 0 && commit != NULL) {
		trace = 1;
		json_array_foreach(json_object_get(j, "events"), i, ev) {
			const char *res = json_string_value(json_object_get(ev, "resource"));
			const char *act = json_string_value(json_object_get(ev, "action"));

			if (act != NULL && (strcmp(act, "rolled-back") == 0 ||
					    (res != NULL && strcmp(res, "baseline") == 0 && strcmp(act, "failed") == 0)))
				trace = 0;
		}
		if (trace)
			snprintf(what, whatlen, "'%s' shows commit %.12s (serial %lld) enforced", PLUMB_LAST_REPORT, commit,
				 (long long)json_integer_value(json_object_get(bl, "serial")));
	}
	json_decref(j);
	return trace;
}

int plumb_trust_load(struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err)
{
	struct plumb_trust copy;
	enum copy_kind pk, bk;
	struct plumb_err e;
	char what[256];
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = read_copy(&pk, t, st, PLUMB_TRUST_FILE, err)) != 0)
		return r;
	if (pk == COPY_DAMAGED || pk == COPY_RESET) {
		memset(t, 0, sizeof(*t));
		return plumb_err_set(err, PLUMB_E_PARSE, "'%s/%s' is damaged; refusing to guess the rollback anchor "
				     "(plumb trust reset re-anchors deliberately)", st->path, PLUMB_TRUST_FILE);
	}
	if (read_copy(&bk, &copy, st, PLUMB_TRUST_BACKUP, &e) != 0) {
		if (pk == COPY_ANCHOR) {
			plumb_log(PLUMB_LOG_WARN, "%s; using '%s' alone", e.msg, PLUMB_TRUST_FILE);
			return 0;
		}
		/* An unreadable copy is still a trace. */
		return plumb_err_set(err, PLUMB_E_INVALID, "'%s/%s' is missing and its copy cannot be read (%s); "
				     "refusing to run without the rollback anchor (plumb trust reset re-anchors "
				     "deliberately)", st->path, PLUMB_TRUST_FILE, e.msg);
	}
	if (pk == COPY_ANCHOR) {
		/* The copy is written first: ahead of trust.json only when writing
		 * trust.json failed. The further anchor wins (it only moves forward). */
		if (bk == COPY_ANCHOR && copy.serial > t->serial) {
			plumb_log(PLUMB_LOG_WARN, "'%s' (serial %llu) is behind its copy '%s' (serial %llu): a write failed; "
				  "using the copy", PLUMB_TRUST_FILE, (unsigned long long)t->serial, PLUMB_TRUST_BACKUP,
				  (unsigned long long)copy.serial);
			*t = copy;
			/* Retry the write that failed (callers hold the state lock). */
			if (plumb_trust_save(t, st, &e) != 0)
				plumb_log(PLUMB_LOG_ERROR, "%s; the copy still holds the anchor", e.msg);
		}
		return 0;
	}
	/* No trust.json. A first run only when nothing says an anchor existed. */
	switch (bk) {
	case COPY_RESET:
		return 0;           /* the operator re-anchored deliberately */
	case COPY_ANCHOR:
		snprintf(what, sizeof(what), "its copy '%s' holds commit %.12s (serial %llu)", PLUMB_TRUST_BACKUP,
			 copy.commit, (unsigned long long)copy.serial);
		break;
	case COPY_LOST:
		snprintf(what, sizeof(what), "%s", copy.signer);
		break;
	case COPY_DAMAGED:
		snprintf(what, sizeof(what), "its copy '%s' exists (damaged)", PLUMB_TRUST_BACKUP);
		break;
	case COPY_ABSENT:
	default:
		if (!last_report_trace(st, what, sizeof(what)))
			return 0;   /* truly a first run */
		{
			/* This run's own report will not show it: keep the trace. */
			json_t *j = json_pack("{s:s}", "lost", what);

			if (j == NULL || save_copy(st, PLUMB_TRUST_BACKUP, j, &e) != 0)
				plumb_log(PLUMB_LOG_ERROR, "cannot keep the trace of the lost anchor in '%s'", PLUMB_TRUST_BACKUP);
			json_decref(j);
		}
		break;
	}
	return plumb_err_set(err, PLUMB_E_INVALID, "the rollback anchor '%s/%s' is missing but %s; refusing to "
			     "accept any tip without it (plumb trust reset re-anchors deliberately)",
			     st->path, PLUMB_TRUST_FILE, what);
}

static int save_copy(struct plumb_state *st, const char *name, json_t *j, struct plumb_err *err)
{
	char *text;
	int r;

	if ((text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	r = plumb_state_write(st, name, text, strlen(text), err);
	free(text);
	return r;
}

int plumb_trust_save(const struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err)
{
	struct plumb_err e;
	char when[21];
	json_t *j;
	int r;

	plumb_time_format(when, t->accepted_at);
	j = json_pack("{s:s, s:I, s:s, s:s, s:s}", "commit", t->commit, "serial", (json_int_t)t->serial,
		      "signer", t->signer, "fingerprint", t->fingerprint, "accepted_at", when);
	if (j == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	/* The copy first: if trust.json then cannot be written, the copy
	 * still holds the new anchor, and a rollback to a commit between the
	 * two stays refused. */
	if (save_copy(st, PLUMB_TRUST_BACKUP, j, &e) != 0)
		plumb_log(PLUMB_LOG_WARN, "cannot write the anchor's copy: %s", e.msg);
	r = save_copy(st, PLUMB_TRUST_FILE, j, err);
	json_decref(j);
	return r;
}

int plumb_trust_reset(struct plumb_state *st, struct plumb_err *err)
{
	char when[21];
	json_t *j;
	int r;

	/* The copy says "reset" so the missing trust.json is no longer a trace. */
	plumb_time_format(when, time(NULL));
	if ((j = json_pack("{s:b, s:s}", "reset", 1, "at", when)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	r = save_copy(st, PLUMB_TRUST_BACKUP, j, err);
	json_decref(j);
	if (r != 0)
		return r;
	if (unlinkat(st->dirfd, PLUMB_TRUST_FILE, 0) != 0 && errno != ENOENT)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot remove '%s/%s'", st->path, PLUMB_TRUST_FILE);
	if (fsync(st->dirfd) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fsync '%s'", st->path);
	return 0;
}
