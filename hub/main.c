/* main.c - plumb-hub's entry point: argument parsing, the token commands,
 * and the serving loop with its retention timer. Everything else is in hub/. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alerts.h"
#include "db.h"
#include "http.h"
#include "plumb/log.h"
#include "plumb/util.h"
#include "plumb/version.h"
#include "store.h"
#include "session.h"
#include "token.h"
#include "validate.h"
#include "../src/banned.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: plumb-hub --db PATH|postgresql://... --listen ADDR:PORT [options]\n"
		"       plumb-hub --db PATH|postgresql://... token add HOST\n"
		"       plumb-hub --db PATH|postgresql://... token add --viewer NAME\n"
		"       plumb-hub --db PATH|postgresql://... token add --operator NAME   (reads, acknowledges events)\n"
		"       plumb-hub --db PATH|postgresql://... token add --admin NAME      (and reads the audit trail)\n"
		"       plumb-hub --db PATH|postgresql://... token list\n"
		"       plumb-hub --db PATH|postgresql://... token revoke ID\n"
		"\n"
		"options:\n"
		"  --tls-cert FILE --tls-key FILE   serve HTTPS (PEM)\n"
		"  --tls-client-ca FILE             also accept agent client certificates signed by\n"
		"                                   this CA (subject CN = host) instead of tokens\n"
		"  --tls-crl FILE                   PEM CRLs of that CA revoking client certificates\n"
		"                                   (read again on SIGHUP)\n"
		"  --retain DURATION                delete reports and events older than this (default 90d)\n"
		"  --heartbeat DURATION             the agents' report.heartbeat; a host is silent\n"
		"                                   after two missed (default 15m)\n"
		"  --max-body BYTES                 largest report accepted, e.g. 4M (default 4M, at most 64M)\n"
		"  --max-skew DURATION              how far finished_at may run ahead of this clock (default 5m)\n"
		"  --max-string BYTES               longest string in a report but a diff (default 4K)\n"
		"  --max-events N                   most events in one report (default 10000)\n"
		"  --max-inflight BYTES             request bytes buffered at once, hub-wide (default 64M)\n"
		"  --recv-timeout DURATION          time to receive one whole request (default 60s)\n"
		"  --per-ip N                       connections one address may hold (default 256, at most 1024)\n"
		"  --host-rate BYTES                report bytes one host may send per minute (default 32M, 0 off)\n"
		"  --host-quota BYTES               report bytes one host may keep stored (default 256M, 0 off)\n"
		"  --threads N                      worker threads (default 4)\n"
		"  --alerts FILE                    send alerts to the receivers this YAML file names\n"
		"                                   (read again on SIGHUP; see plumb-hub(8))\n"
		"  --session-ttl DURATION           how long a page's sign-in lasts (default 8h, at most 30d)\n"
		"  --port-file FILE                 write the bound port there (for --listen ADDR:0)\n"
		"  -v, --verbose                    log more\n"
		"  --version\n");
}

/* BYTES with an optional K, M or G suffix, at most max (0 allowed if zero_ok). */
static int parse_bytes(unsigned long long *out, const char *s, unsigned long long max, int zero_ok)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;
	if (errno || end == s || *s == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (*end || (v == 0 && !zero_ok) || v > (max >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static int parse_size(size_t *out, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end || v == 0 || v > HUB_BODY_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int token_cmd(struct hub_db *db, int argc, char **argv)
{
	struct plumb_err e = {0};
	int r = PLUMB_E_INVALID;
	struct hub_conn *c = hub_db_acquire(db);
	if (argc >= 1 && !strcmp(argv[0], "add") &&
	    (argc == 2 || (argc == 3 && (!strcmp(argv[1], "--viewer") || !strcmp(argv[1], "--operator") ||
					 !strcmp(argv[1], "--admin"))))) {
		char tok[HUB_TOKEN_LEN];
		enum hub_role role = argc == 2 ? HUB_ROLE_AGENT
				     : !strcmp(argv[1], "--viewer") ? HUB_ROLE_VIEWER
				     : !strcmp(argv[1], "--operator") ? HUB_ROLE_OPERATOR
								     : HUB_ROLE_ADMIN;
		const char *subject = argv[argc - 1];
		if ((r = hub_token_add(c, role, subject, tok, &e)) == 0) {
			printf("%s\n", tok);
			fprintf(stderr, "plumb-hub: %s token for '%s' made; it is shown only this once\n",
				hub_role_name(role), subject);
		}
	} else if (argc == 1 && !strcmp(argv[0], "list")) {
		r = hub_token_list(c, stdout, &e);
	} else if (argc == 2 && !strcmp(argv[0], "revoke")) {
		if ((r = hub_token_revoke(c, argv[1], &e)) == 0)
			fprintf(stderr, "plumb-hub: token %s revoked\n", argv[1]);
	} else {
		hub_db_release(db, c);
		usage(stderr);
		return 2;
	}
	hub_db_release(db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
		return 1;
	}
	return 0;
}

static void prune(struct hub_db *db, time_t retain)
{
	struct plumb_err e = {0};
	long ev = 0, rep = 0;
	struct hub_conn *c = hub_db_acquire(db);
	if (hub_store_prune(c, time(NULL) - retain, &ev, &rep, &e) != 0)
		plumb_log(PLUMB_LOG_ERROR, "retention: %s", e.msg);
	else if (ev || rep)
		plumb_log(PLUMB_LOG_INFO, "retention: deleted %ld reports and %ld events", rep, ev);
	hub_db_release(db, c);
}

static int write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dbspec = NULL, *port_file = NULL, *alerts_file = NULL;
	struct hub_server_cfg cfg = {.max_body = HUB_BODY_DEFAULT,
				     .threads = 4,
				     .max_string = HUB_STRING_DEFAULT,
				     .max_events = HUB_EVENTS_DEFAULT,
				     .max_inflight = HUB_INFLIGHT_DEFAULT,
				     .host_rate = HUB_HOST_RATE_DEFAULT,
				     .host_quota = HUB_HOST_QUOTA_DEFAULT};
	uint64_t retain = 90 * 86400, heartbeat = 15 * 60, skew = HUB_SKEW_DEFAULT, recv = HUB_RECV_TIMEOUT_DEFAULT;
	unsigned long long n64;
	int i;

	plumb_log_set_ident("plumb-hub");
	plumb_log_set_level(PLUMB_LOG_INFO);
	umask(077);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;
		if (!strcmp(a, "--db") && v)
			dbspec = v;
		else if (!strcmp(a, "--listen") && v)
			cfg.listen = v;
		else if (!strcmp(a, "--tls-cert") && v)
			cfg.tls_cert = v;
		else if (!strcmp(a, "--tls-key") && v)
			cfg.tls_key = v;
		else if (!strcmp(a, "--tls-client-ca") && v)
			cfg.tls_client_ca = v;
		else if (!strcmp(a, "--tls-crl") && v)
			cfg.tls_crl = v;
		else if (!strcmp(a, "--alerts") && v)
			alerts_file = v;
		else if (!strcmp(a, "--port-file") && v)
			port_file = v;
		else if (!strcmp(a, "--retain") && v) {
			if (plumb_duration_parse(&retain, v) != 0 || retain < 3600) {
				fprintf(stderr, "plumb-hub: --retain '%s': want a duration of at least 1h, e.g. 90d\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--session-ttl") && v) {
			uint64_t ttl;
			if (plumb_duration_parse(&ttl, v) != 0 || ttl < 60 || ttl > HUB_SESSION_TTL_MAX) {
				fprintf(stderr, "plumb-hub: --session-ttl '%s': want a duration from 1m to 30d, e.g. 8h\n", v);
				return 2;
			}
			cfg.session_ttl = (time_t)ttl;
		} else if (!strcmp(a, "--heartbeat") && v) {
			if (plumb_duration_parse(&heartbeat, v) != 0 || heartbeat == 0) {
				fprintf(stderr, "plumb-hub: --heartbeat '%s': want a duration, e.g. 15m\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--max-body") && v) {
			if (parse_size(&cfg.max_body, v) != 0) {
				fprintf(stderr, "plumb-hub: --max-body '%s': want bytes up to 64M, e.g. 4M\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--max-skew") && v) {
			if (plumb_duration_parse(&skew, v) != 0 || skew > 86400) {
				fprintf(stderr, "plumb-hub: --max-skew '%s': want a duration up to 1d, e.g. 5m\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--recv-timeout") && v) {
			if (plumb_duration_parse(&recv, v) != 0 || recv == 0 || recv > 3600) {
				fprintf(stderr, "plumb-hub: --recv-timeout '%s': want a duration from 1s to 1h\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--max-string") && v) {
			if (parse_bytes(&n64, v, HUB_STRING_MAX, 0) != 0 || n64 < 256) {
				fprintf(stderr, "plumb-hub: --max-string '%s': want bytes from 256 to 1M\n", v);
				return 2;
			}
			cfg.max_string = (size_t)n64;
		} else if (!strcmp(a, "--max-events") && v) {
			if (parse_bytes(&n64, v, HUB_EVENTS_MAX, 0) != 0) {
				fprintf(stderr, "plumb-hub: --max-events '%s': want 1 to 100000\n", v);
				return 2;
			}
			cfg.max_events = (size_t)n64;
		} else if (!strcmp(a, "--max-inflight") && v) {
			if (parse_bytes(&n64, v, 16ull << 30, 0) != 0 || n64 < (1u << 20)) {
				fprintf(stderr, "plumb-hub: --max-inflight '%s': want bytes from 1M to 16G\n", v);
				return 2;
			}
			cfg.max_inflight = (size_t)n64;
		} else if (!strcmp(a, "--host-rate") && v) {
			if (parse_bytes(&cfg.host_rate, v, 1ull << 40, 1) != 0) {
				fprintf(stderr, "plumb-hub: --host-rate '%s': want bytes per minute, e.g. 32M, or 0\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--host-quota") && v) {
			if (parse_bytes(&cfg.host_quota, v, 1ull << 50, 1) != 0) {
				fprintf(stderr, "plumb-hub: --host-quota '%s': want bytes, e.g. 256M, or 0\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--per-ip") && v) {
			uint64_t n;
			if (plumb_parse_u64(&n, v, HUB_CONNECTIONS_MAX) != 0 || n == 0) {
				fprintf(stderr, "plumb-hub: --per-ip '%s': want 1 to 1024\n", v);
				return 2;
			}
			cfg.per_ip = (unsigned)n;
		} else if (!strcmp(a, "--threads") && v) {
			uint64_t n;
			if (plumb_parse_u64(&n, v, 64) != 0 || n == 0) {
				fprintf(stderr, "plumb-hub: --threads '%s': want 1 to 64\n", v);
				return 2;
			}
			cfg.threads = (unsigned)n;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			plumb_log_set_level(PLUMB_LOG_DEBUG);
			takes = 0;
		} else if (!strcmp(a, "--version")) {
			printf("plumb-hub %s\n", PLUMB_VERSION);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "plumb-hub: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return 2;
		}
		i += takes;
	}
	if (!dbspec) {
		fprintf(stderr, "plumb-hub: --db is required\n");
		usage(stderr);
		return 2;
	}
	int is_token = i < argc && !strcmp(argv[i], "token");
	if (!is_token && (i < argc || !cfg.listen)) {
		fprintf(stderr, i < argc ? "plumb-hub: unknown command '%s'\n" : "plumb-hub: --listen is required%s\n",
			i < argc ? argv[i] : "");
		usage(stderr);
		return 2;
	}
	cfg.silent_after = (time_t)(2 * heartbeat);
	cfg.max_skew = (time_t)skew;
	cfg.recv_timeout = (time_t)recv;
	cfg.retain = (time_t)retain;
	if (cfg.max_inflight < cfg.max_body) {
		fprintf(stderr, "plumb-hub: --max-inflight must be at least --max-body\n");
		return 2;
	}

	struct plumb_err e = {0};
	struct hub_db *db = NULL;
	/* An invalid alerts file: nothing starts. */
	if (alerts_file && !is_token) {
		struct hub_alerts_cfg *acfg = NULL;
		if (hub_alerts_cfg_load(&acfg, alerts_file, &e) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
			return 1;
		}
		hub_alerts_install(acfg);
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "cannot initialize libcurl");
			return 1;
		}
	}
	/* a connection per worker thread (token and session lookups, reads),
	 * one for the committer (hub_committer_start) and one for
	 * the timers */
	if (hub_db_open(&db, dbspec, is_token ? 1 : (int)cfg.threads + 2, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
		return 1;
	}
	if (is_token) {
		int r = token_cmd(db, argc - i - 1, argv + i + 1);
		hub_db_close(db);
		return r;
	}

	/* Signals are taken synchronously below; server threads inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct hub_server *srv = NULL;
	if (hub_server_start(&srv, db, &cfg, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
		hub_db_close(db);
		return 1;
	}
	plumb_log(PLUMB_LOG_INFO, "listening on %s (bound port %u, %s, %s), retention %llus", cfg.listen,
		  hub_server_port(srv), cfg.tls_cert ? "https" : "http", hub_db_engine(db),
		  (unsigned long long)retain);
	if (alerts_file) {
		if (hub_alerts_start(db, cfg.silent_after, &e) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
			hub_server_stop(srv);
			hub_db_close(db);
			return 1;
		}
		plumb_log(PLUMB_LOG_INFO, "alerts: receivers from '%s'", alerts_file);
	}
	if (port_file && write_port_file(port_file, hub_server_port(srv)) != 0)
		plumb_log(PLUMB_LOG_WARN, "cannot write '%s': %s", port_file, strerror(errno));

	/* Retention runs at start and then hourly (or each tenth of the
	 * retention period when that is shorter). */
	time_t every = (time_t)(retain / 10 < 3600 ? retain / 10 : 3600);
	int sig = 0;
	for (;;) {
		prune(db, (time_t)retain);
		struct timespec ts = {.tv_sec = every};
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			if (hub_server_reload(srv, &e) != 0)
				plumb_log(PLUMB_LOG_ERROR, "reload: %s; the CRLs in force stay", e.msg);
			else if (cfg.tls_crl)
				plumb_log(PLUMB_LOG_INFO, "reload: CRLs read from '%s'", cfg.tls_crl);
			if (alerts_file) {
				struct hub_alerts_cfg *acfg = NULL;
				if (hub_alerts_cfg_load(&acfg, alerts_file, &e) != 0)
					plumb_log(PLUMB_LOG_ERROR, "reload: %s; the alerts configuration in force stays", e.msg);
				else {
					hub_alerts_install(acfg);
					plumb_log(PLUMB_LOG_INFO, "reload: alerts read from '%s'", alerts_file);
				}
			}
		}
	}
	plumb_log(PLUMB_LOG_INFO, "signal %d: stopping", sig);
	hub_server_stop(srv);
	hub_alerts_stop();
	hub_alerts_install(NULL);
	hub_db_close(db);
	if (alerts_file)
		curl_global_cleanup();
	return 0;
}
