/* test_objstore.c - the parent's side of the fetch boundary: git's object
 * ids, the frame reader (fed byte by byte and whole; every cap, every
 * malformed head, truncation), the strict tree and commit parsers, and the
 * store (stage, commit, read with the id recomputed, completeness, prune). */
#include "testlib.h"

#include "plumb/objstore.h"

struct sink {
	int n, kinds[64];
	size_t lens[64];
};

static int collect(void *arg, const struct plumb_frame *fr, struct plumb_err *err)
{
	struct sink *s = arg;

	(void)err;
	if (s->n < 64) {
		s->kinds[s->n] = fr->kind;
		s->lens[s->n] = fr->len;
	}
	s->n++;
	return 0;
}

static const struct plumb_frame_limits lim = {1000, 5000, 5000, 1000, 10};

/* Appends one frame to buf at *off. */
static void put(unsigned char *buf, size_t *off, int kind, const unsigned char *id, const void *data, size_t len)
{
	buf[*off] = (unsigned char)kind;
	buf[*off + 1] = (unsigned char)(len >> 24);
	buf[*off + 2] = (unsigned char)(len >> 16);
	buf[*off + 3] = (unsigned char)(len >> 8);
	buf[*off + 4] = (unsigned char)len;
	if (id)
		memcpy(buf + *off + 5, id, 20);
	else
		memset(buf + *off + 5, 0, 20);
	memcpy(buf + *off + 25, data, len);
	*off += 25 + len;
}

static void oid_of_blob(void **state)
{
	unsigned char id[20];
	char hex[41];

	(void)state;
	/* git hash-object on "hello\n" and on nothing */
	plumb_obj_hash(PLUMB_OBJ_BLOB, "hello\n", 6, id);
	plumb_oid_hex(hex, id);
	assert_string_equal(hex, "ce013625030ba8dba906f756967f9e9ca394464a");
	plumb_obj_hash(PLUMB_OBJ_BLOB, "", 0, id);
	plumb_oid_hex(hex, id);
	assert_string_equal(hex, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	assert_int_equal(plumb_oid_parse(id, "E69DE29BB2D1D6434B8B29AE775AD8C2E48C5391"), -1);   /* lowercase only */
	assert_int_equal(plumb_oid_parse(id, "e69de29b"), -1);
}

static int feed_all(const unsigned char *buf, size_t n, int bytewise, struct sink *s, struct plumb_err *err)
{
	struct plumb_frames r;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	plumb_frames_init(&r, &lim);
	if (bytewise) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = plumb_frames_feed(&r, buf + i, 1, collect, s, err);
	} else {
		rc = plumb_frames_feed(&r, buf, n, collect, s, err);
	}
	if (rc == 0)
		rc = plumb_frames_eof(&r, err);
	plumb_frames_release(&r);
	return rc;
}

static void frames_good(void **state)
{
	unsigned char buf[4096], id[20];
	size_t off = 0;
	struct sink s;
	struct plumb_err err;
	unsigned char d = 1;

	(void)state;
	plumb_obj_hash(PLUMB_OBJ_BLOB, "hello\n", 6, id);
	put(buf, &off, PLUMB_OBJ_BLOB, id, "hello\n", 6);
	plumb_obj_hash(PLUMB_OBJ_BLOB, "", 0, id);
	put(buf, &off, PLUMB_OBJ_BLOB, id, "", 0);
	put(buf, &off, PLUMB_FRAME_NOTE, NULL, &d, 1);
	put(buf, &off, PLUMB_FRAME_TIP, id, "", 0);
	put(buf, &off, PLUMB_FRAME_DONE, NULL, "", 0);
	for (int bytewise = 0; bytewise <= 1; bytewise++) {
		assert_int_equal(feed_all(buf, off, bytewise, &s, &err), 0);
		assert_int_equal(s.n, 5);
		assert_int_equal(s.kinds[0], PLUMB_OBJ_BLOB);
		assert_int_equal(s.lens[0], 6);
		assert_int_equal(s.kinds[1], PLUMB_OBJ_BLOB);
		assert_int_equal(s.lens[1], 0);
		assert_int_equal(s.kinds[4], PLUMB_FRAME_DONE);
	}
}

/* The fetcher's buffered writer puts out exactly what plumb_frame_write
 * does, frame for frame, across the buffer's end and for a body larger
 * than the buffer; small frames wait for the flush. */
