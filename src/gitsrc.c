/* gitsrc.c - the signed git baseline source, parent's side: starts the
 * plumb-fetch helper (the only program that links libgit2) beside the
 * loop, reads the raw objects it streams into the root-owned object store
 * (every id recomputed, src/objstore.c), verifies the signed tip and its
 * first-parent history from that store, and reads a verified commit's
 * tree by object id. Nothing is ever checked out; nothing the fetcher
 * wrote on disk is read. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plumb/gitobj.h"
#include "plumb/gitsrc.h"
#include "plumb/buf.h"
#include "plumb/helper.h"
#include "plumb/log.h"
#include "plumb/objstore.h"
#include "plumb/sandbox.h"
#include "plumb/signers.h"
#include "plumb/source.h"
#include "plumb/sshsig.h"
#include "plumb/state.h"
#include "plumb/trust.h"
#include "banned.h"

/* In the store: the tip the last fetch that worked brought ("HEX D\n", D
 * the fetcher's descends-from-anchor claim: 1, 0 or -). */
#define FETCHED_NOTE "FETCHED"

static void cache_path(char *out, size_t n, const char *state_dir)
{
	snprintf(out, n, "%s/%s", state_dir, PLUMB_GIT_CACHE);
}

int plumb_git_local_remote(const char *url, char *out, size_t n)
{
	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	else if (strstr(url, "://") != NULL)
		return 0;
	snprintf(out, n, "%s", url);
	return 1;
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

/* The fetch in flight: the plumb-fetch process, the read end of its frame
 * pipe, the cache lock it holds for the child, and what its frames said. */
struct plumb_git_fetch {
	pid_t pid;
	int fd;                    /* O_NONBLOCK read end; -1 once closed */
	int lockfd;                /* state_dir/PLUMB_GIT_CACHE_LOCK, held until finish */
	int eof;
	char url[512];
	uint64_t timeout_s;
	struct plumb_frames frames;
	struct plumb_objstore *store;
	int bad;                   /* the stream was refused: proto says why */
	struct plumb_err proto;
	unsigned char tip[20];
	int has_tip, note, done, fail_status;
	char fail_msg[PLUMB_FRAME_FAIL_MAX + 1];
};

static void fetch_free(struct plumb_git_fetch *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	plumb_frames_release(&f->frames);
	plumb_objstore_close(f->store);   /* staged and not committed: swept */
	if (f->lockfd >= 0)
		close(f->lockfd);   /* releases the flock */
	free(f);
}

/* What crosses from a hostile process into a log line: printable ASCII. */
static void printable(char *out, size_t n, const unsigned char *p, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < len && k + 1 < n; i++)
		out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[k] = '\0';
}

/* One checked frame (its id recomputed by the reader). */
static int on_frame(void *arg, const struct plumb_frame *fr, struct plumb_err *err)
{
	struct plumb_git_fetch *f = arg;

	switch (fr->kind) {
	case PLUMB_OBJ_COMMIT:
	case PLUMB_OBJ_TREE:
	case PLUMB_OBJ_BLOB:
	case PLUMB_OBJ_TAG:
		return plumb_objstore_stage(f->store, fr->kind, fr->id, fr->data, fr->len, err);
	case PLUMB_FRAME_TIP:
		if (f->has_tip)
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent two tips");
		memcpy(f->tip, fr->id, 20);
		f->has_tip = 1;
		return 0;
	case PLUMB_FRAME_NOTE:
		if (fr->data[0] > 1)
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher sent a malformed note frame");
		f->note = fr->data[0];
		return 0;
	case PLUMB_FRAME_DONE:
		if (!f->has_tip)
			return plumb_err_set(err, PLUMB_E_INVALID, "the fetcher ended without naming its tip");
		f->done = 1;
		return 0;
	case PLUMB_FRAME_FAIL:
		f->fail_status = fr->data[0];
		printable(f->fail_msg, sizeof(f->fail_msg), fr->data + 1, fr->len - 1);
		return 0;
	default:
		return plumb_err_set(err, PLUMB_E_INTERNAL, "frame kind %d", fr->kind);
	}
}

/* The anchor the fetcher is told about (trust.json, read without the state
 * lock: a hint for what to send; the judgement reads it again under the
 * lock). 1 with hex filled, 0 without one. */
static int current_anchor(const char *state_dir, char hex[41])
{
	struct plumb_state *st = NULL;
	struct plumb_trust t;
	struct plumb_err e;
	int has = 0;

	if (plumb_state_open(&st, state_dir, 0, &e) == 0 && plumb_trust_load(&t, st, &e) == 0 && t.has) {
		memcpy(hex, t.commit, 41);
		has = 1;
	}
	plumb_state_free(st);
	return has;
}

