/* firewall.h - firewall resources: the nftables tables a baseline owns.
 * plumb compares and atomically replaces only those tables, never the
 * whole ruleset, so Docker's, Kubernetes' and fail2ban's tables are left be. */
#ifndef PLUMB_FIREWALL_H
#define PLUMB_FIREWALL_H

#include "plumb/baseline.h"
#include "plumb/error.h"
#include "plumb/report.h"

struct plumb_source;

#define PLUMB_RULESET_MAX (1u << 20)
#define PLUMB_NFT_LISTING_MAX (8u << 20)

/* What the owned tables were before a repair: one nft batch that restores
 * them (and removes those that did not exist). */
struct plumb_fw_undo {
	char *batch;        /* malloc'd; NULL when nothing was changed */
	int iptables;       /* batch is iptables-restore input, not nft */
};

/* Runs undo->batch as one transaction. Returns 0 or a negative code. */
int plumb_firewall_restore(const struct plumb_fw_undo *undo, struct plumb_err *err);

void plumb_fw_undo_release(struct plumb_fw_undo *undo);

/* Checks (and with repair, reverts) every owned table of b->firewall in the
 * calling process's network namespace, adding one event per drifted or
 * failed table to rep. A ruleset that does not load is a failed event and
 * the live tables stay as they were. Returns 0, or a negative code for a
 * failure of the run itself. */
int plumb_firewall_run(struct plumb_report *rep, const struct plumb_baseline *b, struct plumb_source *src,
		       int repair, struct plumb_fw_undo *undo, struct plumb_err *err);

/* iptables-save text without comments and with chain counters zeroed: the
 * form compared. Returns malloc'd text or NULL (allocation failure). */
char *plumb_ipt_normalize(const char *save);

/* The tables a ruleset in iptables-restore format defines ("*filter" lines),
 * as a malloc'd array of n malloc'd names. Returns 0 or a negative code
 * (PLUMB_E_PARSE: a table twice, or a bad name). */
int plumb_ipt_tables(const char *ruleset, char ***out, size_t *n);

#endif
