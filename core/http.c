/*
 * The HTTP/1.1 client.  A request moves through these states, each with its
 * own timeout on one timer:
 *
 *   START -> RESOLVE -> CONNECT [-> PROXY_WRITE -> PROXY_READ] [-> TLS]
 *         -> WRITE -> READ -> done
 *
 * or START -> WRITE when a pooled connection to the same origin is idle.
 * A pooled connection that fails before any response byte arrived is
 * replaced by a new one, once.  Responses are read into one buffer shared
 * by every connection (the loop runs one callback at a time) and parsed in
 * place, so an open connection costs its socket, its TLS context and a few
 * hundred bytes.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "http_parse.h"
#include "loop.h"
#include "sse.h"
#include "tls.h"
#include "url.h"
#include "util.h"

#define RBUF_SIZE 65536
#define READS_PER_WAKEUP 64

_Static_assert(sizeof(struct http_header) ==
    sizeof(struct drove_http_header), "header layouts differ");
_Static_assert(offsetof(struct http_header, value_len) ==
    offsetof(struct drove_http_header, value_len), "header layouts differ");

enum req_state {
	S_START,
	S_RESOLVE,
	S_CONNECT,
	S_PROXY_WRITE,
	S_PROXY_READ,
	S_TLS,
	S_WRITE,
	S_READ,
	S_DONE,
};

struct conn {
	struct http_client *cl;
	char *key;		/* origin (and proxy, CA file) */
	int fd;
	struct loop_io io;
	struct loop_timer idle;	/* while pooled */
	struct tls_conn *tls;
	struct http_req *req;	/* the request using it, NULL when pooled */
	struct conn *next;	/* pool list */
	int pooled;
};

struct ctx_entry {
	char *ca_file;		/* as asked, "" for the default */
	struct tls_ctx *ctx;
	struct ctx_entry *next;
};

struct sess_entry {
	char *key;
	struct tls_session *sess;
	struct sess_entry *next;
};

struct http_client {
	struct loop *loop;
	struct dns *dns;
	char *rbuf;
	struct conn *pool;
	unsigned long npooled;
	struct ctx_entry *ctxs;
	struct sess_entry *sessions;
	struct http_req *reqs;	/* in flight */
	struct http_stats st;
};

struct http_req {
	struct http_client *cl;
	struct http_req *next, *prev;
	struct drove_http_req r;	/* callbacks, arg and timeouts */
	uint64_t to_connect, to_tls, to_first, to_idle;
	struct url url;
	struct url proxy;
	int use_proxy;
	char *key;
	char *ca_file;
	int head_req;
	struct buf out;		/* the request */
	size_t out_off;
	struct buf pout;	/* the CONNECT request */
	size_t pout_off;
	enum req_state state;
	struct dns_req *dns;
	struct addrinfo *ai, *ai_cur;
	struct conn *conn;
	int reused;		/* conn came from the pool */
	int retried;
	int got_byte;
	int asked_encoding;	/* the request sent Accept-Encoding */
	struct http_resp resp;
	struct sse_parser sse;
	struct loop_timer timer;
	const char *timer_what;
	int in_cb;
	int cancelled;
	char err[256];
};

static void req_step(struct http_req *q, unsigned ev);
static void req_finish(struct http_req *q, int err, const char *text);
static void conn_close(struct conn *c);
static void start_connect(struct http_req *q);

static uint64_t
ms_of(double s, uint64_t dflt)
{
	if (s <= 0)
		return dflt;
	if (s > 1e9)
		s = 1e9;
	return (uint64_t)(s * 1000.0 + 0.5);
}

/* --- the pool ------------------------------------------------------- */

static void
pool_remove(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->cl->pool; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->cl->npooled--;
			break;
		}
	c->pooled = 0;
	c->next = NULL;
	loop_timer_stop(c->cl->loop, &c->idle);
}

static void
conn_close(struct conn *c)
{
	if (c->pooled)
		pool_remove(c);
	loop_io_stop(c->cl->loop, &c->io);
	loop_timer_stop(c->cl->loop, &c->idle);
	tls_conn_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	c->cl->st.open_conns--;
	free(c->key);
	free(c);
}

static void
pool_idle_expired(struct loop *l, struct loop_timer *t)
{
	conn_close(t->data);
}

static void conn_io(struct loop *l, struct loop_io *w, unsigned ev);

