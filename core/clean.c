/*
 * drove clean: removes the worktrees and branches of a run's
 * isolation = worktree tasks that hold nothing unmerged.  It works on a
 * run that was killed.
 *
 * What it removes comes from the record worktree.c keeps under the main
 * repository's git dir, <common>/drove/<run>.refs, never from the
 * journal, which lies in the run directory within the agents' reach: the
 * journal only says where the repository is.  An entry is taken only when
 * its branch is drove/<run>/<task> and its worktree <run dir>/worktrees/
 * <task>, and a worktree is removed only while it is still a linked
 * worktree of that repository (git_worktree_admin).
 *
 * Retention: --failed also removes the worktrees and branches of the tasks
 * the journal says failed (or were cancelled), unmerged or not, and
 * --older-than removes whole run directories whose last journal or summary
 * write is older than that, once nothing of their worktrees is left.  Both
 * go over every run of the runs directory unless a run is named; a run
 * whose lock a live drove holds is never touched.
 */
#include "worktree.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <time.h>

#include "fsutil.h"
#include "git.h"
#include "journal.h"
#include "runlock.h"
#include "util.h"

struct centry {
	char *task, *branch, *path;
	char *gitdir;		/* its admin dir; NULL: not a worktree now */
	char **copied;
	int have_branch, have_dir;
	long ahead;		/* commits not in the target; -1: unknown */
	size_t dirty;		/* uncommitted changes in the worktree */
};

struct cstate {
	char *id, *dir;		/* the run's id and real directory */
	char *top, *into;
	struct centry *e;
	size_t n;
	size_t ignored;		/* record entries that are not drove's */
	char **failed;		/* tasks whose last record is failed or
				 * cancelled */
};

/* What the command was asked. */
struct copts {
	int force;		/* unmerged worktrees too */
	int failed;		/* failed tasks' worktrees too */
	int dry;		/* -n: say what would go, remove nothing */
	int many;		/* over every run: quiet about empty ones */
};

static void
set_failed(struct cstate *c, const char *task, int failed)
{
	size_t n = 0, i;

	while (c->failed != NULL && c->failed[n] != NULL)
		n++;
	for (i = 0; i < n && strcmp(c->failed[i], task) != 0; i++)
		;
	if (failed && i == n) {
		c->failed = xrealloc(c->failed, (n + 2) * sizeof(*c->failed));
		c->failed[n] = xstrdup(task);
		c->failed[n + 1] = NULL;
	} else if (!failed && i < n) {
		free(c->failed[i]);
		c->failed[i] = c->failed[n - 1];
		c->failed[n - 1] = NULL;
	}
}

static int
failed_task(const struct cstate *c, const char *task)
{
	for (size_t i = 0; c->failed != NULL && c->failed[i] != NULL; i++)
		if (strcmp(c->failed[i], task) == 0)
			return 1;
	return 0;
}

/* The journal, for where the repository is and which tasks failed:
 * nothing else is taken from it (what is removed comes from the
 * record). */
