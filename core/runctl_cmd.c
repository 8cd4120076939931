/*
 * drove status, wait, logs, ls and stop: a run followed from outside,
 * through its directory alone (runctl.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include <jansson.h>

#include "cmd.h"
#include "runlock.h"
#include "runctl.h"
#include "sched.h"
#include "util.h"

#define DEFAULT_ROOT ".drove/runs"

/* Reads run `which`, saying why on stderr when it cannot: 0 or
 * EXIT_USAGE. */
static int
read_run(const char *cmd, const char *root, const char *which,
    struct runinfo *info)
{
	char *dir = runctl_dir(root, which);
	int rc = runctl_read(dir, info);

	if (rc < 0) {
		log_warnx("%s: no run '%s' in '%s': %s", cmd, which, dir,
		    rc == -ENOENT ? "it has no journal.jsonl" :
		    strerror(-rc));
		runctl_info_release(info);
	}
	free(dir);
	return rc < 0 ? EXIT_USAGE : 0;
}

/* --- status ------------------------------------------------------------- */

static json_t *
status_json(const struct runinfo *in)
{
	json_t *o = json_object(), *c = json_object(), *r = json_array();
	long pending = in->ntasks - in->ok - in->failed - in->cancelled -
	    in->skipped - (long)in->nrunning;

	json_object_set_new(o, "run", json_string(in->id));
	json_object_set_new(o, "status",
	    json_string(runctl_state_name(in->state)));
	json_object_set_new(o, "pid", in->pid > 0 ? json_integer(in->pid) :
	    json_null());
	json_object_set_new(o, "exit", in->state == RUN_RUNNING ?
	    json_null() : json_integer(runctl_exit_status(in)));
	json_object_set_new(o, "run_dir", json_texts(in->dir));
	json_object_set_new(o, "task_file", in->task_file ?
	    json_texts(in->task_file) : json_null());
	json_object_set_new(o, "started_at", json_real(in->started_at));
	json_object_set_new(o, "elapsed_s", json_real(in->elapsed_s));
	json_object_set_new(o, "tasks", json_integer(in->ntasks));
	json_object_set_new(c, "ok", json_integer(in->ok));
	json_object_set_new(c, "failed", json_integer(in->failed));
	json_object_set_new(c, "cancelled", json_integer(in->cancelled));
	json_object_set_new(c, "skipped", json_integer(in->skipped));
	json_object_set_new(c, "running", json_integer((json_int_t)
	    in->nrunning));
	json_object_set_new(c, "waiting", json_integer(pending > 0 ?
	    pending : 0));
	json_object_set_new(o, "counts", c);
	for (size_t i = 0; i < in->nrunning; i++)
		json_array_append_new(r, json_texts(in->running[i]));
	json_object_set_new(o, "running", r);
	json_object_set_new(o, "cost_usd", json_real(in->cost_usd));
	return o;
}

static void
status_text(const struct runinfo *in)
{
	long pending = in->ntasks - in->ok - in->failed - in->cancelled -
	    in->skipped - (long)in->nrunning;

	printf("run %s %s", in->id, runctl_state_name(in->state));
	if (in->state == RUN_RUNNING)
		printf(" (drove pid %ld)", in->pid);
	printf(", %.1f s\n", in->elapsed_s);
	printf("  tasks      %ld: %ld ok, %ld failed, %ld skipped",
	    in->ntasks, in->ok, in->failed, in->skipped);
	if (in->cancelled)
		printf(", %ld cancelled", in->cancelled);
	if (in->state == RUN_RUNNING)
		printf(", %zu running, %ld waiting", in->nrunning,
		    pending > 0 ? pending : 0);
	printf("\n");
	if (in->nrunning > 0 && in->state == RUN_RUNNING) {
		printf("  running   ");
		for (size_t i = 0; i < in->nrunning; i++)
			printf(" %s", in->running[i]);
		printf("\n");
	}
	printf("  cost       $%.4f%s\n", in->cost_usd,
	    in->state == RUN_RUNNING ? " so far" : "");
	printf("  directory  %s\n", in->dir);
	if (in->state == RUN_STALE)
		printf("  it ended without finishing (killed?): 'drove run %s "
		    "--resume %s' finishes it\n", in->task_file ?
		    in->task_file : "FILE", in->id);
}

