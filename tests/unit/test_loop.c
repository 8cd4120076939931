/*
 * Tests of the event loop (core/loop.h): fd readiness on real pipes, timers
 * against the real clock, real child processes, real signals and a real
 * second thread.  Every case arms alarm() so a hang fails instead of
 * blocking the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "t.h"

static uint64_t
clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

/* pipe readiness */

struct pipe_case {
	int rfd, wfd;
	struct loop_io r, w;
	char got[64];
	size_t len;
	int writes, eof;
	unsigned eof_ev;
};

static void
pipe_write_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct pipe_case *pc = w->data;

	CHECK(ev & LOOP_WRITE);
	CHECK_INT(write(pc->wfd, "hello", 5), 5);
	pc->writes++;
	/* Stop before closing, then the reader sees end-of-file. */
	loop_io_stop(l, w);
	close(pc->wfd);
}

static void
pipe_read_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct pipe_case *pc = w->data;
	ssize_t n;

	CHECK(ev & LOOP_READ);
	n = read(pc->rfd, pc->got + pc->len, sizeof(pc->got) - 1 - pc->len);
	CHECK(n >= 0);
	if (n > 0) {
		pc->len += (size_t)n;
		return;
	}
	pc->eof++;
	pc->eof_ev = ev;
	loop_io_stop(l, w);
}

static void
test_io_pipe(void)
{
	struct loop *l = new_loop();
	struct pipe_case pc;
	int fds[2];

	memset(&pc, 0, sizeof(pc));
	CHECK_INT(pipe(fds), 0);
	pc.rfd = fds[0];
	pc.wfd = fds[1];
	CHECK_INT(loop_io_start(l, &pc.r, pc.rfd, LOOP_READ, pipe_read_cb,
	    &pc), 0);
	CHECK_INT(loop_io_start(l, &pc.w, pc.wfd, LOOP_WRITE, pipe_write_cb,
	    &pc), 0);
	CHECK_INT(loop_run(l), 0);
	pc.got[pc.len] = '\0';
	CHECK_STR(pc.got, "hello");
	CHECK_INT(pc.writes, 1);
	CHECK_INT(pc.eof, 1);
	/* A hang-up reports LOOP_ERROR along with the watched direction. */
	CHECK(pc.eof_ev & LOOP_ERROR);
	CHECK(!pc.r.active && !pc.w.active);
	close(pc.rfd);
	loop_free(l);
}

/* loop_io_set turns on writability on a socket watched for reading. */
static int set_reads, set_writes;

static void
set_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	if (ev & LOOP_READ)
		set_reads++;
	if (ev & LOOP_WRITE) {
		set_writes++;
		loop_io_stop(l, w);
	}
}

static void
set_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct loop_io *w = t->data;

	CHECK_INT(set_writes, 0);
	CHECK_INT(loop_io_set(l, w, LOOP_READ | LOOP_WRITE), 0);
}

static void
test_io_set(void)
{
	struct loop *l = new_loop();
	struct loop_io w;
	struct loop_timer t;
	int sv[2];

	memset(&w, 0, sizeof(w));
	memset(&t, 0, sizeof(t));
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_INT(loop_io_start(l, &w, sv[0], LOOP_READ, set_cb, NULL), 0);
	/* A second watcher on the same fd is refused. */
	{
		struct loop_io w2;

		memset(&w2, 0, sizeof(w2));
		CHECK(loop_io_start(l, &w2, sv[0], LOOP_READ, set_cb,
		    NULL) < 0);
	}
	loop_timer_start(l, &t, 20, set_timer_cb, &w);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(set_reads, 0);
	CHECK_INT(set_writes, 1);
	CHECK(loop_io_set(l, &w, LOOP_READ) < 0);	/* inactive */
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

/* Stopping and freeing watchers from another watcher's callback. */

#define NBATCH 8

struct batch_w {
	struct loop_io io;
	int idx;
};

static struct batch_w *batch[NBATCH];
static int batch_calls;

static void
batch_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct batch_w *me = (struct batch_w *)w;
	int i;

	batch_calls++;
	/* Every fd is readable in this batch: the others must not run. */
	for (i = 0; i < NBATCH; i++) {
		if (batch[i] == NULL || batch[i] == me)
			continue;
		loop_io_stop(l, &batch[i]->io);
		memset(batch[i], 0, sizeof(*batch[i]));
		free(batch[i]);
		batch[i] = NULL;
	}
	loop_io_stop(l, w);
	batch[me->idx] = NULL;
	free(me);
}

