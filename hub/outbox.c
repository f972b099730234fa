/* outbox.c - the sender thread: claims due outbox rows with a lease (so
 * two hubs on one database never send a row at once), delivers each to
 * its receiver (Alertmanager v2, signed webhook, Slack), deletes it once
 * delivered, and backs off exponentially (bounded) when it was not. */
#include "alerts.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "plumb/log.h"
#include "plumb/util.h"
#include "plumb/version.h"
#include "../src/banned.h"

#define NUM(buf, v) snprintf((buf), sizeof(buf), "%lld", (long long)(v))
/* Rows claimed per pass. */
#define CLAIM_BATCH 16
/* Per-receiver counters kept for /metrics, by name (bounded). */
#define STATS_MAX 64

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stopping, kicked;
	struct hub_db *db;
	time_t silent_after;
	char owner[37];
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static struct {
	pthread_mutex_t mu;
	int n;
	struct {
		char name[HUB_ALERT_NAME_MAX];
		unsigned long long sent, failed;
	} v[STATS_MAX];
} stats = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void stat_count(const char *name, int ok)
{
	pthread_mutex_lock(&stats.mu);
	int i;
	for (i = 0; i < stats.n && strcmp(stats.v[i].name, name); i++)
		;
	if (i == stats.n && stats.n < STATS_MAX) {
		snprintf(stats.v[i].name, sizeof(stats.v[i].name), "%s", name);
		stats.n++;
	}
	if (i < stats.n) {
		if (ok)
			stats.v[i].sent++;
		else
			stats.v[i].failed++;
	}
	pthread_mutex_unlock(&stats.mu);
}

int hub_alert_sign(char out[65], const char *key, size_t keylen, const char *timestamp, const char *body,
		   size_t bodylen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	int ok = 0;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
			       OSSL_PARAM_construct_end()};
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *h = m ? EVP_MAC_CTX_new(m) : NULL;
	if (h && EVP_MAC_init(h, (const unsigned char *)key, keylen, params) &&
	    EVP_MAC_update(h, (const unsigned char *)timestamp, strlen(timestamp)) &&
	    EVP_MAC_update(h, (const unsigned char *)".", 1) &&
	    EVP_MAC_update(h, (const unsigned char *)body, bodylen) && EVP_MAC_final(h, mac, &maclen, sizeof(mac)) &&
	    maclen == 32)
		ok = 1;
	EVP_MAC_CTX_free(h);
	EVP_MAC_free(m);
	if (!ok)
		return PLUMB_E_INTERNAL;
	plumb_hex(out, mac, 32);
	out[64] = '\0';
	return 0;
}

