/* sender.c - HTTPS delivery of spooled reports with libcurl.
 * One easy handle per pass (connection reuse), bounded everything: time,
 * response size, protocols. The bearer token is read per pass and wiped.
 * The spool is kept by root; libcurl runs in a child as the plumb user
 * (net_child below, docs/PRIVSEP.md). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "plumb/buf.h"
#include "plumb/log.h"
#include "plumb/report.h"
#include "plumb/sandbox.h"
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

/* --- the network child ---------------------------------------------------
 * plumb-send splits itself in two (OpenSSH's privsep shape): this process,
 * root, keeps the spool and decides what becomes of each report; a child
 * it forks drops to the plumb user and is the only part that runs libcurl
 * (TLS, HTTP, the hub's answers). Between them, a socketpair:
 *   keeper -> child: struct wire_req, then len bytes of report;
 *   child -> keeper: struct wire_ans (fixed size, checked field by field).
 * The child never sees the spool, the token file or the key file: it gets
 * the token, the CA bundle, the certificate and the key in memory, read
 * as root before it drops. A compromised child can lie about an answer:
 * at worst a report is withheld (claimed delivered: the hub sees the host
 * go quiet) or set aside in spool/rejected/ (counted, kept as evidence),
 * never anything written outside the spool by root. */

#define WIRE_MAGIC 0x706c6d62u   /* "plmb" */

struct wire_req {
	uint32_t magic;
	uint32_t len;                /* report bytes that follow, at most PLUMB_SPOOL_REPORT_MAX */
	uint32_t timeout_ms;
};

struct wire_ans {
	uint32_t magic;
	int32_t answered;            /* 1: the control plane answered (code says what) */
	int32_t code;                /* HTTP status, 100..599 when answered */
	char retry_after[128];
	char body[1024];             /* the first bytes of the answer */
	char error[256];             /* libcurl's words when not answered */
};

struct plumb_net {
	pid_t pid;
	int fd;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);   /* a dead peer is an error, not SIGPIPE */

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes: 0, 1 at EOF before the first byte, -1 otherwise
 * (EOF mid-message, an error, or no byte for timeout_ms when >= 0). */