static void
test_io_stop_in_batch(void)
{
	struct loop *l = new_loop();
	int fds[NBATCH][2];
	int i;

	for (i = 0; i < NBATCH; i++) {
		CHECK_INT(pipe(fds[i]), 0);
		CHECK_INT(write(fds[i][1], "x", 1), 1);
		batch[i] = calloc(1, sizeof(*batch[i]));
		batch[i]->idx = i;
		CHECK_INT(loop_io_start(l, &batch[i]->io, fds[i][0],
		    LOOP_READ, batch_cb, NULL), 0);
	}
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(batch_calls, 1);
	for (i = 0; i < NBATCH; i++) {
		CHECK(batch[i] == NULL);
		close(fds[i][0]);
		close(fds[i][1]);
	}
	loop_free(l);
}

/* A callback moves another watcher, ready in the same batch, to a third
 * fd that is not ready yet: the moved watcher must not see its old fd's
 * event, only the new fd's, which a timer makes readable later. */
static struct loop_io move_w[2];
static struct loop_timer move_t;
static int move_fd_c, move_wfd_c, move_first = -1, move_calls[2];
static int move_fd_seen[2];

static void
move_timer_cb(struct loop *l, struct loop_timer *t)
{
	CHECK_INT(write(move_wfd_c, "z", 1), 1);
}

static void
move_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	int me = (int)(w - move_w);
	char c;

	move_calls[me]++;
	move_fd_seen[me] = w->fd;
	CHECK_INT(read(w->fd, &c, 1), 1);
	loop_io_stop(l, w);
	if (move_first == -1) {
		move_first = me;
		loop_io_stop(l, &move_w[!me]);
		CHECK_INT(loop_io_start(l, &move_w[!me], move_fd_c, LOOP_READ,
		    move_cb, NULL), 0);
		loop_timer_start(l, &move_t, 5, move_timer_cb, NULL);
	}
}

static void
test_io_restart_in_cb(void)
{
	struct loop *l = new_loop();
	int a[2], b[2], c[2], other;
	char ch;

	CHECK_INT(pipe(a), 0);
	CHECK_INT(pipe(b), 0);
	CHECK_INT(pipe2(c, O_NONBLOCK), 0);
	move_fd_c = c[0];
	move_wfd_c = c[1];
	CHECK_INT(write(a[1], "x", 1), 1);
	CHECK_INT(write(b[1], "y", 1), 1);
	CHECK_INT(loop_io_start(l, &move_w[0], a[0], LOOP_READ, move_cb,
	    NULL), 0);
	CHECK_INT(loop_io_start(l, &move_w[1], b[0], LOOP_READ, move_cb,
	    NULL), 0);
	CHECK_INT(loop_run(l), 0);
	CHECK(move_first == 0 || move_first == 1);
	other = !move_first;
	CHECK_INT(move_calls[move_first], 1);
	CHECK_INT(move_calls[other], 1);
	CHECK_INT(move_fd_seen[other], c[0]);
	/* The moved watcher's old fd still holds its byte. */
	CHECK_INT(read(other == 0 ? a[0] : b[0], &ch, 1), 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	close(c[0]);
	close(c[1]);
	loop_free(l);
}

/* timers */

struct tm_rec {
	struct loop_timer t;
	uint64_t ms;
	uint64_t start_ns;
	uint64_t start_now;
};

static int order[8], norder;
static struct loop_io busy;

/* Wakes the loop again and again, so timers are checked at every moment. */
static void
busy_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
}

