/*
 * The merge phase of worktree isolation: after the parallel phase, reports
 * overlapping changes and writes violations, then merges the tasks'
 * branches one at a time, in dependency order, into the target; with a
 * check (wtcheck.c), each merge the check fails is undone, and the whole
 * result is checked once more at the end.  See worktree.h.
 */
#include "worktree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "git.h"
#include "loop.h"
#include "util.h"
#include "wtint.h"

/* path with glob characters escaped, below the prefix; NULL if outside. */
static char *
glob_literal(struct wt *w, const char *path)
{
	size_t pl = strlen(w->prefix);
	struct buf b = BUF_INIT;

	if (strncmp(path, w->prefix, pl) != 0)
		return NULL;
	for (const char *p = path + pl; *p; p++) {
		if (strchr("*?[\\", *p))
			buf_addc(&b, '\\');
		buf_addc(&b, *p);
	}
	return buf_detach(&b, NULL);
}

/* Reports the files both a and b changed. */
static void
overlap(struct wt *w, size_t a, size_t b, int quiet)
{
	char **ca = w->t[a].changed, **cb = w->t[b].changed;
	char **both = xcalloc(strv_len(ca) + 1, sizeof(*both));
	json_t *o, *tk;
	char *list;
	size_t n = 0;

	for (size_t k = 0; ca[k] != NULL; k++)
		if (wt_strv_has(cb, ca[k]))
			both[n++] = ca[k];
	if (n == 0) {
		free(both);
		return;
	}
	o = json_object();
	tk = json_array();
	json_array_append_new(tk, json_string(tname(w, a)));
	json_array_append_new(tk, json_string(tname(w, b)));
	json_object_set_new(o, "tasks", tk);
	json_object_set_new(o, "files", wt_json_strv(both));
	json_array_append_new(w->overlaps, o);
	list = wt_strv_join(both, ", ");
	if (!quiet)
		log_warnx("overlap: tasks '%s' and '%s' both changed %s",
		    tname(w, a), tname(w, b), list);
	free(list);
	free(both);
}

/* Reports a's change of file when another task declared it in writes. */
static void
violation(struct wt *w, size_t a, const char *file, int quiet)
{
	const struct graph *g = w->g;
	char *lit = glob_literal(w, file);

	for (size_t b = 0; lit != NULL && b < g->n; b++) {
		const struct task *gb = &g->tasks[b];
		json_t *o;
		size_t x;

		if (b == a)
			continue;
		for (x = 0; x < gb->nwrites; x++)
			if (glob_overlap(lit, gb->writes[x]))
				break;
		if (x == gb->nwrites)
			continue;
		o = json_object();
		json_object_set_new(o, "task", json_string(tname(w, a)));
		json_object_set_new(o, "file", json_texts(file));
		json_object_set_new(o, "owner", json_string(gb->name));
		json_object_set_new(o, "writes", json_string(gb->writes[x]));
		json_array_append_new(w->violations, o);
		if (!quiet)
			log_warnx("violation: task '%s' changed '%s', which "
			    "task '%s' declared in writes (%s)", tname(w, a),
			    file, gb->name, gb->writes[x]);
	}
	free(lit);
}

/* Overlaps between tasks that do not depend on each other, and writes
 * violations, among the tasks that succeeded. */
static void
find_overlaps(struct wt *w, const unsigned char *ok, int quiet)
{
	const struct graph *g = w->g;

	for (size_t a = 0; a < g->n; a++) {
		unsigned char *up, *down;

		if (!w->t[a].on || !ok[a] || w->t[a].changed == NULL)
			continue;
		/* two searches per task, not two per pair */
		up = graph_reach_set(g, a, 1);
		down = graph_reach_set(g, a, 0);
		for (size_t b = a + 1; b < g->n; b++)
			if (w->t[b].on && ok[b] && w->t[b].changed != NULL &&
			    !up[b] && !down[b])
				overlap(w, a, b, quiet);
		free(up);
		free(down);
		for (size_t k = 0; w->t[a].changed[k] != NULL; k++)
			violation(w, a, w->t[a].changed[k], quiet);
	}
}

