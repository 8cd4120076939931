/*
 * Name resolution off the loop thread: getaddrinfo runs on a few helper
 * threads and each result comes back through loop_async, so callbacks run
 * on the loop thread.  A resolver looks each host and port up once and
 * keeps the answer for DNS_TTL_MS (getaddrinfo gives no TTL); requests for
 * a name being looked up wait for that lookup.  Failures are not kept.
 */
#ifndef DROVE_DNS_H
#define DROVE_DNS_H

#include <netdb.h>

struct loop;
struct dns;
struct dns_req;

/* How long an answer is used: a short TTL, so a moved host is found. */
#define DNS_TTL_MS 60000

/*
 * Called once on the loop thread.  err is 0 and ai the addresses (the
 * callee takes them over: dns_addrs_free), or DROVE_EDNS with ai NULL and
 * the reason in errtext (borrowed for the call).
 */
typedef void (*dns_fn)(void *arg, int err, struct addrinfo *ai,
    const char *errtext);

/* A resolver for loop l; NULL on failure. */
struct dns *dns_new(struct loop *l);
/* Stops the helper threads; pending requests end without callbacks. */
void dns_free(struct dns *d);
/* Starts resolving host and port (both copied) for a TCP connection.
 * Returns a handle valid until cb runs or dns_cancel. */
struct dns_req *dns_resolve(struct dns *d, const char *host,
    const char *port, dns_fn cb, void *arg);
/* cb will not run; the handle is invalid afterwards. */
void dns_cancel(struct dns_req *r);
/* A copy of the list ai (the caller frees it with dns_addrs_free). */
struct addrinfo *dns_addrs_copy(const struct addrinfo *ai);
/* Frees addresses from dns_resolve or dns_addrs_copy. */
void dns_addrs_free(struct addrinfo *ai);
/*
 * The address of host and port that took a connection: the answers
 * handed out from now on list it first, so a name with an address that
 * refuses (localhost as ::1 with a server on 127.0.0.1 only) costs one
 * refused connect per answer, not one per connection.  Nothing if the
 * answer is not kept or does not hold sa.
 */
void dns_prefer(struct dns *d, const char *host, const char *port,
    const struct sockaddr *sa, socklen_t len);
/* Lookups actually made (getaddrinfo calls), for tests and -v. */
unsigned long dns_lookups(const struct dns *d);

#endif /* DROVE_DNS_H */
