/* validate.c - a hand-written, strict reader of plumb.report/v1: every key,
 * type, pattern and enum the schema names, and nothing else. */
#include "validate.h"

#include <string.h>

#include "plumb/util.h"
#include "../src/banned.h"

json_t *hub_report_parse(const char *text, size_t n, struct plumb_err *err)
{
	json_error_t je;
	json_t *doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		plumb_err_set(err, PLUMB_E_PARSE, "line %d col %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	return doc;
}

static int bad(struct plumb_err *err, const char *path, const char *what)
{
	return plumb_err_set(err, PLUMB_E_INVALID, "%s: %s", path, what);
}

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int is_uuid4(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx";
	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++) {
		char c = s[i];
		int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		if ((pat[i] == 'x' && !hex) || (pat[i] == '-' && c != '-') || (pat[i] == '4' && c != '4') ||
		    (pat[i] == 'V' && !strchr("89ab", c ? c : 'x')))
			return 0;
	}
	return 1;
}

/* "YYYY-MM-DDTHH:MM:SSZ" exactly, and a real time. */
static int is_time(const char *s, time_t *out)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i])
			return 0;
	time_t t;
	if (plumb_time_parse(&t, s) != 0)
		return 0;
	if (out)
		*out = t;
	return 1;
}

/* Printable text: no control characters (a host or resource name is shown
 * in a terminal and a browser). */
static int is_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int in_set(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

/* Every key of obj must be in allowed, and every key of required present. */
static int keys(const json_t *obj, const char *path, const char *const *allowed, const char *const *required,
		struct plumb_err *err)
{
	const char *k;
	json_t *v;
	char p[256];
	if (!json_is_object(obj))
		return bad(err, path, "must be an object");
	json_object_foreach((json_t *)obj, k, v) {
		if (!in_set(k, allowed)) {
			snprintf(p, sizeof(p), "%s.%.64s", path, k);
			return bad(err, p, "unknown key");
		}
	}
	for (; required && *required; required++)
		if (!json_object_get(obj, *required)) {
			snprintf(p, sizeof(p), "%s.%s", path, *required);
			return bad(err, p, "missing");
		}
	return 0;
}

static int uint_field(const json_t *obj, const char *key, const char *path, int nullable, int min1,
		      struct plumb_err *err)
{
	json_t *v = json_object_get(obj, key);
	char p[256];
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!v)
		return 0;
	if (nullable && json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < (min1 ? 1 : 0))
		return bad(err, p, min1 ? "must be an integer >= 1" : "must be a non-negative integer");
	return 0;
}

