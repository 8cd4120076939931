/*
 * drove plugin ABI: the one header plugins compile against.
 *
 * A plugin exports exactly one function, drove_plugin_entry(), returning a
 * struct drove_plugin that starts with abi_major, abi_minor and size.  The
 * host hands the plugin a struct drove_host: a table of services.  Plugins
 * never link against core symbols.
 *
 * Rules that keep old plugins working with new hosts and the reverse:
 *   - abi_major must match exactly; abi_minor only grows.
 *   - every struct here is append-only; each side reads the other's fields
 *     only within the size the other side wrote (DROVE_HAS()).  The host
 *     reads the descriptor, the operation tables, drove_result,
 *     drove_spawn and drove_http_req up to their size; a field beyond it
 *     takes its default.
 *   - error codes are negative, from enum drove_err, never reused.
 *   - everything runs on one thread, the event loop's: the host calls
 *     plugin operations and callbacks there, and host functions may be
 *     called only there.  Nothing may block.
 *
 * docs/PLUGINS.md is the guide; plugins/examples/ has a complete backend
 * and merge.
 *
 * Built-in plugins are the same sources compiled with -DDROVE_STATIC_PLUGIN
 * and -DDROVE_PLUGIN_NAME=<name>: the entry is then named
 * drove_plugin_entry_<name>.
 */
#ifndef DROVE_PLUGIN_H
#define DROVE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DROVE_ABI_MAJOR 1
#define DROVE_ABI_MINOR 6

/* True when the struct at p, whose size field says how much the other side
 * wrote, has the member m. */
#define DROVE_HAS(p, m) \
	((p)->size >= offsetof(__typeof__(*(p)), m) + sizeof((p)->m))

/* Error codes: 0 success, negative failure.  Append only. */
enum drove_err {
	DROVE_OK = 0,
	DROVE_EINVAL = -1,	/* bad argument or configuration */
	DROVE_ENOMEM = -2,	/* out of memory */
	DROVE_EIO = -3,		/* read, write or file system error */
	DROVE_ETIMEDOUT = -4,	/* a timeout expired */
	DROVE_ECANCELED = -5,	/* cancelled by the core or the user */
	DROVE_ERATELIMIT = -6,	/* rate limited: requeue, not a failure */
	DROVE_EPROTO = -7,	/* the peer broke the protocol */
	DROVE_EDNS = -8,	/* name resolution failed */
	DROVE_ECONNREFUSED = -9, /* connection refused */
	DROVE_ETLS = -10,	/* TLS handshake or verification failed */
	DROVE_EHTTP = -11,	/* the server answered with an error status */
	DROVE_EBUDGET = -12,	/* a budget cap would be exceeded */
	DROVE_ECHILD = -13,	/* a child process failed */
	DROVE_ENOTSUP = -14,	/* not supported by this build or plugin */
	DROVE_ECONFLICT = -15,	/* results conflict */
	DROVE_ESPAWN = -16,	/* a child process could not be started */
	DROVE_ECONNRESET = -17,	/* connection closed unexpectedly */
	DROVE_EAPI = -18,	/* the API reported an error in its body */
	DROVE_ENOFD = -19,	/* out of file descriptors (EMFILE, ENFILE):
				 * the core queues the call again */
};

enum drove_plugin_kind {
	DROVE_PLUGIN_BACKEND = 1,
	DROVE_PLUGIN_MERGE = 2,
	DROVE_PLUGIN_LAUNCHER = 3,	/* ABI 1.6 */
};

enum drove_log_level {
	DROVE_LOG_ERROR = 0,
	DROVE_LOG_WARN = 1,
	DROVE_LOG_INFO = 2,
	DROVE_LOG_DEBUG = 3,
};

/* A configuration section (a [backend NAME] or a [task NAME]); opaque. */
struct drove_conf;
/* A backend's launcher, from host->launch_open(); opaque (ABI 1.6). */
struct drove_launcher;
/* An HTTP request for host->http_request(); defined below. */
struct drove_http_req;

