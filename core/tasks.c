/*
 * The tasks of a run, from ready to ok, failed or skipped: a task's
 * replicas are jobs (each one call, see call.c) in one FIFO queue, started
 * up to `jobs`, the backends' limits and the budget; when they have ended
 * the task's merge runs; a result is written the moment it lands and its
 * dependents become ready.  The loop stops when nothing more can happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "call.h"
#include "host.h"
#include "jsondump.h"
#include "run.h"
#include "worktree.h"

static void task_failed(struct run *r, size_t i, const char *error);
static void tasks_maybe_finish(struct run *r);
static const struct call_ops job_ops;
static const struct host_merge_ops merge_ops;

static int
task_write_output(struct host_merge *hm, const char *path, const void *data,
    size_t len, char *err, size_t errlen)
{
	struct trun *t = (struct trun *)hm;
	int rc;

	rc = claim_add(t->run, path, t->idx, err, errlen);
	if (rc < 0)
		return rc;
	/* made durable by the flush before the task's record */
	rc = commit_write(&t->run->commit, path, data, len);
	if (rc < 0) {
		errf(err, errlen, "cannot write '%s': %s", path,
		    strerror(-rc));
		return DROVE_EIO;
	}
	return 0;
}

/* --- prompts ------------------------------------------------------------ */

/* The result of the task a reference names, trailing newlines trimmed;
 * 0 (keep the reference) unless that task succeeded. */
static int
ref_text(void *arg, const char *name, size_t namelen, const char **text,
    size_t *len)
{
	struct run *r = arg;
	char *n = xstrndup(name, namelen);
	long idx = graph_find(r->g, n);

	free(n);
	if (idx < 0 || r->t[idx].st != TS_OK)
		return 0;
	*text = r->t[idx].text;
	*len = r->t[idx].len;
	while (*len && (*text)[*len - 1] == '\n')
		(*len)--;
	return 1;
}

/* Replaces {{name}} by that task's result and {{{{ by {{ (graph.h). */
static char *
expand_refs(struct run *r, const char *s)
{
	return s ? graph_expand_refs(s, ref_text, r) : NULL;
}

/* --- queue -------------------------------------------------------------- */

static void
enqueue(struct run *r, struct job *jb)
{
	if (r->qlen == r->qcap) {
		r->qcap = r->qcap ? r->qcap * 2 : 16;
		r->queue = xrealloc(r->queue, r->qcap * sizeof(*r->queue));
	}
	r->queue[r->qlen++] = jb;
	if (jb->wait == WAIT_SLOT)
		r->nslot_told++;
	jb->c.state = CALL_QUEUED;
}

static void
dequeue_at(struct run *r, size_t k)
{
	if (r->queue[k]->wait == WAIT_SLOT)
		r->nslot_told--;
	memmove(&r->queue[k], &r->queue[k + 1],
	    (r->qlen - k - 1) * sizeof(*r->queue));
	r->qlen--;
}

/* --- task lifecycle ----------------------------------------------------- */

static void make_ready(struct run *r, size_t i);

/* The task's result is durable and its record written (or rc < 0). */
static void
task_durable(void *arg, int rc)
{
	struct trun *t = arg;
	struct run *r = t->run;
	size_t i = t->idx;
	const struct task *gt = &r->g->tasks[i];

	r->committing--;
	if (rc < 0) {
		char *e = xasprintf("cannot write '%s': %s", t->out_path,
		    strerror(-rc));

		task_failed(r, i, e);
		free(e);
	} else {
		t->st = TS_OK;
		tasklog_progress(r, i);
		for (size_t k = 0; k < gt->nrdeps; k++) {
			size_t d = gt->rdeps[k];

			if (r->t[d].st != TS_WAIT || r->t[d].pending == 0)
				continue;
			if (--r->t[d].pending == 0 && !r->stopping)
				make_ready(r, d);
		}
	}
	tasks_maybe_finish(r);
	tasks_pump(r);
}

/*
 * Whether the one replica's live copy may be on disk, so that the commit
 * writer has one to drop: an API call made it at a write (live_made); an
 * agent's copy is made at its first stdout byte, so with no output it is
 * there only as an earlier attempt's or an earlier run's, emptied.  Most
 * tasks have none, and an open that fails costs the writer a lookup.
 */
