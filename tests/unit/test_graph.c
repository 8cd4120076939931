/* Unit tests for core/graph.c: tasks, edges, cycles, waves, globs. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "drove/plugin.h"
#include "graph.h"
#include "t.h"
#include "util.h"

static char err[1024];
static struct conf conf;
static struct graph graph;

static const char *const merges[] = {
	"additive", "aggregative", "competitive", "consensus", NULL
};

/* Loads text as tasks.ini and builds the graph with opts (NULL: none). */
static int
build_opts(const char *text, const struct graph_opts *o)
{
	graph_release(&graph);
	conf_release(&conf);
	err[0] = '\0';
	if (conf_load_string(&conf, "tasks.ini", text, err, sizeof(err)) < 0) {
		fprintf(stderr, "conf: %s\n", err);
		return -100;
	}
	return graph_build(&graph, &conf, o, err, sizeof(err));
}

static int
build(const char *text)
{
	/* the merge plugins' own task keys come from the registry */
	static const char *const merge_keys[] = { "judge", "score",
		"weights", "quorum", NULL };
	struct graph_opts o = { merges, merge_keys, NULL, 0 };

	return build_opts(text, &o);
}

static void
done(void)
{
	graph_release(&graph);
	conf_release(&conf);
}

static void
expect_error(const char *text, const char *msg)
{
	CHECK_INT(build(text), DROVE_EINVAL);
	CHECK_STR(err, msg);
	CHECK(strchr(err, '\n') == NULL);
	CHECK_INT(graph.n, 0);
	done();
}

static const struct task *
task(const char *name)
{
	long i = graph_find(&graph, name);

	if (i < 0) {
		fprintf(stderr, "no task '%s'\n", name);
		exit(1);
	}
	return &graph.tasks[i];
}

static const struct edge *
edge_to(const char *from, const char *to)
{
	const struct task *t = task(from);
	long d = graph_find(&graph, to);
	size_t i;

	for (i = 0; i < t->ndeps; i++)
		if ((long)t->deps[i].task == d)
			return &t->deps[i];
	return NULL;
}

#define BACKEND "[backend b]\ntype = exec\n"

static void
test_diamond_waves(void)
{
	const struct task *t;
	size_t i, pos[4];

	CHECK_INT(build(BACKEND
	    "[task d]\nafter = b, c\nprompt = join\n"
	    "[task a]\nprompt = start\n"
	    "[task b]\nafter = a\nprompt = left\n"
	    "[task c]\nafter = a\nprompt = right\n"), 0);
	CHECK_STR(err, "");
	CHECK_INT(graph.n, 4);
	CHECK_STR(graph.tasks[0].name, "d");
	CHECK_INT(graph.nwaves, 3);
	CHECK_INT(task("a")->wave, 0);
	CHECK_INT(task("b")->wave, 1);
	CHECK_INT(task("c")->wave, 1);
	CHECK_INT(task("d")->wave, 2);
	t = task("d");
	CHECK_INT(t->ndeps, 2);
	CHECK(edge_to("d", "b") != NULL && edge_to("d", "b")->kind ==
	    EDGE_AFTER);
	CHECK_INT(edge_to("d", "b")->line, 4);
	CHECK(edge_to("b", "a") != NULL);
	CHECK(edge_to("a", "b") == NULL);
	CHECK_INT(task("a")->nrdeps, 2);
	CHECK_INT(task("d")->nrdeps, 0);
	/* topological order: by wave, then declared order */
	for (i = 0; i < 4; i++)
		pos[graph.topo[i]] = i;
	CHECK_INT(graph.topo[0], graph_find(&graph, "a"));
	CHECK(pos[graph_find(&graph, "b")] < pos[graph_find(&graph, "d")]);
	CHECK(pos[graph_find(&graph, "c")] < pos[graph_find(&graph, "d")]);
	CHECK_INT(graph.topo[1], graph_find(&graph, "b"));
	CHECK_INT(graph.topo[3], graph_find(&graph, "d"));
	CHECK(graph_depends_on(&graph, graph_find(&graph, "d"),
	    graph_find(&graph, "a")));
	CHECK(!graph_depends_on(&graph, graph_find(&graph, "a"),
	    graph_find(&graph, "d")));
	CHECK(!graph_depends_on(&graph, graph_find(&graph, "b"),
	    graph_find(&graph, "c")));
	CHECK_INT(graph_find(&graph, "zz"), -1);
	/* defaults */
	t = task("a");
	CHECK_INT(t->replicas, 1);
	CHECK_INT(t->retries, 0);
	CHECK(t->timeout_s == 0);
	CHECK_INT(t->max_tokens, 0);
	CHECK_STR(t->merge, "additive");
	CHECK_INT(t->isolation, ISOLATION_NONE);
	CHECK_INT(t->nbackends, 1);
	CHECK_STR(t->backends[0], "b");
	CHECK(t->backends[1] == NULL);
	CHECK_STR(t->prompt, "start");
	CHECK(t->system == NULL && t->output == NULL && t->model == NULL);
	CHECK_INT(t->nwrites, 0);
	CHECK(t->writes != NULL && t->writes[0] == NULL);
	CHECK(t->sec == conf_find(&conf, "task", "a"));
	done();
}

