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
#include "plumb/hash.h"
#include "session.h"
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

/* Ingests in progress (queued for, or in, a group commit): at most one per
 * connection, and most of those connections usually wait for one commit. */
#define INGEST_SLOTS 256
/* With an ingest in progress but no slot, the watermark steps back this far. */
#define WATERMARK_MARGIN 60

struct hub_server {
	struct MHD_Daemon *mhd;
	struct hub_db *db;
	struct hub_committer *committer;
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
	/* Hosts by status for the page's counters: recomputed when this hub
	 * stored a report since, else at most every SUMMARY_TTL seconds. */
	pthread_mutex_t sum_mu;
	long long sum_counts[HUB_NSTATUS];
	time_t sum_at;
	unsigned long long sum_gen;
	int sum_failing;         /* the reaper's last refresh failed (reaper only) */
	atomic_ullong gen;       /* reports stored by this hub */
	/* When each ingest in progress began (0: free): the delta watermark
	 * stays before the oldest, so a report committing late is not missed. */
	pthread_mutex_t ing_mu;
	time_t ing_start[INGEST_SLOTS];
	int ing_unslotted;       /* ingests in progress without a slot (guarded by ing_mu) */
};

#define SUMMARY_TTL 5
/* Bodies of the page's own POSTs (session, ack) are small. */
#define SMALL_BODY_MAX (16u << 10)
#define COOKIE_NAME "plumb_session"

enum req_kind { REQ_REPORT, REQ_SESSION, REQ_LOGOUT, REQ_ACK };

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
	enum req_kind kind;
	long long ack_seq;
	int via_session;               /* authenticated by the session cookie */
	char token_hash[PLUMB_SHA256_HEX]; /* with a bearer token */
	char csrf[HUB_SESSION_ID_LEN]; /* with a session */
	time_t sess_expires;
	/* for the access log line and the metrics */
	char method[8];
	char path[128];
	struct timespec start;
	/* a report handed to the committer: the connection is suspended until
	 * its COMMIT returned (ing_done), then answered */
	struct hub_ingest ing;
	json_t *doc;
	struct hub_server *srv;
	struct MHD_Connection *con;
	int suspended, ing_slot, stopping;
	atomic_int ing_done;
	struct timespec t0;
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

/* The whole request arrived and waits for its answer (a commit): the
 * receive clock stops, no answer is queued yet. */
