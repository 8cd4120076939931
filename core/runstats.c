/* What summary.json adds to the per-task sums (see runstats.h). */
#include "runstats.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "run.h"

/* --- attempts ----------------------------------------------------------- */

/* "attempts" is how often the most-tried replica was tried (a 429 does not
 * use up an attempt); "calls" counts every request, 429s included. */
static void
attempts(struct run *r, json_t *tasks)
{
	for (size_t i = 0; i < r->g->n; i++) {
		struct trun *t = &r->t[i];
		json_t *o = json_object_get(tasks, run_task_name(r, i));
		long most = 0, calls = 0, limited = 0;
		const char *job = NULL;

		if (o == NULL || t->resumed)
			continue;
		for (size_t k = 0; k < t->njobs; k++) {
			const struct call *c = &t->jobs[k].c;

			/* a launcher's job (launch.c): the first replica's
			 * last attempt's, as "backend" is the first's */
			if (job == NULL)
				job = c->job;
			if (c->attempts > most)
				most = c->attempts;
			calls += c->attempts + c->rate_limits;
			limited += c->rate_limits;
		}
		json_object_set_new(o, "attempts", json_integer(most));
		json_object_set_new(o, "calls", json_integer(calls));
		json_object_set_new(o, "rate_limits", json_integer(limited));
		if (job != NULL)
			json_object_set_new(o, "job", json_string(job));
	}
}

/* --- resumed tasks ------------------------------------------------------ */

struct earlier {
	double seg;		/* wall time the run part started */
	double start, end;	/* wall times; end 0: not ended */
	long attempts;
	char backend[64];
	char from[64];		/* fallback_from, or "" */
	int seen;
};

struct replay {
	struct run *r;
	struct earlier *e;
	double seg;
};

static void
earlier_event(json_t *ev, void *arg)
{
	struct replay *p = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	double t = json_number_value(json_object_get(ev, "t"));
	struct earlier *e;
	long i;

	if (type == NULL)
		return;
	if (strcmp(type, "run") == 0) {
		p->seg = json_number_value(json_object_get(ev, "time"));
		return;
	}
	if (task == NULL || (i = graph_find(p->r->g, task)) < 0 ||
	    !p->r->t[i].resumed)
		return;
	e = &p->e[i];
	if (strcmp(type, "start") == 0) {
		long a = (long)json_integer_value(json_object_get(ev,
		    "attempt"));
		const char *be = json_string_value(json_object_get(ev,
		    "backend"));

		/* a new part of the run, or a task run again after it
		 * ended: its times start over */
		if (!e->seen || e->seg != p->seg || e->end > 0) {
			memset(e, 0, sizeof(*e));
			e->seen = 1;
			e->seg = p->seg;
			e->start = p->seg + t;
		}
		if (a > e->attempts)
			e->attempts = a;
		if (be != NULL && e->backend[0] == '\0')
			snprintf(e->backend, sizeof(e->backend), "%s", be);
	} else if (strcmp(type, "task") == 0 && e->seen &&
	    e->seg == p->seg) {
		const char *be = json_string_value(json_object_get(ev,
		    "backend"));
		const char *from = json_string_value(json_object_get(ev,
		    "fallback_from"));

		e->end = p->seg + t;
		/* the task's record says who answered: after a fallback,
		 * not the backend of its first start */
		if (be != NULL)
			snprintf(e->backend, sizeof(e->backend), "%s", be);
		snprintf(e->from, sizeof(e->from), "%s", from ? from : "");
	}
}

/* Tasks done before the resume keep the times (from this run's start:
 * negative), backend and fallback_from the journal gives them. */
static void
resumed(struct run *r, json_t *tasks)
{
	struct replay p = { r, NULL, 0 };
	char *jp;
	size_t i, n = 0;

	for (i = 0; i < r->g->n; i++)
		n += r->t[i].resumed != 0;
	if (n == 0)
		return;
	p.e = xcalloc(r->g->n, sizeof(*p.e));
	jp = xasprintf("%s/journal.jsonl", r->dir);
	(void)journal_replay(jp, earlier_event, &p, NULL);
	free(jp);
	for (i = 0; i < r->g->n; i++) {
		struct earlier *e = &p.e[i];
		json_t *o = json_object_get(tasks, run_task_name(r, i));

		if (!r->t[i].resumed || o == NULL || !e->seen || e->end <= 0)
			continue;
		json_object_set_new(o, "start_s",
		    json_real(e->start - r->t0_wall));
		json_object_set_new(o, "end_s", json_real(e->end - r->t0_wall));
		json_object_set_new(o, "attempts", json_integer(e->attempts));
		if (e->backend[0])
			json_object_set_new(o, "backend",
			    json_string(e->backend));
		if (e->from[0])
			json_object_set_new(o, "fallback_from",
			    json_string(e->from));
	}
	free(p.e);
}

