/* source.c - the baseline source interface and its directory implementation.
 * A directory source is unsigned: its info is all NULL ("signer": null). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/path.h"
#include "plumb/source.h"
#include "banned.h"

struct dir_source {
	int dirfd;
	char *dir;
	char *file;
};

static void blob_close_fd(struct plumb_blob *b)
{
	if (b->fd >= 0)
		close(b->fd);
}

/* Opens rel below the directory as a regular file. */
static int dir_open_regular(struct dir_source *d, int *out, struct stat *st, const char *rel,
			    struct plumb_err *err)
{
	int fd, r;

	r = plumb_fs_open_beneath(&fd, d->dirfd, rel, O_RDONLY | O_NONBLOCK);
	if (r == PLUMB_E_NOTFOUND)
		return plumb_err_set(err, r, "'%s' does not exist in '%s'", rel, d->dir);
	if (r == PLUMB_E_UNSAFE)
		return plumb_err_set(err, r, "'%s' in '%s' is reached through a symlink or is one", rel, d->dir);
	if (r != 0)
		return plumb_err_errno(err, r, errno, "cannot open '%s' in '%s'", rel, d->dir);
	if (fstat(fd, st) != 0) {
		int e = errno;

		close(fd);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot stat '%s' in '%s'", rel, d->dir);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' in '%s' is not a regular file", rel, d->dir);
	}
	*out = fd;
	return 0;
}

static int dir_load(void *self, struct plumb_buf *out, struct plumb_err *err)
{
	struct dir_source *d = self;
	struct stat st = {0};
	int fd = -1, r;

	if ((r = dir_open_regular(d, &fd, &st, d->file, err)) != 0)
		return r;
	if ((uint64_t)st.st_size > PLUMB_BASELINE_MAX) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_TOOBIG, "'%s' is larger than %u bytes", d->file,
				     PLUMB_BASELINE_MAX);
	}
	plumb_buf_init(out, PLUMB_BASELINE_MAX);
	r = plumb_buf_read_fd(out, fd);
	close(fd);
	if (r != 0)
		return plumb_err_errno(err, r, errno, "cannot read '%s'", d->file);
	return 0;
}

static int dir_blob_open(void *self, struct plumb_blob **out, const char *rel, struct plumb_err *err)
{
	struct dir_source *d = self;
	struct plumb_blob *b;
	struct stat st = {0};
	int fd = -1, r;

	if ((r = dir_open_regular(d, &fd, &st, rel, err)) != 0)
		return r;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	b->size = (uint64_t)st.st_size;
	b->fd = fd;
	b->release = blob_close_fd;
	*out = b;
	return 0;
}

static void dir_free(void *self)
{
	struct dir_source *d = self;

	if (d == NULL)
		return;
	if (d->dirfd >= 0)
		close(d->dirfd);
	free(d->dir);
	free(d->file);
	free(d);
}

static const struct plumb_source_ops dir_ops = {
	.load = dir_load,
	.blob_open = dir_blob_open,
	.free = dir_free,
};

int plumb_source_dir_open(struct plumb_source **out, const char *dir,
			  const char *baseline_file, struct plumb_err *err)
{
	struct plumb_source *s = NULL;
	struct dir_source *d = NULL;
	const char *why;
	size_t n;
	int r;

	*out = NULL;
	if ((why = plumb_path_check_rel(baseline_file, strlen(baseline_file))) != NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "baseline file '%s': %s", baseline_file, why);
	if ((d = calloc(1, sizeof(*d))) == NULL || (s = calloc(1, sizeof(*s))) == NULL) {
		free(d);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	d->dirfd = -1;
	if ((d->dir = strdup(dir)) == NULL || (d->file = strdup(baseline_file)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = plumb_err_errno(err, PLUMB_E_NOTFOUND, errno, "cannot open baseline directory '%s'", dir);
		goto out;
	}
	n = strlen(dir) + strlen(baseline_file) + 2;
	if ((s->name = malloc(n)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	/* The name messages use: dir/file, without a doubled slash. */
	{
		size_t dl = strlen(dir);

		memcpy(s->name, dir, dl);
		if (dl > 0 && dir[dl - 1] != '/')
			s->name[dl++] = '/';
		memcpy(s->name + dl, baseline_file, strlen(baseline_file) + 1);
	}
	s->ops = &dir_ops;
	s->self = d;
	*out = s;
	return 0;
out:
	dir_free(d);
	free(s);
	return r;
}

int plumb_source_load(struct plumb_source *s, struct plumb_buf *out, struct plumb_err *err)
{
	return s->ops->load(s->self, out, err);
}

int plumb_source_blob_open(struct plumb_source *s, struct plumb_blob **out, const char *rel,
			   struct plumb_err *err)
{
	*out = NULL;
	return s->ops->blob_open(s->self, out, rel, err);
}

int plumb_source_blob_id(struct plumb_source *s, const char *rel, unsigned char oid[20], struct plumb_err *err)
{
	if (s->ops->blob_id == NULL)
		return PLUMB_E_UNSUPPORTED;
	return s->ops->blob_id(s->self, rel, oid, err);
}

void plumb_source_trim(struct plumb_source *s)
{
	if (s != NULL && s->ops->trim != NULL)
		s->ops->trim(s->self);
}

long plumb_blob_pread(const struct plumb_blob *b, void *buf, size_t len, uint64_t off)
{
	if (b->mem != NULL) {
		if (off >= b->size)
			return 0;
		if (len > b->size - off)
			len = (size_t)(b->size - off);
		memcpy(buf, b->mem + off, len);
		return (long)len;
	}
	for (;;) {
		ssize_t n = pread(b->fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		return (long)n;
	}
}

void plumb_blob_free(struct plumb_blob *b)
{
	if (b == NULL)
		return;
	if (b->release != NULL)
		b->release(b);
	free(b);
}

void plumb_source_free(struct plumb_source *s)
{
	if (s == NULL)
		return;
	if (s->ops != NULL)
		s->ops->free(s->self);
	free(s->name);
	free(s);
}
