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

/* Cap on the fleet list's JSON (about 400 bytes a host). */
#define HUB_HOSTS_JSON_MAX (512u << 20)

/* The statuses of a host, most urgent first (the page, the filter and the
 * summary share this list). */
extern const char *const hub_statuses[];
#define HUB_NSTATUS 6

/* The fleet as JSON text, malloc'd into *out (*len bytes):
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

struct hub_event_query {
	const char *host, *resource, *action; /* exact matches, NULL for any */
	time_t since;                         /* events at or after; 0 for any */
	long long before;                     /* cursor: events with seq < before; 0 for the newest */
	int limit;
};
/* Events newest first: {"events": [...], "next": cursor or null}. Paging by
 * the sequence number is stable while new reports arrive.
 * Returns 0, PLUMB_E_IO or PLUMB_E_NOMEM. */
/* Hosts by status, decided as hub_store_hosts decides them, without
 * writing the list. Returns 0 or a negative code with err filled. */
int hub_store_status_counts(struct hub_conn *c, time_t now, time_t silent_after, long long counts[HUB_NSTATUS],
			    struct plumb_err *err);

int hub_store_events(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err);

/* The stored text of report id of host (NULL: the first received with that
 * id), malloc'd into *out. Returns 0, PLUMB_E_NOTFOUND or PLUMB_E_IO. */
int hub_store_report(struct hub_conn *c, const char *id, const char *host, char **out, struct plumb_err *err);

/* Deletes reports and events received before cutoff; host rows and their
 * counters stay, so the fleet view keeps working; each host's stored bytes
 * are counted again. Returns 0 or PLUMB_E_IO. */
int hub_store_prune(struct hub_conn *c, time_t cutoff, long *events, long *reports, struct plumb_err *err);
#endif
