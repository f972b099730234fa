/* baseline.c - baseline document parser and validator.
 * Recursive descent over strict YAML events straight into structs: no
 * generic tree, so 20,000 entries cost what the entries themselves cost. */
#include <stdlib.h>
#include <string.h>

#include "plumb/baseline.h"
#include "plumb/path.h"
#include "plumb/source.h"
#include "plumb/util.h"
#include "plumb/yread.h"
#include "banned.h"

/* Tracks which keys of one mapping were seen, to refuse duplicates. */
static int seen_key(struct plumb_yread *y, const struct plumb_yev *key, unsigned *seen,
		    unsigned bit, struct plumb_err *err)
{
	if (*seen & bit)
		return plumb_yread_fail(y, key, PLUMB_E_INVALID, err, "duplicate key '%s'", key->value);
	*seen |= bit;
	return 0;
}

/* Gives back what a doubling array grew past its n elements (of size bytes
 * each): a parsed baseline lives as long as it is enforced, and the daemon
 * holds two while it judges a tip. Shrinking never fails the parse: on a
 * failed realloc the larger block stays. */
static void shrink_to_fit(void **v, size_t n, size_t size)
{
	void *nv;

	if (*v == NULL || n == 0)
		return;
	if ((nv = reallocarray(*v, n, size)) != NULL)
		*v = nv;
}

/* The files' path and source strings, packed into blocks (doubling up to
 * 64 KiB) that the baseline frees at once: 20,000 strings of 20 bytes at
 * 10,000 files, each a 32-byte malloc chunk otherwise. */
struct plumb_strblock {
	struct plumb_strblock *next;
	size_t used, cap;
	char data[];
};

#define STRBLOCK_MIN 1024
#define STRBLOCK_MAX (64u << 10)

static char *str_keep(struct plumb_strblock **head, const char *s, size_t n)
{
	struct plumb_strblock *b = *head;
	char *p;

	if (b == NULL || b->cap - b->used < n + 1) {
		size_t cap = b == NULL ? STRBLOCK_MIN : b->cap * 2 > STRBLOCK_MAX ? STRBLOCK_MAX : b->cap * 2;

		if (cap < n + 1)
			cap = n + 1;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->cap = cap;
		*head = b;
	}
	p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

static void notify_release(struct plumb_notify_res *n)
{
	free(n->unit);
	for (size_t i = 0; n->argv != NULL && i < n->argc; i++)
		free(n->argv[i]);
	free(n->argv);
}

static void file_release(struct plumb_file_res *f)
{
	for (size_t i = 0; i < f->nnotify; i++)
		notify_release(&f->notify[i]);
	free(f->notify);
	free(f->content);
	free(f->target);
	free(f->owner);
	free(f->group);
}

static int check_name(struct plumb_yread *y, const struct plumb_yev *at, const char *key,
		      const char *s, struct plumb_err *err)
{
	/* Owner/group: a number or a name of the usual shape. */
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err, "%s: '%s' is not a user or group name", key, s);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || (c == '$' && i == n - 1)))
			return plumb_yread_fail(y, at, PLUMB_E_INVALID, err,
						"%s: '%s' is not a user or group name", key, s);
	}
	if (s[0] == '-')
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err, "%s: '%s' is not a user or group name", key, s);
	return 0;
}

enum {
	K_PATH = 1 << 0, K_CONTENT = 1 << 1, K_SOURCE = 1 << 2, K_MODE = 1 << 3,
	K_OWNER = 1 << 4, K_GROUP = 1 << 5, K_SENSITIVE = 1 << 6, K_ENFORCE = 1 << 7,
	K_STATE = 1 << 8, K_TYPE = 1 << 9, K_TARGET = 1 << 10, K_PURGE = 1 << 11, K_NOTIFY = 1 << 12,
};

/* Reads one scalar event (for keys whose value we check ourselves). */
static int read_scalar(struct plumb_yread *y, struct plumb_yev *ev, const char *key,
		       struct plumb_err *err)
{
	return plumb_yread_expect(y, ev, PLUMB_Y_SCALAR, key, err);
}

/* A systemd unit name: letters, digits and ":-_.\\@", a suffix after a dot,
 * no leading '-' (it would read as an option of systemctl). */
static int check_unit(struct plumb_yread *y, const struct plumb_yev *at, const char *key, const char *s,
		      size_t len, struct plumb_err *err)
{
	const char *dot = strrchr(s, '.');

	if (len == 0 || len > PLUMB_UNIT_MAX || strlen(s) != len || s[0] == '-' || s[0] == '.' || dot == NULL ||
	    dot[1] == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@") != len)
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err,
					"%s: '%s' is not a systemd unit name such as ssh.service", key, s);
	return 0;
}

static int parse_notify_one(struct plumb_yread *y, struct plumb_notify_res *n, const struct plumb_yev *start,
			    struct plumb_err *err)
{
	struct plumb_yev key, ev;
	unsigned seen = 0;
	const char *why;
	int r, has_action = 0;

	n->line = start->line;
	n->col = start->col;
	n->timeout_s = PLUMB_NOTIFY_TIMEOUT;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;

