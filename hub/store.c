/* store.c - ingest, fleet and event queries, retention: the hub's SQL,
 * written once for SQLite and PostgreSQL alike. */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "plumb/buf.h"
#include "plumb/util.h"
#include "../src/banned.h"

#define NUM(buf, v) snprintf((buf), sizeof(buf), "%lld", (long long)(v))

/* Actions that leave drift in place. "refused" and "rolled-back" are not
 * drift: the host keeps enforcing the baseline it had (the timeline shows
 * them; the host's commit and serial show it did not move). */
static int unresolved_action(const char *a)
{
	return !strcmp(a, "detected") || !strcmp(a, "failed") || !strcmp(a, "contested");
}

static const char *opt_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Why a report leaves its host refused: the first refused tip or
 * rolled-back firewall change, with the agent's error. Empty if none. */
static void refused_reason(char out[HUB_REASON_MAX], const json_t *evs)
{
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(evs); i++) {
		const json_t *ev = json_array_get(evs, i);
		const char *a = opt_str(ev, "action"), *e = opt_str(ev, "error");
		if (strcmp(a, "refused") && strcmp(a, "rolled-back"))
			continue;
		snprintf(out, HUB_REASON_MAX, "%s %s%s%s", opt_str(ev, "resource"), a, e ? ": " : "", e ? e : "");
		plumb_utf8_trim(out);
		return;
	}
}

/* Why a report's host enforces no signed baseline. Empty if it does. */
static void unprotected_reason(char out[HUB_REASON_MAX], const json_t *doc)
{
	const json_t *b = json_object_get(doc, "baseline");
	const char *mode = opt_str(doc, "mode");
	out[0] = '\0';
	if (json_is_null(json_object_get(b, "commit")) || json_is_null(json_object_get(b, "signer")))
		snprintf(out, HUB_REASON_MAX, "no signed baseline (an unsigned directory)");
	else if (mode && !strcmp(mode, "audit"))
		snprintf(out, HUB_REASON_MAX, "audit mode: drift is reported, never reverted");
}

struct bytes_ctx {
	long long v;
	int found;
};

static int bytes_row(void *ctx, int n, const char *const *v)
{
	struct bytes_ctx *b = ctx;
	if (n > 0 && v[0]) {
		b->v = strtoll(v[0], NULL, 10);
		b->found = 1;
	}
	return 0;
}

/* Statements a batch runs before a report's own, in the same round trip
 * (BEGIN, this report's SAVEPOINT). */
struct lead {
	const char *sql[2];
	int n;
};

#define SQL_INSERT_REPORT                                                                              \
	"INSERT INTO reports (id, host, received_at, finished_at, commit_id, serial, nevents, body,"    \
	" body_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (host, id) DO NOTHING"
/* The host's row, counters and state in one statement (a new host's state
 * is this report's). Parts of one run (run.id) add up: unresolved drift
 * and a refusal in an earlier part stay until a report of another run
 * arrives. The status rank (all but silence, which the clock decides)
 * comes from the values just set: the fleet view pages and counts by it. */
#define HOST_UNRES "(CASE WHEN hosts.last_run = excluded.last_run THEN hosts.unresolved + excluded.unresolved" \
		   " ELSE excluded.unresolved END)"
#define HOST_REFUSED "(CASE WHEN hosts.last_run = excluded.last_run THEN" \
		     " COALESCE(hosts.refused, excluded.refused) ELSE excluded.refused END)"
#define SQL_UPSERT_HOST                                                                                        \
	"INSERT INTO hosts (host, first_seen, last_seen, reports, events, reverted, failed, last_drift_at,"     \
	" stored_bytes, last_finished, last_report, commit_id, serial, signer, fingerprint, stale, mode,"        \
	" agent_version, unresolved, refused, unprotected, last_run, base_rank)"                                \
	" VALUES ($1, $2, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19," \
	" $20, CASE WHEN CAST($17 AS INTEGER) > 0 THEN 1 WHEN CAST($18 AS TEXT) IS NOT NULL THEN 2"              \
	" WHEN CAST($19 AS TEXT) IS NOT NULL THEN 3 WHEN CAST($14 AS INTEGER) = 1 THEN 4 ELSE 5 END)"           \
	" ON CONFLICT (host) DO UPDATE SET"                                                                     \
	" last_seen = CASE WHEN excluded.last_seen > hosts.last_seen THEN excluded.last_seen"                   \
	" ELSE hosts.last_seen END,"                                                                            \
	" reports = hosts.reports + 1, events = hosts.events + excluded.events,"                                \
	" reverted = hosts.reverted + excluded.reverted, failed = hosts.failed + excluded.failed,"              \
	" stored_bytes = hosts.stored_bytes + excluded.stored_bytes,"                                           \
	" last_drift_at = CASE WHEN hosts.last_drift_at IS NULL OR"                                             \
	" excluded.last_drift_at > hosts.last_drift_at THEN"                                                    \
	" COALESCE(excluded.last_drift_at, hosts.last_drift_at) ELSE hosts.last_drift_at END,"                  \
	" last_finished = excluded.last_finished, last_report = excluded.last_report,"                          \
	" commit_id = excluded.commit_id, serial = excluded.serial, signer = excluded.signer,"                  \
	" fingerprint = excluded.fingerprint, stale = excluded.stale, mode = excluded.mode,"                    \
	" agent_version = excluded.agent_version,"                                                              \
	" unresolved = " HOST_UNRES ", refused = " HOST_REFUSED ","                                             \
	" unprotected = excluded.unprotected, last_run = excluded.last_run,"                                    \
	" base_rank = CASE WHEN CAST(" HOST_UNRES " AS BIGINT) > 0 THEN 1 WHEN " HOST_REFUSED " IS NOT NULL"    \
	" THEN 2 WHEN excluded.unprotected IS NOT NULL THEN 3 WHEN CAST(excluded.stale AS INTEGER) = 1 THEN 4"   \
	" ELSE 5 END"

/* Events go in multi-row INSERTs of 16, 8, 4, 2 or 1 rows (five statement
 * texts, each prepared once), EV_BATCH events a round trip. */
#define EV_ROWS 16
#define EV_COLS 7
#define EV_BATCH 64
static char ev_sql_text[5][128 + EV_ROWS * 48];
static pthread_once_t ev_sql_once = PTHREAD_ONCE_INIT;

static void ev_sql_build(void)
{
	for (int i = 0, k = 1; k <= EV_ROWS; i++, k *= 2) {
		char *t = ev_sql_text[i];
		size_t cap = sizeof(ev_sql_text[i]);
		int n = snprintf(t, cap, "INSERT INTO events (report_id, host, received_at, at, resource, action, body) VALUES");
		for (int row = 0; row < k; row++) {
			int p = row * EV_COLS;
			n += snprintf(t + n, cap - (size_t)n, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d)", row ? ", " : " ",
				      p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7);
		}
	}
}

/* The largest statement of at most n rows: its row count and text. */
static const char *ev_sql(int n, int *rows)
{
	int i = 0, k = 1;
	pthread_once(&ev_sql_once, ev_sql_build);
	while (k * 2 <= n && k * 2 <= EV_ROWS)
		k *= 2, i++;
	*rows = k;
	return ev_sql_text[i];
}

/* One report's statement parameters, as text, and what its statements
 * return. Its pointers point into it and into the report: it stays put
 * while its statements run. */
struct rep_sql {
	const json_t *doc;
	char s_now[24], s_fin[24], s_nev[24], s_serial[24], s_unres[24], s_rev[24], s_fail[24], s_drift[24],
		s_len[24];
	char refused[HUB_REASON_MAX], unprot[HUB_REASON_MAX];
	const char *rp[9], *qp[1], *dp[2], *hp[20];
	size_t nev;
	long changes;
	struct bytes_ctx have;
};

#define SQL_STORED_BYTES "SELECT stored_bytes FROM hosts WHERE host = $1"

/* The report row's, the quota read's and the host row's parameters; the
 * host's counters from the events. */