static void conn_waiting(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot = ci ? ci->socket_context : NULL;
	if (slot)
		atomic_store(&slot->receiving, 0);
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
	const char *cookie = MHD_lookup_connection_value(con, MHD_COOKIE_KIND, COOKIE_NAME);
	struct plumb_err e = {0};
	if (!h && cookie) { /* the page's session: a random id, never the token */
		struct hub_conn *c = hub_db_acquire(s->db);
		int r = hub_session_check(c, cookie, time(NULL), &q->role, q->subject, q->csrf, &q->sess_expires, &e);
		hub_db_release(s->db, c);
		if (r == PLUMB_E_NOTFOUND) {
			q->subject[0] = '\0';
			q->reason = "session expired, ended or revoked; sign in again";
			return MHD_HTTP_UNAUTHORIZED;
		}
		if (r != 0) {
			plumb_log(PLUMB_LOG_ERROR, "session lookup: %s", e.msg);
			q->reason = "storage unavailable";
			return MHD_HTTP_SERVICE_UNAVAILABLE;
		}
		q->via_session = 1;
		return 0;
	}
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
	int r = hub_token_check(c, h, &q->role, q->subject, q->token_hash, &e);
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

/* Marks an ingest that took now as its hosts' last_seen as in progress.
 * Returns its slot, or -1 (none free: counted, and the watermark falls
 * back to WATERMARK_MARGIN). */
static int ingest_begin(struct hub_server *s, time_t now)
{
	int slot = -1;
	pthread_mutex_lock(&s->ing_mu);
	for (int i = 0; i < INGEST_SLOTS && slot < 0; i++)
		if (!s->ing_start[i]) {
			s->ing_start[i] = now;
			slot = i;
		}
	if (slot < 0)
		s->ing_unslotted++;
	pthread_mutex_unlock(&s->ing_mu);
	return slot;
}

static void ingest_end(struct hub_server *s, int slot)
{
	pthread_mutex_lock(&s->ing_mu);
	if (slot < 0)
		s->ing_unslotted--;
	else
		s->ing_start[slot] = 0;
	pthread_mutex_unlock(&s->ing_mu);
}

/* Where the next delta (since=) may start: hosts written at or after it
 * are in it. A second before now, and before the oldest ingest still in
 * progress here (its last_seen is its start). */
static time_t delta_watermark(struct hub_server *s, time_t now)
{
	time_t w = now - 1;
	pthread_mutex_lock(&s->ing_mu);
	if (s->ing_unslotted)
		w = now - WATERMARK_MARGIN;
	for (int i = 0; i < INGEST_SLOTS; i++)
		if (s->ing_start[i] && s->ing_start[i] - 1 < w)
			w = s->ing_start[i] - 1;
	pthread_mutex_unlock(&s->ing_mu);
	return w;
}

/* Called by a committer thread once the report's COMMIT returned (or its
 * batch failed): the connection resumes, and on_request answers. The
 * request is not touched after the resume (MHD may end it at once). */
static void report_stored(struct hub_ingest *j)
{
	struct req *q = j->arg;
	struct hub_server *s = q->srv;
	if (j->r == 0 && !j->duplicate)
		atomic_fetch_add(&s->gen, 1);
	ingest_end(s, q->ing_slot);
	atomic_store(&q->ing_done, 1);
	MHD_resume_connection(q->con);
}

/* The answer to a report whose storing ended (report_stored). */
static enum MHD_Result answer_report(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	struct timespec t1;
	int r = q->ing.r, dup = q->ing.duplicate;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (q->stopping) { /* the agent keeps it spooled and sends it again */
		hub_metrics_ingest(&s->metrics, HUB_INGEST_FAILED, 0);
		json_decref(q->doc);
		q->doc = NULL;
		return respond_retry(con, MHD_HTTP_SERVICE_UNAVAILABLE, "the hub is stopping; retry", 5);
	}
	hub_metrics_ingest(&s->metrics, r == PLUMB_E_TOOBIG ? HUB_INGEST_THROTTLED : r != 0 ? HUB_INGEST_FAILED
			   : dup ? HUB_INGEST_DUPLICATE : HUB_INGEST_STORED, since_s(&q->t0, &t1));
	if (r != 0 && r != PLUMB_E_TOOBIG)
		hub_metrics_storage_error(&s->metrics);
	json_t *ans = json_pack("{s:s,s:b}", "id", json_string_value(json_object_get(q->doc, "id")), "duplicate", dup);
	json_decref(q->doc);
	q->doc = NULL;
	if (r == PLUMB_E_TOOBIG) {
		json_decref(ans);
		plumb_log(PLUMB_LOG_DEBUG, "%s; report refused", q->ing.err.msg); /* a hostile token must not flood the log */
		/* Retention frees room: come back after its next run. */
		return respond_retry(con, MHD_HTTP_TOO_MANY_REQUESTS, "this host's storage quota (--host-quota) is used up",
				     3600);
	}
	if (r != 0) {
		json_decref(ans);
		plumb_log(PLUMB_LOG_ERROR, "cannot store report from '%s': %s", q->subject, q->ing.err.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond_json(con, dup ? MHD_HTTP_OK : MHD_HTTP_CREATED, ans);
}

/* Parses and checks a report, then hands it to the committer and suspends
 * the connection: this thread goes on serving other connections while the
 * report waits for its group commit, so one commit takes the reports of
 * every connection, not only of as many as there are threads. */
static enum MHD_Result handle_post_report(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	struct plumb_err e = {0};
	char reason[PLUMB_ERR_MAX + 64];
	time_t finished = 0, now = time(NULL);
	struct hub_report_limits lim = {.max_string = s->cfg.max_string,
					.max_events = s->cfg.max_events,
					.not_after = now + s->cfg.max_skew,
					.not_before = now - s->cfg.retain};
	json_t *doc = hub_report_parse(q->body.data ? q->body.data : "", q->body.len, &e);
	clock_gettime(CLOCK_MONOTONIC, &q->t0);
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
	q->doc = doc;
	q->srv = s;
	q->con = con;
	q->ing = (struct hub_ingest){.doc = doc, .body = q->body.data, .len = q->body.len, .finished = finished,
				     .now = now, .quota = s->cfg.host_quota, .done = report_stored, .arg = q};
	q->ing_slot = ingest_begin(s, now);
	conn_waiting(con);
	/* suspended before it is queued: the committer may resume it at once */
	MHD_suspend_connection(con);
	q->suspended = 1;
	if (hub_committer_submit(s->committer, &q->ing) != 0) { /* stopping: not stored */
		q->stopping = 1;
		q->ing.r = plumb_err_set(&q->ing.err, PLUMB_E_IO, "the hub is stopping");
		report_stored(&q->ing);
	}
	return MHD_YES;
}

static const char *arg(struct MHD_Connection *con, const char *k)
{
	const char *v = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, k);
	return v && *v ? v : NULL;
}

/* Query parameters a route knows: any other is a 400, not ignored (a
 * misspelt filter must not silently show everything). */
struct param_check {
	const char *const *known;
	const char *bad;
	int nul;
};

static enum MHD_Result param_iter(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				  const char *value, size_t value_size)
{
	(void)kind;
	struct param_check *pc = cls;
	/* "%00" in a value would cut it short unseen: refused */
	if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
		pc->bad = key;
		pc->nul = 1;
		return MHD_NO;
	}
	for (const char *const *k = pc->known; *k; k++)
		if (!strcmp(*k, key))
			return MHD_YES;
	pc->bad = key;
	return MHD_NO;
}

static enum MHD_Result check_params(struct MHD_Connection *con, const char *const *known, int *ok)
{
	struct param_check pc = {.known = known};
	char msg[160];
	MHD_get_connection_values_n(con, MHD_GET_ARGUMENT_KIND, param_iter, &pc);
	*ok = !pc.bad;
	if (!pc.bad)
		return MHD_YES;
	snprintf(msg, sizeof(msg), pc.nul ? "parameter '%.64s' holds a NUL byte" : "unknown parameter '%.64s'", pc.bad);
	return respond_error(con, MHD_HTTP_BAD_REQUEST, msg);
}

/* A time parameter: RFC 3339, or a look-back duration ("24h"). */
static int parse_when(time_t *out, const char *v)
{
	time_t t;
	uint64_t d;
	if (plumb_time_parse(&t, v) == 0)
		*out = t;
	else if (plumb_duration_parse(&d, v) == 0 && d < (uint64_t)time(NULL))
		*out = time(NULL) - (time_t)d;
	else
		return -1;
	if (*out <= 0)
		*out = 1;
	return 0;
}

/* ETag: a digest of the answer. If-None-Match naming it gets 304 with no
 * body: a page refreshing an unchanged view downloads nothing. */
static enum MHD_Result respond_tagged_n(struct MHD_Connection *con, const char *type, char *text, size_t len,
					const char *filename, size_t tag_len)
{
	char hex[PLUMB_SHA256_HEX], etag[40];
	if (plumb_sha256_mem_hex(hex, text, tag_len) != 0) {
		free(text);
		return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	snprintf(etag, sizeof(etag), "\"%.32s\"", hex);
	const char *inm = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	int match = inm && strstr(inm, etag) != NULL;
	struct MHD_Response *r;
	if (match) {
		free(text);
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	}
	if (!r) {
		if (!match)
			free(text);
		return MHD_NO;
	}
	unsigned status = match ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
	conn_answering(con, status);
	add_common_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (!match)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (!match && filename) {
		char cd[96];
		snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", filename);
		MHD_add_response_header(r, "Content-Disposition", cd);
	}
	enum MHD_Result ret = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_tagged(struct MHD_Connection *con, const char *type, char *text, size_t len,
				      const char *filename)
{
	return respond_tagged_n(con, type, text, len, filename, len);
}

static enum MHD_Result respond_json_tagged(struct MHD_Connection *con, json_t *doc, const char *filename)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return respond_tagged(con, "application/json", text, strlen(text), filename);
}

/* format=json|csv: 0 the API answer, 1 a JSON download, 2 a CSV download;
 * -1 for anything else. */
static int parse_format(struct MHD_Connection *con)
{
	const char *v = arg(con, "format");
	if (!v)
		return 0;
	return !strcmp(v, "json") ? 1 : !strcmp(v, "csv") ? 2 : -1;
}

static int parse_limit(struct MHD_Connection *con, int def, int max, int *out)
{
	const char *v = arg(con, "limit");
	uint64_t n;
	*out = def;
	if (!v)
		return 0;
	if (plumb_parse_u64(&n, v, (uint64_t)max) != 0 || n == 0)
		return -1;
	*out = (int)n;
	return 0;
}

static const char *const event_params[] = {"host", "resource", "action", "since", "until", "before", "after",
					   "acked", "limit", "format", "count", NULL};

/* The event filters shared by /v1/events and /v1/events/histogram. Returns
 * NULL, or the 400 message. */
static const char *event_filters(struct MHD_Connection *con, struct hub_event_query *qy, char *prefix, size_t cap)
{
	const char *v;
	uint64_t n;
	qy->host = arg(con, "host");
	qy->resource = arg(con, "resource");
	qy->action = arg(con, "action");
	if (qy->resource && strlen(qy->resource) > 1024)
		return "resource is longer than 1024 bytes";
	if (qy->host && strlen(qy->host) >= HUB_SUBJECT_MAX)
		return "host is longer than 255 bytes";
	/* a trailing star: every resource that starts with what is before it */
	if (qy->resource && qy->resource[strlen(qy->resource) - 1] == '*') {
		snprintf(prefix, cap, "%.*s", (int)strlen(qy->resource) - 1, qy->resource);
		qy->resource = NULL;
		qy->resource_prefix = prefix[0] ? prefix : NULL;
	}
	if (qy->action) {
		static const char *const actions[] = {"detected", "reverted", "failed", "contested", "refused",
						      "rolled-back", NULL};
		int known = 0;
		for (int i = 0; actions[i]; i++)
			known |= !strcmp(qy->action, actions[i]);
		if (!known)
			return "action must be detected, reverted, failed, contested, refused or rolled-back";
	}
	if ((v = arg(con, "acked"))) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return "acked must be yes or no";
		qy->acked = !strcmp(v, "yes") ? 2 : 1;
	}
	if ((v = arg(con, "before"))) {
		if (plumb_parse_u64(&n, v, INT64_MAX) != 0)
			return "before must be a cursor from a previous page's next";
		qy->before = (long long)n;
	}
	if ((v = arg(con, "after"))) {
		if (plumb_parse_u64(&n, v, INT64_MAX) != 0)
			return "after must be an event seq (a previous page's newest)";
		qy->after = (long long)n;
	}
	if ((v = arg(con, "since")) && parse_when(&qy->since, v) != 0)
		return "since must be an RFC 3339 time (2026-01-31T00:00:00Z) or a duration (24h)";
	if ((v = arg(con, "until")) && parse_when(&qy->until, v) != 0)
		return "until must be an RFC 3339 time (2026-01-31T00:00:00Z) or a duration (24h)";
	if (qy->since && qy->until && qy->until <= qy->since)
		return "until must be after since";
	return NULL;
}

static enum MHD_Result handle_get_events(struct hub_server *s, struct MHD_Connection *con)
{
	struct hub_event_query qy = {0};
	struct plumb_err e = {0};
	char prefix[1100];
	const char *bad;
	int ok, fmt = parse_format(con);
	enum MHD_Result pr = check_params(con, event_params, &ok);
	if (!ok)
		return pr;
	if ((bad = event_filters(con, &qy, prefix, sizeof(prefix))))
		return respond_error(con, MHD_HTTP_BAD_REQUEST, bad);
	if (fmt < 0)
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "format must be json or csv");
	int max = fmt ? HUB_EXPORT_LIMIT_MAX : HUB_EVENTS_LIMIT_MAX;
	if (parse_limit(con, HUB_EVENTS_LIMIT_DEFAULT, max, &qy.limit) != 0) {
		char msg[96];
		snprintf(msg, sizeof(msg), "limit must be an integer from 1 to %d", max);
		return respond_error(con, MHD_HTTP_BAD_REQUEST, msg);
	}
	const char *cv = arg(con, "count");
	if (cv && strcmp(cv, "yes") && strcmp(cv, "no"))
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "count must be yes or no");
	qy.count = cv && !strcmp(cv, "yes");
	struct plumb_buf csv;
	if (fmt == 2) {
		plumb_buf_init(&csv, (size_t)HUB_EVENTS_BYTES_MAX * 4);
		plumb_buf_adds(&csv, hub_events_csv_header);
		qy.csv = &csv;
	}
	json_t *out = NULL;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_events(c, &qy, &out, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		if (fmt == 2)
			plumb_buf_release(&csv);
		plumb_log(PLUMB_LOG_ERROR, "events query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	if (fmt == 2) {
		/* More than one page: the CSV says where it stopped, in a header
		 * (Link-like, the next cursor), so an export is never cut silently. */
		json_t *next = json_object_get(out, "next");
		char nx[32] = "";
		if (json_is_integer(next))
			snprintf(nx, sizeof(nx), "%lld", (long long)json_integer_value(next));
		json_decref(out);
		size_t len = 0;
		char *text = plumb_buf_detach(&csv, &len);
		plumb_buf_release(&csv);
		if (!text)
			return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "export too large");
		if (nx[0]) {
			free(text);
			return respond_error(con, MHD_HTTP_CONTENT_TOO_LARGE,
					     "more events match than one export holds; narrow the filters or page with before=");
		}
		return respond_tagged(con, "text/csv; charset=utf-8", text, len, "plumb-events.csv");
	}
	return respond_json_tagged(con, out, fmt == 1 ? "plumb-events.json" : NULL);
}

