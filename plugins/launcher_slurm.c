/*
 * The slurm launcher (ABI 1.6): each attempt of an exec backend's agent is
 * one Slurm job step, started with srun (no shell) on a node of the
 * cluster.
 *
 *   [backend claude]
 *   type = exec
 *   command = claude -p
 *   launcher = slurm
 *   cpus = 1                  ; --cpus-per-task
 *   mem = 1G                  ; --mem (the core's key)
 *   time_limit = 30m          ; --time, in whole minutes (rounded up)
 *   partition = agents        ; --partition
 *   launcher_args = --qos=low ; more srun options, split like a shell
 *
 * srun streams the agent's output back and forwards its stdin, its exit
 * status and a SIGTERM (drove's cancel and timeout), so a step behaves like
 * a local child.  The job's id and, while it waits, Slurm's reason come
 * from squeue (the step is found by its job name and a comment unique to
 * the launch); when srun ends, squeue says how the job ended, and a job
 * Slurm ended (time limit, node failure, cancelled, out of memory) fails
 * with that reason, appended to the agent's stderr file where the
 * backend's error quotes it.  Built only against drove/plugin.h and libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "plugin_util.h"

extern char **environ;

/* Seconds between squeue looks while a step waits for resources. */
#define POLL_PENDING_S 2.0
/* Looks after srun exited while the job is still completing, 0.5 s
 * apart. */
#define SETTLE_LOOKS 20
/* Most seconds a blocking command (doctor, a resume) may take. */
#define SYNC_LIMIT_S 30

struct slurm {
	const struct drove_host *h;
	char *partition;	/* the section's, for doctor; or NULL */
	unsigned long seq;	/* launches so far: the comment's tail */
};

/* One step: srun, and the squeue looks beside it. */
struct step {
	struct slurm *s;
	void *token;
	void *srun;		/* srun's spawn, until it exits */
	void *poll;		/* a squeue in flight, or NULL */
	void *timer;		/* the next look, or NULL */
	char *name;		/* the job name */
	char *comment;		/* "drove:<pid>:<seq>": this launch's own */
	char *stderr_path;
	char *job;		/* once squeue named it */
	char *final;		/* "STATE|REASON" of the ended job */
	const char **argv;
	char **own;		/* strings argv holds that are ours */
	size_t nown;
	void (*on_exit)(void *arg, int status, int err, const char *out,
	    size_t len);
	void *arg;
	void *core;
	int running;		/* squeue saw it run: no more looks */
	int ended;		/* srun exited */
	int last_look;		/* the look in flight is the one after */
	int settle;		/* looks after srun for a final state */
	int status, err;	/* srun's */
	char *out;
	size_t len;
};

static int
slurm_open(const struct drove_host *h, const struct drove_conf *c,
    void **state, char *err, size_t errlen)
{
	struct slurm *s;
	const char *v;

	if (!DROVE_HAS(h, launch_state) || h->launch_state == NULL) {
		snprintf(err, errlen, "the host is too old for this plugin");
		return DROVE_ENOTSUP;
	}
	s = h->alloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->h = h;
	if ((v = h->conf_get(c, "partition")) != NULL && *v != '\0')
		s->partition = h->strdup(v);
	*state = s;
	return 0;
}

static void
slurm_close(void *state)
{
	struct slurm *s = state;

	if (s == NULL)
		return;
	s->h->free(s->partition);
	s->h->free(s);
}

static void
step_free(struct step *st)
{
	const struct drove_host *h = st->s->h;

	for (size_t i = 0; i < st->nown; i++)
		h->free(st->own[i]);
	h->free(st->own);
	h->free(st->argv);
	h->free(st->name);
	h->free(st->comment);
	h->free(st->stderr_path);
	h->free(st->job);
	h->free(st->final);
	h->free(st->out);
	h->free(st);
}

/* An argument the step owns. */
static const char *
own(struct step *st, char *s)
{
	st->own = st->s->h->realloc(st->own, (st->nown + 1) *
	    sizeof(*st->own));
	st->own[st->nown++] = s;
	return s;
}

/*
 * Why Slurm ended a job, from squeue's STATE|REASON, or NULL when it
 * ended by itself (COMPLETED, or FAILED: the agent's own exit status).
 */