static void
pool_put(struct conn *c)
{
	struct http_client *cl = c->cl;

	c->req = NULL;
	if (cl->npooled >= HTTP_POOL_MAX ||
	    loop_io_set(cl->loop, &c->io, LOOP_READ) != 0) {
		conn_close(c);
		return;
	}
	c->pooled = 1;
	c->next = cl->pool;
	cl->pool = c;
	cl->npooled++;
	loop_timer_start(cl->loop, &c->idle, HTTP_POOL_IDLE_MS,
	    pool_idle_expired, c);
}

/* True if nothing arrived on the idle connection c: no bytes, no EOF.
 * Bytes nobody asked for would be read as the next request's answer. */
static int
conn_is_quiet(struct conn *c)
{
	char b;

	if (c->tls != NULL && tls_conn_pending(c->tls))
		return 0;
	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct conn *
pool_get(struct http_client *cl, const char *key)
{
	struct conn *c;

again:
	for (c = cl->pool; c; c = c->next)
		if (strcmp(c->key, key) == 0) {
			if (!conn_is_quiet(c)) {
				conn_close(c);
				goto again;
			}
			pool_remove(c);
			return c;
		}
	return NULL;
}

/* --- TLS contexts and sessions --------------------------------------- */

static int
get_ctx(struct http_client *cl, const char *ca_file, struct tls_ctx **out,
    char *err, size_t errlen)
{
	struct ctx_entry *e;
	const char *k = ca_file ? ca_file : "";
	int rc;

	for (e = cl->ctxs; e; e = e->next)
		if (strcmp(e->ca_file, k) == 0) {
			*out = e->ctx;
			return 0;
		}
	if ((rc = tls_ctx_new(ca_file, out, err, errlen)) != 0)
		return rc;
	e = xcalloc(1, sizeof(*e));
	e->ca_file = xstrdup(k);
	e->ctx = *out;
	e->next = cl->ctxs;
	cl->ctxs = e;
	return 0;
}

static struct sess_entry *
find_sess(struct http_client *cl, const char *key)
{
	struct sess_entry *e;

	for (e = cl->sessions; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void
save_sess(struct http_client *cl, const char *key, struct tls_conn *t)
{
	struct sess_entry *e = find_sess(cl, key);
	struct tls_session *s = tls_conn_session(t);

	if (s == NULL)
		return;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->next = cl->sessions;
		cl->sessions = e;
	}
	tls_session_free(e->sess);
	e->sess = s;
}

/* --- timers ---------------------------------------------------------- */

static void
on_timeout(struct loop *l, struct loop_timer *t)
{
	struct http_req *q = t->data;
	char text[256];

	if (q->state == S_START) {
		start_connect(q);
		return;
	}
	errf(text, sizeof(text), "timeout: %s", q->timer_what);
	req_finish(q, DROVE_ETIMEDOUT, text);
}

static void
arm(struct http_req *q, uint64_t ms, const char *what)
{
	q->timer_what = what;
	loop_timer_start(q->cl->loop, &q->timer, ms, on_timeout, q);
}

/*
 * The response moved on: a whole head, body bytes, or on an event stream
 * a whole event or comment.  Only that restarts the idle timeout, so a
 * peer that trickles a byte at a time cannot hold the request forever.
 */
static void
progress(struct http_req *q)
{
	if (q->state == S_READ)
		arm(q, q->to_idle, "idle (no progress while reading the "
		    "response)");
}

/* --- finishing ------------------------------------------------------- */

static void
req_free(struct http_req *q)
{
	struct http_client *cl = q->cl;

	if (q->prev)
		q->prev->next = q->next;
	else
		cl->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	loop_timer_stop(cl->loop, &q->timer);
	if (q->dns)
		dns_cancel(q->dns);
	if (q->ai)
		freeaddrinfo(q->ai);
	if (q->conn)
		conn_close(q->conn);
	url_release(&q->url);
	url_release(&q->proxy);
	free(q->key);
	free(q->ca_file);
	buf_release(&q->out);
	buf_release(&q->pout);
	http_resp_release(&q->resp);
	sse_release(&q->sse);
	free(q);
}

static void
req_finish(struct http_req *q, int err, const char *text)
{
	struct conn *c = q->conn;

	if (q->state == S_DONE)
		return;
	q->state = S_DONE;
	loop_timer_stop(q->cl->loop, &q->timer);
	if (q->dns) {
		dns_cancel(q->dns);
		q->dns = NULL;
	}
	if (c != NULL) {
		q->conn = NULL;
		if (err == 0 && q->resp.keep_alive)
			pool_put(c);
		else
			conn_close(c);
	}
	q->in_cb++;
	if (q->r.on_done)
		q->r.on_done(q->r.arg, err, err ? text : NULL);
	req_free(q);
}

static void
fail_errno(struct http_req *q, int code, const char *what, int e)
{
	char text[256];

	errf(text, sizeof(text), "%s: %s", what, strerror(e));
	req_finish(q, code, text);
}

/* --- callbacks into the user ------------------------------------------ */

static int
on_resp_head(void *arg, struct http_resp *r)
{
	struct http_req *q = arg;
	const char *ce;
	size_t cel;

	ce = http_resp_header(r, "content-encoding", &cel);
	if (ce != NULL && r->mode != HTTP_BODY_NONE && !q->asked_encoding &&
	    !(cel == 8 && strncasecmp(ce, "identity", 8) == 0)) {
		errf(q->err, sizeof(q->err), "HTTP %d: the server sent the "
		    "body with Content-Encoding '%.*s', which was not asked "
		    "for (drove reads only unencoded bodies)", r->status,
		    (int)(cel > 40 ? 40 : cel), ce);
		return DROVE_EPROTO;
	}
	progress(q);
	if (q->r.on_head) {
		q->in_cb++;
		q->r.on_head(q->r.arg, r->status,
		    (const struct drove_http_header *)r->headers,
		    r->num_headers);
		q->in_cb--;
	}
	return q->cancelled ? DROVE_ECANCELED : 0;
}

static int
on_sse_event(void *arg, const struct sse_event *ev)
{
	struct http_req *q = arg;
	struct drove_sse_event de;

	de.size = sizeof(de);
	de.event = ev->event;
	de.data = ev->data;
	de.data_len = ev->data_len;
	de.id = ev->id;
	progress(q);
	if (q->r.on_sse) {
		q->in_cb++;
		q->r.on_sse(q->r.arg, &de);
		q->in_cb--;
	}
	return q->cancelled ? DROVE_ECANCELED : 0;
}

static int
on_resp_body(void *arg, const char *p, size_t n)
{
	struct http_req *q = arg;
	uint64_t comments = q->sse.comments;
	int rc;

	if (q->r.sse) {
		/* only a successful response is an event stream */
		if (q->resp.status / 100 == 2) {
			rc = sse_feed(&q->sse, p, n);
			if (q->sse.comments != comments)
				progress(q);
			if (rc == DROVE_EPROTO)
				errf(q->err, sizeof(q->err), "protocol error: "
				    "event stream line longer than %u bytes",
				    SSE_MAX_EVENT);
			return rc;
		}
	}
	progress(q);
	if (q->r.on_body) {
		q->in_cb++;
		q->r.on_body(q->r.arg, p, n);
		q->in_cb--;
	}
	return q->cancelled ? DROVE_ECANCELED : 0;
}

/* --- connecting ------------------------------------------------------ */

static void
conn_want(struct conn *c, unsigned ev)
{
	if (c->io.events != ev)
		loop_io_set(c->cl->loop, &c->io, ev);
}

static void
conn_io(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct conn *c = w->data;
	char b[1];

	if (c->req == NULL) {
		/* pooled: the server closed it or sent something unasked */
		if (c->tls == NULL && recv(c->fd, b, 1, MSG_PEEK) < 0 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
	req_step(c->req, ev);
}

/* Starts writing the request on the connection now attached. */
static void
begin_write(struct http_req *q)
{
	q->state = S_WRITE;
	q->out_off = 0;
	arm(q, q->to_first, "no response (first byte)");
	conn_want(q->conn, LOOP_WRITE);
}

static void
begin_tls(struct http_req *q)
{
	struct tls_ctx *ctx;
	struct sess_entry *se;
	char text[256];

	if (get_ctx(q->cl, q->ca_file, &ctx, text, sizeof(text)) != 0) {
		req_finish(q, DROVE_ETLS, text);
		return;
	}
	se = find_sess(q->cl, q->key);
	q->conn->tls = tls_conn_new(ctx, q->conn->fd, q->url.host,
	    se ? se->sess : NULL, text, sizeof(text));
	if (q->conn->tls == NULL) {
		req_finish(q, DROVE_ETLS, text);
		return;
	}
	q->state = S_TLS;
	arm(q, q->to_tls, "TLS handshake");
	req_step(q, LOOP_WRITE);
}

static void
begin_proxy(struct http_req *q)
{
	char *cred, *b64;

	buf_reset(&q->pout);
	buf_printf(&q->pout, "CONNECT %s%s%s:%s HTTP/1.1\r\nHost: %s%s%s:%s"
	    "\r\n", q->url.ipv6 ? "[" : "", q->url.host, q->url.ipv6 ? "]" :
	    "", q->url.port, q->url.ipv6 ? "[" : "", q->url.host,
	    q->url.ipv6 ? "]" : "", q->url.port);
	if (q->proxy.user != NULL) {
		cred = xasprintf("%s:%s", q->proxy.user,
		    q->proxy.pass ? q->proxy.pass : "");
		b64 = tls_base64(cred, strlen(cred));
		buf_printf(&q->pout, "Proxy-Authorization: Basic %s\r\n", b64);
		explicit_bzero(cred, strlen(cred));
		free(cred);
		free(b64);
	}
	buf_adds(&q->pout, "\r\n");
	q->pout_off = 0;
	q->state = S_PROXY_WRITE;
	http_resp_reset(&q->resp);
	q->resp.connect_request = 1;
	conn_want(q->conn, LOOP_WRITE);
}

static void
connected(struct http_req *q)
{
	int one = 1;

	setsockopt(q->conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(q->ai);
	q->ai = q->ai_cur = NULL;
	if (q->use_proxy)
		begin_proxy(q);
	else if (q->url.https)
		begin_tls(q);
	else
		begin_write(q);
}

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static int
addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const unsigned char *b;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	b = s6->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
}

/* Tries the addresses from ai_cur on. */
static void
try_connect(struct http_req *q)
{
	struct http_client *cl = q->cl;
	struct conn *c;
	int fd, e = ECONNREFUSED, remote = 0;
	char text[300], addr[INET6_ADDRSTRLEN] = "";
	const char *host = q->use_proxy ? q->proxy.host : q->url.host;
	const char *port = q->use_proxy ? q->proxy.port : q->url.port;

	for (; q->ai_cur; q->ai_cur = q->ai_cur->ai_next) {
		struct addrinfo *a = q->ai_cur;

		if (q->r.loopback_only && !q->url.https &&
		    !addr_is_loopback(a->ai_addr)) {
			/* a key in the clear goes to loopback only */
			if (!remote)
				getnameinfo(a->ai_addr, a->ai_addrlen, addr,
				    sizeof(addr), NULL, 0, NI_NUMERICHOST);
			remote = 1;
			continue;
		}
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			e = errno;
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->cl = cl;
		c->fd = fd;
		c->key = xstrdup(q->key);
		c->req = q;
		if (++cl->st.open_conns > cl->st.peak_conns)
			cl->st.peak_conns = cl->st.open_conns;
		if (loop_io_start(cl->loop, &c->io, fd, LOOP_WRITE, conn_io,
		    c) != 0) {
			e = errno ? errno : EIO;
			c->fd = -1;
			close(fd);
			conn_close(c);
			continue;
		}
		cl->st.connects++;
		q->conn = c;
		q->state = S_CONNECT;
		q->ai_cur = a->ai_next;
		return;
	}
	if (remote && q->conn == NULL) {
		errf(text, sizeof(text), "plain http:// to '%s' would go to "
		    "%s, which is not a loopback address: the key would "
		    "travel unencrypted (use https://, or set "
		    "allow_plain_http = true)", host, addr);
		req_finish(q, DROVE_EINVAL, text);
		return;
	}
	if (e == ECONNREFUSED) {
		errf(text, sizeof(text), "cannot connect to %s port %s: "
		    "connection refused", host, port);
		req_finish(q, DROVE_ECONNREFUSED, text);
	} else {
		errf(text, sizeof(text), "cannot connect to %s port %s: %s",
		    host, port, strerror(e));
		req_finish(q, e == ETIMEDOUT ? DROVE_ETIMEDOUT :
		    e == EMFILE || e == ENFILE ? DROVE_ENOFD : DROVE_EIO,
		    text);
	}
}

static void
on_resolved(void *arg, int err, struct addrinfo *ai, const char *errtext)
{
	struct http_req *q = arg;

	q->dns = NULL;
	if (err != 0) {
		req_finish(q, err, errtext);
		return;
	}
	q->ai = q->ai_cur = ai;
	try_connect(q);
}

static void
start_connect(struct http_req *q)
{
	struct addrinfo hints, *ai;
	const char *host, *port;
	int rc;

	if (!q->retried && (q->conn = pool_get(q->cl, q->key)) != NULL) {
		q->conn->req = q;
		q->reused = 1;
		q->cl->st.reuses++;
		begin_write(q);
		return;
	}
	q->reused = 0;
	host = q->use_proxy ? q->proxy.host : q->url.host;
	port = q->use_proxy ? q->proxy.port : q->url.port;
	q->state = S_RESOLVE;
	arm(q, q->to_connect, "connect");
	if (url_host_is_ip(host)) {
		/* literals skip the resolver */
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
		if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
			req_finish(q, DROVE_EINVAL, gai_strerror(rc));
			return;
		}
		on_resolved(q, 0, ai, NULL);
		return;
	}
	q->dns = dns_resolve(q->cl->dns, host, port, on_resolved, q);
}

/* The connection failed before any response byte; start over once. */
static int
maybe_retry(struct http_req *q)
{
	if (!q->reused || q->retried || q->got_byte || q->cancelled)
		return 0;
	q->retried = 1;
	q->cl->st.retries++;
	conn_close(q->conn);
	q->conn = NULL;
	http_resp_reset(&q->resp);
	q->resp.connect_request = 0;
	start_connect(q);
	return 1;
}

/* --- I/O ------------------------------------------------------------- */

/* Writes buf from *off; returns 1 when all is written, 0 to wait, -1 after
 * finishing the request with an error. */
static int
write_some(struct http_req *q, const char *buf, size_t len, size_t *off)
{
	struct conn *c = q->conn;
	char text[256];
	ssize_t n;

	while (*off < len) {
		if (c->tls) {
			n = tls_conn_write(c->tls, buf + *off, len - *off,
			    text, sizeof(text));
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
				conn_want(c, n == TLS_WANT_READ ? LOOP_READ :
				    LOOP_WRITE);
				return 0;
			}
			if (n < 0) {
				if (maybe_retry(q))
					return -1;
				req_finish(q, (int)n, text);
				return -1;
			}
		} else {
			n = send(c->fd, buf + *off, len - *off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					conn_want(c, LOOP_WRITE);
					return 0;
				}
				if (maybe_retry(q))
					return -1;
				fail_errno(q, DROVE_ECONNRESET, "cannot send "
				    "the request", errno);
				return -1;
			}
		}
		*off += (size_t)n;
	}
	return 1;
}

/* Reads and parses; returns when it must wait or the request ended. */
static void
read_some(struct http_req *q)
{
	struct conn *c = q->conn;
	char *rbuf = q->cl->rbuf, text[256];
	enum req_state st = q->state;
	ssize_t n, k;
	size_t off;
	int i;

	for (i = 0; ; i++) {
		if (i >= READS_PER_WAKEUP && !(c->tls &&
		    tls_conn_pending(c->tls)))
			return;	/* level-triggered: the loop comes back */
		if (c->tls) {
			n = tls_conn_read(c->tls, rbuf, RBUF_SIZE, text,
			    sizeof(text));
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
				conn_want(c, n == TLS_WANT_READ ? LOOP_READ :
				    LOOP_WRITE);
				return;
			}
		} else {
			n = recv(c->fd, rbuf, RBUF_SIZE, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				conn_want(c, LOOP_READ);
				return;
			}
			if (n < 0) {
				errf(text, sizeof(text), "connection error: "
				    "%s", strerror(errno));
				n = errno == ECONNRESET ? DROVE_ECONNRESET :
				    DROVE_EIO;
			}
		}
		if (n < 0) {
			if (maybe_retry(q))
				return;
			req_finish(q, (int)n, text);
			return;
		}
		if (n == 0) {
			if (maybe_retry(q))
				return;
			if (http_resp_eof(&q->resp, q->err,
			    sizeof(q->err)) != 0) {
				errf(text, sizeof(text), "protocol error: %s",
				    q->err);
				req_finish(q, DROVE_EPROTO, text);
				return;
			}
			/* the body ended with the connection */
			q->resp.keep_alive = 0;
			req_finish(q, 0, NULL);
			return;
		}
		if (!q->got_byte && st == S_READ)
			progress(q);	/* the first byte */
		q->got_byte = 1;
		off = 0;
		while (off < (size_t)n) {
			k = http_resp_feed(&q->resp, rbuf + off, (size_t)n - off,
			    q->err, sizeof(q->err));
			if (k == DROVE_ECANCELED || q->cancelled) {
				req_finish(q, DROVE_ECANCELED, "cancelled");
				return;
			}
			if (k < 0) {
				if (k != HTTP_PARSE_ERROR)
					snprintf(text, sizeof(text), "%s",
					    q->err);
				else
					errf(text, sizeof(text),
					    "protocol error: %s", q->err);
				req_finish(q, k == HTTP_PARSE_ERROR ?
				    DROVE_EPROTO : (int)k, text);
				return;
			}
			off += (size_t)k;
			if (!http_resp_done(&q->resp))
				continue;
			if (st == S_PROXY_READ) {
				if (q->resp.status / 100 != 2) {
					errf(text, sizeof(text), "proxy %s "
					    "port %s refused CONNECT: %d "
					    "%.*s", q->proxy.host,
					    q->proxy.port, q->resp.status,
					    (int)q->resp.reason_len,
					    q->resp.reason);
					req_finish(q, DROVE_EHTTP, text);
					return;
				}
				if (off != (size_t)n) {
					req_finish(q, DROVE_EPROTO, "protocol "
					    "error: proxy sent data before "
					    "the TLS handshake");
					return;
				}
				http_resp_reset(&q->resp);
				q->resp.connect_request = 0;
				q->got_byte = 0;
				begin_tls(q);
				return;
			}
			/* no pipelining: extra bytes spoil the connection */
			if (off != (size_t)n || (c->tls &&
			    tls_conn_pending(c->tls)))
				q->resp.keep_alive = 0;
			req_finish(q, 0, NULL);
			return;
		}
	}
}

