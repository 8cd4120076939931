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
#include "loop.h"
#include "report.h"
#include "spawn.h"
#include "util.h"
#include "worktree.h"

/* Keys the core reads in every [backend] section, whatever its type. */
static const char *const backend_core_keys[] = {
	"type", "concurrency", "rpm", "tpm", "price_in", "price_out",
	"retries", NULL
};

enum tstate {
	TS_WAIT = 0,	/* dependencies pending */
	TS_RUN,		/* replicas queued or running */
	TS_MERGE,	/* merge plugin running */
	TS_OK,
	TS_FAILED,
	TS_SKIPPED,
	TS_CANCELLED,
};

enum jstate {
	JS_QUEUED = 0,
	JS_RUNNING,
	JS_BACKOFF,
	JS_DONE,
};

struct backend {
	char *name;
	const struct conf_section *sec;
	const struct drove_plugin *p;
	void *state;
	struct be_limits lim;	/* concurrency, rpm, tpm, prices */
	long inflight;
	int used;
};

struct run;

/* One replica of one task: a call to a backend, retried as needed. */
struct job {
	struct run *run;
	size_t task;
	int replica;
	struct backend *be;
	struct drove_call call;
	char *prompt;
	char *system;
	char *stderr_path;
	enum jstate state;
	int attempts;
	int status;		/* final: 0 ok or DROVE_E* */
	char *text;
	size_t len;
	char *error;
	struct drove_usage usage;
	double start_s, end_s;	/* first start, final end */
	double busy_s;		/* time spent in calls */
	double attempt_start;
	struct loop_timer timer; /* backoff or timeout backstop */
	int cancel_sent;
	struct reservation res;	/* budget and tpm held by the call */
	int rate_limits;	/* rate-limit answers so far */
};

struct trun {
	enum tstate st;
	size_t pending;
	struct job *jobs;
	size_t njobs, jobs_left;
	struct drove_merge_call mc;
	struct drove_merge_input *mi;
	char *text;
	size_t len;
	char *error;
	double start_s, end_s;
	int started;
	int resumed;
	char *out_path;		/* tasks/<name>.out */
	/* merges: calls to backends, and what the merge adds to the
	 * summary */
	char *artifact_dir;	/* tasks/<name>.merge */
	int ncalls;
	struct drove_usage musage;
	double mcost, mbusy_s;
	json_t *notes;
};

struct claim {
	char *path;
	size_t task;
};

struct run {
	struct loop *loop;
	const struct conf *conf;
	const struct graph *g;
	const struct registry *reg;
	const struct run_opts *o;
	struct backend *be;
	size_t nbe;
	struct trun *t;
	struct job **queue;	/* ready jobs, FIFO */
	size_t qlen, qcap;
	long jobs_cap;
	long inflight, merging, backoff;
	int stopping, interrupted, failed, finished;
	int in_pump, pump_again;
	size_t done_count;
	double t0;		/* monotonic start */
	double t0_wall;
	char *id, *dir, *root;
	struct journal j;
	struct claim *claims;
	size_t nclaims;
	struct loop_signal sigint, sigterm;
	int nsignals;
	json_t *summary;
	struct mcall *mcalls;	/* merges' calls to backends */
	struct wt *wt;		/* isolation = worktree; NULL: none */
	struct budget budget;
	struct loop_timer rate_timer;	/* a bucket refills */
	int rate_timer_on;
};

static struct run *cur;

static double
rel(struct run *r)
{
	return now_mono() - r->t0;
}

static const char *
tname(struct run *r, size_t i)
{
	return r->g->tasks[i].name;
}

static const char *
state_name(enum tstate s)
{
	switch (s) {
	case TS_OK:
		return "ok";
	case TS_FAILED:
		return "failed";
	case TS_CANCELLED:
		return "cancelled";
	default:
		return "skipped";
	}
}

static void pump(struct run *r);
static void maybe_finish(struct run *r);
static void task_failed(struct run *r, size_t i, const char *error);
static int mcall_owns(struct run *r, struct drove_call *call);
static void mcall_call_done(struct run *r, struct drove_call *call,
    const struct drove_result *res);
static void mcall_pump(struct run *r);
static void mcall_cancel_all(struct run *r);

/* --- backends ----------------------------------------------------------- */