		if (strcmp(key.value, "service") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 ||
			    (r = read_scalar(y, &ev, "service", err)) != 0 ||
			    (r = check_unit(y, &ev, "service", ev.value, ev.len, err)) != 0)
				return r;
			if ((n->unit = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcmp(key.value, "action") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 || (r = read_scalar(y, &ev, "action", err)) != 0)
				return r;
			if (strcmp(ev.value, "reload") == 0)
				n->kind = PLUMB_NOTIFY_RELOAD;
			else if (strcmp(ev.value, "restart") == 0)
				n->kind = PLUMB_NOTIFY_RESTART;
			else if (strcmp(ev.value, "try-restart") == 0)
				n->kind = PLUMB_NOTIFY_TRY_RESTART;
			else
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"action: expected reload, restart or try-restart, found '%s'", ev.value);
			has_action = 1;
		} else if (strcmp(key.value, "exec") == 0) {
			if ((r = seen_key(y, &at, &seen, 4, err)) != 0 ||
			    (r = plumb_yread_expect(y, &ev, PLUMB_Y_SEQ, "exec", err)) != 0)
				return r;
			if ((n->argv = calloc(PLUMB_NOTIFY_ARGV_MAX + 1, sizeof(*n->argv))) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			for (;;) {
				if ((r = plumb_yread_next(y, &ev, err)) != 0)
					return r;
				if (ev.kind == PLUMB_Y_SEQ_END)
					break;
				if (ev.kind != PLUMB_Y_SCALAR || strlen(ev.value) != ev.len || ev.len > 4096)
					return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
								"exec: each word must be a string without NUL bytes");
				if (n->argc == PLUMB_NOTIFY_ARGV_MAX)
					return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "exec: more than %d words",
								PLUMB_NOTIFY_ARGV_MAX);
				if (n->argc == 0 && (why = plumb_path_check_abs(ev.value, ev.len)) != NULL)
					return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
								"exec: the program '%s' must be an absolute path: %s", ev.value, why);
				if ((n->argv[n->argc++] = strdup(ev.value)) == NULL)
					return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			}
			if (n->argc == 0)
				return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err, "exec: needs at least the program");
			{
				void *v = n->argv;

				shrink_to_fit(&v, n->argc + 1, sizeof(*n->argv));   /* keeps the NULL */
				n->argv = v;
			}
			n->kind = PLUMB_NOTIFY_EXEC;
		} else if (strcmp(key.value, "timeout") == 0) {
			uint64_t t;

			if ((r = seen_key(y, &at, &seen, 8, err)) != 0 ||
			    (r = plumb_yread_u64(y, &t, PLUMB_NOTIFY_TIMEOUT_MAX, "timeout", err)) != 0)
				return r;
			if (t == 0)
				return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err, "timeout: must be 1 to %d seconds",
							PLUMB_NOTIFY_TIMEOUT_MAX);
			n->timeout_s = (unsigned)t;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		}
	}
	if (r < 0)
		return r;
	if ((seen & 1) && (seen & 4))
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "notify: give service or exec, not both");
	if (!(seen & 5))
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "notify: each entry needs service or exec");
	if ((seen & 4) && has_action)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "notify: action is only for service");
	if ((seen & 1) && !has_action)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
					"notify: service '%s' needs an action (reload, restart or try-restart)", n->unit);
	return 0;
}

static int parse_notify(struct plumb_yread *y, struct plumb_file_res *f, struct plumb_err *err)
{
	struct plumb_yev ev;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SEQ, "notify", err)) != 0)
		return r;
	if ((f->notify = calloc(PLUMB_NOTIFY_MAX, sizeof(*f->notify))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	for (;;) {
		if ((r = plumb_yread_next(y, &ev, err)) != 0)
			return r;
		if (ev.kind == PLUMB_Y_SEQ_END) {
			void *v = f->notify;

			shrink_to_fit(&v, f->nnotify, sizeof(*f->notify));
			f->notify = v;
			break;
		}
		if (ev.kind != PLUMB_Y_MAP)
			return plumb_yread_fail(y, &ev, PLUMB_E_PARSE, err, "notify: each entry must be a mapping");
		if (f->nnotify == PLUMB_NOTIFY_MAX)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "notify: more than %d entries",
						PLUMB_NOTIFY_MAX);
		if ((r = parse_notify_one(y, &f->notify[f->nnotify++], &ev, err)) != 0)
			return r;
	}
	return 0;
}