static int
live_may_exist(const struct run *r, const struct trun *t)
{
	const struct call *c = &t->jobs[0].c;

	if (c->live_made)
		return 1;
	if (!c->hc.ctx.teed)
		return 0;
	return t->len > 0 || c->attempts + c->fb_base > 1 ||
	    r->o->resume != NULL;
}

/* The task's worktree is committed (or it has none): it is ok. */
static void
task_committed(void *arg, size_t i, int rc, const char *err)
{
	struct run *r = arg;
	struct trun *t = &r->t[i];
	char *line;
	json_t *ev;

	if (rc < 0) {
		free(t->text);
		t->text = NULL;
		t->len = 0;
		task_failed(r, i, err);
		return;
	}
	/* the result goes to disk with the others of this loop turn; the
	 * task is ok, and its record says so, once it is durable */
	t->st = TS_COMMIT;
	t->end_s = run_rel(r);
	if (!t->started)
		t->start_s = t->end_s;
	ev = tasklog_event(r, i, TS_OK);
	line = jsondump(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);
	r->committing++;
	/* one replica: its live copy (an API answer redacted alike) is the
	 * output over again; it goes once the output is durable, if it
	 * holds just that.  Replicas keep theirs: the output is a merge */
	commit_output(&r->commit, t->out_path, t->text, t->len, line,
	    t->njobs == 1 && live_may_exist(r, t) ? t->jobs[0].live_path :
	    NULL, task_durable, t);
}

/* wt_finish's end, from the loop. */
static void
task_committed_cb(void *arg, size_t i, int rc, const char *err)
{
	task_committed(arg, i, rc, err);
	tasks_maybe_finish(arg);
	tasks_pump(arg);
}

static void
task_ok(struct run *r, size_t i, const char *text, size_t len)
{
	struct trun *t = &r->t[i];

	t->text = xstrndup(text, len);
	t->len = len;
	/* a worktree is committed first, on the loop; meanwhile the task
	 * is running, no longer merging */
	t->st = TS_RUN;
	if (wt_finish(r->wt, i, task_committed_cb, r) == 0)
		task_committed(r, i, 0, NULL);
}

/* Marks every task downstream of i skipped (it can never run). */
static void
skip_downstream(struct run *r, size_t i, const char *why)
{
	const struct task *gt = &r->g->tasks[i];

	for (size_t k = 0; k < gt->nrdeps; k++) {
		size_t d = gt->rdeps[k];

		if (r->t[d].st != TS_WAIT)
			continue;
		r->t[d].st = TS_SKIPPED;
		free(r->t[d].error);
		r->t[d].error = xasprintf("%s '%s' %s", "dependency",
		    why, "did not succeed");
		tasklog_journal(r, d);
		skip_downstream(r, d, why);
	}
}

static void
task_failed(struct run *r, size_t i, const char *error)
{
	struct trun *t = &r->t[i];

	t->st = r->interrupted ? TS_CANCELLED : TS_FAILED;
	t->end_s = run_rel(r);
	if (!t->started)
		t->start_s = t->end_s;
	free(t->error);
	t->error = xstrdup(error ? error : "failed");
	tasklog_journal(r, i);
	if (t->st == TS_FAILED) {
		r->failed = 1;
		if (!r->o->keep_going && !r->stopping) {
			r->stopping = 1;
			if (!r->o->quiet)
				log_info("task '%s' failed: starting no new "
				    "tasks (-k keeps going)", run_task_name(r, i));
		}
	}
	skip_downstream(r, i, run_task_name(r, i));
}

static void
merge_start(struct run *r, size_t i, struct drove_merge_input *in, size_t n)
{
	const struct task *gt = &r->g->tasks[i];
	struct trun *t = &r->t[i];
	const struct drove_plugin *p;
	int rc;

	p = registry_find(r->reg, DROVE_PLUGIN_MERGE, gt->merge);
	t->st = TS_MERGE;
	t->mi = in;
	memset(&t->mc, 0, sizeof(t->mc));
	t->mc.size = sizeof(t->mc);
	t->mc.task = gt->name;
	t->mc.conf = (const struct drove_conf *)gt->sec;
	t->mc.n = n;
	t->mc.inputs = in;
	t->mc.output = gt->output;
	if (t->artifact_dir == NULL)
		t->artifact_dir = xasprintf("%s/tasks/%s.merge", r->dir,
		    gt->name);
	t->mc.artifact_dir = t->artifact_dir;
	t->mc.core = &t->hm;
	if (p == NULL) {
		task_failed(r, i, "unknown merge");
		return;
	}
	r->merging++;
	rc = p->merge->start(host_get(), &t->mc);
	if (rc < 0 && t->st == TS_MERGE) {
		r->merging--;
		task_failed(r, i, "merge could not start");
	}
}

