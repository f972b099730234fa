/* config.c - agent.yaml parser.
 * Nested mappings (source, interval, report, quarantine) are read by one
 * table of dotted keys, so adding a key is one line. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/config.h"
#include "plumb/util.h"
#include "plumb/yread.h"
#include "plumb/log.h"
#include "banned.h"

enum ktype { T_STR, T_PATH, T_DURATION, T_MODE, T_SIZE, T_URL };

struct key {
	const char *name;           /* dotted */
	enum ktype type;
	size_t off;                 /* offset in struct plumb_config */
};

#define F(field) offsetof(struct plumb_config, field)
static const struct key keys[] = {
	{"source.url", T_STR, F(source_url)},
	{"source.ref", T_STR, F(source_ref)},
	{"source.allowed_signers", T_PATH, F(source_allowed_signers)},
	{"source.baseline", T_STR, F(source_baseline)},
	{"source.ca_file", T_PATH, F(source_ca_file)},
	{"source.ssh_key", T_PATH, F(source_ssh_key)},
	{"source.ssh_host_key", T_STR, F(source_ssh_host_key)},
	{"source.timeout", T_DURATION, F(source_timeout)},
	{"source.max_size", T_SIZE, F(source_max_size)},
	{"state_dir", T_PATH, F(state_dir)},
	{"root", T_PATH, F(root)},
	{"mode", T_MODE, F(mode)},
	{"interval.poll", T_DURATION, F(poll)},
	{"interval.full_scan", T_DURATION, F(full_scan)},
	{"interval.live", T_DURATION, F(live)},
	{"quarantine.max_size", T_SIZE, F(quarantine_max)},
	{"report.url", T_URL, F(report_url)},
	{"report.token_file", T_PATH, F(report_token_file)},
	{"report.ca_file", T_PATH, F(report_ca_file)},
	{"report.cert_file", T_PATH, F(report_cert_file)},
	{"report.key_file", T_PATH, F(report_key_file)},
	{"report.heartbeat", T_DURATION, F(report_heartbeat)},
	{"report.max_bytes", T_SIZE, F(report_max_bytes)},
	{"metrics.textfile", T_PATH, F(metrics_textfile)},
	{"log.format", T_STR, F(log_format)},
	{"user", T_STR, F(user)},
};
static const char *sections[] = {"source", "interval", "report", "quarantine", "metrics", "log"};
#undef F

int plumb_config_set(char **field, const char *value)
{
	char *s = strdup(value);

	if (s == NULL)
		return PLUMB_E_NOMEM;
	free(*field);
	*field = s;
	return 0;
}

int plumb_config_defaults(struct plumb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = PLUMB_MODE_ENFORCE;
	cfg->poll = 300;
	cfg->full_scan = 300;
	cfg->live = 30;
	cfg->quarantine_max = PLUMB_QUARANTINE_DEFAULT;
	cfg->source_timeout = 60;
	cfg->cancel_fd = -1;
	cfg->report_heartbeat = 900;
	cfg->report_max_bytes = PLUMB_REPORT_MAX_BYTES_DEFAULT;
	cfg->source_max_size = 256ULL << 20;
	if (plumb_config_set(&cfg->source_ref, "refs/heads/main") ||
	    plumb_config_set(&cfg->source_baseline, "baseline.yaml") ||
	    plumb_config_set(&cfg->state_dir, PLUMB_DEFAULT_STATE_DIR) ||
	    plumb_config_set(&cfg->root, "/") || plumb_config_set(&cfg->user, PLUMB_DEFAULT_USER)) {
		plumb_config_release(cfg);
		return PLUMB_E_NOMEM;
	}
	return 0;
}

void plumb_config_release(struct plumb_config *cfg)
{
	char **strs[] = {
		&cfg->path, &cfg->source_url, &cfg->source_ref, &cfg->source_allowed_signers,
		&cfg->source_baseline, &cfg->source_ca_file, &cfg->source_ssh_key, &cfg->source_ssh_host_key,
		&cfg->state_dir, &cfg->root, &cfg->report_url,
		&cfg->report_token_file, &cfg->report_ca_file, &cfg->report_cert_file,
		&cfg->report_key_file, &cfg->metrics_textfile, &cfg->log_format, &cfg->user,
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

int plumb_size_parse(uint64_t *out, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint64_t v, mult = 1;
	char num[32];

	if (n == 0 || n >= sizeof(num))
		return PLUMB_E_PARSE;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K': mult = 1ULL << 10; break;
	case 'M': mult = 1ULL << 20; break;
	case 'G': mult = 1ULL << 30; break;
	default: mult = 1; break;
	}
	if (mult != 1)
		num[n - 1] = '\0';
	if (plumb_parse_u64(&v, num, UINT64_MAX / mult) != 0)
		return PLUMB_E_PARSE;
	*out = v * mult;
	return 0;
}

/* A dotted-quad IPv4 literal in 127.0.0.0/8, written the one canonical
 * way: four decimal octets 0-255, no leading zeros (which some parsers
 * read as octal), nothing else ("127.1", hex and integer forms refused). */
static int loopback_v4(const char *h, size_t n)
{
	unsigned part = 0, parts = 0, digits = 0, first = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (digits == 0 || part > 255 || parts == 4)
				return 0;
			if (parts == 0)
				first = part;
			parts++;
			part = 0;
			digits = 0;
			continue;
		}
		if (h[i] < '0' || h[i] > '9' || (digits == 1 && part == 0))
			return 0;
		part = part * 10 + (unsigned)(h[i] - '0');
		if (++digits > 3)
			return 0;
	}
	return parts == 4 && first == 127;
}