static int parse_file(struct plumb_yread *y, struct plumb_file_res *f, struct plumb_strblock **strs,
		      const struct plumb_yev *start, struct plumb_err *err)
{
	struct plumb_yev key, ev;
	unsigned seen = 0;
	const char *why;
	int r, flag;

	f->line = start->line;
	f->col = start->col;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		char k[16];
		struct plumb_yev at = key;

		if (key.len >= sizeof(k))
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		memcpy(k, key.value, key.len + 1);
		if (strcmp(k, "path") == 0) {
			if ((r = seen_key(y, &at, &seen, K_PATH, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if ((why = plumb_path_check_abs(ev.value, ev.len)) != NULL)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "path '%s': %s", ev.value, why);
			if ((f->path = str_keep(strs, ev.value, strlen(ev.value))) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcmp(k, "content") == 0) {
			if ((r = seen_key(y, &at, &seen, K_CONTENT, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if (ev.plain && (strcmp(ev.value, "~") == 0 || strcmp(ev.value, "null") == 0 || ev.len == 0))
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"content: a value is required (write \"\" for an empty file)");
			if (ev.len > PLUMB_CONTENT_MAX)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"content: longer than %u bytes; use source:", PLUMB_CONTENT_MAX);
			if ((f->content = malloc(ev.len + 1)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			memcpy(f->content, ev.value, ev.len + 1);
			f->content_len = ev.len;
			f->has_content = 1;
		} else if (strcmp(k, "source") == 0) {
			if ((r = seen_key(y, &at, &seen, K_SOURCE, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if ((why = plumb_path_check_rel(ev.value, ev.len)) != NULL)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "source '%s': %s", ev.value, why);
			if ((f->source = str_keep(strs, ev.value, strlen(ev.value))) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcmp(k, "mode") == 0) {
			if ((r = seen_key(y, &at, &seen, K_MODE, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if (plumb_parse_mode(&f->mode, ev.value) != 0)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"mode: '%s' is not an octal mode such as \"0644\"", ev.value);
			f->has_mode = 1;
		} else if (strcmp(k, "owner") == 0 || strcmp(k, "group") == 0) {
			int is_owner = k[0] == 'o';
			char **dst = is_owner ? &f->owner : &f->group;

			if ((r = seen_key(y, &at, &seen, is_owner ? K_OWNER : K_GROUP, err)) != 0 ||
			    (r = plumb_yread_str(y, dst, k, 0, err)) != 0 ||
			    (r = check_name(y, &at, k, *dst, err)) != 0)
				return r;
		} else if (strcmp(k, "sensitive") == 0) {
			if ((r = seen_key(y, &at, &seen, K_SENSITIVE, err)) != 0 ||
			    (r = plumb_yread_bool(y, &flag, k, err)) != 0)
				return r;
			f->sensitive = (unsigned char)flag;
		} else if (strcmp(k, "enforce") == 0) {
			if ((r = seen_key(y, &at, &seen, K_ENFORCE, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if (strcmp(ev.value, "warn") == 0)
				f->warn = 1;
			else if (strcmp(ev.value, "enforce") != 0)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"enforce: expected 'warn' or 'enforce', found '%s'", ev.value);
		} else if (strcmp(k, "state") == 0) {
			if ((r = seen_key(y, &at, &seen, K_STATE, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if (strcmp(ev.value, "absent") == 0)
				f->absent = 1;
			else if (strcmp(ev.value, "present") != 0)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"state: expected 'present' or 'absent', found '%s'", ev.value);
		} else if (strcmp(k, "type") == 0) {
			if ((r = seen_key(y, &at, &seen, K_TYPE, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				return r;
			if (strcmp(ev.value, "file") == 0)
				f->type = PLUMB_FT_FILE;
			else if (strcmp(ev.value, "directory") == 0)
				f->type = PLUMB_FT_DIR;
			else if (strcmp(ev.value, "symlink") == 0)
				f->type = PLUMB_FT_SYMLINK;
			else
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"type: expected file, directory or symlink, found '%s'", ev.value);
		} else if (strcmp(k, "purge") == 0) {
			if ((r = seen_key(y, &at, &seen, K_PURGE, err)) != 0 ||
			    (r = plumb_yread_bool(y, &flag, k, err)) != 0)
				return r;
			f->purge = (unsigned char)flag;
		} else if (strcmp(k, "notify") == 0) {
			if ((r = seen_key(y, &at, &seen, K_NOTIFY, err)) != 0 || (r = parse_notify(y, f, err)) != 0)
				return r;
		} else if (strcmp(k, "target") == 0) {
			if ((r = seen_key(y, &at, &seen, K_TARGET, err)) != 0 ||
			    (r = plumb_yread_str(y, &f->target, k, 0, err)) != 0)
				return r;
			if (strlen(f->target) > PLUMB_PATH_MAX)
				return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err, "target: too long");
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", k);
		}
	}
	if (r < 0)
		return r;

	/* Rules between keys. */
	if (!(seen & K_PATH))
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "entry has no 'path'");
	if (f->has_content && f->source)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
					"'%s': give content or source, not both", f->path);
	if (f->absent && (seen & ~(unsigned)(K_PATH | K_STATE | K_TYPE | K_ENFORCE | K_SENSITIVE | K_NOTIFY)))
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
					"'%s': state: absent takes no content, source, target, mode, owner, group or purge",
					f->path);
	if ((seen & K_PURGE) && f->type != PLUMB_FT_DIR)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "'%s': purge is only for type: directory",
					f->path);
	if (f->absent)
		return 0;
	switch (f->type) {
	case PLUMB_FT_FILE:
		if (f->target)
			return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
						"'%s': target is only for type: symlink", f->path);
		break;
	case PLUMB_FT_DIR:
		if (f->has_content || f->source || f->target)
			return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
						"'%s': a directory takes no content, source or target", f->path);
		break;
	case PLUMB_FT_SYMLINK:
		if (!f->target)
			return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
						"'%s': a symlink needs a target", f->path);
		if (f->has_content || f->source || f->has_mode)
			return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
						"'%s': a symlink takes no content, source or mode", f->path);
		break;
	}
	return 0;
}

static int parse_files(struct plumb_yread *y, struct plumb_baseline *b, struct plumb_err *err)
{
	struct plumb_yev ev;
	size_t cap = 0;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SEQ, "files", err)) != 0)
		return r;
	for (;;) {
		struct plumb_file_res *f;

		if ((r = plumb_yread_next(y, &ev, err)) != 0)
			return r;
		if (ev.kind == PLUMB_Y_SEQ_END) {
			void *v = b->files;

			shrink_to_fit(&v, b->nfiles, sizeof(*b->files));
			b->files = v;
			return 0;
		}
		if (ev.kind != PLUMB_Y_MAP)
			return plumb_yread_fail(y, &ev, PLUMB_E_PARSE, err, "files: each entry must be a mapping");
		if (b->nfiles == PLUMB_BASELINE_MAX_FILES)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "files: more than %d entries",
						PLUMB_BASELINE_MAX_FILES);
		if (b->nfiles == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct plumb_file_res *nv = reallocarray(b->files, ncap, sizeof(*nv));

			if (nv == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			b->files = nv;
			cap = ncap;
		}
		f = &b->files[b->nfiles++];
		memset(f, 0, sizeof(*f));
		if ((r = parse_file(y, f, &b->strs, &ev, err)) != 0)
			return r;
	}
}

static int parse_firewall(struct plumb_yread *y, struct plumb_baseline *b, struct plumb_err *err)
{
	struct plumb_firewall *fw;
	struct plumb_yev key, ev;
	unsigned seen = 0;
	const char *why;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_MAP, "firewall", err)) != 0)
		return r;
	if ((fw = b->firewall = calloc(1, sizeof(*fw))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	fw->line = ev.line;
	fw->col = ev.col;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;

		if (strcmp(key.value, "backend") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 ||
			    (r = plumb_yread_str(y, &fw->backend, "backend", 0, err)) != 0)
				return r;
			if (strcmp(fw->backend, "nftables") != 0 && strcmp(fw->backend, "iptables") != 0)
				return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
							"backend: expected nftables or iptables, found '%s'", fw->backend);
		} else if (strcmp(key.value, "tables") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 ||
			    (r = plumb_yread_expect(y, &ev, PLUMB_Y_SEQ, "tables", err)) != 0)
				return r;
			for (;;) {
				char **nv;

				if ((r = plumb_yread_next(y, &ev, err)) != 0)
					return r;
				if (ev.kind == PLUMB_Y_SEQ_END)
					break;
				if (ev.kind != PLUMB_Y_SCALAR || ev.len == 0 || ev.len > 128 ||
				    strlen(ev.value) != ev.len)
					return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
								"tables: each entry must be a table name");
				if (fw->ntables >= 64)
					return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "tables: too many");
				if ((nv = reallocarray(fw->tables, fw->ntables + 1, sizeof(*nv))) == NULL)
					return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				fw->tables = nv;
				if ((fw->tables[fw->ntables] = strdup(ev.value)) == NULL)
					return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				fw->ntables++;
			}
		} else if (strcmp(key.value, "ruleset") == 0) {
			if ((r = seen_key(y, &at, &seen, 4, err)) != 0 ||
			    (r = read_scalar(y, &ev, "ruleset", err)) != 0)
				return r;
			if ((why = plumb_path_check_rel(ev.value, ev.len)) != NULL)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "ruleset '%s': %s", ev.value, why);
			if ((fw->ruleset = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		}
	}
	if (r < 0)
		return r;
	if (seen != 7) {
		struct plumb_yev at = { .line = fw->line, .col = fw->col };

		return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
					"firewall: backend, tables and ruleset are all required");
	}
	return 0;
}

