/* fw_common.c - what both firewall backends (fw_nftables.c, fw_iptables.c)
 * share: the ruleset read from the baseline's source, events on
 * "firewall:<backend>:<table>", a listing's state for the report, and the
 * ruleset check in a throwaway network namespace. Imports no backend. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "plumb/buf.h"
#include "plumb/diff.h"
#include "plumb/firewall.h"
#include "firewall_int.h"
#include "plumb/hash.h"
#include "plumb/helper.h"
#include "plumb/log.h"
#include "plumb/source.h"
#include "banned.h"

struct scratch {
	void (*child)(int wfd, const char *ruleset, const struct plumb_firewall *fw);
	const char *ruleset;
	const struct plumb_firewall *fw;
};

/* In the forked child: a network namespace of its own, then the check. */
static void scratch_main(void *arg, int wfd)
{
	const struct scratch *s = arg;

	if (unshare(CLONE_NEWNET) != 0) {
		static const char msg[] = "{\"error\": \"cannot create a network namespace to validate the ruleset\"}";

		(void)!write(wfd, msg, sizeof(msg) - 1);
		_exit(0);
	}
	s->child(wfd, s->ruleset, s->fw);
}

json_t *plumb_fw_scratch(void (*child)(int wfd, const char *ruleset, const struct plumb_firewall *fw),
			 const char *ruleset, const struct plumb_firewall *fw, struct plumb_err *err)
{
	struct scratch s = {child, ruleset, fw};
	struct plumb_buf b;
	struct plumb_helper_spec sp = {.fn = scratch_main, .arg = &s, .name = "the ruleset check", .out = &b,
				       .timeout_ms = 20 * 1000};
	struct plumb_err e;
	json_t *j = NULL;

	plumb_buf_init(&b, PLUMB_NFT_LISTING_MAX);
	if (plumb_helper_spawn(&sp, &e) < 0)
		plumb_log(PLUMB_LOG_WARN, "%s", e.msg);
	if (b.data == NULL || (j = json_loadb(b.data, b.len, 0, NULL)) == NULL)
		plumb_err_set(err, PLUMB_E_INTERNAL, "nftables: the ruleset check ended without an answer");
	plumb_buf_release(&b);
	return j;
}

json_t *plumb_fw_listing_state(const char *text, const char *against)
{
	char hex[PLUMB_SHA256_HEX];
	json_t *o = json_object();

	plumb_sha256_mem_hex(hex, text, strlen(text));
	json_object_set_new(o, "size", json_integer((json_int_t)strlen(text)));
	json_object_set_new(o, "sha256", json_string(hex));
	if (against != NULL) {
		char *d = plumb_text_diff(against, strlen(against), text, strlen(text), PLUMB_DIFF_OUTPUT_MAX);

		if (d != NULL)
			json_object_set_new(o, "diff", json_string(d));
		free(d);
	}
	return o;
}

int plumb_fw_event(struct plumb_report *rep, const char *backend, const char *table, unsigned drift,
		   enum plumb_action a, json_t *expected, json_t *actual, const char *error)
{
	char id[300];

	snprintf(id, sizeof(id), "firewall:%s:%s", backend, table);
	if (a == PLUMB_ACT_FAILED)
		rep->failed++;
	else
		rep->drifted++;
	if (a == PLUMB_ACT_REVERTED)
		rep->reverted++;
	return plumb_report_event(rep, id, drift, a, expected, actual, error);
}

void plumb_fw_fail_all(struct plumb_report *rep, const struct plumb_firewall *fw, const char *why)
{
	for (size_t i = 0; i < fw->ntables; i++) {
		rep->resources++;
		plumb_fw_event(rep, fw->backend, fw->tables[i], 0, PLUMB_ACT_FAILED, NULL, NULL, why);
	}
}

char *plumb_fw_load_ruleset(struct plumb_source *src, const char *rel, struct plumb_err *err)
{
	struct plumb_blob *b;
	char *t = NULL;

	if (plumb_source_blob_open(src, &b, rel, err) != 0)
		return NULL;
	if (b->size > PLUMB_RULESET_MAX) {
		plumb_err_set(err, PLUMB_E_TOOBIG, "ruleset '%s' is larger than %u bytes", rel, PLUMB_RULESET_MAX);
	} else if ((t = malloc((size_t)b->size + 1)) != NULL) {
		if (plumb_blob_pread(b, t, (size_t)b->size, 0) != (long)b->size) {
			plumb_err_set(err, PLUMB_E_IO, "cannot read ruleset '%s'", rel);
			free(t);
			t = NULL;
		} else {
			t[b->size] = '\0';
			if (strlen(t) != b->size) {
				plumb_err_set(err, PLUMB_E_INVALID, "ruleset '%s' contains a NUL byte", rel);
				free(t);
				t = NULL;
			}
		}
	}
	plumb_blob_free(b);
	return t;
}

void plumb_fw_undo_release(struct plumb_fw_undo *undo)
{
	if (undo == NULL)
		return;
	free(undo->batch);
	undo->batch = NULL;
}
