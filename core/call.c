/* A backend call with its attempts (see call.h). */
#include "call.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fallback.h"
#include "util.h"

/* --- jitter ------------------------------------------------------------- */

/* splitmix64: a small generator whose every seed is a good one */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_seed(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	/* the kernel's entropy when it has some; the clock and the pid
	 * keep two runs apart when it has none */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	seed ^= (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
	seed ^= (uint64_t)getpid() << 32;
	return seed;
}

void
call_env_init(struct call_env *e, struct loop *l, struct budget *b,
    struct journal *j, double t0, int quiet)
{
	memset(e, 0, sizeof(*e));
	e->loop = l;
	e->budget = b;
	e->j = j;
	e->t0 = t0;
	e->quiet = quiet;
	e->rng = rng_seed();
}

uint64_t
call_backoff_ms(struct call_env *e, int attempt, int64_t hint_ms)
{
	double s, u;

	if (hint_ms > 0 && hint_ms <= 60000)
		return (uint64_t)hint_ms;
	if (attempt < 1)
		attempt = 1;
	s = 0.5 * (double)(1u << (attempt > 5 ? 5 : attempt - 1));
	if (s > 8)
		s = 8;
	/* 53 random bits: a uniform double in [0, 1) */
	u = (double)(rng_next(&e->rng) >> 11) / 9007199254740992.0;
	s = s * (0.75 + 0.5 * u);
	return (uint64_t)(s * 1000);
}

/* --- journal ------------------------------------------------------------ */

static double
call_rel(const struct call *c)
{
	return now_mono() - c->env->t0;
}

/* A record of c: type is the journal's older name ("ev"), event the one
 * docs/EVENTS.md gives (NULL: a record the event stream leaves out). */
static json_t *
call_event(const struct call *c, const char *type, const char *event)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string(type));
	if (event != NULL)
		json_object_set_new(ev, "event", json_string(event));
	json_object_set_new(ev, "task", json_string(c->task));
	if (c->replica >= 0)
		json_object_set_new(ev, "replica", json_integer(c->replica));
	else
		json_object_set_new(ev, "call", json_integer(c->seq));
	json_object_set_new(ev, "attempt", json_integer(c->attempts));
	return ev;
}

/* flags: of JOURNAL_* (journal.h) */
static void
call_jlog(struct call *c, json_t *ev, int flags)
{
	int rc;

	if (c->env->j == NULL || c->env->j->fd < 0) {
		json_decref(ev);
		return;
	}
	rc = journal_append(c->env->j, ev, flags);
	if (rc < 0)
		log_warnx("cannot write '%s': %s", c->env->j->path,
		    strerror(-rc));
}

/* --- lifecycle ---------------------------------------------------------- */

/*
 * The live copy of a running call's streamed text (hc.ctx.live_path):
 * chunks gather in c->live and one timer for all the env's calls writes
 * each one's gathered text every CALL_LIVE_MS, and what is left at the
 * attempt's end.  So a stream of many small events costs one write per
 * call per interval, and the file, which each attempt starts afresh, is
 * made at its first write, not at its first byte.  An answer that came
 * whole between two writes makes none: the output, tasks/TASK.out, is
 * its whole copy (drove logs prints that), and a file made for it would
 * cost the loop more than the call's own I/O.  No fsync: it is a view,
 * tasks/TASK.out is the record.  A copy that fails just stops.
 */
static void
call_live_unlink(struct call *c)
{
	if (c->live_prevp == NULL)
		return;
	if (c->live_next != NULL)
		c->live_next->live_prevp = c->live_prevp;
	*c->live_prevp = c->live_next;
	c->live_next = NULL;
	c->live_prevp = NULL;
}

