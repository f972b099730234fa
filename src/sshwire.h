/* sshwire.h - private bounds-checked reader of SSH wire encoding (RFC 4251:
 * uint32, string, mpint), shared by sshsig.c. Never reads past end. */
#ifndef PLUMB_SSHWIRE_H
#define PLUMB_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sshwire {
	const unsigned char *p;
	size_t left;
};

static inline void sshwire_init(struct sshwire *w, const unsigned char *p, size_t len)
{
	w->p = p;
	w->left = len;
}

static inline int sshwire_u32(struct sshwire *w, uint32_t *out)
{
	if (w->left < 4)
		return -1;
	*out = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 | (uint32_t)w->p[2] << 8 | w->p[3];
	w->p += 4;
	w->left -= 4;
	return 0;
}

/* A string: points into the buffer, no copy. */
static inline int sshwire_string(struct sshwire *w, const unsigned char **s, size_t *len)
{
	uint32_t n;

	if (sshwire_u32(w, &n) != 0 || n > w->left)
		return -1;
	*s = w->p;
	*len = n;
	w->p += n;
	w->left -= n;
	return 0;
}

/* A string that must equal lit exactly. */
static inline int sshwire_expect(struct sshwire *w, const char *lit)
{
	const unsigned char *s;
	size_t n;

	if (sshwire_string(w, &s, &n) != 0 || n != strlen(lit) || memcmp(s, lit, n) != 0)
		return -1;
	return 0;
}

/* A non-negative mpint, returned without its sign byte. Zero has length 0. */
static inline int sshwire_mpint(struct sshwire *w, const unsigned char **s, size_t *len)
{
	if (sshwire_string(w, s, len) != 0)
		return -1;
	if (*len > 0 && ((*s)[0] & 0x80))
		return -1;                       /* negative */
	if (*len > 1 && (*s)[0] == 0 && !((*s)[1] & 0x80))
		return -1;                       /* non-minimal */
	if (*len > 0 && (*s)[0] == 0) {
		(*s)++;
		(*len)--;
	}
	return 0;
}

#endif