static enum MHD_Result handle_get_histogram(struct hub_server *s, struct MHD_Connection *con)
{
	static const char *const known[] = {"host", "resource", "action", "since", "until", "acked", NULL};
	struct hub_event_query qy = {0};
	struct plumb_err e = {0};
	char prefix[1100];
	const char *bad;
	int ok;
	enum MHD_Result pr = check_params(con, known, &ok);
	if (!ok)
		return pr;
	if ((bad = event_filters(con, &qy, prefix, sizeof(prefix))))
		return respond_error(con, MHD_HTTP_BAD_REQUEST, bad);
	time_t now = time(NULL);
	if (!qy.since)
		qy.since = now - 48 * 3600;
	if ((qy.until ? qy.until : now) - qy.since > 31 * 86400)
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "the chart spans at most 31 days (since .. until)");
	json_t *out = NULL;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_histogram(c, &qy, &out, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "histogram query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	char t[21];
	plumb_time_format(t, qy.since);
	json_object_set_new(out, "since", json_string(t));
	plumb_time_format(t, qy.until ? qy.until : now);
	json_object_set_new(out, "until", json_string(t));
	return respond_json_tagged(con, out, NULL);
}

/* The fleet's counters, cached (see sum_mu): a request recomputes them
 * when this hub stored a report since (so what it just took in shows at
 * once); the reaper thread refreshes them every SUMMARY_TTL seconds (hosts
 * turning silent, another hub's reports), so a quiet fleet's requests never
 * pay for the count. force: recompute when older than SUMMARY_TTL too. */
