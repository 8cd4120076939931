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

struct commit;

/*
 * Writes the copy of g's tasks into dir (atomically), through cm's writer
 * (commit.h): off the loop thread and flushed with the group, so no disk
 * wait stands between a run's start and its first call.  The writer takes
 * its batches in order, so every task's ok record is appended after a
 * flush that made the copy durable; a failure is logged.  Borrows all
 * three (g only during the call).
 */
void taskcopy_save(struct commit *cm, const char *dir, const struct graph *g);

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
