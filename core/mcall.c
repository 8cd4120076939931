/*
 * Merges' calls to backends: a judge, a summary (host->backend_call).  The
 * call itself (quota, retries, rate limits, timeout, journal) is call.c's;
 * this file queues merges' calls, opens a backend on first use and counts
 * a call's usage toward the merging task.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "call.h"
#include "host.h"
#include "run.h"

struct mcall {
	struct host_handle h;	/* first: the plugin's handle */
	struct call c;
	struct run *run;
	size_t task;
	char *prompt;
	char *system;
	char *stderr_path;
	void (*done)(void *arg, const struct drove_result *r);
	void *arg;
	struct mcall *next;
};

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

static int
mcall_may_retry(struct call *c)
{
	struct mcall *mc = c->owner;

	return !mc->run->interrupted;
}

static void
mcall_requeue(struct call *c)
{
	c->env->wake(c->env->wake_arg);
}

/* Counts the call toward its task, unlinks and frees it, tells the
 * merge. */
static void
mcall_done(struct call *c)
{
	struct mcall *mc = c->owner;
	struct run *r = mc->run;
	struct trun *t = &r->t[mc->task];
	void (*done)(void *, const struct drove_result *) = mc->done;
	void *arg = mc->arg;
	struct drove_result res = {
		.size = sizeof(res),
		.status = c->status,
		.text = c->status == 0 ? c->text : NULL,
		.len = c->status == 0 ? c->len : 0,
		.usage = c->usage,
		.error = c->status == 0 ? NULL : c->error ? c->error :
		    "failed",
		.retry_after_ms = -1,
		.http_status = c->http_status,
	};

	t->mbusy_s += c->busy_s;
	t->musage.tokens_in += c->usage.tokens_in;
	t->musage.tokens_out += c->usage.tokens_out;
	t->musage.cache_read += c->usage.cache_read;
	t->musage.cache_write += c->usage.cache_write;
	t->mcost += c->cost;
	mcall_unlink(r, mc);
	/* res points into mc: tell first, then free */
	done(arg, &res);
	call_release(&mc->c);
	free(mc->prompt);
	free(mc->system);
	free(mc->stderr_path);
	free(mc);
	r->menv.wake(r->menv.wake_arg);
}

static const struct call_ops mcall_ops = {
	.may_retry = mcall_may_retry,
	.requeue = mcall_requeue,
	.done = mcall_done,
};

/*
 * Starts the queued calls whose backend has a free slot, within its rpm and
 * tpm, its memory and the run's budget, like any task's call.  A call the
 * budget cannot cover fails with the budget's reason.  Returns how many ms
 * until a bucket lets the next held-back call start (or memory is looked
 * at again), 0 when none waits for one.
 */
uint64_t
mcall_pump(struct run *r)
{
	uint64_t wait_ms = 0, room;
	struct mcall *mc;

again:
	for (mc = r->mcalls; mc; mc = mc->next) {
		if (mc->c.state != CALL_QUEUED)
			continue;
		if (!call_can_start(&mc->c, &wait_ms))
			continue;
		if (!memadmit_allows(&r->mem, r->be, r->nbe, mc->c.be,
		    &room)) {
			wait_ms = memadmit_wait_ms(wait_ms);
			continue;
		}
		switch (call_reserve(&mc->c)) {
		case 0:
			break;
		case 1:
			goto again;	/* moved to a fallback */
		default:
			call_fail(&mc->c, DROVE_EBUDGET, r->budget.why);
			continue;
		}
		call_start(&mc->c);
		goto again;
	}
	return wait_ms;
}

static void
mcall_cancel(struct host_handle *h)
{
	struct mcall *mc = (struct mcall *)h;

	if (mc->c.cancel_sent)
		return;
	if (mc->c.state == CALL_RUNNING) {
		call_cancel(&mc->c);
		return;
	}
	mc->c.cancel_sent = 1;
	if (mc->c.state == CALL_QUEUED || mc->c.state == CALL_BACKOFF)
		call_fail(&mc->c, DROVE_ECANCELED, "cancelled");
}

int
mcall_backend_call(struct run *r, size_t task, const char *backend,
    const char *prompt, const char *system,
    void (*done)(void *arg, const struct drove_result *r), void *arg,
    void **handle)
{
	const struct task *gt = &r->g->tasks[task];
	struct trun *t = &r->t[task];
	struct backend *b;
	struct mcall *mc;
	char err[1024];
	int rc;

	if ((b = backend_find(r->be, r->nbe, backend)) == NULL)
		return DROVE_EINVAL;
	mc = xcalloc(1, sizeof(*mc));
	mc->h.cancel = mcall_cancel;
	mc->run = r;
	mc->task = task;
	mc->prompt = xstrdup(prompt ? prompt : "");
	mc->system = system ? xstrdup(system) : NULL;
	mc->done = done;
	mc->arg = arg;
	if (t->artifact_dir && mkdir_p(t->artifact_dir, 0777) == 0)
		mc->stderr_path = xasprintf("%s/call-%d.err",
		    t->artifact_dir, t->ncalls);
	call_init(&mc->c, &r->menv, &mcall_ops, mc, b);
	mc->c.task = gt->name;
	mc->c.seq = t->ncalls;
	mc->c.prompt = mc->prompt;
	mc->c.system = mc->system;
	mc->c.timeout_s = call_timeout(b, gt->timeout_s);
	mc->c.stderr_path = mc->stderr_path;
	mc->c.task_conf = (const struct drove_conf *)gt->sec;
	mc->c.retries = b->lim.retries;
	mc->c.task_timeout_s = gt->timeout_s;
	t->ncalls++;
	mc->next = r->mcalls;
	r->mcalls = mc;
	*handle = &mc->h;
	rc = backend_open_chain(b, err, sizeof(err));
	if (rc < 0) {
		call_fail(&mc->c, rc, err);
		return 0;
	}
	/* queued from the loop: done must not run within backend_call */
	call_queue(&mc->c, 0);
	return 0;
}

void
mcall_cancel_all(struct run *r)
{
	struct mcall *mc;

	/* a cancel may end a call at once, unlinking it: rescan */
again:
	for (mc = r->mcalls; mc; mc = mc->next) {
		if (!mc->c.cancel_sent) {
			mcall_cancel(&mc->h);
			goto again;
		}
	}
}

int
mcall_note(struct run *r, size_t task, const char *key, const char *json)
{
	struct trun *t = &r->t[task];
	json_t *v;

	v = json_loads(json, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		return DROVE_EINVAL;
	if (t->notes == NULL)
		t->notes = json_object();
	json_object_set_new(t->notes, key, v);
	return 0;
}