void alerts_sender_wake(void)
{
	pthread_mutex_lock(&S.mu);
	S.kicked = 1;
	pthread_cond_signal(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

struct row {
	long long id;
	char *f[8]; /* receiver, host, alertname, resource, status, state, summary */
	time_t starts, ends, created;
	int attempts;
};

struct rows {
	struct row v[CLAIM_BATCH];
	int n;
	int nomem;
};

static int outbox_row(void *ctx, int n, const char *const *v)
{
	struct rows *l = ctx;
	if (n < 11 || l->n >= CLAIM_BATCH)
		return 0;
	struct row *w = &l->v[l->n];
	memset(w, 0, sizeof(*w));
	w->id = strtoll(v[0], NULL, 10);
	for (int i = 0; i < 7; i++)
		if (!(w->f[i] = strdup(v[i + 1] ? v[i + 1] : "")))
			l->nomem = 1;
	w->starts = (time_t)strtoll(v[8] ? v[8] : "0", NULL, 10);
	w->ends = (time_t)strtoll(v[9] ? v[9] : "0", NULL, 10);
	w->created = (time_t)strtoll(v[10] ? v[10] : "0", NULL, 10);
	w->attempts = n > 11 && v[11] ? atoi(v[11]) : 0;
	l->n++;
	return 0;
}

static void rows_free(struct rows *l)
{
	for (int i = 0; i < l->n; i++)
		for (int j = 0; j < 8; j++)
			free(l->v[i].f[j]);
	l->n = 0;
}

/* Slack reads <...> as links and mentions (<!channel>): a resource name or
 * an agent's error text must not page a channel. &, < and > are escaped as
 * Slack documents; the text is cut back to whole UTF-8 characters. */
static void slack_escape(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	for (; *in; in++) {
		const char *rep = *in == '&' ? "&amp;" : *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : NULL;
		size_t n = rep ? strlen(rep) : 1;
		if (o + n + 1 > cap)
			break;
		memcpy(out + o, rep ? rep : in, n);
		o += n;
	}
	out[o] = '\0';
	plumb_utf8_trim(out);
}

/* The body for a receiver of this type. */
static char *payload(const struct hub_receiver *rv, const struct row *w, size_t *len)
{
	char starts[21], ends[21];
	const char *receiver = w->f[0], *host = w->f[1], *alertname = w->f[2], *resource = w->f[3];
	const char *status = w->f[4], *state = w->f[5], *summary = w->f[6];
	int resolved = !strcmp(state, "resolved");
	json_t *doc = NULL;
	plumb_time_format(starts, w->starts);
	plumb_time_format(ends, w->ends);
	if (rv->type == HUB_RCV_ALERTMANAGER) {
		json_t *labels = json_pack("{s:s,s:s,s:s}", "alertname", alertname, "host", host, "status", status);
		if (labels && *resource)
			json_object_set_new(labels, "resource", json_string(resource));
		json_t *a = json_pack("{s:o,s:{s:s},s:s}", "labels", labels, "annotations", "summary", summary,
				      "startsAt", starts);
		/* Firing: no endsAt, Alertmanager's resolve_timeout applies
		 * (the hub repeats well inside it); resolved: endsAt now. */
		if (a && resolved)
			json_object_set_new(a, "endsAt", json_string(ends));
		doc = a ? json_pack("[o]", a) : NULL;
	} else if (rv->type == HUB_RCV_WEBHOOK) {
		doc = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:o}", "version", "plumb.alert/v1", "id",
				(json_int_t)w->id, "receiver", receiver, "state", state, "alertname", alertname, "host",
				host, "resource", *resource ? json_string(resource) : json_null(), "status", status,
				"summary", summary, "starts_at", json_string(starts));
		if (doc)
			json_object_set_new(doc, "ends_at", resolved ? json_string(ends) : json_null());
	} else {
		char text[HUB_ALERT_SUMMARY_MAX + 256], esc[3 * sizeof(text)];
		snprintf(text, sizeof(text), "[%s] %s on %s%s%s: %s", resolved ? "RESOLVED" : "FIRING", alertname, host,
			 *resource ? " " : "", resource, summary);
		slack_escape(esc, sizeof(esc), text);
		doc = json_pack("{s:s}", "text", esc);
	}
	if (!doc)
		return NULL;
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text)
		*len = strlen(text);
	return text;
}

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return sz * n;
}

/* Delivers one row. Returns 0, or -1 with why filled. */
static int deliver(const struct hub_receiver *rv, const struct row *w, char *why, size_t whylen)
{
	char url[HUB_ALERT_URL_MAX + 32], hdr_ts[64], hdr_sig[128], hdr_id[64], ts[24], sig[65];
	size_t len = 0;
	int r = -1;
	char *body = payload(rv, w, &len);
	if (!body) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	if (!h) {
		free(body);
		snprintf(why, whylen, "curl_easy_init failed");
		return -1;
	}
	if (rv->type == HUB_RCV_ALERTMANAGER) {
		size_t n = strlen(rv->url);
		snprintf(url, sizeof(url), "%.*s/api/v2/alerts", (int)(n && rv->url[n - 1] == '/' ? n - 1 : n), rv->url);
	} else {
		snprintf(url, sizeof(url), "%s", rv->url);
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (rv->type == HUB_RCV_WEBHOOK) {
		NUM(ts, time(NULL));
		snprintf(hdr_ts, sizeof(hdr_ts), "X-Plumb-Timestamp: %s", ts);
		snprintf(hdr_id, sizeof(hdr_id), "X-Plumb-Delivery: %lld", w->id);
		hdrs = curl_slist_append(hdrs, hdr_ts);
		hdrs = curl_slist_append(hdrs, hdr_id);
		if (rv->secret_len) {
			if (hub_alert_sign(sig, rv->secret, rv->secret_len, ts, body, len) != 0) {
				snprintf(why, whylen, "cannot compute the signature");
				goto out;
			}
			snprintf(hdr_sig, sizeof(hdr_sig), "X-Plumb-Signature: sha256=%s", sig);
			hdrs = curl_slist_append(hdrs, hdr_sig);
			explicit_bzero(sig, sizeof(sig));
		}
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, strncmp(url, "http://", 7) == 0 ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rv->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rv->timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "plumb-hub/" PLUMB_VERSION);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	CURLcode cc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK)
		snprintf(why, whylen, "%s", curl_easy_strerror(cc));
	else if (code < 200 || code > 299)
		snprintf(why, whylen, "answered HTTP %ld", code);
	else
		r = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(body);
	return r;
}

