/* objstore.c - frames from plumb-fetch, strict tree and commit parsers, and
 * the root-owned object store enforcement reads (see objstore.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "plumb/fs.h"
#include "plumb/gitobj.h"
#include "plumb/objstore.h"
#include "banned.h"

const char *plumb_obj_type_name(int type)
{
	switch (type) {
	case PLUMB_OBJ_COMMIT: return "commit";
	case PLUMB_OBJ_TREE: return "tree";
	case PLUMB_OBJ_BLOB: return "blob";
	case PLUMB_OBJ_TAG: return "tag";
	default: return NULL;
	}
}

void plumb_obj_hash(int type, const void *data, size_t len, unsigned char out[20])
{
	char head[48];
	int hl = snprintf(head, sizeof(head), "%s %zu", plumb_obj_type_name(type) ? plumb_obj_type_name(type) : "?", len);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int olen = 20;

	/* The NUL after the header is part of what is hashed. */
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1 || EVP_DigestUpdate(c, head, (size_t)hl + 1) != 1 ||
	    EVP_DigestUpdate(c, data, len) != 1 || EVP_DigestFinal_ex(c, out, &olen) != 1)
		memset(out, 0, 20);    /* matches no real object: the caller refuses it */
	EVP_MD_CTX_free(c);
}

