/*
 * Tests of the HTTP client (core/http_*.c) against a loopback server on
 * 127.0.0.1 run by a second thread: cancelling a request from inside each
 * of its callbacks and from outside, and the connect timeout.  on_done
 * must run exactly once, with DROVE_ECANCELED after a cancel, and no other
 * callback may follow a cancel.  Every case arms alarm() and a guard timer
 * so a hang fails instead of blocking the run.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "http.h"
#include "loop.h"
#include "t.h"
#include "util.h"

/* --- the loopback server ---------------------------------------------- */

struct srv {
	int lfd;
	int port;
	const char *resp;	/* sent whole after the request head */
	const char *resp2;	/* sent 100 ms later, if the peer is still
				 * there (NULL: none) */
	int hold_ms;		/* then wait this long for the peer to close */
	pthread_t th;
	int accepted;
	int saw_eof;		/* the client closed the connection */
	char req[4096];
};

static int
wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { fd, ev, 0 };

	return poll(&p, 1, ms) == 1;
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	size_t len = 0;
	ssize_t n;
	char b[512];
	int fd;

	if (!wait_fd(s->lfd, POLLIN, 5000) ||
	    (fd = accept(s->lfd, NULL, NULL)) < 0)
		return NULL;
	s->accepted = 1;
	while (strstr(s->req, "\r\n\r\n") == NULL &&
	    len < sizeof(s->req) - 1 && wait_fd(fd, POLLIN, 5000)) {
		n = recv(fd, s->req + len, sizeof(s->req) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		s->req[len] = '\0';
	}
	if (s->resp)
		write_all(fd, s->resp, strlen(s->resp));
	if (s->resp2 && !wait_fd(fd, POLLIN, 100))
		write_all(fd, s->resp2, strlen(s->resp2));
	/* anything but EOF (more bytes) would be a second request */
	while (s->hold_ms > 0 && wait_fd(fd, POLLIN, s->hold_ms)) {
		n = recv(fd, b, sizeof(b), 0);
		if (n <= 0) {
			s->saw_eof = 1;
			break;
		}
	}
	close(fd);
	return NULL;
}

/* Listens on 127.0.0.1 with the given backlog; no thread yet. */
static void
srv_listen(struct srv *s, int backlog)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->lfd, backlog) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
		perror("loopback server");
		exit(1);
	}
	s->port = ntohs(a.sin_port);
}

static void
srv_start(struct srv *s, const char *resp, const char *resp2, int hold_ms)
{
	memset(s, 0, sizeof(*s));
	srv_listen(s, 8);
	s->resp = resp;
	s->resp2 = resp2;
	s->hold_ms = hold_ms;
	if (pthread_create(&s->th, NULL, srv_main, s) != 0) {
		perror("pthread_create");
		exit(1);
	}
}

