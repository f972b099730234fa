/* sshsig.h - OpenSSH signatures (PROTOCOL.sshsig) verified with OpenSSL:
 * de-armor, strict parse, and verification for namespace "git" with
 * ssh-ed25519, ecdsa-sha2-nistp256/384/521 and RSA (rsa-sha2-256/512,
 * >= 2048 bits; never SHA-1). Also the key-blob helpers allowed_signers uses. */
#ifndef PLUMB_SSHSIG_H
#define PLUMB_SSHSIG_H

#include <stddef.h>

#include "plumb/error.h"

/* Caps on what is parsed at all. */
#define PLUMB_SSHSIG_ARMOR_MAX 16384
#define PLUMB_SSHKEY_BLOB_MAX 2048
#define PLUMB_FINGERPRINT_MAX 64   /* "SHA256:" + 43 base64 chars + NUL */

/* The namespace git signs in; the only one plumb accepts. */
#define PLUMB_SSHSIG_NAMESPACE "git"

struct plumb_sshsig;

/* De-armors and parses an SSHSIG block. Requires version 1, namespace
 * exactly "git", reserved "", hash sha256 or sha512, no trailing bytes, and a
 * supported, well-formed public key. Returns 0 or PLUMB_E_PARSE /
 * PLUMB_E_UNSUPPORTED with err saying why. */
int plumb_sshsig_parse(struct plumb_sshsig **out, const char *armor, size_t len, struct plumb_err *err);

/* Verifies the signature over payload. Returns 0 if valid, else
 * PLUMB_E_INVALID ("bad signature") or another negative code. */
int plumb_sshsig_verify(const struct plumb_sshsig *sig, const void *payload, size_t len,
			struct plumb_err *err);

/* The signer's public key blob (SSH wire form), owned by sig. */
const unsigned char *plumb_sshsig_key(const struct plumb_sshsig *sig, size_t *len);

void plumb_sshsig_free(struct plumb_sshsig *sig);

/* Checks that blob is a public key of a supported type and shape (RSA at
 * least 2048 bits). Writes its type name (at most 31 bytes) to type.
 * Returns 0, PLUMB_E_PARSE or PLUMB_E_UNSUPPORTED with err filled. */
int plumb_sshkey_check(const unsigned char *blob, size_t len, char type[32], struct plumb_err *err);

/* Reads a public key blob from an allowed_signers line as OpenSSH reads it
 * (RSA bignums may carry leading zero bytes) and returns, in *out, its
 * canonical blob: the encoding plumb_sshsig_parse accepts, so keys compare
 * byte for byte exactly when OpenSSH would call them equal. Writes the type
 * name to type. Returns 0, PLUMB_E_PARSE (OpenSSH refuses it too),
 * PLUMB_E_UNSUPPORTED (OpenSSH reads it, plumb cannot use it: RSA under 2048
 * bits, other key types) or PLUMB_E_NOMEM, with err filled. */
int plumb_sshkey_canon(unsigned char **out, size_t *outlen, const unsigned char *blob, size_t len,
		       char type[32], struct plumb_err *err);

/* "SHA256:<base64, unpadded>" of a key blob, as ssh-keygen -l prints it. */
void plumb_sshkey_fingerprint(char out[PLUMB_FINGERPRINT_MAX], const unsigned char *blob, size_t len);

/* Strict canonical base64 (RFC 4648): whole padded quads, no whitespace,
 * zero pad bits. (allowed_signers keys are read as OpenSSH reads them, in
 * signers.c; this is for signatures, where a variant means malleability.)
 * Returns 0 with a malloc'd *out, or PLUMB_E_PARSE / PLUMB_E_NOMEM. */
int plumb_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t len);

#endif
