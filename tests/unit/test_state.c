/* test_state.c - state_dir's safe reads and locks, the anchor's two copies,
 * the spool stats that are set aside rather than zeroed, and retry timing
 * that survives wall-clock steps. */
#include "testlib.h"

#include <sys/file.h>

#include "plumb/spool.h"
#include "plumb/state.h"
#include "plumb/trust.h"

static struct plumb_state *open_state(char **dir)
{
	struct plumb_state *st;
	struct plumb_err err;

	*dir = t_mkdtemp();
	assert_int_equal(plumb_state_open(&st, *dir, 0, &err), 0);
	return st;
}

static void close_state(struct plumb_state *st, char *dir)
{
	plumb_state_free(st);
	t_rm_rf(dir);
	free(dir);
}

static void read_refuses_non_regular(void **state)
{
	char *dir, p[600];
	struct plumb_state *st = open_state(&dir);
	struct plumb_err err;
	struct plumb_buf b;

	(void)state;
	plumb_buf_init(&b, 16);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(plumb_state_read(st, "fifo", &b, &err), PLUMB_E_UNSAFE);   /* and does not hang */
	assert_non_null(strstr(err.msg, "fifo' is not a regular file"));
	snprintf(p, sizeof(p), "%s/dir", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(plumb_state_read(st, "dir", &b, &err), PLUMB_E_UNSAFE);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(plumb_state_read(st, "link", &b, &err), PLUMB_E_UNSAFE);
	assert_non_null(strstr(err.msg, "symbolic link"));
	t_write(dir, "big", "0123456789abcdef0123");
	assert_int_equal(plumb_state_read(st, "big", &b, &err), PLUMB_E_TOOBIG);
	assert_non_null(strstr(err.msg, "big' is larger than 16 bytes"));
	assert_int_equal(plumb_state_read(st, "absent", &b, &err), PLUMB_E_NOTFOUND);
	t_write(dir, "ok", "fine");
	assert_int_equal(plumb_state_read(st, "ok", &b, &err), 0);
	assert_string_equal(b.data, "fine");
	plumb_buf_release(&b);
	close_state(st, dir);
}

static void lock_names_holder_and_refuses_odd_files(void **state)
{
	char *dir, p[600];
	struct plumb_state *st = open_state(&dir), *st2;
	struct plumb_err err;
	int ready[2], release[2];
	pid_t pid;
	char c;

	(void)state;
	snprintf(p, sizeof(p), "%s/lock", dir);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	if ((pid = fork()) == 0) {
		/* another process holds the lock until release closes */
		int lfd = open(p, O_RDWR | O_CREAT, 0600);

		close(release[1]);
		if (lfd < 0 || flock(lfd, LOCK_EX) != 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		(void)!read(release[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(plumb_state_lock(st, 0, &err), PLUMB_E_IO);
	assert_int_equal(st->holder, pid);
	{
		char want[64];

		snprintf(want, sizeof(want), "(pid %ld) holds", (long)pid);
		assert_non_null(strstr(err.msg, want));
	}
	close(release[1]);
	close(ready[0]);
	waitpid(pid, NULL, 0);
	assert_int_equal(plumb_state_lock(st, 0, &err), 0);
	plumb_state_free(st);

	unlink(p);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(plumb_state_open(&st2, dir, 0, &err), 0);
	assert_int_equal(plumb_state_lock(st2, 0, &err), PLUMB_E_UNSAFE);
	assert_non_null(strstr(err.msg, "lock' is not a regular file"));
	plumb_state_free(st2);
	unlink(p);
	t_rm_rf(dir);
	free(dir);
}

static void set_anchor(struct plumb_trust *t, char digit, uint64_t serial)
{
	memset(t, 0, sizeof(*t));
	t->has = 1;
	memset(t->commit, digit, 40);
	t->serial = serial;
	snprintf(t->signer, sizeof(t->signer), "ci@example.com");
}

static void anchor_copies(void **state)
{
	char *dir, p[600], q[600];
	struct plumb_state *st = open_state(&dir);
	struct plumb_trust t, got;
	struct plumb_err err;

	(void)state;
	/* a fresh state_dir: a first run */
	assert_int_equal(plumb_trust_load(&got, st, &err), 0);
	assert_false(got.has);
	set_anchor(&t, 'a', 1);
	assert_int_equal(plumb_trust_save(&t, st, &err), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, PLUMB_TRUST_FILE);
	snprintf(q, sizeof(q), "%s/%s", dir, PLUMB_TRUST_BACKUP);
	assert_int_equal(access(q, F_OK), 0);
	/* trust.json behind its copy (its write failed): the copy wins and repairs it */
	set_anchor(&t, 'b', 3);
	assert_int_equal(plumb_trust_save(&t, st, &err), 0);
	t_write(dir, PLUMB_TRUST_FILE, "{\"commit\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"serial\": 1}");
	assert_int_equal(plumb_trust_load(&got, st, &err), 0);
	assert_int_equal(got.serial, 3);
	assert_int_equal(got.commit[0], 'b');
	assert_int_equal(plumb_trust_load(&got, st, &err), 0);
	assert_int_equal(got.serial, 3);
	/* trust.json missing, its copy there: refused, naming the reset */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(plumb_trust_load(&got, st, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "plumb trust reset"));
	/* reset: a first run again */
	assert_int_equal(plumb_trust_reset(st, &err), 0);
	assert_int_equal(plumb_trust_load(&got, st, &err), 0);
	assert_false(got.has);
	/* no copy, and the last report shows an enforced signed commit: refused, and it stays so */
	assert_int_equal(unlink(q), 0);
	t_write(dir, PLUMB_LAST_REPORT, "{\"mode\": \"enforce\", \"events\": [], \"baseline\": "
		"{\"commit\": \"cccccccccccccccccccccccccccccccccccccccc\", \"serial\": 7}}");
	assert_int_equal(plumb_trust_load(&got, st, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "serial 7"));
	t_write(dir, PLUMB_LAST_REPORT, "{\"mode\": \"enforce\", \"events\": [], \"baseline\": {\"commit\": null}}");
	assert_int_equal(plumb_trust_load(&got, st, &err), PLUMB_E_INVALID);
	/* the same report from a check run is no trace */
	assert_int_equal(unlink(q), 0);
	t_write(dir, PLUMB_LAST_REPORT, "{\"mode\": \"check\", \"events\": [], \"baseline\": "
		"{\"commit\": \"cccccccccccccccccccccccccccccccccccccccc\", \"serial\": 7}}");
	assert_int_equal(plumb_trust_load(&got, st, &err), 0);
	assert_false(got.has);
	close_state(st, dir);
}

static void stats_set_aside_not_zeroed(void **state)
{
	char *dir, p[600];
	struct plumb_state *st = open_state(&dir);
	struct plumb_spool_stats s;
	struct plumb_err err;
	struct dirent *de;
	int found = 0;
	DIR *d;

	(void)state;
	snprintf(p, sizeof(p), "%s/spool", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	t_write(dir, "spool/stats.json", "{\"write_errors\": 5, \"dropped_heartbeats\": 2, \"rejected\": 1}");
	assert_int_equal(plumb_spool_stats_load(st, &s, &err), 0);
	assert_int_equal(s.write_errors, 5);
	assert_int_equal(s.set_aside, 0);
	t_write(dir, "spool/stats.json", "{\"write_errors\": 5, \"dropped_");
	/* plumb status only looks: the damaged file stays where it is */
	assert_int_equal(plumb_spool_stats_peek(st, &s, &err), PLUMB_E_PARSE);
	assert_true(s.unusable);
	snprintf(p, sizeof(p), "%s/spool/stats.json", dir);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/spool", dir);
	assert_int_equal(plumb_spool_stats_load(st, &s, &err), 0);
	assert_int_equal(s.write_errors, 0);
	assert_int_equal(s.set_aside, 1);
	assert_int_equal(plumb_spool_stats_save(st, &s), 0);
	t_write(dir, "spool/stats.json", "{\"write_errors\": \"five\"}");   /* wrong type: damaged too */
	assert_int_equal(plumb_spool_stats_load(st, &s, &err), 0);
	assert_int_equal(s.set_aside, 2);
	assert_non_null(d = opendir(p));
	while ((de = readdir(d)) != NULL)
		found += strncmp(de->d_name, "stats.json.corrupt-", 19) == 0;
	closedir(d);
	assert_int_equal(found, 2);
	/* unusable stats are never saved over */
	s.unusable = 1;
	assert_int_equal(plumb_spool_stats_save(st, &s), PLUMB_E_IO);
	close_state(st, dir);
}

static void retry_wait_bounded(void **state)
{
	struct plumb_spool_stats s;
	time_t now = 1800000000;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(plumb_spool_retry_wait(&s, now), 0);
	s.last_attempt = now - 1;
	s.next_attempt = now + 30;
	assert_int_equal(plumb_spool_retry_wait(&s, now), 30);
	s.next_attempt = now + 86400;                 /* never further than the cap */
	assert_int_equal(plumb_spool_retry_wait(&s, now), PLUMB_SPOOL_RETRY_MAX);
	s.last_attempt = now + 86370;                 /* the clock was stepped back: due now */
	assert_int_equal(plumb_spool_retry_wait(&s, now), 0);
	s.last_heartbeat = now - 10;
	assert_false(plumb_spool_heartbeat_due(&s, now, 60));
	assert_true(plumb_spool_heartbeat_due(&s, now, 10));
	s.last_heartbeat = now + 86400;
	assert_true(plumb_spool_heartbeat_due(&s, now, 60));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_refuses_non_regular),
		cmocka_unit_test(lock_names_holder_and_refuses_odd_files),
		cmocka_unit_test(anchor_copies),
		cmocka_unit_test(stats_set_aside_not_zeroed),
		cmocka_unit_test(retry_wait_bounded),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
