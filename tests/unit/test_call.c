/*
 * Tests of a backend call's lifecycle (core/call.h) on a real loop, with a
 * scripted backend plugin: retries, rate limits that use no attempt, the
 * timeout backstop against a backend that ignores its timeout, the
 * backoff and its jitter, the live copy of streamed text, and call_once.
 * Every case arms alarm().
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "call.h"
#include "host.h"
#include "loop.h"
#include "t.h"
#include "util.h"

/* One scripted answer; HANG never answers until cancelled. */
struct step {
	int status;
	int retryable;
	int64_t retry_after_ms;
	const char *text;
};
#define HANG 1

struct fake {
	struct loop *loop;
	const struct step *steps;
	size_t nsteps, next;
	int starts, cancels;
	struct drove_call *cur;
	struct step pending;
	struct loop_timer timer;
};

static struct fake F;

static void
fake_answer(struct drove_call *call, const struct step *s)
{
	struct drove_result r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.status = s->status;
	r.retryable = s->retryable;
	r.retry_after_ms = s->retry_after_ms ? s->retry_after_ms : -1;
	r.text = s->text;
	r.len = s->text ? strlen(s->text) : 0;
	r.error = s->status ? "scripted failure" : NULL;
	r.usage.tokens_in = 10;
	F.cur = NULL;
	host_get()->call_done(call, &r);
}

static void
fake_fire(struct loop *l, struct loop_timer *t)
{
	(void)l;
	(void)t;
	fake_answer(F.cur, &F.pending);
}

static int
fake_start(void *state, struct drove_call *call)
{
	(void)state;
	F.starts++;
	F.cur = call;
	F.pending = F.steps[F.next < F.nsteps ? F.next : F.nsteps - 1];
	F.next++;
	if (F.pending.status == HANG)
		return 0;
	loop_timer_start(F.loop, &F.timer, 1, fake_fire, NULL);
	return 0;
}

static void
fake_cancel(void *state, struct drove_call *call)
{
	static const struct step cancelled = { DROVE_ECANCELED, 0, 0, NULL };

	(void)state;
	F.cancels++;
	loop_timer_stop(F.loop, &F.timer);
	fake_answer(call, &cancelled);
}

static const struct drove_backend_ops fake_ops = {
	.size = sizeof(struct drove_backend_ops),
	.start = fake_start,
	.cancel = fake_cancel,
};

static const struct drove_plugin fake_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_BACKEND,
	.name = "fake",
	.backend = &fake_ops,
};

/* The owner: requeue starts again at once, done stops the loop. */
static int owner_done, owner_requeued, owner_stop;

static int
o_may_retry(struct call *c)
{
	(void)c;
	return !owner_stop;
}

static void
o_requeue(struct call *c)
{
	owner_requeued++;
	if (call_reserve(c) == 0)
		call_start(c);
}

static void
o_done(struct call *c)
{
	owner_done++;
	loop_stop(c->env->loop);
}

static const struct call_ops owner_ops = {
	.may_retry = o_may_retry,
	.requeue = o_requeue,
	.done = o_done,
};

static struct backend BE;
static struct budget BUDGET;
static struct call_env ENV;
static struct host_env HOST;

static void
setup(const struct step *steps, size_t n)
{
	alarm(30);
	memset(&F, 0, sizeof(F));
	memset(&BE, 0, sizeof(BE));
	memset(&BUDGET, 0, sizeof(BUDGET));
	F.loop = loop_new();
	F.steps = steps;
	F.nsteps = n;
	BE.name = "fake";
	BE.p = &fake_plugin;
	BE.used = 1;
	HOST.loop = F.loop;
	call_env_init(&ENV, F.loop, &BUDGET, NULL, now_mono(), 1);
	ENV.host = &HOST;	/* the context; nothing bound */
	owner_done = owner_requeued = owner_stop = 0;
}

static void
teardown(void)
{
	host_env_release(&HOST);
	loop_free(F.loop);
}

static void
run_call(struct call *c, long retries, double timeout_s)
{
	call_init(c, &ENV, &owner_ops, NULL, &BE);
	c->task = "t";
	c->replica = 0;
	c->prompt = "hello";
	c->retries = retries;
	c->timeout_s = timeout_s;
	CHECK_INT(call_can_start(c, NULL), 1);
	CHECK_INT(call_reserve(c), 0);
	call_start(c);
	loop_run(F.loop);
}

static void
test_retry_then_ok(void)
{
	static const struct step s[] = {
		{ DROVE_EHTTP, 1, 1, NULL },
		{ 0, 0, 0, "answer" },
	};
	struct call c;

	setup(s, 2);
	run_call(&c, 2, 0);
	CHECK_INT(owner_done, 1);
	CHECK_INT(c.status, 0);
	CHECK_STR(c.text, "answer");
	CHECK_INT(c.attempts, 2);
	CHECK_INT(owner_requeued, 1);
	CHECK_INT(c.usage.tokens_in, 20);
	CHECK_INT(ENV.running, 0);
	CHECK_INT(ENV.backoff, 0);
	CHECK_INT(BE.inflight, 0);
	call_release(&c);
	teardown();
}