static void
journal_event(json_t *ev, void *arg)
{
	struct cstate *c = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *top = json_string_value(json_object_get(ev, "top"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *st = json_string_value(json_object_get(ev, "status"));

	if (type != NULL && strcmp(type, "repo") == 0 && top != NULL) {
		free(c->top);
		c->top = xstrdup(top);
	}
	if (type != NULL && strcmp(type, "task") == 0 && task && st)
		set_failed(c, task, strcmp(st, "failed") == 0 ||
		    strcmp(st, "cancelled") == 0);
}

/* A task name that names one directory entry. */
static int
plain_name(const char *s)
{
	return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/* The record: the target branch and the worktrees drove made. */
static void
record_event(json_t *ev, void *arg)
{
	struct cstate *c = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *br = json_string_value(json_object_get(ev, "branch"));
	const char *wd = json_string_value(json_object_get(ev, "worktree"));
	struct centry *e = NULL;
	char *want_br, *want_wd;
	int ours;

	if (type != NULL && strcmp(type, "repo") == 0) {
		const char *into = json_string_value(json_object_get(ev,
		    "into"));

		if (into) {
			free(c->into);
			c->into = xstrdup(into);
		}
		return;
	}
	if (type == NULL || strcmp(type, "worktree") != 0 || !task || !br ||
	    !wd)
		return;
	/* by name, too: only drove's branches and worktrees of this run */
	want_br = xasprintf("drove/%s/%s", c->id, task);
	want_wd = xasprintf("%s/worktrees/%s", c->dir, task);
	ours = plain_name(task) && strcmp(br, want_br) == 0 &&
	    strcmp(wd, want_wd) == 0;
	free(want_br);
	free(want_wd);
	if (!ours) {
		c->ignored++;
		return;
	}
	for (size_t i = 0; i < c->n && e == NULL; i++)
		if (strcmp(c->e[i].task, task) == 0)
			e = &c->e[i];
	if (e == NULL) {
		c->e = xrealloc(c->e, (c->n + 1) * sizeof(*c->e));
		e = &c->e[c->n++];
		memset(e, 0, sizeof(*e));
		e->task = xstrdup(task);
	}
	free(e->branch);
	free(e->path);
	strv_free(e->copied);
	e->branch = xstrdup(br);
	e->path = xstrdup(wd);
	e->copied = wt_strv_json(json_object_get(ev, "copied"));
}

/* Changes in the worktree at path that no commit holds, copied-in files
 * aside. */
static size_t
uncommitted(struct git *g, const struct centry *e)
{
	char *const *copied = e->copied;
	char **v = git_list(g, e->path, e->gitdir, GIT_ARGS("status",
	    "--porcelain", "-z", "--untracked-files=all"), NULL, 0);
	size_t n = 0;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		const char *p = strlen(v[i]) > 3 ? v[i] + 3 : v[i];
		int copy = 0;

		if (v[i][0] == 'R' || v[i][0] == 'C')
			i++;
		for (size_t k = 0; copied && copied[k] && !copy; k++) {
			size_t cl = strlen(copied[k]);

			copy = strncmp(p, copied[k], cl) == 0 &&
			    (p[cl] == '\0' || p[cl] == '/');
		}
		n += !copy;
	}
	if (v == NULL)
		n = 1;		/* cannot tell: count it as work */
	strv_free(v);
	return n;
}

static void
clean_usage(FILE *f)
{
	fprintf(f, "usage: drove clean [RUN] [--force] [--failed] "
	    "[--older-than AGE] [-n]\n"
	    "                   [--run-dir DIR]\n"
	    "  Removes the git worktrees and branches of a run's tasks "
	    "(isolation = worktree)\n"
	    "  that are merged.  One that holds unmerged commits or "
	    "uncommitted changes is\n"
	    "  listed and kept; --force removes it too, after listing it.\n"
	    "  Only what drove recorded for the run in .git/drove/RUN.refs "
	    "is removed.\n"
	    "  RUN is a run id, a run directory, or 'last' (default; with "
	    "--failed or\n"
	    "  --older-than: every run in the runs directory).  A run that "
	    "is running is\n"
	    "  never touched.\n"
	    "  --force           also remove unmerged worktrees and "
	    "branches\n"
	    "  --failed          also remove those of tasks that failed or "
	    "were cancelled\n"
	    "  --older-than AGE  remove the run directories last written "
	    "more than AGE ago\n"
	    "                    (90s, 30m, 12h, 7d) once none of their "
	    "worktrees is left\n"
	    "  -n, --dry-run     list what would be removed, remove nothing\n"
	    "  --run-dir DIR     where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 1 something could not be removed, 2 usage "
	    "error, no such\nrun, a run that cannot be read, or a named run "
	    "is still running.\n");
}

/* What the entry's branch and worktree hold that the target does not. */
static void
assess(struct git *g, struct cstate *cs, const char *common, struct centry *e,
    int have_into)
{
	char *bref = xasprintf("refs/heads/%s", e->branch);
	char *range = xasprintf("%s..%s", cs->into, e->branch);
	char *ahead = NULL;
	struct stat st;

	e->have_branch = git_run(g, cs->top, NULL, GIT_ARGS("rev-parse",
	    "--verify", "-q", bref), NULL, NULL, 0) == 0;
	e->have_dir = lstat(e->path, &st) == 0;
	if (e->have_dir)
		e->gitdir = git_worktree_admin(common, e->path, NULL);
	if (e->have_branch && have_into)
		ahead = git_str(g, cs->top, NULL, GIT_ARGS("rev-list",
		    "--count", range), NULL, 0);
	e->ahead = !e->have_branch ? 0 : ahead ? atol(ahead) : -1;
	e->dirty = e->gitdir != NULL ? uncommitted(g, e) : 0;
	free(ahead);
	free(range);
	free(bref);
}

static void
list_unmerged(const struct cstate *cs, const struct centry *e,
    const char *how)
{
	const char *sep = " ";

	printf("%s %-20s", how, e->task);
	if (e->ahead > 0) {
		printf("%sbranch %s has %ld commit%s not in '%s'", sep,
		    e->branch, e->ahead, e->ahead == 1 ? "" : "s", cs->into);
		sep = "; ";
	} else if (e->ahead < 0) {
		printf("%sbranch %s: '%s' is gone", sep, e->branch, cs->into);
		sep = "; ";
	}
	if (e->dirty)
		printf("%s%zu uncommitted change%s in %s", sep, e->dirty,
		    e->dirty == 1 ? "" : "s", e->path);
	printf("\n");
}

/* Removes the entry's worktree, then its branch (dry: says it would).
 * Returns 0 or -1. */
static int
remove_entry(struct git *g, const struct cstate *cs, const struct centry *e,
    int dry)
{
	char msg[512];

	if (dry) {
		printf("would remove %-20s %s\n", e->task, e->branch);
		return 0;
	}
	if (e->gitdir != NULL && git_run(g, cs->top, NULL, GIT_ARGS("worktree",
	    "remove", "--force", e->path), NULL, msg, sizeof(msg)) != 0) {
		log_warnx("clean: %s: %s", e->path, msg);
		return -1;
	}
	if (e->have_branch && git_run(g, cs->top, NULL, GIT_ARGS("branch",
	    "-D", "-q", e->branch), NULL, msg, sizeof(msg)) != 0) {
		log_warnx("clean: %s: %s", e->branch, msg);
		return -1;
	}
	printf("removed %-20s %s\n", e->task, e->branch);
	return 0;
}

/* Removes the merge phase's temporary worktree, if the run left one. */
static void
remove_merge_tree(struct git *g, const struct cstate *cs, const char *common)
{
	char *mt = xasprintf("%s/merge-tree", cs->dir);
	char *admin = git_worktree_admin(common, mt, NULL);

	if (admin != NULL)
		(void)git_run(g, cs->top, NULL, GIT_ARGS("worktree", "remove",
		    "--force", mt), NULL, NULL, 0);
	free(admin);
	free(mt);
}

static void
cstate_release(struct cstate *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->e[i].task);
		free(cs->e[i].branch);
		free(cs->e[i].path);
		free(cs->e[i].gitdir);
		strv_free(cs->e[i].copied);
	}
	free(cs->e);
	strv_free(cs->failed);
	free(cs->id);
	free(cs->dir);
	free(cs->top);
	free(cs->into);
}