void plumb_oid_hex(char out[41], const unsigned char id[20])
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < 20; i++) {
		out[2 * i] = d[id[i] >> 4];
		out[2 * i + 1] = d[id[i] & 15];
	}
	out[40] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int oid_parse_n(unsigned char out[20], const unsigned char *hex)
{
	for (int i = 0; i < 20; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int plumb_oid_parse(unsigned char out[20], const char *hex)
{
	if (hex == NULL || strlen(hex) != 40)
		return -1;
	return oid_parse_n(out, (const unsigned char *)hex);
}

/* --- frames ---------------------------------------------------------------- */

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

void plumb_frames_init(struct plumb_frames *r, const struct plumb_frame_limits *lim)
{
	memset(r, 0, sizeof(*r));
	r->lim = *lim;
}

void plumb_frames_release(struct plumb_frames *r)
{
	free(r->body);
	r->body = NULL;
}

/* Checks a frame's head before any of its body is taken in. */
static int check_head(struct plumb_frames *r, int kind, uint64_t len, struct plumb_err *err)
{
	const unsigned char *id = r->head + 5;

	switch (kind) {
	case PLUMB_OBJ_TREE:
	case PLUMB_OBJ_BLOB:
		if (len > r->lim.object_max)
			return plumb_err_set(err, PLUMB_E_TOOBIG, "the fetcher sent a %s of %llu bytes (at most %llu)",
					     plumb_obj_type_name(kind), (unsigned long long)len,
					     (unsigned long long)r->lim.object_max);
		if (r->content + len > r->lim.content_max)
			return plumb_err_set(err, PLUMB_E_TOOBIG, "the fetcher sent more than %llu bytes of trees and "
					     "blobs (source.max_size)", (unsigned long long)r->lim.content_max);
		break;
	case PLUMB_OBJ_COMMIT:
	case PLUMB_OBJ_TAG:
		if (len > r->lim.commit_max)
			return plumb_err_set(err, PLUMB_E_TOOBIG, "the fetcher sent a %s of %llu bytes (at most %llu)",
					     plumb_obj_type_name(kind), (unsigned long long)len,
					     (unsigned long long)r->lim.commit_max);
		if (r->meta + len > r->lim.meta_max)
			return plumb_err_set(err, PLUMB_E_TOOBIG, "the fetcher sent more than %llu bytes of commits and "
					     "tags", (unsigned long long)r->lim.meta_max);
		break;
	case PLUMB_FRAME_TIP:
		if (len != 0 || is_zero(id, 20))
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent a malformed tip frame");
		return 0;
	case PLUMB_FRAME_NOTE:
		if (len != 1 || !is_zero(id, 20))
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent a malformed note frame");
		return 0;
	case PLUMB_FRAME_DONE:
		if (len != 0 || !is_zero(id, 20))
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent a malformed end frame");
		return 0;
	case PLUMB_FRAME_FAIL:
		if (len < 1 || len > PLUMB_FRAME_FAIL_MAX || !is_zero(id, 20))
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent a malformed failure frame");
		return 0;
	default:
		return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent a frame of unknown kind %d", kind);
	}
	if (++r->count > r->lim.objects_max)
		return plumb_err_set(err, PLUMB_E_TOOBIG, "the fetcher sent more than %llu objects",
				     (unsigned long long)r->lim.objects_max);
	return 0;
}

static int finish_frame(struct plumb_frames *r, plumb_frame_fn fn, void *arg, struct plumb_err *err)
{
	struct plumb_frame fr = {r->head[0], r->head + 5, r->body, r->bodylen};
	int r2;

	if (plumb_obj_type_name(fr.kind) != NULL) {
		unsigned char got[20];
		char want[41], is[41];

		plumb_obj_hash(fr.kind, fr.data, fr.len, got);
		if (memcmp(got, fr.id, 20) != 0) {
			plumb_oid_hex(want, fr.id);
			plumb_oid_hex(is, got);
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent %s %.12s whose content hashes to "
					     "%.12s: forged or damaged", plumb_obj_type_name(fr.kind), want, is);
		}
		if (fr.kind == PLUMB_OBJ_TREE || fr.kind == PLUMB_OBJ_BLOB)
			r->content += fr.len;
		else
			r->meta += fr.len;
	}
	if (fr.kind == PLUMB_FRAME_DONE || fr.kind == PLUMB_FRAME_FAIL)
		r->ended = 1;
	r2 = fn(arg, &fr, err);
	free(r->body);
	r->body = NULL;
	r->headgot = r->bodylen = r->bodygot = 0;
	return r2;
}

int plumb_frames_feed(struct plumb_frames *r, const unsigned char *p, size_t n, plumb_frame_fn fn, void *arg,
		      struct plumb_err *err)
{
	int rc;

	while (n > 0) {
		if (r->broken)
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher's stream was already refused");
		if (r->ended) {
			r->broken = 1;
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent data after its last frame");
		}
		if (r->headgot < PLUMB_FRAME_HEAD) {
			size_t take = PLUMB_FRAME_HEAD - r->headgot < n ? PLUMB_FRAME_HEAD - r->headgot : n;

			memcpy(r->head + r->headgot, p, take);
			r->headgot += take;
			p += take;
			n -= take;
			if (r->headgot < PLUMB_FRAME_HEAD)
				break;
			r->bodylen = get_be32(r->head + 1);
			if ((rc = check_head(r, r->head[0], r->bodylen, err)) != 0) {
				r->broken = 1;
				return rc;
			}
			if ((r->body = malloc(r->bodylen + 1)) == NULL) {
				r->broken = 1;
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			}
			r->body[r->bodylen] = '\0';
			r->bodygot = 0;
		} else {
			size_t take = r->bodylen - r->bodygot < n ? r->bodylen - r->bodygot : n;

			memcpy(r->body + r->bodygot, p, take);
			r->bodygot += take;
			p += take;
			n -= take;
		}
		if (r->headgot == PLUMB_FRAME_HEAD && r->bodygot == r->bodylen &&
		    (rc = finish_frame(r, fn, arg, err)) != 0) {
			r->broken = 1;
			return rc;
		}
	}
	/* A frame with an empty body completes with its head, even at the end of p. */
	if (!r->broken && r->headgot == PLUMB_FRAME_HEAD && r->body != NULL && r->bodygot == r->bodylen &&
	    (rc = finish_frame(r, fn, arg, err)) != 0) {
		r->broken = 1;
		return rc;
	}
	return 0;
}

int plumb_frames_eof(const struct plumb_frames *r, struct plumb_err *err)
{
	if (r->broken)
		return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher's stream was refused");
	if (r->headgot != 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher's stream ends inside a frame (%zu of %zu bytes): "
				     "it died mid-message", r->headgot < PLUMB_FRAME_HEAD ? r->headgot : r->bodygot,
				     r->headgot < PLUMB_FRAME_HEAD ? (size_t)PLUMB_FRAME_HEAD : r->bodylen);
	if (!r->ended)
		return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher's stream ends without its last frame");
	return 0;
}

static void frame_head(unsigned char h[PLUMB_FRAME_HEAD], int kind, const unsigned char id[20], size_t len)
{
	h[0] = (unsigned char)kind;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
	if (id != NULL)
		memcpy(h + 5, id, 20);
	else
		memset(h + 5, 0, 20);
}

int plumb_frame_write(int fd, int kind, const unsigned char id[20], const void *data, size_t len)
{
	unsigned char h[PLUMB_FRAME_HEAD];

	if (len > UINT32_MAX)
		return -1;
	frame_head(h, kind, id, len);
	return plumb_fs_write_all(fd, h, sizeof(h)) != 0 || (len > 0 && plumb_fs_write_all(fd, data, len) != 0) ? -1 : 0;
}

void plumb_frame_out_init(struct plumb_frame_out *o, int fd)
{
	o->fd = fd;
	o->n = 0;
}

int plumb_frame_out_flush(struct plumb_frame_out *o)
{
	int r = o->n > 0 ? plumb_fs_write_all(o->fd, o->buf, o->n) : 0;

	o->n = 0;
	return r != 0 ? -1 : 0;
}

int plumb_frame_out_add(struct plumb_frame_out *o, int kind, const unsigned char id[20], const void *data,
			size_t len)
{
	if (len > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (PLUMB_FRAME_HEAD + len > sizeof(o->buf) - o->n && plumb_frame_out_flush(o) != 0)
		return -1;
	if (PLUMB_FRAME_HEAD + len > sizeof(o->buf))
		return plumb_frame_write(o->fd, kind, id, data, len);
	frame_head(o->buf + o->n, kind, id, len);
	if (len > 0)
		memcpy(o->buf + o->n + PLUMB_FRAME_HEAD, data, len);
	o->n += PLUMB_FRAME_HEAD + len;
	return 0;
}

/* --- trees and commits ----------------------------------------------------- */

/* git's order: names compared bytewise, a tree's as if it ended in '/'. */
static int git_order(const struct plumb_tree_entry *a, const struct plumb_tree_entry *b)
{
	size_t m = a->namelen < b->namelen ? a->namelen : b->namelen;
	int c = memcmp(a->name, b->name, m), ca, cb;

	if (c != 0)
		return c;
	ca = a->namelen > m ? (unsigned char)a->name[m] : a->mode == PLUMB_TREE_MODE_TREE ? '/' : 0;
	cb = b->namelen > m ? (unsigned char)b->name[m] : b->mode == PLUMB_TREE_MODE_TREE ? '/' : 0;
	return ca - cb;
}

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : al < bl ? -1 : al > bl ? 1 : 0;
}

static int by_name(const void *x, const void *y)
{
	const struct plumb_tree_entry *a = x, *b = y;

	return name_cmp(a->name, a->namelen, b->name, b->namelen);
}

void plumb_tree_release(struct plumb_tree *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

int plumb_tree_parse(struct plumb_tree *out, const unsigned char *data, size_t len, struct plumb_err *err)
{
	size_t i = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	while (i < len) {
		struct plumb_tree_entry e;
		unsigned mode = 0;
		size_t start = i;
		const unsigned char *nul;

		if (data[i] == '0')
			goto bad_mode;
		while (i < len && data[i] >= '0' && data[i] <= '7' && i - start < 7)
			mode = mode * 8 + (unsigned)(data[i++] - '0');
		if (i == start || i >= len || data[i] != ' ')
			goto bad_mode;
		if (mode != PLUMB_TREE_MODE_TREE && mode != PLUMB_TREE_MODE_FILE && mode != PLUMB_TREE_MODE_EXEC &&
		    mode != PLUMB_TREE_MODE_LINK && mode != PLUMB_TREE_MODE_GITLINK)
			goto bad_mode;
		i++;
		if ((nul = memchr(data + i, '\0', len - i)) == NULL) {
			plumb_err_set(err, PLUMB_E_INVALID, "tree entry %zu: name without its end", out->n);
			goto fail;
		}
		e.mode = mode;
		e.name = (const char *)data + i;
		e.namelen = (size_t)(nul - (data + i));
		if (e.namelen == 0 || memchr(e.name, '/', e.namelen) != NULL || (e.namelen == 1 && e.name[0] == '.') ||
		    (e.namelen == 2 && e.name[0] == '.' && e.name[1] == '.')) {
			plumb_err_set(err, PLUMB_E_INVALID, "tree entry %zu: the name '%.*s' is empty, '.', '..' or has a "
				      "'/'", out->n, (int)(e.namelen > 64 ? 64 : e.namelen), e.name);
			goto fail;
		}
		i += e.namelen + 1;
		if (len - i < 20) {
			plumb_err_set(err, PLUMB_E_INVALID, "tree entry %zu ('%.*s'): id cut short", out->n,
				      (int)(e.namelen > 64 ? 64 : e.namelen), e.name);
			goto fail;
		}
		e.id = data + i;
		i += 20;
		if (out->n > 0 && git_order(&out->v[out->n - 1], &e) >= 0) {
			plumb_err_set(err, PLUMB_E_INVALID, "tree entry %zu ('%.*s'): out of order or repeated", out->n,
				      (int)(e.namelen > 64 ? 64 : e.namelen), e.name);
			goto fail;
		}
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct plumb_tree_entry *nv = realloc(out->v, nc * sizeof(*nv));

			if (nv == NULL) {
				plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				goto fail;
			}
			out->v = nv;
			cap = nc;
		}
		out->v[out->n++] = e;
	}
	/* Looked up by plain name: a blob and a tree of one name (which git's
	 * order lets apart) are refused as repeated. */
	if (out->n > 1) {
		qsort(out->v, out->n, sizeof(*out->v), by_name);
		for (size_t k = 1; k < out->n; k++)
			if (by_name(&out->v[k - 1], &out->v[k]) == 0) {
				plumb_err_set(err, PLUMB_E_INVALID, "tree: the name '%.*s' appears twice",
					      (int)(out->v[k].namelen > 64 ? 64 : out->v[k].namelen), out->v[k].name);
				goto fail;
			}
	}
	return 0;
bad_mode:
	plumb_err_set(err, PLUMB_E_INVALID, "tree entry %zu: bad mode", out->n);
fail:
	plumb_tree_release(out);
	return PLUMB_E_INVALID;
}

const struct plumb_tree_entry *plumb_tree_find(const struct plumb_tree *t, const char *name, size_t namelen)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(t->v[mid].name, t->v[mid].namelen, name, namelen);

		if (c == 0)
			return &t->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int plumb_commit_parse(const unsigned char *data, size_t len, unsigned char tree[20], unsigned char first_parent[20],
		       int *has_parent, struct plumb_err *err)
{
	size_t i;

	*has_parent = 0;
	if (len < 46 || memcmp(data, "tree ", 5) != 0 || data[45] != '\n' || oid_parse_n(tree, data + 5) != 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "commit: the first line is not 'tree ID'");
	for (i = 46; len - i >= 48 && memcmp(data + i, "parent ", 7) == 0; i += 48) {
		unsigned char p[20];

		if (data[i + 47] != '\n' || oid_parse_n(p, data + i + 7) != 0)
			return plumb_err_set(err, PLUMB_E_INVALID, "commit: a bad 'parent' line");
		if (!*has_parent)
			memcpy(first_parent, p, 20);
		*has_parent = 1;
	}
	if (len - i >= 7 && memcmp(data + i, "parent ", 7) == 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "commit: a bad 'parent' line");
	return 0;
}

/* --- a set of ids ---------------------------------------------------------- */

static size_t id_slot(const unsigned char id[20], size_t cap)
{
	size_t h;

	memcpy(&h, id, sizeof(h));   /* ids are uniformly distributed */
	return h & (cap - 1);
}

int plumb_idset_has(const struct plumb_idset *s, const unsigned char id[20])
{
	if (s->cap == 0)
		return 0;
	for (size_t i = id_slot(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (!s->used[i])
			return 0;
		if (memcmp(s->v[i], id, 20) == 0)
			return 1;
	}
}

int plumb_idset_add(struct plumb_idset *s, const unsigned char id[20])
{
	size_t i;

	if (plumb_idset_has(s, id))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		struct plumb_idset g = {NULL, NULL, 0, s->cap ? s->cap * 2 : 256};

		if ((g.v = malloc(g.cap * 20)) == NULL || (g.used = calloc(g.cap, 1)) == NULL) {
			free(g.v);
			return -1;
		}
		for (size_t k = 0; k < s->cap; k++)
			if (s->used[k]) {
				for (i = id_slot(s->v[k], g.cap); g.used[i]; i = (i + 1) & (g.cap - 1))
					;
				memcpy(g.v[i], s->v[k], 20);
				g.used[i] = 1;
			}
		g.n = s->n;
		free(s->v);
		free(s->used);
		*s = g;
	}
	for (i = id_slot(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		;
	memcpy(s->v[i], id, 20);
	s->used[i] = 1;
	s->n++;
	return 0;
}

void plumb_idset_free(struct plumb_idset *s)
{
	free(s->v);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* --- the store ------------------------------------------------------------- */

#define COMPLETE_NOTE "COMPLETE"

struct plumb_objstore {
	int dirfd;                /* state_dir/PLUMB_OBJSTORE_DIR */
	int objfd;                /* objects/ */
	int incfd;                /* incoming/ */
	struct plumb_idset staged;
	char path[4096];
};

static void sweep_dir(int fd)
{
	DIR *d;
	struct dirent *de;
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup < 0 || (d = fdopendir(dup)) == NULL) {
		if (dup >= 0)
			close(dup);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(void)unlinkat(fd, de->d_name, 0);
	closedir(d);
}

static int open_sub(int at, const char *name, int create)
{
	if (create && mkdirat(at, name, 0700) != 0 && errno != EEXIST)
		return -1;
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int plumb_objstore_open(struct plumb_objstore **out, const char *state_dir, int create, struct plumb_err *err)
{
	struct plumb_objstore *s;
	struct stat st;
	int sfd;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	s->dirfd = s->objfd = s->incfd = -1;
	snprintf(s->path, sizeof(s->path), "%s/%s", state_dir, PLUMB_OBJSTORE_DIR);
	if ((sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", state_dir);
		goto fail;
	}
	s->dirfd = open_sub(sfd, PLUMB_OBJSTORE_DIR, create);
	close(sfd);
	if (s->dirfd < 0) {
		plumb_err_errno(err, errno == ENOENT ? PLUMB_E_NOTFOUND : PLUMB_E_IO, errno,
				"cannot open the verified store '%s'", s->path);
		goto fail;
	}
	/* root's own: nothing another user could have put there is read. */
	if (fstat(s->dirfd, &st) != 0 || st.st_uid != geteuid()) {
		plumb_err_set(err, PLUMB_E_UNSAFE, "the verified store '%s' is not owned by uid %u", s->path,
			      (unsigned)geteuid());
		goto fail;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(s->dirfd, 0700) != 0) {
		plumb_err_errno(err, PLUMB_E_IO, errno, "cannot make '%s' 0700", s->path);
		goto fail;
	}
	if ((s->objfd = open_sub(s->dirfd, "objects", 1)) < 0 || (s->incfd = open_sub(s->dirfd, "incoming", 1)) < 0) {
		plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s/objects'", s->path);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	plumb_objstore_close(s);
	return err->code;
}

void plumb_objstore_close(struct plumb_objstore *s)
{
	if (s == NULL)
		return;
	if (s->staged.n > 0)
		sweep_dir(s->incfd);   /* never committed: never seen */
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->objfd >= 0)
		close(s->objfd);
	if (s->incfd >= 0)
		close(s->incfd);
	plumb_idset_free(&s->staged);
	free(s);
}

/* objects/XX/REST of id: sub = "XX", rest = 38 hex digits. */
static void obj_name(const unsigned char id[20], char sub[3], char rest[39])
{
	char hex[41];

	plumb_oid_hex(hex, id);
	memcpy(sub, hex, 2);
	sub[2] = '\0';
	memcpy(rest, hex + 2, 39);
}

static int stored(struct plumb_objstore *s, const unsigned char id[20])
{
	char sub[3], rest[39], p[42];
	struct stat st;

	obj_name(id, sub, rest);
	snprintf(p, sizeof(p), "%s/%s", sub, rest);
	return fstatat(s->objfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int plumb_objstore_has(struct plumb_objstore *s, const unsigned char id[20])
{
	return plumb_idset_has(&s->staged, id) || stored(s, id);
}

int plumb_objstore_read(struct plumb_objstore *s, const unsigned char id[20], int *type, unsigned char **data,
			size_t *len, size_t max, struct plumb_err *err)
{
	char sub[3], rest[39], p[42], hex[41];
	unsigned char got[20], *buf = NULL, *nul;
	struct stat st;
	size_t size, off = 0, hl, declared = 0;
	int fd, t = 0;

	*data = NULL;
	*len = 0;
	obj_name(id, sub, rest);
	plumb_oid_hex(hex, id);
	snprintf(p, sizeof(p), "%s/%s", sub, rest);
	if ((fd = openat(s->objfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, errno == ENOENT ? PLUMB_E_NOTFOUND : PLUMB_E_IO, errno,
				       "object %.12s is not in the verified store", hex);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_CORRUPT, "object %.12s in the verified store is not a file", hex);
	}
	size = (size_t)st.st_size;
	if ((uint64_t)st.st_size > (uint64_t)max + 32) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_TOOBIG, "object %.12s is larger than %zu bytes", hex, max);
	}
	if ((buf = malloc(size + 1)) == NULL) {
		close(fd);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	{
		ssize_t n = plumb_fs_read_upto(fd, buf, size, -1);

		off = n > 0 ? (size_t)n : 0;     /* short or failed: damaged, below */
	}
	close(fd);
	buf[off] = '\0';
	if (off != size || (nul = memchr(buf, '\0', off < 32 ? off : 32)) == NULL)
		goto corrupt;
	hl = (size_t)(nul - buf) + 1;
	for (int k = 1; k <= 4; k++) {
		size_t tl = strlen(plumb_obj_type_name(k));

		if (hl > tl + 1 && memcmp(buf, plumb_obj_type_name(k), tl) == 0 && buf[tl] == ' ') {
			t = k;
			for (size_t i = tl + 1; i < hl - 1; i++) {
				if (buf[i] < '0' || buf[i] > '9' || declared > SIZE_MAX / 10 - 1)
					goto corrupt;
				declared = declared * 10 + (size_t)(buf[i] - '0');
			}
			break;
		}
	}
	if (t == 0 || declared != off - hl)
		goto corrupt;
	if (declared > max) {
		free(buf);
		return plumb_err_set(err, PLUMB_E_TOOBIG, "object %.12s is larger than %zu bytes", hex, max);
	}
	plumb_obj_hash(t, buf + hl, declared, got);
	if (memcmp(got, id, 20) != 0)
		goto corrupt;
	memmove(buf, buf + hl, declared);
	buf[declared] = '\0';
	*data = buf;
	*len = declared;
	*type = t;
	return 0;
corrupt:
	free(buf);
	(void)unlinkat(s->dirfd, COMPLETE_NOTE, 0);   /* nothing is known whole any more */
	(void)unlinkat(s->objfd, p, 0);     /* the next fetch brings it again */
	return plumb_err_set(err, PLUMB_E_CORRUPT, "object %.12s in the verified store is damaged (removed)", hex);
}

static int write_file_at(int dirfd, const char *name, const void *h, size_t hl, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600), r = 0;
	const unsigned char *parts[2] = {h, data};
	size_t lens[2] = {hl, len};

	if (fd < 0)
		return -1;
	for (int k = 0; k < 2 && r == 0; k++)
		if (plumb_fs_write_all(fd, parts[k], lens[k]) != 0)
			r = -1;
	if (close(fd) != 0)
		r = -1;
	return r;
}

int plumb_objstore_stage(struct plumb_objstore *s, int type, const unsigned char id[20], const void *data, size_t len,
			 struct plumb_err *err)
{
	char hex[41], head[48];
	int hl;

	if (plumb_objstore_has(s, id))
		return 0;
	plumb_oid_hex(hex, id);
	if (type == PLUMB_OBJ_TREE) {
		struct plumb_tree t;
		int r;

		if ((r = plumb_tree_parse(&t, data, len, err)) != 0) {
			struct plumb_err e = *err;

			return plumb_err_set(err, r, "tree %.12s: %s", hex, e.msg);
		}
		for (size_t i = 0; i < t.n; i++) {
			char eh[41];

			if (t.v[i].mode == PLUMB_TREE_MODE_GITLINK || plumb_objstore_has(s, t.v[i].id))
				continue;
			plumb_oid_hex(eh, t.v[i].id);
			r = plumb_err_set(err, PLUMB_E_INVALID, "tree %.12s names '%.*s' (%.12s), which was not sent "
					  "before it", hex, (int)(t.v[i].namelen > 64 ? 64 : t.v[i].namelen), t.v[i].name,
					  eh);
			break;
		}
		plumb_tree_release(&t);
		if (r != 0)
			return r;
	}
	hl = snprintf(head, sizeof(head), "%s %zu", plumb_obj_type_name(type), len);
	if (write_file_at(s->incfd, hex, head, (size_t)hl + 1, data, len) != 0) {
		int e = errno;

		(void)unlinkat(s->incfd, hex, 0);
		return plumb_err_errno(err, PLUMB_E_IO, e, "cannot write object %.12s to '%s/incoming'", hex, s->path);
	}
	if (plumb_idset_add(&s->staged, id) != 0) {
		(void)unlinkat(s->incfd, hex, 0);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	return 0;
}

int plumb_objstore_commit(struct plumb_objstore *s, struct plumb_err *err)
{
	int r = 0;

	if (s->staged.n == 0)
		return 0;
	/* Durable first, then visible: a crash leaves only incoming/ files. */
	if (syncfs(s->dirfd) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot sync '%s'", s->path);
	for (size_t i = 0; i < s->staged.cap && r == 0; i++) {
		char sub[3], rest[39], hex[41], p[42];
		int rc;

		if (!s->staged.used[i])
			continue;
		plumb_oid_hex(hex, s->staged.v[i]);
		obj_name(s->staged.v[i], sub, rest);
		snprintf(p, sizeof(p), "%s/%s", sub, rest);
		/* The fan-out directory is made on first need. */
		if ((rc = renameat(s->incfd, hex, s->objfd, p)) != 0 && errno == ENOENT &&
		    (mkdirat(s->objfd, sub, 0700) == 0 || errno == EEXIST))
			rc = renameat(s->incfd, hex, s->objfd, p);
		if (rc != 0)
			r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot store object %.12s in '%s/objects'", hex, s->path);
	}
	if (r == 0 && syncfs(s->dirfd) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot sync '%s'", s->path);
	if (r != 0)
		sweep_dir(s->incfd);
	plumb_idset_free(&s->staged);
	return r;
}

/* Marks what id reaches (see plumb_objstore_prune); full: check every
 * object is there and sound (PLUMB_E_NOTFOUND / PLUMB_E_CORRUPT). */
static int reach(struct plumb_objstore *s, struct plumb_idset *mark, const unsigned char id[20], int want, unsigned depth,
		 struct plumb_err *err)
{
	unsigned char *data = NULL, tree[20], parent[20], target[20];
	size_t len;
	int type, r, hp;
	char v[64], hex[41];

	if (plumb_idset_has(mark, id))
		return 0;
	if (depth > 64)
		return plumb_err_set(err, PLUMB_E_INVALID, "the tree is nested more than 64 deep");
	if (want == PLUMB_OBJ_BLOB) {
		/* A blob is not read: its id was checked when it was stored. */
		if (!stored(s, id)) {
			plumb_oid_hex(hex, id);
			return plumb_err_set(err, PLUMB_E_NOTFOUND, "blob %.12s is not in the verified store", hex);
		}
		return plumb_idset_add(mark, id) != 0 ? plumb_err_set(err, PLUMB_E_NOMEM, "out of memory") : 0;
	}
	if ((r = plumb_objstore_read(s, id, &type, &data, &len, PLUMB_FRAME_OBJECT_MAX, err)) != 0)
		return r;
	plumb_oid_hex(hex, id);
	if (want != 0 && type != want) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "object %.12s is a %s, where a %s was named", hex,
				  plumb_obj_type_name(type), plumb_obj_type_name(want));
		goto out;
	}
	if (plumb_idset_add(mark, id) != 0) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	switch (type) {
	case PLUMB_OBJ_TAG:
		if (plumb_gitobj_header(v, sizeof(v), data, len, "object") != 0 || plumb_oid_parse(target, v) != 0)
			r = plumb_err_set(err, PLUMB_E_INVALID, "tag %.12s names no object", hex);
		else
			r = reach(s, mark, target, 0, depth + 1, err);
		break;
	case PLUMB_OBJ_COMMIT:
		if ((r = plumb_commit_parse(data, len, tree, parent, &hp, err)) == 0)
			r = reach(s, mark, tree, PLUMB_OBJ_TREE, depth + 1, err);
		break;
	case PLUMB_OBJ_TREE: {
		struct plumb_tree t;

		if ((r = plumb_tree_parse(&t, data, len, err)) != 0)
			break;
		for (size_t i = 0; r == 0 && i < t.n; i++) {
			if (t.v[i].mode == PLUMB_TREE_MODE_GITLINK)
				continue;
			r = reach(s, mark, t.v[i].id, t.v[i].mode == PLUMB_TREE_MODE_TREE ? PLUMB_OBJ_TREE : PLUMB_OBJ_BLOB,
				  depth + 1, err);
		}
		plumb_tree_release(&t);
		break;
	}
	default:
		break;
	}
out:
	free(data);
	return r;
}

/* Commits found whole since anything was last removed from the store
 * (COMPLETE_NOTE: hex ids, one a line): a walk of 10,000 blobs is not
 * redone for every fetch and every judgement. Dropped before any object
 * is removed; not synced (lost, the next check walks again). */
#define COMPLETE_KEEP 4

static int complete_noted(struct plumb_objstore *s, const char hex[41], char *all, size_t n)
{
	struct plumb_err e;

	if (plumb_objstore_get_note(s, COMPLETE_NOTE, all, n, &e) != 0)
		return 0;
	for (const char *p = all; (p = strstr(p, hex)) != NULL; p += 40)
		if ((p == all || p[-1] == '\n') && p[40] == '\n')
			return 1;
	return 0;
}

static void note_complete(struct plumb_objstore *s, const char hex[41], const char *all)
{
	char text[COMPLETE_KEEP * 41 + 1];
	size_t n = 0, lines = 0;
	int fd;

	n = (size_t)snprintf(text, sizeof(text), "%s\n", hex);
	for (const char *p = all; *p != '\0' && lines + 1 < COMPLETE_KEEP; lines++) {
		const char *nl = strchr(p, '\n');

		if (nl == NULL || nl - p != 40)
			break;
		memcpy(text + n, p, 41);
		n += 41;
		p = nl + 1;
	}
	text[n] = '\0';
	(void)unlinkat(s->dirfd, COMPLETE_NOTE ".tmp", 0);
	if ((fd = openat(s->dirfd, COMPLETE_NOTE ".tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return;
	if (write(fd, text, n) == (ssize_t)n && close(fd) == 0)
		(void)renameat(s->dirfd, COMPLETE_NOTE ".tmp", s->dirfd, COMPLETE_NOTE);
	else
		(void)close(fd);
	(void)unlinkat(s->dirfd, COMPLETE_NOTE ".tmp", 0);
}

int plumb_objstore_complete(struct plumb_objstore *s, const unsigned char id[20], struct plumb_err *err)
{
	struct plumb_idset mark = {0};
	char hex[41], all[COMPLETE_KEEP * 41 + 1];
	int r;

	plumb_oid_hex(hex, id);
	if (complete_noted(s, hex, all, sizeof(all)))
		return 0;
	/* Every tree read (its id recomputed), every blob there: a damaged or
	 * removed object is found here, not by enforcement halfway. */
	r = reach(s, &mark, id, PLUMB_OBJ_COMMIT, 0, err);
	plumb_idset_free(&mark);
	if (r == 0)
		note_complete(s, hex, all);
	return r;
}

int plumb_objstore_prune(struct plumb_objstore *s, const unsigned char (*roots)[20], size_t nroots, size_t *removed,
			 struct plumb_err *err)
{
	struct plumb_idset mark = {0};
	int r = 0;

	*removed = 0;
	(void)unlinkat(s->dirfd, COMPLETE_NOTE, 0);   /* before anything goes */
	for (size_t i = 0; i < nroots; i++) {
		struct plumb_err e;
		int rr = reach(s, &mark, roots[i], 0, 0, &e);

		/* A root that is missing or damaged keeps nothing; a bug or no
		 * memory keeps everything. */
		if (rr == PLUMB_E_NOMEM || rr == PLUMB_E_IO) {
			plumb_idset_free(&mark);
			return plumb_err_set(err, rr, "cannot prune '%s': %s", s->path, e.msg);
		}
	}
	for (int b = 0; b < 256 && r == 0; b++) {
		char sub[3];
		struct dirent *de;
		DIR *d;
		int fd;

		snprintf(sub, sizeof(sub), "%02x", b);
		if ((fd = openat(s->objfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			continue;
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			char hex[41];
			unsigned char id[20];

			if (de->d_name[0] == '.')
				continue;
			snprintf(hex, sizeof(hex), "%s%.38s", sub, de->d_name);
			if (strlen(de->d_name) != 38 || plumb_oid_parse(id, hex) != 0 || !plumb_idset_has(&mark, id)) {
				if (unlinkat(dirfd(d), de->d_name, 0) == 0)
					(*removed)++;
			}
		}
		closedir(d);
	}
	sweep_dir(s->incfd);
	plumb_idset_free(&mark);
	return r;
}

int plumb_objstore_put_note(struct plumb_objstore *s, const char *name, const char *text, struct plumb_err *err)
{
	char tmp[128];
	int fd, r = 0;
	size_t n = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	if (n > 255)
		return plumb_err_set(err, PLUMB_E_INTERNAL, "note too long");
	(void)unlinkat(s->dirfd, tmp, 0);
	if ((fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write '%s/%s'", s->path, tmp);
	if (write(fd, text, n) != (ssize_t)n)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write '%s/%s'", s->path, tmp);
	if (close(fd) != 0 && r == 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write '%s/%s'", s->path, tmp);
	if (r == 0 && renameat(s->dirfd, tmp, s->dirfd, name) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot write '%s/%s'", s->path, name);
	if (r != 0)
		(void)unlinkat(s->dirfd, tmp, 0);
	return r;
}

int plumb_objstore_get_note(struct plumb_objstore *s, const char *name, char *out, size_t n, struct plumb_err *err)
{
	int fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t got;

	out[0] = '\0';
	if (fd < 0)
		return plumb_err_errno(err, errno == ENOENT ? PLUMB_E_NOTFOUND : PLUMB_E_IO, errno, "cannot read '%s/%s'",
				       s->path, name);
	got = read(fd, out, n - 1);
	close(fd);
	if (got < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot read '%s/%s'", s->path, name);
	out[got] = '\0';
	return 0;
}

int plumb_objstore_drop_note(struct plumb_objstore *s, const char *name)
{
	return unlinkat(s->dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
}
