/*
 * Child processes on the event loop: argv run without a shell in its own
 * process group, stdin fed from memory, stdout collected into memory,
 * stderr sent to a file, exit reaped by the loop, with a timeout and
 * cancellation that kill the whole group.
 *
 * The process must ignore SIGPIPE (the core does): a child that exits
 * without reading its stdin makes the write fail with EPIPE, which ends
 * the input quietly.  Children start with SIGPIPE at its default.
 */
#ifndef DROVE_SPAWN_H
#define DROVE_SPAWN_H

#include <stddef.h>

#include "drove/plugin.h"

struct loop;
struct spawn;

/* Seconds between SIGTERM and SIGKILL when a group is killed (default 2). */
extern double spawn_grace_s;
/* Seconds to wait for stdout's end once the child has exited, while a
 * grandchild may still hold the pipe (default 0.5). */
extern double spawn_drain_s;
/* Most bytes of stdout kept; beyond, the group is killed and the spawn
 * fails with DROVE_EIO (default 64 MiB). */
extern size_t spawn_max_output;

/*
 * Starts req->argv[0] (looked up in PATH, or the one in env_add) with
 * argv, req->env (environ when NULL) plus env_add (overriding equal names;
 * a later entry wins),
 * cwd, stdin_data, stderr_path (created, truncated, appended, never
 * through a symbolic link; NULL: /dev/null) and timeout_s (0: none).
 *
 * req and all it points to are borrowed for this call only (stdin_data is
 * copied).  Returns 0, stores a handle in *sp (valid until on_exit runs)
 * and later calls req->on_exit exactly once from the loop, never from
 * within spawn_start; then the spawn frees itself.  on_exit's err is 0,
 * DROVE_ETIMEDOUT, DROVE_ECANCELED, DROVE_ESPAWN (status -1, out holds
 * "cannot run 'foo': No such file or directory" or the like), DROVE_ENOFD
 * (the same, when the child ran out of file descriptors before exec) or
 * DROVE_EIO (output over spawn_max_output; out holds the reason).
 * Otherwise returns < 0 (DROVE_EINVAL, DROVE_ESPAWN, or DROVE_ENOFD when
 * drove is out of file descriptors) with a reason in err and errno set to
 * the cause, and never calls on_exit.
 */
int spawn_start(struct loop *l, const struct drove_spawn *req,
    struct spawn **sp, char *err, size_t errlen);

/* spawn_start when the caller knows that nothing is at stderr_path nor at
 * a later spawn_tee's path (a new run's first attempt): no earlier
 * attempt's file is looked for there (a stat each).  The files are still
 * made at their first byte, never through a link. */
int spawn_start_fresh(struct loop *l, const struct drove_spawn *req,
    struct spawn **sp, char *err, size_t errlen);

/*
 * Copies what the child writes to stdout, as it comes, to path as well
 * (made at the first byte, so a quiet child leaves none; an earlier copy
 * is emptied now; never through a link), for `drove logs -f`; the output
 * still goes to on_exit whole.  Only right after spawn_start.  Returns 0
 * or -errno (the copy is then not made).  Copies path.
 */
int spawn_tee(struct spawn *s, const char *path);

/* Sends SIGTERM to the child's process group and SIGKILL after
 * spawn_grace_s; on_exit then gets DROVE_ECANCELED (unless the spawn had
 * already failed otherwise).  s must not have finished yet. */
void spawn_kill(struct spawn *s);

/* Cancels every live spawn: sig_now (SIGTERM or SIGKILL) goes to each
 * process group at once, SIGKILL follows after the grace period; sig_now
 * 0 means SIGTERM.  For Ctrl-C. */
void spawn_kill_all(int sig_now);

/* Number of spawns whose on_exit has not run yet. */
size_t spawn_count(void);

/*
 * Who hears of every child: started(arg, pid, start) once the child runs
 * (pid is also its process group; start is its start time as field 22 of
 * /proc/<pid>/stat says, in clock ticks since boot, or 0 when spawn cannot
 * tell), ended(arg, pid) once it is reaped, or when a failed start killed
 * it.  The run journals them so that a later resume finds the agents a
 * dead drove left behind.  w is borrowed until the next call; NULL stops
 * it.
 */
struct spawn_watch {
	void (*started)(void *arg, long pid, unsigned long long start);
	void (*ended)(void *arg, long pid);
	void *arg;
};
void spawn_set_watch(const struct spawn_watch *w);

#endif /* DROVE_SPAWN_H */
