/*
 * The exec backend: a command-line agent (claude -p, codex exec, aider, any
 * command) run as a child process through the host, never through a shell.
 *
 *   [backend sh]
 *   type = exec
 *   command = claude -p     ; split like a shell splits words, no expansion
 *   prompt_via = stdin      ; stdin | arg (last argument) | env (DROVE_PROMPT)
 *   cwd = /some/dir         ; optional; a task's worktree wins over it
 *   env = K=V, K2=V2        ; optional additions to the environment
 *   env_pass = ANTHROPIC_API_KEY, GH_*   ; secret-looking names let through
 *   env_drop = AWS_*, *_URL              ; more names withheld
 *   launcher = slurm        ; where agents run: local (default), slurm or
 *                           ; a launcher plugin (ABI 1.6; the host reads
 *                           ; cpus, time_limit, partition, launcher_args)
 *
 * The agent gets drove's environment except the variables whose names look
 * like secrets (the host's env_passes: *_KEY, *TOKEN*, *SECRET*, ...), which
 * env_pass lets through; env_drop withholds more and wins over env_pass.
 * Names are matched as globs (* and ?), without regard to case.  Each call
 * also gets the env entries, DROVE_TASK, DROVE_REPLICA, DROVE_ATTEMPT,
 * DROVE_MODEL (when a model is set) and DROVE_WORKTREE (when the call has a
 * workdir).  Built only against drove/plugin.h and libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "plugin_util.h"

/* How much of the end of the stderr file is searched for its last line. */
#define STDERR_TAIL 4096

extern char **environ;
enum via {
	VIA_STDIN,
	VIA_ARG,
	VIA_ENV,
};

/* One [backend NAME] section.  Everything is a host allocation. */
struct exec_backend {
	const struct drove_host *h;
	char **argv;		/* from h->split_argv: one allocation */
	size_t argc;
	enum via via;
	char *cwd;		/* or NULL */
	char *model;		/* the section's model, or NULL */
	char **env;		/* "K=V" from the env key, NULL-ended */
	size_t nenv;
	char **pass;		/* env_pass globs, NULL-ended, or NULL */
	char **drop;		/* env_drop globs, NULL-ended, or NULL */
	const char **base;	/* environ less what is withheld: filtered
				 * once, at open, not per call */
	struct drove_launcher *launcher; /* ABI 1.6 hosts: where agents
					  * run; NULL: spawn */
};

/* One call in flight; lives until on_exit has reported it. */
struct exec_call {
	struct exec_backend *b;
	struct drove_call *call;
	void *handle;		/* the host's spawn */
	const char **argv;	/* borrowed strings, but the prompt */
	char *prompt;		/* NUL-terminated copy for arg and env */
	const char **env;	/* section env, then the own entries */
	char *own[8];		/* DROVE_* entries this call made */
	size_t nown;
};

static const char *const exec_keys[] = {
	"type", "command", "prompt_via", "cwd", "env", "env_pass", "env_drop",
	/* the host's launcher keys (ABI 1.6) */
	"launcher", "cpus", "time_limit", "partition", "launcher_args",
	/* handled by the core for every backend */
	"concurrency", "rpm", "tpm", "price_in", "price_out", "model",
	"max_tokens", "timeout",
	NULL,
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
valid_env_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* Parses "K=V, K2=V2" into b->env.  Returns 0 or DROVE_EINVAL. */
static int
parse_env(struct exec_backend *b, const char *s, char *err, size_t errlen)
{
	const struct drove_host *h = b->h;
	const char *p, *e, *end, *eq;
	size_t n = 1;

	for (p = s; *p != '\0'; p++)
		if (*p == ',')
			n++;
	b->env = h->alloc((n + 1) * sizeof(*b->env));
	b->nenv = 0;
	for (p = s; p != NULL; p = (*end == ',') ? end + 1 : NULL) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		e = end;
		while (p < e && is_space(*p))
			p++;
		while (e > p && is_space(e[-1]))
			e--;
		if (p == e)
			continue;
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL || !valid_env_name(p, (size_t)(eq - p))) {
			snprintf(err, errlen, "env: '%.*s' is not NAME=VALUE",
			    (int)(e - p), p);
			return DROVE_EINVAL;
		}
		b->env[b->nenv] = h->alloc((size_t)(e - p) + 1);
		memcpy(b->env[b->nenv], p, (size_t)(e - p));
		b->env[b->nenv][e - p] = '\0';
		b->nenv++;
	}
	b->env[b->nenv] = NULL;
	return 0;
}

