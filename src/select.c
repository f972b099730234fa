/* select.c - choosing the baseline to enforce: an unsigned directory, or the
 * git tip judged by signature, ancestry, serial and expiry, falling back to
 * the last applied commit (the anchor) whenever a tip is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "plumb/firewall.h"
#include "plumb/gitsrc.h"
#include "plumb/log.h"
#include "plumb/report.h"
#include "plumb/state.h"
#include "plumb/select.h"
#include "plumb/signers.h"
#include "plumb/source.h"
#include "banned.h"

/* The commit the lock-out guard rolled back, if any. */
static int lockout_commit(struct plumb_state *st, char out[41])
{
	struct plumb_buf b;
	const char *c;
	json_t *j;
	int r = -1;

	plumb_buf_init(&b, 4096);
	if (plumb_state_read(st, PLUMB_LOCKOUT_FILE, &b, NULL) == 0 && b.data != NULL &&
	    (j = json_loadb(b.data, b.len, 0, NULL)) != NULL) {
		if ((c = json_string_value(json_object_get(j, "commit"))) != NULL && strlen(c) == 40) {
			memcpy(out, c, 41);
			r = 0;
		}
		json_decref(j);
	}
	plumb_buf_release(&b);
	return r;
}

void plumb_selection_release(struct plumb_selection *sel)
{
	plumb_baseline_free(sel->b);
	plumb_source_free(sel->src);
	memset(sel, 0, sizeof(*sel));
}

/* 1 if commit is the one the caller holds parsed (held may be NULL). */
static int held_is(const char *held, const char *commit)
{
	return held != NULL && held[0] != '\0' && strcmp(held, commit) == 0;
}

static int load_baseline(struct plumb_baseline **out, struct plumb_source *src, struct plumb_err *err)
{
	struct plumb_buf text;
	int r;

	if ((r = plumb_source_load(src, &text, err)) != 0)
		return r;
	r = plumb_baseline_parse(out, src->name, text.data ? text.data : "", text.len, err);
	plumb_buf_release(&text);
	if (r != 0)
		return r;
	if ((r = plumb_baseline_check_sources(*out, src, err)) != 0) {
		plumb_baseline_free(*out);
		*out = NULL;
	}
	return r;
}

static int select_dir(struct plumb_selection *sel, const struct plumb_config *cfg, const char *dir, struct plumb_err *err)
{
	int r;

	if ((r = plumb_source_dir_open(&sel->src, dir, cfg->source_baseline, err)) != 0 ||
	    (r = load_baseline(&sel->b, sel->src, err)) != 0)
		return r;
	sel->stale = sel->b->has_expires && sel->b->expires <= time(NULL);
	return 0;
}

/* Opens tip's baseline from the cache. */
static int open_git_baseline(struct plumb_selection *sel, const struct plumb_config *cfg,
			     const struct plumb_git_tip *tip, struct plumb_err *err)
{
	int r;

	sel->from_git = 1;
	sel->tip = *tip;
	if ((r = plumb_source_git_open(&sel->src, cfg->state_dir, tip, cfg->source_baseline, err)) != 0 ||
	    (r = load_baseline(&sel->b, sel->src, err)) != 0)
		return r;
	if (!sel->b->has_serial)
		return plumb_err_set(err, PLUMB_E_INVALID, "%s: 'serial' is required for a signed baseline",
				     sel->src->name);
	sel->stale = sel->b->has_expires && sel->b->expires <= time(NULL);
	return 0;
}

/* 1 if the key that signed the anchor is still an allowed signer at now
 * (known, namespace git, inside its window), else 0. An anchor without a
 * recorded fingerprint keeps constraining: trust never widens on a guess. */
