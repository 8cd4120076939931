/* The notify hook and the terminal's notification (see notify.h). */
#include "notify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "argv.h"
#include "drove/plugin.h"
#include "envfilter.h"
#include "journal.h"
#include "loop.h"
#include "spawn.h"
#include "util.h"

/* One hook that runs. */
struct hook {
	struct notify *n;
	struct spawn *sp;
	char *task;		/* NULL: the run's */
	char *err_path;
	struct hook *next;
};

struct notify {
	struct loop *loop;
	char **argv;		/* the hook; NULL: none */
	double timeout_s;
	int terminal;
	double terminal_after_s;
	const char *id, *dir;
	struct journal *j;
	int have_dir;		/* DIR/notify/ was made */
	struct hook *live;	/* hooks whose on_exit has not run */
	int waiting;		/* notify_run waits: stop the loop at the
				 * last hook's end */
};

int
notify_open(struct notify **np, const struct conf_section *d,
    const char *cmd, struct loop *l, char *err, size_t errlen)
{
	struct notify *n;
	char where[256], why[128];
	char **argv = NULL;
	int rc;

	*np = NULL;
	if (cmd == NULL && d != NULL)
		cmd = conf_get(d, "notify");
	if (cmd != NULL && *cmd != '\0') {
		argv = argv_split(cmd, why, sizeof(why));
		if (argv == NULL) {
			if (d != NULL && conf_get(d, "notify") == cmd)
				conf_where(d, "notify", where, sizeof(where));
			else
				snprintf(where, sizeof(where), "--notify");
			errf(err, errlen, "%s: bad notify command '%s': %s",
			    where, cmd, why);
			return DROVE_EINVAL;
		}
	}
	n = xcalloc(1, sizeof(*n));
	n->loop = l;
	n->argv = argv;
	rc = conf_get_duration(d, "notify_timeout", NOTIFY_TIMEOUT_S, 0.001,
	    86400, &n->timeout_s, err, errlen);
	if (rc == 0)
		rc = conf_get_bool(d, "notify_terminal", 0, &n->terminal, err,
		    errlen);
	if (rc == 0)
		rc = conf_get_duration(d, "notify_terminal_after",
		    NOTIFY_TERMINAL_AFTER_S, 0, 1e9, &n->terminal_after_s,
		    err, errlen);
	if (rc < 0 || (n->argv == NULL && !n->terminal)) {
		notify_free(n);
		return rc;
	}
	*np = n;
	return 0;
}

void
notify_bind(struct notify *n, const char *id, const char *dir,
    struct journal *j)
{
	if (n == NULL)
		return;
	n->id = id;
	n->dir = dir;
	n->j = j;
}

/* How the hook ended, for the journal and -v: NULL when it succeeded. */
static char *
hook_error(const struct hook *h, int status, int err, const char *out,
    size_t len)
{
	if (err == DROVE_ETIMEDOUT)
		return xasprintf("timed out after %gs and was killed",
		    h->n->timeout_s);
	if (err == DROVE_ECANCELED)
		return xstrdup("cancelled");
	if (err != 0)
		return len ? xasprintf("%.*s", (int)len, out) :
		    xstrdup("could not start");
	if (status > 0)
		return xasprintf("exited %d", status);
	if (status < 0)
		return xasprintf("killed by signal %d", -status);
	return NULL;
}

static void
hook_journal(struct hook *h, int status, const char *why)
{
	json_t *ev = json_object();
	int rc;

	if (h->n->j == NULL || h->n->j->fd < 0) {
		json_decref(ev);
		return;
	}
	json_object_set_new(ev, "ev", json_string("notify"));
	json_object_set_new(ev, "for", json_string(h->task ? "task" : "run"));
	json_object_set_new(ev, "task", h->task ? json_string(h->task) :
	    json_null());
	json_object_set_new(ev, "exit", json_integer(status));
	json_object_set_new(ev, "error", why ? json_texts(why) : json_null());
	json_object_set_new(ev, "time", json_real(now_wall()));
	rc = journal_append(h->n->j, ev, 0);
	if (rc < 0)
		log_warnx("cannot write '%s': %s", h->n->j->path,
		    strerror(-rc));
}

static void
hook_free(struct hook *h)
{
	free(h->task);
	free(h->err_path);
	free(h);
}

/* The hook ended (or never started: sp NULL): journal it, tell -v. */
static void
hook_done(struct hook *h, int status, const char *why)
{
	hook_journal(h, status, why);
	if (why != NULL && h->task != NULL)
		log_debug("notify: the hook for task '%s' %s (its stderr: "
		    "%s)", h->task, why, h->err_path);
	else if (why != NULL)
		log_debug("notify: the hook for the run %s (its stderr: %s)",
		    why, h->err_path);
}

