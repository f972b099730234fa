/* plumb-send.c - delivers the report spool (libexec helper of plumb and
 * plumbd): the only program that links libcurl, so the agent's own image
 * stays small and the network-facing code runs in a process of its own.
 * It splits in two when there is something to send (sender.c): itself,
 * root and confined to its spool, and a child as the plumb user that
 * alone runs libcurl (docs/PRIVSEP.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plumb/config.h"
#include "plumb/log.h"
#include "plumb/sandbox.h"
#include "plumb/sender.h"
#include "plumb/spool.h"
#include "plumb/state.h"
#include "plumb/util.h"

int main(int argc, char **argv)
{
	enum { OPT_STATE = 256, OPT_BUDGET, OPT_NOW };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"budget", required_argument, NULL, OPT_BUDGET},
		{"now", no_argument, NULL, OPT_NOW},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *state_dir = NULL;
	struct plumb_deliver_result res;
	struct plumb_state *st = NULL;
	struct plumb_config cfg;
	struct plumb_err err;
	uint64_t budget = 120;
	int now = 0, c;

	plumb_log_set_ident("plumb-send");
	while ((c = getopt_long(argc, argv, "c:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case OPT_STATE: state_dir = optarg; break;
		case OPT_BUDGET:
			if (plumb_parse_u64(&budget, optarg, 3600) != 0 || budget == 0) {
				fprintf(stderr, "plumb-send: --budget takes 1 to 3600 seconds\n");
				return 1;
			}
			break;
		case OPT_NOW: now = 1; break;
		case 'q': plumb_log_set_level(PLUMB_LOG_ERROR); break;
		default:
			fprintf(stderr, "usage: plumb-send [-c FILE] [--state-dir DIR] [--budget SECONDS] [--now] [-q]\n");
			return 1;   /* 2 and 4 tell what became of the reports */
		}
	}
	if (plumb_config_open(&cfg, config_path, NULL, state_dir, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		return 1;
	}
	if (plumb_state_open(&st, cfg.state_dir, 0, &err) != 0 || plumb_deliver(st, &cfg, (double)budget, !now, &res, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		plumb_state_free(st);
		plumb_config_release(&cfg);   /* every exit frees what it took (ASan-clean) */
		return 1;
	}
	printf("%u delivered, %u rejected, %u waiting", res.delivered, res.rejected, res.pending);
	if (res.split)
		printf(", %u split", res.split);
	if (res.auth_refused)
		printf(" (credentials refused)");
	putchar('\n');
	plumb_state_free(st);
	plumb_config_release(&cfg);
	/* as plumb deliver documents: 2 reports still wait, 4 some were
	 * rejected in this pass, 6 both */
	return (res.pending ? PLUMB_SEND_EXIT_WAITING : 0) | (res.rejected ? PLUMB_SEND_EXIT_REJECTED : 0);
}