static void
req_step(struct http_req *q, unsigned ev)
{
	struct conn *c = q->conn;
	char text[300];
	int rc, e;
	socklen_t sl;

	switch (q->state) {
	case S_CONNECT:
		e = 0;
		sl = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
			e = errno;
		if (e == 0 && !(ev & LOOP_WRITE))
			return;
		if (e != 0) {
			conn_close(c);
			q->conn = NULL;
			if (q->ai_cur) {
				try_connect(q);
				return;
			}
			errf(text, sizeof(text), "cannot connect to %s port "
			    "%s: %s", q->use_proxy ? q->proxy.host :
			    q->url.host, q->use_proxy ? q->proxy.port :
			    q->url.port, e == ECONNREFUSED ?
			    "connection refused" : strerror(e));
			req_finish(q, e == ECONNREFUSED ? DROVE_ECONNREFUSED :
			    DROVE_EIO, text);
			return;
		}
		connected(q);
		return;
	case S_PROXY_WRITE:
		rc = write_some(q, q->pout.data, q->pout.len, &q->pout_off);
		if (rc == 1) {
			q->state = S_PROXY_READ;
			conn_want(c, LOOP_READ);
		}
		return;
	case S_PROXY_READ:
		read_some(q);
		return;
	case S_TLS:
		rc = tls_conn_handshake(c->tls, text, sizeof(text));
		if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
			conn_want(c, rc == TLS_WANT_READ ? LOOP_READ :
			    LOOP_WRITE);
			return;
		}
		if (rc != 0) {
			req_finish(q, rc, text);
			return;
		}
		if (tls_conn_resumed(c->tls))
			q->cl->st.resumed++;
		save_sess(q->cl, q->key, c->tls);
		begin_write(q);
		return;
	case S_WRITE:
		rc = write_some(q, q->out.data, q->out.len, &q->out_off);
		if (rc == 1) {
			q->state = S_READ;
			conn_want(c, LOOP_READ);
			if (c->tls && tls_conn_pending(c->tls))
				read_some(q);
		}
		return;
	case S_READ:
		read_some(q);
		return;
	default:
		return;
	}
}

