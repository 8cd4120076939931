/*
 * The task graph: [task NAME] sections become tasks, their dependencies
 * become edges, and the result is checked for unknown names and cycles
 * before anything runs.
 */
#include "graph.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"
#include "strmap.h"
#include "util.h"
#include "writes.h"

_Static_assert(GRAPH_NAME_MAX + 55 <= NAME_MAX, "task names must leave "
    "room for the suffixes drove adds");

static const char *const task_keys[] = {
	"backend", "prompt", "prompt_file", "system", "after", "replicas",
	"merge", "inputs", "timeout",
	"retries", "writes", "isolation", "worktree_copy", "output", "model",
	"max_tokens", "temperature", "check", "check_timeout", NULL
};

struct build {
	struct graph *g;
	const struct conf *c;
	const struct graph_opts *o;
	char *err;
	size_t errlen;
	/* the last [backend] section (the only one when nbackends is 1) */
	const struct conf_section *only_backend;
	size_t nbackends;
};

int
graph_is_task_key(const char *key)
{
	for (size_t i = 0; task_keys[i]; i++)
		if (strcmp(task_keys[i], key) == 0)
			return 1;
	return 0;
}

void
graph_init(struct graph *g)
{
	g->tasks = NULL;
	g->n = 0;
	g->nwaves = 0;
	g->topo = NULL;
	strmap_init(&g->byname);
}

static void
task_release(struct task *t)
{
	size_t i;

	free(t->name);
	strv_free(t->backends);
	free(t->prompt);
	free(t->system);
	strv_free(t->inputs);
	free(t->merge);
	strv_free(t->writes);
	free(t->output);
	free(t->model);
	for (i = 0; i < t->ndeps; i++)
		free(t->deps[i].detail);
	free(t->deps);
	free(t->rdeps);
}

void
graph_release(struct graph *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		task_release(&g->tasks[i]);
	free(g->tasks);
	free(g->topo);
	strmap_release(&g->byname);
	graph_init(g);
}

long
graph_find(const struct graph *g, const char *name)
{
	size_t i;

	if (strmap_get(&g->byname, name, strlen(name), &i))
		return (long)i;
	return -1;
}

static int
gerr(struct build *b, const struct conf_section *s, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "file:line: task 'x': message", the line of key (or of the header). */
static int
gerr(struct build *b, const struct conf_section *s, const char *key,
    const char *fmt, ...)
{
	char where[4096], label[160], msg[1024];
	va_list ap;

	conf_where(s, key, where, sizeof(where));
	conf_label(s, label, sizeof(label));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errf(b->err, b->errlen, "%s: %s: %s", where, label, msg);
	return DROVE_EINVAL;
}

/* A comma list that may also continue over lines. */
static size_t
split_list(const char *v, char ***items)
{
	char *s = xstrdup(v), *p;
	size_t n;

	for (p = s; *p; p++)
		if (*p == '\n')
			*p = ',';
	n = strv_split(s, ',', items);
	free(s);
	return n;
}

static int
is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' &&
		    *s != '\v' && *s != '\f')
			return 0;
	return 1;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/*
 * The next "{{" at or after s that matters: an escape "{{{{" (*is_esc set)
 * or a valid {{name}} reference (name and end set).  NULL when none.
 */
static const char *
next_ref(const char *s, int *is_esc, const char **end, const char **name,
    size_t *namelen)
{
	const char *p, *close = s, *a, *e;
	size_t i;
	int ok;

	for (p = strstr(s, "{{"); p != NULL; p = strstr(p + 1, "{{")) {
		if (p[2] == '{' && p[3] == '{') {
			*is_esc = 1;
			*end = p + 4;
			return p;
		}
		/* the first "}}" after p; found once for a run of "{{" */
		if (close != NULL && close < p + 2)
			close = strstr(p + 2, "}}");
		if (close == NULL)
			continue;
		a = p + 2;
		e = close;
		while (a < e && (*a == ' ' || *a == '\t'))
			a++;
		while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		ok = e > a;
		for (i = 0; ok && a + i < e; i++) {
			char c = a[i];

			ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
			    c == '-';
		}
		if (!ok)
			continue;
		*is_esc = 0;
		*end = close + 2;
		*name = a;
		*namelen = (size_t)(e - a);
		return p;
	}
	return NULL;
}

