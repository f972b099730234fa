/* gitsrc.c - fetch (in a watchdogged child), verification of the signed tip,
 * and reading a verified commit's tree by object id.
 * The cache is plumb's own bare repository; no user or system git config,
 * no instead-of rewriting, no redirects, no tags beyond the one ref asked. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <openssl/evp.h>

#include "plumb/gitobj.h"
#include "plumb/gitsrc.h"
#include "plumb/buf.h"
#include "plumb/log.h"
#include "plumb/sandbox.h"
#include "plumb/signers.h"
#include "plumb/source.h"
#include "plumb/sshsig.h"
#include "plumb/state.h"
#include "banned.h"

static void cache_path(char *out, size_t n, const char *state_dir)
{
	snprintf(out, n, "%s/%s", state_dir, PLUMB_GIT_CACHE);
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* Initializes libgit2 once per process and never shuts it down: every
 * init from zero re-reads the CA bundle (mbedTLS). A fetch child inherits it. */
static void git_up(void)
{
	static int up;

	if (!up) {
		git_libgit2_init();
		/* Keep whole trees cached (the default skips trees over 4 KiB):
		 * a baseline's paths are looked up one by one, many per tree. */
		git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)(8 << 20));
		/* The cache belongs to the fetch user and a local remote to anyone:
		 * plumb trusts neither by owner but by signature, and runs nothing
		 * a repository's config names. Every object read is hash-checked
		 * (libgit2's default, said here so it stays so). */
		git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
		up = 1;
	}
}

/* Empties libgit2's config search paths: no system, global or XDG config. */
static void isolate(void)
{
	static const int levels[] = {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
				     GIT_CONFIG_LEVEL_PROGRAMDATA};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
}

/* --- fetch, in the child ------------------------------------------------- */

struct fetch_ctx {
	const struct plumb_git_opts *o;
	char err[512];
	int cred_tries;
	char *ssh_key;             /* source.ssh_key's text, read before the drop; NULL: by path */
};

static int cb_progress(const git_indexer_progress *st, void *payload)
{
	struct fetch_ctx *c = payload;

	if (st->received_bytes > c->o->max_bytes) {
		snprintf(c->err, sizeof(c->err), "fetch exceeded source.max_size (%llu bytes)",
			 (unsigned long long)c->o->max_bytes);
		return -1;
	}
	return 0;
}

static int cb_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	struct fetch_ctx *c = payload;
	char fp[PLUMB_FINGERPRINT_MAX];
	unsigned char b64[48];
	int n;

	(void)valid;
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return GIT_PASSTHROUGH;   /* TLS: keep libgit2's own validation */
	if (c->o->ssh_host_key == NULL) {
		snprintf(c->err, sizeof(c->err), "ssh host '%s': no pinned host key (set source.ssh_host_key)", host);
		return -1;
	}
	if (!(((git_cert_hostkey *)cert)->type & GIT_CERT_SSH_SHA256)) {
		snprintf(c->err, sizeof(c->err), "ssh host '%s' offered no SHA-256 host key hash", host);
		return -1;
	}
	n = EVP_EncodeBlock(b64, ((git_cert_hostkey *)cert)->hash_sha256, 32);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(fp, sizeof(fp), "SHA256:%.*s", n, (const char *)b64);
	if (strcmp(fp, c->o->ssh_host_key) != 0) {
		snprintf(c->err, sizeof(c->err), "ssh host '%s' key %s is not the pinned %s", host, fp,
			 c->o->ssh_host_key);
		return -1;
	}
	return 0;
}

static int cb_credentials(git_credential **out, const char *url, const char *user, unsigned int allowed,
			  void *payload)
{
	struct fetch_ctx *c = payload;

	(void)url;
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || c->o->ssh_key == NULL || c->cred_tries++ > 0) {
		snprintf(c->err, sizeof(c->err), "the git server asked for credentials that plumb does not have%s",
			 c->o->ssh_key ? " (source.ssh_key was refused)" : "");
		return -1;
	}
	if (c->ssh_key != NULL)
		return git_credential_ssh_key_memory_new(out, user ? user : "git", NULL, c->ssh_key, NULL);
	return git_credential_ssh_key_new(out, user ? user : "git", NULL, c->o->ssh_key, NULL);
}

static void clear_stale(const char *cache);

/* child_fetch's result when the fetch worked but the remote lacks the ref;
 * also the child's exit status for it. */
#define FETCH_NO_REF 3
/* The child's exit status when the cache itself failed (a missing or
 * damaged object, pack or ref on our side): the parent discards it. */
#define FETCH_CORRUPT 4

/* Whether libgit2's last error is about the local object store rather
 * than the network or the remote's data. */
static int local_damage(void)
{
	const git_error *e = git_error_last();

	return e != NULL && (e->klass == GIT_ERROR_ODB || e->klass == GIT_ERROR_ZLIB || e->klass == GIT_ERROR_OBJECT ||
			     e->klass == GIT_ERROR_REPOSITORY || e->klass == GIT_ERROR_REFERENCE);
}

/* Reads a secret the unprivileged child could not open itself. */
static char *read_secret(const char *path)
{
	struct plumb_buf b;
	struct plumb_err e;
	char *s = NULL;

	if (plumb_buf_load_file(&b, path, 64 << 10, "source.ssh_key", &e) != 0)
		return NULL;
	if (b.len > 0 && memchr(b.data, '\0', b.len) == NULL && (s = malloc(b.len + 1)) != NULL) {
		memcpy(s, b.data, b.len);
		s[b.len] = '\0';
	}
	explicit_bzero(b.data, b.len);
	plumb_buf_release(&b);
	return s;
}

/* A remote on this host (a path or file://): its directory, which the
 * fetcher must read. Returns 1 and fills out, or 0 for a network URL. */
