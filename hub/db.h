/* db.h - plumb-hub's storage engines behind one small interface: SQLite
 * (WAL, the embedded default) and PostgreSQL (libpq, for fleets). */
#ifndef PLUMB_HUB_DB_H
#define PLUMB_HUB_DB_H
#include <stddef.h>
#include "plumb/error.h"

/* Connections in a pool; each request borrows one for its whole transaction. */
#define HUB_DB_POOL_MAX 32

struct hub_db;
struct hub_conn;

/* Called once per result row with the row's values as text (NULL for SQL
 * NULL). Returns 0 to continue, non-zero to stop (that value is returned). */
typedef int (*hub_row_fn)(void *ctx, int ncols, const char *const *vals);

/* Opens spec ("postgresql://…" or "postgres://…" for PostgreSQL, else a
 * SQLite file path, created 0600 if missing) with nconn pooled connections,
 * and brings its schema up to date (migrations run once, in a transaction).
 * Returns 0, PLUMB_E_IO (cannot connect/open) or PLUMB_E_INVALID (a schema
 * newer than this binary). */
int hub_db_open(struct hub_db **out, const char *spec, int nconn, struct plumb_err *err);
void hub_db_close(struct hub_db *db);
/* "sqlite" or "postgresql". */
const char *hub_db_engine(const struct hub_db *db);

/* Borrows a connection, waiting for one to be free. Never NULL. */
struct hub_conn *hub_db_acquire(struct hub_db *db);
void hub_db_release(struct hub_db *db, struct hub_conn *c);

/* Runs one statement with text parameters $1..$n (NULL = SQL NULL); row, if
 * given, sees each result row; *changes (if given) receives the rows the
 * statement inserted, updated or deleted. The same SQL text is used for both
 * engines: write portable SQL (CAST for integers in LIMIT).
 * Returns 0, the row callback's non-zero value, or PLUMB_E_IO with the
 * engine's message in err. */
int hub_conn_exec(struct hub_conn *c, const char *sql, int nparams, const char *const *params,
		  hub_row_fn row, void *ctx, long *changes, struct plumb_err *err);

/* One statement of hub_conn_exec_many, with hub_conn_exec's arguments. */
struct hub_stmt {
	const char *sql;
	int nparams;
	const char *const *params;
	hub_row_fn row;
	void *ctx;
	long *changes;
};

/* Runs n statements in order, as hub_conn_exec would one after the other,
 * and stops at the first that fails: its error is returned, *failed (if
 * given) is its index (n when none failed) and the statements after it do
 * not run. On PostgreSQL they go in one pipeline, one round trip for all:
 * use it for statements whose parameters do not depend on each other's
 * results. A failing statement inside a transaction aborts it, as with
 * hub_conn_exec. */
int hub_conn_exec_many(struct hub_conn *c, const struct hub_stmt *v, int n, int *failed, struct plumb_err *err);
/* Most statements one hub_conn_exec_many takes (more: PLUMB_E_INVALID). */
#define HUB_PIPE_MAX 160

/* 1 on PostgreSQL (for the few statements whose dialects differ). */
int hub_conn_is_pg(const struct hub_conn *c);

/* BEGIN / COMMIT / ROLLBACK. Returns 0 or PLUMB_E_IO; a failed COMMIT has
 * rolled back. */
int hub_conn_begin(struct hub_conn *c, struct plumb_err *err);
int hub_conn_commit(struct hub_conn *c, struct plumb_err *err);
void hub_conn_rollback(struct hub_conn *c);
/* SQLite: checkpoints the WAL into the database file and truncates it, so
 * deleted data leaves both. PostgreSQL: nothing (autovacuum's job). */
void hub_conn_checkpoint(struct hub_conn *c);

/* The schema version this binary migrates to. */
int hub_db_schema_version(void);
#endif
