/* test_hub_vocab.c - the agent's vocabulary and the hub's validator agree:
 * reports built by plumb_report_json with every drift kind and action, and
 * the resource ids and state fields of sysctl:, purge and notify:, pass
 * hub_report_validate; an unknown kind or resource prefix does not. */
#include "testlib.h"

#include "plumb/report.h"
#include "../../hub/validate.h"

static int validate_conf(const struct plumb_report *rep, const char *conf, struct plumb_err *e);

static int validate(const struct plumb_report *rep, struct plumb_err *e)
{
	return validate_conf(rep, NULL, e);
}

static void agent_reports_pass(void **state)
{
	struct plumb_report rep;
	struct plumb_err e;

	(void)state;
	assert_int_equal(plumb_report_init(&rep, "enforce", &e), 0);
	rep.finished_at = rep.started_at;
	assert_int_equal(plumb_report_event(&rep, "sysctl:net.ipv4.ip_forward", PLUMB_DRIFT_VALUE, PLUMB_ACT_REVERTED,
					    json_pack("{s:s}", "value", "0"), json_pack("{s:s}", "value", "1"), NULL), 0);
	assert_int_equal(plumb_report_event(&rep, "sysctl:kernel.x", PLUMB_DRIFT_MISSING, PLUMB_ACT_FAILED,
					    json_pack("{s:s,s:I,s:b}", "sha256",
						      "0000000000000000000000000000000000000000000000000000000000000000",
						      "size", (json_int_t)3, "sensitive", 1),
					    json_pack("{s:s}", "state", "absent"), "no sysctl 'kernel.x'"), 0);
	assert_int_equal(plumb_report_event(&rep, "file:/etc/ssh/sshd_config.d", PLUMB_DRIFT_UNMANAGED, PLUMB_ACT_REVERTED,
					    json_pack("{s:s}", "type", "directory"),
					    json_pack("{s:s,s:[s,s]}", "type", "directory", "unmanaged", "10-local.conf", "sub/"),
					    NULL), 0);
	assert_int_equal(plumb_report_event(&rep, "service:ssh.service", 0, PLUMB_ACT_NOTIFIED,
					    json_pack("{s:[s,s,s]}", "command", "/usr/bin/systemctl", "reload", "ssh.service"),
					    NULL, NULL), 0);
	assert_int_equal(plumb_report_event(&rep, "exec:/usr/sbin/sshd", 0, PLUMB_ACT_FAILED,
					    json_pack("{s:[s,s]}", "command", "/usr/sbin/sshd", "-t"), NULL, "exited 255"), 0);
	assert_int_equal(plumb_report_event(&rep, "package:telnetd", PLUMB_DRIFT_PRESENT, PLUMB_ACT_DETECTED,
					    json_pack("{s:s}", "state", "absent"),
					    json_pack("{s:s,s:s}", "status", "install ok installed", "version", "0.17-42"), NULL), 0);
	assert_int_equal(plumb_report_event(&rep, "service:rsync.service", PLUMB_DRIFT_ENABLED | PLUMB_DRIFT_RUNNING,
					    PLUMB_ACT_DETECTED, json_pack("{s:s,s:b}", "enablement", "disabled", "running", 0),
					    json_pack("{s:s,s:s}", "enablement", "enabled", "running", "unknown"), NULL), 0);
	assert_int_equal(plumb_report_event(&rep, "module:cramfs", PLUMB_DRIFT_PRESENT, PLUMB_ACT_DETECTED,
					    json_pack("{s:b}", "loaded", 0), json_pack("{s:b}", "loaded", 1), NULL), 0);
	/* every drift kind the agent names */
	assert_int_equal(plumb_report_event(&rep, "file:/x", 0x7fff, PLUMB_ACT_DETECTED, NULL, NULL, NULL), 0);
	if (validate(&rep, &e) != 0)
		fail_msg("the hub refuses the agent's report: %s", e.msg);
	/* and the vocabulary round-trips through the journal's parser */
	for (size_t i = 0; i < rep.nevents; i++) {
		json_t *o = plumb_event_json(&rep.events[i]);
		struct plumb_event back;

		assert_int_equal(plumb_event_parse(&back, o), 0);
		assert_int_equal(back.action, rep.events[i].action);
		assert_int_equal(back.drift, rep.events[i].drift);
		plumb_event_release(&back);
		json_decref(o);
	}
	plumb_report_release(&rep);
}

