/* test_hub_store.c - the hub's storage below HTTP, on a real SQLite file:
 * report validation paths, idempotent ingest, the host state machine,
 * event paging, retention, tokens and migrations. */
#include "testlib.h"

#include <pthread.h>

#include "../../hub/db.h"
#include "../../hub/session.h"
#include "../../hub/store.h"
#include "../../hub/token.h"
#include "../../hub/validate.h"

#define REPORT \
	"{\"schema\":\"plumb.report/v1\",\"id\":\"%s\",\"host\":\"%s\",\"agent_version\":\"0.1.0\"," \
	"\"mode\":\"enforce\",\"started_at\":\"%s\",\"finished_at\":\"%s\"," \
	"\"baseline\":{\"commit\":\"0123456789abcdef0123456789abcdef01234567\",\"signer\":\"ci\"," \
	"\"fingerprint\":null,\"serial\":3}," \
	"\"events\":[%s],\"summary\":{\"resources\":2,\"drifted\":1,\"reverted\":1,\"failed\":0}}"
#define EVENT \
	"{\"resource\":\"file:/etc/motd\",\"drift\":[\"content\"],\"action\":\"%s\"," \
	"\"expected\":{\"type\":\"file\"},\"actual\":{\"state\":\"absent\"},\"at\":\"2026-01-01T00:00:00Z\"}"

static char *mk(const char *id, const char *host, const char *fin, const char *action)
{
	static char buf[4096];
	char ev[512] = "";
	if (action)
		snprintf(ev, sizeof(ev), EVENT, action);
	snprintf(buf, sizeof(buf), REPORT, id, host, fin, fin, ev);
	return buf;
}

/* The fleet list, parsed back (it is written as text). */
static json_t *hosts(struct hub_conn *c, time_t now, time_t silent_after, const char *filter)
{
	struct plumb_err e;
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(hub_store_hosts(c, now, silent_after, filter, &text, &len, &e), 0);
	json_t *doc = json_loadb(text, len, 0, NULL);
	assert_non_null(doc);
	free(text);
	return doc;
}

static int ingest(struct hub_conn *c, const char *text, time_t now, int *dup)
{
	struct plumb_err e;
	time_t fin;
	json_t *doc = hub_report_parse(text, strlen(text), &e);
	assert_non_null(doc);
	assert_int_equal(hub_report_validate(doc, NULL, &fin, &e), 0);
	int r = hub_store_ingest(c, doc, text, strlen(text), fin, now, 0, dup, &e);
	json_decref(doc);
	return r;
}