static void
merge_done(struct host_merge *hm, int outcome, const char *text, size_t len,
    const char *error)
{
	struct trun *t = (struct trun *)hm;
	struct run *r = t->run;
	size_t i = t->idx;
	const struct task *gt = &r->g->tasks[i];
	char werr[512];

	if (t->st != TS_MERGE)
		return;
	r->merging--;
	/* the merged result goes to `output`: the core's job, not each
	 * merge's (but for one that writes a file per source) */
	if (outcome == DROVE_MERGE_CLEAN && gt->output != NULL &&
	    !registry_merge_owns_output(registry_find(r->reg,
	    DROVE_PLUGIN_MERGE, gt->merge))) {
		char *path = host_expand_output(gt->output, gt->name, 0);

		if (task_write_output(hm, path, text ? text : "", text ? len :
		    0, werr, sizeof(werr)) < 0) {
			outcome = DROVE_MERGE_ERROR;
			error = werr;
		}
		free(path);
	}
	/* a merge of one replica passes it on: no record */
	if (gt->nbackends == 0 || t->mc.n > 1) {
		json_t *ev = json_object();

		json_object_set_new(ev, "ev", json_string("merge_done"));
		json_object_set_new(ev, "event", json_string("merge_done"));
		json_object_set_new(ev, "task", json_string(gt->name));
		json_object_set_new(ev, "merge", json_string(gt->merge));
		json_object_set_new(ev, "inputs",
		    json_integer((json_int_t)t->mc.n));
		json_object_set_new(ev, "merged",
		    json_boolean(outcome == DROVE_MERGE_CLEAN));
		if (outcome != DROVE_MERGE_CLEAN && error != NULL)
			json_object_set_new(ev, "error", json_texts(error));
		json_object_set_new(ev, "t", json_real(run_rel(r)));
		run_jlog(r, ev, 0);
	}
	if (outcome == DROVE_MERGE_CLEAN) {
		task_ok(r, i, text ? text : "", text ? len : 0);
	} else {
		char *e = xasprintf("%s merge: %s", r->g->tasks[i].merge,
		    error ? error : outcome == DROVE_MERGE_CONFLICT ?
		    "conflict" : "error");

		task_failed(r, i, e);
		free(e);
	}
	tasks_maybe_finish(r);
	tasks_pump(r);
}

static int
merge_backend_call(struct host_merge *hm, const char *backend,
    const char *prompt, const char *system,
    void (*done)(void *arg, const struct drove_result *r), void *arg,
    void **handle)
{
	struct trun *t = (struct trun *)hm;

	return mcall_backend_call(t->run, t->idx, backend, prompt, system,
	    done, arg, handle);
}

static int
merge_note(struct host_merge *hm, const char *key, const char *json)
{
	struct trun *t = (struct trun *)hm;

	return mcall_note(t->run, t->idx, key, json);
}

static const struct host_merge_ops merge_ops = {
	.write_output = task_write_output,
	.done = merge_done,
	.backend_call = merge_backend_call,
	.note = merge_note,
};

/* All replicas of task i have ended: merge them. */
static void
replicas_done(struct run *r, size_t i)
{
	struct trun *t = &r->t[i];
	struct drove_merge_input *in;
	size_t ok = 0;

	for (size_t k = 0; k < t->njobs; k++)
		ok += t->jobs[k].c.status == 0;
	if (r->interrupted && ok < t->njobs) {
		t->st = TS_CANCELLED;
		task_failed(r, i, "interrupted");
		return;
	}
	if (ok == 0) {
		struct job *jb = &t->jobs[0];

		/* the failure reported is the first replica's: so is its
		 * agent's exit status */
		if (jb->c.exit_code > 0)
			t->exit_code = jb->c.exit_code;
		task_failed(r, i, jb->c.error ? jb->c.error : "failed");
		return;
	}
	in = xcalloc(t->njobs, sizeof(*in));
	for (size_t k = 0; k < t->njobs; k++) {
		struct job *jb = &t->jobs[k];

		in[k].size = sizeof(in[k]);
		in[k].task = run_task_name(r, i);
		in[k].replica = t->njobs > 1 ? (int)k : -1;
		in[k].backend = jb->c.be ? jb->c.be->name : NULL;
		in[k].status = jb->c.status;
		in[k].text = jb->c.text ? jb->c.text : "";
		in[k].len = jb->c.len;
	}
	merge_start(r, i, in, t->njobs);
}

