/* helper.c - fork+exec of libexec helpers, never through a shell.
 * The helper is looked up next to /proc/self/exe (a build tree or a
 * package's bin/sbin) and then in PLUMB_LIBEXECDIR. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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