static int local_remote(const char *url, char *out, size_t n)
{
	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	else if (strstr(url, "://") != NULL)
		return 0;
	snprintf(out, n, "%s", url);
	return 1;
}

static int child_fetch(const struct plumb_git_opts *o, const char *cache, int msgfd,
		       const struct plumb_sandbox_user *u, char *err, size_t errlen)
{
	git_remote_create_options copts = GIT_REMOTE_CREATE_OPTIONS_INIT;
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	struct fetch_ctx ctx = {o, "", 0, NULL};
	char remote_dir[4096];
	const char *extra[2] = {remote_dir, NULL};
	struct plumb_err e;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_reference *prev = NULL;
	char spec[1024];
	char *specs[1] = {spec};
	git_strarray refspecs = {specs, 1};
	int r = -1;

	isolate();
	/* What needs root's eyes is read first: the CA bundle (parsed now by
	 * mbedTLS) and the ssh key. Then the child confines itself for good. */
	if (o->ca_file && git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, o->ca_file, NULL) != 0) {
		snprintf(err, errlen, "cannot use source.ca_file '%.200s': %.200s", o->ca_file, git_msg());
		goto out;
	}
	if (o->ssh_key != NULL)
		ctx.ssh_key = read_secret(o->ssh_key);
	if (chdir(cache) != 0) {
		snprintf(err, errlen, "cannot enter the cache '%.200s': %s", cache, strerror(errno));
		goto out;
	}
	if (plumb_sandbox_enter(u, PLUMB_SANDBOX_FETCH, &msgfd, 1, local_remote(o->url, remote_dir, sizeof(remote_dir)) ?
				extra : NULL, &e) != 0) {
		snprintf(err, errlen, "cannot confine the fetch process: %.400s", e.msg);
		goto out;
	}
	clear_stale(".");
	if (git_repository_open_bare(&repo, cache) != 0 && git_repository_init(&repo, cache, 1) != 0) {
		snprintf(err, errlen, "cannot create the cache repository '%.200s': %.200s", cache, git_msg());
		r = FETCH_CORRUPT;
		goto out;
	}
	copts.repository = repo;
	copts.name = NULL;
	copts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, o->url, &copts) != 0) {
		snprintf(err, errlen, "bad source.url '%.200s': %.200s", o->url, git_msg());
		goto out;
	}
	/* Every fetch starts without the fetched ref: a ref the remote no longer
	 * has must not leave the previous tip in place (an agent frozen with no
	 * refusal), and a ref left at a tag of a tree must not wedge the next
	 * fetch (libgit2 1.5's local transport walks the cache's refs). The
	 * anchor stays reachable under PLUMB_GIT_ANCHOR_REF. */
	if (git_reference_lookup(&prev, repo, PLUMB_GIT_FETCHED_REF) == 0) {
		/* The previous tip, as a commit, stays as a negotiation hint (never
		 * read for trust): without it a host with no anchor (audit mode)
		 * would download the whole history for every new tip over https. */
		git_object *c = NULL;
		git_reference *hint = NULL;

		if (git_reference_peel(&c, prev, GIT_OBJECT_COMMIT) == 0)
			(void)git_reference_create(&hint, repo, PLUMB_GIT_PREVIOUS_REF, git_object_id(c), 1, NULL);
		git_reference_free(hint);
		git_object_free(c);
		git_reference_free(prev);
	}
	r = git_reference_remove(repo, PLUMB_GIT_FETCHED_REF);
	if (r != 0 && r != GIT_ENOTFOUND) {
		r = -1;
		snprintf(err, errlen, "cannot clear '%s' in the cache: %.200s", PLUMB_GIT_FETCHED_REF, git_msg());
		goto out;
	}
	r = -1;
	snprintf(spec, sizeof(spec), "+%s:%s", o->ref, PLUMB_GIT_FETCHED_REF);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	fo.update_fetchhead = 0;
	fo.callbacks.transfer_progress = cb_progress;
	fo.callbacks.certificate_check = cb_certificate;
	fo.callbacks.credentials = cb_credentials;
	fo.callbacks.payload = &ctx;
	if (git_remote_fetch(remote, &refspecs, &fo, NULL) != 0) {
		snprintf(err, errlen, "%s", ctx.err[0] ? ctx.err : git_msg());
		if (!ctx.err[0] && local_damage())
			r = FETCH_CORRUPT;
		goto out;
	}
	if (git_reference_name_to_id(&(git_oid){0}, repo, PLUMB_GIT_FETCHED_REF) != 0) {
		snprintf(err, errlen, "the remote has no %.200s", o->ref);
		r = FETCH_NO_REF;
		goto out;
	}
	r = 0;
out:
	if (ctx.ssh_key != NULL) {
		explicit_bzero(ctx.ssh_key, strlen(ctx.ssh_key));
		free(ctx.ssh_key);
	}
	git_remote_free(remote);
	git_repository_free(repo);
	return r;
}

/* A fetch killed by the watchdog can leave a ref lock and temporary packs;
 * the caller holds the state lock, so no other fetch owns them. */
static void clear_stale(const char *cache)
{
	char p[4200];
	struct dirent *de;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s.lock", cache, PLUMB_GIT_FETCHED_REF);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/%s.lock", cache, PLUMB_GIT_ANCHOR_REF);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/%s.lock", cache, PLUMB_GIT_PREVIOUS_REF);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/objects/pack", cache);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "pack_git2_", 10) == 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* nftw has no payload argument. */
static uid_t prepare_uid;
static gid_t prepare_gid;

static int chown_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return lchown(path, prepare_uid, prepare_gid) != 0 ? -1 : 0;
}

/* The cache belongs to the fetch user: created here (state_dir is root's),
 * and handed over whole when it was root's (an older plumb, or a user
 * created since). Never the other way: what that user wrote stays its own. */
