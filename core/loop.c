/*
 * The event loop of loop.h, written once for every OS: watchers, the timer
 * heap, the counts that keep loop_run alive, the child, signal and async
 * lists, and run/stop.  The kernel side is a poller (poller.h): epoll on
 * Linux, kqueue on BSD and macOS, one of which build.sh compiles.
 *
 * Callbacks may stop or free any watcher.  Every event of a batch names its
 * watcher; stopping a watcher clears its events still waiting in the batch
 * being dispatched.  The signal, async and child lists are walked with a
 * cursor in struct loop that the stop functions move past the watcher they
 * unlink.
 *
 * A child watcher is in one of three states: watched by the poller
 * (c->io.active), exit seen but not yet reapable (c->retry armed, waitpid
 * is tried every millisecond), or on the list l->children, which waitpid
 * scans on SIGCHLD, for children the poller cannot watch.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "loop.h"
#include "poller.h"
#include "timerheap.h"

#define MAX_SIGREADS 64		/* signals taken per wake-up */

struct loop {
	struct poller *p;
	int running;
	int stop;
	uint64_t now_ms;

	/* The batch being dispatched; nevents is 0 outside dispatch. */
	struct poller_event events[POLLER_MAX_EVENTS];
	int nevents;
	int ev_i;

	size_t nio;		/* active user io watchers */
	size_t nchild;		/* active child watchers */
	struct timerheap timers;

	unsigned sigref[NSIG];	/* users of each signal */
	struct loop_signal *sigs;
	struct loop_signal *sig_cursor;

	int sigchld_held;	/* SIGCHLD is referenced for l->children */
	int child_scan;		/* check the children before sleeping */
	struct loop_child *children;	/* those the poller cannot watch */
	struct loop_child *child_cursor;

	struct loop_async *asyncs;
	struct loop_async *async_cursor;
};

/* Drops the events for ptr still waiting in the batch being dispatched. */
static void
batch_forget(struct loop *l, int kind, const void *ptr)
{
	int i;

	for (i = l->ev_i + 1; i < l->nevents; i++)
		if (l->events[i].kind == kind && l->events[i].ptr == ptr)
			l->events[i].ptr = NULL;
}

/* fds */

int
loop_io_start(struct loop *l, struct loop_io *w, int fd, unsigned events,
    loop_io_fn cb, void *data)
{
	int r;

	loop_io_stop(l, w);
	events &= LOOP_READ | LOOP_WRITE;
	r = poller_add(l->p, fd, events, w);
	if (r != 0)
		return r;
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->data = data;
	w->active = 1;
	l->nio++;
	return 0;
}

int
loop_io_set(struct loop *l, struct loop_io *w, unsigned events)
{
	int r;

	if (!w->active)
		return -EINVAL;
	events &= LOOP_READ | LOOP_WRITE;
	r = poller_mod(l->p, w->fd, w->events, events, w);
	if (r != 0)
		return r;
	w->events = events;
	return 0;
}

void
loop_io_stop(struct loop *l, struct loop_io *w)
{
	if (!w->active)
		return;
	poller_del(l->p, w->fd, w->events);
	w->active = 0;
	batch_forget(l, POLLER_IO, w);
	l->nio--;
}

static void
io_dispatch(struct loop *l, const struct poller_event *e)
{
	struct loop_io *w = e->ptr;
	unsigned ev;

	if (w == NULL)
		return;
	ev = e->ev & w->events;
	/* Report the wanted directions too: the read or write shows why. */
	if (e->ev & LOOP_ERROR)
		ev |= LOOP_ERROR | w->events;
	if (ev != 0)
		w->cb(l, w, ev);
}

/* timers */

void
loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms,
    loop_timer_fn cb, void *data)
{
	timerheap_arm(&l->timers, t, ms, cb, data);
}

void
loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	timerheap_disarm(&l->timers, t);
}

/* Nanoseconds the poller may sleep: -1 forever, else until the first timer
 * is due. */
static int64_t
poll_timeout(struct loop *l)
{
	struct loop_timer *t;
	uint64_t now, now_ms;

	if (l->child_scan)
		return 0;
	t = timerheap_min(&l->timers);
	if (t == NULL)
		return -1;
	now = timerheap_now_ns();
	now_ms = now / 1000000;
	if (t->due_ms <= now_ms)
		return 0;
	/* About 68 years: no poller sleeps longer in one call anyway. */
	if (t->due_ms - now_ms > (uint64_t)INT32_MAX * 1000)
		return (int64_t)INT32_MAX * 1000000000;
	return (int64_t)((t->due_ms - now_ms) * 1000000 - now % 1000000);
}

static void
run_timers(struct loop *l)
{
	struct loop_timer *t;

	/* Bounded: timers started meanwhile are due after now_ms. */
	l->timers.running = 1;
	while (!l->stop && (t = timerheap_min(&l->timers)) != NULL &&
	    t->due_ms <= l->now_ms) {
		timerheap_remove(&l->timers, t);
		t->active = 0;
		t->cb(l, t);
	}
	l->timers.running = 0;
}

