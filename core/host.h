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
/* The HTTP client on the host's loop (made on first use), or NULL. */
struct http_client *host_http_client(void);
/* Sends host->call_done to fn instead of the scheduler (NULL: back to the
 * scheduler); `drove doctor --probe` runs calls outside a run. */
void host_set_call_done(void (*fn)(struct drove_call *,
    const struct drove_result *));
/* Expands {{name}} and {{replica}} in tmpl; the caller frees. */
char *host_expand_output(const char *tmpl, const char *name, int replica);

#endif /* DROVE_HOST_H */
