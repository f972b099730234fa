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

static void keep_and_prune(void **state)
{
	char *dir = t_mkdtemp(), p[600];
	char id1[PLUMB_SHA256_HEX], id2[PLUMB_SHA256_HEX], id3[PLUMB_SHA256_HEX];
	struct plumb_quarantine *q;
	struct plumb_err err;
	struct stat st;
	int sfd = open(dir, O_RDONLY | O_DIRECTORY), fd;

	(void)state;
	assert_int_equal(plumb_quarantine_open(&q, sfd, 100, &err), 0);
	snprintf(p, sizeof(p), "%s/quarantine", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	fd = tmpfile_with(dir, "abc");
	assert_int_equal(plumb_quarantine_keep(q, fd, id1, &err), 0);
	close(fd);
	/* sha256("abc") */
	assert_string_equal(id1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	snprintf(p, sizeof(p), "%s/quarantine/%s", dir, id1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* 60 + 3 fits in 100; a third of 60 pushes out the oldest */
	{
		char big[61], big2[61];

		memset(big, 'x', 60);
		big[60] = '\0';
		memset(big2, 'y', 60);
		big2[60] = '\0';
		usleep(20000);
		fd = tmpfile_with(dir, big);
		assert_int_equal(plumb_quarantine_keep(q, fd, id2, &err), 0);
		close(fd);
		assert_int_equal(stat(p, &st), 0);    /* id1 still there */
		usleep(20000);
		fd = tmpfile_with(dir, big2);
		assert_int_equal(plumb_quarantine_keep(q, fd, id3, &err), 0);
		close(fd);
		/* total was 123 > 100: id1 (oldest) and id2 go, id3 stays */
		assert_int_equal(stat(p, &st), -1);
		snprintf(p, sizeof(p), "%s/quarantine/%s", dir, id2);
		assert_int_equal(stat(p, &st), -1);
		snprintf(p, sizeof(p), "%s/quarantine/%s", dir, id3);
		assert_int_equal(stat(p, &st), 0);
	}
	/* larger than the whole cap: refused, nothing kept */
	{
		char huge[200];

		memset(huge, 'z', 199);
		huge[199] = '\0';
		fd = tmpfile_with(dir, huge);
		assert_int_equal(plumb_quarantine_keep(q, fd, id1, &err), PLUMB_E_TOOBIG);
		close(fd);
	}
	plumb_quarantine_free(q);
	close(sfd);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keep_and_prune),
	};

	return cmocka_run_group_tests_name("quarantine", tests, NULL, NULL);
}