static const char *str_field(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int check_state(const json_t *st, const char *path, struct plumb_err *err)
{
	static const char *const allowed[] = {"state", "type", "mode", "owner", "group", "size", "sha256",
					      "target", "sensitive", "diff", "links", "acl", "too_large",
					      "diff_dropped",
					      "unmanaged", "value", "command", "enablement", "running",
					      "status", "version", "loaded", NULL};
	static const char *const types[] = {"file", "directory", "symlink", "fifo", "socket",
					    "character-device", "block-device", "unknown", NULL};
	char p[256];
	int r;
	const char *s;
	json_t *v;
	if (json_is_null(st))
		return 0;
	if ((r = keys(st, path, allowed, NULL, err)) != 0)
		return r;
	snprintf(p, sizeof(p), "%s.state", path);
	if ((v = json_object_get(st, "state")) && (!(s = json_string_value(v)) || strcmp(s, "absent")))
		return bad(err, p, "must be \"absent\"");
	snprintf(p, sizeof(p), "%s.type", path);
	if ((v = json_object_get(st, "type")) && (!(s = json_string_value(v)) || !in_set(s, types)))
		return bad(err, p, "unknown type");
	snprintf(p, sizeof(p), "%s.mode", path);
	if ((v = json_object_get(st, "mode"))) {
		s = json_string_value(v);
		if (!s || strlen(s) != 4 || strspn(s, "01234567") != 4)
			return bad(err, p, "must be four octal digits");
	}
	if ((r = uint_field(st, "owner", path, 0, 0, err)) != 0 || (r = uint_field(st, "group", path, 0, 0, err)) != 0 ||
	    (r = uint_field(st, "size", path, 0, 0, err)) != 0)
		return r;
	snprintf(p, sizeof(p), "%s.sha256", path);
	if ((v = json_object_get(st, "sha256")) && (!(s = json_string_value(v)) || !is_hex(s, 64)))
		return bad(err, p, "must be 64 lowercase hex digits");
	snprintf(p, sizeof(p), "%s.target", path);
	if ((v = json_object_get(st, "target")) && !json_is_string(v))
		return bad(err, p, "must be a string");
	snprintf(p, sizeof(p), "%s.sensitive", path);
	if ((v = json_object_get(st, "sensitive")) && !json_is_true(v))
		return bad(err, p, "must be true");
	if ((r = uint_field(st, "links", path, 0, 1, err)) != 0)
		return r;
	snprintf(p, sizeof(p), "%s.acl", path);
	if ((v = json_object_get(st, "acl")) && !json_is_true(v))
		return bad(err, p, "must be true");
	snprintf(p, sizeof(p), "%s.too_large", path);
	if ((v = json_object_get(st, "too_large")) && !json_is_true(v))
		return bad(err, p, "must be true");
	snprintf(p, sizeof(p), "%s.diff_dropped", path);
	if ((v = json_object_get(st, "diff_dropped")) && !json_is_true(v))
		return bad(err, p, "must be true");
	snprintf(p, sizeof(p), "%s.value", path);
	if ((v = json_object_get(st, "value")) && (!json_is_string(v) || json_string_length(v) > 4096))
		return bad(err, p, "must be a string of at most 4096 characters");
	snprintf(p, sizeof(p), "%s.loaded", path);
	if ((v = json_object_get(st, "loaded")) && !json_is_boolean(v))
		return bad(err, p, "must be true or false");
	snprintf(p, sizeof(p), "%s.status", path);
	if ((v = json_object_get(st, "status")) && (!json_is_string(v) || json_string_length(v) > 64 ||
						    !is_printable(json_string_value(v))))
		return bad(err, p, "must be a printable string of at most 64 characters");
	snprintf(p, sizeof(p), "%s.version", path);
	if ((v = json_object_get(st, "version")) && (!json_is_string(v) || json_string_length(v) > 128 ||
						     !is_printable(json_string_value(v))))
		return bad(err, p, "must be a printable string of at most 128 characters");
	snprintf(p, sizeof(p), "%s.enablement", path);
	if ((v = json_object_get(st, "enablement")) && (!json_is_string(v) || json_string_length(v) > 64 ||
							 !is_printable(json_string_value(v))))
		return bad(err, p, "must be a printable string of at most 64 characters");
	snprintf(p, sizeof(p), "%s.running", path);
	if ((v = json_object_get(st, "running")) && !json_is_boolean(v) &&
	    !(json_is_string(v) && strcmp(json_string_value(v), "unknown") == 0))
		return bad(err, p, "must be true, false or \"unknown\"");
	snprintf(p, sizeof(p), "%s.unmanaged", path);
	if ((v = json_object_get(st, "unmanaged"))) {
		if (!json_is_array(v) || json_array_size(v) > 1000)
			return bad(err, p, "must be an array of at most 1000 names");
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i)) || !is_printable(json_string_value(json_array_get(v, i))))
				return bad(err, p, "must hold printable names");
	}
	snprintf(p, sizeof(p), "%s.command", path);
	if ((v = json_object_get(st, "command"))) {
		if (!json_is_array(v) || json_array_size(v) > 64)
			return bad(err, p, "must be an array of at most 64 words");
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i)))
				return bad(err, p, "must hold strings");
	}
	snprintf(p, sizeof(p), "%s.diff", path);
	if ((v = json_object_get(st, "diff")) && (!json_is_string(v) || json_string_length(v) > 8192))
		return bad(err, p, "must be a string of at most 8192 characters");
	return 0;
}

