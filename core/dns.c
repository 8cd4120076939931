/*
 * getaddrinfo on helper threads.  Lookups wait in a queue for one of at
 * most DNS_THREADS threads, which are started on demand and live until
 * dns_free.  Finished lookups go on a list the loop thread drains when
 * its loop_async fires.
 *
 * Each host and port is one entry, touched only on the loop thread: its
 * answer (kept DNS_TTL_MS), the lookup in flight and the requests waiting
 * for it.  A request for an entry with a fresh answer gets a copy of it
 * through the same loop_async, never from within dns_resolve.
 */
#include "dns.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"
#include "loop.h"
#include "util.h"

#define DNS_THREADS 4

struct dns_entry {
	struct dns_entry *next;
	char *host;
	char *port;
	struct addrinfo *ai;		/* the answer (getaddrinfo's) or NULL */
	uint64_t expires_ms;		/* loop time it is stale at */
	struct dns_req *lookup;		/* in flight, or NULL */
	struct dns_req *waiters, **waiters_tail;
};

struct dns_req {
	struct dns *d;
	struct dns_entry *e;	/* lookup: its entry; request: the entry it
				 * waits on, NULL once it is being answered */
	int is_lookup;
	char *host;		/* lookup only */
	char *port;
	dns_fn cb;
	void *arg;
	int cancelled;
	int rc;			/* getaddrinfo's result */
	struct addrinfo *ai;	/* lookup: getaddrinfo's; request: a copy */
	struct dns_req *next;
};

struct dns {
	struct loop *loop;
	struct loop_async async;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dns_req *queue, **queue_tail;	/* lookups waiting */
	struct dns_req *done;			/* lookups finished */
	pthread_t threads[DNS_THREADS];
	int nthreads;
	int idle;
	int stopping;
	/* loop thread only */
	struct dns_entry *entries;
	struct dns_req *ready, **ready_tail;	/* answered from an entry */
	unsigned long lookups;
};

struct addrinfo *
dns_addrs_copy(const struct addrinfo *ai)
{
	struct addrinfo *head = NULL, **tail = &head, *n;

	for (; ai != NULL; ai = ai->ai_next) {
		n = xcalloc(1, sizeof(*n) + ai->ai_addrlen);
		n->ai_flags = ai->ai_flags;
		n->ai_family = ai->ai_family;
		n->ai_socktype = ai->ai_socktype;
		n->ai_protocol = ai->ai_protocol;
		n->ai_addrlen = ai->ai_addrlen;
		n->ai_addr = (struct sockaddr *)(void *)(n + 1);
		memcpy(n->ai_addr, ai->ai_addr, ai->ai_addrlen);
		*tail = n;
		tail = &n->ai_next;
	}
	return head;
}

void
dns_addrs_free(struct addrinfo *ai)
{
	struct addrinfo *next;

	for (; ai != NULL; ai = next) {
		next = ai->ai_next;
		free(ai);
	}
}

static void
req_free(struct dns_req *r)
{
	if (r->ai != NULL) {
		if (r->is_lookup)
			freeaddrinfo(r->ai);
		else
			dns_addrs_free(r->ai);
	}
	free(r->host);
	free(r->port);
	free(r);
}

static void *
worker(void *arg)
{
	struct dns *d = arg;
	struct dns_req *r;
	struct addrinfo hints;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->queue == NULL && !d->stopping) {
			d->idle++;
			pthread_cond_wait(&d->cv, &d->mu);
			d->idle--;
		}
		if (d->stopping)
			break;
		r = d->queue;
		d->queue = r->next;
		if (d->queue == NULL)
			d->queue_tail = &d->queue;
		pthread_mutex_unlock(&d->mu);

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_ADDRCONFIG;
		r->rc = getaddrinfo(r->host, r->port, &hints, &r->ai);

		pthread_mutex_lock(&d->mu);
		r->next = d->done;
		d->done = r;
		loop_async_send(d->loop, &d->async);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* A lookup ended: keep its answer and give it to the waiting requests. */
static void
lookup_done(struct dns *d, struct dns_req *lk)
{
	struct dns_entry *e = lk->e;
	struct dns_req *list, *r;
	char msg[256];

	e->lookup = NULL;
	dns_addrs_free(e->ai);
	e->ai = NULL;
	if (lk->rc == 0) {
		/* our own copy: dns_prefer reorders it */
		e->ai = dns_addrs_copy(lk->ai);
		e->expires_ms = loop_now(d->loop) + DNS_TTL_MS;
	} else
		errf(msg, sizeof(msg), "cannot resolve '%s': %s", e->host,
		    lk->rc == EAI_SYSTEM ? "system error" :
		    gai_strerror(lk->rc));
	/* detached first: a callback may resolve or cancel */
	list = e->waiters;
	e->waiters = NULL;
	e->waiters_tail = &e->waiters;
	for (r = list; r != NULL; r = r->next)
		r->e = NULL;
	while ((r = list) != NULL) {
		list = r->next;
		if (r->cancelled)
			;
		else if (lk->rc != 0)
			r->cb(r->arg, DROVE_EDNS, NULL, msg);
		else
			r->cb(r->arg, 0, dns_addrs_copy(e->ai), NULL);
		req_free(r);
	}
	req_free(lk);
}

