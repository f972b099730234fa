/* gitobj.h - splits raw git commit and tag objects into the signed payload
 * and the SSH signature, byte-exact as git does, without libgit2's
 * git_commit_extract_signature (see shared/SIGNING.md for why). */
#ifndef PLUMB_GITOBJ_H
#define PLUMB_GITOBJ_H

#include <stddef.h>

#include "plumb/error.h"

struct plumb_signed_obj {
	unsigned char *payload;   /* what the signature covers, malloc'd */
	size_t payload_len;
	char *signature;          /* the armored signature, malloc'd, NUL-terminated */
	size_t signature_len;
};

/* Commit: no NUL byte anywhere; only the header block is searched; exactly
 * one `gpgsig` header; the payload is the object without any gpgsig*
 * header. Returns 0, PLUMB_E_NOTFOUND (unsigned) or PLUMB_E_INVALID. */
int plumb_gitobj_commit_split(struct plumb_signed_obj *out, const unsigned char *obj, size_t len,
			      struct plumb_err *err);

/* Annotated tag: no NUL byte; the signature starts at the last line that
 * begins "-----BEGIN SSH SIGNATURE-----" (in the message, after the headers);
 * the payload is everything before it. Same returns. */
int plumb_gitobj_tag_split(struct plumb_signed_obj *out, const unsigned char *obj, size_t len,
			   struct plumb_err *err);

/* Copies the value of the single header `name` (from the header block) into
 * out. Returns 0, PLUMB_E_NOTFOUND, or PLUMB_E_INVALID (repeated, too long). */
int plumb_gitobj_header(char *out, size_t outlen, const unsigned char *obj, size_t len, const char *name);

void plumb_signed_obj_release(struct plumb_signed_obj *o);

#endif