static void frames_buffered(void **state)
{
	static struct plumb_frame_out out;
	static unsigned char big[100000];
	char path_a[] = "/tmp/plumb-frames-a.XXXXXX", path_b[] = "/tmp/plumb-frames-b.XXXXXX";
	int a = mkstemp(path_a), b = mkstemp(path_b);
	unsigned char id[20], body[30];
	struct stat sa, sb;

	(void)state;
	assert_true(a >= 0 && b >= 0);
	memset(big, 'x', sizeof(big));
	plumb_frame_out_init(&out, a);
	for (int i = 0; i < 3000; i++) {
		memset(body, 'a' + i % 26, sizeof(body));
		plumb_obj_hash(PLUMB_OBJ_BLOB, body, (size_t)(i % 31), id);
		assert_int_equal(plumb_frame_out_add(&out, PLUMB_OBJ_BLOB, id, body, (size_t)(i % 31)), 0);
		assert_int_equal(plumb_frame_write(b, PLUMB_OBJ_BLOB, id, body, (size_t)(i % 31)), 0);
		if (i == 10) {
			assert_int_equal(fstat(a, &sa), 0);
			assert_int_equal(sa.st_size, 0);      /* nothing written yet */
		}
		if (i == 1500) {
			plumb_obj_hash(PLUMB_OBJ_BLOB, big, sizeof(big), id);
			assert_int_equal(plumb_frame_out_add(&out, PLUMB_OBJ_BLOB, id, big, sizeof(big)), 0);
			assert_int_equal(plumb_frame_write(b, PLUMB_OBJ_BLOB, id, big, sizeof(big)), 0);
		}
	}
	assert_int_equal(plumb_frame_out_add(&out, PLUMB_FRAME_TIP, id, NULL, 0), 0);
	assert_int_equal(plumb_frame_out_add(&out, PLUMB_FRAME_DONE, NULL, NULL, 0), 0);
	assert_int_equal(plumb_frame_out_flush(&out), 0);
	assert_int_equal(plumb_frame_write(b, PLUMB_FRAME_TIP, id, NULL, 0), 0);
	assert_int_equal(plumb_frame_write(b, PLUMB_FRAME_DONE, NULL, NULL, 0), 0);
	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_int_equal(sa.st_size, sb.st_size);
	{
		unsigned char *x = malloc((size_t)sa.st_size), *y = malloc((size_t)sb.st_size);

		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal(pread(a, x, (size_t)sa.st_size, 0), sa.st_size);
		assert_int_equal(pread(b, y, (size_t)sb.st_size, 0), sb.st_size);
		assert_memory_equal(x, y, (size_t)sa.st_size);
		free(x);
		free(y);
	}
	close(a);
	close(b);
	unlink(path_a);
	unlink(path_b);
}

