/* alerts.c - which alerts a host's state raises and clears, evaluated in
 * the ingest's transaction (and by the sender's timer for silent hosts),
 * and the outbox rows those transitions write: one per routed receiver. */
#include "alerts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "plumb/log.h"
#include "plumb/util.h"
#include "../src/banned.h"

#define NUM(buf, v) snprintf((buf), sizeof(buf), "%lld", (long long)(v))

static pthread_rwlock_t cfg_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct hub_alerts_cfg *cur;
static _Thread_local int wrote_outbox;

void hub_alerts_install(struct hub_alerts_cfg *cfg)
{
	pthread_rwlock_wrlock(&cfg_lock);
	struct hub_alerts_cfg *old = cur;
	cur = cfg;
	pthread_rwlock_unlock(&cfg_lock);
	hub_alerts_cfg_free(old);
}

struct hub_alerts_cfg *alerts_cfg_get(void)
{
	pthread_rwlock_rdlock(&cfg_lock);
	if (!cur) {
		pthread_rwlock_unlock(&cfg_lock);
		return NULL;
	}
	return cur;
}

void alerts_cfg_put(void)
{
	pthread_rwlock_unlock(&cfg_lock);
}

/* Per-resource alerts come from a run's events; host-wide ones from the
 * host's row. */
static const struct {
	const char *action, *alertname, *status;
} per_resource[] = {
	{"refused", "PlumbBaselineRefused", "refused"},
	{"rolled-back", "PlumbFirewallRolledBack", "refused"},
	{"contested", "PlumbResourceContested", "drifting"},
	{"failed", "PlumbRepairFailed", "drifting"},
};
#define NPER (sizeof(per_resource) / sizeof(per_resource[0]))

static int is_per_resource(const char *alertname)
{
	for (size_t i = 0; i < NPER; i++)
		if (!strcmp(per_resource[i].alertname, alertname))
			return 1;
	return 0;
}

static int counter_add(struct hub_conn *c, const char *name, struct plumb_err *err)
{
	const char *p[] = {name};
	return hub_conn_exec(c,
			     "INSERT INTO alert_counters (name, value) VALUES ($1, 1) ON CONFLICT (name)"
			     " DO UPDATE SET value = alert_counters.value + 1",
			     1, p, NULL, NULL, NULL, err);
}

static int count_row(void *ctx, int n, const char *const *v)
{
	if (n > 0 && v[0])
		*(long long *)ctx = strtoll(v[0], NULL, 10);
	return 0;
}

int alerts_enqueue(struct hub_conn *c, const struct hub_alerts_cfg *cfg, const struct alert_key *k, int firing,
		   time_t starts, time_t ends, int repeat_only, time_t now, struct plumb_err *err)
{
	char s_starts[24], s_ends[24], s_now[24];
	int r;
	NUM(s_starts, starts);
	NUM(s_ends, ends);
	NUM(s_now, now);
	for (int i = 0; i < cfg->nrcv; i++) {
		const struct hub_receiver *rv = &cfg->rcv[i];
		int routed = cfg->nroute == 0;
		if (repeat_only && rv->type != HUB_RCV_ALERTMANAGER)
			continue;
		for (int j = 0; j < cfg->nroute && !routed; j++)
			routed = cfg->route[j].receiver == i &&
				 hub_route_match(&cfg->route[j], k->status, k->host, k->resource);
		if (!routed)
			continue;
		const char *kp[] = {rv->name, k->host, k->alertname, k->resource};
		/* Alertmanager keeps only an alert's newest state: a delivery
		 * not yet under way is replaced by this one. */
		if (rv->type == HUB_RCV_ALERTMANAGER &&
		    (r = hub_conn_exec(c,
				       "DELETE FROM alert_outbox WHERE receiver = $1 AND host = $2 AND alertname = $3"
				       " AND resource = $4 AND lease_owner IS NULL",
				       4, kp, NULL, NULL, NULL, err)) != 0)
			return r;
		long long depth = 0;
		if ((r = hub_conn_exec(c, "SELECT COUNT(*) FROM alert_outbox", 0, NULL, count_row, &depth, NULL, err)) != 0)
			return r;
		if (depth >= cfg->outbox_max) {
			/* Full: the oldest delivery goes, counted and logged. */
			long gone = 0;
			if ((r = hub_conn_exec(c,
					       "DELETE FROM alert_outbox WHERE id = (SELECT MIN(id) FROM alert_outbox"
					       " WHERE lease_owner IS NULL)",
					       0, NULL, NULL, NULL, &gone, err)) != 0)
				return r;
			if (gone) {
				if ((r = counter_add(c, "dropped_full", err)) != 0)
					return r;
				plumb_log(PLUMB_LOG_WARN,
					  "alerts: the outbox holds %lld deliveries (outbox_max); the oldest was dropped",
					  depth);
			}
		}
		const char *p[] = {rv->name, k->host, k->alertname, k->resource, k->status,
				   firing ? "firing" : "resolved", k->summary, s_starts, firing ? NULL : s_ends, s_now};
		if ((r = hub_conn_exec(c,
				       "INSERT INTO alert_outbox (receiver, host, alertname, resource, status, state, summary,"
				       " starts_at, ends_at, created_at, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
				       " $10, $10)",
				       10, p, NULL, NULL, NULL, err)) != 0)
			return r;
		wrote_outbox = 1;
	}
	return 0;
}

