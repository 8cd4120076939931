/*
 * The event loop of loop.h on Linux: epoll for fds, a timer heap for the
 * epoll_wait timeout, a pidfd per child (or SIGCHLD when the kernel has no
 * pidfd_open), a signalfd for signals and an eventfd for loop_async.
 *
 * Callbacks may stop or free any watcher.  Every epoll event carries its
 * struct loop_io pointer; stopping a watcher clears its events still waiting
 * in the batch being dispatched.  The signal, async and child lists are
 * walked with a cursor in struct loop that the stop functions move past the
 * watcher they unlink.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "timerheap.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434	/* the same number on every architecture */
#endif

#define MAX_EVENTS 256
#define MAX_SIGREADS 64		/* signals read per wake-up */

struct loop {
	int epfd;
	int running;
	int stop;
	uint64_t now_ms;

	/* The batch being dispatched; nevents is 0 outside dispatch. */
	struct epoll_event events[MAX_EVENTS];
	int nevents;
	int ev_i;

	size_t nio;		/* active user io watchers */
	size_t nchild;		/* active child watchers */
	struct timerheap timers;

	sigset_t origmask;	/* the thread's mask at loop_new */
	sigset_t sigmask;	/* signals blocked and read from sigfd */
	unsigned sigref[NSIG];	/* users of each signal */
	int sigfd;
	struct loop_io sigio;
	struct loop_signal *sigs;
	struct loop_signal *sig_cursor;

	int no_pidfd;		/* children are reaped on SIGCHLD */
	int sigchld_held;	/* SIGCHLD is referenced for them */
	int child_scan;		/* check the children before sleeping */
	struct loop_child *children;	/* those without a pidfd */
	struct loop_child *child_cursor;

	int asyncfd;
	struct loop_io asyncio;
	struct loop_async *asyncs;
	struct loop_async *async_cursor;
};

/* fds */

static int
io_start(struct loop *l, struct loop_io *w, int fd, unsigned events,
    loop_io_fn cb, void *data)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	if (events & LOOP_READ)
		ev.events |= EPOLLIN;
	if (events & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -errno;
	w->fd = fd;
	w->events = events & (LOOP_READ | LOOP_WRITE);
	w->cb = cb;
	w->data = data;
	w->active = 1;
	return 0;
}

static void
io_stop(struct loop *l, struct loop_io *w)
{
	struct epoll_event ev;
	int i;

	if (!w->active)
		return;
	memset(&ev, 0, sizeof(ev));
	/* Fails only if the fd was already closed, which removed it. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, &ev);
	w->active = 0;
	for (i = l->ev_i + 1; i < l->nevents; i++)
		if (l->events[i].data.ptr == w)
			l->events[i].data.ptr = NULL;
}

static void
io_dispatch(struct loop *l, const struct epoll_event *e)
{
	struct loop_io *w = e->data.ptr;
	unsigned ev = 0;

	if (w == NULL)
		return;
	if (e->events & EPOLLIN)
		ev |= LOOP_READ;
	if (e->events & EPOLLOUT)
		ev |= LOOP_WRITE;
	ev &= w->events;
	/* Report the wanted directions too: the read or write shows why. */
	if (e->events & (EPOLLERR | EPOLLHUP))
		ev |= LOOP_ERROR | w->events;
	if (ev != 0)
		w->cb(l, w, ev);
}

int
loop_io_start(struct loop *l, struct loop_io *w, int fd, unsigned events,
    loop_io_fn cb, void *data)
{
	int r;

	loop_io_stop(l, w);
	r = io_start(l, w, fd, events, cb, data);
	if (r == 0)
		l->nio++;
	return r;
}

int
loop_io_set(struct loop *l, struct loop_io *w, unsigned events)
{
	struct epoll_event ev;

	if (!w->active)
		return -EINVAL;
	memset(&ev, 0, sizeof(ev));
	if (events & LOOP_READ)
		ev.events |= EPOLLIN;
	if (events & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) == -1)
		return -errno;
	w->events = events & (LOOP_READ | LOOP_WRITE);
	return 0;
}

