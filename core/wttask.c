/*
 * A task's worktree: made before its agent starts (or taken back from an
 * interrupted run), checked before every git command on it, committed
 * after the agent.  See worktree.h.
 */
#include "worktree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "fsutil.h"
#include "git.h"
#include "util.h"
#include "wtint.h"

/* --- git, in a task's worktree ------------------------------------------ */

/*
 * Checks that task i's worktree is still the one drove made: its .git is
 * the file git wrote, naming the same admin dir, and that admin dir's HEAD
 * is the task's branch.  An agent that removed .git, replaced it or
 * switched branches fails its task here, before git runs.
 */
static int
tk_check(struct wt *w, size_t i, char *err, size_t errlen)
{
	struct wtask *t = &w->t[i];
	char *p, *data = NULL, *head = NULL, *want;
	struct stat st;
	size_t len;
	int rc = DROVE_EIO;

	p = xasprintf("%s/.git", t->path);
	if (t->gitdir == NULL || t->dotgit == NULL)
		errf(err, errlen, "worktree '%s' was not made by drove",
		    t->path);
	else if (lstat(p, &st) < 0)
		errf(err, errlen, "worktree '%s' is no longer the one drove "
		    "made: its .git is gone (%s); nothing was committed, "
		    "the repository is untouched", t->path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || read_file(p, &data, &len) < 0 ||
	    strlen(data) != len || strcmp(data, t->dotgit) != 0)
		errf(err, errlen, "worktree '%s' is no longer the one drove "
		    "made: its .git was replaced; nothing was committed, the "
		    "repository is untouched", t->path);
	else
		rc = 0;
	free(p);
	free(data);
	if (rc < 0)
		return rc;
	p = xasprintf("%s/HEAD", t->gitdir);
	want = xasprintf("ref: refs/heads/%s", t->branch);
	if (read_file(p, &head, &len) < 0 || strcmp(strtrim(head), want) != 0) {
		errf(err, errlen, "worktree '%s' is no longer on its branch "
		    "'%s'; nothing was committed, the repository is untouched",
		    t->path, t->branch);
		rc = DROVE_EIO;
	}
	free(head);
	free(want);
	free(p);
	return rc;
}

/* Starts git in task i's worktree for op, after tk_check, with its git
 * dir named; a failed check ends the command at once with code -1. */
static void
tk_git(struct wtop *op, const char *const *args)
{
	struct wt *w = op->w;
	struct wtask *t = &w->t[op->task];

	if (tk_check(w, op->task, op->err, sizeof(op->err)) < 0) {
		buf_reset(&op->out);
		op->code = -1;
		op->fn(op);
		return;
	}
	wt_op_git(op, t->path, t->gitdir, args);
}

/* Ends a chain whose git command failed: cancelled stays cancelled,
 * anything else is an I/O failure with git's reason, or a plain one. */
static void
tk_git_failed(struct wtop *op)
{
	if (op->err[0] == '\0')
		errf(op->err, sizeof(op->err), "git failed");
	wt_op_end(op, op->code == DROVE_ECANCELED ? DROVE_ECANCELED :
	    DROVE_EIO);
}

/*
 * Takes task i's worktree as drove's, after git made it (or an interrupted
 * run left it): it must be a linked worktree of this repository
 * (git_worktree_admin) on the task's branch.  Records its admin dir and
 * its .git file for tk_check.
 */
static int
tk_adopt(struct wt *w, size_t i, char *err, size_t errlen)
{
	struct wtask *t = &w->t[i];

	free(t->gitdir);
	free(t->dotgit);
	t->dotgit = NULL;
	t->gitdir = git_worktree_admin(w->common, t->path, &t->dotgit);
	if (t->gitdir == NULL) {
		errf(err, errlen, "'%s' is not the git worktree drove made for "
		    "task '%s'; move it away", t->path, tname(w, i));
		return DROVE_EIO;
	}
	return tk_check(w, i, err, errlen);
}

/* Branches of the nearest worktree tasks task depends on, through tasks
 * without a worktree, each once, in topological order. */