static void
test_ref_edges(void)
{
	const struct edge *e;

	CHECK_INT(build(BACKEND
	    "[task tests]\nprompt = write tests\n"
	    "[task docs]\nprompt = write docs\n"
	    "[task log]\nprompt = Changelog. Report:\n"
	    "  {{tests}} and {{ docs }}; {{not a ref}} {{}} {x} {{tests\n"
	    "system = be {{\tdocs\t}} brief\n"
	    "[task other]\nprompt = no refs {{ a b }}\n"), 0);
	CHECK_STR(err, "");
	e = edge_to("log", "tests");
	CHECK(e != NULL && e->kind == EDGE_REF);
	if (e)
		CHECK_INT(e->line, 8);
	e = edge_to("log", "docs");
	CHECK(e != NULL && e->kind == EDGE_REF);
	CHECK_INT(task("log")->ndeps, 2);
	CHECK_INT(task("log")->wave, 1);
	CHECK_INT(task("other")->ndeps, 0);
	CHECK_STR(task("log")->system, "be {{\tdocs\t}} brief");
	done();

	/* a reference in system alone is an edge too */
	CHECK_INT(build(BACKEND "[task a]\nprompt = x\n"
	    "[task b]\nprompt = y\nsystem = {{a}}\n"), 0);
	CHECK(edge_to("b", "a") != NULL);
	done();
}

static void
test_find_ref(void)
{
	const char *s = "x {{ {{ name.1 }} }}", *end, *name, *p;
	size_t len;

	p = graph_find_ref(s, &end, &name, &len);
	CHECK(p == s + 5);
	CHECK_INT(len, 6);
	CHECK(strncmp(name, "name.1", len) == 0);
	CHECK_STR(end, " }}");
	CHECK(graph_find_ref("{{a b}} {{ }} {{a", NULL, NULL, NULL) == NULL);
	CHECK(graph_find_ref("{{{x}}}", &end, &name, &len) != NULL);
	CHECK(len == 1 && *name == 'x');
}

/* The ref_text of a run: a -> "A\n", anything else kept. */
static int
lookup_a(void *arg, const char *name, size_t len, const char **text,
    size_t *tlen)
{
	(void)arg;
	if (len != 1 || *name != 'a')
		return 0;
	*text = "A";
	*tlen = 1;
	return 1;
}

/* "{{{{" is a literal "{{": no edge, and "{{" in the text. */
static void
test_ref_escape(void)
{
	const char *end, *name;
	char *x;
	size_t len;

	CHECK(graph_find_ref("${{{{ secrets.TOKEN }}", NULL, NULL, NULL) ==
	    NULL);
	CHECK(graph_find_ref("{{{{a}} {{ b }}", &end, &name, &len) != NULL);
	CHECK(len == 1 && *name == 'b' && *end == '\0');
	x = graph_expand_refs("run: ${{{{ secrets.X }} {{a}} {{ a }} {{zz}} "
	    "{{{{{{{{ {{{a}}} {{ x", lookup_a, NULL);
	CHECK_STR(x, "run: ${{ secrets.X }} A A {{zz}} {{{{ {A} {{ x");
	free(x);
	x = graph_expand_refs("no brace } { here", lookup_a, NULL);
	CHECK_STR(x, "no brace } { here");
	free(x);
	/* a "{{" with no "}}" after it still lets a later escape work */
	x = graph_expand_refs("{{ x {{{{", lookup_a, NULL);
	CHECK_STR(x, "{{ x {{");
	free(x);

	/* no edge to "secrets.X", which is not a task */
	CHECK_INT(build(BACKEND "[task a]\nprompt = echo ${{{{ secrets.X }}\n"
	    "[task b]\nprompt = {{a}} {{{{b}}\n"), 0);
	CHECK_INT(task("a")->ndeps, 0);
	CHECK_INT(task("b")->ndeps, 1);
	CHECK_STR(task("a")->prompt, "echo ${{{{ secrets.X }}");
	done();
	expect_error(BACKEND "[task a]\nprompt = echo ${{ secrets.X }}\n",
	    "tasks.ini:4: task 'a' depends on 'secrets.X', which does not "
	    "exist (referenced as {{secrets.X}} in 'prompt'; for a literal "
	    "{{ write {{{{)");
}

