/*
 * A backend call with its attempts: the one lifecycle a task replica's call
 * and a merge's call (a judge, a summary) share.  It reserves and settles
 * the backend's rpm/tpm and the run's budget, retries a retryable failure
 * with backoff, requeues a rate-limited call without using an attempt,
 * moves a call its backend cannot answer to the backend's fallback,
 * cancels a call that outlives its timeout (a backstop for backends that do
 * not enforce it) and writes each attempt to the journal.
 *
 * The owner (tasks.c for replicas, mcall.c for merges) keeps the queue and
 * decides when a call may start; call.c runs it from there to its end and
 * tells the owner through struct call_ops and call_env.wake, so it calls
 * no module above it.
 */
#ifndef DROVE_CALL_H
#define DROVE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "drove/plugin.h"
#include "fdwait.h"
#include "host.h"
#include "journal.h"
#include "loop.h"
#include "quota.h"
#include "util.h"

/* Rate-limit answers one call may get before it fails: each requeues it
 * without using an attempt. */
#define CALL_MAX_RATE_LIMITS 100

/* How long after its timeout_s the core cancels a call that is still
 * running: enough for a backend's own timer at the same moment to end it
 * first, and no more. */
#define CALL_TIMEOUT_GRACE_MS 100

/* How often a running call's streamed text reaches its live copy: one
 * write per call per interval however many chunks came, so a stream of
 * small events costs the loop no write each. */
#define CALL_LIVE_MS 100

struct call;

/* What the calls of one owner share: the loop, the run's budget and
 * journal, and counters the owner reads. */
struct call_env {
	struct loop *loop;
	struct host_env *host;	/* the calls' context (set by the owner) */
	struct budget *budget;
	struct journal *j;	/* NULL: no records */
	const char *run_id;	/* names launched jobs; NULL: "run" */
	double t0;		/* monotonic time of the run's start */
	int quiet;
	uint64_t rng;		/* backoff jitter; call_env_init seeds it */
	long running;		/* attempts in flight */
	long backoff;		/* calls waiting out a backoff */
	/* A slot or a bucket may have freed: the owner of the queue looks
	 * again (set by the owner). */
	void (*wake)(void *arg);
	void *wake_arg;
	struct fdwait fdw;	/* starts held back for want of fds */
	/* A running call streamed len bytes more (set by the owner, or
	 * NULL). */
	void (*progress)(void *arg, struct call *c, size_t len);
	void *progress_arg;
	/* calls with streamed text not in their live copy yet, written
	 * together by one timer at most every CALL_LIVE_MS */
	struct call *live_dirty;
	struct loop_timer live_timer;
	unsigned long live_writes;	/* for tests */
};

enum call_state {
	CALL_IDLE = 0,		/* not queued yet */
	CALL_QUEUED,		/* the owner may start it */
	CALL_RUNNING,
	CALL_BACKOFF,
	CALL_ENDING,		/* ends from the loop (call_fail) */
	CALL_DONE,
};

struct call_ops {
	/* May a failed call be tried again (not when the run stops)? */
	int (*may_retry)(struct call *c);
	/* A backoff is over: queue the call again and pump. */
	void (*requeue)(struct call *c);
	/* The call ended for good: c->status, c->text/len, c->error. */
	void (*done)(struct call *c);
};

