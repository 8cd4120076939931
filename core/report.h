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
/* Writes the SVG timeline (svg.h) of the run in directory dir, whose
 * summary is s, to path; 0 or -errno. */
int report_write_svg(json_t *s, const char *dir, const char *path);
/* Writes an HTML page with that picture, the summary and the table. */
int report_write_html(json_t *s, const char *dir, const char *path);

/* The merge phase of a worktree run (report_merge.c): task t's merge
 * status, under its row; the checks that failed and the final check, in
 * the summary s. */
void report_merge_task(FILE *f, json_t *t);
void report_merge_why(FILE *f, json_t *s);

/* `drove report [RUN] [--svg FILE] [--html FILE] [--json] [--run-dir DIR]`;
 * returns the exit status. */
int cmd_report(int argc, char **argv);

#endif /* DROVE_REPORT_H */
