/*
 * The merge gate of worktree isolation: `check = CMD` ([drove], or a
 * task's own) runs on the target's tree after each branch is merged, and
 * a merge it fails is undone (wtmerge.c); after the last merge the
 * [drove] check runs once more on the whole result.  `merge_order`
 * chooses the order of the merges.  The check runs like git, as a child
 * on the run's loop in the one queue of wtop.c, with its own timeout
 * ([drove] or the task's check_timeout).
 */
#include "worktree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "drove/plugin.h"
#include "envfilter.h"
#include "spawn.h"
#include "util.h"
#include "wtint.h"

/* Seconds a check may take unless check_timeout says. */
#define CHECK_TIMEOUT_S 1800.0
/* Lines of each of the check's streams kept for the report. */
#define CHECK_TAIL_LINES 10
/* Bytes of each stream kept at most, however long its lines. */
#define CHECK_TAIL_BYTES 2048

/* A check command from key of section s: a new argv, or NULL when the key
 * is absent; a value that does not split is DROVE_EINVAL. */
static int
check_argv(const struct conf_section *s, const char *who, char ***out,
    char *err, size_t errlen)
{
	const char *v = s ? conf_get(s, "check") : NULL;
	char why[128], where[256];

	*out = NULL;
	if (v == NULL)
		return 0;
	if ((*out = argv_split(v, why, sizeof(why))) == NULL) {
		conf_where(s, "check", where, sizeof(where));
		errf(err, errlen, "%s: %s: check: %s", where, who, why);
		return DROVE_EINVAL;
	}
	return 0;
}

/* A check on task gt that has no worktree: a load error, as the check
 * gates the merge of a branch the task does not have. */
static int
task_without_worktree(const struct task *gt, char *err, size_t errlen)
{
	const char *k = conf_get(gt->sec, "check") ? "check" :
	    conf_get(gt->sec, "check_timeout") ? "check_timeout" : NULL;
	char where[256];

	if (k == NULL)
		return 0;
	conf_where(gt->sec, k, where, sizeof(where));
	errf(err, errlen, "%s: task '%s': %s needs isolation = worktree (it "
	    "gates the merge of the task's branch)", where, gt->name, k);
	return DROVE_EINVAL;
}

int
wt_check_unused(const struct graph *g, const struct conf_section *d,
    char *err, size_t errlen)
{
	static const char *const keys[] = {
		"check", "check_timeout", "merge_order", NULL
	};
	char where[256];
	int rc;

	for (size_t i = 0; i < g->n; i++)
		if ((rc = task_without_worktree(&g->tasks[i], err,
		    errlen)) < 0)
			return rc;
	/* [drove] may come from a configuration file shared by runs with
	 * and without worktrees: said, not refused */
	for (size_t k = 0; d != NULL && keys[k] != NULL; k++) {
		if (conf_get(d, keys[k]) == NULL)
			continue;
		conf_where(d, keys[k], where, sizeof(where));
		log_warnx("%s: warning: [drove] %s has no effect: no task has "
		    "isolation = worktree, so nothing is merged", where,
		    keys[k]);
	}
	return 0;
}

int
wt_check_open(struct wt *w, char *err, size_t errlen)
{
	const char *order = w->d ? conf_get(w->d, "merge_order") : NULL;
	char where[256];
	int rc;

	if (order != NULL && strcmp(order, "fewest_files_first") == 0)
		w->fewest_first = 1;
	else if (order != NULL && strcmp(order, "declared") != 0) {
		conf_where(w->d, "merge_order", where, sizeof(where));
		errf(err, errlen, "%s: [drove]: bad value '%s' for "
		    "'merge_order' (declared or fewest_files_first)", where,
		    order);
		return DROVE_EINVAL;
	}
	rc = check_argv(w->d, "[drove]", &w->check, err, errlen);
	if (rc == 0 && w->d != NULL)
		rc = conf_get_duration(w->d, "check_timeout", CHECK_TIMEOUT_S,
		    0, 1e9, &w->check_timeout_s, err, errlen);
	else
		w->check_timeout_s = CHECK_TIMEOUT_S;
	for (size_t i = 0; rc == 0 && i < w->g->n; i++) {
		const struct task *gt = &w->g->tasks[i];
		char who[300];

		if (gt->isolation != ISOLATION_WORKTREE) {
			rc = task_without_worktree(gt, err, errlen);
			continue;
		}
		snprintf(who, sizeof(who), "task '%s'", gt->name);
		rc = check_argv(gt->sec, who, &w->t[i].check, err, errlen);
		if (rc == 0)
			rc = conf_get_duration(gt->sec, "check_timeout",
			    w->check_timeout_s, 0, 1e9,
			    &w->t[i].check_timeout_s, err, errlen);
	}
	return rc;
}

/* How many files task i changed, for fewest_files_first. */
static size_t
nfiles(const struct wt *w, size_t i)
{
	return w->t[i].on ? strv_len(w->t[i].changed) : 0;
}

