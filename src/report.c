/* report.c - report assembly and its two renderings (JSON and human).
 * The JSON form is the contract; the human form is derived from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/hash.h"
#include "plumb/path.h"
#include "plumb/report.h"
#include "plumb/util.h"
#include "plumb/version.h"
#include "banned.h"

static const char *drift_names[] = {
	"content", "mode", "owner", "group", "type", "target", "missing", "present", "rules", "acl", "links",
	"unmanaged", "value", "enabled", "running",
};

const char *plumb_action_name(enum plumb_action a)
{
	switch (a) {
	case PLUMB_ACT_DETECTED: return "detected";
	case PLUMB_ACT_REVERTED: return "reverted";
	case PLUMB_ACT_FAILED: return "failed";
	case PLUMB_ACT_CONTESTED: return "contested";
	case PLUMB_ACT_REFUSED: return "refused";
	case PLUMB_ACT_ROLLED_BACK: return "rolled-back";
	case PLUMB_ACT_NOTIFIED: return "notified";
	}
	return "unknown";
}

void plumb_drift_names(char *out, size_t outlen, unsigned drift)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(drift_names) / sizeof(drift_names[0]); i++) {
		if (!(drift & (1u << i)))
			continue;
		n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, "%s%s", n ? "," : "", drift_names[i]);
		if (n >= outlen)
			return;
	}
}

int plumb_report_init(struct plumb_report *r, const char *mode, struct plumb_err *err)
{
	memset(r, 0, sizeof(*r));
	if (plumb_uuid4(r->id) != 0)
		return plumb_err_set(err, PLUMB_E_IO, "cannot read random bytes for the report id");
	if (gethostname(r->host, sizeof(r->host) - 1) != 0)
		snprintf(r->host, sizeof(r->host), "unknown");
	r->mode = mode;
	r->started_at = time(NULL);
	return 0;
}

static void event_release(struct plumb_event *ev)
{
	free(ev->resource);
	json_decref(ev->expected);
	json_decref(ev->actual);
	free(ev->error);
	free(ev->quarantine);
}

int plumb_report_add(struct plumb_report *r, struct plumb_event *ev)
{
	if (r->nevents == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		struct plumb_event *nv = reallocarray(r->events, ncap, sizeof(*nv));

		if (nv == NULL) {
			event_release(ev);
			return PLUMB_E_NOMEM;
		}
		r->events = nv;
		r->cap = ncap;
	}
	r->events[r->nevents++] = *ev;
	memset(ev, 0, sizeof(*ev));
	return 0;
}

int plumb_report_event(struct plumb_report *r, const char *resource, unsigned drift, enum plumb_action a,
		       json_t *expected, json_t *actual, const char *error)
{
	struct plumb_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.drift = drift;
	ev.action = a;
	ev.expected = expected;
	ev.actual = actual;
	ev.at = time(NULL);
	ev.resource = strdup(resource);
	ev.error = error != NULL ? strdup(error) : NULL;
	if (ev.resource == NULL || (error != NULL && ev.error == NULL)) {
		event_release(&ev);
		return PLUMB_E_NOMEM;
	}
	return plumb_report_add(r, &ev);
}

int plumb_report_baseline_event(struct plumb_report *r, enum plumb_action action, const char *why)
{
	int e = plumb_report_event(r, "baseline", 0, action, NULL, NULL, why);

	if (e == 0 && action == PLUMB_ACT_FAILED)
		r->failed++;
	return e;
}

void plumb_report_merge(struct plumb_report *dst, struct plumb_report *src)
{
	for (size_t i = 0; i < src->nevents; i++)
		(void)plumb_report_add(dst, &src->events[i]);   /* frees it on failure */
	src->nevents = 0;
	dst->drifted += src->drifted;
	dst->reverted += src->reverted;
	dst->failed += src->failed;
}

