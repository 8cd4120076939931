/* The exec backend plugin, through a small host table of the test's own. */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "envfilter.h"
#include "drove/plugin.h"
#include "loop.h"
#include "spawn.h"
#include "t.h"
#include "util.h"

const struct drove_plugin *drove_plugin_entry_backend_exec(void);

/* A section: key/value pairs, NULL-ended. */
struct drove_conf {
	const char *name;
	const char *const *kv;	/* k1, v1, k2, v2, ..., NULL */
};

struct done {
	int n;
	int status;
	int retryable;
	char *text;
	size_t len;
	char *error;
};

static struct loop *L;
static struct done D;
static char tmpdir[PATH_MAX];

static void *
h_alloc(size_t n)
{
	return xmalloc(n);
}

static void *
h_realloc(void *p, size_t n)
{
	return xrealloc(p, n);
}

static void
h_free(void *p)
{
	free(p);
}

static char *
h_strdup(const char *s)
{
	return xstrdup(s);
}

static void
h_log(int level, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vfprintf(stderr, f, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
h_conf_get(const struct drove_conf *c, const char *key)
{
	const char *const *p;

	for (p = c->kv; p[0] != NULL; p += 2)
		if (strcmp(p[0], key) == 0)
			return p[1];
	return NULL;
}

static void
h_conf_where(const struct drove_conf *c, const char *key, char *buf,
    size_t len)
{
	snprintf(buf, len, "test.ini:1");
}

static const char *
h_conf_name(const struct drove_conf *c)
{
	return c->name;
}

/* when not 0: spawn fails, as the host's does when the system refuses a
 * process (errno says why) */
static int spawn_fail_errno;

static int
h_spawn(const struct drove_spawn *req, void **handle)
{
	struct spawn *sp;
	char err[256];
	int rc;

	if (spawn_fail_errno != 0) {
		errno = spawn_fail_errno;
		return DROVE_ESPAWN;
	}
	rc = spawn_start(L, req, &sp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "spawn: %s\n", err);
		return rc;
	}
	*handle = sp;
	return 0;
}

static void
h_spawn_kill(void *handle)
{
	spawn_kill(handle);
}

static void *
h_timer_start(double after_s, void (*cb)(void *), void *arg)
{
	return NULL;
}

static void
h_timer_stop(void *t)
{
}

static void
h_progress(struct drove_call *c, const char *text, size_t len)
{
}

static void
h_call_done(struct drove_call *c, const struct drove_result *r)
{
	D.n++;
	D.status = r->status;
	D.retryable = r->retryable;
	free(D.text);
	free(D.error);
	D.text = r->text ? xstrndup(r->text, r->len) : NULL;
	D.len = r->len;
	D.error = r->error ? xstrdup(r->error) : NULL;
	CHECK(c->plugin_data == NULL);
}

static const struct drove_host host = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_host),
	.alloc = h_alloc,
	.realloc = h_realloc,
	.free = h_free,
	.strdup = h_strdup,
	.log = h_log,
	.conf_get = h_conf_get,
	.conf_where = h_conf_where,
	.conf_name = h_conf_name,
	.spawn = h_spawn,
	.spawn_kill = h_spawn_kill,
	.split_argv = argv_split,
	.timer_start = h_timer_start,
	.timer_stop = h_timer_stop,
	.call_progress = h_progress,
	.call_done = h_call_done,
	.env_passes = env_passes,
};

static const struct drove_backend_ops *
ops(void)
{
	return drove_plugin_entry_backend_exec()->backend;
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/drove-exec.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL || (L = loop_new()) == NULL) {
		perror("setup");
		exit(1);
	}
	memset(&D, 0, sizeof(D));
}

static void
teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[PATH_MAX + 256];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
	free(D.text);
	free(D.error);
	memset(&D, 0, sizeof(D));
	CHECK_INT(spawn_count(), 0);
	loop_free(L);
	L = NULL;
}

static void
init_call(struct drove_call *c, const char *prompt)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->task = "t1";
	c->replica = 2;
	c->attempt = 1;
	c->prompt = prompt;
	c->prompt_len = strlen(prompt);
}

/* Opens a backend over kv, runs one call to its end, closes it. */
static void
run_call(const char *const *kv, struct drove_call *c)
{
	struct drove_conf conf = { "sh", kv };
	char err[256] = "";
	void *st = NULL;

	CHECK_INT(ops()->open(&host, &conf, &st, err, sizeof(err)), 0);
	if (st == NULL) {
		fprintf(stderr, "open: %s\n", err);
		return;
	}
	D.n = 0;
	CHECK_INT(ops()->start(st, c), 0);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(D.n, 1);
	ops()->close(st);
}

