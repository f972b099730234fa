/* notify.h - readiness and watchdog pings to a service manager, in systemd's
 * NOTIFY_SOCKET datagram protocol spoken directly (no libsystemd needed).
 * Without NOTIFY_SOCKET every call is a harmless no-op. */
#ifndef PLUMB_NOTIFY_H
#define PLUMB_NOTIFY_H

#include <stdint.h>

/* Sends msg ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."). Returns 0
 * when sent, 1 when no manager listens, or a negative code. */
int plumb_notify(const char *msg);

/* The watchdog interval the manager asked for (WATCHDOG_USEC, for this
 * process per WATCHDOG_PID), in microseconds; 0 when none. */
uint64_t plumb_notify_watchdog_usec(void);

#endif
