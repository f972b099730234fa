/* db.c - the SQLite and PostgreSQL engines behind hub_conn_exec, a pool of
 * connections, and the schema migrations both engines share. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../src/banned.h"

enum engine { ENG_SQLITE, ENG_PG };

/* SQLite statements are prepared once per connection, keyed by their text
 * (queries are literals or built from a fixed set of fragments). */
#define STMT_CACHE 160

struct hub_conn {
	enum engine eng;
	int busy;
	sqlite3 *lite;
	struct {
		char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	PGconn *pg;
	/* PostgreSQL statements prepared on this connection (named "p<i>"),
	 * keyed by their text; forgotten when the connection is reset. */
	char *pgcache[STMT_CACHE];
};

struct hub_db {
	enum engine eng;
	int n;
	struct hub_conn *conns;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Migrations: step i brings the schema from version i to i+1. Where the
 * engines' dialects differ, "@SERIAL@" names the auto-increment key. */
static const char *const migrations[] = {
	"CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT NOT NULL,"
	" created_at BIGINT NOT NULL, revoked_at BIGINT);"
	"CREATE TABLE hosts (host TEXT PRIMARY KEY, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
	" last_finished BIGINT NOT NULL DEFAULT 0, last_report TEXT, commit_id TEXT, serial BIGINT,"
	" signer TEXT, fingerprint TEXT, stale INTEGER NOT NULL DEFAULT 0, mode TEXT, agent_version TEXT,"
	" unresolved INTEGER NOT NULL DEFAULT 0, last_drift_at BIGINT,"
	" reports BIGINT NOT NULL DEFAULT 0, events BIGINT NOT NULL DEFAULT 0,"
	" reverted BIGINT NOT NULL DEFAULT 0, failed BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE reports (id TEXT PRIMARY KEY, host TEXT NOT NULL, received_at BIGINT NOT NULL,"
	" finished_at BIGINT NOT NULL, commit_id TEXT, serial BIGINT, nevents INTEGER NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE INDEX reports_received ON reports (received_at);"
	"CREATE INDEX reports_host ON reports (host, finished_at);"
	"CREATE TABLE events (seq @SERIAL@, report_id TEXT NOT NULL, host TEXT NOT NULL,"
	" received_at BIGINT NOT NULL, at BIGINT NOT NULL, resource TEXT NOT NULL, action TEXT NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE INDEX events_host ON events (host, seq);"
	"CREATE INDEX events_received ON events (received_at);"
	"CREATE INDEX events_at ON events (at);"
	"CREATE INDEX events_report ON events (report_id);",
	/* 2: report ids are unique per host, not fleet-wide (a host cannot
	 * shadow another's report by reusing its id); each report's size is
	 * kept for the per-host quota; hosts carry why they are refused or
	 * unprotected. */
	"CREATE TABLE reports_v2 (id TEXT NOT NULL, host TEXT NOT NULL, received_at BIGINT NOT NULL,"
	" finished_at BIGINT NOT NULL, commit_id TEXT, serial BIGINT, nevents INTEGER NOT NULL,"
	" body TEXT NOT NULL, body_bytes BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (host, id));"
	"INSERT INTO reports_v2 (id, host, received_at, finished_at, commit_id, serial, nevents, body, body_bytes)"
	" SELECT id, host, received_at, finished_at, commit_id, serial, nevents, body, LENGTH(body) FROM reports;"
	"DROP TABLE reports;"
	"ALTER TABLE reports_v2 RENAME TO reports;"
	"CREATE INDEX reports_received ON reports (received_at);"
	"CREATE INDEX reports_id ON reports (id);"
	"CREATE INDEX events_host_report ON events (host, report_id);"
	"ALTER TABLE hosts ADD COLUMN refused TEXT;"
	"ALTER TABLE hosts ADD COLUMN unprotected TEXT;"
	"ALTER TABLE hosts ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;"
	"UPDATE hosts SET stored_bytes = COALESCE((SELECT SUM(body_bytes) FROM reports"
	" WHERE reports.host = hosts.host), 0);",
	/* 3: the run a host's newest report belongs to: the parts of one run
	 * (an agent splits a big run under a byte cap) decide its state
	 * together, so a later part without failures cannot hide an earlier
	 * part's. */
	"ALTER TABLE hosts ADD COLUMN last_run TEXT;",
	/* 4: alerts (hub/alerts.c). alert_state holds each open alert, one per
	 * host + alertname + resource ("" for host-wide ones); alert_outbox
	 * each delivery still to make, written in the transaction of the
	 * state change that caused it, claimed by a lease before it is sent
	 * (two hubs on one database never send one row at once);
	 * alert_counters what was dropped, so no drop is silent. */
	"CREATE TABLE alert_state (host TEXT NOT NULL, alertname TEXT NOT NULL, resource TEXT NOT NULL,"
	" status TEXT NOT NULL, summary TEXT NOT NULL, run_id TEXT, started_at BIGINT NOT NULL,"
	" repeat_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (host, alertname, resource));"
	"CREATE INDEX alert_state_repeat ON alert_state (repeat_at);"
	"CREATE TABLE alert_outbox (id @SERIAL@, receiver TEXT NOT NULL, host TEXT NOT NULL,"
	" alertname TEXT NOT NULL, resource TEXT NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL,"
	" summary TEXT NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT, created_at BIGINT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, lease_until BIGINT NOT NULL DEFAULT 0,"
	" lease_owner TEXT, last_error TEXT);"
	"CREATE INDEX alert_outbox_due ON alert_outbox (next_at);"
	"CREATE INDEX alert_outbox_key ON alert_outbox (receiver, host, alertname, resource, id);"
	"CREATE TABLE alert_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);",
	/* 5 (the fleet page, issue 19): each host's status but silence kept
	 * as a rank (1 drifting .. 5 compliant; silence depends on the clock
	 * and is decided per query), indexes for paging and sorting hosts and
	 * searching events, acknowledgements (the newest on the event, every
	 * one in acks, the audit trail) and browser sessions. */
	"ALTER TABLE hosts ADD COLUMN base_rank INTEGER NOT NULL DEFAULT 5;"
	"UPDATE hosts SET base_rank = CASE WHEN unresolved > 0 THEN 1 WHEN refused IS NOT NULL THEN 2"
	" WHEN unprotected IS NOT NULL THEN 3 WHEN stale = 1 THEN 4 ELSE 5 END;"
	"CREATE INDEX hosts_rank ON hosts (base_rank, host);"
	"CREATE INDEX hosts_last_seen ON hosts (last_seen, host);"
	"CREATE INDEX hosts_serial ON hosts (serial, host);"
	"CREATE INDEX events_resource ON events (resource, seq);"
	"CREATE INDEX events_action ON events (action, seq);"
	"ALTER TABLE events ADD COLUMN ack_by TEXT;"
	"ALTER TABLE events ADD COLUMN ack_at BIGINT;"
	"ALTER TABLE events ADD COLUMN ack_note TEXT;"
	"CREATE TABLE acks (id @SERIAL@, seq BIGINT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL,"
	" at BIGINT NOT NULL, note TEXT NOT NULL);"
	"CREATE INDEX acks_seq ON acks (seq);"
	"CREATE TABLE sessions (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, csrf TEXT NOT NULL,"
	" created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);"
	"CREATE INDEX sessions_token ON sessions (token_hash);"
	"CREATE INDEX sessions_expires ON sessions (expires_at);",
};

int hub_db_schema_version(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

const char *hub_db_engine(const struct hub_db *db)
{
	return db->eng == ENG_PG ? "postgresql" : "sqlite";
}

/* ---- SQLite ---- */

static sqlite3_stmt *lite_prepare(struct hub_conn *c, const char *sql, int *cached, struct plumb_err *err)
{
	for (int i = 0; i < STMT_CACHE && c->cache[i].sql; i++)
		if (!strcmp(c->cache[i].sql, sql)) {
			*cached = 1;
			return c->cache[i].st;
		}
	/* "$1" (PostgreSQL) becomes "?1" (SQLite's numbered parameter). */
	size_t n = strlen(sql);
	char *t = malloc(n + 1);
	if (!t) {
		plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i <= n; i++)
		t[i] = (sql[i] == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9') ? '?' : sql[i];
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(c->lite, t, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	free(t);
	if (rc != SQLITE_OK) {
		plumb_err_set(err, PLUMB_E_IO, "sqlite: %s", sqlite3_errmsg(c->lite));
		return NULL;
	}
	*cached = 0;
	for (int i = 0; i < STMT_CACHE; i++)
		if (!c->cache[i].sql) {
			if (!(c->cache[i].sql = strdup(sql)))
				break;
			c->cache[i].st = st;
			*cached = 1;
			break;
		}
	return st;
}

static int lite_exec(struct hub_conn *c, const char *sql, int np, const char *const *p, hub_row_fn row,
		     void *ctx, long *changes, struct plumb_err *err)
{
	int cached, r = 0;
	sqlite3_stmt *st = lite_prepare(c, sql, &cached, err);
	if (!st)
		return err ? err->code : PLUMB_E_IO;
	for (int i = 0; i < np; i++) {
		int rc = p[i] ? sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC)
			      : sqlite3_bind_null(st, i + 1);
		if (rc != SQLITE_OK) {
			r = plumb_err_set(err, PLUMB_E_IO, "sqlite: bind: %s", sqlite3_errmsg(c->lite));
			goto out;
		}
	}
	for (;;) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			r = plumb_err_set(err, PLUMB_E_IO, "sqlite: %s", sqlite3_errmsg(c->lite));
			goto out;
		}
		if (!row)
			continue;
		int nc = sqlite3_column_count(st);
		const char *vals[64];
		if (nc > 64)
			nc = 64;
		for (int i = 0; i < nc; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		if ((r = row(ctx, nc, vals)) != 0)
			goto out;
	}
	if (changes)
		*changes = sqlite3_changes(c->lite);
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!cached)
		sqlite3_finalize(st);
	return r;
}

static int lite_script(struct hub_conn *c, const char *sql, struct plumb_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(c->lite, sql, NULL, NULL, &msg) != SQLITE_OK) {
		plumb_err_set(err, PLUMB_E_IO, "sqlite: %s", msg ? msg : sqlite3_errmsg(c->lite));
		sqlite3_free(msg);
		return PLUMB_E_IO;
	}
	return 0;
}

/* Creates the file 0600 ourselves (reports name hosts and files). This runs
 * before any connection opens it: closing a descriptor drops every POSIX
 * lock the process holds on the file, SQLite's included. */
static int lite_create(const char *path, struct plumb_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open database '%s'", path);
	close(fd);
	return 0;
}

static int lite_open(struct hub_conn *c, const char *path, struct plumb_err *err)
{
	if (sqlite3_open_v2(path, &c->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		plumb_err_set(err, PLUMB_E_IO, "cannot open database '%s': %s", path,
			      c->lite ? sqlite3_errmsg(c->lite) : "out of memory");
		return PLUMB_E_IO;
	}
	sqlite3_busy_timeout(c->lite, 10000);
	/* WAL lets readers run beside the writer; synchronous=FULL because an
	 * acknowledged report must survive a power cut (the agent deletes it). */
	/* secure_delete: deleted rows (retention) are zeroed, not left in free
	 * pages; set explicitly, whatever SQLite was compiled with. */
	return lite_script(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			      " PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;", err);
}

/* ---- PostgreSQL ---- */

/* Records libpq's last message, without its trailing newline, after what. */
static int pg_fail(PGconn *pg, const char *what, struct plumb_err *err)
{
	const char *m = pg ? PQerrorMessage(pg) : "out of memory";
	return plumb_err_set(err, PLUMB_E_IO, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
}

static void pg_forget(struct hub_conn *c)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		free(c->pgcache[i]);
		c->pgcache[i] = NULL;
	}
}

/* A fresh connection has none of the old one's prepared statements. */
static void pg_reset(struct hub_conn *c)
{
	pg_forget(c);
	PQreset(c->pg);
}

/* The rows of one statement's result to st->row, and its changes. */
static int pg_result_rows(PGresult *res, const struct hub_stmt *st)
{
	int r = 0;
	if (st->row) {
		int nr = PQntuples(res), nc = PQnfields(res);
		if (nc > 64)
			nc = 64;
		for (int i = 0; i < nr && r == 0; i++) {
			const char *vals[64];
			for (int j = 0; j < nc; j++)
				vals[j] = PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j);
			r = st->row(st->ctx, nc, vals);
		}
	}
	if (st->changes)
		*st->changes = atol(PQcmdTuples(res));
	return r;
}

