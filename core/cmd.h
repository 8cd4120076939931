/*
 * The commands main() dispatches to, each beside its subsystem: run_cmd.c,
 * graph_cmd.c, plan_cmd.c, doctor_cmd.c, plugins_cmd.c, runctl_cmd.c
 * (report, fetch and clean live in report.c, fetch.c and clean.c).  Each takes the command's
 * own argc and argv (argv[0] is the command) and returns the exit status.
 */
#ifndef DROVE_CMD_H
#define DROVE_CMD_H

#include <stdio.h>

#include "graph.h"

#define DROVE_VERSION "0.1.0"

int cmd_run(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
/* runctl_cmd.c: a run followed from outside */
int cmd_status(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_logs(int argc, char **argv);

/* The graph as text: counts, waves, each edge and why (when edges is
 * set), and the critical path.  Borrows g. */
void graph_print_text(FILE *f, const struct graph *g, const char *file,
    int edges);

#endif /* DROVE_CMD_H */
