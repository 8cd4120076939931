#include "sched.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "host.h"
#include "journal.h"
#include "quota.h"
#include "run.h"
#include "loop.h"
#include "report.h"
#include "spawn.h"
#include "util.h"
#include "worktree.h"

/* Keys the core reads in every [backend] section, whatever its type. */
static const char *const backend_core_keys[] = {
	"type", "concurrency", "rpm", "tpm", "price_in", "price_out",
	"retries", "timeout", NULL
};

static void task_failed(struct run *r, size_t i, const char *error);
static const struct call_ops job_ops;
static const struct host_merge_ops merge_ops;

/* --- backends ----------------------------------------------------------- */

struct backend *
sched_find_backend(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->nbe; i++)
		if (strcmp(r->be[i].name, name) == 0)
			return &r->be[i];
	return NULL;
}

static int
check_backend_section(const struct conf_section *s,
    const struct registry *reg, const struct drove_plugin **pp, char *err,
    size_t errlen)
{
	const char *type = conf_get(s, "type");
	const struct drove_plugin *p;
	char where[256];

	if (type == NULL) {
		conf_where(s, NULL, where, sizeof(where));
		errf(err, errlen, "%s: backend '%s': no 'type' (anthropic, "
		    "openai, exec or a plugin's type)", where, s->name);
		return DROVE_EINVAL;
	}
	p = registry_find(reg, DROVE_PLUGIN_BACKEND, type);
	if (p == NULL) {
		conf_where(s, "type", where, sizeof(where));
		errf(err, errlen, "%s: backend '%s': unknown type '%s' (see "
		    "'drove plugins')", where, s->name, type);
		return DROVE_EINVAL;
	}
	*pp = p;
	return conf_check_keys(s, err, errlen, backend_core_keys,
	    p->keys ? p->keys : backend_core_keys, (const char *const *)NULL);
}