static void
srv_join(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* --- the client side ---------------------------------------------------- */

enum { IN_NONE, IN_HEAD, IN_BODY, IN_SSE };

static struct {
	struct loop *l;
	struct http_client *cl;
	struct http_req *h, *other;	/* other: cancelled by h's callback */
	struct loop_timer guard, linger, outside;
	int cancel_in;		/* IN_*: the callback that cancels */
	int heads, bodies, sses, dones, done_err;
	int other_dones, other_err;
	int cancel_returned;	/* http_cancel returned inside a callback */
	int dones_at_cancel;	/* on_done calls when http_cancel returned */
	char body[256];
	char text[256];
	double t_start, t_done;
} c;

static void
guard_cb(struct loop *l, struct loop_timer *t)
{
	fprintf(stderr, "guard timer fired: the request did not finish\n");
	t_failures++;
	loop_stop(l);
}

static void
linger_cb(struct loop *l, struct loop_timer *t)
{
	loop_stop(l);
}

static void
cancel_here(void)
{
	http_cancel(c.h);
	/* from inside a callback on_done waits until it returns */
	c.dones_at_cancel = c.dones;
	c.cancel_returned = 1;
	if (c.other)
		http_cancel(c.other);
}

static void
on_head(void *arg, int status, const struct drove_http_header *h, size_t n)
{
	CHECK(c.dones == 0);
	c.heads++;
	if (c.cancel_in == IN_HEAD)
		cancel_here();
}

static void
on_body(void *arg, const char *p, size_t n)
{
	size_t have = strlen(c.body);

	CHECK(c.dones == 0);
	c.bodies++;
	if (n > sizeof(c.body) - 1 - have)
		n = sizeof(c.body) - 1 - have;
	memcpy(c.body + have, p, n);
	c.body[have + n] = '\0';
	if (c.cancel_in == IN_BODY)
		cancel_here();
}

static void
on_sse(void *arg, const struct drove_sse_event *ev)
{
	CHECK(c.dones == 0);
	c.sses++;
	if (c.cancel_in == IN_SSE)
		cancel_here();
}

static void
on_done(void *arg, int err, const char *text)
{
	c.dones++;
	c.done_err = err;
	c.t_done = now_mono();
	snprintf(c.text, sizeof(c.text), "%s", text ? text : "");
	/* the handle dies when this returns; cancelling now is a no-op */
	http_cancel(c.h);
	c.h = NULL;
	/* stay a little longer to catch a second on_done */
	loop_timer_start(c.l, &c.linger, 100, linger_cb, NULL);
}

static void
other_done(void *arg, int err, const char *text)
{
	c.other_dones++;
	c.other_err = err;
	c.other = NULL;
}

static void
setup(int cancel_in)
{
	alarm(20);
	memset(&c, 0, sizeof(c));
	c.cancel_in = cancel_in;
	c.l = loop_new();
	CHECK(c.l != NULL);
	c.cl = http_client_new(c.l);
	CHECK(c.cl != NULL);
	loop_timer_start(c.l, &c.guard, 5000, guard_cb, NULL);
}

static void
teardown(void)
{
	loop_timer_stop(c.l, &c.guard);
	loop_timer_stop(c.l, &c.linger);
	loop_timer_stop(c.l, &c.outside);
	http_client_free(c.cl);
	loop_free(c.l);
}

/* Starts a GET of http://127.0.0.1:port/path. */
static struct http_req *
get(int port, const char *path, int sse, double connect_timeout_s,
    void (*done)(void *, int, const char *))
{
	struct drove_http_req r;
	struct http_req *h = NULL;
	char url[128], err[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.url = url;
	r.sse = sse;
	r.connect_timeout_s = connect_timeout_s;
	r.on_head = on_head;
	r.on_body = on_body;
	r.on_sse = on_sse;
	r.on_done = done;
	c.t_start = now_mono();
	CHECK_INT(http_request(c.cl, &r, &h, err, sizeof(err)), 0);
	CHECK(h != NULL);
	return h;
}

/* on_done ran once with DROVE_ECANCELED. */
static void
check_cancelled(void)
{
	CHECK_INT(c.dones, 1);
	CHECK_INT(c.done_err, DROVE_ECANCELED);
	CHECK_STR(c.text, "cancelled");
}

/* --- cases ------------------------------------------------------------- */

#define HEAD_100 "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"

/* The server and the client agree without a cancel. */
static void
test_plain_get(void)
{
	struct srv s;

	srv_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\nhello", NULL, 0);
	setup(IN_NONE);
	c.h = get(s.port, "/x?y=1", 0, 0, on_done);
	loop_run(c.l);
	CHECK_INT(c.dones, 1);
	CHECK_INT(c.done_err, 0);
	CHECK_INT(c.heads, 1);
	CHECK_STR(c.body, "hello");
	CHECK_HAS(s.req, "GET /x?y=1 HTTP/1.1\r\n");
	CHECK_HAS(s.req, "Host: 127.0.0.1:");
	teardown();
	srv_join(&s);
}

/* Cancelled in on_head: body bytes that came with the head are never
 * delivered, and the connection is closed, not pooled. */
static void
test_cancel_in_head(void)
{
	struct srv s;

	srv_start(&s, HEAD_100 "0123456789", "abcdefghij", 2000);
	setup(IN_HEAD);
	c.h = get(s.port, "/", 0, 0, on_done);
	loop_run(c.l);
	CHECK_INT(c.heads, 1);
	CHECK_INT(c.bodies, 0);
	CHECK(c.cancel_returned);
	CHECK_INT(c.dones_at_cancel, 0);
	check_cancelled();
	teardown();
	srv_join(&s);
	CHECK(s.saw_eof);
}

/* Cancelled in on_body: the second chunk of the same read is not
 * delivered, nor what the server sends later. */
static void
test_cancel_in_body(void)
{
	struct srv s;

	srv_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nfirst\r\n6\r\nsecond\r\n", "5\r\nthird\r\n0\r\n\r\n", 2000);
	setup(IN_BODY);
	c.h = get(s.port, "/", 0, 0, on_done);
	loop_run(c.l);
	CHECK_INT(c.heads, 1);
	CHECK_INT(c.bodies, 1);
	CHECK_STR(c.body, "first");
	CHECK_INT(c.dones_at_cancel, 0);
	check_cancelled();
	teardown();
	srv_join(&s);
	CHECK(s.saw_eof);
}

/* Cancelled in on_sse: later events of the same read are dropped. */
static void
test_cancel_in_sse(void)
{
	struct srv s;

	srv_start(&s, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "2c\r\ndata: one\n\ndata: two\n\nevent: x\ndata: three\n\n\r\n",
	    "c\r\ndata: four\n\n\r\n0\r\n\r\n", 2000);
	setup(IN_SSE);
	c.h = get(s.port, "/", 1, 0, on_done);
	loop_run(c.l);
	CHECK_INT(c.heads, 1);
	CHECK_INT(c.sses, 1);
	CHECK_INT(c.bodies, 0);
	CHECK_INT(c.dones_at_cancel, 0);
	check_cancelled();
	teardown();
	srv_join(&s);
	CHECK(s.saw_eof);
}

/* A callback of one request cancels another: that one's on_done runs at
 * once, inside http_cancel. */
static void
test_cancel_other_in_cb(void)
{
	struct srv s, s2;

	srv_start(&s, HEAD_100 "0123456789", NULL, 2000);
	srv_start(&s2, NULL, NULL, 3000);	/* never answers */
	setup(IN_BODY);
	c.other = get(s2.port, "/", 0, 0, other_done);
	c.h = get(s.port, "/", 0, 0, on_done);
	loop_run(c.l);
	CHECK_INT(c.other_dones, 1);
	CHECK_INT(c.other_err, DROVE_ECANCELED);
	CHECK(c.other == NULL);
	check_cancelled();
	teardown();
	srv_join(&s);
	srv_join(&s2);
	CHECK(s2.saw_eof);
}

static void
outside_cb(struct loop *l, struct loop_timer *t)
{
	http_cancel(c.h);
	/* not from a callback of the request: on_done has already run */
	CHECK_INT(c.dones, 1);
	CHECK(c.h == NULL);
}

/* Cancelled from a timer while waiting for the response. */
static void
test_cancel_outside(void)
{
	struct srv s;

	srv_start(&s, NULL, NULL, 3000);
	setup(IN_NONE);
	c.h = get(s.port, "/", 0, 0, on_done);
	loop_timer_start(c.l, &c.outside, 100, outside_cb, NULL);
	loop_run(c.l);
	CHECK_INT(c.heads, 0);
	check_cancelled();
	teardown();
	srv_join(&s);
	CHECK(s.accepted);
	CHECK(s.saw_eof);
}

/* Cancelled right after http_request, before it started: on_done runs
 * inside http_cancel and nothing is ever sent. */
static void
test_cancel_before_start(void)
{
	struct srv s;

	srv_start(&s, NULL, NULL, 0);
	setup(IN_NONE);
	c.h = get(s.port, "/", 0, 0, on_done);
	CHECK_INT(c.dones, 0);
	http_cancel(c.h);
	CHECK_INT(c.dones, 1);
	check_cancelled();
	loop_run(c.l);
	CHECK_INT(c.dones, 1);
	teardown();
	/* wake the server thread: it is waiting to accept */
	shutdown(s.lfd, SHUT_RDWR);
	srv_join(&s);
	CHECK(!s.accepted);
}

static void
stop_cb(struct loop *l, struct loop_timer *t)
{
	loop_stop(l);
}

/* Freeing the client with a request in flight: no on_done, no leak. */
static void
test_free_in_flight(void)
{
	struct srv s;

	srv_start(&s, HEAD_100 "0123", NULL, 3000);
	setup(IN_NONE);
	c.h = get(s.port, "/", 0, 0, on_done);
	loop_timer_start(c.l, &c.outside, 200, stop_cb, NULL);
	loop_run(c.l);
	CHECK_INT(c.heads, 1);
	CHECK_STR(c.body, "0123");
	CHECK_INT(c.dones, 0);
	teardown();
	CHECK_INT(c.dones, 0);
	srv_join(&s);
	CHECK(s.saw_eof);
}

/*
 * A listening socket whose accept queue is full drops new SYNs, so a
 * connect to it hangs; fill it with connections nobody accepts.  Returns
 * the number of filler fds in fds, or -1 when every connect completed (the
 * system does not drop SYNs: skip).
 */
static int
fill_backlog(const struct srv *s, int *fds, int max)
{
	struct sockaddr_in a;
	int i, fd;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)s->port);
	for (i = 0; i < max; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			break;
		fds[i] = fd;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
		    errno != EINPROGRESS)
			return i + 1;
		if (!wait_fd(fd, POLLOUT, 300))
			return i + 1;	/* this one hangs: full */
	}
	for (int k = 0; k < i; k++)
		close(fds[k]);
	return -1;
}