/* Token usage of one call. */
struct drove_usage {
	uint64_t tokens_in;
	uint64_t tokens_out;
	uint64_t cache_read;
	uint64_t cache_write;
};

/*
 * One agent call.  The core owns it and every string it points to; they
 * stay valid until the backend has called host->call_done() for it, and not
 * a moment longer.  plugin_data is the backend's own slot.
 */
struct drove_call {
	uint32_t size;
	const char *task;	/* task name */
	int replica;		/* 0-based replica index */
	int attempt;		/* 1-based */
	const char *prompt;	/* the prompt, references expanded */
	size_t prompt_len;
	const char *system;	/* system prompt or NULL */
	const char *model;	/* model override or NULL */
	int64_t max_tokens;	/* 0: backend default */
	double timeout_s;	/* 0: none.  The core cancels a call that
				 * outlives it (with "timed out after Ns");
				 * a backend may end it first itself */
	const char *workdir;	/* working directory or NULL for the cwd */
	const char *stderr_path; /* where a child's stderr goes, or NULL */
	const struct drove_conf *task_conf; /* the task's own section */
	void *core;		/* the core's; do not touch */
	void *plugin_data;	/* the backend's */
};

/* What a backend reports when a call ends.  Borrowed by the core for the
 * duration of call_done(); the core copies what it keeps, reading only up
 * to size (fields beyond it: 0, retry_after_ms -1). */
struct drove_result {
	uint32_t size;
	int status;		/* 0 ok, or a negative enum drove_err */
	const char *text;	/* the output */
	size_t len;
	struct drove_usage usage;
	const char *error;	/* human text when status != 0, or NULL */
	int retryable;		/* transient failure: the core may retry */
	int64_t retry_after_ms;	/* server's hint, or -1 */
	int http_status;	/* 0 when not HTTP */
};

/* One input of a merge: a replica of a task, or another task's output. */
struct drove_merge_input {
	uint32_t size;
	const char *task;	/* source task name */
	int replica;		/* replica index, or -1 for a whole task */
	const char *backend;	/* backend that produced it, or NULL */
	int status;		/* 0 ok, negative: this source failed */
	const char *text;
	size_t len;
	const char *output;	/* the source's own declared output, or NULL */
};

enum drove_merge_outcome {
	DROVE_MERGE_CLEAN = 0,
	DROVE_MERGE_CONFLICT = 1,
	DROVE_MERGE_ERROR = 2,
};

/* One merge.  The core owns it, its inputs and their strings until the
 * plugin calls host->merge_done(). */
struct drove_merge_call {
	uint32_t size;
	const char *task;	/* the task whose results are merged */
	const struct drove_conf *conf; /* its section: merge-specific keys */
	size_t n;
	const struct drove_merge_input *inputs;
	const char *output;	/* the task's `output` template, or NULL; the
				 * core writes the merged text there */
	const char *artifact_dir; /* this task's own directory for files the
				   * merge keeps; write_output creates it */
	void *core;
	void *plugin_data;
};

/* Child process request for host->spawn(). */
struct drove_spawn {
	uint32_t size;
	const char *const *argv;	/* argv[0] is looked up in PATH */
	const char *const *env_add;	/* "K=V" entries added, NULL-ended */
	const char *cwd;		/* or NULL */
	const void *stdin_data;		/* written to the child's stdin */
	size_t stdin_len;
	const char *stderr_path;	/* file for stderr, NULL: /dev/null */
	double timeout_s;		/* 0: none; then TERM, grace, KILL */
	/* Called once when the child has exited and stdout is drained.
	 * status: exit code >= 0, or -signal.  err: 0, or DROVE_ETIMEDOUT,
	 * DROVE_ECANCELED, DROVE_ESPAWN (then status is -1 and out holds
	 * the reason).  out is borrowed for the call only. */
	void (*on_exit)(void *arg, int status, int err, const char *out,
	    size_t len);
	void *arg;
	/* ABI 1.2: when not NULL, the child's environment instead of the
	 * core's ("K=V" entries, NULL-ended); env_add still applies.  When
	 * NULL, the core's environment less the names that look like
	 * secrets (see env_passes). */
	const char *const *env;
	/* ABI 1.4: the context the child runs in: call->core or m->core
	 * of the call or merge it is for.  The core finds the owner's loop
	 * there; without it (an older plugin) the core falls back to the
	 * owner that drives the loop. */
	void *core;
};

