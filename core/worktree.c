/*
 * Worktree isolation for a run: the checks before it starts, binding to
 * the run and its journal, the summary and the helpers the worktree files
 * share.  A task's worktree is made and committed in wttask.c, the merge
 * phase is wtmerge.c, drove clean is clean.c.  See worktree.h.
 *
 * Journal events (journal.jsonl of the run):
 *   {"ev":"repo","top":DIR,"base":SHA,"into":BRANCH}
 *   {"ev":"worktree","task":T,"branch":B,"worktree":DIR,"start":SHA,
 *    "copied":[PATH]}
 *   {"ev":"commit","task":T,"commit":SHA|null,"changed_files":[PATH]}
 *   {"ev":"merge","task":T,"into":BRANCH,"merged":BOOL,"status":S,
 *    "conflict":[PATH],"check_output":TEXT,"blocked_by":T,"error":TEXT}
 *   {"ev":"merge_start","task":T,"into":BRANCH,"pre":SHA}  (with a check)
 *   {"ev":"check","task":T|null,"final":BOOL,"into":BRANCH,"passed":BOOL,
 *    "output":TEXT}
 * The "repo" and "worktree" events also go to the record drove clean
 * trusts, <common>/drove/<run>.refs.
 */
#include "worktree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/*
 * Appends ev as a line to the run's record under the common git dir,
 * which drove clean trusts (the journal, in the run directory, is
 * within the agents' reach; the record is not in any worktree).  Borrows
 * ev.
 */
void
wt_record(struct wt *w, json_t *ev)
{
	char *line, *d;
	int fd, rc = 0;

	if (w->record == NULL)
		return;
	d = xasprintf("%s/drove", w->common);
	(void)mkdir_p(d, 0777);
	free(d);
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fd = open(w->record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd < 0 || (rc = write_all(fd, line, strlen(line))) < 0 ||
	    (rc = write_all(fd, "\n", 1)) < 0)
		log_warnx("cannot write '%s': %s; drove clean will not "
		    "remove this run's worktrees", w->record,
		    strerror(rc < 0 ? -rc : errno));
	if (fd >= 0)
		close(fd);
	free(line);
}

/* --- git, in the repository of w -------------------------------------- */

int
wt_git(struct wt *w, const char *dir, const char *const *args,
    struct buf *out, char *err, size_t errlen)
{
	return git_run(&w->git, dir, NULL, args, out, err, errlen);
}

char *
wt_gits(struct wt *w, const char *dir, const char *const *args, char *err,
    size_t errlen)
{
	return git_str(&w->git, dir, NULL, args, err, errlen);
}

char **
wt_gitl(struct wt *w, const char *dir, const char *const *args, char *err,
    size_t errlen)
{
	return git_list(&w->git, dir, NULL, args, err, errlen);
}

/* --- small helpers ------------------------------------------------------ */

json_t *
wt_json_strv(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

char **
wt_strv_json(json_t *a)
{
	char **v = xcalloc(json_array_size(a) + 1, sizeof(*v));
	size_t k = 0, i;
	json_t *x;

	json_array_foreach(a, i, x)
		if (json_is_string(x))
			v[k++] = xstrdup(json_string_value(x));
	return v;
}

char *
wt_strv_join(char *const *v, const char *sep)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (i)
			buf_adds(&b, sep);
		buf_adds(&b, v[i]);
	}
	return buf_detach(&b, NULL);
}

int
wt_strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

void
wt_jlog(struct wt *w, json_t *ev)
{
	int rc;

	if (w->j == NULL || w->j->fd < 0) {
		json_decref(ev);
		return;
	}
	rc = journal_append(w->j, ev, 1);
	if (rc < 0)
		log_warnx("cannot write '%s': %s", w->j->path, strerror(-rc));
}

/* --- before the run ----------------------------------------------------- */

