/* store.c - ingest, fleet and event queries, retention: the hub's SQL,
 * written once for SQLite and PostgreSQL alike. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "plumb/buf.h"
#include "plumb/util.h"
#include "../src/banned.h"

#define NUM(buf, v) snprintf((buf), sizeof(buf), "%lld", (long long)(v))

/* Actions that leave drift in place. "refused" and "rolled-back" are not
 * drift: the host keeps enforcing the baseline it had (the timeline shows
 * them; the host's commit and serial show it did not move). */
static int unresolved_action(const char *a)
{
	return !strcmp(a, "detected") || !strcmp(a, "failed") || !strcmp(a, "contested");
}

static const char *opt_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Cuts s (written by snprintf) back to whole UTF-8 characters: a reason
 * cut in the middle of one would be invalid text (PostgreSQL refuses it). */
static void utf8_trim(char *s)
{
	size_t n = strlen(s), i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t want = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < want)
		s[i - 1] = '\0';
}

/* Why a report leaves its host refused: the first refused tip or
 * rolled-back firewall change, with the agent's error. Empty if none. */
static void refused_reason(char out[HUB_REASON_MAX], const json_t *evs)
{
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(evs); i++) {
		const json_t *ev = json_array_get(evs, i);
		const char *a = opt_str(ev, "action"), *e = opt_str(ev, "error");
		if (strcmp(a, "refused") && strcmp(a, "rolled-back"))
			continue;
		snprintf(out, HUB_REASON_MAX, "%s %s%s%s", opt_str(ev, "resource"), a, e ? ": " : "", e ? e : "");
		utf8_trim(out);
		return;
	}
}

/* Why a report's host enforces no signed baseline. Empty if it does. */
static void unprotected_reason(char out[HUB_REASON_MAX], const json_t *doc)
{
	const json_t *b = json_object_get(doc, "baseline");
	const char *mode = opt_str(doc, "mode");
	out[0] = '\0';
	if (json_is_null(json_object_get(b, "commit")) || json_is_null(json_object_get(b, "signer")))
		snprintf(out, HUB_REASON_MAX, "no signed baseline (an unsigned directory)");
	else if (mode && !strcmp(mode, "audit"))
		snprintf(out, HUB_REASON_MAX, "audit mode: drift is reported, never reverted");
}

struct bytes_ctx {
	long long v;
	int found;
};

static int bytes_row(void *ctx, int n, const char *const *v)
{
	struct bytes_ctx *b = ctx;
	if (n > 0 && v[0]) {
		b->v = strtoll(v[0], NULL, 10);
		b->found = 1;
	}
	return 0;
}

