/*
 * Ordering edges between tasks whose `writes` globs overlap (writes.c;
 * glob_overlap itself is declared in graph.h).
 */
#ifndef DROVE_WRITES_H
#define DROVE_WRITES_H

#include <stddef.h>

#include "graph.h"

/*
 * Tasks whose writes overlap and that are not ordered yet: the later one
 * waits for the earlier, nearest earlier task first, each edge labelled
 * "glob ~ glob" with the first overlapping pair in declared order.  Run
 * on a graph without cycles, before its rdeps, waves and order are set.
 */
void writes_edges(struct graph *g);

/*
 * When every edge leads to an earlier task, writes_edges keeps a row of
 * ancestor bits per task (about n * n / 16 bytes) if that fits in this
 * many bytes, else it searches the graph.  32 MiB (n up to about 23,000);
 * the tests set 0 to exercise the search.
 */
extern size_t writes_anc_max_bytes;

#endif
