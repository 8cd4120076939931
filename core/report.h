/*
 * Reports: the summary a run prints on stderr, and `drove report`, which
 * reads a run's summary.json (per-task times, speedup, tokens, cost, and an
 * SVG timeline).
 */
#ifndef DROVE_REPORT_H
#define DROVE_REPORT_H

#include <stdio.h>

#include <jansson.h>

/* Prints the human summary of summary.json's object s.  Borrows s. */
void report_print_summary(FILE *f, json_t *s);
/* Prints one line per task, in start order. */
void report_print_tasks(FILE *f, json_t *s);
/* Writes an SVG timeline of the tasks to path; 0 or -errno. */
int report_write_svg(json_t *s, const char *path);

/* `drove report [RUN] [--svg FILE] [--json] [--run-dir DIR]`; returns the
 * exit status. */
int cmd_report(int argc, char **argv);

#endif /* DROVE_REPORT_H */