static void
status_usage(FILE *f)
{
	fprintf(f, "usage: drove status [RUN] [--json] [--run-dir DIR]\n"
	    "  A run's state (running, done, failed, interrupted, or stale: "
	    "killed before\n"
	    "  it ended), its tasks' counts, the tasks running, the time "
	    "since it started\n"
	    "  (or its wall time) and the cost of the tasks ended so far.\n"
	    "  RUN is a run id, a run directory, or 'last' (default: the "
	    "newest).\n"
	    "  --json         one JSON object instead\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 2 usage error or no such run.\n");
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = DEFAULT_ROOT, *which = "last";
	struct runinfo in;
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'r': root = optarg; break;
		case 'h': status_usage(stdout); return 0;
		default: status_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc) {
		log_warnx("status: unexpected argument '%s' (one run only)",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (read_run("status", root, which, &in) != 0)
		return EXIT_USAGE;
	if (json) {
		json_t *o = status_json(&in);
		char *txt = json_dumps(o, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", txt);
		free(txt);
		json_decref(o);
	} else {
		status_text(&in);
	}
	runctl_info_release(&in);
	return 0;
}

/* --- wait --------------------------------------------------------------- */

/*
 * Waits for the run in dir to end and reads it.  A resume that takes the
 * run over just as it ends is waited for too.  Returns 0 or EXIT_USAGE.
 */
static int
wait_run(const char *cmd, const char *root, const char *which,
    struct runinfo *info)
{
	char *dir = runctl_dir(root, which);
	int rc;

	for (int i = 0; i < 100; i++) {
		if ((rc = runctl_wait_end(dir)) < 0)
			break;
		if ((rc = runctl_read(dir, info)) < 0) {
			runctl_info_release(info);
			break;
		}
		if (info->state != RUN_RUNNING) {
			free(dir);
			return 0;
		}
		runctl_info_release(info);
	}
	if (rc < 0)
		log_warnx("%s: no run '%s' in '%s': %s", cmd, which, dir,
		    rc == -ENOENT ? "it has no lock or journal" :
		    strerror(-rc));
	else
		log_warnx("%s: run '%s' keeps being resumed", cmd, which);
	free(dir);
	return EXIT_USAGE;
}

static void
print_end(const struct runinfo *in)
{
	printf("run %s %s (exit %d)\n", in->id, runctl_state_name(in->state),
	    runctl_exit_status(in));
}

static void
wait_usage(FILE *f)
{
	fprintf(f, "usage: drove wait [RUN...] [--run-dir DIR]\n"
	    "  Blocks until each run has ended (its drove has let its lock "
	    "go: no polling),\n"
	    "  then prints a line per run: its id, its state and the status "
	    "it ended with.\n"
	    "  RUN is a run id, a run directory, or 'last' (default: the "
	    "newest).\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: the status 'drove run' gave the run, and of "
	    "several runs the\n"
	    "highest: 0 every run done, 1 one failed or is stale, 130 one "
	    "was interrupted,\n"
	    "2 usage error or no such run.\n");
}

int
cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char *last[] = { "last", NULL };
	const char *root = DEFAULT_ROOT;
	struct runinfo in;
	char **runs;
	int c, worst = 0, st;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'h': wait_usage(stdout); return 0;
		default: wait_usage(stderr); return EXIT_USAGE;
		}
	}
	runs = optind < argc ? argv + optind : last;
	for (; *runs != NULL; runs++) {
		if (wait_run("wait", root, *runs, &in) != 0)
			return EXIT_USAGE;
		print_end(&in);
		fflush(stdout);
		st = runctl_exit_status(&in);
		if (st > worst)
			worst = st;
		runctl_info_release(&in);
	}
	return worst;
}

/* --- stop --------------------------------------------------------------- */

static void
stop_usage(FILE *f)
{
	fprintf(f, "usage: drove stop [RUN] [--run-dir DIR]\n"
	    "  Stops a running run as Ctrl-C would: SIGINT to its drove "
	    "(the pid in its\n"
	    "  lock, checked to hold the run's lock), which cancels the "
	    "tasks in flight and\n"
	    "  keeps the finished ones; then waits for it to end.  "
	    "Resumed later, the run\n"
	    "  redoes only what did not finish.\n"
	    "  RUN is a run id, a run directory, or 'last' (default: the "
	    "newest).\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0 the run was stopped and has ended, 1 it was not "
	    "running, 2 usage\n"
	    "error, no such run, or its lock's pid is not the run's "
	    "process.\n");
}

