/* The worst case of a run before its first call (see estimate.h). */
#include "estimate.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "quota.h"
#include "sched.h"
#include "util.h"

/*
 * A merge's call wraps its parts in text of its own (an instruction,
 * "=== Candidate 3 ===", the closing request, a second asking): counted
 * as this many bytes per call and per part, above what the built-in
 * merges write.
 */
#define MERGE_WORDING_BYTES 256
#define MERGE_PART_BYTES 32

/* A competitive judge whose answer is no candidate number is asked once
 * more (merge_competitive.c), so the worst case is two calls; the second
 * quotes the first answer (up to 128 bytes) and asks again. */
#define JUDGE_ASKS 2
#define JUDGE_REASK_BYTES 256

/* A backend as the estimate sees it. */
struct ebe {
	const struct conf_section *sec;
	struct be_limits lim;	/* max_tokens, prices, bytes_per_token */
	const char *system;	/* the section's system prompt, or NULL */
	struct ebe *fallback;	/* where its calls may move, or NULL */
	/* the dearest along its fallback chain: a call may end anywhere
	 * on it, at that backend's prices and max_tokens */
	double price_in, price_out;
	long max_tokens;
	struct est_line line;
};

struct est {
	struct ebe *be;
	size_t nbe;
	const struct graph *g;
	double *out;		/* per task: its result's worst case, tokens */
	double ref_tokens;	/* scratch of ref_size */
	int done;		/* the task at hand is done: no calls count */
};

static struct ebe *
find_be(struct est *st, const char *name)
{
	for (size_t i = 0; name && i < st->nbe; i++)
		if (strcmp(st->be[i].sec->name, name) == 0)
			return &st->be[i];
	return NULL;
}

/* b's prices, max_tokens and whether it costs tokens, at the dearest of
 * b and its fallbacks (fallback_check refused cycles at load; the walk is
 * bounded all the same). */
static void
chain_worst(const struct est *st, struct ebe *b)
{
	const struct ebe *m = b;

	b->price_in = quota_price_in_max(&b->lim);
	b->price_out = b->lim.price_out;
	b->max_tokens = b->lim.max_tokens;
	for (size_t k = 0; k < st->nbe && (m = m->fallback) != NULL; k++) {
		if (quota_price_in_max(&m->lim) > b->price_in)
			b->price_in = quota_price_in_max(&m->lim);
		if (m->lim.price_out > b->price_out)
			b->price_out = m->lim.price_out;
		if (m->lim.max_tokens > b->max_tokens)
			b->max_tokens = m->lim.max_tokens;
		b->line.tokens |= m->line.tokens;
	}
}

/* Tokens of bytes of prompt on b: the most along its fallback chain (the
 * fewest bytes_per_token). */
static double
chain_tokens(const struct est *st, const struct ebe *b, size_t bytes)
{
	double n = quota_be_tokens(&b->lim, bytes);
	const struct ebe *m = b;

	for (size_t k = 0; k < st->nbe && (m = m->fallback) != NULL; k++)
		if (quota_be_tokens(&m->lim, bytes) > n)
			n = quota_be_tokens(&m->lim, bytes);
	return n;
}

/* Reads every [backend] section: limits, and whether it is an API
 * backend (its plugin names a base URL), whose calls cost tokens. */
static int
load_backends(struct est *st, const struct conf *c,
    const struct registry *reg, char *err, size_t errlen)
{
	st->be = xcalloc(c->nsec + 1, sizeof(*st->be));
	for (size_t i = 0; i < c->nsec; i++) {
		const struct conf_section *s = c->sec[i];
		const struct drove_plugin *p;
		struct ebe *b;
		const char *type;

		if (strcmp(s->type, "backend") != 0)
			continue;
		b = &st->be[st->nbe++];
		b->sec = s;
		if (quota_be_init(&b->lim, s, 0, 1, 0, err, errlen) < 0)
			return DROVE_EINVAL;
		b->system = conf_get(s, "system");
		b->line.name = s->name;
		type = conf_get(s, "type");
		p = type ? registry_find(reg, DROVE_PLUGIN_BACKEND, type) :
		    NULL;
		b->line.tokens = p != NULL &&
		    registry_default_base_url(p) != NULL;
	}
	for (size_t i = 0; i < st->nbe; i++)
		st->be[i].fallback = find_be(st, conf_get(st->be[i].sec,
		    "fallback"));
	for (size_t i = 0; i < st->nbe; i++)
		chain_worst(st, &st->be[i]);
	return 0;
}

