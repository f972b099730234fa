/* signers.c - allowed_signers parsing and key matching.
 * The file is trusted configuration, but parsed as strictly as hostile
 * input: one bad line fails the whole file, so a typo never widens trust. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/signers.h"
#include "plumb/sshsig.h"
#include "banned.h"

static int match_pattern(const char *s, const char *p)
{
	for (;;) {
		if (*p == '\0')
			return *s == '\0';
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return 1;
			for (; *s; s++)
				if (match_pattern(s, p))
					return 1;
			return 0;
		}
		if (*s == '\0' || (*p != '?' && *p != *s))
			return 0;
		s++;
		p++;
	}
}

int plumb_match_pattern_list(const char *s, const char *list)
{
	int matched = 0;
	char pat[256];

	while (*list) {
		size_t n = strcspn(list, ",");
		int neg = list[0] == '!';

		if (n - (size_t)neg < sizeof(pat)) {
			memcpy(pat, list + neg, n - (size_t)neg);
			pat[n - (size_t)neg] = '\0';
			if (match_pattern(s, pat)) {
				if (neg)
					return 0;
				matched = 1;
			}
		}
		list += n;
		if (*list == ',')
			list++;
	}
	return matched;
}

/* Parses YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]; local time unless Z. */
static int parse_stamp(time_t *out, const char *s)
{
	size_t n = strlen(s);
	int utc = 0;
	struct tm tm;
	int v[6] = {0, 0, 0, 0, 0, 0};
	const int widths[6] = {4, 2, 2, 2, 2, 2};

	if (n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) {
		utc = 1;
		n--;
	}
	if (n != 8 && n != 12 && n != 14)
		return -1;
	for (size_t i = 0, off = 0; off < n; i++) {
		for (int k = 0; k < widths[i]; k++, off++) {
			if (!isdigit((unsigned char)s[off]))
				return -1;
			v[i] = v[i] * 10 + (s[off] - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	tm.tm_isdst = -1;
	*out = utc ? timegm(&tm) : mktime(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

/* Splits off the next space-separated field, honouring double quotes.
 * Returns the field (NUL-terminated in place) or NULL at the end. */
static char *next_field(char **cur)
{
	char *p = *cur, *start;
	int q = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return NULL;
	start = p;
	for (; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (!q && (*p == ' ' || *p == '\t'))
			break;
	}
	if (*p)
		*p++ = '\0';
	*cur = p;
	return start;
}

static int is_keytype(const char *s)
{
	return strcmp(s, "ssh-ed25519") == 0 || strcmp(s, "ssh-rsa") == 0 ||
	       strncmp(s, "ecdsa-sha2-", 11) == 0 || strncmp(s, "sk-", 3) == 0 ||
	       strstr(s, "-cert-v01@openssh.com") != NULL || strcmp(s, "ssh-dss") == 0;
}

static char *unquote_dup(const char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		return strndup(s + 1, n - 2);
	return strdup(s);
}

/* Parses the options field into sg. */
static int parse_options(struct plumb_signer *sg, char *opts, const char *name, size_t line,
			 struct plumb_err *err)
{
	char *p = opts;

	while (*p) {
		char *start = p, *eq;
		int q = 0;

		for (; *p; p++) {
			if (*p == '"')
				q = !q;
			else if (!q && *p == ',')
				break;
		}
		if (*p)
			*p++ = '\0';
		if (strcasecmp(start, "cert-authority") == 0)
			return plumb_err_set(err, PLUMB_E_UNSUPPORTED,
					     "%s:%zu: cert-authority is not supported; list the signing keys themselves",
					     name, line);
		if ((eq = strchr(start, '=')) == NULL)
			return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: unknown option '%s'", name, line, start);
		*eq++ = '\0';
		if (strcasecmp(start, "namespaces") == 0) {
			free(sg->namespaces);
			if ((sg->namespaces = unquote_dup(eq)) == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		} else if (strcasecmp(start, "valid-after") == 0 || strcasecmp(start, "valid-before") == 0) {
			int after = strcasecmp(start, "valid-after") == 0;
			char *v = unquote_dup(eq);
			time_t t;
			int bad;

			if (v == NULL)
				return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			bad = parse_stamp(&t, v);
			free(v);
			if (bad)
				return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: %s: '%s' is not YYYYMMDD[HHMM[SS]][Z]",
						     name, line, start, eq);
			if (after) {
				sg->has_after = 1;
				sg->after = t;
			} else {
				sg->has_before = 1;
				sg->before = t;
			}
		} else {
			return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: unknown option '%s'", name, line, start);
		}
	}
	return 0;
}

static void signer_release(struct plumb_signer *sg)
{
	free(sg->principals);
	free(sg->key);
	free(sg->namespaces);
}

static int parse_line(struct plumb_signer *sg, char *line, const char *name, size_t lineno,
		      struct plumb_err *err)
{
	char *cur = line, *principals, *f, *type, *b64;
	char ktype[32];
	struct plumb_err e;
	int r;

	sg->line = lineno;
	if ((principals = next_field(&cur)) == NULL || (f = next_field(&cur)) == NULL)
		return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: expected 'principals [options] keytype key'",
				     name, lineno);
	if (!is_keytype(f)) {
		if ((r = parse_options(sg, f, name, lineno, err)) != 0)
			return r;
		if ((f = next_field(&cur)) == NULL)
			return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: missing key type", name, lineno);
	}
	type = f;
	if ((b64 = next_field(&cur)) == NULL)
		return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: missing key", name, lineno);
	/* anything after is a comment */
	if (strstr(type, "-cert-v01@openssh.com") != NULL)
		return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "%s:%zu: certificates are not supported", name, lineno);
	if ((sg->principals = unquote_dup(principals)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if (sg->principals[0] == '\0')
		return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: empty principals", name, lineno);
	if (plumb_base64_decode(&sg->key, &sg->keylen, b64, strlen(b64)) != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: the key is not valid base64", name, lineno);
	if ((r = plumb_sshkey_check(sg->key, sg->keylen, ktype, &e)) != 0)
		return plumb_err_set(err, r, "%s:%zu: %s", name, lineno, e.msg);
	if (strcmp(ktype, type) != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu: key type '%s' does not match the key (%s)",
				     name, lineno, type, ktype);
	return 0;
}

int plumb_signers_parse(struct plumb_signers **out, const char *name, const char *text, size_t len,
			struct plumb_err *err)
{
	struct plumb_signers *s;
	char *copy, *line, *next;
	size_t lineno = 0;
	int r = 0;

	*out = NULL;
	if (memchr(text, '\0', len) != NULL)
		return plumb_err_set(err, PLUMB_E_PARSE, "%s: contains a NUL byte", name);
	if ((s = calloc(1, sizeof(*s))) == NULL || (copy = strndup(text, len)) == NULL ||
	    (s->name = strdup(name)) == NULL) {
		if (s)
			free(s->name);
		free(s);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	for (line = copy; line != NULL; line = next) {
		struct plumb_signer *nv;
		char *p;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((p = strchr(line, '\r')) != NULL && p[1] == '\0')
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (s->n >= PLUMB_SIGNERS_MAX_LINES) {
			r = plumb_err_set(err, PLUMB_E_PARSE, "%s: more than %d keys", name, PLUMB_SIGNERS_MAX_LINES);
			break;
		}
		if ((nv = reallocarray(s->v, s->n + 1, sizeof(*nv))) == NULL) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			break;
		}
		s->v = nv;
		memset(&s->v[s->n], 0, sizeof(s->v[0]));
		r = parse_line(&s->v[s->n], p, name, lineno, err);
		s->n++;
		if (r != 0)
			break;
	}
	free(copy);
	if (r == 0 && s->n == 0)
		r = plumb_err_set(err, PLUMB_E_PARSE, "%s: no keys: nothing could ever be trusted", name);
	if (r != 0) {
		plumb_signers_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int plumb_signers_load(struct plumb_signers **out, const char *path, struct plumb_err *err)
{
	struct plumb_buf b;
	int r;

	*out = NULL;
	if ((r = plumb_buf_load_file(&b, path, PLUMB_SIGNERS_FILE_MAX, "allowed signers", err)) != 0)
		return r;
	r = plumb_signers_parse(out, path, b.data ? b.data : "", b.len, err);
	plumb_buf_release(&b);
	return r;
}

int plumb_signers_match(const struct plumb_signers *s, const unsigned char *key, size_t keylen,
			time_t now, const struct plumb_signer **out, struct plumb_err *err)
{
	const struct plumb_signer *known = NULL;
	char fp[PLUMB_FINGERPRINT_MAX];

	*out = NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct plumb_signer *sg = &s->v[i];

		if (sg->keylen != keylen || memcmp(sg->key, key, keylen) != 0)
			continue;
		known = sg;
		if (sg->namespaces && !plumb_match_pattern_list(PLUMB_SSHSIG_NAMESPACE, sg->namespaces))
			continue;
		if ((sg->has_after && now < sg->after) || (sg->has_before && now > sg->before))
			continue;
		*out = sg;
		return 0;
	}
	plumb_sshkey_fingerprint(fp, key, keylen);
	if (known == NULL)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "signed by an unknown key %s (not in %s)", fp, s->name);
	if (known->namespaces && !plumb_match_pattern_list(PLUMB_SSHSIG_NAMESPACE, known->namespaces))
		return plumb_err_set(err, PLUMB_E_INVALID, "key %s of '%s' is not allowed to sign in namespace 'git' (%s:%zu)",
				     fp, known->principals, s->name, known->line);
	return plumb_err_set(err, PLUMB_E_INVALID,
			     "key %s of '%s' is outside its validity window by this host's clock (%s:%zu)", fp,
			     known->principals, s->name, known->line);
}

void plumb_signers_free(struct plumb_signers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		signer_release(&s->v[i]);
	free(s->v);
	free(s->name);
	free(s);
}
