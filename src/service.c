/* service.c - the `services:` resources through systemctl, exec'd with argv
 * arrays by plumb_helper_run: `--root=ROOT` for enablement (offline, any
 * tree), the running systemd for active state where it is reachable. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/helper.h"
#include "plumb/log.h"
#include "plumb/service.h"
#include "plumb/util.h"
#include "banned.h"

static const char *const state_names[] = {"enabled", "disabled", "masked"};

const char *plumb_systemctl_path(void)
{
	const char *s = secure_getenv(PLUMB_SYSTEMCTL_ENV);

	return s != NULL && s[0] == '/' ? s : PLUMB_SYSTEMCTL;
}

int plumb_systemd_reachable(int rootfd, const char **why)
{
	struct stat a, b;
	const char *w = NULL;

	if (fstat(rootfd, &a) != 0 || stat("/", &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		w = "the root is not /, so its systemd is not reachable";
	else if (access("/run/systemd/system", F_OK) != 0)
		w = "systemd is not running here";
	if (why != NULL)
		*why = w;
	return w == NULL;
}

int plumb_root_path(char *out, size_t outlen, int rootfd)
{
	char fdpath[64];
	ssize_t n;

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", rootfd);
	if ((n = readlink(fdpath, out, outlen - 1)) <= 0 || (size_t)n >= outlen - 1)
		return PLUMB_E_IO;
	out[n] = '\0';
	return 0;
}

struct ctl {
	const char *bin;
	char root_opt[PATH_MAX + 16];   /* "--root=PATH" */
	int online;                     /* talk to the running systemd */
};

/* systemctl [--root=R] VERB UNIT; the first line of its output into out.
 * Returns its exit status, or a negative code (err filled). */
static int ctl_run(const struct ctl *c, const char *verb, const char *unit, int offline, char *out, size_t outlen,
		   struct plumb_err *err)
{
	const char *argv[6];
	int k = 0, st;

	argv[k++] = c->bin;
	if (offline || !c->online)
		argv[k++] = c->root_opt;
	argv[k++] = verb;
	argv[k++] = "--";
	argv[k++] = unit;
	argv[k] = NULL;
	st = plumb_helper_run(argv, NULL, NULL, PLUMB_SYSTEMCTL_TIMEOUT * 1000u, out, outlen, err);
	if (out != NULL && strncmp(verb, "is-", 3) == 0) {
		char *nl = strchr(out, '\n');

		if (nl != NULL)
			*nl = '\0';   /* the state is the first line */
	}
	return st;
}

/* What `is-enabled` says, into state; "not-found" for a unit it does not know. */
static int enablement(const struct ctl *c, const char *unit, char *state, size_t len, char *msg, size_t msglen)
{
	struct plumb_err e;
	int st = ctl_run(c, "is-enabled", unit, 1, state, len, &e);

	if (st < 0) {
		snprintf(msg, msglen, "%s", e.msg);
		return st;
	}
	if (strstr(state, "No such file or directory") != NULL || strstr(state, "not-found") != NULL) {
		snprintf(state, len, "not-found");
		return 0;
	}
	if (state[0] == '\0' || strchr(state, ' ') != NULL) {
		char shown[256];

		snprintf(msg, msglen, "systemctl is-enabled %s said: %s", unit, plumb_escape_ctl(shown, sizeof(shown), state));
		return PLUMB_E_PARSE;
	}
	return 0;
}

/* Units asked about in one list-unit-files call. */
#define BATCH_UNITS 200

/* One `systemctl --root=R list-unit-files -- UNIT...` for many units at
 * once (an exec costs about as much as the answer for twenty units): fills
 * known[i] with the state of each unit it lists. A unit it does not list
 * (an instance of a template, a unit it does not find, a line cut off) is
 * left empty, and asked about alone with is-enabled. */
