/* baseline.h - the desired state: a parsed, validated baseline document
 * (schema in baselines/SCHEMA.md). Parsing never touches the managed root. */
#ifndef PLUMB_BASELINE_H
#define PLUMB_BASELINE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "plumb/error.h"

struct plumb_source;

/* Hard caps. */
#define PLUMB_BASELINE_MAX_FILES 100000
#define PLUMB_CONTENT_MAX (1u << 20)      /* inline content: */
#define PLUMB_SERIAL_MAX 0x7fffffffffffffffULL
#define PLUMB_BASELINE_MAX_SYSCTL 10000
#define PLUMB_SYSCTL_KEY_MAX 200          /* bytes of a key such as net.ipv4.ip_forward */
#define PLUMB_SYSCTL_VALUE_MAX 4000       /* bytes of a desired value */
#define PLUMB_NOTIFY_MAX 16               /* notify: entries per file */
#define PLUMB_NOTIFY_ARGV_MAX 32          /* words of an exec: argv */
#define PLUMB_NOTIFY_TIMEOUT 30           /* seconds a notify: action may take by default */
#define PLUMB_NOTIFY_TIMEOUT_MAX 600
#define PLUMB_UNIT_MAX 255                /* bytes of a systemd unit name */
#define PLUMB_BASELINE_MAX_SERVICES 5000
#define PLUMB_BASELINE_MAX_PACKAGES 20000
#define PLUMB_PACKAGE_NAME_MAX 128
#define PLUMB_BASELINE_MAX_MODULES 5000
#define PLUMB_MODULE_NAME_MAX 64

enum plumb_ftype {
	PLUMB_FT_FILE,
	PLUMB_FT_DIR,
	PLUMB_FT_SYMLINK,
};

/* What a `notify:` entry does after its file was reverted or changed. */
enum plumb_notify_kind {
	PLUMB_NOTIFY_RELOAD,        /* systemctl reload UNIT */
	PLUMB_NOTIFY_RESTART,       /* systemctl restart UNIT */
	PLUMB_NOTIFY_TRY_RESTART,   /* systemctl try-restart UNIT */
	PLUMB_NOTIFY_EXEC,          /* argv, exec'd directly: never a shell */
};

struct plumb_notify_res {
	enum plumb_notify_kind kind;
	char *unit;             /* service:, or NULL for exec: */
	char **argv;            /* exec: NULL-terminated, argv[0] an absolute path */
	size_t argc;
	unsigned timeout_s;     /* killed after this long; default PLUMB_NOTIFY_TIMEOUT */
	size_t line, col;
};

/* One `files:` entry. Unset optional fields are NULL / has_* = 0. */
/* One per managed file, 10,000 of them in a large baseline: the flags are
 * bytes and come last (104 bytes an entry, not 128). path and source live
 * in the baseline's string blocks, not a malloc each. */
struct plumb_file_res {
	char *path;             /* absolute, normalized */
	char *content;          /* inline content (may hold NULs: use content_len) */
	size_t content_len;
	char *source;           /* relative path of a baseline file */
	char *target;           /* symlink target */
	char *owner;            /* name or number, resolved against the root */
	char *group;
	struct plumb_notify_res *notify;   /* run after a revert or a change; may be NULL */
	size_t nnotify;
	size_t line, col;       /* where the entry starts */
	enum plumb_ftype type;
	unsigned mode;          /* permission bits, 07777 */
	unsigned char absent;   /* state: absent */
	unsigned char has_content;
	unsigned char has_mode;
	unsigned char sensitive;   /* marked `sensitive: true` */
	unsigned char warn;     /* `enforce: warn`: report, never repair */
	unsigned char purge;    /* type: directory, `purge: true`: entries not named are drift */
};

/* One `sysctl:` entry: a kernel parameter of the agent's namespaces. */
struct plumb_sysctl_res {
	char *key;              /* dotted, [a-z0-9_.-] only: net.ipv4.ip_forward */
	char *value;            /* as written; compared whitespace-normalized */
	int sensitive;
	int warn;
	size_t line, col;
};

struct plumb_firewall {
	char *backend;          /* "nftables" or "iptables" */
	char **tables;
	size_t ntables;
	char *ruleset;          /* relative path of a baseline file */
	size_t line, col;
};

enum plumb_unit_state {
	PLUMB_UNIT_ENABLED,
	PLUMB_UNIT_DISABLED,
	PLUMB_UNIT_MASKED,
};

/* One `services:` entry: a systemd unit's enablement in the root, and
 * optionally whether it runs (checked only where systemd is reachable). */
struct plumb_service_res {
	char *unit;
	enum plumb_unit_state state;
	int has_running;
	int running;
	int sensitive;          /* reports carry drift kinds only, no states */
	int warn;
	size_t line, col;
};

/* One `packages:` entry: a Debian package in the root's dpkg database. */
struct plumb_package_res {
	char *name;             /* Debian policy: [a-z0-9][a-z0-9+.-]+ */
	int absent;             /* state: absent (else present) */
	int sensitive;          /* reports carry drift kinds only, no states */
	int warn;
	size_t line, col;
};

/* One `modules:` entry: a kernel module loaded, or not. */
struct plumb_module_res {
	char *name;             /* [a-z0-9_-]; '-' and '_' are the same to the kernel */
	int loaded;
	int sensitive;          /* reports carry drift kinds only, no states */
	int warn;
	size_t line, col;
};

struct plumb_strblock;

struct plumb_baseline {
	char *name;             /* for messages */
	struct plumb_strblock *strs;   /* the files' path and source strings */
	uint64_t version;
	int has_serial;
	uint64_t serial;
	int has_expires;
	time_t expires;
	struct plumb_file_res *files;   /* sorted by path */
	size_t nfiles;
	struct plumb_firewall *firewall;  /* NULL if absent */
	struct plumb_sysctl_res *sysctl;  /* sorted by key */
	size_t nsysctl;
	struct plumb_service_res *services;  /* sorted by unit */
	size_t nservices;
	struct plumb_package_res *packages;  /* sorted by name */
	size_t npackages;
	struct plumb_module_res *modules;    /* sorted by name, '-' written as '_' */
	size_t nmodules;
};

/* Parses and validates a baseline document. Errors name name:line:col.
 * Returns 0 or PLUMB_E_PARSE / PLUMB_E_INVALID / PLUMB_E_NOMEM. */
int plumb_baseline_parse(struct plumb_baseline **out, const char *name,
			 const void *data, size_t len, struct plumb_err *err);

/* Checks that every `source:` (and the firewall ruleset) names a regular
 * file of src. Returns 0 or the first failure, naming its line:col. */
int plumb_baseline_check_sources(const struct plumb_baseline *b, struct plumb_source *src,
				 struct plumb_err *err);

/* Frees a baseline. Accepts NULL. */
void plumb_baseline_free(struct plumb_baseline *b);

#endif
