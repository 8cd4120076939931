/*
 * What a task's end leaves behind: its event in the journal, its JSON line
 * on stdout (--json) and its progress line on stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "run.h"

json_t *
tasklog_event(struct run *r, size_t i, enum tstate st)
{
	struct trun *t = &r->t[i];
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("task"));
	json_object_set_new(ev, "task", json_string(run_task_name(r, i)));
	json_object_set_new(ev, "status", json_string(run_state_name(st)));
	json_object_set_new(ev, "t", json_real(run_rel(r)));
	if (st == TS_OK)
		json_object_set_new(ev, "output", json_texts(t->out_path));
	if (t->error)
		json_object_set_new(ev, "error", json_texts(t->error));
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
	struct trun *t = &r->t[i];
	const char *be = "";
	double dur = t->end_s - t->start_s;

	if (r->t[i].njobs && r->t[i].jobs[0].c.be)
		be = r->t[i].jobs[0].c.be->name;
	if (r->o->json) {
		json_t *o = json_object();

		json_object_set_new(o, "task", json_string(run_task_name(r, i)));
		json_object_set_new(o, "status",
		    json_string(run_state_name(t->st)));
		if (t->st == TS_OK) {
			json_object_set_new(o, "output",
			    json_text(t->text, t->len));
			json_object_set_new(o, "file",
			    json_texts(t->out_path));
		}
		if (t->error)
			json_object_set_new(o, "error",
			    json_texts(t->error));
		json_object_set_new(o, "start_s", json_real(t->start_s));
		json_object_set_new(o, "end_s", json_real(t->end_s));
		char *line = json_dumps(o, JSON_COMPACT |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", line);
		fflush(stdout);
		free(line);
		json_decref(o);
	}
	if (r->o->quiet)
		return;
	r->done_count++;
	if (t->st == TS_OK)
		log_info("[%zu/%zu] ok      %-20s %6.2fs  %s", r->done_count,
		    r->g->n, run_task_name(r, i), dur, be);
	else if (t->st == TS_FAILED && t->started)
		/* where the agent's stderr is, in full */
		log_info("[%zu/%zu] %-7s %-20s %s (see %s/tasks/%s%s.err)",
		    r->done_count, r->g->n, run_state_name(t->st),
		    run_task_name(r, i), t->error ? t->error : "", r->dir,
		    run_task_name(r, i),
		    r->g->tasks[i].replicas > 1 ? ".*" : "");
	else
		log_info("[%zu/%zu] %-7s %-20s %s", r->done_count, r->g->n,
		    run_state_name(t->st), run_task_name(r, i),
		    t->error ? t->error : "");
}
