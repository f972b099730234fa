/* users.h - user and group names resolved from the TARGET root's own
 * /etc/passwd and /etc/group (never NSS), so a sandbox or an image's root
 * filesystem resolves its own users. */
#ifndef PLUMB_USERS_H
#define PLUMB_USERS_H

#include <sys/types.h>

#include "plumb/error.h"

/* Largest passwd or group file read. */
#define PLUMB_USERS_FILE_MAX (16u << 20)

struct plumb_users;

/* Reads etc/passwd and etc/group below rootfd (missing files are empty).
 * Returns 0 or a negative code with err filled. */
int plumb_users_load(struct plumb_users **out, int rootfd, struct plumb_err *err);

void plumb_users_free(struct plumb_users *u);

/* Resolves a user: a decimal number, "root" (always 0), or a name from the
 * root's passwd. u may be NULL (numbers and root only). Returns 0 or
 * PLUMB_E_NOTFOUND. */
int plumb_users_uid(const struct plumb_users *u, const char *name, uid_t *out);

/* Resolves a group likewise ("root" is always 0). */
int plumb_users_gid(const struct plumb_users *u, const char *name, gid_t *out);

/* The primary group of uid: the group field of its first passwd line
 * (uid 0 is always group 0). Returns 0 or PLUMB_E_NOTFOUND. */
int plumb_users_primary_gid(const struct plumb_users *u, uid_t uid, gid_t *out);

#endif
