/* notify_run.c - notify: actions after files changed: systemctl for units,
 * or the baseline's own argv, always through plumb_helper_run (argv array,
 * deadline, process group killed at the deadline). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/helper.h"
#include "plumb/log.h"
#include "plumb/notify_run.h"
#include "plumb/service.h"
#include "plumb/util.h"
#include "banned.h"

static const char *const verbs[] = {"reload", "restart", "try-restart", NULL};

static int same_action(const struct plumb_notify_res *a, const struct plumb_notify_res *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind != PLUMB_NOTIFY_EXEC)
		return strcmp(a->unit, b->unit) == 0;
	if (a->argc != b->argc)
		return 0;
	for (size_t i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return 0;
	return 1;
}

static json_t *command_json(const char *const argv[])
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && argv[i] != NULL; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_pack("{s:o}", "command", a);
}

static int run_one(struct plumb_report *rep, const struct plumb_notify_res *nr, int reachable, const char *unreachable,
		   const char *root, struct plumb_err *err)
{
	const char *argv[PLUMB_NOTIFY_ARGV_MAX + 1];
	char id[PLUMB_UNIT_MAX + PATH_MAX + 16], msg[PLUMB_ERR_MAX], out[PLUMB_NOTIFY_ERROR_MAX + 1];
	char env_root[PATH_MAX + 16];
	const char *env[2] = {NULL, NULL};
	struct plumb_err e;
	int st;

	if (nr->kind == PLUMB_NOTIFY_EXEC) {
		for (size_t i = 0; i < nr->argc; i++)
			argv[i] = nr->argv[i];
		argv[nr->argc] = NULL;
		snprintf(id, sizeof(id), "exec:%s", nr->argv[0]);
	} else {
		argv[0] = plumb_systemctl_path();
		argv[1] = verbs[nr->kind];
		argv[2] = nr->unit;
		argv[3] = NULL;
		snprintf(id, sizeof(id), "service:%s", nr->unit);
		if (!reachable) {
			snprintf(msg, sizeof(msg), "%s %s not run: %s", verbs[nr->kind], nr->unit, unreachable);
			rep->failed++;
			return plumb_report_event(rep, id, 0, PLUMB_ACT_FAILED, command_json(argv), NULL, msg) == 0
				       ? 0 : plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		}
	}
	if (root != NULL) {
		snprintf(env_root, sizeof(env_root), "PLUMB_ROOT=%s", root);
		env[0] = env_root;
	}
	st = plumb_helper_run(argv, env, nr->kind == PLUMB_NOTIFY_EXEC ? root : NULL, nr->timeout_s * 1000u, out,
			      sizeof(out), &e);
	if (st == 0) {
		plumb_log(PLUMB_LOG_INFO, "%s: notified", id);
		return plumb_report_event(rep, id, 0, PLUMB_ACT_NOTIFIED, command_json(argv), NULL, NULL) == 0
			       ? 0 : plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	if (st < 0) {
		snprintf(msg, sizeof(msg), "%s", e.msg);
	} else {
		char shown[PLUMB_NOTIFY_ERROR_MAX * 2];
		size_t n = strlen(out);

		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
			out[--n] = '\0';
		plumb_escape_ctl(shown, sizeof(shown), out);
		if (st > 255)
			snprintf(msg, sizeof(msg), "'%.200s' died of signal %d%s%.600s", argv[0], st - 256, n ? ": " : "",
				 shown);
		else
			snprintf(msg, sizeof(msg), "'%.200s' exited %d%s%.600s", argv[0], st, n ? ": " : "", shown);
	}
	rep->failed++;
	return plumb_report_event(rep, id, 0, PLUMB_ACT_FAILED, command_json(argv), NULL, msg) == 0
		       ? 0 : plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
}

int plumb_notify_run(struct plumb_report *rep, const struct plumb_file_res *const *changed, size_t n, int rootfd,
		     struct plumb_err *err)
{
	const struct plumb_notify_res **todo = NULL;
	const char *unreachable = "";
	char root[PATH_MAX];
	size_t ntodo = 0, cap = 0;
	int reachable = -1, r = 0, have_root;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < changed[i]->nnotify; j++) {
			const struct plumb_notify_res *nr = &changed[i]->notify[j];
			size_t k;

			for (k = 0; k < ntodo && !same_action(todo[k], nr); k++)
				;
			if (k < ntodo)
				continue;        /* batched: once per run */
			if (ntodo == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				const struct plumb_notify_res **nv = reallocarray(todo, ncap, sizeof(*nv));

				if (nv == NULL) {
					free(todo);
					return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				}
				todo = nv;
				cap = ncap;
			}
			todo[ntodo++] = nr;
		}
	}
	if (ntodo == 0)
		return 0;
	have_root = plumb_root_path(root, sizeof(root), rootfd) == 0;
	for (size_t k = 0; k < ntodo && r == 0; k++) {
		if (todo[k]->kind != PLUMB_NOTIFY_EXEC && reachable < 0)
			reachable = plumb_systemd_reachable(rootfd, &unreachable);
		r = run_one(rep, todo[k], reachable > 0, unreachable, have_root ? root : NULL, err);
	}
	free(todo);
	return r;
}