void
wt_check_order(struct wt *w)
{
	const struct graph *g = w->g;
	unsigned char *placed;
	size_t n = 0;

	free(w->order);
	w->order = xcalloc(g->n + 1, sizeof(*w->order));
	if (!w->fewest_first) {
		memcpy(w->order, g->topo, g->n * sizeof(*w->order));
		return;
	}
	/* a task comes after its dependencies (its branch holds theirs);
	 * among the tasks whose dependencies are placed, the one with the
	 * fewest changed files, then the one declared first */
	placed = xcalloc(g->n + 1, 1);
	while (n < g->n) {
		size_t best = g->n;

		for (size_t i = 0; i < g->n; i++) {
			size_t d;

			if (placed[i])
				continue;
			for (d = 0; d < g->tasks[i].ndeps; d++)
				if (!placed[g->tasks[i].deps[d].task])
					break;
			if (d < g->tasks[i].ndeps)
				continue;
			if (best == g->n || nfiles(w, i) < nfiles(w, best))
				best = i;
		}
		placed[best] = 1;
		w->order[n++] = best;
	}
	free(placed);
}

/* --- the check as a child ------------------------------------------------ */

/* Variables that would point a git command in the check at another
 * repository than the tree it checks. */
static const char *const check_drop[] = {
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX",
	"GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", NULL
};

struct checkcmd {
	char *name;		/* argv[0], for messages */
	char *errpath;		/* its stderr, a temporary file */
	double timeout_s;
	git_done_fn done;
	void *arg;
};

/* The last CHECK_TAIL_LINES lines of s (at most CHECK_TAIL_BYTES) to b. */
static void
add_tail(struct buf *b, const char *s, size_t len)
{
	size_t start, lines = 0;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
	    s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	for (start = len; start > 0; start--)
		if (s[start - 1] == '\n' && ++lines == CHECK_TAIL_LINES)
			break;
	if (len - start > CHECK_TAIL_BYTES)
		start = len - CHECK_TAIL_BYTES;
	if (b->len > 0)
		buf_addc(b, '\n');
	buf_add(b, s + start, len - start);
}

static void
check_exit(void *arg, int status, int err, const char *out, size_t len)
{
	struct checkcmd *c = arg;
	struct buf tail = BUF_INIT;
	char msg[1024] = "", *e = NULL;
	size_t elen = 0;
	int code;

	add_tail(&tail, out, err == DROVE_ESPAWN ? 0 : len);
	if (read_file(c->errpath, &e, &elen) == 0)
		add_tail(&tail, e, elen);
	free(e);
	(void)unlink(c->errpath);
	if (err == DROVE_ETIMEDOUT) {
		code = DROVE_ETIMEDOUT;
		errf(msg, sizeof(msg), "check '%s' timed out after %gs (see "
		    "check_timeout)", c->name, c->timeout_s);
	} else if (err == DROVE_ECANCELED) {
		code = DROVE_ECANCELED;
		errf(msg, sizeof(msg), "check '%s': cancelled", c->name);
	} else if (err != 0) {
		code = err;
		errf(msg, sizeof(msg), "check: %.*s", (int)len, out);
	} else {
		code = status >= 0 ? status : 128 - status;
		if (status < 0)
			errf(msg, sizeof(msg), "check '%s' killed by signal "
			    "%d", c->name, -status);
		else if (code != 0)
			errf(msg, sizeof(msg), "check '%s' exited %d",
			    c->name, code);
	}
	log_debug("check %s -> %d", c->name, code);
	c->done(c->arg, code, tail.data ? tail.data : "", tail.len, msg);
	buf_release(&tail);
	free(c->name);
	free(c->errpath);
	free(c);
}

int
wt_check_start(struct wt *w, const struct git_cmd *cmd, double timeout,
    struct spawn **sp, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR"), *env_add[2] = { NULL, NULL };
	struct drove_spawn req;
	struct checkcmd *c;
	const char **env;
	char *cwd, *tmpl, *task = NULL;
	int fd, rc;

	tmpl = xasprintf("%s/drove-check.XXXXXX", tmp && *tmp == '/' ? tmp :
	    "/tmp");
	if ((fd = mkstemp(tmpl)) < 0) {
		errf(err, errlen, "cannot run the check: cannot create a file "
		    "in '%s': %s", tmp ? tmp : "/tmp", strerror(errno));
		free(tmpl);
		return DROVE_ESPAWN;
	}
	close(fd);
	/* the check runs where drove was started, in the merged tree */
	if (*w->prefix)
		cwd = xasprintf("%s/%.*s", cmd->dir, (int)strlen(w->prefix) - 1,
		    w->prefix);
	else
		cwd = xstrdup(cmd->dir);
	if (w->check_task != NULL)
		task = xasprintf("DROVE_TASK=%s", w->check_task);
	env_add[0] = task;
	c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(cmd->args[0]);
	c->errpath = tmpl;
	c->timeout_s = timeout;
	c->done = cmd->done;
	c->arg = cmd->arg;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.argv = cmd->args;
	req.env_add = env_add;
	/* what every child gets: no key drove holds */
	env = env_filtered(NULL, check_drop);
	req.env = env;
	req.cwd = cwd;
	req.stderr_path = c->errpath;
	req.timeout_s = timeout;
	req.on_exit = check_exit;
	req.arg = c;
	rc = spawn_start(w->loop, &req, sp, err, errlen);
	free(env);
	free(cwd);
	free(task);
	if (rc < 0) {
		(void)unlink(c->errpath);
		free(c->errpath);
		free(c->name);
		free(c);
	}
	return rc;
}

