/* watch.h - plumbd's watch set: one inotify instance watching the parent
 * directory of every managed file and every managed directory (or, when
 * missing, its nearest existing ancestor, to see it created), each opened
 * beneath the root without following symlinks. */
#ifndef PLUMB_WATCH_H
#define PLUMB_WATCH_H

#include <stddef.h>

struct plumb_baseline;

/* No IN_DONT_FOLLOW: watches are added through /proc/self/fd/N, a magic link
 * to a directory that was already opened without following symlinks. */
#define PLUMB_WATCH_MASK (IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
			  IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

struct plumb_watch {
	int wd;
	char *dir;                 /* absolute path in the root: "/etc" ("" for the root) */
};

struct plumb_watch_set {
	int ifd;                   /* the inotify fd (non-blocking), -1 without one */
	struct plumb_watch *w;
	size_t nw;
};

void plumb_watch_init(struct plumb_watch_set *ws);

/* Rebuilds the whole set for b (NULL: an empty set) under the root
 * rootfd: a new inotify fd (the caller polls it; the old one is closed:
 * take it out of any epoll set first). Returns how many directories
 * could not be watched (the first failure is logged; drift there is
 * found by full scans), or -1 without inotify at all. */
int plumb_watch_arm(struct plumb_watch_set *ws, int rootfd, const struct plumb_baseline *b);

/* The directory wd watches, NULL when unknown. */
const char *plumb_watch_dir(const struct plumb_watch_set *ws, int wd);

/* Closes the inotify fd and forgets every watch. */
void plumb_watch_clear(struct plumb_watch_set *ws);

#endif
