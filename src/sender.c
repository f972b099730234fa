/* sender.c - HTTPS delivery of spooled reports with libcurl.
 * One easy handle per pass (connection reuse), bounded everything: time,
 * response size, protocols. The bearer token is read per pass and wiped. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "plumb/buf.h"
#include "plumb/log.h"
#include "plumb/report.h"
#include "plumb/sender.h"
#include "plumb/spool.h"
#include "plumb/state.h"
#include "plumb/version.h"
#include "banned.h"

struct response {
	char body[1024];
	size_t len;
	char retry_after[128];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct response *r = ud;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	if (room > 0) {
		size_t k = len < room ? len : room;

		memcpy(r->body + r->len, p, k);
		r->len += k;
		r->body[r->len] = '\0';
	}
	return len;   /* the rest is read and discarded: the body is capped */
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct response *r = ud;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		size_t k = len - 12;

		while (k > 0 && (p[12 + k - 1] == '\r' || p[12 + k - 1] == '\n'))
			k--;
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)k, p + 12);
	}
	return len;
}

long plumb_retry_after(const char *value, time_t now)
{
	const char *p = value;
	long v = 0;
	time_t t;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			if (v > 100000000)
				return -1;
			v = v * 10 + (*p - '0');
		}
		while (*p == ' ')
			p++;
		return *p == '\0' ? v : -1;
	}
	if ((t = curl_getdate(p, NULL)) < 0)
		return -1;
	return t > now ? (long)(t - now) : 0;
}

/* Reads the bearer token (first line, trimmed). */
static int read_token(char *out, size_t outlen, const char *path, struct plumb_err *err)
{
	struct plumb_buf b;
	size_t n;
	int r;

	if ((r = plumb_buf_load_file(&b, path, PLUMB_TOKEN_MAX, "report.token_file", err)) != 0)
		return r;
	n = b.len;
	if (b.data && memchr(b.data, '\n', n))
		n = (size_t)((char *)memchr(b.data, '\n', n) - b.data);
	while (n > 0 && (b.data[n - 1] == '\r' || b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= outlen) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		plumb_buf_release(&b);
		return plumb_err_set(err, PLUMB_E_INVALID, "report.token_file '%s' holds no usable token", path);
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)b.data[i] < 0x21 || (unsigned char)b.data[i] > 0x7e) {
			explicit_bzero(b.data, b.len);
			plumb_buf_release(&b);
			return plumb_err_set(err, PLUMB_E_INVALID, "report.token_file '%s': the token has a bad character",
					     path);
		}
	}
	memcpy(out, b.data, n);
	out[n] = '\0';
	explicit_bzero(b.data, b.len);
	plumb_buf_release(&b);
	return 0;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Full jitter: uniform in [0, min(cap, 2^failures)] seconds. */
static long backoff(uint32_t failures)
{
	uint32_t r = 0;
	long cap = failures >= 10 ? PLUMB_SEND_BACKOFF_MAX : (1L << failures);

	if (cap > PLUMB_SEND_BACKOFF_MAX)
		cap = PLUMB_SEND_BACKOFF_MAX;
	(void)!getrandom(&r, sizeof(r), GRND_NONBLOCK);
	return (long)((double)r / 4294967296.0 * (double)(cap + 1));
}

static int curl_ready(void)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		done = 1;
	return done;
}

/* A report answered 413: split it into pieces of at most half its size
 * (and at most report.max_bytes), in its place in the spool. Returns 0,
 * or a negative code when it cannot get smaller (one event, no diff
 * left): then it is final. */