/* https:// with a host, or http:// only when the host is a loopback IP
 * literal (127.0.0.0/8, [::1]) or exactly "localhost", with no userinfo
 * and at most a numeric port. Parsed strictly here rather than with
 * libcurl's curl_url(): plumb and plumbd do not link libcurl (only
 * plumb-send does), and every form this accepts is read the same way by
 * curl's parser: "http://127.0.0.1@10.0.0.1/", "http://127.example.com/"
 * and "http://127.0.0.1.nip.io/" are refused. Control characters,
 * spaces and backslashes are refused anywhere. */
static int url_ok(const char *u)
{
	const char *host, *end;
	size_t n;

	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	if (strncmp(u, "https://", 8) == 0)
		return u[8] != '\0' && u[8] != '/';
	if (strncmp(u, "http://", 7) != 0)
		return 0;
	host = u + 7;
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)) || memchr(host, '%', (size_t)(end - host)))
		return 0; /* userinfo, or an encoded host */
	if (host[0] == '[') {
		if (strncmp(host, "[::1]", 5) != 0)
			return 0;
		host += 5;
	} else {
		n = strcspn(host, ":/?#");
		if (!(n == 9 && strncmp(host, "localhost", 9) == 0) && !loopback_v4(host, n))
			return 0;
		host += n;
	}
	if (host == end)
		return 1;
	if (*host != ':' || host + 1 == end || (size_t)(end - host - 1) > 5)
		return 0; /* anything after the host but a port */
	unsigned long port = 0;
	for (const char *p = host + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port >= 1 && port <= 65535;
}

static int set_value(struct plumb_config *cfg, struct plumb_yread *y, const struct key *k,
		     struct plumb_err *err)
{
	void *field = (char *)cfg + k->off;
	struct plumb_yev ev;
	const char *s;
	char *copy;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, k->name, err)) != 0)
		return r;
	s = ev.value;
	if (ev.len == 0 || (ev.plain && (strcmp(s, "~") == 0 || strcmp(s, "null") == 0)))
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: a value is required", k->name);
	if (strlen(s) != ev.len)
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: contains a NUL byte", k->name);
	switch (k->type) {
	case T_STR:
		break;
	case T_PATH:
		if (s[0] != '/')
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
						"%s: '%s' must be an absolute path", k->name, s);
		break;
	case T_URL:
		if (!url_ok(s))
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
						"%s: '%s' must be https:// (http:// only to a loopback address)",
						k->name, s);
		break;
	case T_MODE:
		if (strcmp(s, "enforce") == 0)
			cfg->mode = PLUMB_MODE_ENFORCE;
		else if (strcmp(s, "audit") == 0)
			cfg->mode = PLUMB_MODE_AUDIT;
		else
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
						"mode: expected enforce or audit, found '%s'", s);
		return 0;
	case T_DURATION:
		if (plumb_duration_parse(field, s) != 0 || *(uint64_t *)field == 0)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
						"%s: '%s' is not a duration such as 90s, 5m or 1h", k->name, s);
		return 0;
	case T_SIZE:
		if (plumb_size_parse(field, s) != 0)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
						"%s: '%s' is not a size such as 64M", k->name, s);
		return 0;
	}
	if ((copy = strdup(s)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	free(*(char **)field);
	*(char **)field = copy;
	return 0;
}

/* Reads a mapping whose keys are prefix + key. */
static int parse_map(struct plumb_config *cfg, struct plumb_yread *y, const char *prefix,
		     struct plumb_err *err)
{
	struct plumb_yev key;
	unsigned long long seen = 0;
	int r;

	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		char dotted[64];
		const struct key *k = NULL;
		size_t idx = 0;
		int is_section = 0;

		if (strlen(prefix) + key.len + 2 > sizeof(dotted))
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", key.value);
		if (*prefix)
			snprintf(dotted, sizeof(dotted), "%s.%s", prefix, key.value);
		else
			snprintf(dotted, sizeof(dotted), "%s", key.value);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i].name, dotted) == 0) {
				k = &keys[i];
				idx = i;
			}
		if (!*prefix)
			for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
				if (strcmp(sections[i], dotted) == 0) {
					is_section = 1;
					idx = 32 + i;
				}
		if (k == NULL && !is_section)
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "unknown key '%s'", dotted);
		if (seen & (1ULL << idx))
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "duplicate key '%s'", dotted);
		seen |= 1ULL << idx;
		if (is_section) {
			struct plumb_yev ev;
			char sect[64];

			snprintf(sect, sizeof(sect), "%s", dotted);
			if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_MAP, sect, err)) != 0 ||
			    (r = parse_map(cfg, y, sect, err)) != 0)
				return r;
			continue;
		}
		if ((r = set_value(cfg, y, k, err)) != 0)
			return r;
	}
	return r;
}

