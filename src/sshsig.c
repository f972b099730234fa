/* sshsig.c - SSHSIG parsing and verification over OpenSSL 3 EVP.
 * Everything is judged strictly: one namespace, known algorithms, minimal
 * encodings, no trailing bytes; anything else is refused with a reason. */
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "plumb/hash.h"
#include "plumb/sshsig.h"
#include "sshwire.h"
#include "banned.h"

#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define ARMOR_END "-----END SSH SIGNATURE-----"

struct plumb_sshsig {
	unsigned char *blob;             /* the decoded SSHSIG, owned */
	size_t bloblen;
	const unsigned char *key;        /* into blob */
	size_t keylen;
	char hashalg[8];                 /* "sha256" | "sha512" */
	const unsigned char *sig;        /* the signature string, into blob */
	size_t siglen;
};

/* --- base64 --------------------------------------------------------------- */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

int plumb_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t len)
{
	unsigned char *buf;
	size_t pad = 0, n = 0;
	uint32_t acc = 0;
	int bits = 0;

	*out = NULL;
	/* Canonical only: whole quads, '=' padding (one or two) only at the end. */
	if (len % 4 != 0)
		return PLUMB_E_PARSE;
	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	if ((buf = malloc(len / 4 * 3 + 3)) == NULL)
		return PLUMB_E_NOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0) {
			free(buf);
			return PLUMB_E_PARSE;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {   /* non-canonical tail */
		free(buf);
		return PLUMB_E_PARSE;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

static void put_string(unsigned char **p, const void *s, size_t n);

/* --- keys ------------------------------------------------------------------ */

enum keytype { KT_ED25519, KT_ECDSA, KT_RSA };

struct pubkey {
	enum keytype type;
	char name[32];                   /* wire type name */
	const char *group;               /* ECDSA: OpenSSL group name */
	const EVP_MD *(*md)(void);       /* ECDSA: digest by curve */
	const unsigned char *a;          /* ed25519 key | EC point | RSA e */
	size_t alen;
	const unsigned char *b;          /* RSA n */
	size_t blen;
};

static const struct {
	const char *type, *curve, *group;
	const EVP_MD *(*md)(void);
} ec_curves[] = {
	{"ecdsa-sha2-nistp256", "nistp256", "prime256v1", EVP_sha256},
	{"ecdsa-sha2-nistp384", "nistp384", "secp384r1", EVP_sha384},
	{"ecdsa-sha2-nistp521", "nistp521", "secp521r1", EVP_sha512},
};

static EVP_PKEY *make_pkey(const struct pubkey *k);

static int parse_key(struct pubkey *k, const unsigned char *blob, size_t len, struct plumb_err *err)
{
	const unsigned char *t;
	size_t tlen;
	struct sshwire w;

	memset(k, 0, sizeof(*k));
	if (len > PLUMB_SSHKEY_BLOB_MAX)
		return plumb_err_set(err, PLUMB_E_PARSE, "public key is too large");
	sshwire_init(&w, blob, len);
	if (sshwire_string(&w, &t, &tlen) != 0 || tlen == 0 || tlen >= sizeof(k->name))
		return plumb_err_set(err, PLUMB_E_PARSE, "malformed public key");
	memcpy(k->name, t, tlen);
	k->name[tlen] = '\0';
	if (memchr(k->name, '\0', tlen) != NULL)
		return plumb_err_set(err, PLUMB_E_PARSE, "malformed public key type");
	if (strcmp(k->name, "ssh-ed25519") == 0) {
		k->type = KT_ED25519;
		if (sshwire_string(&w, &k->a, &k->alen) != 0 || k->alen != 32)
			return plumb_err_set(err, PLUMB_E_PARSE, "malformed ssh-ed25519 key");
	} else if (strcmp(k->name, "ssh-rsa") == 0) {
		k->type = KT_RSA;
		if (sshwire_mpint(&w, &k->a, &k->alen) != 0 || sshwire_mpint(&w, &k->b, &k->blen) != 0 ||
		    k->alen == 0 || k->blen == 0)
			return plumb_err_set(err, PLUMB_E_PARSE, "malformed ssh-rsa key");
		/* b[0] != 0: the mpint is minimal and positive */
		if ((k->blen - 1) * 8 + (size_t)(32 - __builtin_clz(k->b[0])) < 2048)
			return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "RSA keys under 2048 bits are refused");
		if (k->blen > 2048)   /* 16384 bits */
			return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "RSA key is too large");
	} else {
		size_t i;

		for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++)
			if (strcmp(k->name, ec_curves[i].type) == 0)
				break;
		if (i == sizeof(ec_curves) / sizeof(ec_curves[0]))
			return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "key type '%s' is not supported", k->name);
		k->type = KT_ECDSA;
		k->group = ec_curves[i].group;
		k->md = ec_curves[i].md;
		if (sshwire_expect(&w, ec_curves[i].curve) != 0 || sshwire_string(&w, &k->a, &k->alen) != 0 ||
		    k->alen == 0 || k->a[0] != 0x04)
			return plumb_err_set(err, PLUMB_E_PARSE, "malformed %s key", k->name);
	}
	if (w.left != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "trailing bytes after the public key");
	return 0;
}

