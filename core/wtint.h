/*
 * What the worktree files share: the state of worktree isolation for a run
 * (worktree.c sets it up and reports it, wttask.c makes and commits each
 * task's worktree, wtmerge.c runs the merge phase, wtop.c runs their
 * chains of git commands on the loop) and helpers for the journal, the
 * record drove clean trusts, and git in the repository.
 * Internal to those files.
 */
#ifndef DROVE_WTINT_H
#define DROVE_WTINT_H

#include <stddef.h>

#include <jansson.h>

#include "git.h"
#include "graph.h"
#include "journal.h"
#include "util.h"
#include "worktree.h"

struct spawn;
struct wt;
struct wtop;

/*
 * A chain of git commands run on the loop for one task (its worktree made,
 * or committed) or for the merge phase.  The flow fn is a switch over
 * step: each case starts at most one git command (wt_op_git) and returns;
 * when git ends, its result is in code, out and err and fn runs again at
 * the step it set.  wt_op_end ends the chain and calls done.
 */
typedef void (*wtop_fn)(struct wtop *op);

struct wtop {
	struct wt *w;
	size_t task;
	wtop_fn fn;
	int step;
	int busy;		/* between wt_op_begin and wt_op_end */
	struct spawn *sp;	/* the git command running, or NULL */
	struct wtop *qnext;	/* waiting for its turn (w->queue) */
	char *qdir, *qgitdir;	/* the command waiting or running */
	char **qargs;
	int qcheck;		/* a check (wtcheck.c), not git */
	double qtimeout;	/* the check's timeout */
	int code;		/* how the last one ended (git_done_fn) */
	struct buf out;		/* its stdout */
	char err[1024];		/* its error, then the chain's */
	wt_done_fn done;
	void *arg;
	/* the flows' own state */
	char **bases;		/* dependencies' branches (prepare) */
	size_t k;		/* index in bases, copy or the topo order */
	int have_branch;
	int stop;		/* the merge phase was interrupted */
	char *dir, *tmp;	/* the merge phase's target tree */
	char *pre;		/* the target's HEAD before this merge */
	int final;		/* the check running is the final one */
	int undo;		/* after the check: reset to pre, not HEAD */
	char **before;		/* untracked files before the check, sorted;
				 * NULL: not known, nothing is removed */
};

struct wtask {
	int on;			/* isolation = worktree */
	char *branch;		/* drove/<run>/<task> */
	char *path;		/* absolute path of the worktree */
	char *workdir;		/* the agent's cwd: path plus the prefix */
	char *gitdir;		/* its admin dir, <common>/worktrees/<name> */
	char *dotgit;		/* what its .git file said when drove made it */
	char *start;		/* commit the task started from */
	char *commit;		/* its commit; NULL: none (yet) */
	int finished;		/* committed, or noted as unchanged */
	char **copy;		/* worktree_copy, NULL-ended */
	char **changed;		/* changed files, relative to the top */
	int merged;
	int merge_tried;
	char **conflict;	/* NULL-ended, or NULL */
	char *merge_error;
	char **check;		/* its check command (argv), or NULL */
	double check_timeout_s;
	int check_failed;	/* its merge was undone: the check failed */
	char *check_output;	/* the end of the check's output */
	const char *blocked_by;	/* not merged: this dependency was not */
	char *resume_pre;	/* journaled: merged onto this, not checked */
	struct wtop op;		/* its worktree made or committed */
};

struct wt {
	const struct graph *g;
	const struct conf_section *d;
	struct journal *j;
	struct git git;
	char *top;		/* top level of the main worktree */
	char *prefix;		/* the cwd below top: "" or "sub/dir/" */
	char *common;		/* the common git directory */
	char *base;		/* HEAD when the run started */
	char *into;		/* target branch of the merge phase */
	char *target_dir;	/* where into is checked out, or NULL */
	char *id, *dir;
	char *record;		/* <common>/drove/<run>.refs, for drove clean */
	struct wtask *t;
	json_t *overlaps, *violations;
	char *refused;		/* why the merge phase did not run */
	int phase_ran;
	struct loop *loop;	/* where git runs during the run */
	struct wtop mop;	/* the merge phase */
	const unsigned char *ok; /* the merge phase's: tasks that succeeded */
	int quiet, failed;	/* the merge phase's */
	size_t nbusy;		/* chains in progress */
	/* one git command at a time in the repository (git worktree add
	 * and prune race each other), the others wait in turn */
	struct wtop *running;
	struct wtop *queue, **qtail;
	int cancelled;		/* wt_cancel: no new git command */
	/* the merge gate (wtcheck.c) */
	char **check;		/* [drove] check (argv), or NULL */
	double check_timeout_s;
	int fewest_first;	/* merge_order = fewest_files_first */
	size_t *order;		/* the merge phase's order of tasks */
	const char *check_task;	/* the check running is for it; NULL: final */
	size_t merged_now;	/* branches the phase merged */
	int final_ran, final_passed;
	char *final_output;	/* the end of the final check's output */
};

