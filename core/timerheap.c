/* The timer min-heap of timerheap.h. */
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "loop.h"
#include "timerheap.h"
#include "util.h"

static void
heap_set(struct timerheap *h, size_t i, struct loop_timer *t)
{
	h->v[i] = t;
	t->heap_idx = i;
}

static void
sift_up(struct timerheap *h, size_t i)
{
	struct loop_timer *t = h->v[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (h->v[parent]->due_ms <= t->due_ms)
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, t);
}

static void
sift_down(struct timerheap *h, size_t i)
{
	struct loop_timer *t = h->v[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= h->len)
			break;
		if (child + 1 < h->len &&
		    h->v[child + 1]->due_ms < h->v[child]->due_ms)
			child++;
		if (t->due_ms <= h->v[child]->due_ms)
			break;
		heap_set(h, i, h->v[child]);
		i = child;
	}
	heap_set(h, i, t);
}

void
timerheap_init(struct timerheap *h)
{
	h->v = NULL;
	h->len = 0;
	h->cap = 0;
	h->running = 0;
}

void
timerheap_release(struct timerheap *h)
{
	free(h->v);
	timerheap_init(h);
}

void
timerheap_push(struct timerheap *h, struct loop_timer *t)
{
	if (h->len == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	heap_set(h, h->len, t);
	h->len++;
	sift_up(h, h->len - 1);
}

void
timerheap_remove(struct timerheap *h, struct loop_timer *t)
{
	size_t i = t->heap_idx;
	struct loop_timer *last;

	h->len--;
	if (i == h->len)
		return;
	last = h->v[h->len];
	heap_set(h, i, last);
	/* The moved timer may belong above or below its new slot. */
	if (i > 0 && h->v[(i - 1) / 2]->due_ms > last->due_ms)
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct loop_timer *
timerheap_min(const struct timerheap *h)
{
	return h->len ? h->v[0] : NULL;
}

uint64_t
timerheap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
timerheap_arm(struct timerheap *h, struct loop_timer *t, uint64_t ms,
    loop_timer_fn cb, void *data)
{
	uint64_t first;

	if (t->active)
		timerheap_remove(h, t);
	first = timerheap_now_ns() / 1000000 + (ms > 0 || h->running);
	t->due_ms = ms > UINT64_MAX - first ? UINT64_MAX : first + ms;
	t->cb = cb;
	t->data = data;
	t->active = 1;
	timerheap_push(h, t);
}

void
timerheap_disarm(struct timerheap *h, struct loop_timer *t)
{
	if (!t->active)
		return;
	timerheap_remove(h, t);
	t->active = 0;
}