static void rep_sql_init(struct rep_sql *q, const json_t *doc, const char *body, size_t len, time_t finished,
			 time_t now)
{
	const json_t *b = json_object_get(doc, "baseline"), *evs = json_object_get(doc, "events");
	const char *id = opt_str(doc, "id"), *host = opt_str(doc, "host");
	const json_t *serial = json_object_get(b, "serial");
	/* plumbd's reports say what stands (validate.c): its unresolved count
	 * and refusal replace what this report's own events would say, since
	 * a run of part of the baseline is silent about the rest. */
	const json_t *standing = json_object_get(doc, "standing");
	long long unres = 0, rev = 0, fail = 0;
	time_t last_drift = 0;

	q->doc = doc;
	q->nev = json_array_size(evs);
	q->changes = 0;
	q->have = (struct bytes_ctx){0};
	NUM(q->s_now, now);
	NUM(q->s_fin, finished);
	NUM(q->s_nev, q->nev);
	NUM(q->s_len, len);
	if (json_is_integer(serial))
		NUM(q->s_serial, json_integer_value(serial));
	refused_reason(q->refused, evs);
	if (standing != NULL && opt_str(standing, "refused") != NULL) {
		snprintf(q->refused, sizeof(q->refused), "baseline refused: %s", opt_str(standing, "refused"));
		plumb_utf8_trim(q->refused);
	}
	unprotected_reason(q->unprot, doc);
	for (size_t i = 0; i < q->nev; i++) {
		const json_t *ev = json_array_get(evs, i);
		const char *action = opt_str(ev, "action");
		time_t at = 0;
		plumb_time_parse(&at, opt_str(ev, "at"));
		if (unresolved_action(action))
			unres++;
		if (!strcmp(action, "reverted"))
			rev++;
		if (!strcmp(action, "failed"))
			fail++;
		if (strcmp(action, "refused") && at > last_drift)
			last_drift = at;
	}
	if (standing != NULL)
		unres = (long long)json_integer_value(json_object_get(standing, "unresolved"));
	NUM(q->s_unres, unres);
	NUM(q->s_rev, rev);
	NUM(q->s_fail, fail);
	NUM(q->s_drift, last_drift);
	const char *rp[] = {id, host, q->s_now, q->s_fin, opt_str(b, "commit"),
			    json_is_integer(serial) ? q->s_serial : NULL, q->s_nev, body, q->s_len};
	memcpy(q->rp, rp, sizeof(rp));
	q->qp[0] = host;
	q->dp[0] = host;
	q->dp[1] = id;
	/* Receive order: this transaction holds the host's row (SQLite: the
	 * write lock; PostgreSQL: the row lock the upsert takes), so the last
	 * report to commit is the host's state. */
	const char *hp[] = {host,
			    q->s_now,
			    q->s_nev,
			    q->s_rev,
			    q->s_fail,
			    last_drift ? q->s_drift : NULL,
			    q->s_len,
			    q->s_fin,
			    id,
			    opt_str(b, "commit"),
			    json_is_integer(serial) ? q->s_serial : NULL,
			    opt_str(b, "signer"),
			    opt_str(b, "fingerprint"),
			    json_is_true(json_object_get(b, "stale")) ? "1" : "0",
			    opt_str(doc, "mode"),
			    opt_str(doc, "agent_version"),
			    q->s_unres,
			    q->refused[0] ? q->refused : NULL,
			    q->unprot[0] ? q->unprot : NULL,
			    /* with standing, every part says the same host-wide
			     * figure: replaced, not added (never a match) */
			    standing != NULL ? id : opt_str(json_object_get(doc, "run"), "id")};
	memcpy(q->hp, hp, sizeof(hp));
}

/* Event i of q's report: its EV_COLS parameters into ep (its text, to be
 * freed, into *text; its time into s_at). Returns 0 or PLUMB_E_NOMEM. */
static int ev_params(const struct rep_sql *q, size_t i, const char **ep, char s_at[24], char **text)
{
	const json_t *ev = json_array_get(json_object_get(q->doc, "events"), i);
	time_t at = 0;
	plumb_time_parse(&at, opt_str(ev, "at"));
	if (!(*text = json_dumps(ev, JSON_COMPACT)))
		return PLUMB_E_NOMEM;
	snprintf(s_at, 24, "%lld", (long long)at);
	const char *p[EV_COLS] = {q->rp[0], q->rp[1], q->s_now, s_at, opt_str(ev, "resource"), opt_str(ev, "action"),
				  *text};
	memcpy(ep, p, sizeof(p));
	return 0;
}

/* The statements of n event rows whose parameters ep holds, appended to
 * st at *ns. */
static void ev_stmts(struct hub_stmt *st, int *ns, const char **ep, int n)
{
	for (int off = 0, k; off < n; off += k) {
		const char *sql = ev_sql(n - off, &k);
		st[(*ns)++] = (struct hub_stmt){.sql = sql, .nparams = EV_COLS * k, .params = ep + off * EV_COLS};
	}
}

/* One report's rows, inside a transaction the caller opened, in two round
 * trips on PostgreSQL: the report row (with the lead statements before it)
 * and its host's stored bytes, then, unless it is a duplicate or over
 * quota, its events and the host's row. Returns 0 (stored, or *duplicate
 * set: the caller undoes nothing it must keep), else an error after which
 * the caller rolls back what this call wrote; *lead_failed is set when
 * the error was a lead statement's (the batch's, not this report's). */
static int ingest_rows(struct hub_conn *c, const struct lead *ld, int *lead_failed, const json_t *doc,
		       const char *body, size_t len, time_t finished, time_t now, unsigned long long quota,
		       int *duplicate, struct plumb_err *err)
{
	int r = 0, failed = 0, nl = ld ? ld->n : 0, ns = 0, nt = 0;
	struct rep_sql q;
	struct hub_stmt st[EV_BATCH / EV_ROWS + 6];
	const char *ep[EV_BATCH * EV_COLS];
	char s_at[EV_BATCH][24];
	char *evtext[EV_BATCH];

	*duplicate = 0;
	if (lead_failed)
		*lead_failed = 0;
	rep_sql_init(&q, doc, body, len, finished, now);
	for (int i = 0; i < nl; i++)
		st[ns++] = (struct hub_stmt){.sql = ld->sql[i]};
	st[ns++] = (struct hub_stmt){.sql = SQL_INSERT_REPORT, .nparams = 9, .params = q.rp, .changes = &q.changes};
	/* read in the same round trip; only a stored report (changes) uses it */
	if (quota)
		st[ns++] = (struct hub_stmt){.sql = SQL_STORED_BYTES, .nparams = 1, .params = q.qp, .row = bytes_row,
					     .ctx = &q.have};
	if ((r = hub_conn_exec_many(c, st, ns, &failed, err)) != 0) {
		if (lead_failed && failed < nl)
			*lead_failed = 1;
		return r;
	}
	if (q.changes == 0) { /* a retry of a report this host already stored */
		*duplicate = 1;
		return 0;
	}
	/* the bytes read before this report's own row counted them */
	if (quota && (unsigned long long)q.have.v + len > quota)
		return plumb_err_set(err, PLUMB_E_TOOBIG, "host '%s' keeps %lld bytes of reports; its quota is %llu",
				     q.qp[0], q.have.v, quota);
	/* Events, EV_BATCH a round trip, then the host's row with the last. */
	for (size_t i = 0; i < q.nev; i++) {
		if (ev_params(&q, i, &ep[nt * EV_COLS], s_at[nt], &evtext[nt]) != 0) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		nt++;
		if (nt == EV_BATCH || i + 1 == q.nev) {
			ns = 0;
			ev_stmts(st, &ns, ep, nt);
			if (i + 1 == q.nev)
				st[ns++] = (struct hub_stmt){.sql = SQL_UPSERT_HOST, .nparams = 20, .params = q.hp};
			r = hub_conn_exec_many(c, st, ns, NULL, err);
			for (int k = 0; k < nt; k++)
				free(evtext[k]);
			nt = 0;
			if (r != 0)
				return r;
		}
	}
	if (q.nev == 0 && (r = hub_conn_exec(c, SQL_UPSERT_HOST, 20, q.hp, NULL, NULL, NULL, err)) != 0)
		return r;
out:
	for (int k = 0; k < nt; k++)
		free(evtext[k]);
	if (r != 0)
		return r;
	/* Alerts this report raises or clears, in its own transaction. */
	return hub_alerts_ingest(c, doc, now, err);
}

int hub_store_ingest(struct hub_conn *c, const json_t *doc, const char *body, size_t len, time_t finished,
		     time_t now, unsigned long long quota, int *duplicate, struct plumb_err *err)
{
	int r;
	*duplicate = 0;
	if ((r = hub_conn_begin(c, err)) != 0)
		return r;
	r = ingest_rows(c, NULL, NULL, doc, body, len, finished, now, quota, duplicate, err);
	if (r != 0 || *duplicate) {
		hub_conn_rollback(c);
		return r;
	}
	if ((r = hub_conn_commit(c, err)) == 0)
		hub_alerts_kick();
	return r;
}

