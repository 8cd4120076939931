/*
 * The host table handed to plugins (struct drove_host), implemented over
 * the core's loop, child processes, configuration and scheduler.
 */
#ifndef DROVE_HOST_H
#define DROVE_HOST_H

#include "drove/plugin.h"
#include "loop.h"

/* The table; valid for the life of the process. */
const struct drove_host *host_get(void);
/* The loop host services (timers, children) run on; NULL to detach. */
void host_set_loop(struct loop *l);
struct loop *host_loop(void);
/* Expands {{name}} and {{replica}} in tmpl; the caller frees. */
char *host_expand_output(const char *tmpl, const char *name, int replica);

#endif /* DROVE_HOST_H */
