#include "orphan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "drove/plugin.h"
#include "util.h"

/* What /proc/<pid>/stat says of a process. */
struct pstat {
	char state;
	long pgrp;
	unsigned long long start;
};

/* Reads /proc/<pid>/stat.  Returns 0, or -1 when there is no such process
 * (or no /proc). */
static int
read_pstat(long pid, struct pstat *ps)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int field, fd;

	/* open, one read, close: the file is a page at most, made whole at
	 * the read (no stdio: its fstat and second read cost an agent's
	 * start two more system calls) */
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
		;
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the
	 * last ')' */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p++;
	memset(ps, 0, sizeof(*ps));
	/* fields from 3 (state) on, as proc(5) numbers them */
	for (field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;
		if (field == 3)
			ps->state = *p;
		else if (field == 5 || field == 22) {
			v = strtoull(p, NULL, 10);
			if (field == 5)
				ps->pgrp = (long)v;
			else
				ps->start = v;
		}
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return 0;
}

unsigned long long
orphan_start_time(long pid)
{
	struct pstat ps;

	return read_pstat(pid, &ps) == 0 ? ps.start : 0;
}

/* drove's pid, for the proc records: read once per run */
static long owner_pid;

static void
on_started(void *arg, long pid, unsigned long long start)
{
	struct journal *j = arg;
	json_t *ev = json_object();
	int rc;

	json_object_set_new(ev, "ev", json_string("proc"));
	json_object_set_new(ev, "pid", json_integer(pid));
	json_object_set_new(ev, "pgid", json_integer(pid));
	/* spawn read the clock around the start; /proc only when that
	 * spanned a clock tick */
	if (start == 0)
		start = orphan_start_time(pid);
	json_object_set_new(ev, "pstart", json_integer((json_int_t)start));
	json_object_set_new(ev, "owner", json_integer((json_int_t)owner_pid));
	/* written now, with the lines pending before it (the task's
	 * start), not at the end of the turn: a resume ends the group only
	 * if this record is there.  No fsync: it has to outlive this
	 * process, not the machine, whose crash takes the agents along */
	if ((rc = journal_append(j, ev, 0)) < 0)
		log_warnx("cannot write '%s': %s", j->path, strerror(-rc));
}

static void
on_ended(void *arg, long pid)
{
	struct journal *j = arg;
	json_t *ev = json_object();
	int rc;

	json_object_set_new(ev, "ev", json_string("proc_end"));
	json_object_set_new(ev, "pid", json_integer(pid));
	/* with the turn's other lines: lost with a kill -9, the group is
	 * just looked for on a resume and found gone (or reused: its start
	 * time differs) */
	if ((rc = journal_append(j, ev, JOURNAL_LATER)) < 0)
		log_warnx("cannot write '%s': %s", j->path, strerror(-rc));
}

void
orphan_watch(struct spawn_watch *w, struct journal *j)
{
	owner_pid = (long)getpid();
	w->started = on_started;
	w->ended = on_ended;
	w->arg = j;
	spawn_set_watch(w);
}

void
orphan_unwatch(void)
{
	spawn_set_watch(NULL);
}

/* --- ending what a dead drove left ------------------------------------- */

struct grp {
	long pgid;
	unsigned long long start;	/* the leader's, 0: unknown */
	int open;			/* started and not ended */
	int alive;
};

struct grps {
	struct grp *v;
	size_t n;
};

static void
collect(json_t *ev, void *arg)
{
	struct grps *g = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	json_int_t pgid = json_integer_value(json_object_get(ev, "pgid"));
	json_int_t pid = json_integer_value(json_object_get(ev, "pid"));
	size_t i;

	if (type == NULL || (strcmp(type, "proc") != 0 &&
	    strcmp(type, "proc_end") != 0) || pid <= 1)
		return;
	for (i = 0; i < g->n && g->v[i].pgid != (long)pid; i++)
		;
	if (strcmp(type, "proc_end") == 0) {
		if (i < g->n)
			g->v[i].open = 0;
		return;
	}
	/* only a group led by the child itself is ours to signal */
	if (pgid != pid)
		return;
	if (i == g->n) {
		g->v = xrealloc(g->v, (g->n + 1) * sizeof(*g->v));
		g->n++;
	}
	g->v[i].pgid = (long)pid;
	g->v[i].start = (unsigned long long)json_integer_value(
	    json_object_get(ev, "pstart"));
	g->v[i].open = 1;
	g->v[i].alive = 0;
}

