/* signers.h - the allowed_signers file of ssh-keygen(1): which keys may sign
 * baselines, as which principals, in which namespaces and time windows.
 * Validity is judged by the agent's clock, never the signer-chosen date. */
#ifndef PLUMB_SIGNERS_H
#define PLUMB_SIGNERS_H

#include <stddef.h>
#include <time.h>

#include "plumb/error.h"

#define PLUMB_SIGNERS_FILE_MAX (1u << 20)
#define PLUMB_SIGNERS_MAX_LINES 10000

struct plumb_signer {
	char *principals;           /* the principals field, as written */
	unsigned char *key;         /* public key blob */
	size_t keylen;
	char *namespaces;           /* pattern list, or NULL for any */
	int has_after, has_before;
	time_t after, before;
	size_t line;
};

struct plumb_signers {
	struct plumb_signer *v;
	size_t n;
	char *name;
};

/* Parses allowed_signers text. A malformed line is an error naming
 * name:line; cert-authority lines are refused the same way (not supported).
 * Returns 0 or PLUMB_E_PARSE / PLUMB_E_UNSUPPORTED / PLUMB_E_NOMEM. */
int plumb_signers_parse(struct plumb_signers **out, const char *name, const char *text, size_t len,
			struct plumb_err *err);

/* Reads and parses a file. */
int plumb_signers_load(struct plumb_signers **out, const char *path, struct plumb_err *err);

/* Finds the signer whose key is key, whose namespaces admit "git", and
 * whose window contains now. Returns 0 with *out, PLUMB_E_NOTFOUND for an
 * unknown key, PLUMB_E_INVALID when the key is known but outside its window
 * or namespaces; err says which. */
int plumb_signers_match(const struct plumb_signers *s, const unsigned char *key, size_t keylen,
			time_t now, const struct plumb_signer **out, struct plumb_err *err);

void plumb_signers_free(struct plumb_signers *s);

/* ssh_config(5) pattern-list matching (*, ?, leading ! negates). */
int plumb_match_pattern_list(const char *s, const char *list);

#endif
