/*
 * The poller of poller.h on BSD and macOS: one kqueue for fds (EVFILT_READ,
 * EVFILT_WRITE), child exits (EVFILT_PROC, NOTE_EXIT) and signals
 * (EVFILT_SIGNAL), and a non-blocking pipe for poller_wake.
 *
 * Signals are not blocked: kqueue records a signal even when it is
 * ignored, so a watched signal's action is SIG_IGN meanwhile and
 * poller_after_fork gives the child the actions back.  SIGCHLD keeps its
 * action: its default already ignores it, and SIG_IGN would reap children
 * before waitpid sees them.  Signals seen are kept in a pending set until
 * the loop takes them, so none is lost when it stops in mid-batch; a
 * NOTE_EXIT is reported once (the event says so).
 *
 * Differences from Linux: a fd watched both ways may give two events in
 * one turn; EV_EOF, which a half-closed socket also raises, is reported as
 * LOOP_ERROR.
 *
 * It is compiled on Linux too, against the declarations in
 * tests/stub/sys/event.h, by ./build.sh test.
 */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "poller.h"

#define MAX_DRAIN 16		/* reads of the wake pipe per wake-up */

struct poller {
	int kq;
	struct kevent ev[POLLER_MAX_EVENTS];
	sigset_t origmask;	/* the thread's mask at poller_new */
	int sigsaved[NSIG];	/* origact[signo] is to be restored */
	struct sigaction origact[NSIG];
	unsigned char sigpending[NSIG];	/* seen, not yet taken */
	int npending;
	int wakefd[2];
};

/* Applies one change at once, so an error names its own change. */
static int
kev(struct poller *p, uintptr_t ident, short filter, unsigned short flags,
    unsigned fflags, void *udata)
{
	struct kevent ch;

	EV_SET(&ch, ident, filter, flags, fflags, 0, udata);
	if (kevent(p->kq, &ch, 1, NULL, 0, NULL) == -1)
		return -errno;
	return 0;
}

struct poller *
poller_new(void)
{
	struct poller *p;
	int err;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->kq = kqueue();
	if (p->kq == -1) {
		err = errno;
		free(p);
		errno = err;
		return NULL;
	}
	(void)fcntl(p->kq, F_SETFD, FD_CLOEXEC);
	p->wakefd[0] = -1;
	p->wakefd[1] = -1;
	sigprocmask(SIG_SETMASK, NULL, &p->origmask);
	return p;
}

void
poller_free(struct poller *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 1; i < NSIG; i++)
		if (p->sigsaved[i])
			sigaction(i, &p->origact[i], NULL);
	if (p->wakefd[0] != -1) {
		poller_del(p, p->wakefd[0], LOOP_READ);
		close(p->wakefd[0]);
		close(p->wakefd[1]);
	}
	close(p->kq);
	free(p);
}

int
poller_wait(struct poller *p, struct poller_event *out, int max,
    int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	struct poller_event *o;
	struct kevent *e;
	int n, i, nout = 0, sig_out = 0;

	/* Signals not yet taken are ready now. */
	if (p->npending > 0)
		timeout_ns = 0;
	if (timeout_ns >= 0) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000);
		ts.tv_nsec = (long)(timeout_ns % 1000000000);
		tsp = &ts;
	}
	if (max > POLLER_MAX_EVENTS)
		max = POLLER_MAX_EVENTS;
	/* Room for the POLLER_SIGNAL event of signals still pending. */
	n = kevent(p->kq, NULL, 0, p->ev, max - 1, tsp);
	if (n == -1)
		return -errno;
	for (i = 0; i < n; i++) {
		e = &p->ev[i];
		if (e->filter == EVFILT_SIGNAL) {
			if (e->ident < (uintptr_t)NSIG &&
			    !p->sigpending[e->ident]) {
				p->sigpending[e->ident] = 1;
				p->npending++;
			}
			if (sig_out)
				continue;
			sig_out = 1;
		}
		o = &out[nout++];
		o->ev = 0;
		o->ptr = e->udata;
		o->once = 0;
		if (e->filter == EVFILT_SIGNAL) {
			o->kind = POLLER_SIGNAL;
		} else if (e->filter == EVFILT_PROC) {
			o->kind = POLLER_CHILD;
			o->once = 1;
		} else if (e->filter == EVFILT_READ &&
		    e->ident == (uintptr_t)p->wakefd[0]) {
			o->kind = POLLER_WAKE;
		} else {
			o->kind = POLLER_IO;
			o->ev = e->filter == EVFILT_WRITE ? LOOP_WRITE :
			    LOOP_READ;
			if (e->flags & (EV_EOF | EV_ERROR))
				o->ev |= LOOP_ERROR;
		}
	}
	if (!sig_out && p->npending > 0) {
		o = &out[nout++];
		memset(o, 0, sizeof(*o));
		o->kind = POLLER_SIGNAL;
	}
	return nout;
}

/* fds */

