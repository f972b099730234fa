/* signers.c - allowed_signers read as OpenSSH 9.2 reads it, and the decision
 * git verify-commit makes from it; plumb may be stricter, never wider.
 *
 * Where each rule comes from (openssh-portable V_9_2_P1, git 2.39):
 * - a line is "principals [options] key [comment]": sshsig.c
 *   parse_principals_key_and_options; the principals field is split off as
 *   misc.c strdelimw does (one double-quoted run, whitespace " \t\r\n");
 * - the key as sshkey.c sshkey_read does: an exact type name, base64 as
 *   b64_pton (whitespace skipped, '=' padding required), the blob's type
 *   equal to the line's; failing that, the first field is options and the
 *   key follows (authfile.c sshkey_advance_past_options);
 * - options as sshsig.c sshsigopt_parse: case-insensitive names, values in
 *   double quotes (misc.c opt_dequote), a repeated option rejects the line,
 *   dates as misc.c parse_absolute_time (a time of 0 or before is invalid),
 *   valid-before must be after valid-after;
 * - patterns as match.c match_pattern_list: a negated match wins, a
 *   sub-pattern of 1023 bytes or more makes the list fail;
 * - git asks ssh-keygen -Y find-principals for the first line whose key
 *   matches (valid by time, namespace not checked), takes its principals
 *   split at commas, and accepts if ssh-keygen -Y verify -n git -I P accepts
 *   one of them (gpg-interface.c verify_ssh_signed_buffer).
 * Any line ssh-keygen rejects is rejected here (skipped with a warning, as
 * ssh-keygen logs and skips it); lines with keys plumb cannot verify (sk-,
 * DSA, certificates, RSA under 2048 bits) and cert-authority lines, which
 * never match a plain key, are skipped likewise. No usable line: an error. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "plumb/buf.h"
#include "plumb/log.h"
#include "plumb/signers.h"
#include "plumb/sshsig.h"
#include "banned.h"

#define WS " \t\r\n"                 /* misc.h WHITESPACE */
#define SUBPATTERN_MAX 1024         /* match.c: sub[1024] */
#define PRINCIPALS_TRIED_MAX 256    /* principals of one line git would try; more are not */

/* --- patterns -------------------------------------------------------------- */

/* Glob with '*' and '?', the whole of s; iterative (backtracking to the last
 * star), so a hostile pattern costs O(len(s) * len(p)), not exponential time,
 * with the same answers as match.c's recursive match_pattern. */
