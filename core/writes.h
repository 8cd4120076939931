/*
 * Ordering edges between tasks whose `writes` globs overlap (writes.c;
 * glob_overlap itself is declared in graph.h).
 */
#ifndef DROVE_WRITES_H
#define DROVE_WRITES_H

#include "graph.h"

/*
 * Tasks whose writes overlap and that are not ordered yet: the later one
 * waits for the earlier, nearest earlier task first, each edge labelled
 * "glob ~ glob" with the first overlapping pair in declared order.  Run
 * on a graph without cycles, before its rdeps, waves and order are set.
 */
void writes_edges(struct graph *g);

#endif