/* --- setting up ------------------------------------------------------ */

/* True if host is listed in NO_PROXY / no_proxy. */
static int
no_proxy(const char *host)
{
	const char *env = getenv("NO_PROXY");
	char **items;
	size_t n, i, hl = strlen(host), il;
	int hit = 0;

	if (env == NULL || *env == '\0')
		env = getenv("no_proxy");
	if (env == NULL || *env == '\0')
		return 0;
	n = strv_split(env, ',', &items);
	for (i = 0; i < n && !hit; i++) {
		char *it = items[i], *colon;

		if (strcmp(it, "*") == 0) {
			hit = 1;
			break;
		}
		if (it[0] == '[' && (colon = strchr(it, ']')) != NULL) {
			*colon = '\0';
			it++;
		} else if ((colon = strrchr(it, ':')) != NULL &&
		    strchr(it, ':') == colon) {
			*colon = '\0';	/* host:port: the port is ignored */
		}
		if (*it == '.')
			it++;
		il = strlen(it);
		if (il == 0)
			continue;
		if (strcasecmp(host, it) == 0)
			hit = 1;
		else if (hl > il && host[hl - il - 1] == '.' &&
		    strcasecmp(host + hl - il, it) == 0)
			hit = 1;
	}
	strv_free(items);
	return hit;
}

