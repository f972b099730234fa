/* log.c - stderr logging with levels, in journald's priorities when stderr is the journal.
 * One write(2) per line so concurrent writers do not interleave mid-line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plumb/log.h"
#include "plumb/util.h"
#include "banned.h"

static enum plumb_log_level cur_level = PLUMB_LOG_WARN;
static const char *cur_ident = "plumb";
static enum plumb_log_format cur_format = PLUMB_LOG_FORMAT_AUTO;
static int journal = -1;  /* stderr is journald's stream: -1 not yet known */

void plumb_log_set_level(enum plumb_log_level level) { cur_level = level; }
enum plumb_log_level plumb_log_get_level(void) { return cur_level; }
void plumb_log_set_ident(const char *ident) { cur_ident = ident; }
void plumb_log_set_format(enum plumb_log_format format) { cur_format = format; }

int plumb_log_journal_stream(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connects; a
	 * child whose stderr was redirected elsewhere inherits the variable,
	 * so the numbers must match stderr itself (sd_journal_stream_fd(3)). */
	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* JSON string body of s into out (NUL-terminated, truncated at outlen). */
static size_t json_escape(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s != '\0' && n + 7 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[c >> 4];
			out[n + 5] = hex[c & 15];
			n += 6;
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

void plumb_log(enum plumb_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	static const char prio[] = {'3', '4', '6', '7'};
	char msg[2048], line[2048];
	va_list ap;
	int n, m;

	if (level > cur_level)
		return;
	if (journal < 0)
		journal = plumb_log_journal_stream();
	va_start(ap, fmt);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	if (cur_format == PLUMB_LOG_FORMAT_JSON) {
		char ts[32];
		struct tm tm;
		time_t now = time(NULL);

		if (gmtime_r(&now, &tm) == NULL || strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			ts[0] = '\0';
		n = snprintf(line, sizeof(line), "%s{\"ts\":\"%s\",\"level\":\"%s\",\"ident\":\"%s\",\"msg\":\"",
			     journal ? (char[]){'<', prio[level], '>', '\0'} : "", ts, names[level], cur_ident);
		if (n < 0 || (size_t)n >= sizeof(line) - 4)
			return;
		n += (int)json_escape(line + n, sizeof(line) - (size_t)n - 3, msg);
		line[n++] = '"';
		line[n++] = '}';
	} else {
		/* Under journald the identifier is recorded already (SYSLOG_IDENTIFIER). */
		if (journal)
			n = snprintf(line, sizeof(line), "<%c>%s: ", prio[level], names[level]);
		else
			n = snprintf(line, sizeof(line), "%s: %s: ", cur_ident, names[level]);
		if (n < 0 || (size_t)n >= sizeof(line))
			return;
		/* One line per message, whatever a path or a remote's text holds. */
		plumb_escape_ctl(line + n, sizeof(line) - (size_t)n - 1, msg);
		n += (int)strlen(line + n);
		if ((size_t)n > sizeof(line) - 2)
			n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
