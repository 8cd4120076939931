/*
 * Chains of git commands on the run's loop (struct wtop in wtint.h): a
 * task's worktree made or committed, the merge phase (with its checks,
 * wtcheck.c).  One command runs at a time in the repository; the others
 * wait in turn.  Ctrl-C
 * (wt_cancel) kills the running one and ends the waiting ones.
 */
#include "worktree.h"

#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"
#include "git.h"
#include "spawn.h"
#include "util.h"
#include "wtint.h"

void
wt_op_begin(struct wtop *op, struct wt *w, size_t task, wtop_fn fn,
    wt_done_fn done, void *arg)
{
	op->w = w;
	op->task = task;
	op->fn = fn;
	op->step = 0;
	op->busy = 1;
	op->sp = NULL;
	op->code = 0;
	op->err[0] = '\0';
	op->done = done;
	op->arg = arg;
	op->k = 0;
	w->nbusy++;
	fn(op);
}

static void git_pump(struct wt *w);

static void
op_forget(struct wtop *op)
{
	free(op->qdir);
	free(op->qgitdir);
	strv_free(op->qargs);
	op->qdir = op->qgitdir = NULL;
	op->qargs = NULL;
}

static void
op_git_done(void *arg, int code, const char *out, size_t len,
    const char *err)
{
	struct wtop *op = arg;
	struct wt *w = op->w;

	op->sp = NULL;
	w->running = NULL;
	op_forget(op);
	op->code = code;
	buf_reset(&op->out);
	buf_add(&op->out, out, len);
	/* a success keeps the reason a step wrote (a conflict's files) */
	if (code != 0)
		errf(op->err, sizeof(op->err), "%s", err);
	op->fn(op);
	git_pump(w);
}

/* Starts the first waiting command when none runs. */
static void
git_pump(struct wt *w)
{
	while (w->running == NULL && w->queue != NULL) {
		struct wtop *op = w->queue;
		struct git_cmd cmd;
		int rc;

		w->queue = op->qnext;
		if (w->queue == NULL)
			w->qtail = &w->queue;
		op->qnext = NULL;
		cmd.dir = op->qdir;
		cmd.gitdir = op->qgitdir;
		cmd.args = (const char *const *)op->qargs;
		cmd.done = op_git_done;
		cmd.arg = op;
		if (op->qcheck)
			rc = wt_check_start(w, &cmd, op->qtimeout, &op->sp,
			    op->err, sizeof(op->err));
		else
			rc = git_start(&w->git, w->loop, &cmd, &op->sp,
			    op->err, sizeof(op->err));
		if (rc == 0) {
			w->running = op;
			return;
		}
		op->sp = NULL;
		op_forget(op);
		op->code = rc;
		op->fn(op);
	}
}

void
wt_op_queue(struct wtop *op, const char *dir, const char *gitdir,
    const char *const *args, int check, double timeout)
{
	struct wt *w = op->w;
	size_t n = 0;

	buf_reset(&op->out);
	if (w->cancelled) {
		op->code = DROVE_ECANCELED;
		errf(op->err, sizeof(op->err), "%s %s: cancelled",
		    check ? "check" : "git", args[0]);
		op->fn(op);
		return;
	}
	while (args[n] != NULL)
		n++;
	op->qargs = xcalloc(n + 1, sizeof(*op->qargs));
	for (size_t k = 0; k < n; k++)
		op->qargs[k] = xstrdup(args[k]);
	op->qdir = xstrdup(dir);
	op->qgitdir = gitdir ? xstrdup(gitdir) : NULL;
	op->qcheck = check;
	op->qtimeout = timeout;
	op->qnext = NULL;
	if (w->qtail == NULL)
		w->qtail = &w->queue;
	*w->qtail = op;
	w->qtail = &op->qnext;
	git_pump(w);
}

void
wt_op_git(struct wtop *op, const char *dir, const char *gitdir,
    const char *const *args)
{
	wt_op_queue(op, dir, gitdir, args, 0, 0);
}

void
wt_op_end(struct wtop *op, int rc)
{
	op->busy = 0;
	op->w->nbusy--;
	op->done(op->arg, op->task, rc, op->err);
}

char *
wt_op_str(struct wtop *op)
{
	return xstrdup(strtrim((char *)buf_str(&op->out)));
}

char **
wt_op_list(struct wtop *op)
{
	return git_strv(op->out.data ? op->out.data : "", op->out.len);
}

int
wt_busy(const struct wt *w)
{
	return w != NULL && w->nbusy > 0;
}

void
wt_cancel(struct wt *w)
{
	struct wtop *op;

	if (w == NULL)
		return;
	w->cancelled = 1;
	if (w->running != NULL && w->running->sp != NULL)
		spawn_kill(w->running->sp);
	/* the waiting ones end now; their chains start nothing new */
	while ((op = w->queue) != NULL) {
		w->queue = op->qnext;
		if (w->queue == NULL)
			w->qtail = &w->queue;
		op->qnext = NULL;
		op->code = DROVE_ECANCELED;
		errf(op->err, sizeof(op->err), "%s %s: cancelled",
		    op->qcheck ? "check" : "git", op->qargs[0]);
		op_forget(op);
		op->fn(op);
	}
}