void plumb_report_release(struct plumb_report *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		event_release(&r->events[i]);
	free(r->events);
	free(r->commit);
	free(r->signer);
	free(r->fingerprint);
	free(r->refused);
	memset(r, 0, sizeof(*r));
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *time_json(time_t t)
{
	char buf[21];

	plumb_time_format(buf, t);
	return json_string(buf);
}

json_t *plumb_event_json(const struct plumb_event *ev)
{
	json_t *o = json_object(), *drift = json_array();

	if (o == NULL || drift == NULL) {
		json_decref(o);
		json_decref(drift);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(drift_names) / sizeof(drift_names[0]); i++)
		if (ev->drift & (1u << i))
			json_array_append_new(drift, json_string(drift_names[i]));
	json_object_set_new(o, "resource", json_string(ev->resource));
	json_object_set_new(o, "drift", drift);
	json_object_set_new(o, "action", json_string(plumb_action_name(ev->action)));
	json_object_set(o, "expected", ev->expected ? ev->expected : json_null());
	json_object_set(o, "actual", ev->actual ? ev->actual : json_null());
	json_object_set_new(o, "at", time_json(ev->at));
	if (ev->error)
		json_object_set_new(o, "error", json_string(ev->error));
	if (ev->quarantine)
		json_object_set_new(o, "quarantine", json_string(ev->quarantine));
	if (ev->count)
		json_object_set_new(o, "count", json_integer((json_int_t)ev->count));
	return o;
}

int plumb_event_parse(struct plumb_event *out, const json_t *o)
{
	static const char *const actions[] = {"detected", "reverted", "failed", "contested", "refused", "rolled-back",
					      "notified"};
	const char *res = json_string_value(json_object_get(o, "resource"));
	const char *act = json_string_value(json_object_get(o, "action"));
	const char *at = json_string_value(json_object_get(o, "at"));
	const char *s;
	size_t i;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (res == NULL || act == NULL)
		return PLUMB_E_INVALID;
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]) && strcmp(actions[i], act) != 0; i++)
		;
	if (i == sizeof(actions) / sizeof(actions[0]))
		return PLUMB_E_INVALID;
	out->action = (enum plumb_action)i;
	json_array_foreach(json_object_get(o, "drift"), i, v) {
		for (size_t k = 0; k < sizeof(drift_names) / sizeof(drift_names[0]); k++)
			if ((s = json_string_value(v)) != NULL && strcmp(s, drift_names[k]) == 0)
				out->drift |= 1u << k;
	}
	if (at == NULL || plumb_time_parse(&out->at, at) != 0)
		out->at = time(NULL);
	if ((v = json_object_get(o, "expected")) != NULL && !json_is_null(v))
		out->expected = json_incref(v);
	if ((v = json_object_get(o, "actual")) != NULL && !json_is_null(v))
		out->actual = json_incref(v);
	out->resource = strdup(res);
	if ((s = json_string_value(json_object_get(o, "error"))) != NULL)
		out->error = strdup(s);
	if ((s = json_string_value(json_object_get(o, "quarantine"))) != NULL)
		out->quarantine = strdup(s);
	if (out->resource == NULL) {
		event_release(out);
		memset(out, 0, sizeof(*out));
		return PLUMB_E_NOMEM;
	}
	return 0;
}

void plumb_event_release(struct plumb_event *ev)
{
	event_release(ev);
	memset(ev, 0, sizeof(*ev));
}

static const char *const weaker_names[] = {"user_missing", "user_unreachable", "no_landlock"};

const char *plumb_confine_name(unsigned bit)
{
	for (unsigned i = 0; i < sizeof(weaker_names) / sizeof(weaker_names[0]); i++)
		if (bit == 1u << i)
			return weaker_names[i];
	return NULL;
}

unsigned plumb_confine_bit(const char *name)
{
	for (unsigned i = 0; name != NULL && i < sizeof(weaker_names) / sizeof(weaker_names[0]); i++)
		if (strcmp(name, weaker_names[i]) == 0)
			return 1u << i;
	return 0;
}