static int match_pattern(const char *s, const char *p)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return 1;
			star = p;
			resume = s;
		} else if (*p != '\0' && (*p == '?' || *p == *s)) {
			s++;
			p++;
		} else if (star != NULL) {
			p = star;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int plumb_match_pattern_list(const char *s, const char *list)
{
	char sub[SUBPATTERN_MAX];
	size_t i = 0, len = strlen(list);
	int positive = 0;

	while (i < len) {
		size_t n = 0;
		int neg = 0;

		if (list[i] == '!') {
			neg = 1;
			i++;
		}
		while (i < len && n < sizeof(sub) - 1 && list[i] != ',')
			sub[n++] = list[i++];
		if (n >= sizeof(sub) - 1)
			return 0;                   /* over-long: the list fails closed */
		if (i < len && list[i] == ',')
			i++;
		sub[n] = '\0';
		if (match_pattern(s, sub)) {
			if (neg)
				return -1;
			positive = 1;
		}
	}
	return positive;
}

/* --- dates ----------------------------------------------------------------- */

/* YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, then "Z" or "UTC" (any case) for
 * UTC, else local time; read through strptime as parse_absolute_time does,
 * so exactly the same strings are accepted. Returns 0 or -1. */
static int parse_time(uint64_t *out, const char *s)
{
	size_t l = strlen(s);
	const char *fmt, *cp;
	char buf[32];
	struct tm tm;
	time_t t;
	int utc = 0;

	*out = 0;
	if (l > 1 && strcasecmp(s + l - 1, "Z") == 0) {
		utc = 1;
		l--;
	} else if (l > 3 && strcasecmp(s + l - 3, "UTC") == 0) {
		utc = 1;
		l -= 3;
	}
	switch (l) {
	case 8:
		fmt = "%Y-%m-%d";
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2s", s, s + 4, s + 6);
		break;
	case 12:
		fmt = "%Y-%m-%dT%H:%M";
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2sT%.2s:%.2s", s, s + 4, s + 6, s + 8, s + 10);
		break;
	case 14:
		fmt = "%Y-%m-%dT%H:%M:%S";
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", s, s + 4, s + 6, s + 8, s + 10, s + 12);
		break;
	default:
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	if ((cp = strptime(buf, fmt, &tm)) == NULL || *cp != '\0')
		return -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t < 0)
		return -1;
	*out = (uint64_t)t;
	return 0;
}

/* --- fields ---------------------------------------------------------------- */

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Base64 as b64_pton reads a key: whitespace skipped anywhere, '=' padding
 * required for a partial quad, nothing but whitespace after it, zero pad
 * bits. Returns 0 with a malloc'd *out, PLUMB_E_PARSE or PLUMB_E_NOMEM. */
static int b64_openssh(unsigned char **out, size_t *outlen, const char *src)
{
	size_t plen = strlen(src), ti = 0;
	unsigned char *t;
	int state = 0, ch, v;

	*out = NULL;
	if ((t = calloc(1, plen + 2)) == NULL)
		return PLUMB_E_NOMEM;
	while ((ch = (unsigned char)*src++) != '\0') {
		if (is_space(ch))
			continue;
		if (ch == '=')
			break;
		if ((v = b64val(ch)) < 0)
			goto bad;
		switch (state) {
		case 0:
			t[ti] = (unsigned char)(v << 2);
			break;
		case 1:
			t[ti] |= (unsigned char)(v >> 4);
			t[ti + 1] = (unsigned char)((v & 0x0f) << 4);
			ti++;
			break;
		case 2:
			t[ti] |= (unsigned char)(v >> 2);
			t[ti + 1] = (unsigned char)((v & 0x03) << 6);
			ti++;
			break;
		default:
			t[ti] |= (unsigned char)v;
			ti++;
			break;
		}
		state = (state + 1) % 4;
	}
	if (ch == '=') {
		ch = (unsigned char)*src++;
		if (state < 2)
			goto bad;
		if (state == 2) {
			for (; ch != '\0' && is_space(ch); ch = (unsigned char)*src++)
				;
			if (ch != '=')
				goto bad;
			ch = (unsigned char)*src++;
		}
		for (; ch != '\0'; ch = (unsigned char)*src++)
			if (!is_space(ch))
				goto bad;
		if (t[ti] != 0)
			goto bad;
	} else if (state != 0) {
		goto bad;
	}
	if (ti == 0)
		goto bad;                           /* no key at all */
	*out = t;
	*outlen = ti;
	return 0;
bad:
	free(t);
	return PLUMB_E_PARSE;
}

/* misc.c strdelimw: splits off the principals field. One double-quoted run
 * (its quotes removed) may hold whitespace; *s becomes NULL when no
 * whitespace follows. Returns NULL for an unterminated quote. */
static char *strdelim_w(char **s)
{
	char *old;

	if (*s == NULL)
		return NULL;
	old = *s;
	if ((*s = strpbrk(*s, WS "\"")) == NULL)
		return old;
	if (**s == '"') {
		memmove(*s, *s + 1, strlen(*s));
		if ((*s = strchr(*s, '"')) == NULL)
			return NULL;
	}
	**s = '\0';
	*s += strspn(*s + 1, WS) + 1;
	return old;
}

/* The key type names OpenSSH 9.2 reads, and what plumb makes of them. */
static const struct {
	const char *name;
	const char *blob_type;    /* the type inside the blob; NULL: plumb cannot verify */
} key_types[] = {
	{"ssh-ed25519", "ssh-ed25519"},
	{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"},
	{"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"},
	{"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521"},
	{"ssh-rsa", "ssh-rsa"},
	{"rsa-sha2-256", "ssh-rsa"},
	{"rsa-sha2-512", "ssh-rsa"},
	{"ssh-dss", NULL},
	{"sk-ssh-ed25519@openssh.com", NULL},
	{"sk-ecdsa-sha2-nistp256@openssh.com", NULL},
	{"webauthn-sk-ecdsa-sha2-nistp256@openssh.com", NULL},
	{"ssh-xmss@openssh.com", NULL},
	{"ssh-ed25519-cert-v01@openssh.com", NULL},
	{"sk-ssh-ed25519-cert-v01@openssh.com", NULL},
	{"ecdsa-sha2-nistp256-cert-v01@openssh.com", NULL},
	{"ecdsa-sha2-nistp384-cert-v01@openssh.com", NULL},
	{"ecdsa-sha2-nistp521-cert-v01@openssh.com", NULL},
	{"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", NULL},
	{"ssh-dss-cert-v01@openssh.com", NULL},
	{"ssh-rsa-cert-v01@openssh.com", NULL},
	{"rsa-sha2-256-cert-v01@openssh.com", NULL},
	{"rsa-sha2-512-cert-v01@openssh.com", NULL},
	{"ssh-xmss-cert-v01@openssh.com", NULL},
};

enum { KEY_OK = 0, KEY_FAIL = 1, KEY_UNUSABLE = 2 };

/* sshkey_read at *cpp: "type base64 [comment]". KEY_OK with the canonical
 * blob; KEY_FAIL where OpenSSH's read fails too (the field may then be
 * options); KEY_UNUSABLE for a key plumb cannot verify (the line is
 * skipped whatever else it says). why is filled unless KEY_OK. */
static int read_key(unsigned char **blob, size_t *bloblen, char **cpp, char *why, size_t whylen, int *nomem)
{
	char *cp = *cpp, *copy, type[32];
	size_t space = strcspn(cp, " \t"), i, rawlen;
	unsigned char *raw = NULL;
	struct plumb_err e;
	int r;

	*blob = NULL;
	if (space == strlen(cp)) {
		snprintf(why, whylen, "no key");
		return KEY_FAIL;
	}
	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strlen(key_types[i].name) == space && memcmp(cp, key_types[i].name, space) == 0)
			break;
	if (i == sizeof(key_types) / sizeof(key_types[0])) {
		snprintf(why, whylen, "unknown key type '%.*s'", (int)(space > 40 ? 40 : space), cp);
		return KEY_FAIL;
	}
	for (cp += space; *cp == ' ' || *cp == '\t'; cp++)
		;
	if (*cp == '\0') {
		snprintf(why, whylen, "no key after the type");
		return KEY_FAIL;
	}
	if (key_types[i].blob_type == NULL) {
		snprintf(why, whylen, "key type '%s' is not supported (plumb verifies ssh-ed25519, ecdsa-sha2-nistp*, ssh-rsa)",
			 key_types[i].name);
		return KEY_UNUSABLE;
	}
	space = strcspn(cp, " \t");
	if ((copy = strndup(cp, space)) == NULL) {
		*nomem = 1;
		return KEY_FAIL;
	}
	r = b64_openssh(&raw, &rawlen, copy);
	free(copy);
	if (r == PLUMB_E_NOMEM) {
		*nomem = 1;
		return KEY_FAIL;
	}
	if (r != 0) {
		snprintf(why, whylen, "the %s key is not valid base64", key_types[i].name);
		return KEY_FAIL;
	}
	r = plumb_sshkey_canon(blob, bloblen, raw, rawlen, type, &e);
	free(raw);
	if (r == PLUMB_E_NOMEM) {
		*nomem = 1;
		return KEY_FAIL;
	}
	if (r == 0 && strcmp(type, key_types[i].blob_type) != 0) {
		snprintf(why, whylen, "key type '%s' does not match the key (%s)", key_types[i].name, type);
		free(*blob);
		*blob = NULL;
		return KEY_FAIL;
	}
	if (r != 0) {
		snprintf(why, whylen, "%.150s", e.msg);
		return r == PLUMB_E_UNSUPPORTED ? KEY_UNUSABLE : KEY_FAIL;
	}
	for (cp += space; *cp == ' ' || *cp == '\t'; cp++)
		;
	*cpp = cp;
	return KEY_OK;
}

/* authfile.c sshkey_advance_past_options: to the first unquoted space or
 * tab; \" does not end a quote. Returns -1 for an unterminated quote. */
static int advance_past_options(char **cpp)
{
	char *cp = *cpp;
	int quoted = 0;

	for (; *cp && (quoted || (*cp != ' ' && *cp != '\t')); cp++) {
		if (*cp == '\\' && cp[1] == '"')
			cp++;
		else if (*cp == '"')
			quoted = !quoted;
	}
	*cpp = cp;
	return (*cp == '\0' && quoted) ? -1 : 0;
}

/* --- options --------------------------------------------------------------- */

struct sigopts {
	int ca;
	char *namespaces;
	uint64_t after, before;
};

/* misc.c opt_match: "name=" in any case. */
static int opt_match(const char **s, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(*s, name, n) == 0 && (*s)[n] == '=') {
		*s += n + 1;
		return 1;
	}
	return 0;
}

