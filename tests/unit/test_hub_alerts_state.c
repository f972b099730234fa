/* test_hub_alerts_state.c - alert evaluation on a real SQLite file, below
 * HTTP: the alerts a report raises and clears (host-wide and per resource,
 * parts of one run adding up), one open alert per host + alertname +
 * resource, routes deciding the outbox rows, the silent timer, the
 * outbox written in the ingest's own transaction (a failure keeps neither
 * the report nor its alerts), and plumbd's "standing": a partial run
 * clears nothing it did not look at, a standing refusal stays. */
#include "testlib.h"

#include <stdio.h>
#include <unistd.h>

#include "../../hub/alerts_int.h"
#include "../../hub/db.h"
#include "../../hub/store.h"
#include "../../hub/validate.h"

#define RUN_A "11111111-1111-4111-8111-111111111111"
#define RUN_B "22222222-2222-4222-8222-222222222222"

static char dir[64];
static struct hub_db *db;
static struct hub_conn *c;
static int seq;

static int setup(void **state)
{
	(void)state;
	struct plumb_err e = {0};
	char path[128];
	snprintf(dir, sizeof(dir), "/tmp/test_hub_alerts_state.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	assert_int_equal(hub_db_open(&db, path, 1, &e), 0);
	c = hub_db_acquire(db);
	const char *yml = "receivers:\n"
			  "  - {name: all, type: webhook, url: 'http://127.0.0.1:1/'}\n"
			  "  - {name: refusals, type: slack, url: 'http://127.0.0.1:1/'}\n"
			  "routes:\n"
			  "  - receiver: all\n"
			  "  - receiver: refusals\n"
			  "    status: refused\n";
	struct hub_alerts_cfg *cfg = NULL;
	assert_int_equal(hub_alerts_cfg_parse(&cfg, "t.yml", yml, strlen(yml), &e), 0);
	hub_alerts_install(cfg);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char path[128];
	hub_alerts_install(NULL);
	hub_db_release(db, c);
	hub_db_close(db);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/hub.db%s", dir, sfx[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

/* Ingests a report of host with events "resource=action,..." in run (NULL:
 * none), with extra top-level members (",\"standing\":{...}" or ""). */
static int ingestx(const char *host, const char *run, const char *events, const char *extra, time_t now)
{
	char text[8192], evs[4096] = "", id[37], runs[128] = "";
	struct plumb_err e = {0};
	time_t fin;
	int dup = 0;
	snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", ++seq);
	for (const char *p = events; p && *p;) {
		char res[256], act[32];
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		snprintf(res, sizeof(res), "%.*s", (int)(eq - p), p);
		snprintf(act, sizeof(act), "%.*s", (int)(end - eq - 1), eq + 1);
		size_t n = strlen(evs);
		snprintf(evs + n, sizeof(evs) - n,
			 "%s{\"resource\":\"%s\",\"drift\":[\"content\"],\"action\":\"%s\",\"expected\":null,"
			 "\"actual\":null,\"at\":\"2026-01-01T00:00:00Z\"}",
			 n ? "," : "", res, act);
		p = *end ? end + 1 : end;
	}
	if (run)
		snprintf(runs, sizeof(runs), ",\"run\":{\"id\":\"%s\",\"part\":1,\"parts\":2}", run);
	snprintf(text, sizeof(text),
		 "{\"schema\":\"plumb.report/v1\",\"id\":\"%s\",\"host\":\"%s\",\"agent_version\":\"0.1.0\","
		 "\"mode\":\"enforce\",\"started_at\":\"2026-01-01T00:00:00Z\",\"finished_at\":\"2026-01-01T00:00:00Z\","
		 "\"baseline\":{\"commit\":\"0123456789abcdef0123456789abcdef01234567\",\"signer\":\"ci\","
		 "\"fingerprint\":null,\"serial\":3},\"events\":[%s],"
		 "\"summary\":{\"resources\":2,\"drifted\":1,\"reverted\":0,\"failed\":0}%s%s}",
		 id, host, evs, runs, extra);
	json_t *doc = hub_report_parse(text, strlen(text), &e);
	assert_non_null(doc);
	if (hub_report_validate(doc, NULL, &fin, &e) != 0)
		fail_msg("report invalid: %s", e.msg);
	int r = hub_store_ingest(c, doc, text, strlen(text), fin, now, 0, &dup, &e);
	json_decref(doc);
	return r;
}

static int ingest(const char *host, const char *run, const char *events, time_t now)
{
	return ingestx(host, run, events, "", now);
}

static int num_row(void *ctx, int n, const char *const *v)
{
	if (n > 0 && v[0])
		*(long long *)ctx = strtoll(v[0], NULL, 10);
	return 0;
}

static long long q(const char *sql)
{
	long long v = -1;
	struct plumb_err e = {0};
	if (hub_conn_exec(c, sql, 0, NULL, num_row, &v, NULL, &e) != 0)
		fail_msg("%s: %s", sql, e.msg);
	return v;
}

static void transitions(void **state)
{
	(void)state;
	time_t now = 1767225600;
	assert_int_equal(ingest("web1", RUN_A, "file:/etc/a=contested,file:/etc/b=detected", now), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web1'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE alertname = 'PlumbResourceContested'"
			   " AND resource = 'file:/etc/a' AND status = 'drifting'"), 1);
	/* the route for refusals takes neither: 2 rows, both for "all" */
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE receiver = 'all' AND state = 'firing'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE receiver = 'refusals'"), 0);

	/* part 2 of the same run, no events: nothing clears, nothing repeats */
	assert_int_equal(ingest("web1", RUN_A, "", now + 1), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web1'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox"), 2);

	/* the same drift in another run: still one alert each, no new rows */
	assert_int_equal(ingest("web1", RUN_B, "file:/etc/a=contested,file:/etc/b=detected", now + 2), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web1'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox"), 2);

	/* a refusal: routed to both receivers */
	assert_int_equal(ingest("web1", NULL, "file:/etc/a=contested,baseline=refused", now + 3), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE alertname = 'PlumbBaselineRefused'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE receiver = 'refusals'"), 1);
	/* no run: what this report does not show cleared (drift of /etc/b
	 * still leaves unresolved = 1 from the contested event) */
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web1'"), 3);

	/* clean, another run: everything resolves, with endsAt */
	assert_int_equal(ingest("web1", RUN_A, "", now + 4), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web1'"), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE state = 'resolved' AND receiver = 'all'"), 3);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE state = 'resolved' AND ends_at IS NULL"), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE state = 'resolved' AND receiver = 'refusals'"), 1);
}

#define STANDING(covers, n) ",\"standing\":{\"covers\":[" covers "],\"unresolved\":" #n
#define ALL "\"file\",\"firewall\",\"sysctl\",\"service\",\"module\",\"package\""
static void standing(void **state)
{
	(void)state;
	time_t now = 1767225600;
	/* a full scan: a package that cannot be installed */
	assert_int_equal(ingestx("db1", NULL, "package:p=failed", STANDING(ALL, 1) "}", now), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1' AND alertname = 'PlumbRepairFailed'"
			   " AND resource = 'package:p'"), 1);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1' AND alertname = 'PlumbHostDrifting'"), 1);
	/* then a dirty-set revert of a file: silent about the package, which
	 * still fails (standing says 1): nothing resolves; nor with a full
	 * scan's files and firewall (live state and packages come apart) */
	assert_int_equal(ingestx("db1", NULL, "file:/etc/a=reverted", STANDING("", 1) "}", now + 1), 0);
	assert_int_equal(q("SELECT unresolved FROM hosts WHERE host = 'db1'"), 1);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE host = 'db1' AND state = 'resolved'"), 0);
	assert_int_equal(ingestx("db1", NULL, "", STANDING("\"file\",\"firewall\"", 1) "}", now + 1), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE host = 'db1' AND state = 'resolved'"), 0);
	/* a refusal, reported once; the next partial reports still carry it */
	assert_int_equal(ingestx("db1", NULL, "baseline=refused", STANDING("", 1) ",\"refused\":\"tip x: not signed\"}",
				 now + 2), 0);
	assert_int_equal(ingestx("db1", NULL, "", STANDING("", 1) ",\"refused\":\"tip x: not signed\"}", now + 3), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1' AND alertname = 'PlumbBaselineRefused'"), 1);
	assert_int_equal(q("SELECT COUNT(*) FROM hosts WHERE host = 'db1' AND refused LIKE 'baseline refused: tip x%'"), 1);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1' AND alertname = 'PlumbRepairFailed'"), 1);
	/* two parts of one run, each with the host-wide figure: replaced, not added */
	assert_int_equal(ingestx("db1", RUN_A, "package:p=failed", STANDING(ALL, 2) "}", now + 4), 0);
	assert_int_equal(ingestx("db1", RUN_A, "file:/etc/b=failed", STANDING(ALL, 2) "}", now + 5), 0);
	assert_int_equal(q("SELECT unresolved FROM hosts WHERE host = 'db1'"), 2);
	assert_int_equal(q("SELECT COUNT(*) FROM hosts WHERE host = 'db1' AND refused IS NULL"), 1);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1' AND alertname = 'PlumbBaselineRefused'"), 0);
	/* a clean full scan: everything resolves */
	assert_int_equal(ingestx("db1", NULL, "", STANDING(ALL, 0) "}", now + 6), 0);
	assert_int_equal(q("SELECT unresolved FROM hosts WHERE host = 'db1'"), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1'"), 0);
	/* what the validator refuses */
	{
		const char *bad[] = {STANDING("\"files\"", 1) "}", STANDING(ALL, -1) "}",
				     ",\"standing\":{\"covers\":[]}", STANDING(ALL, 1) ",\"x\":1}",
				     STANDING(ALL, 1) ",\"refused\":\"\"}", STANDING("\"file\",\"file\"", 1) "}",
				     ",\"standing\":{\"covers\":\"file\",\"unresolved\":1}"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char text[1024];
			struct plumb_err e = {0};
			time_t fin;
			snprintf(text, sizeof(text),
				 "{\"schema\":\"plumb.report/v1\",\"id\":\"00000000-0000-4000-8000-999999999999\","
				 "\"host\":\"h\",\"agent_version\":\"0.1.0\",\"mode\":\"enforce\","
				 "\"started_at\":\"2026-01-01T00:00:00Z\",\"finished_at\":\"2026-01-01T00:00:00Z\","
				 "\"baseline\":{\"commit\":null,\"signer\":null,\"fingerprint\":null,\"serial\":null},"
				 "\"events\":[],\"summary\":{\"resources\":0,\"drifted\":0,\"reverted\":0,\"failed\":0}%s}",
				 bad[i]);
			json_t *doc = hub_report_parse(text, strlen(text), &e);
			assert_non_null(doc);
			assert_int_not_equal(hub_report_validate(doc, NULL, &fin, &e), 0);
			assert_non_null(strstr(e.msg, "standing"));
			json_decref(doc);
		}
	}
}

static void silent_timer(void **state)
{
	(void)state;
	time_t now = 1767225600 + 100;
	assert_int_equal(ingest("db1", NULL, "", now), 0);
	long long before = q("SELECT COUNT(*) FROM alert_outbox");
	hub_db_release(db, c); /* the timer borrows the connection */
	alerts_timer(db, now + 10, 60);
	c = hub_db_acquire(db);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1'"), 0);
	hub_db_release(db, c);
	assert_int_equal(alerts_timer(db, now + 61, 60), 1);
	assert_int_equal(alerts_timer(db, now + 62, 60), 0); /* once */
	c = hub_db_acquire(db);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1' AND alertname = 'PlumbHostSilent'"), 1);
	assert_true(q("SELECT COUNT(*) FROM alert_outbox") > before);
	/* a report clears it */
	assert_int_equal(ingest("db1", NULL, "", now + 70), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'db1'"), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_outbox WHERE host = 'db1' AND alertname = 'PlumbHostSilent'"
			   " AND state = 'resolved'"),
			 1);
}

static void one_transaction(void **state)
{
	(void)state;
	struct plumb_err e = {0};
	long long reports = q("SELECT COUNT(*) FROM reports");
	/* the outbox cannot be written: the report is not stored either */
	assert_int_equal(hub_conn_exec(c, "ALTER TABLE alert_outbox RENAME TO alert_outbox_gone", 0, NULL, NULL, NULL,
				       NULL, &e),
			 0);
	assert_int_not_equal(ingest("web2", NULL, "file:/etc/x=detected", 1767225600 + 200), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM reports"), reports);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web2'"), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM hosts WHERE host = 'web2'"), 0);
	assert_int_equal(hub_conn_exec(c, "ALTER TABLE alert_outbox_gone RENAME TO alert_outbox", 0, NULL, NULL, NULL,
				       NULL, &e),
			 0);
	assert_int_equal(ingest("web2", NULL, "file:/etc/x=detected", 1767225600 + 201), 0);
	assert_int_equal(q("SELECT COUNT(*) FROM alert_state WHERE host = 'web2'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transitions),
		cmocka_unit_test(standing),
		cmocka_unit_test(silent_timer),
		cmocka_unit_test(one_transaction),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
