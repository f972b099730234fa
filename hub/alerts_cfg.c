/* alerts_cfg.c - the --alerts file: receivers and routes, read with the
 * strict YAML reader (file:line:col on every error), all or nothing. */
#include "alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/util.h"
#include "plumb/yread.h"
#include "../src/banned.h"

/* Largest alerts file read. */
#define ALERTS_FILE_MAX (1u << 20)

const char *const hub_alert_statuses[HUB_ALERT_STATUS_BITS] = {"drifting", "refused", "silent", "stale"};

int hub_alert_status_index(const char *s)
{
	for (int i = 0; i < HUB_ALERT_STATUS_BITS; i++)
		if (!strcmp(s, hub_alert_statuses[i]))
			return i;
	return -1;
}

void hub_alerts_cfg_free(struct hub_alerts_cfg *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->nroute; i++) {
		for (int j = 0; j < cfg->route[i].nhost; j++)
			free(cfg->route[i].host[j]);
		for (int j = 0; j < cfg->route[i].nres; j++)
			free(cfg->route[i].resource[j]);
	}
	/* the secrets do not outlive the configuration in freed memory */
	for (int i = 0; i < cfg->nrcv; i++)
		explicit_bzero(cfg->rcv[i].secret, sizeof(cfg->rcv[i].secret));
	free(cfg);
}

int hub_route_match(const struct hub_route *r, const char *status, const char *host, const char *resource)
{
	int i, ok;
	if (r->statuses) {
		int s = hub_alert_status_index(status);
		if (s < 0 || !(r->statuses & (1u << s)))
			return 0;
	}
	for (i = 0, ok = r->nhost == 0; i < r->nhost && !ok; i++)
		ok = fnmatch(r->host[i], host, 0) == 0;
	if (!ok)
		return 0;
	if (r->nres && !*resource)
		return 0;
	for (i = 0, ok = r->nres == 0; i < r->nres && !ok; i++)
		ok = fnmatch(r->resource[i], resource, 0) == 0;
	return ok;
}

/* Copies a scalar into a fixed field, refusing what does not fit. */
static int read_fixed(struct plumb_yread *y, char *dst, size_t cap, const char *key, struct plumb_yev *at,
		      struct plumb_err *err)
{
	char *s = NULL;
	int r = plumb_yread_str(y, &s, key, 0, err);
	if (r != 0)
		return r;
	if (strlen(s) >= cap) {
		free(s);
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err, "%s: longer than %zu bytes", key, cap - 1);
	}
	memcpy(dst, s, strlen(s) + 1);
	free(s);
	return 0;
}

/* The secret file: a regular file, not readable by group or others, not
 * empty; one trailing newline is not part of the key. */
static int read_secret(struct plumb_yread *y, struct plumb_yev *at, struct hub_receiver *rv, const char *path,
		       struct plumb_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return plumb_yread_fail(y, at, PLUMB_E_IO, err, "secret_file '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err, "secret_file '%s': not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err,
					"secret_file '%s': readable by group or others (mode %03o); chmod 600 it", path,
					(unsigned)(st.st_mode & 0777));
	}
	ssize_t n = read(fd, rv->secret, sizeof(rv->secret));
	close(fd);
	if (n < 0)
		return plumb_yread_fail(y, at, PLUMB_E_IO, err, "secret_file '%s': %s", path, strerror(errno));
	if ((size_t)n >= sizeof(rv->secret))
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err, "secret_file '%s': longer than %zu bytes", path,
					sizeof(rv->secret) - 1);
	while (n > 0 && (rv->secret[n - 1] == '\n' || rv->secret[n - 1] == '\r'))
		n--;
	rv->secret[n] = '\0';
	if (n == 0)
		return plumb_yread_fail(y, at, PLUMB_E_INVALID, err, "secret_file '%s': empty", path);
	rv->secret_len = (size_t)n;
	return 0;
}

