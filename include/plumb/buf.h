/* buf.h - the one growable byte buffer, bounded by a maximum set at creation.
 * Invariants: data[len] == '\0' always (so text can be used as a C string),
 * len <= max, and a failed append leaves the buffer unchanged. */
#ifndef PLUMB_BUF_H
#define PLUMB_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct plumb_buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard cap on len */
};

/* Prepares an empty buffer that may grow to max bytes. */
void plumb_buf_init(struct plumb_buf *b, size_t max);

/* Frees the storage and resets to empty (max kept). Accepts NULL. */
void plumb_buf_release(struct plumb_buf *b);

/* Appends n bytes. Returns 0, PLUMB_E_TOOBIG past max, or PLUMB_E_NOMEM. */
int plumb_buf_add(struct plumb_buf *b, const void *p, size_t n);

/* Appends a C string. Same returns as plumb_buf_add. */
int plumb_buf_adds(struct plumb_buf *b, const char *s);

/* Appends formatted text. Same returns as plumb_buf_add. */
int plumb_buf_addf(struct plumb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int plumb_buf_vaddf(struct plumb_buf *b, const char *fmt, va_list ap);

/* Gives the data to the caller (to free()) and resets the buffer.
 * Never returns NULL: an empty buffer yields "". Returns NULL only on ENOMEM. */
char *plumb_buf_detach(struct plumb_buf *b, size_t *len_out);

/* Reads all of fd into b, up to b->max. Returns 0, PLUMB_E_TOOBIG,
 * PLUMB_E_NOMEM or PLUMB_E_IO (errno preserved). */
int plumb_buf_read_fd(struct plumb_buf *b, int fd);

/* Reads the whole file at path (what names it, e.g. "configuration", goes
 * into error messages) into b, initialized here with max. Returns 0,
 * PLUMB_E_NOTFOUND, PLUMB_E_TOOBIG or PLUMB_E_IO with err filled. */
struct plumb_err;
int plumb_buf_load_file(struct plumb_buf *b, const char *path, size_t max, const char *what,
			struct plumb_err *err);

#endif
