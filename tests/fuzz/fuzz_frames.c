/* fuzz_frames.c - libFuzzer target: the frame reader the parent runs on
 * what plumb-fetch sends (hostile by assumption). The first byte picks the
 * chunk size the stream is fed in, so every split of a frame is tried; the
 * limits are small so the caps are reached. */
#include <stddef.h>
#include <stdint.h>

#include "plumb/objstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *arg, const struct plumb_frame *fr, struct plumb_err *err)
{
	size_t *n = arg;

	(void)err;
	*n += fr->len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct plumb_frame_limits lim = {4096, 16384, 8192, 2048, 64};
	struct plumb_frames r;
	struct plumb_err err;
	size_t chunk, total = 0;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	plumb_frames_init(&r, &lim);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (plumb_frames_feed(&r, data + off, n, sink, &total, &err) != 0)
			break;
	}
	(void)plumb_frames_eof(&r, &err);
	plumb_frames_release(&r);
	return 0;
}
