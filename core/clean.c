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
};

/* The journal, for where the repository is: nothing else is taken from
 * it. */
static void
journal_event(json_t *ev, void *arg)
{
	struct cstate *c = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *top = json_string_value(json_object_get(ev, "top"));

	if (type != NULL && strcmp(type, "repo") == 0 && top != NULL) {
		free(c->top);
		c->top = xstrdup(top);
	}
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
	fprintf(f, "usage: drove clean [RUN] [--force] [--run-dir DIR]\n"
	    "  Removes the git worktrees and branches of a run's tasks "
	    "(isolation = worktree)\n"
	    "  that are merged.  One that holds unmerged commits or "
	    "uncommitted changes is\n"
	    "  listed and kept; --force removes it too, after listing it.\n"
	    "  Only what drove recorded for the run in .git/drove/RUN.refs "
	    "is removed.\n"
	    "  RUN is a run id, a run directory, or 'last' (default).\n"
	    "  --force        also remove unmerged worktrees and branches\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 1 something could not be removed, 2 usage "
	    "error, no such\nrun, or the run is still running.\n");
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
list_unmerged(const struct cstate *cs, const struct centry *e, int force)
{
	const char *sep = " ";

	printf("%s %-20s", force ? "unmerged, removing:" : "kept (unmerged):",
	    e->task);
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

/* Removes the entry's worktree, then its branch.  Returns 0 or -1. */
static int
remove_entry(struct git *g, const struct cstate *cs, const struct centry *e)
{
	char msg[512];

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
	free(cs->id);
	free(cs->dir);
	free(cs->top);
	free(cs->into);
}

int
cmd_clean(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = ".drove/runs", *which = "last";
	struct cstate cs;
	struct git g;
	char *dir, *jp = NULL, *ref, *wd, *common = NULL, *rec = NULL;
	char real[PATH_MAX], msg[512];
	size_t removed = 0, kept = 0, errors = 0, foreign = 0;
	int c, force = 0, rc, have_into;
	long owner;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = 1; break;
		case 'r': root = optarg; break;
		case 'h': clean_usage(stdout); return 0;
		default: clean_usage(stderr); return 2;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc) {
		clean_usage(stderr);
		return 2;
	}
	memset(&cs, 0, sizeof(cs));
	memset(&g, 0, sizeof(g));
	dir = strchr(which, '/') ? xstrdup(which) :
	    xasprintf("%s/%s", root, which);
	if (realpath(dir, real) == NULL) {
		log_warnx("clean: cannot read '%s': %s", dir, strerror(errno));
		rc = 2;
		goto out;
	}
	/* a live run's worktrees are its agents' working directories */
	if (runlock_owner(real, &owner) == 1) {
		log_warnx("clean: run '%s' is running (drove pid %ld); clean "
		    "it once it has ended", which, owner);
		rc = 2;
		goto out;
	}
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
		printf("run '%s' has no worktrees\n", which);
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
		printf("run '%s' has no worktrees that drove recorded in "
		    "'%s'\n", which, rec);
		rc = 0;
		goto out;
	}
	if (rc < 0 || cs.into == NULL) {
		log_warnx("clean: cannot read '%s': %s", rec, rc < 0 ?
		    strerror(-rc) : "no target branch");
		rc = 2;
		goto out;
	}
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

		if (e->have_dir && e->gitdir == NULL) {
			printf("kept %-20s '%s' is no longer a worktree drove "
			    "made; look at it and remove it by hand\n",
			    e->task, e->path);
			foreign++;
			continue;
		}
		if (e->ahead == 0 && e->dirty == 0)
			continue;
		list_unmerged(&cs, e, force);
		kept += !force;
	}
	for (size_t i = 0; i < cs.n; i++) {
		struct centry *e = &cs.e[i];

		if (!e->have_branch && !e->have_dir)
			continue;
		if (e->have_dir && e->gitdir == NULL)
			continue;
		if ((e->ahead != 0 || e->dirty != 0) && !force)
			continue;
		if (remove_entry(&g, &cs, e) < 0)
			errors++;
		else
			removed++;
	}
	remove_merge_tree(&g, &cs, common);
	(void)git_run(&g, cs.top, NULL, GIT_ARGS("worktree", "prune"), NULL,
	    NULL, 0);
	wd = xasprintf("%s/worktrees", cs.dir);
	(void)rmdir(wd);
	free(wd);
	/* nothing of the run is left: neither is its record */
	if (kept == 0 && foreign == 0 && errors == 0)
		(void)unlink(rec);
	printf("removed %zu, kept %zu%s\n", removed, kept + foreign, kept ?
	    " (--force removes the unmerged ones too)" : "");
	rc = errors ? 1 : 0;
out:
	cstate_release(&cs);
	free(g.path);
	free(common);
	free(rec);
	free(jp);
	free(dir);
	return rc;
}
