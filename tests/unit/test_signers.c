/* test_signers.c - allowed_signers read as OpenSSH reads it (negation,
 * duplicate options, quoting, dates, over-long patterns, skipped lines,
 * no usable line) and matched as git verify-commit decides, by the agent's
 * clock. t0106 checks the same against the real ssh-keygen and git. */
#include "testlib.h"

#include "plumb/log.h"
#include "plumb/signers.h"
#include "plumb/sshsig.h"

/* "ssh-ed25519 AAAA..." lines of fresh keys (private halves discarded) */
static char key_a[256], key_b[256], key_rsa[1024], key_rsa1024[512], key_dsa[1024];

static void read_pub(char *out, size_t outlen, const char *dir, const char *name)
{
	char p[600], *s;

	snprintf(p, sizeof(p), "%s/%s.pub", dir, name);
	s = t_read(p, NULL);
	assert_non_null(s);
	*strchr(strchr(s, ' ') + 1, ' ') = '\0';
	snprintf(out, outlen, "%s", s);
	free(s);
}

static void load_keys(void)
{
	char *dir = t_mkdtemp(), cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && ssh-keygen -q -t ed25519 -N '' -f a && ssh-keygen -q -t ed25519 -N '' -f b && "
		 "ssh-keygen -q -t rsa -b 2048 -N '' -f rsa && ssh-keygen -q -t rsa -b 1024 -N '' -f rsa1024 && "
		 "ssh-keygen -q -t dsa -N '' -f dsa", dir);
	assert_int_equal(system_ok(cmd), 0);
	read_pub(key_a, sizeof(key_a), dir, "a");
	read_pub(key_b, sizeof(key_b), dir, "b");
	read_pub(key_rsa, sizeof(key_rsa), dir, "rsa");
	read_pub(key_rsa1024, sizeof(key_rsa1024), dir, "rsa1024");
	read_pub(key_dsa, sizeof(key_dsa), dir, "dsa");
	t_rm_rf(dir);
	free(dir);
}

static int parse(struct plumb_signers **out, struct plumb_err *err, const char *fmt, ...)
{
	char text[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return plumb_signers_parse(out, "signers", text, strlen(text), err);
}

static void blob_of(const char *key, unsigned char **blob, size_t *len)
{
	const char *b64 = strchr(key, ' ') + 1;

	assert_int_equal(plumb_base64_decode(blob, len, b64, strlen(b64)), 0);
}

#define NOW 1800000000   /* 2027-01-15 */

/* Parses text that must have a usable line, matches key a (or b) at NOW;
 * returns the match code and leaves the principal in who. */
static int verdict(struct plumb_signer_match *who, const char *key, const char *fmt, ...)
{
	struct plumb_signers *s = NULL;
	struct plumb_err err;
	unsigned char *blob;
	size_t len;
	char text[8192];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_int_equal(plumb_signers_parse(&s, "signers", text, strlen(text), &err), 0);
	blob_of(key, &blob, &len);
	r = plumb_signers_match(s, blob, len, NOW, who, &err);
	free(blob);
	plumb_signers_free(s);
	return r;
}

/* The line is skipped, and why mentions what. */
static void expect_skip(const char *what, const char *fmt, ...)
{
	struct plumb_signers *s = NULL;
	struct plumb_err err;
	char text[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* a good line after it keeps the file usable */
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "zz %s\n", key_b);
	assert_int_equal(plumb_signers_parse(&s, "signers", text, strlen(text), &err), 0);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->nskipped, 1);
	assert_int_equal(s->skips[0].line, 1);
	if (strstr(s->skips[0].why, what) == NULL)
		fail_msg("skip reason '%s' lacks '%s' for: %s", s->skips[0].why, what, text);
	plumb_signers_free(s);
}

static void parse_and_match(void **state)
{
	struct plumb_signers *s;
	struct plumb_signer_match who;
	struct plumb_err err;
	unsigned char *a, *b;
	size_t alen, blen;

	(void)state;
	blob_of(key_a, &a, &alen);
	blob_of(key_b, &b, &blen);
	assert_int_equal(parse(&s, &err,
			       "# pipeline keys\n\n"
			       "ci@example.com,release@example.com namespaces=\"git,file\",valid-after=\"20200101\" %s comment here\n"
			       "\"old key\" valid-before=\"20200101Z\" %s\n", key_a, key_b), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->nskipped, 0);
	assert_string_equal(s->v[1].principals, "old key");
	assert_int_equal(plumb_signers_match(s, a, alen, NOW, &who, &err), 0);
	assert_string_equal(who.principal, "ci@example.com");   /* the first principal, as git names it */
	assert_int_equal(who.signer->line, 3);
	/* before valid-after: refused */
	assert_int_equal(plumb_signers_match(s, a, alen, 1500000000, &who, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "outside its validity window by this host's clock (signers:3)"));
	/* after valid-before (UTC midnight 2020-01-01 = 1577836800) */
	assert_int_equal(plumb_signers_match(s, b, blen, 1577836800, &who, &err), 0);
	assert_string_equal(who.principal, "old key");
	assert_int_equal(plumb_signers_match(s, b, blen, 1577836801, &who, &err), PLUMB_E_INVALID);
	plumb_signers_free(s);

	assert_int_equal(parse(&s, &err, "ci namespaces=\"file\" %s\n", key_a), 0);
	assert_int_equal(plumb_signers_match(s, a, alen, NOW, &who, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "not allowed to sign in namespace 'git'"));
	assert_int_equal(plumb_signers_match(s, b, blen, NOW, &who, &err), PLUMB_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "signed by an unknown key SHA256:"));
	plumb_signers_free(s);
	free(a);
	free(b);
}

