/* buf.c - bounded growable byte buffer.
 * See buf.h for the invariants. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/error.h"
#include "banned.h"

void plumb_buf_init(struct plumb_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void plumb_buf_release(struct plumb_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Makes room for n more bytes plus the NUL. */
static int grow(struct plumb_buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return PLUMB_E_TOOBIG;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return PLUMB_E_NOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int plumb_buf_add(struct plumb_buf *b, const void *p, size_t n)
{
	int r;

	if ((r = grow(b, n)) != 0)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int plumb_buf_adds(struct plumb_buf *b, const char *s)
{
	return plumb_buf_add(b, s, strlen(s));
}

int plumb_buf_vaddf(struct plumb_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, r;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return PLUMB_E_INTERNAL;
	if ((r = grow(b, (size_t)n)) != 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int plumb_buf_addf(struct plumb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = plumb_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

char *plumb_buf_detach(struct plumb_buf *b, size_t *len_out)
{
	char *p = b->data;

	if (p == NULL && (p = calloc(1, 1)) == NULL)
		return NULL;
	if (len_out != NULL)
		*len_out = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

int plumb_buf_read_fd(struct plumb_buf *b, int fd)
{
	char chunk[16384];
	ssize_t n;
	int r;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PLUMB_E_IO;
		}
		if (n == 0)
			return 0;
		if ((r = plumb_buf_add(b, chunk, (size_t)n)) != 0)
			return r;
	}
}

int plumb_buf_load_file(struct plumb_buf *b, const char *path, size_t max, const char *what,
			struct plumb_err *err)
{
	int fd, r;

	plumb_buf_init(b, max);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return plumb_err_errno(err, errno == ENOENT ? PLUMB_E_NOTFOUND : PLUMB_E_IO, errno,
				       "cannot open %s '%s'", what, path);
	r = plumb_buf_read_fd(b, fd);
	close(fd);
	if (r != 0) {
		plumb_buf_release(b);
		return plumb_err_errno(err, r, errno, "cannot read %s '%s'", what, path);
	}
	return 0;
}
