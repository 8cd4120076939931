/*
 * A run from start to exit status: the loop, the backends, the run
 * directory, signals, and after the tasks (tasks.c) the worktree merge
 * phase, the summary and the results on stdout.
 */
#include "sched.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "backend.h"
#include "events.h"
#include "host.h"
#include "http.h"
#include "journal.h"
#include "jsondump.h"
#include "loop.h"
#include "notify.h"
#include "report.h"
#include "run.h"
#include "spawn.h"
#include "taskcopy.h"
#include "util.h"
#include "worktree.h"

int
sched_check_backends(const struct conf *c, const struct registry *reg,
    char *err, size_t errlen)
{
	return backend_check_all(c, reg, err, errlen);
}

static void
on_signal(struct loop *l, struct loop_signal *s, int signo)
{
	struct run *r = s->data;

	(void)l;
	if (++r->nsignals > 1) {
		/* second signal: out now, taking the children along */
		spawn_kill_all(SIGKILL);
		log_warnx("interrupted again: exiting now");
		json_t *ev = json_object();

		json_object_set_new(ev, "ev", json_string("end"));
		json_object_set_new(ev, "event", json_string("run_done"));
		json_object_set_new(ev, "status", json_string("interrupted"));
		run_jlog(r, ev, 1);
		_exit(r->interrupted == SIGHUP ? EXIT_HANGUP :
		    EXIT_INTERRUPTED);
	}
	log_warnx("%s: stopping (in-flight tasks are cancelled; again to "
	    "exit at once)", signo == SIGINT ? "interrupt" : signo == SIGHUP ?
	    "hangup" : "terminated");
	r->interrupted = signo;
	r->stopping = 1;
	tasks_cancel(r);
}

static void
turn_over(struct loop *l, struct loop_timer *t)
{
	(void)t;
	loop_stop(l);
}

/* One turn of the loop that only takes the signals that came during the
 * setup (they waited, blocked): a run interrupted then starts nothing. */
static void
signals_so_far(struct run *r)
{
	struct loop_timer t;

	memset(&t, 0, sizeof(t));
	loop_timer_start(r->loop, &t, 0, turn_over, r);
	(void)loop_run(r->loop);
	loop_timer_stop(r->loop, &t);
}

/* How many tasks ended ok, failed, cancelled or skipped. */
static json_t *
run_counts(struct run *r)
{
	size_t n[TS_CANCELLED + 1] = { 0 };
	json_t *c = json_object();

	for (size_t i = 0; i < r->g->n; i++)
		n[r->t[i].st]++;
	json_object_set_new(c, "ok", json_integer((json_int_t)n[TS_OK]));
	json_object_set_new(c, "failed",
	    json_integer((json_int_t)n[TS_FAILED]));
	json_object_set_new(c, "cancelled",
	    json_integer((json_int_t)n[TS_CANCELLED]));
	json_object_set_new(c, "skipped",
	    json_integer((json_int_t)(r->g->n - n[TS_OK] - n[TS_FAILED] -
	    n[TS_CANCELLED])));
	return c;
}

/* --- entry -------------------------------------------------------------- */

static void
run_release(struct run *r)
{
	tasks_release(r);
	claim_release(r);
	free(r->id);
	free(r->dir);
	free(r->root);
	json_decref(r->summary);
	wt_free(r->wt);
	notify_free(r->notify);
}

/*
 * The run's network in summary.json ("net") and, with -v, on stderr: TCP
 * connections, full and resumed TLS handshakes, getaddrinfo lookups; so a
 * lost session cache or a lookup per request shows.
 */
static void
net_summary(struct run *r)
{
	struct http_stats st;
	json_t *o = json_object();

	memset(&st, 0, sizeof(st));
	if (r->host.http != NULL)
		http_client_stats(r->host.http, &st);
	json_object_set_new(o, "connections", json_integer((json_int_t)
	    st.connects));
	json_object_set_new(o, "tls_full_handshakes", json_integer(
	    (json_int_t)st.full_handshakes));
	json_object_set_new(o, "tls_resumed_handshakes", json_integer(
	    (json_int_t)st.resumed));
	json_object_set_new(o, "dns_lookups", json_integer((json_int_t)
	    st.dns_lookups));
	json_object_set_new(r->summary, "net", o);
	if (log_verbosity >= 2 && !r->o->quiet && r->host.http != NULL)
		log_debug("net: %lu connection%s, TLS handshakes %lu full "
		    "and %lu resumed, %lu DNS lookup%s", st.connects,
		    st.connects == 1 ? "" : "s", st.full_handshakes,
		    st.resumed, st.dns_lookups, st.dns_lookups == 1 ? "" :
		    "s");
}