static char **
dep_branches(struct wt *w, size_t task)
{
	const struct graph *g = w->g;
	unsigned char *seen = xcalloc(g->n + 1, 1);
	size_t *stack = xcalloc(g->n + 1, sizeof(*stack)), sp = 0, k = 0;
	char **v = xcalloc(g->n + 1, sizeof(*v));

	stack[sp++] = task;
	while (sp > 0) {
		const struct task *t = &g->tasks[stack[--sp]];

		for (size_t e = 0; e < t->ndeps; e++) {
			size_t d = t->deps[e].task;

			if (seen[d])
				continue;
			seen[d] = 2;
			if (!w->t[d].on)
				stack[sp++] = d;
		}
	}
	for (size_t i = 0; i < g->n; i++) {
		size_t d = g->topo[i];

		if (seen[d] && w->t[d].on)
			v[k++] = xstrdup(w->t[d].branch);
	}
	free(seen);
	free(stack);
	return v;
}

/* Copies the task's worktree_copy files in; with missing_only, keeps
 * those already there (an interrupted run's agent may have changed
 * them). */
static int
copy_in(struct wt *w, size_t i, int missing_only, char *err, size_t errlen)
{
	struct wtask *t = &w->t[i];

	for (size_t k = 0; t->copy != NULL && t->copy[k] != NULL; k++) {
		char *dst = xasprintf("%s/%s", t->workdir, t->copy[k]);
		char *rel = xasprintf("%s%s", w->prefix, t->copy[k]);
		int rc = 0;

		/* below the worktree, never through a link an agent planted
		 * (a killed run's agent had the worktree) */
		if (!(missing_only && fs_exists(dst)))
			rc = fs_copy_into(t->copy[k], t->path, rel);
		free(dst);
		free(rel);
		if (rc == -ELOOP)
			errf(err, errlen, "worktree_copy: '%s' in the worktree "
			    "is a symbolic link or lies under one; drove does "
			    "not write through it", t->copy[k]);
		else if (rc == -EMLINK)
			errf(err, errlen, "worktree_copy: '%s' in the worktree "
			    "has other hard links; drove does not write into "
			    "it", t->copy[k]);
		else if (rc == -EEXIST)
			errf(err, errlen, "worktree_copy: '%s' in the worktree "
			    "is not a regular file", t->copy[k]);
		else if (rc < 0)
			errf(err, errlen, "worktree_copy: cannot copy '%s': %s",
			    t->copy[k], strerror(-rc));
		if (rc < 0)
			return DROVE_EIO;
	}
	return 0;
}

/*
 * The agent's working directory, by one rule: where drove was started,
 * relative to the repository's top, in the task's worktree when that
 * directory is there (git made it, holding tracked files, or worktree_copy
 * did), else the worktree's root, which the run then says.  workdir is
 * path plus the prefix: falling back cuts it at path, in place, so
 * pointers to it stay good.
 */
static void
tk_workdir(struct wt *w, size_t i)
{
	struct wtask *t = &w->t[i];
	struct stat st;

	if (*w->prefix == '\0' || (lstat(t->workdir, &st) == 0 &&
	    S_ISDIR(st.st_mode)))
		return;
	t->workdir[strlen(t->path)] = '\0';
	log_info("task '%s': '%s' is not in its worktree (git tracks "
	    "nothing there); its agent runs at the worktree's root, %s",
	    tname(w, i), w->prefix, t->workdir);
}

static void
jlog_worktree(struct wt *w, size_t i)
{
	struct wtask *t = &w->t[i];
	json_t *ev = json_object(), *copied = json_array();

	for (size_t k = 0; t->copy != NULL && t->copy[k] != NULL; k++)
		json_array_append_new(copied, json_sprintf("%s%s", w->prefix,
		    t->copy[k]));
	json_object_set_new(ev, "ev", json_string("worktree"));
	json_object_set_new(ev, "task", json_string(tname(w, i)));
	json_object_set_new(ev, "branch", json_string(t->branch));
	json_object_set_new(ev, "worktree", json_string(t->path));
	json_object_set_new(ev, "start", t->start ? json_string(t->start) :
	    json_null());
	json_object_set_new(ev, "copied", copied);
	wt_record(w, ev);
	wt_jlog(w, ev);
}

