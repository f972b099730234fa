/* log.h - one line per message on stderr, with a level.
 * Library code logs only what it alone understands; it never exits. */
#ifndef PLUMB_LOG_H
#define PLUMB_LOG_H

enum plumb_log_level {
	PLUMB_LOG_ERROR = 0,
	PLUMB_LOG_WARN = 1,
	PLUMB_LOG_INFO = 2,
	PLUMB_LOG_DEBUG = 3,
};

/* Messages above this level are dropped. Default: PLUMB_LOG_WARN. */
void plumb_log_set_level(enum plumb_log_level level);
enum plumb_log_level plumb_log_get_level(void);

/* Sets the program name printed before each line ("plumb", "plumbd"). */
void plumb_log_set_ident(const char *ident);

void plumb_log(enum plumb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