/* ---- group commit ----
 * Request threads queue their reports (hub_committer_submit) and go on
 * serving other connections; the committer thread takes every report queued,
 * stores each under its own savepoint in one transaction and commits once,
 * then tells each submitter its result. One fsync (SQLite's WAL with
 * synchronous=FULL, PostgreSQL's WAL flush) covers the batch, and no
 * report's result is given before the COMMIT that holds it returned: an
 * acknowledged report is as durable as before. A report that fails
 * (quota, a bad row) is rolled back to its savepoint alone; a COMMIT that
 * fails fails every report of the batch. */
#define GROUP_MAX 64
/* a batch's pipelines (group_fast): a BEGIN and two statements a report;
 * then up to a statement an event and one a report */
_Static_assert(1 + 2 * GROUP_MAX <= HUB_PIPE_MAX && EV_BATCH + GROUP_MAX <= HUB_PIPE_MAX,
	       "a group commit's pipeline exceeds HUB_PIPE_MAX");

/* One committer thread: SQLite has one writer at a time, and on
 * PostgreSQL a second committer, measured, lost more to smaller batches
 * (and two transactions' overhead) than it won by overlapping them (2,200
 * against 2,700 reports/s at a load average of 3.5-4). With one, a
 * host's reports also commit in the order they were queued without more. */
struct hub_committer {
	struct hub_db *db;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct hub_ingest *head, **tail;
	int stopping, started;
	pthread_t th;
	atomic_ullong commits;
};

static const char *job_host(const struct hub_ingest *j)
{
	const char *h = opt_str(j->doc, "host");
	return h ? h : "";
}

/* The batch in two round trips, without savepoints, when its reports are
 * of distinct hosts and carry at most EV_BATCH events together: every
 * report row and quota read in one pipeline (BEGIN first), then every
 * stored report's events and host row (and the undoing of a report over
 * quota) in another, then the alerts of each. Returns 0 with each job's
 * result set and *stored counted, the transaction open; 1 when the batch
 * does not qualify (nothing sent); else an error after which the caller
 * rolls back and stores the batch report by report (group_run's savepoint
 * path finds which report failed). */