/* Journals the end of task i's merge. */
static void
jlog_merge(struct wt *w, size_t i)
{
	struct wtask *t = &w->t[i];
	json_t *ev = json_object();
	const char *by;

	json_object_set_new(ev, "ev", json_string("merge"));
	json_object_set_new(ev, "event", json_string("merge_done"));
	json_object_set_new(ev, "task", json_string(tname(w, i)));
	json_object_set_new(ev, "into", json_string(w->into));
	json_object_set_new(ev, "merged", json_boolean(t->merged));
	json_object_set_new(ev, "status", json_string(wt_merge_status(w, i,
	    NULL, &by)));
	if (by != NULL)
		json_object_set_new(ev, "blocked_by", json_string(by));
	if (t->check_output)
		json_object_set_new(ev, "check_output",
		    json_texts(t->check_output));
	if (t->conflict)
		json_object_set_new(ev, "conflict",
		    wt_json_strv(t->conflict));
	if (t->merge_error)
		json_object_set_new(ev, "error", json_texts(t->merge_error));
	wt_jlog(w, ev);
}

/* The check's output excerpt x on stderr, indented. */
static void
log_excerpt(const char *x)
{
	const char *p = x, *nl;

	while (p != NULL && *p) {
		nl = strchr(p, '\n');
		log_warnx("      %.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
		p = nl ? nl + 1 : NULL;
	}
}

static int
tried_unmerged(const void *arg, size_t k)
{
	const struct wt *w = arg;

	return w->t[k].merge_tried && !w->t[k].merged;
}

/* A task task i depends on whose branch was tried and not merged: its
 * branch holds that one's commits, which the target must not get. */
static const char *
blocked(const struct wt *w, size_t i)
{
	size_t k = graph_first_dep(w->g, i, tried_unmerged, w);

	return k < w->g->n ? tname(w, k) : NULL;
}

/* Keeps what the check that just ended said: its reason, then the end of
 * its output. */
static char *
check_excerpt(struct wtop *op)
{
	const char *out = buf_str(&op->out);

	return *out ? xasprintf("%s\n%s", op->err, out) : xstrdup(op->err);
}

/* Journals that task i's branch is about to be merged onto pre, so that a
 * resume can still check (and undo) a merge whose check never ended. */
static void
jlog_merge_start(struct wt *w, size_t i, const char *pre)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("merge_start"));
	json_object_set_new(ev, "task", json_string(tname(w, i)));
	json_object_set_new(ev, "into", json_string(w->into));
	json_object_set_new(ev, "pre", json_string(pre));
	wt_jlog(w, ev);
}

/* True when "H P1 P2" (git show --format='%H %P' of the target's HEAD)
 * is the merge of commit onto pre and nothing since: a fast-forward to
 * commit, or a merge commit of the two. */
static int
merge_on_top(const char *hp, const char *pre, const char *commit)
{
	char **v = NULL;
	size_t n = strv_split(hp, ' ', &v);
	int yes = (n >= 1 && strcmp(v[0], commit) == 0) || (n == 3 &&
	    strcmp(v[1], pre) == 0 && strcmp(v[2], commit) == 0);

	strv_free(v);
	return yes;
}

/* Journals a check's end: task NULL for the final one. */
static void
jlog_check(struct wt *w, const char *task, struct wtop *op)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("check"));
	json_object_set_new(ev, "event", json_string("check_done"));
	json_object_set_new(ev, "task", task ? json_string(task) :
	    json_null());
	json_object_set_new(ev, "final", json_boolean(task == NULL));
	json_object_set_new(ev, "into", json_string(w->into));
	json_object_set_new(ev, "passed", json_boolean(op->code == 0));
	if (op->code != 0) {
		char *x = check_excerpt(op);

		json_object_set_new(ev, "output", json_texts(x));
		free(x);
	}
	wt_jlog(w, ev);
}

/* Says how task i's merge went, and counts a failure. */
static void
report_one(struct wt *w, size_t i)
{
	struct wtask *t = &w->t[i];
	char *list;

	if (t->merged) {
		if (!w->quiet)
			log_info("  merged    %-20s %s (%zu file%s)",
			    tname(w, i), t->branch, strv_len(t->changed),
			    strv_len(t->changed) == 1 ? "" : "s");
		return;
	}
	w->failed++;
	if (w->quiet)
		return;
	if (t->conflict) {
		list = wt_strv_join(t->conflict, ", ");
		log_warnx("  CONFLICT  %-20s %s in %s; merge aborted, "
		    "branch kept", tname(w, i), t->branch, list);
		free(list);
	} else if (t->check_failed) {
		log_warnx("  CHECK     %-20s %s: the check failed; merge "
		    "undone, branch kept", tname(w, i), t->branch);
	} else if (t->blocked_by) {
		log_warnx("  BLOCKED   %-20s %s: depends on '%s', which was "
		    "not merged; branch kept", tname(w, i), t->branch,
		    t->blocked_by);
	} else {
		log_warnx("  FAILED    %-20s %s: %s; branch kept",
		    tname(w, i), t->branch, t->merge_error);
	}
}