static void frames_refused(void **state)
{
	unsigned char buf[8192], id[20], zero[20] = {0}, big[1200];
	size_t off;
	struct sink s;
	struct plumb_err err;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* forged: content not matching its id */
	off = 0;
	plumb_obj_hash(PLUMB_OBJ_BLOB, "hello\n", 6, id);
	put(buf, &off, PLUMB_OBJ_BLOB, id, "jello\n", 6);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "forged or damaged"));
	assert_int_equal(s.n, 0);
	/* the same bytes under another type */
	off = 0;
	put(buf, &off, PLUMB_OBJ_TREE, id, "hello\n", 6);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	/* oversized object: refused at the head, before any body is read */
	off = 0;
	plumb_obj_hash(PLUMB_OBJ_BLOB, big, sizeof(big), id);
	put(buf, &off, PLUMB_OBJ_BLOB, id, big, sizeof(big));
	assert_int_equal(feed_all(buf, PLUMB_FRAME_HEAD, 0, &s, &err), PLUMB_E_TOOBIG);
	/* oversized commit (commit_max 1000) */
	off = 0;
	put(buf, &off, PLUMB_OBJ_COMMIT, id, big, 1001);
	assert_int_equal(feed_all(buf, PLUMB_FRAME_HEAD, 0, &s, &err), PLUMB_E_TOOBIG);
	/* a length of 4 GiB - 1 */
	memset(buf, 0xff, PLUMB_FRAME_HEAD);
	buf[0] = PLUMB_OBJ_BLOB;
	assert_int_equal(feed_all(buf, PLUMB_FRAME_HEAD, 0, &s, &err), PLUMB_E_TOOBIG);
	/* the per-fetch content cap: 6 blobs of 900 bytes > 5000 */
	off = 0;
	for (int k = 0; k < 6; k++) {
		big[0] = (unsigned char)k;
		plumb_obj_hash(PLUMB_OBJ_BLOB, big, 900, id);
		put(buf, &off, PLUMB_OBJ_BLOB, id, big, 900);
	}
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_TOOBIG);
	assert_int_equal(s.n, 5);
	assert_non_null(strstr(err.msg, "source.max_size"));
	/* the per-fetch count cap: 11 objects > 10 */
	off = 0;
	for (int k = 0; k < 11; k++) {
		unsigned char c = (unsigned char)k;

		plumb_obj_hash(PLUMB_OBJ_BLOB, &c, 1, id);
		put(buf, &off, PLUMB_OBJ_BLOB, id, &c, 1);
	}
	assert_int_equal(feed_all(buf, off, 1, &s, &err), PLUMB_E_TOOBIG);
	assert_int_equal(s.n, 10);
	/* unknown kinds, 0 and 0x7f */
	off = 0;
	put(buf, &off, 0, zero, "", 0);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "unknown kind 0"));
	off = 0;
	put(buf, &off, 0x7f, zero, "", 0);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	/* malformed control frames: a tip with a body, a zero tip, an end with an id, an empty failure */
	off = 0;
	put(buf, &off, PLUMB_FRAME_TIP, id, "abc", 3);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	off = 0;
	put(buf, &off, PLUMB_FRAME_TIP, zero, "", 0);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	off = 0;
	put(buf, &off, PLUMB_FRAME_DONE, id, "", 0);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	off = 0;
	put(buf, &off, PLUMB_FRAME_FAIL, NULL, "", 0);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	off = 0;
	put(buf, &off, PLUMB_FRAME_NOTE, NULL, "ab", 2);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	/* anything after the last frame */
	off = 0;
	put(buf, &off, PLUMB_FRAME_DONE, NULL, "", 0);
	put(buf, &off, PLUMB_FRAME_DONE, NULL, "", 0);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "after its last frame"));
	/* truncated: every cut of a good stream short of its end */
	off = 0;
	plumb_obj_hash(PLUMB_OBJ_BLOB, "hello\n", 6, id);
	put(buf, &off, PLUMB_OBJ_BLOB, id, "hello\n", 6);
	put(buf, &off, PLUMB_FRAME_TIP, id, "", 0);
	put(buf, &off, PLUMB_FRAME_DONE, NULL, "", 0);
	for (size_t cut = 0; cut < off; cut++)
		assert_int_equal(feed_all(buf, cut, cut % 2, &s, &err), PLUMB_E_INVALID);
	assert_int_equal(feed_all(buf, off, 0, &s, &err), 0);
}

/* A tree's bytes from "MODE NAME" strings and ids. */
static size_t mk_tree(unsigned char *out, const char *const *ents, size_t n, const unsigned char *id)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(ents[i]) + 1;

		memcpy(out + off, ents[i], l);
		off += l;
		memcpy(out + off, id, 20);
		off += 20;
	}
	return off;
}

static void tree_parser(void **state)
{
	unsigned char buf[1024], id[20];
	struct plumb_tree t;
	struct plumb_err err;
	const struct plumb_tree_entry *e;
	size_t n;

	(void)state;
	memset(id, 0xab, sizeof(id));
	{
		/* git's order: "a.b" < "a" (a tree, as "a/") < "a0" */
		static const char *const good[] = {"100644 a.b", "40000 a", "100755 a0", "120000 link", "160000 sub"};

		n = mk_tree(buf, good, 5, id);
		assert_int_equal(plumb_tree_parse(&t, buf, n, &err), 0);
		assert_int_equal(t.n, 5);
		assert_non_null(e = plumb_tree_find(&t, "a", 1));
		assert_int_equal(e->mode, PLUMB_TREE_MODE_TREE);
		assert_non_null(e = plumb_tree_find(&t, "a0", 2));
		assert_int_equal(e->mode, PLUMB_TREE_MODE_EXEC);
		assert_null(plumb_tree_find(&t, "a.", 2));
		assert_null(plumb_tree_find(&t, "zzz", 3));
		plumb_tree_release(&t);
	}
	assert_int_equal(plumb_tree_parse(&t, buf, 0, &err), 0);      /* the empty tree */
	plumb_tree_release(&t);
	{
		static const char *const bad[][2] = {
			{"100644 ..", NULL}, {"100644 .", NULL}, {"100644 a/b", NULL}, {"100644 ", NULL},
			{"100664 a", NULL}, {"0100644 a", NULL}, {"40000 /", NULL}, {"1006440 a", NULL},
			{"100644 b", "100644 a"},            /* out of order */
			{"100644 a", "100644 a"},            /* repeated */
			{"40000 a", "100644 a.b"},           /* out of git's order: "a/" > "a." */
			{"100644a", NULL}, {"abc a", NULL},
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = mk_tree(buf, bad[i], bad[i][1] ? 2 : 1, id);
			assert_int_equal(plumb_tree_parse(&t, buf, n, &err), PLUMB_E_INVALID);
			assert_null(t.v);
		}
	}
	{
		/* a blob and a tree of one name, apart in git's order: refused */
		static const char *const twin[] = {"100644 a", "100644 a-b", "40000 a"};

		n = mk_tree(buf, twin, 3, id);
		assert_int_equal(plumb_tree_parse(&t, buf, n, &err), PLUMB_E_INVALID);
		assert_non_null(strstr(err.msg, "appears twice"));
	}
	{
		static const char *const one[] = {"100644 a"};

		n = mk_tree(buf, one, 1, id);
		for (size_t cut = 1; cut < n; cut++)        /* an id or a name cut short */
			assert_int_equal(plumb_tree_parse(&t, buf, cut, &err), PLUMB_E_INVALID);
	}
}

