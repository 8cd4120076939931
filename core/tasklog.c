/*
 * What a task leaves in the journal (docs/EVENTS.md), which events.c passes
 * on to the --json stream and the view on stderr: its end, and why it
 * waits.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "events.h"
#include "run.h"

json_t *
tasklog_event(struct run *r, size_t i, enum tstate st)
{
	struct trun *t = &r->t[i];
	json_t *ev = json_object();

	/* ev, task and status first, as readers of earlier journals grep */
	json_object_set_new(ev, "ev", json_string("task"));
	json_object_set_new(ev, "task", json_string(run_task_name(r, i)));
	json_object_set_new(ev, "status", json_string(run_state_name(st)));
	json_object_set_new(ev, "event", json_string(st == TS_SKIPPED ?
	    "task_skipped" : "task_done"));
	json_object_set_new(ev, "t", json_real(run_rel(r)));
	json_object_set_new(ev, "output", st == TS_OK ?
	    json_texts(t->out_path) : json_null());
	rundir_task_fill(r, i, ev);
	return ev;
}

void
tasklog_journal(struct run *r, size_t i)
{
	run_jlog(r, tasklog_event(r, i, r->t[i].st), 1);
}

void
tasklog_progress(struct run *r, size_t i)
{
	json_t *ev;

	/* an ok task's record went to the journal through the group
	 * commit, not journal_append: the stream and the view learn of it
	 * here, once it is durable */
	if (r->t[i].st != TS_OK || r->j.tap == NULL ||
	    !events_task_heard(r))
		return;
	ev = tasklog_event(r, i, TS_OK);
	r->j.tap(r->j.tap_arg, ev);
	json_decref(ev);
}

static const char *const wait_reason[] = {
	[WAIT_SLOT] = "slot",
	[WAIT_RATE] = "rate_limit",
	[WAIT_MEM] = "memory",
};

void
tasklog_wait(struct run *r, struct job *jb, enum wait_why why,
    uint64_t room)
{
	json_t *ev;

	if (jb->wait == why)
		return;
	if (jb->wait == WAIT_SLOT)
		r->nslot_told--;
	if (why == WAIT_SLOT)
		r->nslot_told++;
	jb->wait = why;
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("wait"));
	json_object_set_new(ev, "event", json_string("task_wait"));
	json_object_set_new(ev, "task", json_string(run_task_name(r,
	    jb->task)));
	json_object_set_new(ev, "replica", json_integer(jb->replica));
	json_object_set_new(ev, "reason", json_string(wait_reason[why]));
	if (why == WAIT_MEM) {
		json_object_set_new(ev, "mem", json_integer((json_int_t)
		    jb->c.be->lim.mem_bytes));
		json_object_set_new(ev, "mem_free", json_integer((json_int_t)
		    room));
	}
	json_object_set_new(ev, "t", json_real(run_rel(r)));
	run_jlog(r, ev, JOURNAL_LATER);
}