static int prepare_cache(int dirfd, const char *cache, const struct plumb_sandbox_user *u, struct plumb_err *err)
{
	struct stat st;

	if (mkdirat(dirfd, PLUMB_GIT_CACHE, 0700) != 0 && errno != EEXIST)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create '%s'", cache);
	if (fstatat(dirfd, PLUMB_GIT_CACHE, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot stat '%s'", cache);
	if (!S_ISDIR(st.st_mode))
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' is not a directory", cache);
	if (!u->found)
		return 0;       /* root's fetch writes wherever the tree's owner is */
	if (st.st_uid == u->uid && st.st_gid == u->gid)
		return 0;
	if (st.st_uid != 0)
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' belongs to uid %u, neither root nor user '%s'", cache,
				     (unsigned)st.st_uid, u->name);
	prepare_uid = u->uid;
	prepare_gid = u->gid;
	if (nftw(cache, chown_one, 16, FTW_PHYS) != 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot hand '%s' over to user '%s'", cache, u->name);
	return 0;
}

/* The fetch in flight: a child process, the read end of its message pipe
 * (EOF when it is done) and the cache lock it holds for the child. */
struct plumb_git_fetch {
	pid_t pid;
	int fd;                    /* O_NONBLOCK read end; -1 once closed */
	int lockfd;                /* state_dir/PLUMB_GIT_CACHE_LOCK, held until finish */
	int eof;
	size_t got;
	char msg[600];
	char url[512];
	uint64_t timeout_s;
};

static void fetch_free(struct plumb_git_fetch *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->lockfd >= 0)
		close(f->lockfd);   /* releases the flock */
	free(f);
}

int plumb_git_fetch_start(struct plumb_git_fetch **out, const struct plumb_git_opts *o, const char *state_dir,
			  int lock_wait_s, struct plumb_err *err)
{
	struct plumb_git_fetch *f = NULL;
	struct plumb_sandbox_user u;
	char cache[4096], shown[4200];
	int fds[2] = {-1, -1}, dirfd = -1, r;
	pid_t pid;

	*out = NULL;
	cache_path(cache, sizeof(cache), state_dir);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	f->fd = f->lockfd = -1;
	f->timeout_s = o->timeout_s;
	snprintf(f->url, sizeof(f->url), "%s", o->url);
	if ((dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", state_dir);
		goto out;
	}
	/* One writer of the cache at a time (plumb apply beside plumbd's fetch
	 * in flight), whatever holds the state lock. */
	snprintf(shown, sizeof(shown), "%s/%s", state_dir, PLUMB_GIT_CACHE_LOCK);
	if ((r = plumb_lock_file(&f->lockfd, dirfd, PLUMB_GIT_CACHE_LOCK, shown, lock_wait_s, NULL, err)) != 0)
		goto out;
	if ((r = plumb_sandbox_lookup(&u, o->user, err)) != 0)
		goto out;
	{
		static int warned;      /* once per process: plumbd fetches every poll */
		char remote[4096];
		const char *closed = NULL;

		if (u.found && !plumb_sandbox_can_reach(&u, cache))
			closed = cache;
		else if (u.found && local_remote(o->url, remote, sizeof(remote)) && !plumb_sandbox_can_reach(&u, remote))
			closed = remote;
		if (closed != NULL) {
			/* Never a failure to run: confined as far as the paths allow. */
			if (!warned++)
				plumb_log(PLUMB_LOG_WARN, "user '%s' cannot reach '%s' (a directory on the way is closed "
					  "to it): the git fetch runs as root (no_new_privs, seccomp and landlock still "
					  "apply): weaker confinement", u.name, closed);
			u.found = 0;
		} else if (!u.found && !warned++) {
			plumb_log(PLUMB_LOG_WARN, "user '%s' does not exist: the git fetch runs as root (no_new_privs, "
				  "seccomp and landlock still apply): weaker confinement; create it (adduser --system %s)",
				  o->user ? o->user : "", o->user ? o->user : "plumb");
		}
	}
	if ((r = prepare_cache(dirfd, cache, &u, err)) != 0)
		goto out;
	git_up();   /* before fork: the child inherits an initialized libgit2 */
	if (pipe2(fds, O_CLOEXEC) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a pipe");
		goto out;
	}
	if ((pid = fork()) < 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fork the fetch process");
		goto out;
	}
	if (pid == 0) {
		char cerr[512] = "";
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);   /* plumbd blocks signals for its signalfd */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		close(f->lockfd);   /* the parent holds the cache lock for us */
		r = child_fetch(o, cache, fds[1], &u, cerr, sizeof(cerr));
		if (r != 0)
			(void)!write(fds[1], cerr, strlen(cerr));
		_exit(r == 0 ? 0 : r == FETCH_NO_REF || r == FETCH_CORRUPT ? r : 1);
	}
	close(fds[1]);
	fds[1] = -1;
	(void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
	f->pid = pid;
	f->fd = fds[0];
	fds[0] = -1;
	*out = f;
	f = NULL;
	r = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (dirfd >= 0)
		close(dirfd);
	fetch_free(f);
	return r;
}

int plumb_git_fetch_fd(const struct plumb_git_fetch *f)
{
	return f->fd;
}

int plumb_git_fetch_pump(struct plumb_git_fetch *f)
{
	while (!f->eof) {
		char scratch[256];
		ssize_t n;

		if (f->got < sizeof(f->msg) - 1)
			n = read(f->fd, f->msg + f->got, sizeof(f->msg) - 1 - f->got);
		else
			n = read(f->fd, scratch, sizeof(scratch));   /* past the cap: drained, not kept */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			f->eof = 1;
			break;
		}
		if (f->got < sizeof(f->msg) - 1)
			f->got += (size_t)n;
	}
	return 1;
}

int plumb_git_fetch_finish(struct plumb_git_fetch *f, struct plumb_err *err)
{
	const char *msg = f->msg;
	int status = 0, r;

	f->msg[f->got] = '\0';
	/* The message pipe is at EOF: the child has exited or is exiting. */
	while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		r = 0;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == FETCH_NO_REF)
		r = plumb_err_set(err, PLUMB_E_NOTFOUND, "%s", msg[0] ? msg : "the remote has no such ref");
	else if (WIFEXITED(status) && WEXITSTATUS(status) == FETCH_CORRUPT)
		r = plumb_err_set(err, PLUMB_E_CORRUPT, "fetch from '%s' failed on the cache's side (damaged): %s", f->url,
				  msg[0] ? msg : "no reason given");
	else if (WIFSIGNALED(status))
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' died of signal %d", f->url, WTERMSIG(status));
	else
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' failed: %s", f->url, msg[0] ? msg : "no reason given");
	fetch_free(f);
	return r;
}

