/* fw_iptables.c - the iptables backend, for hosts without nftables: the
 * host's own iptables-save/iptables-restore (legacy or nft variant, as the
 * host's alternatives choose), exec'd with argv arrays, never a shell.
 * Same shape as nftables: the desired form from a scratch network namespace,
 * comments and counters normalized away, the owned tables replaced by one
 * iptables-restore (each table is committed atomically). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plumb/buf.h"
#include "plumb/firewall.h"
#include "plumb/helper.h"
#include "plumb/log.h"
#include "firewall_int.h"
#include "banned.h"

#define IPT_TIMEOUT 30

static const char *find_tool(const char *name)
{
	static char path[2][64];
	static const char *dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
	int k = strcmp(name, "iptables-save") == 0 ? 0 : 1;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path[k], sizeof(path[k]), "%s/%s", dirs[i], name);
		if (access(path[k], X_OK) == 0)
			return path[k];
	}
	return NULL;
}

/* Runs argv (argv[0] a tool name) with in on stdin; stdout into *out.
 * Returns the exit status, or -1 (errbuf says why). */
static int run_tool(const char *const argv[], const char *in, char **out, char *errbuf, size_t errlen)
{
	const char *path = find_tool(argv[0]), *v[16];
	struct plumb_buf ob, eb;
	struct plumb_err e;
	size_t k;
	int st;

	if (out)
		*out = NULL;
	if (path == NULL) {
		snprintf(errbuf, errlen, "%s is not installed", argv[0]);
		return -1;
	}
	for (k = 0; argv[k] != NULL && k + 1 < sizeof(v) / sizeof(v[0]); k++)
		v[k] = k == 0 ? path : argv[k];
	v[k] = NULL;
	plumb_buf_init(&ob, PLUMB_NFT_LISTING_MAX);
	plumb_buf_init(&eb, 4096);
	{
		struct plumb_helper_spec sp = {.argv = v, .in = in, .inlen = in ? strlen(in) : 0, .out = &ob,
					       .errout = &eb, .timeout_ms = IPT_TIMEOUT * 1000};

		st = plumb_helper_spawn(&sp, &e);
	}
	if (st != 0) {
		size_t n = eb.len;

		while (n > 0 && (eb.data[n - 1] == '\n' || eb.data[n - 1] == ' '))
			n--;
		if (st < 0)
			snprintf(errbuf, errlen, "%s", e.msg);
		else
			snprintf(errbuf, errlen, "%s failed: %.*s", argv[0], (int)(n > 800 ? 800 : n), eb.data ? eb.data : "");
		plumb_buf_release(&ob);
		plumb_buf_release(&eb);
		return st > 0 && st < 256 ? st : -1;
	}
	plumb_buf_release(&eb);
	if (out)
		*out = plumb_buf_detach(&ob, NULL);
	else
		plumb_buf_release(&ob);
	return 0;
}

char *plumb_ipt_normalize(const char *save)
{
	struct plumb_buf b;

	/* "[n:m]" becomes "[0:0]": a line can grow by a few bytes, never double */
	plumb_buf_init(&b, strlen(save) * 2 + 64);
	for (const char *line = save; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > 0 && line[0] == '#') {
			/* comments carry timestamps: not state */
		} else if (len > 0 && line[0] == ':' && line[len - 1] == ']' && memchr(line, '[', len)) {
			const char *br = (const char *)memrchr(line, '[', len);

			plumb_buf_add(&b, line, (size_t)(br - line));
			plumb_buf_adds(&b, "[0:0]\n");
		} else if (len > 0) {
			plumb_buf_add(&b, line, len);
			plumb_buf_adds(&b, "\n");
		}
		line += len + (nl ? 1 : 0);
	}
	return plumb_buf_detach(&b, NULL);
}