const char *
graph_find_ref(const char *s, const char **end, const char **name,
    size_t *namelen)
{
	const char *p, *e, *n = NULL;
	size_t len = 0;
	int esc;

	while ((p = next_ref(s, &esc, &e, &n, &len)) != NULL && esc)
		s = e;
	if (p == NULL)
		return NULL;
	if (end)
		*end = e;
	if (name)
		*name = n;
	if (namelen)
		*namelen = len;
	return p;
}

char *
graph_expand_refs(const char *s, int (*lookup)(void *, const char *,
    size_t, const char **, size_t *), void *arg)
{
	struct buf b = BUF_INIT;
	const char *p, *e, *n = NULL, *text;
	size_t len = 0, tlen;
	int esc;

	while ((p = next_ref(s, &esc, &e, &n, &len)) != NULL) {
		buf_add(&b, s, (size_t)(p - s));
		if (esc)
			buf_adds(&b, "{{");
		else if (lookup(arg, n, len, &text, &tlen))
			buf_add(&b, text, tlen);
		else
			buf_add(&b, p, (size_t)(e - p));
		s = e;
	}
	buf_adds(&b, s);
	return buf_detach(&b, NULL);
}

static void
add_dep(struct task *t, size_t dep, enum edge_kind kind, int line,
    char *detail)
{
	size_t i;

	for (i = 0; i < t->ndeps; i++) {
		if (t->deps[i].task == dep) {
			free(detail);
			return;
		}
	}
	t->deps = xrealloc(t->deps, (t->ndeps + 1) * sizeof(*t->deps));
	t->deps[t->ndeps].task = dep;
	t->deps[t->ndeps].kind = kind;
	t->deps[t->ndeps].line = line;
	t->deps[t->ndeps].detail = detail;
	t->ndeps++;
}

/* An edge to task name, or an error naming the key. */
static int
dep_by_name(struct build *b, struct task *t, const char *key,
    const char *name, enum edge_kind kind)
{
	const struct conf_kv *kv = conf_get_kv(t->sec, key);
	char shown[80], where[4096];
	long d;

	conf_excerpt(name, shown, sizeof(shown));
	if (!valid_name(name))
		return gerr(b, t->sec, key, "bad task name '%s' in '%s' "
		    "(names use only A-Z a-z 0-9 _ . -)", shown, key);
	d = graph_find(b->g, name);
	if (d < 0) {
		conf_where(t->sec, key, where, sizeof(where));
		if (kind == EDGE_REF)
			errf(b->err, b->errlen, "%s: task '%s' depends on "
			    "'%s', which does not exist (referenced as "
			    "{{%s}} in '%s'; for a literal {{ write {{{{)",
			    where, t->name, shown, shown, key);
		else
			errf(b->err, b->errlen, "%s: task '%s' depends on "
			    "'%s', which does not exist (in '%s')", where,
			    t->name, shown, key);
		return DROVE_EINVAL;
	}
	add_dep(t, (size_t)d, kind, kv ? kv->line : t->sec->line, NULL);
	return 0;
}

static int
refs_of(struct build *b, struct task *t, const char *key, const char *text)
{
	const char *p = text, *name, *end;
	size_t len;
	char *n;
	int rc;

	while (p != NULL && graph_find_ref(p, &end, &name, &len) != NULL) {
		n = xstrndup(name, len);
		rc = dep_by_name(b, t, key, n, EDGE_REF);
		free(n);
		if (rc < 0)
			return rc;
		p = end;
	}
	return 0;
}

static int
list_deps(struct build *b, struct task *t, const char *key,
    enum edge_kind kind)
{
	const char *v = conf_get(t->sec, key);
	char **items;
	size_t i;
	int rc = 0;

	if (v == NULL)
		return 0;
	split_list(v, &items);
	for (i = 0; items[i] != NULL && rc == 0; i++)
		rc = dep_by_name(b, t, key, items[i], kind);
	strv_free(items);
	return rc;
}

static int
check_backend(struct build *b, const struct task *t, const char *key,
    const char *name)
{
	char shown[80];

	if (conf_find(b->c, "backend", name) != NULL)
		return 0;
	conf_excerpt(name, shown, sizeof(shown));
	return gerr(b, t->sec, key, "unknown backend '%s'", shown);
}

