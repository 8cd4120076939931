/*
 * The poller of poller.h on Linux: epoll for fds; a pidfd per child (none
 * when the kernel has no pidfd_open, or with DROVE_NO_PIDFD=1 in the
 * environment at poller_new: the loop then reaps on SIGCHLD); one signalfd
 * for every watched signal, each blocked in the thread meanwhile; and an
 * eventfd for poller_wake.
 *
 * Each epoll entry carries a pointer whose two low bits (zero in the
 * aligned address of a watcher) say what it is: a struct loop_io, a struct
 * loop_child, or, with no pointer, the signalfd or the eventfd.  Everything
 * epoll reports is level-triggered, so no event is ever "once".
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "poller.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434	/* the same number on every architecture */
#endif

#define TAG_IO 0u
#define TAG_CHILD 1u
#define TAG_SIGNAL 2u
#define TAG_WAKE 3u
#define TAG_MASK 3u

#define MAX_SIGDRAIN 64		/* pending signals dropped at once */

struct poller {
	int epfd;
	struct epoll_event ev[POLLER_MAX_EVENTS];
	sigset_t origmask;	/* the thread's mask at poller_new */
	sigset_t sigmask;	/* signals blocked and read from sigfd */
	int sigfd;
	int no_pidfd;		/* pidfd_open is missing or refused */
	int wakefd;
};

static int
ctl(struct poller *p, int op, int fd, unsigned events, uint64_t data)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	if (events & LOOP_READ)
		ev.events |= EPOLLIN;
	if (events & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.u64 = data;
	if (epoll_ctl(p->epfd, op, fd, &ev) == -1)
		return -errno;
	return 0;
}

struct poller *
poller_new(void)
{
	struct poller *p;
	const char *e;
	int err;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd == -1) {
		err = errno;
		free(p);
		errno = err;
		return NULL;
	}
	p->sigfd = -1;
	p->wakefd = -1;
	pthread_sigmask(SIG_SETMASK, NULL, &p->origmask);
	sigemptyset(&p->sigmask);
	e = getenv("DROVE_NO_PIDFD");
	p->no_pidfd = e != NULL && strcmp(e, "1") == 0;
	return p;
}

static void
drain_pending(const sigset_t *set)
{
	struct timespec zero = { 0, 0 };
	int i;

	/* Queued real-time signals could be many; take what a wake-up would. */
	for (i = 0; i < MAX_SIGDRAIN; i++)
		if (sigtimedwait(set, NULL, &zero) == -1)
			break;
}

void
poller_free(struct poller *p)
{
	sigset_t ours;
	int i;

	if (p == NULL)
		return;
	if (p->sigfd != -1) {
		(void)ctl(p, EPOLL_CTL_DEL, p->sigfd, 0, 0);
		close(p->sigfd);
		/* Drop what is pending for us, then unblock the rest. */
		sigemptyset(&ours);
		for (i = 1; i < NSIG; i++)
			if (sigismember(&p->sigmask, i) == 1 &&
			    !sigismember(&p->origmask, i))
				sigaddset(&ours, i);
		drain_pending(&ours);
		pthread_sigmask(SIG_SETMASK, &p->origmask, NULL);
	}
	if (p->wakefd != -1) {
		(void)ctl(p, EPOLL_CTL_DEL, p->wakefd, 0, 0);
		close(p->wakefd);
	}
	close(p->epfd);
	free(p);
}

int
poller_wait(struct poller *p, struct poller_event *out, int max,
    int64_t timeout_ns)
{
	struct poller_event *o;
	uint64_t data;
	uint32_t e;
	int ms, n, i;

	/* Rounded up to whole milliseconds: never wake before a timer. */
	if (timeout_ns < 0)
		ms = -1;
	else if (timeout_ns > (int64_t)INT_MAX * 1000000)
		ms = INT_MAX;
	else
		ms = (int)((timeout_ns + 999999) / 1000000);
	if (max > POLLER_MAX_EVENTS)
		max = POLLER_MAX_EVENTS;
	n = epoll_wait(p->epfd, p->ev, max, ms);
	if (n == -1)
		return -errno;
	for (i = 0; i < n; i++) {
		o = &out[i];
		e = p->ev[i].events;
		data = p->ev[i].data.u64;
		o->ev = 0;
		if (e & EPOLLIN)
			o->ev |= LOOP_READ;
		if (e & EPOLLOUT)
			o->ev |= LOOP_WRITE;
		if (e & (EPOLLERR | EPOLLHUP))
			o->ev |= LOOP_ERROR;
		o->ptr = (void *)(uintptr_t)(data & ~(uint64_t)TAG_MASK);
		o->once = 0;
		switch (data & TAG_MASK) {
		case TAG_IO:
			o->kind = POLLER_IO;
			break;
		case TAG_CHILD:
			o->kind = POLLER_CHILD;
			break;
		case TAG_SIGNAL:
			o->kind = POLLER_SIGNAL;
			break;
		default:
			o->kind = POLLER_WAKE;
			break;
		}
	}
	return n;
}

