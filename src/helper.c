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

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int plumb_helper_run(const char *const argv[], const char *const env[], const char *cwd, unsigned timeout_ms,
		     char *out, size_t outlen, struct plumb_err *err)
{
	const char *envp[24];
	int pout[2] = {-1, -1}, perr[2] = {-1, -1}, st = 0, k = 0, timed_out = 0, child_errno = 0;
	long deadline = mono_ms() + (long)timeout_ms;
	size_t got = 0;
	pid_t pid;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (argv[0] == NULL || argv[0][0] != '/')
		return plumb_err_set(err, PLUMB_E_INVALID, "program '%s' is not an absolute path", argv[0] ? argv[0] : "");
	envp[k++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[k++] = "LC_ALL=C";
	for (size_t i = 0; env != NULL && env[i] != NULL && k < 23; i++)
		envp[k++] = env[i];
	envp[k] = NULL;
	/* perr carries the child's errno when exec fails; CLOEXEC closes it on success. */
	if (pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
		int e = errno;

		if (pout[0] >= 0) {
			close(pout[0]);
			close(pout[1]);
		}
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot create a pipe");
	}
	if ((pid = fork()) < 0) {
		int e = errno;

		close(pout[0]);
		close(pout[1]);
		close(perr[0]);
		close(perr[1]);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot fork '%s'", argv[0]);
	}
	if (pid == 0) {
		sigset_t none;
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC), e;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);   /* plumbd blocks signals for its signalfd */
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(pout[1], STDOUT_FILENO) < 0 ||
		    dup2(pout[1], STDERR_FILENO) < 0 || (cwd != NULL && chdir(cwd) != 0)) {
			e = errno;
			(void)!write(perr[1], &e, sizeof(e));
			_exit(127);
		}
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		e = errno;
		(void)!write(perr[1], &e, sizeof(e));
		_exit(127);
	}
	close(pout[1]);
	close(perr[1]);
	for (;;) {
		struct pollfd p = {pout[0], POLLIN, 0};
		long left = deadline - mono_ms();
		char chunk[4096];
		ssize_t n;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = read(pout[0], chunk, sizeof(chunk))) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;     /* EOF: every writer (the program and what it left running) is gone */
		if (out != NULL && got + 1 < outlen) {
			size_t take = (size_t)n < outlen - 1 - got ? (size_t)n : outlen - 1 - got;

			memcpy(out + got, chunk, take);
			got += take;
			out[got] = '\0';
		}
	}
	close(pout[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	/* The output is closed; wait for the exit itself, within the deadline too. */
	for (;;) {
		pid_t w = waitpid(pid, &st, timed_out ? 0 : WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && mono_ms() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			continue;
		}
		if (w == 0) {
			struct timespec ts = {0, 10 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	if (read(perr[0], &child_errno, sizeof(child_errno)) != (ssize_t)sizeof(child_errno))
		child_errno = 0;
	close(perr[0]);
	if (timed_out)
		return plumb_err_set(err, PLUMB_E_IO, "'%s' took longer than %u ms and was killed", argv[0], timeout_ms);
	if (child_errno != 0)
		return plumb_err_errno(err, PLUMB_E_IO, child_errno, "cannot run '%s'", argv[0]);
	if (WIFSIGNALED(st))
		return 256 + WTERMSIG(st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 256;
}
