/* report.h - one run's findings: events and summary, serialized as the
 * plumb.report/v1 JSON object (schema in docs/report.schema.json). */
#ifndef PLUMB_REPORT_H
#define PLUMB_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>

#include "plumb/confine.h"
#include "plumb/error.h"

#define PLUMB_REPORT_SCHEMA "plumb.report/v1"

/* Drift kinds, as bits. */
enum {
	PLUMB_DRIFT_CONTENT = 1 << 0,
	PLUMB_DRIFT_MODE = 1 << 1,
	PLUMB_DRIFT_OWNER = 1 << 2,
	PLUMB_DRIFT_GROUP = 1 << 3,
	PLUMB_DRIFT_TYPE = 1 << 4,
	PLUMB_DRIFT_TARGET = 1 << 5,
	PLUMB_DRIFT_MISSING = 1 << 6,
	PLUMB_DRIFT_PRESENT = 1 << 7,
	PLUMB_DRIFT_RULES = 1 << 8,
	PLUMB_DRIFT_ACL = 1 << 9,        /* an extended or default ACL on a managed path */
	PLUMB_DRIFT_LINKS = 1 << 10,     /* a managed regular file with more than one link */
	PLUMB_DRIFT_UNMANAGED = 1 << 11, /* a purged directory holds entries the baseline does not name */
	PLUMB_DRIFT_VALUE = 1 << 12,     /* a live value (sysctl) differs */
	PLUMB_DRIFT_ENABLED = 1 << 13,   /* a unit's enablement (enabled, disabled, masked) differs */
	PLUMB_DRIFT_RUNNING = 1 << 14,   /* a unit runs, or does not, against the baseline */
};

enum plumb_action {
	PLUMB_ACT_DETECTED,     /* audit, check, or enforce: warn */
	PLUMB_ACT_REVERTED,
	PLUMB_ACT_FAILED,
	PLUMB_ACT_CONTESTED,
	PLUMB_ACT_REFUSED,
	PLUMB_ACT_ROLLED_BACK,
	PLUMB_ACT_NOTIFIED,     /* a notify: (unit reload/restart, exec) ran after a change */
};

struct plumb_event {
	char *resource;         /* "file:/etc/motd", "baseline" */
	unsigned drift;         /* PLUMB_DRIFT_* bits */
	enum plumb_action action;
	json_t *expected;       /* owned; may be NULL */
	json_t *actual;         /* owned; may be NULL */
	char *error;            /* may be NULL */
	char *quarantine;       /* sha256 of the kept drifted content, or NULL */
	uint64_t count;         /* contested: reverts counted this cycle (0: none) */
	int evidence_lost;      /* the drifted content could not be kept (error says why) */
	time_t at;
};

/* Kinds of resource a run looked at in full ("covers" in "standing"): a
 * control plane clears what such a report does not show only for these. */
enum {
	PLUMB_COVERS_FILE = 1u << 0,
	PLUMB_COVERS_FIREWALL = 1u << 1,
	PLUMB_COVERS_SYSCTL = 1u << 2,
	PLUMB_COVERS_SERVICE = 1u << 3,
	PLUMB_COVERS_MODULE = 1u << 4,
	PLUMB_COVERS_PACKAGE = 1u << 5,
	PLUMB_COVERS_LIVE = PLUMB_COVERS_SYSCTL | PLUMB_COVERS_SERVICE | PLUMB_COVERS_MODULE,
};

struct plumb_report {
	char id[37];
	char host[256];
	const char *mode;       /* "enforce" | "audit" | "check" */
	time_t started_at, finished_at;
	char *commit, *signer, *fingerprint;   /* NULL when unsigned */
	int has_serial;
	uint64_t serial;
	int stale;              /* the baseline's expires: has passed */
	struct plumb_event *events;
	size_t nevents, cap;
	uint64_t resources, drifted, reverted, failed;
	/* the spool's own troubles, carried so the control plane sees them */
	uint64_t spool_dropped, spool_write_errors, spool_rejected;
	uint64_t spool_set_aside;   /* damaged stats files kept aside: counters before them are in those files */
	struct plumb_confinement confinement;   /* weaker than designed: "confinement" in the JSON */
	/* "standing" in the JSON (plumbd's reports): what holds for the host
	 * when the report was made, beyond this run's events, so a control
	 * plane never takes a partial run's silence for a resolve. */
	int has_standing;
	unsigned covers;            /* PLUMB_COVERS_*: the kinds of resource this run looked at, all of them */
	uint64_t unresolved;        /* drifted, failing or contested now, host-wide */
	char *refused;              /* the newest tip's refusal while it stands, or NULL */
};

