#include "launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "argv.h"
#include "conf.h"
#include "host.h"
#include "journal.h"
#include "quota.h"
#include "registry.h"
#include "util.h"

/* One backend section's launcher: its plugin (NULL: local) and what the
 * section asks of every launch. */
struct drove_launcher {
	const struct drove_plugin *p;
	void *state;
	char *backend;		/* the section's name */
	long cpus;		/* 0: the launcher's default */
	uint64_t mem_bytes;
	double time_limit_s;
	char *partition;
	char **args;		/* launcher_args, or NULL */
};

/* One launch in flight: the token a launcher reports its job with and
 * the wrapper of the backend's on_exit. */
struct launch {
	struct drove_launcher *l;
	struct host_call *hc;	/* the call's context, or NULL */
	void (*on_exit)(void *arg, int status, int err, const char *out,
	    size_t len);
	void *arg;
	void *handle;		/* the spawn's or the launcher's */
	char *job;		/* as the launcher reported it, or NULL */
	char *pending;		/* the reason last reported, or NULL */
};

/* Keys only a launcher that schedules uses; local refuses them. */
static const char *const sched_keys[] = {
	"cpus", "time_limit", "partition", "launcher_args", NULL
};

static const struct registry *launch_reg;

void
launch_use_registry(const struct registry *r)
{
	launch_reg = r;
}

static const char *
launcher_name(const struct drove_launcher *l)
{
	return l->p != NULL ? l->p->name : "local";
}

void
launch_close(struct drove_launcher *l)
{
	if (l == NULL)
		return;
	if (l->p != NULL && l->state != NULL && l->p->launcher->close != NULL)
		l->p->launcher->close(l->state);
	free(l->backend);
	free(l->partition);
	free(l->args);
	free(l);
}

/*
 * Reads section s's launcher keys into l: the launcher (NULL: local),
 * cpus, mem, time_limit, partition, launcher_args.  Returns 0, or
 * DROVE_EINVAL with "file:line: backend 'x': ..." in err.
 */
static int
launch_parse(const struct conf_section *s, struct drove_launcher *l,
    char *err, size_t errlen)
{
	const char *name = conf_get(s, "launcher"), *v;
	char where[256], label[160], msg[256] = "";
	int rc;

	conf_label(s, label, sizeof(label));
	if (name != NULL && *name != '\0' && strcmp(name, "local") != 0) {
		if (launch_reg != NULL)
			l->p = registry_find(launch_reg,
			    DROVE_PLUGIN_LAUNCHER, name);
		if (l->p == NULL || !DROVE_HAS(l->p, launcher) ||
		    l->p->launcher == NULL) {
			conf_where(s, "launcher", where, sizeof(where));
			errf(err, errlen, "%s: %s: unknown launcher '%s' "
			    "(local, slurm or a plugin's; see 'drove "
			    "plugins')", where, label, name);
			return DROVE_EINVAL;
		}
	}
	for (size_t i = 0; l->p == NULL && sched_keys[i] != NULL; i++)
		if (conf_get(s, sched_keys[i]) != NULL) {
			conf_where(s, sched_keys[i], where, sizeof(where));
			errf(err, errlen, "%s: %s: %s: only a launcher that "
			    "schedules agents uses it (launcher = slurm); this "
			    "backend runs them here", where, label,
			    sched_keys[i]);
			return DROVE_EINVAL;
		}
	/* mem is the core's key (quota.c): here for the scheduler */
	if ((rc = conf_get_long(s, "cpus", 0, 1, 1 << 20, &l->cpus, err,
	    errlen)) < 0 || (rc = quota_be_mem(s, &l->mem_bytes, err,
	    errlen)) < 0 || (rc = conf_get_duration(s, "time_limit", 0, 1,
	    1e9, &l->time_limit_s, err, errlen)) < 0)
		return rc;
	if ((v = conf_get(s, "partition")) != NULL && *v != '\0')
		l->partition = xstrdup(v);
	if ((v = conf_get(s, "launcher_args")) != NULL &&
	    (l->args = argv_split(v, msg, sizeof(msg))) == NULL) {
		conf_where(s, "launcher_args", where, sizeof(where));
		errf(err, errlen, "%s: %s: launcher_args: %s", where, label,
		    msg);
		return DROVE_EINVAL;
	}
	return 0;
}

int
launch_check_conf(const struct conf_section *s, char *err, size_t errlen)
{
	struct drove_launcher *l = xcalloc(1, sizeof(*l));
	int rc = launch_parse(s, l, err, errlen);

	launch_close(l);
	return rc;
}

