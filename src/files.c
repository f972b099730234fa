/* files.c - inspect, diff and repair of file resources.
 * Judges every object by fstat on an fd opened without following symlinks;
 * writes only by atomic replace (fs.c); keeps drifted content in quarantine. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/diff.h"
#include "plumb/files.h"
#include "plumb/fs.h"
#include "plumb/hash.h"
#include "plumb/log.h"
#include "plumb/path.h"
#include "plumb/quarantine.h"
#include "plumb/source.h"
#include "plumb/users.h"
#include "plumb/util.h"
#include "banned.h"

enum { CHUNK = 128 * 1024 };

static void set_error(struct plumb_file_job *job, const char *msg)
{
	free(job->error);
	job->error = strdup(msg);
}

void plumb_file_job_release(struct plumb_file_job *job)
{
	free(job->link);
	free(job->error);
	for (size_t i = 0; i < job->nunmanaged; i++)
		free(job->unmanaged[i].name);
	free(job->unmanaged);
	job->link = NULL;
	job->error = NULL;
	job->unmanaged = NULL;
	job->nunmanaged = 0;
	job->unmanaged_more = 0;
}

int plumb_file_resolve(struct plumb_file_job *job, const struct plumb_users *users)
{
	const struct plumb_file_res *f = job->res;
	char msg[256];

	if (f->owner) {
		if (plumb_users_uid(users, f->owner, &job->uid) != 0) {
			snprintf(msg, sizeof(msg), "unknown user '%s' (not in the root's /etc/passwd)", f->owner);
			set_error(job, msg);
			return PLUMB_E_NOTFOUND;
		}
		job->has_uid = 1;
	}
	if (f->group) {
		if (plumb_users_gid(users, f->group, &job->gid) != 0) {
			snprintf(msg, sizeof(msg), "unknown group '%s' (not in the root's /etc/group)", f->group);
			set_error(job, msg);
			return PLUMB_E_NOTFOUND;
		}
		job->has_gid = 1;
	} else if (job->has_uid && plumb_users_primary_gid(users, job->uid, &job->gid) == 0) {
		job->has_gid = 1;   /* exact metadata: never whatever group a file inherits */
	}
	return 0;
}

int plumb_file_sensitive(const struct plumb_file_job *job)
{
	const struct plumb_file_res *f = job->res;

	if (f->sensitive || (f->has_mode && !(f->mode & S_IROTH)))
		return 1;
	return job->exists && (!(job->st_mode & S_IROTH) || (S_ISREG(job->st_mode) && job->nlink > 1));
}

/* Whether the content of the open file (fstat'ed as st) may leave the host
 * in a diff: not sensitive, desired and found both world-readable, and the
 * found inode linked once (else it may be another file's content). */
static int may_export(const struct plumb_file_job *job, const struct stat *st)
{
	return !plumb_file_sensitive(job) && S_ISREG(st->st_mode) && (st->st_mode & S_IROTH) && st->st_nlink == 1;
}

/* Compares the open regular file fd (of size) with the desired content.
 * Returns 1 equal, 0 different, negative on error (errno kept). */
static int same_content(int fd, uint64_t size, const struct plumb_file_res *f, struct plumb_blob *blob)
{
	unsigned char *a = NULL, *b = NULL;
	uint64_t want = f->has_content ? f->content_len : blob->size;
	uint64_t off = 0;
	int r = -1;

	if (size != want)
		return 0;
	/* CHUNK + 1: the last read asks one byte more, so a short read proves
	 * the end of the file without another system call. */
	if ((a = malloc(CHUNK + 1)) == NULL || (!f->has_content && (b = malloc(CHUNK)) == NULL))
		goto out;
	for (;;) {
		size_t len = want - off < CHUNK ? (size_t)(want - off) : CHUNK;
		int last = want - off <= CHUNK;
		ssize_t n = pread(fd, a, len + (size_t)last, (off_t)off);
		const void *cmp;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if ((size_t)n != len) {   /* grew or shrank under us */
			r = 0;
			goto out;
		}
		if (f->has_content) {
			cmp = f->content + off;
		} else {
			long m = plumb_blob_pread(blob, b, (size_t)n, off);

			if (m < 0)
				goto out;
			if (m != n) {
				r = 0;
				goto out;
			}
			cmp = b;
		}
		if (n > 0 && memcmp(a, cmp, (size_t)n) != 0) {
			r = 0;
			goto out;
		}
		off += (uint64_t)n;
		if (last) {
			r = 1;
			goto out;
		}
	}
out:
	free(a);
	free(b);
	return r;
}

