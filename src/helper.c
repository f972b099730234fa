/* helper.c - fork+exec of libexec helpers, never through a shell.
 * The helper is looked up next to /proc/self/exe (a build tree or a
 * package's bin/sbin) and then in PLUMB_LIBEXECDIR. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/helper.h"
#include "banned.h"

#ifndef PLUMB_LIBEXECDIR
#define PLUMB_LIBEXECDIR "/usr/libexec/plumb"
#endif

static int find_helper(char out[PATH_MAX], const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, PATH_MAX, "%.*s/%s", PATH_MAX - 64, self, name) < PATH_MAX &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	snprintf(out, PATH_MAX, "%s/%s", PLUMB_LIBEXECDIR, name);
	return access(out, X_OK) == 0 ? 0 : -1;
}

int plumb_helper_send(const char *cfg_path, const char *state_dir, unsigned budget_s, int now, int *out_fd,
		      struct plumb_err *err)
{
	char path[PATH_MAX], budget[16];
	const char *argv[12];
	int fds[2] = {-1, -1}, k = 0;
	pid_t pid;

	if (find_helper(path, "plumb-send") != 0)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "cannot find plumb-send beside this program or in %s",
				     PLUMB_LIBEXECDIR);
	snprintf(budget, sizeof(budget), "%u", budget_s);
	argv[k++] = "plumb-send";
	if (cfg_path) {
		argv[k++] = "-c";
		argv[k++] = cfg_path;
	}
	argv[k++] = "--state-dir";
	argv[k++] = state_dir;
	argv[k++] = "--budget";
	argv[k++] = budget;
	if (now)
		argv[k++] = "--now";
	argv[k] = NULL;
	if (out_fd != NULL && pipe2(fds, O_CLOEXEC) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a pipe");
	if ((pid = fork()) < 0) {
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fork plumb-send");
	}
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);   /* plumbd blocks signals for its signalfd */
		if (fds[1] >= 0)
			dup2(fds[1], STDOUT_FILENO);
		else if (!now)
			dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	if (out_fd != NULL) {
		close(fds[1]);
		*out_fd = fds[0];
	}
	return pid;
}

int plumb_helper_fetch(const char *const args[], const char *home, int *out_fd, struct plumb_err *err)
{
	char path[PATH_MAX], homev[PATH_MAX + 8];
	const char *argv[40];
	int fds[2], k = 0;
	pid_t pid;

	if (find_helper(path, "plumb-fetch") != 0)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "cannot find plumb-fetch beside this program or in %s",
				     PLUMB_LIBEXECDIR);
	argv[k++] = "plumb-fetch";
	for (size_t i = 0; args[i] != NULL && k < 39; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	snprintf(homev, sizeof(homev), "HOME=%s", home);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a pipe");
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fork plumb-fetch");
	}
	if (pid == 0) {
		const char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", homev, NULL};
		sigset_t none;
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);   /* plumbd blocks signals for its signalfd */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* fd 3 is the frame pipe (dup2 clears CLOEXEC); 0 and 1 /dev/null,
		 * 2 ours; nothing else of the parent's crosses the exec. */
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0 ||
		    (fds[1] == 3 ? fcntl(3, F_SETFD, 0) : dup2(fds[1], 3)) < 0)
			_exit(127);
		close_range(4, ~0U, 0);
		execve(path, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

int plumb_helper_fork(void (*fn)(void *arg, int wfd), void *arg, const int *close_fds, size_t nclose, int *out_fd,
		      struct plumb_err *err)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a pipe");
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fork");
	}
	if (pid == 0) {
		close(fds[0]);
		for (size_t i = 0; i < nclose; i++)
			if (close_fds[i] >= 0 && close_fds[i] != fds[1])
				close(close_fds[i]);
		(void)setpgid(0, 0);
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		fn(arg, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

int plumb_helper_wait(int pid, unsigned timeout_s)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	unsigned long waited_ms = 0;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited_ms >= timeout_s * 1000UL) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		nanosleep(&ts, NULL);
		waited_ms += 20;
	}
}

/* --- running a program from an argv array, with a deadline ---------------- */

static int (*waiting_fn)(void *);
static void *waiting_arg;

