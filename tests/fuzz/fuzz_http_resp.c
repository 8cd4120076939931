/* libFuzzer: the response reader, fed whole and then in pieces whose sizes
 * come from the input, must agree and never over-read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

struct acc {
	struct buf out;
};

static int
on_head(void *arg, struct http_resp *r)
{
	struct acc *a = arg;

	buf_printf(&a->out, "H%d %d %d;", r->status, (int)r->mode,
	    r->keep_alive);
	return 0;
}

static int
on_body(void *arg, const char *p, size_t n)
{
	struct acc *a = arg;

	buf_add(&a->out, p, n);
	return 0;
}

static char *
run(const uint8_t *data, size_t size, int head, size_t step)
{
	struct http_resp r;
	struct acc a = { BUF_INIT };
	char err[128];
	size_t off = 0, n;
	ssize_t k;
	int bad = 0;

	http_resp_init(&r);
	r.head_request = head;
	r.on_head = on_head;
	r.on_body = on_body;
	r.arg = &a;
	while (off < size) {
		n = step ? step : size - off;
		if (n > size - off)
			n = size - off;
		/* a copy of exactly n bytes lets ASan catch over-reads */
		char *piece = malloc(n);
		memcpy(piece, data + off, n);
		k = http_resp_feed(&r, piece, n, err, sizeof(err));
		free(piece);
		if (k < 0) {
			bad = 1;
			break;
		}
		off += (size_t)k;
		if (http_resp_done(&r)) {
			buf_adds(&a.out, "|");
			http_resp_reset(&r);
		}
	}
	if (!bad && http_resp_started(&r) && http_resp_eof(&r, err,
	    sizeof(err)) != 0)
		bad = 1;
	buf_adds(&a.out, bad ? "ERR" : "OK");
	http_resp_release(&r);
	return buf_detach(&a.out, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *whole, *pieces;
	size_t step;

	if (size < 1)
		return 0;
	step = (data[0] & 0x3f) + 1;
	whole = run(data + 1, size - 1, data[0] & 0x40, 0);
	pieces = run(data + 1, size - 1, data[0] & 0x40, step);
	if (strcmp(whole, pieces) != 0)
		abort();
	free(whole);
	free(pieces);
	return 0;
}