static int read_all(int fd, void *p, size_t n, long timeout_ms)
{
	char *c = p;
	size_t got = 0;
	double end = mono() + (double)timeout_ms / 1000.0;

	while (got < n) {
		ssize_t r;

		if (timeout_ms >= 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			long left = (long)((end - mono()) * 1000);

			if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
				return -1;
		}
		r = read(fd, c + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && got == 0)
			return 1;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int curl_ready(void)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		done = 1;
	return done;
}

static void blob_set(CURL *h, CURLoption opt, struct plumb_buf *b)
{
	struct curl_blob blob = {.data = b->data, .len = b->len, .flags = CURL_BLOB_NOCOPY};

	curl_easy_setopt(h, opt, &blob);
}

/* The child: never returns. */
static void net_child(int fd, const struct plumb_config *cfg, const struct plumb_sandbox_user *u, const char *token)
{
	struct plumb_buf ca, cert, key;
	struct curl_slist *hdrs = NULL;
	struct plumb_err err;
	char auth[PLUMB_TOKEN_MAX + 64];
	CURL *h;
	int devnull;

	memset(&ca, 0, sizeof(ca));
	memset(&cert, 0, sizeof(cert));
	memset(&key, 0, sizeof(key));
	/* Read while still root: the key and the CA are root's files. */
	if ((cfg->report_ca_file && plumb_buf_load_file(&ca, cfg->report_ca_file, PLUMB_SPOOL_REPORT_MAX,
							 "report.ca_file", &err) != 0) ||
	    (cfg->report_cert_file && plumb_buf_load_file(&cert, cfg->report_cert_file, PLUMB_SPOOL_REPORT_MAX,
							   "report.cert_file", &err) != 0) ||
	    (cfg->report_key_file && plumb_buf_load_file(&key, cfg->report_key_file, PLUMB_SPOOL_REPORT_MAX,
							  "report.key_file", &err) != 0)) {
		plumb_log(PLUMB_LOG_ERROR, "%s", err.msg);
		_exit(1);
	}
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		/* Not the parent's pipe: plumbd waits for its EOF. */
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	if (!curl_ready()) {
		plumb_log(PLUMB_LOG_ERROR, "cannot initialize libcurl");
		_exit(1);
	}
	if (plumb_sandbox_enter(u, PLUMB_SANDBOX_SEND, &fd, 1, NULL, &err) != 0) {
		plumb_log(PLUMB_LOG_ERROR, "cannot confine the report sender: %s", err.msg);
		_exit(1);
	}
	if ((h = curl_easy_init()) == NULL)
		_exit(1);
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
	if (ca.data)
		blob_set(h, CURLOPT_CAINFO_BLOB, &ca);
	if (cert.data) {
		blob_set(h, CURLOPT_SSLCERT_BLOB, &cert);
		blob_set(h, CURLOPT_SSLKEY_BLOB, &key);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	for (;;) {
		struct wire_req q;
		struct wire_ans a;
		struct response resp;
		char *text;
		long code = 0;
		CURLcode cc;
		int r = read_all(fd, &q, sizeof(q), -1);

		if (r == 1)
			break;               /* the keeper is done */
		if (r != 0 || q.magic != WIRE_MAGIC || q.len > PLUMB_SPOOL_REPORT_MAX ||
		    q.timeout_ms > PLUMB_SEND_TIMEOUT * 1000u || (text = malloc(q.len + 1)) == NULL)
			_exit(1);
		if (read_all(fd, text, q.len, -1) != 0)
			_exit(1);
		text[q.len] = '\0';
		memset(&resp, 0, sizeof(resp));
		memset(&a, 0, sizeof(a));
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)q.timeout_ms);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q.len);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
		cc = curl_easy_perform(h);
		free(text);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		a.magic = WIRE_MAGIC;
		/* a 413 answered before the upload ended, then closed: an answer all the same */
		a.answered = (cc == CURLE_OK || code == 413) && code >= 100 && code <= 599;
		a.code = a.answered ? (int32_t)code : 0;
		snprintf(a.retry_after, sizeof(a.retry_after), "%s", resp.retry_after);
		snprintf(a.body, sizeof(a.body), "%s", resp.body);
		snprintf(a.error, sizeof(a.error), "%s", cc == CURLE_OK ? "no HTTP status" : curl_easy_strerror(cc));
		if (write_all(fd, &a, sizeof(a)) != 0)
			_exit(1);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	_exit(0);
}

/* Forks the network child (it confines itself), then confines this
 * process to its spool. */
static int net_start(struct plumb_net *n, struct plumb_state *st, const struct plumb_config *cfg, const char *token,
		     struct plumb_err *err)
{
	struct plumb_sandbox_user u;
	char how[256];
	int sv[2], r, dirfd;

	n->pid = -1;
	n->fd = -1;
	if ((r = plumb_sandbox_lookup(&u, cfg->user, err)) != 0)
		return r;
	if ((dirfd = plumb_spool_dirfd(st, err)) < 0)   /* created now: Landlock allows no mkdir in state_dir */
		return dirfd;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		close(dirfd);
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot create a socketpair");
	}
	fflush(NULL);
	if ((n->pid = fork()) < 0) {
		close(dirfd);
		close(sv[0]);
		close(sv[1]);
		return plumb_err_errno(err, PLUMB_E_IO, errno, "cannot fork the report sender");
	}
	if (n->pid == 0) {
		close(sv[0]);
		net_child(sv[1], cfg, &u, token);
	}
	close(sv[1]);
	n->fd = sv[0];
	plumb_sandbox_describe(how, sizeof(how), &u, cfg->user);
	if (!u.found)
		plumb_log(PLUMB_LOG_WARN, "user '%s' does not exist: the report sender runs as root (%s); create it "
			  "(adduser --system %s)", cfg->user, how, cfg->user);
	else
		plumb_log(PLUMB_LOG_DEBUG, "report sender %d: %s", (int)n->pid, how);
	if (fchdir(dirfd) != 0) {
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "cannot enter '%s/%s'", st->path, PLUMB_SPOOL_DIR);
		close(dirfd);
		return r;
	}
	close(dirfd);
	{
		int keep[2] = {st->dirfd, n->fd};

		if ((r = plumb_sandbox_enter_spool(n->pid, keep, 2, err)) != 0)
			return r;
	}
	return 0;
}

