/*
 * What a run shows on stderr while it runs.  On a terminal: a live block
 * of the running tasks (name, backend, elapsed, output so far, state)
 * under a totals line, redrawn at most 10 times a second and only after a
 * change, with one permanent line above it for each task that ends.
 * Elsewhere: one plain line per event, nothing redrawn.  Fed by events
 * (events.c), never by the scheduler's internals; owns no task state but
 * its own counters.
 */
#ifndef DROVE_UI_H
#define DROVE_UI_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

/* What a task is doing, as the live view says it. */
enum ui_state {
	UI_IDLE = 0,	/* dependencies pending */
	UI_SLOT,	/* ready, waiting for a free slot */
	UI_RATE,	/* waiting for a rate limit */
	UI_MEM,		/* waiting for memory (a backend's mem) */
	UI_RETRY,	/* waiting out a backoff */
	UI_RUN,
	UI_DONE,
	UI_PENDING,	/* its job waits in a cluster's queue */
};

struct ui;

/*
 * A view on fd for ntasks tasks on loop l: live when fd is a terminal
 * (and TERM is not "dumb"), coloured unless NO_COLOR is set, silent when
 * quiet.  verbose adds start and wait lines.  t0 is the run's start
 * (monotonic s).  The caller frees it with ui_free.
 */
struct ui *ui_new(struct loop *l, int fd, size_t ntasks, double t0,
    int quiet, int verbose);
/* Erases the live block and stops its timers; ui_free does it too. */
void ui_end(struct ui *u);
void ui_free(struct ui *u);

/* 1 when the view redraws a live block (a terminal). */
int ui_is_live(const struct ui *u);

/* Task i (its name borrowed for the life of u) starts an attempt on
 * backend (borrowed likewise). */
void ui_task_start(struct ui *u, size_t i, const char *name,
    const char *backend, int attempt);
/* Task i waits: UI_SLOT, UI_RATE or UI_MEM. */
void ui_task_wait(struct ui *u, size_t i, const char *name,
    enum ui_state why);
/* Task i's job waits in a scheduler's queue for reason (not NULL), or,
 * with reason NULL, runs now. */
void ui_task_pending(struct ui *u, size_t i, const char *name,
    const char *reason);
/* Task i retries after wait_s; rate: for a rate limit. */
void ui_task_retry(struct ui *u, size_t i, const char *name, double wait_s,
    int rate);
/* Task i's calls have streamed bytes more (tokens: an API's text, shown
 * as estimated tokens; else bytes of output). */
void ui_task_progress(struct ui *u, size_t i, size_t bytes, int tokens);
/* Task i ended: status "ok", "failed", "cancelled" or "skipped";
 * error may be NULL.  Prints its permanent line. */
void ui_task_done(struct ui *u, size_t i, const char *name,
    const char *status, double secs, const char *backend, const char *error,
    uint64_t tokens, double cost);

#endif /* DROVE_UI_H */
