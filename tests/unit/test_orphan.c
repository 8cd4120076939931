/* Agents a dead drove left: ending the process groups a journal records
 * as started and not ended, and only those. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "orphan.h"
#include "t.h"
#include "util.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/drove-orphan.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* A child in a process group of its own, named with the characters that
 * trip a naive /proc/<pid>/stat parser; deaf: it ignores SIGTERM. */
static pid_t
child(int deaf)
{
	pid_t pid = fork();

	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_NAME, "a) b (c", 0, 0, 0);
		if (deaf)
			signal(SIGTERM, SIG_IGN);
		for (int i = 0; i < 600; i++)
			sleep(1);
		_exit(0);
	}
	setpgid(pid, pid);
	/* let it rename itself */
	nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	return pid;
}

static void
record(struct journal *j, const char *ev, pid_t pid,
    unsigned long long pstart)
{
	json_t *o = json_object();

	json_object_set_new(o, "ev", json_string(ev));
	json_object_set_new(o, "pid", json_integer(pid));
	json_object_set_new(o, "pgid", json_integer(pid));
	json_object_set_new(o, "pstart", json_integer((json_int_t)pstart));
	CHECK_INT(journal_append(j, o, 0), 0);
}

/* 1 when pid is still running (not reaped, not a zombie). */
static int
running(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

static int
ended_by(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st))
		return 0;
	return WTERMSIG(st);
}

static void
test_ends_open_group(void)
{
	struct journal j;
	char err[256];
	pid_t a, b;

	setup();
	a = child(0);
	b = child(0);
	CHECK(orphan_start_time(a) > 0);
	CHECK_INT(journal_open(&j, path), 0);
	record(&j, "proc", a, orphan_start_time(a));
	record(&j, "proc", b, orphan_start_time(b));
	record(&j, "proc_end", b, 0);
	CHECK_INT(orphan_end(&j, 4242, 2.0, err, sizeof(err)), 1);
	CHECK_INT(ended_by(a), SIGTERM);
	CHECK(running(b));
	kill(b, SIGKILL);
	waitpid(b, NULL, 0);
	/* its end is journaled: a second resume finds nothing */
	CHECK_INT(orphan_end(&j, 4242, 2.0, err, sizeof(err)), 0);
	journal_close(&j);
	teardown();
}

/* A recorded pid that now belongs to a process started at another time is
 * someone else's: left alone. */
static void
test_reused_pid_left_alone(void)
{
	struct journal j;
	char err[256];
	pid_t a;

	setup();
	a = child(0);
	CHECK_INT(journal_open(&j, path), 0);
	record(&j, "proc", a, orphan_start_time(a) + 1);
	CHECK_INT(orphan_end(&j, 0, 2.0, err, sizeof(err)), 0);
	CHECK(running(a));
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	journal_close(&j);
	teardown();
}

/* SIGTERM-deaf: SIGKILL after the grace period. */
static void
test_deaf_killed(void)
{
	struct journal j;
	char err[256];
	double t0;
	pid_t a;

	setup();
	a = child(1);
	CHECK_INT(journal_open(&j, path), 0);
	record(&j, "proc", a, orphan_start_time(a));
	t0 = now_mono();
	CHECK_INT(orphan_end(&j, 7, 0.3, err, sizeof(err)), 1);
	CHECK(now_mono() - t0 >= 0.25);
	CHECK_INT(ended_by(a), SIGKILL);
	journal_close(&j);
	teardown();
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "ends_open_group", test_ends_open_group },
		{ "reused_pid_left_alone", test_reused_pid_left_alone },
		{ "deaf_killed", test_deaf_killed },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