static int pg_exec(struct hub_conn *c, const char *sql, int np, const char *const *p, hub_row_fn row,
		   void *ctx, long *changes, struct plumb_err *err)
{
	int r = 0, slot = -1;
	char name[16];
	PGresult *res = NULL;
	/* Prepared once per connection: the server parses and plans each
	 * statement once, not on every report. */
	for (int i = 0; i < STMT_CACHE; i++) {
		if (c->pgcache[i] && !strcmp(c->pgcache[i], sql)) {
			slot = i;
			break;
		}
		if (!c->pgcache[i]) {
			snprintf(name, sizeof(name), "p%d", i);
			PGresult *pr = PQprepare(c->pg, name, sql, np, NULL);
			int ok = pr && PQresultStatus(pr) == PGRES_COMMAND_OK;
			PQclear(pr);
			if (!ok) {
				r = pg_fail(c->pg, "postgresql", err);
				if (PQstatus(c->pg) == CONNECTION_BAD)
					pg_reset(c);
				return r;
			}
			if ((c->pgcache[i] = strdup(sql)))
				slot = i;
			break;
		}
	}
	if (slot >= 0) {
		snprintf(name, sizeof(name), "p%d", slot);
		res = PQexecPrepared(c->pg, name, np, p, NULL, NULL, 0);
	} else {
		res = PQexecParams(c->pg, sql, np, NULL, p, NULL, NULL, 0);
	}
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		r = pg_fail(c->pg, "postgresql", err);
		if (PQstatus(c->pg) == CONNECTION_BAD)
			pg_reset(c); /* the next request gets a fresh connection */
		goto out;
	}
	{
		const struct hub_stmt st = {.sql = sql, .nparams = np, .params = p, .row = row, .ctx = ctx,
					    .changes = changes};
		r = pg_result_rows(res, &st);
	}