int
wt_check_has(const struct wt *w, size_t task)
{
	return w->check != NULL || (task != WT_FINAL &&
	    w->t[task].check != NULL);
}

int
wt_op_check(struct wtop *op, const char *dir, size_t task)
{
	struct wt *w = op->w;
	char **argv = w->check;
	double timeout = w->check_timeout_s;

	if (task != WT_FINAL && w->t[task].check != NULL) {
		argv = w->t[task].check;
		timeout = w->t[task].check_timeout_s;
	} else if (task != WT_FINAL) {
		timeout = w->t[task].check_timeout_s;
	}
	if (argv == NULL)
		return 1;
	w->check_task = task != WT_FINAL ? tname(w, task) : NULL;
	wt_op_queue(op, dir, NULL, (const char *const *)argv, 1, timeout);
	return 0;
}

/* --- what the phase did ------------------------------------------------- */

struct failed_arg {
	const struct wt *w;
	json_t *tasks;
};

static int
not_ok(const void *arg, size_t k)
{
	const struct failed_arg *a = arg;
	json_t *o = json_object_get(a->tasks, tname(a->w, k));
	const char *st = json_string_value(json_object_get(o, "status"));

	return st != NULL && strcmp(st, "ok") != 0;
}

/* A task in tasks (summary.json's) whose status is not "ok", that task i
 * depends on; NULL if none. */
static const char *
failed_dependency(const struct wt *w, size_t i, json_t *tasks)
{
	struct failed_arg a = { w, tasks };
	size_t k;

	if (tasks == NULL)
		return NULL;
	k = graph_first_dep(w->g, i, not_ok, &a);
	return k < w->g->n ? tname(w, k) : NULL;
}

const char *
wt_merge_status(const struct wt *w, size_t i, json_t *tasks,
    const char **blocked_by)
{
	const struct wtask *t = &w->t[i];
	json_t *o = tasks ? json_object_get(tasks, tname(w, i)) : NULL;
	const char *st = json_string_value(json_object_get(o, "status"));

	*blocked_by = NULL;
	if (!t->on)
		return NULL;
	if (t->merged)
		return "merged";
	if (t->conflict)
		return "conflict";
	if (t->check_failed)
		return "check_failed";
	if (t->blocked_by) {
		*blocked_by = t->blocked_by;
		return "dependency_failed";
	}
	if (t->merge_error)
		return "failed";
	if (st != NULL && strcmp(st, "ok") == 0 && t->finished &&
	    t->commit == NULL)
		return "unchanged";
	if (st != NULL && strcmp(st, "ok") != 0 &&
	    (*blocked_by = failed_dependency(w, i, tasks)) != NULL)
		return "dependency_failed";
	return "not_merged";
}

void
wt_check_summary(const struct wt *w, json_t *s)
{
	json_t *tasks = json_object_get(s, "tasks");
	json_t *m = json_object_get(s, "merge"), *failed = json_object();
	json_t *blocked = json_object(), *fin;

	for (size_t i = 0; i < w->g->n; i++) {
		json_t *o = json_object_get(tasks, tname(w, i));
		const char *by, *ms = wt_merge_status(w, i, tasks, &by);

		if (ms == NULL || o == NULL)
			continue;
		json_object_set_new(o, "merge_status", json_string(ms));
		if (w->t[i].check_failed) {
			json_object_set_new(o, "check_output",
			    json_texts(w->t[i].check_output));
			json_object_set_new(failed, tname(w, i),
			    json_texts(w->t[i].check_output));
		}
		if (by != NULL) {
			json_object_set_new(o, "blocked_by", json_string(by));
			json_object_set_new(blocked, tname(w, i),
			    json_string(by));
		}
	}
	json_object_set_new(m, "order", json_string(w->fewest_first ?
	    "fewest_files_first" : "declared"));
	json_object_set_new(m, "check_failed", failed);
	json_object_set_new(m, "dependency_failed", blocked);
	if (!w->final_ran) {
		json_object_set_new(m, "final_check", json_null());
		return;
	}
	fin = json_object();
	json_object_set_new(fin, "passed", json_boolean(w->final_passed));
	json_object_set_new(fin, "output", json_texts(w->final_output ?
	    w->final_output : ""));
	json_object_set_new(m, "final_check", fin);
}

void
wt_check_free(struct wt *w)
{
	/* argv_split's argv: one allocation each */
	free(w->check);
	free(w->order);
	free(w->final_output);
	for (size_t i = 0; w->t && i < w->g->n; i++) {
		free(w->t[i].check);
		free(w->t[i].check_output);
		free(w->t[i].resume_pre);
	}
}