json_t *plumb_report_json(const struct plumb_report *r)
{
	json_t *o = json_object(), *events = json_array(), *b = json_object(), *s = json_object();

	if (o == NULL || events == NULL || b == NULL || s == NULL) {
		json_decref(o);
		json_decref(events);
		json_decref(b);
		json_decref(s);
		return NULL;
	}
	json_object_set_new(o, "schema", json_string(PLUMB_REPORT_SCHEMA));
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "host", json_string(r->host));
	json_object_set_new(o, "agent_version", json_string(PLUMB_VERSION));
	json_object_set_new(o, "mode", json_string(r->mode));
	json_object_set_new(o, "started_at", time_json(r->started_at));
	json_object_set_new(o, "finished_at", time_json(r->finished_at));
	json_object_set_new(b, "commit", str_or_null(r->commit));
	json_object_set_new(b, "signer", str_or_null(r->signer));
	json_object_set_new(b, "fingerprint", str_or_null(r->fingerprint));
	json_object_set_new(b, "serial", r->has_serial ? json_integer((json_int_t)r->serial) : json_null());
	if (r->stale)
		json_object_set_new(b, "stale", json_true());
	json_object_set_new(o, "baseline", b);
	for (size_t i = 0; i < r->nevents; i++) {
		json_t *e = plumb_event_json(&r->events[i]);

		if (e == NULL || json_array_append_new(events, e) != 0) {
			json_decref(o);
			json_decref(events);
			json_decref(s);
			return NULL;
		}
	}
	json_object_set_new(o, "events", events);
	json_object_set_new(s, "resources", json_integer((json_int_t)r->resources));
	json_object_set_new(s, "drifted", json_integer((json_int_t)r->drifted));
	json_object_set_new(s, "reverted", json_integer((json_int_t)r->reverted));
	json_object_set_new(s, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "summary", s);
	if (r->spool_dropped || r->spool_write_errors || r->spool_rejected || r->spool_set_aside) {
		json_t *sp = json_object();

		json_object_set_new(sp, "dropped_heartbeats", json_integer((json_int_t)r->spool_dropped));
		json_object_set_new(sp, "write_errors", json_integer((json_int_t)r->spool_write_errors));
		json_object_set_new(sp, "rejected", json_integer((json_int_t)r->spool_rejected));
		if (r->spool_set_aside)
			json_object_set_new(sp, "stats_set_aside", json_integer((json_int_t)r->spool_set_aside));
		json_object_set_new(o, "spool", sp);
	}
	if (r->has_standing) {
		static const char *const kinds[] = {"file", "firewall", "sysctl", "service", "module", "package"};
		json_t *cov = json_array();
		json_t *st = cov ? json_pack("{s:o, s:I}", "covers", cov, "unresolved", (json_int_t)r->unresolved) : NULL;

		for (size_t i = 0; st != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (r->covers & (1u << i))
				json_array_append_new(cov, json_string(kinds[i]));
		if (st != NULL && r->refused != NULL)
			json_object_set_new(st, "refused", json_string(r->refused));
		if (st == NULL || json_object_set_new(o, "standing", st) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	if (r->confinement.weaker) {
		json_t *c = json_object(), *w = json_array();

		for (unsigned bit = 1; bit & PLUMB_WEAKER_ALL; bit <<= 1)
			if (r->confinement.weaker & bit)
				json_array_append_new(w, json_string(plumb_confine_name(bit)));
		json_object_set_new(c, "weaker", w);
		json_object_set_new(c, "detail", json_string(r->confinement.detail));
		json_object_set_new(o, "confinement", c);
	}
	return o;
}

static json_int_t geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A value of expected or actual for people: strings as they are, numbers
 * as numbers, anything else (absent, null) as "?". */
static const char *val(char *buf, size_t len, const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_string(v))
		plumb_escape_ctl(buf, len, json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v))
		snprintf(buf, len, "yes");
	else
		snprintf(buf, len, "?");
	return buf;
}

/* "sha256 0123456789ab…, 42 bytes" of one side's content. */
static const char *content_of(char *buf, size_t len, const json_t *o)
{
	const char *h = jstr(o, "sha256");
	const json_t *sz = json_object_get(o, "size");

	if (h == NULL && !json_is_integer(sz))
		snprintf(buf, len, json_is_true(json_object_get(o, "too_large")) ? "too large to hash" : "?");
	else if (h == NULL)
		snprintf(buf, len, "%lld bytes", (long long)json_integer_value(sz));
	else if (!json_is_integer(sz))
		snprintf(buf, len, "sha256 %.12s", h);
	else
		snprintf(buf, len, "sha256 %.12s, %lld bytes", h, (long long)json_integer_value(sz));
	return buf;
}

/* One line per drift kind: what was found, then what the baseline wants. */
static void print_drift_values(const json_t *ev, FILE *out)
{
	const json_t *exp = json_object_get(ev, "expected"), *act = json_object_get(ev, "actual");
	const json_t *d = json_object_get(ev, "drift"), *k;
	char a[PLUMB_PATH_MAX + 16], w[PLUMB_PATH_MAX + 16];
	size_t j;

	json_array_foreach(d, j, k) {
		const char *kind = json_string_value(k);

		if (kind == NULL)
			continue;
		if (strcmp(kind, "mode") == 0 || strcmp(kind, "owner") == 0 || strcmp(kind, "group") == 0 ||
		    strcmp(kind, "type") == 0 || strcmp(kind, "target") == 0)
			fprintf(out, "    %s %s, want %s\n", kind, val(a, sizeof(a), act, kind), val(w, sizeof(w), exp, kind));
		else if (strcmp(kind, "content") == 0 || strcmp(kind, "rules") == 0)
			fprintf(out, "    %s %s, want %s\n", kind, content_of(a, sizeof(a), act), content_of(w, sizeof(w), exp));
		else if (strcmp(kind, "missing") == 0)
			fprintf(out, "    missing, want %s\n", jstr(exp, "type") ? val(w, sizeof(w), exp, "type") : "it present");
		else if (strcmp(kind, "present") == 0)
			fprintf(out, "    present (%s), want absent\n", jstr(act, "type") ? val(a, sizeof(a), act, "type") : "?");
		else if (strcmp(kind, "acl") == 0)
			fprintf(out, "    acl: extended ACL entries, want none\n");
		else if (strcmp(kind, "links") == 0)
			fprintf(out, "    links %s, want 1\n", val(a, sizeof(a), act, "links"));
		else
			fprintf(out, "    %s\n", kind);
	}
}