int hub_store_ingest(struct hub_conn *c, const json_t *doc, const char *body, size_t len, time_t finished,
		     time_t now, unsigned long long quota, int *duplicate, struct plumb_err *err)
{
	int r;
	long changes = 0;
	char s_now[24], s_fin[24], s_nev[24], s_serial[24], s_unres[24], s_rev[24], s_fail[24], s_drift[24],
		s_len[24];
	char refused[HUB_REASON_MAX], unprot[HUB_REASON_MAX];
	const json_t *b = json_object_get(doc, "baseline"), *evs = json_object_get(doc, "events");
	const char *id = opt_str(doc, "id"), *host = opt_str(doc, "host");
	const json_t *serial = json_object_get(b, "serial");
	size_t nev = json_array_size(evs);
	long long unres = 0, rev = 0, fail = 0;
	time_t last_drift = 0;

	*duplicate = 0;
	NUM(s_now, now);
	NUM(s_fin, finished);
	NUM(s_nev, nev);
	NUM(s_len, len);
	if (json_is_integer(serial))
		NUM(s_serial, json_integer_value(serial));
	refused_reason(refused, evs);
	unprotected_reason(unprot, doc);
	if ((r = hub_conn_begin(c, err)) != 0)
		return r;
	const char *rp[] = {id, host, s_now, s_fin, opt_str(b, "commit"), json_is_integer(serial) ? s_serial : NULL,
			    s_nev, body, s_len};
	if ((r = hub_conn_exec(c,
			       "INSERT INTO reports (id, host, received_at, finished_at, commit_id, serial, nevents, body,"
			       " body_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (host, id) DO NOTHING",
			       9, rp, NULL, NULL, &changes, err)) != 0)
		goto fail;
	if (changes == 0) { /* a retry of a report this host already stored */
		hub_conn_rollback(c);
		*duplicate = 1;
		return 0;
	}
	if (quota) {
		struct bytes_ctx have = {0};
		const char *qp[] = {host};
		if ((r = hub_conn_exec(c, "SELECT stored_bytes FROM hosts WHERE host = $1", 1, qp, bytes_row, &have,
				       NULL, err)) != 0)
			goto fail;
		if ((unsigned long long)have.v + len > quota) {
			r = plumb_err_set(err, PLUMB_E_TOOBIG, "host '%s' keeps %lld bytes of reports; its quota is %llu",
					  host, have.v, quota);
			goto fail;
		}
	}
	for (size_t i = 0; i < nev; i++) {
		const json_t *ev = json_array_get(evs, i);
		const char *action = opt_str(ev, "action");
		time_t at = 0;
		char s_at[24];
		plumb_time_parse(&at, opt_str(ev, "at"));
		NUM(s_at, at);
		if (unresolved_action(action))
			unres++;
		if (!strcmp(action, "reverted"))
			rev++;
		if (!strcmp(action, "failed"))
			fail++;
		if (strcmp(action, "refused") && at > last_drift)
			last_drift = at;
		char *evtext = json_dumps(ev, JSON_COMPACT);
		if (!evtext) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto fail;
		}
		const char *ep[] = {id, host, s_now, s_at, opt_str(ev, "resource"), action, evtext};
		r = hub_conn_exec(c,
				  "INSERT INTO events (report_id, host, received_at, at, resource, action, body)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7)",
				  7, ep, NULL, NULL, NULL, err);
		free(evtext);
		if (r != 0)
			goto fail;
	}
	NUM(s_unres, unres);
	NUM(s_rev, rev);
	NUM(s_fail, fail);
	NUM(s_drift, last_drift);
	const char *hp[] = {host, s_now, s_nev, s_rev, s_fail, last_drift ? s_drift : NULL, s_len};
	if ((r = hub_conn_exec(c,
			       "INSERT INTO hosts (host, first_seen, last_seen, reports, events, reverted, failed, last_drift_at,"
			       " stored_bytes) VALUES ($1, $2, $2, 1, $3, $4, $5, $6, $7)"
			       " ON CONFLICT (host) DO UPDATE SET"
			       " last_seen = CASE WHEN excluded.last_seen > hosts.last_seen THEN excluded.last_seen"
			       " ELSE hosts.last_seen END,"
			       " reports = hosts.reports + 1, events = hosts.events + excluded.events,"
			       " reverted = hosts.reverted + excluded.reverted, failed = hosts.failed + excluded.failed,"
			       " stored_bytes = hosts.stored_bytes + excluded.stored_bytes,"
			       " last_drift_at = CASE WHEN hosts.last_drift_at IS NULL OR"
			       " excluded.last_drift_at > hosts.last_drift_at THEN"
			       " COALESCE(excluded.last_drift_at, hosts.last_drift_at) ELSE hosts.last_drift_at END",
			       7, hp, NULL, NULL, NULL, err)) != 0)
		goto fail;
	/* Receive order: this transaction holds the host's row (SQLite: the
	 * write lock; PostgreSQL: the row lock the upsert above took), so the
	 * last report to commit is the host's state. */
	const char *sp[] = {host,
			    s_fin,
			    id,
			    opt_str(b, "commit"),
			    json_is_integer(serial) ? s_serial : NULL,
			    opt_str(b, "signer"),
			    opt_str(b, "fingerprint"),
			    json_is_true(json_object_get(b, "stale")) ? "1" : "0",
			    opt_str(doc, "mode"),
			    opt_str(doc, "agent_version"),
			    s_unres,
			    refused[0] ? refused : NULL,
			    unprot[0] ? unprot : NULL,
			    opt_str(json_object_get(doc, "run"), "id")};
	/* Parts of one run (run.id) add up: unresolved drift and a refusal in
	 * an earlier part stay until a report of another run arrives. */
	if ((r = hub_conn_exec(c,
			       "UPDATE hosts SET last_finished = $2, last_report = $3, commit_id = $4, serial = $5,"
			       " signer = $6, fingerprint = $7, stale = $8, mode = $9, agent_version = $10,"
			       " unresolved = CASE WHEN last_run = $14 THEN unresolved + $11 ELSE $11 END,"
			       " refused = CASE WHEN last_run = $14 THEN COALESCE(refused, $12) ELSE $12 END,"
			       " unprotected = $13, last_run = $14 WHERE host = $1",
			       14, sp, NULL, NULL, NULL, err)) != 0)
		goto fail;
	/* Alerts this report raises or clears, in its own transaction. */
	if ((r = hub_alerts_ingest(c, doc, now, err)) != 0)
		goto fail;
	if ((r = hub_conn_commit(c, err)) == 0)
		hub_alerts_kick();
	return r;
