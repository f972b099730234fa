/* token.h - bearer tokens: agent tokens bound to one host (may only POST
 * that host's reports), viewer tokens (may only read), operator tokens
 * (read, and acknowledge events) and admin tokens (everything an operator
 * may, and read the audit trail). Only SHA-256 hashes of tokens are
 * stored; a token is shown once, when it is made. */
#ifndef PLUMB_HUB_TOKEN_H
#define PLUMB_HUB_TOKEN_H
#include <stdio.h>
#include "db.h"

/* "pha_" (agent), "phv_" (viewer), "pho_" (operator) or "phx_" (admin)
 * + 64 hex digits + NUL. */
#define HUB_TOKEN_LEN 69
#define HUB_SUBJECT_MAX 256

/* Ordered: each of viewer, operator, admin may do what the ones before it
 * may (an agent only reports). */
enum hub_role { HUB_ROLE_AGENT, HUB_ROLE_VIEWER, HUB_ROLE_OPERATOR, HUB_ROLE_ADMIN };

/* "agent", "viewer", "operator", "admin". */
const char *hub_role_name(enum hub_role r);

/* True if s can name a host or viewer: 1 to 255 printable characters, no
 * spaces. A client certificate's CN must pass it too. */
int hub_token_subject_valid(const char *s);

/* Makes a token for role and subject (the host, or the viewer's name) and
 * writes it to out. Returns 0, PLUMB_E_INVALID (bad subject) or PLUMB_E_IO. */
int hub_token_add(struct hub_conn *c, enum hub_role role, const char *subject, char out[HUB_TOKEN_LEN],
		  struct plumb_err *err);

/* Looks a presented token up. Returns 0 with *role and subject filled
 * (and hash, if not NULL: the stored SHA-256, which names the token in
 * sessions), PLUMB_E_NOTFOUND (unknown or revoked) or PLUMB_E_IO. */
int hub_token_check(struct hub_conn *c, const char *token, enum hub_role *role, char subject[HUB_SUBJECT_MAX],
		    char hash[65], struct plumb_err *err);

/* Prints one line per token: id, role, subject, created, revoked. */
int hub_token_list(struct hub_conn *c, FILE *f, struct plumb_err *err);

/* Revokes the token whose id (hash prefix from token list, 12 hex digits)
 * is id, and ends every browser session it opened. Returns 0,
 * PLUMB_E_NOTFOUND or PLUMB_E_IO. */
int hub_token_revoke(struct hub_conn *c, const char *id, struct plumb_err *err);
#endif