int plumb_git_fetch_abort(struct plumb_git_fetch *f, int timed_out, struct plumb_err *err)
{
	int r = 0;

	if (f == NULL)
		return 0;
	kill(f->pid, SIGKILL);
	while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (err != NULL && timed_out)
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' timed out after %llu s", f->url,
				  (unsigned long long)f->timeout_s);
	else if (err != NULL)
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' cancelled", f->url);
	fetch_free(f);
	return r;
}

int plumb_git_fetch(const struct plumb_git_opts *o, const char *state_dir, struct plumb_err *err)
{
	struct plumb_git_fetch *f = NULL;
	struct timespec start, now;
	int r;

	if ((r = plumb_git_fetch_start(&f, o, state_dir, (int)o->timeout_s, err)) != 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd[2] = {{f->fd, POLLIN, 0}, {o->cancel_fd, POLLIN, 0}};
		long left_ms;

		if (plumb_git_fetch_pump(f))
			return plumb_git_fetch_finish(f, err);
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = (long)o->timeout_s * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
						       (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left_ms <= 0)
			return plumb_git_fetch_abort(f, 1, err);
		if (poll(pfd, o->cancel_fd >= 0 ? 2 : 1, (int)(left_ms > 1000 ? 1000 : left_ms)) < 0 && errno != EINTR)
			return plumb_git_fetch_abort(f, 0, err);
		if (o->cancel_fd >= 0 && (pfd[1].revents & POLLIN))
			return plumb_git_fetch_abort(f, 0, err);
	}
}

/* --- verification, in the parent ----------------------------------------- */

static int open_cache(git_repository **repo, const char *state_dir, struct plumb_err *err)
{
	char cache[4096];

	cache_path(cache, sizeof(cache), state_dir);
	isolate();
	if (git_repository_open_bare(repo, cache) != 0)
		return plumb_err_set(err, PLUMB_E_CORRUPT, "cannot open the cache repository '%s': %s", cache, git_msg());
	return 0;
}

/* Checks sig over payload: an allowed signer, a valid signature. */
static int check_signature(struct plumb_git_tip *tip, const struct plumb_signed_obj *so,
			   const struct plumb_signers *signers, time_t now, const char *what, struct plumb_err *err)
{
	struct plumb_signer_match who;
	struct plumb_sshsig *sig = NULL;
	const unsigned char *key;
	struct plumb_err e;
	size_t keylen;
	int r;

	if ((r = plumb_sshsig_parse(&sig, so->signature, so->signature_len, &e)) != 0)
		return plumb_err_set(err, r == PLUMB_E_NOMEM ? r : PLUMB_E_INVALID, "%s: %s", what, e.msg);
	key = plumb_sshsig_key(sig, &keylen);
	if ((r = plumb_signers_match(signers, key, keylen, now, &who, &e)) != 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: %s", what, e.msg);
		goto out;
	}
	if ((r = plumb_sshsig_verify(sig, so->payload, so->payload_len, &e)) != 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: %s (content does not match its signature)", what, e.msg);
		goto out;
	}
	snprintf(tip->signer, sizeof(tip->signer), "%s", who.principal);
	plumb_sshkey_fingerprint(tip->fingerprint, key, keylen);
out:
	plumb_sshsig_free(sig);
	return r;
}

