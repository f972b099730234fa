/* run.h - one complete run (check or apply) as both plumb and plumbd do it:
 * lock state_dir, load and validate the baseline from its source, run the
 * engine on the root, persist the report. Keeps agent/ mains thin. */
#ifndef PLUMB_RUN_H
#define PLUMB_RUN_H

#include <jansson.h>

#include "plumb/config.h"
#include "plumb/error.h"
#include "plumb/firewall.h"
#include "plumb/gitsrc.h"
#include "plumb/report.h"
#include "plumb/trust.h"

struct plumb_state;
struct plumb_quarantine;

/* Exit codes (DESIGN.md contract; apply's after Puppet --detailed-exitcodes). */
enum {
	PLUMB_EXIT_OK = 0,
	PLUMB_EXIT_ERROR = 1,
	PLUMB_EXIT_CHANGES = 2,     /* check: drift found; apply: changes made or drift detected */
	PLUMB_EXIT_FAILURES = 4,
	PLUMB_EXIT_BOTH = 6,
};

struct plumb_run_opts {
	int apply;                  /* 0: check */
	const char *baseline_dir;   /* unsigned directory source, or NULL for the configured source */
	int threads;                /* 0: one per CPU */
};

struct plumb_selection;
struct plumb_state;

/* What one run over a selected baseline covers, for every caller: plumb
 * apply and check (everything), and each of plumbd's runs (a full scan, the
 * inotify dirty set, firewall-only, live state). */
struct plumb_run_scope {
	int repair;                 /* enforce mode and a repairing command */
	int threads;
	const unsigned char *only;  /* per file resource; NULL: every one */
	int firewall, live, packages;   /* as struct plumb_engine_opts */
	int guard;                  /* a new git baseline: PLUMB_GUARD_* after its firewall repair */
	int anchor;                 /* record sel as the anchor once applied (not when rolled back,
				     * nor while a deferred probe is out) */
	/* called after the engine, before the guard (plumbd counts reverts there) */
	void (*after_engine)(void *ctx, struct plumb_report *rep);
	void *ctx;
};

enum {
	PLUMB_GUARD_NONE = 0,
	PLUMB_GUARD_IN_PLACE = 1,   /* probe the remote here, waiting (plumb apply) */
	PLUMB_GUARD_DEFER = 2,      /* the caller probes (plumbd, from its loop): see probe */
};

struct plumb_run_result {
	int rolled_back;            /* the lock-out guard put the old firewall back */
	int anchored;               /* sel is now the anchor */
	/* PLUMB_GUARD_DEFER and the probe is needed: the anchor is not
	 * recorded, and undo (the caller's to release) holds the previous
	 * tables for plumb_select_lockout_rollback */
	int probe;
	struct plumb_fw_undo undo;
};

/* The report header from a selection: commit, signer, fingerprint,
 * serial, stale. Returns 0 or PLUMB_E_NOMEM. */
int plumb_run_header(struct plumb_report *rep, const struct plumb_selection *sel);

/* The one run, under the state lock the caller holds: the quarantine and
 * the journal when repairing, the engine over scope, the lock-out guard,
 * the anchor. (A killed run's journal is read by the caller first,
 * plumb_run_recover, and merged after: its reverts ride in the report
 * without deciding plumb's exit code.) Resource failures are
 * events; returns 0 or the engine's negative code (err filled; the guard
 * and anchor are then skipped). */
int plumb_run_selected(struct plumb_report *rep, const struct plumb_config *cfg, struct plumb_state *st,
		       const struct plumb_selection *sel, int rootfd, const struct plumb_run_scope *scope,
		       struct plumb_run_result *res, struct plumb_err *err);

/* Performs one run. On return *report_out holds the run's report (also
 * for refused baselines) or NULL when the run could not start; the return
 * value is the process exit code, with err filled when it is 1. */
int plumb_run(const struct plumb_config *cfg, const struct plumb_run_opts *o,
	      json_t **report_out, struct plumb_err *err);

struct plumb_verify_result {
	struct plumb_git_tip tip;   /* commit, signer, fingerprint */
	uint64_t serial;
	int is_new;                 /* differs from the anchor */
	int stale;
	struct plumb_trust anchor;  /* the last applied commit, if any */
	char reanchored[640];       /* non-empty: the anchor's key is no longer trusted (why) */
};

/* Fetches and judges the git tip as a run would (signature, no rollback,
 * serial, expiry) without applying or recording anything. Returns 0 if
 * the tip would be accepted, else a negative code with err saying why. */
int plumb_run_verify(const struct plumb_config *cfg, struct plumb_verify_result *out, struct plumb_err *err);

/* Publishes a finished report, rendered to JSON once: the spool's own
 * counters and the host's confinement (plumb_confine_assess) go into rep,
 * the text is written to state_dir/last-report.json and, when a control
 * plane is configured, the same text is spooled: always when it carries
 * events, as a heartbeat when one is due (split under report.max_bytes).
 * Then, with send_budget_s > 0, delivers the spool for at most that long.
 * Failures are logged and counted, never fatal: enforcement does not wait
 * on reports. With json_out, *json_out gets the report object (the
 * caller's to release; NULL when out of memory). Returns 0 when the report
 * is saved and durable (spooled, not due, or no control plane), else
 * nonzero. */
int plumb_run_report(struct plumb_state *st, const struct plumb_config *cfg, struct plumb_report *rep,
		     double send_budget_s, json_t **json_out);

/* Moves the events of runs the journal shows were interrupted (killed
 * after announcing repairs, before reporting) into rep, each saying so.
 * Call with the state lock held, before the run's own events. */
void plumb_run_recover(struct plumb_state *st, struct plumb_report *rep);

/* After a repairing run: with reported (its report saved and, with a
 * control plane, spooled), the journal is removed. */
void plumb_run_settle(struct plumb_state *st, int reported);

/* Opens the quarantine for a run that may repair, telling it which of its
 * entries are evidence of reports still waiting in the spool. */
int plumb_run_quarantine_open(struct plumb_quarantine **out, struct plumb_state *st,
			      const struct plumb_config *cfg, struct plumb_err *err);

/* The exit code a finished report stands for. */
int plumb_run_exit_code(const struct plumb_report *r, int apply);

#endif