/* Whether the agent gets the environment entry "K=V": the host's filter
 * (the one every child of drove gets) with env_pass and env_drop. */
static int
env_passes(const struct exec_backend *b, const char *entry)
{
	return b->h->env_passes(entry, (const char *const *)b->pass,
	    (const char *const *)b->drop);
}

/* Parses "A, B*, ?C" into a NULL-ended array of globs in *out.  Returns 0
 * or DROVE_EINVAL. */
static int
parse_globs(struct exec_backend *b, const char *key, const char *s,
    char ***out, char *err, size_t errlen)
{
	const struct drove_host *h = b->h;
	const char *p, *e, *end, *c;
	size_t n = 1, k = 0;

	for (p = s; *p != '\0'; p++)
		if (*p == ',')
			n++;
	*out = h->alloc((n + 1) * sizeof(**out));
	(*out)[0] = NULL;
	for (p = s; p != NULL; p = (*end == ',') ? end + 1 : NULL) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		e = end;
		while (p < e && is_space(*p))
			p++;
		while (e > p && is_space(e[-1]))
			e--;
		if (p == e)
			continue;
		for (c = p; c < e; c++)
			if (!((*c >= 'a' && *c <= 'z') ||
			    (*c >= 'A' && *c <= 'Z') ||
			    (*c >= '0' && *c <= '9') || *c == '_' ||
			    *c == '*' || *c == '?')) {
				snprintf(err, errlen, "%s: '%.*s' is not a "
				    "variable name or a glob of one (letters, "
				    "digits, _, * and ?)", key, (int)(e - p),
				    p);
				return DROVE_EINVAL;
			}
		(*out)[k] = h->alloc((size_t)(e - p) + 1);
		memcpy((*out)[k], p, (size_t)(e - p));
		(*out)[k][e - p] = '\0';
		(*out)[++k] = NULL;
	}
	return 0;
}

static void
free_globs(const struct drove_host *h, char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		h->free(v[i]);
	h->free(v);
}

/* Says once which variables of drove's environment the agents will not
 * get, so a missing key is no mystery. */
static void
note_withheld(struct exec_backend *b, const char *name)
{
	char list[512];
	size_t len = 0, n = 0, i;

	list[0] = '\0';
	for (i = 0; environ != NULL && environ[i] != NULL; i++) {
		const char *eq = strchr(environ[i], '=');
		int w;

		if (env_passes(b, environ[i]))
			continue;
		n++;
		w = (int)(eq ? (size_t)(eq - environ[i]) : strlen(environ[i]));
		if (n <= 6 && len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len,
			    "%s%.*s", n > 1 ? ", " : "", w, environ[i]);
	}
	if (n == 0)
		return;
	if (n > 6 && len < sizeof(list))
		snprintf(list + len, sizeof(list) - len, " and %zu more",
		    n - 6);
	b->h->log(DROVE_LOG_INFO, "backend '%s': its agents do not get %s "
	    "(env_pass = NAME lets one through)", name, list);
}

/* drove's environment less what the agents do not get: the same for
 * every call, so matched against the globs once (matching it per call was
 * a tenth of drove's CPU in a run of short agents).  drove does not change
 * its environment while it runs. */
static void
filter_base(struct exec_backend *b)
{
	size_t n = 0, k = 0, i;

	while (environ != NULL && environ[n] != NULL)
		n++;
	b->base = b->h->alloc((n + 1) * sizeof(*b->base));
	for (i = 0; i < n; i++)
		if (env_passes(b, environ[i]))
			b->base[k++] = environ[i];
	b->base[k] = NULL;
}

static void
exec_close(void *state)
{
	struct exec_backend *b = state;
	const struct drove_host *h;
	size_t i;

	if (b == NULL)
		return;
	h = b->h;
	if (b->argv != NULL)
		h->free(b->argv);
	for (i = 0; i < b->nenv; i++)
		h->free(b->env[i]);
	if (b->env != NULL)
		h->free(b->env);
	free_globs(h, b->pass);
	free_globs(h, b->drop);
	if (b->base != NULL)
		h->free(b->base);
	if (b->launcher != NULL)
		h->launch_close(b->launcher);
	if (b->cwd != NULL)
		h->free(b->cwd);
	if (b->model != NULL)
		h->free(b->model);
	h->free(b);
}