int plumb_git_verify_tip(struct plumb_git_tip *out, const char *state_dir, const char *ref,
			 const struct plumb_signers *signers, time_t now, struct plumb_err *err)
{
	const char *tagname = strncmp(ref, "refs/tags/", 10) == 0 ? ref + 10 : NULL;
	struct plumb_signed_obj so = {0};
	git_repository *repo = NULL;
	git_odb_object *obj = NULL;
	git_commit *commit = NULL;
	git_odb *odb = NULL;
	const unsigned char *data;
	char hex[GIT_OID_HEXSZ + 1];
	git_oid oid;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	git_up();
	if ((r = open_cache(&repo, state_dir, err)) != 0)
		goto out;
	if (git_reference_name_to_id(&oid, repo, PLUMB_GIT_FETCHED_REF) != 0 ||
	    git_repository_odb(&odb, repo) != 0 || git_odb_read(&obj, odb, &oid) != 0) {
		r = plumb_err_set(err, PLUMB_E_CORRUPT, "no fetched tip in the cache: %s", git_msg());
		goto out;
	}
	data = git_odb_object_data(obj);
	len = git_odb_object_size(obj);
	git_oid_tostr(hex, sizeof(hex), &oid);
	if (tagname != NULL) {
		char v[256];

		if (git_odb_object_type(obj) != GIT_OBJECT_TAG) {
			r = plumb_err_set(err, PLUMB_E_NOTFOUND, "'%s' is not an annotated tag; plumb needs a signed tag", ref);
			goto out;
		}
		if ((r = plumb_gitobj_tag_split(&so, data, len, err)) != 0)
			goto out;
		if (plumb_gitobj_header(v, sizeof(v), data, len, "tag") != 0 || strcmp(v, tagname) != 0) {
			r = plumb_err_set(err, PLUMB_E_INVALID, "tag %s is named '%s' inside, not '%s' (a tag moved under another name)",
					  hex, v, tagname);
			goto out;
		}
		if (plumb_gitobj_header(v, sizeof(v), data, len, "type") != 0 || strcmp(v, "commit") != 0 ||
		    plumb_gitobj_header(v, sizeof(v), data, len, "object") != 0 || git_oid_fromstr(&oid, v) != 0) {
			r = plumb_err_set(err, PLUMB_E_INVALID, "tag %s does not point at a commit", hex);
			goto out;
		}
		if ((r = check_signature(out, &so, signers, now, "tag", err)) != 0)
			goto out;
		if (git_commit_lookup(&commit, repo, &oid) != 0) {
			r = plumb_err_set(err, PLUMB_E_CORRUPT, "tag %s points at a commit missing from the cache: %s", hex,
					  git_msg());
			goto out;
		}
		git_oid_tostr(out->commit, sizeof(out->commit), &oid);
	} else {
		char what[64];

		if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
			r = plumb_err_set(err, PLUMB_E_INVALID, "'%s' does not point at a commit", ref);
			goto out;
		}
		snprintf(what, sizeof(what), "commit %.12s", hex);
		if ((r = plumb_gitobj_commit_split(&so, data, len, err)) != 0) {
			struct plumb_err e = *err;

			plumb_err_set(err, r, "%s: %s", what, e.msg);
			goto out;
		}
		if ((r = check_signature(out, &so, signers, now, what, err)) != 0)
			goto out;
		memcpy(out->commit, hex, sizeof(out->commit));
	}
	r = 0;
out:
	plumb_signed_obj_release(&so);
	git_commit_free(commit);
	git_odb_object_free(obj);
	git_odb_free(odb);
	git_repository_free(repo);
	return r;
}

int plumb_git_pin_anchor(const char *state_dir, const char *commit, struct plumb_err *err)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_oid oid;
	int r;

	git_up();
	if ((r = open_cache(&repo, state_dir, err)) != 0)
		return r;
	if (git_oid_fromstr(&oid, commit) != 0)
		r = plumb_err_set(err, PLUMB_E_INVALID, "bad commit id '%.40s'", commit);
	else if (git_reference_create(&ref, repo, PLUMB_GIT_ANCHOR_REF, &oid, 1, NULL) != 0)
		r = plumb_err_set(err, PLUMB_E_IO, "cannot keep the anchor %.12s as '%s': %s", commit,
				  PLUMB_GIT_ANCHOR_REF, git_msg());
	git_reference_free(ref);
	git_repository_free(repo);
	return r;
}

/* The first parent of the commit id, or *has = 0 for a root commit. */
static int first_parent(git_repository *repo, const git_oid *id, git_oid *out, int *has, struct plumb_err *err)
{
	git_commit *c = NULL;
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	if (git_commit_lookup(&c, repo, id) != 0)
		return plumb_err_set(err, local_damage() ? PLUMB_E_CORRUPT : PLUMB_E_INVALID,
				     "commit %.12s is missing from the cache or not a commit: %s", hex, git_msg());
	*has = git_commit_parentcount(c) > 0;
	if (*has)
		git_oid_cpy(out, git_commit_parent_id(c, 0));
	git_commit_free(c);
	return 0;
}

/* Verifies the signature of one commit by the allowed signers at now. */
static int check_commit_signed(git_odb *odb, const git_oid *id, const struct plumb_signers *signers, time_t now,
			       const char *what, struct plumb_err *err)
{
	struct plumb_signed_obj so = {0};
	struct plumb_git_tip scratch;
	git_odb_object *obj = NULL;
	int r;

	if (git_odb_read(&obj, odb, id) != 0) {
		r = plumb_err_set(err, PLUMB_E_CORRUPT, "%s: cannot be read from the cache: %s", what, git_msg());
		goto out;
	}
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: not a commit in the cache", what);
		goto out;
	}
	if ((r = plumb_gitobj_commit_split(&so, git_odb_object_data(obj), git_odb_object_size(obj), err)) != 0) {
		struct plumb_err e = *err;

		plumb_err_set(err, r, "%s: %s", what, e.msg);
		goto out;
	}
	r = check_signature(&scratch, &so, signers, now, what, err);
out:
	plumb_signed_obj_release(&so);
	git_odb_object_free(obj);
	return r;
}