/* A name that cannot name the task's files is refused at its header. */
static void
test_name_limit(void)
{
	char name[GRAPH_NAME_MAX + 2], *text, want[256];

	memset(name, 'n', sizeof(name) - 1);
	name[GRAPH_NAME_MAX] = '\0';
	text = xasprintf(BACKEND "\n[task %s]\nprompt = p\n", name);
	CHECK_INT(build(text), 0);
	done();
	free(text);
	name[GRAPH_NAME_MAX] = 'n';
	name[GRAPH_NAME_MAX + 1] = '\0';
	text = xasprintf(BACKEND "\n[task %s]\nprompt = p\n", name);
	snprintf(want, sizeof(want), "tasks.ini:4: task '%.60s...': name too "
	    "long (a task name names files and a branch: at most %d bytes)",
	    name, GRAPH_NAME_MAX);
	expect_error(text, want);
	free(text);
	expect_error(BACKEND "[task ..]\nprompt = p\n", "tasks.ini:3: task "
	    "'..': '.' and '..' cannot name a task (a task name names files)");
}

static void
test_unknown_dep(void)
{
	expect_error(BACKEND "[task a]\nprompt = p\n"
	    "[task b]\nprompt = q\nafter = a, c\n",
	    "tasks.ini:7: task 'b' depends on 'c', which does not exist "
	    "(in 'after')");
	expect_error(BACKEND "[task a]\nprompt = p\n"
	    "[task b]\nprompt = q\nafter = a b\n",
	    "tasks.ini:7: task 'b': bad task name 'a b' in 'after' (names "
	    "use only A-Z a-z 0-9 _ . -)");
}

static void
test_unknown_ref(void)
{
	expect_error(BACKEND "[task a]\nprompt = p\n"
	    "[task b]\nmodel = m\nprompt = use {{a}}\n  and {{ c }}\n",
	    "tasks.ini:7: task 'b' depends on 'c', which does not exist "
	    "(referenced as {{c}} in 'prompt'; for a literal {{ write {{{{)");
	expect_error(BACKEND "[task b]\nprompt = p\nsystem = {{zz}}\n",
	    "tasks.ini:5: task 'b' depends on 'zz', which does not exist "
	    "(referenced as {{zz}} in 'system'; for a literal {{ write {{{{)");
}

static void
test_unknown_backend(void)
{
	expect_error("[backend claude]\ntype = anthropic\n"
	    "[backend local]\ntype = openai\n"
	    "[task docs]\n"
	    "prompt = write\n"
	    "backend = claude, gtp4\n",
	    "tasks.ini:7: task 'docs': unknown backend 'gtp4'");
	expect_error(BACKEND "[task j]\nprompt = p\nmerge = competitive\n"
	    "judge = nope\n",
	    "tasks.ini:6: task 'j': unknown backend 'nope'");
	expect_error(BACKEND "[task j]\nprompt = p\nbackend = ,\n",
	    "tasks.ini:5: task 'j': empty backend list");
}

static void
test_backends_spread(void)
{
	const struct task *t;

	CHECK_INT(build("[backend claude]\n[backend local]\n"
	    "[task answer]\nbackend = claude, local\nreplicas = 5\n"
	    "merge = consensus\nprompt = ?\n"), 0);
	t = task("answer");
	CHECK_INT(t->nbackends, 2);
	CHECK_STR(t->backends[0], "claude");
	CHECK_STR(t->backends[1], "local");
	CHECK(t->backends[2] == NULL);
	CHECK_INT(t->replicas, 5);
	CHECK_STR(t->merge, "consensus");
	done();
}