/* One call (or n) on b, of the kind *kind counts: in and out are tokens
 * each. */
static void
add_calls(struct est *st, struct ebe *b, unsigned long n, double in,
    double out, unsigned long *kind, struct estimate *e)
{
	double usd;

	if (b == NULL || st->done)
		return;		/* no such backend: the run fails, no call */
	*kind += n;
	b->line.calls += n;
	e->total.calls += n;
	if (!b->line.tokens)
		return;
	/* each input token at its dearest: sent, read or written to a
	 * cache, on b or a fallback */
	usd = n * (in * b->price_in + out * b->price_out) / 1e6;
	b->line.tokens_in += n * in;
	b->line.tokens_out += n * out;
	b->line.usd += usd;
	e->total.tokens_in += n * in;
	e->total.tokens_out += n * out;
	e->total.usd += usd;
}

/* Expansion hook: a reference adds its producer's worst case in tokens
 * and no bytes; an unknown name stays as written. */
static int
ref_size(void *arg, const char *name, size_t namelen, const char **text,
    size_t *len)
{
	struct est *st = arg;
	char *n = xstrndup(name, namelen);
	long i = graph_find(st->g, n);

	free(n);
	if (i < 0)
		return 0;
	st->ref_tokens += st->out[i];
	*text = "";
	*len = 0;
	return 1;
}

/* Bytes of s without its references; their tokens go to *ref_tokens. */
static size_t
text_bytes(struct est *st, const char *s, double *ref_tokens)
{
	char *x;
	size_t n;

	if (s == NULL)
		return 0;
	st->ref_tokens = 0;
	x = graph_expand_refs(s, ref_size, st);
	n = strlen(x);
	free(x);
	*ref_tokens += st->ref_tokens;
	return n;
}

static size_t
len0(const char *s)
{
	return s ? strlen(s) : 0;
}

/* The replicas of task i: one call each, spread over its backends; the
 * worst case of each answer goes to part[k]. */
static void
replica_calls(struct est *st, size_t i, double *part, struct estimate *e)
{
	const struct task *t = &st->g->tasks[i];
	double refs = 0;
	size_t pbytes, sbytes;

	pbytes = text_bytes(st, t->prompt, &refs);
	sbytes = text_bytes(st, t->system, &refs);
	for (long k = 0; k < t->replicas; k++) {
		struct ebe *b = find_be(st, t->backends[k % t->nbackends]);
		size_t bytes;
		double out;

		if (b == NULL)
			continue;
		bytes = pbytes + (t->system ? sbytes : len0(b->system));
		out = (double)(t->max_tokens > 0 ? t->max_tokens :
		    b->max_tokens);
		add_calls(st, b, 1, chain_tokens(st, b, bytes) + refs, out,
		    &e->task_calls, e);
		part[k] = out;
	}
}

/*
 * Task i's merge: its judge or summary calls, and the worst case of its
 * result, from the parts' (n of them, in tokens): one of them for
 * competitive and consensus, a summary's max_tokens, else all of them.
 */
static double
merge_calls(struct est *st, size_t i, const double *part, size_t n,
    struct estimate *e)
{
	const struct task *t = &st->g->tasks[i];
	const struct conf_section *s = t->sec;
	double sum = 0, max = 0;
	struct ebe *b;
	size_t bytes;

	for (size_t k = 0; k < n; k++) {
		sum += part[k];
		if (part[k] > max)
			max = part[k];
	}
	if (strcmp(t->merge, "competitive") == 0 &&
	    (b = find_be(st, conf_get(s, "judge"))) != NULL) {
		bytes = MERGE_WORDING_BYTES + n * MERGE_PART_BYTES +
		    len0(conf_get(s, "judge_prompt")) +
		    len0(conf_get(s, "prompt"));
		add_calls(st, b, 1, chain_tokens(st, b, bytes) + sum,
		    (double)b->max_tokens, &e->judge_calls, e);
		add_calls(st, b, JUDGE_ASKS - 1, chain_tokens(st, b, bytes +
		    JUDGE_REASK_BYTES) + sum, (double)b->max_tokens,
		    &e->judge_calls, e);
	}
	if (strcmp(t->merge, "competitive") == 0 ||
	    strcmp(t->merge, "consensus") == 0)
		return max;
	if (strcmp(t->merge, "aggregative") != 0)
		return sum;
	/* header and separator as written, per part */
	bytes = n * (len0(conf_get(s, "header")) +
	    len0(conf_get(s, "separator")) + 1);
	b = find_be(st, conf_get(s, "summarize"));
	if (b == NULL)
		return sum + quota_est_tokens(bytes);
	bytes += MERGE_WORDING_BYTES + n * MERGE_PART_BYTES +
	    len0(conf_get(s, "summarize_prompt"));
	add_calls(st, b, 1, chain_tokens(st, b, bytes) + sum,
	    (double)b->max_tokens, &e->summary_calls, e);
	return (double)b->max_tokens;
}

