/*
 * The scheduler: runs a task graph on the event loop.  Every ready task
 * starts at once, up to the global `jobs` cap and each backend's
 * `concurrency`; results are written to the run directory the moment they
 * land; the journal makes a killed run resumable.
 */
#ifndef DROVE_SCHED_H
#define DROVE_SCHED_H

#include <stddef.h>

#include "conf.h"
#include "drove/plugin.h"
#include "graph.h"
#include "registry.h"

struct run_opts {
	const char *task_file;
	long jobs;		/* -1: [drove] jobs, else 8; 0: no limit */
	int keep_going;		/* -k */
	int json;		/* JSON lines on stdout */
	int quiet;		/* -q */
	const char *run_root;	/* parent of run directories */
	const char *resume;	/* NULL, "last", a run id or a directory */
	int force;		/* --force: resume a changed task file */
	const char *notify;	/* --notify CMD, or NULL */
	int detached;		/* run -d: no terminal, SIGHUP ignored */
	/* when set, called once the run has started (run_start is in the
	 * journal), before any task: its id and directory (borrowed) */
	void (*started)(void *arg, const char *id, const char *dir);
	void *started_arg;
};

/* Exit statuses (DESIGN §4). */
#define EXIT_OK 0
#define EXIT_TASK_FAILED 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130
#define EXIT_HANGUP 129		/* SIGHUP: the terminal closed */

/* Runs the graph and returns the process exit status.  Borrows
 * everything. */
int sched_run(const struct conf *c, const struct graph *g,
    const struct registry *reg, const struct run_opts *o);

/*
 * Checks every [backend] section against the plugins (type known, keys
 * known) and, for the backends tasks use, opens them.  Used by `run` and
 * `--dry-run`.  Returns 0 or DROVE_EINVAL with "file:line: ..." in err.
 */
int sched_check_backends(const struct conf *c, const struct registry *reg,
    char *err, size_t errlen);

#endif /* DROVE_SCHED_H */