/* misc.c opt_dequote: a double-quoted value, \" for a quote. NULL with *why
 * set on failure (or *nomem). */
static char *opt_dequote(const char **sp, const char **why, int *nomem)
{
	const char *s = *sp;
	char *ret;
	size_t i = 0;

	if (*s != '"') {
		*why = "a value is not in double quotes";
		return NULL;
	}
	s++;
	if ((ret = malloc(strlen(s) + 1)) == NULL) {
		*nomem = 1;
		*why = "out of memory";
		return NULL;
	}
	while (*s != '\0' && *s != '"') {
		if (s[0] == '\\' && s[1] == '"')
			s++;
		ret[i++] = *s++;
	}
	if (*s == '\0') {
		*why = "a value has no closing quote";
		free(ret);
		return NULL;
	}
	ret[i] = '\0';
	*sp = s + 1;
	return ret;
}

static int opt_time(uint64_t *t, const char **s, const char *name, const char **why, int *nomem)
{
	char *v;

	if (*t != 0) {
		*why = strcmp(name, "valid-after") == 0 ? "multiple \"valid-after\" clauses"
							: "multiple \"valid-before\" clauses";
		return -1;
	}
	if ((v = opt_dequote(s, why, nomem)) == NULL)
		return -1;
	if (parse_time(t, v) != 0 || *t == 0) {
		free(v);
		*why = strcmp(name, "valid-after") == 0 ? "invalid \"valid-after\" time (YYYYMMDD[HHMM[SS]][Z], after 1970)"
							: "invalid \"valid-before\" time (YYYYMMDD[HHMM[SS]][Z], after 1970)";
		return -1;
	}
	free(v);
	return 0;
}

