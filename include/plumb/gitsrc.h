/* gitsrc.h - the signed git baseline source: a bounded fetch by the
 * plumb-fetch helper (into its own bare cache; it streams raw objects back,
 * each id recomputed into the root-owned store, plumb/objstore.h),
 * signature verification of the tip (commit or annotated tag) from that
 * store, and a plumb_source that reads the baseline from a verified
 * commit's tree by object id. Nothing is ever checked out; the parent links
 * no libgit2. */
#ifndef PLUMB_GITSRC_H
#define PLUMB_GITSRC_H

#include <stdint.h>
#include <time.h>

#include "plumb/error.h"
#include "plumb/sshsig.h"

struct plumb_source;
struct plumb_signers;

/* Private bare repository under state_dir. */
#define PLUMB_GIT_CACHE "cache.git"
/* Where the fetched tip is stored in the cache. */
#define PLUMB_GIT_FETCHED_REF "refs/plumb/fetched"
/* Where the anchor (the last applied commit) is kept reachable in the
 * cache, for the ancestry walk and the fetch negotiation. */
#define PLUMB_GIT_ANCHOR_REF "refs/plumb/anchor"
/* The previous fetch's tip, peeled to a commit: only a hint for the fetch
 * negotiation ("have"), never read by verification. */
#define PLUMB_GIT_PREVIOUS_REF "refs/plumb/previous"
/* Most commits the signed-history walk follows from the tip to the anchor. */
#define PLUMB_GIT_HISTORY_MAX 10000

struct plumb_git_opts {
	const char *url;             /* path, file://, https://, ssh:// */
	const char *ref;             /* refs/heads/... or refs/tags/NAME */
	const char *ca_file;         /* https: CA bundle */
	const char *ssh_key;         /* ssh: private key file */
	const char *ssh_host_key;    /* ssh: pinned "SHA256:..." host key */
	uint64_t timeout_s;          /* whole fetch, wall clock */
	uint64_t max_bytes;          /* bytes received */
	int cancel_fd;               /* readable = give up now (plumbd's signalfd); -1 none */
	const char *user;            /* the fetch child runs as this user (NULL: root, as before) */
};

/* A remote on this host (a path or file://): its directory, which the
 * fetcher must read (Landlock) and its user reach. Returns 1 and fills
 * out, or 0 for a network URL. */
int plumb_git_local_remote(const char *url, char *out, size_t n);

/* Serializes writers of the cache (plumbd's fetch in flight, plumb apply). */
#define PLUMB_GIT_CACHE_LOCK "cache.lock"
/* A fetch in flight in its child process. */
struct plumb_git_fetch;

/* Starts plumb-fetch, which fetches opts->ref from opts->url into
 * state_dir/cache.git at PLUMB_GIT_FETCHED_REF (removed first: it never
 * outlives a fetch that did not bring it) and streams the tip, its tree
 * and its first-parent history down to the anchor (trust.json's) back on a
 * pipe, and returns at once. Takes the cache
 * lock (waiting up to lock_wait_s seconds) and holds it until the fetch is
 * finished or aborted. The caller owns the deadline (opts->timeout_s) and
 * opts->cancel_fd is not watched. Returns 0 with *out set, or a negative
 * code (err says why; a held cache lock is PLUMB_E_IO). */
int plumb_git_fetch_start(struct plumb_git_fetch **out, const struct plumb_git_opts *o, const char *state_dir,
			  int lock_wait_s, struct plumb_err *err);

/* The fd to wait on (readable, O_NONBLOCK): call plumb_git_fetch_pump. */
int plumb_git_fetch_fd(const struct plumb_git_fetch *f);

/* Reads what the child sent, without blocking (at most 4 MiB a call),
 * staging each object in the store after recomputing its id. Returns 1
 * when the child is done (EOF) or its stream was refused (call
 * plumb_git_fetch_finish), 0 when more is to come. */
int plumb_git_fetch_pump(struct plumb_git_fetch *f);

/* Reaps the child of a pumped-out fetch (killed if it lingers past 200 ms
 * or its stream was refused) and frees f (the lock goes with it). On
 * success the staged objects are made durable and the tip recorded.
 * Returns 0, PLUMB_E_NOTFOUND when the remote has no opts->ref ("the remote
 * has no REF"), PLUMB_E_INVALID for a stream the parent refused (forged,
 * oversized, malformed, truncated: "fetch from URL refused: ..."),
 * PLUMB_E_CORRUPT when the fetcher says its cache is damaged, or another
 * negative code with err saying why (the child's own message). */