void
loop_io_stop(struct loop *l, struct loop_io *w)
{
	if (!w->active)
		return;
	io_stop(l, w);
	l->nio--;
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

/* Milliseconds epoll_wait may sleep: -1 forever, rounded up to the due
 * time of the first timer. */
static int
poll_timeout(struct loop *l)
{
	struct loop_timer *t;
	uint64_t now, now_ms, wait_ns;

	if (l->child_scan)
		return 0;
	t = timerheap_min(&l->timers);
	if (t == NULL)
		return -1;
	now = timerheap_now_ns();
	now_ms = now / 1000000;
	if (t->due_ms <= now_ms)
		return 0;
	if (t->due_ms - now_ms > INT_MAX)
		return INT_MAX;
	wait_ns = (t->due_ms - now_ms) * 1000000 - now % 1000000;
	return (int)((wait_ns + 999999) / 1000000);
}

static void
run_timers(struct loop *l)
{
	struct loop_timer *t;

	/* Bounded: timers started meanwhile are due after now_ms. */
	while (!l->stop && (t = timerheap_min(&l->timers)) != NULL &&
	    t->due_ms <= l->now_ms) {
		timerheap_remove(&l->timers, t);
		t->active = 0;
		t->cb(l, t);
	}
}

/* signals */

static void
drain_pending(const sigset_t *set)
{
	struct timespec zero = { 0, 0 };
	int i;

	/* Queued real-time signals could be many; take what a wake-up would. */
	for (i = 0; i < MAX_SIGREADS; i++)
		if (sigtimedwait(set, NULL, &zero) == -1)
			break;
}

static void sig_read_cb(struct loop *, struct loop_io *, unsigned);

/* Blocks signo and reads it from the signalfd while it has users. */
static int
sig_ref(struct loop *l, int signo)
{
	sigset_t one;
	int fd, r;

	sigemptyset(&one);
	if (signo <= 0 || signo >= NSIG || signo == SIGKILL ||
	    signo == SIGSTOP || sigaddset(&one, signo) == -1)
		return -EINVAL;
	if (l->sigref[signo]++ > 0)
		return 0;
	sigaddset(&l->sigmask, signo);
	/* Block first: a signal arriving in between stays pending. */
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1) {
		r = -errno;
		goto fail;
	}
	if (l->sigfd == -1) {
		r = io_start(l, &l->sigio, fd, LOOP_READ, sig_read_cb, NULL);
		if (r != 0) {
			close(fd);
			goto fail;
		}
		l->sigfd = fd;
	}
	return 0;
fail:
	l->sigref[signo]--;
	sigdelset(&l->sigmask, signo);
	if (!sigismember(&l->origmask, signo))
		pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	return r;
}

