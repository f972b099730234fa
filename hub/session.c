/* session.c - browser sessions: random ids stored as SHA-256, bound to the
 * token that opened them (revoking it ends them), with an expiry and a
 * CSRF token each. */
#include "session.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "plumb/hash.h"
#include "plumb/util.h"
#include "../src/banned.h"

static int random_hex(char out[HUB_SESSION_ID_LEN])
{
	unsigned char rnd[32];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	plumb_hex(out, rnd, sizeof(rnd));
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

static int id_valid(const char *id)
{
	return strlen(id) == HUB_SESSION_ID_LEN - 1 && strspn(id, "0123456789abcdef") == HUB_SESSION_ID_LEN - 1;
}

int hub_session_open(struct hub_conn *c, const char *token_hash, time_t now, time_t ttl,
		     char id[HUB_SESSION_ID_LEN], char csrf[HUB_SESSION_ID_LEN], struct plumb_err *err)
{
	char hash[PLUMB_SHA256_HEX], s_now[24], s_exp[24];
	int r;
	if (random_hex(id) != 0 || random_hex(csrf) != 0)
		return plumb_err_set(err, PLUMB_E_IO, "cannot read random bytes");
	if (plumb_sha256_mem_hex(hash, id, strlen(id)) != 0)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	snprintf(s_now, sizeof(s_now), "%lld", (long long)now);
	snprintf(s_exp, sizeof(s_exp), "%lld", (long long)(now + ttl));
	const char *dp[] = {s_now};
	if ((r = hub_conn_exec(c, "DELETE FROM sessions WHERE expires_at <= $1", 1, dp, NULL, NULL, NULL, err)) != 0)
		return r;
	const char *p[] = {hash, token_hash, csrf, s_now, s_exp};
	return hub_conn_exec(c,
			     "INSERT INTO sessions (id, token_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
			     5, p, NULL, NULL, NULL, err);
}

struct sess_found {
	int n;
	enum hub_role role;
	char *subject, *csrf;
	time_t expires;
};

static int sess_row(void *ctx, int n, const char *const *v)
{
	struct sess_found *f = ctx;
	if (n < 4 || !v[0] || !v[1] || !v[2] || !v[3])
		return 0;
	f->n++;
	f->role = HUB_ROLE_VIEWER;
	for (int i = HUB_ROLE_VIEWER; i <= HUB_ROLE_ADMIN; i++)
		if (!strcmp(v[0], hub_role_name((enum hub_role)i)))
			f->role = (enum hub_role)i;
	if (!strcmp(v[0], "agent"))
		f->role = HUB_ROLE_AGENT;
	snprintf(f->subject, HUB_SUBJECT_MAX, "%s", v[1]);
	snprintf(f->csrf, HUB_SESSION_ID_LEN, "%s", v[2]);
	f->expires = (time_t)strtoll(v[3], NULL, 10);
	return 0;
}

int hub_session_check(struct hub_conn *c, const char *id, time_t now, enum hub_role *role,
		      char subject[HUB_SUBJECT_MAX], char csrf[HUB_SESSION_ID_LEN], time_t *expires,
		      struct plumb_err *err)
{
	char hash[PLUMB_SHA256_HEX], s_now[24];
	struct sess_found f = {.subject = subject, .csrf = csrf};
	int r;
	if (!id_valid(id))
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "malformed session");
	if (plumb_sha256_mem_hex(hash, id, strlen(id)) != 0)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	snprintf(s_now, sizeof(s_now), "%lld", (long long)now);
	const char *p[] = {hash, s_now};
	if ((r = hub_conn_exec(c,
			       "SELECT t.role, t.subject, s.csrf, s.expires_at FROM sessions s JOIN tokens t"
			       " ON t.hash = s.token_hash WHERE s.id = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
			       2, p, sess_row, &f, NULL, err)) != 0)
		return r;
	if (f.n != 1 || f.role == HUB_ROLE_AGENT) /* agents never hold sessions */
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "unknown, expired or revoked session");
	*role = f.role;
	*expires = f.expires;
	return 0;
}

int hub_session_close(struct hub_conn *c, const char *id, struct plumb_err *err)
{
	char hash[PLUMB_SHA256_HEX];
	if (!id_valid(id))
		return 0;
	if (plumb_sha256_mem_hex(hash, id, strlen(id)) != 0)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	const char *p[] = {hash};
	return hub_conn_exec(c, "DELETE FROM sessions WHERE id = $1", 1, p, NULL, NULL, NULL, err);
}

int hub_session_token_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && n > 0 && CRYPTO_memcmp(a, b, n) == 0;
}
