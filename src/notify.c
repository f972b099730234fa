/* notify.c - NOTIFY_SOCKET datagrams (the sd_notify protocol).
 * One sendto per message; an abstract socket is written '@name'. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "plumb/error.h"
#include "plumb/notify.h"
#include "plumb/util.h"
#include "banned.h"

int plumb_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	size_t n;
	int fd, r;

	if (path == NULL || path[0] == '\0')
		return 1;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return PLUMB_E_INVALID;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return PLUMB_E_IO;
	r = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0 ? PLUMB_E_IO : 0;
	close(fd);
	return r;
}

uint64_t plumb_notify_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (us == NULL || plumb_parse_u64(&v, us, UINT64_MAX) != 0 || v == 0)
		return 0;
	if (pid != NULL && (plumb_parse_u64(&p, pid, UINT32_MAX) != 0 || p != (uint64_t)getpid()))
		return 0;
	return v;
}