static int anchor_key_trusted(const struct plumb_trust *t, const struct plumb_signers *s, time_t now)
{
	struct plumb_signer_match who;
	char fp[PLUMB_FINGERPRINT_MAX];

	if (t->fingerprint[0] == '\0')
		return 1;
	for (size_t i = 0; i < s->n; i++) {
		plumb_sshkey_fingerprint(fp, s->v[i].key, s->v[i].keylen);
		if (strcmp(fp, t->fingerprint) == 0 && plumb_signers_match(s, s->v[i].key, s->v[i].keylen, now, &who, NULL) == 0)
			return 1;
	}
	return 0;
}

void plumb_select_git_opts(struct plumb_git_opts *out, const struct plumb_config *cfg)
{
	memset(out, 0, sizeof(*out));
	out->url = cfg->source_url;
	out->ref = cfg->source_ref;
	out->ca_file = cfg->source_ca_file;
	out->ssh_key = cfg->source_ssh_key;
	out->ssh_host_key = cfg->source_ssh_host_key;
	out->timeout_s = cfg->source_timeout;
	out->max_bytes = cfg->source_max_size;
	out->cancel_fd = cfg->cancel_fd;
	out->user = cfg->user;
}

static int judge_tip(struct plumb_selection *sel, const struct plumb_config *cfg, const struct plumb_trust *trust,
		     int fetch_r, const struct plumb_err *fetch_err, const char *held, struct plumb_err *err);

/* judge_tip, and when the cache failed its own checks, the cache goes
 * (the next fetch rebuilds it) and the refusal says so; *discarded = 1. */
static int judge_or_heal(struct plumb_selection *sel, const struct plumb_config *cfg, const struct plumb_trust *trust,
			 int fetch_r, const struct plumb_err *fetch_err, const char *held, int *discarded,
			 struct plumb_err *err)
{
	struct plumb_err e;
	int r;

	*discarded = 0;
	r = judge_tip(sel, cfg, trust, fetch_r, fetch_err, held, err);
	if (r != 0 && r != PLUMB_E_CORRUPT && fetch_r == 0) {
		/* A refused tip: what it brought is not kept (a remote serving
		 * refused tips must not fill the disk). */
		if (plumb_git_forget_refused(cfg->state_dir, held, cfg->source_max_size, &e) != 0)
			plumb_log(PLUMB_LOG_WARN, "after a refused tip: %s", e.msg);
	}
	if (r != PLUMB_E_CORRUPT)
		return r;
	if (plumb_git_cache_discard(cfg->state_dir, &e) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "the git cache is damaged and cannot be discarded: %s", e.msg);
		return r;
	}
	*discarded = 1;
	e = *err;
	plumb_err_set(err, r, "%s; the damaged cache was discarded: the next fetch rebuilds it", e.msg);
	plumb_log(PLUMB_LOG_WARN, "%s", err->msg);
	return r;
}

/* Judges the tip the last fetch left in the cache (fetch_r: that fetch's
 * result, fetch_err its reason; held: see plumb_select_fetched). */
