/* alerts.h - plumb-hub's alerts: the receivers file (--alerts), the
 * conditions a host's state raises and clears, a durable outbox in the
 * database written in the ingest's own transaction, and the sender thread
 * that delivers it (Alertmanager v2, a signed JSON webhook, Slack). */
#ifndef PLUMB_HUB_ALERTS_H
#define PLUMB_HUB_ALERTS_H
#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "db.h"
#include "plumb/buf.h"
#include "plumb/error.h"

#define HUB_ALERT_RECEIVERS_MAX 32
#define HUB_ALERT_ROUTES_MAX 128
#define HUB_ALERT_PATTERNS_MAX 16
#define HUB_ALERT_NAME_MAX 64
#define HUB_ALERT_URL_MAX 2048
#define HUB_ALERT_SECRET_MAX 1024
/* Outbox rows past which the oldest undelivered one is dropped (counted). */
#define HUB_ALERT_OUTBOX_DEFAULT 10000
/* Firing alerts are sent again to Alertmanager this often (its default
 * resolve_timeout is 5m). */
#define HUB_ALERT_REPEAT_DEFAULT 60
/* Retries wait 1s, 2s, 4s ... up to this. */
#define HUB_ALERT_BACKOFF_MAX 300
/* A delivery not made within this long is dropped (counted). */
#define HUB_ALERT_GIVEUP_DEFAULT 86400

enum hub_receiver_type { HUB_RCV_ALERTMANAGER, HUB_RCV_WEBHOOK, HUB_RCV_SLACK };

struct hub_receiver {
	char name[HUB_ALERT_NAME_MAX];
	enum hub_receiver_type type;
	char url[HUB_ALERT_URL_MAX];
	char secret[HUB_ALERT_SECRET_MAX]; /* webhook: the HMAC key; never logged */
	size_t secret_len;
	long timeout_ms;
};

/* Statuses an alert can carry (its "status" label and a route's filter). */
#define HUB_ALERT_STATUS_BITS 4 /* drifting, refused, silent, stale */

struct hub_route {
	int receiver;      /* index into receivers */
	unsigned statuses; /* bit per status; 0: any */
	int nhost, nres;
	char *host[HUB_ALERT_PATTERNS_MAX];     /* fnmatch globs; none: any */
	char *resource[HUB_ALERT_PATTERNS_MAX];
};

struct hub_alerts_cfg {
	int nrcv, nroute;
	struct hub_receiver rcv[HUB_ALERT_RECEIVERS_MAX];
	struct hub_route route[HUB_ALERT_ROUTES_MAX];
	long outbox_max;
	long repeat_s;
	long giveup_s;
};

/* Parses the alerts file at path. On error nothing is returned and err
 * says "path:line:col: what". Returns 0, PLUMB_E_PARSE, PLUMB_E_INVALID or
 * PLUMB_E_IO. */
int hub_alerts_cfg_load(struct hub_alerts_cfg **out, const char *path, struct plumb_err *err);
/* The same from text already in memory (secret files are still read). */
int hub_alerts_cfg_parse(struct hub_alerts_cfg **out, const char *name, const char *text, size_t len,
			 struct plumb_err *err);
void hub_alerts_cfg_free(struct hub_alerts_cfg *cfg);

/* Status names, in bit order. Returns the bit index or -1. */
int hub_alert_status_index(const char *s);
extern const char *const hub_alert_statuses[HUB_ALERT_STATUS_BITS];

/* Does route r take an alert with this status, host and resource ("" for
 * host-wide alerts; such an alert passes a resource filter only when the
 * route has none)? */
int hub_route_match(const struct hub_route *r, const char *status, const char *host, const char *resource);

/* The webhook signature: hex HMAC-SHA256 over "<timestamp>.<body>" with
 * the key, into out (65 bytes). Returns 0 or PLUMB_E_INTERNAL. */
int hub_alert_sign(char out[65], const char *key, size_t keylen, const char *timestamp, const char *body,
		   size_t bodylen);

/* ---- the running part (alerts.c, outbox.c) ---- */

/* Installs cfg (taken over; NULL: alerts off) for the ingest hook and the
 * sender. The previous one is freed once no thread uses it. */
void hub_alerts_install(struct hub_alerts_cfg *cfg);

/* Called by hub_store_ingest inside its transaction, after the host's row
 * is updated: raises and clears this host's alerts and writes what changed
 * to the outbox. Returns 0 or PLUMB_E_IO (the ingest rolls back). */
int hub_alerts_ingest(struct hub_conn *c, const json_t *doc, time_t now, struct plumb_err *err);
/* After a commit: wakes the sender when the ingest wrote to the outbox. */
void hub_alerts_kick(void);

/* Starts the sender thread (timer: silent hosts, repeats; delivery with
 * retries). silent_after as the fleet view's. Returns 0 or PLUMB_E_IO. */
int hub_alerts_start(struct hub_db *db, time_t silent_after, struct plumb_err *err);
void hub_alerts_stop(void);

/* Appends the alert series for /metrics (outbox depth read with c). */
int hub_alerts_metrics(struct hub_conn *c, struct plumb_buf *b);
#endif