static void inspect_meta(struct plumb_file_job *job, const struct stat *st)
{
	const struct plumb_file_res *f = job->res;

	if (f->has_mode && f->type != PLUMB_FT_SYMLINK && (st->st_mode & 07777) != f->mode)
		job->drift |= PLUMB_DRIFT_MODE;
	if (job->has_uid && st->st_uid != job->uid)
		job->drift |= PLUMB_DRIFT_OWNER;
	if (job->has_gid && st->st_gid != job->gid)
		job->drift |= PLUMB_DRIFT_GROUP;
	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		job->drift |= PLUMB_DRIFT_LINKS;
}

/* An ACL grants what the mode bits do not show: any is drift. */
static void inspect_acl(struct plumb_file_job *job, int dirfd, const char *base, int is_dir)
{
	int a = plumb_fs_has_acl(dirfd, base, is_dir);

	if (a > 0) {
		job->acl = 1;
		job->drift |= PLUMB_DRIFT_ACL;
	} else if (a < 0) {
		char msg[PLUMB_ERR_MAX];

		snprintf(msg, sizeof(msg), "cannot read the ACL of '%s': %s", job->res->path, strerror(errno));
		set_error(job, msg);
	}
}

/* Whether the baseline names dir/name, or any path below it (a directory
 * that holds managed paths is managed too). */
static int names_entry(const struct plumb_file_job *job, const char *name)
{
	const char *dir = job->res->path;
	char path[PLUMB_PATH_MAX + 2];
	size_t lo = 0, hi = job->nall, plen;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return 0;
	plen = strlen(path);
	while (lo < hi) {        /* the first path not below path in sort order */
		size_t mid = (lo + hi) / 2;

		if (strcmp(job->all[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Paths sharing the prefix sort together ("x-y" before "x/y"): scan them. */
	for (; lo < job->nall && strncmp(job->all[lo].path, path, plen) == 0; lo++)
		if (job->all[lo].path[plen] == '\0' || job->all[lo].path[plen] == '/')
			return 1;
	return 0;
}

/* purge: true: records every entry of the directory the baseline does not
 * name. plumb's own temp files are not entries (the run sweeps them). */
static void inspect_purge(struct plumb_file_job *job, int dirfd, const char *base, const struct stat *st)
{
	struct dirent *de;
	struct stat st2;
	char msg[PLUMB_ERR_MAX];
	DIR *d;
	int fd;

	fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st2) != 0 || st2.st_ino != st->st_ino || st2.st_dev != st->st_dev) {
		snprintf(msg, sizeof(msg), "cannot list '%s' to purge it: %s", job->res->path,
			 fd < 0 ? strerror(errno) : "it changed while being inspected");
		set_error(job, msg);
		if (fd >= 0)
			close(fd);
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		snprintf(msg, sizeof(msg), "cannot list '%s' to purge it: %s", job->res->path, strerror(errno));
		set_error(job, msg);
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct plumb_file_unmanaged *u;
		struct stat est;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || plumb_fs_is_temp_name(de->d_name) ||
		    names_entry(job, de->d_name))
			continue;
		if (fstatat(fd, de->d_name, &est, AT_SYMLINK_NOFOLLOW) != 0)
			continue;      /* gone meanwhile */
		if (job->nunmanaged == PLUMB_PURGE_MAX) {
			job->unmanaged_more = 1;
			break;
		}
		if (job->unmanaged == NULL &&
		    (job->unmanaged = calloc(PLUMB_PURGE_MAX, sizeof(*job->unmanaged))) == NULL)
			break;
		u = &job->unmanaged[job->nunmanaged];
		if ((u->name = strdup(de->d_name)) == NULL)
			break;
		u->mode = est.st_mode;
		job->nunmanaged++;
	}
	closedir(d);
	if (job->nunmanaged > 0)
		job->drift |= PLUMB_DRIFT_UNMANAGED;
}

static void inspect_content(struct plumb_file_job *job, int dirfd, const char *base,
			    const struct stat *st, struct plumb_source *src)
{
	const struct plumb_file_res *f = job->res;
	struct plumb_blob *blob = NULL;
	struct plumb_err e;
	struct stat st2;
	char msg[PLUMB_ERR_MAX + 64];
	int fd, same;

	if (!f->has_content && f->source == NULL)
		return;
	if (f->source != NULL) {
		unsigned char oid[20], have[20];
		int r = (uint64_t)st->st_size > PLUMB_SIZE_CHECK_MIN ? PLUMB_E_UNSUPPORTED
								      : plumb_source_blob_id(src, f->source, oid, &e);

		/* A large file: the blob's size first (below), so a huge or
		 * sparse file is never read just to learn that it differs. */
		if (r == 0) {
			/* Compare by git blob id (size and content): only the file is read. */
			fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
			if (fd < 0 || fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st->st_ino) {
				snprintf(msg, sizeof(msg), "'%s' changed while being inspected", f->path);
				set_error(job, msg);
			} else if ((r = plumb_gitblob_id_fd(have, fd, (uint64_t)st2.st_size)) == PLUMB_E_INVALID ||
				   (r == 0 && memcmp(have, oid, 20) != 0)) {
				job->drift |= PLUMB_DRIFT_CONTENT;
			} else if (r != 0) {
				snprintf(msg, sizeof(msg), "cannot read '%s': %s", f->path, strerror(errno));
				set_error(job, msg);
			}
			if (fd >= 0)
				close(fd);
			return;
		}
		if (r != PLUMB_E_UNSUPPORTED) {
			snprintf(msg, sizeof(msg), "cannot open source '%s': %s", f->source, e.msg);
			set_error(job, msg);
			return;
		}
		if (plumb_source_blob_open(src, &blob, f->source, &e) != 0) {
			snprintf(msg, sizeof(msg), "cannot open source '%s': %s", f->source, e.msg);
			set_error(job, msg);
			return;
		}
		if ((uint64_t)st->st_size != blob->size) {  /* no need to read */
			job->drift |= PLUMB_DRIFT_CONTENT;
			plumb_blob_free(blob);
			return;
		}
	} else if ((uint64_t)st->st_size != f->content_len) {
		job->drift |= PLUMB_DRIFT_CONTENT;
		return;
	}
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st->st_ino) {
		snprintf(msg, sizeof(msg), "'%s' changed while being inspected", f->path);
		set_error(job, msg);
		goto out;
	}
	same = same_content(fd, (uint64_t)st2.st_size, f, blob);
	if (same < 0) {
		snprintf(msg, sizeof(msg), "cannot read '%s': %s", f->path, strerror(errno));
		set_error(job, msg);
	} else if (!same) {
		job->drift |= PLUMB_DRIFT_CONTENT;
	}
out:
	if (fd >= 0)
		close(fd);
	plumb_blob_free(blob);
}

