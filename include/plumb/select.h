/* select.h - which baseline to enforce and where it came from: an unsigned
 * directory, or a git tip accepted by signature, ancestry (no rollback),
 * serial and expiry; on refusal, the last applied commit (the anchor). */
#ifndef PLUMB_SELECT_H
#define PLUMB_SELECT_H

#include "plumb/baseline.h"
#include "plumb/config.h"
#include "plumb/error.h"
#include "plumb/gitsrc.h"
#include "plumb/trust.h"

struct plumb_source;
struct plumb_state;

struct plumb_selection {
	struct plumb_source *src;
	struct plumb_baseline *b;
	int from_git;
	int is_new;                 /* a git tip other than the anchor */
	int stale;                  /* its expires: has passed */
	struct plumb_git_tip tip;   /* from_git: commit, signer, fingerprint */
	char reanchored[640];       /* non-empty: accepted past an anchor whose key is no longer trusted; why */
	int cache_discarded;        /* the tip was refused because the cache was damaged; it is gone now */
	int held;                   /* the anchor is the commit the caller holds parsed (held): src and b are NULL */
};

/* Picks what to enforce: baseline_dir if given, else the configured git
 * source. A refused tip sets *refusal (malloc'd reason) and selects the
 * anchor instead. Returns 0 with sel filled, or a negative code (err says
 * why) when there is nothing to enforce. trust receives the anchor. */
int plumb_select(struct plumb_selection *sel, const struct plumb_config *cfg, const char *baseline_dir,
		 struct plumb_state *st, struct plumb_trust *trust, char **refusal, struct plumb_err *err);

/* What plumb_select does after its fetch, for a fetch run elsewhere (plumbd
 * waits for it in its loop): fetch_r and fetch_err are that fetch's result.
 * A failed fetch is a refusal like any other (the anchor is selected).
 * held (or NULL): the commit whose baseline the caller has parsed already.
 * When what would be selected is the anchor and the anchor is held, it is
 * checked as always but not parsed a second time: sel->held is set, and
 * sel->src and sel->b are NULL (the same commit parses to the same baseline). */
int plumb_select_fetched(struct plumb_selection *sel, const struct plumb_config *cfg, struct plumb_state *st,
			 struct plumb_trust *trust, int fetch_r, const struct plumb_err *fetch_err, const char *held,
			 char **refusal, struct plumb_err *err);

/* Selects the anchor (the last applied commit) from the verified store, without
 * fetching: what plumbd enforces while its first fetch is in flight.
 * Returns 0, PLUMB_E_NOTFOUND when there is no anchor yet, or another
 * negative code. */
int plumb_select_anchor(struct plumb_selection *sel, const struct plumb_config *cfg, struct plumb_state *st,
			struct plumb_trust *trust, struct plumb_err *err);

/* The fetch options cfg asks for. */
void plumb_select_git_opts(struct plumb_git_opts *out, const struct plumb_config *cfg);

/* Fetches and judges the tip alone (no fallback). Returns 0 if accepted. */
int plumb_select_git_tip(struct plumb_selection *sel, const struct plumb_config *cfg,
			 const struct plumb_trust *trust, struct plumb_err *err);

/* Records sel (an applied git tip) as the new anchor. */
int plumb_select_record_anchor(const struct plumb_selection *sel, struct plumb_state *st, struct plumb_err *err);

struct plumb_report;

/* Records sel as the new anchor before the run reports: on failure adds a
 * `failed` event on resource `baseline` (with the error) to rep, counted in
 * rep->failed, and logs it; the caller tries again on its next run.
 * Returns 0 or the write's negative code. */
int plumb_select_commit_anchor(const struct plumb_selection *sel, struct plumb_state *st, struct plumb_report *rep);

#define PLUMB_LOCKOUT_FILE "lockout.json"

/* The lock-out guard (after iptables-apply's idea, automated): sel is a new
 * git baseline whose firewall repair undo can revert. When the source is a
 * network URL and the remote cannot be reached any more through the new
 * tables, the old tables are restored, a rolled-back event per owned table
 * goes to rep, and the commit is recorded in state_dir/lockout.json so it
 * is refused until a newer one arrives.
 *
 * In three steps, so plumbd can probe from its loop (a fetch child whose
 * end is an fd event) and never wait on the network: */
struct plumb_fw_undo;
struct plumb_report;
struct plumb_git_opts;

/* The probe is needed: a new git tip, tables changed (undo->batch), a
 * network source. */
int plumb_select_lockout_needed(const struct plumb_selection *sel, const struct plumb_config *cfg,
				const struct plumb_fw_undo *undo);

#define PLUMB_LOCKOUT_PROBE_MAX_S 30
/* The probe's fetch options: the source's, the deadline capped at
 * PLUMB_LOCKOUT_PROBE_MAX_S. */
void plumb_select_probe_opts(struct plumb_git_opts *go, const struct plumb_config *cfg);

/* Whether a probe fetch that returned probe_r reached the remote. */
int plumb_select_probe_answered(int probe_r);

/* The probe failed (reason): restores undo, adds the events, records the
 * commit as rolled back. */
void plumb_select_lockout_rollback(const struct plumb_selection *sel, struct plumb_state *st,
				   const struct plumb_fw_undo *undo, const char *reason, struct plumb_report *rep);

/* All three in place (one-shot commands: the probe waits here, at most
 * PLUMB_LOCKOUT_PROBE_MAX_S, cut short by cfg->cancel_fd). Returns 1 when
 * it rolled back, 0 otherwise. */
int plumb_select_lockout_guard(const struct plumb_selection *sel, const struct plumb_config *cfg,
			       struct plumb_state *st, const struct plumb_fw_undo *undo, struct plumb_report *rep);

/* Frees what sel holds and zeroes it. */
void plumb_selection_release(struct plumb_selection *sel);

#endif
