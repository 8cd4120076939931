/*
 * The scheduler's private state, shared by sched.c (the queue, jobs and
 * task lifecycle), mcall.c (merges' calls to backends) and rundir.c (the
 * run directory, resume and summary).  Not for the rest of the core.
 */
#ifndef DROVE_RUN_H
#define DROVE_RUN_H

#include <stddef.h>

#include <jansson.h>

#include "drove/plugin.h"
#include "journal.h"
#include "loop.h"
#include "quota.h"
#include "sched.h"
#include "util.h"

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
	int stopping, failed, finished;
	int interrupted;	/* 0, or the first stopping signal */
	int in_pump, pump_again;
	size_t done_count;
	double t0;		/* monotonic start */
	double t0_wall;
	char *id, *dir, *root;
	struct journal j;
	struct claim *claims;
	size_t nclaims;
	struct loop_signal sigint, sigterm, sighup;
	int nsignals;
	json_t *summary;
	struct mcall *mcalls;	/* merges' calls to backends */
	struct wt *wt;		/* isolation = worktree; NULL: none */
	struct budget budget;
	struct loop_timer rate_timer;	/* a bucket refills */
	int rate_timer_on;
};

/* The run in progress (host callbacks carry no run pointer). */
extern struct run *sched_cur;

/* Seconds since the run started. */
static inline double
run_rel(const struct run *r)
{
	return now_mono() - r->t0;
}

static inline const char *
run_task_name(const struct run *r, size_t i)
{
	return r->g->tasks[i].name;
}

/* "ok", "failed", "cancelled" or "skipped", as summary.json says. */
static inline const char *
run_state_name(enum tstate s)
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

/* sched.c */
void sched_pump(struct run *r);
void sched_maybe_finish(struct run *r);
struct backend *sched_find_backend(struct run *r, const char *name);
uint64_t sched_backoff_ms(int attempt, int64_t hint_ms);
void sched_jlog(struct run *r, json_t *ev, int sync);

/* mcall.c: merges' calls to backends */
int mcall_owns(struct run *r, struct drove_call *call);
void mcall_call_done(struct run *r, struct drove_call *call,
    const struct drove_result *res);
/* ms until a rate bucket lets a held-back call start, or 0 */
uint64_t mcall_pump(struct run *r);
void mcall_cancel_all(struct run *r);

/* rundir.c: the run directory, resume and the summary */
int rundir_setup(struct run *r, char *err, size_t errlen);
int rundir_replay(struct run *r, char *err, size_t errlen);
json_t *rundir_summary(struct run *r, double wall);
void rundir_print_sinks(struct run *r);

#endif /* DROVE_RUN_H */