static int fetched_tip(struct plumb_objstore *s, unsigned char id[20], int *descends, struct plumb_err *err);

/* A commit the store has whole: anchor when it is, else the commit of the
 * previous fetch's tip. 1 with out (hex) filled, else 0. */
static int have_whole(struct plumb_objstore *s, const char *anchor, char out[41])
{
	unsigned char id[20], *data = NULL;
	struct plumb_err e;
	size_t len;
	int desc, type = 0, ok = 0;

	if (anchor != NULL && plumb_oid_parse(id, anchor) == 0 && plumb_objstore_complete(s, id, &e) == 0) {
		memcpy(out, anchor, 41);
		return 1;
	}
	if (fetched_tip(s, id, &desc, &e) != 0 ||
	    plumb_objstore_read(s, id, &type, &data, &len, PLUMB_FRAME_COMMIT_MAX, &e) != 0)
		return 0;
	if (type == PLUMB_OBJ_TAG) {
		char v[64];

		ok = plumb_gitobj_header(v, sizeof(v), data, len, "object") == 0 && plumb_oid_parse(id, v) == 0;
	} else {
		ok = type == PLUMB_OBJ_COMMIT;
	}
	free(data);
	if (!ok || plumb_objstore_complete(s, id, &e) != 0)
		return 0;
	plumb_oid_hex(out, id);
	return 1;
}

