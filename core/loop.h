/*
 * The event loop: one thread watches fds, timers, child exits and signals.
 * Nothing polls or sleeps; every wake-up is an event.
 *
 * Watchers are embedded in the caller's structs and owned by the caller: the
 * loop only borrows them between *_start and *_stop (or, for one-shot
 * watchers, until their callback runs).  A callback may stop or free any
 * watcher, including its own, and may start new ones.
 *
 * loop.c implements this once for every OS over a small poller
 * (poller.h): poll_epoll.c on Linux, poll_kqueue.c on BSD and macOS, of
 * which build.sh compiles exactly one.
 */
#ifndef DROVE_LOOP_H
#define DROVE_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;

#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u	/* error or hang-up; delivered even if not asked,
			 * together with the watched directions */

struct loop_io;
struct loop_timer;
struct loop_child;
struct loop_signal;
struct loop_async;

typedef void (*loop_io_fn)(struct loop *l, struct loop_io *w, unsigned ev);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t);
/* status is the raw wait status (WIFEXITED etc. apply). */
typedef void (*loop_child_fn)(struct loop *l, struct loop_child *c,
    int status);
typedef void (*loop_signal_fn)(struct loop *l, struct loop_signal *s,
    int signo);
typedef void (*loop_async_fn)(struct loop *l, struct loop_async *a);

struct loop_io {
	int fd;
	unsigned events;	/* LOOP_READ | LOOP_WRITE */
	loop_io_fn cb;
	void *data;
	int active;
};

struct loop_timer {
	uint64_t due_ms;	/* monotonic ms */
	loop_timer_fn cb;
	void *data;
	size_t heap_idx;	/* internal */
	int active;
};

struct loop_child {
	pid_t pid;
	loop_child_fn cb;
	void *data;
	int pidfd;		/* internal: Linux's pidfd, else -1 */
	struct loop_io io;	/* internal: active while the poller watches */
	struct loop_timer retry; /* internal: exit seen, not yet reapable */
	struct loop_child *next; /* internal */
	int active;
};

struct loop_signal {
	int signo;
	loop_signal_fn cb;
	void *data;
	struct loop_signal *next; /* internal */
	int active;
};

/* Wakes the loop from another thread; cb runs on the loop thread. */
struct loop_async {
	loop_async_fn cb;
	void *data;
	struct loop_async *next; /* internal */
	volatile int pending;	/* internal */
	int active;
};

/* Creates a loop; NULL on failure (errno set).  Free with loop_free. */
struct loop *loop_new(void);
/* Frees the loop; every watcher must have been stopped.  Restores the
 * signal mask the loop changed; signals still pending for it are dropped. */
void loop_free(struct loop *l);

/* Runs until loop_stop() or until no watcher is active.  Returns 0, or a
 * negative errno on a fatal error of the poller.  Only io, timer and child
 * watchers count as active: signal and async watchers alone do not keep
 * the loop running.  Not reentrant (-EBUSY from a callback). */
int loop_run(struct loop *l);
/* Makes loop_run return after the current callback. */
void loop_stop(struct loop *l);
/* Monotonic milliseconds, cached at each wake-up. */
uint64_t loop_now(struct loop *l);
/* Updates the cached time from the clock and returns it. */
uint64_t loop_update_time(struct loop *l);

/* Watches fd for events (LOOP_READ|LOOP_WRITE).  Returns 0 or -errno.
 * At most one active watcher per fd (else -EEXIST on Linux). */
int loop_io_start(struct loop *l, struct loop_io *w, int fd, unsigned events,
    loop_io_fn cb, void *data);
/* Changes the events of an active watcher.  Returns 0 or -errno. */
int loop_io_set(struct loop *l, struct loop_io *w, unsigned events);
/* Stops watching; call before closing the fd.  Safe when inactive. */
void loop_io_stop(struct loop *l, struct loop_io *w);

/* One-shot timer after ms milliseconds; restarting an active timer moves
 * it.  It never fires early: due_ms is the first whole millisecond at least
 * ms after the call, so it may run up to about 1 ms late.  0 ms is the end
 * of the current turn (after its I/O and children; from a timer callback,
 * the next turn's).  Timers due in the same millisecond run in no
 * particular order. */
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms,
    loop_timer_fn cb, void *data);
void loop_timer_stop(struct loop *l, struct loop_timer *t);

/* Reaps pid when it exits and calls cb once (one-shot).  Uses pidfd_open
 * where the kernel has it, else SIGCHLD (forced by DROVE_NO_PIDFD=1 in the
 * environment at loop_new, for tests).  status is -1 if the process was
 * reaped by someone else.  Returns 0 or -errno. */
int loop_child_start(struct loop *l, struct loop_child *c, pid_t pid,
    loop_child_fn cb, void *data);
/* Stops watching (the child is then not reaped by the loop). */
void loop_child_stop(struct loop *l, struct loop_child *c);

/* Delivers signo through the loop instead of its default action (it is
 * blocked for the process and read from a signalfd or a self-pipe).
 * Returns 0 or -errno.  On Linux the mask is the calling thread's: start
 * signal watchers before creating threads, or block the signals in them. */
int loop_signal_start(struct loop *l, struct loop_signal *s, int signo,
    loop_signal_fn cb, void *data);
void loop_signal_stop(struct loop *l, struct loop_signal *s);

/* Child processes must start with the signal mask and dispositions the
 * process had before the loop changed them: call this in the child after
 * fork(), before exec(). */
void loop_child_after_fork(struct loop *l);

/* Registers an async wake-up; loop_async_send may be called from any
 * thread, any number of times; cb runs at least once after each send.
 * An active async does not keep loop_run alive (it is "unref'd"). */
int loop_async_start(struct loop *l, struct loop_async *a, loop_async_fn cb,
    void *data);
void loop_async_send(struct loop *l, struct loop_async *a);
void loop_async_stop(struct loop *l, struct loop_async *a);

#endif /* DROVE_LOOP_H */
