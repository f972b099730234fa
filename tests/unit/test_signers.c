/* test_signers.c - allowed_signers parsing (options, quoting, refusals with
 * file:line) and matching by key, namespace and the agent's clock. */
#include "testlib.h"

#include "plumb/signers.h"
#include "plumb/sshsig.h"

static char key_a[256], key_b[256];  /* "ssh-ed25519 AAAA..." */

/* Fixed test keys: two ed25519 public keys (from ssh-keygen; private halves discarded). */
static void load_keys(void)
{
	char *dir = t_mkdtemp(), cmd[1024], p[600], *s;

	snprintf(cmd, sizeof(cmd), "cd %s && ssh-keygen -q -t ed25519 -N '' -f a && ssh-keygen -q -t ed25519 -N '' -f b", dir);
	assert_int_equal(system_ok(cmd), 0);
	snprintf(p, sizeof(p), "%s/a.pub", dir);
	s = t_read(p, NULL);
	*strchr(strchr(s, ' ') + 1, ' ') = '\0';
	snprintf(key_a, sizeof(key_a), "%s", s);
	free(s);
	snprintf(p, sizeof(p), "%s/b.pub", dir);
	s = t_read(p, NULL);
	*strchr(strchr(s, ' ') + 1, ' ') = '\0';
	snprintf(key_b, sizeof(key_b), "%s", s);
	free(s);
	t_rm_rf(dir);
	free(dir);
}

static int parse(struct plumb_signers **out, struct plumb_err *err, const char *fmt, ...)
{
	char text[4096];
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

static void parse_and_match(void **state)
{
	struct plumb_signers *s;
	const struct plumb_signer *who;
	struct plumb_err err;
	unsigned char *a, *b;
	size_t alen, blen;

	(void)state;
	blob_of(key_a, &a, &alen);
	blob_of(key_b, &b, &blen);
	assert_int_equal(parse(&s, &err,
			       "# pipeline keys\n\n"
			       "ci@example.com,release@example.com namespaces=\"git,file\",valid-after=\"20200101\" %s comment here\n"
			       "\"old key\" valid-before=20200101Z %s\n", key_a, key_b), 0);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->v[1].principals, "old key");
	assert_int_equal(plumb_signers_match(s, a, alen, 1800000000, &who, &err), 0);
	assert_string_equal(who->principals, "ci@example.com,release@example.com");
	/* before valid-after: refused */
	assert_int_equal(plumb_signers_match(s, a, alen, 1500000000, &who, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "outside its validity window by this host's clock (signers:3)"));
	/* after valid-before (UTC midnight 2020-01-01 = 1577836800) */
	assert_int_equal(plumb_signers_match(s, b, blen, 1577836800, &who, &err), 0);
	assert_int_equal(plumb_signers_match(s, b, blen, 1577836801, &who, &err), PLUMB_E_INVALID);
	plumb_signers_free(s);

	assert_int_equal(parse(&s, &err, "ci namespaces=\"file\" %s\n", key_a), 0);
	assert_int_equal(plumb_signers_match(s, a, alen, 1800000000, &who, &err), PLUMB_E_INVALID);
	assert_non_null(strstr(err.msg, "not allowed to sign in namespace 'git'"));
	assert_int_equal(plumb_signers_match(s, b, blen, 1800000000, &who, &err), PLUMB_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "signed by an unknown key SHA256:"));
	plumb_signers_free(s);
	free(a);
	free(b);
}

static void refusals(void **state)
{
	struct plumb_signers *s = NULL;
	struct plumb_err err;

	(void)state;
	assert_int_equal(parse(&s, &err, "ci cert-authority %s\n", key_a), PLUMB_E_UNSUPPORTED);
	assert_string_equal(err.msg, "signers:1: cert-authority is not supported; list the signing keys themselves");
	assert_int_equal(parse(&s, &err, "\nci frobnicate=1 %s\n", key_a), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "signers:2: unknown option 'frobnicate'");
	assert_int_equal(parse(&s, &err, "ci valid-before=2020 %s\n", key_a), PLUMB_E_PARSE);
	assert_non_null(strstr(err.msg, "signers:1: valid-before: '2020' is not"));
	assert_int_equal(parse(&s, &err, "ci ssh-ed25519 !!!notbase64\n"), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "signers:1: the key is not valid base64");
	assert_int_equal(parse(&s, &err, "ci ssh-rsa %s\n", strchr(key_a, ' ') + 1), PLUMB_E_PARSE);
	assert_non_null(strstr(err.msg, "does not match the key (ssh-ed25519)"));
	assert_int_equal(parse(&s, &err, "ci\n"), PLUMB_E_PARSE);
	assert_int_equal(parse(&s, &err, "# only comments\n\n"), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "signers: no keys: nothing could ever be trusted");
	assert_int_equal(plumb_signers_parse(&s, "signers", "ci \0x", 5, &err), PLUMB_E_PARSE);
	assert_null(s);
}

static void patterns(void **state)
{
	(void)state;
	assert_true(plumb_match_pattern_list("git", "git"));
	assert_true(plumb_match_pattern_list("git", "file,git"));
	assert_true(plumb_match_pattern_list("git", "*"));
	assert_true(plumb_match_pattern_list("git", "g?t"));
	assert_false(plumb_match_pattern_list("git", "file"));
	assert_false(plumb_match_pattern_list("git", "*,!git"));
	assert_false(plumb_match_pattern_list("git", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_and_match),
		cmocka_unit_test(refusals),
		cmocka_unit_test(patterns),
	};

	load_keys();
	return cmocka_run_group_tests_name("signers", tests, NULL, NULL);
}