int plumb_config_parse(struct plumb_config *cfg, const char *name, const void *data, size_t len,
		       struct plumb_err *err)
{
	struct plumb_yread *y = NULL;
	struct plumb_yev ev;
	int r;

	if ((r = plumb_yread_open(&y, name, data, len, err)) != 0)
		return r;
	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_MAP, "configuration", err)) != 0 ||
	    (r = parse_map(cfg, y, "", err)) != 0 || (r = plumb_yread_close(y, err)) != 0)
		goto out;
	if (cfg->full_scan > PLUMB_FULL_SCAN_MAX) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: interval.full_scan: at most 30m (drift is "
				  "reverted within 30 minutes at the outside)", name);
		goto out;
	}
	if (cfg->live == 0 || cfg->live > PLUMB_FULL_SCAN_MAX) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: interval.live: 1s to 30m", name);
		goto out;
	}
	if (cfg->source_timeout == 0 || cfg->source_timeout > PLUMB_SOURCE_TIMEOUT_MAX) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: source.timeout: 1s to %um (a fetch never holds up "
				  "enforcement, but a longer one only delays the next)", name, PLUMB_SOURCE_TIMEOUT_MAX / 60);
		goto out;
	}
	if (cfg->user == NULL || cfg->user[0] == '\0' || strchr(cfg->user, '/') != NULL) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: user: a user name", name);
		goto out;
	}
	if (cfg->source_ssh_host_key != NULL && strncmp(cfg->source_ssh_host_key, "SHA256:", 7) != 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: source.ssh_host_key: expected 'SHA256:...' as "
				  "ssh-keygen -l prints it", name);
		goto out;
	}
	if (cfg->log_format != NULL && strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: log.format: 'text' or 'json', not '%s'", name,
				  cfg->log_format);
		goto out;
	}
	if ((cfg->report_cert_file == NULL) != (cfg->report_key_file == NULL)) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: report.cert_file and report.key_file go together",
				  name);
		goto out;
	}
	if (cfg->report_max_bytes < PLUMB_REPORT_MAX_BYTES_MIN || cfg->report_max_bytes > PLUMB_REPORT_MAX_BYTES_MAX) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: report.max_bytes: from 64K to 16M (a run's events are "
				  "split over reports of at most this size)", name);
		goto out;
	}
	r = plumb_config_set(&cfg->path, name) ? PLUMB_E_NOMEM : 0;
out:
	plumb_yread_free(y);
	return r;
}

int plumb_config_load(struct plumb_config *cfg, const char *path, struct plumb_err *err)
{
	struct plumb_buf b;
	int r;

	if ((r = plumb_buf_load_file(&b, path, PLUMB_CONFIG_MAX, "configuration", err)) != 0)
		return r;
	r = plumb_config_parse(cfg, path, b.data ? b.data : "", b.len, err);
	plumb_buf_release(&b);
	return r;
}

int plumb_config_open(struct plumb_config *cfg, const char *path, const char *root, const char *state_dir,
		      struct plumb_err *err)
{
	int r;

	if ((r = plumb_config_defaults(cfg)) != 0)
		return plumb_err_set(err, r, "out of memory");
	/* An explicit path must exist; the default may be missing (defaults). */
	r = plumb_config_load(cfg, path ? path : PLUMB_DEFAULT_CONFIG, err);
	if (r != 0 && (path != NULL || r != PLUMB_E_NOTFOUND)) {
		plumb_config_release(cfg);
		return r;
	}
	if ((root && plumb_config_set(&cfg->root, root) != 0) ||
	    (state_dir && plumb_config_set(&cfg->state_dir, state_dir) != 0)) {
		plumb_config_release(cfg);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	/* The program's log lines follow the configuration it runs with. */
	plumb_log_set_format(cfg->log_format && strcmp(cfg->log_format, "json") == 0 ? PLUMB_LOG_FORMAT_JSON
										      : PLUMB_LOG_FORMAT_AUTO);
	return 0;
}
