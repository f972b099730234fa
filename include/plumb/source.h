/* source.h - where a baseline comes from, behind one interface: a plain
 * directory (unsigned development mode) now, the signed git source later.
 * A source yields the baseline's bytes and the files its `source:` keys name. */
#ifndef PLUMB_SOURCE_H
#define PLUMB_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "plumb/buf.h"
#include "plumb/error.h"

/* Largest baseline YAML accepted. */
#define PLUMB_BASELINE_MAX (16u << 20)

/* Who vouches for the baseline. All NULL for an unsigned directory. */
struct plumb_source_info {
	const char *commit;        /* commit id, hex */
	const char *signer;        /* allowed_signers principal */
	const char *fingerprint;   /* "SHA256:..." of the signing key */
};

/* One file of the baseline, opened for reading: either fd >= 0 (read with
 * pread from offset 0) or mem != NULL. */
struct plumb_blob {
	uint64_t size;
	int fd;
	const unsigned char *mem;
	void *priv;
	void (*release)(struct plumb_blob *b);
};

struct plumb_source_ops {
	int (*load)(void *self, struct plumb_buf *out, struct plumb_err *err);
	int (*blob_open)(void *self, struct plumb_blob **out, const char *rel, struct plumb_err *err);
	/* Optional: the git blob id of rel from its tree entry, without reading
	 * the blob, so a file can be compared by hashing only the file (the id
	 * covers size and content). NULL where ids are unknown. */
	int (*blob_id)(void *self, const char *rel, unsigned char oid[20], struct plumb_err *err);
	/* Optional: drops what the source keeps only to make one pass fast
	 * (the git source's parsed trees); the next lookup reads again. */
	void (*trim)(void *self);
	void (*free)(void *self);
};

struct plumb_source {
	const struct plumb_source_ops *ops;
	void *self;
	char *name;                /* the baseline's name for messages */
	struct plumb_source_info info;
};

/* Opens a directory source: dir holds baseline_file (relative) and the files
 * it names. Returns 0 or a negative code with err filled. */
int plumb_source_dir_open(struct plumb_source **out, const char *dir,
			  const char *baseline_file, struct plumb_err *err);

/* Reads the baseline document into out (capped at PLUMB_BASELINE_MAX). */
int plumb_source_load(struct plumb_source *s, struct plumb_buf *out, struct plumb_err *err);

/* Opens the regular file rel (relative, normalized) of the baseline.
 * Returns 0, PLUMB_E_NOTFOUND, PLUMB_E_UNSAFE (symlink, not a regular
 * file), or another negative code; err filled. */
int plumb_source_blob_open(struct plumb_source *s, struct plumb_blob **out, const char *rel,
			   struct plumb_err *err);

/* The git blob id of rel. PLUMB_E_UNSUPPORTED where the source has no ids
 * (a plain directory). */
int plumb_source_blob_id(struct plumb_source *s, const char *rel, unsigned char oid[20], struct plumb_err *err);

/* Called when a pass over the baseline is done: a source enforced for
 * days holds no per-pass cache between passes. Accepts NULL. */
void plumb_source_trim(struct plumb_source *s);

/* Reads up to len bytes at off. Returns bytes read (0 at the end) or -1 with errno. */
long plumb_blob_pread(const struct plumb_blob *b, void *buf, size_t len, uint64_t off);

/* Closes a blob. Accepts NULL. */
void plumb_blob_free(struct plumb_blob *b);

/* Frees the source. Accepts NULL. */
void plumb_source_free(struct plumb_source *s);

#endif
