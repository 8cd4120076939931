/*
 * HTTP/1.1 client on the event loop: plain TCP or TLS, optionally through
 * an HTTPS proxy (CONNECT), with a keep-alive pool per origin.  Requests are
 * described by struct drove_http_req (include/drove/plugin.h), so the host
 * table can hand them to plugins unchanged.
 */
#ifndef DROVE_HTTP_H
#define DROVE_HTTP_H

#include <stddef.h>

#include "drove/plugin.h"

struct loop;
struct http_client;
struct http_req;

/* Defaults when a request leaves a timeout at 0 (milliseconds). */
#define HTTP_CONNECT_TIMEOUT_MS 30000	/* name lookup and TCP connect */
#define HTTP_TLS_TIMEOUT_MS 30000
#define HTTP_FIRST_BYTE_TIMEOUT_MS 600000
#define HTTP_IDLE_TIMEOUT_MS 60000	/* no progress: see progress() */
#define HTTP_POOL_IDLE_MS 60000		/* idle pooled connections close */
#define HTTP_POOL_MAX 512		/* idle pooled connections in all */

/* A client for loop l; NULL on failure.  Idle pooled connections keep the
 * loop running until they expire or http_client_free. */
struct http_client *http_client_new(struct loop *l);
/* Closes the pool.  Requests still running are cancelled without their
 * on_done. */
void http_client_free(struct http_client *c);

/*
 * Starts a request.  req and everything it points to is borrowed for the
 * call only.  Returns 0 and *handle (valid until on_done returns), then
 * on_done runs exactly once, never from within this call; or returns < 0
 * with the reason in err, and no callback runs.
 */
int http_request(struct http_client *c, const struct drove_http_req *req,
    struct http_req **handle, char *err, size_t errlen);
/*
 * Cancels a request: no other callback runs, and on_done runs with
 * DROVE_ECANCELED, right away if cancel was not called from one of this
 * request's callbacks, else when that callback returns.  No-op once
 * on_done has started.
 */
void http_cancel(struct http_req *r);

/* Statistics for tests and the benchmark. */
struct http_stats {
	unsigned long connects;		/* TCP connections made */
	unsigned long reuses;		/* requests on a pooled connection */
	unsigned long resumed;		/* TLS sessions resumed */
	unsigned long retries;		/* retried on a fresh connection */
	unsigned long open_conns;	/* connections open now */
	unsigned long peak_conns;	/* most connections open at once */
	unsigned long full_handshakes;	/* TLS handshakes not resumed */
	unsigned long dns_lookups;	/* getaddrinfo calls (dns.h) */
};
void http_client_stats(const struct http_client *c, struct http_stats *st);

#endif /* DROVE_HTTP_H */
