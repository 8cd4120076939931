/*
 * A run's private state, shared by sched.c (a run from start to exit),
 * tasks.c (task lifecycle and the job queue), tasklog.c (the events a task
 * leaves in the journal), mcall.c (merges' calls to backends), claim.c
 * (output paths) and rundir.c (the run directory, resume and summary).
 * Not for the rest of the core.
 */
#ifndef DROVE_RUN_H
#define DROVE_RUN_H

#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "call.h"
#include "commit.h"
#include "drove/plugin.h"
#include "host.h"
#include "journal.h"
#include "loop.h"
#include "memadmit.h"
#include "quota.h"
#include "runlock.h"
#include "sched.h"
#include "spawn.h"
#include "util.h"

enum tstate {
	TS_WAIT = 0,	/* dependencies pending */
	TS_RUN,		/* replicas queued or running */
	TS_MERGE,	/* merge plugin running */
	TS_COMMIT,	/* result written, waiting until it is durable */
	TS_OK,
	TS_FAILED,
	TS_SKIPPED,
	TS_CANCELLED,
};

struct run;

/* Why a queued replica waits (task_wait's reason). */
enum wait_why {
	WAIT_NONE = 0,
	WAIT_SLOT,		/* -j, concurrency or descriptors */
	WAIT_RATE,		/* rpm or tpm */
	WAIT_MEM,		/* its backend's mem */
};

/* One replica of one task: its call to a backend, retried as needed. */
struct job {
	struct call c;		/* the call and its attempts */
	struct run *run;
	size_t task;
	int replica;
	char *prompt;
	char *system;
	char *stderr_path;
	char *live_path;	/* tasks/<name>.live: its stdout so far */
	enum wait_why wait;	/* the task_wait reason last told, or 0 */
};

struct trun {
	struct host_merge hm;	/* what the merge's m->core points to */
	struct run *run;
	size_t idx;		/* the task's index in the graph */
	enum tstate st;
	size_t pending;
	struct job *jobs;
	size_t njobs, jobs_left;
	struct drove_merge_call mc;
	struct drove_merge_input *mi;
	char *text;
	size_t len;
	char *error;
	int exit_code;		/* failed: its agent's exit status (128 + a
				 * signal), or 0: none known */
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
	size_t nslot_told;	/* queued jobs told to wait for a slot */
	long jobs_cap;
	long merging;		/* tasks whose merge runs */
	long committing;	/* tasks in TS_COMMIT */
	struct commit commit;	/* results and their records to disk */
	int save_tasks;		/* tasks.json to write (rundir_setup) */
	struct call_env jenv;	/* replicas' calls: running, backoff */
	struct call_env menv;	/* merges' calls */
	struct host_env host;	/* the loop and HTTP client plugins use */
	int stopping, failed, finished;
	int interrupted;	/* 0, or the first stopping signal */
	int in_pump, pump_again;
	double t0;		/* monotonic start */
	double t0_wall;
	double cpu0[3];		/* children's CPU, machine busy and total */
	char *id, *dir, *root;
	struct journal j;
	struct runlock lock;		/* the run directory is ours */
	struct spawn_watch watch;	/* children journaled in j */
	struct claim *claims;
	size_t nclaims;
	struct loop_signal sigint, sigterm, sighup;
	int nsignals;
	json_t *summary;
	struct mcall *mcalls;	/* merges' calls to backends */
	struct wt *wt;		/* isolation = worktree; NULL: none */
	struct budget budget;
	struct loop_timer rate_timer;	/* a bucket refills, memory is read */
	int rate_timer_on;
	struct memadmit mem;	/* the machine's memory in this pass */
	struct events *ev;	/* --json and the live view */
	struct notify *notify;	/* the notify hook; NULL: none */
};

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

/* Appends ev to the run's journal (flags: of JOURNAL_*, journal.h; 1 is
 * JOURNAL_SYNC), warning when it cannot; takes ev over. */
static inline void
run_jlog(struct run *r, json_t *ev, int flags)
{
	int rc = journal_append(&r->j, ev, flags);

	if (rc < 0)
		log_warnx("cannot write '%s': %s", r->j.path, strerror(-rc));
}

/* tasks.c: the tasks from ready to done, the job queue */
/* Links each task's merge services to r (before anything else). */
void tasks_init(struct run *r);
/* Readies the tasks whose dependencies are done and starts what can. */
void tasks_begin(struct run *r);
/* Starts the queued calls that fit, or arms a timer for a bucket. */
void tasks_pump(struct run *r);
/* Cancels every call and merge in flight (a signal). */
void tasks_cancel(struct run *r);
/* After the loop: tasks that never ran are skipped or cancelled. */
void tasks_settle(struct run *r);
/* Frees r->t and the queue. */
void tasks_release(struct run *r);

/* tasklog.c: a task's events in the journal (docs/EVENTS.md), which
 * events.c passes on to --json and the view */
/* task_done or task_skipped of task i */
void tasklog_journal(struct run *r, size_t i);
/* The event tasklog_journal writes, as if task i were in state st. */
json_t *tasklog_event(struct run *r, size_t i, enum tstate st);
void tasklog_progress(struct run *r, size_t i);
/* task_wait of queued jb, when its reason changed; room: for WAIT_MEM,
 * the memory available less what running agents reserve */
void tasklog_wait(struct run *r, struct job *jb, enum wait_why why,
    uint64_t room);

/* claim.c: output paths and the task each belongs to */
int claim_add(struct run *r, const char *path, size_t task, char *err,
    size_t errlen);
/* Claims every declared output; a clash is a load error in err. */
int claim_declared(struct run *r, char *err, size_t errlen);
void claim_release(struct run *r);

/* mcall.c: merges' calls to backends */
int mcall_backend_call(struct run *r, size_t task, const char *backend,
    const char *prompt, const char *system,
    void (*done)(void *arg, const struct drove_result *r), void *arg,
    void **handle);
int mcall_note(struct run *r, size_t task, const char *key,
    const char *json);
/* ms until a rate bucket lets a held-back call start, or 0 */
uint64_t mcall_pump(struct run *r);
void mcall_cancel_all(struct run *r);

/* rundir.c: the run directory, resume and the summary */
int rundir_setup(struct run *r, char *err, size_t errlen);
/* Closes the journal and gives the run directory up. */
void rundir_close(struct run *r);
int rundir_replay(struct run *r, char *err, size_t errlen);
/* The directory (*dir, caller frees) of the run `which` names under root:
 * 'last', a run id or a path.  Returns 0, or DROVE_EINVAL with the reason
 * in err. */
int rundir_resume_dir(const char *root, const char *which, char **dir,
    char *err, size_t errlen);
/* The tasks of g the run in dir has finished, as rundir_replay finds them:
 * g->n bytes, 1 for done (caller frees); NULL with the reason in err when
 * its journal cannot be read.  Borrows dir and g. */
unsigned char *rundir_done(const char *dir, const struct graph *g,
    char *err, size_t errlen);
json_t *rundir_task_json(struct run *r, size_t i);
/* Adds to o what rundir_task_json gives that o lacks, in its order (as
 * json_object_update_missing would, without the copy). */
void rundir_task_fill(struct run *r, size_t i, json_t *o);
json_t *rundir_summary(struct run *r, double wall);
void rundir_print_sinks(struct run *r);

#endif /* DROVE_RUN_H */
