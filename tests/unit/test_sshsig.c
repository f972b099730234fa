/* test_sshsig.c - SSHSIG parse/verify against signatures made by ssh-keygen
 * -Y sign at test time (the reference implementation), base64 strictness,
 * fingerprints as ssh-keygen -l prints them. */
#include "testlib.h"

#include "plumb/sshsig.h"

static char *dir;

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system_ok(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static char *readf(const char *name)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return t_read(p, NULL);
}

/* Signs the file "payload" with key NAME in namespace ns and hash alg. */
static struct plumb_sshsig *signed_by(const char *key, const char *ns, const char *hashalg, int expect)
{
	struct plumb_sshsig *sig = NULL;
	struct plumb_err err;
	char *armor;

	sh("cd %s && rm -f payload.sig && ssh-keygen -q -Y sign -n %s %s%s -f %s payload", dir, ns,
	   hashalg ? "-O hashalg=" : "", hashalg ? hashalg : "", key);
	armor = readf("payload.sig");
	assert_int_equal(plumb_sshsig_parse(&sig, armor, strlen(armor), &err), expect);
	free(armor);
	return sig;
}

static int setup(void **state)
{
	(void)state;
	dir = t_mkdtemp();
	t_write(dir, "payload", "tree 0123\nauthor x\n\nbaseline 42\n");
	sh("cd %s && ssh-keygen -q -t ed25519 -N '' -f ed && ssh-keygen -q -t ecdsa -b 256 -N '' -f p256 && "
	   "ssh-keygen -q -t ecdsa -b 384 -N '' -f p384 && ssh-keygen -q -t ecdsa -b 521 -N '' -f p521 && "
	   "ssh-keygen -q -t rsa -b 2048 -N '' -f rsa && ssh-keygen -q -t rsa -b 1024 -N '' -f rsa1024", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	t_rm_rf(dir);
	free(dir);
	return 0;
}

static void verify_all_types(void **state)
{
	static const char *keys[] = {"ed", "p256", "p384", "p521", "rsa"};
	static const char *algs[] = {"sha512", "sha256"};
	char *payload = readf("payload");
	struct plumb_err err;

	(void)state;
	for (size_t k = 0; k < 5; k++) {
		for (size_t a = 0; a < 2; a++) {
			struct plumb_sshsig *sig = signed_by(keys[k], "git", algs[a], 0);

			if (plumb_sshsig_verify(sig, payload, strlen(payload), &err) != 0)
				fail_msg("%s/%s: %s", keys[k], algs[a], err.msg);
			/* one changed byte: refused */
			payload[0] ^= 1;
			assert_int_equal(plumb_sshsig_verify(sig, payload, strlen(payload), &err), PLUMB_E_INVALID);
			assert_string_equal(err.msg, "bad signature");
			payload[0] ^= 1;
			plumb_sshsig_free(sig);
		}
	}
	free(payload);
}

static void namespace_and_small_rsa(void **state)
{
	struct plumb_err err;
	char *armor;
	struct plumb_sshsig *sig = NULL;

	(void)state;
	sh("cd %s && rm -f payload.sig && ssh-keygen -q -Y sign -n file -f ed payload", dir);
	armor = readf("payload.sig");
	assert_int_equal(plumb_sshsig_parse(&sig, armor, strlen(armor), &err), PLUMB_E_INVALID);
	assert_string_equal(err.msg, "signature namespace is 'file', not 'git'");
	free(armor);
	sh("cd %s && rm -f payload.sig && ssh-keygen -q -Y sign -n git -f rsa1024 payload", dir);
	armor = readf("payload.sig");
	assert_int_equal(plumb_sshsig_parse(&sig, armor, strlen(armor), &err), PLUMB_E_UNSUPPORTED);
	assert_string_equal(err.msg, "RSA keys under 2048 bits are refused");
	/* damaged armor */
	armor[40] = '!';
	assert_int_equal(plumb_sshsig_parse(&sig, armor, strlen(armor), &err), PLUMB_E_PARSE);
	free(armor);
	assert_int_equal(plumb_sshsig_parse(&sig, "junk", 4, &err), PLUMB_E_PARSE);
	assert_null(sig);
}

static void fingerprint_matches_ssh_keygen(void **state)
{
	char *pub, *lf, fp[PLUMB_FINGERPRINT_MAX];
	unsigned char *blob;
	size_t bloblen;
	char type[32];
	struct plumb_err err;

	(void)state;
	sh("cd %s && ssh-keygen -lf p256.pub | cut -d' ' -f2 > p256.fp", dir);
	pub = readf("p256.pub");
	lf = readf("p256.fp");
	*strchr(lf, '\n') = '\0';
	*strchr(strchr(pub, ' ') + 1, ' ') = '\0';
	assert_int_equal(plumb_base64_decode(&blob, &bloblen, strchr(pub, ' ') + 1, strlen(strchr(pub, ' ') + 1)), 0);
	assert_int_equal(plumb_sshkey_check(blob, bloblen, type, &err), 0);
	assert_string_equal(type, "ecdsa-sha2-nistp256");
	plumb_sshkey_fingerprint(fp, blob, bloblen);
	assert_string_equal(fp, lf);
	free(blob);
	free(pub);
	free(lf);
}

static void base64_strict(void **state)
{
	unsigned char *out;
	size_t n;

	(void)state;
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9vYg==", 8), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "foob", 4);
	free(out);
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9vYg", 6), PLUMB_E_PARSE);   /* padding required */
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9vYg=", 7), PLUMB_E_PARSE);
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm=vYg==", 8), PLUMB_E_PARSE);
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9vYmFy", 8), 0);
	assert_int_equal(n, 6);
	free(out);
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9vYh==", 8), PLUMB_E_PARSE);  /* non-canonical */
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9v Yg==", 9), PLUMB_E_PARSE);
	assert_int_equal(plumb_base64_decode(&out, &n, "Z", 1), PLUMB_E_PARSE);
	assert_int_equal(plumb_base64_decode(&out, &n, "Zm9vY===", 8), PLUMB_E_PARSE);
}

/* The armor exactly as ssh-keygen writes it: every variant git or
 * ssh-keygen might tolerate would mint a new commit id for a signed payload. */
static void armor_strict(void **state)
{
	struct plumb_sshsig *sig = NULL;
	struct plumb_err err;
	char *armor, *v, *p;
	size_t n;

	(void)state;
	sh("cd %s && rm -f payload.sig && ssh-keygen -q -Y sign -n git -f ed payload", dir);
	armor = readf("payload.sig");
	n = strlen(armor);
	v = malloc(n + 16);
	assert_int_equal(plumb_sshsig_parse(&sig, armor, n, &err), 0);
	plumb_sshsig_free(sig);
	/* without the final newline: still the same signature */
	assert_int_equal(plumb_sshsig_parse(&sig, armor, n - 1, &err), 0);
	plumb_sshsig_free(sig);
	/* an empty first line; a leading space */
	snprintf(v, n + 16, "\n%s", armor);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	snprintf(v, n + 16, " %s", armor);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	/* a space at the start of the first base64 line */
	p = strchr(armor, '\n') + 1;
	snprintf(v, n + 16, "%.*s %s", (int)(p - armor), armor, p);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	/* a CR before a newline; a blank line inside */
	snprintf(v, n + 16, "%.*s\r%s", (int)(p - armor - 1), armor, p - 1);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	snprintf(v, n + 16, "%.*s\n%s", (int)(p - armor), armor, p);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	/* text after the END line; two newlines after it */
	snprintf(v, n + 16, "%sx\n", armor);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	snprintf(v, n + 16, "%s\n", armor);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	/* the '=' padding stripped (an ed25519 SSHSIG is 173 bytes: one '=') */
	p = strstr(armor, "=\n-----END");
	assert_non_null(p);
	snprintf(v, n + 16, "%.*s%s", (int)(p - armor), armor, p + 1);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	/* no END line */
	snprintf(v, n + 16, "%.*s", (int)(p - armor + 2), armor);
	assert_int_equal(plumb_sshsig_parse(&sig, v, strlen(v), &err), PLUMB_E_PARSE);
	assert_null(sig);
	free(v);
	free(armor);
}

/* allowed_signers keys are read as OpenSSH reads them, into the canonical
 * blob a signature carries. */
static void key_canon(void **state)
{
	unsigned char *blob, *c;
	size_t len, clen;
	char *pub, type[32];
	struct plumb_err err;

	(void)state;
	pub = readf("rsa1024.pub");
	*strchr(strchr(pub, ' ') + 1, ' ') = '\0';
	assert_int_equal(plumb_base64_decode(&blob, &len, strchr(pub, ' ') + 1, strlen(strchr(pub, ' ') + 1)), 0);
	assert_int_equal(plumb_sshkey_canon(&c, &clen, blob, len, type, &err), PLUMB_E_UNSUPPORTED);
	assert_string_equal(err.msg, "RSA keys under 2048 bits are refused");
	free(blob);
	free(pub);
	pub = readf("p256.pub");
	*strchr(strchr(pub, ' ') + 1, ' ') = '\0';
	assert_int_equal(plumb_base64_decode(&blob, &len, strchr(pub, ' ') + 1, strlen(strchr(pub, ' ') + 1)), 0);
	assert_int_equal(plumb_sshkey_canon(&c, &clen, blob, len, type, &err), 0);
	assert_string_equal(type, "ecdsa-sha2-nistp256");
	assert_int_equal(clen, len);
	assert_memory_equal(c, blob, len);
	free(c);
	/* a point off the curve: OpenSSH refuses it, so does plumb */
	blob[len - 1] ^= 1;
	assert_int_equal(plumb_sshkey_canon(&c, &clen, blob, len, type, &err), PLUMB_E_PARSE);
	free(blob);
	free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verify_all_types),
		cmocka_unit_test(namespace_and_small_rsa),
		cmocka_unit_test(fingerprint_matches_ssh_keygen),
		cmocka_unit_test(base64_strict),
		cmocka_unit_test(armor_strict),
		cmocka_unit_test(key_canon),
	};

	return cmocka_run_group_tests_name("sshsig", tests, setup, teardown);
}
