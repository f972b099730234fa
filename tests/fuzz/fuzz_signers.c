/* fuzz_signers.c - libFuzzer target: the allowed_signers parser, and
 * matching of what it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "plumb/signers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plumb_signers *s = NULL;
	struct plumb_signer_match who;
	struct plumb_err err;

	if (plumb_signers_parse(&s, "fuzz", (const char *)data, size, &err) == 0) {
		for (size_t i = 0; i < s->n; i++)
			(void)plumb_signers_match(s, s->v[i].key, s->v[i].keylen, 1800000000, &who, &err);
		plumb_signers_free(s);
	}
	return 0;
}
