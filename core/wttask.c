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

/* git in task i's worktree, after tk_check, with its git dir named. */
static int
tk_git(struct wt *w, size_t i, const char *const *args, struct buf *out,
    char *err, size_t errlen)
{
	if (tk_check(w, i, err, errlen) < 0)
		return -1;
	return git_run(&w->git, w->t[i].path, w->t[i].gitdir, args, out,
	    err, errlen);
}

static char *
tk_gits(struct wt *w, size_t i, const char *const *args, char *err,
    size_t errlen)
{
	if (tk_check(w, i, err, errlen) < 0)
		return NULL;
	return git_str(&w->git, w->t[i].path, w->t[i].gitdir, args, err,
	    errlen);
}

static char **
tk_gitl(struct wt *w, size_t i, const char *const *args, char *err,
    size_t errlen)
{
	if (tk_check(w, i, err, errlen) < 0)
		return NULL;
	return git_list(&w->git, w->t[i].path, w->t[i].gitdir, args, err,
	    errlen);
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
		int rc = 0;

		if (!(missing_only && fs_exists(dst)))
			rc = fs_copy_tree(t->copy[k], dst);
		free(dst);
		if (rc < 0) {
			errf(err, errlen, "worktree_copy: cannot copy '%s': %s",
			    t->copy[k], strerror(-rc));
			return DROVE_EIO;
		}
	}
	return 0;
}

/* A worktree whose creation was not journaled: the agent never ran in it.
 * Removes it and its branch when the branch holds no commit but merges of
 * what it was made from; else leaves both and fails. */
static int
discard_unstarted(struct wt *w, size_t i, char **bases, char *err,
    size_t errlen)
{
	struct wtask *t = &w->t[i];
	const char *args[64];
	size_t n = 0;
	char *own;

	args[n++] = "rev-list";
	args[n++] = "--no-merges";
	args[n++] = t->branch;
	args[n++] = "--not";
	args[n++] = w->base;
	for (size_t k = 0; bases[k] != NULL && n < ARRAY_SIZE(args) - 2; k++)
		args[n++] = bases[k];
	args[n++] = "--";
	args[n] = NULL;
	own = wt_gits(w, w->top, args, err, errlen);
	if (own == NULL || *own != '\0') {
		if (own != NULL)
			errf(err, errlen, "branch '%s' already exists and has "
			    "commits of its own; it was kept (see 'drove "
			    "clean')", t->branch);
		free(own);
		return DROVE_ECONFLICT;
	}
	free(own);
	if (fs_exists(t->path) && wt_git(w, w->top, GIT_ARGS("worktree",
	    "remove", "--force", t->path), NULL, err, errlen) != 0)
		return DROVE_EIO;
	(void)wt_git(w, w->top, GIT_ARGS("worktree", "prune"), NULL, NULL,
	    0);
	if (wt_git(w, w->top, GIT_ARGS("branch", "-D", "-q", t->branch),
	    NULL, err, errlen) != 0)
		return DROVE_EIO;
	return 0;
}

