/* test_fs.c - confined opens (openat2 and the O_NOFOLLOW walk alike), the
 * explanation of unsafe components, parent creation, atomic replace. */
#include "testlib.h"

#include "plumb/fs.h"

struct ctx {
	char *dir;
	int fd;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char p[512];

	c->dir = t_mkdtemp();
	snprintf(p, sizeof(p), "%s/etc", c->dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/ssh", c->dir);
	mkdir(p, 0755);
	t_write(c->dir, "etc/motd", "hi\n");
	t_write(c->dir, "outside", "secret\n");
	snprintf(p, sizeof(p), "%s/evil", c->dir);
	assert_int_equal(symlink("/", p), 0);          /* absolute link to host root */
	snprintf(p, sizeof(p), "%s/etc/link", c->dir);
	assert_int_equal(symlink("ssh", p), 0);        /* relative link inside */
	snprintf(p, sizeof(p), "%s/etc/motdlink", c->dir);
	assert_int_equal(symlink("motd", p), 0);
	c->fd = open(c->dir, O_RDONLY | O_DIRECTORY);
	assert_true(c->fd >= 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	close(c->fd);
	t_rm_rf(c->dir);
	free(c->dir);
	free(c);
	plumb_fs_set_openat2(1);
	return 0;
}

static void opens(struct ctx *c)
{
	int fd;

	assert_int_equal(plumb_fs_open_beneath(&fd, c->fd, "etc/motd", O_RDONLY), 0);
	close(fd);
	assert_int_equal(plumb_fs_open_beneath(&fd, c->fd, "etc/nothing", O_RDONLY), PLUMB_E_NOTFOUND);
	assert_int_equal(fd, -1);
	/* a symlink as a parent component, absolute or relative: refused */
	assert_int_equal(plumb_fs_open_beneath(&fd, c->fd, "evil/etc/passwd", O_RDONLY), PLUMB_E_UNSAFE);
	assert_int_equal(plumb_fs_open_beneath(&fd, c->fd, "etc/link/x", O_RDONLY), PLUMB_E_UNSAFE);
	/* a symlink as the last component: refused */
	assert_int_equal(plumb_fs_open_beneath(&fd, c->fd, "etc/motdlink", O_RDONLY), PLUMB_E_UNSAFE);
	/* a file as a parent component */
	assert_int_equal(plumb_fs_open_beneath(&fd, c->fd, "etc/motd/x", O_RDONLY), PLUMB_E_UNSAFE);
}

static void opens_openat2(void **state)
{
	plumb_fs_set_openat2(1);
	opens(*state);
}

static void opens_walk(void **state)
{
	plumb_fs_set_openat2(0);
	opens(*state);
}

static void parent_explained(void **state)
{
	struct ctx *c = *state;
	struct plumb_err err;
	const char *base;
	int fd;

	assert_int_equal(plumb_fs_open_parent(&fd, &base, c->fd, "/evil/etc/shadow", 1, &err), PLUMB_E_UNSAFE);
	assert_string_equal(err.msg, "'/evil' is a symlink; refusing to follow it");
	assert_int_equal(plumb_fs_open_parent(&fd, &base, c->fd, "/etc/link/sshd_config", 0, &err), PLUMB_E_UNSAFE);
	assert_string_equal(err.msg, "'/etc/link' is a symlink; refusing to follow it");
	assert_int_equal(plumb_fs_open_parent(&fd, &base, c->fd, "/etc/motd/x", 1, &err), PLUMB_E_UNSAFE);
	assert_string_equal(err.msg, "'/etc/motd' is not a directory");
	assert_int_equal(plumb_fs_open_parent(&fd, &base, c->fd, "/etc/new/deeper/file", 0, &err), PLUMB_E_NOTFOUND);
	/* the host's root was never touched through the link */
	assert_int_equal(access("/etc/new", F_OK), -1);
}

static void parent_created(void **state)
{
	struct ctx *c = *state;
	struct plumb_err err;
	const char *base;
	struct stat st;
	char p[512];
	int fd;

	assert_int_equal(plumb_fs_open_parent(&fd, &base, c->fd, "/opt/a/b/file", 1, &err), 0);
	assert_string_equal(base, "file");
	close(fd);
	snprintf(p, sizeof(p), "%s/opt/a/b", c->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	/* a top-level path's parent is the root itself */
	assert_int_equal(plumb_fs_open_parent(&fd, &base, c->fd, "/top", 0, &err), 0);
	assert_string_equal(base, "top");
	close(fd);
}

static int fill_fail(void *ctx, int fd, struct plumb_err *err)
{
	(void)ctx;
	(void)!write(fd, "partial", 7);
	return plumb_err_set(err, PLUMB_E_IO, "injected failure");
}

static int keep_none(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return 0;
}

static int keep_all(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return 1;
}

static void replace(void **state)
{
	struct ctx *c = *state;
	struct plumb_fs_meta meta = {0640, (uid_t)-1, (gid_t)-1};
	struct plumb_fs_mem m = {"new content\n", 12};
	struct plumb_err err;
	struct stat st;
	char p[512], tmp[32], *text;
	int dfd;

	dfd = openat(c->fd, "etc", O_RDONLY | O_DIRECTORY);
	assert_int_equal(plumb_fs_replace(dfd, "motd", &meta, plumb_fs_fill_mem, &m, &err), 0);
	snprintf(p, sizeof(p), "%s/etc/motd", c->dir);
	text = t_read(p, NULL);
	assert_string_equal(text, "new content\n");
	free(text);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* a failed fill leaves the old file and no temp behind */
	assert_int_equal(plumb_fs_replace(dfd, "motd", &meta, fill_fail, NULL, &err), PLUMB_E_IO);
	text = t_read(p, NULL);
	assert_string_equal(text, "new content\n");
	free(text);
	{
		DIR *d = fdopendir(dup(dfd));
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			assert_false(plumb_fs_is_temp_name(de->d_name));
		closedir(d);
	}
	/* temp names are drawn at random: two draws differ, both look like temps */
	{
		char t2[32];

		plumb_fs_temp_name(tmp);
		plumb_fs_temp_name(t2);
		assert_true(plumb_fs_is_temp_name(tmp));
		assert_true(plumb_fs_is_temp_name(t2));
		assert_string_not_equal(tmp, t2);
	}
	/* objects planted at temp-looking names are never touched: a symlink
	 * is not followed, a directory does not block the replacement */
	assert_int_equal(symlinkat("../outside", dfd, tmp), 0);
	assert_int_equal(mkdirat(dfd, ".plumb-0000000000000000.tmp", 0755), 0);
	assert_int_equal(plumb_fs_replace(dfd, "motd", &meta, plumb_fs_fill_mem, &m, &err), 0);
	snprintf(p, sizeof(p), "%s/outside", c->dir);
	text = t_read(p, NULL);
	assert_string_equal(text, "secret\n");
	free(text);
	assert_int_equal(fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* the sweep removes only plumb's own leftovers: our symlink, not a
	 * directory, and never a name the caller says is managed */
	assert_int_equal(plumb_fs_clean_temps(dfd, keep_none, NULL), 1);
	assert_int_equal(fstatat(dfd, ".plumb-0000000000000000.tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(unlinkat(dfd, ".plumb-0000000000000000.tmp", AT_REMOVEDIR), 0);
	{
		int fd = openat(dfd, ".plumb-1111111111111111.tmp", O_CREAT | O_WRONLY, 0600);

		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(plumb_fs_clean_temps(dfd, keep_all, NULL), 0);
		assert_int_equal(plumb_fs_clean_temps(dfd, NULL, NULL), 1);
	}
	/* replacing a symlink replaces the link, not what it points to */
	assert_int_equal(plumb_fs_replace(dfd, "motdlink", &meta, plumb_fs_fill_mem, &m, &err), 0);
	assert_int_equal(fstatat(dfd, "motdlink", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	/* a symlink replacement */
	assert_int_equal(plumb_fs_replace_symlink(dfd, "motdlink", "/usr/share/zoneinfo/UTC", &meta, &err), 0);
	{
		char buf[64];
		ssize_t n = readlinkat(dfd, "motdlink", buf, sizeof(buf) - 1);

		assert_true(n > 0);
		buf[n] = '\0';
		assert_string_equal(buf, "/usr/share/zoneinfo/UTC");
	}
	/* never over a directory */
	assert_int_equal(plumb_fs_replace(dfd, "ssh", &meta, plumb_fs_fill_mem, &m, &err), PLUMB_E_IO);
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(opens_openat2, setup, teardown),
		cmocka_unit_test_setup_teardown(opens_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(parent_explained, setup, teardown),
		cmocka_unit_test_setup_teardown(parent_created, setup, teardown),
		cmocka_unit_test_setup_teardown(replace, setup, teardown),
	};

	return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