void plumb_helper_set_waiting(int (*fn)(void *arg), void *arg)
{
	waiting_fn = fn;
	waiting_arg = arg;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The waiting hook, at most every 500 ms (*last: when it last ran);
 * nonzero: give up now. */
static int waiting_says_stop(long *last)
{
	long now = mono_ms();

	if (waiting_fn == NULL || now - *last < 500)
		return 0;
	*last = now;
	return waiting_fn(waiting_arg) != 0;
}

/* Appends what fits under b->max, drops the rest (the output is capped,
 * the program is read to its end all the same). */
static void add_capped(struct plumb_buf *b, const char *p, size_t n)
{
	size_t room = b != NULL && b->max > b->len ? b->max - b->len : 0;

	if (room > 0)
		(void)plumb_buf_add(b, p, n < room ? n : room);
}

static void close_pair(int v[2])
{
	for (int i = 0; i < 2; i++)
		if (v[i] >= 0) {
			close(v[i]);
			v[i] = -1;
		}
}

int plumb_helper_spawn(const struct plumb_helper_spec *sp, struct plumb_err *err)
{
	const char *envp[24];
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, pst[2] = {-1, -1};
	int st = 0, k = 0, timed_out = 0, cancelled = 0, child_errno = 0;
	long deadline = mono_ms() + (long)sp->timeout_ms, hooked = mono_ms();
	size_t inoff = 0;
	pid_t pid;
	const char *what = sp->argv != NULL ? sp->argv[0] : sp->name;

	if (sp->argv == NULL && sp->fn == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "nothing to run");
	if (sp->argv != NULL && (sp->argv[0] == NULL || sp->argv[0][0] != '/'))
		return plumb_err_set(err, PLUMB_E_INVALID, "program '%s' is not an absolute path",
				     sp->argv[0] ? sp->argv[0] : "");
	envp[k++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[k++] = "LC_ALL=C";
	for (size_t i = 0; sp->env != NULL && sp->env[i] != NULL && k < 23; i++)
		envp[k++] = sp->env[i];
	envp[k] = NULL;
	/* pst carries the child's errno when exec fails; CLOEXEC closes it on success. */
	if (pipe2(pout, O_CLOEXEC) != 0 || pipe2(pst, O_CLOEXEC) != 0 ||
	    (sp->errout != NULL && pipe2(perr, O_CLOEXEC) != 0) || (sp->inlen > 0 && pipe2(pin, O_CLOEXEC) != 0)) {
		int e = errno;

		close_pair(pout);
		close_pair(pst);
		close_pair(perr);
		close_pair(pin);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot create a pipe");
	}
	if ((pid = fork()) < 0) {
		int e = errno;

		close_pair(pout);
		close_pair(pst);
		close_pair(perr);
		close_pair(pin);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot fork '%s'", what);
	}
	if (pid == 0) {
		sigset_t none;
		int nul = pin[0] >= 0 ? pin[0] : open("/dev/null", O_RDONLY | O_CLOEXEC), e;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);   /* plumbd blocks signals for its signalfd */
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(pout[1], STDOUT_FILENO) < 0 ||
		    (sp->errout != NULL && dup2(perr[1], STDERR_FILENO) < 0) ||
		    (sp->errout == NULL && sp->argv != NULL && dup2(pout[1], STDERR_FILENO) < 0) ||
		    (sp->cwd != NULL && chdir(sp->cwd) != 0)) {
			e = errno;
			(void)!write(pst[1], &e, sizeof(e));
			_exit(127);
		}
		if (sp->fn != NULL) {
			sp->fn(sp->arg, STDOUT_FILENO);
			_exit(0);
		}
		execve(sp->argv[0], (char *const *)sp->argv, (char *const *)envp);
		e = errno;
		(void)!write(pst[1], &e, sizeof(e));
		_exit(127);
	}
	close(pout[1]);
	close(pst[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	if (pin[0] >= 0) {
		close(pin[0]);
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	}
	while (pout[0] >= 0 || perr[0] >= 0) {
		struct pollfd p[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
		long left = deadline - mono_ms();
		char chunk[16384];

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (waiting_says_stop(&hooked)) {
			cancelled = timed_out = 1;
			break;
		}
		if (poll(p, 3, (int)(left > 500 ? 500 : left)) < 0 && errno != EINTR)
			break;
		if (pin[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(pin[1], sp->in + inoff, sp->inlen - inoff);

			if (w > 0)
				inoff += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || inoff == sp->inlen) {
				close(pin[1]);   /* all of it, or the program stopped reading */
				pin[1] = -1;
			}
		}
		for (int i = 0; i < 2; i++) {
			int *fd = i == 0 ? &pout[0] : &perr[0];
			ssize_t n;

			if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if ((n = read(*fd, chunk, sizeof(chunk))) < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* EOF: every writer (the program and what it left running) is gone */
				close(*fd);
				*fd = -1;
			} else if (i == 0 && sp->out != NULL) {
				add_capped(sp->out, chunk, (size_t)n);
			} else if (i == 1) {
				add_capped(sp->errout, chunk, (size_t)n);
			}
		}
	}
	if (pout[0] >= 0)
		close(pout[0]);
	if (perr[0] >= 0)
		close(perr[0]);
	if (pin[1] >= 0)
		close(pin[1]);
	if (timed_out)
		kill(-pid, SIGKILL);
	/* The output is closed; wait for the exit itself, within the deadline too. */
	for (;;) {
		pid_t w = waitpid(pid, &st, timed_out ? 0 : WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && (mono_ms() >= deadline || waiting_says_stop(&hooked))) {
			cancelled = mono_ms() < deadline;
			timed_out = 1;
			kill(-pid, SIGKILL);
			continue;
		}
		if (w == 0) {
			struct timespec ts = {0, 10 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	if (read(pst[0], &child_errno, sizeof(child_errno)) != (ssize_t)sizeof(child_errno))
		child_errno = 0;
	close(pst[0]);
	if (cancelled)
		return plumb_err_set(err, PLUMB_E_IO, "'%s' was killed: plumb is stopping", what);
	if (timed_out)
		return plumb_err_set(err, PLUMB_E_IO, "'%s' took longer than %u ms and was killed", what, sp->timeout_ms);
	if (child_errno != 0)
		return plumb_err_errno(err, PLUMB_E_IO, child_errno, "cannot run '%s'", what);
	if (WIFSIGNALED(st))
		return 256 + WTERMSIG(st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 256;
}

int plumb_helper_run(const char *const argv[], const char *const env[], const char *cwd, unsigned timeout_ms,
		     char *out, size_t outlen, struct plumb_err *err)
{
	struct plumb_buf b;
	struct plumb_helper_spec sp = {.argv = argv, .env = env, .cwd = cwd, .timeout_ms = timeout_ms};
	int r;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	plumb_buf_init(&b, out != NULL && outlen > 0 ? outlen - 1 : 0);
	sp.out = &b;
	r = plumb_helper_spawn(&sp, err);
	if (out != NULL && outlen > 0 && b.data != NULL)
		memcpy(out, b.data, b.len + 1);
	plumb_buf_release(&b);
	return r;
}