static void validate_paths(void **state)
{
	struct plumb_err e;
	time_t fin;
	(void)state;
	const char *bad[][2] = {
		{"{\"schema\":1}", "report.id: missing"},
		{"[]", "report: must be an object"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *doc = hub_report_parse(bad[i][0], strlen(bad[i][0]), &e);
		assert_non_null(doc);
		assert_int_equal(hub_report_validate(doc, NULL, &fin, &e), PLUMB_E_INVALID);
		assert_string_equal(e.msg, bad[i][1]);
		json_decref(doc);
	}
	char *t = mk("0b6f1c2e-8a3d-4f5e-9a1b-2c3d4e5f6a7b", "h", "2026-01-01T00:00:05Z", "exploded");
	json_t *doc = hub_report_parse(t, strlen(t), &e);
	assert_int_equal(hub_report_validate(doc, NULL, &fin, &e), PLUMB_E_INVALID);
	assert_string_equal(e.msg, "events[0].action: unknown action");
	json_decref(doc);
	t = mk("0b6f1c2e-8a3d-4f5e-9a1b-2c3d4e5f6a7b", "h", "2026-01-01T00:00:05Z", "reverted");
	doc = hub_report_parse(t, strlen(t), &e);
	assert_int_equal(hub_report_validate(doc, NULL, &fin, &e), 0);
	assert_int_equal(fin, 1767225605);
	json_decref(doc);
	/* the hub's own limits: string lengths, event counts, the clock */
	struct hub_report_limits lim = {.max_string = 256, .max_events = 1, .not_after = 1767225605 + 300,
					.not_before = 1767225605 - 3600};
	t = mk("0b6f1c2e-8a3d-4f5e-9a1b-2c3d4e5f6a7b", "h", "2026-01-01T00:00:05Z", "reverted");
	doc = hub_report_parse(t, strlen(t), &e);
	assert_int_equal(hub_report_validate(doc, &lim, &fin, &e), 0);
	json_array_append(json_object_get(doc, "events"), json_array_get(json_object_get(doc, "events"), 0));
	assert_int_equal(hub_report_validate(doc, &lim, &fin, &e), PLUMB_E_INVALID);
	assert_string_equal(e.msg, "events: more than 1 events");
	json_array_remove(json_object_get(doc, "events"), 1);
	char longs[300];
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	json_object_set_new(json_array_get(json_object_get(doc, "events"), 0), "error", json_string(longs));
	assert_int_equal(hub_report_validate(doc, &lim, &fin, &e), PLUMB_E_INVALID);
	assert_string_equal(e.msg, "events[0].error: longer than 256 bytes");
	json_decref(doc);
	t = mk("0b6f1c2e-8a3d-4f5e-9a1b-2c3d4e5f6a7b", "h", "9999-12-31T23:59:59Z", "reverted");
	doc = hub_report_parse(t, strlen(t), &e);
	assert_int_equal(hub_report_validate(doc, &lim, &fin, &e), PLUMB_E_INVALID);
	assert_string_equal(e.msg, "started_at: ahead of the hub's clock by more than the allowed skew");
	json_object_set_new(doc, "started_at", json_string("2026-01-01T00:00:00Z"));
	assert_int_equal(hub_report_validate(doc, &lim, &fin, &e), PLUMB_E_INVALID);
	assert_string_equal(e.msg, "finished_at: ahead of the hub's clock by more than the allowed skew");
	json_object_set_new(doc, "finished_at", json_string("2025-12-31T00:00:00Z"));
	assert_int_equal(hub_report_validate(doc, &lim, &fin, &e), PLUMB_E_INVALID);
	assert_string_equal(e.msg, "finished_at: older than the hub's retention period");
	json_decref(doc);
	assert_null(hub_report_parse("{\"a\":1,\"a\":2}", 13, &e));
	assert_int_equal(e.code, PLUMB_E_PARSE);
}

static void ingest_and_query(void **state)
{
	struct plumb_err e;
	struct hub_db *db = NULL;
	char *dir = t_mkdtemp(), path[512];
	int dup = -1;
	json_t *out = NULL;
	(void)state;
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	assert_int_equal(hub_db_open(&db, path, 2, &e), 0);
	struct hub_conn *c = hub_db_acquire(db);

	/* the first report of a host stores; a repeat stores nothing */
	assert_int_equal(ingest(c, mk("11111111-1111-4111-8111-111111111111", "web1", "2026-01-01T00:00:10Z", "detected"), 1000, &dup), 0);
	assert_int_equal(dup, 0);
	assert_int_equal(ingest(c, mk("11111111-1111-4111-8111-111111111111", "web1", "2026-01-01T00:00:10Z", "detected"), 1001, &dup), 0);
	assert_int_equal(dup, 1);
	out = hosts(c, 1002, 60, NULL);
	json_t *h = json_array_get(json_object_get(out, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "drifting");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "counts"), "reports")), 1);
	json_decref(out);

	/* the host's state is the newest report received, whatever the agent's
	 * clock says: a report dated far ahead cannot pin it */
	assert_int_equal(ingest(c, mk("22222222-2222-4222-8222-222222222222", "web1", "2026-01-01T00:00:20Z", "reverted"), 1010, &dup), 0);
	out = hosts(c, 1012, 60, NULL);
	h = json_array_get(json_object_get(out, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "compliant");
	json_decref(out);
	assert_int_equal(ingest(c, mk("33333333-3333-4333-8333-333333333333", "web1", "2026-01-01T00:00:05Z", "failed"), 1020, &dup), 0);
	out = hosts(c, 1030, 60, NULL);
	h = json_array_get(json_object_get(out, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "drifting");
	assert_string_equal(json_string_value(json_object_get(h, "last_report")), "33333333-3333-4333-8333-333333333333");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "counts"), "failed")), 1);
	json_decref(out);
	/* the same id from another host is that host's own report */
	assert_int_equal(ingest(c, mk("33333333-3333-4333-8333-333333333333", "web2", "2026-01-01T00:00:05Z", "refused"), 1021, &dup), 0);
	assert_int_equal(dup, 0);
	out = hosts(c, 1030, 60, "refused");
	assert_int_equal(json_array_size(json_object_get(out, "hosts")), 1);
	h = json_array_get(json_object_get(out, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "host")), "web2");
	assert_non_null(strstr(json_string_value(json_object_get(h, "reason")), "refused"));
	json_decref(out);
	/* silent once nothing arrived for silent_after */
	out = hosts(c, 1020 + 61, 60, "silent");
	assert_int_equal(json_array_size(json_object_get(out, "hosts")), 1);
	json_decref(out);

	/* a long refusal reason is cut at a character boundary (valid UTF-8;
	 * the fleet list parses back, PostgreSQL would refuse a broken one) */
	{
		char big[8192], ev[2048], *t = big;
		size_t o = 0;
		o += (size_t)snprintf(ev, sizeof(ev),
				      "{\"resource\":\"baseline\",\"drift\":[],\"action\":\"refused\",\"expected\":null,"
				      "\"actual\":null,\"at\":\"2026-01-01T00:00:00Z\",\"error\":\"");
		for (int i = 0; i < 300; i++)
			o += (size_t)snprintf(ev + o, sizeof(ev) - o, "\u00e9");
		snprintf(ev + o, sizeof(ev) - o, "\"}");
		snprintf(big, sizeof(big), REPORT, "44444444-4444-4444-8444-444444444444", "web3", "2026-01-01T00:00:05Z",
			 "2026-01-01T00:00:05Z", ev);
		assert_int_equal(ingest(c, t, 1022, &dup), 0);
		out = hosts(c, 1030, 60, "refused");
		assert_int_equal(json_array_size(json_object_get(out, "hosts")), 2);
		json_decref(out);
	}

	/* paging: 2 per page over 3 events, newest first */
	struct hub_event_query q = {.host = "web1", .limit = 2};
	assert_int_equal(hub_store_events(c, &q, &out, &e), 0);
	assert_int_equal(json_array_size(json_object_get(out, "events")), 2);
	q.before = json_integer_value(json_object_get(out, "next"));
	assert_true(q.before > 0);
	json_decref(out);
	assert_int_equal(hub_store_events(c, &q, &out, &e), 0);
	assert_int_equal(json_array_size(json_object_get(out, "events")), 1);
	assert_true(json_is_null(json_object_get(out, "next")));
	json_decref(out);
	q = (struct hub_event_query){.action = "failed", .limit = 10};
	assert_int_equal(hub_store_events(c, &q, &out, &e), 0);
	assert_int_equal(json_array_size(json_object_get(out, "events")), 1);
	json_decref(out);

	char *body = NULL;
	assert_int_equal(hub_store_report(c, "22222222-2222-4222-8222-222222222222", NULL, &body, &e), 0);
	assert_non_null(strstr(body, "\"reverted\""));
	free(body);
	assert_int_equal(hub_store_report(c, "99999999-9999-4999-8999-999999999999", NULL, &body, &e), PLUMB_E_NOTFOUND);

	/* retention: before 1015 goes (two reports, two events); the hosts stay */
	long ev = 0, rep = 0;
	assert_int_equal(hub_store_prune(c, 1015, &ev, &rep, &e), 0);
	assert_int_equal(rep, 2);
	assert_int_equal(ev, 2);
	out = hosts(c, 1030, 60, NULL);
	assert_int_equal(json_array_size(json_object_get(out, "hosts")), 3);
	json_decref(out);

	/* tokens: made, checked, revoked; only hashes stored */
	char tok[HUB_TOKEN_LEN], subject[HUB_SUBJECT_MAX];
	enum hub_role role;
	assert_int_equal(hub_token_add(c, HUB_ROLE_AGENT, "web1", tok, &e), 0);
	assert_int_equal(hub_token_check(c, tok, &role, subject, NULL, &e), 0);
	assert_int_equal(role, HUB_ROLE_AGENT);
	assert_string_equal(subject, "web1");
	assert_int_equal(hub_token_add(c, HUB_ROLE_AGENT, "has space", tok, &e), PLUMB_E_INVALID);
	tok[10] ^= 1;
	assert_int_equal(hub_token_check(c, tok, &role, subject, NULL, &e), PLUMB_E_NOTFOUND);
	assert_int_equal(hub_token_revoke(c, "000000000000", &e), PLUMB_E_NOTFOUND);
	hub_db_release(db, c);
	hub_db_close(db);

	/* reopening migrates nothing twice and keeps the data */
	assert_int_equal(hub_db_open(&db, path, 1, &e), 0);
	c = hub_db_acquire(db);
	out = hosts(c, 1030, 60, NULL);
	assert_int_equal(json_array_size(json_object_get(out, "hosts")), 3);
	json_decref(out);
	hub_db_release(db, c);
	hub_db_close(db);
	t_rm_rf(dir);
	free(dir);
}

