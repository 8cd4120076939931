/*
 * The HTTP client's connections: the keep-alive pool per origin, the TLS
 * contexts and sessions it reuses, resolving a name and connecting to one
 * of its addresses, and the choice of a proxy.  A pooled connection on
 * which anything arrived while idle is closed, never reused: those bytes
 * would be read as the next request's answer.  http_req.c runs the
 * requests on these connections.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "tls.h"

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

void
http_conn_close(struct conn *c)
{
	if (c->pooled)
		pool_remove(c);
	loop_io_stop(c->cl->loop, &c->io);
	loop_timer_stop(c->cl->loop, &c->idle);
	http_tls_hs_end(c);
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
	http_conn_close(t->data);
}

static void conn_io(struct loop *l, struct loop_io *w, unsigned ev);

void
http_pool_put(struct conn *c)
{
	struct http_client *cl = c->cl;

	c->req = NULL;
	if (cl->npooled >= HTTP_POOL_MAX || cl->fd_short ||
	    loop_io_set(cl->loop, &c->io, LOOP_READ) != 0) {
		http_conn_close(c);
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
				http_conn_close(c);
				goto again;
			}
			pool_remove(c);
			return c;
		}
	return NULL;
}

int
http_tls_ctx(struct http_client *cl, const char *ca_file, struct tls_ctx **out,
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

struct tls_session *
http_tls_sess_find(struct http_client *cl, const char *key)
{
	struct sess_entry *e = find_sess(cl, key);

	return e ? e->sess : NULL;
}

static struct sess_entry *
get_sess(struct http_client *cl, const char *key)
{
	struct sess_entry *e = find_sess(cl, key);

	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->next = cl->sessions;
		cl->sessions = e;
	}
	return e;
}

void
http_tls_sess_save(struct http_client *cl, const char *key, struct tls_conn *t)
{
	struct sess_entry *e = get_sess(cl, key);
	struct tls_session *s = tls_conn_session(t);

	if (s == NULL) {
		if (e->sess == NULL)
			e->nosess = 1;
		return;
	}
	tls_session_free(e->sess);
	e->sess = s;
}

int
http_tls_may_start(struct http_req *q, int force)
{
	struct sess_entry *e = get_sess(q->cl, q->key);

	if (e->sess != NULL || e->nosess)
		return 1;
	if (!force && e->nfull >= HTTP_TLS_FULL_MAX)
		return 0;
	e->nfull++;
	q->conn->full_hs = 1;
	return 1;
}

void
http_tls_hs_end(struct conn *c)
{
	struct http_client *cl = c->cl;
	struct sess_entry *e;
	struct http_req *q;

	if (!c->full_hs)
		return;
	c->full_hs = 0;
	if ((e = find_sess(cl, c->key)) == NULL)
		return;
	if (e->nfull > 0)
		e->nfull--;
	for (q = cl->reqs; q; q = q->next)
		if (q->state == S_TLS_WAIT && strcmp(q->key, e->key) == 0)
			http_conn_want(q->conn, LOOP_WRITE);
}

void
http_conn_want(struct conn *c, unsigned ev)
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
		http_conn_close(c);
		return;
	}
	http_req_step(c->req, ev);
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
/*
 * The first HTTPS connect: the TLS context (the CA bundle parsed, a few
 * milliseconds for a system store) is made while the TCP handshake is in
 * flight, not after it.  A failure is left for the TLS start to report:
 * a context that failed is not kept, so it is tried and told there.
 */