/* Starts a report: fresh UUID, host name, started_at = now. */
int plumb_report_init(struct plumb_report *r, const char *mode, struct plumb_err *err);

/* Appends an event, taking ownership of its pointers (also on failure,
 * when they are freed). Returns 0 or PLUMB_E_NOMEM. */
int plumb_report_add(struct plumb_report *r, struct plumb_event *ev);

/* Appends an event on resource "baseline" (refused, a re-anchoring, a
 * failed anchor write) whose error says why; a failed one is counted.
 * Returns 0 or PLUMB_E_NOMEM. */
int plumb_report_baseline_event(struct plumb_report *r, enum plumb_action action, const char *why);

/* Moves src's events and counts into dst (src keeps its header; release it). */
void plumb_report_merge(struct plumb_report *dst, struct plumb_report *src);

/* The one event builder for resource providers: appends an event on
 * resource, stamped now, taking ownership of expected and actual (freed on
 * failure too); error is copied. Summary counts are the caller's. Returns
 * 0 or PLUMB_E_NOMEM. */
int plumb_report_event(struct plumb_report *r, const char *resource, unsigned drift, enum plumb_action a,
		       json_t *expected, json_t *actual, const char *error);

/* The report name of one PLUMB_WEAKER_* bit (confine.h: "user_missing",
 * "user_unreachable", "no_landlock"), NULL for anything else; and the bit
 * of a name, 0 when unknown. (Here, not in confine.c: the hub links the
 * report vocabulary without the sandbox.) */
const char *plumb_confine_name(unsigned bit);
unsigned plumb_confine_bit(const char *name);

/* Builds the plumb.report/v1 JSON object. Returns NULL on allocation failure. */
json_t *plumb_report_json(const struct plumb_report *r);

/* One event as its plumb.report/v1 JSON object. NULL on allocation failure. */
json_t *plumb_event_json(const struct plumb_event *ev);

/* Reads an event back from such an object (as the journal keeps them).
 * Returns 0, PLUMB_E_INVALID (no resource or an unknown action) or
 * PLUMB_E_NOMEM; *out is then empty. */
int plumb_event_parse(struct plumb_event *out, const json_t *o);

/* Splits a plumb.report/v1 object (as built above, or read back from the
 * spool) into reports whose compact JSON is at most max_bytes each: every
 * one whole and valid on its own, events in order, a new id derived from
 * doc's id and its place, the summary counting its own events (resources:
 * the run's), and "run": {id, part, parts} (see report.c). An event that
 * alone exceeds the cap loses its diffs first ("diff_dropped": true in
 * expected/actual), never the event: it then goes alone, even if larger.
 * A doc that fits comes back as one copy (diffs dropped only if needed)
 * with its id and no "run". *out is an array of *nout new references;
 * free with plumb_report_parts_free. Returns 0, PLUMB_E_INVALID (not a
 * report, or too many parts) or PLUMB_E_NOMEM. */
int plumb_report_split(json_t ***out, size_t *nout, const json_t *doc, size_t max_bytes, struct plumb_err *err);
void plumb_report_parts_free(json_t **v, size_t n);

/* Frees what an event owns (one not handed to plumb_report_add). */
void plumb_event_release(struct plumb_event *ev);

/* Frees everything the report owns. */
void plumb_report_release(struct plumb_report *r);

/* Writes "content,mode" style names of drift bits into out. */
void plumb_drift_names(char *out, size_t outlen, unsigned drift);

const char *plumb_action_name(enum plumb_action a);

/* Flags of plumb_report_print_human(). */
#define PLUMB_HUMAN_DIFF        0x1  /* the diff of each content drift */
#define PLUMB_HUMAN_COLOR       0x2  /* ANSI colours (out is a terminal) */
#define PLUMB_HUMAN_NO_REFUSED  0x4  /* skip refused events (logged on stderr already) */

/* Prints a report object (as built above, or read back from disk) for
 * people: one line per event, then one line per drift kind with what was
 * found and what the baseline wants ("    mode 0666, want 0644"), then a
 * summary line. Control characters from files or remotes are escaped. */
void plumb_report_print_human(const json_t *report, FILE *out, unsigned flags);

#endif