/* One page of hosts as text (JSON objects or CSV lines). */
static char *page(struct hub_conn *c, time_t now, const struct hub_host_query *q, struct hub_page *pg)
{
	struct plumb_err e;
	struct plumb_buf b;
	plumb_buf_init(&b, 1 << 20);
	plumb_buf_adds(&b, "");
	assert_int_equal(hub_store_hosts_page(c, now, 60, q, &b, pg, &e), 0);
	char *t = plumb_buf_detach(&b, NULL);
	plumb_buf_release(&b);
	assert_non_null(t);
	return t;
}

/* The fleet page's storage: keyset pages by status, totals, CSV cells,
 * acks and their trail, rollout, the chart, and sessions. */
static void fleet_page(void **state)
{
	struct plumb_err e;
	struct hub_db *db = NULL;
	char *dir = t_mkdtemp(), path[512], id[36 + 1];
	int dup;
	(void)state;
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	assert_int_equal(hub_db_open(&db, path, 1, &e), 0);
	struct hub_conn *c = hub_db_acquire(db);
	/* h00..h09: even ones drifting, the rest compliant; h09 then silent */
	for (int i = 0; i < 10; i++) {
		char host[8];
		snprintf(host, sizeof(host), "h%02d", i);
		snprintf(id, sizeof(id), "%08d-1111-4111-8111-111111111111", i);
		assert_int_equal(ingest(c, mk(id, host, "2026-01-01T00:00:10Z", i % 2 ? "reverted" : "detected"),
					i == 9 ? 900 : 1000, &dup), 0);
	}
	long long counts[HUB_NSTATUS];
	assert_int_equal(hub_store_status_counts(c, 1000, 60, counts, &e), 0);
	assert_int_equal(counts[0], 1); /* silent: h09 */
	assert_int_equal(counts[1], 5); /* drifting */
	assert_int_equal(counts[5], 4); /* compliant */

	/* by status, three at a time: silent, then drifting by name, ... */
	struct hub_host_query q = {.sort = HUB_SORT_STATUS, .limit = 3};
	struct hub_page pg;
	char *t = page(c, 1000, &q, &pg);
	assert_int_equal(pg.rows, 3);
	assert_true(pg.more);
	assert_non_null(strstr(t, "\"h09\""));
	assert_true(strstr(t, "\"h00\"") < strstr(t, "\"h02\""));
	assert_string_equal(pg.last_host, "h02");
	assert_int_equal(pg.last_key, 1);
	free(t);
	char cur[256];
	int seen = 3;
	for (int guard = 0; pg.more && guard < 10; guard++) {
		snprintf(cur, sizeof(cur), "%s", pg.last_host);
		q.cursor_host = cur;
		q.cursor_key = pg.last_key;
		free(page(c, 1000, &q, &pg));
		seen += pg.rows;
	}
	assert_int_equal(seen, 10);
	assert_string_equal(pg.last_host, "h07"); /* the last compliant host */
	/* a status, a search: counted */
	q = (struct hub_host_query){.status = 2, .limit = 100};
	long long total = 0;
	assert_int_equal(hub_store_hosts_count(c, 1000, 60, &q, &total, &e), 0);
	assert_int_equal(total, 5);
	q = (struct hub_host_query){.contains_like = "%h0\\_%", .limit = 100};
	assert_int_equal(hub_store_hosts_count(c, 1000, 60, &q, &total, &e), 0);
	assert_int_equal(total, 0); /* the escaped _ is literal */
	q = (struct hub_host_query){.contains_like = "%h0_%", .limit = 100};
	assert_int_equal(hub_store_hosts_count(c, 1000, 60, &q, &total, &e), 0);
	assert_int_equal(total, 10);

	/* CSV: always quoted, quotes doubled, formulas defused */
	assert_int_equal(ingest(c, mk("aaaaaaaa-1111-4111-8111-111111111111", "=cmd|'x'", "2026-01-01T00:00:10Z", NULL),
				1000, &dup), 0);
	q = (struct hub_host_query){.csv = 1, .contains_like = "%cmd%", .limit = 10};
	t = page(c, 1000, &q, &pg);
	assert_int_equal(strncmp(t, "\"'=cmd|'x'\",\"compliant\",", 24), 0);
	free(t);

	/* acks: on the event, in the trail; an unknown event is not found */
	struct hub_event_query eq = {.host = "h00", .limit = 10};
	json_t *out = NULL;
	assert_int_equal(hub_store_events(c, &eq, &out, &e), 0);
	long long seq = json_integer_value(json_object_get(json_array_get(json_object_get(out, "events"), 0), "seq"));
	json_decref(out);
	char host[256], res[512];
	assert_int_equal(hub_store_ack(c, seq, "alice", "operator", "expected", 1001, host, res, &e), 0);
	assert_string_equal(host, "h00");
	assert_string_equal(res, "file:/etc/motd");
	assert_int_equal(hub_store_ack(c, 999999, "alice", "operator", "x", 1001, host, res, &e), PLUMB_E_NOTFOUND);
	eq = (struct hub_event_query){.acked = 2, .limit = 10, .count = 1};
	assert_int_equal(hub_store_events(c, &eq, &out, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "total")), 1);
	json_t *ack = json_object_get(json_array_get(json_object_get(out, "events"), 0), "ack");
	assert_string_equal(json_string_value(json_object_get(ack, "by")), "alice");
	assert_string_equal(json_string_value(json_object_get(ack, "note")), "expected");
	json_decref(out);
	eq = (struct hub_event_query){.acked = 1, .limit = 10, .count = 1};
	assert_int_equal(hub_store_events(c, &eq, &out, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "total")), 9);
	json_decref(out);
	assert_int_equal(hub_store_audit(c, 0, 10, &out, &e), 0);
	assert_int_equal(json_array_size(json_object_get(out, "acks")), 1);
	json_decref(out);
	/* a resource prefix, and the chart of the same events */
	eq = (struct hub_event_query){.resource_prefix = "file:/etc/", .limit = 100, .count = 1};
	assert_int_equal(hub_store_events(c, &eq, &out, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "total")), 10);
	json_decref(out);
	eq = (struct hub_event_query){.since = 1, .limit = 1};
	assert_int_equal(hub_store_histogram(c, &eq, &out, &e), 0);
	json_t *bk = json_array_get(json_object_get(out, "buckets"), 0);
	assert_string_equal(json_string_value(json_object_get(bk, "hour")), "2026-01-01T00:00:00Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(bk, "actions"), "detected")), 5);
	json_decref(out);
	assert_int_equal(hub_store_rollout(c, 1000, 60, &out, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "newest_serial")), 3);
	assert_int_equal(json_integer_value(json_object_get(out, "behind")), 0);
	json_decref(out);

	/* sessions: only for live tokens, gone at logout, expiry and revoke */
	char tok[HUB_TOKEN_LEN], subject[HUB_SUBJECT_MAX], hash[65], sid[HUB_SESSION_ID_LEN], csrf[HUB_SESSION_ID_LEN],
		csrf2[HUB_SESSION_ID_LEN];
	enum hub_role role;
	time_t exp;
	assert_int_equal(hub_token_add(c, HUB_ROLE_OPERATOR, "alice", tok, &e), 0);
	assert_int_equal(strncmp(tok, "pho_", 4), 0);
	assert_int_equal(hub_token_check(c, tok, &role, subject, hash, &e), 0);
	assert_int_equal(role, HUB_ROLE_OPERATOR);
	assert_int_equal(hub_session_open(c, hash, 1000, 3600, sid, csrf, &e), 0);
	assert_int_equal(hub_session_check(c, sid, 1001, &role, subject, csrf2, &exp, &e), 0);
	assert_int_equal(role, HUB_ROLE_OPERATOR);
	assert_string_equal(subject, "alice");
	assert_string_equal(csrf, csrf2);
	assert_int_equal(exp, 4600);
	assert_true(hub_session_token_equal(csrf, csrf2));
	assert_false(hub_session_token_equal(csrf, sid));
	assert_false(hub_session_token_equal("", ""));
	assert_int_equal(hub_session_check(c, sid, 4600, &role, subject, csrf2, &exp, &e), PLUMB_E_NOTFOUND);
	assert_int_equal(hub_session_check(c, "' OR 1=1 --", 1001, &role, subject, csrf2, &exp, &e), PLUMB_E_NOTFOUND);
	assert_int_equal(hub_session_close(c, sid, &e), 0);
	assert_int_equal(hub_session_check(c, sid, 1001, &role, subject, csrf2, &exp, &e), PLUMB_E_NOTFOUND);
	assert_int_equal(hub_session_open(c, hash, 1000, 3600, sid, csrf, &e), 0);
	char tid[13];
	snprintf(tid, sizeof(tid), "%.12s", hash);
	assert_int_equal(hub_token_revoke(c, tid, &e), 0);
	assert_int_equal(hub_session_check(c, sid, 1001, &role, subject, csrf2, &exp, &e), PLUMB_E_NOTFOUND);

	hub_db_release(db, c);
	hub_db_close(db);
	t_rm_rf(dir);
	free(dir);
}

