/*
 * The task graph: tasks read from [task NAME] sections, their dependencies
 * (after =, {{name}} references in prompts, inputs =, and ordering edges
 * between tasks whose `writes` globs overlap), waves and critical path.
 */
#ifndef DROVE_GRAPH_H
#define DROVE_GRAPH_H

#include <stddef.h>

#include "conf.h"

/*
 * Longest task name: it names tasks/NAME.out, tasks/NAME.REPLICA.err and
 * tasks/NAME.merge, their temporary files, and the branch drove/RUN/NAME,
 * each one path component of at most NAME_MAX (255) bytes.
 */
#define GRAPH_NAME_MAX 200
#define GRAPH_NAME_MAX_S "200"

enum isolation {
	ISOLATION_NONE = 0,
	ISOLATION_WORKTREE = 1,
};

/* Why an edge exists; shown by `drove graph`. */
enum edge_kind {
	EDGE_AFTER = 1,		/* after = */
	EDGE_REF = 2,		/* {{name}} in the prompt or system */
	EDGE_INPUT = 3,		/* inputs = */
	EDGE_WRITES = 4,	/* overlapping writes, declared order */
};

struct edge {
	size_t task;		/* index of the task depended on */
	enum edge_kind kind;
	char *detail;		/* EDGE_WRITES: the two globs, "a ~ b" */
	int line;		/* line of the key that made it; 0 for
				 * EDGE_WRITES */
};

struct task {
	char *name;
	const struct conf_section *sec;	/* borrowed from the conf */
	char **backends;	/* NULL-ended; empty for a merge node */
	size_t nbackends;
	char *prompt;		/* prompt, or prompt_file's contents */
	char *system;		/* or NULL */
	char **inputs;		/* NULL-ended; merge node sources */
	size_t ninputs;
	long replicas;		/* >= 1 */
	char *merge;		/* merge plugin name */
	double timeout_s;	/* 0: none */
	long retries;		/* extra attempts after a failure */
	char **writes;		/* NULL-ended globs */
	size_t nwrites;
	enum isolation isolation;
	char *output;		/* output template or NULL */
	char *model;		/* or NULL */
	long max_tokens;	/* 0: backend default */

	struct edge *deps;	/* what this task waits for */
	size_t ndeps;
	size_t *rdeps;		/* tasks that wait for this one */
	size_t nrdeps;
	int wave;		/* 0-based: longest chain of deps before it */
};

struct graph {
	struct task *tasks;	/* in declared order */
	size_t n;
	int nwaves;
	size_t *topo;		/* a topological order of task indices */
	struct strmap byname;	/* task name -> index in tasks */
};

/* What graph_build needs to know beyond the INI. */
struct graph_opts {
	/* merge plugins that exist, NULL-ended */
	const char *const *merges;
	/* task keys merge plugins accept, NULL-ended (may be NULL) */
	const char *const *merge_keys;
	/* default backend ([drove] backend =) or NULL */
	const char *default_backend;
	/* [drove] allow_outside: prompt_file and output may name paths
	 * outside the working directory and the task file's directory */
	int allow_outside;
};

/* True if key is one the core reads in every [task] section (merge
 * plugins add their own). */
int graph_is_task_key(const char *key);

void graph_init(struct graph *g);
void graph_release(struct graph *g);

/*
 * Builds the graph from the [task] sections of c.  Every error is reported
 * as one line "file:line: task 'x': ..." in err and DROVE_EINVAL returned:
 * unknown key, bad number, empty prompt, no backend, unknown backend (no
 * [backend NAME] section), unknown dependency or reference, unknown merge,
 * a cycle ("cycle: a -> b -> a"), no tasks at all.
 */
int graph_build(struct graph *g, const struct conf *c,
    const struct graph_opts *o, char *err, size_t errlen);

/* Index of task name, or -1. */
long graph_find(const struct graph *g, const char *name);

/*
 * Critical path: the chain of dependencies with the largest total duration.
 * dur[i] is task i's duration (NULL: every task counts 1).  Writes up to n
 * task indices, source first, into path and returns the chain's length in
 * tasks; *total gets the summed duration.  path may be NULL to count.
 */
size_t graph_critical_path(const struct graph *g, const double *dur,
    size_t *path, size_t n, double *total);

/* True if two writes globs can match a common path.  '*' and '?' never
 * match '/', '**' matches anything, [...] matches one character. */
int glob_overlap(const char *a, const char *b);

/*
 * Finds the first {{name}} reference in s (the name may have spaces or tabs
 * around it; text between braces that is not a valid name is no reference;
 * "{{{{" is an escaped literal "{{" and starts none).  Returns a pointer to
 * its "{{" or NULL; *end gets the byte after "}}", *name and *namelen the
 * name within s.  Any out pointer may be NULL.
 */
const char *graph_find_ref(const char *s, const char **end,
    const char **name, size_t *namelen);

/*
 * A copy of s with each "{{{{" made "{{" and each reference replaced:
 * lookup(arg, name, namelen, &text, &len) returns 1 with the text to put
 * there (borrowed), or 0 to keep the reference as written.  The same scan
 * as graph_find_ref, so the edges and the text agree.  The caller frees.
 */
char *graph_expand_refs(const char *s, int (*lookup)(void *arg,
    const char *name, size_t namelen, const char **text, size_t *len),
    void *arg);

/* True if task a (transitively) depends on task b. */
int graph_depends_on(const struct graph *g, size_t a, size_t b);
/*
 * The tasks task a (transitively) depends on (up), or that depend on it
 * (!up), as g->n bytes of 1 or 0 for the caller to free: one search
 * answers graph_depends_on for every other task at once.
 */
unsigned char *graph_reach_set(const struct graph *g, size_t a, int up);
/*
 * The first task in declared order that task a (transitively) depends on
 * and want(arg, k) accepts; g->n if none.  The search is made once, and
 * only when some task is wanted.
 */
size_t graph_first_dep(const struct graph *g, size_t a,
    int (*want)(const void *arg, size_t k), const void *arg);

#endif /* DROVE_GRAPH_H */
