/* fuzz_iptables.c - libFuzzer target: what reads iptables-save output and
 * iptables-restore rulesets (the normalizer and the table-section parser). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/firewall.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *n, **v;
	size_t k;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if ((n = plumb_ipt_normalize(text)) != NULL) {
		/* normalizing is idempotent */
		char *n2 = plumb_ipt_normalize(n);

		if (n2 == NULL || strcmp(n, n2) != 0)
			__builtin_trap();
		free(n2);
		free(n);
	}
	if (plumb_ipt_tables(text, &v, &k) == 0) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
	}
	free(text);
	return 0;
}
