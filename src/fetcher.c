/* fetcher.c - plumb-fetch: the bounded git fetch into the fetcher's own bare
 * cache, then the objects the parent needs, as frames on fd 3. The only
 * code that links libgit2 (built into plumb-fetch alone, not libplumb.a).
 * The cache is plumb's own bare repository; no user or system git config,
 * no instead-of rewriting, no redirects, no tags beyond the one ref asked. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <git2.h>
#include <openssl/evp.h>

#include "plumb/buf.h"
#include "plumb/fetcher.h"
#include "plumb/gitsrc.h"
#include "plumb/objstore.h"
#include "plumb/sandbox.h"
#include "banned.h"

struct fetch_args {
	const char *cache, *url, *ref, *ca_file, *ssh_key, *ssh_host_key, *anchor, *have;
	unsigned long long max_bytes, timeout_s, history_max;
	struct plumb_sandbox_user user;
};

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* Empties libgit2's config search paths: no system, global or XDG config. */
static void isolate(void)
{
	static const int levels[] = {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
				     GIT_CONFIG_LEVEL_PROGRAMDATA};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
}

struct fetch_ctx {
	const struct fetch_args *a;
	char err[512];
	int cred_tries;
	char *ssh_key;             /* source.ssh_key's text, read before the drop; NULL: by path */
};

static int cb_progress(const git_indexer_progress *st, void *payload)
{
	struct fetch_ctx *c = payload;

	if (st->received_bytes > c->a->max_bytes) {
		snprintf(c->err, sizeof(c->err), "fetch exceeded source.max_size (%llu bytes)", c->a->max_bytes);
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
	if (c->a->ssh_host_key == NULL) {
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
	if (strcmp(fp, c->a->ssh_host_key) != 0) {
		snprintf(c->err, sizeof(c->err), "ssh host '%s' key %s is not the pinned %s", host, fp,
			 c->a->ssh_host_key);
		return -1;
	}
	return 0;
}

static int cb_credentials(git_credential **out, const char *url, const char *user, unsigned int allowed,
			  void *payload)
{
	struct fetch_ctx *c = payload;

	(void)url;
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || c->a->ssh_key == NULL || c->cred_tries++ > 0) {
		snprintf(c->err, sizeof(c->err), "the git server asked for credentials that plumb does not have%s",
			 c->a->ssh_key ? " (source.ssh_key was refused)" : "");
		return -1;
	}
	if (c->ssh_key != NULL)
		return git_credential_ssh_key_memory_new(out, user ? user : "git", NULL, c->ssh_key, NULL);
	return git_credential_ssh_key_new(out, user ? user : "git", NULL, c->a->ssh_key, NULL);
}

/* Whether libgit2's last error is about the local object store rather
 * than the network or the remote's data. */
static int local_damage(void)
{
	const git_error *e = git_error_last();

	return e != NULL && (e->klass == GIT_ERROR_ODB || e->klass == GIT_ERROR_ZLIB || e->klass == GIT_ERROR_OBJECT ||
			     e->klass == GIT_ERROR_REPOSITORY || e->klass == GIT_ERROR_REFERENCE);
}

/* Reads a secret the confined process could not open itself. */
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


/* A fetch killed by the watchdog can leave ref locks and temporary packs;
 * the parent holds the cache lock for us, so no other fetch owns them. */
static void clear_stale(void)
{
	static const char *const refs[] = {PLUMB_GIT_FETCHED_REF, PLUMB_GIT_ANCHOR_REF, PLUMB_GIT_PREVIOUS_REF};
	char p[256];
	struct dirent *de;
	DIR *d;

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		snprintf(p, sizeof(p), "%s.lock", refs[i]);
		(void)unlink(p);
	}
	if ((d = opendir("objects/pack")) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "pack_git2_", 10) == 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* --- sending ---------------------------------------------------------------- */

struct sender {
	struct plumb_frame_out *out;   /* fd 3, buffered */
	git_repository *repo;
	git_odb *odb;
	struct plumb_idset skip;   /* the parent has these (the stored anchor's tree) or they were sent */
	unsigned long long content;
	unsigned long long max_bytes;
	char err[512];
	int status;                /* PLUMB_FETCH_* on failure */
};

static int obj_type(git_object_t t)
{
	switch (t) {
	case GIT_OBJECT_COMMIT: return PLUMB_OBJ_COMMIT;
	case GIT_OBJECT_TREE: return PLUMB_OBJ_TREE;
	case GIT_OBJECT_BLOB: return PLUMB_OBJ_BLOB;
	case GIT_OBJECT_TAG: return PLUMB_OBJ_TAG;
	default: return 0;
	}
}

static int fail(struct sender *s, int status, const char *what, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1] = "";

	if (id != NULL)
		git_oid_tostr(hex, sizeof(hex), id);
	snprintf(s->err, sizeof(s->err), "%s %.12s: %s", what, hex, git_msg());
	s->status = status == PLUMB_FETCH_FAILED && local_damage() ? PLUMB_FETCH_CORRUPT : status;
	return -1;
}