static int read_duration_ms(struct plumb_yread *y, long *out, const char *key, uint64_t min, uint64_t max,
			    struct plumb_err *err)
{
	struct plumb_yev ev;
	uint64_t v;
	int r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, key, err);
	if (r != 0)
		return r;
	if (plumb_duration_parse(&v, ev.value) != 0 || v < min || v > max)
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
					"%s: '%s' is not a duration from %llus to %llus (e.g. 10s)", key, ev.value,
					(unsigned long long)min, (unsigned long long)max);
	*out = (long)v * 1000;
	return 0;
}

static int read_receiver(struct plumb_yread *y, struct hub_alerts_cfg *cfg, struct plumb_yev *start,
			 struct plumb_err *err)
{
	struct plumb_yev key, ev;
	struct hub_receiver *rv = &cfg->rcv[cfg->nrcv];
	char secret_path[4096] = "";
	struct plumb_yev secret_at = *start;
	int r, have_type = 0;
	if (cfg->nrcv >= HUB_ALERT_RECEIVERS_MAX)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "receivers: more than %d",
					HUB_ALERT_RECEIVERS_MAX);
	memset(rv, 0, sizeof(*rv));
	rv->timeout_ms = 10000;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		if (!strcmp(key.value, "name")) {
			struct plumb_yev at = key;
			if ((r = read_fixed(y, rv->name, sizeof(rv->name), "name", &at, err)) != 0)
				return r;
			if (strspn(rv->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
			    strlen(rv->name))
				return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
							"name: '%s': use letters, digits, '-', '_' and '.'", rv->name);
			for (int i = 0; i < cfg->nrcv; i++)
				if (!strcmp(cfg->rcv[i].name, rv->name))
					return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
								"name: receiver '%s' is defined twice", rv->name);
		} else if (!strcmp(key.value, "type")) {
			if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, "type", err)) != 0)
				return r;
			if (!strcmp(ev.value, "alertmanager"))
				rv->type = HUB_RCV_ALERTMANAGER;
			else if (!strcmp(ev.value, "webhook"))
				rv->type = HUB_RCV_WEBHOOK;
			else if (!strcmp(ev.value, "slack"))
				rv->type = HUB_RCV_SLACK;
			else
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"type: '%s': want alertmanager, webhook or slack", ev.value);
			have_type = 1;
		} else if (!strcmp(key.value, "url")) {
			struct plumb_yev at = key;
			if ((r = read_fixed(y, rv->url, sizeof(rv->url), "url", &at, err)) != 0)
				return r;
			if (strncmp(rv->url, "http://", 7) && strncmp(rv->url, "https://", 8))
				/* not echoed: a Slack URL is itself a secret */
				return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
							"url: want an http:// or https:// URL");
			for (const char *p = rv->url; *p; p++)
				if ((unsigned char)*p <= 0x20 || *p == 0x7f)
					return plumb_yread_fail(y, &at, PLUMB_E_INVALID, err,
								"url: contains a space or control character");
		} else if (!strcmp(key.value, "secret_file")) {
			secret_at = key;
			if ((r = read_fixed(y, secret_path, sizeof(secret_path), "secret_file", &secret_at, err)) != 0)
				return r;
		} else if (!strcmp(key.value, "timeout")) {
			if ((r = read_duration_ms(y, &rv->timeout_ms, "timeout", 1, 300, err)) != 0)
				return r;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err,
						"receivers: unknown key '%s' (name, type, url, secret_file, timeout)",
						key.value);
		}
	}
	if (r < 0)
		return r;
	if (!rv->name[0] || !have_type || !rv->url[0])
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "receiver%s%s: needs %s", rv->name[0] ? " " : "",
					rv->name, !rv->name[0] ? "a name" : !have_type ? "a type" : "a url");
	if (secret_path[0]) {
		if (rv->type != HUB_RCV_WEBHOOK)
			return plumb_yread_fail(y, &secret_at, PLUMB_E_INVALID, err,
						"secret_file: only a webhook receiver signs its requests");
		if ((r = read_secret(y, &secret_at, rv, secret_path, err)) != 0)
			return r;
	}
	cfg->nrcv++;
	return 0;
}