/* fds */

int
poller_add(struct poller *p, int fd, unsigned events, struct loop_io *w)
{
	return ctl(p, EPOLL_CTL_ADD, fd, events, (uintptr_t)w | TAG_IO);
}

int
poller_mod(struct poller *p, int fd, unsigned old, unsigned events,
    struct loop_io *w)
{
	return ctl(p, EPOLL_CTL_MOD, fd, events, (uintptr_t)w | TAG_IO);
}

void
poller_del(struct poller *p, int fd, unsigned events)
{
	/* Fails only if the fd was already closed, which removed it. */
	(void)ctl(p, EPOLL_CTL_DEL, fd, 0, 0);
}

/* children */

int
poller_child_add(struct poller *p, struct loop_child *c)
{
	int fd, r;

	if (p->no_pidfd)
		return 1;
	fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (fd == -1) {
		/* Old kernels, and filters that refuse unknown calls. */
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
		p->no_pidfd = 1;
		return 1;
	}
	r = ctl(p, EPOLL_CTL_ADD, fd, LOOP_READ, (uintptr_t)c | TAG_CHILD);
	if (r != 0) {
		close(fd);
		return r;
	}
	c->pidfd = fd;
	return 0;
}

void
poller_child_del(struct poller *p, struct loop_child *c)
{
	if (c->pidfd == -1)
		return;
	(void)ctl(p, EPOLL_CTL_DEL, c->pidfd, 0, 0);
	close(c->pidfd);
	c->pidfd = -1;
}

/* signals */

int
poller_sig_add(struct poller *p, int signo)
{
	sigset_t one;
	int fd, r;

	sigemptyset(&one);
	if (sigaddset(&one, signo) == -1)
		return -EINVAL;
	sigaddset(&p->sigmask, signo);
	/* Block first: a signal arriving in between stays pending. */
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	fd = signalfd(p->sigfd, &p->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1) {
		r = -errno;
		goto fail;
	}
	if (p->sigfd == -1) {
		r = ctl(p, EPOLL_CTL_ADD, fd, LOOP_READ, TAG_SIGNAL);
		if (r != 0) {
			close(fd);
			goto fail;
		}
		p->sigfd = fd;
	}
	return 0;
fail:
	sigdelset(&p->sigmask, signo);
	if (!sigismember(&p->origmask, signo))
		pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	return r;
}

void
poller_sig_del(struct poller *p, int signo)
{
	sigset_t one;

	sigdelset(&p->sigmask, signo);
	(void)signalfd(p->sigfd, &p->sigmask, 0);
	if (sigismember(&p->origmask, signo))
		return;
	/* A signal left pending would take its default action now. */
	sigemptyset(&one);
	sigaddset(&one, signo);
	drain_pending(&one);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

int
poller_sig_next(struct poller *p)
{
	struct signalfd_siginfo si;

	if (p->sigfd == -1 ||
	    read(p->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

void
poller_after_fork(struct poller *p)
{
	/* A signalfd changes no dispositions; only the mask is ours. */
	pthread_sigmask(SIG_SETMASK, &p->origmask, NULL);
}

/* wake-ups */

int
poller_wake_init(struct poller *p)
{
	int fd, r;

	if (p->wakefd != -1)
		return 0;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd == -1)
		return -errno;
	r = ctl(p, EPOLL_CTL_ADD, fd, LOOP_READ, TAG_WAKE);
	if (r != 0) {
		close(fd);
		return r;
	}
	p->wakefd = fd;
	return 0;
}

void
poller_wake(struct poller *p)
{
	uint64_t one = 1;
	ssize_t n;

	/* EAGAIN means the counter is full, so it is readable anyway. */
	do
		n = write(p->wakefd, &one, sizeof(one));
	while (n == -1 && errno == EINTR);
}

void
poller_wake_drain(struct poller *p)
{
	uint64_t count;
	ssize_t n;

	/* One read resets the counter. */
	n = read(p->wakefd, &count, sizeof(count));
	(void)n;
}
