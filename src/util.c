/* util.c - durations, RFC 3339 times, numbers, hex, UUIDs.
 * Pure functions apart from getrandom(); every parser is strict. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "plumb/error.h"
#include "plumb/util.h"
#include "banned.h"

int plumb_parse_u64(uint64_t *out, const char *s, uint64_t max)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return PLUMB_E_PARSE;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return PLUMB_E_PARSE;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return PLUMB_E_PARSE;
		v = v * 10 + d;
	}
	if (v > max)
		return PLUMB_E_PARSE;
	*out = v;
	return 0;
}

int plumb_duration_parse(uint64_t *out, const char *s)
{
	uint64_t total = 0;

	if (s == NULL || *s == '\0')
		return PLUMB_E_PARSE;
	while (*s) {
		uint64_t v = 0, mult;
		int digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (v > (UINT64_MAX / 10) - 10)
				return PLUMB_E_PARSE;
			v = v * 10 + (uint64_t)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0)
			return PLUMB_E_PARSE;
		switch (*s) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return PLUMB_E_PARSE;
		}
		s++;
		if (v > UINT32_MAX || total > UINT64_MAX - v * mult)
			return PLUMB_E_PARSE;
		total += v * mult;
	}
	*out = total;
	return 0;
}

static int days_from_civil(int64_t *out, int y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01 (proleptic Gregorian). */
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*out = era * 146097 + (int64_t)doe - 719468;
	return 0;
}

static int digits(const char *s, int n, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int plumb_time_parse(time_t *out, const char *s)
{
	unsigned Y, M, D, h, mi, sec;
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t days, t;
	const char *p;

	if (s == NULL || strlen(s) < 20)
		return PLUMB_E_PARSE;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return PLUMB_E_PARSE;
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60)
		return PLUMB_E_PARSE;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		return PLUMB_E_PARSE;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return PLUMB_E_PARSE;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	days_from_civil(&days, (int)Y, M, D);
	t = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)(sec == 60 ? 59 : sec);
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		/* UTC */
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		unsigned oh, om;

		if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return PLUMB_E_PARSE;
		t += (*p == '+' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
	} else {
		return PLUMB_E_PARSE;
	}
	*out = (time_t)t;
	return 0;
}

void plumb_time_format(char out[21], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int plumb_parse_mode(unsigned *out, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned v = 0;

	if (n < 3 || n > 4)
		return PLUMB_E_PARSE;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return PLUMB_E_PARSE;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

void plumb_hex(char *out, const unsigned char *in, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int plumb_uuid4(char out[37])
{
	unsigned char b[16];
	char hx[33];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return PLUMB_E_IO;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	plumb_hex(hx, b, 16);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hx, hx + 8, hx + 12, hx + 16, hx + 20);
	return 0;
}

int plumb_is_text(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;

		if (c < 0x80) {
			if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
				return 0;
			if (c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		if (k >= n - i)
			return 0;	/* truncated sequence */
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

char *plumb_escape_ctl(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; s != NULL && *s && o + 1 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			if (o + 5 >= outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

void plumb_utf8_trim(char *s)
{
	size_t n = strlen(s), i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t want = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < want)
		s[i - 1] = '\0';
}
