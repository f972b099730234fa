/* quarantine.c - bounded content-addressed store of drifted content.
 * Entries are files named by their SHA-256; an index file records for each
 * its resource, age and allocated bytes, so a keep never rescans the store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/fs.h"
#include "plumb/quarantine.h"
#include "banned.h"

#define INDEX ".index"
#define RES_MAX 4200                    /* escaped resource id in the index */

struct entry {
	char id[PLUMB_SHA256_HEX];
	time_t at;                      /* when kept (last kept, for a repeat) */
	uint64_t bytes;                 /* allocated: max(size, blocks * 512) */
	char *res;                      /* resource id, "" when unknown */
};

struct plumb_quarantine {
	int dirfd;
	uint64_t max;
	time_t protect_since;           /* entries kept since are undelivered */
	int loaded;
	struct entry *v;
	size_t n, cap;
	uint64_t total;
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
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	q->dirfd = fd;
	q->max = max_bytes;
	q->protect_since = time(NULL);
	*out = q;
	return 0;
}

void plumb_quarantine_protect_since(struct plumb_quarantine *q, time_t since)
{
	if (q != NULL && since < q->protect_since)
		q->protect_since = since;
}

static void entries_free(struct plumb_quarantine *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].res);
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
	q->total = 0;
}

void plumb_quarantine_free(struct plumb_quarantine *q)
{
	if (q == NULL)
		return;
	entries_free(q);
	close(q->dirfd);
	free(q);
}

static int is_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == PLUMB_SHA256_HEX - 1;
}

static long find(const struct plumb_quarantine *q, const char *id)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i].id, id) == 0)
			return (long)i;
	return -1;
}

static uint64_t charge(const struct stat *st)
{
	uint64_t blocks = (uint64_t)st->st_blocks * 512;

	return blocks > (uint64_t)st->st_size ? blocks : (uint64_t)st->st_size;
}

static int add(struct plumb_quarantine *q, const char *id, time_t at, uint64_t bytes, const char *res)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		struct entry *nv = reallocarray(q->v, ncap, sizeof(*nv));

		if (nv == NULL)
			return PLUMB_E_NOMEM;
		q->v = nv;
		q->cap = ncap;
	}
	memcpy(q->v[q->n].id, id, PLUMB_SHA256_HEX);
	q->v[q->n].at = at;
	q->v[q->n].bytes = bytes;
	if ((q->v[q->n].res = strdup(res)) == NULL)
		return PLUMB_E_NOMEM;
	q->total += bytes;
	q->n++;
	return 0;
}

static void drop(struct plumb_quarantine *q, size_t i)
{
	q->total -= q->v[i].bytes;
	free(q->v[i].res);
	/* Keep the order of keeping: among entries of the same second, the
	 * first in the array is the oldest. */
	memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof(*q->v));
	q->n--;
}

