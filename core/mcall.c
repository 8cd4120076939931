/* Merges' calls to backends: a judge, a summary (host->backend_call). */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "run.h"

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
	struct reservation res;	/* budget and tpm held by the call */
	struct mcall *next;
};

static double
mcall_est_tokens(const struct mcall *mc)
{
	return quota_est_tokens(strlen(mc->prompt) +
	    (mc->system ? strlen(mc->system) : 0));
}

int
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
	/* res may point into mc (its error): tell first, then free */
	done(arg, res);
	free(mc->prompt);
	free(mc->system);
	free(mc->stderr_path);
	free(mc->error);
	free(mc);
	sched_pump(r);
}

static void
mcall_timer(struct loop *l, struct loop_timer *tm)
{
	struct mcall *mc = tm->data;
	struct run *r = mc->run;

	(void)l;
	if (mc->state == JS_BACKOFF) {
		mc->state = JS_QUEUED;
		sched_pump(r);
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
	mc->attempt_start = run_rel(r);
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
	quota_start(&mc->be->lim, &r->budget, &mc->res, mcall_est_tokens(mc),
	    now_mono());
	rc = mc->be->p->backend->start(mc->be->state, &mc->call);
	if (rc < 0 && mc->state == JS_RUNNING) {
		static const struct drove_usage none;

		quota_done(&mc->be->lim, &r->budget, &mc->res, &none, 0, 0,
		    r->t0 + mc->attempt_start, now_mono());
		mc->be->inflight--;
		mcall_fail_later(r, mc, rc, "the backend could not start the "
		    "call");
	}
}

/*
 * Starts the queued calls whose backend has a free slot, within its rpm and
 * tpm and the run's budget, like any task's call.  A call the budget cannot
 * cover fails with the budget's reason.  Returns how many ms until a
 * bucket lets the next held-back call start, 0 when none waits for one.
 */
uint64_t
mcall_pump(struct run *r)
{
	uint64_t wait_ms = 0, ms;
	struct mcall *mc;

again:
	for (mc = r->mcalls; mc; mc = mc->next) {
		if (mc->state != JS_QUEUED)
			continue;
		if (quota_be_full(&mc->be->lim, mc->be->inflight))
			continue;
		ms = quota_be_wait_ms(&mc->be->lim, now_mono());
		if (ms > 0) {
			if (wait_ms == 0 || ms < wait_ms)
				wait_ms = ms;
			continue;
		}
		if (quota_budget_check(&r->budget, &mc->be->lim,
		    mcall_est_tokens(mc), 0, &mc->res) != 0) {
			mcall_fail_later(r, mc, DROVE_EBUDGET, r->budget.why);
			continue;
		}
		mcall_start(r, mc);
		goto again;
	}
	return wait_ms;
}

void
mcall_call_done(struct run *r, struct drove_call *call,
    const struct drove_result *res)
{
	struct mcall *mc = call->core;
	struct trun *t = &r->t[mc->task];

	if (mc->state != JS_RUNNING)
		return;
	mc->be->inflight--;
	quota_done(&mc->be->lim, &r->budget, &mc->res, &res->usage,
	    res->status == 0, res->status == DROVE_ERATELIMIT,
	    r->t0 + mc->attempt_start, now_mono());
	t->mbusy_s += run_rel(r) - mc->attempt_start;
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
		loop_timer_start(r->loop, &mc->timer, sched_backoff_ms(mc->attempts <
		    1 ? 1 : mc->attempts, res->retry_after_ms), mcall_timer,
		    mc);
		sched_pump(r);
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
	struct run *r = sched_cur;
	struct backend *b;
	struct mcall *mc;
	struct trun *t;
	char err[1024];
	int rc;

	if (r == NULL || m == NULL || backend == NULL || done == NULL ||
	    (b = sched_find_backend(r, backend)) == NULL)
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
	struct run *r = sched_cur;

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

void
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
	struct run *r = sched_cur;
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

