/*
 * The per-OS half of the event loop: loop.c (watchers, timers, the counts
 * that keep loop_run alive, run/stop) sits on a poller that asks the kernel
 * for ready fds, exited children, signals and wake-ups from other threads.
 * One implementation is compiled, picked by build.sh: poll_epoll.c on
 * Linux, poll_kqueue.c on BSD and macOS.  Nothing dispatches at run time.
 *
 * Only loop.c includes this header.  The poller keeps the watchers it is
 * given only as tokens to hand back in events; of a child it also reads
 * c->pid and owns c->pidfd.  Functions returning int return 0 or a negative
 * errno unless they say otherwise.  Everything runs on the loop thread but
 * poller_wake.
 */
#ifndef DROVE_POLLER_H
#define DROVE_POLLER_H

#include <stdint.h>

#include "loop.h"

#define POLLER_MAX_EVENTS 256	/* events per poller_wait */

enum poller_kind {
	POLLER_IO,	/* ptr is the struct loop_io; ev says which way */
	POLLER_CHILD,	/* ptr is the struct loop_child: its process exits */
	POLLER_SIGNAL,	/* signals are ready: take them with poller_sig_next */
	POLLER_WAKE,	/* poller_wake was called: poller_wake_drain */
};

/* One ready event.  The loop may set ptr to NULL to drop the event. */
struct poller_event {
	int kind;	/* enum poller_kind */
	unsigned ev;	/* POLLER_IO: LOOP_READ, LOOP_WRITE, LOOP_ERROR */
	void *ptr;
	int once;	/* the kernel will not report it again: an event left
			 * undispatched must be remembered by the loop */
};

struct poller;

/* A poller for the calling thread; NULL on failure (errno set).  It notes
 * the thread's signal mask, which it restores on poller_free. */
struct poller *poller_new(void);
/* Closes what the poller opened, drops signals still pending for it and
 * gives back the signal mask and actions it changed.  NULL is ignored. */
void poller_free(struct poller *p);

/*
 * Waits up to timeout_ns nanoseconds (-1: no limit; it may wake up to 1 ms
 * late, never early) and fills out[0..max) with ready events, naming the w
 * of poller_add and the c of poller_child_add; max is at least 2.  Returns
 * how many, or -errno (-EINTR when a signal interrupted the wait).  At most
 * one POLLER_SIGNAL and one POLLER_WAKE event per call; an fd watched both
 * ways may give two events.
 */
int poller_wait(struct poller *p, struct poller_event *out, int max,
    int64_t timeout_ns);

/* Watches fd for events (LOOP_READ|LOOP_WRITE), reporting w. */
int poller_add(struct poller *p, int fd, unsigned events, struct loop_io *w);
/* Changes fd's events from old to events; on failure nothing changed. */
int poller_mod(struct poller *p, int fd, unsigned old, unsigned events,
    struct loop_io *w);
/* Stops watching fd (which had events); harmless if fd was closed. */
void poller_del(struct poller *p, int fd, unsigned events);

/*
 * Watches c->pid for exit: POLLER_CHILD with c once it is exiting (it may
 * not be reapable yet).  Returns 0 when watched, 1 when the poller cannot
 * watch it (the loop must waitpid on SIGCHLD and once before sleeping; the
 * child may already be a zombie), or -errno.
 */
int poller_child_add(struct poller *p, struct loop_child *c);
/* Stops watching c; harmless when its exit was already reported. */
void poller_child_del(struct poller *p, struct loop_child *c);

/* Reports signo (1..NSIG-1, not SIGKILL or SIGSTOP) instead of its default
 * action.  The loop calls it for the first user of signo only. */
int poller_sig_add(struct poller *p, int signo);
/* Undoes poller_sig_add; a signo still pending is dropped. */
void poller_sig_del(struct poller *p, int signo);
/* The next ready signal, or 0 when none is left. */
int poller_sig_next(struct poller *p);
/* In a child after fork(), before exec(): the signal mask and actions of
 * the thread before the poller changed them. */
void poller_after_fork(struct poller *p);

/* Makes poller_wake usable; nothing if it already is. */
int poller_wake_init(struct poller *p);
/* From any thread: a POLLER_WAKE event soon.  poller_wake_init first. */
void poller_wake(struct poller *p);
/* Empties the wake-ups seen so far; later ones give a new event. */
void poller_wake_drain(struct poller *p);

#endif /* DROVE_POLLER_H */
