/* session.h - browser sessions of the hub's page: the page posts a token
 * once (POST /v1/session, in the Authorization header) and gets back an
 * HttpOnly cookie holding a random session id, so links opened in a new
 * tab work without the token being asked for again and the token never
 * travels in a URL. Only the SHA-256 of a session id is stored. Each
 * session carries a CSRF token that state-changing requests made with the
 * cookie must echo in a header. A session ends at its expiry, at logout,
 * or when its token is revoked (checked on every request). */
#ifndef PLUMB_HUB_SESSION_H
#define PLUMB_HUB_SESSION_H
#include <time.h>
#include "db.h"
#include "token.h"

#define HUB_SESSION_TTL_DEFAULT (8 * 3600)
#define HUB_SESSION_TTL_MAX (30 * 86400)
/* 32 random bytes as hex, + NUL: the cookie value, and the CSRF token. */
#define HUB_SESSION_ID_LEN 65

/* Opens a session for the token whose stored hash is token_hash, valid
 * until now + ttl; writes its id and CSRF token. Expired sessions are
 * deleted on the way. Returns 0 or PLUMB_E_IO. */
int hub_session_open(struct hub_conn *c, const char *token_hash, time_t now, time_t ttl,
		     char id[HUB_SESSION_ID_LEN], char csrf[HUB_SESSION_ID_LEN], struct plumb_err *err);

/* Looks the session id (a cookie value) up. Returns 0 with role, subject,
 * csrf and *expires filled, PLUMB_E_NOTFOUND (malformed, unknown, expired,
 * logged out, or its token revoked) or PLUMB_E_IO. */
int hub_session_check(struct hub_conn *c, const char *id, time_t now, enum hub_role *role,
		      char subject[HUB_SUBJECT_MAX], char csrf[HUB_SESSION_ID_LEN], time_t *expires,
		      struct plumb_err *err);

/* Ends the session (logout). Returns 0 or PLUMB_E_IO. */
int hub_session_close(struct hub_conn *c, const char *id, struct plumb_err *err);

/* True if a and b (NUL-terminated) are equal, in time independent of where
 * they differ. */
int hub_session_token_equal(const char *a, const char *b);
#endif