int plumb_ipt_tables(const char *ruleset, char ***out, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	for (const char *line = ruleset; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > 1 && line[0] == '*') {
			char **nv;

			if (len - 1 > 32)
				goto bad;
			for (size_t i = 1; i < len; i++)
				if (!((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_'))
					goto bad;
			for (size_t i = 0; i < cnt; i++)
				if (strlen(v[i]) == len - 1 && memcmp(v[i], line + 1, len - 1) == 0)
					goto bad;
			if ((nv = reallocarray(v, cnt + 1, sizeof(*nv))) == NULL)
				goto nomem;
			v = nv;
			if ((v[cnt] = strndup(line + 1, len - 1)) == NULL)
				goto nomem;
			cnt++;
		}
		line += len + (nl ? 1 : 0);
	}
	*out = v;
	*n = cnt;
	return 0;
bad:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return PLUMB_E_PARSE;
nomem:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return PLUMB_E_NOMEM;
}

/* In the child, in a fresh netns: restore the ruleset, save the owned tables. */
static void scratch_child(int wfd, const char *ruleset, const struct plumb_firewall *fw)
{
	json_t *res = json_object(), *tables = json_object();
	const char *restore[] = {"iptables-restore", NULL};
	char errbuf[1024] = "", *text;

	if (run_tool(restore, ruleset, NULL, errbuf, sizeof(errbuf)) != 0) {
		json_object_set_new(res, "error", json_sprintf("the ruleset does not load: %s", errbuf));
	} else {
		for (size_t i = 0; i < fw->ntables; i++) {
			const char *save[] = {"iptables-save", "-t", fw->tables[i], NULL};
			char *out = NULL, *norm;

			errbuf[0] = '\0';
			if (run_tool(save, NULL, &out, errbuf, sizeof(errbuf)) == 0 && (norm = plumb_ipt_normalize(out))) {
				json_object_set_new(tables, fw->tables[i], json_string(norm));
				free(norm);
			}
			free(out);
		}
	}
	json_object_set_new(res, "tables", tables);
	if ((text = json_dumps(res, JSON_COMPACT)) != NULL)
		(void)!write(wfd, text, strlen(text));
}

static int ipt_restore(const char *batch, struct plumb_err *err)
{
	const char *restore[] = {"iptables-restore", NULL};
	char errbuf[1024] = "";

	if (run_tool(restore, batch, NULL, errbuf, sizeof(errbuf)) != 0)
		return plumb_err_set(err, PLUMB_E_IO, "iptables: cannot restore the previous tables: %s", errbuf);
	return 0;
}

static void ipt_run(struct plumb_report *rep, const struct plumb_firewall *fw, const char *ruleset,
			   int repair, struct plumb_fw_undo *undo)
{
	char **defined = NULL, errbuf[1024], why[1200], **live = NULL;
	unsigned *drift = NULL;
	json_t *want = NULL, *tables;
	struct plumb_err e;
	size_t ndef = 0, i, ndrift = 0;

	if (plumb_ipt_tables(ruleset, &defined, &ndef) != 0) {
		plumb_fw_fail_all(rep, fw, "the ruleset names a table twice or has a bad table name");
		return;
	}
	for (i = 0; i < ndef; i++) {
		int owned = 0;

		for (size_t k = 0; k < fw->ntables; k++)
			owned |= strcmp(fw->tables[k], defined[i]) == 0;
		if (!owned) {
			snprintf(why, sizeof(why), "the ruleset defines table '%s', which firewall.tables does not own", defined[i]);
			plumb_fw_fail_all(rep, fw, why);
			goto out;
		}
	}
	for (i = 0; i < fw->ntables; i++) {
		int def = 0;

		for (size_t k = 0; k < ndef; k++)
			def |= strcmp(fw->tables[i], defined[k]) == 0;
		if (!def) {
			snprintf(why, sizeof(why), "owned table '%s' is not defined by the ruleset", fw->tables[i]);
			plumb_fw_fail_all(rep, fw, why);
			goto out;
		}
	}
	if ((want = plumb_fw_scratch(scratch_child, ruleset, fw, &e)) == NULL) {
		plumb_fw_fail_all(rep, fw, e.msg);
		goto out;
	}
	if (json_string_value(json_object_get(want, "error")) != NULL) {
		plumb_fw_fail_all(rep, fw, json_string_value(json_object_get(want, "error")));
		goto out;
	}
	tables = json_object_get(want, "tables");
	if ((live = calloc(fw->ntables, sizeof(*live))) == NULL || (drift = calloc(fw->ntables, sizeof(*drift))) == NULL)
		goto out;
	for (i = 0; i < fw->ntables; i++) {
		const char *save[] = {"iptables-save", "-t", fw->tables[i], NULL};
		const char *w = json_string_value(json_object_get(tables, fw->tables[i]));
		char *out = NULL;

		rep->resources++;
		if (w == NULL) {
			plumb_fw_event(rep, "iptables", fw->tables[i], 0, PLUMB_ACT_FAILED, NULL, NULL,
				       "cannot list the table as the ruleset defines it");
			continue;
		}
		errbuf[0] = '\0';
		if (run_tool(save, NULL, &out, errbuf, sizeof(errbuf)) != 0) {
			plumb_fw_event(rep, "iptables", fw->tables[i], 0, PLUMB_ACT_FAILED, NULL, NULL, errbuf);
			continue;
		}
		live[i] = plumb_ipt_normalize(out);
		free(out);
		if (live[i] != NULL && strcmp(live[i], w) != 0) {
			drift[i] = PLUMB_DRIFT_RULES;
			ndrift++;
		}
	}
	if (ndrift > 0) {
		const char *restore[] = {"iptables-restore", NULL};
		int ok = 0;

		if (repair) {
			errbuf[0] = '\0';
			ok = run_tool(restore, ruleset, NULL, errbuf, sizeof(errbuf)) == 0;
			if (ok && undo != NULL) {
				struct plumb_buf u;

				plumb_buf_init(&u, PLUMB_NFT_LISTING_MAX);
				for (i = 0; i < fw->ntables; i++)
					if (live[i] != NULL)
						plumb_buf_adds(&u, live[i]);
				free(undo->batch);
				undo->batch = plumb_buf_detach(&u, NULL);
				undo->iptables = 1;
			}
		}
		for (i = 0; i < fw->ntables; i++) {
			const char *w = json_string_value(json_object_get(tables, fw->tables[i]));

			if (!drift[i])
				continue;
			plumb_fw_event(rep, "iptables", fw->tables[i], drift[i],
				       !repair ? PLUMB_ACT_DETECTED : ok ? PLUMB_ACT_REVERTED : PLUMB_ACT_FAILED,
				       plumb_fw_listing_state(w, NULL), plumb_fw_listing_state(live[i], w),
				       repair && !ok ? errbuf : NULL);
		}
	}
out:
	for (i = 0; i < ndef; i++)
		free(defined[i]);
	free(defined);
	for (i = 0; live && i < fw->ntables; i++)
		free(live[i]);
	free(live);
	free(drift);
	json_decref(want);
}

const struct plumb_fw_ops plumb_fw_iptables = {
	.name = "iptables",
	.run = ipt_run,
	.restore = ipt_restore,
};
