/*
 * The event loop of loop.h on BSD and macOS: kqueue for fds (EVFILT_READ,
 * EVFILT_WRITE), child exits (EVFILT_PROC, NOTE_EXIT) and signals
 * (EVFILT_SIGNAL, the signal's action set to SIG_IGN meanwhile), a timer
 * heap for the kevent timeout and a non-blocking pipe for loop_async.  It
 * mirrors loop_epoll.c; read the two together.
 *
 * Callbacks may stop or free any watcher.  Every fd and child kevent carries
 * its struct loop_io pointer in udata; stopping a watcher clears its events
 * still waiting in the batch being dispatched.  Signal events carry only the
 * signal number.  The signal, async and child lists are walked with a cursor
 * in struct loop that the stop functions move past the watcher they unlink.
 *
 * Differences from Linux: signals are not blocked (kqueue records them even
 * when ignored), so loop_child_after_fork restores their actions; an fd
 * watched for both directions may get two callbacks in one turn; EV_EOF,
 * which a half-closed socket also raises, is reported as LOOP_ERROR.
 */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "timerheap.h"

#define MAX_EVENTS 256
#define MAX_DRAIN 16		/* reads of the async pipe per wake-up */

struct loop {
	int kq;
	int running;
	int stop;
	uint64_t now_ms;

	/* The batch being dispatched; nevents is 0 outside dispatch. */
	struct kevent events[MAX_EVENTS];
	int nevents;
	int ev_i;

	size_t nio;		/* active user io watchers */
	size_t nchild;		/* active child watchers */
	struct timerheap timers;

	sigset_t origmask;	/* the thread's mask at loop_new */
	unsigned sigref[NSIG];	/* users of each signal */
	int sigsaved[NSIG];	/* origact[signo] is to be restored */
	struct sigaction origact[NSIG];
	struct loop_signal *sigs;
	struct loop_signal *sig_cursor;
	int sig_late;		/* signals left over by loop_stop: */
	unsigned char sig_late_no[NSIG];	/* deliver them next turn */

	int child_scan;		/* check the children before sleeping */
	struct loop_child *children;	/* those without a kevent */
	struct loop_child *child_cursor;

	int asyncfd[2];
	struct loop_io asyncio;
	struct loop_async *asyncs;
	struct loop_async *async_cursor;
};

/* Applies one change at once, so an error names its own change. */
static int
kev(struct loop *l, uintptr_t ident, short filter, unsigned short flags,
    unsigned fflags, void *udata)
{
	struct kevent ch;

	EV_SET(&ch, ident, filter, flags, fflags, 0, udata);
	if (kevent(l->kq, &ch, 1, NULL, 0, NULL) == -1)
		return -errno;
	return 0;
}

/* Drops w's events still waiting in the batch being dispatched. */
static void
io_forget(struct loop *l, struct loop_io *w)
{
	int i;

	for (i = l->ev_i + 1; i < l->nevents; i++)
		if (l->events[i].udata == w)
			l->events[i].udata = NULL;
}

/* fds */

static int
io_start(struct loop *l, struct loop_io *w, int fd, unsigned events,
    loop_io_fn cb, void *data)
{
	int r;

	if (events & LOOP_READ) {
		r = kev(l, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0, w);
		if (r != 0)
			return r;
	}
	if (events & LOOP_WRITE) {
		r = kev(l, (uintptr_t)fd, EVFILT_WRITE, EV_ADD, 0, w);
		if (r != 0) {
			if (events & LOOP_READ)
				(void)kev(l, (uintptr_t)fd, EVFILT_READ,
				    EV_DELETE, 0, NULL);
			return r;
		}
	}
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
	if (!w->active)
		return;
	/* These fail only if the fd was already closed, which removed them. */
	if (w->events & LOOP_READ)
		(void)kev(l, (uintptr_t)w->fd, EVFILT_READ, EV_DELETE, 0, NULL);
	if (w->events & LOOP_WRITE)
		(void)kev(l, (uintptr_t)w->fd, EVFILT_WRITE, EV_DELETE, 0,
		    NULL);
	w->active = 0;
	io_forget(l, w);
}

static void sig_deliver(struct loop *, int);

