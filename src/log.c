/* log.c - stderr logging with levels.
 * One write(2) per line so concurrent writers do not interleave mid-line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plumb/log.h"
#include "plumb/util.h"
#include "banned.h"

static enum plumb_log_level cur_level = PLUMB_LOG_WARN;
static const char *cur_ident = "plumb";

void plumb_log_set_level(enum plumb_log_level level) { cur_level = level; }
enum plumb_log_level plumb_log_get_level(void) { return cur_level; }
void plumb_log_set_ident(const char *ident) { cur_ident = ident; }

void plumb_log(enum plumb_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	char msg[2048], line[2048];
	va_list ap;
	int n, m;

	if (level > cur_level)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", cur_ident, names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	/* One line per message, whatever a path or a remote's text holds. */
	plumb_escape_ctl(line + n, sizeof(line) - (size_t)n - 1, msg);
	n += (int)strlen(line + n);
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