static inline const char *
tname(const struct wt *w, size_t i)
{
	return w->g->tasks[i].name;
}

/* Appends ev to the run's journal; takes ev. */
void wt_jlog(struct wt *w, json_t *ev);

/* Appends ev to the run's record under the git dir; borrows ev. */
void wt_record(struct wt *w, json_t *ev);

/* git in dir of the repository (see git_run, git_str, git_list). */
int wt_git(struct wt *w, const char *dir, const char *const *args,
    struct buf *out, char *err, size_t errlen);
char *wt_gits(struct wt *w, const char *dir, const char *const *args,
    char *err, size_t errlen);
char **wt_gitl(struct wt *w, const char *dir, const char *const *args,
    char *err, size_t errlen);

/* Starts op's chain with fn at step 0, to end with done(arg, ...). */
void wt_op_begin(struct wtop *op, struct wt *w, size_t task, wtop_fn fn,
    wt_done_fn done, void *arg);

/* Starts one git command in dir (with gitdir, see git_cmd) for op; its
 * end runs op->fn.  A command that cannot start, or any once the run is
 * cancelled, ends at once with code < 0 and the reason in op->err. */
void wt_op_git(struct wtop *op, const char *dir, const char *gitdir,
    const char *const *args);

/* wt_op_git, or with check set a check (wt_check_start) with its
 * timeout: one queue for both, so a check never runs beside git. */
void wt_op_queue(struct wtop *op, const char *dir, const char *gitdir,
    const char *const *args, int check, double timeout);

/* Ends op's chain: rc 0, or < 0 with the reason in op->err. */
void wt_op_end(struct wtop *op, int rc);

/* op's stdout, trimmed, in a new allocation. */
char *wt_op_str(struct wtop *op);

/* op's NUL-separated stdout as a new NULL-ended list. */
char **wt_op_list(struct wtop *op);

/* The paths of "git status --porcelain -z" output v, joined with ", "
 * (the first five and a count), or NULL when v lists nothing. */
char *wt_dirty_join(char **v);

/* Uncommitted changes to tracked files in dir, joined with ", ", or NULL
 * when there are none. */
char *wt_dirty_files(struct wt *w, const char *dir);

/* --- the merge gate (wtcheck.c) --- */

/* Reads [drove] check, check_timeout and merge_order, and each worktree
 * task's check and check_timeout; a bad value is DROVE_EINVAL with
 * file:line in err. */
int wt_check_open(struct wt *w, char *err, size_t errlen);

/* For a run with no worktree task: a task's check or check_timeout is
 * DROVE_EINVAL with file:line in err; [drove]'s check, check_timeout and
 * merge_order are a warning on stderr each.  Borrows g and d. */
int wt_check_unused(const struct graph *g, const struct conf_section *d,
    char *err, size_t errlen);

/* Fills w->order with the merge phase's order of the tasks: dependency
 * order, then declared order or the fewest changed files first. */
void wt_check_order(struct wt *w);

/* Runs task's check (the final one when task is WT_FINAL) in dir for op,
 * after the git commands waiting; its end runs op->fn with code 0 when it
 * passed, the end of its output in op->out and the reason in op->err.
 * Returns 0, or 1 when there is no check to run (op->fn is not called). */
#define WT_FINAL ((size_t)-1)
int wt_op_check(struct wtop *op, const char *dir, size_t task);

/* True when task (or WT_FINAL) has a check. */
int wt_check_has(const struct wt *w, size_t task);

/* Starts the check cmd->args in cmd->dir as git_start starts git (same
 * contract); the end of its output goes to done as out. */
int wt_check_start(struct wt *w, const struct git_cmd *cmd, double timeout,
    struct spawn **sp, char *err, size_t errlen);

/* The merge-phase status of task i for summary.json and the events:
 * "merged", "conflict", "check_failed", "dependency_failed", "failed",
 * "unchanged", "not_merged"; NULL for a task without a worktree.  tasks
 * is summary.json's "tasks" (for the tasks' own statuses), or NULL. */
const char *wt_merge_status(const struct wt *w, size_t i, json_t *tasks,
    const char **blocked_by);

/* Adds the merge gate's fields to summary.json's object s (see
 * wt_summary). */
void wt_check_summary(const struct wt *w, json_t *s);

/* Frees what wt_check_open and the phase kept. */
void wt_check_free(struct wt *w);

/* v as a JSON array of strings (new reference). */
json_t *wt_json_strv(char *const *v);
/* v's strings joined with sep, in a new allocation. */
char *wt_strv_join(char *const *v, const char *sep);
/* True when s is one of v's strings. */
int wt_strv_has(char *const *v, const char *s);

#endif /* DROVE_WTINT_H */
