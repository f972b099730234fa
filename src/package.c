/* package.c - the `packages:` resources: one pass over the root's dpkg
 * status file (no dpkg exec to look), then at most one dpkg --purge and one
 * apt-get install per run, exec'd with argv arrays. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/helper.h"
#include "plumb/package.h"
#include "plumb/service.h"
#include "plumb/util.h"
#include "banned.h"

/* Output of dpkg or apt-get kept for an error message. */
#define PKG_OUTPUT_MAX 2048

static long find_pkg(const struct plumb_package_res *pkgs, size_t n, const char *name, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(pkgs[mid].name, name, len);

		if (c == 0 && pkgs[mid].name[len] != '\0')
			c = 1;
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The dpkg states in which a package's files are on disk. */
static int status_present(const char *s, size_t len)
{
	static const char *const present[] = {"installed", "half-installed", "unpacked", "half-configured",
					      "triggers-awaited", "triggers-pending"};
	const char *last = s + len;

	while (last > s && last[-1] != ' ')
		last--;
	for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
		if ((size_t)(s + len - last) == strlen(present[i]) && memcmp(last, present[i], strlen(present[i])) == 0)
			return 1;
	return 0;
}

static void copy_field(char *out, size_t outlen, const char *s, size_t len)
{
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

void plumb_dpkg_status_scan(struct plumb_package_state *out, const struct plumb_package_res *pkgs, size_t n,
			    const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	const char *pkg = NULL, *st = NULL, *ver = NULL;
	size_t pkglen = 0, stlen = 0, verlen = 0;

	memset(out, 0, n * sizeof(*out));
	for (;;) {
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);

		if (p >= end || ll == 0) {   /* end of a stanza */
			long i = pkg ? find_pkg(pkgs, n, pkg, pkglen) : -1;

			/* Multi-Arch: the same name may come once per architecture. */
			if (i >= 0 && st != NULL && !out[i].present) {
				out[i].present = status_present(st, stlen);
				copy_field(out[i].status, sizeof(out[i].status), st, stlen);
				copy_field(out[i].version, sizeof(out[i].version), ver ? ver : "", ver ? verlen : 0);
			}
			pkg = st = ver = NULL;
			if (p >= end)
				return;
		} else if (ll > 9 && memcmp(p, "Package: ", 9) == 0) {
			pkg = p + 9;
			pkglen = ll - 9;
		} else if (ll > 8 && memcmp(p, "Status: ", 8) == 0) {
			st = p + 8;
			stlen = ll - 8;
		} else if (ll > 9 && memcmp(p, "Version: ", 9) == 0) {
			ver = p + 9;
			verlen = ll - 9;
		}
		p = nl ? nl + 1 : end;
	}
}

/* Reads the root's status file. Returns 0 (with *text NULL when there is no
 * dpkg database), or a negative code with msg filled. */
static int read_status(char **text, size_t *len, int rootfd, char *msg, size_t msglen)
{
	struct stat st;
	size_t off = 0;
	char *t;
	int fd, r;

	*text = NULL;
	*len = 0;
	if ((r = plumb_fs_open_beneath(&fd, rootfd, PLUMB_DPKG_STATUS, O_RDONLY | O_NONBLOCK | O_NOCTTY)) != 0) {
		if (r == PLUMB_E_NOTFOUND)
			return 0;
		snprintf(msg, msglen, "cannot open /%s: %s", PLUMB_DPKG_STATUS, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > PLUMB_DPKG_STATUS_MAX) {
		snprintf(msg, msglen, "/%s is not a regular file of at most %u bytes", PLUMB_DPKG_STATUS,
			 PLUMB_DPKG_STATUS_MAX);
		close(fd);
		return PLUMB_E_UNSAFE;
	}
	if ((t = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return PLUMB_E_NOMEM;
	}
	{
		ssize_t n = plumb_fs_read_upto(fd, t, (size_t)st.st_size, 0);

		if (n < 0) {
			/* never judged from part of it: every package would look missing */
			snprintf(msg, msglen, "cannot read /%s: %s", PLUMB_DPKG_STATUS, strerror(errno));
			close(fd);
			free(t);
			return PLUMB_E_IO;
		}
		off = (size_t)n;   /* shrank: what was read is judged */
	}
	close(fd);
	t[off] = '\0';
	*text = t;
	*len = off;
	return 0;
}

static json_t *state_json(int present, const struct plumb_package_state *s)
{
	if (!present)
		return json_pack("{s:s}", "state", "absent");
	if (s == NULL)
		return json_pack("{s:s}", "status", "installed");
	return s->version[0] ? json_pack("{s:s,s:s}", "status", s->status, "version", s->version)
			     : json_pack("{s:s}", "status", s->status);
}

/* One dpkg or apt-get run over every name in names; its status and output. */
static int run_tool(const char *const *argv_head, size_t nhead, const char *const *names, size_t n,
		    const char *const env[], char *out, size_t outlen, char *msg, size_t msglen)
{
	const char **argv = calloc(nhead + n + 2, sizeof(*argv));
	struct plumb_err e;
	size_t k = 0;
	int st;

	if (argv == NULL)
		return PLUMB_E_NOMEM;
	for (size_t i = 0; i < nhead; i++)
		argv[k++] = argv_head[i];
	argv[k++] = "--";
	for (size_t i = 0; i < n; i++)
		argv[k++] = names[i];
	argv[k] = NULL;
	st = plumb_helper_run(argv, env, NULL, PLUMB_PACKAGE_TIMEOUT * 1000u, out, outlen, &e);
	if (st < 0)
		snprintf(msg, msglen, "%s", e.msg);
	free(argv);
	return st;
}

/* sensitive: the report says what kind of drift, not what was found. */
static json_t *shown(json_t *state, int sensitive)
{
	if (!sensitive || state == NULL)
		return state;
	json_decref(state);
	return json_pack("{s:b}", "sensitive", 1);
}

int plumb_package_run(struct plumb_report *rep, const struct plumb_baseline *b, int rootfd, int repair,
		      struct plumb_err *err)
{
	struct plumb_package_state *have = NULL, *after = NULL;
	const char **purge = NULL, **install = NULL;
	unsigned char *act = NULL;     /* per package: 1 drifted and to be repaired */
	char *text = NULL, msg[PLUMB_ERR_MAX] = "", root[PATH_MAX], root_opt[PATH_MAX + 16];
	char *out = NULL, purge_msg[PLUMB_ERR_MAX] = "", install_msg[PLUMB_ERR_MAX] = "";
	size_t len, npurge = 0, ninstall = 0, n = b->npackages;
	int r = 0, is_slash, db;

	if (n == 0)
		return 0;
	if ((have = calloc(n, sizeof(*have))) == NULL || (after = calloc(n, sizeof(*after))) == NULL ||
	    (purge = calloc(n, sizeof(*purge))) == NULL || (install = calloc(n, sizeof(*install))) == NULL ||
	    (act = calloc(n, 1)) == NULL || (out = malloc(PKG_OUTPUT_MAX)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = read_status(&text, &len, rootfd, msg, sizeof(msg))) != 0) {
		if (r == PLUMB_E_NOMEM) {
			r = plumb_err_set(err, r, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			char id[PLUMB_PACKAGE_NAME_MAX + 16];

			snprintf(id, sizeof(id), "package:%s", b->packages[i].name);
			rep->resources++;
			rep->failed++;
			if (plumb_report_event(rep, id, 0, PLUMB_ACT_FAILED,
					       shown(state_json(!b->packages[i].absent, NULL), b->packages[i].sensitive), NULL,
					       msg) != 0)
				goto nomem;
		}
		r = 0;
		goto out;
	}
	db = text != NULL;
	if (db)
		plumb_dpkg_status_scan(have, b->packages, n, text, len);
	{
		struct stat a, s;

		is_slash = fstat(rootfd, &a) == 0 && stat("/", &s) == 0 && a.st_dev == s.st_dev && a.st_ino == s.st_ino;
	}
	if (plumb_root_path(root, sizeof(root), rootfd) != 0)
		snprintf(root, sizeof(root), "/");
	snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
	for (size_t i = 0; i < n; i++) {
		const struct plumb_package_res *p = &b->packages[i];

		if (have[i].present == !p->absent)
			continue;
		if (repair && !p->warn) {
			act[i] = 1;
			if (p->absent)
				purge[npurge++] = p->name;
			else if (is_slash && db)
				install[ninstall++] = p->name;
		}
	}
	if (npurge > 0) {
		const char *head[] = {PLUMB_DPKG, root_opt, "--purge"};
		int st = run_tool(head, 3, purge, npurge, NULL, out, PKG_OUTPUT_MAX, purge_msg, sizeof(purge_msg));

		if (st > 0) {
			char shown[400];

			snprintf(purge_msg, sizeof(purge_msg), "dpkg --purge exited %d: %s", st,
				 plumb_escape_ctl(shown, sizeof(shown), out));
		}
	}
	if (ninstall > 0) {
		const char *head[] = {PLUMB_APT_GET, "install", "-y", "--no-install-recommends"};
		const char *env[] = {"DEBIAN_FRONTEND=noninteractive", NULL};
		int st = run_tool(head, 4, install, ninstall, env, out, PKG_OUTPUT_MAX, install_msg,
				  sizeof(install_msg));

		if (st > 0) {
			char shown[400];

			snprintf(install_msg, sizeof(install_msg), "apt-get install exited %d: %s", st,
				 plumb_escape_ctl(shown, sizeof(shown), out));
		}
	}
	if (npurge > 0 || ninstall > 0) {
		free(text);
		text = NULL;
		if (read_status(&text, &len, rootfd, msg, sizeof(msg)) == 0 && text != NULL)
			plumb_dpkg_status_scan(after, b->packages, n, text, len);
	}
	for (size_t i = 0; i < n; i++) {
		const struct plumb_package_res *p = &b->packages[i];
		char id[PLUMB_PACKAGE_NAME_MAX + 16];
		enum plumb_action a = PLUMB_ACT_DETECTED;
		const char *why = NULL;

		snprintf(id, sizeof(id), "package:%s", p->name);
		rep->resources++;
		if (have[i].present == !p->absent)
			continue;
		rep->drifted++;
		if (act[i]) {
			if (!p->absent && !is_slash)
				why = "installing a package needs apt-get on the running system; the root is not /";
			else if (!p->absent && !db)
				why = "the root has no dpkg database (var/lib/dpkg/status)";
			else if (after[i].present == !p->absent)
				a = PLUMB_ACT_REVERTED;
			else
				why = p->absent ? (purge_msg[0] ? purge_msg : "dpkg --purge left it installed")
						: (install_msg[0] ? install_msg : "apt-get install left it missing");
			if (a != PLUMB_ACT_REVERTED)
				a = PLUMB_ACT_FAILED;
			if (a == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
		}
		if (plumb_report_event(rep, id, p->absent ? PLUMB_DRIFT_PRESENT : PLUMB_DRIFT_MISSING, a,
				       shown(state_json(!p->absent, NULL), p->sensitive),
				       shown(state_json(have[i].present, &have[i]), p->sensitive), why) != 0)
			goto nomem;
	}
	r = 0;
	goto out;
nomem:
	r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
out:
	free(text);
	free(have);
	free(after);
	free(purge);
	free(install);
	free(act);
	free(out);
	return r;
}