void plumb_dircache_release(struct plumb_dircache *dc)
{
	if (dc->fd >= 0)
		close(dc->fd);
	dc->fd = -1;
	dc->len = 0;
}

/* The parent directory of path, from the cache or freshly opened (and then
 * cached). The fd belongs to the cache. */
static int cached_parent(struct plumb_dircache *dc, int *dirfd, const char **base, int rootfd,
			 const char *path, struct plumb_err *err)
{
	size_t plen = (size_t)(strrchr(path, '/') - path);
	int fd, r;

	if (dc->fd >= 0 && dc->len == plen && memcmp(dc->path, path, plen) == 0) {
		*dirfd = dc->fd;
		*base = path + plen + 1;
		return 0;
	}
	plumb_dircache_release(dc);
	if ((r = plumb_fs_open_parent(&fd, base, rootfd, path, 0, err)) != 0)
		return r;
	if (plen < sizeof(dc->path)) {
		memcpy(dc->path, path, plen);
		dc->len = plen;
		dc->fd = fd;
	}
	*dirfd = fd;
	return 0;
}

void plumb_file_inspect(struct plumb_file_job *job, int rootfd, struct plumb_source *src,
			struct plumb_dircache *dc)
{
	const struct plumb_file_res *f = job->res;
	const char *base;
	struct plumb_err e;
	struct stat st;
	int dirfd, r;

	job->drift = 0;
	job->exists = 0;
	r = cached_parent(dc, &dirfd, &base, rootfd, f->path, &e);
	if (r == PLUMB_E_NOTFOUND) {
		/* A missing parent: the path is missing too. */
		if (!f->absent)
			job->drift |= PLUMB_DRIFT_MISSING;
		job->inspected = 1;
		return;
	}
	if (r != 0) {
		set_error(job, e.msg);
		return;
	}
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT) {
			char msg[PLUMB_ERR_MAX];

			snprintf(msg, sizeof(msg), "cannot inspect '%s': %s", f->path, strerror(errno));
			set_error(job, msg);
			return;
		}
		if (!f->absent)
			job->drift |= PLUMB_DRIFT_MISSING;
		job->inspected = 1;
		return;
	}
	job->exists = 1;
	job->st_mode = st.st_mode;
	job->st_uid = st.st_uid;
	job->st_gid = st.st_gid;
	job->size = (uint64_t)st.st_size;
	job->nlink = (uint64_t)st.st_nlink;
	if (S_ISLNK(st.st_mode)) {
		char buf[PLUMB_PATH_MAX + 2];
		ssize_t n = readlinkat(dirfd, base, buf, sizeof(buf) - 1);

		if (n >= 0) {
			buf[n] = '\0';
			job->link = strdup(buf);
		}
	}
	if (f->absent) {
		job->drift |= PLUMB_DRIFT_PRESENT;
	} else if (f->type == PLUMB_FT_FILE) {
		if (!S_ISREG(st.st_mode)) {
			job->drift |= PLUMB_DRIFT_TYPE;
		} else {
			inspect_meta(job, &st);
			inspect_acl(job, dirfd, base, 0);
			inspect_content(job, dirfd, base, &st, src);
		}
	} else if (f->type == PLUMB_FT_DIR) {
		if (!S_ISDIR(st.st_mode)) {
			job->drift |= PLUMB_DRIFT_TYPE;
		} else {
			inspect_meta(job, &st);
			inspect_acl(job, dirfd, base, 1);
			if (f->purge)
				inspect_purge(job, dirfd, base, &st);
		}
	} else {
		if (!S_ISLNK(st.st_mode)) {
			job->drift |= PLUMB_DRIFT_TYPE;
		} else {
			inspect_meta(job, &st);
			if (job->link == NULL || strcmp(job->link, f->target) != 0)
				job->drift |= PLUMB_DRIFT_TARGET;
		}
	}
	if (job->error == NULL)
		job->inspected = 1;
	if (dc->fd != dirfd)
		close(dirfd);       /* not cached (path too long) */
}