static const char *
slurm_why(const char *state)
{
	static const struct {
		const char *state, *why;
	} w[] = {
		{ "TIMEOUT", "time limit reached" },
		{ "NODE_FAIL", "node failure" },
		{ "CANCELLED", "cancelled" },
		{ "OUT_OF_MEMORY", "out of memory" },
		{ "PREEMPTED", "preempted" },
		{ "BOOT_FAIL", "node boot failure" },
		{ "DEADLINE", "deadline reached" },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strncmp(state, w[i].state, strlen(w[i].state)) == 0 &&
		    (state[strlen(w[i].state)] == '|' ||
		    state[strlen(w[i].state)] == ' ' ||
		    state[strlen(w[i].state)] == '\0'))
			return w[i].why;
	return NULL;
}

/* Whether Slurm is done with a job in this state (not RUNNING or
 * COMPLETING, which a job Slurm ended passes through). */
static int
settled(const char *state)
{
	return slurm_why(state) != NULL || strncmp(state, "COMPLETED", 9) ==
	    0 || strncmp(state, "FAILED", 6) == 0;
}

/* Appends line to the step's stderr file, where the backend's error
 * quotes the last line from. */
static void
note_stderr(struct step *st, const char *line)
{
	int fd;

	if (st->stderr_path == NULL)
		return;
	fd = open(st->stderr_path, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0)
		(void)0;	/* the error still says status and signal */
	close(fd);
}

/* srun has exited and squeue has said what it knows: the backend hears
 * of the end. */
static void
step_deliver(struct step *st)
{
	const char *why = st->final ? slurm_why(st->final) : NULL;
	int status = st->status, err = st->err;
	char line[512];

	if (why != NULL && err == 0) {
		const char *bar = strchr(st->final, '|');

		snprintf(line, sizeof(line), "slurm: job %s %s: %.*s%s%s%s",
		    st->job ? st->job : "?", why,
		    (int)(bar ? (size_t)(bar - st->final) :
		    strlen(st->final)), st->final,
		    bar && strcmp(bar + 1, "None") != 0 ? " (" : "",
		    bar && strcmp(bar + 1, "None") != 0 ? bar + 1 : "",
		    bar && strcmp(bar + 1, "None") != 0 ? ")" : "");
		note_stderr(st, line);
		/* srun may say 0 of a step Slurm ended (a node failure) */
		if (status == 0)
			status = 1;
	}
	st->on_exit(st->arg, status, err, st->out, st->len);
	step_free(st);
}

static void step_look(struct step *st);

static void
look_later(void *arg)
{
	struct step *st = arg;

	st->timer = NULL;
	step_look(st);
}

/*
 * squeue's answer: lines "ID|STATE|REASON|COMMENT"; ours is the one with
 * our comment.  Pending: the reason goes to the host, another look
 * follows.  Running: the id goes to the host, no more looks.  After srun
 * exited: the job's last state, then the end is delivered.
 */
static void
looked(void *arg, int status, int err, const char *out, size_t len)
{
	struct step *st = arg;
	const struct drove_host *h = st->s->h;
	const char *p = out, *e, *end = out + len;
	char line[1024], *f[4];

	st->poll = NULL;
	for (; err == 0 && status == 0 && p < end; p = e + 1) {
		size_t n;
		int k;

		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		n = (size_t)(e - p) < sizeof(line) - 1 ? (size_t)(e - p) :
		    sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		f[0] = line;
		for (k = 1; k < 4 && (f[k] = strchr(f[k - 1], '|')); k++)
			*f[k]++ = '\0';
		if (k < 4 || strcmp(f[3], st->comment) != 0)
			continue;
		if (st->job == NULL) {
			st->job = h->strdup(f[0]);
			/* a step that ended before the first look */
			if (st->ended)
				h->launch_state(st->token, st->job, NULL);
		}
		if (st->ended) {
			h->free(st->final);
			st->final = pu_fmt(h, "%s|%s", f[1], f[2]);
		} else if (strcmp(f[1], "PENDING") == 0) {
			h->launch_state(st->token, st->job, f[2]);
		} else {
			h->launch_state(st->token, st->job, NULL);
			st->running = 1;
		}
		break;
	}
	if (st->ended) {
		/* a look started before srun exited saw the job alive (or
		 * no longer listed): how it ended takes one more; a job
		 * still completing has not said yet, and squeue may fail on
		 * a busy controller (a bounded wait) */
		int answered = err == 0 && status == 0;

		if (st->err == 0 && (!st->last_look || ((!answered ||
		    (st->final != NULL && !settled(st->final))) &&
		    ++st->settle < SETTLE_LOOKS)))
			st->timer = h->timer_start_at(st->core,
			    st->last_look ? 0.5 : 0, look_later, st);
		else
			step_deliver(st);
		return;
	}
	if (!st->running)
		st->timer = h->timer_start_at(st->core, st->job == NULL ? 0.5 :
		    POLL_PENDING_S, look_later, st);
}

