/*
 * Unit tests for core/writes.c: the writes edges from the glob index give
 * the same edges, in the same order and with the same labels, as comparing
 * every pair of tasks (the reference below, as graph.c did it before).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "drove/plugin.h"
#include "graph.h"
#include "t.h"
#include "util.h"
#include "writes.h"

/* --- the reference: every pair, a graph search per overlapping pair --- */

static int
ref_depends_on(const struct graph *g, size_t a, size_t b)
{
	unsigned char *seen = xcalloc(g->n, 1);
	size_t *stack = xmalloc(g->n * sizeof(*stack));
	size_t sp = 0, u, i, v;
	int found = 0;

	stack[sp++] = a;
	seen[a] = 1;
	while (sp > 0 && !found) {
		u = stack[--sp];
		for (i = 0; i < g->tasks[u].ndeps; i++) {
			v = g->tasks[u].deps[i].task;
			if (v == b) {
				found = 1;
				break;
			}
			if (!seen[v]) {
				seen[v] = 1;
				stack[sp++] = v;
			}
		}
	}
	free(seen);
	free(stack);
	return found;
}

static void
ref_add_dep(struct task *t, size_t dep, char *detail)
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
	t->deps[t->ndeps].kind = EDGE_WRITES;
	t->deps[t->ndeps].line = 0;
	t->deps[t->ndeps].detail = detail;
	t->ndeps++;
}

static void
ref_writes_edges(struct graph *g)
{
	struct task *a, *t;
	size_t i, j, x, y;
	int done;

	for (j = 1; j < g->n; j++) {
		t = &g->tasks[j];
		if (t->nwrites == 0)
			continue;
		for (i = j; i-- > 0;) {
			a = &g->tasks[i];
			done = 0;
			for (x = 0; x < t->nwrites && !done; x++) {
				for (y = 0; y < a->nwrites && !done; y++) {
					if (!glob_overlap(t->writes[x],
					    a->writes[y]))
						continue;
					done = 1;
					if (ref_depends_on(g, j, i) ||
					    ref_depends_on(g, i, j))
						continue;
					ref_add_dep(t, i, xasprintf("%s ~ %s",
					    t->writes[x], a->writes[y]));
				}
			}
		}
	}
}

/* --- random task files -------------------------------------------------- */

static unsigned long long rng = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const fixed[] = {
	"src/*.c", "src/**", "*", "**", "a/b?/c", "src/a.c", "src/a.c",
	"./src/a.c", "src/", "src", "src/x/y.c", "src/*.h", "docs/*",
	"a/b1/c", "a/bb/c", "a/b/c", "a/**/c", "**/c", "*.c", "a.c",
	"src/[ab].c", "src/[!a].c", "src/b.c", "src/a", "src/ab", "src/a*",
	"a/", "a", "a/b", "a/b*", "a/b?", "src\\*.c", "src/[a].c", "[s]rc/*",
	"?rc/a.c", "src/a.[ch]", "./**", "out/f1.txt", "out/f10.txt",
	"out/f1*", "out/**/f1.txt", "out/*/x", "lib/x", "lib/*", "[/]x",
};

static const char *const parts[] = {
	"src", "a", "b", "out", "*", "**", "?", "x.c", "a.c", "b?", "[ab]",
	"f1", "f10", "*.c", "s*", ".",
};

static void
random_glob(struct buf *b)
{
	unsigned k, n;

	if (rnd(2) == 0) {
		buf_adds(b, fixed[rnd(sizeof(fixed) / sizeof(*fixed))]);
		return;
	}
	n = 1 + rnd(3);
	for (k = 0; k < n; k++)
		buf_printf(b, "%s%s", k ? "/" : "",
		    parts[rnd(sizeof(parts) / sizeof(*parts))]);
	if (rnd(8) == 0)
		buf_adds(b, "/");
}

/* n tasks; edges only from later to earlier in a random order (no
 * cycles), after = and {{ref}}, so some run against declared order. */
static char *
random_file(size_t n)
{
	struct buf b = BUF_INIT;
	size_t *pos = xmalloc(n * sizeof(*pos)), i, k, d, nw, na, nafter;

	for (i = 0; i < n; i++)
		pos[i] = i;
	if (rnd(2))
		for (i = n; i > 1; i--) {
			k = rnd((unsigned)i);
			d = pos[i - 1];
			pos[i - 1] = pos[k];
			pos[k] = d;
		}
	buf_adds(&b, "[backend b]\ntype = exec\n");
	for (i = 0; i < n; i++) {
		buf_printf(&b, "[task t%zu]\nprompt = p", i);
		nafter = 0;
		if (rnd(4) == 0) {
			d = rnd((unsigned)n);
			if (pos[d] < pos[i])
				buf_printf(&b, " {{t%zu}}", d);
		}
		buf_adds(&b, "\n");
		na = rnd(3);
		for (k = 0; k < na; k++) {
			d = rnd((unsigned)n);
			if (pos[d] < pos[i])
				buf_printf(&b, "%st%zu", nafter++ ? ", " :
				    "after = ", d);
		}
		if (nafter)
			buf_adds(&b, "\n");
		nw = rnd(4);
		if (nw) {
			buf_adds(&b, "writes = ");
			for (k = 0; k < nw; k++) {
				if (k)
					buf_adds(&b, ", ");
				random_glob(&b);
			}
			buf_adds(&b, "\n");
		}
	}
	free(pos);
	return buf_detach(&b, NULL);
}

