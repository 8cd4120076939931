/*
 * Server-Sent Events vectors.  Each event is written to a transcript as
 * "[EVENT|DATA|ID]", and the stream's last retry value follows as
 * " retry=N".  Every vector is fed whole, one byte at a time and split in
 * two at every offset.
 */
#include "t.h"

#include "sse.h"
#include "drove/plugin.h"

struct vec {
	const char *name;
	const char *in;
	size_t len;
	const char *want;
};

#define V(n, in, want) { n, in, sizeof(in) - 1, want }

static const struct vec vecs[] = {
	V("lf", "data: hello\n\n", "[message|hello|] retry=-1"),
	V("crlf", "data: hello\r\n\r\n", "[message|hello|] retry=-1"),
	V("cr", "data: hello\r\r", "[message|hello|] retry=-1"),
	V("mixed-ends", "data: a\r\ndata: b\rdata: c\n\r\n",
	    "[message|a\nb\nc|] retry=-1"),
	V("cr-cr-two-lines", "data: a\r\rdata: b\r\r",
	    "[message|a|][message|b|] retry=-1"),
	V("crlf-then-lf", "data: a\r\n\n", "[message|a|] retry=-1"),
	V("lf-cr", "data: a\n\rdata: b\n\n", "[message|a|][message|b|] retry=-1"),
	V("multi-line", "data: a\ndata: b\ndata: c\n\n",
	    "[message|a\nb\nc|] retry=-1"),
	V("no-space", "data:x\n\n", "[message|x|] retry=-1"),
	V("two-spaces", "data:  x\n\n", "[message| x|] retry=-1"),
	V("tab-kept", "data:\tx\n\n", "[message|\tx|] retry=-1"),
	V("no-colon", "data\n\n", "[message||] retry=-1"),
	V("two-empty", "data\ndata\n\n", "[message|\n|] retry=-1"),
	V("trailing-empty", "data: a\ndata:\n\n", "[message|a\n|] retry=-1"),
	V("colon-in-value", "data: a:b: c\n\n", "[message|a:b: c|] retry=-1"),
	V("event-type", "event: add\ndata: 1\n\n", "[add|1|] retry=-1"),
	V("event-resets", "event: add\ndata: 1\n\ndata: 2\n\n",
	    "[add|1|][message|2|] retry=-1"),
	V("event-no-data", "event: x\n\ndata: y\n\n", "[message|y|] retry=-1"),
	V("event-empty-name", "event\ndata: x\n\n", "[message|x|] retry=-1"),
	V("event-last-wins", "event: a\nevent: b\ndata: x\n\n",
	    "[b|x|] retry=-1"),
	V("id-persists", "id: 7\ndata: a\n\ndata: b\n\n",
	    "[message|a|7][message|b|7] retry=-1"),
	V("id-cleared", "id: 7\ndata: a\n\nid\ndata: b\n\n",
	    "[message|a|7][message|b|] retry=-1"),
	V("id-nul-ignored", "id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n",
	    "[message|a|1][message|b|1] retry=-1"),
	V("id-without-data", "id: 9\n\ndata: z\n\n", "[message|z|9] retry=-1"),
	V("comment", ": hello\ndata: x\n: more\n\n", "[message|x|] retry=-1"),
	V("comment-empty", ":\n:\n\ndata: x\n\n", "[message|x|] retry=-1"),
	V("comment-only", ": keep-alive\n\n", " retry=-1"),
	V("bom", "\xef\xbb\xbf" "data: x\n\n", "[message|x|] retry=-1"),
	V("bom-once", "\xef\xbb\xbf" "data: a\n\n\xef\xbb\xbf" "data: b\n\n",
	    "[message|a|] retry=-1"),
	V("bom-then-comment", "\xef\xbb\xbf: c\ndata: x\n\n",
	    "[message|x|] retry=-1"),
	V("bom-blank-line", "\xef\xbb\xbf\ndata: x\n\n", "[message|x|] retry=-1"),
	V("unterminated-event", "data: a\n\ndata: b\n", "[message|a|] retry=-1"),
	V("unterminated-line", "data: a\n\ndata: b", "[message|a|] retry=-1"),
	V("unterminated-cr", "data: a\r", " retry=-1"),
	V("unknown-field", "foo: bar\ndata: x\nbaz\n\n",
	    "[message|x|] retry=-1"),
	V("field-case", "Data: x\nEVENT: y\n\n", " retry=-1"),
	V("retry", "retry: 1500\ndata: x\n\n", "[message|x|] retry=1500"),
	V("retry-bad", "retry: 1500\nretry: 10a\nretry:\nretry: -1\n",
	    " retry=1500"),
	V("retry-space", "retry:  20\n", " retry=-1"),
	V("utf8", "data: h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\n\n",
	    "[message|h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80|] retry=-1"),
	V("utf8-bad", "data: a\xff" "b\xc3\n\n",
	    "[message|a\xef\xbf\xbd" "b\xef\xbf\xbd|] retry=-1"),
	V("utf8-overlong", "data: \xc0\xaf\n\n",
	    "[message|\xef\xbf\xbd\xef\xbf\xbd|] retry=-1"),
	V("utf8-event-id", "event: \xc3\xa9v\nid: \xe2\x82\xac\ndata: 1\n\n",
	    "[\xc3\xa9v|1|\xe2\x82\xac] retry=-1"),
	V("blank-only", "\n\n\r\n\r", " retry=-1"),
	V("empty", "", " retry=-1"),
	V("openai-like", "data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n",
	    "[message|{\"a\":1}|][message|{\"a\":2}|][message|[DONE]|] retry=-1"),
	V("anthropic-like", "event: message_start\ndata: {}\n\n"
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	    "event: message_stop\r\ndata: {}\r\n\r\n",
	    "[message_start|{}|][ping|{\"type\": \"ping\"}|]"
	    "[message_stop|{}|] retry=-1"),
};

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct buf *out = arg;

	buf_printf(out, "[%s|", ev->event);
	buf_add(out, ev->data, ev->data_len);
	buf_printf(out, "|%s]", ev->id);
	CHECK(ev->data[ev->data_len] == '\0');
	return 0;
}