/* Sends one object as read from the cache (libgit2 checks its hash). */
static int send_object(struct sender *s, const git_oid *id, git_object_t want)
{
	git_odb_object *o = NULL;
	int r = 0;

	if (git_odb_read(&o, s->odb, id) != 0)
		return fail(s, PLUMB_FETCH_CORRUPT, "cannot read object", id);
	if (want != GIT_OBJECT_ANY && git_odb_object_type(o) != want) {
		snprintf(s->err, sizeof(s->err), "object %.12s is not a %s", git_oid_tostr_s(id), git_object_type2string(want));
		s->status = PLUMB_FETCH_FAILED;
		r = -1;
	} else if (plumb_frame_out_add(s->out, obj_type(git_odb_object_type(o)), id->id, git_odb_object_data(o),
				       git_odb_object_size(o)) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot write to the parent: %s", strerror(errno));
		s->status = PLUMB_FETCH_FAILED;
		r = -1;
	}
	git_odb_object_free(o);
	return r;
}

/* A tree and all below it, children first (the parent stores no tree
 * before what it names); what is in skip is not sent, and what is sent
 * goes into skip. With collect, only adds the ids to skip (sends nothing). */
static int send_tree(struct sender *s, const git_oid *id, unsigned depth, int collect)
{
	git_tree *t = NULL;
	int r = 0;

	if (plumb_idset_has(&s->skip, id->id))
		return 0;
	if (depth > 64) {
		snprintf(s->err, sizeof(s->err), "the baseline's tree is nested more than 64 deep");
		s->status = PLUMB_FETCH_FAILED;
		return -1;
	}
	if (git_tree_lookup(&t, s->repo, id) != 0)
		return fail(s, PLUMB_FETCH_CORRUPT, "cannot read tree", id);
	for (size_t i = 0; r == 0 && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const git_oid *eid = git_tree_entry_id(e);

		switch (git_tree_entry_type(e)) {
		case GIT_OBJECT_TREE:
			r = send_tree(s, eid, depth + 1, collect);
			break;
		case GIT_OBJECT_BLOB:
			if (plumb_idset_has(&s->skip, eid->id))
				break;
			if (!collect) {
				size_t size = 0;
				git_object_t type;

				if (git_odb_read_header(&size, &type, s->odb, eid) != 0) {
					r = fail(s, PLUMB_FETCH_CORRUPT, "cannot read blob", eid);
					break;
				}
				if ((s->content += size) > s->max_bytes) {
					snprintf(s->err, sizeof(s->err), "the baseline's tree is larger than source.max_size "
						 "(%llu bytes)", s->max_bytes);
					s->status = PLUMB_FETCH_FAILED;
					r = -1;
					break;
				}
				if ((r = send_object(s, eid, GIT_OBJECT_BLOB)) != 0)
					break;
			}
			if (plumb_idset_add(&s->skip, eid->id) != 0)
				r = -1;
			break;
		default:
			break;     /* a submodule's commit: never read by a baseline */
		}
	}
	if (r == 0 && !collect)
		r = send_object(s, id, GIT_OBJECT_TREE);
	if (r == 0 && plumb_idset_add(&s->skip, id->id) != 0)
		r = -1;
	git_tree_free(t);
	return r;
}