/* The report's diff ("-" baseline, "+" found), under file headers. */
static void print_diff(const json_t *ev, const char *res, FILE *out, unsigned flags)
{
	const json_t *exp = json_object_get(ev, "expected"), *act = json_object_get(ev, "actual");
	const char *d = jstr(act, "diff"), *p, *nl;
	int color = (flags & PLUMB_HUMAN_COLOR) != 0;

	if (d == NULL) {
		if (json_is_true(json_object_get(exp, "sensitive")))
			fprintf(out, "    (no diff: sensitive, reported by hashes only)\n");
		else if (json_object_get(act, "sha256") != NULL)
			fprintf(out, "    (no diff: binary, too large or not world-readable)\n");
		return;
	}
	fprintf(out, "%s--- %s (baseline)\n+++ %s (found)%s\n", color ? "\033[1m" : "", res, res, color ? "\033[m" : "");
	for (p = d; *p != '\0'; p = nl + 1) {
		const char *c = NULL;
		size_t len;
		char line[4096];

		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		len = (size_t)(nl - p) + (*nl == '\n' ? 0 : 1);
		if (color)
			c = *p == '-' ? "\033[31m" : *p == '+' ? "\033[32m" : *p == '@' ? "\033[36m" : NULL;
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		/* Terminal escapes in a drifted file stay visible, never interpreted. */
		{
			char esc[4 * sizeof(line)];

			plumb_escape_ctl(esc, sizeof(esc), line);
			fprintf(out, "%s%s%s\n", c ? c : "", esc, c ? "\033[m" : "");
		}
		if (*nl == '\0')
			break;
	}
}

void plumb_report_print_human(const json_t *report, FILE *out, unsigned flags)
{
	const json_t *events = json_object_get(report, "events");
	const json_t *sum = json_object_get(report, "summary");
	const json_t *b = json_object_get(report, "baseline");
	const char *signer = jstr(b, "signer"), *commit = jstr(b, "commit"), *bl;
	int refused = 0;
	size_t i;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		const json_t *d = json_object_get(ev, "drift");
		const char *err = jstr(ev, "error"), *action = jstr(ev, "action");
		const char *q = jstr(ev, "quarantine");
		char kinds[160] = "", res[2 * PLUMB_PATH_MAX], msg[2 * PLUMB_ERR_MAX];
		size_t n = 0, j;
		json_t *k;

		if (action != NULL && strcmp(action, "refused") == 0) {
			refused = 1;
			if (flags & PLUMB_HUMAN_NO_REFUSED)
				continue;
		}
		json_array_foreach(d, j, k)
			n += (size_t)snprintf(kinds + n, n < sizeof(kinds) ? sizeof(kinds) - n : 0, "%s%s",
					      n ? "," : "", json_string_value(k));
		plumb_escape_ctl(res, sizeof(res), jstr(ev, "resource"));
		fprintf(out, "%s: %s%s%s", res, action ? action : "?", n ? " " : "", kinds);
		if (err)
			fprintf(out, ": %s", plumb_escape_ctl(msg, sizeof(msg), err));
		if (q)
			fprintf(out, " (old content kept as quarantine/%.12s)", q);
		fputc('\n', out);
		print_drift_values(ev, out);
		if ((flags & PLUMB_HUMAN_DIFF) && json_object_get(json_object_get(ev, "actual"), "sha256") != NULL)
			print_diff(ev, res, out, flags);
	}
	if (commit == NULL && signer == NULL && refused && geti(sum, "resources") == 0)
		bl = "no baseline loaded";
	else if (signer != NULL)
		bl = "baseline signed by ";
	else
		bl = "baseline unsigned";
	{
		const json_t *c = json_object_get(report, "confinement");
		const char *detail = jstr(c, "detail");
		char msg[2 * PLUMB_CONFINE_DETAIL_MAX];

		if (c != NULL)
			fprintf(out, "weaker confinement: %s\n", plumb_escape_ctl(msg, sizeof(msg), detail ? detail : "?"));
	}
	fprintf(out, "%s: %lld resources, %lld drifted, %lld reverted, %lld failed (%s, %s%s%s)\n",
		jstr(report, "mode"),
		(long long)geti(sum, "resources"), (long long)geti(sum, "drifted"),
		(long long)geti(sum, "reverted"), (long long)geti(sum, "failed"),
		jstr(report, "finished_at"), bl, signer ? signer : "",
		json_is_true(json_object_get(b, "stale")) ? ", STALE" : "");
}