static void negation(void **state)
{
	struct plumb_signer_match who;

	(void)state;
	assert_int_equal(verdict(&who, key_a, "!* %s\n", key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "!mallory@example.com %s\n", key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "ci@example.com,!ci@example.com %s\n", key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "!*,ci@example.com %s\n", key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "*,!mallory %s\n", key_a), 0);
	assert_string_equal(who.principal, "*");
	/* the namespace list negates too */
	assert_int_equal(verdict(&who, key_a, "ci namespaces=\"*,!git\" %s\n", key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "ci namespaces=\"!file,g?t\" %s\n", key_a), 0);
	/* git's first-line rule: the first line listing the key names the
	 * principals; a later line for another principal does not help */
	assert_int_equal(verdict(&who, key_a, "!x %s\nci %s\n", key_a, key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "a namespaces=\"file\" %s\nb %s\n", key_a, key_a), PLUMB_E_INVALID);
	assert_int_equal(verdict(&who, key_a, "a valid-before=\"20000101\" %s\nb %s\n", key_a, key_a), 0);
	assert_string_equal(who.principal, "b");
	assert_int_equal(verdict(&who, key_a, "ci* %s\n*,!zz %s\n", key_a, key_a), 0);
	assert_string_equal(who.principal, "ci*");
	/* ssh-keygen -Y find-principals stops at an empty principal */
	assert_int_equal(verdict(&who, key_a, "a,,b %s\n", key_a), 0);
	assert_string_equal(who.principal, "a");
	assert_int_equal(verdict(&who, key_a, ",a %s\n", key_a), PLUMB_E_INVALID);
}

static void duplicates(void **state)
{
	struct plumb_signers *s = NULL;
	struct plumb_err err;

	(void)state;
	expect_skip("multiple \"valid-before\" clauses", "ci valid-before=\"20000101\",valid-before=\"20991231\" %s\n", key_a);
	expect_skip("multiple \"valid-after\" clauses", "ci valid-after=\"20991231\",valid-after=\"20000101\" %s\n", key_a);
	expect_skip("multiple \"namespaces\" clauses", "ci namespaces=\"file\",NAMESPACES=\"git\" %s\n", key_a);
	/* alone, the file has nothing usable: an error naming the line */
	assert_int_equal(parse(&s, &err, "ci valid-before=\"20000101\",valid-before=\"20991231\" %s\n", key_a), PLUMB_E_PARSE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "signers: no usable line"));
	assert_non_null(strstr(err.msg, "signers:1: bad options: multiple \"valid-before\" clauses"));
}

static void quoting(void **state)
{
	struct plumb_signer_match who;

	(void)state;
	expect_skip("not in double quotes", "ci namespaces=git %s\n", key_a);
	expect_skip("not in double quotes", "ci valid-before=20991231 %s\n", key_a);
	expect_skip("a quote is not closed", "ci namespaces=\"git %s\n", key_a);
	expect_skip("a trailing comma", "ci namespaces=\"git\", %s\n", key_a);
	expect_skip("unknown option", "ci colour=\"red\" %s\n", key_a);
	expect_skip("a quote is not closed", "ci\"@example.com %s\n", key_a);
	expect_skip("unknown option", "ci\"@exa\"mple.com %s\n", key_a);   /* the rest, "mple.com", is options */
	assert_int_equal(verdict(&who, key_a, "\"ci example\" %s\n", key_a), 0);
	assert_string_equal(who.principal, "ci example");
	/* \" inside a value is a quote: the namespace is g"it */
	assert_int_equal(verdict(&who, key_a, "ci namespaces=\"g\\\"it\" %s\n", key_a), PLUMB_E_INVALID);
	/* OpenSSH skips an empty option between commas */
	assert_int_equal(verdict(&who, key_a, "ci ,namespaces=\"git\",,valid-after=\"20000101\" %s\n", key_a), 0);
	/* option names in any case; comments; CRLF; tabs; no final newline */
	assert_int_equal(verdict(&who, key_a, "ci NAMESPACES=\"git\" %s the comment\r\n", key_a), 0);
	assert_int_equal(verdict(&who, key_a, "ci\t%s", key_a), 0);
}