/* A sysctl key as /proc/sys names it with dots: components of [a-z0-9_-],
 * no empty component (so no "..", no leading or trailing dot), no '/'. */
static const char *sysctl_key_problem(const char *s, size_t len)
{
	if (len == 0 || strlen(s) != len)
		return "is empty or holds a NUL byte";
	if (len > PLUMB_SYSCTL_KEY_MAX)
		return "is too long";
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
		return "may hold only a-z, 0-9, '_', '-' and '.'";
	if (s[0] == '.' || s[len - 1] == '.' || strstr(s, "..") != NULL)
		return "has an empty component";
	if (s[0] == '-')
		return "starts with '-'";
	return NULL;
}

/* A top-level list of mappings (sysctl, services, packages, modules): each
 * entry is parsed by one into a zeroed element of *v (grown here, at most
 * max), so every list has the same shape, caps and messages. */
static int parse_list(struct plumb_yread *y, const char *what, void **v, size_t *n, size_t size, size_t max,
		      int (*one)(struct plumb_yread *, void *, const struct plumb_yev *, struct plumb_err *),
		      struct plumb_err *err)
{
	struct plumb_yev ev;
	size_t cap = *n;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SEQ, what, err)) != 0)
		return r;
	for (;;) {
		void *item;

		if ((r = plumb_yread_next(y, &ev, err)) != 0)
			return r;
		if (ev.kind == PLUMB_Y_SEQ_END) {
			shrink_to_fit(v, *n, size);
			return 0;
		}
		if (ev.kind != PLUMB_Y_MAP)
			return plumb_yread_fail(y, &ev, PLUMB_E_PARSE, err, "%s: each entry must be a mapping", what);
		if (*n == max)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: more than %zu entries", what, max);
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *nv = reallocarray(*v, ncap, size);

			if (nv == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			*v = nv;
			cap = ncap;
		}
		item = (char *)*v + (*n)++ * size;
		memset(item, 0, size);
		if ((r = one(y, item, &ev, err)) != 0)
			return r;
	}
}