/* Merges the other dependencies' branches into the new worktree. */
static int
merge_bases(struct wt *w, size_t i, char **bases, char *err, size_t errlen)
{
	for (size_t k = 1; bases[k] != NULL; k++) {
		char **files;
		char *list;

		if (tk_git(w, i, GIT_ARGS("merge", "-q", "--no-edit",
		    "--no-verify", bases[k]), NULL, err, errlen) == 0)
			continue;
		files = tk_gitl(w, i, GIT_ARGS("diff", "--name-only",
		    "-z", "--diff-filter=U"), NULL, 0);
		list = wt_strv_join(files, ", ");
		(void)tk_git(w, i, GIT_ARGS("merge", "--abort"), NULL,
		    NULL, 0);
		if (files != NULL && files[0] != NULL)
			errf(err, errlen, "the branches of its dependencies "
			    "conflict: merging '%s' into '%s' conflicts in %s",
			    bases[k], bases[0], list);
		free(list);
		strv_free(files);
		return DROVE_ECONFLICT;
	}
	return 0;
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

int
wt_prepare(struct wt *w, size_t i, char *err, size_t errlen)
{
	struct wtask *t;
	char **bases;
	int rc = 0, have_branch;
	char *ref;

	if (w == NULL || !w->t[i].on)
		return 0;
	t = &w->t[i];
	t->finished = 0;
	free(t->commit);
	t->commit = NULL;
	strv_free(t->changed);
	t->changed = NULL;
	bases = dep_branches(w, i);
	ref = xasprintf("refs/heads/%s", t->branch);
	have_branch = wt_git(w, w->top, GIT_ARGS("rev-parse", "--verify",
	    "-q", ref), NULL, NULL, 0) == 0;
	free(ref);
	if (have_branch && t->start != NULL) {
		/* an interrupted run's worktree: keep all it holds */
		if (!fs_exists(t->path)) {
			(void)wt_git(w, w->top, GIT_ARGS("worktree", "prune"),
			    NULL, NULL, 0);
			if (wt_git(w, w->top, GIT_ARGS("worktree", "add", "-q",
			    t->path, t->branch), NULL, err, errlen) != 0) {
				rc = DROVE_EIO;
				goto out;
			}
		}
		if ((rc = tk_adopt(w, i, err, errlen)) < 0)
			goto out;
		log_info("task '%s': reusing its worktree %s", tname(w, i),
		    t->path);
		(void)mkdir_p(t->workdir, 0777);
		rc = copy_in(w, i, 1, err, errlen);
		goto out;
	}
	if (have_branch) {
		rc = discard_unstarted(w, i, bases, err, errlen);
		if (rc < 0)
			goto out;
	} else if (fs_exists(t->path) && rmdir(t->path) < 0) {
		errf(err, errlen, "'%s' already exists; move it away",
		    t->path);
		rc = DROVE_EIO;
		goto out;
	}
	if (wt_git(w, w->top, GIT_ARGS("worktree", "add", "-q", "-b",
	    t->branch, t->path, bases[0] ? bases[0] : w->base), NULL, err,
	    errlen) != 0) {
		rc = DROVE_EIO;
		goto out;
	}
	/* journaled at once, so clean finds it whatever happens next; the
	 * start commit follows when the agent may start */
	free(t->start);
	t->start = NULL;
	jlog_worktree(w, i);
	if ((rc = tk_adopt(w, i, err, errlen)) < 0)
		goto out;
	if ((rc = merge_bases(w, i, bases, err, errlen)) < 0)
		goto out;
	t->start = tk_gits(w, i, GIT_ARGS("rev-parse", "HEAD"), err,
	    errlen);
	if (t->start == NULL) {
		rc = DROVE_EIO;
		goto out;
	}
	(void)mkdir_p(t->workdir, 0777);
	if ((rc = copy_in(w, i, 0, err, errlen)) < 0)
		goto out;
	jlog_worktree(w, i);
out:
	strv_free(bases);
	return rc;
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

int
wt_finish(struct wt *w, size_t i, char *err, size_t errlen)
{
	struct wtask *t;
	char *head, *msg;
	int rc;
	json_t *ev;

	if (w == NULL || !w->t[i].on)
		return 0;
	t = &w->t[i];
	if (tk_git(w, i, GIT_ARGS("add", "-A"), NULL, err,
	    errlen) != 0)
		return DROVE_EIO;
	/* copied-in files stay out of the commit (.env and the like) */
	for (size_t k = 0; t->copy != NULL && t->copy[k] != NULL; k++) {
		char *p = xasprintf("%s%s", w->prefix, t->copy[k]);

		(void)tk_git(w, i, GIT_ARGS("reset", "-q", t->start,
		    "--", p), NULL, NULL, 0);
		free(p);
	}
	/* one commit per task, even when the agent committed itself */
	head = tk_gits(w, i, GIT_ARGS("rev-parse", "HEAD"), err,
	    errlen);
	if (head == NULL)
		return DROVE_EIO;
	if (strcmp(head, t->start) != 0 && wt_git(w, t->path,
	    GIT_ARGS("reset", "-q", "--soft", t->start), NULL, err,
	    errlen) != 0) {
		free(head);
		return DROVE_EIO;
	}
	free(head);
	rc = tk_git(w, i, GIT_ARGS("diff", "--cached", "--quiet"),
	    NULL, err, errlen);
	if (rc != 0 && rc != 1)
		return DROVE_EIO;
	free(t->commit);
	t->commit = NULL;
	strv_free(t->changed);
	t->changed = NULL;
	if (rc == 1) {
		msg = commit_message(w, i);
		rc = tk_git(w, i, GIT_ARGS("commit", "-q", "--no-verify",
		    "-m", msg), NULL, err, errlen);
		free(msg);
		if (rc != 0)
			return DROVE_EIO;
		t->commit = tk_gits(w, i, GIT_ARGS("rev-parse", "HEAD"),
		    err, errlen);
		if (t->commit == NULL)
			return DROVE_EIO;
		t->changed = tk_gitl(w, i, GIT_ARGS("diff",
		    "--name-only", "-z", t->start, t->commit), NULL, 0);
	} else {
		log_info("task '%s': no changes in its worktree", tname(w, i));
	}
	if (t->changed == NULL)
		t->changed = xcalloc(1, sizeof(*t->changed));
	t->finished = 1;
	t->merged = 0;
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("commit"));
	json_object_set_new(ev, "task", json_string(tname(w, i)));
	json_object_set_new(ev, "branch", json_string(t->branch));
	json_object_set_new(ev, "commit", t->commit ?
	    json_string(t->commit) : json_null());
	json_object_set_new(ev, "changed_files", wt_json_strv(t->changed));
	wt_jlog(w, ev);
	return 0;
}