out:
	PQclear(res);
	return r;
}

#define PIPE_MAX HUB_PIPE_MAX

/* hub_conn_exec_many on PostgreSQL: every statement (and the PREPARE of
 * those not prepared yet on this connection) is sent, then one Sync, then
 * the results are read in order: one round trip instead of one each. The
 * server stops at the first error and answers the rest "aborted". */
static int pg_exec_many(struct hub_conn *c, const struct hub_stmt *v, int n, int *failed, struct plumb_err *err)
{
	/* per command sent: its statement, and the cache slot if it is that
	 * statement's PREPARE (else -1) */
	int cmd_stmt[2 * PIPE_MAX], cmd_slot[2 * PIPE_MAX], ncmd = 0, r = 0, bad = n, sent_ok = 1;
	char name[16];
	if (n > PIPE_MAX)
		return plumb_err_set(err, PLUMB_E_INVALID, "postgresql: %d statements in one pipeline", n);
	if (PQenterPipelineMode(c->pg) != 1)
		return pg_fail(c->pg, "postgresql: pipeline", err);
	for (int i = 0; i < n && sent_ok; i++) {
		int slot = -1, fresh = 0;
		for (int k = 0; k < STMT_CACHE; k++) {
			if (c->pgcache[k] && !strcmp(c->pgcache[k], v[i].sql)) {
				slot = k;
				break;
			}
			if (!c->pgcache[k]) {
				if ((c->pgcache[k] = strdup(v[i].sql)))
					slot = k, fresh = 1;
				break;
			}
		}
		if (fresh) {
			snprintf(name, sizeof(name), "p%d", slot);
			if (!(sent_ok = PQsendPrepare(c->pg, name, v[i].sql, v[i].nparams, NULL))) {
				free(c->pgcache[slot]);
				c->pgcache[slot] = NULL;
				break;
			}
			cmd_stmt[ncmd] = i;
			cmd_slot[ncmd++] = slot;
		}
		if (slot >= 0) {
			snprintf(name, sizeof(name), "p%d", slot);
			sent_ok = PQsendQueryPrepared(c->pg, name, v[i].nparams, v[i].params, NULL, NULL, 0);
		} else {
			sent_ok = PQsendQueryParams(c->pg, v[i].sql, v[i].nparams, NULL, v[i].params, NULL, NULL, 0);
		}
		if (sent_ok) {
			cmd_stmt[ncmd] = i;
			cmd_slot[ncmd++] = -1;
		}
	}
	if (!sent_ok) {
		r = pg_fail(c->pg, "postgresql", err);
		bad = 0; /* which one is unknown: none counts as done */
	}
	if (PQpipelineSync(c->pg) != 1) {
		if (r == 0)
			r = pg_fail(c->pg, "postgresql", err), bad = 0;
		pg_reset(c); /* results cannot be read back in step: start afresh */
		goto out;
	}
	for (int k = 0; k < ncmd; k++) {
		PGresult *res = PQgetResult(c->pg);
		ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		int i = cmd_stmt[k];
		if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
			if (cmd_slot[k] < 0 && r == 0 && (r = pg_result_rows(res, &v[i])) != 0)
				bad = i;
		} else {
			if (cmd_slot[k] >= 0) { /* not prepared after all */
				free(c->pgcache[cmd_slot[k]]);
				c->pgcache[cmd_slot[k]] = NULL;
			}
			if (r == 0 && s != PGRES_PIPELINE_ABORTED) {
				const char *m = res ? PQresultErrorMessage(res) : "";
				if (m && *m)
					r = plumb_err_set(err, PLUMB_E_IO, "postgresql: %.*s", (int)strcspn(m, "\n"), m);
				else
					r = pg_fail(c->pg, "postgresql", err);
				bad = i;
			}
		}
		PQclear(res);
		if (!res) { /* the connection is gone */
			if (r == 0)
				r = pg_fail(c->pg, "postgresql", err), bad = i;
			pg_reset(c);
			goto out;
		}
		/* each command's results end with a NULL */
		if ((res = PQgetResult(c->pg)) != NULL) {
			PQclear(res);
			if (r == 0)
				r = plumb_err_set(err, PLUMB_E_IO, "postgresql: unexpected result in a pipeline"), bad = 0;
			pg_reset(c);
			goto out;
		}
	}
	{
		PGresult *res = PQgetResult(c->pg);
		int synced = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
		if (!synced || PQexitPipelineMode(c->pg) != 1) {
			if (r == 0)
				r = pg_fail(c->pg, "postgresql: pipeline", err), bad = 0;
			pg_reset(c);
		}
	}