static void
test_retries_run_out(void)
{
	static const struct step s[] = { { DROVE_EHTTP, 1, 1, NULL } };
	struct call c;

	setup(s, 1);
	run_call(&c, 1, 0);
	CHECK_INT(owner_done, 1);
	CHECK_INT(c.status, DROVE_EHTTP);
	CHECK_STR(c.error, "scripted failure");
	CHECK_INT(c.attempts, 2);
	CHECK_INT(F.starts, 2);
	call_release(&c);
	teardown();
}

static void
test_final_not_retried(void)
{
	static const struct step s[] = { { DROVE_EHTTP, 0, 0, NULL } };
	struct call c;

	setup(s, 1);
	run_call(&c, 5, 0);
	CHECK_INT(c.status, DROVE_EHTTP);
	CHECK_INT(F.starts, 1);
	call_release(&c);
	teardown();
}

static void
test_ratelimit_uses_no_attempt(void)
{
	static const struct step s[] = {
		{ DROVE_ERATELIMIT, 0, 1, NULL },
		{ DROVE_ERATELIMIT, 0, 1, NULL },
		{ 0, 0, 0, "late" },
	};
	struct call c;

	setup(s, 3);
	run_call(&c, 0, 0);
	CHECK_INT(c.status, 0);
	CHECK_STR(c.text, "late");
	CHECK_INT(c.attempts, 1);
	CHECK_INT(c.rate_limits, 2);
	CHECK_INT(F.starts, 3);
	call_release(&c);
	teardown();
}

static void
stop_owner(struct loop *l, struct loop_timer *t)
{
	(void)l;
	(void)t;
	owner_stop = 1;
}

/* A run that stops while a call waits out its backoff ends the call with
 * its last failure, not another attempt. */
static void
test_stopping_ends_backoff(void)
{
	static const struct step s[] = { { DROVE_EHTTP, 1, 0, NULL } };
	struct loop_timer stop;
	struct call c;

	setup(s, 1);
	memset(&stop, 0, sizeof(stop));
	/* the first backoff is at least 375 ms */
	loop_timer_start(F.loop, &stop, 100, stop_owner, NULL);
	run_call(&c, 3, 0);
	CHECK_INT(owner_done, 1);
	CHECK_INT(owner_requeued, 0);
	CHECK_INT(c.status, DROVE_EHTTP);
	CHECK_INT(F.starts, 1);
	CHECK_INT(ENV.backoff, 0);
	call_release(&c);
	teardown();
}

/* A backend that ignores its timeout is cancelled at it (within the
 * grace), not seconds later. */
static void
test_timeout_backstop(void)
{
	static const struct step s[] = { { HANG, 0, 0, NULL } };
	struct call c;
	double t0 = now_mono(), took;

	setup(s, 1);
	run_call(&c, 3, 0.1);
	took = now_mono() - t0;
	CHECK_INT(owner_done, 1);
	CHECK_INT(F.cancels, 1);
	CHECK_INT(c.status, DROVE_ECANCELED);
	CHECK_STR(c.error, "timed out after 0.1s");
	/* a timed-out attempt that the backstop cancelled is not retried */
	CHECK_INT(F.starts, 1);
	CHECK(took >= 0.1 + CALL_TIMEOUT_GRACE_MS / 1000.0 - 0.01 &&
	    took < 2.0);
	call_release(&c);
	teardown();
}

static void
test_cancel_running(void)
{
	static const struct step s[] = { { HANG, 0, 0, NULL } };
	struct call c;

	setup(s, 1);
	call_init(&c, &ENV, &owner_ops, NULL, &BE);
	c.task = "t";
	c.prompt = "p";
	c.retries = 3;
	call_start(&c);
	call_cancel(&c);
	CHECK_INT(owner_done, 1);
	CHECK_INT(c.status, DROVE_ECANCELED);
	CHECK_INT(F.starts, 1);
	call_release(&c);
	teardown();
}

/* Starts call c of task "t" whose agent's stdout is followed at path;
 * stale: a resume, where an earlier run's live copy may lie there. */
static void
start_live(struct call *c, const char *path, int stale)
{
	call_init(c, &ENV, &owner_ops, NULL, &BE);
	c->task = "t";
	c->prompt = "p";
	c->hc.ctx.live_path = path;
	c->live_stale = stale;
	call_start(c);
}

/* Many chunks streamed in one turn reach the live copy in one write, at
 * the flush timer, not as they come; what is left goes at the end. */
