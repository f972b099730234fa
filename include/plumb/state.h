/* state.h - the agent's own directory (state_dir, 0700): an exclusive run
 * lock, the last run's report, and small files written atomically. */
#ifndef PLUMB_STATE_H
#define PLUMB_STATE_H

#include <sys/types.h>

#include "plumb/buf.h"
#include "plumb/error.h"

#define PLUMB_STATE_FILE_MAX (64u << 20)
#define PLUMB_LAST_REPORT "last-report.json"

struct plumb_state {
	int dirfd;
	int lockfd;
	char *path;
	long holder;               /* after a failed lock: the holder's pid (0 unknown) */
};

/* Opens state_dir, creating it (0700) when create is set. */
int plumb_state_open(struct plumb_state **out, const char *path, int create, struct plumb_err *err);

/* Takes the exclusive run lock, waiting up to wait_s seconds for another
 * plumb run to finish. Returns 0, PLUMB_E_UNSAFE (the lock is not a
 * regular file) or PLUMB_E_IO ("another run (pid N) holds it"; st->holder
 * is then the holder's pid, 0 if unknown). */
int plumb_state_lock(struct plumb_state *st, int wait_s, struct plumb_err *err);

/* Releases the run lock (the daemon holds it only while it runs). */
void plumb_state_unlock(struct plumb_state *st);

/* Writes name atomically (0600). */
int plumb_state_write(struct plumb_state *st, const char *name, const void *data, size_t len,
		      struct plumb_err *err);

/* Reads name into b (initialized by the caller, whose max bounds the read)
 * as plumb_read_regular does. PLUMB_E_NOTFOUND if absent. */
int plumb_state_read(struct plumb_state *st, const char *name, struct plumb_buf *b,
		     struct plumb_err *err);

/* The one safe open of a state or account file: openat(dirfd, name) with
 * O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC added to flags (so a FIFO cannot hang
 * us), then fstat must say regular file. shown names the file in messages.
 * Returns 0 with *out set, PLUMB_E_NOTFOUND, PLUMB_E_UNSAFE (symlink,
 * FIFO, directory, device) or PLUMB_E_IO, err filled. */
int plumb_open_regular(int *out, int dirfd, const char *name, int flags, mode_t mode, const char *shown,
		       struct plumb_err *err);

/* Reads a regular file's fd into b, bounded by b->max (checked against
 * fstat first, then while reading). Returns 0, PLUMB_E_UNSAFE,
 * PLUMB_E_TOOBIG, PLUMB_E_NOMEM or PLUMB_E_IO with a precise message. */
int plumb_read_regular_fd(struct plumb_buf *b, int fd, const char *shown, struct plumb_err *err);

/* plumb_open_regular + plumb_read_regular_fd. */
int plumb_read_regular(struct plumb_buf *b, int dirfd, const char *name, const char *shown, struct plumb_err *err);

/* Takes an exclusive flock on name in dirfd (a regular file, created 0600;
 * *fdp keeps the open fd across calls, -1 the first time), waiting up to
 * wait_s seconds; writes our pid into it. On contention *holder (may be
 * NULL) gets the holder's pid from /proc/locks or the file, 0 if unknown.
 * Returns 0, PLUMB_E_UNSAFE or PLUMB_E_IO, err naming shown. */
int plumb_lock_file(int *fdp, int dirfd, const char *name, const char *shown, int wait_s, long *holder,
		    struct plumb_err *err);

/* Releases the lock and closes. Accepts NULL. */
void plumb_state_free(struct plumb_state *st);

#endif