struct call {
	struct host_call hc;	/* first: dc.core points here */
	/* set by the owner before the first call_start */
	struct call_env *env;
	const struct call_ops *ops;
	void *owner;
	struct backend *be;
	const char *task;	/* task name */
	int replica;		/* >= 0: a replica; -1: a merge's call */
	int seq;		/* a merge's call: its number in the task */
	const char *prompt;	/* borrowed from the owner */
	const char *system;
	const char *model;
	int64_t max_tokens;
	double timeout_s;	/* per attempt; 0: none */
	const char *workdir;
	const char *stderr_path;
	const struct drove_conf *task_conf;
	long retries;		/* extra attempts after a failure */
	/* what a move to a fallback backend keeps: the task's timeout (0:
	 * the backend's), and whether retries is the task's own */
	double task_timeout_s;
	int own_retries;
	/* the lifecycle's own */
	struct backend *be0;	/* the owner's choice; be after a fallback */
	int fb_base;		/* attempts made on earlier backends */
	enum call_state state;
	int attempts;
	int rate_limits;
	int cancel_sent;
	int held;		/* ending, still counted in env->backoff */
	int status;		/* final: 0 ok or DROVE_E* */
	int http_status;	/* of the last attempt */
	int exit_code;		/* the last attempt's agent: its exit status,
				 * 128 + a signal, or -1 (none: not launched,
				 * or never ran) */
	char *text;
	size_t len;
	char *error;
	char *job;		/* the last attempt's launched job id, or
				 * NULL (launch.c) */
	struct drove_usage usage;	/* summed over attempts */
	double cost;
	double start_s, end_s;	/* first start, final end (run seconds) */
	double busy_s;		/* time spent in attempts */
	double attempt_start;
	struct loop_timer timer;	/* backoff, timeout backstop, ending */
	int live_fd;		/* the attempt's live copy (hc.ctx.live_path)
				 * of streamed text, or -1 */
	int live_new;		/* made (emptied) at the next write */
	int live_made;		/* by this attempt or an earlier one */
	int live_stale;		/* set by the owner: an earlier run may have
				 * left a copy at live_path (a resume) */
	struct buf live;	/* streamed, not written yet */
	struct call *live_next, **live_prevp;	/* in env->live_dirty */
	struct reservation res;	/* budget and tpm held by the attempt */
	struct drove_call dc;
};

/* Sets up env over loop l and seeds its jitter from the kernel, the clock
 * and the pid.  Borrows everything. */
void call_env_init(struct call_env *e, struct loop *l, struct budget *b,
    struct journal *j, double t0, int quiet);

/* Readies c for its first start; the caller then fills the fields above
 * "the lifecycle's own". */
void call_init(struct call *c, struct call_env *env,
    const struct call_ops *ops, void *owner, struct backend *be);
/* Frees what c holds (text, error); its timer must not be armed (the
 * call is idle, queued or done). */
void call_release(struct call *c);

/* The timeout of a call: the task's when set, else the backend's. */
double call_timeout(const struct backend *be, double task_timeout_s);

/* Input tokens one attempt of c is expected to send. */
double call_est_tokens(const struct call *c);
/* 1 when c's backend has a free slot and its rpm/tpm let it start now;
 * else 0, and *wait_ms (when not NULL) lowered to when a bucket refills
 * (untouched when the concurrency window is full). */
int call_can_start(struct call *c, uint64_t *wait_ms);
/* Reserves the run's budget for one attempt: 0; or 1 when c's backend
 * does not fit but a fallback does, and c moved there (nothing reserved:
 * ask call_can_start again); or DROVE_EBUDGET (then env->budget->why says
 * which budget). */
int call_reserve(struct call *c);
/* Starts one attempt (after call_reserve). */
void call_start(struct call *c);
/* Queues c after ms (0: from the loop, not the caller's stack): then
 * ops->requeue runs. */
void call_queue(struct call *c, uint64_t ms);
/* Stops c: a running attempt is cancelled (done follows), a backoff ends
 * with DROVE_ECANCELED.  A queued call is the owner's to drop. */
void call_cancel(struct call *c);
/* Ends c with status and error from the loop, never from the caller's
 * stack; done follows. */
void call_fail(struct call *c, int status, const char *error);

/* min(0.5 * 2^(attempt-1), 8) s with +-25% jitter, or the server's hint
 * within (0, 60] s. */
uint64_t call_backoff_ms(struct call_env *e, int attempt, int64_t hint_ms);

/* The result of a call run by call_once. */
struct call_answer {
	int status;		/* 0 ok or DROVE_E* */
	char *text;		/* the caller frees */
	size_t len;
	int interrupted;	/* SIGINT or SIGTERM cancelled it */
	char err[512];
};

/*
 * Runs one call dc of backend p (state opened by the caller) on e's loop,
 * which nothing else drives meanwhile, and returns when it ended: 0 and
 * *a filled, or < 0 when the backend could not start it.  With signals,
 * SIGINT or SIGTERM cancel the call and a second one exits 130.  `drove
 * doctor --probe` and `drove plan` use it.
 */
int call_once(struct host_env *e, const struct drove_plugin *p, void *state,
    struct drove_call *dc, int signals, struct call_answer *a);

#endif /* DROVE_CALL_H */