int
sched_check_backends(const struct conf *c, const struct registry *reg,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nsec; i++) {
		const struct drove_plugin *p;
		int rc;

		if (strcmp(c->sec[i]->type, "backend") != 0)
			continue;
		rc = check_backend_section(c->sec[i], reg, &p, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
open_backends(struct run *r, char *err, size_t errlen)
{
	const struct conf *c = r->conf;

	r->be = xcalloc(c->nsec + 1, sizeof(*r->be));
	for (size_t i = 0; i < c->nsec; i++) {
		const struct conf_section *s = c->sec[i];
		struct backend *b;
		int rc;

		if (strcmp(s->type, "backend") != 0)
			continue;
		b = &r->be[r->nbe++];
		b->name = s->name;
		b->sec = s;
		rc = check_backend_section(s, r->reg, &b->p, err, errlen);
		/* API calls fail transiently often enough to retry by
		 * default; a command's failure is usually its own */
		if (rc == 0)
			rc = quota_be_init(&b->lim, s,
			    strcmp(b->p->name, "exec") == 0 ? 0 : 2,
			    r->jobs_cap, now_mono(), err, errlen);
		/* an API call that never ends holds a slot for good; a
		 * command may rightly run for hours */
		if (rc == 0)
			rc = conf_get_double(s, "timeout",
			    strcmp(b->p->name, "exec") == 0 ? 0 :
			    CALL_API_TIMEOUT_S, 0, 1e9, &b->timeout_s, err,
			    errlen);
		if (rc < 0)
			return rc;
	}
	/* open only what tasks use: an unused API backend without a key
	 * must not stop an offline run */
	for (size_t i = 0; i < r->g->n; i++) {
		const struct task *t = &r->g->tasks[i];

		for (size_t k = 0; k < t->nbackends; k++) {
			struct backend *b = sched_find_backend(r, t->backends[k]);

			if (b)
				b->used = 1;
		}
	}
	for (size_t i = 0; i < r->nbe; i++) {
		struct backend *b = &r->be[i];
		char msg[512] = "";
		char where[256];
		int rc;

		if (!b->used)
			continue;
		rc = b->p->backend->open(host_get(),
		    (const struct drove_conf *)b->sec, &b->state, msg,
		    sizeof(msg));
		if (rc < 0) {
			b->used = 0;
			conf_where(b->sec, NULL, where, sizeof(where));
			errf(err, errlen, "%s: backend '%s': %s", where,
			    b->name, msg[0] ? msg : "cannot open");
			return rc;
		}
	}
	return 0;
}

static void
close_backends(struct run *r)
{
	for (size_t i = 0; i < r->nbe; i++)
		if (r->be[i].used && r->be[i].p->backend->close)
			r->be[i].p->backend->close(r->be[i].state);
	free(r->be);
	r->be = NULL;
	r->nbe = 0;
}

/* --- journal ------------------------------------------------------------ */

void
sched_jlog(struct run *r, json_t *ev, int sync)
{
	int rc = journal_append(&r->j, ev, sync);

	if (rc < 0)
		log_warnx("cannot write '%s': %s", r->j.path, strerror(-rc));
}

static void
jlog_task(struct run *r, size_t i)
{
	struct trun *t = &r->t[i];
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("task"));
	json_object_set_new(ev, "task", json_string(run_task_name(r, i)));
	json_object_set_new(ev, "status", json_string(run_state_name(t->st)));
	json_object_set_new(ev, "t", json_real(run_rel(r)));
	if (t->st == TS_OK)
		json_object_set_new(ev, "output", json_string(t->out_path));
	if (t->error)
		json_object_set_new(ev, "error", json_string(t->error));
	sched_jlog(r, ev, 1);
}

/* --- output claims ------------------------------------------------------ */

static int
claim(struct run *r, const char *path, size_t task, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < r->nclaims; i++) {
		if (strcmp(r->claims[i].path, path) != 0)
			continue;
		if (r->claims[i].task == task)
			return 0;
		errf(err, errlen, "'%s' belongs to task '%s'", path,
		    run_task_name(r, r->claims[i].task));
		return DROVE_ECONFLICT;
	}
	r->claims = xrealloc(r->claims, (r->nclaims + 1) *
	    sizeof(*r->claims));
	r->claims[r->nclaims].path = xstrdup(path);
	r->claims[r->nclaims].task = task;
	r->nclaims++;
	return 0;
}

/*
 * Declared outputs are claimed before anything runs, so two sources that
 * name the same file are a load error, not a race.  With the additive
 * merge every replica (or every input of a merge node) writes its own
 * file, so each of those paths is claimed; otherwise the task writes one.
 */
static int
claim_declared(struct run *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->g->n; i++) {
		const struct task *t = &r->g->tasks[i];
		int additive, rc = 0;
		size_t n = 1;
		char **p;
		char msg[512], where[256];

		if (t->output == NULL)
			continue;
		additive = strcmp(t->merge, "additive") == 0;
		if (additive)
			n = t->ninputs ? t->ninputs : (size_t)t->replicas;
		p = xcalloc(n + 1, sizeof(*p));
		for (size_t k = 0; k < n && rc == 0; k++) {
			p[k] = host_expand_output(t->output, additive &&
			    t->ninputs ? t->inputs[k] : t->name, additive &&
			    !t->ninputs ? (int)k : 0);
			for (size_t j = 0; j < k && rc == 0; j++) {
				if (strcmp(p[j], p[k]) != 0)
					continue;
				if (t->ninputs)
					errf(msg, sizeof(msg), "'%s' would be "
					    "written for inputs '%s' and '%s' "
					    "(put {{name}} in output)", p[k],
					    t->inputs[j], t->inputs[k]);
				else
					errf(msg, sizeof(msg), "'%s' would be "
					    "written by replicas %zu and %zu "
					    "(put {{replica}} in output)", p[k],
					    j, k);
				rc = DROVE_EINVAL;
			}
			if (rc == 0)
				rc = claim(r, p[k], i, msg, sizeof(msg));
		}
		strv_free(p);
		if (rc < 0) {
			conf_where(t->sec, "output", where, sizeof(where));
			errf(err, errlen, "%s: task '%s': output %s", where,
			    t->name, msg);
			return DROVE_EINVAL;
		}
	}
	return 0;
}