/* An executable regular file at path f. */
static int
is_exec(const char *f)
{
	struct stat st;

	return stat(f, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(f, X_OK) == 0;
}

/*
 * Finds argv[0] now, so that a missing agent is a load error and not one
 * failed task per agent: a bare name in PATH (the env key's PATH if it
 * sets one, else drove's), an absolute path as it is.  A relative path
 * with a '/' is left to the spawn: it is relative to the agent's working
 * directory, which may be a worktree that does not exist yet.
 */
static int
find_command(struct exec_backend *b, char *err, size_t errlen)
{
	const char *cmd = b->argv[0], *path = NULL, *p, *e;
	char f[4096];

	if (cmd[0] == '/') {
		if (is_exec(cmd))
			return 0;
		snprintf(err, errlen, "command '%s': %s", cmd, access(cmd,
		    F_OK) == 0 ? "not an executable file" : "no such file");
		return DROVE_EINVAL;
	}
	if (strchr(cmd, '/') != NULL)
		return 0;
	for (size_t i = 0; i < b->nenv; i++)
		if (strncmp(b->env[i], "PATH=", 5) == 0)
			path = b->env[i] + 5;
	if (path == NULL && (path = getenv("PATH")) == NULL)
		path = "/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		int n;

		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		/* an empty entry is the current directory */
		if (e == p)
			n = snprintf(f, sizeof(f), "./%s", cmd);
		else
			n = snprintf(f, sizeof(f), "%.*s/%s", (int)(e - p), p,
			    cmd);
		if (n > 0 && (size_t)n < sizeof(f) && is_exec(f))
			return 0;
		if (*e == '\0')
			break;
	}
	snprintf(err, errlen, "command '%s' not found in PATH (%s)", cmd,
	    path);
	return DROVE_EINVAL;
}

static int
exec_open(const struct drove_host *h, const struct drove_conf *c,
    void **state, char *err, size_t errlen)
{
	struct exec_backend *b;
	const char *cmd, *via, *v;
	char why[256] = "";
	int rc;

	/* ABI 1.4 hosts filter the environment (env_passes) and honour
	 * drove_spawn.env: without them the agents would get every key */
	if (!DROVE_HAS(h, env_passes) || h->abi_minor < 4) {
		snprintf(err, errlen, "the host is too old for this plugin");
		return DROVE_ENOTSUP;
	}
	cmd = h->conf_get(c, "command");
	if (cmd == NULL) {
		snprintf(err, errlen, "missing key 'command' (the program to "
		    "run, like: command = claude -p)");
		return DROVE_EINVAL;
	}
	b = h->alloc(sizeof(*b));
	memset(b, 0, sizeof(*b));
	b->h = h;
	b->argv = h->split_argv(cmd, why, sizeof(why));
	if (b->argv == NULL) {
		snprintf(err, errlen, "command: %s", why);
		rc = DROVE_EINVAL;
		goto fail;
	}
	while (b->argv[b->argc] != NULL)
		b->argc++;
	via = h->conf_get(c, "prompt_via");
	if (via == NULL || strcmp(via, "stdin") == 0)
		b->via = VIA_STDIN;
	else if (strcmp(via, "arg") == 0)
		b->via = VIA_ARG;
	else if (strcmp(via, "env") == 0)
		b->via = VIA_ENV;
	else {
		snprintf(err, errlen, "prompt_via: '%s' is not stdin, arg or "
		    "env", via);
		rc = DROVE_EINVAL;
		goto fail;
	}
	if ((v = h->conf_get(c, "cwd")) != NULL && *v != '\0')
		b->cwd = h->strdup(v);
	if ((v = h->conf_get(c, "model")) != NULL && *v != '\0')
		b->model = h->strdup(v);
	if ((v = h->conf_get(c, "env")) != NULL &&
	    (rc = parse_env(b, v, err, errlen)) < 0)
		goto fail;
	if ((v = h->conf_get(c, "env_pass")) != NULL &&
	    (rc = parse_globs(b, "env_pass", v, &b->pass, err, errlen)) < 0)
		goto fail;
	if ((v = h->conf_get(c, "env_drop")) != NULL &&
	    (rc = parse_globs(b, "env_drop", v, &b->drop, err, errlen)) < 0)
		goto fail;
	if (b->argc == 0) {
		snprintf(err, errlen, "command: empty");
		rc = DROVE_EINVAL;
		goto fail;
	}
	if (DROVE_HAS(h, launch_open) && h->launch_open != NULL &&
	    (rc = h->launch_open(c, &b->launcher, err, errlen)) < 0)
		goto fail;
	/* a cluster's nodes have their own PATH: the agent is looked up
	 * there, by the launcher */
	v = h->conf_get(c, "launcher");
	if ((v == NULL || strcmp(v, "local") == 0) &&
	    (rc = find_command(b, err, errlen)) < 0)
		goto fail;
	note_withheld(b, h->conf_name(c));
	filter_base(b);
	*state = b;
	return 0;

fail:
	exec_close(b);
	return rc;
}

