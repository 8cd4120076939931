/*
 * The configured backends of a run: each [backend NAME] section checked
 * against its plugin, its limits read, and opened when something calls it.
 */
#ifndef DROVE_BACKEND_H
#define DROVE_BACKEND_H

#include <stddef.h>

#include "conf.h"
#include "drove/plugin.h"
#include "graph.h"
#include "quota.h"
#include "registry.h"

/* A configured [backend NAME]: its plugin, state and limits. */
struct backend {
	char *name;
	const struct conf_section *sec;
	const struct drove_plugin *p;
	void *state;
	struct be_limits lim;	/* concurrency, rpm, tpm, prices */
	double timeout_s;	/* default per call; 0: none */
	long inflight;		/* attempts in flight */
	int used;		/* opened */
	struct backend *fallback;	/* where a call moves (fallback.h) */
};

/* Checks every [backend] section of c against the plugins in reg (type
 * known, keys known).  Returns 0, or DROVE_EINVAL with "file:line: ..."
 * in err. */
int backend_check_all(const struct conf *c, const struct registry *reg,
    char *err, size_t errlen);

/*
 * Makes *bev (*n entries) from every [backend] section of c, and opens the
 * ones a task of g names.  jobs_cap bounds a backend's window.  Returns 0,
 * or < 0 with "file:line: ..." in err; either way backend_close_all frees
 * what was made.
 */
int backend_open_all(const struct conf *c, const struct graph *g,
    const struct registry *reg, long jobs_cap, struct backend **bev,
    size_t *n, char *err, size_t errlen);
/* Opens b when nothing did yet (a merge calls a backend no task uses).
 * Returns 0, or < 0 with "backend 'x': ..." in err. */
int backend_open(struct backend *b, char *err, size_t errlen);
/* Opens b and the backends of its fallback chain, as backend_open. */
int backend_open_chain(struct backend *b, char *err, size_t errlen);
/* Closes the opened backends and frees the array. */
void backend_close_all(struct backend *bev, size_t n);
/* The backend named name, or NULL. */
struct backend *backend_find(struct backend *bev, size_t n,
    const char *name);

#endif /* DROVE_BACKEND_H */