int plumb_git_check_history(const char *state_dir, const char *commit, const char *anchor,
			    const struct plumb_signers *signers, time_t now, size_t max, struct plumb_err *err)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_oid *path = NULL, cur, stop;
	size_t n = 0;
	int r, more;

	git_up();
	if ((r = open_cache(&repo, state_dir, err)) != 0)
		return r;
	if (git_oid_fromstr(&cur, commit) != 0 || (anchor != NULL && git_oid_fromstr(&stop, anchor) != 0)) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "bad commit id");
		goto out;
	}
	if (git_repository_odb(&odb, repo) != 0) {
		r = plumb_err_set(err, PLUMB_E_IO, "cannot open the cache's objects: %s", git_msg());
		goto out;
	}
	if (max == 0 || (path = calloc(max, sizeof(*path))) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	/* The first-parent chain from the tip down to the anchor, at most max
	 * commits; without an anchor, the tip alone. */
	for (;;) {
		if (anchor != NULL && git_oid_equal(&cur, &stop))
			break;
		if (n == max) {
			/* Never advise a reset for what is a plain rollback. */
			git_oid tip;

			(void)git_oid_fromstr(&tip, commit);
			if (git_graph_descendant_of(repo, &tip, &stop) != 1)
				r = plumb_err_set(err, PLUMB_E_INVALID, "rollback: tip %.12s does not descend from the "
						  "last applied commit %.12s", commit, anchor);
			else
				r = plumb_err_set(err, PLUMB_E_TOOBIG, "tip %.12s is more than %zu first-parent commits "
						  "past the last applied commit %.12s; plumb checks no further (after "
						  "review, `plumb trust reset` re-anchors)", commit, max, anchor);
			goto out;
		}
		path[n++] = cur;
		if (anchor == NULL)
			break;
		if ((r = first_parent(repo, &cur, &cur, &more, err)) != 0)
			goto out;
		if (!more) {
			/* Reached a root: the anchor is not on the tip's first-parent chain. */
			git_oid tip;

			(void)git_oid_fromstr(&tip, commit);
			if (git_graph_descendant_of(repo, &tip, &stop) == 1)
				r = plumb_err_set(err, PLUMB_E_INVALID, "tip %.12s reaches the last applied commit %.12s "
						  "only through a merge's second parent: signed history follows first "
						  "parents", commit, anchor);
			else
				r = plumb_err_set(err, PLUMB_E_INVALID, "rollback: tip %.12s does not descend from the "
						  "last applied commit %.12s", commit, anchor);
			goto out;
		}
	}
	/* Every commit on it signed, judged oldest first: the refusal names the
	 * first commit that broke the chain. */
	for (size_t i = n; i-- > 0;) {
		char hex[GIT_OID_HEXSZ + 1], what[160];

		git_oid_tostr(hex, sizeof(hex), &path[i]);
		if (anchor != NULL)
			snprintf(what, sizeof(what), "commit %.12s (%zu of %zu after the last applied %.12s)", hex,
				 n - i, n, anchor);
		else
			snprintf(what, sizeof(what), "commit %.12s", hex);
		if ((r = check_commit_signed(odb, &path[i], signers, now, what, err)) != 0)
			goto out;
	}
	r = 0;
out:
	free(path);
	git_odb_free(odb);
	git_repository_free(repo);
	return r;
}

/* --- the verified store: what enforcement reads ------------------------- */

static void verified_path(char *out, size_t n, const char *state_dir)
{
	snprintf(out, n, "%s/%s", state_dir, PLUMB_GIT_VERIFIED);
}

static int open_verified(git_repository **repo, const char *state_dir, int create, struct plumb_err *err)
{
	char p[4096];

	verified_path(p, sizeof(p), state_dir);
	isolate();
	if (git_repository_open_bare(repo, p) == 0)
		return 0;
	if (create && git_repository_init(repo, p, 1) == 0) {
		(void)chmod(p, 0700);
		return 0;
	}
	return plumb_err_set(err, create ? PLUMB_E_IO : PLUMB_E_NOTFOUND, "cannot open the verified store '%s': %s", p,
			     git_msg());
}

struct copy_ctx {
	git_odb *from, *to;
	uint64_t bytes, max;
	unsigned depth;
	struct plumb_err *err;
};

/* Copies one object, its id recomputed over the bytes read (git_odb_write
 * hashes what it is given): what comes out must be what was asked for. */
static int copy_object(struct copy_ctx *c, const git_oid *id, git_object_t want)
{
	git_odb_object *obj = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	git_oid got;
	int r = 0;

	git_oid_tostr(hex, sizeof(hex), id);
	if (git_odb_read(&obj, c->from, id) != 0)
		return plumb_err_set(c->err, PLUMB_E_CORRUPT, "object %.12s cannot be read from the cache: %s", hex,
				     git_msg());
	if (git_odb_object_type(obj) != want) {
		r = plumb_err_set(c->err, PLUMB_E_INVALID, "object %.12s is a %s, where its parent says %s", hex,
				  git_object_type2string(git_odb_object_type(obj)), git_object_type2string(want));
		goto out;
	}
	c->bytes += git_odb_object_size(obj);
	if (c->bytes > c->max) {
		r = plumb_err_set(c->err, PLUMB_E_TOOBIG, "the baseline's tree is larger than source.max_size (%llu bytes)",
				  (unsigned long long)c->max);
		goto out;
	}
	if (git_odb_write(&got, c->to, git_odb_object_data(obj), git_odb_object_size(obj), want) != 0) {
		r = plumb_err_set(c->err, PLUMB_E_IO, "cannot write object %.12s to the verified store: %s", hex, git_msg());
		goto out;
	}
	if (!git_oid_equal(&got, id))
		r = plumb_err_set(c->err, PLUMB_E_CORRUPT, "object %.12s in the cache hashes to %.12s: forged or damaged",
				  hex, git_oid_tostr_s(&got));
out:
	git_odb_object_free(obj);
	return r;
}

/* Copies tree id and everything below it, children first: an object in
 * the store implies all it names is there too (a crash leaves no hole). */
static int copy_tree(struct copy_ctx *c, git_repository *from, const git_oid *id)
{
	git_tree *t = NULL;
	int r = 0;

	if (git_odb_exists(c->to, id))
		return 0;
	if (++c->depth > 64) {
		r = plumb_err_set(c->err, PLUMB_E_TOOBIG, "the baseline's tree is nested more than 64 deep");
		goto out;
	}
	if (git_tree_lookup(&t, from, id) != 0) {
		r = plumb_err_set(c->err, PLUMB_E_CORRUPT, "tree %.12s cannot be read from the cache: %s",
				  git_oid_tostr_s(id), git_msg());
		goto out;
	}
	for (size_t i = 0; r == 0 && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		switch (git_tree_entry_type(e)) {
		case GIT_OBJECT_TREE:
			r = copy_tree(c, from, git_tree_entry_id(e));
			break;
		case GIT_OBJECT_BLOB:
			if (!git_odb_exists(c->to, git_tree_entry_id(e)))
				r = copy_object(c, git_tree_entry_id(e), GIT_OBJECT_BLOB);
			break;
		default:
			break;     /* a submodule's commit: never read by a baseline */
		}
	}
	if (r == 0)
		r = copy_object(c, id, GIT_OBJECT_TREE);
out:
	c->depth--;
	git_tree_free(t);
	return r;
}

