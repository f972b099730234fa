/* error.h - plumb's one error shape: 0 or a negative PLUMB_E_* code.
 * A struct plumb_err carries the human sentence (with file:line:col where known). */
#ifndef PLUMB_ERROR_H
#define PLUMB_ERROR_H

#include <stddef.h>

enum plumb_errcode {
	PLUMB_OK = 0,
	PLUMB_E_INTERNAL = -1,  /* a bug or an impossible state */
	PLUMB_E_NOMEM = -2,     /* allocation failed */
	PLUMB_E_IO = -3,        /* a system call failed (errno in the message) */
	PLUMB_E_PARSE = -4,     /* malformed input: YAML, JSON, durations */
	PLUMB_E_INVALID = -5,   /* well-formed input that breaks a rule */
	PLUMB_E_UNSAFE = -6,    /* a path cannot be used safely (symlink, wrong type) */
	PLUMB_E_NOTFOUND = -7,  /* a named thing does not exist */
	PLUMB_E_TOOBIG = -8,    /* input exceeds a hard cap */
	PLUMB_E_UNSUPPORTED = -9, /* not supported by this build or kernel */
	PLUMB_E_CORRUPT = -10,  /* stored data failed its own checks (a damaged git cache) */
};

/* Maximum length of one error sentence, including the NUL. */
#define PLUMB_ERR_MAX 1024

struct plumb_err {
	int code;
	char msg[PLUMB_ERR_MAX];
};

/* A short generic description of a PLUMB_E_* code; never NULL. */
const char *plumb_strerror(int code);

/* Records code and a printf-style sentence in err (err may be NULL).
 * Returns code, so callers can write `return plumb_err_set(err, ...)`. */
int plumb_err_set(struct plumb_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like plumb_err_set, appending ": strerror(errnum)". */
int plumb_err_errno(struct plumb_err *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Resets err to "no error". */
void plumb_err_clear(struct plumb_err *err);

#endif
