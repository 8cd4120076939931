/* A run's events to --json and the view (see events.h). */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "jsondump.h"
#include "notify.h"
#include "run.h"
#include "ui.h"

struct events {
	struct run *r;
	struct ui *ui;
};

/* The index of the task named name, or -1. */
static long
task_index(struct events *e, const char *name)
{
	return name ? graph_find(e->r->g, name) : -1;
}

static void
emit(struct events *e, json_t *o)
{
	char *line;
	size_t len;

	if (!e->r->o->json)
		return;
	line = jsondump_line(o, JSON_COMPACT | JSON_PRESERVE_ORDER, &len);
	if (line == NULL)
		return;
	fwrite(line, 1, len, stdout);
	/* a consumer sees each event when it happens */
	fflush(stdout);
	free(line);
}

static const char *
sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static double
nget(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* The view's state for a task_wait's reason. */
static enum ui_state
wait_state(const char *reason)
{
	if (reason != NULL && strcmp(reason, "rate_limit") == 0)
		return UI_RATE;
	if (reason != NULL && strcmp(reason, "memory") == 0)
		return UI_MEM;
	return UI_SLOT;
}

/* Whether a failed task's agent left a stderr file (it is made at the
 * first byte): the view points there only then. */
static int
has_err_file(struct run *r, size_t i, const char *name)
{
	size_t k, n = r->g->tasks[i].replicas;
	char *p;
	int found = 0;

	for (k = 0; k < (n > 1 ? n : 1) && !found; k++) {
		p = n > 1 ? xasprintf("%s/tasks/%s.%zu.err", r->dir, name, k) :
		    xasprintf("%s/tasks/%s.err", r->dir, name);
		found = access(p, F_OK) == 0;
		free(p);
	}
	return found;
}

/* Tells the view that task i ended, from its task_done record. */
static void
view_done(struct events *e, long i, json_t *ev, const char *status)
{
	struct run *r = e->r;
	const char *name = run_task_name(r, (size_t)i);
	const char *err = sget(ev, "error");
	char *why = NULL;

	/* where a failed agent's stderr is, in full */
	if (strcmp(status, "failed") == 0 && r->t[i].started &&
	    r->g->tasks[i].nbackends > 0 && has_err_file(r, (size_t)i, name))
		err = why = xasprintf("%s (see %s/tasks/%s%s.err)", err ? err :
		    "", r->dir, name, r->g->tasks[i].replicas > 1 ? ".*" : "");
	ui_task_done(e->ui, (size_t)i, name, status,
	    nget(ev, "end_s") - nget(ev, "start_s"), sget(ev, "backend"),
	    err, (uint64_t)(nget(ev, "tokens_in") + nget(ev, "tokens_out")),
	    nget(ev, "cost_usd"));
	free(why);
}

/* After run_start: the tasks an earlier run finished, so that a stream
 * of a resumed run tells all. */
static void
emit_resumed(struct events *e)
{
	struct run *r = e->r;

	for (size_t i = 0; i < r->g->n; i++) {
		json_t *o, *t;

		if (!r->t[i].resumed || r->t[i].st != TS_OK)
			continue;
		o = json_object();
		json_object_set_new(o, "event", json_string("task_done"));
		json_object_set_new(o, "task", json_string(run_task_name(r,
		    i)));
		json_object_set_new(o, "t", json_real(0));
		t = rundir_task_json(r, i);
		json_object_update_missing(o, t);
		json_decref(t);
		json_object_set_new(o, "text", json_text(r->t[i].text,
		    r->t[i].len));
		emit(e, o);
		view_done(e, (long)i, o, "resumed");
		json_decref(o);
	}
}

static void
on_event(void *arg, json_t *ev)
{
	struct events *e = arg;
	struct run *r = e->r;
	const char *type = sget(ev, "event");
	json_t *o;
	long i;

	if (type == NULL)
		return;
	i = task_index(e, sget(ev, "task"));
	/* event first; not the journal's older name for the record, ev.
	 * Built only for a stream that reads it */
	if (r->o->json) {
		o = json_object();
		json_object_set_new(o, "event", json_string(type));
		json_object_update_missing(o, ev);
		json_object_del(o, "ev");
		if (strcmp(type, "task_done") == 0 && i >= 0 &&
		    r->t[i].st == TS_OK)
			json_object_set_new(o, "text", json_text(r->t[i].text,
			    r->t[i].len));
		else if (strcmp(type, "run_done") == 0 && r->summary != NULL)
			json_object_update_missing(o, r->summary);
		emit(e, o);
		json_decref(o);
	}
	if (strcmp(type, "run_start") == 0) {
		emit_resumed(e);
		return;
	}
	if (i < 0)
		return;
	if (strcmp(type, "task_start") == 0) {
		struct backend *be = backend_find(r->be, r->nbe,
		    sget(ev, "backend"));

		/* the view keeps the name: the run's copy, not the event's */
		ui_task_start(e->ui, (size_t)i, run_task_name(r, (size_t)i),
		    be ? be->name : NULL, (int)nget(ev, "attempt"));
	}
	else if (strcmp(type, "task_wait") == 0)
		ui_task_wait(e->ui, (size_t)i, run_task_name(r, (size_t)i),
		    wait_state(sget(ev, "reason")));
	else if (strcmp(type, "task_pending") == 0 ||
	    strcmp(type, "task_job") == 0)
		ui_task_pending(e->ui, (size_t)i, run_task_name(r, (size_t)i),
		    sget(ev, "reason"));
	else if (strcmp(type, "task_retry") == 0)
		ui_task_retry(e->ui, (size_t)i, run_task_name(r, (size_t)i),
		    nget(ev, "wait_s"), json_is_true(json_object_get(ev,
		    "rate_limited")));
	else if (strcmp(type, "task_done") == 0 ||
	    strcmp(type, "task_skipped") == 0)
		view_done(e, i, ev, sget(ev, "status") ? sget(ev, "status") :
		    "skipped");
	/* a task that ran and ended: the notify hook hears of it */
	if (strcmp(type, "task_done") == 0 && sget(ev, "status") != NULL)
		notify_task(r->notify, run_task_name(r, (size_t)i),
		    sget(ev, "status"), nget(ev, "end_s") - nget(ev,
		    "start_s"), nget(ev, "cost_usd"), r->t[i].exit_code);
}

/* A running call streamed len bytes more (call_env.progress). */
static void
on_progress(void *arg, struct call *c, size_t len)
{
	struct events *e = arg;
	long i = task_index(e, c->task);

	if (i >= 0)
		ui_task_progress(e->ui, (size_t)i, len, c->be != NULL &&
		    strcmp(c->be->p->name, "exec") != 0);
}

void
events_open(struct run *r)
{
	struct events *e = xcalloc(1, sizeof(*e));

	e->r = r;
	e->ui = ui_new(r->loop, STDERR_FILENO, r->g->n, r->t0, r->o->quiet,
	    log_verbosity >= 2);
	r->ev = e;
	r->j.tap = on_event;
	r->j.tap_arg = e;
	r->jenv.progress = r->menv.progress = on_progress;
	r->jenv.progress_arg = r->menv.progress_arg = e;
}

int
events_task_heard(const struct run *r)
{
	/* a quiet view on stderr prints no task's end (ui.c) */
	return r->ev != NULL && (r->o->json || !r->o->quiet ||
	    notify_has_hook(r->notify));
}

void
events_close(struct run *r)
{
	struct events *e = r->ev;

	if (e == NULL)
		return;
	r->j.tap = NULL;
	r->jenv.progress = r->menv.progress = NULL;
	ui_free(e->ui);
	free(e);
	r->ev = NULL;
}
