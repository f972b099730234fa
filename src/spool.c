/* spool.c - the durable report outbox.
 * Names sort oldest first: "<unix s, 11 digits><ns, 9 digits>-<d|h>-<uuid>.json". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "plumb/buf.h"
#include "plumb/fs.h"
#include "plumb/log.h"
#include "plumb/spool.h"
#include "plumb/state.h"
#include "plumb/util.h"
#include "banned.h"

int plumb_spool_dirfd(struct plumb_state *st, struct plumb_err *err)
{
	int fd;

	if (mkdirat(st->dirfd, PLUMB_SPOOL_DIR, 0700) != 0 && errno != EEXIST)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create '%s/%s'", st->path, PLUMB_SPOOL_DIR);
	if ((fd = openat(st->dirfd, PLUMB_SPOOL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s/%s'", st->path, PLUMB_SPOOL_DIR);
	return fd;
}

static int parse_name(struct plumb_spool_entry *e, const char *name)
{
	size_t n = strlen(name);

	/* 20 digits, '-', d|h, '-', 36-char uuid, ".json" */
	if (n != 20 + 1 + 1 + 1 + 36 + 5 || name[20] != '-' || name[22] != '-' || strcmp(name + n - 5, ".json") != 0 ||
	    (name[21] != 'd' && name[21] != 'h'))
		return -1;
	for (int i = 0; i < 20; i++)
		if (name[i] < '0' || name[i] > '9')
			return -1;
	memcpy(e->name, name, n + 1);
	e->heartbeat = name[21] == 'h';
	{
		char secs[12];

		memcpy(secs, name, 11);
		secs[11] = '\0';
		e->queued_at = (time_t)strtoll(secs, NULL, 10);
	}
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct plumb_spool_entry *)a)->name, ((const struct plumb_spool_entry *)b)->name);
}

int plumb_spool_list(struct plumb_state *st, struct plumb_spool_entry **out, size_t *n, struct plumb_err *err)
{
	struct plumb_spool_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	*out = NULL;
	*n = 0;
	if ((fd = plumb_spool_dirfd(st, err)) < 0)
		return fd;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot list the spool");
	}
	while ((de = readdir(d)) != NULL) {
		struct plumb_spool_entry e;
		struct stat sb;

		if (parse_name(&e, de->d_name) != 0 || fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		e.size = (uint64_t)sb.st_size;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct plumb_spool_entry *nv = reallocarray(v, ncap, sizeof(*nv));

			if (nv == NULL) {
				free(v);
				closedir(d);
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			}
			v = nv;
			cap = ncap;
		}
		v[cnt++] = e;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_entry);
	*out = v;
	*n = cnt;
	return 0;
}

/* How many damaged stats files were set aside so far (they stay in the
 * spool as evidence): the counter survives even when stats.json does not. */
static uint64_t count_set_aside(int dfd)
{
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;
	int fd;

	if ((fd = dup(dfd)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, PLUMB_SPOOL_STATS ".corrupt-", sizeof(PLUMB_SPOOL_STATS ".corrupt-") - 1) == 0)
			n++;
	closedir(d);
	return n;
}