int plumb_git_fetch_start(struct plumb_git_fetch **out, const struct plumb_git_opts *o, const char *state_dir,
			  int lock_wait_s, struct plumb_err *err)
{
	struct plumb_frame_limits lim = {PLUMB_FRAME_OBJECT_MAX, o->max_bytes, PLUMB_FRAME_META_MAX,
					 PLUMB_FRAME_COMMIT_MAX, PLUMB_FRAME_OBJECTS_MAX};
	struct plumb_git_fetch *f = NULL;
	struct plumb_sandbox_user u;
	char cache[4096], shown[4200], maxb[24], tmo[24], uid[16], gid[16], hist[16], anchor[41], have[41];
	const char *args[36];
	int dirfd = -1, r, k = 0;
	pid_t pid;

	*out = NULL;
	cache_path(cache, sizeof(cache), state_dir);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	f->fd = f->lockfd = -1;
	f->note = -1;
	f->timeout_s = o->timeout_s;
	snprintf(f->url, sizeof(f->url), "%s", o->url);
	if (lim.object_max > o->max_bytes)
		lim.object_max = o->max_bytes;
	plumb_frames_init(&f->frames, &lim);
	if ((dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", state_dir);
		goto out;
	}
	/* One writer of the cache and of the store's incoming/ at a time
	 * (plumb apply beside plumbd's fetch in flight). */
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
		else if (u.found && plumb_git_local_remote(o->url, remote, sizeof(remote)) && !plumb_sandbox_can_reach(&u, remote))
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
	if ((r = plumb_objstore_open(&f->store, state_dir, 1, err)) != 0)
		goto out;
	snprintf(maxb, sizeof(maxb), "%llu", (unsigned long long)o->max_bytes);
	snprintf(tmo, sizeof(tmo), "%llu", (unsigned long long)o->timeout_s);
	snprintf(hist, sizeof(hist), "%u", (unsigned)PLUMB_GIT_HISTORY_MAX);
	args[k++] = "--cache";
	args[k++] = cache;
	args[k++] = "--url";
	args[k++] = o->url;
	args[k++] = "--ref";
	args[k++] = o->ref;
	args[k++] = "--max-bytes";
	args[k++] = maxb;
	args[k++] = "--timeout";
	args[k++] = tmo;
	args[k++] = "--history-max";
	args[k++] = hist;
	if (o->ca_file) {
		args[k++] = "--ca-file";
		args[k++] = o->ca_file;
	}
	if (o->ssh_key) {
		args[k++] = "--ssh-key";
		args[k++] = o->ssh_key;
	}
	if (o->ssh_host_key) {
		args[k++] = "--ssh-host-key";
		args[k++] = o->ssh_host_key;
	}
	if (u.found) {
		snprintf(uid, sizeof(uid), "%u", (unsigned)u.uid);
		snprintf(gid, sizeof(gid), "%u", (unsigned)u.gid);
		args[k++] = "--uid";
		args[k++] = uid;
		args[k++] = "--gid";
		args[k++] = gid;
		args[k++] = "--user";
		args[k++] = u.name;
	}
	if (current_anchor(state_dir, anchor)) {
		args[k++] = "--anchor";
		args[k++] = anchor;
	}
	/* What the store has whole, so the fetcher sends only what differs:
	 * the anchor, else the previous fetch's tip (a host with no anchor). */
	if (have_whole(f->store, k > 0 && strcmp(args[k - 2], "--anchor") == 0 ? anchor : NULL, have)) {
		args[k++] = "--have";
		args[k++] = have;
	}
	/* A tip is only ever the one this fetch names. */
	(void)plumb_objstore_drop_note(f->store, FETCHED_NOTE);
	args[k] = NULL;
	if ((pid = plumb_helper_fetch(args, cache, &f->fd, err)) < 0) {
		r = pid;
		goto out;
	}
	(void)fcntl(f->fd, F_SETFL, O_NONBLOCK);
	(void)fcntl(f->fd, F_SETPIPE_SZ, 1 << 20);
	f->pid = pid;
	*out = f;
	f = NULL;
	r = 0;
out:
	if (dirfd >= 0)
		close(dirfd);
	fetch_free(f);
	return r;
}

int plumb_git_fetch_fd(const struct plumb_git_fetch *f)
{
	return f->fd;
}

/* Most bytes one pump takes in, so a fast fetcher cannot hold the loop. */
#define PUMP_MAX (4u << 20)

int plumb_git_fetch_pump(struct plumb_git_fetch *f)
{
	static unsigned char chunk[65536];
	size_t taken = 0;

	while (!f->eof && !f->bad) {
		ssize_t n = read(f->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			f->eof = 1;
			break;
		}
		if (plumb_frames_feed(&f->frames, chunk, (size_t)n, on_frame, f, &f->proto) != 0) {
			f->bad = 1;    /* refused: nothing more is read; finish kills the child */
			break;
		}
		if ((taken += (size_t)n) >= PUMP_MAX)
			return 0;      /* level-triggered: the loop calls again */
	}
	return 1;
}

/* Reaps the child: it has closed its pipe (or is refused); a child that
 * lingers past 200 ms is killed. Never waits longer. Returns the status. */
static int reap(struct plumb_git_fetch *f, int kill_now)
{
	int status = 0;

	if (kill_now)
		kill(f->pid, SIGKILL);
	for (int i = 0; i < 40; i++) {
		pid_t w = waitpid(f->pid, &status, WNOHANG);
		struct timespec ts = {0, 5 * 1000 * 1000};

		if (w == f->pid || (w < 0 && errno != EINTR))
			return status;
		if (w == 0)
			nanosleep(&ts, NULL);
	}
	kill(f->pid, SIGKILL);
	while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

int plumb_git_fetch_finish(struct plumb_git_fetch *f, struct plumb_err *err)
{
	int status, r;

	if (!f->bad && plumb_frames_eof(&f->frames, &f->proto) != 0)
		f->bad = 1;
	status = reap(f, f->bad);
	if (f->bad)
		r = plumb_err_set(err, PLUMB_E_INVALID, "fetch from '%s' refused: %s", f->url, f->proto.msg);
	else if (f->fail_status == PLUMB_FETCH_NO_REF)
		r = plumb_err_set(err, PLUMB_E_NOTFOUND, "%s", f->fail_msg[0] ? f->fail_msg : "the remote has no such ref");
	else if (f->fail_status == PLUMB_FETCH_CORRUPT)
		r = plumb_err_set(err, PLUMB_E_CORRUPT, "fetch from '%s' failed on the cache's side (damaged): %s", f->url,
				  f->fail_msg[0] ? f->fail_msg : "no reason given");
	else if (f->fail_status != 0)
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' failed: %s", f->url,
				  f->fail_msg[0] ? f->fail_msg : "no reason given");
	else if (WIFSIGNALED(status))
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' died of signal %d", f->url, WTERMSIG(status));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		r = plumb_err_set(err, PLUMB_E_IO, "fetch from '%s' exited with status %d after its last frame", f->url,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else if (!f->done)
		r = plumb_err_set(err, PLUMB_E_INTERNAL, "fetch from '%s': no end frame", f->url);
	else {
		char note[64], hex[41];

		plumb_oid_hex(hex, f->tip);
		snprintf(note, sizeof(note), "%s %c\n", hex, f->note < 0 ? '-' : (char)('0' + f->note));
		if ((r = plumb_objstore_commit(f->store, err)) == 0)
			r = plumb_objstore_put_note(f->store, FETCHED_NOTE, note, err);
	}
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

/* --- verification, in the parent, from the store only ------------------- */

static int open_store(struct plumb_objstore **s, const char *state_dir, struct plumb_err *err)
{
	return plumb_objstore_open(s, state_dir, 0, err);
}

/* The fetched tip and the fetcher's descends claim (-1 unknown). */
static int fetched_tip(struct plumb_objstore *s, unsigned char id[20], int *descends, struct plumb_err *err)
{
	char note[64];

	if (plumb_objstore_get_note(s, FETCHED_NOTE, note, sizeof(note), err) != 0)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "no fetched tip in the verified store");
	*descends = strlen(note) > 41 && note[41] == '1' ? 1 : strlen(note) > 41 && note[41] == '0' ? 0 : -1;
	if (strlen(note) < 41 || note[40] != ' ')
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "the fetched tip record is damaged (the next fetch writes it again)");
	note[40] = '\0';
	if (plumb_oid_parse(id, note) != 0)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "the fetched tip record is damaged (the next fetch writes it again)");
	return 0;
}

