/* state.h - the agent's own directory (state_dir, 0700): an exclusive run
 * lock, the last run's report, and small files written atomically. */
#ifndef PLUMB_STATE_H
#define PLUMB_STATE_H

#include "plumb/buf.h"
#include "plumb/error.h"

#define PLUMB_STATE_FILE_MAX (64u << 20)
#define PLUMB_LAST_REPORT "last-report.json"

struct plumb_state {
	int dirfd;
	int lockfd;
	char *path;
};

/* Opens state_dir, creating it (0700) when create is set. */
int plumb_state_open(struct plumb_state **out, const char *path, int create, struct plumb_err *err);

/* Takes the exclusive run lock, waiting up to wait_s seconds for another
 * plumb run to finish. Returns 0 or PLUMB_E_IO ("another run holds it"). */
int plumb_state_lock(struct plumb_state *st, int wait_s, struct plumb_err *err);

/* Releases the run lock (the daemon holds it only while it runs). */
void plumb_state_unlock(struct plumb_state *st);

/* Writes name atomically (0600). */
int plumb_state_write(struct plumb_state *st, const char *name, const void *data, size_t len,
		      struct plumb_err *err);

/* Reads name into b (initialized by the caller). PLUMB_E_NOTFOUND if absent. */
int plumb_state_read(struct plumb_state *st, const char *name, struct plumb_buf *b,
		     struct plumb_err *err);

/* Releases the lock and closes. Accepts NULL. */
void plumb_state_free(struct plumb_state *st);

#endif