static void net_stop(struct plumb_net *n)
{
	if (n->fd >= 0)
		close(n->fd);        /* the child reads EOF and exits */
	if (n->pid > 0) {
		int status;
		long waited = 0;

		/* A child stuck in a request (at most PLUMB_SEND_TIMEOUT) is not
		 * waited for: after 2 s it is killed. */
		while (waitpid(n->pid, &status, WNOHANG) == 0 && waited < 2000) {
			struct timespec ts = {0, 20 * 1000 * 1000};

			nanosleep(&ts, NULL);
			waited += 20;
		}
		if (waited >= 2000) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, &status, 0);
		}
	}
	n->fd = -1;
	n->pid = -1;
}

/* One request through the child. Returns 0 with *a filled and checked, or
 * -1: the child died, hung or said something malformed (it is then
 * stopped, and a->error says what). */
static int net_post(struct plumb_net *n, const char *text, size_t len, long timeout_ms, struct wire_ans *a)
{
	struct wire_req q = {.magic = WIRE_MAGIC, .len = (uint32_t)len, .timeout_ms = (uint32_t)timeout_ms};

	memset(a, 0, sizeof(*a));
	if (n->fd < 0 || len > PLUMB_SPOOL_REPORT_MAX || write_all(n->fd, &q, sizeof(q)) != 0 ||
	    write_all(n->fd, text, len) != 0) {
		snprintf(a->error, sizeof(a->error), "the report sender is gone");
		goto bad;
	}
	/* Its own timeout ends the request first; 5 s more, then it is hung. */
	if (read_all(n->fd, a, sizeof(*a), timeout_ms + 5000) != 0) {
		memset(a, 0, sizeof(*a));
		snprintf(a->error, sizeof(a->error), "the report sender died or hung");
		goto bad;
	}
	a->retry_after[sizeof(a->retry_after) - 1] = '\0';
	a->body[sizeof(a->body) - 1] = '\0';
	a->error[sizeof(a->error) - 1] = '\0';
	if (a->magic != WIRE_MAGIC || (a->answered != 0 && a->answered != 1) ||
	    (a->answered && (a->code < 100 || a->code > 599))) {
		memset(a, 0, sizeof(*a));
		snprintf(a->error, sizeof(a->error), "the report sender gave a malformed answer");
		goto bad;
	}
	/* The body and the error are logged and stored: printable ASCII only. */
	for (char *c = a->body; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	for (char *c = a->error; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	for (char *c = a->retry_after; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	return 0;
bad:
	plumb_log(PLUMB_LOG_ERROR, "%s", a->error);
	net_stop(n);
	return -1;
}

int plumb_deliver(struct plumb_state *st, const struct plumb_config *cfg, double budget_s, int respect_backoff,
		  struct plumb_deliver_result *res, struct plumb_err *err)
{
	struct plumb_spool_entry *v = NULL;
	struct plumb_spool_stats s;
	struct plumb_net net = {.pid = -1, .fd = -1};
	char token[PLUMB_TOKEN_MAX + 32];
	double end = mono() + budget_s;
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
	r = net_start(&net, st, cfg, token, err);
	explicit_bzero(token, sizeof(token));    /* the child has its copy */
	if (r != 0) {
		/* Not confined: nothing is sent, and the spool is not touched. */
		net_stop(&net);
		free(v);
		close(lockfd);
		return r;
	}
	for (i = 0; i < n; i++) {
		struct wire_ans a;
		char *text = NULL;
		size_t len = 0;
		long left_ms = (long)((end - mono()) * 1000);

		if (left_ms < 500)
			break;     /* out of time: the rest waits for the next pass */
		if (plumb_spool_read(st, &v[i], &text, &len, NULL) != 0)
			continue;  /* delivered or moved by someone else meanwhile */
		s.last_attempt = time(NULL);
		(void)net_post(&net, text, len, left_ms < PLUMB_SEND_TIMEOUT * 1000 ? left_ms : PLUMB_SEND_TIMEOUT * 1000L,
			       &a);
		if (a.answered && a.code >= 200 && a.code < 300) {
			free(text);
			plumb_spool_remove(st, &v[i]);
			res->delivered++;
			s.last_delivery = time(NULL);
			s.failures = 0;
			s.next_attempt = 0;
			s.last_error[0] = '\0';
			continue;
		}
		if (a.answered && a.code == 413 && splits >= PLUMB_SEND_SPLITS_MAX) {
			free(text);
			break;     /* enough splitting for one pass: the next goes on */
		}
		if (a.answered && a.code == 413 && split_entry(st, cfg, &v[i], text, len) == 0) {
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
		if (a.answered && (a.code == 400 || a.code == 413 || a.code == 422)) {
			/* Final: the report itself is refused (malformed, or too
			 * large even split to single events); kept as evidence. */
			char reason[1200];

			snprintf(reason, sizeof(reason), "HTTP %d: %s", a.code, a.body);
			plumb_spool_reject(st, &v[i], reason);
			plumb_log(PLUMB_LOG_ERROR, "report %s rejected by the control plane (HTTP %d: %.200s); kept in "
				  "spool/rejected/ (plumb spool requeue sends it again)", v[i].name, a.code, a.body);
			snprintf(s.last_error, sizeof(s.last_error), "HTTP %d (rejected)", a.code);
			res->rejected++;
			s.rejected++;
			continue;
		}
		/* Retryable: stop here, keep the order, back off. 401/403 too:
		 * the credentials are wrong now, the report is not. */
		{
			long ra = a.retry_after[0] ? plumb_retry_after(a.retry_after, time(NULL)) : -1;
			long wait = backoff(++s.failures);

			if (ra > wait)
				wait = ra > PLUMB_SEND_BACKOFF_MAX ? PLUMB_SEND_BACKOFF_MAX : ra;
			s.next_attempt = time(NULL) + wait;
			if (!a.answered)
				snprintf(s.last_error, sizeof(s.last_error), "%s", a.error);
			else
				snprintf(s.last_error, sizeof(s.last_error), "HTTP %d%s", a.code,
					 a.code == 401 || a.code == 403 ? " (credentials refused)" :
					 a.code == 429 || a.code == 503 ? " (throttled)" : "");
			if (a.answered && (a.code == 401 || a.code == 403)) {
				s.auth_refused++;
				res->auth_refused = 1;
				plumb_log(PLUMB_LOG_ERROR, "the control plane %s refused this agent's credentials (HTTP %d: "
					  "%.200s): check report.token_file or the client certificate; %zu report(s) "
					  "kept, next try in %ld s", cfg->report_url, a.code, a.body, n - i, wait);
			} else if (a.answered && (a.code == 429 || a.code == 503)) {
				s.throttled++;
				plumb_log(PLUMB_LOG_WARN, "the control plane %s asks to come back later (HTTP %d%s%s); "
					  "%zu report(s) kept, next try in %ld s", cfg->report_url, a.code,
					  a.retry_after[0] ? ", Retry-After:" : "", a.retry_after, n - i, wait);
			} else {
				plumb_log(PLUMB_LOG_WARN, "report delivery to %s failed (%s); %zu pending, next try in %ld s",
					  cfg->report_url, s.last_error, n - i, wait);
			}
		}
		break;
	}
out:
	explicit_bzero(token, sizeof(token));
	net_stop(&net);
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