int
sched_run(const struct conf *c, const struct graph *g,
    const struct registry *reg, const struct run_opts *o)
{
	const struct conf_section *d = conf_find(c, "drove", "");
	struct run run, *r = &run;
	char err[1024];
	int rc, code;
	double wall;

	memset(r, 0, sizeof(*r));
	r->conf = c;
	r->g = g;
	r->reg = reg;
	r->o = o;
	r->j.fd = -1;
	r->jobs_cap = o->jobs;
	if (r->jobs_cap < 0) {
		rc = conf_get_long(d, "jobs", 8, 0, 100000, &r->jobs_cap, err,
		    sizeof(err));
		if (rc < 0) {
			log_warnx("%s", err);
			return EXIT_USAGE;
		}
	}
	if (r->jobs_cap == 0) {
		/* no limit: every replica of every task may be in flight */
		for (size_t i = 0; i < g->n; i++)
			r->jobs_cap += g->tasks[i].replicas;
		if (r->jobs_cap < 1)
			r->jobs_cap = 1;
	}
	r->t = xcalloc(g->n + 1, sizeof(*r->t));
	tasks_init(r);
	/* the loop first: everything after may run on it */
	r->loop = loop_new();
	if (r->loop == NULL) {
		log_warn("cannot create the event loop");
		run_release(r);
		return EXIT_USAGE;
	}
	r->host.loop = r->loop;
	/* from here on SIGINT, SIGTERM and SIGHUP are blocked and wait for
	 * the loop: one that comes during the setup below (worktrees, the
	 * wait for a killed drove's agents) is taken before any task
	 * starts, never by its default action */
	loop_signal_start(r->loop, &r->sigint, SIGINT, on_signal, r);
	loop_signal_start(r->loop, &r->sigterm, SIGTERM, on_signal, r);
	/* a detached run ignores SIGHUP (runctl.c): nothing to watch */
	if (!o->detached)
		loop_signal_start(r->loop, &r->sighup, SIGHUP, on_signal, r);
	rc = quota_budget_init(&r->budget, d, err, sizeof(err));
	if (rc == 0)
		rc = wt_open(&r->wt, g, d, err, sizeof(err));
	if (rc == 0)
		rc = notify_open(&r->notify, d, o->notify, r->loop, err,
		    sizeof(err));
	if (rc == 0)
		rc = backend_open_all(c, g, reg, r->jobs_cap, &r->be,
		    &r->nbe, err, sizeof(err));
	if (rc == 0)
		rc = claim_declared(r, err, sizeof(err));
	if (rc < 0) {
		log_warnx("%s", err);
		backend_close_all(r->be, r->nbe);
		loop_free(r->loop);
		run_release(r);
		return EXIT_USAGE;
	}
	host_bind_legacy(&r->host);
	rc = rundir_setup(r, err, sizeof(err));
	for (size_t i = 0; rc == 0 && i < g->n; i++)
		r->t[i].out_path = xasprintf("%s/tasks/%s.out", r->dir,
		    g->tasks[i].name);
	if (rc == 0 && o->resume)
		rc = rundir_replay(r, err, sizeof(err));
	if (rc == 0)
		rc = wt_start(r->wt, r->loop, r->id, r->dir, &r->j,
		    o->resume != NULL, err, sizeof(err));
	if (rc < 0) {
		log_warnx("%s", err);
		code = EXIT_USAGE;
		goto out;
	}
	notify_bind(r->notify, r->id, r->dir, &r->j);
	/* results go to disk off the loop; without the writer thread, on
	 * it as before */
	if ((rc = commit_start(&r->commit, r->loop, &r->j)) < 0)
		log_warnx("writing results on the loop thread: %s",
		    strerror(-rc));
	if (r->save_tasks)
		taskcopy_save(&r->commit, r->dir, g);
	r->t0 = now_mono();
	r->t0_wall = now_wall();
	call_env_init(&r->jenv, r->loop, &r->budget, &r->j, r->t0, o->quiet);
	call_env_init(&r->menv, r->loop, &r->budget, &r->j, r->t0, o->quiet);
	r->jenv.run_id = r->menv.run_id = r->id;
	r->jenv.host = r->menv.host = &r->host;
	events_open(r);
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("run"));
	json_object_set_new(ev, "event", json_string("run_start"));
	json_object_set_new(ev, "run", json_string(r->id));
	json_object_set_new(ev, "tasks", json_integer((json_int_t)g->n));
	json_object_set_new(ev, "jobs", json_integer(r->jobs_cap));
	json_object_set_new(ev, "task_file", json_texts(o->task_file));
	json_object_set_new(ev, "time", json_real(r->t0_wall));
	json_object_set_new(ev, "resume", json_boolean(o->resume != NULL));
	run_jlog(r, ev, 1);
	if (o->started != NULL)
		o->started(o->started_arg, r->id, r->dir);
	if (!o->quiet)
		log_info("run %s: %zu task%s, %d wave%s, jobs %ld -> %s",
		    r->id, g->n, g->n == 1 ? "" : "s", g->nwaves,
		    g->nwaves == 1 ? "" : "s", r->jobs_cap, r->dir);
	signals_so_far(r);
	if (!r->stopping)
		tasks_begin(r);
	if (!r->finished && !r->stopping)
		loop_run(r->loop);
	commit_stop(&r->commit);
	wall = run_rel(r);
	tasks_settle(r);
	if (r->wt != NULL && !r->interrupted) {
		unsigned char *ok = xcalloc(g->n + 1, 1);

		for (size_t i = 0; i < g->n; i++)
			ok[i] = r->t[i].st == TS_OK;
		/* on the loop, where a signal still cancels it */
		if (wt_merge_phase(r->wt, ok, o->quiet) > 0)
			r->failed = 1;
		free(ok);
	}
	loop_signal_stop(r->loop, &r->sigint);
	loop_signal_stop(r->loop, &r->sigterm);
	loop_signal_stop(r->loop, &r->sighup);
	r->summary = rundir_summary(r, wall);
	wt_summary(r->wt, r->summary);
	net_summary(r);
	ev = json_object();
	json_object_set_new(ev, "ev", json_string("end"));
	json_object_set_new(ev, "event", json_string("run_done"));
	json_object_set_new(ev, "status",
	    json_incref(json_object_get(r->summary, "status")));
	json_object_set_new(ev, "wall_s", json_real(wall));
	json_object_set_new(ev, "counts", run_counts(r));
	run_jlog(r, ev, 1);
	events_close(r);
	{
		char *sp = xasprintf("%s/summary.json", r->dir);
		size_t tl;
		char *txt = jsondump_line(r->summary, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER, &tl);

		if (txt == NULL)
			log_warnx("cannot write '%s': %s", sp,
			    strerror(ENOMEM));
		else if ((rc = write_file_atomic(sp, txt, tl)) < 0)
			log_warnx("cannot write '%s': %s", sp, strerror(-rc));
		free(txt);
		free(sp);
	}
	/* with --json, run_done carried the summary */
	if (!o->json)
		rundir_print_sinks(r);
	if (!o->quiet)
		report_print_summary(stderr, r->summary);
	code = r->interrupted == SIGHUP ? EXIT_HANGUP :
	    r->interrupted ? EXIT_INTERRUPTED : r->failed ||
	    strcmp(json_string_value(json_object_get(r->summary, "status")),
	    "ok") != 0 ? EXIT_TASK_FAILED : EXIT_OK;
	notify_run(r->notify, json_string_value(json_object_get(r->summary,
	    "status")), wall, json_real_value(json_object_get(r->summary,
	    "cost_usd")), code);
out:
	commit_stop(&r->commit);
	events_close(r);
	rundir_close(r);
	backend_close_all(r->be, r->nbe);
	host_env_release(&r->host);
	loop_free(r->loop);
	run_release(r);
	return code;
}