static void
order_cb(struct loop *l, struct loop_timer *t)
{
	struct tm_rec *r = (struct tm_rec *)t;
	uint64_t waited = clock_ns() - r->start_ns;

	order[norder++] = (int)r->ms;
	/* Never early, by the real clock and by the loop's. */
	CHECK(waited >= r->ms * 1000000);
	CHECK(loop_now(l) >= t->due_ms);
	CHECK(loop_now(l) >= r->start_now + r->ms);
	/* Not wildly late either (generous for loaded machines). */
	CHECK(waited < (r->ms + 500) * 1000000);
	CHECK(!t->active);
	if (norder == 6)
		loop_io_stop(l, &busy);
}

static void
test_timer_order(void)
{
	static const uint64_t ms[] = { 30, 10, 0, 20, 5, 1 };
	static const int want[] = { 0, 1, 5, 10, 20, 30 };
	struct loop *l = new_loop();
	struct tm_rec r[6];
	size_t i;
	int sv[2];

	memset(r, 0, sizeof(r));
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_INT(loop_io_start(l, &busy, sv[0], LOOP_WRITE, busy_cb, NULL),
	    0);
	for (i = 0; i < 6; i++) {
		r[i].ms = ms[i];
		r[i].start_ns = clock_ns();
		r[i].start_now = loop_update_time(l);
		loop_timer_start(l, &r[i].t, ms[i], order_cb, NULL);
		CHECK(r[i].t.active);
	}
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(norder, 6);
	for (i = 0; i < 6; i++)
		CHECK_INT(order[i], want[i]);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

static int restart_fires, stopped_fires, moved_fires;
static uint64_t moved_start_ns;

static void
restart_self_cb(struct loop *l, struct loop_timer *t)
{
	if (++restart_fires < 3)
		loop_timer_start(l, t, 2, restart_self_cb, NULL);
}

static void
stopped_cb(struct loop *l, struct loop_timer *t)
{
	stopped_fires++;
}

static void
moved_cb(struct loop *l, struct loop_timer *t)
{
	moved_fires++;
	CHECK(clock_ns() - moved_start_ns >= 40 * 1000000u);
}

static void
stopper_cb(struct loop *l, struct loop_timer *t)
{
	struct loop_timer *victim = t->data;

	loop_timer_stop(l, victim);
	CHECK(!victim->active);
	loop_timer_stop(l, victim);	/* twice is harmless */
}

static void
test_timer_restart_stop(void)
{
	struct loop *l = new_loop();
	struct loop_timer self, gone, gone2, moved, stopper;

	memset(&self, 0, sizeof(self));
	memset(&gone, 0, sizeof(gone));
	memset(&gone2, 0, sizeof(gone2));
	memset(&moved, 0, sizeof(moved));
	memset(&stopper, 0, sizeof(stopper));
	loop_timer_start(l, &self, 0, restart_self_cb, NULL);
	/* Stopped before the loop runs. */
	loop_timer_start(l, &gone, 10, stopped_cb, NULL);
	loop_timer_stop(l, &gone);
	/* Stopped by another timer's callback before it is due. */
	loop_timer_start(l, &gone2, 30, stopped_cb, NULL);
	loop_timer_start(l, &stopper, 5, stopper_cb, &gone2);
	/* Restarted later: only the second start counts. */
	moved_start_ns = clock_ns();
	loop_timer_start(l, &moved, 1, moved_cb, NULL);
	loop_timer_start(l, &moved, 40, moved_cb, NULL);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(restart_fires, 3);
	CHECK_INT(stopped_fires, 0);
	CHECK_INT(moved_fires, 1);
	loop_free(l);
}

#define NSTRESS 10000

static struct loop_timer stress[NSTRESS];
static int stress_fired[NSTRESS];
static uint64_t stress_last_due;
static int stress_fires;

static void
stress_cb(struct loop *l, struct loop_timer *t)
{
	size_t i = (size_t)(t - stress);

	stress_fired[i]++;
	stress_fires++;
	CHECK(t->due_ms >= stress_last_due);
	CHECK(t->due_ms <= loop_now(l));
	stress_last_due = t->due_ms;
	/* Stop a later timer from inside a callback now and then. */
	if (i % 97 == 0 && i + 1 < NSTRESS)
		loop_timer_stop(l, &stress[i + 1]);
}

static void
test_timer_heap_stress(void)
{
	struct loop *l = new_loop();
	uint32_t x = 12345;
	int i, want = 0;

	for (i = 0; i < NSTRESS; i++) {
		x = x * 1103515245u + 12345u;
		loop_timer_start(l, &stress[i], (x >> 16) % 60, stress_cb,
		    NULL);
	}
	/* Move some, stop others, in an order unrelated to the heap's. */
	for (i = 0; i < NSTRESS; i += 3) {
		x = x * 1103515245u + 12345u;
		if (x & 0x10000)
			loop_timer_stop(l, &stress[i]);
		else
			loop_timer_start(l, &stress[i], (x >> 16) % 60,
			    stress_cb, NULL);
	}
	CHECK_INT(loop_run(l), 0);
	for (i = 0; i < NSTRESS; i++) {
		CHECK(stress_fired[i] <= 1);
		CHECK(!stress[i].active);
		want += stress_fired[i];
	}
	CHECK_INT(stress_fires, want);
	/* Most timers ran; a third of a third were stopped, a few more by
	 * callbacks. */
	CHECK(stress_fires > NSTRESS * 8 / 10);
	CHECK(stress_fires < NSTRESS);
	loop_free(l);
}

/* children */

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
}