/*
 * Marks which open groups still have a live (not zombie) member.  A group
 * whose leader is alive but started at another time is a reused pid, not
 * ours.  Without /proc, a group that takes signal 0 counts as alive.
 * Returns how many are alive.
 */
static size_t
mark_alive(struct grps *g)
{
	struct dirent *de;
	struct pstat ps;
	size_t i, n = 0;
	DIR *d;

	for (i = 0; i < g->n; i++) {
		struct grp *e = &g->v[i];

		e->alive = 0;
		if (!e->open)
			continue;
		if (read_pstat(e->pgid, &ps) == 0 && e->start != 0 &&
		    ps.start != e->start) {
			e->open = 0;	/* the pid went to someone else */
			continue;
		}
	}
	if ((d = opendir("/proc")) == NULL) {
		for (i = 0; i < g->n; i++)
			g->v[i].alive = g->v[i].open &&
			    (kill(-(pid_t)g->v[i].pgid, 0) == 0 ||
			    errno == EPERM);
	} else {
		while ((de = readdir(d)) != NULL) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);

			if (*end != '\0' || pid <= 0 ||
			    read_pstat(pid, &ps) < 0 || ps.state == 'Z' ||
			    ps.state == 'X')
				continue;
			for (i = 0; i < g->n; i++)
				if (g->v[i].open && g->v[i].pgid == ps.pgrp &&
				    (g->v[i].start == 0 ||
				    ps.start >= g->v[i].start))
					g->v[i].alive = 1;
		}
		closedir(d);
	}
	for (i = 0; i < g->n; i++)
		n += g->v[i].alive;
	return n;
}

static void
signal_alive(struct grps *g, int sig)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].alive)
			(void)kill(-(pid_t)g->v[i].pgid, sig);
}

/* Waits up to s seconds for every group to go; returns how many are
 * left. */
static size_t
wait_gone(struct grps *g, double s)
{
	double until = now_mono() + s;
	size_t left;

	while ((left = mark_alive(g)) > 0 && now_mono() < until)
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	return left;
}

int
orphan_end(struct journal *j, long owner, double grace_s, char *err,
    size_t errlen)
{
	struct grps g = { NULL, 0 };
	char whose[64] = "a previous drove";
	size_t n, left;
	int rc;

	(void)journal_flush(j);
	rc = journal_replay(j->path, collect, &g, NULL);
	if (rc < 0 || (n = mark_alive(&g)) == 0) {
		free(g.v);
		return 0;
	}
	if (owner > 0)
		snprintf(whose, sizeof(whose), "drove pid %ld", owner);
	signal_alive(&g, SIGTERM);
	left = wait_gone(&g, grace_s);
	if (left > 0) {
		signal_alive(&g, SIGKILL);
		left = wait_gone(&g, 2.0);
	}
	if (left > 0) {
		for (size_t i = 0; i < g.n; i++)
			if (g.v[i].alive) {
				errf(err, errlen, "cannot end process group "
				    "%ld, left running by %s; end it, then "
				    "resume", g.v[i].pgid, whose);
				break;
			}
		free(g.v);
		return DROVE_EIO;
	}
	for (size_t i = 0; i < g.n; i++) {
		json_t *ev;

		if (!g.v[i].open)
			continue;
		ev = json_object();
		json_object_set_new(ev, "ev", json_string("proc_end"));
		json_object_set_new(ev, "pid", json_integer(g.v[i].pgid));
		json_object_set_new(ev, "orphan", json_true());
		(void)journal_append(j, ev, 0);
	}
	log_warnx("resume: ended %zu agent%s left running by %s", n,
	    n == 1 ? "" : "s", whose);
	free(g.v);
	return (int)n;
}
