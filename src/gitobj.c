/* gitobj.c - signed-payload extraction from raw git objects.
 * Works on the object bytes libgit2's odb returns, never on parsed fields. */
#include <stdlib.h>
#include <string.h>

#include "plumb/buf.h"
#include "plumb/gitobj.h"
#include "banned.h"

#define SIG_BEGIN "-----BEGIN SSH SIGNATURE-----"

void plumb_signed_obj_release(struct plumb_signed_obj *o)
{
	free(o->payload);
	free(o->signature);
	memset(o, 0, sizeof(*o));
}

/* Length of the header block: up to and including the newline before the
 * first empty line, or the whole object. */
static size_t header_len(const unsigned char *obj, size_t len)
{
	if (len > 0 && obj[0] == '\n')
		return 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (obj[i] == '\n' && obj[i + 1] == '\n')
			return i + 1;
	return len;
}

/* End of the header entry starting at i (past its continuation lines). */
static size_t entry_end(const unsigned char *obj, size_t hlen, size_t i)
{
	for (;;) {
		const unsigned char *nl = memchr(obj + i, '\n', hlen - i);

		i = nl ? (size_t)(nl - obj) + 1 : hlen;
		if (i >= hlen || obj[i] != ' ')
			return i;
	}
}

int plumb_gitobj_commit_split(struct plumb_signed_obj *out, const unsigned char *obj, size_t len,
			      struct plumb_err *err)
{
	size_t hlen = header_len(obj, len), i = 0, nsig = 0;
	struct plumb_buf payload, sig;
	int r;

	memset(out, 0, sizeof(*out));
	if (memchr(obj, '\0', len) != NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "commit object contains a NUL byte");
	plumb_buf_init(&payload, len);
	plumb_buf_init(&sig, len);
	while (i < hlen) {
		size_t e = entry_end(obj, hlen, i);

		if (e - i > 6 && memcmp(obj + i, "gpgsig", 6) == 0 && (obj[i + 6] == ' ' || obj[i + 6] == '-')) {
			if (obj[i + 6] == ' ') {
				/* value: first line after "gpgsig ", then continuations minus one space */
				size_t j = i + 7;

				nsig++;
				while (j < e) {
					const unsigned char *nl = memchr(obj + j, '\n', e - j);
					size_t lend = nl ? (size_t)(nl - obj) + 1 : e;

					if ((r = plumb_buf_add(&sig, obj + j, lend - j)) != 0)
						goto out_nomem;
					j = lend;
					if (j < e)
						j++;    /* the continuation's leading space */
				}
			}
		} else if ((r = plumb_buf_add(&payload, obj + i, e - i)) != 0) {
			goto out_nomem;
		}
		i = e;
	}
	if (nsig != 1) {
		plumb_buf_release(&payload);
		plumb_buf_release(&sig);
		if (nsig == 0)
			return plumb_err_set(err, PLUMB_E_NOTFOUND, "commit is not signed");
		return plumb_err_set(err, PLUMB_E_INVALID, "commit has %zu gpgsig headers", nsig);
	}
	if ((r = plumb_buf_add(&payload, obj + hlen, len - hlen)) != 0)
		goto out_nomem;
	out->payload = (unsigned char *)plumb_buf_detach(&payload, &out->payload_len);
	out->signature = plumb_buf_detach(&sig, &out->signature_len);
	if (out->payload == NULL || out->signature == NULL) {
		plumb_signed_obj_release(out);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	return 0;
out_nomem:
	plumb_buf_release(&payload);
	plumb_buf_release(&sig);
	return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
}

int plumb_gitobj_tag_split(struct plumb_signed_obj *out, const unsigned char *obj, size_t len,
			   struct plumb_err *err)
{
	size_t hlen = header_len(obj, len), at = len, n = strlen(SIG_BEGIN);

	memset(out, 0, sizeof(*out));
	if (memchr(obj, '\0', len) != NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "tag object contains a NUL byte");
	for (size_t i = hlen; i + n <= len; i++)
		if ((i == 0 || obj[i - 1] == '\n') && memcmp(obj + i, SIG_BEGIN, n) == 0)
			at = i;
	if (at == len || at <= hlen)
		return plumb_err_set(err, PLUMB_E_NOTFOUND, "tag is not signed with an SSH key");
	if ((out->payload = malloc(at ? at : 1)) == NULL || (out->signature = strndup((const char *)obj + at, len - at)) == NULL) {
		plumb_signed_obj_release(out);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	memcpy(out->payload, obj, at);
	out->payload_len = at;
	out->signature_len = len - at;
	return 0;
}

int plumb_gitobj_header(char *out, size_t outlen, const unsigned char *obj, size_t len, const char *name)
{
	size_t hlen = header_len(obj, len), n = strlen(name), i = 0;
	int found = 0;

	while (i < hlen) {
		size_t e = entry_end(obj, hlen, i);

		if (e - i > n + 1 && memcmp(obj + i, name, n) == 0 && obj[i + n] == ' ') {
			size_t vlen = e - i - n - 1;

			if (found++ || vlen == 0 || obj[e - 1] != '\n' || vlen > outlen ||
			    memchr(obj + i + n + 1, '\n', vlen - 1) != NULL)
				return PLUMB_E_INVALID;
			memcpy(out, obj + i + n + 1, vlen - 1);
			out[vlen - 1] = '\0';
		}
		i = e;
	}
	return found ? 0 : PLUMB_E_NOTFOUND;
}
