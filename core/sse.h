/*
 * Server-Sent Events parser (WHATWG HTML, "event stream interpretation"),
 * fed incrementally with bytes as they arrive, split anywhere.
 */
#ifndef DROVE_SSE_H
#define DROVE_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SSE_MAX_EVENT (16u << 20)	/* bytes of one line or event data */

/* One dispatched event; every pointer is borrowed for the callback only.
 * The strings are NUL-terminated and valid UTF-8. */
struct sse_event {
	const char *event;	/* "message" unless the stream named it */
	const char *data;	/* lines joined with "\n" */
	size_t data_len;
	const char *id;		/* the last event ID, "" if none */
};

/* Returns 0 to go on, anything else to stop sse_feed with that value. */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *ev);

struct sse_parser {
	sse_event_fn cb;
	void *arg;
	int64_t retry_ms;	/* last valid "retry" field, -1 if none */
	uint64_t comments;	/* comment lines (": ...") seen */

	/* internal */
	struct buf line;
	struct buf data;
	struct buf event;
	struct buf id;
	struct buf scratch;	/* the line, decoded */
	int seen_start;		/* the BOM check was done */
	int after_cr;		/* last byte was CR: skip a following LF */
};

void sse_init(struct sse_parser *p, sse_event_fn cb, void *arg);
void sse_release(struct sse_parser *p);
/*
 * Feeds len bytes.  Calls cb for each complete event.  Returns 0,
 * DROVE_EPROTO if a line or an event exceeds SSE_MAX_EVENT, or the first
 * non-zero value cb returned.  An event still open when the stream ends is
 * never dispatched: there is no "finish" call.
 */
int sse_feed(struct sse_parser *p, const char *buf, size_t len);

#endif /* DROVE_SSE_H */