static int get_u64(uint64_t *out, const json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (v == NULL) {
		*out = 0;     /* older agents did not write every field */
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_stats(struct plumb_spool_stats *s, const char *text, size_t len)
{
	uint64_t v[12];
	static const char *const keys[] = {"dropped_heartbeats", "write_errors", "rejected", "last_delivery",
					   "last_attempt", "next_attempt", "failures", "last_heartbeat",
					   "stats_set_aside", "auth_refused", "throttled", "split"};
	const char *e;
	json_t *j, *le;
	int r = -1;

	if ((j = json_loadb(text, len, 0, NULL)) == NULL)
		return -1;
	if (!json_is_object(j))
		goto out;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (get_u64(&v[i], j, keys[i]) != 0)
			goto out;
	if ((le = json_object_get(j, "last_error")) != NULL && !json_is_string(le))
		goto out;
	s->dropped_heartbeats = v[0];
	s->write_errors = v[1];
	s->rejected = v[2];
	s->last_delivery = (time_t)v[3];
	s->last_attempt = (time_t)v[4];
	s->next_attempt = (time_t)v[5];
	s->failures = v[6] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[6];
	s->last_heartbeat = (time_t)v[7];
	s->set_aside = v[8];
	s->auth_refused = v[9];
	s->throttled = v[10];
	s->split = v[11];
	if ((e = json_string_value(le)) != NULL)
		snprintf(s->last_error, sizeof(s->last_error), "%s", e);
	r = 0;
out:
	json_decref(j);
	return r;
}

static int stats_load(struct plumb_state *st, struct plumb_spool_stats *s, int set_aside, struct plumb_err *err)
{
	struct plumb_buf b;
	struct plumb_err e;
	char shown[4096], aside[64];
	int dfd, r;

	memset(s, 0, sizeof(*s));
	if ((dfd = plumb_spool_dirfd(st, err)) < 0) {
		s->unusable = 1;
		return dfd;
	}
	snprintf(shown, sizeof(shown), "%s/%s/%s", st->path, PLUMB_SPOOL_DIR, PLUMB_SPOOL_STATS);
	plumb_buf_init(&b, PLUMB_SPOOL_STATS_MAX);
	r = plumb_read_regular(&b, dfd, PLUMB_SPOOL_STATS, shown, &e);
	if (r == PLUMB_E_NOTFOUND) {
		s->set_aside = count_set_aside(dfd);
		r = 0;
		goto out;
	}
	if (r == 0 && parse_stats(s, b.data, b.len) == 0)
		goto out;
	if (r == 0)
		r = plumb_err_set(&e, PLUMB_E_PARSE, "'%s' is damaged", shown);
	if (!set_aside) {
		memset(s, 0, sizeof(*s));
		s->unusable = 1;
		if (err != NULL)
			*err = e;
		goto out;
	}
	/* Unreadable or damaged: never start again from zeros over it. Set it
	 * aside as evidence (its counters are what proves nothing was lost),
	 * count that, and begin a fresh file. */
	memset(s, 0, sizeof(*s));
	/* Never over an earlier one: corrupt-T, corrupt-T.1, ... */
	for (int i = 0;; i++) {
		if (i == 0)
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld", PLUMB_SPOOL_STATS, (long long)time(NULL));
		else
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld.%d", PLUMB_SPOOL_STATS, (long long)time(NULL), i);
		if ((r = renameat2(dfd, PLUMB_SPOOL_STATS, dfd, aside, RENAME_NOREPLACE)) == 0 || errno != EEXIST || i >= 99)
			break;
	}
	if (r != 0 || fsync(dfd) != 0) {
		struct plumb_err e2;

		r = plumb_err_errno(&e2, PLUMB_E_IO, errno, "%s; cannot set it aside as '%s' (counters are not "
				    "written until it can be)", e.msg, aside);
		plumb_log(PLUMB_LOG_ERROR, "%s", e2.msg);
		if (err != NULL)
			*err = e2;
		s->unusable = 1;
		goto out;
	}
	s->set_aside = count_set_aside(dfd);
	plumb_log(PLUMB_LOG_ERROR, "%s; kept it as '%s/%s/%s' and started new counters (%llu stats file(s) set aside)",
		  e.msg, st->path, PLUMB_SPOOL_DIR, aside, (unsigned long long)s->set_aside);
	r = 0;
out:
	plumb_buf_release(&b);
	close(dfd);
	return r;
}

int plumb_spool_stats_load(struct plumb_state *st, struct plumb_spool_stats *s, struct plumb_err *err)
{
	return stats_load(st, s, 1, err);
}

int plumb_spool_stats_peek(struct plumb_state *st, struct plumb_spool_stats *s, struct plumb_err *err)
{
	return stats_load(st, s, 0, err);
}

long plumb_spool_retry_wait(const struct plumb_spool_stats *s, time_t now)
{
	/* Wall-clock times from the file: if the last attempt lies in the
	 * future the clock was stepped back, and the stored plan means
	 * nothing: retry now. In any case never wait longer than the cap. */
	if (s->next_attempt <= now || s->last_attempt > now + 1)
		return 0;
	if (s->next_attempt - now > PLUMB_SPOOL_RETRY_MAX)
		return PLUMB_SPOOL_RETRY_MAX;
	return (long)(s->next_attempt - now);
}

int plumb_spool_heartbeat_due(const struct plumb_spool_stats *s, time_t now, uint64_t interval)
{
	/* A last heartbeat in the future means the clock went back: due now. */
	return s->last_heartbeat > now || (uint64_t)(now - s->last_heartbeat) >= interval;
}

#define STATS_SIZE 512

/* Stats are one fixed-size record rewritten in place: on a full disk the
 * counters (write errors above all) can still be kept, as no new block is
 * needed. The first write creates it atomically (in spool/, fsyncing spool/). */
int plumb_spool_stats_save(struct plumb_state *st, const struct plumb_spool_stats *s)
{
	struct plumb_fs_meta meta = {0600, (uid_t)-1, (gid_t)-1};
	struct plumb_fs_mem m;
	json_t *j;
	char *text, rec[STATS_SIZE];
	size_t n;
	int fd, dfd, r = -1;

	if (s->unusable)
		return PLUMB_E_IO;   /* the old file could not be set aside: do not write zeros over it */
	/* The record has a fixed size: a long last_error is shortened to fit. */
	for (int keep = (int)sizeof(s->last_error);; keep -= 32) {
		j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s%}",
			      "dropped_heartbeats", (json_int_t)s->dropped_heartbeats,
			      "write_errors", (json_int_t)s->write_errors, "rejected", (json_int_t)s->rejected,
			      "last_delivery", (json_int_t)s->last_delivery, "last_attempt", (json_int_t)s->last_attempt,
			      "next_attempt", (json_int_t)s->next_attempt, "failures", (json_int_t)s->failures,
			      "last_heartbeat", (json_int_t)s->last_heartbeat, "stats_set_aside", (json_int_t)s->set_aside,
			      "auth_refused", (json_int_t)s->auth_refused, "throttled", (json_int_t)s->throttled,
			      "split", (json_int_t)s->split, "last_error", s->last_error,
			      strnlen(s->last_error, keep > 0 ? (size_t)keep : 0));
		text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(j);
		if (text == NULL)
			return PLUMB_E_NOMEM;
		if ((n = strlen(text)) < STATS_SIZE)
			break;
		free(text);
		if (keep <= 0)
			return PLUMB_E_NOMEM;
	}
	memset(rec, ' ', sizeof(rec));
	memcpy(rec, text, n);
	rec[STATS_SIZE - 1] = '\n';
	free(text);
	if ((dfd = plumb_spool_dirfd(st, NULL)) < 0)
		return dfd;
	if (plumb_open_regular(&fd, dfd, PLUMB_SPOOL_STATS, O_WRONLY, 0, PLUMB_SPOOL_STATS, NULL) == 0) {
		struct stat sb;

		if (fstat(fd, &sb) == 0 && sb.st_size == STATS_SIZE && pwrite(fd, rec, STATS_SIZE, 0) == STATS_SIZE &&
		    fdatasync(fd) == 0)
			r = 0;
		close(fd);
	}
	if (r != 0) {
		m.data = rec;
		m.len = STATS_SIZE;
		r = plumb_fs_replace(dfd, PLUMB_SPOOL_STATS, &meta, plumb_fs_fill_mem, &m, NULL);
	}
	close(dfd);
	return r;
}