/* The keys every entry of those lists takes: sensitive and enforce (with
 * their bits in seen). Returns 1 when key was one of them, 0 when not, or a
 * negative code. */
static int common_key(struct plumb_yread *y, const struct plumb_yev *key, unsigned *seen, unsigned bit_sensitive,
		      unsigned bit_enforce, int *sensitive, int *warn, struct plumb_err *err)
{
	struct plumb_yev at = *key, ev;
	int r;

	if (strcmp(key->value, "sensitive") == 0) {
		if ((r = seen_key(y, &at, seen, bit_sensitive, err)) != 0 ||
		    (r = plumb_yread_bool(y, sensitive, "sensitive", err)) != 0)
			return r;
		return 1;
	}
	if (strcmp(key->value, "enforce") != 0)
		return 0;
	if ((r = seen_key(y, &at, seen, bit_enforce, err)) != 0 || (r = read_scalar(y, &ev, "enforce", err)) != 0)
		return r;
	if (strcmp(ev.value, "warn") == 0)
		*warn = 1;
	else if (strcmp(ev.value, "enforce") != 0)
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "enforce: expected 'warn' or 'enforce', found '%s'",
					ev.value);
	return 1;
}

static int parse_sysctl_one(struct plumb_yread *y, void *out, const struct plumb_yev *start,
			    struct plumb_err *err)
{
	struct plumb_sysctl_res *c = out;
	struct plumb_yev key, ev;
	unsigned seen = 0;
	const char *why;
	int r;

	c->line = start->line;
	c->col = start->col;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;

		if (strcmp(key.value, "key") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 || (r = read_scalar(y, &ev, "key", err)) != 0)
				return r;
			if ((why = sysctl_key_problem(ev.value, ev.len)) != NULL)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "key: '%s' %s", ev.value, why);
			if ((c->key = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcmp(key.value, "value") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 || (r = read_scalar(y, &ev, "value", err)) != 0)
				return r;
			if (ev.plain && (ev.len == 0 || strcmp(ev.value, "~") == 0 || strcmp(ev.value, "null") == 0))
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "value: a value is required");
			if (strlen(ev.value) != ev.len || ev.len > PLUMB_SYSCTL_VALUE_MAX)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"value: must be text without NUL bytes, at most %d bytes",
							PLUMB_SYSCTL_VALUE_MAX);
			if ((c->value = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if ((r = common_key(y, &key, &seen, 4, 8, &c->sensitive, &c->warn, err)) != 0) {
			if (r < 0)
				return r;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		}
	}
	if (r < 0)
		return r;
	if ((seen & 3) != 3)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "sysctl: each entry needs key and value");
	return 0;
}

static int parse_sysctl(struct plumb_yread *y, struct plumb_baseline *b, struct plumb_err *err)
{
	void *v = b->sysctl;
	int r = parse_list(y, "sysctl", &v, &b->nsysctl, sizeof(*b->sysctl), PLUMB_BASELINE_MAX_SYSCTL, parse_sysctl_one, err);

	b->sysctl = v;   /* also when failed: plumb_baseline_free frees what was parsed */
	return r;
}

static int parse_service_one(struct plumb_yread *y, void *out, const struct plumb_yev *start,
			     struct plumb_err *err)
{
	struct plumb_service_res *u = out;
	struct plumb_yev key, ev;
	unsigned seen = 0;
	int r;

	u->line = start->line;
	u->col = start->col;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;

