/*
 * Runs seen from outside: `drove run -d` (a run detached from the
 * terminal) and what status, wait, logs, ls and stop learn of a run.  No
 * daemon: a run's state comes from its directory alone, the run lock
 * (running iff held, runlock.c) and the journal (journal.c).
 */
#ifndef DROVE_RUNCTL_H
#define DROVE_RUNCTL_H

#include <stddef.h>

struct run_opts;

enum runstate {
	RUN_RUNNING,
	RUN_DONE,		/* ended, every task ok */
	RUN_FAILED,
	RUN_INTERRUPTED,
	RUN_STALE,		/* not running, and never ended: killed */
};

/* What a run directory says of its run. */
struct runinfo {
	char *id, *dir;
	enum runstate state;
	long pid;		/* the owner while running, else 0 */
	char *task_file;	/* as given to run, or NULL */
	double started_at;	/* wall clock of the first start, 0: unknown */
	double elapsed_s;	/* since the last (re)start, or to its end */
	long ntasks;		/* in the graph, -1: unknown */
	long ok, failed, cancelled, skipped;
	double cost_usd;	/* of the tasks ended so far */
	char **running;		/* tasks with an attempt running, NULL-ended */
	size_t nrunning;
};

/* The directory of run `which` ("last", an id, or a path with a '/')
 * under root.  The caller frees. */
char *runctl_dir(const char *root, const char *which);

/*
 * Reads the run in dir: its lock, then its journal.  Returns 0; -ENOENT
 * when dir holds no run (no journal); or -errno.  Borrows dir; the caller
 * releases info with runctl_info_release.
 */
int runctl_read(const char *dir, struct runinfo *info);
void runctl_info_release(struct runinfo *info);

/* "running", "done", "failed", "interrupted" or "stale". */
const char *runctl_state_name(enum runstate s);

/* The exit status `drove run` gave (or would give) a run that ended:
 * 0 done, 1 failed or stale, 130 interrupted. */
int runctl_exit_status(const struct runinfo *info);

/*
 * Blocks, without polling, until no process holds dir's run lock (taking
 * it shared and letting go at once).  Returns 0, or -errno (-ENOENT: no
 * lock: not a run directory).  A signal ends the wait by its default
 * action.
 */
int runctl_wait_end(const char *dir);

/*
 * Whether process pid holds dir's run lock open, so that a signal meant
 * for the run reaches the run and not a process that took its pid over:
 * 1 yes, 0 no, -errno when it cannot be told (on Linux through
 * /proc/PID/fd; elsewhere the lock being held is taken as the answer).
 */
int runctl_is_owner(const char *dir, long pid);

/*
 * `drove run -d`: forks the process that runs, in a session of its own
 * (no terminal, SIGHUP ignored, stdin /dev/null).  In that child it sets
 * o->started, so the run's output moves to <run dir>/drove.log once the
 * run has started, and returns -1: the caller goes on and runs.  In the
 * parent it relays what the child says before that, then returns the exit
 * status: 0 when the run started (its id printed on stdout), else the
 * child's (2 for an error before the start).  Borrows o.
 */
int runctl_detach(struct run_opts *o);

#endif /* DROVE_RUNCTL_H */