static void commit_parser(void **state)
{
	static const char c0[] = "tree ce013625030ba8dba906f756967f9e9ca394464a\nauthor a\n\nm\n";
	static const char c2[] = "tree ce013625030ba8dba906f756967f9e9ca394464a\n"
				 "parent e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\n"
				 "parent ce013625030ba8dba906f756967f9e9ca394464a\nauthor a\n\nm\n";
	static const char *const bad[] = {
		"tree ce013625030ba8dba906f756967f9e9ca394464\nauthor a\n",
		"tree CE013625030BA8DBA906F756967F9E9CA394464A\n",
		"author a\ntree ce013625030ba8dba906f756967f9e9ca394464a\n",
		"tree ce013625030ba8dba906f756967f9e9ca394464a\nparent zz\n",
		"tree ce013625030ba8dba906f756967f9e9ca394464a\nparent e69de29bb2d1d6434b8b29ae775ad8c2e48c5391x\n",
	};
	unsigned char tree[20], parent[20];
	struct plumb_err err;
	char hex[41];
	int has;

	(void)state;
	assert_int_equal(plumb_commit_parse((const unsigned char *)c0, sizeof(c0) - 1, tree, parent, &has, &err), 0);
	assert_int_equal(has, 0);
	assert_int_equal(plumb_commit_parse((const unsigned char *)c2, sizeof(c2) - 1, tree, parent, &has, &err), 0);
	assert_int_equal(has, 1);
	plumb_oid_hex(hex, parent);
	assert_string_equal(hex, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");   /* the first parent */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(plumb_commit_parse((const unsigned char *)bad[i], strlen(bad[i]), tree, parent, &has, &err),
				 PLUMB_E_INVALID);
}

