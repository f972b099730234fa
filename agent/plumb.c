/* plumb.c - the one-shot CLI: check, apply, status, verify, version.
 * Parses arguments, loads the config, calls libplumb; nothing else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plumb/config.h"
#include "plumb/log.h"
#include "plumb/run.h"
#include "plumb/sender.h"
#include "plumb/helper.h"
#include "plumb/spool.h"
#include "plumb/state.h"
#include "plumb/trust.h"
#include "plumb/util.h"
#include "plumb/version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: plumb [options] COMMAND\n"
		"\n"
		"commands:\n"
		"  check          report drift, change nothing (exit 0 compliant, 2 drift, 1 error)\n"
		"  apply          revert drift (exit 0 none, 2 changes, 4 failures, 6 both, 1 error)\n"
		"  verify         fetch and verify the signed baseline tip; print commit, signer, key, serial\n"
		"  trust reset    forget the rollback anchor (the next apply accepts any validly signed tip)\n"
		"  status         show the last run's summary and the report spool\n"
		"  deliver        send the spooled reports now, ignoring the retry backoff (exit 0 all\n"
		"                 delivered, 2 some still wait, 4 some rejected, 6 both, 1 error)\n"
		"  spool requeue [ID...]\n"
		"                 move rejected reports (all, or these ids) back into the spool\n"
		"  check-config   validate the configuration and exit\n"
		"  version        print the version\n"
		"\n"
		"options:\n"
		"  -c, --config FILE        agent configuration (default %s)\n"
		"      --root DIR           the tree to manage (default: config root, or /)\n"
		"      --state-dir DIR      plumb's own state (default: config state_dir, or %s)\n"
		"      --baseline-dir DIR   read an UNSIGNED baseline from DIR (development mode)\n"
		"      --json               print the report as JSON on stdout\n"
		"      --diff               check, apply, status: show a unified diff of each drifted file\n"
		"  -v, --verbose            more log output (repeat for debug)\n"
		"  -q, --quiet              errors only\n"
		"  -h, --help               this text\n",
		PLUMB_DEFAULT_CONFIG, PLUMB_DEFAULT_STATE_DIR);
}

static int print_report(json_t *report, int as_json, unsigned flags)
{
	if (as_json) {
		if (json_dumpf(report, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
			return -1;
		fputc('\n', stdout);
	} else {
		if ((flags & PLUMB_HUMAN_DIFF) && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL)
			flags |= PLUMB_HUMAN_COLOR;
		plumb_report_print_human(report, stdout, flags);
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

static int cmd_verify(const struct plumb_config *cfg, int as_json)
{
	struct plumb_verify_result v;
	struct plumb_err err;

	if (plumb_run_verify(cfg, &v, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		return PLUMB_EXIT_ERROR;
	}
	if (v.reanchored[0] != '\0')
		plumb_log(PLUMB_LOG_WARN, "%s", v.reanchored);
	if (as_json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:s?, s:s?}", "commit", v.tip.commit, "signer",
				      v.tip.signer, "fingerprint", v.tip.fingerprint, "serial", (json_int_t)v.serial,
				      "new", v.is_new, "stale", v.stale, "anchor", v.anchor.has ? v.anchor.commit : NULL,
				      "reanchored", v.reanchored[0] ? v.reanchored : NULL);

		if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
			json_decref(j);
			return PLUMB_EXIT_ERROR;
		}
		fputc('\n', stdout);
		json_decref(j);
	} else {
		printf("commit      %s\nsigner      %s\nfingerprint %s\nserial      %llu%s\n", v.tip.commit,
		       v.tip.signer, v.tip.fingerprint, (unsigned long long)v.serial, v.stale ? " (expired: stale)" : "");
		if (v.anchor.has)
			printf("anchor      %s (serial %llu)%s\n", v.anchor.commit, (unsigned long long)v.anchor.serial,
			       v.reanchored[0] ? ": signed by a key no longer trusted; the tip re-anchors" :
			       v.is_new ? ": the tip is new, and every commit since it is signed" : ": the tip is already applied");
		else
			printf("anchor      none yet: the first apply records this commit\n");
	}
	return fflush(stdout) == 0 ? PLUMB_EXIT_OK : PLUMB_EXIT_ERROR;
}

static int cmd_trust_reset(const struct plumb_config *cfg)
{
	struct plumb_state *st = NULL;
	struct plumb_trust t;
	struct plumb_err err;
	int r;

	if ((r = plumb_state_open(&st, cfg->state_dir, 0, &err)) != 0 || (r = plumb_state_lock(st, 60, &err)) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		plumb_state_free(st);
		return PLUMB_EXIT_ERROR;
	}
	if (plumb_trust_load(&t, st, &err) != 0) {
		/* Missing, damaged or unreadable: what the reset is for. */
		fprintf(stderr, "plumb: the recorded anchor could not be used: %s\n", err.msg);
		memset(&t, 0, sizeof(t));
	}
	if ((r = plumb_trust_reset(st, &err)) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		plumb_state_free(st);
		return PLUMB_EXIT_ERROR;
	}
	plumb_state_free(st);
	if (t.has)
		fprintf(stderr, "plumb: WARNING: rollback protection re-anchored by operator: forgot commit %s "
			"(serial %llu, signed by %s). The next apply accepts ANY validly signed tip, even an older one.\n",
			t.commit, (unsigned long long)t.serial, t.signer);
	else
		fprintf(stderr, "plumb: no rollback anchor was recorded in '%s'\n", cfg->state_dir);
	return PLUMB_EXIT_OK;
}

