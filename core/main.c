/* drove: run many AI agents in parallel from one binary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "doctor.h"
#include "drove/plugin.h"
#include "fetch.h"
#include "graph.h"
#include "merge.h"
#include "plan.h"
#include "registry.h"
#include "report.h"
#include "sched.h"
#include "util.h"
#include "worktree.h"

#define DROVE_VERSION "0.1.0"

/* Directories given with --plugin-dir, NULL-ended; set once by main(). */
static const char **cli_plugin_dirs;

static const char *const drove_keys[] = {
	"jobs", "plugin_dir", "backend", "run_dir", "merge_into", "budget_usd",
	"budget_tokens", "allow_outside", NULL
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: drove COMMAND [ARGS]\n"
	    "\n"
	    "Runs many AI agents in parallel from an INI file of tasks.\n"
	    "\n"
	    "commands:\n"
	    "  run FILE.ini     run the task graph (see 'drove run --help')\n"
	    "  graph FILE.ini   show the graph: waves, edges, critical path\n"
	    "  plan \"GOAL\"      a backend splits a goal into a task file\n"
	    "  report [RUN]     per-task times, speedup, tokens and cost\n"
	    "  fetch URL        one HTTP(S) request (see 'drove fetch --help')\n"
	    "  clean [RUN]      remove a run's merged worktrees and branches\n"
	    "  plugins          built-in and loaded plugins, and the ABI\n"
	    "  doctor           check each backend: key, CA bundle, network\n"
	    "  version          print the version\n"
	    "\n"
	    "\n"
	    "  --plugin-dir DIR  (with any command, repeatable) also load the "
	    "plugins in DIR\n"
	    "'drove COMMAND --help' describes a command.\n");
}

/* Everything a command that reads a task file needs. */
struct setup {
	struct conf conf;
	struct registry reg;
	struct graph graph;
	const char **merges;
	const char **merge_keys;
};

static int
exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The configuration file: -c, $DROVE_CONFIG, ./drove.ini,
 * $XDG_CONFIG_HOME/drove/drove.ini, /etc/drove/drove.ini. */
static char *
find_config(const char *opt, int *explicit)
{
	const char *env = getenv("DROVE_CONFIG"), *xdg, *home;
	char *p;

	*explicit = 1;
	if (opt)
		return xstrdup(opt);
	if (env && *env)
		return xstrdup(env);
	*explicit = 0;
	if (exists("drove.ini"))
		return xstrdup("drove.ini");
	xdg = getenv("XDG_CONFIG_HOME");
	home = getenv("HOME");
	if (xdg && *xdg)
		p = xasprintf("%s/drove/drove.ini", xdg);
	else if (home && *home)
		p = xasprintf("%s/.config/drove/drove.ini", home);
	else
		p = NULL;
	if (p && exists(p))
		return p;
	free(p);
	if (exists("/etc/drove/drove.ini"))
		return xstrdup("/etc/drove/drove.ini");
	return NULL;
}

static void
setup_release(struct setup *s)
{
	graph_release(&s->graph);
	conf_release(&s->conf);
	registry_release(&s->reg);
	free(s->merges);
	free(s->merge_keys);
}

/*
 * Loads plugins, configuration and the tasks, and builds the graph.  The
 * tasks come from task_file, or from text (named name in messages) when
 * task_file is NULL; with neither, only plugins and configuration load.
 * default_backend, when not NULL, overrides [drove] backend.  Returns 0,
 * or DROVE_EINVAL with the error in err and s released.
 */