static int
task_write_output(struct host_merge *hm, const char *path, const void *data,
    size_t len, char *err, size_t errlen)
{
	struct trun *t = (struct trun *)hm;
	int rc;

	rc = claim(t->run, path, t->idx, err, errlen);
	if (rc < 0)
		return rc;
	rc = write_file_atomic(path, data, len);
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
	jb->c.state = CALL_QUEUED;
}

static void
dequeue_at(struct run *r, size_t k)
{
	memmove(&r->queue[k], &r->queue[k + 1],
	    (r->qlen - k - 1) * sizeof(*r->queue));
	r->qlen--;
}

/* --- task lifecycle ----------------------------------------------------- */

static void
progress(struct run *r, size_t i)
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
			    json_stringn(t->text, t->len));
			json_object_set_new(o, "file",
			    json_string(t->out_path));
		}
		if (t->error)
			json_object_set_new(o, "error",
			    json_string(t->error));
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
	else
		log_info("[%zu/%zu] %-7s %-20s %s", r->done_count, r->g->n,
		    run_state_name(t->st), run_task_name(r, i),
		    t->error ? t->error : "");
}

static void make_ready(struct run *r, size_t i);

static void
task_ok(struct run *r, size_t i, const char *text, size_t len)
{
	struct trun *t = &r->t[i];
	const struct task *gt = &r->g->tasks[i];
	char err[1024];
	int rc;

	if (wt_finish(r->wt, i, err, sizeof(err)) < 0) {
		task_failed(r, i, err);
		return;
	}
	t->text = xstrndup(text, len);
	t->len = len;
	rc = write_file_atomic(t->out_path, text, len);
	if (rc < 0) {
		char *e = xasprintf("cannot write '%s': %s", t->out_path,
		    strerror(-rc));

		task_failed(r, i, e);
		free(e);
		return;
	}
	t->st = TS_OK;
	t->end_s = run_rel(r);
	if (!t->started)
		t->start_s = t->end_s;
	jlog_task(r, i);
	progress(r, i);
	for (size_t k = 0; k < gt->nrdeps; k++) {
		size_t d = gt->rdeps[k];

		if (r->t[d].st != TS_WAIT || r->t[d].pending == 0)
			continue;
		if (--r->t[d].pending == 0 && !r->stopping)
			make_ready(r, d);
	}
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
		jlog_task(r, d);
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
	jlog_task(r, i);
	progress(r, i);
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

	if (t->st != TS_MERGE)
		return;
	r->merging--;
	if (outcome == DROVE_MERGE_CLEAN) {
		task_ok(r, i, text ? text : "", text ? len : 0);
	} else {
		char *e = xasprintf("%s merge: %s", r->g->tasks[i].merge,
		    error ? error : outcome == DROVE_MERGE_CONFLICT ?
		    "conflict" : "error");

		task_failed(r, i, e);
		free(e);
	}
	sched_maybe_finish(r);
	sched_pump(r);
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

static void
make_ready(struct run *r, size_t i)
{
	const struct task *gt = &r->g->tasks[i];
	struct trun *t = &r->t[i];
	char err[1024];

	if (gt->nbackends == 0) {
		merge_node_ready(r, i);
		return;
	}
	if (wt_prepare(r->wt, i, err, sizeof(err)) < 0) {
		task_failed(r, i, err);
		return;
	}
	t->st = TS_RUN;
	t->njobs = t->jobs_left = (size_t)gt->replicas;
	t->jobs = xcalloc(t->njobs, sizeof(*t->jobs));
	for (size_t k = 0; k < t->njobs; k++) {
		struct job *jb = &t->jobs[k];

		struct backend *be;

		be = sched_find_backend(r, gt->backends[k % gt->nbackends]);
		jb->run = r;
		jb->task = i;
		jb->replica = (int)k;
		jb->prompt = expand_refs(r, gt->prompt);
		jb->system = expand_refs(r, gt->system);
		if (t->njobs > 1)
			jb->stderr_path = xasprintf("%s/tasks/%s.%zu.err",
			    r->dir, gt->name, k);
		else
			jb->stderr_path = xasprintf("%s/tasks/%s.err", r->dir,
			    gt->name);
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
		jb->c.task_conf = (const struct drove_conf *)gt->sec;
		/* a task's own retries, else its backend's default */
		jb->c.retries = conf_get(gt->sec, "retries") != NULL ?
		    gt->retries : be->lim.retries;
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
	sched_pump(jb->run);
}

static void
job_pump(struct call *c)
{
	struct job *jb = c->owner;

	sched_pump(jb->run);
}

/* The replica's call ended for good. */
static void
job_done(struct call *c)
{
	struct job *jb = c->owner;
	struct run *r = jb->run;

	if (--r->t[jb->task].jobs_left == 0)
		replicas_done(r, jb->task);
	sched_maybe_finish(r);
	sched_pump(r);
}

static const struct call_ops job_ops = {
	.may_retry = job_may_retry,
	.requeue = job_requeue,
	.pump = job_pump,
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
	call_start(&jb->c);
}

/* Reserves the budget of jb's call, or stops the run when it cannot. */
static int
budget_allows(struct run *r, struct job *jb)
{
	if (call_reserve(&jb->c) == 0)
		return 1;
	r->stopping = 1;
	log_warnx("%s: starting no new tasks; finished results are kept",
	    r->budget.why);
	return 0;
}

static void
rate_wake(struct loop *l, struct loop_timer *tm)
{
	struct run *r = tm->data;

	(void)l;
	r->rate_timer_on = 0;
	sched_pump(r);
}

void
sched_pump(struct run *r)
{
	uint64_t wait_ms = 0;

	if (r->in_pump) {
		r->pump_again = 1;
		return;
	}
	r->in_pump = 1;
	do {
		r->pump_again = 0;
		wait_ms = mcall_pump(r);
		for (size_t k = 0; k < r->qlen && !r->stopping;) {
			struct job *jb = r->queue[k];

			if (r->jenv.running >= r->jobs_cap)
				break;
			if (!call_can_start(&jb->c, &wait_ms)) {
				k++;
				continue;
			}
			if (!budget_allows(r, jb))
				break;
			dequeue_at(r, k);
			job_start(r, jb);
		}
	} while (r->pump_again);
	r->in_pump = 0;
	if (wait_ms > 0 && !r->stopping && !r->rate_timer_on) {
		r->rate_timer_on = 1;
		loop_timer_start(r->loop, &r->rate_timer, wait_ms, rate_wake,
		    r);
	}
	sched_maybe_finish(r);
}

/* --- finishing ---------------------------------------------------------- */

void
sched_maybe_finish(struct run *r)
{
	if (r->finished || r->in_pump)
		return;
	if (r->jenv.running || r->merging || r->jenv.backoff)
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

		jb->c.state = CALL_DONE;
		jb->c.status = DROVE_ECANCELED;
		if (--r->t[jb->task].jobs_left == 0 &&
		    r->t[jb->task].st == TS_RUN) {
			r->t[jb->task].st = TS_SKIPPED;
			if (r->budget.stopped_by && !r->t[jb->task].error)
				r->t[jb->task].error = xasprintf("not "
				    "started: %s reached",
				    r->budget.stopped_by);
			jlog_task(r, jb->task);
		}
	}
	r->finished = 1;
	loop_stop(r->loop);
}

static void
on_signal(struct loop *l, struct loop_signal *s, int signo)
{
	struct run *r = s->data;

	(void)l;
	if (++r->nsignals > 1) {
		/* second signal: out now, taking the children along */
		spawn_kill_all(SIGKILL);
		log_warnx("interrupted again: exiting now");
		json_t *ev = json_object();

		json_object_set_new(ev, "ev", json_string("end"));
		json_object_set_new(ev, "status", json_string("interrupted"));
		sched_jlog(r, ev, 1);
		_exit(r->interrupted == SIGHUP ? EXIT_HANGUP :
		    EXIT_INTERRUPTED);
	}
	log_warnx("%s: stopping (in-flight tasks are cancelled; again to "
	    "exit at once)", signo == SIGINT ? "interrupt" : signo == SIGHUP ?
	    "hangup" : "terminated");
	r->interrupted = signo;
	r->stopping = 1;
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
	sched_maybe_finish(r);
}

/* --- entry -------------------------------------------------------------- */

static void
run_release(struct run *r)
{
	for (size_t i = 0; r->t && i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		for (size_t k = 0; k < t->njobs; k++) {
			call_release(&t->jobs[k].c);
			free(t->jobs[k].prompt);
			free(t->jobs[k].system);
			free(t->jobs[k].stderr_path);
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
	free(r->queue);
	for (size_t i = 0; i < r->nclaims; i++)
		free(r->claims[i].path);
	free(r->claims);
	free(r->id);
	free(r->dir);
	free(r->root);
	json_decref(r->summary);
	wt_free(r->wt);
}

int
sched_run(const struct conf *c, const struct graph *g,
    const struct registry *reg, const struct run_opts *o)
{
	const struct conf_section *d = conf_find(c, "drove", "");
	struct run run, *r = &run;
	char err[1024];
	int rc, code;
	double wall;

	memset(r, 0, sizeof(*r));
	r->conf = c;
	r->g = g;
	r->reg = reg;
	r->o = o;
	r->j.fd = -1;
	r->jobs_cap = o->jobs;
	if (r->jobs_cap <= 0) {
		rc = conf_get_long(d, "jobs", 8, 1, 100000, &r->jobs_cap, err,
		    sizeof(err));
		if (rc < 0) {
			log_warnx("%s", err);
			return EXIT_USAGE;
		}
	}
	r->t = xcalloc(g->n + 1, sizeof(*r->t));
	for (size_t i = 0; i < g->n; i++) {
		r->t[i].hm.ops = &merge_ops;
		r->t[i].run = r;
		r->t[i].idx = i;
	}
	/* the loop first: everything after may run on it */
	r->loop = loop_new();
	if (r->loop == NULL) {
		log_warn("cannot create the event loop");
		run_release(r);
		return EXIT_USAGE;
	}
	r->host.loop = r->loop;
	rc = quota_budget_init(&r->budget, d, err, sizeof(err));
	if (rc == 0)
		rc = wt_open(&r->wt, g, d, err, sizeof(err));
	if (rc == 0)
		rc = open_backends(r, err, sizeof(err));
	if (rc == 0)
		rc = claim_declared(r, err, sizeof(err));
	if (rc < 0) {
		log_warnx("%s", err);
		close_backends(r);
		loop_free(r->loop);
		run_release(r);
		return EXIT_USAGE;
	}
	host_bind(&r->host);
	rc = rundir_setup(r, err, sizeof(err));
	for (size_t i = 0; rc == 0 && i < g->n; i++)
		r->t[i].out_path = xasprintf("%s/tasks/%s.out", r->dir,
		    g->tasks[i].name);
	if (rc == 0 && o->resume)
		rc = rundir_replay(r, err, sizeof(err));
	if (rc == 0)
		rc = wt_start(r->wt, r->id, r->dir, &r->j, o->resume != NULL,
		    err, sizeof(err));
	if (rc < 0) {
		log_warnx("%s", err);
		code = EXIT_USAGE;
		goto out;
	}
	r->t0 = now_mono();
	r->t0_wall = now_wall();
	call_env_init(&r->jenv, r->loop, &r->budget, &r->j, r->t0, o->quiet);
	call_env_init(&r->menv, r->loop, &r->budget, &r->j, r->t0, o->quiet);
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("run"));
	json_object_set_new(ev, "run", json_string(r->id));
	json_object_set_new(ev, "task_file", json_string(o->task_file));
	json_object_set_new(ev, "time", json_real(r->t0_wall));
	json_object_set_new(ev, "resume", json_boolean(o->resume != NULL));
	sched_jlog(r, ev, 1);
	if (!o->quiet)
		log_info("run %s: %zu task%s, %d wave%s, jobs %ld -> %s",
		    r->id, g->n, g->n == 1 ? "" : "s", g->nwaves,
		    g->nwaves == 1 ? "" : "s", r->jobs_cap, r->dir);
	loop_signal_start(r->loop, &r->sigint, SIGINT, on_signal, r);
	loop_signal_start(r->loop, &r->sigterm, SIGTERM, on_signal, r);
	loop_signal_start(r->loop, &r->sighup, SIGHUP, on_signal, r);
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
	sched_pump(r);
	sched_maybe_finish(r);
	if (!r->finished)
		loop_run(r->loop);
	loop_signal_stop(r->loop, &r->sigint);
	loop_signal_stop(r->loop, &r->sigterm);
	loop_signal_stop(r->loop, &r->sighup);
	wall = run_rel(r);
	/* anything still waiting could not run */
	for (size_t i = 0; i < g->n; i++)
		if (r->t[i].st == TS_WAIT || r->t[i].st == TS_RUN) {
			r->t[i].st = r->interrupted ? TS_CANCELLED :
			    TS_SKIPPED;
			jlog_task(r, i);
		}
	if (r->wt != NULL && !r->interrupted) {
		unsigned char *ok = xcalloc(g->n + 1, 1);

		for (size_t i = 0; i < g->n; i++)
			ok[i] = r->t[i].st == TS_OK;
		if (wt_merge_phase(r->wt, ok, o->quiet) > 0)
			r->failed = 1;
		free(ok);
	}
	r->summary = rundir_summary(r, wall);
	wt_summary(r->wt, r->summary);
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("end"));
	json_object_set_new(ev, "status",
	    json_incref(json_object_get(r->summary, "status")));
	json_object_set_new(ev, "wall_s", json_real(wall));
	sched_jlog(r, ev, 1);
	{
		char *sp = xasprintf("%s/summary.json", r->dir);
		char *txt = json_dumps(r->summary, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);
		size_t tl = strlen(txt);

		txt = xrealloc(txt, tl + 2);
		txt[tl++] = '\n';
		if ((rc = write_file_atomic(sp, txt, tl)) < 0)
			log_warnx("cannot write '%s': %s", sp, strerror(-rc));
		free(txt);
		free(sp);
	}
	if (o->json) {
		char *line = json_dumps(r->summary, JSON_COMPACT |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", line);
		free(line);
		fflush(stdout);
	} else {
		rundir_print_sinks(r);
	}
	if (!o->quiet)
		report_print_summary(stderr, r->summary);
	code = r->interrupted == SIGHUP ? EXIT_HANGUP :
	    r->interrupted ? EXIT_INTERRUPTED : r->failed ||
	    strcmp(json_string_value(json_object_get(r->summary, "status")),
	    "ok") != 0 ? EXIT_TASK_FAILED : EXIT_OK;
out:
	rundir_close(r);
	close_backends(r);
	host_env_release(&r->host);
	loop_free(r->loop);
	run_release(r);
	return code;
}