/*
 * Services the core gives plugins.  The table is valid while the plugin is
 * loaded.  Every function may be called only from the event loop thread,
 * which is where plugin operations and callbacks run, and never blocks.
 * Strings passed in are borrowed for the call (the host copies what it
 * keeps) unless a comment says otherwise.
 */
struct drove_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t size;

	/* Memory the plugin frees with free (and memory the host hands
	 * over: split_argv, expand_output).  Never NULL: out of memory
	 * ends drove.  Any time. */
	void *(*alloc)(size_t n);
	void *(*realloc)(void *p, size_t n);
	void (*free)(void *p);			/* NULL is fine */
	char *(*strdup)(const char *s);

	/* One line on stderr at enum drove_log_level (DEBUG only with -v).
	 * Any time. */
	void (*log)(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

	/* Value of key in a section, or NULL.  Borrowed from the core,
	 * valid for the whole run.  With a section the core handed over. */
	const char *(*conf_get)(const struct drove_conf *c, const char *key);
	/* Writes "file:line" of key (or of the section when key is NULL)
	 * into buf. */
	void (*conf_where)(const struct drove_conf *c, const char *key,
	    char *buf, size_t len);
	/* Name of the section ("claude" for [backend claude]); valid for
	 * the whole run. */
	const char *(*conf_name)(const struct drove_conf *c);

	/* Starts a child; req and what it points to are copied.  Returns 0
	 * and fills *handle, then on_exit runs exactly once from the loop,
	 * never from within spawn; or returns < 0 and on_exit never
	 * runs (errno then says why: EINVAL for a bad request, else the
	 * failed system call's; the core logs the details).  Any time. */
	int (*spawn)(const struct drove_spawn *req, void **handle);
	/* TERM the child's process group, KILL after a grace period;
	 * on_exit still runs, with err DROVE_ECANCELED.  Only until
	 * on_exit has run: the handle is gone then. */
	void (*spawn_kill)(void *handle);
	/* Splits a command line like a POSIX shell would split words
	 * (quotes, backslashes), without expanding anything.  Returns a
	 * NULL-ended argv in one host allocation (free with host->free), or
	 * NULL and a reason in err. */
	char **(*split_argv)(const char *cmd, char *err, size_t errlen);

	/* One-shot timer: cb(arg) runs once from the loop after after_s
	 * seconds (<= 0: at the next turn), never from within timer_start.
	 * Returns a handle for timer_stop, which may be called only before
	 * cb ran (the handle is gone then).  Any time. */
	void *(*timer_start)(double after_s, void (*cb)(void *arg), void *arg);
	void (*timer_stop)(void *timer);

	/* Optional progress of a running call (text copied): the next len
	 * bytes of the answer as it may be shown, so with any secret the
	 * final text would not hold already removed; the host appends them
	 * to the task's live copy (tasks/TASK.live).  Only between start and
	 * call_done. */
	void (*call_progress)(struct drove_call *c, const char *text,
	    size_t len);
	/* Ends a call the backend started: exactly once per start that
	 * returned 0, from start itself, from cancel or from any later
	 * callback.  r is copied up to r->size; c is gone afterwards. */
	void (*call_done)(struct drove_call *c, const struct drove_result *r);

	/* Writes a file atomically (temp file and rename), creating parent
	 * directories; refuses a path that another task of this run wrote
	 * or declared.  Returns 0, or < 0 with a reason in err.  For files
	 * a merge keeps (in m->artifact_dir, or each source's own file);
	 * the task's `output` is the core's to write.  Only while m runs. */
	int (*write_output)(struct drove_merge_call *m, const char *path,
	    const void *data, size_t len, char *err, size_t errlen);
	/* Expands {{name}} and {{replica}} in an output template; returns a
	 * host allocation the plugin frees.  Any time. */
	char *(*expand_output)(const char *tmpl, const char *name,
	    int replica);
	/*
	 * Ends a merge: exactly once per start that returned 0, from start
	 * itself or any later callback.  outcome DROVE_MERGE_CLEAN: text is
	 * the merged result, which the core keeps as the task's result and
	 * writes to the task's `output` (unless the ops say
	 * DROVE_MERGE_OWN_OUTPUT); else error says why (one line).  text
	 * and error are copied; m is gone afterwards.
	 */
	void (*merge_done)(struct drove_merge_call *m, int outcome,
	    const char *text, size_t len, const char *error);

	/* Starts an HTTP(S) request; req is copied up to req->size.
	 * Returns 0 and fills *handle, then on_done runs exactly once from
	 * the loop, never from within http_request; or returns < 0, writes
	 * the one-line reason `drove fetch` would print into req->errbuf
	 * (when set, ABI 1.3), and no callback runs.  Any time. */
	int (*http_request)(const struct drove_http_req *req, void **handle);
	/* Stops a request from anywhere, callbacks included; on_done then
	 * runs with DROVE_ECANCELED (at once when not called from one of
	 * the request's callbacks), unless it already ran.  Only until
	 * on_done has run. */
	void (*http_cancel)(void *handle);

	/* merges: calls to backends */
	/*
	 * Starts one call on the configured backend named `backend` on
	 * behalf of merge m (a judge, a summary).  prompt and system (may
	 * be NULL) are copied.  Returns 0, fills *handle, and later calls
	 * done(arg, r) exactly once from the loop, never from within
	 * backend_call (r is borrowed for that call only; a failure to open
	 * the backend also arrives there); or returns DROVE_EINVAL (no such
	 * backend) and never calls done.  The call's usage and cost count
	 * toward m's task; it waits for a free slot of the backend's
	 * `concurrency`.  Only while m runs.
	 */
	int (*backend_call)(struct drove_merge_call *m, const char *backend,
	    const char *prompt, const char *system,
	    void (*done)(void *arg, const struct drove_result *r), void *arg,
	    void **handle);
	/* Stops a call backend_call started whose done has not run yet;
	 * done still follows, with DROVE_ECANCELED.  Only until done ran. */
	void (*backend_call_cancel)(void *handle);
	/* Adds key = json (a JSON value as text, e.g. "[1,2]") to m's task
	 * in summary.json, where `drove report` shows it; a key the core
	 * already writes is left alone.  key and json are copied.  Returns
	 * 0, or DROVE_EINVAL when json does not parse.  Only while m runs. */
	int (*merge_note)(struct drove_merge_call *m, const char *key,
	    const char *json);

	/* ABI 1.4: timer_start in a context (call->core or m->core): the
	 * timer runs on that owner's loop.  A plugin that may meet an older
	 * host checks DROVE_HAS(h, timer_start_at) first.  Any time;
	 * timer_stop stops it. */
	void *(*timer_start_at)(void *core, double after_s,
	    void (*cb)(void *arg), void *arg);

	/* ABI 1.4.  Whether a child should get the environment entry
	 * "NAME=VALUE": not when a glob of drop matches NAME, yes when one
	 * of pass does, else yes unless NAME looks like a secret (*_KEY,
	 * *TOKEN*, *SECRET*, *PASSWORD*, ...).  pass and drop are NULL-ended
	 * glob lists (* and ?, case ignored) or NULL.  The filter spawn
	 * applies when drove_spawn.env is NULL; a plugin that builds its
	 * own env uses it too.  Any time. */
	int (*env_passes)(const char *entry, const char *const *pass,
	    const char *const *drop);

	/* ABI 1.5.  s[0..len) as valid UTF-8: each maximal invalid subpart
	 * becomes U+FFFD, as in the core's own JSON (--json, summary.json),
	 * so text from agents never vanishes from a plugin's JSON either.
	 * Returns a NUL-terminated host allocation (free with host->free),
	 * never NULL, its length in *outlen when outlen is set; NULL s gives
	 * "".  A plugin that may meet an older host checks
	 * DROVE_HAS(h, utf8_lossy) first.  Any time. */
	char *(*utf8_lossy)(const char *s, size_t len, size_t *outlen);

	/*
	 * ABI 1.6: launchers.  A backend that runs agents as children (exec)
	 * starts them through the launcher its section names (`launcher =
	 * local | slurm | <plugin>`, default local) instead of spawn, so
	 * the same agent runs here or on a cluster.  launch_open reads the
	 * section's launcher keys (cpus, mem, time_limit, partition,
	 * launcher_args), finds and opens the launcher; returns 0 and fills
	 * *l, or < 0 with a one-line reason in err.  From a backend's
	 * open; launch_close(l) from its close.
	 */
	int (*launch_open)(const struct drove_conf *backend,
	    struct drove_launcher **l, char *err, size_t errlen);
	void (*launch_close)(struct drove_launcher *l);
	/* Starts req (copied, as spawn copies it) for the call whose
	 * context req->core is (a job named after its run and task);
	 * on_exit runs exactly once, never from within launch; or returns
	 * < 0 and it never runs.  Any time. */
	int (*launch)(struct drove_launcher *l, const struct drove_spawn *req,
	    void **handle);
	/* As spawn_kill: ends the agent wherever it runs; on_exit follows
	 * with DROVE_ECANCELED.  Only until on_exit has run. */
	void (*launch_cancel)(void *handle);
	/* For launcher plugins: what the scheduler says of the launch whose
	 * token is req->token (struct drove_launch_req).  job: its id once
	 * known (the core journals it, so a resume can end it, and shows it
	 * in summary.json), or NULL; pending: why it waits for resources
	 * (shown as pending in the live view and the events), or NULL once
	 * it runs.  Strings are copied.  Only until on_exit has run. */
	void (*launch_state)(void *token, const char *job,
	    const char *pending);
};

