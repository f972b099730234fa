/* http.c - routes, roles and responses of plumb-hub over libmicrohttpd:
 * POST /v1/reports (agents), GET /v1/... (viewers), / (the SRE page). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/log.h"
#include "plumb/util.h"
#include "alerts.h"
#include "metrics.h"
#include "store.h"
#include "token.h"
#include "validate.h"
#include "../src/banned.h"

/* The web page, linked in by assets.S: no CDN, no fetch but our own API. */
extern const char hub_asset_index_html[], hub_asset_index_html_end[];
extern const char hub_asset_app_js[], hub_asset_app_js_end[];
extern const char hub_asset_app_css[], hub_asset_app_css_end[];

/* A body past this many times max_body is answered at once, unread. */
#define DRAIN_FACTOR 4

/* One open connection, for the receive deadline: libmicrohttpd's own
 * timeout is idle-only, so a client trickling one byte every few seconds
 * would keep a connection (and its buffers) for ever. */
struct conn_slot {
	int used, fd;
	/* 1 from accept (or the previous answer) to this request's answer, 0
	 * while answering, 2 once shut down. Written by request threads
	 * without the lock (an answer is being queued), hence atomic. */
	atomic_int receiving;
	struct timespec since;
	unsigned code;           /* the answer queued for the current request */
};

/* Per-host token buckets of report bytes (the ingest rate). A bucket that
 * is full carries no state and may be reused by another host. */
#define RATE_SLOTS 4096
#define RATE_PROBE 16
struct rate_slot {
	char host[HUB_SUBJECT_MAX];
	double tokens;
	struct timespec at;
	size_t held; /* request bytes this host has buffered now; never evicted while held */
};

struct hub_server {
	struct MHD_Daemon *mhd;
	struct hub_db *db;
	struct hub_server_cfg cfg;
	char *cert, *key, *client_ca;
	unsigned port;
	atomic_size_t inflight;  /* request body bytes held in buffers now */
	pthread_mutex_t mu;      /* guards conns and stopping */
	pthread_cond_t cv;
	struct conn_slot conns[HUB_CONNECTIONS_MAX];
	int stopping, reaper_started;
	pthread_t reaper;
	pthread_mutex_t rate_mu;
	struct rate_slot *rates;
	pthread_rwlock_t crl_lock; /* guards crls: reloaded on SIGHUP */
	gnutls_x509_crl_t *crls;
	unsigned ncrl;
	struct hub_metrics metrics;
};

/* Per request: the upload buffer, and a verdict reached before the body. */
struct req {
	struct plumb_buf body;
	int status;              /* non-zero: answer this once the body is drained */
	const char *reason;
	unsigned retry_after;    /* with 429/503: seconds */
	size_t drained;
	size_t reserved;         /* of s->inflight, given back when the request ends */
	size_t host_reserved;    /* of the host's slot's held bytes, likewise */
	enum hub_role role;
	char subject[HUB_SUBJECT_MAX];
	/* for the access log line and the metrics */
	char method[8];
	char path[128];
	struct timespec start;
};

static double since_s(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static double bucket_cap(const struct hub_server *s)
{
	return (double)s->cfg.host_rate > (double)s->cfg.max_body ? (double)s->cfg.host_rate : (double)s->cfg.max_body;
}

/* The connection's slot stops the receive clock: an answer (code) is queued. */
static void conn_answering(struct MHD_Connection *con, unsigned code)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot = ci ? ci->socket_context : NULL;
	if (slot) {
		slot->code = code;
		atomic_store(&slot->receiving, 0);
	}
}

static void add_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

static enum MHD_Result respond_ra(struct MHD_Connection *con, unsigned status, const char *type, const char *data,
				  size_t n, enum MHD_ResponseMemoryMode mode, unsigned retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)data, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)data);
		return MHD_NO;
	}
	conn_answering(con, status);
	add_common_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (retry_after) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"plumb-hub\"");
	if (!strncmp(type, "application/json", 16))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond(struct MHD_Connection *con, unsigned status, const char *type, const char *data,
			       size_t n, enum MHD_ResponseMemoryMode mode)
{
	return respond_ra(con, status, type, data, n, mode, 0);
}

