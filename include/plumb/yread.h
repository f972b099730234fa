/* yread.h - a strict pull reader over libyaml's event API, shared by the
 * config and baseline parsers: no anchors, aliases, tags or second documents,
 * a depth limit, and every error worded as "file:line:col: problem". */
#ifndef PLUMB_YREAD_H
#define PLUMB_YREAD_H

#include <stddef.h>
#include <stdint.h>

#include "plumb/error.h"

/* Deepest nesting of mappings and sequences accepted. */
#define PLUMB_YREAD_MAX_DEPTH 16

struct plumb_yread;

enum plumb_ykind {
	PLUMB_Y_SCALAR,
	PLUMB_Y_MAP,       /* start of a mapping */
	PLUMB_Y_MAP_END,
	PLUMB_Y_SEQ,       /* start of a sequence */
	PLUMB_Y_SEQ_END,
};

/* One event. value/len are valid until the next call on the reader. */
struct plumb_yev {
	enum plumb_ykind kind;
	const char *value;   /* scalar text, NUL-terminated (may contain NULs
	                      * if quoted with escapes: use len) */
	size_t len;
	int plain;           /* 1 for an unquoted scalar */
	size_t line, col;    /* 1-based position of the event */
};

/* Starts reading len bytes of data named name (for messages), up to the
 * start of the document's root node. An empty document is an error.
 * Returns 0 or PLUMB_E_PARSE / PLUMB_E_NOMEM with err filled. */
int plumb_yread_open(struct plumb_yread **out, const char *name,
		     const void *data, size_t len, struct plumb_err *err);

/* Frees the reader. Accepts NULL. */
void plumb_yread_free(struct plumb_yread *y);

/* Next event of the document. Returns 0 or PLUMB_E_PARSE. */
int plumb_yread_next(struct plumb_yread *y, struct plumb_yev *ev, struct plumb_err *err);

/* After the root node ends: requires the end of the stream (no second
 * document). Returns 0 or PLUMB_E_PARSE. */
int plumb_yread_close(struct plumb_yread *y, struct plumb_err *err);

/* Inside a mapping, reads the next key into key (a plain or quoted scalar).
 * Returns 1 with a key, 0 at the end of the mapping, or a negative code. */
int plumb_yread_key(struct plumb_yread *y, struct plumb_yev *key, struct plumb_err *err);

/* Reads the next event and requires kind. Returns 0 or PLUMB_E_PARSE
 * ("expected a mapping, found a sequence"). */
int plumb_yread_expect(struct plumb_yread *y, struct plumb_yev *ev,
		       enum plumb_ykind kind, const char *what, struct plumb_err *err);

/* Typed scalars. Each reads one event, requires a scalar of the right form
 * and reports "file:line:col: KEY: problem" otherwise. */

/* Any string; a plain null ("", "~", "null") is refused unless allow_empty. */
int plumb_yread_str(struct plumb_yread *y, char **out, const char *key, int allow_empty,
		    struct plumb_err *err);
/* Plain "true" or "false". */
int plumb_yread_bool(struct plumb_yread *y, int *out, const char *key, struct plumb_err *err);
/* Unsigned decimal up to max. */
int plumb_yread_u64(struct plumb_yread *y, uint64_t *out, uint64_t max, const char *key,
		    struct plumb_err *err);

/* Formats "name:line:col: " + fmt into err with code, for parsers' own checks. */
int plumb_yread_fail(struct plumb_yread *y, const struct plumb_yev *at, int code,
		     struct plumb_err *err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The name given at open (for callers' messages). */
const char *plumb_yread_name(const struct plumb_yread *y);

#endif
