/* util.h - small pure helpers shared by every module: durations, RFC 3339
 * times, numbers, hex, random UUIDs. No I/O except the random source. */
#ifndef PLUMB_UTIL_H
#define PLUMB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parses "90s", "5m", "1h", "2d" or a combination such as "1h30m" into
 * seconds. A bare number is refused (units must be explicit).
 * Returns 0 or PLUMB_E_PARSE. */
int plumb_duration_parse(uint64_t *out, const char *s);

/* Parses an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" (fraction allowed and
 * ignored; offsets "+HH:MM" accepted). Returns 0 or PLUMB_E_PARSE. */
int plumb_time_parse(time_t *out, const char *s);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void plumb_time_format(char out[21], time_t t);

/* Parses a decimal unsigned integer with no sign, no spaces, no overflow,
 * and value <= max. Returns 0 or PLUMB_E_PARSE. */
int plumb_parse_u64(uint64_t *out, const char *s, uint64_t max);

/* Parses a file mode of 3 or 4 octal digits ("644", "0644", "4755").
 * Returns 0 or PLUMB_E_PARSE. */
int plumb_parse_mode(unsigned *out, const char *s);

/* Writes n bytes as lowercase hex plus NUL into out (2n+1 bytes). */
void plumb_hex(char *out, const unsigned char *in, size_t n);

/* Fills out with a random RFC 4122 version 4 UUID string (37 bytes).
 * Returns 0 or PLUMB_E_IO if the kernel's random source fails. */
int plumb_uuid4(char out[37]);

/* True if s (of length n) holds only printable UTF-8 text, tabs and
 * newlines: the test that decides whether a file may be shown as text. */
int plumb_is_text(const unsigned char *s, size_t n);

/* Cuts s (NUL-terminated, e.g. written by snprintf) back to whole UTF-8
 * characters: a string cut inside one is invalid text (PostgreSQL refuses
 * it, JSON encoders escape or reject it). */
void plumb_utf8_trim(char *s);

/* Copies s into out (outlen > 0), writing control characters (bytes below
 * 0x20 and 0x7f) as \xNN so a hostile path cannot forge log lines or
 * terminal escapes; cuts at outlen. Returns out. */
char *plumb_escape_ctl(char *out, size_t outlen, const char *s);

#endif
