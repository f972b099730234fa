/* objstore.h - the parent's side of the fetch boundary: the frames the
 * plumb-fetch helper sends (raw git objects, each id recomputed here), the
 * strict parsers for what enforcement reads (commit headers, tree
 * entries), and the root-owned object store under state_dir that
 * enforcement reads instead of any git repository. No libgit2 here: only
 * plumb-fetch links it. docs/PRIVSEP.md describes the format. */
#ifndef PLUMB_OBJSTORE_H
#define PLUMB_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "plumb/error.h"

/* The store: state_dir/PLUMB_OBJSTORE_DIR, root's, 0700. */
#define PLUMB_OBJSTORE_DIR "objects.plumb"

/* Object types, as git numbers them (and as frames carry them). */
enum plumb_obj_type {
	PLUMB_OBJ_COMMIT = 1,
	PLUMB_OBJ_TREE = 2,
	PLUMB_OBJ_BLOB = 3,
	PLUMB_OBJ_TAG = 4,
};

/* "commit", "tree", "blob", "tag", or NULL for anything else. */
const char *plumb_obj_type_name(int type);

/* git's object id: SHA-1 over "TYPE LEN\0" and the bytes (plain SHA-1, no
 * collision detection: see docs/PRIVSEP.md). */
void plumb_obj_hash(int type, const void *data, size_t len, unsigned char out[20]);

void plumb_oid_hex(char out[41], const unsigned char id[20]);
/* 40 lowercase hex digits exactly. Returns 0 or -1. */
int plumb_oid_parse(unsigned char out[20], const char *hex);

/* A set of ids (open addressing; zero-initialized is empty). */
struct plumb_idset {
	unsigned char (*v)[20];
	unsigned char *used;
	size_t n, cap;
};
int plumb_idset_has(const struct plumb_idset *s, const unsigned char id[20]);
/* Returns 0 (added or already there) or -1 (no memory). */
int plumb_idset_add(struct plumb_idset *s, const unsigned char id[20]);
void plumb_idset_free(struct plumb_idset *s);

/* --- frames: plumb-fetch -> parent, on a pipe -------------------------------
 * Every frame: kind (u8), len (u32, big-endian), id (20 bytes), then len
 * bytes. Object frames (kind 1-4, the type) carry the object's id and its
 * raw content; control frames carry an all-zero id. */
#define PLUMB_FRAME_HEAD 25
#define PLUMB_FRAME_TIP 0x10    /* id: what the ref points at; len 0 */
#define PLUMB_FRAME_NOTE 0x11   /* len 1: the fetcher's claim that the tip descends from the anchor (1/0); wording only */
#define PLUMB_FRAME_DONE 0x12   /* len 0: the last frame of a fetch that worked */
#define PLUMB_FRAME_FAIL 0x13   /* status byte (PLUMB_FETCH_*), then a message; the last frame */

#define PLUMB_FRAME_FAIL_MAX 1024
/* Fetcher statuses in a FAIL frame (and its exit status). */
#define PLUMB_FETCH_FAILED 1
#define PLUMB_FETCH_NO_REF 3
#define PLUMB_FETCH_CORRUPT 4   /* its cache is damaged: the parent discards it */

struct plumb_frame_limits {
	uint64_t object_max;      /* bytes of one tree or blob */
	uint64_t content_max;     /* bytes of all trees and blobs of one fetch (source.max_size) */
	uint64_t meta_max;        /* bytes of all commits and tags of one fetch */
	uint64_t commit_max;      /* bytes of one commit or tag */
	uint64_t objects_max;     /* frames of one fetch */
};

/* Caps the parent applies (content_max comes from source.max_size). */
#define PLUMB_FRAME_COMMIT_MAX (1u << 20)
#define PLUMB_FRAME_META_MAX (64u << 20)
#define PLUMB_FRAME_OBJECTS_MAX 262144u
#define PLUMB_FRAME_OBJECT_MAX (64u << 20)

struct plumb_frame {
	int kind;
	const unsigned char *id;  /* 20 bytes */
	const unsigned char *data;
	size_t len;
};

/* Called for each complete, checked frame (an object frame's id already
 * recomputed and equal). Returns 0 to go on, or a negative code (with err). */
typedef int (*plumb_frame_fn)(void *arg, const struct plumb_frame *fr, struct plumb_err *err);

/* The incremental reader: fed whatever a non-blocking read brought. */
struct plumb_frames {
	struct plumb_frame_limits lim;
	unsigned char head[PLUMB_FRAME_HEAD];
	size_t headgot;
	unsigned char *body;
	size_t bodylen, bodygot;
	uint64_t content, meta, count;
	int ended;                /* a DONE or FAIL frame was read: nothing may follow */
	int broken;               /* an error was returned: everything after is refused */
};

void plumb_frames_init(struct plumb_frames *r, const struct plumb_frame_limits *lim);
void plumb_frames_release(struct plumb_frames *r);
/* Returns 0 or the first error (then every later call returns PLUMB_E_INVALID). */
int plumb_frames_feed(struct plumb_frames *r, const unsigned char *p, size_t n, plumb_frame_fn fn, void *arg,
		      struct plumb_err *err);
/* At EOF: PLUMB_E_INVALID when a frame was cut short or no DONE/FAIL came. */
int plumb_frames_eof(const struct plumb_frames *r, struct plumb_err *err);

/* Writes one frame to fd (blocking, the fetcher's side). Returns 0 or -1. */
int plumb_frame_write(int fd, int kind, const unsigned char id[20], const void *data, size_t len);

/* The fetcher's frames through a buffer: what fits goes out with what
 * comes next, one write(2) per PLUMB_FRAME_OUT_BUF bytes (and one wake-up
 * of the parent's loop, not two per frame); a frame larger than the
 * buffer is written through. Nothing waits in the buffer after _flush. */