static void
warm_tls(struct http_req *q)
{
	struct tls_ctx *ctx;
	char text[256];

	if (q->url.https)
		(void)http_tls_ctx(q->cl, q->ca_file, &ctx, text,
		    sizeof(text));
}

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
			http_conn_close(c);
			continue;
		}
		q->conn = c;
		q->state = S_CONNECT;
		q->ai_used = a;
		q->ai_cur = a->ai_next;
		warm_tls(q);
		return;
	}
	if (remote && q->conn == NULL) {
		errf(text, sizeof(text), "plain http:// to '%s' would go to "
		    "%s, which is not a loopback address: the key would "
		    "travel unencrypted (use https://, or set "
		    "allow_plain_http = true)", host, addr);
		http_req_finish(q, DROVE_EINVAL, text);
		return;
	}
	if (e == ECONNREFUSED) {
		errf(text, sizeof(text), "cannot connect to %s port %s: "
		    "connection refused", host, port);
		http_req_finish(q, DROVE_ECONNREFUSED, text);
	} else {
		errf(text, sizeof(text), "cannot connect to %s port %s: %s",
		    host, port, strerror(e));
		if (e == EMFILE || e == ENFILE) {
			/* out of descriptors: from now on a connection
			 * that ends is closed, not kept idle, so the
			 * call that ends can write its output */
			cl->fd_short = 1;
			while (cl->pool != NULL)
				http_conn_close(cl->pool);
		}
		http_req_finish(q, e == ETIMEDOUT ? DROVE_ETIMEDOUT :
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
		http_req_finish(q, err, errtext);
		return;
	}
	q->ai = q->ai_cur = ai;
	try_connect(q);
}

void
http_conn_start(struct http_req *q)
{
	struct addrinfo hints, *ai;
	const char *host, *port;
	int rc;

	if (!q->retried && (q->conn = pool_get(q->cl, q->key)) != NULL) {
		q->conn->req = q;
		q->reused = 1;
		q->cl->st.reuses++;
		http_req_begin_write(q);
		return;
	}
	q->reused = 0;
	host = q->use_proxy ? q->proxy.host : q->url.host;
	port = q->use_proxy ? q->proxy.port : q->url.port;
	q->state = S_RESOLVE;
	http_req_arm(q, q->to_connect, "connect");
	if (url_host_is_ip(host)) {
		/* literals skip the resolver */
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
		if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
			http_req_finish(q, DROVE_EINVAL, gai_strerror(rc));
			return;
		}
		/* in the resolver's form, freed as its answers are */
		on_resolved(q, 0, dns_addrs_copy(ai), NULL);
		freeaddrinfo(ai);
		return;
	}
	q->dns = dns_resolve(q->cl->dns, host, port, on_resolved, q);
}

/* A new TCP connection is up: the request goes on from there. */
static void
connected(struct http_req *q)
{
	int one = 1;

	setsockopt(q->conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* counted once up: an address that refused is no connection */
	q->cl->st.connects++;
	/* the next answers for this name start with the address that
	 * took it (a no-op when it was first already) */
	if (q->ai_used != NULL && q->ai_used != q->ai)
		dns_prefer(q->cl->dns, q->use_proxy ? q->proxy.host :
		    q->url.host, q->use_proxy ? q->proxy.port : q->url.port,
		    q->ai_used->ai_addr, q->ai_used->ai_addrlen);
	dns_addrs_free(q->ai);
	q->ai = q->ai_cur = q->ai_used = NULL;
	http_req_connected(q);
}

/* The connect of q's new connection finished (LOOP_WRITE) or failed. */
void
http_conn_step(struct http_req *q, unsigned ev)
{
	struct conn *c = q->conn;
	char text[300];
	int e;
	socklen_t sl;

	e = 0;
	sl = sizeof(e);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
		e = errno;
	if (e == 0 && !(ev & LOOP_WRITE))
		return;
	if (e != 0) {
		http_conn_close(c);
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
		http_req_finish(q, e == ECONNREFUSED ? DROVE_ECONNREFUSED :
		    DROVE_EIO, text);
		return;
	}
	connected(q);
}

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

int
http_proxy_setup(struct http_req *q, char *err, size_t errlen)
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
		http_req_free(cl->reqs);
	}
	while (cl->pool)
		http_conn_close(cl->pool);
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
	st->dns_lookups = cl->dns ? dns_lookups(cl->dns) : 0;
}