static int check_event(const json_t *ev, const char *path, const struct hub_report_limits *lim,
		       struct plumb_err *err)
{
	time_t t = 0;
	static const char *const allowed[] = {"resource", "drift", "action", "expected", "actual", "at",
					      "error", "quarantine", "count", NULL};
	static const char *const required[] = {"resource", "drift", "action", "expected", "actual", "at", NULL};
	static const char *const actions[] = {"detected", "reverted", "failed", "contested", "refused",
					      "rolled-back", "notified", NULL};
	static const char *const kinds[] = {"content", "mode", "owner", "group", "type", "target",
					    "missing", "present", "rules", "acl", "links",
					    "unmanaged", "value", "enabled", "running", NULL};
	char p[256];
	int r;
	const char *s;
	json_t *v;
	if ((r = keys(ev, path, allowed, required, err)) != 0)
		return r;
	snprintf(p, sizeof(p), "%s.resource", path);
	s = str_field(ev, "resource");
	if (!s || !is_printable(s) ||
	    !(strcmp(s, "baseline") == 0 || (strncmp(s, "file:/", 6) == 0 && s[6]) ||
	      (strncmp(s, "firewall:nftables:", 18) == 0 && s[18]) || (strncmp(s, "firewall:iptables:", 18) == 0 && s[18]) ||
	      (strncmp(s, "sysctl:", 7) == 0 && s[7]) || (strncmp(s, "service:", 8) == 0 && s[8]) ||
	      (strncmp(s, "package:", 8) == 0 && s[8]) || (strncmp(s, "module:", 7) == 0 && s[7]) ||
	      (strncmp(s, "exec:", 5) == 0 && s[5])))
		return bad(err, p, "must be file:/PATH, firewall:BACKEND:TABLE, sysctl:KEY, service:UNIT, package:NAME, "
			   "module:NAME, exec:PROGRAM or baseline");
	snprintf(p, sizeof(p), "%s.drift", path);
	v = json_object_get(ev, "drift");
	if (!json_is_array(v))
		return bad(err, p, "must be an array");
	for (size_t i = 0; i < json_array_size(v); i++) {
		char q[300];
		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		s = json_string_value(json_array_get(v, i));
		if (!s || !in_set(s, kinds))
			return bad(err, q, "unknown drift kind");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s, json_string_value(json_array_get(v, j))))
				return bad(err, q, "repeated drift kind");
	}
	snprintf(p, sizeof(p), "%s.action", path);
	if (!(s = str_field(ev, "action")) || !in_set(s, actions))
		return bad(err, p, "unknown action");
	snprintf(p, sizeof(p), "%s.expected", path);
	if ((r = check_state(json_object_get(ev, "expected"), p, err)) != 0)
		return r;
	snprintf(p, sizeof(p), "%s.actual", path);
	if ((r = check_state(json_object_get(ev, "actual"), p, err)) != 0)
		return r;
	snprintf(p, sizeof(p), "%s.at", path);
	if (!(s = str_field(ev, "at")) || !is_time(s, &t))
		return bad(err, p, "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ");
	if (lim->not_after && t > lim->not_after)
		return bad(err, p, "ahead of the hub's clock by more than the allowed skew");
	snprintf(p, sizeof(p), "%s.error", path);
	if ((v = json_object_get(ev, "error")) && !json_is_string(v))
		return bad(err, p, "must be a string");
	snprintf(p, sizeof(p), "%s.quarantine", path);
	if ((v = json_object_get(ev, "quarantine")) && (!(s = json_string_value(v)) || !is_hex(s, 64)))
		return bad(err, p, "must be 64 lowercase hex digits");
	return uint_field(ev, "count", path, 0, 1, err);
}