/* Group commit (hub_store_ingest_group): threads ingesting at once share
 * transactions, yet each report gets its own answer. A duplicate in the
 * same batch is a duplicate; a report over its host's quota fails alone,
 * without undoing the others of its batch; every stored report is there
 * once the call returns. */
#define G_THREADS 8
#define G_EACH 25
struct g_arg {
	struct hub_committer *cm;
	int t, stored, dups, toobig, other;
};

static void *g_worker(void *p)
{
	struct g_arg *a = p;
	char host[16], id[64], fin[32];
	snprintf(host, sizeof(host), "g%d", a->t);
	for (int i = 0; i < G_EACH; i++) {
		snprintf(id, sizeof(id), "%08d-1111-4111-8111-%012d", a->t, i);
		snprintf(fin, sizeof(fin), "2026-01-01T00:%02d:%02dZ", i / 60, i % 60);
		/* not mk(): its buffer is shared by the threads */
		char ev[512] = "", *text = malloc(4096);
		assert_non_null(text);
		if (i % 2)
			snprintf(ev, sizeof(ev), EVENT, "detected");
		snprintf(text, 4096, REPORT, id, host, fin, fin, ev);
		for (int k = 0; k < 2; k++) { /* each report twice: the second is a duplicate */
			struct plumb_err e;
			time_t f;
			int dup = -1;
			json_t *doc = hub_report_parse(text, strlen(text), &e);
			if (!doc || hub_report_validate(doc, NULL, &f, &e) != 0) {
				a->other++;
				json_decref(doc);
				continue;
			}
			/* the last thread's host has a quota no report fits */
			int r = hub_store_ingest_group(a->cm, doc, text, strlen(text), f, 1000 + i,
						       a->t == G_THREADS - 1 ? 10 : 0, &dup, &e);
			json_decref(doc);
			if (r == 0 && dup == 0)
				a->stored++;
			else if (r == 0 && dup == 1)
				a->dups++;
			else if (r == PLUMB_E_TOOBIG)
				a->toobig++;
			else
				a->other++;
		}
		free(text);
	}
	return NULL;
}