static enum MHD_Result respond_json(struct MHD_Connection *con, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return respond(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", "{\"error\":\"out of memory\"}",
			       25, MHD_RESPMEM_PERSISTENT);
	return respond(con, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result respond_error(struct MHD_Connection *con, unsigned status, const char *reason)
{
	return respond_json(con, status, json_pack("{s:s}", "error", reason));
}

/* 429 or 503 with Retry-After: the agent keeps the report and comes back. */
static enum MHD_Result respond_retry(struct MHD_Connection *con, unsigned status, const char *reason,
				     unsigned retry_after)
{
	json_t *doc = json_pack("{s:s,s:I}", "error", reason, "retry_after", (json_int_t)retry_after);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return respond(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", "{\"error\":\"out of memory\"}",
			       25, MHD_RESPMEM_PERSISTENT);
	return respond_ra(con, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE,
			  retry_after ? retry_after : 1);
}

/* The host's slot, made if needed (rate_mu held). A new host takes a free
 * slot, else the fullest bucket holding no upload; NULL when none is
 * (sixteen hosts hashing alike, all busy: the hub-wide bound still holds). */
static struct rate_slot *host_slot(struct hub_server *s, const char *host, const struct timespec *now)
{
	double rate = (double)s->cfg.host_rate / 60.0, best = -1;
	unsigned long h = 5381;
	struct rate_slot *pick = NULL;
	for (const char *p = host; *p; p++)
		h = h * 33 + (unsigned char)*p;
	for (int i = 0; i < RATE_PROBE; i++) {
		struct rate_slot *r = &s->rates[(h + (unsigned long)i) % RATE_SLOTS];
		if (r->host[0] && !strcmp(r->host, host))
			return r;
		if (r->held)
			continue;
		double t = r->host[0] ? r->tokens + rate * since_s(&r->at, now) : 1e300; /* free beats full */
		if (t > best) {
			best = t;
			pick = r;
		}
	}
	if (pick) {
		snprintf(pick->host, sizeof(pick->host), "%s", host);
		pick->tokens = bucket_cap(s);
		pick->at = *now;
		pick->held = 0;
	}
	return pick;
}

/* Takes n bytes from host's bucket (capacity: a minute's rate, and at least
 * one largest report). Returns 0, or the seconds until n bytes are there. */
static unsigned rate_take(struct hub_server *s, const char *host, size_t n)
{
	if (!s->cfg.host_rate)
		return 0;
	double rate = (double)s->cfg.host_rate / 60.0, cap = bucket_cap(s);
	struct timespec now;
	unsigned ret = 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&s->rate_mu);
	struct rate_slot *slot = host_slot(s, host, &now);
	if (slot) {
		slot->tokens += rate * since_s(&slot->at, &now);
		if (slot->tokens > cap)
			slot->tokens = cap;
		slot->at = now;
		if (slot->tokens >= (double)n)
			slot->tokens -= (double)n;
		else
			ret = (unsigned)(((double)n - slot->tokens) / rate) + 1; /* rounded up, at least 1 */
	}
	pthread_mutex_unlock(&s->rate_mu);
	return ret;
}

/* Counts n more (or, negative, fewer) bytes buffered for host. Returns 0,
 * 1 (not counted: no slot free for it), or -1 (nothing counted) when that
 * would pass HUB_HOST_INFLIGHT_FACTOR largest bodies: one host's token
 * cannot take the hub-wide bound for itself. */
static int host_hold(struct hub_server *s, const char *host, long long n)
{
	struct timespec now;
	int r = 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&s->rate_mu);
	struct rate_slot *slot = host_slot(s, host, &now);
	if (!slot)
		r = 1;
	else if (n > 0 && slot->held + (size_t)n > s->cfg.max_body * HUB_HOST_INFLIGHT_FACTOR)
		r = -1;
	else if (n > 0)
		slot->held += (size_t)n;
	else
		slot->held = slot->held > (size_t)-n ? slot->held - (size_t)-n : 0;
	pthread_mutex_unlock(&s->rate_mu);
	return r;
}

/* The certificate says it is for TLS clients, and only that may count:
 * an extendedKeyUsage with clientAuth, and without anyExtendedKeyUsage (a
 * certificate with no extendedKeyUsage at all is good for any purpose to
 * GnuTLS, and is refused here). */
static int client_purpose_exact(gnutls_x509_crt_t crt)
{
	int client = 0, any = 0;
	for (unsigned i = 0; i < 64; i++) {
		char oid[128];
		size_t n = sizeof(oid);
		int rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &n, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			return 0;
		client |= !strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT);
		any |= !strcmp(oid, GNUTLS_KP_ANY);
	}
	return client && !any;
}

/* Whether a CRL from --tls-crl lists crt. */
static int revoked(struct hub_server *s, gnutls_x509_crt_t crt)
{
	int r = 0;
	pthread_rwlock_rdlock(&s->crl_lock);
	if (s->ncrl)
		r = gnutls_x509_crt_check_revocation(crt, s->crls, s->ncrl) != 0; /* 1 revoked, <0 error: refuse */
	pthread_rwlock_unlock(&s->crl_lock);
	return r;
}

static void crls_free(gnutls_x509_crl_t *crls, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crl_deinit(crls[i]);
	gnutls_free(crls);
}

/* Reads the PEM CRLs of path, each of which must be signed by the client
 * CA, and puts them in force. Returns 0, or PLUMB_E_IO / PLUMB_E_INVALID
 * with the CRLs in force unchanged. */
static int load_crls(struct hub_server *s, const char *path, struct plumb_err *err)
{
	struct plumb_buf b;
	gnutls_x509_crl_t *crls = NULL;
	gnutls_x509_crt_t *cas = NULL;
	unsigned ncrl = 0, nca = 0;
	int r;
	if ((r = plumb_buf_load_file(&b, path, 64u << 20, "CRL file", err)) != 0)
		return r;
	gnutls_datum_t d = {(unsigned char *)b.data, (unsigned)b.len};
	gnutls_datum_t cad = {(unsigned char *)s->client_ca, (unsigned)strlen(s->client_ca)};
	if (b.len == 0 || gnutls_x509_crl_list_import2(&crls, &ncrl, &d, GNUTLS_X509_FMT_PEM, 0) < 0 || ncrl == 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "'%s' holds no PEM CRL", path);
		goto out;
	}
	if (gnutls_x509_crt_list_import2(&cas, &nca, &cad, GNUTLS_X509_FMT_PEM, 0) < 0) {
		r = plumb_err_set(err, PLUMB_E_INVALID, "cannot read the client CA");
		goto out;
	}
	for (unsigned i = 0; i < ncrl; i++) {
		unsigned st = 0;
		if (gnutls_x509_crl_verify(crls[i], cas, nca, 0, &st) < 0 || st != 0) {
			r = plumb_err_set(err, PLUMB_E_INVALID, "CRL %u of '%s' is not signed by --tls-client-ca", i + 1, path);
			goto out;
		}
		time_t next = gnutls_x509_crl_get_next_update(crls[i]);
		if (next != (time_t)-1 && next < time(NULL))
			plumb_log(PLUMB_LOG_WARN, "CRL %u of '%s' is past its next update; still in force", i + 1, path);
	}
	pthread_rwlock_wrlock(&s->crl_lock);
	gnutls_x509_crl_t *old = s->crls;
	unsigned nold = s->ncrl;
	s->crls = crls;
	s->ncrl = ncrl;
	pthread_rwlock_unlock(&s->crl_lock);
	crls = old;
	ncrl = nold;
	r = 0;
out:
	crls_free(crls, ncrl);
	for (unsigned i = 0; i < nca; i++)
		gnutls_x509_crt_deinit(cas[i]);
	gnutls_free(cas);
	plumb_buf_release(&b);
	return r;
}