static void
on_async(struct loop *l, struct loop_async *a)
{
	struct dns *d = a->data;
	struct dns_req *list, *r, *rev = NULL;

	(void)l;
	pthread_mutex_lock(&d->mu);
	list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->mu);
	/* in completion order */
	while (list) {
		r = list;
		list = r->next;
		r->next = rev;
		rev = r;
	}
	while ((r = rev) != NULL) {
		rev = r->next;
		lookup_done(d, r);
	}
	list = d->ready;
	d->ready = NULL;
	d->ready_tail = &d->ready;
	while ((r = list) != NULL) {
		struct addrinfo *ai = r->ai;

		list = r->next;
		r->ai = NULL;
		if (r->cancelled)
			dns_addrs_free(ai);
		else
			r->cb(r->arg, 0, ai, NULL);
		req_free(r);
	}
}

struct dns *
dns_new(struct loop *l)
{
	struct dns *d = xcalloc(1, sizeof(*d));

	d->loop = l;
	d->queue_tail = &d->queue;
	d->ready_tail = &d->ready;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (loop_async_start(l, &d->async, on_async, d) != 0) {
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->cv);
		free(d);
		return NULL;
	}
	return d;
}

void
dns_free(struct dns *d)
{
	struct dns_entry *e;
	struct dns_req *r;
	int i;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stopping = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	/* a thread inside getaddrinfo finishes that lookup first */
	for (i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	while ((r = d->queue) != NULL) {
		d->queue = r->next;
		req_free(r);
	}
	while ((r = d->done) != NULL) {
		d->done = r->next;
		req_free(r);
	}
	while ((r = d->ready) != NULL) {
		d->ready = r->next;
		req_free(r);
	}
	while ((e = d->entries) != NULL) {
		d->entries = e->next;
		while ((r = e->waiters) != NULL) {
			e->waiters = r->next;
			req_free(r);
		}
		dns_addrs_free(e->ai);
		free(e->host);
		free(e->port);
		free(e);
	}
	loop_async_stop(d->loop, &d->async);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

/* Queues a lookup for e on the helper threads. */
static void
start_lookup(struct dns *d, struct dns_entry *e)
{
	struct dns_req *lk = xcalloc(1, sizeof(*lk));
	sigset_t all, old;

	lk->d = d;
	lk->e = e;
	lk->is_lookup = 1;
	lk->host = xstrdup(e->host);
	lk->port = xstrdup(e->port);
	e->lookup = lk;
	d->lookups++;
	pthread_mutex_lock(&d->mu);
	*d->queue_tail = lk;
	d->queue_tail = &lk->next;
	if (d->idle == 0 && d->nthreads < DNS_THREADS) {
		/* helpers take no signals: the loop reads them */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&d->threads[d->nthreads], NULL, worker,
		    d) == 0)
			d->nthreads++;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

struct dns_req *
dns_resolve(struct dns *d, const char *host, const char *port, dns_fn cb,
    void *arg)
{
	struct dns_req *r = xcalloc(1, sizeof(*r));
	struct dns_entry *e;

	r->d = d;
	r->cb = cb;
	r->arg = arg;
	for (e = d->entries; e != NULL; e = e->next)
		if (strcmp(e->host, host) == 0 && strcmp(e->port, port) == 0)
			break;
	if (e != NULL && e->lookup == NULL && e->ai != NULL &&
	    loop_update_time(d->loop) < e->expires_ms) {
		r->ai = dns_addrs_copy(e->ai);
		*d->ready_tail = r;
		d->ready_tail = &r->next;
		loop_async_send(d->loop, &d->async);
		return r;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->host = xstrdup(host);
		e->port = xstrdup(port);
		e->waiters_tail = &e->waiters;
		e->next = d->entries;
		d->entries = e;
	}
	if (e->lookup == NULL)
		start_lookup(d, e);
	r->e = e;
	*e->waiters_tail = r;
	e->waiters_tail = &r->next;
	return r;
}

void
dns_cancel(struct dns_req *r)
{
	struct dns_entry *e = r->e;
	struct dns_req **pp;

	if (e == NULL) {
		/* being answered, or on the ready list: dropped there */
		r->cancelled = 1;
		return;
	}
	for (pp = &e->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			if (e->waiters_tail == &r->next)
				e->waiters_tail = pp;
			break;
		}
	}
	/* the lookup goes on: its answer is kept for the next request */
	req_free(r);
}

void
dns_prefer(struct dns *d, const char *host, const char *port,
    const struct sockaddr *sa, socklen_t len)
{
	struct dns_entry *e;
	struct addrinfo **pp, *a;

	for (e = d->entries; e != NULL; e = e->next)
		if (strcmp(e->host, host) == 0 && strcmp(e->port, port) == 0)
			break;
	if (e == NULL || e->ai == NULL)
		return;
	for (pp = &e->ai; (a = *pp) != NULL; pp = &a->ai_next) {
		if (a->ai_addrlen != len || memcmp(a->ai_addr, sa, len) != 0)
			continue;
		if (pp != &e->ai) {
			*pp = a->ai_next;
			a->ai_next = e->ai;
			e->ai = a;
		}
		return;
	}
}

unsigned long
dns_lookups(const struct dns *d)
{
	return d->lookups;
}