static int
parse_backends(struct build *b, struct task *t)
{
	const struct conf_section *s = t->sec, *only = NULL;
	const char *v = conf_get(s, "backend");
	size_t i, nb;

	if (v != NULL) {
		t->nbackends = split_list(v, &t->backends);
		if (t->nbackends == 0)
			return gerr(b, s, "backend", "empty backend list");
		for (i = 0; i < t->nbackends; i++)
			if (check_backend(b, t, "backend", t->backends[i]) < 0)
				return DROVE_EINVAL;
		return 0;
	}
	if (b->o && b->o->default_backend) {
		if (conf_find(b->c, "backend", b->o->default_backend) == NULL) {
			char shown[80];

			conf_excerpt(b->o->default_backend, shown,
			    sizeof(shown));
			return gerr(b, s, NULL, "unknown backend '%s' (the "
			    "default backend)", shown);
		}
		t->nbackends = strv_split(b->o->default_backend, ',',
		    &t->backends);
		return 0;
	}
	only = b->only_backend;
	nb = b->nbackends;
	if (nb == 0)
		return gerr(b, s, NULL, "no backend: define a [backend NAME] "
		    "section");
	if (nb > 1)
		return gerr(b, s, NULL, "no backend: %zu backends are defined; "
		    "say which with 'backend = NAME'", nb);
	t->nbackends = 1;
	t->backends = xcalloc(2, sizeof(*t->backends));
	t->backends[0] = xstrdup(only->name);
	return 0;
}

/* The directory of the file that declared key in s ("." for none). */
static char *
dir_of_key(const struct conf_section *s, const char *key)
{
	const struct conf_kv *kv = conf_get_kv(s, key);
	const char *file = kv ? kv->file : s->file;
	const char *slash = strrchr(file, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == file)
		return xstrdup("/");
	return xstrndup(file, (size_t)(slash - file));
}

/*
 * Unless [drove] allow_outside is set, path (already relative to the
 * working directory or absolute) must stay inside the working directory
 * or the directory of the file that names it, links resolved.
 */
static int
check_inside(struct build *b, const struct task *t, const char *key,
    const char *path, const char *value)
{
	char *real, *dir, shown[80];
	int in;

	if (b->o && b->o->allow_outside)
		return 0;
	real = path_resolve(path);
	dir = dir_of_key(t->sec, key);
	in = real != NULL && (path_under(real, ".") || path_under(real, dir));
	free(real);
	free(dir);
	if (in)
		return 0;
	conf_excerpt(value, shown, sizeof(shown));
	return gerr(b, t->sec, key, "%s '%s' is outside the working "
	    "directory and the task file's directory (set [drove] "
	    "allow_outside = true to allow it)", key, shown);
}

/* prompt_file, relative to the directory of the file that declared it:
 * a regular file of at most DROVE_FILE_MAX bytes. */
static int
read_prompt_file(struct build *b, struct task *t, const char *v)
{
	char shown[520], *path, *dir;
	size_t len;
	int rc;

	if (*v == '\0')
		return gerr(b, t->sec, "prompt_file", "empty prompt_file");
	dir = dir_of_key(t->sec, "prompt_file");
	if (v[0] == '/' || strcmp(dir, ".") == 0)
		path = xstrdup(v);
	else
		path = xasprintf("%s/%s", dir, v);
	free(dir);
	/* the whole path unless it would break the line */
	if (strpbrk(path, "\n\r\t") != NULL || strlen(path) > 512)
		conf_excerpt(path, shown, sizeof(shown));
	else
		snprintf(shown, sizeof(shown), "%s", path);
	if (check_inside(b, t, "prompt_file", path, v) < 0) {
		free(path);
		return DROVE_EINVAL;
	}
	rc = read_file_max(path, DROVE_FILE_MAX, 1, &t->prompt, &len);
	free(path);
	if (rc == -EINVAL)
		return gerr(b, t->sec, "prompt_file", "prompt_file '%s' is not "
		    "a regular file", shown);
	if (rc == -EFBIG)
		return gerr(b, t->sec, "prompt_file", "prompt_file '%s' is "
		    "larger than %zu MiB", shown, DROVE_FILE_MAX >> 20);
	if (rc < 0)
		return gerr(b, t->sec, "prompt_file", "cannot read "
		    "prompt_file '%s': %s", shown, strerror(-rc));
	/* a prompt is a C string: a NUL would cut it without a word */
	if (strlen(t->prompt) != len)
		return gerr(b, t->sec, "prompt_file", "prompt_file '%s' holds "
		    "a NUL byte at offset %zu", shown, strlen(t->prompt));
	return 0;
}