		if (strcmp(key.value, "unit") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 || (r = read_scalar(y, &ev, "unit", err)) != 0 ||
			    (r = check_unit(y, &ev, "unit", ev.value, ev.len, err)) != 0)
				return r;
			if ((u->unit = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcmp(key.value, "state") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 || (r = read_scalar(y, &ev, "state", err)) != 0)
				return r;
			if (strcmp(ev.value, "enabled") == 0)
				u->state = PLUMB_UNIT_ENABLED;
			else if (strcmp(ev.value, "disabled") == 0)
				u->state = PLUMB_UNIT_DISABLED;
			else if (strcmp(ev.value, "masked") == 0)
				u->state = PLUMB_UNIT_MASKED;
			else
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"state: expected enabled, disabled or masked, found '%s'", ev.value);
		} else if (strcmp(key.value, "running") == 0) {
			if ((r = seen_key(y, &at, &seen, 4, err)) != 0 ||
			    (r = plumb_yread_bool(y, &u->running, "running", err)) != 0)
				return r;
			u->has_running = 1;
		} else if ((r = common_key(y, &key, &seen, 16, 8, &u->sensitive, &u->warn, err)) != 0) {
			if (r < 0)
				return r;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		}
	}
	if (r < 0)
		return r;
	if ((seen & 3) != 3)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "services: each entry needs unit and state");
	if (u->has_running && u->running && u->state != PLUMB_UNIT_ENABLED)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err,
					"'%s': running: true needs state: enabled", u->unit);
	return 0;
}

static int parse_services(struct plumb_yread *y, struct plumb_baseline *b, struct plumb_err *err)
{
	void *v = b->services;
	int r = parse_list(y, "services", &v, &b->nservices, sizeof(*b->services), PLUMB_BASELINE_MAX_SERVICES, parse_service_one, err);

	b->services = v;   /* also when failed: plumb_baseline_free frees what was parsed */
	return r;
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct plumb_service_res *)a)->unit, ((const struct plumb_service_res *)b)->unit);
}

static int parse_package_one(struct plumb_yread *y, void *out, const struct plumb_yev *start,
			     struct plumb_err *err)
{
	struct plumb_package_res *p = out;
	struct plumb_yev key, ev;
	unsigned seen = 0;
	int r;

	p->line = start->line;
	p->col = start->col;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;

		if (strcmp(key.value, "name") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 || (r = read_scalar(y, &ev, "name", err)) != 0)
				return r;
			/* Debian policy 5.6.1: lower case, digits, + - . ; two or more, starting alphanumeric */
			if (ev.len < 2 || ev.len > PLUMB_PACKAGE_NAME_MAX || strlen(ev.value) != ev.len ||
			    strspn(ev.value, "abcdefghijklmnopqrstuvwxyz0123456789+-.") != ev.len ||
			    strchr("+-.", ev.value[0]) != NULL)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"name: '%s' is not a Debian package name such as telnetd", ev.value);
			if ((p->name = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcmp(key.value, "state") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 || (r = read_scalar(y, &ev, "state", err)) != 0)
				return r;
			if (strcmp(ev.value, "absent") == 0)
				p->absent = 1;
			else if (strcmp(ev.value, "present") != 0)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"state: expected 'present' or 'absent', found '%s'", ev.value);
		} else if ((r = common_key(y, &key, &seen, 16, 4, &p->sensitive, &p->warn, err)) != 0) {
			if (r < 0)
				return r;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		}
	}
	if (r < 0)
		return r;
	if ((seen & 3) != 3)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "packages: each entry needs name and state");
	return 0;
}

static int parse_packages(struct plumb_yread *y, struct plumb_baseline *b, struct plumb_err *err)
{
	void *v = b->packages;
	int r = parse_list(y, "packages", &v, &b->npackages, sizeof(*b->packages), PLUMB_BASELINE_MAX_PACKAGES, parse_package_one, err);

	b->packages = v;   /* also when failed: plumb_baseline_free frees what was parsed */
	return r;
}

static int cmp_package(const void *a, const void *b)
{
	return strcmp(((const struct plumb_package_res *)a)->name, ((const struct plumb_package_res *)b)->name);
}

static int parse_module_one(struct plumb_yread *y, void *out, const struct plumb_yev *start,
			    struct plumb_err *err)
{
	struct plumb_module_res *m = out;
	struct plumb_yev key, ev;
	unsigned seen = 0;
	int r;

	m->line = start->line;
	m->col = start->col;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;

		if (strcmp(key.value, "name") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 || (r = read_scalar(y, &ev, "name", err)) != 0)
				return r;
			if (ev.len == 0 || ev.len > PLUMB_MODULE_NAME_MAX || strlen(ev.value) != ev.len ||
			    strspn(ev.value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != ev.len ||
			    ev.value[0] == '-')
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"name: '%s' is not a kernel module name such as cramfs", ev.value);
			if ((m->name = strdup(ev.value)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			for (char *c = m->name; *c != '\0'; c++)
				if (*c == '-')
					*c = '_';      /* as /proc/modules writes it */
		} else if (strcmp(key.value, "loaded") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 ||
			    (r = plumb_yread_bool(y, &m->loaded, "loaded", err)) != 0)
				return r;
		} else if ((r = common_key(y, &key, &seen, 16, 4, &m->sensitive, &m->warn, err)) != 0) {
			if (r < 0)
				return r;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		}
	}
	if (r < 0)
		return r;
	if ((seen & 3) != 3)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "modules: each entry needs name and loaded");
	return 0;
}

static int parse_modules(struct plumb_yread *y, struct plumb_baseline *b, struct plumb_err *err)
{
	void *v = b->modules;
	int r = parse_list(y, "modules", &v, &b->nmodules, sizeof(*b->modules), PLUMB_BASELINE_MAX_MODULES, parse_module_one, err);

	b->modules = v;   /* also when failed: plumb_baseline_free frees what was parsed */
	return r;
}