static int commit_tree(struct sender *s, const git_oid *commit, git_oid *tree)
{
	git_commit *c = NULL;

	if (git_commit_lookup(&c, s->repo, commit) != 0)
		return fail(s, PLUMB_FETCH_CORRUPT, "cannot read commit", commit);
	git_oid_cpy(tree, git_commit_tree_id(c));
	git_commit_free(c);
	return 0;
}

/* What the parent needs to judge and enforce the fetched tip. */
static int send_all(struct sender *s, const struct fetch_args *a, const git_oid *tip)
{
	git_oid commit, tree, anchor, cur, have;
	int has_anchor = a->anchor != NULL && git_oid_fromstr(&anchor, a->anchor) == 0, need_anchor, r = -1;
	unsigned long long n = 0;
	git_odb_object *o = NULL;

	if (git_odb_read(&o, s->odb, tip) != 0)
		return fail(s, PLUMB_FETCH_CORRUPT, "cannot read the fetched tip", tip);
	if (git_odb_object_type(o) == GIT_OBJECT_TAG) {
		git_tag *tag = NULL;
		int to_commit = git_tag_lookup(&tag, s->repo, tip) == 0 && git_tag_target_type(tag) == GIT_OBJECT_COMMIT;

		if (to_commit)
			git_oid_cpy(&commit, git_tag_target_id(tag));
		git_tag_free(tag);
		if (!to_commit) {
			/* Not a tag of a commit: the parent refuses it; nothing else is needed. */
			git_odb_object_free(o);
			r = send_object(s, tip, GIT_OBJECT_TAG);
			goto tipframe;
		}
	} else if (git_odb_object_type(o) == GIT_OBJECT_COMMIT) {
		git_oid_cpy(&commit, tip);
	} else {
		git_odb_object_free(o);
		r = send_object(s, tip, GIT_OBJECT_ANY);
		goto tipframe;
	}
	git_odb_object_free(o);
	o = NULL;
	/* What the parent has whole (--have: the anchor, or the previous tip)
	 * is not sent; the anchor, when it is not that, is sent whole. */
	need_anchor = has_anchor && git_odb_exists(s->odb, &anchor) && (a->have == NULL || strcmp(a->have, a->anchor) != 0);
	if (a->have != NULL && git_oid_fromstr(&have, a->have) == 0 && git_odb_exists(s->odb, &have)) {
		git_oid tip_tree;

		if (commit_tree(s, &have, &tree) != 0 || commit_tree(s, &commit, &tip_tree) != 0)
			goto out;
		/* The tip's tree is the one the parent has (every poll of an
		 * unchanged tip): nothing below it is sent, so nothing below it
		 * is walked either (2,000 trees inflated at 10,000 files). */
		if (!need_anchor && git_oid_equal(&tree, &tip_tree)) {
			if (plumb_idset_add(&s->skip, tree.id) != 0)
				goto out;
		} else if (send_tree(s, &tree, 0, 1) != 0) {
			goto out;
		}
	}
	if (need_anchor) {
		if (commit_tree(s, &anchor, &tree) != 0 || send_tree(s, &tree, 0, 0) != 0 ||
		    send_object(s, &anchor, GIT_OBJECT_COMMIT) != 0)
			goto out;
	}
	if (commit_tree(s, &commit, &tree) != 0 || send_tree(s, &tree, 0, 0) != 0)
		goto out;
	/* The first-parent chain from the tip down to the anchor (exclusive),
	 * at most history_max commits; without an anchor, the tip alone. */
	git_oid_cpy(&cur, &commit);
	for (;;) {
		git_commit *c = NULL;

		if ((has_anchor && git_oid_equal(&cur, &anchor) && n > 0) || n >= a->history_max)
			break;
		if (send_object(s, &cur, GIT_OBJECT_COMMIT) != 0)
			goto out;
		n++;
		if (!has_anchor || git_oid_equal(&cur, &anchor))
			break;
		if (git_commit_lookup(&c, s->repo, &cur) != 0) {
			fail(s, PLUMB_FETCH_CORRUPT, "cannot read commit", &cur);
			goto out;
		}
		if (git_commit_parentcount(c) == 0) {
			git_commit_free(c);
			break;
		}
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
	}
	if (has_anchor) {
		/* Only the wording of a refusal depends on it (rollback or a merge's
		 * second parent): the parent decides from first parents alone. */
		unsigned char d = git_oid_equal(&commit, &anchor) || git_graph_descendant_of(s->repo, &commit, &anchor) == 1;

		if (plumb_frame_out_add(s->out, PLUMB_FRAME_NOTE, NULL, &d, 1) != 0)
			goto wfail;
	}
	if (!git_oid_equal(&commit, tip) && send_object(s, tip, GIT_OBJECT_TAG) != 0)
		goto out;
	r = 0;
tipframe:
	if (r == 0 && plumb_frame_out_add(s->out, PLUMB_FRAME_TIP, tip->id, NULL, 0) != 0)
		goto wfail;
	return r;
wfail:
	snprintf(s->err, sizeof(s->err), "cannot write to the parent: %s", strerror(errno));
	s->status = PLUMB_FETCH_FAILED;
	return -1;
out:
	git_odb_object_free(o);
	return -1;
}