/*
 * Cleans the worktrees and branches of the run in the real directory
 * real (which names it in messages).  *clear is set when nothing of them
 * is left (or there were none).  Returns 0, 1 when something could not
 * be removed, 2 when the run or its record cannot be read.
 */
static int
clean_run(const char *which, const char *real, const struct copts *o,
    int *clear)
{
	struct cstate cs;
	struct git g;
	char *jp, *ref, *wd, *common = NULL, *rec = NULL, msg[512];
	size_t removed = 0, kept = 0, errors = 0, foreign = 0;
	int rc, have_into;

	*clear = 0;
	memset(&cs, 0, sizeof(cs));
	memset(&g, 0, sizeof(g));
	cs.dir = xstrdup(real);
	cs.id = xstrdup(strrchr(real, '/') ? strrchr(real, '/') + 1 : real);
	jp = xasprintf("%s/journal.jsonl", cs.dir);
	rc = journal_replay(jp, journal_event, &cs, NULL);
	if (rc < 0) {
		log_warnx("clean: cannot read '%s': %s", jp, strerror(-rc));
		rc = 2;
		goto out;
	}
	rc = 0;
	if (cs.top == NULL) {
		if (!o->many)
			printf("run '%s' has no worktrees\n", which);
		*clear = 1;
		goto out;
	}
	/* a repository that is gone took its branches and the record: what
	 * the run directory still holds is for the user to look at */
	if (access(cs.top, F_OK) < 0 && errno == ENOENT) {
		wd = xasprintf("%s/worktrees", cs.dir);
		*clear = !fs_exists(wd);
		if (!*clear)
			printf("kept %s: its repository '%s' is gone; look at "
			    "'%s' and remove it by hand\n", cs.id, cs.top, wd);
		free(wd);
		goto out;
	}
	g.timeout_s = GIT_TIMEOUT_S;
	if ((g.path = git_find()) == NULL) {
		log_warnx("clean: git is not in PATH");
		rc = 2;
		goto out;
	}
	common = git_str(&g, cs.top, NULL, GIT_ARGS("rev-parse",
	    "--path-format=absolute", "--git-common-dir"), msg, sizeof(msg));
	if (common == NULL) {
		log_warnx("clean: '%s': %s", cs.top, msg);
		rc = 2;
		goto out;
	}
	rec = xasprintf("%s/drove/%s.refs", common, cs.id);
	rc = journal_replay(rec, record_event, &cs, NULL);
	if (rc == -ENOENT || (rc == 0 && cs.n == 0)) {
		if (!o->many)
			printf("run '%s' has no worktrees that drove recorded "
			    "in '%s'\n", which, rec);
		/* what is left is no worktree of drove's: the directory
		 * stays when one is still there */
		*clear = 1;
		rc = 0;
		goto out;
	}
	if (rc < 0 || cs.into == NULL) {
		log_warnx("clean: cannot read '%s': %s", rec, rc < 0 ?
		    strerror(-rc) : "no target branch");
		rc = 2;
		goto out;
	}
	if (o->many)
		printf("run %s:\n", cs.id);
	if (cs.ignored)
		log_warnx("clean: ignored %zu entr%s of '%s' that name no "
		    "branch or worktree of run '%s'", cs.ignored,
		    cs.ignored == 1 ? "y" : "ies", rec, cs.id);
	ref = xasprintf("refs/heads/%s", cs.into);
	have_into = git_run(&g, cs.top, NULL, GIT_ARGS("rev-parse", "--verify",
	    "-q", ref), NULL, NULL, 0) == 0;
	free(ref);
	for (size_t i = 0; i < cs.n; i++)
		assess(&g, &cs, common, &cs.e[i], have_into);
	/* what holds unmerged work is listed before anything goes */
	for (size_t i = 0; i < cs.n; i++) {
		struct centry *e = &cs.e[i];
		int failed = o->failed && failed_task(&cs, e->task);

		if (e->have_dir && e->gitdir == NULL) {
			printf("kept %-20s '%s' is no longer a worktree drove "
			    "made; look at it and remove it by hand\n",
			    e->task, e->path);
			foreign++;
			continue;
		}
		if (e->ahead == 0 && e->dirty == 0)
			continue;
		list_unmerged(&cs, e, o->force ? "unmerged, removing:" :
		    failed ? "failed, removing:" : "kept (unmerged):");
		kept += !o->force && !failed;
	}
	for (size_t i = 0; i < cs.n; i++) {
		struct centry *e = &cs.e[i];

		if (!e->have_branch && !e->have_dir)
			continue;
		if (e->have_dir && e->gitdir == NULL)
			continue;
		if ((e->ahead != 0 || e->dirty != 0) && !o->force &&
		    !(o->failed && failed_task(&cs, e->task)))
			continue;
		if (remove_entry(&g, &cs, e, o->dry) < 0)
			errors++;
		else
			removed++;
	}
	if (!o->dry) {
		remove_merge_tree(&g, &cs, common);
		(void)git_run(&g, cs.top, NULL, GIT_ARGS("worktree", "prune"),
		    NULL, NULL, 0);
		wd = xasprintf("%s/worktrees", cs.dir);
		(void)rmdir(wd);
		free(wd);
	}
	*clear = kept == 0 && foreign == 0 && errors == 0;
	/* nothing of the run is left: neither is its record */
	if (*clear && !o->dry)
		(void)unlink(rec);
	printf("%s %zu, kept %zu%s\n", o->dry ? "would remove" : "removed",
	    removed, kept + foreign, kept ? " (--force removes the unmerged "
	    "ones too)" : "");
	rc = errors ? 1 : 0;
out:
	cstate_release(&cs);
	free(g.path);
	free(common);
	free(rec);
	free(jp);
	return rc;
}

