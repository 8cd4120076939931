/*
 * HTTP/1.1 response reader vectors.  Each input is a byte stream as it would
 * arrive on one connection; the reader's results are written as a
 * transcript, one line per response:
 *   STATUS MODE ka=0|1 n=HEADERS x=X-TEST-VALUE |BODY|
 * or "ERR" when the reader reports a protocol error.  Every vector is fed
 * whole, one byte at a time and split in two at every offset; all three
 * must give the same transcript.
 */
#include "t.h"

#include "http_parse.h"

#define HEAD_REQ 0x1

struct vec {
	const char *name;
	int flags;
	const char *in;
	size_t len;
	const char *want;
};

#define V(n, f, in, want) { n, f, in, sizeof(in) - 1, want }

static const struct vec vecs[] = {
	/* plain Content-Length responses */
	V("cl-simple", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	    "200 len ka=1 n=1 x= |hello|\n"),
	V("cl-zero", 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	    "200 none ka=1 n=1 x= ||\n"),
	V("http10-cl", 0, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
	    "200 len ka=0 n=1 x= |hi|\n"),
	V("http10-keepalive", 0, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive"
	    "\r\nContent-Length: 2\r\n\r\nhi", "200 len ka=1 n=2 x= |hi|\n"),
	V("conn-close", 0, "HTTP/1.1 200 OK\r\nConnection: foo, close\r\n"
	    "Content-Length: 2\r\n\r\nhi", "200 len ka=0 n=2 x= |hi|\n"),
	V("lf-only", 0, "HTTP/1.1 200 OK\nContent-Length: 2\nX-Test: y\n\nhi",
	    "200 len ka=1 n=2 x=y |hi|\n"),
	V("no-reason", 0, "HTTP/1.1 204\r\n\r\n", "204 none ka=1 n=0 x= ||\n"),
	V("empty-reason", 0, "HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nz",
	    "200 len ka=1 n=1 x= |z|\n"),
	V("name-case", 0, "HTTP/1.1 200 OK\r\ncontent-LENGTH: 3\r\n"
	    "x-TEST: v\r\n\r\nabc", "200 len ka=1 n=2 x=v |abc|\n"),
	V("value-blanks", 0, "HTTP/1.1 200 OK\r\nX-Test: \t a b \t\r\n"
	    "Content-Length: 0\r\n\r\n", "200 none ka=1 n=2 x=a b ||\n"),
	V("value-empty", 0, "HTTP/1.1 200 OK\r\nX-Test:\r\n"
	    "Content-Length: 0\r\n\r\n", "200 none ka=1 n=2 x= ||\n"),
	V("value-obs-text", 0, "HTTP/1.1 200 OK\r\nX-Test: caf\xc3\xa9\r\n"
	    "Content-Length: 0\r\n\r\n", "200 none ka=1 n=2 x=caf\xc3\xa9 ||\n"),
	V("reason-utf8", 0, "HTTP/1.1 404 N\xc3\xa3o\r\nContent-Length: 1\r\n"
	    "\r\nx", "404 len ka=1 n=1 x= |x|\n"),
	V("status-599", 0, "HTTP/1.1 599 Odd\r\nContent-Length: 0\r\n\r\n",
	    "599 none ka=1 n=1 x= ||\n"),
	V("binary-body", 0, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
	    "\0\r\n\0", "200 len ka=1 n=1 x= |\0\r\n\0|\n"),
	V("204-ignores-cl", 0, "HTTP/1.1 204 No Content\r\nContent-Length: 5"
	    "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA",
	    "204 none ka=1 n=1 x= ||\n200 len ka=1 n=1 x= |A|\n"),
	V("304-ignores-cl", 0, "HTTP/1.1 304 Not Modified\r\n"
	    "Content-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 1\r\n\r\nB",
	    "304 none ka=1 n=1 x= ||\n200 len ka=1 n=1 x= |B|\n"),
	V("head-cl", HEAD_REQ, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
	    "200 none ka=1 n=1 x= ||\n"),
	V("head-chunked", HEAD_REQ, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n", "200 none ka=1 n=1 x= ||\n"),
	V("head-then-head", HEAD_REQ, "HTTP/1.1 200 OK\r\nContent-Length: 3"
	    "\r\n\r\nHTTP/1.1 404 NF\r\nContent-Length: 9\r\n\r\n",
	    "200 none ka=1 n=1 x= ||\n404 none ka=1 n=1 x= ||\n"),
	V("100-continue", 0, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n\r\nok", "200 len ka=1 n=1 x= |ok|\n"),
	V("two-interim", 0, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early"
	    "\r\nLink: </a>\r\nX-Test: early\r\n\r\nHTTP/1.1 201 Created\r\n"
	    "Content-Length: 1\r\n\r\n!", "201 len ka=1 n=1 x= |!|\n"),
	V("101-rejected", 0, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: x\r\n\r\n", "ERR\n"),
	V("many-headers-ok", 0, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
	    "D: 4\r\nE: 5\r\nContent-Length: 0\r\n\r\n",
	    "200 none ka=1 n=6 x= ||\n"),

	/* chunked */
	V("chunked", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n", "200 chunked ka=1 n=1 x= |hello|\n"),
	V("chunked-multi", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |abcdef|\n"),
	V("chunked-hex", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\nA\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |0123456789abcdefghijk|\n"),
	V("chunked-ext", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5;foo=bar;baz\r\nhello\r\n0;last\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |hello|\n"),
	V("chunked-ext-quoted", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3;a=\"x;y\\\"z\"\r\nabc\r\n0\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |abc|\n"),
	V("chunked-ext-bws", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n3 ; a = b\r\nabc\r\n0\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |abc|\n"),
	V("chunked-trailers", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Checksum: 1\r\nY: 2\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |hi|\n"),
	V("chunked-leading-zeros", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n0000000000000000000003\r\nabc\r\n000\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |abc|\n"),
	V("chunked-lf-only", 0, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked"
	    "\n\n3\nabc\n0\n\n", "200 chunked ka=1 n=1 x= |abc|\n"),
	V("chunked-te-case", 0, "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED"
	    "\r\n\r\n1\r\nz\r\n0\r\n\r\n", "200 chunked ka=1 n=1 x= |z|\n"),
	V("chunked-overrides-cl", 0, "HTTP/1.1 200 OK\r\nContent-Length: 100"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
	    "200 chunked ka=0 n=2 x= |z|\n"),
	V("chunked-empty", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\n\r\n", "200 chunked ka=1 n=1 x= ||\n"),
	V("chunked-crlf-data", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n4\r\n\r\n\r\n\r\n0\r\n\r\n",
	    "200 chunked ka=1 n=1 x= |\r\n\r\n|\n"),
	V("chunked-then-next", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n\r\ncd",
	    "200 chunked ka=1 n=1 x= |ab|\n200 len ka=1 n=1 x= |cd|\n"),

	/* close-delimited */
	V("close-delimited", 0, "HTTP/1.1 200 OK\r\nX-Test: c\r\n\r\nuntil eof",
	    "200 close ka=0 n=1 x=c |until eof|\n"),
	V("close-http10", 0, "HTTP/1.0 200 OK\r\n\r\nold\r\nstyle",
	    "200 close ka=0 n=0 x= |old\r\nstyle|\n"),
	V("close-te-gzip", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	    "\r\n\x1f\x8b", "200 close ka=0 n=1 x= |\x1f\x8b|\n"),
	V("close-empty", 0, "HTTP/1.1 200 OK\r\n\r\n",
	    "200 close ka=0 n=0 x= ||\n"),
	V("close-looks-like-head", 0, "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK"
	    "\r\n\r\n", "200 close ka=0 n=0 x= |HTTP/1.1 200 OK\r\n\r\n|\n"),

	/* keep-alive streams */
	V("ka-two", 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"
	    "HTTP/1.1 201 OK\r\nContent-Length: 2\r\n\r\n22",
	    "200 len ka=1 n=1 x= |1|\n201 len ka=1 n=1 x= |22|\n"),
	V("ka-three-mixed", 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n"
	    "0\r\n\r\nHTTP/1.1 204 OK\r\n\r\n",
	    "200 len ka=1 n=1 x= |a|\n200 chunked ka=1 n=1 x= |b|\n"
	    "204 none ka=1 n=0 x= ||\n"),
	V("ka-then-close", 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
	    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest",
	    "200 len ka=1 n=1 x= |a|\n200 close ka=0 n=1 x= |rest|\n"),
	V("ka-interim-second", 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
	    "\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 1\r\n\r\nq",
	    "200 none ka=1 n=1 x= ||\n200 len ka=1 n=1 x= |q|\n"),
	V("ka-same-cl-twice", 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "Content-Length: 2\r\n\r\nabHTTP/1.1 200 OK\r\nContent-Length: "
	    "1, 1\r\n\r\nc", "200 len ka=1 n=2 x= |ab|\n200 len ka=1 n=1 x= "
	    "|c|\n"),
	V("eof-between", 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
	    "200 len ka=1 n=1 x= |a|\n"),
	V("eof-nothing", 0, "", ""),

	/* invalid */
	V("bad-version-2", 0, "HTTP/2.0 200 OK\r\n\r\n", "ERR\n"),
	V("bad-version-lower", 0, "http/1.1 200 OK\r\n\r\n", "ERR\n"),
	V("bad-version-10x", 0, "HTTP/1.10 200 OK\r\n\r\n", "ERR\n"),
	V("bad-status-short", 0, "HTTP/1.1 20 OK\r\n\r\n", "ERR\n"),
	V("bad-status-long", 0, "HTTP/1.1 2000 OK\r\n\r\n", "ERR\n"),
	V("bad-status-low", 0, "HTTP/1.1 099 Low\r\n\r\n", "ERR\n"),
	V("bad-status-alpha", 0, "HTTP/1.1 2x0 OK\r\n\r\n", "ERR\n"),
	V("bad-garbage", 0, "hello world\r\n\r\n", "ERR\n"),
	V("bad-leading-blank", 0, "\r\nHTTP/1.1 200 OK\r\n\r\n", "ERR\n"),
	V("bad-obs-fold", 0, "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n"
	    "Content-Length: 0\r\n\r\n", "ERR\n"),
	V("bad-obs-fold-tab", 0, "HTTP/1.1 200 OK\r\nX-A: 1\r\n\tcontinued\r\n"
	    "\r\n", "ERR\n"),
	V("bad-first-header-blank", 0, "HTTP/1.1 200 OK\r\n X-A: 1\r\n\r\n",
	    "ERR\n"),
	V("bad-space-before-colon", 0, "HTTP/1.1 200 OK\r\nContent-Length : 5"
	    "\r\n\r\nhello", "ERR\n"),
	V("bad-no-colon", 0, "HTTP/1.1 200 OK\r\nFoo\r\n\r\n", "ERR\n"),
	V("bad-empty-name", 0, "HTTP/1.1 200 OK\r\n: v\r\n\r\n", "ERR\n"),
	V("bad-bare-cr-value", 0, "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
	    "ERR\n"),
	V("bad-bare-cr-status", 0, "HTTP/1.1 200 OK\rX: a\r\n\r\n", "ERR\n"),
	V("bad-ctl-value", 0, "HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", "ERR\n"),
	V("bad-nul-name", 0, "HTTP/1.1 200 OK\r\nX\0Y: a\r\n\r\n", "ERR\n"),
	V("bad-cl-conflict", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\nhello!", "ERR\n"),
	V("bad-cl-list-conflict", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5, 6"
	    "\r\n\r\nhello!", "ERR\n"),
	V("bad-cl-negative", 0, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	    "ERR\n"),
	V("bad-cl-alpha", 0, "HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n",
	    "ERR\n"),
	V("bad-cl-empty", 0, "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	    "ERR\n"),
	V("bad-cl-overflow", 0, "HTTP/1.1 200 OK\r\nContent-Length: "
	    "99999999999999999999999\r\n\r\n", "ERR\n"),
	V("bad-cl-int64", 0, "HTTP/1.1 200 OK\r\nContent-Length: "
	    "9223372036854775808\r\n\r\n", "ERR\n"),
	V("bad-te-gzip-chunked", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "gzip, chunked\r\n\r\n0\r\n\r\n", "ERR\n"),
	V("bad-te-twice", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "ERR\n"),
	V("bad-chunk-overflow", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n10000000000000000\r\n", "ERR\n"),
	V("bad-chunk-int64", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n8000000000000000\r\n", "ERR\n"),
	V("bad-chunk-nonhex", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\nzz\r\n", "ERR\n"),
	V("bad-chunk-no-digits", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n;ext\r\nabc\r\n", "ERR\n"),
	V("bad-chunk-negative", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n-1\r\n", "ERR\n"),
	V("bad-chunk-no-crlf", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n5\r\nhelloX0\r\n\r\n", "ERR\n"),
	V("bad-chunk-bare-cr", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n5\rhello\r\n", "ERR\n"),
	V("bad-chunk-too-long", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", "ERR\n"),
	V("bad-trailer-fold", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n0\r\nX: 1\r\n cont\r\n\r\n", "ERR\n"),
	V("bad-trailer-ctl", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n0\r\nX: \x7f\r\n\r\n", "ERR\n"),
	V("bad-eof-head", 0, "HTTP/1.1 200 OK\r\nContent-Len", "ERR\n"),
	V("bad-eof-status", 0, "HTTP/1.1 2", "ERR\n"),
	V("bad-eof-cl-body", 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	    "short", "ERR\n"),
	V("bad-eof-chunked", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5\r\nhel", "ERR\n"),
	V("bad-eof-chunked-trailer", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n0\r\nX: y\r\n", "ERR\n"),
	V("bad-eof-after-interim", 0, "HTTP/1.1 100 Continue\r\n\r\n", "ERR\n"),
	V("bad-second-response", 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "\r\naHTTP/1.1 BAD\r\n\r\n", "200 len ka=1 n=1 x= |a|\nERR\n"),
};

struct run {
	struct buf out;
	struct buf body;
	char head[256];
};

static int
on_head(void *arg, struct http_resp *r)
{
	struct run *ru = arg;
	static const char *modes[] = { "none", "len", "chunked", "close" };
	const char *x;
	size_t xl = 0;

	x = http_resp_header(r, "X-TEST", &xl);
	snprintf(ru->head, sizeof(ru->head), "%d %s ka=%d n=%zu x=%.*s",
	    r->status, modes[r->mode], r->keep_alive, r->num_headers,
	    (int)xl, x ? x : "");
	return 0;
}

static int
on_body(void *arg, const char *p, size_t n)
{
	struct run *ru = arg;

	buf_add(&ru->body, p, n);
	return 0;
}

static void
finish(struct run *ru, struct http_resp *r)
{
	buf_printf(&ru->out, "%s |", ru->head);
	buf_add(&ru->out, ru->body.data, ru->body.len);
	buf_adds(&ru->out, "|\n");
	ru->body.len = 0;
	http_resp_reset(r);
}

/*
 * Feeds the stream in the pieces given by cuts (offsets, ascending) and
 * returns the transcript; the caller frees it.
 */
static char *
replay(const struct vec *v, const size_t *cuts, size_t ncuts)
{
	struct http_resp r;
	struct run ru;
	char err[128];
	size_t start = 0, end, i, off;
	ssize_t k;
	int failed = 0;

	memset(&ru, 0, sizeof(ru));
	http_resp_init(&r);
	r.head_request = v->flags & HEAD_REQ;
	r.on_head = on_head;
	r.on_body = on_body;
	r.arg = &ru;
	for (i = 0; i <= ncuts && !failed; i++) {
		end = i < ncuts ? cuts[i] : v->len;
		off = start;
		while (off < end) {
			k = http_resp_feed(&r, v->in + off, end - off, err,
			    sizeof(err));
			if (k < 0) {
				failed = 1;
				break;
			}
			off += (size_t)k;
			if (http_resp_done(&r))
				finish(&ru, &r);
		}
		start = end;
	}
	if (!failed && http_resp_started(&r)) {
		if (http_resp_eof(&r, err, sizeof(err)) == 0)
			finish(&ru, &r);
		else
			failed = 1;
	}
	if (failed)
		buf_adds(&ru.out, "ERR\n");
	http_resp_release(&r);
	buf_release(&ru.body);
	return buf_detach(&ru.out, NULL);
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

	CHECK(ARRAY_SIZE(vecs) >= 60);
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

/* The head parser alone, as the reader uses it. */
static void
test_parse_head(void)
{
	static const char s[] = "HTTP/1.1 404 Not Found\r\nA: 1\r\n"
	    "Bb:  two words \r\n\r\nbody";
	struct http_header h[4];
	size_t n = 4, rl;
	const char *reason;
	int minor, status, rc;

	rc = http_parse_response(s, sizeof(s) - 1, &minor, &status, &reason,
	    &rl, h, &n);
	CHECK_INT(rc, sizeof(s) - 1 - 4);
	CHECK_INT(minor, 1);
	CHECK_INT(status, 404);
	CHECK_INT(rl, 9);
	CHECK(memcmp(reason, "Not Found", 9) == 0);
	CHECK_INT(n, 2);
	CHECK(h[1].name_len == 2 && memcmp(h[1].name, "Bb", 2) == 0);
	CHECK(h[1].value_len == 9 && memcmp(h[1].value, "two words", 9) == 0);
	/* every proper prefix needs more */
	for (size_t i = 0; i < sizeof(s) - 5; i++) {
		n = 4;
		CHECK_INT(http_parse_response(s, i, &minor, &status, &reason,
		    &rl, h, &n), HTTP_PARSE_MORE);
	}
	/* header capacity exceeded */
	n = 1;
	CHECK_INT(http_parse_response(s, sizeof(s) - 1, &minor, &status,
	    &reason, &rl, h, &n), HTTP_PARSE_ERROR);
}

static char *
feed_all(const char *in, size_t len, int bytewise, int *err)
{
	struct http_resp r;
	struct run ru;
	char e[128];
	size_t off = 0;
	ssize_t k;

	memset(&ru, 0, sizeof(ru));
	http_resp_init(&r);
	r.on_head = on_head;
	r.on_body = on_body;
	r.arg = &ru;
	*err = 0;
	while (off < len) {
		k = http_resp_feed(&r, in + off, bytewise ? 1 : len - off, e,
		    sizeof(e));
		if (k < 0) {
			*err = 1;
			break;
		}
		off += (size_t)k;
		if (http_resp_done(&r))
			break;
	}
	if (!*err && !http_resp_done(&r) && http_resp_eof(&r, e, sizeof(e)))
		*err = 1;
	http_resp_release(&r);
	buf_release(&ru.out);
	return buf_detach(&ru.body, NULL);
}

/* More header fields than the reader keeps: an error, not a crash. */
static void
test_too_many_headers(void)
{
	struct buf b = BUF_INIT;
	char *body;
	int i, err;

	buf_adds(&b, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		buf_printf(&b, "H%d: v\r\n", i);
	buf_adds(&b, "Content-Length: 0\r\n\r\n");
	body = feed_all(b.data, b.len, 0, &err);
	CHECK(err);
	free(body);
	body = feed_all(b.data, b.len, 1, &err);
	CHECK(err);
	free(body);
	buf_release(&b);
}

/* A head over 64 KiB is refused once it passes the limit. */
static void
test_head_limit(void)
{
	struct buf b = BUF_INIT;
	struct http_resp r;
	char e[128];
	ssize_t k = 0;
	size_t off = 0;
	int i;

	buf_adds(&b, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 40; i++) {
		buf_printf(&b, "X-Big-%d: ", i);
		while (b.len % 2048 != 2046)
			buf_addc(&b, 'a');
		buf_adds(&b, "\r\n");
	}
	CHECK(b.len > HTTP_MAX_HEAD);
	http_resp_init(&r);
	while (off < b.len) {
		k = http_resp_feed(&r, b.data + off, 1000, e, sizeof(e));
		if (k < 0)
			break;
		off += (size_t)k;
	}
	CHECK_INT(k, HTTP_PARSE_ERROR);
	CHECK(off <= HTTP_MAX_HEAD + 1000);
	CHECK_HAS(e, "larger than");
	/* a single line without an end is also bounded */
	http_resp_reset(&r);
	buf_reset(&b);
	buf_adds(&b, "HTTP/1.1 200 OK\r\nX: ");
	while (b.len < 3 * HTTP_MAX_HEAD)
		buf_addc(&b, 'b');
	k = http_resp_feed(&r, b.data, b.len, e, sizeof(e));
	CHECK_INT(k, HTTP_PARSE_ERROR);
	CHECK(r.head.len <= HTTP_MAX_HEAD + 1);
	http_resp_release(&r);
	buf_release(&b);
}

/* A chunk size line with endless extensions is bounded. */
static void
test_chunk_line_limit(void)
{
	struct http_chunked d;
	char line[HTTP_MAX_CHUNK_LINE + 16];
	const char *data;
	size_t dl;

	memset(line, 'x', sizeof(line));
	line[0] = '5';
	line[1] = ';';
	http_chunked_init(&d);
	CHECK_INT(http_chunked_decode(&d, line, sizeof(line), &data, &dl),
	    HTTP_PARSE_ERROR);
}

/* The chunked decoder hands data out without copying. */
static void
test_chunked_zero_copy(void)
{
	static const char s[] = "3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\nNEXT";
	struct http_chunked d;
	const char *data;
	size_t dl, off = 0;
	ssize_t k;
	struct buf out = BUF_INIT;

	http_chunked_init(&d);
	while (!d.done) {
		k = http_chunked_decode(&d, s + off, sizeof(s) - 1 - off,
		    &data, &dl);
		CHECK(k >= 0);
		if (k < 0)
			break;
		if (dl) {
			CHECK(data >= s && data + dl <= s + sizeof(s));
			buf_add(&out, data, dl);
		}
		off += (size_t)k;
	}
	CHECK_STR(buf_str(&out), "abcde");
	CHECK_STR(s + off, "NEXT");
	buf_release(&out);
}

/* A 1 MiB body, whole and byte by byte. */
static void
test_large_body(void)
{
	struct buf b = BUF_INIT;
	size_t n = 1 << 20, i;
	char *body;
	int err;

	buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
	for (i = 0; i < n; i++)
		buf_addc(&b, (char)('a' + i % 26));
	body = feed_all(b.data, b.len, 0, &err);
	CHECK(!err);
	CHECK(memcmp(body, b.data + b.len - n, n) == 0);
	free(body);
	body = feed_all(b.data, b.len, 1, &err);
	CHECK(!err);
	CHECK(memcmp(body, b.data + b.len - n, n) == 0);
	free(body);
	buf_release(&b);
}

/* A callback's non-zero return stops the reader at once. */
static int
stop_body(void *arg, const char *p, size_t n)
{
	(*(int *)arg)++;
	return -5;
}

static void
test_callback_stops(void)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n";
	struct http_resp r;
	char e[64];
	int calls = 0;

	http_resp_init(&r);
	r.on_body = stop_body;
	r.arg = &calls;
	CHECK_INT(http_resp_feed(&r, s, sizeof(s) - 1, e, sizeof(e)), -5);
	CHECK_INT(calls, 1);
	http_resp_release(&r);
}

static const struct t_case cases[] = {
	{ "vectors", test_vectors },
	{ "parse_head", test_parse_head },
	{ "too_many_headers", test_too_many_headers },
	{ "head_limit", test_head_limit },
	{ "chunk_line_limit", test_chunk_line_limit },
	{ "chunked_zero_copy", test_chunked_zero_copy },
	{ "large_body", test_large_body },
	{ "callback_stops", test_callback_stops },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