static int summary_at(struct hub_server *s, time_t now, long long counts[HUB_NSTATUS], int force,
		      struct plumb_err *e)
{
	int r = 0;
	pthread_mutex_lock(&s->sum_mu);
	unsigned long long gen = atomic_load(&s->gen);
	if (!s->sum_at || gen != s->sum_gen || now < s->sum_at || (force && now - s->sum_at >= SUMMARY_TTL) ||
	    now - s->sum_at >= 4 * SUMMARY_TTL) {
		struct hub_conn *c = hub_db_acquire(s->db);
		r = hub_store_status_counts(c, now, s->cfg.silent_after, s->sum_counts, e);
		hub_db_release(s->db, c);
		s->sum_at = r == 0 ? now : 0;
		s->sum_gen = gen;
	}
	if (counts)
		memcpy(counts, s->sum_counts, sizeof(s->sum_counts));
	pthread_mutex_unlock(&s->sum_mu);
	return r;
}

static int summary(struct hub_server *s, time_t now, long long counts[HUB_NSTATUS], struct plumb_err *e)
{
	return summary_at(s, now, counts, 0, e);
}

/* The cursor of a host page: "KEY_HEXHOST" (KEY the sort key, 0 for
 * sort=host). Returns 0, or -1 for anything else. */
static int cursor_parse(const char *v, long long *key, char host[HUB_SUBJECT_MAX])
{
	const char *us = strchr(v, '_');
	uint64_t k;
	char num[24];
	if (!us || us == v || (size_t)(us - v) >= sizeof(num))
		return -1;
	memcpy(num, v, (size_t)(us - v));
	num[us - v] = '\0';
	if (plumb_parse_u64(&k, num, INT64_MAX) != 0)
		return -1;
	const char *hx = us + 1;
	size_t n = strlen(hx);
	if (n == 0 || n % 2 || n / 2 >= HUB_SUBJECT_MAX || strspn(hx, "0123456789abcdef") != n)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned hi = (unsigned)(hx[2 * i] <= '9' ? hx[2 * i] - '0' : hx[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(hx[2 * i + 1] <= '9' ? hx[2 * i + 1] - '0' : hx[2 * i + 1] - 'a' + 10);
		host[i] = (char)(hi << 4 | lo);
		if (!host[i])
			return -1;
	}
	host[n / 2] = '\0';
	*key = (long long)k;
	return 0;
}

static void cursor_make(char *out, size_t cap, long long key, const char *host)
{
	int n = snprintf(out, cap, "%lld_", key);
	for (const unsigned char *p = (const unsigned char *)host; *p && (size_t)n + 3 < cap; p++)
		n += snprintf(out + n, cap - (size_t)n, "%02x", *p);
}

static enum MHD_Result handle_get_hosts(struct hub_server *s, struct MHD_Connection *con)
{
	static const char *const known[] = {"status", "q", "commit", "serial", "serial_below", "since", "sort",
					    "order", "cursor", "limit", "format", NULL};
	struct hub_host_query qy = {0};
	struct plumb_err e = {0};
	char like[3 * HUB_SUBJECT_MAX + 4], chost[HUB_SUBJECT_MAX];
	const char *v;
	uint64_t n;
	int ok, fmt = parse_format(con), filtered = 0;
	time_t now = time(NULL);
	enum MHD_Result pr = check_params(con, known, &ok);
	if (!ok)
		return pr;
	if ((v = arg(con, "status"))) {
		for (int i = 0; hub_statuses[i]; i++)
			if (!strcmp(v, hub_statuses[i]))
				qy.status = i + 1;
		if (!qy.status)
			return respond_error(con, MHD_HTTP_BAD_REQUEST,
					     "status must be silent, drifting, refused, unprotected, stale or compliant");
	}
	if ((v = arg(con, "q"))) { /* host contains v, ASCII case folded; % _ \ match themselves */
		size_t j = 0;
		if (strlen(v) >= HUB_SUBJECT_MAX)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "q is longer than 255 bytes");
		like[j++] = '%';
		for (const char *p = v; *p; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				like[j++] = '\\';
			like[j++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
		}
		like[j++] = '%';
		like[j] = '\0';
		qy.contains_like = like;
		filtered = 1;
	}
	if ((v = arg(con, "commit"))) {
		if (strlen(v) > 64 || strspn(v, "0123456789abcdef") != strlen(v))
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "commit must be a lower-case hex commit id");
		qy.commit = v;
		filtered = 1;
	}
	if ((v = arg(con, "serial"))) {
		if (plumb_parse_u64(&n, v, INT64_MAX) != 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "serial must be a non-negative integer");
		qy.has_serial = 1;
		qy.serial = (long long)n;
		filtered = 1;
	}
	if ((v = arg(con, "serial_below"))) {
		if (plumb_parse_u64(&n, v, INT64_MAX) != 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "serial_below must be a non-negative integer");
		qy.has_serial_below = 1;
		qy.serial_below = (long long)n;
		filtered = 1;
	}
	if ((v = arg(con, "since"))) {
		if (parse_when(&qy.changed_since, v) != 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST,
					     "since must be an RFC 3339 time (a previous answer's watermark) or a duration");
		filtered = 1;
	}
	if ((v = arg(con, "sort"))) {
		if (!strcmp(v, "host"))
			qy.sort = HUB_SORT_HOST;
		else if (!strcmp(v, "last_seen"))
			qy.sort = HUB_SORT_LAST_SEEN;
		else if (!strcmp(v, "status"))
			qy.sort = HUB_SORT_STATUS;
		else
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "sort must be host, last_seen or status");
	}
	if ((v = arg(con, "order"))) {
		if (strcmp(v, "asc") && strcmp(v, "desc"))
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "order must be asc or desc");
		qy.desc = !strcmp(v, "desc");
	}
	if ((v = arg(con, "cursor"))) {
		if (cursor_parse(v, &qy.cursor_key, chost) != 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "cursor must be a previous page's next");
		qy.cursor_host = chost;
	}
	if (fmt < 0)
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "format must be json or csv");
	int max = fmt ? HUB_EXPORT_LIMIT_MAX : HUB_HOSTS_LIMIT_MAX;
	if (parse_limit(con, HUB_HOSTS_LIMIT_DEFAULT, max, &qy.limit) != 0) {
		char msg[96];
		snprintf(msg, sizeof(msg), "limit must be an integer from 1 to %d", max);
		return respond_error(con, MHD_HTTP_BAD_REQUEST, msg);
	}
	qy.csv = fmt == 2;
	long long counts[HUB_NSTATUS], total = 0;
	int r = summary(s, now, counts, &e);
	struct plumb_buf b;
	struct hub_page pg = {0};
	plumb_buf_init(&b, HUB_HOSTS_JSON_MAX);
	if (r == 0) {
		struct hub_conn *c = hub_db_acquire(s->db);
		if (!qy.csv)
			plumb_buf_adds(&b, "{\"hosts\":[");
		else
			plumb_buf_adds(&b, hub_hosts_csv_header);
		r = hub_store_hosts_page(c, now, s->cfg.silent_after, &qy, &b, &pg, &e);
		/* The total: from the counters when only the status narrows, else
		 * counted (a search over every host name). */
		if (r == 0 && filtered)
			r = hub_store_hosts_count(c, now, s->cfg.silent_after, &qy, &total, &e);
		hub_db_release(s->db, c);
	}
	if (r != 0) {
		plumb_buf_release(&b);
		plumb_log(PLUMB_LOG_ERROR, "hosts query: %s", e.msg);
		return respond_error(con, r == PLUMB_E_NOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_SERVICE_UNAVAILABLE,
				     r == PLUMB_E_NOMEM ? "out of memory" : "storage unavailable");
	}
	long long all = 0;
	for (int i = 0; i < HUB_NSTATUS; i++)
		all += counts[i];
	if (!filtered)
		total = qy.status ? counts[qy.status - 1] : all;
	char next[16 + 2 * HUB_SUBJECT_MAX] = "";
	if (pg.more)
		cursor_make(next, sizeof(next), pg.last_key, pg.last_host);
	if (qy.csv) {
		if (pg.more) { /* an export is whole, or refused: never cut silently */
			plumb_buf_release(&b);
			return respond_error(con, MHD_HTTP_CONTENT_TOO_LARGE,
					     "more hosts match than one export holds; narrow the filters or page with cursor=");
		}
		size_t len = 0;
		char *text = plumb_buf_detach(&b, &len);
		plumb_buf_release(&b);
		if (!text)
			return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return respond_tagged(con, "text/csv; charset=utf-8", text, len, "plumb-hosts.csv");
	}
	char t_now[21], t_w[21];
	/* The tag covers what the hosts are, not when they were asked for: an
	 * unchanged page is a 304 whatever as_of and the watermark say (a
	 * client keeping its older watermark only gets a wider next delta). */
	plumb_time_format(t_now, now);
	plumb_time_format(t_w, delta_watermark(s, now));
	plumb_buf_adds(&b, "],\"summary\":{");
	for (int i = 0; i < HUB_NSTATUS; i++)
		plumb_buf_addf(&b, "\"%s\":%lld,", hub_statuses[i], counts[i]);
	plumb_buf_addf(&b, "\"total\":%lld},\"total\":%lld,\"count\":%d,\"limit\":%d,\"next\":", all, total, pg.rows,
		       qy.limit);
	plumb_buf_addf(&b, pg.more ? "\"%s\"" : "null", next);
	plumb_buf_addf(&b, ",\"silent_after\":%lld", (long long)s->cfg.silent_after);
	size_t tag_len = b.len; /* everything but the two times below */
	int bad = plumb_buf_addf(&b, ",\"as_of\":\"%s\",\"watermark\":\"%s\"}", t_now, t_w);
	size_t len = 0;
	char *text = bad ? NULL : plumb_buf_detach(&b, &len);
	plumb_buf_release(&b);
	if (!text)
		return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "the host page does not fit in memory");
	return respond_tagged_n(con, "application/json", text, len, fmt == 1 ? "plumb-hosts.json" : NULL,
				tag_len < len ? tag_len : len);
}

