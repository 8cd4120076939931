/*
 * The host table handed to plugins (struct drove_host), implemented over
 * the core's loop, child processes and configuration.  host.c calls no
 * module above it: a call's and a merge's services reach their owner
 * through what call->core and m->core point to.
 */
#ifndef DROVE_HOST_H
#define DROVE_HOST_H

#include "drove/plugin.h"
#include "loop.h"

/*
 * The loop spawn, timers and http_request run on, and its HTTP client: one
 * per owner of a loop (a run, doctor, plan).
 */
struct host_env {
	struct loop *loop;
	struct http_client *http;	/* made on first use */
};

/*
 * What drove_call.core and drove_merge_call.core point to starts with
 * this: the owner's env.  A plugin hands that pointer back in
 * drove_spawn.core, drove_http_req.core and timer_start_at (ABI 1.4), and
 * the host finds the loop there.
 */
struct host_ctx {
	struct host_env *env;
	/* a task's call: where its agent's stdout is copied as it comes
	 * (spawn_tee), or NULL */
	const char *live_path;
	/* a new run's task: its first spawn finds no earlier attempt's
	 * files to empty (host.c clears it then, for the next attempt) */
	int fresh;
	/* set by the host when it asked spawn for that copy: made at the
	 * agent's first stdout byte */
	int teed;
};

/* What drove_call.core points to: host->call_done runs done. */
struct host_call {
	struct host_ctx ctx;	/* first */
	void (*done)(struct host_call *hc, const struct drove_result *r);
	/* host->call_progress: len bytes more of the answer, or NULL */
	void (*progress)(struct host_call *hc, const char *text, size_t len);
	/* launches (launch.c), or NULL: the job's name for the scheduler
	 * ("drove-<run>-<task>") into buf; and what a launcher said of the
	 * attempt's job: its id, why it is pending (NULL: it runs), or,
	 * with ended, that it is over */
	void (*job_name)(struct host_call *hc, char *buf, size_t len);
	void (*job)(struct host_call *hc, const char *launcher,
	    const char *job, const char *pending, int ended);
	/* launches, or NULL: the attempt's agent ended with status (as
	 * spawn's on_exit gives it: an exit code, or minus a signal) and
	 * err (0, or why drove could not run or had to end it) */
	void (*exited)(struct host_call *hc, int status, int err);
};

struct host_merge;

/* A merge's services, implemented by whoever runs the merge. */
struct host_merge_ops {
	int (*write_output)(struct host_merge *hm, const char *path,
	    const void *data, size_t len, char *err, size_t errlen);
	void (*done)(struct host_merge *hm, int outcome, const char *text,
	    size_t len, const char *error);
	int (*backend_call)(struct host_merge *hm, const char *backend,
	    const char *prompt, const char *system,
	    void (*done)(void *arg, const struct drove_result *r), void *arg,
	    void **handle);
	int (*note)(struct host_merge *hm, const char *key, const char *json);
};

/* What drove_merge_call.core points to. */
struct host_merge {
	struct host_ctx ctx;	/* first */
	const struct host_merge_ops *ops;
};

/* What a host->backend_call handle points to. */
struct host_handle {
	void (*cancel)(struct host_handle *h);
};

/* The table; valid for the life of the process. */
const struct drove_host *host_get(void);
/*
 * Only for plugins built before ABI 1.4, whose spawn, http_request and
 * timer_start carry no context: binds e (its loop set) as the env those
 * run on while its owner drives the loop; NULL unbinds.  Borrows e.
 */
void host_bind_legacy(struct host_env *e);
/* Frees the HTTP client e made; unbinds it when bound. */
void host_env_release(struct host_env *e);
/* The HTTP client on e's loop (made on first use), or NULL. */
struct http_client *host_env_http(struct host_env *e);
/* Expands {{name}} and {{replica}} in tmpl; the caller frees. */
char *host_expand_output(const char *tmpl, const char *name, int replica);

#endif /* DROVE_HOST_H */
