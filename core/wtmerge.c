/*
 * The merge phase of worktree isolation: after the parallel phase, reports
 * overlapping changes and writes violations, then merges the tasks'
 * branches one at a time, in dependency order, into the target.  See
 * worktree.h.
 */
#include "worktree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git.h"
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
		if (!w->t[a].on || !ok[a] || w->t[a].changed == NULL)
			continue;
		for (size_t b = a + 1; b < g->n; b++)
			if (w->t[b].on && ok[b] && w->t[b].changed != NULL &&
			    !graph_depends_on(g, a, b) &&
			    !graph_depends_on(g, b, a))
				overlap(w, a, b, quiet);
		for (size_t k = 0; w->t[a].changed[k] != NULL; k++)
			violation(w, a, w->t[a].changed[k], quiet);
	}
}

/* Merges one task's branch into the target tree at dir. */
static void
merge_one(struct wt *w, size_t i, const char *dir)
{
	struct wtask *t = &w->t[i];
	char msg[512] = "", *ref, *tip;
	json_t *ev;
	int rc;

	t->merge_tried = 1;
	ref = xasprintf("refs/heads/%s", t->branch);
	tip = wt_gits(w, w->top, GIT_ARGS("rev-parse", "--verify", "-q", ref),
	    NULL, 0);
	free(ref);
	if (tip == NULL || strcmp(tip, t->commit) != 0) {
		/* only what drove committed for the task is merged */
		t->merge_error = xasprintf("branch '%s' no longer points at "
		    "the task's commit %.12s", t->branch, t->commit);
	} else if (wt_git(w, dir, GIT_ARGS("merge-base", "--is-ancestor",
	    t->branch, "HEAD"), NULL, NULL, 0) == 0) {
		t->merged = 1;
	} else if ((rc = wt_git(w, dir, GIT_ARGS("merge", "-q", "--no-edit",
	    "--no-verify", t->branch), NULL, msg, sizeof(msg))) == 0) {
		t->merged = 1;
	} else if (wt_git(w, dir, GIT_ARGS("rev-parse", "-q", "--verify",
	    "MERGE_HEAD"), NULL, NULL, 0) == 0) {
		t->conflict = wt_gitl(w, dir, GIT_ARGS("diff", "--name-only",
		    "-z", "--diff-filter=U"), NULL, 0);
		if (t->conflict == NULL)
			t->conflict = xcalloc(1, sizeof(*t->conflict));
		(void)wt_git(w, dir, GIT_ARGS("merge", "--abort"), NULL,
		    NULL, 0);
	} else {
		t->merge_error = xstrdup(msg);
	}
	free(tip);
	/* the tree was clean before: leave it so, whatever git did */
	if (!t->merged) {
		char *dirty = wt_dirty_files(w, dir);

		if (dirty != NULL)
			(void)wt_git(w, dir, GIT_ARGS("reset", "-q", "--hard",
			    "HEAD"), NULL, NULL, 0);
		free(dirty);
	}
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("merge"));
	json_object_set_new(ev, "task", json_string(tname(w, i)));
	json_object_set_new(ev, "into", json_string(w->into));
	json_object_set_new(ev, "merged", json_boolean(t->merged));
	if (t->conflict)
		json_object_set_new(ev, "conflict", wt_json_strv(t->conflict));
	if (t->merge_error)
		json_object_set_new(ev, "error", json_texts(t->merge_error));
	wt_jlog(w, ev);
}

int
wt_merge_phase(struct wt *w, const unsigned char *ok, int quiet)
{
	const struct graph *g;
	char *dir = NULL, *tmp = NULL, *dirty, *head = NULL;
	char msg[512];
	size_t n = 0;
	int failed = 0;

	if (w == NULL)
		return 0;
	g = w->g;
	find_overlaps(w, ok, quiet);
	for (size_t i = 0; i < g->n; i++)
		n += w->t[i].on && ok[i] && w->t[i].finished &&
		    w->t[i].commit != NULL;
	if (n == 0)
		return 0;
	w->phase_ran = 1;
	if (w->target_dir != NULL) {
		dir = xstrdup(w->target_dir);
	} else {
		tmp = xasprintf("%s/merge-tree", w->dir);
		if (wt_git(w, w->top, GIT_ARGS("worktree", "add", "-q", tmp,
		    w->into), NULL, msg, sizeof(msg)) != 0) {
			w->refused = xasprintf("cannot check out '%s': %s",
			    w->into, msg);
			free(tmp);
			tmp = NULL;
		} else {
			dir = xstrdup(tmp);
		}
	}
	if (dir != NULL && (head = wt_gits(w, dir, GIT_ARGS("symbolic-ref",
	    "--short", "-q", "HEAD"), NULL, 0), head == NULL ||
	    strcmp(head, w->into) != 0)) {
		/* someone checked out another branch there meanwhile */
		w->refused = xasprintf("'%s' is no longer on '%s'", dir,
		    w->into);
		free(dir);
		dir = NULL;
	}
	free(head);
	if (dir != NULL && (dirty = wt_dirty_files(w, dir)) != NULL) {
		w->refused = xasprintf("'%s' has uncommitted changes (%s)",
		    dir, dirty);
		free(dirty);
		free(dir);
		dir = NULL;
	}
	if (dir == NULL) {
		if (!quiet)
			log_warnx("merge phase refused: %s; the branches are "
			    "kept: merge them with 'git merge BRANCH'",
			    w->refused);
		for (size_t i = 0; i < g->n; i++)
			failed += w->t[i].on && ok[i] && w->t[i].commit &&
			    !w->t[i].merged;
		goto out;
	}
	if (!quiet)
		log_info("merging %zu branch%s into '%s'", n, n == 1 ? "" :
		    "es", w->into);
	for (size_t k = 0; k < g->n; k++) {
		size_t i = g->topo[k];
		struct wtask *t = &w->t[i];
		char *list;

		if (!t->on || !ok[i] || !t->finished || t->commit == NULL)
			continue;
		merge_one(w, i, dir);
		if (t->merged) {
			if (!quiet)
				log_info("  merged    %-20s %s (%zu file%s)",
				    tname(w, i), t->branch,
				    strv_len(t->changed),
				    strv_len(t->changed) == 1 ? "" : "s");
			continue;
		}
		failed++;
		if (quiet)
			continue;
		if (t->conflict) {
			list = wt_strv_join(t->conflict, ", ");
			log_warnx("  CONFLICT  %-20s %s in %s; merge aborted, "
			    "branch kept", tname(w, i), t->branch, list);
			free(list);
		} else {
			log_warnx("  FAILED    %-20s %s: %s; branch kept",
			    tname(w, i), t->branch, t->merge_error);
		}
	}
	if (!quiet) {
		for (size_t i = 0; i < g->n; i++)
			if (w->t[i].on && ok[i] && w->t[i].finished &&
			    w->t[i].commit == NULL)
				log_info("  unchanged %-20s nothing to merge",
				    tname(w, i));
		if (failed)
			log_warnx("%d branch%s not merged into '%s': resolve "
			    "with 'git merge BRANCH' there", failed,
			    failed == 1 ? "" : "es", w->into);
	}
out:
	if (tmp != NULL) {
		(void)wt_git(w, w->top, GIT_ARGS("worktree", "remove",
		    "--force", tmp), NULL, NULL, 0);
		free(tmp);
	}
	free(dir);
	return failed;
}

