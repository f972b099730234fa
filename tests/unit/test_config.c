/* test_config.c - the agent config parser against tests/data/config/ files,
 * defaults, and the helpers it uses (sizes). */
#include "testlib.h"

#include "plumb/config.h"

static void run_case(void **state)
{
	const struct t_case *c = *state;
	struct plumb_config cfg;
	struct plumb_err err;
	int r;

	assert_int_equal(plumb_config_defaults(&cfg), 0);
	plumb_err_clear(&err);
	r = plumb_config_load(&cfg, c->path, &err);
	if (strcmp(c->expect, "ok") == 0) {
		if (r != 0)
			fail_msg("%s: expected ok, got: %s", c->path, err.msg);
	} else {
		if (r == 0)
			fail_msg("%s: expected an error containing '%s'", c->path, c->expect);
		if (strstr(err.msg, c->expect) == NULL)
			fail_msg("%s: error '%s' does not contain '%s'", c->path, err.msg, c->expect);
		assert_non_null(strstr(err.msg, c->path));
	}
	plumb_config_release(&cfg);
}

static void defaults(void **state)
{
	struct plumb_config cfg;

	(void)state;
	assert_int_equal(plumb_config_defaults(&cfg), 0);
	assert_string_equal(cfg.source_ref, "refs/heads/main");
	assert_string_equal(cfg.source_baseline, "baseline.yaml");
	assert_string_equal(cfg.state_dir, "/var/lib/plumb");
	assert_string_equal(cfg.root, "/");
	assert_int_equal(cfg.mode, PLUMB_MODE_ENFORCE);
	assert_int_equal(cfg.report_max_bytes, 1 << 20);
	assert_int_equal(cfg.full_scan, 300);
	assert_null(cfg.source_url);
	plumb_config_release(&cfg);
}

static void full_values(void **state)
{
	struct plumb_config cfg;
	struct plumb_err err;
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/config/good-full.yaml", t_data_dir());
	assert_int_equal(plumb_config_defaults(&cfg), 0);
	assert_int_equal(plumb_config_load(&cfg, path, &err), 0);
	assert_string_equal(cfg.source_url, "https://git.example.com/baselines.git");
	assert_string_equal(cfg.source_allowed_signers, "/etc/plumb/allowed_signers");
	assert_int_equal(cfg.mode, PLUMB_MODE_AUDIT);
	assert_int_equal(cfg.poll, 90);
	assert_int_equal(cfg.full_scan, 1800);
	assert_int_equal(cfg.quarantine_max, 128ULL << 20);
	assert_string_equal(cfg.report_key_file, "/etc/plumb/client.key");
	plumb_config_release(&cfg);
}

static void missing_file(void **state)
{
	struct plumb_config cfg;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_config_defaults(&cfg), 0);
	assert_int_equal(plumb_config_load(&cfg, "/nonexistent/agent.yaml", &err), PLUMB_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/agent.yaml"));
	plumb_config_release(&cfg);
}

static void sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(plumb_size_parse(&v, "64M"), 0);
	assert_int_equal(v, 64ULL << 20);
	assert_int_equal(plumb_size_parse(&v, "1G"), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(plumb_size_parse(&v, "4096"), 0);
	assert_int_equal(v, 4096);
	assert_int_not_equal(plumb_size_parse(&v, "M"), 0);
	assert_int_not_equal(plumb_size_parse(&v, ""), 0);
	assert_int_not_equal(plumb_size_parse(&v, "-1K"), 0);
	assert_int_not_equal(plumb_size_parse(&v, "99999999999999999999G"), 0);
}

int main(void)
{
	const struct CMUnitTest extra[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(full_values),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(sizes),
	};

	return t_run_data_group("config", "config", run_case, extra, sizeof(extra) / sizeof(extra[0]));
}
