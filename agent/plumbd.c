/* plumbd.c - the long-running agent: plumbd [options], or --once for one
 * fetch+apply. Parses arguments and hands over to libplumb's daemon loop. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "plumb/config.h"
#include "plumb/daemon.h"
#include "plumb/log.h"
#include "plumb/run.h"
#include "plumb/version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: plumbd [options]\n"
		"\n"
		"Keeps the root true to the signed baseline: reverts drift within about a\n"
		"second where inotify sees it, and at every full scan (at most 30 minutes).\n"
		"\n"
		"  -c, --config FILE        agent configuration (default %s)\n"
		"      --root DIR           the tree to manage\n"
		"      --state-dir DIR      plumb's own state\n"
		"      --baseline-dir DIR   read an UNSIGNED baseline from DIR (development mode)\n"
		"      --once               one fetch+apply, then exit with plumb apply's codes\n"
		"  -v, --verbose            debug output\n"
		"  -q, --quiet              warnings and errors only\n"
		"  -V, --version            print the version\n"
		"  -h, --help               this text\n",
		PLUMB_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	enum { OPT_ROOT = 256, OPT_STATE, OPT_BASELINE_DIR, OPT_ONCE };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"root", required_argument, NULL, OPT_ROOT},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"baseline-dir", required_argument, NULL, OPT_BASELINE_DIR},
		{"once", no_argument, NULL, OPT_ONCE},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct plumb_daemon_opts o = {NULL, NULL, NULL, NULL, 0};
	int once = 0, level = PLUMB_LOG_INFO, c;
	struct plumb_err err;

	plumb_log_set_ident("plumbd");
	while ((c = getopt_long(argc, argv, "c:vqVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_path = optarg; break;
		case OPT_ROOT: o.root = optarg; break;
		case OPT_STATE: o.state_dir = optarg; break;
		case OPT_BASELINE_DIR: o.baseline_dir = optarg; break;
		case OPT_ONCE: once = 1; break;
		case 'v': level = PLUMB_LOG_DEBUG; break;
		case 'q': level = PLUMB_LOG_WARN; break;
		case 'V': printf("plumbd %s\n", PLUMB_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return PLUMB_EXIT_ERROR;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return PLUMB_EXIT_ERROR;
	}
	plumb_log_set_level((enum plumb_log_level)level);
	if (once) {
		struct plumb_run_opts ro = {1, o.baseline_dir, o.threads};
		struct plumb_config cfg;
		json_t *report = NULL;
		int code;

		if (plumb_config_open(&cfg, o.config_path, o.root, o.state_dir, &err) != 0) {
			plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
			return PLUMB_EXIT_ERROR;
		}
		memset(&err, 0, sizeof(err));
		code = plumb_run(&cfg, &ro, &report, &err);
		if (code == PLUMB_EXIT_ERROR && err.msg[0] != '\0')
			plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		if (report != NULL)
			plumb_report_print_human(report, stdout, err.msg[0] != '\0' ? PLUMB_HUMAN_NO_REFUSED : 0);
		json_decref(report);
		plumb_config_release(&cfg);
		return code;
	}
	if (plumb_daemon_run(&o, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		return PLUMB_EXIT_ERROR;
	}
	return 0;
}
