/* quarantine.c - bounded content-addressed store of drifted content.
 * Entries are plain files named by their SHA-256; their mtime is their age. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/quarantine.h"
#include "banned.h"

struct plumb_quarantine {
	int dirfd;
	uint64_t max;
};

int plumb_quarantine_open(struct plumb_quarantine **out, int state_dirfd, uint64_t max_bytes,
			  struct plumb_err *err)
{
	struct plumb_quarantine *q;
	int fd;

	*out = NULL;
	if (mkdirat(state_dirfd, "quarantine", 0700) != 0 && errno != EEXIST)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create the quarantine directory");
	if ((fd = openat(state_dirfd, "quarantine", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open the quarantine directory");
	(void)fchmod(fd, 0700);
	if ((q = malloc(sizeof(*q))) == NULL) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	q->dirfd = fd;
	q->max = max_bytes;
	*out = q;
	return 0;
}

void plumb_quarantine_free(struct plumb_quarantine *q)
{
	if (q == NULL)
		return;
	close(q->dirfd);
	free(q);
}

struct entry {
	char name[PLUMB_SHA256_HEX];
	struct timespec mtime;
	uint64_t size;
};

static int cmp_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int is_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == PLUMB_SHA256_HEX - 1;
}

/* Removes the oldest entries until the total fits, sparing keep. */
static void prune(struct plumb_quarantine *q, const char *keep)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dup(q->dirfd)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!is_id(de->d_name) || fstatat(q->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct entry *nv = reallocarray(v, ncap, sizeof(*nv));

			if (nv == NULL)
				goto out;
			v = nv;
			cap = ncap;
		}
		memcpy(v[n].name, de->d_name, PLUMB_SHA256_HEX);
		v[n].mtime = st.st_mtim;
		v[n].size = (uint64_t)st.st_size;
		total += v[n].size;
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_age);
	for (size_t i = 0; i < n && total > q->max; i++) {
		if (strcmp(v[i].name, keep) == 0)
			continue;
		if (unlinkat(q->dirfd, v[i].name, 0) == 0)
			total -= v[i].size;
	}
out:
	free(v);
	closedir(d);
}

int plumb_quarantine_keep(struct plumb_quarantine *q, int fd, char id[PLUMB_SHA256_HEX],
			  struct plumb_err *err)
{
	enum { CHUNK = 64 * 1024 };
	struct plumb_sha256 *h = NULL;
	unsigned char *buf = NULL;
	uint64_t off = 0;
	struct stat st;
	int out = -1, r;
	const char *tmp = ".incoming";

	id[0] = '\0';
	if (fstat(fd, &st) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot inspect content to quarantine");
	if ((uint64_t)st.st_size > q->max)
		return plumb_err_set(err, PLUMB_E_TOOBIG, "%lld bytes exceed the quarantine's %llu",
				     (long long)st.st_size, (unsigned long long)q->max);
	if ((buf = malloc(CHUNK)) == NULL || (h = plumb_sha256_new()) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	(void)unlinkat(q->dirfd, tmp, 0);
	if ((out = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a quarantine entry");
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot read content to quarantine");
			goto out;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		if (off > q->max) {
			r = plumb_err_set(err, PLUMB_E_TOOBIG, "content grew past the quarantine's size");
			goto out;
		}
		plumb_sha256_update(h, buf, (size_t)n);
		if (plumb_fs_write_all(out, buf, (size_t)n) != 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write a quarantine entry");
			goto out;
		}
	}
	plumb_sha256_final_hex(h, id);
	h = NULL;
	if (fsync(out) != 0 || renameat(q->dirfd, tmp, q->dirfd, id) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot store a quarantine entry");
		id[0] = '\0';
		goto out;
	}
	(void)fsync(q->dirfd);
	prune(q, id);
	r = 0;
out:
	if (out >= 0)
		close(out);
	if (r != 0)
		(void)unlinkat(q->dirfd, tmp, 0);
	plumb_sha256_free(h);
	free(buf);
	return r;
}