static struct backend *
find_backend(struct run *r, const char *name)
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
		if (rc < 0)
			return rc;
	}
	/* open only what tasks use: an unused API backend without a key
	 * must not stop an offline run */
	for (size_t i = 0; i < r->g->n; i++) {
		const struct task *t = &r->g->tasks[i];

		for (size_t k = 0; k < t->nbackends; k++) {
			struct backend *b = find_backend(r, t->backends[k]);

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

static void
jlog(struct run *r, json_t *ev, int sync)
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
	json_object_set_new(ev, "task", json_string(tname(r, i)));
	json_object_set_new(ev, "status", json_string(state_name(t->st)));
	json_object_set_new(ev, "t", json_real(rel(r)));
	if (t->st == TS_OK)
		json_object_set_new(ev, "output", json_string(t->out_path));
	if (t->error)
		json_object_set_new(ev, "error", json_string(t->error));
	jlog(r, ev, 1);
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
		    tname(r, r->claims[i].task));
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

int
sched_write_output(struct drove_merge_call *m, const char *path,
    const void *data, size_t len, char *err, size_t errlen)
{
	struct run *r = cur;
	size_t task = (size_t)(uintptr_t)m->core;
	int rc;

	rc = claim(r, path, task, err, errlen);
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

/* Replaces {{name}} by that task's result (trailing newlines trimmed). */
static char *
expand_refs(struct run *r, const char *s)
{
	struct buf b = BUF_INIT;
	const char *p = s, *open, *close;

	if (s == NULL)
		return NULL;
	while ((open = strstr(p, "{{")) != NULL &&
	    (close = strstr(open + 2, "}}")) != NULL) {
		char *name = xstrndup(open + 2, (size_t)(close - open - 2));
		char *n = strtrim(name);
		long idx = valid_name(n) ? graph_find(r->g, n) : -1;

		buf_add(&b, p, (size_t)(open - p));
		if (idx >= 0 && r->t[idx].st == TS_OK) {
			size_t len = r->t[idx].len;

			while (len && r->t[idx].text[len - 1] == '\n')
				len--;
			buf_add(&b, r->t[idx].text, len);
		} else {
			buf_add(&b, open, (size_t)(close + 2 - open));
		}
		free(name);
		p = close + 2;
	}
	buf_adds(&b, p);
	return buf_detach(&b, NULL);
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
	jb->state = JS_QUEUED;
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

	if (r->t[i].njobs && r->t[i].jobs[0].be)
		be = r->t[i].jobs[0].be->name;
	if (r->o->json) {
		json_t *o = json_object();

		json_object_set_new(o, "task", json_string(tname(r, i)));
		json_object_set_new(o, "status",
		    json_string(state_name(t->st)));
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
		    r->g->n, tname(r, i), dur, be);
	else
		log_info("[%zu/%zu] %-7s %-20s %s", r->done_count, r->g->n,
		    state_name(t->st), tname(r, i),
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
	t->end_s = rel(r);
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
	t->end_s = rel(r);
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
				    "tasks (-k keeps going)", tname(r, i));
		}
	}
	skip_downstream(r, i, tname(r, i));
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
	t->mc.core = (void *)(uintptr_t)i;
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

void
sched_merge_done(struct drove_merge_call *m, int outcome, const char *text,
    size_t len, const char *error)
{
	struct run *r = cur;
	size_t i = (size_t)(uintptr_t)m->core;
	struct trun *t = &r->t[i];

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
	maybe_finish(r);
	pump(r);
}

/* All replicas of task i have ended: merge them. */
static void
replicas_done(struct run *r, size_t i)
{
	struct trun *t = &r->t[i];
	struct drove_merge_input *in;
	size_t ok = 0;

	for (size_t k = 0; k < t->njobs; k++)
		ok += t->jobs[k].status == 0;
	if (r->interrupted && ok < t->njobs) {
		t->st = TS_CANCELLED;
		task_failed(r, i, "interrupted");
		return;
	}
	if (ok == 0) {
		struct job *jb = &t->jobs[0];

		task_failed(r, i, jb->error ? jb->error : "failed");
		return;
	}
	in = xcalloc(t->njobs, sizeof(*in));
	for (size_t k = 0; k < t->njobs; k++) {
		struct job *jb = &t->jobs[k];

		in[k].size = sizeof(in[k]);
		in[k].task = tname(r, i);
		in[k].replica = t->njobs > 1 ? (int)k : -1;
		in[k].backend = jb->be ? jb->be->name : NULL;
		in[k].status = jb->status;
		in[k].text = jb->text ? jb->text : "";
		in[k].len = jb->len;
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
	r->t[i].start_s = rel(r);
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

		jb->run = r;
		jb->task = i;
		jb->replica = (int)k;
		jb->be = find_backend(r, gt->backends[k % gt->nbackends]);
		jb->prompt = expand_refs(r, gt->prompt);
		jb->system = expand_refs(r, gt->system);
		if (t->njobs > 1)
			jb->stderr_path = xasprintf("%s/tasks/%s.%zu.err",
			    r->dir, gt->name, k);
		else
			jb->stderr_path = xasprintf("%s/tasks/%s.err", r->dir,
			    gt->name);
		enqueue(r, jb);
	}
}

/* --- jobs --------------------------------------------------------------- */

static void
job_timeout(struct loop *l, struct loop_timer *tm)
{
	struct job *jb = tm->data;

	(void)l;
	if (jb->state != JS_RUNNING || jb->cancel_sent)
		return;
	/* the backend enforces timeout itself; this is the backstop for
	 * one that does not */
	jb->cancel_sent = 1;
	free(jb->error);
	jb->error = xasprintf("timed out after %gs",
	    jb->run->g->tasks[jb->task].timeout_s);
	if (jb->be->p->backend->cancel)
		jb->be->p->backend->cancel(jb->be->state, &jb->call);
}

/* Input tokens a call of jb is expected to send. */
static double
job_est_tokens(const struct job *jb)
{
	return quota_est_tokens((jb->prompt ? strlen(jb->prompt) : 0) +
	    (jb->system ? strlen(jb->system) : 0));
}

static void
job_start(struct run *r, struct job *jb)
{
	const struct task *gt = &r->g->tasks[jb->task];
	struct trun *t = &r->t[jb->task];
	json_t *ev;
	int rc;

	jb->attempts++;
	jb->state = JS_RUNNING;
	jb->cancel_sent = 0;
	jb->attempt_start = rel(r);
	if (!t->started) {
		t->started = 1;
		t->start_s = jb->attempt_start;
	}
	if (jb->attempts == 1)
		jb->start_s = jb->attempt_start;
	memset(&jb->call, 0, sizeof(jb->call));
	jb->call.size = sizeof(jb->call);
	jb->call.task = gt->name;
	jb->call.replica = jb->replica;
	jb->call.attempt = jb->attempts;
	jb->call.prompt = jb->prompt ? jb->prompt : "";
	jb->call.prompt_len = strlen(jb->call.prompt);
	jb->call.system = jb->system;
	jb->call.model = gt->model;
	jb->call.max_tokens = gt->max_tokens;
	jb->call.timeout_s = gt->timeout_s;
	jb->call.workdir = wt_workdir(r->wt, jb->task);
	jb->call.stderr_path = jb->stderr_path;
	jb->call.task_conf = (const struct drove_conf *)gt->sec;
	jb->call.core = jb;
	r->inflight++;
	jb->be->inflight++;
	quota_start(&jb->be->lim, &r->budget, &jb->res, job_est_tokens(jb),
	    now_mono());
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("start"));
	json_object_set_new(ev, "task", json_string(gt->name));
	json_object_set_new(ev, "replica", json_integer(jb->replica));
	json_object_set_new(ev, "attempt", json_integer(jb->attempts));
	json_object_set_new(ev, "backend", json_string(jb->be->name));
	json_object_set_new(ev, "t", json_real(jb->attempt_start));
	jlog(r, ev, 1);
	if (log_verbosity >= 2 && !r->o->quiet)
		log_debug("start %s%s (backend %s, attempt %d)", gt->name,
		    t->njobs > 1 ? "" : "", jb->be->name, jb->attempts);
	if (gt->timeout_s > 0)
		loop_timer_start(r->loop, &jb->timer,
		    (uint64_t)(gt->timeout_s * 1000) + 5000, job_timeout,
		    jb);
	rc = jb->be->p->backend->start(jb->be->state, &jb->call);
	if (rc < 0 && jb->state == JS_RUNNING) {
		struct drove_result res = {
			.size = sizeof(res),
			.status = rc,
			.error = "the backend could not start the call",
			.retry_after_ms = -1,
		};

		sched_call_done(&jb->call, &res);
	}
}