static pid_t
spawn_sh(struct loop *l, const char *script)
{
	pid_t pid = fork();

	if (pid == 0) {
		loop_child_after_fork(l);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	return pid;
}

static void
check_reaped(pid_t pid)
{
	int st;

	errno = 0;
	CHECK_INT(waitpid(pid, &st, WNOHANG), -1);
	CHECK_INT(errno, ECHILD);
}

/* exit 7, killed by SIGKILL, and one that exited before it was watched */
static void
child_statuses(int want_pidfd)
{
	struct loop *l = new_loop();
	struct child_rec r[3];
	pid_t pid[3];
	siginfo_t si;
	int i;

	memset(r, 0, sizeof(r));
	/* First, before the loop watches any child: one that has already
	 * exited (waited for without reaping), so no SIGCHLD will come. */
	pid[0] = spawn_sh(l, "exit 3");
	CHECK_INT(waitid(P_PID, (id_t)pid[0], &si, WEXITED | WNOWAIT), 0);
	CHECK_INT(loop_child_start(l, &r[0].c, pid[0], child_cb, NULL), 0);
	CHECK_INT(r[0].c.pidfd != -1, want_pidfd);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(r[0].calls, 1);
	pid[1] = spawn_sh(l, "exit 7");
	CHECK_INT(loop_child_start(l, &r[1].c, pid[1], child_cb, NULL), 0);
	pid[2] = spawn_sh(l, "sleep 30");
	CHECK_INT(loop_child_start(l, &r[2].c, pid[2], child_cb, NULL), 0);
	CHECK_INT(kill(pid[2], SIGKILL), 0);
	for (i = 1; i < 3; i++)
		CHECK_INT(r[i].c.pidfd != -1, want_pidfd);
	CHECK_INT(loop_run(l), 0);
	for (i = 0; i < 3; i++) {
		CHECK_INT(r[i].calls, 1);
		check_reaped(pid[i]);
	}
	CHECK(WIFEXITED(r[0].status) && WEXITSTATUS(r[0].status) == 3);
	CHECK(WIFEXITED(r[1].status) && WEXITSTATUS(r[1].status) == 7);
	CHECK(WIFSIGNALED(r[2].status) && WTERMSIG(r[2].status) == SIGKILL);
	loop_free(l);
}

#define NCHILD 50

static void
children_many(int want_pidfd)
{
	struct loop *l = new_loop();
	struct child_rec r[NCHILD];
	pid_t pid;
	int i;

	memset(r, 0, sizeof(r));
	for (i = 0; i < NCHILD; i++) {
		pid = fork();
		if (pid == 0) {
			loop_child_after_fork(l);
			usleep((useconds_t)(i % 5) * 2000);
			_exit(i);
		}
		CHECK(pid > 0);
		CHECK_INT(loop_child_start(l, &r[i].c, pid, child_cb, NULL),
		    0);
		CHECK_INT(r[i].c.pidfd != -1, want_pidfd);
	}
	CHECK_INT(loop_run(l), 0);
	for (i = 0; i < NCHILD; i++) {
		CHECK_INT(r[i].calls, 1);
		CHECK(WIFEXITED(r[i].status));
		CHECK_INT(WEXITSTATUS(r[i].status), i);
	}
	loop_free(l);
}

static void
test_child_exit(void)
{
	child_statuses(1);
}

static void
test_child_many(void)
{
	children_many(1);
}

static void
test_child_sigchld(void)
{
	setenv("DROVE_NO_PIDFD", "1", 1);
	child_statuses(0);
	children_many(0);
	unsetenv("DROVE_NO_PIDFD");
}

/* A stopped child watcher neither reaps nor calls back. */
static void
test_child_stop(void)
{
	struct loop *l = new_loop();
	struct child_rec r;
	pid_t pid;
	int st;

	memset(&r, 0, sizeof(r));
	pid = spawn_sh(l, "exit 5");
	CHECK_INT(loop_child_start(l, &r.c, pid, child_cb, NULL), 0);
	loop_child_stop(l, &r.c);
	CHECK(!r.c.active);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(r.calls, 0);
	CHECK_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
	loop_free(l);
}

/* signals */

static int got_term, got_int;
static struct loop_signal sig_term, sig_int;
static struct loop_timer sig_guard;

static void
sig_cb(struct loop *l, struct loop_signal *s, int signo)
{
	CHECK_INT(signo, s->signo);
	if (signo == SIGTERM) {
		got_term++;
		CHECK_INT(kill(getpid(), SIGINT), 0);
	} else if (signo == SIGINT) {
		got_int++;
		loop_signal_stop(l, &sig_term);
		loop_signal_stop(l, s);
		loop_timer_stop(l, &sig_guard);
	}
}

static int
blocked(int signo)
{
	sigset_t m;

	sigprocmask(SIG_SETMASK, NULL, &m);
	return sigismember(&m, signo);
}

static void
test_signal_deliver(void)
{
	struct loop *l = new_loop();

	got_term = got_int = 0;
	CHECK_INT(loop_signal_start(l, &sig_term, SIGTERM, sig_cb, NULL), 0);
	CHECK_INT(loop_signal_start(l, &sig_int, SIGINT, sig_cb, NULL), 0);
	CHECK(loop_signal_start(l, &sig_int, SIGKILL, sig_cb, NULL) < 0);
	CHECK_INT(loop_signal_start(l, &sig_int, SIGINT, sig_cb, NULL), 0);
	CHECK(blocked(SIGTERM) && blocked(SIGINT));
	loop_timer_start(l, &sig_guard, 5000, guard_cb, NULL);
	/* Would kill the process if the loop did not take it over. */
	CHECK_INT(raise(SIGTERM), 0);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(got_term, 1);
	CHECK_INT(got_int, 1);
	/* The last watcher of a signal gives it back. */
	CHECK(!blocked(SIGTERM) && !blocked(SIGINT));
	loop_free(l);
}

/* Signal watchers alone do not keep the loop running; loop_free restores
 * the mask. */
static void
test_signal_not_alive(void)
{
	struct loop *l = new_loop();
	struct loop_signal s;

	memset(&s, 0, sizeof(s));
	CHECK_INT(loop_signal_start(l, &s, SIGUSR1, sig_cb, NULL), 0);
	CHECK(blocked(SIGUSR1));
	CHECK_INT(loop_run(l), 0);
	CHECK(s.active);
	/* Pending for the loop: dropped by loop_free, not delivered. */
	CHECK_INT(raise(SIGUSR1), 0);
	loop_free(l);
	CHECK(!blocked(SIGUSR1));
}

static void
test_signal_child_mask(void)
{
	struct loop *l = new_loop();
	struct loop_signal s;
	struct child_rec r[2];
	sigset_t m;
	pid_t pid;

	memset(&s, 0, sizeof(s));
	memset(r, 0, sizeof(r));
	got_term = 0;
	CHECK_INT(loop_signal_start(l, &s, SIGTERM, sig_cb, NULL), 0);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, NULL, &m);
		if (!sigismember(&m, SIGTERM))
			_exit(2);	/* the loop did not block it */
		loop_child_after_fork(l);
		sigprocmask(SIG_SETMASK, NULL, &m);
		_exit(sigismember(&m, SIGTERM) ? 1 : 0);
	}
	CHECK(pid > 0);
	CHECK_INT(loop_child_start(l, &r[0].c, pid, child_cb, NULL), 0);
	/* After exec the signal must act: the shell dies of its own TERM. */
	pid = spawn_sh(l, "kill -TERM $$; exit 3");
	CHECK_INT(loop_child_start(l, &r[1].c, pid, child_cb, NULL), 0);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(r[0].calls, 1);
	CHECK(WIFEXITED(r[0].status) && WEXITSTATUS(r[0].status) == 0);
	CHECK_INT(r[1].calls, 1);
	CHECK(WIFSIGNALED(r[1].status) && WTERMSIG(r[1].status) == SIGTERM);
	CHECK_INT(got_term, 0);
	loop_signal_stop(l, &s);
	loop_free(l);
}