int
cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = DEFAULT_ROOT, *which = "last";
	struct runinfo in;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'h': stop_usage(stdout); return 0;
		default: stop_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc) {
		log_warnx("stop: unexpected argument '%s' (one run only)",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (read_run("stop", root, which, &in) != 0)
		return EXIT_USAGE;
	if (in.state != RUN_RUNNING) {
		log_warnx("stop: run %s is not running (%s)", in.id,
		    runctl_state_name(in.state));
		runctl_info_release(&in);
		return EXIT_TASK_FAILED;
	}
	rc = in.pid > 0 ? runctl_is_owner(in.dir, in.pid) : 0;
	if (rc != 1) {
		log_warnx("stop: run %s: pid %ld in its lock is not the "
		    "process that runs it%s%s; not signalled", in.id, in.pid,
		    rc < 0 ? ": " : "", rc < 0 ? strerror(-rc) : "");
		runctl_info_release(&in);
		return EXIT_USAGE;
	}
	if (kill((pid_t)in.pid, SIGINT) < 0 && errno != ESRCH) {
		log_warn("stop: cannot signal drove pid %ld", in.pid);
		runctl_info_release(&in);
		return EXIT_USAGE;
	}
	log_info("stopping run %s (drove pid %ld)", in.id, in.pid);
	runctl_info_release(&in);
	if (wait_run("stop", root, which, &in) != 0)
		return EXIT_USAGE;
	print_end(&in);
	runctl_info_release(&in);
	return 0;
}

/* --- ls ----------------------------------------------------------------- */

static int
newest_first(const void *a, const void *b)
{
	const struct runinfo *x = a, *y = b;

	if (x->started_at != y->started_at)
		return x->started_at < y->started_at ? 1 : -1;
	return strcmp(y->id, x->id);
}

static void
ls_usage(FILE *f)
{
	fprintf(f, "usage: drove ls [--run-dir DIR]\n"
	    "  Lists the runs kept in this directory's run directory, "
	    "newest first: id,\n"
	    "  state (running, done, failed, interrupted, stale), wall time "
	    "(so far, for\n"
	    "  a running run), tasks ok of all, and the task file.\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 2 usage error or the run directory cannot be "
	    "read.\n");
}

int
cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = DEFAULT_ROOT;
	struct runinfo *runs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'h': ls_usage(stdout); return 0;
		default: ls_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("ls: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((d = opendir(root)) == NULL) {
		if (errno == ENOENT)
			return 0;	/* no run yet */
		log_warn("ls: cannot read '%s'", root);
		return EXIT_USAGE;
	}
	while ((de = readdir(d)) != NULL) {
		char *dir;

		/* "last" names a run listed under its own name */
		if (de->d_name[0] == '.' || strcmp(de->d_name, "last") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			runs = xrealloc(runs, cap * sizeof(*runs));
		}
		dir = xasprintf("%s/%s", root, de->d_name);
		if (runctl_read(dir, &runs[n]) == 0)
			n++;
		else
			runctl_info_release(&runs[n]);
		free(dir);
	}
	closedir(d);
	qsort(runs, n, sizeof(*runs), newest_first);
	if (n > 0)
		printf("%-22s %-11s %9s %9s  %s\n", "run", "status", "wall",
		    "tasks ok", "task file");
	for (size_t i = 0; i < n; i++) {
		char tasks[48];

		snprintf(tasks, sizeof(tasks), "%ld/%ld", runs[i].ok,
		    runs[i].ntasks);
		printf("%-22s %-11s %8.1fs %9s  %s\n", runs[i].id,
		    runctl_state_name(runs[i].state), runs[i].elapsed_s, tasks,
		    runs[i].task_file ? runs[i].task_file : "-");
		runctl_info_release(&runs[i]);
	}
	free(runs);
	return 0;
}

/* --- logs --------------------------------------------------------------- */

/* What logs shows: a file that grows, and when to stop following it. */
/* A task's end in the journal: status "ok", "failed", ..., or empty
 * while it has not ended (or runs again in a resume). */
struct task_end {
	const char *task;
	char status[16];
};

