/*
 * The run's copy of its tasks (taskcopy.h).  The copy is taken from the
 * loaded graph, not the file's bytes: a task file may be a pipe, and two
 * files that say the same thing in other words (comments, order, a <<END
 * block) hold the same tasks.
 *
 * tasks.json: {"tasks": {NAME: {"keys": {KEY: VALUE}, "prompt_file_text":
 * TEXT}}}, the last only for a task with a prompt_file.
 */
#include "taskcopy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commit.h"
#include "drove/plugin.h"
#include "jsondump.h"
#include "util.h"

/* Lines of changes printed at most; the rest are counted. */
#define TASKCOPY_SHOW 20

static json_t *
task_json(const struct task *t)
{
	json_t *o = json_object(), *keys = json_object();

	for (size_t k = 0; k < t->sec->nkv; k++)
		json_object_set_new(keys, t->sec->kv[k].key,
		    json_texts(t->sec->kv[k].value));
	json_object_set_new(o, "keys", keys);
	if (conf_get(t->sec, "prompt_file") != NULL && t->prompt != NULL)
		json_object_set_new(o, "prompt_file_text",
		    json_texts(t->prompt));
	return o;
}

static json_t *
copy_of(const struct graph *g)
{
	json_t *o = json_object(), *tasks = json_object();

	for (size_t i = 0; i < g->n; i++)
		json_object_set_new(tasks, g->tasks[i].name,
		    task_json(&g->tasks[i]));
	json_object_set_new(o, "tasks", tasks);
	return o;
}

struct saved {
	char *path;
	char *txt;
};

static void
saved(void *arg, int rc)
{
	struct saved *sv = arg;

	if (rc < 0)
		log_warnx("cannot write '%s': %s; a resume will not compare "
		    "its tasks", sv->path, strerror(-rc));
	free(sv->txt);
	free(sv->path);
	free(sv);
}

void
taskcopy_save(struct commit *cm, const char *dir, const struct graph *g)
{
	json_t *o = copy_of(g);
	struct saved *sv = xcalloc(1, sizeof(*sv));

	sv->txt = jsondump(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	sv->path = xasprintf("%s/tasks.json", dir);
	json_decref(o);
	if (sv->txt == NULL) {
		saved(sv, -ENOMEM);
		return;
	}
	commit_output(cm, sv->path, sv->txt, strlen(sv->txt), NULL, NULL,
	    saved, sv);
}

/* Appends to b the names of the keys whose values differ between the
 * objects a (saved) and b (now), and whether the prompt file's text does. */
static void
changed_keys(json_t *was, json_t *now, struct buf *b)
{
	json_t *ka = json_object_get(was, "keys");
	json_t *kb = json_object_get(now, "keys");
	const char *k, *sep = "";
	json_t *v;

	json_object_foreach(ka, k, v) {
		json_t *w = json_object_get(kb, k);

		if (w == NULL) {
			buf_printf(b, "%s%s removed", sep, k);
			sep = ", ";
		} else if (!json_equal(v, w)) {
			buf_printf(b, "%s%s", sep, k);
			sep = ", ";
		}
	}
	json_object_foreach(kb, k, v)
		if (json_object_get(ka, k) == NULL) {
			buf_printf(b, "%s%s added", sep, k);
			sep = ", ";
		}
	if (!json_equal(json_object_get(was, "prompt_file_text"),
	    json_object_get(now, "prompt_file_text")) &&
	    json_object_get(now, "prompt_file_text") != NULL &&
	    json_object_get(was, "prompt_file_text") != NULL)
		buf_printf(b, "%sthe text of its prompt_file", sep);
}

/* One line of the list, or a count past TASKCOPY_SHOW. */
static void
tell(size_t *n, struct buf *names, const char *name, const char *fmt,
    const char *what)
{
	if (*n < TASKCOPY_SHOW)
		log_warnx(fmt, name, what);
	if (*n < 3)
		buf_printf(names, "%s'%s'", *n ? ", " : "", name);
	else if (*n == 3)
		buf_adds(names, ", ...");
	(*n)++;
}

int
taskcopy_check(const char *dir, const struct graph *g,
    const char *task_file, int force, char *err, size_t errlen)
{
	char *path = xasprintf("%s/tasks.json", dir);
	json_t *saved, *was, *now = copy_of(g), *v;
	json_t *nt = json_object_get(now, "tasks");
	struct buf names = BUF_INIT, keys = BUF_INIT;
	json_error_t je;
	const char *k;
	size_t n = 0;
	int rc = 0;

	saved = json_load_file(path, 0, &je);
	if (saved == NULL && access(path, F_OK) < 0 && errno == ENOENT) {
		json_decref(now);
		free(path);
		return 2;
	}
	was = json_object_get(saved, "tasks");
	if (!json_is_object(was)) {
		errf(err, errlen, "resume: cannot read '%s' (%s), the tasks "
		    "the run started with; --force resumes without comparing",
		    path, saved ? "no \"tasks\"" : je.text);
		rc = force ? 1 : DROVE_EINVAL;
		if (force)
			log_warnx("%s", err);
		goto out;
	}
	json_object_foreach(was, k, v) {
		json_t *w = json_object_get(nt, k);

		if (w == NULL) {
			tell(&n, &names, k, "resume: task '%s' %s", "removed");
			continue;
		}
		buf_reset(&keys);
		changed_keys(v, w, &keys);
		if (keys.len)
			tell(&n, &names, k, "resume: task '%s' changed: %s",
			    buf_str(&keys));
	}
	json_object_foreach(nt, k, v)
		if (json_object_get(was, k) == NULL)
			tell(&n, &names, k, "resume: task '%s' %s", "added");
	if (n > TASKCOPY_SHOW)
		log_warnx("resume: and %zu more", n - TASKCOPY_SHOW);
	if (n == 0)
		goto out;
	if (force) {
		log_warnx("resume: --force: running the tasks of '%s' as they "
		    "are now", task_file);
		rc = 1;
		goto out;
	}
	errf(err, errlen, "resume: the tasks of '%s' differ from those run "
	    "'%s' started with (%zu task%s: %s); resume with --force to run "
	    "them as they are now, or start a new run", task_file, dir, n,
	    n == 1 ? "" : "s", buf_str(&names));
	rc = DROVE_EINVAL;
out:
	buf_release(&names);
	buf_release(&keys);
	json_decref(saved);
	json_decref(now);
	free(path);
	return rc;
}
