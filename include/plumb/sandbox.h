/* sandbox.h - confinement of plumb's network-facing children (the git
 * fetcher, plumb-send): a dedicated user, no fds of the parent, no new
 * privileges, a seccomp allow-list. docs/PRIVSEP.md tells the whole story. */
#ifndef PLUMB_SANDBOX_H
#define PLUMB_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "plumb/error.h"

/* The user a child runs as, looked up by the parent before it forks (NSS
 * is not safe to call between fork and exec in a threaded parent, and
 * may need files the child can no longer read). */
struct plumb_sandbox_user {
	int found;                 /* 0: the user does not exist; the child stays root */
	uid_t uid;
	gid_t gid;
	char name[64];
};

enum plumb_sandbox_profile {
	PLUMB_SANDBOX_FETCH,       /* libgit2: files in its cache, sockets, DNS, CA bundles */
	PLUMB_SANDBOX_FETCH_PLAIN, /* the same over ssh, git:// or a local path: no CA bundle readable */
	PLUMB_SANDBOX_SEND,        /* libcurl: sockets, DNS, its resolver threads; no directory of its own */
	PLUMB_SANDBOX_SPOOL,       /* plumb-send's spool keeper: root, its spool (the working directory) only */
};

/* Looks name up in the host's user database. Returns 0 (out->found says
 * whether it exists), or PLUMB_E_INVALID for a user that is root (uid or
 * gid 0): confining to root confines nothing. */
int plumb_sandbox_lookup(struct plumb_sandbox_user *out, const char *name, struct plumb_err *err);

/* Confines the calling process, irreversibly, in this order: closes every
 * fd but 0, 1, 2 and the nkeep fds in keep; drops to u (supplementary
 * groups cleared, real/effective/saved ids; checked that root cannot be
 * regained) when u->found; sets PR_SET_NO_NEW_PRIVS; Landlock where the
 * kernel has it (the working directory read and written; libraries,
 * resolver files, CA bundles (not for PLUMB_SANDBOX_FETCH_PLAIN: OpenSSL's
 * configuration only) and the NULL-ended extra_ro read; nothing
 * else, even for root); loads profile's seccomp filter. A syscall
 * outside the allow-list fails with EPERM; a few that only an attacker
 * would make (execve, ptrace, process_vm_*) kill the process. Returns 0,
 * or a negative code: the caller must then exit, never go on unconfined. */
int plumb_sandbox_enter(const struct plumb_sandbox_user *u, enum plumb_sandbox_profile profile, const int *keep,
			size_t nkeep, const char *const *extra_ro, struct plumb_err *err);

/* plumb-send's spool keeper (docs/PRIVSEP.md): stays root, keeps its fds
 * in keep, no_new_privs, Landlock (the working directory, the spool, read
 * and written; libraries read; nothing else), the seccomp allow-list plus
 * kill() and wait4() of child alone (its network child). Returns 0 or a
 * negative code: the caller must then exit. */
int plumb_sandbox_enter_spool(pid_t child, const int *keep, size_t nkeep, struct plumb_err *err);

/* Whether u can reach path: every directory on the way, path included
 * when it is a directory, searchable by u. 1 when u is not found (root). */
int plumb_sandbox_can_reach(const struct plumb_sandbox_user *u, const char *path);

/* The kernel's Landlock ABI version, 0 without Landlock. */
int plumb_sandbox_landlock_abi(void);

/* One line for status and reports: how the children are confined, e.g.
 * "user plumb, no_new_privs, seccomp" or "root (user 'plumb' does not
 * exist), no_new_privs, seccomp: weaker confinement". */
void plumb_sandbox_describe(char *out, size_t n, const struct plumb_sandbox_user *u, const char *wanted);

#endif