int plumb_git_fetch_finish(struct plumb_git_fetch *f, struct plumb_err *err);

/* Kills and reaps the child and frees f. With err, fills it ("timed out
 * after N s" when timed_out, else "cancelled") and returns PLUMB_E_IO;
 * accepts NULL f (returns 0). Never waits more than the child's death. */
int plumb_git_fetch_abort(struct plumb_git_fetch *f, int timed_out, struct plumb_err *err);

/* start + pump + finish, waiting here: at most opts->timeout_s (then
 * "timed out after N s"), cut short when opts->cancel_fd is readable. For
 * one-shot commands; plumbd waits in its loop instead. */
int plumb_git_fetch(const struct plumb_git_opts *o, const char *state_dir, struct plumb_err *err);

struct plumb_git_tip {
	char commit[41];                       /* the verified commit */
	char signer[256];                      /* allowed_signers principals */
	char fingerprint[PLUMB_FINGERPRINT_MAX];
};

/* Verifies the fetched tip, read from the store: a commit signed by an allowed signer, or (for
 * refs/tags/NAME) an annotated tag named NAME signed by one and pointing at
 * a commit. Validity windows are judged at now. Returns 0 or
 * PLUMB_E_NOTFOUND (unsigned), PLUMB_E_INVALID (bad, unknown or expired);
 * err says which. */
int plumb_git_verify_tip(struct plumb_git_tip *out, const char *state_dir, const char *ref,
			 const struct plumb_signers *signers, time_t now, struct plumb_err *err);

/* Signed history: commit and every commit on its first-parent chain down
 * to anchor (exclusive) must be signed by an allowed signer valid at now;
 * with anchor NULL (no anchor yet), commit alone. Follows at most max
 * commits. Returns 0, or PLUMB_E_INVALID naming the first (oldest)
 * offending commit, or naming the tip when anchor is not on its
 * first-parent chain ("rollback: ..."), or PLUMB_E_TOOBIG past max. */
int plumb_git_check_history(const char *state_dir, const char *commit, const char *anchor,
			    const struct plumb_signers *signers, time_t now, size_t max, struct plumb_err *err);

/* Called after commit is recorded as the anchor: prunes the store to what
 * commit, the fetched tip and trust.json's anchor reach (skipped while a
 * fetch is in flight). The fetcher pins PLUMB_GIT_ANCHOR_REF in its cache
 * at its next fetch (it is told the anchor). */
int plumb_git_pin_anchor(const char *state_dir, const char *commit, struct plumb_err *err);

/* Called after a fetched tip was refused: what it brought goes. The store
 * is pruned to what held (the commit the caller enforces, or NULL) and
 * trust.json's anchor reach, and the fetcher's cache is discarded when it
 * occupies more than max_bytes (source.max_size). So a remote that keeps
 * serving refused tips costs at most about 2 x source.max_size on disk
 * (the store at most one fetch's worth, the cache at most two), never a
 * full disk. Both steps are skipped while a fetch is in flight. */
#define PLUMB_GIT_CACHE_ENTRIES_MAX 100000   /* a cache with more files than this is discarded too */
int plumb_git_forget_refused(const char *state_dir, const char *held, uint64_t max_bytes, struct plumb_err *err);

/* Checks that commit (verified by the caller) and its whole tree are in
 * the parent's store (objects.plumb/, plumb/objstore.h), each tree re-read
 * and re-hashed: they arrived with the fetch, capped at source.max_size
 * there (max_bytes is unused). Returns 0, PLUMB_E_NOTFOUND (withheld or
 * not yet fetched: the next fetch brings it), PLUMB_E_CORRUPT, or another
 * code. Enforcement reads only from the store. */
int plumb_git_store_verified(const char *state_dir, const char *commit, uint64_t max_bytes, struct plumb_err *err);

/* Deletes the cache (by fd, following no symlink) so the next fetch
 * rebuilds it from nothing. Takes the cache lock without waiting (never
 * under a fetch in flight). Returns 0 or a negative code. */
int plumb_git_cache_discard(const char *state_dir, struct plumb_err *err);

/* Opens a source over commit's tree in the verified store (its baseline at
 * baseline_file). info.commit/signer/fingerprint are copied from tip. */
int plumb_source_git_open(struct plumb_source **out, const char *state_dir,
			  const struct plumb_git_tip *tip, const char *baseline_file, struct plumb_err *err);

#endif