#define PLUMB_FRAME_OUT_BUF (64u << 10)
struct plumb_frame_out {
	int fd;
	size_t n;
	unsigned char buf[PLUMB_FRAME_OUT_BUF];
};

void plumb_frame_out_init(struct plumb_frame_out *o, int fd);
/* Returns 0 or -1 (a write failed: errno says why). */
int plumb_frame_out_add(struct plumb_frame_out *o, int kind, const unsigned char id[20], const void *data,
			size_t len);
int plumb_frame_out_flush(struct plumb_frame_out *o);

/* --- strict parsers -------------------------------------------------------- */

#define PLUMB_TREE_MODE_TREE 040000
#define PLUMB_TREE_MODE_FILE 0100644
#define PLUMB_TREE_MODE_EXEC 0100755
#define PLUMB_TREE_MODE_LINK 0120000
#define PLUMB_TREE_MODE_GITLINK 0160000

struct plumb_tree_entry {
	unsigned mode;
	const char *name;         /* points into the tree's bytes; not NUL-terminated */
	size_t namelen;
	const unsigned char *id;  /* 20 bytes */
};

struct plumb_tree {
	struct plumb_tree_entry *v;
	size_t n;
};

/* Parses a tree: "MODE NAME\0ID20" entries, mode one of the five above
 * (octal, no leading zero), name non-empty, no '/', not "." or "..",
 * entries strictly in git's order (unique). The entries point into data,
 * which must outlive out. Returns 0 or PLUMB_E_INVALID / PLUMB_E_NOMEM. */
int plumb_tree_parse(struct plumb_tree *out, const unsigned char *data, size_t len, struct plumb_err *err);
void plumb_tree_release(struct plumb_tree *t);
/* The entry named name (namelen bytes), or NULL. */
const struct plumb_tree_entry *plumb_tree_find(const struct plumb_tree *t, const char *name, size_t namelen);

/* A commit's header: first line "tree ID", then zero or more "parent ID"
 * lines; *first_parent set only when *has_parent. Returns 0 or PLUMB_E_INVALID. */
int plumb_commit_parse(const unsigned char *data, size_t len, unsigned char tree[20], unsigned char first_parent[20],
		       int *has_parent, struct plumb_err *err);

/* --- the store --------------------------------------------------------------
 * One file per object, objects/XX/REST (the id in hex), holding git's
 * loose header "TYPE LEN\0" and the bytes uncompressed, root's 0600.
 * Writes go to incoming/ and are renamed into objects/ only after a
 * syncfs: an object under objects/ is durable. A tree is stored only when
 * every tree and blob it names is stored or arrives in the same batch, so
 * a stored tree is complete. Every read recomputes the id. */
struct plumb_objstore;

int plumb_objstore_open(struct plumb_objstore **out, const char *state_dir, int create, struct plumb_err *err);
void plumb_objstore_close(struct plumb_objstore *s);

/* 1 if id is stored (or staged in the current batch), 0 if not. */
int plumb_objstore_has(struct plumb_objstore *s, const unsigned char id[20]);

/* Reads id (its id recomputed) into *data (malloc'd, len bytes, NUL after
 * them); *type set. At most max bytes. Returns 0, PLUMB_E_NOTFOUND,
 * PLUMB_E_CORRUPT (damaged: the file is removed, so a fetch brings it
 * again), PLUMB_E_TOOBIG. */
int plumb_objstore_read(struct plumb_objstore *s, const unsigned char id[20], int *type, unsigned char **data,
			size_t *len, size_t max, struct plumb_err *err);

/* Stages an object whose id the caller has checked (objects already stored
 * or staged are skipped). Trees: every entry but gitlinks must be stored
 * or staged, else PLUMB_E_INVALID. Returns 0 or a negative code. */
int plumb_objstore_stage(struct plumb_objstore *s, int type, const unsigned char id[20], const void *data, size_t len,
			 struct plumb_err *err);

/* Makes the staged objects durable and visible (syncfs, renames, syncfs).
 * Without it (a crash, an abort) staged objects are never seen: the next
 * open sweeps them. Returns 0 or PLUMB_E_IO. */
int plumb_objstore_commit(struct plumb_objstore *s, struct plumb_err *err);

/* Whether commit id is stored with its whole tree: 0, PLUMB_E_NOTFOUND,
 * PLUMB_E_CORRUPT. */
int plumb_objstore_complete(struct plumb_objstore *s, const unsigned char id[20], struct plumb_err *err);

/* Removes every stored object that none of the nroots roots reaches (a tag
 * reaches its object; a commit its tree, not its parents; a tree all
 * below it), and what incoming/ holds. Roots missing from the store are
 * skipped. Crash-safe: only unreachable files go. Returns 0 or a code;
 * *removed counts the files removed. */
int plumb_objstore_prune(struct plumb_objstore *s, const unsigned char (*roots)[20], size_t nroots, size_t *removed,
			 struct plumb_err *err);

/* A small record beside the objects (the fetched tip): name is a plain
 * file name, written tmp+rename, not synced (a record lost in a crash is
 * written again by the next fetch; the objects it names are synced
 * before it); text at most 255 bytes. */
int plumb_objstore_put_note(struct plumb_objstore *s, const char *name, const char *text, struct plumb_err *err);
/* Reads it into out (NUL-terminated). Returns 0, PLUMB_E_NOTFOUND or another code. */
int plumb_objstore_get_note(struct plumb_objstore *s, const char *name, char *out, size_t n, struct plumb_err *err);
int plumb_objstore_drop_note(struct plumb_objstore *s, const char *name);

#endif