/* sshsigopt_parse. Returns 0, or -1 with *why (or *nomem). */
static int parse_sigopts(struct sigopts *o, const char *s, const char **why, int *nomem)
{
	memset(o, 0, sizeof(*o));
	if (s == NULL || *s == '\0')
		return 0;
	while (*s != '\0' && *s != ' ' && *s != '\t') {
		if (strncasecmp(s, "cert-authority", 14) == 0) {
			o->ca = 1;
			s += 14;
		} else if (opt_match(&s, "namespaces")) {
			if (o->namespaces != NULL) {
				*why = "multiple \"namespaces\" clauses";
				return -1;
			}
			if ((o->namespaces = opt_dequote(&s, why, nomem)) == NULL)
				return -1;
		} else if (opt_match(&s, "valid-after")) {
			if (opt_time(&o->after, &s, "valid-after", why, nomem) != 0)
				return -1;
		} else if (opt_match(&s, "valid-before")) {
			if (opt_time(&o->before, &s, "valid-before", why, nomem) != 0)
				return -1;
		}
		if (*s == '\0' || *s == ' ' || *s == '\t')
			break;
		if (*s != ',') {
			*why = "unknown option";
			return -1;
		}
		s++;
		if (*s == '\0') {
			*why = "a trailing comma ends the options";
			return -1;
		}
	}
	if (o->after != 0 && o->before != 0 && o->before <= o->after) {
		*why = "\"valid-before\" is not after \"valid-after\"";
		return -1;
	}
	return 0;
}

