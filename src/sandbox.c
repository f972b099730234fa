/* sandbox.c - drops a network-facing child to its own user, closes what it
 * inherited, and loads a seccomp allow-list (after OpenSSH's sandbox-seccomp). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <seccomp.h>

#include "plumb/sandbox.h"
#include "banned.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)   /* ABI 3; Debian 12's headers stop at 2 */
#endif

int plumb_sandbox_lookup(struct plumb_sandbox_user *out, const char *name, struct plumb_err *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
	if (name == NULL || name[0] == '\0')
		return 0;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return 0;
	if (pw.pw_uid == 0 || pw.pw_gid == 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "user '%s' is root (uid %u, gid %u): it confines nothing",
				     name, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
	out->found = 1;
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	return 0;
}

/* Whether u may search the directory st describes (owner, group, others;
 * u has no supplementary groups once dropped; ACLs are not read). */
static int may_search(const struct plumb_sandbox_user *u, const struct stat *st)
{
	if (st->st_uid == u->uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == u->gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

int plumb_sandbox_can_reach(const struct plumb_sandbox_user *u, const char *path)
{
	char p[4096];
	struct stat st;

	if (!u->found)
		return 1;
	if (path[0] != '/' || snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return 0;
	/* Each prefix of path in turn: /a, /a/b, ... path itself. */
	for (char *q = p + 1;; q++) {
		char c = *q;

		if (c != '/' && c != '\0')
			continue;
		*q = '\0';
		if (stat(p, &st) != 0)
			return c == '\0';            /* path itself may not exist yet */
		if (S_ISDIR(st.st_mode) && !may_search(u, &st))
			return 0;
		if (c == '\0')
			return 1;
		*q = c;
	}
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Closes every fd above 2 but keep. */
static int close_others(const int *keep, size_t nkeep, struct plumb_err *err)
{
	int v[16];
	unsigned lo = 3;

	if (nkeep > sizeof(v) / sizeof(v[0]))
		return plumb_err_set(err, PLUMB_E_INTERNAL, "too many fds to keep");
	if (nkeep > 0) {
		memcpy(v, keep, nkeep * sizeof(*v));
		qsort(v, nkeep, sizeof(*v), cmp_int);
	}
	for (size_t i = 0; i < nkeep; i++) {
		if (v[i] < (int)lo)
			continue;
		if ((unsigned)v[i] > lo && syscall(SYS_close_range, lo, (unsigned)v[i] - 1, 0) != 0)
			return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot close inherited fds");
		lo = (unsigned)v[i] + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot close inherited fds");
	return 0;
}

static int drop_user(const struct plumb_sandbox_user *u, struct plumb_err *err)
{
	uid_t r, e, s;

	if (setgroups(0, NULL) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 || setresuid(u->uid, u->uid, u->uid) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot become user '%s'", u->name);
	/* OpenSSH's permanently_set_uid() check: root must be gone for good. */
	if (setuid(0) == 0 || getresuid(&r, &e, &s) != 0 || r != u->uid || e != u->uid || s != u->uid)
		return plumb_err_set(err, PLUMB_E_INTERNAL, "the drop to user '%s' can be undone", u->name);
	return 0;
}

/* What libgit2 (smart http/ssh, mbedTLS, pack indexing) and libcurl need,
 * with glibc's resolver (files, DNS over UDP/TCP, netlink for AI_ADDRCONFIG). */
static const char *const allowed[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close",
	"open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "fstatfs", "statfs",
	"access", "faccessat", "faccessat2", "getdents64", "getdents", "readlink", "readlinkat",
	"mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir",
	"link", "linkat", "fchmod", "fchown", "fsync", "fdatasync", "ftruncate", "syncfs",
	"fgetxattr", "fsetxattr", "fremovexattr", "flistxattr",
	"utimensat", "utime", "utimes", "umask", "getcwd", "chdir", "fchdir", "fcntl", "flock",
	"dup", "dup2", "dup3", "pipe", "pipe2", "eventfd2",
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	"futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "sched_yield",
	"sched_getaffinity", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "getrandom", "uname", "sysinfo", "prlimit64", "getrlimit",
	"connect", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "bind",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown", "socketpair",
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"tgkill", "exit", "exit_group", "madvise", "membarrier",
};

/* By path, and Landlock does not govern them: allowed only to a process
 * that is not root, which can change nothing but its own files with them. */
static const char *const unprivileged_only[] = {"chmod", "fchmodat"};

/* Only an attacker makes these: the process dies. */
static const char *const fatal[] = {
	"execve", "execveat",
#if !defined(__SANITIZE_ADDRESS__)
	/* A sanitizer build's LeakSanitizer stops the world at exit with a
	 * ptrace-ing clone: there (tests only) they are allowed, below. */
	"ptrace", "process_vm_readv", "process_vm_writev",
#endif
};

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *a)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;      /* not on this architecture */
	return seccomp_rule_add_array(ctx, action, nr, n, a);
}

static int load_filter(enum plumb_sandbox_profile profile, pid_t child, struct plumb_err *err)
{
	static const int domains[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
	scmp_filter_ctx ctx;
	int r = 0;

	(void)profile;   /* one list serves all today; kept apart so either can narrow */
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "cannot set up seccomp");
	for (size_t i = 0; r == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		r = add_rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
	for (size_t i = 0; r == 0 && geteuid() != 0 && i < sizeof(unprivileged_only) / sizeof(unprivileged_only[0]); i++)
		r = add_rule(ctx, SCMP_ACT_ALLOW, unprivileged_only[i], 0, NULL);
	for (size_t i = 0; r == 0 && i < sizeof(fatal) / sizeof(fatal[0]); i++)
		r = add_rule(ctx, SCMP_ACT_KILL_PROCESS, fatal[i], 0, NULL);
	for (size_t i = 0; r == 0 && i < sizeof(domains) / sizeof(domains[0]); i++) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i]);

		r = add_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &a);
	}
	if (r == 0) {
		/* Threads (libcurl's resolver), never new processes: clone only with
		 * CLONE_THREAD; clone3 says ENOSYS so glibc falls back to clone,
		 * whose flags a filter can see. */
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);

		r = add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &a);
	}
	if (r == 0)
		r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	if (r == 0 && child > 0) {
		/* The spool keeper may signal and reap its network child, and no
		 * other process. */
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)child);

		if ((r = add_rule(ctx, SCMP_ACT_ALLOW, "kill", 1, &a)) == 0)
			r = add_rule(ctx, SCMP_ACT_ALLOW, "wait4", 1, &a);
	}