int plumb_sshkey_check(const unsigned char *blob, size_t len, char type[32], struct plumb_err *err)
{
	struct pubkey k;
	int r;

	if ((r = parse_key(&k, blob, len, err)) != 0)
		return r;
	memcpy(type, k.name, sizeof(k.name));
	return 0;
}

/* An OpenSSH bignum as sshbuf_get_bignum2_bytes_direct reads it: not
 * negative, at most 16384 bits, leading zero bytes allowed and dropped. */
static int lenient_mpint(struct sshwire *w, const unsigned char **s, size_t *len)
{
	if (sshwire_string(w, s, len) != 0)
		return -1;
	if (*len > 0 && ((*s)[0] & 0x80))
		return -1;
	if (*len > 2049 || (*len == 2049 && (*s)[0] != 0))
		return -1;
	while (*len > 0 && (*s)[0] == 0) {
		(*s)++;
		(*len)--;
	}
	return 0;
}

static void put_mpint(unsigned char **p, const unsigned char *v, size_t n)
{
	size_t lead = n > 0 && (v[0] & 0x80) ? 1 : 0;
	size_t l = n + lead;

	(*p)[0] = (unsigned char)(l >> 24);
	(*p)[1] = (unsigned char)(l >> 16);
	(*p)[2] = (unsigned char)(l >> 8);
	(*p)[3] = (unsigned char)l;
	*p += 4;
	if (lead)
		*(*p)++ = 0;
	memcpy(*p, v, n);
	*p += n;
}

int plumb_sshkey_canon(unsigned char **out, size_t *outlen, const unsigned char *blob, size_t len,
		       char type[32], struct plumb_err *err)
{
	const unsigned char *e, *n, *t;
	size_t elen, nlen, tlen, bits;
	unsigned char *c, *p;
	struct sshwire w;
	struct pubkey k;
	EVP_PKEY *pk;
	int r;

	*out = NULL;
	sshwire_init(&w, blob, len);
	if (sshwire_string(&w, &t, &tlen) != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "malformed public key");
	if (tlen != 7 || memcmp(t, "ssh-rsa", 7) != 0) {
		/* ed25519 and ECDSA have one encoding: the strict reader is OpenSSH's */
		if ((r = parse_key(&k, blob, len, err)) != 0)
			return r;
		if (k.type == KT_ECDSA) {
			/* OpenSSH refuses a point off the curve; so does OpenSSL */
			if ((pk = make_pkey(&k)) == NULL)
				return plumb_err_set(err, PLUMB_E_PARSE, "%s key is not a point on its curve", k.name);
			EVP_PKEY_free(pk);
		}
		if ((c = malloc(len ? len : 1)) == NULL)
			return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		memcpy(c, blob, len);
		memcpy(type, k.name, sizeof(k.name));
		*out = c;
		*outlen = len;
		return 0;
	}
	if (lenient_mpint(&w, &e, &elen) != 0 || lenient_mpint(&w, &n, &nlen) != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "malformed ssh-rsa key");
	if (w.left != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "trailing bytes after the public key");
	bits = nlen == 0 ? 0 : (nlen - 1) * 8 + (size_t)(32 - __builtin_clz(n[0]));
	if (bits < 1024 || bits > 16384)
		return plumb_err_set(err, PLUMB_E_PARSE, "RSA key of %zu bits (OpenSSH reads 1024 to 16384)", bits);
	if (bits < 2048 || elen == 0)
		return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "RSA keys under 2048 bits are refused");
	if ((c = malloc(4 + 7 + 4 + 1 + elen + 4 + 1 + nlen)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	p = c;
	put_string(&p, "ssh-rsa", 7);
	put_mpint(&p, e, elen);
	put_mpint(&p, n, nlen);
	*outlen = (size_t)(p - c);
	*out = c;
	memcpy(type, "ssh-rsa", 8);
	return 0;
}

void plumb_sshkey_fingerprint(char out[PLUMB_FINGERPRINT_MAX], const unsigned char *blob, size_t len)
{
	unsigned char md[32];
	unsigned char b64[48];
	int n;

	EVP_Digest(blob, len, md, NULL, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, md, 32);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, PLUMB_FINGERPRINT_MAX, "SHA256:%.*s", n, (const char *)b64);
}