static int
setup_proxy(struct http_req *q, char *err, size_t errlen)
{
	const char *env;
	int rc;

	if (!q->url.https)
		return 0;
	env = getenv("HTTPS_PROXY");
	if (env == NULL || *env == '\0')
		env = getenv("https_proxy");
	if (env == NULL || *env == '\0' || no_proxy(q->url.host))
		return 0;
	if (strncasecmp(env, "https://", 8) == 0) {
		errf(err, errlen, "HTTPS_PROXY '%s': only http:// proxies are "
		    "supported", env);
		return DROVE_ENOTSUP;
	}
	rc = url_parse(env, "http", &q->proxy, err, errlen);
	if (rc != 0)
		return rc;
	if (strcmp(q->proxy.port, "80") == 0 && strstr(env, ":80") == NULL) {
		/* curl's default proxy port */
		free(q->proxy.port);
		q->proxy.port = xstrdup("1080");
	}
	q->use_proxy = 1;
	return 0;
}

static int
has_header(const char *const *h, const char *name)
{
	size_t n = strlen(name);

	for (; h && *h; h++)
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
			return 1;
	return 0;
}

static int
build_request(struct http_req *q, const struct drove_http_req *r, char *err,
    size_t errlen)
{
	const char *method = r->method;
	const char *const *h;
	const char *m;

	if (method == NULL)
		method = r->body_len || r->body ? "POST" : "GET";
	for (m = method; *m; m++)
		if (*m <= ' ' || *m >= 0x7f) {
			errf(err, errlen, "bad method '%s'", method);
			return DROVE_EINVAL;
		}
	q->head_req = strcmp(method, "HEAD") == 0;
	for (h = r->headers; h && *h; h++) {
		if (strpbrk(*h, "\r\n") != NULL || strchr(*h, ':') == NULL ||
		    **h == ':' || **h == ' ') {
			errf(err, errlen, "bad request header '%s'", *h);
			return DROVE_EINVAL;
		}
	}
	buf_printf(&q->out, "%s %s HTTP/1.1\r\n", method, q->url.target);
	if (!has_header(r->headers, "host"))
		buf_printf(&q->out, "Host: %s%s%s%s%s\r\n", q->url.ipv6 ? "[" :
		    "", q->url.host, q->url.ipv6 ? "]" : "",
		    q->url.default_port ? "" : ":",
		    q->url.default_port ? "" : q->url.port);
	if (!has_header(r->headers, "user-agent"))
		buf_adds(&q->out, "User-Agent: drove/0.1\r\n");
	q->asked_encoding = has_header(r->headers, "accept-encoding");
	if (r->sse && !has_header(r->headers, "accept"))
		buf_adds(&q->out, "Accept: text/event-stream\r\n");
	if ((r->body_len > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) &&
	    !has_header(r->headers, "content-length") &&
	    !has_header(r->headers, "transfer-encoding"))
		buf_printf(&q->out, "Content-Length: %zu\r\n", r->body_len);
	for (h = r->headers; h && *h; h++)
		buf_printf(&q->out, "%s\r\n", *h);
	buf_adds(&q->out, "\r\n");
	if (r->body_len)
		buf_add(&q->out, r->body, r->body_len);
	return 0;
}