static int
check_tasks(const struct graph *g, int *any, char *err, size_t errlen)
{
	char where[256];

	*any = 0;
	for (size_t i = 0; i < g->n; i++) {
		const struct task *t = &g->tasks[i];
		const char *copy = conf_get(t->sec, "worktree_copy");
		char **v = NULL;

		if (t->isolation != ISOLATION_WORKTREE) {
			if (copy == NULL)
				continue;
			conf_where(t->sec, "worktree_copy", where,
			    sizeof(where));
			errf(err, errlen, "%s: task '%s': worktree_copy needs "
			    "isolation = worktree", where, t->name);
			return DROVE_EINVAL;
		}
		*any = 1;
		conf_where(t->sec, "isolation", where, sizeof(where));
		if (t->nbackends == 0) {
			errf(err, errlen, "%s: task '%s': a merge node has no "
			    "agent to isolate; isolation = worktree needs a "
			    "backend", where, t->name);
			return DROVE_EINVAL;
		}
		if (t->replicas > 1) {
			errf(err, errlen, "%s: task '%s': isolation = worktree "
			    "runs one replica, not %ld (replicas would share "
			    "the worktree)", where, t->name, t->replicas);
			return DROVE_EINVAL;
		}
		if (copy == NULL)
			continue;
		strv_split(copy, ',', &v);
		for (size_t k = 0; v[k] != NULL; k++) {
			struct stat st;

			conf_where(t->sec, "worktree_copy", where,
			    sizeof(where));
			if (!fs_path_inside(v[k])) {
				errf(err, errlen, "%s: task '%s': "
				    "worktree_copy '%s' must be a relative "
				    "path that stays in the tree", where,
				    t->name, v[k]);
				strv_free(v);
				return DROVE_EINVAL;
			}
			if (lstat(v[k], &st) < 0) {
				errf(err, errlen, "%s: task '%s': "
				    "worktree_copy '%s': %s", where, t->name,
				    v[k], strerror(errno));
				strv_free(v);
				return DROVE_EINVAL;
			}
		}
		strv_free(v);
	}
	return 0;
}

/* Finds the worktree where branch is checked out; NULL if none. */
static char *
checked_out_at(struct wt *w, const char *branch)
{
	char *ref = xasprintf("refs/heads/%s", branch);
	char **v = wt_gitl(w, ".", GIT_ARGS("worktree", "list",
	    "--porcelain", "-z"), NULL, 0);
	const char *path = NULL;
	char *found = NULL;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (strncmp(v[i], "worktree ", 9) == 0)
			path = v[i] + 9;
		else if (strncmp(v[i], "branch ", 7) == 0 && path &&
		    strcmp(v[i] + 7, ref) == 0 && found == NULL)
			found = xstrdup(path);
	}
	strv_free(v);
	free(ref);
	return found;
}

/* Uncommitted changes to tracked files in dir, joined with ", ", or NULL
 * when there are none.  Files nobody tracks do not count. */
