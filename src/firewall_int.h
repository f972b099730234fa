/* firewall_int.h - private to the firewall: the backends' operations table
 * (as git_ops is for sources) and the helpers they share (fw_common.c).
 * firewall.c imports the backends; the backends import only fw_common.c. */
#ifndef PLUMB_FIREWALL_INT_H
#define PLUMB_FIREWALL_INT_H

#include <jansson.h>

#include "plumb/firewall.h"
#include "plumb/report.h"

/* Adds a firewall event "firewall:<backend>:<table>" and counts it. */
int plumb_fw_event(struct plumb_report *rep, const char *backend, const char *table, unsigned drift,
		   enum plumb_action a, json_t *expected, json_t *actual, const char *error);

/* One failed event per owned table. */
void plumb_fw_fail_all(struct plumb_report *rep, const struct plumb_firewall *fw, const char *why);

/* {size, sha256[, diff against `against`]} of a table listing. */
json_t *plumb_fw_listing_state(const char *text, const char *against);

/* Runs child in a forked process moved into a fresh network namespace;
 * child writes one JSON object to wfd. Returns it, or NULL with err. */
json_t *plumb_fw_scratch(void (*child)(int wfd, const char *ruleset, const struct plumb_firewall *fw),
			 const char *ruleset, const struct plumb_firewall *fw, struct plumb_err *err);

struct plumb_source;

/* The ruleset file rel from the baseline's source (at most
 * PLUMB_RULESET_MAX bytes, no NUL), malloc'd; NULL with err. */
char *plumb_fw_load_ruleset(struct plumb_source *src, const char *rel, struct plumb_err *err);

/* One firewall backend. run: compares the owned tables of fw with ruleset
 * (already read) and, with repair, replaces them in one transaction,
 * recording in undo how to put back what was there; every finding is an
 * event in rep, never an error. restore: runs such an undo batch. */
struct plumb_fw_ops {
	const char *name;          /* firewall.backend */
	void (*run)(struct plumb_report *rep, const struct plumb_firewall *fw, const char *ruleset, int repair,
		    struct plumb_fw_undo *undo);
	int (*restore)(const char *batch, struct plumb_err *err);
};

extern const struct plumb_fw_ops plumb_fw_nftables, plumb_fw_iptables;

#endif