/* Every file output names (its {{name}} and {{replica}} expanded as the
 * run will) must pass check_inside. */
static int
check_output(struct build *b, const struct task *t)
{
	size_t n = 1, k;
	int additive = strcmp(t->merge, "additive") == 0, rc = 0;

	if (t->output == NULL)
		return 0;
	if (additive)
		n = t->ninputs ? t->ninputs : (size_t)t->replicas;
	for (k = 0; k < n && rc == 0; k++) {
		const char *name = additive && t->ninputs ? t->inputs[k] :
		    t->name;
		struct buf p = BUF_INIT;
		const char *q = t->output;

		while (*q) {
			if (strncmp(q, "{{name}}", 8) == 0) {
				buf_adds(&p, name);
				q += 8;
			} else if (strncmp(q, "{{replica}}", 11) == 0) {
				buf_printf(&p, "%zu", additive && !t->ninputs ?
				    k : 0);
				q += 11;
			} else
				buf_addc(&p, *q++);
		}
		rc = check_inside(b, t, "output", buf_str(&p), t->output);
		buf_release(&p);
	}
	return rc;
}

static int
parse_task(struct build *b, struct task *t)
{
	const struct conf_section *s = t->sec;
	const struct graph_opts *o = b->o;
	const char *v, *pkey;
	char shown[80];
	double temp;

	if (strlen(t->name) > GRAPH_NAME_MAX ||
	    strcmp(t->name, ".") == 0 || strcmp(t->name, "..") == 0) {
		conf_excerpt(t->name, shown, sizeof(shown));
		errf(b->err, b->errlen, "%s:%d: task '%s': %s", s->file,
		    s->line, shown, strlen(t->name) > GRAPH_NAME_MAX ?
		    "name too long (a task name names files and a branch: "
		    "at most " GRAPH_NAME_MAX_S " bytes)" : "'.' and '..' "
		    "cannot name a task (a task name names files)");
		return DROVE_EINVAL;
	}
	if (conf_check_keys(s, b->err, b->errlen, task_keys,
	    o ? o->merge_keys : NULL, NULL) < 0)
		return DROVE_EINVAL;

	if ((v = conf_get(s, "inputs")) != NULL) {
		/* a merge node combines other tasks' outputs */
		t->ninputs = split_list(v, &t->inputs);
		if (t->ninputs == 0)
			return gerr(b, s, "inputs", "empty inputs list");
		if (conf_get(s, "backend"))
			return gerr(b, s, "backend", "a merge node (inputs =) "
			    "takes no backend");
		if (conf_get(s, "prompt"))
			return gerr(b, s, "prompt", "a merge node (inputs =) "
			    "takes no prompt");
		if (conf_get(s, "prompt_file"))
			return gerr(b, s, "prompt_file", "a merge node "
			    "(inputs =) takes no prompt_file");
		t->backends = xcalloc(1, sizeof(*t->backends));
		t->prompt = xstrdup("");
	} else {
		t->inputs = xcalloc(1, sizeof(*t->inputs));
		if (parse_backends(b, t) < 0)
			return DROVE_EINVAL;
		pkey = "prompt";
		if ((v = conf_get(s, "prompt_file")) != NULL) {
			if (conf_get(s, "prompt")) {
				const struct conf_kv *a, *c;

				/* report the later of the two keys */
				a = conf_get_kv(s, "prompt");
				c = conf_get_kv(s, "prompt_file");
				return gerr(b, s, a->line > c->line ?
				    "prompt" : "prompt_file", "prompt and "
				    "prompt_file are both set; keep one");
			}
			pkey = "prompt_file";
			if (read_prompt_file(b, t, v) < 0)
				return DROVE_EINVAL;
		} else if ((v = conf_get(s, "prompt")) != NULL)
			t->prompt = xstrdup(v);
		if (t->prompt == NULL || is_blank(t->prompt))
			return gerr(b, s, pkey, "empty prompt");
	}
	if ((v = conf_get(s, "system")) != NULL)
		t->system = xstrdup(v);
	if ((v = conf_get(s, "judge")) != NULL &&
	    check_backend(b, t, "judge", v) < 0)
		return DROVE_EINVAL;
	if ((v = conf_get(s, "summarize")) != NULL &&
	    check_backend(b, t, "summarize", v) < 0)
		return DROVE_EINVAL;

	if (conf_get_long(s, "replicas", 1, 1, 1000, &t->replicas, b->err,
	    b->errlen) < 0 ||
	    conf_get_long(s, "retries", 0, 0, 100, &t->retries, b->err,
	    b->errlen) < 0 ||
	    conf_get_long(s, "max_tokens", 0, 1, 10000000, &t->max_tokens,
	    b->err, b->errlen) < 0 ||
	    conf_get_duration(s, "timeout", 0, 0, 1e9, &t->timeout_s, b->err,
	    b->errlen) < 0 ||
	    conf_get_double(s, "temperature", 0, 0, 2, &temp, b->err,
	    b->errlen) < 0)
		return DROVE_EINVAL;
	if (conf_get(s, "timeout") != NULL && t->timeout_s <= 0) {
		conf_excerpt(conf_get(s, "timeout"), shown, sizeof(shown));
		return gerr(b, s, "timeout", "bad value '%s' for 'timeout' "
		    "(expected seconds, more than 0)", shown);
	}

	v = conf_get(s, "merge");
	if (v == NULL)
		v = t->ninputs ? "aggregative" : "additive";
	if (o && o->merges && !in_list(o->merges, v)) {
		conf_excerpt(v, shown, sizeof(shown));
		return gerr(b, s, "merge", "unknown merge '%s'", shown);
	}
	t->merge = xstrdup(v);

	v = conf_get(s, "isolation");
	if (v == NULL || strcmp(v, "none") == 0)
		t->isolation = ISOLATION_NONE;
	else if (strcmp(v, "worktree") == 0)
		t->isolation = ISOLATION_WORKTREE;
	else {
		conf_excerpt(v, shown, sizeof(shown));
		return gerr(b, s, "isolation", "bad value '%s' for "
		    "'isolation' (expected none or worktree)", shown);
	}

	if ((v = conf_get(s, "writes")) != NULL)
		t->nwrites = split_list(v, &t->writes);
	else
		t->writes = xcalloc(1, sizeof(*t->writes));
	if ((v = conf_get(s, "output")) != NULL && *v != '\0')
		t->output = xstrdup(v);
	if ((v = conf_get(s, "model")) != NULL && *v != '\0')
		t->model = xstrdup(v);

	if (list_deps(b, t, "after", EDGE_AFTER) < 0 ||
	    list_deps(b, t, "inputs", EDGE_INPUT) < 0 ||
	    check_output(b, t) < 0)
		return DROVE_EINVAL;
	if (t->ninputs == 0 && refs_of(b, t, conf_get(s, "prompt_file") ?
	    "prompt_file" : "prompt", t->prompt) < 0)
		return DROVE_EINVAL;
	if (t->system && refs_of(b, t, "system", t->system) < 0)
		return DROVE_EINVAL;
	return 0;
}