static void
io_dispatch(struct loop *l, const struct kevent *e)
{
	struct loop_io *w;
	unsigned ev;

	if (e->filter == EVFILT_SIGNAL) {
		sig_deliver(l, (int)e->ident);
		return;
	}
	w = e->udata;
	if (w == NULL)
		return;
	if (e->filter == EVFILT_WRITE)
		ev = LOOP_WRITE;
	else
		ev = LOOP_READ;	/* EVFILT_READ, or EVFILT_PROC: c->io */
	ev &= w->events;
	if (e->flags & (EV_EOF | EV_ERROR))
		ev |= LOOP_ERROR;
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
	static const struct {
		unsigned bit;
		short filter;
	} dir[] = { { LOOP_READ, EVFILT_READ }, { LOOP_WRITE, EVFILT_WRITE } };
	unsigned want = events & (LOOP_READ | LOOP_WRITE);
	size_t i;
	int r;

	if (!w->active)
		return -EINVAL;
	for (i = 0; i < sizeof(dir) / sizeof(dir[0]); i++) {
		if ((want & dir[i].bit) == (w->events & dir[i].bit))
			continue;
		if (want & dir[i].bit) {
			r = kev(l, (uintptr_t)w->fd, dir[i].filter, EV_ADD, 0,
			    w);
			if (r != 0)
				return r;
			w->events |= dir[i].bit;
		} else {
			(void)kev(l, (uintptr_t)w->fd, dir[i].filter,
			    EV_DELETE, 0, NULL);
			w->events &= ~dir[i].bit;
		}
	}
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

/* How long kevent may sleep: NULL forever, else until the first timer is
 * due.  ts is filled when used. */
static struct timespec *
poll_timeout(struct loop *l, struct timespec *ts)
{
	struct loop_timer *t;
	uint64_t now, now_ms, wait_ns;

	ts->tv_sec = 0;
	ts->tv_nsec = 0;
	if (l->child_scan || l->sig_late)
		return ts;
	t = timerheap_min(&l->timers);
	if (t == NULL)
		return NULL;
	now = timerheap_now_ns();
	now_ms = now / 1000000;
	if (t->due_ms <= now_ms)
		return ts;
	if (t->due_ms - now_ms > (uint64_t)INT32_MAX * 1000) {
		ts->tv_sec = INT32_MAX;
		return ts;
	}
	wait_ns = (t->due_ms - now_ms) * 1000000 - now % 1000000;
	ts->tv_sec = (time_t)(wait_ns / 1000000000);
	ts->tv_nsec = (long)(wait_ns % 1000000000);
	return ts;
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

/* Reports signo through the kqueue while it has users.  Its action becomes
 * SIG_IGN so it no longer kills or interrupts us, except for SIGCHLD,
 * whose default is already to ignore and whose SIG_IGN would reap
 * children before waitpid sees them. */
static int
sig_ref(struct loop *l, int signo)
{
	struct sigaction ign;
	int r;

	if (signo <= 0 || signo >= NSIG || signo == SIGKILL ||
	    signo == SIGSTOP)
		return -EINVAL;
	if (l->sigref[signo]++ > 0)
		return 0;
	if (signo != SIGCHLD) {
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigemptyset(&ign.sa_mask);
		if (sigaction(signo, &ign, &l->origact[signo]) == -1) {
			r = -errno;
			l->sigref[signo]--;
			return r;
		}
		l->sigsaved[signo] = 1;
	}
	r = kev(l, (uintptr_t)signo, EVFILT_SIGNAL, EV_ADD, 0, NULL);
	if (r != 0) {
		l->sigref[signo]--;
		if (l->sigsaved[signo])
			sigaction(signo, &l->origact[signo], NULL);
		l->sigsaved[signo] = 0;
	}
	return r;
}

static void
sig_unref(struct loop *l, int signo)
{
	if (--l->sigref[signo] > 0)
		return;
	(void)kev(l, (uintptr_t)signo, EVFILT_SIGNAL, EV_DELETE, 0, NULL);
	if (l->sigsaved[signo])
		sigaction(signo, &l->origact[signo], NULL);
	l->sigsaved[signo] = 0;
}

static void
sig_deliver(struct loop *l, int signo)
{
	struct loop_signal *s;

	for (s = l->sigs; s != NULL; s = l->sig_cursor) {
		l->sig_cursor = s->next;
		if (s->signo == signo)
			s->cb(l, s, signo);
	}
	l->sig_cursor = NULL;
}

static void
sig_deliver_late(struct loop *l)
{
	int i;

	l->sig_late = 0;
	for (i = 1; i < NSIG; i++) {
		if (!l->sig_late_no[i])
			continue;
		if (l->stop) {
			l->sig_late = 1;
			return;
		}
		l->sig_late_no[i] = 0;
		sig_deliver(l, i);
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
	int i;

	/* SIG_IGN survives exec: give the child the actions we replaced. */
	for (i = 1; i < NSIG; i++)
		if (l->sigsaved[i])
			sigaction(i, &l->origact[i], NULL);
	sigprocmask(SIG_SETMASK, &l->origmask, NULL);
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
child_proc_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct loop_child *c;

	c = (struct loop_child *)((char *)w - offsetof(struct loop_child, io));
	/* NOTE_EXIT: the process is exiting, so this waits very little. */
	(void)child_reap(l, c, 0);
}

static void
child_scan(struct loop *l)
{
	struct loop_child *c;

	for (c = l->children; c != NULL; c = l->child_cursor) {
		l->child_cursor = c->next;
		(void)child_reap(l, c, WNOHANG);
	}
	l->child_scan = 0;
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
	c->pidfd = -1;		/* kqueue watches the pid itself */
	c->next = NULL;
	c->io.fd = -1;
	c->io.events = LOOP_READ;
	c->io.cb = child_proc_cb;
	c->io.data = NULL;
	c->io.active = 0;
	r = kev(l, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT,
	    NOTE_EXIT, &c->io);
	if (r == 0) {
		c->io.active = 1;
	} else if (r == -ESRCH) {
		/* Already a zombie (some kernels refuse those), or not a
		 * child at all: waitpid will tell, before sleeping. */
		c->next = l->children;
		l->children = c;
		l->child_scan = 1;
	} else {
		return r;
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
		/* Fails harmlessly if the one-shot event already fired. */
		(void)kev(l, (uintptr_t)c->pid, EVFILT_PROC, EV_DELETE, 0,
		    NULL);
		c->io.active = 0;
		io_forget(l, &c->io);
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
	char buf[256];
	int i;

	/* Empty the pipe before the flags: a later send wakes us again. */
	for (i = 0; i < MAX_DRAIN; i++)
		if (read(l->asyncfd[0], buf, sizeof(buf)) !=
		    (ssize_t)sizeof(buf))
			break;
	for (a = l->asyncs; a != NULL; a = l->async_cursor) {
		l->async_cursor = a->next;
		if (__atomic_exchange_n(&a->pending, 0, __ATOMIC_ACQ_REL))
			a->cb(l, a);
	}
	l->async_cursor = NULL;
}

static int
async_pipe(struct loop *l)
{
	int fds[2], i, r;

	if (pipe(fds) == -1)
		return -errno;
	for (i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1 ||
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1) {
			r = -errno;
			goto fail;
		}
	}
	r = io_start(l, &l->asyncio, fds[0], LOOP_READ, async_read_cb, NULL);
	if (r != 0)
		goto fail;
	l->asyncfd[0] = fds[0];
	l->asyncfd[1] = fds[1];
	return 0;
fail:
	close(fds[0]);
	close(fds[1]);
	return r;
}

int
loop_async_start(struct loop *l, struct loop_async *a, loop_async_fn cb,
    void *data)
{
	int r;

	loop_async_stop(l, a);
	if (l->asyncfd[0] == -1) {
		r = async_pipe(l);
		if (r != 0)
			return r;
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
	ssize_t n;

	/* Only the first send since the callback ran needs to wake the loop;
	 * EAGAIN means the pipe is full, so it is readable anyway. */
	if (__atomic_exchange_n(&a->pending, 1, __ATOMIC_ACQ_REL))
		return;
	do
		n = write(l->asyncfd[1], "", 1);
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
	int err;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->kq = kqueue();
	if (l->kq == -1) {
		err = errno;
		free(l);
		errno = err;
		return NULL;
	}
	(void)fcntl(l->kq, F_SETFD, FD_CLOEXEC);
	l->asyncfd[0] = -1;
	l->asyncfd[1] = -1;
	timerheap_init(&l->timers);
	sigprocmask(SIG_SETMASK, NULL, &l->origmask);
	loop_update_time(l);
	return l;
}

void
loop_free(struct loop *l)
{
	int i;

	if (l == NULL)
		return;
	for (i = 1; i < NSIG; i++)
		if (l->sigsaved[i])
			sigaction(i, &l->origact[i], NULL);
	if (l->asyncfd[0] != -1) {
		io_stop(l, &l->asyncio);
		close(l->asyncfd[0]);
		close(l->asyncfd[1]);
	}
	timerheap_release(&l->timers);
	close(l->kq);
	free(l);
}

/*
 * loop_stop left events of the batch undispatched.  Those of fds come back
 * (level-triggered), but a one-shot NOTE_EXIT and a signal count would not:
 * keep them for the next turn.
 */
static void
defer_rest(struct loop *l)
{
	struct kevent *e;
	struct loop_child *c;
	char *p;

	for (; l->ev_i < l->nevents; l->ev_i++) {
		e = &l->events[l->ev_i];
		if (e->filter == EVFILT_SIGNAL && e->ident < NSIG) {
			l->sig_late_no[e->ident] = 1;
			l->sig_late = 1;
		} else if (e->filter == EVFILT_PROC && e->udata != NULL) {
			p = (char *)e->udata;
			c = (struct loop_child *)(p -
			    offsetof(struct loop_child, io));
			c->io.active = 0;
			c->next = l->children;
			l->children = c;
			l->child_scan = 1;
		}
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
	struct timespec ts;
	int n, r = 0;

	if (l->running)
		return -EBUSY;
	l->running = 1;
	l->stop = 0;
	while (!l->stop && loop_alive(l)) {
		n = kevent(l->kq, NULL, 0, l->events, MAX_EVENTS,
		    poll_timeout(l, &ts));
		if (n == -1) {
			if (errno != EINTR) {
				r = -errno;
				break;
			}
			n = 0;
		}
		loop_update_time(l);
		l->nevents = n;
		for (l->ev_i = 0; l->ev_i < n && !l->stop; l->ev_i++)
			io_dispatch(l, &l->events[l->ev_i]);
		defer_rest(l);
		l->nevents = 0;
		l->ev_i = 0;
		if (l->sig_late && !l->stop)
			sig_deliver_late(l);
		if (l->child_scan && !l->stop)
			child_scan(l);
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
