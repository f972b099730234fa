/* test_baseline.c - the baseline parser against tests/data/baseline/ files,
 * plus checks of what a good parse yields. */
#include "testlib.h"

#include "plumb/baseline.h"

static void run_case(void **state)
{
	const struct t_case *c = *state;
	struct plumb_baseline *b = NULL;
	struct plumb_err err;
	size_t len = 0;
	char *text = t_read(c->path, &len);
	int r;

	assert_non_null(text);
	plumb_err_clear(&err);
	r = plumb_baseline_parse(&b, c->path, text, len, &err);
	if (strcmp(c->expect, "ok") == 0) {
		if (r != 0)
			fail_msg("%s: expected ok, got: %s", c->path, err.msg);
		assert_non_null(b);
	} else {
		if (r == 0)
			fail_msg("%s: expected an error containing '%s', parse succeeded", c->path, c->expect);
		assert_null(b);
		if (strstr(err.msg, c->expect) == NULL)
			fail_msg("%s: error '%s' does not contain '%s'", c->path, err.msg, c->expect);
		/* Every error names the file. */
		assert_non_null(strstr(err.msg, c->path));
	}
	plumb_baseline_free(b);
	free(text);
}

static void parse_fields(void **state)
{
	static const char doc[] =
		"version: 1\nserial: 7\nexpires: 2030-01-01T00:00:00Z\nfiles:\n"
		"  - path: /z\n    content: \"zz\"\n"
		"  - path: /a/b\n    type: directory\n    mode: \"0750\"\n    owner: root\n    group: \"42\"\n"
		"  - path: /l\n    type: symlink\n    target: ../x\n    enforce: warn\n"
		"  - path: /gone\n    state: absent\n    sensitive: true\n";
	struct plumb_baseline *b;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_baseline_parse(&b, "doc", doc, sizeof(doc) - 1, &err), 0);
	assert_int_equal(b->version, 1);
	assert_true(b->has_serial);
	assert_int_equal(b->serial, 7);
	assert_true(b->has_expires);
	assert_int_equal(b->expires, 1893456000);
	assert_int_equal(b->nfiles, 4);
	/* sorted by path */
	assert_string_equal(b->files[0].path, "/a/b");
	assert_int_equal(b->files[0].type, PLUMB_FT_DIR);
	assert_int_equal(b->files[0].mode, 0750);
	assert_string_equal(b->files[0].group, "42");
	assert_string_equal(b->files[1].path, "/gone");
	assert_true(b->files[1].absent);
	assert_true(b->files[1].sensitive);
	assert_string_equal(b->files[2].path, "/l");
	assert_string_equal(b->files[2].target, "../x");
	assert_true(b->files[2].warn);
	assert_string_equal(b->files[3].path, "/z");
	assert_true(b->files[3].has_content);
	assert_int_equal(b->files[3].content_len, 2);
	assert_int_equal(b->files[3].line, 5);
	plumb_baseline_free(b);
}

static void content_with_nul_kept(void **state)
{
	static const char doc[] = "version: 1\nfiles:\n  - path: /bin\n    content: \"a\\0b\"\n";
	struct plumb_baseline *b;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_baseline_parse(&b, "doc", doc, sizeof(doc) - 1, &err), 0);
	assert_int_equal(b->files[0].content_len, 3);
	assert_memory_equal(b->files[0].content, "a\0b", 3);
	plumb_baseline_free(b);
}

static void many_entries(void **state)
{
	/* 5,000 entries parse, and the duplicate at the end is caught. */
	size_t cap = 5001 * 48 + 64, n = 0;
	char *doc = malloc(cap);
	struct plumb_baseline *b;
	struct plumb_err err;

	(void)state;
	n += (size_t)snprintf(doc + n, cap - n, "version: 1\nfiles:\n");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(doc + n, cap - n, "  - path: /srv/f%05d\n    content: \"x\"\n", i);
	assert_int_equal(plumb_baseline_parse(&b, "doc", doc, n, &err), 0);
	assert_int_equal(b->nfiles, 5000);
	plumb_baseline_free(b);
	n += (size_t)snprintf(doc + n, cap - n, "  - path: /srv/f00017\n");
	assert_int_equal(plumb_baseline_parse(&b, "doc", doc, n, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "duplicate path '/srv/f00017' (first at line 37)"));
	free(doc);
}

static void parse_effective(void **state)
{
	static const char doc[] =
		"version: 1\nfiles:\n"
		"  - path: /etc/d\n    type: directory\n    purge: true\n"
		"  - path: /etc/d/f\n    content: \"x\"\n    notify:\n"
		"      - service: ssh.service\n        action: try-restart\n"
		"      - exec: [\"/usr/sbin/sshd\", \"-t\", \"-f\", \"/etc/ssh/sshd_config\"]\n"
		"sysctl:\n  - key: vm.swappiness\n    value: 10\n"
		"  - key: net.ipv4.ip_forward\n    value: \"0\"\n    enforce: warn\n    sensitive: true\n"
		"services:\n  - unit: z.service\n    state: masked\n"
		"  - unit: a.socket\n    state: enabled\n    running: true\n    enforce: warn\n";
	struct plumb_baseline *b;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_baseline_parse(&b, "doc", doc, sizeof(doc) - 1, &err), 0);
	assert_int_equal(b->nfiles, 2);
	assert_true(b->files[0].purge);
	assert_false(b->files[1].purge);
	assert_int_equal(b->files[1].nnotify, 2);
	assert_int_equal(b->files[1].notify[0].kind, PLUMB_NOTIFY_TRY_RESTART);
	assert_string_equal(b->files[1].notify[0].unit, "ssh.service");
	assert_null(b->files[1].notify[0].argv);
	assert_int_equal(b->files[1].notify[1].kind, PLUMB_NOTIFY_EXEC);
	assert_int_equal(b->files[1].notify[1].argc, 4);
	assert_string_equal(b->files[1].notify[1].argv[0], "/usr/sbin/sshd");
	assert_string_equal(b->files[1].notify[1].argv[3], "/etc/ssh/sshd_config");
	assert_null(b->files[1].notify[1].argv[4]);       /* NULL-terminated for execv */
	assert_int_equal(b->nsysctl, 2);
	/* sorted by key */
	assert_string_equal(b->sysctl[0].key, "net.ipv4.ip_forward");
	assert_string_equal(b->sysctl[0].value, "0");
	assert_true(b->sysctl[0].warn);
	assert_true(b->sysctl[0].sensitive);
	assert_string_equal(b->sysctl[1].key, "vm.swappiness");
	assert_string_equal(b->sysctl[1].value, "10");
	assert_false(b->sysctl[1].warn);
	assert_int_equal(b->sysctl[1].line, 13);
	assert_int_equal(b->nservices, 2);
	assert_string_equal(b->services[0].unit, "a.socket");   /* sorted by unit */
	assert_int_equal(b->services[0].state, PLUMB_UNIT_ENABLED);
	assert_true(b->services[0].has_running);
	assert_true(b->services[0].running);
	assert_true(b->services[0].warn);
	assert_string_equal(b->services[1].unit, "z.service");
	assert_int_equal(b->services[1].state, PLUMB_UNIT_MASKED);
	assert_false(b->services[1].has_running);
	plumb_baseline_free(b);
}

int main(void)
{
	const struct CMUnitTest extra[] = {
		cmocka_unit_test(parse_fields),
		cmocka_unit_test(content_with_nul_kept),
		cmocka_unit_test(many_entries),
		cmocka_unit_test(parse_effective),
	};

	return t_run_data_group("baseline", "baseline", run_case, extra, sizeof(extra) / sizeof(extra[0]));
}