/* Splitting a run's report under a byte cap.
 * Every part is a whole plumb.report/v1 object: the run's header, a slice
 * of its events in order, a summary counting that slice, and
 * "run": {id, part, parts}. Part k of n stands for the interval
 * [(k-1)/n, k/n) of the run's events; a part split again (the control
 * plane answered 413) hands its interval to its pieces, so whatever was
 * split how often, the run is whole when its reports' intervals cover
 * [0, 1). Ids are derived from the parent's id and the piece's place, so
 * splitting the same report twice (a crash between writing the pieces and
 * removing it) yields the same ids, and the hub's idempotency keeps one. */

#define SPLIT_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define PARTS_MAX (1LL << 40)

static size_t dump_len(const json_t *j)
{
	return json_dumpb(j, NULL, 0, SPLIT_FLAGS);
}

/* Leaves out the diffs of an event (marking where), the first thing to go
 * when one event alone exceeds the cap. Returns how many were dropped. */
static int drop_diffs(json_t *ev)
{
	static const char *const sides[] = {"expected", "actual"};
	int n = 0;

	for (size_t i = 0; i < 2; i++) {
		json_t *st = json_object_get(ev, sides[i]);

		if (json_is_object(st) && json_object_get(st, "diff") != NULL) {
			json_object_del(st, "diff");
			json_object_set_new(st, "diff_dropped", json_true());
			n++;
		}
	}
	return n;
}

static int derive_id(char out[37], const char *parent, long long part, long long parts)
{
	char seed[128], hx[PLUMB_SHA256_HEX];
	static const char variant[] = "89ab";

	snprintf(seed, sizeof(seed), "plumb.report/v1 part %s %lld/%lld", parent, part, parts);
	if (plumb_sha256_mem_hex(hx, seed, strlen(seed)) != 0)
		return PLUMB_E_NOMEM;
	hx[12] = '4';
	hx[16] = variant[(hx[16] >= 'a' ? hx[16] - 'a' + 10 : hx[16] - '0') & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hx, hx + 8, hx + 12, hx + 16, hx + 20);
	return 0;
}

/* The summary of a slice: drifted counts events with a drift kind,
 * reverted and failed count those actions (a reverted event carrying an
 * error lost its evidence: failed too, as the engine counts it);
 * resources stays the run's. */
static void slice_summary(json_t *part, json_t *events, json_int_t resources)
{
	json_int_t drifted = 0, reverted = 0, failed = 0;
	size_t i;
	json_t *ev, *s = json_object();

	json_array_foreach(events, i, ev) {
		const char *a = json_string_value(json_object_get(ev, "action"));

		if (json_array_size(json_object_get(ev, "drift")) > 0)
			drifted++;
		if (a != NULL && strcmp(a, "reverted") == 0) {
			reverted++;
			if (json_object_get(ev, "error") != NULL)
				failed++;
		} else if (a != NULL && strcmp(a, "failed") == 0) {
			failed++;
		}
	}
	json_object_set_new(s, "resources", json_integer(resources));
	json_object_set_new(s, "drifted", json_integer(drifted));
	json_object_set_new(s, "reverted", json_integer(reverted));
	json_object_set_new(s, "failed", json_integer(failed));
	json_object_set_new(part, "summary", s);
}

void plumb_report_parts_free(json_t **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		json_decref(v[i]);
	free(v);
}