/* --- CPU time ----------------------------------------------------------- */

static long
cpus(void)
{
#ifdef CPU_COUNT
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
#endif
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

struct tick {
	double t;
	int d;
};

static int
tick_cmp(const void *a, const void *b)
{
	const struct tick *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->d - y->d;	/* an end before a start at the same time */
}

/* Most tasks running at once in this part of the run, and for how long
 * two or more ran. */
static void
overlap(json_t *tasks, long *peak, double *over)
{
	struct tick *ev = xcalloc(2 * json_object_size(tasks) + 1,
	    sizeof(*ev));
	const char *name;
	json_t *o;
	size_t n = 0;
	long cur = 0;

	json_object_foreach(tasks, name, o) {
		double a = json_number_value(json_object_get(o, "start_s"));
		double b = json_number_value(json_object_get(o, "end_s"));

		if (json_is_true(json_object_get(o, "resumed")) || b <= a)
			continue;
		ev[n++] = (struct tick){ a, 1 };
		ev[n++] = (struct tick){ b, -1 };
	}
	qsort(ev, n, sizeof(*ev), tick_cmp);
	*peak = 0;
	*over = 0;
	for (size_t k = 0; k < n; k++) {
		if (k > 0 && cur >= 2)
			*over += ev[k].t - ev[k - 1].t;
		cur += ev[k].d;
		if (cur > *peak)
			*peak = cur;
	}
	free(ev);
}

int
runstats_cpu_bound(double cpu_s, long ncpu, long peak, double overlap_s,
    double busy, double machine_cpu_s)
{
	long use = peak < ncpu ? peak : ncpu;

	if (peak < 2 || overlap_s <= 0)
		return 0;
	return cpu_s >= 0.5 * (double)use * overlap_s ||
	    (busy >= 0.8 && cpu_s >= 0.2 * machine_cpu_s);
}

/* CPU time of the children drove waited for, in seconds. */
static double
children_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The machine's busy and total CPU time in clock ticks, from /proc/stat;
 * -1 without it. */
static int
machine_cpu(double *busy, double *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int n;

	*busy = *total = -1;
	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	*total = 0;
	for (int k = 0; k < 8; k++)
		*total += (double)v[k];
	/* idle and iowait are not busy */
	*busy = *total - (double)v[3] - (double)v[4];
	return 0;
}

void
runstats_begin(struct run *r)
{
	r->cpu0[0] = children_cpu();
	(void)machine_cpu(&r->cpu0[1], &r->cpu0[2]);
}

void
runstats_add(struct run *r, json_t *s, double wall)
{
	json_t *tasks = json_object_get(s, "tasks");
	double cpu, over, busy = -1, mcpu = 0, b, tot;
	long ncpu = cpus(), peak, hz = sysconf(_SC_CLK_TCK);

	attempts(r, tasks);
	resumed(r, tasks);
	/* every child drove waited for: the agents, and git for worktrees */
	cpu = children_cpu() - r->cpu0[0];
	if (r->cpu0[2] >= 0 && machine_cpu(&b, &tot) == 0 &&
	    tot > r->cpu0[2] && hz > 0) {
		busy = (b - r->cpu0[1]) / (tot - r->cpu0[2]);
		mcpu = (b - r->cpu0[1]) / (double)hz;
	}
	overlap(tasks, &peak, &over);
	json_object_set_new(s, "agents_cpu_s", json_real(cpu));
	json_object_set_new(s, "cpus", json_integer(ncpu));
	json_object_set_new(s, "peak_running", json_integer(peak));
	json_object_set_new(s, "overlap_s", json_real(over));
	json_object_set_new(s, "speedup_cpu", json_real(wall > 0 ? cpu / wall :
	    0));
	if (busy >= 0)
		json_object_set_new(s, "machine_busy", json_real(busy));
	json_object_set_new(s, "cpu_bound", json_boolean(
	    runstats_cpu_bound(cpu, ncpu, peak, over, busy, mcpu)));
}
