/* config.h - the agent configuration (agent.yaml): keys, defaults, limits.
 * Unknown keys and bad values are errors naming file:line:col. */
#ifndef PLUMB_CONFIG_H
#define PLUMB_CONFIG_H

#include <stdint.h>

#include "plumb/error.h"

/* report.max_bytes: a run whose report is larger is split over several
 * reports of at most this many bytes (plumb_report_split). */
#define PLUMB_REPORT_MAX_BYTES_DEFAULT (1ULL << 20)
#define PLUMB_REPORT_MAX_BYTES_MIN (64ULL << 10)
#define PLUMB_REPORT_MAX_BYTES_MAX (16ULL << 20)

#define PLUMB_DEFAULT_CONFIG "/etc/plumb/agent.yaml"
#define PLUMB_DEFAULT_STATE_DIR "/var/lib/plumb"
#define PLUMB_CONFIG_MAX (1u << 20)
#define PLUMB_FULL_SCAN_MAX (30 * 60)          /* the 30-minute promise */
#define PLUMB_QUARANTINE_DEFAULT (64ULL << 20)
#define PLUMB_SOURCE_TIMEOUT_MAX 600           /* seconds: source.timeout at most 10m */
/* The fetch child and plumb-send run as this user when it exists. */
#define PLUMB_DEFAULT_USER "plumb"

enum plumb_mode {
	PLUMB_MODE_ENFORCE,
	PLUMB_MODE_AUDIT,
};

struct plumb_config {
	char *path;                 /* where it was read from, or NULL for defaults */
	char *source_url;
	char *source_ref;           /* default refs/heads/main */
	char *source_allowed_signers;
	char *source_baseline;      /* default baseline.yaml */
	char *source_ca_file;       /* https: CA bundle for the git server */
	char *source_ssh_key;       /* ssh: private key file */
	char *source_ssh_host_key;  /* ssh: pinned "SHA256:..." host key */
	uint64_t source_timeout;    /* seconds for one fetch, default 60 */
	uint64_t source_max_size;   /* bytes one fetch may receive, default 256 MiB */
	char *state_dir;            /* default /var/lib/plumb */
	char *root;                 /* default / */
	enum plumb_mode mode;       /* default enforce */
	uint64_t poll;              /* seconds, default 300 */
	uint64_t full_scan;         /* seconds, default 300, at most 1800 */
	uint64_t live;              /* seconds between plumbd's live-state checks (sysctl, services,
	                             * modules), default 30, 1 to 1800 */
	uint64_t quarantine_max;    /* bytes, default 64 MiB */
	char *report_url;
	char *report_token_file;
	char *report_ca_file;
	char *report_cert_file;
	char *report_key_file;
	char *metrics_textfile;     /* Prometheus textfile, default state_dir/plumb.prom */
	char *log_format;           /* log.format: "text" (default) or "json" (one object a line) */
	uint64_t report_heartbeat;  /* seconds between heartbeats, default 900 */
	uint64_t report_max_bytes;  /* a report's JSON at most, default 1 MiB: larger runs are split */
	char *user;                 /* the unprivileged children's user, default "plumb" */
	int cancel_fd;              /* not a key: plumbd's cancel fd for fetches, -1 */
};

/* Fills cfg with the defaults. Returns 0 or PLUMB_E_NOMEM. */
int plumb_config_defaults(struct plumb_config *cfg);

/* Parses YAML text over the defaults. Errors name name:line:col. */
int plumb_config_parse(struct plumb_config *cfg, const char *name, const void *data, size_t len,
		       struct plumb_err *err);

/* Reads and parses a file. Returns 0, PLUMB_E_NOTFOUND if it does not exist,
 * or another negative code; err filled. */
int plumb_config_load(struct plumb_config *cfg, const char *path, struct plumb_err *err);

/* What every program does at start: defaults, then path (NULL: the default
 * path, which may be missing), then the command line's --root/--state-dir
 * (NULL: keep). On failure cfg is released and err says why. */
int plumb_config_open(struct plumb_config *cfg, const char *path, const char *root, const char *state_dir,
		      struct plumb_err *err);

/* What `plumb check-config` adds (src/confcheck.c): every file the
 * configuration names, judged as the agent will use it. allowed_signers
 * (required with source.url) is loaded: missing, or without one usable line,
 * is an error; its skipped lines are warnings naming file:line. CA and
 * certificate files must be non-empty regular files. Secrets
 * (source.ssh_key, report.token_file, report.key_file) open to group or
 * others are an error (PLUMB_E_UNSAFE); a missing secret is only a warning,
 * as containers mount them at run time. Returns 0 or the first error (err
 * names the key and file); *warnings counts what was logged. */
int plumb_config_check_files(const struct plumb_config *cfg, unsigned *warnings, struct plumb_err *err);

/* Replaces *field with a copy of value. Returns 0 or PLUMB_E_NOMEM. */
int plumb_config_set(char **field, const char *value);

/* Frees every field. */
void plumb_config_release(struct plumb_config *cfg);

/* Parses a size such as "64M", "1G", "512K" or a byte count. */
int plumb_size_parse(uint64_t *out, const char *s);

#endif