/* async */

#define NSEND 2000

static struct loop_async async_w;
static struct loop_timer async_guard;
static int async_sent, async_seen, async_calls;

static void *
async_thread(void *arg)
{
	struct loop *l = arg;
	int i;

	for (i = 1; i <= NSEND; i++) {
		__atomic_store_n(&async_sent, i, __ATOMIC_SEQ_CST);
		loop_async_send(l, &async_w);
		if (i % 100 == 0)
			usleep(1000);
	}
	return NULL;
}

static void
async_cb(struct loop *l, struct loop_async *a)
{
	async_calls++;
	async_seen = __atomic_load_n(&async_sent, __ATOMIC_SEQ_CST);
	if (async_seen == NSEND) {
		loop_async_stop(l, a);
		loop_timer_stop(l, &async_guard);
	}
}

static void
test_async_thread(void)
{
	struct loop *l = new_loop();
	pthread_t th;

	CHECK_INT(loop_async_start(l, &async_w, async_cb, NULL), 0);
	/* The guard keeps the loop running: an async alone does not. */
	loop_timer_start(l, &async_guard, 5000, guard_cb, NULL);
	CHECK_INT(pthread_create(&th, NULL, async_thread, l), 0);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(pthread_join(th, NULL), 0);
	/* The last send was seen; sends were coalesced. */
	CHECK_INT(async_seen, NSEND);
	CHECK(async_calls >= 1 && async_calls < NSEND);
	CHECK(!async_w.active);
	loop_free(l);
}