static void
test_live_batched(void)
{
	static const struct step s[] = { { HANG, 0, 0, NULL } };
	char path[] = "/tmp/drove-test-live-XXXXXX";
	char want[1007], got[1100];
	struct stat st;
	struct call c;
	FILE *f;
	size_t n;
	int fd, i;

	setup(s, 1);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	start_live(&c, path, 0);
	for (i = 0; i < 500; i++)
		c.hc.progress(&c.hc, "ab", 2);
	CHECK(stat(path, &st) < 0);	/* nothing on disk in the turn */
	CHECK_INT(ENV.live_writes, 0);
	loop_run(F.loop);		/* until the flush timer */
	CHECK_INT(ENV.live_writes, 1);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, 1000);
	c.hc.progress(&c.hc, "cde", 3);
	c.hc.progress(&c.hc, "fgh", 3);
	call_cancel(&c);		/* the attempt's end writes the rest */
	CHECK_INT(owner_done, 1);
	CHECK_INT(ENV.live_writes, 2);
	CHECK(!ENV.live_timer.active);
	for (i = 0; i < 500; i++)
		memcpy(want + 2 * i, "ab", 2);
	memcpy(want + 1000, "cdefgh", 7);
	f = fopen(path, "rb");
	CHECK(f != NULL);
	n = fread(got, 1, sizeof(got), f);
	fclose(f);
	CHECK_INT(n, 1006);
	CHECK(memcmp(got, want, 1006) == 0);
	unlink(path);
	call_release(&c);
	teardown();
}

/* An answer that came whole between two writes makes no live copy (its
 * output is one), and one an earlier run left goes (on a resume: in a
 * fresh run there is none to remove, and no unlink is tried). */
static void
test_live_whole(void)
{
	static const struct step s[] = { { HANG, 0, 0, NULL } };
	static const struct step ok = { 0, 0, 0, "abc" };
	char path[] = "/tmp/drove-test-live-XXXXXX";
	struct stat st;
	struct call c;
	int fd;

	setup(s, 1);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "stale", 5), 5);
	close(fd);
	start_live(&c, path, 1);
	c.hc.progress(&c.hc, "abc", 3);
	fake_answer(F.cur, &ok);
	CHECK_INT(owner_done, 1);
	CHECK_STR(c.text, "abc");
	CHECK_INT(ENV.live_writes, 0);
	CHECK(stat(path, &st) < 0);
	CHECK(!ENV.live_timer.active);
	call_release(&c);
	teardown();

	/* not a resume: the path is left alone (a file put there stays) */
	setup(s, 1);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);
	start_live(&c, path, 0);
	c.hc.progress(&c.hc, "abc", 3);
	fake_answer(F.cur, &ok);
	CHECK_INT(owner_done, 1);
	CHECK_INT(ENV.live_writes, 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 0);
	unlink(path);
	call_release(&c);
	teardown();
}

static void
test_backoff(void)
{
	struct call_env a, b;
	uint64_t va[16], vb[16], ms;
	int same = 1, flat = 1;

	call_env_init(&a, NULL, NULL, NULL, 0, 1);
	call_env_init(&b, NULL, NULL, NULL, 0, 1);
	for (int i = 0; i < 16; i++) {
		va[i] = call_backoff_ms(&a, 1, -1);
		vb[i] = call_backoff_ms(&b, 1, -1);
		CHECK(va[i] >= 375 && va[i] <= 625);
		same = same && va[i] == vb[i];
		flat = flat && va[i] == va[0];
	}
	CHECK(!same);	/* two runs do not draw the same jitter */
	CHECK(!flat);
	ms = call_backoff_ms(&a, 9, -1);
	CHECK(ms >= 6000 && ms <= 10000);
	CHECK_INT(call_backoff_ms(&a, 1, 1500), 1500);
	ms = call_backoff_ms(&a, 2, 70000);	/* over 60 s: ignored */
	CHECK(ms >= 750 && ms <= 1250);
}

static void
test_once(void)
{
	static const struct step s[] = { { 0, 0, 0, "pong" } };
	struct drove_call dc;
	struct call_answer a;

	setup(s, 1);
	memset(&dc, 0, sizeof(dc));
	dc.size = sizeof(dc);
	dc.task = "probe";
	dc.prompt = "ping";
	CHECK_INT(call_once(&HOST, &fake_plugin, NULL, &dc, 0, &a), 0);
	CHECK_INT(a.status, 0);
	CHECK_INT(a.len, 4);
	CHECK(a.text && memcmp(a.text, "pong", 4) == 0);
	free(a.text);
	teardown();
}

static const struct t_case cases[] = {
	{ "retry_then_ok", test_retry_then_ok },
	{ "retries_run_out", test_retries_run_out },
	{ "final_not_retried", test_final_not_retried },
	{ "ratelimit_uses_no_attempt", test_ratelimit_uses_no_attempt },
	{ "stopping_ends_backoff", test_stopping_ends_backoff },
	{ "timeout_backstop", test_timeout_backstop },
	{ "cancel_running", test_cancel_running },
	{ "live_batched", test_live_batched },
	{ "live_whole", test_live_whole },
	{ "backoff", test_backoff },
	{ "once", test_once },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
