/* fs.c - confined, symlink-free path walking and atomic file replacement.
 * Every managed path goes through here; nothing else calls open(2) on one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "banned.h"

static int openat2_enabled = 1;   /* set to 0 by tests or after ENOSYS */

void plumb_fs_set_openat2(int enabled) { openat2_enabled = enabled; }

static int code_of(int e)
{
	switch (e) {
	case ENOENT: return PLUMB_E_NOTFOUND;
	case ELOOP: case ENOTDIR: case EXDEV: return PLUMB_E_UNSAFE;
	case ENOMEM: return PLUMB_E_NOMEM;
	default: return PLUMB_E_IO;
	}
}

/* The fallback: one openat(O_NOFOLLOW) per component. */
static int walk_open(int dirfd, const char *rel, int flags)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int cur = dirfd, fd;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || n > NAME_MAX) {
			if (cur != dirfd)
				close(cur);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (slash == NULL) {
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
		} else {
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (cur != dirfd) {
			int e = errno;

			close(cur);
			errno = e;
		}
		if (fd < 0 || slash == NULL)
			return fd;
		cur = fd;
		p = slash + 1;
	}
}

int plumb_fs_open_beneath(int *out, int dirfd, const char *rel, int flags)
{
	int fd = -1;

	*out = -1;
	if (openat2_enabled) {
		struct open_how how;

		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
		how.mode = (flags & O_CREAT) ? 0600 : 0;
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG)) {
			openat2_enabled = 0;  /* old kernel or seccomp filter */
		} else if (fd < 0) {
			if (errno == EAGAIN)   /* a concurrent rename: take the slow walk */
				fd = walk_open(dirfd, rel, flags);
			if (fd < 0)
				return code_of(errno);
		}
	}
	if (fd < 0 && (fd = walk_open(dirfd, rel, flags)) < 0)
		return code_of(errno);
	*out = fd;
	return 0;
}

/* Finds the first component of rel below dirfd that stops a walk and says
 * why, naming it as an absolute path. */
static int explain(int dirfd, const char *rel, int code, struct plumb_err *err)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int cur = dirfd, r = code;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int plen = (int)(p - rel + (ptrdiff_t)n);
		struct stat st;

		if (n > NAME_MAX)
			break;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				r = plumb_err_set(err, PLUMB_E_NOTFOUND, "'/%.*s' does not exist", plen, rel);
			else
				r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot inspect '/%.*s'", plen, rel);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			r = plumb_err_set(err, PLUMB_E_UNSAFE,
					  "'/%.*s' is a symlink; refusing to follow it", plen, rel);
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			r = plumb_err_set(err, PLUMB_E_UNSAFE, "'/%.*s' is not a directory", plen, rel);
			break;
		}
		if (slash == NULL) {
			r = plumb_err_errno(err, code, errno, "cannot open '/%s'", rel);
			break;
		}
		{
			int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (cur != dirfd)
				close(cur);
			cur = fd;
			if (fd < 0) {
				r = plumb_err_errno(err, code_of(errno), errno, "cannot open '/%.*s'", plen, rel);
				break;
			}
		}
		p = slash + 1;
	}
	if (cur != dirfd && cur >= 0)
		close(cur);
	return r;
}

/* Walks rel creating missing directories (0755). */
static int walk_create(int *out, int dirfd, const char *rel, struct plumb_err *err)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int cur = dirfd;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int fd, created = 0;

		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(cur, comp, 0755) == 0)
			created = 1;
		else if (errno != EEXIST) {
			int e = errno;

			if (cur != dirfd)
				close(cur);
			return plumb_err_errno(err, code_of(e), e, "cannot create '/%.*s'",
					       (int)(p - rel + (ptrdiff_t)n), rel);
		}
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			int e = errno, r;

			r = explain(dirfd, rel, code_of(e), err);
			if (cur != dirfd)
				close(cur);
			return r;
		}
		if (created) {
			/* Exactly 0755 and ours, whatever the umask, a default ACL or
			 * a setgid bit on the parent would have given it. */
			if (plumb_fs_strip_acl(fd, 1) != 0 || fchown(fd, geteuid(), getegid()) != 0 ||
			    fchmod(fd, 0755) != 0) {
				int e = errno;

				close(fd);
				if (cur != dirfd)
					close(cur);
				return plumb_err_errno(err, code_of(e), e, "cannot set the metadata of '/%.*s'",
						       (int)(p - rel + (ptrdiff_t)n), rel);
			}
			(void)fsync(cur);
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	*out = cur;
	return 0;
}