fail:
	hub_conn_rollback(c);
	return r;
}

struct hosts_ctx {
	struct plumb_buf *b;
	time_t now, silent_after;
	const char *filter;
	long long counts[HUB_NSTATUS];
	int n, err;
};

enum { ST_SILENT, ST_DRIFTING, ST_REFUSED, ST_UNPROTECTED, ST_STALE, ST_COMPLIANT };
const char *const hub_statuses[HUB_NSTATUS + 1] = {"silent", "drifting", "refused", "unprotected", "stale",
						   "compliant", NULL};

/* The fleet list is written as JSON text directly: at 10,000 hosts, a tree
 * of jansson objects spent most of its time in malloc. Values come from our
 * own tables (validated on the way in); strings are escaped all the same. */
static int put_str(struct plumb_buf *b, const char *s)
{
	int bad = 0;
	if (!s)
		return plumb_buf_adds(b, "null");
	bad |= plumb_buf_add(b, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch && ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		bad |= plumb_buf_add(b, run, (size_t)(s - run));
		if (!ch)
			break;
		if (ch == '"' || ch == '\\')
			bad |= plumb_buf_addf(b, "\\%c", ch);
		else
			bad |= plumb_buf_addf(b, "\\u%04x", ch);
		run = s + 1;
	}
	return bad | plumb_buf_add(b, "\"", 1);
}

static int put_time(struct plumb_buf *b, const char *v)
{
	char t[21];
	if (!v)
		return plumb_buf_adds(b, "null");
	plumb_time_format(t, (time_t)strtoll(v, NULL, 10));
	return plumb_buf_addf(b, "\"%s\"", t);
}

static int put_int(struct plumb_buf *b, const char *v)
{
	if (!v)
		return plumb_buf_adds(b, "null");
	return plumb_buf_addf(b, "%lld", strtoll(v, NULL, 10));
}

static int host_row(void *ctx, int n, const char *const *v)
{
	struct hosts_ctx *h = ctx;
	struct plumb_buf *b = h->b;
	int bad = 0;
	if (n < 19)
		return 0;
	time_t last_seen = (time_t)strtoll(v[2], NULL, 10);
	int stale = v[8] && !strcmp(v[8], "1");
	long long unres = strtoll(v[11], NULL, 10);
	char why[HUB_REASON_MAX + 64] = "";
	int st;
	if (h->now - last_seen > h->silent_after) {
		st = ST_SILENT;
		snprintf(why, sizeof(why), "no report for %llds", (long long)(h->now - last_seen));
	} else if (unres > 0) {
		st = ST_DRIFTING;
		snprintf(why, sizeof(why), "%lld unresolved in the newest report", unres);
	} else if (v[17]) {
		st = ST_REFUSED;
		snprintf(why, sizeof(why), "%s", v[17]);
	} else if (v[18]) {
		st = ST_UNPROTECTED;
		snprintf(why, sizeof(why), "%s", v[18]);
	} else if (stale) {
		st = ST_STALE;
		snprintf(why, sizeof(why), "the baseline expired");
	} else {
		st = ST_COMPLIANT;
	}
	h->counts[st]++;
	if (h->filter && strcmp(h->filter, hub_statuses[st]))
		return 0;
	bad |= plumb_buf_adds(b, h->n++ ? ",{\"host\":" : "{\"host\":");
	bad |= put_str(b, v[0]);
	bad |= plumb_buf_addf(b, ",\"status\":\"%s\",\"reason\":", hub_statuses[st]);
	bad |= why[0] ? put_str(b, why) : plumb_buf_adds(b, "null");
	bad |= plumb_buf_adds(b, ",\"first_seen\":");
	bad |= put_time(b, v[1]);
	bad |= plumb_buf_adds(b, ",\"last_seen\":");
	bad |= put_time(b, v[2]);
	bad |= plumb_buf_adds(b, ",\"last_report\":");
	bad |= put_str(b, v[3]);
	bad |= plumb_buf_adds(b, ",\"baseline\":{\"commit\":");
	bad |= put_str(b, v[4]);
	bad |= plumb_buf_adds(b, ",\"serial\":");
	bad |= put_int(b, v[5]);
	bad |= plumb_buf_adds(b, ",\"signer\":");
	bad |= put_str(b, v[6]);
	bad |= plumb_buf_adds(b, ",\"fingerprint\":");
	bad |= put_str(b, v[7]);
	bad |= plumb_buf_addf(b, ",\"stale\":%s},\"mode\":", stale ? "true" : "false");
	bad |= put_str(b, v[9]);
	bad |= plumb_buf_adds(b, ",\"agent_version\":");
	bad |= put_str(b, v[10]);
	bad |= plumb_buf_addf(b, ",\"drifting\":%s,\"unresolved\":", st == ST_DRIFTING ? "true" : "false");
	bad |= put_int(b, v[11]);
	bad |= plumb_buf_adds(b, ",\"last_drift_at\":");
	bad |= put_time(b, v[12]);
	bad |= plumb_buf_adds(b, ",\"counts\":{\"reports\":");
	bad |= put_int(b, v[13]);
	bad |= plumb_buf_adds(b, ",\"events\":");
	bad |= put_int(b, v[14]);
	bad |= plumb_buf_adds(b, ",\"reverted\":");
	bad |= put_int(b, v[15]);
	bad |= plumb_buf_adds(b, ",\"failed\":");
	bad |= put_int(b, v[16]);
	bad |= plumb_buf_adds(b, "}}");
	if (bad) { /* a failed append leaves the buffer as it was: stop here */
		h->err = PLUMB_E_NOMEM;
		return 1;
	}
	return 0;
}