/* The newest modification time of the run's journal and summary, or 0
 * when it has neither (not a run). */
static time_t
run_mtime(const char *dir)
{
	static const char *const files[] = { "journal.jsonl", "summary.json" };
	time_t t = 0;

	for (size_t i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s", dir, files[i]);
		struct stat st;

		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_mtime > t)
			t = st.st_mtime;
		free(p);
	}
	return t;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of root's entries that may be runs, sorted (oldest first, as
 * run ids sort), or NULL when root cannot be read. */
static char **
run_names(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	if (d == NULL)
		return NULL;
	v = xcalloc(1, sizeof(*v));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "last") == 0)
			continue;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), by_name);
	return v;
}

/* Removes the run directory path (root/name) whose worktrees are gone,
 * holding its lock meanwhile so that no drove resumes it, and root/last
 * when it names the run.  Returns 0 or -1. */
static int
remove_run(const char *root, const char *name, const char *path, int dry)
{
	struct runlock lk;
	char err[512], target[PATH_MAX], *link, *wd;
	long owner;
	ssize_t n;
	int rc;

	wd = xasprintf("%s/worktrees", path);
	rc = fs_exists(wd);
	free(wd);
	/* -n removed no worktree: the directory would be empty by now only
	 * if it holds nothing but the ones listed */
	if (dry) {
		printf("would remove run %s%s\n", name, rc ? " (once its "
		    "worktrees directory is empty)" : "");
		return 0;
	}
	if (rc) {
		printf("kept run %s: its worktrees directory holds what drove "
		    "did not record; look at it and remove it by hand\n",
		    name);
		return 0;
	}
	memset(&lk, 0, sizeof(lk));
	if (runlock_take(&lk, path, &owner, err, sizeof(err)) < 0) {
		printf("kept run %s: %s\n", name, err);
		return 0;
	}
	rc = fs_remove_tree(path);
	runlock_release(&lk);
	if (rc < 0) {
		log_warnx("clean: cannot remove '%s': %s", path,
		    strerror(-rc));
		return -1;
	}
	printf("removed run %s\n", name);
	link = xasprintf("%s/last", root);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (strcmp(target, name) == 0)
			(void)unlink(link);
	}
	free(link);
	return 0;
}

