/* alerts_int.h - what alerts.c and outbox.c share inside the hub. */
#ifndef PLUMB_HUB_ALERTS_INT_H
#define PLUMB_HUB_ALERTS_INT_H
#include "alerts.h"

/* Longest summary an alert carries. */
#define HUB_ALERT_SUMMARY_MAX 512

struct alert_key {
	const char *host, *alertname, *resource, *status, *summary;
};

/* The configuration in force, read-locked (NULL: alerts off, nothing
 * held); alerts_cfg_put releases a non-NULL one. */
struct hub_alerts_cfg *alerts_cfg_get(void);
void alerts_cfg_put(void);

/* Writes the deliveries of one transition (firing, or resolved at ends)
 * to every receiver the routes give it (repeat_only: Alertmanager ones
 * only), inside the caller's transaction. Returns 0 or PLUMB_E_IO. */
int alerts_enqueue(struct hub_conn *c, const struct hub_alerts_cfg *cfg, const struct alert_key *k, int firing,
		   time_t starts, time_t ends, int repeat_only, time_t now, struct plumb_err *err);

/* The status label of an alertname. */
const char *alert_status_of(const char *alertname);

/* Raises silent hosts' alerts and claims repeats due. Returns 1 when it
 * wrote to the outbox. */
int alerts_timer(struct hub_db *db, time_t now, time_t silent_after);

/* Wakes the sender thread (outbox.c). */
void alerts_sender_wake(void);
#endif
