/*
 * Runs seen from outside (runctl.h): a run's state from its lock and
 * journal, the wait for its end, and `drove run -d`.
 */
#include "runctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "journal.h"
#include "runlock.h"
#include "sched.h"
#include "util.h"

char *
runctl_dir(const char *root, const char *which)
{
	char target[PATH_MAX];
	char *link;
	ssize_t n;

	if (strchr(which, '/'))
		return xstrdup(which);
	if (strcmp(which, "last") != 0)
		return xasprintf("%s/%s", root, which);
	/* the newest run by its name, not as "last" */
	link = xasprintf("%s/last", root);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || memchr(target, '/', (size_t)n) != NULL)
		return link;
	free(link);
	target[n] = '\0';
	return xasprintf("%s/%s", root, target);
}

const char *
runctl_state_name(enum runstate s)
{
	switch (s) {
	case RUN_RUNNING:
		return "running";
	case RUN_DONE:
		return "done";
	case RUN_FAILED:
		return "failed";
	case RUN_INTERRUPTED:
		return "interrupted";
	default:
		return "stale";
	}
}

int
runctl_exit_status(const struct runinfo *info)
{
	switch (info->state) {
	case RUN_DONE:
	case RUN_RUNNING:
		return EXIT_OK;
	case RUN_INTERRUPTED:
		return EXIT_INTERRUPTED;
	default:
		return EXIT_TASK_FAILED;
	}
}

/* The journal read so far: each task's last record and what runs. */
struct jscan {
	struct runinfo *info;
	json_t *done;		/* task -> its task_done/skipped record */
	json_t *running;	/* task -> true: started, no record yet */
	const char *end;	/* the last part's run_done status, or NULL */
	char endbuf[16];
	double seg_time;	/* wall clock of the last run_start */
	double last_t;		/* the last part's latest "t" */
	double wall_s;		/* run_done's, or -1 */
};

static void
scan_event(json_t *ev, void *arg)
{
	struct jscan *js = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	json_t *t = json_object_get(ev, "t"), *v;
	const char *k;
	void *tmp;

	if (type == NULL)
		return;
	if (json_is_number(t) && json_number_value(t) > js->last_t)
		js->last_t = json_number_value(t);
	if (strcmp(type, "run") == 0) {
		/* a resume: what did not end ok runs again */
		json_object_foreach_safe(js->done, tmp, k, v)
			if (strcmp(json_string_value(json_object_get(v,
			    "status")), "ok") != 0)
				json_object_del(js->done, k);
		json_object_clear(js->running);
		js->end = NULL;
		js->last_t = 0;
		js->wall_s = -1;
		js->seg_time = json_number_value(json_object_get(ev, "time"));
		if (js->info->started_at == 0)
			js->info->started_at = js->seg_time;
		if (json_is_integer(json_object_get(ev, "tasks")))
			js->info->ntasks = (long)json_integer_value(
			    json_object_get(ev, "tasks"));
		if (js->info->task_file == NULL && json_string_value(
		    json_object_get(ev, "task_file")))
			js->info->task_file = xstrdup(json_string_value(
			    json_object_get(ev, "task_file")));
	} else if (strcmp(type, "start") == 0 && task != NULL) {
		json_object_set_new(js->running, task, json_true());
	} else if (strcmp(type, "task") == 0 && task != NULL &&
	    json_string_value(json_object_get(ev, "status"))) {
		json_object_set(js->done, task, ev);
		json_object_del(js->running, task);
	} else if (strcmp(type, "end") == 0) {
		snprintf(js->endbuf, sizeof(js->endbuf), "%s",
		    json_string_value(json_object_get(ev, "status")) ?
		    json_string_value(json_object_get(ev, "status")) : "");
		js->end = js->endbuf;
		if (json_is_number(json_object_get(ev, "wall_s")))
			js->wall_s = json_number_value(json_object_get(ev,
			    "wall_s"));
	}
}

/* Counts, cost and running tasks from the scan into info. */
static void
scan_totals(struct jscan *js)
{
	struct runinfo *info = js->info;
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach(js->done, k, v) {
		const char *st = json_string_value(json_object_get(v,
		    "status"));

		if (strcmp(st, "ok") == 0)
			info->ok++;
		else if (strcmp(st, "failed") == 0)
			info->failed++;
		else if (strcmp(st, "cancelled") == 0)
			info->cancelled++;
		else
			info->skipped++;
		info->cost_usd += json_number_value(json_object_get(v,
		    "cost_usd"));
	}
	info->running = xcalloc(json_object_size(js->running) + 1,
	    sizeof(*info->running));
	json_object_foreach(js->running, k, v)
		info->running[n++] = xstrdup(k);
	info->nrunning = n;
}

int
runctl_read(const char *dir, struct runinfo *info)
{
	struct jscan js;
	const char *slash;
	char *jp;
	int rc, held;

	memset(info, 0, sizeof(*info));
	info->dir = xstrdup(dir);
	slash = strrchr(dir, '/');
	info->id = xstrdup(slash ? slash + 1 : dir);
	info->ntasks = -1;
	memset(&js, 0, sizeof(js));
	js.info = info;
	js.done = json_object();
	js.running = json_object();
	js.wall_s = -1;
	/* the lock first: a run that ends in between reads as ended */
	held = runlock_owner(dir, &info->pid);
	jp = xasprintf("%s/journal.jsonl", dir);
	rc = journal_replay(jp, scan_event, &js, NULL);
	free(jp);
	if (rc == 0) {
		scan_totals(&js);
		if (held == 1) {
			info->state = RUN_RUNNING;
			info->elapsed_s = js.seg_time > 0 ? now_wall() -
			    js.seg_time : js.last_t;
		} else {
			info->pid = 0;
			info->state = js.end == NULL ? RUN_STALE :
			    strcmp(js.end, "ok") == 0 ? RUN_DONE :
			    strcmp(js.end, "interrupted") == 0 ?
			    RUN_INTERRUPTED : RUN_FAILED;
			info->elapsed_s = js.wall_s >= 0 ? js.wall_s :
			    js.last_t;
		}
	}
	json_decref(js.done);
	json_decref(js.running);
	return rc;
}