/* --- report objects ------------------------------------------------------ */

static const char *type_name(mode_t m)
{
	if (S_ISREG(m)) return "file";
	if (S_ISDIR(m)) return "directory";
	if (S_ISLNK(m)) return "symlink";
	if (S_ISFIFO(m)) return "fifo";
	if (S_ISSOCK(m)) return "socket";
	if (S_ISCHR(m)) return "character-device";
	if (S_ISBLK(m)) return "block-device";
	return "unknown";
}

static json_t *mode_json(unsigned mode)
{
	char buf[8];

	snprintf(buf, sizeof(buf), "%04o", mode & 07777);
	return json_string(buf);
}

static int blob_sha256(char out[PLUMB_SHA256_HEX], struct plumb_blob *b)
{
	unsigned char *buf = malloc(CHUNK);
	struct plumb_sha256 *h = plumb_sha256_new();
	uint64_t off = 0;

	if (buf == NULL || h == NULL) {
		free(buf);
		plumb_sha256_free(h);
		return -1;
	}
	for (;;) {
		long n = plumb_blob_pread(b, buf, CHUNK, off);

		if (n <= 0) {
			free(buf);
			if (n < 0) {
				plumb_sha256_free(h);
				return -1;
			}
			plumb_sha256_final_hex(h, out);
			return 0;
		}
		plumb_sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
}

json_t *plumb_file_expected_json(const struct plumb_file_job *job, struct plumb_source *src)
{
	const struct plumb_file_res *f = job->res;
	json_t *o = json_object();
	static const char *types[] = {"file", "directory", "symlink"};

	if (o == NULL)
		return NULL;
	if (f->absent) {
		json_object_set_new(o, "state", json_string("absent"));
		return o;
	}
	json_object_set_new(o, "type", json_string(types[f->type]));
	if (f->has_mode)
		json_object_set_new(o, "mode", mode_json(f->mode));
	if (job->has_uid)
		json_object_set_new(o, "owner", json_integer(job->uid));
	if (job->has_gid)
		json_object_set_new(o, "group", json_integer(job->gid));
	if (f->type == PLUMB_FT_SYMLINK)
		json_object_set_new(o, "target", json_string(f->target));
	if (job->drift & (PLUMB_DRIFT_CONTENT | PLUMB_DRIFT_MISSING | PLUMB_DRIFT_TYPE)) {
		char hex[PLUMB_SHA256_HEX];

		if (f->has_content && plumb_sha256_mem_hex(hex, f->content, f->content_len) == 0) {
			json_object_set_new(o, "size", json_integer((json_int_t)f->content_len));
			json_object_set_new(o, "sha256", json_string(hex));
		} else if (f->source != NULL) {
			struct plumb_blob *b;

			if (plumb_source_blob_open(src, &b, f->source, NULL) == 0) {
				if (blob_sha256(hex, b) == 0) {
					json_object_set_new(o, "size", json_integer((json_int_t)b->size));
					json_object_set_new(o, "sha256", json_string(hex));
				}
				plumb_blob_free(b);
			}
		}
	}
	if (plumb_file_sensitive(job))
		json_object_set_new(o, "sensitive", json_true());
	return o;
}

/* Reads up to max bytes of a blob or inline content into memory. */
static char *desired_text(const struct plumb_file_res *f, struct plumb_source *src, size_t max, size_t *len)
{
	struct plumb_blob *b;
	char *t = NULL;

	if (f->has_content) {
		if (f->content_len > max || (t = malloc(f->content_len + 1)) == NULL)
			return NULL;
		memcpy(t, f->content, f->content_len + 1);
		*len = f->content_len;
		return t;
	}
	if (f->source == NULL || plumb_source_blob_open(src, &b, f->source, NULL) != 0)
		return NULL;
	if (b->size <= max && (t = malloc((size_t)b->size + 1)) != NULL) {
		if (plumb_blob_pread(b, t, (size_t)b->size, 0) == (long)b->size) {
			t[b->size] = '\0';
			*len = (size_t)b->size;
		} else {
			free(t);
			t = NULL;
		}
	}
	plumb_blob_free(b);
	return t;
}

/* The found content's digest and, where it may leave the host, a diff:
 * read through a fresh fd, never past the size fstat gave at open, never
 * past PLUMB_REPORT_HASH_MAX, never through an inode with other links. */
static void add_found_content(json_t *o, const struct plumb_file_job *job, int rootfd, struct plumb_source *src)
{
	const char *base;
	char hex[PLUMB_SHA256_HEX];
	struct stat st;
	int dirfd, fd;

	if (plumb_fs_open_parent(&dirfd, &base, rootfd, job->res->path, 0, NULL) != 0)
		return;
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	close(dirfd);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
		goto out;
	if ((uint64_t)st.st_size > PLUMB_REPORT_HASH_MAX) {
		json_object_set_new(o, "too_large", json_true());
		goto out;
	}
	if (plumb_sha256_fd_hex(hex, NULL, fd, (uint64_t)st.st_size) == 0)
		json_object_set_new(o, "sha256", json_string(hex));
	/* What was written, as text, unless it may not leave the host. */
	if (may_export(job, &st) && (uint64_t)st.st_size <= PLUMB_DIFF_INPUT_MAX) {
		size_t wlen = 0;
		char *want = desired_text(job->res, src, PLUMB_DIFF_INPUT_MAX, &wlen);
		char *have = want ? malloc((size_t)st.st_size + 1) : NULL;
		ssize_t got = have ? pread(fd, have, (size_t)st.st_size, 0) : -1;
		char *d = NULL;

		if (got == (ssize_t)st.st_size)
			d = plumb_text_diff(want, wlen, have, (size_t)got, PLUMB_DIFF_OUTPUT_MAX);
		if (d)
			json_object_set_new(o, "diff", json_string(d));
		free(d);
		free(want);
		free(have);
	}
out:
	close(fd);
}

json_t *plumb_file_actual_json(const struct plumb_file_job *job, int rootfd, struct plumb_source *src)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (!job->exists) {
		json_object_set_new(o, "state", json_string("absent"));
		return o;
	}
	json_object_set_new(o, "type", json_string(type_name(job->st_mode)));
	if (!S_ISLNK(job->st_mode))
		json_object_set_new(o, "mode", mode_json(job->st_mode));
	json_object_set_new(o, "owner", json_integer(job->st_uid));
	json_object_set_new(o, "group", json_integer(job->st_gid));
	if (S_ISLNK(job->st_mode) && job->link != NULL)
		json_object_set_new(o, "target", json_string(job->link));
	if (S_ISREG(job->st_mode)) {
		json_object_set_new(o, "size", json_integer((json_int_t)job->size));
		if (job->nlink > 1)
			json_object_set_new(o, "links", json_integer((json_int_t)job->nlink));
	}
	if (job->acl)
		json_object_set_new(o, "acl", json_true());
	if (job->nunmanaged > 0) {
		json_t *u = json_array();

		for (size_t i = 0; u != NULL && i < job->nunmanaged; i++) {
			char name[4 * 256 + 2], shown[4 * 256 + 4];

			plumb_escape_ctl(name, sizeof(name), job->unmanaged[i].name);
			snprintf(shown, sizeof(shown), "%s%s", name, S_ISDIR(job->unmanaged[i].mode) ? "/" : "");
			json_array_append_new(u, json_string(shown));
		}
		if (u != NULL)
			json_object_set_new(o, "unmanaged", u);
	}
	if (S_ISREG(job->st_mode) && (job->drift & PLUMB_DRIFT_CONTENT))
		add_found_content(o, job, rootfd, src);
	return o;
}

