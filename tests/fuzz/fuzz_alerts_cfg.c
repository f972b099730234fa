/* fuzz_alerts_cfg.c - libFuzzer target: plumb-hub's --alerts file (YAML:
 * receivers, routes, durations, globs). A secret_file the input names is
 * opened read-only, never followed through a symlink, never waited on (a
 * FIFO is refused, not read). */
#include <stddef.h>
#include <stdint.h>

#include "../../hub/alerts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hub_alerts_cfg *cfg = NULL;
	struct plumb_err err;

	if (hub_alerts_cfg_parse(&cfg, "fuzz.yml", (const char *)data, size, &err) == 0) {
		for (int i = 0; i < cfg->nroute; i++)
			(void)hub_route_match(&cfg->route[i], "drifting", "web1", "file:/etc/x");
		hub_alerts_cfg_free(cfg);
	}
	return 0;
}