static void
test_default_backend(void)
{
	struct graph_opts o = { merges, NULL, "local", 0 };

	/* exactly one backend section: it is the default */
	CHECK_INT(build("[backend only]\n[task a]\nprompt = p\n"), 0);
	CHECK_STR(task("a")->backends[0], "only");
	CHECK_INT(task("a")->nbackends, 1);
	done();
	expect_error("[backend x]\n[backend y]\n[task a]\nprompt = p\n",
	    "tasks.ini:3: task 'a': no backend: 2 backends are defined; say "
	    "which with 'backend = NAME'");
	expect_error("[task a]\nprompt = p\n",
	    "tasks.ini:1: task 'a': no backend: define a [backend NAME] "
	    "section");
	/* the [drove] default wins over the count */
	CHECK_INT(build_opts("[backend claude]\n[backend local]\n"
	    "[task a]\nprompt = p\n[task b]\nbackend = claude\nprompt = q\n",
	    &o), 0);
	CHECK_STR(task("a")->backends[0], "local");
	CHECK_STR(task("b")->backends[0], "claude");
	done();
	CHECK_INT(build_opts("[backend claude]\n[task a]\nprompt = p\n", &o),
	    DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:2: task 'a': unknown backend 'local' (the "
	    "default backend)");
	done();
}

static void
test_cycle(void)
{
	expect_error(BACKEND
	    "[task a]\nprompt = p\nafter = b\n"
	    "[task b]\nprompt = {{c}}\n"
	    "[task c]\nprompt = p\nafter = a\n",
	    "tasks.ini:5: cycle: a -> b -> c -> a");
	/* the report starts at the earliest declared task of the cycle */
	expect_error(BACKEND
	    "[task x]\nprompt = p\nafter = c\n"
	    "[task a]\nprompt = p\nafter = c\n"
	    "[task b]\nprompt = p\nafter = a\n"
	    "[task c]\nprompt = p\nafter = b\n",
	    "tasks.ini:8: cycle: a -> c -> b -> a");
	expect_error(BACKEND
	    "[task a]\nprompt = p\n"
	    "[task m]\ninputs = a, n\n"
	    "[task n]\nprompt = {{m}}\n",
	    "tasks.ini:6: cycle: m -> n -> m");
}

static void
test_self_dependency(void)
{
	expect_error(BACKEND "[task a]\nprompt = p\nafter = a\n",
	    "tasks.ini:5: cycle: a -> a");
	expect_error(BACKEND "[task a]\nprompt = loop {{a}}\n",
	    "tasks.ini:4: cycle: a -> a");
}

static void
test_empty_prompt(void)
{
	expect_error(BACKEND "[task a]\n",
	    "tasks.ini:3: task 'a': empty prompt");
	expect_error(BACKEND "[task a]\nprompt =\n",
	    "tasks.ini:4: task 'a': empty prompt");
	expect_error(BACKEND "[task a]\nmodel = m\nprompt = \t \n",
	    "tasks.ini:5: task 'a': empty prompt");
	expect_error(BACKEND "[task a]\nprompt = p\nprompt_file = x\n",
	    "tasks.ini:5: task 'a': prompt and prompt_file are both set; "
	    "keep one");
}

static void
test_prompt_file(void)
{
	char dir[] = "/tmp/drove-test-graph.XXXXXX", path[256], want[1024];
	char pf[256];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(pf, sizeof(pf), "%s/prompt.txt", dir);
	f = fopen(pf, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs("from a file: {{a}}\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/tasks.ini", dir);
	f = fopen(path, "w");
	fputs(BACKEND "[task a]\nprompt = p\n"
	    "[task b]\nprompt_file = prompt.txt\n", f);
	fclose(f);

	/* relative to the task file's directory, not the current one */
	conf_init(&conf);
	CHECK_INT(conf_load(&conf, path, err, sizeof(err)), 0);
	CHECK_INT(graph_build(&graph, &conf, NULL, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (graph.n == 2) {
		CHECK_STR(task("b")->prompt, "from a file: {{a}}\n");
		CHECK(edge_to("b", "a") != NULL);
		CHECK_INT(edge_to("b", "a")->line, 6);
	}
	done();

	unlink(pf);
	conf_init(&conf);
	CHECK_INT(conf_load(&conf, path, err, sizeof(err)), 0);
	CHECK_INT(graph_build(&graph, &conf, NULL, err, sizeof(err)),
	    DROVE_EINVAL);
	snprintf(want, sizeof(want), "%s:6: task 'b': cannot read "
	    "prompt_file '%s': %s", path, pf, strerror(ENOENT));
	CHECK_STR(err, want);
	done();
	unlink(path);
	rmdir(dir);
}

static void
test_writes_overlap(void)
{
	const struct edge *e;

	CHECK_INT(build(BACKEND
	    "[task a]\nprompt = p\nwrites = src/a.c\n"
	    "[task b]\nprompt = p\nwrites = docs/*\n"
	    "[task c]\nprompt = p\nwrites = tests/**, src/**\n"
	    "[task d]\nprompt = p\nwrites = src/*.c\n"
	    "[task e]\nprompt = p\nwrites = src/x/y.c, src/*.h\n"), 0);
	CHECK_STR(err, "");
	/* c waits for a */
	e = edge_to("c", "a");
	CHECK(e != NULL);
	if (e) {
		CHECK_INT(e->kind, EDGE_WRITES);
		CHECK_STR(e->detail, "src/** ~ src/a.c");
		CHECK_INT(e->line, 0);
	}
	CHECK(edge_to("a", "c") == NULL);
	CHECK(edge_to("b", "a") == NULL);
	CHECK(edge_to("c", "b") == NULL);
	/* d overlaps a and c; c already waits for a, so d -> c suffices */
	CHECK(edge_to("d", "c") != NULL);
	CHECK(edge_to("d", "a") == NULL);
	CHECK(graph_depends_on(&graph, graph_find(&graph, "d"),
	    graph_find(&graph, "a")));
	/* e's globs miss d's (no '/' in a star) but meet c's double star */
	CHECK(edge_to("e", "d") == NULL);
	CHECK(edge_to("e", "c") != NULL);
	CHECK_INT(task("e")->ndeps, 1);
	CHECK_INT(task("a")->wave, 0);
	CHECK_INT(task("b")->wave, 0);
	CHECK_INT(task("c")->wave, 1);
	CHECK_INT(task("d")->wave, 2);
	CHECK_INT(task("e")->wave, 2);
	CHECK_INT(graph.nwaves, 3);
	CHECK_INT(task("c")->nwrites, 2);
	CHECK_STR(task("c")->writes[1], "src/**");
	done();
}

static void
test_writes_already_ordered(void)
{
	/* b already waits for a: no writes edge either way */
	CHECK_INT(build(BACKEND
	    "[task a]\nprompt = p\nwrites = src/**\nafter = b\n"
	    "[task b]\nprompt = p\nwrites = src/a.c\n"
	    "[task c]\nprompt = p\nwrites = lib/x\n"
	    "[task d]\nprompt = {{c}}\nwrites = lib/*\n"), 0);
	CHECK_INT(task("a")->ndeps, 1);
	CHECK_INT(task("b")->ndeps, 0);
	CHECK_INT(edge_to("a", "b")->kind, EDGE_AFTER);
	CHECK_INT(task("d")->ndeps, 1);
	CHECK_INT(edge_to("d", "c")->kind, EDGE_REF);
	done();
}

static void
test_glob_overlap(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "src/**", "src/a.c", 1 },
		{ "src/*.c", "src/x/y.c", 0 },
		{ "docs/*", "src/*", 0 },
		{ "a?c", "abc", 1 },
		{ "a?c", "a/c", 0 },
		{ "a?c", "abd", 0 },
		{ "src/a.c", "src/a.c", 1 },
		{ "src/a.c", "src/b.c", 0 },
		{ "*.c", "*.h", 0 },
		{ "*a", "b*", 1 },
		{ "*", "a/b", 0 },
		{ "**", "a/b/c", 1 },
		{ "a/**/b", "a/b", 1 },
		{ "a/**/b", "a/x/y/b", 1 },
		{ "a/**/b", "a/x/c", 0 },
		{ "**/x.c", "x.c", 1 },
		{ "**/x.c", "d/e/x.c", 1 },
		{ "a/*/c", "a/**", 1 },
		{ "a/*/c", "a/b/d/c", 0 },
		{ "[ab]x", "[bc]x", 1 },
		{ "[a]x", "[b]x", 0 },
		{ "[!a]", "a", 0 },
		{ "[!a]", "b", 1 },
		{ "[a-c]", "b", 1 },
		{ "[a-c]", "d", 0 },
		{ "a[/]b", "a/b", 0 },
		{ "\\*", "*", 1 },
		{ "\\*", "a", 0 },
		{ "src/", "src/a/b.c", 1 },
		{ "./src/a.c", "src/a.c", 1 },
		{ "x*y*z", "*q*", 1 },
		{ "ab*", "*ba", 1 },
		{ "a*b", "ba*", 0 },
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "*", "", 1 },
		{ "*.[ch]", "main.h", 1 },
		{ "src/*", "src/", 1 },
		{ "[", "[", 1 },
	};
	size_t i;
	int got;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		got = glob_overlap(cases[i].a, cases[i].b);
		if (got != cases[i].want)
			fprintf(stderr, "glob_overlap('%s', '%s') = %d\n",
			    cases[i].a, cases[i].b, got);
		CHECK_INT(got, cases[i].want);
		/* symmetric */
		CHECK_INT(glob_overlap(cases[i].b, cases[i].a), got);
	}
}