static void
backoff_done(struct loop *l, struct loop_timer *tm)
{
	struct job *jb = tm->data;
	struct run *r = jb->run;

	(void)l;
	r->backoff--;
	if (r->stopping) {
		jb->state = JS_DONE;
		if (--r->t[jb->task].jobs_left == 0)
			replicas_done(r, jb->task);
		maybe_finish(r);
		return;
	}
	enqueue(r, jb);
	pump(r);
}

/* min(0.5 * 2^n, 8) s with jitter, or the server's hint within (0, 60] s */
static uint64_t
backoff_ms(int attempt, int64_t hint_ms)
{
	double s;

	if (hint_ms > 0 && hint_ms <= 60000)
		return (uint64_t)hint_ms;
	s = 0.5 * (double)(1u << (attempt > 5 ? 5 : attempt - 1));
	if (s > 8)
		s = 8;
	s = s * (0.75 + 0.5 * ((double)rand() / RAND_MAX));
	return (uint64_t)(s * 1000);
}

void
sched_call_progress(struct drove_call *call, const char *text, size_t len)
{
	(void)call;
	(void)text;
	(void)len;
}

/* A task's own retries, else its backend's default. */
static long
job_retries(const struct job *jb)
{
	const struct task *gt = &jb->run->g->tasks[jb->task];

	if (conf_get(gt->sec, "retries") != NULL)
		return gt->retries;
	return jb->be->lim.retries;
}