int plumb_report_split(json_t ***out, size_t *nout, const json_t *doc, size_t max_bytes, struct plumb_err *err)
{
	json_t *base = NULL, *events, *run, **parts = NULL, *cur = NULL;
	const char *run_id, *id = json_string_value(json_object_get(doc, "id"));
	json_int_t k = 1, n = 1, resources;
	size_t overhead, acc = 0, np = 0, cap = 0, i, dropped = 0;
	int r = PLUMB_E_NOMEM;
	json_t *ev;

	*out = NULL;
	*nout = 0;
	events = json_object_get(doc, "events");
	if (id == NULL || !json_is_array(events))
		return plumb_err_set(err, PLUMB_E_INVALID, "not a plumb.report/v1 object");
	run = json_object_get(doc, "run");
	run_id = json_string_value(json_object_get(run, "id"));
	if (run_id != NULL) {
		k = json_integer_value(json_object_get(run, "part"));
		n = json_integer_value(json_object_get(run, "parts"));
		if (k < 1 || n < k || n > PARTS_MAX)
			return plumb_err_set(err, PLUMB_E_INVALID, "report %s: bad run part %lld/%lld", id,
					     (long long)k, (long long)n);
	} else {
		run_id = id;
	}
	resources = json_integer_value(json_object_get(json_object_get(doc, "summary"), "resources"));
	if ((base = json_deep_copy(doc)) == NULL)
		goto out;
	json_object_set_new(base, "events", json_array());
	/* The header as large as any part's can be: widest numbers. */
	run = json_pack("{s:s, s:I, s:I}", "id", run_id, "part", (json_int_t)PARTS_MAX * 1000, "parts",
			(json_int_t)PARTS_MAX * 1000);
	if (run == NULL || json_object_set_new(base, "run", run) != 0)
		goto out;
	{
		json_t *s = json_pack("{s:I, s:I, s:I, s:I}", "resources", resources, "drifted", (json_int_t)1 << 50,
				      "reverted", (json_int_t)1 << 50, "failed", (json_int_t)1 << 50);

		if (s == NULL || json_object_set_new(base, "summary", s) != 0)
			goto out;
	}
	overhead = dump_len(base);
	json_array_foreach(events, i, ev) {
		json_t *e = json_deep_copy(ev);
		size_t len;

		if (e == NULL)
			goto out;
		len = dump_len(e);
		if (overhead + len > max_bytes && drop_diffs(e) > 0) {
			dropped++;
			len = dump_len(e);   /* still too large: it goes alone, never dropped */
		}
		if (cur != NULL && acc + len + 1 > max_bytes) {
			cur = NULL;
		}
		if (cur == NULL) {
			if (np == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				json_t **nv = reallocarray(parts, ncap, sizeof(*nv));

				if (nv == NULL) {
					json_decref(e);
					goto out;
				}
				parts = nv;
				cap = ncap;
			}
			if ((cur = json_deep_copy(base)) == NULL) {
				json_decref(e);
				goto out;
			}
			parts[np++] = cur;
			acc = overhead;
		}
		if (json_array_append_new(json_object_get(cur, "events"), e) != 0)
			goto out;
		acc += len + 1;
	}
	if (np == 0) {
		/* No events at all: the report is as small as it gets. */
		if ((parts = calloc(1, sizeof(*parts))) == NULL || (parts[0] = json_deep_copy(doc)) == NULL)
			goto out;
		np = 1;
	} else if (np == 1) {
		/* One part: the report itself (its diffs perhaps dropped). */
		json_t *only = json_deep_copy(doc);

		if (only == NULL)
			goto out;
		json_object_set(only, "events", json_object_get(parts[0], "events"));
		json_decref(parts[0]);
		parts[0] = only;
	} else {
		if ((json_int_t)np > PARTS_MAX / n) {
			r = plumb_err_set(err, PLUMB_E_INVALID, "report %s: split into too many parts", id);
			goto out;
		}
		for (i = 0; i < np; i++) {
			json_int_t part = (k - 1) * (json_int_t)np + (json_int_t)i + 1, all = n * (json_int_t)np;
			char pid[37];

			if (derive_id(pid, id, part, all) != 0)
				goto out;
			json_object_set_new(parts[i], "id", json_string(pid));
			json_object_set_new(parts[i], "run", json_pack("{s:s, s:I, s:I}", "id", run_id, "part", part,
								       "parts", all));
			slice_summary(parts[i], json_object_get(parts[i], "events"), resources);
		}
	}
	(void)dropped;
	*out = parts;
	*nout = np;
	parts = NULL;
	np = 0;
	r = 0;
out:
	if (r == PLUMB_E_NOMEM)
		plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	plumb_report_parts_free(parts, np);
	json_decref(base);
	return r;
}
