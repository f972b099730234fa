/* files.h - the file resource provider (regular files, directories, symlinks,
 * absent paths): inspect the actual state, diff it against the desired one,
 * repair. Every path operation goes through fs.h, relative to the root fd. */
#ifndef PLUMB_FILES_H
#define PLUMB_FILES_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "plumb/baseline.h"
#include "plumb/report.h"

struct plumb_source;
struct plumb_users;
struct plumb_quarantine;

/* Most entries of a `purge: true` directory recorded as unmanaged per run;
 * more are left to the next run (the event says so). */
#define PLUMB_PURGE_MAX 1000

/* One entry of a purged directory that the baseline does not name. */
struct plumb_file_unmanaged {
	char *name;
	mode_t mode;               /* as fstatat found it, not following symlinks */
};

/* The engine's working record for one file resource. */
/* One per file of a run (10,000 at a time): the words first, the bytes
 * last, 104 bytes and no padding between. */
struct plumb_file_job {
	const struct plumb_file_res *res;
	/* observed by inspect */
	uint64_t size;
	uint64_t nlink;
	char *link;                /* actual symlink target, when a symlink */
	/* purge: the baseline's resources (sorted by path), to tell which
	 * entries it names; and what inspect found that it does not */
	const struct plumb_file_res *all;
	size_t nall;
	struct plumb_file_unmanaged *unmanaged;
	size_t nunmanaged;
	char *error;               /* why it cannot be inspected or repaired */
	/* desired owner and group, resolved against the root */
	uid_t uid;
	gid_t gid;
	mode_t st_mode;
	uid_t st_uid;
	gid_t st_gid;
	unsigned drift;            /* PLUMB_DRIFT_* */
	unsigned char has_uid, has_gid;
	unsigned char skip;        /* not part of this run (engine's subset) */
	unsigned char inspected;   /* inspect completed (no error) */
	unsigned char exists;
	unsigned char acl;         /* an extended/default ACL was found */
	unsigned char unmanaged_more;   /* more than PLUMB_PURGE_MAX were found */
};

/* Reports hash no more than this many bytes of a found file: beyond it
 * the actual state says too_large and carries neither sha256 nor diff. */
#define PLUMB_REPORT_HASH_MAX (64u << 20)
/* A found file larger than this is compared with its source blob by size
 * first, so a huge (or sparse) file is never read to learn it differs. */
#define PLUMB_SIZE_CHECK_MIN (1u << 20)

/* Resolves owner and group names; with an owner and no group, the group is
 * the owner's primary group in the root's passwd. On failure sets job->error and returns
 * a negative code; the resource is then reported as failed. */
int plumb_file_resolve(struct plumb_file_job *job, const struct plumb_users *users);

/* A worker's open parent directory, reused while consecutive paths share it
 * (paths come sorted, so most do): saves an open and a close per file. */
struct plumb_dircache {
	int fd;                    /* -1 when empty */
	size_t len;                /* length of the cached parent path */
	char path[4096];
};

#define PLUMB_DIRCACHE_INIT { -1, 0, "" }

/* Closes the cached directory. */
void plumb_dircache_release(struct plumb_dircache *dc);

/* Observes the path and computes job->drift. Thread-safe across jobs given
 * one dircache per thread: it reads only job, the root fd and the source.
 * Sets job->error on failure. */
void plumb_file_inspect(struct plumb_file_job *job, int rootfd, struct plumb_source *src,
			struct plumb_dircache *dc);

/* Repairs a drifted job. Fills ev->error and returns a negative code on
 * failure; sets ev->quarantine when drifted content was kept. */
int plumb_file_repair(struct plumb_file_job *job, int rootfd, struct plumb_source *src,
		      struct plumb_quarantine *q, struct plumb_event *ev);

/* Whether reports may carry only hashes and sizes for this resource:
 * marked sensitive, or the desired or found file is not world-readable, or
 * the found file has more than one link. */
int plumb_file_sensitive(const struct plumb_file_job *job);

/* The desired and actual state as report objects: hashes and sizes when the
 * content drifted, plus a bounded text diff in actual.diff for text files
 * that are not sensitive. NULL on allocation failure. */
json_t *plumb_file_expected_json(const struct plumb_file_job *job, struct plumb_source *src);
json_t *plumb_file_actual_json(const struct plumb_file_job *job, int rootfd, struct plumb_source *src);

/* Frees what inspect allocated. */
void plumb_file_job_release(struct plumb_file_job *job);

#endif