/* loop_run's end */

static void
one_shot_cb(struct loop *l, struct loop_timer *t)
{
	(*(int *)t->data)++;
}

static void
test_run_until_idle(void)
{
	struct loop *l = new_loop();
	struct loop_async a;
	struct loop_timer t;
	uint64_t t0;
	int fired = 0;

	memset(&a, 0, sizeof(a));
	memset(&t, 0, sizeof(t));
	/* Nothing at all, then only an async: returns at once. */
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(loop_async_start(l, &a, NULL, NULL), 0);
	t0 = clock_ns();
	CHECK_INT(loop_run(l), 0);
	CHECK(clock_ns() - t0 < 1000000000u);
	/* One timer: returns right after it fired. */
	loop_timer_start(l, &t, 10, one_shot_cb, &fired);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(fired, 1);
	CHECK(clock_ns() - t0 >= 10 * 1000000u);
	loop_async_stop(l, &a);
	loop_free(l);
}

static int stop_calls;

static void
stop_io_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	stop_calls++;
	loop_stop(l);	/* the fd stays readable */
}

static void
test_loop_stop(void)
{
	struct loop *l = new_loop();
	struct loop_io w[2];
	int a[2], b[2];

	memset(w, 0, sizeof(w));
	CHECK_INT(pipe(a), 0);
	CHECK_INT(pipe(b), 0);
	CHECK_INT(write(a[1], "x", 1), 1);
	CHECK_INT(write(b[1], "x", 1), 1);
	CHECK_INT(loop_io_start(l, &w[0], a[0], LOOP_READ, stop_io_cb, NULL),
	    0);
	CHECK_INT(loop_io_start(l, &w[1], b[0], LOOP_READ, stop_io_cb, NULL),
	    0);
	/* Both are ready in one batch; each run makes one callback. */
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(stop_calls, 1);
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(stop_calls, 2);
	loop_io_stop(l, &w[0]);
	loop_io_stop(l, &w[1]);
	loop_io_stop(l, &w[1]);	/* twice is harmless */
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(stop_calls, 2);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	loop_free(l);
}

