/* engine.c - the resource loop shared by plumb and plumbd.
 * Inspection is read-only and runs on worker threads; every write happens
 * on the calling thread, in path order, so parents precede children. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plumb/engine.h"
#include "plumb/files.h"
#include "plumb/firewall.h"
#include "plumb/fs.h"
#include "plumb/journal.h"
#include "plumb/log.h"
#include "plumb/module.h"
#include "plumb/notify_run.h"
#include "plumb/package.h"
#include "plumb/path.h"
#include "plumb/service.h"
#include "plumb/source.h"
#include "plumb/sysctl.h"
#include "plumb/users.h"
#include "banned.h"

struct pool {
	struct plumb_file_job *jobs;
	size_t n;
	size_t next;          /* taken atomically */
	int rootfd;
	struct plumb_source *src;
};

/* Jobs taken at a time: runs of sorted paths share parent directories. */
#define BATCH 32

static void *worker(void *arg)
{
	struct plumb_dircache dc = PLUMB_DIRCACHE_INIT;
	struct pool *p = arg;

	for (;;) {
		size_t i = __atomic_fetch_add(&p->next, BATCH, __ATOMIC_RELAXED);

		if (i >= p->n)
			break;
		for (size_t end = i + BATCH < p->n ? i + BATCH : p->n; i < end; i++)
			if (p->jobs[i].error == NULL && !p->jobs[i].skip)
				plumb_file_inspect(&p->jobs[i], p->rootfd, p->src, &dc);
	}
	plumb_dircache_release(&dc);
	return NULL;
}

static void inspect_all(struct pool *p, int threads)
{
	pthread_t tids[PLUMB_ENGINE_MAX_THREADS];
	int started = 0;

	if (threads <= 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		threads = ncpu > 0 ? (int)ncpu : 1;
	}
	if (threads > PLUMB_ENGINE_MAX_THREADS)
		threads = PLUMB_ENGINE_MAX_THREADS;
	if ((size_t)threads > p->n / 32 + 1)     /* small baselines: not worth a thread */
		threads = (int)(p->n / 32 + 1);
	for (int i = 1; i < threads; i++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&tids[started], &attr, worker, p) == 0)
			started++;
		pthread_attr_destroy(&attr);
	}
	worker(p);   /* the calling thread works too */
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
}

struct temp_keep {
	const struct plumb_baseline *b;
	const char *dir;           /* the directory's path, not NUL-terminated */
	size_t len;
};