int
estimate_build(struct estimate *e, const struct conf *c,
    const struct graph *g, const struct registry *reg,
    const unsigned char *done, char *err, size_t errlen)
{
	struct est st;
	int rc;

	memset(e, 0, sizeof(*e));
	memset(&st, 0, sizeof(st));
	e->total.name = "total";
	st.g = g;
	st.out = xcalloc(g->n + 1, sizeof(*st.out));
	rc = load_backends(&st, c, reg, err, errlen);
	/* dependencies first: a reference needs its producer's worst case */
	for (size_t j = 0; rc == 0 && j < g->n; j++) {
		size_t i = g->topo[j];
		const struct task *t = &g->tasks[i];
		size_t n = t->ninputs ? t->ninputs : (size_t)t->replicas;
		double *part = xcalloc(n + 1, sizeof(*part));

		/* a done task makes no call; a reference to its result
		 * still counts at its worst case */
		st.done = done != NULL && done[i];
		if (t->ninputs) {
			for (size_t k = 0; k < n; k++) {
				long s = graph_find(g, t->inputs[k]);

				part[k] = s >= 0 ? st.out[s] : 0;
			}
		} else {
			replica_calls(&st, i, part, e);
		}
		st.out[i] = merge_calls(&st, i, part, n, e);
		free(part);
	}
	e->be = xcalloc(st.nbe + 1, sizeof(*e->be));
	for (size_t k = 0; k < st.nbe; k++) {
		if (st.be[k].line.calls == 0)
			continue;
		e->be[e->nbe++] = st.be[k].line;
		/* a total of exec calls alone has no tokens either */
		e->total.tokens |= st.be[k].line.tokens;
	}
	for (size_t k = 0; k < st.nbe; k++)
		quota_be_release(&st.be[k].lim);
	free(st.be);
	free(st.out);
	if (rc < 0)
		estimate_release(e);
	return rc;
}

void
estimate_release(struct estimate *e)
{
	free(e->be);
	e->be = NULL;
	e->nbe = 0;
}

static void
print_line(FILE *f, const struct est_line *l)
{
	char usd[32];

	if (!l->tokens) {
		fprintf(f, "  %-16s %8lu %12s %12s %12s\n", l->name, l->calls,
		    "-", "-", "-");
		return;
	}
	snprintf(usd, sizeof(usd), "$%.4f", l->usd);
	fprintf(f, "  %-16s %8lu %12.0f %12.0f %12s\n", l->name, l->calls,
	    l->tokens_in, l->tokens_out, usd);
}

void
estimate_print(FILE *f, const struct estimate *e)
{
	fprintf(f, "worst case (every call made, every answer at its "
	    "max_tokens):\n");
	fprintf(f, "  %-16s %8s %12s %12s %12s\n", "backend", "calls",
	    "tokens in", "tokens out", "cost");
	for (size_t k = 0; k < e->nbe; k++)
		print_line(f, &e->be[k]);
	print_line(f, &e->total);
	if (e->judge_calls || e->summary_calls)
		fprintf(f, "  calls: %lu of tasks, %lu of judges, %lu of "
		    "summaries\n", e->task_calls, e->judge_calls,
		    e->summary_calls);
}

static json_t *
line_json(const struct est_line *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "calls", json_integer((json_int_t)l->calls));
	if (!l->tokens)
		return o;
	json_object_set_new(o, "tokens_in",
	    json_integer((json_int_t)l->tokens_in));
	json_object_set_new(o, "tokens_out",
	    json_integer((json_int_t)l->tokens_out));
	json_object_set_new(o, "cost_usd", json_real(l->usd));
	return o;
}

