/*
 * drove clean: removes the worktrees and branches of a run's
 * isolation = worktree tasks that hold nothing unmerged.  It reads what
 * there is from the run's journal (the "repo" and "worktree" events of
 * worktree.c), so it works on a run that was killed.
 */
#include "worktree.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "journal.h"
#include "util.h"

static int
path_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

struct centry {
	char *task, *branch, *path;
	char **copied;
	int have_branch, have_dir;
	long ahead;		/* commits not in the target; -1: unknown */
	size_t dirty;		/* uncommitted changes in the worktree */
};

struct cstate {
	char *top, *into;
	struct centry *e;
	size_t n;
};

static void
clean_event(json_t *ev, void *arg)
{
	struct cstate *c = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *br = json_string_value(json_object_get(ev, "branch"));
	const char *wd = json_string_value(json_object_get(ev, "worktree"));
	struct centry *e = NULL;

	if (type != NULL && strcmp(type, "repo") == 0) {
		const char *top = json_string_value(json_object_get(ev, "top"));
		const char *into = json_string_value(json_object_get(ev,
		    "into"));

		if (top && into) {
			free(c->top);
			free(c->into);
			c->top = xstrdup(top);
			c->into = xstrdup(into);
		}
		return;
	}
	if (type == NULL || strcmp(type, "worktree") != 0 || !task || !br ||
	    !wd)
		return;
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
uncommitted(struct git *g, const char *path, char *const *copied)
{
	char **v = git_list(g, path, NULL, GIT_ARGS("status", "--porcelain",
	    "-z", "--untracked-files=all"), NULL, 0);
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
	    "  RUN is a run id, a run directory, or 'last' (default).\n"
	    "  --force        also remove unmerged worktrees and branches\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n");
}

/* What the entry's branch and worktree hold that the target does not. */
static void
assess(struct git *g, struct cstate *cs, struct centry *e, int have_into)
{
	char *bref = xasprintf("refs/heads/%s", e->branch);
	char *range = xasprintf("%s..%s", cs->into, e->branch);
	char *ahead = NULL;

	e->have_branch = git_run(g, cs->top, NULL, GIT_ARGS("rev-parse",
	    "--verify", "-q", bref), NULL, NULL, 0) == 0;
	e->have_dir = path_exists(e->path);
	if (e->have_branch && have_into)
		ahead = git_str(g, cs->top, NULL, GIT_ARGS("rev-list",
		    "--count", range), NULL, 0);
	e->ahead = !e->have_branch ? 0 : ahead ? atol(ahead) : -1;
	e->dirty = e->have_dir ? uncommitted(g, e->path, e->copied) : 0;
	free(ahead);
	free(range);
	free(bref);
}

static void
list_unmerged(const struct cstate *cs, const struct centry *e, int force)
{
	printf("%s %-20s", force ? "unmerged, removing:" : "kept (unmerged):",
	    e->task);
	if (e->ahead > 0)
		printf(" branch %s has %ld commit%s not in '%s';", e->branch,
		    e->ahead, e->ahead == 1 ? "" : "s", cs->into);
	else if (e->ahead < 0)
		printf(" branch %s: '%s' is gone;", e->branch, cs->into);
	if (e->dirty)
		printf(" %zu uncommitted change%s in %s;", e->dirty,
		    e->dirty == 1 ? "" : "s", e->path);
	printf("\n");
}

/* Removes the entry's worktree, then its branch.  Returns 0 or -1. */
static int
remove_entry(struct git *g, const struct cstate *cs, const struct centry *e)
{
	char msg[512];

	if (e->have_dir && git_run(g, cs->top, NULL, GIT_ARGS("worktree",
	    "remove", "--force", e->path), NULL, msg, sizeof(msg)) != 0) {
		log_warnx("clean: %s: %s", e->path, msg);
		return -1;
	}
	if (e->have_branch && git_run(g, cs->top, NULL, GIT_ARGS("branch", "-D",
	    "-q", e->branch), NULL, msg, sizeof(msg)) != 0) {
		log_warnx("clean: %s: %s", e->branch, msg);
		return -1;
	}
	printf("removed %-20s %s\n", e->task, e->branch);
	return 0;
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
	char *dir, *jp, *ref, *mt, *wd;
	size_t removed = 0, kept = 0, errors = 0;
	int c, force = 0, rc, have_into;

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
	jp = xasprintf("%s/journal.jsonl", dir);
	rc = journal_replay(jp, clean_event, &cs, NULL);
	if (rc < 0) {
		log_warnx("clean: cannot read '%s': %s", jp, strerror(-rc));
		rc = 2;
		goto out;
	}
	rc = 0;
	if (cs.n == 0 || cs.top == NULL) {
		printf("run '%s' has no worktrees\n", which);
		goto out;
	}
	if ((g.path = git_find()) == NULL) {
		log_warnx("clean: git is not in PATH");
		rc = 2;
		goto out;
	}
	ref = xasprintf("refs/heads/%s", cs.into);
	have_into = git_run(&g, cs.top, NULL, GIT_ARGS("rev-parse", "--verify",
	    "-q", ref), NULL, NULL, 0) == 0;
	free(ref);
	for (size_t i = 0; i < cs.n; i++)
		assess(&g, &cs, &cs.e[i], have_into);
	/* what holds unmerged work is listed before anything goes */
	for (size_t i = 0; i < cs.n; i++) {
		struct centry *e = &cs.e[i];

		if (e->ahead == 0 && e->dirty == 0)
			continue;
		list_unmerged(&cs, e, force);
		kept += !force;
	}
	for (size_t i = 0; i < cs.n; i++) {
		struct centry *e = &cs.e[i];

		if (!e->have_branch && !e->have_dir)
			continue;
		if ((e->ahead != 0 || e->dirty != 0) && !force)
			continue;
		if (remove_entry(&g, &cs, e) < 0)
			errors++;
		else
			removed++;
	}
	mt = xasprintf("%s/merge-tree", dir);
	wd = xasprintf("%s/worktrees", dir);
	if (path_exists(mt))
		(void)git_run(&g, cs.top, NULL, GIT_ARGS("worktree", "remove",
		    "--force", mt), NULL, NULL, 0);
	(void)git_run(&g, cs.top, NULL, GIT_ARGS("worktree", "prune"), NULL,
	    NULL, 0);
	(void)rmdir(wd);
	free(mt);
	free(wd);
	printf("removed %zu, kept %zu%s\n", removed, kept, kept ?
	    " (--force removes those too)" : "");
	rc = errors ? 1 : 0;
out:
	for (size_t i = 0; i < cs.n; i++) {
		free(cs.e[i].task);
		free(cs.e[i].branch);
		free(cs.e[i].path);
		strv_free(cs.e[i].copied);
	}
	free(cs.e);
	free(cs.top);
	free(cs.into);
	free(g.path);
	free(jp);
	free(dir);
	return rc;
}