/* --- lines ----------------------------------------------------------------- */

static void signer_release(struct plumb_signer *sg)
{
	free(sg->principals);
	free(sg->key);
	free(sg->namespaces);
	memset(sg, 0, sizeof(*sg));
}

enum { LINE_USABLE = 0, LINE_BLANK = 1, LINE_SKIP = 2 };

/* One line (a C string, its newline included if it had one). LINE_USABLE
 * fills sg; LINE_SKIP fills why; PLUMB_E_NOMEM. */
static int parse_line(struct plumb_signer *sg, char *line, char *why, size_t whylen)
{
	char *cp = line + strspn(line, " \t"), *tmp, *opts = NULL, firstwhy[160];
	struct sigopts o = {0, NULL, 0, 0};
	const char *owhy = NULL;
	int r, nomem = 0, ret = LINE_SKIP;

	/* (ssh-keygen also reports a line of only CR/LF as "missing key"; it
	 * can never be used either way, so it is not worth a warning) */
	if (*cp == '#' || cp[strspn(cp, WS)] == '\0')
		return LINE_BLANK;
	if ((tmp = strdelim_w(&cp)) == NULL || cp == NULL) {
		snprintf(why, whylen, "expected 'principals [options] keytype key'%s",
			 tmp == NULL ? " (a quote is not closed)" : "");
		return LINE_SKIP;
	}
	if ((sg->principals = strdup(tmp)) == NULL)
		return PLUMB_E_NOMEM;
	r = read_key(&sg->key, &sg->keylen, &cp, firstwhy, sizeof(firstwhy), &nomem);
	if (r == KEY_FAIL && !nomem) {
		/* no key here: this field is options, the key follows */
		opts = cp;
		if (advance_past_options(&cp) != 0) {
			snprintf(why, whylen, "invalid options (a quote is not closed)");
			goto out;
		}
		if (*cp == '\0') {
			snprintf(why, whylen, "missing key (%.120s)", firstwhy);
			goto out;
		}
		*cp++ = '\0';
		cp += strspn(cp, " \t");
		r = read_key(&sg->key, &sg->keylen, &cp, why, whylen, &nomem);
		if (r == KEY_FAIL && !nomem) {
			/* name the more telling failure: a known key type that did not read */
			if (strncmp(firstwhy, "unknown key type", 16) != 0 && strcmp(firstwhy, "no key") != 0)
				snprintf(why, whylen, "invalid key: %.140s", firstwhy);
			else {
				char second[160];

				snprintf(second, sizeof(second), "%s", why);
				snprintf(why, whylen, "invalid key: %.140s", second);
			}
			goto out;
		}
	} else if (r == KEY_UNUSABLE) {
		snprintf(why, whylen, "%s", firstwhy);
	}
	if (nomem) {
		ret = PLUMB_E_NOMEM;
		goto out;
	}
	if (r == KEY_UNUSABLE)
		goto out;
	if (parse_sigopts(&o, opts, &owhy, &nomem) != 0) {
		if (nomem) {
			ret = PLUMB_E_NOMEM;
			goto out;
		}
		snprintf(why, whylen, "bad options: %s", owhy);
		goto out;
	}
	if (o.ca) {
		snprintf(why, whylen, "cert-authority is not supported (certificates are not verified); list the signing keys");
		goto out;
	}
	sg->namespaces = o.namespaces;
	o.namespaces = NULL;
	sg->has_after = o.after != 0;
	sg->after = (time_t)o.after;
	sg->has_before = o.before != 0;
	sg->before = (time_t)o.before;
	ret = LINE_USABLE;
out:
	free(o.namespaces);
	if (ret != LINE_USABLE)
		signer_release(sg);
	return ret;
}

