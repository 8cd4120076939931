/*
 * Tests of how the event loop (core/loop.c) turns a poller's batch into
 * callbacks: which LOOP_* bits a callback sees, and that loop_stop in the
 * middle of a batch loses no signal and no child exit (they come in the
 * next loop_run).  Real pipes, sockets, signals and child processes; every
 * case arms alarm() so a hang fails instead of blocking the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "t.h"

static struct loop *
new_loop(void)
{
	struct loop *l;

	alarm(20);
	l = loop_new();
	if (l == NULL) {
		perror("loop_new");
		exit(1);
	}
	return l;
}

/* A timer that fails the case if the loop is still running after 5 s. */
static void
guard_cb(struct loop *l, struct loop_timer *t)
{
	fprintf(stderr, "guard timer fired: the loop did not finish\n");
	t_failures++;
	loop_stop(l);
}

static void
nop_cb(struct loop *l, struct loop_timer *t)
{
}

/* LOOP_ERROR comes with the watched directions, and only with them */

struct ev_rec {
	struct loop_io w;
	unsigned ev;
	int calls;
};

static void
record_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct ev_rec *r = (struct ev_rec *)w;

	r->ev = ev;
	r->calls++;
	loop_io_stop(l, w);
}

static void
test_error_with_wanted(void)
{
	struct loop *l = new_loop();
	struct ev_rec r[3];
	int a[2], b[2], s[2], n = 0;
	char buf[4096];

	memset(r, 0, sizeof(r));
	/* A read end whose writer is gone, no data: a bare hang-up. */
	CHECK_INT(pipe(a), 0);
	close(a[1]);
	/* A full pipe whose reader is gone: an error, not writable. */
	CHECK_INT(pipe(b), 0);
	CHECK_INT(fcntl(b[1], F_SETFL, O_NONBLOCK), 0);
	memset(buf, 'x', sizeof(buf));
	while (write(b[1], buf, sizeof(buf)) > 0 && n++ < 4096)
		;
	CHECK_INT(errno, EAGAIN);
	close(b[0]);
	/* A socket whose peer is gone, watched for reading only, though
	 * writing would not block either. */
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	close(s[1]);
	CHECK_INT(loop_io_start(l, &r[0].w, a[0], LOOP_READ, record_cb, NULL),
	    0);
	CHECK_INT(loop_io_start(l, &r[1].w, b[1], LOOP_WRITE, record_cb,
	    NULL), 0);
	CHECK_INT(loop_io_start(l, &r[2].w, s[0], LOOP_READ, record_cb, NULL),
	    0);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(r[0].calls, 1);
	CHECK_INT(r[0].ev, LOOP_READ | LOOP_ERROR);
	CHECK_INT(r[1].calls, 1);
	CHECK_INT(r[1].ev, LOOP_WRITE | LOOP_ERROR);
	CHECK_INT(r[2].calls, 1);
	CHECK_INT(r[2].ev, LOOP_READ | LOOP_ERROR);
	close(a[0]);
	close(b[1]);
	close(s[0]);
	loop_free(l);
}

/* signals left by loop_stop */

static struct loop_timer guard;
static int sig_calls;

static void
stop_sig_cb(struct loop *l, struct loop_signal *s, int signo)
{
	CHECK_INT(signo, s->signo);
	sig_calls++;
	loop_stop(l);
}

static void
test_signals_after_stop(void)
{
	struct loop *l = new_loop();
	struct loop_signal s[2];

	memset(s, 0, sizeof(s));
	memset(&guard, 0, sizeof(guard));
	sig_calls = 0;
	CHECK_INT(loop_signal_start(l, &s[0], SIGUSR1, stop_sig_cb, NULL), 0);
	CHECK_INT(loop_signal_start(l, &s[1], SIGUSR2, stop_sig_cb, NULL), 0);
	/* Both are ready at the first wait; each run takes one. */
	CHECK_INT(raise(SIGUSR1), 0);
	CHECK_INT(raise(SIGUSR2), 0);
	loop_timer_start(l, &guard, 5000, guard_cb, NULL);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(sig_calls, 1);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(sig_calls, 2);
	/* And neither is delivered again. */
	loop_timer_stop(l, &guard);
	loop_timer_start(l, &guard, 50, nop_cb, NULL);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(sig_calls, 2);
	loop_signal_stop(l, &s[0]);
	loop_signal_stop(l, &s[1]);
	loop_free(l);
}

/* a child exit left by loop_stop */

struct child_rec {
	struct loop_child c;
	int status;
	int calls;
};

static void
child_cb(struct loop *l, struct loop_child *c, int status)
{
	struct child_rec *r = (struct child_rec *)c;

	r->status = status;
	r->calls++;
	CHECK(!c->active);
	loop_timer_stop(l, &guard);
}

static int stop_calls;

static void
stop_io_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	stop_calls++;
	loop_io_stop(l, w);
	loop_stop(l);
}

static void
child_after_stop(void)
{
	struct loop *l = new_loop();
	struct child_rec r;
	struct loop_io w;
	siginfo_t si;
	pid_t pid;
	int p[2], st;

	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	stop_calls = 0;
	/* The pipe is readable before the child has exited, so both are in
	 * the first batch, the pipe first where the kernel keeps order. */
	CHECK_INT(pipe(p), 0);
	CHECK_INT(write(p[1], "x", 1), 1);
	CHECK_INT(loop_io_start(l, &w, p[0], LOOP_READ, stop_io_cb, NULL), 0);
	pid = fork();
	if (pid == 0) {
		loop_child_after_fork(l);
		_exit(9);
	}
	CHECK(pid > 0);
	CHECK_INT(loop_child_start(l, &r.c, pid, child_cb, NULL), 0);
	CHECK_INT(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	loop_timer_start(l, &guard, 5000, guard_cb, NULL);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(stop_calls, 1);
	/* The exit is reported in this run or the next one, once; then
	 * nothing is left but the guard, which the callback stopped. */
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(r.calls, 1);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 9);
	errno = 0;
	CHECK_INT(waitpid(pid, &st, WNOHANG), -1);
	CHECK_INT(errno, ECHILD);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

static void
test_child_after_stop(void)
{
	child_after_stop();
}

static void
test_child_after_stop_sigchld(void)
{
	setenv("DROVE_NO_PIDFD", "1", 1);
	child_after_stop();
	unsetenv("DROVE_NO_PIDFD");
}

static const struct t_case cases[] = {
	{ "error_with_wanted", test_error_with_wanted },
	{ "signals_after_stop", test_signals_after_stop },
	{ "child_after_stop", test_child_after_stop },
	{ "child_after_stop_sigchld", test_child_after_stop_sigchld },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
