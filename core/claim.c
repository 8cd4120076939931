/*
 * Output claims: each path a task writes belongs to that task.  Declared
 * outputs are claimed before anything runs; a merge's write_output claims
 * its path before it writes.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "run.h"

int
claim_add(struct run *r, const char *path, size_t task, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < r->nclaims; i++) {
		if (strcmp(r->claims[i].path, path) != 0)
			continue;
		if (r->claims[i].task == task)
			return 0;
		errf(err, errlen, "'%s' belongs to task '%s'", path,
		    run_task_name(r, r->claims[i].task));
		return DROVE_ECONFLICT;
	}
	r->claims = xrealloc(r->claims, (r->nclaims + 1) *
	    sizeof(*r->claims));
	r->claims[r->nclaims].path = xstrdup(path);
	r->claims[r->nclaims].task = task;
	r->nclaims++;
	return 0;
}

/*
 * Declared outputs are claimed before anything runs, so two sources that
 * name the same file are a load error, not a race.  With the additive
 * merge every replica (or every input of a merge node) writes its own
 * file, so each of those paths is claimed; otherwise the task writes one.
 */
int
claim_declared(struct run *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->g->n; i++) {
		const struct task *t = &r->g->tasks[i];
		int additive, rc = 0;
		size_t n = 1;
		char **p;
		char msg[512], where[256];

		if (t->output == NULL)
			continue;
		additive = strcmp(t->merge, "additive") == 0;
		if (additive)
			n = t->ninputs ? t->ninputs : (size_t)t->replicas;
		p = xcalloc(n + 1, sizeof(*p));
		for (size_t k = 0; k < n && rc == 0; k++) {
			p[k] = host_expand_output(t->output, additive &&
			    t->ninputs ? t->inputs[k] : t->name, additive &&
			    !t->ninputs ? (int)k : 0);
			for (size_t j = 0; j < k && rc == 0; j++) {
				if (strcmp(p[j], p[k]) != 0)
					continue;
				if (t->ninputs)
					errf(msg, sizeof(msg), "'%s' would be "
					    "written for inputs '%s' and '%s' "
					    "(put {{name}} in output)", p[k],
					    t->inputs[j], t->inputs[k]);
				else
					errf(msg, sizeof(msg), "'%s' would be "
					    "written by replicas %zu and %zu "
					    "(put {{replica}} in output)", p[k],
					    j, k);
				rc = DROVE_EINVAL;
			}
			if (rc == 0)
				rc = claim_add(r, p[k], i, msg, sizeof(msg));
		}
		strv_free(p);
		if (rc < 0) {
			conf_where(t->sec, "output", where, sizeof(where));
			errf(err, errlen, "%s: task '%s': output %s", where,
			    t->name, msg);
			return DROVE_EINVAL;
		}
	}
	return 0;
}

void
claim_release(struct run *r)
{
	for (size_t i = 0; i < r->nclaims; i++)
		free(r->claims[i].path);
	free(r->claims);
	r->claims = NULL;
	r->nclaims = 0;
}