static void dates(void **state)
{
	struct plumb_signers *s = NULL;
	struct plumb_err err;

	(void)state;
	expect_skip("invalid \"valid-after\" time", "ci valid-after=\"19700101Z\" %s\n", key_a);
	expect_skip("invalid \"valid-after\" time", "ci valid-after=\"19691231Z\" %s\n", key_a);
	expect_skip("invalid \"valid-before\" time", "ci valid-before=\"20991331\" %s\n", key_a);
	expect_skip("invalid \"valid-before\" time", "ci valid-before=\"2099123100001\" %s\n", key_a);
	expect_skip("invalid \"valid-before\" time", "ci valid-before=\"2020\" %s\n", key_a);
	expect_skip("is not after", "ci valid-after=\"20991231\",valid-before=\"20000101\" %s\n", key_a);
	assert_int_equal(parse(&s, &err, "ci valid-after=\"19700102Z\",valid-before=\"20991231235959UTC\" %s\n", key_a), 0);
	assert_true(s->v[0].has_after && s->v[0].after == 86400);
	assert_true(s->v[0].has_before && s->v[0].before == 4102444799);
	plumb_signers_free(s);
	/* no suffix: local time (TZ=UTC+2 here: two hours later in UTC) */
	setenv("TZ", "UTC+2", 1);
	tzset();
	assert_int_equal(parse(&s, &err, "ci valid-after=\"202001010000\" %s\n", key_a), 0);
	assert_true(s->v[0].after == 1577836800 + 7200);
	plumb_signers_free(s);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void patterns(void **state)
{
	char list[2200];

	(void)state;
	assert_int_equal(plumb_match_pattern_list("git", "git"), 1);
	assert_int_equal(plumb_match_pattern_list("git", "file,git"), 1);
	assert_int_equal(plumb_match_pattern_list("git", "*"), 1);
	assert_int_equal(plumb_match_pattern_list("git", "g?t"), 1);
	assert_int_equal(plumb_match_pattern_list("git", "file"), 0);
	assert_int_equal(plumb_match_pattern_list("git", "*,!git"), -1);
	assert_int_equal(plumb_match_pattern_list("git", "!git,*"), -1);
	assert_int_equal(plumb_match_pattern_list("git", ""), 0);
	assert_int_equal(plumb_match_pattern_list("", ""), 0);
	assert_int_equal(plumb_match_pattern_list("", "a,"), 0);
	/* 1022 bytes is a pattern; 1023 makes the whole list fail, a
	 * negation included: it never turns into a match */
	snprintf(list, sizeof(list), "git%01019d", 0);
	memset(list + 3, '*', 1019);
	assert_int_equal(plumb_match_pattern_list("git", list), 1);
	snprintf(list, sizeof(list), "git%01020d", 0);
	memset(list + 3, '*', 1020);
	assert_int_equal(plumb_match_pattern_list("git", list), 0);
	snprintf(list, sizeof(list), "*,!git%01100d", 0);
	memset(list + 6, '*', 1100);
	assert_int_equal(plumb_match_pattern_list("git", list), 0);
	snprintf(list, sizeof(list), "!git%0300d,*", 0);
	memset(list + 4, '*', 300);
	assert_int_equal(plumb_match_pattern_list("git", list), -1);
	/* many stars against a long string: answered without exponential time */
	for (int i = 0; i < 500; i++) {
		list[2 * i] = '*';
		list[2 * i + 1] = 'a';
	}
	list[1000] = 'b';
	list[1001] = '\0';
	{
		char s[1001];

		memset(s, 'a', 1000);
		s[1000] = '\0';
		assert_int_equal(plumb_match_pattern_list(s, list), 0);
		s[999] = 'b';
		assert_int_equal(plumb_match_pattern_list(s, "*a*a*b"), 1);
	}
	/* a principal over 1022 bytes is never admitted by its own line */
	{
		struct plumb_signer_match who;
		char p[1101];

		memset(p, 'p', 1100);
		p[1100] = '\0';
		assert_int_equal(verdict(&who, key_a, "%s %s\n", p, key_a), PLUMB_E_INVALID);
		p[1000] = '\0';
		assert_int_equal(verdict(&who, key_a, "%s %s\n", p, key_a), 0);
	}
}

static void unusable_lines(void **state)
{
	struct plumb_signers *s = NULL;
	struct plumb_err err;
	char sk[200];

	(void)state;
	/* an sk-ssh-ed25519 public key blob (type, 32 bytes, application) */
	snprintf(sk, sizeof(sk), "sk-ssh-ed25519@openssh.com "
		 "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQAAAABHNzaDo=");
	expect_skip("key type 'sk-ssh-ed25519@openssh.com' is not supported", "dev %s\n", sk);
	expect_skip("key type 'ssh-dss' is not supported", "dev %s\n", key_dsa);
	expect_skip("RSA keys under 2048 bits are refused", "dev %s\n", key_rsa1024);
	expect_skip("is not supported", "dev ssh-ed25519-cert-v01@openssh.com AAAA\n");
	expect_skip("cert-authority is not supported", "dev cert-authority %s\n", key_a);
	expect_skip("invalid key", "this is not a key\n");
	expect_skip("missing key", "lonely\n");
	expect_skip("invalid key", "ci ssh-ed25519 !!!notbase64\n");
	expect_skip("does not match the key (ssh-ed25519)", "ci ssh-rsa %s\n", strchr(key_a, ' ') + 1);
	/* a key whose partial quad lost its '=' padding (RSA blob: 279 bytes, no pad; so cut one char) */
	{
		char cut[1024];

		snprintf(cut, sizeof(cut), "%s", key_a);
		cut[strlen(cut) - 1] = '\0';
		expect_skip("not valid base64", "ci %s\n", cut);
	}
	/* only unusable lines: an error naming the first */
	assert_int_equal(parse(&s, &err, "# keys\ndev %s\nold %s\n", sk, key_dsa), PLUMB_E_PARSE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "signers: no usable line, so nothing could ever be trusted (2 skipped; signers:2:"));
	assert_int_equal(parse(&s, &err, "# only comments\n\n"), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "signers: no keys, so nothing could ever be trusted");
	/* ssh-keygen reads a line up to a NUL byte */
	{
		char text[512];
		int n = snprintf(text, sizeof(text), "ci %s", key_a);

		memcpy(text + n, "\0junk\n", 6);
		assert_int_equal(plumb_signers_parse(&s, "signers", text, (size_t)n + 6, &err), 0);
		assert_int_equal(s->n, 1);
		plumb_signers_free(s);
	}
}

