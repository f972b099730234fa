/* fuzz_hub_report.c - libFuzzer target: what plumb-hub does with a POST
 * body from the network before anything is stored (JSON parse, then the
 * strict plumb.report/v1 checks). */
#include <stddef.h>
#include <stdint.h>

#include "../../hub/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plumb_err err;
	time_t finished;
	json_t *doc = hub_report_parse((const char *)data, size, &err);
	if (doc) {
		/* the defaults, then tight caps and a clock (the hub's own limits) */
		static const struct hub_report_limits tight = {.max_string = 16, .max_events = 2,
							       .not_after = 1767225600, .not_before = 1735689600};
		(void)hub_report_validate(doc, NULL, &finished, &err);
		(void)hub_report_validate(doc, &tight, &finished, &err);
		json_decref(doc);
	}
	return 0;
}
