/* log.h - one line per message on stderr, with a level (and journald's
 * <N> priority prefix when stderr is the journal's stream).
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

enum plumb_log_format {
	PLUMB_LOG_FORMAT_AUTO = 0,  /* "ident: level: message" */
	PLUMB_LOG_FORMAT_JSON = 1,  /* {"ts","level","ident","msg"} per line (log.format: json) */
};
void plumb_log_set_format(enum plumb_log_format format);

/* Returns 1 when stderr is the stream systemd named in JOURNAL_STREAM
 * (dev:ino of stderr itself, not an inherited variable), else 0. Then each
 * line starts with <3> error, <4> warning, <6> info or <7> debug, which
 * journald turns into the entry's PRIORITY (sd-daemon(3)). */
int plumb_log_journal_stream(void);

void plumb_log(enum plumb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
