/* token.c - bearer tokens: 256 random bits shown once, stored as SHA-256,
 * each bound to a role and a subject (host or viewer name). */
#include "token.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "plumb/hash.h"
#include "plumb/util.h"
#include "../src/banned.h"

static const char *const role_names[] = {"agent", "viewer", "operator", "admin"};
static const char *const role_prefix[] = {"pha_", "phv_", "pho_", "phx_"};

const char *hub_role_name(enum hub_role r)
{
	return (unsigned)r < 4 ? role_names[r] : "?";
}

int hub_token_subject_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= HUB_SUBJECT_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f)
			return 0;
	return 1;
}

int hub_token_add(struct hub_conn *c, enum hub_role role, const char *subject, char out[HUB_TOKEN_LEN],
		  struct plumb_err *err)
{
	unsigned char rnd[32];
	char hash[PLUMB_SHA256_HEX], now[24];
	if (!hub_token_subject_valid(subject))
		return plumb_err_set(err, PLUMB_E_INVALID, "'%s' is not a valid %s name (1 to 255 printable characters, no spaces)",
				     subject, role == HUB_ROLE_AGENT ? "host" : hub_role_name(role));
	if ((unsigned)role >= 4)
		return plumb_err_set(err, PLUMB_E_INVALID, "unknown role");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return plumb_err_set(err, PLUMB_E_IO, "cannot read random bytes");
	memcpy(out, role_prefix[role], 4);
	plumb_hex(out + 4, rnd, sizeof(rnd));
	if (plumb_sha256_mem_hex(hash, out, strlen(out)) != 0)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	const char *p[] = {hash, role_names[role], subject, now};
	return hub_conn_exec(c, "INSERT INTO tokens (hash, role, subject, created_at) VALUES ($1, $2, $3, $4)", 4, p,
			     NULL, NULL, NULL, err);
}

struct found {
	int n;
	enum hub_role role;
	char *subject;
};

static int found_row(void *ctx, int n, const char *const *v)
{
	struct found *f = ctx;
	if (n < 2 || !v[0] || !v[1])
		return 0;
	f->n++;
	/* An unknown role name (a newer hub's) reads as the least: viewer. */
	f->role = HUB_ROLE_VIEWER;
	for (int i = 0; i < 4; i++)
		if (!strcmp(v[0], role_names[i]))
			f->role = (enum hub_role)i;
	snprintf(f->subject, HUB_SUBJECT_MAX, "%s", v[1]);
	return 0;
}

int hub_token_check(struct hub_conn *c, const char *token, enum hub_role *role, char subject[HUB_SUBJECT_MAX],
		    char hash_out[65], struct plumb_err *err)
{
	char hash[PLUMB_SHA256_HEX];
	struct found f = {.subject = subject};
	int r;
	/* The shape is checked first so junk never reaches the database. */
	int known = 0;
	for (int i = 0; i < 4; i++)
		known |= !strncmp(token, role_prefix[i], 4);
	if (strlen(token) != HUB_TOKEN_LEN - 1 || !known || strspn(token + 4, "0123456789abcdef") != 64)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "malformed token");
	if (plumb_sha256_mem_hex(hash, token, strlen(token)) != 0)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	const char *p[] = {hash};
	if ((r = hub_conn_exec(c, "SELECT role, subject FROM tokens WHERE hash = $1 AND revoked_at IS NULL", 1, p,
			       found_row, &f, NULL, err)) != 0)
		return r;
	if (f.n != 1)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "unknown or revoked token");
	/* The role is the stored one; the prefix is only a hint to people. */
	*role = f.role;
	if (hash_out)
		memcpy(hash_out, hash, 65);
	return 0;
}

static int list_row(void *ctx, int n, const char *const *v)
{
	FILE *f = ctx;
	char created[21] = "-", revoked[21] = "-";
	if (n < 5)
		return 0;
	if (v[3])
		plumb_time_format(created, (time_t)strtoll(v[3], NULL, 10));
	if (v[4])
		plumb_time_format(revoked, (time_t)strtoll(v[4], NULL, 10));
	fprintf(f, "%.12s  %-8s  %-20s  %s  %s\n", v[0], v[1], v[2], created, v[4] ? revoked : "active");
	return 0;
}

int hub_token_list(struct hub_conn *c, FILE *f, struct plumb_err *err)
{
	fprintf(f, "%-12s  %-8s  %-20s  %-20s  %s\n", "ID", "ROLE", "SUBJECT", "CREATED", "REVOKED");
	return hub_conn_exec(c, "SELECT hash, role, subject, created_at, revoked_at FROM tokens ORDER BY created_at, hash",
			     0, NULL, list_row, f, NULL, err);
}

int hub_token_revoke(struct hub_conn *c, const char *id, struct plumb_err *err)
{
	char now[24], pat[16];
	long changes = 0;
	int r;
	if (strlen(id) != 12 || strspn(id, "0123456789abcdef") != 12)
		return plumb_err_set(err, PLUMB_E_INVALID, "token id must be the 12 hex digits 'token list' shows");
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	snprintf(pat, sizeof(pat), "%s%%", id);
	const char *p[] = {now, pat};
	if ((r = hub_conn_exec(c, "UPDATE tokens SET revoked_at = $1 WHERE hash LIKE $2 AND revoked_at IS NULL", 2, p,
			       NULL, NULL, &changes, err)) != 0)
		return r;
	if (changes == 0)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "no active token with id '%s'", id);
	/* Its sessions end with it (a session is also checked against the
	 * token on every request; this removes them from the table too). */
	const char *sp[] = {pat};
	return hub_conn_exec(c, "DELETE FROM sessions WHERE token_hash LIKE $1", 1, sp, NULL, NULL, NULL, err);
}