static char *
replay(const struct vec *v, const size_t *cuts, size_t ncuts)
{
	struct sse_parser p;
	struct buf out = BUF_INIT;
	size_t start = 0, end, i;

	sse_init(&p, on_event, &out);
	for (i = 0; i <= ncuts; i++) {
		end = i < ncuts ? cuts[i] : v->len;
		CHECK_INT(sse_feed(&p, v->in + start, end - start), 0);
		start = end;
	}
	buf_printf(&out, " retry=%lld", (long long)p.retry_ms);
	sse_release(&p);
	return buf_detach(&out, NULL);
}

static int
check_same(const struct vec *v, char *got, const char *how)
{
	int ok = strcmp(got, v->want) == 0;

	if (!ok) {
		fprintf(stderr, "%s (%s): got\n%s\nwant\n%s\n", v->name, how,
		    got, v->want);
		t_failures++;
	}
	free(got);
	return ok;
}

static void
test_vectors(void)
{
	size_t i, j, *cuts;
	char how[64];

	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		const struct vec *v = &vecs[i];

		if (!check_same(v, replay(v, NULL, 0), "whole"))
			continue;
		cuts = xcalloc(v->len + 1, sizeof(*cuts));
		for (j = 0; j + 1 < v->len; j++)
			cuts[j] = j + 1;
		check_same(v, replay(v, cuts, v->len ? v->len - 1 : 0),
		    "bytewise");
		for (j = 1; j < v->len; j++) {
			snprintf(how, sizeof(how), "split at %zu", j);
			if (!check_same(v, replay(v, &j, 1), how))
				break;
		}
		free(cuts);
	}
}

static int
stop_cb(void *arg, const struct sse_event *ev)
{
	(*(int *)arg)++;
	return 42;
}

/* A callback's non-zero return stops the feed at that event. */
static void
test_stop(void)
{
	static const char s[] = "data: a\n\ndata: b\n\n";
	struct sse_parser p;
	int n = 0;

	sse_init(&p, stop_cb, &n);
	CHECK_INT(sse_feed(&p, s, sizeof(s) - 1), 42);
	CHECK_INT(n, 1);
	sse_release(&p);
}

/* An endless line is refused, not buffered without bound. */
static void
test_limit(void)
{
	struct sse_parser p;
	char *chunk;
	size_t i, sz = 1 << 20;
	int rc = 0;

	chunk = xmalloc(sz);
	memset(chunk, 'x', sz);
	memcpy(chunk, "data: ", 6);
	sse_init(&p, NULL, NULL);
	for (i = 0; i < 64 && rc == 0; i++)
		rc = sse_feed(&p, chunk, sz);
	CHECK_INT(rc, DROVE_EPROTO);
	CHECK(p.line.len <= SSE_MAX_EVENT);
	sse_release(&p);
	free(chunk);
}

static const struct t_case cases[] = {
	{ "vectors", test_vectors },
	{ "stop", test_stop },
	{ "limit", test_limit },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