static int judge_tip(struct plumb_selection *sel, const struct plumb_config *cfg, const struct plumb_trust *trust,
		     int fetch_r, const struct plumb_err *fetch_err, const char *held, struct plumb_err *err)
{
	struct plumb_signers *signers = NULL;
	struct plumb_git_tip tip;
	time_t now = time(NULL);
	int r, constrains;

	memset(sel, 0, sizeof(*sel));
	if (cfg->source_allowed_signers == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "source.allowed_signers is required with source.url");
	if ((r = plumb_signers_load(&signers, cfg->source_allowed_signers, err)) != 0)
		return r;
	if ((r = fetch_r) != 0) {
		*err = *fetch_err;
		goto out;
	}
	if ((r = plumb_git_verify_tip(&tip, cfg->state_dir, cfg->source_ref, signers, now, err)) != 0)
		goto out;
	sel->is_new = !trust->has || strcmp(tip.commit, trust->commit) != 0;
	/* Key-compromise recovery (after TUF): an anchor signed by a key that is
	 * no longer trusted constrains nothing, or a leaked key could freeze
	 * every agent with serial 2^63. The tip must still be signed by a
	 * trusted key; the caller reports the re-anchoring loudly. */
	constrains = trust->has && anchor_key_trusted(trust, signers, now);
	/* Signed history from the anchor; the tip's commit alone when there is
	 * nothing to walk (no anchor, re-anchoring, or the tip is the anchor:
	 * a tag's commit is then checked on every run, as a branch tip is). */
	if ((r = plumb_git_check_history(cfg->state_dir, tip.commit, constrains && sel->is_new ? trust->commit : NULL,
					 signers, now, PLUMB_GIT_HISTORY_MAX, err)) != 0)
		goto out;
	/* Verified: its objects go to the parent's own store, each id
	 * recomputed, and enforcement reads them from there only. */
	if ((r = plumb_git_store_verified(cfg->state_dir, tip.commit, cfg->source_max_size, err)) != 0)
		goto out;
	if (!sel->is_new && held_is(held, tip.commit)) {
		/* The anchor, parsed and enforced by the caller already: every
		 * check after this one is for a new tip only. */
		sel->from_git = 1;
		sel->tip = tip;
		sel->held = 1;
		r = 0;
		goto out;
	}
	if ((r = open_git_baseline(sel, cfg, &tip, err)) != 0)
		goto out;
	if (trust->has && !constrains && sel->is_new)
		snprintf(sel->reanchored, sizeof(sel->reanchored),
			 "re-anchored: anchor %.12s (serial %llu) was signed by %s, a key no longer trusted; accepted "
			 "tip %.12s (serial %llu, signed by %s) without the ancestry and serial checks",
			 trust->commit, (unsigned long long)trust->serial, trust->fingerprint, tip.commit,
			 (unsigned long long)sel->b->serial, tip.fingerprint);
	if (constrains && sel->is_new && sel->b->serial <= trust->serial) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "serial %llu of tip %.12s is not greater than %llu, the last applied",
				  (unsigned long long)sel->b->serial, tip.commit, (unsigned long long)trust->serial);
		goto out;
	}
	if (sel->is_new && sel->stale) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "tip %.12s carries a baseline that has already expired", tip.commit);
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		plumb_selection_release(sel);
	plumb_signers_free(signers);
	return r;
}

int plumb_select_git_tip(struct plumb_selection *sel, const struct plumb_config *cfg, const struct plumb_trust *trust,
			 struct plumb_err *err)
{
	struct plumb_git_opts go;
	struct plumb_err fe;
	int fr;

	int discarded;

	plumb_select_git_opts(&go, cfg);
	fr = plumb_git_fetch(&go, cfg->state_dir, &fe);
	return judge_or_heal(sel, cfg, trust, fr, &fe, NULL, &discarded, err);
}

int plumb_select(struct plumb_selection *sel, const struct plumb_config *cfg, const char *baseline_dir,
		 struct plumb_state *st, struct plumb_trust *trust, char **refusal, struct plumb_err *err)
{
	struct plumb_git_opts go;
	struct plumb_err fe;
	int fr;

	memset(sel, 0, sizeof(*sel));
	*refusal = NULL;
	memset(trust, 0, sizeof(*trust));
	if (baseline_dir != NULL)
		return select_dir(sel, cfg, baseline_dir, err);
	if (cfg->source_url == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID,
				     "no baseline source: set source.url in the configuration or give --baseline-dir DIR");
	plumb_select_git_opts(&go, cfg);
	fr = plumb_git_fetch(&go, cfg->state_dir, &fe);
	return plumb_select_fetched(sel, cfg, st, trust, fr, &fe, NULL, refusal, err);
}