static int check_baseline(const json_t *b, struct plumb_err *err)
{
	static const char *const allowed[] = {"commit", "signer", "fingerprint", "serial", "stale", NULL};
	static const char *const required[] = {"commit", "signer", "fingerprint", "serial", NULL};
	int r;
	json_t *v;
	const char *s;
	if ((r = keys(b, "baseline", allowed, required, err)) != 0)
		return r;
	v = json_object_get(b, "commit");
	if (!json_is_null(v) && (!(s = json_string_value(v)) || !is_hex(s, 40)))
		return bad(err, "baseline.commit", "must be null or 40 lowercase hex digits");
	v = json_object_get(b, "signer");
	if (!json_is_null(v) && (!(s = json_string_value(v)) || !is_printable(s)))
		return bad(err, "baseline.signer", "must be null or a string");
	v = json_object_get(b, "fingerprint");
	if (!json_is_null(v)) {
		s = json_string_value(v);
		if (!s || strncmp(s, "SHA256:", 7) || strlen(s) != 7 + 43 ||
		    strspn(s + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 43)
			return bad(err, "baseline.fingerprint", "must be null or SHA256:<43 base64 characters>");
	}
	if ((r = uint_field(b, "serial", "baseline", 1, 0, err)) != 0)
		return r;
	if ((v = json_object_get(b, "stale")) && !json_is_true(v))
		return bad(err, "baseline.stale", "must be true when present");
	return 0;
}

/* Every string anywhere in v is at most max bytes, but a state's "diff",
 * which the schema caps itself. Depth is bounded by the schema's shape,
 * and checked here before it (the walk runs first). */
/* "confinement": why the agent's children are confined less than designed
 * (docs/PRIVSEP.md): weaker, 1 to 3 distinct known reasons; detail, text. */
/* "standing" (plumbd's reports): scope, what is unresolved now, a standing
 * refusal. */
static int check_standing(const json_t *st, struct plumb_err *err)
{
	static const char *const skeys[] = {"covers", "unresolved", "refused", NULL};
	static const char *const required[] = {"covers", "unresolved", NULL};
	static const char *const kinds[] = {"file", "firewall", "sysctl", "service", "module", "package", NULL};
	const json_t *v, *x;
	size_t i, k;
	int r;

	if ((r = keys(st, "standing", skeys, required, err)) != 0)
		return r;
	v = json_object_get(st, "covers");
	if (!json_is_array(v) || json_array_size(v) > 6)
		return bad(err, "standing.covers", "must be an array of at most 6 kinds");
	json_array_foreach(v, i, x) {
		if (!json_is_string(x) || !in_set(json_string_value(x), kinds))
			return bad(err, "standing.covers", "must hold file, firewall, sysctl, service, module or package");
		for (k = 0; k < i; k++)
			if (json_equal(x, json_array_get(v, k)))
				return bad(err, "standing.covers", "must not repeat a kind");
	}
	if ((r = uint_field(st, "unresolved", "standing", 0, 0, err)) != 0)
		return r;
	if ((v = json_object_get(st, "refused")) && (!json_is_string(v) || json_string_length(v) == 0 ||
						     json_string_length(v) > 4096))
		return bad(err, "standing.refused", "must be a string of 1 to 4096 bytes");
	return 0;
}

static int check_confinement(const json_t *c, struct plumb_err *err)
{
	static const char *const ckeys[] = {"weaker", "detail", NULL};
	static const char *const reasons[] = {"user_missing", "user_unreachable", "no_landlock", NULL};
	const json_t *w, *x;
	const char *s;
	size_t i, j;
	int r;

	if ((r = keys(c, "confinement", ckeys, ckeys, err)) != 0)
		return r;
	w = json_object_get(c, "weaker");
	if (!json_is_array(w) || json_array_size(w) < 1 || json_array_size(w) > 3)
		return bad(err, "confinement.weaker", "must be an array of 1 to 3 reasons");
	json_array_foreach(w, i, x) {
		if (!json_is_string(x) || !in_set(json_string_value(x), reasons))
			return bad(err, "confinement.weaker", "must hold user_missing, user_unreachable or no_landlock");
		for (j = 0; j < i; j++)
			if (json_equal(x, json_array_get(w, j)))
				return bad(err, "confinement.weaker", "must not repeat a reason");
	}
	if (!(s = str_field(c, "detail")) || strlen(s) > 1024 || !is_printable(s))
		return bad(err, "confinement.detail", "must be at most 1024 printable characters");
	return 0;
}

static int check_lengths(const json_t *v, char *path, size_t plen, size_t cap, size_t max, int depth,
			 struct plumb_err *err)
{
	if (depth > 8)
		return bad(err, path, "nested too deeply");
	if (json_is_string(v)) {
		if (json_string_length(v) > max)
			return plumb_err_set(err, PLUMB_E_INVALID, "%s: longer than %zu bytes", path, max);
		return 0;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			int r;
			snprintf(path + plen, cap - plen, "[%zu]", i);
			if ((r = check_lengths(json_array_get(v, i), path, strlen(path), cap, max, depth + 1, err)) != 0)
				return r;
			path[plen] = '\0';
		}
		return 0;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			int r;
			snprintf(path + plen, cap - plen, "%s%.64s", plen ? "." : "", k);
			if (strlen(k) > 64)
				return bad(err, path, "unknown key");
			if (!strcmp(k, "diff") && json_is_string(x)) {
				path[plen] = '\0';
				continue;
			}
			if ((r = check_lengths(x, path, strlen(path), cap, max, depth + 1, err)) != 0)
				return r;
			path[plen] = '\0';
		}
	}
	return 0;
}

