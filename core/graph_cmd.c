/* drove graph: the waves, every edge and why, and the critical path. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "estimate.h"
#include "sched.h"
#include "setup.h"
#include "util.h"

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

/* topo holds the tasks by wave, declared order within a wave */
static void
print_waves(FILE *f, const struct graph *g)
{
	size_t k = 0;

	for (int w = 0; w < g->nwaves; w++) {
		fprintf(f, "wave %d:", w + 1);
		for (; k < g->n && g->tasks[g->topo[k]].wave == w; k++) {
			putc(' ', f);
			fputs(g->tasks[g->topo[k]].name, f);
		}
		putc('\n', f);
	}
}

void
graph_print_text(FILE *f, const struct graph *g, const char *file,
    int edges)
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

			/* one line per edge, tens of thousands of them:
			 * pieces, not a format to parse each time */
			fputs("  ", f);
			fputs(g->tasks[e->task].name, f);
			fputs(" -> ", f);
			fputs(t->name, f);
			fputs("  (", f);
			fputs(edge_name(e->kind), f);
			if (e->detail) {
				fputs(": ", f);
				fputs(e->detail, f);
			}
			fputs(")\n", f);
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

int
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
			    "  it exists, the critical path, and the worst "
			    "case of the run: per backend\n"
			    "  the calls, input and output tokens and cost "
			    "(every answer at its max_tokens).\n"
			    "  --dot prints Graphviz input instead.\n"
			    "  -c, --config FILE  configuration file "
			    "(searched as for 'drove run')\n"
			    "exit status: 0 shown, 2 usage or config "
			    "error.\n");
			return 0;
		default:
			fprintf(stderr, "usage: drove graph FILE.ini [--dot]\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc - 1) {
		log_warnx("graph: unexpected argument '%s' (one task file "
		    "only)", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: drove graph FILE.ini [--dot]\n");
		return EXIT_USAGE;
	}
	rc = setup_load(&s, argv[optind], config);
	if (rc)
		return rc;
	if (dot) {
		print_graph_dot(stdout, &s.graph);
	} else {
		graph_print_text(stdout, &s.graph, argv[optind], 1);
		rc = estimate_show(stdout, &s.conf, &s.graph, &s.reg, NULL, 0);
	}
	setup_release_exit(&s);
	return rc;
}