static int find_receiver(const struct hub_alerts_cfg *cfg, const char *name, struct hub_receiver *out)
{
	for (int i = 0; i < cfg->nrcv; i++)
		if (!strcmp(cfg->rcv[i].name, name)) {
			*out = cfg->rcv[i];
			return 0;
		}
	return -1;
}

/* One pass: claims up to CLAIM_BATCH due rows and delivers them. Returns
 * how many were claimed. */
static int pass(time_t now)
{
	struct rows due = {0};
	struct plumb_err e = {0};
	char s_now[24], s_lease[24], s_id[24], s_next[24];
	struct hub_receiver *rv = malloc(sizeof(*rv));
	int claimed = 0;
	if (!rv)
		return 0;
	struct hub_conn *c = hub_db_acquire(S.db);
	NUM(s_now, now);
	const char *p[] = {s_now};
	/* The oldest row of each receiver + alert only: deliveries of one
	 * alert arrive in the order they were written. */
	int r = hub_conn_exec(c,
			      "SELECT id, receiver, host, alertname, resource, status, state, summary, starts_at, ends_at,"
			      " created_at, attempts FROM alert_outbox o WHERE next_at <= CAST($1 AS BIGINT)"
			      " AND lease_until < CAST($1 AS BIGINT) AND NOT EXISTS (SELECT 1 FROM alert_outbox p"
			      " WHERE p.receiver = o.receiver AND p.host = o.host AND p.alertname = o.alertname"
			      " AND p.resource = o.resource AND p.id < o.id) ORDER BY id LIMIT 16",
			      1, p, outbox_row, &due, NULL, &e);
	if (r != 0 || due.nomem) {
		if (r != 0)
			plumb_log(PLUMB_LOG_ERROR, "alerts: outbox: %s", e.msg);
		goto out;
	}
	for (int i = 0; i < due.n; i++) {
		struct row *w = &due.v[i];
		struct hub_alerts_cfg *cfg = alerts_cfg_get();
		int known = cfg && find_receiver(cfg, w->f[0], rv) == 0;
		long giveup = cfg ? cfg->giveup_s : HUB_ALERT_GIVEUP_DEFAULT;
		if (cfg)
			alerts_cfg_put();
		long changes = 0;
		NUM(s_id, w->id);
		NUM(s_lease, now + (known ? rv->timeout_ms / 1000 : 0) + 30);
		const char *cp[] = {s_id, S.owner, s_lease, s_now};
		/* The claim: a row another hub leased since the SELECT is not
		 * changed here (the WHERE is checked again under its row lock). */
		if (hub_conn_exec(c,
				  "UPDATE alert_outbox SET lease_owner = $2, lease_until = CAST($3 AS BIGINT)"
				  " WHERE id = CAST($1 AS BIGINT) AND lease_until < CAST($4 AS BIGINT)",
				  4, cp, NULL, NULL, &changes, &e) != 0 ||
		    changes != 1)
			continue;
		claimed++;
		const char *dp[] = {s_id, S.owner};
		if (!known) {
			plumb_log(PLUMB_LOG_WARN, "alerts: receiver '%s' is no longer configured; delivery %lld of %s for %s dropped",
				  w->f[0], w->id, w->f[2], w->f[1]);
			hub_conn_exec(c, "DELETE FROM alert_outbox WHERE id = CAST($1 AS BIGINT) AND lease_owner = $2", 2, dp,
				      NULL, NULL, NULL, &e);
			hub_conn_exec(c,
				      "INSERT INTO alert_counters (name, value) VALUES ('dropped_unrouted', 1) ON CONFLICT (name)"
				      " DO UPDATE SET value = alert_counters.value + 1",
				      0, NULL, NULL, NULL, NULL, &e);
			continue;
		}
		char why[256];
		/* The database connection goes back while the request runs. */
		hub_db_release(S.db, c);
		int ok = deliver(rv, w, why, sizeof(why)) == 0;
		c = hub_db_acquire(S.db);
		stat_count(rv->name, ok);
		if (ok) {
			plumb_log(PLUMB_LOG_DEBUG, "alerts: %s %s for %s sent to %s", w->f[2], w->f[5], w->f[1], rv->name);
			if (hub_conn_exec(c, "DELETE FROM alert_outbox WHERE id = CAST($1 AS BIGINT) AND lease_owner = $2", 2,
					  dp, NULL, NULL, NULL, &e) != 0)
				plumb_log(PLUMB_LOG_ERROR, "alerts: outbox: %s (it may be sent again)", e.msg);
			continue;
		}
		time_t now2 = time(NULL);
		if (now2 - w->created > giveup) {
			plumb_log(PLUMB_LOG_ERROR, "alerts: %s: %s; delivery %lld of %s for %s dropped after %d tries",
				  rv->name, why, w->id, w->f[2], w->f[1], w->attempts + 1);
			hub_conn_exec(c, "DELETE FROM alert_outbox WHERE id = CAST($1 AS BIGINT) AND lease_owner = $2", 2, dp,
				      NULL, NULL, NULL, &e);
			hub_conn_exec(c,
				      "INSERT INTO alert_counters (name, value) VALUES ('dropped_expired', 1) ON CONFLICT (name)"
				      " DO UPDATE SET value = alert_counters.value + 1",
				      0, NULL, NULL, NULL, NULL, &e);
			continue;
		}
		int a = w->attempts < 16 ? w->attempts : 16;
		long delay = 1L << a;
		if (delay > HUB_ALERT_BACKOFF_MAX)
			delay = HUB_ALERT_BACKOFF_MAX;
		NUM(s_next, now2 + delay);
		plumb_log(PLUMB_LOG_WARN, "alerts: %s: %s; delivery %lld of %s for %s retried in %lds", rv->name, why,
			  w->id, w->f[2], w->f[1], delay);
		const char *fp[] = {s_id, S.owner, s_next, why};
		if (hub_conn_exec(c,
				  "UPDATE alert_outbox SET attempts = attempts + 1, next_at = CAST($3 AS BIGINT),"
				  " lease_until = 0, lease_owner = NULL, last_error = $4 WHERE id = CAST($1 AS BIGINT)"
				  " AND lease_owner = $2",
				  4, fp, NULL, NULL, NULL, &e) != 0)
			plumb_log(PLUMB_LOG_ERROR, "alerts: outbox: %s", e.msg);
	}
out:
	hub_db_release(S.db, c);
	explicit_bzero(rv, sizeof(*rv));
	free(rv);
	rows_free(&due);
	return claimed;
}

