/* probe.c - test-only: confines itself exactly as the git fetcher does
 * (plumb_sandbox_enter, fetch profile, in DIR as its cache), with USER
 * written plain:USER as a fetch without TLS does (no CA bundle), or
 * send:USER as plumb-send's network child does (send profile: no
 * directory of its own), then tries what argv asks and prints one
 * verdict per try: "ok" or the errno name. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plumb/sandbox.h"

static void verdict(const char *what, const char *arg, int ok)
{
	printf("%s %s: %s\n", what, arg, ok ? "ok" : strerrorname_np(errno));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct plumb_sandbox_user u;
	struct plumb_err err;
	enum plumb_sandbox_profile profile = PLUMB_SANDBOX_FETCH;
	const char *user;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: probe [send:|plain:]USER DIR [read:P|write:P|exec:P|unshare|mount|packet|status]...\n");
		return 2;
	}
	user = argv[1];
	if (strncmp(user, "send:", 5) == 0) {
		profile = PLUMB_SANDBOX_SEND;
		user += 5;
	} else if (strncmp(user, "plain:", 6) == 0) {
		profile = PLUMB_SANDBOX_FETCH_PLAIN;
		user += 6;
	}
	if (plumb_sandbox_lookup(&u, user, &err) != 0 || chdir(argv[2]) != 0 ||
	    plumb_sandbox_enter(&u, profile, NULL, 0, NULL, &err) != 0) {
		fprintf(stderr, "probe: %s\n", err.msg);
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "read:", 5) == 0) {
			fd = open(a + 5, O_RDONLY | O_CLOEXEC);
			verdict("read", a + 5, fd >= 0);
		} else if (strncmp(a, "write:", 6) == 0) {
			fd = open(a + 6, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			verdict("write", a + 6, fd >= 0 && write(fd, "x", 1) == 1);
		} else if (strcmp(a, "unshare") == 0) {
			verdict("unshare", "user", unshare(CLONE_NEWUSER) == 0);
		} else if (strcmp(a, "mount") == 0) {
			verdict("mount", "tmpfs", mount("none", ".", "tmpfs", 0, NULL) == 0);
		} else if (strcmp(a, "packet") == 0) {
			verdict("socket", "AF_PACKET", socket(AF_PACKET, SOCK_RAW, 0) >= 0);
		} else if (strcmp(a, "status") == 0) {
			char line[256];
			FILE *f = fopen("/proc/self/status", "r");

			while (f != NULL && fgets(line, sizeof(line), f) != NULL)
				if (strncmp(line, "Uid:", 4) == 0 || strncmp(line, "NoNewPrivs:", 11) == 0 ||
				    strncmp(line, "Seccomp:", 8) == 0)
					fputs(line, stdout);
			if (f != NULL)
				fclose(f);
		} else if (strncmp(a, "exec:", 5) == 0) {
			char *const av[] = {(char *)a + 5, NULL};

			fflush(stdout);
			execv(a + 5, av);      /* the filter kills the process here */
			verdict("exec", a + 5, 0);
		}
	}
	return 0;
}