/* Whether dir/name is itself a managed path: then it is not plumb's temp. */
static int is_managed_name(void *vctx, const char *name)
{
	const struct temp_keep *k = vctx;
	size_t lo = 0, hi = k->b->nfiles, nlen = strlen(name);
	char path[PLUMB_PATH_MAX + 2];

	if (k->len + 1 + nlen >= sizeof(path))
		return 0;
	memcpy(path, k->dir, k->len);
	path[k->len] = '/';
	memcpy(path + k->len + 1, name, nlen + 1);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(k->b->files[mid].path, path);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Sweeps plumb's temp files from every directory holding a managed path,
 * once per directory (paths are sorted, so they come together). */
static void clean_temps(const struct plumb_file_job *jobs, size_t n, const struct plumb_baseline *b, int rootfd)
{
	const char *prev = NULL;
	size_t prevlen = 0;

	for (size_t i = 0; i < n; i++) {
		const char *path = jobs[i].res->path;
		size_t len = (size_t)(strrchr(path, '/') - path);
		struct temp_keep keep = {b, path, len};
		const char *base;
		int dfd, k;

		if (prev && len == prevlen && memcmp(prev, path, len) == 0)
			continue;
		prev = path;
		prevlen = len;
		if (plumb_fs_open_parent(&dfd, &base, rootfd, path, 0, NULL) != 0)
			continue;
		if ((k = plumb_fs_clean_temps(dfd, is_managed_name, &keep)) > 0)
			plumb_log(PLUMB_LOG_INFO, "removed %d temporary file%s left in '%.*s' by an interrupted run", k,
				  k > 1 ? "s" : "", (int)len, path);
		close(dfd);
	}
}

static int add_event(struct plumb_report *rep, struct plumb_event *ev, struct plumb_err *err)
{
	if (plumb_report_add(rep, ev) != 0)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	return 0;
}

static char *resource_id(const char *path)
{
	size_t n = strlen(path);
	char *s = malloc(n + 6);

	if (s != NULL) {
		memcpy(s, "file:", 5);
		memcpy(s + 5, path, n + 1);
	}
	return s;
}


/* Whether rootfd is this machine's own root directory (--root / or none). */
static int is_host_root(int rootfd)
{
	struct stat a, h;

	return fstat(rootfd, &a) == 0 && stat("/", &h) == 0 && a.st_dev == h.st_dev && a.st_ino == h.st_ino;
}

/* Files of one chunk (ENGINE_CHUNK of those selected, in path order):
 * inspected in threads, their events added, the repairs journaled in one
 * fsync before the first write and made; the files reverted that have
 * notify: actions are added to changed. Jobs are made for the chunk only,
 * so a run holds at most ENGINE_CHUNK of them (a 10,000-file scan held
 * 10,000: a megabyte at its peak). */
#define ENGINE_CHUNK 1024

struct changed_list {
	const struct plumb_file_res **v;
	size_t n, cap;
};

static int run_chunk(struct plumb_report *rep, const struct plumb_baseline *b, struct plumb_source *src, int rootfd,
		     struct plumb_quarantine *q, const struct plumb_engine_opts *o, struct plumb_users *users,
		     const size_t *idx, size_t n, struct plumb_file_job *jobs, struct changed_list *changed,
		     struct plumb_err *err)
{
	struct { size_t job, event; } pend[ENGINE_CHUNK];   /* repairs to make, in path order */
	size_t npend = 0;
	struct plumb_err e;
	struct pool pool;
	int r = 0;

	memset(jobs, 0, n * sizeof(*jobs));
	for (size_t k = 0; k < n; k++) {
		jobs[k].res = &b->files[idx[k]];
		jobs[k].all = b->files;
		jobs[k].nall = b->nfiles;
		plumb_file_resolve(&jobs[k], users);
	}
	pool.jobs = jobs;
	pool.n = n;
	pool.next = 0;
	pool.rootfd = rootfd;
	pool.src = src;
	inspect_all(&pool, o->threads);
	if (o->repair)
		clean_temps(jobs, n, b, rootfd);

	/* First every event, then (journaled) every repair: what is about to be
	 * reverted is durable before the first write, in one fsync. */
	for (size_t i = 0; i < n; i++) {
		struct plumb_file_job *job = &jobs[i];
		struct plumb_event ev;

		rep->resources++;
		if (job->error == NULL && job->drift == 0)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.at = time(NULL);
		ev.drift = job->drift;
		if ((ev.resource = resource_id(job->res->path)) == NULL)
			return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
		if (job->error != NULL) {
			ev.action = PLUMB_ACT_FAILED;
			ev.error = job->error;
			job->error = NULL;
			ev.expected = plumb_file_expected_json(job, src);
			rep->failed++;
			if ((r = add_event(rep, &ev, err)) != 0)
				return r;
			continue;
		}
		rep->drifted++;
		ev.expected = plumb_file_expected_json(job, src);
		ev.actual = plumb_file_actual_json(job, rootfd, src);
		if (!o->repair || job->res->warn) {
			ev.action = PLUMB_ACT_DETECTED;
		} else {
			ev.action = PLUMB_ACT_REVERTED;      /* if the repair below succeeds */
			pend[npend].job = i;
			pend[npend++].event = rep->nevents;
		}
		if ((r = add_event(rep, &ev, err)) != 0)
			return r;
	}
	if (npend > 0 && o->journal != NULL) {
		for (size_t k = 0; k < npend && r == 0; k++)
			r = plumb_journal_intend(o->journal, &rep->events[pend[k].event], &e);
		if (r == 0)
			r = plumb_journal_sync(o->journal, &e);
		if (r != 0) {
			/* Enforcement goes on; the report at the end still tells. */
			plumb_log(PLUMB_LOG_ERROR, "%s: a crash during this run could lose the record of its reverts", e.msg);
			r = 0;
		}
	}
	for (size_t k = 0; k < npend; k++) {
		struct plumb_file_job *job = &jobs[pend[k].job];
		struct plumb_event *ev = &rep->events[pend[k].event];

		if (plumb_file_repair(job, rootfd, src, q, ev) == 0) {
			rep->reverted++;
			if (ev->evidence_lost)
				rep->failed++;   /* reverted, but the evidence is gone: a failure to report */
		} else {
			ev->action = PLUMB_ACT_FAILED;
			rep->failed++;
		}
		if (o->journal != NULL)
			(void)plumb_journal_done(o->journal, ev, NULL);
		if (ev->action == PLUMB_ACT_REVERTED && job->res->nnotify > 0) {
			if (changed->n == changed->cap) {
				size_t nc = changed->cap ? changed->cap * 2 : 16;
				const struct plumb_file_res **v = realloc(changed->v, nc * sizeof(*v));

				if (v == NULL)
					return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
				changed->v = v;
				changed->cap = nc;
			}
			changed->v[changed->n++] = job->res;
		}
	}
	return 0;
}

int plumb_engine_run(struct plumb_report *rep, const struct plumb_baseline *b,
		     struct plumb_source *src, int rootfd, struct plumb_quarantine *q,
		     const struct plumb_engine_opts *o, struct plumb_err *err)
{
	struct plumb_users *users = NULL;
	struct plumb_file_job *jobs = NULL;
	struct changed_list changed = {NULL, 0, 0};
	size_t idx[ENGINE_CHUNK], n;
	struct plumb_err e;
	int r = 0;

	if (plumb_users_load(&users, rootfd, &e) != 0) {
		/* Numbers and root still resolve; named owners fail per resource. */
		plumb_log(PLUMB_LOG_WARN, "%s", e.msg);
		users = NULL;
	}
	/* The files, a chunk at a time, in path order. */
	for (size_t i = 0; i < b->nfiles && r == 0;) {
		for (n = 0; i < b->nfiles && n < ENGINE_CHUNK; i++)
			if (o->only == NULL || o->only[i])
				idx[n++] = i;
		if (n == 0)
			break;
		if (jobs == NULL && (jobs = malloc((b->nfiles < ENGINE_CHUNK ? b->nfiles : ENGINE_CHUNK) *
						  sizeof(*jobs))) == NULL) {
			r = plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
			break;
		}
		r = run_chunk(rep, b, src, rootfd, q, o, users, idx, n, jobs, &changed, err);
		for (size_t k = 0; k < n; k++)
			plumb_file_job_release(&jobs[k]);
	}
	free(jobs);
	if (r != 0)
		goto out;
	/* notify: of the files just repaired (a revert, or a new baseline's
	 * change), once per action for the whole run. */
	if (o->notify_due != NULL) {
		for (size_t k = 0; k < changed.n; k++)
			o->notify_due[changed.v[k] - b->files] = 1;
	} else if (changed.n > 0 && (r = plumb_notify_run(rep, changed.v, changed.n, rootfd, err)) != 0) {
		goto out;
	}
	/* Firewall tables: in full runs (plumbd's re-checks of changed files
	 * are file-only). */
	if ((o->firewall > 0 || (o->firewall < 0 && o->only == NULL)) && b->firewall != NULL &&
	    (r = plumb_firewall_run(rep, b, src, o->repair, o->fw_undo, err)) != 0)
		goto out;
	/* Live state (kernel parameters, units, modules): in full runs and the daemon's
	 * live timer. */
	if ((o->live > 0 || (o->live == 0 && o->only == NULL)) &&
	    ((r = plumb_sysctl_run(rep, b, o->repair, !is_host_root(rootfd), err)) != 0 ||
	     (r = plumb_service_run(rep, b, rootfd, o->repair, err)) != 0 ||
	     (r = plumb_module_run(rep, b, o->repair, err)) != 0))
		goto out;
	/* Packages with full runs only: their database changes with upgrades,
	 * not under an intruder's hand in seconds. */
	if (o->packages > 0 || (o->packages == 0 && o->only == NULL)) {
		if ((r = plumb_package_run(rep, b, rootfd, o->repair, err)) != 0)
			goto out;
	}
	r = 0;
out:
	free(changed.v);
	plumb_users_free(users);
	plumb_source_trim(src);
	return r;
}
