/* journal.h - the run's event journal: what a run is about to repair is
 * made durable before the first repair, and what each repair did is
 * appended after it, so a run killed at any point leaves a record of every
 * revert it may have made; the next run turns it into a report. */
#ifndef PLUMB_JOURNAL_H
#define PLUMB_JOURNAL_H

#include <stddef.h>

#include "plumb/error.h"
#include "plumb/report.h"

#define PLUMB_JOURNAL "journal"
/* Largest journal read back; a larger one is kept aside, not parsed. */
#define PLUMB_JOURNAL_MAX (64u << 20)

struct plumb_state;
struct plumb_journal;

/* Prepares the journal of the run whose report is rep (its id, mode and
 * baseline go into the journal's header). Nothing is written until the
 * first intent. Returns 0 or PLUMB_E_NOMEM. */
int plumb_journal_open(struct plumb_journal **out, struct plumb_state *st, const struct plumb_report *rep,
		       struct plumb_err *err);

/* Appends the event a repair is about to complete (action as it will be
 * if the repair succeeds). Not yet durable: see plumb_journal_sync. */
int plumb_journal_intend(struct plumb_journal *j, const struct plumb_event *ev, struct plumb_err *err);

/* Makes every intent so far durable (one fdatasync for the batch). Call
 * before the first repair the intents announce. */
int plumb_journal_sync(struct plumb_journal *j, struct plumb_err *err);

/* Appends the outcome of a repair (action, error, quarantine). */
int plumb_journal_done(struct plumb_journal *j, const struct plumb_event *ev, struct plumb_err *err);

/* Closes the journal (the file stays until plumb_journal_clear). Accepts NULL. */
void plumb_journal_free(struct plumb_journal *j);

/* Removes the journal, durably: call once the run's report is saved and
 * spooled. */
int plumb_journal_clear(struct plumb_state *st, struct plumb_err *err);

/* Reads a journal left by interrupted runs into one report per run (*out,
 * *n; none when there is no journal). An intent with an outcome becomes
 * that outcome; one without becomes a failed event saying the run was
 * interrupted before it could record the outcome. A torn last line is
 * skipped. Returns 0 or a negative code; the journal is left in place. */
int plumb_journal_recover(struct plumb_state *st, struct plumb_report **out, size_t *n, struct plumb_err *err);

#endif