int
http_request(struct http_client *cl, const struct drove_http_req *r,
    struct http_req **handle, char *err, size_t errlen)
{
	struct http_req *q;
	int rc;

	*handle = NULL;
	if (r == NULL || r->size < offsetof(struct drove_http_req, arg) +
	    sizeof(r->arg) || r->url == NULL) {
		errf(err, errlen, "bad HTTP request");
		return DROVE_EINVAL;
	}
	q = xcalloc(1, sizeof(*q));
	q->cl = cl;
	/* a plugin built against an older ABI has a shorter struct */
	memcpy(&q->r, r, r->size < sizeof(q->r) ? r->size : sizeof(q->r));
	q->r.size = sizeof(q->r);
	q->r.url = NULL;
	q->r.method = NULL;
	q->r.headers = NULL;
	q->r.body = NULL;
	q->r.ca_file = NULL;
	q->to_connect = ms_of(r->connect_timeout_s, HTTP_CONNECT_TIMEOUT_MS);
	q->to_tls = ms_of(r->tls_timeout_s, HTTP_TLS_TIMEOUT_MS);
	q->to_first = ms_of(r->first_byte_timeout_s,
	    HTTP_FIRST_BYTE_TIMEOUT_MS);
	q->to_idle = ms_of(r->idle_timeout_s, HTTP_IDLE_TIMEOUT_MS);
	buf_init(&q->out);
	buf_init(&q->pout);
	http_resp_init(&q->resp);
	sse_init(&q->sse, on_sse_event, q);
	if ((rc = url_parse(r->url, NULL, &q->url, err, errlen)) != 0 ||
	    (rc = setup_proxy(q, err, errlen)) != 0 ||
	    (rc = build_request(q, r, err, errlen)) != 0) {
		url_release(&q->url);
		url_release(&q->proxy);
		buf_release(&q->out);
		buf_release(&q->pout);
		http_resp_release(&q->resp);
		sse_release(&q->sse);
		free(q);
		return rc;
	}
	q->resp.head_request = q->head_req;
	q->resp.on_head = on_resp_head;
	q->resp.on_body = on_resp_body;
	q->resp.arg = q;
	q->ca_file = r->ca_file ? xstrdup(r->ca_file) : NULL;
	/* a loopback-only request reuses only connections checked so */
	q->key = xasprintf("%s://%s%s%s:%s|%s%s%s|%s%s", q->url.https ?
	    "https" : "http", q->url.ipv6 ? "[" : "", q->url.host,
	    q->url.ipv6 ? "]" : "", q->url.port, q->use_proxy ?
	    q->proxy.host : "", q->use_proxy ? ":" : "", q->use_proxy ?
	    q->proxy.port : "", q->ca_file ? q->ca_file : "",
	    q->r.loopback_only ? "|lo" : "");
	q->next = cl->reqs;
	if (cl->reqs)
		cl->reqs->prev = q;
	cl->reqs = q;
	/* start from the loop, so no callback runs inside this call */
	q->state = S_START;
	loop_timer_start(cl->loop, &q->timer, 0, on_timeout, q);
	*handle = q;
	return 0;
}