static void
test_connect_timeout(void)
{
	struct srv s;
	int fds[16], n, i;
	double took;

	memset(&s, 0, sizeof(s));
	srv_listen(&s, 0);
	n = fill_backlog(&s, fds, 16);
	if (n < 0) {
		close(s.lfd);
		T_SKIP("loopback connects never hang on a full backlog");
	}
	setup(IN_NONE);
	c.h = get(s.port, "/", 0, 0.3, on_done);
	loop_run(c.l);
	took = c.t_done - c.t_start;
	CHECK_INT(c.dones, 1);
	CHECK_INT(c.done_err, DROVE_ETIMEDOUT);
	CHECK_STR(c.text, "timeout: connect");
	CHECK(took >= 0.29);
	CHECK(took < 2);
	CHECK_INT(c.heads, 0);
	teardown();
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(s.lfd);
}

/* Cancelled from outside while the TCP connect is still pending. */
static void
test_cancel_connecting(void)
{
	struct srv s;
	int fds[16], n, i;

	memset(&s, 0, sizeof(s));
	srv_listen(&s, 0);
	n = fill_backlog(&s, fds, 16);
	if (n < 0) {
		close(s.lfd);
		T_SKIP("loopback connects never hang on a full backlog");
	}
	setup(IN_NONE);
	c.h = get(s.port, "/", 0, 3, on_done);
	loop_timer_start(c.l, &c.outside, 100, outside_cb, NULL);
	loop_run(c.l);
	check_cancelled();
	CHECK(c.t_done - c.t_start < 1);
	teardown();
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(s.lfd);
}

static const struct t_case cases[] = {
	{ "plain_get", test_plain_get },
	{ "cancel_in_head", test_cancel_in_head },
	{ "cancel_in_body", test_cancel_in_body },
	{ "cancel_in_sse", test_cancel_in_sse },
	{ "cancel_other_in_cb", test_cancel_other_in_cb },
	{ "cancel_outside", test_cancel_outside },
	{ "cancel_before_start", test_cancel_before_start },
	{ "free_in_flight", test_free_in_flight },
	{ "connect_timeout", test_connect_timeout },
	{ "cancel_connecting", test_cancel_connecting },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