static void
test_critical_path(void)
{
	size_t path[8], n;
	double total = -1, dur[5];
	long a, b, c, d, e;

	CHECK_INT(build(BACKEND
	    "[task a]\nprompt = p\n"
	    "[task b]\nprompt = p\nafter = a\n"
	    "[task c]\nprompt = p\nafter = a\n"
	    "[task d]\nprompt = p\nafter = b, c\n"
	    "[task e]\nprompt = p\n"), 0);
	a = graph_find(&graph, "a");
	b = graph_find(&graph, "b");
	c = graph_find(&graph, "c");
	d = graph_find(&graph, "d");
	e = graph_find(&graph, "e");
	/* unweighted: three tasks; the tie b/c goes to the earlier, b */
	n = graph_critical_path(&graph, NULL, path, 8, &total);
	CHECK_INT(n, 3);
	CHECK(total == 3);
	CHECK_INT(path[0], a);
	CHECK_INT(path[1], b);
	CHECK_INT(path[2], d);
	/* count only */
	CHECK_INT(graph_critical_path(&graph, NULL, NULL, 0, NULL), 3);
	/* weighted: c is slow */
	dur[a] = 1;
	dur[b] = 2;
	dur[c] = 5;
	dur[d] = 1;
	dur[e] = 4;
	n = graph_critical_path(&graph, dur, path, 8, &total);
	CHECK_INT(n, 3);
	CHECK(total == 7);
	CHECK_INT(path[1], c);
	/* a lone slow task is the whole critical path */
	dur[e] = 10;
	n = graph_critical_path(&graph, dur, path, 8, &total);
	CHECK_INT(n, 1);
	CHECK(total == 10);
	CHECK_INT(path[0], e);
	/* a short buffer gets the first entries, source first */
	dur[e] = 0;
	n = graph_critical_path(&graph, dur, path, 2, &total);
	CHECK_INT(n, 3);
	CHECK_INT(path[0], a);
	CHECK_INT(path[1], c);
	done();
}

