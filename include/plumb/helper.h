/* helper.h - running plumb's libexec helpers (plumb-send) with an argv
 * array, found beside the running program or in PLUMB_LIBEXECDIR. */
#ifndef PLUMB_HELPER_H
#define PLUMB_HELPER_H

#include "plumb/error.h"

/* Starts the report sender for state_dir (config at cfg_path, or defaults)
 * with a time budget. Returns its pid, or a negative code. With out_fd,
 * its stdout is a pipe returned there; else, with now (plumb deliver), it is
 * ours, and otherwise our stderr, so `plumb check --json` prints only JSON. */
int plumb_helper_send(const char *cfg_path, const char *state_dir, unsigned budget_s, int now, int *out_fd,
		      struct plumb_err *err);

/* Waits for pid at most timeout_s seconds, then kills it. Returns its exit
 * status (0..255), or -1 when it had to be killed or died of a signal. */
int plumb_helper_wait(int pid, unsigned timeout_s);

#endif
