/* users.c - name-to-id tables read from the managed root's passwd/group.
 * Deliberately not getpwnam(3): the host's NSS is not the target's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/fs.h"
#include "plumb/state.h"
#include "plumb/users.h"
#include "plumb/util.h"
#include "banned.h"

struct entry {
	char *name;
	unsigned long id;
	unsigned long gid;         /* passwd: the primary group; else unused */
	int has_gid;
};

struct table {
	struct entry *v;
	size_t n;
};

struct plumb_users {
	struct table users, groups;
};

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
}

/* Parses "name:x:id:..." lines; malformed lines are skipped, as libc does. */
static int parse(struct table *t, char *text)
{
	size_t cap = 0;

	for (char *line = text, *next; line && *line; line = next) {
		char *f[4] = {NULL, NULL, NULL, NULL}, *p = line;
		uint64_t id, gid;
		int nf = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (nf < 4) {
			f[nf++] = p;
			if ((p = strchr(p, ':')) == NULL)
				break;
			*p++ = '\0';
		}
		if (nf < 4 || f[0][0] == '\0' || f[0][0] == '#' ||
		    f[0][0] == '+' || f[0][0] == '-')
			continue;
		if (plumb_parse_u64(&id, f[2], 0xfffffffeULL) != 0)
			continue;
		if (t->n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct entry *nv = reallocarray(t->v, ncap, sizeof(*nv));

			if (nv == NULL)
				return PLUMB_E_NOMEM;
			t->v = nv;
			cap = ncap;
		}
		if ((t->v[t->n].name = strdup(f[0])) == NULL)
			return PLUMB_E_NOMEM;
		t->v[t->n].has_gid = nf == 4 && plumb_parse_u64(&gid, f[3], 0xfffffffeULL) == 0;
		t->v[t->n].gid = t->v[t->n].has_gid ? (unsigned long)gid : 0;
		t->v[t->n++].id = (unsigned long)id;
	}
	return 0;
}

static int load_one(struct table *t, int rootfd, const char *rel, struct plumb_err *err)
{
	struct plumb_buf b;
	char shown[64];
	int fd, r;

	snprintf(shown, sizeof(shown), "/%s", rel);
	/* O_NONBLOCK: a FIFO planted at etc/passwd must not hang the agent. */
	r = plumb_fs_open_beneath(&fd, rootfd, rel, O_RDONLY | O_NONBLOCK);
	if (r == PLUMB_E_NOTFOUND)
		return 0;
	if (r != 0)
		return plumb_err_errno(err, r, errno, "cannot open '%s'", shown);
	plumb_buf_init(&b, PLUMB_USERS_FILE_MAX);
	r = plumb_read_regular_fd(&b, fd, shown, err);
	close(fd);
	if (r == 0 && (r = parse(t, b.data)) != 0)
		plumb_err_set(err, r, "cannot parse '%s': %s", shown, plumb_strerror(r));
	plumb_buf_release(&b);
	return r;
}

int plumb_users_load(struct plumb_users **out, int rootfd, struct plumb_err *err)
{
	struct plumb_users *u;
	int r;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if ((r = load_one(&u->users, rootfd, "etc/passwd", err)) != 0 ||
	    (r = load_one(&u->groups, rootfd, "etc/group", err)) != 0) {
		plumb_users_free(u);
		return r;
	}
	*out = u;
	return 0;
}

void plumb_users_free(struct plumb_users *u)
{
	if (u == NULL)
		return;
	table_free(&u->users);
	table_free(&u->groups);
	free(u);
}

static int lookup(const struct table *t, const char *name, unsigned long *out)
{
	uint64_t id;

	if (plumb_parse_u64(&id, name, 0xfffffffeULL) == 0) {
		*out = (unsigned long)id;
		return 0;
	}
	if (strcmp(name, "root") == 0) {
		*out = 0;
		return 0;
	}
	if (t == NULL)
		return PLUMB_E_NOTFOUND;
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].name, name) == 0) {
			*out = t->v[i].id;
			return 0;
		}
	}
	return PLUMB_E_NOTFOUND;
}

int plumb_users_uid(const struct plumb_users *u, const char *name, uid_t *out)
{
	unsigned long id;
	int r = lookup(u ? &u->users : NULL, name, &id);

	if (r == 0)
		*out = (uid_t)id;
	return r;
}

int plumb_users_gid(const struct plumb_users *u, const char *name, gid_t *out)
{
	unsigned long id;
	int r = lookup(u ? &u->groups : NULL, name, &id);

	if (r == 0)
		*out = (gid_t)id;
	return r;
}

int plumb_users_primary_gid(const struct plumb_users *u, uid_t uid, gid_t *out)
{
	if (uid == 0) {
		*out = 0;
		return 0;
	}
	for (size_t i = 0; u != NULL && i < u->users.n; i++) {
		if (u->users.v[i].id == (unsigned long)uid && u->users.v[i].has_gid) {
			*out = (gid_t)u->users.v[i].gid;
			return 0;
		}
	}
	return PLUMB_E_NOTFOUND;
}
