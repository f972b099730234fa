/* signers.h - the allowed_signers file of ssh-keygen(1): which keys may sign
 * baselines, as which principals, in which namespaces and time windows.
 * Read with OpenSSH's semantics; validity is judged by the agent's clock,
 * never the signer-chosen date. src/signers.c says where each rule comes from. */
#ifndef PLUMB_SIGNERS_H
#define PLUMB_SIGNERS_H

#include <stddef.h>
#include <time.h>

#include "plumb/error.h"

#define PLUMB_SIGNERS_FILE_MAX (1u << 20)
#define PLUMB_SIGNERS_MAX_LINES 10000
#define PLUMB_SIGNERS_SKIPS_KEPT 16     /* skipped lines remembered for callers */
#define PLUMB_SIGNERS_WARN_MAX 20       /* skipped lines logged one by one */
#define PLUMB_PRINCIPAL_MAX 256         /* the principal reported (longer: cut) */

/* One usable line. */
struct plumb_signer {
	char *principals;           /* the principals field as ssh-keygen reads it (quotes removed) */
	unsigned char *key;         /* canonical public key blob (see plumb_sshkey_canon) */
	size_t keylen;
	char *namespaces;           /* pattern list, or NULL for any */
	int has_after, has_before;
	time_t after, before;
	size_t line;
};

/* A line that was not used, and why ("file:line: why" is logged). */
struct plumb_signers_skip {
	size_t line;
	char why[160];
};

struct plumb_signers {
	struct plumb_signer *v;     /* usable lines, in file order */
	size_t n;
	size_t nskipped;            /* lines neither blank, comment, nor usable */
	struct plumb_signers_skip skips[PLUMB_SIGNERS_SKIPS_KEPT];  /* the first ones */
	char *name;
};

/* What a match found: the line that admitted the key, and the principal git
 * would name (the first principal of the first line listing the key). */
struct plumb_signer_match {
	const struct plumb_signer *signer;
	char principal[PLUMB_PRINCIPAL_MAX];
};

/* Parses allowed_signers text as ssh-keygen reads it. A line OpenSSH would
 * reject, or that plumb cannot use (sk-, DSA, certificate and RSA < 2048
 * keys, cert-authority), is skipped with a warning naming name:line and why,
 * as ssh-keygen does. A file with no usable line is an error. Returns 0,
 * PLUMB_E_PARSE (no usable line), PLUMB_E_TOOBIG or PLUMB_E_NOMEM. */
int plumb_signers_parse(struct plumb_signers **out, const char *name, const char *text, size_t len,
			struct plumb_err *err);

/* Reads and parses a file. */
int plumb_signers_load(struct plumb_signers **out, const char *path, struct plumb_err *err);

/* Decides as `git verify-commit` does (ssh-keygen -Y find-principals, then
 * -Y verify -n git -I P for each principal P found), with now for both
 * clocks: the first line whose key equals key and whose window holds now
 * names the principals; the key is trusted when, for one of them, some line
 * lists the key for a principal pattern that admits it (negations apply),
 * for namespace "git", valid at now. Returns 0 with *out filled,
 * PLUMB_E_NOTFOUND for a key no line lists, PLUMB_E_INVALID when it is
 * listed but not trusted; err says why. */
int plumb_signers_match(const struct plumb_signers *s, const unsigned char *key, size_t keylen,
			time_t now, struct plumb_signer_match *out, struct plumb_err *err);

void plumb_signers_free(struct plumb_signers *s);

/* OpenSSH's match_pattern_list: 1 if s matches a pattern of the
 * comma-separated list (*, ?), -1 if it matches a negated one (!pat), else
 * 0. A sub-pattern of 1023 bytes or more makes the whole list 0 (no match;
 * a negation never turns into a match). */
int plumb_match_pattern_list(const char *s, const char *list);

#endif
