/* confine.c - whether this host confines plumb's children as designed:
 * the same checks as the fetcher (gitsrc.c) and plumb-send (sender.c)
 * make before they fork, made once per run for its report. */
#include <stdio.h>
#include <string.h>

#include "plumb/confine.h"
#include "plumb/gitsrc.h"
#include "plumb/sandbox.h"
#include "banned.h"

static void add(struct plumb_confinement *c, unsigned bit, const char *what)
{
	size_t n = strlen(c->detail);

	c->weaker |= bit;
	snprintf(c->detail + n, sizeof(c->detail) - n, "%s%s", n ? "; " : "", what);
	/* printable only: a path with control characters must not make the
	 * control plane refuse the report */
	for (char *p = c->detail + n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

void plumb_confine_assess(struct plumb_confinement *c, const struct plumb_config *cfg)
{
	struct plumb_sandbox_user u;
	struct plumb_err err;
	char what[PLUMB_CONFINE_DETAIL_MAX], path[4096];
	int fetches = cfg->source_url != NULL, sends = cfg->report_url != NULL;

	memset(c, 0, sizeof(*c));
	if (!fetches && !sends)
		return;
	if (plumb_sandbox_lookup(&u, cfg->user, &err) != 0) {
		snprintf(what, sizeof(what), "%.300s", err.msg);
		add(c, PLUMB_WEAKER_USER_MISSING, what);
	} else if (!u.found) {
		snprintf(what, sizeof(what), "user '%.64s' does not exist: the %s as root", u.name,
			 fetches && sends ? "git fetcher and the report sender run" : fetches ? "git fetcher runs" :
			 "report sender runs");
		add(c, PLUMB_WEAKER_USER_MISSING, what);
	} else if (fetches) {
		const char *url = cfg->source_url, *closed = NULL;

		snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, PLUMB_GIT_CACHE);
		if (!plumb_sandbox_can_reach(&u, path))
			closed = path;
		else if (strncmp(url, "file://", 7) == 0 || strstr(url, "://") == NULL) {
			snprintf(path, sizeof(path), "%s", strncmp(url, "file://", 7) == 0 ? url + 7 : url);
			if (!plumb_sandbox_can_reach(&u, path))
				closed = path;
		}
		if (closed != NULL) {
			snprintf(what, sizeof(what), "user '%.64s' cannot reach '%.200s': the git fetcher runs as root",
				 u.name, closed);
			add(c, PLUMB_WEAKER_USER_UNREACHABLE, what);
		}
	}
	if (plumb_sandbox_landlock_abi() < 1)
		add(c, PLUMB_WEAKER_NO_LANDLOCK, "no Landlock in this kernel: the children can read world-readable files");
}
