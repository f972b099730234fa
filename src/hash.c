/* hash.c - SHA-256 helpers over OpenSSL's EVP interface.
 * Streaming in 128 KiB reads so memory stays flat whatever the file size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "plumb/error.h"
#include "plumb/hash.h"
#include "plumb/util.h"
#include "banned.h"

struct plumb_sha256 {
	EVP_MD_CTX *ctx;
};

struct plumb_sha256 *plumb_sha256_new(void)
{
	struct plumb_sha256 *h = malloc(sizeof(*h));

	if (h == NULL)
		return NULL;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void plumb_sha256_update(struct plumb_sha256 *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->ctx, p, n);
}

void plumb_sha256_final_hex(struct plumb_sha256 *h, char out[PLUMB_SHA256_HEX])
{
	unsigned char md[PLUMB_SHA256_LEN];
	unsigned int len = 0;

	EVP_DigestFinal_ex(h->ctx, md, &len);
	plumb_hex(out, md, PLUMB_SHA256_LEN);
	plumb_sha256_free(h);
}

void plumb_sha256_free(struct plumb_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int plumb_sha256_mem_hex(char out[PLUMB_SHA256_HEX], const void *p, size_t n)
{
	struct plumb_sha256 *h = plumb_sha256_new();

	if (h == NULL)
		return PLUMB_E_NOMEM;
	plumb_sha256_update(h, p, n);
	plumb_sha256_final_hex(h, out);
	return 0;
}

int plumb_sha256_fd_hex(char out[PLUMB_SHA256_HEX], uint64_t *size, int fd, uint64_t max)
{
	enum { CHUNK = 128 * 1024 };
	struct plumb_sha256 *h;
	unsigned char *buf;
	uint64_t off = 0;

	if ((buf = malloc(CHUNK)) == NULL)
		return PLUMB_E_NOMEM;
	if ((h = plumb_sha256_new()) == NULL) {
		free(buf);
		return PLUMB_E_NOMEM;
	}
	for (;;) {
		size_t want = max - off < CHUNK ? (size_t)(max - off) : CHUNK;
		ssize_t n = want == 0 ? 0 : pread(fd, buf, want, (off_t)off);

		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			plumb_sha256_free(h);
			free(buf);
			errno = e;
			return PLUMB_E_IO;
		}
		if (n == 0)
			break;
		plumb_sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	plumb_sha256_final_hex(h, out);
	if (size != NULL)
		*size = off;
	return 0;
}

int plumb_gitblob_id_fd(unsigned char out[20], int fd, uint64_t size)
{
	enum { CHUNK = 128 * 1024 };
	char hdr[32];
	unsigned char *buf;
	EVP_MD_CTX *ctx;
	uint64_t off = 0;
	int n, r = PLUMB_E_IO;

	if ((buf = malloc(CHUNK)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
		free(buf);
		return PLUMB_E_NOMEM;
	}
	n = snprintf(hdr, sizeof(hdr), "blob %llu", (unsigned long long)size);
	if (!EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, hdr, (size_t)n + 1))
		goto out;
	for (;;) {
		ssize_t got = pread(fd, buf, CHUNK, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		off += (uint64_t)got;
		if (off > size) {
			r = PLUMB_E_INVALID;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)got);
		if (got < CHUNK)
			break;      /* a short read of a regular file is its end */
	}
	if (off != size) {
		r = PLUMB_E_INVALID;
		goto out;
	}
	r = EVP_DigestFinal_ex(ctx, out, NULL) ? 0 : PLUMB_E_INTERNAL;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return r;
}