static void note_skip(struct plumb_signers *s, size_t line, const char *why)
{
	if (s->nskipped < PLUMB_SIGNERS_SKIPS_KEPT) {
		s->skips[s->nskipped].line = line;
		snprintf(s->skips[s->nskipped].why, sizeof(s->skips[0].why), "%s", why);
	}
	if (s->nskipped < PLUMB_SIGNERS_WARN_MAX)
		plumb_log(PLUMB_LOG_WARN, "%s:%zu: line skipped: %s", s->name, line, why);
	s->nskipped++;
}

int plumb_signers_parse(struct plumb_signers **out, const char *name, const char *text, size_t len,
			struct plumb_err *err)
{
	struct plumb_signers *s;
	size_t lineno = 0, off = 0;
	char *line = NULL, why[160];
	int r = 0;

	*out = NULL;
	if (len > PLUMB_SIGNERS_FILE_MAX)
		return plumb_err_set(err, PLUMB_E_TOOBIG, "%s: larger than %u bytes", name, PLUMB_SIGNERS_FILE_MAX);
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->name = strdup(name)) == NULL) {
		free(s);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (text + off)) + 1 : len - off;
		struct plumb_signer sg;
		int k;

		lineno++;
		free(line);
		if ((line = strndup(text + off, l)) == NULL) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		if (strlen(line) < l)   /* ssh-keygen reads a line as a C string: up to a NUL */
			plumb_log(PLUMB_LOG_WARN, "%s:%zu: a NUL byte ends the line early (as ssh-keygen reads it)",
				  name, lineno);
		off += l;
		memset(&sg, 0, sizeof(sg));
		sg.line = lineno;
		why[0] = '\0';
		if ((k = parse_line(&sg, line, why, sizeof(why))) == LINE_BLANK)
			continue;
		if (k == PLUMB_E_NOMEM) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		if (s->n + s->nskipped >= PLUMB_SIGNERS_MAX_LINES) {
			signer_release(&sg);
			r = plumb_err_set(err, PLUMB_E_TOOBIG, "%s: more than %d lines", name, PLUMB_SIGNERS_MAX_LINES);
			goto out;
		}
		if (k == LINE_SKIP) {
			note_skip(s, lineno, why);
			continue;
		}
		if (s->n % 16 == 0) {
			struct plumb_signer *nv = reallocarray(s->v, s->n + 16, sizeof(*nv));

			if (nv == NULL) {
				signer_release(&sg);
				r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				goto out;
			}
			s->v = nv;
		}
		sg.line = lineno;
		s->v[s->n++] = sg;
	}
	if (s->nskipped > PLUMB_SIGNERS_WARN_MAX)
		plumb_log(PLUMB_LOG_WARN, "%s: %zu more lines skipped", name, s->nskipped - PLUMB_SIGNERS_WARN_MAX);
	if (s->n == 0) {
		if (s->nskipped > 0)
			r = plumb_err_set(err, PLUMB_E_PARSE, "%s: no usable line, so nothing could ever be trusted (%zu skipped; %s:%zu: %s)",
					  name, s->nskipped, name, s->skips[0].line, s->skips[0].why);
		else
			r = plumb_err_set(err, PLUMB_E_PARSE, "%s: no keys, so nothing could ever be trusted", name);
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	free(line);
	plumb_signers_free(s);
	return r;
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

/* --- matching -------------------------------------------------------------- */

static int key_equal(const struct plumb_signer *sg, const unsigned char *key, size_t keylen)
{
	return sg->keylen == keylen && memcmp(sg->key, key, keylen) == 0;
}

static int in_window(const struct plumb_signer *sg, uint64_t t)
{
	return !(sg->has_after && t < (uint64_t)sg->after) && !(sg->has_before && t > (uint64_t)sg->before);
}

static int ns_allows_git(const struct plumb_signer *sg)
{
	return sg->namespaces == NULL || plumb_match_pattern_list(PLUMB_SSHSIG_NAMESPACE, sg->namespaces) == 1;
}

int plumb_signers_match(const struct plumb_signers *s, const unsigned char *key, size_t keylen,
			time_t now, struct plumb_signer_match *out, struct plumb_err *err)
{
	const struct plumb_signer *first = NULL, *listed = NULL, *ns_refused = NULL;
	uint64_t t = now < 0 ? 0 : (uint64_t)now;
	char fp[PLUMB_FINGERPRINT_MAX], *list = NULL, *p;
	size_t tried = 0;
	int r;

	memset(out, 0, sizeof(*out));
	plumb_sshkey_fingerprint(fp, key, keylen);
	/* ssh-keygen -Y find-principals: the first line with this key, valid now */
	for (size_t i = 0; i < s->n && first == NULL; i++) {
		if (!key_equal(&s->v[i], key, keylen))
			continue;
		if (listed == NULL)
			listed = &s->v[i];
		if (in_window(&s->v[i], t))
			first = &s->v[i];
	}
	if (listed == NULL)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "signed by an unknown key %s (not in %s)", fp, s->name);
	if (first == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID,
				     "key %s of '%s' is outside its validity window by this host's clock (%s:%zu)", fp,
				     listed->principals, s->name, listed->line);
	if ((list = strdup(first->principals)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	/* its principals, split at commas up to the first empty one; git drops
	 * a CR before the newline ssh-keygen prints; then -Y verify -I P */
	for (p = list; p != NULL && *p != '\0' && tried < PRINCIPALS_TRIED_MAX; tried++) {
		char *P = p, *c = strchr(p, ',');
		size_t pl;

		if (c != NULL)
			*c = '\0';
		p = c ? c + 1 : NULL;
		if ((pl = strlen(P)) == 0)
			break;                      /* strsep's loop in ssh-keygen stops here */
		if (P[pl - 1] == '\r')
			P[--pl] = '\0';
		/* empty: git skips it; 1023 bytes or more: its own line's list
		 * could never admit it, and refusing it bounds the matching */
		if (pl == 0 || pl >= SUBPATTERN_MAX - 1)
			continue;
		for (size_t i = 0; i < s->n; i++) {
			const struct plumb_signer *sg = &s->v[i];

			if (!key_equal(sg, key, keylen) || !in_window(sg, t) ||
			    plumb_match_pattern_list(P, sg->principals) != 1)
				continue;
			if (!ns_allows_git(sg)) {
				if (ns_refused == NULL)
					ns_refused = sg;
				continue;
			}
			out->signer = sg;
			snprintf(out->principal, sizeof(out->principal), "%s", P);
			r = 0;
			plumb_err_clear(err);
			goto out;
		}
	}
	if (ns_refused != NULL)
		r = plumb_err_set(err, PLUMB_E_INVALID,
				  "key %s of '%s' is not allowed to sign in namespace 'git' (%s:%zu)", fp,
				  ns_refused->principals, s->name, ns_refused->line);
	else
		r = plumb_err_set(err, PLUMB_E_INVALID,
				  "key %s is listed at %s:%zu, but no line admits its principals '%s' (negated, empty or too long)",
				  fp, s->name, first->line, first->principals);
out:
	free(list);
	return r;
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