/* Every run of root not running: its worktrees as clean_run does, then,
 * with older_than >= 0, the directories of runs last written longer ago
 * than that.  Returns 0, 1 or 2 as cmd_clean. */
static int
clean_all(const char *root, double older_than, const struct copts *o)
{
	char **names = run_names(root);
	time_t now = time(NULL);
	size_t runs = 0, skipped = 0;
	int rc = 0;

	if (names == NULL) {
		log_warnx("clean: cannot read '%s': %s", root,
		    strerror(errno));
		return 2;
	}
	for (size_t i = 0; names[i] != NULL; i++) {
		char *path = xasprintf("%s/%s", root, names[i]);
		char real[PATH_MAX];
		struct stat st;
		time_t t;
		long owner;
		int clear, r;

		/* a run directory drove made: a directory, not a link, with
		 * a journal or a summary */
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    (t = run_mtime(path)) == 0 ||
		    (older_than >= 0 && difftime(now, t) < older_than) ||
		    realpath(path, real) == NULL) {
			free(path);
			continue;
		}
		if (runlock_owner(real, &owner) == 1) {
			printf("skipped run %s: it is running (drove pid "
			    "%ld)\n", names[i], owner);
			skipped++;
			free(path);
			continue;
		}
		r = clean_run(names[i], real, o, &clear);
		if (r == 0 && clear && older_than >= 0 &&
		    remove_run(root, names[i], path, o->dry) < 0)
			r = 1;
		else if (r == 0 && !clear && older_than >= 0)
			printf("kept run %s: it still has worktrees\n",
			    names[i]);
		rc = r > rc ? r : rc;
		runs++;
		free(path);
	}
	printf("%zu run%s looked at%s", runs, runs == 1 ? "" : "s",
	    skipped ? "" : "\n");
	if (skipped)
		printf(", %zu running left alone\n", skipped);
	strv_free(names);
	return rc;
}

