/*
 * Telling the user a run's news: the `notify` hook, run after each task
 * that ran and once at the end of the run, and the terminal's
 * notification at the end of a long run (`notify_terminal`).
 *
 * The hook is argv (split like an exec backend's command, no shell) run
 * on the run's loop through spawn.c with the environment every child gets
 * (envfilter.c) plus the facts: DROVE_EVENT (task|run), DROVE_RUN_ID,
 * DROVE_TASK (empty for the run), DROVE_STATUS, DROVE_WALL_S,
 * DROVE_COST_USD, DROVE_EXIT_CODE and DROVE_RUN_DIR.  It has its own
 * timeout, after which its process group is killed; how it ended goes to
 * the run's journal ({"ev":"notify"}) and, when it failed, to stderr with
 * -v.  A hook that fails or hangs never fails or holds up the run: only
 * the run's end waits for the hooks still running, at most their timeout.
 */
#ifndef DROVE_NOTIFY_H
#define DROVE_NOTIFY_H

#include <stddef.h>

#include "conf.h"

struct journal;
struct loop;
struct notify;

/* Seconds a hook may run unless [drove] notify_timeout says. */
#define NOTIFY_TIMEOUT_S 10.0
/* A run at least this long (seconds) ends with the terminal's
 * notification unless [drove] notify_terminal_after says. */
#define NOTIFY_TERMINAL_AFTER_S 10.0

/*
 * Reads [drove] notify, notify_timeout, notify_terminal and
 * notify_terminal_after from d (may be NULL); cmd (--notify, may be NULL)
 * replaces notify, and "" turns it off.  *np is NULL when there is
 * nothing to do.  Returns 0 or DROVE_EINVAL with "file:line: ..." in err.
 * Borrows d, cmd and l until notify_free.
 */
int notify_open(struct notify **np, const struct conf_section *d,
    const char *cmd, struct loop *l, char *err, size_t errlen);

/* The run the news is of: its id and directory (the hooks' stderr go to
 * DIR/notify/), and the journal their ends are written to.  Borrowed until
 * notify_free. */
void notify_bind(struct notify *n, const char *id, const char *dir,
    struct journal *j);

/* Starts the hook for a task that ran and ended (status ok, failed or
 * cancelled, wall_s seconds, cost_usd; exit_code, when not ok and not 0,
 * its agent's exit status) and returns at once.  n may be NULL. */
/* Whether n runs a hook, so that notify_task does anything. */
int notify_has_hook(const struct notify *n);
void notify_task(struct notify *n, const char *task, const char *status,
    double wall_s, double cost_usd, int exit_code);

/*
 * The run ended with status (ok, failed, interrupted) and exit code code:
 * starts the hook for it, runs the loop (which nothing else runs by then)
 * until every hook has ended or been killed, then gives the terminal's
 * notification when asked for, the run took notify_terminal_after or more
 * and stderr is a terminal.  n may be NULL.
 */
void notify_run(struct notify *n, const char *status, double wall_s,
    double cost_usd, int code);

void notify_free(struct notify *n);

#endif /* DROVE_NOTIFY_H */