static void
merge_node_ready(struct run *r, size_t i)
{
	const struct task *gt = &r->g->tasks[i];
	struct drove_merge_input *in = xcalloc(gt->ninputs + 1, sizeof(*in));

	for (size_t k = 0; k < gt->ninputs; k++) {
		long s = graph_find(r->g, gt->inputs[k]);

		in[k].size = sizeof(in[k]);
		in[k].task = gt->inputs[k];
		in[k].replica = -1;
		in[k].status = r->t[s].st == TS_OK ? 0 : DROVE_ECHILD;
		in[k].text = r->t[s].text ? r->t[s].text : "";
		in[k].len = r->t[s].len;
	}
	r->t[i].started = 1;
	r->t[i].start_s = run_rel(r);
	merge_start(r, i, in, gt->ninputs);
}

static void start_jobs(struct run *r, size_t i);

/* wt_prepare's end: the task's worktree is ready, or the task fails. */
static void
task_prepared(void *arg, size_t i, int rc, const char *err)
{
	struct run *r = arg;

	if (rc < 0)
		task_failed(r, i, err);
	else
		start_jobs(r, i);
	tasks_maybe_finish(r);
	tasks_pump(r);
}

static void
make_ready(struct run *r, size_t i)
{
	if (r->g->tasks[i].nbackends == 0) {
		merge_node_ready(r, i);
		return;
	}
	/* a worktree is made first, on the loop */
	if (wt_prepare(r->wt, i, task_prepared, r) == 0)
		start_jobs(r, i);
}

static void
start_jobs(struct run *r, size_t i)
{
	const struct task *gt = &r->g->tasks[i];
	struct trun *t = &r->t[i];

	t->st = TS_RUN;
	t->njobs = t->jobs_left = (size_t)gt->replicas;
	t->jobs = xcalloc(t->njobs, sizeof(*t->jobs));
	for (size_t k = 0; k < t->njobs; k++) {
		struct job *jb = &t->jobs[k];

		struct backend *be;

		be = backend_find(r->be, r->nbe,
		    gt->backends[k % gt->nbackends]);
		jb->run = r;
		jb->task = i;
		jb->replica = (int)k;
		jb->prompt = expand_refs(r, gt->prompt);
		jb->system = expand_refs(r, gt->system);
		if (t->njobs > 1) {
			jb->stderr_path = xasprintf("%s/tasks/%s.%zu.err",
			    r->dir, gt->name, k);
			jb->live_path = xasprintf("%s/tasks/%s.%zu.live",
			    r->dir, gt->name, k);
		} else {
			jb->stderr_path = xasprintf("%s/tasks/%s.err", r->dir,
			    gt->name);
			jb->live_path = xasprintf("%s/tasks/%s.live", r->dir,
			    gt->name);
		}
		call_init(&jb->c, &r->jenv, &job_ops, jb, be);
		jb->c.task = gt->name;
		jb->c.replica = jb->replica;
		jb->c.prompt = jb->prompt;
		jb->c.system = jb->system;
		jb->c.model = gt->model;
		jb->c.max_tokens = gt->max_tokens;
		jb->c.timeout_s = call_timeout(be, gt->timeout_s);
		jb->c.workdir = wt_workdir(r->wt, i);
		jb->c.stderr_path = jb->stderr_path;
		jb->c.hc.ctx.live_path = jb->live_path;
		/* a new run: no earlier attempt left files to empty */
		jb->c.hc.ctx.fresh = r->o->resume == NULL;
		jb->c.live_stale = r->o->resume != NULL;
		jb->c.task_conf = (const struct drove_conf *)gt->sec;
		/* a task's own retries, else its backend's default */
		jb->c.own_retries = conf_get(gt->sec, "retries") != NULL;
		jb->c.retries = jb->c.own_retries ? gt->retries :
		    be->lim.retries;
		jb->c.task_timeout_s = gt->timeout_s;
		enqueue(r, jb);
	}
}