static void unknown_refused(void **state)
{
	struct plumb_report rep;
	struct plumb_err e;

	(void)state;
	assert_int_equal(plumb_report_init(&rep, "enforce", &e), 0);
	rep.finished_at = rep.started_at;
	assert_int_equal(plumb_report_event(&rep, "shell:rm -rf", 0, PLUMB_ACT_DETECTED, NULL, NULL, NULL), 0);
	assert_int_equal(validate(&rep, &e), PLUMB_E_INVALID);
	assert_non_null(strstr(e.msg, "events[0].resource"));
	plumb_report_release(&rep);
	assert_int_equal(plumb_report_init(&rep, "enforce", &e), 0);
	rep.finished_at = rep.started_at;
	assert_int_equal(plumb_report_event(&rep, "file:/d", PLUMB_DRIFT_UNMANAGED, PLUMB_ACT_DETECTED, NULL,
					    json_pack("{s:[s]}", "unmanaged", "a\nb"), NULL), 0);
	assert_int_equal(validate(&rep, &e), PLUMB_E_INVALID);
	assert_non_null(strstr(e.msg, "unmanaged"));
	plumb_report_release(&rep);
}

/* Validates rep as the hub would, after plumb_report_json(rep) with
 * "confinement" replaced by conf (a JSON text) unless conf is NULL. */
static int validate_conf(const struct plumb_report *rep, const char *conf, struct plumb_err *e)
{
	json_t *j = plumb_report_json(rep), *doc;
	char *text;
	time_t fin;
	int r;

	if (conf != NULL) {
		json_t *c = json_loads(conf, 0, NULL);

		assert_non_null(c);
		json_object_set_new(j, "confinement", c);
	}
	text = json_dumps(j, JSON_COMPACT);
	doc = hub_report_parse(text, strlen(text), e);
	assert_non_null(doc);
	r = hub_report_validate(doc, NULL, &fin, e);
	json_decref(doc);
	json_decref(j);
	free(text);
	return r;
}

/* The agent's "confinement" (every reason it names) passes; anything else
 * in it does not. */
static void confinement(void **state)
{
	static const char *const bad[] = {
		"{\"weaker\": [], \"detail\": \"x\"}",
		"{\"weaker\": [\"user_missing\", \"user_missing\"], \"detail\": \"x\"}",
		"{\"weaker\": [\"root_anyway\"], \"detail\": \"x\"}",
		"{\"weaker\": [1], \"detail\": \"x\"}",
		"{\"weaker\": [\"no_landlock\"]}",
		"{\"weaker\": [\"no_landlock\"], \"detail\": 3}",
		"{\"weaker\": [\"no_landlock\"], \"detail\": \"a\\u0007b\"}",
		"{\"weaker\": [\"no_landlock\"], \"detail\": \"x\", \"more\": 1}",
		"{\"weaker\": \"no_landlock\", \"detail\": \"x\"}",
		"[]",
	};
	struct plumb_report rep;
	struct plumb_err e;
	json_t *j;

	(void)state;
	assert_int_equal(plumb_report_init(&rep, "enforce", &e), 0);
	rep.finished_at = rep.started_at;
	j = plumb_report_json(&rep);
	assert_null(json_object_get(j, "confinement"));   /* as designed: not said */
	json_decref(j);
	rep.confinement.weaker = PLUMB_WEAKER_ALL;
	snprintf(rep.confinement.detail, sizeof(rep.confinement.detail), "user 'plumb' does not exist");
	j = plumb_report_json(&rep);
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "confinement"), "weaker")), 3);
	json_decref(j);
	if (validate(&rep, &e) != 0)
		fail_msg("the hub refuses the agent's confinement: %s", e.msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (validate_conf(&rep, bad[i], &e) != PLUMB_E_INVALID)
			fail_msg("the hub accepts confinement %s", bad[i]);
		assert_non_null(strstr(e.msg, "confinement"));
	}
	for (unsigned bit = 1; bit & PLUMB_WEAKER_ALL; bit <<= 1)
		assert_int_equal(plumb_confine_bit(plumb_confine_name(bit)), bit);
	assert_null(plumb_confine_name(8));
	assert_int_equal(plumb_confine_bit("nope"), 0);
	plumb_report_release(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agent_reports_pass),
		cmocka_unit_test(unknown_refused),
		cmocka_unit_test(confinement),
	};

	return cmocka_run_group_tests_name("hub_vocab", tests, NULL, NULL);
}
