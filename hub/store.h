/* store.h - what the hub keeps: reports (idempotent by id), their events,
 * one row of state per host, and retention. Engine-neutral SQL over db.h. */
#ifndef PLUMB_HUB_STORE_H
#define PLUMB_HUB_STORE_H
#include <jansson.h>
#include <time.h>
#include "db.h"
#include "plumb/buf.h"

/* Most events one GET /v1/events page returns. */
#define HUB_EVENTS_LIMIT_MAX 1000
#define HUB_EVENTS_LIMIT_DEFAULT 100

/* Bytes of one GET /v1/events answer past which a page ends early (its
 * "next" continues where it stopped); one event always fits. */
#define HUB_EVENTS_BYTES_MAX (4u << 20)
/* Longest reason kept for a refused or unprotected host. */
#define HUB_REASON_MAX 512

/* Stores a validated report doc (body: its exact text, len bytes) received
 * at now, in one transaction: the report, its events, and the host's state.
 * The host's state is the newest accepted report's in receive order
 * (finished_at is the agent's clock, bounded by the caller, and never
 * orders anything). A report whose (host, id) is already stored changes
 * nothing and sets *duplicate. quota, if not 0, caps the report text a host
 * may keep stored; past it nothing is stored.
 * Returns 0, PLUMB_E_TOOBIG (over quota) or PLUMB_E_IO. */
int hub_store_ingest(struct hub_conn *c, const json_t *doc, const char *body, size_t len, time_t finished,
		     time_t now, unsigned long long quota, int *duplicate, struct plumb_err *err);

/* Group commit: reports submitted from any thread are stored by one
 * committer thread, taking every report queued (up to 64) into one
 * transaction and one COMMIT. A report's result is known only after the
 * COMMIT holding it returned. Reports commit in the order submitted. */
struct hub_committer;

/* One report to store: the arguments of hub_store_ingest, and its result.
 * The submitter keeps it (and doc, body) alive until done is called, from
 * a committer thread, with r, duplicate and err set; after done returns,
 * the committer never touches it again. */
struct hub_ingest {
	const json_t *doc;
	const char *body;
	size_t len;
	time_t finished, now;
	unsigned long long quota;
	void (*done)(struct hub_ingest *j);
	void *arg;                 /* the submitter's */
	int r, duplicate;          /* as hub_store_ingest's return and *duplicate */
	struct plumb_err err;
	struct hub_ingest *next;   /* the committer's queue */
};

/* Starts the committer thread of db. Returns 0, PLUMB_E_NOMEM or PLUMB_E_IO. */
int hub_committer_start(struct hub_committer **out, struct hub_db *db, struct plumb_err *err);
/* Queues j. Returns 0, or -1 once stopping (j is not queued; done is never
 * called). */
int hub_committer_submit(struct hub_committer *cm, struct hub_ingest *j);
/* Stores every report still queued (each gets its done), then ends the
 * threads; a submit after it returns -1. */
void hub_committer_stop(struct hub_committer *cm);
/* Stops cm if it was not, and frees it. */
void hub_committer_free(struct hub_committer *cm);

/* Transactions cm committed that stored reports, since it started. */
unsigned long long hub_committer_commits(struct hub_committer *cm);

/* hub_committer_submit, waiting for the result: hub_store_ingest's results,
 * returned once the COMMIT holding this report returned. */
int hub_store_ingest_group(struct hub_committer *cm, const json_t *doc, const char *body, size_t len,
			   time_t finished, time_t now, unsigned long long quota, int *duplicate, struct plumb_err *err);

/* Cap on the fleet list's JSON (about 400 bytes a host). */
#define HUB_HOSTS_JSON_MAX (512u << 20)

/* The statuses of a host, most urgent first (the page, the filter and the
 * summary share this list). */
extern const char *const hub_statuses[];
#define HUB_NSTATUS 6

/* The whole fleet, unpaged (the unit tests' view of the state machine; the
 * HTTP API pages with hub_store_hosts_page), as JSON text, malloc'd into
 * *out (*len bytes):
 * {"hosts": [...], "summary": {...}, "silent_after": s}. A host is "silent" when
 * nothing arrived for silent_after seconds, else "drifting" when its newest
 * report left drift unresolved, else "refused" when its newest report
 * refused a baseline tip or rolled a firewall change back, else
 * "unprotected" when it enforces no signed baseline (an unsigned
 * directory, or audit mode), else "stale" when its baseline expired, else
 * "compliant". Each host carries its "reason". status_filter, if not NULL,
 * keeps one status.
 * Returns 0, PLUMB_E_IO or PLUMB_E_NOMEM. */
int hub_store_hosts(struct hub_conn *c, time_t now, time_t silent_after, const char *status_filter, char **out,
		    size_t *len, struct plumb_err *err);

/* Hosts by status, decided as hub_store_hosts decides them, in one
 * aggregate pass (no rows written). Returns 0 or PLUMB_E_IO. */
int hub_store_status_counts(struct hub_conn *c, time_t now, time_t silent_after, long long counts[HUB_NSTATUS],
			    struct plumb_err *err);

/* ---- the fleet page: hosts by page, filtered and sorted on the server ---- */