static void batch_states(const struct ctl *c, const struct plumb_baseline *b, char (*known)[64])
{
	const char *argv[BATCH_UNITS + 8];
	char *out = malloc(PLUMB_HELPER_OUTPUT_MAX);
	struct plumb_err e;

	if (out == NULL)
		return;
	for (size_t start = 0; start < b->nservices; start += BATCH_UNITS) {
		size_t k = 0, end = start + BATCH_UNITS < b->nservices ? start + BATCH_UNITS : b->nservices;
		char *line, *next;
		int st;

		argv[k++] = c->bin;
		argv[k++] = c->root_opt;
		argv[k++] = "list-unit-files";
		argv[k++] = "--no-legend";
		argv[k++] = "--no-pager";
		argv[k++] = "--full";
		argv[k++] = "--";
		for (size_t i = start; i < end; i++)
			if (strpbrk(b->services[i].unit, "@\\") == NULL)   /* names, not patterns or instances */
				argv[k++] = b->services[i].unit;
		argv[k] = NULL;
		if (k == 7)
			continue;
		st = plumb_helper_run(argv, NULL, NULL, PLUMB_SYSTEMCTL_TIMEOUT * 1000u, out, PLUMB_HELPER_OUTPUT_MAX, &e);
		if (st < 0)
			continue;
		for (line = out; line != NULL && *line != '\0'; line = next) {
			char name[PLUMB_UNIT_MAX + 1], state[64];
			long i;

			if ((next = strchr(line, '\n')) == NULL)
				break;            /* no newline: the output was cut here */
			*next++ = '\0';
			if (sscanf(line, "%255s %63s", name, state) != 2)
				continue;
			{
				size_t lo = start, hi = end;   /* services are sorted by unit */

				i = -1;
				while (lo < hi) {
					size_t mid = (lo + hi) / 2;
					int cmp = strcmp(b->services[mid].unit, name);

					if (cmp == 0) {
						i = (long)mid;
						break;
					}
					if (cmp < 0)
						lo = mid + 1;
					else
						hi = mid;
				}
			}
			if (i >= 0)
				snprintf(known[i], sizeof(known[i]), "%s", state);
		}
	}
	free(out);
}

static json_t *state_json(const char *enablement_s, int has_running, int running_known, int running)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (enablement_s != NULL)
		json_object_set_new(o, "enablement", json_string(enablement_s));
	if (has_running)
		json_object_set_new(o, "running", running_known ? json_boolean(running) : json_string("unknown"));
	return o;
}

/* Makes the unit's enablement what u says. Returns 0 or a negative code. */
static int set_enablement(const struct ctl *c, const struct plumb_service_res *u, const char *have, char *msg,
			  size_t msglen)
{
	char out[512];
	struct plumb_err e;
	int st;

	if (strcmp(have, "masked") == 0 && u->state != PLUMB_UNIT_MASKED &&
	    (st = ctl_run(c, "unmask", u->unit, 0, out, sizeof(out), &e)) != 0)
		goto failed;
	st = ctl_run(c, u->state == PLUMB_UNIT_ENABLED ? "enable" : u->state == PLUMB_UNIT_DISABLED ? "disable" : "mask",
		     u->unit, 0, out, sizeof(out), &e);
	if (st == 0)
		return 0;
failed:
	if (st < 0) {
		snprintf(msg, msglen, "%s", e.msg);
	} else {
		char shown[300];

		snprintf(msg, msglen, "systemctl could not make %s %s: exit %d: %s", u->unit, state_names[u->state], st,
			 plumb_escape_ctl(shown, sizeof(shown), out));
	}
	return PLUMB_E_IO;
}

/* sensitive: the report says what kind of drift, not what was found. */
static json_t *shown(json_t *state, int sensitive)
{
	if (!sensitive || state == NULL)
		return state;
	json_decref(state);
	return json_pack("{s:b}", "sensitive", 1);
}

int plumb_service_run(struct plumb_report *rep, const struct plumb_baseline *b, int rootfd, int repair,
		      struct plumb_err *err)
{
	struct ctl c;
	char root[PATH_MAX], (*known)[64] = NULL;
	const char *why = NULL;