static void *sender(void *arg)
{
	(void)arg;
	time_t next_timer = 0;
	pthread_mutex_lock(&S.mu);
	while (!S.stopping) {
		S.kicked = 0;
		pthread_mutex_unlock(&S.mu);
		time_t now = time(NULL);
		if (now >= next_timer) {
			alerts_timer(S.db, now, S.silent_after);
			next_timer = now + 2;
		}
		int n = pass(now);
		pthread_mutex_lock(&S.mu);
		if (n == CLAIM_BATCH || S.kicked || S.stopping)
			continue;
		/* Woken by an ingest that wrote to the outbox, else polls
		 * (another hub's rows, retries coming due) every second. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&S.cv, &S.mu, &ts);
	}
	pthread_mutex_unlock(&S.mu);
	return NULL;
}

int hub_alerts_start(struct hub_db *db, time_t silent_after, struct plumb_err *err)
{
	if (plumb_uuid4(S.owner) != 0)
		return plumb_err_set(err, PLUMB_E_IO, "cannot make the outbox lease id");
	S.db = db;
	S.silent_after = silent_after;
	S.stopping = 0;
	if (pthread_create(&S.th, NULL, sender, NULL) != 0)
		return plumb_err_set(err, PLUMB_E_IO, "cannot start the alert sender thread");
	S.running = 1;
	return 0;
}

void hub_alerts_stop(void)
{
	if (!S.running)
		return;
	pthread_mutex_lock(&S.mu);
	S.stopping = 1;
	pthread_cond_signal(&S.cv);
	pthread_mutex_unlock(&S.mu);
	pthread_join(S.th, NULL);
	S.running = 0;
}

struct counter_ctx {
	struct plumb_buf *b;
	int bad;
};

static int counter_row(void *ctx, int n, const char *const *v)
{
	struct counter_ctx *k = ctx;
	if (n >= 2 && v[0] && v[1])
		k->bad |= plumb_buf_addf(k->b, "plumb_hub_alerts_dropped_total{reason=\"%s\"} %lld\n",
					 !strcmp(v[0], "dropped_full")	    ? "outbox_full"
					 : !strcmp(v[0], "dropped_expired") ? "gave_up"
									    : "unrouted",
					 strtoll(v[1], NULL, 10));
	return 0;
}

static int one_row(void *ctx, int n, const char *const *v)
{
	if (n > 0 && v[0])
		*(long long *)ctx = strtoll(v[0], NULL, 10);
	return 0;
}

int hub_alerts_metrics(struct hub_conn *c, struct plumb_buf *b)
{
	long long depth = 0, firing = 0;
	int bad = 0;
	struct plumb_err e = {0};
	if (hub_conn_exec(c, "SELECT COUNT(*) FROM alert_outbox", 0, NULL, one_row, &depth, NULL, &e) != 0 ||
	    hub_conn_exec(c, "SELECT COUNT(*) FROM alert_state", 0, NULL, one_row, &firing, NULL, &e) != 0)
		return PLUMB_E_IO;
	bad |= plumb_buf_addf(b,
			      "# HELP plumb_hub_alert_outbox_depth Alert deliveries waiting in the outbox (all hubs).\n"
			      "# TYPE plumb_hub_alert_outbox_depth gauge\nplumb_hub_alert_outbox_depth %lld\n"
			      "# HELP plumb_hub_alerts_open Alerts firing now (one per host, alertname and resource).\n"
			      "# TYPE plumb_hub_alerts_open gauge\nplumb_hub_alerts_open %lld\n",
			      depth, firing);
	bad |= plumb_buf_adds(b, "# HELP plumb_hub_alerts_dropped_total Alert deliveries dropped, by reason (all hubs).\n"
			      "# TYPE plumb_hub_alerts_dropped_total counter\n");
	struct counter_ctx k = {b, 0};
	if (hub_conn_exec(c, "SELECT name, value FROM alert_counters ORDER BY name", 0, NULL, counter_row, &k, NULL, &e) !=
	    0)
		return PLUMB_E_IO;
	bad |= k.bad;
	bad |= plumb_buf_adds(b, "# HELP plumb_hub_alerts_sent_total Alert deliveries a receiver accepted (this hub).\n"
			      "# TYPE plumb_hub_alerts_sent_total counter\n");
	pthread_mutex_lock(&stats.mu);
	for (int i = 0; i < stats.n; i++)
		bad |= plumb_buf_addf(b, "plumb_hub_alerts_sent_total{receiver=\"%s\"} %llu\n", stats.v[i].name,
				      stats.v[i].sent);
	bad |= plumb_buf_adds(b, "# HELP plumb_hub_alert_delivery_failures_total Alert deliveries that failed and wait "
			      "for a retry (this hub).\n# TYPE plumb_hub_alert_delivery_failures_total counter\n");
	for (int i = 0; i < stats.n; i++)
		bad |= plumb_buf_addf(b, "plumb_hub_alert_delivery_failures_total{receiver=\"%s\"} %llu\n",
				      stats.v[i].name, stats.v[i].failed);
	pthread_mutex_unlock(&stats.mu);
	return bad ? PLUMB_E_NOMEM : 0;
}