int plumb_fs_open_parent(int *out, const char **base, int rootfd, const char *abs_path,
			 int create, struct plumb_err *err)
{
	char dir[PATH_MAX];
	const char *rel = abs_path + 1;
	const char *slash = strrchr(rel, '/');
	size_t n;
	int r;

	*out = -1;
	if (slash == NULL) {
		*base = rel;
		if ((*out = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
			return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot duplicate the root fd");
		return 0;
	}
	*base = slash + 1;
	n = (size_t)(slash - rel);
	if (n >= sizeof(dir))
		return plumb_err_set(err, PLUMB_E_INVALID, "'%s' is too long", abs_path);
	memcpy(dir, rel, n);
	dir[n] = '\0';
	r = plumb_fs_open_beneath(out, rootfd, dir, O_RDONLY | O_DIRECTORY);
	if (r == 0)
		return 0;
	if (r == PLUMB_E_NOTFOUND && create)
		return walk_create(out, rootfd, dir, err);
	return explain(rootfd, dir, r, err);
}

void plumb_fs_temp_name(char out[32])
{
	unsigned char r[8];
	size_t got = 0;

	/* Unpredictable, so a directory's owner cannot plant the name first. */
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();   /* the kernel's CSPRNG does not fail once seeded */
		got += (size_t)n;
	}
	snprintf(out, 32, ".plumb-%02x%02x%02x%02x%02x%02x%02x%02x.tmp", r[0], r[1], r[2], r[3], r[4], r[5],
		 r[6], r[7]);
}

int plumb_fs_is_temp_name(const char *name)
{
	if (strlen(name) != 27 || strncmp(name, ".plumb-", 7) != 0 || strcmp(name + 23, ".tmp") != 0)
		return 0;
	for (int i = 7; i < 23; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

int plumb_fs_clean_temps(int dirfd, int (*keep)(void *ctx, const char *name), void *ctx)
{
	struct dirent *de;
	int fd, n = 0;
	DIR *d;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!plumb_fs_is_temp_name(de->d_name) || (keep != NULL && keep(ctx, de->d_name)))
			continue;
		/* Only what plumb could have left: ours, and a single link. */
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != geteuid() ||
		    !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) || st.st_nlink != 1)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Strips the access ACL (and a directory's default ACL) from fd. */
int plumb_fs_strip_acl(int fd, int is_dir)
{
	static const char *const names[] = {"system.posix_acl_access", "system.posix_acl_default"};

	for (int i = 0; i < (is_dir ? 2 : 1); i++)
		if (fremovexattr(fd, names[i]) != 0 && errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP)
			return PLUMB_E_IO;
	return 0;
}

int plumb_fs_has_acl(int dirfd, const char *name, int is_dir)
{
	static const char *const names[] = {"system.posix_acl_access", "system.posix_acl_default"};
	char path[64 + NAME_MAX];

	/* lgetxattr through the magic link of the directory fd: the last
	 * component is not followed, and no fd is opened on the object. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	for (int i = 0; i < (is_dir ? 2 : 1); i++) {
		if (lgetxattr(path, names[i], NULL, 0) >= 0)
			return 1;
		if (errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP)
			return -1;
	}
	return 0;
}

int plumb_fs_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;    /* no progress: never loop on it */
			return PLUMB_E_IO;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t plumb_fs_read_upto(int fd, void *buf, size_t len, off_t off)
{
	char *c = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = off >= 0 ? pread(fd, c + got, len - got, off + (off_t)got) : read(fd, c + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int plumb_fs_fill_mem(void *ctx, int fd, struct plumb_err *err)
{
	const struct plumb_fs_mem *m = ctx;

	if (plumb_fs_write_all(fd, m->data, m->len) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write");
	return 0;
}

/* Renames the finished temp over name and makes the rename durable. */
static int commit_temp(int dirfd, const char *tmp, const char *name, struct plumb_err *err)
{
	if (renameat(dirfd, tmp, dirfd, name) != 0) {
		int e = errno;

		(void)unlinkat(dirfd, tmp, 0);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot rename over '%s'", name);
	}
	if (fsync(dirfd) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fsync the directory of '%s'", name);
	return 0;
}

/* Creates a temp file under a fresh random name, exclusively: an existing
 * object of that name (planted or not) is never touched, a new name is drawn. */
static int create_temp(int dirfd, char tmp[32])
{
	for (int tries = 0; tries < 16; tries++) {
		int fd;

		plumb_fs_temp_name(tmp);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int plumb_fs_replace(int dirfd, const char *name, const struct plumb_fs_meta *meta,
		     plumb_fs_fill_fn fill, void *ctx, struct plumb_err *err)
{
	char tmp[32];
	int fd, r;

	if ((fd = create_temp(dirfd, tmp)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a temporary file for '%s'", name);
	/* A default ACL on the directory gave the new file an access ACL: drop
	 * it before any content is written, so only the mode bits decide. */
	if (plumb_fs_strip_acl(fd, 0) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot remove the inherited ACL of '%s'", name);
		goto out_unlink;
	}
	if ((r = fill(ctx, fd, err)) != 0)
		goto out_unlink;
	/* Owner and group always explicitly: a setgid directory would
	 * otherwise hand its group to the file. */
	if (fchown(fd, meta->uid != (uid_t)-1 ? meta->uid : geteuid(),
		   meta->gid != (gid_t)-1 ? meta->gid : getegid()) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot set owner of '%s'", name);
		goto out_unlink;
	}
	if (fchmod(fd, meta->mode) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot set mode of '%s'", name);
		goto out_unlink;
	}
	if (fsync(fd) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fsync '%s'", name);
		goto out_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot close '%s'", name);
		goto out_unlink;
	}
	return commit_temp(dirfd, tmp, name, err);
out_unlink:
	if (fd >= 0)
		close(fd);
	(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int plumb_fs_replace_symlink(int dirfd, const char *name, const char *target,
			     const struct plumb_fs_meta *meta, struct plumb_err *err)
{
	char tmp[32];
	int r, made = 0;

	for (int tries = 0; tries < 16 && !made; tries++) {
		plumb_fs_temp_name(tmp);
		if (symlinkat(target, dirfd, tmp) == 0)
			made = 1;
		else if (errno != EEXIST)
			break;
	}
	if (!made)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a temporary symlink for '%s'", name);
	if (fchownat(dirfd, tmp, meta->uid != (uid_t)-1 ? meta->uid : geteuid(),
		     meta->gid != (gid_t)-1 ? meta->gid : getegid(), AT_SYMLINK_NOFOLLOW) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot set owner of symlink '%s'", name);
		goto out_unlink;
	}
	return commit_temp(dirfd, tmp, name, err);
out_unlink:
	(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int plumb_fs_open_dir_path(int *out, const char *path, int create, mode_t mode,
			   struct plumb_err *err)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);
	int fd;

	*out = -1;
	if (n == 0 || n >= sizeof(buf))
		return plumb_err_set(err, PLUMB_E_INVALID, "bad directory path '%s'", path);
	if (create) {
		memcpy(buf, path, n + 1);
		for (char *p = buf + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return plumb_err_errno(err, code_of(errno), errno, "cannot create '%s'", buf);
			*p = '/';
		}
		if (mkdir(path, mode) != 0 && errno != EEXIST)
			return plumb_err_errno(err, code_of(errno), errno, "cannot create '%s'", path);
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, code_of(errno), errno, "cannot open directory '%s'", path);
	if (create && fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 07777) != mode)
		(void)fchmod(fd, mode);
	*out = fd;
	return 0;
}