/* --- jobs --------------------------------------------------------------- */

static int
job_may_retry(struct call *c)
{
	struct job *jb = c->owner;

	return !jb->run->stopping;
}

static void
job_requeue(struct call *c)
{
	struct job *jb = c->owner;

	enqueue(jb->run, jb);
	tasks_pump(jb->run);
}

/* The replica's call ended for good. */
static void
job_done(struct call *c)
{
	struct job *jb = c->owner;
	struct run *r = jb->run;

	if (--r->t[jb->task].jobs_left == 0)
		replicas_done(r, jb->task);
	tasks_maybe_finish(r);
	tasks_pump(r);
}

static const struct call_ops job_ops = {
	.may_retry = job_may_retry,
	.requeue = job_requeue,
	.done = job_done,
};

static void
job_start(struct run *r, struct job *jb)
{
	struct trun *t = &r->t[jb->task];

	if (!t->started) {
		t->started = 1;
		t->start_s = run_rel(r);
	}
	jb->wait = 0;
	call_start(&jb->c);
}

/* Reserves the budget of jb's call (0), moves it to a fallback that fits
 * (1), or stops the run when nothing fits (< 0). */
static int
budget_allows(struct run *r, struct job *jb)
{
	int rc = call_reserve(&jb->c);

	if (rc >= 0)
		return rc;
	r->stopping = 1;
	log_warnx("%s: starting no new tasks; finished results are kept",
	    r->budget.why);
	return rc;
}

static void
rate_wake(struct loop *l, struct loop_timer *tm)
{
	struct run *r = tm->data;

	(void)l;
	r->rate_timer_on = 0;
	tasks_pump(r);
}

void
tasks_pump(struct run *r)
{
	uint64_t wait_ms = 0;

	if (r->in_pump) {
		r->pump_again = 1;
		return;
	}
	r->in_pump = 1;
	do {
		r->pump_again = 0;
		memadmit_pass(&r->mem);
		wait_ms = mcall_pump(r);
		/* jobs before k told to wait for a slot in this pass */
		size_t slot_before = 0;

		for (size_t k = 0; k < r->qlen && !r->stopping;) {
			struct job *jb = r->queue[k];

			if (r->jenv.running >= r->jobs_cap) {
				/* the rest wait for a slot: told once, and
				 * not walked again while all of them know
				 * (a walk per pump was quadratic in the
				 * queue) */
				if (r->nslot_told - slot_before < r->qlen - k)
					for (; k < r->qlen; k++)
						tasklog_wait(r, r->queue[k],
						    WAIT_SLOT, 0);
				break;
			}
			uint64_t ms = 0, room;

			if (!call_can_start(&jb->c, &ms)) {
				if (ms > 0 && (wait_ms == 0 || ms < wait_ms))
					wait_ms = ms;
				tasklog_wait(r, jb, ms > 0 ? WAIT_RATE :
				    WAIT_SLOT, 0);
				slot_before += ms == 0;
				k++;
				continue;
			}
			if (!memadmit_allows(&r->mem, r->be, r->nbe,
			    jb->c.be, &room)) {
				/* memory frees up outside drove too */
				wait_ms = memadmit_wait_ms(wait_ms);
				tasklog_wait(r, jb, WAIT_MEM, room);
				k++;
				continue;
			}
			int rc = budget_allows(r, jb);

			if (rc > 0)
				continue;	/* its fallback's limits now */
			if (rc < 0)
				break;
			dequeue_at(r, k);
			job_start(r, jb);
		}
	} while (r->pump_again);
	r->in_pump = 0;
	/* a wait shorter than the armed one (a burst's next second, while
	 * another backend's bucket is far off) moves the wake-up earlier */
	if (wait_ms > 0 && !r->stopping && (!r->rate_timer_on ||
	    loop_update_time(r->loop) + 1 + wait_ms < r->rate_timer.due_ms)) {
		r->rate_timer_on = 1;
		loop_timer_start(r->loop, &r->rate_timer, wait_ms, rate_wake,
		    r);
	}
	tasks_maybe_finish(r);
}

