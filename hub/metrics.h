/* metrics.h - plumb-hub's own counters, rendered for Prometheus on GET
 * /metrics: requests by answer, reports by outcome, ingest latency. */
#ifndef PLUMB_HUB_METRICS_H
#define PLUMB_HUB_METRICS_H
#include <stdatomic.h>

#include "plumb/buf.h"
#include "store.h"

/* Answers counted by code; anything else counts as "other". */
#define HUB_METRICS_CODES 14
/* Upper bounds (seconds) of the ingest latency histogram's buckets. */
#define HUB_METRICS_BUCKETS 10

enum hub_ingest_result { HUB_INGEST_STORED, HUB_INGEST_DUPLICATE, HUB_INGEST_REJECTED, HUB_INGEST_THROTTLED,
			 HUB_INGEST_FAILED, HUB_INGEST_NRESULTS };

struct hub_metrics {
	atomic_ullong answers[HUB_METRICS_CODES + 1];
	atomic_ullong ingest[HUB_INGEST_NRESULTS];
	atomic_ullong latency[HUB_METRICS_BUCKETS + 1];   /* per bucket; the last is +Inf */
	atomic_ullong latency_us;                          /* sum, microseconds */
	atomic_ullong db_errors;
};

/* Counts one answer sent with code. Thread-safe (atomics). */
void hub_metrics_answer(struct hub_metrics *m, unsigned code);

/* Counts a failure of the storage behind a request. */
void hub_metrics_storage_error(struct hub_metrics *m);

/* Counts one POST /v1/reports with its outcome and how long storing took. */
void hub_metrics_ingest(struct hub_metrics *m, enum hub_ingest_result r, double seconds);

/* Appends the text exposition (format 0.0.4): the counters, hosts by
 * status (counts, from hub_store_status_counts) and the group commits that
 * stored reports (commits, from hub_committer_commits). Returns 0 or the
 * buffer's error. */
int hub_metrics_render(const struct hub_metrics *m, const long long counts[HUB_NSTATUS], unsigned long long commits,
		       struct plumb_buf *b);
#endif