/*
 * ABI 1.6: what a launcher is asked to start: the child (argv, env, cwd,
 * stdin, stderr file and on_exit, as for host->spawn) and the resources
 * its backend asks for.  Borrowed for the call to start only.
 */
struct drove_launch_req {
	uint32_t size;
	const struct drove_spawn *spawn; /* env is complete: the core's
					  * filtered environment plus env_add */
	const char *job_name;	/* "drove-<run>-<task>" */
	int64_t cpus;		/* 0: the launcher's default */
	uint64_t mem_bytes;	/* 0: none asked */
	double time_limit_s;	/* 0: none */
	const char *partition;	/* or NULL */
	const char *const *args; /* launcher_args, split, NULL-ended */
	void *token;		/* for host->launch_state */
};

/*
 * ABI 1.6: launcher plugins.  One state per backend section that names the
 * launcher.  All on the loop thread but end_jobs and check.
 */
struct drove_launcher_ops {
	uint32_t size;
	/* Makes the state for backend section c (its keys are the
	 * backend's).  Returns 0, or < 0 with a one-line reason in err. */
	int (*open)(const struct drove_host *h, const struct drove_conf *c,
	    void **state, char *err, size_t errlen);
	void (*close)(void *state);
	/* Starts req.  Returns 0, fills *handle and later calls
	 * req->spawn->on_exit exactly once, never from within start (status
	 * is the agent's exit status; on failure of the launch itself err
	 * is DROVE_ECHILD and out holds the reason, one line); or returns
	 * < 0 and never calls it. */
	int (*start)(void *state, const struct drove_launch_req *req,
	    void **handle);
	/* Ends a launch whose on_exit has not run; on_exit follows with
	 * DROVE_ECANCELED. */
	void (*cancel)(void *state, void *handle);
	/* Before a resume starts anything: ends the jobs (ids launch_state
	 * reported) a dead drove left.  May block, a bounded time.
	 * Returns the number ended, or < 0 with a reason in err. */
	int (*end_jobs)(void *state, const char *const *jobs, size_t n,
	    char *err, size_t errlen);
	/* drove doctor: checks that the launcher can run an agent in
	 * workdir (NULL: the current directory).  May block, a bounded
	 * time.  Returns 0 with what it checked in msg, or < 0 with why
	 * not.  NULL: nothing to check. */
	int (*check)(void *state, const char *workdir, char *msg,
	    size_t msglen);
};