void
sched_call_done(struct drove_call *call, const struct drove_result *res)
{
	if (mcall_owns(cur, call)) {
		mcall_call_done(cur, call, res);
		return;
	}
	struct job *jb = call->core;
	struct run *r = jb->run;
	const struct task *gt = &r->g->tasks[jb->task];
	struct trun *t = &r->t[jb->task];
	double now = rel(r);

	if (jb->state != JS_RUNNING)
		return;
	loop_timer_stop(r->loop, &jb->timer);
	r->inflight--;
	jb->be->inflight--;
	quota_done(&jb->be->lim, &r->budget, &jb->res, &res->usage,
	    res->status == 0, res->status == DROVE_ERATELIMIT,
	    r->t0 + jb->attempt_start, now_mono());
	jb->busy_s += now - jb->attempt_start;
	jb->usage.tokens_in += res->usage.tokens_in;
	jb->usage.tokens_out += res->usage.tokens_out;
	jb->usage.cache_read += res->usage.cache_read;
	jb->usage.cache_write += res->usage.cache_write;
	if (res->status == 0) {
		jb->status = 0;
		free(jb->text);
		jb->text = xstrndup(res->text ? res->text : "",
		    res->text ? res->len : 0);
		jb->len = res->text ? res->len : 0;
		free(jb->error);
		jb->error = NULL;
	} else {
		const char *e = res->error ? res->error : "failed";
		int retry;

		/* a backstop timeout message wins over "cancelled" */
		if (!(jb->cancel_sent && jb->error &&
		    res->status == DROVE_ECANCELED)) {
			free(jb->error);
			jb->error = xstrdup(e);
		}
		jb->status = res->status;
		if (res->status == DROVE_ERATELIMIT)
			jb->rate_limits++;
		retry = !r->stopping && res->status != DROVE_ECANCELED &&
		    ((res->status == DROVE_ERATELIMIT &&
		    jb->rate_limits <= SCHED_MAX_RATE_LIMITS) ||
		    (res->retryable && jb->attempts <= job_retries(jb)));
		json_t *ev = json_object();

		json_object_set_new(ev, "ev", json_string("attempt"));
		json_object_set_new(ev, "task", json_string(gt->name));
		json_object_set_new(ev, "replica", json_integer(jb->replica));
		json_object_set_new(ev, "attempt",
		    json_integer(jb->attempts));
		json_object_set_new(ev, "error", json_string(jb->error));
		json_object_set_new(ev, "retry", json_boolean(retry));
		jlog(r, ev, 0);
		if (retry) {
			uint64_t ms;

			/* a rate limit is not the task's fault: it does
			 * not use up an attempt */
			if (res->status == DROVE_ERATELIMIT)
				jb->attempts--;
			ms = backoff_ms(jb->attempts < 1 ? 1 : jb->attempts,
			    res->retry_after_ms);
			if (!r->o->quiet)
				log_info("%s: %s; retrying in %.1fs",
				    gt->name, jb->error, (double)ms / 1000);
			jb->state = JS_BACKOFF;
			r->backoff++;
			loop_timer_start(r->loop, &jb->timer, ms,
			    backoff_done, jb);
			pump(r);
			return;
		}
	}
	jb->state = JS_DONE;
	jb->end_s = now;
	if (--t->jobs_left == 0)
		replicas_done(r, jb->task);
	maybe_finish(r);
	pump(r);
}

/* Reserves the budget of jb's call, or stops the run when it cannot. */
static int
budget_allows(struct run *r, struct job *jb)
{
	const struct task *gt = &r->g->tasks[jb->task];

	if (quota_budget_check(&r->budget, &jb->be->lim, job_est_tokens(jb),
	    gt->max_tokens, &jb->res) == 0)
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
	pump(r);
}