#if defined(__SANITIZE_ADDRESS__)
	for (size_t i = 0; r == 0 && i < 4; i++)
		r = add_rule(ctx, SCMP_ACT_ALLOW, (const char *const[]){"prctl", "wait4", "waitid", "kill"}[i], 0, NULL);
	if (r == 0 && (r = add_rule(ctx, SCMP_ACT_ALLOW, "ptrace", 0, NULL)) == 0) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);

		r = add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &a);
	}
#endif
	if (r == 0) {
		struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
		struct scmp_arg_cmp b = SCMP_A1(SCMP_CMP_EQ, TCGETS);

		if ((r = add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &a)) == 0)
			r = add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &b);
	}
	if (r == 0 && (r = seccomp_load(ctx)) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, -r, "cannot load the seccomp filter");
	else if (r != 0)
		r = plumb_err_errno(err, PLUMB_E_INTERNAL, -r, "cannot build the seccomp filter");
	seccomp_release(ctx);
	return r;
}

int plumb_sandbox_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v > 0 ? (int)v : 0;
}

/* What a child reads outside its own directory: libraries (NSS modules are loaded
 * at the first name lookup), the resolver's files; CA bundles below. */
static const char *const fetch_reads[] = {
	"/usr", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
	"/etc/gai.conf", "/etc/host.conf", "/etc/services",
	"/dev/null", "/dev/urandom", "/sys/devices/system/cpu", "/proc/sys/vm/overcommit_memory",
#if defined(__SANITIZE_ADDRESS__)
	"/proc",     /* LeakSanitizer reads /proc/PID/task and maps at exit (test builds only) */
#endif
};

/* CA bundles: for TLS only. A fetch without TLS reads OpenSSL's
 * configuration alone (Debian's /usr/lib/ssl/openssl.cnf points there):
 * libgit2 then initialises after the confinement, and its eager parse of
 * the default bundle (3.5 ms of every poll) finds nothing it may open. */
static const char *const tls_reads[] = {"/etc/ssl", "/etc/ca-certificates", "/etc/pki"};
static const char *const plain_reads[] = {"/etc/ssl/openssl.cnf"};