/* Escapes a resource id for one index line: bytes <= ' ', '%' and DEL as %XX. */
static void escape(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c == 0x7f)
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		unsigned v;

		if (r[0] == '%' && r[1] && r[2] && sscanf(r + 1, "%2X", &v) == 1) {
			*w++ = (char)v;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Reads the index, then reconciles it with the directory once: entries whose
 * file is gone are dropped, files the index lacks (a crash between rename
 * and index write) are adopted with an unknown resource. */
static int load(struct plumb_quarantine *q)
{
	struct plumb_buf b;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (q->loaded)
		return 0;
	plumb_buf_init(&b, (size_t)PLUMB_QUARANTINE_MAX_ENTRIES * (RES_MAX + 128));
	if ((fd = openat(q->dirfd, INDEX, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0) {
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			(void)plumb_buf_read_fd(&b, fd);   /* damaged or too large: rebuilt below */
		close(fd);
	}
	for (char *line = b.data, *next; line != NULL && *line; line = next) {
		char id[PLUMB_SHA256_HEX], res[RES_MAX + 1];
		long long at;
		unsigned long long bytes;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		res[0] = '\0';
		if (sscanf(line, "%64s %lld %llu %4200s", id, &at, &bytes, res) < 3 || !is_id(id) || find(q, id) >= 0)
			continue;
		if (strcmp(res, "-") == 0)
			res[0] = '\0';
		unescape(res);
		if ((r = add(q, id, (time_t)at, bytes, res)) != 0)
			goto out;
	}
	if ((fd = dup(q->dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		r = PLUMB_E_IO;
		goto out;
	}
	rewinddir(d);
	{
		unsigned char *seen = q->n ? calloc(q->n, 1) : NULL;
		size_t known = q->n;

		while ((de = readdir(d)) != NULL) {
			struct stat st;
			long i;

			if (!is_id(de->d_name))
				continue;
			if ((i = find(q, de->d_name)) >= 0 && (size_t)i < known) {
				if (seen != NULL)
					seen[i] = 1;
				continue;
			}
			if (fstatat(q->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
			    (r = add(q, de->d_name, st.st_mtim.tv_sec, charge(&st), "")) != 0)
				break;
		}
		closedir(d);
		for (size_t i = known; seen != NULL && i-- > 0;)   /* backwards: drop moves the tail */
			if (!seen[i])
				drop(q, i);
		if (seen == NULL && known > 0)
			r = r ? r : PLUMB_E_NOMEM;
		free(seen);
	}
	q->loaded = r == 0;
out:
	plumb_buf_release(&b);
	return r;
}

static int save(struct plumb_quarantine *q, struct plumb_err *err)
{
	struct plumb_fs_meta meta = {0600, (uid_t)-1, (gid_t)-1};
	struct plumb_buf b;
	struct plumb_fs_mem m;
	int r;

	plumb_buf_init(&b, (size_t)PLUMB_QUARANTINE_MAX_ENTRIES * (RES_MAX + 128));
	for (size_t i = 0; i < q->n; i++) {
		char res[RES_MAX + 1];

		escape(res, sizeof(res), q->v[i].res);
		plumb_buf_addf(&b, "%s %lld %llu %s\n", q->v[i].id, (long long)q->v[i].at,
			       (unsigned long long)q->v[i].bytes, res[0] ? res : "-");
	}
	m.data = b.data;
	m.len = b.len;
	r = plumb_fs_replace(q->dirfd, INDEX, &meta, plumb_fs_fill_mem, &m, err);
	plumb_buf_release(&b);
	return r;
}

static uint64_t usage(const struct plumb_quarantine *q, const char *res)
{
	uint64_t u = 0;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i].res, res) == 0)
			u += q->v[i].bytes;
	return u;
}

/* The next entry to evict to make room for keep (of resource res), oldest
 * first within each tier: delivered evidence of this resource or of one
 * over its share; other delivered evidence; then undelivered evidence in
 * the same order. */
static long victim(const struct plumb_quarantine *q, const char *keep, const char *res, int *undelivered)
{
	uint64_t share = q->max / PLUMB_QUARANTINE_SHARES;
	long best[4] = {-1, -1, -1, -1};

	for (size_t i = 0; i < q->n; i++) {
		const struct entry *e = &q->v[i];
		int k;

		if (strcmp(e->id, keep) == 0)
			continue;
		k = (strcmp(e->res, res) == 0 || usage(q, e->res) > share) ? 0 : 1;
		if (e->at >= q->protect_since)
			k += 2;
		if (best[k] < 0 || e->at < q->v[best[k]].at)
			best[k] = (long)i;
	}
	for (int k = 0; k < 4; k++) {
		if (best[k] >= 0) {
			*undelivered = k >= 2;
			return best[k];
		}
	}
	return -1;
}

/* Evicts until the store fits; notes evicted undelivered evidence in err. */
static void prune(struct plumb_quarantine *q, const char *keep, const char *res, struct plumb_err *err)
{
	unsigned lost = 0;

	while (q->total > q->max || q->n > PLUMB_QUARANTINE_MAX_ENTRIES) {
		int undelivered = 0;
		long i = victim(q, keep, res, &undelivered);

		if (i < 0)
			break;
		if (unlinkat(q->dirfd, q->v[i].id, 0) != 0 && errno != ENOENT)
			break;
		lost += (unsigned)undelivered;
		drop(q, (size_t)i);
	}
	if (lost > 0)
		plumb_err_set(err, 0, "evicted %u entr%s of evidence not yet delivered to make room", lost,
			      lost > 1 ? "ies" : "y");
}

int plumb_quarantine_keep(struct plumb_quarantine *q, int fd, const char *resource, char id[PLUMB_SHA256_HEX],
			  struct plumb_err *err)
{
	enum { CHUNK = 64 * 1024 };
	uint64_t share = q->max / PLUMB_QUARANTINE_SHARES;
	struct plumb_sha256 *h = NULL;
	unsigned char *buf = NULL;
	uint64_t off = 0, size;
	struct stat st;
	int out = -1, r;
	long i;
	const char *tmp = ".incoming";

	id[0] = '\0';
	err->msg[0] = '\0';
	if (fstat(fd, &st) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot inspect content to quarantine");
	size = (uint64_t)st.st_size;
	if (size > share)
		return plumb_err_set(err, PLUMB_E_TOOBIG, "%llu bytes exceed one resource's share of the quarantine "
				     "(%llu of %llu bytes)", (unsigned long long)size, (unsigned long long)share,
				     (unsigned long long)q->max);
	if ((r = load(q)) != 0)
		return plumb_err_set(err, r, "cannot read the quarantine's index: %s", plumb_strerror(r));
	if ((buf = malloc(CHUNK)) == NULL || (h = plumb_sha256_new()) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	(void)unlinkat(q->dirfd, tmp, 0);
	if ((out = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a quarantine entry");
		goto out;
	}
	/* Never past the size seen at the start: a growing file ends there. */
	while (off < size) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot read content to quarantine");
			goto out;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		plumb_sha256_update(h, buf, (size_t)n);
		if (plumb_fs_write_all(out, buf, (size_t)n) != 0) {
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write a quarantine entry");
			goto out;
		}
	}
	plumb_sha256_final_hex(h, id);
	h = NULL;
	if (fsync(out) != 0 || fstat(out, &st) != 0 || renameat(q->dirfd, tmp, q->dirfd, id) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot store a quarantine entry");
		id[0] = '\0';
		goto out;
	}
	if (fsync(q->dirfd) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot store a quarantine entry");
		goto out;
	}
	if ((i = find(q, id)) >= 0)
		drop(q, (size_t)i);       /* the same content again: one entry, now younger */
	if ((r = add(q, id, time(NULL), charge(&st), resource ? resource : "")) != 0) {
		r = plumb_err_set(err, r, "out of memory");
		goto out;
	}
	prune(q, id, resource ? resource : "", err);
	{
		struct plumb_err e2;

		/* The entry is durable; a lost index is rebuilt from the directory. */
		if (save(q, &e2) != 0 && err->msg[0] == '\0')
			plumb_err_set(err, 0, "cannot update the quarantine's index: %s", e2.msg);
	}
	r = 0;
out:
	if (out >= 0)
		close(out);
	if (r != 0) {
		(void)unlinkat(q->dirfd, tmp, 0);
		id[0] = '\0';
	}
	plumb_sha256_free(h);
	free(buf);
	return r;
}
