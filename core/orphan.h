/*
 * Agents a dead drove left behind.  While a run is live, every child's
 * process group is journaled when it starts ({"ev":"proc"}: pid, pgid and
 * the kernel's start time of the process, so a reused pid is not taken for
 * it) and when it is reaped ({"ev":"proc_end"}).  A resume first ends the
 * groups that were started and never ended, so no task runs twice at once.
 */
#ifndef DROVE_ORPHAN_H
#define DROVE_ORPHAN_H

#include <stddef.h>

#include "journal.h"
#include "spawn.h"

/* Journals into j every child spawned from now on; w is the caller's
 * storage, and both stay borrowed until orphan_unwatch. */
void orphan_watch(struct spawn_watch *w, struct journal *j);
void orphan_unwatch(void);

/*
 * Ends the process groups j's file records as started and not ended that
 * are still alive: SIGTERM to each group, SIGKILL to what is left after
 * grace_s, then a short bounded wait.  Journals their end in j, and says
 * on stderr how many it ended and whose they were (owner, the dead drove's
 * pid; 0 when unknown).  Returns the number ended, or DROVE_EIO when a
 * group cannot be ended (the reason in err): the run must not go on.
 */
int orphan_end(struct journal *j, long owner, double grace_s, char *err,
    size_t errlen);

/* The kernel's start time of process pid (clock ticks since boot), or 0
 * when it cannot be read (not Linux, or no such process). */
unsigned long long orphan_start_time(long pid);

#endif /* DROVE_ORPHAN_H */