char *
wt_dirty_join(char **v)
{
	struct buf b = BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		const char *p = strlen(v[i]) > 3 ? v[i] + 3 : v[i];

		/* a rename's second entry is the old name */
		if ((v[i][0] == 'R' || v[i][0] == 'C') && v[i + 1] != NULL)
			i++;
		if (n < 5)
			buf_printf(&b, "%s%s", n ? ", " : "", p);
		n++;
	}
	if (n > 5)
		buf_printf(&b, " and %zu more", n - 5);
	if (n == 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

char *
wt_dirty_files(struct wt *w, const char *dir)
{
	char **v = wt_gitl(w, dir, GIT_ARGS("status", "--porcelain", "-z",
	    "--untracked-files=no"), NULL, 0);
	char *s = wt_dirty_join(v);

	strv_free(v);
	return s;
}

int
wt_open(struct wt **wp, const struct graph *g, const struct conf_section *d,
    char *err, size_t errlen)
{
	struct wt *w;
	char msg[512], where[256], cwd[PATH_MAX];
	const char *into;
	size_t first = 0;
	int any, rc;

	*wp = NULL;
	rc = check_tasks(g, &any, err, errlen);
	if (rc == 0 && !any)
		rc = wt_check_unused(g, d, err, errlen);
	if (rc < 0 || !any)
		return rc;
	while (g->tasks[first].isolation != ISOLATION_WORKTREE)
		first++;
	conf_where(g->tasks[first].sec, "isolation", where, sizeof(where));
	w = xcalloc(1, sizeof(*w));
	w->g = g;
	w->d = d;
	w->t = xcalloc(g->n + 1, sizeof(*w->t));
	w->overlaps = json_array();
	w->violations = json_array();
	rc = conf_get_duration(d, "git_timeout", GIT_TIMEOUT_S, 0, 1e9,
	    &w->git.timeout_s, err, errlen);
	if (rc == 0)
		rc = wt_check_open(w, err, errlen);
	if (rc < 0)
		goto fail;
	if ((w->git.path = git_find()) == NULL) {
		errf(err, errlen, "%s: task '%s': isolation = worktree needs "
		    "git, and there is none in PATH", where,
		    g->tasks[first].name);
		goto fail;
	}
	w->top = wt_gits(w, ".", GIT_ARGS("rev-parse", "--show-toplevel"),
	    msg, sizeof(msg));
	if (w->top == NULL || *w->top == '\0') {
		errf(err, errlen, "%s: task '%s': isolation = worktree needs a "
		    "git repository, and '%s' is not in one", where,
		    g->tasks[first].name, getcwd(cwd, sizeof(cwd)) ? cwd :
		    ".");
		goto fail;
	}
	w->prefix = wt_gits(w, ".", GIT_ARGS("rev-parse", "--show-prefix"),
	    NULL, 0);
	w->common = wt_gits(w, ".", GIT_ARGS("rev-parse",
	    "--path-format=absolute", "--git-common-dir"), msg, sizeof(msg));
	if (w->common == NULL || *w->common != '/') {
		errf(err, errlen, "%s: cannot find the git directory of '%s' "
		    "(%s); isolation = worktree needs git 2.31 or later",
		    where, w->top, w->common ? w->common : msg);
		goto fail;
	}
	w->base = wt_gits(w, ".", GIT_ARGS("rev-parse", "--verify", "-q",
	    "HEAD^{commit}"), NULL, 0);
	if (w->base == NULL) {
		errf(err, errlen, "%s: the repository '%s' has no commit yet; "
		    "isolation = worktree branches from HEAD", where, w->top);
		goto fail;
	}
	if (w->prefix == NULL)
		w->prefix = xstrdup("");
	w->git.ident = wt_git(w, ".", GIT_ARGS("var", "GIT_AUTHOR_IDENT"), NULL,
	    NULL, 0) != 0 || wt_git(w, ".", GIT_ARGS("var",
	    "GIT_COMMITTER_IDENT"), NULL, NULL, 0) != 0;
	for (size_t i = 0; i < g->n; i++) {
		char *ref;

		if (g->tasks[i].isolation != ISOLATION_WORKTREE)
			continue;
		ref = xasprintf("drove/run/%s", g->tasks[i].name);
		rc = wt_git(w, ".", GIT_ARGS("check-ref-format", "--branch",
		    ref), NULL, NULL, 0);
		free(ref);
		if (rc != 0) {
			conf_where(g->tasks[i].sec, NULL, where,
			    sizeof(where));
			errf(err, errlen, "%s: task '%s': the name cannot be "
			    "part of a git branch name, which isolation = "
			    "worktree needs", where, g->tasks[i].name);
			goto fail;
		}
	}
	into = d ? conf_get(d, "merge_into") : NULL;
	if (into != NULL && *into != '\0') {
		char *ref = xasprintf("refs/heads/%s", into);

		rc = wt_git(w, ".", GIT_ARGS("rev-parse", "--verify", "-q",
		    ref), NULL, NULL, 0);
		free(ref);
		if (rc != 0) {
			conf_where(d, "merge_into", where, sizeof(where));
			errf(err, errlen, "%s: merge_into: there is no branch "
			    "'%s' in '%s'", where, into, w->top);
			goto fail;
		}
		w->into = xstrdup(into);
		w->target_dir = checked_out_at(w, into);
	} else {
		w->into = wt_gits(w, ".", GIT_ARGS("symbolic-ref", "--short",
		    "-q", "HEAD"), NULL, 0);
		if (w->into == NULL) {
			errf(err, errlen, "%s: HEAD is detached in '%s': check "
			    "out a branch, or set [drove] merge_into = BRANCH "
			    "to say where the tasks' branches merge", where,
			    w->top);
			goto fail;
		}
		w->target_dir = xstrdup(w->top);
	}
	if (w->target_dir != NULL) {
		char *dirty = wt_dirty_files(w, w->target_dir);

		if (dirty != NULL) {
			errf(err, errlen, "cannot merge into '%s': '%s' has "
			    "uncommitted changes (%s); commit or stash them "
			    "first, the merge phase of isolation = worktree "
			    "needs a clean tree", w->into, w->target_dir,
			    dirty);
			free(dirty);
			goto fail;
		}
	}
	*wp = w;
	return 0;
fail:
	wt_free(w);
	return DROVE_EINVAL;
}

/* --- the run ------------------------------------------------------------ */

static void
replay_event(json_t *ev, void *arg)
{
	struct wt *w = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	struct wtask *t;
	long i;

	if (type == NULL)
		return;
	if (strcmp(type, "repo") == 0) {
		const char *b = json_string_value(json_object_get(ev,
		    "base"));

		if (b != NULL) {
			free(w->base);
			w->base = xstrdup(b);
		}
		return;
	}
	if (task == NULL || (i = graph_find(w->g, task)) < 0 ||
	    !w->t[i].on)
		return;
	t = &w->t[i];
	if (strcmp(type, "worktree") == 0) {
		const char *s = json_string_value(json_object_get(ev,
		    "start"));

		free(t->start);
		t->start = s ? xstrdup(s) : NULL;
		t->finished = 0;
	} else if (strcmp(type, "commit") == 0) {
		const char *c = json_string_value(json_object_get(ev,
		    "commit"));

		free(t->commit);
		t->commit = c ? xstrdup(c) : NULL;
		strv_free(t->changed);
		t->changed = wt_strv_json(json_object_get(ev, "changed_files"));
		t->finished = 1;
	} else if (strcmp(type, "merge") == 0) {
		t->merged = json_is_true(json_object_get(ev, "merged"));
		free(t->resume_pre);
		t->resume_pre = NULL;
	} else if (strcmp(type, "merge_start") == 0) {
		const char *p = json_string_value(json_object_get(ev, "pre"));

		free(t->resume_pre);
		t->resume_pre = p ? xstrdup(p) : NULL;
	}
}

/* Keeps the runs directory out of `git status` when it is inside the
 * repository: the worktrees live there. */
static void
exclude_runs(struct wt *w)
{
	char *root = xstrdup(w->dir), *slash = strrchr(root, '/');
	size_t tl = strlen(w->top);
	char *path, *line, *data = NULL;
	size_t len = 0;

	if (slash != NULL)
		*slash = '\0';
	if (w->common == NULL || strncmp(root, w->top, tl) != 0 ||
	    root[tl] != '/') {
		free(root);
		return;
	}
	path = xasprintf("%s/info/exclude", w->common);
	line = xasprintf("/%s/\n", root + tl + 1);
	(void)read_file(path, &data, &len);
	if (data == NULL || strstr(data, line) == NULL) {
		char *info = xasprintf("%s/info", w->common);
		int fd;

		(void)mkdir_p(info, 0777);
		free(info);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);
		if (fd >= 0) {
			if (len && data[len - 1] != '\n')
				(void)write_all(fd, "\n", 1);
			(void)write_all(fd, "# drove runs\n", 13);
			(void)write_all(fd, line, strlen(line));
			close(fd);
		}
	}
	free(data);
	free(line);
	free(path);
	free(root);
}