static void
call_live_flush(struct call *c)
{
	call_live_unlink(c);
	if (c->live.len == 0)
		return;
	if (c->live_new) {
		c->live_new = 0;
		c->live_fd = open(c->hc.ctx.live_path, O_WRONLY | O_CREAT |
		    O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
		c->live_made = 1;
	}
	if (c->live_fd >= 0) {
		c->env->live_writes++;
		if (write_all(c->live_fd, c->live.data, c->live.len) < 0) {
			close(c->live_fd);
			c->live_fd = -1;
		}
	}
	buf_reset(&c->live);
}

static void
call_live_tick(struct loop *l, struct loop_timer *t)
{
	struct call_env *e = t->data;

	(void)l;
	while (e->live_dirty != NULL)
		call_live_flush(e->live_dirty);
}

/* Ends the attempt's live copy: what it gathered written, the file
 * closed. */
static void
call_live_close(struct call *c)
{
	call_live_flush(c);
	buf_release(&c->live);
	if (c->live_fd >= 0)
		close(c->live_fd);
	c->live_fd = -1;
	if (c->env->live_dirty == NULL)
		loop_timer_stop(c->env->loop, &c->env->live_timer);
}

static void call_backend_done(struct host_call *hc,
    const struct drove_result *res);

/* The backend streamed len bytes more of the answer (redacted by it). */
static void
call_progressed(struct host_call *hc, const char *text, size_t len)
{
	struct call *c = (struct call *)hc;
	struct call_env *e = c->env;

	if (c->state != CALL_RUNNING)
		return;
	if (hc->ctx.live_path != NULL && text != NULL && len > 0 &&
	    (c->live_new || c->live_fd >= 0)) {
		buf_add(&c->live, text, len);
		if (c->live_prevp == NULL) {
			c->live_next = e->live_dirty;
			if (c->live_next != NULL)
				c->live_next->live_prevp = &c->live_next;
			e->live_dirty = c;
			c->live_prevp = &e->live_dirty;
			if (!e->live_timer.active)
				loop_timer_start(e->loop, &e->live_timer,
				    CALL_LIVE_MS, call_live_tick, e);
		}
	}
	if (e->progress != NULL)
		e->progress(e->progress_arg, c, len);
}

/* A launch's job name: drove-<run>-<task>, so the scheduler's queue
 * says whose it is. */
static void
call_job_name(struct host_call *hc, char *buf, size_t len)
{
	struct call *c = (struct call *)hc;

	snprintf(buf, len, "drove-%s-%s", c->env->run_id ? c->env->run_id :
	    "run", c->task);
}

/*
 * A launcher reported the attempt's job: journaled (the id, so a resume
 * can end a job a dead drove left; "job_end" once it is over) and, while
 * it waits for resources, a task_pending event with the scheduler's
 * reason.  The last id is the call's, for summary.json.
 */
static void
call_job(struct host_call *hc, const char *launcher, const char *job,
    const char *pending, int ended)
{
	struct call *c = (struct call *)hc;
	json_t *ev;

	if (ended) {
		ev = json_object();
		json_object_set_new(ev, "ev", json_string("job_end"));
		json_object_set_new(ev, "backend", json_string(c->be->name));
		json_object_set_new(ev, "job", json_string(job));
		call_jlog(c, ev, JOURNAL_LATER);
		return;
	}
	if (c->job == NULL || strcmp(c->job, job) != 0) {
		free(c->job);
		c->job = xstrdup(job);
	}
	ev = call_event(c, "job", pending ? "task_pending" : "task_job");
	json_object_set_new(ev, "backend", json_string(c->be->name));
	json_object_set_new(ev, "launcher", json_string(launcher));
	json_object_set_new(ev, "job", json_string(job));
	json_object_set_new(ev, "reason", pending ? json_string(pending) :
	    json_null());
	json_object_set_new(ev, "t", json_real(call_rel(c)));
	/* no fsync: the id has to outlive this process, not the machine */
	call_jlog(c, ev, 0);
}

/* A launched attempt's agent ended: its exit status as a shell gives it
 * (128 + a signal), or -1 when none ran (it could not be started). */
static void
call_exited(struct host_call *hc, int status, int err)
{
	struct call *c = (struct call *)hc;

	if (err != 0 && status == 0)
		c->exit_code = -1;
	else
		c->exit_code = status >= 0 ? status : 128 - status;
}

void
call_init(struct call *c, struct call_env *env, const struct call_ops *ops,
    void *owner, struct backend *be)
{
	memset(c, 0, sizeof(*c));
	c->hc.ctx.env = env->host;
	c->hc.done = call_backend_done;
	c->hc.progress = call_progressed;
	c->hc.job_name = call_job_name;
	c->hc.job = call_job;
	c->hc.exited = call_exited;
	c->exit_code = -1;
	c->env = env;
	c->ops = ops;
	c->owner = owner;
	c->be = c->be0 = be;
	c->replica = -1;
	c->live_fd = -1;
}

void
call_release(struct call *c)
{
	free(c->text);
	free(c->error);
	free(c->job);
	c->text = c->error = c->job = NULL;
	if (c->env == NULL)	/* never readied */
		return;
	call_live_unlink(c);
	buf_release(&c->live);
	if (c->live_fd >= 0)
		close(c->live_fd);
	c->live_fd = -1;
}

double
call_timeout(const struct backend *be, double task_timeout_s)
{
	if (task_timeout_s > 0)
		return task_timeout_s;
	return be ? be->timeout_s : 0;
}

double
call_est_tokens(const struct call *c)
{
	return quota_be_tokens(&c->be->lim, (c->prompt ? strlen(c->prompt) :
	    0) + (c->system ? strlen(c->system) : 0));
}

int
call_can_start(struct call *c, uint64_t *wait_ms)
{
	uint64_t ms;

	if (quota_be_full(&c->be->lim, c->be->inflight) ||
	    !fdwait_allows(&c->env->fdw, c->env->running))
		return 0;
	ms = quota_be_wait_ms(&c->be->lim, now_mono());
	if (ms > 0) {
		if (wait_ms != NULL && (*wait_ms == 0 || ms < *wait_ms))
			*wait_ms = ms;
		return 0;
	}
	return 1;
}

static void
call_set_error(struct call *c, const char *e)
{
	free(c->error);
	c->error = e ? xstrdup(e) : NULL;
}

/* c goes on on backend `to` (why: what its backend could not do), with
 * that backend's retries and timeout unless the task set its own. */
static void
call_move(struct call *c, struct backend *to, const char *why)
{
	json_t *ev = call_event(c, "fallback", "task_fallback");

	json_object_set_new(ev, "backend", json_string(c->be->name));
	json_object_set_new(ev, "fallback", json_string(to->name));
	json_object_set_new(ev, "error", json_texts(why));
	json_object_set_new(ev, "t", json_real(call_rel(c)));
	call_jlog(c, ev, JOURNAL_LATER);
	if (!c->env->quiet)
		log_info("%s%s: %s; moving to fallback backend '%s'", c->task,
		    c->replica < 0 ? " (merge call)" : "", why, to->name);
	c->be = to;
	c->fb_base = c->attempts;
	c->rate_limits = 0;
	if (!c->own_retries)
		c->retries = to->lim.retries;
	c->timeout_s = call_timeout(to, c->task_timeout_s);
}

int
call_reserve(struct call *c)
{
	struct budget *b = c->env->budget;
	const char *by = b->stopped_by;
	char before[sizeof(b->why)], why[sizeof(b->why)];

	memcpy(before, b->why, sizeof(before));
	if (quota_budget_check(b, &c->be->lim, call_est_tokens(c),
	    c->max_tokens, &c->res) == 0)
		return 0;
	/* this backend's prices do not fit: a fallback's may */
	memcpy(why, b->why, sizeof(why));
	for (struct backend *to = c->be->fallback; to; to = to->fallback) {
		struct reservation tmp;

		if (!to->used || quota_budget_check(b, &to->lim,
		    call_est_tokens(c), c->max_tokens, &tmp) != 0)
			continue;
		/* the run goes on: the budget stopped nothing */
		b->stopped_by = by;
		memcpy(b->why, before, sizeof(before));
		call_move(c, to, why);
		return 1;
	}
	memcpy(b->why, why, sizeof(why));
	return DROVE_EBUDGET;
}

/* The call outlived its timeout_s (by CALL_TIMEOUT_GRACE_MS): cancel it.
 * A backend that enforces the timeout itself ends the call first, with its
 * own reason, and may mark that failure retryable. */
static void
call_timed_out(struct loop *l, struct loop_timer *tm)
{
	struct call *c = tm->data;

	(void)l;
	if (c->state != CALL_RUNNING || c->cancel_sent)
		return;
	c->cancel_sent = 1;
	free(c->error);
	c->error = xasprintf("timed out after %gs", c->timeout_s);
	if (c->be->p->backend->cancel)
		c->be->p->backend->cancel(c->be->state, &c->dc);
}

/* An attempt the backend could not start ends from the loop. */
static void
call_start_failed(struct loop *l, struct loop_timer *tm)
{
	struct call *c = tm->data;
	struct drove_result res = {
		.size = sizeof(res),
		.status = c->status,
		.error = "the backend could not start the call",
		.retry_after_ms = -1,
	};

	(void)l;
	c->cancel_sent = 0;
	call_backend_done(&c->hc, &res);
}

void
call_start(struct call *c)
{
	json_t *ev;
	int rc;

	c->attempts++;
	c->state = CALL_RUNNING;
	c->cancel_sent = 0;
	c->exit_code = -1;
	call_live_close(c);
	c->live_new = 1;
	c->attempt_start = call_rel(c);
	if (c->attempts == 1)
		c->start_s = c->attempt_start;
	memset(&c->dc, 0, sizeof(c->dc));
	c->dc.size = sizeof(c->dc);
	c->dc.task = c->task;
	c->dc.replica = c->replica;
	c->dc.attempt = c->attempts;
	c->dc.prompt = c->prompt ? c->prompt : "";
	c->dc.prompt_len = strlen(c->dc.prompt);
	c->dc.system = c->system;
	c->dc.model = c->model;
	c->dc.max_tokens = c->max_tokens;
	c->dc.timeout_s = c->timeout_s;
	c->dc.workdir = c->workdir;
	c->dc.stderr_path = c->stderr_path;
	c->dc.task_conf = c->task_conf;
	c->dc.core = &c->hc;
	c->env->running++;
	c->be->inflight++;
	quota_start(&c->be->lim, c->env->budget, &c->res, call_est_tokens(c),
	    now_mono());
	ev = call_event(c, "start", "task_start");
	json_object_set_new(ev, "backend", json_string(c->be->name));
	json_object_set_new(ev, "t", json_real(c->attempt_start));
	call_jlog(c, ev, JOURNAL_SYNC | JOURNAL_LATER);
	if (log_verbosity >= 2 && !c->env->quiet)
		log_debug("start %s%s (backend %s, attempt %d)", c->task,
		    c->replica < 0 ? " (merge call)" : "", c->be->name,
		    c->attempts);
	if (c->timeout_s > 0)
		loop_timer_start(c->env->loop, &c->timer,
		    (uint64_t)(c->timeout_s * 1000 + 0.5) +
		    CALL_TIMEOUT_GRACE_MS, call_timed_out, c);
	rc = c->be->p->backend->start(c->be->state, &c->dc);
	if (rc < 0 && c->state == CALL_RUNNING) {
		/* never cancel what did not start */
		c->cancel_sent = 1;
		c->status = rc;
		loop_timer_stop(c->env->loop, &c->timer);
		loop_timer_start(c->env->loop, &c->timer, 0,
		    call_start_failed, c);
	}
}

static void
call_end(struct call *c)
{
	c->state = CALL_DONE;
	c->end_s = call_rel(c);
	c->ops->done(c);
}

static void
call_backoff_over(struct loop *l, struct loop_timer *tm)
{
	struct call *c = tm->data;

	(void)l;
	c->env->backoff--;
	if (!c->ops->may_retry(c)) {
		if (c->status == 0) {
			c->status = DROVE_ECANCELED;
			call_set_error(c, "cancelled");
		}
		call_end(c);
		return;
	}
	c->state = CALL_QUEUED;
	c->ops->requeue(c);
}

static void
call_backend_done(struct host_call *hc, const struct drove_result *res)
{
	struct call *c = (struct call *)hc;
	struct call_env *e = c->env;
	double now = call_rel(c);
	int retry, move, live, n;

	if (c->state != CALL_RUNNING)
		return;
	if (res->status == 0 && !c->live_made && c->live.len > 0) {
		/* came whole: TASK.out is its copy; a live copy an earlier
		 * run left (a resumed task's) would be no prefix of it */
		buf_reset(&c->live);
		if (c->hc.ctx.live_path != NULL && c->live_stale)
			(void)unlink(c->hc.ctx.live_path);
	}
	call_live_close(c);
	loop_timer_stop(e->loop, &c->timer);
	e->running--;
	c->be->inflight--;
	quota_done(&c->be->lim, e->budget, &c->res, &res->usage,
	    res->status == 0, res->status == DROVE_ERATELIMIT,
	    e->t0 + c->attempt_start, now_mono());
	c->busy_s += now - c->attempt_start;
	c->usage.tokens_in += res->usage.tokens_in;
	c->usage.tokens_out += res->usage.tokens_out;
	c->usage.cache_read += res->usage.cache_read;
	c->usage.cache_write += res->usage.cache_write;
	c->cost += quota_cost(&c->be->lim, &res->usage);
	c->http_status = res->http_status;
	if (res->status == DROVE_ENOFD && fdwait_hold(&e->fdw, e->running,
	    e->quiet)) {
		/* out of descriptors: back in the queue until a call ends */
		c->attempts--;
		c->state = CALL_QUEUED;
		c->ops->requeue(c);
		return;
	}
	fdwait_ended(&e->fdw);
	if (res->status == 0) {
		c->status = 0;
		free(c->text);
		c->text = xstrndup(res->text ? res->text : "",
		    res->text ? res->len : 0);
		c->len = res->text ? res->len : 0;
		call_set_error(c, NULL);
		call_end(c);
		return;
	}
	/* a backstop timeout message wins over "cancelled" */
	if (!(c->cancel_sent && c->error && res->status == DROVE_ECANCELED))
		call_set_error(c, res->error ? res->error : "failed");
	c->status = res->status;
	if (res->status == DROVE_ERATELIMIT)
		c->rate_limits++;
	/* attempts and rate limits on this backend: with a fallback, a
	 * rate limit is tried again only as often as a failure */
	n = c->attempts - c->fb_base;
	live = res->status != DROVE_ECANCELED && !c->cancel_sent &&
	    c->ops->may_retry(c);
	retry = live && ((res->status == DROVE_ERATELIMIT &&
	    c->rate_limits <= (c->be->fallback ? c->retries :
	    CALL_MAX_RATE_LIMITS)) || (res->retryable && n <= c->retries));
	move = live && !retry && c->be->fallback != NULL &&
	    c->be->fallback->used && fallback_eligible(res);
	json_t *ev = call_event(c, "attempt", retry ? "task_retry" : NULL);

	json_object_set_new(ev, "error", json_texts(c->error));
	json_object_set_new(ev, "t", json_real(now));	/* the attempt's end */
	json_object_set_new(ev, "retry", json_boolean(retry || move));
	if (move) {
		json_object_set_new(ev, "wait_s", json_real(0));
		json_object_set_new(ev, "fallback",
		    json_string(c->be->fallback->name));
		call_jlog(c, ev, JOURNAL_LATER);
		call_move(c, c->be->fallback, c->error);
		call_queue(c, 0);
		if (e->wake != NULL)
			e->wake(e->wake_arg);
		return;
	}
	if (!retry) {
		call_jlog(c, ev, JOURNAL_LATER);
		call_end(c);
		return;
	}
	/* a rate limit is not the task's fault: it does not use up an
	 * attempt */
	if (res->status == DROVE_ERATELIMIT) {
		c->attempts--;
		n--;
	}
	uint64_t ms = call_backoff_ms(e, n, res->retry_after_ms);

	json_object_set_new(ev, "wait_s", json_real((double)ms / 1000));
	json_object_set_new(ev, "rate_limited",
	    json_boolean(res->status == DROVE_ERATELIMIT));
	json_object_set_new(ev, "t", json_real(now));
	call_jlog(c, ev, JOURNAL_LATER);

	if (!e->quiet)
		log_info("%s%s: %s; retrying in %.1fs", c->task,
		    c->replica < 0 ? " (merge call)" : "", c->error,
		    (double)ms / 1000);
	call_queue(c, ms);
	if (e->wake != NULL)
		e->wake(e->wake_arg);
}

void
call_queue(struct call *c, uint64_t ms)
{
	c->state = CALL_BACKOFF;
	c->env->backoff++;
	loop_timer_start(c->env->loop, &c->timer, ms, call_backoff_over, c);
}

static void
call_ended(struct loop *l, struct loop_timer *tm)
{
	struct call *c = tm->data;

	(void)l;
	if (c->held) {
		c->held = 0;
		c->env->backoff--;
	}
	call_end(c);
}

void
call_fail(struct call *c, int status, const char *error)
{
	/* a call in backoff stays counted there until it ended */
	c->held = c->held || c->state == CALL_BACKOFF;
	loop_timer_stop(c->env->loop, &c->timer);
	c->state = CALL_ENDING;
	c->status = status;
	call_set_error(c, error);
	loop_timer_start(c->env->loop, &c->timer, 0, call_ended, c);
}

void
call_cancel(struct call *c)
{
	switch (c->state) {
	case CALL_RUNNING:
		if (c->cancel_sent)
			break;
		c->cancel_sent = 1;
		if (c->be->p->backend->cancel)
			c->be->p->backend->cancel(c->be->state, &c->dc);
		break;
	case CALL_BACKOFF:
		call_fail(c, DROVE_ECANCELED, "cancelled");
		break;
	default:
		break;
	}
}

/* --- one call on a private loop ------------------------------------------ */

struct once {
	struct host_call hc;	/* first: dc->core points here */
	struct loop *loop;
	const struct drove_plugin *p;
	void *state;
	struct drove_call *dc;
	struct call_answer *a;
	int done;
	struct buf text;
};

static void
once_done(struct host_call *hc, const struct drove_result *r)
{
	struct once *o = (struct once *)hc;

	o->done = 1;
	o->a->status = r->status;
	if (r->status == 0)
		buf_add(&o->text, r->text ? r->text : "", r->text ? r->len : 0);
	else
		errf(o->a->err, sizeof(o->a->err), "%s", r->error ? r->error :
		    "the call failed");
	loop_stop(o->loop);
}

static void
once_signal(struct loop *l, struct loop_signal *s, int signo)
{
	struct once *o = s->data;

	(void)l;
	(void)signo;
	if (o->a->interrupted++ == 0 && !o->done && o->p->backend->cancel)
		o->p->backend->cancel(o->state, o->dc);
	else if (o->a->interrupted > 1)
		_exit(130);
}

int
call_once(struct host_env *e, const struct drove_plugin *p, void *state,
    struct drove_call *dc, int signals, struct call_answer *a)
{
	struct loop *l = e->loop;
	struct loop_signal sigint, sigterm;
	struct once o;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(a, 0, sizeof(*a));
	memset(&sigint, 0, sizeof(sigint));
	memset(&sigterm, 0, sizeof(sigterm));
	o.hc.ctx.env = e;
	o.hc.done = once_done;
	o.loop = l;
	o.p = p;
	o.state = state;
	o.dc = dc;
	o.a = a;
	dc->core = &o.hc;
	if (signals) {
		loop_signal_start(l, &sigint, SIGINT, once_signal, &o);
		loop_signal_start(l, &sigterm, SIGTERM, once_signal, &o);
	}
	rc = p->backend->start(state, dc);
	if (rc == 0)
		while (!o.done)
			loop_run(l);
	if (signals) {
		loop_signal_stop(l, &sigint);
		loop_signal_stop(l, &sigterm);
	}
	dc->core = NULL;
	a->text = buf_detach(&o.text, &a->len);
	return rc < 0 ? rc : 0;
}
