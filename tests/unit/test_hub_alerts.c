/* test_hub_alerts.c - the --alerts file parser (good files, and each class
 * of bad one with its file:line:col), route matching, and the webhook
 * signature against RFC 4231's HMAC-SHA256 test vector. */
#include "testlib.h"

#include <stdio.h>
#include <sys/stat.h>

#include "../../hub/alerts.h"

static struct hub_alerts_cfg *parse_ok(const char *text)
{
	struct hub_alerts_cfg *c = NULL;
	struct plumb_err e = {0};
	int r = hub_alerts_cfg_parse(&c, "a.yml", text, strlen(text), &e);
	if (r != 0)
		fail_msg("parse failed: %s", e.msg);
	return c;
}

/* Parses text, requires failure with msg starting "a.yml:LINE:COL: " and
 * containing what. */
static void parse_bad(const char *text, const char *where, const char *what)
{
	struct hub_alerts_cfg *c = NULL;
	struct plumb_err e = {0};
	int r = hub_alerts_cfg_parse(&c, "a.yml", text, strlen(text), &e);
	assert_int_not_equal(r, 0);
	assert_null(c);
	if (strncmp(e.msg, where, strlen(where)) != 0 || !strstr(e.msg, what))
		fail_msg("'%s': want '%s...%s'", e.msg, where, what);
}

static void good_file(void **state)
{
	(void)state;
	struct hub_alerts_cfg *c = parse_ok("receivers:\n"
					    "  - name: am\n"
					    "    type: alertmanager\n"
					    "    url: http://127.0.0.1:9093\n"
					    "  - name: chat\n"
					    "    type: slack\n"
					    "    url: https://hooks.example.com/x\n"
					    "    timeout: 3s\n"
					    "routes:\n"
					    "  - receiver: chat\n"
					    "    status: [drifting, refused]\n"
					    "    host: [\"web*\", db1]\n"
					    "    resource: \"file:/etc/*\"\n"
					    "repeat_interval: 30s\n"
					    "outbox_max: 100\n");
	assert_int_equal(c->nrcv, 2);
	assert_int_equal(c->rcv[0].type, HUB_RCV_ALERTMANAGER);
	assert_int_equal(c->rcv[1].type, HUB_RCV_SLACK);
	assert_int_equal(c->rcv[1].timeout_ms, 3000);
	assert_int_equal(c->nroute, 1);
	assert_int_equal(c->route[0].receiver, 1);
	assert_int_equal(c->route[0].nhost, 2);
	assert_int_equal(c->repeat_s, 30);
	assert_int_equal(c->outbox_max, 100);
	const struct hub_route *r = &c->route[0];
	assert_true(hub_route_match(r, "drifting", "web7", "file:/etc/motd"));
	assert_true(hub_route_match(r, "refused", "db1", "file:/etc/a/b"));
	assert_false(hub_route_match(r, "silent", "web7", "file:/etc/motd"));  /* status */
	assert_false(hub_route_match(r, "drifting", "db2", "file:/etc/motd")); /* host */
	assert_false(hub_route_match(r, "drifting", "web7", "sysctl:net.x"));  /* resource */
	assert_false(hub_route_match(r, "drifting", "web7", ""));             /* host-wide, resource filter */
	hub_alerts_cfg_free(c);
}