/* The branches of tasks whose merge ended as status (wt_merge_status),
 * joined with ", "; NULL for none. */
static char *
branches(const struct wt *w, const char *status, size_t *n)
{
	struct buf b = BUF_INIT;
	const char *by;

	*n = 0;
	for (size_t i = 0; i < w->g->n; i++) {
		const char *st = w->t[i].merge_tried ? wt_merge_status(w, i,
		    NULL, &by) : NULL;

		if (st == NULL || strcmp(st, status) != 0)
			continue;
		buf_printf(&b, "%s%s", (*n)++ ? ", " : "", w->t[i].branch);
	}
	return buf_detach(&b, NULL);
}

/* What to do about the branches not merged, by why: a conflict is
 * resolved by hand, a failed check is shown with its output and how to
 * run it again, a branch held back by its dependency waits for it. */
static void
advise(struct wt *w)
{
	const char *by, *cmd;
	char *list;
	size_t n;

	if ((list = branches(w, "conflict", &n)) != NULL && n > 0)
		log_warnx("%zu branch%s not merged into '%s' (conflict): "
		    "resolve with 'git merge BRANCH' there: %s", n,
		    n == 1 ? "" : "es", w->into, list);
	free(list);
	for (size_t i = 0; i < w->g->n; i++) {
		const struct wtask *t = &w->t[i];

		if (!t->check_failed)
			continue;
		if ((cmd = conf_get(w->g->tasks[i].sec, "check")) == NULL)
			cmd = w->d ? conf_get(w->d, "check") : NULL;
		log_warnx("branch %s failed the check; its merge into '%s' "
		    "was undone:", t->branch, w->into);
		log_excerpt(t->check_output);
		log_warnx("  to rerun it: git merge %s (on '%s'), then, "
		    "where drove ran: DROVE_TASK=%s %s", t->branch, w->into,
		    tname(w, i), cmd ? cmd : "CHECK");
	}
	for (size_t i = 0; i < w->g->n; i++)
		if (w->t[i].merge_tried && strcmp(wt_merge_status(w, i, NULL,
		    &by), "dependency_failed") == 0)
			log_warnx("branch %s not merged: it holds the branch "
			    "of '%s', which was not merged; merge it after "
			    "that one", w->t[i].branch, by);
	if ((list = branches(w, "failed", &n)) != NULL && n > 0)
		log_warnx("%zu branch%s not merged into '%s' (see above): "
		    "merge with 'git merge BRANCH' there: %s", n,
		    n == 1 ? "" : "es", w->into, list);
	free(list);
}

/* Refuses the whole merge phase: nothing is merged, every branch kept. */
static void
refuse(struct wt *w, char *why)
{
	free(w->refused);
	w->refused = why;
	if (!w->quiet)
		log_warnx("merge phase refused: %s; the branches are "
		    "kept: merge them with 'git merge BRANCH'", w->refused);
	for (size_t i = 0; i < w->g->n; i++)
		w->failed += w->t[i].on && w->ok[i] && w->t[i].commit &&
		    !w->t[i].merged;
}

/* A task whose branch the phase merges. */
static int
mergeable(const struct wt *w, size_t i)
{
	const struct wtask *t = &w->t[i];

	return t->on && w->ok[i] && t->finished && t->commit != NULL;
}

