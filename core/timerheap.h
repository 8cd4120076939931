/*
 * A binary min-heap of loop timers ordered by due_ms, shared by the loop
 * back ends.  Each timer stores its own slot in heap_idx, so removing an
 * arbitrary timer is O(log n).  Timers due in the same millisecond come out
 * in no particular order.
 */
#ifndef DROVE_TIMERHEAP_H
#define DROVE_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct timerheap {
	struct loop_timer **v;
	size_t len;
	size_t cap;
	int running;	/* the loop is calling due timers */
};

void timerheap_init(struct timerheap *h);
/* Frees the array; the timers themselves belong to their owners. */
void timerheap_release(struct timerheap *h);
/* Inserts t (borrowed until removed); aborts on out-of-memory. */
void timerheap_push(struct timerheap *h, struct loop_timer *t);
/* Removes t, which must be in h. */
void timerheap_remove(struct timerheap *h, struct loop_timer *t);
/* The timer due first, or NULL when h is empty. */
struct loop_timer *timerheap_min(const struct timerheap *h);


/* Monotonic clock in nanoseconds. */
uint64_t timerheap_now_ns(void);
/*
 * Arms t to call cb(data) ms milliseconds from now (moving it if already
 * armed): due at the first whole millisecond at least ms after now, so it
 * never fires early, and after the loop's cached time, so a timer started
 * from a timer callback waits for the next turn.  ms = 0 started anywhere
 * else is due now: it runs at the end of this turn, after its I/O and
 * children, not at the next millisecond.
 */
void timerheap_arm(struct timerheap *h, struct loop_timer *t, uint64_t ms,
    loop_timer_fn cb, void *data);
/* Disarms t; nothing when it is not armed. */
void timerheap_disarm(struct timerheap *h, struct loop_timer *t);

#endif /* DROVE_TIMERHEAP_H */