/* ---- evaluation at ingest ---- */

struct open_alert {
	char *alertname, *resource, *run_id;
	time_t started;
	int keep;
};

struct open_list {
	struct open_alert *v;
	size_t n, cap;
	int nomem;
};

static int open_row(void *ctx, int n, const char *const *v)
{
	struct open_list *l = ctx;
	if (n < 4)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct open_alert *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv) {
			l->nomem = 1;
			return 1;
		}
		l->v = nv;
		l->cap = cap;
	}
	struct open_alert *a = &l->v[l->n];
	memset(a, 0, sizeof(*a));
	a->alertname = strdup(v[0]);
	a->resource = strdup(v[1]);
	a->run_id = v[2] ? strdup(v[2]) : NULL;
	a->started = (time_t)strtoll(v[3], NULL, 10);
	if (!a->alertname || !a->resource || (v[2] && !a->run_id)) {
		free(a->alertname);
		free(a->resource);
		free(a->run_id);
		l->nomem = 1;
		return 1;
	}
	l->n++;
	return 0;
}

static void open_free(struct open_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].alertname);
		free(l->v[i].resource);
		free(l->v[i].run_id);
	}
	free(l->v);
}

static struct open_alert *open_find(struct open_list *l, const char *alertname, const char *resource)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].alertname, alertname) && !strcmp(l->v[i].resource, resource))
			return &l->v[i];
	return NULL;
}

struct host_state {
	long long unresolved;
	int stale, found;
};

static int host_row(void *ctx, int n, const char *const *v)
{
	struct host_state *h = ctx;
	if (n < 2)
		return 0;
	h->found = 1;
	h->unresolved = v[0] ? strtoll(v[0], NULL, 10) : 0;
	h->stale = v[1] && !strcmp(v[1], "1");
	return 0;
}

/* Raises k (if not open) and keeps it. */
static int raise_alert(struct hub_conn *c, const struct hub_alerts_cfg *cfg, struct open_list *open,
		       const struct alert_key *k, const char *run, time_t now, struct plumb_err *err)
{
	char s_now[24], s_rep[24];
	struct open_alert *a = open_find(open, k->alertname, k->resource);
	if (a) {
		a->keep = 1;
		if (run && (!a->run_id || strcmp(a->run_id, run))) {
			const char *p[] = {k->host, k->alertname, k->resource, run};
			return hub_conn_exec(c,
					     "UPDATE alert_state SET run_id = $4 WHERE host = $1 AND alertname = $2"
					     " AND resource = $3",
					     4, p, NULL, NULL, NULL, err);
		}
		return 0;
	}
	NUM(s_now, now);
	NUM(s_rep, now + cfg->repeat_s);
	long changes = 0;
	const char *p[] = {k->host, k->alertname, k->resource, k->status, k->summary, run, s_now, s_rep};
	int r = hub_conn_exec(c,
			      "INSERT INTO alert_state (host, alertname, resource, status, summary, run_id, started_at,"
			      " repeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
			      8, p, NULL, NULL, &changes, err);
	if (r != 0 || changes == 0) /* one report naming a resource twice */
		return r;
	plumb_log(PLUMB_LOG_INFO, "alert: %s firing for %s%s%s", k->alertname, k->host, *k->resource ? " " : "",
		  k->resource);
	return alerts_enqueue(c, cfg, k, 1, now, 0, 0, now, err);
}