static int landlock_allow(int rs, const char *path, uint64_t dir_rights, struct plumb_err *err)
{
	const uint64_t file_rights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_EXECUTE;
	struct landlock_path_beneath_attr pb = {0};
	struct stat st;
	int fd, r = 0;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return 0;          /* not on this host: nothing to allow */
	pb.parent_fd = fd;
	pb.allowed_access = dir_rights;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= file_rights;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "landlock: cannot allow '%s'", path);
	close(fd);
	return r;
}

/* Landlock where the kernel has it: the cache (the working directory) read
 * and written unless !own_dir, extra_ro and the list above read, the rest
 * of the file system (the managed root, state_dir, /etc/shadow) out of reach. */
static int landlock_enter(const char *const *extra_ro, int own_dir, int tls, struct plumb_err *err)
{
	int abi = plumb_sandbox_landlock_abi(), rs, r = 0;
	uint64_t all = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
		       LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		       LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
		       LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		       LANDLOCK_ACCESS_FS_MAKE_SYM;
	const uint64_t ro = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	struct landlock_ruleset_attr attr = {0};

	if (abi < 1)
		return 0;          /* an older kernel or a container without it: the rest still holds */
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	attr.handled_access_fs = all;
	if ((rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr.handled_access_fs), 0)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "landlock: cannot create a ruleset");
	if (own_dir)
		r = landlock_allow(rs, ".", all, err);
	for (size_t i = 0; r == 0 && i < sizeof(fetch_reads) / sizeof(fetch_reads[0]); i++)
		r = landlock_allow(rs, fetch_reads[i], ro, err);
	for (size_t i = 0; r == 0 && tls && i < sizeof(tls_reads) / sizeof(tls_reads[0]); i++)
		r = landlock_allow(rs, tls_reads[i], ro, err);
	for (size_t i = 0; r == 0 && !tls && i < sizeof(plain_reads) / sizeof(plain_reads[0]); i++)
		r = landlock_allow(rs, plain_reads[i], ro, err);
	for (size_t i = 0; r == 0 && extra_ro != NULL && extra_ro[i] != NULL; i++)
		r = landlock_allow(rs, extra_ro[i], ro, err);
	if (r == 0 && syscall(SYS_landlock_restrict_self, rs, 0) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "landlock: cannot restrict the process");
	close(rs);
	return r;
}

static int enter(const struct plumb_sandbox_user *u, enum plumb_sandbox_profile profile, const int *keep,
		 size_t nkeep, const char *const *extra_ro, pid_t child, struct plumb_err *err)
{
	int r;

	if ((r = close_others(keep, nkeep, err)) != 0)
		return r;
	if (u->found && (r = drop_user(u, err)) != 0)
		return r;
	/* Not dumpable: no other process of that user may ptrace the child or
	 * read its memory (the TLS session, a token). */
#if !defined(__SANITIZE_ADDRESS__)
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   /* (LeakSanitizer must ptrace itself at exit) */
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot set no_new_privs");
	if ((r = landlock_enter(extra_ro, profile != PLUMB_SANDBOX_SEND, profile != PLUMB_SANDBOX_FETCH_PLAIN, err)) != 0)
		return r;
	return load_filter(profile, child, err);
}

int plumb_sandbox_enter(const struct plumb_sandbox_user *u, enum plumb_sandbox_profile profile, const int *keep,
			size_t nkeep, const char *const *extra_ro, struct plumb_err *err)
{
	return enter(u, profile, keep, nkeep, extra_ro, 0, err);
}

int plumb_sandbox_enter_spool(pid_t child, const int *keep, size_t nkeep, struct plumb_err *err)
{
	struct plumb_sandbox_user root = {0};

	snprintf(root.name, sizeof(root.name), "root");
	return enter(&root, PLUMB_SANDBOX_SPOOL, keep, nkeep, NULL, child, err);
}

void plumb_sandbox_describe(char *out, size_t n, const struct plumb_sandbox_user *u, const char *wanted)
{
	int ll = plumb_sandbox_landlock_abi() > 0;

	if (u->found)
		snprintf(out, n, "user %s, no_new_privs, seccomp%s", u->name, ll ? ", landlock" : " (no landlock in this kernel)");
	else
		snprintf(out, n, "root (user '%s' does not exist), no_new_privs, seccomp%s: weaker confinement",
			 wanted ? wanted : "", ll ? ", landlock" : "");
}