static int g_count(void *ctx, int n, const char *const *v)
{
	*(long *)ctx = n > 0 && v[0] ? atol(v[0]) : -1;
	return 0;
}

static void group_commit(void **state)
{
	struct plumb_err e;
	struct hub_db *db = NULL;
	char *dir = t_mkdtemp(), path[512];
	pthread_t th[G_THREADS];
	struct g_arg a[G_THREADS];
	(void)state;
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	assert_int_equal(hub_db_open(&db, path, 4, &e), 0);
	struct hub_committer *cm = NULL;
	assert_int_equal(hub_committer_start(&cm, db, &e), 0);
	for (int t = 0; t < G_THREADS; t++) {
		a[t] = (struct g_arg){.cm = cm, .t = t};
		assert_int_equal(pthread_create(&th[t], NULL, g_worker, &a[t]), 0);
	}
	for (int t = 0; t < G_THREADS; t++)
		pthread_join(th[t], NULL);
	hub_committer_free(cm);
	for (int t = 0; t < G_THREADS; t++) {
		assert_int_equal(a[t].other, 0);
		if (t == G_THREADS - 1) {
			assert_int_equal(a[t].toobig, 2 * G_EACH);
			assert_int_equal(a[t].stored + a[t].dups, 0);
		} else {
			assert_int_equal(a[t].stored, G_EACH);
			assert_int_equal(a[t].dups, G_EACH);
			assert_int_equal(a[t].toobig, 0);
		}
	}
	struct hub_conn *c = hub_db_acquire(db);
	long n = -1;
	assert_int_equal(hub_conn_exec(c, "SELECT COUNT(*) FROM reports", 0, NULL, g_count, &n, NULL, &e), 0);
	assert_int_equal(n, (G_THREADS - 1) * G_EACH);
	/* half the reports carry one event */
	assert_int_equal(hub_conn_exec(c, "SELECT COUNT(*) FROM events", 0, NULL, g_count, &n, NULL, &e), 0);
	assert_int_equal(n, (G_THREADS - 1) * (G_EACH / 2));
	assert_int_equal(hub_conn_exec(c, "SELECT MIN(reports) FROM hosts", 0, NULL, g_count, &n, NULL, &e), 0);
	assert_int_equal(n, G_EACH);
	const char *qp[] = {"g7"};
	assert_int_equal(hub_conn_exec(c, "SELECT COUNT(*) FROM hosts WHERE host = $1", 1, qp, g_count, &n, NULL, &e), 0);
	assert_int_equal(n, 0);
	hub_db_release(db, c);
	hub_db_close(db);
	t_rm_rf(dir);
	free(dir);
}