static int group_fast(struct hub_conn *c, struct hub_ingest **jobs, int n, int *stored, struct plumb_err *e)
{
	size_t evs = 0;
	for (int i = 0; i < n; i++) {
		evs += json_array_size(json_object_get(jobs[i]->doc, "events"));
		/* sorted by host: a host twice is a neighbour (its reports'
		 * quota and alerts see each other's rows in order only one by
		 * one) */
		if (i > 0 && !strcmp(job_host(jobs[i - 1]), job_host(jobs[i])))
			return 1;
	}
	if (n < 2 || evs > EV_BATCH)
		return 1;
	struct rep_sql *q = calloc((size_t)n, sizeof(*q));
	/* (a BEGIN, two statements a report; then up to one statement an
	 * event and one a report) */
	struct hub_stmt *st = calloc(2 * (size_t)n + 1 + EV_BATCH, sizeof(*st));
	const char *ep[EV_BATCH * EV_COLS];
	char s_at[EV_BATCH][24];
	char *evtext[EV_BATCH];
	int ns = 0, nt = 0, r = 0;
	if (!q || !st) {
		r = plumb_err_set(e, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	st[ns++] = (struct hub_stmt){.sql = hub_conn_is_pg(c) ? "BEGIN" : "BEGIN IMMEDIATE"};
	for (int i = 0; i < n; i++) {
		struct hub_ingest *j = jobs[i];
		rep_sql_init(&q[i], j->doc, j->body, j->len, j->finished, j->now);
		st[ns++] = (struct hub_stmt){.sql = SQL_INSERT_REPORT, .nparams = 9, .params = q[i].rp,
					     .changes = &q[i].changes};
		if (j->quota)
			st[ns++] = (struct hub_stmt){.sql = SQL_STORED_BYTES, .nparams = 1, .params = q[i].qp,
						     .row = bytes_row, .ctx = &q[i].have};
	}
	if ((r = hub_conn_exec_many(c, st, ns, NULL, e)) != 0)
		goto out;
	ns = 0;
	for (int i = 0; i < n; i++) {
		struct hub_ingest *j = jobs[i];
		j->r = 0;
		j->duplicate = 0;
		if (q[i].changes == 0) { /* a retry of a report this host already stored */
			j->duplicate = 1;
			continue;
		}
		if (j->quota && (unsigned long long)q[i].have.v + j->len > j->quota) {
			j->r = plumb_err_set(&j->err, PLUMB_E_TOOBIG,
					     "host '%s' keeps %lld bytes of reports; its quota is %llu", q[i].qp[0],
					     q[i].have.v, j->quota);
			st[ns++] = (struct hub_stmt){.sql = "DELETE FROM reports WHERE host = $1 AND id = $2",
						     .nparams = 2, .params = q[i].dp};
			continue;
		}
		int first = nt;
		for (size_t k = 0; k < q[i].nev; k++, nt++)
			if (ev_params(&q[i], k, &ep[nt * EV_COLS], s_at[nt], &evtext[nt]) != 0) {
				r = plumb_err_set(e, PLUMB_E_NOMEM, "out of memory");
				goto out;
			}
		ev_stmts(st, &ns, &ep[first * EV_COLS], nt - first);
		st[ns++] = (struct hub_stmt){.sql = SQL_UPSERT_HOST, .nparams = 20, .params = q[i].hp};
		(*stored)++;
	}
	if (ns && (r = hub_conn_exec_many(c, st, ns, NULL, e)) != 0)
		goto out;
	/* alerts of each report, after its host's row */
	for (int i = 0; i < n && r == 0; i++)
		if (jobs[i]->r == 0 && !jobs[i]->duplicate)
			r = hub_alerts_ingest(c, jobs[i]->doc, jobs[i]->now, e);
out:
	for (int k = 0; k < nt; k++)
		free(evtext[k]);
	free(st);
	free(q);
	if (r != 0)
		*stored = 0;
	return r;
}

/* Stores a batch in one transaction and sets each job's result. Jobs run in
 * host order (stable: one host's reports keep their receive order), so two
 * batches on one PostgreSQL (two hubs) take host rows in
 * the same order. */
static void group_run(struct hub_committer *cm, struct hub_ingest **jobs, int n)
{
	for (int i = 1; i < n; i++) {
		struct hub_ingest *k = jobs[i];
		int j = i;
		for (; j > 0 && strcmp(job_host(jobs[j - 1]), job_host(k)) > 0; j--)
			jobs[j] = jobs[j - 1];
		jobs[j] = k;
	}
	struct hub_db *db = cm->db;
	struct hub_conn *c = hub_db_acquire(db);
	struct plumb_err e = {0};
	int r = 0, stored = 0, began = 0;
	/* a batch of one needs no savepoint: the transaction is its */
	int sp = n > 1;
	for (int i = 0; i < n; i++)
		jobs[i]->err = (struct plumb_err){0};
	int fr = group_fast(c, jobs, n, &stored, &e), slow = n;
	if (fr == 0) {
		began = 1;
		slow = 0; /* every job has its result */
	} else if (fr < 0) { /* undone: report by report, under savepoints */
		hub_conn_rollback(c);
		e = (struct plumb_err){0};
		for (int i = 0; i < n; i++)
			jobs[i]->err = (struct plumb_err){0};
	}
	for (int i = 0; i < slow; i++) {
		struct hub_ingest *j = jobs[i];
		j->duplicate = 0;
		j->err = (struct plumb_err){0};
		if (r != 0) {
			j->r = r;
			j->err = e;
			continue;
		}
		/* BEGIN travels with the first report's first statements. A
		 * stored report's savepoint is not released: the next one nests
		 * in it (ROLLBACK TO goes to the newest of the name), and COMMIT
		 * ends them all; that saves a statement a report. */
		struct lead ld = {.n = 0};
		if (!began)
			ld.sql[ld.n++] = hub_conn_is_pg(c) ? "BEGIN" : "BEGIN IMMEDIATE";
		if (sp)
			ld.sql[ld.n++] = "SAVEPOINT ingest";
		int lead_failed = 0;
		j->r = ingest_rows(c, &ld, &lead_failed, j->doc, j->body, j->len, j->finished, j->now, j->quota,
				   &j->duplicate, &j->err);
		began = 1;
		if (lead_failed) { /* the batch's own statement: nothing of it holds */
			r = j->r;
			e = j->err;
			continue;
		}
		if (j->r == 0 && !j->duplicate) {
			stored++;
		} else if (j->r != 0 && sp) { /* (a duplicate wrote nothing) */
			static const struct hub_stmt undo[] = {{.sql = "ROLLBACK TO SAVEPOINT ingest"},
								{.sql = "RELEASE SAVEPOINT ingest"}};
			r = hub_conn_exec_many(c, undo, 2, NULL, &e);
		}
	}
	/* COMMIT ends the savepoints with the transaction */
	if (r == 0 && stored)
		r = hub_conn_commit(c, &e); /* a failed COMMIT has rolled back */
	else if (began)
		hub_conn_rollback(c); /* an error, or duplicates and refusals only */
	hub_db_release(db, c);
	if (r != 0) /* nothing of this batch is stored: none of it is acknowledged */
		for (int i = 0; i < n; i++)
			if (jobs[i]->r == 0) {
				jobs[i]->r = r;
				jobs[i]->duplicate = 0;
				jobs[i]->err = e;
			}
	if (r == 0 && stored) {
		atomic_fetch_add(&cm->commits, 1);
		hub_alerts_kick();
	}
}

unsigned long long hub_committer_commits(struct hub_committer *cm)
{
	return atomic_load(&cm->commits);
}

/* The committer: takes up to GROUP_MAX queued reports (in queue order) at
 * once, stores them in one transaction, then gives each its result. */
static void *committer_main(void *p)
{
	struct hub_committer *cm = p;
	pthread_mutex_lock(&cm->mu);
	for (;;) {
		struct hub_ingest *jobs[GROUP_MAX];
		int n = 0;
		while (cm->head && n < GROUP_MAX) {
			jobs[n++] = cm->head;
			cm->head = cm->head->next;
		}
		if (!cm->head)
			cm->tail = &cm->head;
		if (n == 0) {
			if (cm->stopping)
				break;
			pthread_cond_wait(&cm->cv, &cm->mu);
			continue;
		}
		pthread_mutex_unlock(&cm->mu);
		group_run(cm, jobs, n);
		/* a job's memory is its submitter's again once told */
		for (int i = 0; i < n; i++)
			jobs[i]->done(jobs[i]);
		pthread_mutex_lock(&cm->mu);
	}
	pthread_mutex_unlock(&cm->mu);
	return NULL;
}

int hub_committer_start(struct hub_committer **out, struct hub_db *db, struct plumb_err *err)
{
	struct hub_committer *cm = calloc(1, sizeof(*cm));
	if (!cm)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	cm->db = db;
	cm->tail = &cm->head;
	pthread_mutex_init(&cm->mu, NULL);
	pthread_cond_init(&cm->cv, NULL);
	if (pthread_create(&cm->th, NULL, committer_main, cm) != 0) {
		hub_committer_free(cm);
		return plumb_err_set(err, PLUMB_E_IO, "cannot start a thread");
	}
	cm->started = 1;
	*out = cm;
	return 0;
}

int hub_committer_submit(struct hub_committer *cm, struct hub_ingest *j)
{
	pthread_mutex_lock(&cm->mu);
	if (cm->stopping) {
		pthread_mutex_unlock(&cm->mu);
		return -1;
	}
	j->next = NULL;
	*cm->tail = j;
	cm->tail = &j->next;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	return 0;
}

void hub_committer_stop(struct hub_committer *cm)
{
	if (!cm)
		return;
	pthread_mutex_lock(&cm->mu);
	cm->stopping = 1;
	pthread_cond_broadcast(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	/* the committer stores what is queued before it ends */
	if (cm->started)
		pthread_join(cm->th, NULL);
	cm->started = 0;
}

void hub_committer_free(struct hub_committer *cm)
{
	if (!cm)
		return;
	hub_committer_stop(cm);
	pthread_mutex_destroy(&cm->mu);
	pthread_cond_destroy(&cm->cv);
	free(cm);
}

/* hub_committer_submit, waiting for the result. */
struct wait_job {
	struct hub_ingest j;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void wait_done(struct hub_ingest *j)
{
	struct wait_job *w = (struct wait_job *)j;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int hub_store_ingest_group(struct hub_committer *cm, const json_t *doc, const char *body, size_t len,
			   time_t finished, time_t now, unsigned long long quota, int *duplicate, struct plumb_err *err)
{
	struct wait_job w = {.j = {.doc = doc, .body = body, .len = len, .finished = finished, .now = now,
				   .quota = quota, .done = wait_done}};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	*duplicate = 0;
	if (hub_committer_submit(cm, &w.j) != 0) {
		pthread_mutex_destroy(&w.mu);
		pthread_cond_destroy(&w.cv);
		return plumb_err_set(err, PLUMB_E_IO, "the hub is stopping");
	}
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	*duplicate = w.j.duplicate;
	if (w.j.r != 0)
		*err = w.j.err;
	return w.j.r;
}

struct hosts_ctx {
	struct plumb_buf *b;
	time_t now, silent_after;
	const char *filter;
	long long counts[HUB_NSTATUS];
	int n, err;
	/* paging: rows to write at most (0: all), CSV instead of JSON, and the
	 * last written row's sort key, for the next page's cursor */
	int limit, csv, more;
	enum hub_host_sort sort;
	long long last_key;
	char last_host[256];
};

enum { ST_SILENT, ST_DRIFTING, ST_REFUSED, ST_UNPROTECTED, ST_STALE, ST_COMPLIANT };
const char *const hub_statuses[HUB_NSTATUS + 1] = {"silent", "drifting", "refused", "unprotected", "stale",
						   "compliant", NULL};

/* The fleet list is written as JSON text directly: at 10,000 hosts, a tree
 * of jansson objects spent most of its time in malloc. Values come from our
 * own tables (validated on the way in); strings are escaped all the same. */
static int put_str(struct plumb_buf *b, const char *s)
{
	int bad = 0;
	if (!s)
		return plumb_buf_adds(b, "null");
	bad |= plumb_buf_add(b, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch && ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		bad |= plumb_buf_add(b, run, (size_t)(s - run));
		if (!ch)
			break;
		if (ch == '"' || ch == '\\')
			bad |= plumb_buf_addf(b, "\\%c", ch);
		else
			bad |= plumb_buf_addf(b, "\\u%04x", ch);
		run = s + 1;
	}
	return bad | plumb_buf_add(b, "\"", 1);
}

static int put_time(struct plumb_buf *b, const char *v)
{
	char t[21];
	if (!v)
		return plumb_buf_adds(b, "null");
	plumb_time_format(t, (time_t)strtoll(v, NULL, 10));
	return plumb_buf_addf(b, "\"%s\"", t);
}

static int put_int(struct plumb_buf *b, const char *v)
{
	if (!v)
		return plumb_buf_adds(b, "null");
	return plumb_buf_addf(b, "%lld", strtoll(v, NULL, 10));
}

/* One CSV cell, always quoted. A cell a spreadsheet would read as a
 * formula (it starts with = + - @, a tab or a carriage return) gets a
 * leading apostrophe, so an exported host or resource name cannot run. */
static int put_csv(struct plumb_buf *b, const char *s, int last)
{
	int bad = plumb_buf_add(b, "\"", 1);
	if (s && *s && strchr("=+-@\t\r", *s))
		bad |= plumb_buf_add(b, "'", 1);
	for (const char *p = s; p && *p; p++)
		bad |= *p == '"' ? plumb_buf_add(b, "\"\"", 2) : plumb_buf_add(b, p, 1);
	return bad | plumb_buf_adds(b, last ? "\"\r\n" : "\",");
}

static int put_csv_time(struct plumb_buf *b, const char *v)
{
	char t[21] = "";
	if (v)
		plumb_time_format(t, (time_t)strtoll(v, NULL, 10));
	return put_csv(b, t, 0);
}

const char hub_hosts_csv_header[] = "host,status,reason,first_seen,last_seen,last_report,commit,serial,signer,"
				    "fingerprint,stale,mode,agent_version,unresolved,last_drift_at,reports,events,"
				    "reverted,failed\r\n";

static int host_csv(struct plumb_buf *b, const char *const *v, int st, const char *why, int stale)
{
	int bad = put_csv(b, v[0], 0) | put_csv(b, hub_statuses[st], 0) | put_csv(b, why, 0);
	bad |= put_csv_time(b, v[1]) | put_csv_time(b, v[2]) | put_csv(b, v[3], 0) | put_csv(b, v[4], 0);
	bad |= put_csv(b, v[5], 0) | put_csv(b, v[6], 0) | put_csv(b, v[7], 0) | put_csv(b, stale ? "true" : "false", 0);
	bad |= put_csv(b, v[9], 0) | put_csv(b, v[10], 0) | put_csv(b, v[11], 0) | put_csv_time(b, v[12]);
	bad |= put_csv(b, v[13], 0) | put_csv(b, v[14], 0) | put_csv(b, v[15], 0) | put_csv(b, v[16], 1);
	return bad;
}

static int host_row(void *ctx, int n, const char *const *v)
{
	struct hosts_ctx *h = ctx;
	struct plumb_buf *b = h->b;
	int bad = 0;
	if (n < 19)
		return 0;
	time_t last_seen = (time_t)strtoll(v[2], NULL, 10);
	int stale = v[8] && !strcmp(v[8], "1");
	long long unres = strtoll(v[11], NULL, 10);
	char why[HUB_REASON_MAX + 64] = "";
	int st;
	if (h->now - last_seen > h->silent_after) {
		st = ST_SILENT;
		/* a time, not an age: the answer (and its ETag) stays the same
		 * while nothing changes */
		char t[21];
		plumb_time_format(t, last_seen);
		snprintf(why, sizeof(why), "no report since %s", t);
	} else if (unres > 0) {
		st = ST_DRIFTING;
		snprintf(why, sizeof(why), "%lld unresolved in the newest report", unres);
	} else if (v[17]) {
		st = ST_REFUSED;
		snprintf(why, sizeof(why), "%s", v[17]);
	} else if (v[18]) {
		st = ST_UNPROTECTED;
		snprintf(why, sizeof(why), "%s", v[18]);
	} else if (stale) {
		st = ST_STALE;
		snprintf(why, sizeof(why), "the baseline expired");
	} else {
		st = ST_COMPLIANT;
	}
	h->counts[st]++;
	if (h->filter && strcmp(h->filter, hub_statuses[st]))
		return 0;
	if (h->limit && h->n >= h->limit) { /* the extra row only says there is a next page */
		h->more = 1;
		return 1;
	}
	h->last_key = h->sort == HUB_SORT_LAST_SEEN ? (long long)last_seen : h->sort == HUB_SORT_STATUS ? st : 0;
	snprintf(h->last_host, sizeof(h->last_host), "%s", v[0]);
	if (h->csv) {
		h->n++;
		if (host_csv(b, v, st, why[0] ? why : NULL, stale)) {
			h->err = PLUMB_E_NOMEM;
			return 1;
		}
		return 0;
	}
	bad |= plumb_buf_adds(b, h->n++ ? ",{\"host\":" : "{\"host\":");
	bad |= put_str(b, v[0]);
	bad |= plumb_buf_addf(b, ",\"status\":\"%s\",\"reason\":", hub_statuses[st]);
	bad |= why[0] ? put_str(b, why) : plumb_buf_adds(b, "null");
	bad |= plumb_buf_adds(b, ",\"first_seen\":");
	bad |= put_time(b, v[1]);
	bad |= plumb_buf_adds(b, ",\"last_seen\":");
	bad |= put_time(b, v[2]);
	bad |= plumb_buf_adds(b, ",\"last_report\":");
	bad |= put_str(b, v[3]);
	bad |= plumb_buf_adds(b, ",\"baseline\":{\"commit\":");
	bad |= put_str(b, v[4]);
	bad |= plumb_buf_adds(b, ",\"serial\":");
	bad |= put_int(b, v[5]);
	bad |= plumb_buf_adds(b, ",\"signer\":");
	bad |= put_str(b, v[6]);
	bad |= plumb_buf_adds(b, ",\"fingerprint\":");
	bad |= put_str(b, v[7]);
	bad |= plumb_buf_addf(b, ",\"stale\":%s},\"mode\":", stale ? "true" : "false");
	bad |= put_str(b, v[9]);
	bad |= plumb_buf_adds(b, ",\"agent_version\":");
	bad |= put_str(b, v[10]);
	bad |= plumb_buf_addf(b, ",\"drifting\":%s,\"unresolved\":", st == ST_DRIFTING ? "true" : "false");
	bad |= put_int(b, v[11]);
	bad |= plumb_buf_adds(b, ",\"last_drift_at\":");
	bad |= put_time(b, v[12]);
	bad |= plumb_buf_adds(b, ",\"counts\":{\"reports\":");
	bad |= put_int(b, v[13]);
	bad |= plumb_buf_adds(b, ",\"events\":");
	bad |= put_int(b, v[14]);
	bad |= plumb_buf_adds(b, ",\"reverted\":");
	bad |= put_int(b, v[15]);
	bad |= plumb_buf_adds(b, ",\"failed\":");
	bad |= put_int(b, v[16]);
	bad |= plumb_buf_adds(b, "}}");
	if (bad) { /* a failed append leaves the buffer as it was: stop here */
		h->err = PLUMB_E_NOMEM;
		return 1;
	}
	return 0;
}

int hub_store_hosts(struct hub_conn *c, time_t now, time_t silent_after, const char *status_filter, char **out,
		    size_t *len, struct plumb_err *err)
{
	struct plumb_buf b;
	struct hosts_ctx h = {.b = &b, .now = now, .silent_after = silent_after, .filter = status_filter};
	int r;
	plumb_buf_init(&b, HUB_HOSTS_JSON_MAX);
	plumb_buf_adds(&b, "{\"hosts\":[");
	r = hub_conn_exec(c,
			  "SELECT host, first_seen, last_seen, last_report, commit_id, serial, signer, fingerprint,"
			  " stale, mode, agent_version, unresolved, last_drift_at, reports, events, reverted, failed,"
			  " refused, unprotected FROM hosts ORDER BY host",
			  0, NULL, host_row, &h, NULL, err);
	if (h.err)
		r = plumb_err_set(err, h.err, "the host list does not fit in memory");
	if (r == 0) {
		long long total = 0;
		plumb_buf_adds(&b, "],\"summary\":{");
		for (int i = 0; i < HUB_NSTATUS; i++) {
			plumb_buf_addf(&b, "\"%s\":%lld,", hub_statuses[i], h.counts[i]);
			total += h.counts[i];
		}
		plumb_buf_addf(&b, "\"total\":%lld},\"silent_after\":%lld}", total, (long long)silent_after);
		if (!(*out = plumb_buf_detach(&b, len)))
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	plumb_buf_release(&b);
	return r;
}

static int count_row(void *ctx, int n, const char *const *v)
{
	long long *counts = ctx;
	if (n < 2 || !v[0] || !v[1])
		return 0;
	long long r = strtoll(v[0], NULL, 10);
	if (r >= 0 && r < HUB_NSTATUS)
		counts[r] += strtoll(v[1], NULL, 10);
	return 0;
}

int hub_store_status_counts(struct hub_conn *c, time_t now, time_t silent_after, long long counts[HUB_NSTATUS],
			    struct plumb_err *err)
{
	char s_cut[24];
	NUM(s_cut, now - silent_after);
	const char *p[] = {s_cut};
	for (int i = 0; i < HUB_NSTATUS; i++)
		counts[i] = 0;
	/* One pass, no rows out: the rank kept at ingest, silence by the clock. */
	return hub_conn_exec(c,
			     "SELECT CASE WHEN last_seen < $1 THEN 0 ELSE base_rank END AS r, COUNT(*) FROM hosts GROUP BY r",
			     1, p, count_row, counts, NULL, err);
}

#define HOST_COLS                                                                                         \
	"host, first_seen, last_seen, last_report, commit_id, serial, signer, fingerprint, stale, mode,"  \
	" agent_version, unresolved, last_drift_at, reports, events, reverted, failed, refused, unprotected"
/* Appends a number parameter (nums holds its text). */
#define PUSHNUM(v)                       \
	do {                             \
		NUM(nums[np], (v));      \
		p[np] = nums[np];        \
		np++;                    \
	} while (0)
#define RANK_EXPR "(CASE WHEN last_seen < $1 THEN 0 ELSE base_rank END)"

/* The WHERE clause of a host query, from fixed fragments; every value is a
 * parameter ($1 is always the silence cut-off). with_cursor adds the page
 * cursor. Returns the parameter count, or -1 if sql is too small. */
static int host_where(char *sql, size_t cap, int *len, const struct hub_host_query *q, int with_cursor,
		      const char *p[], char (*nums)[24], time_t now, time_t silent_after)
{
	int np = 0;
	NUM(nums[0], now - silent_after);
	p[np++] = nums[0];
#define ADD(...)                                                                     \
	do {                                                                         \
		*len += snprintf(sql + *len, cap - (size_t)*len, __VA_ARGS__);      \
		if ((size_t)*len >= cap)                                            \
			return -1;                                                  \
	} while (0)
	/* (always true; it gives $1 a type where nothing else uses it) */
	ADD(" WHERE CAST($1 AS BIGINT) > 0");
	if (q->status == 1)
		ADD(" AND last_seen < $1");
	else if (q->status > 1) {
		PUSHNUM(q->status - 1);
		ADD(" AND last_seen >= $1 AND base_rank = CAST($%d AS INTEGER)", np);
	}
	if (q->contains_like) {
		p[np++] = q->contains_like;
		ADD(" AND LOWER(host) LIKE $%d ESCAPE '\\'", np);
	}
	if (q->commit) {
		p[np++] = q->commit;
		ADD(" AND commit_id = $%d", np);
	}
	if (q->has_serial) {
		PUSHNUM(q->serial);
		ADD(" AND serial = CAST($%d AS BIGINT)", np);
	}
	if (q->has_serial_below) {
		PUSHNUM(q->serial_below);
		ADD(" AND (serial IS NULL OR serial < CAST($%d AS BIGINT))", np);
	}
	if (q->changed_since) {
		PUSHNUM(q->changed_since);
		ADD(" AND last_seen >= CAST($%d AS BIGINT)", np);
	}
	if (with_cursor && q->cursor_host) {
		const char *op = q->desc ? "<" : ">";
		p[np++] = q->cursor_host;
		int ih = np;
		if (q->sort == HUB_SORT_HOST) {
			ADD(" AND host %s $%d", op, ih);
		} else {
			PUSHNUM(q->cursor_key);
			const char *k = q->sort == HUB_SORT_LAST_SEEN ? "last_seen" : RANK_EXPR;
			ADD(" AND (%s %s CAST($%d AS BIGINT) OR (%s = CAST($%d AS BIGINT) AND host %s $%d))", k, op, np, k,
			    np, op, ih);
		}
	}
#undef ADD
	return np;
}

/* One query of a page: rows of q (sorted by q->sort) into h, at most want
 * + 1 (the extra one only says there are more). */
static int page_query(struct hub_conn *c, time_t now, time_t silent_after, const struct hub_host_query *q, int want,
		      struct hosts_ctx *h, struct plumb_err *err)
{
	char sql[1536], nums[12][24];
	const char *p[12];
	int len = snprintf(sql, sizeof(sql), "SELECT " HOST_COLS " FROM hosts");
	int np = host_where(sql, sizeof(sql), &len, q, 1, p, nums, now, silent_after);
	if (np < 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	const char *dir = q->desc ? "DESC" : "ASC";
	const char *key = q->sort == HUB_SORT_LAST_SEEN ? "last_seen" : q->sort == HUB_SORT_STATUS ? RANK_EXPR : NULL;
	PUSHNUM(want + 1);
	if (key)
		len += snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY %s %s, host %s LIMIT CAST($%d AS INTEGER)",
				key, dir, dir, np);
	else
		len += snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY host %s LIMIT CAST($%d AS INTEGER)", dir, np);
	if ((size_t)len >= sizeof(sql))
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	int r = hub_conn_exec(c, sql, np, p, host_row, h, NULL, err);
	if (h->err)
		return plumb_err_set(err, h->err, "the host page does not fit in memory");
	if (r == 1 && h->more)
		r = 0;
	return r;
}

int hub_store_hosts_page(struct hub_conn *c, time_t now, time_t silent_after, const struct hub_host_query *q,
			 struct plumb_buf *out, struct hub_page *pg, struct plumb_err *err)
{
	struct hosts_ctx h = {.b = out, .now = now, .silent_after = silent_after, .limit = q->limit, .csv = q->csv,
			      .sort = q->sort};
	int r = 0;
	if (q->sort != HUB_SORT_STATUS) {
		r = page_query(c, now, silent_after, q, q->limit, &h, err);
	} else {
		/* By status: one status at a time, each by host along an index
		 * (base_rank, host), rather than ordering the whole fleet by a
		 * computed rank on every request. */
		for (int i = 0; i < HUB_NSTATUS && r == 0 && !h.more; i++) {
			int rank = q->desc ? HUB_NSTATUS - 1 - i : i;
			struct hub_host_query sub = *q;
			if (q->status && q->status != rank + 1)
				continue;
			if (q->cursor_host) {
				if (q->desc ? rank > q->cursor_key : rank < q->cursor_key)
					continue;
				if (rank != q->cursor_key)
					sub.cursor_host = NULL;
			}
			sub.status = rank + 1;
			sub.sort = HUB_SORT_HOST;
			r = page_query(c, now, silent_after, &sub, q->limit - h.n, &h, err);
		}
	}
	if (r != 0)
		return r;
	pg->rows = h.n;
	pg->more = h.more;
	pg->last_key = h.last_key;
	snprintf(pg->last_host, sizeof(pg->last_host), "%s", h.last_host);
	return 0;
}

static int one_count(void *ctx, int n, const char *const *v)
{
	if (n > 0 && v[0])
		*(long long *)ctx = strtoll(v[0], NULL, 10);
	return 0;
}

int hub_store_hosts_count(struct hub_conn *c, time_t now, time_t silent_after, const struct hub_host_query *q,
			  long long *total, struct plumb_err *err)
{
	char sql[1024], nums[12][24];
	const char *p[12];
	int len = snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM hosts");
	int np = host_where(sql, sizeof(sql), &len, q, 0, p, nums, now, silent_after);
	if (np < 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	*total = 0;
	return hub_conn_exec(c, sql, np, p, one_count, total, NULL, err);
}

static json_t *time_or_null(const char *v)
{
	char t[21];
	if (!v)
		return json_null();
	plumb_time_format(t, (time_t)strtoll(v, NULL, 10));
	return json_string(t);
}

struct events_ctx {
	json_t *list;
	struct plumb_buf *csv;
	long long last_seq, first_seq;
	size_t bytes; /* of the stored event texts taken so far */
	int rows, limit, nomem, full;
};

const char hub_events_csv_header[] = "seq,at,host,resource,action,drift,error,report,received_at,ack_by,ack_at,"
				     "ack_note\r\n";

static int event_csv(struct plumb_buf *b, json_t *o, const char *const *v)
{
	char drift[1024] = "";
	size_t i, dl = 0;
	json_t *d;
	json_array_foreach(json_object_get(o, "drift"), i, d) {
		int w = snprintf(drift + dl, sizeof(drift) - dl, "%s%s", i ? " " : "", json_string_value(d) ? json_string_value(d) : "");
		if (w < 0 || (size_t)w >= sizeof(drift) - dl)
			break;
		dl += (size_t)w;
	}
	int bad = put_csv(b, v[0], 0) | put_csv(b, json_string_value(json_object_get(o, "at")), 0);
	bad |= put_csv(b, v[2], 0) | put_csv(b, json_string_value(json_object_get(o, "resource")), 0);
	bad |= put_csv(b, json_string_value(json_object_get(o, "action")), 0) | put_csv(b, drift, 0);
	bad |= put_csv(b, json_string_value(json_object_get(o, "error")), 0) | put_csv(b, v[1], 0);
	bad |= put_csv_time(b, v[3]) | put_csv(b, v[5], 0) | put_csv_time(b, v[6]) | put_csv(b, v[7], 1);
	return bad;
}

static int event_row(void *ctx, int n, const char *const *v)
{
	struct events_ctx *e = ctx;
	if (n < 8)
		return 0;
	if (++e->rows > e->limit) /* the extra row only says there is a next page */
		return 1;
	/* Bounded in bytes too: a page ends early rather than grow past the
	 * cap; its "next" continues from here. One event always fits. */
	size_t n_text = strlen(v[4]) + strlen(v[1]) + strlen(v[2]) + (v[7] ? strlen(v[7]) : 0) + 160;
	if (e->rows > 1 && e->bytes + n_text > HUB_EVENTS_BYTES_MAX) {
		e->full = 1;
		return 1;
	}
	e->bytes += n_text;
	json_t *o = json_loads(v[4], 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	e->last_seq = strtoll(v[0], NULL, 10);
	if (e->rows == 1)
		e->first_seq = e->last_seq;
	if (e->csv) {
		int bad = event_csv(e->csv, o, v);
		json_decref(o);
		if (bad) {
			e->nomem = 1;
			return 1;
		}
		return 0;
	}
	json_object_set_new(o, "seq", json_integer(e->last_seq));
	json_object_set_new(o, "report", json_string(v[1]));
	json_object_set_new(o, "host", json_string(v[2]));
	json_object_set_new(o, "received_at", time_or_null(v[3]));
	json_object_set_new(o, "ack", v[5] ? json_pack("{s:s,s:o,s:s?}", "by", v[5], "at", time_or_null(v[6]), "note", v[7])
					   : json_null());
	if (json_array_append_new(e->list, o) != 0) {
		e->nomem = 1;
		return 1;
	}
	return 0;
}

/* The WHERE clause of an event query (fixed fragments, values as
 * parameters). Returns the parameter count, or -1. */
static int event_where(char *sql, size_t cap, int *len, const struct hub_event_query *q, int with_cursor,
		       const char *p[], char (*nums)[24])
{
	int np = 0;
#define ADD(...)                                                                     \
	do {                                                                         \
		*len += snprintf(sql + *len, cap - (size_t)*len, __VA_ARGS__);      \
		if ((size_t)*len >= cap)                                            \
			return -1;                                                  \
	} while (0)
	ADD(" WHERE 1 = 1");
	if (q->host) {
		p[np++] = q->host;
		ADD(" AND host = $%d", np);
	}
	if (q->resource) {
		p[np++] = q->resource;
		ADD(" AND resource = $%d", np);
	}
	if (q->resource_prefix) {
		/* substr and LENGTH count characters in both engines */
		p[np++] = q->resource_prefix;
		ADD(" AND SUBSTR(resource, 1, LENGTH($%d)) = $%d", np, np);
	}
	if (q->action) {
		p[np++] = q->action;
		ADD(" AND action = $%d", np);
	}
	if (q->since) {
		PUSHNUM(q->since);
		ADD(" AND at >= CAST($%d AS BIGINT)", np);
	}
	if (q->until) {
		PUSHNUM(q->until);
		ADD(" AND at < CAST($%d AS BIGINT)", np);
	}
	if (q->acked == 1)
		ADD(" AND ack_by IS NULL");
	else if (q->acked == 2)
		ADD(" AND ack_by IS NOT NULL");
	if (q->after) {
		PUSHNUM(q->after);
		ADD(" AND seq > CAST($%d AS BIGINT)", np);
	}
	if (with_cursor && q->before) {
		PUSHNUM(q->before);
		ADD(" AND seq < CAST($%d AS BIGINT)", np);
	}
#undef ADD
	return np;
}

static int count_capped(struct hub_conn *c, const struct hub_event_query *q, long long *total, struct plumb_err *err)
{
	char sql[1024], nums[12][24];
	const char *p[12];
	int len = snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM (SELECT 1 FROM events");
	int np = event_where(sql, sizeof(sql), &len, q, 0, p, nums);
	if (np < 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	PUSHNUM(HUB_EVENTS_COUNT_MAX + 1);
	len += snprintf(sql + len, sizeof(sql) - (size_t)len, " LIMIT CAST($%d AS INTEGER)) x", np);
	if ((size_t)len >= sizeof(sql))
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	*total = 0;
	return hub_conn_exec(c, sql, np, p, one_count, total, NULL, err);
}

int hub_store_events(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err)
{
	char sql[1536], nums[12][24];
	const char *p[12];
	int r;
	struct events_ctx e = {.list = json_array(), .limit = q->limit, .csv = q->csv};
	if (!e.list)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	int len = snprintf(sql, sizeof(sql),
			   "SELECT seq, report_id, host, received_at, body, ack_by, ack_at, ack_note FROM events");
	int np = event_where(sql, sizeof(sql), &len, q, 1, p, nums);
	if (np < 0) {
		json_decref(e.list);
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	}
	PUSHNUM(q->limit + 1);
	len += snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY seq DESC LIMIT CAST($%d AS INTEGER)", np);
	r = hub_conn_exec(c, sql, np, p, event_row, &e, NULL, err);
	if (r == 1 && !e.nomem) /* stopped early: the page is full */
		r = 0;
	if (e.nomem)
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	long long total = -1;
	if (r == 0 && q->count)
		r = count_capped(c, q, &total, err);
	if (r != 0) {
		json_decref(e.list);
		return r;
	}
	*out = json_object();
	json_object_set_new(*out, "events", e.list);
	json_object_set_new(*out, "next", e.rows > e.limit || e.full ? json_integer(e.last_seq) : json_null());
	/* the newest seq on this page: ask "after" it for what is new */
	json_object_set_new(*out, "newest", e.rows ? json_integer(e.first_seq) : json_null());
	if (total >= 0) {
		json_object_set_new(*out, "total", json_integer(total > HUB_EVENTS_COUNT_MAX ? HUB_EVENTS_COUNT_MAX : total));
		json_object_set_new(*out, "total_exact", json_boolean(total <= HUB_EVENTS_COUNT_MAX));
	}
	return 0;
}

struct hist_ctx {
	json_t *buckets;
	int nomem;
};

static int hist_row(void *ctx, int n, const char *const *v)
{
	struct hist_ctx *h = ctx;
	if (n < 3 || !v[0] || !v[1] || !v[2])
		return 0;
	char t[21];
	plumb_time_format(t, (time_t)strtoll(v[0], NULL, 10));
	json_t *last = json_array_get(h->buckets, json_array_size(h->buckets) - 1);
	if (!last || strcmp(json_string_value(json_object_get(last, "hour")), t)) {
		last = json_pack("{s:s,s:{}}", "hour", t, "actions");
		if (!last || json_array_append_new(h->buckets, last) != 0) {
			h->nomem = 1;
			return 1;
		}
	}
	json_object_set_new(json_object_get(last, "actions"), v[1], json_integer(strtoll(v[2], NULL, 10)));
	return 0;
}

int hub_store_histogram(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err)
{
	char sql[1024], nums[12][24];
	const char *p[12];
	struct hist_ctx h = {.buckets = json_array()};
	if (!h.buckets)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	int len = snprintf(sql, sizeof(sql), "SELECT (at / 3600) * 3600 AS hour, action, COUNT(*) FROM events");
	int np = event_where(sql, sizeof(sql), &len, q, 0, p, nums);
	if (np < 0) {
		json_decref(h.buckets);
		return plumb_err_set(err, PLUMB_E_INVALID, "query too long");
	}
	len += snprintf(sql + len, sizeof(sql) - (size_t)len, " GROUP BY hour, action ORDER BY hour, action");
	int r = hub_conn_exec(c, sql, np, p, hist_row, &h, NULL, err);
	if (h.nomem)
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if (r != 0) {
		json_decref(h.buckets);
		return r;
	}
	*out = json_pack("{s:o}", "buckets", h.buckets);
	return *out ? 0 : plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
}

struct roll_ctx {
	json_t *groups;
	long long newest;
	int have_newest, n, nomem;
};

static int roll_row(void *ctx, int n, const char *const *v)
{
	struct roll_ctx *rc = ctx;
	if (n < 7)
		return 0;
	if (++rc->n > HUB_ROLLOUT_GROUPS_MAX)
		return 1;
	if (v[0] && !rc->have_newest) {
		rc->newest = strtoll(v[0], NULL, 10);
		rc->have_newest = 1;
	}
	json_t *g = json_pack("{s:o,s:o,s:I,s:I,s:I,s:o,s:o}", "serial",
			      v[0] ? json_integer(strtoll(v[0], NULL, 10)) : json_null(), "commit",
			      v[1] ? json_string(v[1]) : json_null(), "hosts", (json_int_t)strtoll(v[2], NULL, 10),
			      "refused", (json_int_t)strtoll(v[3], NULL, 10), "silent", (json_int_t)strtoll(v[4], NULL, 10),
			      "first_seen", time_or_null(v[5]), "last_seen", time_or_null(v[6]));
	if (!g || json_array_append_new(rc->groups, g) != 0) {
		rc->nomem = 1;
		return 1;
	}
	return 0;
}

int hub_store_rollout(struct hub_conn *c, time_t now, time_t silent_after, json_t **out, struct plumb_err *err)
{
	char s_cut[24];
	struct roll_ctx rc = {.groups = json_array()};
	if (!rc.groups)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	NUM(s_cut, now - silent_after);
	const char *p[] = {s_cut};
	/* NULLs (an unsigned directory has no serial or commit) sort last in
	 * both engines by the CASE keys. */
	int r = hub_conn_exec(c,
			      "SELECT serial, commit_id, COUNT(*), SUM(CASE WHEN base_rank = 2 AND last_seen >= $1 THEN 1"
			      " ELSE 0 END), SUM(CASE WHEN last_seen < $1 THEN 1 ELSE 0 END), MIN(last_seen), MAX(last_seen)"
			      " FROM hosts GROUP BY serial, commit_id ORDER BY CASE WHEN serial IS NULL THEN 1 ELSE 0 END,"
			      " serial DESC, CASE WHEN commit_id IS NULL THEN 1 ELSE 0 END, commit_id",
			      1, p, roll_row, &rc, NULL, err);
	if (rc.nomem)
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if (r != 0 && !(r == 1 && rc.n > HUB_ROLLOUT_GROUPS_MAX)) {
		json_decref(rc.groups);
		return r;
	}
	/* Behind: hosts on an older serial than the newest any host runs (or
	 * on none); refused: hosts whose newest report refused a tip. */
	long long behind = 0;
	size_t i;
	json_t *g;
	json_array_foreach(rc.groups, i, g) {
		json_t *sv = json_object_get(g, "serial");
		if (rc.have_newest && (!json_is_integer(sv) || json_integer_value(sv) < rc.newest))
			behind += json_integer_value(json_object_get(g, "hosts"));
	}
	*out = json_pack("{s:o,s:o,s:I,s:b}", "groups", rc.groups, "newest_serial",
			 rc.have_newest ? json_integer(rc.newest) : json_null(), "behind", (json_int_t)behind,
			 "truncated", rc.n > HUB_ROLLOUT_GROUPS_MAX);
	return *out ? 0 : plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
}

struct ack_ev {
	int found;
	char host[256], resource[512], action[32];
};

static int ack_ev_row(void *ctx, int n, const char *const *v)
{
	struct ack_ev *a = ctx;
	if (n < 3 || !v[0] || !v[1] || !v[2])
		return 0;
	a->found = 1;
	snprintf(a->host, sizeof(a->host), "%s", v[0]);
	snprintf(a->resource, sizeof(a->resource), "%s", v[1]);
	snprintf(a->action, sizeof(a->action), "%s", v[2]);
	return 0;
}

int hub_store_ack(struct hub_conn *c, long long seq, const char *subject, const char *role, const char *note,
		  time_t now, char host[256], char resource[512], struct plumb_err *err)
{
	char s_seq[24], s_now[24];
	struct ack_ev a = {0};
	long changes = 0;
	int r;
	NUM(s_seq, seq);
	NUM(s_now, now);
	if ((r = hub_conn_begin(c, err)) != 0)
		return r;
	const char *sp[] = {s_seq};
	if ((r = hub_conn_exec(c, "SELECT host, resource, action FROM events WHERE seq = CAST($1 AS BIGINT)", 1, sp,
			       ack_ev_row, &a, NULL, err)) != 0)
		goto fail;
	if (!a.found) {
		r = plumb_err_set(err, PLUMB_E_NOTFOUND, "no event %lld", seq);
		goto fail;
	}
	const char *up[] = {s_seq, subject, s_now, note};
	if ((r = hub_conn_exec(c,
			       "UPDATE events SET ack_by = $2, ack_at = CAST($3 AS BIGINT), ack_note = $4"
			       " WHERE seq = CAST($1 AS BIGINT)",
			       4, up, NULL, NULL, &changes, err)) != 0)
		goto fail;
	const char *ip[] = {s_seq, subject, role, s_now, note};
	if ((r = hub_conn_exec(c,
			       "INSERT INTO acks (seq, subject, role, at, note) VALUES (CAST($1 AS BIGINT), $2, $3,"
			       " CAST($4 AS BIGINT), $5)",
			       5, ip, NULL, NULL, NULL, err)) != 0)
		goto fail;
	snprintf(host, 256, "%s", a.host);
	snprintf(resource, 512, "%s", a.resource);
	return hub_conn_commit(c, err);
fail:
	hub_conn_rollback(c);
	return r;
}

static int audit_row(void *ctx, int n, const char *const *v)
{
	json_t *list = ctx;
	if (n < 6)
		return 0;
	json_t *o = json_pack("{s:I,s:I,s:s?,s:s?,s:o,s:s?}", "id", (json_int_t)strtoll(v[0], NULL, 10), "event",
			      (json_int_t)strtoll(v[1], NULL, 10), "by", v[2], "role", v[3], "at", time_or_null(v[4]),
			      "note", v[5]);
	return !o || json_array_append_new(list, o) != 0 ? PLUMB_E_NOMEM : 0;
}

int hub_store_audit(struct hub_conn *c, long long before, int limit, json_t **out, struct plumb_err *err)
{
	char s_before[24], s_limit[24];
	json_t *list = json_array();
	if (!list)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	NUM(s_before, before ? before : INT64_MAX);
	NUM(s_limit, limit);
	const char *p[] = {s_before, s_limit};
	int r = hub_conn_exec(c,
			      "SELECT id, seq, subject, role, at, note FROM acks WHERE id < CAST($1 AS BIGINT)"
			      " ORDER BY id DESC LIMIT CAST($2 AS INTEGER)",
			      2, p, audit_row, list, NULL, err);
	if (r != 0) {
		json_decref(list);
		return r == PLUMB_E_NOMEM ? plumb_err_set(err, r, "out of memory") : r;
	}
	*out = json_pack("{s:o}", "acks", list);
	return 0;
}

static int body_row(void *ctx, int n, const char *const *v)
{
	char **out = ctx;
	if (n < 1 || !v[0] || *out)
		return 0;
	if (!(*out = strdup(v[0])))
		return PLUMB_E_NOMEM;
	return 0;
}

int hub_store_report(struct hub_conn *c, const char *id, const char *host, char **out, struct plumb_err *err)
{
	const char *p[] = {id, host};
	int r;
	*out = NULL;
	/* Ids are unique per host; without a host the first received wins. */
	if ((r = hub_conn_exec(c,
			       host ? "SELECT body FROM reports WHERE id = $1 AND host = $2"
				    : "SELECT body FROM reports WHERE id = $1 ORDER BY received_at LIMIT 1",
			       host ? 2 : 1, p, body_row, out, NULL, err)) != 0) {
		free(*out);
		*out = NULL;
		return r == PLUMB_E_NOMEM ? plumb_err_set(err, r, "out of memory") : r;
	}
	if (!*out)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "no report '%s'", id);
	return 0;
}

int hub_store_prune(struct hub_conn *c, time_t cutoff, long *events, long *reports, struct plumb_err *err)
{
	char s_cut[24];
	int r;
	NUM(s_cut, cutoff);
	const char *p[] = {s_cut};
	if ((r = hub_conn_begin(c, err)) != 0)
		return r;
	if ((r = hub_conn_exec(c, "DELETE FROM events WHERE received_at < $1", 1, p, NULL, NULL, events, err)) != 0 ||
	    (r = hub_conn_exec(c, "DELETE FROM reports WHERE received_at < $1", 1, p, NULL, NULL, reports, err)) != 0 ||
	    ((*events || *reports) &&
	     (r = hub_conn_exec(c,
				"UPDATE hosts SET stored_bytes = COALESCE((SELECT SUM(body_bytes) FROM reports"
				" WHERE reports.host = hosts.host), 0)",
				0, NULL, NULL, NULL, NULL, err)) != 0)) {
		hub_conn_rollback(c);
		return r;
	}
	if ((r = hub_conn_commit(c, err)) != 0)
		return r;
	/* Pruned text must leave the file too (secure_delete zeroes freed
	 * pages; the checkpoint moves them out of the WAL). */
	if (*events || *reports)
		hub_conn_checkpoint(c);
	return 0;
}