out:
	if (r != 0 && PQstatus(c->pg) == CONNECTION_BAD)
		pg_reset(c);
	if (failed)
		*failed = r ? bad : n;
	return r;
}

static int pg_open(struct hub_conn *c, const char *uri, struct plumb_err *err)
{
	c->pg = PQconnectdb(uri);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK)
		return pg_fail(c->pg, "cannot connect to postgresql", err);
	PGresult *res = PQexec(c->pg, "SET client_min_messages = warning");
	PQclear(res);
	return 0;
}

/* ---- common ---- */

int hub_conn_exec(struct hub_conn *c, const char *sql, int nparams, const char *const *params,
		  hub_row_fn row, void *ctx, long *changes, struct plumb_err *err)
{
	if (c->eng == ENG_PG)
		return pg_exec(c, sql, nparams, params, row, ctx, changes, err);
	return lite_exec(c, sql, nparams, params, row, ctx, changes, err);
}

int hub_conn_exec_many(struct hub_conn *c, const struct hub_stmt *v, int n, int *failed, struct plumb_err *err)
{
	if (c->eng == ENG_PG && n > 1)
		return pg_exec_many(c, v, n, failed, err);
	for (int i = 0; i < n; i++) {
		int r = hub_conn_exec(c, v[i].sql, v[i].nparams, v[i].params, v[i].row, v[i].ctx, v[i].changes, err);
		if (r != 0) {
			if (failed)
				*failed = i;
			return r;
		}
	}
	if (failed)
		*failed = n;
	return 0;
}

