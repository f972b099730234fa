/* confcheck.c - what `plumb check-config` adds to parsing the configuration:
 * every file it names is opened and judged as the agent will use it. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/config.h"
#include "plumb/log.h"
#include "plumb/signers.h"
#include "banned.h"

enum { FILE_PLAIN, FILE_SECRET };

/* Opens path as the agent would (following symlinks: secret mounts are
 * symlinks) and judges the open file. */
static int check_file(const char *key, const char *path, int kind, unsigned *warnings, struct plumb_err *err)
{
	struct stat st;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT && kind == FILE_SECRET) {
			/* containers mount secrets at run time: not an error here */
			plumb_log(PLUMB_LOG_WARN, "%s '%s' does not exist (yet?): the agent needs it at run time", key, path);
			(*warnings)++;
			return 0;
		}
		return plumb_err_errno(err, errno == ENOENT ? PLUMB_E_NOTFOUND : PLUMB_E_IO, errno, "%s: cannot open '%s'",
				       key, path);
	}
	if (fstat(fd, &st) != 0)
		r = plumb_err_errno(err, PLUMB_E_IO, errno, "%s: cannot stat '%s'", key, path);
	else if (!S_ISREG(st.st_mode))
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: '%s' is not a regular file", key, path);
	else if (kind == FILE_SECRET && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		r = plumb_err_set(err, PLUMB_E_UNSAFE, "%s: '%s' is open to group or others (mode %04o): chmod 0600 it",
				  key, path, (unsigned)(st.st_mode & 07777));
	else if (st.st_size == 0)
		r = plumb_err_set(err, PLUMB_E_INVALID, "%s: '%s' is empty", key, path);
	close(fd);
	return r;
}

int plumb_config_check_files(const struct plumb_config *cfg, unsigned *warnings, struct plumb_err *err)
{
	static const struct {
		const char *key;
		size_t off;
		int kind;
	} files[] = {
		{"source.ca_file", offsetof(struct plumb_config, source_ca_file), FILE_PLAIN},
		{"source.ssh_key", offsetof(struct plumb_config, source_ssh_key), FILE_SECRET},
		{"report.token_file", offsetof(struct plumb_config, report_token_file), FILE_SECRET},
		{"report.ca_file", offsetof(struct plumb_config, report_ca_file), FILE_PLAIN},
		{"report.cert_file", offsetof(struct plumb_config, report_cert_file), FILE_PLAIN},
		{"report.key_file", offsetof(struct plumb_config, report_key_file), FILE_SECRET},
	};
	struct plumb_signers *s = NULL;
	int r;

	*warnings = 0;
	if (cfg->source_url != NULL && cfg->source_allowed_signers == NULL)
		return plumb_err_set(err, PLUMB_E_INVALID, "source.allowed_signers is required with source.url");
	if (cfg->source_allowed_signers != NULL) {
		/* loads it as every run will: skipped lines are warned about with file:line */
		if ((r = plumb_signers_load(&s, cfg->source_allowed_signers, err)) != 0)
			return r;
		*warnings += (unsigned)s->nskipped;
		plumb_signers_free(s);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = *(char *const *)((const char *)cfg + files[i].off);

		if (path != NULL && (r = check_file(files[i].key, path, files[i].kind, warnings, err)) != 0)
			return r;
	}
	return 0;
}
