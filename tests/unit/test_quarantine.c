/* test_quarantine.c - content addressing, the size cap, oldest-first pruning,
 * and root-only permissions of the quarantine. */
#include "testlib.h"

#include "plumb/quarantine.h"

static int tmpfile_with(const char *dir, const char *text)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/in.XXXXXX", dir);
	fd = mkstemp(p);
	assert_true(fd >= 0);
	unlink(p);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static int keep_text(struct plumb_quarantine *q, const char *dir, const char *res, const char *text,
		     char id[PLUMB_SHA256_HEX], struct plumb_err *err)
{
	int fd = tmpfile_with(dir, text), r;

	r = plumb_quarantine_keep(q, fd, res, id, err);
	close(fd);
	return r;
}

static int present(const char *dir, const char *id)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/quarantine/%s", dir, id);
	return stat(p, &st) == 0;
}

static void keep_and_prune(void **state)
{
	char *dir = t_mkdtemp(), p[600];
	char id1[PLUMB_SHA256_HEX], id2[PLUMB_SHA256_HEX], id3[PLUMB_SHA256_HEX];
	struct plumb_quarantine *q;
	struct plumb_err err;
	struct stat st;
	int sfd = open(dir, O_RDONLY | O_DIRECTORY);

	(void)state;
	/* 4 blocks of 4 KiB in all: one resource may hold one block's worth */
	assert_int_equal(plumb_quarantine_open(&q, sfd, 16384, &err), 0);
	snprintf(p, sizeof(p), "%s/quarantine", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(keep_text(q, dir, "file:/a", "abc", id1, &err), 0);
	assert_string_equal(err.msg, "");
	/* sha256("abc") */
	assert_string_equal(id1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	snprintf(p, sizeof(p), "%s/quarantine/%s", dir, id1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* three more resources fill the store; a fifth pushes out the oldest
	 * entry that is delivered evidence (all are: protect_since is later) */
	plumb_quarantine_free(q);
	sleep(1);   /* ages are in seconds: the next run starts later */
	assert_int_equal(plumb_quarantine_open(&q, sfd, 16384, &err), 0);
	assert_int_equal(keep_text(q, dir, "file:/b", "b", id2, &err), 0);
	assert_int_equal(keep_text(q, dir, "file:/c", "c", id3, &err), 0);
	assert_int_equal(keep_text(q, dir, "file:/d", "d", id3, &err), 0);
	assert_true(present(dir, id1));
	assert_int_equal(keep_text(q, dir, "file:/e", "e", id3, &err), 0);
	assert_false(present(dir, id1));       /* the oldest, and delivered */
	assert_string_equal(err.msg, "");
	assert_true(present(dir, id2));        /* undelivered: kept this run */
	/* a sixth must evict evidence not yet delivered, and says so */
	assert_int_equal(keep_text(q, dir, "file:/f", "f", id3, &err), 0);
	assert_false(present(dir, id2));
	assert_non_null(strstr(err.msg, "not yet delivered"));
	/* one resource drifting again evicts its own older entry first */
	assert_int_equal(keep_text(q, dir, "file:/f", "f2", id1, &err), 0);
	assert_false(present(dir, id3));
	assert_true(present(dir, id1));
	assert_non_null(strstr(err.msg, "not yet delivered"));
	/* larger than one resource's share: refused, nothing evicted */
	{
		char big[5000];

		memset(big, 'z', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(keep_text(q, dir, "file:/g", big, id2, &err), PLUMB_E_TOOBIG);
		assert_true(present(dir, id1));
	}
	/* the index survives a reopen, and a lost index is rebuilt */
	plumb_quarantine_free(q);
	snprintf(p, sizeof(p), "%s/quarantine/.index", dir);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(plumb_quarantine_open(&q, sfd, 16384, &err), 0);
	assert_int_equal(keep_text(q, dir, "file:/h", "h", id2, &err), 0);
	assert_true(present(dir, id1));
	assert_int_equal(stat(p, &st), 0);
	plumb_quarantine_free(q);
	close(sfd);
	t_rm_rf(dir);
	free(dir);
}

/* Many tiny drifts are counted by the blocks they take, and the number of
 * entries is capped, whatever their size. */
static void bounded_by_blocks(void **state)
{
	char *dir = t_mkdtemp(), id[PLUMB_SHA256_HEX], text[32];
	struct plumb_quarantine *q;
	struct plumb_err err;
	size_t n = 0;
	int sfd = open(dir, O_RDONLY | O_DIRECTORY);
	DIR *d;
	struct dirent *de;

	(void)state;
	assert_int_equal(plumb_quarantine_open(&q, sfd, 64 * 4096, &err), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(text, sizeof(text), "drift %d", i);
		assert_int_equal(keep_text(q, dir, i % 2 ? "file:/x" : "file:/y", text, id, &err), 0);
	}
	plumb_quarantine_free(q);
	{
		char p[600];

		snprintf(p, sizeof(p), "%s/quarantine", dir);
		assert_non_null(d = opendir(p));
		while ((de = readdir(d)) != NULL)
			n += strlen(de->d_name) == 64;
		closedir(d);
	}
	/* 200 one-line files, each taking at least a 4 KiB block on most
	 * filesystems: never more than the 64 blocks allowed */
	assert_true(n <= 64);
	assert_true(n > 0);
	close(sfd);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keep_and_prune),
		cmocka_unit_test(bounded_by_blocks),
	};

	return cmocka_run_group_tests_name("quarantine", tests, NULL, NULL);
}
