/* state.c - state_dir: lock, atomic small files, bounded safe reads.
 * The lock serializes plumb runs and plumbd so two writers never race. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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
	/* 0711: the fetch user must reach its cache.git by path (libgit2
	 * resolves paths); it cannot list state_dir, and every file in it is 0600. */
	if ((r = plumb_fs_open_dir_path(&st->dirfd, path, create, 0711, err)) != 0) {
		free(st->path);
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

int plumb_open_regular(int *out, int dirfd, const char *name, int flags, mode_t mode, const char *shown,
		       struct plumb_err *err)
{
	struct stat sb;
	int fd, e;

	*out = -1;
	if ((fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode)) < 0) {
		e = errno;
		if (e == ENOENT)
			return plumb_err_errno(err, PLUMB_E_NOTFOUND, e, "cannot open '%s'", shown);
		if (e == ELOOP)
			return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' is a symbolic link; refusing to use it", shown);
		if (e == EISDIR || e == ENXIO || e == ENODEV || e == ETXTBSY)
			return plumb_err_errno(err, PLUMB_E_UNSAFE, e, "'%s' is not a regular file", shown);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot open '%s'", shown);
	}
	if (fstat(fd, &sb) != 0) {
		e = errno;
		close(fd);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot stat '%s'", shown);
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' is not a regular file (%s); refusing to use it", shown,
				     S_ISFIFO(sb.st_mode) ? "a FIFO" : S_ISDIR(sb.st_mode) ? "a directory" :
				     S_ISSOCK(sb.st_mode) ? "a socket" : "a device");
	}
	/* Regular: back to blocking I/O (O_NONBLOCK only guarded the open). */
	if ((flags & O_NONBLOCK) == 0 && (e = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, e & ~O_NONBLOCK);
	*out = fd;
	return 0;
}

int plumb_read_regular_fd(struct plumb_buf *b, int fd, const char *shown, struct plumb_err *err)
{
	struct stat sb;
	int r;

	if (fstat(fd, &sb) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot stat '%s'", shown);
	if (!S_ISREG(sb.st_mode))
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' is not a regular file; refusing to read it", shown);
	if ((uint64_t)sb.st_size > (uint64_t)b->max)
		return plumb_err_set(err, PLUMB_E_TOOBIG, "'%s' is larger than %zu bytes", shown, b->max);
	if ((r = plumb_buf_read_fd(b, fd)) == 0)
		return 0;
	if (r == PLUMB_E_TOOBIG)
		return plumb_err_set(err, r, "'%s' is larger than %zu bytes", shown, b->max);
	if (r == PLUMB_E_NOMEM)
		return plumb_err_set(err, r, "out of memory reading '%s'", shown);
	return plumb_err_errno(err, r, errno, "cannot read '%s'", shown);
}

int plumb_read_regular(struct plumb_buf *b, int dirfd, const char *name, const char *shown, struct plumb_err *err)
{
	int fd, r;

	if ((r = plumb_open_regular(&fd, dirfd, name, O_RDONLY, 0, shown, err)) != 0)
		return r;
	r = plumb_read_regular_fd(b, fd, shown, err);
	close(fd);
	return r;
}

/* The pid holding an flock on fd's file, from /proc/locks; 0 if unknown. */
static long lock_holder(int fd)
{
	char line[256], want[64];
	struct stat sb;
	long pid = 0;
	FILE *f;

	if (fstat(fd, &sb) != 0 || (f = fopen("/proc/locks", "re")) == NULL)
		return 0;
	snprintf(want, sizeof(want), "%02x:%02x:%llu", major(sb.st_dev), minor(sb.st_dev),
		 (unsigned long long)sb.st_ino);
	while (pid == 0 && fgets(line, sizeof(line), f) != NULL) {
		char kind[16], adv[16], rw[16], dev[64];
		long p;

		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters carry "->" */
		if (strstr(line, "->") != NULL)
			continue;
		if (sscanf(line, "%*s %15s %15s %15s %ld %63s", kind, adv, rw, &p, dev) == 5 &&
		    strcmp(kind, "FLOCK") == 0 && strcmp(dev, want) == 0)
			pid = p;
	}
	fclose(f);
	if (pid == 0) {
		/* Fall back to the pid the holder wrote into the lock file. */
		char buf[24];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		if (n > 0) {
			buf[n] = '\0';
			pid = strtol(buf, NULL, 10);
		}
	}
	return pid > 0 ? pid : 0;
}

int plumb_lock_file(int *fdp, int dirfd, const char *name, const char *shown, int wait_s, long *holder,
		    struct plumb_err *err)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	int tries = wait_s * 10, r;

	if (holder != NULL)
		*holder = 0;
	if (*fdp < 0 && (r = plumb_open_regular(fdp, dirfd, name, O_RDWR | O_CREAT, 0600, shown, err)) != 0)
		return r;
	for (;;) {
		if (flock(*fdp, LOCK_EX | LOCK_NB) == 0) {
			char pid[24];
			int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

			/* For people and the fallback above; the lock is the flock. */
			if (ftruncate(*fdp, 0) == 0)
				(void)!pwrite(*fdp, pid, (size_t)n, 0);
			return 0;
		}
		if (errno != EWOULDBLOCK && errno != EINTR)
			return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot lock '%s'", shown);
		if (tries-- <= 0) {
			long pid = lock_holder(*fdp);

			if (holder != NULL)
				*holder = pid;
			if (pid > 0)
				return plumb_err_set(err, PLUMB_E_IO, "another plumb run (pid %ld) holds '%s'; waited %d s",
						     pid, shown, wait_s);
			return plumb_err_set(err, PLUMB_E_IO, "another plumb run holds '%s'; waited %d s", shown, wait_s);
		}
		nanosleep(&ts, NULL);
	}
}

int plumb_state_lock(struct plumb_state *st, int wait_s, struct plumb_err *err)
{
	char shown[4096];

	snprintf(shown, sizeof(shown), "%s/lock", st->path);
	return plumb_lock_file(&st->lockfd, st->dirfd, "lock", shown, wait_s, &st->holder, err);
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
	char shown[4096];

	snprintf(shown, sizeof(shown), "%s/%s", st->path, name);
	return plumb_read_regular(b, st->dirfd, name, shown, err);
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