/* --- the fetch -------------------------------------------------------------- */

static int start_libgit2(struct sender *s, const struct fetch_args *a)
{
	if (git_libgit2_init() < 0) {
		snprintf(s->err, sizeof(s->err), "cannot initialise libgit2: %.200s", git_msg());
		return -1;
	}
	/* Confined first (no TLS), the default bundle could not be read:
	 * that error is nobody's. */
	git_error_clear();
	isolate();
	/* Whole trees cached (the default skips trees over 4 KiB). The cache
	 * is ours, a local remote anyone's: trusted by neither owner nor
	 * config. Every object read is hash-checked (said so it stays so). */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)(8 << 20));
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	if (a->ca_file && git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, a->ca_file, NULL) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot use source.ca_file '%.200s': %.200s", a->ca_file, git_msg());
		return -1;
	}
	return 0;
}

static int do_fetch(const struct fetch_args *a, struct sender *s)
{
	git_remote_create_options copts = GIT_REMOTE_CREATE_OPTIONS_INIT;
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	struct fetch_ctx ctx = {a, "", 0, NULL};
	char remote_dir[4096];
	const char *extra[2] = {remote_dir, NULL};
	int keep = PLUMB_FETCHER_FD;
	struct plumb_err e;
	git_remote *remote = NULL;
	git_reference *prev = NULL;
	git_oid tip, anchor;
	char spec[1024];
	char *specs[1] = {spec};
	git_strarray refspecs = {specs, 1};
	/* http:// needs no bundle either (redirects are not followed), but a
	 * scheme in capitals, or a ca_file given, keeps the TLS order. */
	int tls = strncasecmp(a->url, "https:", 6) == 0 || a->ca_file != NULL, r = -1;

	s->status = PLUMB_FETCH_FAILED;
	/* What needs root's eyes is read first: the CA bundles (parsed by
	 * mbedTLS in git_libgit2_init() and for source.ca_file) and the ssh
	 * key. Then the process confines itself for good. Without TLS no
	 * bundle is needed: libgit2 starts after the confinement, which
	 * leaves it none to parse. */
	if (tls && start_libgit2(s, a) != 0)
		goto out;
	if (a->ssh_key != NULL)
		ctx.ssh_key = read_secret(a->ssh_key);
	if (chdir(a->cache) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot enter the cache '%.200s': %s", a->cache, strerror(errno));
		goto out;
	}
	if (plumb_sandbox_enter(&a->user, tls ? PLUMB_SANDBOX_FETCH : PLUMB_SANDBOX_FETCH_PLAIN, &keep, 1,
				plumb_git_local_remote(a->url, remote_dir, sizeof(remote_dir)) ? extra : NULL, &e) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot confine the fetch process: %.400s", e.msg);
		goto out;
	}
	if (!tls && start_libgit2(s, a) != 0)
		goto out;
	clear_stale();
	if (git_repository_open_bare(&s->repo, a->cache) != 0 && git_repository_init(&s->repo, a->cache, 1) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot create the cache repository '%.200s': %.200s", a->cache, git_msg());
		s->status = PLUMB_FETCH_CORRUPT;
		goto out;
	}
	if (git_repository_odb(&s->odb, s->repo) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot open the cache's objects: %.200s", git_msg());
		s->status = PLUMB_FETCH_CORRUPT;
		goto out;
	}
	/* The anchor stays reachable in the cache whatever the remote's refs
	 * do (the negotiation offers it; the history walk needs it). */
	if (a->anchor != NULL && git_oid_fromstr(&anchor, a->anchor) == 0 && git_odb_exists(s->odb, &anchor)) {
		git_reference *ar = NULL;

		(void)git_reference_create(&ar, s->repo, PLUMB_GIT_ANCHOR_REF, &anchor, 1, NULL);
		git_reference_free(ar);
	}
	copts.repository = s->repo;
	copts.name = NULL;
	copts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, a->url, &copts) != 0) {
		snprintf(s->err, sizeof(s->err), "bad source.url '%.200s': %.200s", a->url, git_msg());
		goto out;
	}
	/* Every fetch starts without the fetched ref: a ref the remote no longer
	 * has must not leave the previous tip in place, and a ref left at a tag
	 * of a tree must not wedge the next fetch (libgit2 1.5's local
	 * transport walks the cache's refs). */
	if (git_reference_lookup(&prev, s->repo, PLUMB_GIT_FETCHED_REF) == 0) {
		/* The previous tip, as a commit, stays as a negotiation hint: without
		 * it a host with no anchor (audit mode) would download the whole
		 * history for every new tip over https. */
		git_object *c = NULL;
		git_reference *hint = NULL;

		if (git_reference_peel(&c, prev, GIT_OBJECT_COMMIT) == 0)
			(void)git_reference_create(&hint, s->repo, PLUMB_GIT_PREVIOUS_REF, git_object_id(c), 1, NULL);
		git_reference_free(hint);
		git_object_free(c);
		git_reference_free(prev);
	}
	r = git_reference_remove(s->repo, PLUMB_GIT_FETCHED_REF);
	if (r != 0 && r != GIT_ENOTFOUND) {
		r = -1;
		snprintf(s->err, sizeof(s->err), "cannot clear '%s' in the cache: %.200s", PLUMB_GIT_FETCHED_REF, git_msg());
		goto out;
	}
	r = -1;
	snprintf(spec, sizeof(spec), "+%s:%s", a->ref, PLUMB_GIT_FETCHED_REF);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	fo.update_fetchhead = 0;
	fo.callbacks.transfer_progress = cb_progress;
	fo.callbacks.certificate_check = cb_certificate;
	fo.callbacks.credentials = cb_credentials;
	fo.callbacks.payload = &ctx;
	if (git_remote_fetch(remote, &refspecs, &fo, NULL) != 0) {
		snprintf(s->err, sizeof(s->err), "%s", ctx.err[0] ? ctx.err : git_msg());
		if (!ctx.err[0] && local_damage())
			s->status = PLUMB_FETCH_CORRUPT;
		goto out;
	}
	if (git_reference_name_to_id(&tip, s->repo, PLUMB_GIT_FETCHED_REF) != 0) {
		snprintf(s->err, sizeof(s->err), "the remote has no %.200s", a->ref);
		s->status = PLUMB_FETCH_NO_REF;
		goto out;
	}
	s->max_bytes = a->max_bytes;
	r = send_all(s, a, &tip);