int
launch_open(const struct drove_conf *c, struct drove_launcher **out,
    char *err, size_t errlen)
{
	const struct conf_section *s = (const struct conf_section *)c;
	struct drove_launcher *l = xcalloc(1, sizeof(*l));
	char msg[512] = "";
	int rc;

	*out = NULL;
	l->backend = xstrdup(s->name);
	if ((rc = launch_parse(s, l, err, errlen)) < 0)
		goto fail;
	if (l->p != NULL && (rc = l->p->launcher->open(host_get(), c,
	    &l->state, msg, sizeof(msg))) < 0) {
		errf(err, errlen, "launcher '%s': %s", l->p->name,
		    msg[0] ? msg : "cannot open");
		l->state = NULL;
		goto fail;
	}
	*out = l;
	return 0;

fail:
	launch_close(l);
	return rc;
}

static void
launch_free(struct launch *lc)
{
	free(lc->job);
	free(lc->pending);
	free(lc);
}

/* The launch ended: the call hears that its job is over, then the
 * backend gets its on_exit (which ends the call). */
static void
launch_exited(void *arg, int status, int err, const char *out, size_t len)
{
	struct launch *lc = arg;

	if (lc->job != NULL && lc->hc != NULL && lc->hc->job != NULL)
		lc->hc->job(lc->hc, launcher_name(lc->l), lc->job, NULL, 1);
	if (lc->hc != NULL && lc->hc->exited != NULL)
		lc->hc->exited(lc->hc, status, err);
	lc->on_exit(lc->arg, status, err, out, len);
	launch_free(lc);
}

int
launch_start(struct drove_launcher *l, const struct drove_spawn *req,
    void **handle)
{
	struct drove_launch_req lr;
	struct drove_spawn sp;
	struct launch *lc;
	char name[256] = "drove";
	int rc;

	if (l == NULL || req == NULL || req->on_exit == NULL ||
	    handle == NULL)
		return DROVE_EINVAL;
	memset(&sp, 0, sizeof(sp));
	memcpy(&sp, req, req->size < sizeof(sp) ? req->size : sizeof(sp));
	sp.size = sizeof(sp);
	lc = xcalloc(1, sizeof(*lc));
	lc->l = l;
	lc->hc = DROVE_HAS(req, core) ? req->core : NULL;
	lc->on_exit = req->on_exit;
	lc->arg = req->arg;
	sp.on_exit = launch_exited;
	sp.arg = lc;
	if (l->p == NULL) {
		rc = host_get()->spawn(&sp, &lc->handle);
	} else {
		if (lc->hc != NULL && lc->hc->job_name != NULL)
			lc->hc->job_name(lc->hc, name, sizeof(name));
		memset(&lr, 0, sizeof(lr));
		lr.size = sizeof(lr);
		lr.spawn = &sp;
		lr.job_name = name;
		lr.cpus = l->cpus;
		lr.mem_bytes = l->mem_bytes;
		lr.time_limit_s = l->time_limit_s;
		lr.partition = l->partition;
		lr.args = (const char *const *)l->args;
		lr.token = lc;
		rc = l->p->launcher->start(l->state, &lr, &lc->handle);
	}
	if (rc < 0) {
		launch_free(lc);
		return rc;
	}
	*handle = lc;
	return 0;
}

void
launch_cancel(void *handle)
{
	struct launch *lc = handle;

	if (lc == NULL)
		return;
	if (lc->l->p == NULL)
		host_get()->spawn_kill(lc->handle);
	else if (lc->l->p->launcher->cancel != NULL)
		lc->l->p->launcher->cancel(lc->l->state, lc->handle);
}

/* a == b for two strings either of which may be NULL */
static int
same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void
launch_state(void *token, const char *job, const char *pending)
{
	struct launch *lc = token;

	if (lc == NULL)
		return;
	if (job == NULL)
		job = lc->job;
	if (same(job, lc->job) && same(pending, lc->pending))
		return;
	if (!same(job, lc->job)) {
		free(lc->job);
		lc->job = job ? xstrdup(job) : NULL;
	}
	free(lc->pending);
	lc->pending = pending ? xstrdup(pending) : NULL;
	if (lc->job != NULL && lc->hc != NULL && lc->hc->job != NULL)
		lc->hc->job(lc->hc, launcher_name(lc->l), lc->job,
		    lc->pending, 0);
}

/* --- a resume: jobs a dead drove left ---------------------------------- */

/* One job the journal records as started, by backend. */
struct ojob {
	char *backend;
	char *job;
	int open;
};

struct ojobs {
	struct ojob *v;
	size_t n;
};