static int split_entry(struct plumb_state *st, const struct plumb_config *cfg, const struct plumb_spool_entry *e,
		       const char *text, size_t len)
{
	struct plumb_err err;
	json_error_t je;
	json_t *doc, **parts = NULL;
	char **texts = NULL;
	const char **ids = NULL;
	size_t np = 0, target = len / 2, i;
	int r = PLUMB_E_NOMEM;

	if (target > cfg->report_max_bytes)
		target = (size_t)cfg->report_max_bytes;
	if ((doc = json_loadb(text, len, 0, &je)) == NULL) {
		plumb_log(PLUMB_LOG_ERROR, "report %s answered 413 and cannot be read back to split it: %s", e->name,
			  je.text);
		return PLUMB_E_PARSE;
	}
	if ((r = plumb_report_split(&parts, &np, doc, target, &err)) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "report %s answered 413 and cannot be split: %s", e->name, err.msg);
		goto out;
	}
	r = PLUMB_E_NOMEM;
	if ((texts = calloc(np, sizeof(*texts))) == NULL || (ids = calloc(np, sizeof(*ids))) == NULL)
		goto out;
	for (i = 0; i < np; i++) {
		if ((texts[i] = json_dumps(parts[i], JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
			goto out;
		ids[i] = json_string_value(json_object_get(parts[i], "id"));
		if (np == 1 && strlen(texts[i]) >= len) {
			/* One event whose diffs are gone already: it cannot shrink. */
			plumb_log(PLUMB_LOG_ERROR, "report %s answered 413 and holds one event of %zu bytes that "
				  "cannot be made smaller", e->name, len);
			r = PLUMB_E_INVALID;
			goto out;
		}
	}
	if ((r = plumb_spool_split(st, e, texts, ids, np, &err)) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "cannot split report %s in the spool: %s", e->name, err.msg);
		goto out;
	}
	plumb_log(PLUMB_LOG_WARN, "report %s (%zu bytes) too large for the control plane (HTTP 413): split into "
		  "%zu report(s) of at most %zu bytes", e->name, len, np, target);
	r = 0;
out:
	for (i = 0; texts != NULL && i < np; i++)
		free(texts[i]);
	free(texts);
	free(ids);
	plumb_report_parts_free(parts, np);
	json_decref(doc);
	return r;
}

int plumb_deliver(struct plumb_state *st, const struct plumb_config *cfg, double budget_s, int respect_backoff,
		  struct plumb_deliver_result *res, struct plumb_err *err)
{
	struct plumb_spool_entry *v = NULL;
	struct curl_slist *hdrs = NULL;
	struct plumb_spool_stats s;
	char token[PLUMB_TOKEN_MAX + 32], auth[PLUMB_TOKEN_MAX + 64];
	double end = mono() + budget_s;
	CURL *h = NULL;
	size_t n = 0, i;
	unsigned splits = 0;
	int lockfd = -1, r = 0;

	memset(res, 0, sizeof(*res));
	token[0] = '\0';
	if (cfg->report_url == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "no report.url configured");
	if ((r = plumb_spool_dirfd(st, err)) < 0)
		return r;
	close(r);
	if ((lockfd = plumb_spool_lock_delivery(st, err)) < 0)
		return lockfd;
	(void)plumb_spool_stats_load(st, &s, NULL);   /* unusable stats are logged there and not saved */
	if ((r = plumb_spool_list(st, &v, &n, err)) != 0)
		goto out;
	res->pending = (unsigned)n;
	if (n == 0)
		goto out;
	if (respect_backoff && plumb_spool_retry_wait(&s, time(NULL)) > 0) {
		res->backing_off = 1;
		goto out;
	}
	if (cfg->report_token_file && (r = read_token(token, sizeof(token), cfg->report_token_file, err)) != 0)
		goto out;
	if (!curl_ready() || (h = curl_easy_init()) == NULL) {
		r = plumb_err_set(err, PLUMB_E_NOMEM, "cannot initialize libcurl");
		goto out;
	}
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	curl_easy_setopt(h, CURLOPT_URL, cfg->report_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, strncmp(cfg->report_url, "http://", 7) == 0 ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "plumb/" PLUMB_VERSION);
	if (cfg->report_ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->report_ca_file);
	if (cfg->report_cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->report_cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->report_key_file);
	}
	for (i = 0; i < n; i++) {
		struct response resp;
		char *text = NULL;
		size_t len = 0;
		long code = 0, left_ms = (long)((end - mono()) * 1000);
		CURLcode cc;

		if (left_ms < 500)
			break;     /* out of time: the rest waits for the next pass */
		if (plumb_spool_read(st, &v[i], &text, &len, NULL) != 0)
			continue;  /* delivered or moved by someone else meanwhile */
		memset(&resp, 0, sizeof(resp));
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms < PLUMB_SEND_TIMEOUT * 1000 ? left_ms : PLUMB_SEND_TIMEOUT * 1000L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
		s.last_attempt = time(NULL);
		cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (cc != CURLE_OK && code == 413)
			cc = CURLE_OK;   /* answered before the upload ended, then closed: an answer all the same */
		else if (cc != CURLE_OK)
			code = 0;
		if (cc == CURLE_OK && code >= 200 && code < 300) {
			free(text);
			plumb_spool_remove(st, &v[i]);
			res->delivered++;
			s.last_delivery = time(NULL);
			s.failures = 0;
			s.next_attempt = 0;
			s.last_error[0] = '\0';
			continue;
		}
		if (cc == CURLE_OK && code == 413 && splits >= PLUMB_SEND_SPLITS_MAX) {
			free(text);
			break;     /* enough splitting for one pass: the next goes on */
		}
		if (cc == CURLE_OK && code == 413 && split_entry(st, cfg, &v[i], text, len) == 0) {
			/* Split into smaller reports in its place: list again, and
			 * go on with the first piece. */
			free(text);
			res->split++;
			s.split++;
			splits++;
			free(v);
			v = NULL;
			if ((r = plumb_spool_list(st, &v, &n, err)) != 0)
				goto out;
			i = (size_t)-1;
			continue;
		}
		free(text);
		if (cc == CURLE_OK && (code == 400 || code == 413 || code == 422)) {
			/* Final: the report itself is refused (malformed, or too
			 * large even split to single events); kept as evidence. */
			char reason[1200];

			snprintf(reason, sizeof(reason), "HTTP %ld: %s", code, resp.body);
			plumb_spool_reject(st, &v[i], reason);
			plumb_log(PLUMB_LOG_ERROR, "report %s rejected by the control plane (HTTP %ld: %.200s); kept in "
				  "spool/rejected/ (plumb spool requeue sends it again)", v[i].name, code, resp.body);
			snprintf(s.last_error, sizeof(s.last_error), "HTTP %ld (rejected)", code);
			res->rejected++;
			s.rejected++;
			continue;
		}
		/* Retryable: stop here, keep the order, back off. 401/403 too:
		 * the credentials are wrong now, the report is not. */
		{
			long ra = resp.retry_after[0] ? plumb_retry_after(resp.retry_after, time(NULL)) : -1;
			long wait = backoff(++s.failures);

			if (ra > wait)
				wait = ra > PLUMB_SEND_BACKOFF_MAX ? PLUMB_SEND_BACKOFF_MAX : ra;
			s.next_attempt = time(NULL) + wait;
			if (cc != CURLE_OK)
				snprintf(s.last_error, sizeof(s.last_error), "%s", curl_easy_strerror(cc));
			else
				snprintf(s.last_error, sizeof(s.last_error), "HTTP %ld%s", code,
					 code == 401 || code == 403 ? " (credentials refused)" :
					 code == 429 || code == 503 ? " (throttled)" : "");
			if (cc == CURLE_OK && (code == 401 || code == 403)) {
				s.auth_refused++;
				res->auth_refused = 1;
				plumb_log(PLUMB_LOG_ERROR, "the control plane %s refused this agent's credentials (HTTP %ld: "
					  "%.200s): check report.token_file or the client certificate; %zu report(s) "
					  "kept, next try in %ld s", cfg->report_url, code, resp.body, n - i, wait);
			} else if (cc == CURLE_OK && (code == 429 || code == 503)) {
				s.throttled++;
				plumb_log(PLUMB_LOG_WARN, "the control plane %s asks to come back later (HTTP %ld%s%s); "
					  "%zu report(s) kept, next try in %ld s", cfg->report_url, code,
					  resp.retry_after[0] ? ", Retry-After:" : "", resp.retry_after, n - i, wait);
			} else {
				plumb_log(PLUMB_LOG_WARN, "report delivery to %s failed (%s); %zu pending, next try in %ld s",
					  cfg->report_url, s.last_error, n - i, wait);
			}
		}
		break;
	}
out:
	explicit_bzero(token, sizeof(token));
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	if (n > 0) {
		struct plumb_spool_entry *left;
		size_t k;

		plumb_spool_stats_save(st, &s);
		if (plumb_spool_list(st, &left, &k, NULL) == 0) {
			res->pending = (unsigned)k;
			free(left);
		}
	}
	free(v);
	if (lockfd >= 0)
		close(lockfd);
	return r;
}
