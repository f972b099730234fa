/* fuzz_sshsig.c - libFuzzer target: SSHSIG armor parsing and verification
 * over arbitrary input (the strict armor and base64), raw git object
 * splitting feeding it, and allowed_signers key blobs read as OpenSSH does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "plumb/gitobj.h"
#include "plumb/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plumb_signed_obj so;
	struct plumb_sshsig *sig = NULL;
	struct plumb_err err;

	if (plumb_sshsig_parse(&sig, (const char *)data, size, &err) == 0) {
		(void)plumb_sshsig_verify(sig, data, size, &err);
		plumb_sshsig_free(sig);
	}
	if (plumb_gitobj_commit_split(&so, data, size, &err) == 0) {
		if (plumb_sshsig_parse(&sig, so.signature, so.signature_len, &err) == 0) {
			(void)plumb_sshsig_verify(sig, so.payload, so.payload_len, &err);
			plumb_sshsig_free(sig);
		}
		plumb_signed_obj_release(&so);
	}
	if (plumb_gitobj_tag_split(&so, data, size, &err) == 0)
		plumb_signed_obj_release(&so);
	{
		unsigned char *canon = NULL;
		size_t clen;
		char type[32];

		if (plumb_sshkey_canon(&canon, &clen, data, size, type, &err) == 0)
			free(canon);
	}
	return 0;
}
