/* The run directory: its layout, resume from the journal, summary.json. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "launch.h"
#include "orphan.h"
#include "run.h"
#include "runstats.h"
#include "taskcopy.h"
#include "worktree.h"

/*
 * t as UTC "YYYYMMDD-HHMMSS", from the day count (H. Hinnant's
 * civil_from_days), not gmtime_r: glibc's runs tzset, which reads
 * /etc/localtime (seven system calls before the first call) even for UTC.
 */
static void
utc_stamp(time_t t, char *out, size_t len)
{
	long long s = (long long)t, days = s / 86400, sec = s % 86400;
	long long z, era, doe, yoe, doy, mp, y, m, d;

	if (sec < 0) {
		sec += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	snprintf(out, len, "%04lld%02d%02d-%02d%02d%02d", y, (int)m, (int)d,
	    (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
}

static char *
make_run_id(void)
{
	char ts[64];
	unsigned x;

	utc_stamp(time(NULL), ts, sizeof(ts));
	/* through uint64_t: a double past UINT_MAX is undefined as unsigned */
	x = (unsigned)getpid() ^ (unsigned)(uint64_t)(now_mono() * 1e6);
	return xasprintf("%s-%04x", ts, x & 0xffff);
}

int
rundir_resume_dir(const char *root, const char *which, char **dirp,
    char *err, size_t errlen)
{
	struct stat st;
	char *dir;

	if (strcmp(which, "last") == 0) {
		char *link = xasprintf("%s/last", root);
		char target[PATH_MAX];
		ssize_t n = readlink(link, target, sizeof(target) - 1);

		free(link);
		if (n < 0) {
			errf(err, errlen, "no run to resume in '%s'", root);
			return DROVE_EINVAL;
		}
		target[n] = '\0';
		dir = target[0] == '/' ? xstrdup(target) :
		    xasprintf("%s/%s", root, target);
	} else if (strchr(which, '/')) {
		dir = xstrdup(which);
	} else {
		dir = xasprintf("%s/%s", root, which);
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		errf(err, errlen, "no run '%s' to resume ('%s' is not a "
		    "directory)", which, dir);
		free(dir);
		return DROVE_EINVAL;
	}
	*dirp = dir;
	return 0;
}

static int
resolve_resume(struct run *r, const char *which, char *err, size_t errlen)
{
	int rc = rundir_resume_dir(r->root, which, &r->dir, err, errlen);
	const char *slash;

	if (rc < 0)
		return rc;
	slash = strrchr(r->dir, '/');
	r->id = xstrdup(slash ? slash + 1 : r->dir);
	return 0;
}

/* What journal_replay reads into: the tasks of g with an ok record. */
struct replay {
	const struct graph *g;
	unsigned char *ok;
};

static void
replay_event(json_t *ev, void *arg)
{
	struct replay *rp = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *st = json_string_value(json_object_get(ev, "status"));
	long i;

	if (type == NULL || strcmp(type, "task") != 0 || !task || !st)
		return;
	i = graph_find(rp->g, task);
	if (i < 0)
		return;
	rp->ok[i] = strcmp(st, "ok") == 0;
}

/* The journal of the run in dir: ok[i] set for each task of g whose last
 * record is ok; torn lines are told of when say.  Returns 0 (no journal
 * yet: none), or DROVE_EIO. */
static int
replay_ok(const char *dir, const struct graph *g, unsigned char *ok,
    int say, char *err, size_t errlen)
{
	char *path = xasprintf("%s/journal.jsonl", dir);
	struct replay rp = { g, ok };
	int torn = 0, rc;

	rc = journal_replay(path, replay_event, &rp, &torn);
	free(path);
	if (rc < 0 && rc != -ENOENT) {
		errf(err, errlen, "cannot read the journal of '%s': %s", dir,
		    strerror(-rc));
		return DROVE_EIO;
	}
	if (torn && say)
		log_info("resume: ignored %d torn journal line(s)", torn);
	return 0;
}

unsigned char *
rundir_done(const char *dir, const struct graph *g, char *err,
    size_t errlen)
{
	unsigned char *ok = xcalloc(g->n + 1, 1);

	/* the resume itself tells of torn lines */
	if (replay_ok(dir, g, ok, 0, err, errlen) < 0) {
		free(ok);
		return NULL;
	}
	for (size_t i = 0; i < g->n; i++) {
		char *out;
		struct stat st;

		if (!ok[i])
			continue;
		/* as rundir_replay: the output file must be there too */
		out = xasprintf("%s/tasks/%s.out", dir, g->tasks[i].name);
		ok[i] = lstat(out, &st) == 0 && S_ISREG(st.st_mode);
		free(out);
	}
	return ok;
}

/* Marks the tasks a resumed run finished before as done. */
int
rundir_replay(struct run *r, char *err, size_t errlen)
{
	unsigned char *ok = xcalloc(r->g->n + 1, 1);
	size_t n = 0;
	int rc;

	rc = replay_ok(r->dir, r->g, ok, 1, err, errlen);
	for (size_t i = 0; i < r->g->n; i++)
		r->t[i].resumed = ok[i];
	free(ok);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		if (!t->resumed)
			continue;
		/* trust the output file, not just the journal */
		if (read_file_nofollow(t->out_path, &t->text, &t->len) < 0) {
			t->resumed = 0;
			continue;
		}
		t->st = TS_OK;
		n++;
	}
	if (!r->o->quiet)
		log_info("resuming run %s: %zu of %zu tasks already done",
		    r->id, n, r->g->n);
	return 0;
}

int
rundir_setup(struct run *r, char *err, size_t errlen)
{
	char *tasks, *link, *tmp;
	long owner;
	int rc, copy = 2;

	r->root = xstrdup(r->o->run_root ? r->o->run_root : ".drove/runs");
	if (r->o->resume) {
		rc = resolve_resume(r, r->o->resume, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		r->id = make_run_id();
		r->dir = xasprintf("%s/%s", r->root, r->id);
	}
	/* a resume runs the tasks it started with, unless told otherwise:
	 * compared before the run directory is touched */
	if (r->o->resume) {
		copy = taskcopy_check(r->dir, r->g, r->o->task_file,
		    r->o->force, err, errlen);
		if (copy < 0)
			return copy;
	}
	tasks = xasprintf("%s/tasks", r->dir);
	rc = mkdir_p(tasks, 0777);
	free(tasks);
	if (rc < 0) {
		errf(err, errlen, "cannot create '%s': %s", r->dir,
		    strerror(-rc));
		return DROVE_EIO;
	}
	/* one live process per run: a second --resume is refused before it
	 * touches the journal or the summary */
	rc = runlock_take(&r->lock, r->dir, &owner, err, errlen);
	if (rc < 0)
		return rc;
	/* "last" is replaced atomically: a symlink renamed over it */
	link = xasprintf("%s/last", r->root);
	tmp = xasprintf("%s/.last.%ld", r->root, (long)getpid());
	unlink(tmp);
	if (symlink(r->id, tmp) == 0)
		(void)rename(tmp, link);
	free(link);
	free(tmp);
	/* tasks.json goes to the commit writer once it runs (sched.c) */
	r->save_tasks = copy != 0;
	char *jp = xasprintf("%s/journal.jsonl", r->dir);

	rc = journal_open(&r->j, jp);
	free(jp);
	if (rc < 0) {
		errf(err, errlen, "cannot open the journal in '%s': %s",
		    r->dir, strerror(-rc));
		return DROVE_EIO;
	}
	/* the agents a killed drove left running go before anything
	 * starts again, so no task runs twice at once: its jobs on a
	 * cluster first (by id), then its children here */
	if (r->o->resume && ((rc = launch_end_orphans(&r->j, r->conf,
	    r->lock.prev_pid, err, errlen)) < 0 || (rc = orphan_end(&r->j,
	    r->lock.prev_pid, spawn_grace_s, err, errlen)) < 0))
		return rc;
	orphan_watch(&r->watch, &r->j);
	runstats_begin(r);
	return 0;
}

void
rundir_close(struct run *r)
{
	orphan_unwatch();
	journal_close(&r->j);
	runlock_release(&r->lock);
}

/* --- summary ------------------------------------------------------------ */

/* Budgets and rate limits: what capped the run. */
static void
summary_limits(struct run *r, json_t *s)
{
	json_t *rl = json_object();

	if (r->budget.usd > 0)
		json_object_set_new(s, "budget_usd", json_real(r->budget.usd));
	if (r->budget.tokens > 0)
		json_object_set_new(s, "budget_tokens",
		    json_integer((json_int_t)r->budget.tokens));
	json_object_set_new(s, "stopped_by", r->budget.stopped_by ?
	    json_string(r->budget.stopped_by) : json_null());
	for (size_t i = 0; i < r->nbe; i++)
		if (r->be[i].used)
			json_object_set_new(rl, r->be[i].name, json_integer(
			    (json_int_t)r->be[i].lim.rate_limited));
	json_object_set_new(s, "rate_limited", rl);
}

/* Sets o's k to v, or drops v when only missing keys are set and o has k. */
static void
put(json_t *o, int missing, const char *k, json_t *v)
{
	if (missing && json_object_get(o, k) != NULL)
		json_decref(v);
	else
		json_object_set_new(o, k, v);
}

/* Task i as summary.json and the journal's task_done record give it: status,
 * backend, attempts, times, usage, cost, output, error: set in o, or with
 * miss only where o lacks them. */
static void
task_fill(struct run *r, size_t i, json_t *o, int miss)
{
	struct trun *t = &r->t[i];
	double tc = 0, busy = 0;
	uint64_t ti = 0, to = 0, cr = 0, cw = 0;
	int attempts = 0;
	const char *be = NULL, *from = NULL;

	for (size_t k = 0; k < t->njobs; k++) {
		const struct call *c = &t->jobs[k].c;

		busy += c->busy_s;
		ti += c->usage.tokens_in;
		to += c->usage.tokens_out;
		/* the most-tried replica's, as runstats.c says it */
		if (c->attempts > attempts)
			attempts = c->attempts;
		cr += c->usage.cache_read;
		cw += c->usage.cache_write;
		if (c->be) {
			tc += c->cost;
			if (be == NULL && c->be != c->be0)
				from = c->be0->name;
			be = be ? be : c->be->name;
		}
	}
	/* what the merge's own calls (a judge, a summary) took */
	busy += t->mbusy_s;
	ti += t->musage.tokens_in;
	to += t->musage.tokens_out;
	cr += t->musage.cache_read;
	cw += t->musage.cache_write;
	tc += t->mcost;
	put(o, miss, "status",
	    json_string(run_state_name(t->st)));
	put(o, miss, "backend", be ? json_string(be) :
	    json_null());
	/* the backend answered for the task's own, its fallback chain's
	 * first */
	if (from != NULL)
		put(o, miss, "fallback_from", json_string(from));
	put(o, miss, "attempts", json_integer(attempts));
	put(o, miss, "start_s", json_real(t->start_s));
	put(o, miss, "end_s", json_real(t->end_s));
	put(o, miss, "busy_s", json_real(busy));
	put(o, miss, "tokens_in", json_integer((json_int_t)ti));
	put(o, miss, "tokens_out",
	    json_integer((json_int_t)to));
	put(o, miss, "cost_usd", json_real(tc));
	put(o, miss, "cache_read",
	    json_integer((json_int_t)cr));
	put(o, miss, "cache_write",
	    json_integer((json_int_t)cw));
	put(o, miss, "output", t->st == TS_OK ?
	    json_texts(t->out_path) : json_null());
	put(o, miss, "error", t->error ?
	    json_texts(t->error) : json_null());
	put(o, miss, "wave",
	    json_integer(r->g->tasks[i].wave));
	put(o, miss, "replicas",
	    json_integer(r->g->tasks[i].replicas));
	if (t->resumed)
		put(o, miss, "resumed", json_true());
	if (t->notes)
		json_object_update_missing(o, t->notes);
}

json_t *
rundir_task_json(struct run *r, size_t i)
{
	json_t *o = json_object();

	task_fill(r, i, o, 0);
	return o;
}

void
rundir_task_fill(struct run *r, size_t i, json_t *o)
{
	task_fill(r, i, o, 1);
}

json_t *
rundir_summary(struct run *r, double wall)
{
	const struct graph *g = r->g;
	json_t *s = json_object(), *tasks = json_object(), *cp;
	double *dur = xcalloc(g->n + 1, sizeof(*dur));
	size_t *path = xcalloc(g->n + 1, sizeof(*path));
	double sum = 0, cost = 0, cplen = 0;
	uint64_t tin = 0, tout = 0, tcr = 0, tcw = 0;
	size_t np;
	const char *status;

	for (size_t i = 0; i < g->n; i++) {
		struct trun *t = &r->t[i];
		json_t *o = rundir_task_json(r, i);

		dur[i] = t->started ? t->end_s - t->start_s : 0;
		sum += json_real_value(json_object_get(o, "busy_s"));
		tin += (uint64_t)json_integer_value(json_object_get(o,
		    "tokens_in"));
		tout += (uint64_t)json_integer_value(json_object_get(o,
		    "tokens_out"));
		tcr += (uint64_t)json_integer_value(json_object_get(o,
		    "cache_read"));
		tcw += (uint64_t)json_integer_value(json_object_get(o,
		    "cache_write"));
		cost += json_real_value(json_object_get(o, "cost_usd"));
		json_object_set_new(tasks, g->tasks[i].name, o);
	}
	np = graph_critical_path(g, dur, path, g->n, &cplen);
	cp = json_array();
	for (size_t k = 0; k < np; k++)
		json_array_append_new(cp, json_string(g->tasks[path[k]].name));
	status = r->interrupted ? "interrupted" : r->failed ? "failed" : "ok";
	for (size_t i = 0; i < g->n && !r->interrupted && !r->failed; i++)
		if (r->t[i].st != TS_OK)
			status = "failed";
	json_object_set_new(s, "run", json_string(r->id));
	json_object_set_new(s, "status", json_string(status));
	json_object_set_new(s, "task_file", json_texts(r->o->task_file));
	json_object_set_new(s, "started_at", json_real(r->t0_wall));
	json_object_set_new(s, "wall_s", json_real(wall));
	json_object_set_new(s, "sum_s", json_real(sum));
	json_object_set_new(s, "speedup", json_real(wall > 0 ? sum / wall :
	    0));
	json_object_set_new(s, "critical_path_s", json_real(cplen));
	json_object_set_new(s, "critical_path", cp);
	json_object_set_new(s, "efficiency", json_real(wall > 0 ?
	    cplen / wall : 0));
	json_object_set_new(s, "jobs", json_integer(r->jobs_cap));
	json_object_set_new(s, "tokens_in", json_integer((json_int_t)tin));
	json_object_set_new(s, "tokens_out", json_integer((json_int_t)tout));
	json_object_set_new(s, "cache_read", json_integer((json_int_t)tcr));
	json_object_set_new(s, "cache_write", json_integer((json_int_t)tcw));
	json_object_set_new(s, "cost_usd", json_real(cost));
	json_object_set_new(s, "run_dir", json_texts(r->dir));
	summary_limits(r, s);
	json_object_set_new(s, "tasks", tasks);
	runstats_add(r, s, wall);
	free(dur);
	free(path);
	return s;
}

void
rundir_print_sinks(struct run *r)
{
	size_t nsinks = 0;

	for (size_t i = 0; i < r->g->n; i++)
		nsinks += r->g->tasks[i].nrdeps == 0 && r->t[i].st == TS_OK;
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];

		if (r->g->tasks[i].nrdeps || t->st != TS_OK)
			continue;
		if (t->len == 0)
			continue;
		if (nsinks > 1)
			printf("==> %s <==\n", run_task_name(r, i));
		fwrite(t->text, 1, t->len, stdout);
		if (t->len && t->text[t->len - 1] != '\n')
			putchar('\n');
	}
	fflush(stdout);
}

