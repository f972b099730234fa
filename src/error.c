/* error.c - error codes and error sentences.
 * The only place that turns codes into words. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plumb/error.h"
#include "banned.h"

const char *plumb_strerror(int code)
{
	switch (code) {
	case PLUMB_OK: return "success";
	case PLUMB_E_INTERNAL: return "internal error";
	case PLUMB_E_NOMEM: return "out of memory";
	case PLUMB_E_IO: return "input/output error";
	case PLUMB_E_PARSE: return "parse error";
	case PLUMB_E_INVALID: return "invalid input";
	case PLUMB_E_UNSAFE: return "unsafe path";
	case PLUMB_E_NOTFOUND: return "not found";
	case PLUMB_E_TOOBIG: return "too large";
	case PLUMB_E_UNSUPPORTED: return "not supported";
	case PLUMB_E_CORRUPT: return "damaged data";
	}
	return "unknown error";
}

static int vset(struct plumb_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int vset(struct plumb_err *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int plumb_err_set(struct plumb_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int plumb_err_errno(struct plumb_err *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	return code;
}

void plumb_err_clear(struct plumb_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
