/*
 * Run ownership: a run directory belongs to one live drove process.  The
 * owner holds flock(2) on <run>/lock for the run's life and writes its pid
 * in it; the lock dies with the process (even with kill -9), the pid stays
 * behind as the name of the last owner.
 */
#ifndef DROVE_RUNLOCK_H
#define DROVE_RUNLOCK_H

#include <stddef.h>

struct runlock {
	int held;	/* 0 until runlock_take succeeds */
	int fd;
	long prev_pid;	/* the last owner's pid, or 0 when unknown */
};

/*
 * Takes dir's lock for this process and records getpid() in it.  Returns
 * 0; DROVE_ECONFLICT when a live process holds it (its pid in *owner, 0
 * when unreadable), with the reason in err; or DROVE_EIO.  Borrows dir.
 */
int runlock_take(struct runlock *l, const char *dir, long *owner, char *err,
    size_t errlen);

/* Releases the lock (closing the file); harmless when not held. */
void runlock_release(struct runlock *l);

/*
 * Whether a live process owns dir: 1 with its pid in *pid (0 when
 * unreadable), 0 when none does (no lock file, or nobody holds it), or
 * -errno.  Does not disturb the owner.
 */
int runlock_owner(const char *dir, long *pid);

#endif /* DROVE_RUNLOCK_H */
