/* test_users.c - names resolve from the target root's own passwd/group,
 * never the host's; numbers and root always resolve. */
#include "testlib.h"

#include "plumb/users.h"

static void resolve(void **state)
{
	char *dir = t_mkdtemp(), p[512];
	struct plumb_users *u;
	struct plumb_err err;
	uid_t uid;
	gid_t gid;
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/etc", dir);
	mkdir(p, 0755);
	t_write(dir, "etc/passwd",
		"# comment\nroot:x:0:0::/root:/bin/sh\nsshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n"
		"broken-line\nbad:x:notanumber:1::/:/bin/sh\n+nis\n");
	t_write(dir, "etc/group", "root:x:0:\nshadow:x:42:\n");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_int_equal(plumb_users_load(&u, fd, &err), 0);
	assert_int_equal(plumb_users_uid(u, "sshd", &uid), 0);
	assert_int_equal(uid, 105);
	assert_int_equal(plumb_users_uid(u, "root", &uid), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(plumb_users_uid(u, "4242", &uid), 0);
	assert_int_equal(uid, 4242);
	assert_int_equal(plumb_users_uid(u, "bad", &uid), PLUMB_E_NOTFOUND);
	assert_int_equal(plumb_users_uid(u, "broken-line", &uid), PLUMB_E_NOTFOUND);
	/* a host user that this root does not have */
	assert_int_equal(plumb_users_uid(u, "daemon", &uid), PLUMB_E_NOTFOUND);
	assert_int_equal(plumb_users_gid(u, "shadow", &gid), 0);
	assert_int_equal(gid, 42);
	assert_int_equal(plumb_users_gid(u, "sshd", &gid), PLUMB_E_NOTFOUND);
	plumb_users_free(u);

	/* a passwd that is a symlink out of the root is refused */
	snprintf(p, sizeof(p), "%s/etc/passwd", dir);
	unlink(p);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(plumb_users_load(&u, fd, &err), PLUMB_E_UNSAFE);
	/* with no table, numbers and root still resolve */
	assert_int_equal(plumb_users_uid(NULL, "root", &uid), 0);
	assert_int_equal(plumb_users_uid(NULL, "7", &uid), 0);
	assert_int_equal(uid, 7);
	assert_int_equal(plumb_users_uid(NULL, "sshd", &uid), PLUMB_E_NOTFOUND);
	close(fd);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolve),
	};

	return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}