int hub_conn_is_pg(const struct hub_conn *c)
{
	return c->eng == ENG_PG;
}

int hub_conn_begin(struct hub_conn *c, struct plumb_err *err)
{
	/* IMMEDIATE takes SQLite's write lock up front, so two writers queue
	 * on busy_timeout instead of failing a lock upgrade mid-transaction. */
	return hub_conn_exec(c, c->eng == ENG_PG ? "BEGIN" : "BEGIN IMMEDIATE", 0, NULL, NULL, NULL, NULL, err);
}

int hub_conn_commit(struct hub_conn *c, struct plumb_err *err)
{
	int r = hub_conn_exec(c, "COMMIT", 0, NULL, NULL, NULL, NULL, err);
	/* A COMMIT that failed (SQLITE_BUSY, a lost server) may leave the
	 * transaction open: the connection goes back to the pool clean. */
	if (r != 0)
		hub_conn_rollback(c);
	return r;
}

void hub_conn_checkpoint(struct hub_conn *c)
{
	if (c->eng == ENG_SQLITE)
		sqlite3_wal_checkpoint_v2(c->lite, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

void hub_conn_rollback(struct hub_conn *c)
{
	hub_conn_exec(c, "ROLLBACK", 0, NULL, NULL, NULL, NULL, NULL);
}

static int version_row(void *ctx, int n, const char *const *v)
{
	if (n > 0 && v[0])
		*(int *)ctx = atoi(v[0]);
	return 0;
}

static char *migration_text(enum engine eng, const char *m)
{
	const char *serial = eng == ENG_PG ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
	const char *at = strstr(m, "@SERIAL@");
	size_t n = strlen(m) + strlen(serial) + 1;
	char *t = malloc(n);
	if (!t)
		return NULL;
	if (!at) {
		memcpy(t, m, strlen(m) + 1);
		return t;
	}
	snprintf(t, n, "%.*s%s%s", (int)(at - m), m, serial, at + strlen("@SERIAL@"));
	return t;
}

static int script(struct hub_conn *c, const char *sql, struct plumb_err *err)
{
	if (c->eng == ENG_SQLITE)
		return lite_script(c, sql, err);
	PGresult *res = PQexec(c->pg, sql);
	int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	return ok ? 0 : pg_fail(c->pg, "postgresql", err);
}

static int migrate(struct hub_conn *c, struct plumb_err *err)
{
	int r, have = 0, want = hub_db_schema_version();
	if ((r = script(c, "CREATE TABLE IF NOT EXISTS plumb_schema (version INTEGER NOT NULL)", err)) != 0)
		return r;
	if ((r = hub_conn_begin(c, err)) != 0)
		return r;
	/* Two hubs starting at once against one PostgreSQL: one migrates. */
	if (c->eng == ENG_PG &&
	    (r = hub_conn_exec(c, "LOCK TABLE plumb_schema IN EXCLUSIVE MODE", 0, NULL, NULL, NULL, NULL, err)) != 0)
		goto fail;
	if ((r = hub_conn_exec(c, "SELECT MAX(version) FROM plumb_schema", 0, NULL, version_row, &have, NULL, err)) != 0)
		goto fail;
	if (have > want) {
		r = plumb_err_set(err, PLUMB_E_INVALID,
				  "database schema version %d is newer than this plumb-hub's (%d); upgrade plumb-hub", have, want);
		goto fail;
	}
	for (int v = have; v < want; v++) {
		char *t = migration_text(c->eng, migrations[v]);
		if (!t) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto fail;
		}
		r = script(c, t, err);
		free(t);
		if (r != 0)
			goto fail;
	}
	if (want > have) {
		char ver[16];
		snprintf(ver, sizeof(ver), "%d", want);
		const char *p[] = {ver};
		if ((r = hub_conn_exec(c, "DELETE FROM plumb_schema", 0, NULL, NULL, NULL, NULL, err)) != 0 ||
		    (r = hub_conn_exec(c, "INSERT INTO plumb_schema (version) VALUES (CAST($1 AS INTEGER))", 1, p, NULL,
				       NULL, NULL, err)) != 0)
			goto fail;
	}
	return hub_conn_commit(c, err);
fail:
	hub_conn_rollback(c);
	return r;
}

static void conn_close(struct hub_conn *c)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		if (c->cache[i].st)
			sqlite3_finalize(c->cache[i].st);
		free(c->cache[i].sql);
	}
	if (c->lite)
		sqlite3_close(c->lite);
	pg_forget(c);
	if (c->pg)
		PQfinish(c->pg);
	memset(c, 0, sizeof(*c));
}

