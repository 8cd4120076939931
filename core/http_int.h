/*
 * Inside the HTTP client: what its two halves share.  http_conn.c keeps
 * the connections (the keep-alive pool, the TLS contexts and sessions,
 * resolving and connecting, the choice of a proxy); http_req.c runs a
 * request through its states on a connection.  Nothing outside core/http_*
 * includes this; the interface is http.h.
 */
#ifndef DROVE_HTTP_INT_H
#define DROVE_HTTP_INT_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "http_parse.h"
#include "loop.h"
#include "sse.h"
#include "url.h"
#include "util.h"

struct dns;
struct dns_req;
struct tls_conn;
struct tls_ctx;
struct tls_session;

#define RBUF_SIZE 65536
#define READS_PER_WAKEUP 64

enum req_state {
	S_START,
	S_RESOLVE,
	S_CONNECT,
	S_PROXY_WRITE,
	S_PROXY_READ,
	S_TLS_WAIT,	/* for its origin's first handshakes (coalescing) */
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
	int full_hs;		/* counted in its origin's full handshakes */
};

struct ctx_entry {
	char *ca_file;		/* as asked, "" for the default */
	struct tls_ctx *ctx;
	struct ctx_entry *next;
};

/*
 * Per origin: the session to resume, and while there is none yet, how
 * many full handshakes are under way (at most HTTP_TLS_FULL_MAX; the other
 * connections wait in S_TLS_WAIT and then resume).  A server that gives
 * no session to resume ends the wait for good (nosess).
 */
#define HTTP_TLS_FULL_MAX 1

struct sess_entry {
	char *key;
	struct tls_session *sess;
	unsigned nfull;
	int nosess;
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
	int fd_short;		/* a connect ran out of descriptors: keep
				 * none idle, the run needs them for files */
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
	struct addrinfo *ai_used;	/* the address being connected to */
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

/* --- http_conn.c: connections ------------------------------------------ */

/* Closes c (and takes it out of the pool). */
void http_conn_close(struct conn *c);
/* Keeps c for the next request to its origin, or closes it. */
void http_pool_put(struct conn *c);
/* Watches c for ev (LOOP_READ or LOOP_WRITE). */
void http_conn_want(struct conn *c, unsigned ev);
/* Gets q a connection: a quiet pooled one (then the request is written
 * at once), else resolves and connects; ends in http_req_connected or
 * http_req_finish. */
void http_conn_start(struct http_req *q);
/* The S_CONNECT step of q, on an event ev of its socket. */
void http_conn_step(struct http_req *q, unsigned ev);
/* The TLS context for ca_file (NULL: the default), made once per client. */
int http_tls_ctx(struct http_client *cl, const char *ca_file,
    struct tls_ctx **out, char *err, size_t errlen);
/* The TLS session saved for origin key, or NULL; saving replaces it. */
struct tls_session *http_tls_sess_find(struct http_client *cl,
    const char *key);
void http_tls_sess_save(struct http_client *cl, const char *key,
    struct tls_conn *t);
/* May q's connection start its TLS handshake now: 1 if its origin has a
 * session to resume, or fewer than HTTP_TLS_FULL_MAX full handshakes under
 * way (then this one counts among them until http_tls_hs_end), or force;
 * 0 if it must wait: q's connection is then watched again when one of
 * those ends. */
int http_tls_may_start(struct http_req *q, int force);
/* c's handshake ended, either way, or c closes: if it was counted as a
 * full one, it is no more, and the connections waiting are woken. */
void http_tls_hs_end(struct conn *c);
/* Sets q up to go through $HTTPS_PROXY unless $NO_PROXY lists its host;
 * returns 0, or < 0 with the reason in err. */
int http_proxy_setup(struct http_req *q, char *err, size_t errlen);

/* --- http_req.c: the request ------------------------------------------ */

/* Runs q's state machine on an event ev of its connection. */
void http_req_step(struct http_req *q, unsigned ev);
/* q's new connection is up: proxy tunnel, TLS or the request next. */
void http_req_connected(struct http_req *q);
/* Writes q's request on the connection now attached. */
void http_req_begin_write(struct http_req *q);
/* Ends q: on_done with err and text, then q is freed. */
void http_req_finish(struct http_req *q, int err, const char *text);
/* Frees q without a callback (the client is going away). */
void http_req_free(struct http_req *q);
/* (Re)starts q's one timer: ms milliseconds, then "timeout: what". */
void http_req_arm(struct http_req *q, uint64_t ms, const char *what);

#endif /* DROVE_HTTP_INT_H */
