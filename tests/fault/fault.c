/* fault.c - an LD_PRELOAD library that fails chosen system calls on chosen
 * paths, for the fault-injection tests (after curl's torture mode).
 *
 * PLUMB_FAULT="CALL:SUBSTRING:ERRNO[:SKIP[:COUNT]][;...]" makes CALL fail
 * with ERRNO when the path it acts on (the fd's path for fd calls, the new
 * name for renameat) contains SUBSTRING, after letting SKIP matching calls
 * through, COUNT times (default: every time). CALL is openat, renameat
 * (also renameat2),
 * fsync, fdatasync, read, pread, pwrite or write; ERRNO a name (EIO,
 * ENOSPC, EACCES, ENOMEM, EROFS) or a number. Each injection is appended to
 * PLUMB_FAULT_LOG, if set, so a test can tell the fault really fired.
 * PLUMB_FAULT_PROG, if set, limits injection to the program of that name
 * (e.g. plumb, not the plumb-send it runs).
 * Built without sanitizers; with ASan binaries set
 * ASAN_OPTIONS=verify_asan_link_order=0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RULES 8

struct rule {
	char call[16];
	char sub[256];
	int err;
	long skip, count;
};

static struct rule rules[MAX_RULES];
static int nrules;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;   /* our own calls (log writes) are never failed */

static int errno_of(const char *s)
{
	static const struct { const char *n; int v; } t[] = {
		{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EACCES", EACCES}, {"ENOMEM", ENOMEM},
		{"EROFS", EROFS}, {"EDQUOT", EDQUOT}, {"EPERM", EPERM},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].v;
	return atoi(s);
}

static void load(void)
{
	const char *env = getenv("PLUMB_FAULT");
	char buf[2048], *save = NULL, *tok;

	if (env == NULL)
		return;
	if (getenv("PLUMB_FAULT_PROG") != NULL && strcmp(getenv("PLUMB_FAULT_PROG"), program_invocation_short_name) != 0)
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (tok = strtok_r(buf, ";", &save); tok && nrules < MAX_RULES; tok = strtok_r(NULL, ";", &save)) {
		char *f[5] = {NULL}, *p = tok, *s2 = NULL;
		int n = 0;
		struct rule *r = &rules[nrules];

		for (char *x = strtok_r(p, ":", &s2); x && n < 5; x = strtok_r(NULL, ":", &s2))
			f[n++] = x;
		if (n < 3)
			continue;
		snprintf(r->call, sizeof(r->call), "%s", f[0]);
		snprintf(r->sub, sizeof(r->sub), "%s", f[1]);
		r->err = errno_of(f[2]);
		r->skip = n > 3 ? atol(f[3]) : 0;
		r->count = n > 4 ? atol(f[4]) : -1;
		nrules++;
	}
}

static void fd_path(int fd, char *out, size_t n)
{
	char proc[64];
	ssize_t k;

	out[0] = '\0';
	if (fd < 0)
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((k = readlink(proc, out, n - 1)) < 0)
		k = 0;
	out[k] = '\0';
}

static void at_path(int dirfd, const char *name, char *out, size_t n)
{
	char dir[4096];

	if (name[0] == '/' || dirfd == AT_FDCWD) {
		snprintf(out, n, "%s", name);
		return;
	}
	fd_path(dirfd, dir, sizeof(dir));
	snprintf(out, n, "%s/%s", dir, name);
}

static int wanted(const char *call)
{
	pthread_once(&once, load);
	if (inside)
		return 0;
	for (int i = 0; i < nrules; i++)
		if (strcmp(rules[i].call, call) == 0)
			return 1;
	return 0;
}

/* Returns the errno to inject for call on path, or 0. */
static int decide(const char *call, const char *path)
{
	int e = 0;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < nrules && e == 0; i++) {
		struct rule *r = &rules[i];

		if (strcmp(r->call, call) != 0 || strstr(path, r->sub) == NULL || r->count == 0)
			continue;
		if (r->skip > 0) {
			r->skip--;
			continue;
		}
		if (r->count > 0)
			r->count--;
		e = r->err;
	}
	pthread_mutex_unlock(&mu);
	if (e != 0 && getenv("PLUMB_FAULT_LOG") != NULL) {
		FILE *f;

		inside = 1;
		if ((f = fopen(getenv("PLUMB_FAULT_LOG"), "a")) != NULL) {
			fprintf(f, "%d %s %s -> %s\n", (int)getpid(), call, path, strerror(e));
			fclose(f);
		}
		inside = 0;
	}
	return e;
}

#define REAL(name) static __typeof__(name) *real; if (real == NULL) real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int fd_fault(const char *call, int fd)
{
	char path[4096];

	if (!wanted(call))
		return 0;
	fd_path(fd, path, sizeof(path));
	return decide(call, path);
}

static int open_fault(int dirfd, const char *name)
{
	char path[4096];

	if (!wanted("openat"))
		return 0;
	at_path(dirfd, name, path, sizeof(path));
	return decide("openat", path);
}

int openat(int dirfd, const char *name, int flags, ...)
{
	mode_t mode = 0;
	int e;
	REAL(openat);

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((e = open_fault(dirfd, name)) != 0) {
		errno = e;
		return -1;
	}
	return real(dirfd, name, flags, mode);
}

int openat64(int dirfd, const char *name, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return openat(dirfd, name, flags, mode);
}

int __openat_2(int dirfd, const char *name, int flags);
int __openat_2(int dirfd, const char *name, int flags)
{
	return openat(dirfd, name, flags, 0);
}

int __openat64_2(int dirfd, const char *name, int flags);
int __openat64_2(int dirfd, const char *name, int flags)
{
	return openat(dirfd, name, flags, 0);
}

int renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	char path[4096];
	int e;
	REAL(renameat);

	if (wanted("renameat")) {
		at_path(newdirfd, newname, path, sizeof(path));
		if ((e = decide("renameat", path)) != 0) {
			errno = e;
			return -1;
		}
	}
	return real(olddirfd, oldname, newdirfd, newname);
}

int renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname, unsigned int flags)
{
	char path[4096];
	int e;
	REAL(renameat2);

	if (wanted("renameat")) {   /* one rule for both */
		at_path(newdirfd, newname, path, sizeof(path));
		if ((e = decide("renameat", path)) != 0) {
			errno = e;
			return -1;
		}
	}
	return real(olddirfd, oldname, newdirfd, newname, flags);
}

int fsync(int fd)
{
	int e;
	REAL(fsync);

	if ((e = fd_fault("fsync", fd)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd);
}

int fdatasync(int fd)
{
	int e;
	REAL(fdatasync);

	if ((e = fd_fault("fdatasync", fd)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd);
}

ssize_t read(int fd, void *buf, size_t n)
{
	int e;
	REAL(read);

	if ((e = fd_fault("read", fd)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int e;
	REAL(write);

	if ((e = fd_fault("write", fd)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	int e;
	REAL(pread);

	if ((e = fd_fault("pread", fd)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int e;
	REAL(pwrite);

	if ((e = fd_fault("pwrite", fd)) != 0) {
		errno = e;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}