static void
t_descriptor(void)
{
	const struct drove_plugin *p = drove_plugin_entry_backend_exec();
	const char *want[] = { "type", "command", "prompt_via", "cwd", "env",
	    "concurrency", "rpm", "tpm", "price_in", "price_out", "model",
	    "max_tokens", "timeout" };
	size_t i, j;

	CHECK_INT(p->abi_major, DROVE_ABI_MAJOR);
	CHECK_INT(p->size, sizeof(struct drove_plugin));
	CHECK_INT(p->kind, DROVE_PLUGIN_BACKEND);
	CHECK_STR(p->name, "exec");
	CHECK(p->backend != NULL && p->merge == NULL);
	CHECK_INT(p->backend->size, sizeof(struct drove_backend_ops));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (j = 0; p->keys[j] != NULL; j++)
			if (strcmp(p->keys[j], want[i]) == 0)
				break;
		if (p->keys[j] == NULL) {
			fprintf(stderr, "key '%s' not accepted\n", want[i]);
			t_failures++;
		}
	}
}

static void
expect_open_error(const char *const *kv, const char *want)
{
	struct drove_conf conf = { "sh", kv };
	char err[256] = "";
	void *st = NULL;

	CHECK_INT(ops()->open(&host, &conf, &st, err, sizeof(err)),
	    DROVE_EINVAL);
	CHECK(st == NULL);
	CHECK_HAS(err, want);
}

static void
t_bad_config(void)
{
	const char *none[] = { "type", "exec", NULL };
	const char *empty[] = { "command", "  ", NULL };
	const char *unterm[] = { "command", "claude -p 'oops", NULL };
	const char *via[] = { "command", "cat", "prompt_via", "pipe", NULL };
	const char *env[] = { "command", "cat", "env", "A=1, B", NULL };
	const char *env2[] = { "command", "cat", "env", "=1", NULL };
	const char *env3[] = { "command", "cat", "env", "1A=x", NULL };
	const char *good[] = { "command", "cat", "prompt_via", "env", "env",
	    " A=1 , ,B=x y", "cwd", "/", "model", "m", "rpm", "5", NULL };
	struct drove_conf conf = { "sh", good };
	char err[256] = "";
	void *st = NULL;

	expect_open_error(none, "missing key 'command'");
	expect_open_error(empty, "command: empty command");
	expect_open_error(unterm, "command: unterminated single quote");
	expect_open_error(via, "prompt_via: 'pipe' is not stdin, arg or env");
	expect_open_error(env, "env: 'B' is not NAME=VALUE");
	expect_open_error(env2, "env: '=1' is not NAME=VALUE");
	expect_open_error(env3, "env: '1A=x' is not NAME=VALUE");
	CHECK_INT(ops()->open(&host, &conf, &st, err, sizeof(err)), 0);
	CHECK(st != NULL);
	ops()->close(st);
}

static const char *tricky =
    "$(touch /tmp/drove-exec-pwned) `id` ;rm -rf / 'q' \"dq\" \\ * ~\n\tend";

static void
t_via_stdin(void)
{
	const char *kv[] = { "command", "cat", NULL };
	const char *kv2[] = { "command", "cat", "prompt_via", "stdin", NULL };
	struct drove_call c;

	setup();
	init_call(&c, tricky);
	run_call(kv, &c);
	CHECK_INT(D.status, 0);
	CHECK_STR(D.text, tricky);
	CHECK(D.error == NULL);
	init_call(&c, "second");
	run_call(kv2, &c);
	CHECK_STR(D.text, "second");
	CHECK(access("/tmp/drove-exec-pwned", F_OK) < 0);
	teardown();
}

static void
t_via_arg(void)
{
	const char *kv[] = { "command", "printf '[%s]' first", "prompt_via",
	    "arg", NULL };
	struct drove_call c;
	char *want;

	setup();
	init_call(&c, tricky);
	run_call(kv, &c);
	CHECK_INT(D.status, 0);
	want = xasprintf("[first][%s]", tricky);
	CHECK_STR(D.text, want);
	free(want);
	CHECK(access("/tmp/drove-exec-pwned", F_OK) < 0);
	teardown();
}

static void
t_via_env(void)
{
	const char *kv[] = { "command", "printenv DROVE_PROMPT", "prompt_via",
	    "env", NULL };
	struct drove_call c;
	char *want;

	setup();
	init_call(&c, tricky);
	run_call(kv, &c);
	CHECK_INT(D.status, 0);
	want = xasprintf("%s\n", tricky);
	CHECK_STR(D.text, want);
	free(want);
	teardown();
}