int hub_db_open(struct hub_db **out, const char *spec, int nconn, struct plumb_err *err)
{
	int r;
	struct hub_db *db = calloc(1, sizeof(*db));
	if (nconn < 1)
		nconn = 1;
	if (nconn > HUB_DB_POOL_MAX)
		nconn = HUB_DB_POOL_MAX;
	if (!db || !(db->conns = calloc((size_t)nconn, sizeof(*db->conns)))) {
		free(db);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	db->eng = (!strncmp(spec, "postgresql://", 13) || !strncmp(spec, "postgres://", 11)) ? ENG_PG : ENG_SQLITE;
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);
	if (db->eng == ENG_SQLITE && (r = lite_create(spec, err)) != 0)
		goto fail;
	for (int i = 0; i < nconn; i++) {
		db->conns[i].eng = db->eng;
		db->n = i + 1;
		r = db->eng == ENG_PG ? pg_open(&db->conns[i], spec, err) : lite_open(&db->conns[i], spec, err);
		if (r != 0)
			goto fail;
		if (i == 0 && (r = migrate(&db->conns[0], err)) != 0)
			goto fail;
	}
	*out = db;
	return 0;
fail:
	hub_db_close(db);
	return r;
}

void hub_db_close(struct hub_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < db->n; i++)
		conn_close(&db->conns[i]);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	free(db->conns);
	free(db);
}

struct hub_conn *hub_db_acquire(struct hub_db *db)
{
	pthread_mutex_lock(&db->mu);
	for (;;) {
		for (int i = 0; i < db->n; i++)
			if (!db->conns[i].busy) {
				db->conns[i].busy = 1;
				pthread_mutex_unlock(&db->mu);
				return &db->conns[i];
			}
		pthread_cond_wait(&db->cv, &db->mu);
	}
}

void hub_db_release(struct hub_db *db, struct hub_conn *c)
{
	pthread_mutex_lock(&db->mu);
	c->busy = 0;
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mu);
}
