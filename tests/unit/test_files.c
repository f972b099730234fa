/* test_files.c - the file provider's diff logic (which drift kinds for which
 * actual state) and its repairs, on a temp root with a directory source. */
#include "testlib.h"

#include "plumb/baseline.h"
#include "plumb/files.h"
#include "plumb/quarantine.h"
#include "plumb/source.h"
#include "plumb/users.h"

struct ctx {
	char *dir;
	char root[512], bl[512], state[512];
	int rootfd, statefd;
	struct plumb_source *src;
	struct plumb_baseline *b;
	struct plumb_users *users;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct plumb_err err;
	char p[600];

	c->dir = t_mkdtemp();
	snprintf(c->root, sizeof(c->root), "%s/root", c->dir);
	snprintf(c->bl, sizeof(c->bl), "%s/bl", c->dir);
	snprintf(c->state, sizeof(c->state), "%s/state", c->dir);
	mkdir(c->root, 0755);
	mkdir(c->bl, 0755);
	mkdir(c->state, 0700);
	snprintf(p, sizeof(p), "%s/etc", c->root);
	mkdir(p, 0755);
	t_write(c->root, "etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n");
	t_write(c->root, "etc/group", "root:x:0:\nshadow:x:42:\n");
	snprintf(p, sizeof(p), "%s/files", c->bl);
	mkdir(p, 0755);
	t_write(c->bl, "files/big", "source content\n");
	c->rootfd = open(c->root, O_RDONLY | O_DIRECTORY);
	c->statefd = open(c->state, O_RDONLY | O_DIRECTORY);
	assert_int_equal(plumb_source_dir_open(&c->src, c->bl, "baseline.yaml", &err), 0);
	assert_int_equal(plumb_users_load(&c->users, c->rootfd, &err), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	plumb_baseline_free(c->b);
	plumb_source_free(c->src);
	plumb_users_free(c->users);
	close(c->rootfd);
	close(c->statefd);
	t_rm_rf(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

/* Parses a one-entry baseline and inspects it. */
static void inspect(struct ctx *c, struct plumb_file_job *job, const char *entry)
{
	char doc[2048];
	struct plumb_err err;

	plumb_baseline_free(c->b);
	snprintf(doc, sizeof(doc), "version: 1\nfiles:\n  - %s\n", entry);
	if (plumb_baseline_parse(&c->b, "t", doc, strlen(doc), &err) != 0)
		fail_msg("parse: %s", err.msg);
	memset(job, 0, sizeof(*job));
	job->res = &c->b->files[0];
	assert_int_equal(plumb_file_resolve(job, c->users), 0);
	{
		/* a fresh cache each time, and once more through a warm one */
		struct plumb_dircache dc = PLUMB_DIRCACHE_INIT;
		unsigned drift;

		plumb_file_inspect(job, c->rootfd, c->src, &dc);
		drift = job->drift;
		plumb_file_job_release(job);
		plumb_file_inspect(job, c->rootfd, c->src, &dc);
		assert_int_equal(job->drift, drift);
		plumb_dircache_release(&dc);
	}
}

static void path_of(struct ctx *c, char *out, const char *rel)
{
	snprintf(out, 700, "%s/%s", c->root, rel);
}

static void drift_kinds(void **state)
{
	struct ctx *c = *state;
	struct plumb_file_job j;
	char p[700];

	/* missing file, and a missing parent directory */
	inspect(c, &j, "path: /etc/motd\n    content: \"hi\\n\"");
	assert_null(j.error);
	assert_int_equal(j.drift, PLUMB_DRIFT_MISSING);
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/nope/x\n    content: \"hi\\n\"");
	assert_int_equal(j.drift, PLUMB_DRIFT_MISSING);
	plumb_file_job_release(&j);

	/* same content, wrong mode/owner/group */
	t_write(c->root, "etc/motd", "hi\n");
	path_of(c, p, "etc/motd");
	chmod(p, 0600);
	assert_int_equal(chown(p, 1000, 1000), 0);
	inspect(c, &j, "path: /etc/motd\n    content: \"hi\\n\"\n    mode: \"0644\"\n    owner: root\n    group: shadow");
	assert_int_equal(j.drift, PLUMB_DRIFT_MODE | PLUMB_DRIFT_OWNER | PLUMB_DRIFT_GROUP);
	assert_int_equal(j.gid, 42);
	plumb_file_job_release(&j);

	/* content of the same size but different bytes; and a different size */
	t_write(c->root, "etc/motd", "ho\n");
	inspect(c, &j, "path: /etc/motd\n    content: \"hi\\n\"");
	assert_int_equal(j.drift, PLUMB_DRIFT_CONTENT);
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/motd\n    source: files/big");
	assert_int_equal(j.drift, PLUMB_DRIFT_CONTENT);
	plumb_file_job_release(&j);
	t_write(c->root, "etc/motd", "source content\n");
	inspect(c, &j, "path: /etc/motd\n    source: files/big");
	assert_int_equal(j.drift, 0);
	plumb_file_job_release(&j);

	/* metadata only: content is not looked at */
	inspect(c, &j, "path: /etc/motd\n    owner: \"1000\"");
	assert_int_equal(j.drift, 0);
	plumb_file_job_release(&j);

	/* present but should be absent; absent and should be absent */
	inspect(c, &j, "path: /etc/motd\n    state: absent");
	assert_int_equal(j.drift, PLUMB_DRIFT_PRESENT);
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/gone\n    state: absent");
	assert_int_equal(j.drift, 0);
	plumb_file_job_release(&j);

	/* type: a file where a directory is wanted, a link where a file is */
	inspect(c, &j, "path: /etc/motd\n    type: directory");
	assert_int_equal(j.drift, PLUMB_DRIFT_TYPE);
	plumb_file_job_release(&j);
	path_of(c, p, "etc/lt");
	assert_int_equal(symlink("/usr/share/zoneinfo/Europe/Paris", p), 0);
	inspect(c, &j, "path: /etc/lt\n    content: \"x\"");
	assert_int_equal(j.drift, PLUMB_DRIFT_TYPE);
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/lt\n    type: symlink\n    target: /usr/share/zoneinfo/UTC");
	assert_int_equal(j.drift, PLUMB_DRIFT_TARGET);
	assert_string_equal(j.link, "/usr/share/zoneinfo/Europe/Paris");
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/lt\n    type: symlink\n    target: /usr/share/zoneinfo/Europe/Paris");
	assert_int_equal(j.drift, 0);
	plumb_file_job_release(&j);
}

static void unsafe_parent_is_error(void **state)
{
	struct ctx *c = *state;
	struct plumb_file_job j;
	char p[700];

	path_of(c, p, "etc/ssh");
	assert_int_equal(symlink("/etc", p), 0);
	inspect(c, &j, "path: /etc/ssh/sshd_config\n    content: \"x\"");
	assert_non_null(j.error);
	assert_string_equal(j.error, "'/etc/ssh' is a symlink; refusing to follow it");
	plumb_file_job_release(&j);
}

static void sensitivity(void **state)
{
	struct ctx *c = *state;
	struct plumb_file_job j;

	inspect(c, &j, "path: /etc/a\n    content: \"x\"\n    mode: \"0640\"");
	assert_true(plumb_file_sensitive(&j));
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/a\n    content: \"x\"\n    mode: \"0644\"");
	assert_false(plumb_file_sensitive(&j));
	plumb_file_job_release(&j);
	inspect(c, &j, "path: /etc/a\n    content: \"x\"\n    mode: \"0644\"\n    sensitive: true");
	assert_true(plumb_file_sensitive(&j));
	plumb_file_job_release(&j);
}

static void unknown_user(void **state)
{
	struct ctx *c = *state;
	struct plumb_file_job j;
	char doc[] = "version: 1\nfiles:\n  - path: /etc/a\n    owner: mallory\n";
	struct plumb_err err;

	plumb_baseline_free(c->b);
	assert_int_equal(plumb_baseline_parse(&c->b, "t", doc, strlen(doc), &err), 0);
	memset(&j, 0, sizeof(j));
	j.res = &c->b->files[0];
	assert_int_equal(plumb_file_resolve(&j, c->users), PLUMB_E_NOTFOUND);
	assert_string_equal(j.error, "unknown user 'mallory' (not in the root's /etc/passwd)");
	plumb_file_job_release(&j);
}

static void repairs(void **state)
{
	struct ctx *c = *state;
	struct plumb_quarantine *q;
	struct plumb_file_job j;
	struct plumb_event ev;
	struct plumb_err err;
	struct stat st;
	char p[700], *text;

	assert_int_equal(plumb_quarantine_open(&q, c->statefd, 1 << 20, &err), 0);
	/* content drift: replaced, old content quarantined */
	t_write(c->root, "etc/motd", "intruder was here\n");
	inspect(c, &j, "path: /etc/motd\n    source: files/big\n    mode: \"0644\"");
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(plumb_file_repair(&j, c->rootfd, c->src, q, &ev), 0);
	path_of(c, p, "etc/motd");
	text = t_read(p, NULL);
	assert_string_equal(text, "source content\n");
	free(text);
	assert_non_null(ev.quarantine);
	snprintf(p, sizeof(p), "%s/quarantine/%s", c->state, ev.quarantine);
	text = t_read(p, NULL);
	assert_non_null(text);
	assert_string_equal(text, "intruder was here\n");
	free(text);
	free(ev.quarantine);
	plumb_file_job_release(&j);

	/* a directory where a file is wanted: failed, untouched */
	path_of(c, p, "etc/d");
	mkdir(p, 0700);
	inspect(c, &j, "path: /etc/d\n    content: \"x\"");
	memset(&ev, 0, sizeof(ev));
	assert_int_not_equal(plumb_file_repair(&j, c->rootfd, c->src, q, &ev), 0);
	assert_string_equal(ev.error, "'/etc/d' is a directory; refusing to replace a directory with a file");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(ev.error);
	plumb_file_job_release(&j);

	/* absent: a non-empty directory is never removed recursively */
	t_write(c->root, "etc/d/keep", "k");
	inspect(c, &j, "path: /etc/d\n    state: absent");
	memset(&ev, 0, sizeof(ev));
	assert_int_not_equal(plumb_file_repair(&j, c->rootfd, c->src, q, &ev), 0);
	assert_non_null(strstr(ev.error, "plumb never removes a directory tree"));
	free(ev.error);
	plumb_file_job_release(&j);

	/* mode-only drift keeps the content and the inode */
	path_of(c, p, "etc/motd");
	chmod(p, 0666);
	assert_int_equal(stat(p, &st), 0);
	{
		ino_t ino = st.st_ino;

		inspect(c, &j, "path: /etc/motd\n    mode: \"0640\"\n    group: shadow");
		assert_int_equal(j.drift, PLUMB_DRIFT_MODE | PLUMB_DRIFT_GROUP);
		memset(&ev, 0, sizeof(ev));
		assert_int_equal(plumb_file_repair(&j, c->rootfd, c->src, q, &ev), 0);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_ino, ino);
		assert_int_equal(st.st_mode & 07777, 0640);
		assert_int_equal(st.st_gid, 42);
		assert_null(ev.quarantine);
		plumb_file_job_release(&j);
	}
	plumb_quarantine_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(drift_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(unsafe_parent_is_error, setup, teardown),
		cmocka_unit_test_setup_teardown(sensitivity, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_user, setup, teardown),
		cmocka_unit_test_setup_teardown(repairs, setup, teardown),
	};

	return cmocka_run_group_tests_name("files", tests, NULL, NULL);
}