/* The steps of the merge phase (see struct wtop). */
enum {
	M_TREE,		/* the target's tree: where it is, or a new one */
	M_TREE_MADE,
	M_HEAD,		/* is it still on the target branch? */
	M_CLEAN,	/* ...and clean? */
	M_START,
	M_NEXT,		/* the next branch, in dependency order */
	M_TIP,		/* does it still point at the task's commit? */
	M_ANCESTOR,	/* already merged? */
	M_RESUMED,	/* ...by a drove that stopped before its check? */
	M_PRE,		/* where the target was, to undo the merge */
	M_MERGED,
	M_RECHECK,	/* a killed merge: made after all? */
	M_CHECK,	/* the merged tree checked */
	M_SNAP,		/* ...once the untracked files are listed */
	M_CHECKED,
	M_UNDO,		/* after a check: the tree reset, the merge undone
			 * if the check failed */
	M_UNDO_RESET,
	M_UNDONE,
	M_SWEEP,	/* ...and the untracked files it made removed */
	M_SWEPT,
	M_MERGE_HEAD,	/* a conflict, or another failure? */
	M_CONFLICTS,
	M_ABORTED,
	M_DIRTY,	/* the tree was clean before: leave it so */
	M_RESET,
	M_ONE_DONE,
	M_FINAL,	/* the whole result checked once more */
	M_FINAL_DONE,
	M_REMOVE,	/* the temporary tree goes */
	M_END,
};

/* --- the target's tree around a check ----------------------------------- */

/* Lists the files in the target's tree that git neither tracks nor
 * ignores: what a merge would refuse to overwrite. */