static void
pump(struct run *r)
{
	uint64_t wait_ms = 0;

	if (r->in_pump) {
		r->pump_again = 1;
		return;
	}
	r->in_pump = 1;
	do {
		r->pump_again = 0;
		mcall_pump(r);
		for (size_t k = 0; k < r->qlen && !r->stopping;) {
			struct job *jb = r->queue[k];
			uint64_t ms;

			if (r->inflight >= r->jobs_cap)
				break;
			if (quota_be_full(&jb->be->lim, jb->be->inflight)) {
				k++;
				continue;
			}
			ms = quota_be_wait_ms(&jb->be->lim, now_mono());
			if (ms > 0) {
				if (wait_ms == 0 || ms < wait_ms)
					wait_ms = ms;
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
	maybe_finish(r);
}

/* --- finishing ---------------------------------------------------------- */

static void
maybe_finish(struct run *r)
{
	if (r->finished || r->in_pump)
		return;
	if (r->inflight || r->merging || r->backoff)
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

		jb->state = JS_DONE;
		jb->status = DROVE_ECANCELED;
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
		jlog(r, ev, 1);
		_exit(EXIT_INTERRUPTED);
	}
	log_warnx("%s: stopping (in-flight tasks are cancelled; again to "
	    "exit at once)", signo == SIGINT ? "interrupt" : "terminated");
	r->interrupted = 1;
	r->stopping = 1;
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		for (size_t k = 0; k < t->njobs; k++) {
			struct job *jb = &t->jobs[k];

			if (jb->state == JS_RUNNING &&
			    jb->be->p->backend->cancel) {
				jb->cancel_sent = 1;
				jb->be->p->backend->cancel(jb->be->state,
				    &jb->call);
			} else if (jb->state == JS_BACKOFF) {
				loop_timer_stop(r->loop, &jb->timer);
				r->backoff--;
				jb->state = JS_DONE;
				jb->status = DROVE_ECANCELED;
				if (--t->jobs_left == 0)
					replicas_done(r, i);
			}
		}
		if (t->st == TS_MERGE) {
			const struct drove_plugin *p = registry_find(r->reg,
			    DROVE_PLUGIN_MERGE, r->g->tasks[i].merge);

			if (p && p->merge->cancel)
				p->merge->cancel(host_get(), &t->mc);
		}
	}
	mcall_cancel_all(r);
	maybe_finish(r);
}

/* --- merges: calls to backends ----------------------------------------- */

/*
 * A call a merge plugin makes to a backend (a judge, a summary), through
 * host->backend_call.  It waits for a free slot of the backend's
 * `concurrency`, is retried after a rate limit, and its usage counts
 * toward the merging task.  done runs once, from the loop.
 */
struct mcall {
	struct run *run;
	size_t task;
	struct backend *be;
	struct drove_call call;
	char *prompt;
	char *system;
	char *stderr_path;
	void (*done)(void *arg, const struct drove_result *r);
	void *arg;
	enum jstate state;	/* JS_DONE: a failure waits to be told */
	int attempts;
	int cancel_sent;
	int status;		/* JS_DONE: the failure */
	char *error;
	double attempt_start;
	struct loop_timer timer;
	struct mcall *next;
};

static int
mcall_owns(struct run *r, struct drove_call *call)
{
	for (struct mcall *mc = r ? r->mcalls : NULL; mc; mc = mc->next)
		if (&mc->call == call)
			return 1;
	return 0;
}

static void
mcall_unlink(struct run *r, struct mcall *mc)
{
	for (struct mcall **pp = &r->mcalls; *pp; pp = &(*pp)->next) {
		if (*pp == mc) {
			*pp = mc->next;
			return;
		}
	}
}

/* Unlinks and frees mc, then tells the merge. */
static void
mcall_finish(struct run *r, struct mcall *mc, const struct drove_result *res)
{
	void (*done)(void *, const struct drove_result *) = mc->done;
	void *arg = mc->arg;

	loop_timer_stop(r->loop, &mc->timer);
	mcall_unlink(r, mc);
	free(mc->prompt);
	free(mc->system);
	free(mc->stderr_path);
	free(mc->error);
	free(mc);
	done(arg, res);
	pump(r);
}

static void
mcall_timer(struct loop *l, struct loop_timer *tm)
{
	struct mcall *mc = tm->data;
	struct run *r = mc->run;

	(void)l;
	if (mc->state == JS_BACKOFF) {
		mc->state = JS_QUEUED;
		pump(r);
		return;
	}
	struct drove_result res = {
		.size = sizeof(res),
		.status = mc->status,
		.error = mc->error,
		.retry_after_ms = -1,
	};

	mcall_finish(r, mc, &res);
}

/* Ends mc with a failure from the loop, not from the caller's stack. */
static void
mcall_fail_later(struct run *r, struct mcall *mc, int status,
    const char *error)
{
	mc->state = JS_DONE;
	mc->status = status;
	free(mc->error);
	mc->error = xstrdup(error);
	loop_timer_start(r->loop, &mc->timer, 0, mcall_timer, mc);
}

static void
mcall_start(struct run *r, struct mcall *mc)
{
	const struct task *gt = &r->g->tasks[mc->task];
	int rc;

	mc->state = JS_RUNNING;
	mc->attempts++;
	mc->cancel_sent = 0;
	mc->attempt_start = rel(r);
	mc->be->inflight++;
	memset(&mc->call, 0, sizeof(mc->call));
	mc->call.size = sizeof(mc->call);
	mc->call.task = gt->name;
	mc->call.replica = -1;
	mc->call.attempt = mc->attempts;
	mc->call.prompt = mc->prompt;
	mc->call.prompt_len = strlen(mc->prompt);
	mc->call.system = mc->system;
	mc->call.timeout_s = gt->timeout_s;
	mc->call.stderr_path = mc->stderr_path;
	mc->call.task_conf = (const struct drove_conf *)gt->sec;
	mc->call.core = mc;
	rc = mc->be->p->backend->start(mc->be->state, &mc->call);
	if (rc < 0 && mc->state == JS_RUNNING) {
		mc->be->inflight--;
		mcall_fail_later(r, mc, rc, "the backend could not start the "
		    "call");
	}
}

/* Starts the queued calls whose backend has a free slot. */
static void
mcall_pump(struct run *r)
{
	struct mcall *mc;

again:
	for (mc = r->mcalls; mc; mc = mc->next) {
		if (mc->state != JS_QUEUED)
			continue;
		if (quota_be_full(&mc->be->lim, mc->be->inflight))
			continue;
		mcall_start(r, mc);
		goto again;
	}
}

static void
mcall_call_done(struct run *r, struct drove_call *call,
    const struct drove_result *res)
{
	struct mcall *mc = call->core;
	struct trun *t = &r->t[mc->task];

	if (mc->state != JS_RUNNING)
		return;
	mc->be->inflight--;
	t->mbusy_s += rel(r) - mc->attempt_start;
	t->musage.tokens_in += res->usage.tokens_in;
	t->musage.tokens_out += res->usage.tokens_out;
	t->musage.cache_read += res->usage.cache_read;
	t->musage.cache_write += res->usage.cache_write;
	t->mcost += quota_cost(&mc->be->lim, &res->usage);
	if (res->status == DROVE_ERATELIMIT && !r->interrupted &&
	    !mc->cancel_sent) {
		/* a rate limit is not the merge's fault: wait and redo */
		mc->attempts--;
		mc->state = JS_BACKOFF;
		loop_timer_start(r->loop, &mc->timer, backoff_ms(mc->attempts <
		    1 ? 1 : mc->attempts, res->retry_after_ms), mcall_timer,
		    mc);
		pump(r);
		return;
	}
	mcall_finish(r, mc, res);
}

/* Opens a backend no task runs on, the first time a merge calls it. */
static int
mcall_open(struct backend *b, char *err, size_t errlen)
{
	char msg[512] = "";
	int rc;

	if (b->used)
		return 0;
	rc = b->p->backend->open(host_get(),
	    (const struct drove_conf *)b->sec, &b->state, msg, sizeof(msg));
	if (rc < 0) {
		errf(err, errlen, "backend '%s': %s", b->name,
		    msg[0] ? msg : "cannot open");
		return rc;
	}
	b->used = 1;
	return 0;
}

int
sched_backend_call(struct drove_merge_call *m, const char *backend,
    const char *prompt, const char *system,
    void (*done)(void *arg, const struct drove_result *r), void *arg,
    void **handle)
{
	struct run *r = cur;
	struct backend *b;
	struct mcall *mc;
	struct trun *t;
	char err[1024];
	int rc;

	if (r == NULL || m == NULL || backend == NULL || done == NULL ||
	    (b = find_backend(r, backend)) == NULL)
		return DROVE_EINVAL;
	t = &r->t[(size_t)(uintptr_t)m->core];
	mc = xcalloc(1, sizeof(*mc));
	mc->run = r;
	mc->task = (size_t)(uintptr_t)m->core;
	mc->be = b;
	mc->prompt = xstrdup(prompt ? prompt : "");
	mc->system = system ? xstrdup(system) : NULL;
	mc->done = done;
	mc->arg = arg;
	if (t->artifact_dir && mkdir_p(t->artifact_dir, 0777) == 0)
		mc->stderr_path = xasprintf("%s/call-%d.err",
		    t->artifact_dir, t->ncalls);
	t->ncalls++;
	mc->next = r->mcalls;
	r->mcalls = mc;
	*handle = mc;
	rc = mcall_open(b, err, sizeof(err));
	if (rc < 0) {
		mcall_fail_later(r, mc, rc, err);
		return 0;
	}
	/* queued from the loop: done must not run within backend_call */
	mc->state = JS_BACKOFF;
	loop_timer_start(r->loop, &mc->timer, 0, mcall_timer, mc);
	return 0;
}

void
sched_backend_call_cancel(void *handle)
{
	struct mcall *mc = handle;
	struct run *r = cur;

	if (r == NULL || mc == NULL || mc->cancel_sent)
		return;
	mc->cancel_sent = 1;
	switch (mc->state) {
	case JS_RUNNING:
		if (mc->be->p->backend->cancel)
			mc->be->p->backend->cancel(mc->be->state, &mc->call);
		break;
	case JS_QUEUED:
	case JS_BACKOFF:
		loop_timer_stop(r->loop, &mc->timer);
		mcall_fail_later(r, mc, DROVE_ECANCELED, "cancelled");
		break;
	case JS_DONE:
		break;
	}
}

static void
mcall_cancel_all(struct run *r)
{
	struct mcall *mc;

	/* a cancel may end a call at once, unlinking it: rescan */
again:
	for (mc = r->mcalls; mc; mc = mc->next) {
		if (!mc->cancel_sent) {
			sched_backend_call_cancel(mc);
			goto again;
		}
	}
}

int
sched_merge_note(struct drove_merge_call *m, const char *key,
    const char *json)
{
	struct run *r = cur;
	struct trun *t;
	json_t *v;

	if (r == NULL || m == NULL || key == NULL || json == NULL)
		return DROVE_EINVAL;
	v = json_loads(json, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		return DROVE_EINVAL;
	t = &r->t[(size_t)(uintptr_t)m->core];
	if (t->notes == NULL)
		t->notes = json_object();
	json_object_set_new(t->notes, key, v);
	return 0;
}

/* --- run directory ------------------------------------------------------ */

static char *
make_run_id(void)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	unsigned x;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
	x = (unsigned)getpid() ^ (unsigned)(now_mono() * 1e6);
	return xasprintf("%s-%04x", ts, x & 0xffff);
}

static int
resolve_resume(struct run *r, const char *which, char *err, size_t errlen)
{
	struct stat st;
	char *dir;

	if (strcmp(which, "last") == 0) {
		char *link = xasprintf("%s/last", r->root);
		char target[PATH_MAX];
		ssize_t n = readlink(link, target, sizeof(target) - 1);

		free(link);
		if (n < 0) {
			errf(err, errlen, "no run to resume in '%s'", r->root);
			return DROVE_EINVAL;
		}
		target[n] = '\0';
		dir = target[0] == '/' ? xstrdup(target) :
		    xasprintf("%s/%s", r->root, target);
	} else if (strchr(which, '/')) {
		dir = xstrdup(which);
	} else {
		dir = xasprintf("%s/%s", r->root, which);
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		errf(err, errlen, "no run '%s' to resume ('%s' is not a "
		    "directory)", which, dir);
		free(dir);
		return DROVE_EINVAL;
	}
	r->dir = dir;
	const char *slash = strrchr(dir, '/');

	r->id = xstrdup(slash ? slash + 1 : dir);
	return 0;
}

static void
replay_event(json_t *ev, void *arg)
{
	struct run *r = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *st = json_string_value(json_object_get(ev, "status"));
	long i;

	if (type == NULL || strcmp(type, "task") != 0 || !task || !st)
		return;
	i = graph_find(r->g, task);
	if (i < 0)
		return;
	r->t[i].resumed = strcmp(st, "ok") == 0;
}

/* Marks the tasks a resumed run finished before as done. */
static int
replay(struct run *r, char *err, size_t errlen)
{
	char *path = xasprintf("%s/journal.jsonl", r->dir);
	int torn = 0, rc;
	size_t n = 0;

	rc = journal_replay(path, replay_event, r, &torn);
	free(path);
	if (rc < 0 && rc != -ENOENT) {
		errf(err, errlen, "cannot read the journal of '%s': %s",
		    r->dir, strerror(-rc));
		return DROVE_EIO;
	}
	if (torn)
		log_info("resume: ignored %d torn journal line(s)", torn);
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		if (!t->resumed)
			continue;
		/* trust the output file, not just the journal */
		if (read_file(t->out_path, &t->text, &t->len) < 0) {
			t->resumed = 0;
			continue;
		}
		t->st = TS_OK;
		n++;
	}
	if (!r->o->quiet)
		log_info("resuming run %s: %zu of %zu tasks already done",
		    r->id, n, r->g->n);
	return 0;
}