/* The anchor's baseline, opened from the cache (held: see plumb_select_fetched). */
static int open_anchor(struct plumb_selection *sel, const struct plumb_config *cfg, const struct plumb_trust *trust,
		       const char *held, struct plumb_err *err)
{
	struct plumb_git_tip last;
	int r;

	memset(&last, 0, sizeof(last));
	memcpy(last.commit, trust->commit, sizeof(last.commit));
	snprintf(last.signer, sizeof(last.signer), "%s", trust->signer);
	snprintf(last.fingerprint, sizeof(last.fingerprint), "%s", trust->fingerprint);
	/* Stored when it was accepted; an anchor from before the verified
	 * store existed is copied from the cache once (it was verified then). */
	if ((r = plumb_git_store_verified(cfg->state_dir, last.commit, cfg->source_max_size, err)) != 0) {
		plumb_selection_release(sel);
		return r;
	}
	if (held_is(held, last.commit)) {
		sel->from_git = 1;
		sel->tip = last;
		sel->held = 1;
		return 0;
	}
	if ((r = open_git_baseline(sel, cfg, &last, err)) != 0)
		plumb_selection_release(sel);
	return r;
}

int plumb_select_anchor(struct plumb_selection *sel, const struct plumb_config *cfg, struct plumb_state *st,
			struct plumb_trust *trust, struct plumb_err *err)
{
	int r;

	memset(sel, 0, sizeof(*sel));
	memset(trust, 0, sizeof(*trust));
	if ((r = plumb_trust_load(trust, st, err)) != 0)
		return r;
	if (!trust->has)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "no baseline applied yet");
	return open_anchor(sel, cfg, trust, NULL, err);
}

