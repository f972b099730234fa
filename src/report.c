/* report.c - report assembly and its two renderings (JSON and human).
 * The JSON form is the contract; the human form is derived from it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void plumb_report_release(struct plumb_report *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		event_release(&r->events[i]);
	free(r->events);
	free(r->commit);
	free(r->signer);
	free(r->fingerprint);
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
	return o;
}

static json_int_t geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

void plumb_report_print_human(const json_t *report, FILE *out)
{
	const json_t *events = json_object_get(report, "events");
	const json_t *sum = json_object_get(report, "summary");
	const json_t *b = json_object_get(report, "baseline");
	const char *signer = json_string_value(json_object_get(b, "signer"));
	size_t i;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		const json_t *d = json_object_get(ev, "drift");
		const char *err = json_string_value(json_object_get(ev, "error"));
		const char *q = json_string_value(json_object_get(ev, "quarantine"));
		char kinds[160] = "", res[2 * PLUMB_PATH_MAX], msg[2 * PLUMB_ERR_MAX];
		size_t n = 0, j;
		json_t *k;

		json_array_foreach(d, j, k)
			n += (size_t)snprintf(kinds + n, n < sizeof(kinds) ? sizeof(kinds) - n : 0, "%s%s",
					      n ? "," : "", json_string_value(k));
		fprintf(out, "%s: %s%s%s", plumb_escape_ctl(res, sizeof(res), json_string_value(json_object_get(ev, "resource"))),
			json_string_value(json_object_get(ev, "action")), n ? " " : "", kinds);
		if (err)
			fprintf(out, ": %s", plumb_escape_ctl(msg, sizeof(msg), err));
		if (q)
			fprintf(out, " (old content kept as quarantine/%.12s)", q);
		fputc('\n', out);
	}
	fprintf(out, "%s: %lld resources, %lld drifted, %lld reverted, %lld failed (%s, baseline %s%s%s)\n",
		json_string_value(json_object_get(report, "mode")),
		(long long)geti(sum, "resources"), (long long)geti(sum, "drifted"),
		(long long)geti(sum, "reverted"), (long long)geti(sum, "failed"),
		json_string_value(json_object_get(report, "finished_at")),
		signer ? "signed by " : "unsigned", signer ? signer : "",
		json_is_true(json_object_get(b, "stale")) ? ", STALE" : "");
}