static void
sig_unref(struct loop *l, int signo)
{
	sigset_t one;

	if (--l->sigref[signo] > 0)
		return;
	sigdelset(&l->sigmask, signo);
	(void)signalfd(l->sigfd, &l->sigmask, 0);
	if (sigismember(&l->origmask, signo))
		return;
	/* A signal left pending would take its default action now. */
	sigemptyset(&one);
	sigaddset(&one, signo);
	drain_pending(&one);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
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
sig_read_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct signalfd_siginfo si;
	int i;

	/* Signals not read now stay in the signalfd for the next turn. */
	for (i = 0; i < MAX_SIGREADS && !l->stop; i++) {
		if (read(l->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			break;
		sig_deliver(l, (int)si.ssi_signo);
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
	/* A signalfd changes no dispositions; only the mask is ours. */
	pthread_sigmask(SIG_SETMASK, &l->origmask, NULL);
}

/* children */

/* Reaps c's process and calls its callback.  Returns 0 if the process has
 * not exited (only with WNOHANG in flags), else 1. */
static int
child_reap(struct loop *l, struct loop_child *c, int flags)
{
	int status;
	pid_t r;

	do
		r = waitpid(c->pid, &status, flags);
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

	if (child_reap(l, c, WNOHANG) == 0)
		loop_timer_start(l, &c->retry, 1, child_retry_cb, c);
}

static void
child_pidfd_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct loop_child *c;

	c = (struct loop_child *)((char *)w - offsetof(struct loop_child, io));
	/*
	 * A readable pidfd means the process is exiting, but newer kernels
	 * say so before it can be reaped; a blocking wait here would stall
	 * every other child and fd (milliseconds each on a busy machine).
	 * Retry on a short timer until the zombie is there.
	 */
	if (child_reap(l, c, WNOHANG) == 0) {
		io_stop(l, &c->io);
		loop_timer_start(l, &c->retry, 1, child_retry_cb, c);
	}
}

static void
child_scan(struct loop *l)
{
	struct loop_child *c;

	for (c = l->children; c != NULL; c = l->child_cursor) {
		l->child_cursor = c->next;
		(void)child_reap(l, c, WNOHANG);
	}
	l->child_cursor = NULL;
}

static int
child_pidfd(struct loop *l, struct loop_child *c)
{
	int fd, r;

	if (l->no_pidfd)
		return 1;
	fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (fd == -1) {
		/* Old kernels, and filters that refuse unknown calls. */
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
		l->no_pidfd = 1;
		return 1;
	}
	r = io_start(l, &c->io, fd, LOOP_READ, child_pidfd_cb, NULL);
	if (r != 0) {
		close(fd);
		return r;
	}
	c->pidfd = fd;
	return 0;
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
	r = child_pidfd(l, c);
	if (r < 0)
		return r;
	if (r > 0) {
		if (!l->sigchld_held) {
			r = sig_ref(l, SIGCHLD);
			if (r != 0)
				return r;
			l->sigchld_held = 1;
		}
		c->next = l->children;
		l->children = c;
		/* It may have exited before SIGCHLD was blocked. */
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
	if (c->pidfd != -1) {
		io_stop(l, &c->io);
		loop_timer_stop(l, &c->retry);
		close(c->pidfd);
		c->pidfd = -1;
	} else {
		if (l->child_cursor == c)
			l->child_cursor = c->next;
		for (pp = &l->children; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
		c->next = NULL;
	}
	c->active = 0;
	l->nchild--;
}

/* async */

static void
async_read_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct loop_async *a;
	uint64_t count;
	ssize_t n;

	/* Reset the eventfd before the flags: a later send wakes us again. */
	n = read(l->asyncfd, &count, sizeof(count));
	(void)n;
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
	int fd, r;

	loop_async_stop(l, a);
	if (l->asyncfd == -1) {
		fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd == -1)
			return -errno;
		r = io_start(l, &l->asyncio, fd, LOOP_READ, async_read_cb,
		    NULL);
		if (r != 0) {
			close(fd);
			return r;
		}
		l->asyncfd = fd;
	}
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
	uint64_t one = 1;
	ssize_t n;

	/* Only the first send since the callback ran needs to wake the loop;
	 * EAGAIN means the counter is full, so it is readable anyway. */
	if (__atomic_exchange_n(&a->pending, 1, __ATOMIC_ACQ_REL))
		return;
	do
		n = write(l->asyncfd, &one, sizeof(one));
	while (n == -1 && errno == EINTR);
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
	const char *e;
	int err;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd == -1) {
		err = errno;
		free(l);
		errno = err;
		return NULL;
	}
	l->sigfd = -1;
	l->asyncfd = -1;
	timerheap_init(&l->timers);
	pthread_sigmask(SIG_SETMASK, NULL, &l->origmask);
	sigemptyset(&l->sigmask);
	e = getenv("DROVE_NO_PIDFD");
	l->no_pidfd = e != NULL && strcmp(e, "1") == 0;
	loop_update_time(l);
	return l;
}

void
loop_free(struct loop *l)
{
	sigset_t ours;
	int i;

	if (l == NULL)
		return;
	if (l->sigfd != -1) {
		io_stop(l, &l->sigio);
		close(l->sigfd);
		/* Drop what is pending for us, then unblock the rest. */
		sigemptyset(&ours);
		for (i = 1; i < NSIG; i++)
			if (sigismember(&l->sigmask, i) == 1 &&
			    !sigismember(&l->origmask, i))
				sigaddset(&ours, i);
		drain_pending(&ours);
		pthread_sigmask(SIG_SETMASK, &l->origmask, NULL);
	}
	if (l->asyncfd != -1) {
		io_stop(l, &l->asyncio);
		close(l->asyncfd);
	}
	timerheap_release(&l->timers);
	close(l->epfd);
	free(l);
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
		n = epoll_wait(l->epfd, l->events, MAX_EVENTS,
		    poll_timeout(l));
		if (n == -1) {
			if (errno != EINTR) {
				r = -errno;
				break;
			}
			n = 0;
		}
		loop_update_time(l);
		/* Events left undispatched by loop_stop are level-triggered:
		 * the next loop_run sees them again. */
		l->nevents = n;
		for (l->ev_i = 0; l->ev_i < n && !l->stop; l->ev_i++)
			io_dispatch(l, &l->events[l->ev_i]);
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