int
wt_start(struct wt *w, struct loop *l, const char *id, const char *dir,
    struct journal *j, int resume, char *err, size_t errlen)
{
	char real[PATH_MAX];
	const char *pfx;
	json_t *ev;

	if (w == NULL)
		return 0;
	if (realpath(dir, real) == NULL) {
		errf(err, errlen, "cannot resolve '%s': %s", dir,
		    strerror(errno));
		return DROVE_EIO;
	}
	w->loop = l;
	w->id = xstrdup(id);
	w->dir = xstrdup(real);
	w->j = j;
	pfx = w->prefix;
	for (size_t i = 0; i < w->g->n; i++) {
		struct wtask *t = &w->t[i];
		const char *copy;

		if (w->g->tasks[i].isolation != ISOLATION_WORKTREE)
			continue;
		t->on = 1;
		t->branch = xasprintf("drove/%s/%s", id, tname(w, i));
		t->path = xasprintf("%s/worktrees/%s", w->dir, tname(w, i));
		if (*pfx)
			t->workdir = xasprintf("%s/%.*s", t->path,
			    (int)strlen(pfx) - 1, pfx);
		else
			t->workdir = xstrdup(t->path);
		copy = conf_get(w->g->tasks[i].sec, "worktree_copy");
		if (copy)
			strv_split(copy, ',', &t->copy);
	}
	if (resume) {
		char *jp = xasprintf("%s/journal.jsonl", w->dir);

		(void)journal_replay(jp, replay_event, w, NULL);
		free(jp);
	}
	exclude_runs(w);
	w->record = xasprintf("%s/drove/%s.refs", w->common, id);
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("repo"));
	json_object_set_new(ev, "top", json_string(w->top));
	json_object_set_new(ev, "base", json_string(w->base));
	json_object_set_new(ev, "into", json_string(w->into));
	wt_record(w, ev);
	wt_jlog(w, ev);
	return 0;
}

