/* libFuzzer: the chunked decoder, whole against byte by byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static int
run(const uint8_t *data, size_t size, int bytewise, struct buf *out)
{
	struct http_chunked d;
	const char *p;
	size_t off = 0, n, dl;
	ssize_t k;

	http_chunked_init(&d);
	while (off < size && !d.done) {
		n = bytewise ? 1 : size - off;
		char *piece = malloc(n);
		memcpy(piece, data + off, n);
		k = http_chunked_decode(&d, piece, n, &p, &dl);
		if (k >= 0 && dl > 0) {
			if (p < piece || p + dl > piece + n)
				abort();
			buf_add(out, p, dl);
		}
		free(piece);
		if (k < 0)
			return -1;
		if (k == 0 && !d.done)
			abort();	/* no progress */
		off += (size_t)k;
	}
	return d.done ? (int)off : -2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int ra, rb;

	ra = run(data, size, 0, &a);
	rb = run(data, size, 1, &b);
	if (ra != rb || (ra >= 0 && (a.len != b.len || (a.len > 0 &&
	    memcmp(a.data, b.data, a.len) != 0))))
		abort();
	buf_release(&a);
	buf_release(&b);
	return 0;
}
