/*
 * What the worktree files share: the state of worktree isolation for a run
 * (worktree.c sets it up and reports it, wttask.c makes and commits each
 * task's worktree, wtmerge.c runs the merge phase) and helpers for the
 * journal, the record drove clean trusts, and git in the repository.
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

/* Uncommitted changes to tracked files in dir, joined with ", ", or NULL
 * when there are none. */
char *wt_dirty_files(struct wt *w, const char *dir);

/* v as a JSON array of strings (new reference). */
json_t *wt_json_strv(char *const *v);
/* v's strings joined with sep, in a new allocation. */
char *wt_strv_join(char *const *v, const char *sep);
/* True when s is one of v's strings. */
int wt_strv_has(char *const *v, const char *s);

#endif /* DROVE_WTINT_H */