int hub_report_validate(const json_t *doc, const struct hub_report_limits *lim, time_t *finished,
			struct plumb_err *err)
{
	static const struct hub_report_limits defaults = {.max_string = HUB_STRING_DEFAULT,
							  .max_events = HUB_EVENTS_DEFAULT};
	char path[512] = "";
	time_t t = 0;
	static const char *const allowed[] = {"schema", "id", "host", "agent_version", "mode", "started_at",
					      "finished_at", "baseline", "events", "summary", "spool", "run",
					      "confinement", "standing", NULL};
	static const char *const required[] = {"schema", "id", "host", "agent_version", "mode", "started_at",
					       "finished_at", "baseline", "events", "summary", NULL};
	static const char *const modes[] = {"enforce", "audit", "check", NULL};
	static const char *const sum_keys[] = {"resources", "drifted", "reverted", "failed", NULL};
	static const char *const spool_keys[] = {"dropped_heartbeats", "write_errors", "rejected", "stats_set_aside",
						 NULL};
	int r;
	const char *s;
	json_t *v;
	if (!lim)
		lim = &defaults;
	if ((r = keys(doc, "report", allowed, required, err)) != 0)
		return r;
	if ((r = check_lengths(doc, path, 0, sizeof(path), lim->max_string, 0, err)) != 0)
		return r;
	if (!(s = str_field(doc, "schema")) || strcmp(s, "plumb.report/v1"))
		return bad(err, "schema", "must be \"plumb.report/v1\"");
	if (!(s = str_field(doc, "id")) || !is_uuid4(s))
		return bad(err, "id", "must be a lowercase version 4 UUID");
	s = str_field(doc, "host");
	if (!s || !*s || strlen(s) > 255 || !is_printable(s))
		return bad(err, "host", "must be 1 to 255 printable characters");
	if (!(s = str_field(doc, "agent_version")) || !is_printable(s))
		return bad(err, "agent_version", "must be a string");
	if (!(s = str_field(doc, "mode")) || !in_set(s, modes))
		return bad(err, "mode", "must be enforce, audit or check");
	if (!(s = str_field(doc, "started_at")) || !is_time(s, &t))
		return bad(err, "started_at", "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ");
	if (lim->not_after && t > lim->not_after)
		return bad(err, "started_at", "ahead of the hub's clock by more than the allowed skew");
	if (!(s = str_field(doc, "finished_at")) || !is_time(s, finished))
		return bad(err, "finished_at", "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ");
	if (lim->not_after && *finished > lim->not_after)
		return bad(err, "finished_at", "ahead of the hub's clock by more than the allowed skew");
	if (lim->not_after && *finished < lim->not_before)
		return bad(err, "finished_at", "older than the hub's retention period");
	if ((r = check_baseline(json_object_get(doc, "baseline"), err)) != 0)
		return r;
	v = json_object_get(doc, "events");
	if (!json_is_array(v))
		return bad(err, "events", "must be an array");
	if (json_array_size(v) > lim->max_events)
		return plumb_err_set(err, PLUMB_E_INVALID, "events: more than %zu events", lim->max_events);
	for (size_t i = 0; i < json_array_size(v); i++) {
		char p[64];
		snprintf(p, sizeof(p), "events[%zu]", i);
		if ((r = check_event(json_array_get(v, i), p, lim, err)) != 0)
			return r;
	}
	v = json_object_get(doc, "summary");
	if ((r = keys(v, "summary", sum_keys, sum_keys, err)) != 0)
		return r;
	for (int i = 0; sum_keys[i]; i++)
		if ((r = uint_field(v, sum_keys[i], "summary", 0, 0, err)) != 0)
			return r;
	if ((v = json_object_get(doc, "run"))) {
		/* one part of a run the agent split under its byte cap */
		static const char *const run_keys[] = {"id", "part", "parts", NULL};
		if ((r = keys(v, "run", run_keys, run_keys, err)) != 0)
			return r;
		if (!(s = str_field(v, "id")) || !is_uuid4(s))
			return bad(err, "run.id", "must be a lowercase version 4 UUID");
		if ((r = uint_field(v, "part", "run", 0, 1, err)) != 0 || (r = uint_field(v, "parts", "run", 0, 1, err)) != 0)
			return r;
		if (json_integer_value(json_object_get(v, "part")) > json_integer_value(json_object_get(v, "parts")))
			return bad(err, "run.part", "must be at most run.parts");
	}
	if ((v = json_object_get(doc, "confinement")) && (r = check_confinement(v, err)) != 0)
		return r;
	if ((v = json_object_get(doc, "standing")) && (r = check_standing(v, err)) != 0)
		return r;
	if ((v = json_object_get(doc, "spool"))) {
		if ((r = keys(v, "spool", spool_keys, NULL, err)) != 0)
			return r;
		for (int i = 0; spool_keys[i]; i++)
			if ((r = uint_field(v, spool_keys[i], "spool", 0, 0, err)) != 0)
				return r;
	}
	return 0;
}