int plumb_spool_lock_delivery(struct plumb_state *st, struct plumb_err *err)
{
	char shown[4096];
	int fd = -1, dfd, r;

	if ((dfd = plumb_spool_dirfd(st, err)) < 0)
		return dfd;
	snprintf(shown, sizeof(shown), "%s/%s/%s", st->path, PLUMB_SPOOL_DIR, PLUMB_SPOOL_LOCK);
	r = plumb_lock_file(&fd, dfd, PLUMB_SPOOL_LOCK, shown, 0, NULL, err);
	close(dfd);
	if (r != 0) {
		if (fd >= 0)
			close(fd);
		if (r == PLUMB_E_IO && err != NULL && strstr(err->msg, "holds") != NULL)
			plumb_err_set(err, PLUMB_E_IO, "another delivery is in progress ('%s' is locked)", shown);
		return r;
	}
	return fd;
}

void plumb_spool_sweep(struct plumb_state *st)
{
	int lock, dfd, rfd, n;

	/* Only when no delivery runs: plumb-send writes temps here too. */
	if ((lock = plumb_spool_lock_delivery(st, NULL)) < 0)
		return;
	if ((dfd = plumb_spool_dirfd(st, NULL)) >= 0) {
		if ((n = plumb_fs_clean_temps(dfd, NULL, NULL)) > 0)
			plumb_log(PLUMB_LOG_INFO, "removed %d temporary file(s) a killed run left in '%s/%s'", n, st->path,
				  PLUMB_SPOOL_DIR);
		if ((rfd = openat(dfd, "rejected", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			(void)plumb_fs_clean_temps(rfd, NULL, NULL);
			close(rfd);
		}
		close(dfd);
	}
	close(lock);
}

/* Drops the oldest heartbeats until the spool fits its bounds. */
static void enforce_bounds(struct plumb_state *st, int dfd, struct plumb_spool_stats *s)
{
	struct plumb_spool_entry *v;
	uint64_t bytes = 0, count;
	size_t n;

	if (plumb_spool_list(st, &v, &n, NULL) != 0)
		return;
	count = n;
	for (size_t i = 0; i < n; i++)
		bytes += v[i].size;
	for (size_t i = 0; i < n && (count > PLUMB_SPOOL_MAX_COUNT || bytes > PLUMB_SPOOL_MAX_BYTES); i++) {
		if (!v[i].heartbeat)
			continue;   /* never a report that carries events */
		if (unlinkat(dfd, v[i].name, 0) == 0) {
			count--;
			bytes -= v[i].size;
			s->dropped_heartbeats++;
		}
	}
	free(v);
}

int plumb_spool_put(struct plumb_state *st, const char *id, int heartbeat, const char *text, size_t len,
		    struct plumb_err *err)
{
	struct plumb_fs_meta meta = {0600, (uid_t)-1, (gid_t)-1};
	struct plumb_fs_mem m = {text, len};
	struct plumb_spool_stats s;
	struct timespec ts;
	char name[96];
	int dfd, r;

	(void)plumb_spool_stats_load(st, &s, NULL);
	if ((dfd = plumb_spool_dirfd(st, err)) < 0) {
		s.write_errors++;
		plumb_spool_stats_save(st, &s);
		return dfd;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "%011lld%09ld-%c-%.36s.json", (long long)ts.tv_sec, ts.tv_nsec,
		 heartbeat ? 'h' : 'd', id);
	if ((r = plumb_fs_replace(dfd, name, &meta, plumb_fs_fill_mem, &m, err)) != 0) {
		s.write_errors++;
	} else {
		if (heartbeat)
			s.last_heartbeat = ts.tv_sec;
		enforce_bounds(st, dfd, &s);
	}
	close(dfd);
	plumb_spool_stats_save(st, &s);
	return r;
}

int plumb_spool_read(struct plumb_state *st, const struct plumb_spool_entry *e, char **text, size_t *len,
		     struct plumb_err *err)
{
	struct plumb_buf b;
	char rel[128];
	int r;

	snprintf(rel, sizeof(rel), "%s/%s", PLUMB_SPOOL_DIR, e->name);
	plumb_buf_init(&b, PLUMB_SPOOL_REPORT_MAX);
	if ((r = plumb_state_read(st, rel, &b, err)) != 0) {
		plumb_buf_release(&b);
		return r;
	}
	if ((*text = plumb_buf_detach(&b, len)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	return 0;
}

int plumb_spool_remove(struct plumb_state *st, const struct plumb_spool_entry *e)
{
	int dfd = plumb_spool_dirfd(st, NULL), r;

	if (dfd < 0)
		return dfd;
	r = unlinkat(dfd, e->name, 0) == 0 || errno == ENOENT ? 0 : PLUMB_E_IO;
	(void)fsync(dfd);
	close(dfd);
	return r;
}

int plumb_spool_reject(struct plumb_state *st, const struct plumb_spool_entry *e, const char *reason)
{
	struct plumb_fs_meta meta = {0600, (uid_t)-1, (gid_t)-1};
	struct plumb_fs_mem m = {reason, strlen(reason)};
	char why[128];
	int dfd = plumb_spool_dirfd(st, NULL), rfd, r = PLUMB_E_IO;

	if (dfd < 0)
		return dfd;
	if ((mkdirat(dfd, "rejected", 0700) == 0 || errno == EEXIST) &&
	    (rfd = openat(dfd, "rejected", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		snprintf(why, sizeof(why), "%s.reason", e->name);
		(void)plumb_fs_replace(rfd, why, &meta, plumb_fs_fill_mem, &m, NULL);
		if (renameat(dfd, e->name, rfd, e->name) == 0) {
			(void)fsync(rfd);
			(void)fsync(dfd);
			r = 0;
		}
		close(rfd);
	}
	close(dfd);
	return r;
}

int plumb_spool_split(struct plumb_state *st, const struct plumb_spool_entry *e, char *const *texts,
		      const char *const *ids, size_t n, struct plumb_err *err)
{
	struct plumb_fs_meta meta = {0600, (uid_t)-1, (gid_t)-1};
	unsigned long long at;
	char digits[21];
	int dfd, r = 0, in_place = 0;

	memcpy(digits, e->name, 20);
	digits[20] = '\0';
	at = strtoull(digits, NULL, 10);
	if ((dfd = plumb_spool_dirfd(st, err)) < 0)
		return dfd;
	/* The pieces take the place of the original in the delivery order:
	 * its queue time, one nanosecond apart. */
	for (size_t i = 0; i < n && r == 0; i++) {
		struct plumb_fs_mem m = {texts[i], strlen(texts[i])};
		unsigned long long t = at + i;
		char name[96];

		snprintf(name, sizeof(name), "%011llu%09llu-d-%.36s.json", t / 1000000000ULL, t % 1000000000ULL, ids[i]);
		if (strcmp(name, e->name) == 0)
			in_place = 1;   /* the same id in the same place: replaced atomically */
		r = plumb_fs_replace(dfd, name, &meta, plumb_fs_fill_mem, &m, err);
	}
	if (r == 0 && !in_place) {
		/* The pieces are durable; only now does the original go. A crash
		 * before this line splits it again into the same ids. */
		if (unlinkat(dfd, e->name, 0) != 0 && errno != ENOENT)
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot remove '%s/%s/%s'", st->path,
					    PLUMB_SPOOL_DIR, e->name);
		(void)fsync(dfd);
	}
	close(dfd);
	return r;
}

static int open_rejected(int dfd)
{
	return openat(dfd, "rejected", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

size_t plumb_spool_rejected_count(struct plumb_state *st)
{
	struct plumb_spool_entry e;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int dfd, rfd;

	if ((dfd = plumb_spool_dirfd(st, NULL)) < 0)
		return 0;
	rfd = open_rejected(dfd);
	close(dfd);
	if (rfd < 0 || (d = fdopendir(rfd)) == NULL) {
		if (rfd >= 0)
			close(rfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (parse_name(&e, de->d_name) == 0)
			n++;
	closedir(d);
	return n;
}

int plumb_spool_requeue(struct plumb_state *st, const char *id, unsigned *moved, struct plumb_err *err)
{
	struct plumb_spool_entry e;
	struct dirent *de;
	DIR *d = NULL;
	int lock, dfd = -1, rfd = -1, r = 0;

	*moved = 0;
	if ((lock = plumb_spool_lock_delivery(st, err)) < 0)
		return lock;
	if ((dfd = plumb_spool_dirfd(st, err)) < 0) {
		r = dfd;
		dfd = -1;
		goto out;
	}
	if ((rfd = open_rejected(dfd)) < 0) {
		if (errno != ENOENT)
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s/%s/rejected'", st->path,
					    PLUMB_SPOOL_DIR);
		goto out;
	}
	if ((d = fdopendir(rfd)) == NULL) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot list '%s/%s/rejected'", st->path, PLUMB_SPOOL_DIR);
		close(rfd);
		goto out;
	}
	rfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		char why[128];
		struct stat sb;

		if (parse_name(&e, de->d_name) != 0 || fstatat(rfd, e.name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		/* by report id (the UUID in the name) or by file name */
		if (id != NULL && strcmp(e.name, id) != 0 && (strlen(id) != 36 || strncmp(e.name + 23, id, 36) != 0))
			continue;
		if (renameat2(rfd, e.name, dfd, e.name, RENAME_NOREPLACE) != 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot move '%s' back into '%s/%s'", e.name,
					    st->path, PLUMB_SPOOL_DIR);
			break;
		}
		snprintf(why, sizeof(why), "%s.reason", e.name);
		(void)unlinkat(rfd, why, 0);
		(*moved)++;
	}
	(void)fsync(dfd);
	(void)fsync(rfd);
	if (r == 0 && id != NULL && *moved == 0)
		r = plumb_err_set(err, PLUMB_E_NOTFOUND, "no rejected report '%s' in '%s/%s/rejected'", id, st->path,
				  PLUMB_SPOOL_DIR);
out:
	if (d != NULL)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
	close(lock);
	return r;
}
