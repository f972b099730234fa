/* fuzz_signers.c - libFuzzer target: the allowed_signers parser (OpenSSH's
 * reading of lines, options, dates, keys), matching of what it accepts at
 * several clocks, and pattern lists (first line the subject, the rest the list). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/log.h"
#include "plumb/signers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t clocks[] = {0, 946684800, 1800000000, 4102444800};
	struct plumb_signers *s = NULL;
	struct plumb_signer_match who;
	struct plumb_err err;
	const uint8_t *nl;

	plumb_log_set_level(PLUMB_LOG_ERROR);
	if (plumb_signers_parse(&s, "fuzz", (const char *)data, size, &err) == 0) {
		for (size_t i = 0; i < s->n && i < 64; i++)
			for (size_t c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++)
				(void)plumb_signers_match(s, s->v[i].key, s->v[i].keylen, clocks[c], &who, &err);
		plumb_signers_free(s);
	}
	if ((nl = memchr(data, '\n', size)) != NULL && size < 8192) {
		char *subject = strndup((const char *)data, (size_t)(nl - data));
		char *list = strndup((const char *)nl + 1, size - (size_t)(nl - data) - 1);

		if (subject != NULL && list != NULL)
			(void)plumb_match_pattern_list(subject, list);
		free(subject);
		free(list);
	}
	return 0;
}
