/* state.c - state_dir: lock, atomic small files.
 * The lock serializes plumb runs and plumbd so two writers never race. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/state.h"
#include "banned.h"

int plumb_state_open(struct plumb_state **out, const char *path, int create, struct plumb_err *err)
{
	struct plumb_state *st;
	int r;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	st->lockfd = -1;
	if ((r = plumb_fs_open_dir_path(&st->dirfd, path, create, 0700, err)) != 0) {
		free(st->path);
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

int plumb_state_lock(struct plumb_state *st, int wait_s, struct plumb_err *err)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	int tries = wait_s * 10;

	if (st->lockfd < 0) {
		st->lockfd = openat(st->dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (st->lockfd < 0)
			return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s/lock'", st->path);
	}
	for (;;) {
		if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot lock '%s/lock'", st->path);
		if (tries-- <= 0)
			return plumb_err_set(err, PLUMB_E_IO,
					     "another plumb run holds '%s/lock'; waited %d s", st->path, wait_s);
		nanosleep(&ts, NULL);
	}
}

void plumb_state_unlock(struct plumb_state *st)
{
	if (st->lockfd >= 0)
		(void)flock(st->lockfd, LOCK_UN);
}

int plumb_state_write(struct plumb_state *st, const char *name, const void *data, size_t len,
		      struct plumb_err *err)
{
	struct plumb_fs_meta meta = {0600, (uid_t)-1, (gid_t)-1};
	struct plumb_fs_mem m = {data, len};

	return plumb_fs_replace(st->dirfd, name, &meta, plumb_fs_fill_mem, &m, err);
}

int plumb_state_read(struct plumb_state *st, const char *name, struct plumb_buf *b,
		     struct plumb_err *err)
{
	int fd, r;

	if ((fd = openat(st->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, errno == ENOENT ? PLUMB_E_NOTFOUND : PLUMB_E_IO, errno,
				       "cannot open '%s/%s'", st->path, name);
	r = plumb_buf_read_fd(b, fd);
	close(fd);
	if (r != 0)
		return plumb_err_errno(err, r, errno, "cannot read '%s/%s'", st->path, name);
	return 0;
}

void plumb_state_free(struct plumb_state *st)
{
	if (st == NULL)
		return;
	if (st->lockfd >= 0)
		close(st->lockfd);
	if (st->dirfd >= 0)
		close(st->dirfd);
	free(st->path);
	free(st);
}
