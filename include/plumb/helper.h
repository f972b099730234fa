/* helper.h - running plumb's libexec helpers (plumb-send) with an argv
 * array, found beside the running program or in PLUMB_LIBEXECDIR. */
#ifndef PLUMB_HELPER_H
#define PLUMB_HELPER_H

#include "plumb/error.h"

/* Starts the report sender for state_dir (config at cfg_path, or defaults)
 * with a time budget. Returns its pid, or a negative code. With out_fd,
 * its stdout is a pipe returned there; else, with now (plumb deliver), it is
 * ours, and otherwise our stderr, so `plumb check --json` prints only JSON. */
int plumb_helper_send(const char *cfg_path, const char *state_dir, unsigned budget_s, int now, int *out_fd,
		      struct plumb_err *err);

/* Starts the git fetcher plumb-fetch with args (NULL-terminated, argv[0]
 * excluded): environment PATH, LC_ALL=C and HOME=home (libssh2 looks
 * there for known_hosts; plumb pins the host key itself), stdin and stdout
 * /dev/null, fd 3 the write end of a pipe whose read end (O_CLOEXEC,
 * blocking) is returned in *out_fd, no other fd. Returns its pid, or a
 * negative code. */
int plumb_helper_fetch(const char *const args[], const char *home, int *out_fd, struct plumb_err *err);

/* Forks a child of plumbd's own that calls fn(arg, wfd) and exits 0 (or
 * what fn _exits with): wfd is the write end of a pipe whose read end
 * (O_CLOEXEC, blocking) is returned in *out_fd; the nclose fds in
 * close_fds are closed in the child first (the loop's own: epoll,
 * inotify, signalfd, timers). The child keeps the caller's signal mask
 * (plumbd's: SIGTERM blocked, so the waiting hook sees it pending), gets
 * a process group of its own and SIGTERM when its parent dies. Returns
 * its pid, or a negative code. For work that may wait on programs
 * (plumbd's live-state runs): the loop reads the pipe, never waits. */
int plumb_helper_fork(void (*fn)(void *arg, int wfd), void *arg, const int *close_fds, size_t nclose, int *out_fd,
		      struct plumb_err *err);

/* Waits for pid at most timeout_s seconds, then kills it. Returns its exit
 * status (0..255), or -1 when it had to be killed or died of a signal. */
int plumb_helper_wait(int pid, unsigned timeout_s);

/* Most bytes of a program's output plumb_helper_run keeps. */
#define PLUMB_HELPER_OUTPUT_MAX 65536

/* Runs argv[0] (an absolute path) with argv, never through a shell, in a
 * process group of its own: stdin /dev/null, stdout and stderr together
 * into out (NUL-terminated, at most outlen - 1 bytes kept, the rest read
 * and dropped; out may be NULL), signals unblocked, environment
 * PATH=/usr/sbin:/usr/bin:/sbin:/bin and LC_ALL=C plus env (NULL-terminated
 * "K=V" strings, may be NULL), working directory cwd (may be NULL). At
 * timeout_ms its group is killed. Returns the exit status (0..255), 256 +
 * the signal when it died of one, or PLUMB_E_IO when it could not be
 * started or ran out of time (err says which). */
int plumb_helper_run(const char *const argv[], const char *const env[], const char *cwd, unsigned timeout_ms,
		     char *out, size_t outlen, struct plumb_err *err);

struct plumb_buf;

/* The one fork/exec/wait of plumb's own children (not the git fetcher's
 * fork, gitsrc.c): either exec argv (argv[0] absolute, never a shell,
 * environment PATH and LC_ALL=C plus env) or, with fn instead, call
 * fn(arg, wfd) in the forked child (its output goes to wfd, then it
 * exits; name says what it is in messages). The child gets a process
 * group of its own, signals unblocked, working directory cwd (may be
 * NULL), stdin the inlen bytes of in (or /dev/null), stdout into out
 * (may be NULL) and stderr into errout, or, with errout NULL, an exec'd
 * program's stderr into out as well (a function child keeps ours). Each
 * buffer keeps at most its max, the rest is read and dropped. At
 * timeout_ms the group is killed. Returns the exit status (0..255), 256 +
 * the signal when it died of one, or PLUMB_E_IO when it could not be
 * started or ran out of time (err says which). */
struct plumb_helper_spec {
	const char *const *argv;
	void (*fn)(void *arg, int wfd);
	void *arg;
	const char *name;
	const char *const *env;
	const char *cwd;
	const char *in;
	size_t inlen;
	struct plumb_buf *out, *errout;
	unsigned timeout_ms;
};
int plumb_helper_spawn(const struct plumb_helper_spec *sp, struct plumb_err *err);

/* While plumb_helper_spawn (and so plumb_helper_run) waits for a program,
 * fn(arg) is called about every 500 ms; nonzero gives up at once: the
 * program's group is killed and the call returns PLUMB_E_IO ("plumb is
 * stopping"). plumbd pings its watchdog there and gives up on a pending
 * SIGTERM, so a slow apt-get, systemctl or notify: command (deadlines up to
 * 10 min) neither trips WatchdogSec nor holds up a stop. NULL: none. */
void plumb_helper_set_waiting(int (*fn)(void *arg), void *arg);

#endif
