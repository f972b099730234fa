/* fs.h - every filesystem operation on a managed tree: opens confined below
 * a directory fd without following symlinks, creation of missing parents,
 * and atomic replacement (temp in the same directory, fsync, rename, fsync). */
#ifndef PLUMB_FS_H
#define PLUMB_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plumb/error.h"

/* Turns use of openat2(2) on or off (on by default where the kernel has it);
 * off forces the per-component O_NOFOLLOW walk, for tests of that path. */
void plumb_fs_set_openat2(int enabled);

/* Opens rel (relative, normalized) below dirfd, never following a symlink in
 * any component and never leaving dirfd. flags as for openat; O_NOFOLLOW and
 * O_CLOEXEC are added. Returns 0 with *out set, PLUMB_E_NOTFOUND (ENOENT),
 * PLUMB_E_UNSAFE (a component is a symlink or not a directory), or
 * PLUMB_E_IO; errno is kept. */
int plumb_fs_open_beneath(int *out, int dirfd, const char *rel, int flags);

/* Opens the directory holding abs_path (absolute, normalized) below rootfd
 * and points *base at the last component inside abs_path. With create,
 * missing directories are made 0755, owned by the caller. Returns as
 * plumb_fs_open_beneath; err names the offending component. */
int plumb_fs_open_parent(int *out, const char **base, int rootfd, const char *abs_path,
			 int create, struct plumb_err *err);

/* Desired metadata for a new file; -1 uid/gid keep the caller's. */
struct plumb_fs_meta {
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* Writes content for a replacement: called once with the temp file's fd. */
typedef int (*plumb_fs_fill_fn)(void *ctx, int fd, struct plumb_err *err);

/* Atomically replaces name in dirfd with a regular file whose content comes
 * from fill, whose metadata is meta: O_EXCL temp under a random name in
 * dirfd (0600, inherited ACL removed), fill, fchown (always: -1 means the
 * caller's euid/egid, never the directory's setgid group), fchmod, fsync,
 * renameat, fsync dirfd. On failure the temp is removed and
 * name is untouched. Returns 0 or a negative code with err filled. */
int plumb_fs_replace(int dirfd, const char *name, const struct plumb_fs_meta *meta,
		     plumb_fs_fill_fn fill, void *ctx, struct plumb_err *err);

/* Atomically replaces name in dirfd with a symlink to target, owned per
 * meta (mode ignored). Same guarantees as plumb_fs_replace. */
int plumb_fs_replace_symlink(int dirfd, const char *name, const char *target,
			     const struct plumb_fs_meta *meta, struct plumb_err *err);

/* Removes plumb temp files (".plumb-<16 hex>.tmp") in dirfd that plumb
 * itself could have left (a run killed between write and rename): regular
 * files or symlinks owned by the effective uid with a single link, and
 * never a name keep() claims (a managed path that looks like a temp).
 * keep may be NULL. Returns how many were removed. */
int plumb_fs_clean_temps(int dirfd, int (*keep)(void *ctx, const char *name), void *ctx);

/* True if name is one of plumb's temp file names. */
int plumb_fs_is_temp_name(const char *name);

/* Draws a fresh, unpredictable temp file name (getrandom) into out. */
void plumb_fs_temp_name(char out[32]);

/* Removes the access ACL of fd, and with is_dir its default ACL too.
 * Absent ACLs and filesystems without them are fine. Returns 0 or
 * PLUMB_E_IO (errno kept). */
int plumb_fs_strip_acl(int fd, int is_dir);

/* Whether name in dirfd (not followed) carries an extended access ACL, or
 * with is_dir a default ACL. Returns 1, 0, or -1 on error (errno kept). */
int plumb_fs_has_acl(int dirfd, const char *name, int is_dir);

/* Writes all of len bytes to fd. Returns 0 or PLUMB_E_IO (errno kept). */
int plumb_fs_write_all(int fd, const void *p, size_t len);

/* Reads from fd into buf until len bytes or end of file, retrying EINTR
 * and short reads; at offset off with pread when off >= 0 (the file
 * offset is then untouched). Returns the bytes read, or -1 when a read
 * failed (errno kept; what was read before is in buf). */
ssize_t plumb_fs_read_upto(int fd, void *buf, size_t len, off_t off);

/* Convenience fill for plumb_fs_replace from memory. */
struct plumb_fs_mem {
	const void *data;
	size_t len;
};
int plumb_fs_fill_mem(void *ctx, int fd, struct plumb_err *err);

/* Opens (creating with mode if missing) a directory by plain path, refusing
 * a symlink as the last component. Returns 0 or a negative code. */
int plumb_fs_open_dir_path(int *out, const char *path, int create, mode_t mode,
			   struct plumb_err *err);

#endif