/* Builds an OpenSSL public key. Returns NULL on failure. */
static EVP_PKEY *make_pkey(const struct pubkey *k)
{
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;

	if (k->type == KT_ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->a, k->alen);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if (k->type == KT_ECDSA) {
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, k->group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, k->a, k->alen))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else {
		if ((e = BN_bin2bn(k->a, (int)k->alen, NULL)) == NULL ||
		    (n = BN_bin2bn(k->b, (int)k->blen, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	}
	if (ctx == NULL || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/* ECDSA: SSH's (mpint r, mpint s) as the DER OpenSSL verifies. */
static int ecdsa_der(unsigned char **der, int *derlen, const unsigned char *s, size_t len)
{
	const unsigned char *r_, *s_;
	size_t rl, sl;
	struct sshwire w;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *sb = NULL;
	int ret = -1;

	sshwire_init(&w, s, len);
	if (sshwire_mpint(&w, &r_, &rl) != 0 || sshwire_mpint(&w, &s_, &sl) != 0 || w.left != 0 ||
	    rl == 0 || sl == 0 || rl > 66 || sl > 66)
		return -1;
	if ((sig = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(r_, (int)rl, NULL)) == NULL ||
	    (sb = BN_bin2bn(s_, (int)sl, NULL)) == NULL || !ECDSA_SIG_set0(sig, r, sb))
		goto out;
	r = sb = NULL;   /* owned by sig */
	*der = NULL;
	if ((*derlen = i2d_ECDSA_SIG(sig, der)) <= 0)
		goto out;
	ret = 0;
out:
	BN_free(r);
	BN_free(sb);
	ECDSA_SIG_free(sig);
	return ret;
}

/* --- SSHSIG ---------------------------------------------------------------- */

/* The armor exactly as ssh-keygen writes it and git stores it: the BEGIN line
 * first (no blank line, no leading space), then non-empty lines of canonical
 * padded base64 (no spaces, no CR), the END line, at most one newline after.
 * OpenSSH and git tolerate some variants; accepting them would let anyone
 * mint new object ids for an already-signed payload, so they are refused. */
static int dearmor(unsigned char **out, size_t *outlen, const char *armor, size_t len)
{
	const size_t nb = strlen(ARMOR_BEGIN), ne = strlen(ARMOR_END);
	const char *p = armor, *end = armor + len;
	char *b64;
	size_t n = 0;
	int r, done = 0;

	*out = NULL;
	if (len < nb + 1 || memcmp(p, ARMOR_BEGIN, nb) != 0 || p[nb] != '\n')
		return PLUMB_E_PARSE;
	p += nb + 1;
	if ((b64 = malloc(len)) == NULL)
		return PLUMB_E_NOMEM;
	r = PLUMB_E_PARSE;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if ((size_t)(le - p) == ne && memcmp(p, ARMOR_END, ne) == 0) {
			/* the END line: nothing but its own newline may follow */
			done = nl == NULL || nl + 1 == end;
			break;
		}
		if (le == p)
			goto out;                     /* an empty line */
		for (const char *q = p; q < le; q++) {
			if (b64val((unsigned char)*q) < 0 && *q != '=')
				goto out;
			b64[n++] = *q;
		}
		if (nl == NULL)
			goto out;                     /* no END line */
		p = nl + 1;
	}
	if (!done || n == 0)
		goto out;
	r = plumb_base64_decode(out, outlen, b64, n);
out:
	free(b64);
	return r;
}

int plumb_sshsig_parse(struct plumb_sshsig **out, const char *armor, size_t len, struct plumb_err *err)
{
	struct plumb_sshsig *s;
	const unsigned char *ns, *res, *h;
	size_t nslen, reslen, hlen;
	struct sshwire w;
	struct pubkey k;
	uint32_t version;
	int r;

	*out = NULL;
	if (len > PLUMB_SSHSIG_ARMOR_MAX)
		return plumb_err_set(err, PLUMB_E_PARSE, "signature is too large");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if ((r = dearmor(&s->blob, &s->bloblen, armor, len)) != 0) {
		r = plumb_err_set(err, r, "signature is not an armored SSH signature");
		goto out;
	}
	if (s->bloblen < 6 || memcmp(s->blob, "SSHSIG", 6) != 0) {
		r = plumb_err_set(err, PLUMB_E_PARSE, "signature lacks the SSHSIG magic");
		goto out;
	}
	sshwire_init(&w, s->blob + 6, s->bloblen - 6);
	if (sshwire_u32(&w, &version) != 0 || version != 1) {
		r = plumb_err_set(err, PLUMB_E_UNSUPPORTED, "SSHSIG version is not 1");
		goto out;
	}
	if (sshwire_string(&w, &s->key, &s->keylen) != 0 || sshwire_string(&w, &ns, &nslen) != 0 ||
	    sshwire_string(&w, &res, &reslen) != 0 || sshwire_string(&w, &h, &hlen) != 0 ||
	    sshwire_string(&w, &s->sig, &s->siglen) != 0) {
		r = plumb_err_set(err, PLUMB_E_PARSE, "malformed SSHSIG");
		goto out;
	}
	if (w.left != 0) {
		r = plumb_err_set(err, PLUMB_E_PARSE, "trailing bytes after the SSHSIG");
		goto out;
	}
	if (nslen != strlen(PLUMB_SSHSIG_NAMESPACE) || memcmp(ns, PLUMB_SSHSIG_NAMESPACE, nslen) != 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "signature namespace is '%.*s', not 'git'",
				  (int)(nslen > 64 ? 64 : nslen), (const char *)ns);
		goto out;
	}
	if (reslen != 0) {
		r = plumb_err_set(err, PLUMB_E_PARSE, "SSHSIG reserved field is not empty");
		goto out;
	}
	if (hlen == 6 && (memcmp(h, "sha256", 6) == 0 || memcmp(h, "sha512", 6) == 0)) {
		memcpy(s->hashalg, h, 6);
		s->hashalg[6] = '\0';
	} else {
		r = plumb_err_set(err, PLUMB_E_UNSUPPORTED, "SSHSIG hash algorithm is not sha256 or sha512");
		goto out;
	}
	if ((r = parse_key(&k, s->key, s->keylen, err)) != 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
out:
	plumb_sshsig_free(s);
	return r;
}

const unsigned char *plumb_sshsig_key(const struct plumb_sshsig *sig, size_t *len)
{
	*len = sig->keylen;
	return sig->key;
}

void plumb_sshsig_free(struct plumb_sshsig *sig)
{
	if (sig == NULL)
		return;
	free(sig->blob);
	free(sig);
}

static void put_string(unsigned char **p, const void *s, size_t n)
{
	(*p)[0] = (unsigned char)(n >> 24);
	(*p)[1] = (unsigned char)(n >> 16);
	(*p)[2] = (unsigned char)(n >> 8);
	(*p)[3] = (unsigned char)n;
	memcpy(*p + 4, s, n);
	*p += 4 + n;
}

int plumb_sshsig_verify(const struct plumb_sshsig *sig, const void *payload, size_t len,
			struct plumb_err *err)
{
	const EVP_MD *hmd = strcmp(sig->hashalg, "sha256") == 0 ? EVP_sha256() : EVP_sha512();
	unsigned char h[64], signed_data[6 + 4 + 3 + 4 + 4 + 6 + 4 + 64], *p = signed_data;
	unsigned char *der = NULL, *padded = NULL;
	const unsigned char *alg, *sb;
	size_t alglen, sblen;
	unsigned int hlen = 0;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *pkey = NULL;
	struct sshwire w;
	struct pubkey k;
	int r, derlen = 0;

	if ((r = parse_key(&k, sig->key, sig->keylen, err)) != 0)
		return r;
	/* The message is built from the namespace we expect, not the blob's. */
	if (!EVP_Digest(payload, len, h, &hlen, hmd, NULL))
		return plumb_err_set(err, PLUMB_E_INTERNAL, "digest failed");
	memcpy(p, "SSHSIG", 6);
	p += 6;
	put_string(&p, PLUMB_SSHSIG_NAMESPACE, 3);
	put_string(&p, "", 0);
	put_string(&p, sig->hashalg, 6);
	put_string(&p, h, hlen);

	sshwire_init(&w, sig->sig, sig->siglen);
	if (sshwire_string(&w, &alg, &alglen) != 0 || sshwire_string(&w, &sb, &sblen) != 0 || w.left != 0)
		return plumb_err_set(err, PLUMB_E_PARSE, "malformed signature blob");
	if ((pkey = make_pkey(&k)) == NULL || (mctx = EVP_MD_CTX_new()) == NULL) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "cannot load the %s public key", k.name);
		goto out;
	}
	r = plumb_err_set(err, PLUMB_E_INVALID, "bad signature");
	switch (k.type) {
	case KT_ED25519:
		if (alglen != 11 || memcmp(alg, "ssh-ed25519", 11) != 0 || sblen != 64)
			goto out;
		if (EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, pkey) != 1 ||
		    EVP_DigestVerify(mctx, sb, sblen, signed_data, (size_t)(p - signed_data)) != 1)
			goto out;
		break;
	case KT_ECDSA:
		if (alglen != strlen(k.name) || memcmp(alg, k.name, alglen) != 0 ||
		    ecdsa_der(&der, &derlen, sb, sblen) != 0)
			goto out;
		if (EVP_DigestVerifyInit(mctx, NULL, k.md(), NULL, pkey) != 1 ||
		    EVP_DigestVerify(mctx, der, (size_t)derlen, signed_data, (size_t)(p - signed_data)) != 1)
			goto out;
		break;
	case KT_RSA: {
		const EVP_MD *md;
		size_t modlen = (size_t)EVP_PKEY_get_size(pkey);

		if (alglen == 12 && memcmp(alg, "rsa-sha2-256", 12) == 0)
			md = EVP_sha256();
		else if (alglen == 12 && memcmp(alg, "rsa-sha2-512", 12) == 0)
			md = EVP_sha512();
		else {
			r = plumb_err_set(err, PLUMB_E_INVALID, "RSA signature algorithm '%.*s' is refused",
					  (int)(alglen > 32 ? 32 : alglen), (const char *)alg);
			goto out;
		}
		if (sblen == 0 || sblen > modlen)
			goto out;
		/* OpenSSH may drop leading zero bytes: pad to the modulus length. */
		if ((padded = calloc(1, modlen)) == NULL) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(padded + modlen - sblen, sb, sblen);
		if (EVP_DigestVerifyInit(mctx, NULL, md, NULL, pkey) != 1 ||
		    EVP_DigestVerify(mctx, padded, modlen, signed_data, (size_t)(p - signed_data)) != 1)
			goto out;
		break;
	}
	}
	r = 0;
	plumb_err_clear(err);
out:
	free(padded);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pkey);
	return r;
}
