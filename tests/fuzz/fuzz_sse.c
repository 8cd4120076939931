/* libFuzzer: the SSE parser, whole against pieces sized by the input;
 * every event must be valid UTF-8 and NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct buf *out = arg;

	if (ev->data[ev->data_len] != '\0')
		abort();
	buf_printf(out, "[%s|%zu|%s]", ev->event, ev->data_len, ev->id);
	buf_add(out, ev->data, ev->data_len);
	return 0;
}

static char *
run(const uint8_t *data, size_t size, size_t step)
{
	struct sse_parser p;
	struct buf out = BUF_INIT;
	size_t off = 0, n;

	sse_init(&p, on_event, &out);
	while (off < size) {
		n = step ? step : size - off;
		if (n > size - off)
			n = size - off;
		char *piece = malloc(n);
		memcpy(piece, data + off, n);
		if (sse_feed(&p, piece, n) != 0)
			abort();
		free(piece);
		off += n;
	}
	buf_printf(&out, "retry=%lld", (long long)p.retry_ms);
	sse_release(&p);
	return buf_detach(&out, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a, *b;

	if (size < 1)
		return 0;
	a = run(data + 1, size - 1, 0);
	b = run(data + 1, size - 1, (data[0] & 0x1f) + 1);
	if (strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	return 0;
}
