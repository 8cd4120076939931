/*
 * An HTTP/1.1 request on the client's loop.  It moves through these
 * states, each with its own timeout on one timer:
 *
 *   START -> RESOLVE -> CONNECT [-> PROXY_WRITE -> PROXY_READ]
 *         [-> [TLS_WAIT ->] TLS] -> WRITE -> READ -> done
 *
 * or START -> WRITE when a pooled connection to the same origin is idle
 * (RESOLVE and CONNECT, and the pool, are http_conn.c's).  A pooled
 * connection that fails before any response byte arrived is replaced by a
 * new one, once.  Responses are read into one buffer shared by every
 * connection (the loop runs one callback at a time) and parsed in place,
 * so an open connection costs its socket, its TLS context and a few
 * hundred bytes.
 */
#include "http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dns.h"
#include "tls.h"

_Static_assert(sizeof(struct http_header) ==
    sizeof(struct drove_http_header), "header layouts differ");
_Static_assert(offsetof(struct http_header, value_len) ==
    offsetof(struct drove_http_header, value_len), "header layouts differ");

static uint64_t
ms_of(double s, uint64_t dflt)
{
	if (s <= 0)
		return dflt;
	if (s > 1e9)
		s = 1e9;
	return (uint64_t)(s * 1000.0 + 0.5);
}

static void
on_timeout(struct loop *l, struct loop_timer *t)
{
	struct http_req *q = t->data;
	char text[256];

	if (q->state == S_START) {
		http_conn_start(q);
		return;
	}
	errf(text, sizeof(text), "timeout: %s", q->timer_what);
	http_req_finish(q, DROVE_ETIMEDOUT, text);
}

void
http_req_arm(struct http_req *q, uint64_t ms, const char *what)
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
		http_req_arm(q, q->to_idle, "idle (no progress while reading "
		    "the response)");
}

void
http_req_free(struct http_req *q)
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
		dns_addrs_free(q->ai);
	if (q->conn)
		http_conn_close(q->conn);
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

void
http_req_finish(struct http_req *q, int err, const char *text)
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
			http_pool_put(c);
		else
			http_conn_close(c);
	}
	q->in_cb++;
	if (q->r.on_done)
		q->r.on_done(q->r.arg, err, err ? text : NULL);
	http_req_free(q);
}

static void
fail_errno(struct http_req *q, int code, const char *what, int e)
{
	char text[256];

	errf(text, sizeof(text), "%s: %s", what, strerror(e));
	http_req_finish(q, code, text);
}

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

/* Starts writing the request on the connection now attached. */
void
http_req_begin_write(struct http_req *q)
{
	q->state = S_WRITE;
	q->out_off = 0;
	http_req_arm(q, q->to_first, "no response (first byte)");
	http_conn_want(q->conn, LOOP_WRITE);
}

static void
start_tls(struct http_req *q)
{
	struct tls_ctx *ctx;
	char text[256];
	int rc;

	if ((rc = http_tls_ctx(q->cl, q->ca_file, &ctx, text,
	    sizeof(text))) != 0) {
		http_req_finish(q, rc == DROVE_ENOFD ? rc : DROVE_ETLS, text);
		return;
	}
	q->conn->tls = tls_conn_new(ctx, q->conn->fd, q->url.host,
	    http_tls_sess_find(q->cl, q->key), text, sizeof(text));
	if (q->conn->tls == NULL) {
		http_req_finish(q, DROVE_ETLS, text);
		return;
	}
	q->state = S_TLS;
	http_req_step(q, LOOP_WRITE);
}

/*
 * The handshake's timeout runs from here, waiting included: while its
 * origin has no session to resume and its first full handshakes are under
 * way, the connection waits for one of them to end, then resumes.
 */
static void
begin_tls(struct http_req *q)
{
	http_req_arm(q, q->to_tls, "TLS handshake");
	if (!http_tls_may_start(q, 0)) {
		q->state = S_TLS_WAIT;
		http_conn_want(q->conn, 0);
		return;
	}
	start_tls(q);
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
	http_conn_want(q->conn, LOOP_WRITE);
}

/* q has a new connection: a proxy tunnel, TLS, or the request next. */
void
http_req_connected(struct http_req *q)
{
	if (q->use_proxy)
		begin_proxy(q);
	else if (q->url.https)
		begin_tls(q);
	else
		http_req_begin_write(q);
}