static enum MHD_Result handle_get_rollout(struct hub_server *s, struct MHD_Connection *con)
{
	static const char *const known[] = {NULL};
	struct plumb_err e = {0};
	int ok;
	enum MHD_Result pr = check_params(con, known, &ok);
	if (!ok)
		return pr;
	json_t *out = NULL;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_rollout(c, time(NULL), s->cfg.silent_after, &out, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "rollout query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond_json_tagged(con, out, NULL);
}

static enum MHD_Result handle_get_audit(struct hub_server *s, struct MHD_Connection *con, const struct req *q)
{
	static const char *const known[] = {"before", "limit", NULL};
	struct plumb_err e = {0};
	const char *v;
	uint64_t n;
	long long before = 0;
	int ok, limit;
	if (q->role < HUB_ROLE_ADMIN)
		return respond_error(con, MHD_HTTP_FORBIDDEN, "the audit trail is for admin tokens");
	enum MHD_Result pr = check_params(con, known, &ok);
	if (!ok)
		return pr;
	if (parse_limit(con, 100, 1000, &limit) != 0)
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "limit must be an integer from 1 to 1000");
	if ((v = arg(con, "before"))) {
		if (plumb_parse_u64(&n, v, INT64_MAX) != 0)
			return respond_error(con, MHD_HTTP_BAD_REQUEST, "before must be an acknowledgement id");
		before = (long long)n;
	}
	json_t *out = NULL;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_audit(c, before, limit, &out, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "audit query: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	return respond_json(con, MHD_HTTP_OK, out);
}

/* GET /v1/session: who this is (the page asks on load, in a new tab too),
 * and the CSRF token its state-changing requests must carry. */
static enum MHD_Result handle_get_session(struct MHD_Connection *con, const struct req *q)
{
	char t[21] = "";
	if (q->via_session)
		plumb_time_format(t, q->sess_expires);
	return respond_json(con, MHD_HTTP_OK,
			    json_pack("{s:s,s:s,s:b,s:s?,s:s?}", "subject", q->subject, "role", hub_role_name(q->role),
				      "session", q->via_session, "csrf", q->via_session ? q->csrf : NULL, "expires_at",
				      q->via_session ? t : NULL));
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
	if (hub_metrics_render(&s->metrics, counts, hub_committer_commits(s->committer), &b) != 0) {
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

/* Set-Cookie for the session id: HttpOnly (no script reads it), SameSite=
 * Strict (no other site's page sends it), Secure over TLS, Path=/. */
static enum MHD_Result respond_session(struct hub_server *s, struct MHD_Connection *con, unsigned status,
				       json_t *doc, const char *id, time_t max_age)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	char cookie[256];
	json_decref(doc);
	if (!text)
		return respond_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", id,
		 (long long)max_age, s->cfg.tls_cert ? "; Secure" : "");
	conn_answering(con, status);
	add_common_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	enum MHD_Result ret = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	explicit_bzero(cookie, sizeof(cookie));
	return ret;
}

/* POST /v1/session with a viewer, operator or admin token in the
 * Authorization header: a session cookie for the page. */
static enum MHD_Result handle_post_session(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	char id[HUB_SESSION_ID_LEN], csrf[HUB_SESSION_ID_LEN], t[21];
	struct plumb_err e = {0};
	time_t now = time(NULL), ttl = s->cfg.session_ttl ? s->cfg.session_ttl : HUB_SESSION_TTL_DEFAULT;
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_session_open(c, q->token_hash, now, ttl, id, csrf, &e);
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "session: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	plumb_log(PLUMB_LOG_INFO, "auth: session opened for %s:%s (token %.12s), until +%llds", hub_role_name(q->role),
		  q->subject, q->token_hash, (long long)ttl);
	plumb_time_format(t, now + ttl);
	enum MHD_Result ret = respond_session(
		s, con, MHD_HTTP_CREATED,
		json_pack("{s:s,s:s,s:b,s:s,s:s}", "subject", q->subject, "role", hub_role_name(q->role), "session", 1,
			  "csrf", csrf, "expires_at", t),
		id, ttl);
	explicit_bzero(id, sizeof(id));
	return ret;
}

