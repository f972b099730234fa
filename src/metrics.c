/* metrics.c - plumbd's Prometheus textfile: the text exposition format
 * for node_exporter's textfile collector. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/metrics.h"
#include "banned.h"

static const char *const failure_names[PLUMB_FETCH_REASONS] = {"timeout", "network", "notfound", "corrupt", "other"};

enum plumb_fetch_failure plumb_fetch_failure_reason(int code, int timed_out)
{
	if (timed_out)
		return PLUMB_FETCH_TIMEOUT;
	switch (code) {
	case PLUMB_E_IO: return PLUMB_FETCH_NETWORK;
	case PLUMB_E_NOTFOUND: return PLUMB_FETCH_NOTFOUND;
	case PLUMB_E_CORRUPT: return PLUMB_FETCH_CORRUPT;
	default: return PLUMB_FETCH_OTHER;
	}
}

const char *plumb_fetch_failure_name(enum plumb_fetch_failure f)
{
	return (unsigned)f < PLUMB_FETCH_REASONS ? failure_names[f] : "other";
}

/* Appends to out at *len; -1 once it does not fit. */
static int add(char *out, size_t n, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int add(char *out, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*len >= n)
		return -1;
	va_start(ap, fmt);
	k = vsnprintf(out + *len, n - *len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n - *len)
		return -1;
	*len += (size_t)k;
	return 0;
}

#define HELP(name, type, help) "# HELP " name " " help "\n# TYPE " name " " type "\n"