/* Starts one squeue look for the step (all states once srun ended). */
static void
step_look(struct step *st)
{
	const struct drove_host *h = st->s->h;
	const char *argv[] = { "squeue", "--noheader", "--name", st->name,
		"--format", "%i|%T|%r|%k", st->ended ? "--states=all" : NULL,
		NULL };
	struct drove_spawn req;

	st->last_look = st->ended;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.argv = argv;
	req.timeout_s = 20;
	req.on_exit = looked;
	req.arg = st;
	req.core = st->core;
	if (h->spawn(&req, &st->poll) < 0) {
		st->poll = NULL;
		if (st->ended)
			step_deliver(st);
	}
}

static void
srun_exited(void *arg, int status, int err, const char *out, size_t len)
{
	struct step *st = arg;
	const struct drove_host *h = st->s->h;

	st->srun = NULL;
	st->ended = 1;
	st->status = status;
	st->err = err;
	if (len > 0) {
		st->out = h->alloc(len);
		memcpy(st->out, out, len);
		st->len = len;
	}
	if (st->timer != NULL) {
		h->timer_stop(st->timer);
		st->timer = NULL;
	}
	if (st->poll != NULL)
		return;		/* looked() goes on from here */
	/* a cancel or a spawn failure says all there is */
	if (err != 0) {
		step_deliver(st);
		return;
	}
	step_look(st);
}

