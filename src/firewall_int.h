/* firewall_int.h - private glue between the firewall backends (firewall.c
 * for nftables, fw_iptables.c for iptables): events, states, the scratch
 * network namespace. */
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

/* The iptables backend. */
void plumb_fw_iptables_run(struct plumb_report *rep, const struct plumb_firewall *fw, const char *ruleset,
			   int repair, struct plumb_fw_undo *undo);
int plumb_fw_iptables_restore(const char *batch, struct plumb_err *err);

#endif
