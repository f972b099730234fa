/* validate.h - strict checks of an incoming report against plumb.report/v1
 * (docs/report.schema.json), written out by hand so the hub needs no
 * schema engine. Anything the schema does not allow is refused. */
#ifndef PLUMB_HUB_VALIDATE_H
#define PLUMB_HUB_VALIDATE_H
#include <jansson.h>
#include <time.h>
#include "plumb/error.h"

/* Parses text (n bytes) as JSON, refusing duplicate keys. Returns the
 * document, or NULL with "line L col C: reason" in err (PLUMB_E_PARSE). */
json_t *hub_report_parse(const char *text, size_t n, struct plumb_err *err);

/* Defaults of the hub's own caps on a report (beyond the schema's). */
#define HUB_STRING_DEFAULT 4096u   /* bytes of any one string but a diff */
#define HUB_STRING_MAX (1u << 20)  /* the largest --max-string accepted */
#define HUB_EVENTS_DEFAULT 10000u  /* events in one report */
#define HUB_EVENTS_MAX 100000u     /* the largest --max-events accepted */

struct hub_report_limits {
	size_t max_string; /* a longer string (a diff has the schema's 8192) is refused */
	size_t max_events; /* a report with more events is refused */
	/* When not_after is not 0: started_at, finished_at and every event's
	 * at must be at most not_after (the hub's clock plus the skew it
	 * allows), and finished_at at least not_before (retention). */
	time_t not_after, not_before;
};

/* Checks doc against the report schema and lim (NULL: the defaults). On
 * success fills *finished with finished_at. Returns 0, or PLUMB_E_INVALID
 * with the JSON path of the first violation in err ("events[2].drift[0]:
 * unknown drift kind", "events[0].error: longer than 4096 bytes"). */
int hub_report_validate(const json_t *doc, const struct hub_report_limits *lim, time_t *finished,
			struct plumb_err *err);
#endif