static int clear_alert(struct hub_conn *c, const struct hub_alerts_cfg *cfg, const char *host,
		       const struct open_alert *a, time_t now, struct plumb_err *err)
{
	struct alert_key k = {.host = host, .alertname = a->alertname, .resource = a->resource};
	char summary[256];
	long changes = 0;
	const char *p[] = {host, a->alertname, a->resource};
	int r = hub_conn_exec(c, "DELETE FROM alert_state WHERE host = $1 AND alertname = $2 AND resource = $3", 3, p,
			      NULL, NULL, &changes, err);
	if (r != 0 || changes == 0)
		return r;
	k.status = alert_status_of(a->alertname);
	snprintf(summary, sizeof(summary), "%s%s%s: cleared", host, *a->resource ? " " : "", a->resource);
	k.summary = summary;
	plumb_log(PLUMB_LOG_INFO, "alert: %s resolved for %s%s%s", a->alertname, host, *a->resource ? " " : "",
		  a->resource);
	return alerts_enqueue(c, cfg, &k, 0, a->started, now, 0, now, err);
}

const char *alert_status_of(const char *alertname)
{
	for (size_t i = 0; i < NPER; i++)
		if (!strcmp(per_resource[i].alertname, alertname))
			return per_resource[i].status;
	if (!strcmp(alertname, "PlumbHostSilent"))
		return "silent";
	if (!strcmp(alertname, "PlumbHostStale"))
		return "stale";
	return "drifting";
}

/* Whether standing's covers holds resource's kind (what precedes its ':'). */
static int covers_kind(const json_t *standing, const char *resource)
{
	const json_t *cov = json_object_get(standing, "covers"), *x;
	const char *colon = strchr(resource, ':');
	size_t i, n = colon ? (size_t)(colon - resource) : strlen(resource);

	json_array_foreach(cov, i, x) {
		const char *k = json_string_value(x);
		if (k && strlen(k) == n && !strncmp(k, resource, n))
			return 1;
	}
	return 0;
}

/* Whether one of evs is about resource. */
static int report_names(const json_t *evs, const char *resource)
{
	for (size_t i = 0; i < json_array_size(evs); i++) {
		const char *res = json_string_value(json_object_get(json_array_get(evs, i), "resource"));
		if (res && !strcmp(res, resource))
			return 1;
	}
	return 0;
}

