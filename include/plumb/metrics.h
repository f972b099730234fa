/* metrics.h - plumbd's Prometheus textfile (state_dir/plumb.prom, or
 * metrics.textfile): the values as one snapshot struct, rendered in the
 * text exposition format, rewritten only when something changed. */
#ifndef PLUMB_METRICS_H
#define PLUMB_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "plumb/error.h"

/* Why a baseline fetch failed: a bounded label set for
 * plumb_fetch_failures_total{reason=...}. A fetch that worked and brought
 * a tip plumb would not take is a refusal (plumb_refused_total), not this. */
enum plumb_fetch_failure {
	PLUMB_FETCH_TIMEOUT,       /* source.timeout passed */
	PLUMB_FETCH_NETWORK,       /* the remote could not be reached or spoke badly */
	PLUMB_FETCH_NOTFOUND,      /* the remote has no such ref */
	PLUMB_FETCH_CORRUPT,       /* the local cache is damaged (it is rebuilt) */
	PLUMB_FETCH_OTHER,
	PLUMB_FETCH_REASONS
};

/* The reason of a failed fetch from its PLUMB_E_* code (gitsrc.c:
 * PLUMB_E_IO network or a dead child, PLUMB_E_NOTFOUND no ref,
 * PLUMB_E_CORRUPT the cache) and whether its deadline passed. */
enum plumb_fetch_failure plumb_fetch_failure_reason(int code, int timed_out);

/* "timeout", "network", "notfound", "corrupt", "other". */
const char *plumb_fetch_failure_name(enum plumb_fetch_failure f);

struct plumb_metrics {
	size_t resources;
	uint64_t drifted, failed, reverted_total, refused_total;
	uint64_t fetch_failures[PLUMB_FETCH_REASONS];
	unsigned contested;
	time_t last_run, last_fetch_ok;
	uint64_t serial;
	double full_scan_seconds;
	uint64_t lock_failures_total;
	long lock_holder;
	size_t unresolved;
	int audit;
	long long expires;         /* 0: none */
	int stale;
	size_t spool_reports;
	time_t spool_oldest;       /* 0: none */
	uint64_t spool_rejected, spool_write_errors;
};

/* Renders m into out (n bytes). Returns the length, or -1 when it does not fit. */
int plumb_metrics_render(char *out, size_t n, const struct plumb_metrics *m);

/* What was last written, to skip rewrites: the text with the last-run
 * value blanked, and when (monotonic seconds). */
struct plumb_metrics_file {
	char *last;
	double at;
};

/* Writes text to path (rename + fsyncs, mode 0644) unless only the
 * last-run time changed and the file was written less than a minute ago.
 * Returns 0 (written or skipped), or a negative code. */
int plumb_metrics_write(struct plumb_metrics_file *f, const char *path, const char *text, size_t len, double now,
			struct plumb_err *err);

void plumb_metrics_file_release(struct plumb_metrics_file *f);

#endif