int hub_store_hosts(struct hub_conn *c, time_t now, time_t silent_after, const char *status_filter, char **out,
		    size_t *len, struct plumb_err *err)
{
	struct plumb_buf b;
	struct hosts_ctx h = {.b = &b, .now = now, .silent_after = silent_after, .filter = status_filter};
	int r;
	plumb_buf_init(&b, HUB_HOSTS_JSON_MAX);
	plumb_buf_adds(&b, "{\"hosts\":[");
	r = hub_conn_exec(c,
			  "SELECT host, first_seen, last_seen, last_report, commit_id, serial, signer, fingerprint,"
			  " stale, mode, agent_version, unresolved, last_drift_at, reports, events, reverted, failed,"
			  " refused, unprotected FROM hosts ORDER BY host",
			  0, NULL, host_row, &h, NULL, err);
	if (h.err)
		r = plumb_err_set(err, h.err, "the host list does not fit in memory");
	if (r == 0) {
		long long total = 0;
		plumb_buf_adds(&b, "],\"summary\":{");
		for (int i = 0; i < HUB_NSTATUS; i++) {
			plumb_buf_addf(&b, "\"%s\":%lld,", hub_statuses[i], h.counts[i]);
			total += h.counts[i];
		}
		plumb_buf_addf(&b, "\"total\":%lld},\"silent_after\":%lld}", total, (long long)silent_after);
		if (!(*out = plumb_buf_detach(&b, len)))
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	plumb_buf_release(&b);
	return r;
}

int hub_store_status_counts(struct hub_conn *c, time_t now, time_t silent_after, long long counts[HUB_NSTATUS],
			    struct plumb_err *err)
{
	struct plumb_buf b;
	/* A filter no status has: every host is counted, none written out. */
	struct hosts_ctx h = {.b = &b, .now = now, .silent_after = silent_after, .filter = ""};
	int r;
	plumb_buf_init(&b, 64);
	r = hub_conn_exec(c,
			  "SELECT host, first_seen, last_seen, last_report, commit_id, serial, signer, fingerprint,"
			  " stale, mode, agent_version, unresolved, last_drift_at, reports, events, reverted, failed,"
			  " refused, unprotected FROM hosts",
			  0, NULL, host_row, &h, NULL, err);
	plumb_buf_release(&b);
	for (int i = 0; i < HUB_NSTATUS; i++)
		counts[i] = h.counts[i];
	return r;
}

static json_t *time_or_null(const char *v)
{
	char t[21];
	if (!v)
		return json_null();
	plumb_time_format(t, (time_t)strtoll(v, NULL, 10));
	return json_string(t);
}

struct events_ctx {
	json_t *list;
	long long last_seq;
	size_t bytes; /* of the stored event texts taken so far */
	int rows, limit, nomem, full;
};

static int event_row(void *ctx, int n, const char *const *v)
{
	struct events_ctx *e = ctx;
	if (n < 5)
		return 0;
	if (++e->rows > e->limit) /* the extra row only says there is a next page */
		return 1;
	/* Bounded in bytes too: a page ends early rather than grow past the
	 * cap; its "next" continues from here. One event always fits. */
	size_t n_text = strlen(v[4]) + strlen(v[1]) + strlen(v[2]) + 96;
	if (e->rows > 1 && e->bytes + n_text > HUB_EVENTS_BYTES_MAX) {
		e->full = 1;
		return 1;
	}
	e->bytes += n_text;
	json_t *o = json_loads(v[4], 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	e->last_seq = strtoll(v[0], NULL, 10);
	json_object_set_new(o, "seq", json_integer(e->last_seq));
	json_object_set_new(o, "report", json_string(v[1]));
	json_object_set_new(o, "host", json_string(v[2]));
	json_object_set_new(o, "received_at", time_or_null(v[3]));
	if (json_array_append_new(e->list, o) != 0) {
		e->nomem = 1;
		return 1;
	}
	return 0;
}

int hub_store_events(struct hub_conn *c, const struct hub_event_query *q, json_t **out, struct plumb_err *err)
{
	char sql[512], s_since[24], s_before[24], s_limit[24];
	const char *p[6];
	int np = 0, r;
	struct events_ctx e = {.list = json_array(), .limit = q->limit};
	if (!e.list)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	/* The WHERE clause is assembled from fixed fragments only; every value
	 * travels as a parameter. */
	int len = snprintf(sql, sizeof(sql), "SELECT seq, report_id, host, received_at, body FROM events WHERE 1 = 1");
#define FILTER(cond, frag, val)                                                                     \
	if (cond) {                                                                                 \
		p[np++] = (val);                                                                    \
		len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND " frag " $%d", np);   \
	}
	FILTER(q->host, "host =", q->host)
	FILTER(q->resource, "resource =", q->resource)
	FILTER(q->action, "action =", q->action)
	NUM(s_since, q->since);
	FILTER(q->since, "at >=", s_since)
	NUM(s_before, q->before);
	FILTER(q->before, "seq <", s_before)
#undef FILTER
	NUM(s_limit, q->limit + 1);
	p[np++] = s_limit;
	snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY seq DESC LIMIT CAST($%d AS INTEGER)", np);
	r = hub_conn_exec(c, sql, np, p, event_row, &e, NULL, err);
	if (r == 1 && !e.nomem) /* stopped early: the page is full */
		r = 0;
	if (e.nomem)
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if (r != 0) {
		json_decref(e.list);
		return r;
	}
	*out = json_object();
	json_object_set_new(*out, "events", e.list);
	json_object_set_new(*out, "next", e.rows > e.limit || e.full ? json_integer(e.last_seq) : json_null());
	return 0;
}

static int body_row(void *ctx, int n, const char *const *v)
{
	char **out = ctx;
	if (n < 1 || !v[0] || *out)
		return 0;
	if (!(*out = strdup(v[0])))
		return PLUMB_E_NOMEM;
	return 0;
}

int hub_store_report(struct hub_conn *c, const char *id, const char *host, char **out, struct plumb_err *err)
{
	const char *p[] = {id, host};
	int r;
	*out = NULL;
	/* Ids are unique per host; without a host the first received wins. */
	if ((r = hub_conn_exec(c,
			       host ? "SELECT body FROM reports WHERE id = $1 AND host = $2"
				    : "SELECT body FROM reports WHERE id = $1 ORDER BY received_at LIMIT 1",
			       host ? 2 : 1, p, body_row, out, NULL, err)) != 0) {
		free(*out);
		*out = NULL;
		return r == PLUMB_E_NOMEM ? plumb_err_set(err, r, "out of memory") : r;
	}
	if (!*out)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "no report '%s'", id);
	return 0;
}

int hub_store_prune(struct hub_conn *c, time_t cutoff, long *events, long *reports, struct plumb_err *err)
{
	char s_cut[24];
	int r;
	NUM(s_cut, cutoff);
	const char *p[] = {s_cut};
	if ((r = hub_conn_begin(c, err)) != 0)
		return r;
	if ((r = hub_conn_exec(c, "DELETE FROM events WHERE received_at < $1", 1, p, NULL, NULL, events, err)) != 0 ||
	    (r = hub_conn_exec(c, "DELETE FROM reports WHERE received_at < $1", 1, p, NULL, NULL, reports, err)) != 0 ||
	    ((*events || *reports) &&
	     (r = hub_conn_exec(c,
				"UPDATE hosts SET stored_bytes = COALESCE((SELECT SUM(body_bytes) FROM reports"
				" WHERE reports.host = hosts.host), 0)",
				0, NULL, NULL, NULL, NULL, err)) != 0)) {
		hub_conn_rollback(c);
		return r;
	}
	if ((r = hub_conn_commit(c, err)) != 0)
		return r;
	/* Pruned text must leave the file too (secure_delete zeroes freed
	 * pages; the checkpoint moves them out of the WAL). */
	if (*events || *reports)
		hub_conn_checkpoint(c);
	return 0;
}