static void print_spool(struct plumb_state *st)
{
	struct plumb_spool_entry *v;
	struct plumb_spool_stats s;
	struct plumb_err err;
	char when[21];
	size_t n, k;

	if (plumb_spool_list(st, &v, &n, NULL) != 0)
		return;
	if (plumb_spool_stats_peek(st, &s, &err) != 0)
		printf("spool: %s\n", err.msg);
	printf("spool: %zu report(s) waiting", n);
	if (n > 0)
		printf(", oldest queued %lld s ago", (long long)(time(NULL) - v[0].queued_at));
	if (s.last_delivery) {
		plumb_time_format(when, s.last_delivery);
		printf("; last delivery %s", when);
	}
	if (s.last_error[0])
		printf("; last error: %s", s.last_error);
	if (n > 0 && plumb_spool_retry_wait(&s, time(NULL)) > 0)
		printf("; next try in %ld s", plumb_spool_retry_wait(&s, time(NULL)));
	if (s.set_aside)
		printf("; %llu damaged stats file(s) kept in spool/", (unsigned long long)s.set_aside);
	if (s.rejected || s.dropped_heartbeats || s.write_errors)
		printf("; %llu rejected, %llu heartbeats dropped, %llu write errors", (unsigned long long)s.rejected,
		       (unsigned long long)s.dropped_heartbeats, (unsigned long long)s.write_errors);
	if (s.auth_refused || s.throttled || s.split)
		printf("; %llu credential refusals, %llu throttled, %llu split", (unsigned long long)s.auth_refused,
		       (unsigned long long)s.throttled, (unsigned long long)s.split);
	if ((k = plumb_spool_rejected_count(st)) > 0)
		printf("; %zu in spool/rejected/ (plumb spool requeue)", k);
	putchar('\n');
	free(v);
}

static int cmd_deliver(const struct plumb_config *cfg)
{
	struct plumb_state *st = NULL;
	struct plumb_err err;
	int pid, code;

	if (cfg->report_url == NULL) {
		plumb_log(PLUMB_LOG_ERROR, "no report.url configured");
		return PLUMB_EXIT_ERROR;
	}
	fflush(stdout);
	if ((pid = plumb_helper_send(cfg->path, cfg->state_dir, 120, 1, NULL, &err)) < 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		return PLUMB_EXIT_ERROR;
	}
	code = plumb_helper_wait(pid, 125);
	if (plumb_state_open(&st, cfg->state_dir, 0, &err) == 0) {
		print_spool(st);
		plumb_state_free(st);
	}
	/* plumb-send's own codes: what became of the reports (sender.h) */
	if (code == 0 || (code > 0 && (code & ~(PLUMB_SEND_EXIT_WAITING | PLUMB_SEND_EXIT_REJECTED)) == 0))
		return code;
	return PLUMB_EXIT_ERROR;
}