/* Stores what the memory backend holds as one pack in the store. */
static int write_pack(struct copy_ctx *c, git_repository *to, git_odb_backend *mp, struct plumb_err *err)
{
	git_indexer_progress st = {0};
	git_odb_writepack *wp = NULL;
	git_buf pack = {0};
	int r = 0;

	if (git_mempack_dump(&pack, to, mp) != 0 || git_odb_write_pack(&wp, c->to, NULL, NULL) != 0 ||
	    wp->append(wp, pack.ptr, pack.size, &st) != 0 || wp->commit(wp, &st) != 0)
		r = plumb_err_set(err, PLUMB_E_IO, "cannot write the verified store's pack: %s", git_msg());
	if (wp != NULL)
		wp->free(wp);
	git_buf_dispose(&pack);
	return r;
}

int plumb_git_store_verified(const char *state_dir, const char *commit, uint64_t max_bytes, struct plumb_err *err)
{
	git_repository *from = NULL, *to = NULL;
	struct copy_ctx c = {NULL, NULL, 0, max_bytes, 0, err};
	git_odb_backend *mp = NULL;
	git_commit *cm = NULL;
	git_oid oid;
	int r;

	git_up();
	if (git_oid_fromstr(&oid, commit) != 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "bad commit id '%.40s'", commit);
	if ((r = open_verified(&to, state_dir, 1, err)) != 0)
		return r;
	if (git_repository_odb(&c.to, to) != 0) {
		r = plumb_err_set(err, PLUMB_E_IO, "cannot open the verified store's objects: %s", git_msg());
		goto out;
	}
	if (git_odb_exists(c.to, &oid)) {
		r = 0;          /* stored whole before: the commit is written last */
		goto out;
	}
	if ((r = open_cache(&from, state_dir, err)) != 0)
		goto out;
	if (git_repository_odb(&c.from, from) != 0) {
		r = plumb_err_set(err, PLUMB_E_CORRUPT, "cannot open the cache's objects: %s", git_msg());
		goto out;
	}
	if (git_commit_lookup(&cm, from, &oid) != 0) {
		r = plumb_err_set(err, PLUMB_E_CORRUPT, "commit %.12s cannot be read from the cache: %s", commit, git_msg());
		goto out;
	}
	/* Written to memory first, then stored as one pack: all or nothing,
	 * and one file instead of one per object (a 1,000-file baseline). */
	if (git_mempack_new(&mp) != 0 || git_odb_add_backend(c.to, mp, 1000) != 0) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "cannot set up the verified store's writer: %s", git_msg());
		goto out;
	}
	if ((r = copy_tree(&c, from, git_commit_tree_id(cm))) != 0 || (r = copy_object(&c, &oid, GIT_OBJECT_COMMIT)) != 0)
		goto out;
	if ((r = write_pack(&c, to, mp, err)) != 0)
		goto out;
	r = 0;
out:
	if (mp != NULL)
		(void)git_mempack_reset(mp);   /* the odb owns and frees it */
	git_commit_free(cm);
	git_odb_free(c.from);
	git_odb_free(c.to);
	git_repository_free(from);
	git_repository_free(to);
	return r;
}

/* Removes name below dirfd and all it holds, by fd, never following a
 * symlink (the cache is another user's tree). */
static int remove_tree_at(int at, const char *name, unsigned depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (depth > 64 || (fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    remove_tree_at(dirfd(d), de->d_name, depth + 1) != 0)
			r = -1;
	closedir(d);
	if (r == 0 && unlinkat(at, name, AT_REMOVEDIR) != 0)
		r = -1;
	return r;
}

int plumb_git_cache_discard(const char *state_dir, struct plumb_err *err)
{
	char shown[4200];
	int dirfd, lockfd = -1, r;

	if ((dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", state_dir);
	snprintf(shown, sizeof(shown), "%s/%s", state_dir, PLUMB_GIT_CACHE_LOCK);
	/* Not under a fetch in flight (its child would write into what goes). */
	if ((r = plumb_lock_file(&lockfd, dirfd, PLUMB_GIT_CACHE_LOCK, shown, 0, NULL, err)) != 0)
		goto out;
	(void)remove_tree_at(dirfd, PLUMB_GIT_CACHE ".discarded", 0);
	if (renameat(dirfd, PLUMB_GIT_CACHE, dirfd, PLUMB_GIT_CACHE ".discarded") != 0 && errno != ENOENT) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot set '%s/%s' aside", state_dir, PLUMB_GIT_CACHE);
		goto out;
	}
	if (remove_tree_at(dirfd, PLUMB_GIT_CACHE ".discarded", 0) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot remove '%s/%s.discarded'", state_dir, PLUMB_GIT_CACHE);
out:
	if (lockfd >= 0)
		close(lockfd);
	close(dirfd);
	return r;
}

/* --- the source over a verified commit ----------------------------------- */

struct git_source {
	git_repository *repo;
	git_tree *tree;
	char *file;
	pthread_mutex_t mu;        /* libgit2 objects are not shared across threads unlocked */
	char commit[41], signer[256], fingerprint[PLUMB_FINGERPRINT_MAX];
};

struct git_blob_ref {
	git_blob *blob;
	struct git_source *src;
};

/* Finds rel in the tree as a regular blob. Caller holds mu. */
static int find_blob(struct git_source *g, const char *rel, git_tree_entry **out, struct plumb_err *err)
{
	git_tree_entry *e = NULL;
	git_filemode_t mode;

	*out = NULL;
	if (git_tree_entry_bypath(&e, g->tree, rel) != 0)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "'%s' does not exist in commit %.12s", rel, g->commit);
	mode = git_tree_entry_filemode(e);
	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
		git_tree_entry_free(e);
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' in commit %.12s is a %s, not a regular file", rel,
				     g->commit, mode == GIT_FILEMODE_LINK ? "symlink" :
				     mode == GIT_FILEMODE_COMMIT ? "submodule (gitlink)" : "directory");
	}
	*out = e;
	return 0;
}

