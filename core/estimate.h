/*
 * The worst case of a run before its first call: per backend and in
 * total, the calls the graph makes (replicas, a competitive merge's judge,
 * an aggregative merge's summary), their input tokens (prompt bytes at the
 * backend's bytes_per_token; a {{ref}} at its producer's worst-case
 * result), their output tokens (each answer at its max_tokens), and what
 * that costs at the backend's prices; a call on a backend with a fallback
 * chain is counted on that backend's line at the worst along the chain
 * (dearest prices, fewest bytes_per_token, largest max_tokens).
 * `drove graph` and `drove run --dry-run` print it; [drove] max_calls and
 * confirm_usd act on it.
 */
#ifndef DROVE_ESTIMATE_H
#define DROVE_ESTIMATE_H

#include <stdio.h>

#include "conf.h"
#include "graph.h"
#include "registry.h"

/* One backend's share, or the total. */
struct est_line {
	const char *name;	/* the backend (borrowed from the conf) */
	int tokens;		/* an API backend: tokens and cost count */
	unsigned long calls;
	double tokens_in, tokens_out;
	double usd;
};

struct estimate {
	struct est_line *be;	/* backends with calls, in file order */
	size_t nbe;
	struct est_line total;
	unsigned long task_calls, judge_calls, summary_calls;
};

/*
 * Computes the estimate of graph g under the backends of c (their plugins
 * in reg).  done, when not NULL, marks the tasks (by index) a resumed run
 * has finished: they make no calls, and a reference to one still counts
 * at its worst case.  Returns 0, or DROVE_EINVAL with "file:line: ..." in
 * err (a bad price or max_tokens).  Borrows everything; estimate_release
 * frees.
 */
int estimate_build(struct estimate *e, const struct conf *c,
    const struct graph *g, const struct registry *reg,
    const unsigned char *done, char *err, size_t errlen);
void estimate_release(struct estimate *e);

/* The estimate as a small table. */
void estimate_print(FILE *f, const struct estimate *e);

/* The estimate as JSON (new reference): calls, tokens_in, tokens_out,
 * cost_usd, and the same per backend under "backends". */
struct json_t *estimate_json(const struct estimate *e);

/* Builds the estimate (done as for estimate_build) and prints it to f, as
 * the table or (json) as one JSON line {"event": "estimate", ...}.
 * Returns 0, or 2 (EXIT_USAGE) after printing the error. */
int estimate_show(FILE *f, const struct conf *c, const struct graph *g,
    const struct registry *reg, const unsigned char *done, int json);

/*
 * Checks [drove] confirm_usd and max_calls: a bad value, or a graph that
 * would make more calls than max_calls (0: no cap; the whole graph, even
 * on a resume: the cap is on the graph's size), is DROVE_EINVAL with
 * "file:line: ..." naming the count in err.  Borrows everything.
 */
int estimate_check_conf(const struct conf *c, const struct graph *g,
    const struct registry *reg, char *err, size_t errlen);

/*
 * [drove] confirm_usd before a run starts: 0 when it may start (no
 * confirm_usd, a worst case within it, yes set, or y typed at the question
 * on the terminal), else 2 (EXIT_USAGE) after saying why on stderr.  Not
 * on a terminal (stdin is none, or /dev/tty cannot be opened) it never
 * asks.  done as for estimate_build: a resume is asked about what is left.
 */
int estimate_confirm(const struct conf *c, const struct graph *g,
    const struct registry *reg, const unsigned char *done, int yes);

#endif /* DROVE_ESTIMATE_H */