static int
setup_build(struct setup *s, const char *task_file, const char *name,
    const char *text, const char *default_backend, const char *config,
    char *err, size_t errlen)
{
	const struct conf_section *d;
	struct graph_opts go;
	char *cfg;
	int explicit, rc;

	memset(s, 0, sizeof(*s));
	conf_init(&s->conf);
	registry_init(&s->reg);
	graph_init(&s->graph);
	if (registry_add_builtins(&s->reg, err, errlen) < 0)
		goto fail;
	cfg = find_config(config, &explicit);
	if (cfg && !(task_file && same_file(cfg, task_file))) {
		rc = conf_load(&s->conf, cfg, err, errlen);
		free(cfg);
		if (rc < 0)
			goto fail;
	} else {
		free(cfg);
	}
	if (task_file && conf_load(&s->conf, task_file, err, errlen) < 0)
		goto fail;
	if (text && conf_load_string(&s->conf, name, text, err, errlen) < 0)
		goto fail;
	d = conf_find(&s->conf, "drove", "");
	if (d && conf_check_keys(d, err, errlen, drove_keys,
	    (const char *const *)NULL) < 0)
		goto fail;
	if (registry_load_conf(&s->reg, &s->conf, cli_plugin_dirs, err,
	    errlen) < 0)
		goto fail;
	if (task_file == NULL && text == NULL)
		return 0;
	/* a plugin that did not load stops only what uses it */
	if (registry_check_uses(&s->reg, &s->conf, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; task_file && i < s->reg.nfail; i++)
		log_warnx("warning: plugin not loaded: %s",
		    s->reg.fail[i].reason);
	if (sched_check_backends(&s->conf, &s->reg, err, errlen) < 0)
		goto fail;
	s->merges = registry_names(&s->reg, DROVE_PLUGIN_MERGE);
	s->merge_keys = registry_merge_keys(&s->reg);
	go.merges = s->merges;
	go.merge_keys = s->merge_keys;
	go.default_backend = default_backend ? default_backend :
	    d ? conf_get(d, "backend") : NULL;
	if (conf_get_bool(d, "allow_outside", 0, &go.allow_outside, err,
	    errlen) < 0)
		goto fail;
	if (graph_build(&s->graph, &s->conf, &go, err, errlen) < 0)
		goto fail;
	if (merge_check_tasks(&s->graph, &s->reg, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	setup_release(s);
	return DROVE_EINVAL;
}

/* setup_build from a task file (or none); returns 0 or an exit status (2)
 * after printing the error. */
static int
setup_load(struct setup *s, const char *task_file, const char *config)
{
	char err[1024];

	if (setup_build(s, task_file, NULL, NULL, NULL, config, err,
	    sizeof(err)) < 0) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	return 0;
}

static const char *
edge_name(enum edge_kind k)
{
	switch (k) {
	case EDGE_AFTER:
		return "after";
	case EDGE_REF:
		return "reference";
	case EDGE_INPUT:
		return "input";
	case EDGE_WRITES:
		return "writes";
	}
	return "?";
}

static void
print_waves(FILE *f, const struct graph *g)
{
	for (int w = 0; w < g->nwaves; w++) {
		fprintf(f, "wave %d:", w + 1);
		for (size_t i = 0; i < g->n; i++)
			if (g->tasks[i].wave == w)
				fprintf(f, " %s", g->tasks[i].name);
		fprintf(f, "\n");
	}
}

/* The graph as text: counts, waves, each edge and why (when edges is
 * set), and the critical path.  Borrows g. */
static void
print_graph_text(FILE *f, const struct graph *g, const char *file, int edges)
{
	size_t *path = xcalloc(g->n + 1, sizeof(*path));
	size_t np, nedges = 0;
	double len;

	np = graph_critical_path(g, NULL, path, g->n, &len);
	fprintf(f, "%s: %zu task%s, %d wave%s\n", file, g->n,
	    g->n == 1 ? "" : "s", g->nwaves, g->nwaves == 1 ? "" : "s");
	print_waves(f, g);
	for (size_t i = 0; edges && i < g->n; i++)
		nedges += g->tasks[i].ndeps;
	if (nedges)
		fprintf(f, "edges:\n");
	for (size_t i = 0; nedges && i < g->n; i++) {
		const struct task *t = &g->tasks[i];

		for (size_t k = 0; k < t->ndeps; k++) {
			const struct edge *e = &t->deps[k];

			fprintf(f, "  %s -> %s  (%s%s%s)\n",
			    g->tasks[e->task].name, t->name,
			    edge_name(e->kind), e->detail ? ": " : "",
			    e->detail ? e->detail : "");
		}
	}
	fprintf(f, "critical path (%zu task%s):", np, np == 1 ? "" : "s");
	for (size_t k = 0; k < np; k++)
		fprintf(f, "%s %s", k ? " ->" : "", g->tasks[path[k]].name);
	fprintf(f, "\n");
	free(path);
}

static void
dot_id(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
print_graph_dot(FILE *f, const struct graph *g)
{
	size_t *path = xcalloc(g->n + 1, sizeof(*path));
	char *oncp = xcalloc(g->n + 1, 1);
	size_t np;
	double len;

	np = graph_critical_path(g, NULL, path, g->n, &len);
	for (size_t k = 0; k < np; k++)
		oncp[path[k]] = 1;
	fprintf(f, "digraph drove {\n\trankdir=LR;\n\tnode [shape=box];\n");
	for (size_t i = 0; i < g->n; i++) {
		fputc('\t', f);
		dot_id(f, g->tasks[i].name);
		fprintf(f, " [label=\"%s\\nwave %d\"%s];\n", g->tasks[i].name,
		    g->tasks[i].wave + 1, oncp[i] ? ", penwidth=2" : "");
	}
	for (size_t i = 0; i < g->n; i++) {
		const struct task *t = &g->tasks[i];

		for (size_t k = 0; k < t->ndeps; k++) {
			const struct edge *e = &t->deps[k];

			fputc('\t', f);
			dot_id(f, g->tasks[e->task].name);
			fprintf(f, " -> ");
			dot_id(f, t->name);
			fprintf(f, " [label=\"%s\"%s];\n", edge_name(e->kind),
			    e->kind == EDGE_WRITES ? ", style=dashed" : "");
		}
	}
	fprintf(f, "}\n");
	free(path);
	free(oncp);
}

static int
cmd_graph(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dot", no_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	struct setup s;
	int c, dot = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dot = 1; break;
		case 'c': config = optarg; break;
		case 'h':
			printf("usage: drove graph FILE.ini [--dot] "
			    "[-c CONFIG]\n"
			    "  Shows the task graph: waves (tasks that run "
			    "together), every edge and why\n"
			    "  it exists, and the critical path.  --dot "
			    "prints Graphviz input instead.\n");
			return 0;
		default:
			fprintf(stderr, "usage: drove graph FILE.ini [--dot]\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: drove graph FILE.ini [--dot]\n");
		return EXIT_USAGE;
	}
	rc = setup_load(&s, argv[optind], config);
	if (rc)
		return rc;
	if (dot)
		print_graph_dot(stdout, &s.graph);
	else
		print_graph_text(stdout, &s.graph, argv[optind], 1);
	setup_release(&s);
	return 0;
}

static void
run_usage(FILE *f)
{
	fprintf(f,
	    "usage: drove run FILE.ini [-j N] [-c CONFIG] [-k] "
	    "[--resume RUN|last]\n"
	    "                 [--dry-run] [--json] [-q] [-v] "
	    "[--run-dir DIR]\n"
	    "  Runs every task whose inputs are ready, all at once, up to "
	    "the caps.\n"
	    "  -j, --jobs N       agents in flight at most (default: [drove] "
	    "jobs, else 8)\n"
	    "  -c, --config FILE  configuration file (default: "
	    "$DROVE_CONFIG, ./drove.ini,\n"
	    "                     $XDG_CONFIG_HOME/drove/drove.ini, "
	    "/etc/drove/drove.ini)\n"
	    "  -k, --keep-going   after a failure, keep running what does "
	    "not depend on it\n"
	    "  --resume RUN       finish an earlier run ('last', a run id "
	    "or directory)\n"
	    "  --dry-run          print the waves and run nothing\n"
	    "  --json             JSON lines on stdout: one per finished "
	    "task, then the summary\n"
	    "  -q, --quiet        no progress on stderr\n"
	    "  -v, --verbose      more progress on stderr\n"
	    "  --run-dir DIR      keep runs in DIR (default .drove/runs)\n"
	    "exit status: 0 all tasks succeeded, 1 a task failed, 2 usage "
	    "or config error,\n"
	    "130 interrupted, 129 hung up (the terminal closed).\n");
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "resume", required_argument, NULL, 'R' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "run-dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o;
	const char *config = NULL;
	struct setup s;
	int c, dry = 0, rc;
	char *end;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:c:kqvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			errno = 0;
			o.jobs = strtol(optarg, &end, 10);
			if (errno || *end || o.jobs < 1 || o.jobs > 100000) {
				log_warnx("run: bad value '%s' for -j (expected "
				    "a number from 1 to 100000)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c': config = optarg; break;
		case 'k': o.keep_going = 1; break;
		case 'R': o.resume = optarg; break;
		case 'n': dry = 1; break;
		case 'J': o.json = 1; break;
		case 'q': o.quiet = 1; log_verbosity = 0; break;
		case 'v': log_verbosity = 2; break;
		case 'D': o.run_root = optarg; break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		run_usage(stderr);
		return EXIT_USAGE;
	}
	o.task_file = argv[optind];
	rc = setup_load(&s, o.task_file, config);
	if (rc)
		return rc;
	if (o.run_root == NULL) {
		const struct conf_section *d = conf_find(&s.conf, "drove", "");

		o.run_root = d ? conf_get(d, "run_dir") : NULL;
	}
	if (dry) {
		print_graph_text(stdout, &s.graph, o.task_file, 1);
		printf("dry run: nothing was run\n");
		setup_release(&s);
		return 0;
	}
	rc = sched_run(&s.conf, &s.graph, &s.reg, &o);
	setup_release(&s);
	return rc;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* The backend named name, else [drove] backend, else the only one. */
static const struct conf_section *
plan_pick_backend(const struct conf *c, const char *name, char *err,
    size_t errlen)
{
	const struct conf_section *d = conf_find(c, "drove", ""), *only = NULL;
	const char *how = "-b";
	struct buf names = BUF_INIT;
	size_t n = 0;

	if (name == NULL && d != NULL && conf_get(d, "backend") != NULL) {
		name = conf_get(d, "backend");
		how = "[drove] backend";
	}
	for (size_t i = 0; i < c->nsec; i++) {
		if (strcmp(c->sec[i]->type, "backend") != 0)
			continue;
		if (name != NULL && strcmp(c->sec[i]->name, name) == 0) {
			buf_release(&names);
			return c->sec[i];
		}
		buf_printf(&names, "%s%s", n ? ", " : "", c->sec[i]->name);
		only = c->sec[i];
		n++;
	}
	if (n == 0)
		errf(err, errlen, "plan: no backend is configured: define a "
		    "[backend NAME] section in drove.ini (or name a "
		    "configuration with -c)");
	else if (name != NULL)
		errf(err, errlen, "plan: unknown backend '%s' (from %s); the "
		    "configured ones: %s", name, how, buf_str(&names));
	else if (n > 1)
		errf(err, errlen, "plan: %zu backends are configured (%s): "
		    "say which plans with -b NAME", n, buf_str(&names));
	buf_release(&names);
	return name == NULL && n == 1 ? only : NULL;
}

/*
 * A planned file holds only what the planning prompt asks for: [task]
 * sections with prompt, after and writes.  No file to read or write, no
 * command, no backend: checked on the answer alone, before anything of it
 * is loaded.  Returns 0, or -1 with "file:line: ..." in err.
 */
static int
plan_check_answer(const char *name, const char *text, char *err,
    size_t errlen)
{
	static const char *const plan_keys[] = { "prompt", "after", "writes",
		NULL };
	const struct conf_section *sec;
	const struct conf_kv *kv;
	char label[160], shown[80];
	struct conf c;
	int rc = 0;

	conf_init(&c);
	if (conf_load_string(&c, name, text, err, errlen) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < c.nsec; i++) {
		sec = c.sec[i];
		if (strcmp(sec->type, "task") != 0) {
			errf(err, errlen, "%s:%d: [%s%s%s]: only [task NAME] "
			    "sections belong in the file", sec->file,
			    sec->line, sec->type, *sec->name ? " " : "",
			    sec->name);
			rc = -1;
			break;
		}
		for (size_t k = 0; k < sec->nkv; k++) {
			kv = &sec->kv[k];
			if (in_list(plan_keys, kv->key))
				continue;
			conf_label(sec, label, sizeof(label));
			conf_excerpt(kv->key, shown, sizeof(shown));
			errf(err, errlen, "%s:%d: %s: %s key '%s' (a planned "
			    "task may use only prompt, after and writes)",
			    kv->file, kv->line, label,
			    graph_is_task_key(kv->key) ? "forbidden" :
			    "unknown", shown);
			rc = -1;
			break;
		}
	}
	conf_release(&c);
	return rc;
}

/*
 * Loads text as a task file named name against the configuration, with
 * backend as the default backend, into s.  With answer_only, text must
 * pass plan_check_answer first.  Returns 0, or -1 with the reason in err
 * and s released.
 */
static int
plan_check(struct setup *s, const char *name, const char *text,
    const char *backend, const char *config, int answer_only, char *err,
    size_t errlen)
{
	if (answer_only && plan_check_answer(name, text, err, errlen) < 0)
		return -1;
	if (setup_build(s, NULL, name, text, backend, config, err,
	    errlen) < 0)
		return -1;
	return 0;
}

/* Writes data to path atomically; unless force, never over an existing
 * file.  Returns 0 or -errno. */
static int
write_new_file(const char *path, const char *data, size_t len, int force)
{
	char *tmp;
	int rc;

	if (force)
		return write_file_atomic(path, data, len);
	tmp = xasprintf("%s.new.%ld", path, (long)getpid());
	rc = write_file_atomic(tmp, data, len);
	if (rc == 0 && link(tmp, path) < 0) {
		rc = -errno;
		/* file systems without hard links: check, then rename */
		if (rc != -EEXIST && !exists(path))
			rc = rename(tmp, path) < 0 ? -errno : 0;
	}
	unlink(tmp);
	free(tmp);
	return rc;
}

/* The file drove plan writes: a comment with the goal, the tasks'
 * backend, then the answer's tasks.  The caller frees. */
static char *
plan_file_text(const char *goal, const char *planner, const char *backend,
    const char *tasks)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "; written by 'drove plan' with backend '%s' for the "
	    "goal:\n;   ", planner);
	for (const char *p = goal; *p; p++) {
		buf_addc(&b, *p);
		if (*p == '\n' && p[1] != '\0')
			buf_adds(&b, ";   ");
	}
	buf_printf(&b, "\n\n[drove]\nbackend = %s\n\n%s", backend, tasks);
	return buf_detach(&b, NULL);
}

static void
plan_usage(FILE *f)
{
	fprintf(f,
	    "usage: drove plan \"GOAL\" [-b BACKEND] [-o FILE.ini] [--force]\n"
	    "                  [--task-backend NAME] [-c CONFIG]\n"
	    "  Asks one backend to split GOAL into tasks and writes them as "
	    "a task file.\n"
	    "  The answer must load against the configuration as 'drove "
	    "run' would load\n"
	    "  it, with [task] sections of prompt, after and writes only; if it "
	    "does not,\n"
	    "  the backend is asked once more, with the error.  stderr gets "
	    "the tasks,\n"
	    "  waves and critical path.\n"
	    "  -b, --backend NAME   the backend that plans (default: [drove] "
	    "backend,\n"
	    "                       else the only backend configured)\n"
	    "  --task-backend NAME  the backend the tasks run on (default: "
	    "the one that\n"
	    "                       plans); the file gets [drove] backend = "
	    "NAME\n"
	    "  -o, --output FILE    write the task file there, atomically "
	    "(default: stdout)\n"
	    "  -f, --force          overwrite FILE if it exists\n"
	    "  -c, --config FILE    configuration file (searched as for "
	    "'drove run')\n"
	    "exit status: 0 written, 1 the backend failed or gave no valid "
	    "file (the last\n"
	    "answer is saved and named), 2 usage or config error, 130 "
	    "interrupted.\n");
}

static int
cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "task-backend", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *bname = NULL, *tbname = NULL, *out = NULL;
	const char *goal, *name, *tb;
	const struct conf_section *bsec;
	const struct drove_plugin *p;
	char *prompt, *ask, *answer = NULL, *ini = NULL, *text, *saved;
	struct setup base, s;
	char err[1024], why[1024];
	size_t len;
	int c, force = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:o:fc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bname = optarg; break;
		case 't': tbname = optarg; break;
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'c': config = optarg; break;
		case 'h': plan_usage(stdout); return 0;
		default: plan_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0') {
		plan_usage(stderr);
		return EXIT_USAGE;
	}
	goal = argv[optind];
	if (out != NULL && !force && exists(out)) {
		log_warnx("plan: '%s' exists; use --force to overwrite it",
		    out);
		return EXIT_USAGE;
	}
	if ((rc = setup_load(&base, NULL, config)) != 0)
		return rc;
	if (sched_check_backends(&base.conf, &base.reg, err,
	    sizeof(err)) < 0 ||
	    (bsec = plan_pick_backend(&base.conf, bname, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		setup_release(&base);
		return EXIT_USAGE;
	}
	tb = tbname ? tbname : bsec->name;
	if (conf_find(&base.conf, "backend", tb) == NULL) {
		log_warnx("plan: unknown backend '%s' (from --task-backend)",
		    tb);
		setup_release(&base);
		return EXIT_USAGE;
	}
	p = registry_find(&base.reg, DROVE_PLUGIN_BACKEND,
	    conf_get(bsec, "type"));
	name = out ? out : "plan.ini";
	prompt = plan_prompt(goal);
	ask = xstrdup(prompt);
	for (int attempt = 1;; attempt++) {
		log_info("plan: asking backend '%s'%s", bsec->name,
		    attempt > 1 ? " again" : "");
		free(answer);
		answer = NULL;
		rc = plan_ask(bsec, p, ask, attempt, &answer, &len, err,
		    sizeof(err));
		if (rc < 0) {
			if (rc != DROVE_ECANCELED)
				log_warnx("plan: %s", err);
			rc = rc == DROVE_ECANCELED ? EXIT_INTERRUPTED :
			    EXIT_TASK_FAILED;
			goto done;
		}
		free(ini);
		ini = plan_extract(answer, len);
		if (ini == NULL)
			errf(why, sizeof(why), "no line starts with '[': "
			    "there are no sections");
		else if (plan_check(&s, name, ini, tb, config, 1, why,
		    sizeof(why)) == 0)
			break;
		if (attempt == 2) {
			saved = xasprintf("%s.rejected", out ? out :
			    "drove-plan");
			if (write_file_atomic(saved, answer, len) < 0)
				log_warn("plan: cannot save the answer in "
				    "'%s'", saved);
			log_warnx("plan: no valid task file from backend '%s' "
			    "in two answers: %s (the last answer is in '%s')",
			    bsec->name, why, saved);
			free(saved);
			rc = EXIT_TASK_FAILED;
			goto done;
		}
		log_warnx("plan: the answer is not a valid task file: %s",
		    why);
		free(ask);
		ask = plan_retry_prompt(prompt, answer, why);
	}
	setup_release(&s);
	/* the file as written must load as well */
	text = plan_file_text(goal, bsec->name, tb, ini);
	if (plan_check(&s, name, text, NULL, config, 0, why,
	    sizeof(why)) < 0) {
		log_warnx("plan: %s", why);
		rc = EXIT_TASK_FAILED;
	} else {
		print_graph_text(stderr, &s.graph, name, 0);
		setup_release(&s);
		rc = 0;
		if (out == NULL) {
			fputs(text, stdout);
			if (fflush(stdout) == EOF) {
				log_warn("plan: cannot write to stdout");
				rc = EXIT_TASK_FAILED;
			}
		} else if ((c = write_new_file(out, text, strlen(text),
		    force)) < 0) {
			log_warnx("plan: cannot write '%s': %s", out,
			    strerror(-c));
			rc = c == -EEXIST ? EXIT_USAGE : EXIT_TASK_FAILED;
		}
	}
	free(text);
done:
	free(prompt);
	free(ask);
	free(answer);
	free(ini);
	setup_release(&base);
	return rc;
}

static int
cmd_doctor(int argc, char **argv)
{
	const char *config = NULL, *file = NULL;
	struct setup s;
	int c, rc, probe = 0;

	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "probe", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'p': probe = 1; break;
		case 'h':
			printf("usage: drove doctor [-c CONFIG] [FILE.ini] "
			    "[--probe]\n"
			    "  One line per backend: ok, or why it cannot "
			    "work: API key present\n"
			    "  (never shown), CA bundle found, DNS, TCP and "
			    "TLS connect to base_url;\n"
			    "  exec backends: the command is in PATH.  "
			    "--probe also sends each\n"
			    "  backend a one-token request.  Exit 0 when "
			    "every line is ok, else 1.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc) {
		log_warnx("doctor: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	rc = setup_load(&s, NULL, config);
	if (rc)
		return rc;
	if (file != NULL) {
		char err[1024];

		if (conf_load(&s.conf, file, err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			setup_release(&s);
			return EXIT_USAGE;
		}
	}
	rc = doctor_run(&s.conf, &s.reg, probe);
	setup_release(&s);
	return rc;
}

static int
cmd_plugins(int argc, char **argv)
{
	const char *config = NULL;
	struct setup s;
	int c, rc;

	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h':
			printf("usage: drove plugins [-c CONFIG] "
			    "[--plugin-dir DIR]\n"
			    "  Lists the built-in plugins, those loaded from "
			    "[drove] plugin_dir and\n"
			    "  --plugin-dir, and each plugin file that did not "
			    "load, with why.\n"
			    "  Exit 0, or 1 when a plugin did not load.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	rc = setup_load(&s, NULL, config);
	if (rc)
		return rc;
	printf("drove %s, plugin ABI %d.%d\n", DROVE_VERSION, DROVE_ABI_MAJOR,
	    DROVE_ABI_MINOR);
	for (size_t i = 0; i < s.reg.n; i++) {
		const struct drove_plugin *p = s.reg.v[i].p;

		printf("%-8s %-12s %-6s ABI %u.%u  %-9s %s\n",
		    p->kind == DROVE_PLUGIN_BACKEND ? "backend" : "merge",
		    p->name, p->version ? p->version : "-", p->abi_major,
		    p->abi_minor, s.reg.v[i].overrides ? "overrides" :
		    s.reg.v[i].path ? "loaded" : "built-in",
		    s.reg.v[i].path ? s.reg.v[i].path :
		    p->description ? p->description : "");
	}
	for (size_t i = 0; i < s.reg.nfail; i++)
		printf("%-8s %-12s not loaded: %s\n", "FAILED",
		    *s.reg.fail[i].name ? s.reg.fail[i].name : "-",
		    s.reg.fail[i].reason);
	rc = s.reg.nfail ? 1 : 0;
	setup_release(&s);
	return rc;
}

/* Takes every --plugin-dir DIR (or --plugin-dir=DIR) out of argv, into
 * cli_plugin_dirs; returns the new argc, or -1 after a usage message. */
static int
take_plugin_dirs(int argc, char **argv)
{
	static const char opt[] = "--plugin-dir";
	size_t n = 0, len = sizeof(opt) - 1;
	int i, j;

	cli_plugin_dirs = xcalloc((size_t)argc + 1, sizeof(*cli_plugin_dirs));
	for (i = j = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strncmp(argv[i], opt, len) == 0 && argv[i][len] == '=') {
			cli_plugin_dirs[n++] = argv[i] + len + 1;
		} else if (strcmp(argv[i], opt) == 0) {
			if (i + 1 == argc) {
				log_warnx("--plugin-dir needs a directory");
				return -1;
			}
			cli_plugin_dirs[n++] = argv[++i];
		} else {
			argv[j++] = argv[i];
		}
	}
	argv[j] = NULL;
	return j;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	signal(SIGPIPE, SIG_IGN);
	if ((argc = take_plugin_dirs(argc, argv)) < 0)
		return EXIT_USAGE;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "graph") == 0)
		return cmd_graph(argc - 1, argv + 1);
	if (strcmp(cmd, "plan") == 0)
		return cmd_plan(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "clean") == 0)
		return cmd_clean(argc - 1, argv + 1);
	if (strcmp(cmd, "plugins") == 0)
		return cmd_plugins(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("drove %s (plugin ABI %d.%d)\n", DROVE_VERSION,
		    DROVE_ABI_MAJOR, DROVE_ABI_MINOR);
		return 0;
	}
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	if (strcmp(cmd, "fetch") == 0)
		return cmd_fetch(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	log_warnx("unknown command '%s'", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