static void
test_merge_node(void)
{
	const struct task *t;
	const struct edge *e;

	CHECK_INT(build(BACKEND
	    "[task a]\nprompt = p\n"
	    "[task b]\nprompt = q\n"
	    "[task m]\ninputs = a,\n  b\n"
	    "[task n]\ninputs = m\nmerge = competitive\njudge = b\n"), 0);
	CHECK_STR(err, "");
	t = task("m");
	CHECK_INT(t->ninputs, 2);
	CHECK_STR(t->inputs[0], "a");
	CHECK_STR(t->inputs[1], "b");
	CHECK(t->inputs[2] == NULL);
	CHECK_INT(t->nbackends, 0);
	CHECK(t->backends != NULL && t->backends[0] == NULL);
	CHECK_STR(t->merge, "aggregative");
	e = edge_to("m", "a");
	CHECK(e != NULL && e->kind == EDGE_INPUT);
	if (e)
		CHECK_INT(e->line, 8);
	CHECK(edge_to("m", "b") != NULL);
	CHECK_INT(t->wave, 1);
	CHECK_STR(task("n")->merge, "competitive");
	CHECK_INT(task("n")->wave, 2);
	CHECK_INT(task("a")->ninputs, 0);
	CHECK(task("a")->inputs != NULL && task("a")->inputs[0] == NULL);
	done();

	expect_error(BACKEND "[task a]\nprompt = p\n"
	    "[task m]\ninputs = a\nbackend = b\n",
	    "tasks.ini:7: task 'm': a merge node (inputs =) takes no "
	    "backend");
	expect_error(BACKEND "[task a]\nprompt = p\n"
	    "[task m]\ninputs = a\nprompt = x\n",
	    "tasks.ini:7: task 'm': a merge node (inputs =) takes no prompt");
	expect_error(BACKEND "[task a]\nprompt = p\n"
	    "[task m]\ninputs = a, zz\n",
	    "tasks.ini:6: task 'm' depends on 'zz', which does not exist "
	    "(in 'inputs')");
	expect_error(BACKEND "[task m]\ninputs = ,\n",
	    "tasks.ini:4: task 'm': empty inputs list");
}

static void
test_bad_numbers(void)
{
	expect_error(BACKEND "[task a]\nprompt = p\nreplicas = 0\n",
	    "tasks.ini:5: task 'a': bad value '0' for 'replicas' (expected "
	    "an integer from 1 to 1000)");
	expect_error(BACKEND "[task a]\nprompt = p\nreplicas = 1001\n",
	    "tasks.ini:5: task 'a': bad value '1001' for 'replicas' "
	    "(expected an integer from 1 to 1000)");
	expect_error(BACKEND "[task a]\nprompt = p\nretries = abc\n",
	    "tasks.ini:5: task 'a': bad value 'abc' for 'retries' (expected "
	    "an integer from 0 to 100)");
	expect_error(BACKEND "[task a]\nprompt = p\nmax_tokens = 0\n",
	    "tasks.ini:5: task 'a': bad value '0' for 'max_tokens' (expected "
	    "an integer from 1 to 10000000)");
	expect_error(BACKEND "[task a]\nprompt = p\ntimeout = soon\n",
	    "tasks.ini:5: task 'a': bad value 'soon' for 'timeout' (expected "
	    "a duration from 0 to 1000000000 seconds: 90, 90s, 5m or 1h)");
	expect_error(BACKEND "[task a]\nprompt = p\ntimeout = 0\n",
	    "tasks.ini:5: task 'a': bad value '0' for 'timeout' (expected "
	    "seconds, more than 0)");
	expect_error(BACKEND "[task a]\nprompt = p\nisolation = chroot\n",
	    "tasks.ini:5: task 'a': bad value 'chroot' for 'isolation' "
	    "(expected none or worktree)");
}