int hub_alerts_ingest(struct hub_conn *c, const json_t *doc, time_t now, struct plumb_err *err)
{
	struct hub_alerts_cfg *cfg = alerts_cfg_get();
	if (!cfg)
		return 0;
	const char *host = json_string_value(json_object_get(doc, "host"));
	const char *run = json_string_value(json_object_get(json_object_get(doc, "run"), "id"));
	const json_t *evs = json_object_get(doc, "events");
	/* plumbd's reports say what stands (validate.c): a partial run clears
	 * no per-resource alert it did not look at, and a standing refusal
	 * keeps PlumbBaselineRefused until a tip is accepted. */
	const json_t *standing = json_object_get(doc, "standing");
	const char *still_refused = json_string_value(json_object_get(standing, "refused"));
	struct open_list open = {0};
	struct host_state hs = {0};
	const char *hp[] = {host};
	char summary[HUB_ALERT_SUMMARY_MAX];
	int r;

	if ((r = hub_conn_exec(c, "SELECT unresolved, stale FROM hosts WHERE host = $1", 1, hp, host_row, &hs, NULL,
			       err)) != 0)
		goto out;
	if ((r = hub_conn_exec(c,
			       "SELECT alertname, resource, run_id, started_at FROM alert_state WHERE host = $1", 1, hp,
			       open_row, &open, NULL, err)) != 0 && !open.nomem)
		goto out;
	if (open.nomem) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	if (hs.unresolved > 0) {
		snprintf(summary, sizeof(summary), "%s has %lld unresolved drift", host, hs.unresolved);
		struct alert_key k = {host, "PlumbHostDrifting", "", "drifting", summary};
		if ((r = raise_alert(c, cfg, &open, &k, run, now, err)) != 0)
			goto out;
	}
	if (hs.stale) {
		snprintf(summary, sizeof(summary), "%s enforces an expired baseline", host);
		struct alert_key k = {host, "PlumbHostStale", "", "stale", summary};
		if ((r = raise_alert(c, cfg, &open, &k, run, now, err)) != 0)
			goto out;
	}
	for (size_t i = 0; i < json_array_size(evs); i++) {
		const json_t *ev = json_array_get(evs, i);
		const char *action = json_string_value(json_object_get(ev, "action"));
		const char *res = json_string_value(json_object_get(ev, "resource"));
		const char *why = json_string_value(json_object_get(ev, "error"));
		for (size_t j = 0; action && res && j < NPER; j++) {
			if (strcmp(action, per_resource[j].action))
				continue;
			snprintf(summary, sizeof(summary), "%s %s %s%s%s", host, res, action, why ? ": " : "",
				 why ? why : "");
			plumb_utf8_trim(summary);
			struct alert_key k = {host, per_resource[j].alertname, res, per_resource[j].status, summary};
			if ((r = raise_alert(c, cfg, &open, &k, run, now, err)) != 0)
				goto out;
		}
	}
	if (still_refused != NULL) {
		snprintf(summary, sizeof(summary), "%s baseline refused: %s", host, still_refused);
		plumb_utf8_trim(summary);
		struct alert_key k = {host, "PlumbBaselineRefused", "baseline", "refused", summary};
		if ((r = raise_alert(c, cfg, &open, &k, run, now, err)) != 0)
			goto out;
	}
	/* What this report no longer shows clears: host-wide alerts at once
	 * (silent too: the host reported), per-resource ones when the report
	 * belongs to another run than the one that raised them and, with
	 * standing, covers their kind or names them (a standing refusal is
	 * decided by standing alone). */
	for (size_t i = 0; i < open.n; i++) {
		struct open_alert *a = &open.v[i];
		if (a->keep)
			continue;
		if (is_per_resource(a->alertname) && run && a->run_id && !strcmp(a->run_id, run))
			continue;
		if (standing && is_per_resource(a->alertname) && strcmp(a->alertname, "PlumbBaselineRefused") != 0 &&
		    !covers_kind(standing, a->resource) && !report_names(evs, a->resource))
			continue;
		if ((r = clear_alert(c, cfg, host, a, now, err)) != 0)
			goto out;
	}
out:
	open_free(&open);
	alerts_cfg_put();
	return r;
}

void hub_alerts_kick(void)
{
	if (wrote_outbox) {
		wrote_outbox = 0;
		alerts_sender_wake();
	}
}

/* ---- the timer: silent hosts, repeats ---- */

struct name_list {
	char **v;
	size_t n;
	int nomem;
};

static int name_row(void *ctx, int n, const char *const *v)
{
	struct name_list *l = ctx;
	if (n < 1 || !v[0])
		return 0;
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv || !(nv[l->n] = strdup(v[0]))) {
		if (nv)
			l->v = nv;
		l->nomem = 1;
		return 1;
	}
	l->v = nv;
	l->n++;
	return 0;
}

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

struct repeat {
	char *f[5]; /* host, alertname, resource, status, summary */
	time_t started;
};

struct repeat_list {
	struct repeat *v;
	size_t n;
	int nomem;
};

static int repeat_row(void *ctx, int n, const char *const *v)
{
	struct repeat_list *l = ctx;
	if (n < 6)
		return 0;
	struct repeat *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		l->nomem = 1;
		return 1;
	}
	l->v = nv;
	struct repeat *d = &l->v[l->n];
	int bad = 0;
	for (int j = 0; j < 5; j++)
		bad |= !(d->f[j] = strdup(v[j] ? v[j] : ""));
	d->started = (time_t)strtoll(v[5] ? v[5] : "0", NULL, 10);
	l->n++;
	if (bad) {
		l->nomem = 1;
		return 1;
	}
	return 0;
}