static void
collect(json_t *ev, void *arg)
{
	struct ojobs *o = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *be = json_string_value(json_object_get(ev, "backend"));
	const char *job = json_string_value(json_object_get(ev, "job"));
	size_t i;

	if (type == NULL || be == NULL || job == NULL ||
	    (strcmp(type, "job") != 0 && strcmp(type, "job_end") != 0))
		return;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].backend, be) == 0 &&
		    strcmp(o->v[i].job, job) == 0)
			break;
	if (strcmp(type, "job_end") == 0) {
		if (i < o->n)
			o->v[i].open = 0;
		return;
	}
	if (i == o->n) {
		o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
		o->v[i].backend = xstrdup(be);
		o->v[i].job = xstrdup(job);
		o->n++;
	}
	o->v[i].open = 1;
}

/* Ends the open jobs of backend be (o->v[from] is the first).  Returns
 * how many, or < 0 with err. */
static int
end_backend(struct ojobs *o, size_t from, const struct conf *c,
    struct journal *j, const char *whose, char *err, size_t errlen)
{
	const char *be = o->v[from].backend;
	const struct conf_section *s = conf_find(c, "backend", be);
	struct drove_launcher *l;
	const char **ids;
	char msg[512] = "";
	size_t n = 0;
	int rc;

	if (s == NULL) {
		errf(err, errlen, "the journal holds jobs of backend '%s', "
		    "which the task file no longer has; cancel them (job %s), "
		    "then resume", be, o->v[from].job);
		return DROVE_EINVAL;
	}
	if ((rc = launch_open((const struct drove_conf *)s, &l, err,
	    errlen)) < 0)
		return rc;
	ids = xcalloc(o->n + 1, sizeof(*ids));
	for (size_t i = from; i < o->n; i++)
		if (o->v[i].open && strcmp(o->v[i].backend, be) == 0)
			ids[n++] = o->v[i].job;
	rc = 0;
	if (l->p != NULL && l->p->launcher->end_jobs != NULL)
		rc = l->p->launcher->end_jobs(l->state, ids, n, msg,
		    sizeof(msg));
	if (rc < 0)
		errf(err, errlen, "backend '%s': cannot end the jobs a "
		    "previous drove left (%s); end them, then resume", be,
		    msg[0] ? msg : "no reason given");
	for (size_t i = from; rc >= 0 && i < o->n; i++) {
		json_t *ev;

		if (!o->v[i].open || strcmp(o->v[i].backend, be) != 0)
			continue;
		o->v[i].open = 0;
		ev = json_object();
		json_object_set_new(ev, "ev", json_string("job_end"));
		json_object_set_new(ev, "backend", json_string(be));
		json_object_set_new(ev, "job", json_string(o->v[i].job));
		json_object_set_new(ev, "orphan", json_true());
		(void)journal_append(j, ev, 0);
	}
	if (rc >= 0)
		log_warnx("resume: cancelled %zu %s job%s left by %s "
		    "(backend '%s')", n, launcher_name(l), n == 1 ? "" : "s",
		    whose, be);
	free(ids);
	launch_close(l);
	return rc < 0 ? rc : (int)n;
}

int
launch_end_orphans(struct journal *j, const struct conf *c, long owner,
    char *err, size_t errlen)
{
	struct ojobs o = { NULL, 0 };
	char whose[64] = "a previous drove";
	int rc = 0, total = 0;

	(void)journal_flush(j);
	if (journal_replay(j->path, collect, &o, NULL) < 0)
		return 0;
	if (owner > 0)
		snprintf(whose, sizeof(whose), "drove pid %ld", owner);
	for (size_t i = 0; i < o.n && rc >= 0; i++) {
		if (!o.v[i].open)
			continue;
		rc = end_backend(&o, i, c, j, whose, err, errlen);
		if (rc > 0)
			total += rc;
	}
	for (size_t i = 0; i < o.n; i++) {
		free(o.v[i].backend);
		free(o.v[i].job);
	}
	free(o.v);
	return rc < 0 ? rc : total;
}

/* --- drove doctor ------------------------------------------------------- */

int
launch_check(const struct drove_conf *c, const char *workdir, int *checked,
    char *msg, size_t msglen)
{
	struct drove_launcher *l;
	int rc;

	*checked = 0;
	if ((rc = launch_open(c, &l, msg, msglen)) < 0) {
		*checked = 1;
		return rc;
	}
	if (l->p != NULL && l->p->launcher->check != NULL) {
		*checked = 1;
		rc = l->p->launcher->check(l->state, workdir, msg, msglen);
	}
	launch_close(l);
	return rc;
}
