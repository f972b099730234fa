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

/* Checks doc against the report schema. On success fills *finished with
 * finished_at. Returns 0, or PLUMB_E_INVALID with the JSON path of the
 * first violation in err ("events[2].drift[0]: unknown drift kind"). */
int hub_report_validate(const json_t *doc, time_t *finished, struct plumb_err *err);
#endif