const char *
wt_workdir(const struct wt *w, size_t task)
{
	return w != NULL && w->t[task].on ? w->t[task].workdir : NULL;
}

void
wt_summary(const struct wt *w, json_t *s)
{
	json_t *tasks, *m, *merged, *conflicts;

	if (w == NULL)
		return;
	tasks = json_object_get(s, "tasks");
	merged = json_array();
	conflicts = json_object();
	for (size_t i = 0; i < w->g->n; i++) {
		const struct wtask *t = &w->t[i];
		json_t *o = json_object_get(tasks, tname(w, i));

		if (!t->on || o == NULL)
			continue;
		json_object_set_new(o, "branch", json_string(t->branch));
		json_object_set_new(o, "commit", t->commit ?
		    json_string(t->commit) : json_null());
		json_object_set_new(o, "worktree", json_string(t->path));
		json_object_set_new(o, "changed_files",
		    wt_json_strv(t->changed));
		json_object_set_new(o, "merged", json_boolean(t->merged));
		json_object_set_new(o, "conflict", wt_json_strv(t->conflict));
		if (t->merge_error)
			json_object_set_new(o, "merge_error",
			    json_texts(t->merge_error));
		if (t->merged)
			json_array_append_new(merged,
			    json_string(tname(w, i)));
		if (t->conflict)
			json_object_set_new(conflicts, tname(w, i),
			    wt_json_strv(t->conflict));
	}
	m = json_object();
	json_object_set_new(m, "into", json_string(w->into));
	json_object_set_new(m, "base", json_string(w->base));
	json_object_set_new(m, "ran", json_boolean(w->phase_ran));
	json_object_set_new(m, "merged", merged);
	json_object_set_new(m, "conflicts", conflicts);
	json_object_set_new(m, "refused", w->refused ?
	    json_string(w->refused) : json_null());
	json_object_set_new(s, "merge", m);
	json_object_set(s, "overlaps", w->overlaps);
	json_object_set(s, "violations", w->violations);
	wt_check_summary(w, s);
}

void
wt_free(struct wt *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; w->t && i < w->g->n; i++) {
		struct wtask *t = &w->t[i];

		free(t->branch);
		free(t->path);
		free(t->gitdir);
		free(t->dotgit);
		free(t->workdir);
		free(t->start);
		free(t->commit);
		strv_free(t->copy);
		strv_free(t->changed);
		strv_free(t->conflict);
		free(t->merge_error);
		strv_free(t->op.bases);
		strv_free(t->op.qargs);
		free(t->op.qdir);
		free(t->op.qgitdir);
		buf_release(&t->op.out);
	}
	wt_check_free(w);
	buf_release(&w->mop.out);
	free(w->mop.pre);
	strv_free(w->mop.before);
	free(w->mop.dir);
	free(w->mop.tmp);
	free(w->t);
	free(w->git.path);
	free(w->top);
	free(w->prefix);
	free(w->common);
	free(w->base);
	free(w->into);
	free(w->target_dir);
	free(w->id);
	free(w->dir);
	free(w->record);
	free(w->refused);
	json_decref(w->overlaps);
	json_decref(w->violations);
	free(w);
}