/* A glob or a list of globs (host: "web*" or host: [web*, db*]). */
static int read_patterns(struct plumb_yread *y, char **out, int *n, const char *key, struct plumb_err *err)
{
	struct plumb_yev ev;
	int r, seq;
	if ((r = plumb_yread_next(y, &ev, err)) != 0)
		return r;
	seq = ev.kind == PLUMB_Y_SEQ;
	if (!seq && ev.kind != PLUMB_Y_SCALAR)
		return plumb_yread_fail(y, &ev, PLUMB_E_PARSE, err, "%s: want a pattern or a list of patterns", key);
	for (;;) {
		if (seq && (r = plumb_yread_next(y, &ev, err)) != 0)
			return r;
		if (seq && ev.kind == PLUMB_Y_SEQ_END)
			break;
		if (ev.kind != PLUMB_Y_SCALAR || !ev.len || strlen(ev.value) != ev.len)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: want a non-empty pattern", key);
		if (*n >= HUB_ALERT_PATTERNS_MAX)
			return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: more than %d patterns", key,
						HUB_ALERT_PATTERNS_MAX);
		if (!(out[*n] = strdup(ev.value)))
			return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		(*n)++;
		if (!seq)
			break;
	}
	return 0;
}

static int read_route(struct plumb_yread *y, struct hub_alerts_cfg *cfg, struct plumb_yev *start,
		      struct plumb_err *err)
{
	struct plumb_yev key, ev;
	struct hub_route *rt = &cfg->route[cfg->nroute];
	int r;
	if (cfg->nroute >= HUB_ALERT_ROUTES_MAX)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "routes: more than %d", HUB_ALERT_ROUTES_MAX);
	memset(rt, 0, sizeof(*rt));
	rt->receiver = -1;
	cfg->nroute++; /* counted now so its patterns are freed on error */
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		if (!strcmp(key.value, "receiver")) {
			if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, "receiver", err)) != 0)
				return r;
			for (int i = 0; i < cfg->nrcv; i++)
				if (!strcmp(cfg->rcv[i].name, ev.value))
					rt->receiver = i;
			if (rt->receiver < 0)
				return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
							"receiver: no receiver named '%s' (receivers come first)", ev.value);
		} else if (!strcmp(key.value, "status")) {
			int seq;
			if ((r = plumb_yread_next(y, &ev, err)) != 0)
				return r;
			seq = ev.kind == PLUMB_Y_SEQ;
			for (;;) {
				if (seq && (r = plumb_yread_next(y, &ev, err)) != 0)
					return r;
				if (seq && ev.kind == PLUMB_Y_SEQ_END)
					break;
				int s = ev.kind == PLUMB_Y_SCALAR ? hub_alert_status_index(ev.value) : -1;
				if (s < 0)
					return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
								"status: '%s': want drifting, refused, silent or stale",
								ev.kind == PLUMB_Y_SCALAR ? ev.value : "(not a word)");
				rt->statuses |= 1u << s;
				if (!seq)
					break;
			}
		} else if (!strcmp(key.value, "host")) {
			if ((r = read_patterns(y, rt->host, &rt->nhost, "host", err)) != 0)
				return r;
		} else if (!strcmp(key.value, "resource")) {
			if ((r = read_patterns(y, rt->resource, &rt->nres, "resource", err)) != 0)
				return r;
		} else {
			return plumb_yread_fail(y, &key, PLUMB_E_INVALID, err,
						"routes: unknown key '%s' (receiver, status, host, resource)", key.value);
		}
	}
	if (r < 0)
		return r;
	if (rt->receiver < 0)
		return plumb_yread_fail(y, start, PLUMB_E_INVALID, err, "route: needs a receiver");
	return 0;
}