static void
t_nul_in_prompt(void)
{
	const char *kv[] = { "command", "printf %s", "prompt_via", "arg",
	    NULL };
	struct drove_call c;

	setup();
	init_call(&c, "a\0b");
	c.prompt_len = 3;
	run_call(kv, &c);
	CHECK_INT(D.status, DROVE_EINVAL);
	CHECK_HAS(D.error, "NUL byte");
	teardown();
}

static void
t_call_env(void)
{
	const char *kv[] = { "command", "sh -c 'printf \"%s|%s|%s|%s|%s|%s\" "
	    "\"$DROVE_TASK\" \"$DROVE_REPLICA\" \"$DROVE_ATTEMPT\" "
	    "\"${DROVE_MODEL-none}\" \"$A\" \"$B\"'", "env", "A=1,B=two words",
	    NULL };
	const char *kv2[] = { "command", "sh -c 'echo \"$DROVE_MODEL\"'",
	    "model", "from-section", NULL };
	struct drove_call c;

	setup();
	init_call(&c, "");
	c.attempt = 3;
	run_call(kv, &c);
	CHECK_STR(D.text, "t1|2|3|none|1|two words");
	init_call(&c, "");
	c.model = "m-2";
	run_call(kv, &c);
	CHECK_STR(D.text, "t1|2|1|m-2|1|two words");
	init_call(&c, "");
	run_call(kv2, &c);
	CHECK_STR(D.text, "from-section\n");
	init_call(&c, "");
	c.model = "override";
	run_call(kv2, &c);
	CHECK_STR(D.text, "override\n");
	teardown();
}

static void
t_cwd_and_workdir(void)
{
	char real[PATH_MAX], *want;
	const char *kv[] = { "command", "sh -c 'pwd; echo \"${DROVE_WORKTREE-"
	    "none}\"'", "cwd", "/", NULL };
	struct drove_call c;

	setup();
	CHECK(realpath(tmpdir, real) != NULL);
	init_call(&c, "");
	run_call(kv, &c);
	CHECK_STR(D.text, "/\nnone\n");
	init_call(&c, "");
	c.workdir = real;
	run_call(kv, &c);
	want = xasprintf("%s\n%s\n", real, real);
	CHECK_STR(D.text, want);
	free(want);
	teardown();
}

static void
t_failing_command(void)
{
	const char *kv[] = { "command", "sh -c 'echo partial; printf "
	    "\"step 1\\nfatal: bad thing happened\\n\\n  \\n\" >&2; exit 3'",
	    NULL };
	const char *quiet[] = { "command", "false", NULL };
	const char *sig[] = { "command", "sh -c 'kill -9 $$'", NULL };
	struct drove_call c;
	char *errpath;

	setup();
	errpath = xasprintf("%s/t1.err", tmpdir);
	init_call(&c, "");
	c.stderr_path = errpath;
	run_call(kv, &c);
	CHECK_INT(D.status, DROVE_ECHILD);
	CHECK_INT(D.retryable, 1);
	CHECK_STR(D.error, "command 'sh' exited with status 3: "
	    "fatal: bad thing happened");
	CHECK_STR(D.text, "partial\n");

	init_call(&c, "");
	c.stderr_path = errpath;
	run_call(quiet, &c);
	CHECK_INT(D.status, DROVE_ECHILD);
	CHECK_STR(D.error, "command 'false' exited with status 1");

	init_call(&c, "");
	run_call(sig, &c);
	CHECK_INT(D.status, DROVE_ECHILD);
	CHECK_INT(D.retryable, 1);
	CHECK_STR(D.error, "command 'sh' killed by signal 9");
	free(errpath);
	teardown();
}

/* Only the last 4 KiB of a long stderr file are read. */
static void
t_long_stderr(void)
{
	const char *kv[] = { "command", "sh -c 'i=0; while [ $i -lt 2000 ]; "
	    "do echo \"noise line $i\" >&2; i=$((i+1)); done; "
	    "echo \"the end\" >&2; exit 4'", NULL };
	struct drove_call c;
	char *errpath;

	setup();
	errpath = xasprintf("%s/long.err", tmpdir);
	init_call(&c, "");
	c.stderr_path = errpath;
	run_call(kv, &c);
	CHECK_STR(D.error, "command 'sh' exited with status 4: the end");
	free(errpath);
	teardown();
}

