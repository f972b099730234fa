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

struct hub_server_cfg {
	const char *listen;      /* "ADDR:PORT" or "[ADDR]:PORT"; port 0 picks one */
	const char *tls_cert;    /* PEM files; both or neither */
	const char *tls_key;
	const char *tls_client_ca; /* PEM: client certificates it signs identify hosts */
	size_t max_body;         /* larger reports get 413 */
	time_t silent_after;     /* seconds without a report before a host is silent */
	unsigned threads;        /* worker threads */
};

struct hub_server;

/* Starts serving in background threads. Returns 0, PLUMB_E_INVALID (bad
 * listen address), PLUMB_E_IO (cannot bind, cannot read the TLS files). */
int hub_server_start(struct hub_server **out, struct hub_db *db, const struct hub_server_cfg *cfg,
		     struct plumb_err *err);
/* The bound port (useful with port 0). */
unsigned hub_server_port(const struct hub_server *s);
void hub_server_stop(struct hub_server *s);
#endif
