/*
 * The run's copy of its tasks, <run dir>/tasks.json: every task's keys as
 * the task file gave them, and the prompt a prompt_file held.  A run saves
 * it when it starts; `--resume` compares the task file it is given with it,
 * task by task, and refuses a file whose tasks changed unless forced.
 */
#ifndef DROVE_TASKCOPY_H
#define DROVE_TASKCOPY_H

#include <stddef.h>

#include "graph.h"

/* Writes the copy of g's tasks into dir (atomically).  Borrows both.
 * Returns 0 or a negative errno. */
int taskcopy_save(const char *dir, const struct graph *g);

/*
 * Compares g's tasks with the copy in dir, printing one line for each task
 * added, removed or changed (and which keys).  Returns 0 when they are the
 * same, 1 when they differ and force is set, 2 when dir has no copy (a run
 * from before copies were kept), or DROVE_EINVAL when they differ (or the
 * copy cannot be read) and force is not set, with the reason in err.
 * task_file names the file in messages.  Borrows everything.
 */
int taskcopy_check(const char *dir, const struct graph *g,
    const char *task_file, int force, char *err, size_t errlen);

#endif /* DROVE_TASKCOPY_H */