/* signals */

/* Has the poller report signo while it has users. */
static int
sig_ref(struct loop *l, int signo)
{
	int r;

	if (signo <= 0 || signo >= NSIG || signo == SIGKILL ||
	    signo == SIGSTOP)
		return -EINVAL;
	if (l->sigref[signo]++ > 0)
		return 0;
	r = poller_sig_add(l->p, signo);
	if (r != 0)
		l->sigref[signo]--;
	return r;
}

static void
sig_unref(struct loop *l, int signo)
{
	if (--l->sigref[signo] > 0)
		return;
	poller_sig_del(l->p, signo);
}

static void child_scan(struct loop *);

static void
sig_deliver(struct loop *l, int signo)
{
	struct loop_signal *s;

	if (signo == SIGCHLD && l->children != NULL)
		child_scan(l);
	for (s = l->sigs; s != NULL; s = l->sig_cursor) {
		l->sig_cursor = s->next;
		if (s->signo == signo)
			s->cb(l, s, signo);
	}
	l->sig_cursor = NULL;
}

static void
sig_dispatch(struct loop *l)
{
	int i, signo;

	/* Signals not taken now stay with the poller for the next turn. */
	for (i = 0; i < MAX_SIGREADS && !l->stop; i++) {
		signo = poller_sig_next(l->p);
		if (signo <= 0)
			break;
		sig_deliver(l, signo);
	}
}

int
loop_signal_start(struct loop *l, struct loop_signal *s, int signo,
    loop_signal_fn cb, void *data)
{
	int r;

	loop_signal_stop(l, s);
	r = sig_ref(l, signo);
	if (r != 0)
		return r;
	s->signo = signo;
	s->cb = cb;
	s->data = data;
	s->next = l->sigs;
	l->sigs = s;
	s->active = 1;
	return 0;
}