static enum MHD_Result handle_post_logout(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	struct plumb_err e = {0};
	const char *cookie = MHD_lookup_connection_value(con, MHD_COOKIE_KIND, COOKIE_NAME);
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = cookie ? hub_session_close(c, cookie, &e) : 0;
	hub_db_release(s->db, c);
	if (r != 0) {
		plumb_log(PLUMB_LOG_ERROR, "logout: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	plumb_log(PLUMB_LOG_INFO, "auth: session closed by %s:%s", hub_role_name(q->role), q->subject);
	return respond_session(s, con, MHD_HTTP_OK, json_pack("{s:b}", "session", 0), "", 0);
}

/* Writes s into out (cap bytes) for a log line: controls and quotes as
 * \xNN, so a note cannot forge log lines or hide text. */
static void log_quote(char *out, size_t cap, const char *s)
{
	size_t j = 0;
	for (; *s && j + 5 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			j += (size_t)snprintf(out + j, cap - j, "\\x%02x", ch);
		else
			out[j++] = (char)ch;
	}
	out[j] = '\0';
}

/* POST /v1/events/SEQ/ack {"note": "..."}: operators and admins. */
static enum MHD_Result handle_post_ack(struct hub_server *s, struct MHD_Connection *con, struct req *q)
{
	struct plumb_err e = {0};
	json_error_t je;
	char host[HUB_SUBJECT_MAX], resource[512];
	json_t *doc = json_loadb(q->body.data ? q->body.data : "", q->body.len, JSON_REJECT_DUPLICATES, &je);
	const char *note = json_string_value(json_object_get(doc, "note"));
	if (!json_is_object(doc) || json_object_size(doc) != 1 || !note) {
		json_decref(doc);
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "the body must be {\"note\": \"...\"}");
	}
	size_t nl = strlen(note);
	if (nl == 0 || nl > HUB_ACK_NOTE_MAX || nl != json_string_length(json_object_get(doc, "note"))) {
		json_decref(doc);
		return respond_error(con, MHD_HTTP_BAD_REQUEST, "note must be 1 to 1000 bytes of text (no NUL)");
	}
	time_t now = time(NULL);
	struct hub_conn *c = hub_db_acquire(s->db);
	int r = hub_store_ack(c, q->ack_seq, q->subject, hub_role_name(q->role), note, now, host, resource, &e);
	hub_db_release(s->db, c);
	if (r == PLUMB_E_NOTFOUND) {
		json_decref(doc);
		return respond_error(con, MHD_HTTP_NOT_FOUND, "no such event");
	}
	if (r != 0) {
		json_decref(doc);
		plumb_log(PLUMB_LOG_ERROR, "ack: %s", e.msg);
		return respond_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "storage unavailable");
	}
	char qn[4 * HUB_ACK_NOTE_MAX + 8], qh[4 * HUB_SUBJECT_MAX], qr[4 * 512], qs[4 * HUB_SUBJECT_MAX];
	log_quote(qn, sizeof(qn), note);
	log_quote(qh, sizeof(qh), host);
	log_quote(qr, sizeof(qr), resource);
	log_quote(qs, sizeof(qs), q->subject);
	plumb_log(PLUMB_LOG_INFO, "audit: event %lld (host \"%s\", %s) acknowledged by %s:%s: \"%s\"", q->ack_seq, qh, qr,
		  hub_role_name(q->role), qs, qn);
	char t[21];
	plumb_time_format(t, now);
	json_t *ans = json_pack("{s:I,s:{s:s,s:s,s:s}}", "seq", (json_int_t)q->ack_seq, "ack", "by", q->subject, "at", t,
				"note", note);
	json_decref(doc);
	return respond_json(con, MHD_HTTP_OK, ans);
}