/*
 * Depth-first search for a cycle, tasks and edges in declared order.  On
 * a cycle writes "file:line: cycle: a -> b -> a" starting at the earliest
 * declared task in it, with the line of that task's edge to the next.
 */
static int
find_cycle(struct build *b)
{
	struct graph *g = b->g;
	unsigned char *color = xcalloc(g->n, 1); /* new, open, done */
	size_t *stack = xmalloc(g->n * sizeof(*stack));
	size_t *next = xcalloc(g->n, sizeof(*next));
	size_t root, sp, u, v, i, k, len, first;
	struct buf msg = BUF_INIT;
	const struct task *t;
	int rc = 0, line = 0;

	for (root = 0; root < g->n && rc == 0; root++) {
		if (color[root])
			continue;
		sp = 0;
		stack[sp++] = root;
		color[root] = 1;
		while (sp > 0 && rc == 0) {
			u = stack[sp - 1];
			if (next[u] == g->tasks[u].ndeps) {
				color[u] = 2;
				sp--;
				continue;
			}
			v = g->tasks[u].deps[next[u]++].task;
			if (color[v] == 0) {
				color[v] = 1;
				stack[sp++] = v;
				continue;
			}
			if (color[v] == 2)
				continue;
			/* v is open: the cycle is v .. u on the stack */
			for (k = sp - 1; stack[k] != v; k--)
				;
			len = sp - k;
			first = k;
			for (i = k; i < sp; i++)
				if (stack[i] < stack[first])
					first = i;
			for (i = 0; i <= len; i++) {
				t = &g->tasks[stack[k + (first - k + i) % len]];
				buf_printf(&msg, "%s%s", i ? " -> " : "",
				    t->name);
			}
			t = &g->tasks[stack[first]];
			u = stack[k + (first - k + 1) % len];
			for (i = 0; i < t->ndeps; i++)
				if (t->deps[i].task == u)
					line = t->deps[i].line;
			errf(b->err, b->errlen, "%s:%d: cycle: %s",
			    t->sec->file, line, buf_str(&msg));
			rc = DROVE_EINVAL;
		}
	}
	buf_release(&msg);
	free(color);
	free(stack);
	free(next);
	return rc;
}

