/*
 * getaddrinfo on helper threads.  Requests wait in a queue for one of at
 * most DNS_THREADS threads, which are started on demand and live until
 * dns_free.  Finished requests go on a list the loop thread drains when
 * its loop_async fires.
 */
#include "dns.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"
#include "loop.h"
#include "util.h"

#define DNS_THREADS 4

struct dns_req {
	struct dns *d;
	char *host;
	char *port;
	dns_fn cb;
	void *arg;
	int cancelled;		/* under d->mu */
	int rc;			/* getaddrinfo's result */
	struct addrinfo *ai;
	struct dns_req *next;
};

struct dns {
	struct loop *loop;
	struct loop_async async;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dns_req *queue, **queue_tail;	/* waiting */
	struct dns_req *done;			/* finished */
	pthread_t threads[DNS_THREADS];
	int nthreads;
	int idle;
	int stopping;
};

static void
req_free(struct dns_req *r)
{
	if (r->ai)
		freeaddrinfo(r->ai);
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

static void
on_async(struct loop *l, struct loop_async *a)
{
	struct dns *d = a->data;
	struct dns_req *list, *r, *rev = NULL;
	char msg[256];

	pthread_mutex_lock(&d->mu);
	list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->mu);
	/* deliver in completion order */
	while (list) {
		r = list;
		list = r->next;
		r->next = rev;
		rev = r;
	}
	while (rev) {
		r = rev;
		rev = r->next;
		if (r->cancelled) {
			req_free(r);
			continue;
		}
		if (r->rc != 0) {
			errf(msg, sizeof(msg), "cannot resolve '%s': %s",
			    r->host, r->rc == EAI_SYSTEM ? "system error" :
			    gai_strerror(r->rc));
			r->cb(r->arg, DROVE_EDNS, NULL, msg);
		} else {
			struct addrinfo *ai = r->ai;

			r->ai = NULL;
			r->cb(r->arg, 0, ai, NULL);
		}
		req_free(r);
	}
}

struct dns *
dns_new(struct loop *l)
{
	struct dns *d = xcalloc(1, sizeof(*d));

	d->loop = l;
	d->queue_tail = &d->queue;
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
	loop_async_stop(d->loop, &d->async);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

struct dns_req *
dns_resolve(struct dns *d, const char *host, const char *port, dns_fn cb,
    void *arg)
{
	struct dns_req *r = xcalloc(1, sizeof(*r));
	sigset_t all, old;

	r->d = d;
	r->host = xstrdup(host);
	r->port = xstrdup(port);
	r->cb = cb;
	r->arg = arg;
	pthread_mutex_lock(&d->mu);
	*d->queue_tail = r;
	d->queue_tail = &r->next;
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
	return r;
}

void
dns_cancel(struct dns_req *r)
{
	struct dns *d = r->d;
	struct dns_req **pp;

	pthread_mutex_lock(&d->mu);
	for (pp = &d->queue; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			if (d->queue_tail == &r->next)
				d->queue_tail = pp;
			pthread_mutex_unlock(&d->mu);
			req_free(r);
			return;
		}
	/* running or finished: dropped when it comes back */
	r->cancelled = 1;
	pthread_mutex_unlock(&d->mu);
}