/* Batching across submitters that do not wait (the HTTP path: a suspended
 * connection per report): reports queued while the committer is busy all
 * go in its next transaction, each gets its own result, and one host's
 * reports commit in the order they were queued (its newest is its state). */
#define B_HOSTS 4
#define B_EACH 10
struct b_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void b_done(struct hub_ingest *j)
{
	struct b_state *b = j->arg;
	pthread_mutex_lock(&b->mu);
	b->done++;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static int b_text(void *ctx, int n, const char *const *v)
{
	snprintf(ctx, 64, "%s", n > 0 && v[0] ? v[0] : "");
	return 0;
}

static void committer_batches(void **state)
{
	struct plumb_err e;
	struct hub_db *db = NULL;
	struct hub_committer *cm = NULL;
	char *dir = t_mkdtemp(), path[512];
	static char text[B_HOSTS * B_EACH][4096];
	json_t *doc[B_HOSTS * B_EACH];
	struct hub_ingest job[B_HOSTS * B_EACH];
	struct hub_conn *held[4];
	struct b_state b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	(void)state;
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	assert_int_equal(hub_db_open(&db, path, 4, &e), 0);
	assert_int_equal(hub_committer_start(&cm, db, &e), 0);
	/* every connection held: the committer's first batch waits for one */
	for (int i = 0; i < 4; i++)
		held[i] = hub_db_acquire(db);
	for (int i = 0; i < B_HOSTS * B_EACH; i++) {
		char id[64], host[16], fin[32];
		time_t f;
		/* interleaved hosts */
		snprintf(host, sizeof(host), "b%d", i % B_HOSTS);
		snprintf(id, sizeof(id), "%08d-2222-4222-8222-%012d", i % B_HOSTS, i / B_HOSTS);
		snprintf(fin, sizeof(fin), "2026-01-01T00:00:%02dZ", i / B_HOSTS);
		snprintf(text[i], sizeof(text[i]), "%s", mk(id, host, fin, i % 2 ? "detected" : NULL));
		assert_non_null(doc[i] = hub_report_parse(text[i], strlen(text[i]), &e));
		assert_int_equal(hub_report_validate(doc[i], NULL, &f, &e), 0);
		job[i] = (struct hub_ingest){.doc = doc[i], .body = text[i], .len = strlen(text[i]), .finished = f,
					     .now = 1000, .done = b_done, .arg = &b};
		assert_int_equal(hub_committer_submit(cm, &job[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		hub_db_release(db, held[i]);
	pthread_mutex_lock(&b.mu);
	while (b.done < B_HOSTS * B_EACH)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	for (int i = 0; i < B_HOSTS * B_EACH; i++) {
		assert_int_equal(job[i].r, 0);
		assert_int_equal(job[i].duplicate, 0);
		json_decref(doc[i]);
	}
	/* the first batch (what was queued when the committer woke), then
	 * everything queued while it waited */
	assert_true(hub_committer_commits(cm) <= 2);
	hub_committer_free(cm);
	struct hub_conn *c = hub_db_acquire(db);
	for (int h = 0; h < B_HOSTS; h++) {
		char host[16], last[64], want[64], n[64];
		snprintf(host, sizeof(host), "b%d", h);
		snprintf(want, sizeof(want), "%08d-2222-4222-8222-%012d", h, B_EACH - 1);
		const char *qp[] = {host};
		assert_int_equal(hub_conn_exec(c, "SELECT last_report FROM hosts WHERE host = $1", 1, qp, b_text, last,
					       NULL, &e), 0);
		assert_string_equal(last, want);
		assert_int_equal(hub_conn_exec(c, "SELECT reports FROM hosts WHERE host = $1", 1, qp, b_text, n, NULL,
					       &e), 0);
		assert_string_equal(n, "10");
	}
	hub_db_release(db, c);
	hub_db_close(db);
	t_rm_rf(dir);
	free(dir);
}

/* A statement failing in a batch of distinct hosts (the two-round-trip
 * path) undoes the batch, which is then stored report by report: only the
 * failing report fails, the others are stored. */
static void committer_failure_alone(void **state)
{
	struct plumb_err e;
	struct hub_db *db = NULL;
	struct hub_committer *cm = NULL;
	char *dir = t_mkdtemp(), path[512];
	static char text[4][4096];
	json_t *doc[4];
	struct hub_ingest job[4];
	struct hub_conn *held[2];
	struct b_state b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	(void)state;
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	assert_int_equal(hub_db_open(&db, path, 2, &e), 0);
	held[0] = hub_db_acquire(db);
	/* the events of host f2 cannot be stored */
	assert_int_equal(hub_conn_exec(held[0], "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.host = 'f2'"
				       " BEGIN SELECT RAISE(ABORT, 'boom'); END", 0, NULL, NULL, NULL, NULL, &e), 0);
	held[1] = hub_db_acquire(db);
	assert_int_equal(hub_committer_start(&cm, db, &e), 0);
	for (int i = 0; i < 4; i++) {
		char id[64], host[16];
		time_t f;
		snprintf(host, sizeof(host), "f%d", i);
		snprintf(id, sizeof(id), "%08d-3333-4333-8333-000000000000", i);
		snprintf(text[i], sizeof(text[i]), "%s", mk(id, host, "2026-01-01T00:00:00Z", "detected"));
		assert_non_null(doc[i] = hub_report_parse(text[i], strlen(text[i]), &e));
		assert_int_equal(hub_report_validate(doc[i], NULL, &f, &e), 0);
		job[i] = (struct hub_ingest){.doc = doc[i], .body = text[i], .len = strlen(text[i]), .finished = f,
					     .now = 1000, .done = b_done, .arg = &b};
		assert_int_equal(hub_committer_submit(cm, &job[i]), 0);
	}
	hub_db_release(db, held[0]);
	hub_db_release(db, held[1]);
	pthread_mutex_lock(&b.mu);
	while (b.done < 4)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	hub_committer_free(cm);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(job[i].r, i == 2 ? PLUMB_E_IO : 0);
		assert_int_equal(job[i].duplicate, 0);
		json_decref(doc[i]);
	}
	assert_non_null(strstr(job[2].err.msg, "boom"));
	struct hub_conn *c = hub_db_acquire(db);
	long n = -1;
	assert_int_equal(hub_conn_exec(c, "SELECT COUNT(*) FROM reports", 0, NULL, g_count, &n, NULL, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(hub_conn_exec(c, "SELECT COUNT(*) FROM hosts", 0, NULL, g_count, &n, NULL, &e), 0);
	assert_int_equal(n, 3);
	hub_db_release(db, c);
	hub_db_close(db);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(validate_paths),
		cmocka_unit_test(ingest_and_query),
		cmocka_unit_test(fleet_page),
		cmocka_unit_test(group_commit),
		cmocka_unit_test(committer_batches),
		cmocka_unit_test(committer_failure_alone),
	};
	return cmocka_run_group_tests_name("hub_store", tests, NULL, NULL);
}
