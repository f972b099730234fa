/* sysctl.c - the `sysctl:` resources: /proc/sys of the agent's namespaces.
 * Keys were validated by the parser ([a-z0-9_.-], no empty component), and
 * every open goes through plumb_fs_open_beneath: nothing outside the sysctl
 * directory is ever opened, and no symlink is followed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/hash.h"
#include "plumb/log.h"
#include "plumb/sysctl.h"
#include "banned.h"

size_t plumb_sysctl_normalize(char *out, size_t outlen, const char *s)
{
	size_t n = 0;
	int blank = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			blank = n > 0;
			continue;
		}
		if (blank) {
			if (n + 1 < outlen)
				out[n] = ' ';
			n++;
			blank = 0;
		}
		if (n + 1 < outlen)
			out[n] = *s;
		n++;
	}
	if (outlen > 0)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}

/* "net.ipv4.ip_forward" -> "net/ipv4/ip_forward" */
static void key_path(char *out, size_t outlen, const char *key)
{
	size_t i;

	for (i = 0; key[i] != '\0' && i + 1 < outlen; i++)
		out[i] = key[i] == '.' ? '/' : key[i];
	out[i] = '\0';
}

/* Reads a parameter, normalized, into out. Returns 0, PLUMB_E_NOTFOUND, or
 * another negative code with errno kept. */
