/* fw_nftables.c - owned nftables tables, through libnftables in-process
 * (dlopen'ed on first use: hosts whose baselines have no firewall pay
 * nothing). Canonical form: the table as libnftables itself lists it,
 * stateless (no counters) and without handles. The desired form is
 * obtained by loading the ruleset into a throwaway network namespace, which
 * also validates it before anything live is touched. Repair replaces every
 * owned table in ONE batch: the kernel applies it as one transaction. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "plumb/buf.h"
#include "plumb/firewall.h"
#include "firewall_int.h"
#include "plumb/log.h"
#include "banned.h"

/* The slice of libnftables plumb uses. */
struct nft_ctx;
#define NFT_CTX_DEFAULT 0
#define NFT_CTX_OUTPUT_STATELESS (1 << 2)
static struct {
	void *h;
	struct nft_ctx *(*ctx_new)(uint32_t);
	void (*ctx_free)(struct nft_ctx *);
	void (*set_flags)(struct nft_ctx *, unsigned int);
	int (*buffer_output)(struct nft_ctx *);
	const char *(*get_output)(struct nft_ctx *);
	int (*buffer_error)(struct nft_ctx *);
	const char *(*get_error)(struct nft_ctx *);
	int (*run)(struct nft_ctx *, const char *);
} nft;

static int nft_load(struct plumb_err *err)
{
	if (nft.h != NULL)
		return 0;
	if ((nft.h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL)
		return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "nftables: libnftables.so.1 is not installed (%s)", dlerror());
	*(void **)&nft.ctx_new = dlsym(nft.h, "nft_ctx_new");
	*(void **)&nft.ctx_free = dlsym(nft.h, "nft_ctx_free");
	*(void **)&nft.set_flags = dlsym(nft.h, "nft_ctx_output_set_flags");
	*(void **)&nft.buffer_output = dlsym(nft.h, "nft_ctx_buffer_output");
	*(void **)&nft.get_output = dlsym(nft.h, "nft_ctx_get_output_buffer");
	*(void **)&nft.buffer_error = dlsym(nft.h, "nft_ctx_buffer_error");
	*(void **)&nft.get_error = dlsym(nft.h, "nft_ctx_get_error_buffer");
	*(void **)&nft.run = dlsym(nft.h, "nft_run_cmd_from_buffer");
	if (!nft.ctx_new || !nft.ctx_free || !nft.set_flags || !nft.buffer_output || !nft.get_output ||
	    !nft.buffer_error || !nft.get_error || !nft.run) {
		dlclose(nft.h);
		nft.h = NULL;
		return plumb_err_set(err, PLUMB_E_UNSUPPORTED, "nftables: libnftables.so.1 lacks the expected API");
	}
	return 0;
}

static struct nft_ctx *ctx_open(void)
{
	struct nft_ctx *c = nft.ctx_new(NFT_CTX_DEFAULT);

	if (c == NULL)
		return NULL;
	nft.set_flags(c, NFT_CTX_OUTPUT_STATELESS);   /* no counters; no handles */
	nft.buffer_output(c);
	nft.buffer_error(c);
	return c;
}

/* Runs cmd; on success copies its output to *out (malloc'd, may be NULL). */
static int nft_cmd(struct nft_ctx *c, const char *cmd, char **out, char *errbuf, size_t errlen)
{
	int r = nft.run(c, cmd);

	if (r != 0) {
		const char *e = nft.get_error(c);
		size_t n = e ? strlen(e) : 0;

		while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
			n--;
		snprintf(errbuf, errlen, "%.*s", (int)(n > 900 ? 900 : n), e ? e : "");
		return -1;
	}
	if (out != NULL) {
		/* Once only: fetching the buffer rewinds it. */
		const char *o = nft.get_output(c);

		*out = strdup(o ? o : "");
	}
	return 0;
}

/* --- the desired form, from a throwaway network namespace ----------------- */

/* In the child, in a fresh netns: load the ruleset and report, as JSON,
 * which tables it defines and how each owned one lists. */