void
runctl_info_release(struct runinfo *info)
{
	free(info->id);
	free(info->dir);
	free(info->task_file);
	strv_free(info->running);
	memset(info, 0, sizeof(*info));
}

int
runctl_wait_end(const char *dir)
{
	char *path = xasprintf("%s/lock", dir);
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -errno;
	/* the owner holds it exclusively for the run's life: a shared lock
	 * is granted the moment the run ends (the kernel wakes us) */
	while ((rc = flock(fd, LOCK_SH)) < 0 && errno == EINTR)
		;
	rc = rc < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int
runctl_is_owner(const char *dir, long pid)
{
	char *lock = xasprintf("%s/lock", dir), *fds;
	struct stat want, st;
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (stat(lock, &want) < 0) {
		free(lock);
		return -errno;
	}
	free(lock);
	fds = xasprintf("/proc/%ld/fd", pid);
	d = opendir(fds);
	if (d == NULL) {
		int e = errno;

		free(fds);
		/* no /proc at all: the held lock is all there is to go by */
		if (e == ENOENT && access("/proc/self/fd", F_OK) < 0)
			return 1;
		return e == ENOENT ? 0 : -e;
	}
	while (!found && (de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", fds, de->d_name);
		found = stat(p, &st) == 0 && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino;
		free(p);
	}
	closedir(d);
	free(fds);
	return found;
}

/* --- run -d ------------------------------------------------------------- */

struct detach {
	int status_fd;		/* to the parent: "ID\tDIR\n" once started */
};

/*
 * In the detached child, once the run has started: its output moves to
 * <dir>/drove.log and the parent learns the id.  From here on nothing
 * reaches the terminal.
 */
static void
detach_started(void *arg, const char *id, const char *dir)
{
	struct detach *d = arg;
	char *log = xasprintf("%s/drove.log", dir);
	char *line = xasprintf("%s\t%s\n", id, dir);
	int fd;

	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0) {
		log_warn("cannot open '%s'; the run's output is lost", log);
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	fflush(stdout);
	fflush(stderr);
	if (fd >= 0) {
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		close(fd);
	}
	(void)write_all(d->status_fd, line, strlen(line));
	close(d->status_fd);
	d->status_fd = -1;
	free(line);
	free(log);
}

/* The detached child's side of the fork. */
static void
detach_child(struct run_opts *o, int errw, int statw)
{
	static struct detach d;
	int null;

	(void)setsid();
	/* no terminal to lose; a SIGHUP sent anyway is not a reason to
	 * stop (sched.c does not watch it for a detached run) */
	signal(SIGHUP, SIG_IGN);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0) {
		(void)dup2(null, STDIN_FILENO);
		close(null);
	}
	/* until the run has started, what it says goes to the terminal
	 * through the parent */
	(void)dup2(errw, STDOUT_FILENO);
	(void)dup2(errw, STDERR_FILENO);
	close(errw);
	d.status_fd = statw;
	o->detached = 1;
	o->started = detach_started;
	o->started_arg = &d;
}

/* The parent's side: relay the child's words until it has started or
 * ended, then report. */
static int
detach_parent(pid_t pid, int errr, int statr, int quiet)
{
	char buf[4096], line[8192];
	size_t len = 0;
	ssize_t n;
	int st;

	/* EOF once the child has moved its output, or has exited */
	for (;;) {
		n = read(errr, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
	}
	close(errr);
	for (;;) {
		n = read(statr, line + len, sizeof(line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(line) - 1)
			break;
	}
	close(statr);
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\n' && strchr(line, '\t')) {
		char *dir = strchr(line, '\t');

		line[len - 1] = '\0';
		*dir++ = '\0';
		printf("%s\n", line);
		if (!quiet)
			log_info("run %s started in the background (drove pid "
			    "%ld); its output goes to %s/drove.log; 'drove "
			    "wait %s' waits for it", line, (long)pid, dir,
			    line);
		return EXIT_OK;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return EXIT_USAGE;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 0 ? EXIT_USAGE : WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int
runctl_detach(struct run_opts *o)
{
	int errp[2], statp[2];
	pid_t pid;

	if (pipe2(errp, O_CLOEXEC) < 0) {
		log_warn("run: cannot detach");
		return EXIT_USAGE;
	}
	if (pipe2(statp, O_CLOEXEC) < 0) {
		log_warn("run: cannot detach");
		close(errp[0]);
		close(errp[1]);
		return EXIT_USAGE;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		log_warn("run: cannot detach");
		close(errp[0]);
		close(errp[1]);
		close(statp[0]);
		close(statp[1]);
		return EXIT_USAGE;
	}
	if (pid == 0) {
		close(errp[0]);
		close(statp[0]);
		detach_child(o, errp[1], statp[1]);
		return -1;
	}
	close(errp[1]);
	close(statp[1]);
	return detach_parent(pid, errp[0], statp[0], o->quiet);
}