out:
	if (ctx.ssh_key != NULL) {
		explicit_bzero(ctx.ssh_key, strlen(ctx.ssh_key));
		free(ctx.ssh_key);
	}
	git_remote_free(remote);
	return r;
}

static int parse_args(struct fetch_args *a, int argc, char **argv)
{
	enum { O_CACHE = 256, O_URL, O_REF, O_CA, O_KEY, O_HOSTKEY, O_MAX, O_TIMEOUT, O_UID, O_GID, O_USER, O_ANCHOR,
	       O_HAVE, O_HISTORY };
	static const struct option opts[] = {
		{"cache", required_argument, NULL, O_CACHE}, {"url", required_argument, NULL, O_URL},
		{"ref", required_argument, NULL, O_REF}, {"ca-file", required_argument, NULL, O_CA},
		{"ssh-key", required_argument, NULL, O_KEY}, {"ssh-host-key", required_argument, NULL, O_HOSTKEY},
		{"max-bytes", required_argument, NULL, O_MAX}, {"timeout", required_argument, NULL, O_TIMEOUT},
		{"uid", required_argument, NULL, O_UID}, {"gid", required_argument, NULL, O_GID},
		{"user", required_argument, NULL, O_USER}, {"anchor", required_argument, NULL, O_ANCHOR},
		{"have", required_argument, NULL, O_HAVE}, {"history-max", required_argument, NULL, O_HISTORY},
		{NULL, 0, NULL, 0},
	};
	int c, have_uid = 0, have_gid = 0;
	char *end;

	memset(a, 0, sizeof(*a));
	a->history_max = PLUMB_GIT_HISTORY_MAX;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long long v = 0;

		if (c == O_MAX || c == O_TIMEOUT || c == O_UID || c == O_GID || c == O_HISTORY) {
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] == '\0' || optarg[0] == '-')
				return -1;
		}
		switch (c) {
		case O_CACHE: a->cache = optarg; break;
		case O_URL: a->url = optarg; break;
		case O_REF: a->ref = optarg; break;
		case O_CA: a->ca_file = optarg; break;
		case O_KEY: a->ssh_key = optarg; break;
		case O_HOSTKEY: a->ssh_host_key = optarg; break;
		case O_MAX: a->max_bytes = v; break;
		case O_TIMEOUT: a->timeout_s = v; break;
		case O_UID: a->user.uid = (uid_t)v; have_uid = 1; break;
		case O_GID: a->user.gid = (gid_t)v; have_gid = 1; break;
		case O_USER: snprintf(a->user.name, sizeof(a->user.name), "%s", optarg); break;
		case O_ANCHOR: a->anchor = optarg; break;
		case O_HAVE: a->have = optarg; break;
		case O_HISTORY: a->history_max = v; break;
		default: return -1;
		}
	}
	if (optind != argc || a->cache == NULL || a->url == NULL || a->ref == NULL || a->max_bytes == 0 ||
	    a->timeout_s == 0 || have_uid != have_gid)
		return -1;
	if (have_uid) {
		if (a->user.uid == 0 || a->user.gid == 0)
			return -1;
		a->user.found = 1;
	} else {
		snprintf(a->user.name, sizeof(a->user.name), "root");
	}
	return 0;
}