static int
slurm_start(void *state, const struct drove_launch_req *lr, void **handle)
{
	struct slurm *s = state;
	const struct drove_host *h = s->h;
	const struct drove_spawn *sp = lr->spawn;
	struct drove_spawn req;
	struct step *st;
	size_t n = 0, na = 0, nc = 0, i;
	int rc;

	while (lr->args != NULL && lr->args[na] != NULL)
		na++;
	while (sp->argv[nc] != NULL)
		nc++;
	st = h->alloc(sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->s = s;
	st->token = lr->token;
	st->on_exit = sp->on_exit;
	st->arg = sp->arg;
	st->core = sp->core;
	st->name = h->strdup(lr->job_name);
	st->comment = pu_fmt(h, "drove:%ld:%lu", (long)getpid(), ++s->seq);
	st->stderr_path = sp->stderr_path ? h->strdup(sp->stderr_path) : NULL;
	st->argv = h->alloc((nc + na + 12) * sizeof(*st->argv));
	st->argv[n++] = "srun";
	st->argv[n++] = own(st, pu_fmt(h, "--job-name=%s", st->name));
	st->argv[n++] = own(st, pu_fmt(h, "--comment=%s", st->comment));
	st->argv[n++] = "--ntasks=1";
	if (lr->cpus > 0)
		st->argv[n++] = own(st, pu_fmt(h, "--cpus-per-task=%lld",
		    (long long)lr->cpus));
	if (lr->mem_bytes > 0)
		st->argv[n++] = own(st, pu_fmt(h, "--mem=%lluM",
		    (unsigned long long)((lr->mem_bytes + (1 << 20) - 1) >>
		    20)));
	/* Slurm counts whole minutes */
	if (lr->time_limit_s > 0)
		st->argv[n++] = own(st, pu_fmt(h, "--time=%lld",
		    (long long)((lr->time_limit_s + 59) / 60)));
	if (lr->partition != NULL)
		st->argv[n++] = own(st, pu_fmt(h, "--partition=%s",
		    lr->partition));
	for (i = 0; i < na; i++)
		st->argv[n++] = lr->args[i];
	st->argv[n++] = "--";
	for (i = 0; i < nc; i++)
		st->argv[n++] = sp->argv[i];
	st->argv[n] = NULL;

	req = *sp;
	req.size = sizeof(req);
	req.argv = st->argv;
	req.on_exit = srun_exited;
	req.arg = st;
	rc = h->spawn(&req, &st->srun);
	/* spawn copied it; it holds lr's and sp's borrowed strings */
	h->free(st->argv);
	st->argv = NULL;
	if (rc < 0) {
		step_free(st);
		return rc;
	}
	st->timer = h->timer_start_at(st->core, 0.2, look_later, st);
	*handle = st;
	return 0;
}

/* Cancels by id too: srun ends the step on TERM, but a step whose srun
 * was lost would run on. */
static void
scancel_exited(void *arg, int status, int err, const char *out, size_t len)
{
	(void)arg, (void)status, (void)err, (void)out, (void)len;
}

static void
slurm_cancel(void *state, void *handle)
{
	struct slurm *s = state;
	struct step *st = handle;
	const char *argv[] = { "scancel", st->job, NULL };
	struct drove_spawn req;
	void *sh;

	if (st->job != NULL) {
		memset(&req, 0, sizeof(req));
		req.size = sizeof(req);
		req.argv = argv;
		req.timeout_s = 20;
		req.on_exit = scancel_exited;
		req.core = st->core;
		(void)s->h->spawn(&req, &sh);
	}
	if (st->srun != NULL) {
		s->h->spawn_kill(st->srun);
	} else if (st->poll != NULL) {
		s->h->spawn_kill(st->poll);
	} else if (st->timer != NULL) {
		/* srun is gone: what squeue would add can wait no longer */
		s->h->timer_stop(st->timer);
		st->timer = NULL;
		step_deliver(st);
	}
}

/* --- blocking commands: a resume's cancels, doctor ------------------------ */

/*
 * Runs argv, waits at most limit_s, and keeps up to outlen - 1 bytes of
 * its stdout and stderr (NUL-terminated).  Returns its exit status, or
 * -1 when it could not run or was killed for taking too long (why in out).
 */
static int
run_sync(const char *const *argv, double limit_s, char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	struct timespec t0, t;
	size_t len = 0;
	int p[2], st = 0, rc;
	pid_t pid;

	out[0] = '\0';
	if (pipe(p) < 0) {
		snprintf(out, outlen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		snprintf(out, outlen, "cannot run '%s': %s", argv[0],
		    strerror(rc));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		double left;
		ssize_t n;
		char buf[1024];

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = limit_s - ((double)(t.tv_sec - t0.tv_sec) +
		    (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(p[0]);
			snprintf(out, outlen, "'%s' gave no answer within "
			    "%gs", argv[0], limit_s);
			return -1;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < outlen) {
			size_t k = (size_t)n < outlen - 1 - len ? (size_t)n :
			    outlen - 1 - len;

			memcpy(out + len, buf, k);
			len += k;
			out[len] = '\0';
		}
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* out without its trailing newlines, on one line */
static const char *
one_line(char *out)
{
	size_t n = strlen(out);

	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n')
			out[i] = ' ';
	return out;
}

static int
slurm_end_jobs(void *state, const char *const *jobs, size_t n, char *err,
    size_t errlen)
{
	struct slurm *s = state;
	const char **argv = s->h->alloc((n + 2) * sizeof(*argv));
	char out[4096];
	size_t i, left = n;
	int tries;

	if (n == 0) {
		s->h->free(argv);
		return 0;
	}
	argv[0] = "scancel";
	for (i = 0; i < n; i++)
		argv[i + 1] = jobs[i];
	argv[n + 1] = NULL;
	/* a job that ended meanwhile is not an error: squeue decides */
	(void)run_sync(argv, SYNC_LIMIT_S, out, sizeof(out));
	s->h->free(argv);
	for (tries = 0; tries < 100; tries++) {
		const char *q[] = { "squeue", "--noheader", "--format", "%i",
			NULL };
		char *p;

		if (run_sync(q, SYNC_LIMIT_S, out, sizeof(out)) != 0) {
			snprintf(err, errlen, "squeue: %s", one_line(out));
			return DROVE_EIO;
		}
		for (left = 0, i = 0; i < n; i++)
			for (p = out; (p = strstr(p, jobs[i])) != NULL; p++)
				if ((p == out || p[-1] == '\n') &&
				    (p[strlen(jobs[i])] == '\n' ||
				    p[strlen(jobs[i])] == '\0')) {
					left++;
					break;
				}
		if (left == 0)
			return (int)n;
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
	snprintf(err, errlen, "%zu job%s still in squeue 10 s after scancel",
	    left, left == 1 ? "" : "s");
	return DROVE_EIO;
}

/* Whether partition exists (sinfo lists it).  1 yes, 0 no, -1 no answer
 * (why in out). */
static int
have_partition(const char *partition, char *out, size_t outlen)
{
	const char *q[] = { "sinfo", "--noheader", "--format", "%R", NULL };
	char *p, *e;

	if (run_sync(q, SYNC_LIMIT_S, out, outlen) != 0)
		return -1;
	for (p = out; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == strlen(partition) &&
		    strncmp(p, partition, (size_t)(e - p)) == 0)
			return 1;
	}
	return 0;
}

/*
 * doctor: sinfo answers; the partition exists; a step on a node sees a
 * file made here in the working directory (a shared file system).
 */
static int
slurm_check(void *state, const char *workdir, char *msg, size_t msglen)
{
	struct slurm *s = state;
	const struct drove_host *h = s->h;
	char out[4096], cwd[4096], *marker, *pa, *cd;
	const char *part = s->partition, *q[16];
	int fd, rc, n = 0;

	if (workdir == NULL)
		workdir = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
	rc = have_partition(part ? part : "", out, sizeof(out));
	if (rc < 0) {
		snprintf(msg, msglen, "sinfo does not answer: %s",
		    one_line(out));
		return DROVE_EIO;
	}
	if (part != NULL && rc == 0) {
		snprintf(msg, msglen, "partition '%s' does not exist "
		    "(sinfo lists: %s)", part, one_line(out));
		return DROVE_EINVAL;
	}
	marker = pu_fmt(h, "%s/.drove-doctor-%ld", workdir, (long)getpid());
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(msg, msglen, "cannot write a file in '%s': %s",
		    workdir, strerror(errno));
		h->free(marker);
		return DROVE_EIO;
	}
	close(fd);
	pa = part ? pu_fmt(h, "--partition=%s", part) : NULL;
	cd = pu_fmt(h, "--chdir=%s", workdir);
	q[n++] = "srun";
	q[n++] = "--job-name=drove-doctor";
	q[n++] = "--ntasks=1";
	q[n++] = "--time=1";
	q[n++] = "--quiet";
	q[n++] = cd;
	if (pa != NULL)
		q[n++] = pa;
	q[n++] = "--";
	q[n++] = "test";
	q[n++] = "-e";
	q[n++] = marker;
	q[n] = NULL;
	rc = run_sync(q, SYNC_LIMIT_S, out, sizeof(out));
	h->free(pa);
	h->free(cd);
	unlink(marker);
	if (rc != 0) {
		snprintf(msg, msglen, "a step on a node does not see '%s' "
		    "(srun: %s; the working directory must be on a file "
		    "system the nodes share)", marker, rc < 0 ? one_line(out) :
		    out[0] ? one_line(out) : "exit status 1");
		h->free(marker);
		return DROVE_EIO;
	}
	h->free(marker);
	snprintf(msg, msglen, "sinfo answers, partition %s, a step sees %s",
	    part ? part : "(default)", workdir);
	return 0;
}

static const struct drove_launcher_ops slurm_ops = {
	sizeof(struct drove_launcher_ops),
	slurm_open,
	slurm_close,
	slurm_start,
	slurm_cancel,
	slurm_end_jobs,
	slurm_check,
};

static const struct drove_plugin slurm_plugin = {
	DROVE_ABI_MAJOR,
	DROVE_ABI_MINOR,
	sizeof(struct drove_plugin),
	DROVE_PLUGIN_LAUNCHER,
	"slurm",
	"1.0",
	"runs each attempt as a Slurm job step with srun",
	NULL,
	NULL,
	NULL,
	0,
	0,
	0,
	NULL,
	NULL,
	&slurm_ops,
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &slurm_plugin;
}