/* graph's tasks without their writes edges (writes borrowed) */
static void
strip_writes(const struct graph *g, struct graph *r)
{
	size_t i, k;

	r->n = g->n;
	r->tasks = xcalloc(g->n, sizeof(*r->tasks));
	for (i = 0; i < g->n; i++) {
		const struct task *t = &g->tasks[i];
		struct task *u = &r->tasks[i];

		u->writes = t->writes;
		u->nwrites = t->nwrites;
		u->deps = xcalloc(t->ndeps + 1, sizeof(*u->deps));
		for (k = 0; k < t->ndeps; k++)
			if (t->deps[k].kind != EDGE_WRITES)
				u->deps[u->ndeps++] = t->deps[k];
	}
}

static int
same_edges(const struct graph *g, const struct graph *r, const char *text)
{
	size_t i, k;

	for (i = 0; i < g->n; i++) {
		const struct task *a = &g->tasks[i], *b = &r->tasks[i];
		int same = a->ndeps == b->ndeps;

		for (k = 0; same && k < a->ndeps; k++)
			same = a->deps[k].task == b->deps[k].task &&
			    a->deps[k].kind == b->deps[k].kind &&
			    a->deps[k].line == b->deps[k].line &&
			    (a->deps[k].detail == NULL) ==
			    (b->deps[k].detail == NULL) &&
			    (a->deps[k].detail == NULL ||
			    strcmp(a->deps[k].detail, b->deps[k].detail) == 0);
		if (!same) {
			fprintf(stderr, "task t%zu: %zu edges, reference %zu, "
			    "in:\n%s\n", i, a->ndeps, b->ndeps, text);
			for (k = 0; k < a->ndeps; k++)
				fprintf(stderr, "  got -> t%zu %s\n",
				    a->deps[k].task, a->deps[k].detail ?
				    a->deps[k].detail : "");
			for (k = 0; k < b->ndeps; k++)
				fprintf(stderr, "  ref -> t%zu %s\n",
				    b->deps[k].task, b->deps[k].detail ?
				    b->deps[k].detail : "");
			return 0;
		}
	}
	return 1;
}

static void
release_ref(struct graph *r)
{
	size_t i, k;

	for (i = 0; i < r->n; i++) {
		for (k = 0; k < r->tasks[i].ndeps; k++)
			if (r->tasks[i].deps[k].kind == EDGE_WRITES)
				free(r->tasks[i].deps[k].detail);
		free(r->tasks[i].deps);
	}
	free(r->tasks);
}

static void
test_same_as_every_pair(void)
{
	char err[1024];
	unsigned round, edges = 0;

	for (round = 0; round < 3000; round++) {
		struct conf c;
		struct graph g, r;
		char *text = random_file(2 + rnd(round < 2500 ? 12 : 60));
		size_t i;

		/* odd rounds: no ancestor bits, the graph is searched */
		writes_anc_max_bytes = round % 2 ? 0 : (size_t)32 << 20;
		conf_init(&c);
		graph_init(&g);
		CHECK_INT(conf_load_string(&c, "tasks.ini", text, err,
		    sizeof(err)), 0);
		CHECK_INT(graph_build(&g, &c, NULL, err, sizeof(err)), 0);
		if (err[0])
			fprintf(stderr, "%s\n%s\n", err, text);
		strip_writes(&g, &r);
		ref_writes_edges(&r);
		for (i = 0; i < g.n; i++)
			for (size_t k = 0; k < g.tasks[i].ndeps; k++)
				edges += g.tasks[i].deps[k].kind ==
				    EDGE_WRITES;
		if (!same_edges(&g, &r, text)) {
			t_failures++;
			round = 1u << 30;
		}
		release_ref(&r);
		graph_release(&g);
		conf_release(&c);
		free(text);
	}
	writes_anc_max_bytes = (size_t)32 << 20;
	/* the files made writes edges, and not only a few */
	CHECK(edges > 3000);
}

/* Many tasks writing one path: a chain, each task waiting for the last. */
static void
test_same_path_chain(void)
{
	struct buf b = BUF_INIT;
	char err[1024];
	struct conf c;
	struct graph g;
	size_t i;

	buf_adds(&b, "[backend b]\ntype = exec\n");
	for (i = 0; i < 300; i++)
		buf_printf(&b, "[task t%zu]\nprompt = p\nwrites = %s\n", i,
		    i % 2 ? "out/x" : "./out/x");
	conf_init(&c);
	graph_init(&g);
	CHECK_INT(conf_load_string(&c, "tasks.ini", buf_str(&b), err,
	    sizeof(err)), 0);
	CHECK_INT(graph_build(&g, &c, NULL, err, sizeof(err)), 0);
	CHECK_INT(g.nwaves, 300);
	for (i = 1; i < g.n; i++) {
		CHECK_INT(g.tasks[i].ndeps, 1);
		CHECK_INT(g.tasks[i].deps[0].task, i - 1);
	}
	CHECK_STR(g.tasks[1].deps[0].detail, "out/x ~ ./out/x");
	graph_release(&g);
	conf_release(&c);
	buf_release(&b);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "same_as_every_pair", test_same_as_every_pair },
		{ "same_path_chain", test_same_path_chain },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