void
loop_signal_stop(struct loop *l, struct loop_signal *s)
{
	struct loop_signal **pp;

	if (!s->active)
		return;
	if (l->sig_cursor == s)
		l->sig_cursor = s->next;
	for (pp = &l->sigs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->next = NULL;
	s->active = 0;
	sig_unref(l, s->signo);
}

void
loop_child_after_fork(struct loop *l)
{
	poller_after_fork(l->p);
}

/* children */

/* Reaps c's process and calls its callback.  Returns 0 if the process has
 * not exited yet, else 1. */
static int
child_reap(struct loop *l, struct loop_child *c)
{
	int status;
	pid_t r;

	do
		r = waitpid(c->pid, &status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r == -1)
		status = -1;	/* reaped by someone else */
	loop_child_stop(l, c);
	c->cb(l, c, status);
	return 1;
}

static void
child_retry_cb(struct loop *l, struct loop_timer *t)
{
	struct loop_child *c = t->data;

	if (child_reap(l, c) == 0)
		loop_timer_start(l, &c->retry, 1, child_retry_cb, c);
}

/* The poller no longer watches c, whose exit it saw: reap c soon. */
static void
child_unwatch(struct loop *l, struct loop_child *c, uint64_t ms)
{
	poller_child_del(l->p, c);
	c->io.active = 0;
	batch_forget(l, POLLER_CHILD, c);
	loop_timer_start(l, &c->retry, ms, child_retry_cb, c);
}

static void
child_dispatch(struct loop *l, const struct poller_event *e)
{
	struct loop_child *c = e->ptr;

	if (c == NULL)
		return;
	/*
	 * The process is exiting, but newer kernels say so before it can be
	 * reaped; a blocking wait here would stall every other child and fd
	 * (milliseconds each on a busy machine).  Retry on a short timer
	 * until the zombie is there.
	 */
	if (child_reap(l, c) == 0)
		child_unwatch(l, c, 1);
}

static void
child_scan(struct loop *l)
{
	struct loop_child *c;

	for (c = l->children; c != NULL; c = l->child_cursor) {
		l->child_cursor = c->next;
		(void)child_reap(l, c);
	}
	l->child_cursor = NULL;
}

int
loop_child_start(struct loop *l, struct loop_child *c, pid_t pid,
    loop_child_fn cb, void *data)
{
	int r;

	if (pid <= 0)
		return -EINVAL;
	loop_child_stop(l, c);
	c->pid = pid;
	c->cb = cb;
	c->data = data;
	c->pidfd = -1;
	c->next = NULL;
	c->io.active = 0;
	c->retry.active = 0;
	r = poller_child_add(l->p, c);
	if (r < 0)
		return r;
	if (r == 0) {
		c->io.active = 1;
	} else {
		if (!l->sigchld_held) {
			r = sig_ref(l, SIGCHLD);
			if (r != 0)
				return r;
			l->sigchld_held = 1;
		}
		c->next = l->children;
		l->children = c;
		/* It may have exited before SIGCHLD was watched. */
		l->child_scan = 1;
	}
	c->active = 1;
	l->nchild++;
	return 0;
}

void
loop_child_stop(struct loop *l, struct loop_child *c)
{
	struct loop_child **pp;

	if (!c->active)
		return;
	if (c->io.active) {
		poller_child_del(l->p, c);
		c->io.active = 0;
		batch_forget(l, POLLER_CHILD, c);
	}
	loop_timer_stop(l, &c->retry);
	if (l->child_cursor == c)
		l->child_cursor = c->next;
	for (pp = &l->children; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->next = NULL;
	c->active = 0;
	l->nchild--;
}

/* async */

static void
async_dispatch(struct loop *l)
{
	struct loop_async *a;

	/* Drain before the flags: a later send wakes us again. */
	poller_wake_drain(l->p);
	for (a = l->asyncs; a != NULL; a = l->async_cursor) {
		l->async_cursor = a->next;
		if (__atomic_exchange_n(&a->pending, 0, __ATOMIC_ACQ_REL))
			a->cb(l, a);
	}
	l->async_cursor = NULL;
}

int
loop_async_start(struct loop *l, struct loop_async *a, loop_async_fn cb,
    void *data)
{
	int r;

	loop_async_stop(l, a);
	r = poller_wake_init(l->p);
	if (r != 0)
		return r;
	a->cb = cb;
	a->data = data;
	a->pending = 0;
	a->next = l->asyncs;
	l->asyncs = a;
	a->active = 1;
	return 0;
}

void
loop_async_send(struct loop *l, struct loop_async *a)
{
	/* Only the first send since the callback ran needs to wake the
	 * loop. */
	if (__atomic_exchange_n(&a->pending, 1, __ATOMIC_ACQ_REL))
		return;
	poller_wake(l->p);
}

void
loop_async_stop(struct loop *l, struct loop_async *a)
{
	struct loop_async **pp;

	if (!a->active)
		return;
	if (l->async_cursor == a)
		l->async_cursor = a->next;
	for (pp = &l->asyncs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	a->next = NULL;
	a->active = 0;
	a->pending = 0;
}

/* the loop */

struct loop *
loop_new(void)
{
	struct loop *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->p = poller_new();
	if (l->p == NULL) {
		err = errno;
		free(l);
		errno = err;
		return NULL;
	}
	timerheap_init(&l->timers);
	loop_update_time(l);
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	poller_free(l->p);
	timerheap_release(&l->timers);
	free(l);
}

static void
dispatch(struct loop *l, const struct poller_event *e)
{
	switch (e->kind) {
	case POLLER_IO:
		io_dispatch(l, e);
		break;
	case POLLER_CHILD:
		child_dispatch(l, e);
		break;
	case POLLER_SIGNAL:
		sig_dispatch(l);
		break;
	case POLLER_WAKE:
		async_dispatch(l);
		break;
	}
}

/*
 * loop_stop left events of the batch undispatched.  Most come back at the
 * next wait (fds are level-triggered, and the poller keeps signals and
 * wake-ups until taken), but an exit reported once would be lost: reap
 * those children on the retry timer instead.
 */
static void
defer_rest(struct loop *l)
{
	struct poller_event *e;

	for (; l->ev_i < l->nevents; l->ev_i++) {
		e = &l->events[l->ev_i];
		if (e->kind == POLLER_CHILD && e->once && e->ptr != NULL)
			child_unwatch(l, e->ptr, 0);
	}
}

static int
loop_alive(struct loop *l)
{
	return l->nio > 0 || l->nchild > 0 || l->timers.len > 0;
}

int
loop_run(struct loop *l)
{
	int n, r = 0;

	if (l->running)
		return -EBUSY;
	l->running = 1;
	l->stop = 0;
	while (!l->stop && loop_alive(l)) {
		n = poller_wait(l->p, l->events, POLLER_MAX_EVENTS,
		    poll_timeout(l));
		if (n < 0) {
			if (n != -EINTR) {
				r = n;
				break;
			}
			n = 0;
		}
		loop_update_time(l);
		l->nevents = n;
		for (l->ev_i = 0; l->ev_i < n && !l->stop; l->ev_i++)
			dispatch(l, &l->events[l->ev_i]);
		defer_rest(l);
		l->nevents = 0;
		l->ev_i = 0;
		if (l->child_scan && !l->stop) {
			l->child_scan = 0;
			child_scan(l);
		}
		run_timers(l);
	}
	l->running = 0;
	return r;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

uint64_t
loop_now(struct loop *l)
{
	return l->now_ms;
}

uint64_t
loop_update_time(struct loop *l)
{
	l->now_ms = timerheap_now_ns() / 1000000;
	return l->now_ms;
}
