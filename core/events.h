/*
 * A run's events (docs/EVENTS.md), as the journal records them: every
 * record with an "event" field also goes to the `--json` stream on stdout
 * and to the view on stderr (ui.c), with what a consumer needs that the
 * journal keeps in files (a task's text, the summary).  The journal's tap;
 * the one place the scheduler's events leave the process.
 */
#ifndef DROVE_EVENTS_H
#define DROVE_EVENTS_H

struct run;

/* Starts the stream and the view of r (after its journal is open and
 * before its first event).  r->ev owns them until events_close. */
void events_open(struct run *r);
/* Erases the live block and frees the stream (after the run_done event,
 * before the summary is printed).  Safe when not open. */
void events_close(struct run *r);
/* Whether a task's end reaches anyone beyond the journal: the stream, a
 * view that prints it, or the notify hook.  0 when not open. */
int events_task_heard(const struct run *r);

#endif /* DROVE_EVENTS_H */
