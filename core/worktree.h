/*
 * Worktree isolation.  A task with `isolation = worktree` runs in its own
 * `git worktree` on the branch drove/<run>/<task>, made from the HEAD the
 * run started at, or from its dependencies' branches; when it succeeds its
 * changes become one commit on that branch.  After the run a merge phase
 * brings the branches into the target branch one at a time, in dependency
 * order; a conflicting merge is aborted and listed, and no branch or
 * worktree that holds unmerged work is ever deleted.
 *
 * Git runs as child processes on the run's loop, like agents, each
 * command with a timeout ([drove] git_timeout, default 120 s); only the
 * checks before the run wait for git.  Every function takes w == NULL (no
 * task uses worktrees) and then does nothing.
 */
#ifndef DROVE_WORKTREE_H
#define DROVE_WORKTREE_H

#include <stddef.h>

#include <jansson.h>

#include "conf.h"
#include "graph.h"
#include "journal.h"

struct wt;
struct loop;

/* The end of an asynchronous step for task (or of the merge phase, task
 * then unused): rc 0, or < 0 with the reason in err (borrowed). */
typedef void (*wt_done_fn)(void *arg, size_t task, int rc, const char *err);

/*
 * Checks, before anything runs, what the worktree tasks of g need: one
 * replica and a backend each, a git repository around the current
 * directory with a commit, a target branch ([drove] merge_into in d, else
 * the current branch) whose working tree has no uncommitted changes,
 * worktree_copy files that exist.  Returns 0 and in *wp a new state (NULL
 * when no task uses worktrees), or DROVE_EINVAL with the reason in err.
 * Borrows g and d until wt_free.
 */
int wt_open(struct wt **wp, const struct graph *g,
    const struct conf_section *d, char *err, size_t errlen);

/*
 * Binds w to the run: its loop (where git runs from now on), its id and
 * directory (worktrees go to
 * <dir>/worktrees/<task>) and its journal (borrowed, must stay open).  When
 * resume is set, replays the worktree events of the journal: the base
 * commit, each task's worktree, commit and merge.  Returns 0 or DROVE_EIO.
 */
int wt_start(struct wt *w, struct loop *l, const char *id,
    const char *dir, struct journal *j, int resume, char *err,
    size_t errlen);

/*
 * Makes task's worktree before its agent starts, or reuses the one an
 * interrupted run left (its commits and files are kept), with git on the
 * loop.  Returns 0 for a task without isolation (nothing to do, done is
 * not called), else 1: done(arg, task, rc, err) follows, from the loop or
 * from within this call; rc < 0 fails the task with err (a conflict
 * between its dependencies' branches lists the files).
 */
int wt_prepare(struct wt *w, size_t task, wt_done_fn done, void *arg);

/* The agent's working directory for task (borrowed from w), or NULL. */
const char *wt_workdir(const struct wt *w, size_t task);

/*
 * Commits what task changed in its worktree as one commit, "<task>: <first
 * line of the prompt>", and journals it; a task that changed nothing is
 * noted, not failed.  Like wt_prepare: returns 0 for a task without
 * isolation, else 1 and done follows (rc < 0 fails the task with err).
 */
int wt_finish(struct wt *w, size_t task, wt_done_fn done, void *arg);

/* True while a worktree is being made or committed (the run must wait). */
int wt_busy(const struct wt *w);

/* Ctrl-C: kills the git commands running (their process groups, hooks
 * too) and starts no new one; the steps waiting on them end with
 * "cancelled". */
void wt_cancel(struct wt *w);

/*
 * After the parallel phase: reports files that more than one task changed
 * and changes to files another task declared in `writes`, then merges the
 * branch of every task with ok[task] set, one at a time in dependency
 * order, into the target.  Prints what happened on stderr unless quiet.
 * Runs the run's loop until done (git runs there, so signals are heard
 * and wt_cancel stops it).  Returns the number of branches that could not
 * be merged.
 */
int wt_merge_phase(struct wt *w, const unsigned char *ok, int quiet);

/* Adds the worktree fields to summary.json's object s: per task "branch",
 * "commit", "worktree", "changed_files", "merged", "conflict"; at the top
 * "merge", "overlaps", "violations".  Borrows s. */
void wt_summary(const struct wt *w, json_t *s);

void wt_free(struct wt *w);

/* The strings of JSON array a as a NULL-ended vector (strv_free). */
char **wt_strv_json(json_t *a);

/* `drove clean [RUN] [--force] [--run-dir DIR]`; returns the exit status. */
int cmd_clean(int argc, char **argv);

#endif /* DROVE_WORKTREE_H */
