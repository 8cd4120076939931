/*
 * Just enough of the BSD <sys/event.h> for core/poll_kqueue.c to compile on
 * Linux, so that ./build.sh test type-checks the kqueue poller with the
 * project's warnings and it cannot rot unseen.  The layout and values are
 * FreeBSD's; nothing here is ever linked or run.  Declare only what the
 * poller uses: a name it starts using must be added here (and exist on the
 * BSDs and macOS).
 */
#ifndef DROVE_STUB_SYS_EVENT_H
#define DROVE_STUB_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
	uintptr_t ident;	/* fd, pid or signal number */
	short filter;		/* EVFILT_* */
	unsigned short flags;	/* EV_* */
	unsigned int fflags;	/* NOTE_* */
	int64_t data;
	void *udata;
};

#define EV_SET(kevp, a, b, c, d, e, f) do {	\
	struct kevent *ev_set_ = (kevp);	\
	ev_set_->ident = (a);			\
	ev_set_->filter = (b);			\
	ev_set_->flags = (c);			\
	ev_set_->fflags = (d);			\
	ev_set_->data = (e);			\
	ev_set_->udata = (f);			\
} while (0)

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ONESHOT 0x0010
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_EXIT 0x80000000u

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges,
    struct kevent *eventlist, int nevents, const struct timespec *timeout);

#endif /* DROVE_STUB_SYS_EVENT_H */