/* A request made with the session cookie that changes something must come
 * from the page itself: X-CSRF-Token equal to the session's, and no
 * foreign Origin or Sec-Fetch-Site. Bearer-token requests carry no
 * ambient credential and need neither. Returns NULL or the 403 reason. */
static const char *csrf_refusal(struct hub_server *s, struct MHD_Connection *con, const struct req *q)
{
	(void)s;
	if (!q->via_session)
		return NULL;
	const char *site = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Sec-Fetch-Site");
	if (site && strcmp(site, "same-origin"))
		return "cross-site request refused";
	const char *origin = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Origin");
	const char *hosth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (origin) {
		const char *o = strstr(origin, "://");
		if (!o || !hosth || strcmp(o + 3, hosth))
			return "cross-site request refused (Origin)";
	}
	const char *tok = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-CSRF-Token");
	if (!tok || !hub_session_token_equal(tok, q->csrf))
		return "missing or wrong X-CSRF-Token";
	return NULL;
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
	if (q->role < HUB_ROLE_VIEWER)
		return respond_error(con, MHD_HTTP_FORBIDDEN, "agent tokens may not read");
	if (!strcmp(url, "/metrics"))
		return handle_get_metrics(s, con);
	if (!strcmp(url, "/v1/session"))
		return handle_get_session(con, q);
	if (!strcmp(url, "/v1/hosts"))
		return handle_get_hosts(s, con);
	if (!strcmp(url, "/v1/events"))
		return handle_get_events(s, con);
	if (!strcmp(url, "/v1/events/histogram"))
		return handle_get_histogram(s, con);
	if (!strcmp(url, "/v1/rollout"))
		return handle_get_rollout(s, con);
	if (!strcmp(url, "/v1/audit"))
		return handle_get_audit(s, con, q);
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

/* Which POST this is, and whether it may go on (decided before the body):
 * reports from agents; sessions from page tokens (bearer only); logout and
 * acks from the page (acks: operator or admin), CSRF-checked. */
static void post_verdict(struct hub_server *s, struct MHD_Connection *con, const char *url, struct req *q)
{
	char *end = NULL;
	const char *why;
	if (!strcmp(url, "/v1/reports"))
		q->kind = REQ_REPORT;
	else if (!strcmp(url, "/v1/session"))
		q->kind = REQ_SESSION;
	else if (!strcmp(url, "/v1/logout"))
		q->kind = REQ_LOGOUT;
	else if (!strncmp(url, "/v1/events/", 11) && url[11] >= '1' && url[11] <= '9' &&
		 (q->ack_seq = strtoll(url + 11, &end, 10)) > 0 && end && !strcmp(end, "/ack") &&
		 (size_t)(end - (url + 11)) <= 18)
		q->kind = REQ_ACK;
	else {
		q->status = MHD_HTTP_NOT_FOUND;
		q->reason = "not found";
		return;
	}
	if (q->kind != REQ_REPORT) { /* small bodies only */
		plumb_buf_release(&q->body);
		plumb_buf_init(&q->body, SMALL_BODY_MAX);
	}
	if ((q->status = (int)authenticate(s, con, q)) != 0)
		return;
	if (q->kind == REQ_REPORT && q->role != HUB_ROLE_AGENT) {
		q->status = MHD_HTTP_FORBIDDEN;
		q->reason = "viewer tokens may not write";
	} else if (q->kind != REQ_REPORT && q->role == HUB_ROLE_AGENT) {
		q->status = MHD_HTTP_FORBIDDEN;
		q->reason = "agent tokens may only report";
	} else if (q->kind == REQ_SESSION && q->via_session) {
		q->status = MHD_HTTP_BAD_REQUEST;
		q->reason = "a session is opened with a token in the Authorization header";
	} else if (q->kind == REQ_LOGOUT && !q->via_session) {
		q->status = MHD_HTTP_BAD_REQUEST;
		q->reason = "no session to end (logout uses the session cookie)";
	} else if ((q->kind == REQ_LOGOUT || q->kind == REQ_ACK) && (why = csrf_refusal(s, con, q))) {
		q->status = MHD_HTTP_FORBIDDEN;
		q->reason = why;
	} else if (q->kind == REQ_ACK && q->role < HUB_ROLE_OPERATOR) {
		q->status = MHD_HTTP_FORBIDDEN;
		q->reason = "acknowledging needs an operator or admin token";
	}
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
		post_verdict(s, con, url, q);
		const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t len;
		size_t cap = q->kind == REQ_REPORT ? s->cfg.max_body : SMALL_BODY_MAX;
		if (!q->status && cl && plumb_parse_u64(&len, cl, UINT64_MAX) == 0 && len > cap) {
			q->status = MHD_HTTP_CONTENT_TOO_LARGE;
			q->reason = q->kind == REQ_REPORT ? "report too large" : "body too large";
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
		int hr = q->kind == REQ_REPORT ? host_hold(s, q->subject, (long long)n) : 1, host_over = hr < 0;
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
			q->reason = q->kind == REQ_REPORT ? "report too large" : "body too large";
			q->drained = q->body.len + n;
			plumb_buf_release(&q->body);
			release_held(s, q);
			return MHD_YES;
		}
		return r == 0 ? MHD_YES : MHD_NO;
	}
	if (is_post && q->suspended) { /* resumed: the report's commit ended */
		if (!atomic_load(&q->ing_done))
			return MHD_YES;
		q->suspended = 0;
		enum MHD_Result ret = answer_report(s, con, q);
		release_held(s, q);
		return ret;
	}
	if (is_post) {
		if (q->status)
			return respond_verdict(con, q);
		enum MHD_Result ret;
		switch (q->kind) {
		case REQ_SESSION:
			ret = handle_post_session(s, con, q);
			break;
		case REQ_LOGOUT:
			ret = handle_post_logout(s, con, q);
			break;
		case REQ_ACK:
			ret = handle_post_ack(s, con, q);
			break;
		default:
			ret = handle_post_report(s, con, q);
			break;
		}
		/* The body is handled: its bytes stop counting against the hub's
		 * and the host's bounds now, before the answer goes out. Released
		 * only once the request was done (on_completed), a client that
		 * sends its next report on the answer could find its previous
		 * one still held (a spurious 429 in t0502 under load). A report
		 * waiting for its commit still holds them. */
		if (!q->suspended)
			release_held(s, q);
		return ret;
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
			  addr, q->method, q->path, code,
			  q->subject[0] ? (q->role == HUB_ROLE_AGENT ? "host:" : hub_role_name(q->role)) : "-",
			  q->subject[0] && q->role != HUB_ROLE_AGENT ? ":" : "", q->subject, since_s(&q->start, &now) * 1e3,
			  t == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not completed)");
		slot0->code = 0;
	}
	if (q) {
		release_held(s, q);
		plumb_buf_release(&q->body);
		json_decref(q->doc);
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
		/* the page's counters, refreshed here rather than by a request */
		/* (summary_at decides, under its own lock, whether they are due;
		 * the first tick computes them, before any request asks) */
		{
			struct plumb_err e = {0};
			pthread_mutex_unlock(&s->mu);
			int failed = summary_at(s, time(NULL), NULL, 1, &e) != 0;
			if (failed && !s->sum_failing) /* once per outage, not every second */
				plumb_log(PLUMB_LOG_ERROR, "hosts counters: %s", e.msg);
			s->sum_failing = failed;
			pthread_mutex_lock(&s->mu);
			if (s->stopping)
				break;
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
	pthread_mutex_init(&s->sum_mu, NULL);
	pthread_mutex_init(&s->ing_mu, NULL);
	atomic_init(&s->gen, 0);
	if (!(s->rates = calloc(RATE_SLOTS, sizeof(*s->rates)))) {
		hub_server_stop(s);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	if ((r = hub_committer_start(&s->committer, db, err)) != 0) {
		hub_server_stop(s);
		return r;
	}
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
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
	/* Reports queued or being stored are stored and their connections
	 * resumed (MHD must not stop with a connection suspended); one that
	 * arrives from now on is answered 503. */
	hub_committer_stop(s->committer);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	hub_committer_free(s->committer);
	free(s->rates);
	crls_free(s->crls, s->ncrl);
	pthread_rwlock_destroy(&s->crl_lock);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->rate_mu);
	pthread_mutex_destroy(&s->sum_mu);
	pthread_mutex_destroy(&s->ing_mu);
	free(s->cert);
	free(s->client_ca);
	if (s->key) {
		explicit_bzero(s->key, strlen(s->key));
		free(s->key);
	}
	free(s);
}