static void b64_encode(char *out, const unsigned char *in, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = tab[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		out[o++] = tab[in[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4 | (i + 1 < n ? in[i + 1] >> 4 : 0)];
		out[o++] = i + 1 < n ? tab[(in[i + 1] & 15) << 2] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* An RSA bignum with a leading zero byte is the same key to OpenSSH: the
 * line is read, and matches the signature's (minimal) key blob. */
static void rsa_encodings(void **state)
{
	struct plumb_signers *s = NULL;
	struct plumb_signer_match who;
	struct plumb_err err;
	unsigned char *blob, *odd;
	size_t len, elen;
	char b64[1024];

	(void)state;
	blob_of(key_rsa, &blob, &len);
	/* string "ssh-rsa" (11 bytes), then mpint e: lengthen it by a zero */
	elen = (size_t)blob[11] << 24 | (size_t)blob[12] << 16 | (size_t)blob[13] << 8 | blob[14];
	odd = malloc(len + 1);
	assert_non_null(odd);
	memcpy(odd, blob, 11);
	odd[11] = 0;
	odd[12] = 0;
	odd[13] = 0;
	odd[14] = (unsigned char)(elen + 1);
	odd[15] = 0;
	memcpy(odd + 16, blob + 15, len - 15);
	b64_encode(b64, odd, len + 1);
	assert_int_equal(parse(&s, &err, "ci ssh-rsa %s\n", b64), 0);
	assert_int_equal(s->v[0].keylen, len);
	assert_memory_equal(s->v[0].key, blob, len);
	assert_int_equal(plumb_signers_match(s, blob, len, NOW, &who, &err), 0);
	plumb_signers_free(s);
	/* rsa-sha2-256 names an RSA key on a line, as OpenSSH reads it */
	assert_int_equal(parse(&s, &err, "ci rsa-sha2-256 %s\n", strchr(key_rsa, ' ') + 1), 0);
	assert_int_equal(plumb_signers_match(s, blob, len, NOW, &who, &err), 0);
	plumb_signers_free(s);
	free(odd);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_and_match),
		cmocka_unit_test(negation),
		cmocka_unit_test(duplicates),
		cmocka_unit_test(quoting),
		cmocka_unit_test(dates),
		cmocka_unit_test(patterns),
		cmocka_unit_test(unusable_lines),
		cmocka_unit_test(rsa_encodings),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	plumb_log_set_level(PLUMB_LOG_ERROR);   /* the skips are asserted, not printed */
	load_keys();
	return cmocka_run_group_tests_name("signers", tests, NULL, NULL);
}
