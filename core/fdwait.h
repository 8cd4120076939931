/*
 * Calls that could not start for want of file descriptors (EMFILE, ENFILE:
 * DROVE_ENOFD) wait in the queue instead of failing.  Once a start ran out
 * while others were running, at most as many calls run as did then; each
 * call that ends lets one more start, so the limit follows what the
 * descriptors allow.  A start that runs out with nothing else running
 * fails: nothing would free a descriptor.
 */
#ifndef DROVE_FDWAIT_H
#define DROVE_FDWAIT_H

struct fdwait {
	long cap;	/* calls that may run at once; 0: no limit seen */
	int told;	/* the user was told once */
};

/* A start failed with DROVE_ENOFD while running others run: 1 when the
 * call should wait in the queue, 0 when it must fail. */
int fdwait_hold(struct fdwait *w, long running, int quiet);

/* Whether one more call may start while running run. */
int fdwait_allows(const struct fdwait *w, long running);

/* A call's attempt ended and gave its descriptors back. */
void fdwait_ended(struct fdwait *w);

#endif /* DROVE_FDWAIT_H */