static void bad_files(void **state)
{
	(void)state;
	parse_bad("receivers: [\n", "a.yml:", "");                         /* YAML syntax */
	parse_bad("- a\n", "a.yml:1:1: ", "mapping");                      /* root not a mapping */
	parse_bad("receiver:\n  - name: a\n", "a.yml:1:1: ", "unknown key 'receiver'");
	parse_bad("receivers: []\n", "a.yml:1:1: ", "no receivers");
	parse_bad("receivers:\n  - name: a\n    type: pager\n    url: http://x\n", "a.yml:3:11: ", "want alertmanager");
	parse_bad("receivers:\n  - name: a\n    type: webhook\n    url: ftp://x\n", "a.yml:4:5: ", "http:// or https://");
	parse_bad("receivers:\n  - name: a\n    type: webhook\n", "a.yml:2:5: ", "needs a url");
	parse_bad("receivers:\n  - type: webhook\n    url: http://x\n", "a.yml:2:5: ", "needs a name");
	parse_bad("receivers:\n  - {name: a, type: slack, url: 'http://x'}\n  - {name: a, type: slack, url: 'http://y'}\n",
		  "a.yml:3:6: ", "defined twice");
	parse_bad("receivers:\n  - {name: a, type: slack, url: 'http://x', colour: red}\n", "a.yml:2:45: ",
		  "unknown key 'colour'");
	parse_bad("receivers:\n  - {name: a, type: slack, url: 'http://x', timeout: forever}\n", "a.yml:2:54: ",
		  "not a duration");
	parse_bad("receivers:\n  - {name: a, type: slack, url: 'http://x'}\nroutes:\n  - receiver: b\n", "a.yml:4:15: ",
		  "no receiver named 'b'");
	parse_bad("receivers:\n  - {name: a, type: slack, url: 'http://x'}\nroutes:\n  - receiver: a\n    status: [bad]\n",
		  "a.yml:5:14: ", "want drifting, refused");
	parse_bad("routes: []\nreceivers:\n  - {name: a, type: slack, url: 'http://x'}\n", "a.yml:1:1: ",
		  "receivers first");
	parse_bad("receivers:\n  - {name: a, type: slack, url: 'http://x', secret_file: /nonexistent}\n", "a.yml:2:45: ",
		  "only a webhook");
	parse_bad("receivers:\n  - {name: a, type: webhook, url: 'http://x', secret_file: /nonexistent/s}\n",
		  "a.yml:2:47: ", "No such file");
	parse_bad("receivers:\n  - &x {name: a, type: slack, url: 'http://x'}\n", "a.yml:", "");  /* anchors refused */
}

static void secret_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_hub_alerts.XXXXXX", path[64], text[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	FILE *f = fopen(path, "w");
	fputs("k3y\n", f);
	fclose(f);
	chmod(path, 0644);
	snprintf(text, sizeof(text), "receivers:\n  - {name: a, type: webhook, url: 'http://x', secret_file: %s}\n", path);
	parse_bad(text, "a.yml:2:47: ", "readable by group or others");
	chmod(path, 0600);
	struct hub_alerts_cfg *c = parse_ok(text);
	assert_int_equal(c->rcv[0].secret_len, 3);
	assert_string_equal(c->rcv[0].secret, "k3y");
	hub_alerts_cfg_free(c);
	unlink(path);
	/* a FIFO is refused at once, never waited on (opened O_NONBLOCK) */
	assert_int_equal(mkfifo(path, 0600), 0);
	parse_bad(text, "a.yml:2:47: ", "not a regular file");
	unlink(path);
	rmdir(dir);
}

static void signature(void **state)
{
	(void)state;
	char out[65];
	/* Expected values from python3's hmac module (an independent
	 * implementation): HMAC-SHA256(key, timestamp + "." + body). */
	assert_int_equal(hub_alert_sign(out, "Jefe", 4, "what do ya want for nothing", "", 0), 0);
	assert_string_equal(out, "7d712d58b4088ec60585a2c6ab3b8ffe44a6ea23b3c9425077dc3f50a6e38bef");
	assert_int_equal(hub_alert_sign(out, "k3y", 3, "1764633600", "{\"a\":1}", 7), 0);
	assert_string_equal(out, "32fd324b28298ef3f63ea4518d32665ae0adf474a516321bb71a87322a4afbec");
	/* a different timestamp changes the signature (it is covered) */
	char other[65];
	assert_int_equal(hub_alert_sign(other, "k3y", 3, "1764633601", "{\"a\":1}", 7), 0);
	assert_string_not_equal(out, other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file),
		cmocka_unit_test(bad_files),
		cmocka_unit_test(secret_file),
		cmocka_unit_test(signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