int hub_server_reload(struct hub_server *s, struct plumb_err *err)
{
	if (!s->cfg.tls_crl)
		return 0;
	return load_crls(s, s->cfg.tls_crl, err);
}

/* With --tls-client-ca: the host a client certificate names, when it
 * chains to that CA, is valid now and is meant for TLS clients. Its subject
 * CN is the host, as a token's subject would be. Returns 0 or -1. */
static int client_cert_host(struct hub_server *s, struct MHD_Connection *con, char out[HUB_SUBJECT_MAX])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t ses;
	gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (void *)GNUTLS_KP_TLS_WWW_CLIENT};
	unsigned status = 0, n = 0;
	gnutls_x509_crt_t crt;
	int r = -1;
	if (!ci || !(ses = (gnutls_session_t)ci->tls_session))
		return -1;
	if (gnutls_certificate_verify_peers(ses, &purpose, 1, &status) < 0 || status != 0)
		return -1;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(ses, &n);
	if (!peers || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	size_t len = HUB_SUBJECT_MAX - 1;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0 && client_purpose_exact(crt) &&
	    !revoked(s, crt) &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, out, &len) >= 0 && len > 0 &&
	    len < HUB_SUBJECT_MAX) {
		out[len] = '\0';
		r = hub_token_subject_valid(out) ? 0 : -1;
	}
	gnutls_x509_crt_deinit(crt);
	return r;
}

/* Looks up the bearer token, or (with --tls-client-ca, and no token) the
 * client certificate. Returns 0 (role and subject set), or the HTTP status
 * to answer (401, 503) with its reason. */