static void
test_numbers_and_strings(void)
{
	const struct task *t;

	CHECK_INT(build(BACKEND "[task a]\nprompt = p\nreplicas = 1000\n"
	    "retries = 100\ntimeout = 1.5\nmax_tokens = 10000000\n"
	    "isolation = worktree\noutput = out/a.md\nmodel = big\n"), 0);
	t = task("a");
	CHECK_INT(t->replicas, 1000);
	CHECK_INT(t->retries, 100);
	CHECK(t->timeout_s == 1.5);
	CHECK_INT(t->max_tokens, 10000000);
	CHECK_INT(t->isolation, ISOLATION_WORKTREE);
	CHECK_STR(t->output, "out/a.md");
	CHECK_STR(t->model, "big");
	done();
}

static void
test_unknown_keys(void)
{
	static const char *const mkeys[] = { "threshold", "weights",
		"quorum", "score", NULL };
	struct graph_opts o = { merges, mkeys, NULL, 0 };
	struct graph_opts none = { merges, NULL, NULL, 0 };

	expect_error(BACKEND "[task a]\nprompt = p\npromt = q\n",
	    "tasks.ini:5: task 'a': unknown key 'promt'");
	/* a merge key no loaded plugin takes is unknown */
	CHECK_INT(build_opts(BACKEND "[task a]\nprompt = p\nscore = ./s\n",
	    &none), DROVE_EINVAL);
	CHECK_HAS(err, "tasks.ini:5: task 'a': unknown key 'score'");
	expect_error(BACKEND "[task a]\nprompt = p\nthreshold = 1\n",
	    "tasks.ini:5: task 'a': unknown key 'threshold'");
	/* temperature is a task key, passed to the backend */
	CHECK_INT(build(BACKEND "[task a]\nprompt = p\ntemperature = 0.2\n"),
	    0);
	done();
	expect_error(BACKEND "[task a]\nprompt = p\ntemperature = 3\n",
	    "tasks.ini:5: task 'a': bad value '3' for 'temperature' "
	    "(expected a number from 0 to 2)");
	/* keys that merge plugins take are accepted */
	CHECK_INT(build_opts(BACKEND "[task a]\nprompt = p\n"
	    "threshold = 1\nweights = 1\nquorum = 2\nscore = ./s\n", &o), 0);
	done();
}

static void
test_unknown_merge(void)
{
	struct graph_opts o = { NULL, NULL, NULL, 0 };

	expect_error(BACKEND "[task a]\nprompt = p\nmerge = voting\n",
	    "tasks.ini:5: task 'a': unknown merge 'voting'");
	/* no list of merges: any name passes */
	CHECK_INT(build_opts(BACKEND "[task a]\nprompt = p\nmerge = voting\n",
	    &o), 0);
	CHECK_STR(task("a")->merge, "voting");
	done();
}

static void
test_no_tasks(void)
{
	expect_error(BACKEND "[drove]\njobs = 2\n",
	    "tasks.ini:1: no tasks (add a [task NAME] section)");
}

static int
want_all(const void *arg, size_t k)
{
	(void)arg;
	(void)k;
	return 1;
}

static int
want_one(const void *arg, size_t k)
{
	return k == *(const size_t *)arg;
}

/* graph_reach_set, graph_depends_on and graph_first_dep against a closure
 * of the direct edges computed here, on a graph with a diamond, a chain,
 * a writes edge and a loner */