int plumb_fetcher_main(int argc, char **argv)
{
	static struct plumb_frame_out out;   /* 64 KiB: not on the stack */
	struct fetch_args a;
	struct sender s;
	int r;

	memset(&s, 0, sizeof(s));
	plumb_frame_out_init(&out, PLUMB_FETCHER_FD);
	s.out = &out;
	signal(SIGPIPE, SIG_IGN);      /* a parent gone: a write error, not a silent death */
	if (parse_args(&a, argc, argv) != 0) {
		static const char msg[] = "\001plumb-fetch: bad arguments (it is run by plumb and plumbd only)";

		(void)plumb_frame_write(PLUMB_FETCHER_FD, PLUMB_FRAME_FAIL, NULL, msg, sizeof(msg) - 1);
		return PLUMB_FETCH_FAILED;
	}
	/* Our own deadline too: the parent kills us at source.timeout, and
	 * this outlives a parent that died without doing so. */
	alarm((unsigned)(a.timeout_s + 5));
	r = do_fetch(&a, &s);
	if (r == 0 && plumb_frame_out_add(s.out, PLUMB_FRAME_DONE, NULL, NULL, 0) == 0 && plumb_frame_out_flush(s.out) == 0) {
		r = 0;
	} else {
		unsigned char msg[1 + sizeof(s.err)];
		size_t n = strlen(s.err);

		if (r == 0) {
			snprintf(s.err, sizeof(s.err), "cannot write to the parent: %s", strerror(errno));
			s.status = PLUMB_FETCH_FAILED;
			n = strlen(s.err);
		}
		if (n == 0)
			n = (size_t)snprintf(s.err, sizeof(s.err), "fetch failed");
		msg[0] = (unsigned char)s.status;
		memcpy(msg + 1, s.err, n);
		/* After what was sent (the parent sweeps it): the reason last. */
		if (plumb_frame_out_add(s.out, PLUMB_FRAME_FAIL, NULL, msg, n + 1) == 0)
			(void)plumb_frame_out_flush(s.out);
		r = s.status;
	}
	plumb_idset_free(&s.skip);
	git_odb_free(s.odb);
	git_repository_free(s.repo);
	return r;
}