static void
task_end_event(json_t *ev, void *arg)
{
	struct task_end *te = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *st = json_string_value(json_object_get(ev, "status"));

	if (type == NULL)
		return;
	if (strcmp(type, "run") == 0 && strcmp(te->status, "ok") != 0)
		te->status[0] = '\0';	/* a resume runs it again */
	else if (strcmp(type, "task") == 0 && task && st &&
	    strcmp(task, te->task) == 0)
		snprintf(te->status, sizeof(te->status), "%s", st);
}

struct follow {
	const char *dir;	/* the run */
	const char *task;	/* NULL: the run's own log */
	char *live;		/* the file followed */
	int fd;			/* -1 until it exists */
	int copied;		/* bytes of live went out */
	int jfd;		/* the journal, read as it grows, or -1 */
	struct buf jline;	/* its last line while not whole */
	struct task_end te;	/* the task's end, as read so far */
};

/* Copies what live holds beyond what went out already.  0 or -errno. */
static int
follow_copy(struct follow *f)
{
	char buf[65536];
	struct stat st;
	ssize_t n;

	if (f->fd < 0) {
		f->fd = open(f->live, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (f->fd < 0)
			return errno == ENOENT ? 0 : -errno;
	}
	/* a new attempt empties the file: start again from its top */
	if (fstat(f->fd, &st) == 0 && st.st_size < lseek(f->fd, 0, SEEK_CUR))
		(void)lseek(f->fd, 0, SEEK_SET);
	while ((n = read(f->fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -EIO;
		f->copied = 1;
	}
	fflush(stdout);
	return 0;
}

/* Reads the journal lines added since the last look into f->te: a long
 * run's journal is read once, not at every wake-up. */
static void
follow_journal(struct follow *f)
{
	char buf[65536], *p, *nl, *end;
	ssize_t n;

	if (f->jfd < 0) {
		char *jp = xasprintf("%s/journal.jsonl", f->dir);

		f->jfd = open(jp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		free(jp);
		if (f->jfd < 0)
			return;
	}
	while ((n = read(f->jfd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		buf_add(&f->jline, buf, (size_t)n);
	}
	p = f->jline.data;
	end = p + f->jline.len;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		json_t *ev = json_loadb(p, (size_t)(nl - p), 0, NULL);

		if (json_is_object(ev))
			task_end_event(ev, &f->te);
		json_decref(ev);
		p = nl + 1;
	}
	f->jline.len = (size_t)(end - p);
	memmove(f->jline.data, p, f->jline.len);
}

/* Whether what f follows has ended: its task has, or the run has. */
static int
follow_ended(struct follow *f)
{
	long pid;

	if (runlock_owner(f->dir, &pid) != 1)
		return 1;
	if (f->task == NULL)
		return 0;
	follow_journal(f);
	return f->te.status[0] != '\0';
}

/*
 * Follows f until it ends: each wake-up (inotify: a file in the run or
 * its tasks written, made, renamed in or closed) copies what is new.  The
 * end is checked before the last copy, so nothing written before it is
 * missed.
 */
static int
follow_run(struct follow *f)
{
#ifdef __linux__
	_Alignas(struct inotify_event) char buf[4096];
	char *tasks = xasprintf("%s/tasks", f->dir);
	const uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO |
	    IN_CLOSE_WRITE;
	int in, rc = 0, ended;

	in = inotify_init1(IN_CLOEXEC);
	if (in < 0 || inotify_add_watch(in, f->dir, mask) < 0 ||
	    inotify_add_watch(in, tasks, mask) < 0) {
		rc = -errno;
		free(tasks);
		if (in >= 0)
			close(in);
		return rc;
	}
	free(tasks);
	for (;;) {
		ended = follow_ended(f);
		if ((rc = follow_copy(f)) < 0 || ended)
			break;
		/* blocks until something in the run changes */
		if (read(in, buf, sizeof(buf)) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	close(in);
	return rc;
#else
	(void)f;
	return -ENOSYS;
#endif
}

static void
logs_usage(FILE *f)
{
	fprintf(f, "usage: drove logs [RUN] [TASK] [-f] [--replica N] "
	    "[--run-dir DIR]\n"
	    "  Prints what a task's agent has written to stdout (or an API "
	    "backend has\n"
	    "  streamed, redacted) so far (tasks/TASK.live; once the task's "
	    "output is\n"
	    "  on disk, that copy goes and its output, tasks/TASK.out, is "
	    "shown), or with\n"
	    "  no TASK the run's own log (RUNDIR/drove.log, what a "
	    "detached run said).\n"
	    "  A task of several replicas: replica 0's, unless --replica.\n"
	    "  RUN is a run id, a run directory, or 'last' (default: the "
	    "newest).\n"
	    "  -f, --follow   keep printing as it is written, until the "
	    "task (or the run)\n"
	    "                 ends\n"
	    "  --replica N    replica N's (tasks/TASK.N.live), kept after "
	    "the run, since\n"
	    "                 the output is the replicas' merge\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 1 nothing to show (no such task output, or no "
	    "log: the run was\n"
	    "not detached), 2 usage error or no such run.\n");
}

/*
 * The file to show for task (NULL: the run's log) in dir: replica's live
 * copy (< 0: replica 0's, or the task's when it has one replica).  *apart
 * says it is one replica's of several, asked for: the task's output (their
 * merge) is no stand-in for it.
 */
static char *
logs_file(const char *dir, const char *task, long replica, int *apart)
{
	char *p;

	*apart = 0;
	if (task == NULL)
		return xasprintf("%s/drove.log", dir);
	if (replica >= 0) {
		p = xasprintf("%s/tasks/%s.%ld.live", dir, task, replica);
		if (replica > 0 || access(p, F_OK) == 0) {
			*apart = 1;
			return p;
		}
		free(p);
	}
	p = xasprintf("%s/tasks/%s.live", dir, task);
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	p = xasprintf("%s/tasks/%s.0.live", dir, task);
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	return xasprintf("%s/tasks/%s.live", dir, task);
}

int
cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "replica", required_argument, NULL, 'n' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = DEFAULT_ROOT, *which = "last";
	struct follow f;
	struct runinfo in;
	char *end;
	long replica = -1;
	int c, follow = 0, apart, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = 1; break;
		case 'n':
			errno = 0;
			replica = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    replica < 0 || replica > INT_MAX) {
				log_warnx("logs: --replica '%s': not a "
				    "number from 0 to %d", optarg, INT_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'r': root = optarg; break;
		case 'h': logs_usage(stdout); return 0;
		default: logs_usage(stderr); return EXIT_USAGE;
		}
	}
	memset(&f, 0, sizeof(f));
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc)
		f.task = argv[optind++];
	if (optind < argc) {
		log_warnx("logs: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (replica >= 0 && f.task == NULL) {
		log_warnx("logs: --replica needs a TASK");
		return EXIT_USAGE;
	}
	if (f.task != NULL && !valid_name(f.task)) {
		log_warnx("logs: '%s' is not a task name", f.task);
		return EXIT_USAGE;
	}
	if (read_run("logs", root, which, &in) != 0)
		return EXIT_USAGE;
	f.dir = in.dir;
	f.fd = -1;
	f.jfd = -1;
	f.te.task = f.task;
	f.live = logs_file(in.dir, f.task, replica, &apart);
	if (follow && in.state == RUN_RUNNING)
		rc = follow_run(&f);
	else
		rc = follow_copy(&f);
	/* no live copy (the task wrote nothing as it ran, or its output
	 * replaced it): its output, once in.  A follower that had the copy
	 * open read it to the end: nothing is shown twice */
	if (rc == 0 && !f.copied && f.task != NULL && !apart) {
		free(f.live);
		f.live = xasprintf("%s/tasks/%s.out", in.dir, f.task);
		if (f.fd >= 0)
			close(f.fd);
		f.fd = -1;
		rc = follow_copy(&f);
	}
	if (f.fd >= 0)
		close(f.fd);
	if (f.jfd >= 0)
		close(f.jfd);
	buf_release(&f.jline);
	if (rc == -ENOSYS)
		log_warnx("logs: -f needs inotify (Linux); without -f, logs "
		    "prints what there is");
	else if (rc < 0)
		log_warnx("logs: cannot read '%s': %s", f.live,
		    strerror(-rc));
	else if (!f.copied && access(f.live, F_OK) < 0)
		log_warnx("logs: run %s: %s", in.id, f.task ? "the task has "
		    "no output (yet)" : "no drove.log: the run was not "
		    "started with -d");
	rc = rc < 0 || (!f.copied && access(f.live, F_OK) < 0) ?
	    EXIT_TASK_FAILED : 0;
	free(f.live);
	runctl_info_release(&in);
	return rc;
}