int plumb_metrics_render(char *out, size_t n, const struct plumb_metrics *m)
{
	size_t len = 0;
	int r = 0;

	r |= add(out, n, &len, HELP("plumb_resources", "gauge", "Resources in the enforced baseline.")
		 "plumb_resources %zu\n", m->resources);
	r |= add(out, n, &len, HELP("plumb_drifted", "gauge", "Resources found drifted by the last full scan.")
		 "plumb_drifted %llu\n", (unsigned long long)m->drifted);
	r |= add(out, n, &len, HELP("plumb_failed", "gauge", "Resources that could not be enforced in the last full scan.")
		 "plumb_failed %llu\n", (unsigned long long)m->failed);
	r |= add(out, n, &len, HELP("plumb_reverted_total", "counter", "Drift reverted since plumbd started.")
		 "plumb_reverted_total %llu\n", (unsigned long long)m->reverted_total);
	r |= add(out, n, &len, HELP("plumb_contested", "gauge", "Resources whose enforcement is backing off from another writer.")
		 "plumb_contested %u\n", m->contested);
	r |= add(out, n, &len, HELP("plumb_refused_total", "counter",
				    "Baseline tips fetched and refused (unsigned, unknown signer, rollback, expired) since plumbd started.")
		 "plumb_refused_total %llu\n", (unsigned long long)m->refused_total);
	r |= add(out, n, &len, HELP("plumb_fetch_failures_total", "counter",
				    "Baseline fetches that brought no tip to judge, by reason, since plumbd started."));
	for (int i = 0; i < PLUMB_FETCH_REASONS; i++)
		r |= add(out, n, &len, "plumb_fetch_failures_total{reason=\"%s\"} %llu\n", failure_names[i],
			 (unsigned long long)m->fetch_failures[i]);
	r |= add(out, n, &len, HELP("plumb_last_run_timestamp_seconds", "gauge", "When the engine last ran.")
		 "plumb_last_run_timestamp_seconds %lld\n", (long long)m->last_run);
	r |= add(out, n, &len, HELP("plumb_last_fetch_success_timestamp_seconds", "gauge",
				    "When a baseline was last fetched and accepted.")
		 "plumb_last_fetch_success_timestamp_seconds %lld\n", (long long)m->last_fetch_ok);
	r |= add(out, n, &len, HELP("plumb_baseline_serial", "gauge", "Serial of the enforced baseline.")
		 "plumb_baseline_serial %llu\n", (unsigned long long)m->serial);
	r |= add(out, n, &len, HELP("plumb_last_full_scan_seconds", "gauge", "How long the last full scan took.")
		 "plumb_last_full_scan_seconds %.6f\n", m->full_scan_seconds);
	r |= add(out, n, &len, HELP("plumb_state_lock_failures_total", "counter",
				    "Runs put off because another process held the state lock.")
		 "plumb_state_lock_failures_total %llu\n", (unsigned long long)m->lock_failures_total);
	r |= add(out, n, &len, HELP("plumb_state_lock_holder_pid", "gauge",
				    "The process holding the state lock at the last failed attempt (0: none now, or unknown).")
		 "plumb_state_lock_holder_pid %ld\n", m->lock_holder);
	r |= add(out, n, &len, HELP("plumb_unresolved", "gauge",
				    "Resources drifted or failing now (what the last look at each left unrepaired: audit, "
				    "warn, failed, contested).")
		 "plumb_unresolved %zu\n", m->unresolved);
	r |= add(out, n, &len, HELP("plumb_mode", "gauge", "The agent's mode (1 for the one in force).")
		 "plumb_mode{mode=\"enforce\"} %d\nplumb_mode{mode=\"audit\"} %d\n", m->audit ? 0 : 1, m->audit ? 1 : 0);
	r |= add(out, n, &len, HELP("plumb_baseline_expiry_timestamp_seconds", "gauge",
				    "The enforced baseline's expires: (0: none).")
		 "plumb_baseline_expiry_timestamp_seconds %lld\n", m->expires);
	r |= add(out, n, &len, HELP("plumb_baseline_stale", "gauge", "1 while the enforced baseline has expired.")
		 "plumb_baseline_stale %d\n", m->stale);
	r |= add(out, n, &len, HELP("plumb_spool_reports", "gauge", "Reports waiting in the spool.")
		 "plumb_spool_reports %zu\n", m->spool_reports);
	r |= add(out, n, &len, HELP("plumb_spool_oldest_timestamp_seconds", "gauge",
				    "When the oldest report waiting was spooled (0: none).")
		 "plumb_spool_oldest_timestamp_seconds %lld\n", (long long)m->spool_oldest);
	r |= add(out, n, &len, HELP("plumb_spool_rejected_total", "counter", "Reports the control plane refused for good.")
		 "plumb_spool_rejected_total %llu\n", (unsigned long long)m->spool_rejected);
	r |= add(out, n, &len, HELP("plumb_spool_write_errors_total", "counter",
				    "Reports that could not be written to the spool.")
		 "plumb_spool_write_errors_total %llu\n", (unsigned long long)m->spool_write_errors);
	return r != 0 ? -1 : (int)len;
}

int plumb_metrics_write(struct plumb_metrics_file *f, const char *path, const char *text, size_t len, double now,
			struct plumb_err *err)
{
	struct plumb_fs_meta meta = {0644, (uid_t)-1, (gid_t)-1};
	struct plumb_fs_mem m;
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], *cmp, *line;
	int dfd, r;

	/* Rewritten (rename + two fsyncs) only when a value other than the
	 * last-run time changed, or once a minute for that one. */
	if ((cmp = strdup(text)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if ((line = strstr(cmp, "\nplumb_last_run_timestamp_seconds ")) != NULL)
		for (line += 34; *line && *line != '\n'; line++)
			*line = ' ';
	if (f->last != NULL && now - f->at < 60 && strcmp(cmp, f->last) == 0) {
		free(cmp);
		return 0;
	}
	free(f->last);
	f->last = cmp;
	f->at = now;
	if (slash == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "metrics path '%s' is not absolute", path);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", dir[0] ? dir : "/");
	m.data = text;
	m.len = len;
	r = plumb_fs_replace(dfd, slash + 1, &meta, plumb_fs_fill_mem, &m, err);
	close(dfd);
	return r;
}

void plumb_metrics_file_release(struct plumb_metrics_file *f)
{
	free(f->last);
	f->last = NULL;
}