static int
setup_dir(struct run *r, char *err, size_t errlen)
{
	char *tasks, *link, *tmp;
	int rc;

	r->root = xstrdup(r->o->run_root ? r->o->run_root : ".drove/runs");
	if (r->o->resume) {
		rc = resolve_resume(r, r->o->resume, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		r->id = make_run_id();
		r->dir = xasprintf("%s/%s", r->root, r->id);
	}
	tasks = xasprintf("%s/tasks", r->dir);
	rc = mkdir_p(tasks, 0777);
	free(tasks);
	if (rc < 0) {
		errf(err, errlen, "cannot create '%s': %s", r->dir,
		    strerror(-rc));
		return DROVE_EIO;
	}
	/* "last" is replaced atomically: a symlink renamed over it */
	link = xasprintf("%s/last", r->root);
	tmp = xasprintf("%s/.last.%ld", r->root, (long)getpid());
	unlink(tmp);
	if (symlink(r->id, tmp) == 0)
		(void)rename(tmp, link);
	free(link);
	free(tmp);
	char *jp = xasprintf("%s/journal.jsonl", r->dir);

	rc = journal_open(&r->j, jp);
	free(jp);
	if (rc < 0) {
		errf(err, errlen, "cannot open the journal in '%s': %s",
		    r->dir, strerror(-rc));
		return DROVE_EIO;
	}
	return 0;
}

/* --- summary ------------------------------------------------------------ */

/* Budgets and rate limits: what capped the run. */
static void
summary_limits(struct run *r, json_t *s)
{
	json_t *rl = json_object();

	if (r->budget.usd > 0)
		json_object_set_new(s, "budget_usd", json_real(r->budget.usd));
	if (r->budget.tokens > 0)
		json_object_set_new(s, "budget_tokens",
		    json_integer((json_int_t)r->budget.tokens));
	json_object_set_new(s, "stopped_by", r->budget.stopped_by ?
	    json_string(r->budget.stopped_by) : json_null());
	for (size_t i = 0; i < r->nbe; i++)
		if (r->be[i].used)
			json_object_set_new(rl, r->be[i].name, json_integer(
			    (json_int_t)r->be[i].lim.rate_limited));
	json_object_set_new(s, "rate_limited", rl);
}

static json_t *
build_summary(struct run *r, double wall)
{
	const struct graph *g = r->g;
	json_t *s = json_object(), *tasks = json_object(), *cp;
	double *dur = xcalloc(g->n + 1, sizeof(*dur));
	size_t *path = xcalloc(g->n + 1, sizeof(*path));
	double sum = 0, cost = 0, cplen = 0;
	uint64_t tin = 0, tout = 0;
	size_t np;
	const char *status;

	for (size_t i = 0; i < g->n; i++) {
		struct trun *t = &r->t[i];
		json_t *o = json_object();
		double tc = 0, busy = 0;
		uint64_t ti = 0, to = 0, cr = 0, cw = 0;
		int attempts = 0;
		const char *be = NULL;

		for (size_t k = 0; k < t->njobs; k++) {
			struct job *jb = &t->jobs[k];

			busy += jb->busy_s;
			ti += jb->usage.tokens_in;
			to += jb->usage.tokens_out;
			attempts += jb->attempts;
			cr += jb->usage.cache_read;
			cw += jb->usage.cache_write;
			if (jb->be) {
				tc += quota_cost(&jb->be->lim, &jb->usage);
				be = be ? be : jb->be->name;
			}
		}
		/* what the merge's own calls (a judge, a summary) took */
		busy += t->mbusy_s;
		ti += t->musage.tokens_in;
		to += t->musage.tokens_out;
		tc += t->mcost;
		dur[i] = t->started ? t->end_s - t->start_s : 0;
		sum += busy;
		tin += ti;
		tout += to;
		cost += tc;
		json_object_set_new(o, "status",
		    json_string(state_name(t->st)));
		json_object_set_new(o, "backend", be ? json_string(be) :
		    json_null());
		json_object_set_new(o, "attempts", json_integer(attempts));
		json_object_set_new(o, "start_s", json_real(t->start_s));
		json_object_set_new(o, "end_s", json_real(t->end_s));
		json_object_set_new(o, "busy_s", json_real(busy));
		json_object_set_new(o, "tokens_in", json_integer((json_int_t)ti));
		json_object_set_new(o, "tokens_out",
		    json_integer((json_int_t)to));
		json_object_set_new(o, "cost_usd", json_real(tc));
		json_object_set_new(o, "cache_read",
		    json_integer((json_int_t)cr));
		json_object_set_new(o, "cache_write",
		    json_integer((json_int_t)cw));
		json_object_set_new(o, "output", t->st == TS_OK ?
		    json_string(t->out_path) : json_null());
		json_object_set_new(o, "error", t->error ?
		    json_string(t->error) : json_null());
		json_object_set_new(o, "wave",
		    json_integer(g->tasks[i].wave));
		json_object_set_new(o, "replicas",
		    json_integer(g->tasks[i].replicas));
		if (t->resumed)
			json_object_set_new(o, "resumed", json_true());
		if (t->notes)
			json_object_update_missing(o, t->notes);
		json_object_set_new(tasks, g->tasks[i].name, o);
	}
	np = graph_critical_path(g, dur, path, g->n, &cplen);
	cp = json_array();
	for (size_t k = 0; k < np; k++)
		json_array_append_new(cp, json_string(g->tasks[path[k]].name));
	status = r->interrupted ? "interrupted" : r->failed ? "failed" : "ok";
	for (size_t i = 0; i < g->n && !r->interrupted && !r->failed; i++)
		if (r->t[i].st != TS_OK)
			status = "failed";
	json_object_set_new(s, "run", json_string(r->id));
	json_object_set_new(s, "status", json_string(status));
	json_object_set_new(s, "task_file", json_string(r->o->task_file));
	json_object_set_new(s, "started_at", json_real(r->t0_wall));
	json_object_set_new(s, "wall_s", json_real(wall));
	json_object_set_new(s, "sum_s", json_real(sum));
	json_object_set_new(s, "speedup", json_real(wall > 0 ? sum / wall :
	    0));
	json_object_set_new(s, "critical_path_s", json_real(cplen));
	json_object_set_new(s, "critical_path", cp);
	json_object_set_new(s, "efficiency", json_real(wall > 0 ?
	    cplen / wall : 0));
	json_object_set_new(s, "jobs", json_integer(r->jobs_cap));
	json_object_set_new(s, "tokens_in", json_integer((json_int_t)tin));
	json_object_set_new(s, "tokens_out", json_integer((json_int_t)tout));
	json_object_set_new(s, "cost_usd", json_real(cost));
	json_object_set_new(s, "run_dir", json_string(r->dir));
	summary_limits(r, s);
	json_object_set_new(s, "tasks", tasks);
	free(dur);
	free(path);
	return s;
}

static void
print_sinks(struct run *r)
{
	size_t nsinks = 0;

	for (size_t i = 0; i < r->g->n; i++)
		nsinks += r->g->tasks[i].nrdeps == 0 && r->t[i].st == TS_OK;
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		if (r->g->tasks[i].nrdeps || t->st != TS_OK)
			continue;
		if (nsinks > 1)
			printf("==> %s <==\n", tname(r, i));
		fwrite(t->text, 1, t->len, stdout);
		if (t->len && t->text[t->len - 1] != '\n')
			putchar('\n');
	}
	fflush(stdout);
}

