/* hash.h - SHA-256 over memory and file descriptors (OpenSSL EVP).
 * Reports and the quarantine name content by these digests. */
#ifndef PLUMB_HASH_H
#define PLUMB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PLUMB_SHA256_LEN 32
#define PLUMB_SHA256_HEX 65

struct plumb_sha256;

/* Returns a new context, or NULL on allocation failure. */
struct plumb_sha256 *plumb_sha256_new(void);
void plumb_sha256_update(struct plumb_sha256 *h, const void *p, size_t n);
/* Writes the digest as hex and frees the context. */
void plumb_sha256_final_hex(struct plumb_sha256 *h, char out[PLUMB_SHA256_HEX]);
void plumb_sha256_free(struct plumb_sha256 *h);

/* One-shot digest of memory as hex. Returns 0 or PLUMB_E_NOMEM. */
int plumb_sha256_mem_hex(char out[PLUMB_SHA256_HEX], const void *p, size_t n);

/* Digest of a file from offset 0 (pread) up to max bytes at most (the size
 * fstat gave, so a growing file cannot keep the reader going), with the
 * size read. Returns 0, PLUMB_E_NOMEM or PLUMB_E_IO (errno kept). */
int plumb_sha256_fd_hex(char out[PLUMB_SHA256_HEX], uint64_t *size, int fd, uint64_t max);

/* The git blob id (SHA-1 over "blob <size>\0" + content) of a file whose
 * size is expected to be size, read with pread from offset 0. Returns 0,
 * PLUMB_E_INVALID if the file's length is not size, PLUMB_E_IO/NOMEM. */
int plumb_gitblob_id_fd(unsigned char out[20], int fd, uint64_t size);

#endif