/*
 * Backend plugins: one configured [backend NAME] section is one state.
 * All on the loop thread; size is sizeof(struct drove_backend_ops).
 */
struct drove_backend_ops {
	uint32_t size;
	/* Checks the section and makes the backend's state, once, before
	 * the first call (only for a backend something uses).  c is valid
	 * for the whole run.  Returns 0, or < 0 with a one-line reason in
	 * err (the core adds file:line and the backend's name). */
	int (*open)(const struct drove_host *h, const struct drove_conf *c,
	    void **state, char *err, size_t errlen);
	/* Frees the state at the end of the run; no call is in flight. */
	void (*close)(void *state);
	/* Starts one call and returns at once.  Returns 0 and calls
	 * h->call_done(call) exactly once, now or later; or returns < 0 and
	 * never calls it. */
	int (*start)(void *state, struct drove_call *call);
	/* Asks a call that has not ended to stop (the user, the run or its
	 * timeout); call_done still follows, with DROVE_ECANCELED, from
	 * within cancel or later.  Never made after call_done.  NULL: the
	 * backend cannot stop a call early. */
	void (*cancel)(void *state, struct drove_call *call);
};

/* DROVE_MERGE_OWN_OUTPUT in drove_merge_ops.flags: the merge writes the
 * task's `output` itself (one file per source, as additive does); the core
 * then does not write the merged text there. */
