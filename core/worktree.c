/*
 * Worktree isolation, the merge phase and `drove clean`.  See worktree.h.
 *
 * Journal events (journal.jsonl of the run):
 *   {"ev":"repo","top":DIR,"base":SHA,"into":BRANCH}
 *   {"ev":"worktree","task":T,"branch":B,"worktree":DIR,"start":SHA,
 *    "copied":[PATH]}
 *   {"ev":"commit","task":T,"commit":SHA|null,"changed_files":[PATH]}
 *   {"ev":"merge","task":T,"into":BRANCH,"merged":BOOL,"conflict":[PATH],
 *    "error":TEXT}
 */
#include "worktree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "git.h"
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

/*
 * Appends ev as a line to the run's record under the common git dir,
 * which drove clean trusts (the journal, in the run directory, is
 * within the agents' reach; the record is not in any worktree).  Borrows
 * ev.
 */
static void
record(struct wt *w, json_t *ev)
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

static const char *
tname(const struct wt *w, size_t i)
{
	return w->g->tasks[i].name;
}

/* --- git, in the repository of w -------------------------------------- */

static int
wt_git(struct wt *w, const char *dir, const char *const *args,
    struct buf *out, char *err, size_t errlen)
{
	return git_run(&w->git, dir, NULL, args, out, err, errlen);
}

static char *
wt_gits(struct wt *w, const char *dir, const char *const *args, char *err,
    size_t errlen)
{
	return git_str(&w->git, dir, NULL, args, err, errlen);
}

static char **
wt_gitl(struct wt *w, const char *dir, const char *const *args, char *err,
    size_t errlen)
{
	return git_list(&w->git, dir, NULL, args, err, errlen);
}

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

/* --- small helpers ------------------------------------------------------ */

static json_t *
json_strv(char *const *v)
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

static char *
strv_join(char *const *v, const char *sep)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (i)
			buf_adds(&b, sep);
		buf_adds(&b, v[i]);
	}
	return buf_detach(&b, NULL);
}

static int
strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static void
jlog(struct wt *w, json_t *ev)
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

/* True for a relative path that stays below the directory it is in. */
static int
inside_path(const char *p)
{
	const char *s = p;

	if (*p == '\0' || *p == '/')
		return 0;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += n;
		while (*s == '/')
			s++;
	}
	return 1;
}

/* Copies a file, a symbolic link or a directory tree from src to dst,
 * creating dst's parents.  Returns 0 or -errno. */
static int
copy_tree(const char *src, const char *dst)
{
	struct stat st;
	char *parent = xstrdup(dst), *slash = strrchr(parent, '/');
	int rc = 0;

	if (slash != NULL) {
		*slash = '\0';
		rc = mkdir_p(parent, 0777);
	}
	free(parent);
	if (rc < 0)
		return rc;
	if (lstat(src, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		(void)unlink(dst);
		return symlink(target, dst) < 0 ? -errno : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *de;

		if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST)
			return -errno;
		if ((d = opendir(src)) == NULL)
			return -errno;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			char *s, *t;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			s = xasprintf("%s/%s", src, de->d_name);
			t = xasprintf("%s/%s", dst, de->d_name);
			rc = copy_tree(s, t);
			free(s);
			free(t);
		}
		closedir(d);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	char *data;
	size_t len;
	int fd;

	if ((rc = read_file(src, &data, &len)) < 0)
		return rc;
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    st.st_mode & 07777);
	if (fd < 0)
		rc = -errno;
	else {
		rc = write_all(fd, data, len);
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
	}
	free(data);
	return rc;
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
			if (!inside_path(v[k])) {
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
static char *
dirty_files(struct wt *w, const char *dir)
{
	char **v = wt_gitl(w, dir, GIT_ARGS("status", "--porcelain", "-z",
	    "--untracked-files=no"), NULL, 0);
	struct buf b = BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		const char *p = strlen(v[i]) > 3 ? v[i] + 3 : v[i];

		/* a rename's second entry is the old name */
		if (v[i][0] == 'R' || v[i][0] == 'C')
			i++;
		if (n < 5)
			buf_printf(&b, "%s%s", n ? ", " : "", p);
		n++;
	}
	if (n > 5)
		buf_printf(&b, " and %zu more", n - 5);
	strv_free(v);
	if (n == 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
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
		char *dirty = dirty_files(w, w->target_dir);

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
wt_start(struct wt *w, const char *id, const char *dir, struct journal *j,
    int resume, char *err, size_t errlen)
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
	record(w, ev);
	jlog(w, ev);
	return 0;
}

const char *
wt_workdir(const struct wt *w, size_t task)
{
	return w != NULL && w->t[task].on ? w->t[task].workdir : NULL;
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

static int
path_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
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

		if (!(missing_only && path_exists(dst)))
			rc = copy_tree(t->copy[k], dst);
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
	if (path_exists(t->path) && wt_git(w, w->top, GIT_ARGS("worktree",
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
		list = strv_join(files, ", ");
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
	record(w, ev);
	jlog(w, ev);
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
		if (!path_exists(t->path)) {
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
	} else if (path_exists(t->path) && rmdir(t->path) < 0) {
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
	json_object_set_new(ev, "changed_files", json_strv(t->changed));
	jlog(w, ev);
	return 0;
}

/* --- after the run ------------------------------------------------------ */

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
		if (strv_has(cb, ca[k]))
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
	json_object_set_new(o, "files", json_strv(both));
	json_array_append_new(w->overlaps, o);
	list = strv_join(both, ", ");
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
		json_object_set_new(o, "file", json_string(file));
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
		char *dirty = dirty_files(w, dir);

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
		json_object_set_new(ev, "conflict", json_strv(t->conflict));
	if (t->merge_error)
		json_object_set_new(ev, "error", json_string(t->merge_error));
	jlog(w, ev);
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
	if (dir != NULL && (dirty = dirty_files(w, dir)) != NULL) {
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
			list = strv_join(t->conflict, ", ");
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
		    json_strv(t->changed));
		json_object_set_new(o, "merged", json_boolean(t->merged));
		json_object_set_new(o, "conflict", json_strv(t->conflict));
		if (t->merge_error)
			json_object_set_new(o, "merge_error",
			    json_string(t->merge_error));
		if (t->merged)
			json_array_append_new(merged,
			    json_string(tname(w, i)));
		if (t->conflict)
			json_object_set_new(conflicts, tname(w, i),
			    json_strv(t->conflict));
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
	}
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