static int read_list(struct plumb_yread *y, struct hub_alerts_cfg *cfg, const char *what,
		     int (*item)(struct plumb_yread *, struct hub_alerts_cfg *, struct plumb_yev *, struct plumb_err *),
		     struct plumb_err *err)
{
	struct plumb_yev ev;
	int r;
	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SEQ, what, err)) != 0)
		return r;
	for (;;) {
		if ((r = plumb_yread_next(y, &ev, err)) != 0)
			return r;
		if (ev.kind == PLUMB_Y_SEQ_END)
			return 0;
		if (ev.kind != PLUMB_Y_MAP)
			return plumb_yread_fail(y, &ev, PLUMB_E_PARSE, err, "%s: each entry is a mapping", what);
		if ((r = item(y, cfg, &ev, err)) != 0)
			return r;
	}
}

int hub_alerts_cfg_parse(struct hub_alerts_cfg **out, const char *name, const char *text, size_t len,
			 struct plumb_err *err)
{
	struct plumb_yread *y = NULL;
	struct plumb_yev key, root;
	struct hub_alerts_cfg *cfg = calloc(1, sizeof(*cfg));
	int r, have_rcv = 0;
	*out = NULL;
	if (!cfg)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	cfg->outbox_max = HUB_ALERT_OUTBOX_DEFAULT;
	cfg->repeat_s = HUB_ALERT_REPEAT_DEFAULT;
	cfg->giveup_s = HUB_ALERT_GIVEUP_DEFAULT;
	if ((r = plumb_yread_open(&y, name, text, len, err)) != 0)
		goto fail;
	if ((r = plumb_yread_expect(y, &root, PLUMB_Y_MAP, "the alerts file", err)) != 0)
		goto fail;
	while ((r = plumb_yread_key(y, &key, err)) == 1) {
		if (!strcmp(key.value, "receivers")) {
			if (have_rcv) {
				r = plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "receivers: given twice");
				goto fail;
			}
			have_rcv = 1;
			r = read_list(y, cfg, "receivers", read_receiver, err);
		} else if (!strcmp(key.value, "routes")) {
			if (!have_rcv) {
				r = plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "routes: put receivers first");
				goto fail;
			}
			r = read_list(y, cfg, "routes", read_route, err);
		} else if (!strcmp(key.value, "repeat_interval")) {
			long ms;
			r = read_duration_ms(y, &ms, "repeat_interval", 10, 3600, err);
			cfg->repeat_s = ms / 1000;
		} else if (!strcmp(key.value, "give_up_after")) {
			long ms;
			r = read_duration_ms(y, &ms, "give_up_after", 60, 30 * 86400, err);
			cfg->giveup_s = ms / 1000;
		} else if (!strcmp(key.value, "outbox_max")) {
			uint64_t v;
			if ((r = plumb_yread_u64(y, &v, 10000000, "outbox_max", err)) == 0 && v < 10)
				r = plumb_yread_fail(y, &key, PLUMB_E_INVALID, err, "outbox_max: at least 10");
			cfg->outbox_max = (long)v;
		} else {
			r = plumb_yread_fail(y, &key, PLUMB_E_INVALID, err,
					     "unknown key '%s' (receivers, routes, repeat_interval, give_up_after, outbox_max)",
					     key.value);
		}
		if (r != 0)
			goto fail;
	}
	if (r < 0 || (r = plumb_yread_close(y, err)) != 0)
		goto fail;
	if (!cfg->nrcv) {
		r = plumb_yread_fail(y, &root, PLUMB_E_INVALID, err, "no receivers: name at least one");
		goto fail;
	}
	plumb_yread_free(y);
	*out = cfg;
	return 0;
fail:
	plumb_yread_free(y);
	hub_alerts_cfg_free(cfg);
	return r ? r : PLUMB_E_INTERNAL;
}

int hub_alerts_cfg_load(struct hub_alerts_cfg **out, const char *path, struct plumb_err *err)
{
	struct plumb_buf b;
	int r = plumb_buf_load_file(&b, path, ALERTS_FILE_MAX, "alerts file", err);
	if (r != 0)
		return r;
	r = hub_alerts_cfg_parse(out, path, b.data ? b.data : "", b.len, err);
	plumb_buf_release(&b);
	return r;
}
