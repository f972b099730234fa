/* fuzz_baseline.c - libFuzzer target: the baseline and agent-config parsers
 * on arbitrary bytes must never crash, leak, or accept-then-misbehave. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plumb/baseline.h"
#include "plumb/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plumb_baseline *b = NULL;
	struct plumb_config cfg;
	struct plumb_err err;

	if (plumb_baseline_parse(&b, "fuzz", data, size, &err) == 0) {
		/* What parses must satisfy the invariants the engine relies on. */
		for (size_t i = 0; i < b->nfiles; i++) {
			const struct plumb_file_res *f = &b->files[i];

			if (f->path[0] != '/' || strstr(f->path, "/../") || strstr(f->path, "//") ||
			    (f->has_content && f->source) || (i > 0 && strcmp(b->files[i - 1].path, f->path) >= 0))
				__builtin_trap();
		}
		plumb_baseline_free(b);
	}
	if (plumb_config_defaults(&cfg) == 0) {
		(void)plumb_config_parse(&cfg, "fuzz", data, size, &err);
		plumb_config_release(&cfg);
	}
	return 0;
}