static int cmd_requeue(const struct plumb_config *cfg, char **ids, int nids)
{
	struct plumb_state *st = NULL;
	struct plumb_err err;
	unsigned moved = 0, all = 0;
	int code = PLUMB_EXIT_OK;

	if (plumb_state_open(&st, cfg->state_dir, 0, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		return PLUMB_EXIT_ERROR;
	}
	for (int i = 0; i < (nids > 0 ? nids : 1); i++) {
		if (plumb_spool_requeue(st, nids > 0 ? ids[i] : NULL, &moved, &err) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
			code = PLUMB_EXIT_ERROR;
		}
		all += moved;
	}
	printf("%u report(s) moved back into the spool\n", all);
	plumb_state_free(st);
	return code;
}

static int cmd_status(const struct plumb_config *cfg, int as_json, unsigned flags)
{
	struct plumb_state *st = NULL;
	struct plumb_err err;
	struct plumb_buf b;
	json_error_t jerr;
	json_t *report;
	int r;

	plumb_buf_init(&b, PLUMB_STATE_FILE_MAX);
	if (plumb_state_open(&st, cfg->state_dir, 0, &err) != 0 ||
	    plumb_state_read(st, PLUMB_LAST_REPORT, &b, &err) != 0) {
		if (err.code == PLUMB_E_NOTFOUND)
			plumb_log(PLUMB_LOG_ERROR, "no run recorded yet in '%s'", cfg->state_dir);
		else
			plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		plumb_state_free(st);
		plumb_buf_release(&b);
		return PLUMB_EXIT_ERROR;
	}
	report = json_loadb(b.data, b.len, 0, &jerr);
	plumb_buf_release(&b);
	if (report == NULL) {
		plumb_log(PLUMB_LOG_ERROR, "'%s/%s' is damaged: %s", cfg->state_dir, PLUMB_LAST_REPORT, jerr.text);
		plumb_state_free(st);
		return PLUMB_EXIT_ERROR;
	}
	r = print_report(report, as_json, flags);
	if (!as_json && cfg->report_url)
		print_spool(st);
	plumb_state_free(st);
	json_decref(report);
	return r == 0 ? PLUMB_EXIT_OK : PLUMB_EXIT_ERROR;
}

int main(int argc, char **argv)
{
	enum { OPT_ROOT = 256, OPT_STATE, OPT_BASELINE_DIR, OPT_JSON, OPT_DIFF };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"root", required_argument, NULL, OPT_ROOT},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"baseline-dir", required_argument, NULL, OPT_BASELINE_DIR},
		{"json", no_argument, NULL, OPT_JSON},
		{"diff", no_argument, NULL, OPT_DIFF},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *root = NULL, *state_dir = NULL, *cmd;
	struct plumb_run_opts ro = {0, NULL, 0};
	struct plumb_config cfg;
	struct plumb_err err;
	unsigned human = 0;
	int as_json = 0, verbosity = PLUMB_LOG_WARN, c, code;
	json_t *report = NULL;

	plumb_log_set_ident("plumb");
	while ((c = getopt_long(argc, argv, "c:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case OPT_ROOT: root = optarg; break;
		case OPT_STATE: state_dir = optarg; break;
		case OPT_BASELINE_DIR: ro.baseline_dir = optarg; break;
		case OPT_JSON: as_json = 1; break;
		case OPT_DIFF: human |= PLUMB_HUMAN_DIFF; break;
		case 'v': if (verbosity < PLUMB_LOG_DEBUG) verbosity++; break;
		case 'q': verbosity = PLUMB_LOG_ERROR; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return PLUMB_EXIT_ERROR;
		}
	}
	plumb_log_set_level((enum plumb_log_level)verbosity);
	if (optind == argc - 2 && strcmp(argv[optind], "trust") == 0 && strcmp(argv[optind + 1], "reset") == 0) {
		cmd = "trust-reset";
	} else if (optind <= argc - 2 && strcmp(argv[optind], "spool") == 0 && strcmp(argv[optind + 1], "requeue") == 0) {
		cmd = "spool-requeue";
	} else if (optind != argc - 1) {
		usage(stderr);
		return PLUMB_EXIT_ERROR;
	} else {
		cmd = argv[optind];
	}
	if (strcmp(cmd, "version") == 0) {
		printf("plumb %s\n", PLUMB_VERSION);
		return 0;
	}
	if (strcmp(cmd, "check") != 0 && strcmp(cmd, "apply") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "verify") != 0 && strcmp(cmd, "check-config") != 0 && strcmp(cmd, "trust-reset") != 0 &&
	    strcmp(cmd, "deliver") != 0 && strcmp(cmd, "spool-requeue") != 0) {
		plumb_log(PLUMB_LOG_ERROR, "unknown command '%s'", cmd);
		usage(stderr);
		return PLUMB_EXIT_ERROR;
	}

	if (plumb_config_open(&cfg, config_path, root, state_dir, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		return PLUMB_EXIT_ERROR;
	}

	if (strcmp(cmd, "check-config") == 0) {
		unsigned warnings = 0;

		if (plumb_config_check_files(&cfg, &warnings, &err) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
			code = PLUMB_EXIT_ERROR;
		} else {
			printf("configuration OK%s%s", cfg.path ? ": " : " (built-in defaults)", cfg.path ? cfg.path : "");
			if (warnings > 0)
				printf(" (%u warning%s)", warnings, warnings == 1 ? "" : "s");
			putchar('\n');
			code = PLUMB_EXIT_OK;
		}
	} else if (strcmp(cmd, "status") == 0) {
		code = cmd_status(&cfg, as_json, human);
	} else if (strcmp(cmd, "verify") == 0) {
		code = cmd_verify(&cfg, as_json);
	} else if (strcmp(cmd, "deliver") == 0) {
		code = cmd_deliver(&cfg);
	} else if (strcmp(cmd, "trust-reset") == 0) {
		code = cmd_trust_reset(&cfg);
	} else if (strcmp(cmd, "spool-requeue") == 0) {
		code = cmd_requeue(&cfg, argv + optind + 2, argc - optind - 2);
	} else {
		ro.apply = strcmp(cmd, "apply") == 0;
		memset(&err, 0, sizeof(err));
		code = plumb_run(&cfg, &ro, &report, &err);
		/* The error once, on stderr: the human report then leaves out the
		 * refused event that says the same. */
		if (code == PLUMB_EXIT_ERROR && err.msg[0] != '\0') {
			plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
			human |= PLUMB_HUMAN_NO_REFUSED;
		}
		if (report != NULL && print_report(report, as_json, human) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "cannot write the report to stdout");
			code = PLUMB_EXIT_ERROR;
		}
		json_decref(report);
	}
	plumb_config_release(&cfg);
	return code;
}
