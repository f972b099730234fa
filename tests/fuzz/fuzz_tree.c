/* fuzz_tree.c - libFuzzer target: the strict tree parser (and the lookup by
 * name over what it accepts) and the commit header parser, over arbitrary
 * object bytes: what the parent stores arrived from plumb-fetch. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/objstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plumb_tree t;
	struct plumb_err err;
	unsigned char tree[20], parent[20];
	int has;

	if (plumb_tree_parse(&t, data, size, &err) == 0) {
		for (size_t i = 0; i < t.n; i++) {
			const struct plumb_tree_entry *e = plumb_tree_find(&t, t.v[i].name, t.v[i].namelen);

			/* every accepted entry is found by its name, names are clean */
			if (e != &t.v[i] || memchr(t.v[i].name, '/', t.v[i].namelen) != NULL || t.v[i].namelen == 0)
				abort();
		}
		plumb_tree_release(&t);
	}
	(void)plumb_commit_parse(data, size, tree, parent, &has, &err);
	return 0;
}
