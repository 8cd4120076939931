/*
 * What summary.json says beyond rundir.c's per-task sums: attempts counted
 * per replica, the times and backend of tasks a resumed run found done,
 * and the agents' CPU time against this machine's CPUs, which tells
 * whether the speedup is an upper estimate.
 */
#ifndef DROVE_RUNSTATS_H
#define DROVE_RUNSTATS_H

#include <jansson.h>

struct run;

/* Notes the CPU time used so far, the children's and the machine's. */
void runstats_begin(struct run *r);

/* Adds those fields to the summary s of run r (s's "tasks" must be
 * there); wall is the run's wall time.  Borrows both. */
void runstats_add(struct run *r, json_t *s, double wall);

/*
 * Whether agents that used cpu_s seconds of CPU on ncpu CPUs, while at
 * most peak tasks ran at once and two or more ran for overlap_s seconds,
 * were CPU-bound: they kept at least half of the CPUs they could use busy
 * during the overlap, or the machine's CPUs were at least 80 % busy
 * (busy, from 0 to 1; negative: not known) and the agents used at least a
 * fifth of that.  Their tasks then slowed each other down.
 */
int runstats_cpu_bound(double cpu_s, long ncpu, long peak, double overlap_s,
    double busy, double machine_cpu_s);

#endif /* DROVE_RUNSTATS_H */