static unsigned authenticate(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	struct plumb_err e = {0};
	if (!h && s->client_ca && client_cert_host(s, con, q->subject) == 0) {
		q->role = HUB_ROLE_AGENT; /* certificates identify hosts, never viewers */
		return 0;
	}
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		q->reason = s->client_ca ? "missing bearer token or valid client certificate" : "missing bearer token";
		return MHD_HTTP_UNAUTHORIZED;
	}
	h += 7;
	while (*h == ' ')
		h++;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_token_check(c, h, &q->role, q->subject, &e);
	hub_db_release(s->db, c);
	if (r == PLUMB_E_NOTFOUND) {
		q->reason = "unknown or revoked token";
		return MHD_HTTP_UNAUTHORIZED;
	}
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "token lookup: %s", e.msg);
		q->reason = "storage unavailable";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	return 0;
}

static enum MHD_Result handle_post_report(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	struct timespec t0, t1;
	struct plumb_err e = {0};
	char reason[PLUMB_ERR_MAX + 64];
	time_t finished = 0, now = time(NULL);
	struct hub_report_limits lim = {.max_string = s->cfg.max_string,
					.max_events = s->cfg.max_events,
					.not_after = now + s->cfg.max_skew,
					.not_before = now - s->cfg.retain};
	json_t *doc = hub_report_parse(q->body.data ? q->body.data : "", q->body.len, &e);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!doc) {
		snprintf(reason, sizeof(reason), "malformed JSON: %s", e.msg);
		hub_metrics_ingest(&s->metrics, HUB_INGEST_REJECTED, 0);
		return respond_error(con, MHD_HTTP_BAD_REQUEST, reason);
	}
	if (hub_report_validate(doc, &lim, &finished, &e) != 0) {
		json_decref(doc);
		hub_metrics_ingest(&s->metrics, HUB_INGEST_REJECTED, 0);
		snprintf(reason, sizeof(reason), "report does not match plumb.report/v1: %s", e.msg);
		return respond_error(con, MHD_HTTP_UNPROCESSABLE_CONTENT, reason);
	}
	const char *host = json_string_value(json_object_get(doc, "host"));
	if (strcmp(host, q->subject) != 0) {
		plumb_log(PLUMB_LOG_WARN, "token for host '%s' sent a report for host '%s'; refused", q->subject, host);
		json_decref(doc);
		hub_metrics_ingest(&s->metrics, HUB_INGEST_REJECTED, 0);
		return respond_error(con, MHD_HTTP_FORBIDDEN, "this token may only report for its own host");
	}
	unsigned wait = rate_take(s, q->subject, q->body.len);
	if (wait) {
		json_decref(doc);
		hub_metrics_ingest(&s->metrics, HUB_INGEST_THROTTLED, 0);
		return respond_retry(con, MHD_HTTP_TOO_MANY_REQUESTS, "this host sends reports faster than --host-rate",
				     wait);
	}
	int dup = 0;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_ingest(c, doc, q->body.data, q->body.len, finished, now, s->cfg.host_quota, &dup, &e);
	hub_db_release(s->db, c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	hub_metrics_ingest(&s->metrics, r == PLUMB_E_TOOBIG ? HUB_INGEST_THROTTLED : r != 0 ? HUB_INGEST_FAILED
			   : dup ? HUB_INGEST_DUPLICATE : HUB_INGEST_STORED, since_s(&t0, &t1));
	if (r != 0 && r != PLUMB_E_TOOBIG)
		hub_metrics_storage_error(&s->metrics);
	json_t *ans = json_pack("{s:s,s:b}", "id", json_string_value(json_object_get(doc, "id")), "duplicate", dup);
	json_decref(doc);
	if (r == PLUMB_E_TOOBIG) {
		json_decref(ans);
		plumb_log(PLUMB_LOG_DEBUG, "%s; report refused", e.msg); /* a hostile token must not flood the log */
		/* Retention frees room: come back after its next run. */
		return respond_retry(con, MHD_HTTP_TOO_MANY_REQUESTS, "this host's storage quota (--host-quota) is used up",
				     3600);
	}
	if (r != 0) {
		json_decref(ans);
		plumb_log(PLUMB_LOG_ERROR, "cannot store report from '%s': %s", q->subject, e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond_json(con, dup ? MHD_HTTP_OK : MHD_HTTP_CREATED, ans);
}

static const char *arg(struct MHD_Connection *con, const char *k)
{
	const char *v = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, k);
	return v && *v ? v : NULL;
}

static enum MHD_Result handle_get_events(struct hub_server *s, struct MHD_Connection *con)
{
	struct hub_event_query qy = {.limit = HUB_EVENTS_LIMIT_DEFAULT};
	struct plumb_err e = {0};
	const char *v;
	uint64_t n;
	qy.host = arg(con, "host");
	qy.resource = arg(con, "resource");
	qy.action = arg(con, "action");
	if ((v = arg(con, "limit"))) {
		if (plumb_parse_u64(&n, v, HUB_EVENTS_LIMIT_MAX) != 0 || n == 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "limit must be an integer from 1 to 1000");
		qy.limit = (int)n;
	}
	if ((v = arg(con, "before"))) {
		if (plumb_parse_u64(&n, v, INT64_MAX) != 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "before must be a cursor from a previous page's next");
		qy.before = (long long)n;
	}
	if ((v = arg(con, "since"))) {
		/* An RFC 3339 time, or a look-back duration such as "24h". */
		time_t t;
		uint64_t d;
		if (plumb_time_parse(&t, v) == 0)
			qy.since = t;
		else if (plumb_duration_parse(&d, v) == 0 && d < (uint64_t)time(NULL))
			qy.since = time(NULL) - (time_t)d;
		else
			return respond_error(con, MHD_HTTP_BAD_REQUEST,
					     "since must be an RFC 3339 time (2026-01-31T00:00:00Z) or a duration (24h)");
		if (qy.since <= 0)
			qy.since = 1;
	}
	json_t *out = NULL;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_events(c, &qy, &out, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "events query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond_json(con, MHD_HTTP_OK, out);
}

static enum MHD_Result handle_get_hosts(struct hub_server *s, struct MHD_Connection *con)
{
	struct plumb_err e = {0};
	const char *st = arg(con, "status");
	int known = 0;
	for (int i = 0; st && hub_statuses[i]; i++)
		known |= !strcmp(st, hub_statuses[i]);
	if (st && !known)
		return respond_error(con, MHD_HTTP_BAD_REQUEST,
				     "status must be silent, drifting, refused, unprotected, stale or compliant");
	char *out = NULL;
	size_t len = 0;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_hosts(c, time(NULL), s->cfg.silent_after, st, &out, &len, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "hosts query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond(con, MHD_HTTP_OK, "application/json", out, len, MHD_RESPMEM_MUST_FREE);
}

/* GET /metrics (viewer token, as Prometheus's authorization credentials):
 * hosts by status and the hub's own counters. */
static enum MHD_Result handle_get_metrics(struct hub_server *s, struct MHD_Connection *con)
{
	long long counts[HUB_NSTATUS];
	struct plumb_err e = {0};
	struct plumb_buf b;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_status_counts(c, time(NULL), s->cfg.silent_after, counts, &e);
	plumb_buf_init(&b, 64 * 1024);
	if (r == 0 && hub_alerts_metrics(c, &b) != 0)
		r = plumb_err_set(&e, PLUMB_E_IO, "alert outbox query failed");
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_buf_release(&b);
		plumb_log(PLUMB_LOG_ERROR, "hosts query: %s", e.msg);
		hub_metrics_storage_error(&s->metrics);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	if (hub_metrics_render(&s->metrics, counts, &b) != 0) {
		plumb_buf_release(&b);
		return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	size_t len = 0;
	char *text = plumb_buf_detach(&b, &len);
	if (!text)
		return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return respond(con, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle_get_report(struct hub_server *s, struct MHD_Connection *con, const char *id)
{
	struct plumb_err e = {0};
	char *body = NULL;
	if (strlen(id) != 36 || strspn(id, "0123456789abcdef-") != 36)
		return respond_error(con, MHD_HTTP_NOT_FOUND, "no such report");
	const char *host = arg(con, "host");
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_report(c, id, host, &body, &e);
	hub_db_release(s->db, c);
	if (r == PLUMB_E_NOTFOUND)
		return respond_error(con, MHD_HTTP_NOT_FOUND, "no such report");
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "report query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond(con, MHD_HTTP_OK, "application/json", body, strlen(body), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_asset(struct MHD_Connection *con, const char *type, const char *start, const char *end)
{
	struct MHD_Response *r = MHD_create_response_from_buffer((size_t)(end - start), (void *)start,
								 MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	conn_answering(con, MHD_HTTP_OK);
	add_common_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* Everything the page needs comes from here; nothing inline, no CDN. */
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
				"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	enum MHD_Result ret = MHD_queue_response(con, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result route_get(struct hub_server *s, struct MHD_Connection *con, const char *url, struct req *q)
{
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		return serve_asset(con, "text/html; charset=utf-8", hub_asset_index_html, hub_asset_index_html_end);
	if (!strcmp(url, "/app.js"))
		return serve_asset(con, "text/javascript; charset=utf-8", hub_asset_app_js, hub_asset_app_js_end);
	if (!strcmp(url, "/app.css"))
		return serve_asset(con, "text/css; charset=utf-8", hub_asset_app_css, hub_asset_app_css_end);
	if (!strcmp(url, "/healthz"))
		return respond(con, MHD_HTTP_OK, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT);
	if (strncmp(url, "/v1/", 4) != 0 && strcmp(url, "/metrics") != 0)
		return respond_error(con, MHD_HTTP_NOT_FOUND, "not found");
	unsigned st = authenticate(s, con, q);
	if (st)
		return respond_error(con, st, q->reason);
	if (q->role != HUB_ROLE_VIEWER)
		return respond_error(con, MHD_HTTP_FORBIDDEN, "agent tokens may not read");
	if (!strcmp(url, "/metrics"))
		return handle_get_metrics(s, con);
	if (!strcmp(url, "/v1/hosts"))
		return handle_get_hosts(s, con);
	if (!strcmp(url, "/v1/events"))
		return handle_get_events(s, con);
	if (!strncmp(url, "/v1/reports/", 12))
		return handle_get_report(s, con, url + 12);
	return respond_error(con, MHD_HTTP_NOT_FOUND, "not found");
}

/* The answer decided before or while the body arrived. */
static enum MHD_Result respond_verdict(struct MHD_Connection *con, const struct req *q)
{
	if (q->retry_after)
		return respond_retry(con, (unsigned)q->status, q->reason, q->retry_after);
	return respond_error(con, (unsigned)q->status, q->reason);
}

/* Gives back what request q counted as buffered, hub-wide and for its host. */
static void release_held(struct hub_server *s, struct req *q)
{
	atomic_fetch_sub(&s->inflight, q->reserved);
	q->reserved = 0;
	if (q->host_reserved)
		host_hold(s, q->subject, -(long long)q->host_reserved);
	q->host_reserved = 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct hub_server *s = cls;
	struct req *q = *con_cls;
	int is_post = !strcmp(method, MHD_HTTP_METHOD_POST);

	if (!q) { /* first call: headers only */
		if (!(q = calloc(1, sizeof(*q))))
			return MHD_NO;
		plumb_buf_init(&q->body, s->cfg.max_body);
		*con_cls = q;
		snprintf(q->method, sizeof(q->method), "%s", method);
		snprintf(q->path, sizeof(q->path), "%s", url);   /* no query: tokens never travel there */
		clock_gettime(CLOCK_MONOTONIC, &q->start);
		if (!is_post)
			return MHD_YES;
		if (strcmp(url, "/v1/reports") != 0) {
			q->status = MHD_HTTP_NOT_FOUND;
			q->reason = "not found";
		} else if ((q->status = authenticate(s, con, q)) == 0 && q->role != HUB_ROLE_AGENT) {
			q->status = MHD_HTTP_FORBIDDEN;
			q->reason = "viewer tokens may not write";
		}
		const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t len;
		if (!q->status && cl && plumb_parse_u64(&len, cl, UINT64_MAX) == 0 && len > s->cfg.max_body) {
			q->status = MHD_HTTP_CONTENT_TOO_LARGE;
			q->reason = "report too large";
		}
		/* Far too much to drain politely: answer now, MHD closes after. */
		if (q->status && cl && plumb_parse_u64(&len, cl, UINT64_MAX) == 0 &&
		    len > (uint64_t)s->cfg.max_body * DRAIN_FACTOR)
			return respond_error(con, q->status, q->reason);
		return MHD_YES;
	}
	if (is_post && *upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (q->status) { /* refused already: read and drop, within reason */
			q->drained += n;
			if (q->drained > s->cfg.max_body * DRAIN_FACTOR)
				return respond_verdict(con, q);
			return MHD_YES;
		}
		/* Hub-wide bound on buffered bodies: past it, this upload is
		 * answered 503 now and its buffer given back, whatever the
		 * other clients do. */
		size_t held = atomic_fetch_add(&s->inflight, n) + n;
		q->reserved += n;
		int hr = host_hold(s, q->subject, (long long)n), host_over = hr < 0;
		if (hr == 0)
			q->host_reserved += n;
		if (held > s->cfg.max_inflight || host_over) {
			/* Nothing more is kept: the rest is read and dropped (the
			 * receive deadline bounds how long), then answered. An
			 * answer sent before the body is read would be lost to the
			 * reset a close with unread data makes. */
			release_held(s, q);
			plumb_buf_release(&q->body);
			q->status = host_over ? MHD_HTTP_TOO_MANY_REQUESTS : MHD_HTTP_SERVICE_UNAVAILABLE;
			q->reason = host_over ? "this host has too many uploads in flight; retry"
					      : "the hub holds too many uploads at once (--max-inflight); retry";
			q->retry_after = 5;
			q->drained = n;
			return MHD_YES;
		}
		int r = plumb_buf_add(&q->body, upload, n);
		if (r == PLUMB_E_TOOBIG) { /* no Content-Length, or a false one */
			q->status = MHD_HTTP_CONTENT_TOO_LARGE;
			q->reason = "report too large";
			q->drained = q->body.len + n;
			plumb_buf_release(&q->body);
			release_held(s, q);
			return MHD_YES;
		}
		return r == 0 ? MHD_YES : MHD_NO;
	}
	if (is_post) {
		if (q->status)
			return respond_verdict(con, q);
		return handle_post_report(s, con, q);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		conn_answering(con, MHD_HTTP_METHOD_NOT_ALLOWED);
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST");
		enum MHD_Result ret = MHD_queue_response(con, MHD_HTTP_METHOD_NOT_ALLOWED, r);
		MHD_destroy_response(r);
		return ret;
	}
	return route_get(s, con, url, q);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct hub_server *s = cls;
	struct req *q = *con_cls;
	const union MHD_ConnectionInfo *ci0 = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot0 = ci0 ? ci0->socket_context : NULL;
	if (q && slot0 && slot0->code) {
		/* One access line per request: never a token, never a body. */
		struct timespec now;
		const union MHD_ConnectionInfo *ai = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		char addr[INET6_ADDRSTRLEN] = "?";
		unsigned code = slot0->code;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ai && ai->client_addr && ai->client_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ai->client_addr)->sin_addr, addr,
				  sizeof(addr));
		else if (ai && ai->client_addr && ai->client_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ai->client_addr)->sin6_addr, addr,
				  sizeof(addr));
		hub_metrics_answer(&s->metrics, code);
		plumb_log(code == 401 || code == 403 ? PLUMB_LOG_WARN : PLUMB_LOG_INFO, "access: %s %s %s %u %s%s%s %.1fms%s",
			  addr, q->method, q->path, code, q->subject[0] ? (q->role == HUB_ROLE_VIEWER ? "viewer:" : "host:") : "-",
			  q->subject, "", since_s(&q->start, &now) * 1e3,
			  t == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not completed)");
		slot0->code = 0;
	}
	if (q) {
		release_held(s, q);
		plumb_buf_release(&q->body);
		free(q);
	}
	*con_cls = NULL;
	/* The next request on this connection gets a fresh receive deadline. */
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot = ci ? ci->socket_context : NULL;
	if (slot) {
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_MONOTONIC, &slot->since);
		atomic_store(&slot->receiving, 1);
		pthread_mutex_unlock(&s->mu);
	}
}

/* Every connection gets a slot at accept; the slot goes before MHD closes
 * the socket, so the reaper never touches a descriptor reused elsewhere. */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct hub_server *s = cls;
	pthread_mutex_lock(&s->mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		for (unsigned i = 0; ci && i < HUB_CONNECTIONS_MAX; i++)
			if (!s->conns[i].used) {
				s->conns[i].used = 1;
				s->conns[i].fd = ci->connect_fd;
				atomic_store(&s->conns[i].receiving, 1);
				clock_gettime(CLOCK_MONOTONIC, &s->conns[i].since);
				*socket_context = &s->conns[i];
				break;
			}
	} else if (*socket_context) {
		((struct conn_slot *)*socket_context)->used = 0;
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Once a second: a connection that has not delivered its whole request
 * within --recv-timeout is shut down (libmicrohttpd then closes it as a
 * client that went away). */
static void *reaper(void *arg)
{
	struct hub_server *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		struct timespec now, wake;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (unsigned i = 0; i < HUB_CONNECTIONS_MAX; i++) {
			struct conn_slot *c = &s->conns[i];
			if (c->used && atomic_load(&c->receiving) == 1 &&
			    since_s(&c->since, &now) > (double)s->cfg.recv_timeout) {
				shutdown(c->fd, SHUT_RDWR);
				atomic_store(&c->receiving, 2); /* once */
				plumb_log(PLUMB_LOG_DEBUG, "http: a request took longer than %llds to arrive; closed",
					  (long long)s->cfg.recv_timeout);
			}
		}
		clock_gettime(CLOCK_REALTIME, &wake);
		wake.tv_sec += 1;
		pthread_cond_timedwait(&s->cv, &s->mu, &wake);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	plumb_log(PLUMB_LOG_WARN, "http: %s", line);
}

static char *load_pem(const char *path, const char *what, struct plumb_err *err)
{
	struct plumb_buf b;
	char *s;
	if (plumb_buf_load_file(&b, path, 1 << 20, what, err) != 0)
		return NULL;
	if (!(s = plumb_buf_detach(&b, NULL)))
		plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	return s;
}

static int parse_listen(struct sockaddr_storage *ss, const char *spec, struct plumb_err *err)
{
	char host[256];
	const char *port;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host) || strchr(spec, ':') != colon)
			goto bad;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	uint64_t p;
	if (plumb_parse_u64(&p, port, 65535) != 0)
		goto bad;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM},
			*ai = NULL;
	if (getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &ai) != 0 || !ai)
		goto bad;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
bad:
	return plumb_err_set(err, PLUMB_E_INVALID, "bad --listen '%s' (want ADDR:PORT or [ADDR]:PORT, numeric)", spec);
}

int hub_server_start(struct hub_server **out, struct hub_db *db, const struct hub_server_cfg *cfg,
		     struct plumb_err *err)
{
	struct sockaddr_storage ss = {0};
	int r;
	if ((r = parse_listen(&ss, cfg->listen, err)) != 0)
		return r;
	if (!cfg->tls_cert != !cfg->tls_key)
		return plumb_err_set(err, PLUMB_E_INVALID, "--tls-cert and --tls-key go together");
	if (cfg->tls_client_ca && !cfg->tls_cert)
		return plumb_err_set(err, PLUMB_E_INVALID, "--tls-client-ca needs --tls-cert and --tls-key");
	if (cfg->tls_crl && !cfg->tls_client_ca)
		return plumb_err_set(err, PLUMB_E_INVALID, "--tls-crl needs --tls-client-ca");
	struct hub_server *s = calloc(1, sizeof(*s));
	if (!s)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	s->db = db;
	s->cfg = *cfg;
	if (!s->cfg.max_inflight)
		s->cfg.max_inflight = HUB_INFLIGHT_DEFAULT;
	if (!s->cfg.recv_timeout)
		s->cfg.recv_timeout = HUB_RECV_TIMEOUT_DEFAULT;
	if (!s->cfg.max_string)
		s->cfg.max_string = HUB_STRING_DEFAULT;
	if (!s->cfg.max_events)
		s->cfg.max_events = HUB_EVENTS_DEFAULT;
	if (!s->cfg.retain)
		s->cfg.retain = 90 * 86400;
	atomic_init(&s->inflight, 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_mutex_init(&s->rate_mu, NULL);
	pthread_rwlock_init(&s->crl_lock, NULL);
	if (!(s->rates = calloc(RATE_SLOTS, sizeof(*s->rates)))) {
		hub_server_stop(s);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert) {
		if (!(s->cert = load_pem(cfg->tls_cert, "TLS certificate", err)) ||
		    !(s->key = load_pem(cfg->tls_key, "TLS key", err)) ||
		    (cfg->tls_client_ca && !(s->client_ca = load_pem(cfg->tls_client_ca, "client CA", err)))) {
			hub_server_stop(s);
			return PLUMB_E_IO;
		}
		flags |= MHD_USE_TLS;
		if (cfg->tls_crl && (r = load_crls(s, cfg->tls_crl, err)) != 0) {
			hub_server_stop(s);
			return r;
		}
	}
	/* TLS options go in an array: present only when TLS is on. */
	struct MHD_OptionItem tls[5] = {{MHD_OPTION_END, 0, NULL}};
	int nt = 0;
	if (cfg->tls_cert) {
		tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert};
		tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key};
		tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						    (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
		if (s->client_ca) /* asks clients for a certificate; a token still works */
			tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->client_ca};
	}
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads ? cfg->threads : 4),
		MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, HUB_CONNECTIONS_MAX,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.per_ip ? s->cfg.per_ip : HUB_PER_IP_DEFAULT,
		MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (!s->mhd) {
		hub_server_stop(s);
		return plumb_err_set(err, PLUMB_E_IO, "cannot listen on %s (in use, or no such address)", cfg->listen);
	}
	if (pthread_create(&s->reaper, NULL, reaper, s) != 0) {
		hub_server_stop(s);
		return plumb_err_set(err, PLUMB_E_IO, "cannot start a thread");
	}
	s->reaper_started = 1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return 0;
}

unsigned hub_server_port(const struct hub_server *s)
{
	return s->port;
}

void hub_server_stop(struct hub_server *s)
{
	if (!s)
		return;
	if (s->reaper_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->reaper, NULL);
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	free(s->rates);
	crls_free(s->crls, s->ncrl);
	pthread_rwlock_destroy(&s->crl_lock);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->rate_mu);
	free(s->cert);
	free(s->client_ca);
	if (s->key) {
		explicit_bzero(s->key, strlen(s->key));
		free(s->key);
	}
	free(s);
}