static void
hook_exit(void *arg, int status, int err, const char *out, size_t len)
{
	struct hook *h = arg, **pp;
	struct notify *n = h->n;
	char *why = hook_error(h, status, err, out, len);

	for (pp = &n->live; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	hook_done(h, err ? -1 : status, why);
	free(why);
	hook_free(h);
	if (n->waiting && n->live == NULL)
		loop_stop(n->loop);
}

static void
hook_start(struct notify *n, const char *task, const char *status,
    double wall_s, double cost_usd, int code)
{
	struct drove_spawn req;
	struct hook *h;
	const char **env;
	char *add[9], err[512], *nd;
	int rc;

	if (n == NULL || n->argv == NULL || n->dir == NULL)
		return;
	h = xcalloc(1, sizeof(*h));
	h->n = n;
	h->task = task ? xstrdup(task) : NULL;
	nd = xasprintf("%s/notify", n->dir);
	if (!n->have_dir)
		n->have_dir = mkdir_p(nd, 0777) == 0;
	h->err_path = task ? xasprintf("%s/task.%s.err", nd, task) :
	    xasprintf("%s/run.err", nd);
	free(nd);
	add[0] = xasprintf("DROVE_EVENT=%s", task ? "task" : "run");
	add[1] = xasprintf("DROVE_RUN_ID=%s", n->id);
	add[2] = xasprintf("DROVE_TASK=%s", task ? task : "");
	add[3] = xasprintf("DROVE_STATUS=%s", status);
	add[4] = xasprintf("DROVE_WALL_S=%.3f", wall_s);
	add[5] = xasprintf("DROVE_COST_USD=%.6f", cost_usd);
	add[6] = xasprintf("DROVE_EXIT_CODE=%d", code);
	add[7] = xasprintf("DROVE_RUN_DIR=%s", n->dir);
	add[8] = NULL;
	/* the environment every child gets: no secrets drove holds */
	env = env_filtered(NULL, NULL);
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.argv = (const char *const *)n->argv;
	req.env = env;
	req.env_add = (const char *const *)add;
	req.stderr_path = h->err_path;
	req.timeout_s = n->timeout_s;
	req.on_exit = hook_exit;
	req.arg = h;
	rc = spawn_start(n->loop, &req, &h->sp, err, sizeof(err));
	free(env);
	for (size_t i = 0; add[i] != NULL; i++)
		free(add[i]);
	if (rc < 0) {
		hook_done(h, -1, err);
		hook_free(h);
		return;
	}
	h->next = n->live;
	n->live = h;
}

int
notify_has_hook(const struct notify *n)
{
	return n != NULL && n->argv != NULL && n->dir != NULL;
}

void
notify_task(struct notify *n, const char *task, const char *status,
    double wall_s, double cost_usd, int exit_code)
{
	/* a failure with no agent's status of its own (an API call, a
	 * merge) is 1 */
	if (strcmp(status, "ok") == 0)
		exit_code = 0;
	else if (exit_code <= 0)
		exit_code = 1;
	hook_start(n, task, status, wall_s, cost_usd, exit_code);
}

/* A signal while the run's end waits for the hooks: they go at once. */
static void
on_signal(struct loop *l, struct loop_signal *s, int signo)
{
	struct notify *n = s->data;

	(void)l;
	(void)signo;
	for (struct hook *h = n->live; h != NULL; h = h->next)
		spawn_kill(h->sp);
}

/* The terminal's notification: OSC 777 (a desktop notification where
 * the terminal knows it, ignored elsewhere), then the bell. */
static void
terminal_notify(struct notify *n, const char *status, double wall_s)
{
	char msg[256];
	int len;

	if (!n->terminal || wall_s < n->terminal_after_s ||
	    !isatty(STDERR_FILENO))
		return;
	len = snprintf(msg, sizeof(msg), "\033]777;notify;drove;run %s %s "
	    "after %.0fs\a\a", n->id ? n->id : "", status, wall_s);
	if (len > 0 && (size_t)len < sizeof(msg))
		(void)write_all(STDERR_FILENO, msg, (size_t)len);
}

void
notify_run(struct notify *n, const char *status, double wall_s,
    double cost_usd, int code)
{
	struct loop_signal sig[3];
	static const int signo[3] = { SIGINT, SIGTERM, SIGHUP };

	if (n == NULL)
		return;
	hook_start(n, NULL, status, wall_s, cost_usd, code);
	if (n->live != NULL) {
		memset(sig, 0, sizeof(sig));
		for (int i = 0; i < 3; i++)
			loop_signal_start(n->loop, &sig[i], signo[i],
			    on_signal, n);
		n->waiting = 1;
		/* bounded: each hook ends by its timeout at the latest */
		while (n->live != NULL)
			if (loop_run(n->loop) < 0)
				break;
		n->waiting = 0;
		for (int i = 0; i < 3; i++)
			loop_signal_stop(n->loop, &sig[i]);
	}
	terminal_notify(n, status, wall_s);
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	free(n->argv);
	free(n);
}