/* The connection failed before any response byte; start over once. */
static int
maybe_retry(struct http_req *q)
{
	if (!q->reused || q->retried || q->got_byte || q->cancelled)
		return 0;
	q->retried = 1;
	q->cl->st.retries++;
	http_conn_close(q->conn);
	q->conn = NULL;
	http_resp_reset(&q->resp);
	q->resp.connect_request = 0;
	http_conn_start(q);
	return 1;
}

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
				http_conn_want(c, n == TLS_WANT_READ ?
				    LOOP_READ : LOOP_WRITE);
				return 0;
			}
			if (n < 0) {
				if (maybe_retry(q))
					return -1;
				http_req_finish(q, (int)n, text);
				return -1;
			}
		} else {
			n = send(c->fd, buf + *off, len - *off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					http_conn_want(c, LOOP_WRITE);
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
				http_conn_want(c, n == TLS_WANT_READ ?
				    LOOP_READ : LOOP_WRITE);
				return;
			}
		} else {
			n = recv(c->fd, rbuf, RBUF_SIZE, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				http_conn_want(c, LOOP_READ);
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
			http_req_finish(q, (int)n, text);
			return;
		}
		if (n == 0) {
			if (maybe_retry(q))
				return;
			if (http_resp_eof(&q->resp, q->err,
			    sizeof(q->err)) != 0) {
				errf(text, sizeof(text), "protocol error: %s",
				    q->err);
				http_req_finish(q, DROVE_EPROTO, text);
				return;
			}
			/* the body ended with the connection */
			q->resp.keep_alive = 0;
			http_req_finish(q, 0, NULL);
			return;
		}
		if (!q->got_byte && st == S_READ)
			progress(q);	/* the first byte */
		q->got_byte = 1;
		off = 0;
		while (off < (size_t)n) {
			k = http_resp_feed(&q->resp, rbuf + off,
			    (size_t)n - off, q->err, sizeof(q->err));
			if (k == DROVE_ECANCELED || q->cancelled) {
				http_req_finish(q, DROVE_ECANCELED,
				    "cancelled");
				return;
			}
			if (k < 0) {
				if (k != HTTP_PARSE_ERROR)
					snprintf(text, sizeof(text), "%s",
					    q->err);
				else
					errf(text, sizeof(text),
					    "protocol error: %s", q->err);
				http_req_finish(q, k == HTTP_PARSE_ERROR ?
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
					http_req_finish(q, DROVE_EHTTP, text);
					return;
				}
				if (off != (size_t)n) {
					http_req_finish(q, DROVE_EPROTO,
					    "protocol error: proxy sent data "
					    "before the TLS handshake");
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
			http_req_finish(q, 0, NULL);
			return;
		}
	}
}

void
http_req_step(struct http_req *q, unsigned ev)
{
	struct conn *c = q->conn;
	char text[300];
	int rc;

	switch (q->state) {
	case S_CONNECT:
		http_conn_step(q, ev);
		return;
	case S_PROXY_WRITE:
		rc = write_some(q, q->pout.data, q->pout.len, &q->pout_off);
		if (rc == 1) {
			q->state = S_PROXY_READ;
			http_conn_want(c, LOOP_READ);
		}
		return;
	case S_PROXY_READ:
		read_some(q);
		return;
	case S_TLS_WAIT:
		/* woken; an error on the socket is the handshake's to report */
		if (http_tls_may_start(q, (ev & LOOP_ERROR) != 0))
			start_tls(q);
		else
			http_conn_want(c, 0);
		return;
	case S_TLS:
		rc = tls_conn_handshake(c->tls, text, sizeof(text));
		if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
			http_conn_want(c, rc == TLS_WANT_READ ? LOOP_READ :
			    LOOP_WRITE);
			return;
		}
		if (rc != 0) {
			http_req_finish(q, rc, text);
			return;
		}
		if (tls_conn_resumed(c->tls))
			q->cl->st.resumed++;
		else
			q->cl->st.full_handshakes++;
		http_tls_sess_save(q->cl, q->key, c->tls);
		http_tls_hs_end(c);
		http_req_begin_write(q);
		return;
	case S_WRITE:
		rc = write_some(q, q->out.data, q->out.len, &q->out_off);
		if (rc == 1) {
			q->state = S_READ;
			http_conn_want(c, LOOP_READ);
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
	    (rc = http_proxy_setup(q, err, errlen)) != 0 ||
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
		http_req_finish(q, DROVE_ECANCELED, "cancelled");
	/* else the callback's caller sees the flag */
}
