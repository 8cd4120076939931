/*
 * drove plan: the pieces that turn a goal into a task file through one
 * backend call: the planning prompt, the call itself outside a run, and
 * the extraction of the INI file from the answer.
 */
#ifndef DROVE_PLAN_H
#define DROVE_PLAN_H

#include <stddef.h>

#include "conf.h"
#include "drove/plugin.h"

/* The planning prompt: the instructions, then goal byte for byte.  The
 * caller frees. */
char *plan_prompt(const char *goal);

/* The prompt that asks again: prompt, the rejected answer and why it was
 * rejected.  Borrows everything; the caller frees. */
char *plan_retry_prompt(const char *prompt, const char *answer,
    const char *why);

/*
 * The INI file in an answer: the first ``` fenced block that holds a line
 * starting with '[' (else the whole answer), from that line on, with
 * carriage returns before newlines removed and one final newline.
 * Returns NULL when no line starts with '['.  The caller frees.
 */
char *plan_extract(const char *answer, size_t len);

/*
 * Sends prompt to the backend of section s, whose plugin is p, and waits
 * for the answer on a loop of its own.  attempt is the call's 1-based
 * attempt number.  Returns 0 with the answer in *answer (NUL-terminated,
 * the caller frees) and its length in *len; DROVE_ECANCELED after SIGINT
 * or SIGTERM; or another negative code with the reason in err.  Borrows
 * s and p.
 */
int plan_ask(const struct conf_section *s, const struct drove_plugin *p,
    const char *prompt, int attempt, char **answer, size_t *len, char *err,
    size_t errlen);

#endif /* DROVE_PLAN_H */