/* Reads id as an object of type want (0: any), at most max bytes. What the
 * fetcher withheld is a refusal (PLUMB_E_INVALID), never damage. */
static int read_obj(struct plumb_objstore *s, const unsigned char id[20], int want, int *type, unsigned char **data,
		    size_t *len, size_t max, const char *what, struct plumb_err *err)
{
	struct plumb_err e;
	int r, t = 0;

	if ((r = plumb_objstore_read(s, id, &t, data, len, max, &e)) != 0)
		return plumb_err_set(err, r == PLUMB_E_NOTFOUND ? PLUMB_E_INVALID : r, "%s: %s%s", what, e.msg,
				     r == PLUMB_E_NOTFOUND ? " (the fetcher did not send it)" : "");
	if (want != 0 && t != want) {
		free(*data);
		*data = NULL;
		return plumb_err_set(err, PLUMB_E_INVALID, "%s: a %s, not a %s", what, plumb_obj_type_name(t),
				     plumb_obj_type_name(want));
	}
	if (type != NULL)
		*type = t;
	return 0;
}

int plumb_git_verify_tip(struct plumb_git_tip *out, const char *state_dir, const char *ref,
			 const struct plumb_signers *signers, time_t now, struct plumb_err *err)
{
	const char *tagname = strncmp(ref, "refs/tags/", 10) == 0 ? ref + 10 : NULL;
	struct plumb_signed_obj so = {0};
	struct plumb_objstore *s = NULL;
	unsigned char id[20], *data = NULL, *cdata = NULL;
	char hex[41];
	size_t len, clen;
	int r, type = 0, desc;

	memset(out, 0, sizeof(*out));
	if ((r = open_store(&s, state_dir, err)) != 0 || (r = fetched_tip(s, id, &desc, err)) != 0)
		goto out;
	plumb_oid_hex(hex, id);
	if ((r = read_obj(s, id, 0, &type, &data, &len, PLUMB_FRAME_COMMIT_MAX, "the fetched tip", err)) != 0)
		goto out;
	if (tagname != NULL) {
		char v[256];
		unsigned char cid[20];

		if (type != PLUMB_OBJ_TAG) {
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
		    plumb_gitobj_header(v, sizeof(v), data, len, "object") != 0 || plumb_oid_parse(cid, v) != 0) {
			r = plumb_err_set(err, PLUMB_E_INVALID, "tag %s does not point at a commit", hex);
			goto out;
		}
		if ((r = check_signature(out, &so, signers, now, "tag", err)) != 0)
			goto out;
		if ((r = read_obj(s, cid, PLUMB_OBJ_COMMIT, NULL, &cdata, &clen, PLUMB_FRAME_COMMIT_MAX,
				  "the tag's commit", err)) != 0)
			goto out;
		plumb_oid_hex(out->commit, cid);
	} else {
		char what[64];

		if (type != PLUMB_OBJ_COMMIT) {
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
	free(data);
	free(cdata);
	plumb_objstore_close(s);
	return r;
}

/* Prunes the store to what keep (hex, or NULL), the fetched tip (with
 * keep_fetched) and trust.json's anchor reach; skipped (0) while a fetch
 * is in flight, when its objects are being staged. */
static int prune_store(const char *state_dir, const char *keep, int keep_fetched, struct plumb_err *err)
{
	struct plumb_objstore *s = NULL;
	unsigned char roots[3][20];
	char recorded[41];
	char shown[4200];
	size_t n = 0, removed = 0;
	int dirfd, lockfd = -1, r, desc;

	if (keep != NULL) {
		if (plumb_oid_parse(roots[n], keep) != 0)
			return plumb_err_set(err, PLUMB_E_INVALID, "bad commit id '%.40s'", keep);
		n++;
	}
	if ((dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", state_dir);
	snprintf(shown, sizeof(shown), "%s/%s", state_dir, PLUMB_GIT_CACHE_LOCK);
	if (plumb_lock_file(&lockfd, dirfd, PLUMB_GIT_CACHE_LOCK, shown, 0, NULL, err) != 0) {
		close(dirfd);
		return 0;       /* pruned after the next anchor or refusal */
	}
	if ((r = open_store(&s, state_dir, err)) == 0) {
		struct plumb_err e;

		if (keep_fetched && fetched_tip(s, roots[n], &desc, &e) == 0)
			n++;
		/* And whatever trust.json names (the caller pins after saving it;
		 * kept also if it did not): never prune below a recorded anchor. */
		if (current_anchor(state_dir, recorded) && plumb_oid_parse(roots[n], recorded) == 0)
			n++;
		r = plumb_objstore_prune(s, (const unsigned char (*)[20])roots, n, &removed, err);
		if (r == 0 && removed > 0)
			plumb_log(PLUMB_LOG_DEBUG, "verified store: %zu objects no longer reachable removed", removed);
	}
	plumb_objstore_close(s);
	close(lockfd);
	close(dirfd);
	return r;
}

int plumb_git_pin_anchor(const char *state_dir, const char *commit, struct plumb_err *err)
{
	/* The fetcher keeps it reachable in its cache (it is told the anchor at
	 * every fetch); here the store drops what neither the anchor nor the
	 * fetched tip reaches: history commits, old baselines. */
	return prune_store(state_dir, commit, 1, err);
}

/* Bytes the tree below name occupies (st_blocks), by fd, following no
 * symlink; stops counting past limit, and past *entries more entries (the
 * cache is another user's tree: a million empty files must not hold the
 * loop up) counts as past limit. */
static uint64_t usage_at(int at, const char *name, unsigned depth, uint64_t limit, size_t *entries)
{
	struct dirent *de;
	struct stat sb;
	uint64_t sum;
	DIR *d;
	int fd;

	if (*entries == 0)
		return limit + 1;
	(*entries)--;
	if (fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	sum = (uint64_t)sb.st_blocks * 512;
	if (!S_ISDIR(sb.st_mode) || depth > 64 ||
	    (fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return sum;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return sum;
	}
	while ((de = readdir(d)) != NULL && sum <= limit)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			sum += usage_at(dirfd(d), de->d_name, depth + 1, limit, entries);
	closedir(d);
	return sum;
}

int plumb_git_forget_refused(const char *state_dir, const char *held, uint64_t max_bytes, struct plumb_err *err)
{
	size_t entries = PLUMB_GIT_CACHE_ENTRIES_MAX;
	uint64_t used;
	int dirfd, r;

	if ((r = prune_store(state_dir, held, 0, err)) != 0)
		return r;
	if ((dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot open '%s'", state_dir);
	used = usage_at(dirfd, PLUMB_GIT_CACHE, 0, max_bytes, &entries);
	close(dirfd);
	if (used <= max_bytes)
		return 0;
	plumb_log(PLUMB_LOG_WARN, "the git cache holds more than source.max_size (%llu bytes) or %d files after a "
		  "refused tip: discarded, the next fetch rebuilds it", (unsigned long long)max_bytes,
		  PLUMB_GIT_CACHE_ENTRIES_MAX);
	return plumb_git_cache_discard(state_dir, err);
}

/* The first parent of commit id, or *has = 0 for a root commit. */
static int first_parent(struct plumb_objstore *s, const unsigned char id[20], unsigned char out[20], int *has,
			struct plumb_err *err)
{
	unsigned char *data = NULL, tree[20];
	char hex[41], what[64];
	size_t len;
	int r;

	plumb_oid_hex(hex, id);
	snprintf(what, sizeof(what), "commit %.12s", hex);
	if ((r = read_obj(s, id, PLUMB_OBJ_COMMIT, NULL, &data, &len, PLUMB_FRAME_COMMIT_MAX, what, err)) != 0)
		return r;
	if ((r = plumb_commit_parse(data, len, tree, out, has, err)) != 0) {
		struct plumb_err e = *err;

		plumb_err_set(err, r, "%s: %s", what, e.msg);
	}
	free(data);
	return r;
}

/* Verifies the signature of one commit by the allowed signers at now. */
static int check_commit_signed(struct plumb_objstore *s, const unsigned char id[20], const struct plumb_signers *signers,
			       time_t now, const char *what, struct plumb_err *err)
{
	struct plumb_signed_obj so = {0};
	struct plumb_git_tip scratch;
	unsigned char *data = NULL;
	size_t len;
	int r;

	if ((r = read_obj(s, id, PLUMB_OBJ_COMMIT, NULL, &data, &len, PLUMB_FRAME_COMMIT_MAX, what, err)) != 0)
		return r;
	if ((r = plumb_gitobj_commit_split(&so, data, len, err)) != 0) {
		struct plumb_err e = *err;

		plumb_err_set(err, r, "%s: %s", what, e.msg);
		goto out;
	}
	r = check_signature(&scratch, &so, signers, now, what, err);
out:
	plumb_signed_obj_release(&so);
	free(data);
	return r;
}

int plumb_git_check_history(const char *state_dir, const char *commit, const char *anchor,
			    const struct plumb_signers *signers, time_t now, size_t max, struct plumb_err *err)
{
	struct plumb_objstore *s = NULL;
	unsigned char (*path)[20] = NULL, cur[20], stop[20], tipid[20];
	size_t n = 0;
	int r, more, desc = -1;

	if (plumb_oid_parse(cur, commit) != 0 || (anchor != NULL && plumb_oid_parse(stop, anchor) != 0))
		return plumb_err_set(err, PLUMB_E_INVALID, "bad commit id");
	if ((r = open_store(&s, state_dir, err)) != 0)
		return r;
	{
		struct plumb_err e;

		/* The fetcher's word, for the wording of a refusal only. */
		if (fetched_tip(s, tipid, &desc, &e) != 0)
			desc = -1;
	}
	if (max == 0 || (path = calloc(max, sizeof(*path))) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		goto out;
	}
	/* The first-parent chain from the tip down to the anchor, at most max
	 * commits; without an anchor, the tip alone. */
	for (;;) {
		if (anchor != NULL && memcmp(cur, stop, 20) == 0)
			break;
		if (n == max) {
			/* Never advise a reset for what is a plain rollback. */
			if (desc == 0)
				r = plumb_err_set(err, PLUMB_E_INVALID, "rollback: tip %.12s does not descend from the "
						  "last applied commit %.12s", commit, anchor);
			else
				r = plumb_err_set(err, PLUMB_E_TOOBIG, "tip %.12s is more than %zu first-parent commits "
						  "past the last applied commit %.12s; plumb checks no further (after "
						  "review, `plumb trust reset` re-anchors)", commit, max, anchor);
			goto out;
		}
		memcpy(path[n++], cur, 20);
		if (anchor == NULL)
			break;
		if ((r = first_parent(s, cur, cur, &more, err)) != 0)
			goto out;
		if (!more) {
			/* Reached a root: the anchor is not on the tip's first-parent chain. */
			if (desc == 1)
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
		char hex[41], what[160];

		plumb_oid_hex(hex, path[i]);
		if (anchor != NULL)
			snprintf(what, sizeof(what), "commit %.12s (%zu of %zu after the last applied %.12s)", hex,
				 n - i, n, anchor);
		else
			snprintf(what, sizeof(what), "commit %.12s", hex);
		if ((r = check_commit_signed(s, path[i], signers, now, what, err)) != 0)
			goto out;
	}
	r = 0;
out:
	free(path);
	plumb_objstore_close(s);
	return r;
}

int plumb_git_store_verified(const char *state_dir, const char *commit, uint64_t max_bytes, struct plumb_err *err)
{
	struct plumb_objstore *s = NULL;
	unsigned char id[20];
	struct plumb_err e;
	int r;

	/* The objects arrived with the fetch, each id recomputed, and were
	 * committed to the store when it ended (within source.max_size). Here:
	 * the commit and its whole tree are there and sound. */
	(void)max_bytes;
	if (plumb_oid_parse(id, commit) != 0)
		return plumb_err_set(err, PLUMB_E_INVALID, "bad commit id '%.40s'", commit);
	if ((r = plumb_objstore_open(&s, state_dir, 1, err)) != 0)
		return r;
	if ((r = plumb_objstore_complete(s, id, &e)) != 0)
		r = plumb_err_set(err, r == PLUMB_E_CORRUPT || r == PLUMB_E_IO || r == PLUMB_E_NOMEM ? r : PLUMB_E_NOTFOUND,
				  "commit %.12s is not whole in the verified store: %s (the next fetch brings it)", commit,
				  e.msg);
	plumb_objstore_close(s);
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

/* Trees read once per source (a baseline looks its paths up one by one,
 * many per tree), up to TREE_CACHE_BYTES of them; then the cache starts
 * over. */
#define TREE_CACHE_SLOTS 1024
#define TREE_CACHE_BYTES (4u << 20)

struct cached_tree {
	unsigned char id[20];
	unsigned char *data;
	size_t len;
	struct plumb_tree t;
};

struct git_source {
	struct plumb_objstore *store;
	unsigned char root[20];
	char *file;
	pthread_mutex_t mu;        /* the tree cache is shared by the engine's threads */
	struct cached_tree *cache[TREE_CACHE_SLOTS];
	size_t cache_bytes;
	char commit[41], signer[256], fingerprint[PLUMB_FINGERPRINT_MAX];
};

static void tree_cache_clear(struct git_source *g)
{
	for (size_t i = 0; i < TREE_CACHE_SLOTS; i++)
		if (g->cache[i] != NULL) {
			plumb_tree_release(&g->cache[i]->t);
			free(g->cache[i]->data);
			free(g->cache[i]);
			g->cache[i] = NULL;
		}
	g->cache_bytes = 0;
}

/* The parsed tree id. Caller holds mu; the result lives until the next call. */
static int get_tree(struct git_source *g, const unsigned char id[20], const struct plumb_tree **out, struct plumb_err *err)
{
	size_t slot, len;
	struct cached_tree *c;
	unsigned char *data;
	char hex[41];
	int r, type;

	memcpy(&slot, id, sizeof(slot));
	slot %= TREE_CACHE_SLOTS;
	if (g->cache[slot] != NULL && memcmp(g->cache[slot]->id, id, 20) == 0) {
		*out = &g->cache[slot]->t;
		return 0;
	}
	plumb_oid_hex(hex, id);
	if ((r = plumb_objstore_read(g->store, id, &type, &data, &len, PLUMB_FRAME_OBJECT_MAX, err)) != 0)
		return r;
	if (type != PLUMB_OBJ_TREE) {
		free(data);
		return plumb_err_set(err, PLUMB_E_CORRUPT, "object %.12s of commit %.12s is not a tree", hex, g->commit);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		free(data);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	if ((r = plumb_tree_parse(&c->t, data, len, err)) != 0) {
		free(data);
		free(c);
		return r;
	}
	memcpy(c->id, id, 20);
	c->data = data;
	c->len = len + c->t.n * sizeof(*c->t.v);   /* what it holds: the bytes and their index */
	if (g->cache_bytes + c->len > TREE_CACHE_BYTES)
		tree_cache_clear(g);
	else if (g->cache[slot] != NULL) {
		g->cache_bytes -= g->cache[slot]->len;
		plumb_tree_release(&g->cache[slot]->t);
		free(g->cache[slot]->data);
		free(g->cache[slot]);
	}
	g->cache[slot] = c;
	g->cache_bytes += c->len;
	*out = &c->t;
	return 0;
}

/* Finds rel (normalized, relative) in the commit's tree as a regular blob.
 * Caller holds mu. */
static int find_blob(struct git_source *g, const char *rel, unsigned char id[20], struct plumb_err *err)
{
	const struct plumb_tree_entry *e = NULL;
	unsigned char cur[20];
	const char *p = rel;
	int r;

	memcpy(cur, g->root, 20);
	for (;;) {
		const struct plumb_tree *t = NULL;
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if ((r = get_tree(g, cur, &t, err)) != 0)
			return r;
		if (n == 0 || (e = plumb_tree_find(t, p, n)) == NULL)
			return plumb_err_set(err, PLUMB_E_NOTFOUND, "'%s' does not exist in commit %.12s", rel, g->commit);
		if (slash == NULL)
			break;
		if (e->mode != PLUMB_TREE_MODE_TREE)
			return plumb_err_set(err, PLUMB_E_NOTFOUND, "'%s' does not exist in commit %.12s", rel, g->commit);
		memcpy(cur, e->id, 20);
		p = slash + 1;
	}
	if (e->mode != PLUMB_TREE_MODE_FILE && e->mode != PLUMB_TREE_MODE_EXEC)
		return plumb_err_set(err, PLUMB_E_UNSAFE, "'%s' in commit %.12s is a %s, not a regular file", rel,
				     g->commit, e->mode == PLUMB_TREE_MODE_LINK ? "symlink" :
				     e->mode == PLUMB_TREE_MODE_GITLINK ? "submodule (gitlink)" : "directory");
	memcpy(id, e->id, 20);
	return 0;
}

static int lookup_blob(struct git_source *g, const char *rel, unsigned char **data, size_t *len, size_t max,
		       struct plumb_err *err)
{
	unsigned char id[20];
	int r, type;

	pthread_mutex_lock(&g->mu);
	r = find_blob(g, rel, id, err);
	pthread_mutex_unlock(&g->mu);
	if (r != 0)
		return r;
	if ((r = plumb_objstore_read(g->store, id, &type, data, len, max, err)) != 0) {
		struct plumb_err e = *err;

		return plumb_err_set(err, r == PLUMB_E_TOOBIG ? r : r == PLUMB_E_NOTFOUND ? PLUMB_E_IO : r,
				     "cannot read '%s': %s", rel, e.msg);
	}
	if (type != PLUMB_OBJ_BLOB) {
		free(*data);
		*data = NULL;
		return plumb_err_set(err, PLUMB_E_CORRUPT, "'%s' in commit %.12s is not a blob", rel, g->commit);
	}
	return 0;
}

static int gs_load(void *self, struct plumb_buf *out, struct plumb_err *err)
{
	struct git_source *g = self;
	unsigned char *data;
	size_t len;
	int r;

	plumb_buf_init(out, PLUMB_BASELINE_MAX);
	if ((r = lookup_blob(g, g->file, &data, &len, PLUMB_BASELINE_MAX, err)) != 0) {
		if (r == PLUMB_E_TOOBIG)
			r = plumb_err_set(err, PLUMB_E_TOOBIG, "'%s' is larger than %u bytes", g->file, PLUMB_BASELINE_MAX);
		return r;
	}
	if (plumb_buf_add(out, data, len) != 0)
		r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	free(data);
	return r;
}

static void gs_blob_release(struct plumb_blob *b)
{
	free(b->priv);
}

static int gs_blob_open(void *self, struct plumb_blob **out, const char *rel, struct plumb_err *err)
{
	struct git_source *g = self;
	struct plumb_blob *b;
	unsigned char *data;
	size_t len;
	int r;

	if ((r = lookup_blob(g, rel, &data, &len, PLUMB_FRAME_OBJECT_MAX, err)) != 0)
		return r;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		free(data);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	b->fd = -1;
	b->mem = data;
	b->size = (uint64_t)len;
	b->priv = data;
	b->release = gs_blob_release;
	*out = b;
	return 0;
}

static int gs_blob_id(void *self, const char *rel, unsigned char oid[20], struct plumb_err *err)
{
	struct git_source *g = self;
	int r;

	pthread_mutex_lock(&g->mu);
	r = find_blob(g, rel, oid, err);
	pthread_mutex_unlock(&g->mu);
	return r;
}

/* The trees a pass looked up (all of them, for a full scan: 700 KB at
 * 10,000 files) are not kept between passes; the next one reads them
 * again from the store, each id recomputed (about 5 us a tree). */
static void gs_trim(void *self)
{
	struct git_source *g = self;

	pthread_mutex_lock(&g->mu);
	tree_cache_clear(g);
	pthread_mutex_unlock(&g->mu);
}

static void gs_free(void *self)
{
	struct git_source *g = self;

	if (g == NULL)
		return;
	tree_cache_clear(g);
	plumb_objstore_close(g->store);
	pthread_mutex_destroy(&g->mu);
	free(g->file);
	free(g);
}

static const struct plumb_source_ops git_ops = {
	.load = gs_load,
	.blob_open = gs_blob_open,
	.blob_id = gs_blob_id,
	.trim = gs_trim,
	.free = gs_free,
};

int plumb_source_git_open(struct plumb_source **out, const char *state_dir,
			  const struct plumb_git_tip *tip, const char *baseline_file, struct plumb_err *err)
{
	struct plumb_source *s = NULL;
	struct git_source *g = NULL;
	unsigned char id[20], parent[20], *data = NULL;
	size_t len;
	int r, type = 0, hp;

	*out = NULL;
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
	if ((r = plumb_objstore_open(&g->store, state_dir, 0, err)) != 0)
		goto out;
	if (plumb_oid_parse(id, tip->commit) != 0 ||
	    plumb_objstore_read(g->store, id, &type, &data, &len, PLUMB_FRAME_COMMIT_MAX, err) != 0 ||
	    type != PLUMB_OBJ_COMMIT || plumb_commit_parse(data, len, g->root, parent, &hp, err) != 0) {
		struct plumb_err e = *err;

		r = plumb_err_set(err, PLUMB_E_NOTFOUND, "commit %.12s is not in the verified store: %s", tip->commit,
				  type != PLUMB_OBJ_COMMIT && e.msg[0] == '\0' ? "not a commit" : e.msg);
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
	free(data);
	*out = s;
	return 0;
out:
	free(data);
	gs_free(g);
	if (s)
		free(s->name);
	free(s);
	return r;
}
