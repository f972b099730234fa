/* metrics.c - counters kept with atomics by the request threads and written
 * out as Prometheus text; no allocation on the counting path. */
#include "metrics.h"

#include "../src/banned.h"

static const unsigned codes[HUB_METRICS_CODES] = {200, 201, 204, 304, 400, 401, 403, 404, 405,
						  413, 422, 429, 500, 503};
static const double bounds[HUB_METRICS_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
static const char *const results[HUB_INGEST_NRESULTS] = {"stored", "duplicate", "rejected", "throttled",
							 "failed"};

void hub_metrics_answer(struct hub_metrics *m, unsigned code)
{
	int i;
	for (i = 0; i < HUB_METRICS_CODES && codes[i] != code; i++)
		;
	atomic_fetch_add(&m->answers[i], 1);
}

void hub_metrics_storage_error(struct hub_metrics *m)
{
	atomic_fetch_add(&m->db_errors, 1);
}

void hub_metrics_ingest(struct hub_metrics *m, enum hub_ingest_result r, double seconds)
{
	int i;
	atomic_fetch_add(&m->ingest[r], 1);
	if (r != HUB_INGEST_STORED && r != HUB_INGEST_DUPLICATE)
		return;
	for (i = 0; i < HUB_METRICS_BUCKETS && seconds > bounds[i]; i++)
		;
	atomic_fetch_add(&m->latency[i], 1);
	atomic_fetch_add(&m->latency_us, (unsigned long long)(seconds * 1e6));
}

int hub_metrics_render(const struct hub_metrics *m, const long long counts[HUB_NSTATUS], unsigned long long commits,
		       struct plumb_buf *b)
{
	unsigned long long cum = 0, n;
	int bad = 0;

	bad |= plumb_buf_adds(b, "# HELP plumb_hub_hosts Hosts by status (as GET /v1/hosts decides it).\n"
			      "# TYPE plumb_hub_hosts gauge\n");
	for (int i = 0; i < HUB_NSTATUS; i++)
		bad |= plumb_buf_addf(b, "plumb_hub_hosts{status=\"%s\"} %lld\n", hub_statuses[i], counts[i]);
	bad |= plumb_buf_adds(b, "# HELP plumb_hub_reports_total POST /v1/reports by outcome.\n"
			      "# TYPE plumb_hub_reports_total counter\n");
	for (int i = 0; i < HUB_INGEST_NRESULTS; i++)
		bad |= plumb_buf_addf(b, "plumb_hub_reports_total{result=\"%s\"} %llu\n", results[i],
				      (unsigned long long)atomic_load(&m->ingest[i]));
	bad |= plumb_buf_adds(b, "# HELP plumb_hub_http_responses_total Answers by HTTP status code.\n"
			      "# TYPE plumb_hub_http_responses_total counter\n");
	for (int i = 0; i <= HUB_METRICS_CODES; i++) {
		if ((n = atomic_load(&m->answers[i])) == 0 && i == HUB_METRICS_CODES)
			continue;
		if (i < HUB_METRICS_CODES)
			bad |= plumb_buf_addf(b, "plumb_hub_http_responses_total{code=\"%u\"} %llu\n", codes[i], n);
		else
			bad |= plumb_buf_addf(b, "plumb_hub_http_responses_total{code=\"other\"} %llu\n", n);
	}
	bad |= plumb_buf_adds(b, "# HELP plumb_hub_ingest_seconds Time to validate and store an accepted report.\n"
			      "# TYPE plumb_hub_ingest_seconds histogram\n");
	for (int i = 0; i < HUB_METRICS_BUCKETS; i++) {
		cum += atomic_load(&m->latency[i]);
		bad |= plumb_buf_addf(b, "plumb_hub_ingest_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cum);
	}
	cum += atomic_load(&m->latency[HUB_METRICS_BUCKETS]);
	bad |= plumb_buf_addf(b, "plumb_hub_ingest_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	bad |= plumb_buf_addf(b, "plumb_hub_ingest_seconds_sum %.6f\nplumb_hub_ingest_seconds_count %llu\n",
			      (double)atomic_load(&m->latency_us) / 1e6, cum);
	bad |= plumb_buf_addf(b, "# HELP plumb_hub_storage_errors_total Statements the database refused or failed "
			      "(answered 503).\n# TYPE plumb_hub_storage_errors_total counter\nplumb_hub_storage_errors_total %llu\n",
			      (unsigned long long)atomic_load(&m->db_errors));
	/* reports stored / this = reports per commit (per fsync) */
	bad |= plumb_buf_addf(b, "# HELP plumb_hub_ingest_commits_total Transactions (group commits) that stored "
			      "reports.\n# TYPE plumb_hub_ingest_commits_total counter\nplumb_hub_ingest_commits_total %llu\n",
			      commits);
	return bad ? PLUMB_E_NOMEM : 0;
}