static int read_value(int dirfd, const char *rel, char *out, size_t outlen)
{
	char *buf = malloc(PLUMB_SYSCTL_READ_MAX + 1);
	size_t len = 0;
	int fd, r;

	if (buf == NULL)
		return PLUMB_E_NOMEM;
	if ((r = plumb_fs_open_beneath(&fd, dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY)) != 0) {
		free(buf);
		return r;
	}
	while (len < PLUMB_SYSCTL_READ_MAX) {
		ssize_t n = read(fd, buf + len, PLUMB_SYSCTL_READ_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			free(buf);
			errno = e;
			return PLUMB_E_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';   /* a NUL inside ends the text compared */
	plumb_sysctl_normalize(out, outlen, buf);
	free(buf);
	return 0;
}

static const char *write_problem(int e)
{
	switch (e) {
	case EROFS:
	case EACCES:
	case EPERM:
		return " (read-only here: a container's /proc/sys usually is, or plumb lacks the privilege)";
	case EINVAL:
		return " (the kernel refused the value)";
	default:
		return "";
	}
}

/* Writes want (normalized) in one write, as the kernel expects (O_TRUNC:
 * /proc/sys ignores it; a fake tree for tests needs it). Returns 0 or
 * a negative code with msg filled. */
static int write_value(int dirfd, const char *rel, const char *key, const char *want, int foreign_root, char *msg,
		       size_t msglen)
{
	size_t len = strlen(want);
	ssize_t n;
	int fd, r, e;
	struct statfs sfs;

	if ((r = plumb_fs_open_beneath(&fd, dirfd, rel, O_WRONLY | O_TRUNC | O_NONBLOCK | O_NOCTTY)) != 0) {
		e = errno;
		snprintf(msg, msglen, "cannot open sysctl '%s' for writing: %s%s", key, strerror(e), write_problem(e));
		return r;
	}
	/* With --root naming another tree (an image, a mounted disk), only
	 * net.* belongs to where plumb runs (its network namespace): any other
	 * key of the running kernel is this machine's, not the root's. */
	if (foreign_root && strncmp(key, "net.", 4) != 0 && fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC) {
		close(fd);
		snprintf(msg, msglen,
			 "sysctl '%s' not written: it is kernel-wide and --root is not this machine's root, so writing it "
			 "would change this machine's kernel, not the root's (it is applied by the agent running in that root)",
			 key);
		return PLUMB_E_UNSAFE;
	}
	do
		n = write(fd, want, len);
	while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (n < 0 || (size_t)n != len) {
		snprintf(msg, msglen, "cannot write sysctl '%s': %s%s", key, n < 0 ? strerror(e) : "short write",
			 n < 0 ? write_problem(e) : "");
		return PLUMB_E_IO;
	}
	return 0;
}

/* A value as a report state: the text, or for sensitive keys (and values
 * too long to carry) its sha256 and size. */
static json_t *value_json(const char *v, int sensitive)
{
	char hex[PLUMB_SHA256_HEX];
	size_t n = strlen(v);

	if (!sensitive && n <= 4096)
		return json_pack("{s:s}", "value", v);
	plumb_sha256_mem_hex(hex, v, n);
	if (sensitive)
		return json_pack("{s:s,s:I,s:b}", "sha256", hex, "size", (json_int_t)n, "sensitive", 1);
	return json_pack("{s:s,s:I}", "sha256", hex, "size", (json_int_t)n);
}

/* One key's course through a run. */
struct key_state {
	char *have;             /* normalized value found first; NULL if unreadable */
	char *want;             /* normalized desired value */
	char msg[PLUMB_ERR_MAX];   /* why it cannot be read or written */
	int code;               /* read failure (PLUMB_E_NOTFOUND: no such key) */
	int drifted, fixed;
};

/* Writes every drifted key, then reads all again: writing one parameter
 * may reset others (net.ipv4.ip_forward resets conf.*.accept_redirects), so
 * up to three passes, until a pass writes nothing. */
static void repair_all(int dirfd, const struct plumb_baseline *b, struct key_state *ks, char *buf, int foreign_root)
{
	for (int pass = 0; pass < 3; pass++) {
		int wrote = 0;

		for (size_t i = 0; i < b->nsysctl; i++) {
			const struct plumb_sysctl_res *c = &b->sysctl[i];
			char rel[PLUMB_SYSCTL_KEY_MAX + 1];

			if (ks[i].have == NULL || c->warn)
				continue;
			key_path(rel, sizeof(rel), c->key);
			if (read_value(dirfd, rel, buf, PLUMB_SYSCTL_READ_MAX + 1) != 0) {
				snprintf(ks[i].msg, sizeof(ks[i].msg), "cannot read sysctl '%s' back after writing", c->key);
				ks[i].fixed = 0;
				continue;
			}
			if (strcmp(buf, ks[i].want) == 0) {
				ks[i].fixed = 1;
				continue;
			}
			ks[i].fixed = 0;
			if (pass > 0 && !ks[i].drifted)
				plumb_log(PLUMB_LOG_INFO, "sysctl: '%s' changed when another parameter was written; setting it again",
					  c->key);
			if (write_value(dirfd, rel, c->key, ks[i].want, foreign_root, ks[i].msg, sizeof(ks[i].msg)) == 0) {
				wrote = 1;
				if (read_value(dirfd, rel, buf, PLUMB_SYSCTL_READ_MAX + 1) == 0 && strcmp(buf, ks[i].want) == 0)
					ks[i].fixed = 1;
				else
					snprintf(ks[i].msg, sizeof(ks[i].msg),
						 "sysctl '%s' was written, but the kernel keeps a different value%s", c->key,
						 c->sensitive ? "" : "; see actual");
			}
		}
		if (!wrote)
			return;
	}
}

int plumb_sysctl_run(struct plumb_report *rep, const struct plumb_baseline *b, int repair, int foreign_root,
		     struct plumb_err *err)
{
	const char *dir = secure_getenv(PLUMB_SYSCTL_DIR_ENV);
	struct key_state *ks = NULL;
	char *buf = NULL;
	int dirfd = -1, r = 0, dir_errno = 0;

	if (b->nsysctl == 0)
		return 0;
	if (dir == NULL || dir[0] == '\0')
		dir = PLUMB_SYSCTL_DIR;
	if ((ks = calloc(b->nsysctl, sizeof(*ks))) == NULL || (buf = malloc(PLUMB_SYSCTL_READ_MAX + 1)) == NULL)
		goto nomem;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		dir_errno = errno;
	/* What is there, before anything is written. */
	for (size_t i = 0; i < b->nsysctl; i++) {
		const struct plumb_sysctl_res *c = &b->sysctl[i];
		char rel[PLUMB_SYSCTL_KEY_MAX + 1];
		int k;

		if ((ks[i].want = malloc(PLUMB_SYSCTL_VALUE_MAX + 1)) == NULL)
			goto nomem;
		plumb_sysctl_normalize(ks[i].want, PLUMB_SYSCTL_VALUE_MAX + 1, c->value);
		key_path(rel, sizeof(rel), c->key);
		if (dirfd < 0) {
			snprintf(ks[i].msg, sizeof(ks[i].msg), "cannot open '%s': %s", dir, strerror(dir_errno));
			ks[i].code = PLUMB_E_IO;
			continue;
		}
		if ((k = read_value(dirfd, rel, buf, PLUMB_SYSCTL_READ_MAX + 1)) != 0) {
			ks[i].code = k;
			if (k == PLUMB_E_NOTFOUND)
				snprintf(ks[i].msg, sizeof(ks[i].msg), "no sysctl '%s' in this kernel (%s/%s does not exist)", c->key,
					 dir, rel);
			else
				snprintf(ks[i].msg, sizeof(ks[i].msg), "cannot read sysctl '%s': %s", c->key,
					 k == PLUMB_E_UNSAFE ? "not a plain path below the sysctl directory" : strerror(errno));
			continue;
		}
		if ((ks[i].have = strdup(buf)) == NULL)
			goto nomem;
		ks[i].drifted = strcmp(ks[i].have, ks[i].want) != 0;
		ks[i].fixed = !ks[i].drifted;
	}
	if (repair) {
		int any = 0;

		for (size_t i = 0; i < b->nsysctl; i++)
			any |= ks[i].drifted && !b->sysctl[i].warn;
		if (any)
			repair_all(dirfd, b, ks, buf, foreign_root);
	}
	for (size_t i = 0; i < b->nsysctl; i++) {
		const struct plumb_sysctl_res *c = &b->sysctl[i];
		char id[PLUMB_SYSCTL_KEY_MAX + 16];
		enum plumb_action a = PLUMB_ACT_DETECTED;

		snprintf(id, sizeof(id), "sysctl:%s", c->key);
		rep->resources++;
		if (ks[i].have == NULL) {
			int missing = ks[i].code == PLUMB_E_NOTFOUND;

			rep->failed++;
			if (plumb_report_event(rep, id, missing ? PLUMB_DRIFT_MISSING : 0, PLUMB_ACT_FAILED,
					       value_json(ks[i].want, c->sensitive),
					       missing ? json_pack("{s:s}", "state", "absent") : NULL, ks[i].msg) != 0)
				goto nomem;
			continue;
		}
		if (!ks[i].drifted && ks[i].fixed)
			continue;
		if (ks[i].drifted)
			rep->drifted++;
		if (repair && !c->warn) {
			a = ks[i].fixed ? PLUMB_ACT_REVERTED : PLUMB_ACT_FAILED;
			if (a == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
		}
		if (plumb_report_event(rep, id, ks[i].drifted ? PLUMB_DRIFT_VALUE : 0, a, value_json(ks[i].want, c->sensitive),
				       value_json(ks[i].have, c->sensitive),
				       a == PLUMB_ACT_FAILED && ks[i].msg[0] ? ks[i].msg : NULL) != 0)
			goto nomem;
	}
	goto out;
nomem:
	r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
out:
	if (dirfd >= 0)
		close(dirfd);
	for (size_t i = 0; ks != NULL && i < b->nsysctl; i++) {
		free(ks[i].have);
		free(ks[i].want);
	}
	free(ks);
	free(buf);
	return r;
}