/* The steps of wt_prepare (see struct wtop). */
enum {
	P_BRANCH,	/* does the task's branch exist? */
	P_HAVE,		/* ...answered */
	P_READD,	/* an interrupted run's worktree, its dir gone */
	P_READDED,
	P_REUSE,	/* an interrupted run's worktree: keep all it holds */
	P_OWN,		/* a branch never journaled: commits of its own? */
	P_DROPDIR,	/* ...none: remove its worktree */
	P_PRUNE,
	P_DROPBR,
	P_ADD,		/* git worktree add -b */
	P_ADDED,
	P_MERGE,	/* merge the other dependencies' branches */
	P_MERGED,
	P_CONFLICTS,
	P_ABORTED,
	P_HEAD,
	P_START,
	P_FAIL,		/* op->code < 0 or err set: end with DROVE_EIO */
};

static void
prepare_step(struct wtop *op)
{
	struct wt *w = op->w;
	size_t i = op->task;
	struct wtask *t = &w->t[i];
	const char *args[64];
	size_t n = 0;
	char *s, **files;
	int rc;

	for (;;) {
		switch (op->step) {
		case P_BRANCH:
			s = xasprintf("refs/heads/%s", t->branch);
			op->step = P_HAVE;
			wt_op_git(op, w->top, NULL, GIT_ARGS("rev-parse",
			    "--verify", "-q", s));
			free(s);
			return;
		case P_HAVE:
			op->have_branch = op->code == 0;
			if (op->have_branch && t->start != NULL)
				op->step = fs_exists(t->path) ? P_REUSE :
				    P_READD;
			else if (op->have_branch)
				op->step = P_OWN;
			else if (fs_exists(t->path) && rmdir(t->path) < 0) {
				errf(op->err, sizeof(op->err), "'%s' already "
				    "exists; move it away", t->path);
				op->step = P_FAIL;
			} else
				op->step = P_ADD;
			continue;
		case P_READD:
			op->step = P_READDED;
			wt_op_git(op, w->top, NULL, GIT_ARGS("worktree",
			    "prune"));
			return;
		case P_READDED:
			if (op->k++ == 0) {
				wt_op_git(op, w->top, NULL, GIT_ARGS("worktree",
				    "add", "-q", t->path, t->branch));
				return;
			}
			op->step = op->code == 0 ? P_REUSE : P_FAIL;
			continue;
		case P_REUSE:
			if (tk_adopt(w, i, op->err, sizeof(op->err)) < 0) {
				op->step = P_FAIL;
				continue;
			}
			log_info("task '%s': reusing its worktree %s",
			    tname(w, i), t->path);
			rc = copy_in(w, i, 1, op->err, sizeof(op->err));
			tk_workdir(w, i);
			wt_op_end(op, rc);
			return;
		case P_OWN:
			/* a worktree whose creation was not journaled: the
			 * agent never ran in it; it goes when its branch holds
			 * nothing but merges of what it was made from */
			args[n++] = "rev-list";
			args[n++] = "--no-merges";
			args[n++] = t->branch;
			args[n++] = "--not";
			args[n++] = w->base;
			for (size_t k = 0; op->bases[k] != NULL &&
			    n < ARRAY_SIZE(args) - 2; k++)
				args[n++] = op->bases[k];
			args[n++] = "--";
			args[n] = NULL;
			op->step = P_DROPDIR;
			wt_op_git(op, w->top, NULL, args);
			return;
		case P_DROPDIR:
			if (op->code != 0) {
				op->step = P_FAIL;
				continue;
			}
			if (op->out.len > 0) {
				errf(op->err, sizeof(op->err), "branch '%s' "
				    "already exists and has commits of its "
				    "own; it was kept (see 'drove clean')",
				    t->branch);
				wt_op_end(op, DROVE_ECONFLICT);
				return;
			}
			op->step = P_PRUNE;
			if (fs_exists(t->path)) {
				wt_op_git(op, w->top, NULL, GIT_ARGS("worktree",
				    "remove", "--force", t->path));
				return;
			}
			op->code = 0;
			continue;
		case P_PRUNE:
			if (op->code != 0) {
				op->step = P_FAIL;
				continue;
			}
			op->step = P_DROPBR;
			wt_op_git(op, w->top, NULL, GIT_ARGS("worktree",
			    "prune"));
			return;
		case P_DROPBR:
			if (op->k++ == 0) {
				wt_op_git(op, w->top, NULL, GIT_ARGS("branch",
				    "-D", "-q", t->branch));
				return;
			}
			op->step = op->code == 0 ? P_ADD : P_FAIL;
			continue;
		case P_ADD:
			op->step = P_ADDED;
			wt_op_git(op, w->top, NULL, GIT_ARGS("worktree", "add",
			    "-q", "-b", t->branch, t->path, op->bases[0] ?
			    op->bases[0] : w->base));
			return;
		case P_ADDED:
			if (op->code != 0) {
				op->step = P_FAIL;
				continue;
			}
			/* journaled at once, so clean finds it whatever
			 * happens next; the start commit follows when the
			 * agent may start */
			free(t->start);
			t->start = NULL;
			jlog_worktree(w, i);
			if (tk_adopt(w, i, op->err, sizeof(op->err)) < 0) {
				op->step = P_FAIL;
				continue;
			}
			op->k = 1;
			op->step = P_MERGE;
			continue;
		case P_MERGE:
			if (op->bases[0] == NULL || op->bases[op->k] == NULL) {
				op->step = P_HEAD;
				continue;
			}
			op->step = P_MERGED;
			tk_git(op, GIT_ARGS("merge", "-q", "--no-edit",
			    "--no-verify", op->bases[op->k]));
			return;
		case P_MERGED:
			if (op->code == 0) {
				op->k++;
				op->step = P_MERGE;
				continue;
			}
			if (op->code < 0) {
				op->step = P_FAIL;
				continue;
			}
			op->step = P_CONFLICTS;
			tk_git(op, GIT_ARGS("diff", "--name-only", "-z",
			    "--diff-filter=U"));
			return;
		case P_CONFLICTS:
			files = op->code == 0 ? wt_op_list(op) : NULL;
			if (files != NULL && files[0] != NULL) {
				s = wt_strv_join(files, ", ");
				errf(op->err, sizeof(op->err), "the branches "
				    "of its dependencies conflict: merging "
				    "'%s' into '%s' conflicts in %s",
				    op->bases[op->k], op->bases[0], s);
				free(s);
			}
			strv_free(files);
			op->step = P_ABORTED;
			tk_git(op, GIT_ARGS("merge", "--abort"));
			return;
		case P_ABORTED:
			wt_op_end(op, DROVE_ECONFLICT);
			return;
		case P_HEAD:
			op->step = P_START;
			tk_git(op, GIT_ARGS("rev-parse", "HEAD"));
			return;
		case P_START:
			if (op->code != 0) {
				op->step = P_FAIL;
				continue;
			}
			t->start = wt_op_str(op);
			rc = copy_in(w, i, 0, op->err, sizeof(op->err));
			tk_workdir(w, i);
			if (rc == 0)
				jlog_worktree(w, i);
			wt_op_end(op, rc);
			return;
		default:
			tk_git_failed(op);
			return;
		}
	}
}