#define HUB_HOSTS_LIMIT_DEFAULT 500
#define HUB_HOSTS_LIMIT_MAX 1000
/* An export (format=csv or json) may ask for pages this large. */
#define HUB_EXPORT_LIMIT_MAX 10000

enum hub_host_sort { HUB_SORT_HOST, HUB_SORT_LAST_SEEN, HUB_SORT_STATUS };

struct hub_host_query {
	int status;                /* 0 any, else 1 + an index into hub_statuses */
	const char *contains_like; /* LIKE pattern (lower case, escaped by '\'), NULL any */
	const char *commit;        /* exact baseline commit, NULL any */
	int has_serial, has_serial_below;
	long long serial, serial_below; /* serial = N; serial < N or none ("behind") */
	time_t changed_since;      /* last_seen at or after (deltas); 0 any */
	enum hub_host_sort sort;
	int desc, csv;
	const char *cursor_host;   /* keyset cursor: after (sort key, host) */
	long long cursor_key;
	int limit;
};

/* What a page ended with: rows written, whether more follow, and the last
 * row's sort key (the next page's cursor). */
struct hub_page {
	int rows, more;
	long long last_key;
	char last_host[256];
};

/* Appends one page of hosts to out: JSON objects separated by commas (as
 * in hub_store_hosts), or CSV lines (q->csv; header not included), ordered
 * by (sort key, host), the host breaking ties so paging is stable.
 * Returns 0, PLUMB_E_IO or PLUMB_E_NOMEM. */
int hub_store_hosts_page(struct hub_conn *c, time_t now, time_t silent_after, const struct hub_host_query *q,
			 struct plumb_buf *out, struct hub_page *pg, struct plumb_err *err);
/* How many hosts match q (its cursor ignored). Returns 0 or PLUMB_E_IO. */
int hub_store_hosts_count(struct hub_conn *c, time_t now, time_t silent_after, const struct hub_host_query *q,
			  long long *total, struct plumb_err *err);
extern const char hub_hosts_csv_header[], hub_events_csv_header[];

/* Counting matching events stops here: "total" says at least this many
 * ("total_exact": false). */
#define HUB_EVENTS_COUNT_MAX 100000

struct hub_event_query {
	const char *host, *resource, *action; /* exact matches, NULL for any */
	const char *resource_prefix;          /* resource starts with, NULL for any */
	time_t since, until;                  /* events at or after since, before until; 0 for any */
	long long before;                     /* cursor: events with seq < before; 0 for the newest */
	long long after;                      /* deltas: events with seq > after; 0 for any */
	int acked;                            /* 0 any, 1 not acknowledged, 2 acknowledged */
	int limit;
	int count;                            /* also count the matches (bounded) */
	struct plumb_buf *csv;                /* not NULL: rows go here as CSV, "events" stays empty */
};
/* Events newest first: {"events": [...], "next": cursor or null, "newest":
 * seq or null[, "total": n, "total_exact": bool]}. Each event carries its
 * newest acknowledgement ("ack": {by, at, note} or null). Paging by the
 * sequence number is stable while new reports arrive.
 * Returns 0, PLUMB_E_IO or PLUMB_E_NOMEM. */
int hub_store_events(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err);

/* Events per hour by action for the events q matches (its limit and
 * cursors ignored): {"buckets": [{"hour": time, "actions": {action: n}}]},
 * oldest first, hours without events left out. */
int hub_store_histogram(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err);

/* Most baseline groups the rollout view lists ("truncated" past it). */
#define HUB_ROLLOUT_GROUPS_MAX 1000
/* Hosts per baseline (serial, commit), newest serial first, with how many
 * of each refused a tip or are silent; "behind" counts hosts on an older
 * serial than the newest, or none. */
int hub_store_rollout(struct hub_conn *c, time_t now, time_t silent_after, json_t **out, struct plumb_err *err);

/* Longest acknowledgement note, in bytes. */
#define HUB_ACK_NOTE_MAX 1000
/* Acknowledges event seq with note, by subject (role), at now: the event
 * carries it and acks keeps it (the audit trail). Fills the event's host
 * and resource (for the log line). Returns 0, PLUMB_E_NOTFOUND or
 * PLUMB_E_IO. */
int hub_store_ack(struct hub_conn *c, long long seq, const char *subject, const char *role, const char *note,
		  time_t now, char host[256], char resource[512], struct plumb_err *err);
/* The audit trail of acknowledgements, newest first: {"acks": [...]}; ids
 * below before (0: the newest). */
int hub_store_audit(struct hub_conn *c, long long before, int limit, json_t **out, struct plumb_err *err);

/* The stored text of report id of host (NULL: the first received with that
 * id), malloc'd into *out. Returns 0, PLUMB_E_NOTFOUND or PLUMB_E_IO. */
int hub_store_report(struct hub_conn *c, const char *id, const char *host, char **out, struct plumb_err *err);

/* Deletes reports and events received before cutoff; host rows and their
 * counters stay, so the fleet view keeps working; each host's stored bytes
 * are counted again. Returns 0 or PLUMB_E_IO. */
int hub_store_prune(struct hub_conn *c, time_t cutoff, long *events, long *reports, struct plumb_err *err);
#endif