static void canonical_child(int wfd, const char *ruleset, const struct plumb_firewall *fw)
{
	json_t *res = json_object(), *tables = json_object(), *defined = json_array();
	struct nft_ctx *c;
	char errbuf[1024], *out = NULL, *text;

	if ((c = ctx_open()) == NULL) {
		json_object_set_new(res, "error", json_string("nftables: cannot create a context"));
	} else {
		if (nft_cmd(c, ruleset, NULL, errbuf, sizeof(errbuf)) != 0) {
			json_object_set_new(res, "error", json_sprintf("the ruleset does not load: %s", errbuf));
		} else if (nft_cmd(c, "list tables", &out, errbuf, sizeof(errbuf)) != 0) {
			json_object_set_new(res, "error", json_sprintf("cannot list tables: %s", errbuf));
		} else {
			for (char *line = out, *next; line && *line; line = next) {
				if ((next = strchr(line, '\n')) != NULL)
					*next++ = '\0';
				if (strncmp(line, "table ", 6) == 0)
					json_array_append_new(defined, json_string(line + 6));
			}
			for (size_t i = 0; i < fw->ntables; i++) {
				char cmd[256], *listing = NULL;

				snprintf(cmd, sizeof(cmd), "list table %s", fw->tables[i]);
				if (nft_cmd(c, cmd, &listing, errbuf, sizeof(errbuf)) == 0)
					json_object_set_new(tables, fw->tables[i], json_string(listing));
				free(listing);
			}
		}
		free(out);
		nft.ctx_free(c);
	}
	json_object_set_new(res, "defined", defined);
	json_object_set_new(res, "tables", tables);
	if ((text = json_dumps(res, JSON_COMPACT)) != NULL) {
		size_t n = strlen(text), off = 0;

		while (off < n) {
			ssize_t w = write(wfd, text + off, n - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	_exit(0);
}

static int nft_restore(const char *batch, struct plumb_err *err)
{
	struct nft_ctx *c;
	char errbuf[1024];
	int r;

	if ((r = nft_load(err)) != 0)
		return r;
	if ((c = ctx_open()) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "nftables: cannot create a context");
	r = nft_cmd(c, batch, NULL, errbuf, sizeof(errbuf)) == 0 ? 0 :
	    plumb_err_set(err, PLUMB_E_IO, "nftables: cannot restore the previous tables: %s", errbuf);
	nft.ctx_free(c);
	return r;
}

static void nft_run(struct plumb_report *rep, const struct plumb_firewall *fw, const char *ruleset, int repair,
		    struct plumb_fw_undo *undo)
{
	json_t *want = NULL, *defined, *tables;
	struct nft_ctx *c = NULL;
	char errbuf[1024], why[1200];
	char **live = NULL;
	unsigned *drift = NULL;
	struct plumb_err e;
	size_t i, ndrift = 0;

	if (nft_load(&e) != 0) {
		plumb_fw_fail_all(rep, fw, e.msg);
		return;
	}
	/* The desired tables, validated before anything live is touched. */
	if ((want = plumb_fw_scratch(canonical_child, ruleset, fw, &e)) == NULL) {
		plumb_fw_fail_all(rep, fw, e.msg);
		goto out;
	}
	if (json_string_value(json_object_get(want, "error")) != NULL) {
		plumb_fw_fail_all(rep, fw, json_string_value(json_object_get(want, "error")));
		goto out;
	}
	defined = json_object_get(want, "defined");
	tables = json_object_get(want, "tables");
	{
		size_t k;
		json_t *t;

		json_array_foreach(defined, k, t) {
			int owned = 0;

			for (i = 0; i < fw->ntables; i++)
				owned |= strcmp(fw->tables[i], json_string_value(t)) == 0;
			if (!owned) {
				snprintf(why, sizeof(why), "the ruleset defines table '%s', which firewall.tables does not own",
					 json_string_value(t));
				plumb_fw_fail_all(rep, fw, why);
				goto out;
			}
		}
		for (i = 0; i < fw->ntables; i++) {
			if (json_object_get(tables, fw->tables[i]) == NULL) {
				snprintf(why, sizeof(why), "owned table '%s' is not defined by the ruleset", fw->tables[i]);
				plumb_fw_fail_all(rep, fw, why);
				goto out;
			}
		}
	}
	if ((c = ctx_open()) == NULL || (live = calloc(fw->ntables, sizeof(*live))) == NULL ||
	    (drift = calloc(fw->ntables, sizeof(*drift))) == NULL) {
		plumb_fw_fail_all(rep, fw, "nftables: cannot create a context");
		goto out;
	}
	for (i = 0; i < fw->ntables; i++) {
		char cmd[256];
		const char *w = json_string_value(json_object_get(tables, fw->tables[i]));

		rep->resources++;
		snprintf(cmd, sizeof(cmd), "list table %s", fw->tables[i]);
		if (nft_cmd(c, cmd, &live[i], errbuf, sizeof(errbuf)) != 0)
			drift[i] = PLUMB_DRIFT_MISSING;      /* "No such file or directory" */
		else if (strcmp(live[i], w) != 0)
			drift[i] = PLUMB_DRIFT_RULES;
		plumb_log(PLUMB_LOG_DEBUG, "nftables: %s: live %zu bytes, desired %zu bytes", fw->tables[i],
			  live[i] ? strlen(live[i]) : 0, strlen(w));
		ndrift += drift[i] != 0;
	}
	if (ndrift > 0 && repair) {
		/* One batch, one transaction: every owned table replaced at once. */
		struct plumb_buf batch;
		int ok;

		plumb_buf_init(&batch, PLUMB_RULESET_MAX * 2);
		for (i = 0; i < fw->ntables; i++)
			plumb_buf_addf(&batch, "add table %s\ndelete table %s\n", fw->tables[i], fw->tables[i]);
		plumb_buf_adds(&batch, ruleset);
		ok = batch.data != NULL && nft_cmd(c, batch.data, NULL, errbuf, sizeof(errbuf)) == 0;
		plumb_buf_release(&batch);
		if (ok && undo != NULL) {
			/* How to put back what was there, for the lock-out guard. */
			struct plumb_buf u;

			plumb_buf_init(&u, PLUMB_NFT_LISTING_MAX);
			for (i = 0; i < fw->ntables; i++)
				plumb_buf_addf(&u, "add table %s\ndelete table %s\n", fw->tables[i], fw->tables[i]);
			for (i = 0; i < fw->ntables; i++)
				if (live[i] != NULL)
					plumb_buf_adds(&u, live[i]);
			free(undo->batch);
			undo->batch = plumb_buf_detach(&u, NULL);
			undo->iptables = 0;
		}
		for (i = 0; i < fw->ntables; i++) {
			const char *w = json_string_value(json_object_get(tables, fw->tables[i]));
			json_t *exp = plumb_fw_listing_state(w, NULL);
			json_t *act = live[i] ? plumb_fw_listing_state(live[i], w) : json_pack("{s:s}", "state", "absent");

			if (!drift[i]) {
				json_decref(exp);
				json_decref(act);
				continue;
			}
			plumb_fw_event(rep, "nftables", fw->tables[i], drift[i], ok ? PLUMB_ACT_REVERTED : PLUMB_ACT_FAILED, exp, act,
				  ok ? NULL : errbuf);
		}
	} else {
		for (i = 0; i < fw->ntables; i++) {
			const char *w = json_string_value(json_object_get(tables, fw->tables[i]));

			if (drift[i])
				plumb_fw_event(rep, "nftables", fw->tables[i], drift[i], PLUMB_ACT_DETECTED, plumb_fw_listing_state(w, NULL),
					  live[i] ? plumb_fw_listing_state(live[i], w) : json_pack("{s:s}", "state", "absent"), NULL);
		}
	}
out:
	for (i = 0; live && i < fw->ntables; i++)
		free(live[i]);
	free(live);
	free(drift);
	if (c)
		nft.ctx_free(c);
	json_decref(want);
}

const struct plumb_fw_ops plumb_fw_nftables = {
	.name = "nftables",
	.run = nft_run,
	.restore = nft_restore,
};