/* --- entry -------------------------------------------------------------- */

static void
run_release(struct run *r)
{
	for (size_t i = 0; r->t && i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		for (size_t k = 0; k < t->njobs; k++) {
			free(t->jobs[k].prompt);
			free(t->jobs[k].system);
			free(t->jobs[k].stderr_path);
			free(t->jobs[k].text);
			free(t->jobs[k].error);
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
		run_release(r);
		return EXIT_USAGE;
	}
	r->loop = loop_new();
	if (r->loop == NULL) {
		log_warn("cannot create the event loop");
		close_backends(r);
		run_release(r);
		return EXIT_USAGE;
	}
	host_set_loop(r->loop);
	cur = r;
	rc = setup_dir(r, err, sizeof(err));
	for (size_t i = 0; rc == 0 && i < g->n; i++)
		r->t[i].out_path = xasprintf("%s/tasks/%s.out", r->dir,
		    g->tasks[i].name);
	if (rc == 0 && o->resume)
		rc = replay(r, err, sizeof(err));
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
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("run"));
	json_object_set_new(ev, "run", json_string(r->id));
	json_object_set_new(ev, "task_file", json_string(o->task_file));
	json_object_set_new(ev, "time", json_real(r->t0_wall));
	json_object_set_new(ev, "resume", json_boolean(o->resume != NULL));
	jlog(r, ev, 1);
	if (!o->quiet)
		log_info("run %s: %zu task%s, %d wave%s, jobs %ld -> %s",
		    r->id, g->n, g->n == 1 ? "" : "s", g->nwaves,
		    g->nwaves == 1 ? "" : "s", r->jobs_cap, r->dir);
	loop_signal_start(r->loop, &r->sigint, SIGINT, on_signal, r);
	loop_signal_start(r->loop, &r->sigterm, SIGTERM, on_signal, r);
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
	pump(r);
	maybe_finish(r);
	if (!r->finished)
		loop_run(r->loop);
	loop_signal_stop(r->loop, &r->sigint);
	loop_signal_stop(r->loop, &r->sigterm);
	wall = rel(r);
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
	r->summary = build_summary(r, wall);
	wt_summary(r->wt, r->summary);
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("end"));
	json_object_set_new(ev, "status",
	    json_incref(json_object_get(r->summary, "status")));
	json_object_set_new(ev, "wall_s", json_real(wall));
	jlog(r, ev, 1);
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
		print_sinks(r);
	}
	if (!o->quiet)
		report_print_summary(stderr, r->summary);
	code = r->interrupted ? EXIT_INTERRUPTED : r->failed ||
	    strcmp(json_string_value(json_object_get(r->summary, "status")),
	    "ok") != 0 ? EXIT_TASK_FAILED : EXIT_OK;
out:
	journal_close(&r->j);
	close_backends(r);
	host_set_loop(NULL);
	cur = NULL;
	loop_free(r->loop);
	run_release(r);
	return code;
}