int plumb_select_fetched(struct plumb_selection *sel, const struct plumb_config *cfg, struct plumb_state *st,
			 struct plumb_trust *trust, int fetch_r, const struct plumb_err *fetch_err, const char *held,
			 char **refusal, struct plumb_err *err)
{
	struct plumb_err e;
	int r, discarded;

	memset(sel, 0, sizeof(*sel));
	*refusal = NULL;
	memset(trust, 0, sizeof(*trust));
	if ((r = plumb_trust_load(trust, st, err)) != 0)
		return r;
	if ((r = judge_or_heal(sel, cfg, trust, fetch_r, fetch_err, held, &discarded, &e)) == 0) {
		char locked[41];

		if (!sel->is_new || lockout_commit(st, locked) != 0 || strcmp(locked, sel->tip.commit) != 0)
			return 0;
		r = plumb_err_set(&e, PLUMB_E_INVALID, "commit %.12s was rolled back: its firewall cut this host off "
				  "from its git remote; waiting for a newer baseline", sel->tip.commit);
		plumb_selection_release(sel);
	}
	if ((*refusal = strdup(e.msg)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if (!trust->has) {
		*err = e;
		return r;
	}
	plumb_log(PLUMB_LOG_WARN, "still enforcing the last applied commit %.12s (serial %llu)",
		  trust->commit, (unsigned long long)trust->serial);
	if ((r = open_anchor(sel, cfg, trust, held, err)) == 0)
		sel->cache_discarded = discarded;
	return r;
}

int plumb_select_record_anchor(const struct plumb_selection *sel, struct plumb_state *st, struct plumb_err *err)
{
	struct plumb_trust t;
	struct plumb_err e;

	int r;

	memset(&t, 0, sizeof(t));
	t.has = 1;
	memcpy(t.commit, sel->tip.commit, sizeof(t.commit));
	t.serial = sel->b->serial;
	snprintf(t.signer, sizeof(t.signer), "%s", sel->tip.signer);
	snprintf(t.fingerprint, sizeof(t.fingerprint), "%s", sel->tip.fingerprint);
	t.accepted_at = time(NULL);
	if ((r = plumb_trust_save(&t, st, err)) != 0)
		return r;
	/* After the save: the store is pruned to what the recorded anchor
	 * reaches, never below an anchor trust.json still names. */
	if (plumb_git_pin_anchor(st->path, sel->tip.commit, &e) != 0)
		plumb_log(PLUMB_LOG_WARN, "%s (the anchor is recorded all the same)", e.msg);
	return 0;
}

int plumb_select_commit_anchor(const struct plumb_selection *sel, struct plumb_state *st, struct plumb_report *rep)
{
	struct plumb_err e;
	char why[PLUMB_ERR_MAX + 96];
	int r;

	if ((r = plumb_select_record_anchor(sel, st, &e)) == 0)
		return 0;
	snprintf(why, sizeof(why), "cannot record commit %.12s (serial %llu) as the rollback anchor: %s",
		 sel->tip.commit, (unsigned long long)sel->b->serial, e.msg);
	plumb_log(PLUMB_LOG_ERROR, "%s; the next run tries again", why);
	(void)plumb_report_baseline_event(rep, PLUMB_ACT_FAILED, why);   /* counted as failed */
	return r;
}

int plumb_select_lockout_needed(const struct plumb_selection *sel, const struct plumb_config *cfg,
				const struct plumb_fw_undo *undo)
{
	return sel->from_git && sel->is_new && undo != NULL && undo->batch != NULL && sel->b->firewall != NULL &&
	       cfg->source_url != NULL && strstr(cfg->source_url, "://") != NULL &&
	       strncmp(cfg->source_url, "file://", 7) != 0;
}

void plumb_select_probe_opts(struct plumb_git_opts *go, const struct plumb_config *cfg)
{
	plumb_select_git_opts(go, cfg);
	if (go->timeout_s == 0 || go->timeout_s > PLUMB_LOCKOUT_PROBE_MAX_S)
		go->timeout_s = PLUMB_LOCKOUT_PROBE_MAX_S;
}

int plumb_select_probe_answered(int probe_r)
{
	return probe_r == 0 || probe_r == PLUMB_E_NOTFOUND;   /* it answered, even without the ref */
}

void plumb_select_lockout_rollback(const struct plumb_selection *sel, struct plumb_state *st,
				   const struct plumb_fw_undo *undo, const char *reason, struct plumb_report *rep)
{
	const struct plumb_firewall *fw = sel->b->firewall;
	char why[PLUMB_ERR_MAX + 160], *text;
	struct plumb_err e;
	json_t *j;

	plumb_log(PLUMB_LOG_ERROR, "the new firewall of commit %.12s cut this host off from its git remote (%s): "
		  "restoring the previous tables", sel->tip.commit, reason);
	if (plumb_firewall_restore(undo, &e) != 0)
		plumb_log(PLUMB_LOG_ERROR, "%s", e.msg);
	snprintf(why, sizeof(why), "commit %.12s cut this host off from its git remote (%s); the previous tables "
		 "are restored and the commit is refused until a newer one arrives", sel->tip.commit, reason);
	for (size_t i = 0; fw != NULL && i < fw->ntables; i++) {
		char id[300];

		/* the table's own backend (this said nftables for iptables tables too) */
		snprintf(id, sizeof(id), "firewall:%s:%s", fw->backend, fw->tables[i]);
		(void)plumb_report_event(rep, id, PLUMB_DRIFT_RULES, PLUMB_ACT_ROLLED_BACK, NULL, NULL, why);
	}
	if ((j = json_pack("{s:s, s:s}", "commit", sel->tip.commit, "reason", reason)) != NULL &&
	    (text = json_dumps(j, JSON_COMPACT)) != NULL) {
		if (plumb_state_write(st, PLUMB_LOCKOUT_FILE, text, strlen(text), &e) != 0)
			plumb_log(PLUMB_LOG_ERROR, "cannot record the rolled-back commit: %s", e.msg);
		free(text);
	}
	json_decref(j);
}

int plumb_select_lockout_guard(const struct plumb_selection *sel, const struct plumb_config *cfg,
			       struct plumb_state *st, const struct plumb_fw_undo *undo, struct plumb_report *rep)
{
	struct plumb_git_opts go;
	struct plumb_err probe;

	if (!plumb_select_lockout_needed(sel, cfg, undo))
		return 0;
	plumb_select_probe_opts(&go, cfg);
	if (plumb_select_probe_answered(plumb_git_fetch(&go, cfg->state_dir, &probe)))
		return 0;    /* the remote still answers: keep the new firewall */
	plumb_select_lockout_rollback(sel, st, undo, probe.msg, rep);
	return 1;
}
