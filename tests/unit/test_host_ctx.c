/*
 * The host's context-taking services (ABI 1.4): spawn, timer_start_at and
 * http_request run on the loop of the owner whose call->core or m->core
 * the plugin hands back, while another owner is bound for plugins built
 * before 1.4; a request without a context goes to the bound owner.  Two
 * owners, each with its own loop.  Every case arms alarm().
 */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "host.h"
#include "loop.h"
#include "t.h"
#include "util.h"

static struct host_env A, B;	/* A: bound (legacy); B: by context */
static struct host_call HC;	/* a call of B's */
static struct host_merge HM;	/* a merge of B's */

struct res {
	int done;
	int status;
	int err;
	char out[64];
};

static void
setup(void)
{
	alarm(30);
	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	A.loop = loop_new();
	B.loop = loop_new();
	if (A.loop == NULL || B.loop == NULL)
		abort();
	host_bind_legacy(&A);
	memset(&HC, 0, sizeof(HC));
	HC.ctx.env = &B;
	memset(&HM, 0, sizeof(HM));
	HM.ctx.env = &B;
}

static void
teardown(void)
{
	host_env_release(&B);
	host_env_release(&A);
	loop_free(B.loop);
	loop_free(A.loop);
}

static void
on_exit_cb(void *arg, int status, int err, const char *out, size_t len)
{
	struct res *r = arg;

	r->done++;
	r->status = status;
	r->err = err;
	snprintf(r->out, sizeof(r->out), "%.*s", (int)len, out);
}

static int
spawn_echo(void *core, size_t size, const char *word, struct res *r)
{
	const char *argv[] = { "echo", word, NULL };
	struct drove_spawn req;
	void *handle = NULL;

	memset(&req, 0, sizeof(req));
	req.argv = argv;
	req.on_exit = on_exit_cb;
	req.arg = r;
	req.core = core;
	req.size = (uint32_t)size;
	return host_get()->spawn(&req, &handle);
}

/* A call's and a merge's spawn run on B's loop although A is bound:
 * running A (nothing on it) delivers nothing, running B delivers both. */
static void
t_spawn_by_context(void)
{
	struct res rc = { 0 }, rm = { 0 };

	setup();
	CHECK_INT(spawn_echo(&HC, sizeof(struct drove_spawn), "call", &rc), 0);
	CHECK_INT(spawn_echo(&HM, sizeof(struct drove_spawn), "merge", &rm),
	    0);
	CHECK_INT(loop_run(A.loop), 0);
	CHECK_INT(rc.done + rm.done, 0);
	CHECK_INT(loop_run(B.loop), 0);
	CHECK_INT(rc.done, 1);
	CHECK_INT(rc.status, 0);
	CHECK_STR(rc.out, "call\n");
	CHECK_INT(rm.done, 1);
	CHECK_STR(rm.out, "merge\n");
	teardown();
}

/* A pre-1.4 request (its size stops before core, whatever lies beyond)
 * runs on the bound owner's loop, A. */
static void
t_spawn_legacy(void)
{
	struct res r = { 0 };

	setup();
	CHECK_INT(spawn_echo(&HC, offsetof(struct drove_spawn, core), "old",
	    &r), 0);
	CHECK_INT(loop_run(B.loop), 0);
	CHECK_INT(r.done, 0);
	CHECK_INT(loop_run(A.loop), 0);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.out, "old\n");
	/* nothing bound and no context: refused, no callback */
	host_bind_legacy(NULL);
	CHECK(spawn_echo(NULL, sizeof(struct drove_spawn), "none", &r) < 0);
	CHECK_INT(r.done, 1);
	teardown();
}

static void
fired(void *arg)
{
	(*(int *)arg)++;
}

/* timer_start_at runs on its context's loop, timer_start on the bound
 * one's; timer_stop finds the right loop either way. */
static void
t_timers(void)
{
	const struct drove_host *h = host_get();
	int nb = 0, na = 0, stopped = 0;
	void *t;

	setup();
	CHECK(DROVE_HAS(h, timer_start_at));
	CHECK(h->timer_start_at(&HC, 0.01, fired, &nb) != NULL);
	CHECK(h->timer_start(0.01, fired, &na) != NULL);
	t = h->timer_start_at(&HM, 0.01, fired, &stopped);
	CHECK(t != NULL);
	h->timer_stop(t);
	CHECK_INT(loop_run(B.loop), 0);
	CHECK_INT(nb, 1);
	CHECK_INT(na, 0);
	CHECK_INT(loop_run(A.loop), 0);
	CHECK_INT(na, 1);
	CHECK_INT(nb, 1);
	CHECK_INT(stopped, 0);
	teardown();
}

static void
http_done(void *arg, int err, const char *errtext)
{
	struct res *r = arg;

	(void)errtext;
	r->done++;
	r->err = err;
}

/* http_request uses the HTTP client of its context's owner: B makes one,
 * A does not, and the answer (a refused or failed connect to a closed
 * loopback port) arrives on B's loop. */
static void
t_http_by_context(void)
{
	struct drove_http_req req;
	struct res r = { 0 };
	void *handle = NULL;

	setup();
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.url = "http://127.0.0.1:1/";
	req.connect_timeout_s = 5;
	req.on_done = http_done;
	req.arg = &r;
	req.core = &HC;
	CHECK_INT(host_get()->http_request(&req, &handle), 0);
	CHECK(B.http != NULL);
	CHECK(A.http == NULL);
	CHECK_INT(loop_run(A.loop), 0);
	CHECK_INT(r.done, 0);
	CHECK_INT(loop_run(B.loop), 0);
	CHECK_INT(r.done, 1);
	CHECK(r.err < 0);
	teardown();
}

static const struct t_case cases[] = {
	{ "spawn_by_context", t_spawn_by_context },
	{ "spawn_legacy", t_spawn_legacy },
	{ "timers", t_timers },
	{ "http_by_context", t_http_by_context },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return t_main(argc, argv, cases);
}