static void
t_timeout(void)
{
	const char *kv[] = { "command", "sh -c 'echo waiting >&2; sleep 30'",
	    NULL };
	struct drove_call c;
	char *errpath;
	double t0;

	setup();
	errpath = xasprintf("%s/slow.err", tmpdir);
	init_call(&c, "");
	c.timeout_s = 0.3;
	c.stderr_path = errpath;
	t0 = now_mono();
	run_call(kv, &c);
	CHECK(now_mono() - t0 < 2.0);
	CHECK_INT(D.status, DROVE_ETIMEDOUT);
	CHECK_INT(D.retryable, 1);
	CHECK_STR(D.error, "command 'sh' timed out after 0.3s: waiting");
	free(errpath);
	teardown();
}

static void
t_missing_program(void)
{
	const char *kv[] = { "command", "drove-no-such-agent --flag", NULL };
	const char *rel[] = { "command", "./drove-no-such-agent --flag",
	    NULL };
	struct drove_conf conf = { "sh", kv };
	struct drove_call c;
	char err[256] = "";
	void *st = NULL;

	setup();
	/* a bare name not in PATH: open fails, no call is made */
	CHECK_INT(ops()->open(&host, &conf, &st, err, sizeof(err)),
	    DROVE_EINVAL);
	CHECK(st == NULL);
	CHECK(strncmp(err, "command 'drove-no-such-agent' not found in "
	    "PATH (", 49) == 0);
	/* a relative path is left to the spawn, in the agent's cwd */
	init_call(&c, "hello");
	run_call(rel, &c);
	CHECK_INT(D.status, DROVE_ESPAWN);
	CHECK_INT(D.retryable, 0);
	CHECK_STR(D.error, "cannot run './drove-no-such-agent': "
	    "No such file or directory");
	teardown();
}

/* A start the system refuses: the message names the command and the
 * system's reason, not a number. */
static void
t_spawn_refused(void)
{
	const char *kv[] = { "command", "cat", NULL };
	struct drove_conf conf = { "sh", kv };
	struct drove_call c;
	char err[256] = "";
	void *st = NULL;

	setup();
	CHECK_INT(ops()->open(&host, &conf, &st, err, sizeof(err)), 0);
	init_call(&c, "hello");
	spawn_fail_errno = EAGAIN;
	D.n = 0;
	CHECK_INT(ops()->start(st, &c), 0);
	spawn_fail_errno = 0;
	CHECK_INT(D.n, 1);
	CHECK_INT(D.status, DROVE_ESPAWN);
	CHECK_STR(D.error, "cannot start command 'cat': Resource "
	    "temporarily unavailable");
	ops()->close(st);
	teardown();
}

struct canceller {
	struct loop_timer t;
	void *st;
	struct drove_call *c;
};

static void
cancel_cb(struct loop *l, struct loop_timer *t)
{
	struct canceller *k = t->data;

	ops()->cancel(k->st, k->c);
}

static void
t_cancel(void)
{
	const char *kv[] = { "command", "sleep 30", NULL };
	struct drove_conf conf = { "sh", kv };
	struct canceller k;
	struct drove_call c;
	char err[256];
	double t0;

	setup();
	memset(&k, 0, sizeof(k));
	init_call(&c, "");
	CHECK_INT(ops()->open(&host, &conf, &k.st, err, sizeof(err)), 0);
	k.c = &c;
	t0 = now_mono();
	CHECK_INT(ops()->start(k.st, &c), 0);
	CHECK(c.plugin_data != NULL);
	loop_timer_start(L, &k.t, 100, cancel_cb, &k);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(D.n, 1);
	CHECK_INT(D.status, DROVE_ECANCELED);
	CHECK_INT(D.retryable, 0);
	CHECK(now_mono() - t0 < 1.5);
	ops()->close(k.st);
	teardown();
}

static const struct t_case cases[] = {
	{ "descriptor", t_descriptor },
	{ "bad_config", t_bad_config },
	{ "via_stdin", t_via_stdin },
	{ "via_arg", t_via_arg },
	{ "via_env", t_via_env },
	{ "nul_in_prompt", t_nul_in_prompt },
	{ "call_env", t_call_env },
	{ "cwd_and_workdir", t_cwd_and_workdir },
	{ "failing_command", t_failing_command },
	{ "long_stderr", t_long_stderr },
	{ "timeout", t_timeout },
	{ "missing_program", t_missing_program },
	{ "spawn_refused", t_spawn_refused },
	{ "cancel", t_cancel },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return t_main(argc, argv, cases);
}