/* --- repair -------------------------------------------------------------- */

struct fill_ctx {
	const struct plumb_file_res *f;
	struct plumb_source *src;
};

static int fill_content(void *vctx, int fd, struct plumb_err *err)
{
	struct fill_ctx *ctx = vctx;
	struct plumb_blob *blob;
	unsigned char *buf;
	uint64_t off = 0;
	int r;

	if (ctx->f->has_content) {
		struct plumb_fs_mem m = {ctx->f->content, ctx->f->content_len};

		return plumb_fs_fill_mem(&m, fd, err);
	}
	if (ctx->f->source == NULL)
		return 0;  /* metadata only, created empty */
	if ((r = plumb_source_blob_open(ctx->src, &blob, ctx->f->source, err)) != 0)
		return r;
	if (blob->mem != NULL) {
		r = plumb_fs_write_all(fd, blob->mem, (size_t)blob->size);
		plumb_blob_free(blob);
		return r ? plumb_err_errno(err, r, errno, "cannot write") : 0;
	}
	if ((buf = malloc(CHUNK)) == NULL) {
		plumb_blob_free(blob);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	r = 0;
	for (;;) {
		long n = plumb_blob_pread(blob, buf, CHUNK, off);

		if (n < 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot read source '%s'", ctx->f->source);
			break;
		}
		if (n == 0)
			break;
		if (plumb_fs_write_all(fd, buf, (size_t)n) != 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write");
			break;
		}
		off += (uint64_t)n;
	}
	free(buf);
	plumb_blob_free(blob);
	return r;
}

static int fail(struct plumb_event *ev, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct plumb_event *ev, int code, const char *fmt, ...)
{
	char msg[PLUMB_ERR_MAX];
	char *prev = ev->error;   /* a quarantine note, kept after the failure */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (prev != NULL) {
		size_t n = strlen(msg) + strlen(prev) + 3;

		if ((ev->error = malloc(n)) != NULL)
			snprintf(ev->error, n, "%s; %s", msg, prev);
		free(prev);
	} else {
		ev->error = strdup(msg);
	}
	return code;
}

/* Keeps the current regular file in the quarantine, if it still is one and
 * is linked once (another link keeps the content, and it may not be this
 * resource's to read). A failure to keep is recorded on the event. */
static void keep_old(int dirfd, const char *base, const struct stat *st, struct plumb_quarantine *q,
		     const char *resource, struct plumb_event *ev)
{
	char id[PLUMB_SHA256_HEX];
	struct plumb_err e;
	struct stat st2;
	int fd, r;

	if (q == NULL || !S_ISREG(st->st_mode) || st->st_nlink != 1)
		return;
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st2) == 0 && S_ISREG(st2.st_mode) && st2.st_nlink == 1) {
		r = plumb_quarantine_keep(q, fd, resource, id, &e);
		if (r == 0) {
			free(ev->quarantine);
			ev->quarantine = strdup(id);
		}
		if (r != 0 || e.msg[0] != '\0') {
			/* Not kept (or kept at the cost of other evidence): say so. */
			char msg[PLUMB_ERR_MAX + 64];

			snprintf(msg, sizeof(msg), "%s: %s", r == 0 ? "quarantine" : "drifted content not kept", e.msg);
			free(ev->error);
			ev->error = strdup(msg);
			ev->evidence_lost = r != 0 && r != PLUMB_E_TOOBIG;
			plumb_log(ev->evidence_lost ? PLUMB_LOG_WARN : PLUMB_LOG_INFO, "%s: %s", ev->resource, msg);
		}
	}
	close(fd);
}