static size_t count_files(const char *dir)
{
	char cmd[4200];
	FILE *p;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%zu", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

static void store_roundtrip(void **state)
{
	char *dir = t_mkdtemp(), objs[4200], inc[4200], hex[41], commit[200];
	struct plumb_objstore *s;
	struct plumb_err err;
	unsigned char blob[20], blob2[20], tree[20], tree2[20], cid[20], cid2[20], tb[256], *data;
	size_t len, n, removed;
	int type;

	(void)state;
	snprintf(objs, sizeof(objs), "%s/%s/objects", dir, PLUMB_OBJSTORE_DIR);
	snprintf(inc, sizeof(inc), "%s/%s/incoming", dir, PLUMB_OBJSTORE_DIR);
	assert_int_equal(plumb_objstore_open(&s, dir, 0, &err), PLUMB_E_NOTFOUND);
	assert_int_equal(plumb_objstore_open(&s, dir, 1, &err), 0);
	plumb_obj_hash(PLUMB_OBJ_BLOB, "hello\n", 6, blob);
	/* a tree naming what is neither stored nor staged is refused */
	{
		static const char *const ent[] = {"100644 motd"};

		n = mk_tree(tb, ent, 1, blob);
	}
	plumb_obj_hash(PLUMB_OBJ_TREE, tb, n, tree);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_TREE, tree, tb, n, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "not sent before it"));
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_BLOB, blob, "hello\n", 6, &err), 0);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_TREE, tree, tb, n, &err), 0);
	plumb_oid_hex(hex, tree);
	len = (size_t)snprintf(commit, sizeof(commit), "tree %s\nauthor a\n\nm\n", hex);
	plumb_obj_hash(PLUMB_OBJ_COMMIT, commit, len, cid);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_COMMIT, cid, commit, len, &err), 0);
	assert_int_equal(plumb_objstore_has(s, cid), 1);
	assert_int_equal(count_files(objs), 0);      /* staged, not visible */
	/* closed without a commit: nothing stays */
	plumb_objstore_close(s);
	assert_int_equal(count_files(inc), 0);
	assert_int_equal(plumb_objstore_open(&s, dir, 1, &err), 0);
	assert_int_equal(plumb_objstore_has(s, cid), 0);
	assert_int_equal(plumb_objstore_complete(s, cid, &err), PLUMB_E_NOTFOUND);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_BLOB, blob, "hello\n", 6, &err), 0);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_TREE, tree, tb, n, &err), 0);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_COMMIT, cid, commit, len, &err), 0);
	assert_int_equal(plumb_objstore_commit(s, &err), 0);
	assert_int_equal(count_files(objs), 3);
	assert_int_equal(plumb_objstore_complete(s, cid, &err), 0);
	assert_int_equal(plumb_objstore_read(s, blob, &type, &data, &len, 100, &err), 0);
	assert_int_equal(type, PLUMB_OBJ_BLOB);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "hello\n", 6);
	free(data);
	assert_int_equal(plumb_objstore_read(s, blob, &type, &data, &len, 5, &err), PLUMB_E_TOOBIG);
	/* a second commit sharing the blob, then a prune to it alone */
	plumb_obj_hash(PLUMB_OBJ_BLOB, "two\n", 4, blob2);
	{
		static const char *const ent[] = {"100644 other"};

		n = mk_tree(tb, ent, 1, blob2);
	}
	plumb_obj_hash(PLUMB_OBJ_TREE, tb, n, tree2);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_BLOB, blob2, "two\n", 4, &err), 0);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_TREE, tree2, tb, n, &err), 0);
	plumb_oid_hex(hex, tree2);
	len = (size_t)snprintf(commit, sizeof(commit), "tree %s\nauthor a\n\nm2\n", hex);
	plumb_obj_hash(PLUMB_OBJ_COMMIT, commit, len, cid2);
	assert_int_equal(plumb_objstore_stage(s, PLUMB_OBJ_COMMIT, cid2, commit, len, &err), 0);
	assert_int_equal(plumb_objstore_commit(s, &err), 0);
	assert_int_equal(count_files(objs), 6);
	{
		const unsigned char roots[1][20];

		memcpy((void *)roots[0], cid2, 20);
		assert_int_equal(plumb_objstore_prune(s, roots, 1, &removed, &err), 0);
	}
	assert_int_equal(removed, 3);
	assert_int_equal(count_files(objs), 3);
	assert_int_equal(plumb_objstore_complete(s, cid2, &err), 0);
	assert_int_equal(plumb_objstore_complete(s, cid, &err), PLUMB_E_NOTFOUND);
	/* damage on disk: the id no longer matches; the read says so and removes it */
	{
		char p[4300];
		FILE *f;

		plumb_oid_hex(hex, blob2);
		snprintf(p, sizeof(p), "%s/%.2s/%s", objs, hex, hex + 2);
		assert_non_null(f = fopen(p, "r+b"));
		fseek(f, -1, SEEK_END);
		fputc('X', f);
		fclose(f);
		assert_int_equal(plumb_objstore_read(s, blob2, &type, &data, &len, 100, &err), PLUMB_E_CORRUPT);
		assert_int_equal(access(p, F_OK), -1);
		assert_int_equal(plumb_objstore_complete(s, cid2, &err), PLUMB_E_NOTFOUND);
	}
	/* notes */
	assert_int_equal(plumb_objstore_put_note(s, "FETCHED", "abc\n", &err), 0);
	assert_int_equal(plumb_objstore_get_note(s, "FETCHED", hex, sizeof(hex), &err), 0);
	assert_string_equal(hex, "abc\n");
	assert_int_equal(plumb_objstore_drop_note(s, "FETCHED"), 0);
	assert_int_equal(plumb_objstore_get_note(s, "FETCHED", hex, sizeof(hex), &err), PLUMB_E_NOTFOUND);
	plumb_objstore_close(s);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(oid_of_blob),
		cmocka_unit_test(frames_good),
		cmocka_unit_test(frames_buffered),
		cmocka_unit_test(frames_refused),
		cmocka_unit_test(tree_parser),
		cmocka_unit_test(commit_parser),
		cmocka_unit_test(store_roundtrip),
	};

	return cmocka_run_group_tests_name("objstore", tests, NULL, NULL);
}
