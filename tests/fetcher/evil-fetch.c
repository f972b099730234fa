/* evil-fetch.c - TEST ONLY, never installed: a hostile plumb-fetch. The e2e
 * tests put it beside copies of plumb and plumbd as "plumb-fetch", with the
 * real one as "plumb-fetch.real" and the attack in a file "evil-mode" in
 * the same directory. It runs the real fetcher, takes in its frames, and
 * sends the parent a doctored stream:
 *   forged     a blob's content changed, its id kept
 *   oversized  a blob frame claiming 1 GiB
 *   malformed  a tip frame with a body
 *   unknown    a frame of kind 0x7f
 *   flood      valid 60 KiB blobs past source.max_size
 *   dotdot     a tree (valid id) with an entry named ".."
 *   slash      a tree (valid id) with an entry named "a/b"
 *   unsigned   a valid object set whose tip is an unsigned commit of the real tree
 *   die        half a frame, then SIGKILL
 *   linger     closes its pipe and sleeps (a parent must not wait for it)
 *   honest     passes everything through */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plumb/fetcher.h"
#include "plumb/objstore.h"

struct frame {
	int kind;
	unsigned char id[20];
	unsigned char *data;
	size_t len;
};

static struct frame *frames;
static size_t nframes;

static int read_all(int fd, void *p, size_t n)
{
	unsigned char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Runs the real fetcher (same argv) and keeps every frame it sends. */
static int run_real(const char *dir, char **argv)
{
	char real[PATH_MAX + 32];
	int p[2], st;
	pid_t pid;

	snprintf(real, sizeof(real), "%s/plumb-fetch.real", dir);
	if (pipe(p) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], PLUMB_FETCHER_FD) < 0)
			_exit(127);
		execv(real, argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		unsigned char h[PLUMB_FRAME_HEAD];
		struct frame f;

		if (read_all(p[0], h, sizeof(h)) != 0)
			break;
		f.kind = h[0];
		f.len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
		memcpy(f.id, h + 5, 20);
		if ((f.data = malloc(f.len + 1)) == NULL || read_all(p[0], f.data, f.len) != 0)
			return -1;
		frames = realloc(frames, (nframes + 1) * sizeof(*frames));
		frames[nframes++] = f;
	}
	close(p[0]);
	waitpid(pid, &st, 0);
	return 0;
}

static void put(int kind, const unsigned char *id, const void *data, size_t len)
{
	if (plumb_frame_write(PLUMB_FETCHER_FD, kind, id, data, len) != 0)
		_exit(9);
}

static void put_obj(int type, const void *data, size_t len, unsigned char id[20])
{
	plumb_obj_hash(type, data, len, id);
	put(type, id, data, len);
}

static const struct frame *find(int kind)
{
	for (size_t i = 0; i < nframes; i++)
		if (frames[i].kind == kind)
			return &frames[i];
	return NULL;
}

/* A tree with one entry named name pointing at the first blob sent. */
static void bad_tree(const char *name)
{
	const struct frame *b = find(PLUMB_OBJ_BLOB);
	unsigned char t[256], id[20];
	int n = snprintf((char *)t, sizeof(t), "100644 %s", name);

	t[n++] = '\0';
	memcpy(t + n, b->id, 20);
	put_obj(PLUMB_OBJ_TREE, t, (size_t)n + 20, id);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], mode[64] = "", path[PATH_MAX + 16], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *fp;

	(void)argc;
	if (n <= 0)
		return 1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/evil-mode", self);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fgets(mode, sizeof(mode), fp) == NULL)
			mode[0] = '\0';
		fclose(fp);
	}
	mode[strcspn(mode, "\n")] = '\0';
	if (strcmp(mode, "linger") == 0) {
		close(PLUMB_FETCHER_FD);
		sleep(30);
		return 0;
	}
	if (run_real(self, argv) != 0 || find(PLUMB_FRAME_DONE) == NULL) {
		/* the real fetch failed: pass on what it said */
		for (size_t i = 0; i < nframes; i++)
			put(frames[i].kind, frames[i].id, frames[i].data, frames[i].len);
		return 1;
	}
	if (strcmp(mode, "unsigned") == 0) {
		const struct frame *c = find(PLUMB_OBJ_COMMIT);
		char body[512];
		unsigned char id[20];
		int len;

		/* every real object but the commits and the tip, then our commit */
		for (size_t i = 0; i < nframes; i++)
			if (frames[i].kind == PLUMB_OBJ_TREE || frames[i].kind == PLUMB_OBJ_BLOB)
				put(frames[i].kind, frames[i].id, frames[i].data, frames[i].len);
		len = snprintf(body, sizeof(body), "%.46sauthor evil <e@x> 1 +0000\ncommitter evil <e@x> 1 +0000\n\n"
			       "not signed\n", (const char *)c->data);
		put_obj(PLUMB_OBJ_COMMIT, body, (size_t)len, id);
		put(PLUMB_FRAME_TIP, id, NULL, 0);
		put(PLUMB_FRAME_DONE, NULL, NULL, 0);
		return 0;
	}
	for (size_t i = 0; i < nframes; i++) {
		struct frame *f = &frames[i];

		if (f->kind == PLUMB_OBJ_BLOB && strcmp(mode, "forged") == 0 && f->len > 0) {
			f->data[0] ^= 0x20;
			put(f->kind, f->id, f->data, f->len);
			continue;
		}
		if (f->kind == PLUMB_OBJ_BLOB && strcmp(mode, "oversized") == 0) {
			unsigned char h[PLUMB_FRAME_HEAD] = {PLUMB_OBJ_BLOB, 0x40, 0, 0, 0};

			memcpy(h + 5, f->id, 20);
			(void)!write(PLUMB_FETCHER_FD, h, sizeof(h));
			(void)!write(PLUMB_FETCHER_FD, f->data, f->len);
			return 0;
		}
		if (f->kind == PLUMB_OBJ_BLOB && strcmp(mode, "die") == 0) {
			unsigned char h[PLUMB_FRAME_HEAD] = {PLUMB_OBJ_BLOB, 0, 0, 0, 100};

			memcpy(h + 5, f->id, 20);
			(void)!write(PLUMB_FETCHER_FD, h, sizeof(h));
			(void)!write(PLUMB_FETCHER_FD, "partial", 7);
			raise(SIGKILL);
		}
		if (f->kind == PLUMB_FRAME_TIP && strcmp(mode, "malformed") == 0) {
			put(PLUMB_FRAME_TIP, f->id, "abc", 3);
			continue;
		}
		if (f->kind == PLUMB_FRAME_TIP && strcmp(mode, "unknown") == 0)
			put(0x7f, f->id, NULL, 0);
		if (f->kind == PLUMB_FRAME_TIP && strcmp(mode, "flood") == 0) {
			static unsigned char big[60 << 10];
			unsigned char id[20];

			for (unsigned k = 0; k < 64; k++) {     /* 3.75 MiB, in distinct blobs */
				memset(big, 'a' + (int)(k % 26), sizeof(big));
				big[0] = (unsigned char)k;
				put_obj(PLUMB_OBJ_BLOB, big, sizeof(big), id);
			}
		}
		if (f->kind == PLUMB_FRAME_TIP && strcmp(mode, "dotdot") == 0)
			bad_tree("..");
		if (f->kind == PLUMB_FRAME_TIP && strcmp(mode, "slash") == 0)
			bad_tree("a/b");
		put(f->kind, f->id, f->data, f->len);
	}
	return 0;
}