/*
 * A 0 ms timer started from an I/O callback runs at the end of that turn,
 * not at the next millisecond: 1,000 hops of read -> 0 ms timer -> write
 * would need at least a second if each waited for a millisecond boundary;
 * here they take a few milliseconds (bound generous for a loaded machine).
 */
#define HOPS 1000
static struct {
	int sv[2];
	struct loop_io io;
	struct loop_timer t;
	int hops;
} hop;

static void
hop_timer_cb(struct loop *l, struct loop_timer *t)
{
	CHECK_INT((int)write(hop.sv[1], "x", 1), 1);
}

static void
hop_read_cb(struct loop *l, struct loop_io *w, unsigned ev)
{
	char c;

	CHECK_INT((int)read(hop.sv[0], &c, 1), 1);
	if (++hop.hops == HOPS) {
		loop_io_stop(l, w);
		return;
	}
	loop_timer_start(l, &hop.t, 0, hop_timer_cb, NULL);
}

static void
test_timer_zero_same_turn(void)
{
	struct loop *l = new_loop();
	uint64_t t0;

	memset(&hop, 0, sizeof(hop));
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, hop.sv), 0);
	CHECK_INT(loop_io_start(l, &hop.io, hop.sv[0], LOOP_READ,
	    hop_read_cb, NULL), 0);
	CHECK_INT((int)write(hop.sv[1], "x", 1), 1);
	t0 = clock_ns();
	CHECK_INT(loop_run(l), 0);
	CHECK_INT(hop.hops, HOPS);
	CHECK(clock_ns() - t0 < 500 * 1000000u);
	close(hop.sv[0]);
	close(hop.sv[1]);
	loop_free(l);
}

static const struct t_case cases[] = {
	{ "io_pipe", test_io_pipe },
	{ "io_set", test_io_set },
	{ "io_stop_in_batch", test_io_stop_in_batch },
	{ "io_restart_in_cb", test_io_restart_in_cb },
	{ "timer_order", test_timer_order },
	{ "timer_restart_stop", test_timer_restart_stop },
	{ "timer_heap_stress", test_timer_heap_stress },
	{ "timer_zero_same_turn", test_timer_zero_same_turn },
	{ "child_exit", test_child_exit },
	{ "child_many", test_child_many },
	{ "child_sigchld", test_child_sigchld },
	{ "child_stop", test_child_stop },
	{ "signal_deliver", test_signal_deliver },
	{ "signal_not_alive", test_signal_not_alive },
	{ "signal_child_mask", test_signal_child_mask },
	{ "async_thread", test_async_thread },
	{ "run_until_idle", test_run_until_idle },
	{ "loop_stop", test_loop_stop },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