#define DROVE_MERGE_OWN_OUTPUT 0x1u

/* Merge plugins.  All on the loop thread; size is
 * sizeof(struct drove_merge_ops). */
struct drove_merge_ops {
	uint32_t size;
	/* Starts a merge.  Returns 0 and calls h->merge_done(m) exactly
	 * once, before returning or later; or returns < 0 and never calls
	 * it.  The merge returns its result through merge_done and writes
	 * no `output` file. */
	int (*start)(const struct drove_host *h, struct drove_merge_call *m);
	/* Asks a merge that has not ended to stop; merge_done still
	 * follows.  NULL for a merge that always ends within start. */
	void (*cancel)(const struct drove_host *h, struct drove_merge_call *m);
	/* Optional: checks the merge's keys in a task's section before
	 * anything runs.  Returns 0, or < 0 with a one-line reason in err
	 * and the key at fault in *key (or NULL); the core adds
	 * "file:line: task 'x': " and the run does not start. */
	int (*check)(const struct drove_host *h, const struct drove_conf *task,
	    const char **key, char *err, size_t errlen);
	/* ABI 1.3: DROVE_MERGE_OWN_OUTPUT, or 0. */
	uint32_t flags;
};

struct drove_plugin {
	uint32_t abi_major;	/* DROVE_ABI_MAJOR */
	uint32_t abi_minor;	/* DROVE_ABI_MINOR */
	uint32_t size;		/* sizeof(struct drove_plugin) */
	uint32_t kind;		/* enum drove_plugin_kind */
	const char *name;	/* the type= or merge= value */
	const char *version;
	const char *description;
	/* Keys the plugin accepts in its section (backends) or in a task
	 * (merges), NULL-ended; any other key is a load error. */
	const char *const *keys;
	const struct drove_backend_ops *backend;
	const struct drove_merge_ops *merge;
	/*
	 * ABI 1.3: a backend's defaults.  A descriptor whose size stops
	 * before them gets 2 retries and a 1800 s timeout, and no API
	 * checks in `drove doctor`.
	 */
	int32_t default_retries;	/* extra attempts after a retryable
					 * failure, unless `retries` is set */
	int32_t key_required;		/* the key must be set (doctor) */
	double default_timeout_s;	/* per call unless `timeout` is set;
					 * 0: none */
	const char *default_key_env;	/* API backends: the variable the key
					 * comes from unless api_key_env is
					 * set, or NULL */
	const char *default_base_url;	/* API backends: where the API is
					 * unless base_url is set, or NULL */
	/* ABI 1.6: kind DROVE_PLUGIN_LAUNCHER's operations. */
	const struct drove_launcher_ops *launcher;
};