static int cmp_module(const void *a, const void *b)
{
	return strcmp(((const struct plumb_module_res *)a)->name, ((const struct plumb_module_res *)b)->name);
}

static int cmp_sysctl(const void *a, const void *b)
{
	return strcmp(((const struct plumb_sysctl_res *)a)->key, ((const struct plumb_sysctl_res *)b)->key);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct plumb_file_res *)a)->path, ((const struct plumb_file_res *)b)->path);
}

int plumb_baseline_parse(struct plumb_baseline **out, const char *name,
			 const void *data, size_t len, struct plumb_err *err)
{
	struct plumb_baseline *b = NULL;
	struct plumb_yread *y = NULL;
	struct plumb_yev ev, key;
	unsigned seen = 0;
	int r;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL || (b->name = strdup(name)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = plumb_yread_open(&y, name, data, len, err)) != 0)
		goto out;
	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_MAP, "baseline", err)) != 0)
		goto out;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		struct plumb_yev at = key;
		char k[16];

		if (key.len >= sizeof(k)) {
			r = plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
			goto out;
		}
		memcpy(k, key.value, key.len + 1);
		if (strcmp(k, "version") == 0) {
			if ((r = seen_key(y, &at, &seen, 1, err)) != 0 ||
			    (r = plumb_yread_u64(y, &b->version, 1000, k, err)) != 0)
				goto out;
			if (b->version != 1) {
				r = plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
						     "version: %llu is not supported (this plumb reads version 1)",
						     (unsigned long long)b->version);
				goto out;
			}
		} else if (strcmp(k, "serial") == 0) {
			if ((r = seen_key(y, &at, &seen, 2, err)) != 0 ||
			    (r = plumb_yread_u64(y, &b->serial, PLUMB_SERIAL_MAX, k, err)) != 0)
				goto out;
			b->has_serial = 1;
		} else if (strcmp(k, "expires") == 0) {
			if ((r = seen_key(y, &at, &seen, 4, err)) != 0 ||
			    (r = read_scalar(y, &ev, k, err)) != 0)
				goto out;
			if (plumb_time_parse(&b->expires, ev.value) != 0) {
				r = plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
						     "expires: '%s' is not an RFC 3339 time such as 2027-01-31T00:00:00Z",
						     ev.value);
				goto out;
			}
			b->has_expires = 1;
		} else if (strcmp(k, "files") == 0) {
			if ((r = seen_key(y, &at, &seen, 8, err)) != 0 || (r = parse_files(y, b, err)) != 0)
				goto out;
		} else if (strcmp(k, "firewall") == 0) {
			if ((r = seen_key(y, &at, &seen, 16, err)) != 0 || (r = parse_firewall(y, b, err)) != 0)
				goto out;
		} else if (strcmp(k, "sysctl") == 0) {
			if ((r = seen_key(y, &at, &seen, 32, err)) != 0 || (r = parse_sysctl(y, b, err)) != 0)
				goto out;
		} else if (strcmp(k, "services") == 0) {
			if ((r = seen_key(y, &at, &seen, 64, err)) != 0 || (r = parse_services(y, b, err)) != 0)
				goto out;
		} else if (strcmp(k, "packages") == 0) {
			if ((r = seen_key(y, &at, &seen, 128, err)) != 0 || (r = parse_packages(y, b, err)) != 0)
				goto out;
		} else if (strcmp(k, "modules") == 0) {
			if ((r = seen_key(y, &at, &seen, 256, err)) != 0 || (r = parse_modules(y, b, err)) != 0)
				goto out;
		} else {
			r = plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", k);
			goto out;
		}
	}
	if (r < 0 || (r = plumb_yread_close(y, err)) != 0)
		goto out;
	if (!(seen & 1)) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: 'version: 1' is required", name);
		goto out;
	}
	if (b->nfiles > 1)
		qsort(b->files, b->nfiles, sizeof(*b->files), cmp_path);
	for (size_t i = 1; i < b->nfiles; i++) {
		if (strcmp(b->files[i - 1].path, b->files[i].path) == 0) {
			const struct plumb_file_res *a = &b->files[i - 1], *c = &b->files[i];
			const struct plumb_file_res *later = (a->line > c->line) ? a : c;
			const struct plumb_file_res *first = later == a ? c : a;

			r = plumb_err_set(err, PLUMB_E_INVALID, "%s:%zu:%zu: duplicate path '%s' (first at line %zu)",
					  name, later->line, later->col, later->path, first->line);
			goto out;
		}
	}
	if (b->nsysctl > 1)
		qsort(b->sysctl, b->nsysctl, sizeof(*b->sysctl), cmp_sysctl);
	for (size_t i = 1; i < b->nsysctl; i++) {
		if (strcmp(b->sysctl[i - 1].key, b->sysctl[i].key) == 0) {
			const struct plumb_sysctl_res *a = &b->sysctl[i - 1], *c = &b->sysctl[i];
			const struct plumb_sysctl_res *later = (a->line > c->line) ? a : c;
			const struct plumb_sysctl_res *first = later == a ? c : a;

			r = plumb_err_set(err, PLUMB_E_INVALID, "%s:%zu:%zu: duplicate sysctl key '%s' (first at line %zu)",
					  name, later->line, later->col, later->key, first->line);
			goto out;
		}
	}
	if (b->nservices > 1)
		qsort(b->services, b->nservices, sizeof(*b->services), cmp_service);
	for (size_t i = 1; i < b->nservices; i++) {
		if (strcmp(b->services[i - 1].unit, b->services[i].unit) == 0) {
			const struct plumb_service_res *a = &b->services[i - 1], *c = &b->services[i];
			const struct plumb_service_res *later = (a->line > c->line) ? a : c;
			const struct plumb_service_res *first = later == a ? c : a;

			r = plumb_err_set(err, PLUMB_E_INVALID, "%s:%zu:%zu: duplicate unit '%s' (first at line %zu)",
					  name, later->line, later->col, later->unit, first->line);
			goto out;
		}
	}
	if (b->npackages > 1)
		qsort(b->packages, b->npackages, sizeof(*b->packages), cmp_package);
	for (size_t i = 1; i < b->npackages; i++) {
		if (strcmp(b->packages[i - 1].name, b->packages[i].name) == 0) {
			const struct plumb_package_res *a = &b->packages[i - 1], *c = &b->packages[i];
			const struct plumb_package_res *later = (a->line > c->line) ? a : c;
			const struct plumb_package_res *first = later == a ? c : a;

			r = plumb_err_set(err, PLUMB_E_INVALID, "%s:%zu:%zu: duplicate package '%s' (first at line %zu)",
					  name, later->line, later->col, later->name, first->line);
			goto out;
		}
	}
	if (b->nmodules > 1)
		qsort(b->modules, b->nmodules, sizeof(*b->modules), cmp_module);
	for (size_t i = 1; i < b->nmodules; i++) {
		if (strcmp(b->modules[i - 1].name, b->modules[i].name) == 0) {
			const struct plumb_module_res *a = &b->modules[i - 1], *c = &b->modules[i];
			const struct plumb_module_res *later = (a->line > c->line) ? a : c;
			const struct plumb_module_res *first = later == a ? c : a;

			r = plumb_err_set(err, PLUMB_E_INVALID, "%s:%zu:%zu: duplicate module '%s' (first at line %zu)",
					  name, later->line, later->col, later->name, first->line);
			goto out;
		}
	}
	*out = b;
	b = NULL;
	r = 0;
