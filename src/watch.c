/* watch.c - plumbd's watch set (watch.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "plumb/baseline.h"
#include "plumb/fs.h"
#include "plumb/log.h"
#include "plumb/watch.h"
#include "banned.h"

void plumb_watch_init(struct plumb_watch_set *ws)
{
	ws->ifd = -1;
	ws->w = NULL;
	ws->nw = 0;
}

void plumb_watch_clear(struct plumb_watch_set *ws)
{
	for (size_t i = 0; i < ws->nw; i++)
		free(ws->w[i].dir);
	free(ws->w);
	ws->w = NULL;
	ws->nw = 0;
	if (ws->ifd >= 0) {
		close(ws->ifd);
		ws->ifd = -1;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Watches dir (absolute in the root), or its nearest existing ancestor.
 * Returns 0, or -1 when inotify refused the watch (errno kept). */
static int watch_dir(struct plumb_watch_set *ws, int rootfd, char *dir)
{
	char proc[64];
	int fd = -1, wd;

	for (;;) {
		char *slash;
		int r = dir[0] == '\0' ? ((fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0 ? PLUMB_E_IO : 0)
				       : plumb_fs_open_beneath(&fd, rootfd, dir + 1, O_RDONLY | O_DIRECTORY);

		if (r == 0)
			break;
		if (dir[0] == '\0' || (slash = strrchr(dir, '/')) == NULL)
			return 0;
		*slash = '\0';   /* missing or unsafe: watch the parent for its creation */
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(ws->ifd, proc, PLUMB_WATCH_MASK);
	close(fd);
	if (wd < 0)
		return -1;
	for (size_t i = 0; i < ws->nw; i++)
		if (ws->w[i].wd == wd)
			return 0;
	{
		struct plumb_watch *nv = reallocarray(ws->w, ws->nw + 1, sizeof(*nv));

		if (nv == NULL)
			return 0;
		ws->w = nv;
		ws->w[ws->nw].wd = wd;
		ws->w[ws->nw].dir = strdup(dir);
		if (ws->w[ws->nw].dir != NULL)
			ws->nw++;
	}
	return 0;
}

int plumb_watch_arm(struct plumb_watch_set *ws, int rootfd, const struct plumb_baseline *b)
{
	char **dirs = NULL;
	size_t n = 0;
	int missed = 0;

	plumb_watch_clear(ws);
	if ((ws->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		plumb_log(PLUMB_LOG_WARN, "inotify unavailable (%s): only full scans will find drift", strerror(errno));
		return -1;
	}
	if (b == NULL)
		return 0;
	if ((dirs = calloc(b->nfiles * 2 + 1, sizeof(*dirs))) == NULL)
		return 0;
	for (size_t i = 0; i < b->nfiles; i++) {
		const struct plumb_file_res *f = &b->files[i];

		dirs[n++] = strndup(f->path, (size_t)(strrchr(f->path, '/') - f->path));
		if (f->type == PLUMB_FT_DIR && !f->absent)
			dirs[n++] = strdup(f->path);
	}
	qsort(dirs, n, sizeof(*dirs), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char buf[PATH_MAX];

		if (dirs[i] == NULL || (i > 0 && dirs[i - 1] && strcmp(dirs[i - 1], dirs[i]) == 0))
			continue;
		snprintf(buf, sizeof(buf), "%s", dirs[i]);
		if (watch_dir(ws, rootfd, buf) != 0 && missed++ == 0)
			plumb_log(PLUMB_LOG_WARN, "cannot watch '%s' (%s): drift there is found by the full scan%s",
				  buf[0] ? buf : "/", strerror(errno),
				  errno == ENOSPC ? "; raise fs.inotify.max_user_watches" : "");
	}
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	plumb_log(PLUMB_LOG_DEBUG, "watching %zu directories", ws->nw);
	return missed;
}

const char *plumb_watch_dir(const struct plumb_watch_set *ws, int wd)
{
	for (size_t i = 0; i < ws->nw; i++)
		if (ws->w[i].wd == wd)
			return ws->w[i].dir;
	return NULL;
}