static void
call_free(struct exec_call *ec)
{
	const struct drove_host *h = ec->b->h;
	size_t i;

	for (i = 0; i < ec->nown; i++)
		h->free(ec->own[i]);
	if (ec->argv != NULL)
		h->free(ec->argv);
	if (ec->env != NULL)
		h->free(ec->env);
	if (ec->prompt != NULL)
		h->free(ec->prompt);
	h->free(ec);
}

/*
 * Copies the last non-empty line of the last STDERR_TAIL bytes of path
 * into line.  Returns its length, 0 when there is none.
 */
static size_t
stderr_last_line(const char *path, char *line, size_t size)
{
	char buf[STDERR_TAIL + 1];
	struct stat st;
	off_t from = 0;
	ssize_t n;
	size_t len = 0, i;
	char *s, *e;
	int fd;

	if (path == NULL || size == 0)
		return 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) == 0 && st.st_size > STDERR_TAIL)
		from = st.st_size - STDERR_TAIL;
	while (len < STDERR_TAIL) {
		n = pread(fd, buf + len, STDERR_TAIL - len,
		    from + (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	e = buf + len;
	while (e > buf && is_space(e[-1]))
		e--;
	for (s = e; s > buf && s[-1] != '\n'; s--)
		;
	while (s < e && is_space(*s))
		s++;
	len = (size_t)(e - s);
	if (len >= size)
		len = size - 1;
	memcpy(line, s, len);
	line[len] = '\0';
	/* keep the message on one line even if it holds odd bytes */
	for (i = 0; i < len; i++)
		if (line[i] == '\r' || line[i] == '\0')
			line[i] = ' ';
	return len;
}

static void
exec_exit(void *arg, int status, int err, const char *out, size_t len)
{
	struct exec_call *ec = arg;
	struct drove_call *call = ec->call;
	const struct drove_host *h = ec->b->h;
	const char *name = ec->b->argv[0];
	struct drove_result r;
	char msg[STDERR_TAIL + 512], line[STDERR_TAIL];
	int n = 0;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.retry_after_ms = -1;
	r.text = out;
	r.len = len;
	msg[0] = '\0';
	if (err == 0 && status == 0) {
		r.status = 0;
	} else if (err == 0 || err == DROVE_ETIMEDOUT) {
		r.status = err == 0 ? DROVE_ECHILD : DROVE_ETIMEDOUT;
		r.retryable = 1;
		if (err == DROVE_ETIMEDOUT)
			n = snprintf(msg, sizeof(msg), "command '%s' timed "
			    "out after %gs", name, call->timeout_s);
		else if (status > 0)
			n = snprintf(msg, sizeof(msg), "command '%s' exited "
			    "with status %d", name, status);
		else
			n = snprintf(msg, sizeof(msg), "command '%s' killed "
			    "by signal %d", name, -status);
		if (n > 0 && (size_t)n < sizeof(msg) &&
		    stderr_last_line(call->stderr_path, line, sizeof(line)))
			snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
			    line);
	} else if (err == DROVE_ECANCELED) {
		r.status = DROVE_ECANCELED;
		snprintf(msg, sizeof(msg), "command '%s' cancelled", name);
	} else {
		/* DROVE_ESPAWN, or output too large: out is the reason */
		r.status = err;
		snprintf(msg, sizeof(msg), "%.*s", (int)len, out);
		r.text = NULL;
		r.len = 0;
	}
	if (r.status != 0)
		r.error = msg;
	call->plugin_data = NULL;
	call_free(ec);
	h->call_done(call, &r);
}

/* Ends a call that could not start: call_done now, start returns 0. */
static int
fail_now(struct exec_call *ec, int status, const char *msg)
{
	struct drove_call *call = ec->call;
	const struct drove_host *h = ec->b->h;

	call_free(ec);
	pu_call_failed(h, call, status, msg);
	return 0;
}

static int
exec_start(void *state, struct drove_call *call)
{
	struct exec_backend *b = state;
	const struct drove_host *h = b->h;
	const char *model, *cwd;
	struct drove_spawn req;
	struct exec_call *ec;
	char msg[512];
	size_t i, k;
	int rc, e;

	ec = h->alloc(sizeof(*ec));
	memset(ec, 0, sizeof(*ec));
	ec->b = b;
	ec->call = call;
	call->plugin_data = ec;

	if (b->via != VIA_STDIN) {
		if (call->prompt_len > 0 &&
		    memchr(call->prompt, '\0', call->prompt_len) != NULL) {
			snprintf(msg, sizeof(msg), "the prompt holds a NUL "
			    "byte, which prompt_via = %s cannot pass; use "
			    "stdin", b->via == VIA_ARG ? "arg" : "env");
			return fail_now(ec, DROVE_EINVAL, msg);
		}
		ec->prompt = h->alloc(call->prompt_len + 1);
		if (call->prompt_len > 0)
			memcpy(ec->prompt, call->prompt, call->prompt_len);
		ec->prompt[call->prompt_len] = '\0';
	}

	ec->argv = h->alloc((b->argc + 2) * sizeof(*ec->argv));
	for (i = 0; i < b->argc; i++)
		ec->argv[i] = b->argv[i];
	if (b->via == VIA_ARG)
		ec->argv[i++] = ec->prompt;
	ec->argv[i] = NULL;

	model = call->model != NULL ? call->model : b->model;
	ec->own[ec->nown++] = pu_fmt(h, "DROVE_TASK=%s",
	    call->task ? call->task : "");
	ec->own[ec->nown++] = pu_fmt(h, "DROVE_REPLICA=%d", call->replica);
	ec->own[ec->nown++] = pu_fmt(h, "DROVE_ATTEMPT=%d", call->attempt);
	if (model != NULL)
		ec->own[ec->nown++] = pu_fmt(h, "DROVE_MODEL=%s", model);
	if (call->workdir != NULL)
		ec->own[ec->nown++] = pu_fmt(h, "DROVE_WORKTREE=%s",
		    call->workdir);
	if (b->via == VIA_ENV)
		ec->own[ec->nown++] = pu_fmt(h, "DROVE_PROMPT=%s", ec->prompt);
	ec->env = h->alloc((b->nenv + ec->nown + 1) * sizeof(*ec->env));
	for (k = 0, i = 0; i < b->nenv; i++)
		ec->env[k++] = b->env[i];
	for (i = 0; i < ec->nown; i++)
		ec->env[k++] = ec->own[i];
	ec->env[k] = NULL;
	cwd = call->workdir != NULL ? call->workdir : b->cwd;

	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.argv = ec->argv;
	req.env_add = ec->env;
	req.env = b->base;
	req.cwd = cwd;
	if (b->via == VIA_STDIN) {
		req.stdin_data = call->prompt;
		req.stdin_len = call->prompt_len;
	}
	req.stderr_path = call->stderr_path;
	req.timeout_s = call->timeout_s;
	req.on_exit = exec_exit;
	req.arg = ec;
	req.core = call->core;		/* the call's context (ABI 1.4) */
	errno = 0;
	rc = b->launcher != NULL ? h->launch(b->launcher, &req, &ec->handle) :
	    h->spawn(&req, &ec->handle);
	e = errno;
	if (rc == DROVE_ENOFD) {
		/* the core queues the call until a descriptor frees */
		snprintf(msg, sizeof(msg), "cannot start command '%s': out of "
		    "file descriptors (ulimit -n)", b->argv[0]);
		return fail_now(ec, DROVE_ENOFD, msg);
	}
	if (rc < 0) {
		/* the host leaves the system's reason in errno */
		snprintf(msg, sizeof(msg), "cannot start command '%s': %s",
		    b->argv[0], e != 0 ? strerror(e) : rc == DROVE_ENOMEM ?
		    "out of memory" : "drove could not start a process");
		return fail_now(ec, DROVE_ESPAWN, msg);
	}
	return 0;
}

static void
exec_cancel(void *state, struct drove_call *call)
{
	struct exec_backend *b = state;
	struct exec_call *ec = call->plugin_data;

	if (ec == NULL || ec->handle == NULL)
		return;
	if (b->launcher != NULL)
		b->h->launch_cancel(ec->handle);
	else
		b->h->spawn_kill(ec->handle);
}

static const struct drove_backend_ops exec_ops = {
	sizeof(struct drove_backend_ops),
	exec_open,
	exec_close,
	exec_start,
	exec_cancel,
};

static const struct drove_plugin exec_plugin = {
	DROVE_ABI_MAJOR,
	DROVE_ABI_MINOR,
	sizeof(struct drove_plugin),
	DROVE_PLUGIN_BACKEND,
	"exec",
	"1.0",
	"runs a command-line agent as a child process, without a shell",
	exec_keys,
	&exec_ops,
	NULL,
	0,			/* retries: a command's failure is its own */
	0,
	0,			/* no timeout: a command may run for hours */
	NULL,
	NULL,
	NULL,			/* not a launcher */
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &exec_plugin;
}
