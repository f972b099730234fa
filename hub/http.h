/* http.h - plumb-hub's HTTP(S) face (libmicrohttpd): the report intake, the
 * read API, and the SRE web page, with bearer-token roles on every route. */
#ifndef PLUMB_HUB_HTTP_H
#define PLUMB_HUB_HTTP_H
#include <stddef.h>
#include <time.h>
#include "db.h"

/* Default and hard cap of a report body. */
#define HUB_BODY_DEFAULT (4u << 20)
#define HUB_BODY_MAX (64u << 20)

/* Defaults of the limits below (plumb-hub(8) documents each). */
#define HUB_SKEW_DEFAULT 300                 /* seconds finished_at may run ahead */
#define HUB_INFLIGHT_DEFAULT (64u << 20)     /* request bytes buffered hub-wide */
#define HUB_RECV_TIMEOUT_DEFAULT 60          /* seconds to receive one request */
#define HUB_HOST_RATE_DEFAULT (32u << 20)    /* report bytes per host per minute */
#define HUB_HOST_QUOTA_DEFAULT (256ull << 20) /* report bytes a host keeps stored */
#define HUB_CONNECTIONS_MAX 1024u
#define HUB_PER_IP_DEFAULT 256u
/* One host may have this many largest bodies buffered at once (429 past it). */
#define HUB_HOST_INFLIGHT_FACTOR 2

struct hub_server_cfg {
	const char *listen;      /* "ADDR:PORT" or "[ADDR]:PORT"; port 0 picks one */
	const char *tls_cert;    /* PEM files; both or neither */
	const char *tls_key;
	const char *tls_client_ca; /* PEM: client certificates it signs identify hosts */
	const char *tls_crl;     /* PEM CRLs (signed by tls_client_ca) revoking client certificates */
	size_t max_body;         /* larger reports get 413 */
	time_t silent_after;     /* seconds without a report before a host is silent */
	unsigned threads;        /* worker threads */
	time_t max_skew;         /* finished_at at most this far ahead of the hub's clock */
	time_t retain;           /* finished_at older than this is refused */
	size_t max_string;       /* longest string in a report (but a diff) */
	size_t max_events;       /* most events in one report */
	size_t max_inflight;     /* request body bytes buffered at once, hub-wide: past it, 503 */
	time_t recv_timeout;     /* seconds to receive a whole request, headers and body */
	unsigned long long host_rate;  /* report bytes per host per minute (0: no limit): past it, 429 */
	unsigned long long host_quota; /* report bytes a host keeps stored (0: no limit): past it, 429 */
	unsigned per_ip;         /* connections one address may hold (0: HUB_PER_IP_DEFAULT) */
	time_t session_ttl;      /* a page session's lifetime (0: HUB_SESSION_TTL_DEFAULT) */
};

struct hub_server;

/* Starts serving in background threads. Returns 0, PLUMB_E_INVALID (bad
 * listen address), PLUMB_E_IO (cannot bind, cannot read the TLS files). */
int hub_server_start(struct hub_server **out, struct hub_db *db, const struct hub_server_cfg *cfg,
		     struct plumb_err *err);
/* The bound port (useful with port 0). */
unsigned hub_server_port(const struct hub_server *s);
void hub_server_stop(struct hub_server *s);
/* SIGHUP: reads --tls-crl again. Returns 0, or PLUMB_E_IO / PLUMB_E_INVALID
 * with the CRLs in force unchanged. */
int hub_server_reload(struct hub_server *s, struct plumb_err *err);
#endif