unsigned char *
graph_reach_set(const struct graph *g, size_t a, int up)
{
	unsigned char *seen = xcalloc(g->n + 1, 1);
	size_t *stack, sp = 0, u, i, v, n;

	if (a >= g->n)
		return seen;
	stack = xmalloc((g->n + 1) * sizeof(*stack));
	stack[sp++] = a;
	while (sp > 0) {
		u = stack[--sp];
		n = up ? g->tasks[u].ndeps : g->tasks[u].nrdeps;
		for (i = 0; i < n; i++) {
			v = up ? g->tasks[u].deps[i].task : g->tasks[u].rdeps[i];
			if (!seen[v]) {
				seen[v] = 1;
				stack[sp++] = v;
			}
		}
	}
	free(stack);
	return seen;
}

int
graph_depends_on(const struct graph *g, size_t a, size_t b)
{
	unsigned char *up;
	int found;

	if (a >= g->n || b >= g->n)
		return 0;
	up = graph_reach_set(g, a, 1);
	found = up[b];
	free(up);
	return found;
}

size_t
graph_first_dep(const struct graph *g, size_t a,
    int (*want)(const void *arg, size_t k), const void *arg)
{
	unsigned char *up = NULL;
	size_t k;

	for (k = 0; k < g->n; k++) {
		if (!want(arg, k))
			continue;
		if (up == NULL)
			up = graph_reach_set(g, a, 1);
		if (up[k])
			break;
	}
	free(up);
	return k;
}

/* rdeps, waves and a topological order (by wave, then declared order). */
static void
finish(struct graph *g)
{
	size_t *indeg, *queue, head = 0, tail = 0, i, k, u;
	struct task *t;

	/* counted first: one allocation per task, not one per edge */
	indeg = xcalloc(g->n, sizeof(*indeg));
	for (i = 0; i < g->n; i++)
		for (k = 0; k < g->tasks[i].ndeps; k++)
			indeg[g->tasks[i].deps[k].task]++;
	for (i = 0; i < g->n; i++)
		if (indeg[i])
			g->tasks[i].rdeps = xmalloc(indeg[i] *
			    sizeof(*g->tasks[i].rdeps));
	for (i = 0; i < g->n; i++) {
		t = &g->tasks[i];
		for (k = 0; k < t->ndeps; k++) {
			struct task *d = &g->tasks[t->deps[k].task];

			d->rdeps[d->nrdeps++] = i;
		}
	}
	queue = xmalloc(g->n * sizeof(*queue));
	for (i = 0; i < g->n; i++) {
		indeg[i] = g->tasks[i].ndeps;
		g->tasks[i].wave = 0;
		if (indeg[i] == 0)
			queue[tail++] = i;
	}
	g->nwaves = 0;
	while (head < tail) {
		u = queue[head++];
		t = &g->tasks[u];
		if (t->wave + 1 > g->nwaves)
			g->nwaves = t->wave + 1;
		for (k = 0; k < t->nrdeps; k++) {
			struct task *r = &g->tasks[t->rdeps[k]];

			if (r->wave < t->wave + 1)
				r->wave = t->wave + 1;
			if (--indeg[t->rdeps[k]] == 0)
				queue[tail++] = t->rdeps[k];
		}
	}
	/* counting sort by wave keeps declared order within a wave */
	memset(indeg, 0, g->n * sizeof(*indeg));
	for (i = 0; i < g->n; i++)
		indeg[g->tasks[i].wave]++;
	for (i = 0, k = 0; i < (size_t)g->nwaves; i++) {
		u = indeg[i];
		indeg[i] = k;
		k += u;
	}
	for (i = 0; i < g->n; i++)
		queue[indeg[g->tasks[i].wave]++] = i;
	free(indeg);
	g->topo = queue;
}

