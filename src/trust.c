/* trust.c - persistence of the rollback anchor.
 * The anchor only moves forward: callers decide, this file only stores. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <jansson.h>

#include "plumb/state.h"
#include "plumb/trust.h"
#include "plumb/util.h"
#include "banned.h"

static int is_hex40(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 40;
}

int plumb_trust_load(struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err)
{
	struct plumb_buf b;
	json_error_t jerr;
	json_t *j = NULL, *v;
	const char *s;
	int r;

	memset(t, 0, sizeof(*t));
	plumb_buf_init(&b, 1 << 16);
	r = plumb_state_read(st, PLUMB_TRUST_FILE, &b, err);
	if (r == PLUMB_E_NOTFOUND) {
		plumb_buf_release(&b);
		plumb_err_clear(err);
		return 0;
	}
	if (r != 0)
		goto out;
	r = plumb_err_set(err, PLUMB_E_PARSE, "'%s/%s' is damaged; refusing to guess the rollback anchor "
			  "(plumb trust reset re-anchors deliberately)", st->path, PLUMB_TRUST_FILE);
	if ((j = json_loadb(b.data ? b.data : "", b.len, 0, &jerr)) == NULL)
		goto out;
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
	plumb_err_clear(err);
	r = 0;
out:
	json_decref(j);
	plumb_buf_release(&b);
	return r;
}

int plumb_trust_save(const struct plumb_trust *t, struct plumb_state *st, struct plumb_err *err)
{
	char when[21], *text;
	json_t *j;
	int r;

	plumb_time_format(when, t->accepted_at);
	j = json_pack("{s:s, s:I, s:s, s:s, s:s}", "commit", t->commit, "serial", (json_int_t)t->serial,
		      "signer", t->signer, "fingerprint", t->fingerprint, "accepted_at", when);
	if (j == NULL || (text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		json_decref(j);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	r = plumb_state_write(st, PLUMB_TRUST_FILE, text, strlen(text), err);
	free(text);
	json_decref(j);
	return r;
}

int plumb_trust_reset(struct plumb_state *st, struct plumb_err *err)
{
	if (unlinkat(st->dirfd, PLUMB_TRUST_FILE, 0) != 0 && errno != ENOENT)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot remove '%s/%s'", st->path, PLUMB_TRUST_FILE);
	if (fsync(st->dirfd) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fsync '%s'", st->path);
	return 0;
}
