/* store.h - what the hub keeps: reports (idempotent by id), their events,
 * one row of state per host, and retention. Engine-neutral SQL over db.h. */
#ifndef PLUMB_HUB_STORE_H
#define PLUMB_HUB_STORE_H
#include <jansson.h>
#include <time.h>
#include "db.h"

/* Most events one GET /v1/events page returns. */
#define HUB_EVENTS_LIMIT_MAX 1000
#define HUB_EVENTS_LIMIT_DEFAULT 100

/* Stores a validated report doc (body: its exact text) received at
 * now, in one transaction: the report, its events, and the host's state
 * (only if this report is the host's newest by finished_at, so a late retry
 * never rolls the host's state back). A report id already stored changes
 * nothing and sets *duplicate. Returns 0 or PLUMB_E_IO. */
int hub_store_ingest(struct hub_conn *c, const json_t *doc, const char *body, time_t finished,
		     time_t now, int *duplicate, struct plumb_err *err);

/* Cap on the fleet list's JSON (about 400 bytes a host). */
#define HUB_HOSTS_JSON_MAX (512u << 20)

/* The fleet as JSON text, malloc'd into *out (*len bytes):
 * {"hosts": [...], "summary": {...}, "silent_after": s}. A host is "silent" when
 * nothing arrived for silent_after seconds, else "drifting" when its newest
 * report left drift unresolved, else "stale" when its baseline expired,
 * else "compliant". status_filter, if not NULL, keeps one status.
 * Returns 0, PLUMB_E_IO or PLUMB_E_NOMEM. */
int hub_store_hosts(struct hub_conn *c, time_t now, time_t silent_after, const char *status_filter, char **out,
		    size_t *len, struct plumb_err *err);

struct hub_event_query {
	const char *host, *resource, *action; /* exact matches, NULL for any */
	time_t since;                         /* events at or after; 0 for any */
	long long before;                     /* cursor: events with seq < before; 0 for the newest */
	int limit;
};
/* Events newest first: {"events": [...], "next": cursor or null}. Paging by
 * the sequence number is stable while new reports arrive.
 * Returns 0, PLUMB_E_IO or PLUMB_E_NOMEM. */
int hub_store_events(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err);

/* The stored text of report id (malloc'd into *out). Returns 0,
 * PLUMB_E_NOTFOUND or PLUMB_E_IO. */
int hub_store_report(struct hub_conn *c, const char *id, char **out, struct plumb_err *err);

/* Deletes reports and events received before cutoff; host rows and their
 * counters stay, so the fleet view keeps working. Returns 0 or PLUMB_E_IO. */
int hub_store_prune(struct hub_conn *c, time_t cutoff, long *events, long *reports, struct plumb_err *err);
#endif
