/* firewall.c - the firewall resource: picks the backend named by the
 * baseline's firewall.backend from one operations table (fw_nftables.c,
 * fw_iptables.c; shared helpers in fw_common.c) and hands it the ruleset.
 * The backends never call back here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/firewall.h"
#include "firewall_int.h"
#include "banned.h"

static const struct plumb_fw_ops *const backends[] = {&plumb_fw_nftables, &plumb_fw_iptables};

static const struct plumb_fw_ops *backend(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int plumb_firewall_restore(const struct plumb_fw_undo *undo, struct plumb_err *err)
{
	if (undo == NULL || undo->batch == NULL)
		return 0;
	return (undo->iptables ? &plumb_fw_iptables : &plumb_fw_nftables)->restore(undo->batch, err);
}

int plumb_firewall_run(struct plumb_report *rep, const struct plumb_baseline *b, struct plumb_source *src,
		       int repair, struct plumb_fw_undo *undo, struct plumb_err *err)
{
	const struct plumb_firewall *fw = b->firewall;
	const struct plumb_fw_ops *ops;
	struct plumb_err e;
	char *ruleset;

	(void)err;   /* a firewall that cannot be enforced is failed events, not a failed run */
	if (fw == NULL)
		return 0;
	if ((ops = backend(fw->backend)) == NULL) {
		char why[128];

		snprintf(why, sizeof(why), "no firewall backend '%.64s'", fw->backend);
		plumb_fw_fail_all(rep, fw, why);
		return 0;
	}
	if ((ruleset = plumb_fw_load_ruleset(src, fw->ruleset, &e)) == NULL) {
		plumb_fw_fail_all(rep, fw, e.msg);
		return 0;
	}
	ops->run(rep, fw, ruleset, repair, undo);
	free(ruleset);
	return 0;
}