out:
	plumb_yread_free(y);
	plumb_baseline_free(b);
	return r;
}

int plumb_baseline_check_sources(const struct plumb_baseline *b, struct plumb_source *src,
				 struct plumb_err *err)
{
	struct plumb_err e;
	int r;

	for (size_t i = 0; i < b->nfiles; i++) {
		const struct plumb_file_res *f = &b->files[i];
		struct plumb_blob *blob;

		unsigned char oid[20];

		if (f->source == NULL)
			continue;
		/* Where the source knows ids, a tree lookup suffices: no blob is read. */
		r = plumb_source_blob_id(src, f->source, oid, &e);
		if (r == PLUMB_E_UNSUPPORTED && (r = plumb_source_blob_open(src, &blob, f->source, &e)) == 0)
			plumb_blob_free(blob);
		if (r != 0)
			return plumb_err_set(err, r, "%s:%zu:%zu: source of '%s': %s", b->name, f->line, f->col,
					     f->path, e.msg);
	}
	if (b->firewall != NULL) {
		struct plumb_blob *blob;

		if ((r = plumb_source_blob_open(src, &blob, b->firewall->ruleset, &e)) != 0)
			return plumb_err_set(err, r, "%s:%zu:%zu: firewall ruleset: %s", b->name,
					     b->firewall->line, b->firewall->col, e.msg);
		plumb_blob_free(blob);
	}
	return 0;
}

void plumb_baseline_free(struct plumb_baseline *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nfiles; i++)
		file_release(&b->files[i]);
	free(b->files);
	while (b->strs != NULL) {
		struct plumb_strblock *next = b->strs->next;

		free(b->strs);
		b->strs = next;
	}
	for (size_t i = 0; i < b->nsysctl; i++) {
		free(b->sysctl[i].key);
		free(b->sysctl[i].value);
	}
	free(b->sysctl);
	for (size_t i = 0; i < b->nservices; i++)
		free(b->services[i].unit);
	free(b->services);
	for (size_t i = 0; i < b->npackages; i++)
		free(b->packages[i].name);
	free(b->packages);
	for (size_t i = 0; i < b->nmodules; i++)
		free(b->modules[i].name);
	free(b->modules);
	if (b->firewall != NULL) {
		free(b->firewall->backend);
		for (size_t i = 0; i < b->firewall->ntables; i++)
			free(b->firewall->tables[i]);
		free(b->firewall->tables);
		free(b->firewall->ruleset);
		free(b->firewall);
	}
	free(b->name);
	free(b);
}