int
cmd_clean(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "failed", no_argument, NULL, 'F' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = ".drove/runs", *which = NULL;
	struct copts o;
	char *dir, real[PATH_MAX];
	double older_than = -1;
	int c, rc, clear;
	long owner;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "fnh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o.force = 1; break;
		case 'F': o.failed = 1; break;
		case 'o':
			if (parse_duration(optarg, &older_than) < 0) {
				log_warnx("clean: bad value '%s' for "
				    "--older-than (expected a duration: 90s, "
				    "30m, 12h, 7d)", optarg);
				return 2;
			}
			break;
		case 'n': o.dry = 1; break;
		case 'r': root = optarg; break;
		case 'h': clean_usage(stdout); return 0;
		default: clean_usage(stderr); return 2;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc) {
		log_warnx("clean: unexpected argument '%s' (one run only)",
		    argv[optind]);
		return 2;
	}
	if (which == NULL && (o.failed || older_than >= 0)) {
		o.many = 1;
		return clean_all(root, older_than, &o);
	}
	if (which == NULL)
		which = "last";
	dir = strchr(which, '/') ? xstrdup(which) :
	    xasprintf("%s/%s", root, which);
	if (realpath(dir, real) == NULL) {
		log_warnx("clean: cannot read '%s': %s", dir, strerror(errno));
		free(dir);
		return 2;
	}
	/* a live run's worktrees are its agents' working directories */
	if (runlock_owner(real, &owner) == 1) {
		log_warnx("clean: run '%s' is running (drove pid %ld); clean "
		    "it once it has ended", which, owner);
		free(dir);
		return 2;
	}
	rc = clean_run(which, real, &o, &clear);
	if (rc == 0 && clear && older_than >= 0 &&
	    difftime(time(NULL), run_mtime(real)) >= older_than &&
	    remove_run(root, strrchr(real, '/') ? strrchr(real, '/') + 1 :
	    real, real, o.dry) < 0)
		rc = 1;
	free(dir);
	return rc;
}