json_t *
estimate_json(const struct estimate *e)
{
	json_t *o = line_json(&e->total), *b = json_object();

	json_object_set_new(o, "task_calls",
	    json_integer((json_int_t)e->task_calls));
	json_object_set_new(o, "judge_calls",
	    json_integer((json_int_t)e->judge_calls));
	json_object_set_new(o, "summary_calls",
	    json_integer((json_int_t)e->summary_calls));
	for (size_t k = 0; k < e->nbe; k++)
		json_object_set_new(b, e->be[k].name, line_json(&e->be[k]));
	json_object_set_new(o, "backends", b);
	return o;
}

int
estimate_show(FILE *f, const struct conf *c, const struct graph *g,
    const struct registry *reg, const unsigned char *done, int json)
{
	struct estimate e;
	char err[1024];
	json_t *o, *est;

	if (estimate_build(&e, c, g, reg, done, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	if (json) {
		o = json_object();
		json_object_set_new(o, "event", json_string("estimate"));
		json_object_set_new(o, "tasks", json_integer((json_int_t)g->n));
		json_object_set_new(o, "waves", json_integer(g->nwaves));
		est = estimate_json(&e);
		json_object_update(o, est);
		json_decref(est);
		json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(12));
		fputc('\n', f);
		json_decref(o);
	} else {
		estimate_print(f, &e);
	}
	estimate_release(&e);
	return 0;
}

int
estimate_check_conf(const struct conf *c, const struct graph *g,
    const struct registry *reg, char *err, size_t errlen)
{
	const struct conf_section *d = conf_find(c, "drove", "");
	struct estimate e;
	char where[256];
	double usd;
	long max;
	int rc;

	if (d == NULL)
		return 0;
	if (conf_get_double(d, "confirm_usd", 0, 0, 1e12, &usd, err,
	    errlen) < 0 ||
	    conf_get_long(d, "max_calls", 0, 0, 1000000000, &max, err,
	    errlen) < 0)
		return DROVE_EINVAL;
	if (max == 0)
		return 0;
	/* the graph's calls, however many of them a resume leaves */
	rc = estimate_build(&e, c, g, reg, NULL, err, errlen);
	if (rc < 0)
		return rc;
	if (e.total.calls > (unsigned long)max) {
		conf_where(d, "max_calls", where, sizeof(where));
		errf(err, errlen, "%s: max_calls = %ld, but this graph would "
		    "make %lu calls (%lu of tasks, %lu of judges, %lu of "
		    "summaries); make fewer replicas or raise max_calls",
		    where, max, e.total.calls, e.task_calls, e.judge_calls,
		    e.summary_calls);
		rc = DROVE_EINVAL;
	}
	estimate_release(&e);
	return rc;
}

/* The question on the terminal fd: 1 for an answer of y or yes. */
static int
ask_tty(int fd, const char *what)
{
	char line[64];
	FILE *f = fdopen(fd, "r+");

	if (f == NULL) {
		close(fd);
		return 0;
	}
	fprintf(f, "drove: %s.\nStart it? [y/N] ", what);
	fflush(f);
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	strtrim(line);
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

int
estimate_confirm(const struct conf *c, const struct graph *g,
    const struct registry *reg, const unsigned char *done, int yes)
{
	const struct conf_section *d = conf_find(c, "drove", "");
	char err[1024], where[256], what[512];
	struct estimate e;
	double limit;
	int fd;

	if (d == NULL || conf_get_double(d, "confirm_usd", 0, 0, 1e12, &limit,
	    err, sizeof(err)) < 0 || limit <= 0 || yes)
		return 0;	/* a bad value was refused at load */
	if (estimate_build(&e, c, g, reg, done, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	conf_where(d, "confirm_usd", where, sizeof(where));
	snprintf(what, sizeof(what), "%s: over confirm_usd = %g: the worst "
	    "case of this run is $%.4f (%lu calls%s)", where, limit,
	    e.total.usd, e.total.calls, done ? " still to make" : "");
	if (e.total.usd <= limit) {
		estimate_release(&e);
		return 0;
	}
	estimate_release(&e);
	fd = isatty(STDIN_FILENO) ? open("/dev/tty", O_RDWR | O_NOCTTY |
	    O_CLOEXEC) : -1;
	if (fd < 0) {
		log_warnx("%s; not on a terminal, so not started: run it "
		    "again with --yes to start it anyway ('drove run "
		    "--dry-run' shows the estimate)", what);
		return EXIT_USAGE;
	}
	if (ask_tty(fd, what))
		return 0;
	log_warnx("not started: the worst case is over confirm_usd");
	return EXIT_USAGE;
}