void
http_cancel(struct http_req *q)
{
	if (q == NULL || q->state == S_DONE || q->cancelled)
		return;
	q->cancelled = 1;
	if (q->in_cb == 0)
		req_finish(q, DROVE_ECANCELED, "cancelled");
	/* else the callback's caller sees the flag */
}

struct http_client *
http_client_new(struct loop *l)
{
	struct http_client *cl = xcalloc(1, sizeof(*cl));

	cl->loop = l;
	cl->dns = dns_new(l);
	if (cl->dns == NULL) {
		free(cl);
		return NULL;
	}
	cl->rbuf = xmalloc(RBUF_SIZE);
	return cl;
}

void
http_client_free(struct http_client *cl)
{
	struct ctx_entry *e;
	struct sess_entry *s;

	if (cl == NULL)
		return;
	while (cl->reqs) {
		cl->reqs->state = S_DONE;
		req_free(cl->reqs);
	}
	while (cl->pool)
		conn_close(cl->pool);
	while ((s = cl->sessions) != NULL) {
		cl->sessions = s->next;
		tls_session_free(s->sess);
		free(s->key);
		free(s);
	}
	while ((e = cl->ctxs) != NULL) {
		cl->ctxs = e->next;
		tls_ctx_free(e->ctx);
		free(e->ca_file);
		free(e);
	}
	dns_free(cl->dns);
	free(cl->rbuf);
	free(cl);
}

void
http_client_stats(const struct http_client *cl, struct http_stats *st)
{
	*st = cl->st;
}