/* One response header; borrowed for the callback only. */
struct drove_http_header {
	const char *name;
	size_t name_len;
	const char *value;	/* blanks around it removed */
	size_t value_len;
};

/* One Server-Sent Event; borrowed for the callback only.  The strings are
 * NUL-terminated and valid UTF-8. */
struct drove_sse_event {
	uint32_t size;
	const char *event;	/* "message" unless the stream named it */
	const char *data;	/* data lines joined with "\n" */
	size_t data_len;
	const char *id;		/* the last event ID, "" if none */
};

/*
 * An HTTP/1.1 request for host->http_request().  The host copies what it
 * needs (up to size) before returning.  Callbacks run on the loop thread,
 * never from within http_request; any of them may call host->http_cancel().
 */
struct drove_http_req {
	uint32_t size;
	const char *method;	/* NULL: GET, or POST when there is a body */
	const char *url;	/* http:// or https:// */
	const char *const *headers; /* "Name: value", NULL-ended, or NULL */
	const void *body;
	size_t body_len;
	int sse;		/* deliver the body as events to on_sse */
	const char *ca_file;	/* NULL: $SSL_CERT_FILE or the system CAs */
	double connect_timeout_s;	/* 0: default for each */
	double tls_timeout_s;
	double first_byte_timeout_s;
	double idle_timeout_s;	/* without progress: a whole head, event or
				 * comment, or body bytes (default 60) */
	/* The final status and headers (1xx are skipped). */
	void (*on_head)(void *arg, int status,
	    const struct drove_http_header *h, size_t n);
	/* Body bytes as they arrive (when sse is 0). */
	void (*on_body)(void *arg, const char *p, size_t n);
	/* Each complete event (when sse is 1). */
	void (*on_sse)(void *arg, const struct drove_sse_event *ev);
	/* Exactly once: err 0 after the whole response, else a negative
	 * enum drove_err and a one-line reason (borrowed). */
	void (*on_done)(void *arg, int err, const char *errtext);
	void *arg;
	/* Since ABI 1.2: an http:// request connects only to a loopback
	 * address (127.0.0.0/8, ::1), checked on each address the name
	 * resolved to, for requests that carry a key in the clear. */
	int loopback_only;
	/* ABI 1.3: when http_request fails it writes the one-line reason
	 * here (NUL-terminated, cut to errlen), or NULL: no text. */
	char *errbuf;
	size_t errlen;
	/* ABI 1.4: the context, as in drove_spawn: call->core or m->core. */
	void *core;
};

#define DROVE_PLUGIN_CONCAT2(a, b) a##b
#define DROVE_PLUGIN_CONCAT(a, b) DROVE_PLUGIN_CONCAT2(a, b)

#ifdef DROVE_STATIC_PLUGIN
#define DROVE_PLUGIN_ENTRY \
	DROVE_PLUGIN_CONCAT(drove_plugin_entry_, DROVE_PLUGIN_NAME)
#else
#define DROVE_PLUGIN_ENTRY drove_plugin_entry
#endif

/* Gives a symbol default visibility, so a plugin built with
 * -fvisibility=hidden still exports its entry. */
#if defined(__GNUC__) || defined(__clang__)
#define DROVE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define DROVE_PLUGIN_EXPORT
#endif

/*
 * The one symbol a plugin exports; define it as
 *	const struct drove_plugin *
 *	DROVE_PLUGIN_ENTRY(void) { return &my_descriptor; }
 * This declaration exports it.  Called once, on the loop thread, right
 * after loading; the descriptor it returns must stay valid while the
 * plugin is loaded (a static const object).
 */
DROVE_PLUGIN_EXPORT const struct drove_plugin *DROVE_PLUGIN_ENTRY(void);

#ifdef __cplusplus
}
#endif
#endif /* DROVE_PLUGIN_H */