static void
test_reach_set(void)
{
	unsigned char dep[7][7];

	CHECK_INT(build(BACKEND
	    "[task d]\nafter = b, c\nprompt = join\n"
	    "[task a]\nprompt = start\n"
	    "[task b]\nafter = a\nprompt = left\n"
	    "[task c]\nafter = a\nprompt = right {{b}}\n"
	    "[task e]\nafter = d\nprompt = tail\nwrites = x.txt\n"
	    "[task f]\nprompt = loner\nwrites = x.txt\n"
	    "[task g]\nprompt = alone\n"), 0);
	CHECK_STR(err, "");
	CHECK_INT(graph.n, 7);
	if (graph.n != 7)
		return;
	/* dep[a][b]: a waits for b, by Warshall's closure of the edges */
	memset(dep, 0, sizeof(dep));
	for (size_t a = 0; a < 7; a++)
		for (size_t k = 0; k < graph.tasks[a].ndeps; k++)
			dep[a][graph.tasks[a].deps[k].task] = 1;
	for (size_t k = 0; k < 7; k++)
		for (size_t a = 0; a < 7; a++)
			for (size_t b = 0; b < 7; b++)
				if (dep[a][k] && dep[k][b])
					dep[a][b] = 1;
	for (size_t a = 0; a < graph.n; a++) {
		unsigned char *up = graph_reach_set(&graph, a, 1);
		unsigned char *down = graph_reach_set(&graph, a, 0);

		for (size_t b = 0; b < graph.n; b++) {
			CHECK_INT(up[b], dep[a][b]);
			CHECK_INT(down[b], dep[b][a]);
			CHECK_INT(graph_depends_on(&graph, a, b), dep[a][b]);
		}
		CHECK_INT(up[a], 0);
		free(up);
		free(down);
	}
	{
		size_t a = graph_find(&graph, "a"), f = graph_find(&graph, "f");
		size_t g_ = graph_find(&graph, "g"), d = graph_find(&graph, "d");
		unsigned char *up = graph_reach_set(&graph, f, 1);
		unsigned char *down = graph_reach_set(&graph, a, 0);

		/* the first dependency in declared order: d is task 0 */
		CHECK_INT(graph_first_dep(&graph, f, want_all, NULL), d);
		CHECK_INT(graph_first_dep(&graph, f, want_one, &a), a);
		CHECK_INT(graph_first_dep(&graph, f, want_one, &g_), graph.n);
		CHECK_INT(graph_first_dep(&graph, a, want_all, NULL), graph.n);
		/* f waits for e through writes, so for the whole chain */
		CHECK_INT(up[a], 1);
		CHECK_INT(up[g_], 0);
		CHECK_INT(down[f], 1);
		CHECK_INT(down[g_], 0);
		free(up);
		free(down);
	}
}

/* the list splitter behind after =, backend = and worktree_copy = */
static void
test_list_split(void)
{
	static const struct {
		const char *in;
		const char *want;	/* items joined by '|' */
		size_t n;
	} cases[] = {
		{ "", "", 0 },
		{ "a", "a", 1 },
		{ " a , b ,c ", "a|b|c", 3 },
		{ "a,,b,", "a|b", 2 },
		{ ", \t,\n", "", 0 },
		{ "one two, three\tfour", "one two|three\tfour", 2 },
		{ ",,,,x", "x", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char **v, got[64] = "";
		size_t n = strv_split(cases[i].in, ',', &v);

		CHECK_INT(n, cases[i].n);
		CHECK_INT(strv_len(v), cases[i].n);
		for (size_t k = 0; k < n; k++) {
			if (k)
				strcat(got, "|");
			strcat(got, v[k]);
		}
		CHECK_STR(got, cases[i].want);
		CHECK(v[n] == NULL);
		strv_free(v);
	}
	/* a thousand names, as a long after = list gives */
	{
		struct buf b = BUF_INIT;
		char **v, want[32];
		size_t n;

		for (int k = 0; k < 1000; k++)
			buf_printf(&b, "%s t%d ", k ? "," : "", k);
		n = strv_split(b.data, ',', &v);
		CHECK_INT(n, 1000);
		for (size_t k = 0; k < n; k++) {
			snprintf(want, sizeof(want), "t%zu", k);
			CHECK_STR(v[k], want);
		}
		strv_free(v);
		buf_release(&b);
	}
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "diamond_waves", test_diamond_waves },
		{ "list_split", test_list_split },
		{ "reach_set", test_reach_set },
		{ "ref_edges", test_ref_edges },
		{ "find_ref", test_find_ref },
		{ "ref_escape", test_ref_escape },
		{ "name_limit", test_name_limit },
		{ "unknown_dep", test_unknown_dep },
		{ "unknown_ref", test_unknown_ref },
		{ "unknown_backend", test_unknown_backend },
		{ "backends_spread", test_backends_spread },
		{ "default_backend", test_default_backend },
		{ "cycle", test_cycle },
		{ "self_dependency", test_self_dependency },
		{ "empty_prompt", test_empty_prompt },
		{ "prompt_file", test_prompt_file },
		{ "writes_overlap", test_writes_overlap },
		{ "writes_already_ordered", test_writes_already_ordered },
		{ "glob_overlap", test_glob_overlap },
		{ "critical_path", test_critical_path },
		{ "merge_node", test_merge_node },
		{ "bad_numbers", test_bad_numbers },
		{ "numbers_and_strings", test_numbers_and_strings },
		{ "unknown_keys", test_unknown_keys },
		{ "unknown_merge", test_unknown_merge },
		{ "no_tasks", test_no_tasks },
		{ NULL, NULL },
	};
	int rc;

	conf_init(&conf);
	graph_init(&graph);
	rc = t_main(argc, argv, cases);
	done();
	return rc;
}
