/* sysctl.c - the `sysctl:` resources: /proc/sys of the agent's namespaces.
 * Keys were validated by the parser ([a-z0-9_.-], no empty component), and
 * every open goes through plumb_fs_open_beneath: nothing outside the sysctl
 * directory is ever opened, and no symlink is followed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/fs.h"
#include "plumb/hash.h"
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
static int write_value(int dirfd, const char *rel, const char *key, const char *want, char *msg, size_t msglen)
{
	size_t len = strlen(want);
	ssize_t n;
	int fd, r, e;

	if ((r = plumb_fs_open_beneath(&fd, dirfd, rel, O_WRONLY | O_TRUNC | O_NONBLOCK | O_NOCTTY)) != 0) {
		e = errno;
		snprintf(msg, msglen, "cannot open sysctl '%s' for writing: %s%s", key, strerror(e), write_problem(e));
		return r;
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

int plumb_sysctl_run(struct plumb_report *rep, const struct plumb_baseline *b, int repair, struct plumb_err *err)
{
	const char *dir = secure_getenv(PLUMB_SYSCTL_DIR_ENV);
	char *want = NULL, *have = NULL;
	int dirfd = -1, r = 0;

	if (b->nsysctl == 0)
		return 0;
	if (dir == NULL || dir[0] == '\0')
		dir = PLUMB_SYSCTL_DIR;
	if ((want = malloc(PLUMB_SYSCTL_VALUE_MAX + 1)) == NULL || (have = malloc(PLUMB_SYSCTL_READ_MAX + 1)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < b->nsysctl; i++) {
		const struct plumb_sysctl_res *c = &b->sysctl[i];
		char id[PLUMB_SYSCTL_KEY_MAX + 16], rel[PLUMB_SYSCTL_KEY_MAX + 1], msg[PLUMB_ERR_MAX];
		enum plumb_action a;
		int k;

		snprintf(id, sizeof(id), "sysctl:%s", c->key);
		key_path(rel, sizeof(rel), c->key);
		plumb_sysctl_normalize(want, PLUMB_SYSCTL_VALUE_MAX + 1, c->value);
		rep->resources++;
		if (dirfd < 0) {
			snprintf(msg, sizeof(msg), "cannot open '%s': %s", dir, strerror(errno));
			rep->failed++;
			if (plumb_report_event(rep, id, 0, PLUMB_ACT_FAILED, value_json(want, c->sensitive), NULL, msg) != 0)
				goto nomem;
			continue;
		}
		if ((k = read_value(dirfd, rel, have, PLUMB_SYSCTL_READ_MAX + 1)) != 0) {
			int missing = k == PLUMB_E_NOTFOUND;

			if (missing)
				snprintf(msg, sizeof(msg), "no sysctl '%s' in this kernel (%s/%s does not exist)", c->key, dir, rel);
			else
				snprintf(msg, sizeof(msg), "cannot read sysctl '%s': %s", c->key,
					 k == PLUMB_E_UNSAFE ? "not a plain path below the sysctl directory" : strerror(errno));
			rep->failed++;
			if (plumb_report_event(rep, id, missing ? PLUMB_DRIFT_MISSING : 0, PLUMB_ACT_FAILED,
					       value_json(want, c->sensitive),
					       missing ? json_pack("{s:s}", "state", "absent") : NULL, msg) != 0)
				goto nomem;
			continue;
		}
		if (strcmp(have, want) == 0)
			continue;
		rep->drifted++;
		a = PLUMB_ACT_DETECTED;
		msg[0] = '\0';
		if (repair && !c->warn) {
			char *after = NULL;

			a = PLUMB_ACT_FAILED;
			if (write_value(dirfd, rel, c->key, want, msg, sizeof(msg)) == 0) {
				if ((after = malloc(PLUMB_SYSCTL_READ_MAX + 1)) == NULL)
					goto nomem;
				if (read_value(dirfd, rel, after, PLUMB_SYSCTL_READ_MAX + 1) != 0)
					snprintf(msg, sizeof(msg), "cannot read sysctl '%s' back after writing it", c->key);
				else if (strcmp(after, want) != 0)
					snprintf(msg, sizeof(msg), "sysctl '%s' was written, but the kernel keeps a different value%s",
						 c->key, c->sensitive ? "" : "; see actual");
				else
					a = PLUMB_ACT_REVERTED;
				free(after);
			}
			if (a == PLUMB_ACT_REVERTED)
				rep->reverted++;
			else
				rep->failed++;
		}
		if (plumb_report_event(rep, id, PLUMB_DRIFT_VALUE, a, value_json(want, c->sensitive),
				       value_json(have, c->sensitive), msg[0] ? msg : NULL) != 0)
			goto nomem;
	}
	goto out;
nomem:
	r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
out:
	if (dirfd >= 0)
		close(dirfd);
	free(want);
	free(have);
	return r;
}