/* Sets ACLs, owner, group and mode on an open fd (fstat'ed as st) as the
 * baseline says, never widening access on the way: first the mode is
 * reduced to what both the old and the new mode allow, then the ACL goes,
 * then the owner, then the exact mode. A regular file with other links is
 * never changed: its inode belongs to another path too. */
static int fix_meta_fd(int fd, const struct stat *st, const struct plumb_file_job *job, int created,
		       struct plumb_event *ev)
{
	const struct plumb_file_res *f = job->res;
	int is_dir = S_ISDIR(st->st_mode);
	uid_t uid = job->has_uid ? job->uid : (created ? geteuid() : (uid_t)-1);
	gid_t gid = job->has_gid ? job->gid : (created ? getegid() : (gid_t)-1);
	mode_t cur = st->st_mode & 07777;

	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		return fail(ev, PLUMB_E_UNSAFE,
			    "'%s' has %llu hard links; plumb never changes the owner or mode of an inode another "
			    "path shares (remove the other links, or manage its content so it gets a fresh inode)",
			    f->path, (unsigned long long)st->st_nlink);
	if (f->has_mode && (cur & f->mode & 0777) != cur && fchmod(fd, cur & f->mode & 0777) != 0)
		return fail(ev, PLUMB_E_IO, "cannot change mode of '%s': %s", f->path, strerror(errno));
	if (plumb_fs_strip_acl(fd, is_dir) != 0)
		return fail(ev, PLUMB_E_IO, "cannot remove the ACL of '%s': %s", f->path, strerror(errno));
	if ((uid != (uid_t)-1 && uid != st->st_uid) || (gid != (gid_t)-1 && gid != st->st_gid)) {
		if (fchown(fd, uid, gid) != 0)
			return fail(ev, PLUMB_E_IO, "cannot change owner of '%s': %s", f->path, strerror(errno));
	}
	/* chown may clear set-id bits: set the mode after it, always. */
	if (f->has_mode && fchmod(fd, f->mode) != 0)
		return fail(ev, PLUMB_E_IO, "cannot change mode of '%s': %s", f->path, strerror(errno));
	return 0;
}