	if (b->nservices == 0)
		return 0;
	if ((known = calloc(b->nservices, sizeof(*known))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	c.bin = plumb_systemctl_path();
	c.online = plumb_systemd_reachable(rootfd, &why);
	if (plumb_root_path(root, sizeof(root), rootfd) != 0)
		snprintf(root, sizeof(root), "/");
	snprintf(c.root_opt, sizeof(c.root_opt), "--root=%s", root);
	batch_states(&c, b, known);
	for (size_t i = 0; i < b->nservices; i++) {
		const struct plumb_service_res *u = &b->services[i];
		char id[PLUMB_UNIT_MAX + 16], have[256], msg[PLUMB_ERR_MAX] = "", act[64] = "";
		unsigned drift = 0;
		int active = 0, active_known = 0, st;
		enum plumb_action a;

		snprintf(id, sizeof(id), "service:%s", u->unit);
		rep->resources++;
		if (known[i][0] != '\0')
			snprintf(have, sizeof(have), "%s", known[i]);
		else if (enablement(&c, u->unit, have, sizeof(have), msg, sizeof(msg)) != 0) {
			rep->failed++;
			if (plumb_report_event(rep, id, 0, PLUMB_ACT_FAILED,
					       shown(state_json(state_names[u->state], 0, 0, 0), u->sensitive), NULL, msg) != 0)
				goto nomem;
			continue;
		}
		/* A unit the root lacks is as disabled as can be; masking it works
		 * too (systemctl mask needs no unit file); enabling it cannot. */
		if (strcmp(have, "not-found") == 0 && u->state == PLUMB_UNIT_DISABLED && !(u->has_running && u->running))
			continue;
		if (strcmp(have, "not-found") == 0 && u->state == PLUMB_UNIT_ENABLED) {
			snprintf(msg, sizeof(msg), "no unit '%s' in the root (systemctl is-enabled: not found)", u->unit);
			rep->failed++;
			if (plumb_report_event(rep, id, PLUMB_DRIFT_MISSING, PLUMB_ACT_FAILED,
					       shown(state_json(state_names[u->state], u->has_running, 1, u->running),
						     u->sensitive),
					       shown(state_json("not-found", 0, 0, 0), u->sensitive), msg) != 0)
				goto nomem;
			continue;
		}
		if (strcmp(have, state_names[u->state]) != 0)
			drift |= PLUMB_DRIFT_ENABLED;
		if (u->has_running && c.online) {
			struct plumb_err e;

			st = ctl_run(&c, "is-active", u->unit, 0, act, sizeof(act), &e);
			active_known = st >= 0;
			active = st == 0 && strcmp(act, "active") == 0;
			if (active_known && active != u->running)
				drift |= PLUMB_DRIFT_RUNNING;
		}
		if (drift == 0)
			continue;
		rep->drifted++;
		a = PLUMB_ACT_DETECTED;
		if (repair && !u->warn) {
			char after[256], m2[PLUMB_ERR_MAX] = "";

			a = PLUMB_ACT_REVERTED;
			if ((drift & PLUMB_DRIFT_ENABLED) && set_enablement(&c, u, have, msg, sizeof(msg)) != 0)
				a = PLUMB_ACT_FAILED;
			if (a == PLUMB_ACT_REVERTED && (drift & PLUMB_DRIFT_ENABLED)) {
				if (enablement(&c, u->unit, after, sizeof(after), m2, sizeof(m2)) != 0) {
					snprintf(msg, sizeof(msg), "%s", m2);
					a = PLUMB_ACT_FAILED;
				} else if (strcmp(after, state_names[u->state]) != 0) {
					snprintf(msg, sizeof(msg), "after systemctl, %s is still '%s'", u->unit, after);
					a = PLUMB_ACT_FAILED;
				}
			}
			if (a == PLUMB_ACT_REVERTED && (drift & PLUMB_DRIFT_RUNNING)) {
				struct plumb_err e;
				char out[512];

				st = ctl_run(&c, u->running ? "start" : "stop", u->unit, 0, out, sizeof(out), &e);
				if (st != 0) {
					char shown[300];

					if (st < 0)
						snprintf(msg, sizeof(msg), "%s", e.msg);
					else
						snprintf(msg, sizeof(msg), "systemctl %s %s: exit %d: %s", u->running ? "start" : "stop",
							 u->unit, st, plumb_escape_ctl(shown, sizeof(shown), out));
					a = PLUMB_ACT_FAILED;
				}
			}
			if (a == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
		}
		if (plumb_report_event(rep, id, drift, a,
				       shown(state_json(state_names[u->state], u->has_running, 1, u->running), u->sensitive),
				       shown(state_json(have, u->has_running, active_known, active), u->sensitive),
				       msg[0] ? msg : NULL) != 0)
			goto nomem;
	}
	if (!c.online)
		plumb_log(PLUMB_LOG_DEBUG, "services: running state not checked: %s", why);
	free(known);
	return 0;
nomem:
	free(known);
	return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
}
