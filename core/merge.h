/*
 * The merge driver's load-time half: before anything runs, every task's
 * merge-specific keys are checked against its merge plugin.
 */
#ifndef DROVE_MERGE_H
#define DROVE_MERGE_H

#include <stddef.h>

#include "graph.h"
#include "registry.h"

/*
 * For every task of g: a key that belongs to another merge plugin than the
 * task's is an error, and the plugin's optional check op judges the
 * values.  Borrows everything.  Returns 0, or DROVE_EINVAL with
 * "file:line: task 'x': ..." in err.
 */
int merge_check_tasks(const struct graph *g, const struct registry *reg,
    char *err, size_t errlen);

#endif /* DROVE_MERGE_H */