int alerts_timer(struct hub_db *db, time_t now, time_t silent_after)
{
	/* A connection first, then the configuration: the order the ingest
	 * path takes them in. */
	struct hub_conn *c = hub_db_acquire(db);
	struct hub_alerts_cfg *cfg = alerts_cfg_get();
	struct plumb_err e = {0};
	struct name_list silent = {0};
	char s_cut[24], s_now[24], s_rep[24], summary[HUB_ALERT_SUMMARY_MAX];
	int r = 0, raised = 0;
	if (!cfg) {
		hub_db_release(db, c);
		return 0;
	}
	NUM(s_cut, now - silent_after);
	NUM(s_now, now);
	const char *cp[] = {s_cut};
	r = hub_conn_exec(c,
			  "SELECT host FROM hosts WHERE last_seen < $1 AND NOT EXISTS (SELECT 1 FROM alert_state a"
			  " WHERE a.host = hosts.host AND a.alertname = 'PlumbHostSilent') ORDER BY host LIMIT 1000",
			  1, cp, name_row, &silent, NULL, &e);
	for (size_t i = 0; r == 0 && !silent.nomem && i < silent.n; i++) {
		const char *host = silent.v[i];
		const char *p[] = {host, s_cut};
		struct name_list still = {0};
		if ((r = hub_conn_begin(c, &e)) != 0)
			break;
		/* Under the host's row lock (PostgreSQL) or the write lock
		 * (SQLite): a report committing now is seen, or waits. */
		r = hub_conn_exec(c,
				  hub_conn_is_pg(c) ? "SELECT host FROM hosts WHERE host = $1 AND last_seen < $2 FOR UPDATE"
						    : "SELECT host FROM hosts WHERE host = $1 AND last_seen < $2",
				  2, p, name_row, &still, NULL, &e);
		long changes = 0;
		if (r == 0 && still.n == 1) {
			NUM(s_rep, now + cfg->repeat_s);
			snprintf(summary, sizeof(summary), "%s sent no report for %llds", host, (long long)silent_after);
			plumb_utf8_trim(summary);
			const char *ip[] = {host, summary, s_now, s_rep};
			r = hub_conn_exec(c,
					  "INSERT INTO alert_state (host, alertname, resource, status, summary, started_at,"
					  " repeat_at) VALUES ($1, 'PlumbHostSilent', '', 'silent', $2, $3, $4)"
					  " ON CONFLICT DO NOTHING",
					  4, ip, NULL, NULL, &changes, &e);
			struct alert_key k = {host, "PlumbHostSilent", "", "silent", summary};
			if (r == 0 && changes == 1) {
				r = alerts_enqueue(c, cfg, &k, 1, now, 0, 0, now, &e);
				plumb_log(PLUMB_LOG_INFO, "alert: PlumbHostSilent firing for %s", host);
			}
		}
		names_free(&still);
		if (r != 0) {
			hub_conn_rollback(c);
			break;
		}
		if ((r = hub_conn_commit(c, &e)) != 0)
			break;
		raised += changes == 1;
	}
	names_free(&silent);
	/* Repeats: each firing alert again to Alertmanager every
	 * repeat_interval; the UPDATE claims them, so two hubs repeat once. */
	int has_am = 0;
	for (int i = 0; i < cfg->nrcv; i++)
		has_am |= cfg->rcv[i].type == HUB_RCV_ALERTMANAGER;
	if (r == 0 && has_am) {
		struct repeat_list due = {0};
		if ((r = hub_conn_begin(c, &e)) == 0) {
			NUM(s_rep, now + cfg->repeat_s);
			const char *p[] = {s_now, s_rep};
			r = hub_conn_exec(c,
					  "UPDATE alert_state SET repeat_at = CAST($2 AS BIGINT) WHERE repeat_at <= CAST($1 AS BIGINT)"
					  " RETURNING host, alertname, resource, status, summary, started_at",
					  2, p, repeat_row, &due, NULL, &e);
			if (due.nomem)
				r = plumb_err_set(&e, PLUMB_E_NOMEM, "out of memory");
			for (size_t i = 0; r == 0 && i < due.n; i++) {
				struct repeat *d = &due.v[i];
				struct alert_key k = {d->f[0], d->f[1], d->f[2], d->f[3], d->f[4]};
				r = alerts_enqueue(c, cfg, &k, 1, d->started, 0, 1, now, &e);
			}
			if (r == 0)
				r = hub_conn_commit(c, &e);
			else
				hub_conn_rollback(c);
		}
		for (size_t i = 0; i < due.n; i++)
			for (int j = 0; j < 5; j++)
				free(due.v[i].f[j]);
		free(due.v);
	}
	if (r != 0)
		plumb_log(PLUMB_LOG_ERROR, "alerts: timer: %s", e.msg);
	hub_db_release(db, c);
	alerts_cfg_put();
	int wrote = wrote_outbox || raised;
	wrote_outbox = 0;
	return wrote;
}