int
poller_add(struct poller *p, int fd, unsigned events, struct loop_io *w)
{
	int r;

	if (events & LOOP_READ) {
		r = kev(p, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0, w);
		if (r != 0)
			return r;
	}
	if (events & LOOP_WRITE) {
		r = kev(p, (uintptr_t)fd, EVFILT_WRITE, EV_ADD, 0, w);
		if (r != 0) {
			if (events & LOOP_READ)
				(void)kev(p, (uintptr_t)fd, EVFILT_READ,
				    EV_DELETE, 0, NULL);
			return r;
		}
	}
	return 0;
}

int
poller_mod(struct poller *p, int fd, unsigned old, unsigned events,
    struct loop_io *w)
{
	unsigned add = events & ~old, del = old & ~events;
	int r;

	/* Adds first, as they may fail: then only they are undone. */
	r = poller_add(p, fd, add, w);
	if (r != 0)
		return r;
	poller_del(p, fd, del);
	return 0;
}

void
poller_del(struct poller *p, int fd, unsigned events)
{
	/* These fail only if the fd was already closed, which removed them. */
	if (events & LOOP_READ)
		(void)kev(p, (uintptr_t)fd, EVFILT_READ, EV_DELETE, 0, NULL);
	if (events & LOOP_WRITE)
		(void)kev(p, (uintptr_t)fd, EVFILT_WRITE, EV_DELETE, 0, NULL);
}

/* children */

int
poller_child_add(struct poller *p, struct loop_child *c)
{
	int r;

	r = kev(p, (uintptr_t)c->pid, EVFILT_PROC, EV_ADD | EV_ONESHOT,
	    NOTE_EXIT, c);
	/* Already a zombie (some kernels refuse those), or not a child at
	 * all: waitpid will tell. */
	if (r == -ESRCH)
		return 1;
	return r;
}

void
poller_child_del(struct poller *p, struct loop_child *c)
{
	/* Fails harmlessly if the one-shot event already fired. */
	(void)kev(p, (uintptr_t)c->pid, EVFILT_PROC, EV_DELETE, 0, NULL);
}

/* signals */

int
poller_sig_add(struct poller *p, int signo)
{
	struct sigaction ign;
	int r;

	if (signo != SIGCHLD) {
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigemptyset(&ign.sa_mask);
		if (sigaction(signo, &ign, &p->origact[signo]) == -1)
			return -errno;
		p->sigsaved[signo] = 1;
	}
	r = kev(p, (uintptr_t)signo, EVFILT_SIGNAL, EV_ADD, 0, NULL);
	if (r != 0) {
		if (p->sigsaved[signo])
			sigaction(signo, &p->origact[signo], NULL);
		p->sigsaved[signo] = 0;
	}
	return r;
}

void
poller_sig_del(struct poller *p, int signo)
{
	(void)kev(p, (uintptr_t)signo, EVFILT_SIGNAL, EV_DELETE, 0, NULL);
	if (p->sigsaved[signo])
		sigaction(signo, &p->origact[signo], NULL);
	p->sigsaved[signo] = 0;
	if (p->sigpending[signo]) {
		p->sigpending[signo] = 0;
		p->npending--;
	}
}

int
poller_sig_next(struct poller *p)
{
	int i;

	if (p->npending == 0)
		return 0;
	for (i = 1; i < NSIG; i++) {
		if (p->sigpending[i]) {
			p->sigpending[i] = 0;
			p->npending--;
			return i;
		}
	}
	return 0;
}

void
poller_after_fork(struct poller *p)
{
	int i;

	/* SIG_IGN survives exec: give the child the actions we replaced. */
	for (i = 1; i < NSIG; i++)
		if (p->sigsaved[i])
			sigaction(i, &p->origact[i], NULL);
	sigprocmask(SIG_SETMASK, &p->origmask, NULL);
}

/* wake-ups */

int
poller_wake_init(struct poller *p)
{
	int fds[2], i, r;

	if (p->wakefd[0] != -1)
		return 0;
	if (pipe(fds) == -1)
		return -errno;
	for (i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1 ||
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1) {
			r = -errno;
			goto fail;
		}
	}
	r = kev(p, (uintptr_t)fds[0], EVFILT_READ, EV_ADD, 0, NULL);
	if (r != 0)
		goto fail;
	p->wakefd[0] = fds[0];
	p->wakefd[1] = fds[1];
	return 0;
fail:
	close(fds[0]);
	close(fds[1]);
	return r;
}

void
poller_wake(struct poller *p)
{
	ssize_t n;

	/* EAGAIN means the pipe is full, so it is readable anyway. */
	do
		n = write(p->wakefd[1], "", 1);
	while (n == -1 && errno == EINTR);
}

void
poller_wake_drain(struct poller *p)
{
	char buf[256];
	int i;

	for (i = 0; i < MAX_DRAIN; i++)
		if (read(p->wakefd[0], buf, sizeof(buf)) !=
		    (ssize_t)sizeof(buf))
			break;
}