int
wt_prepare(struct wt *w, size_t i, wt_done_fn done, void *arg)
{
	struct wtask *t;

	if (w == NULL || !w->t[i].on)
		return 0;
	t = &w->t[i];
	t->finished = 0;
	free(t->commit);
	t->commit = NULL;
	strv_free(t->changed);
	t->changed = NULL;
	strv_free(t->op.bases);
	t->op.bases = dep_branches(w, i);
	wt_op_begin(&t->op, w, i, prepare_step, done, arg);
	return 1;
}

/* "<task>: <first line of the prompt>", the line cut at 72 bytes. */
static char *
commit_message(struct wt *w, size_t i)
{
	const char *p = w->g->tasks[i].prompt ? w->g->tasks[i].prompt : "";
	size_t n;

	while (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r')
		p++;
	n = strcspn(p, "\r\n");
	if (n > 72)
		n = 72;
	return xasprintf("%s: %.*s", tname(w, i), (int)n, p);
}

/* The steps of wt_finish. */
enum {
	F_ADD,		/* git add -A */
	F_UNCOPY,	/* copied-in files stay out of the commit */
	F_HEAD,
	F_SOFT,		/* one commit per task, even when the agent
			 * committed itself */
	F_DIFF,
	F_CHANGED,
	F_COMMITTED,
	F_COMMIT_ID,
	F_FILES,
	F_DONE,
	F_FAIL,
};

static void
finish_step(struct wtop *op)
{
	struct wt *w = op->w;
	size_t i = op->task;
	struct wtask *t = &w->t[i];
	char *s;
	json_t *ev;

	for (;;) {
		switch (op->step) {
		case F_ADD:
			op->step = F_UNCOPY;
			tk_git(op, GIT_ARGS("add", "-A"));
			return;
		case F_UNCOPY:
			if (op->k == 0 && op->code != 0) {
				op->step = F_FAIL;
				continue;
			}
			if (t->copy == NULL || t->copy[op->k] == NULL) {
				op->step = F_HEAD;
				continue;
			}
			s = xasprintf("%s%s", w->prefix, t->copy[op->k++]);
			tk_git(op, GIT_ARGS("reset", "-q", t->start, "--", s));
			free(s);
			return;
		case F_HEAD:
			op->step = F_SOFT;
			tk_git(op, GIT_ARGS("rev-parse", "HEAD"));
			return;
		case F_SOFT:
			if (op->code != 0) {
				op->step = F_FAIL;
				continue;
			}
			s = wt_op_str(op);
			op->step = F_DIFF;
			if (strcmp(s, t->start) != 0) {
				free(s);
				tk_git(op, GIT_ARGS("reset", "-q", "--soft",
				    t->start));
				return;
			}
			free(s);
			continue;
		case F_DIFF:
			if (op->code != 0) {
				op->step = F_FAIL;
				continue;
			}
			op->step = F_CHANGED;
			tk_git(op, GIT_ARGS("diff", "--cached", "--quiet"));
			return;
		case F_CHANGED:
			if (op->code != 0 && op->code != 1) {
				op->step = F_FAIL;
				continue;
			}
			free(t->commit);
			t->commit = NULL;
			strv_free(t->changed);
			t->changed = NULL;
			if (op->code == 0) {
				log_info("task '%s': no changes in its "
				    "worktree", tname(w, i));
				op->step = F_DONE;
				continue;
			}
			s = commit_message(w, i);
			op->step = F_COMMITTED;
			tk_git(op, GIT_ARGS("commit", "-q", "--no-verify",
			    "-m", s));
			free(s);
			return;
		case F_COMMITTED:
			if (op->code != 0) {
				op->step = F_FAIL;
				continue;
			}
			op->step = F_COMMIT_ID;
			tk_git(op, GIT_ARGS("rev-parse", "HEAD"));
			return;
		case F_COMMIT_ID:
			if (op->code != 0) {
				op->step = F_FAIL;
				continue;
			}
			t->commit = wt_op_str(op);
			op->step = F_FILES;
			tk_git(op, GIT_ARGS("diff", "--name-only", "-z",
			    t->start, t->commit));
			return;
		case F_FILES:
			if (op->code == 0)
				t->changed = wt_op_list(op);
			op->step = F_DONE;
			continue;
		case F_DONE:
			if (t->changed == NULL)
				t->changed = xcalloc(1, sizeof(*t->changed));
			t->finished = 1;
			t->merged = 0;
			ev = json_object();
			json_object_set_new(ev, "ev", json_string("commit"));
			json_object_set_new(ev, "task",
			    json_string(tname(w, i)));
			json_object_set_new(ev, "branch",
			    json_string(t->branch));
			json_object_set_new(ev, "commit", t->commit ?
			    json_string(t->commit) : json_null());
			json_object_set_new(ev, "changed_files",
			    wt_json_strv(t->changed));
			wt_jlog(w, ev);
			op->err[0] = '\0';
			wt_op_end(op, 0);
			return;
		default:
			tk_git_failed(op);
			return;
		}
	}
}

int
wt_finish(struct wt *w, size_t i, wt_done_fn done, void *arg)
{
	if (w == NULL || !w->t[i].on)
		return 0;
	wt_op_begin(&w->t[i].op, w, i, finish_step, done, arg);
	return 1;
}