static int git_lookup_blob(struct git_source *g, const char *rel, git_blob **out, struct plumb_err *err)
{
	git_tree_entry *e;
	int r;

	pthread_mutex_lock(&g->mu);
	if ((r = find_blob(g, rel, &e, err)) == 0) {
		if (git_blob_lookup(out, g->repo, git_tree_entry_id(e)) != 0)
			r = plumb_err_set(err, PLUMB_E_IO, "cannot read '%s': %s", rel, git_msg());
		git_tree_entry_free(e);
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}

static int gs_load(void *self, struct plumb_buf *out, struct plumb_err *err)
{
	struct git_source *g = self;
	git_blob *blob;
	int r;

	plumb_buf_init(out, PLUMB_BASELINE_MAX);
	if ((r = git_lookup_blob(g, g->file, &blob, err)) != 0)
		return r;
	if ((uint64_t)git_blob_rawsize(blob) > PLUMB_BASELINE_MAX)
		r = plumb_err_set(err, PLUMB_E_TOOBIG, "'%s' is larger than %u bytes", g->file, PLUMB_BASELINE_MAX);
	else if (plumb_buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob)) != 0)
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	pthread_mutex_lock(&g->mu);
	git_blob_free(blob);
	pthread_mutex_unlock(&g->mu);
	return r;
}

static void gs_blob_release(struct plumb_blob *b)
{
	struct git_blob_ref *ref = b->priv;

	pthread_mutex_lock(&ref->src->mu);
	git_blob_free(ref->blob);
	pthread_mutex_unlock(&ref->src->mu);
	free(ref);
}

static int gs_blob_open(void *self, struct plumb_blob **out, const char *rel, struct plumb_err *err)
{
	struct git_source *g = self;
	struct git_blob_ref *ref;
	struct plumb_blob *b;
	git_blob *blob;
	int r;

	if ((r = git_lookup_blob(g, rel, &blob, err)) != 0)
		return r;
	if ((b = calloc(1, sizeof(*b))) == NULL || (ref = malloc(sizeof(*ref))) == NULL) {
		free(b);
		pthread_mutex_lock(&g->mu);
		git_blob_free(blob);
		pthread_mutex_unlock(&g->mu);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	ref->blob = blob;
	ref->src = g;
	b->fd = -1;
	b->mem = git_blob_rawcontent(blob);
	b->size = (uint64_t)git_blob_rawsize(blob);
	b->priv = ref;
	b->release = gs_blob_release;
	*out = b;
	return 0;
}

static int gs_blob_id(void *self, const char *rel, unsigned char oid[20], struct plumb_err *err)
{
	struct git_source *g = self;
	git_tree_entry *e;
	int r;

	pthread_mutex_lock(&g->mu);
	if ((r = find_blob(g, rel, &e, err)) == 0) {
		memcpy(oid, git_tree_entry_id(e)->id, 20);
		git_tree_entry_free(e);
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}

static void gs_free(void *self)
{
	struct git_source *g = self;

	if (g == NULL)
		return;
	git_tree_free(g->tree);
	git_repository_free(g->repo);
	pthread_mutex_destroy(&g->mu);
	free(g->file);
	free(g);
}

static const struct plumb_source_ops git_ops = {
	.load = gs_load,
	.blob_open = gs_blob_open,
	.blob_id = gs_blob_id,
	.free = gs_free,
};

int plumb_source_git_open(struct plumb_source **out, const char *state_dir,
			  const struct plumb_git_tip *tip, const char *baseline_file, struct plumb_err *err)
{
	struct plumb_source *s = NULL;
	struct git_source *g = NULL;
	git_commit *commit = NULL;
	git_oid oid;
	int r;

	*out = NULL;
	git_up();
	if ((g = calloc(1, sizeof(*g))) == NULL || (s = calloc(1, sizeof(*s))) == NULL ||
	    (g->file = strdup(baseline_file)) == NULL) {
		free(s);
		if (g)
			free(g->file);
		free(g);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	pthread_mutex_init(&g->mu, NULL);
	memcpy(g->commit, tip->commit, sizeof(g->commit));
	snprintf(g->signer, sizeof(g->signer), "%s", tip->signer);
	snprintf(g->fingerprint, sizeof(g->fingerprint), "%s", tip->fingerprint);
	if ((r = open_verified(&g->repo, state_dir, 0, err)) != 0)
		goto out;
	if (git_oid_fromstr(&oid, tip->commit) != 0 || git_commit_lookup(&commit, g->repo, &oid) != 0 ||
	    git_commit_tree(&g->tree, commit) != 0) {
		r = plumb_err_set(err, PLUMB_E_NOTFOUND, "commit %.12s is not in the verified store: %s", tip->commit,
				  git_msg());
		goto out;
	}
	if ((s->name = malloc(strlen(baseline_file) + 64)) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(s->name, strlen(baseline_file) + 64, "%.12s:%s", tip->commit, baseline_file);
	s->ops = &git_ops;
	s->self = g;
	s->info.commit = g->commit;
	s->info.signer = g->signer;
	s->info.fingerprint = g->fingerprint;
	git_commit_free(commit);
	*out = s;
	return 0;
out:
	git_commit_free(commit);
	gs_free(g);
	if (s)
		free(s->name);
	free(s);
	return r;
}