static void
list_untracked(struct wtop *op)
{
	wt_op_git(op, op->dir, NULL, GIT_ARGS("ls-files", "-z", "--others",
	    "--exclude-standard"));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the list list_untracked made, sorted, as what was there before
 * the check; none when git failed, so that nothing is removed after. */
static void
keep_before(struct wtop *op)
{
	strv_free(op->before);
	op->before = op->code == 0 ? wt_op_list(op) : NULL;
	if (op->before != NULL)
		qsort(op->before, strv_len(op->before), sizeof(*op->before),
		    cmp_str);
}

/* Removes the untracked files the check made: in list_untracked's list
 * now, not in the one before.  Files only: a directory that holds them
 * may have been there before; one git lists whole (a repository of its
 * own) stays too. */
static void
sweep(struct wtop *op)
{
	char **now = op->code == 0 ? wt_op_list(op) : NULL;
	size_t nb = strv_len(op->before), n = 0;

	for (size_t k = 0; now != NULL && now[k] != NULL; k++) {
		char *p, *key = now[k];
		size_t len = strlen(key);

		if (len == 0 || key[len - 1] == '/' || bsearch(&key,
		    op->before, nb, sizeof(*op->before), cmp_str) != NULL)
			continue;
		p = xasprintf("%s/%s", op->dir, key);
		if (unlink(p) == 0)
			n++;
		else if (errno != ENOENT)
			log_warn("cannot remove '%s', which the check made", p);
		free(p);
	}
	if (n > 0)
		log_debug("removed %zu untracked file%s the check made in '%s'",
		    n, n == 1 ? "" : "s", op->dir);
	strv_free(now);
}

/* Task i's merge is undone: drove was interrupted before its check. */
static void
interrupted(struct wtop *op, struct wtask *t)
{
	t->merged = 0;
	t->merge_error = xstrdup("interrupted before its check; merge "
	    "undone");
	op->undo = 1;
	op->step = M_UNDO;
}

static void
merge_step(struct wtop *op)
{
	struct wt *w = op->w;
	size_t i = op->task;
	struct wtask *t = &w->t[i];
	char *s, **v;

	for (;;) {
		/* Ctrl-C killed the git command running: what follows only
		 * restores the tree, so git may run again for that */
		if (w->cancelled) {
			w->cancelled = 0;
			op->stop = 1;
		}
		switch (op->step) {
		case M_TREE:
			if (w->target_dir != NULL) {
				op->dir = xstrdup(w->target_dir);
				op->step = M_HEAD;
				continue;
			}
			op->tmp = xasprintf("%s/merge-tree", w->dir);
			op->step = M_TREE_MADE;
			wt_op_git(op, w->top, NULL, GIT_ARGS("worktree", "add",
			    "-q", op->tmp, w->into));
			return;
		case M_TREE_MADE:
			if (op->code != 0) {
				refuse(w, xasprintf("cannot check out '%s': "
				    "%s", w->into, op->err));
				/* whatever is there, drove did not make it */
				free(op->tmp);
				op->tmp = NULL;
				op->step = M_REMOVE;
				continue;
			}
			op->dir = xstrdup(op->tmp);
			op->step = M_HEAD;
			continue;
		case M_HEAD:
			op->step = M_CLEAN;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("symbolic-ref",
			    "--short", "-q", "HEAD"));
			return;
		case M_CLEAN:
			s = op->code == 0 ? wt_op_str(op) : NULL;
			if (s == NULL || strcmp(s, w->into) != 0) {
				/* someone checked out another branch there
				 * meanwhile */
				refuse(w, op->code < 0 ? xstrdup(op->err) :
				    xasprintf("'%s' is no longer on '%s'",
				    op->dir, w->into));
				free(s);
				op->step = M_REMOVE;
				continue;
			}
			free(s);
			op->step = M_START;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("status",
			    "--porcelain", "-z", "--untracked-files=no"));
			return;
		case M_START:
			v = op->code == 0 ? wt_op_list(op) : NULL;
			s = v != NULL ? wt_dirty_join(v) : NULL;
			strv_free(v);
			if (op->code != 0 || s != NULL) {
				refuse(w, op->code != 0 ? xstrdup(op->err) :
				    xasprintf("'%s' has uncommitted changes "
				    "(%s)", op->dir, s));
				free(s);
				op->step = M_REMOVE;
				continue;
			}
			if (!w->quiet) {
				size_t n = 0;

				for (size_t k = 0; k < w->g->n; k++)
					n += mergeable(w, k);
				log_info("merging %zu branch%s into '%s'", n,
				    n == 1 ? "" : "es", w->into);
			}
			op->k = 0;
			op->step = M_NEXT;
			continue;
		case M_NEXT:
			if (op->stop) {
				if (!w->quiet)
					log_warnx("merge phase interrupted: "
					    "the branches not merged are "
					    "kept");
				op->step = M_REMOVE;
				continue;
			}
			while (op->k < w->g->n &&
			    !mergeable(w, w->order[op->k]))
				op->k++;
			if (op->k == w->g->n) {
				op->step = M_FINAL;
				continue;
			}
			i = op->task = w->order[op->k++];
			t = &w->t[i];
			t->merge_tried = 1;
			if ((t->blocked_by = blocked(w, i)) != NULL) {
				op->step = M_ONE_DONE;
				continue;
			}
			s = xasprintf("refs/heads/%s", t->branch);
			op->step = M_TIP;
			wt_op_git(op, w->top, NULL, GIT_ARGS("rev-parse",
			    "--verify", "-q", s));
			free(s);
			return;
		case M_TIP:
			s = op->code == 0 ? wt_op_str(op) : NULL;
			if (op->code < 0) {
				t->merge_error = xstrdup(op->err);
				free(s);
				op->step = M_ONE_DONE;
				continue;
			}
			if (s == NULL || strcmp(s, t->commit) != 0) {
				/* only what drove committed for the task is
				 * merged */
				t->merge_error = xasprintf("branch '%s' no "
				    "longer points at the task's commit "
				    "%.12s", t->branch, t->commit);
				free(s);
				op->step = M_ONE_DONE;
				continue;
			}
			free(s);
			op->step = M_ANCESTOR;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("merge-base",
			    "--is-ancestor", t->branch, "HEAD"));
			return;
		case M_ANCESTOR:
			if (op->code == 0) {
				t->merged = 1;
				op->step = M_ONE_DONE;
				/* drove stopped while this merge was checked */
				if (t->resume_pre != NULL && !op->stop &&
				    wt_check_has(w, i)) {
					op->step = M_RESUMED;
					wt_op_git(op, op->dir, NULL, GIT_ARGS(
					    "show", "-s", "--format=%H %P",
					    "HEAD"));
					return;
				}
				continue;
			}
			if (op->code < 0 || op->stop) {
				t->merge_error = xstrdup(op->code < 0 ?
				    op->err : "interrupted");
				op->step = M_ONE_DONE;
				continue;
			}
			op->step = M_PRE;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("rev-parse",
			    "--verify", "-q", "HEAD^{commit}"));
			return;
		case M_RESUMED:
			s = op->code == 0 ? wt_op_str(op) : NULL;
			op->step = M_ONE_DONE;
			if (s != NULL && merge_on_top(s, t->resume_pre,
			    t->commit)) {
				free(op->pre);
				op->pre = xstrdup(t->resume_pre);
				op->step = M_CHECK;
			} else if (!w->quiet) {
				log_warnx("  task '%s': merged before drove "
				    "stopped, not checked: '%s' has moved on "
				    "since", tname(w, i), w->into);
			}
			free(s);
			continue;
		case M_PRE:
			free(op->pre);
			op->pre = op->code == 0 ? wt_op_str(op) : NULL;
			if (op->pre == NULL) {
				t->merge_error = xstrdup(op->err);
				op->step = M_ONE_DONE;
				continue;
			}
			if (wt_check_has(w, i))
				jlog_merge_start(w, i, op->pre);
			op->step = M_MERGED;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("merge", "-q",
			    "--no-edit", "--no-verify", t->branch));
			return;
		case M_MERGED:
			if (op->code == 0) {
				t->merged = 1;
				op->step = M_CHECK;
				continue;
			}
			t->merge_error = xstrdup(op->err);
			if (op->code < 0) {
				/* killed or timed out, maybe in a hook after
				 * the merge was made: look */
				op->step = M_RECHECK;
				wt_op_git(op, op->dir, NULL, GIT_ARGS(
				    "merge-base", "--is-ancestor", t->branch,
				    "HEAD"));
				return;
			}
			op->step = M_MERGE_HEAD;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("rev-parse", "-q",
			    "--verify", "MERGE_HEAD"));
			return;
		case M_RECHECK:
			if (op->code == 0) {
				t->merged = 1;
				free(t->merge_error);
				t->merge_error = NULL;
				op->step = M_CHECK;
				continue;
			}
			op->step = M_MERGE_HEAD;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("rev-parse", "-q",
			    "--verify", "MERGE_HEAD"));
			return;
		case M_MERGE_HEAD:
			if (op->code != 0) {
				op->step = M_DIRTY;
				continue;
			}
			op->step = M_CONFLICTS;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("diff",
			    "--name-only", "-z", "--diff-filter=U"));
			return;
		case M_CONFLICTS:
			free(t->merge_error);
			t->merge_error = NULL;
			t->conflict = op->code == 0 ? wt_op_list(op) :
			    xcalloc(1, sizeof(*t->conflict));
			op->step = M_ABORTED;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("merge",
			    "--abort"));
			return;
		case M_ABORTED:
			op->step = M_DIRTY;
			continue;
		case M_DIRTY:
			op->step = M_RESET;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("status",
			    "--porcelain", "-z", "--untracked-files=no"));
			return;
		case M_RESET:
			v = op->code == 0 ? wt_op_list(op) : NULL;
			s = v != NULL ? wt_dirty_join(v) : NULL;
			strv_free(v);
			op->step = M_ONE_DONE;
			if (s != NULL) {
				free(s);
				wt_op_git(op, op->dir, NULL, GIT_ARGS("reset",
				    "-q", "--hard", "HEAD"));
				return;
			}
			continue;
		case M_CHECK:
			if (!wt_check_has(w, i)) {
				w->merged_now++;
				op->step = M_ONE_DONE;
				continue;
			}
			/* interrupted before its check: not left unchecked */
			if (op->stop) {
				interrupted(op, t);
				continue;
			}
			op->final = 0;
			op->step = M_SNAP;
			list_untracked(op);
			return;
		case M_SNAP:
			keep_before(op);
			if (op->stop) {
				strv_free(op->before);
				op->before = NULL;
				if (op->final)
					op->step = M_REMOVE;
				else
					interrupted(op, t);
				continue;
			}
			op->step = op->final ? M_FINAL_DONE : M_CHECKED;
			if (wt_op_check(op, op->dir, op->final ? WT_FINAL :
			    i) == 0)
				return;
			continue;
		case M_CHECKED:
			jlog_check(w, tname(w, i), op);
			op->undo = op->code != 0;
			op->step = M_UNDO;
			if (op->code == 0) {
				w->merged_now++;
				continue;
			}
			t->merged = 0;
			if (op->code == DROVE_ECANCELED) {
				t->merge_error = xasprintf("%s; merge undone",
				    op->err);
			} else {
				t->check_failed = 1;
				t->check_output = check_excerpt(op);
			}
			continue;
		case M_UNDO:
			op->step = M_UNDO_RESET;
			wt_op_git(op, op->dir, NULL, GIT_ARGS("symbolic-ref",
			    "--short", "-q", "HEAD"));
			return;
		case M_UNDO_RESET:
			/* the reset moves the branch checked out there: only
			 * the target, never one the check switched to.  What
			 * the check changed in tracked files goes: it ran on
			 * drove's merge, and the next merge needs a clean
			 * tree */
			s = op->code == 0 ? wt_op_str(op) : NULL;
			op->step = M_UNDONE;
			if (s != NULL && strcmp(s, w->into) == 0) {
				free(s);
				wt_op_git(op, op->dir, NULL, GIT_ARGS("reset",
				    "-q", "--hard", op->undo ? op->pre :
				    "HEAD"));
				return;
			}
			free(s);
			if (op->code == 0) {
				op->code = 1;
				errf(op->err, sizeof(op->err), "'%s' is no "
				    "longer on '%s'", op->dir, w->into);
			}
			continue;
		case M_UNDONE:
			if (op->code != 0 && op->undo) {
				/* the target holds a merge that failed its
				 * check: merge nothing more on top of it */
				s = t->merge_error;
				t->merge_error = xasprintf("%s%sthe merge "
				    "could not be undone (%s): reset '%s' to "
				    "%.12s by hand", s ? s : "", s ? "; " : "",
				    op->err, w->into, op->pre);
				free(s);
				op->stop = 1;
			} else if (op->code != 0) {
				/* nor on a tree the check left changed */
				if (!w->quiet)
					log_warnx("cannot reset '%s' after the "
					    "check: %s; no more merges",
					    op->dir, op->err);
				op->stop = 1;
			}
			op->step = M_SWEPT;
			if (op->before != NULL) {
				op->step = M_SWEEP;
				list_untracked(op);
				return;
			}
			continue;
		case M_SWEEP:
			sweep(op);
			op->step = M_SWEPT;
			continue;
		case M_SWEPT:
			strv_free(op->before);
			op->before = NULL;
			op->step = op->final ? M_REMOVE : M_ONE_DONE;
			continue;
		case M_ONE_DONE:
			jlog_merge(w, i);
			report_one(w, i);
			op->step = M_NEXT;
			continue;
		case M_FINAL:
			op->step = M_REMOVE;
			if (op->stop || w->merged_now == 0 ||
			    !wt_check_has(w, WT_FINAL))
				continue;
			op->final = 1;
			op->step = M_SNAP;
			list_untracked(op);
			return;
		case M_FINAL_DONE:
			jlog_check(w, NULL, op);
			w->final_ran = 1;
			w->final_passed = op->code == 0;
			free(w->final_output);
			w->final_output = op->code == 0 ? NULL :
			    check_excerpt(op);
			if (w->final_passed && !w->quiet)
				log_info("final check passed on '%s'",
				    w->into);
			else if (!w->quiet) {
				log_warnx("final check FAILED on '%s' (the "
				    "merges stay):", w->into);
				log_excerpt(w->final_output);
			}
			/* the merges stay; what the check changed goes */
			op->undo = 0;
			op->step = M_UNDO;
			continue;
		case M_REMOVE:
			if (!w->quiet && w->refused == NULL) {
				for (size_t k = 0; k < w->g->n; k++)
					if (w->t[k].on && w->ok[k] &&
					    w->t[k].finished &&
					    w->t[k].commit == NULL)
						log_info("  unchanged %-20s "
						    "nothing to merge",
						    tname(w, k));
				advise(w);
			}
			op->step = M_END;
			if (op->tmp != NULL) {
				wt_op_git(op, w->top, NULL, GIT_ARGS("worktree",
				    "remove", "--force", op->tmp));
				return;
			}
			continue;
		default:
			wt_op_end(op, 0);
			return;
		}
	}
}

static void
phase_done(void *arg, size_t task, int rc, const char *err)
{
	struct wt *w = arg;

	(void)task;
	(void)rc;
	(void)err;
	loop_stop(w->loop);
}

int
wt_merge_phase(struct wt *w, const unsigned char *ok, int quiet)
{
	size_t n = 0;

	if (w == NULL)
		return 0;
	find_overlaps(w, ok, quiet);
	w->ok = ok;
	w->quiet = quiet;
	w->failed = 0;
	for (size_t i = 0; i < w->g->n; i++)
		n += mergeable(w, i);
	if (n == 0)
		return 0;
	w->phase_ran = 1;
	w->mop.stop = 0;
	w->merged_now = 0;
	wt_check_order(w);
	wt_op_begin(&w->mop, w, 0, merge_step, phase_done, w);
	/* the run's loop, until the phase ends (or nothing can end it) */
	while (w->mop.busy && w->running != NULL)
		if (loop_run(w->loop) < 0)
			break;
	w->ok = NULL;
	return w->failed + (w->final_ran && !w->final_passed);
}
