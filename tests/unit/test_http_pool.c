/*
 * The HTTP client against peers that do not play by the rules, on real
 * loopback sockets: a response nobody asked for, sent on a kept-alive
 * connection while it sat in the pool, must never be taken as the next
 * request's answer; and a request that carries a key in the clear
 * (loopback_only) connects to loopback addresses only.  Every case arms
 * alarm() and a guard timer so a hang fails instead of blocking the run.
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

/* --- a server that answers twice on one connection ---------------------- */

struct srv {
	int lfd;
	int port;
	pthread_t th;
	int reused;		/* a second request came on the first conn */
	int conns;		/* connections accepted */
};

static int
wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { fd, ev, 0 };

	return poll(&p, 1, ms) == 1;
}

/* Reads one request head from fd; 0 on success. */
static int
read_req(int fd)
{
	char b[4096];
	size_t len = 0;
	ssize_t n;

	b[0] = '\0';
	while (strstr(b, "\r\n\r\n") == NULL && len < sizeof(b) - 1) {
		if (!wait_fd(fd, POLLIN, 5000))
			return -1;
		n = recv(fd, b + len, sizeof(b) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		b[len] = '\0';
	}
	return 0;
}

#define RESP(body) "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" body

/*
 * First connection: the answer "A", then 30 ms later an extra answer "X"
 * nobody asked for.  A second request, on that connection or a new one,
 * gets "B".
 */
static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p[2];
	int fd, fd2;

	if (!wait_fd(s->lfd, POLLIN, 5000) ||
	    (fd = accept(s->lfd, NULL, NULL)) < 0)
		return NULL;
	s->conns++;
	if (read_req(fd) == 0) {
		write_all(fd, RESP("A\n"), strlen(RESP("A\n")));
		usleep(30000);
		write_all(fd, RESP("X\n"), strlen(RESP("X\n")));
	}
	p[0].fd = s->lfd;
	p[0].events = POLLIN;
	p[1].fd = fd;
	p[1].events = POLLIN;
	while (poll(p, 2, 5000) > 0) {
		if (p[1].revents & (POLLIN | POLLHUP)) {
			if (read_req(fd) != 0) {
				p[1].fd = -1;	/* the client closed it */
				continue;
			}
			s->reused = 1;
			write_all(fd, RESP("B\n"), strlen(RESP("B\n")));
			break;
		}
		if ((p[0].revents & POLLIN) &&
		    (fd2 = accept(s->lfd, NULL, NULL)) >= 0) {
			s->conns++;
			if (read_req(fd2) == 0)
				write_all(fd2, RESP("B\n"),
				    strlen(RESP("B\n")));
			usleep(100000);
			close(fd2);
			break;
		}
	}
	close(fd);
	return NULL;
}

static void
srv_start(struct srv *s)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->lfd, 8) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0 ||
	    pthread_create(&s->th, NULL, srv_main, s) != 0) {
		perror("loopback server");
		exit(1);
	}
	s->port = ntohs(a.sin_port);
}

/* --- the client ---------------------------------------------------------- */

static struct {
	struct loop *l;
	struct http_client *cl;
	struct loop_timer guard;
	int dones, err;
	char body[64];
	char text[512];
} c;

static void
guard_cb(struct loop *l, struct loop_timer *t)
{
	fprintf(stderr, "guard timer fired: the request did not finish\n");
	t_failures++;
	loop_stop(l);
}

static void
on_body(void *arg, const char *p, size_t n)
{
	size_t have = strlen(c.body);

	if (n > sizeof(c.body) - 1 - have)
		n = sizeof(c.body) - 1 - have;
	memcpy(c.body + have, p, n);
	c.body[have + n] = '\0';
}

static void
on_done(void *arg, int err, const char *text)
{
	c.dones++;
	c.err = err;
	snprintf(c.text, sizeof(c.text), "%s", text ? text : "");
	loop_stop(c.l);
}

/* Runs one request to url until it is done; loopback_only as given. */
static void
fetch(const char *url, int loopback_only)
{
	struct drove_http_req r;
	struct http_req *h = NULL;
	char err[256];

	c.dones = 0;
	c.err = 0;
	c.body[0] = '\0';
	c.text[0] = '\0';
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.url = url;
	r.connect_timeout_s = 2;
	r.loopback_only = loopback_only;
	r.on_body = on_body;
	r.on_done = on_done;
	CHECK_INT(http_request(c.cl, &r, &h, err, sizeof(err)), 0);
	loop_timer_start(c.l, &c.guard, 5000, guard_cb, NULL);
	loop_run(c.l);
	loop_timer_stop(c.l, &c.guard);
	CHECK_INT(c.dones, 1);
}

static void
setup(void)
{
	alarm(20);
	memset(&c, 0, sizeof(c));
	c.l = loop_new();
	CHECK(c.l != NULL);
	c.cl = http_client_new(c.l);
	CHECK(c.cl != NULL);
}

static void
teardown(void)
{
	http_client_free(c.cl);
	loop_free(c.l);
}

/* --- cases --------------------------------------------------------------- */

/* The extra answer arrives while the connection is pooled and the loop
 * does not run: the next request must not reuse it, and gets its own. */
static void
test_unasked_response_not_reused(void)
{
	struct http_stats st;
	struct srv s;
	char url[64];

	srv_start(&s);
	setup();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	fetch(url, 0);
	CHECK_INT(c.err, 0);
	CHECK_STR(c.body, "A\n");
	usleep(200000);		/* "X" arrives meanwhile, unread */
	fetch(url, 0);
	CHECK_INT(c.err, 0);
	CHECK_STR(c.body, "B\n");
	http_client_stats(c.cl, &st);
	CHECK_INT(st.reuses, 0);
	CHECK_INT(st.connects, 2);
	teardown();
	pthread_join(s.th, NULL);
	close(s.lfd);
	CHECK_INT(s.reused, 0);
	CHECK_INT(s.conns, 2);
}

/* loopback_only: a non-loopback address is refused before any connect,
 * with a sentence; loopback is fine. */
static void
test_loopback_only(void)
{
	struct srv s;
	char url[64];
	double t0;

	setup();
	t0 = now_mono();
	fetch("http://192.0.2.1:9/v1", 1);
	CHECK_INT(c.err, DROVE_EINVAL);
	CHECK_HAS(c.text, "192.0.2.1, which is not a loopback address");
	CHECK(now_mono() - t0 < 1);
	fetch("http://[::ffff:10.1.2.3]:9/", 1);
	CHECK_INT(c.err, DROVE_EINVAL);
	CHECK_HAS(c.text, "not a loopback address");
	srv_start(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	fetch(url, 1);
	CHECK_INT(c.err, 0);
	CHECK_STR(c.body, "A\n");
	teardown();
	pthread_join(s.th, NULL);
	close(s.lfd);
}

static const struct t_case cases[] = {
	{ "unasked_response_not_reused", test_unasked_response_not_reused },
	{ "loopback_only", test_loopback_only },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