/* --- finishing ---------------------------------------------------------- */

static void
tasks_maybe_finish(struct run *r)
{
	if (r->finished || r->in_pump)
		return;
	if (r->jenv.running || r->merging || r->jenv.backoff ||
	    wt_busy(r->wt) || r->committing)
		return;
	if (r->qlen && !r->stopping)
		return;
	if (r->rate_timer_on) {
		loop_timer_stop(r->loop, &r->rate_timer);
		r->rate_timer_on = 0;
	}
	/* queued jobs that will never start now */
	while (r->qlen) {
		struct job *jb = r->queue[--r->qlen];

		if (jb->wait == WAIT_SLOT)
			r->nslot_told--;

		jb->c.state = CALL_DONE;
		jb->c.status = DROVE_ECANCELED;
		if (--r->t[jb->task].jobs_left == 0 &&
		    r->t[jb->task].st == TS_RUN) {
			r->t[jb->task].st = TS_SKIPPED;
			if (r->budget.stopped_by && !r->t[jb->task].error)
				r->t[jb->task].error = xasprintf("not "
				    "started: %s reached",
				    r->budget.stopped_by);
			tasklog_journal(r, jb->task);
		}
	}
	r->finished = 1;
	loop_stop(r->loop);
}

void
tasks_cancel(struct run *r)
{
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		for (size_t k = 0; k < t->njobs; k++) {
			struct job *jb = &t->jobs[k];

			/* a running call ends cancelled, a backoff at once;
			 * each reports through job_done */
			if (jb->c.state == CALL_RUNNING ||
			    jb->c.state == CALL_BACKOFF)
				call_cancel(&jb->c);
		}
		if (t->st == TS_MERGE) {
			const struct drove_plugin *p = registry_find(r->reg,
			    DROVE_PLUGIN_MERGE, r->g->tasks[i].merge);

			if (p && p->merge->cancel)
				p->merge->cancel(host_get(), &t->mc);
		}
	}
	mcall_cancel_all(r);
	wt_cancel(r->wt);
	tasks_maybe_finish(r);
}

static void
tasks_wake(void *arg)
{
	tasks_pump(arg);
}

void
tasks_init(struct run *r)
{
	for (size_t i = 0; i < r->g->n; i++) {
		r->t[i].hm.ctx.env = &r->host;
		r->t[i].hm.ops = &merge_ops;
		r->t[i].run = r;
		r->t[i].idx = i;
	}
}

void
tasks_begin(struct run *r)
{
	const struct graph *g = r->g;

	r->jenv.wake = r->menv.wake = tasks_wake;
	r->jenv.wake_arg = r->menv.wake_arg = r;
	/* resumed tasks count as done for their dependents */
	for (size_t i = 0; i < g->n; i++) {
		if (r->t[i].st == TS_OK)
			continue;
		for (size_t k = 0; k < g->tasks[i].ndeps; k++)
			r->t[i].pending +=
			    r->t[g->tasks[i].deps[k].task].st != TS_OK;
	}
	for (size_t i = 0; i < g->n; i++)
		if (r->t[i].st == TS_WAIT && r->t[i].pending == 0)
			make_ready(r, i);
	tasks_pump(r);
	tasks_maybe_finish(r);
}

void
tasks_settle(struct run *r)
{
	/* anything still waiting could not run */
	for (size_t i = 0; i < r->g->n; i++)
		if (r->t[i].st == TS_WAIT || r->t[i].st == TS_RUN) {
			r->t[i].st = r->interrupted ? TS_CANCELLED :
			    TS_SKIPPED;
			tasklog_journal(r, i);
		}
}

void
tasks_release(struct run *r)
{
	for (size_t i = 0; r->t && i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		for (size_t k = 0; k < t->njobs; k++) {
			call_release(&t->jobs[k].c);
			free(t->jobs[k].prompt);
			free(t->jobs[k].system);
			free(t->jobs[k].stderr_path);
			free(t->jobs[k].live_path);
		}
		free(t->jobs);
		free(t->mi);
		free(t->text);
		free(t->error);
		free(t->out_path);
		free(t->artifact_dir);
		json_decref(t->notes);
	}
	free(r->t);
	r->t = NULL;
	free(r->queue);
	r->queue = NULL;
}