int
graph_build(struct graph *g, const struct conf *c,
    const struct graph_opts *o, char *err, size_t errlen)
{
	struct build b = { g, c, o, err, errlen, NULL, 0 };
	size_t i, n = 0;

	graph_release(g);
	errf(err, errlen, "%s", "");
	for (i = 0; i < c->nsec; i++) {
		if (strcmp(c->sec[i]->type, "task") == 0)
			n++;
		else if (strcmp(c->sec[i]->type, "backend") == 0) {
			b.only_backend = c->sec[i];
			b.nbackends++;
		}
	}
	if (n == 0) {
		errf(err, errlen, "%s:1: no tasks (add a [task NAME] section)",
		    c->nfiles ? c->files[c->nfiles - 1] : "(no file)");
		return DROVE_EINVAL;
	}
	g->tasks = xcalloc(n, sizeof(*g->tasks));
	strmap_reserve(&g->byname, n);
	for (i = 0; i < c->nsec; i++) {
		if (strcmp(c->sec[i]->type, "task") != 0)
			continue;
		g->tasks[g->n].name = xstrdup(c->sec[i]->name);
		g->tasks[g->n].sec = c->sec[i];
		strmap_put(&g->byname, c->sec[i]->name,
		    strlen(c->sec[i]->name), g->n);
		g->n++;
	}
	for (i = 0; i < g->n; i++)
		if (parse_task(&b, &g->tasks[i]) < 0)
			goto fail;
	if (find_cycle(&b) < 0)
		goto fail;
	writes_edges(g);
	finish(g);
	return 0;
fail:
	graph_release(g);
	return DROVE_EINVAL;
}

size_t
graph_critical_path(const struct graph *g, const double *dur,
    size_t *path, size_t n, double *total)
{
	double *dist, best, w;
	size_t *prev, i, k, u, d, end, len, *chain;

	if (total)
		*total = 0;
	if (g->n == 0)
		return 0;
	dist = xcalloc(g->n, sizeof(*dist));
	prev = xmalloc(g->n * sizeof(*prev));
	for (i = 0; i < g->n; i++) {
		const struct task *t;

		u = g->topo[i];
		t = &g->tasks[u];
		w = dur ? dur[u] : 1;
		prev[u] = SIZE_MAX;
		best = 0;
		for (k = 0; k < t->ndeps; k++) {
			d = t->deps[k].task;
			if (prev[u] == SIZE_MAX || dist[d] > best ||
			    (dist[d] == best && d < prev[u])) {
				best = dist[d];
				prev[u] = d;
			}
		}
		dist[u] = best + w;
	}
	end = 0;
	for (i = 1; i < g->n; i++)
		if (dist[i] > dist[end])
			end = i;
	len = 0;
	for (u = end; u != SIZE_MAX; u = prev[u])
		len++;
	chain = xmalloc(len * sizeof(*chain));
	k = len;
	for (u = end; u != SIZE_MAX; u = prev[u])
		chain[--k] = u;
	for (i = 0; path && i < len && i < n; i++)
		path[i] = chain[i];
	if (total)
		*total = dist[end];
	free(chain);
	free(dist);
	free(prev);
	return len;
}
