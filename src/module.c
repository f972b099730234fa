/* module.c - the `modules:` resources: /proc/modules read once per run,
 * modprobe [-r] exec'd with an argv array per module to change. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/helper.h"
#include "plumb/module.h"
#include "plumb/util.h"
#include "banned.h"

int plumb_modules_listed(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if ((size_t)(le - p) > n && memcmp(p, name, n) == 0 && p[n] == ' ')
			return 1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static char *read_modules(const char *path, size_t *len, char *msg, size_t msglen)
{
	char *t = malloc(PLUMB_PROC_MODULES_MAX + 1);
	size_t off = 0;
	int fd;

	*len = 0;
	if (t == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(msg, msglen, "cannot read %s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (no loadable modules here: a container, or a kernel without them)" : "");
		free(t);
		return NULL;
	}
	{
		ssize_t n = plumb_fs_read_upto(fd, t, PLUMB_PROC_MODULES_MAX, -1);

		off = n > 0 ? (size_t)n : 0;
	}
	close(fd);
	t[off] = '\0';
	*len = off;
	return t;
}

/* Why module changes cannot work here, or NULL: CAP_SYS_MODULE (16) is not
 * in the effective set, as in a container. */
static const char *cannot_change(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long cap = ~0ULL;

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "CapEff:", 7) == 0)
			cap = strtoull(line + 7, NULL, 16);
	fclose(f);
	return (cap & (1ULL << 16)) ? NULL : "plumb lacks CAP_SYS_MODULE here (in a container only the host can load or unload modules)";
}

/* sensitive: the report says what kind of drift, not what was found. */
static json_t *shown(json_t *state, int sensitive)
{
	if (!sensitive || state == NULL)
		return state;
	json_decref(state);
	return json_pack("{s:b}", "sensitive", 1);
}

int plumb_module_run(struct plumb_report *rep, const struct plumb_baseline *b, int repair, struct plumb_err *err)
{
	const char *path = secure_getenv(PLUMB_PROC_MODULES_ENV), *modprobe = secure_getenv(PLUMB_MODPROBE_ENV);
	char msg[PLUMB_ERR_MAX], out[1024];
	char *text = NULL;
	size_t len = 0;

	if (b->nmodules == 0)
		return 0;
	if (path == NULL || path[0] != '/')
		path = PLUMB_PROC_MODULES;
	if (modprobe == NULL || modprobe[0] != '/')
		modprobe = PLUMB_MODPROBE;
	text = read_modules(path, &len, msg, sizeof(msg));
	for (size_t i = 0; i < b->nmodules; i++) {
		const struct plumb_module_res *m = &b->modules[i];
		char id[PLUMB_MODULE_NAME_MAX + 16];
		enum plumb_action a = PLUMB_ACT_DETECTED;
		const char *why = NULL;
		int loaded;

		snprintf(id, sizeof(id), "module:%s", m->name);
		rep->resources++;
		if (text == NULL) {
			/* Unknown, not absent: without the list nothing can be said. */
			rep->failed++;
			if (plumb_report_event(rep, id, 0, PLUMB_ACT_FAILED,
					       shown(json_pack("{s:b}", "loaded", m->loaded), m->sensitive), NULL, msg) != 0)
				goto nomem;
			continue;
		}
		loaded = plumb_modules_listed(text, len, m->name);
		if (loaded == m->loaded)
			continue;
		rep->drifted++;
		if (repair && !m->warn) {
			a = PLUMB_ACT_FAILED;
			if ((why = cannot_change()) == NULL && access(modprobe, X_OK) != 0)
				why = "modprobe is not installed (" PLUMB_MODPROBE ")";
			if (why == NULL) {
				const char *load[] = {modprobe, "--", m->name, NULL};
				const char *unload[] = {modprobe, "-r", "--", m->name, NULL};
				const char *const *argv = m->loaded ? load : unload;
				struct plumb_err e;
				int st = plumb_helper_run(argv, NULL, NULL, PLUMB_MODPROBE_TIMEOUT * 1000u, out, sizeof(out), &e);
				size_t n2;
				char *again;

				if (st < 0) {
					snprintf(msg, sizeof(msg), "%s", e.msg);
					why = msg;
				} else if (st > 0) {
					char shown[600];

					snprintf(msg, sizeof(msg), "modprobe%s %s exited %d: %s", m->loaded ? "" : " -r", m->name, st,
						 plumb_escape_ctl(shown, sizeof(shown), out));
					why = msg;
				} else if ((again = read_modules(path, &n2, msg, sizeof(msg))) == NULL) {
					why = msg;
				} else {
					if (plumb_modules_listed(again, n2, m->name) == m->loaded)
						a = PLUMB_ACT_REVERTED;
					else
						why = m->loaded ? "modprobe succeeded but the module is not listed"
								: "modprobe -r succeeded but the module is still listed";
					free(again);
				}
			}
			if (a == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
		}
		if (plumb_report_event(rep, id, m->loaded ? PLUMB_DRIFT_MISSING : PLUMB_DRIFT_PRESENT, a,
				       shown(json_pack("{s:b}", "loaded", m->loaded), m->sensitive),
				       shown(json_pack("{s:b}", "loaded", loaded), m->sensitive), why) != 0)
			goto nomem;
	}
	free(text);
	return 0;
nomem:
	free(text);
	return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
}