static int repair_absent(int dirfd, const char *base, const struct plumb_file_res *f,
			 struct plumb_quarantine *q, struct plumb_event *ev)
{
	struct stat st;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : fail(ev, PLUMB_E_IO, "cannot inspect '%s': %s", f->path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, base, AT_REMOVEDIR) != 0)
			return fail(ev, PLUMB_E_UNSAFE, "cannot remove directory '%s': %s%s", f->path, strerror(errno),
				    errno == ENOTEMPTY ? " (plumb never removes a directory tree)" : "");
	} else {
		keep_old(dirfd, base, &st, q, ev->resource, ev);
		if (unlinkat(dirfd, base, 0) != 0)
			return fail(ev, PLUMB_E_IO, "cannot remove '%s': %s", f->path, strerror(errno));
	}
	if (fsync(dirfd) != 0)
		return fail(ev, PLUMB_E_IO, "cannot fsync the directory of '%s': %s", f->path, strerror(errno));
	return 0;
}

static int repair_file(int dirfd, const char *base, struct plumb_file_job *job, struct plumb_source *src,
		       struct plumb_quarantine *q, struct plumb_event *ev)
{
	const struct plumb_file_res *f = job->res;
	int managed = f->has_content || f->source != NULL;
	struct plumb_err e;
	struct stat st;
	int exists = 1, fd, r;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return fail(ev, PLUMB_E_IO, "cannot inspect '%s': %s", f->path, strerror(errno));
		exists = 0;
	}
	if (exists && S_ISDIR(st.st_mode))
		return fail(ev, PLUMB_E_UNSAFE, "'%s' is a directory; refusing to replace a directory with a file",
			    f->path);
	if (exists && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		return fail(ev, PLUMB_E_UNSAFE, "'%s' is a %s; refusing to replace it", f->path, type_name(st.st_mode));
	/* Content drift, or a managed file sharing its inode: a fresh inode. */
	if (!exists || !S_ISREG(st.st_mode) ||
	    (managed && ((job->drift & PLUMB_DRIFT_CONTENT) || st.st_nlink > 1))) {
		int keep_meta = exists && S_ISREG(st.st_mode);
		struct plumb_fs_meta meta = {
			.mode = f->has_mode ? f->mode : (keep_meta ? (st.st_mode & 07777) : 0644),
			.uid = job->has_uid ? job->uid : (keep_meta ? st.st_uid : (uid_t)-1),
			.gid = job->has_gid ? job->gid : (keep_meta ? st.st_gid : (gid_t)-1),
		};
		struct fill_ctx ctx = {f, src};

		if (exists)
			keep_old(dirfd, base, &st, q, ev->resource, ev);
		if ((r = plumb_fs_replace(dirfd, base, &meta, fill_content, &ctx, &e)) != 0)
			return fail(ev, r, "%s", e.msg);
		return 0;
	}
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail(ev, PLUMB_E_IO, "cannot open '%s': %s", f->path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(ev, PLUMB_E_UNSAFE, "'%s' changed type during repair", f->path);
	}
	r = fix_meta_fd(fd, &st, job, 0, ev);
	close(fd);
	return r;
}

static int repair_dir(int dirfd, const char *base, struct plumb_file_job *job, struct plumb_event *ev)
{
	const struct plumb_file_res *f = job->res;
	struct stat st;
	int fd, r, created = 0;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return fail(ev, PLUMB_E_IO, "cannot inspect '%s': %s", f->path, strerror(errno));
		/* Created private; fix_meta_fd gives it its exact metadata. */
		if (mkdirat(dirfd, base, 0700) != 0)
			return fail(ev, PLUMB_E_IO, "cannot create '%s': %s", f->path, strerror(errno));
		created = 1;
	} else if (!S_ISDIR(st.st_mode)) {
		return fail(ev, PLUMB_E_UNSAFE, "'%s' is a %s; refusing to replace it with a directory", f->path,
			    type_name(st.st_mode));
	}
	fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(ev, PLUMB_E_UNSAFE, "cannot open directory '%s': %s", f->path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return fail(ev, PLUMB_E_IO, "cannot inspect '%s': %s", f->path, strerror(errno));
	}
	r = fix_meta_fd(fd, &st, job, created, ev);
	if (r == 0 && created && !f->has_mode && fchmod(fd, 0755) != 0)
		r = fail(ev, PLUMB_E_IO, "cannot change mode of '%s': %s", f->path, strerror(errno));
	close(fd);
	if (created)
		(void)fsync(dirfd);
	return r;
}

/* purge: removes what inspect found unnamed in the directory: regular
 * files and symlinks are kept in the quarantine first (a symlink is removed,
 * never followed); an empty subdirectory is removed; a subdirectory with
 * entries, and anything else, stays and makes the repair a failure. */
static int purge_entries(int dirfd, const char *base, struct plumb_file_job *job, struct plumb_quarantine *q,
			 struct plumb_event *ev)
{
	const struct plumb_file_res *f = job->res;
	char kept[PLUMB_ERR_MAX] = "";
	size_t nkept = 0, left = 0;
	struct stat st;
	int fd;

	fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(ev, PLUMB_E_UNSAFE, "cannot open directory '%s' to purge it: %s", f->path, strerror(errno));
	for (size_t i = 0; i < job->nunmanaged; i++) {
		const char *name = job->unmanaged[i].name;
		char why[96] = "";

		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				snprintf(why, sizeof(why), "cannot inspect it: %s", strerror(errno));
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			char res[PLUMB_PATH_MAX + 300];

			snprintf(res, sizeof(res), "file:%s/%s", f->path, name);
			keep_old(fd, name, &st, q, res, ev);
			if (unlinkat(fd, name, 0) != 0 && errno != ENOENT)
				snprintf(why, sizeof(why), "cannot remove it: %s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (unlinkat(fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
				snprintf(why, sizeof(why), "%s",
					 errno == ENOTEMPTY || errno == EEXIST ? "a directory that is not empty (plumb never removes a tree)"
									       : strerror(errno));
		} else {
			snprintf(why, sizeof(why), "a %s (plumb removes only files, symlinks and empty directories)",
				 type_name(st.st_mode));
		}
		if (why[0] != '\0') {
			char shown[4 * 256 + 2];
			size_t n = strlen(kept);

			left++;
			if (nkept++ < 4 && n < sizeof(kept))
				snprintf(kept + n, sizeof(kept) - n, "%s'%s': %s", n ? "; " : "",
					 plumb_escape_ctl(shown, sizeof(shown), name), why);
		}
	}
	if (fsync(fd) != 0) {
		int e = errno;

		close(fd);
		return fail(ev, PLUMB_E_IO, "cannot fsync '%s': %s", f->path, strerror(e));
	}
	close(fd);
	if (left > 0)
		return fail(ev, PLUMB_E_UNSAFE, "'%s' still holds %zu entr%s the baseline does not name: %s", f->path, left,
			    left == 1 ? "y" : "ies", kept);
	if (job->unmanaged_more)
		return fail(ev, PLUMB_E_TOOBIG, "'%s' held more than %d entries the baseline does not name; the rest "
			    "go with the next run", f->path, PLUMB_PURGE_MAX);
	return 0;
}

static int repair_symlink(int dirfd, const char *base, struct plumb_file_job *job,
			  struct plumb_quarantine *q, struct plumb_event *ev)
{
	const struct plumb_file_res *f = job->res;
	char cur[PLUMB_PATH_MAX + 2];
	struct plumb_err e;
	struct stat st;
	int exists = 1, r;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return fail(ev, PLUMB_E_IO, "cannot inspect '%s': %s", f->path, strerror(errno));
		exists = 0;
	}
	if (exists && !S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode))
		return fail(ev, PLUMB_E_UNSAFE, "'%s' is a %s; refusing to replace it with a symlink", f->path,
			    type_name(st.st_mode));
	if (exists && S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dirfd, base, cur, sizeof(cur) - 1);

		if (n >= 0) {
			cur[n] = '\0';
			if (strcmp(cur, f->target) == 0) {
				/* Only ownership drifted. */
				if (fchownat(dirfd, base, job->has_uid ? job->uid : (uid_t)-1,
					     job->has_gid ? job->gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) != 0)
					return fail(ev, PLUMB_E_IO, "cannot change owner of '%s': %s", f->path,
						    strerror(errno));
				return 0;
			}
		}
	}
	if (exists)
		keep_old(dirfd, base, &st, q, ev->resource, ev);
	{
		struct plumb_fs_meta meta = {0, job->has_uid ? job->uid : (uid_t)-1,
					     job->has_gid ? job->gid : (gid_t)-1};

		if ((r = plumb_fs_replace_symlink(dirfd, base, f->target, &meta, &e)) != 0)
			return fail(ev, r, "%s", e.msg);
	}
	return 0;
}

int plumb_file_repair(struct plumb_file_job *job, int rootfd, struct plumb_source *src,
		      struct plumb_quarantine *q, struct plumb_event *ev)
{
	const struct plumb_file_res *f = job->res;
	const char *base;
	struct plumb_err e;
	int dirfd, r;

	r = plumb_fs_open_parent(&dirfd, &base, rootfd, f->path, !f->absent, &e);
	if (r == PLUMB_E_NOTFOUND && f->absent)
		return 0;
	if (r != 0)
		return fail(ev, r, "%s", e.msg);
	if (f->absent)
		r = repair_absent(dirfd, base, f, q, ev);
	else if (f->type == PLUMB_FT_FILE)
		r = repair_file(dirfd, base, job, src, q, ev);
	else if (f->type == PLUMB_FT_DIR) {
		if ((r = repair_dir(dirfd, base, job, ev)) == 0 && (job->drift & PLUMB_DRIFT_UNMANAGED))
			r = purge_entries(dirfd, base, job, q, ev);
	}
	else
		r = repair_symlink(dirfd, base, job, q, ev);
	close(dirfd);
	return r;
}
